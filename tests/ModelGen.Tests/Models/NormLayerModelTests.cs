namespace ModelGen.Tests.Models;

/// <summary>
/// The issue-15 layers as generated code: forward against double references written here, inference against the
/// training forward, running statistics as PyTorch keeps them. Gradients of whole graphs are in ConvModelTests
/// and SequenceModelTests (finite differences); the kernels' own tests are in Kernels/.
/// </summary>
public class NormLayerModelTests
{
    [Fact]
    public void LogSoftmax_Forward_IsLogSoftmaxOfEachRow()
    {
        var model = new JustLogSoftmax();
        const int batch = 3, rows = 2, cols = 7;
        var input = ModelTestData.RandomArray(batch * rows * cols, 4, scale: 30);
        var output = new float[input.Length];
        model.Forward(input, output, batch);
        for (int r = 0; r < batch * rows; r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < cols; j++) max = Math.Max(max, input[r * cols + j]);
            for (int j = 0; j < cols; j++) sum += Math.Exp(input[r * cols + j] - max);
            for (int j = 0; j < cols; j++)
            {
                double expected = input[r * cols + j] - max - Math.Log(sum);
                Assert.True(Math.Abs(expected - output[r * cols + j]) <= 1e-5 + 1e-6 * Math.Abs(expected),
                    $"row {r} column {j}: expected {expected}, got {output[r * cols + j]}");
            }
        }
    }

    [Fact]
    public void LogSoftmax_Inference_EqualsTrainingForward() => ModelTestData.AssertInferenceMatchesTraining(new LogSoftmaxNet(2), 5, 7);
}
