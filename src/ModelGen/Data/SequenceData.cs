// Token sequences with labels, for one-input sequence models (taggers, language models, sequence classifiers), and
// padded minibatches of them. Layout follows PyTorch's padded-batch convention (batch_first=True): ids [B, T] with T the
// longest sequence in that batch, padding id PadId, and either labels [B, T] (one per position, padding labelled -100,
// CrossEntropyLoss's ignore_index) or labels [B] (one per sequence), plus the lengths [B]. The loader sizes its buffers
// once for the widest batch the data can produce and visits the examples in the order of EpochOrder (epoch e's order
// depends only on (seed, e)), so steady-state batches allocate nothing and a run can resume at an epoch boundary.
namespace ModelGen.Data;

/// <summary>
/// A set of token sequences read by index, what <see cref="Trainer"/> trains an <see cref="ISequenceTrainable{TInput}"/>
/// (with <c>int</c> inputs) on: each example has its own length, one id per position, and either a label per position
/// (tagging, next-token prediction) or one label for the whole sequence (classification), as
/// <see cref="LabelsPerPosition"/> says.
/// </summary>
public interface ISequenceDataSource
{
    /// <summary>Number of examples.</summary>
    int Count { get; }

    /// <summary>The longest sequence of any example (sizes the loader's buffers).</summary>
    int LongestSequence { get; }

    /// <summary>
    /// True when every position has a label (<see cref="ReadExample"/> writes <see cref="Length"/> labels); false when each
    /// sequence has one label (it writes one).
    /// </summary>
    bool LabelsPerPosition { get; }

    /// <summary>Number of positions of example <paramref name="index"/> (at least 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    int Length(int index);

    /// <summary>
    /// Writes example <paramref name="index"/>'s ids (<see cref="Length"/> of them) and its labels: one per position when
    /// <see cref="LabelsPerPosition"/>, else one. A per-position label may be <see cref="Loss.DefaultIgnoreIndex"/> to leave
    /// that position out of the loss.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    /// <exception cref="ArgumentException">A span's length is not the example's.</exception>
    void ReadExample(int index, Span<int> inputs, Span<int> labels);
}

/// <summary>An in-memory <see cref="ISequenceDataSource"/>.</summary>
public sealed class SequenceDataset : ISequenceDataSource
{
    private readonly int[] _ids;       // the ids of every example back to back, or the one text windows are cut from
    private readonly int[] _labels;    // per-position labels aligned with _ids (shifted by _labelShift), or one per example
    private readonly int[] _starts;    // [Count] offset of each example in _ids
    private readonly int[] _lengths;   // [Count]
    private readonly int _labelShift;  // per position: example i's labels start at _starts[i] + _labelShift in _labels

    private SequenceDataset(int[] ids, int[] labels, int[] starts, int[] lengths, int labelShift, bool labelsPerPosition, long labelCount)
    {
        (_ids, _labels, _starts, _lengths, _labelShift, LabelsPerPosition, LabelCount) = (ids, labels, starts, lengths, labelShift, labelsPerPosition, labelCount);
        foreach (int length in lengths) LongestSequence = Math.Max(LongestSequence, length);
    }

    /// <summary>
    /// Creates a set with a label per position (sequence labelling): example i has ids <c>inputs[i]</c> and labels
    /// <c>labels[i]</c> of the same length. The arrays are copied.
    /// </summary>
    /// <exception cref="ArgumentNullException">A list or one of its sequences is null.</exception>
    /// <exception cref="ArgumentException">The lists differ in count, a sequence is empty, or an example's ids and labels differ in length (the message names the example).</exception>
    public SequenceDataset(IReadOnlyList<int[]> inputs, IReadOnlyList<int[]> labels)
        : this(Concatenate(inputs, labels, out var starts, out var lengths, out var all, out long counted), all, starts, lengths, 0, true, counted)
    {
    }

