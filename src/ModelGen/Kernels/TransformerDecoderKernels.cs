// Transformer decoder stacks (PyTorch nn.TransformerDecoder over nn.TransformerDecoderLayer, batch_first=True) as ONE composite
// layer over an input x [batch·seq, d] and a memory m [batch·seq, dm] (same lengths); the N identical layers run as a loop over
// their parameter slices. Per layer (torch/nn/modules/transformer.py):
//   norm_first:  x = x + Drop(SA(LN1(x)));   x = x + Drop(CA(LN2(x), m));   x = x + Drop(FF(LN3(x)))
//   otherwise:   x = LN1(x + Drop(SA(x)));   x = LN2(x + Drop(CA(x, m)));   x = LN3(x + Drop(FF(x)))
// SA is MultiHeadAttentionKernels' self-attention (causal when asked), CA its cross-attention (queries from x, keys and values
// from m, never causal, keys masked past lengths[b]), FF(x) = Drop(act(x·W_1ᵀ + b_1))·W_2ᵀ + b_2. The attention blocks come from
// MultiHeadAttentionKernels' unchecked entry points and the LayerNorm/projection/dropout/feed-forward pieces from TransformerBlocks,
// which the encoder stack uses too. out_proj and linear2 accumulate onto their residual inside the GEMM when there is no dropout.
// Training keeps, per layer, what backward needs (see LayerPlanes); backward recomputes only attention scores, and the memory's
// gradient accumulates over all layers. Padding as the encoder: input and memory rows at t ≥ lengths[b] are read as zeros, dOutput
// there is ignored, and the input and memory gradients there are 0. Incremental decoding: TransformerDecoderKernels.Step.cs.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using static ModelGen.Kernels.TransformerBlocks;

namespace ModelGen.Kernels;

/// <summary>
/// Forward, training forward and backward of PyTorch-compatible Transformer decoder stacks (<see cref="TransformerDecoderGeometry"/>).
/// </summary>
/// <remarks>
/// Each layer computes PyTorch's <c>nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation, batch_first=True,
/// norm_first)</c> with <c>tgt_is_causal</c> = <see cref="TransformerDecoderGeometry.Causal"/> and key padding masks from the lengths on
/// both the input and the memory: with <c>norm_first</c>, <c>x = x + Drop(SA(LN1(x)))</c>, <c>x = x + Drop(CA(LN2(x), memory))</c>,
/// <c>x = x + Drop(FF(LN3(x)))</c>; without, <c>x = LN1(x + Drop(SA(x)))</c>, <c>x = LN2(x + Drop(CA(x, memory)))</c>,
/// <c>x = LN3(x + Drop(FF(x)))</c>, where SA and CA are multi-head attention (scores scaled by <c>1/√head_dim</c>, softmax over the
/// visible keys, <c>out_proj</c>) and <c>FF(x) = linear2(Drop(act(linear1(x))))</c>. The memory has the same length and lengths as the
/// input, or its own in the <c>memoryLengths</c>/<c>memorySeq</c> overloads (as <see cref="MultiHeadAttentionKernels"/>' cross-attention).
/// Dropout (training only) is inverted dropout on each attention
/// block's output, after the activation and on the feed-forward output; the attention weights of both attention blocks are dropped with
/// their own probability in the <c>attentionDropout</c> overloads (PyTorch's <c>self_attn</c>/<c>multihead_attn</c> dropout).
/// Incremental decoding (<c>PrepareMemory</c> once per sequence, then <c>ForwardStep</c> per position) is in TransformerDecoderKernels.Step.cs.
/// Results may differ from PyTorch's in the last bits.
/// </remarks>
public static partial class TransformerDecoderKernels
{
    /// <summary>Inference forward of the whole stack (no dropout): the layer formulas in the class remarks at every position.</summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="memory">Memory <c>[batch, seq, Memory]</c> (the encoder's output), with the same lengths as the input.</param>
    /// <param name="parameters">The stack's parameters, <see cref="TransformerDecoderGeometry.ParameterCount"/> floats in state-dict order.</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>; must not overlap the other operands.</param>
    /// <param name="lengths">Real positions per example <c>[batch]</c>, each in [1, seq]; empty means every example has <paramref name="seq"/>.</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerDecoderGeometry.WorkspaceLength(int, int)"/> floats (contents are overwritten).</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example (padded length).</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c>, a span's length does not match its shape, a length is outside
    /// [1, seq], the workspace is too short, spans overlap, or batch·seq rows are too many for one buffer.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or <paramref name="seq"/> is less than 1.</exception>
    public static void Forward(in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq)
        => Forward(g, input, memory, parameters, output, lengths, lengths, workspace, batch, seq, seq);

    /// <summary>
    /// Inference forward of the whole stack over a memory with its own length and lengths (an encoder's output over a second model input:
    /// Tq ≠ Tk in the cross-attention, whose keys are masked past <c>memoryLengths[b]</c>); otherwise as the other overload.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="memory">Memory <c>[batch, memorySeq, Memory]</c>.</param>
    /// <param name="parameters">The stack's parameters, <see cref="TransformerDecoderGeometry.ParameterCount"/> floats in state-dict order.</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>; must not overlap the other operands.</param>
    /// <param name="lengths">Real input positions per example <c>[batch]</c>, each in [1, seq]; empty means all <paramref name="seq"/>.</param>
    /// <param name="memoryLengths">Real memory positions per example <c>[batch]</c>, each in [1, memorySeq]; empty means all <paramref name="memorySeq"/>.</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerDecoderGeometry.WorkspaceLength(int, int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Input positions per example (padded length).</param>
    /// <param name="memorySeq">Memory positions per example (padded length).</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c>, a span's length does not match its shape, a length is outside
    /// its range, the workspace is too short, spans overlap, or the rows are too many for one buffer.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, or <paramref name="seq"/> or <paramref name="memorySeq"/> is less than 1.</exception>
    public static void Forward(in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, Span<float> workspace, int batch, int seq, int memorySeq)
    {
        CheckCommon(g, input, memory, parameters, output, lengths, memoryLengths, workspace, batch, seq, memorySeq);
        if (batch == 0) return;
        if (g.Activation == FeedForwardActivation.Gelu)
            ForwardCore(default(GeluActivation), g, input, memory, parameters, output, lengths, memoryLengths, workspace, batch, seq, memorySeq);
        else ForwardCore(default(ReluActivation), g, input, memory, parameters, output, lengths, memoryLengths, workspace, batch, seq, memorySeq);
    }

