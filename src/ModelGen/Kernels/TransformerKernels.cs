// Transformer encoder stacks (PyTorch nn.TransformerEncoder over nn.TransformerEncoderLayer, batch_first=True) as ONE
// composite layer: the N identical layers run as a loop over their parameter slices, so generated code stays flat in N.
// Per layer, with x [batch·seq, d] (PyTorch's formulas, torch/nn/modules/transformer.py):
//   norm_first:  x = x + Drop(SA(LN1(x)));   x = x + Drop(FF(LN2(x)))
//   otherwise:   x = LN1(x + Drop(SA(x)));   x = LN2(x + Drop(FF(x)))
//   SA(x) = Attention(x·W_qᵀ + b_q, x·W_kᵀ + b_k, x·W_vᵀ + b_v)·W_oᵀ + b_o   (in_proj_weight = [W_q; W_k; W_v], heads split the
//           columns; AttentionKernels does the masked softmax(QKᵀ/√head_dim)·V per head),
//   FF(x) = Drop(act(x·W_1ᵀ + b_1))·W_2ᵀ + b_2.
// Work per layer: the Q/K/V projection is ONE GEMM over all rows with the bias in its epilogue; attention is tiled with
// online softmax; out_proj and linear2 accumulate onto their residual inside the GEMM (DenseKernels.ForwardResidual), linear1
// has bias + activation in its epilogue; LayerNorm is LayerNormKernels (in place where the residual stream allows it).
// Training keeps, per layer, the tensors backward needs (llm.c style, one plane [batch·seq, width] each, see KeptPlanes):
// q/k/v, the attention's log-sum-exp, the attention output, LayerNorm inputs/outputs with their mean and rstd, the
// feed-forward pre-activation and activation, and the three dropout masks; backward recomputes only attention scores (and
// the attention-weight dropout mask, from the seed the caller gives both passes: AttentionDropout).
// Padding: positions t ≥ lengths[b] are masked as attention keys. Their input rows are read as zeros (a copy in the
// workspace), so whatever they hold (even NaN) never reaches a real output, a gradient or a parameter gradient; their own
// outputs are finite and deterministic, and their input gradient is 0.
// Nothing here allocates or keeps state: scratch comes from the caller's workspace, so Forward is safe to call from many
// threads at once (on distinct workspaces and outputs).
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using static ModelGen.Kernels.TransformerBlocks;

namespace ModelGen.Kernels;

/// <summary>
/// Forward, training forward, backward and incremental decoding of PyTorch-compatible Transformer encoder stacks
/// (<see cref="TransformerGeometry"/>).
/// </summary>
/// <remarks>
/// Each layer computes PyTorch's <c>nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
/// batch_first=True, norm_first)</c>: with <c>norm_first</c>, <c>x = x + Drop(SA(LN1(x)))</c> then <c>x = x + Drop(FF(LN2(x)))</c>;
/// without, <c>x = LN1(x + Drop(SA(x)))</c> then <c>x = LN2(x + Drop(FF(x)))</c>, where SA is multi-head self-attention
/// (packed <c>in_proj_weight</c>, scores scaled by <c>1/√head_dim</c> before masking, softmax over the visible keys,
/// <c>out_proj</c>) and <c>FF(x) = linear2(Drop(act(linear1(x))))</c>. Key padding: positions <c>j ≥ lengths[b]</c> are masked
/// as keys; with <see cref="TransformerGeometry.Causal"/> position i also never sees j &gt; i. With
/// <see cref="TransformerGeometry.Rotary"/>, q and k of every head are rotated by their positions right after the
/// in-projection (<see cref="RotaryKernels"/>; torchtune's RoPE). Dropout (training only) is
/// inverted dropout on the attention block's output, after the activation (with its own probability in
/// <see cref="TrainForward(in TransformerGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, float, Rng)"/>)
/// and on the feed-forward output; PyTorch's attention-weight dropout (<c>self_attn = MultiheadAttention(dropout=p)</c>) has its own
/// probability in the overload with <c>attentionDropout</c> (the generator passes <see cref="TransformerEncoderAttribute.AttentionDropout"/>).
/// Results may differ from PyTorch's in the last bits (fused multiply-add, vectorised exp and erf, tiled sums).
/// </remarks>
public static partial class TransformerKernels
{
    /// <summary>
    /// Inference forward of the whole stack (no dropout): effectively computes the layer formulas in the class remarks for
    /// every layer, at every position. Rows at padded positions are computed from zeros (their input is ignored).
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="parameters">The stack's parameters, <see cref="TransformerGeometry.ParameterCount"/> floats in state-dict order.</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>; must not overlap the other operands.</param>
    /// <param name="lengths">Real positions per example <c>[batch]</c>, each in [1, seq]; empty means every example has <paramref name="seq"/>.</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerGeometry.WorkspaceLength"/> floats (contents are overwritten).</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example (padded length).</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c>, a span's length does not match its shape, a length is
    /// outside [1, seq], the workspace is too short, spans overlap, batch·seq rows are too many for one buffer, or <paramref name="seq"/>
    /// exceeds the positions of <see cref="TransformerGeometry.Rotary"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or <paramref name="seq"/> is less than 1.</exception>
    public static void Forward(in TransformerGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, Span<float> output,
        ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq)
    {
        CheckCommon(g, input, parameters, output, lengths, workspace, batch, seq);
        if (batch == 0) return;
        if (g.Activation == FeedForwardActivation.Gelu) ForwardCore(default(GeluActivation), g, input, parameters, null, output, lengths, workspace, batch, seq);
        else ForwardCore(default(ReluActivation), g, input, parameters, null, output, lengths, workspace, batch, seq);
    }

