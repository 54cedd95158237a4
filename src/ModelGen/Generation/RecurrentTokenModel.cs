// The incremental path for recurrent models: generated models with LSTM/GRU layers have a stateful Forward
// overload (state = every layer's h_n/c_n, read as the initial state and overwritten with the final one), so
// reading one more token is one seq = 1 call that carries the state. That is all IIncrementalTokenModel needs.
namespace ModelGen;

/// <summary>A generated recurrent model's stateful <c>Forward(input, output, batch, seq, lengths, state)</c> overload.</summary>
/// <param name="input">Token ids [batch, seq].</param>
/// <param name="output">Logits [batch, seq, V].</param>
/// <param name="batch">Examples.</param>
/// <param name="seq">Positions.</param>
/// <param name="lengths">Real lengths [batch], or empty.</param>
/// <param name="state">[batch × StateSize]: the initial state on entry, the final state on return.</param>
public delegate void StatefulForward(ReadOnlySpan<int> input, Span<float> output, int batch, int seq, ReadOnlySpan<int> lengths, Span<float> state);

/// <summary>
/// <see cref="IIncrementalTokenModel"/> over a recurrent model: the cache is the recurrent state, so its capacity is
/// unbounded and each token costs one step. Note that the state then carries the whole context, unlike
/// <see cref="SequenceModelLogits"/>, which restarts from a zero state at the start of its window. Allocates nothing.
/// </summary>
public sealed class RecurrentTokenModel : IIncrementalTokenModel
{
    private readonly StatefulForward _forward;
    private readonly float[] _state;   // [StateSize] h/c of every recurrent layer after the tokens read so far

    /// <summary>Wraps a model's stateful forward.</summary>
    /// <param name="forward">The model's stateful <c>Forward</c> overload, e.g. <c>model.Forward</c> of a generated <c>CharLstm</c>.</param>
    /// <param name="stateSize">The model's <c>StateSize</c> (floats of state per example, positive).</param>
    /// <param name="vocabularySize">Logits per position (positive).</param>
    /// <exception cref="ArgumentNullException"><paramref name="forward"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="stateSize"/> or <paramref name="vocabularySize"/> is not positive.</exception>
    public RecurrentTokenModel(StatefulForward forward, int stateSize, int vocabularySize)
    {
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stateSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        _forward = forward;
        _state = new float[stateSize];
        VocabularySize = vocabularySize;
    }

    /// <inheritdoc/>
    public int Capacity => int.MaxValue;

    /// <inheritdoc/>
    public int VocabularySize { get; }

    /// <summary>Zeroes the state (PyTorch's default h_0 = c_0 = 0).</summary>
    public void Reset() => _state.AsSpan().Clear();

    /// <summary>Steps the state through <paramref name="tokens"/> one at a time; the last step's logits land in <paramref name="logits"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="tokens"/> is empty, or <paramref name="logits"/> is not [V].</exception>
    public void Append(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        if (tokens.IsEmpty) throw new ArgumentException("Append needs at least one token.", nameof(tokens));
        if (logits.Length != VocabularySize)
            throw new ArgumentException($"'logits' has {logits.Length} elements, expected the vocabulary size {VocabularySize}.", nameof(logits));
        // One token per call, so the output is always one row of logits: no buffer sized by the prompt.
        for (int i = 0; i < tokens.Length; i++)
            _forward(tokens.Slice(i, 1), logits, 1, 1, default, _state);
    }
}
