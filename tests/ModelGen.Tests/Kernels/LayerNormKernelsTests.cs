// LayerNorm kernels: forward (output, mean, rstd) against the double reference to ~1e-6 relative at feature counts
// that hit every vector tail, affine / weight-only / not affine, a large mean with a small spread, backward against
// the double analytic gradient and float64 central differences (accumulating dWeight/dBias, overwritten dInput,
// in place, dInput omitted), padded rows with a zero output gradient leaving the parameter gradients alone,
// validation messages and zero steady-state allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class LayerNormKernelsTests
{
    private const float Eps = 1e-5f;

    public enum Affine { None, WeightOnly, WeightAndBias }

    public static TheoryData<int, int, Affine> Cases()
    {
        var data = new TheoryData<int, int, Affine>();
        foreach (int features in new[] { 1, 3, 7, 16, 17, 33, 100, 257 })
            foreach (Affine affine in Enum.GetValues<Affine>())
                data.Add(features == 1 ? 2 : 4, features, affine);
        // Forward takes the statistics of 16 rows before normalising them: two whole blocks and a partial one, in place too.
        data.Add(37, 33, Affine.WeightAndBias);
        data.Add(37, 7, Affine.None);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_MatchesDoubleReference(int rows, int features, Affine affine)
    {
        ulong seed = (ulong)(features * 10 + (int)affine);
        float[] x = Uniform(rows * features, seed, -2f, 3f), y = new float[x.Length], mean = new float[rows], rstd = new float[rows];
        (float[] w, float[] b) = Parameters(features, affine, seed);
        LayerNormKernels.Forward(x, w, b, y, mean, rstd, rows, features, Eps);

        double[] expected = new double[x.Length], em = new double[rows], er = new double[rows];
        LayerNormKernels.ReferenceForward(ToDouble(x), ToDouble(w), ToDouble(b), expected, em, er, rows, features, Eps);
        string where = $"rows={rows} features={features} affine={affine}";
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected[i])), $"{where}: y[{i}] = {y[i]} vs {expected[i]}");
        for (int r = 0; r < rows; r++)
        {
            Assert.True(Math.Abs(mean[r] - em[r]) <= 1e-6 * Math.Max(1, Math.Abs(em[r])), $"{where}: mean[{r}] = {mean[r]} vs {em[r]}");
            Assert.True(Math.Abs(rstd[r] - er[r]) <= 1e-6 * er[r], $"{where}: rstd[{r}] = {rstd[r]} vs {er[r]}");
        }

        // Inference (no statistics kept) and in place give the same output.
        float[] inPlace = (float[])x.Clone();
        LayerNormKernels.Forward(inPlace, w, b, inPlace, [], [], rows, features, Eps);
        Assert.Equal(y, inPlace);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesAnalyticReferenceAndFiniteDifferences(int rows, int features, Affine affine)
    {
        ulong seed = (ulong)(features * 10 + (int)affine + 5000);
        float[] x = Uniform(rows * features, seed, -2f, 3f), y = new float[x.Length], mean = new float[rows], rstd = new float[rows];
        float[] dy = Uniform(x.Length, seed + 1);
        (float[] w, float[] b) = Parameters(features, affine, seed);
        LayerNormKernels.Forward(x, w, b, y, mean, rstd, rows, features, Eps);

        // Accumulating gradient buffers start non-zero; dInput starts as NaN to prove it is overwritten.
        float[] dW0 = w.Length > 0 ? Uniform(features, seed + 2) : [], dB0 = b.Length > 0 ? Uniform(features, seed + 3) : [];
        float[] dW = (float[])dW0.Clone(), dB = (float[])dB0.Clone(), dX = new float[x.Length];
        Array.Fill(dX, float.NaN);
        LayerNormKernels.Backward(dy, x, w, mean, rstd, dX, dW, dB, rows, features);

        double[] xd = ToDouble(x), wd = ToDouble(w), bd = ToDouble(b), dyd = ToDouble(dy);
        double[] rdX = new double[x.Length], rdW = ToDouble(dW0), rdB = ToDouble(dB0);
        LayerNormKernels.ReferenceBackward(dyd, xd, wd, rdX, rdW, rdB, rows, features, Eps);
        string where = $"rows={rows} features={features} affine={affine}";
        AssertClose(rdX, dX, 1e-5, where + " dX");
        AssertClose(rdW, dW, 1e-5, where + " dWeight");
        AssertClose(rdB, dB, 1e-5, where + " dBias");

        double Loss(double[] xp, double[] wp, double[] bp)
        {
            var o = new double[xp.Length];
            LayerNormKernels.ReferenceForward(xp, wp, bp, o, [], [], rows, features, Eps);
            double loss = 0;
            for (int i = 0; i < o.Length; i++) loss += dyd[i] * o[i];
            return loss;
        }
        FiniteDifference.Check(where, "dX", dX, null, xd, p => Loss(p, wd, bd), samples: 60);
        if (w.Length > 0) FiniteDifference.Check(where, "dWeight", dW, dW0, wd, p => Loss(xd, p, bd));
        if (b.Length > 0) FiniteDifference.Check(where, "dBias", dB, dB0, bd, p => Loss(xd, wd, p));

        // In place (dInput = dOutput) gives the same input gradient; with dInput omitted the parameter gradients still accumulate.
        float[] inPlace = (float[])dy.Clone(), dW2 = (float[])dW0.Clone(), dB2 = (float[])dB0.Clone();
        LayerNormKernels.Backward(inPlace, x, w, mean, rstd, inPlace, dW2, dB2, rows, features);
        Assert.Equal(dX, inPlace);
        float[] dW3 = (float[])dW0.Clone(), dB3 = (float[])dB0.Clone();
        LayerNormKernels.Backward(dy, x, w, mean, rstd, [], dW3, dB3, rows, features);
        Assert.Equal(dW, dW3);
        Assert.Equal(dB, dB3);
    }

    [Fact]
    public void Forward_LargeMeanSmallSpread_StaysAccurate()
    {
        // |μ| ≫ σ: a one-pass E[x²] − E[x]² in float loses every digit; centring on the float mean keeps them.
        const int rows = 3, features = 77;
        float[] x = Uniform(rows * features, 9, -0.01f, 0.01f);
        for (int i = 0; i < x.Length; i++) x[i] += 1000f * (i / features + 1);
        float[] w = Uniform(features, 10, 0.5f, 1.5f), b = Uniform(features, 11), y = new float[x.Length], mean = new float[rows], rstd = new float[rows];
        LayerNormKernels.Forward(x, w, b, y, mean, rstd, rows, features, Eps);
        double[] expected = new double[x.Length], er = new double[rows];
        LayerNormKernels.ReferenceForward(ToDouble(x), ToDouble(w), ToDouble(b), expected, [], er, rows, features, Eps);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(y[i] - expected[i]) <= 2e-5, $"y[{i}] = {y[i]} vs {expected[i]}");
        for (int r = 0; r < rows; r++) Assert.True(Math.Abs(rstd[r] - er[r]) <= 1e-5 * er[r], $"rstd[{r}] = {rstd[r]} vs {er[r]}");
    }

    [Fact]
    public void Forward_ConstantRow_GivesBias()
    {
        // σ² = 0: x̂ = 0 exactly and rstd = 1/√eps, as torch (features = 1 is always this case).
        const int features = 19;
        float[] x = Enumerable.Repeat(4.25f, features).ToArray(), w = Uniform(features, 1), b = Uniform(features, 2), y = new float[features];
        float[] rstd = new float[1];
        LayerNormKernels.Forward(x, w, b, y, new float[1], rstd, 1, features, Eps);
        Assert.Equal(b, y);
        Assert.Equal(1 / Math.Sqrt(Eps), rstd[0], 2);
    }

    [Fact]
    public void Backward_PaddedRowsWithZeroGradient_LeaveParameterGradientsAlone()
    {
        // A sequence of 5 positions, the last 2 padding holding large stale values: with their output gradient zeroed
        // (SequenceKernels.ZeroPadded), dWeight/dBias equal those of the 3 real rows alone, and the padded dInput is 0.
        const int seq = 5, valid = 3, features = 21;
        float[] x = Uniform(seq * features, 31), w = Uniform(features, 32), b = Uniform(features, 33), dy = Uniform(seq * features, 34);
        for (int i = valid * features; i < x.Length; i++) x[i] = 1e6f * (i % 7 - 3);
        SequenceKernels.ZeroPadded(dy, [valid], 1, seq, features);
        float[] y = new float[x.Length], mean = new float[seq], rstd = new float[seq];
        LayerNormKernels.Forward(x, w, b, y, mean, rstd, seq, features, Eps);
        float[] dX = new float[x.Length], dW = new float[features], dB = new float[features];
        LayerNormKernels.Backward(dy, x, w, mean, rstd, dX, dW, dB, seq, features);

        int n = valid * features;
        float[] dXReal = new float[n], dWReal = new float[features], dBReal = new float[features];
        LayerNormKernels.Backward(dy.AsSpan(0, n), x.AsSpan(0, n), w, mean.AsSpan(0, valid), rstd.AsSpan(0, valid), dXReal, dWReal, dBReal, valid, features);
        Assert.Equal(dWReal, dW);
        Assert.Equal(dBReal, dB);
        Assert.Equal(dXReal, dX.AsSpan(0, n).ToArray());
        Assert.All(dX.AsSpan(n).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Forward_WrongShapes_ThrowNamingOperand()
    {
        var weight = Assert.Throws<ArgumentException>(() => LayerNormKernels.Forward(new float[6], new float[2], [], new float[6], [], [], 2, 3, Eps));
        Assert.Equal("weight", weight.ParamName);
        Assert.Contains("[features=3] or empty", weight.Message);
        var mean = Assert.Throws<ArgumentException>(() => LayerNormKernels.Forward(new float[6], [], [], new float[6], new float[3], [], 2, 3, Eps));
        Assert.Equal("mean", mean.ParamName);
        var input = Assert.Throws<ArgumentException>(() => LayerNormKernels.Forward(new float[5], [], [], new float[6], [], [], 2, 3, Eps));
        Assert.Contains("must have 6 elements ([rows=2, features=3]) but has 5", input.Message);
        var features = Assert.Throws<ArgumentOutOfRangeException>(() => LayerNormKernels.Forward([], [], [], [], [], [], 2, 0, Eps));
        Assert.Equal("features", features.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerNormKernels.Forward(new float[6], [], [], new float[6], [], [], 2, 3, -1f));
        float[] shared = new float[8];
        var overlap = Assert.Throws<ArgumentException>(() => LayerNormKernels.Forward(shared.AsSpan(0, 6), [], [], shared.AsSpan(2, 6), [], [], 2, 3, Eps));
        Assert.Equal("output", overlap.ParamName);
    }

    [Fact]
    public void Backward_WrongShapes_ThrowNamingOperand()
    {
        var rstd = Assert.Throws<ArgumentException>(() =>
            LayerNormKernels.Backward(new float[6], new float[6], [], new float[2], new float[1], new float[6], [], [], 2, 3));
        Assert.Equal("rstd", rstd.ParamName);
        var dBias = Assert.Throws<ArgumentException>(() =>
            LayerNormKernels.Backward(new float[6], new float[6], [], new float[2], new float[2], new float[6], [], new float[4], 2, 3));
        Assert.Equal("dBias", dBias.ParamName);
        float[] x = new float[6];
        var overlap = Assert.Throws<ArgumentException>(() =>
            LayerNormKernels.Backward(new float[6], x, [], new float[2], new float[2], x, [], [], 2, 3));
        Assert.Equal("dInput", overlap.ParamName);
    }

    [Fact]
    public void ForwardBackward_SteadyState_AllocatesNothing()
    {
        const int rows = 64, features = 129;
        float[] x = Uniform(rows * features, 1), y = new float[x.Length], dy = Uniform(x.Length, 2), dX = new float[x.Length];
        float[] w = Uniform(features, 3), b = Uniform(features, 4), dW = new float[features], dB = new float[features];
        float[] mean = new float[rows], rstd = new float[rows];
        void Step()
        {
            LayerNormKernels.Forward(x, w, b, y, mean, rstd, rows, features, Eps);
            LayerNormKernels.Backward(dy, x, w, mean, rstd, dX, dW, dB, rows, features);
            LayerNormKernels.Forward(x, [], [], y, [], [], rows, features, Eps);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, "LayerNorm Forward + Backward + Forward without affine", warmUpCalls: 1);
    }

    private static (float[] Weight, float[] Bias) Parameters(int features, Affine affine, ulong seed) => affine switch
    {
        Affine.None => ([], []),
        Affine.WeightOnly => (Uniform(features, seed + 50, 0.5f, 1.5f), []),
        _ => (Uniform(features, seed + 50, 0.5f, 1.5f), Uniform(features, seed + 60)),
    };

    private static void AssertClose(double[] expected, float[] actual, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 0;
        foreach (double e in expected) scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= relative * Math.Max(1, scale), $"{what}[{i}] = {actual[i]} vs {expected[i]}");
    }

    private static double[] ToDouble(float[] v) => Array.ConvertAll(v, f => (double)f);
}
