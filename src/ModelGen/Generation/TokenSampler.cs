// Text generation from a next-token model. The sampler only needs "the logits of the token after this context", a
// delegate (NextTokenLogits), so how a model computes them is the model's business:
//   SequenceModelLogits   any ISequenceModel<int>: re-runs Forward over the last <= context tokens and keeps the
//                         last row (O(T) work per token; always available).
//   IncrementalLogits     a model that caches what it has read (a Transformer's KV cache, an RNN's state) behind
//                         IIncrementalTokenModel: only the new token is processed (O(1) forward per token).
//   EncoderDecoderLogits  a two-input model's PrepareSource/ForwardStep: the target continued under a fixed source.
// Sampling follows nanoGPT's generate(): logits / temperature, optionally keep the top k, softmax, draw one token.
// Everything runs in buffers allocated at construction, so generating allocates nothing per token (a model's own
// arenas grow to their largest size on first use: that is the warm-up).
namespace ModelGen;

/// <summary>
/// Writes the model's logits for the token that follows <paramref name="context"/> into <paramref name="logits"/>
/// [vocabulary]. <paramref name="context"/> is the whole text so far (prompt and generated tokens, oldest first, at
/// least one token); within one generation each call's context is the previous one plus one token, which a caching
/// implementation uses to process only that token. An implementation reads as much of the context as its model sees
/// (e.g. the last <c>MaxLength</c> tokens).
/// </summary>
public delegate void NextTokenLogits(ReadOnlySpan<int> context, Span<float> logits);

/// <summary>Draws tokens from a <see cref="NextTokenLogits"/> model with temperature and top-k. Not thread-safe.</summary>
public sealed class TokenSampler
{
    private readonly NextTokenLogits _model;
    private readonly float[] _logits;     // [V] the model's output for the current context
    private readonly float[] _scratch;    // [V] sorted copy for the top-k threshold, then probabilities

    /// <summary>Creates a sampler over <paramref name="model"/>'s <paramref name="vocabularySize"/> logits.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vocabularySize"/> is not positive.</exception>
    public TokenSampler(NextTokenLogits model, int vocabularySize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        _model = model;
        _logits = new float[vocabularySize];
        _scratch = new float[vocabularySize];
    }

    /// <summary>Number of logits per token.</summary>
    public int VocabularySize => _logits.Length;

    /// <summary>The logits of the most recent <see cref="Next"/> call (before temperature and top-k).</summary>
    public ReadOnlySpan<float> LastLogits => _logits;

    /// <summary>Asks the model for the logits after <paramref name="context"/> and draws the next token with <see cref="Sample"/>.</summary>
    /// <param name="context">The text so far (at least one token).</param>
    /// <param name="temperature">See <see cref="Sample"/>.</param>
    /// <param name="topK">See <see cref="Sample"/>.</param>
    /// <param name="rng">The generator the draw uses.</param>
    /// <exception cref="ArgumentException"><paramref name="context"/> is empty (or the model rejects it).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> or <paramref name="topK"/> is out of range.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null.</exception>
    public int Next(ReadOnlySpan<int> context, float temperature, int topK, Rng rng)
    {
        if (context.IsEmpty) throw new ArgumentException("The context needs at least one token.", nameof(context));
        _model(context, _logits);
        return Sample(_logits, temperature, topK, rng, _scratch);
    }

    /// <summary>
    /// Extends <paramref name="sequence"/>[..<paramref name="promptLength"/>] (the prompt) token by token to its full
    /// length: token i is <see cref="Next"/> of <c>sequence[..i]</c>. Draws exactly one random number per token
    /// (none when <paramref name="temperature"/> is 0), so a seed fixes the text.
    /// </summary>
    /// <param name="sequence">[prompt + new tokens]: the prompt, then room for the generated tokens (overwritten).</param>
    /// <param name="promptLength">Tokens of prompt, in [1, sequence length].</param>
    /// <param name="temperature">See <see cref="Sample"/>.</param>
    /// <param name="topK">See <see cref="Sample"/>.</param>
    /// <param name="rng">The generator the draws use.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="promptLength"/>, <paramref name="temperature"/> or <paramref name="topK"/> is out of range.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null.</exception>
    public void Generate(Span<int> sequence, int promptLength, float temperature, int topK, Rng rng)
    {
        if (promptLength < 1 || promptLength > sequence.Length)
            throw new ArgumentOutOfRangeException(nameof(promptLength), promptLength, $"The prompt needs 1 to {sequence.Length} tokens (the sequence length).");
        ValidateOptions(temperature, topK);
        ArgumentNullException.ThrowIfNull(rng);
        for (int i = promptLength; i < sequence.Length; i++)
            sequence[i] = Next(sequence[..i], temperature, topK, rng);
    }

