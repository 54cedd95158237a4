// Picks the declared network for (model, channels, size) and its training recipe.
using System.Globalization;
using ModelGen;

namespace ImageClassifier;

/// <summary>A declared network and how it is trained.</summary>
sealed record Network(string Name, Func<int, ITrainable> Create, string Summary, string Recipe, Func<Optimizer> Optimizer, Loss Loss, Schedule Schedule);

static class Networks
{
    /// <summary>The input sizes declared in Models.cs.</summary>
    public static readonly (int Height, int Width)[] Sizes = [(28, 28), (32, 32)];

    /// <summary>Parses "HxW" (e.g. 28x28) and checks a network is declared for it.</summary>
    public static (int Height, int Width) ParseSize(string text)
    {
        var parts = text.Split('x', 'X');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int h)
                              || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int w))
            throw new UsageException($"--size '{text}': expected HxW, e.g. 28x28.");
        if (!Sizes.Contains((h, w)))
            throw new UsageException($"--size {h}x{w}: networks are generated at compile time and declared for {string.Join(", ", Sizes.Select(s => $"{s.Height}x{s.Width}"))} " +
                                     "(images of any size are resized to the chosen one); declare another size in samples/ImageClassifier/Models.cs.");
        return (h, w);
    }

    public static Network Find(string model, int channels, int height, int width)
    {
        string name = $"{model}-{(channels == 1 ? "grey" : "colour")}-{height}x{width}";
        var (create, summary) = (model, channels, height) switch
        {
            ("lenet", 1, 28) => ((Func<int, ITrainable>)(s => new LeNetGrey28(s)), LeNetGrey28.Summary()),
            ("lenet", 3, 28) => (s => new LeNetColour28(s), LeNetColour28.Summary()),
            ("lenet", 1, 32) => (s => new LeNetGrey32(s), LeNetGrey32.Summary()),
            ("lenet", 3, 32) => (s => new LeNetColour32(s), LeNetColour32.Summary()),
            ("resnet", 1, 28) => (s => new ResNetGrey28(s), ResNetGrey28.Summary()),
            ("resnet", 3, 28) => (s => new ResNetColour28(s), ResNetColour28.Summary()),
            ("resnet", 1, 32) => (s => new ResNetGrey32(s), ResNetGrey32.Summary()),
            ("resnet", 3, 32) => (s => new ResNetColour32(s), ResNetColour32.Summary()),
            _ => throw new UsageException($"no network '{model}' declared for {channels}x{height}x{width}."),
        };
        // The MNIST sample's recipes for these two networks (samples/Mnist/Program.cs).
        return model == "lenet"
            ? new(name, create, summary, "AdamW(lr 2e-3, wd 5e-4), warm-up + cosine, label smoothing 0.1",
                  () => new AdamW(2e-3f, weightDecay: 5e-4f), Loss.CrossEntropyWithLabelSmoothing(0.1f), Schedule.WarmupCosine(200))
            : new(name, create, summary, "AdamW(lr 3e-3, wd 5e-4), warm-up + cosine, label smoothing 0.1",
                  () => new AdamW(3e-3f, weightDecay: 5e-4f), Loss.CrossEntropyWithLabelSmoothing(0.1f), Schedule.WarmupCosine(200));
    }
}
