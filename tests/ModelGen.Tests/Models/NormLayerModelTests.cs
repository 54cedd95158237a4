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

    [Fact]
    public void PReLU_Forward_MatchesReference_SlopesInitialisedAsPyTorch()
    {
        var model = new PReLUNet(3);
        Assert.Equal(new[] { 3 }, model.ParameterInfos.Single(p => p.Name == "act1.weight").Shape);
        Assert.Equal(new[] { 1 }, model.ParameterInfos.Single(p => p.Name == "act3.weight").Shape);
        Assert.All(model.Act1.Parameter("weight").ToArray(), v => Assert.Equal(0.1f, v));
        Assert.All(model.Act2.Parameter("weight").ToArray(), v => Assert.Equal(0.25f, v));
        // Distinct slopes per channel, so a wrong channel mapping shows.
        var slopes = model.Act1.Parameter("weight");
        slopes[0] = -0.5f; slopes[1] = 0.2f; slopes[2] = 1.5f;
        ModelTestData.AssertInferenceMatchesTraining(model, 4, 9);
        var predicted = new float[4 * PReLUNet.OutputSize];
        var direct = new float[predicted.Length];
        var input = ModelTestData.RandomArray(4 * PReLUNet.InputSize, 10);
        model.CreatePredictor().Forward(input, predicted, 4);
        model.Forward(input, direct, 4);
        for (int i = 0; i < direct.Length; i++) Assert.True(Math.Abs(direct[i] - predicted[i]) <= 1e-5f, $"output[{i}]: predictor {predicted[i]}, model {direct[i]}");
    }

    [Fact]
    public void PReLU_PerChannel_SlopeOfChannelCAppliesToRowC()
    {
        var model = new JustPReLU();
        model.Act.Parameter("weight")[0] = 0.5f;
        model.Act.Parameter("weight")[1] = 2f;
        model.Act.Parameter("weight")[2] = -1f;
        float[] x = { -1, 3, -2, -4, 5, -6 }, y = new float[6];
        model.Forward(x, y, 1);
        Assert.Equal(new float[] { -0.5f, 3, -4, -8, 5, 6 }, y);
    }
}
