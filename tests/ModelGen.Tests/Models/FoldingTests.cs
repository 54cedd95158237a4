using ModelGen.Kernels;

namespace ModelGen.Tests.Models;

/// <summary>
/// A model's own <c>Forward</c> reads the parameters as they are at the call, whatever wrote them: spans held across
/// calls, <c>Parameters</c>, optimizers, training forwards. Each case compares with a fresh model given the same
/// parameters (which can hold no stale state) bit for bit, and with BatchNorm computed layer by layer.
/// </summary>
public class FoldingTests
{
    private static void Randomize(Span<float> values, Rng rng, float low, float high)
    {
        for (int i = 0; i < values.Length; i++) values[i] = low + (high - low) * rng.NextFloat();
    }

    /// <summary>The same network computed layer by layer with the kernels, BatchNorm applied separately.</summary>
    private static float[] LayerByLayer(FoldNet model, float[] input, int batch)
    {
        var conv = new float[batch * 5 * 7 * 6];
        var g = new ConvGeometry(3, 7, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        ConvKernels.Forward(default(IdentityActivation), g, input, model.C.Parameter("weight"), default, conv, default, batch);
        BatchNormKernels.InferenceForward(conv, conv, model.Bn.Parameter("weight"), model.Bn.Parameter("bias"),
            model.Bn.Buffer("running_mean"), model.Bn.Buffer("running_var"), batch, 5, 42, 1e-5f);
        Elementwise.Forward(default(ReluActivation), conv, conv);
        var fc = new float[batch * 4];
        DenseKernels.Forward(default(IdentityActivation), conv, model.Fc.Parameter("weight"), model.Fc.Parameter("bias"), fc, default, batch, 210, 4);
        BatchNormKernels.InferenceForward(fc, fc, model.Bn2.Parameter("weight"), model.Bn2.Parameter("bias"),
            model.Bn2.Buffer("running_mean"), model.Bn2.Buffer("running_var"), batch, 4, 1, 1e-3f);
        return fc;
    }

    private static void RandomizeNorms(Rng rng, params Layer[] norms)
    {
        foreach (var layer in norms)
        {
            Randomize(layer.Parameter("weight"), rng, 0.5f, 2f);
            Randomize(layer.Parameter("bias"), rng, -1f, 1f);
            Randomize(layer.Buffer("running_mean"), rng, -0.5f, 0.5f);
            Randomize(layer.Buffer("running_var"), rng, 0.2f, 3f);
        }
    }

    [Fact]
    public void Forward_BatchNormAfterConvAndDense_MatchesLayerByLayerWithin1e5()
    {
        var model = new FoldNet(3);
        var rng = new Rng(9);
        RandomizeNorms(rng, model.Bn, model.Bn2);
        const int batch = 5;
        var input = new float[batch * FoldNet.InputSize];
        Randomize(input, rng, -1, 1);
        var output = new float[batch * FoldNet.OutputSize];
        model.Forward(input, output, batch);
        AssertClose(LayerByLayer(model, input, batch), output);
    }

    /// <summary>The report's reproduction: a weight span taken before the first call and cleared after it.</summary>
    [Fact]
    public void Forward_AfterClearingAHeldWeightSpan_SeesTheCleared()
    {
        var m = new FoldCnn(1);
        var x = new float[FoldCnn.InputSize];
        x.AsSpan().Fill(0.5f);
        float[] a = new float[4], b = new float[4];
        Span<float> w = m.C1.Parameter("weight");
        m.Forward(x, a, 1);
        w.Clear();
        m.Forward(x, b, 1);
        Assert.NotEqual(a, b);
        // With the conv weights zero, BatchNorm sees zeros: the head gets relu(β − μ·γ/√(var+ε)) per channel.
        var fresh = new FoldCnn(1);
        m.Parameters.CopyTo(fresh.Parameters);
        var expected = new float[4];
        fresh.Forward(x, expected, 1);
        Assert.Equal(expected, b);
    }

    public static TheoryData<string> Models => new() { nameof(FoldCnn), nameof(FoldNet), nameof(BnResNet), nameof(TinyResNet) };

    private static ITrainable Create(string name, int seed) => name switch
    {
        nameof(FoldCnn) => new FoldCnn(seed),
        nameof(FoldNet) => new FoldNet(seed),
        nameof(BnResNet) => new BnResNet(seed),
        nameof(TinyResNet) => new TinyResNet(seed),
        _ => throw new ArgumentException(name),
    };

    /// <summary>
    /// Twenty edits per model, each through a span taken once before any call (weights, biases, BatchNorm affine and
    /// running statistics, inside blocks and projections alike): every Forward afterwards equals a fresh model's.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void Forward_AfterWritesThroughHeldSpans_EqualsAFreshModel(string name)
    {
        var model = Create(name, 5);
        var rng = new Rng(17);
        const int batch = 3;
        var input = new float[batch * model.InputLength];
        Randomize(input, rng, -1, 1);
        // Non-trivial running statistics, so every BatchNorm tensor matters.
        foreach (var layer in model.Layers)
            if (layer.Kind.StartsWith("BatchNorm")) RandomizeNorms(rng, layer);

        // One span over every parameter, taken before the first call and written through afterwards.
        Span<float> held = model.Parameters;
        var infos = model.ParameterInfos;
        var output = new float[batch * model.OutputLength];
        model.Forward(input, output, batch);
        int changed = 0;
        for (int edit = 0; edit < 20; edit++)
        {
            var info = infos[edit % infos.Count];
            int at = Math.Min(info.Length - 1, (int)(rng.NextFloat() * info.Length));
            held[info.Offset + at] = 3 * rng.NextFloat() - 1.5f;
            var before = output.ToArray();
            model.Forward(input, output, batch);
            if (!before.AsSpan().SequenceEqual(output)) changed++;

            var fresh = Create(name, 99);
            held.CopyTo(fresh.Parameters);
            model.Buffers.CopyTo(fresh.Buffers);   // the randomised running statistics
            var expected = new float[output.Length];
            fresh.Forward(input, expected, batch);
            Assert.True(expected.AsSpan().SequenceEqual(output), $"{name}, edit {edit} of {info.Name}[{at}]: Forward differs from a fresh model with the same parameters");
        }
        Assert.True(changed >= 15, $"{name}: only {changed} of 20 edits changed the output (the test would not catch stale weights)");
    }

    [Fact]
    public void Forward_AfterOptimizerStepAndTrainingForward_SeesTheNewParameters()
    {
        var model = new FoldNet(4);
        var input = new float[2 * FoldNet.InputSize];
        Randomize(input, new Rng(1), -1, 1);
        var before = new float[2 * FoldNet.OutputSize];
        model.Forward(input, before, 2);

        // An optimizer step writes through model.Parameters; a training forward moves the running statistics.
        var grads = new float[FoldNet.ParameterCount];
        Randomize(grads, new Rng(2), -1, 1);
        new Sgd(0.1f).Step(model, grads);
        var afterStep = new float[before.Length];
        model.Forward(input, afterStep, 2);
        Assert.NotEqual(before, afterStep);
        AssertClose(LayerByLayer(model, input, 2), afterStep);

        model.ForwardTrain(input, new float[before.Length], 2);
        var afterTrain = new float[before.Length];
        model.Forward(input, afterTrain, 2);
        Assert.NotEqual(afterStep, afterTrain);
        AssertClose(LayerByLayer(model, input, 2), afterTrain);
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * Math.Max(1, Math.Abs(expected[i])), $"output {i}: layer by layer {expected[i]}, Forward {actual[i]}");
    }
}
