// Variable-length sequences with labels or targets, for one-input sequence models (taggers, language models, sequence
// classifiers, time-series models), and padded minibatches of them. Layout follows PyTorch's padded-batch convention
// (batch_first=True): inputs [B, T, F] with T the longest sequence in that batch (token ids: F ids per position, usually
// 1), padded with a pad value, and either class labels [B, T] (one per position, padding labelled -100,
// CrossEntropyLoss's ignore_index) or [B] (one per sequence), or float targets [B, T, K] (zero-padded) or [B, K], plus the
// lengths [B]. The one generic loader sizes its buffers once for the widest batch the data can produce and visits the
// examples in the order of EpochOrder (epoch e's order depends only on (seed, e)), so steady-state batches allocate
// nothing and a run can resume at an epoch boundary. Float sets in memory are in FloatSequenceData.cs.
namespace ModelGen.Data;

/// <summary>
/// A set of variable-length sequences read by index, what <see cref="Trainer"/> trains an
/// <see cref="ISequenceTrainable{TInput}"/> on: each example has its own length, <see cref="InputLength"/> values per
/// position (token ids for <c>int</c>, feature frames for <c>float</c>) and either class labels or float targets, per
/// position (tagging, per-position regression) or one for the whole sequence (a model pooled over time), as
/// <see cref="LabelsPerPosition"/> and <see cref="TargetLength"/> say.
/// </summary>
/// <typeparam name="TInput"><c>int</c> (token ids) or <c>float</c> (features).</typeparam>
public interface ISequenceDataSource<TInput> where TInput : unmanaged
{
    /// <summary>Number of examples.</summary>
    int Count { get; }

    /// <summary>The longest sequence of any example, in positions (sizes the loader's buffers).</summary>
    int LongestSequence { get; }

    /// <summary>Values per position: F, the model's <see cref="IModel.InputLength"/>.</summary>
    int InputLength { get; }

    /// <summary>
    /// True when every position has a label or target row (<see cref="ReadExample"/> writes <see cref="Length"/> of them);
    /// false when each sequence has one.
    /// </summary>
    bool LabelsPerPosition { get; }

    /// <summary>0 when the examples carry class labels; otherwise the floats per target row (the model's output width).</summary>
    int TargetLength { get; }

    /// <summary>Number of positions of example <paramref name="index"/> (at least 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    int Length(int index);

    /// <summary>
    /// Writes example <paramref name="index"/>'s inputs (<see cref="Length"/> × <see cref="InputLength"/> values, position
    /// major) and, with class labels, its labels (one per position when <see cref="LabelsPerPosition"/>, else one; a
    /// per-position label may be <see cref="Loss.DefaultIgnoreIndex"/> to leave that position out of the loss) or, with
    /// targets, its targets (<see cref="TargetLength"/> per position, or <see cref="TargetLength"/> in all). The span it
    /// does not use is empty.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    /// <exception cref="ArgumentException">A span's length is not the example's.</exception>
    void ReadExample(int index, Span<TInput> inputs, Span<int> labels, Span<float> targets);
}

/// <summary>
/// A set of token sequences with class labels read by index, what <see cref="Trainer"/> trains an
/// <see cref="ISequenceTrainable{TInput}"/> with <c>int</c> inputs on: <see cref="ISequenceDataSource{TInput}.InputLength"/>
/// ids per position (1 unless the source says otherwise, e.g. word, suffix and shape ids) and either a label per position
/// (tagging, next-token prediction) or one label for the whole sequence (classification).
/// </summary>
public interface ISequenceDataSource : ISequenceDataSource<int>
{
    int ISequenceDataSource<int>.InputLength => 1;

    int ISequenceDataSource<int>.TargetLength => 0;

    /// <summary>
    /// Writes example <paramref name="index"/>'s ids (<see cref="ISequenceDataSource{TInput}.Length"/> ×
    /// <see cref="ISequenceDataSource{TInput}.InputLength"/> of them, position major) and its labels: one per position when
    /// <see cref="ISequenceDataSource{TInput}.LabelsPerPosition"/>, else one. A per-position label may be
    /// <see cref="Loss.DefaultIgnoreIndex"/> to leave that position out of the loss.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    /// <exception cref="ArgumentException">A span's length is not the example's.</exception>
    void ReadExample(int index, Span<int> inputs, Span<int> labels);

    void ISequenceDataSource<int>.ReadExample(int index, Span<int> inputs, Span<int> labels, Span<float> targets) => ReadExample(index, inputs, labels);
}

