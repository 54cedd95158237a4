// Writes the vendored MNIST split as two image folders, OUT/train/<digit>/<n>.png and OUT/test/<digit>/<n>.png
// (8-bit greyscale 28x28 PNGs, n = the digit's position in its IDX file, zero-padded so names sort in file order).
// Usage: dotnet run --project tools/mnist-png -- OUT [--data DIR] [--per-class N]
//   --data       the folder with the four .idx.gz files (default samples/Mnist/data)
//   --per-class  keep only the first N digits of each class in each split (a small subset for tests and CI)
using ModelGen.Data;
using StbImageWriteSharp;

string? output = null, data = null;
int perClass = int.MaxValue;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data" when i + 1 < args.Length: data = args[++i]; break;
        case "--per-class" when i + 1 < args.Length && int.TryParse(args[i + 1], out int n) && n > 0: perClass = n; i++; break;
        default:
            if (args[i].StartsWith("--", StringComparison.Ordinal) || output is not null)
            {
                Console.Error.WriteLine($"mnist-png: unexpected argument '{args[i]}'. Usage: mnist-png OUT [--data DIR] [--per-class N]");
                return 2;
            }
            output = args[i];
            break;
    }
}
if (output is null)
{
    Console.Error.WriteLine("mnist-png: no output folder. Usage: mnist-png OUT [--data DIR] [--per-class N]");
    return 2;
}
data ??= FindVendoredData();
var (train, test) = Mnist.Load(data);
foreach (var (split, set) in new[] { ("train", train), ("test", test) })
{
    var written = new int[Mnist.ClassCount];
    var pixels = new byte[Mnist.ImageSize * Mnist.ImageSize];
    for (int i = 0; i < set.Count; i++)
    {
        int label = set.Labels![i];
        if (written[label] >= perClass) continue;
        var example = set.Example(i);
        // The IDX bytes were scaled by 1/255 on load; this inverts it exactly (round to the nearest byte).
        for (int p = 0; p < pixels.Length; p++) pixels[p] = (byte)MathF.Round(example[p] * 255f);
        string dir = Path.Combine(output, split, label.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        using var file = File.Create(Path.Combine(dir, $"{i:D5}.png"));
        new ImageWriter().WritePng(pixels, Mnist.ImageSize, Mnist.ImageSize, ColorComponents.Grey, file);
        written[label]++;
    }
    Console.WriteLine($"{split}: {written.Sum()} PNGs in {Path.Combine(output, split)} ({string.Join(" ", written)} per digit)");
}
return 0;

static string FindVendoredData()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "ModelGen.sln"))) return Path.Combine(dir.FullName, "samples", "Mnist", "data");
    return Path.Combine("samples", "Mnist", "data");
}
