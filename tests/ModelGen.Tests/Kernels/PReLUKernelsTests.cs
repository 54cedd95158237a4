// PReLU kernels: forward against the double reference (exactly: one multiply per element), backward against the
// double reference and float64 central differences, for one shared slope and per-channel slopes on [F] examples
// (slope vector beside x) and on [C, spatial] examples (broadcast slope per run), at sizes that hit every vector tail;
// x = 0 on the slope side as torch's backward; in place, dInput omitted, accumulation into dWeight; validation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class PReLUKernelsTests
{
    public static TheoryData<int, int, int, bool> Cases()
    {
        var data = new TheoryData<int, int, int, bool>();
        foreach (var (channels, spatial) in new[] { (1, 1), (3, 1), (17, 1), (33, 1), (3, 7), (5, 17), (2, 33) })
            foreach (bool shared in new[] { true, false })
                data.Add(3, channels, spatial, shared);
        return data;
    }

    private static float[] Slopes(int count, ulong seed) => Uniform(count, seed, -0.5f, 1.5f);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_MatchesDoubleReference(int examples, int channels, int spatial, bool shared)
    {
        ulong seed = (ulong)(channels * 100 + spatial + (shared ? 7 : 0));
        float[] x = Uniform(examples * channels * spatial, seed, -2f, 2f), w = Slopes(shared ? 1 : channels, seed + 1), y = new float[x.Length];
        x[0] = 0f;   // the boundary
        (int c, int s) = shared ? (1, 1) : (channels, spatial);
        PReLUKernels.Forward(x, w, y, c, s);
        var expected = new double[x.Length];
        PReLUKernels.ReferenceForward(ToDouble(x), ToDouble(w), expected, c, s);
        for (int i = 0; i < x.Length; i++)
            Assert.True(y[i] == (float)expected[i], $"channels={channels} spatial={spatial} shared={shared}: y[{i}] = {y[i]} vs {expected[i]} (x = {x[i]})");

        float[] inPlace = (float[])x.Clone();
        PReLUKernels.Forward(inPlace, w, inPlace, c, s);
        Assert.Equal(y, inPlace);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesReferenceAndFiniteDifferences(int examples, int channels, int spatial, bool shared)
    {
        ulong seed = (ulong)(channels * 100 + spatial + (shared ? 7 : 0) + 9000);
        float[] x = Uniform(examples * channels * spatial, seed, -2f, 2f), w = Slopes(shared ? 1 : channels, seed + 1), dy = Uniform(x.Length, seed + 2);
        x[x.Length - 1] = 0f;   // torch: the slope side at exactly 0
        (int c, int s) = shared ? (1, 1) : (channels, spatial);
        float[] dW0 = Uniform(w.Length, seed + 3), dW = (float[])dW0.Clone(), dX = new float[x.Length];
        Array.Fill(dX, float.NaN);
        PReLUKernels.Backward(dy, x, w, dX, dW, c, s);

        double[] rdX = new double[x.Length], rdW = ToDouble(dW0);
        PReLUKernels.ReferenceBackward(ToDouble(dy), ToDouble(x), ToDouble(w), rdX, rdW, c, s);
        string where = $"channels={channels} spatial={spatial} shared={shared}";
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(dX[i] - rdX[i]) <= 1e-6 * Math.Max(1, Math.Abs(rdX[i])), $"{where}: dX[{i}] = {dX[i]} vs {rdX[i]}");
        for (int k = 0; k < w.Length; k++)
            Assert.True(Math.Abs(dW[k] - rdW[k]) <= 1e-5 * Math.Max(1, Math.Abs(rdW[k])), $"{where}: dWeight[{k}] = {dW[k]} vs {rdW[k]}");
        Assert.Equal(w[shared ? 0 : channels - 1] * dy[x.Length - 1], dX[x.Length - 1]);   // x = 0 takes the slope, as torch

        // Central differences of Σ dy·y in double, away from the kink (x = 0 is not differentiable).
        double Loss(double[] xp, double[] wp)
        {
            var o = new double[xp.Length];
            PReLUKernels.ReferenceForward(xp, wp, o, c, s);
            double sum = 0;
            for (int i = 0; i < o.Length; i++) sum += dy[i] * o[i];
            return sum;
        }
        double[] xd = ToDouble(x), wd = ToDouble(w);
        for (int i = 0; i < x.Length - 1; i++)
        {
            double fd = CentralDifference(xd, i, v => Loss(v, wd));
            Assert.True(Math.Abs(fd - dX[i]) <= 1e-5 * Math.Max(1, Math.Abs(fd)), $"{where}: dX[{i}] = {dX[i]}, finite difference {fd}");
        }
        for (int k = 0; k < w.Length; k++)
        {
            double fd = CentralDifference(wd, k, v => Loss(xd, v));
            Assert.True(Math.Abs(fd - (dW[k] - dW0[k])) <= 1e-4 * Math.Max(1, Math.Abs(fd)), $"{where}: dWeight[{k}] gained {dW[k] - dW0[k]}, finite difference {fd}");
        }

        // dInput omitted: the slope gradient alone; dInput over dOutput (in place) gives the same dInput.
        float[] dWOnly = (float[])dW0.Clone();
        PReLUKernels.Backward(dy, x, w, [], dWOnly, c, s);
        Assert.Equal(dW, dWOnly);
        float[] alias = (float[])dy.Clone();
        PReLUKernels.Backward(alias, x, w, alias, [], c, s);
        Assert.Equal(dX, alias);
    }

    [Fact]
    public void Validation_NamesWhatIsWrong()
    {
        float[] x = new float[12], w = new float[4];
        var e = Assert.Throws<ArgumentException>(() => PReLUKernels.Forward(x, w, new float[12], 3, 2));
        Assert.Contains("'weight' must have 1 or channels (3) elements but has 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => PReLUKernels.Forward(new float[10], new float[3], new float[10], 3, 2));
        Assert.Contains("'input' must have a multiple of channels·spatial (3·2 = 6) elements but has 10", e.Message);
        e = Assert.Throws<ArgumentException>(() => PReLUKernels.Forward(x, new float[1], new float[11], 1, 1));
        Assert.Contains("'output' must have 12 elements", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => PReLUKernels.Forward(x, new float[1], new float[12], 0, 1));
        e = Assert.Throws<ArgumentException>(() => PReLUKernels.Backward(new float[12], x, new float[3], x, new float[3], 3, 4));
        Assert.Contains("'dInput' must not overlap 'input'", e.Message);
    }

    private static double[] ToDouble(float[] v) => Array.ConvertAll(v, f => (double)f);
}
