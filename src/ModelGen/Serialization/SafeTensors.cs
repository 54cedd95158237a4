// Reader and writer for the safetensors format (https://github.com/huggingface/safetensors), byte-compatible with
// what Python's safetensors.torch.save_file writes:
//   [u64 LE header length N][N bytes of UTF-8 JSON, space-padded to a multiple of 8][raw little-endian data]
// JSON: {"__metadata__":{str:str}, "name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]}, ...}, tensors in
// name order, data laid out in the same order, offsets relative to the first data byte.
// Rules: Save is atomic (temp file beside the link's final target, flush to disk, rename; leftovers of killed saves are
// removed by the next save of the same file); Load validates the whole header against the expected
// tensors before writing a single float; JSON goes through Utf8JsonReader/Utf8JsonWriter only (NativeAOT-safe).
using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ModelGen.Serialization;

/// <summary>One tensor as described by a safetensors header.</summary>
/// <param name="Name">Tensor name, e.g. <c>fc1.weight</c>.</param>
/// <param name="DType">Element type as spelled in the file, e.g. <c>F32</c>, <c>F16</c>, <c>BF16</c>.</param>
/// <param name="Shape">Tensor shape.</param>
/// <param name="Begin">Offset of the first data byte, relative to the end of the header.</param>
/// <param name="End">Offset one past the last data byte, relative to the end of the header.</param>
public sealed record SafeTensorEntry(string Name, string DType, int[] Shape, long Begin, long End)
{
    /// <summary>Shape rendered as <c>[a, b]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>Saves and loads named float32 tensors in the safetensors format, compatible with PyTorch's safetensors.</summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted, as in the reference implementation (guards against absurd allocations).</summary>
    public const long MaxHeaderLength = 100_000_000;

    private const string MetadataKey = "__metadata__";

