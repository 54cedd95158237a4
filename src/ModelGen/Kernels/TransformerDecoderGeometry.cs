// The geometry of a Transformer decoder stack in PyTorch's terms (nn.TransformerDecoder over N copies of
// nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward, activation, batch_first=True, norm_first)): model width d,
// memory width, heads, feed-forward width, layers, pre- or post-norm, causal self-attention or not, the activation and
// LayerNorm's eps. Batch and sequence length are run-time sizes; the memory has the same length and lengths as the input.
// Everything derived (parameter count and offsets, what training keeps per position, scratch sizes) is computed here so
// that the kernels and the source generator agree on one layout: the state dict's, see ParameterTensors.
namespace ModelGen.Kernels;

/// <summary>
/// Geometry of <c>nn.TransformerDecoder</c> over <see cref="Layers"/> identical <c>nn.TransformerDecoderLayer</c>s with
/// <c>batch_first=True</c>: compile-time sizes; batch and sequence length are given per call to <see cref="TransformerDecoderKernels"/>.
/// </summary>
/// <remarks>
/// Parameters are one contiguous slice in PyTorch's state-dict order, layer after layer (see <see cref="ParameterTensors"/>):
/// <c>self_attn.*</c> (as <see cref="MultiHeadAttentionGeometry"/> for self-attention), <c>multihead_attn.*</c> (as
/// <see cref="MultiHeadAttentionGeometry"/> for cross-attention over a memory of <see cref="Memory"/> features: <c>in_proj_weight</c>
/// when that is d, else <c>q_proj_weight</c>, <c>k_proj_weight</c>, <c>v_proj_weight</c>), <c>linear1.weight</c> <c>[ff, d]</c>,
/// <c>linear1.bias</c>, <c>linear2.weight</c> <c>[d, ff]</c>, <c>linear2.bias</c>, then <c>norm1</c>, <c>norm2</c>, <c>norm3</c>
/// (weight and bias <c>[d]</c> each).
/// </remarks>
public readonly struct TransformerDecoderGeometry : IEquatable<TransformerDecoderGeometry>
{
    /// <summary>Creates the geometry of a stack of Transformer decoder layers.</summary>
    /// <param name="model">Features per position, d (PyTorch <c>d_model</c>).</param>
    /// <param name="heads">Attention heads of both attention blocks (PyTorch <c>nhead</c>); must divide <paramref name="model"/>.</param>
    /// <param name="feedForward">Width of the feed-forward hidden layer (PyTorch <c>dim_feedforward</c>).</param>
    /// <param name="layers">Stacked layers (PyTorch <c>num_layers</c>).</param>
    /// <param name="normFirst">Pre-norm (<c>x + SA(LN1(x))</c>, <c>x + CA(LN2(x), m)</c>, <c>x + FF(LN3(x))</c>) instead of post-norm
    /// (<c>LN1(x + SA(x))</c>, <c>LN2(x + CA(x, m))</c>, <c>LN3(x + FF(x))</c>); PyTorch <c>norm_first</c>.</param>
    /// <param name="causal">Self-attention position i sees positions j ≤ i only (PyTorch's <c>tgt_is_causal=True</c> with the square
    /// subsequent mask); cross-attention is never causal.</param>
    /// <param name="activation">The feed-forward activation.</param>
    /// <param name="memory">Features per position of the memory (the cross-attention's keys and values), or 0 for <paramref name="model"/>.</param>
    /// <param name="eps">LayerNorm's eps (PyTorch <c>layer_norm_eps</c>, default 1e-5).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1, <paramref name="memory"/> is negative, <paramref name="activation"/>
    /// is not a defined value, or <paramref name="eps"/> is negative, NaN or infinite.</exception>
    /// <exception cref="ArgumentException"><paramref name="heads"/> does not divide <paramref name="model"/>, or the parameter count or a
    /// per-position length does not fit in <see cref="int"/>.</exception>
    public TransformerDecoderGeometry(int model, int heads, int feedForward, int layers, bool normFirst, bool causal,
        FeedForwardActivation activation, int memory = 0, float eps = 1e-5f)
    {
        Positive(model, nameof(model));
        Positive(heads, nameof(heads));
        Positive(feedForward, nameof(feedForward));
        Positive(layers, nameof(layers));
        if (memory < 0)
            throw new ArgumentOutOfRangeException(nameof(memory), memory, $"'{nameof(memory)}' must be 0 (the model width) or the memory's width but is {memory}.");
        if (activation is not (FeedForwardActivation.ReLU or FeedForwardActivation.Gelu))
            throw new ArgumentOutOfRangeException(nameof(activation), activation,
                $"'{nameof(activation)}' must be {nameof(FeedForwardActivation.ReLU)} or {nameof(FeedForwardActivation.Gelu)} but is {(int)activation}.");
        if (!(eps >= 0f) || float.IsInfinity(eps))
            throw new ArgumentOutOfRangeException(nameof(eps), eps, $"'{nameof(eps)}' must be finite and zero or more but is {eps}.");
        if (model % heads != 0)
            throw new ArgumentException($"'{nameof(heads)}' ({heads}) must divide '{nameof(model)}' ({model}): each head takes model/heads features.", nameof(heads));
        int dm = memory == 0 ? model : memory;
        long perLayer = 6L * model * model + 2L * model * dm + 2L * model * feedForward + 15L * model + feedForward;
        long count = perLayer * layers;
        long step = KeptPerLayer(model, heads, feedForward) * layers + (long)(layers - 1) * model;
        if (count > int.MaxValue || step > int.MaxValue || 3L * Math.Max(model, dm) * Math.Max(model, feedForward) > int.MaxValue)
            throw new ArgumentException(
                $"A Transformer decoder stack with model {model}, memory {dm}, feedForward {feedForward} and {layers} layer(s) has {count} parameters; at most {int.MaxValue} are supported.",
                nameof(model));
        Model = model;
        Heads = heads;
        HeadSize = model / heads;
        FeedForward = feedForward;
        Layers = layers;
        NormFirst = normFirst;
        Causal = causal;
        Activation = activation;
        Memory = dm;
        Eps = eps;
        SelfAttention = new MultiHeadAttentionGeometry(model, heads, 0, causal, bias: true);
        CrossAttention = new MultiHeadAttentionGeometry(model, heads, dm, causal: false, bias: true);
        LayerParameterCount = (int)perLayer;
        ParameterCount = (int)count;
        TrainingStepLength = (int)step;
    }

    /// <summary>Features per position (d, PyTorch <c>d_model</c>).</summary>
    public int Model { get; }

    /// <summary>Attention heads.</summary>
    public int Heads { get; }

    /// <summary>Features per head: <c>Model / Heads</c>.</summary>
    public int HeadSize { get; }

    /// <summary>Width of the feed-forward hidden layer (ff).</summary>
    public int FeedForward { get; }

    /// <summary>Stacked layers.</summary>
    public int Layers { get; }

    /// <summary>Pre-norm (LayerNorm before each sub-block) instead of post-norm.</summary>
    public bool NormFirst { get; }

    /// <summary>Whether self-attention position i sees only positions j ≤ i.</summary>
    public bool Causal { get; }

    /// <summary>The feed-forward activation.</summary>
    public FeedForwardActivation Activation { get; }

    /// <summary>Features per position of the memory (the cross-attention's <c>kdim</c> = <c>vdim</c>); <see cref="Model"/> unless given.</summary>
    public int Memory { get; }

    /// <summary>LayerNorm's eps.</summary>
    public float Eps { get; }

    /// <summary>Floats of one layer's parameters: <c>6d² + 2·d·Memory + 2·d·ff + 15d + ff</c>.</summary>
    public int LayerParameterCount { get; }

    /// <summary>Floats of all parameter tensors: <c>Layers · LayerParameterCount</c>, in state-dict order.</summary>
    public int ParameterCount { get; }

    /// <summary>
    /// Floats that <c>TransformerDecoderKernels.TrainForward</c> keeps per example per position: per layer, for each attention
    /// block its q, k, v (3d), per-head log-sum-exp (heads), output before out_proj, dropout mask and residual sum (d each); the three
    /// LayerNorm outputs (or, post-norm, inputs), the feed-forward pre-activation, activation and mask (ff each), its output mask (d),
    /// the LayerNorm means and reciprocal deviations (6); and per layer below the top one its output (d).
    /// </summary>
    public int TrainingStepLength { get; }

    /// <summary>The self-attention block of every layer.</summary>
    internal MultiHeadAttentionGeometry SelfAttention { get; }

    /// <summary>The cross-attention block of every layer.</summary>
    internal MultiHeadAttentionGeometry CrossAttention { get; }

    /// <summary>True when this value came from the constructor.</summary>
    internal bool IsValid => Model > 0;

    /// <summary>Floats of an input or output <c>[batch, seq, Model]</c>.</summary>
    public long InputLength(int batch, int seq) => (long)batch * seq * Model;

    /// <summary>Floats of a memory <c>[batch, seq, Memory]</c>.</summary>
    public long MemoryLength(int batch, int seq) => (long)batch * seq * Memory;

    /// <summary>Floats of the buffer <c>TransformerDecoderKernels.TrainForward</c> keeps: <c>batch·seq·TrainingStepLength</c>.</summary>
    public long KeptLength(int batch, int seq) => (long)batch * seq * TrainingStepLength;

    /// <summary>Scratch floats that Forward, TrainForward and Backward of <see cref="TransformerDecoderKernels"/> need (one workspace serves all three).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="seq"/> is negative.</exception>
    public long WorkspaceLength(int batch, int seq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        return new TransformerDecoderWorkspace(this, batch, seq, seq).Total;
    }

    /// <summary>Scratch floats of the kernels' overloads that take a memory of <paramref name="memorySeq"/> positions per example (its own
    /// length); <see cref="WorkspaceLength(int, int)"/> when <paramref name="memorySeq"/> is <paramref name="seq"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    public long WorkspaceLength(int batch, int seq, int memorySeq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        ThrowHelper.CheckNonNegative(memorySeq, nameof(memorySeq));
        return new TransformerDecoderWorkspace(this, batch, seq, memorySeq).Total;
    }

    /// <summary>
    /// Floats of the self-attention key/value cache of incremental decoding: for every layer the keys
    /// <c>[batch, Heads, maxLength, HeadSize]</c>, then the values in the same layout (<c>Layers·2·batch·maxLength·Model</c>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    public long CacheLength(int batch, int maxLength)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(maxLength, nameof(maxLength));
        return (long)Layers * 2 * batch * maxLength * Model;
    }

    /// <summary>
    /// Floats of the cross-attention keys and values of a memory that incremental decoding computes once per sequence: for every
    /// layer the keys <c>[batch, Heads, memorySeq, HeadSize]</c>, then the values (<c>Layers·2·batch·memorySeq·Model</c>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    public long MemoryCacheLength(int batch, int memorySeq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(memorySeq, nameof(memorySeq));
        return (long)Layers * 2 * batch * memorySeq * Model;
    }

    /// <summary>Scratch floats of <c>PrepareMemory</c>: one layer's projected keys and values <c>[batch·memorySeq, 2·Model]</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    public long PrepareWorkspaceLength(int batch, int memorySeq) => MemoryCacheLength(batch, memorySeq) / Layers;

    /// <summary>Scratch floats of the decoder's <c>ForwardStep</c>: rows of one position per example and one row of scores.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    public long StepWorkspaceLength(int batch, int maxLength, int memorySeq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(maxLength, nameof(maxLength));
        ThrowHelper.CheckNonNegative(memorySeq, nameof(memorySeq));
        return new DecoderStepWorkspace(this, batch, maxLength, memorySeq).Total;
    }

    /// <summary>
    /// Floats kept by the training forward over a memory of <paramref name="memorySeq"/> positions per example:
    /// <c>batch·seq·TrainingStepLength + Layers·2·Model·batch·(memorySeq − seq)</c> (each layer's cross-attention keeps its keys and values
    /// per memory position rather than per query position).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    public long KeptLength(int batch, int seq, int memorySeq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        ThrowHelper.CheckNonNegative(memorySeq, nameof(memorySeq));
        return (long)batch * seq * TrainingStepLength + (long)Layers * 2 * Model * batch * ((long)memorySeq - seq);
    }

    /// <summary>
    /// The parameter tensors in state-dict order with their PyTorch names (relative to the <c>nn.TransformerDecoder</c>) and shapes: for
    /// each layer i, <c>layers.{i}.self_attn.in_proj_weight</c> <c>[3d, d]</c>, <c>.in_proj_bias</c> <c>[3d]</c>, <c>.out_proj.weight</c>
    /// <c>[d, d]</c>, <c>.out_proj.bias</c> <c>[d]</c>; <c>layers.{i}.multihead_attn.*</c> likewise (with <c>q_proj_weight</c> <c>[d, d]</c>,
    /// <c>k_proj_weight</c> and <c>v_proj_weight</c> <c>[d, Memory]</c> instead of <c>in_proj_weight</c> when Memory ≠ d);
    /// <c>layers.{i}.linear1.weight</c> <c>[ff, d]</c>, <c>.linear1.bias</c> <c>[ff]</c>, <c>.linear2.weight</c> <c>[d, ff]</c>,
    /// <c>.linear2.bias</c> <c>[d]</c>, <c>.norm1</c>, <c>.norm2</c>, <c>.norm3</c> <c>.weight</c> and <c>.bias</c> <c>[d]</c>.
    /// </summary>
    public IEnumerable<(string Name, int[] Shape)> ParameterTensors()
    {
        int d = Model, ff = FeedForward;
        for (int i = 0; i < Layers; i++)
        {
            string p = $"layers.{i}.";
            foreach (var (name, shape) in SelfAttention.ParameterTensors()) yield return (p + "self_attn." + name, shape);
            foreach (var (name, shape) in CrossAttention.ParameterTensors()) yield return (p + "multihead_attn." + name, shape);
            yield return (p + "linear1.weight", [ff, d]);
            yield return (p + "linear1.bias", [ff]);
            yield return (p + "linear2.weight", [d, ff]);
            yield return (p + "linear2.bias", [d]);
            for (int n = 1; n <= 3; n++)
            {
                yield return (p + $"norm{n}.weight", [d]);
                yield return (p + $"norm{n}.bias", [d]);
            }
        }
    }

    /// <summary>Floats kept per position for one layer (without its output; see <see cref="TrainingStepLength"/>).</summary>
    internal static long KeptPerLayer(long d, long heads, long ff) => 16 * d + 2 * heads + 3 * ff + 6;

    /// <inheritdoc/>
    public bool Equals(TransformerDecoderGeometry other)
        => Model == other.Model && Heads == other.Heads && FeedForward == other.FeedForward && Layers == other.Layers && NormFirst == other.NormFirst
           && Causal == other.Causal && Activation == other.Activation && Memory == other.Memory && Eps.Equals(other.Eps);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TransformerDecoderGeometry other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(HashCode.Combine(Model, Heads, FeedForward, Layers, NormFirst, Causal, Activation, Memory), Eps);

    /// <summary>Whether two geometries describe the same stack.</summary>
    public static bool operator ==(TransformerDecoderGeometry left, TransformerDecoderGeometry right) => left.Equals(right);

    /// <summary>Whether two geometries differ.</summary>
    public static bool operator !=(TransformerDecoderGeometry left, TransformerDecoderGeometry right) => !left.Equals(right);

    /// <summary>A PyTorch-like description, e.g. <c>TransformerDecoder(d_model=128, nhead=4, dim_feedforward=512, num_layers=2, memory=128, ...)</c>.</summary>
    public override string ToString()
        => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"TransformerDecoder(d_model={Model}, nhead={Heads}, dim_feedforward={FeedForward}, num_layers={Layers}, memory={Memory}, norm_first={(NormFirst ? "True" : "False")}, causal={(Causal ? "True" : "False")}, activation={(Activation == FeedForwardActivation.Gelu ? "gelu" : "relu")}, eps={Eps})");

    private static void Positive(int value, string name)
    {
        if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be at least 1 but is {value}.");
    }
}

