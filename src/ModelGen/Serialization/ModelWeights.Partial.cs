// Partial loading for transfer learning: PyTorch's load_state_dict(strict=False) with renamed prefixes. The file's tensors
// are matched to the model's by name (after the prefix map), every match is checked (dtype F32, same shape: a mismatch is
// an error even when not strict, as in PyTorch), and the data is staged: the model changes only after the whole load has
// validated and every matched tensor has been read.
namespace ModelGen.Serialization;

/// <summary>How <see cref="ModelWeights.LoadWeights(IModel, string, LoadOptions?)"/> matches a file's tensors to a model's.</summary>
public sealed class LoadOptions
{
    /// <summary>
    /// When true (the default, as PyTorch's <c>strict=True</c>), a model tensor the file does not provide or a file tensor the
    /// model does not have is an error. When false, both are reported in <see cref="LoadReport"/> and the rest is loaded.
    /// </summary>
    public bool Strict { get; init; } = true;

    /// <summary>
    /// Renames the file's tensors before matching: a file tensor whose name starts with a key is matched to the model tensor
    /// named value + the rest of its name (<c>["backbone."] = "features."</c> loads <c>backbone.c1.weight</c> into
    /// <c>features.c1.weight</c>). The longest matching key wins; names no key matches are used as they are. A key that
    /// matches no tensor of the file is an error (it is almost always a typo).
    /// </summary>
    public IDictionary<string, string> PrefixMap { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// When not empty, only the file's tensors whose names (as in the file, before <see cref="PrefixMap"/>) start with one of
    /// these prefixes are considered; the others are reported as <see cref="LoadReport.Skipped"/>, never as unexpected. A
    /// prefix that matches no tensor of the file is an error.
    /// </summary>
    public IList<string> Include { get; } = new List<string>();
}

/// <summary>What a <see cref="ModelWeights.LoadWeights(IModel, string, LoadOptions?)"/> call loaded and what it left out.</summary>
/// <param name="Loaded">The model's tensors that were loaded, by model name, in the model's order.</param>
/// <param name="Missing">The model's tensors the file did not provide (they keep their values), in the model's order: PyTorch's <c>missing_keys</c>.</param>
/// <param name="Unexpected">The file's tensors (names as in the file) that match no model tensor: PyTorch's <c>unexpected_keys</c>.</param>
/// <param name="Skipped">The file's tensors left out by <see cref="LoadOptions.Include"/> (names as in the file).</param>
public sealed record LoadReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> Skipped)
{
    /// <summary>One line: how many tensors were loaded, and the names of the missing, unexpected and skipped ones.</summary>
    public override string ToString()
    {
        var text = new System.Text.StringBuilder($"loaded {Loaded.Count} tensor{(Loaded.Count == 1 ? "" : "s")}");
        Append(text, "missing", Missing);
        Append(text, "unexpected", Unexpected);
        Append(text, "skipped", Skipped);
        return text.ToString();

        static void Append(System.Text.StringBuilder text, string what, IReadOnlyList<string> names)
        {
            if (names.Count > 0) text.Append($"; {names.Count} {what}: {string.Join(", ", names)}");
        }
    }
}

public static partial class ModelWeights
{
    /// <summary>
    /// Loads the tensors of a safetensors file that match <paramref name="model"/>'s by name, after renaming the file's
    /// names by <see cref="LoadOptions.PrefixMap"/>: PyTorch's <c>model.load_state_dict(sd, strict)</c>. Tensors the file
    /// does not provide keep their values (a missing counter is never reported missing, as in Load). Nothing is written unless the whole load validates and every matched tensor has
    /// been read, so a failing load leaves the model unchanged.
    /// </summary>
    /// <param name="model">The model whose parameters (and buffers such as BatchNorm running statistics) are loaded.</param>
    /// <param name="path">The safetensors file (written by <c>Save</c> or by PyTorch's <c>safetensors.torch.save_file</c>).</param>
    /// <param name="options">Matching rules; null means strict loading of every tensor, as <see cref="Load(IModel, string)"/>.</param>
    /// <returns>Which tensors were loaded, missing, unexpected or skipped.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty, or a <see cref="LoadOptions.PrefixMap"/> key or <see cref="LoadOptions.Include"/> prefix is empty.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is malformed; or a matched tensor has another shape or is not F32 (a counter such as num_batches_tracked: not
    /// I64) (even when not strict); or two file tensors
    /// map to one model tensor; or a prefix-map key or include prefix matches no tensor of the file; or, when strict, a model
    /// tensor is missing or a file tensor is unexpected. The message names the file and lists every problem.
    /// </exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not read the file, or <paramref name="path"/> is a directory.</exception>
    public static LoadReport LoadWeights(this IModel model, string path, LoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return model.LoadWeights(file, path, options);
    }

