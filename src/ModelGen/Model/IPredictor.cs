// The contract of the inference snapshots generated models create (model.CreatePredictor()): what ONNX Runtime's
// InferenceSession is to an ONNX file. Code that serves a model (a web handler, a batch job) can take an IPredictor
// without knowing which model it runs.
namespace ModelGen;

/// <summary>
/// An immutable inference snapshot of a fixed-shape model, created by the generated <c>CreatePredictor()</c>: the
/// weights were copied once (BatchNorm folded into the layer before it, dense weights packed for the GEMM kernels),
/// so later writes to the model do not affect it. Every member is safe to call from any number of threads at once,
/// and <see cref="Forward"/> allocates nothing in steady state.
/// </summary>
public interface IPredictor
{
    /// <summary>Per-example input shape (batch excluded).</summary>
    ReadOnlySpan<int> InputShapeDims { get; }

    /// <summary>Per-example output shape (batch excluded).</summary>
    ReadOnlySpan<int> OutputShapeDims { get; }

    /// <summary>Number of floats in one example's input.</summary>
    int InputLength { get; }

    /// <summary>Number of floats in one example's output.</summary>
    int OutputLength { get; }

    /// <summary>The largest batch one <see cref="Forward"/> call accepts.</summary>
    int MaxBatch { get; }

    /// <summary>Runs inference on <paramref name="batch"/> examples laid out back to back.</summary>
    /// <param name="input">[batch, InputLength] examples.</param>
    /// <param name="output">[batch, OutputLength] receives the outputs.</param>
    /// <param name="batch">Examples in the call, 1 to <see cref="MaxBatch"/>.</param>
    /// <exception cref="ArgumentException">A span has the wrong length, or <paramref name="batch"/> is not positive or exceeds <see cref="MaxBatch"/>.</exception>
    void Forward(ReadOnlySpan<float> input, Span<float> output, int batch);

    /// <summary>Runs one example: <see cref="Forward"/> with batch 1.</summary>
    /// <param name="input">[InputLength] the example.</param>
    /// <param name="output">[OutputLength] receives its output.</param>
    /// <exception cref="ArgumentException">A span's length is not its per-example size.</exception>
    void Predict(ReadOnlySpan<float> input, Span<float> output);
}
