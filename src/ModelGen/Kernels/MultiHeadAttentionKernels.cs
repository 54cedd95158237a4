// One PyTorch nn.MultiheadAttention layer (batch_first=True) as a composite kernel: forward, training forward, backward and
// incremental decoding over a key/value cache. With x [batch·seq, d] the queries' source and m [batch·seq, dm] the memory
// (m = x for self-attention), PyTorch's formulas (torch.nn.functional.multi_head_attention_forward):
//   Q = x·W_qᵀ + b_q,   K = m·W_kᵀ + b_k,   V = m·W_vᵀ + b_v          (in_proj_weight = [W_q; W_k; W_v], in_proj_bias = [b_q; b_k; b_v])
//   A = Attention(Q, K, V): per head, softmax(Q_h·K_hᵀ/√head_dim, masked)·V_h   (AttentionKernels: online softmax, never T×T)
//   y = A·W_oᵀ + b_o                                                     (out_proj)
// With a rotary table (RoPE), Q and K of every head are rotated right after the projection, each row by its position (a key by
// the memory position it came from); training keeps them rotated, and backward rotates dQ and dK back (the transpose rotation).
// Masks: keys at j ≥ lengths[b] (PyTorch's key_padding_mask) and, when causal, j > i (the square subsequent mask).
// Self-attention runs the Q/K/V projection as ONE GEMM into a packed [rows, 3d] buffer (AttentionKernels reads the three
// column blocks at stride 3d); cross-attention writes three [rows, d] planes (stride d). Training keeps Q, K, V, A and the
// per-head log-sum-exp (llm.c style); backward recomputes only the attention scores, tile by tile.
// Padding: positions t ≥ lengths[b] are masked as keys. Their input and memory rows are read as zeros (copies in the
// workspace), so whatever they hold (even NaN) never reaches a real output or a gradient; their own outputs are finite and
// deterministic, dOutput there is ignored, and their input and memory gradients are 0.
// Attention-weight dropout (PyTorch's dropout argument, training only) drops softmax weights with a mask that AttentionKernels
// regenerates from the call's seed (AttentionDropout), so backward, given the same seed, sees the same mask.
// Nothing here allocates or keeps state: scratch comes from the caller's workspace.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace ModelGen.Kernels;

/// <summary>
/// Forward, training forward, backward and incremental decoding of PyTorch's <c>nn.MultiheadAttention</c> (self- or
/// cross-attention; <see cref="MultiHeadAttentionGeometry"/>).
/// </summary>
/// <remarks>
/// Effectively computes, per example b, position i and head h (head h owns features <c>h·head_dim … (h+1)·head_dim − 1</c>):
/// <c>Q = x·W_qᵀ + b_q</c>, <c>K = m·W_kᵀ + b_k</c>, <c>V = m·W_vᵀ + b_v</c> (m = x for self-attention),
/// <c>A[b, i, h, :] = Σ_j softmax_j(Q[b, i, h, :]·K[b, j, h, :]/√head_dim)·V[b, j, h, :]</c> over visible keys j
/// (<c>j &lt; lengths[b]</c>, and <c>j ≤ i</c> when causal), and <c>output = A·W_oᵀ + b_o</c>.
/// In training, PyTorch's attention-weight dropout (<c>nn.MultiheadAttention(dropout=p)</c>) multiplies each softmax weight by
/// <c>M[b, h, i, j] = (u ≥ p)/(1 − p)</c>, u a counter-based hash of (seed, b, h, i, j) in [0, 1) (see <see cref="TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>).
/// Results may differ from PyTorch's in the last bits (fused multiply-add, vectorised exp, tiled sums).
/// </remarks>
public static partial class MultiHeadAttentionKernels
{
    /// <summary>
    /// Inference forward (see the class remarks for the formula). Rows at padded positions are computed from zeros.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">The queries' source <c>[batch, seq, Model]</c>.</param>
    /// <param name="memory">Cross-attention: the keys' and values' source <c>[batch, seq, Memory]</c>; self-attention: empty.</param>
    /// <param name="parameters">The layer's parameters, <see cref="MultiHeadAttentionGeometry.ParameterCount"/> floats in state-dict order.</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>; must not overlap the other operands.</param>
    /// <param name="lengths">Real positions per example <c>[batch]</c>, each in [1, seq]; empty means every example has <paramref name="seq"/>.</param>
    /// <param name="workspace">Scratch of at least <see cref="MultiHeadAttentionGeometry.WorkspaceLength(int, int)"/> floats (contents are overwritten).</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example (padded length).</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c>, a span's length does not match its shape, a length is
    /// outside [1, seq], the workspace is too short, spans overlap, batch·seq rows are too many for one buffer, or <paramref name="seq"/>
    /// exceeds the positions of <see cref="MultiHeadAttentionGeometry.Rotary"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or <paramref name="seq"/> is less than 1.</exception>
    public static void Forward(in MultiHeadAttentionGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq)
        => Forward(g, input, memory, parameters, output, lengths, g.IsCross ? lengths : default, workspace, batch, seq, seq);

