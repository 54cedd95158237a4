using ModelGen.Kernels;

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

    [Fact]
    public void GroupNorm_Forward_MatchesKernelReference_SameInTrainingAndInference()
    {
        var model = new GroupNormNet(4);
        Assert.Equal(new[] { 6 }, model.ParameterInfos.Single(p => p.Name == "gn1.weight").Shape);
        Assert.DoesNotContain(model.ParameterInfos, p => p.Name.StartsWith("gn2.", StringComparison.Ordinal));
        Assert.Equal(new[] { "in1.weight", "in1.bias" },
            model.ParameterInfos.Where(p => p.Name.StartsWith("in1.", StringComparison.Ordinal)).Select(p => p.Name));
        Assert.Equal(new[] { "in1.running_mean", "in1.running_var", "in1.num_batches_tracked" }, model.BufferInfos.Select(b => b.Name));
        Assert.All(model.Gn1.Parameter("weight").ToArray(), v => Assert.Equal(1f, v));
        Assert.All(model.In1.Buffer("running_var").ToArray(), v => Assert.Equal(1f, v));
        Assert.All(model.In1.Buffer("running_mean").ToArray(), v => Assert.Equal(0f, v));

        // A bare GroupNorm layer's output is the double reference's: the generated call passes C, H·W, G and eps right.
        var bare = new JustGroupNorm();
        ModelTestData.RandomArray(6, 1).CopyTo(bare.Norm.Parameter("weight"));
        ModelTestData.RandomArray(6, 2).CopyTo(bare.Norm.Parameter("bias"));
        var x = ModelTestData.RandomArray(5 * JustGroupNorm.InputSize, 8, scale: 3);
        var expected = new double[x.Length];
        GroupNormKernels.ReferenceForward(x.Select(v => (double)v).ToArray(), bare.Norm.Parameter("weight").ToArray().Select(v => (double)v).ToArray(),
            bare.Norm.Parameter("bias").ToArray().Select(v => (double)v).ToArray(), expected, [], [], 5, 6, 5, 3, 1e-4);
        var actual = new float[x.Length];
        bare.Forward(x, actual, 5);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 + 1e-5 * Math.Abs(expected[i]), $"norm output[{i}]: {actual[i]} vs reference {expected[i]}");
        ModelTestData.AssertInferenceMatchesTraining(bare, 5, 8);
        var norm = new InstanceNormNet(3);
        // Without running statistics inference normalises each instance with its own statistics, as training does.
        ModelTestData.AssertInferenceMatchesTraining(norm, 5, 9);
    }

    [Fact]
    public void GroupNorm_PredictorEqualsModelForward()
    {
        var model = new GroupNormNet(5);
        var input = ModelTestData.RandomArray(3 * GroupNormNet.InputSize, 12);
        var scratch = new float[3 * GroupNormNet.OutputSize];
        model.ForwardTrain(input, scratch, 3);   // moves the running statistics away from (0, 1)
        var direct = new float[scratch.Length];
        var predicted = new float[scratch.Length];
        model.Forward(input, direct, 3);
        model.CreatePredictor().Forward(input, predicted, 3);
        for (int i = 0; i < direct.Length; i++) Assert.True(Math.Abs(direct[i] - predicted[i]) <= 1e-5f, $"output[{i}]: predictor {predicted[i]}, model {direct[i]}");
    }

    [Fact]
    public void InstanceNorm_TrackedStatistics_UpdatedAsPyTorch_UsedAtInference()
    {
        var model = new JustInstanceNorm();
        // Two examples of [2 channels, 3 positions].
        float[] x = { 1, 2, 6, 0, 0, 3, 3, 5, 7, 4, 4, 4 }, y = new float[12];
        model.ForwardTrain(x, y, 2);
        // Instance means: (3, 1) and (5, 4); unbiased variances: (7, 3) and (4, 0). PyTorch: running = 0.8·running + 0.2·batch average.
        var norm = model.Norm;
        Assert.Equal(0.2 * 4.0, norm.Buffer("running_mean")[0], 5);
        Assert.Equal(0.2 * 2.5, norm.Buffer("running_mean")[1], 5);
        Assert.Equal(0.8 + 0.2 * 5.5, norm.Buffer("running_var")[0], 5);
        Assert.Equal(0.8 + 0.2 * 1.5, norm.Buffer("running_var")[1], 5);
        // Training normalises each instance with its own biased statistics: (1 − 3)/√(14/3 + eps).
        Assert.Equal((1 - 3) / Math.Sqrt(14.0 / 3 + 1e-5), y[0], 4);
        Assert.Equal(0f, y[9]);   // a constant channel normalises to 0

        var inference = new float[12];
        model.Forward(x, inference, 2);
        Assert.Equal((1 - 0.8) / Math.Sqrt(0.8 + 0.2 * 5.5 + 1e-5), inference[0], 4);
    }

    [Fact]
    public void TrainingStep_WithTheNewLayers_AllocatesNothing()
    {
        var norms = new GroupNormNet(1);
        var slopes = new PReLUNet(1);
        var input = ModelTestData.RandomArray(8 * GroupNormNet.InputSize, 1);
        var output = new float[8 * GroupNormNet.OutputSize];
        var x2 = ModelTestData.RandomArray(8 * PReLUNet.InputSize, 2);
        var y2 = new float[8 * PReLUNet.OutputSize];
        var optimizer = new Sgd(0.01f, momentum: 0.9f);
        void Step()
        {
            norms.Gradients.Clear();
            norms.ForwardTrain(input, output, 8);
            norms.Backward(output, default);
            optimizer.Step(norms, norms.Gradients);
            norms.Forward(input, output, 8);
            slopes.ForwardTrain(x2, y2, 8);
            slopes.Backward(y2, default);
            slopes.Forward(x2, y2, 8);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 5, "GroupNorm/InstanceNorm/PReLU ForwardTrain + Backward + SGD step + Forward", warmUpCalls: 3);
    }
}
