// Pairs of token sequences for encoder-decoder training, and padded minibatches of them. Layout follows PyTorch's
// padded-batch convention (batch_first=True): source ids [B, S] and target ids and labels [B, T], with S and T the
// longest source and target in that batch, padding id PadId, padding label -100 (CrossEntropyLoss's ignore_index),
// plus both length vectors [B]. The loader sizes its buffers once for the widest batch the data can produce and
// visits examples in a seeded order per epoch (the order of epoch e depends only on (seed, e), as BatchLoader's), so
// steady-state batches allocate nothing and a run can resume at an epoch boundary.
namespace ModelGen.Data;

/// <summary>
/// A set of (source, target) token-sequence pairs read by index, what <see cref="Trainer"/> trains an
/// <see cref="ISeq2SeqTrainable{TInput, TSource}"/> on: each example has source ids (its own length), and a target side of
/// one length holding the decoder's input ids and the labels to predict at each position (teacher forcing: the input is
/// usually the labels shifted right behind a start token).
/// </summary>
public interface ISeq2SeqDataSource
{
    /// <summary>Number of examples.</summary>
    int Count { get; }

    /// <summary>The longest source of any example (sizes the loader's buffers).</summary>
    int LongestSource { get; }

    /// <summary>The longest target of any example.</summary>
    int LongestTarget { get; }

    /// <summary>Number of source ids of example <paramref name="index"/> (at least 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    int SourceLength(int index);

    /// <summary>Number of target positions of example <paramref name="index"/> (at least 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    int TargetLength(int index);

    /// <summary>
    /// Writes example <paramref name="index"/>'s source ids (<see cref="SourceLength"/> of them), its target-side input ids
    /// and its labels (<see cref="TargetLength"/> each; a label may be <see cref="Loss.DefaultIgnoreIndex"/> to leave that
    /// position out of the loss).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    /// <exception cref="ArgumentException">A span's length is not the example's length.</exception>
    void ReadExample(int index, Span<int> source, Span<int> targetInput, Span<int> targetLabels);
}

/// <summary>An in-memory <see cref="ISeq2SeqDataSource"/>: every example's ids stored back to back.</summary>
public sealed class Seq2SeqDataset : ISeq2SeqDataSource
{
    private readonly int[] _sourceStarts;   // [Count + 1] offset of each source in _sources
    private readonly int[] _targetStarts;   // [Count + 1] offset of each target in _inputs and _labels
    private readonly int[] _sources;        // all source ids back to back
    private readonly int[] _inputs;         // all target-side input ids back to back
    private readonly int[] _labels;         // all target labels back to back