    /// <summary>
    /// Inference forward of cross-attention over a memory with its own length and lengths (PyTorch's <c>key_padding_mask</c> from
    /// <paramref name="memoryLengths"/>; queries and keys may differ in number, Tq ≠ Tk). See the class remarks for the formula; with
    /// <paramref name="memorySeq"/> = <paramref name="seq"/> and <paramref name="memoryLengths"/> = <paramref name="lengths"/> this is
    /// <see cref="Forward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int)"/>.
    /// Query rows at padded positions are computed from zeros; memory rows at padded positions are never read.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">The queries' source <c>[batch, seq, Model]</c>.</param>
    /// <param name="memory">Cross-attention: the keys' and values' source <c>[batch, memorySeq, Memory]</c>; self-attention: empty.</param>
    /// <param name="parameters">The layer's parameters, <see cref="MultiHeadAttentionGeometry.ParameterCount"/> floats in state-dict order.</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>; must not overlap the other operands.</param>
    /// <param name="lengths">Real positions of the queries per example <c>[batch]</c>, each in [1, seq]; empty means all <paramref name="seq"/>.</param>
    /// <param name="memoryLengths">Cross-attention: real positions of the memory per example <c>[batch]</c>, each in [1, memorySeq]; empty means
    /// all <paramref name="memorySeq"/>. Self-attention: empty (the keys are the queries, masked by <paramref name="lengths"/>).</param>
    /// <param name="workspace">Scratch of at least <see cref="MultiHeadAttentionGeometry.WorkspaceLength(int, int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Query positions per example (padded length).</param>
    /// <param name="memorySeq">Memory positions per example (padded length); <paramref name="seq"/> for self-attention.</param>
    /// <exception cref="ArgumentException">As the other overload; or a memory length is outside [1, memorySeq], or the layer is self-attention and
    /// <paramref name="memoryLengths"/> is not empty or <paramref name="memorySeq"/> differs from <paramref name="seq"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, or <paramref name="seq"/> or <paramref name="memorySeq"/> is less than 1.</exception>
    public static unsafe void Forward(in MultiHeadAttentionGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, Span<float> workspace, int batch, int seq, int memorySeq)
    {
        CheckCommon(g, input, memory, parameters, output, lengths, memoryLengths, workspace, batch, seq, memorySeq);
        if (batch == 0) return;
        var layout = new MultiHeadAttentionWorkspace(g, batch, seq, memorySeq);
        int rows = batch * seq, memoryRows = batch * memorySeq, d = g.Model;
        fixed (float* xp = input, mp = memory, p = parameters, y = output, ws = workspace)
        fixed (int* len = lengths, mlen = memoryLengths)
        {
            var w = new Weights(g, p);
            float* x = PaddedRows.ZeroedCopy(xp, ws + layout.XCopy, len, batch, seq, d);
            float* m = g.IsCross ? PaddedRows.ZeroedCopy(mp, ws + layout.MemoryCopy, mlen, batch, memorySeq, g.Memory) : x;
            int* keyLengths = g.IsCross ? mlen : len;
            var qkv = new Projections(g, ws + layout.Qkv, rows, memoryRows);
            Project(g, w, x, m, qkv, rows, memoryRows);
            Rotate(g, qkv, batch, seq, memorySeq, 0, inverse: false);
            float* a = ws + layout.A;   // [rows, d]
            AttentionKernels.ForwardUnchecked(qkv.Q, qkv.K, qkv.V, qkv.Stride, a, d, null, keyLengths, g.Causal, ws + layout.Attention, batch, seq, g.Heads, g.HeadSize, memorySeq);
            Linear(a, w.OutWeight, w.OutBias, y, rows, d, d);
        }
    }

    /// <summary>
    /// Training forward: the output of <see cref="Forward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int)"/> with attention-weight dropout <paramref name="dropout"/> (PyTorch's
    /// <c>nn.MultiheadAttention(dropout)</c> in training: <c>A[b, i, h, :] = Σ_j softmax_j(…)·M[b, h, i, j]·V[b, j, h, :]</c>), keeping what
    /// <see cref="Backward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/> needs. With <paramref name="dropout"/> = 0 (the default) it equals that Forward.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">The queries' source <c>[batch, seq, Model]</c>.</param>
    /// <param name="memory">Cross-attention: <c>[batch, seq, Memory]</c>; self-attention: empty.</param>
    /// <param name="parameters">The layer's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>.</param>
    /// <param name="kept">Receives <see cref="MultiHeadAttentionGeometry.KeptLength(int, int)"/> = <c>batch·seq·TrainingStepLength</c> floats for
    /// <see cref="Backward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/> (the layout is private to these kernels).</param>
    /// <param name="lengths">Real positions per example, or empty (all <paramref name="seq"/>).</param>
    /// <param name="workspace">Scratch of at least <see cref="MultiHeadAttentionGeometry.WorkspaceLength(int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="dropout">Probability of dropping an attention weight, in [0, 1]: <c>M[b, h, i, j] = (u ≥ dropout)/(1 − dropout)</c> with u a
    /// counter-based hash of (<paramref name="dropoutSeed"/>, b, h, i, j) in [0, 1); the softmax normaliser is that of the undropped weights.</param>
    /// <param name="dropoutSeed">The mask's seed: draw a new one per training step and give the same one to <see cref="Backward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>.</param>
    /// <exception cref="ArgumentException">As <see cref="Forward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int)"/>, or <paramref name="kept"/> has the wrong length or overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> is less than 1, or
    /// <paramref name="dropout"/> is outside [0, 1].</exception>
    public static void TrainForward(in MultiHeadAttentionGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> kept, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq, float dropout = 0f, ulong dropoutSeed = 0)
        => TrainForward(g, input, memory, parameters, output, kept, lengths, g.IsCross ? lengths : default, workspace, batch, seq, seq, dropout, dropoutSeed);

