// Incremental decoding for causal Transformer decoder stacks: ONE new position per example runs through every layer. The
// self-attention keeps a llama.cpp-style key/value cache per layer (keys [batch, Heads, maxLength, HeadSize], then values),
// appended one row per step by MultiHeadAttentionKernels.ForwardStep. The cross-attention's keys and values depend only on
// the memory (the encoder's output), so PrepareMemory projects them once per sequence into a memory cache laid out the same
// way ([batch, Heads, memorySeq, HeadSize] per layer), and each step only projects its query and attends over the
// memoryLengths[b] real rows (PyTorch's memory_key_padding_mask). Because the self-attention is causal, a step's output
// equals row `position` of Forward over positions 0..position with the same memory.
using static ModelGen.Kernels.TransformerBlocks;

namespace ModelGen.Kernels;

public static partial class TransformerDecoderKernels
{
    /// <summary>
    /// Computes every layer's cross-attention keys and values of <paramref name="memory"/> once per sequence, for
    /// <see cref="ForwardStep"/>: per layer, <c>K = memory·W_kᵀ + b_k</c> and <c>V = memory·W_vᵀ + b_v</c> of its
    /// <c>multihead_attn</c>, stored as keys <c>[batch, Heads, memorySeq, HeadSize]</c> then values in the same layout.
    /// Rows at padded memory positions are computed from whatever they hold and never read by the steps.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="memory">Memory <c>[batch, memorySeq, Memory]</c> (the encoder's output).</param>
    /// <param name="parameters">The stack's parameters (state-dict order).</param>
    /// <param name="memoryCache">Receives <see cref="TransformerDecoderGeometry.MemoryCacheLength"/>(batch, memorySeq) floats.</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerDecoderGeometry.PrepareWorkspaceLength"/>(batch, memorySeq) floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="memorySeq">Memory positions per example (padded length).</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c>, a span's length does not match its shape, the workspace
    /// is too short, or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or <paramref name="memorySeq"/> is less than 1.</exception>
    public static unsafe void PrepareMemory(in TransformerDecoderGeometry g, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters, Span<float> memoryCache,
        Span<float> workspace, int batch, int memorySeq)
    {
        CheckStepGeometry(g, batch);
        if (memorySeq < 1) throw new ArgumentOutOfRangeException(nameof(memorySeq), memorySeq, $"'{nameof(memorySeq)}' must be at least 1 but is {memorySeq}.");
        CheckLength(memory.Length, g.MemoryLength(batch, memorySeq), nameof(memory), Shape.Memory, g, batch, memorySeq);
        CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), Shape.Parameters, g, batch, 1);
        CheckStepLength(memoryCache.Length, g.MemoryCacheLength(batch, memorySeq), nameof(memoryCache), "MemoryCacheLength(batch={0}, memorySeq={1})", batch, memorySeq);
        CheckWorkspace(workspace.Length, g.PrepareWorkspaceLength(batch, memorySeq), "PrepareWorkspaceLength(batch={0}, memorySeq={1})", batch, memorySeq);
        ThrowHelper.CheckNoOverlap(memory, memoryCache, nameof(memory), nameof(memoryCache));
        ThrowHelper.CheckNoOverlap(parameters, memoryCache, nameof(parameters), nameof(memoryCache));
        ThrowHelper.CheckNoOverlap(workspace, memoryCache, nameof(workspace), nameof(memoryCache));
        ThrowHelper.CheckNoOverlap(memory, workspace, nameof(memory), nameof(workspace));
        ThrowHelper.CheckNoOverlap(parameters, workspace, nameof(parameters), nameof(workspace));
        if (batch == 0) return;
        int d = g.Model, hs = g.HeadSize, heads = g.Heads, rows = batch * memorySeq;
        var ca = g.CrossAttention;
        fixed (float* m = memory, p = parameters, mc = memoryCache, ws = workspace)
        {
            float* k = ws, v = ws + (long)rows * d;   // [rows, d] each, heads side by side
            for (int l = 0; l < g.Layers; l++)
            {
                var w = new LayerWeights(g, p, l);
                MultiHeadAttentionKernels.InProjections(ca, w.CrossAttn, out _, out _, out float* kw, out float* kb, out float* vw, out float* vb);
                Linear(default(IdentityActivation), m, kw, kb, k, null, rows, g.Memory, d);
                Linear(default(IdentityActivation), m, vw, vb, v, null, rows, g.Memory, d);
                float* keys = mc + (long)l * 2 * rows * d, values = keys + (long)rows * d;
                // [b, s, h, :] → [b, h, s, :]: one head's rows contiguous, as AttentionKernels.Decode reads them.
                for (int b = 0; b < batch; b++)
                    for (int s = 0; s < memorySeq; s++)
                        for (int h = 0; h < heads; h++)
                        {
                            long from = ((long)b * memorySeq + s) * d + h * hs, to = (((long)b * heads + h) * memorySeq + s) * hs;
                            new ReadOnlySpan<float>(k + from, hs).CopyTo(new Span<float>(keys + to, hs));
                            new ReadOnlySpan<float>(v + from, hs).CopyTo(new Span<float>(values + to, hs));
                        }
            }
        }
    }

    /// <summary>
    /// One decoding step of a causal stack: effectively computes row <paramref name="position"/> of <c>Forward</c> over positions
    /// 0..position with the memory that <see cref="PrepareMemory"/> projected into <paramref name="memoryCache"/>, given the
    /// self-attention keys and values of positions 0..position − 1 in <paramref name="cache"/> (written by the previous steps),
    /// and appends this position's.
    /// </summary>
    /// <param name="g">The geometry; must be <see cref="TransformerDecoderGeometry.Causal"/>.</param>
    /// <param name="input">The new position's vectors <c>[batch, Model]</c>.</param>
    /// <param name="parameters">The stack's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, Model]</c>; must not overlap the other operands.</param>
    /// <param name="cache">The self-attention cache, <see cref="TransformerDecoderGeometry.CacheLength"/>(batch, maxLength) floats: per layer
    /// keys <c>[batch, Heads, maxLength, HeadSize]</c> then values. Row <paramref name="position"/> of every layer and head is overwritten;
    /// rows before it are read; rows after it are neither read nor written.</param>
    /// <param name="memoryCache">What <see cref="PrepareMemory"/> wrote for this batch and <paramref name="memorySeq"/>.</param>
    /// <param name="memoryLengths">Real memory positions per example <c>[batch]</c>, each in [1, memorySeq]; empty means all <paramref name="memorySeq"/>.</param>
    /// <param name="position">The new position, in [0, maxLength).</param>
    /// <param name="maxLength">Rows per head in <paramref name="cache"/>.</param>
    /// <param name="memorySeq">Memory positions per example in <paramref name="memoryCache"/>.</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerDecoderGeometry.StepWorkspaceLength"/>(batch, maxLength, memorySeq) floats.</param>
    /// <param name="batch">Examples (sequences decoded side by side, all at the same position).</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c> or not causal, a span's length does not match its shape,
    /// a memory length is outside [1, memorySeq], the workspace is too short, or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="maxLength"/> or
    /// <paramref name="memorySeq"/> is less than 1, or <paramref name="position"/> is outside [0, maxLength).</exception>
    public static unsafe void ForwardStep(in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, Span<float> output,
        Span<float> cache, ReadOnlySpan<float> memoryCache, ReadOnlySpan<int> memoryLengths, int position, int maxLength, int memorySeq,
        Span<float> workspace, int batch)
    {
        CheckStepGeometry(g, batch);
        if (!g.Causal)
            throw new ArgumentException(
                $"'{nameof(g)}' must be causal for incremental decoding: without the causal mask earlier positions would see later ones, so cached keys and values would change ({g}).",
                nameof(g));
        if (maxLength < 1) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"'{nameof(maxLength)}' must be at least 1 but is {maxLength}.");
        if (memorySeq < 1) throw new ArgumentOutOfRangeException(nameof(memorySeq), memorySeq, $"'{nameof(memorySeq)}' must be at least 1 but is {memorySeq}.");
        if (position < 0 || position >= maxLength)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"'{nameof(position)}' must be in [0, maxLength={maxLength}) but is {position}.");
        CheckStepLength(input.Length, (long)batch * g.Model, nameof(input), "[batch={0}, Model={1}]", batch, g.Model);
        CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), Shape.Parameters, g, batch, 1);
        CheckStepLength(output.Length, (long)batch * g.Model, nameof(output), "[batch={0}, Model={1}]", batch, g.Model);
        CheckStepLength(cache.Length, g.CacheLength(batch, maxLength), nameof(cache), "CacheLength(batch={0}, maxLength={1})", batch, maxLength);
        CheckStepLength(memoryCache.Length, g.MemoryCacheLength(batch, memorySeq), nameof(memoryCache), "MemoryCacheLength(batch={0}, memorySeq={1})", batch, memorySeq);
        if (!memoryLengths.IsEmpty)
        {
            CheckLength(memoryLengths.Length, batch, nameof(memoryLengths), Shape.Lengths, g, batch, memorySeq);
            for (int b = 0; b < memoryLengths.Length; b++)
                if (memoryLengths[b] < 1 || memoryLengths[b] > memorySeq)
                    throw new ArgumentException($"'{nameof(memoryLengths)}[{b}]' must be in [1, memorySeq={memorySeq}] but is {memoryLengths[b]}.", nameof(memoryLengths));
        }
        CheckWorkspace(workspace.Length, g.StepWorkspaceLength(batch, maxLength, memorySeq), "StepWorkspaceLength(batch={0}, maxLength={1}, memorySeq={2})", batch, maxLength, memorySeq);
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(parameters, output, nameof(parameters), nameof(output));
        ThrowHelper.CheckNoOverlap(workspace, output, nameof(workspace), nameof(output));
        ThrowHelper.CheckNoOverlap(cache, output, nameof(cache), nameof(output));
        ThrowHelper.CheckNoOverlap(memoryCache, output, nameof(memoryCache), nameof(output));
        ThrowHelper.CheckWritable(cache, nameof(cache), input, parameters, output, workspace);
        ThrowHelper.CheckNoOverlap(memoryCache, cache, nameof(memoryCache), nameof(cache));
        ThrowHelper.CheckNoOverlap(memoryCache, workspace, nameof(memoryCache), nameof(workspace));
        ThrowHelper.CheckNoOverlap(input, workspace, nameof(input), nameof(workspace));
        ThrowHelper.CheckNoOverlap(parameters, workspace, nameof(parameters), nameof(workspace));
        if (batch == 0) return;
        if (g.Activation == FeedForwardActivation.Gelu)
            StepCore(default(GeluActivation), g, input, parameters, output, cache, memoryCache, memoryLengths, position, maxLength, memorySeq, workspace, batch);
        else StepCore(default(ReluActivation), g, input, parameters, output, cache, memoryCache, memoryLengths, position, maxLength, memorySeq, workspace, batch);
    }

    private static unsafe void StepCore<TAct>(TAct act, in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, Span<float> output,
        Span<float> cache, ReadOnlySpan<float> memoryCache, ReadOnlySpan<int> memoryLengths, int position, int maxLength, int memorySeq, Span<float> workspace, int batch)
        where TAct : struct, IActivation
    {
        var layout = new DecoderStepWorkspace(g, batch, maxLength, memorySeq);
        int d = g.Model, ff = g.FeedForward, bd = batch * d;
        var sa = g.SelfAttention;
        var ca = g.CrossAttention;
        long selfCache = sa.CacheLength(batch, maxLength), memoryPerLayer = 2L * batch * memorySeq * d;
        input.CopyTo(output);   // the output holds the residual stream [batch, d] from here on
        fixed (float* p = parameters, y = output, mc = memoryCache, ws = workspace)
        fixed (int* mlen = memoryLengths)
        {
            float* a = ws + layout.A, att = ws + layout.Attention, hidden = ws + layout.Hidden;
            var selfStep = workspace.Slice((int)layout.SelfStep, (int)sa.StepWorkspaceLength(batch, maxLength));
            var aSpan = new ReadOnlySpan<float>(a, bd);
            var attSpan = new Span<float>(att, bd);
            for (int l = 0; l < g.Layers; l++)
            {
                var w = new LayerWeights(g, p, l);
                int selfOffset = (int)(w.SelfAttn - p);
                var selfParameters = parameters.Slice(selfOffset, sa.ParameterCount);
                var layerCache = cache.Slice((int)(l * selfCache), (int)selfCache);
                float* memory = mc + l * memoryPerLayer;
                if (g.NormFirst)
                {
                    // y = y + SA(LN1(y)); y = y + CA(LN2(y)); y = y + FF(LN3(y)).
                    LayerNorm(y, w.Norm1Weight, w.Norm1Bias, a, null, null, batch, d, g.Eps);
                    MultiHeadAttentionKernels.ForwardStep(sa, aSpan, default, selfParameters, attSpan, layerCache, position, maxLength, selfStep, batch);
                    RowOps.AddTo(ref att[0], ref y[0], (nuint)bd);
                    LayerNorm(y, w.Norm2Weight, w.Norm2Bias, a, null, null, batch, d, g.Eps);
                    CrossStep(ca, w, a, memory, mlen, memorySeq, ws + layout.Query, ws + layout.Output, ws + layout.Scores, batch);
                    LinearResidual(ws + layout.Output, w.CrossOutWeight, w.CrossOutBias, y, y, batch, d, d);
                    LayerNorm(y, w.Norm3Weight, w.Norm3Bias, a, null, null, batch, d, g.Eps);
                    Linear(act, a, w.Linear1Weight, w.Linear1Bias, hidden, null, batch, d, ff);
                    LinearResidual(hidden, w.Linear2Weight, w.Linear2Bias, y, y, batch, ff, d);
                }
                else
                {
                    // y = LN1(y + SA(y)); y = LN2(y + CA(y)); y = LN3(y + FF(y)). SA reads a copy: its input and output may not overlap.
                    new ReadOnlySpan<float>(y, bd).CopyTo(new Span<float>(a, bd));
                    MultiHeadAttentionKernels.ForwardStep(sa, aSpan, default, selfParameters, attSpan, layerCache, position, maxLength, selfStep, batch);
                    RowOps.AddTo(ref att[0], ref y[0], (nuint)bd);
                    LayerNorm(y, w.Norm1Weight, w.Norm1Bias, y, null, null, batch, d, g.Eps);
                    CrossStep(ca, w, y, memory, mlen, memorySeq, ws + layout.Query, ws + layout.Output, ws + layout.Scores, batch);
                    LinearResidual(ws + layout.Output, w.CrossOutWeight, w.CrossOutBias, y, y, batch, d, d);
                    LayerNorm(y, w.Norm2Weight, w.Norm2Bias, y, null, null, batch, d, g.Eps);
                    Linear(act, y, w.Linear1Weight, w.Linear1Bias, hidden, null, batch, d, ff);
                    LinearResidual(hidden, w.Linear2Weight, w.Linear2Bias, y, y, batch, ff, d);
                    LayerNorm(y, w.Norm3Weight, w.Norm3Bias, y, null, null, batch, d, g.Eps);
                }
            }
        }
    }

    /// <summary>
    /// One position's cross-attention before out_proj: q = x·W_qᵀ + b_q [batch, d], then per example and head the softmax-weighted sum of
    /// the memory cache's values over its real rows, into <paramref name="o"/> [batch, d].
    /// </summary>
    private static unsafe void CrossStep(in MultiHeadAttentionGeometry ca, in LayerWeights w, float* x, float* memory, int* memoryLengths, int memorySeq,
        float* q, float* o, float* scores, int batch)
    {
        int d = ca.Model, hs = ca.HeadSize, heads = ca.Heads;
        MultiHeadAttentionKernels.InProjections(ca, w.CrossAttn, out float* qw, out float* qb, out _, out _, out _, out _);
        Linear(default(IdentityActivation), x, qw, qb, q, null, batch, d, d);
        MultiHeadAttentionKernels.DecodeOverMemory(q, memory, memoryLengths, memorySeq, o, scores, batch, heads, hs);
    }

    private static void CheckStepGeometry(in TransformerDecoderGeometry g, int batch)
    {
        if (!g.IsValid)
            throw new ArgumentException($"'{nameof(g)}' is default({nameof(TransformerDecoderGeometry)}); create it with its constructor.", nameof(g));
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
    }

    // The descriptions are composite formats filled in only when throwing, so a valid call allocates nothing.
    private static void CheckStepLength(int actual, long expected, string operand, string format, int a, int b)
    {
        if (actual != expected)
            throw new ArgumentException($"'{operand}' must have {expected} elements ({string.Format(System.Globalization.CultureInfo.InvariantCulture, format, a, b)}) but has {actual}.", operand);
    }

    private static void CheckWorkspace(int actual, long need, string format, int a, int b, int c = 0)
    {
        if (actual < need)
            throw new ArgumentException(
                $"'workspace' must have at least {need} elements ({string.Format(System.Globalization.CultureInfo.InvariantCulture, format, a, b, c)}) but has {actual}.", "workspace");
    }
}
