// Reader and writer for NumPy's .npy format (format versions 1.0, 2.0 and 3.0) and .npz archives (a zip of .npy
// entries, stored or deflated, as np.savez and np.savez_compressed write them). The header is a Python dict literal:
//   \x93NUMPY <major> <minor> <u16 or u32 little-endian header length> {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and a newline so the data starts on a 64-byte boundary. Only the numeric dtypes datasets use are
// read (float32/float64/int32/int64/uint8, either byte order), in C order; Fortran-ordered and object arrays are
// rejected, so nothing is ever unpickled. Every error names the file (and the npz entry) and the byte offset.
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace ModelGen.Data;

/// <summary>The element types <see cref="Npy"/> reads and writes.</summary>
public enum NpyDType
{
    /// <summary><c>float32</c> (<c>'&lt;f4'</c>).</summary>
    Float32,
    /// <summary><c>float64</c> (<c>'&lt;f8'</c>).</summary>
    Float64,
    /// <summary><c>int32</c> (<c>'&lt;i4'</c>).</summary>
    Int32,
    /// <summary><c>int64</c> (<c>'&lt;i8'</c>).</summary>
    Int64,
    /// <summary><c>uint8</c> (<c>'|u1'</c>).</summary>
    UInt8,
}

/// <summary>The parsed header of a <c>.npy</c> file: element type, shape and where the data starts.</summary>
/// <param name="DType">Element type.</param>
/// <param name="BigEndian">Whether the elements are stored big-endian (<c>'&gt;'</c> in the descr).</param>
/// <param name="Shape">Dimensions, C (row-major) order; empty for a 0-d (scalar) array.</param>
/// <param name="DataOffset">Byte offset of the first element from the start of the file.</param>
public sealed record NpyHeader(NpyDType DType, bool BigEndian, int[] Shape, long DataOffset)
{
    /// <summary>Number of elements (the product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public long Count
    {
        get
        {
            long n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>Bytes per element.</summary>
    public int ItemSize => Npy.ItemSize(DType);
}

/// <summary>
/// An array read from a <c>.npy</c> file: its shape, element type and elements (in C order, converted to the machine's
/// byte order). <see cref="Data"/> is a <c>float[]</c>, <c>double[]</c>, <c>int[]</c>, <c>long[]</c> or <c>byte[]</c>
/// according to <see cref="DType"/>.
/// </summary>
public sealed class NpyArray
{
    /// <summary>Wraps <paramref name="data"/> (not copied) with <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="data"/> is not one of the five supported array types, a dimension is negative, or the length differs from the shape's product.</exception>
    public NpyArray(Array data, ReadOnlySpan<int> shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        DType = data switch
        {
            float[] => NpyDType.Float32,
            double[] => NpyDType.Float64,
            int[] => NpyDType.Int32,
            long[] => NpyDType.Int64,
            byte[] => NpyDType.UInt8,
            _ => throw new ArgumentException($"data is a {data.GetType().Name}; expected float[], double[], int[], long[] or byte[].", nameof(data)),
        };
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0) throw new ArgumentException($"shape[{i}] = {shape[i]} is negative.", nameof(shape));
            count *= shape[i];
        }
        if (count != data.Length)
            throw new ArgumentException($"data has {data.Length} elements, but shape {Dataset.Format(shape)} describes {count}.", nameof(data));
        Data = data;
        Shape = shape.ToArray();
    }

    /// <summary>Element type.</summary>
    public NpyDType DType { get; }

    /// <summary>Dimensions (C order); empty for a scalar.</summary>
    public int[] Shape { get; }

    /// <summary>The elements: <c>float[]</c>, <c>double[]</c>, <c>int[]</c>, <c>long[]</c> or <c>byte[]</c> (see <see cref="DType"/>).</summary>
    public Array Data { get; }

    /// <summary>Number of elements.</summary>
    public int Count => Data.Length;