    /// <summary>
    /// Training forward: the outputs of <see cref="Forward(in TransformerDecoderGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int)"/> with inverted dropout (<c>mask = (u ≥ p)/(1 − p)</c>, one uniform draw per
    /// element, in order: per layer the self-attention block's output, the cross-attention block's output (<c>[batch, seq, Model]</c> each),
    /// the activation <c>[batch, seq, FeedForward]</c> and the feed-forward output <c>[batch, seq, Model]</c>), keeping what
    /// <see cref="Backward(in TransformerDecoderGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/> needs.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="memory">Memory <c>[batch, seq, Memory]</c>.</param>
    /// <param name="parameters">The stack's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>.</param>
    /// <param name="kept">Receives <see cref="TransformerDecoderGeometry.KeptLength(int, int)"/> floats for <see cref="Backward(in TransformerDecoderGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/> (the layout is private to these kernels).</param>
    /// <param name="lengths">Real positions per example, or empty (all <paramref name="seq"/>).</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerDecoderGeometry.WorkspaceLength(int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="dropout">Probability of zeroing an element, in [0, 1] (PyTorch's <c>dropout</c>).</param>
    /// <param name="rng">Draws the dropout masks; may be null when <paramref name="dropout"/> is 0.</param>
    /// <exception cref="ArgumentException">As <see cref="Forward(in TransformerDecoderGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int)"/>, or <paramref name="kept"/> has the wrong length or overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> is less than 1, or
    /// <paramref name="dropout"/> is outside [0, 1].</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null while <paramref name="dropout"/> is not 0.</exception>
    public static void TrainForward(in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> kept, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq, float dropout, Rng rng)
        => TrainForward(g, input, memory, parameters, output, kept, lengths, lengths, workspace, batch, seq, seq, dropout, 0f, 0, rng);

    /// <summary>
    /// Training forward with PyTorch's attention-weight dropout as well: as the other overload, and every layer's self- and
    /// cross-attention weights are multiplied by <c>M = (u ≥ p)/(1 − p)</c> with p = <paramref name="attentionDropout"/> and u a
    /// counter-based hash of (<paramref name="attentionSeed"/>, layer, block, example, head, query, key) in [0, 1), which
    /// <see cref="Backward(in TransformerDecoderGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/> regenerates from the same seed. <c>attentionDropout = 0</c> gives the other overload's result bit for bit.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="memory">Memory <c>[batch, seq, Memory]</c>.</param>
    /// <param name="parameters">The stack's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>.</param>
    /// <param name="kept">Receives <see cref="TransformerDecoderGeometry.KeptLength(int, int)"/> floats for <see cref="Backward(in TransformerDecoderGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>.</param>
    /// <param name="lengths">Real positions per example, or empty (all <paramref name="seq"/>).</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerDecoderGeometry.WorkspaceLength(int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="dropout">Probability of zeroing an element of the block outputs and the activation, in [0, 1].</param>
    /// <param name="attentionDropout">Probability of dropping an attention weight, in [0, 1].</param>
    /// <param name="attentionSeed">The attention-weight masks' seed: a new one per step, and the same one given to <see cref="Backward(in TransformerDecoderGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>.</param>
    /// <param name="rng">Draws the element dropout masks; may be null when <paramref name="dropout"/> is 0.</param>
    /// <exception cref="ArgumentException">As <see cref="Forward(in TransformerDecoderGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int)"/>, or <paramref name="kept"/> has the wrong length or overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> is less than 1, or a
    /// probability is outside [0, 1].</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null while <paramref name="dropout"/> is not 0.</exception>
    public static void TrainForward(in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> kept, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq, float dropout,
        float attentionDropout, ulong attentionSeed, Rng rng)
        => TrainForward(g, input, memory, parameters, output, kept, lengths, lengths, workspace, batch, seq, seq, dropout, attentionDropout, attentionSeed, rng);

    /// <summary>
    /// Training forward over a memory with its own length and lengths: the outputs of the matching Forward with the dropout of the other
    /// overloads (no attention-weight dropout), keeping what the matching Backward needs.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="memory">Memory <c>[batch, memorySeq, Memory]</c>.</param>
    /// <param name="parameters">The stack's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>.</param>
    /// <param name="kept">Receives <see cref="TransformerDecoderGeometry.KeptLength(int, int, int)"/> floats (the layout is private to these kernels).</param>
    /// <param name="lengths">Real input positions per example, or empty (all <paramref name="seq"/>).</param>
    /// <param name="memoryLengths">Real memory positions per example, or empty (all <paramref name="memorySeq"/>).</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerDecoderGeometry.WorkspaceLength(int, int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Input positions per example.</param>
    /// <param name="memorySeq">Memory positions per example.</param>
    /// <param name="dropout">Probability of zeroing an element, in [0, 1] (PyTorch's <c>dropout</c>).</param>
    /// <param name="rng">Draws the dropout masks; may be null when <paramref name="dropout"/> is 0.</param>
    /// <exception cref="ArgumentException">As that Forward, or <paramref name="kept"/> has the wrong length or overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> or <paramref name="memorySeq"/> is
    /// less than 1, or <paramref name="dropout"/> is outside [0, 1].</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null while <paramref name="dropout"/> is not 0.</exception>
    public static void TrainForward(in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> kept, ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, Span<float> workspace, int batch, int seq, int memorySeq,
        float dropout, Rng rng)
        => TrainForward(g, input, memory, parameters, output, kept, lengths, memoryLengths, workspace, batch, seq, memorySeq, dropout, 0f, 0, rng);