    /// <summary>
    /// Training forward of cross-attention over a memory with its own length and lengths: the output of the matching
    /// <see cref="Forward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int}, ReadOnlySpan{int}, Span{float}, int, int, int)"/>
    /// with attention-weight dropout <paramref name="dropout"/>, keeping what the matching <c>Backward</c> needs.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">The queries' source <c>[batch, seq, Model]</c>.</param>
    /// <param name="memory">Cross-attention: <c>[batch, memorySeq, Memory]</c>; self-attention: empty.</param>
    /// <param name="parameters">The layer's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>.</param>
    /// <param name="kept">Receives <see cref="MultiHeadAttentionGeometry.KeptLength(int, int, int)"/> floats (the layout is private to these kernels).</param>
    /// <param name="lengths">Real query positions per example, or empty (all <paramref name="seq"/>).</param>
    /// <param name="memoryLengths">Real memory positions per example, or empty (all <paramref name="memorySeq"/>); empty for self-attention.</param>
    /// <param name="workspace">Scratch of at least <see cref="MultiHeadAttentionGeometry.WorkspaceLength(int, int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Query positions per example.</param>
    /// <param name="memorySeq">Memory positions per example; <paramref name="seq"/> for self-attention.</param>
    /// <param name="dropout">Probability of dropping an attention weight, in [0, 1], as in the other overload; the mask's j is the memory position.</param>
    /// <param name="dropoutSeed">The mask's seed: give the same one to the matching <c>Backward</c>.</param>
    /// <exception cref="ArgumentException">As that Forward, or <paramref name="kept"/> has the wrong length or overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> or <paramref name="memorySeq"/> is less than 1,
    /// or <paramref name="dropout"/> is outside [0, 1].</exception>
    public static unsafe void TrainForward(in MultiHeadAttentionGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> kept, ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, Span<float> workspace, int batch, int seq, int memorySeq,
        float dropout = 0f, ulong dropoutSeed = 0)
    {
        CheckCommon(g, input, memory, parameters, output, lengths, memoryLengths, workspace, batch, seq, memorySeq);
        AttentionKernels.CheckDropout(dropout);
        CheckLength(kept.Length, g.KeptLength(batch, seq, memorySeq), nameof(kept), Shape.Kept, g, batch, seq, memorySeq);
        ThrowHelper.CheckWritable(kept, nameof(kept), input, parameters, output, workspace);
        ThrowHelper.CheckNoOverlap(memory, kept, nameof(memory), nameof(kept));
        if (batch == 0) return;
        var layout = new MultiHeadAttentionWorkspace(g, batch, seq, memorySeq);
        int rows = batch * seq, memoryRows = batch * memorySeq, d = g.Model;
        fixed (float* xp = input, mp = memory, p = parameters, y = output, k = kept, ws = workspace)
        fixed (int* len = lengths, mlen = memoryLengths)
        {
            var w = new Weights(g, p);
            var planes = new KeptPlanes(g, k, rows, memoryRows);
            float* x = PaddedRows.ZeroedCopy(xp, ws + layout.XCopy, len, batch, seq, d);
            float* m = g.IsCross ? PaddedRows.ZeroedCopy(mp, ws + layout.MemoryCopy, mlen, batch, memorySeq, g.Memory) : x;
            Project(g, w, x, m, planes.Qkv, rows, memoryRows);
            Rotate(g, planes.Qkv, batch, seq, memorySeq, 0, inverse: false);   // kept rotated: backward's scores need the rotated q and k
            AttentionKernels.ForwardUnchecked(planes.Qkv.Q, planes.Qkv.K, planes.Qkv.V, planes.Qkv.Stride, planes.Attn, d, planes.Lse, g.IsCross ? mlen : len, g.Causal,
                ws + layout.Attention, batch, seq, g.Heads, g.HeadSize, memorySeq, new AttentionDropout(dropout, dropoutSeed));
            Linear(planes.Attn, w.OutWeight, w.OutBias, y, rows, d, d);
        }
    }

    /// <summary>
    /// Backward of <see cref="TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>: given <c>dOutput = ∂L/∂output</c>, accumulates <c>dParameters += ∂L/∂parameters</c> and
    /// writes <c>dInput = ∂L/∂input</c> and (cross-attention) <c>dMemory = ∂L/∂memory</c>, both 0 at padded positions. For
    /// self-attention dInput includes the paths through the keys and values. dOutput at padded positions is ignored.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="dOutput">Gradient with respect to the output <c>[batch, seq, Model]</c>.</param>
    /// <param name="input">The input given to <see cref="TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>.</param>
    /// <param name="memory">The memory given to <see cref="TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/> (empty for self-attention).</param>
    /// <param name="parameters">The parameters given to <see cref="TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>.</param>
    /// <param name="kept">What <see cref="TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/> kept.</param>
    /// <param name="dParameters">Parameter gradients in the layout of <paramref name="parameters"/>; accumulated into.</param>
    /// <param name="dInput">Receives <c>[batch, seq, Model]</c> (overwritten), or empty to skip computing it.</param>
    /// <param name="dMemory">Cross-attention: receives <c>[batch, seq, Memory]</c> (overwritten), or empty to skip it; self-attention: empty.</param>
    /// <param name="lengths">The lengths given to <see cref="TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>.</param>
    /// <param name="workspace">Scratch of at least <see cref="MultiHeadAttentionGeometry.WorkspaceLength(int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="dropout">The dropout given to <see cref="TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>.</param>
    /// <param name="dropoutSeed">The seed given to <see cref="TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/> (the mask is regenerated from it).</param>
    /// <exception cref="ArgumentException">A span's length does not match its shape, a length is outside [1, seq], the workspace is
    /// too short, spans overlap, or <paramref name="seq"/> exceeds the positions of <see cref="MultiHeadAttentionGeometry.Rotary"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> is less than 1, or
    /// <paramref name="dropout"/> is outside [0, 1].</exception>
    public static void Backward(in MultiHeadAttentionGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> memory,
        ReadOnlySpan<float> parameters, ReadOnlySpan<float> kept, Span<float> dParameters, Span<float> dInput, Span<float> dMemory,
        ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq, float dropout = 0f, ulong dropoutSeed = 0)
        => Backward(g, dOutput, input, memory, parameters, kept, dParameters, dInput, dMemory, lengths, g.IsCross ? lengths : default, workspace, batch, seq, seq,
            dropout, dropoutSeed);

