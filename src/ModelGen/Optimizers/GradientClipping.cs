// Gradient clipping over a flat gradient buffer, as torch.nn.utils.clip_grad_norm_ (L2 norm, foreach=False) and
// clip_grad_value_. The norm is summed per width in float vectors in blocks and accumulated across blocks in double,
// so a large buffer does not lose the small terms; the result does not depend on the buffer's alignment.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>Gradient clipping, with PyTorch's <c>clip_grad_norm_</c> and <c>clip_grad_value_</c> semantics.</summary>
public static class GradientClipping
{
    // Elements summed in float before the partial sum moves to double: short enough that float rounding stays ~1e-7
    // relative, long enough that the double accumulation is negligible.
    private const int BlockLength = 4096;

    /// <summary>
    /// Scales <paramref name="gradients"/> so that their global L2 norm is at most <paramref name="maxNorm"/> and returns the norm
    /// before clipping. Effectively computes <c>total = ‖g‖₂; g *= min(1, maxNorm / (total + 1e-6))</c>, as PyTorch does
    /// (a non-finite norm therefore makes the gradients non-finite, PyTorch's <c>error_if_nonfinite=False</c> behaviour).
    /// </summary>
    /// <param name="gradients">The gradient buffer [n], scaled in place.</param>
    /// <param name="maxNorm">The largest allowed norm (&gt;= 0).</param>
    /// <returns>The total norm of the gradients before clipping.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is negative or NaN.</exception>
    public static float ClipByGlobalNorm(Span<float> gradients, float maxNorm)
    {
        if (!(maxNorm >= 0))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "'maxNorm' must be >= 0.");
        float total = (float)Math.Sqrt(SumOfSquares(gradients));
        ClipToNorm(gradients, maxNorm, total);
        return total;
    }

    /// <summary>The scaling step of <see cref="ClipByGlobalNorm"/>, given the norm <paramref name="total"/> the caller computed.</summary>
    internal static void ClipToNorm(Span<float> gradients, float maxNorm, float total)
    {
        float coefficient = (float)((double)maxNorm / ((double)total + 1e-6));
        if (coefficient < 1f || float.IsNaN(coefficient))
            Scale(gradients, coefficient);
    }

    /// <summary>Clamps every gradient into [-<paramref name="clipValue"/>, <paramref name="clipValue"/>] (NaN stays NaN).</summary>
    /// <param name="gradients">The gradient buffer [n], clamped in place.</param>
    /// <param name="clipValue">The largest allowed magnitude (&gt;= 0).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="clipValue"/> is negative or NaN.</exception>
    public static void ClipByValue(Span<float> gradients, float clipValue)
    {
        if (!(clipValue >= 0))
            throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "'clipValue' must be >= 0.");
        ref float g = ref MemoryMarshal.GetReference(gradients);
        int n = gradients.Length, i = 0;
        if (V512.IsAccelerated) i = Clamp<Vector512<float>, V512>(ref g, clipValue, i, n);
        if (V256.IsAccelerated) i = Clamp<Vector256<float>, V256>(ref g, clipValue, i, n);
        if (V128.IsAccelerated) i = Clamp<Vector128<float>, V128>(ref g, clipValue, i, n);
        Clamp<float, Scalar>(ref g, clipValue, i, n);
    }

    /// <summary>Σ g² over the buffer, in double across blocks.</summary>
    internal static double SumOfSquares(ReadOnlySpan<float> values)
    {
        double total = 0;
        for (int start = 0; start < values.Length; start += BlockLength)
        {
            ReadOnlySpan<float> block = values.Slice(start, Math.Min(BlockLength, values.Length - start));
            ref float x = ref MemoryMarshal.GetReference(block);
            int n = block.Length, i = 0;
            float sum = 0;
            if (V512.IsAccelerated) sum += SumSquares<Vector512<float>, V512>(ref x, ref i, n);
            if (V256.IsAccelerated) sum += SumSquares<Vector256<float>, V256>(ref x, ref i, n);
            if (V128.IsAccelerated) sum += SumSquares<Vector128<float>, V128>(ref x, ref i, n);
            sum += SumSquares<float, Scalar>(ref x, ref i, n);
            total += sum;
        }
        return total;
    }

    private static float SumSquares<TV, TOps>(ref float x, ref int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return 0;
        // Two accumulators hide the FMA latency; the remainder of a pair goes to the first.
        TV acc0 = TOps.Create(0), acc1 = TOps.Create(0);
        for (; i <= n - 2 * TOps.Count; i += 2 * TOps.Count)
        {
            TV a = TOps.Load(ref x, (nuint)i), b = TOps.Load(ref x, (nuint)(i + TOps.Count));
            acc0 = TOps.MultiplyAdd(a, a, acc0);
            acc1 = TOps.MultiplyAdd(b, b, acc1);
        }
        if (i <= n - TOps.Count)
        {
            TV a = TOps.Load(ref x, (nuint)i);
            acc0 = TOps.MultiplyAdd(a, a, acc0);
            i += TOps.Count;
        }
        return TOps.Sum(TOps.Add(acc0, acc1));
    }

    /// <summary>Multiplies every element by <paramref name="factor"/>.</summary>
    internal static void Scale(Span<float> values, float factor)
    {
        ref float x = ref MemoryMarshal.GetReference(values);
        int n = values.Length, i = 0;
        if (V512.IsAccelerated) i = Scale<Vector512<float>, V512>(ref x, factor, i, n);
        if (V256.IsAccelerated) i = Scale<Vector256<float>, V256>(ref x, factor, i, n);
        if (V128.IsAccelerated) i = Scale<Vector128<float>, V128>(ref x, factor, i, n);
        Scale<float, Scalar>(ref x, factor, i, n);
    }

    private static int Scale<TV, TOps>(ref float x, float factor, int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        TV f = TOps.Create(factor);
        for (; i <= n - TOps.Count; i += TOps.Count)
            TOps.Store(TOps.Multiply(TOps.Load(ref x, (nuint)i), f), ref x, (nuint)i);
        return i;
    }

    private static int Clamp<TV, TOps>(ref float x, float limit, int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        TV hi = TOps.Create(limit), lo = TOps.Create(-limit);
        for (; i <= n - TOps.Count; i += TOps.Count)
            TOps.Store(TOps.Max(TOps.Min(TOps.Load(ref x, (nuint)i), hi), lo), ref x, (nuint)i);
        return i;
    }
}
