// Minibatches for next-character training, as nanoGPT's get_batch: B windows of T + 1 consecutive ids starting at
// uniformly random offsets of the encoded training text; the model reads the first T ids of each window and learns
// to predict the next T (the same window shifted by one). Offsets come from a seeded ModelGen.Rng, so a seed fixes
// every batch of a run. The [B, T] buffers are allocated once and refilled in place.
using ModelGen;

namespace TextGen;

/// <summary>
/// Draws batches of random training windows from an encoded text. <see cref="Inputs"/> and <see cref="Targets"/> are
/// [BatchSize, WindowLength] row-major with <c>Targets[b, t] = Inputs[b, t + 1]</c> within the text, i.e.
/// <c>Inputs[b, t] = text[s_b + t]</c> and <c>Targets[b, t] = text[s_b + t + 1]</c> for the window start <c>s_b</c>.
/// Allocates nothing per batch. Not thread-safe.
/// </summary>
public sealed class TrainingWindows
{
    private readonly int[] _text;
    private readonly Rng _rng;
    private readonly int[] _inputs;    // [B, T]
    private readonly int[] _targets;   // [B, T]
    private readonly int[] _starts;    // [B] window offsets in the text

    /// <summary>Creates the batcher; call <see cref="Next"/> for the first batch.</summary>
    /// <param name="text">The encoded training text (not copied; must not change while in use).</param>
    /// <param name="batchSize">Windows per batch (B, positive).</param>
    /// <param name="windowLength">Ids the model reads per window (T, positive); each window spans T + 1 ids of the text.</param>
    /// <param name="seed">Seed of the window offsets.</param>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> or <paramref name="windowLength"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The text is shorter than one window (T + 1 ids).</exception>
    public TrainingWindows(int[] text, int batchSize, int windowLength, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(windowLength);
        if (text.Length <= windowLength)
            throw new ArgumentException($"A window needs {windowLength + 1} ids (T + 1) but the text has {text.Length}.", nameof(text));
        _text = text;
        BatchSize = batchSize;
        WindowLength = windowLength;
        _rng = new Rng(seed);
        _inputs = new int[checked(batchSize * windowLength)];
        _targets = new int[_inputs.Length];
        _starts = new int[batchSize];
    }

    /// <summary>Windows per batch (B).</summary>
    public int BatchSize { get; }

    /// <summary>Positions per window (T).</summary>
    public int WindowLength { get; }

    /// <summary>The current batch's inputs [B, T] (all zero before the first <see cref="Next"/>).</summary>
    public ReadOnlySpan<int> Inputs => _inputs;

    /// <summary>The current batch's next-character targets [B, T].</summary>
    public ReadOnlySpan<int> Targets => _targets;

    /// <summary>The current batch's window offsets [B], each in [0, text length − T − 1].</summary>
    public ReadOnlySpan<int> Starts => _starts;

    /// <summary>Draws the next batch: B offsets uniform over every window that fits in the text, then copies the windows.</summary>
    public void Next()
    {
        int T = WindowLength, positions = _text.Length - T;   // starts 0 .. N - T - 1 keep s + T (the last target) inside
        for (int b = 0; b < BatchSize; b++)
        {
            int s = _rng.NextInt(positions);
            _starts[b] = s;
            _text.AsSpan(s, T).CopyTo(_inputs.AsSpan(b * T, T));
            _text.AsSpan(s + 1, T).CopyTo(_targets.AsSpan(b * T, T));
        }
    }
}