    /// <summary>
    /// Creates a set from explicit target-side inputs and labels: example i has source <c>sources[i]</c>, decoder input
    /// <c>targetInputs[i]</c> and labels <c>targetLabels[i]</c> (of the same length). The arrays are copied.
    /// </summary>
    /// <exception cref="ArgumentNullException">A list or one of its sequences is null.</exception>
    /// <exception cref="ArgumentException">The lists differ in count, a sequence is empty, or an example's input and labels differ in length (the message names it).</exception>
    public Seq2SeqDataset(IReadOnlyList<int[]> sources, IReadOnlyList<int[]> targetInputs, IReadOnlyList<int[]> targetLabels)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(targetInputs);
        ArgumentNullException.ThrowIfNull(targetLabels);
        int count = sources.Count;
        if (targetInputs.Count != count || targetLabels.Count != count)
            throw new ArgumentException($"The lists hold {count} sources, {targetInputs.Count} target inputs and {targetLabels.Count} target labels; they must match.", nameof(targetInputs));
        _sourceStarts = new int[count + 1];
        _targetStarts = new int[count + 1];
        for (int i = 0; i < count; i++)
        {
            int[] source = sources[i] ?? throw new ArgumentNullException(nameof(sources), $"Source {i} is null.");
            int[] input = targetInputs[i] ?? throw new ArgumentNullException(nameof(targetInputs), $"Target input {i} is null.");
            int[] labels = targetLabels[i] ?? throw new ArgumentNullException(nameof(targetLabels), $"Target labels {i} are null.");
            if (source.Length == 0) throw new ArgumentException($"Source {i} is empty.", nameof(sources));
            if (input.Length == 0) throw new ArgumentException($"Target input {i} is empty.", nameof(targetInputs));
            if (labels.Length != input.Length)
                throw new ArgumentException($"Example {i} has {input.Length} target input ids but {labels.Length} labels; they must match.", nameof(targetLabels));
            _sourceStarts[i + 1] = checked(_sourceStarts[i] + source.Length);
            _targetStarts[i + 1] = checked(_targetStarts[i] + input.Length);
            LongestSource = Math.Max(LongestSource, source.Length);
            LongestTarget = Math.Max(LongestTarget, input.Length);
        }
        _sources = new int[_sourceStarts[count]];
        _inputs = new int[_targetStarts[count]];
        _labels = new int[_targetStarts[count]];
        for (int i = 0; i < count; i++)
        {
            sources[i].CopyTo(_sources, _sourceStarts[i]);
            targetInputs[i].CopyTo(_inputs, _targetStarts[i]);
            targetLabels[i].CopyTo(_labels, _targetStarts[i]);
        }
    }

    /// <summary>
    /// Creates a set for teacher forcing: example i's labels are <c>targets[i]</c> (typically ending with an end token) and
    /// its decoder input is the same sequence shifted right behind <paramref name="startId"/>:
    /// <c>input = [startId, targets[i][0], …, targets[i][^2]]</c>, so position t predicts <c>targets[i][t]</c> from the
    /// target tokens before it.
    /// </summary>
    /// <exception cref="ArgumentNullException">A list or one of its sequences is null.</exception>
    /// <exception cref="ArgumentException">The lists differ in count, or a sequence is empty.</exception>
    public static Seq2SeqDataset TeacherForced(IReadOnlyList<int[]> sources, IReadOnlyList<int[]> targets, int startId)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var inputs = new int[targets.Count][];
        for (int i = 0; i < inputs.Length; i++)
        {
            int[] target = targets[i] ?? throw new ArgumentNullException(nameof(targets), $"Target {i} is null.");
            var input = new int[target.Length];
            if (input.Length > 0) input[0] = startId;
            target.AsSpan(0, Math.Max(0, target.Length - 1)).CopyTo(input.AsSpan(Math.Min(1, input.Length)));
            inputs[i] = input;
        }
        return new Seq2SeqDataset(sources, inputs, targets);
    }

    /// <inheritdoc/>
    public int Count => _sourceStarts.Length - 1;

    /// <inheritdoc/>
    public int LongestSource { get; }

    /// <inheritdoc/>
    public int LongestTarget { get; }

    /// <summary>Total target positions over all examples (the loss terms of one epoch, when no label is ignored).</summary>
    public int TargetTokenCount => _inputs.Length;

    /// <inheritdoc/>
    public int SourceLength(int index)
    {
        CheckIndex(index);
        return _sourceStarts[index + 1] - _sourceStarts[index];
    }

    /// <inheritdoc/>
    public int TargetLength(int index)
    {
        CheckIndex(index);
        return _targetStarts[index + 1] - _targetStarts[index];
    }

    /// <inheritdoc/>
    public void ReadExample(int index, Span<int> source, Span<int> targetInput, Span<int> targetLabels)
    {
        int s = SourceLength(index), t = TargetLength(index);
        if (source.Length != s) throw new ArgumentException($"Example {index} has {s} source ids; the span holds {source.Length}.", nameof(source));
        if (targetInput.Length != t) throw new ArgumentException($"Example {index} has {t} target positions; the input span holds {targetInput.Length}.", nameof(targetInput));
        if (targetLabels.Length != t) throw new ArgumentException($"Example {index} has {t} target positions; the label span holds {targetLabels.Length}.", nameof(targetLabels));
        _sources.AsSpan(_sourceStarts[index], s).CopyTo(source);
        _inputs.AsSpan(_targetStarts[index], t).CopyTo(targetInput);
        _labels.AsSpan(_targetStarts[index], t).CopyTo(targetLabels);
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The set has {Count} examples.");
    }
}