/// <summary>Where each scratch buffer lives in the decoder workspace (offsets in floats). One workspace serves Forward, TrainForward and Backward.</summary>
internal readonly struct TransformerDecoderWorkspace
{
    public readonly long XCopy, MemoryCopy, Attention, A, Wide, B, C, E, Total;

    public TransformerDecoderWorkspace(in TransformerDecoderGeometry g, int batch, int seq, int memorySeq)
    {
        long rows = (long)batch * seq, memoryRows = (long)batch * memorySeq, d = g.Model, rd = rows * d, offset = 0;
        XCopy = Take(ref offset, rd);                                      // the input with padded rows zeroed
        MemoryCopy = Take(ref offset, memoryRows * g.Memory);              // the memory with padded rows zeroed
        Attention = Take(ref offset, AttentionKernels.WorkspaceLength(seq, g.HeadSize));
        A = Take(ref offset, rd);
        // q/k/v (or their gradients) of self- and cross-attention, the feed-forward hidden rows
        Wide = Take(ref offset, Math.Max(rows * Math.Max(3 * d, g.FeedForward), rd + 2 * memoryRows * d));
        B = Take(ref offset, rd);                                          // backward only (B, C, E)
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

/// <summary>Where each scratch buffer of the decoder's incremental step lives (offsets in floats).</summary>
internal readonly struct DecoderStepWorkspace
{
    public readonly long A, Attention, Hidden, Query, Output, Scores, SelfStep, Total;

    public DecoderStepWorkspace(in TransformerDecoderGeometry g, int batch, int maxLength, int memorySeq)
    {
        long bd = (long)batch * g.Model, offset = 0;
        A = Take(ref offset, bd);                                          // a LayerNorm output (or the residual stream's copy)
        Attention = Take(ref offset, bd);                                  // a self-attention block's output
        Hidden = Take(ref offset, (long)batch * g.FeedForward);           // the feed-forward activation
        Query = Take(ref offset, bd);                                      // cross-attention queries
        Output = Take(ref offset, bd);                                     // cross-attention output before out_proj
        Scores = Take(ref offset, memorySeq);                              // one row of cross-attention scores
        SelfStep = Take(ref offset, g.SelfAttention.StepWorkspaceLength(batch, maxLength));
        Total = offset;
    }

    private static long Take(ref long offset, long length)
    {
        long start = offset;
        offset += length;
        return start;
    }
}
