// The order in which a loader visits its examples, shared by BatchLoader, Seq2SeqBatchLoader and SequenceBatchLoader so
// that all three cut epochs into batches the same way: the order of epoch e is the identity, or with shuffling a
// Fisher–Yates permutation drawn from Rng.Derive(seed, e), so it depends only on (seed, e) and a run can resume at any
// epoch boundary. Sized once; taking a batch allocates nothing.
namespace ModelGen.Data;

/// <summary>The per-epoch example order of a minibatch loader and its position in the current epoch.</summary>
internal sealed class EpochOrder
{
    private readonly int[] _order;   // [count] example indices in this epoch's order
    private readonly bool _shuffle;
    private readonly bool _dropLast;
    private readonly ulong _seed;
    private int _position;

    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    public EpochOrder(int count, int batchSize, bool shuffle, ulong seed, bool dropLast)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _order = new int[count];
        BatchSize = batchSize;
        _shuffle = shuffle;
        _seed = seed;
        _dropLast = dropLast;
        StartEpoch(0);
    }

    /// <summary>Examples per full batch.</summary>
    public int BatchSize { get; }

    /// <summary>The epoch most recently started.</summary>
    public int Epoch { get; private set; }

    /// <summary>Rows a batch buffer needs: the batch size, or the example count when smaller (at least 1).</summary>
    public int Rows => Math.Min(BatchSize, Math.Max(1, _order.Length));

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => _order.Length / BatchSize + (_dropLast || _order.Length % BatchSize == 0 ? 0 : 1);   // no Count + batchSize: it may overflow

    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    public void StartEpoch(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        Epoch = epoch;
        _position = 0;
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (_shuffle) Rng.Derive(_seed, (ulong)epoch).Shuffle(_order.AsSpan());
    }

    /// <summary>The example indices of the epoch's next batch, or false when the epoch is exhausted.</summary>
    public bool TryTake(out ReadOnlySpan<int> indices)
    {
        int remaining = _order.Length - _position;
        if (remaining <= 0 || (_dropLast && remaining < BatchSize))
        {
            indices = default;
            return false;
        }
        int size = Math.Min(BatchSize, remaining);
        indices = _order.AsSpan(_position, size);
        _position += size;
        return true;
    }
}
