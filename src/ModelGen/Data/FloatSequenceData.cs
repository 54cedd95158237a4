// Float sequences in memory (time series, feature frames) for ISequenceTrainable<float> models: each example is [len, F]
// floats, position major, with class labels or float targets per position or per sequence, and a sliding-window factory
// that cuts forecasting examples from one long series. Everything is validated once here (lengths, NaN and infinity) so
// that a bad value is reported with its example and position rather than as a diverged loss many steps later.
namespace ModelGen.Data;

/// <summary>
/// An in-memory <see cref="ISequenceDataSource{TInput}"/> of float sequences: example i is <c>[length_i, F]</c> features
/// (F = <see cref="InputLength"/>, the model's input width per position) with class labels or float targets, per position
/// or one per sequence. Create it with the constructor (a class per position), <see cref="Classification"/>,
/// <see cref="Regression"/>, <see cref="PooledRegression"/> or <see cref="Forecast"/>. The arrays are copied.
/// </summary>
public sealed class FloatSequenceDataset : ISequenceDataSource<float>
{
    private readonly float[] _inputs;      // every example's frames back to back, or the series windows are cut from
    private readonly int[] _inputStarts;   // [Count] offset of each example's first float in _inputs
    private readonly int[] _lengths;       // [Count] positions
    private readonly int[] _labels;        // class labels (per position back to back, or one per example); empty with targets
    private readonly float[] _targets;     // targets (per position back to back, one row per example, or the series); empty with labels
    private readonly int[] _outStarts;     // [Count] offset of each example's first label or target in _labels or _targets

    private FloatSequenceDataset(float[] inputs, int[] inputStarts, int[] lengths, int features, bool perPosition,
        int[] labels, float[] targets, int targetLength, int[] outStarts, long labelCount)
    {
        (_inputs, _inputStarts, _lengths, _labels, _targets, _outStarts) = (inputs, inputStarts, lengths, labels, targets, outStarts);
        (InputLength, LabelsPerPosition, TargetLength, LabelCount) = (features, perPosition, targetLength, labelCount);
        foreach (int length in lengths) LongestSequence = Math.Max(LongestSequence, length);
    }

    /// <summary>
    /// Creates a set with a class label per position (tagging frames): example i has the features <c>frames[i]</c>
    /// (<c>[length, features]</c>, position major) and the labels <c>labels[i]</c> (<c>[length]</c>; a label may be
    /// <see cref="Loss.DefaultIgnoreIndex"/> to leave the position out of the loss).
    /// </summary>
    /// <param name="frames">Each example's features <c>[length · features]</c>.</param>
    /// <param name="features">F, floats per position (positive): the model's <see cref="IModel.InputLength"/>.</param>
    /// <param name="labels">Each example's labels <c>[length]</c>.</param>
    /// <exception cref="ArgumentNullException">A list or one of its arrays is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="features"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The lists differ in count, or an example is empty, is not a multiple of <paramref name="features"/> floats, holds NaN or infinity, or has another number of labels than positions (the message names the example).</exception>
    public FloatSequenceDataset(IReadOnlyList<float[]> frames, int features, IReadOnlyList<int[]> labels)
        : this(Frames(frames, features, labels?.Count, out var starts, out var lengths), starts, lengths, features, true,
            Rows(labels!, lengths, 1, nameof(labels), out var outStarts, out long counted), [], 0, outStarts, counted)
    {
    }

    /// <summary>
    /// Creates a set with one class label per sequence, for a model with one output row per example (pooled over time,
    /// e.g. <c>[GlobalAvgPool]</c> or an LSTM with <c>ReturnSequences = false</c>): example i has the features
    /// <c>frames[i]</c> (<c>[length · features]</c>) and the class <c>labels[i]</c>.
    /// </summary>
    /// <exception cref="ArgumentNullException">A list or one of its arrays is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="features"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The lists differ in count, or an example is empty, is not a multiple of <paramref name="features"/> floats or holds NaN or infinity (the message names it).</exception>
    public static FloatSequenceDataset Classification(IReadOnlyList<float[]> frames, int features, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var inputs = Frames(frames, features, labels.Count, out var starts, out var lengths);
        var copy = labels.ToArray();
        return new FloatSequenceDataset(inputs, starts, lengths, features, false, copy, [], 0,
            Enumerable.Range(0, copy.Length).ToArray(), copy.Count(l => l != Loss.DefaultIgnoreIndex));
    }

