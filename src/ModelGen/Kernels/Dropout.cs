// Inverted dropout (PyTorch's nn.Dropout): kept elements are scaled by 1/(1−p) during training so inference is
// the identity. The mask is materialised with its scale, so backward is one multiply and needs no generator.
using System.Runtime.InteropServices;

namespace ModelGen.Kernels;

/// <summary>Inverted dropout, forward and backward.</summary>
public static class Dropout
{
    /// <summary>
    /// Draws <c>mask[i] = (rng.NextFloat() ≥ p) ? 1/(1−p) : 0</c> (one draw per element, in order) and computes
    /// <c>output[i] = input[i]·mask[i]</c>. With <paramref name="p"/> = 0 the mask is all ones and no numbers are drawn;
    /// with <paramref name="p"/> = 1 the mask is all zeros (PyTorch's behaviour) and no numbers are drawn.
    /// </summary>
    /// <param name="input">Input [n].</param>
    /// <param name="output">Output [n]; may be the same span as <paramref name="input"/>.</param>
    /// <param name="mask">Receives the scaled keep mask [n], which <see cref="Backward"/> needs.</param>
    /// <param name="p">Probability of zeroing an element, in [0, 1].</param>
    /// <param name="rng">The seeded generator; the same seed gives the same mask.</param>
    /// <exception cref="ArgumentNullException"><paramref name="rng"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1] or NaN.</exception>
    /// <exception cref="ArgumentException">A length differs from <paramref name="input"/>'s, or spans overlap.</exception>
    public static unsafe void Forward(ReadOnlySpan<float> input, Span<float> output, Span<float> mask, float p, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (!(p >= 0f && p <= 1f)) ThrowHelper.ThrowArgumentOutOfRange(nameof(p), p, "must be in [0, 1]");
        ThrowHelper.CheckLength(output.Length, input.Length, nameof(output), "the length of input");
        ThrowHelper.CheckLength(mask.Length, input.Length, nameof(mask), "the length of input");
        ThrowHelper.CheckSameOrDisjoint(input, output, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(input, mask, nameof(input), nameof(mask));
        ThrowHelper.CheckNoOverlap(output, mask, nameof(output), nameof(mask));

        FillMask(mask, p, rng);
        fixed (float* x = input, m = mask, y = output) RowOps.MultiplyParallel(x, m, y, input.Length);
    }

    /// <summary>The mask of <see cref="Forward"/>: all ones at p = 0, all zeros at p = 1 (no draws), else one draw per element in order.</summary>
    internal static void FillMask(Span<float> mask, float p, Rng rng)
    {
        if (p == 0f) mask.Fill(1f);
        else if (p == 1f) mask.Clear();
        else rng.FillKeepMask(mask, p, 1f / (1f - p));   // mask[i] = rng.NextFloat() >= p ? 1/(1 − p) : 0
    }

    /// <summary>Effectively computes <c>dInput[i] = dOutput[i]·mask[i]</c> with the mask from <see cref="Forward"/>.</summary>
    /// <param name="dOutput">Gradient with respect to the output [n].</param>
    /// <param name="mask">The scaled mask written by <see cref="Forward"/> [n].</param>
    /// <param name="dInput">Gradient with respect to the input [n]; may be the same span as <paramref name="dOutput"/>.</param>
    /// <exception cref="ArgumentException">A length differs from <paramref name="dOutput"/>'s, or spans partially overlap.</exception>
    public static void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> mask, Span<float> dInput)
    {
        ThrowHelper.CheckLength(mask.Length, dOutput.Length, nameof(mask), "the length of dOutput");
        ThrowHelper.CheckLength(dInput.Length, dOutput.Length, nameof(dInput), "the length of dOutput");
        ThrowHelper.CheckSameOrDisjoint(dOutput, dInput, nameof(dOutput), nameof(dInput));
        ThrowHelper.CheckSameOrDisjoint(mask, dInput, nameof(mask), nameof(dInput));
        RowOps.Multiply(ref MemoryMarshal.GetReference(dOutput), ref MemoryMarshal.GetReference(mask),
            ref MemoryMarshal.GetReference(dInput), (nuint)dOutput.Length);
    }
}
