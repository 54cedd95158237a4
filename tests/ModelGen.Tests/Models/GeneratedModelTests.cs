namespace ModelGen.Tests.Models;

/// <summary>
/// Generated forward passes against the double-precision reference, and generated backward passes against central
/// finite differences of that reference, for networks covering every layer and activation of the catalogue so far.
/// </summary>
public class GeneratedModelTests
{
    private static readonly RefOp[] s_fusedOps =
    {
        new RefDense("fc1", 6, 17, RefAct.ReLU, true), new RefActivation(RefAct.LeakyReLU, 0.2),
        new RefDense("fc2", 17, 33, RefAct.GELU, true), new RefDense("fc3", 33, 15, RefAct.Tanh, true),
        new RefActivation(RefAct.SiLU), new RefDense("fc4", 15, 5, RefAct.Sigmoid, false),
        new RefActivation(RefAct.GELUTanh), new RefDense("head", 5, 3, RefAct.Softmax, true),
    };

    private static readonly RefOp[] s_standaloneOps =
    {
        new RefDense("fc1", 37, 19, RefAct.None, true), new RefActivation(RefAct.ReLU),
        new RefDense("fc2", 19, 17, RefAct.LeakyReLU, true), new RefActivation(RefAct.Sigmoid),
        new RefDense("fc3", 17, 21, RefAct.SiLU, true), new RefActivation(RefAct.Tanh),
        new RefDense("fc4", 21, 9, RefAct.GELUTanh, false), new RefActivation(RefAct.GELU), new RefActivation(RefAct.Softmax),
    };

    private static readonly RefOp[] s_deepOps = new RefOp[] { new RefDense("fc0", 7, 17, RefAct.ReLU, true) }
        .Concat(Enumerable.Range(1, 6).SelectMany(i => new RefOp[] { new RefDense($"a{i}", 17, 17, RefAct.Tanh, true), new RefDense($"b{i}", 17, 17, RefAct.None, true) }))
        .Append(new RefDense("head", 17, 3, RefAct.None, true)).ToArray();

    private static readonly RefOp[] s_resStackOps = Enumerable.Range(1, 6)
        .Select(i => (RefOp)new RefResidual(new RefOp[] { new RefDense($"block{i}.fc1", 17, 33, RefAct.ReLU, true), new RefDense($"block{i}.fc2", 33, 17, RefAct.None, true) }))
        .Append(new RefDense("head", 17, 3, RefAct.None, true)).ToArray();

    public static TheoryData<string> Networks => new() { nameof(FusedNet), nameof(StandaloneNet), nameof(DeepNet), nameof(ResStack) };

    private static (ITrainable Model, RefOp[] Ops) Create(string name, int seed) => name switch
    {
        nameof(FusedNet) => (new FusedNet(seed), s_fusedOps),
        nameof(DeepNet) => (new DeepNet(seed), s_deepOps),
        nameof(ResStack) => (new ResStack(seed), s_resStackOps),
        _ => (new StandaloneNet(seed), s_standaloneOps),
    };

