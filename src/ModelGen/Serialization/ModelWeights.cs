// Save/load of a whole model's state as safetensors, with PyTorch's state_dict names: the parameters
// (IModel.ParameterInfos) and the buffers (IModel.BufferInfos: running statistics as F32, counters such as
// num_batches_tracked as I64 scalars, optional on load so files from before ModelGen saved them still load).
// Generated classes call these (ModelWeights.Save(this, path)); users may call them as extension methods.
namespace ModelGen.Serialization;

/// <summary>Saves and loads a model's parameters in the safetensors format.</summary>
public static partial class ModelWeights
{
    /// <summary>
    /// The model's state dict as one tensor list over one new array: the parameters at their offsets, then the buffers
    /// at <c>Parameters.Length + offset</c>, both holding the model's current values; and the names of the counters.
    /// </summary>
    internal static (List<ParameterInfo> Tensors, float[] Values, HashSet<string> Counts) StateDict(IModel model)
    {
        ReadOnlySpan<float> parameters = model.Parameters, buffers = model.Buffers;
        var tensors = new List<ParameterInfo>(model.ParameterInfos);
        var counts = new HashSet<string>(StringComparer.Ordinal);
        foreach (var b in model.BufferInfos)
        {
            tensors.Add(new ParameterInfo(b.Name, b.Shape, parameters.Length + b.Offset, b.Length));
            if (b.IsCount) counts.Add(b.Name);
        }
        var values = new float[parameters.Length + buffers.Length];
        parameters.CopyTo(values);
        buffers.CopyTo(values.AsSpan(parameters.Length));
        return (tensors, values, counts);
    }

    /// <summary>Copies validated state-dict values (laid out as <see cref="StateDict"/> makes them) into the model.</summary>
    internal static void CopyInto(IModel model, ReadOnlySpan<float> values)
    {
        Span<float> parameters = model.Parameters;
        values[..parameters.Length].CopyTo(parameters);
        values.Slice(parameters.Length, model.Buffers.Length).CopyTo(model.Buffers);
    }

    /// <summary>
    /// Writes every parameter and buffer tensor of <paramref name="model"/> to <paramref name="path"/> (atomically; see
    /// <see cref="SafeTensors.Save(string, IReadOnlyList{ParameterInfo}, ReadOnlySpan{float}, IReadOnlyDictionary{string, string}?)"/>: through a symbolic link the file it points to is replaced, and an existing file
    /// keeps its permissions). Adds <c>"format": "pt"</c> to the metadata unless given, as PyTorch tools expect.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The process may not create a file in the destination's directory or replace the file there.</exception>
    /// <exception cref="DirectoryNotFoundException">The destination's directory does not exist.</exception>
    /// <exception cref="IOException">The file could not be written (the message names <paramref name="path"/>).</exception>
    public static void Save(this IModel model, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (metadata is not null)
            foreach (var (key, value) in metadata) meta[key] = value;
        var (tensors, values, counts) = StateDict(model);
        SafeTensors.Save(path, tensors, values, meta, counts);
    }

    /// <summary>
    /// Loads every parameter and buffer tensor of <paramref name="model"/> from <paramref name="path"/>, by name (a file
    /// PyTorch's <c>save_file(model.state_dict())</c> wrote loads). The file is read into a temporary buffer and copied
    /// into the model only after it is fully validated, so on any error the model is unchanged. A counter buffer
    /// (<c>num_batches_tracked</c>) missing from the file keeps its current value, as PyTorch does for old checkpoints.
    /// </summary>
    /// <exception cref="InvalidDataException">The file does not hold exactly the model's tensors (F32, counters I64) with the model's shapes.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not read the file, or <paramref name="path"/> is a directory.</exception>
    public static void Load(this IModel model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (tensors, staging, counts) = StateDict(model);   // staging starts as the current values: absent counters keep theirs
        SafeTensors.Load(path, tensors, staging, counts);
        CopyInto(model, staging);
    }

    /// <summary>
    /// Like <see cref="Load(IModel, string)"/>, from a seekable stream holding a whole safetensors file (for example
    /// weights embedded in an executable as a manifest resource). The stream is not disposed.
    /// </summary>
    /// <param name="model">The model whose parameters are replaced.</param>
    /// <param name="stream">A readable, seekable stream; the file starts at position 0.</param>
    /// <param name="sourceName">Names the source in error messages (a path or a resource name).</param>
    /// <exception cref="InvalidDataException">The data does not hold exactly the model's tensors (F32, counters I64) with the model's shapes.</exception>
    /// <exception cref="ArgumentException"><paramref name="stream"/> cannot read or seek.</exception>
    public static void Load(this IModel model, Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (tensors, staging, counts) = StateDict(model);
        SafeTensors.Load(stream, sourceName, tensors, staging, counts);
        CopyInto(model, staging);
    }

    /// <summary>
    /// Writes a training checkpoint: every parameter and buffer tensor of <paramref name="model"/> (as <see cref="Save(IModel, string, IReadOnlyDictionary{string, string}?)"/>)
    /// and the state of <paramref name="optimizer"/>. For each parameter tensor that has been updated the file holds
    /// <c>optimizer.state.&lt;param&gt;.step</c> (F32 scalar) and one tensor per state buffer, named as <c>torch.optim</c> names
    /// them (<c>optimizer.state.fc1.weight.exp_avg</c>, <c>.exp_avg_sq</c>, <c>.max_exp_avg_sq</c>, <c>.square_avg</c>,
    /// <c>.grad_avg</c>, <c>.momentum_buffer</c>, <c>.sum</c>); the metadata holds <c>optimizer</c> (the class name) and
    /// <c>optimizer.step_count</c>. Hyper-parameters and the learning rate are not saved: construct the optimizer as before.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="optimizer"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The optimizer has stepped a parameter buffer of another length.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not create a file in the destination's directory or replace the file there.</exception>
    /// <exception cref="DirectoryNotFoundException">The destination's directory does not exist.</exception>
    /// <exception cref="IOException">The file could not be written (the message names <paramref name="path"/>).</exception>
    public static void Save(this IModel model, string path, Optimizer optimizer, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (metadata is not null)
            foreach (var (key, value) in metadata) meta[key] = value;
        var (tensors, buffer, counts) = optimizer.ExportCheckpoint(model, meta);
        SafeTensors.Save(path, tensors, buffer, meta, counts);
    }

    /// <summary>
    /// Loads a checkpoint written by <see cref="Save(IModel, string, Optimizer, IReadOnlyDictionary{string, string}?)"/>: the
    /// model's parameters and <paramref name="optimizer"/>'s state, so that the next step equals the one the saving run would
    /// have taken. The whole file is validated first; on any error neither the model nor the optimizer changes. Parameter
    /// tensors without state in the file start from the optimizer's initial state.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="optimizer"/> is null.</exception>
    /// <exception cref="InvalidDataException">
    /// The file holds no optimizer state, or another optimizer's, or tensors other than the model's and this optimizer's
    /// state with the model's shapes, or a step that is not a positive whole number (the message names the file and tensor).
    /// </exception>
    /// <exception cref="InvalidOperationException">The optimizer has stepped a parameter buffer of another length.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not read the file, or <paramref name="path"/> is a directory.</exception>
    public static void Load(this IModel model, string path, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var entries = SafeTensors.ReadHeader(path, out var metadata);
        optimizer.ImportCheckpoint(model, path, entries.Select(e => e.Name), metadata,
            (tensors, staging, counts) => SafeTensors.Load(path, tensors, staging, counts));
    }
}
