// Incremental decoding of cross-attention over a fixed memory (an encoder's output over the source): the keys and values
// depend only on the memory, so PrepareMemory projects them once per sequence into a memory cache laid out as the decoder's
// ([batch, Heads, memorySeq, HeadSize] keys, then values), and each step projects only its queries and attends over the
// memoryLengths[b] real rows (PyTorch's key_padding_mask). Nothing depends on the query's position (no causal mask over a
// memory, no rotary table), so a step's output equals the full Forward's row at any position with the same memory.
namespace ModelGen.Kernels;

public static partial class MultiHeadAttentionKernels
{
    /// <summary>
    /// Computes the keys and values of <paramref name="memory"/> once per sequence for <see cref="ForwardStepOverMemory"/>:
    /// <c>K = memory·W_kᵀ + b_k</c> and <c>V = memory·W_vᵀ + b_v</c>, stored as keys <c>[batch, Heads, memorySeq, HeadSize]</c>
    /// then values in the same layout. Rows at padded memory positions are computed from whatever they hold and never read by the steps.
    /// </summary>
    /// <param name="g">The geometry; must be cross-attention without a rotary table.</param>
    /// <param name="memory">Memory <c>[batch, memorySeq, Memory]</c>.</param>
    /// <param name="parameters">The layer's parameters (state-dict order).</param>
    /// <param name="memoryCache">Receives <see cref="MultiHeadAttentionGeometry.MemoryCacheLength"/>(batch, memorySeq) floats.</param>
    /// <param name="workspace">Scratch of at least <see cref="MultiHeadAttentionGeometry.PrepareWorkspaceLength"/>(batch, memorySeq) floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="memorySeq">Memory positions per example (padded length).</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c>, self-attention or rotary, a span's length does not match
    /// its shape, the workspace is too short, or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or <paramref name="memorySeq"/> is less than 1.</exception>
    public static unsafe void PrepareMemory(in MultiHeadAttentionGeometry g, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters, Span<float> memoryCache,
        Span<float> workspace, int batch, int memorySeq)
    {
        CheckMemoryGeometry(g);
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        if (memorySeq < 1) throw new ArgumentOutOfRangeException(nameof(memorySeq), memorySeq, $"'{nameof(memorySeq)}' must be at least 1 but is {memorySeq}.");
        CheckLength(memory.Length, (long)batch * memorySeq * g.Memory, nameof(memory), Shape.Memory, g, batch, memorySeq);
        CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), Shape.Parameters, g, batch, 1);
        long cacheLength = g.MemoryCacheLength(batch, memorySeq);
        if (memoryCache.Length != cacheLength)
            throw new ArgumentException(
                $"'{nameof(memoryCache)}' must have {cacheLength} elements (MemoryCacheLength(batch={batch}, memorySeq={memorySeq})) but has {memoryCache.Length}.", nameof(memoryCache));
        long need = g.PrepareWorkspaceLength(batch, memorySeq);
        if (workspace.Length < need)
            throw new ArgumentException(
                $"'{nameof(workspace)}' must have at least {need} elements (PrepareWorkspaceLength(batch={batch}, memorySeq={memorySeq})) but has {workspace.Length}.", nameof(workspace));
        ThrowHelper.CheckNoOverlap(memory, memoryCache, nameof(memory), nameof(memoryCache));
        ThrowHelper.CheckNoOverlap(parameters, memoryCache, nameof(parameters), nameof(memoryCache));
        ThrowHelper.CheckNoOverlap(workspace, memoryCache, nameof(workspace), nameof(memoryCache));
        ThrowHelper.CheckNoOverlap(memory, workspace, nameof(memory), nameof(workspace));
        ThrowHelper.CheckNoOverlap(parameters, workspace, nameof(parameters), nameof(workspace));
        if (batch == 0) return;
        int d = g.Model, hs = g.HeadSize, heads = g.Heads, rows = batch * memorySeq;
        fixed (float* m = memory, p = parameters, mc = memoryCache, ws = workspace)
        {
            var w = new Weights(g, p);
            float* k = ws, v = ws + (long)rows * d;   // [rows, d] each, heads side by side
            Linear(m, w.KWeight, w.KBias, k, rows, g.Memory, d);
            Linear(m, w.VWeight, w.VBias, v, rows, g.Memory, d);
            float* keys = mc, values = mc + (long)rows * d;
            // [b, s, h, :] → [b, h, s, :]: one head's rows contiguous, as AttentionKernels.Decode reads them.
            for (int b = 0; b < batch; b++)
                for (int s = 0; s < memorySeq; s++)
                    for (int h = 0; h < heads; h++)
                    {
                        long from = ((long)b * memorySeq + s) * d + h * hs, to = (((long)b * heads + h) * memorySeq + s) * hs;
                        ReadOnly(k + from, hs).CopyTo(Span(keys + to, hs));
                        ReadOnly(v + from, hs).CopyTo(Span(values + to, hs));
                    }
        }
    }

    /// <summary>
    /// Cross-attention of one new query position per example over a memory that <see cref="PrepareMemory"/> projected: computes
    /// <c>q = input·W_qᵀ + b_q</c>, per head <c>a = Σ_j softmax_j(q·K_j/√head_dim)·V_j</c> over the real memory rows
    /// <c>j &lt; memoryLengths[b]</c>, and <c>output = a·W_oᵀ + b_o</c>: the row of <c>Forward</c> at that position with the same memory.
    /// </summary>
    /// <param name="g">The geometry; must be cross-attention without a rotary table.</param>
    /// <param name="input">The new position's query source <c>[batch, Model]</c>.</param>
    /// <param name="parameters">The layer's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, Model]</c>; must not overlap the other operands.</param>
    /// <param name="memoryCache">What <see cref="PrepareMemory"/> wrote for this batch and <paramref name="memorySeq"/>.</param>
    /// <param name="memoryLengths">Real memory positions per example <c>[batch]</c>, each in [1, memorySeq]; empty means all <paramref name="memorySeq"/>.</param>
    /// <param name="memorySeq">Memory positions per example in <paramref name="memoryCache"/>.</param>
    /// <param name="workspace">Scratch of at least <see cref="MultiHeadAttentionGeometry.MemoryStepWorkspaceLength"/>(batch, memorySeq) floats.</param>
    /// <param name="batch">Examples.</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c>, self-attention or rotary, a span's length does not match its
    /// shape, a memory length is outside [1, memorySeq], the workspace is too short, or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or <paramref name="memorySeq"/> is less than 1.</exception>
    public static unsafe void ForwardStepOverMemory(in MultiHeadAttentionGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, Span<float> output,
        ReadOnlySpan<float> memoryCache, ReadOnlySpan<int> memoryLengths, int memorySeq, Span<float> workspace, int batch)
    {
        CheckMemoryGeometry(g);
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        if (memorySeq < 1) throw new ArgumentOutOfRangeException(nameof(memorySeq), memorySeq, $"'{nameof(memorySeq)}' must be at least 1 but is {memorySeq}.");
        CheckLength(input.Length, (long)batch * g.Model, nameof(input), Shape.StepInput, g, batch, 1);
        CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), Shape.Parameters, g, batch, 1);
        CheckLength(output.Length, (long)batch * g.Model, nameof(output), Shape.StepInput, g, batch, 1);
        long cacheLength = g.MemoryCacheLength(batch, memorySeq);
        if (memoryCache.Length != cacheLength)
            throw new ArgumentException(
                $"'{nameof(memoryCache)}' must have {cacheLength} elements (MemoryCacheLength(batch={batch}, memorySeq={memorySeq})) but has {memoryCache.Length}.", nameof(memoryCache));
        if (!memoryLengths.IsEmpty)
        {
            CheckLength(memoryLengths.Length, batch, nameof(memoryLengths), Shape.Lengths, g, batch, memorySeq);
            for (int b = 0; b < memoryLengths.Length; b++)
                if (memoryLengths[b] < 1 || memoryLengths[b] > memorySeq)
                    throw new ArgumentException($"'{nameof(memoryLengths)}[{b}]' must be in [1, memorySeq={memorySeq}] but is {memoryLengths[b]}.", nameof(memoryLengths));
        }
        long need = g.MemoryStepWorkspaceLength(batch, memorySeq);
        if (workspace.Length < need)
            throw new ArgumentException(
                $"'{nameof(workspace)}' must have at least {need} elements (MemoryStepWorkspaceLength(batch={batch}, memorySeq={memorySeq})) but has {workspace.Length}.", nameof(workspace));
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(parameters, output, nameof(parameters), nameof(output));
        ThrowHelper.CheckNoOverlap(memoryCache, output, nameof(memoryCache), nameof(output));
        ThrowHelper.CheckNoOverlap(workspace, output, nameof(workspace), nameof(output));
        ThrowHelper.CheckNoOverlap(input, workspace, nameof(input), nameof(workspace));
        ThrowHelper.CheckNoOverlap(parameters, workspace, nameof(parameters), nameof(workspace));
        ThrowHelper.CheckNoOverlap(memoryCache, workspace, nameof(memoryCache), nameof(workspace));
        if (batch == 0) return;
        int d = g.Model, hs = g.HeadSize, heads = g.Heads;
        fixed (float* x = input, p = parameters, y = output, mc = memoryCache, ws = workspace)
        fixed (int* mlen = memoryLengths)
        {
            var w = new Weights(g, p);
            float* q = ws, a = ws + (long)batch * d, scores = a + (long)batch * d;   // [batch, d], [batch, d], [memorySeq]
            Linear(x, w.QWeight, w.QBias, q, batch, d, d);
            DecodeOverMemory(q, mc, mlen, memorySeq, a, scores, batch, heads, hs);
            Linear(a, w.OutWeight, w.OutBias, y, batch, d, d);
        }
    }

    /// <summary>
    /// Per example and head, the softmax-weighted sum of a memory cache's values over the example's real rows (all
    /// <paramref name="memorySeq"/> when <paramref name="memoryLengths"/> is null), for the queries q [batch, heads·hs] into
    /// o [batch, heads·hs]. The cache holds keys then values, [batch, heads, memorySeq, hs] each (PrepareMemory's layout).
    /// </summary>
    internal static unsafe void DecodeOverMemory(float* q, float* memoryCache, int* memoryLengths, int memorySeq, float* o, float* scores,
        int batch, int heads, int hs)
    {
        int d = heads * hs;
        float* keys = memoryCache, values = memoryCache + (long)batch * memorySeq * d;
        for (int b = 0; b < batch; b++)
        {
            int count = memoryLengths == null ? memorySeq : memoryLengths[b];
            for (int h = 0; h < heads; h++)
            {
                long head = ((long)b * heads + h) * memorySeq * hs, col = (long)b * d + h * hs;
                AttentionKernels.Decode(q + col, keys + head, values + head, count, o + col, scores, hs);
            }
        }
    }

    private static void CheckMemoryGeometry(in MultiHeadAttentionGeometry g)
    {
        CheckGeometry(g);
        if (!g.IsCross || g.Rotary is not null)
            throw new ArgumentException(
                $"'{nameof(g)}' must be cross-attention without a rotary table to decode over a prepared memory: a query then depends on its position only through its input ({g}).",
                nameof(g));
    }
}
