// An image classification set laid out as torchvision's ImageFolder expects: root/<class>/<...>/<image>. Class names
// are the sub-folder names sorted ordinally (Python's sorted(), so class i is the same here and in PyTorch), files are
// found recursively in sorted order, other extensions are skipped, and a class folder without images is an error.
namespace ModelGen.Data;

/// <summary>The files of an image folder: class names and, per image, its path and label, in torchvision's order.</summary>
/// <param name="Root">The folder scanned.</param>
/// <param name="ClassNames">Sub-folder names, sorted ordinally; label <c>i</c> is <c>ClassNames[i]</c>.</param>
/// <param name="Files">Every image path (classes in label order, each class's files in sorted relative-path order).</param>
/// <param name="Labels">The label of each file.</param>
public sealed record ImageFolderIndex(string Root, IReadOnlyList<string> ClassNames, IReadOnlyList<string> Files, IReadOnlyList<int> Labels);

/// <summary>Loads image folders (one sub-folder per class) as classification datasets, like torchvision's <c>ImageFolder</c>.</summary>
/// <example>
/// <code>
/// var prep = new ImagePreprocessing(channels: 1, height: 28, width: 28);
/// Dataset train = ImageFolder.Load("data/train", prep);      // train.ClassNames: sorted sub-folder names
/// </code>
/// </example>
public static class ImageFolder
{
    /// <summary>The file extensions read (compared case-insensitively); other files are skipped.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp"];

    /// <summary>Lists the classes and image files under <paramref name="root"/> without decoding anything.</summary>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist (the message gives its full path).</exception>
    /// <exception cref="InvalidDataException">The folder has no class sub-folders, or a class folder holds no image files (the message names it and the extensions read).</exception>
    public static ImageFolderIndex Scan(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"Image folder '{root}' ({Path.GetFullPath(root)}) does not exist; expected one sub-folder per class holding its images.");
        string[] classes = [.. Directory.GetDirectories(root).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        if (classes.Length == 0)
            throw new InvalidDataException($"{root}: no class sub-folders; expected one sub-folder per class (e.g. {Path.Combine(root, "cat")}, {Path.Combine(root, "dog")}) holding its images.");
        var files = new List<string>();
        var labels = new List<int>();
        for (int c = 0; c < classes.Length; c++)
        {
            string dir = Path.Combine(root, classes[c]);
            var images = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .Order(StringComparer.Ordinal)
                .ToArray();
            if (images.Length == 0)
                throw new InvalidDataException($"{dir}: class folder '{classes[c]}' holds no image files ({string.Join(", ", Extensions)}); remove it or add its images.");
            files.AddRange(images);
            labels.AddRange(Enumerable.Repeat(c, images.Length));
        }
        return new ImageFolderIndex(root, classes, files, labels);
    }

    /// <summary>
    /// Decodes every image under <paramref name="root"/> with <paramref name="preprocessing"/> into an in-memory
    /// classification <see cref="Dataset"/> of <c>[Channels, Height, Width]</c> examples, with the class names. Images
    /// of any size are resized to the preprocessing's size. All or nothing: any bad file fails the whole load.
    /// </summary>
    /// <param name="root">The folder with one sub-folder per class.</param>
    /// <param name="preprocessing">Decoding, resizing and normalisation.</param>
    /// <param name="classNames">
    /// The classes to expect, in label order (e.g. the training set's, when loading a test folder), or <see langword="null"/>
    /// to take the folder's own. The folder's classes must then be exactly these.
    /// </param>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// No class folders, a class folder without images, a folder whose classes differ from <paramref name="classNames"/>, or an
    /// image that is empty, truncated or corrupt (the message names the file).
    /// </exception>
    public static Dataset Load(string root, ImagePreprocessing preprocessing, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        var index = Scan(root);
        CheckClasses(index, classNames);
        int length = preprocessing.ExampleLength;
        var inputs = new float[checked(index.Files.Count * length)];
        for (int i = 0; i < index.Files.Count; i++)
            preprocessing.Decode(index.Files[i], inputs.AsSpan(i * length, length));
        return Dataset.FromArrays(inputs, [.. index.Labels], preprocessing.ExampleShape, index.ClassNames.Count, index.ClassNames);
    }

    internal static void CheckClasses(ImageFolderIndex index, IReadOnlyList<string>? expected)
    {
        if (expected is null || expected.SequenceEqual(index.ClassNames, StringComparer.Ordinal)) return;
        throw new InvalidDataException(
            $"{index.Root}: classes [{string.Join(", ", index.ClassNames)}] differ from the expected [{string.Join(", ", expected)}] " +
            "(the training set's); give both folders the same class sub-folders.");
    }
}
