// BatchNorm kernels: training forward vs the double reference and PyTorch's running-statistics update (unbiased
// variance, momentum), train vs eval semantics, backward vs float64 central differences through the batch statistics,
// affine = false, evaluation mode with gradients (EvalForward/EvalBackward), folding into a preceding Conv/Dense (inference outputs unchanged within 1e-5), validation and zero
// steady-state allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class BatchNormKernelsTests
{
    private const float Eps = 1e-5f, Momentum = 0.1f;

    [Theory]
    [InlineData(3, 4, 1, true)]      // BatchNorm1D on [C]
    [InlineData(2, 3, 17, true)]     // BatchNorm1D on [C, L]
    [InlineData(1, 5, 9, true)]      // batch 1: statistics over space only
    [InlineData(3, 2, 35, false)]    // affine = false
    [InlineData(4, 3, 64, true)]     // vector body
    public void TrainForwardBackward_MatchReferenceAndFiniteDifferences(int batch, int channels, int spatial, bool affine)
    {
        int n = batch * channels * spatial;
        ulong seed = (ulong)(batch * 1000 + channels * 100 + spatial);
        float[] x = Uniform(n, seed, -2f, 3f), y = new float[n], dy = Uniform(n, seed + 1);
        float[] gamma = affine ? Uniform(channels, seed + 2, 0.5f, 1.5f) : [], beta = affine ? Uniform(channels, seed + 3) : [];
        float[] rm0 = Uniform(channels, seed + 4), rv0 = Uniform(channels, seed + 5, 0.5f, 2f);
        float[] rm = (float[])rm0.Clone(), rv = (float[])rv0.Clone(), mean = new float[channels], invStd = new float[channels];
        BatchNormKernels.TrainForward(x, y, gamma, beta, rm, rv, mean, invStd, batch, channels, spatial, Eps, Momentum);

        double[] xd = ToDouble(x), gd = ToDouble(gamma), bd = ToDouble(beta), dyd = ToDouble(dy), expected = new double[n];
        BatchNormKernels.ReferenceTrainForward(xd, expected, gd, bd, batch, channels, spatial, Eps);
        string where = $"batch={batch} channels={channels} spatial={spatial} affine={affine}";
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 2e-5 + 1e-5 * Math.Abs(expected[i]), $"{where}: y[{i}] = {y[i]} vs {expected[i]}");

        int count = batch * spatial;
        for (int c = 0; c < channels; c++)
        {
            double m = 0, v = 0;
            for (int b = 0; b < batch; b++) for (int i = 0; i < spatial; i++) m += xd[(b * channels + c) * spatial + i];
            m /= count;
            for (int b = 0; b < batch; b++) for (int i = 0; i < spatial; i++) v += Math.Pow(xd[(b * channels + c) * spatial + i] - m, 2);
            Assert.Equal(m, mean[c], 1e-5);
            Assert.Equal(1 / Math.Sqrt(v / count + Eps), invStd[c], 1e-4);
            // torch: running_mean = 0.9·running_mean + 0.1·mean; running_var = 0.9·running_var + 0.1·unbiased var.
            Assert.Equal(0.9 * rm0[c] + 0.1 * m, rm[c], 1e-5);
            Assert.Equal(0.9 * rv0[c] + 0.1 * v / (count - 1), rv[c], 1e-5);
        }

        // Accumulating gradient buffers start non-zero; dInput starts as NaN to prove it is overwritten.
        float[] dG0 = affine ? Uniform(channels, seed + 6) : [], dB0 = affine ? Uniform(channels, seed + 7) : [];
        float[] dG = (float[])dG0.Clone(), dB = (float[])dB0.Clone(), dX = new float[n];
        Array.Fill(dX, float.NaN);
        BatchNormKernels.Backward(dy, x, gamma, mean, invStd, dG, dB, dX, batch, channels, spatial);

        double Loss(double[] xp, double[] gp, double[] bp)
        {
            var o = new double[n];
            BatchNormKernels.ReferenceTrainForward(xp, o, gp, bp, batch, channels, spatial, Eps);
            double loss = 0;
            for (int i = 0; i < n; i++) loss += dyd[i] * o[i];
            return loss;
        }
        FiniteDifference.Check(where, "dX", dX, null, xd, p => Loss(p, gd, bd), samples: 40);
        if (affine)
        {
            FiniteDifference.Check(where, "dGamma", dG, dG0, gd, p => Loss(xd, p, bd));
            FiniteDifference.Check(where, "dBeta", dB, dB0, bd, p => Loss(xd, gd, p));
        }

        // In place (dInput = dOutput) gives the same result.
        float[] inPlace = (float[])dy.Clone(), dG2 = (float[])dG0.Clone(), dB2 = (float[])dB0.Clone();
        BatchNormKernels.Backward(inPlace, x, gamma, mean, invStd, dG2, dB2, inPlace, batch, channels, spatial);
        Assert.Equal(dX, inPlace);
    }

    /// <summary>Evaluation mode with gradients: the inference output, running statistics untouched, and the backward of that function.</summary>
    [Theory]
    [InlineData(3, 4, 1, true)]
    [InlineData(2, 3, 17, true)]
    [InlineData(1, 7, 33, false)]
    [InlineData(4, 3, 64, true)]
    public void EvalForwardBackward_MatchReferenceAndFiniteDifferences(int batch, int channels, int spatial, bool affine)
    {
        int n = batch * channels * spatial;
        ulong seed = (ulong)(batch * 1000 + channels * 100 + spatial) + 77;
        float[] x = Uniform(n, seed, -2f, 3f), y = new float[n], dy = Uniform(n, seed + 1);
        float[] gamma = affine ? Uniform(channels, seed + 2, 0.5f, 1.5f) : [], beta = affine ? Uniform(channels, seed + 3) : [];
        float[] rm = Uniform(channels, seed + 4), rv = Uniform(channels, seed + 5, 0.5f, 2f);
        float[] rm0 = (float[])rm.Clone(), rv0 = (float[])rv.Clone(), mean = new float[channels], invStd = new float[channels];
        BatchNormKernels.EvalForward(x, y, gamma, beta, rm, rv, mean, invStd, batch, channels, spatial, Eps);
        Assert.Equal(rm0, rm);
        Assert.Equal(rv0, rv);
        var inference = new float[n];
        BatchNormKernels.InferenceForward(x, inference, gamma, beta, rm, rv, batch, channels, spatial, Eps);
        Assert.Equal(inference, y);   // bit for bit: ForwardTrain in evaluation mode computes what Forward does

        double[] xd = ToDouble(x), gd = ToDouble(gamma), bd = ToDouble(beta), dyd = ToDouble(dy), md = ToDouble(rm), vd = ToDouble(rv);
        var expected = new double[n];
        BatchNormKernels.ReferenceInferenceForward(xd, expected, gd, bd, md, vd, batch, channels, spatial, Eps);
        string where = $"batch={batch} channels={channels} spatial={spatial} affine={affine}";
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 2e-5 + 1e-5 * Math.Abs(expected[i]), $"{where}: y[{i}] = {y[i]} vs {expected[i]}");

        float[] dG0 = affine ? Uniform(channels, seed + 6) : [], dB0 = affine ? Uniform(channels, seed + 7) : [];
        float[] dG = (float[])dG0.Clone(), dB = (float[])dB0.Clone(), dX = new float[n];
        Array.Fill(dX, float.NaN);
        BatchNormKernels.EvalBackward(dy, x, gamma, mean, invStd, dG, dB, dX, batch, channels, spatial);
        double Loss(double[] xp, double[] gp, double[] bp)
        {
            var o = new double[n];
            BatchNormKernels.ReferenceInferenceForward(xp, o, gp, bp, md, vd, batch, channels, spatial, Eps);
            double loss = 0;
            for (int i = 0; i < n; i++) loss += dyd[i] * o[i];
            return loss;
        }
        FiniteDifference.Check(where, "dX", dX, null, xd, p => Loss(p, gd, bd), samples: 40);
        if (affine)
        {
            FiniteDifference.Check(where, "dGamma", dG, dG0, gd, p => Loss(xd, p, bd));
            FiniteDifference.Check(where, "dBeta", dB, dB0, bd, p => Loss(xd, gd, p));
        }
        float[] inPlace = (float[])dy.Clone(), dG2 = (float[])dG0.Clone(), dB2 = (float[])dB0.Clone();
        BatchNormKernels.EvalBackward(inPlace, x, gamma, mean, invStd, dG2, dB2, inPlace, batch, channels, spatial);
        Assert.Equal(dX, inPlace);
        var e = Assert.Throws<ArgumentException>(() => BatchNormKernels.EvalBackward(dy, x, gamma, mean, new float[channels + 1], dG, dB, dX, batch, channels, spatial));
        Assert.Contains("saveInvStd", e.Message);
    }

    [Fact]
    public void TrainForward_LargeMeanSmallSpread_StaysAccurate()
    {
        // Corrected two-pass statistics and centred normalisation: a naive E[x²] − E[x]² in float would lose every digit
        // here, and torch's CPU form x·scale + (β − μ·scale) loses about two.
        const int batch = 8, channels = 2, spatial = 50, n = batch * channels * spatial;
        float[] x = Uniform(n, 3, -0.01f, 0.01f);
        for (int i = 0; i < n; i++) x[i] += 1000f;
        float[] y = new float[n], rm = new float[channels], rv = new float[channels], mean = new float[channels], invStd = new float[channels];
        BatchNormKernels.TrainForward(x, y, [], [], rm, rv, mean, invStd, batch, channels, spatial, Eps, Momentum);
        double[] expected = new double[n];
        BatchNormKernels.ReferenceTrainForward(ToDouble(x), expected, [], [], batch, channels, spatial, Eps);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-4, $"y[{i}] = {y[i]} vs {expected[i]}");
    }

    [Fact]
    public void InferenceForward_UsesRunningStatistics_NotBatchStatistics()
    {
        const int batch = 3, channels = 2, spatial = 5, n = batch * channels * spatial;
        float[] x = Uniform(n, 11), y = new float[n], gamma = [1.5f, -0.5f], beta = [0.25f, 2f], rm = [0.1f, -0.3f], rv = [0.8f, 2.5f];
        BatchNormKernels.InferenceForward(x, y, gamma, beta, rm, rv, batch, channels, spatial, Eps);
        for (int i = 0; i < n; i++)
        {
            int c = i / spatial % channels;
            double expected = (x[i] - rm[c]) / Math.Sqrt(rv[c] + Eps) * gamma[c] + beta[c];
            Assert.True(Math.Abs(y[i] - expected) <= 1e-5, $"y[{i}] = {y[i]} vs {expected}");
        }

        // affine = false is γ = 1, β = 0; in place works.
        float[] inPlace = (float[])x.Clone(), ones = [1f, 1f], zeros = [0f, 0f], viaOnes = new float[n];
        BatchNormKernels.InferenceForward(inPlace, inPlace, [], [], rm, rv, batch, channels, spatial, Eps);
        BatchNormKernels.InferenceForward(x, viaOnes, ones, zeros, rm, rv, batch, channels, spatial, Eps);
        Assert.Equal(viaOnes, inPlace);
    }

    [Fact]
    public void TrainThenEval_AfterManyStepsOnOneBatch_EvalMatchesTrainOutput()
    {
        // With momentum 0.1, the running statistics converge to the batch mean and unbiased variance; eval output then
        // equals the train output up to the biased/unbiased factor n/(n−1) inside the square root.
        const int batch = 4, channels = 3, spatial = 25, n = batch * channels * spatial, count = batch * spatial;
        float[] x = Uniform(n, 21, -1f, 2f), train = new float[n], eval = new float[n];
        float[] rm = new float[channels], rv = [1f, 1f, 1f], mean = new float[channels], invStd = new float[channels];
        for (int step = 0; step < 300; step++)
            BatchNormKernels.TrainForward(x, train, [], [], rm, rv, mean, invStd, batch, channels, spatial, Eps, Momentum);
        for (int c = 0; c < channels; c++) rv[c] *= (count - 1f) / count;   // back to the biased variance
        BatchNormKernels.InferenceForward(x, eval, [], [], rm, rv, batch, channels, spatial, Eps);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(train[i] - eval[i]) <= 1e-4, $"[{i}] train {train[i]} vs eval {eval[i]}");
    }

    [Fact]
    public void TrainForward_OneValuePerChannel_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => BatchNormKernels.TrainForward(new float[3], new float[3], [], [],
            new float[3], new float[3], new float[3], new float[3], 1, 3, 1, Eps, Momentum));
        Assert.Contains("more than 1 value per channel", ex.Message);
    }

    [Fact]
    public void TrainForward_BatchTimesChannelsWrapsInInt_ThrowsInsteadOfRunningPastTheSpans()
    {
        // 65,537 × 65,536 wraps to 65,536 in 32 bits: that used to match these spans and let the kernel read past them.
        var ex = Assert.Throws<ArgumentException>(() => BatchNormKernels.TrainForward(new float[65_536], new float[65_536], [], [],
            new float[65_536], new float[65_536], new float[65_536], new float[65_536], 65_537, 65_536, 1, Eps, Momentum));
        Assert.Equal("input", ex.ParamName);
        Assert.Contains("must have 4295032832 elements ([batch=65537, channels=65536, spatial=1])", ex.Message);
    }

    [Fact]
    public void TrainForward_WrongGammaLength_ThrowsNamingGamma()
    {
        var ex = Assert.Throws<ArgumentException>(() => BatchNormKernels.TrainForward(new float[12], new float[12], new float[2], [],
            new float[3], new float[3], new float[3], new float[3], 2, 3, 2, Eps, Momentum));
        Assert.Equal("gamma", ex.ParamName);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Fold_ConvThenBatchNorm_InferenceOutputUnchanged(bool convBias, bool affine)
    {
        var g = new ConvGeometry(3, 9, 8, 5, 3, 3, 1, 2, 1, 1, 1, 1, 1);
        const int batch = 2;
        float[] x = Uniform(batch * g.InputLength, 31), w = Uniform(g.WeightLength, 32, -0.5f, 0.5f), b = convBias ? Uniform(5, 33) : [];
        float[] gamma = affine ? Uniform(5, 34, 0.5f, 2f) : [], beta = affine ? Uniform(5, 35) : [];
        float[] rm = Uniform(5, 36), rv = Uniform(5, 37, 0.3f, 3f);
        int spatial = g.OutHeight * g.OutWidth;

        float[] conv = new float[batch * g.OutputLength], unfolded = new float[conv.Length];
        ConvKernels.Forward(new IdentityActivation(), g, x, w, b, conv, [], batch);
        BatchNormKernels.InferenceForward(conv, unfolded, gamma, beta, rm, rv, batch, 5, spatial, Eps);

        float[] wf = new float[w.Length], bf = new float[5], folded = new float[conv.Length];
        BatchNormKernels.Fold(w, b, gamma, beta, rm, rv, Eps, wf, bf, 5);
        ConvKernels.Forward(new IdentityActivation(), g, x, wf, bf, folded, [], batch);
        for (int i = 0; i < folded.Length; i++)
            Assert.True(Math.Abs(folded[i] - unfolded[i]) <= 1e-5, $"[{i}] folded {folded[i]} vs conv+bn {unfolded[i]}");
    }

    [Fact]
    public void Fold_DenseInPlace_InferenceOutputUnchanged()
    {
        const int batch = 3, inF = 7, outF = 4;
        float[] x = Uniform(batch * inF, 41), w = Uniform(outF * inF, 42), b = Uniform(outF, 43);
        float[] gamma = Uniform(outF, 44, 0.5f, 2f), beta = Uniform(outF, 45), rm = Uniform(outF, 46), rv = Uniform(outF, 47, 0.3f, 3f);
        float[] dense = new float[batch * outF], unfolded = new float[dense.Length], folded = new float[dense.Length];
        DenseKernels.Forward(new IdentityActivation(), x, w, b, dense, [], batch, inF, outF);
        BatchNormKernels.InferenceForward(dense, unfolded, gamma, beta, rm, rv, batch, outF, 1, Eps);
        BatchNormKernels.Fold(w, b, gamma, beta, rm, rv, Eps, w, b, outF);   // in place, as a model folds its own buffers
        DenseKernels.Forward(new IdentityActivation(), x, w, b, folded, [], batch, inF, outF);
        for (int i = 0; i < folded.Length; i++)
            Assert.True(Math.Abs(folded[i] - unfolded[i]) <= 1e-5, $"[{i}] folded {folded[i]} vs dense+bn {unfolded[i]}");
    }

    [Fact]
    public void Fold_WeightNotMultipleOfOutChannels_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => BatchNormKernels.Fold(new float[10], [], [], [], new float[3], new float[3], Eps,
            new float[10], new float[3], 3));
        Assert.Equal("weight", ex.ParamName);
    }

    [Fact]
    public void TrainForwardBackward_SteadyState_AllocatesNothing()
    {
        const int batch = 8, channels = 16, spatial = 100, n = batch * channels * spatial;
        float[] x = Uniform(n, 1), y = new float[n], dy = Uniform(n, 2), dX = new float[n];
        float[] gamma = Uniform(channels, 3), beta = Uniform(channels, 4), rm = new float[channels], rv = new float[channels];
        float[] mean = new float[channels], invStd = new float[channels], dG = new float[channels], dB = new float[channels];
        void Step()
        {
            BatchNormKernels.TrainForward(x, y, gamma, beta, rm, rv, mean, invStd, batch, channels, spatial, Eps, Momentum);
            BatchNormKernels.Backward(dy, x, gamma, mean, invStd, dG, dB, dX, batch, channels, spatial);
            BatchNormKernels.InferenceForward(x, y, gamma, beta, rm, rv, batch, channels, spatial, Eps);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, "BatchNorm TrainForward + Backward + InferenceForward", warmUpCalls: 1);
    }

    private static double[] ToDouble(float[] v) => Array.ConvertAll(v, f => (double)f);
}