    /// <summary>
    /// Backward of the cross-attention training forward over a memory with its own length and lengths: given <c>dOutput = ∂L/∂output</c>,
    /// accumulates <c>dParameters += ∂L/∂parameters</c> and writes <c>dInput = ∂L/∂input</c> (0 at padded query positions) and
    /// <c>dMemory = ∂L/∂memory</c> (0 at padded memory positions). dOutput at padded query positions is ignored.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="dOutput">Gradient with respect to the output <c>[batch, seq, Model]</c>.</param>
    /// <param name="input">The input given to the training forward.</param>
    /// <param name="memory">The memory given to the training forward (empty for self-attention).</param>
    /// <param name="parameters">The parameters given to the training forward.</param>
    /// <param name="kept">What the training forward kept.</param>
    /// <param name="dParameters">Parameter gradients in the layout of <paramref name="parameters"/>; accumulated into.</param>
    /// <param name="dInput">Receives <c>[batch, seq, Model]</c> (overwritten), or empty to skip computing it.</param>
    /// <param name="dMemory">Cross-attention: receives <c>[batch, memorySeq, Memory]</c> (overwritten), or empty to skip it; self-attention: empty.</param>
    /// <param name="lengths">The query lengths given to the training forward.</param>
    /// <param name="memoryLengths">The memory lengths given to the training forward.</param>
    /// <param name="workspace">Scratch of at least <see cref="MultiHeadAttentionGeometry.WorkspaceLength(int, int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Query positions per example.</param>
    /// <param name="memorySeq">Memory positions per example; <paramref name="seq"/> for self-attention.</param>
    /// <param name="dropout">The dropout given to the training forward.</param>
    /// <param name="dropoutSeed">The seed given to the training forward (the mask is regenerated from it).</param>
    /// <exception cref="ArgumentException">A span's length does not match its shape, a length is outside its range, the workspace is
    /// too short, spans overlap, <paramref name="seq"/> exceeds the positions of <see cref="MultiHeadAttentionGeometry.Rotary"/>, or the
    /// layer is self-attention and <paramref name="memoryLengths"/> is not empty or <paramref name="memorySeq"/> differs from <paramref name="seq"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> or <paramref name="memorySeq"/> is less than 1,
    /// or <paramref name="dropout"/> is outside [0, 1].</exception>
    public static unsafe void Backward(in MultiHeadAttentionGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> memory,
        ReadOnlySpan<float> parameters, ReadOnlySpan<float> kept, Span<float> dParameters, Span<float> dInput, Span<float> dMemory,
        ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, Span<float> workspace, int batch, int seq, int memorySeq,
        float dropout = 0f, ulong dropoutSeed = 0)
    {
        CheckCommon(g, input, memory, parameters, dOutput, lengths, memoryLengths, workspace, batch, seq, memorySeq, outputName: nameof(dOutput));
        AttentionKernels.CheckDropout(dropout);
        CheckLength(kept.Length, g.KeptLength(batch, seq, memorySeq), nameof(kept), Shape.Kept, g, batch, seq, memorySeq);
        CheckLength(dParameters.Length, g.ParameterCount, nameof(dParameters), Shape.Parameters, g, batch, seq);
        ThrowHelper.CheckWritable(dParameters, nameof(dParameters), input, parameters, dOutput, workspace, nameof(dOutput));
        ThrowHelper.CheckNoOverlap(kept, dParameters, nameof(kept), nameof(dParameters));
        ThrowHelper.CheckNoOverlap(kept, workspace, nameof(kept), nameof(workspace));
        ThrowHelper.CheckNoOverlap(memory, dParameters, nameof(memory), nameof(dParameters));
        if (!dMemory.IsEmpty && !g.IsCross)
            throw new ArgumentException($"'{nameof(dMemory)}' must be empty for self-attention ({g}) but has {dMemory.Length} elements.", nameof(dMemory));
        CheckGradient(dInput, nameof(dInput), g.InputLength(batch, seq), Shape.InputOrEmpty, g, batch, seq, input, memory, parameters, dOutput, kept, dParameters, workspace);
        CheckGradient(dMemory, nameof(dMemory), g.MemoryLength(batch, memorySeq), Shape.MemoryOrEmpty, g, batch, memorySeq, input, memory, parameters, dOutput, kept, dParameters, workspace);
        ThrowHelper.CheckNoOverlap(dInput, dMemory, nameof(dInput), nameof(dMemory));
        if (batch == 0) return;
        var layout = new MultiHeadAttentionWorkspace(g, batch, seq, memorySeq);
        int rows = batch * seq, memoryRows = batch * memorySeq, d = g.Model, dk = g.KeyFeatures;
        long rd = (long)rows * d;
        fixed (float* dyp = dOutput, xp = input, mp = memory, p = parameters, k = kept, dp = dParameters, dx = dInput, dm = dMemory, ws = workspace)
        fixed (int* len = lengths, mlen = memoryLengths)
        {
            var w = new Weights(g, p);
            var dw = new Weights(g, dp);
            var planes = new KeptPlanes(g, k, rows, memoryRows);
            float* x = PaddedRows.ZeroedCopy(xp, ws + layout.XCopy, len, batch, seq, d);
            float* m = g.IsCross ? PaddedRows.ZeroedCopy(mp, ws + layout.MemoryCopy, mlen, batch, memorySeq, g.Memory) : x;
            // dOutput with padded rows zeroed: padded queries see real keys, so their gradient must not flow anywhere.
            float* gy = dyp;
            if (PaddedRows.Any(len, batch, seq))
            {
                gy = ws + layout.A;
                ReadOnly(dyp, rd).CopyTo(Span(gy, rd));
                PaddedRows.Zero(gy, len, batch, seq, d);
            }
            float* dA = ws + layout.B;   // [rows, d] ∂L/∂A
            LinearBackward(gy, planes.Attn, w.OutWeight, dw.OutWeight, dw.OutBias, dA, rows, d, d, accumulate: false);
            var dQkv = new Projections(g, ws + layout.Qkv, rows, memoryRows);
            AttentionKernels.BackwardUnchecked(dA, planes.Qkv.Q, planes.Qkv.K, planes.Qkv.V, planes.Qkv.Stride, planes.Attn, d, planes.Lse,
                dQkv.Q, dQkv.K, dQkv.V, dQkv.Stride, g.IsCross ? mlen : len, g.Causal, ws + layout.Attention, batch, seq, g.Heads, g.HeadSize, memorySeq,
                new AttentionDropout(dropout, dropoutSeed));
            Rotate(g, dQkv, batch, seq, memorySeq, 0, inverse: true);   // to the gradients of the unrotated projections
            if (!g.IsCross)
            {
                // One GEMM each way over the packed [rows, 3d] gradient: dW_in += dQKVᵀ·x, dx = dQKV·W_in (all three paths).
                LinearBackward(dQkv.Q, x, w.QWeight, dw.QWeight, dw.QBias, dx, rows, d, 3 * d, accumulate: false);
            }
            else
            {
                LinearBackward(dQkv.Q, x, w.QWeight, dw.QWeight, dw.QBias, dx, rows, d, d, accumulate: false);
                LinearBackward(dQkv.K, m, w.KWeight, dw.KWeight, dw.KBias, dm, memoryRows, dk, d, accumulate: false);
                LinearBackward(dQkv.V, m, w.VWeight, dw.VWeight, dw.VBias, dm, memoryRows, dk, d, accumulate: true);
            }
            if (dx != null) PaddedRows.Zero(dx, len, batch, seq, d);
            if (dm != null) PaddedRows.Zero(dm, mlen, batch, memorySeq, g.Memory);
        }
    }