/// <summary>
/// One padded minibatch of sequence pairs. Row <c>b</c> of each span holds example <c>b</c>'s ids in its first
/// <c>SourceLengths[b]</c> (source) or <c>TargetLengths[b]</c> (target) positions and padding after. The spans point into
/// the loader's buffers and are valid until the next <see cref="Seq2SeqBatchLoader.TryNext"/>.
/// </summary>
public readonly ref struct Seq2SeqBatch
{
    internal Seq2SeqBatch(int size, int sourceSeq, int targetSeq, int tokenCount, ReadOnlySpan<int> source, ReadOnlySpan<int> sourceLengths,
        ReadOnlySpan<int> targetInputs, ReadOnlySpan<int> targetLabels, ReadOnlySpan<int> targetLengths)
    {
        Size = size;
        SourceSeq = sourceSeq;
        TargetSeq = targetSeq;
        TokenCount = tokenCount;
        Source = source;
        SourceLengths = sourceLengths;
        TargetInputs = targetInputs;
        TargetLabels = targetLabels;
        TargetLengths = targetLengths;
    }

    /// <summary>Examples in this batch (the last one of an epoch may be smaller).</summary>
    public int Size { get; }

    /// <summary>S: the longest source in this batch.</summary>
    public int SourceSeq { get; }

    /// <summary>T: the longest target in this batch.</summary>
    public int TargetSeq { get; }

    /// <summary>Labels that count in the loss: real target positions whose label is not <see cref="Loss.DefaultIgnoreIndex"/>.</summary>
    public int TokenCount { get; }

    /// <summary>Source ids <c>[Size, SourceSeq]</c>, the loader's pad id past each source's end.</summary>
    public ReadOnlySpan<int> Source { get; }

    /// <summary>Source lengths <c>[Size]</c>, each in [1, <see cref="SourceSeq"/>].</summary>
    public ReadOnlySpan<int> SourceLengths { get; }

    /// <summary>Target-side input ids <c>[Size, TargetSeq]</c>, the loader's pad id past each target's end.</summary>
    public ReadOnlySpan<int> TargetInputs { get; }

    /// <summary>Labels <c>[Size, TargetSeq]</c>, <see cref="Loss.DefaultIgnoreIndex"/> (-100) past each target's end.</summary>
    public ReadOnlySpan<int> TargetLabels { get; }

    /// <summary>Target lengths <c>[Size]</c>, each in [1, <see cref="TargetSeq"/>].</summary>
    public ReadOnlySpan<int> TargetLengths { get; }
}

/// <summary>
/// Iterates an <see cref="ISeq2SeqDataSource"/> in padded minibatches, optionally in a seeded random order per epoch (the
/// order of epoch e is a Fisher–Yates permutation drawn from <c>Rng.Derive(seed, e)</c>, as <see cref="BatchLoader"/>'s).
/// Allocates nothing per batch. Not thread-safe.
/// </summary>
/// <example>
/// <code>
/// var loader = new Seq2SeqBatchLoader(pairs, batchSize: 32, shuffle: true, seed: 1);
/// loader.StartEpoch(0);
/// while (loader.TryNext(out var b))
///     model.ForwardTrain(b.TargetInputs, b.Source, logits, b.Size, b.TargetSeq, b.SourceSeq, b.TargetLengths, b.SourceLengths);
/// </code>
/// </example>
public sealed class Seq2SeqBatchLoader
{
    private readonly ISeq2SeqDataSource _data;
    private readonly EpochOrder _order;
    private readonly int _padId;
    private readonly int[] _source;          // [rows, LongestSource], prefix [Size, SourceSeq] in use
    private readonly int[] _inputs;          // [rows, LongestTarget]
    private readonly int[] _labels;          // [rows, LongestTarget]
    private readonly int[] _sourceLengths;   // [rows]
    private readonly int[] _targetLengths;   // [rows]
    private int _size, _sourceSeq, _targetSeq, _tokens;   // the batch TryNext last produced

