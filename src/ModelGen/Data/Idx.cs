// Reader for the IDX format MNIST is distributed in (big-endian: magic 00 00 <type> <rank>, one u32 per dimension,
// then the data). Accepts raw or gzip-compressed files (detected by the gzip magic 1F 8B, not by the extension).
// Only unsigned-byte data is supported, which is what image and label files use. Every error names the file and
// the byte offset (in the decompressed stream) where the problem was found.
using System.Buffers.Binary;
using System.IO.Compression;

namespace ModelGen.Data;

/// <summary>Reads IDX image and label files (raw or gzip-compressed).</summary>
public static class Idx
{
    private const byte UnsignedByte = 0x08;

    /// <summary>
    /// Reads an IDX image file (<c>ubyte</c>, dims <c>[count, rows, columns]</c>) into floats in [0, 1]
    /// (<c>byte / 255f</c>), laid out <c>[count, rows × columns]</c>.
    /// </summary>
    /// <param name="path">The file (raw or gzip-compressed).</param>
    /// <param name="rows">Expected image height.</param>
    /// <param name="columns">Expected image width.</param>
    /// <exception cref="InvalidDataException">Bad magic, unsupported type, wrong dimensions, truncated or over-long data.</exception>
    public static float[] ReadImages(string path, int rows = 28, int columns = 28)
    {
        using var stream = File.OpenRead(path);
        return ReadImages(stream, path, rows, columns);
    }

    /// <summary>Reads IDX images from <paramref name="stream"/>; <paramref name="sourceName"/> is used in error messages.</summary>
    /// <inheritdoc cref="ReadImages(string, int, int)"/>
    public static float[] ReadImages(Stream stream, string sourceName, int rows = 28, int columns = 28)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        byte[] bytes = ReadPayload(stream, sourceName, rank: 3, out int[] dims);
        if (dims[1] != rows || dims[2] != columns)
            throw Error(sourceName, 8, $"images are {dims[1]}×{dims[2]}, expected {rows}×{columns}");
        var pixels = new float[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) pixels[i] = bytes[i] / 255f;
        return pixels;
    }

    /// <summary>Reads an IDX label file (<c>ubyte</c>, dims <c>[count]</c>), checking every label is below <paramref name="classCount"/>.</summary>
    /// <exception cref="InvalidDataException">Bad magic, unsupported type, truncated or over-long data, or a label out of range.</exception>
    public static int[] ReadLabels(string path, int classCount = 10)
    {
        using var stream = File.OpenRead(path);
        return ReadLabels(stream, path, classCount);
    }

    /// <summary>Reads IDX labels from <paramref name="stream"/>; <paramref name="sourceName"/> is used in error messages.</summary>
    /// <inheritdoc cref="ReadLabels(string, int)"/>
    public static int[] ReadLabels(Stream stream, string sourceName, int classCount = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        byte[] bytes = ReadPayload(stream, sourceName, rank: 1, out _);
        const int headerLength = 8;
        var labels = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] >= classCount)
                throw Error(sourceName, headerLength + i, $"label #{i} is {bytes[i]}, expected a class in [0, {classCount})");
            labels[i] = bytes[i];
        }
        return labels;
    }

    /// <summary>Validates the header (magic, type, rank) and returns exactly product(dims) data bytes.</summary>
    private static byte[] ReadPayload(Stream raw, string name, int rank, out int[] dims)
    {
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentNullException.ThrowIfNull(name);
        Stream stream = OpenMaybeGzip(raw);
        try
        {
            return ReadPayloadCore(stream, name, rank, out dims);
        }
        catch (InvalidDataException e) when (!e.Data.Contains(OwnErrorKey))
        {
            // GZipStream's own errors do not say which file was corrupt.
            throw new InvalidDataException($"{name}: corrupt gzip stream: {e.Message}", e);
        }
        finally
        {
            if (stream != raw) stream.Dispose();   // the GZipStream wrapper; the caller owns raw
        }
    }

    private static byte[] ReadPayloadCore(Stream stream, string name, int rank, out int[] dims)
    {

        Span<byte> magic = stackalloc byte[4];
        ReadHeaderBytes(stream, magic, name, 0, "the 4-byte magic number");
        if (magic[0] != 0 || magic[1] != 0)
            throw Error(name, 0, $"bad magic {Convert.ToHexString(magic)}: an IDX file starts with two zero bytes (expected 0000{UnsignedByte:X2}{rank:X2})");
        if (magic[2] != UnsignedByte)
            throw Error(name, 2, $"data type 0x{magic[2]:X2} is not supported, expected 0x{UnsignedByte:X2} (unsigned byte)");
        if (magic[3] != rank)
            throw Error(name, 3, $"has {magic[3]} dimensions, expected {rank}");

        dims = new int[rank];
        long total = 1;
        Span<byte> dim = stackalloc byte[4];
        for (int d = 0; d < rank; d++)
        {
            int offset = 4 + 4 * d;
            ReadHeaderBytes(stream, dim, name, offset, $"dimension {d}");
            uint value = BinaryPrimitives.ReadUInt32BigEndian(dim);
            if (value > int.MaxValue)
                throw Error(name, offset, $"dimension {d} is {value}, larger than {int.MaxValue}");
            dims[d] = (int)value;
            total *= value;
            if (total > Array.MaxLength)
                throw Error(name, offset, $"dimensions [{string.Join(", ", dims[..(d + 1)])}] describe more than {Array.MaxLength} bytes");
        }

        int dataOffset = 4 + 4 * rank;
        var data = new byte[total];
        int read = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (read < data.Length)
            throw Error(name, dataOffset + read,
                $"truncated: dimensions [{string.Join(", ", dims)}] need {data.Length} data bytes after the {dataOffset}-byte header, found {read}");
        if (stream.ReadByte() >= 0)
            throw Error(name, dataOffset + data.Length,
                $"unexpected trailing data after the {data.Length} bytes that dimensions [{string.Join(", ", dims)}] describe");
        return data;
    }

    /// <summary>Returns a view of <paramref name="raw"/> that decompresses if it starts with the gzip magic 1F 8B.</summary>
    private static Stream OpenMaybeGzip(Stream raw)
    {
        if (!raw.CanSeek)
        {
            // Peeking needs a rewind; IDX files are small enough (MNIST: 47 MB raw at most) to buffer.
            var copy = new MemoryStream();
            raw.CopyTo(copy);
            copy.Position = 0;
            raw = copy;
        }
        long start = raw.Position;
        bool gzip = raw.ReadByte() == 0x1F && raw.ReadByte() == 0x8B;
        raw.Position = start;
        return gzip ? new GZipStream(raw, CompressionMode.Decompress, leaveOpen: true) : raw;
    }

    private static void ReadHeaderBytes(Stream stream, Span<byte> into, string name, int offset, string what)
    {
        int read = stream.ReadAtLeast(into, into.Length, throwOnEndOfStream: false);
        if (read < into.Length)
            throw Error(name, offset + read, $"truncated: file ends inside {what} (the IDX header)");
    }

    // Marks the errors this reader raises, so they are not re-wrapped as gzip corruption.
    private const string OwnErrorKey = "ModelGen.Data.Idx";

    private static InvalidDataException Error(string name, long offset, string message)
    {
        var e = new InvalidDataException($"{name}: offset {offset}: {message}.");
        e.Data[OwnErrorKey] = true;
        return e;
    }
}
