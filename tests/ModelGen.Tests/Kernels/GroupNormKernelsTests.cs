// GroupNorm / InstanceNorm kernels: forward (output, mean, rstd) against the double reference at channel runs that
// hit every vector tail, groups from 1 (one group: LayerNorm over the example) to C (instance normalisation), affine
// or not; a large mean with a small spread; backward against the double analytic gradient and float64 central
// differences (accumulating dWeight/dBias, overwritten dInput, in place, dInput omitted); InstanceNorm's running
// statistics as PyTorch updates them; validation messages.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class GroupNormKernelsTests
{
    private const float Eps = 1e-5f;

    public static TheoryData<int, int, int, int, bool> Cases()
    {
        var data = new TheoryData<int, int, int, int, bool>();
        foreach (var (channels, spatial, groups) in new[] { (4, 1, 2), (6, 7, 3), (6, 7, 6), (3, 17, 1), (4, 33, 2), (2, 5, 1), (3, 1, 1), (8, 3, 4), (2, 65, 2) })
            foreach (bool affine in new[] { true, false })
                data.Add(3, channels, spatial, groups, affine);
        return data;
    }

    private static (float[] W, float[] B) Parameters(int channels, bool affine, ulong seed) =>
        affine ? (Uniform(channels, seed + 11, 0.5f, 1.5f), Uniform(channels, seed + 12)) : ([], []);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_MatchesDoubleReference(int batch, int channels, int spatial, int groups, bool affine)
    {
        ulong seed = (ulong)(channels * 1000 + spatial * 10 + groups + (affine ? 5 : 0));
        float[] x = Uniform(batch * channels * spatial, seed, -2f, 3f), y = new float[x.Length], mean = new float[batch * groups], rstd = new float[batch * groups];
        var (w, b) = Parameters(channels, affine, seed);
        GroupNormKernels.Forward(x, w, b, y, mean, rstd, batch, channels, spatial, groups, Eps);

        double[] expected = new double[x.Length], em = new double[mean.Length], er = new double[rstd.Length];
        GroupNormKernels.ReferenceForward(ToDouble(x), ToDouble(w), ToDouble(b), expected, em, er, batch, channels, spatial, groups, Eps);
        string where = $"channels={channels} spatial={spatial} groups={groups} affine={affine}";
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected[i])), $"{where}: y[{i}] = {y[i]} vs {expected[i]}");
        for (int k = 0; k < mean.Length; k++)
        {
            Assert.True(Math.Abs(mean[k] - em[k]) <= 1e-6 * Math.Max(1, Math.Abs(em[k])), $"{where}: mean[{k}] = {mean[k]} vs {em[k]}");
            Assert.True(Math.Abs(rstd[k] - er[k]) <= 1e-6 * er[k], $"{where}: rstd[{k}] = {rstd[k]} vs {er[k]}");
        }

        // Inference (no statistics kept) and in place give the same output.
        float[] inPlace = (float[])x.Clone();
        GroupNormKernels.Forward(inPlace, w, b, inPlace, [], [], batch, channels, spatial, groups, Eps);
        Assert.Equal(y, inPlace);
    }

    [Fact]
    public void Forward_LargeMeanSmallSpread_KeepsItsDigits()
    {
        const int batch = 2, channels = 4, spatial = 37, groups = 2;
        float[] x = Uniform(batch * channels * spatial, 77, -1e-2f, 1e-2f);
        for (int i = 0; i < x.Length; i++) x[i] += 1000f;
        float[] y = new float[x.Length];
        GroupNormKernels.Forward(x, [], [], y, [], [], batch, channels, spatial, groups, Eps);
        double[] expected = new double[x.Length];
        GroupNormKernels.ReferenceForward(ToDouble(x), [], [], expected, [], [], batch, channels, spatial, groups, Eps);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 2e-3, $"y[{i}] = {y[i]} vs {expected[i]}");   // x itself is only good to ulp(1000) = 6e-5 of a 6e-3 spread
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesAnalyticReferenceAndFiniteDifferences(int batch, int channels, int spatial, int groups, bool affine)
    {
        ulong seed = (ulong)(channels * 1000 + spatial * 10 + groups + (affine ? 5 : 0) + 70000);
        float[] x = Uniform(batch * channels * spatial, seed, -2f, 3f), y = new float[x.Length], mean = new float[batch * groups], rstd = new float[batch * groups];
        float[] dy = Uniform(x.Length, seed + 1);
        var (w, b) = Parameters(channels, affine, seed);
        GroupNormKernels.Forward(x, w, b, y, mean, rstd, batch, channels, spatial, groups, Eps);

        float[] dW0 = affine ? Uniform(channels, seed + 2) : [], dB0 = affine ? Uniform(channels, seed + 3) : [];
        float[] dW = (float[])dW0.Clone(), dB = (float[])dB0.Clone(), dX = new float[x.Length];
        Array.Fill(dX, float.NaN);
        GroupNormKernels.Backward(dy, x, w, mean, rstd, dX, dW, dB, batch, channels, spatial, groups);

        double[] xd = ToDouble(x), wd = ToDouble(w), bd = ToDouble(b);
        double[] rdX = new double[x.Length], rdW = ToDouble(dW0), rdB = ToDouble(dB0);
        GroupNormKernels.ReferenceBackward(ToDouble(dy), xd, wd, rdX, rdW, rdB, batch, channels, spatial, groups, Eps);
        string where = $"channels={channels} spatial={spatial} groups={groups} affine={affine}";
        AssertClose(rdX, dX, 1e-5, where + " dX");
        AssertClose(rdW, dW, 1e-5, where + " dWeight");
        AssertClose(rdB, dB, 1e-5, where + " dBias");

        double Loss(double[] xp, double[] wp, double[] bp)
        {
            var o = new double[xp.Length];
            GroupNormKernels.ReferenceForward(xp, wp, bp, o, [], [], batch, channels, spatial, groups, Eps);
            double sum = 0;
            for (int i = 0; i < o.Length; i++) sum += dy[i] * o[i];
            return sum;
        }
        // Single-value groups have zero variance: the output is the bias alone and the input gradient is not smooth at eps scale.
        if (channels / groups * spatial > 1)
            foreach (int i in Sample(x.Length, 40, seed + 4))
            {
                double fd = CentralDifference(xd, i, v => Loss(v, wd, bd));
                Assert.True(Math.Abs(fd - dX[i]) <= 1e-4 * Math.Max(1, Math.Abs(fd)), $"{where}: dX[{i}] = {dX[i]}, finite difference {fd}");
            }
        for (int c = 0; c < w.Length; c++)
        {
            double fdW = CentralDifference(wd, c, v => Loss(xd, v, bd)), fdB = CentralDifference(bd, c, v => Loss(xd, wd, v));
            Assert.True(Math.Abs(fdW - (dW[c] - dW0[c])) <= 1e-4 * Math.Max(1, Math.Abs(fdW)), $"{where}: dWeight[{c}] gained {dW[c] - dW0[c]}, finite difference {fdW}");
            Assert.True(Math.Abs(fdB - (dB[c] - dB0[c])) <= 1e-4 * Math.Max(1, Math.Abs(fdB)), $"{where}: dBias[{c}] gained {dB[c] - dB0[c]}, finite difference {fdB}");
        }

        // dInput omitted: parameter gradients alone; dInput over dOutput gives the same dInput.
        float[] dWOnly = (float[])dW0.Clone(), dBOnly = (float[])dB0.Clone();
        GroupNormKernels.Backward(dy, x, w, mean, rstd, [], dWOnly, dBOnly, batch, channels, spatial, groups);
        Assert.Equal(dW, dWOnly);
        Assert.Equal(dB, dBOnly);
        float[] alias = (float[])dy.Clone();
        GroupNormKernels.Backward(alias, x, w, mean, rstd, alias, [], [], batch, channels, spatial, groups);
        Assert.Equal(dX, alias);
    }

    [Theory]
    [InlineData(1, 3, 2)]
    [InlineData(3, 5, 17)]
    [InlineData(4, 2, 33)]
    public void InstanceTrainForward_UpdatesRunningStatisticsAsPyTorch(int batch, int channels, int spatial)
    {
        float[] x = Uniform(batch * channels * spatial, (ulong)(batch * 100 + spatial), -2f, 3f), y = new float[x.Length];
        float[] runningMean = Uniform(channels, 5), runningVar = Uniform(channels, 6, 0.5f, 2f);
        float[] rm0 = (float[])runningMean.Clone(), rv0 = (float[])runningVar.Clone();
        float[] mean = new float[batch * channels], rstd = new float[batch * channels];
        GroupNormKernels.InstanceTrainForward(x, [], [], y, mean, rstd, runningMean, runningVar, batch, channels, spatial, Eps, 0.1f);

        // The output is GroupNorm with one group per channel.
        float[] expected = new float[x.Length];
        GroupNormKernels.Forward(x, [], [], expected, [], [], batch, channels, spatial, channels, Eps);
        Assert.Equal(expected, y);
        for (int c = 0; c < channels; c++)
        {
            double meanOfMeans = 0, meanOfVars = 0;
            for (int n = 0; n < batch; n++)
            {
                double mu = 0, v = 0;
                for (int s = 0; s < spatial; s++) mu += x[(n * channels + c) * spatial + s];
                mu /= spatial;
                for (int s = 0; s < spatial; s++) v += Math.Pow(x[(n * channels + c) * spatial + s] - mu, 2);
                meanOfMeans += mu / batch;
                meanOfVars += v / (spatial - 1) / batch;   // unbiased per instance
            }
            Assert.Equal(0.9 * rm0[c] + 0.1 * meanOfMeans, runningMean[c], 5);
            Assert.Equal(0.9 * rv0[c] + 0.1 * meanOfVars, runningVar[c], 5);
        }
    }

    [Fact]
    public void Validation_NamesWhatIsWrong()
    {
        float[] x = new float[2 * 6 * 3];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => GroupNormKernels.Forward(x, [], [], new float[x.Length], [], [], 2, 6, 3, 4, Eps));
        Assert.Contains("'groups' must be positive and divide channels (6) but is 4", e.Message);
        var a = Assert.Throws<ArgumentException>(() => GroupNormKernels.Forward(x, new float[5], [], new float[x.Length], [], [], 2, 6, 3, 3, Eps));
        Assert.Contains("'weight' must have 6 elements ([channels=6] or empty) but has 5", a.Message);
        a = Assert.Throws<ArgumentException>(() => GroupNormKernels.Forward(x, [], [], new float[x.Length], new float[5], [], 2, 6, 3, 3, Eps));
        Assert.Contains("'mean' must have 6 elements ([batch=2, groups=3] or empty) but has 5", a.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => GroupNormKernels.InstanceTrainForward(new float[6], [], [], new float[6], [], [], new float[6], new float[6], 1, 6, 1, Eps, 0.1f));
        Assert.Contains("'spatial' must be at least 2", e.Message);
        a = Assert.Throws<ArgumentException>(() => GroupNormKernels.Backward(x, x, [], new float[6], new float[6], x, [], [], 2, 6, 3, 3));
        Assert.Contains("'dInput' must not overlap 'input'", a.Message);
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])), $"{where}[{i}] = {actual[i]} vs {expected[i]}");
    }

    private static double[] ToDouble(float[] v) => Array.ConvertAll(v, f => (double)f);
}
