// The max-pooling fast path for the commonest geometry, a 2×2 window with stride 2 and no padding (LeNet, VGG-style
// nets): four outputs per step, with lanes = outputs. The two input rows are split into even and odd columns (one
// two-source shuffle each: SSE shufps on x64, UZP1/UZP2 on Arm64), giving the taps a, b, c, d of four windows in
// row-major order. The winner follows PyTorch's sequential scan exactly, without a data-dependent branch:
//   best = a; for t in b, c, d: if (t > best || t is NaN) best = t
// so ties keep the first tap (and the first zero's sign), and NaN propagates with the last NaN's index. The argmax
// (training) is carried as an int vector beside the values. Inference (no argmax) takes 8 outputs per step with AVX2 and
// lets a row's last block overlap the previous one instead of finishing in scalar code. Other shapes, and machines
// without the shuffles, take the general separable path in PoolingKernels.cs.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Kernels;

public static partial class PoolingKernels
{
    /// <summary>2×2 window, stride 2, no padding, and every window whole (floor mode, or ceil mode on even sizes).</summary>
    internal static bool IsMax2x2(in PoolGeometry g)
        => g.KernelH == 2 && g.KernelW == 2 && g.StrideH == 2 && g.StrideW == 2 && g.PadH == 0 && g.PadW == 0
           && 2 * g.OutHeight <= g.InHeight && 2 * g.OutWidth <= g.InWidth;

    /// <summary>Max pooling 2×2/2 over every plane; argmax (when not empty) gets the winner's index h·W + w within its plane.</summary>
    private static void Max2x2(in PoolGeometry g, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax, int planes, bool allowVector = true)
    {
        int h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth;
        bool keep = !argmax.IsEmpty;
        bool vector = allowVector && (Sse.IsSupported || AdvSimd.Arm64.IsSupported);
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y0 = ref MemoryMarshal.GetReference(output);
        ref int a0 = ref MemoryMarshal.GetReference(argmax);
        Vector128<int> lane2 = Vector128.Create(0, 2, 4, 6);
        for (int plane = 0; plane < planes; plane++)
        {
            ref float x = ref Unsafe.Add(ref x0, (nint)plane * h * w);
            for (int oy = 0; oy < oh; oy++)
            {
                int top = 2 * oy * w;
                ref float r0 = ref Unsafe.Add(ref x, top);
                ref float r1 = ref Unsafe.Add(ref r0, w);
                nint outRow = ((nint)plane * oh + oy) * ow;
                ref float y = ref Unsafe.Add(ref y0, outRow);
                int ox = 0;
                if (vector && !keep && ow >= 4)
                {
                    // Inference: values only, so a last block may overlap the previous one (it rewrites the same
                    // maxima) and no row ends in a scalar tail. 8 outputs per step with AVX2, else 4.
                    MaxRowValues(ref r0, ref r1, ref y, ow);
                    continue;
                }
                if (vector)
                {
                    for (; ox + 4 <= ow; ox += 4)
                    {
                        (Vector128<float> a, Vector128<float> b) = Unzip(Vector128.LoadUnsafe(ref r0, (nuint)(2 * ox)), Vector128.LoadUnsafe(ref r0, (nuint)(2 * ox + 4)));
                        (Vector128<float> c, Vector128<float> d) = Unzip(Vector128.LoadUnsafe(ref r1, (nuint)(2 * ox)), Vector128.LoadUnsafe(ref r1, (nuint)(2 * ox + 4)));
                        Vector128<float> best = a;
                        Vector128<float> mb = Takes(b, best); best = Vector128.ConditionalSelect(mb, b, best);
                        Vector128<float> mc = Takes(c, best); best = Vector128.ConditionalSelect(mc, c, best);
                        Vector128<float> md = Takes(d, best); best = Vector128.ConditionalSelect(md, d, best);
                        best.StoreUnsafe(ref y, (nuint)ox);
                        if (keep)
                        {
                            // Tap offsets inside the window: b = +1, c = +W, d = +W + 1.
                            Vector128<int> ia = Vector128.Create(top + 2 * ox) + lane2;
                            Vector128<int> idx = Vector128.ConditionalSelect(mb.AsInt32(), ia + Vector128<int>.One, ia);
                            idx = Vector128.ConditionalSelect(mc.AsInt32(), ia + Vector128.Create(w), idx);
                            idx = Vector128.ConditionalSelect(md.AsInt32(), ia + Vector128.Create(w + 1), idx);
                            idx.StoreUnsafe(ref Unsafe.Add(ref a0, outRow), (nuint)ox);
                        }
                    }
                }
                for (; ox < ow; ox++)
                {
                    int i = 2 * ox;
                    float best = Unsafe.Add(ref r0, i);
                    int at = top + i;
                    float t = Unsafe.Add(ref r0, i + 1);
                    if (t > best || float.IsNaN(t)) { best = t; at = top + i + 1; }
                    t = Unsafe.Add(ref r1, i);
                    if (t > best || float.IsNaN(t)) { best = t; at = top + w + i; }
                    t = Unsafe.Add(ref r1, i + 1);
                    if (t > best || float.IsNaN(t)) { best = t; at = top + w + i + 1; }
                    Unsafe.Add(ref y, ox) = best;
                    if (keep) Unsafe.Add(ref a0, outRow + ox) = at;
                }
            }
        }
    }

