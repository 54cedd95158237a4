// The reference next-token path: any sequence model, re-run over the window that ends at the newest token.
namespace ModelGen;

/// <summary>
/// Next-token logits by re-running a sequence model over the last <see cref="Context"/> tokens of the context and
/// keeping the last position's row: the reference path every <see cref="ISequenceModel{TInput}"/> supports.
/// Allocates nothing per call once the model's arenas have grown (the constructor runs one full-context call to grow them).
/// </summary>
public sealed class SequenceModelLogits
{
    private readonly ISequenceModel<int> _model;
    private readonly float[] _output;   // [Context, V] logits of every position of the window

    /// <summary>Wraps <paramref name="model"/>, which sees at most <paramref name="context"/> tokens.</summary>
    /// <param name="model">Maps ids [1, seq] to logits [1, seq, <paramref name="vocabularySize"/>].</param>
    /// <param name="vocabularySize">Logits per position.</param>
    /// <param name="context">The longest window the model is run on (its <c>MaxLength</c>, or the training window).</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vocabularySize"/> or <paramref name="context"/> is not positive.</exception>
    public SequenceModelLogits(ISequenceModel<int> model, int vocabularySize, int context)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(context);
        _model = model;
        VocabularySize = vocabularySize;
        Context = context;
        _output = new float[checked(context * vocabularySize)];
        // Warm-up at the largest size first: the model's inference arenas then never need to grow during generation.
        _model.Forward(new int[context], _output, 1, context);
    }

    /// <summary>Logits per position.</summary>
    public int VocabularySize { get; }

    /// <summary>The most tokens one call reads (the last ones of the context).</summary>
    public int Context { get; }

    /// <summary>The <see cref="NextTokenLogits"/> of this model: the last row of <c>Forward(context[^min(n, Context)..])</c>.</summary>
    /// <exception cref="ArgumentException"><paramref name="context"/> is empty, or <paramref name="logits"/> is not [<see cref="VocabularySize"/>].</exception>
    public void Logits(ReadOnlySpan<int> context, Span<float> logits)
    {
        if (context.IsEmpty) throw new ArgumentException("The context needs at least one token.", nameof(context));
        if (logits.Length != VocabularySize)
            throw new ArgumentException($"'logits' has {logits.Length} elements, expected the vocabulary size {VocabularySize}.", nameof(logits));
        ReadOnlySpan<int> window = context.Length > Context ? context[^Context..] : context;
        Span<float> output = _output.AsSpan(0, window.Length * VocabularySize);
        _model.Forward(window, output, 1, window.Length);
        output[^VocabularySize..].CopyTo(logits);
    }
}