    /// <summary>
    /// Creates a set with one label per sequence (sequence classification, for a model whose output is one row per
    /// example, e.g. after <c>[GlobalAvgPool]</c> or an LSTM with <c>ReturnSequences = false</c>): example i has ids
    /// <c>inputs[i]</c> and class <c>labels[i]</c>. The arrays are copied.
    /// </summary>
    /// <exception cref="ArgumentNullException">A list or one of its sequences is null.</exception>
    /// <exception cref="ArgumentException">The lists differ in count, or a sequence is empty (the message names it).</exception>
    public static SequenceDataset Classification(IReadOnlyList<int[]> inputs, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var ids = Concatenate(inputs, null, out var starts, out var lengths, out _, out _);
        if (labels.Count != inputs.Count)
            throw new ArgumentException($"The lists hold {inputs.Count} sequences but {labels.Count} labels; they must match.", nameof(labels));
        var copy = labels.ToArray();
        return new SequenceDataset(ids, copy, starts, lengths, 0, false, copy.Count(l => l != Loss.DefaultIgnoreIndex));
    }

    /// <summary>
    /// Creates a next-token (language-modelling) set from one long id sequence cut into windows, as PyTorch users feed a
    /// DataLoader of windows: example i starts at <c>s = i·stride</c>, its input is <c>ids[s .. s+window)</c> and its
    /// labels are <c>ids[s+1 .. s+window+1)</c>, so position t predicts the id that follows it. There are
    /// <c>(ids.Length − 1 − window) / stride + 1</c> windows; ids after the last whole window are not used. The ids are
    /// copied once and the windows read from that copy, whatever the stride.
    /// </summary>
    /// <param name="ids">The text as ids.</param>
    /// <param name="window">Positions per example (positive).</param>
    /// <param name="stride">Positions between window starts (positive; null: <paramref name="window"/>, non-overlapping windows).</param>
    /// <exception cref="ArgumentNullException"><paramref name="ids"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> or <paramref name="stride"/> is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="ids"/> is shorter than <paramref name="window"/> + 1 (no window fits).</exception>
    public static SequenceDataset NextToken(int[] ids, int window, int? stride = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(window);
        int step = stride ?? window;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(step, nameof(stride));
        if (ids.Length < (long)window + 1)
            throw new ArgumentException($"The text has {ids.Length} ids; a window of {window} inputs and the {window} ids that follow needs at least {window + 1L}.", nameof(ids));
        int count = (ids.Length - 1 - window) / step + 1;
        var starts = new int[count];
        var lengths = new int[count];
        for (int i = 0; i < count; i++) (starts[i], lengths[i]) = (i * step, window);
        var text = ids.ToArray();
        return new SequenceDataset(text, text, starts, lengths, labelShift: 1, labelsPerPosition: true, (long)count * window);
    }

    /// <inheritdoc/>
    public int Count => _starts.Length;

    /// <inheritdoc/>
    public int LongestSequence { get; }

    /// <inheritdoc/>
    public bool LabelsPerPosition { get; }

    /// <summary>Labels over all examples that count in the loss (not <see cref="Loss.DefaultIgnoreIndex"/>): one epoch's loss terms.</summary>
    public long LabelCount { get; }

    /// <inheritdoc/>
    public int Length(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The set has {Count} examples.");
        return _lengths[index];
    }

    /// <inheritdoc/>
    public void ReadExample(int index, Span<int> inputs, Span<int> labels)
    {
        int length = Length(index), labelCount = LabelsPerPosition ? length : 1;
        if (inputs.Length != length) throw new ArgumentException($"Example {index} has {length} positions; the input span holds {inputs.Length}.", nameof(inputs));
        if (labels.Length != labelCount) throw new ArgumentException($"Example {index} has {labelCount} label(s); the label span holds {labels.Length}.", nameof(labels));
        _ids.AsSpan(_starts[index], length).CopyTo(inputs);
        if (LabelsPerPosition) _labels.AsSpan(_starts[index] + _labelShift, length).CopyTo(labels);
        else labels[0] = _labels[index];
    }

