// Argument checks shared by every generated model, kept out of generated code so the messages are uniform and
// the generated methods stay small. All checks run before anything is written.
using System.Diagnostics.CodeAnalysis;

namespace ModelGen.Runtime;

/// <summary>Validation helpers called by generated code.</summary>
public static class ModelGuards
{
    /// <summary>Checks the arguments of a forward call.</summary>
    /// <exception cref="ArgumentException">The batch is not positive, or a span's length is not batch × the per-example size.</exception>
    public static void CheckForward(string model, int inputLength, int outputLength, int batch, int inputSize, int outputSize)
    {
        if (batch <= 0)
            ThrowBatch(model, batch);
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
    private static void ThrowLength(string model, string name, int actual, int batch, int perExample) =>
        throw new ArgumentException(
            $"{model}: '{name}' has {actual} floats, expected batch {batch} × {perExample} = {(long)batch * perExample}.", name);
}
