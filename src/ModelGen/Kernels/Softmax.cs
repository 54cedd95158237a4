// Row-wise softmax and log-softmax over [rows, cols], forward and backward. Both always subtract the row maximum
// first (the largest exponent is e^0 = 1, so nothing overflows even for inputs like 1e4), as PyTorch does.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelGen.Kernels;

/// <summary>Softmax and log-softmax over the last dimension of a row-major [rows, cols] tensor.</summary>
public static class Softmax
{
    /// <summary>Effectively computes <c>output[r, j] = exp(input[r, j] − max_r) / Σ_j exp(input[r, j] − max_r)</c>.</summary>
    /// <param name="input">Logits [rows, cols].</param>
    /// <param name="output">Probabilities [rows, cols]; may be the same span as <paramref name="input"/>.</param>
    /// <param name="rows">Number of rows (e.g. the batch).</param>
    /// <param name="cols">Row length (the softmax dimension).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="cols"/> is negative.</exception>
    /// <exception cref="ArgumentException">A span's length is not rows·cols, or the spans partially overlap.</exception>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output, int rows, int cols)
    {
        Validate(input, output, rows, cols, nameof(input), nameof(output));
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float y = ref MemoryMarshal.GetReference(output);
        nuint n = (nuint)cols;
        for (nuint r = 0; r < (nuint)rows; r++)
        {
            ref float xr = ref Unsafe.Add(ref x, r * n);
            ref float yr = ref Unsafe.Add(ref y, r * n);
            float max = RowOps.Max(ref xr, n);
            float sum = RowOps.ExpShiftSum(ref xr, ref yr, n, max, store: true);
            RowOps.Scale(ref yr, ref yr, n, 1f / sum);
        }
    }

    /// <summary>
    /// Effectively computes <c>dInput[r, j] = y[r, j]·(dOutput[r, j] − Σ_k dOutput[r, k]·y[r, k])</c>, the softmax
    /// vector-Jacobian product, where <c>y</c> is the forward <paramref name="output"/>.
    /// </summary>
    /// <param name="dOutput">Gradient with respect to the probabilities [rows, cols].</param>
    /// <param name="output">The forward output (probabilities) [rows, cols].</param>
    /// <param name="dInput">Gradient with respect to the logits [rows, cols]; may be the same span as <paramref name="dOutput"/> or <paramref name="output"/>.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="cols">Row length.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="cols"/> is negative.</exception>
    /// <exception cref="ArgumentException">A span's length is not rows·cols, or spans partially overlap.</exception>
    public static void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> output, Span<float> dInput, int rows, int cols)
    {
        Validate(dOutput, dInput, rows, cols, nameof(dOutput), nameof(dInput));
        ThrowHelper.CheckShape(output.Length, nameof(output), "rows", rows, "cols", cols);
        ThrowHelper.CheckSameOrDisjoint(output, dInput, nameof(output), nameof(dInput));
        ref float dy = ref MemoryMarshal.GetReference(dOutput);
        ref float y = ref MemoryMarshal.GetReference(output);
        ref float dx = ref MemoryMarshal.GetReference(dInput);
        nuint n = (nuint)cols;
        for (nuint r = 0; r < (nuint)rows; r++)
        {
            nuint o = r * n;
            // The row's dot product is complete before any element is written, so dx may alias dy or y.
            float dot = RowOps.Dot(ref Unsafe.Add(ref dy, o), ref Unsafe.Add(ref y, o), n);
            RowOps.SoftmaxGrad(ref Unsafe.Add(ref dy, o), ref Unsafe.Add(ref y, o), ref Unsafe.Add(ref dx, o), n, dot);
        }
    }

    /// <summary>
    /// Effectively computes <c>output[r, j] = (input[r, j] − max_r) − log Σ_k exp(input[r, k] − max_r)</c> (log-softmax).
    /// </summary>
    /// <param name="input">Logits [rows, cols].</param>
    /// <param name="output">Log-probabilities [rows, cols]; may be the same span as <paramref name="input"/>.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="cols">Row length.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="cols"/> is negative.</exception>
    /// <exception cref="ArgumentException">A span's length is not rows·cols, or the spans partially overlap.</exception>
    public static void LogForward(ReadOnlySpan<float> input, Span<float> output, int rows, int cols)
    {
        Validate(input, output, rows, cols, nameof(input), nameof(output));
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float y = ref MemoryMarshal.GetReference(output);
        nuint n = (nuint)cols;
        for (nuint r = 0; r < (nuint)rows; r++)
        {
            ref float xr = ref Unsafe.Add(ref x, r * n);
            float max = RowOps.Max(ref xr, n);
            // The exponentials are not stored: output may alias input, which the final pass still reads.
            float logSum = MathF.Log(RowOps.ExpShiftSum(ref xr, ref xr, n, max, store: false));
            RowOps.SubtractTwice(ref xr, ref Unsafe.Add(ref y, r * n), n, max, logSum);
        }
    }

    /// <summary>
    /// Effectively computes <c>dInput[r, j] = dOutput[r, j] − exp(y[r, j])·Σ_k dOutput[r, k]</c>, the log-softmax
    /// vector-Jacobian product, where <c>y</c> is the forward <paramref name="output"/> of <see cref="LogForward"/>.
    /// </summary>
    /// <param name="dOutput">Gradient with respect to the log-probabilities [rows, cols].</param>
    /// <param name="output">The forward output (log-probabilities) [rows, cols].</param>
    /// <param name="dInput">Gradient with respect to the logits [rows, cols]; may be the same span as <paramref name="dOutput"/> or <paramref name="output"/>.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="cols">Row length.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="cols"/> is negative.</exception>
    /// <exception cref="ArgumentException">A span's length is not rows·cols, or spans partially overlap.</exception>
    public static void LogBackward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> output, Span<float> dInput, int rows, int cols)
    {
        Validate(dOutput, dInput, rows, cols, nameof(dOutput), nameof(dInput));
        ThrowHelper.CheckShape(output.Length, nameof(output), "rows", rows, "cols", cols);
        ThrowHelper.CheckSameOrDisjoint(output, dInput, nameof(output), nameof(dInput));
        ref float dy = ref MemoryMarshal.GetReference(dOutput);
        ref float y = ref MemoryMarshal.GetReference(output);
        ref float dx = ref MemoryMarshal.GetReference(dInput);
        nuint n = (nuint)cols;
        for (nuint r = 0; r < (nuint)rows; r++)
        {
            nuint o = r * n;
            float sum = RowOps.Sum(ref Unsafe.Add(ref dy, o), n);
            RowOps.LogSoftmaxGrad(ref Unsafe.Add(ref dy, o), ref Unsafe.Add(ref y, o), ref Unsafe.Add(ref dx, o), n, sum);
        }
    }

    private static void Validate(ReadOnlySpan<float> input, ReadOnlySpan<float> output, int rows, int cols, string inputName, string outputName)
    {
        ThrowHelper.CheckNonNegative(rows, nameof(rows));
        ThrowHelper.CheckNonNegative(cols, nameof(cols));
        ThrowHelper.CheckShape(input.Length, inputName, "rows", rows, "cols", cols);
        ThrowHelper.CheckShape(output.Length, outputName, "rows", rows, "cols", cols);
        ThrowHelper.CheckSameOrDisjoint(input, output, inputName, outputName);
    }
}