    /// <summary>
    /// Creates a set with float targets per position (per-position regression, e.g. denoising or a value at every time
    /// step): example i has the features <c>frames[i]</c> (<c>[length · features]</c>) and the targets <c>targets[i]</c>
    /// (<c>[length · targetsPerPosition]</c>). Padded positions never enter the loss (<see cref="Trainer"/> takes the mean
    /// over the real positions).
    /// </summary>
    /// <param name="frames">Each example's features <c>[length · features]</c>.</param>
    /// <param name="features">F, floats per position (positive).</param>
    /// <param name="targets">Each example's targets <c>[length · targetsPerPosition]</c>.</param>
    /// <param name="targetsPerPosition">K, targets per position (positive): the model's <see cref="IModel.OutputLength"/>.</param>
    /// <exception cref="ArgumentNullException">A list or one of its arrays is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="features"/> or <paramref name="targetsPerPosition"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The lists differ in count, or an example is empty, is not a multiple of <paramref name="features"/> floats, has another number of target rows than positions, or holds NaN or infinity in its features or targets (the message names the example and the position).</exception>
    public static FloatSequenceDataset Regression(IReadOnlyList<float[]> frames, int features, IReadOnlyList<float[]> targets, int targetsPerPosition = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetsPerPosition);
        var inputs = Frames(frames, features, targets?.Count, out var starts, out var lengths);
        var all = Targets(targets!, lengths, targetsPerPosition, perPosition: true, out var outStarts);
        return new FloatSequenceDataset(inputs, starts, lengths, features, true, [], all, targetsPerPosition, outStarts, lengths.Sum(l => (long)l));
    }

    /// <summary>
    /// Creates a set with one float target vector per sequence, for a model with one output row per example (pooled over
    /// time): example i has the features <c>frames[i]</c> (<c>[length · features]</c>) and the targets <c>targets[i]</c>
    /// (the same length K for every example: the model's <see cref="IModel.OutputLength"/>).
    /// </summary>
    /// <exception cref="ArgumentNullException">A list or one of its arrays is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="features"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The lists differ in count or are empty, or an example is empty, is not a multiple of <paramref name="features"/> floats, has targets of another length than example 0's, or holds NaN or infinity (the message names the example).</exception>
    public static FloatSequenceDataset PooledRegression(IReadOnlyList<float[]> frames, int features, IReadOnlyList<float[]> targets)
    {
        var inputs = Frames(frames, features, targets?.Count, out var starts, out var lengths);
        if (targets!.Count == 0) throw new ArgumentException("The set has no examples.", nameof(targets));
        int width = targets[0]?.Length ?? throw new ArgumentNullException(nameof(targets), "The targets of sequence 0 are null.");
        if (width == 0) throw new ArgumentException("The targets of sequence 0 are empty; every sequence needs at least one target.", nameof(targets));
        var all = Targets(targets, lengths, width, perPosition: false, out var outStarts);
        return new FloatSequenceDataset(inputs, starts, lengths, features, false, [], all, width, outStarts, lengths.Length);
    }

    /// <summary>
    /// Creates a forecasting set from one long series cut into sliding windows, as PyTorch users feed a DataLoader of
    /// windows: with the series <c>[N, features]</c> (N = <c>series.Length / features</c>), example i starts at
    /// <c>s = i·stride</c>, its input is the frames <c>[s, s+window)</c> (<c>[window, features]</c>) and its target the
    /// <paramref name="horizon"/> frames that follow, <c>[s+window, s+window+horizon)</c> flattened (<c>[horizon · features]</c>,
    /// one target vector per sequence: the model's output, pooled over time). There are
    /// <c>(N − window − horizon) / stride + 1</c> windows; frames after the last whole window are not used. The series is
    /// copied once and the windows read from that copy, whatever the stride.
    /// </summary>
    /// <param name="series">The series, frame after frame <c>[N · features]</c>.</param>
    /// <param name="features">F, floats per frame (positive).</param>
    /// <param name="window">Frames per input (positive).</param>
    /// <param name="horizon">Frames to predict after each window (positive).</param>
    /// <param name="stride">Frames between window starts (positive; null: 1, every window).</param>
    /// <exception cref="ArgumentNullException"><paramref name="series"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="features"/>, <paramref name="window"/>, <paramref name="horizon"/> or <paramref name="stride"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The series is not a multiple of <paramref name="features"/> floats, is shorter than <paramref name="window"/> + <paramref name="horizon"/> frames, or holds NaN or infinity (the message names the frame).</exception>
    public static FloatSequenceDataset Forecast(float[] series, int features, int window, int horizon = 1, int? stride = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(window);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(horizon);
        int step = stride ?? 1;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(step, nameof(stride));
        if (series.Length % features != 0)
            throw new ArgumentException($"The series has {series.Length} floats, not a multiple of {features} features per frame.", nameof(series));
        int frames = series.Length / features;
        if (frames < (long)window + horizon)
            throw new ArgumentException($"The series has {frames} frames; a window of {window} and the {horizon} that follow need at least {(long)window + horizon}.", nameof(series));
        int at = Finiteness.IndexOfNonFinite(series);
        if (at >= 0)
            throw new ArgumentException($"The series holds {series[at]} at frame {at / features}, feature {at % features}.", nameof(series));
        int count = (frames - window - horizon) / step + 1;
        var starts = new int[count];
        var outStarts = new int[count];
        var lengths = new int[count];
        for (int i = 0; i < count; i++)
            (starts[i], outStarts[i], lengths[i]) = (i * step * features, (i * step + window) * features, window);
        var copy = series.ToArray();
        return new FloatSequenceDataset(copy, starts, lengths, features, false, [], copy, horizon * features, outStarts, count);
    }

    /// <inheritdoc/>
    public int Count => _lengths.Length;

    /// <inheritdoc/>
    public int LongestSequence { get; }

    /// <inheritdoc/>
    public int InputLength { get; }

    /// <inheritdoc/>
    public bool LabelsPerPosition { get; }

    /// <inheritdoc/>
    public int TargetLength { get; }

    /// <summary>
    /// One epoch's loss terms: with class labels, those that count (not <see cref="Loss.DefaultIgnoreIndex"/>); with
    /// targets, the positions (per position) or the sequences.
    /// </summary>
    public long LabelCount { get; }

    /// <inheritdoc/>
    public int Length(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The set has {Count} examples.");
        return _lengths[index];
    }

    /// <inheritdoc/>
    public void ReadExample(int index, Span<float> inputs, Span<int> labels, Span<float> targets)
    {
        int length = Length(index), rows = LabelsPerPosition ? length : 1;
        if (inputs.Length != length * InputLength)
            throw new ArgumentException($"Example {index} has {length} positions of {InputLength} features; the input span holds {inputs.Length}.", nameof(inputs));
        int labelCount = TargetLength == 0 ? rows : 0, targetCount = rows * TargetLength;
        if (labels.Length != labelCount) throw new ArgumentException($"Example {index} has {labelCount} label(s); the label span holds {labels.Length}.", nameof(labels));
        if (targets.Length != targetCount) throw new ArgumentException($"Example {index} has {targetCount} target(s); the target span holds {targets.Length}.", nameof(targets));
        _inputs.AsSpan(_inputStarts[index], inputs.Length).CopyTo(inputs);
        if (TargetLength == 0) _labels.AsSpan(_outStarts[index], labelCount).CopyTo(labels);
        else _targets.AsSpan(_outStarts[index], targetCount).CopyTo(targets);
    }

    /// <summary>Every example's frames back to back, checked (present, whole positions, finite), with offsets and lengths.</summary>
    private static float[] Frames(IReadOnlyList<float[]> frames, int features, int? labelLists, out int[] starts, out int[] lengths)
    {
        ArgumentNullException.ThrowIfNull(frames);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        if (labelLists is not { } labelCount) throw new ArgumentNullException("labels", "The labels or targets are null.");
        int count = frames.Count;
        if (labelCount != count)
            throw new ArgumentException($"The lists hold {count} sequences but {labelCount} labels or targets; they must match.", nameof(frames));
        starts = new int[count];
        lengths = new int[count];
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            float[] x = frames[i] ?? throw new ArgumentNullException(nameof(frames), $"Sequence {i} is null.");
            if (x.Length == 0) throw new ArgumentException($"Sequence {i} is empty; every example needs at least one position.", nameof(frames));
            if (x.Length % features != 0)
                throw new ArgumentException($"Sequence {i} has {x.Length} floats, not a multiple of {features} features per position.", nameof(frames));
            int at = Finiteness.IndexOfNonFinite(x);
            if (at >= 0)
                throw new ArgumentException($"Sequence {i} holds {x[at]} at position {at / features}, feature {at % features}.", nameof(frames));
            starts[i] = checked((int)total);
            lengths[i] = x.Length / features;
            total += x.Length;
        }
        var all = new float[checked((int)total)];
        for (int i = 0; i < count; i++) frames[i].CopyTo(all, starts[i]);
        return all;
    }

    /// <summary>Per-position class labels back to back, checked against the lengths, with offsets and the count that enters the loss.</summary>
    private static int[] Rows(IReadOnlyList<int[]> labels, int[] lengths, int perPosition, string name, out int[] outStarts, out long counted)
    {
        outStarts = new int[lengths.Length];
        long total = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            int[] tags = labels[i] ?? throw new ArgumentNullException(name, $"The labels of sequence {i} are null.");
            if (tags.Length != lengths[i] * perPosition)
                throw new ArgumentException($"Example {i} has {lengths[i]} positions but {tags.Length} labels; they must match.", name);
            outStarts[i] = checked((int)total);
            total += tags.Length;
        }
        var all = new int[checked((int)total)];
        counted = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            labels[i].CopyTo(all, outStarts[i]);
            foreach (int label in labels[i]) counted += label == Loss.DefaultIgnoreIndex ? 0 : 1;
        }
        return all;
    }

    /// <summary>Targets back to back, checked (lengths, finite), with offsets.</summary>
    private static float[] Targets(IReadOnlyList<float[]> targets, int[] lengths, int width, bool perPosition, out int[] outStarts)
    {
        outStarts = new int[lengths.Length];
        long total = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            float[] y = targets[i] ?? throw new ArgumentNullException(nameof(targets), $"The targets of sequence {i} are null.");
            long expected = perPosition ? (long)lengths[i] * width : width;
            if (y.Length != expected)
                throw new ArgumentException(perPosition
                    ? $"Example {i} has {lengths[i]} positions, so {expected} targets ({width} per position), but {y.Length}."
                    : $"Example {i} has {y.Length} targets but example 0 has {width}; every sequence needs the same number.", nameof(targets));
            int at = Finiteness.IndexOfNonFinite(y);
            if (at >= 0)
                throw new ArgumentException(perPosition
                    ? $"The targets of sequence {i} hold {y[at]} at position {at / width}, target {at % width}."
                    : $"The targets of sequence {i} hold {y[at]} at target {at}.", nameof(targets));
            outStarts[i] = checked((int)total);
            total += y.Length;
        }
        var all = new float[checked((int)total)];
        for (int i = 0; i < lengths.Length; i++) targets[i].CopyTo(all, outStarts[i]);
        return all;
    }
}
