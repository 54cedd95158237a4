// Validation bits per character of a next-character model, scored the same way for every model so that numbers
// compare: the text x[0..N) is cut into non-overlapping windows of the model's context T, window i reading
// x[iT .. iT+T) and predicting x[iT+1 .. iT+T+1) (the last window shorter, ending at x[N-1]), so every character
// after the first is predicted exactly once, from the characters of its own window before it (position t of a
// window sees t + 1 characters; the first prediction of each window sees one). Log-probabilities come from a
// max-subtracted log-softmax in double: log p(y) = z_y − m − log Σ_k exp(z_k − m), m = max_k z_k.
using ModelGen;

namespace TextGen;

/// <summary>Total bits a model needs for a text, and over how many predicted characters.</summary>
/// <param name="Bits">Σ −log₂ p(target) over every scored position.</param>
/// <param name="Characters">Scored positions: the text length − 1.</param>
public readonly record struct BpcResult(double Bits, long Characters)
{
    /// <summary>Bits per character: the mean of −log₂ p(target).</summary>
    public double Bpc => Bits / Characters;

    /// <summary>The same mean in nats (cross-entropy loss units): bpc · ln 2.</summary>
    public double Nats => Bpc * Math.Log(2);
}

/// <summary>Scores next-character models in bits per character (see the file header for the window scheme).</summary>
public static class BitsPerCharacter
{
    /// <summary>How much of the test text the sample's <c>validation bpc</c> scores: its first 200,000 characters.</summary>
    public const int ValidationCharacters = 200_000;

    /// <summary>
    /// Scores <paramref name="model"/> on <paramref name="text"/> in non-overlapping windows of
    /// <paramref name="context"/> positions: effectively <c>Σ_i Σ_t −log₂ softmax(model(x[iT .. iT+L_i))[t])[x[iT+t+1]]</c>
    /// with <c>L_i = min(T, N − 1 − iT)</c>, over every window i, so N − 1 positions in all.
    /// </summary>
    /// <param name="model">A model that maps ids [batch, seq] to logits [batch, seq, <paramref name="vocabularySize"/>] (inference <c>Forward</c>).</param>
    /// <param name="text">The encoded text x (at least 2 ids), each id in [0, <paramref name="vocabularySize"/>).</param>
    /// <param name="context">T: positions per window (positive; the model's context length).</param>
    /// <param name="vocabularySize">The logits width per position.</param>
    /// <param name="batchSize">Full windows per <c>Forward</c> call (positive; only speed depends on it).</param>
    /// <returns>The total bits and the number of scored characters.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="context"/>, <paramref name="vocabularySize"/> or <paramref name="batchSize"/> is not positive, or a target id is outside [0, <paramref name="vocabularySize"/>).</exception>
    /// <exception cref="ArgumentException"><paramref name="text"/> has fewer than 2 ids (nothing to predict).</exception>
    public static BpcResult Evaluate(ISequenceModel<int> model, ReadOnlySpan<int> text, int context, int vocabularySize, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Evaluate((input, logits, batch, seq) => model.Forward(input, logits, batch, seq), text, context, vocabularySize, batchSize);
    }

    /// <summary>
    /// <see cref="Evaluate(ISequenceModel{int}, ReadOnlySpan{int}, int, int, int)"/> over a model's immutable inference snapshot
    /// (<c>model.CreatePredictor()</c>: weights copied and packed once), what the sample scores with.
    /// </summary>
    /// <param name="predictor">Maps ids [batch, seq] to logits [batch, seq, <paramref name="vocabularySize"/>].</param>
    /// <param name="text">The encoded text x (at least 2 ids), each id in [0, <paramref name="vocabularySize"/>).</param>
    /// <param name="context">T: positions per window (positive; the model's context length).</param>
    /// <param name="vocabularySize">The logits width per position.</param>
    /// <param name="batchSize">Full windows per <c>Forward</c> call (positive; only speed depends on it).</param>
    /// <returns>The total bits and the number of scored characters.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="predictor"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="context"/>, <paramref name="vocabularySize"/> or <paramref name="batchSize"/> is not positive, or a target id is outside [0, <paramref name="vocabularySize"/>).</exception>
    /// <exception cref="ArgumentException"><paramref name="text"/> has fewer than 2 ids (nothing to predict).</exception>
    public static BpcResult Evaluate(ISequencePredictor<int> predictor, ReadOnlySpan<int> text, int context, int vocabularySize, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(predictor);
        return Evaluate((input, logits, batch, seq) => predictor.Forward(input, logits, batch, seq), text, context, vocabularySize, batchSize);
    }

    /// <summary>Runs ids [batch, seq] to logits [batch, seq, V]: a model's or a predictor's inference <c>Forward</c>.</summary>
    private delegate void LogitsForward(ReadOnlySpan<int> input, Span<float> logits, int batch, int seq);

    private static BpcResult Evaluate(LogitsForward model, ReadOnlySpan<int> text, int context, int vocabularySize, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(context);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (text.Length < 2)
            throw new ArgumentException($"Scoring needs at least 2 ids (one to read, one to predict), but the text has {text.Length}.", nameof(text));

        int predictions = text.Length - 1;
        int fullWindows = predictions / context, lastLength = predictions % context;
        int rows = Math.Min(batchSize, Math.Max(1, fullWindows));
        var inputs = new int[rows * context];                          // [rows, T]
        var logits = new float[rows * context * vocabularySize];       // [rows, T, V]
        double nats = 0;
        for (int first = 0; first < fullWindows; first += rows)
        {
            int batch = Math.Min(rows, fullWindows - first);
            // Windows first .. first + batch - 1 are contiguous in the text, so their inputs are one copy.
            text.Slice(first * context, batch * context).CopyTo(inputs);
            Score(model, inputs.AsSpan(0, batch * context), text.Slice(first * context + 1, batch * context),
                  logits.AsSpan(0, batch * context * vocabularySize), batch, context, vocabularySize, ref nats);
        }
        if (lastLength > 0)
        {
            int start = fullWindows * context;
            text.Slice(start, lastLength).CopyTo(inputs);
            Score(model, inputs.AsSpan(0, lastLength), text.Slice(start + 1, lastLength),
                  logits.AsSpan(0, lastLength * vocabularySize), 1, lastLength, vocabularySize, ref nats);
        }
        return new BpcResult(nats / Math.Log(2), predictions);
    }

    /// <summary>
    /// Runs <paramref name="batch"/> windows of <paramref name="seq"/> positions and adds −ln p(target) of each position to
    /// <paramref name="nats"/> in text order, so the total does not depend on how windows are batched.
    /// </summary>
    private static void Score(LogitsForward model, ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets,
                              Span<float> logits, int batch, int seq, int vocabularySize, ref double nats)
    {
        model(inputs, logits, batch, seq);
        for (int r = 0; r < targets.Length; r++)
            nats -= LogSoftmaxAt(logits.Slice(r * vocabularySize, vocabularySize), targets[r]);
    }

    /// <summary>log softmax(<paramref name="logits"/>)[<paramref name="target"/>] in double, max-subtracted.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="target"/> is outside the logits.</exception>
    internal static double LogSoftmaxAt(ReadOnlySpan<float> logits, int target)
    {
        if ((uint)target >= (uint)logits.Length)
            throw new ArgumentOutOfRangeException(nameof(target), target, $"A target id must be in [0, {logits.Length}).");
        double max = double.NegativeInfinity;
        foreach (float z in logits) max = Math.Max(max, z);
        double sum = 0;
        foreach (float z in logits) sum += Math.Exp(z - max);
        return logits[target] - max - Math.Log(sum);
    }
}
