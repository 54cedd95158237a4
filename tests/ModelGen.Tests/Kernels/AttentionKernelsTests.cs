// Scaled dot-product attention kernels: forward (output and log-sum-exp) against the float64 reference with a materialised
// score matrix, over head counts and odd head sizes that hit every vector tier and tail, sequence lengths around the query
// and key tiles, causal and not, key padding, packed (stride 3d) and plain layouts; backward against the analytic float64
// reference, which is itself checked against central differences; masked keys never read; zero allocation; argument checks.
using System.Runtime.Intrinsics;
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class AttentionKernelsTests
{
    public static TheoryData<int, int, int> Shapes()
    {
        // heads, headSize, seq: odd head sizes (tails at every width), 16/32/40 (whole vectors plus tails), sequences below,
        // at and above the 32-query and 64-key tiles.
        var data = new TheoryData<int, int, int>();
        data.Add(1, 1, 1);
        data.Add(2, 3, 5);
        data.Add(3, 5, 7);
        data.Add(4, 5, 33);
        data.Add(2, 16, 64);
        data.Add(1, 33, 70);
        data.Add(2, 40, 130);
        data.Add(4, 32, 65);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_MatchesFloat64Reference(int heads, int headSize, int seq)
    {
        int width = heads * headSize;
        foreach (bool causal in new[] { false, true })
            foreach (bool packed in new[] { false, true })
                foreach (bool withLengths in new[] { false, true })
                {
                    const int batch = 3;
                    int[]? lengths = withLengths ? [seq, Math.Max(1, seq / 2), 1] : null;
                    var c = new Case(batch, seq, heads, headSize, packed, (ulong)(seq * 31 + width + (causal ? 7 : 0)));
                    var (expected, expectedLse) = TransformerReference.Attention(c.QD, c.KD, c.VD, c.Ld, lengths, causal, batch, seq, heads, headSize);
                    var (o, lse) = c.Forward(lengths, causal);
                    string where = $"heads={heads} headSize={headSize} seq={seq} causal={causal} packed={packed} lengths={withLengths}";
                    AssertClose(expected, o, 2e-6, where + " output");
                    AssertClose(expectedLse, lse, 2e-5, where + " lse");
                }
    }

    [Fact]
    public void Forward_OutputStrideAndInference_WriteOnlyTheirColumns()
    {
        const int batch = 2, seq = 9, heads = 3, headSize = 5, width = 15, stride = 21;
        var c = new Case(batch, seq, heads, headSize, packed: true, 4);
        var (expected, _) = TransformerReference.Attention(c.QD, c.KD, c.VD, c.Ld, [9, 4], true, batch, seq, heads, headSize);
        float[] o = new float[(batch * seq - 1) * stride + width];
        Array.Fill(o, -7f);
        float[] ws = new float[AttentionKernels.WorkspaceLength(seq, headSize)];
        AttentionKernels.Forward(c.Q, c.Q.AsSpan(width), c.Q.AsSpan(2 * width), c.Ld, o, stride, default, [9, 4], true, ws, batch, seq, heads, headSize);
        for (int r = 0; r < batch * seq; r++)
            for (int j = 0; j < stride && r * stride + j < o.Length; j++)
                if (j < width) Assert.True(Math.Abs(o[r * stride + j] - expected[r * width + j]) <= 2e-6, $"[{r}, {j}]");
                else Assert.Equal(-7f, o[r * stride + j]);
    }

    [Fact]
    public void ReferenceBackward_MatchesCentralDifferences()
    {
        // The analytic float64 backward the kernel tests compare with, checked once against finite differences of the reference forward.
        const int batch = 2, seq = 5, heads = 2, headSize = 3, width = 6;
        foreach (bool causal in new[] { false, true })
        {
            int[] lengths = [5, 3];
            var c = new Case(batch, seq, heads, headSize, packed: true, 9);
            double[] dy = Array.ConvertAll(Uniform(batch * seq * width, 10), v => (double)v);
            var (dq, dk, dv) = TransformerReference.AttentionBackward(dy, c.QD, c.KD, c.VD, c.Ld, lengths, causal, batch, seq, heads, headSize);
            double Loss(double[] q, double[] k, double[] v)
            {
                double[] o = TransformerReference.Attention(q, k, v, c.Ld, lengths, causal, batch, seq, heads, headSize).Output;
                double s = 0;
                for (int i = 0; i < o.Length; i++) s += o[i] * dy[i];
                return s;
            }
            double[] qd = c.QD, kd = c.KD, vd = c.VD;
            for (int r = 0; r < batch * seq; r++)
                for (int j = 0; j < width; j++)
                {
                    int i = r * c.Ld + j;
                    AssertGradient(CentralDifference(qd, i, x => Loss(x, kd, vd)), dq[i], $"dq[{r}, {j}] causal={causal}");
                    AssertGradient(CentralDifference(kd, i, x => Loss(qd, x, vd)), dk[i], $"dk[{r}, {j}] causal={causal}");
                    AssertGradient(CentralDifference(vd, i, x => Loss(qd, kd, x)), dv[i], $"dv[{r}, {j}] causal={causal}");
                }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Backward_MatchesFloat64Reference(int heads, int headSize, int seq)
    {
        int width = heads * headSize;
        foreach (bool causal in new[] { false, true })
            foreach (bool withLengths in new[] { false, true })
            {
                const int batch = 2;
                int[]? lengths = withLengths ? [Math.Max(1, seq - 3), 1] : null;
                var c = new Case(batch, seq, heads, headSize, packed: true, (ulong)(seq * 13 + width));
                float[] dy = Uniform(batch * seq * width, 5);
                var (dq, dk, dv) = TransformerReference.AttentionBackward(Array.ConvertAll(dy, v => (double)v), c.QD, c.KD, c.VD, c.Ld, lengths, causal,
                    batch, seq, heads, headSize);
                float[] dQkv = c.Backward(dy, lengths, causal);
                string where = $"heads={heads} headSize={headSize} seq={seq} causal={causal} lengths={withLengths}";
                for (int r = 0; r < batch * seq; r++)
                    for (int j = 0; j < width; j++)
                    {
                        int i = r * c.Ld + j;
                        AssertNear(dq[i], dQkv[i], $"{where} dq[{r}, {j}]");
                        AssertNear(dk[i], dQkv[i + width], $"{where} dk[{r}, {j}]");
                        AssertNear(dv[i], dQkv[i + 2 * width], $"{where} dv[{r}, {j}]");
                    }
            }
    }

    [Fact]
    public void MaskedKeys_AreNeverRead_AndPaddedQueriesStayFinite()
    {
        const int batch = 3, seq = 70, heads = 2, headSize = 7, width = 14;
        int[] lengths = [70, 3, 41];
        var c = new Case(batch, seq, heads, headSize, packed: true, 12);
        var (o, lse) = c.Forward(lengths, causal: false);
        float[] dy = Uniform(batch * seq * width, 13);
        float[] grads = c.Backward(dy, lengths, causal: false);
        for (int b = 0; b < batch; b++)
            for (int t = lengths[b]; t < seq; t++)
                for (int j = 0; j < 3 * width; j++)
                    c.Q[(b * seq + t) * c.Ld + j] = j < width ? c.Q[(b * seq + t) * c.Ld + j] : float.NaN;   // keys and values of padding: NaN
        var (o2, lse2) = c.Forward(lengths, causal: false);
        Assert.Equal(o, o2);
        Assert.Equal(lse, lse2);
        Assert.All(o2, v => Assert.True(float.IsFinite(v)));
        float[] grads2 = c.Backward(dy, lengths, causal: false);
        Assert.Equal(grads, grads2);
        // Keys and values no query sees get exactly zero gradient.
        for (int b = 0; b < batch; b++)
            for (int t = lengths[b]; t < seq; t++)
                for (int j = width; j < 3 * width; j++)
                    Assert.Equal(0f, grads2[(b * seq + t) * c.Ld + j]);
    }

    [Fact]
    public void ExpNonPositive_IsWithinTwoUlpOfMathExp_AtEveryWidth()
    {
        // The softmax and GELU exponential: x in [−88, 0] densely, then the edges.
        var xs = new List<float>();
        for (int i = 0; i <= 880_000; i++) xs.Add(-i * 1e-4f);
        xs.AddRange([-1e-30f, -1e-7f, -87.33f, -87.5f, -88f, -88.5f, -100f, -1e30f, float.NegativeInfinity]);
        foreach (float x in xs)
        {
            double exact = Math.Exp(x);
            float[] got = [VectorMath.ExpNonPositive(x), VectorMath.ExpNonPositive(Vector128.Create(x)).GetElement(1),
                VectorMath.ExpNonPositive(Vector256.Create(x)).GetElement(5), VectorMath.ExpNonPositive(Vector512.Create(x)).GetElement(11)];
            foreach (float y in got)
            {
                if (exact < 1.2e-38) Assert.True(y >= 0f && y <= 1.2e-38f, $"e^{x} = {y} (underflow range: 0 or the scalar path's subnormal)");
                else Assert.True(Math.Abs(y - exact) <= 2 * ulp(exact), $"e^{x} = {y} vs {exact} ({Math.Abs(y - exact) / ulp(exact):F2} ulp)");
            }
        }
        Assert.True(float.IsNaN(VectorMath.ExpNonPositive(Vector256.Create(float.NaN)).GetElement(0)));
        Assert.True(float.IsNaN(VectorMath.ExpNonPositive(Vector128.Create(float.NaN)).GetElement(0)));
        Assert.True(float.IsNaN(VectorMath.ExpNonPositive(Vector512.Create(float.NaN)).GetElement(0)));
        Assert.Equal(1f, VectorMath.ExpNonPositive(Vector256<float>.Zero).GetElement(3));
        Assert.Equal(0f, VectorMath.ExpNonPositive(Vector512.Create(float.NegativeInfinity)).GetElement(3));

        static double ulp(double v) => Math.Max(double.Epsilon, MathF.BitIncrement((float)v) - (float)v);
    }

    [Fact]
    public void ForwardBackward_SteadyState_AllocateNothing()
    {
        const int batch = 2, seq = 40, heads = 4, headSize = 8;
        var c = new Case(batch, seq, heads, headSize, packed: true, 3);
        int width = heads * headSize;
        float[] o = new float[batch * seq * width], lse = new float[batch * seq * heads], dy = Uniform(o.Length, 4), dQkv = new float[c.Q.Length];
        float[] ws = new float[AttentionKernels.WorkspaceLength(seq, headSize)];
        int[] lengths = [40, 17];
        void Run()
        {
            AttentionKernels.Forward(c.Q, c.Q.AsSpan(width), c.Q.AsSpan(2 * width), c.Ld, o, width, lse, lengths, true, ws, batch, seq, heads, headSize);
            AttentionKernels.Backward(dy, c.Q, c.Q.AsSpan(width), c.Q.AsSpan(2 * width), c.Ld, o, width, lse,
                dQkv, dQkv.AsSpan(width), dQkv.AsSpan(2 * width), c.Ld, lengths, true, ws, batch, seq, heads, headSize);
        }
        // 40 warm-up calls: past every tiering threshold.
        AllocationAssert.SteadyStateAllocatesNothing(Run, callsPerWindow: 1, "Attention Forward + Backward", warmUpCalls: 40);
    }

    [Fact]
    public void InvalidArguments_ThrowClearMessages()
    {
        const int batch = 2, seq = 3, heads = 2, headSize = 3, width = 6;
        float[] q = new float[batch * seq * width], o = new float[batch * seq * width], lse = new float[batch * seq * heads];
        float[] ws = new float[AttentionKernels.WorkspaceLength(seq, headSize)];

        var e = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(q, q, q.AsSpan(0, 30), width, o, width, lse, [], false, ws, batch, seq, heads, headSize));
        Assert.Equal("value", e.ParamName);
        Assert.Contains("must have at least 36 elements ([batch·seq=6] rows of heads·headSize=6 at stride 6) but has 30", e.Message);

        e = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(q, q, q, width, o, width, new float[5], [], false, ws, batch, seq, heads, headSize));
        Assert.Equal("logSumExp", e.ParamName);
        Assert.Contains("must have 12 elements ([batch·seq=6, heads=2] or empty) but has 5", e.Message);

        e = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(q, q, q, width, o, width, lse, [3, 4], false, ws, batch, seq, heads, headSize));
        Assert.Equal("lengths", e.ParamName);
        Assert.Contains("'lengths[1]' must be in [1, seq=3] but is 4", e.Message);

        e = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(q, q, q, width, o, width, lse, [], false, new float[3], batch, seq, heads, headSize));
        Assert.Equal("workspace", e.ParamName);
        Assert.Contains($"at least {ws.Length} elements (WorkspaceLength(seq=3, headSize=3))", e.Message);

        e = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(q, q, q, width, q, width, lse, [], false, ws, batch, seq, heads, headSize));
        Assert.Contains("'output' must not overlap 'query'", e.Message);

        var r = Assert.Throws<ArgumentOutOfRangeException>(() => AttentionKernels.Forward(q, q, q, 5, o, width, lse, [], false, ws, batch, seq, heads, headSize));
        Assert.Equal("inputStride", r.ParamName);
        Assert.Contains("must be at least heads·headSize = 6 but is 5", r.Message);
        Assert.Equal("headSize", Assert.Throws<ArgumentOutOfRangeException>(() =>
            AttentionKernels.Forward(q, q, q, width, o, width, lse, [], false, ws, batch, seq, heads, 0)).ParamName);
        Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() =>
            AttentionKernels.Forward(q, q, q, width, o, width, lse, [], false, ws, -1, seq, heads, headSize)).ParamName);

        float[] g = new float[batch * seq * 3 * width];
        e = Assert.Throws<ArgumentException>(() => AttentionKernels.Backward(g.AsSpan(0, o.Length), q, q, q, width, o, width, lse, g, g.AsSpan(width),
            g.AsSpan(2 * width), 3 * width, [], false, ws, batch, seq, heads, headSize));
        Assert.Contains("'dQuery' must not overlap 'dOutput'", e.Message);
        float[] dy = new float[o.Length];
        e = Assert.Throws<ArgumentException>(() => AttentionKernels.Backward(dy, q, q, q, width, o, width, lse, g, g.AsSpan(width), g.AsSpan(2 * width, 10), 3 * width,
            [], false, ws, batch, seq, heads, headSize));
        Assert.Equal("dValue", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => AttentionKernels.Backward(dy, q, q, q, width, o, width, [], g, g.AsSpan(width), g.AsSpan(2 * width), 3 * width,
            [], false, ws, batch, seq, heads, headSize));
        Assert.Equal("logSumExp", e.ParamName);
        // The three gradients may interleave as the column blocks of one packed buffer.
        AttentionKernels.Backward(dy, q, q, q, width, o, width, lse, g, g.AsSpan(width), g.AsSpan(2 * width), 3 * width, [], false, ws, batch, seq, heads, headSize);
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// <summary>q, k, v either packed in one [rows, 3·width] buffer (Q holds all three, K/V views at +width/+2·width) or as three [rows, width] buffers.</summary>
    private sealed class Case
    {
        public readonly int Batch, Seq, Heads, HeadSize, Width, Ld;
        public readonly bool Packed;
        public readonly float[] Q, K, V;

        public Case(int batch, int seq, int heads, int headSize, bool packed, ulong seed)
        {
            Batch = batch;
            Seq = seq;
            Heads = heads;
            HeadSize = headSize;
            Width = heads * headSize;
            Packed = packed;
            Ld = packed ? 3 * Width : Width;
            // Scores of a few units: softmax is neither uniform nor one-hot.
            float scale = 2.5f / MathF.Sqrt(MathF.Sqrt(headSize));
            if (packed)
            {
                Q = Uniform(batch * seq * 3 * Width, seed, -scale, scale);
                K = V = Q;
            }
            else
            {
                Q = Uniform(batch * seq * Width, seed, -scale, scale);
                K = Uniform(batch * seq * Width, seed + 1, -scale, scale);
                V = Uniform(batch * seq * Width, seed + 2, -1, 1);
            }
        }

        private ReadOnlySpan<float> KSpan => Packed ? Q.AsSpan(Width) : K;
        private ReadOnlySpan<float> VSpan => Packed ? Q.AsSpan(2 * Width) : V;
        public double[] QD => Array.ConvertAll(Q, v => (double)v);
        public double[] KD => Packed ? Shifted(Q, Width) : Array.ConvertAll(K, v => (double)v);
        public double[] VD => Packed ? Shifted(Q, 2 * Width) : Array.ConvertAll(V, v => (double)v);

        /// <summary>The packed buffer seen from column <paramref name="shift"/> (so row r of k/v sits at r·Ld as the reference expects).</summary>
        private static double[] Shifted(float[] x, int shift)
        {
            var y = new double[x.Length];
            for (int i = 0; i + shift < x.Length; i++) y[i] = x[i + shift];
            return y;
        }

        public (float[] Output, float[] Lse) Forward(int[]? lengths, bool causal)
        {
            float[] o = new float[Batch * Seq * Width], lse = new float[Batch * Seq * Heads];
            float[] ws = new float[AttentionKernels.WorkspaceLength(Seq, HeadSize)];
            Array.Fill(ws, float.NaN);   // any read of scratch the kernel did not write shows up
            Array.Fill(o, float.NaN);
            AttentionKernels.Forward(Q, KSpan, VSpan, Ld, o, Width, lse, lengths, causal, ws, Batch, Seq, Heads, HeadSize);
            return (o, lse);
        }

        /// <summary>Forward, then backward into one packed [rows, 3·width] gradient buffer (dq, dk, dv column blocks).</summary>
        public float[] Backward(float[] dy, int[]? lengths, bool causal)
        {
            var (o, lse) = Forward(lengths, causal);
            int ldg = 3 * Width;
            float[] g = new float[Batch * Seq * ldg];
            Array.Fill(g, float.NaN);   // overwritten, never accumulated
            float[] ws = new float[AttentionKernels.WorkspaceLength(Seq, HeadSize)];
            Array.Fill(ws, float.NaN);
            AttentionKernels.Backward(dy, Q, KSpan, VSpan, Ld, o, Width, lse, g, g.AsSpan(Width), g.AsSpan(2 * Width), ldg, lengths, causal, ws,
                Batch, Seq, Heads, HeadSize);
            if (Packed) return g;
            throw new InvalidOperationException("backward tests use the packed layout");
        }
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"{where}: [{i}] = {actual[i]} vs {expected[i]}");
    }

    private static void AssertNear(double expected, float actual, string where)
        => Assert.True(Math.Abs(actual - expected) <= 2e-5 * (1 + Math.Abs(expected)), $"{where}: {actual} vs {expected}");

    private static void AssertGradient(double expected, double actual, string where)
        => Assert.True(Math.Abs(actual - expected) <= 1e-6 + 1e-5 * Math.Abs(expected), $"{where}: {actual} vs finite difference {expected}");
}
