// Reads one 28×28 greyscale digit into the model's input layout: [1, 28, 28] floats in [0, 1], pixel / maxval,
// which for 8-bit data is exactly byte / 255f as ModelGen.Data.Idx reads the training digits (so a digit exported
// from the test set classifies to the very same logits). Formats are told apart by content, not by extension:
// PGM (binary P5 or ASCII P2, any maxval), PNG (8-bit grey, grey+alpha, RGB, RGBA; non-interlaced), or exactly
// 784 raw bytes. "-" reads the same formats from standard input.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Classify;

/// <summary>Decodes a digit image to normalised floats.</summary>
internal static class ImageReader
{
    /// <summary>Image side in pixels.</summary>
    internal const int Side = 28;

    /// <summary>Pixels per image.</summary>
    internal const int PixelCount = Side * Side;

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Reads <paramref name="path"/> (or stdin for "-") into <paramref name="pixels"/> (784 floats).</summary>
    /// <exception cref="InvalidDataException">The content is not a 28×28 image in a supported format (the message says what was found).</exception>
    internal static void Read(string path, Span<float> pixels, bool invert)
    {
        if (path != "-" && !File.Exists(path))
            throw new FileNotFoundException($"image '{path}' does not exist.", path);
        byte[] data = path == "-" ? ReadStandardInput() : File.ReadAllBytes(path);
        string name = path == "-" ? "stdin" : path;
        Decode(data, name, pixels);
        if (invert)
            foreach (ref float p in pixels) p = 1f - p;
    }

