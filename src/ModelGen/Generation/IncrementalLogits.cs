// The cached next-token path: a model that keeps what it has read (IIncrementalTokenModel), fed only the tokens a
// context adds to what it read last time.
namespace ModelGen;

/// <summary>
/// A model that keeps what it has read (a Transformer's key/value cache, a recurrent network's state) and extends it
/// by new tokens, the contract <see cref="IncrementalLogits"/> drives.
/// </summary>
public interface IIncrementalTokenModel
{
    /// <summary>The most tokens the cache holds (a Transformer's <c>MaxLength</c>; <see cref="int.MaxValue"/> for a recurrent state).</summary>
    int Capacity { get; }

    /// <summary>Logits per token.</summary>
    int VocabularySize { get; }

    /// <summary>Forgets every token read (an empty cache, the initial state).</summary>
    void Reset();

    /// <summary>
    /// Reads <paramref name="tokens"/> after those already read (at most <see cref="Capacity"/> in all since the last
    /// <see cref="Reset"/>) and writes the logits for the token after the last of them into <paramref name="logits"/> [V].
    /// </summary>
    void Append(ReadOnlySpan<int> tokens, Span<float> logits);
}

/// <summary>
/// <see cref="NextTokenLogits"/> over an <see cref="IIncrementalTokenModel"/>: when the context is what the model has
/// read plus new tokens, only those are appended; otherwise (a new prompt, or a context longer than
/// <see cref="IIncrementalTokenModel.Capacity"/>, whose window moved) the model is reset and reads the last
/// <c>Capacity</c> tokens again, which is the same window <see cref="SequenceModelLogits"/> would run.
/// Allocates nothing per call once its record of read tokens has grown to the longest context (capacity hint at construction).
/// </summary>
public sealed class IncrementalLogits
{
    private readonly IIncrementalTokenModel _model;
    private readonly NextTokenLogits? _windowed;
    private int[] _read;       // [capacity] the tokens the model has read since its last Reset, oldest first
    private int _readCount;

    /// <summary>Wraps <paramref name="model"/>, expecting contexts of up to <paramref name="expectedLength"/> tokens (a hint: longer ones grow the record).</summary>
    /// <param name="model">The cached model.</param>
    /// <param name="expectedLength">The longest context expected.</param>
    /// <param name="windowed">
    /// Optional: the logits of a context longer than the capacity, from one batched run over its last window (e.g.
    /// <see cref="SequenceModelLogits"/>). Once the window slides, every token has a new window, and re-reading it
    /// through the cache a position at a time would cost far more than one batched run.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expectedLength"/> is not positive.</exception>
    public IncrementalLogits(IIncrementalTokenModel model, int expectedLength = 1024, NextTokenLogits? windowed = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(expectedLength);
        _model = model;
        _windowed = windowed;
        _read = new int[Math.Min(expectedLength, model.Capacity)];
        _model.Reset();
    }

    /// <summary>Tokens the model has read since its last reset.</summary>
    public int ReadCount => _readCount;

    /// <summary>
    /// Resets the model and forgets what it read, so the next <see cref="Logits"/> call reads its whole context again: for
    /// when what the model's outputs depend on changed outside the context (e.g. an encoder-decoder model's source).
    /// </summary>
    public void Reset()
    {
        _model.Reset();
        _readCount = 0;
    }

    /// <summary>The <see cref="NextTokenLogits"/> of this model.</summary>
    /// <exception cref="ArgumentException"><paramref name="context"/> is empty, or <paramref name="logits"/> is not [vocabulary].</exception>
    public void Logits(ReadOnlySpan<int> context, Span<float> logits)
    {
        if (context.IsEmpty) throw new ArgumentException("The context needs at least one token.", nameof(context));
        if (logits.Length != _model.VocabularySize)
            throw new ArgumentException($"'logits' has {logits.Length} elements, expected the vocabulary size {_model.VocabularySize}.", nameof(logits));
        if (context.Length > _model.Capacity && _windowed is not null)
        {
            _readCount = 0;   // the cache no longer holds a prefix of what comes next
            _windowed(context, logits);
            return;
        }
        ReadOnlySpan<int> window = context.Length > _model.Capacity ? context[^_model.Capacity..] : context;
        bool extends = window.Length > _readCount && window[.._readCount].SequenceEqual(_read.AsSpan(0, _readCount));
        if (!extends)
        {
            _model.Reset();
            _readCount = 0;
        }
        ReadOnlySpan<int> fresh = window[_readCount..];
        if (window.Length > _read.Length)   // doubling, capped at the capacity (which bounds every window)
            Array.Resize(ref _read, (int)Math.Min(Math.Max(window.Length, 2L * _read.Length), _model.Capacity));
        fresh.CopyTo(_read.AsSpan(_readCount));
        _readCount = window.Length;
        _model.Append(fresh, logits);
    }
}
