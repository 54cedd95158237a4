// An in-memory dataset: examples laid out back to back in one float[] (row-major, shape [Count, ExampleShape...]),
// with either integer class labels (classification) or float targets (regression, BCE). Validated once on
// construction so the hot path (BatchLoader) can copy without checks.
namespace ModelGen.Data;

/// <summary>
/// An in-memory set of examples with class labels or regression targets. The arrays are used as given (not copied):
/// do not modify them while the dataset is in use.
/// </summary>
public sealed partial class Dataset : IDataSource
{
    private Dataset(float[] inputs, int[] exampleShape, int exampleLength, int count, int[]? labels, int classCount,
                    float[]? targets, int targetLength, string[]? classNames = null)
    {
        ClassNames = classNames;
        Inputs = inputs;
        ExampleShape = exampleShape;
        ExampleLength = exampleLength;
        Count = count;
        Labels = labels;
        ClassCount = classCount;
        Targets = targets;
        TargetLength = targetLength;
    }

    /// <summary>Number of examples.</summary>
    public int Count { get; }

    /// <summary>Number of floats in one example (the product of <see cref="ExampleShape"/>).</summary>
    public int ExampleLength { get; }

    /// <summary>Per-example shape, e.g. <c>[1, 28, 28]</c>. A copy of the shape given on construction.</summary>
    public int[] ExampleShape { get; }

    /// <summary>All examples back to back: <c>[Count, ExampleLength]</c>.</summary>
    public float[] Inputs { get; }

    /// <summary>Class labels <c>[Count]</c> in <c>[0, ClassCount)</c>, or <see langword="null"/> for a target dataset.</summary>
    public int[]? Labels { get; }

    /// <summary>Targets <c>[Count, TargetLength]</c>, or <see langword="null"/> for a classification dataset.</summary>
    public float[]? Targets { get; }

    /// <summary>Floats per example in <see cref="Targets"/>; 0 for a classification dataset.</summary>
    public int TargetLength { get; }

    /// <summary>Number of classes; 0 for a target (regression) dataset.</summary>
    public int ClassCount { get; }

    /// <summary>The name of each class (index = label), or <see langword="null"/> when none were given.</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>Creates a classification dataset.</summary>
    /// <param name="inputs">Examples back to back, <c>[count, product(exampleShape)]</c>.</param>
    /// <param name="labels">One class index per example, each in <c>[0, classCount)</c>.</param>
    /// <param name="exampleShape">Per-example shape (every dimension positive).</param>
    /// <param name="classCount">Number of classes (positive).</param>
    /// <param name="classNames">Optional name of each class (index = label): <paramref name="classCount"/> distinct names; copied.</param>
    /// <exception cref="ArgumentException">
    /// Lengths are inconsistent with the shape, a label is out of range (the message names its index and value), or
    /// <paramref name="classNames"/> has another count than <paramref name="classCount"/> or a repeated name.
    /// </exception>
    public static Dataset FromArrays(float[] inputs, int[] labels, ReadOnlySpan<int> exampleShape, int classCount,
                                     IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        int exampleLength = CheckedExampleLength(exampleShape);
        int count = CheckedCount(inputs.Length, exampleLength, exampleShape);
        if (labels.Length != count)
            throw new ArgumentException(
                $"labels has {labels.Length} entries, expected {count} (one per example: inputs has {inputs.Length} floats = {count} × {exampleLength}).",
                nameof(labels));
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException($"labels[{i}] = {labels[i]} is outside [0, {classCount}).", nameof(labels));
        }
        string[]? names = null;
        if (classNames is not null)
        {
            if (classNames.Count != classCount)
                throw new ArgumentException($"classNames has {classNames.Count} names, expected {classCount} (one per class).", nameof(classNames));
            names = [.. classNames];
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < names.Length; i++)
                if (names[i] is null || !seen.Add(names[i]))
                    throw new ArgumentException($"classNames[{i}] is {(names[i] is null ? "null" : $"'{names[i]}', a repeat")}; class names must be distinct.", nameof(classNames));
        }
        return new Dataset(inputs, exampleShape.ToArray(), exampleLength, count, labels, classCount, null, 0, names);
    }

    /// <summary>Creates a dataset with float targets (regression, binary cross-entropy, multi-label).</summary>
    /// <param name="inputs">Examples back to back, <c>[count, product(exampleShape)]</c>.</param>
    /// <param name="targets">Targets back to back, <c>[count, targetLength]</c>.</param>
    /// <param name="exampleShape">Per-example shape (every dimension positive).</param>
    /// <param name="targetLength">Floats per example in <paramref name="targets"/> (positive).</param>
    /// <exception cref="ArgumentException">Lengths are inconsistent with the shapes.</exception>
    public static Dataset FromArrays(float[] inputs, float[] targets, ReadOnlySpan<int> exampleShape, int targetLength)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetLength);
        int exampleLength = CheckedExampleLength(exampleShape);
        int count = CheckedCount(inputs.Length, exampleLength, exampleShape);
        if ((long)count * targetLength != targets.Length)
            throw new ArgumentException(
                $"targets has {targets.Length} floats, expected {(long)count * targetLength} ({count} examples × {targetLength}).",
                nameof(targets));
        return new Dataset(inputs, exampleShape.ToArray(), exampleLength, count, null, 0, targets, targetLength);
    }

    /// <summary>The inputs of example <paramref name="index"/>: <c>[ExampleLength]</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    public ReadOnlySpan<float> Example(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {Count})");
        return Inputs.AsSpan(index * ExampleLength, ExampleLength);
    }

    /// <summary>The targets of example <paramref name="index"/>: <c>[TargetLength]</c> (empty for a classification dataset).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    public ReadOnlySpan<float> Target(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {Count})");
        return Targets is null ? default : Targets.AsSpan(index * TargetLength, TargetLength);
    }

    /// <inheritdoc/>
    public bool HasLabels => Labels is not null;

    /// <inheritdoc/>
    public int Label(int index)
    {
        if (Labels is null) throw new InvalidOperationException("This dataset has targets, not class labels.");
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {Count})");
        return Labels[index];
    }

    /// <inheritdoc/>
    public void ReadExample(int index, Span<float> example, Span<float> target)
    {
        if (example.Length != ExampleLength)
            throw new ArgumentException($"example has {example.Length} floats, expected {ExampleLength}.", nameof(example));
        if (target.Length != TargetLength)
            throw new ArgumentException($"target has {target.Length} floats, expected {TargetLength}.", nameof(target));
        Example(index).CopyTo(example);
        Target(index).CopyTo(target);
    }

    internal static int CheckedExampleLength(ReadOnlySpan<int> shape)
    {
        if (shape.IsEmpty)
            throw new ArgumentException("exampleShape is empty; give at least one dimension (e.g. [784] or [1, 28, 28]).", "exampleShape");
        long length = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] <= 0)
                throw new ArgumentException($"exampleShape[{i}] = {shape[i]}; every dimension must be positive.", "exampleShape");
            length *= shape[i];
            if (length > Array.MaxLength)
                throw new ArgumentException($"exampleShape {Format(shape)} has more than {Array.MaxLength} elements.", "exampleShape");
        }
        return (int)length;
    }

    private static int CheckedCount(int inputLength, int exampleLength, ReadOnlySpan<int> shape)
    {
        if (inputLength % exampleLength != 0)
            throw new ArgumentException(
                $"inputs has {inputLength} floats, not a multiple of the example length {exampleLength} (shape {Format(shape)}).",
                "inputs");
        return inputLength / exampleLength;
    }

    internal static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
