// How an image file becomes a model input: decode (StbImageSharp), convert channels, scale bytes to [0, 1], resize
// bilinearly to the model's shape, normalise per channel. The same record is used for training, for streaming and for
// prediction, and travels with the weights as one metadata entry ("modelgen.image", JSON), so a saved model knows how
// its inputs were made.
using System.Globalization;
using System.Text;
using System.Text.Json;
using StbImageSharp;

namespace ModelGen.Data;

/// <summary>
/// Turns image files (PNG, JPEG, BMP; greyscale or colour) into <c>[Channels, Height, Width]</c> float inputs:
/// decoded, converted to <see cref="Channels"/> channels, scaled to [0, 1] (<c>byte / 255</c>), resized with
/// <see cref="ImageResize.Bilinear"/>, then normalised as torchvision's <c>Normalize(mean, std)</c>:
/// <c>(x − Mean[c]) / Std[c]</c>.
/// </summary>
/// <remarks>
/// Colour to greyscale uses PIL's <c>convert("L")</c> (ITU-R 601-2 luma, <c>(19595 R + 38470 G + 7471 B + 32768) &gt;&gt; 16</c>);
/// greyscale to colour repeats the grey value; an alpha channel is dropped (not composited), as PIL's <c>convert("RGB")</c> does.
/// </remarks>
public sealed record ImagePreprocessing
{
    /// <summary>The metadata key under which <see cref="AddTo"/> stores this record as JSON.</summary>
    public const string MetadataKey = "modelgen.image";

