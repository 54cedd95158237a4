// Loads the vendored MNIST subset (samples/Mnist/data, produced by tools/mnist/convert.py) as two Datasets.
namespace ModelGen.Data;

/// <summary>Loads MNIST-style IDX files as classification <see cref="Dataset"/>s of <c>[1, 28, 28]</c> images in [0, 1].</summary>
public static class Mnist
{
    /// <summary>Image height and width.</summary>
    public const int ImageSize = 28;

    /// <summary>Number of classes (digits 0–9).</summary>
    public const int ClassCount = 10;

    /// <summary>File names looked up by <see cref="Load"/>.</summary>
    public const string TrainImages = "train-images.idx.gz", TrainLabels = "train-labels.idx.gz",
                        TestImages = "test-images.idx.gz", TestLabels = "test-labels.idx.gz";

    /// <summary>Per-example shape <c>[1, 28, 28]</c> (channels, height, width), as a convolutional model expects.</summary>
    public static ReadOnlySpan<int> ExampleShape => [1, ImageSize, ImageSize];

    /// <summary>
    /// Loads <c>train-{images,labels}.idx.gz</c> and <c>test-{images,labels}.idx.gz</c> from <paramref name="directory"/>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist (the message names it and the four files it should hold).</exception>
    /// <exception cref="FileNotFoundException">A file is missing (the message names it and the four files the directory should hold).</exception>
    /// <exception cref="InvalidDataException">A file is malformed, or an image file and its label file disagree on the count.</exception>
    public static (Dataset Train, Dataset Test) Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"MNIST directory {Describe(directory)} does not exist; it should hold {ExpectedFiles} (as samples/Mnist/data does).");
        return (LoadSplit(directory, TrainImages, TrainLabels), LoadSplit(directory, TestImages, TestLabels));
    }

    private const string ExpectedFiles = $"{TrainImages}, {TrainLabels}, {TestImages} and {TestLabels}";

    /// <summary>'dir', with its absolute path when it was given relative (the working directory is often the surprise).</summary>
    private static string Describe(string directory)
    {
        string full = Path.GetFullPath(directory);
        return full == directory ? $"'{directory}'" : $"'{directory}' ({full})";
    }

    private static Dataset LoadSplit(string directory, string imageFile, string labelFile)
    {
        string imagePath = Path.Combine(directory, imageFile), labelPath = Path.Combine(directory, labelFile);
        foreach (var path in (ReadOnlySpan<string>)[imagePath, labelPath])
            if (!File.Exists(path))
                throw new FileNotFoundException($"MNIST file '{Path.GetFileName(path)}' is missing from {Describe(directory)}, which should hold {ExpectedFiles}.", path);
        float[] images = Idx.ReadImages(imagePath, ImageSize, ImageSize);
        int[] labels = Idx.ReadLabels(labelPath, ClassCount);
        int imageCount = images.Length / (ImageSize * ImageSize);
        if (imageCount != labels.Length)
            throw new InvalidDataException($"{imagePath} has {imageCount} images but {labelPath} has {labels.Length} labels; expected the same count.");
        return Dataset.FromArrays(images, labels, ExampleShape, ClassCount);
    }
}
