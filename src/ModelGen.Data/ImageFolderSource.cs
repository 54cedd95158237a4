// An image folder read lazily: the folder is scanned (names and labels only) up front, and each image is decoded when
// the loader asks for it, so a folder larger than memory trains with the same seeded batches as ImageFolder.Load.
namespace ModelGen.Data;

/// <summary>
/// An image folder as an <see cref="IDataSource"/> that decodes each image on demand with the given preprocessing: the
/// same examples, labels and class names as <see cref="ImageFolder.Load"/>, without holding the decoded images. Decoding
/// allocates (file bytes and the decoded image) per example.
/// </summary>
public sealed class ImageFolderSource : IDataSource
{
    private readonly ImageFolderIndex _index;
    private readonly ImagePreprocessing _preprocessing;

    /// <summary>Scans <paramref name="root"/> (see <see cref="ImageFolder.Scan"/>); images are decoded later, when read.</summary>
    /// <param name="root">The folder with one sub-folder per class.</param>
    /// <param name="preprocessing">Decoding, resizing and normalisation.</param>
    /// <param name="classNames">The classes to expect in label order, or <see langword="null"/> for the folder's own.</param>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist.</exception>
    /// <exception cref="InvalidDataException">No class folders, a class folder without images, or classes other than <paramref name="classNames"/>.</exception>
    public ImageFolderSource(string root, ImagePreprocessing preprocessing, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        _index = ImageFolder.Scan(root);
        ImageFolder.CheckClasses(_index, classNames);
        _preprocessing = preprocessing;
        ExampleShape = preprocessing.ExampleShape;
    }

    /// <summary>The class names (sorted sub-folder names).</summary>
    public IReadOnlyList<string> ClassNames => _index.ClassNames;

    /// <summary>The image files, in label order.</summary>
    public IReadOnlyList<string> Files => _index.Files;

    /// <inheritdoc/>
    public int Count => _index.Files.Count;

    /// <inheritdoc/>
    public int[] ExampleShape { get; }

    /// <inheritdoc/>
    public int ExampleLength => _preprocessing.ExampleLength;

    /// <inheritdoc/>
    public bool HasLabels => true;

    /// <inheritdoc/>
    public int ClassCount => _index.ClassNames.Count;

    /// <inheritdoc/>
    public int TargetLength => 0;

    /// <inheritdoc/>
    public int Label(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {Count})");
        return _index.Labels[index];
    }

    /// <inheritdoc/>
    public void ReadExample(int index, Span<float> example, Span<float> target)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {Count})");
        if (!target.IsEmpty) throw new ArgumentException($"target has {target.Length} floats, expected 0 (a classification source).", nameof(target));
        _preprocessing.Decode(_index.Files[index], example);
    }
}
