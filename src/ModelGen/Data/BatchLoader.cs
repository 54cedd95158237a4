// Minibatches over a Dataset: a seeded per-epoch order, copies into buffers owned by the loader, optional seeded
// augmentation. The order of epoch e depends only on (seed, e), so a run can resume at any epoch and reproduce
// the same batches. Steady state (TryNext) allocates nothing.
namespace ModelGen.Data;

/// <summary>One minibatch. Its spans point into the loader's buffers and are valid until the next <see cref="BatchLoader.TryNext"/>.</summary>
public readonly ref struct Batch
{
    internal Batch(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int size)
    {
        Inputs = inputs;
        Labels = labels;
        Targets = targets;
        Size = size;
    }

    /// <summary>The examples back to back: <c>[Size, ExampleLength]</c>.</summary>
    public ReadOnlySpan<float> Inputs { get; }

    /// <summary>Class labels <c>[Size]</c>; empty for a dataset without labels.</summary>
    public ReadOnlySpan<int> Labels { get; }

    /// <summary>Targets <c>[Size, TargetLength]</c>; empty for a dataset without targets.</summary>
    public ReadOnlySpan<float> Targets { get; }

    /// <summary>Number of examples in this batch (the last one may be smaller unless <c>dropLast</c>).</summary>
    public int Size { get; }
}

/// <summary>
/// Iterates a <see cref="Dataset"/> in minibatches, like PyTorch's <c>DataLoader</c>: optionally shuffled with a
/// seeded order per epoch, optionally augmented. Reuses its buffers, so it allocates nothing per batch.
/// Not thread-safe.
/// </summary>
/// <example>
/// <code>
/// var loader = new BatchLoader(train, batchSize: 64, shuffle: true, seed: 1, new RandomShift(2));
/// for (int epoch = 0; epoch &lt; 10; epoch++)
/// {
///     loader.StartEpoch(epoch);
///     while (loader.TryNext(out var batch)) { /* batch.Inputs, batch.Labels, batch.Size */ }
/// }
/// </code>
/// </example>
public sealed class BatchLoader
{
    // Salt separating the augmentation stream from the order stream derived from the same (seed, epoch).
    private const ulong AugmentationSalt = 0xA5A5_1D2C_3B4A_5968UL;

    private readonly IDataSource _data;
    private readonly Dataset? _memory;     // the in-memory fast path: plain copies, no interface calls
    private readonly EpochOrder _order;
    private readonly ulong _seed;
    private readonly IAugmentation? _augmentation;
    private readonly float[] _inputs;       // [batchSize, ExampleLength]
    private readonly int[] _labels;         // [batchSize] or empty
    private readonly float[] _targets;      // [batchSize, TargetLength] or empty
    private Rng _augmentationRng;
    private int _size;                      // examples in the batch TryNext last produced

    /// <summary>
    /// Creates a loader positioned at the start of epoch 0. <paramref name="data"/> may be an in-memory <see cref="Dataset"/>
    /// or a source that reads examples from disk on demand (<see cref="NpyDataSource"/>); for the same seed both give the
    /// same batches in the same order.
    /// </summary>
    /// <param name="data">The examples to iterate.</param>
    /// <param name="batchSize">Examples per batch (positive).</param>
    /// <param name="shuffle">Whether each epoch visits the examples in a seeded random order (otherwise in index order).</param>
    /// <param name="seed">Seed for the order and the augmentation.</param>
    /// <param name="augmentation">Applied to every example copy, or <see langword="null"/>.</param>
    /// <param name="dropLast">Skip the final batch when it would be smaller than <paramref name="batchSize"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    public BatchLoader(IDataSource data, int batchSize, bool shuffle, ulong seed, IAugmentation? augmentation = null, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _data = data;
        _memory = data as Dataset;
        _seed = seed;
        _augmentation = augmentation;
        _order = new EpochOrder(data.Count, batchSize, shuffle, seed, dropLast);
        int capacity = _order.Rows;   // never more than the dataset can fill
        _inputs = new float[checked(capacity * data.ExampleLength)];
        _labels = data.HasLabels ? new int[capacity] : [];
        _targets = data.TargetLength > 0 ? new float[checked(capacity * data.TargetLength)] : [];
        _augmentationRng = new Rng(seed);
        StartEpoch(0);
    }

    /// <summary>Examples per full batch.</summary>
    public int BatchSize => _order.BatchSize;

    /// <summary>The epoch most recently started.</summary>
    public int Epoch => _order.Epoch;

    /// <summary>Batches <see cref="TryNext"/> yields per epoch.</summary>
    public int BatchesPerEpoch => _order.BatchesPerEpoch;

    /// <summary>
    /// Rewinds to the start of <paramref name="epoch"/>. With shuffling, the order is a Fisher–Yates permutation drawn
    /// from <c>Rng.Derive(seed, epoch)</c>, so it depends only on the seed and the epoch number.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    public void StartEpoch(int epoch)
    {
        _order.StartEpoch(epoch);
        if (_augmentation is not null) _augmentationRng = Rng.Derive(_seed ^ AugmentationSalt, (ulong)epoch);
    }

    /// <summary>
    /// Produces the next batch of this epoch: copies its examples into the loader's buffers and augments them.
    /// Returns <see langword="false"/> when the epoch is exhausted (call <see cref="StartEpoch"/> for the next).
    /// </summary>
    public bool TryNext(out Batch batch)
    {
        if (!_order.TryTake(out var indices))
        {
            batch = default;
            return false;
        }
        int size = indices.Length;
        int exampleLength = _data.ExampleLength, targetLength = _data.TargetLength;
        bool hasLabels = _data.HasLabels, hasTargets = targetLength > 0;
        ReadOnlySpan<int> shape = _data.ExampleShape;
        for (int b = 0; b < size; b++)
        {
            int index = indices[b];
            Span<float> example = _inputs.AsSpan(b * exampleLength, exampleLength);
            Span<float> target = hasTargets ? _targets.AsSpan(b * targetLength, targetLength) : default;
            if (_memory is { } memory)
            {
                memory.Inputs.AsSpan(index * exampleLength, exampleLength).CopyTo(example);
                if (hasLabels) _labels[b] = memory.Labels![index];
                if (hasTargets) memory.Targets.AsSpan(index * targetLength, targetLength).CopyTo(target);
            }
            else
            {
                _data.ReadExample(index, example, target);
                if (hasLabels) _labels[b] = _data.Label(index);
            }
            _augmentation?.Apply(shape, example, _augmentationRng);   // after the read: same draws for any source
        }
        _size = size;
        batch = Current;
        return true;
    }

    /// <summary>The batch <see cref="TryNext"/> last produced (for Trainer, which cannot keep the ref struct between calls).</summary>
    internal Batch Current => new(
        _inputs.AsSpan(0, _size * _data.ExampleLength),
        _data.HasLabels ? _labels.AsSpan(0, _size) : default,
        _data.TargetLength > 0 ? _targets.AsSpan(0, _size * _data.TargetLength) : default,
        _size);
}
