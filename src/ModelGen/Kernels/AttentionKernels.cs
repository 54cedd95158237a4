// Scaled dot-product attention (the core of PyTorch's nn.MultiheadAttention / F.scaled_dot_product_attention), forward
// and backward, for q, k, v laid out [batch, seq, heads, headSize] with any row stride (so the three column blocks of a
// packed QKV projection [batch·seq, 3d] are read where they lie, no reshuffle). Per example b and head h:
//   S = Q·Kᵀ/√headSize;  S[i, j] = −∞ where key j is masked (j ≥ lengths[b], or causal and j > i);
//   P = softmax over j (each row);  O = P·V;  lse[i] = log Σ_j exp(S[i, j]) (kept for backward).
// Forward never materialises S: for a tile of QueryTile queries it walks the visible keys in tiles of KeyTile, computes
// that tile of scores, and folds it into the running row maximum m, the running sum l and the output accumulator with the
// online-softmax recurrence (FlashAttention): m' = max(m, max_j S_ij), l' = e^{m−m'}·l + Σ_j e^{S_ij−m'},
// O' = e^{m−m'}·O + Σ_j e^{S_ij−m'}·V_j; at the end O /= l and lse = m + log l. Masked keys are never read.
// When an example's keys fit one tile and no query masks any of them (not causal, no dropout), the scores are computed
// transposed instead (ForwardOneKeyTile): per-query max and sum become lane-wise, with no horizontal reduction per row.
// Backward (FlashAttention-2): with D_i = Σ_p dO[i, p]·O[i, p], for every key tile and every query tile that sees it,
// the scores are recomputed and P = exp(S − lse) (no softmax pass needed), dP = dO·Vᵀ, dS = P ⊙ (dP − D) (the softmax
// Jacobian: dS_ij = P_ij·(dP_ij − Σ_k P_ik·dP_ik) and Σ_k P_ik·dP_ik = dO_i·O_i = D_i), then
//   dV_j += Σ_i P_ij·dO_i,   dK_j += Σ_i dS_ij·Q_i/√headSize,   dQ_i += Σ_j dS_ij·K_j/√headSize.
// Attention-weight dropout (training, AttentionDropout): after the softmax, P̃ = P ⊙ M with M regenerated from a counter-based
// hash wherever a tile needs it; forward folds the undropped e^{S−m} into l and the dropped ones into O; backward uses
// dP = M ⊙ (dO·Vᵀ), dV = P̃ᵀ·dO, and D_i = dO_i·O_i still equals Σ_j P_ij·dP_ij because O is the dropped output.
// A query row past its example's length (padding) attends to the real keys like any other row (PyTorch's key padding
// mask masks keys only), so its output is finite and deterministic; real rows never read padded keys or values.
// Tile products: scores as [rows × keys] register tiles over a transposed key tile (vectorised along keys); the P·V,
// dS·K and dSᵀ·Q products as register tiles of 4 rows × 2 vectors along headSize, one broadcast coefficient per FMA
// pair, widest vector first then narrower ones and a scalar tail (odd head sizes hit every tier).
// Nothing here keeps state between calls: scratch comes from the caller's workspace (and, when KernelOptions.MaxThreads
// lets a call split its (example, head) pairs between threads, from each helper's own reused scratch), so calls are safe
// from many threads at once on distinct workspaces and outputs, and the bits do not depend on the thread count.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ModelGen.Optimizers.Simd;

namespace ModelGen.Kernels;

/// <summary>Fused, tiled scaled dot-product attention over several heads, forward and backward.</summary>
/// <remarks>
/// Per example b, head h, query i and head feature p (each row of q, k, v, output holds the heads one after another:
/// head h at columns <c>h·headSize .. (h+1)·headSize − 1</c>):
/// <c>S[i, j] = Σ_p q[b, i, h, p]·k[b, j, h, p] / √headSize</c> for visible keys j (j &lt; lengths[b], and j ≤ i when causal),
/// <c>output[b, i, h, :] = Σ_j softmax_j(S[i, :])·v[b, j, h, :]</c> and <c>logSumExp[b, i, h] = log Σ_j exp(S[i, j])</c>.
/// With a dropout probability (training), the weights softmax_j(S[i, :]) are multiplied by a mask regenerated from a seed (see
/// <see cref="Forward"/>) before the product with v.
/// Results may differ from a float64 computation in the last bits (fused multiply-add, vectorised exp, tiled summation order).
/// </remarks>
public static class AttentionKernels
{
    /// <summary>Queries per tile (rows of a score tile).</summary>
    internal const int QueryTile = 32;

    /// <summary>Keys per tile (columns of a score tile; a multiple of every vector width).</summary>
    internal const int KeyTile = 64;

    /// <summary>Scratch floats <see cref="Forward"/> and <see cref="Backward"/> need: two transposed key/value tiles, two score tiles and per-row state.</summary>
    /// <param name="seq">Positions per example.</param>
    /// <param name="headSize">Features per head.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    public static long WorkspaceLength(int seq, int headSize)
    {
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        ThrowHelper.CheckNonNegative(headSize, nameof(headSize));
        return Layout.Length(seq, headSize);
    }