    /// <summary>
    /// Training forward: the outputs of <see cref="Forward"/> with inverted dropout (<c>mask = (u ≥ p)/(1 − p)</c>, one uniform
    /// draw per element, in order: per layer the attention block's output <c>[batch, seq, Model]</c>, the activation
    /// <c>[batch, seq, FeedForward]</c>, the feed-forward output <c>[batch, seq, Model]</c>), keeping what <see cref="Backward"/> needs.
    /// All three use <paramref name="dropout"/>, as PyTorch's <c>nn.TransformerEncoderLayer(dropout=p)</c>.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="parameters">The stack's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>.</param>
    /// <param name="kept">Receives <see cref="TransformerGeometry.KeptLength"/> = <c>batch·seq·TrainingStepLength</c> floats for
    /// <see cref="Backward"/> (the layout is private to these kernels).</param>
    /// <param name="lengths">Real positions per example, or empty (all <paramref name="seq"/>).</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerGeometry.WorkspaceLength"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="dropout">Probability of zeroing an element, in [0, 1] (PyTorch's <c>dropout</c>).</param>
    /// <param name="rng">Draws the dropout masks; may be null when <paramref name="dropout"/> is 0.</param>
    /// <exception cref="ArgumentException">As <see cref="Forward"/>, or <paramref name="kept"/> has the wrong length or overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> is less than 1, or
    /// <paramref name="dropout"/> is outside [0, 1].</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null while <paramref name="dropout"/> is not 0.</exception>
    public static void TrainForward(in TransformerGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, Span<float> output,
        Span<float> kept, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq, float dropout, Rng rng)
        => TrainForward(g, input, parameters, output, kept, lengths, workspace, batch, seq, dropout, dropout, rng);

    /// <summary>
    /// Training forward with a separate dropout probability inside the feed-forward block: as the other overload, but the
    /// activation <c>[batch, seq, FeedForward]</c> is dropped with <paramref name="feedForwardDropout"/> while the attention
    /// block's and the feed-forward block's outputs use <paramref name="dropout"/>, so <c>FF(x) = linear2(Drop_ff(act(linear1(x))))</c>.
    /// A probability of 0 draws nothing: <c>feedForwardDropout = 0</c> gives a block composed as <c>linear2(act(linear1(x)))</c>
    /// (GPT-2's MLP), with dropout only on the two block outputs.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="parameters">The stack's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>.</param>
    /// <param name="kept">Receives <see cref="TransformerGeometry.KeptLength"/> floats for <see cref="Backward"/>.</param>
    /// <param name="lengths">Real positions per example, or empty (all <paramref name="seq"/>).</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerGeometry.WorkspaceLength"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="dropout">Probability of zeroing an element of the attention block's and the feed-forward block's outputs, in [0, 1].</param>
    /// <param name="feedForwardDropout">Probability of zeroing an element of the feed-forward activation, in [0, 1].</param>
    /// <param name="rng">Draws the dropout masks; may be null when both probabilities are 0.</param>
    /// <exception cref="ArgumentException">As <see cref="Forward"/>, or <paramref name="kept"/> has the wrong length or overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> is less than 1, or
    /// <paramref name="dropout"/> or <paramref name="feedForwardDropout"/> is outside [0, 1].</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null while a probability is not 0.</exception>
    public static void TrainForward(in TransformerGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, Span<float> output,
        Span<float> kept, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq, float dropout, float feedForwardDropout, Rng rng)
        => TrainForward(g, input, parameters, output, kept, lengths, workspace, batch, seq, dropout, feedForwardDropout, 0f, 0, rng);