    /// <summary>
    /// Like <see cref="LoadWeights(IModel, string, LoadOptions?)"/>, from a seekable stream holding a whole safetensors file
    /// from its position 0. The stream is not disposed.
    /// </summary>
    /// <param name="model">The model whose parameters and buffers are loaded.</param>
    /// <param name="stream">A readable, seekable stream.</param>
    /// <param name="sourceName">Names the source in error messages (a path or a resource name).</param>
    /// <param name="options">Matching rules; null means strict loading of every tensor.</param>
    /// <exception cref="ArgumentException"><paramref name="stream"/> cannot read or seek, <paramref name="sourceName"/> is empty, or an option holds an empty prefix.</exception>
    /// <inheritdoc cref="LoadWeights(IModel, string, LoadOptions?)" path="/exception"/>
    public static LoadReport LoadWeights(this IModel model, Stream stream, string sourceName, LoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrEmpty(sourceName);
        if (!stream.CanRead || !stream.CanSeek)
            throw new ArgumentException($"The stream for '{sourceName}' must be readable and seekable (CanRead={stream.CanRead}, CanSeek={stream.CanSeek}).", nameof(stream));
        options ??= new LoadOptions();
        foreach (var (key, value) in options.PrefixMap)
        {
            if (string.IsNullOrEmpty(key)) throw new ArgumentException("LoadOptions.PrefixMap has an empty key.", nameof(options));
            if (value is null) throw new ArgumentException($"LoadOptions.PrefixMap['{key}'] is null.", nameof(options));
        }
        foreach (string prefix in options.Include)
            if (string.IsNullOrEmpty(prefix)) throw new ArgumentException("LoadOptions.Include has an empty prefix.", nameof(options));

        var entries = SafeTensors.ReadEntries(stream, sourceName, out long dataStart);
        entries.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));   // reports in name order, not data order
        // The model's tensors: parameters, then buffers (running statistics and counters), as PyTorch's state dict holds both.
        var infos = new List<Target>(model.ParameterInfos.Count + model.BufferInfos.Count);
        foreach (var p in model.ParameterInfos) infos.Add(new Target(p.Name, p.Shape, p.ShapeText, p.Offset, p.Length, IsBuffer: false, IsCount: false));
        foreach (var b in model.BufferInfos) infos.Add(new Target(b.Name, b.Shape, b.ShapeText, b.Offset, b.Length, IsBuffer: true, b.IsCount));
        var byName = new Dictionary<string, Target>(infos.Count, StringComparer.Ordinal);
        foreach (var p in infos) byName[p.Name] = p;

        var problems = new List<string>();
        var usedKeys = new HashSet<string>(StringComparer.Ordinal);
        var usedIncludes = new HashSet<string>(StringComparer.Ordinal);
        var matched = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);   // model name -> file tensor
        var unexpected = new List<string>();
        var skipped = new List<string>();
        foreach (var e in entries)
        {
            if (options.Include.Count > 0 && !IsIncluded(e.Name, options.Include, usedIncludes))
            {
                skipped.Add(e.Name);
                continue;
            }
            string name = Rename(e.Name, options.PrefixMap, usedKeys);
            string shown = name == e.Name ? $"'{e.Name}'" : $"'{e.Name}' (as '{name}')";
            if (!byName.TryGetValue(name, out var target))
                unexpected.Add(e.Name);
            else if (matched.TryGetValue(name, out var other))
                problems.Add($"tensors '{other.Name}' and '{e.Name}' both map to '{name}'");
            else if (e.DType != (target.IsCount ? "I64" : "F32"))
                problems.Add($"tensor {shown} has dtype {e.DType}, expected {(target.IsCount ? "I64" : "F32")}");
            else if (!e.Shape.AsSpan().SequenceEqual(target.Shape))
                problems.Add($"size mismatch for {shown}: the file has shape {e.ShapeText}, the model {target.ShapeText}");
            else
                matched.Add(name, e);
        }
        foreach (string key in options.PrefixMap.Keys)
            if (!usedKeys.Contains(key)) problems.Add($"prefix-map key '{key}' matches no tensor in the file");
        foreach (string prefix in options.Include)
            if (!usedIncludes.Contains(prefix)) problems.Add($"include prefix '{prefix}' matches no tensor in the file");

        var loaded = new List<string>();
        var missing = new List<string>();
        foreach (var p in infos)
        {
            if (matched.ContainsKey(p.Name)) loaded.Add(p.Name);
            else if (!p.IsCount) missing.Add(p.Name);   // a counter is optional, as in Load (PyTorch fills num_batches_tracked in too)
        }
        if (options.Strict)
        {
            if (missing.Count > 0) problems.Add($"missing from the file (strict): {string.Join(", ", missing.Select(n => $"'{n}'"))}");
            if (unexpected.Count > 0) problems.Add($"unexpected in the file (strict): {string.Join(", ", unexpected.Select(n => $"'{n}'"))}");
        }
        if (problems.Count > 0)
            throw new InvalidDataException(
                $"{sourceName}: {(problems.Count == 1 ? problems[0] : $"{problems.Count} problems: {string.Join("; ", problems)}")}");

        // Stage every matched tensor first: a read that fails half-way (truncated stream, I/O error) leaves the model as it was.
        var staging = new float[model.Parameters.Length];   // [parameter count], the model's layout
        var bufferStaging = new float[model.Buffers.Length];   // [buffer count], the model's buffer layout
        foreach (string name in loaded)
        {
            var p = byName[name];
            var into = (p.IsBuffer ? bufferStaging : staging).AsSpan(p.Offset, p.Length);
            if (p.IsCount) SafeTensors.ReadI64(stream, dataStart, matched[name], into);
            else SafeTensors.ReadF32(stream, dataStart, matched[name], into);
        }
        Span<float> parameters = model.Parameters, buffers = model.Buffers;
        foreach (string name in loaded)
        {
            var p = byName[name];
            (p.IsBuffer ? bufferStaging : staging).AsSpan(p.Offset, p.Length).CopyTo((p.IsBuffer ? buffers : parameters).Slice(p.Offset, p.Length));
        }
        return new LoadReport(loaded, missing, unexpected, skipped);
    }

    /// <summary>A model tensor a file tensor may load into: a parameter, or a buffer (a counter is I64 in files).</summary>
    private readonly record struct Target(string Name, int[] Shape, string ShapeText, int Offset, int Length, bool IsBuffer, bool IsCount);

    private static bool IsIncluded(string name, IList<string> include, HashSet<string> used)
    {
        bool any = false;
        foreach (string prefix in include)
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                used.Add(prefix);
                any = true;
            }
        return any;
    }

    /// <summary>The model name for a file tensor: the longest matching prefix-map key replaced by its value.</summary>
    private static string Rename(string name, IDictionary<string, string> map, HashSet<string> used)
    {
        string? best = null;
        foreach (string key in map.Keys)
            if (name.StartsWith(key, StringComparison.Ordinal) && (best is null || key.Length > best.Length))
                best = key;
        if (best is null) return name;
        used.Add(best);
        return map[best] + name[best.Length..];
    }
}
