// Argument checks shared by every generated model, kept out of generated code so the messages are uniform and
// the generated methods stay small. All checks run before anything is written.
using System.Diagnostics.CodeAnalysis;

namespace ModelGen.Runtime;

/// <summary>Validation helpers called by generated code.</summary>
public static class ModelGuards
{
    /// <summary>Checks the arguments of a forward call.</summary>
    /// <param name="model">The model's class name, for messages.</param>
    /// <param name="inputLength">Length of the caller's input span.</param>
    /// <param name="outputLength">Length of the caller's output span.</param>
    /// <param name="batch">The caller's batch.</param>
    /// <param name="inputSize">Floats per example in the input.</param>
    /// <param name="outputSize">Floats per example in the output.</param>
    /// <param name="maxBatch">The model's <c>MaxBatch</c>: the largest batch whose planned buffers fit in one array.</param>
    /// <exception cref="ArgumentException">The batch is not positive or exceeds <paramref name="maxBatch"/>, or a span's length is not batch × the per-example size.</exception>
    public static void CheckForward(string model, int inputLength, int outputLength, int batch, int inputSize, int outputSize, int maxBatch)
    {
        if (batch <= 0)
            ThrowBatch(model, batch);
        // Checked first: beyond it batch × a per-example length overflows int, and the span lengths cannot be right either.
        if (batch > maxBatch)
            ThrowBatchTooLarge(model, batch, maxBatch);
        if ((long)inputLength != (long)batch * inputSize)
            ThrowLength(model, "input", inputLength, batch, inputSize);
        if ((long)outputLength != (long)batch * outputSize)
            ThrowLength(model, "output", outputLength, batch, outputSize);
    }

    /// <summary>Checks the arguments of a backward call against the batch of the last training forward.</summary>
    /// <exception cref="InvalidOperationException">No training forward has run.</exception>
    /// <exception cref="ArgumentException">A span's length does not match that batch.</exception>
    public static void CheckBackward(string model, int dOutputLength, int dInputLength, int batch, int inputSize, int outputSize)
    {
        if (batch <= 0)
            throw new InvalidOperationException($"{model}.Backward: call ForwardTrain before Backward.");
        if ((long)dOutputLength != (long)batch * outputSize)
            ThrowLength(model, "dOutput", dOutputLength, batch, outputSize);
        if (dInputLength != 0 && (long)dInputLength != (long)batch * inputSize)
            ThrowLength(model, "dInput", dInputLength, batch, inputSize);
    }

    [DoesNotReturn]
    private static void ThrowBatch(string model, int batch) =>
        throw new ArgumentException($"{model}: batch must be positive, got {batch}.", nameof(batch));

    [DoesNotReturn]
    private static void ThrowBatchTooLarge(string model, int batch, int maxBatch) =>
        throw new ArgumentException(
            $"{model}: batch {batch} is too large; the largest batch {model} supports is {maxBatch} ({model}.MaxBatch): " +
            "beyond it a buffer of the model would exceed the largest .NET array. Split the data into smaller batches.", nameof(batch));

    [DoesNotReturn]
    private static void ThrowLength(string model, string name, int actual, int batch, int perExample) =>
        throw new ArgumentException(
            $"{model}: '{name}' has {actual} floats, expected batch {batch} × {perExample} = {(long)batch * perExample}.", name);
}