    /// <summary>
    /// Training forward with every dropout of PyTorch's <c>nn.TransformerEncoderLayer</c>: as the overload with
    /// <c>feedForwardDropout</c>, and the attention weights of every layer are dropped with <paramref name="attentionDropout"/>
    /// (PyTorch's <c>self_attn</c> dropout: each softmax weight times <c>M = (u ≥ p)/(1 − p)</c>, u a counter-based hash of
    /// (<paramref name="attentionSeed"/>, layer, example, head, query, key) in [0, 1), regenerated by <see cref="Backward"/>, so no
    /// T×T mask is stored). <c>attentionDropout = 0</c> hashes nothing and gives the other overloads' result bit for bit.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="parameters">The stack's parameters (state-dict order).</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>.</param>
    /// <param name="kept">Receives <see cref="TransformerGeometry.KeptLength"/> floats for <see cref="Backward"/>.</param>
    /// <param name="lengths">Real positions per example, or empty (all <paramref name="seq"/>).</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerGeometry.WorkspaceLength"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="dropout">Probability of zeroing an element of the attention block's and the feed-forward block's outputs, in [0, 1].</param>
    /// <param name="feedForwardDropout">Probability of zeroing an element of the feed-forward activation, in [0, 1].</param>
    /// <param name="attentionDropout">Probability of dropping an attention weight, in [0, 1].</param>
    /// <param name="attentionSeed">The attention-weight mask's seed: a new one per step, and the same one given to <see cref="Backward"/>.</param>
    /// <param name="rng">Draws the element dropout masks; may be null when <paramref name="dropout"/> and <paramref name="feedForwardDropout"/> are 0.</param>
    /// <exception cref="ArgumentException">As <see cref="Forward"/>, or <paramref name="kept"/> has the wrong length or overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> is less than 1, or a
    /// probability is outside [0, 1].</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null while <paramref name="dropout"/> or <paramref name="feedForwardDropout"/> is not 0.</exception>
    public static void TrainForward(in TransformerGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, Span<float> output,
        Span<float> kept, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq, float dropout, float feedForwardDropout,
        float attentionDropout, ulong attentionSeed, Rng rng)
    {
        CheckCommon(g, input, parameters, output, lengths, workspace, batch, seq);
        AttentionKernels.CheckDropout(attentionDropout, nameof(attentionDropout));
        CheckLength(kept.Length, g.KeptLength(batch, seq), nameof(kept), Shape.Kept, g, batch, seq);
        ThrowHelper.CheckWritable(kept, nameof(kept), input, parameters, output, workspace);
        if (!(dropout >= 0f && dropout <= 1f)) ThrowHelper.ThrowArgumentOutOfRange(nameof(dropout), dropout, "must be in [0, 1]");
        if (!(feedForwardDropout >= 0f && feedForwardDropout <= 1f))
            ThrowHelper.ThrowArgumentOutOfRange(nameof(feedForwardDropout), feedForwardDropout, "must be in [0, 1]");
        if (dropout > 0f || feedForwardDropout > 0f) ArgumentNullException.ThrowIfNull(rng);
        if (batch == 0) return;
        if (g.Activation == FeedForwardActivation.Gelu)
            TrainForwardCore(default(GeluActivation), g, input, parameters, output, kept, lengths, workspace, batch, seq, dropout, feedForwardDropout,
                new AttentionDropout(attentionDropout, attentionSeed), rng);
        else TrainForwardCore(default(ReluActivation), g, input, parameters, output, kept, lengths, workspace, batch, seq, dropout, feedForwardDropout,
            new AttentionDropout(attentionDropout, attentionSeed), rng);
    }

    /// <summary>
    /// Backward of <see cref="TrainForward(in TransformerGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, float, Rng)"/> (either overload): given <c>dOutput = ∂L/∂output</c>, accumulates <c>dParameters += ∂L/∂parameters</c>
    /// and writes <c>dInput = ∂L/∂input</c> (0 at padded positions). dOutput at padded positions is ignored.
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="dOutput">Gradient with respect to the output <c>[batch, seq, Model]</c>.</param>
    /// <param name="input">The input given to <c>TrainForward</c>.</param>
    /// <param name="parameters">The parameters given to <c>TrainForward</c>.</param>
    /// <param name="kept">What <c>TrainForward</c> kept.</param>
    /// <param name="dParameters">Parameter gradients in the layout of <paramref name="parameters"/>; accumulated into.</param>
    /// <param name="dInput">Receives <c>[batch, seq, Model]</c> (overwritten), or empty to skip computing it.</param>
    /// <param name="lengths">The lengths given to <c>TrainForward</c>.</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerGeometry.WorkspaceLength"/> floats.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="attentionDropout">The attention-weight dropout given to <c>TrainForward</c> (0 for the overloads without it).</param>
    /// <param name="attentionSeed">The attention seed given to <c>TrainForward</c> (the masks are regenerated from it).</param>
    /// <exception cref="ArgumentException">A span's length does not match its shape, a length is outside [1, seq], the workspace is
    /// too short, or spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, <paramref name="seq"/> is less than 1, or
    /// <paramref name="attentionDropout"/> is outside [0, 1].</exception>
    public static void Backward(in TransformerGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters,
        ReadOnlySpan<float> kept, Span<float> dParameters, Span<float> dInput, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq,
        float attentionDropout = 0f, ulong attentionSeed = 0)
    {
        CheckCommon(g, input, parameters, dOutput, lengths, workspace, batch, seq, outputName: nameof(dOutput));
        AttentionKernels.CheckDropout(attentionDropout, nameof(attentionDropout));
        CheckLength(kept.Length, g.KeptLength(batch, seq), nameof(kept), Shape.Kept, g, batch, seq);
        CheckLength(dParameters.Length, g.ParameterCount, nameof(dParameters), Shape.Parameters, g, batch, seq);
        if (!dInput.IsEmpty)
        {
            CheckLength(dInput.Length, g.InputLength(batch, seq), nameof(dInput), Shape.Input, g, batch, seq, orEmpty: true);
            ThrowHelper.CheckWritable(dInput, nameof(dInput), input, parameters, dOutput, workspace, nameof(dOutput));
            ThrowHelper.CheckNoOverlap(kept, dInput, nameof(kept), nameof(dInput));
            ThrowHelper.CheckNoOverlap(dParameters, dInput, nameof(dParameters), nameof(dInput));
        }
        ThrowHelper.CheckWritable(dParameters, nameof(dParameters), input, parameters, dOutput, workspace, nameof(dOutput));
        ThrowHelper.CheckNoOverlap(kept, dParameters, nameof(kept), nameof(dParameters));
        ThrowHelper.CheckNoOverlap(kept, workspace, nameof(kept), nameof(workspace));
        if (batch == 0) return;
        if (g.Activation == FeedForwardActivation.Gelu)
            BackwardCore(default(GeluActivation), g, dOutput, input, parameters, kept, dParameters, dInput, lengths, workspace, batch, seq,
                new AttentionDropout(attentionDropout, attentionSeed));
        else BackwardCore(default(ReluActivation), g, dOutput, input, parameters, kept, dParameters, dInput, lengths, workspace, batch, seq,
            new AttentionDropout(attentionDropout, attentionSeed));
    }