    /// <summary>Decodes <paramref name="data"/>, naming <paramref name="name"/> in errors.</summary>
    internal static void Decode(ReadOnlySpan<byte> data, string name, Span<float> pixels)
    {
        if (pixels.Length != PixelCount)
            throw new ArgumentException($"pixels has {pixels.Length} elements, expected {PixelCount}.", nameof(pixels));
        if (data.StartsWith(PngSignature))
            DecodePng(data, name, pixels);
        else if (data.Length >= 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '2'))
            DecodePgm(data, name, pixels);
        else if (data.Length == PixelCount)
            for (int i = 0; i < PixelCount; i++) pixels[i] = data[i] / 255f;
        else
            throw new InvalidDataException(
                $"{name}: {data.Length} bytes that are neither PGM (P5/P2), PNG nor raw pixels (raw needs exactly {PixelCount} bytes, one per pixel of {Side}x{Side}).");
    }

    private static byte[] ReadStandardInput()
    {
        using var stdin = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        stdin.CopyTo(buffer);
        return buffer.ToArray();
    }

    // ------------------------------------------------------------------------------------------------ PGM

    private static void DecodePgm(ReadOnlySpan<byte> data, string name, Span<float> pixels)
    {
        bool binary = data[1] == '5';
        int position = 2;
        int width = ReadPgmNumber(data, ref position, name, "width");
        int height = ReadPgmNumber(data, ref position, name, "height");
        int maxValue = ReadPgmNumber(data, ref position, name, "maxval");
        CheckSize(width, height, name);
        if (maxValue is < 1 or > 65535) throw new InvalidDataException($"{name}: PGM maxval {maxValue}, expected 1..65535.");
        if (binary)
        {
            position++;   // exactly one whitespace byte separates the header from the raster
            int bytesPerPixel = maxValue > 255 ? 2 : 1;
            int needed = PixelCount * bytesPerPixel;
            if (data.Length - position < needed)
                throw new InvalidDataException($"{name}: PGM raster has {Math.Max(0, data.Length - position)} bytes, expected {needed}.");
            for (int i = 0; i < PixelCount; i++)
            {
                int v = bytesPerPixel == 1 ? data[position + i] : BinaryPrimitives.ReadUInt16BigEndian(data.Slice(position + 2 * i));
                pixels[i] = Normalise(v, maxValue, name, i);
            }
        }
        else
        {
            for (int i = 0; i < PixelCount; i++)
                pixels[i] = Normalise(ReadPgmNumber(data, ref position, name, $"pixel {i}"), maxValue, name, i);
        }
    }

    private static float Normalise(int value, int maxValue, string name, int index)
    {
        if (value > maxValue) throw new InvalidDataException($"{name}: pixel {index} is {value}, above maxval {maxValue}.");
        return maxValue == 255 ? value / 255f : (float)((double)value / maxValue);
    }

    /// <summary>Skips whitespace and '#' comments, then reads a decimal number.</summary>
    private static int ReadPgmNumber(ReadOnlySpan<byte> data, ref int position, string name, string what)
    {
        while (position < data.Length)
        {
            byte c = data[position];
            if (c == '#')
                while (position < data.Length && data[position] != '\n') position++;
            else if (c is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') position++;
            else break;
        }
        int start = position;
        long value = 0;
        while (position < data.Length && data[position] is >= (byte)'0' and <= (byte)'9' && value <= int.MaxValue)
            value = value * 10 + (data[position++] - '0');
        if (position == start)
            throw new InvalidDataException($"{name}: expected the PGM {what} at byte {start}, found {(start < data.Length ? $"'{(char)data[start]}'" : "the end of the file")}.");
        if (value > int.MaxValue) throw new InvalidDataException($"{name}: PGM {what} at byte {start} is too large.");
        return (int)value;
    }

    private static void CheckSize(int width, int height, string name)
    {
        if (width != Side || height != Side)
            throw new InvalidDataException($"{name}: image is {width}x{height}, expected {Side}x{Side} (MNIST digits; resize it first).");
    }

    // ------------------------------------------------------------------------------------------------ PNG

    private static void DecodePng(ReadOnlySpan<byte> data, string name, Span<float> pixels)
    {
        int position = PngSignature.Length;
        int width = 0, height = 0, channels = 0;
        bool sawHeader = false;
        using var compressed = new MemoryStream();
        while (true)
        {
            if (data.Length - position < 12) throw new InvalidDataException($"{name}: PNG truncated at byte {position} (no IEND chunk).");
            int length = BinaryPrimitives.ReadInt32BigEndian(data.Slice(position));
            string type = Encoding.ASCII.GetString(data.Slice(position + 4, 4));
            if (length < 0 || data.Length - position - 12 < length)
                throw new InvalidDataException($"{name}: PNG chunk '{type}' at byte {position} claims {length} bytes, past the end of the file.");
            ReadOnlySpan<byte> body = data.Slice(position + 8, length);
            position += 12 + length;   // length, type, body, CRC (not verified: zlib's Adler-32 still guards the pixels)
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(body);
                height = BinaryPrimitives.ReadInt32BigEndian(body.Slice(4));
                byte bitDepth = body[8], colorType = body[9], interlace = body[12];
                channels = colorType switch { 0 => 1, 4 => 2, 2 => 3, 6 => 4, _ => 0 };
                if (bitDepth != 8 || channels == 0)
                    throw new InvalidDataException($"{name}: PNG colour type {colorType} with bit depth {bitDepth}; supported are 8-bit grey, grey+alpha, RGB and RGBA.");
                if (interlace != 0) throw new InvalidDataException($"{name}: interlaced PNG is not supported; save it non-interlaced.");
                CheckSize(width, height, name);
                sawHeader = true;
            }
            else if (type == "IDAT") compressed.Write(body);
            else if (type == "IEND") break;
        }
        if (!sawHeader) throw new InvalidDataException($"{name}: PNG has no IHDR chunk.");

        int stride = width * channels;
        var raster = new byte[height * (stride + 1)];   // each row: filter byte + samples
        compressed.Position = 0;
        using (var inflate = new ZLibStream(compressed, CompressionMode.Decompress))
        {
            try { inflate.ReadExactly(raster); }
            catch (EndOfStreamException) { throw new InvalidDataException($"{name}: PNG image data holds fewer than the {raster.Length} bytes a {width}x{height} image needs."); }
        }
        Unfilter(raster, height, stride, channels, name);

        for (int y = 0; y < height; y++)
        {
            ReadOnlySpan<byte> row = raster.AsSpan(y * (stride + 1) + 1, stride);
            for (int x = 0; x < width; x++)
            {
                int grey = channels <= 2
                    ? row[x * channels]
                    : (row[x * channels] * 299 + row[x * channels + 1] * 587 + row[x * channels + 2] * 114) / 1000;   // ITU-R 601 luma, as PIL's convert("L"); alpha ignored
                pixels[y * width + x] = grey / 255f;
            }
        }
    }

    /// <summary>Undoes PNG's per-row filters in place (filter types 0–4, bytes-per-pixel = channels at 8 bits).</summary>
    private static void Unfilter(byte[] raster, int height, int stride, int bpp, string name)
    {
        for (int y = 0; y < height; y++)
        {
            int rowStart = y * (stride + 1);
            byte filter = raster[rowStart];
            Span<byte> row = raster.AsSpan(rowStart + 1, stride);
            ReadOnlySpan<byte> up = y == 0 ? default : raster.AsSpan(rowStart - stride, stride);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= bpp ? row[i - bpp] : 0, b = y > 0 ? up[i] : 0, c = i >= bpp && y > 0 ? up[i - bpp] : 0;
                row[i] = filter switch
                {
                    0 => row[i],
                    1 => (byte)(row[i] + a),
                    2 => (byte)(row[i] + b),
                    3 => (byte)(row[i] + ((a + b) >> 1)),
                    4 => (byte)(row[i] + Paeth(a, b, c)),
                    _ => throw new InvalidDataException($"{name}: PNG row {y} has unknown filter type {filter}."),
                };
            }
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
