namespace ModelGen.Tests.Models;

/// <summary>
/// Generated convolutional and composed models end to end. The kernels are checked against double references
/// in Kernels/; here the wiring is: the generated backward of the whole graph (residuals, projections, branches,
/// merges, BatchNorm in training mode) against central finite differences of the generated training forward.
/// </summary>
public class ConvModelTests
{
    public static TheoryData<string> Smooth => new() { nameof(TinyResNet), nameof(BranchNet), nameof(LogSoftmaxNet), nameof(PReLUNet), nameof(GroupNormNet), nameof(InstanceNormNet), nameof(AxesNet), nameof(PaddingNet), nameof(PaddingNet1D) };

    private static ITrainable Create(string name) => name switch
    {
        nameof(LogSoftmaxNet) => new LogSoftmaxNet(6),
        nameof(GroupNormNet) => new GroupNormNet(6),
        nameof(InstanceNormNet) => new InstanceNormNet(6),
        nameof(PReLUNet) => new PReLUNet(8),   // a seed with no PReLU input within h of the kink
        nameof(TinyResNet) => new TinyResNet(3),
        nameof(BranchNet) => new BranchNet(4),
        nameof(AxesNet) => new AxesNet(6),
        nameof(PaddingNet) => new PaddingNet(7),
        nameof(PaddingNet1D) => new PaddingNet1D(8),
        _ => new SmallLeNet(5),
    };

    [Theory]
    [MemberData(nameof(Smooth))]
    public void Backward_WholeGraph_MatchesFiniteDifferences(string network)
    {
        var model = Create(network);
        const int batch = 3;
        var input = ModelTestData.RandomArray(batch * model.InputLength, 21);
        var weights = ModelTestData.RandomArray(batch * model.OutputLength, 22);
        var output = new float[weights.Length];
        var dInput = new float[input.Length];
        model.Gradients.Clear();
        model.ForwardTrain(input, output, batch);
        model.Backward(weights, dInput);
        var analytic = model.Gradients.ToArray();

        double Loss()
        {
            model.ForwardTrain(input, output, batch); // batch statistics: the function backward differentiates
            double sum = 0;
            for (int j = 0; j < output.Length; j++) sum += (double)weights[j] * output[j];
            return sum;
        }
        double Numeric(Span<float> values, int i)
        {
            // A smaller step for PReLU (piecewise linear: crossing its kink at 0 makes the two sides disagree) and for
            // GroupNorm over groups of 3 features (strongly curved where a group's variance is small).
            float h = network is nameof(PReLUNet) or nameof(GroupNormNet) ? 1e-3f : 1e-2f;
            float saved = values[i];
            values[i] = saved + h;
            double plus = Loss();
            values[i] = saved - h;
            double minus = Loss();
            values[i] = saved;
            return (plus - minus) / (2 * h);
        }
        void Check(string what, double expected, float actual) =>
            Assert.True(Math.Abs(expected - actual) <= 3e-3 + 2e-2 * Math.Abs(expected), $"{network} {what}: finite difference {expected}, backward {actual}");

        foreach (var info in model.ParameterInfos)
            for (int i = 0; i < info.Length; i++)
                Check($"{info.Name}[{i}]", Numeric(model.Parameters, info.Offset + i), analytic[info.Offset + i]);
        for (int i = 0; i < input.Length; i++)
            Check($"input[{i}]", Numeric(input, i), dInput[i]);
    }

    [Fact]
    public void Residual_NestedNamesAndBlockViews()
    {
        var model = new TinyResNet(1);
        var names = model.ParameterInfos.Select(p => p.Name).ToList();
        Assert.Contains("block1.c1.weight", names);
        var buffers = model.BufferInfos.Select(b => b.Name).ToList();
        Assert.Contains("block1.bn1.running_var", buffers);
        Assert.Contains("block1.bn1.num_batches_tracked", buffers);
        Assert.Contains("block2.downsample.0.weight", names);   // torchvision's projection naming
        Assert.Contains("block2.downsample.1.running_mean", buffers);
        Assert.DoesNotContain(names, n => n.Contains("running_") || n.Contains("num_batches"));
        Assert.DoesNotContain("block2.downsample.0.bias", names);
        Assert.Equal(new[] { 4, 2, 3, 3 }, model.ParameterInfos.Single(p => p.Name == "block1.c2.weight").Shape); // groups 2

        // The block property is a view of the enclosing model's buffer, not a copy.
        var blockWeight = model.Block1.C1.Parameter("weight");
        blockWeight[0] = 42f;
        Assert.Equal(42f, model.Parameters[model.ParameterInfos.Single(p => p.Name == "block1.c1.weight").Offset]);
        Assert.Equal(SameBlock.ParameterCount, model.Block1.Parameters.Length);
        Assert.Contains("Residual(SameBlock)", TinyResNet.Summary().Split('\n').Single(l => l.StartsWith("block1")));
        Assert.All(model.BufferInfos.Where(b => b.Name.EndsWith("running_var")), b => Assert.All(model.Buffers.Slice(b.Offset, b.Length).ToArray(), v => Assert.Equal(1f, v)));
    }

    [Fact]
    public void Forward_InferenceAgreesWithTrainingForward_WhenNothingIsStochastic()
    {
        var model = new SmallLeNet(2);
        var input = ModelTestData.RandomArray(5 * SmallLeNet.InputSize, 3);
        var a = new float[5 * SmallLeNet.OutputSize];
        var b = new float[a.Length];
        model.Forward(input, a, 5);
        model.ForwardTrain(input, b, 5);
        Assert.Equal(a, b);
    }

    [Fact]
    public void BatchNorm_TrainingUpdatesRunningStatistics_InferenceUsesThem()
    {
        var model = new JustBatchNorm();
        float[] x = { 1, 2, 3, 3, 6, 9, 5, 10, 0 };  // batch 3 × 3 features
        var y = new float[9];
        model.ForwardTrain(x, y, 3);
        // PyTorch: running = 0.9·running + 0.1·batch, with the unbiased variance for the running estimate.
        var mean = new[] { 3.0, 6.0, 4.0 };
        var unbiased = new[] { 4.0, 16.0, 21.0 };
        var bn = model.Bn;
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(0.1 * mean[c], bn.Buffer("running_mean")[c], 5);
            Assert.Equal(0.9 + 0.1 * unbiased[c], bn.Buffer("running_var")[c], 5);
        }
        // Training output is normalised with the biased batch variance: column 0 is (x - 3) / sqrt(8/3 + eps).
        Assert.Equal((1 - 3) / Math.Sqrt(8.0 / 3 + 1e-5), y[0], 4);

        var inference = new float[9];
        model.Forward(x, inference, 3);
        Assert.Equal((1 - 0.3) / Math.Sqrt(0.9 + 0.4 + 1e-5), inference[0], 4);
    }

    [Fact]
    public void TrainingStep_ConvModel_AllocatesNothing()
    {
        var model = new TinyResNet(1);
        var input = ModelTestData.RandomArray(8 * TinyResNet.InputSize, 1);
        var output = new float[8 * TinyResNet.OutputSize];
        var optimizer = new Sgd(0.01f, momentum: 0.9f);
        void Step()
        {
            model.Gradients.Clear();
            model.ForwardTrain(input, output, 8);
            model.Backward(output, default);
            optimizer.Step(model, model.Gradients);
            model.Forward(input, output, 8);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 5, "ForwardTrain + Backward + SGD step + Forward", warmUpCalls: 3);
    }
}