    /// <summary>
    /// One decoding step of a causal layer: effectively computes row <paramref name="position"/> of <see cref="Forward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int)"/> over
    /// positions 0..position, given the keys and values of positions 0..position − 1 in <paramref name="cache"/> (written by the
    /// previous steps), and appends this position's keys and values to it.
    /// </summary>
    /// <param name="g">The geometry; must be <see cref="MultiHeadAttentionGeometry.Causal"/>.</param>
    /// <param name="input">The new position's query source <c>[batch, Model]</c>.</param>
    /// <param name="memory">Cross-attention: the new position's memory <c>[batch, Memory]</c>; self-attention: empty.</param>
    /// <param name="parameters">The layer's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, Model]</c>; must not overlap the other operands.</param>
    /// <param name="cache">The key/value cache, <see cref="MultiHeadAttentionGeometry.CacheLength"/>(batch, maxLength) floats: keys
    /// <c>[batch, Heads, maxLength, HeadSize]</c>, then values in the same layout. Row <paramref name="position"/> of every head is
    /// overwritten; rows before it are read; rows after it are neither read nor written.</param>
    /// <param name="position">The new position, in [0, maxLength).</param>
    /// <param name="maxLength">Rows per head in the cache.</param>
    /// <param name="workspace">Scratch of at least <see cref="MultiHeadAttentionGeometry.StepWorkspaceLength"/>(batch, maxLength) floats.</param>
    /// <param name="batch">Examples (sequences decoded side by side, all at the same position).</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c> or not causal, a span's length does not match its shape,
    /// the workspace is too short, or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="maxLength"/> is less than 1, or
    /// <paramref name="position"/> is outside [0, maxLength) or beyond the positions of <see cref="MultiHeadAttentionGeometry.Rotary"/>.</exception>
    public static unsafe void ForwardStep(in MultiHeadAttentionGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> cache, int position, int maxLength, Span<float> workspace, int batch)
    {
        CheckGeometry(g);
        if (!g.Causal)
            throw new ArgumentException(
                $"'{nameof(g)}' must be causal for incremental decoding: without the causal mask earlier positions would see later ones, so cached keys and values would change ({g}).",
                nameof(g));
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        if (maxLength < 1) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"'{nameof(maxLength)}' must be at least 1 but is {maxLength}.");
        if (position < 0 || position >= maxLength)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"'{nameof(position)}' must be in [0, maxLength={maxLength}) but is {position}.");
        if (g.Rotary is not null && position >= g.Rotary.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(position), position,
                $"'{nameof(position)}' ({position}) is beyond the {g.Rotary.MaxLength} positions of the rotary table ({g.Rotary}).");
        CheckLength(input.Length, (long)batch * g.Model, nameof(input), Shape.StepInput, g, batch, 1);
        CheckLength(memory.Length, (long)batch * g.Memory, nameof(memory), Shape.StepMemory, g, batch, 1);
        CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), Shape.Parameters, g, batch, 1);
        CheckLength(output.Length, (long)batch * g.Model, nameof(output), Shape.StepInput, g, batch, 1);
        CheckLength(cache.Length, g.CacheLength(batch, maxLength), nameof(cache), Shape.Cache, g, batch, maxLength);
        long need = g.StepWorkspaceLength(batch, maxLength);
        if (workspace.Length < need)
            throw new ArgumentException(
                $"'{nameof(workspace)}' must have at least {need} elements (StepWorkspaceLength(batch={batch}, maxLength={maxLength})) but has {workspace.Length}.", nameof(workspace));
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(memory, output, nameof(memory), nameof(output));
        ThrowHelper.CheckNoOverlap(parameters, output, nameof(parameters), nameof(output));
        ThrowHelper.CheckNoOverlap(workspace, output, nameof(workspace), nameof(output));
        ThrowHelper.CheckNoOverlap(cache, output, nameof(cache), nameof(output));
        ThrowHelper.CheckWritable(cache, nameof(cache), input, parameters, output, workspace);
        ThrowHelper.CheckNoOverlap(memory, cache, nameof(memory), nameof(cache));
        ThrowHelper.CheckNoOverlap(input, workspace, nameof(input), nameof(workspace));
        ThrowHelper.CheckNoOverlap(memory, workspace, nameof(memory), nameof(workspace));
        ThrowHelper.CheckNoOverlap(parameters, workspace, nameof(parameters), nameof(workspace));
        if (batch == 0) return;
        int d = g.Model, hs = g.HeadSize, heads = g.Heads;
        fixed (float* x = input, mp = memory, p = parameters, y = output, kv = cache, ws = workspace)
        {
            var w = new Weights(g, p);
            var qkv = new Projections(g, ws, batch, batch);   // [batch, 3d] packed or three [batch, d] planes
            float* a = ws + 3L * batch * d;                    // [batch, d] attention output
            float* scores = a + (long)batch * d;               // [maxLength]
            Project(g, w, x, g.IsCross ? mp : x, qkv, batch, batch);
            // The cache holds rotated keys: each is rotated once, by its own position, as the full forward rotates it.
            Rotate(g, qkv, batch, 1, 1, position, inverse: false);
            float* keys = kv, values = kv + (long)batch * maxLength * d;   // [batch, heads, maxLength, hs] each
            for (int b = 0; b < batch; b++)
                for (int h = 0; h < heads; h++)
                {
                    long head = ((long)b * heads + h) * maxLength * hs;       // (b, h)'s [maxLength, hs]
                    long col = (long)b * qkv.Stride + h * hs;                  // head h of example b's q, k, v rows
                    ReadOnly(qkv.K + col, hs).CopyTo(Span(keys + head + (long)position * hs, hs));
                    ReadOnly(qkv.V + col, hs).CopyTo(Span(values + head + (long)position * hs, hs));
                    AttentionKernels.Decode(qkv.Q + col, keys + head, values + head, position + 1, a + (long)b * d + h * hs, scores, hs);
                }
            Linear(a, w.OutWeight, w.OutBias, y, batch, d, d);
        }
    }

    // ------------------------------------------------------------------------------------------------ entry points for composite layers

    /// <summary>
    /// For composite layers (the Transformer decoder's cross-attention), unchecked: Q, K, V from the rows x and the memory rows m into
    /// <paramref name="qkv"/> (<c>3·rows·d</c> floats: packed [rows, 3d] for self-attention, three [rows, d] planes for cross-attention),
    /// rotated when the geometry has a table, then the attention output A [rows, d] into <paramref name="attn"/>, keeping the per-head
    /// log-sum-exp in <paramref name="lse"/> [rows, heads] when it is not null. out_proj is the caller's (<see cref="OutProjection"/>), so
    /// it can fuse the residual and dropout. <paramref name="ws"/> holds <see cref="AttentionKernels.WorkspaceLength"/>(seq, HeadSize) floats.
    /// <paramref name="dropout"/> drops attention weights (training).
    /// </summary>
    internal static unsafe void AttendUnchecked(in MultiHeadAttentionGeometry g, float* p, float* x, float* m, float* qkv, float* attn, float* lse,
        int* lengths, float* ws, int batch, int seq, AttentionDropout dropout = default)
        => AttendUnchecked(g, p, x, m, qkv, attn, lse, lengths, ws, batch, seq, seq, dropout);

    /// <summary>
    /// <see cref="AttendUnchecked(in MultiHeadAttentionGeometry, float*, float*, float*, float*, float*, float*, int*, float*, int, int, AttentionDropout)"/> for
    /// cross-attention over a memory of <paramref name="memorySeq"/> rows per example: <paramref name="keyLengths"/> mask the keys (the memory's
    /// lengths for cross-attention, the queries' for self-attention, where <paramref name="memorySeq"/> must be <paramref name="seq"/>);
    /// <paramref name="qkv"/> holds <c>rows·d + 2·batch·memorySeq·d</c> floats; the dropout mask's key index is the memory position.
    /// </summary>
    internal static unsafe void AttendUnchecked(in MultiHeadAttentionGeometry g, float* p, float* x, float* m, float* qkv, float* attn, float* lse,
        int* keyLengths, float* ws, int batch, int seq, int memorySeq, AttentionDropout dropout = default)
    {
        int rows = batch * seq, memoryRows = batch * memorySeq;
        var w = new Weights(g, p);
        var planes = new Projections(g, qkv, rows, memoryRows);
        Project(g, w, x, m, planes, rows, memoryRows);
        Rotate(g, planes, batch, seq, memorySeq, 0, inverse: false);
        AttentionKernels.ForwardUnchecked(planes.Q, planes.K, planes.V, planes.Stride, attn, g.Model, lse, keyLengths, g.Causal, ws, batch, seq, g.Heads, g.HeadSize,
            memorySeq, dropout);
    }

    /// <summary>
    /// Backward of <see cref="AttendUnchecked(in MultiHeadAttentionGeometry, float*, float*, float*, float*, float*, float*, int*, float*, int, int, AttentionDropout)"/>, unchecked: from dA [rows, d], accumulates the in-projection gradients into the slice
    /// <paramref name="dp"/>, and writes (or with <paramref name="accumulateDx"/> adds) the query source's gradient into
    /// <paramref name="dx"/> and, for cross-attention, adds the memory's gradient into <paramref name="dm"/> (either skipped when null).
    /// <paramref name="dQkv"/> is scratch of <c>3·rows·d</c> floats; <paramref name="dropout"/> is the forward's.
    /// </summary>
    internal static unsafe void AttendBackwardUnchecked(in MultiHeadAttentionGeometry g, float* p, float* dp, float* dAttn, float* x, float* m,
        float* qkv, float* attn, float* lse, float* dQkv, float* dx, bool accumulateDx, float* dm, int* lengths, float* ws, int batch, int seq,
        AttentionDropout dropout = default)
        => AttendBackwardUnchecked(g, p, dp, dAttn, x, m, qkv, attn, lse, dQkv, dx, accumulateDx, dm, lengths, ws, batch, seq, seq, dropout);

    /// <summary>Backward of the memory-length overload of <c>AttendUnchecked</c>: as the other overload, with dm of <c>batch·memorySeq</c> rows
    /// (<paramref name="dropout"/> is the forward's).</summary>
    internal static unsafe void AttendBackwardUnchecked(in MultiHeadAttentionGeometry g, float* p, float* dp, float* dAttn, float* x, float* m,
        float* qkv, float* attn, float* lse, float* dQkv, float* dx, bool accumulateDx, float* dm, int* keyLengths, float* ws, int batch, int seq, int memorySeq,
        AttentionDropout dropout = default)
    {
        int rows = batch * seq, memoryRows = batch * memorySeq, d = g.Model;
        var w = new Weights(g, p);
        var dw = new Weights(g, dp);
        var planes = new Projections(g, qkv, rows, memoryRows);
        var grads = new Projections(g, dQkv, rows, memoryRows);
        AttentionKernels.BackwardUnchecked(dAttn, planes.Q, planes.K, planes.V, planes.Stride, attn, d, lse,
            grads.Q, grads.K, grads.V, grads.Stride, keyLengths, g.Causal, ws, batch, seq, g.Heads, g.HeadSize, memorySeq, dropout);
        Rotate(g, grads, batch, seq, memorySeq, 0, inverse: true);
        if (!g.IsCross)
        {
            LinearBackward(grads.Q, x, w.QWeight, dw.QWeight, dw.QBias, dx, rows, d, 3 * d, accumulateDx);
            return;
        }
        LinearBackward(grads.Q, x, w.QWeight, dw.QWeight, dw.QBias, dx, rows, d, d, accumulateDx);
        LinearBackward(grads.K, m, w.KWeight, dw.KWeight, dw.KBias, dm, memoryRows, g.Memory, d, accumulate: true);
        LinearBackward(grads.V, m, w.VWeight, dw.VWeight, dw.VBias, dm, memoryRows, g.Memory, d, accumulate: true);
    }

    /// <summary>Where W_q [d, d], W_k and W_v [d, KeyFeatures] and their biases [d] (null without bias) lie in a parameter slice.</summary>
    internal static unsafe void InProjections(in MultiHeadAttentionGeometry g, float* p, out float* qWeight, out float* qBias, out float* kWeight, out float* kBias,
        out float* vWeight, out float* vBias)
    {
        var w = new Weights(g, p);
        qWeight = w.QWeight;
        qBias = w.QBias;
        kWeight = w.KWeight;
        kBias = w.KBias;
        vWeight = w.VWeight;
        vBias = w.VBias;
    }

    /// <summary>Where out_proj's weight [d, d] and bias [d] (null without bias) lie in a parameter (or gradient) slice.</summary>
    internal static unsafe void OutProjection(in MultiHeadAttentionGeometry g, float* p, out float* weight, out float* bias)
    {
        var w = new Weights(g, p);
        weight = w.OutWeight;
        bias = w.OutBias;
    }

    // ------------------------------------------------------------------------------------------------ building blocks

    /// <summary>Q, K, V from x and m: one GEMM into the packed buffer for self-attention, three into planes for cross-attention.</summary>
    private static unsafe void Project(in MultiHeadAttentionGeometry g, in Weights w, float* x, float* m, in Projections qkv, int rows, int memoryRows)
    {
        int d = g.Model;
        if (!g.IsCross)
        {
            Linear(x, w.QWeight, w.QBias, qkv.Q, rows, d, 3 * d);   // W_in = [W_q; W_k; W_v] is one [3d, d] matrix
            return;
        }
        Linear(x, w.QWeight, w.QBias, qkv.Q, rows, d, d);
        Linear(m, w.KWeight, w.KBias, qkv.K, memoryRows, g.Memory, d);
        Linear(m, w.VWeight, w.VBias, qkv.V, memoryRows, g.Memory, d);
    }

    /// <summary>
    /// RoPE on the queries and keys of <c>batch·seq</c> rows at positions <c>start + t</c> (forward, or with <paramref name="inverse"/> the
    /// transpose rotation for backward); nothing without a rotary table. The packed [rows, 3d] buffer takes one call over its first 2d
    /// columns; the cross-attention planes take one call each.
    /// </summary>
    private static unsafe void Rotate(in MultiHeadAttentionGeometry g, in Projections qkv, int batch, int seq, int memorySeq, int start, bool inverse)
    {
        if (g.Rotary is not { } table) return;
        int d = g.Model;
        if (!g.IsCross)
        {
            if (inverse) RotaryKernels.BackwardUnchecked(table, qkv.Q, batch, seq, 3 * d, 2 * d, start);
            else RotaryKernels.ForwardUnchecked(table, qkv.Q, batch, seq, 3 * d, 2 * d, start);
            return;
        }
        if (inverse)
        {
            RotaryKernels.BackwardUnchecked(table, qkv.Q, batch, seq, d, d, start);
            RotaryKernels.BackwardUnchecked(table, qkv.K, batch, memorySeq, d, d, start);
        }
        else
        {
            RotaryKernels.ForwardUnchecked(table, qkv.Q, batch, seq, d, d, start);
            RotaryKernels.ForwardUnchecked(table, qkv.K, batch, memorySeq, d, d, start);
        }
    }

    /// <summary>y = x·Wᵀ + b (no bias when <paramref name="bias"/> is null).</summary>
    private static unsafe void Linear(float* x, float* weight, float* bias, float* y, int rows, int inF, int outF)
        => DenseKernels.Forward(default(IdentityActivation), ReadOnly(x, (long)rows * inF), ReadOnly(weight, (long)outF * inF),
            bias == null ? default : ReadOnly(bias, outF), Span(y, (long)rows * outF), default, rows, inF, outF);

    /// <summary>dWeight += dYᵀ·X, dBias += Σ_rows dY (when there is a bias), and dX (+)= dY·W when dX is not null.</summary>
    private static unsafe void LinearBackward(float* dYp, float* xp, float* weight, float* dWeight, float* dBias, float* dXp,
        int rows, int inF, int outF, bool accumulate)
    {
        var dYs = ReadOnly(dYp, (long)rows * outF);
        // dWeight[out, in] += dY[rows, out]ᵀ · X[rows, in]
        Gemm.TN(dYs, ReadOnly(xp, (long)rows * inF), Span(dWeight, (long)outF * inF), outF, rows, inF, accumulate: true);
        // dBias[out] += Σ_r dY[r, :], rows in order (independent of alignment).
        if (dBias != null)
            for (long r = 0; r < rows; r++) RowOps.AddTo(ref dYp[r * outF], ref dBias[0], (nuint)outF);
        // dX[rows, in] (+)= dY[rows, out] · W[out, in]
        if (dXp != null) Gemm.NN(dYs, ReadOnly(weight, (long)outF * inF), Span(dXp, (long)rows * inF), rows, outF, inF, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Span<float> Span(float* p, long n) => new(p, (int)n);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe ReadOnlySpan<float> ReadOnly(float* p, long n) => new(p, (int)n);

    // ------------------------------------------------------------------------------------------------ validation

    private static void CheckCommon(in MultiHeadAttentionGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        ReadOnlySpan<float> output, ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, ReadOnlySpan<float> workspace, int batch, int seq, int memorySeq,
        string outputName = "output")
    {
        CheckGeometry(g);
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        if (seq < 1) throw new ArgumentOutOfRangeException(nameof(seq), seq, $"'{nameof(seq)}' must be at least 1 but is {seq}.");
        if (memorySeq < 1) throw new ArgumentOutOfRangeException(nameof(memorySeq), memorySeq, $"'{nameof(memorySeq)}' must be at least 1 but is {memorySeq}.");
        if (!g.IsCross && memorySeq != seq)
            throw new ArgumentException($"'{nameof(memorySeq)}' ({memorySeq}) must equal '{nameof(seq)}' ({seq}) for self-attention ({g}).", nameof(memorySeq));
        if (!g.IsCross && !memoryLengths.IsEmpty)
            throw new ArgumentException($"'{nameof(memoryLengths)}' must be empty for self-attention ({g}) but has {memoryLengths.Length} elements.", nameof(memoryLengths));
        if ((long)batch * Math.Max(seq, memorySeq) * 3L * Math.Max(g.Model, g.Memory) > int.MaxValue)
            throw new ArgumentException(
                $"batch·seq = {(long)batch * Math.Max(seq, memorySeq)} rows of up to {3L * Math.Max(g.Model, g.Memory)} floats exceed the largest buffer ({int.MaxValue} elements); use a smaller batch.",
                nameof(batch));
        if (g.Rotary is not null && Math.Max(seq, memorySeq) > g.Rotary.MaxLength)
            throw new ArgumentException(
                $"'{nameof(seq)}' ({Math.Max(seq, memorySeq)}) exceeds the {g.Rotary.MaxLength} positions of the rotary table ({g.Rotary}); use a shorter sequence or a larger table.", nameof(seq));
        CheckLength(input.Length, g.InputLength(batch, seq), nameof(input), Shape.Input, g, batch, seq);
        CheckLength(memory.Length, g.MemoryLength(batch, memorySeq), nameof(memory), Shape.Memory, g, batch, memorySeq);
        CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), Shape.Parameters, g, batch, 1);
        CheckLength(output.Length, g.InputLength(batch, seq), outputName, Shape.Input, g, batch, seq);
        if (!lengths.IsEmpty) CheckLength(lengths.Length, batch, nameof(lengths), Shape.Lengths, g, batch, seq);
        ThrowHelper.CheckCompositeOperands(input, parameters, output, outputName, lengths, workspace, g.WorkspaceLength(batch, seq, memorySeq), batch, seq);
        if (!memoryLengths.IsEmpty)
        {
            CheckLength(memoryLengths.Length, batch, nameof(memoryLengths), Shape.Lengths, g, batch, memorySeq);
            for (int b = 0; b < memoryLengths.Length; b++)
                if (memoryLengths[b] < 1 || memoryLengths[b] > memorySeq)
                    throw new ArgumentException($"'{nameof(memoryLengths)}[{b}]' must be in [1, memorySeq={memorySeq}] but is {memoryLengths[b]}.", nameof(memoryLengths));
        }
        ThrowHelper.CheckNoOverlap(memory, output, nameof(memory), outputName);
        ThrowHelper.CheckNoOverlap(memory, workspace, nameof(memory), nameof(workspace));
    }

    /// <summary>Checks an input or memory gradient that is not empty: its length, and that it overlaps nothing else.</summary>
    private static void CheckGradient(ReadOnlySpan<float> grad, string name, long expected, Shape shape, in MultiHeadAttentionGeometry g, int batch, int seq, ReadOnlySpan<float> input, ReadOnlySpan<float> memory,
        ReadOnlySpan<float> parameters, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> kept, ReadOnlySpan<float> dParameters, ReadOnlySpan<float> workspace)
    {
        if (grad.IsEmpty) return;
        CheckLength(grad.Length, expected, name, shape, g, batch, seq);
        ThrowHelper.CheckWritable(grad, name, input, parameters, dOutput, workspace, nameof(dOutput));
        ThrowHelper.CheckNoOverlap(memory, grad, nameof(memory), name);
        ThrowHelper.CheckNoOverlap(kept, grad, nameof(kept), name);
        ThrowHelper.CheckNoOverlap(dParameters, grad, nameof(dParameters), name);
    }

    private static void CheckGeometry(in MultiHeadAttentionGeometry g)
    {
        if (!g.IsValid)
            throw new ArgumentException($"'{nameof(g)}' is default({nameof(MultiHeadAttentionGeometry)}); create it with its constructor.", nameof(g));
    }

    private enum Shape { Input, Memory, InputOrEmpty, MemoryOrEmpty, Parameters, Lengths, Kept, StepInput, StepMemory, Cache }

    /// <summary>Throws unless the operand has the expected length; the shape description is formatted only when throwing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckLength(int actual, long expected, string operand, Shape shape, in MultiHeadAttentionGeometry g, int batch, int seq, int memorySeq = -1)
    {
        if (actual != expected) ThrowLength(actual, expected, operand, shape, g, batch, seq, memorySeq < 0 ? seq : memorySeq);
    }

    // seq is the positions per example (maxLength for Shape.Cache).
    [DoesNotReturn]
    private static void ThrowLength(int actual, long expected, string operand, Shape shape, in MultiHeadAttentionGeometry g, int batch, int seq, int memorySeq)
    {
        string description = shape switch
        {
            Shape.Input => $"[batch={batch}, seq={seq}, Model={g.Model}]",
            Shape.InputOrEmpty => $"[batch={batch}, seq={seq}, Model={g.Model}] or empty",
            Shape.Memory or Shape.StepMemory when !g.IsCross => "empty for self-attention",
            Shape.Memory => $"[batch={batch}, seq={seq}, Memory={g.Memory}]",
            Shape.MemoryOrEmpty => $"[batch={batch}, seq={seq}, Memory={g.Memory}] or empty",
            Shape.Parameters => $"ParameterCount of {g}",
            Shape.Lengths => $"[batch={batch}] or empty",
            Shape.Kept when memorySeq != seq => $"KeptLength(batch={batch}, seq={seq}, memorySeq={memorySeq})",
            Shape.Kept => $"KeptLength(batch={batch}, seq={seq}) = batch·seq·TrainingStepLength({g.TrainingStepLength})",
            Shape.StepInput => $"[batch={batch}, Model={g.Model}]",
            Shape.StepMemory => $"[batch={batch}, Memory={g.Memory}]",
            _ => $"CacheLength(batch={batch}, maxLength={seq}): keys then values, each [batch={batch}, Heads={g.Heads}, maxLength={seq}, HeadSize={g.HeadSize}]",
        };
        throw new ArgumentException($"'{operand}' must have {expected} elements ({description}) but has {actual}.", operand);
    }

    // ------------------------------------------------------------------------------------------------ layouts

    /// <summary>The tensors inside a parameter (or gradient) slice, in state-dict order; bias pointers are null without bias.</summary>
    private readonly unsafe struct Weights
    {
        public readonly float* QWeight, KWeight, VWeight;   // [d, d], [d, dk], [d, dk]: together in_proj_weight when dk = d
        public readonly float* QBias, KBias, VBias;         // [d] each: in_proj_bias
        public readonly float* OutWeight, OutBias;          // [d, d], [d]

        public Weights(in MultiHeadAttentionGeometry g, float* p)
        {
            long d = g.Model, dk = g.KeyFeatures;
            QWeight = p;
            KWeight = QWeight + d * d;
            VWeight = KWeight + d * dk;
            float* at = VWeight + d * dk;
            if (g.Bias)
            {
                QBias = at;
                KBias = at + d;
                VBias = at + 2 * d;
                at += 3 * d;
            }
            else QBias = KBias = VBias = null;
            OutWeight = at;
            OutBias = g.Bias ? at + d * d : null;
        }
    }

    /// <summary>Where Q, K and V of <c>rows</c> positions lie: self-attention packs them as [rows, 3d] (stride 3d), cross-attention as three [rows, d] planes.</summary>
    private readonly unsafe struct Projections
    {
        public readonly float* Q, K, V;
        public readonly int Stride;

        public Projections(in MultiHeadAttentionGeometry g, float* start, long rows, long memoryRows)
        {
            int d = g.Model;
            Q = start;
            if (g.IsCross)
            {
                K = start + rows * d;          // [memoryRows, d]
                V = K + memoryRows * d;        // [memoryRows, d]
                Stride = d;
            }
            else
            {
                K = start + d;
                V = start + 2 * d;
                Stride = 3 * d;
            }
        }
    }

    /// <summary>The kept buffer: the projections (q [rows, d], k and v [memoryRows, d]), the attention output [rows, d] and the log-sum-exp [rows, heads].</summary>
    private readonly unsafe struct KeptPlanes
    {
        public readonly Projections Qkv;
        public readonly float* Attn, Lse;

        public KeptPlanes(in MultiHeadAttentionGeometry g, float* kept, long rows, long memoryRows)
        {
            Qkv = new Projections(g, kept, rows, memoryRows);
            Attn = kept + (rows + 2 * memoryRows) * g.Model;
            Lse = Attn + rows * g.Model;
        }
    }
}