    // ------------------------------------------------------------------------------------------------ forward

    /// <summary>The inference schedule; <paramref name="packed"/> (a predictor's) holds the four projections packed once, else they are packed per call.</summary>
    private static unsafe void ForwardCore<TAct>(TAct act, in TransformerGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters,
        PackedTransformerWeights? packed, Span<float> output, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq) where TAct : struct, IActivation
    {
        var layout = new TransformerWorkspace(g, batch, seq);
        int rows = batch * seq, d = g.Model, ff = g.FeedForward;
        fixed (float* x = input, p = parameters, y = output, ws = workspace)
        fixed (int* len = lengths)
        {
            float* a = ws + layout.A;         // [rows, d] LayerNorm output, then the attention output
            float* wide = ws + layout.Wide;   // [rows, 3d] q/k/v, then [rows, ff] the feed-forward activation
            float* layerIn = PaddedRows.ZeroedCopy(x, ws + layout.XCopy, len, batch, seq, d);
            for (int l = 0; l < g.Layers; l++)
            {
                var w = new LayerWeights(g, p, l);
                // Layer 0 reads the input; later layers update the output in place (it holds the residual stream).
                float* res = l == 0 ? layerIn : y;
                if (g.NormFirst)
                {
                    LayerNorm(res, w.Norm1Weight, w.Norm1Bias, a, null, null, rows, d, g.Eps);
                    Project(default(IdentityActivation), a, packed?.InProj(l), w.InProjWeight, w.InProjBias, wide, rows, d, 3 * d);
                    Attention(g, wide, a, null, len, ws + layout.Attention, batch, seq);
                    ProjectResidual(a, packed?.OutProj(l), w.OutProjWeight, w.OutProjBias, res, y, rows, d, d);
                    LayerNorm(y, w.Norm2Weight, w.Norm2Bias, a, null, null, rows, d, g.Eps);
                    Project(act, a, packed?.Linear1(l), w.Linear1Weight, w.Linear1Bias, wide, rows, d, ff);
                    ProjectResidual(wide, packed?.Linear2(l), w.Linear2Weight, w.Linear2Bias, y, y, rows, ff, d);
                }
                else
                {
                    Project(default(IdentityActivation), res, packed?.InProj(l), w.InProjWeight, w.InProjBias, wide, rows, d, 3 * d);
                    Attention(g, wide, a, null, len, ws + layout.Attention, batch, seq);
                    ProjectResidual(a, packed?.OutProj(l), w.OutProjWeight, w.OutProjBias, res, y, rows, d, d);
                    LayerNorm(y, w.Norm1Weight, w.Norm1Bias, y, null, null, rows, d, g.Eps);
                    Project(act, y, packed?.Linear1(l), w.Linear1Weight, w.Linear1Bias, wide, rows, d, ff);
                    ProjectResidual(wide, packed?.Linear2(l), w.Linear2Weight, w.Linear2Bias, y, y, rows, ff, d);
                    LayerNorm(y, w.Norm2Weight, w.Norm2Bias, y, null, null, rows, d, g.Eps);
                }
            }
        }
        GC.KeepAlive(packed);
    }

    // ------------------------------------------------------------------------------------------------ training forward

