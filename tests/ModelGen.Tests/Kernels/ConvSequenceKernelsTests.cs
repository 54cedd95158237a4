// ConvKernels.ForwardSequence/BackwardSequence (Conv1D over a run-time length with per-example lengths): forward against
// the double reference (each example alone at its length) on odd lengths and channel counts that hit every vector tail,
// with dilation and groups; padding contents never reaching a real output; backward (weights, bias, input) against
// central finite differences of a double loss; padded positions getting no gradient; errors; no allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class ConvSequenceKernelsTests
{
    public static TheoryData<int, int, int, int, int, int, int> Cases => new()
    {
        // seq, inChannels, outChannels, kernel, dilation, groups, seed
        { 1, 1, 1, 1, 1, 1, 1 },
        { 3, 2, 3, 3, 1, 1, 2 },
        { 7, 3, 5, 5, 1, 1, 3 },
        { 17, 4, 6, 3, 2, 2, 4 },
        { 33, 5, 7, 7, 1, 1, 5 },
        { 40, 6, 9, 3, 3, 3, 6 },
    };

    private static ConvGeometry Geometry(int seq, int c, int o, int k, int dilation, int groups) =>
        ConvGeometry.Conv1D(c, seq, o, k, padding: dilation * (k - 1) / 2, dilation: dilation, groups: groups);

    private static int[] Lengths(int batch, int seq) => Enumerable.Range(0, batch).Select(b => Math.Max(1, seq - 3 * b)).ToArray();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_MatchesTheReferenceAtEachLength_AndIgnoresPadding(int seq, int c, int o, int k, int dilation, int groups, int seed)
    {
        const int batch = 3;
        var g = Geometry(seq, c, o, k, dilation, groups);
        int[] lengths = Lengths(batch, seq);
        float[] x = Uniform(batch * c * seq, (ulong)seed), w = Uniform(g.WeightLength, (ulong)seed + 1), bias = Uniform(o, (ulong)seed + 2);
        float[] y = new float[batch * o * seq], pre = new float[y.Length];
        ConvKernels.ForwardSequence(default(TanhActivation), g, x, w, bias, y, pre, lengths, batch, seq);
        double[] expected = new double[y.Length];
        ConvKernels.ReferenceForwardSequence(g, Doubles(x), Doubles(w), Doubles(bias), expected, lengths, batch, seq);
        for (int i = 0; i < y.Length; i++)
        {
            Assert.True(Math.Abs(pre[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"pre[{i}] = {pre[i]}, reference {expected[i]}");
            Assert.True(Math.Abs(y[i] - Math.Tanh(expected[i])) <= 1e-5, $"output[{i}] = {y[i]}, reference {Math.Tanh(expected[i])}");
        }

        // Inference (no pre-activation kept) gives the same output; garbage at padded inputs changes nothing.
        for (int b = 0; b < batch; b++)
            for (int ch = 0; ch < c; ch++)
                x.AsSpan((b * c + ch) * seq + lengths[b], seq - lengths[b]).Fill(1e6f);
        float[] again = new float[y.Length];
        ConvKernels.ForwardSequence(default(TanhActivation), g, x, w, bias, again, default, lengths, batch, seq);
        Assert.Equal(y, again);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesFiniteDifferences_AndPaddingGetsNoGradient(int seq, int c, int o, int k, int dilation, int groups, int seed)
    {
        const int batch = 2;
        var g = Geometry(seq, c, o, k, dilation, groups);
        int[] lengths = Lengths(batch, seq);
        float[] x = Uniform(batch * c * seq, (ulong)seed), w = Uniform(g.WeightLength, (ulong)seed + 1), bias = Uniform(o, (ulong)seed + 2);
        float[] dY = Uniform(batch * o * seq, (ulong)seed + 3);   // nonzero at padded outputs too: the kernel must ignore it
        float[] y = new float[dY.Length], pre = new float[dY.Length], dPre = new float[dY.Length];
        float[] dW = new float[w.Length], dB = new float[o], dX = new float[x.Length];
        ConvKernels.ForwardSequence(default(TanhActivation), g, x, w, bias, y, pre, lengths, batch, seq);
        ConvKernels.BackwardSequence(default(TanhActivation), g, dY, pre, y, x, w, dPre, dW, dB, dX, lengths, batch, seq);

        // loss = Σ over real outputs dY·tanh(conv(x)), in double.
        double[] xd = Doubles(x), wd = Doubles(w), bd = Doubles(bias);
        double Loss(double[] input, double[] weight, double[] b)
        {
            double[] outD = new double[dY.Length];
            ConvKernels.ReferenceForwardSequence(g, input, weight, b, outD, lengths, batch, seq);
            double sum = 0;
            for (int bb = 0; bb < batch; bb++)
                for (int oo = 0; oo < o; oo++)
                    for (int t = 0; t < lengths[bb]; t++)
                    {
                        int i = (bb * o + oo) * seq + t;
                        sum += dY[i] * Math.Tanh(outD[i]);
                    }
            return sum;
        }
        void Check(string name, double[] values, float[] analytic, Func<double[], double> loss)
        {
            foreach (int i in Sample(values.Length, 60, (ulong)seed))
            {
                double numeric = CentralDifference(values, i, loss);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-4 + 1e-3 * Math.Abs(numeric), $"{name}[{i}]: finite difference {numeric}, backward {analytic[i]}");
            }
        }
        Check("weight", wd, dW, v => Loss(xd, v, bd));
        Check("bias", bd, dB, v => Loss(xd, wd, v));
        Check("input", xd, dX, v => Loss(v, wd, bd));
        for (int b = 0; b < batch; b++)
            for (int ch = 0; ch < c; ch++)
                Assert.All(dX.AsSpan((b * c + ch) * seq + lengths[b], seq - lengths[b]).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Forward_GeometryThatChangesTheLength_Throws()
    {
        float[] x = new float[2 * 5], w = new float[3 * 2 * 3], y = new float[3 * 5];
        var unpadded = Assert.Throws<ArgumentException>(() => ConvKernels.ForwardSequence(default(IdentityActivation), ConvGeometry.Conv1D(2, 5, 3, 3), x, w, default, y, default, default, 1, 5));
        Assert.Contains("must keep its length", unpadded.Message);
        var width = Assert.Throws<ArgumentException>(() => ConvKernels.ForwardSequence(default(IdentityActivation), ConvGeometry.Conv1D(2, 4, 3, 3, padding: 1), x, w, default, y, default, default, 1, 5));
        Assert.Contains("InWidth (4) must equal seq (5)", width.Message);
        var length = Assert.Throws<ArgumentOutOfRangeException>(() => ConvKernels.ForwardSequence(default(IdentityActivation), ConvGeometry.Conv1D(2, 5, 3, 3, padding: 1), x, w, default, y, default, [6], 1, 5));
        Assert.Contains("Example 0 has length 6", length.Message);
    }

    [Fact]
    public void ForwardAndBackward_AllocateNothingInSteadyState()
    {
        const int batch = 2, seq = 9;
        var g = ConvGeometry.Conv1D(3, seq, 4, 3, padding: 1);
        float[] x = Uniform(batch * 3 * seq, 1), w = Uniform(g.WeightLength, 2), bias = new float[4];
        float[] y = new float[batch * 4 * seq], pre = new float[y.Length], dPre = new float[y.Length], dW = new float[w.Length], dB = new float[4], dX = new float[x.Length];
        int[] lengths = [9, 4];
        void Step()
        {
            ConvKernels.ForwardSequence(default(ReluActivation), g, x, w, bias, y, pre, lengths, batch, seq);
            ConvKernels.BackwardSequence(default(ReluActivation), g, y, pre, y, x, w, dPre, dW, dB, dX, lengths, batch, seq);
        }
        for (int i = 0; i < 3; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static double[] Doubles(float[] values) => values.Select(v => (double)v).ToArray();
}