/// <summary>An in-memory <see cref="ISequenceDataSource"/>.</summary>
public sealed class SequenceDataset : ISequenceDataSource
{
    private readonly int[] _ids;       // the ids of every example back to back, or the one text windows are cut from
    private readonly int[] _labels;    // per-position labels (shifted by _labelShift), or one per example
    private readonly int[] _starts;    // [Count] first position of each example: its ids start at _starts[i]·InputLength
    private readonly int[] _lengths;   // [Count]
    private readonly int _labelShift;  // per position: example i's labels start at _starts[i] + _labelShift in _labels

    private SequenceDataset(int[] ids, int[] labels, int[] starts, int[] lengths, int labelShift, bool labelsPerPosition, long labelCount, int idsPerPosition = 1)
    {
        (_ids, _labels, _starts, _lengths, _labelShift, LabelsPerPosition, LabelCount) = (ids, labels, starts, lengths, labelShift, labelsPerPosition, labelCount);
        InputLength = idsPerPosition;
        foreach (int length in lengths) LongestSequence = Math.Max(LongestSequence, length);
    }

    /// <summary>
    /// Creates a set with a label per position (sequence labelling): example i has ids <c>inputs[i]</c>
    /// (<paramref name="idsPerPosition"/> per position, position major: <c>[length, idsPerPosition]</c>) and labels
    /// <c>labels[i]</c>, one per position. The arrays are copied.
    /// </summary>
    /// <param name="inputs">Each example's ids <c>[length · idsPerPosition]</c>.</param>
    /// <param name="labels">Each example's labels <c>[length]</c>.</param>
    /// <param name="idsPerPosition">Ids per position (positive): the model's <see cref="IModel.InputLength"/>, e.g. 3 for word, suffix and shape ids.</param>
    /// <exception cref="ArgumentNullException">A list or one of its sequences is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="idsPerPosition"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The lists differ in count, a sequence is empty, a sequence's ids are not a multiple of <paramref name="idsPerPosition"/>, or an example's positions and labels differ in number (the message names the example).</exception>
    public SequenceDataset(IReadOnlyList<int[]> inputs, IReadOnlyList<int[]> labels, int idsPerPosition = 1)
        : this(Concatenate(inputs, labels, idsPerPosition, out var starts, out var lengths, out var all, out long counted), all, starts, lengths, 0, true, counted, idsPerPosition)
    {
    }

    /// <summary>
    /// Creates a set with one label per sequence (sequence classification, for a model whose output is one row per
    /// example, e.g. after <c>[GlobalAvgPool]</c> or an LSTM with <c>ReturnSequences = false</c>): example i has ids
    /// <c>inputs[i]</c> (<paramref name="idsPerPosition"/> per position, position major) and class <c>labels[i]</c>. The
    /// arrays are copied.
    /// </summary>
    /// <exception cref="ArgumentNullException">A list or one of its sequences is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="idsPerPosition"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The lists differ in count, or a sequence is empty or not a multiple of <paramref name="idsPerPosition"/> ids (the message names it).</exception>
    public static SequenceDataset Classification(IReadOnlyList<int[]> inputs, IReadOnlyList<int> labels, int idsPerPosition = 1)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var ids = Concatenate(inputs, null, idsPerPosition, out var starts, out var lengths, out _, out _);
        if (labels.Count != inputs.Count)
            throw new ArgumentException($"The lists hold {inputs.Count} sequences but {labels.Count} labels; they must match.", nameof(labels));
        var copy = labels.ToArray();
        return new SequenceDataset(ids, copy, starts, lengths, 0, false, copy.Count(l => l != Loss.DefaultIgnoreIndex), idsPerPosition);
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

