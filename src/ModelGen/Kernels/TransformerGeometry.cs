// The geometry of a Transformer encoder stack in PyTorch's terms (nn.TransformerEncoder over N copies of
// nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, activation, batch_first=True, norm_first)): model width d,
// heads, feed-forward width, layers, pre- or post-norm, causal or not, the feed-forward activation and LayerNorm's eps.
// Batch and sequence length are run-time sizes (per call). Everything derived (parameter count and offsets, what
// training keeps per position, scratch sizes, the KV cache) is computed here so that the kernels and the source
// generator agree on one layout. The parameter order is nn.TransformerEncoder's state dict; see ParameterTensors.
namespace ModelGen.Kernels;

/// <summary>The feed-forward activation of a <see cref="TransformerGeometry"/> (PyTorch's <c>activation</c> argument).</summary>
public enum FeedForwardActivation
{
    /// <summary><c>max(x, 0)</c> (PyTorch's default, <c>"relu"</c>).</summary>
    ReLU,

    /// <summary>Exact GELU <c>x·Φ(x)</c> through erf (PyTorch's <c>"gelu"</c>, <c>approximate='none'</c>).</summary>
    Gelu,
}

/// <summary>
/// Geometry of <c>nn.TransformerEncoder</c> over <see cref="Layers"/> identical <c>nn.TransformerEncoderLayer</c>s with
/// <c>batch_first=True</c>: compile-time sizes; batch and sequence length are given per call to <see cref="TransformerKernels"/>.
/// </summary>
/// <remarks>
/// Parameters are one contiguous slice in PyTorch's state-dict order, layer after layer (see <see cref="ParameterTensors"/>):
/// <c>self_attn.in_proj_weight</c> <c>[3d, d]</c> (rows: the query, key and value projections), <c>self_attn.in_proj_bias</c>
/// <c>[3d]</c>, <c>self_attn.out_proj.weight</c> <c>[d, d]</c>, <c>self_attn.out_proj.bias</c> <c>[d]</c>,
/// <c>linear1.weight</c> <c>[ff, d]</c>, <c>linear1.bias</c> <c>[ff]</c>, <c>linear2.weight</c> <c>[d, ff]</c>,
/// <c>linear2.bias</c> <c>[d]</c>, <c>norm1.weight</c>, <c>norm1.bias</c>, <c>norm2.weight</c>, <c>norm2.bias</c> <c>[d]</c>.
/// </remarks>
public readonly struct TransformerGeometry : IEquatable<TransformerGeometry>
{
    /// <summary>Creates the geometry of a stack of Transformer encoder layers.</summary>
    /// <param name="model">Features per position, d (PyTorch <c>d_model</c>).</param>
    /// <param name="heads">Attention heads (PyTorch <c>nhead</c>); must divide <paramref name="model"/>.</param>
    /// <param name="feedForward">Width of the feed-forward hidden layer (PyTorch <c>dim_feedforward</c>).</param>
    /// <param name="layers">Stacked layers (PyTorch <c>num_layers</c>).</param>
    /// <param name="normFirst">Pre-norm (<c>x + SA(LN1(x))</c>, then <c>x + FF(LN2(x))</c>) instead of post-norm
    /// (<c>LN1(x + SA(x))</c>, then <c>LN2(x + FF(x))</c>); PyTorch <c>norm_first</c>.</param>
    /// <param name="causal">Position i attends to positions j ≤ i only (PyTorch's <c>is_causal=True</c> with the square subsequent mask).</param>
    /// <param name="activation">The feed-forward activation.</param>
    /// <param name="eps">LayerNorm's eps (PyTorch <c>layer_norm_eps</c>, default 1e-5).</param>
    /// <param name="rotary">Rotary position embeddings applied to every head's queries and keys after the in-projection (see
    /// <see cref="RotaryKernels"/>), or null for none; its <see cref="RotaryTable.HeadSize"/> must be <c>model / heads</c>, and
    /// sequences may not be longer than its <see cref="RotaryTable.MaxLength"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1, <paramref name="activation"/> is not a defined value, or
    /// <paramref name="eps"/> is negative, NaN or infinite.</exception>
    /// <exception cref="ArgumentException"><paramref name="heads"/> does not divide <paramref name="model"/>, the parameter count or a
    /// per-position length does not fit in <see cref="int"/>, or <paramref name="rotary"/>'s head width is not <c>model / heads</c>.</exception>
    public TransformerGeometry(int model, int heads, int feedForward, int layers, bool normFirst, bool causal,
        FeedForwardActivation activation, float eps = 1e-5f, RotaryTable? rotary = null)
    {
        Positive(model, nameof(model));
        Positive(heads, nameof(heads));
        Positive(feedForward, nameof(feedForward));
        Positive(layers, nameof(layers));
        if (activation is not (FeedForwardActivation.ReLU or FeedForwardActivation.Gelu))
            throw new ArgumentOutOfRangeException(nameof(activation), activation,
                $"'{nameof(activation)}' must be {nameof(FeedForwardActivation.ReLU)} or {nameof(FeedForwardActivation.Gelu)} but is {(int)activation}.");
        if (!(eps >= 0f) || float.IsInfinity(eps))
            throw new ArgumentOutOfRangeException(nameof(eps), eps, $"'{nameof(eps)}' must be finite and zero or more but is {eps}.");
        if (model % heads != 0)
            throw new ArgumentException($"'{nameof(heads)}' ({heads}) must divide '{nameof(model)}' ({model}): each head takes model/heads features.", nameof(heads));
        long perLayer = LayerParameters(model, feedForward);
        long count = perLayer * layers;
        long step = KeptPerLayer(model, heads, feedForward) * layers + (long)(layers - 1) * model;
        if (count > int.MaxValue || step > int.MaxValue || 3L * model * Math.Max(model, feedForward) > int.MaxValue)
            throw new ArgumentException(
                $"A Transformer stack with model {model}, feedForward {feedForward} and {layers} layer(s) has {count} parameters; at most {int.MaxValue} are supported.",
                nameof(model));
        if (rotary is not null && rotary.HeadSize != model / heads)
            throw new ArgumentException(
                $"'{nameof(rotary)}' rotates heads of {rotary.HeadSize} features but model {model} / heads {heads} gives heads of {model / heads}.", nameof(rotary));
        Model = model;
        Heads = heads;
        Rotary = rotary;
        HeadSize = model / heads;
        FeedForward = feedForward;
        Layers = layers;
        NormFirst = normFirst;
        Causal = causal;
        Activation = activation;
        Eps = eps;
        LayerParameterCount = (int)perLayer;
        ParameterCount = (int)count;
        TrainingStepLength = (int)step;
    }

    /// <summary>Features per position (d, PyTorch <c>d_model</c>).</summary>
    public int Model { get; }

    /// <summary>Attention heads.</summary>
    public int Heads { get; }

    /// <summary>Features per head: <c>Model / Heads</c> (PyTorch <c>head_dim</c>).</summary>
    public int HeadSize { get; }

    /// <summary>Width of the feed-forward hidden layer (ff).</summary>
    public int FeedForward { get; }

    /// <summary>Stacked layers.</summary>
    public int Layers { get; }

    /// <summary>Pre-norm (LayerNorm before each sub-block) instead of post-norm.</summary>
    public bool NormFirst { get; }

    /// <summary>Whether position i attends only to positions j ≤ i.</summary>
    public bool Causal { get; }

    /// <summary>The feed-forward activation.</summary>
    public FeedForwardActivation Activation { get; }

    /// <summary>LayerNorm's eps.</summary>
    public float Eps { get; }

    /// <summary>The rotary position embeddings of queries and keys, or null when attention has none.</summary>
    public RotaryTable? Rotary { get; }

    /// <summary>Floats of one layer's parameters: <c>4d² + 2·d·ff + 9d + ff</c>.</summary>
    public int LayerParameterCount { get; }

    /// <summary>Floats of all parameter tensors: <c>Layers · LayerParameterCount</c>, in state-dict order (see <see cref="ParameterTensors"/>).</summary>
    public int ParameterCount { get; }

    /// <summary>
    /// Floats that <see cref="TransformerKernels.TrainForward(in TransformerGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, float, Rng)"/> keeps per example per position for <see cref="TransformerKernels.Backward"/>:
    /// per layer the packed q, k, v (3d), the attention's per-head log-sum-exp (heads), the attention output, the residual sum
    /// after attention, both LayerNorm outputs (or, post-norm, the input of the second), the three dropout masks (d, ff, d), the
    /// feed-forward pre-activation and activation (ff each), the LayerNorm means and reciprocal deviations (4); and per layer
    /// below the top one its output (d).
    /// </summary>
    public int TrainingStepLength { get; }

    /// <summary>True when this value came from the constructor (<c>default(TransformerGeometry)</c> is not a geometry).</summary>
    internal bool IsValid => Model > 0;

    /// <summary>Floats of an input or output <c>[batch, seq, Model]</c>.</summary>
    public long InputLength(int batch, int seq) => (long)batch * seq * Model;

    /// <summary>Floats of the buffer <see cref="TransformerKernels.TrainForward(in TransformerGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, float, Rng)"/> keeps: <c>batch·seq·TrainingStepLength</c>.</summary>
    public long KeptLength(int batch, int seq) => (long)batch * seq * TrainingStepLength;

    /// <summary>
    /// Scratch floats that <see cref="TransformerKernels.Forward"/>, <see cref="TransformerKernels.TrainForward(in TransformerGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, float, Rng)"/> and
    /// <see cref="TransformerKernels.Backward"/> need for this batch and sequence length (one workspace serves all three).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="seq"/> is negative.</exception>
    public long WorkspaceLength(int batch, int seq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        return new TransformerWorkspace(this, batch, seq).Total;
    }

    /// <summary>
    /// Floats of the key/value cache <see cref="TransformerKernels.ForwardStep"/> reads and appends to: the keys
    /// <c>[Layers, batch, Heads, maxLength, HeadSize]</c>, then the values in the same layout (<c>2·Layers·batch·maxLength·Model</c>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="maxLength"/> is negative.</exception>
    public long CacheLength(int batch, int maxLength)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(maxLength, nameof(maxLength));
        return 2L * Layers * batch * maxLength * Model;
    }

    /// <summary>Scratch floats <see cref="TransformerKernels.ForwardStep"/> needs for this batch and cache length.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="maxLength"/> is negative.</exception>
    public long StepWorkspaceLength(int batch, int maxLength)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(maxLength, nameof(maxLength));
        // a [batch, d], qkv-or-hidden [batch, max(3d, ff)], attention output [batch, d], scores [maxLength].
        return (long)batch * (2L * Model + Math.Max(3L * Model, FeedForward)) + maxLength;
    }

    /// <summary>
    /// The parameter tensors in state-dict order with their PyTorch names (relative to the <c>nn.TransformerEncoder</c>) and shapes:
    /// for each layer i, <c>layers.{i}.self_attn.in_proj_weight</c> <c>[3d, d]</c>, <c>layers.{i}.self_attn.in_proj_bias</c> <c>[3d]</c>,
    /// <c>layers.{i}.self_attn.out_proj.weight</c> <c>[d, d]</c>, <c>layers.{i}.self_attn.out_proj.bias</c> <c>[d]</c>,
    /// <c>layers.{i}.linear1.weight</c> <c>[ff, d]</c>, <c>layers.{i}.linear1.bias</c> <c>[ff]</c>, <c>layers.{i}.linear2.weight</c>
    /// <c>[d, ff]</c>, <c>layers.{i}.linear2.bias</c> <c>[d]</c>, <c>layers.{i}.norm1.weight</c>, <c>layers.{i}.norm1.bias</c>,
    /// <c>layers.{i}.norm2.weight</c>, <c>layers.{i}.norm2.bias</c> <c>[d]</c>.
    /// </summary>
    public IEnumerable<(string Name, int[] Shape)> ParameterTensors()
    {
        int d = Model, ff = FeedForward;
        for (int i = 0; i < Layers; i++)
        {
            string p = $"layers.{i}.";
            yield return (p + "self_attn.in_proj_weight", [3 * d, d]);
            yield return (p + "self_attn.in_proj_bias", [3 * d]);
            yield return (p + "self_attn.out_proj.weight", [d, d]);
            yield return (p + "self_attn.out_proj.bias", [d]);
            yield return (p + "linear1.weight", [ff, d]);
            yield return (p + "linear1.bias", [ff]);
            yield return (p + "linear2.weight", [d, ff]);
            yield return (p + "linear2.bias", [d]);
            yield return (p + "norm1.weight", [d]);
            yield return (p + "norm1.bias", [d]);
            yield return (p + "norm2.weight", [d]);
            yield return (p + "norm2.bias", [d]);
        }
    }

    /// <summary>Floats of one layer's parameters.</summary>
    private static long LayerParameters(long d, long ff) => 4 * d * d + 2 * d * ff + 9 * d + ff;

    /// <summary>Floats kept per position for one layer (without its output; see <see cref="TrainingStepLength"/>).</summary>
    internal static long KeptPerLayer(long d, long heads, long ff) => 9 * d + heads + 3 * ff + 4;

    /// <inheritdoc/>
    public bool Equals(TransformerGeometry other)
        => Model == other.Model && Heads == other.Heads && FeedForward == other.FeedForward && Layers == other.Layers
           && NormFirst == other.NormFirst && Causal == other.Causal && Activation == other.Activation && Eps.Equals(other.Eps)
           && Equals(Rotary, other.Rotary);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TransformerGeometry other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(HashCode.Combine(Model, Heads, FeedForward, Layers, NormFirst, Causal, Activation, Eps), Rotary);

    /// <summary>Whether two geometries describe the same stack.</summary>
    public static bool operator ==(TransformerGeometry left, TransformerGeometry right) => left.Equals(right);

    /// <summary>Whether two geometries differ.</summary>
    public static bool operator !=(TransformerGeometry left, TransformerGeometry right) => !left.Equals(right);

    /// <summary>A PyTorch-like description, e.g. <c>TransformerEncoder(d_model=128, nhead=4, dim_feedforward=512, num_layers=2, ...)</c>.</summary>
    public override string ToString()
        => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"TransformerEncoder(d_model={Model}, nhead={Heads}, dim_feedforward={FeedForward}, num_layers={Layers}, norm_first={(NormFirst ? "True" : "False")}, causal={(Causal ? "True" : "False")}, activation={(Activation == FeedForwardActivation.Gelu ? "gelu" : "relu")}, eps={Eps}{(Rotary is null ? "" : $", rotary={Rotary}")})");

    private static void Positive(int value, string name)
    {
        if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be at least 1 but is {value}.");
    }
}