    /// <summary>Creates a preprocessing to <c>[channels, height, width]</c>.</summary>
    /// <param name="channels">1 (greyscale) or 3 (RGB).</param>
    /// <param name="height">Output height in pixels (positive).</param>
    /// <param name="width">Output width in pixels (positive).</param>
    /// <param name="mean">Per-channel mean subtracted after scaling to [0, 1], or <see langword="null"/> for none.</param>
    /// <param name="std">Per-channel divisor (positive), or <see langword="null"/> for none; given together with <paramref name="mean"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is not 1 or 3, or a size is not positive.</exception>
    /// <exception cref="ArgumentException">Only one of mean and std is given, either has another length than <paramref name="channels"/>, or a std is not positive and finite.</exception>
    public ImagePreprocessing(int channels, int height, int width, IReadOnlyList<float>? mean = null, IReadOnlyList<float>? std = null)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "must be 1 (greyscale) or 3 (RGB)");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if ((mean is null) != (std is null)) throw new ArgumentException("Give both mean and std, or neither.", mean is null ? nameof(mean) : nameof(std));
        if (mean is not null && std is not null)
        {
            if (mean.Count != channels) throw new ArgumentException($"mean has {mean.Count} values, expected {channels} (one per channel).", nameof(mean));
            if (std.Count != channels) throw new ArgumentException($"std has {std.Count} values, expected {channels} (one per channel).", nameof(std));
            for (int c = 0; c < channels; c++)
            {
                if (!float.IsFinite(mean[c])) throw new ArgumentException($"mean[{c}] = {mean[c]} is not finite.", nameof(mean));
                if (!(std[c] > 0 && float.IsFinite(std[c]))) throw new ArgumentException($"std[{c}] = {std[c]}; expected a positive finite value.", nameof(std));
            }
        }
        Channels = channels;
        Height = height;
        Width = width;
        Mean = mean?.ToArray();
        Std = std?.ToArray();
    }

    /// <summary>1 (greyscale) or 3 (RGB).</summary>
    public int Channels { get; }

    /// <summary>Output height.</summary>
    public int Height { get; }

    /// <summary>Output width.</summary>
    public int Width { get; }

    /// <summary>Per-channel mean, or <see langword="null"/>.</summary>
    public IReadOnlyList<float>? Mean { get; }

    /// <summary>Per-channel standard deviation, or <see langword="null"/>.</summary>
    public IReadOnlyList<float>? Std { get; }

    /// <summary>Floats per image: <c>Channels × Height × Width</c>.</summary>
    public int ExampleLength => Channels * Height * Width;

    /// <summary>The per-example shape <c>[Channels, Height, Width]</c>.</summary>
    public int[] ExampleShape => [Channels, Height, Width];

    /// <summary>
    /// Decodes the image file at <paramref name="path"/> into <paramref name="destination"/> <c>[Channels, Height, Width]</c>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not <see cref="ExampleLength"/> floats.</exception>
    /// <exception cref="InvalidDataException">The file is empty, truncated, corrupt or not an image format StbImageSharp decodes (the message names the file).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public void Decode(string path, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(path);
        Decode(File.ReadAllBytes(path), path, destination);
    }

    /// <summary>Decodes an encoded image held in <paramref name="bytes"/>; <paramref name="sourceName"/> names it in errors.</summary>
    /// <inheritdoc cref="Decode(string, Span{float})"/>
    public void Decode(byte[] bytes, string sourceName, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (destination.Length != ExampleLength)
            throw new ArgumentException($"destination has {destination.Length} floats, expected {Channels} × {Height} × {Width} = {ExampleLength}.", nameof(destination));
        var image = DecodeBytes(bytes, sourceName, Channels);
        int h = image.Height, w = image.Width;
        float[] planes = new float[checked(Channels * h * w)];   // [Channels, h, w] in [0, 1]
        ToPlanes(image, planes);
        ImageResize.Bilinear(planes, Channels, h, w, destination, Height, Width);
        if (Mean is not null && Std is not null)
        {
            int plane = Height * Width;
            for (int c = 0; c < Channels; c++)
            {
                float m = Mean[c], s = Std[c];
                var values = destination.Slice(c * plane, plane);
                for (int i = 0; i < values.Length; i++) values[i] = (values[i] - m) / s;
            }
        }
    }

    /// <summary>Stores this record in <paramref name="metadata"/> under <see cref="MetadataKey"/> (JSON), for saving with a model.</summary>
    public void AddTo(IDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("channels", Channels);
            json.WriteNumber("height", Height);
            json.WriteNumber("width", Width);
            if (Mean is not null && Std is not null)
            {
                json.WriteStartArray("mean");
                foreach (float m in Mean) json.WriteNumberValue(m);
                json.WriteEndArray();
                json.WriteStartArray("std");
                foreach (float s in Std) json.WriteNumberValue(s);
                json.WriteEndArray();
            }
            json.WriteEndObject();
        }
        metadata[MetadataKey] = Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The preprocessing stored under <see cref="MetadataKey"/>, or <see langword="null"/> when there is none.</summary>
    /// <param name="metadata">A weights file's metadata.</param>
    /// <param name="sourceName">Names the file in error messages.</param>
    /// <exception cref="InvalidDataException">The entry is not the JSON <see cref="AddTo"/> writes or holds invalid values (the message names the file).</exception>
    public static ImagePreprocessing? Read(IReadOnlyDictionary<string, string> metadata, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue(MetadataKey, out string? text)) return null;
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            float[]? Floats(string name) => root.TryGetProperty(name, out var a) ? [.. a.EnumerateArray().Select(e => e.GetSingle())] : null;
            return new ImagePreprocessing(root.GetProperty("channels").GetInt32(), root.GetProperty("height").GetInt32(),
                                          root.GetProperty("width").GetInt32(), Floats("mean"), Floats("std"));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"{sourceName}: metadata '{MetadataKey}' is not a valid image preprocessing ({e.Message}): '{text}'.", e);
        }
    }

    /// <summary>Decodes with StbImageSharp, after the checks stb_image does not make (it zero-fills truncated JPEG and BMP data).</summary>
    internal static ImageResult DecodeBytes(byte[] bytes, string sourceName, int channels)
    {
        if (bytes.Length == 0) throw new InvalidDataException($"{sourceName}: empty file (0 bytes), not an image.");
        CheckComplete(bytes, sourceName);
        ImageResult image;
        try
        {
            // Colour is requested from the decoder (it drops alpha, repeats grey); greyscale is converted here with PIL's weights.
            image = ImageResult.FromMemory(bytes, channels == 3 ? ColorComponents.RedGreenBlue : ColorComponents.Default);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string reason = string.IsNullOrWhiteSpace(e.Message) ? "the decoder gave no reason" : e.Message.Trim();
            throw new InvalidDataException($"{sourceName}: cannot decode the image ({reason}); expected a valid PNG, JPEG or BMP file.", e);
        }
        if (image is null || image.Data is null || image.Width <= 0 || image.Height <= 0)
            throw new InvalidDataException($"{sourceName}: cannot decode the image; expected a valid PNG, JPEG or BMP file.");
        return image;
    }

    /// <summary>
    /// Rejects PNGs without their closing IEND chunk, JPEGs without an end-of-image marker and BMPs shorter than their pixel
    /// array (PIL refuses all three as truncated; stb_image zero-fills the last two and gives no reason for the first).
    /// </summary>
    private static void CheckComplete(byte[] b, string sourceName)
    {
        if (b.Length >= 8 && b.AsSpan(0, 8).SequenceEqual((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]))
        {
            // IEND is an empty chunk: length 0, type "IEND", CRC AE 42 60 82; nothing may follow it.
            if (!b.AsSpan().EndsWith((ReadOnlySpan<byte>)[(byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82]))
                throw new InvalidDataException($"{sourceName}: truncated PNG: the file does not end with the IEND chunk.");
        }
        else if (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        {
            // The EOI marker FF D9 ends the data; some writers append a few bytes after it, so look in the last 4 KiB.
            int from = Math.Max(2, b.Length - 4096);
            if (b.AsSpan(from).IndexOf((ReadOnlySpan<byte>)[0xFF, 0xD9]) < 0)
                throw new InvalidDataException($"{sourceName}: truncated JPEG: no end-of-image marker (FF D9) in the file's last bytes.");
        }
        else if (b.Length >= 2 && b[0] == (byte)'B' && b[1] == (byte)'M')
        {
            if (b.Length < 30) throw new InvalidDataException($"{sourceName}: truncated BMP: {b.Length} bytes cannot hold the headers.");
            long offset = BitConverter.ToUInt32(b, 10);
            int headerSize = BitConverter.ToInt32(b, 14);
            long width, height;
            int bits, compression = 0;
            if (headerSize == 12)
            {
                width = BitConverter.ToUInt16(b, 18);
                height = BitConverter.ToUInt16(b, 20);
                bits = BitConverter.ToUInt16(b, 24);
            }
            else
            {
                if (b.Length < 34) throw new InvalidDataException($"{sourceName}: truncated BMP: {b.Length} bytes cannot hold the headers.");
                width = BitConverter.ToInt32(b, 18);
                height = Math.Abs((long)BitConverter.ToInt32(b, 22));
                bits = BitConverter.ToUInt16(b, 28);
                compression = BitConverter.ToInt32(b, 30);
            }
            if (compression is 0 or 3 or 6 && width > 0 && bits > 0)   // uncompressed rows (BI_RGB, BI_BITFIELDS): size is known
            {
                long stride = (width * bits + 31) / 32 * 4;
                long needed = offset + stride * height;
                if (b.Length < needed)
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                        $"{sourceName}: truncated BMP: {width}×{height} at {bits} bits per pixel needs {needed} bytes, the file has {b.Length}."));
            }
        }
    }

    /// <summary>Writes the decoded bytes as <c>[Channels, h, w]</c> floats in [0, 1].</summary>
    private void ToPlanes(ImageResult image, Span<float> planes)
    {
        byte[] data = image.Data;
        int pixels = image.Width * image.Height;
        int components = (int)image.Comp;   // ColorComponents values are the channel counts 1..4
        if (Channels == 3)
        {
            for (int c = 0; c < 3; c++)
            {
                var plane = planes.Slice(c * pixels, pixels);
                for (int i = 0; i < pixels; i++) plane[i] = data[i * 3 + c] / 255f;
            }
            return;
        }
        if (components <= 2)
        {
            for (int i = 0; i < pixels; i++) planes[i] = data[i * components] / 255f;
            return;
        }
        for (int i = 0; i < pixels; i++)
        {
            int p = i * components;
            int luma = (data[p] * 19595 + data[p + 1] * 38470 + data[p + 2] * 7471 + 0x8000) >> 16;
            planes[i] = luma / 255f;
        }
    }
}