    /// <summary>
    /// The elements as float32: the array itself when it is float32, else a converted copy (float64 rounded to nearest,
    /// integers converted exactly up to 2^24). <paramref name="scaleUInt8"/> maps uint8 pixels to [0, 1] (<c>v / 255</c>).
    /// </summary>
    public float[] ToFloat32(bool scaleUInt8 = false)
    {
        switch (Data)
        {
            case float[] f: return f;
            case double[] d: { var r = new float[d.Length]; for (int i = 0; i < d.Length; i++) r[i] = (float)d[i]; return r; }
            case int[] n: { var r = new float[n.Length]; for (int i = 0; i < n.Length; i++) r[i] = n[i]; return r; }
            case long[] l: { var r = new float[l.Length]; for (int i = 0; i < l.Length; i++) r[i] = l[i]; return r; }
            default:
            {
                var b = (byte[])Data;
                var r = new float[b.Length];
                // Divides (as Idx and torchvision's ToTensor do) rather than multiplying by 1/255, which rounds differently.
                float divisor = scaleUInt8 ? 255f : 1f;
                for (int i = 0; i < b.Length; i++) r[i] = b[i] / divisor;
                return r;
            }
        }
    }

    /// <summary>The elements as class labels (int32): integer arrays only, each in <c>[0, int.MaxValue]</c>.</summary>
    /// <param name="sourceName">Names the array in error messages.</param>
    /// <exception cref="InvalidDataException">The array holds floats, or an element is negative or too large (the message names its index and value).</exception>
    public int[] ToLabels(string sourceName)
    {
        var labels = new int[Count];
        for (int i = 0; i < labels.Length; i++)
        {
            long v = Data switch
            {
                int[] n => n[i],
                long[] l => l[i],
                byte[] b => b[i],
                _ => throw new InvalidDataException($"{sourceName}: labels have dtype {Npy.Name(DType)}; expected an integer dtype (int32, int64 or uint8)."),
            };
            if (v < 0 || v > int.MaxValue)
                throw new InvalidDataException($"{sourceName}: label #{i} is {v}; expected a class index >= 0.");
            labels[i] = (int)v;
        }
        return labels;
    }
}