    /// <summary>
    /// Training forward over a memory with its own length and lengths, with attention-weight dropout: as the memory-length overload
    /// without it, and every layer's self- and cross-attention weights dropped as in the single-length attention-dropout overload
    /// (the cross-attention mask's key index is the memory position).
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="memory">Memory <c>[batch, memorySeq, Memory]</c>.</param>
    /// <param name="parameters">The stack's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>.</param>
    /// <param name="kept">Receives <see cref="TransformerDecoderGeometry.KeptLength(int, int, int)"/> floats (the layout is private to these kernels).</param>
    /// <param name="lengths">Real input positions per example, or empty (all <paramref name="seq"/>).</param>
    /// <param name="memoryLengths">Real memory positions per example, or empty (all <paramref name="memorySeq"/>).</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerDecoderGeometry.WorkspaceLength(int, int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Input positions per example.</param>
    /// <param name="memorySeq">Memory positions per example.</param>
    /// <param name="dropout">Probability of zeroing an element of the block outputs and the activation, in [0, 1].</param>
    /// <param name="attentionDropout">Probability of dropping an attention weight, in [0, 1].</param>
    /// <param name="attentionSeed">The attention-weight masks' seed: a new one per step, and the same one given to the matching Backward.</param>
    /// <param name="rng">Draws the element dropout masks; may be null when <paramref name="dropout"/> is 0.</param>
    /// <exception cref="ArgumentException">As that Forward, or <paramref name="kept"/> has the wrong length or overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> or <paramref name="memorySeq"/> is
    /// less than 1, or a probability is outside [0, 1].</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null while <paramref name="dropout"/> is not 0.</exception>
    public static void TrainForward(in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> kept, ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, Span<float> workspace, int batch, int seq, int memorySeq,
        float dropout, float attentionDropout, ulong attentionSeed, Rng rng)
    {
        CheckCommon(g, input, memory, parameters, output, lengths, memoryLengths, workspace, batch, seq, memorySeq);
        AttentionKernels.CheckDropout(attentionDropout, nameof(attentionDropout));
        CheckLength(kept.Length, g.KeptLength(batch, seq, memorySeq), nameof(kept), Shape.Kept, g, batch, seq, memorySeq);
        ThrowHelper.CheckWritable(kept, nameof(kept), input, parameters, output, workspace);
        ThrowHelper.CheckNoOverlap(memory, kept, nameof(memory), nameof(kept));
        if (!(dropout >= 0f && dropout <= 1f)) ThrowHelper.ThrowArgumentOutOfRange(nameof(dropout), dropout, "must be in [0, 1]");
        if (dropout > 0f) ArgumentNullException.ThrowIfNull(rng);
        if (batch == 0) return;
        if (g.Activation == FeedForwardActivation.Gelu)
            TrainForwardCore(default(GeluActivation), g, input, memory, parameters, output, kept, lengths, memoryLengths, workspace, batch, seq, memorySeq, dropout,
                new AttentionDropout(attentionDropout, attentionSeed), rng);
        else TrainForwardCore(default(ReluActivation), g, input, memory, parameters, output, kept, lengths, memoryLengths, workspace, batch, seq, memorySeq, dropout,
            new AttentionDropout(attentionDropout, attentionSeed), rng);
    }

    /// <summary>
    /// Backward of <c>TrainForward</c> (the single-length overloads): given <c>dOutput = ∂L/∂output</c>, accumulates <c>dParameters += ∂L/∂parameters</c> and
    /// writes <c>dInput = ∂L/∂input</c> and <c>dMemory = ∂L/∂memory</c> (summed over every layer's cross-attention), both 0 at padded
    /// positions. dOutput at padded positions is ignored.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="dOutput">Gradient with respect to the output <c>[batch, seq, Model]</c>.</param>
    /// <param name="input">The input given to <c>TrainForward</c>.</param>
    /// <param name="memory">The memory given to <c>TrainForward</c>.</param>
    /// <param name="parameters">The parameters given to <c>TrainForward</c>.</param>
    /// <param name="kept">What <c>TrainForward</c> kept.</param>
    /// <param name="dParameters">Parameter gradients in the layout of <paramref name="parameters"/>; accumulated into.</param>
    /// <param name="dInput">Receives <c>[batch, seq, Model]</c> (overwritten), or empty to skip computing it.</param>
    /// <param name="dMemory">Receives <c>[batch, seq, Memory]</c> (overwritten), or empty to skip computing it.</param>
    /// <param name="lengths">The lengths given to <c>TrainForward</c>.</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerDecoderGeometry.WorkspaceLength(int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="attentionDropout">The attention-weight dropout given to <c>TrainForward</c> (0 for the overload without it).</param>
    /// <param name="attentionSeed">The attention seed given to <c>TrainForward</c> (the masks are regenerated from it).</param>
    /// <exception cref="ArgumentException">A span's length does not match its shape, a length is outside [1, seq], the workspace is too short,
    /// or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> is less than 1, or
    /// <paramref name="attentionDropout"/> is outside [0, 1].</exception>
    public static void Backward(in TransformerDecoderGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> memory,
        ReadOnlySpan<float> parameters, ReadOnlySpan<float> kept, Span<float> dParameters, Span<float> dInput, Span<float> dMemory,
        ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq, float attentionDropout = 0f, ulong attentionSeed = 0)
        => Backward(g, dOutput, input, memory, parameters, kept, dParameters, dInput, dMemory, lengths, lengths, workspace, batch, seq, seq,
            attentionDropout, attentionSeed);