    /// <summary>
    /// Effectively computes, per example b, head h and position i,
    /// <c>output[b, i, h, :] = Σ_j softmax_j(q[b, i, h, :]·k[b, j, h, :]/√headSize)·v[b, j, h, :]</c> over the visible keys j
    /// (<c>j &lt; lengths[b]</c>, and <c>j ≤ i</c> when <paramref name="causal"/>), and stores
    /// <c>logSumExp[b, i, h] = log Σ_j exp(q[b, i, h, :]·k[b, j, h, :]/√headSize)</c> for <see cref="Backward"/>.
    /// </summary>
    /// <param name="query">Queries: row r = b·seq + i holds <c>heads·headSize</c> floats at <c>r·inputStride</c>.</param>
    /// <param name="key">Keys, laid out as <paramref name="query"/>.</param>
    /// <param name="value">Values, laid out as <paramref name="query"/>.</param>
    /// <param name="inputStride">Floats between consecutive rows of query, key and value (at least heads·headSize; 3·heads·headSize for a packed QKV projection).</param>
    /// <param name="output">Output rows of <c>heads·headSize</c> floats at <c>r·outputStride</c>; must not overlap the inputs.</param>
    /// <param name="outputStride">Floats between consecutive output rows (at least heads·headSize).</param>
    /// <param name="logSumExp">Receives <c>[batch, seq, heads]</c> for <see cref="Backward"/>, or empty (inference).</param>
    /// <param name="lengths">Real positions per example <c>[batch]</c>, each in [1, seq]; empty means all <paramref name="seq"/>. Keys at
    /// positions ≥ lengths[b] are masked (never read); query rows there attend to the real keys.</param>
    /// <param name="causal">Mask keys after the query's own position.</param>
    /// <param name="workspace">Scratch of at least <see cref="WorkspaceLength"/>(seq, headSize) floats (contents are overwritten).</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="heads">Heads per row.</param>
    /// <param name="headSize">Features per head.</param>
    /// <param name="dropout">Training only: probability of dropping an attention weight (PyTorch's <c>nn.MultiheadAttention(dropout)</c>), in [0, 1]:
    /// the output becomes <c>Σ_j softmax_j(S[i, :])·M[b, h, i, j]·v[b, j, h, :]</c> with <c>M = (u ≥ dropout)/(1 − dropout)</c>, where u is a
    /// counter-based hash of (<paramref name="dropoutSeed"/>, b, h, i, j) in [0, 1), so <see cref="Backward"/> given the same seed regenerates
    /// the same mask; the softmax (and <paramref name="logSumExp"/>) is that of the undropped scores. 0 (the default) hashes nothing.</param>
    /// <param name="dropoutSeed">The mask's seed (a new one per training step); ignored when <paramref name="dropout"/> is 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, <paramref name="heads"/> or <paramref name="headSize"/> is less than 1, a stride is
    /// less than heads·headSize, or <paramref name="dropout"/> is outside [0, 1].</exception>
    /// <exception cref="ArgumentException">A span is too short for its rows, a length is outside [1, seq], or an output span overlaps another operand.</exception>
    public static unsafe void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, int inputStride,
        Span<float> output, int outputStride, Span<float> logSumExp, ReadOnlySpan<int> lengths, bool causal,
        Span<float> workspace, int batch, int seq, int heads, int headSize, float dropout = 0f, ulong dropoutSeed = 0)
    {
        CheckSizes(batch, seq, heads, headSize, inputStride, outputStride, nameof(outputStride));
        CheckDropout(dropout);
        long rows = (long)batch * seq;
        int width = heads * headSize;
        CheckRows(query.Length, nameof(query), rows, width, inputStride);
        CheckRows(key.Length, nameof(key), rows, width, inputStride);
        CheckRows(value.Length, nameof(value), rows, width, inputStride);
        CheckRows(output.Length, nameof(output), rows, width, outputStride);
        if (!logSumExp.IsEmpty) ThrowHelper.CheckShape(logSumExp.Length, nameof(logSumExp), "batch·seq", (int)Math.Min(rows, int.MaxValue), nameof(heads), heads, orEmpty: true);
        CheckLengths(lengths, batch, seq);
        CheckWorkspace(workspace, seq, headSize);
        CheckWritten(output, nameof(output), query, key, value);
        CheckWritten(logSumExp, nameof(logSumExp), query, key, value);
        CheckWritten(workspace, nameof(workspace), query, key, value);
        ThrowHelper.CheckNoOverlap(output, logSumExp, nameof(output), nameof(logSumExp));
        ThrowHelper.CheckNoOverlap(output, workspace, nameof(output), nameof(workspace));
        ThrowHelper.CheckNoOverlap(logSumExp, workspace, nameof(logSumExp), nameof(workspace));
        if (rows == 0) return;
        fixed (float* q = query, k = key, v = value, o = output, lse = logSumExp, ws = workspace)
        fixed (int* len = lengths)
            ForwardUnchecked(q, k, v, inputStride, o, outputStride, lse, len, causal, ws, batch, seq, heads, headSize, new AttentionDropout(dropout, dropoutSeed));
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: given <c>dOutput = ∂L/∂output</c>, writes <c>dQuery = ∂L/∂query</c>, <c>dKey = ∂L/∂key</c>
    /// and <c>dValue = ∂L/∂value</c> (overwritten; 0 at key rows no query sees, i.e. padded positions), recomputing the scores
    /// tile by tile from <paramref name="logSumExp"/>.
    /// </summary>
    /// <param name="dOutput">Gradient with respect to the output, laid out as <paramref name="output"/>.</param>
    /// <param name="query">The queries given to <see cref="Forward"/>.</param>
    /// <param name="key">The keys given to <see cref="Forward"/>.</param>
    /// <param name="value">The values given to <see cref="Forward"/>.</param>
    /// <param name="inputStride">Row stride of query, key and value.</param>
    /// <param name="output">The output <see cref="Forward"/> wrote.</param>
    /// <param name="outputStride">Row stride of output and dOutput.</param>
    /// <param name="logSumExp">The <c>[batch, seq, heads]</c> log-sum-exp <see cref="Forward"/> stored.</param>
    /// <param name="dQuery">Receives the query gradient, rows of heads·headSize at <paramref name="gradientStride"/>.</param>
    /// <param name="dKey">Receives the key gradient, laid out as <paramref name="dQuery"/>.</param>
    /// <param name="dValue">Receives the value gradient, laid out as <paramref name="dQuery"/>. The three gradients may interleave
    /// (the column blocks of one packed [batch·seq, 3·heads·headSize] buffer) but must not overlap the other operands.</param>
    /// <param name="gradientStride">Row stride of dQuery, dKey and dValue.</param>
    /// <param name="lengths">The lengths given to <see cref="Forward"/>.</param>
    /// <param name="causal">As given to <see cref="Forward"/>.</param>
    /// <param name="workspace">Scratch of at least <see cref="WorkspaceLength"/>(seq, headSize) floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="heads">Heads per row.</param>
    /// <param name="headSize">Features per head.</param>
    /// <param name="dropout">The dropout given to <see cref="Forward"/>.</param>
    /// <param name="dropoutSeed">The seed given to <see cref="Forward"/> (the mask is regenerated from it, tile by tile).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, <paramref name="heads"/> or <paramref name="headSize"/> is less than 1, a stride is
    /// less than heads·headSize, or <paramref name="dropout"/> is outside [0, 1].</exception>
    /// <exception cref="ArgumentException">A span is too short for its rows, a length is outside [1, seq], or a gradient overlaps an input, the workspace or the log-sum-exp.</exception>
    public static unsafe void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value,
        int inputStride, ReadOnlySpan<float> output, int outputStride, ReadOnlySpan<float> logSumExp,
        Span<float> dQuery, Span<float> dKey, Span<float> dValue, int gradientStride,
        ReadOnlySpan<int> lengths, bool causal, Span<float> workspace, int batch, int seq, int heads, int headSize, float dropout = 0f, ulong dropoutSeed = 0)
    {
        CheckSizes(batch, seq, heads, headSize, inputStride, outputStride, nameof(outputStride));
        CheckDropout(dropout);
        if (gradientStride < heads * headSize)
            throw new ArgumentOutOfRangeException(nameof(gradientStride), gradientStride,
                $"'{nameof(gradientStride)}' must be at least heads·headSize = {heads * headSize} but is {gradientStride}.");
        long rows = (long)batch * seq;
        int width = heads * headSize;
        CheckRows(dOutput.Length, nameof(dOutput), rows, width, outputStride);
        CheckRows(query.Length, nameof(query), rows, width, inputStride);
        CheckRows(key.Length, nameof(key), rows, width, inputStride);
        CheckRows(value.Length, nameof(value), rows, width, inputStride);
        CheckRows(output.Length, nameof(output), rows, width, outputStride);
        ThrowHelper.CheckShape(logSumExp.Length, nameof(logSumExp), "batch·seq", (int)Math.Min(rows, int.MaxValue), nameof(heads), heads);
        CheckRows(dQuery.Length, nameof(dQuery), rows, width, gradientStride);
        CheckRows(dKey.Length, nameof(dKey), rows, width, gradientStride);
        CheckRows(dValue.Length, nameof(dValue), rows, width, gradientStride);
        CheckLengths(lengths, batch, seq);
        CheckWorkspace(workspace, seq, headSize);
        CheckGradient(dQuery, nameof(dQuery), dOutput, query, key, value, output, logSumExp, workspace);
        CheckGradient(dKey, nameof(dKey), dOutput, query, key, value, output, logSumExp, workspace);
        CheckGradient(dValue, nameof(dValue), dOutput, query, key, value, output, logSumExp, workspace);
        CheckWritten(workspace, nameof(workspace), query, key, value);
        ThrowHelper.CheckNoOverlap(dOutput, workspace, nameof(dOutput), nameof(workspace));
        ThrowHelper.CheckNoOverlap(output, workspace, nameof(output), nameof(workspace));
        ThrowHelper.CheckNoOverlap(logSumExp, workspace, nameof(logSumExp), nameof(workspace));
        if (rows == 0) return;
        fixed (float* dy = dOutput, q = query, k = key, v = value, o = output, lse = logSumExp, dq = dQuery, dk = dKey, dv = dValue, ws = workspace)
        fixed (int* len = lengths)
            BackwardUnchecked(dy, q, k, v, inputStride, o, outputStride, lse, dq, dk, dv, gradientStride, len, causal, ws, batch, seq, heads, headSize,
                new AttentionDropout(dropout, dropoutSeed));
    }

    // ------------------------------------------------------------------------------------------------ unchecked cores

    /// <summary><see cref="Forward"/> without validation (the transformer kernels validate their own buffers). lse and lengths may be null.</summary>
    internal static unsafe void ForwardUnchecked(float* q, float* k, float* v, int ldIn, float* o, int ldOut, float* lse, int* lengths, bool causal,
        float* ws, int batch, int seq, int heads, int headSize, AttentionDropout dropout = default)
        => ForwardUnchecked(q, k, v, ldIn, o, ldOut, lse, lengths, causal, ws, batch, seq, heads, headSize, seq, dropout);

    /// <summary>
    /// <see cref="Forward"/> without validation, with <paramref name="keySeq"/> keys per example (cross-attention over a memory of its own
    /// length: q and o rows are <c>b·seq + i</c>, k and v rows <c>b·keySeq + j</c>). <paramref name="lengths"/> are the keys' real lengths,
    /// each in [1, keySeq]; lse and lengths may be null. The workspace is <see cref="WorkspaceLength"/>(seq, headSize). The dropout mask is
    /// keyed by the memory key index j.
    /// </summary>
    internal static unsafe void ForwardUnchecked(float* q, float* k, float* v, int ldIn, float* o, int ldOut, float* lse, int* lengths, bool causal,
        float* ws, int batch, int seq, int heads, int headSize, int keySeq, AttentionDropout dropout = default)
    {
        int pairs = batch * heads, parts = ParallelParts(pairs, seq, keySeq, headSize);
        if (parts > 1)
            AttentionJob.Run(null, q, k, v, ldIn, o, ldOut, lse, null, null, null, 0, lengths, causal, ws, seq, heads, headSize, keySeq, dropout, pairs, parts);
        else ForwardPairs(q, k, v, ldIn, o, ldOut, lse, lengths, causal, ws, 0, pairs, seq, heads, headSize, keySeq, dropout);
    }

    /// <summary>The forward of the (example, head) pairs <c>b·heads + h</c> in [<paramref name="pair0"/>, <paramref name="pair1"/>), at the widest vector width.</summary>
    private static unsafe void ForwardPairs(float* q, float* k, float* v, int ldIn, float* o, int ldOut, float* lse, int* lengths, bool causal,
        float* ws, int pair0, int pair1, int seq, int heads, int headSize, int keySeq, AttentionDropout dropout)
    {
        if (V512.IsAccelerated) ForwardCore<Vector512<float>, V512>(q, k, v, ldIn, o, ldOut, lse, lengths, causal, ws, pair0, pair1, seq, heads, headSize, keySeq, dropout);
        else if (V256.IsAccelerated) ForwardCore<Vector256<float>, V256>(q, k, v, ldIn, o, ldOut, lse, lengths, causal, ws, pair0, pair1, seq, heads, headSize, keySeq, dropout);
        else if (V128.IsAccelerated) ForwardCore<Vector128<float>, V128>(q, k, v, ldIn, o, ldOut, lse, lengths, causal, ws, pair0, pair1, seq, heads, headSize, keySeq, dropout);
        else ForwardCore<float, Scalar>(q, k, v, ldIn, o, ldOut, lse, lengths, causal, ws, pair0, pair1, seq, heads, headSize, keySeq, dropout);
    }

    /// <summary><see cref="Backward"/> without validation. lengths may be null.</summary>
    internal static unsafe void BackwardUnchecked(float* dy, float* q, float* k, float* v, int ldIn, float* o, int ldOut, float* lse,
        float* dq, float* dk, float* dv, int ldGrad, int* lengths, bool causal, float* ws, int batch, int seq, int heads, int headSize,
        AttentionDropout dropout = default)
        => BackwardUnchecked(dy, q, k, v, ldIn, o, ldOut, lse, dq, dk, dv, ldGrad, lengths, causal, ws, batch, seq, heads, headSize, seq, dropout);

    /// <summary>
    /// <see cref="Backward"/> without validation, with <paramref name="keySeq"/> keys per example (as the matching
    /// <see cref="ForwardUnchecked(float*, float*, float*, int, float*, int, float*, int*, bool, float*, int, int, int, int, int, AttentionDropout)"/>,
    /// whose dropout it must be given to regenerate the same mask): dk and dv rows are <c>b·keySeq + j</c>. lengths may be null.
    /// </summary>
    internal static unsafe void BackwardUnchecked(float* dy, float* q, float* k, float* v, int ldIn, float* o, int ldOut, float* lse,
        float* dq, float* dk, float* dv, int ldGrad, int* lengths, bool causal, float* ws, int batch, int seq, int heads, int headSize, int keySeq,
        AttentionDropout dropout = default)
    {
        int pairs = batch * heads, parts = ParallelParts(pairs, seq, keySeq, headSize);
        if (parts > 1)
            AttentionJob.Run(dy, q, k, v, ldIn, o, ldOut, lse, dq, dk, dv, ldGrad, lengths, causal, ws, seq, heads, headSize, keySeq, dropout, pairs, parts);
        else BackwardPairs(dy, q, k, v, ldIn, o, ldOut, lse, dq, dk, dv, ldGrad, lengths, causal, ws, 0, pairs, seq, heads, headSize, keySeq, dropout);
    }

    /// <summary>The backward of the (example, head) pairs in [<paramref name="pair0"/>, <paramref name="pair1"/>), at the widest vector width.</summary>
    private static unsafe void BackwardPairs(float* dy, float* q, float* k, float* v, int ldIn, float* o, int ldOut, float* lse,
        float* dq, float* dk, float* dv, int ldGrad, int* lengths, bool causal, float* ws, int pair0, int pair1, int seq, int heads, int headSize, int keySeq,
        AttentionDropout dropout)
    {
        if (V512.IsAccelerated) BackwardCore<Vector512<float>, V512>(dy, q, k, v, ldIn, o, ldOut, lse, dq, dk, dv, ldGrad, lengths, causal, ws, pair0, pair1, seq, heads, headSize, keySeq, dropout);
        else if (V256.IsAccelerated) BackwardCore<Vector256<float>, V256>(dy, q, k, v, ldIn, o, ldOut, lse, dq, dk, dv, ldGrad, lengths, causal, ws, pair0, pair1, seq, heads, headSize, keySeq, dropout);
        else if (V128.IsAccelerated) BackwardCore<Vector128<float>, V128>(dy, q, k, v, ldIn, o, ldOut, lse, dq, dk, dv, ldGrad, lengths, causal, ws, pair0, pair1, seq, heads, headSize, keySeq, dropout);
        else BackwardCore<float, Scalar>(dy, q, k, v, ldIn, o, ldOut, lse, dq, dk, dv, ldGrad, lengths, causal, ws, pair0, pair1, seq, heads, headSize, keySeq, dropout);
    }

    /// <summary>
    /// How many threads one attention call uses under <see cref="KernelOptions.MaxThreads"/>: at least two (example, head) pairs and
    /// about <see cref="Gemm.ParallelMinMacs"/> multiply-adds of scores (waking a helper for less costs more than it saves).
    /// </summary>
    internal static int ParallelParts(int pairs, int seq, int keySeq, int headSize)
    {
        int threads = KernelOptions.EffectiveThreads;
        return threads > 1 && pairs > 1 && (long)pairs * seq * keySeq * headSize >= Gemm.ParallelMinMacs ? Math.Min(threads, pairs) : 1;
    }

    /// <summary>
    /// One attention call (forward, or backward when dy is not null) split between threads by (example, head) pair. Every pair's
    /// outputs (its output rows and log-sum-exp, or its dQ, dK, dV columns) are disjoint from every other's and computed by the same
    /// code whichever thread claims it, so the bits do not depend on the thread count. Threads claim pairs one at a time from a
    /// counter, so a helper that wakes late (or a core another process holds) costs at most about one pair at the end. The
    /// caller's thread uses the caller's workspace; a helper uses a thread-static scratch of its own (allocated once, then reused).
    /// A per-caller instance is reused, so steady-state calls allocate nothing.
    /// </summary>
    private sealed unsafe class AttentionJob : ParallelJob
    {
        [ThreadStatic] private static AttentionJob? t_job;
        [ThreadStatic] private static float[]? t_scratch;

        private float* _dy, _q, _k, _v, _o, _lse, _dq, _dk, _dv, _ws;
        private int* _lengths;
        private int _ldIn, _ldOut, _ldGrad, _seq, _heads, _hs, _keySeq, _pairs, _caller;
        private bool _causal;
        private AttentionDropout _dropout;
        private int _next;   // the next unclaimed pair

        public static void Run(float* dy, float* q, float* k, float* v, int ldIn, float* o, int ldOut, float* lse, float* dq, float* dk, float* dv,
            int ldGrad, int* lengths, bool causal, float* ws, int seq, int heads, int hs, int keySeq, AttentionDropout dropout, int pairs, int parts)
        {
            AttentionJob job = t_job ??= new AttentionJob();
            job._dy = dy;
            job._q = q;
            job._k = k;
            job._v = v;
            job._o = o;
            job._lse = lse;
            job._dq = dq;
            job._dk = dk;
            job._dv = dv;
            job._ws = ws;
            job._lengths = lengths;
            (job._ldIn, job._ldOut, job._ldGrad, job._seq, job._heads, job._hs, job._keySeq, job._pairs) = (ldIn, ldOut, ldGrad, seq, heads, hs, keySeq, pairs);
            (job._causal, job._dropout) = (causal, dropout);
            job._caller = Environment.CurrentManagedThreadId;
            // Reset here, not in Prepare: a call that finds the helpers busy runs Execute(0, 1) without Prepare.
            job._next = 0;
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job._dy = job._q = job._k = job._v = job._o = job._lse = job._dq = job._dk = job._dv = job._ws = null;   // valid only for this call
                job._lengths = null;
            }
        }

        public override void Execute(int part, int parts)
        {
            float* ws = Environment.CurrentManagedThreadId == _caller ? _ws : HelperScratch(Layout.Length(_seq, _hs));
            for (int pair; (pair = Interlocked.Increment(ref _next) - 1) < _pairs;)
            {
                if (_dy == null) ForwardPairs(_q, _k, _v, _ldIn, _o, _ldOut, _lse, _lengths, _causal, ws, pair, pair + 1, _seq, _heads, _hs, _keySeq, _dropout);
                else BackwardPairs(_dy, _q, _k, _v, _ldIn, _o, _ldOut, _lse, _dq, _dk, _dv, _ldGrad, _lengths, _causal, ws, pair, pair + 1, _seq, _heads, _hs,
                    _keySeq, _dropout);
            }
        }

        /// <summary>This helper thread's attention workspace of at least <paramref name="length"/> floats (pinned; grows, never shrinks).</summary>
        private static float* HelperScratch(long length)
        {
            if (t_scratch is null || t_scratch.Length < length) t_scratch = GC.AllocateUninitializedArray<float>((int)length, pinned: true);
            return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(t_scratch));
        }
    }

    /// <summary>
    /// One query against <paramref name="count"/> cached keys and values (incremental decoding): <c>o = Σ_j softmax_j(q·k_j/√headSize)·v_j</c>
    /// with k_j, v_j the contiguous rows <c>[count, headSize]</c> of one head's cache. <paramref name="scores"/> holds <c>[count]</c> floats.
    /// </summary>
    internal static unsafe void Decode(float* q, float* kCache, float* vCache, int count, float* o, float* scores, int headSize)
    {
        float scale = 1f / MathF.Sqrt(headSize);
        for (int j = 0; j < count; j++)
            scores[j] = scale * RowOps.Dot(ref q[0], ref kCache[(nint)j * headSize], (nuint)headSize);
        float max = RowOps.Max(ref scores[0], (nuint)count);
        float sum = RowOps.ExpShiftSum(ref scores[0], ref scores[0], (nuint)count, max, store: true);
        new Span<float>(o, headSize).Clear();
        AccumulateRows(scores, 0, vCache, headSize, o, headSize, 1, count, headSize);
        RowOps.Scale(ref o[0], ref o[0], (nuint)headSize, 1f / sum);
    }

    // ------------------------------------------------------------------------------------------------ forward

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ForwardCore<TV, TOps>(float* q, float* k, float* v, int ldIn, float* o, int ldOut, float* lse, int* lengths,
        bool causal, float* ws, int pair0, int pair1, int seq, int heads, int hs, int keySeq, AttentionDropout dropout) where TV : struct where TOps : ISimdOps<TV>
    {
        var layout = new Layout(seq, hs);
        float* kt = ws + layout.KeyT;     // [hs, KeyTile] keys of the tile, transposed, zero-padded to whole vectors
        float* s = ws + layout.Scores;    // [QueryTile, KeyTile] scores, then probabilities
        float* m = ws + layout.RowMax;    // [QueryTile] running maximum
        float* l = ws + layout.RowSum;    // [QueryTile] running sum
        float scale = 1f / MathF.Sqrt(hs);
        int w = TOps.Count;
        for (int pair = pair0; pair < pair1; pair++)
        {
            int b = pair / heads, h = pair % heads;
            int len = lengths == null ? keySeq : lengths[b];
            long row0 = (long)b * seq, key0 = (long)b * keySeq;
            float* qb = q + row0 * ldIn + h * hs, kb = k + key0 * ldIn + h * hs, vb = v + key0 * ldIn + h * hs;   // [seq | keySeq, hs] at ldIn
            float* ob = o + row0 * ldOut + h * hs;                                                                 // [seq, hs] at ldOut
            if (!causal && !dropout.Active && len <= KeyTile)
            {
                ForwardOneKeyTile<TV, TOps>(qb, kb, vb, ldIn, ob, ldOut, lse == null ? null : lse + row0 * heads + h, heads, kt, s, m, l, seq, len, hs, scale);
                continue;
            }
            int tileStart = -1, tileCols = 0;   // the key tile kt holds for this head (query tiles that see the same keys reuse it)
            for (int i0 = 0; i0 < seq; i0 += QueryTile)
            {
                int rows = Math.Min(QueryTile, seq - i0);
                int keyEnd = causal ? Math.Min(len, i0 + rows) : len;   // keys any row of this tile sees
                for (int r = 0; r < rows; r++)
                {
                    m[r] = float.NegativeInfinity;
                    l[r] = 0f;
                    new Span<float>(ob + (long)(i0 + r) * ldOut, hs).Clear();
                }
                for (int j0 = 0; j0 < keyEnd; j0 += KeyTile)
                {
                    int cols = Math.Min(KeyTile, keyEnd - j0), padded = (cols + w - 1) / w * w;
                    if (j0 != tileStart || cols != tileCols)
                    {
                        Transpose(kb + (long)j0 * ldIn, ldIn, kt, padded, cols, hs);
                        (tileStart, tileCols) = (j0, cols);
                    }
                    Scores<TV, TOps>(qb + (long)i0 * ldIn, ldIn, kt, padded, s, KeyTile, rows, padded, hs, scale);
                    int nMax = 0;
                    for (int r = 0; r < rows; r++)
                    {
                        float* sr = s + r * KeyTile;
                        int n = Math.Clamp(Visible(i0 + r, len, causal) - j0, 0, cols);
                        if (n == 0)
                        {
                            // Nothing visible in this tile: the row must add nothing when the tile's rows share the P·V loop.
                            new Span<float>(sr, padded).Clear();
                            continue;
                        }
                        // Keys this row does not see score −∞, so their e^{s − m} is exactly 0.
                        for (int c = n; c < padded; c++) sr[c] = float.NegativeInfinity;
                        // Online softmax: fold this tile's scores into the row's running max and sum.
                        float mNew = MathF.Max(m[r], RowMax<TV, TOps>(sr, padded));
                        float sum = ExpRow<TV, TOps>(sr, padded, mNew);
                        // Attention dropout acts after the softmax: l keeps the undropped sum, only P·V sees the mask.
                        if (dropout.Active) dropout.Apply<TV, TOps>(sr, padded, dropout.RowKey(b, h, i0 + r), j0);
                        if (l[r] != 0f)
                        {
                            // Rescale what earlier tiles accumulated (on the first tile the row is still 0).
                            float alpha = MathF.Exp(m[r] - mNew);
                            l[r] *= alpha;
                            if (alpha != 1f) ScaleRow(ob + (long)(i0 + r) * ldOut, hs, alpha);
                        }
                        l[r] += sum;
                        m[r] = mNew;
                        nMax = Math.Max(nMax, n);
                    }
                    AccumulateRows(s, KeyTile, vb + (long)j0 * ldIn, ldIn, ob + (long)i0 * ldOut, ldOut, rows, nMax, hs);
                }
                for (int r = 0; r < rows; r++)
                {
                    ScaleRow(ob + (long)(i0 + r) * ldOut, hs, 1f / l[r]);
                    if (lse != null) lse[(row0 + i0 + r) * heads + h] = m[r] + MathF.Log(l[r]);
                }
            }
        }
    }

    /// <summary>
    /// One example and head whose visible keys all fit one tile, with every query seeing all of them (not causal, no dropout):
    /// the scores are computed transposed, Sᵀ [keys, queries] vectorised along queries, so each query's max and sum over the keys
    /// are lane-wise maxima and sums down the tile: no horizontal reduction per query row, and no online rescaling (with one tile,
    /// m and l are final at once). The scores (the same products summed in the same order), their exponentials and the P·V sums
    /// (<see cref="AccumulateColumns"/> adds the keys in order) are the tiled path's bit for bit; only l is summed in another order.
    /// Measured at W5's shape (4 heads, 64 positions, head size 32; Zen 4, 512 bits): attention alone 0.84× the tiled path's CPU time (paired A/B).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ForwardOneKeyTile<TV, TOps>(float* qb, float* kb, float* vb, int ldIn, float* ob, int ldOut, float* lse, int lseStride,
        float* qt, float* st, float* m, float* l, int seq, int len, int hs, float scale) where TV : struct where TOps : ISimdOps<TV>
    {
        // qt [hs, ≤ QueryTile] this tile's queries transposed; st [len, QueryTile] the scores Sᵀ, then e^{S − m}; m, l [QueryTile].
        int w = TOps.Count;
        for (int i0 = 0; i0 < seq; i0 += QueryTile)
        {
            int rows = Math.Min(QueryTile, seq - i0), padded = (rows + w - 1) / w * w;
            Transpose(qb + (long)i0 * ldIn, ldIn, qt, padded, rows, hs);   // zero past the tile's queries: their lanes score 0, unused
            Scores<TV, TOps>(kb, ldIn, qt, padded, st, QueryTile, len, padded, hs, scale);
            for (int c = 0; c < padded; c += w)
            {
                // Four independent chains per column of lanes: the max and the sum are latency-bound otherwise.
                float* col = st + c;
                TV m0 = TOps.Load(ref col[0], 0), m1 = m0, m2 = m0, m3 = m0;
                int j = 1;
                for (; j + 4 <= len; j += 4)
                {
                    m0 = MaxNative(m0, TOps.Load(ref col[j * QueryTile], 0));
                    m1 = MaxNative(m1, TOps.Load(ref col[(j + 1) * QueryTile], 0));
                    m2 = MaxNative(m2, TOps.Load(ref col[(j + 2) * QueryTile], 0));
                    m3 = MaxNative(m3, TOps.Load(ref col[(j + 3) * QueryTile], 0));
                }
                for (; j < len; j++) m0 = MaxNative(m0, TOps.Load(ref col[j * QueryTile], 0));
                TV mx = MaxNative(MaxNative(m0, m1), MaxNative(m2, m3));
                TV s0 = TOps.Create(0f), s1 = s0, s2 = s0, s3 = s0;
                j = 0;
                for (; j + 4 <= len; j += 4)
                {
                    s0 = TOps.Add(s0, ExpStore<TV, TOps>(col + j * QueryTile, mx));
                    s1 = TOps.Add(s1, ExpStore<TV, TOps>(col + (j + 1) * QueryTile, mx));
                    s2 = TOps.Add(s2, ExpStore<TV, TOps>(col + (j + 2) * QueryTile, mx));
                    s3 = TOps.Add(s3, ExpStore<TV, TOps>(col + (j + 3) * QueryTile, mx));
                }
                for (; j < len; j++) s0 = TOps.Add(s0, ExpStore<TV, TOps>(col + j * QueryTile, mx));
                TOps.Store(mx, ref m[c], 0);
                TOps.Store(TOps.Add(TOps.Add(s0, s1), TOps.Add(s2, s3)), ref l[c], 0);
            }
            for (int r = 0; r < rows; r++) new Span<float>(ob + (long)(i0 + r) * ldOut, hs).Clear();
            AccumulateColumns(st, QueryTile, vb, ldIn, ob + (long)i0 * ldOut, ldOut, len, rows, hs);   // O += (Sᵀ)ᵀ·V
            for (int r = 0; r < rows; r++)
            {
                ScaleRow(ob + (long)(i0 + r) * ldOut, hs, 1f / l[r]);
                if (lse != null) lse[(long)(i0 + r) * lseStride] = m[r] + MathF.Log(l[r]);
            }
        }
    }

    /// <summary>x[0..w) = e^{x − shift} (x ≤ shift); returns the stored vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe TV ExpStore<TV, TOps>(float* x, TV shift) where TV : struct where TOps : ISimdOps<TV>
    {
        TV e = Exp(TOps.Subtract(TOps.Load(ref x[0], 0), shift));
        TOps.Store(e, ref x[0], 0);
        return e;
    }

    /// <summary>
    /// Lane-wise max without IEEE −0/NaN ordering (one vmaxps; Vector*.Max costs a range and two fix-ups per vector on x64). A NaN score
    /// may be dropped from the max, but its own e^{s − m} is NaN, so it still reaches the output as the tiled path's does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV MaxNative<TV>(TV a, TV b) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Unsafe.BitCast<Vector512<float>, TV>(Vector512.MaxNative(Unsafe.BitCast<TV, Vector512<float>>(a), Unsafe.BitCast<TV, Vector512<float>>(b)));
        if (typeof(TV) == typeof(Vector256<float>)) return Unsafe.BitCast<Vector256<float>, TV>(Vector256.MaxNative(Unsafe.BitCast<TV, Vector256<float>>(a), Unsafe.BitCast<TV, Vector256<float>>(b)));
        if (typeof(TV) == typeof(Vector128<float>)) return Unsafe.BitCast<Vector128<float>, TV>(Vector128.MaxNative(Unsafe.BitCast<TV, Vector128<float>>(a), Unsafe.BitCast<TV, Vector128<float>>(b)));
        return Unsafe.BitCast<float, TV>(float.MaxNative(Unsafe.BitCast<TV, float>(a), Unsafe.BitCast<TV, float>(b)));
    }

    // ------------------------------------------------------------------------------------------------ backward

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void BackwardCore<TV, TOps>(float* dy, float* q, float* k, float* v, int ldIn, float* o, int ldOut, float* lse,
        float* dq, float* dk, float* dv, int ldGrad, int* lengths, bool causal, float* ws, int pair0, int pair1, int seq, int heads, int hs, int keySeq,
        AttentionDropout dropout) where TV : struct where TOps : ISimdOps<TV>
    {
        var layout = new Layout(seq, hs);
        float* kt = ws + layout.KeyT;     // [hs, KeyTile] keys of the tile, transposed
        float* vt = ws + layout.ValueT;   // [hs, KeyTile] values of the tile, transposed
        float* p = ws + layout.Scores;    // [QueryTile, KeyTile] recomputed probabilities P
        float* ds = ws + layout.Grads;    // [QueryTile, KeyTile] dP, then dS/√hs
        float* dd = ws + layout.Delta;    // [seq] D_i = dO_i·O_i
        float scale = 1f / MathF.Sqrt(hs);
        int w = TOps.Count;
        for (int pair = pair0; pair < pair1; pair++)
        {
            int b = pair / heads, h = pair % heads;
            int len = lengths == null ? keySeq : lengths[b];
            long row0 = (long)b * seq, key0 = (long)b * keySeq;
            float* qb = q + row0 * ldIn + h * hs, kb = k + key0 * ldIn + h * hs, vb = v + key0 * ldIn + h * hs;   // [seq | keySeq, hs] at ldIn
            float* ob = o + row0 * ldOut + h * hs, dyb = dy + row0 * ldOut + h * hs;                               // [seq, hs] at ldOut
            float* dqb = dq + row0 * ldGrad + h * hs, dkb = dk + key0 * ldGrad + h * hs, dvb = dv + key0 * ldGrad + h * hs;
            for (int i = 0; i < seq; i++)
            {
                dd[i] = RowOps.Dot(ref dyb[(long)i * ldOut], ref ob[(long)i * ldOut], (nuint)hs);
                new Span<float>(dqb + (long)i * ldGrad, hs).Clear();
            }
            for (int j = 0; j < keySeq; j++)
            {
                new Span<float>(dkb + (long)j * ldGrad, hs).Clear();
                new Span<float>(dvb + (long)j * ldGrad, hs).Clear();
            }
            for (int j0 = 0; j0 < len; j0 += KeyTile)
            {
                int cols = Math.Min(KeyTile, len - j0), padded = (cols + w - 1) / w * w;
                Transpose(kb + (long)j0 * ldIn, ldIn, kt, padded, cols, hs);
                Transpose(vb + (long)j0 * ldIn, ldIn, vt, padded, cols, hs);
                // Causal: queries before j0 see none of this tile's keys.
                for (int i0 = causal ? j0 : 0; i0 < seq; i0 += QueryTile)
                {
                    int rows = Math.Min(QueryTile, seq - i0);
                    // Causal: this query tile sees only the tile's first i0 + rows − j0 keys.
                    int seen = causal ? Math.Min(cols, i0 + rows - j0) : cols, width = (seen + w - 1) / w * w;
                    Scores<TV, TOps>(qb + (long)i0 * ldIn, ldIn, kt, padded, p, KeyTile, rows, width, hs, scale);
                    Scores<TV, TOps>(dyb + (long)i0 * ldOut, ldOut, vt, padded, ds, KeyTile, rows, width, hs, 1f);
                    int nMax = 0;
                    for (int r = 0; r < rows; r++)
                    {
                        int i = i0 + r;
                        float* pr = p + r * KeyTile, dsr = ds + r * KeyTile;
                        int n = Math.Clamp(Visible(i, len, causal) - j0, 0, cols);
                        // P = exp(S − lse), exactly 0 at the keys this row does not see.
                        for (int c = n; c < width; c++) pr[c] = float.NegativeInfinity;
                        ExpRow<TV, TOps>(pr, width, lse[(row0 + i) * heads + h]);
                        if (dropout.Active) dropout.SoftmaxGradient<TV, TOps>(pr, dsr, dd[i], scale, width, dropout.RowKey(b, h, i), j0);
                        else SoftmaxGradient<TV, TOps>(pr, dsr, dd[i], scale, width);
                        nMax = Math.Max(nMax, n);
                    }
                    if (nMax == 0) continue;
                    AccumulateColumns(p, KeyTile, dyb + (long)i0 * ldOut, ldOut, dvb + (long)j0 * ldGrad, ldGrad, rows, nMax, hs);   // dV += Pᵀ·dO
                    AccumulateColumns(ds, KeyTile, qb + (long)i0 * ldIn, ldIn, dkb + (long)j0 * ldGrad, ldGrad, rows, nMax, hs);    // dK += dSᵀ·Q
                    AccumulateRows(ds, KeyTile, kb + (long)j0 * ldIn, ldIn, dqb + (long)i0 * ldGrad, ldGrad, rows, nMax, hs);       // dQ += dS·K
                }
            }
        }
    }

    /// <summary>max over s[0, count), count a whole number of vectors (≥ 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float RowMax<TV, TOps>(float* s, int count) where TV : struct where TOps : ISimdOps<TV>
    {
        TV acc = TOps.Load(ref s[0], 0);
        for (int c = TOps.Count; c < count; c += TOps.Count) acc = TOps.Max(acc, TOps.Load(ref s[c], 0));
        return TOps.MaxAcross(acc);
    }

    /// <summary>s[c] = e^{s[c] − shift} over a whole number of vectors (s ≤ shift; −∞ gives 0); returns Σ_c s[c].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float ExpRow<TV, TOps>(float* s, int count, float shift) where TV : struct where TOps : ISimdOps<TV>
    {
        TV sh = TOps.Create(shift), acc = TOps.Create(0f);
        for (int c = 0; c < count; c += TOps.Count)
        {
            TV e = Exp(TOps.Subtract(TOps.Load(ref s[c], 0), sh));
            TOps.Store(e, ref s[c], 0);
            acc = TOps.Add(acc, e);
        }
        return TOps.Sum(acc);
    }

    /// <summary>e^x per lane for x ≤ 0 at TV's width (VectorMath.ExpNonPositive; MathF.Exp for the scalar width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Exp<TV>(TV x) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Unsafe.BitCast<Vector512<float>, TV>(VectorMath.ExpNonPositive(Unsafe.BitCast<TV, Vector512<float>>(x)));
        if (typeof(TV) == typeof(Vector256<float>)) return Unsafe.BitCast<Vector256<float>, TV>(VectorMath.ExpNonPositive(Unsafe.BitCast<TV, Vector256<float>>(x)));
        if (typeof(TV) == typeof(Vector128<float>)) return Unsafe.BitCast<Vector128<float>, TV>(VectorMath.ExpNonPositive(Unsafe.BitCast<TV, Vector128<float>>(x)));
        return Unsafe.BitCast<float, TV>(VectorMath.ExpNonPositive(Unsafe.BitCast<TV, float>(x)));
    }

    /// <summary>x[j] *= a for j &lt; n (widest vectors first, then narrower ones and scalars).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ScaleRow(float* x, int n, float a)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (var v = Vector512.Create(a); j + 16 <= n; j += 16) (Vector512.Load(x + j) * v).Store(x + j);
        if (Vector256.IsHardwareAccelerated)
            for (var v = Vector256.Create(a); j + 8 <= n; j += 8) (Vector256.Load(x + j) * v).Store(x + j);
        if (Vector128.IsHardwareAccelerated)
            for (var v = Vector128.Create(a); j + 4 <= n; j += 4) (Vector128.Load(x + j) * v).Store(x + j);
        for (; j < n; j++) x[j] *= a;
    }

    /// <summary>ds[c] = p[c]·(ds[c] − delta)·scale over a whole number of vectors (ds holds dP on entry; p = 0 gives exactly 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void SoftmaxGradient<TV, TOps>(float* p, float* ds, float delta, float scale, int cols) where TV : struct where TOps : ISimdOps<TV>
    {
        TV d = TOps.Create(delta), sc = TOps.Create(scale);
        for (int c = 0; c < cols; c += TOps.Count)
            TOps.Store(TOps.Multiply(TOps.Multiply(TOps.Load(ref p[c], 0), TOps.Subtract(TOps.Load(ref ds[c], 0), d)), sc), ref ds[c], 0);
    }

    // ------------------------------------------------------------------------------------------------ tile products

    /// <summary>End (exclusive) of the keys query position <paramref name="i"/> sees.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Visible(int i, int len, bool causal) => causal ? Math.Min(i + 1, len) : len;

    /// <summary>dst[p·ld + c] = src[c·ldSrc + p] for c &lt; count, 0 for count ≤ c &lt; ld (p &lt; width).</summary>
    /// <remarks>Destination rows are written contiguously: strided loads cost less than strided stores (the W8 profile share of this
    /// transpose fell from 3.6% to 1.2% when the loops were swapped).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Transpose(float* src, int ldSrc, float* dst, int ld, int count, int width)
    {
        int p = 0;
        if (Sse.IsSupported)
        {
            // 4×4 blocks in registers (4 row loads, 8 shuffles, 4 row stores per 16 floats); the tail columns and padding per block.
            for (; p + 4 <= width; p += 4)
            {
                float* d0 = dst + p * ld, d1 = d0 + ld, d2 = d1 + ld, d3 = d2 + ld;
                int c = 0;
                for (; c + 4 <= count; c += 4)
                {
                    float* s0 = src + (long)c * ldSrc + p;
                    Vector128<float> r0 = Sse.LoadVector128(s0), r1 = Sse.LoadVector128(s0 + ldSrc),
                        r2 = Sse.LoadVector128(s0 + 2L * ldSrc), r3 = Sse.LoadVector128(s0 + 3L * ldSrc);
                    Vector128<float> t0 = Sse.UnpackLow(r0, r1), t1 = Sse.UnpackLow(r2, r3);     // (r0[0] r1[0] r0[1] r1[1]), (r2[0] r3[0] r2[1] r3[1])
                    Vector128<float> t2 = Sse.UnpackHigh(r0, r1), t3 = Sse.UnpackHigh(r2, r3);   // the same for lanes 2 and 3
                    Sse.Store(d0 + c, Sse.MoveLowToHigh(t0, t1));   // r0[0] r1[0] r2[0] r3[0]
                    Sse.Store(d1 + c, Sse.MoveHighToLow(t1, t0));   // r0[1] r1[1] r2[1] r3[1]
                    Sse.Store(d2 + c, Sse.MoveLowToHigh(t2, t3));
                    Sse.Store(d3 + c, Sse.MoveHighToLow(t3, t2));
                }
                for (int q = 0; q < 4; q++)
                {
                    float* d = dst + (p + q) * ld, s = src + p + q;
                    for (int cc = c; cc < count; cc++) d[cc] = s[(long)cc * ldSrc];
                    for (int cc = count; cc < ld; cc++) d[cc] = 0f;
                }
            }
        }
        for (; p < width; p++)
        {
            float* d = dst + p * ld, s = src + p;
            int c = 0;
            for (; c + 4 <= count; c += 4)
            {
                d[c] = s[(long)c * ldSrc];
                d[c + 1] = s[(long)(c + 1) * ldSrc];
                d[c + 2] = s[(long)(c + 2) * ldSrc];
                d[c + 3] = s[(long)(c + 3) * ldSrc];
            }
            for (; c < count; c++) d[c] = s[(long)c * ldSrc];
            for (; c < ld; c++) d[c] = 0f;
        }
    }

    /// <summary>
    /// s[r·lds + c] = scale·Σ_p a[r·lda + p]·bt[p·ldb + c] for r &lt; rows, c &lt; cols (a whole number of vectors): register tiles of
    /// 4 rows × 2 vectors along c, one broadcast of a per FMA pair.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Scores<TV, TOps>(float* a, int lda, float* bt, int ldb, float* s, int lds, int rows, int cols, int depth, float scale)
        where TV : struct where TOps : ISimdOps<TV>
    {
        int w = TOps.Count;
        TV sc = TOps.Create(scale), zero = TOps.Create(0f);
        int c = 0;
        for (; c + 2 * w <= cols; c += 2 * w)
        {
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                float* a0 = a + (long)r * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
                TV s00 = zero, s01 = zero, s10 = zero, s11 = zero, s20 = zero, s21 = zero, s30 = zero, s31 = zero;
                float* bp = bt + c;
                for (int p = 0; p < depth; p++, bp += ldb)
                {
                    TV b0 = TOps.Load(ref bp[0], 0), b1 = TOps.Load(ref bp[0], (nuint)w);
                    TV x = TOps.Create(a0[p]);
                    s00 = TOps.MultiplyAdd(x, b0, s00); s01 = TOps.MultiplyAdd(x, b1, s01);
                    x = TOps.Create(a1[p]);
                    s10 = TOps.MultiplyAdd(x, b0, s10); s11 = TOps.MultiplyAdd(x, b1, s11);
                    x = TOps.Create(a2[p]);
                    s20 = TOps.MultiplyAdd(x, b0, s20); s21 = TOps.MultiplyAdd(x, b1, s21);
                    x = TOps.Create(a3[p]);
                    s30 = TOps.MultiplyAdd(x, b0, s30); s31 = TOps.MultiplyAdd(x, b1, s31);
                }
                float* sr = s + (long)r * lds + c;
                TOps.Store(TOps.Multiply(s00, sc), ref sr[0], 0); TOps.Store(TOps.Multiply(s01, sc), ref sr[0], (nuint)w);
                sr += lds;
                TOps.Store(TOps.Multiply(s10, sc), ref sr[0], 0); TOps.Store(TOps.Multiply(s11, sc), ref sr[0], (nuint)w);
                sr += lds;
                TOps.Store(TOps.Multiply(s20, sc), ref sr[0], 0); TOps.Store(TOps.Multiply(s21, sc), ref sr[0], (nuint)w);
                sr += lds;
                TOps.Store(TOps.Multiply(s30, sc), ref sr[0], 0); TOps.Store(TOps.Multiply(s31, sc), ref sr[0], (nuint)w);
            }
            for (; r < rows; r++)
            {
                float* a0 = a + (long)r * lda;
                TV s00 = zero, s01 = zero;
                float* bp = bt + c;
                for (int p = 0; p < depth; p++, bp += ldb)
                {
                    TV x = TOps.Create(a0[p]);
                    s00 = TOps.MultiplyAdd(x, TOps.Load(ref bp[0], 0), s00);
                    s01 = TOps.MultiplyAdd(x, TOps.Load(ref bp[0], (nuint)w), s01);
                }
                float* sr = s + (long)r * lds + c;
                TOps.Store(TOps.Multiply(s00, sc), ref sr[0], 0);
                TOps.Store(TOps.Multiply(s01, sc), ref sr[0], (nuint)w);
            }
        }
        for (; c < cols; c += w)
        {
            for (int r = 0; r < rows; r++)
            {
                float* a0 = a + (long)r * lda;
                TV acc = zero;
                float* bp = bt + c;
                for (int p = 0; p < depth; p++, bp += ldb)
                    acc = TOps.MultiplyAdd(TOps.Create(a0[p]), TOps.Load(ref bp[0], 0), acc);
                TOps.Store(TOps.Multiply(acc, sc), ref s[(long)r * lds + c], 0);
            }
        }
    }

    /// <summary>
    /// o[r·ldo + j] += Σ_{c &lt; n} coef[r·ldc + c]·m[c·ldm + j] for r &lt; rows, j &lt; width (P·V in forward, dS·K in backward):
    /// the widest vectors first, then narrower ones, then scalars, so every element of a row is produced exactly once.
    /// </summary>
    internal static unsafe void AccumulateRows(float* coef, int ldc, float* m, int ldm, float* o, int ldo, int rows, int n, int width)
    {
        int j = 0;
        if (V512.IsAccelerated) j = AccumulateRows<Vector512<float>, V512>(coef, ldc, m, ldm, o, ldo, rows, n, j, width);
        if (V256.IsAccelerated) j = AccumulateRows<Vector256<float>, V256>(coef, ldc, m, ldm, o, ldo, rows, n, j, width);
        if (V128.IsAccelerated) j = AccumulateRows<Vector128<float>, V128>(coef, ldc, m, ldm, o, ldo, rows, n, j, width);
        AccumulateRows<float, Scalar>(coef, ldc, m, ldm, o, ldo, rows, n, j, width);
    }

    /// <summary>Columns [j, width) of <see cref="AccumulateRows(float*, int, float*, int, float*, int, int, int, int)"/> in whole vectors of TV: 4 rows × 2 vectors per register tile. Returns where it stopped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe int AccumulateRows<TV, TOps>(float* coef, int ldc, float* m, int ldm, float* o, int ldo, int rows, int n, int j, int width)
        where TV : struct where TOps : ISimdOps<TV>
    {
        int w = TOps.Count;
        for (; j + 2 * w <= width; j += 2 * w)
        {
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                float* o0 = o + (long)r * ldo + j, o1 = o0 + ldo, o2 = o1 + ldo, o3 = o2 + ldo;
                float* c0 = coef + (long)r * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
                TV a00 = TOps.Load(ref o0[0], 0), a01 = TOps.Load(ref o0[0], (nuint)w), a10 = TOps.Load(ref o1[0], 0), a11 = TOps.Load(ref o1[0], (nuint)w);
                TV a20 = TOps.Load(ref o2[0], 0), a21 = TOps.Load(ref o2[0], (nuint)w), a30 = TOps.Load(ref o3[0], 0), a31 = TOps.Load(ref o3[0], (nuint)w);
                float* mp = m + j;
                for (int c = 0; c < n; c++, mp += ldm)
                {
                    TV v0 = TOps.Load(ref mp[0], 0), v1 = TOps.Load(ref mp[0], (nuint)w);
                    TV x = TOps.Create(c0[c]);
                    a00 = TOps.MultiplyAdd(x, v0, a00); a01 = TOps.MultiplyAdd(x, v1, a01);
                    x = TOps.Create(c1[c]);
                    a10 = TOps.MultiplyAdd(x, v0, a10); a11 = TOps.MultiplyAdd(x, v1, a11);
                    x = TOps.Create(c2[c]);
                    a20 = TOps.MultiplyAdd(x, v0, a20); a21 = TOps.MultiplyAdd(x, v1, a21);
                    x = TOps.Create(c3[c]);
                    a30 = TOps.MultiplyAdd(x, v0, a30); a31 = TOps.MultiplyAdd(x, v1, a31);
                }
                TOps.Store(a00, ref o0[0], 0); TOps.Store(a01, ref o0[0], (nuint)w);
                TOps.Store(a10, ref o1[0], 0); TOps.Store(a11, ref o1[0], (nuint)w);
                TOps.Store(a20, ref o2[0], 0); TOps.Store(a21, ref o2[0], (nuint)w);
                TOps.Store(a30, ref o3[0], 0); TOps.Store(a31, ref o3[0], (nuint)w);
            }
            for (; r < rows; r++)
            {
                float* o0 = o + (long)r * ldo + j, c0 = coef + (long)r * ldc;
                TV a00 = TOps.Load(ref o0[0], 0), a01 = TOps.Load(ref o0[0], (nuint)w);
                float* mp = m + j;
                for (int c = 0; c < n; c++, mp += ldm)
                {
                    TV x = TOps.Create(c0[c]);
                    a00 = TOps.MultiplyAdd(x, TOps.Load(ref mp[0], 0), a00);
                    a01 = TOps.MultiplyAdd(x, TOps.Load(ref mp[0], (nuint)w), a01);
                }
                TOps.Store(a00, ref o0[0], 0); TOps.Store(a01, ref o0[0], (nuint)w);
            }
        }
        for (; j + w <= width; j += w)
        {
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                float* o0 = o + (long)r * ldo + j, o1 = o0 + ldo, o2 = o1 + ldo, o3 = o2 + ldo;
                float* c0 = coef + (long)r * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
                TV a0 = TOps.Load(ref o0[0], 0), a1 = TOps.Load(ref o1[0], 0), a2 = TOps.Load(ref o2[0], 0), a3 = TOps.Load(ref o3[0], 0);
                float* mp = m + j;
                for (int c = 0; c < n; c++, mp += ldm)
                {
                    TV v0 = TOps.Load(ref mp[0], 0);
                    a0 = TOps.MultiplyAdd(TOps.Create(c0[c]), v0, a0);
                    a1 = TOps.MultiplyAdd(TOps.Create(c1[c]), v0, a1);
                    a2 = TOps.MultiplyAdd(TOps.Create(c2[c]), v0, a2);
                    a3 = TOps.MultiplyAdd(TOps.Create(c3[c]), v0, a3);
                }
                TOps.Store(a0, ref o0[0], 0); TOps.Store(a1, ref o1[0], 0); TOps.Store(a2, ref o2[0], 0); TOps.Store(a3, ref o3[0], 0);
            }
            for (; r < rows; r++)
            {
                float* o0 = o + (long)r * ldo + j, c0 = coef + (long)r * ldc;
                TV a0 = TOps.Load(ref o0[0], 0);
                float* mp = m + j;
                for (int c = 0; c < n; c++, mp += ldm)
                    a0 = TOps.MultiplyAdd(TOps.Create(c0[c]), TOps.Load(ref mp[0], 0), a0);
                TOps.Store(a0, ref o0[0], 0);
            }
        }
        return j;
    }

    /// <summary>
    /// o[c·ldo + j] += Σ_{r &lt; rows} coef[r·ldc + c]·m[r·ldm + j] for c &lt; cols, j &lt; width (Pᵀ·dO and dSᵀ·Q in backward);
    /// widest vectors first, then narrower ones, then scalars.
    /// </summary>
    internal static unsafe void AccumulateColumns(float* coef, int ldc, float* m, int ldm, float* o, int ldo, int rows, int cols, int width)
    {
        int j = 0;
        if (V512.IsAccelerated) j = AccumulateColumns<Vector512<float>, V512>(coef, ldc, m, ldm, o, ldo, rows, cols, j, width);
        if (V256.IsAccelerated) j = AccumulateColumns<Vector256<float>, V256>(coef, ldc, m, ldm, o, ldo, rows, cols, j, width);
        if (V128.IsAccelerated) j = AccumulateColumns<Vector128<float>, V128>(coef, ldc, m, ldm, o, ldo, rows, cols, j, width);
        AccumulateColumns<float, Scalar>(coef, ldc, m, ldm, o, ldo, rows, cols, j, width);
    }

    /// <summary>Columns [j, width) of <see cref="AccumulateColumns(float*, int, float*, int, float*, int, int, int, int)"/> in whole vectors of TV: 4 output rows × 2 vectors per register tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe int AccumulateColumns<TV, TOps>(float* coef, int ldc, float* m, int ldm, float* o, int ldo, int rows, int cols, int j, int width)
        where TV : struct where TOps : ISimdOps<TV>
    {
        int w = TOps.Count;
        for (; j + 2 * w <= width; j += 2 * w)
        {
            int c = 0;
            for (; c + 4 <= cols; c += 4)
            {
                float* o0 = o + (long)c * ldo + j, o1 = o0 + ldo, o2 = o1 + ldo, o3 = o2 + ldo;
                TV a00 = TOps.Load(ref o0[0], 0), a01 = TOps.Load(ref o0[0], (nuint)w), a10 = TOps.Load(ref o1[0], 0), a11 = TOps.Load(ref o1[0], (nuint)w);
                TV a20 = TOps.Load(ref o2[0], 0), a21 = TOps.Load(ref o2[0], (nuint)w), a30 = TOps.Load(ref o3[0], 0), a31 = TOps.Load(ref o3[0], (nuint)w);
                float* mp = m + j, cp = coef + c;
                for (int r = 0; r < rows; r++, mp += ldm, cp += ldc)
                {
                    TV v0 = TOps.Load(ref mp[0], 0), v1 = TOps.Load(ref mp[0], (nuint)w);
                    TV x = TOps.Create(cp[0]);
                    a00 = TOps.MultiplyAdd(x, v0, a00); a01 = TOps.MultiplyAdd(x, v1, a01);
                    x = TOps.Create(cp[1]);
                    a10 = TOps.MultiplyAdd(x, v0, a10); a11 = TOps.MultiplyAdd(x, v1, a11);
                    x = TOps.Create(cp[2]);
                    a20 = TOps.MultiplyAdd(x, v0, a20); a21 = TOps.MultiplyAdd(x, v1, a21);
                    x = TOps.Create(cp[3]);
                    a30 = TOps.MultiplyAdd(x, v0, a30); a31 = TOps.MultiplyAdd(x, v1, a31);
                }
                TOps.Store(a00, ref o0[0], 0); TOps.Store(a01, ref o0[0], (nuint)w);
                TOps.Store(a10, ref o1[0], 0); TOps.Store(a11, ref o1[0], (nuint)w);
                TOps.Store(a20, ref o2[0], 0); TOps.Store(a21, ref o2[0], (nuint)w);
                TOps.Store(a30, ref o3[0], 0); TOps.Store(a31, ref o3[0], (nuint)w);
            }
            for (; c < cols; c++)
            {
                float* o0 = o + (long)c * ldo + j;
                TV a00 = TOps.Load(ref o0[0], 0), a01 = TOps.Load(ref o0[0], (nuint)w);
                float* mp = m + j, cp = coef + c;
                for (int r = 0; r < rows; r++, mp += ldm, cp += ldc)
                {
                    TV x = TOps.Create(cp[0]);
                    a00 = TOps.MultiplyAdd(x, TOps.Load(ref mp[0], 0), a00);
                    a01 = TOps.MultiplyAdd(x, TOps.Load(ref mp[0], (nuint)w), a01);
                }
                TOps.Store(a00, ref o0[0], 0); TOps.Store(a01, ref o0[0], (nuint)w);
            }
        }
        for (; j + w <= width; j += w)
        {
            int c = 0;
            for (; c + 4 <= cols; c += 4)
            {
                float* o0 = o + (long)c * ldo + j, o1 = o0 + ldo, o2 = o1 + ldo, o3 = o2 + ldo;
                TV a0 = TOps.Load(ref o0[0], 0), a1 = TOps.Load(ref o1[0], 0), a2 = TOps.Load(ref o2[0], 0), a3 = TOps.Load(ref o3[0], 0);
                float* mp = m + j, cp = coef + c;
                for (int r = 0; r < rows; r++, mp += ldm, cp += ldc)
                {
                    TV v0 = TOps.Load(ref mp[0], 0);
                    a0 = TOps.MultiplyAdd(TOps.Create(cp[0]), v0, a0);
                    a1 = TOps.MultiplyAdd(TOps.Create(cp[1]), v0, a1);
                    a2 = TOps.MultiplyAdd(TOps.Create(cp[2]), v0, a2);
                    a3 = TOps.MultiplyAdd(TOps.Create(cp[3]), v0, a3);
                }
                TOps.Store(a0, ref o0[0], 0); TOps.Store(a1, ref o1[0], 0); TOps.Store(a2, ref o2[0], 0); TOps.Store(a3, ref o3[0], 0);
            }
            for (; c < cols; c++)
            {
                float* o0 = o + (long)c * ldo + j;
                TV a0 = TOps.Load(ref o0[0], 0);
                float* mp = m + j, cp = coef + c;
                for (int r = 0; r < rows; r++, mp += ldm, cp += ldc)
                    a0 = TOps.MultiplyAdd(TOps.Create(cp[0]), TOps.Load(ref mp[0], 0), a0);
                TOps.Store(a0, ref o0[0], 0);
            }
        }
        return j;
    }

    // ------------------------------------------------------------------------------------------------ validation

    private static void CheckSizes(int batch, int seq, int heads, int headSize, int inputStride, int outputStride, string outputStrideName)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        if (heads < 1) throw new ArgumentOutOfRangeException(nameof(heads), heads, $"'{nameof(heads)}' must be at least 1 but is {heads}.");
        if (headSize < 1) throw new ArgumentOutOfRangeException(nameof(headSize), headSize, $"'{nameof(headSize)}' must be at least 1 but is {headSize}.");
        long width = (long)heads * headSize;
        if (inputStride < width)
            throw new ArgumentOutOfRangeException(nameof(inputStride), inputStride, $"'{nameof(inputStride)}' must be at least heads·headSize = {width} but is {inputStride}.");
        if (outputStride < width)
            throw new ArgumentOutOfRangeException(outputStrideName, outputStride, $"'{outputStrideName}' must be at least heads·headSize = {width} but is {outputStride}.");
    }

    /// <summary>Throws unless an attention-dropout probability is in [0, 1] (NaN fails).</summary>
    internal static void CheckDropout(float dropout, string name = "dropout")
    {
        if (!(dropout >= 0f && dropout <= 1f)) ThrowHelper.ThrowArgumentOutOfRange(name, dropout, "must be in [0, 1]");
    }

    /// <summary>Throws if the written span overlaps any of the three inputs.</summary>
    private static void CheckWritten(ReadOnlySpan<float> written, string name, ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value)
    {
        ThrowHelper.CheckNoOverlap(query, written, nameof(query), name);
        ThrowHelper.CheckNoOverlap(key, written, nameof(key), name);
        ThrowHelper.CheckNoOverlap(value, written, nameof(value), name);
    }

    /// <summary>Throws if a gradient overlaps an operand it is not allowed to share memory with (the gradients may interleave with each other).</summary>
    private static void CheckGradient(ReadOnlySpan<float> grad, string name, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> query, ReadOnlySpan<float> key,
        ReadOnlySpan<float> value, ReadOnlySpan<float> output, ReadOnlySpan<float> logSumExp, ReadOnlySpan<float> workspace)
    {
        ThrowHelper.CheckNoOverlap(dOutput, grad, nameof(dOutput), name);
        CheckWritten(grad, name, query, key, value);
        ThrowHelper.CheckNoOverlap(output, grad, nameof(output), name);
        ThrowHelper.CheckNoOverlap(logSumExp, grad, nameof(logSumExp), name);
        ThrowHelper.CheckNoOverlap(workspace, grad, nameof(workspace), name);
    }

    /// <summary>Throws unless a strided view of <paramref name="rows"/> rows of <paramref name="width"/> floats fits the span.</summary>
    private static void CheckRows(int length, string name, long rows, int width, int stride)
    {
        long need = rows == 0 ? 0 : (rows - 1) * stride + width;
        if (length < need)
            throw new ArgumentException(
                $"'{name}' must have at least {need} elements ([batch·seq={rows}] rows of heads·headSize={width} at stride {stride}) but has {length}.", name);
    }

    private static void CheckLengths(ReadOnlySpan<int> lengths, int batch, int seq)
    {
        if (lengths.IsEmpty) return;
        ThrowHelper.CheckShape(lengths.Length, nameof(lengths), nameof(batch), batch, orEmpty: true);
        for (int b = 0; b < lengths.Length; b++)
            if (lengths[b] < 1 || lengths[b] > seq)
                throw new ArgumentException($"'{nameof(lengths)}[{b}]' must be in [1, seq={seq}] but is {lengths[b]}.", nameof(lengths));
    }

    private static void CheckWorkspace(ReadOnlySpan<float> workspace, int seq, int headSize)
    {
        long need = Layout.Length(seq, headSize);
        if (workspace.Length < need)
            throw new ArgumentException(
                $"'{nameof(workspace)}' must have at least {need} elements (WorkspaceLength(seq={seq}, headSize={headSize})) but has {workspace.Length}.", nameof(workspace));
    }

    /// <summary>Where each scratch buffer lives in the workspace (offsets in floats).</summary>
    private readonly struct Layout
    {
        public readonly long KeyT, ValueT, Scores, Grads, RowMax, RowSum, Delta, Total;

        public Layout(int seq, int headSize)
        {
            long tile = (long)headSize * KeyTile, scores = (long)QueryTile * KeyTile;
            KeyT = 0;
            ValueT = KeyT + tile;
            Scores = ValueT + tile;
            Grads = Scores + scores;
            RowMax = Grads + scores;
            RowSum = RowMax + QueryTile;
            Delta = RowSum + QueryTile;
            Total = Delta + seq;
        }

        public static long Length(int seq, int headSize) => new Layout(seq, headSize).Total;
    }
}
