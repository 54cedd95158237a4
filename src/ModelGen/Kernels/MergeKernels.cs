// Merge kernels for branching models: elementwise Add (residual x + f(x), [Add] layers) with its gradient fan-in,
// and Concat along axis 1 of [batch, ...] tensors. In NCHW, concatenating channels is axis 1 as well: each example's
// part is one contiguous block of partLength = C_i·H·W, so one column-block copy per example does it.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Elementwise addition and axis-1 concatenation, forward and backward.</summary>
public static class MergeKernels
{
    /// <summary>Effectively computes <c>output[i] = a[i] + b[i]</c>.</summary>
    /// <param name="a">First addend [n].</param>
    /// <param name="b">Second addend [n].</param>
    /// <param name="output">Sum [n]; may be the same span as <paramref name="a"/> or <paramref name="b"/> (or both).</param>
    /// <exception cref="ArgumentException">The lengths differ, or output partially overlaps an addend.</exception>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> output)
    {
        ThrowHelper.CheckLength(b.Length, a.Length, nameof(b), "the length of a");
        ThrowHelper.CheckLength(output.Length, a.Length, nameof(output), "the length of a");
        ThrowHelper.CheckSameOrDisjoint(a, output, nameof(a), nameof(output));
        ThrowHelper.CheckSameOrDisjoint(b, output, nameof(b), nameof(output));
        ref float x = ref MemoryMarshal.GetReference(a);
        ref float y = ref MemoryMarshal.GetReference(b);
        ref float z = ref MemoryMarshal.GetReference(output);
        nuint n = (nuint)a.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                (Vector512.LoadUnsafe(ref x, i) + Vector512.LoadUnsafe(ref y, i)).StoreUnsafe(ref z, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref x, i) + Vector256.LoadUnsafe(ref y, i)).StoreUnsafe(ref z, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                (Vector128.LoadUnsafe(ref x, i) + Vector128.LoadUnsafe(ref y, i)).StoreUnsafe(ref z, i);
        for (; i < n; i++) Unsafe.Add(ref z, i) = Unsafe.Add(ref x, i) + Unsafe.Add(ref y, i);
    }

    /// <summary>Effectively computes <c>accumulator[i] += value[i]</c> (a gradient reaching a tensor from several consumers).</summary>
    /// <param name="accumulator">Accumulated values [n].</param>
    /// <param name="value">Values to add [n]; must not partially overlap the accumulator.</param>
    /// <exception cref="ArgumentException">The lengths differ, or the spans partially overlap.</exception>
    public static void AddInPlace(Span<float> accumulator, ReadOnlySpan<float> value)
    {
        ThrowHelper.CheckLength(value.Length, accumulator.Length, nameof(value), "the length of accumulator");
        ThrowHelper.CheckSameOrDisjoint(value, accumulator, nameof(value), nameof(accumulator));
        RowOps.AddTo(ref MemoryMarshal.GetReference(value), ref MemoryMarshal.GetReference(accumulator), (nuint)value.Length);
    }

    /// <summary>
    /// Concat forward for one part: effectively <c>output[b, offset + j] = part[b, j]</c> for <c>j &lt; partLength</c>,
    /// where output is [batch, totalLength] and part is [batch, partLength] (per-example lengths, e.g. C_i·H·W).
    /// </summary>
    /// <param name="part">The part [batch, partLength].</param>
    /// <param name="output">The concatenation [batch, totalLength]; must not overlap the part.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="partLength">Elements of the part per example.</param>
    /// <param name="offset">Where the part starts within each example of the output.</param>
    /// <param name="totalLength">Elements of the output per example.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or the part does not fit at <paramref name="offset"/>.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or the spans overlap.</exception>
    public static void ConcatPart(ReadOnlySpan<float> part, Span<float> output, int batch, int partLength, int offset, int totalLength)
    {
        CheckBlock(part.Length, output.Length, batch, partLength, offset, totalLength, nameof(part), nameof(output));
        ThrowHelper.CheckNoOverlap(part, output, nameof(part), nameof(output));
        for (int b = 0; b < batch; b++)
            part.Slice(b * partLength, partLength).CopyTo(output.Slice(b * totalLength + offset, partLength));
    }

    /// <summary>
    /// Concat backward for one part: effectively <c>dPart[b, j] (+)= dOutput[b, offset + j]</c>, overwriting or
    /// (<paramref name="accumulate"/>) adding, for a part that also receives gradient from elsewhere.
    /// </summary>
    /// <param name="dOutput">Gradient of the concatenation [batch, totalLength].</param>
    /// <param name="dPart">Gradient of the part [batch, partLength]; must not overlap <paramref name="dOutput"/>.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="partLength">Elements of the part per example.</param>
    /// <param name="offset">Where the part starts within each example of the output.</param>
    /// <param name="totalLength">Elements of the output per example.</param>
    /// <param name="accumulate">Add to <paramref name="dPart"/> instead of overwriting it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or the part does not fit at <paramref name="offset"/>.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or the spans overlap.</exception>
    public static void SplitPart(ReadOnlySpan<float> dOutput, Span<float> dPart, int batch, int partLength, int offset, int totalLength, bool accumulate)
    {
        CheckBlock(dPart.Length, dOutput.Length, batch, partLength, offset, totalLength, nameof(dPart), nameof(dOutput));
        ThrowHelper.CheckNoOverlap(dOutput, dPart, nameof(dOutput), nameof(dPart));
        ref float src = ref MemoryMarshal.GetReference(dOutput);
        ref float dst = ref MemoryMarshal.GetReference(dPart);
        for (int b = 0; b < batch; b++)
        {
            if (accumulate)
                RowOps.AddTo(ref Unsafe.Add(ref src, (nint)b * totalLength + offset), ref Unsafe.Add(ref dst, (nint)b * partLength), (nuint)partLength);
            else
                dOutput.Slice(b * totalLength + offset, partLength).CopyTo(dPart.Slice(b * partLength, partLength));
        }
    }

    private static void CheckBlock(int partSpan, int wholeSpan, int batch, int partLength, int offset, int totalLength, string partName, string wholeName)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(partLength, nameof(partLength));
        ThrowHelper.CheckNonNegative(offset, nameof(offset));
        ThrowHelper.CheckNonNegative(totalLength, nameof(totalLength));
        if ((long)offset + partLength > totalLength)
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"'offset' + 'partLength' ({(long)offset + partLength}) must not exceed 'totalLength' ({totalLength}).");
        ThrowHelper.CheckShape(partSpan, partName, nameof(batch), batch, nameof(partLength), partLength);
        ThrowHelper.CheckShape(wholeSpan, wholeName, nameof(batch), batch, nameof(totalLength), totalLength);
    }
}
