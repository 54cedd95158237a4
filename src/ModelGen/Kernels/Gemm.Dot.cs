// The unpacked NT path: C[i, j] (+)= Σ_p A[i, p]·B[j, p] as register-blocked dot products, reading A [m, k] and
// B [n, k] row-major exactly as they lie (no packing). It serves the dense forward (Y = X·Wᵀ) at small batch,
// where packing W every call would cost as much as the multiplication, and batch-1 GEMV (W read row by row).
//   * 4×3 tiles: 4 rows of A × 3 rows of B, 12 vector accumulators, 7 loads per 12 FMAs (FMA-bound on AVX2).
//   * 1×8 tiles for the last rows (and m = 1): one A row against 8 B rows, 8 independent FMA chains.
//   * 4×1 tiles for the last 1-2 columns of a 4-row block; single dot products for the last 1-7 columns of a lone row.
// Every element is computed the same way whichever tile it falls in: ONE vector accumulator over the full vector
// steps of k, its horizontal sum by Simd.Sum4's fixed pairwise tree (tiles reduce four accumulators per call; a
// lone element reduces four copies of its own), then the scalar tail of k. So results do not depend on tiling, on how columns
// are split between threads, or on alignment: only on the shape and the vector width.
// B is visited in column chunks that stay in L2 while every row block of A passes over them; after a row block
// has finished a chunk, the optional epilogue runs on those C elements while they are still in L1.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Work applied to finished C elements while they are hot in cache (bias, activation, pre-activation copy).</summary>
internal interface IGemmEpilogue
{
    /// <summary>Rows [row0, row0 + rows) × columns [col0, col0 + cols) of C hold their final GEMM values.</summary>
    unsafe void Apply(float* c, int ldc, int row0, int rows, int col0, int cols);

    /// <summary>
    /// Whether <see cref="Finish"/> does all of <see cref="Apply"/>'s work on a register of final values, so a tile kernel may
    /// finish its accumulators before the one store instead of leaving a second pass over C to <see cref="Apply"/>.
    /// </summary>
    bool FinishesInRegisters { get; }

    /// <summary>
    /// <see cref="Apply"/>'s operations on the 16 final values of one row at columns [col, col + 16) (the same operations in the
    /// same order, so the same bits), where <see cref="FinishesInRegisters"/>.
    /// </summary>
    Vector512<float> Finish(Vector512<float> v, int col);
}

/// <summary>The empty epilogue (plain GEMM).</summary>
internal readonly struct NoEpilogue : IGemmEpilogue
{
    public unsafe void Apply(float* c, int ldc, int row0, int rows, int col0, int cols) { }

    public bool FinishesInRegisters => true;

    public Vector512<float> Finish(Vector512<float> v, int col) => v;
}

public static partial class Gemm
{
    /// <summary>Floats of B kept hot per column chunk of the dot path (~256 KiB: a quarter of this L2, leaving room for A and C).</summary>
    private const int DotChunkFloats = 64 * 1024;

    /// <summary>
    /// Whether C = A·Bᵀ [m, k]·[n, k]ᵀ takes the dot path at the process's widest vector width (else B is packed per call).
    /// The dot path packs nothing, but every element ends with a horizontal sum and, when k is not a whole number of
    /// vectors, a scalar tail of k mod w; the packed path pads columns to whole 2-vector panels and packs B every call.
    /// So the choice depends on the vector width w (floats): the dot path's overhead per element, about
    /// <c>(4 + k mod w) / (k / w)</c> vector FMAs per useful one, against a quarter of the packed path's column padding
    /// cubed. Measured on a Zen 4 (bench/KernelBench crossover, thread CPU time, 14 shapes × 6-128 rows at 512 and 256
    /// bits): a 512-bit 120→84 layer (7.5 vectors, tail 8) runs per-call packed 1.5-2.1× faster from 24 rows, as do
    /// 100→64, 200→96, 72→256, 33→64 and 777→128 (1.06-3.7×); 784→256, 400→120, 512→128 stay 5-15% faster on the dot
    /// path up to 96 rows at both widths, 256→256 is a tie, and 10-column outputs (3.2× padding at 512 bits) run 2-12×
    /// faster on the dot path. Below 12 rows the dot path always (the packed tiles' row padding); beyond
    /// <see cref="DotMaxRows"/> always packed, as before.
    /// </summary>
    internal static bool PreferDot(int m, int k, int n)
    {
        if (m < 12) return true;
        if (m > DotMaxRows) return false;
        int w = NativeWidth / 32;
        if (w == 0 || k == 0 || n == 0) return true;
        double overhead = (4.0 + k % w) * w / k;
        double pad = (double)RoundUp(n, 2 * w) / n;
        return overhead < 0.25 * pad * pad * pad;
    }

