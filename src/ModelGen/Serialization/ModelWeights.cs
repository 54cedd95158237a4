// Save/load of a whole model's parameters as safetensors, with PyTorch-style names from IModel.ParameterInfos.
// Generated classes call these (ModelWeights.Save(this, path)); users may call them as extension methods.
namespace ModelGen.Serialization;

/// <summary>Saves and loads a model's parameters in the safetensors format.</summary>
public static partial class ModelWeights
{
    /// <summary>
    /// Writes every parameter tensor of <paramref name="model"/> to <paramref name="path"/> (atomically; see
    /// <see cref="SafeTensors.Save"/>: through a symbolic link the file it points to is replaced, and an existing file
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
        SafeTensors.Save(path, model.ParameterInfos, model.Parameters, meta);
    }

    /// <summary>
    /// Loads every parameter tensor of <paramref name="model"/> from <paramref name="path"/>. The file is read into a
    /// temporary buffer and copied into the model only after it is fully validated, so on any error the model is unchanged.
    /// </summary>
    /// <exception cref="InvalidDataException">The file does not hold exactly the model's tensors as F32 with the model's shapes.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not read the file, or <paramref name="path"/> is a directory.</exception>
    public static void Load(this IModel model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        var infos = model.ParameterInfos;
        var staging = new float[model.Parameters.Length];   // [parameter count], same layout as the model's buffer
        SafeTensors.Load(path, infos, staging);
        Span<float> parameters = model.Parameters;
        foreach (var p in infos) staging.AsSpan(p.Offset, p.Length).CopyTo(parameters.Slice(p.Offset, p.Length));
    }

    /// <summary>
    /// Like <see cref="Load(IModel, string)"/>, from a seekable stream holding a whole safetensors file (for example
    /// weights embedded in an executable as a manifest resource). The stream is not disposed.
    /// </summary>
    /// <param name="model">The model whose parameters are replaced.</param>
    /// <param name="stream">A readable, seekable stream; the file starts at position 0.</param>
    /// <param name="sourceName">Names the source in error messages (a path or a resource name).</param>
    /// <exception cref="InvalidDataException">The data does not hold exactly the model's tensors as F32 with the model's shapes.</exception>
    /// <exception cref="ArgumentException"><paramref name="stream"/> cannot read or seek.</exception>
    public static void Load(this IModel model, Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(model);
        var infos = model.ParameterInfos;
        var staging = new float[model.Parameters.Length];
        SafeTensors.Load(stream, sourceName, infos, staging);
        Span<float> parameters = model.Parameters;
        foreach (var p in infos) staging.AsSpan(p.Offset, p.Length).CopyTo(parameters.Slice(p.Offset, p.Length));
    }

    /// <summary>
    /// Writes a training checkpoint: every parameter tensor of <paramref name="model"/> (as <see cref="Save(IModel, string, IReadOnlyDictionary{string, string}?)"/>)
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
        var (tensors, buffer) = optimizer.ExportCheckpoint(model, meta);
        SafeTensors.Save(path, tensors, buffer, meta);
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
            (tensors, staging) => SafeTensors.Load(path, tensors, staging));
    }
}
