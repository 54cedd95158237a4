// Transformer encoder inference over weights packed once (a sequence predictor's, ONNX Runtime's session role): the
// four projections of every layer (in_proj, out_proj, linear1, linear2) are PackedDenseWeights made when the predictor
// is created, so a call packs only its activations. The layer schedule is ForwardCore's (TransformerKernels.cs), whose
// projections read the packs when it is given them; LayerNorm, attention, padding and the workspace are the very same
// helpers. Measured before this existed (bench/README.md, run 13b): W5 (pre-LN block, b1, 64 rows) ran in 0.92x the time
// with packed-once projections.
// Route: where the model's Linear takes the packed GEMM (TransformerBlocks.PreferPacked) the prepacked product is the
// same panels without packing them (same bits); elsewhere the pack's own rule (PackedDenseWeight.UsePacked) decides.
using static ModelGen.Kernels.TransformerBlocks;

namespace ModelGen.Kernels;

/// <summary>
/// The GEMM weights of every layer of a Transformer encoder stack (<see cref="TransformerGeometry"/>), copied and packed once
/// for <see cref="TransformerKernels.ForwardPrepacked(in TransformerGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, PackedTransformerWeights, Span{float}, ReadOnlySpan{int}, Span{float}, int, int)"/>:
/// per layer <c>self_attn.in_proj_weight</c> [3d, d], <c>self_attn.out_proj.weight</c> [d, d], <c>linear1.weight</c> [ff, d]
/// and <c>linear2.weight</c> [d, ff]. Immutable and thread-safe.
/// </summary>
public sealed class PackedTransformerWeights
{
    private readonly PackedDenseWeight[] _weights;   // [Layers × 4]: in_proj, out_proj, linear1, linear2 of each layer

    /// <summary>Copies and packs the four projection weights of every layer of <paramref name="parameters"/> (the span is not kept).</summary>
    /// <param name="g">The stack's geometry.</param>
    /// <param name="parameters">The stack's parameters, <see cref="TransformerGeometry.ParameterCount"/> floats in state-dict order.</param>
    /// <exception cref="ArgumentException"><paramref name="g"/> is <c>default</c>, <paramref name="parameters"/> does not have
    /// <see cref="TransformerGeometry.ParameterCount"/> floats, or a packed copy would exceed the largest array.</exception>
    public PackedTransformerWeights(in TransformerGeometry g, ReadOnlySpan<float> parameters)
    {
        if (!g.IsValid)
            throw new ArgumentException($"'{nameof(g)}' is default({nameof(TransformerGeometry)}); create it with its constructor.", nameof(g));
        ThrowHelper.CheckLength(parameters.Length, g.ParameterCount, nameof(parameters), $"ParameterCount of {g}");
        int d = g.Model, ff = g.FeedForward;
        _weights = new PackedDenseWeight[g.Layers * 4];
        for (int l = 0; l < g.Layers; l++)
        {
            // State-dict order within a layer (TransformerGeometry remarks): in_proj_weight, in_proj_bias, out_proj.weight,
            // out_proj.bias, linear1.weight, linear1.bias, linear2.weight, linear2.bias, then the norms.
            var layer = parameters.Slice(l * g.LayerParameterCount, g.LayerParameterCount);
            int at = 0;
            _weights[4 * l] = new PackedDenseWeight(layer.Slice(at, 3 * d * d), 3 * d, d);
            at += 3 * d * d + 3 * d;
            _weights[4 * l + 1] = new PackedDenseWeight(layer.Slice(at, d * d), d, d);
            at += d * d + d;
            _weights[4 * l + 2] = new PackedDenseWeight(layer.Slice(at, ff * d), ff, d);
            at += ff * d + ff;
            _weights[4 * l + 3] = new PackedDenseWeight(layer.Slice(at, d * ff), d, ff);
        }
        Model = d;
        FeedForward = ff;
        Layers = g.Layers;
    }

    /// <summary>Features per position (d) of the stack the weights came from.</summary>
    public int Model { get; }

    /// <summary>Feed-forward width (ff) of the stack the weights came from.</summary>
    public int FeedForward { get; }

    /// <summary>Layers of the stack the weights came from.</summary>
    public int Layers { get; }

    internal PackedDenseWeight InProj(int layer) => _weights[4 * layer];

    internal PackedDenseWeight OutProj(int layer) => _weights[4 * layer + 1];

    internal PackedDenseWeight Linear1(int layer) => _weights[4 * layer + 2];

    internal PackedDenseWeight Linear2(int layer) => _weights[4 * layer + 3];

    /// <summary>Whether these weights were packed from a stack of <paramref name="g"/>'s sizes.</summary>
    internal bool Matches(in TransformerGeometry g) => g.Model == Model && g.FeedForward == FeedForward && g.Layers == Layers;
}

