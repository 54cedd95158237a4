// What BatchLoader and Trainer need from a dataset: its size and shapes, and each example on demand. Dataset (in
// memory) implements it, and so do sources that read examples from disk when asked (NpyDataSource; ImageFolderSource
// in ModelGen.Data), so data larger than memory trains through the same loader with the same seeded order.
namespace ModelGen.Data;

/// <summary>
/// A set of examples read by index: class labels or float targets, inputs of a fixed shape. <see cref="BatchLoader"/>
/// visits the indices in its seeded order and reads each example with <see cref="ReadExample"/>, so the batches depend
/// only on the seed and the examples, not on where they are stored.
/// </summary>
public interface IDataSource
{
    /// <summary>Number of examples.</summary>
    int Count { get; }

    /// <summary>Per-example shape, e.g. <c>[1, 28, 28]</c>. Do not modify.</summary>
    int[] ExampleShape { get; }

    /// <summary>Floats per example (the product of <see cref="ExampleShape"/>).</summary>
    int ExampleLength { get; }

    /// <summary>Whether examples have class labels (<see cref="Label"/>); otherwise they have <see cref="TargetLength"/> targets.</summary>
    bool HasLabels { get; }

    /// <summary>Number of classes; 0 without labels.</summary>
    int ClassCount { get; }

    /// <summary>Floats of target per example; 0 for a classification source.</summary>
    int TargetLength { get; }

    /// <summary>The class label of example <paramref name="index"/>, in <c>[0, ClassCount)</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    /// <exception cref="InvalidOperationException">The source has no labels.</exception>
    int Label(int index);

    /// <summary>
    /// Writes example <paramref name="index"/>'s inputs to <paramref name="example"/> (<see cref="ExampleLength"/> floats) and
    /// its targets to <paramref name="target"/> (<see cref="TargetLength"/> floats; empty for a classification source).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    /// <exception cref="IOException">A disk-backed source could not read the example (the message names the file).</exception>
    /// <exception cref="InvalidDataException">A disk-backed source found the example's data malformed (the message names the file).</exception>
    void ReadExample(int index, Span<float> example, Span<float> target);
}