    /// <summary>Beyond this many rows of A the packed path always (its per-call packing of B is spread over enough rows).</summary>
    internal const int DotMaxRows = 96;

    /// <summary>Runs the dot path for columns [col0, col1) at the widest accelerated width (or <paramref name="width"/> if given).</summary>
    internal static unsafe void DotNT<TEp>(float* a, float* b, float* c, int m, int k, int n, bool accumulate, int col0, int col1,
        ref TEp epilogue, int width) where TEp : struct, IGemmEpilogue
    {
        if (width == 512) DotNT<Vector512<float>, TEp>(a, b, c, m, k, n, accumulate, col0, col1, ref epilogue);
        else if (width == 256) DotNT<Vector256<float>, TEp>(a, b, c, m, k, n, accumulate, col0, col1, ref epilogue);
        else DotNT<Vector128<float>, TEp>(a, b, c, m, k, n, accumulate, col0, col1, ref epilogue);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotNT<TV, TEp>(float* a, float* b, float* c, int m, int k, int n, bool accumulate, int col0, int col1,
        ref TEp epilogue) where TV : struct where TEp : struct, IGemmEpilogue
    {
        // Chunk width: a multiple of 24 (whole 3- and 8-column tiles) whose B rows fit the chunk budget.
        int chunk = Math.Max(24, DotChunkFloats / Math.Max(1, k) / 24 * 24);
        for (int jc = col0; jc < col1; jc += chunk)
        {
            int jEnd = Math.Min(col1, jc + chunk);
            int i = 0;
            for (; i + 4 <= m; i += 4)
            {
                float* ai = a + (nint)i * k;
                float* ci = c + (nint)i * n;
                int j = jc;
                for (; j + 3 <= jEnd; j += 3)
                    Dot4x3<TV>(ai, b + (nint)j * k, ci + j, k, n, accumulate);
                for (; j < jEnd; j++)
                    Dot4x1<TV>(ai, b + (nint)j * k, ci + j, k, n, accumulate);
                epilogue.Apply(c, n, i, 4, jc, jEnd - jc);
            }
            for (; i < m; i++)
            {
                float* ai = a + (nint)i * k;
                float* ci = c + (nint)i * n;
                int j = jc;
                for (; j + 8 <= jEnd; j += 8)
                    Dot1x8<TV>(ai, b + (nint)j * k, ci + j, k, accumulate);
                for (; j < jEnd; j++)
                    Finish(ref ci[j], DotOne<TV>(ai, b + (nint)j * k, k), accumulate);
                epilogue.Apply(c, n, i, 1, jc, jEnd - jc);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(ref float c, float dot, bool accumulate) => c = accumulate ? c + dot : dot;

    /// <summary>Horizontal sum of one accumulator plus the scalar tail of k from <paramref name="p"/>: the one way every element ends.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Reduce<TV>(TV acc, float* x, float* y, int p, int k) where TV : struct
        => Tail(Simd.Sum4(acc, acc, acc, acc).ToScalar(), x, y, p, k);

    /// <summary>A finished horizontal sum plus the scalar tail of k from <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Tail(float s, float* x, float* y, int p, int k)
    {
        for (; p < k; p++) s = float.MultiplyAddEstimate(x[p], y[p], s);
        return s;
    }

    /// <summary>One dot product with a single accumulator (edge elements only: latency-bound, but bit-identical to the tiles).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe float DotOne<TV>(float* x, float* y, int k) where TV : struct
    {
        int w = Simd.Count<TV>();
        TV acc = default;
        int p = 0;
        for (; p + w <= k; p += w) acc = Simd.Fma(Simd.Load<TV>(x + p), Simd.Load<TV>(y + p), acc);
        return Reduce(acc, x, y, p, k);
    }

    /// <summary>C[0..4, 0..3] (+)= A[0..4, :]·B[0..3, :]ᵀ; A and B rows are k apart, C rows ldc apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Dot4x3<TV>(float* a, float* b, float* c, int k, int ldc, bool accumulate) where TV : struct
    {
        int w = Simd.Count<TV>();
        float* a1 = a + k, a2 = a1 + k, a3 = a2 + k, b1 = b + k, b2 = b1 + k;
        TV c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default,
            c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        int p = 0;
        // Two vector steps per iteration (same accumulators, same order: the bits do not change); measured 2-3% faster.
        for (; p + 2 * w <= k; p += 2 * w)
        {
            TV v0 = Simd.Load<TV>(b + p), v1 = Simd.Load<TV>(b1 + p), v2 = Simd.Load<TV>(b2 + p);
            TV x = Simd.Load<TV>(a + p);
            c00 = Simd.Fma(x, v0, c00); c01 = Simd.Fma(x, v1, c01); c02 = Simd.Fma(x, v2, c02);
            x = Simd.Load<TV>(a1 + p);
            c10 = Simd.Fma(x, v0, c10); c11 = Simd.Fma(x, v1, c11); c12 = Simd.Fma(x, v2, c12);
            x = Simd.Load<TV>(a2 + p);
            c20 = Simd.Fma(x, v0, c20); c21 = Simd.Fma(x, v1, c21); c22 = Simd.Fma(x, v2, c22);
            x = Simd.Load<TV>(a3 + p);
            c30 = Simd.Fma(x, v0, c30); c31 = Simd.Fma(x, v1, c31); c32 = Simd.Fma(x, v2, c32);
            int q = p + w;
            v0 = Simd.Load<TV>(b + q);
            v1 = Simd.Load<TV>(b1 + q);
            v2 = Simd.Load<TV>(b2 + q);
            x = Simd.Load<TV>(a + q);
            c00 = Simd.Fma(x, v0, c00); c01 = Simd.Fma(x, v1, c01); c02 = Simd.Fma(x, v2, c02);
            x = Simd.Load<TV>(a1 + q);
            c10 = Simd.Fma(x, v0, c10); c11 = Simd.Fma(x, v1, c11); c12 = Simd.Fma(x, v2, c12);
            x = Simd.Load<TV>(a2 + q);
            c20 = Simd.Fma(x, v0, c20); c21 = Simd.Fma(x, v1, c21); c22 = Simd.Fma(x, v2, c22);
            x = Simd.Load<TV>(a3 + q);
            c30 = Simd.Fma(x, v0, c30); c31 = Simd.Fma(x, v1, c31); c32 = Simd.Fma(x, v2, c32);
        }
        for (; p + w <= k; p += w)
        {
            TV v0 = Simd.Load<TV>(b + p), v1 = Simd.Load<TV>(b1 + p), v2 = Simd.Load<TV>(b2 + p);
            TV x = Simd.Load<TV>(a + p);
            c00 = Simd.Fma(x, v0, c00); c01 = Simd.Fma(x, v1, c01); c02 = Simd.Fma(x, v2, c02);
            x = Simd.Load<TV>(a1 + p);
            c10 = Simd.Fma(x, v0, c10); c11 = Simd.Fma(x, v1, c11); c12 = Simd.Fma(x, v2, c12);
            x = Simd.Load<TV>(a2 + p);
            c20 = Simd.Fma(x, v0, c20); c21 = Simd.Fma(x, v1, c21); c22 = Simd.Fma(x, v2, c22);
            x = Simd.Load<TV>(a3 + p);
            c30 = Simd.Fma(x, v0, c30); c31 = Simd.Fma(x, v1, c31); c32 = Simd.Fma(x, v2, c32);
        }
        float* r0 = c, r1 = c + ldc, r2 = r1 + ldc, r3 = r2 + ldc;
        // One column of the tile (4 rows) per 4-way horizontal sum.
        Vector128<float> s0 = Simd.Sum4(c00, c10, c20, c30), s1 = Simd.Sum4(c01, c11, c21, c31), s2 = Simd.Sum4(c02, c12, c22, c32);
        Finish(ref r0[0], Tail(s0.GetElement(0), a, b, p, k), accumulate); Finish(ref r0[1], Tail(s1.GetElement(0), a, b1, p, k), accumulate); Finish(ref r0[2], Tail(s2.GetElement(0), a, b2, p, k), accumulate);
        Finish(ref r1[0], Tail(s0.GetElement(1), a1, b, p, k), accumulate); Finish(ref r1[1], Tail(s1.GetElement(1), a1, b1, p, k), accumulate); Finish(ref r1[2], Tail(s2.GetElement(1), a1, b2, p, k), accumulate);
        Finish(ref r2[0], Tail(s0.GetElement(2), a2, b, p, k), accumulate); Finish(ref r2[1], Tail(s1.GetElement(2), a2, b1, p, k), accumulate); Finish(ref r2[2], Tail(s2.GetElement(2), a2, b2, p, k), accumulate);
        Finish(ref r3[0], Tail(s0.GetElement(3), a3, b, p, k), accumulate); Finish(ref r3[1], Tail(s1.GetElement(3), a3, b1, p, k), accumulate); Finish(ref r3[2], Tail(s2.GetElement(3), a3, b2, p, k), accumulate);
    }

    /// <summary>
    /// C[0..4, 0] (+)= A[0..4, :]·B[0, :]ᵀ: a tile's leftover column (n not a multiple of 3). Four independent chains
    /// instead of four latency-bound single dot products; each element is still one accumulator, reduced by the same tree.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Dot4x1<TV>(float* a, float* b, float* c, int k, int ldc, bool accumulate) where TV : struct
    {
        int w = Simd.Count<TV>();
        float* a1 = a + k, a2 = a1 + k, a3 = a2 + k;
        TV c0 = default, c1 = default, c2 = default, c3 = default;
        int p = 0;
        for (; p + w <= k; p += w)
        {
            TV v = Simd.Load<TV>(b + p);
            c0 = Simd.Fma(Simd.Load<TV>(a + p), v, c0); c1 = Simd.Fma(Simd.Load<TV>(a1 + p), v, c1);
            c2 = Simd.Fma(Simd.Load<TV>(a2 + p), v, c2); c3 = Simd.Fma(Simd.Load<TV>(a3 + p), v, c3);
        }
        Vector128<float> s = Simd.Sum4(c0, c1, c2, c3);
        Finish(ref c[0], Tail(s.GetElement(0), a, b, p, k), accumulate);
        Finish(ref c[ldc], Tail(s.GetElement(1), a1, b, p, k), accumulate);
        Finish(ref c[2 * (nint)ldc], Tail(s.GetElement(2), a2, b, p, k), accumulate);
        Finish(ref c[3 * (nint)ldc], Tail(s.GetElement(3), a3, b, p, k), accumulate);
    }

    /// <summary>C[0, 0..8] (+)= A[0, :]·B[0..8, :]ᵀ (batch-1 GEMV: W read row by row, 8 independent chains).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Dot1x8<TV>(float* a, float* b, float* c, int k, bool accumulate) where TV : struct
    {
        int w = Simd.Count<TV>();
        float* b1 = b + k, b2 = b1 + k, b3 = b2 + k, b4 = b3 + k, b5 = b4 + k, b6 = b5 + k, b7 = b6 + k;
        TV s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        int p = 0;
        for (; p + w <= k; p += w)
        {
            TV x = Simd.Load<TV>(a + p);
            s0 = Simd.Fma(x, Simd.Load<TV>(b + p), s0); s1 = Simd.Fma(x, Simd.Load<TV>(b1 + p), s1);
            s2 = Simd.Fma(x, Simd.Load<TV>(b2 + p), s2); s3 = Simd.Fma(x, Simd.Load<TV>(b3 + p), s3);
            s4 = Simd.Fma(x, Simd.Load<TV>(b4 + p), s4); s5 = Simd.Fma(x, Simd.Load<TV>(b5 + p), s5);
            s6 = Simd.Fma(x, Simd.Load<TV>(b6 + p), s6); s7 = Simd.Fma(x, Simd.Load<TV>(b7 + p), s7);
        }
        // Eight row sums in two 4-way horizontal sums.
        Vector128<float> lo = Simd.Sum4(s0, s1, s2, s3), hi = Simd.Sum4(s4, s5, s6, s7);
        Finish(ref c[0], Tail(lo.GetElement(0), a, b, p, k), accumulate); Finish(ref c[1], Tail(lo.GetElement(1), a, b1, p, k), accumulate);
        Finish(ref c[2], Tail(lo.GetElement(2), a, b2, p, k), accumulate); Finish(ref c[3], Tail(lo.GetElement(3), a, b3, p, k), accumulate);
        Finish(ref c[4], Tail(hi.GetElement(0), a, b4, p, k), accumulate); Finish(ref c[5], Tail(hi.GetElement(1), a, b5, p, k), accumulate);
        Finish(ref c[6], Tail(hi.GetElement(2), a, b6, p, k), accumulate); Finish(ref c[7], Tail(hi.GetElement(3), a, b7, p, k), accumulate);
    }
}
