// A classification source over a .npy file of inputs too large to load: only the header is parsed up front, and each
// example is read when asked with one positioned read (RandomAccess.Read: no shared file position, no seeking) into a
// byte buffer reused for every example, then converted to floats. The labels (.npy) are small and loaded whole.
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ModelGen.Data;

/// <summary>
/// Streams examples from a <c>.npy</c> inputs file (<c>[count, example dims...]</c>, any dtype <see cref="Npy"/> reads) by
/// positioned reads, with labels from a second <c>.npy</c> file held in memory. Yields exactly what
/// <see cref="Dataset.FromNpy"/> would load, without holding the inputs in memory. Reading allocates nothing.
/// Not thread-safe (one read buffer); dispose to close the file.
/// </summary>
public sealed class NpyDataSource : IDataSource, IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly string _path;
    private readonly NpyHeader _header;
    private readonly int[] _labels;
    private readonly byte[] _buffer;   // [ExampleLength × item size] one example's raw bytes
    private readonly bool _scaleUInt8;

    private NpyDataSource(SafeFileHandle file, string path, NpyHeader header, int[] labels, int classCount, bool scaleUInt8)
    {
        _file = file;
        _path = path;
        _header = header;
        _labels = labels;
        _scaleUInt8 = scaleUInt8;
        ClassCount = classCount;
        ExampleShape = header.Shape[1..];
        ExampleLength = Dataset.CheckedExampleLength(ExampleShape);
        _buffer = new byte[checked(ExampleLength * header.ItemSize)];
    }

    /// <summary>
    /// Opens <paramref name="inputsPath"/> for streaming and loads <paramref name="labelsPath"/>. Checks the header, that
    /// the file is exactly as long as the header says, and every label, before returning.
    /// </summary>
    /// <param name="inputsPath">The inputs <c>.npy</c>, <c>[count, example dims...]</c>.</param>
    /// <param name="labelsPath">The labels <c>.npy</c>, <c>[count]</c> integers.</param>
    /// <param name="classCount">Number of classes; <see langword="null"/> takes the largest label + 1.</param>
    /// <param name="scaleUInt8">Map uint8 inputs <c>v</c> to <c>v / 255</c>, as <see cref="Dataset.FromNpy"/> does.</param>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// A malformed header (see <see cref="Npy.Read(string)"/>), an inputs file shorter or longer than its header describes,
    /// fewer than two input dimensions, labels that are not <c>[count]</c> integers, or a label out of range; the message names the file.
    /// </exception>
    public static NpyDataSource Open(string inputsPath, string labelsPath, int? classCount = null, bool scaleUInt8 = true)
    {
        ArgumentNullException.ThrowIfNull(inputsPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        var labelArray = Npy.Read(labelsPath);
        NpyHeader header = Npy.ReadHeader(inputsPath);   // its own stream: a FileStream over the handle would close it
        var file = File.OpenHandle(inputsPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            long expected = header.DataOffset + header.Count * header.ItemSize, actual = RandomAccess.GetLength(file);
            if (actual != expected)
                throw new InvalidDataException(
                    $"{inputsPath}: the file has {actual} bytes, but shape {Dataset.Format(header.Shape)} of {Npy.Name(header.DType)} after the {header.DataOffset}-byte header needs {expected}.");
            if (header.Shape.Length < 2 || header.Shape[1..].Any(d => d == 0))
                throw new InvalidDataException($"{inputsPath}: shape {Dataset.Format(header.Shape)}; expected [count, example dims...] with every example dimension positive.");
            if (labelArray.Shape.Length != 1 || labelArray.Shape[0] != header.Shape[0])
                throw new InvalidDataException($"{labelsPath}: shape {Dataset.Format(labelArray.Shape)}; expected [{header.Shape[0]}] (one label per example of {inputsPath}).");
            int[] labels = labelArray.ToLabels(labelsPath);
            int classes = classCount ?? (labels.Length == 0 ? 1 : labels.Max() + 1);
            for (int i = 0; i < labels.Length; i++)
                if (labels[i] >= classes)
                    throw new InvalidDataException($"{labelsPath}: label #{i} is {labels[i]}, expected a class in [0, {classes}).");
            return new NpyDataSource(file, inputsPath, header, labels, classes, scaleUInt8);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public int Count => _labels.Length;

    /// <inheritdoc/>
    public int[] ExampleShape { get; }

    /// <inheritdoc/>
    public int ExampleLength { get; }

    /// <inheritdoc/>
    public bool HasLabels => true;

    /// <inheritdoc/>
    public int ClassCount { get; }

    /// <inheritdoc/>
    public int TargetLength => 0;

    /// <inheritdoc/>
    public int Label(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {Count})");
        return _labels[index];
    }

    /// <inheritdoc/>
    public void ReadExample(int index, Span<float> example, Span<float> target)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {Count})");
        if (example.Length != ExampleLength)
            throw new ArgumentException($"example has {example.Length} floats, expected {ExampleLength}.", nameof(example));
        if (!target.IsEmpty) throw new ArgumentException($"target has {target.Length} floats, expected 0 (a classification source).", nameof(target));
        long offset = _header.DataOffset + (long)index * _buffer.Length;
        int read = 0;
        while (read < _buffer.Length)
        {
            int n = RandomAccess.Read(_file, _buffer.AsSpan(read), offset + read);
            if (n == 0)
                throw new InvalidDataException($"{_path}: offset {offset + read}: truncated: example {index} ends past the end of the file (was it changed after opening?).");
            read += n;
        }
        Convert(_buffer, example);
    }

    /// <summary>The raw little- or big-endian bytes of one example to floats, as <see cref="NpyArray.ToFloat32"/> converts.</summary>
    private void Convert(Span<byte> bytes, Span<float> example)
    {
        if (_header.BigEndian == BitConverter.IsLittleEndian && _header.ItemSize > 1)
            for (int i = 0; i < bytes.Length; i += _header.ItemSize) bytes.Slice(i, _header.ItemSize).Reverse();
        switch (_header.DType)
        {
            case NpyDType.Float32: MemoryMarshal.Cast<byte, float>(bytes).CopyTo(example); break;
            case NpyDType.Float64: { var d = MemoryMarshal.Cast<byte, double>(bytes); for (int i = 0; i < d.Length; i++) example[i] = (float)d[i]; break; }
            case NpyDType.Int32: { var n = MemoryMarshal.Cast<byte, int>(bytes); for (int i = 0; i < n.Length; i++) example[i] = n[i]; break; }
            case NpyDType.Int64: { var l = MemoryMarshal.Cast<byte, long>(bytes); for (int i = 0; i < l.Length; i++) example[i] = l[i]; break; }
            default:
            {
                float divisor = _scaleUInt8 ? 255f : 1f;
                for (int i = 0; i < bytes.Length; i++) example[i] = bytes[i] / divisor;
                break;
            }
        }
    }

    /// <summary>Closes the inputs file.</summary>
    public void Dispose() => _file.Dispose();
}
