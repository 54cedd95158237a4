// The geometry of one PyTorch nn.MultiheadAttention(embed_dim=d, num_heads, bias, kdim=vdim=dm, batch_first=True) layer:
// self-attention (queries, keys and values all from the input) or cross-attention (keys and values from a memory tensor
// of the same length T and dm features per position). Batch and T are run-time sizes (per call). Everything derived
// (parameter count and offsets, what training keeps per position, scratch sizes, the KV cache) is computed here so that
// the kernels and the source generator agree on one layout: PyTorch's state-dict order (see ParameterTensors).
namespace ModelGen.Kernels;

/// <summary>
/// Geometry of PyTorch's <c>nn.MultiheadAttention(embed_dim, num_heads, bias, kdim, vdim, batch_first=True)</c>: compile-time
/// sizes; batch and sequence length are given per call to <see cref="MultiHeadAttentionKernels"/>.
/// </summary>
/// <remarks>
/// Parameters are one contiguous slice in PyTorch's state-dict order. With keys and values of the model width d
/// (self-attention, or cross-attention over a memory of width d): <c>in_proj_weight</c> <c>[3d, d]</c> (rows: W_q, W_k, W_v),
/// <c>in_proj_bias</c> <c>[3d]</c>, <c>out_proj.weight</c> <c>[d, d]</c>, <c>out_proj.bias</c> <c>[d]</c>. With a memory of another
/// width dm (PyTorch's <c>kdim = vdim = dm</c>): <c>q_proj_weight</c> <c>[d, d]</c>, <c>k_proj_weight</c> <c>[d, dm]</c>,
/// <c>v_proj_weight</c> <c>[d, dm]</c>, then <c>in_proj_bias</c>, <c>out_proj.weight</c>, <c>out_proj.bias</c> as before. Both are
/// W_q, W_k, W_v back to back, so one layout serves both. Without bias (PyTorch <c>bias=False</c>) the two bias tensors are absent.
/// </remarks>
public readonly struct MultiHeadAttentionGeometry : IEquatable<MultiHeadAttentionGeometry>
{
    /// <summary>Creates the geometry of one multi-head attention layer.</summary>
    /// <param name="model">Features per position of the queries and the output, d (PyTorch <c>embed_dim</c>).</param>
    /// <param name="heads">Attention heads (PyTorch <c>num_heads</c>); must divide <paramref name="model"/>.</param>
    /// <param name="memory">Features per position of the memory that keys and values come from (PyTorch <c>kdim</c> = <c>vdim</c>),
    /// or 0 for self-attention (keys and values from the input).</param>
    /// <param name="causal">Position i attends to positions j ≤ i only (PyTorch's <c>is_causal=True</c> with the square subsequent mask).</param>
    /// <param name="bias">Whether the projections have biases (PyTorch <c>bias</c>, default true).</param>
    /// <param name="rotary">Rotary position embeddings (<see cref="RotaryKernels"/>) applied to every head's queries (by the query's
    /// position) and keys (by the key's position, the memory's for cross-attention) after the in-projection, or null for none; its
    /// <see cref="RotaryTable.HeadSize"/> must be <c>model / heads</c>, and sequences may not be longer than its <see cref="RotaryTable.MaxLength"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="model"/> or <paramref name="heads"/> is less than 1, or <paramref name="memory"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="heads"/> does not divide <paramref name="model"/>, the parameter count does not fit in <see cref="int"/>,
    /// or <paramref name="rotary"/>'s head width is not <c>model / heads</c>.</exception>
    public MultiHeadAttentionGeometry(int model, int heads, int memory = 0, bool causal = false, bool bias = true, RotaryTable? rotary = null)
    {
        if (model < 1) throw new ArgumentOutOfRangeException(nameof(model), model, $"'{nameof(model)}' must be at least 1 but is {model}.");
        if (heads < 1) throw new ArgumentOutOfRangeException(nameof(heads), heads, $"'{nameof(heads)}' must be at least 1 but is {heads}.");
        if (memory < 0) throw new ArgumentOutOfRangeException(nameof(memory), memory, $"'{nameof(memory)}' must be 0 (self-attention) or the memory's width but is {memory}.");
        if (model % heads != 0)
            throw new ArgumentException($"'{nameof(heads)}' ({heads}) must divide '{nameof(model)}' ({model}): each head takes model/heads features.", nameof(heads));
        long d = model, dk = memory == 0 ? model : memory;
        long count = 2 * d * d + 2 * d * dk + (bias ? 4 * d : 0);
        if (count > int.MaxValue || 4 * d + heads > int.MaxValue / 2)
            throw new ArgumentException($"A multi-head attention layer with model {model} and memory {dk} has {count} parameters; at most {int.MaxValue} are supported.", nameof(model));
        if (rotary is not null && rotary.HeadSize != model / heads)
            throw new ArgumentException(
                $"'{nameof(rotary)}' rotates heads of {rotary.HeadSize} features but model {model} / heads {heads} gives heads of {model / heads}.", nameof(rotary));
        Model = model;
        Heads = heads;
        Rotary = rotary;
        HeadSize = model / heads;
        Memory = memory;
        Causal = causal;
        Bias = bias;
        ParameterCount = (int)count;
        TrainingStepLength = 4 * model + heads;
    }

    /// <summary>Features per position of the queries and the output (d, PyTorch <c>embed_dim</c>).</summary>
    public int Model { get; }

    /// <summary>Attention heads.</summary>
    public int Heads { get; }

    /// <summary>Features per head: <c>Model / Heads</c> (PyTorch <c>head_dim</c>).</summary>
    public int HeadSize { get; }

    /// <summary>Features per position of the memory (cross-attention), or 0 for self-attention.</summary>
    public int Memory { get; }

    /// <summary>Whether keys and values come from a memory tensor instead of the input.</summary>
    public bool IsCross => Memory > 0;

    /// <summary>Features per position that the key and value projections read: <see cref="Memory"/> for cross-attention, else <see cref="Model"/>.</summary>
    public int KeyFeatures => Memory > 0 ? Memory : Model;

    /// <summary>Whether position i attends only to positions j ≤ i.</summary>
    public bool Causal { get; }

    /// <summary>Whether the projections have biases.</summary>
    public bool Bias { get; }

    /// <summary>The rotary position embeddings of queries and keys, or null when the layer has none.</summary>
    public RotaryTable? Rotary { get; }

    /// <summary>Floats of all parameter tensors in state-dict order (see <see cref="ParameterTensors"/>): <c>2d² + 2·d·KeyFeatures (+ 4d with bias)</c>.</summary>
    public int ParameterCount { get; }

    /// <summary>
    /// Floats that <see cref="MultiHeadAttentionKernels.TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/> keeps per example per position for
    /// <see cref="MultiHeadAttentionKernels.Backward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>: the projected q, k and v (3d), the attention output before out_proj (d)
    /// and the per-head log-sum-exp of the softmax (heads).
    /// </summary>
    public int TrainingStepLength { get; }

    /// <summary>True when this value came from the constructor (<c>default(MultiHeadAttentionGeometry)</c> is not a geometry).</summary>
    internal bool IsValid => Model > 0;

    /// <summary>Whether the parameters carry PyTorch's packed <c>in_proj_weight</c> (keys and values of width d) rather than three projection weights.</summary>
    public bool PackedInProjection => KeyFeatures == Model;

    /// <summary>Floats of an input or output <c>[batch, seq, Model]</c>.</summary>
    public long InputLength(int batch, int seq) => (long)batch * seq * Model;

    /// <summary>Floats of a memory <c>[batch, seq, Memory]</c> (0 for self-attention: the memory span is empty); pass the memory's own
    /// length as <paramref name="seq"/> when it differs from the queries'.</summary>
    public long MemoryLength(int batch, int seq) => (long)batch * seq * Memory;

    /// <summary>Floats of the buffer <see cref="MultiHeadAttentionKernels.TrainForward(in MultiHeadAttentionGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, Span{float}, int, int, float, ulong)"/>
    /// keeps: <c>batch·seq·TrainingStepLength</c>.</summary>
    public long KeptLength(int batch, int seq) => (long)batch * seq * TrainingStepLength;

    /// <summary>
    /// Floats kept by the cross-attention training forward over a memory of <paramref name="memorySeq"/> positions: per query position
    /// q, the attention output and the log-sum-exp (<c>2d + heads</c>), per memory position k and v (<c>2d</c>). Equal to
    /// <see cref="KeptLength(int, int)"/> when <paramref name="memorySeq"/> is <paramref name="seq"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException">The layer is self-attention and <paramref name="memorySeq"/> differs from <paramref name="seq"/>.</exception>
    public long KeptLength(int batch, int seq, int memorySeq)
    {
        CheckMemorySeq(batch, seq, memorySeq);
        return (long)batch * seq * (2L * Model + Heads) + (long)batch * memorySeq * 2L * Model;
    }

    /// <summary>Scratch floats of the cross-attention kernels over a memory of <paramref name="memorySeq"/> positions; equal to
    /// <see cref="WorkspaceLength(int, int)"/> when <paramref name="memorySeq"/> is <paramref name="seq"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException">The layer is self-attention and <paramref name="memorySeq"/> differs from <paramref name="seq"/>.</exception>
    public long WorkspaceLength(int batch, int seq, int memorySeq)
    {
        CheckMemorySeq(batch, seq, memorySeq);
        return new MultiHeadAttentionWorkspace(this, batch, seq, memorySeq).Total;
    }

    private void CheckMemorySeq(int batch, int seq, int memorySeq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        ThrowHelper.CheckNonNegative(memorySeq, nameof(memorySeq));
        if (!IsCross && memorySeq != seq)
            throw new ArgumentException($"'{nameof(memorySeq)}' ({memorySeq}) must equal '{nameof(seq)}' ({seq}) for self-attention ({this}).", nameof(memorySeq));
    }

    /// <summary>Scratch floats that Forward, TrainForward and Backward of <see cref="MultiHeadAttentionKernels"/> need (one workspace serves all three).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="seq"/> is negative.</exception>
    public long WorkspaceLength(int batch, int seq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        return new MultiHeadAttentionWorkspace(this, batch, seq).Total;
    }

    /// <summary>
    /// Floats of the key/value cache <see cref="MultiHeadAttentionKernels.ForwardStep"/> reads and appends to: the keys
    /// <c>[batch, Heads, maxLength, HeadSize]</c>, then the values in the same layout (<c>2·batch·maxLength·Model</c>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="maxLength"/> is negative.</exception>
    public long CacheLength(int batch, int maxLength)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(maxLength, nameof(maxLength));
        return 2L * batch * maxLength * Model;
    }

    /// <summary>Scratch floats <see cref="MultiHeadAttentionKernels.ForwardStep"/> needs: q, k, v and the attention output per example, and one row of scores.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="maxLength"/> is negative.</exception>
    public long StepWorkspaceLength(int batch, int maxLength)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(maxLength, nameof(maxLength));
        return 4L * batch * Model + maxLength;
    }

    /// <summary>
    /// Floats of the memory cache of cross-attention decoding (<see cref="MultiHeadAttentionKernels.PrepareMemory"/>): the memory's
    /// keys <c>[batch, Heads, memorySeq, HeadSize]</c>, then its values in the same layout (<c>2·batch·memorySeq·Model</c>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="memorySeq"/> is negative.</exception>
    public long MemoryCacheLength(int batch, int memorySeq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(memorySeq, nameof(memorySeq));
        return 2L * batch * memorySeq * Model;
    }

    /// <summary>Scratch floats <see cref="MultiHeadAttentionKernels.PrepareMemory"/> needs: the projected keys and values <c>[batch·memorySeq, 2·Model]</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="memorySeq"/> is negative.</exception>
    public long PrepareWorkspaceLength(int batch, int memorySeq) => MemoryCacheLength(batch, memorySeq);

    /// <summary>Scratch floats of <see cref="MultiHeadAttentionKernels.ForwardStepOverMemory"/>: the query and the attention output per example, and one row of scores.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="memorySeq"/> is negative.</exception>
    public long MemoryStepWorkspaceLength(int batch, int memorySeq)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(memorySeq, nameof(memorySeq));
        return 2L * batch * Model + memorySeq;
    }

    /// <summary>
    /// The parameter tensors in state-dict order with their PyTorch names (relative to the module) and shapes: <c>in_proj_weight</c>
    /// <c>[3d, d]</c> when keys and values have width d, else <c>q_proj_weight</c> <c>[d, d]</c>, <c>k_proj_weight</c> and
    /// <c>v_proj_weight</c> <c>[d, Memory]</c>; then (with bias) <c>in_proj_bias</c> <c>[3d]</c>, <c>out_proj.weight</c> <c>[d, d]</c>
    /// and (with bias) <c>out_proj.bias</c> <c>[d]</c>.
    /// </summary>
    public IEnumerable<(string Name, int[] Shape)> ParameterTensors()
    {
        int d = Model, dk = KeyFeatures;
        if (PackedInProjection) yield return ("in_proj_weight", [3 * d, d]);
        else
        {
            yield return ("q_proj_weight", [d, d]);
            yield return ("k_proj_weight", [d, dk]);
            yield return ("v_proj_weight", [d, dk]);
        }
        if (Bias) yield return ("in_proj_bias", [3 * d]);
        yield return ("out_proj.weight", [d, d]);
        if (Bias) yield return ("out_proj.bias", [d]);
    }

    /// <inheritdoc/>
    public bool Equals(MultiHeadAttentionGeometry other)
        => Model == other.Model && Heads == other.Heads && Memory == other.Memory && Causal == other.Causal && Bias == other.Bias && Equals(Rotary, other.Rotary);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is MultiHeadAttentionGeometry other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Model, Heads, Memory, Causal, Bias, Rotary);

    /// <summary>Whether two geometries describe the same layer.</summary>
    public static bool operator ==(MultiHeadAttentionGeometry left, MultiHeadAttentionGeometry right) => left.Equals(right);

    /// <summary>Whether two geometries differ.</summary>
    public static bool operator !=(MultiHeadAttentionGeometry left, MultiHeadAttentionGeometry right) => !left.Equals(right);

    /// <summary>A PyTorch-like description, e.g. <c>MultiheadAttention(embed_dim=16, num_heads=4, kdim=8, vdim=8, bias=True, causal=False)</c>
    /// (with <c>, rotary=RotaryPositionalEmbeddings(…)</c> when <see cref="Rotary"/> is set).</summary>
    public override string ToString()
        => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"MultiheadAttention(embed_dim={Model}, num_heads={Heads}{(IsCross ? $", kdim={Memory}, vdim={Memory}, cross" : "")}, bias={(Bias ? "True" : "False")}, causal={(Causal ? "True" : "False")}{(Rotary is null ? "" : $", rotary={Rotary}")})");
}