    /// <summary>Creates a loader positioned at the start of epoch 0.</summary>
    /// <param name="data">The sequence pairs.</param>
    /// <param name="batchSize">Examples per batch (positive).</param>
    /// <param name="shuffle">Whether each epoch visits the examples in a seeded random order (otherwise in index order).</param>
    /// <param name="seed">Seed of the order.</param>
    /// <param name="padId">The id written at padded source and target-input positions (default 0); any id the model's
    /// embeddings accept, since padded positions never reach a real output.</param>
    /// <param name="dropLast">Skip the final batch when it would be smaller than <paramref name="batchSize"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    public Seq2SeqBatchLoader(ISeq2SeqDataSource data, int batchSize, bool shuffle, ulong seed = 1, int padId = 0, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        _data = data;
        _order = new EpochOrder(data.Count, batchSize, shuffle, seed, dropLast);
        _padId = padId;
        int rows = _order.Rows;   // never more rows than the set can fill
        _source = new int[checked(rows * Math.Max(1, data.LongestSource))];
        _inputs = new int[checked(rows * Math.Max(1, data.LongestTarget))];
        _labels = new int[_inputs.Length];
        _sourceLengths = new int[rows];
        _targetLengths = new int[rows];
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
    /// <exception cref="InvalidDataException">An example's lengths are outside [1, the source's longest] (a data source that breaks its own contract).</exception>
    public bool TryNext(out Seq2SeqBatch batch)
    {
        if (!_order.TryTake(out var indices))
        {
            batch = default;
            return false;
        }
        int size = indices.Length;
        int sourceSeq = 0, targetSeq = 0;
        for (int b = 0; b < size; b++)
        {
            int index = indices[b];
            int s = _data.SourceLength(index), t = _data.TargetLength(index);
            if (s < 1 || s > _data.LongestSource || t < 1 || t > _data.LongestTarget)
                throw new InvalidDataException($"Example {index} has source length {s} and target length {t}; expected 1 to {_data.LongestSource} and 1 to {_data.LongestTarget}.");
            _sourceLengths[b] = s;
            _targetLengths[b] = t;
            sourceSeq = Math.Max(sourceSeq, s);
            targetSeq = Math.Max(targetSeq, t);
        }
        int tokens = 0;
        for (int b = 0; b < size; b++)
        {
            int s = _sourceLengths[b], t = _targetLengths[b];
            Span<int> source = _source.AsSpan(b * sourceSeq, sourceSeq);
            Span<int> inputs = _inputs.AsSpan(b * targetSeq, targetSeq);
            Span<int> labels = _labels.AsSpan(b * targetSeq, targetSeq);
            _data.ReadExample(indices[b], source[..s], inputs[..t], labels[..t]);
            source[s..].Fill(_padId);
            inputs[t..].Fill(_padId);
            labels[t..].Fill(Loss.DefaultIgnoreIndex);
            foreach (int label in labels[..t]) tokens += label == Loss.DefaultIgnoreIndex ? 0 : 1;
        }
        (_size, _sourceSeq, _targetSeq, _tokens) = (size, sourceSeq, targetSeq, tokens);
        batch = Current;
        return true;
    }

    /// <summary>The batch <see cref="TryNext"/> last produced (for Trainer, which cannot keep the ref struct between calls).</summary>
    internal Seq2SeqBatch Current => new(_size, _sourceSeq, _targetSeq, _tokens, _source.AsSpan(0, _size * _sourceSeq), _sourceLengths.AsSpan(0, _size),
        _inputs.AsSpan(0, _size * _targetSeq), _labels.AsSpan(0, _size * _targetSeq), _targetLengths.AsSpan(0, _size));
}