    /// <summary>Parameters in double, keyed by PyTorch name (a fresh copy, so callers may perturb it).</summary>
    private static Dictionary<string, double[]> ParametersOf(IModel model)
    {
        var result = new Dictionary<string, double[]>();
        foreach (var info in model.ParameterInfos)
            result[info.Name] = model.Parameters.Slice(info.Offset, info.Length).ToArray().Select(v => (double)v).ToArray();
        return result;
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Forward_MatchesDoubleReference(string network)
    {
        var (model, ops) = Create(network, seed: 3);
        foreach (int batch in new[] { 1, 3, 17 })
        {
            var input = ModelTestData.RandomArray(batch * model.InputLength, batch, scale: 2);
            var output = new float[batch * model.OutputLength];
            model.Forward(input, output, batch);

            var p = ParametersOf(model);
            for (int b = 0; b < batch; b++)
            {
                var x = input.AsSpan(b * model.InputLength, model.InputLength).ToArray().Select(v => (double)v).ToArray();
                var expected = ReferenceNet.Forward(ops, n => p[n], x);
                for (int j = 0; j < expected.Length; j++)
                    Assert.True(Math.Abs(expected[j] - output[b * model.OutputLength + j]) <= 2e-6 + 2e-5 * Math.Abs(expected[j]),
                        $"{network} batch {batch} example {b} output {j}: expected {expected[j]}, got {output[b * model.OutputLength + j]}");
            }

            // Without dropout the training forward computes the same function.
            var trainOutput = new float[output.Length];
            model.ForwardTrain(input, trainOutput, batch);
            if (network != nameof(ResStack)) Assert.Equal(output, trainOutput);
            else
            {
                // Inference fuses each block's last Dense with the residual add (the product accumulates onto the skip),
                // which rounds differently from the training forward's separate add.
                for (int j = 0; j < output.Length; j++)
                    Assert.True(Math.Abs(output[j] - trainOutput[j]) <= 1e-5f * (1 + Math.Abs(output[j])), $"{network} batch {batch} output {j}: inference {output[j]}, training {trainOutput[j]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Backward_MatchesFiniteDifferencesOfReference(string network)
    {
        var (model, ops) = Create(network, seed: 5);
        const int batch = 3;
        var input = ModelTestData.RandomArray(batch * model.InputLength, 11, scale: 2);
        var weights = ModelTestData.RandomArray(batch * model.OutputLength, 12); // loss = Σ weights ⊙ output, so dOutput = weights
        var output = new float[weights.Length];
        var dInput = new float[input.Length];

        model.Gradients.Clear();
        model.ForwardTrain(input, output, batch);
        model.Backward(weights, dInput);

        var p = ParametersOf(model);
        var x = input.Select(v => (double)v).ToArray();
        double Loss()
        {
            double sum = 0;
            for (int b = 0; b < batch; b++)
            {
                var y = ReferenceNet.Forward(ops, n => p[n], x.AsSpan(b * model.InputLength, model.InputLength).ToArray());
                for (int j = 0; j < y.Length; j++) sum += weights[b * model.OutputLength + j] * y[j];
            }
            return sum;
        }
        double Numeric(double[] values, int i)
        {
            const double h = 1e-5;
            double saved = values[i];
            values[i] = saved + h;
            double plus = Loss();
            values[i] = saved - h;
            double minus = Loss();
            values[i] = saved;
            return (plus - minus) / (2 * h);
        }
        static void Check(string what, double expected, float actual) =>
            Assert.True(Math.Abs(expected - actual) <= 1e-4 + 1e-3 * Math.Abs(expected), $"{what}: finite difference {expected}, backward {actual}");

        foreach (var info in model.ParameterInfos)
            for (int i = 0; i < info.Length; i++)
                Check($"{network} {info.Name}[{i}]", Numeric(p[info.Name], i), model.Gradients[info.Offset + i]);
        for (int i = 0; i < x.Length; i++)
            Check($"{network} input[{i}]", Numeric(x, i), dInput[i]);
    }

    [Fact]
    public void Backward_AccumulatesIntoGradients()
    {
        var model = new FusedNet(1);
        var input = ModelTestData.RandomArray(2 * FusedNet.InputSize, 1);
        var dOut = ModelTestData.RandomArray(2 * FusedNet.OutputSize, 2);
        var output = new float[dOut.Length];
        model.Gradients.Clear();
        model.ForwardTrain(input, output, 2);
        model.Backward(dOut, default);
        var once = model.Gradients.ToArray();
        model.ForwardTrain(input, output, 2);
        model.Backward(dOut, default);
        for (int i = 0; i < once.Length; i++)
            Assert.Equal(2 * once[i], model.Gradients[i], 1e-6f + Math.Abs(once[i]) * 1e-5f);
    }

    [Fact]
    public void Dropout_TrainingMasksAndScales_InferenceIsIdentity()
    {
        var model = new DropoutNet(7);
        const int batch = 64;
        var input = ModelTestData.RandomArray(batch * DropoutNet.InputSize, 3);
        var inference = new float[batch * DropoutNet.OutputSize];
        var again = new float[inference.Length];
        model.Forward(input, inference, batch);
        model.Forward(input, again, batch);
        Assert.Equal(inference, again); // inference is deterministic: no dropout

        var train1 = new float[inference.Length];
        var train2 = new float[inference.Length];
        model.SeedDropout(42);
        model.ForwardTrain(input, train1, batch);
        model.ForwardTrain(input, train2, batch);
        Assert.NotEqual(train1, train2);  // a fresh mask each call
        model.SeedDropout(42);
        model.ForwardTrain(input, train2, batch);
        Assert.Equal(train1, train2);     // the same seed gives the same mask

        // Backward through the mask: an input gradient exists only where a unit was kept.
        var dIn = new float[input.Length];
        model.Gradients.Clear();
        model.Backward(ModelTestData.RandomArray(inference.Length, 4), dIn);
        Assert.Contains(dIn, v => v != 0);
    }

    [Fact]
    public void Generated_ShapeConstantsParametersAndSummary()
    {
        Assert.Equal(6, FusedNet.InputSize);
        Assert.Equal(3, FusedNet.OutputSize);
        Assert.Equal(new[] { 2, 3 }, FusedNet.InputShape.ToArray());
        var model = new FusedNet();
        Assert.Equal(FusedNet.ParameterCount, model.Parameters.Length);
        Assert.Equal(model.Parameters.Length, model.Gradients.Length);
        Assert.Equal(new[] { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias", "fc4.weight", "head.weight", "head.bias" },
            model.ParameterInfos.Select(p => p.Name));
        Assert.Equal(new[] { 17, 6 }, model.ParameterInfos[0].Shape);
        Assert.Same(model.Layers[1], model.Fc1);
        Assert.Equal("fc1", model.Fc1.Name);
        Assert.Equal("Dense", model.Fc1.Kind);
        Assert.Equal(new[] { 17 }, model.Fc1.OutputShape);
        Assert.Equal(17 * 6, model.Fc1.Parameter("weight").Length);
        Assert.Contains("fc2      Dense+GELU", FusedNet.Summary());
        Assert.Contains("Total parameters: " + FusedNet.ParameterCount.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), FusedNet.Summary());
    }

    [Fact]
    public void Constructor_SameSeedSameWeights_DifferentSeedDifferent()
    {
        Assert.Equal(new SmallMlp(9).Parameters.ToArray(), new SmallMlp(9).Parameters.ToArray());
        Assert.NotEqual(new SmallMlp(9).Parameters.ToArray(), new SmallMlp(10).Parameters.ToArray());
        // PyTorch's default Linear init: U(±1/√fan_in) for weight and bias.
        var fc1 = new SmallMlp(1).Fc1.Parameter("weight").ToArray();
        Assert.All(fc1, v => Assert.InRange(Math.Abs(v), 0, 1 / Math.Sqrt(64)));
    }
}