    /// <summary>Ids per position (1 unless the set was created with more).</summary>
    public int InputLength { get; }

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
        if (inputs.Length != length * InputLength)
            throw new ArgumentException($"Example {index} has {length} positions of {InputLength} id(s); the input span holds {inputs.Length}.", nameof(inputs));
        if (labels.Length != labelCount) throw new ArgumentException($"Example {index} has {labelCount} label(s); the label span holds {labels.Length}.", nameof(labels));
        _ids.AsSpan(_starts[index] * InputLength, length * InputLength).CopyTo(inputs);
        if (LabelsPerPosition) _labels.AsSpan(_starts[index] + _labelShift, length).CopyTo(labels);
        else labels[0] = _labels[index];
    }

    /// <summary>
    /// Every sequence's ids back to back (and, with <paramref name="labels"/>, the labels back to back), with each example's
    /// first position and length in positions.
    /// </summary>
    private static int[] Concatenate(IReadOnlyList<int[]> inputs, IReadOnlyList<int[]>? labels, int idsPerPosition, out int[] starts, out int[] lengths,
        out int[] allLabels, out long counted)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(idsPerPosition);
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
            if (ids.Length % idsPerPosition != 0)
                throw new ArgumentException($"Sequence {i} has {ids.Length} ids, not a multiple of {idsPerPosition} ids per position.", nameof(inputs));
            int positions = ids.Length / idsPerPosition;
            if (labels is not null)
            {
                int[] tags = labels[i] ?? throw new ArgumentNullException(nameof(labels), $"The labels of sequence {i} are null.");
                if (tags.Length != positions)
                    throw new ArgumentException(idsPerPosition == 1
                        ? $"Example {i} has {positions} ids but {tags.Length} labels; they must match."
                        : $"Example {i} has {positions} positions ({ids.Length} ids) but {tags.Length} labels; they must match.", nameof(labels));
            }
            starts[i] = checked((int)total);
            lengths[i] = positions;
            total += positions;
        }
        var all = new int[checked((int)(total * idsPerPosition))];
        allLabels = labels is null ? [] : new int[total];
        counted = 0;
        for (int i = 0; i < count; i++)
        {
            inputs[i].CopyTo(all, starts[i] * idsPerPosition);
            if (labels is null) continue;
            labels[i].CopyTo(allLabels, starts[i]);
            foreach (int label in labels[i]) counted += label == Loss.DefaultIgnoreIndex ? 0 : 1;
        }
        return all;
    }
}

/// <summary>
/// One padded minibatch of sequences. Row <c>b</c> holds example <c>Indices[b]</c>'s values in its first
/// <c>Lengths[b]</c> positions and padding after. The spans point into the loader's buffers and are valid until the next
/// <see cref="SequenceBatchLoader{TInput}.TryNext"/>.
/// </summary>
/// <typeparam name="TInput"><c>int</c> (token ids) or <c>float</c> (features).</typeparam>
public readonly ref struct SequenceBatch<TInput> where TInput : unmanaged
{
    internal SequenceBatch(int size, int seq, int tokenCount, ReadOnlySpan<TInput> inputs, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets,
        ReadOnlySpan<int> lengths, ReadOnlySpan<int> indices)
    {
        (Size, Seq, TokenCount) = (size, seq, tokenCount);
        Inputs = inputs;
        Labels = labels;
        Targets = targets;
        Lengths = lengths;
        Indices = indices;
    }

    /// <summary>Examples in this batch (the last one of an epoch may be smaller).</summary>
    public int Size { get; }

    /// <summary>T: the longest sequence in this batch.</summary>
    public int Seq { get; }

    /// <summary>
    /// Terms of the loss: with class labels, the labels of real positions (or sequences) that are not
    /// <see cref="Loss.DefaultIgnoreIndex"/>; with targets, the real positions (or the sequences).
    /// </summary>
    public int TokenCount { get; }

    /// <summary>Inputs <c>[Size, Seq, InputLength]</c>, the loader's pad value past each sequence's end.</summary>
    public ReadOnlySpan<TInput> Inputs { get; }

    /// <summary>
    /// Class labels <c>[Size, Seq]</c> with <see cref="Loss.DefaultIgnoreIndex"/> (-100) past each sequence's end, when the
    /// data has labels per position; else <c>[Size]</c>, one per sequence. Empty when the data has targets.
    /// </summary>
    public ReadOnlySpan<int> Labels { get; }

    /// <summary>
    /// Targets <c>[Size, Seq, TargetLength]</c>, zero past each sequence's end (leave those rows out of the loss: they are
    /// not data), when the data has targets per position; else <c>[Size, TargetLength]</c>. Empty when the data has labels.
    /// </summary>
    public ReadOnlySpan<float> Targets { get; }

    /// <summary>Real lengths <c>[Size]</c>, each in [1, <see cref="Seq"/>].</summary>
    public ReadOnlySpan<int> Lengths { get; }

    /// <summary>The data source's index of each row's example <c>[Size]</c>.</summary>
    public ReadOnlySpan<int> Indices { get; }
}