    private static unsafe void TrainForwardCore<TAct>(TAct act, in TransformerGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters,
        Span<float> output, Span<float> kept, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq, float dropout, float feedForwardDropout,
        AttentionDropout attentionDropout, Rng rng)
        where TAct : struct, IActivation
    {
        var layout = new TransformerWorkspace(g, batch, seq);
        int rows = batch * seq, d = g.Model, ff = g.FeedForward;
        fixed (float* x = input, p = parameters, y = output, k = kept, ws = workspace)
        fixed (int* len = lengths)
        {
            var planes = new KeptPlanes(g, k, rows);
            float* scratch = ws + layout.A;   // [rows, d] a projection before its dropout
            float* layerIn = PaddedRows.ZeroedCopy(x, ws + layout.XCopy, len, batch, seq, d);
            for (int l = 0; l < g.Layers; l++)
            {
                var w = new LayerWeights(g, p, l);
                var kp = planes.Layer(l);
                float* res = l == 0 ? layerIn : planes.Layer(l - 1).Out;   // [rows, d] this layer's input
                float* layerOut = l == g.Layers - 1 ? y : kp.Out;          // [rows, d]
                if (g.NormFirst)
                {
                    LayerNorm(res, w.Norm1Weight, w.Norm1Bias, kp.N1, kp.Mean1, kp.Rstd1, rows, d, g.Eps);
                    Linear(default(IdentityActivation), kp.N1, w.InProjWeight, w.InProjBias, kp.Qkv, null, rows, d, 3 * d);
                    Attention(g, kp.Qkv, kp.Attn, kp.Lse, len, ws + layout.Attention, batch, seq, attentionDropout.For(l));
                    DropoutResidual(kp.Attn, w.OutProjWeight, w.OutProjBias, res, kp.Mid, kp.Mask1, scratch, rows, d, d, dropout, rng);
                    LayerNorm(kp.Mid, w.Norm2Weight, w.Norm2Bias, kp.N2, kp.Mean2, kp.Rstd2, rows, d, g.Eps);
                    FeedForwardIn(act, kp.N2, w.Linear1Weight, w.Linear1Bias, kp.Pre, kp.Act, kp.MaskF, rows, d, ff, feedForwardDropout, rng);
                    DropoutResidual(kp.Act, w.Linear2Weight, w.Linear2Bias, kp.Mid, layerOut, kp.Mask2, scratch, rows, ff, d, dropout, rng);
                }
                else
                {
                    Linear(default(IdentityActivation), res, w.InProjWeight, w.InProjBias, kp.Qkv, null, rows, d, 3 * d);
                    Attention(g, kp.Qkv, kp.Attn, kp.Lse, len, ws + layout.Attention, batch, seq, attentionDropout.For(l));
                    DropoutResidual(kp.Attn, w.OutProjWeight, w.OutProjBias, res, kp.Mid, kp.Mask1, scratch, rows, d, d, dropout, rng);
                    LayerNorm(kp.Mid, w.Norm1Weight, w.Norm1Bias, kp.N1, kp.Mean1, kp.Rstd1, rows, d, g.Eps);
                    FeedForwardIn(act, kp.N1, w.Linear1Weight, w.Linear1Bias, kp.Pre, kp.Act, kp.MaskF, rows, d, ff, feedForwardDropout, rng);
                    DropoutResidual(kp.Act, w.Linear2Weight, w.Linear2Bias, kp.N1, kp.N2, kp.Mask2, scratch, rows, ff, d, dropout, rng);
                    LayerNorm(kp.N2, w.Norm2Weight, w.Norm2Bias, layerOut, kp.Mean2, kp.Rstd2, rows, d, g.Eps);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ backward

    private static unsafe void BackwardCore<TAct>(TAct act, in TransformerGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input,
        ReadOnlySpan<float> parameters, ReadOnlySpan<float> kept, Span<float> dParameters, Span<float> dInput, ReadOnlySpan<int> lengths,
        Span<float> workspace, int batch, int seq, AttentionDropout attentionDropout) where TAct : struct, IActivation
    {
        var layout = new TransformerWorkspace(g, batch, seq);
        int rows = batch * seq, d = g.Model, ff = g.FeedForward;
        long rd = (long)rows * d;
        fixed (float* dy = dOutput, x = input, p = parameters, k = kept, dp = dParameters, dx = dInput, ws = workspace)
        fixed (int* len = lengths)
        {
            var planes = new KeptPlanes(g, k, rows);
            float* gy = ws + layout.B;        // [rows, d] gradient of the current layer's output, then of its input
            float* gm = ws + layout.C;        // [rows, d] gradient of the mid-layer residual stream
            float* t1 = ws + layout.A;        // [rows, d] masked gradients of projections, LayerNorm input gradients
            float* t3 = ws + layout.E;        // [rows, d] gradient of the attention output
            float* wide = ws + layout.Wide;   // [rows, ff] feed-forward gradients, then [rows, 3d] q/k/v gradients
            float* layerIn0 = PaddedRows.ZeroedCopy(x, ws + layout.XCopy, len, batch, seq, d);

            // dOutput with padded rows zeroed: they must not flow anywhere (attention lets padded queries see real keys).
            Span(dy, rd).CopyTo(Span(gy, rd));
            PaddedRows.Zero(gy, len, batch, seq, d);

            for (int l = g.Layers - 1; l >= 0; l--)
            {
                var w = new LayerWeights(g, p, l);
                var dw = new LayerWeights(g, dp, l);
                var kp = planes.Layer(l);
                float* res = l == 0 ? layerIn0 : planes.Layer(l - 1).Out;   // [rows, d] this layer's input
                float* dst = l > 0 ? gy : dx;                                // where ∂L/∂(layer input) goes (null: not wanted)
                if (g.NormFirst)
                {
                    // x_out = mid + Drop(FF(LN2(mid))): the feed-forward branch, then LN2.
                    float* dP2 = ThroughMask(gy, kp.Mask2, t1, rd);
                    LinearBackward(dP2, kp.Act, w.Linear2Weight, dw.Linear2Weight, dw.Linear2Bias, wide, rows, ff, d, accumulate: false);
                    ActivationBackward(act, wide, kp.MaskF, kp.Pre, (long)rows * ff);
                    LinearBackward(wide, kp.N2, w.Linear1Weight, dw.Linear1Weight, dw.Linear1Bias, t1, rows, d, ff, accumulate: false);
                    LayerNormBackward(t1, kp.Mid, w.Norm2Weight, kp.Mean2, kp.Rstd2, gm, dw.Norm2Weight, dw.Norm2Bias, rows, d);
                    RowOps.AddToParallel(gy, gm, rd);   // gm = ∂L/∂mid
                    // mid = x + Drop(SA(LN1(x))).
                    float* dP1 = ThroughMask(gm, kp.Mask1, t1, rd);
                    LinearBackward(dP1, kp.Attn, w.OutProjWeight, dw.OutProjWeight, dw.OutProjBias, t3, rows, d, d, accumulate: false);
                    AttentionBackward(g, t3, kp, wide, len, ws + layout.Attention, batch, seq, attentionDropout.For(l));
                    LinearBackward(wide, kp.N1, w.InProjWeight, dw.InProjWeight, dw.InProjBias, t1, rows, d, 3 * d, accumulate: false);
                    LayerNormBackward(t1, res, w.Norm1Weight, kp.Mean1, kp.Rstd1, dst, dw.Norm1Weight, dw.Norm1Bias, rows, d);
                    if (dst != null) RowOps.AddToParallel(gm, dst, rd);
                }
                else
                {
                    // x_out = LN2(n2), n2 = n1 + Drop(FF(n1)).
                    LayerNormBackward(gy, kp.N2, w.Norm2Weight, kp.Mean2, kp.Rstd2, gm, dw.Norm2Weight, dw.Norm2Bias, rows, d);
                    float* dP2 = ThroughMask(gm, kp.Mask2, t1, rd);
                    LinearBackward(dP2, kp.Act, w.Linear2Weight, dw.Linear2Weight, dw.Linear2Bias, wide, rows, ff, d, accumulate: false);
                    ActivationBackward(act, wide, kp.MaskF, kp.Pre, (long)rows * ff);
                    LinearBackward(wide, kp.N1, w.Linear1Weight, dw.Linear1Weight, dw.Linear1Bias, gm, rows, d, ff, accumulate: true);   // gm = ∂L/∂n1
                    // n1 = LN1(mid), mid = x + Drop(SA(x)).
                    LayerNormBackward(gm, kp.Mid, w.Norm1Weight, kp.Mean1, kp.Rstd1, gy, dw.Norm1Weight, dw.Norm1Bias, rows, d);   // gy = ∂L/∂mid
                    float* dP1 = ThroughMask(gy, kp.Mask1, t1, rd);
                    LinearBackward(dP1, kp.Attn, w.OutProjWeight, dw.OutProjWeight, dw.OutProjBias, t3, rows, d, d, accumulate: false);
                    AttentionBackward(g, t3, kp, wide, len, ws + layout.Attention, batch, seq, attentionDropout.For(l));
                    if (dst != null && dst != gy) Span(gy, rd).CopyTo(Span(dst, rd));
                    LinearBackward(wide, res, w.InProjWeight, dw.InProjWeight, dw.InProjBias, dst, rows, d, 3 * d, accumulate: true);
                }
            }
            if (dx != null) PaddedRows.Zero(dx, len, batch, seq, d);
        }
    }

    /// <summary>Multi-head attention over the packed [rows, 3d] projection into [rows, d] (lse [rows, heads] kept when not null).</summary>
    private static unsafe void Attention(in TransformerGeometry g, float* qkv, float* o, float* lse, int* lengths, float* ws, int batch, int seq,
        AttentionDropout dropout = default)
    {
        int d = g.Model;
        // RoPE rotates the queries and keys (the first 2d columns) in place, so training keeps them rotated for backward.
        if (g.Rotary is not null) RotaryKernels.ForwardUnchecked(g.Rotary, qkv, batch, seq, 3 * d, 2 * d, 0);
        AttentionKernels.ForwardUnchecked(qkv, qkv + d, qkv + 2 * d, 3 * d, o, d, lse, lengths, g.Causal, ws, batch, seq, g.Heads, g.HeadSize, dropout);
    }

    /// <summary>dQkv [rows, 3d] (overwritten) from the gradient of the attention output [rows, d].</summary>
    private static unsafe void AttentionBackward(in TransformerGeometry g, float* dO, in LayerPlanes kp, float* dQkv, int* lengths, float* ws, int batch, int seq,
        AttentionDropout dropout)
    {
        int d = g.Model;
        AttentionKernels.BackwardUnchecked(dO, kp.Qkv, kp.Qkv + d, kp.Qkv + 2 * d, 3 * d, kp.Attn, d, kp.Lse,
            dQkv, dQkv + d, dQkv + 2 * d, 3 * d, lengths, g.Causal, ws, batch, seq, g.Heads, g.HeadSize, dropout);
        if (g.Rotary is not null) RotaryKernels.BackwardUnchecked(g.Rotary, dQkv, batch, seq, 3 * d, 2 * d, 0);   // to the unrotated q, k
    }

    // ------------------------------------------------------------------------------------------------ validation

    private static void CheckCommon(in TransformerGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, ReadOnlySpan<float> output,
        ReadOnlySpan<int> lengths, ReadOnlySpan<float> workspace, int batch, int seq, string outputName = "output")
    {
        CheckGeometry(g);
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        if (seq < 1) throw new ArgumentOutOfRangeException(nameof(seq), seq, $"'{nameof(seq)}' must be at least 1 but is {seq}.");
        if ((long)batch * seq * Math.Max(3L * g.Model, g.FeedForward) > int.MaxValue)
            throw new ArgumentException(
                $"batch·seq = {(long)batch * seq} rows of up to {Math.Max(3L * g.Model, g.FeedForward)} floats exceed the largest buffer ({int.MaxValue} elements); use a smaller batch.",
                nameof(batch));
        if (g.Rotary is not null && seq > g.Rotary.MaxLength)
            throw new ArgumentException(
                $"'{nameof(seq)}' ({seq}) exceeds the {g.Rotary.MaxLength} positions of the rotary table ({g.Rotary}); use a shorter sequence or a larger table.", nameof(seq));
        CheckLength(input.Length, g.InputLength(batch, seq), nameof(input), Shape.Input, g, batch, seq);
        CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), Shape.Parameters, g, batch, seq);
        CheckLength(output.Length, g.InputLength(batch, seq), outputName, Shape.Input, g, batch, seq);
        if (!lengths.IsEmpty) CheckLength(lengths.Length, batch, nameof(lengths), Shape.Lengths, g, batch, seq, orEmpty: true);
        ThrowHelper.CheckCompositeOperands(input, parameters, output, outputName, lengths, workspace, g.WorkspaceLength(batch, seq), batch, seq);
    }

    private static void CheckGeometry(in TransformerGeometry g)
    {
        if (!g.IsValid)
            throw new ArgumentException($"'{nameof(g)}' is default({nameof(TransformerGeometry)}); create it with its constructor.", nameof(g));
    }

    private enum Shape { Input, Parameters, Lengths, Kept, Step, Cache }

    /// <summary>Throws unless the operand has the expected length; the shape description is formatted only when throwing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckLength(int actual, long expected, string operand, Shape shape, in TransformerGeometry g, int batch, int seq, bool orEmpty = false)
    {
        if (actual != expected) ThrowLength(actual, expected, operand, shape, g, batch, seq, orEmpty);
    }

    [DoesNotReturn]
    private static void ThrowLength(int actual, long expected, string operand, Shape shape, in TransformerGeometry g, int batch, int seq, bool orEmpty)
    {
        string description = shape switch
        {
            Shape.Input => $"[batch={batch}, seq={seq}, Model={g.Model}]",
            Shape.Parameters => $"ParameterCount of {g}",
            Shape.Lengths => $"[batch={batch}]",
            Shape.Step => $"[batch={batch}, Model={g.Model}]",
            Shape.Cache => $"CacheLength(batch={batch}, maxLength={seq}): keys then values, each [Layers={g.Layers}, batch={batch}, Heads={g.Heads}, maxLength={seq}, HeadSize={g.HeadSize}]",
            _ => $"KeptLength(batch={batch}, seq={seq}) = batch·seq·TrainingStepLength({g.TrainingStepLength})",
        };
        throw new ArgumentException($"'{operand}' must have {expected} elements ({description}){(orEmpty ? " or be empty" : "")} but has {actual}.", operand);
    }

    // ------------------------------------------------------------------------------------------------ layouts

    /// <summary>The twelve tensors of one layer inside a parameter (or gradient) slice, in state-dict order.</summary>
    private readonly unsafe struct LayerWeights
    {
        public readonly float* InProjWeight, InProjBias, OutProjWeight, OutProjBias;     // [3d, d], [3d], [d, d], [d]
        public readonly float* Linear1Weight, Linear1Bias, Linear2Weight, Linear2Bias;   // [ff, d], [ff], [d, ff], [d]
        public readonly float* Norm1Weight, Norm1Bias, Norm2Weight, Norm2Bias;           // [d] each

        public LayerWeights(in TransformerGeometry g, float* p, int layer)
        {
            long d = g.Model, ff = g.FeedForward;
            InProjWeight = p + (long)layer * g.LayerParameterCount;
            InProjBias = InProjWeight + 3 * d * d;
            OutProjWeight = InProjBias + 3 * d;
            OutProjBias = OutProjWeight + d * d;
            Linear1Weight = OutProjBias + d;
            Linear1Bias = Linear1Weight + ff * d;
            Linear2Weight = Linear1Bias + ff;
            Linear2Bias = Linear2Weight + d * ff;
            Norm1Weight = Linear2Bias + d;
            Norm1Bias = Norm1Weight + d;
            Norm2Weight = Norm1Bias + d;
            Norm2Bias = Norm2Weight + d;
        }
    }

    /// <summary>
    /// One layer's planes in the kept buffer, each [rows, width]. Pre-norm: N1 = LN1(x), Mid = x + Drop(SA) (LN2's input),
    /// N2 = LN2(Mid). Post-norm: Mid = x + Drop(SA) (LN1's input), N1 = LN1(Mid), N2 = N1 + Drop(FF) (LN2's input).
    /// Out is the layer's output for every layer but the top one (whose output is the caller's output).
    /// </summary>
    private readonly unsafe struct LayerPlanes
    {
        public readonly float* Qkv;                       // [rows, 3d]
        public readonly float* Lse;                       // [rows, heads]
        public readonly float* Attn, Mask1, Mid, N1, N2;  // [rows, d]
        public readonly float* Mean1, Rstd1, Mean2, Rstd2;   // [rows]
        public readonly float* Pre, Act, MaskF;           // [rows, ff]
        public readonly float* Mask2, Out;                // [rows, d]

        public LayerPlanes(float* start, long rows, int d, int heads, int ff)
        {
            float* at = start;
            Qkv = Take(ref at, rows * 3 * d);
            Lse = Take(ref at, rows * heads);
            Attn = Take(ref at, rows * d);
            Mask1 = Take(ref at, rows * d);
            Mid = Take(ref at, rows * d);
            N1 = Take(ref at, rows * d);
            N2 = Take(ref at, rows * d);
            Mean1 = Take(ref at, rows);
            Rstd1 = Take(ref at, rows);
            Mean2 = Take(ref at, rows);
            Rstd2 = Take(ref at, rows);
            Pre = Take(ref at, rows * ff);
            Act = Take(ref at, rows * ff);
            MaskF = Take(ref at, rows * ff);
            Mask2 = Take(ref at, rows * d);
            Out = at;   // only for layers below the top one
        }

        private static float* Take(ref float* at, long n)
        {
            float* start = at;
            at += n;
            return start;
        }
    }

    /// <summary>The kept buffer: layer after layer, each <see cref="TransformerGeometry.KeptPerLayer"/> planes plus its output plane (not the top layer).</summary>
    private readonly unsafe struct KeptPlanes(in TransformerGeometry g, float* kept, long rows)
    {
        private readonly float* _kept = kept;
        private readonly long _rows = rows;
        private readonly int _d = g.Model, _heads = g.Heads, _ff = g.FeedForward;

        public LayerPlanes Layer(int l)
        {
            long perLayer = TransformerGeometry.KeptPerLayer(_d, _heads, _ff) + _d;
            return new LayerPlanes(_kept + l * perLayer * _rows, _rows, _d, _heads, _ff);
        }
    }
}

/// <summary>Where each scratch buffer lives in the transformer workspace (offsets in floats). One workspace serves Forward, TrainForward and Backward.</summary>
internal readonly struct TransformerWorkspace
{
    public readonly long XCopy, Attention, A, B, C, E, Wide, Total;

    public TransformerWorkspace(in TransformerGeometry g, int batch, int seq)
    {
        long rows = (long)batch * seq, d = g.Model, rd = rows * d;
        long offset = 0;
        XCopy = Take(ref offset, rd);                                                  // the input with padded rows zeroed
        Attention = Take(ref offset, AttentionKernels.WorkspaceLength(seq, g.HeadSize));
        A = Take(ref offset, rd);
        Wide = Take(ref offset, rows * Math.Max(3 * d, g.FeedForward));
        B = Take(ref offset, rd);                                                      // backward only (B, C, E)
        C = Take(ref offset, rd);
        E = Take(ref offset, rd);
        Total = offset;
    }

    private static long Take(ref long offset, long length)
    {
        long start = offset;
        offset += length;
        return start;
    }
}