/// <summary>Reads and writes NumPy <c>.npy</c> files and <c>.npz</c> archives (numeric dtypes, C order).</summary>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The largest header this reader accepts (NumPy's own reader limits it to 10,000 bytes by default).</summary>
    public const int MaxHeaderLength = 1 << 20;

    /// <summary>Reads a whole <c>.npy</c> file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// Not a .npy file (bad magic or version), a malformed header, an unsupported dtype (object, string, float16, ...),
    /// Fortran order, or data shorter or longer than the shape describes. The message names the file and the byte offset.
    /// </exception>
    public static NpyArray Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>Reads a <c>.npy</c> array from <paramref name="stream"/> (to its end); <paramref name="sourceName"/> names it in errors.</summary>
    /// <inheritdoc cref="Read(string)"/>
    public static NpyArray Read(Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        var header = ReadHeader(stream, sourceName);
        long count = header.Count, bytes = count * header.ItemSize;
        if (count > Array.MaxLength)
            throw Error(sourceName, header.DataOffset, $"shape {Dataset.Format(header.Shape)} has {count} elements, more than an array holds ({Array.MaxLength})");
        Array data = header.DType switch
        {
            NpyDType.Float32 => new float[count],
            NpyDType.Float64 => new double[count],
            NpyDType.Int32 => new int[count],
            NpyDType.Int64 => new long[count],
            _ => new byte[count],
        };
        Span<byte> target = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(data), checked((int)bytes));
        int read = stream.ReadAtLeast(target, target.Length, throwOnEndOfStream: false);
        if (read < target.Length)
            throw Error(sourceName, header.DataOffset + read,
                $"truncated: shape {Dataset.Format(header.Shape)} of {Name(header.DType)} needs {bytes} data bytes after the {header.DataOffset}-byte header, found {read}");
        if (stream.ReadByte() >= 0)
            throw Error(sourceName, header.DataOffset + bytes,
                $"unexpected trailing data after the {bytes} bytes that shape {Dataset.Format(header.Shape)} of {Name(header.DType)} describes");
        if (header.BigEndian != !BitConverter.IsLittleEndian) Swap(target, header.ItemSize);
        return new NpyArray(data, header.Shape);
    }

    /// <summary>Reads only the header of a <c>.npy</c> file (for positioned reads of its data, as <see cref="NpyDataSource"/> does).</summary>
    /// <inheritdoc cref="Read(string)"/>
    public static NpyHeader ReadHeader(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return ReadHeader(stream, path);
    }

    /// <summary>Reads every array of a <c>.npz</c> archive, keyed by entry name without <c>.npy</c> (as <c>np.load</c> does).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// Not a zip archive, an entry that is not a .npy file or is malformed as <see cref="Read(string)"/> describes, or a
    /// corrupt compressed entry. The message names the archive and the entry. Nothing is returned on error.
    /// </exception>
    public static IReadOnlyDictionary<string, NpyArray> ReadNpz(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = File.OpenRead(path);
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: not a .npz (zip) archive: {e.Message}", e);
        }
        using (zip)
        {
            var arrays = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue;   // a directory record
                string where = $"{path}: entry '{entry.FullName}'";
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal))
                    throw new InvalidDataException($"{where}: not a .npy entry; a .npz holds only name.npy entries (np.savez).");
                try
                {
                    using var stream = entry.Open();
                    arrays[entry.FullName[..^4]] = Read(stream, where);
                }
                catch (InvalidDataException e) when (!e.Data.Contains(OwnErrorKey))
                {
                    throw new InvalidDataException($"{where}: corrupt compressed data: {e.Message}", e);
                }
            }
            return arrays;
        }
    }

    /// <summary>Writes <paramref name="array"/> as a version 1.0 <c>.npy</c> file (little-endian, C order), as <c>np.save</c> does.</summary>
    /// <exception cref="IOException">The file could not be written.</exception>
    public static void Write(string path, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.Create(path);
        Write(stream, array);
    }

    /// <summary>Writes <paramref name="array"/> as a version 1.0 <c>.npy</c> stream.</summary>
    public static void Write(Stream stream, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(array);
        string shape = array.Shape.Length switch
        {
            0 => "()",
            1 => $"({array.Shape[0]},)",
            _ => "(" + string.Join(", ", array.Shape) + ")",
        };
        string descr = array.DType == NpyDType.UInt8 ? "|u1" : "<" + Descr(array.DType);
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // NumPy pads with spaces so that magic + version + length + header + '\n' is a multiple of 64.
        int total = 10 + dict.Length + 1;
        int padded = (total + 63) / 64 * 64;
        string header = dict + new string(' ', padded - total) + "\n";
        Span<byte> prefix = stackalloc byte[10];
        Magic.CopyTo(prefix);
        prefix[6] = 1;   // format version 1.0
        BinaryPrimitives.WriteUInt16LittleEndian(prefix[8..], (ushort)header.Length);
        stream.Write(prefix);
        stream.Write(Encoding.ASCII.GetBytes(header));
        var bytes = MemoryMarshal.CreateReadOnlySpan(ref MemoryMarshal.GetArrayDataReference(array.Data), array.Count * ItemSize(array.DType));
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(bytes);
        }
        else
        {
            byte[] copy = bytes.ToArray();
            Swap(copy, ItemSize(array.DType));
            stream.Write(copy);
        }
    }

    /// <summary>Writes the arrays as an uncompressed <c>.npz</c> archive (<c>np.savez</c>): one <c>name.npy</c> entry each.</summary>
    public static void WriteNpz(string path, IReadOnlyDictionary<string, NpyArray> arrays, bool compress = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(arrays);
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        foreach (var (name, array) in arrays)
        {
            var entry = zip.CreateEntry(name + ".npy", compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            using var stream = entry.Open();
            Write(stream, array);
        }
    }

    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    public static int ItemSize(NpyDType dtype) => dtype switch
    {
        NpyDType.Float32 or NpyDType.Int32 => 4,
        NpyDType.Float64 or NpyDType.Int64 => 8,
        _ => 1,
    };

    internal static string Name(NpyDType dtype) => dtype switch
    {
        NpyDType.Float32 => "float32",
        NpyDType.Float64 => "float64",
        NpyDType.Int32 => "int32",
        NpyDType.Int64 => "int64",
        _ => "uint8",
    };

    private static string Descr(NpyDType dtype) => dtype switch
    {
        NpyDType.Float32 => "f4",
        NpyDType.Float64 => "f8",
        NpyDType.Int32 => "i4",
        NpyDType.Int64 => "i8",
        _ => "u1",
    };

    internal static NpyHeader ReadHeader(Stream stream, string name)
    {
        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(stream, prefix, name, 0, "the 8-byte magic and version");
        if (!prefix[..6].SequenceEqual(Magic))
            throw Error(name, 0, $"bad magic {Convert.ToHexString(prefix[..6])}: a .npy file starts with \\x93NUMPY (934E554D5059)");
        byte major = prefix[6];
        if (major is < 1 or > 3)
            throw Error(name, 6, $"format version {major}.{prefix[7]} is not supported (1.0, 2.0 and 3.0 are)");
        int lengthSize = major == 1 ? 2 : 4;
        Span<byte> lengthBytes = stackalloc byte[4];
        ReadExactly(stream, lengthBytes[..lengthSize], name, 8, "the header length");
        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(lengthBytes) : BinaryPrimitives.ReadUInt32LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderLength)
            throw Error(name, 8, $"header length {headerLength} is larger than {MaxHeaderLength} bytes");
        int start = 8 + lengthSize;
        var headerBytes = new byte[headerLength];
        ReadExactly(stream, headerBytes, name, start, $"the {headerLength}-byte header");
        string text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        var (dtype, bigEndian, fortran, shape) = ParseDict(text, name, start);
        if (fortran)
            throw Error(name, start, "'fortran_order' is True: Fortran-ordered (column-major) arrays are not supported; save a C-ordered copy (np.ascontiguousarray)");
        return new NpyHeader(dtype, bigEndian, shape, start + headerLength);
    }

    /// <summary>Parses <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 4), }</c> (keys in any order).</summary>
    private static (NpyDType, bool, bool, int[]) ParseDict(string text, string name, int offset)
    {
        var p = new DictParser(text, name, offset);
        string? descr = null;
        bool? fortran = null;
        int[]? shape = null;
        p.Skip();
        p.Expect('{');
        while (true)
        {
            p.Skip();
            if (p.TryConsume('}')) break;
            string key = p.String();
            p.Skip();
            p.Expect(':');
            p.Skip();
            switch (key)
            {
                case "descr":
                    if (p.Peek() != '\'' && p.Peek() != '"')
                        throw p.Fail("'descr' is not a simple dtype string (a structured/record dtype); only float32, float64, int32, int64 and uint8 arrays are supported");
                    descr = p.String();
                    break;
                case "fortran_order": fortran = p.Bool(); break;
                case "shape": shape = p.Tuple(); break;
                default: throw p.Fail($"unexpected key '{key}' (a .npy header has 'descr', 'fortran_order' and 'shape')");
            }
            p.Skip();
            if (p.TryConsume(',')) continue;
            p.Skip();
            p.Expect('}');
            break;
        }
        if (descr is null || fortran is null || shape is null)
            throw Error(name, offset, $"header '{text.TrimEnd()}' lacks {(descr is null ? "'descr'" : fortran is null ? "'fortran_order'" : "'shape'")}");
        var (dtype, bigEndian) = ParseDescr(descr, name, offset);
        return (dtype, bigEndian, fortran.Value, shape);
    }

    private static (NpyDType, bool) ParseDescr(string descr, string name, int offset)
    {
        if (descr == "O" || (descr.Length == 2 && descr[1] == 'O'))
            throw Error(name, offset, "dtype is object ('|O'): object arrays hold pickled Python objects and are never loaded; save a numeric array");
        char order = descr.Length > 0 ? descr[0] : '?';
        string kind = order is '<' or '>' or '|' or '=' ? descr[1..] : descr;
        bool big = order == '>' || (order == '=' && !BitConverter.IsLittleEndian);
        NpyDType? dtype = kind switch
        {
            "f4" => NpyDType.Float32,
            "f8" => NpyDType.Float64,
            "i4" => NpyDType.Int32,
            "i8" => NpyDType.Int64,
            "u1" => NpyDType.UInt8,
            _ => null,
        };
        if (dtype is null)
            throw Error(name, offset, $"dtype '{descr}' is not supported; expected float32 ('<f4'), float64 ('<f8'), int32 ('<i4'), int64 ('<i8') or uint8 ('|u1')");
        return (dtype.Value, big && ItemSize(dtype.Value) > 1);
    }

    private ref struct DictParser(string text, string name, int offset)
    {
        private int _at;

        public readonly char Peek() => _at < text.Length ? text[_at] : '\0';

        public void Skip()
        {
            while (_at < text.Length && char.IsWhiteSpace(text[_at])) _at++;
        }

        public bool TryConsume(char c)
        {
            if (Peek() != c) return false;
            _at++;
            return true;
        }

        public void Expect(char c)
        {
            if (!TryConsume(c)) throw Fail($"expected '{c}'");
        }

        public string String()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"')) throw Fail("expected a quoted string");
            int end = text.IndexOf(quote, _at + 1);
            if (end < 0) throw Fail("unterminated string");
            string s = text[(_at + 1)..end];
            _at = end + 1;
            return s;
        }

        public bool Bool()
        {
            if (text.AsSpan(_at).StartsWith("True")) { _at += 4; return true; }
            if (text.AsSpan(_at).StartsWith("False")) { _at += 5; return false; }
            throw Fail("expected True or False");
        }

        public int[] Tuple()
        {
            Expect('(');
            var dims = new List<int>();
            while (true)
            {
                Skip();
                if (TryConsume(')')) break;
                int begin = _at;
                while (_at < text.Length && char.IsAsciiDigit(text[_at])) _at++;
                // Python 2 era files may write long integers as 3L.
                if (!int.TryParse(text.AsSpan(begin, _at - begin), NumberStyles.None, CultureInfo.InvariantCulture, out int d))
                    throw Fail(_at == begin ? "expected a dimension (a non-negative integer)" : $"dimension {text[begin.._at]} is larger than {int.MaxValue}");
                TryConsume('L');
                dims.Add(d);
                Skip();
                if (TryConsume(',')) continue;
                Expect(')');
                break;
            }
            return [.. dims];
        }

        public readonly InvalidDataException Fail(string what) =>
            Error(name, offset + _at, $"malformed header {Quote(text)}: {what} at character {_at}");

        private static string Quote(string s)
        {
            s = s.TrimEnd();
            return s.Length <= 120 ? $"'{s}'" : $"'{s[..120]}...'";
        }
    }

    private static void Swap(Span<byte> bytes, int itemSize)
    {
        if (itemSize == 1) return;
        for (int i = 0; i < bytes.Length; i += itemSize) bytes.Slice(i, itemSize).Reverse();
    }

    private static void ReadExactly(Stream stream, Span<byte> into, string name, long offset, string what)
    {
        int read = stream.ReadAtLeast(into, into.Length, throwOnEndOfStream: false);
        if (read < into.Length)
            throw Error(name, offset + read, read == 0 && offset == 0 ? "empty file: expected a .npy header" : $"truncated: file ends inside {what}");
    }

    // Marks this reader's errors, so ReadNpz does not re-wrap them as compression errors.
    private const string OwnErrorKey = "ModelGen.Data.Npy";

    private static InvalidDataException Error(string name, long offset, string message)
    {
        var e = new InvalidDataException($"{name}: offset {offset}: {message}.");
        e.Data[OwnErrorKey] = true;
        return e;
    }
}