    /// <summary>Every sequence's ids back to back (and, with <paramref name="labels"/>, the labels aligned with them).</summary>
    private static int[] Concatenate(IReadOnlyList<int[]> inputs, IReadOnlyList<int[]>? labels, out int[] starts, out int[] lengths,
        out int[] allLabels, out long counted)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        int count = inputs.Count;
        if (labels is not null && labels.Count != count)
            throw new ArgumentException($"The lists hold {count} sequences but {labels.Count} label sequences; they must match.", nameof(labels));
        starts = new int[count];
        lengths = new int[count];
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            int[] ids = inputs[i] ?? throw new ArgumentNullException(nameof(inputs), $"Sequence {i} is null.");
            if (ids.Length == 0) throw new ArgumentException($"Sequence {i} is empty; every example needs at least one position.", nameof(inputs));
            if (labels is not null)
            {
                int[] tags = labels[i] ?? throw new ArgumentNullException(nameof(labels), $"The labels of sequence {i} are null.");
                if (tags.Length != ids.Length)
                    throw new ArgumentException($"Example {i} has {ids.Length} ids but {tags.Length} labels; they must match.", nameof(labels));
            }
            starts[i] = checked((int)total);
            lengths[i] = ids.Length;
            total += ids.Length;
        }
        var all = new int[checked((int)total)];
        allLabels = labels is null ? [] : new int[all.Length];
        counted = 0;
        for (int i = 0; i < count; i++)
        {
            inputs[i].CopyTo(all, starts[i]);
            if (labels is null) continue;
            labels[i].CopyTo(allLabels, starts[i]);
            foreach (int label in labels[i]) counted += label == Loss.DefaultIgnoreIndex ? 0 : 1;
        }
        return all;
    }
}

/// <summary>
/// One padded minibatch of token sequences. Row <c>b</c> holds example <c>Indices[b]</c>'s ids in its first
/// <c>Lengths[b]</c> positions and padding after. The spans point into the loader's buffers and are valid until the next
/// <see cref="SequenceBatchLoader.TryNext"/>.
/// </summary>
public readonly ref struct SequenceBatch
{
    internal SequenceBatch(int size, int seq, int tokenCount, ReadOnlySpan<int> inputs, ReadOnlySpan<int> labels, ReadOnlySpan<int> lengths,
        ReadOnlySpan<int> indices)
    {
        (Size, Seq, TokenCount) = (size, seq, tokenCount);
        Inputs = inputs;
        Labels = labels;
        Lengths = lengths;
        Indices = indices;
    }

    /// <summary>Examples in this batch (the last one of an epoch may be smaller).</summary>
    public int Size { get; }

    /// <summary>T: the longest sequence in this batch.</summary>
    public int Seq { get; }

    /// <summary>Labels that count in the loss: labels of real positions (or sequences) that are not <see cref="Loss.DefaultIgnoreIndex"/>.</summary>
    public int TokenCount { get; }

    /// <summary>Ids <c>[Size, Seq]</c>, the loader's pad id past each sequence's end.</summary>
    public ReadOnlySpan<int> Inputs { get; }

    /// <summary>
    /// Labels <c>[Size, Seq]</c> with <see cref="Loss.DefaultIgnoreIndex"/> (-100) past each sequence's end, when the data has
    /// labels per position; else <c>[Size]</c>, one per sequence.
    /// </summary>
    public ReadOnlySpan<int> Labels { get; }

    /// <summary>Real lengths <c>[Size]</c>, each in [1, <see cref="Seq"/>].</summary>
    public ReadOnlySpan<int> Lengths { get; }

    /// <summary>The data source's index of each row's example <c>[Size]</c>.</summary>
    public ReadOnlySpan<int> Indices { get; }
}

/// <summary>
/// Iterates an <see cref="ISequenceDataSource"/> in padded minibatches, optionally in a seeded random order per epoch (the
/// order of epoch e is a Fisher–Yates permutation drawn from <c>Rng.Derive(seed, e)</c>, as <see cref="BatchLoader"/>'s).
/// Allocates nothing per batch. Not thread-safe.
/// </summary>
/// <example>
/// <code>
/// var loader = new SequenceBatchLoader(sentences, batchSize: 32, shuffle: true, seed: 1);
/// loader.StartEpoch(0);
/// while (loader.TryNext(out var b))
///     model.ForwardTrain(b.Inputs, logits.AsSpan(0, b.Size * b.Seq * classes), b.Size, b.Seq, b.Lengths);
/// </code>
/// </example>
public sealed class SequenceBatchLoader
{
    private readonly ISequenceDataSource _data;
    private readonly EpochOrder _order;
    private readonly int _padId;
    private readonly bool _perPosition;
    private readonly int[] _inputs;    // [rows, LongestSequence], prefix [Size, Seq] in use
    private readonly int[] _labels;    // [rows, LongestSequence] per position, else [rows]
    private readonly int[] _lengths;   // [rows]
    private readonly int[] _indices;   // [rows]
    private int _size, _seq, _tokens;  // the batch TryNext last produced

