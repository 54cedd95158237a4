// Attention-weight dropout in the fused attention kernels: forward and backward against the float64 reference that
// multiplies the materialised softmax by the same counter-based mask (AttentionDropout.Keeps), the reference backward
// against central differences with dropout on, the mask's statistics (kept fraction, neighbour independence, seeds and rows
// differ), every vector width against the scalar definition, p = 1, zero allocation and argument checks.
using System.Runtime.Intrinsics;
using ModelGen.Kernels;
using ModelGen.Optimizers.Simd;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class AttentionDropoutTests
{
    /// <summary>The mask as a function, in float64: 1/(1 − p) where kept, else 0.</summary>
    internal static Func<int, int, int, int, double> Mask(float p, ulong seed)
    {
        var drop = new AttentionDropout(p, seed);
        return (b, h, i, j) => drop.Keeps(b, h, i, j) ? 1.0 / (1.0 - p) : 0.0;
    }

    [Theory]
    [MemberData(nameof(AttentionKernelsTests.Shapes), MemberType = typeof(AttentionKernelsTests))]
    public void Forward_WithDropout_MatchesFloat64Reference(int heads, int headSize, int seq)
    {
        const int batch = 3;
        const float p = 0.3f;
        foreach (bool causal in new[] { false, true })
            foreach (bool withLengths in new[] { false, true })
            {
                int[]? lengths = withLengths ? [seq, Math.Max(1, seq / 2), 1] : null;
                ulong seed = (ulong)(seq * 17 + heads);
                var c = new Packed(batch, seq, heads, headSize, seed);
                var (expected, expectedLse) = TransformerReference.Attention(c.QD, c.KD, c.VD, c.Ld, lengths, causal, batch, seq, heads, headSize, Mask(p, seed));
                var (o, lse) = c.Forward(lengths, causal, p, seed);
                string where = $"heads={heads} headSize={headSize} seq={seq} causal={causal} lengths={withLengths}";
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(o[i] - expected[i]) <= 3e-6 * (1 + Math.Abs(expected[i])), $"{where} output[{i}] = {o[i]} vs {expected[i]}");
                for (int i = 0; i < expectedLse.Length; i++)
                    Assert.True(Math.Abs(lse[i] - expectedLse[i]) <= 2e-5 * (1 + Math.Abs(expectedLse[i])), $"{where} lse[{i}] (the undropped softmax's)");
            }
    }

    [Theory]
    [MemberData(nameof(AttentionKernelsTests.Shapes), MemberType = typeof(AttentionKernelsTests))]
    public void Backward_WithDropout_MatchesFloat64Reference(int heads, int headSize, int seq)
    {
        const int batch = 2;
        const float p = 0.25f;
        int width = heads * headSize;
        foreach (bool causal in new[] { false, true })
            foreach (bool withLengths in new[] { false, true })
            {
                int[]? lengths = withLengths ? [Math.Max(1, seq - 3), 1] : null;
                ulong seed = (ulong)(seq * 5 + width);
                var c = new Packed(batch, seq, heads, headSize, seed + 100);
                float[] dy = Uniform(batch * seq * width, 5);
                var (dq, dk, dv) = TransformerReference.AttentionBackward(Array.ConvertAll(dy, v => (double)v), c.QD, c.KD, c.VD, c.Ld, lengths, causal,
                    batch, seq, heads, headSize, Mask(p, seed));
                float[] g = c.Backward(dy, lengths, causal, p, seed);
                string where = $"heads={heads} headSize={headSize} seq={seq} causal={causal} lengths={withLengths}";
                for (int r = 0; r < batch * seq; r++)
                    for (int j = 0; j < width; j++)
                    {
                        int i = r * c.Ld + j;
                        AssertNear(dq[i], g[i], $"{where} dq[{r}, {j}]");
                        AssertNear(dk[i], g[i + width], $"{where} dk[{r}, {j}]");
                        AssertNear(dv[i], g[i + 2 * width], $"{where} dv[{r}, {j}]");
                    }
            }
    }

    [Fact]
    public void Gradients_WithDropout_MatchCentralDifferences()
    {
        // The mask is a function of (seed, b, h, i, j) only, so the dropped attention is a smooth function of q, k, v and central
        // differences of the float64 forward are its gradient: checked against the reference backward and against the kernel.
        const int batch = 2, seq = 7, heads = 2, headSize = 3, width = 6;
        const float p = 0.4f;
        const ulong seed = 77;
        foreach (bool causal in new[] { false, true })
        {
            int[] lengths = [7, 4];
            var c = new Packed(batch, seq, heads, headSize, 9);
            var mask = Mask(p, seed);
            double[] dyd = Array.ConvertAll(Uniform(batch * seq * width, 10), v => (double)v);
            var (dq, dk, dv) = TransformerReference.AttentionBackward(dyd, c.QD, c.KD, c.VD, c.Ld, lengths, causal, batch, seq, heads, headSize, mask);
            float[] g = c.Backward(Array.ConvertAll(dyd, v => (float)v), lengths, causal, p, seed);
            double Loss(double[] q, double[] k, double[] v)
            {
                double[] o = TransformerReference.Attention(q, k, v, c.Ld, lengths, causal, batch, seq, heads, headSize, mask).Output;
                double s = 0;
                for (int i = 0; i < o.Length; i++) s += o[i] * dyd[i];
                return s;
            }
            double[] qd = c.QD, kd = c.KD, vd = c.VD;
            int dropped = 0;
            for (int b = 0; b < batch; b++)
                for (int h = 0; h < heads; h++)
                    for (int i = 0; i < seq; i++)
                        for (int j = 0; j <= (causal ? i : seq - 1); j++)
                            if (j < lengths[b] && mask(b, h, i, j) == 0) dropped++;
            Assert.True(dropped > 10, $"only {dropped} visible weights dropped: the check would not exercise the mask");
            for (int r = 0; r < batch * seq; r++)
                for (int j = 0; j < width; j++)
                {
                    int i = r * c.Ld + j;
                    double fq = CentralDifference(qd, i, x => Loss(x, kd, vd)), fk = CentralDifference(kd, i, x => Loss(qd, x, vd)),
                        fv = CentralDifference(vd, i, x => Loss(qd, kd, x));
                    AssertGradient(fq, dq[i], $"reference dq[{r}, {j}] causal={causal}");
                    AssertGradient(fk, dk[i], $"reference dk[{r}, {j}] causal={causal}");
                    AssertGradient(fv, dv[i], $"reference dv[{r}, {j}] causal={causal}");
                    AssertNear(fq, g[i], $"kernel dq[{r}, {j}] causal={causal}");
                    AssertNear(fk, g[i + width], $"kernel dk[{r}, {j}] causal={causal}");
                    AssertNear(fv, g[i + 2 * width], $"kernel dv[{r}, {j}] causal={causal}");
                }
        }
    }

    [Theory]
    [InlineData(0.1f)]
    [InlineData(0.5f)]
    [InlineData(0.9f)]
    public void Mask_KeepsOneMinusP_Independently(float p)
    {
        // 2^21 weights over examples, heads, queries and keys: the kept fraction within 5 standard deviations of 1 − p, and
        // neighbouring keys (j, j + 1) and neighbouring queries (i, i + 1) both kept at (1 − p)² (no correlation along either axis).
        var drop = new AttentionDropout(p, 12345);
        long n = 0, kept = 0, pairsJ = 0, pairsI = 0;
        for (int b = 0; b < 4; b++)
            for (int h = 0; h < 8; h++)
                for (int i = 0; i < 256; i++)
                    for (int j = 0; j < 256; j++)
                    {
                        bool k = drop.Keeps(b, h, i, j);
                        n++;
                        if (!k) continue;
                        kept++;
                        if (drop.Keeps(b, h, i, j + 1)) pairsJ++;
                        if (drop.Keeps(b, h, i + 1, j)) pairsI++;
                    }
        double q = 1 - p;
        AssertFraction(q, kept, n, "kept");
        AssertFraction(q * q, pairsJ, n, "neighbouring keys both kept");
        AssertFraction(q * q, pairsI, n, "neighbouring queries both kept");

        static void AssertFraction(double expected, long count, long n, string what)
        {
            double f = (double)count / n, sigma = Math.Sqrt(expected * (1 - expected) / n);
            Assert.True(Math.Abs(f - expected) <= 5 * sigma, $"{what}: {f:F5} vs {expected:F5} (5σ = {5 * sigma:F5})");
        }
    }

    [Fact]
    public void Mask_DependsOnSeedExampleHeadAndQuery()
    {
        const float p = 0.5f;
        var a = new AttentionDropout(p, 1);
        string Row(AttentionDropout d, int b, int h, int i) => string.Concat(Enumerable.Range(0, 64).Select(j => d.Keeps(b, h, i, j) ? '1' : '0'));
        string baseRow = Row(a, 0, 0, 0);
        Assert.NotEqual(baseRow, Row(new AttentionDropout(p, 2), 0, 0, 0));
        Assert.NotEqual(baseRow, Row(a, 1, 0, 0));
        Assert.NotEqual(baseRow, Row(a, 0, 1, 0));
        Assert.NotEqual(baseRow, Row(a, 0, 0, 1));
        Assert.NotEqual(baseRow, Row(a.For(0), 0, 0, 0));
        Assert.NotEqual(Row(a.For(0), 0, 0, 0), Row(a.For(1), 0, 0, 0));
        Assert.Equal(baseRow, Row(new AttentionDropout(p, 1), 0, 0, 0));   // a function of its key only
    }

    [Fact]
    public void InvertedDropout_IsUnbiased_OverSeeds()
    {
        // The output is linear in the mask and E[M] = 1, so averaged over many seeds it approaches the undropped output.
        const int batch = 1, seq = 9, heads = 2, headSize = 3, draws = 4000;
        const float p = 0.3f;
        var c = new Packed(batch, seq, heads, headSize, 21);
        var (plain, _) = c.Forward(null, true, 0f, 0);
        var mean = new double[plain.Length];
        for (int s = 0; s < draws; s++)
        {
            var (o, _) = c.Forward(null, true, p, (ulong)s + 1000);
            for (int i = 0; i < o.Length; i++) mean[i] += o[i] / (double)draws;
        }
        // Per output the standard error is at most max|v|·√(p/((1 − p)·draws)) (Var M = p/(1 − p), Σ_j P_j² ≤ 1): allow 5 of them.
        double maxV = c.VD.Max(Math.Abs), tolerance = 5 * maxV * Math.Sqrt(p / ((1 - p) * (double)draws));
        for (int i = 0; i < mean.Length; i++)
            Assert.True(Math.Abs(mean[i] - plain[i]) <= tolerance, $"output[{i}]: mean over {draws} seeds {mean[i]:F4} vs undropped {plain[i]:F4} (5σ = {tolerance:F4})");
    }

    [Fact]
    public unsafe void Multipliers_AtEveryWidth_EqualTheScalarDefinition()
    {
        var drop = new AttentionDropout(0.37f, 99);
        uint key = drop.RowKey(3, 1, 40);
        float[] expected = new float[256];
        for (int j = 0; j < expected.Length; j++) expected[j] = drop.Multiplier(key, 64 + j);
        void Check<TV, TOps>(string name) where TV : struct where TOps : ISimdOps<TV>
        {
            float[] s = new float[256];
            Array.Fill(s, 1f);
            fixed (float* sp = s) drop.Apply<TV, TOps>(sp, s.Length, key, 64);
            Assert.True(expected.AsSpan().SequenceEqual(s), $"{name} lanes differ from the scalar mask");
        }
        Check<float, Scalar>("scalar");
        if (Vector128.IsHardwareAccelerated) Check<Vector128<float>, V128>("Vector128");
        if (Vector256.IsHardwareAccelerated) Check<Vector256<float>, V256>("Vector256");
        if (Vector512.IsHardwareAccelerated) Check<Vector512<float>, V512>("Vector512");
        Assert.Contains(expected, v => v == 0f);
        Assert.Contains(expected, v => v == 1f / (1f - 0.37f));
    }

    [Fact]
    public void ProbabilityZero_IsTheUndroppedKernel_AndOneDropsEverything()
    {
        const int batch = 2, seq = 37, heads = 3, headSize = 5;
        var c = new Packed(batch, seq, heads, headSize, 4);
        int[] lengths = [37, 20];
        var (plain, plainLse) = c.Forward(lengths, true, 0f, 0);
        var (zero, zeroLse) = c.Forward(lengths, true, 0f, 123);
        Assert.Equal(plain, zero);   // bit for bit: p = 0 never hashes
        Assert.Equal(plainLse, zeroLse);
        var (dropped, droppedLse) = c.Forward(lengths, true, 0.2f, 123);
        Assert.NotEqual(plain, dropped);
        Assert.Equal(plainLse, droppedLse);   // the softmax normaliser is the undropped one
        var (all, _) = c.Forward(lengths, true, 1f, 123);
        Assert.All(all, v => Assert.Equal(0f, v));   // PyTorch: dropout(p=1) zeroes every weight
        float[] g = c.Backward(Uniform(batch * seq * heads * headSize, 8), lengths, true, 1f, 123);
        Assert.All(g, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ForwardBackward_WithDropout_AllocateNothing()
    {
        const int batch = 2, seq = 40, heads = 4, headSize = 8;
        var c = new Packed(batch, seq, heads, headSize, 3);
        int width = heads * headSize;
        float[] o = new float[batch * seq * width], lse = new float[batch * seq * heads], dy = Uniform(o.Length, 4), dQkv = new float[c.Q.Length];
        float[] ws = new float[AttentionKernels.WorkspaceLength(seq, headSize)];
        int[] lengths = [40, 17];
        ulong step = 0;
        void Run()
        {
            step++;
            AttentionKernels.Forward(c.Q, c.Q.AsSpan(width), c.Q.AsSpan(2 * width), c.Ld, o, width, lse, lengths, true, ws, batch, seq, heads, headSize, 0.1f, step);
            AttentionKernels.Backward(dy, c.Q, c.Q.AsSpan(width), c.Q.AsSpan(2 * width), c.Ld, o, width, lse,
                dQkv, dQkv.AsSpan(width), dQkv.AsSpan(2 * width), c.Ld, lengths, true, ws, batch, seq, heads, headSize, 0.1f, step);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Run, callsPerWindow: 1, "Attention Forward + Backward with dropout", warmUpCalls: 40);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void DropoutOutsideZeroOne_Throws(float p)
    {
        const int batch = 1, seq = 3, heads = 1, headSize = 2, width = 2;
        float[] q = new float[batch * seq * width], o = new float[q.Length], lse = new float[batch * seq * heads], g = new float[3 * q.Length];
        float[] ws = new float[AttentionKernels.WorkspaceLength(seq, headSize)];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => AttentionKernels.Forward(q, q, q, width, o, width, lse, [], false, ws, batch, seq, heads, headSize, p, 1));
        Assert.Equal("dropout", e.ParamName);
        Assert.Contains("must be in [0, 1]", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => AttentionKernels.Backward(o, q, q, q, width, o, width, lse, g, g.AsSpan(width), g.AsSpan(2 * width),
            3 * width, [], false, ws, batch, seq, heads, headSize, p, 1));
        Assert.Equal("dropout", e.ParamName);
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// <summary>q, k, v packed in one [rows, 3·width] buffer (k and v at +width and +2·width).</summary>
    private sealed class Packed
    {
        public readonly int Batch, Seq, Heads, HeadSize, Width, Ld;
        public readonly float[] Q;

        public Packed(int batch, int seq, int heads, int headSize, ulong seed)
        {
            (Batch, Seq, Heads, HeadSize, Width) = (batch, seq, heads, headSize, heads * headSize);
            Ld = 3 * Width;
            float scale = 2.5f / MathF.Sqrt(MathF.Sqrt(headSize));   // scores of a few units
            Q = Uniform(batch * seq * Ld, seed, -scale, scale);
        }

        public double[] QD => Shifted(0);
        public double[] KD => Shifted(Width);
        public double[] VD => Shifted(2 * Width);

        private double[] Shifted(int shift)
        {
            var y = new double[Q.Length];
            for (int i = 0; i + shift < Q.Length; i++) y[i] = Q[i + shift];
            return y;
        }

        public (float[] Output, float[] Lse) Forward(int[]? lengths, bool causal, float p, ulong seed)
        {
            float[] o = new float[Batch * Seq * Width], lse = new float[Batch * Seq * Heads];
            float[] ws = new float[AttentionKernels.WorkspaceLength(Seq, HeadSize)];
            Array.Fill(ws, float.NaN);
            Array.Fill(o, float.NaN);
            AttentionKernels.Forward(Q, Q.AsSpan(Width), Q.AsSpan(2 * Width), Ld, o, Width, lse, lengths, causal, ws, Batch, Seq, Heads, HeadSize, p, seed);
            return (o, lse);
        }

        public float[] Backward(float[] dy, int[]? lengths, bool causal, float p, ulong seed)
        {
            var (o, lse) = Forward(lengths, causal, p, seed);
            float[] g = new float[Batch * Seq * Ld];
            Array.Fill(g, float.NaN);
            float[] ws = new float[AttentionKernels.WorkspaceLength(Seq, HeadSize)];
            Array.Fill(ws, float.NaN);
            AttentionKernels.Backward(dy, Q, Q.AsSpan(Width), Q.AsSpan(2 * Width), Ld, o, Width, lse, g, g.AsSpan(Width), g.AsSpan(2 * Width), Ld,
                lengths, causal, ws, Batch, Seq, Heads, HeadSize, p, seed);
            return g;
        }
    }

    private static void AssertNear(double expected, float actual, string where)
        => Assert.True(Math.Abs(actual - expected) <= 2e-5 * (1 + Math.Abs(expected)), $"{where}: {actual} vs {expected}");

    private static void AssertGradient(double expected, double actual, string where)
        => Assert.True(Math.Abs(actual - expected) <= 1e-6 + 1e-5 * Math.Abs(expected), $"{where}: {actual} vs finite difference {expected}");
}