    /// <summary>
    /// Backward of the training forward over a memory with its own length and lengths (either memory-length overload): as the other
    /// overload, with <c>dMemory</c> <c>[batch, memorySeq, Memory]</c> (0 at padded memory positions).
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="dOutput">Gradient with respect to the output <c>[batch, seq, Model]</c>.</param>
    /// <param name="input">The input given to the training forward.</param>
    /// <param name="memory">The memory given to the training forward.</param>
    /// <param name="parameters">The parameters given to the training forward.</param>
    /// <param name="kept">What the training forward kept.</param>
    /// <param name="dParameters">Parameter gradients in the layout of <paramref name="parameters"/>; accumulated into.</param>
    /// <param name="dInput">Receives <c>[batch, seq, Model]</c> (overwritten), or empty to skip computing it.</param>
    /// <param name="dMemory">Receives <c>[batch, memorySeq, Memory]</c> (overwritten), or empty to skip computing it.</param>
    /// <param name="lengths">The input lengths given to the training forward.</param>
    /// <param name="memoryLengths">The memory lengths given to the training forward.</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerDecoderGeometry.WorkspaceLength(int, int, int)"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Input positions per example.</param>
    /// <param name="memorySeq">Memory positions per example.</param>
    /// <param name="attentionDropout">The attention-weight dropout given to the training forward (0 for the overload without it).</param>
    /// <param name="attentionSeed">The attention seed given to the training forward (the masks are regenerated from it).</param>
    /// <exception cref="ArgumentException">A span's length does not match its shape, a length is outside its range, the workspace is too short,
    /// or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> or <paramref name="memorySeq"/> is
    /// less than 1, or <paramref name="attentionDropout"/> is outside [0, 1].</exception>
    public static void Backward(in TransformerDecoderGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> memory,
        ReadOnlySpan<float> parameters, ReadOnlySpan<float> kept, Span<float> dParameters, Span<float> dInput, Span<float> dMemory,
        ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, Span<float> workspace, int batch, int seq, int memorySeq,
        float attentionDropout = 0f, ulong attentionSeed = 0)
    {
        CheckCommon(g, input, memory, parameters, dOutput, lengths, memoryLengths, workspace, batch, seq, memorySeq, outputName: nameof(dOutput));
        AttentionKernels.CheckDropout(attentionDropout, nameof(attentionDropout));
        CheckLength(kept.Length, g.KeptLength(batch, seq, memorySeq), nameof(kept), Shape.Kept, g, batch, seq, memorySeq);
        CheckLength(dParameters.Length, g.ParameterCount, nameof(dParameters), Shape.Parameters, g, batch, seq);
        ThrowHelper.CheckWritable(dParameters, nameof(dParameters), input, parameters, dOutput, workspace, nameof(dOutput));
        ThrowHelper.CheckNoOverlap(kept, dParameters, nameof(kept), nameof(dParameters));
        ThrowHelper.CheckNoOverlap(kept, workspace, nameof(kept), nameof(workspace));
        ThrowHelper.CheckNoOverlap(memory, dParameters, nameof(memory), nameof(dParameters));
        CheckGradient(dInput, nameof(dInput), g.InputLength(batch, seq), Shape.Input, g, batch, seq, input, memory, parameters, dOutput, kept, dParameters, workspace);
        CheckGradient(dMemory, nameof(dMemory), g.MemoryLength(batch, memorySeq), Shape.Memory, g, batch, memorySeq, input, memory, parameters, dOutput, kept, dParameters, workspace);
        ThrowHelper.CheckNoOverlap(dInput, dMemory, nameof(dInput), nameof(dMemory));
        if (batch == 0) return;
        if (g.Activation == FeedForwardActivation.Gelu)
            BackwardCore(default(GeluActivation), g, dOutput, input, memory, parameters, kept, dParameters, dInput, dMemory, lengths, memoryLengths, workspace,
                batch, seq, memorySeq, new AttentionDropout(attentionDropout, attentionSeed));
        else BackwardCore(default(ReluActivation), g, dOutput, input, memory, parameters, kept, dParameters, dInput, dMemory, lengths, memoryLengths, workspace,
            batch, seq, memorySeq, new AttentionDropout(attentionDropout, attentionSeed));
    }

    // ------------------------------------------------------------------------------------------------ forward

