// The contract of the inference snapshots that generated sequence models create (model.CreatePredictor()): IPredictor's
// counterpart for models whose sequence length T is a run-time dimension. Serving code (a tagger behind a web handler, a
// scoring job) can take an ISequencePredictor<int> without knowing which model it runs.
namespace ModelGen;

/// <summary>
/// An immutable inference snapshot of a sequence model, created by the generated <c>CreatePredictor()</c>: the parameters
/// were copied once and the GEMM weights packed once (per-position Dense layers, the four projections of every
/// Transformer encoder layer, the input and recurrent matrices of LSTM/GRU layers), so later writes to the model do not
/// affect it. Its outputs equal the model's <c>Forward</c> up to rounding (evaluation semantics: no dropout). Every member
/// is safe to call from any number of threads at once, and <see cref="Forward"/> allocates nothing in steady state.
/// </summary>
/// <typeparam name="TInput"><c>int</c> (token ids) or <c>float</c>, as the model's input.</typeparam>
public interface ISequencePredictor<TInput> where TInput : unmanaged
{
    /// <summary>Per-example input shape (batch excluded; the sequence dimension is −1).</summary>
    ReadOnlySpan<int> InputShapeDims { get; }

    /// <summary>Per-example output shape (batch excluded; the sequence dimension, if the output has one, is −1).</summary>
    ReadOnlySpan<int> OutputShapeDims { get; }

    /// <summary>Values per position of the input: token ids per position for a token model, else features.</summary>
    int InputLength { get; }

    /// <summary>Floats per row of the output: per position when <see cref="OutputIsSequence"/>, else per example.</summary>
    int OutputLength { get; }

    /// <summary>Whether the output has a row per position ([batch, seq, OutputLength]) or one per example ([batch, OutputLength]).</summary>
    bool OutputIsSequence { get; }

    /// <summary>The longest sequence a call may pass (0: no bound but <see cref="MaxPositions"/>).</summary>
    int MaxLength { get; }

    /// <summary>The largest batch × seq one call accepts.</summary>
    int MaxPositions { get; }

    /// <summary>Runs inference on <paramref name="batch"/> sequences of padded length <paramref name="seq"/>.</summary>
    /// <param name="input">[batch, seq, InputLength] values back to back (token ids: [batch, seq] for one id per position).</param>
    /// <param name="output">[batch, seq, OutputLength] when <see cref="OutputIsSequence"/>, else [batch, OutputLength]; receives the outputs.</param>
    /// <param name="batch">Examples in the call.</param>
    /// <param name="seq">The padded sequence length T of this call.</param>
    /// <param name="lengths">Each example's real length in [1, seq], or empty when all are <paramref name="seq"/>; padded positions never affect real ones.</param>
    /// <exception cref="ArgumentException">A span's length does not match batch and seq, a length is outside [1, seq], seq exceeds
    /// <see cref="MaxLength"/>, or batch × seq exceeds <see cref="MaxPositions"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A token id is outside the vocabulary of its embedding.</exception>
    void Forward(ReadOnlySpan<TInput> input, Span<float> output, int batch, int seq, ReadOnlySpan<int> lengths = default);
}