/// <summary>
/// Iterates an <see cref="ISequenceDataSource{TInput}"/> in padded minibatches, optionally in a seeded random order per
/// epoch (the order of epoch e is a Fisher–Yates permutation drawn from <c>Rng.Derive(seed, e)</c>, as
/// <see cref="BatchLoader"/>'s). Allocates nothing per batch. Not thread-safe.
/// </summary>
/// <typeparam name="TInput"><c>int</c> (token ids) or <c>float</c> (features).</typeparam>
/// <example>
/// <code>
/// var loader = new SequenceBatchLoader&lt;float&gt;(series, batchSize: 32, shuffle: true, seed: 1);
/// loader.StartEpoch(0);
/// while (loader.TryNext(out var b))
///     model.ForwardTrain(b.Inputs, output.AsSpan(0, b.Size * outputs), b.Size, b.Seq, b.Lengths);
/// </code>
/// </example>
public sealed class SequenceBatchLoader<TInput> where TInput : unmanaged
{
    private readonly ISequenceDataSource<TInput> _data;
    private readonly EpochOrder _order;
    private readonly TInput _pad;
    private readonly bool _perPosition;
    private readonly int _width;         // InputLength
    private readonly int _targetWidth;   // TargetLength: 0 for class labels
    private readonly TInput[] _inputs;   // [rows, LongestSequence, width], prefix [Size, Seq, width] in use
    private readonly int[] _labels;      // [rows, LongestSequence] per position, else [rows]; empty with targets
    private readonly float[] _targets;   // [rows, LongestSequence, targetWidth] per position, else [rows, targetWidth]; empty with labels
    private readonly int[] _lengths;     // [rows]
    private readonly int[] _indices;     // [rows]
    private int _size, _seq, _tokens;    // the batch TryNext last produced

    /// <summary>Creates a loader positioned at the start of epoch 0.</summary>
    /// <param name="data">The sequences.</param>
    /// <param name="batchSize">Examples per batch (positive).</param>
    /// <param name="shuffle">Whether each epoch visits the examples in a seeded random order (otherwise in index order).</param>
    /// <param name="seed">Seed of the order.</param>
    /// <param name="padValue">The value written at padded positions (default 0); padded positions never reach a real output.</param>
    /// <param name="dropLast">Skip the final batch when it would be smaller than <paramref name="batchSize"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive, or the source's InputLength is not positive or its TargetLength is negative.</exception>
    public SequenceBatchLoader(ISequenceDataSource<TInput> data, int batchSize, bool shuffle, ulong seed = 1, TInput padValue = default, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(data.InputLength, "data.InputLength");
        ArgumentOutOfRangeException.ThrowIfNegative(data.TargetLength, "data.TargetLength");
        _data = data;
        _order = new EpochOrder(data.Count, batchSize, shuffle, seed, dropLast);
        _pad = padValue;
        _perPosition = data.LabelsPerPosition;
        _width = data.InputLength;
        _targetWidth = data.TargetLength;
        int rows = _order.Rows;   // never more rows than the set can fill
        int positions = checked(rows * Math.Max(1, data.LongestSequence));
        _inputs = new TInput[checked(positions * _width)];
        int labelRows = _perPosition ? positions : rows;
        _labels = _targetWidth == 0 ? new int[labelRows] : [];
        _targets = _targetWidth == 0 ? [] : new float[checked(labelRows * _targetWidth)];
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
    public bool TryNext(out SequenceBatch<TInput> batch)
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
        int tokens = 0, rowsPerExample = _perPosition ? seq : 1;
        for (int b = 0; b < size; b++)
        {
            int length = _lengths[b], real = _perPosition ? length : 1;
            Span<TInput> inputs = _inputs.AsSpan(b * seq * _width, seq * _width);
            Span<int> labels = _targetWidth == 0 ? _labels.AsSpan(b * rowsPerExample, rowsPerExample) : default;
            Span<float> targets = _targetWidth == 0 ? default : _targets.AsSpan(b * rowsPerExample * _targetWidth, rowsPerExample * _targetWidth);
            _data.ReadExample(indices[b], inputs[..(length * _width)], labels.IsEmpty ? default : labels[..real], targets.IsEmpty ? default : targets[..(real * _targetWidth)]);
            inputs[(length * _width)..].Fill(_pad);
            if (_targetWidth > 0)
            {
                targets[(real * _targetWidth)..].Clear();
                tokens += real;
                continue;
            }
            labels[real..].Fill(Loss.DefaultIgnoreIndex);
            foreach (int label in labels[..real]) tokens += label == Loss.DefaultIgnoreIndex ? 0 : 1;
        }
        (_size, _seq, _tokens) = (size, seq, tokens);
        batch = Current;
        return true;
    }

    /// <summary>The batch <see cref="TryNext"/> last produced (for Trainer, which cannot keep the ref struct between calls).</summary>
    internal SequenceBatch<TInput> Current
    {
        get
        {
            int rows = _perPosition ? _size * _seq : _size;
            return new(_size, _seq, _tokens, _inputs.AsSpan(0, _size * _seq * _width),
                _targetWidth == 0 ? _labels.AsSpan(0, rows) : default, _targetWidth == 0 ? default : _targets.AsSpan(0, rows * _targetWidth),
                _lengths.AsSpan(0, _size), _indices.AsSpan(0, _size));
        }
    }
}