    private static unsafe void ForwardCore<TAct>(TAct act, in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory,
        ReadOnlySpan<float> parameters, Span<float> output, ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, Span<float> workspace, int batch, int seq,
        int memorySeq) where TAct : struct, IActivation
    {
        var layout = new TransformerDecoderWorkspace(g, batch, seq, memorySeq);
        int rows = batch * seq, memoryRows = batch * memorySeq, d = g.Model, ff = g.FeedForward;
        var sa = g.SelfAttention;
        var ca = g.CrossAttention;
        fixed (float* x = input, mp = memory, p = parameters, y = output, ws = workspace)
        fixed (int* len = lengths, mlen = memoryLengths)
        {
            float* a = ws + layout.A;         // [rows, d] LayerNorm output, then an attention output
            float* wide = ws + layout.Wide;   // q/k/v, then [rows, ff] the feed-forward activation
            float* att = ws + layout.Attention;
            float* layerIn = PaddedRows.ZeroedCopy(x, ws + layout.XCopy, len, batch, seq, d);
            float* m = PaddedRows.ZeroedCopy(mp, ws + layout.MemoryCopy, mlen, batch, memorySeq, g.Memory);
            for (int l = 0; l < g.Layers; l++)
            {
                var w = new LayerWeights(g, p, l);
                // Layer 0 reads the input; later layers update the output in place (it holds the residual stream).
                float* res = l == 0 ? layerIn : y;
                if (g.NormFirst)
                {
                    LayerNorm(res, w.Norm1Weight, w.Norm1Bias, a, null, null, rows, d, g.Eps);
                    MultiHeadAttentionKernels.AttendUnchecked(sa, w.SelfAttn, a, a, wide, a, null, len, att, batch, seq);
                    LinearResidual(a, w.SelfOutWeight, w.SelfOutBias, res, y, rows, d, d);
                    LayerNorm(y, w.Norm2Weight, w.Norm2Bias, a, null, null, rows, d, g.Eps);
                    MultiHeadAttentionKernels.AttendUnchecked(ca, w.CrossAttn, a, m, wide, a, null, mlen, att, batch, seq, memorySeq);
                    LinearResidual(a, w.CrossOutWeight, w.CrossOutBias, y, y, rows, d, d);
                    LayerNorm(y, w.Norm3Weight, w.Norm3Bias, a, null, null, rows, d, g.Eps);
                    Linear(act, a, w.Linear1Weight, w.Linear1Bias, wide, null, rows, d, ff);
                    LinearResidual(wide, w.Linear2Weight, w.Linear2Bias, y, y, rows, ff, d);
                }
                else
                {
                    MultiHeadAttentionKernels.AttendUnchecked(sa, w.SelfAttn, res, res, wide, a, null, len, att, batch, seq);
                    LinearResidual(a, w.SelfOutWeight, w.SelfOutBias, res, y, rows, d, d);
                    LayerNorm(y, w.Norm1Weight, w.Norm1Bias, y, null, null, rows, d, g.Eps);
                    MultiHeadAttentionKernels.AttendUnchecked(ca, w.CrossAttn, y, m, wide, a, null, mlen, att, batch, seq, memorySeq);
                    LinearResidual(a, w.CrossOutWeight, w.CrossOutBias, y, y, rows, d, d);
                    LayerNorm(y, w.Norm2Weight, w.Norm2Bias, y, null, null, rows, d, g.Eps);
                    Linear(act, y, w.Linear1Weight, w.Linear1Bias, wide, null, rows, d, ff);
                    LinearResidual(wide, w.Linear2Weight, w.Linear2Bias, y, y, rows, ff, d);
                    LayerNorm(y, w.Norm3Weight, w.Norm3Bias, y, null, null, rows, d, g.Eps);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ training forward

    private static unsafe void TrainForwardCore<TAct>(TAct act, in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory,
        ReadOnlySpan<float> parameters, Span<float> output, Span<float> kept, ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, Span<float> workspace,
        int batch, int seq, int memorySeq, float dropout, AttentionDropout attentionDropout, Rng rng) where TAct : struct, IActivation
    {
        var layout = new TransformerDecoderWorkspace(g, batch, seq, memorySeq);
        int rows = batch * seq, memoryRows = batch * memorySeq, d = g.Model, ff = g.FeedForward;
        var sa = g.SelfAttention;
        var ca = g.CrossAttention;
        fixed (float* x = input, mp = memory, p = parameters, y = output, k = kept, ws = workspace)
        fixed (int* len = lengths, mlen = memoryLengths)
        {
            float* scratch = ws + layout.A;   // [rows, d] a projection before its dropout
            float* att = ws + layout.Attention;
            float* layerIn = PaddedRows.ZeroedCopy(x, ws + layout.XCopy, len, batch, seq, d);
            float* m = PaddedRows.ZeroedCopy(mp, ws + layout.MemoryCopy, mlen, batch, memorySeq, g.Memory);
            for (int l = 0; l < g.Layers; l++)
            {
                var w = new LayerWeights(g, p, l);
                var kp = new LayerPlanes(g, k, rows, memoryRows, l);
                float* res = l == 0 ? layerIn : new LayerPlanes(g, k, rows, memoryRows, l - 1).Out;   // [rows, d] this layer's input
                float* layerOut = l == g.Layers - 1 ? y : kp.Out;
                if (g.NormFirst)
                {
                    LayerNorm(res, w.Norm1Weight, w.Norm1Bias, kp.N1, kp.Mean1, kp.Rstd1, rows, d, g.Eps);
                    MultiHeadAttentionKernels.AttendUnchecked(sa, w.SelfAttn, kp.N1, kp.N1, kp.SQkv, kp.SAttn, kp.SLse, len, att, batch, seq, attentionDropout.For(2 * l));
                    DropoutResidual(kp.SAttn, w.SelfOutWeight, w.SelfOutBias, res, kp.Mid1, kp.Mask1, scratch, rows, d, d, dropout, rng);
                    LayerNorm(kp.Mid1, w.Norm2Weight, w.Norm2Bias, kp.N2, kp.Mean2, kp.Rstd2, rows, d, g.Eps);
                    MultiHeadAttentionKernels.AttendUnchecked(ca, w.CrossAttn, kp.N2, m, kp.CQkv, kp.CAttn, kp.CLse, mlen, att, batch, seq, memorySeq,
                        attentionDropout.For(2 * l + 1));
                    DropoutResidual(kp.CAttn, w.CrossOutWeight, w.CrossOutBias, kp.Mid1, kp.Mid2, kp.Mask2, scratch, rows, d, d, dropout, rng);
                    LayerNorm(kp.Mid2, w.Norm3Weight, w.Norm3Bias, kp.N3, kp.Mean3, kp.Rstd3, rows, d, g.Eps);
                    FeedForwardIn(act, kp.N3, w.Linear1Weight, w.Linear1Bias, kp.Pre, kp.Act, kp.MaskF, rows, d, ff, dropout, rng);
                    DropoutResidual(kp.Act, w.Linear2Weight, w.Linear2Bias, kp.Mid2, layerOut, kp.Mask3, scratch, rows, ff, d, dropout, rng);
                }
                else
                {
                    MultiHeadAttentionKernels.AttendUnchecked(sa, w.SelfAttn, res, res, kp.SQkv, kp.SAttn, kp.SLse, len, att, batch, seq, attentionDropout.For(2 * l));
                    DropoutResidual(kp.SAttn, w.SelfOutWeight, w.SelfOutBias, res, kp.Mid1, kp.Mask1, scratch, rows, d, d, dropout, rng);
                    LayerNorm(kp.Mid1, w.Norm1Weight, w.Norm1Bias, kp.N1, kp.Mean1, kp.Rstd1, rows, d, g.Eps);
                    MultiHeadAttentionKernels.AttendUnchecked(ca, w.CrossAttn, kp.N1, m, kp.CQkv, kp.CAttn, kp.CLse, mlen, att, batch, seq, memorySeq,
                        attentionDropout.For(2 * l + 1));
                    DropoutResidual(kp.CAttn, w.CrossOutWeight, w.CrossOutBias, kp.N1, kp.Mid2, kp.Mask2, scratch, rows, d, d, dropout, rng);
                    LayerNorm(kp.Mid2, w.Norm2Weight, w.Norm2Bias, kp.N2, kp.Mean2, kp.Rstd2, rows, d, g.Eps);
                    FeedForwardIn(act, kp.N2, w.Linear1Weight, w.Linear1Bias, kp.Pre, kp.Act, kp.MaskF, rows, d, ff, dropout, rng);
                    DropoutResidual(kp.Act, w.Linear2Weight, w.Linear2Bias, kp.N2, kp.N3, kp.Mask3, scratch, rows, ff, d, dropout, rng);
                    LayerNorm(kp.N3, w.Norm3Weight, w.Norm3Bias, layerOut, kp.Mean3, kp.Rstd3, rows, d, g.Eps);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ backward

    private static unsafe void BackwardCore<TAct>(TAct act, in TransformerDecoderGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input,
        ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters, ReadOnlySpan<float> kept, Span<float> dParameters, Span<float> dInput,
        Span<float> dMemory, ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, Span<float> workspace, int batch, int seq, int memorySeq,
        AttentionDropout attentionDropout) where TAct : struct, IActivation
    {
        var layout = new TransformerDecoderWorkspace(g, batch, seq, memorySeq);
        int rows = batch * seq, memoryRows = batch * memorySeq, d = g.Model, ff = g.FeedForward;
        long rd = (long)rows * d;
        var sa = g.SelfAttention;
        var ca = g.CrossAttention;
        fixed (float* dy = dOutput, x = input, mp = memory, p = parameters, k = kept, dp = dParameters, dx = dInput, dm = dMemory, ws = workspace)
        fixed (int* len = lengths, mlen = memoryLengths)
        {
            float* gy = ws + layout.B;        // [rows, d] gradient of the current layer's output, then of its input
            float* gm = ws + layout.C;        // [rows, d] gradient of a mid-layer residual stream
            float* t1 = ws + layout.A;        // [rows, d] masked gradients of projections, LayerNorm input gradients
            float* t3 = ws + layout.E;        // [rows, d] gradient of an attention output
            float* wide = ws + layout.Wide;   // [rows, ff] feed-forward gradients, then q/k/v gradients
            float* att = ws + layout.Attention;
            float* layerIn0 = PaddedRows.ZeroedCopy(x, ws + layout.XCopy, len, batch, seq, d);
            float* m = PaddedRows.ZeroedCopy(mp, ws + layout.MemoryCopy, mlen, batch, memorySeq, g.Memory);
            if (dm != null) Span(dm, (long)memoryRows * g.Memory).Clear();   // every layer's cross-attention adds its part

            // dOutput with padded rows zeroed: they must not flow anywhere (attention lets padded queries see real keys).
            ReadOnly(dy, rd).CopyTo(Span(gy, rd));
            PaddedRows.Zero(gy, len, batch, seq, d);

            for (int l = g.Layers - 1; l >= 0; l--)
            {
                var w = new LayerWeights(g, p, l);
                var dw = new LayerWeights(g, dp, l);
                var kp = new LayerPlanes(g, k, rows, memoryRows, l);
                float* res = l == 0 ? layerIn0 : new LayerPlanes(g, k, rows, memoryRows, l - 1).Out;   // [rows, d] this layer's input
                float* dst = l > 0 ? gy : dx;                                              // ∂L/∂(layer input) (null: not wanted)
                if (g.NormFirst)
                {
                    // out = mid2 + Drop(FF(LN3(mid2))).
                    float* dP3 = ThroughMask(gy, kp.Mask3, t1, rd);
                    LinearBackward(dP3, kp.Act, w.Linear2Weight, dw.Linear2Weight, dw.Linear2Bias, wide, rows, ff, d, accumulate: false);
                    ActivationBackward(act, wide, kp.MaskF, kp.Pre, (long)rows * ff);
                    LinearBackward(wide, kp.N3, w.Linear1Weight, dw.Linear1Weight, dw.Linear1Bias, t1, rows, d, ff, accumulate: false);
                    LayerNormBackward(t1, kp.Mid2, w.Norm3Weight, kp.Mean3, kp.Rstd3, gm, dw.Norm3Weight, dw.Norm3Bias, rows, d);
                    RowOps.AddTo(ref gy[0], ref gm[0], (nuint)rd);   // gm = ∂L/∂mid2
                    // mid2 = mid1 + Drop(CA(LN2(mid1), m)).
                    float* dP2 = ThroughMask(gm, kp.Mask2, t1, rd);
                    LinearBackward(dP2, kp.CAttn, w.CrossOutWeight, dw.CrossOutWeight, dw.CrossOutBias, t3, rows, d, d, accumulate: false);
                    MultiHeadAttentionKernels.AttendBackwardUnchecked(ca, w.CrossAttn, dw.CrossAttn, t3, kp.N2, m, kp.CQkv, kp.CAttn, kp.CLse, wide,
                        t1, accumulateDx: false, dm, mlen, att, batch, seq, memorySeq, attentionDropout.For(2 * l + 1));
                    LayerNormBackward(t1, kp.Mid1, w.Norm2Weight, kp.Mean2, kp.Rstd2, gy, dw.Norm2Weight, dw.Norm2Bias, rows, d);
                    RowOps.AddTo(ref gy[0], ref gm[0], (nuint)rd);   // gm = ∂L/∂mid1
                    // mid1 = x + Drop(SA(LN1(x))).
                    float* dP1 = ThroughMask(gm, kp.Mask1, t1, rd);
                    LinearBackward(dP1, kp.SAttn, w.SelfOutWeight, dw.SelfOutWeight, dw.SelfOutBias, t3, rows, d, d, accumulate: false);
                    MultiHeadAttentionKernels.AttendBackwardUnchecked(sa, w.SelfAttn, dw.SelfAttn, t3, kp.N1, kp.N1, kp.SQkv, kp.SAttn, kp.SLse, wide,
                        t1, accumulateDx: false, null, len, att, batch, seq, attentionDropout.For(2 * l));
                    LayerNormBackward(t1, res, w.Norm1Weight, kp.Mean1, kp.Rstd1, dst, dw.Norm1Weight, dw.Norm1Bias, rows, d);
                    if (dst != null) RowOps.AddTo(ref gm[0], ref dst[0], (nuint)rd);
                }
                else
                {
                    // out = LN3(n3), n3 = n2 + Drop(FF(n2)).
                    LayerNormBackward(gy, kp.N3, w.Norm3Weight, kp.Mean3, kp.Rstd3, gm, dw.Norm3Weight, dw.Norm3Bias, rows, d);
                    float* dP3 = ThroughMask(gm, kp.Mask3, t1, rd);
                    LinearBackward(dP3, kp.Act, w.Linear2Weight, dw.Linear2Weight, dw.Linear2Bias, wide, rows, ff, d, accumulate: false);
                    ActivationBackward(act, wide, kp.MaskF, kp.Pre, (long)rows * ff);
                    LinearBackward(wide, kp.N2, w.Linear1Weight, dw.Linear1Weight, dw.Linear1Bias, gm, rows, d, ff, accumulate: true);   // gm = ∂L/∂n2
                    // n2 = LN2(mid2), mid2 = n1 + Drop(CA(n1, m)).
                    LayerNormBackward(gm, kp.Mid2, w.Norm2Weight, kp.Mean2, kp.Rstd2, gy, dw.Norm2Weight, dw.Norm2Bias, rows, d);   // gy = ∂L/∂mid2
                    float* dP2 = ThroughMask(gy, kp.Mask2, t1, rd);
                    LinearBackward(dP2, kp.CAttn, w.CrossOutWeight, dw.CrossOutWeight, dw.CrossOutBias, t3, rows, d, d, accumulate: false);
                    MultiHeadAttentionKernels.AttendBackwardUnchecked(ca, w.CrossAttn, dw.CrossAttn, t3, kp.N1, m, kp.CQkv, kp.CAttn, kp.CLse, wide,
                        gy, accumulateDx: true, dm, mlen, att, batch, seq, memorySeq, attentionDropout.For(2 * l + 1));   // gy = ∂L/∂n1
                    // n1 = LN1(mid1), mid1 = x + Drop(SA(x)).
                    LayerNormBackward(gy, kp.Mid1, w.Norm1Weight, kp.Mean1, kp.Rstd1, gm, dw.Norm1Weight, dw.Norm1Bias, rows, d);   // gm = ∂L/∂mid1
                    float* dP1 = ThroughMask(gm, kp.Mask1, t1, rd);
                    LinearBackward(dP1, kp.SAttn, w.SelfOutWeight, dw.SelfOutWeight, dw.SelfOutBias, t3, rows, d, d, accumulate: false);
                    if (dst != null) ReadOnly(gm, rd).CopyTo(Span(dst, rd));
                    MultiHeadAttentionKernels.AttendBackwardUnchecked(sa, w.SelfAttn, dw.SelfAttn, t3, res, res, kp.SQkv, kp.SAttn, kp.SLse, wide,
                        dst, accumulateDx: true, null, len, att, batch, seq, attentionDropout.For(2 * l));
                }
            }
            if (dx != null) PaddedRows.Zero(dx, len, batch, seq, d);
            if (dm != null) PaddedRows.Zero(dm, mlen, batch, memorySeq, g.Memory);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Span<float> Span(float* p, long n) => new(p, (int)n);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe ReadOnlySpan<float> ReadOnly(float* p, long n) => new(p, (int)n);

    // ------------------------------------------------------------------------------------------------ validation

    private static void CheckCommon(in TransformerDecoderGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters,
        ReadOnlySpan<float> output, ReadOnlySpan<int> lengths, ReadOnlySpan<int> memoryLengths, ReadOnlySpan<float> workspace, int batch, int seq, int memorySeq,
        string outputName = "output")
    {
        if (!g.IsValid)
            throw new ArgumentException($"'{nameof(g)}' is default({nameof(TransformerDecoderGeometry)}); create it with its constructor.", nameof(g));
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        if (seq < 1) throw new ArgumentOutOfRangeException(nameof(seq), seq, $"'{nameof(seq)}' must be at least 1 but is {seq}.");
        if (memorySeq < 1) throw new ArgumentOutOfRangeException(nameof(memorySeq), memorySeq, $"'{nameof(memorySeq)}' must be at least 1 but is {memorySeq}.");
        long widest = Math.Max(3L * g.Model, Math.Max(g.FeedForward, g.Memory));
        if ((long)batch * Math.Max(seq, memorySeq) * widest > int.MaxValue)
            throw new ArgumentException(
                $"batch·seq = {(long)batch * Math.Max(seq, memorySeq)} rows of up to {widest} floats exceed the largest buffer ({int.MaxValue} elements); use a smaller batch.", nameof(batch));
        CheckLength(input.Length, g.InputLength(batch, seq), nameof(input), Shape.Input, g, batch, seq);
        CheckLength(memory.Length, g.MemoryLength(batch, memorySeq), nameof(memory), Shape.Memory, g, batch, memorySeq);
        CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), Shape.Parameters, g, batch, seq);
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

    private static void CheckGradient(ReadOnlySpan<float> grad, string name, long expected, Shape shape, in TransformerDecoderGeometry g, int batch, int seq,
        ReadOnlySpan<float> input, ReadOnlySpan<float> memory, ReadOnlySpan<float> parameters, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> kept,
        ReadOnlySpan<float> dParameters, ReadOnlySpan<float> workspace)
    {
        if (grad.IsEmpty) return;
        CheckLength(grad.Length, expected, name, shape, g, batch, seq, orEmpty: true);
        ThrowHelper.CheckWritable(grad, name, input, parameters, dOutput, workspace, nameof(dOutput));
        ThrowHelper.CheckNoOverlap(memory, grad, nameof(memory), name);
        ThrowHelper.CheckNoOverlap(kept, grad, nameof(kept), name);
        ThrowHelper.CheckNoOverlap(dParameters, grad, nameof(dParameters), name);
    }

    private enum Shape { Input, Memory, Parameters, Lengths, Kept }

    /// <summary>Throws unless the operand has the expected length; the shape description is formatted only when throwing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckLength(int actual, long expected, string operand, Shape shape, in TransformerDecoderGeometry g, int batch, int seq, int memorySeq = -1,
        bool orEmpty = false)
    {
        if (actual != expected) ThrowLength(actual, expected, operand, shape, g, batch, seq, memorySeq < 0 ? seq : memorySeq, orEmpty);
    }

    [DoesNotReturn]
    private static void ThrowLength(int actual, long expected, string operand, Shape shape, in TransformerDecoderGeometry g, int batch, int seq, int memorySeq, bool orEmpty)
    {
        string description = shape switch
        {
            Shape.Input => $"[batch={batch}, seq={seq}, Model={g.Model}]",
            Shape.Memory => $"[batch={batch}, seq={seq}, Memory={g.Memory}]",
            Shape.Parameters => $"ParameterCount of {g}",
            Shape.Lengths => $"[batch={batch}]",
            _ when memorySeq != seq => $"KeptLength(batch={batch}, seq={seq}, memorySeq={memorySeq})",
            _ => $"KeptLength(batch={batch}, seq={seq}) = batch·seq·TrainingStepLength({g.TrainingStepLength})",
        };
        throw new ArgumentException($"'{operand}' must have {expected} elements ({description}){(orEmpty ? " or be empty" : "")} but has {actual}.", operand);
    }

    // ------------------------------------------------------------------------------------------------ layouts

    /// <summary>One layer's tensors inside a parameter (or gradient) slice, in state-dict order.</summary>
    private readonly unsafe struct LayerWeights
    {
        public readonly float* SelfAttn, SelfOutWeight, SelfOutBias;       // self_attn.* (MultiHeadAttention slice), its out_proj
        public readonly float* CrossAttn, CrossOutWeight, CrossOutBias;    // multihead_attn.*, its out_proj
        public readonly float* Linear1Weight, Linear1Bias, Linear2Weight, Linear2Bias;   // [ff, d], [ff], [d, ff], [d]
        public readonly float* Norm1Weight, Norm1Bias, Norm2Weight, Norm2Bias, Norm3Weight, Norm3Bias;   // [d] each

        public LayerWeights(in TransformerDecoderGeometry g, float* p, int layer)
        {
            long d = g.Model, ff = g.FeedForward;
            SelfAttn = p + (long)layer * g.LayerParameterCount;
            MultiHeadAttentionKernels.OutProjection(g.SelfAttention, SelfAttn, out SelfOutWeight, out SelfOutBias);
            CrossAttn = SelfAttn + g.SelfAttention.ParameterCount;
            MultiHeadAttentionKernels.OutProjection(g.CrossAttention, CrossAttn, out CrossOutWeight, out CrossOutBias);
            Linear1Weight = CrossAttn + g.CrossAttention.ParameterCount;
            Linear1Bias = Linear1Weight + ff * d;
            Linear2Weight = Linear1Bias + ff;
            Linear2Bias = Linear2Weight + d * ff;
            Norm1Weight = Linear2Bias + d;
            Norm1Bias = Norm1Weight + d;
            Norm2Weight = Norm1Bias + d;
            Norm2Bias = Norm2Weight + d;
            Norm3Weight = Norm2Bias + d;
            Norm3Bias = Norm3Weight + d;
        }
    }

    /// <summary>
    /// One layer's planes in the kept buffer, each [rows, width]. Pre-norm: N1 = LN1(x), Mid1 = x + Drop(SA(N1)), N2 = LN2(Mid1),
    /// Mid2 = Mid1 + Drop(CA(N2)), N3 = LN3(Mid2). Post-norm: Mid1 = x + Drop(SA(x)), N1 = LN1(Mid1), Mid2 = N1 + Drop(CA(N1)),
    /// N2 = LN2(Mid2), N3 = N2 + Drop(FF(N2)) (LN3's input). Out is the layer's output for every layer but the top one.
    /// </summary>
    private readonly unsafe struct LayerPlanes
    {
        public readonly float* SQkv, SLse, SAttn, Mask1, Mid1;       // self-attention: [rows, 3d], [rows, heads], then [rows, d]
        public readonly float* CQkv, CLse, CAttn, Mask2, Mid2;       // cross-attention: likewise (q, k, v as three [rows, d] planes)
        public readonly float* N1, N2, N3;                           // [rows, d]
        public readonly float* Mean1, Rstd1, Mean2, Rstd2, Mean3, Rstd3;   // [rows]
        public readonly float* Pre, Act, MaskF;                      // [rows, ff]
        public readonly float* Mask3, Out;                           // [rows, d]

        public LayerPlanes(in TransformerDecoderGeometry g, float* kept, long rows, long memoryRows, int layer)
        {
            int d = g.Model, heads = g.Heads, ff = g.FeedForward;
            // Per layer: KeptPerLayer + d floats per query row, but the cross-attention's k and v (2d) per memory row.
            float* at = kept + layer * ((TransformerDecoderGeometry.KeptPerLayer(d, heads, ff) + d) * rows + 2L * d * (memoryRows - rows));
            SQkv = Take(ref at, rows * 3 * d);
            SLse = Take(ref at, rows * heads);
            SAttn = Take(ref at, rows * d);
            Mask1 = Take(ref at, rows * d);
            Mid1 = Take(ref at, rows * d);
            CQkv = Take(ref at, rows * d + memoryRows * 2 * d);   // q [rows, d], k and v [memoryRows, d]
            CLse = Take(ref at, rows * heads);
            CAttn = Take(ref at, rows * d);
            Mask2 = Take(ref at, rows * d);
            Mid2 = Take(ref at, rows * d);
            N1 = Take(ref at, rows * d);
            N2 = Take(ref at, rows * d);
            N3 = Take(ref at, rows * d);
            Mean1 = Take(ref at, rows);
            Rstd1 = Take(ref at, rows);
            Mean2 = Take(ref at, rows);
            Rstd2 = Take(ref at, rows);
            Mean3 = Take(ref at, rows);
            Rstd3 = Take(ref at, rows);
            Pre = Take(ref at, rows * ff);
            Act = Take(ref at, rows * ff);
            MaskF = Take(ref at, rows * ff);
            Mask3 = Take(ref at, rows * d);
            Out = at;   // only for layers below the top one
        }

        private static float* Take(ref float* at, long n)
        {
            float* start = at;
            at += n;
            return start;
        }
    }
}