/// <summary>Where each scratch buffer lives in the multi-head attention workspace (offsets in floats). One workspace serves Forward, TrainForward and Backward.</summary>
internal readonly struct MultiHeadAttentionWorkspace
{
    public readonly long XCopy, MemoryCopy, Attention, Qkv, A, B, Total;

    public MultiHeadAttentionWorkspace(in MultiHeadAttentionGeometry g, int batch, int seq) : this(g, batch, seq, seq) { }

    /// <summary>The layout with a memory of <paramref name="memorySeq"/> positions per example (cross-attention).</summary>
    public MultiHeadAttentionWorkspace(in MultiHeadAttentionGeometry g, int batch, int seq, int memorySeq)
    {
        long rows = (long)batch * seq, memoryRows = (long)batch * memorySeq, d = g.Model, offset = 0;
        XCopy = Take(ref offset, rows * d);                          // the input with padded rows zeroed
        MemoryCopy = Take(ref offset, memoryRows * g.Memory);        // the memory with padded rows zeroed (cross-attention)
        Attention = Take(ref offset, AttentionKernels.WorkspaceLength(seq, g.HeadSize));
        Qkv = Take(ref offset, rows * d + memoryRows * 2 * d);       // q, k, v at inference; their gradients in backward
        A = Take(ref offset, rows * d);                              // the attention output at inference; dOutput with padded rows zeroed in backward
        B = Take(ref offset, rows * d);                              // the attention output's gradient (backward)
        Total = offset;
    }

    private static long Take(ref long offset, long length)
    {
        long start = offset;
        offset += length;
        return start;
    }
}
