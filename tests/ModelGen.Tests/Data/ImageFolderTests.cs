// Image folders: torchvision's class order, every format and channel conversion, resizing against a double reference
// and PyTorch's F.interpolate values, normalisation, metadata, and each bad input rejected naming the file.
using ModelGen.Data;
using StbImageWriteSharp;

namespace ModelGen.Tests.Data;

public sealed class ImageFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("imagefolder-tests-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    internal static byte[] Encode(string format, byte[] pixels, int width, int height, ColorComponents components)
    {
        using var stream = new MemoryStream();
        var writer = new ImageWriter();
        switch (format)
        {
            case "png": writer.WritePng(pixels, width, height, components, stream); break;
            case "bmp": writer.WriteBmp(pixels, width, height, components, stream); break;
            default: writer.WriteJpg(pixels, width, height, components, stream, 95); break;
        }
        return stream.ToArray();
    }

    private string Put(string relative, byte[] bytes)
    {
        string path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Grey(int width, int height, Func<int, int, int> value)
    {
        var p = new byte[width * height];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) p[y * width + x] = (byte)value(y, x);
        return p;
    }

    [Fact]
    public void Load_ClassesSortedOrdinally_FilesRecursiveAndSorted_OtherFilesSkipped()
    {
        Put("b/2.png", Encode("png", Grey(2, 2, (_, _) => 20), 2, 2, ColorComponents.Grey));
        Put("b/1.PNG", Encode("png", Grey(2, 2, (_, _) => 10), 2, 2, ColorComponents.Grey));
        Put("a/sub/9.bmp", Encode("bmp", Grey(2, 2, (_, _) => 90), 2, 2, ColorComponents.Grey));
        Put("a/notes.txt", "not an image"u8.ToArray());
        Put("C/x.png", Encode("png", Grey(2, 2, (_, _) => 255), 2, 2, ColorComponents.Grey));
        var data = ImageFolder.Load(_root, new ImagePreprocessing(1, 2, 2));
        Assert.Equal(["C", "a", "b"], data.ClassNames!.ToArray());   // Python's sorted(): upper case first
        Assert.Equal([0, 1, 2, 2], data.Labels!);
        Assert.Equal([255f / 255, 90f / 255, 10f / 255, 20f / 255], [data.Example(0)[0], data.Example(1)[0], data.Example(2)[0], data.Example(3)[0]]);
        Assert.Equal([1, 2, 2], data.ExampleShape);
    }

    [Fact]
    public void Decode_ChannelConversions_ExactForLosslessFormats()
    {
        // One 2×1 RGB image: pure red and a grey-ish pixel.
        byte[] rgb = [255, 0, 0, 10, 200, 30];
        string png = Put("rgb.png", Encode("png", rgb, 2, 1, ColorComponents.RedGreenBlue));
        var colour = new float[6];
        new ImagePreprocessing(3, 1, 2).Decode(png, colour);
        Assert.Equal([1f, 10f / 255, 0f, 200f / 255, 0f, 30f / 255], colour);   // [C, H, W]
        var grey = new float[2];
        new ImagePreprocessing(1, 1, 2).Decode(png, grey);
        // PIL convert("L"): (19595 R + 38470 G + 7471 B + 32768) >> 16.
        Assert.Equal([((255 * 19595 + 32768) >> 16) / 255f, ((10 * 19595 + 200 * 38470 + 30 * 7471 + 32768) >> 16) / 255f], grey);

        string bmp = Put("g.bmp", Encode("bmp", [7, 250], 2, 1, ColorComponents.Grey));
        new ImagePreprocessing(3, 1, 2).Decode(bmp, colour);
        Assert.Equal([7f / 255, 250f / 255, 7f / 255, 250f / 255, 7f / 255, 250f / 255], colour);   // grey repeated

        byte[] rgba = [0, 0, 255, 0, 100, 100, 100, 255];   // alpha dropped, not composited
        string pngA = Put("a.png", Encode("png", rgba, 2, 1, ColorComponents.RedGreenBlueAlpha));
        new ImagePreprocessing(3, 1, 2).Decode(pngA, colour);
        Assert.Equal([0f, 100f / 255, 0f, 100f / 255, 1f, 100f / 255], colour);
    }

    [Fact]
    public void Decode_Jpeg_CloseToSource()
    {
        var pixels = Grey(16, 16, (y, x) => 8 * y + 4 * x);
        string jpg = Put("g.jpg", Encode("jpg", pixels, 16, 16, ColorComponents.Grey));
        var values = new float[256];
        new ImagePreprocessing(1, 16, 16).Decode(jpg, values);
        for (int i = 0; i < 256; i++) Assert.True(Math.Abs(values[i] * 255 - pixels[i]) <= 6, $"pixel {i}: {values[i] * 255} vs {pixels[i]}");
    }

    [Fact]
    public void Load_MixedSizes_AllResizedToThePreprocessingShape()
    {
        Put("a/small.png", Encode("png", [0, 255, 255, 0], 2, 2, ColorComponents.Grey));
        Put("a/large.png", Encode("png", Grey(9, 5, (_, _) => 51), 9, 5, ColorComponents.Grey));
        Put("b/odd.bmp", Encode("bmp", Grey(1, 1, (_, _) => 102), 1, 1, ColorComponents.Grey));
        var data = ImageFolder.Load(_root, new ImagePreprocessing(1, 4, 4));
        Assert.Equal(3, data.Count);
        Assert.All(data.Example(0).ToArray(), v => Assert.Equal(0.2f, v, 6));     // uniform stays uniform ("a/large" sorts first)
        Assert.All(data.Example(2).ToArray(), v => Assert.Equal(0.4f, v, 6));
        var small = data.Example(1).ToArray();
        var expected = ReferenceBilinear([0, 1, 1, 0], 1, 2, 2, 4, 4);
        for (int i = 0; i < 16; i++) Assert.Equal(expected[i], small[i], 6);
    }

    [Fact]
    public void Bilinear_MatchesPyTorchValues()
    {
        // F.interpolate(torch.tensor([[0., 1], [2, 3]])[None, None], size=(4, 4), mode="bilinear", align_corners=False)
        var output = new float[16];
        ImageResize.Bilinear([0, 1, 2, 3], 1, 2, 2, output, 4, 4);
        Assert.Equal([0f, 0.25f, 0.75f, 1f, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2f, 2.25f, 2.75f, 3f], output);
    }

    [Fact]
    public void Bilinear_OddSizesUpAndDown_MatchDoubleReference()
    {
        var rng = new Rng(3);
        int[] sizes = [1, 3, 7, 17, 33];
        foreach (int h in sizes)
            foreach (int w in sizes)
                foreach (var (oh, ow) in ((int, int)[])[(1, 3), (7, 7), (17, 1), (33, 17), (3, 33)])
                {
                    var src = new float[2 * h * w];
                    for (int i = 0; i < src.Length; i++) src[i] = rng.NextFloat();
                    var dst = new float[2 * oh * ow];
                    ImageResize.Bilinear(src, 2, h, w, dst, oh, ow);
                    var expected = ReferenceBilinear(src, 2, h, w, oh, ow);
                    for (int i = 0; i < dst.Length; i++)
                        Assert.True(Math.Abs(dst[i] - expected[i]) <= 1e-5, $"{h}x{w} -> {oh}x{ow} [{i}]: {dst[i]} vs {expected[i]}");
                }
    }

    /// <summary>PyTorch's upsample_bilinear2d (align_corners=False) in double, written from its definition.</summary>
    private static double[] ReferenceBilinear(float[] src, int c, int h, int w, int oh, int ow)
    {
        var result = new double[c * oh * ow];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                {
                    double sy = Math.Max(0, (y + 0.5) * h / oh - 0.5), sx = Math.Max(0, (x + 0.5) * w / ow - 0.5);
                    int y0 = (int)sy, x0 = (int)sx, y1 = Math.Min(y0 + 1, h - 1), x1 = Math.Min(x0 + 1, w - 1);
                    double ly = sy - y0, lx = sx - x0;
                    double At(int yy, int xx) => src[ch * h * w + yy * w + xx];
                    result[ch * oh * ow + y * ow + x] = (1 - ly) * ((1 - lx) * At(y0, x0) + lx * At(y0, x1)) + ly * ((1 - lx) * At(y1, x0) + lx * At(y1, x1));
                }
        return result;
    }

    [Fact]
    public void Normalisation_PerChannel_AndMetadataRoundTrip()
    {
        string png = Put("rgb.png", Encode("png", [255, 0, 51], 1, 1, ColorComponents.RedGreenBlue));
        var prep = new ImagePreprocessing(3, 1, 1, mean: [0.5f, 0.25f, 0f], std: [0.5f, 0.25f, 0.1f]);
        var values = new float[3];
        prep.Decode(png, values);
        Assert.Equal([1f, -1f, 2f], values);
        var meta = new Dictionary<string, string>();
        prep.AddTo(meta);
        var back = ImagePreprocessing.Read(meta, "w.safetensors")!;
        Assert.Equal((3, 1, 1), (back.Channels, back.Height, back.Width));
        Assert.Equal(prep.Mean, back.Mean);
        Assert.Equal(prep.Std, back.Std);
        var e = Assert.Throws<InvalidDataException>(() => ImagePreprocessing.Read(new Dictionary<string, string> { [ImagePreprocessing.MetadataKey] = "{\"channels\":2,\"height\":1,\"width\":1}" }, "w.safetensors"));
        Assert.Contains("w.safetensors: metadata 'modelgen.image' is not a valid image preprocessing", e.Message);
        Assert.Throws<ArgumentException>(() => new ImagePreprocessing(3, 1, 1, mean: [0f], std: [1f]));
        Assert.Throws<ArgumentException>(() => new ImagePreprocessing(1, 1, 1, mean: [0f], std: [0f]));
    }

    [Fact]
    public void Load_FolderProblems_NameTheFolder()
    {
        var e1 = Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Load(Path.Combine(_root, "nope"), new ImagePreprocessing(1, 2, 2)));
        Assert.Contains("nope", e1.Message);
        var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(_root, new ImagePreprocessing(1, 2, 2)));
        Assert.Contains("no class sub-folders", e.Message);
        Put("cat/1.png", Encode("png", [1, 2, 3, 4], 2, 2, ColorComponents.Grey));
        Put("dog/readme.txt", "x"u8.ToArray());
        e = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(_root, new ImagePreprocessing(1, 2, 2)));
        Assert.Contains($"{Path.Combine(_root, "dog")}: class folder 'dog' holds no image files (.png, .jpg, .jpeg, .bmp)", e.Message);
        Put("dog/1.png", Encode("png", [1, 2, 3, 4], 2, 2, ColorComponents.Grey));
        e = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(_root, new ImagePreprocessing(1, 2, 2), ["cat", "dog", "emu"]));
        Assert.Contains("classes [cat, dog] differ from the expected [cat, dog, emu]", e.Message);
    }

    [Theory]
    [InlineData("png", "empty")]
    [InlineData("png", "corrupt")]
    [InlineData("png", "truncated")]
    [InlineData("jpg", "truncated")]
    [InlineData("bmp", "truncated")]
    [InlineData("jpg", "corrupt")]
    public void Load_BadImage_NamesTheFileAndLoadsNothing(string format, string damage)
    {
        var good = Encode(format, Grey(8, 8, (y, x) => 30 * x + y), 8, 8, ColorComponents.Grey);
        Put($"a/good.{format}", good);
        byte[] bad = damage switch
        {
            "empty" => [],
            "truncated" => good[..(good.Length * 2 / 3)],
            _ => [.. good[..8], .. Enumerable.Repeat((byte)0x5A, good.Length), .. good[^12..]],   // right signature and ending, garbage between
        };
        string path = Put($"b/bad.{format}", bad);
        var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(_root, new ImagePreprocessing(1, 8, 8)));
        Assert.StartsWith(path + ":", e.Message);
        Assert.Contains(damage switch
        {
            "empty" => "empty file (0 bytes)",
            "truncated" => format switch { "png" => "truncated PNG", "jpg" => "truncated JPEG", _ => "truncated BMP" },
            _ => "cannot decode the image",
        }, e.Message);
    }
}
