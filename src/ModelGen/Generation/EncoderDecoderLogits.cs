// The next-token path of an encoder-decoder model: a generated two-input model whose causal target side attends to the source
// has PrepareSource (the source side once, the cross-attention keys and values of it into a cache) and ForwardStep (one target
// position over that cache). The source is fixed per generation, so it is set apart from the context (SetSource); the target
// context then goes through IncrementalLogits exactly as a single-input model's does, which reads only the new tokens.
namespace ModelGen;

/// <summary>A generated two-input model's <c>PrepareSource(source, batch, sourceSeq, sourceLengths, cache)</c>.</summary>
/// <param name="source">Source token ids [batch, sourceSeq].</param>
/// <param name="batch">Examples.</param>
/// <param name="sourceSeq">Source positions per example.</param>
/// <param name="sourceLengths">Real source lengths [batch], or empty when all are <paramref name="sourceSeq"/>.</param>
/// <param name="cache">[batch × CacheSize(sourceSeq)]: receives the prepared source for the model's <c>ForwardStep</c>.</param>
public delegate void SourcePreparation(ReadOnlySpan<int> source, int batch, int sourceSeq, ReadOnlySpan<int> sourceLengths, Span<float> cache);

/// <summary>
/// <see cref="NextTokenLogits"/> of an encoder-decoder model conditioned on a source (a sentence to translate, a document to
/// summarise): <see cref="SetSource"/> runs the model's source side once, then <see cref="Logits"/> continues the target
/// context one cached position per new token, as <see cref="IncrementalLogits"/> does for a single-input model. A context
/// longer than the model's MaxLength is decoded over its last MaxLength tokens (re-read through the cache). Not
/// thread-safe; allocates nothing per token (nor per <see cref="SetSource"/> once the cache has grown to the longest source).
/// </summary>
public sealed class EncoderDecoderLogits
{
    private readonly SourcePreparation _prepare;
    private readonly Func<int, int> _cacheSize;
    private readonly SourceStepModel _model;
    private readonly IncrementalLogits _incremental;

    /// <summary>Wraps a generated two-input model's decoding calls.</summary>
    /// <param name="prepare">The model's <c>PrepareSource</c>.</param>
    /// <param name="step">The model's <c>ForwardStep</c>.</param>
    /// <param name="cacheSize">The model's static <c>CacheSize(sourceSeq)</c>: cache floats per example for a source length.</param>
    /// <param name="capacity">The model's <c>MaxLength</c>: target positions the cache holds (positive).</param>
    /// <param name="vocabularySize">Logits per target position (positive).</param>
    /// <param name="expectedSourceLength">The longest source expected (positive; a hint: a longer one grows the cache once).</param>
    /// <exception cref="ArgumentNullException">A delegate is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public EncoderDecoderLogits(SourcePreparation prepare, CachedForward step, Func<int, int> cacheSize, int capacity, int vocabularySize,
        int expectedSourceLength = 64)
    {
        ArgumentNullException.ThrowIfNull(prepare);
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(cacheSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(expectedSourceLength);
        _prepare = prepare;
        _cacheSize = cacheSize;
        _model = new SourceStepModel(step, new float[cacheSize(expectedSourceLength)], capacity, vocabularySize);
        _incremental = new IncrementalLogits(_model, capacity);
    }

    /// <summary>Logits per target position.</summary>
    public int VocabularySize => _model.VocabularySize;

    /// <summary>Tokens of the current source (0 before the first <see cref="SetSource"/>).</summary>
    public int SourceLength { get; private set; }

    /// <summary>
    /// Conditions every following <see cref="Logits"/> call on <paramref name="source"/> (all of it real: one example, no padding):
    /// runs the model's <c>PrepareSource</c> into the cache and forgets the target tokens read so far.
    /// </summary>
    /// <param name="source">The source token ids (at least one).</param>
    /// <exception cref="ArgumentException"><paramref name="source"/> is empty, or the model rejects it (e.g. longer than its source positions).</exception>
    /// <exception cref="ArgumentOutOfRangeException">A source id is outside the model's source vocabulary.</exception>
    public void SetSource(ReadOnlySpan<int> source)
    {
        if (source.IsEmpty) throw new ArgumentException("The source needs at least one token.", nameof(source));
        SourceLength = 0;   // not conditioned until PrepareSource has completed
        int size = _cacheSize(source.Length);
        _model.UseCache(size);
        _incremental.Reset();
        _prepare(source, 1, source.Length, default, _model.Cache);
        SourceLength = source.Length;
    }

    /// <summary>The <see cref="NextTokenLogits"/> of this model under the current source: the logits after the target <paramref name="context"/>.</summary>
    /// <exception cref="InvalidOperationException">No source was set (or the last <see cref="SetSource"/> failed).</exception>
    /// <exception cref="ArgumentException"><paramref name="context"/> is empty, or <paramref name="logits"/> is not [<see cref="VocabularySize"/>].</exception>
    public void Logits(ReadOnlySpan<int> context, Span<float> logits)
    {
        if (SourceLength == 0) throw new InvalidOperationException("Call SetSource with the source to condition on before asking for logits.");
        _incremental.Logits(context, logits);
    }

    /// <summary>The decoder side as an <see cref="IIncrementalTokenModel"/>: ForwardStep over the prepared cache, one position per token.</summary>
    private sealed class SourceStepModel(CachedForward step, float[] cache, int capacity, int vocabularySize) : IIncrementalTokenModel
    {
        private float[] _cache = cache;   // [CacheSize(sourceSeq)] for the longest source so far; the first _length floats are in use
        private int _length = cache.Length;
        private int _position;

        public int Capacity { get; } = capacity;

        public int VocabularySize { get; } = vocabularySize;

        /// <summary>This source's cache: exactly CacheSize(sourceSeq) floats, as ForwardStep checks.</summary>
        public Span<float> Cache => _cache.AsSpan(0, _length);

        /// <summary>Sizes the cache for a source needing <paramref name="length"/> floats (a new array only past the longest so far).</summary>
        public void UseCache(int length)
        {
            if (length > _cache.Length) _cache = new float[length];
            _length = length;
        }

        public void Reset() => _position = 0;

        public void Append(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            if (tokens.IsEmpty) throw new ArgumentException("Append needs at least one token.", nameof(tokens));
            if (_position + tokens.Length > Capacity)
                throw new ArgumentException($"Reading {tokens.Length} more tokens after {_position} would pass the cache's {Capacity} positions; Reset first.", nameof(tokens));
            for (int i = 0; i < tokens.Length; i++)
                step(tokens.Slice(i, 1), logits, 1, _position++, Cache);
        }
    }
}