    /// <summary>
    /// The <paramref name="ow"/> window maxima (values only) of one output row of a 2×2/2 max pool from its two input rows,
    /// which need not be adjacent in memory: the fused convolution + pooling epilogue (ConvKernels.Pooled.cs) pools
    /// straight from its tile grid. Same winner rule as <see cref="Max2x2"/>.
    /// </summary>
    internal static void Max2x2Row(ref float r0, ref float r1, ref float y, int ow)
    {
        if ((Sse.IsSupported || AdvSimd.Arm64.IsSupported) && ow >= 4)
        {
            MaxRowValues(ref r0, ref r1, ref y, ow);
            return;
        }
        for (int ox = 0; ox < ow; ox++)
        {
            int i = 2 * ox;
            float best = Unsafe.Add(ref r0, i);
            float t = Unsafe.Add(ref r0, i + 1);
            if (t > best || float.IsNaN(t)) best = t;
            t = Unsafe.Add(ref r1, i);
            if (t > best || float.IsNaN(t)) best = t;
            t = Unsafe.Add(ref r1, i + 1);
            if (t > best || float.IsNaN(t)) best = t;
            Unsafe.Add(ref y, ox) = best;
        }
    }

    /// <summary>The ow ≥ 4 maxima of one output row from its input rows r0, r1, values only, all in vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaxRowValues(ref float r0, ref float r1, ref float y, int ow)
    {
        if (Avx2.IsSupported && ow >= 8)
        {
            for (int ox = 0; ; ox += 8)
            {
                if (ox + 8 > ow) ox = ow - 8;   // the overlapping last block
                Max8(ref Unsafe.Add(ref r0, 2 * ox), ref Unsafe.Add(ref r1, 2 * ox), ref Unsafe.Add(ref y, ox));
                if (ox + 8 == ow) return;
            }
        }
        for (int ox = 0; ; ox += 4)
        {
            if (ox + 4 > ow) ox = ow - 4;
            Max4(ref Unsafe.Add(ref r0, 2 * ox), ref Unsafe.Add(ref r1, 2 * ox), ref Unsafe.Add(ref y, ox));
            if (ox + 4 == ow) return;
        }
    }

    /// <summary>Four window maxima (values only) from 8 floats of each input row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Max4(ref float r0, ref float r1, ref float y)
    {
        (Vector128<float> a, Vector128<float> b) = Unzip(Vector128.LoadUnsafe(ref r0), Vector128.LoadUnsafe(ref r0, 4));
        (Vector128<float> c, Vector128<float> d) = Unzip(Vector128.LoadUnsafe(ref r1), Vector128.LoadUnsafe(ref r1, 4));
        Vector128<float> best = Vector128.ConditionalSelect(Takes(b, a), b, a);
        best = Vector128.ConditionalSelect(Takes(c, best), c, best);
        Vector128.ConditionalSelect(Takes(d, best), d, best).StoreUnsafe(ref y);
    }

    /// <summary>
    /// Eight window maxima (values only) from 16 floats of each input row. AVX's two-source shuffle works within each
    /// 128-bit half, so the taps come out with the middle two 64-bit quarters swapped ([0 1 4 5 | 2 3 6 7]); the
    /// comparisons are lane-wise, so one 64-bit permute of the result restores the order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Max8(ref float r0, ref float r1, ref float y)
    {
        Vector256<float> lo0 = Vector256.LoadUnsafe(ref r0), hi0 = Vector256.LoadUnsafe(ref r0, 8);
        Vector256<float> lo1 = Vector256.LoadUnsafe(ref r1), hi1 = Vector256.LoadUnsafe(ref r1, 8);
        Vector256<float> a = Avx.Shuffle(lo0, hi0, 0b10_00_10_00), b = Avx.Shuffle(lo0, hi0, 0b11_01_11_01);
        Vector256<float> c = Avx.Shuffle(lo1, hi1, 0b10_00_10_00), d = Avx.Shuffle(lo1, hi1, 0b11_01_11_01);
        Vector256<float> best = Avx.BlendVariable(a, b, Takes(b, a));
        best = Avx.BlendVariable(best, c, Takes(c, best));
        best = Avx.BlendVariable(best, d, Takes(d, best));
        Avx2.Permute4x64(best.AsDouble(), 0b11_01_10_00).AsSingle().StoreUnsafe(ref y);
    }

    /// <summary>All-ones lanes where <paramref name="t"/> replaces the running maximum: <c>t &gt; best</c> or <c>t</c> is NaN (one unordered compare).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Takes(Vector256<float> t, Vector256<float> best)
        => Avx.CompareGreaterThan(t, best) | Avx.CompareUnordered(t, t);

    /// <summary>All-ones lanes where tap <paramref name="t"/> replaces the running maximum: <c>t &gt; best</c> or <c>t</c> is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Takes(Vector128<float> t, Vector128<float> best)
        => Vector128.GreaterThan(t, best) | ~Vector128.Equals(t, t);

    /// <summary>Even and odd elements of the 8 floats lo:hi, in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<float> Even, Vector128<float> Odd) Unzip(Vector128<float> lo, Vector128<float> hi)
    {
        if (Sse.IsSupported) return (Sse.Shuffle(lo, hi, 0b10_00_10_00), Sse.Shuffle(lo, hi, 0b11_01_11_01));
        if (AdvSimd.Arm64.IsSupported) return (AdvSimd.Arm64.UnzipEven(lo, hi), AdvSimd.Arm64.UnzipOdd(lo, hi));
        throw new PlatformNotSupportedException();   // unreachable: callers check the same flags
    }
}
