// The one driver for unary activations, forward and backward: widest vector first (512 → 256 → 128), then a
// scalar tail. The tail never re-processes elements, so in-place use (output aliasing input) is safe.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Applies an activation, or its backward, elementwise over spans.</summary>
public static class Elementwise
{
    /// <summary>Effectively computes <c>output[i] = act(input[i])</c>.</summary>
    /// <param name="act">The activation operator.</param>
    /// <param name="input">Input values [n].</param>
    /// <param name="output">Output values [n]; may be the same span as <paramref name="input"/>.</param>
    /// <exception cref="ArgumentException">The lengths differ, or the spans partially overlap.</exception>
    public static void Forward<TAct>(TAct act, ReadOnlySpan<float> input, Span<float> output) where TAct : struct, IActivation
    {
        ThrowHelper.CheckLength(output.Length, input.Length, nameof(output), "the length of input");
        ThrowHelper.CheckSameOrDisjoint(input, output, nameof(input), nameof(output));
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float y = ref MemoryMarshal.GetReference(output);
        nuint n = (nuint)input.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                act.Invoke(Vector512.LoadUnsafe(ref x, i)).StoreUnsafe(ref y, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                act.Invoke(Vector256.LoadUnsafe(ref x, i)).StoreUnsafe(ref y, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                act.Invoke(Vector128.LoadUnsafe(ref x, i)).StoreUnsafe(ref y, i);
        for (; i < n; i++)
            Unsafe.Add(ref y, i) = act.Invoke(Unsafe.Add(ref x, i));
    }

    /// <summary>Effectively computes <c>dInput[i] = dOutput[i] · act'(input[i])</c>, with <c>output[i] = act(input[i])</c> supplied.</summary>
    /// <param name="act">The activation operator.</param>
    /// <param name="dOutput">Gradient of the loss with respect to the output [n].</param>
    /// <param name="input">The forward input [n].</param>
    /// <param name="output">The forward output [n].</param>
    /// <param name="dInput">Gradient with respect to the input [n]; may be the same span as <paramref name="dOutput"/>.</param>
    /// <exception cref="ArgumentException">A length differs from <paramref name="dOutput"/>'s, or <paramref name="dInput"/> partially overlaps an input.</exception>
    public static void Backward<TAct>(TAct act, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> output, Span<float> dInput)
        where TAct : struct, IActivation
    {
        int len = dOutput.Length;
        ThrowHelper.CheckLength(input.Length, len, nameof(input), "the length of dOutput");
        ThrowHelper.CheckLength(output.Length, len, nameof(output), "the length of dOutput");
        ThrowHelper.CheckLength(dInput.Length, len, nameof(dInput), "the length of dOutput");
        ThrowHelper.CheckSameOrDisjoint(dOutput, dInput, nameof(dOutput), nameof(dInput));
        ThrowHelper.CheckSameOrDisjoint(input, dInput, nameof(input), nameof(dInput));
        ThrowHelper.CheckSameOrDisjoint(output, dInput, nameof(output), nameof(dInput));
        ref float dy = ref MemoryMarshal.GetReference(dOutput);
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float y = ref MemoryMarshal.GetReference(output);
        ref float dx = ref MemoryMarshal.GetReference(dInput);
        nuint n = (nuint)len, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                (Vector512.LoadUnsafe(ref dy, i) * act.Derivative(Vector512.LoadUnsafe(ref x, i), Vector512.LoadUnsafe(ref y, i))).StoreUnsafe(ref dx, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref dy, i) * act.Derivative(Vector256.LoadUnsafe(ref x, i), Vector256.LoadUnsafe(ref y, i))).StoreUnsafe(ref dx, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                (Vector128.LoadUnsafe(ref dy, i) * act.Derivative(Vector128.LoadUnsafe(ref x, i), Vector128.LoadUnsafe(ref y, i))).StoreUnsafe(ref dx, i);
        for (; i < n; i++)
            Unsafe.Add(ref dx, i) = Unsafe.Add(ref dy, i) * act.Derivative(Unsafe.Add(ref x, i), Unsafe.Add(ref y, i));
    }
}
