// The incremental path for causal Transformer models: a generated model with a causal [TransformerEncoder] and a
// MaxLength has ForwardStep(input, output, batch, position, cache), which runs one position over the key/value cache
// the earlier positions filled. Reading one more token is one such call: attention over t cached positions instead
// of re-running the prefix. That is all IIncrementalTokenModel needs.
namespace ModelGen;

/// <summary>A generated causal model's <c>ForwardStep(input, output, batch, position, cache)</c>.</summary>
/// <param name="input">Token ids at <paramref name="position"/> [batch].</param>
/// <param name="output">Logits at <paramref name="position"/> [batch, V].</param>
/// <param name="batch">Examples.</param>
/// <param name="position">The position, in [0, MaxLength).</param>
/// <param name="cache">[batch × CacheSize], kept between calls.</param>
public delegate void CachedForward(ReadOnlySpan<int> input, Span<float> output, int batch, int position, Span<float> cache);

/// <summary>
/// <see cref="IIncrementalTokenModel"/> over a causal Transformer's key/value cache: capacity MaxLength (past it,
/// <see cref="IncrementalLogits"/> resets and re-reads the last window, as the full re-run would). Allocates nothing.
/// </summary>
public sealed class CachedTokenModel : IIncrementalTokenModel
{
    private readonly CachedForward _step;
    private readonly float[] _cache;   // [CacheSize] keys and values of the positions read so far
    private int _position;

    /// <summary>Wraps a model's <c>ForwardStep</c>.</summary>
    /// <param name="step">The model's <c>ForwardStep</c>, e.g. of a generated <c>CharGpt</c>.</param>
    /// <param name="cacheSize">The model's <c>CacheSize</c> (floats per example, positive).</param>
    /// <param name="capacity">The model's <c>MaxLength</c> (positive).</param>
    /// <param name="vocabularySize">Logits per position (positive).</param>
    /// <exception cref="ArgumentNullException"><paramref name="step"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public CachedTokenModel(CachedForward step, int cacheSize, int capacity, int vocabularySize)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cacheSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        _step = step;
        _cache = new float[cacheSize];
        Capacity = capacity;
        VocabularySize = vocabularySize;
    }

    /// <inheritdoc/>
    public int Capacity { get; }

    /// <inheritdoc/>
    public int VocabularySize { get; }

    /// <summary>Starts over at position 0 (the cache rows are overwritten as positions are read again).</summary>
    public void Reset() => _position = 0;

    /// <summary>Runs <paramref name="tokens"/> one position at a time; the last position's logits land in <paramref name="logits"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="tokens"/> is empty or would pass <see cref="Capacity"/>, or <paramref name="logits"/> is not [V].</exception>
    public void Append(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        if (tokens.IsEmpty) throw new ArgumentException("Append needs at least one token.", nameof(tokens));
        if (_position + tokens.Length > Capacity)
            throw new ArgumentException($"Reading {tokens.Length} more tokens after {_position} would pass the cache's {Capacity} positions; Reset first.", nameof(tokens));
        if (logits.Length != VocabularySize)
            throw new ArgumentException($"'logits' has {logits.Length} elements, expected the vocabulary size {VocabularySize}.", nameof(logits));
        for (int i = 0; i < tokens.Length; i++)
            _step(tokens.Slice(i, 1), logits, 1, _position++, _cache);
    }
}