    /// <summary>
    /// Draws a token from <c>softmax(logits / temperature)</c> restricted to the <paramref name="topK"/> largest logits
    /// (nanoGPT's rule: tokens whose logit is below the k-th largest are dropped, so ties at the k-th value all stay).
    /// Effectively: <c>p_i ∝ exp((z_i − max z)/temperature)</c> over the kept tokens, in double; then the first token
    /// whose cumulative probability exceeds <c>u·Σp</c>, u uniform in [0, 1) from one <see cref="Rng.NextDouble"/>.
    /// Temperature 0 is greedy decoding: the largest logit, the lowest id among equals, and no random draw.
    /// </summary>
    /// <param name="logits">[V] the model's logits (finite; a −∞ logit has probability 0).</param>
    /// <param name="temperature">&gt;= 0 and finite: below 1 sharpens, above 1 flattens; 0 is greedy.</param>
    /// <param name="topK">0 for every token, else keep the k largest (k in [1, V]; k &gt; V acts as V).</param>
    /// <param name="rng">The generator.</param>
    /// <param name="scratch">[V] working memory (overwritten).</param>
    /// <returns>The drawn token id.</returns>
    /// <exception cref="ArgumentException"><paramref name="logits"/> is empty, or <paramref name="scratch"/> is shorter than it.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> is negative or not finite, or <paramref name="topK"/> is negative.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null.</exception>
    public static int Sample(ReadOnlySpan<float> logits, float temperature, int topK, Rng rng, Span<float> scratch)
    {
        ValidateOptions(temperature, topK);
        ArgumentNullException.ThrowIfNull(rng);
        if (logits.IsEmpty) throw new ArgumentException("There must be at least one logit.", nameof(logits));
        if (scratch.Length < logits.Length)
            throw new ArgumentException($"'scratch' has {scratch.Length} elements but there are {logits.Length} logits.", nameof(scratch));

        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        if (temperature == 0) return best;

        // The k-th largest logit, from a sorted copy (V is small: sorting 84 floats is cheaper than a selection's bookkeeping).
        float threshold = float.NegativeInfinity;
        if (topK > 0 && topK < logits.Length)
        {
            Span<float> sorted = scratch[..logits.Length];
            logits.CopyTo(sorted);
            sorted.Sort();
            threshold = sorted[logits.Length - topK];
        }

        // p_i = exp((z_i - z_max)/τ): subtracting the maximum keeps every exponent <= 0, and the best token gets p = 1.
        double max = logits[best], inverseTemperature = 1.0 / temperature, total = 0;
        Span<float> weights = scratch[..logits.Length];
        for (int i = 0; i < logits.Length; i++)
        {
            double p = logits[i] >= threshold ? Math.Exp((logits[i] - max) * inverseTemperature) : 0;
            weights[i] = (float)p;
            total += (float)p;
        }
        double u = rng.NextDouble() * total, cumulative = 0;
        int last = best;
        for (int i = 0; i < logits.Length; i++)
        {
            if (weights[i] == 0) continue;
            cumulative += weights[i];
            last = i;
            if (u < cumulative) return i;
        }
        return last;   // u·Σp rounded up to Σp: the last token with weight
    }

    private static void ValidateOptions(float temperature, int topK)
    {
        if (!(temperature >= 0) || float.IsPositiveInfinity(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be a finite value >= 0 (0 is greedy).");
        ArgumentOutOfRangeException.ThrowIfNegative(topK);
    }
}
