// The dot path's batch-1 GEMV over a row-interleaved copy of B (a predictor's dense weight, PackedDenseWeight).
// Dot1x8 reads eight rows of W [n, k] at once, eight streams k floats apart; at batch 1 a layer is bound by streaming W
// from L2 (the MLP's 784→256 weight is 802 KB), and eight strided streams keep the prefetchers from running ahead. Here
// rows come in groups of eight stored vector step by vector step (the eight rows' step s, then their step s + 1, ...),
// so the same eight dot products read ONE contiguous stream. Rows past n in the last group are zero.
// Each element is computed exactly as the dot path computes it (one accumulator over the full vector steps, Simd.Sum4's
// tree, then the tail of k added one product at a time in order), so the results equal Gemm.DotNT's bit for bit. The
// tail follows each group's steps as [p][8 rows], so the eight rows' tails run as two 4-lane fused multiply-adds per p
// (the same per-lane arithmetic as the scalar tail) instead of eight serial scalar chains: LeNet's 120 → 84 layer at
// 512 bits has an 8-float tail on each of its 84 rows.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

public static partial class Gemm
{
    /// <summary>Floats of a row-interleaved copy of B [n, k] (every group of eight rows: its full vector steps, then its tail).</summary>
    internal static long InterleavedLength(int n, int k, int width) => (long)RoundUp(n, 8) * k;

    /// <summary>Writes B [n, k] into <paramref name="interleaved"/> (<see cref="InterleavedLength"/> floats) for vectors of <paramref name="width"/> bits.</summary>
    internal static unsafe void Interleave(float* b, float* interleaved, int n, int k, int width)
    {
        int w = width / 32, kv = k / w * w;
        float* dst = interleaved;
        for (int g = 0; g < n; g += 8)
        {
            for (int s = 0; s < kv; s += w)
                for (int r = 0; r < 8; r++, dst += w)
                {
                    if (g + r < n) new ReadOnlySpan<float>(b + (nint)(g + r) * k + s, w).CopyTo(new Span<float>(dst, w));
                    else new Span<float>(dst, w).Clear();
                }
            for (int p = kv; p < k; p++)
                for (int r = 0; r < 8; r++, dst++)
                    *dst = g + r < n ? b[(nint)(g + r) * k + p] : 0f;
        }
    }

    /// <summary>
    /// c[j] (+)= Σ_p a[p]·B[j, p] for j in [0, n): the dot path's batch-1 product (bit for bit) over the interleaved copy
    /// <paramref name="interleaved"/> of B [n, k], made for <paramref name="width"/> bits.
    /// </summary>
    internal static unsafe void GemvInterleaved(float* a, float* interleaved, float* c, int k, int n, bool accumulate, int width)
    {
        if (width == 512) GemvInterleaved<Vector512<float>>(a, interleaved, c, k, n, accumulate);
        else if (width == 256) GemvInterleaved<Vector256<float>>(a, interleaved, c, k, n, accumulate);
        else GemvInterleaved<Vector128<float>>(a, interleaved, c, k, n, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GemvInterleaved<TV>(float* a, float* interleaved, float* c, int k, int n, bool accumulate) where TV : struct
    {
        int w = Simd.Count<TV>(), kv = k / w * w;
        float* p = interleaved;
        for (int g = 0; g < n; g += 8)
        {
            TV s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            for (int q = 0; q < kv; q += w, p += 8 * w)
            {
                TV x = Simd.Load<TV>(a + q);
                s0 = Simd.Fma(x, Simd.Load<TV>(p), s0); s1 = Simd.Fma(x, Simd.Load<TV>(p + w), s1);
                s2 = Simd.Fma(x, Simd.Load<TV>(p + 2 * w), s2); s3 = Simd.Fma(x, Simd.Load<TV>(p + 3 * w), s3);
                s4 = Simd.Fma(x, Simd.Load<TV>(p + 4 * w), s4); s5 = Simd.Fma(x, Simd.Load<TV>(p + 5 * w), s5);
                s6 = Simd.Fma(x, Simd.Load<TV>(p + 6 * w), s6); s7 = Simd.Fma(x, Simd.Load<TV>(p + 7 * w), s7);
            }
            // As Dot1x8: eight row sums in two 4-way horizontal sums, then the rows' tails.
            Vector128<float> lo = Simd.Sum4(s0, s1, s2, s3), hi = Simd.Sum4(s4, s5, s6, s7);
            // Lane r of lo/hi is row r's sum: each tail product is added in order, as Gemm.Dot's Tail does per row.
            for (int q = kv; q < k; q++, p += 8)
            {
                Vector128<float> x = Vector128.Create(a[q]);
                lo = Vector128.MultiplyAddEstimate(x, Vector128.Load(p), lo);
                hi = Vector128.MultiplyAddEstimate(x, Vector128.Load(p + 4), hi);
            }
            int rows = Math.Min(8, n - g);
            for (int r = 0; r < rows; r++) Finish(ref c[g + r], r < 4 ? lo.GetElement(r) : hi.GetElement(r - 4), accumulate);
        }
    }
}
