// Cross-attention decoding over a prepared memory (MultiHeadAttentionKernels.PrepareMemory + ForwardStepOverMemory): each query
// row against a float64 reference of nn.MultiheadAttention over the real memory rows, and against the full Forward's row at
// that position; packed (dk = d) and separate (dk ≠ d) projections, with and without bias, odd head widths, one memory row and
// memories past one vector width; padded memory rows hold NaN and are never read; argument errors name the operand; no allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class MemoryAttentionStepTests
{
    // model, heads, memory width, memorySeq, bias
    public static TheoryData<int, int, int, int, bool> Sizes() => new()
    {
        { 6, 3, 6, 7, true },     // packed in_proj_weight, heads of width 2
        { 6, 3, 5, 1, false },    // separate q/k/v_proj_weight, one memory row, no bias
        { 7, 1, 9, 33, true },    // one head of odd width 7; keys past one vector width
        { 9, 3, 9, 17, false },   // heads of odd width 3, packed, no bias
        { 20, 4, 7, 70, true },
    };

    /// <summary>nn.MultiheadAttention(batch_first) of one query row per example over memory rows j &lt; lengths[b], in double.</summary>
    private static double[] Reference(MultiHeadAttentionGeometry g, float[] x, float[] m, float[] p, int[] lengths, int batch, int memorySeq)
    {
        int d = g.Model, dm = g.Memory, hs = g.HeadSize;
        var offsets = new Dictionary<string, int>();
        int at = 0;
        foreach (var (name, shape) in g.ParameterTensors())
        {
            offsets[name] = at;
            at += shape.Aggregate(1, (a, b) => a * b);
        }
        bool packed = offsets.ContainsKey("in_proj_weight");
        int qw = packed ? offsets["in_proj_weight"] : offsets["q_proj_weight"];
        int kw = packed ? qw + d * d : offsets["k_proj_weight"], vw = packed ? qw + 2 * d * d : offsets["v_proj_weight"];
        double Bias(int i) => g.Bias ? p[offsets["in_proj_bias"] + i] : 0;
        double[] Project(float[] src, int row, int inF, int w, int biasAt)
        {
            var r = new double[d];
            for (int o = 0; o < d; o++)
            {
                double s = Bias(biasAt + o);
                for (int i = 0; i < inF; i++) s += (double)p[w + o * inF + i] * src[row * inF + i];
                r[o] = s;
            }
            return r;
        }
        var y = new double[batch * d];
        for (int b = 0; b < batch; b++)
        {
            double[] q = Project(x, b, d, qw, 0);
            var k = Enumerable.Range(0, lengths[b]).Select(j => Project(m, b * memorySeq + j, dm, kw, d)).ToArray();
            var v = Enumerable.Range(0, lengths[b]).Select(j => Project(m, b * memorySeq + j, dm, vw, 2 * d)).ToArray();
            var a = new double[d];
            for (int h = 0; h < g.Heads; h++)
            {
                var s = k.Select(kj => Enumerable.Range(h * hs, hs).Sum(c => q[c] * kj[c]) / Math.Sqrt(hs)).ToArray();
                double max = s.Max(), sum = s.Sum(z => Math.Exp(z - max));
                for (int j = 0; j < s.Length; j++)
                    for (int c = h * hs; c < (h + 1) * hs; c++) a[c] += Math.Exp(s[j] - max) / sum * v[j][c];
            }
            int ow = offsets["out_proj.weight"];
            for (int o = 0; o < d; o++)
            {
                double s = g.Bias ? p[offsets["out_proj.bias"] + o] : 0;
                for (int c = 0; c < d; c++) s += p[ow + o * d + c] * a[c];
                y[b * d + o] = s;
            }
        }
        return y;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ForwardStepOverMemory_EveryPosition_MatchesFloat64ReferenceAndForwardRows(int model, int heads, int memory, int memorySeq, bool bias)
    {
        const int batch = 3, seq = 5;
        var g = new MultiHeadAttentionGeometry(model, heads, memory, bias: bias);
        float[] x = Uniform(batch * seq * model, 1, -1.5f, 1.5f), m = Uniform(batch * memorySeq * memory, 3, -1.5f, 1.5f), p = Uniform(g.ParameterCount, 2, -0.6f, 0.6f);
        int[] lengths = [memorySeq, Math.Max(1, memorySeq - 2), 1];
        var full = new float[x.Length];
        MultiHeadAttentionKernels.Forward(g, x, m, p, full, default, lengths, new float[g.WorkspaceLength(batch, seq, memorySeq)], batch, seq, memorySeq);
        var real = (float[])m.Clone();
        for (int b = 0; b < batch; b++)   // the steps must never read padded memory rows
            Array.Fill(m, float.NaN, (b * memorySeq + lengths[b]) * memory, (memorySeq - lengths[b]) * memory);
        var cache = new float[g.MemoryCacheLength(batch, memorySeq)];
        var prepareWs = new float[g.PrepareWorkspaceLength(batch, memorySeq)];
        Array.Fill(prepareWs, float.NaN);
        MultiHeadAttentionKernels.PrepareMemory(g, m, p, cache, prepareWs, batch, memorySeq);
        var ws = new float[g.MemoryStepWorkspaceLength(batch, memorySeq)];
        Array.Fill(ws, float.NaN);
        float[] row = new float[batch * model], y = new float[batch * model];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++) Array.Copy(x, (b * seq + t) * model, row, b * model, model);
            MultiHeadAttentionKernels.ForwardStepOverMemory(g, row, p, y, cache, lengths, memorySeq, ws, batch);
            double[] expected = Reference(g, row, real, p, lengths, batch, memorySeq);
            for (int b = 0; b < batch; b++)
                for (int j = 0; j < model; j++)
                {
                    float actual = y[b * model + j], forward = full[(b * seq + t) * model + j];
                    Assert.True(Math.Abs(actual - expected[b * model + j]) <= 1e-5 * (1 + Math.Abs(expected[b * model + j])),
                        $"{g} memorySeq={memorySeq}: position {t}, [{b}, {j}] = {actual} vs float64 reference {expected[b * model + j]}");
                    Assert.True(Math.Abs(actual - forward) <= 1e-5 * (1 + Math.Abs(forward)), $"{g} memorySeq={memorySeq}: position {t}, [{b}, {j}] = {actual} vs Forward {forward}");
                }
        }
    }

    [Fact]
    public void Arguments_ThrowClearMessages()
    {
        const int batch = 2, memorySeq = 4;
        var g = new MultiHeadAttentionGeometry(6, 2, 5);
        float[] x = new float[batch * 6], y = new float[x.Length], p = new float[g.ParameterCount], m = new float[batch * memorySeq * 5];
        float[] mc = new float[g.MemoryCacheLength(batch, memorySeq)], ws = new float[g.MemoryStepWorkspaceLength(batch, memorySeq)];
        var e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.ForwardStepOverMemory(g, x, p, y, new float[3], [], memorySeq, ws, batch));
        Assert.Equal("memoryCache", e.ParamName);
        Assert.Contains("must have 96 elements (MemoryCacheLength(batch=2, memorySeq=4)) but has 3", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.ForwardStepOverMemory(g, x, p, y, mc, [4, 5], memorySeq, ws, batch));
        Assert.Equal("memoryLengths", e.ParamName);
        Assert.Contains("'memoryLengths[1]' must be in [1, memorySeq=4] but is 5", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.ForwardStepOverMemory(g, x, p, y, mc, [], memorySeq, new float[ws.Length - 1], batch));
        Assert.Equal("workspace", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.ForwardStepOverMemory(g, x, p, x, mc, [], memorySeq, ws, batch));
        Assert.Equal("output", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => MultiHeadAttentionKernels.ForwardStepOverMemory(g, x, p, y, mc, [], 0, ws, batch));
        var self = new MultiHeadAttentionGeometry(6, 2);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.ForwardStepOverMemory(self, x, new float[self.ParameterCount], y, mc, [], memorySeq, ws, batch));
        Assert.Contains("must be cross-attention", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.PrepareMemory(g, m, p, mc, new float[2], batch, memorySeq));
        Assert.Equal("workspace", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.PrepareMemory(g, new float[m.Length - 5], p, mc, new float[mc.Length], batch, memorySeq));
        Assert.Equal("memory", e.ParamName);
    }

    [Fact]
    public void PrepareAndStep_SteadyState_AllocateNothing()
    {
        const int batch = 2, memorySeq = 37;
        var g = new MultiHeadAttentionGeometry(32, 4, 24);
        float[] x = Uniform(batch * 32, 1), y = new float[x.Length], p = Uniform(g.ParameterCount, 2), m = Uniform(batch * memorySeq * 24, 3);
        float[] mc = new float[g.MemoryCacheLength(batch, memorySeq)], pws = new float[g.PrepareWorkspaceLength(batch, memorySeq)], ws = new float[g.MemoryStepWorkspaceLength(batch, memorySeq)];
        int[] lengths = [37, 20];
        void Step()
        {
            MultiHeadAttentionKernels.PrepareMemory(g, m, p, mc, pws, batch, memorySeq);
            MultiHeadAttentionKernels.ForwardStepOverMemory(g, x, p, y, mc, lengths, memorySeq, ws, batch);
        }
        for (int i = 0; i < 30; i++) Step();   // past tiering thresholds
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