    /// <summary>Creates a loader positioned at the start of epoch 0.</summary>
    /// <param name="data">The sequences.</param>
    /// <param name="batchSize">Examples per batch (positive).</param>
    /// <param name="shuffle">Whether each epoch visits the examples in a seeded random order (otherwise in index order).</param>
    /// <param name="seed">Seed of the order.</param>
    /// <param name="padId">The id written at padded positions (default 0); any id the model's embedding accepts, since
    /// padded positions never reach a real output.</param>
    /// <param name="dropLast">Skip the final batch when it would be smaller than <paramref name="batchSize"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    public SequenceBatchLoader(ISequenceDataSource data, int batchSize, bool shuffle, ulong seed = 1, int padId = 0, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        _data = data;
        _order = new EpochOrder(data.Count, batchSize, shuffle, seed, dropLast);
        _padId = padId;
        _perPosition = data.LabelsPerPosition;
        int rows = _order.Rows;   // never more rows than the set can fill
        _inputs = new int[checked(rows * Math.Max(1, data.LongestSequence))];
        _labels = _perPosition ? new int[_inputs.Length] : new int[rows];
        _lengths = new int[rows];
        _indices = new int[rows];
    }

    /// <summary>Examples per full batch.</summary>
    public int BatchSize => _order.BatchSize;

    /// <summary>The epoch most recently started.</summary>
    public int Epoch => _order.Epoch;

    /// <summary>Batches <see cref="TryNext"/> yields per epoch.</summary>
    public int BatchesPerEpoch => _order.BatchesPerEpoch;

    /// <summary>Rewinds to the start of <paramref name="epoch"/> (with shuffling, in that epoch's seeded order).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    public void StartEpoch(int epoch) => _order.StartEpoch(epoch);

    /// <summary>
    /// Fills the next batch of this epoch. Returns <see langword="false"/> when the epoch is exhausted (call
    /// <see cref="StartEpoch"/> for the next).
    /// </summary>
    /// <exception cref="InvalidDataException">An example's length is outside [1, the source's longest] (a data source that breaks its own contract); the message names the example.</exception>
    public bool TryNext(out SequenceBatch batch)
    {
        if (!_order.TryTake(out var indices))
        {
            batch = default;
            return false;
        }
        int size = indices.Length, seq = 0;
        for (int b = 0; b < size; b++)
        {
            int index = indices[b], length = _data.Length(index);
            if (length < 1 || length > _data.LongestSequence)
                throw new InvalidDataException($"Example {index} has length {length}; expected 1 to {_data.LongestSequence} (the source's LongestSequence).");
            _lengths[b] = length;
            _indices[b] = index;
            seq = Math.Max(seq, length);
        }
        int tokens = 0;
        for (int b = 0; b < size; b++)
        {
            int length = _lengths[b];
            Span<int> inputs = _inputs.AsSpan(b * seq, seq);
            Span<int> labels = _perPosition ? _labels.AsSpan(b * seq, seq) : _labels.AsSpan(b, 1);
            _data.ReadExample(indices[b], inputs[..length], _perPosition ? labels[..length] : labels);
            inputs[length..].Fill(_padId);
            if (_perPosition) labels[length..].Fill(Loss.DefaultIgnoreIndex);
            foreach (int label in _perPosition ? labels[..length] : labels) tokens += label == Loss.DefaultIgnoreIndex ? 0 : 1;
        }
        (_size, _seq, _tokens) = (size, seq, tokens);
        batch = Current;
        return true;
    }

    /// <summary>The batch <see cref="TryNext"/> last produced (for Trainer, which cannot keep the ref struct between calls).</summary>
    internal SequenceBatch Current => new(_size, _seq, _tokens, _inputs.AsSpan(0, _size * _seq),
        _perPosition ? _labels.AsSpan(0, _size * _seq) : _labels.AsSpan(0, _size), _lengths.AsSpan(0, _size), _indices.AsSpan(0, _size));
}
