// libtorch 2.10 (TorchSharp-cpu 0.107.0, float32) values for Embedding(padding_idx), LayerNorm,
// CrossEntropy(ignore_index), GroupNorm, InstanceNorm1d/2d (with running statistics), PReLU, LogSoftmax and BatchNorm (momentum None and 0.1, evaluation-mode gradients), read from the fixture Fixtures/layers-libtorch.bin that tools/reference/layers-check
// wrote (the inputs are in the fixture too, so nothing here depends on libtorch's RNG). PyTorch's implementation, not
// only our reading of its documentation, pins these kernels: forward within 1e-5 and gradients within 1e-4 relative
// to max(1, |value|) (measured when written: ≤ 2.4e-7 and ≤ 1.9e-7, except where libtorch itself is off, below).
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class TorchLayersReferenceTests
{
    private const double ForwardTolerance = 1e-5, GradientTolerance = 1e-4;

    /// <summary>
    /// <code>
    /// var emb = nn.Embedding_from_pretrained(weight, freeze: false, padding_idx: p);
    /// var y = emb.forward(ids); y.retain_grad(); y.exp().mean().backward();   // y.grad is the fixture's doutput
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("emb.pad")]
    [InlineData("emb.nopad")]
    public void Embedding_MatchesLibtorch(string name)
    {
        var f = Fixture.Instance;
        int[] ids = f.Ints($"{name}.ids");
        float[] weight = f.Floats($"{name}.weight");
        int[] shape = f.Shape($"{name}.weight");
        int vocab = shape[0], dim = shape[1], padding = f.Ints($"{name}.padding_idx")[0];
        float[] output = new float[ids.Length * dim], dWeight = new float[weight.Length];
        EmbeddingKernels.Forward(ids, weight, output, vocab, dim);
        EmbeddingKernels.Backward(ids, f.Floats($"{name}.doutput"), dWeight, vocab, dim, padding);
        AssertClose(f.Floats($"{name}.output"), output, ForwardTolerance, $"{name}.output");
        AssertClose(f.Floats($"{name}.dweight"), dWeight, GradientTolerance, $"{name}.dweight");
        if (padding >= 0) Assert.Contains(padding, ids);   // the case really exercises padding_idx
    }

    /// <summary>
    /// <code>
    /// var y = F.layer_norm(x, [features], weight, bias, eps); y.retain_grad(); y.exp().mean().backward();
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("ln.affine17")]
    [InlineData("ln.plain100")]
    [InlineData("ln.affine257")]
    [InlineData("ln.weightonly3")]
    [InlineData("ln.affine1")]
    public void LayerNorm_MatchesLibtorch(string name)
    {
        var f = Fixture.Instance;
        float[] x = f.Floats($"{name}.input"), dy = f.Floats($"{name}.doutput");
        int features = f.Shape($"{name}.input")[^1], rows = x.Length / features;
        float eps = f.Floats($"{name}.eps")[0];
        float[] weight = f.Has($"{name}.weight") ? f.Floats($"{name}.weight") : [], bias = f.Has($"{name}.bias") ? f.Floats($"{name}.bias") : [];
        float[] y = new float[x.Length], mean = new float[rows], rstd = new float[rows], dx = new float[x.Length];
        float[] dWeight = new float[weight.Length], dBias = new float[bias.Length];
        LayerNormKernels.Forward(x, weight, bias, y, mean, rstd, rows, features, eps);
        LayerNormKernels.Backward(dy, x, weight, mean, rstd, dx, dWeight, dBias, rows, features);
        AssertClose(f.Floats($"{name}.output"), y, ForwardTolerance, $"{name}.output");
        AssertClose(f.Floats($"{name}.dinput"), dx, GradientTolerance, $"{name}.dinput");
        if (weight.Length > 0) AssertClose(f.Floats($"{name}.dweight"), dWeight, GradientTolerance, $"{name}.dweight");
        if (bias.Length > 0) AssertClose(f.Floats($"{name}.dbias"), dBias, GradientTolerance, $"{name}.dbias");
        if (features == 1)
        {
            // x̂ ≡ 0 for one feature, so dInput and dWeight are exactly 0. libtorch's backward leaves ~3e-5 of rounding
            // noise there (its folded coefficients scale with rstd³ = eps^-1.5); ModelGen's centred form gives 0.
            Assert.All(dx, v => Assert.Equal(0f, v));
            Assert.All(dWeight, v => Assert.Equal(0f, v));
        }
    }

    /// <summary>
    /// <code>
    /// var loss = F.cross_entropy(logits, labels, ignore_index: ignore, label_smoothing: smoothing); loss.backward();
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("ce.ignore")]
    [InlineData("ce.ignore.smooth")]
    [InlineData("ce.ignore0")]
    [InlineData("ce.seq")]
    public void CrossEntropyIgnoring_MatchesLibtorch(string name)
    {
        var f = Fixture.Instance;
        float[] logits = f.Floats($"{name}.logits");
        int[] labels = f.Ints($"{name}.labels");
        int ignore = f.Ints($"{name}.ignore_index")[0];
        float smoothing = f.Floats($"{name}.smoothing")[0];
        Loss loss = Loss.CrossEntropyIgnoring(ignore, smoothing);
        float[] d = new float[logits.Length];
        float value = loss.Compute(logits, labels, default, d, labels.Length);
        AssertClose(f.Floats($"{name}.loss"), [value], ForwardTolerance, $"{name}.loss");
        AssertClose(f.Floats($"{name}.dlogits"), d, GradientTolerance, $"{name}.dlogits");
        Assert.Contains(ignore, labels);   // some rows really are ignored
    }

    /// <summary>
    /// BatchNorm as PyTorch's module runs it (num_batches_tracked += 1 per training step, factor 1/count when momentum is
    /// None, libtorch's <c>F.batch_norm</c>): running statistics after k steps of different batch sizes, then the
    /// evaluation-mode output and gradients. The kernels here emulate the generated code's count and factor.
    /// </summary>
    [Theory]
    [InlineData("bn.none1d")]
    [InlineData("bn.none2d")]
    [InlineData("bn.m01")]
    public void BatchNorm_RunningStatisticsAndEvalGradients_MatchLibtorch(string name)
    {
        var f = Fixture.Instance;
        float[] gamma = f.Floats($"{name}.weight"), beta = f.Floats($"{name}.bias");
        float momentum = f.Floats($"{name}.momentum")[0];   // -1: None
        int channels = gamma.Length, steps = f.Ints($"{name}.steps")[0];
        float[] rm = new float[channels], rv = Enumerable.Repeat(1f, channels).ToArray(), save = new float[channels], inv = new float[channels];
        float count = 0;
        for (int k = 0; k < steps; k++)
        {
            float[] x = f.Floats($"{name}.step{k}.input");
            int[] shape = f.Shape($"{name}.step{k}.input");
            int batch = shape[0], spatial = x.Length / (batch * channels);
            count += 1;
            BatchNormKernels.TrainForward(x, new float[x.Length], gamma, beta, rm, rv, save, inv, batch, channels, spatial, 1e-5f, momentum < 0 ? 1f / count : momentum);
        }
        AssertClose(f.Floats($"{name}.running_mean"), rm, ForwardTolerance, $"{name}.running_mean");
        AssertClose(f.Floats($"{name}.running_var"), rv, ForwardTolerance, $"{name}.running_var");
        Assert.Equal(f.Ints($"{name}.num_batches_tracked")[0], (int)count);

        float[] xe = f.Floats($"{name}.eval.input");
        int eb = f.Shape($"{name}.eval.input")[0], es = xe.Length / (eb * channels);
        float[] y = new float[xe.Length], dx = new float[xe.Length], dg = new float[channels], db = new float[channels];
        BatchNormKernels.EvalForward(xe, y, gamma, beta, f.Floats($"{name}.running_mean"), f.Floats($"{name}.running_var"), save, inv, eb, channels, es, 1e-5f);
        BatchNormKernels.EvalBackward(f.Floats($"{name}.eval.doutput"), xe, gamma, save, inv, dg, db, dx, eb, channels, es);
        AssertClose(f.Floats($"{name}.eval.output"), y, ForwardTolerance, $"{name}.eval.output");
        AssertClose(f.Floats($"{name}.eval.dinput"), dx, GradientTolerance, $"{name}.eval.dinput");
        AssertClose(f.Floats($"{name}.eval.dweight"), dg, GradientTolerance, $"{name}.eval.dweight");
        AssertClose(f.Floats($"{name}.eval.dbias"), db, GradientTolerance, $"{name}.eval.dbias");
    }

    /// <summary>The same, end to end through a generated model: <c>[BatchNorm1D(Momentum = null)]</c> on [5, 3].</summary>
    [Fact]
    public void BatchNormMomentumNone_GeneratedModel_MatchesLibtorch()
    {
        var f = Fixture.Instance;
        const string name = "bn.none1d";
        var model = new ModelGen.Tests.Models.CumulativeBatchNorm();
        f.Floats($"{name}.weight").CopyTo(model.Bn.Parameter("weight"));
        f.Floats($"{name}.bias").CopyTo(model.Bn.Parameter("bias"));
        for (int k = 0; k < f.Ints($"{name}.steps")[0]; k++)
        {
            float[] x = f.Floats($"{name}.step{k}.input");
            model.ForwardTrain(x, new float[x.Length], f.Shape($"{name}.step{k}.input")[0]);
        }
        AssertClose(f.Floats($"{name}.running_mean"), model.Bn.Buffer("running_mean").ToArray(), ForwardTolerance, "running_mean");
        AssertClose(f.Floats($"{name}.running_var"), model.Bn.Buffer("running_var").ToArray(), ForwardTolerance, "running_var");
        Assert.Equal(f.Ints($"{name}.num_batches_tracked")[0], (int)model.Bn.Buffer("num_batches_tracked")[0]);

        model.Eval();
        float[] xe = f.Floats($"{name}.eval.input"), y = new float[xe.Length], dx = new float[xe.Length];
        int batch = f.Shape($"{name}.eval.input")[0];
        model.Gradients.Clear();
        model.ForwardTrain(xe, y, batch);
        model.Backward(f.Floats($"{name}.eval.doutput"), dx);
        AssertClose(f.Floats($"{name}.eval.output"), y, ForwardTolerance, "eval output");
        AssertClose(f.Floats($"{name}.eval.dinput"), dx, GradientTolerance, "eval dinput");
        AssertClose(f.Floats($"{name}.eval.dweight"), model.Gradients[..5].ToArray(), GradientTolerance, "eval dweight");
        AssertClose(f.Floats($"{name}.eval.dbias"), model.Gradients[5..].ToArray(), GradientTolerance, "eval dbias");
    }

    /// <summary>
    /// <code>
    /// var y = F.group_norm(x, groups, weight, bias, eps); y.retain_grad(); y.exp().mean().backward();
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("gn.affine")]
    [InlineData("gn.plain")]
    [InlineData("gn.flat")]
    [InlineData("gn.one")]
    public void GroupNorm_MatchesLibtorch(string name)
    {
        var f = Fixture.Instance;
        float[] x = f.Floats($"{name}.input"), dy = f.Floats($"{name}.doutput");
        int[] shape = f.Shape($"{name}.input");
        int batch = shape[0], channels = shape[1], spatial = x.Length / (batch * channels), groups = f.Ints($"{name}.groups")[0];
        float eps = f.Floats($"{name}.eps")[0];
        float[] weight = f.Has($"{name}.weight") ? f.Floats($"{name}.weight") : [], bias = f.Has($"{name}.bias") ? f.Floats($"{name}.bias") : [];
        float[] y = new float[x.Length], mean = new float[batch * groups], rstd = new float[batch * groups], dx = new float[x.Length];
        float[] dWeight = new float[weight.Length], dBias = new float[bias.Length];
        GroupNormKernels.Forward(x, weight, bias, y, mean, rstd, batch, channels, spatial, groups, eps);
        GroupNormKernels.Backward(dy, x, weight, mean, rstd, dx, dWeight, dBias, batch, channels, spatial, groups);
        AssertClose(f.Floats($"{name}.output"), y, ForwardTolerance, $"{name}.output");
        AssertClose(f.Floats($"{name}.dinput"), dx, GradientTolerance, $"{name}.dinput");
        if (weight.Length > 0) AssertClose(f.Floats($"{name}.dweight"), dWeight, GradientTolerance, $"{name}.dweight");
        if (bias.Length > 0) AssertClose(f.Floats($"{name}.dbias"), dBias, GradientTolerance, $"{name}.dbias");
    }

    /// <summary>
    /// <code>
    /// var m = nn.InstanceNorm1d(c, 1e-5, momentum, affine, track_running_stats);   // or InstanceNorm2d
    /// m.train(); var y = m.forward(x); y.retain_grad(); y.exp().mean().backward();   // running statistics updated
    /// m.eval(); var e = m.forward(x);                                                 // with them, when tracked
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("in2.tracked")]
    [InlineData("in1.plain")]
    [InlineData("in1.tracked")]
    [InlineData("in2.affine")]
    public void InstanceNorm_MatchesLibtorch(string name)
    {
        var f = Fixture.Instance;
        float[] x = f.Floats($"{name}.input"), dy = f.Floats($"{name}.doutput");
        int[] shape = f.Shape($"{name}.input");
        int batch = shape[0], channels = shape[1], spatial = x.Length / (batch * channels);
        const float eps = 1e-5f;
        float momentum = f.Floats($"{name}.momentum")[0];
        bool tracked = f.Has($"{name}.running_mean");
        float[] weight = f.Has($"{name}.weight") ? f.Floats($"{name}.weight") : [], bias = f.Has($"{name}.bias") ? f.Floats($"{name}.bias") : [];
        float[] y = new float[x.Length], e = new float[x.Length], mean = new float[batch * channels], rstd = new float[batch * channels], dx = new float[x.Length];
        float[] dWeight = new float[weight.Length], dBias = new float[bias.Length];
        if (tracked)
        {
            // Copies: the kernel updates them in place, and the fixture's arrays are shared by every test.
            float[] runningMean = (float[])f.Floats($"{name}.running_mean0").Clone(), runningVar = (float[])f.Floats($"{name}.running_var0").Clone();
            GroupNormKernels.InstanceTrainForward(x, weight, bias, y, mean, rstd, runningMean, runningVar, batch, channels, spatial, eps, momentum);
            AssertClose(f.Floats($"{name}.running_mean"), runningMean, ForwardTolerance, $"{name}.running_mean");
            AssertClose(f.Floats($"{name}.running_var"), runningVar, ForwardTolerance, $"{name}.running_var");
            BatchNormKernels.InferenceForward(x, e, weight, bias, runningMean, runningVar, batch, channels, spatial, eps);
        }
        else
        {
            GroupNormKernels.Forward(x, weight, bias, y, mean, rstd, batch, channels, spatial, channels, eps);
            GroupNormKernels.Forward(x, weight, bias, e, [], [], batch, channels, spatial, channels, eps);
        }
        GroupNormKernels.Backward(dy, x, weight, mean, rstd, dx, dWeight, dBias, batch, channels, spatial, channels);
        AssertClose(f.Floats($"{name}.output"), y, ForwardTolerance, $"{name}.output");
        AssertClose(f.Floats($"{name}.eval_output"), e, ForwardTolerance, $"{name}.eval_output");
        AssertClose(f.Floats($"{name}.dinput"), dx, GradientTolerance, $"{name}.dinput");
        if (weight.Length > 0) AssertClose(f.Floats($"{name}.dweight"), dWeight, GradientTolerance, $"{name}.dweight");
        if (bias.Length > 0) AssertClose(f.Floats($"{name}.dbias"), dBias, GradientTolerance, $"{name}.dbias");
    }

    /// <summary>
    /// <code>
    /// var y = F.prelu(x, weight); y.retain_grad(); y.exp().mean().backward();   // weight [1], [C] of [N, C, H, W], or [F] of [N, F]
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("prelu.shared")]
    [InlineData("prelu.channels")]
    [InlineData("prelu.features")]
    public void PReLU_MatchesLibtorch(string name)
    {
        var f = Fixture.Instance;
        float[] x = f.Floats($"{name}.input"), weight = f.Floats($"{name}.weight"), dy = f.Floats($"{name}.doutput");
        int[] shape = f.Shape($"{name}.input");
        int channels = weight.Length == 1 ? 1 : shape[1], spatial = weight.Length == 1 ? 1 : shape.Skip(2).Aggregate(1, (a, b) => a * b);
        float[] y = new float[x.Length], dx = new float[x.Length], dWeight = new float[weight.Length];
        PReLUKernels.Forward(x, weight, y, channels, spatial);
        PReLUKernels.Backward(dy, x, weight, dx, dWeight, channels, spatial);
        AssertClose(f.Floats($"{name}.output"), y, ForwardTolerance, $"{name}.output");
        AssertClose(f.Floats($"{name}.dinput"), dx, GradientTolerance, $"{name}.dinput");
        AssertClose(f.Floats($"{name}.dweight"), dWeight, GradientTolerance, $"{name}.dweight");
    }

    /// <summary>
    /// <code>
    /// var y = F.log_softmax(x, -1); y.retain_grad(); y.exp().mean().backward();
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("lsm.rows")]
    [InlineData("lsm.3d")]
    public void LogSoftmax_MatchesLibtorch(string name)
    {
        var f = Fixture.Instance;
        float[] x = f.Floats($"{name}.input"), dy = f.Floats($"{name}.doutput");
        int cols = f.Shape($"{name}.input")[^1], rows = x.Length / cols;
        float[] y = new float[x.Length], dx = new float[x.Length];
        Softmax.LogForward(x, y, rows, cols);
        Softmax.LogBackward(dy, y, dx, rows, cols);
        AssertClose(f.Floats($"{name}.output"), y, ForwardTolerance, $"{name}.output");
        AssertClose(f.Floats($"{name}.dinput"), dx, GradientTolerance, $"{name}.dinput");
    }

    /// <summary>
    /// The generated [InstanceNorm1D(TrackRunningStats = true, Momentum = 0.3)] against libtorch's module: the training
    /// forward, its running statistics after the step, the backward, and the evaluation forward with the statistics.
    /// </summary>
    [Fact]
    public void GeneratedInstanceNorm1D_MatchesLibtorchModule()
    {
        var f = Fixture.Instance;
        const string name = "in1.tracked";
        var model = new ModelGen.Tests.Models.TrackedInstanceNorm1D();
        f.Floats($"{name}.running_mean0").CopyTo(model.Norm.Buffer("running_mean"));
        f.Floats($"{name}.running_var0").CopyTo(model.Norm.Buffer("running_var"));
        float[] x = f.Floats($"{name}.input"), y = new float[x.Length], dx = new float[x.Length], e = new float[x.Length];
        int batch = f.Shape($"{name}.input")[0];
        model.ForwardTrain(x, y, batch);
        model.Backward(f.Floats($"{name}.doutput"), dx);
        model.Forward(x, e, batch);
        AssertClose(f.Floats($"{name}.output"), y, ForwardTolerance, "generated output");
        AssertClose(f.Floats($"{name}.dinput"), dx, GradientTolerance, "generated dinput");
        AssertClose(f.Floats($"{name}.running_mean"), model.Norm.Buffer("running_mean").ToArray(), ForwardTolerance, "generated running_mean");
        AssertClose(f.Floats($"{name}.running_var"), model.Norm.Buffer("running_var").ToArray(), ForwardTolerance, "generated running_var");
        Assert.Equal(f.Ints($"{name}.num_batches_tracked")[0], (int)model.Norm.Buffer("num_batches_tracked")[0]);
        AssertClose(f.Floats($"{name}.eval_output"), e, ForwardTolerance, "generated eval output");
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i]));
            Assert.True(diff <= tolerance, $"{what}[{i}]: libtorch {expected[i]:R}, ModelGen {actual[i]:R} (relative difference {diff:E2} > {tolerance:E0})");
        }
    }

    /// <summary>The fixture's tensors by name (format: tools/reference/layers-check/Program.cs).</summary>
    private static class Fixture
    {
        public static LibtorchFixture Instance { get; } = new("layers-libtorch.bin");
    }
}