public static partial class TransformerKernels
{
    /// <summary>
    /// <see cref="Forward(in TransformerGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int)"/>
    /// with the four projections of every layer read from <paramref name="packed"/> (packed once) instead of
    /// <paramref name="parameters"/>: the same formulas (class remarks); results equal up to rounding (bit for bit where both
    /// take the packed GEMM).
    /// </summary>
    /// <param name="g">The geometry.</param>
    /// <param name="input">Input <c>[batch, seq, Model]</c>.</param>
    /// <param name="parameters">The stack's parameters (state-dict order): biases and LayerNorm parameters are read from here.</param>
    /// <param name="packed">The projection weights, packed from the same parameters.</param>
    /// <param name="output">Output <c>[batch, seq, Model]</c>; must not overlap the other operands.</param>
    /// <param name="lengths">Real positions per example <c>[batch]</c>, each in [1, seq]; empty means every example has <paramref name="seq"/>.</param>
    /// <param name="workspace">Scratch of at least <see cref="TransformerGeometry.WorkspaceLength"/> floats (contents are overwritten).</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example (padded length).</param>
    /// <exception cref="ArgumentNullException"><paramref name="packed"/> is null.</exception>
    /// <exception cref="ArgumentException">As the overload without <paramref name="packed"/>, or <paramref name="packed"/> was made for
    /// a stack of other sizes.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative or <paramref name="seq"/> is less than 1.</exception>
    public static void ForwardPrepacked(in TransformerGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, PackedTransformerWeights packed,
        Span<float> output, ReadOnlySpan<int> lengths, Span<float> workspace, int batch, int seq)
    {
        ArgumentNullException.ThrowIfNull(packed);
        CheckCommon(g, input, parameters, output, lengths, workspace, batch, seq);
        if (!packed.Matches(g))
            throw new ArgumentException(
                $"'{nameof(packed)}' holds {packed.Layers} layer(s) of model {packed.Model}, feedForward {packed.FeedForward}, but the geometry is {g}.", nameof(packed));
        if (batch == 0) return;
        if (g.Activation == FeedForwardActivation.Gelu) ForwardCore(default(GeluActivation), g, input, parameters, packed, output, lengths, workspace, batch, seq);
        else ForwardCore(default(ReluActivation), g, input, parameters, packed, output, lengths, workspace, batch, seq);
    }

    /// <summary>y = act(x·Wᵀ + b): over <paramref name="packedW"/> when a predictor holds it, else W packed per call (the model's Linear).</summary>
    private static unsafe void Project<TAct>(TAct act, float* x, PackedDenseWeight? packedW, float* w, float* bias, float* y, int rows, int inF, int outF)
        where TAct : struct, IActivation
    {
        if (packedW is null) Linear(act, x, w, bias, y, null, rows, inF, outF);
        else PackedLinear(act, x, packedW, bias, y, rows);
    }

    /// <summary>y = skip + x·Wᵀ + b, over <paramref name="packedW"/> when a predictor holds it, else W packed per call.</summary>
    private static unsafe void ProjectResidual(float* x, PackedDenseWeight? packedW, float* w, float* bias, float* skip, float* y, int rows, int inF, int outF)
    {
        if (packedW is null) LinearResidual(x, w, bias, skip, y, rows, inF, outF);
        else PackedLinearResidual(x, packedW, bias, skip, y, rows);
    }

    /// <summary>y = act(x·Wᵀ + b) over a packed W.</summary>
    private static unsafe void PackedLinear<TAct>(TAct act, float* x, PackedDenseWeight weight, float* bias, float* y, int rows) where TAct : struct, IActivation
    {
        int inF = weight.InFeatures, outF = weight.OutFeatures;
        DenseKernels.Forward(ProjectionRoute(rows, inF), act, ReadOnly(x, (long)rows * inF), weight, ReadOnly(bias, outF), Span(y, (long)rows * outF), rows);
    }

    /// <summary>y = skip + x·Wᵀ + b over a packed W (skip may be y itself).</summary>
    private static unsafe void PackedLinearResidual(float* x, PackedDenseWeight weight, float* bias, float* skip, float* y, int rows)
    {
        int inF = weight.InFeatures, outF = weight.OutFeatures;
        DenseKernels.ForwardResidual(ProjectionRoute(rows, inF), default(IdentityActivation), ReadOnly(x, (long)rows * inF), weight, ReadOnly(bias, outF),
            ReadOnly(skip, (long)rows * outF), Span(y, (long)rows * outF), rows);
    }

    /// <summary>The packed GEMM where the model's Linear takes it (same panels, no per-call packing), else the pack's own rule.</summary>
    private static PackedRoute ProjectionRoute(int rows, int inF) => PreferPacked(rows, inF) ? PackedRoute.Packed : PackedRoute.Auto;
}