    // Element sizes in bits for every dtype the reference implementation knows (sub-byte floats included).
    private static readonly Dictionary<string, int> DTypeBits = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 8, ["U8"] = 8, ["I8"] = 8, ["F8_E5M2"] = 8, ["F8_E4M3"] = 8, ["F8_E8M0"] = 8,
        ["F4"] = 4, ["F6_E2M3"] = 6, ["F6_E3M2"] = 6,
        ["I16"] = 16, ["U16"] = 16, ["F16"] = 16, ["BF16"] = 16,
        ["I32"] = 32, ["U32"] = 32, ["F32"] = 32,
        ["I64"] = 64, ["U64"] = 64, ["F64"] = 64, ["C64"] = 64,
    };

    /// <summary>
    /// Writes the tensors (views into <paramref name="buffer"/>) to <paramref name="path"/> as F32, sorted by name as
    /// PyTorch's safetensors does. Atomic: the data goes to <c>&lt;file&gt;.tmp-&lt;random&gt;</c> beside the file, is
    /// flushed to disk and then renamed over it; on any failure the temporary file is deleted and an existing file is
    /// left untouched.
    /// </summary>
    /// <remarks>
    /// When <paramref name="path"/> is a symbolic link, the file it finally points to is replaced and the link is kept.
    /// An existing file keeps its Unix permissions. Temporary files that earlier saves of the same file left behind
    /// (a killed process) are deleted first, unless another save still has them open.
    /// </remarks>
    /// <param name="path">Destination file.</param>
    /// <param name="tensors">Names, shapes and positions in <paramref name="buffer"/>.</param>
    /// <param name="buffer">The floats the tensors index into.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> string map.</param>
    /// <exception cref="ArgumentException">A tensor's name is empty, duplicated or reserved, its length disagrees with its shape, or it runs past <paramref name="buffer"/>.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not create a file in the destination's directory or replace the file there (the message names <paramref name="path"/>).</exception>
    /// <exception cref="DirectoryNotFoundException">The destination's directory does not exist.</exception>
    /// <exception cref="IOException">The file could not be written, e.g. the disk is full or <paramref name="path"/> is a directory (the message names <paramref name="path"/>).</exception>
    public static void Save(string path, IReadOnlyList<ParameterInfo> tensors, ReadOnlySpan<float> buffer,
                            IReadOnlyDictionary<string, string>? metadata = null)
        => Save(path, tensors, buffer, metadata, counts: null);

    /// <summary>
    /// <see cref="Save(string, IReadOnlyList{ParameterInfo}, ReadOnlySpan{float}, IReadOnlyDictionary{string, string}?)"/>, with
    /// the tensors named in <paramref name="counts"/> written as I64 (whole-number floats converted, as PyTorch's
    /// <c>num_batches_tracked</c>).
    /// </summary>
    internal static void Save(string path, IReadOnlyList<ParameterInfo> tensors, ReadOnlySpan<float> buffer,
                              IReadOnlyDictionary<string, string>? metadata, IReadOnlySet<string>? counts)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ParameterInfo[] ordered = ValidateTensors(tensors, buffer.Length);
        Array.Sort(ordered, static (a, b) => CompareUtf8(a.Name, b.Name));   // Rust String order = UTF-8 byte order
        byte[] header = BuildHeader(ordered, metadata, counts);

        string target = path;
        string? temp = null;
        FileStream? file = null;
        try
        {
            target = FinalTarget(path);
            RemoveLeftovers(target);
            UnixFileMode? mode = OperatingSystem.IsWindows() || !System.IO.File.Exists(target) ? null : System.IO.File.GetUnixFileMode(target);
            temp = $"{target}{TempMarker}{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(TempRandomBytes))}";
            // FileShare.Delete lets Windows rename the file while it is open; on Unix it makes the lock .NET takes a
            // shared one, which keeps a concurrent save's RemoveLeftovers (it needs the exclusive lock) off this file.
            file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.Delete, 1 << 16);
            if (mode is { } m && !OperatingSystem.IsWindows()) System.IO.File.SetUnixFileMode(file.SafeFileHandle, m);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            file.Write(length);
            file.Write(header);
            foreach (var t in ordered)
            {
                if (IsCount(counts, t.Name)) WriteCounts(file, buffer.Slice(t.Offset, t.Length));
                else WriteFloats(file, buffer.Slice(t.Offset, t.Length));
            }
            file.Flush(flushToDisk: true);   // the rename must never expose a file whose data is not yet durable
            System.IO.File.Move(temp, target, overwrite: true);   // still open: the lock covers the temporary's whole life
            file.Dispose();
        }
        catch (Exception e)
        {
            file?.Dispose();
            if (temp is not null) TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException) throw SaveFailed(e, path, target, temp);
            throw;
        }
    }

    /// <summary>A file with at most this many tensors has them all listed when an expected one is missing.</summary>
    private const int MaxListedTensors = 12;

    private const string TempMarker = ".tmp-";
    private const int TempRandomBytes = 6;   // 12 lowercase hex digits
    private static readonly SearchValues<char> HexLower = SearchValues.Create("0123456789abcdef");

    /// <summary>The file a save of <paramref name="path"/> replaces: the final target when it is a symbolic link (even a dangling one).</summary>
    private static string FinalTarget(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? path : info.ResolveLinkTarget(returnFinalTarget: true)!.FullName;
    }

    /// <summary>
    /// Deletes <c>&lt;target&gt;.tmp-&lt;12 hex digits&gt;</c> files that earlier saves left (killed before their cleanup
    /// ran). A save in progress holds its temporary open with a shared lock, so the exclusive open fails and it is kept.
    /// </summary>
    private static void RemoveLeftovers(string target)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(target))!;
        string prefix = Path.GetFileName(target) + TempMarker;
        if (!Directory.Exists(directory)) return;
        foreach (string candidate in Directory.EnumerateFiles(directory, prefix + "*"))
        {
            // EnumerateFiles' pattern is loose (case-insensitive on some systems, '*' or '?' inside the name): check the exact form.
            string name = Path.GetFileName(candidate);
            if (name.Length != prefix.Length + 2 * TempRandomBytes || !name.StartsWith(prefix, StringComparison.Ordinal)
                || name.AsSpan(prefix.Length).ContainsAnyExcept(HexLower))
                continue;
            try
            {
                using var _ = new FileStream(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException) { }                    // in use by another save, or already gone
            catch (UnauthorizedAccessException) { }    // not ours to delete; the save itself may still succeed
        }
    }

    /// <summary>The same kind of exception as <paramref name="e"/>, naming the caller's <paramref name="path"/> instead of the temporary file.</summary>
    private static Exception SaveFailed(Exception e, string path, string target, string? temp)
    {
        string reason = temp is null ? e.Message : e.Message.Replace(temp, target, StringComparison.Ordinal);
        string message = target == path ? $"Could not save '{path}': {reason}" : $"Could not save '{path}' (a link to '{target}'): {reason}";
        return e switch
        {
            UnauthorizedAccessException => new UnauthorizedAccessException(message, e),
            DirectoryNotFoundException => new DirectoryNotFoundException(message, e),
            FileNotFoundException => new FileNotFoundException(message, e),
            _ => new IOException(message, e),
        };
    }

    /// <summary>
    /// Reads exactly the tensors in <paramref name="tensors"/> from <paramref name="path"/> into their places in
    /// <paramref name="buffer"/>. The header is validated completely first (sizes, JSON, dtypes, offsets, names and
    /// shapes against <paramref name="tensors"/>); if anything is wrong nothing is written to <paramref name="buffer"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">
    /// The file is malformed, or does not hold exactly the expected F32 tensors with the expected shapes. The message
    /// names the file, the tensor, and expected versus actual values.
    /// </exception>
    /// <exception cref="ArgumentException"><paramref name="tensors"/> is inconsistent with itself or <paramref name="buffer"/>.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">The file's directory does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not read the file, or <paramref name="path"/> is a directory.</exception>
    public static void Load(string path, IReadOnlyList<ParameterInfo> tensors, Span<float> buffer)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Load(file, path, tensors, buffer);
    }

    /// <summary>
    /// Like <see cref="Load(string, IReadOnlyList{ParameterInfo}, Span{float})"/>, from a seekable stream holding a
    /// whole safetensors file from its position 0 (e.g. weights embedded as a manifest resource). The stream is not disposed.
    /// </summary>
    /// <param name="stream">A readable, seekable stream; the file must start at position 0.</param>
    /// <param name="sourceName">Names the source in error messages (a path or a resource name).</param>
    /// <param name="tensors">Names, shapes and positions in <paramref name="buffer"/>.</param>
    /// <param name="buffer">Receives the floats.</param>
    /// <exception cref="ArgumentException"><paramref name="stream"/> cannot read or seek, or <paramref name="tensors"/> is inconsistent.</exception>
    /// <inheritdoc cref="Load(string, IReadOnlyList{ParameterInfo}, Span{float})" path="/exception"/>
    public static void Load(Stream stream, string sourceName, IReadOnlyList<ParameterInfo> tensors, Span<float> buffer)
        => Load(stream, sourceName, tensors, buffer, counts: null);

    /// <summary>
    /// <see cref="Load(Stream, string, IReadOnlyList{ParameterInfo}, Span{float})"/>, where the tensors named in
    /// <paramref name="counts"/> are I64 in the file (converted to float) and may be absent (their places in
    /// <paramref name="buffer"/> are then left as they are: files written before ModelGen saved <c>num_batches_tracked</c>).
    /// </summary>
    internal static void Load(string path, IReadOnlyList<ParameterInfo> tensors, Span<float> buffer, IReadOnlySet<string>? counts)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Load(file, path, tensors, buffer, counts);
    }

    /// <inheritdoc cref="Load(string, IReadOnlyList{ParameterInfo}, Span{float}, IReadOnlySet{string}?)"/>
    internal static void Load(Stream stream, string sourceName, IReadOnlyList<ParameterInfo> tensors, Span<float> buffer, IReadOnlySet<string>? counts)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrEmpty(sourceName);
        if (!stream.CanRead || !stream.CanSeek)
            throw new ArgumentException($"The stream for '{sourceName}' must be readable and seekable (CanRead={stream.CanRead}, CanSeek={stream.CanSeek}).", nameof(stream));
        ParameterInfo[] expected = ValidateTensors(tensors, buffer.Length);
        stream.Position = 0;
        var entries = ReadHeaderCore(stream, sourceName, out _, out long dataStart, out string? layoutProblem);

        var byName = new Dictionary<string, SafeTensorEntry>(entries.Count, StringComparer.Ordinal);
        foreach (var e in entries) byName.Add(e.Name, e);
        var problems = new List<string>();
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        bool missing = false;
        foreach (var t in expected)
        {
            wanted.Add(t.Name);
            string dtype = IsCount(counts, t.Name) ? "I64" : "F32";
            if (!byName.TryGetValue(t.Name, out var e))
            {
                if (dtype == "I64") continue;   // optional: older files have no counters
                problems.Add($"tensor '{t.Name}' is missing (expected F32 {t.ShapeText})");
                missing = true;
            }
            else if (e.DType != dtype)
                problems.Add($"tensor '{t.Name}' has dtype {e.DType}, expected {dtype}");
            else if (!e.Shape.AsSpan().SequenceEqual(t.Shape))
                problems.Add($"tensor '{t.Name}' has shape {e.ShapeText}, expected {t.ShapeText}");
        }
        foreach (var e in entries)
            if (!wanted.Contains(e.Name))
                problems.Add($"unexpected tensor '{e.Name}' ({e.DType} {e.ShapeText}) is not among the {expected.Length} expected tensors");
        // After the names: a tensor left out of the header also leaves its bytes unaccounted for, and "8 bytes after
        // the last tensor's data" alone would hide which tensor it was.
        if (layoutProblem is not null) problems.Add(layoutProblem);
        if (problems.Count > 0)
        {
            string message = problems.Count == 1 ? problems[0] : $"{problems.Count} problems: {string.Join("; ", problems)}";
            if (missing && entries.Count <= MaxListedTensors)
                message += entries.Count == 0 ? ". The file holds no tensors"
                    : $". The file holds {entries.Count} tensor{(entries.Count == 1 ? "" : "s")}: {string.Join(", ", entries.OrderBy(e => e.Name, StringComparer.Ordinal).Select(e => $"'{e.Name}' {e.DType} {e.ShapeText}"))}";
            throw Invalid(sourceName, message);
        }

        // Everything checked: only now touch the caller's buffer.
        foreach (var t in expected)
        {
            if (!byName.TryGetValue(t.Name, out var e)) continue;   // an absent optional counter
            Span<float> target = buffer.Slice(t.Offset, t.Length);
            if (e.DType == "I64") ReadI64(stream, dataStart, e, target);
            else ReadF32(stream, dataStart, e, target);
        }
    }

    /// <summary>Reads one I64 tensor's data (a counter, already validated by the caller) into <paramref name="target"/> as floats.</summary>
    internal static void ReadI64(Stream stream, long dataStart, SafeTensorEntry entry, Span<float> target)
    {
        Span<byte> bytes = stackalloc byte[8];
        stream.Position = dataStart + entry.Begin;
        for (int i = 0; i < target.Length; i++)
        {
            stream.ReadExactly(bytes);
            target[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        }
    }

    /// <summary>
    /// Reads and validates the header of the whole safetensors file in <paramref name="stream"/> (from position 0), for
    /// loaders that choose their own subset of tensors; a malformed header or data layout throws.
    /// </summary>
    /// <param name="stream">A readable, seekable stream holding the file.</param>
    /// <param name="sourceName">Names the source in error messages.</param>
    /// <param name="dataStart">Position of the first data byte (what <see cref="SafeTensorEntry.Begin"/> is relative to).</param>
    internal static List<SafeTensorEntry> ReadEntries(Stream stream, string sourceName, out long dataStart)
    {
        stream.Position = 0;
        return ReadHeaderCore(stream, sourceName, out _, out dataStart);
    }

    /// <summary>Reads one F32 tensor's data (already validated by the caller) into <paramref name="target"/> [product(shape)].</summary>
    internal static void ReadF32(Stream stream, long dataStart, SafeTensorEntry entry, Span<float> target)
    {
        stream.Position = dataStart + entry.Begin;
        stream.ReadExactly(MemoryMarshal.AsBytes(target));
        if (!BitConverter.IsLittleEndian)
            BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<float, int>(target), MemoryMarshal.Cast<float, int>(target));
    }

    /// <summary>Reads and validates the header of <paramref name="path"/>: every tensor's name, dtype, shape and offsets, in data order.</summary>
    /// <exception cref="InvalidDataException">The header is malformed (the message names the file and the tensor).</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not read the file, or <paramref name="path"/> is a directory.</exception>
    public static IReadOnlyList<SafeTensorEntry> ReadHeader(string path) => ReadHeader(path, out _);

    /// <summary>Reads and validates the header of <paramref name="path"/>, also returning its <c>__metadata__</c> map (empty if absent).</summary>
    /// <inheritdoc cref="ReadHeader(string)"/>
    public static IReadOnlyList<SafeTensorEntry> ReadHeader(string path, out IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        var entries = ReadHeaderCore(file, path, out var map, out _);
        metadata = map;
        return entries;
    }

    // ---------------------------------------------------------------- writing

    private static bool IsCount(IReadOnlySet<string>? counts, string name) => counts is not null && counts.Contains(name);

    private static byte[] BuildHeader(ParameterInfo[] ordered, IReadOnlyDictionary<string, string>? metadata, IReadOnlySet<string>? counts)
    {
        var output = new ArrayBufferWriter<byte>(256 + 96 * ordered.Length);
        // serde_json escapes only quotes, backslashes and control characters; the relaxed encoder is the closest
        // match, so names like "a+b" or "é" come out as the same bytes Python writes.
        using (var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(MetadataKey);
                foreach (var key in metadata.Keys.OrderBy(k => k, Comparer<string>.Create(CompareUtf8)))
                    json.WriteString(key, metadata[key] ?? throw new ArgumentException($"metadata['{key}'] is null.", nameof(metadata)));
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in ordered)
            {
                json.WriteStartObject(t.Name);
                bool count = IsCount(counts, t.Name);
                json.WriteString("dtype", count ? "I64" : "F32");
                json.WriteStartArray("shape");
                foreach (int d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += (count ? 8L : 4L) * t.Length;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padded = (output.WrittenCount + 7) & ~7;
        var header = new byte[padded];
        output.WrittenSpan.CopyTo(header);
        header.AsSpan(output.WrittenCount).Fill((byte)' ');
        return header;
    }

    /// <summary>Writes whole-number floats as little-endian int64 (PyTorch's dtype for counters).</summary>
    private static void WriteCounts(Stream stream, ReadOnlySpan<float> values)
    {
        Span<byte> bytes = stackalloc byte[8];
        foreach (float v in values)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes, (long)v);
            stream.Write(bytes);
        }
    }

    private static void WriteFloats(Stream stream, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values));
            return;
        }
        Span<int> chunk = stackalloc int[1024];
        for (int i = 0; i < values.Length; i += chunk.Length)
        {
            var part = MemoryMarshal.Cast<float, int>(values.Slice(i, Math.Min(chunk.Length, values.Length - i)));
            BinaryPrimitives.ReverseEndianness(part, chunk[..part.Length]);
            stream.Write(MemoryMarshal.AsBytes(chunk[..part.Length]));
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }                  // best effort: the original exception is the one worth reporting
        catch (UnauthorizedAccessException) { }
    }

    // ---------------------------------------------------------------- validation of the caller's tensor list

    private static ParameterInfo[] ValidateTensors(IReadOnlyList<ParameterInfo> tensors, int bufferLength)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var result = new ParameterInfo[tensors.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < result.Length; i++)
        {
            var t = tensors[i] ?? throw new ArgumentException($"tensors[{i}] is null.", nameof(tensors));
            string where = $"tensors[{i}] '{t.Name}'";
            if (string.IsNullOrEmpty(t.Name)) throw new ArgumentException($"tensors[{i}] has an empty name.", nameof(tensors));
            if (t.Name == MetadataKey) throw new ArgumentException($"{where}: the name is reserved for the metadata map.", nameof(tensors));
            if (!names.Add(t.Name)) throw new ArgumentException($"{where}: the name occurs more than once.", nameof(tensors));
            if (t.Shape is null) throw new ArgumentException($"{where} has no shape.", nameof(tensors));
            long product = 1;
            foreach (int d in t.Shape)
            {
                if (d < 0) throw new ArgumentException($"{where} has a negative dimension in shape {t.ShapeText}.", nameof(tensors));
                product = Math.Min(product * d, long.MaxValue / int.MaxValue);
            }
            if (product != t.Length)
                throw new ArgumentException($"{where} has length {t.Length}, but shape {t.ShapeText} holds {product} elements.", nameof(tensors));
            if (t.Offset < 0 || (long)t.Offset + t.Length > bufferLength)
                throw new ArgumentException(
                    $"{where} spans [{t.Offset}, {(long)t.Offset + t.Length}), outside the buffer of {bufferLength} floats.", nameof(tensors));
            result[i] = t;
        }
        return result;
    }

    // ---------------------------------------------------------------- reading

    private static List<SafeTensorEntry> ReadHeaderCore(Stream file, string path, out Dictionary<string, string> metadata, out long dataStart)
    {
        var entries = ReadHeaderCore(file, path, out metadata, out dataStart, out string? layoutProblem);
        if (layoutProblem is not null) throw Invalid(path, layoutProblem);
        return entries;
    }

    /// <summary>Reads and parses the header; how the tensors tile the data section comes back as <paramref name="layoutProblem"/> (null when they do).</summary>
    private static List<SafeTensorEntry> ReadHeaderCore(Stream file, string path, out Dictionary<string, string> metadata, out long dataStart,
        out string? layoutProblem)
    {
        long fileLength = file.Length;
        if (fileLength < 8)
            throw Invalid(path, $"file is {fileLength} bytes, too short for the 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        file.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderLength)
            throw Invalid(path, $"header length {headerLength} is absurd (at most {MaxHeaderLength} allowed; file is {fileLength} bytes)");
        if (8 + (long)headerLength > fileLength)
            throw Invalid(path, $"header length {headerLength} runs past the end of the file ({fileLength} bytes): truncated");
        var header = new byte[headerLength];
        file.ReadExactly(header);
        dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        var entries = ParseHeader(header, path, out metadata);
        layoutProblem = CheckLayout(entries, dataLength);
        return entries;
    }

    private static List<SafeTensorEntry> ParseHeader(byte[] header, string path, out Dictionary<string, string> metadata)
    {
        if (header.Length == 0 || header[0] != (byte)'{')
            throw Invalid(path, "header does not start with '{' (not a safetensors file?)");
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<SafeTensorEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(header);
        try
        {
            Expect(ref reader, JsonTokenType.StartObject, path, "the header");
            while (Next(ref reader, path) != JsonTokenType.EndObject)
            {
                string name = reader.GetString()!;
                if (!seen.Add(name)) throw Invalid(path, $"key '{name}' occurs twice in the header");
                if (name == MetadataKey)
                {
                    Expect(ref reader, JsonTokenType.StartObject, path, "__metadata__");
                    while (Next(ref reader, path) != JsonTokenType.EndObject)
                    {
                        string key = reader.GetString()!;
                        Expect(ref reader, JsonTokenType.String, path, $"__metadata__ value '{key}'");
                        metadata[key] = reader.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(ref reader, name, path));
            }
            if (reader.Read()) throw Invalid(path, $"unexpected content after the header object at byte {reader.TokenStartIndex}");
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"malformed header JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)   // e.g. invalid UTF-8 or a number that does not fit
        {
            throw Invalid(path, $"malformed header JSON near byte {reader.TokenStartIndex}: {e.Message}", e);
        }
        return entries;
    }

    private static SafeTensorEntry ParseEntry(ref Utf8JsonReader reader, string name, string path)
    {
        Expect(ref reader, JsonTokenType.StartObject, path, $"tensor '{name}'");
        string? dtype = null;
        List<int>? shape = null;
        long[]? offsets = null;
        while (Next(ref reader, path) != JsonTokenType.EndObject)
        {
            string field = reader.GetString()!;
            switch (field)
            {
                case "dtype":
                    Expect(ref reader, JsonTokenType.String, path, $"tensor '{name}' dtype");
                    dtype = reader.GetString()!;
                    break;
                case "shape":
                    shape = [];
                    foreach (long d in ReadIntegerArray(ref reader, path, $"tensor '{name}' shape"))
                    {
                        if (d > int.MaxValue) throw Invalid(path, $"tensor '{name}' has dimension {d}, larger than {int.MaxValue}");
                        shape.Add((int)d);
                    }
                    break;
                case "data_offsets":
                    var list = ReadIntegerArray(ref reader, path, $"tensor '{name}' data_offsets");
                    if (list.Count != 2) throw Invalid(path, $"tensor '{name}' has {list.Count} data_offsets, expected 2 [begin, end]");
                    offsets = [list[0], list[1]];
                    break;
                default:
                    reader.Skip();   // unknown fields are ignored, as by the reference implementation
                    break;
            }
        }
        if (dtype is null) throw Invalid(path, $"tensor '{name}' has no dtype");
        if (shape is null) throw Invalid(path, $"tensor '{name}' has no shape");
        if (offsets is null) throw Invalid(path, $"tensor '{name}' has no data_offsets");
        if (!DTypeBits.TryGetValue(dtype, out int bits))
            throw Invalid(path, $"tensor '{name}' has unknown dtype '{dtype}'");
        var entry = new SafeTensorEntry(name, dtype, shape.ToArray(), offsets[0], offsets[1]);
        if (entry.End < entry.Begin)
            throw Invalid(path, $"tensor '{name}' has data_offsets [{entry.Begin}, {entry.End}] with end before begin");
        // Element count × bits must equal the byte span; computed in Int128 so hostile shapes cannot overflow.
        Int128 elementBits = bits;
        foreach (int d in entry.Shape) elementBits = Int128.Min(elementBits * d, (Int128)long.MaxValue * 8 + 8);
        Int128 bytes = (elementBits + 7) / 8;
        if (elementBits % 8 != 0 || bytes != entry.End - entry.Begin)
            throw Invalid(path,
                $"tensor '{name}' ({dtype} {entry.ShapeText}) needs {bytes} bytes, but data_offsets [{entry.Begin}, {entry.End}] span {entry.End - entry.Begin}");
        return entry;
    }

    /// <summary>Sorts by offset and checks the tensors tile the data section exactly: from 0, no overlap, no gap, no excess. Returns the first problem, or null.</summary>
    private static string? CheckLayout(List<SafeTensorEntry> entries, long dataLength)
    {
        entries.Sort(static (a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long position = 0;
        SafeTensorEntry? previous = null;
        foreach (var e in entries)
        {
            if (e.Begin < position)
                return $"tensor '{e.Name}' data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]";
            if (e.Begin > position)
                return $"tensor '{e.Name}' data_offsets [{e.Begin}, {e.End}] leave a gap: expected it to begin at {position}";
            if (e.End > dataLength)
                return $"tensor '{e.Name}' data_offsets [{e.Begin}, {e.End}] run past the end of the data ({dataLength} bytes): truncated file";
            position = e.End;
            previous = e;
        }
        return position == dataLength ? null
            : $"{dataLength - position} bytes after the last tensor's data (data section is {dataLength} bytes, tensors cover {position})";
    }

    private static List<long> ReadIntegerArray(ref Utf8JsonReader reader, string path, string what)
    {
        Expect(ref reader, JsonTokenType.StartArray, path, what);
        var values = new List<long>();
        while (Next(ref reader, path) != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
                throw Invalid(path, $"{what} must hold non-negative integers, found {Describe(ref reader)}");
            values.Add(v);
        }
        return values;
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader, string path)
    {
        if (!reader.Read()) throw Invalid(path, "header JSON ends early");
        return reader.TokenType;
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string path, string what)
    {
        if (Next(ref reader, path) != type)
            throw Invalid(path, $"{what} should be a JSON {type switch { JsonTokenType.StartObject => "object", JsonTokenType.StartArray => "array", _ => "string" }}, found {Describe(ref reader)}");
    }

    private static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => $"string \"{reader.GetString()}\"",
        JsonTokenType.Number => $"number {Encoding.UTF8.GetString(reader.ValueSpan)}",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        var t => t.ToString().ToLowerInvariant(),
    };

    private static int CompareUtf8(string a, string b)
    {
        // Ordinal UTF-16 order differs from UTF-8 byte order only around surrogates; compare bytes to match Rust.
        if (Ascii.IsValid(a) && Ascii.IsValid(b)) return string.CompareOrdinal(a, b);
        return Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));
    }

    private static InvalidDataException Invalid(string path, string message, Exception? inner = null) =>
        new($"{path}: {message}", inner);
}
