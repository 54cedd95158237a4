using ModelGen.Kernels;

namespace ModelGen.Tests.Models;

/// <summary>Inference folds BatchNorm into the Conv/Dense before it; the result must equal the unfolded computation.</summary>
public class FoldingTests
{
    private static void Randomize(Span<float> values, Rng rng, float low, float high)
    {
        for (int i = 0; i < values.Length; i++) values[i] = low + (high - low) * rng.NextFloat();
    }

    /// <summary>The same network computed layer by layer with the kernels, BatchNorm applied separately.</summary>
    private static float[] Unfolded(FoldNet model, float[] input, int batch)
    {
        var conv = new float[batch * 5 * 7 * 6];
        var g = new ConvGeometry(3, 7, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        ConvKernels.Forward(default(IdentityActivation), g, input, model.C.Parameter("weight"), default, conv, default, batch);
        BatchNormKernels.InferenceForward(conv, conv, model.Bn.Parameter("weight"), model.Bn.Parameter("bias"),
            model.Bn.Parameter("running_mean"), model.Bn.Parameter("running_var"), batch, 5, 42, 1e-5f);
        Elementwise.Forward(default(ReluActivation), conv, conv);
        var fc = new float[batch * 4];
        DenseKernels.Forward(default(IdentityActivation), conv, model.Fc.Parameter("weight"), model.Fc.Parameter("bias"), fc, default, batch, 210, 4);
        BatchNormKernels.InferenceForward(fc, fc, model.Bn2.Parameter("weight"), model.Bn2.Parameter("bias"),
            model.Bn2.Parameter("running_mean"), model.Bn2.Parameter("running_var"), batch, 4, 1, 1e-3f);
        return fc;
    }

    [Fact]
    public void Forward_FoldedBatchNorm_MatchesUnfoldedWithin1e5()
    {
        var model = new FoldNet(3);
        var rng = new Rng(9);
        foreach (var layer in new[] { model.Bn, model.Bn2 })
        {
            Randomize(layer.Parameter("weight"), rng, 0.5f, 2f);
            Randomize(layer.Parameter("bias"), rng, -1f, 1f);
            Randomize(layer.Parameter("running_mean"), rng, -0.5f, 0.5f);
            Randomize(layer.Parameter("running_var"), rng, 0.2f, 3f);
        }
        const int batch = 5;
        var input = new float[batch * FoldNet.InputSize];
        Randomize(input, rng, -1, 1);
        var output = new float[batch * FoldNet.OutputSize];
        model.Forward(input, output, batch);
        AssertClose(Unfolded(model, input, batch), output);
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * Math.Max(1, Math.Abs(expected[i])), $"output {i}: unfolded {expected[i]}, folded {actual[i]}");
    }

    [Fact]
    public void Forward_AfterParametersChange_RefoldsBeforeTheNextCall()
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
        AssertClose(Unfolded(model, input, 2), afterStep);

        model.ForwardTrain(input, new float[before.Length], 2);
        var afterTrain = new float[before.Length];
        model.Forward(input, afterTrain, 2);
        Assert.NotEqual(afterStep, afterTrain);
        AssertClose(Unfolded(model, input, 2), afterTrain);
    }
}
