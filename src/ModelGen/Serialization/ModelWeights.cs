// Save/load of a whole model's parameters as safetensors, with PyTorch-style names from IModel.ParameterInfos.
// Generated classes call these (ModelWeights.Save(this, path)); users may call them as extension methods.
namespace ModelGen.Serialization;

/// <summary>Saves and loads a model's parameters in the safetensors format.</summary>
public static class ModelWeights
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
}
