// Single-precision GEMM for the three layouts dense layers need (NN, NT, TN), row-major.
//
// Three paths, chosen by shape (never by alignment, so a given shape always takes the same path and gives the
// same bits):
//  * Packed (BLIS-style): B is packed into KC×NR column panels and A into MR×KC row panels; an MR×NR
//    register-blocked microkernel (6 rows × 2 vectors: 6×32 for Vector512, 6×16 for Vector256, 6×8 for
//    Vector128) accumulates the KC-long dot products in 12 vector registers. The three layouts differ only in
//    how they pack, so one microkernel serves NN, NT and TN. Pack buffers are thread-static, pinned and
//    64-byte aligned: allocated on first use, reused afterwards (no steady-state allocation, and concurrent
//    inference on several threads does not share them).
//  * Dot (NT only, short A: the dense forward at small batch and batch-1 GEMV): register-blocked dot products
//    over A and B as they lie, no packing, with an optional fused epilogue (Gemm.Dot.cs).
//  * Direct: for small problems (batch-1 GEMV, tiny k) packing costs more than it saves; rows are streamed with
//    vectorised axpy (NN, TN) or dot products (NT; only when vectors are not accelerated, else Dot serves).
// The naive references (Reference*) stay in this file: tests compare every path with them.
// Loop-carrying kernels are [AggressiveOptimization]: tier-0 code would call every generic vector helper out of
// line (100× slower) until tiering caught up, which a short-lived process or a first epoch would feel.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Row-major single-precision matrix multiplication: C (+)= op(A)·op(B).</summary>
/// <remarks>
/// Deterministic: the same shapes and inputs give the same bits whatever the buffers' alignment and whatever
/// <see cref="KernelOptions.MaxThreads"/> (large products split C between threads, never the sum over k).
/// Results may differ from other machines in the last bits (fused multiply-add is used where the hardware has it,
/// and the vector width decides the summation order on some paths). <c>c</c> must not overlap <c>a</c> or <c>b</c>.
/// </remarks>
public static partial class Gemm
{
    /// <summary>Rows of the register-blocked microkernel.</summary>
    internal const int MR = 6;
    /// <summary>Depth of a packed panel: a 6×KC A panel plus a KC×NR B panel stay in L1/L2 while a tile accumulates.</summary>
    internal const int KC = 256;
    /// <summary>Rows of A packed at once (multiple of MR); the packed A block (MC×KC floats, 144 KiB) stays in L2.</summary>
    internal const int MC = 144;
    /// <summary>Columns of B packed at once; the packed B block (KC×NC floats, ≤ 2 MiB) lives in L3.</summary>
    internal const int NC = 2048;

    /// <summary>
    /// Which implementation a call uses. <see cref="Auto"/> picks by shape; the others exist for tests and benchmarks.
    /// The <c>PackedV*</c> values force one microkernel width even where the hardware lacks it (the BCL then emulates
    /// the vector type in software: slow but exact), so every width's code is tested on any machine.
    /// </summary>
    internal enum Path { Auto, Direct, Packed, PackedV128, PackedV256, PackedV512, Dot, DotV128, DotV256, DotV512 }

    /// <summary>Effectively computes <c>C[i, j] = (accumulate ? C[i, j] : 0) + Σ_p A[i, p]·B[p, j]</c>.</summary>
    /// <param name="a">A [m, k].</param>
    /// <param name="b">B [k, n].</param>
    /// <param name="c">C [m, n]; must not overlap <paramref name="a"/> or <paramref name="b"/>.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="k">The reduction length.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="accumulate">Add to C instead of overwriting it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or <paramref name="c"/> overlaps an input.</exception>
    public static void NN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n, bool accumulate = false)
        => Multiply(a, b, c, m, k, n, transA: false, transB: false, accumulate, Path.Auto);

    /// <summary>Effectively computes <c>C[i, j] = (accumulate ? C[i, j] : 0) + Σ_p A[i, p]·B[j, p]</c> (Dense forward: Y = X·Wᵀ).</summary>
    /// <param name="a">A [m, k].</param>
    /// <param name="b">B [n, k].</param>
    /// <param name="c">C [m, n]; must not overlap <paramref name="a"/> or <paramref name="b"/>.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="k">The reduction length.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="accumulate">Add to C instead of overwriting it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or <paramref name="c"/> overlaps an input.</exception>
    public static void NT(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n, bool accumulate = false)
        => Multiply(a, b, c, m, k, n, transA: false, transB: true, accumulate, Path.Auto);

    /// <summary>Effectively computes <c>C[i, j] = (accumulate ? C[i, j] : 0) + Σ_p A[p, i]·B[p, j]</c> (Dense backward: dW += dYᵀ·X).</summary>
    /// <param name="a">A [k, m].</param>
    /// <param name="b">B [k, n].</param>
    /// <param name="c">C [m, n]; must not overlap <paramref name="a"/> or <paramref name="b"/>.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="k">The reduction length.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="accumulate">Add to C instead of overwriting it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or <paramref name="c"/> overlaps an input.</exception>
    public static void TN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n, bool accumulate = false)
        => Multiply(a, b, c, m, k, n, transA: true, transB: false, accumulate, Path.Auto);

    // ------------------------------------------------------------------------------------------------ references

    /// <summary>Naive reference for <see cref="NN"/> (triple loop, double-precision accumulation). For tests.</summary>
    public static void ReferenceNN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n, bool accumulate = false)
        => Reference(a, b, c, m, k, n, transA: false, transB: false, accumulate);

    /// <summary>Naive reference for <see cref="NT"/> (triple loop, double-precision accumulation). For tests.</summary>
    public static void ReferenceNT(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n, bool accumulate = false)
        => Reference(a, b, c, m, k, n, transA: false, transB: true, accumulate);

    /// <summary>Naive reference for <see cref="TN"/> (triple loop, double-precision accumulation). For tests.</summary>
    public static void ReferenceTN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n, bool accumulate = false)
        => Reference(a, b, c, m, k, n, transA: true, transB: false, accumulate);

    private static void Reference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n, bool transA, bool transB, bool accumulate)
    {
        Validate(a, b, c, m, k, n, transA, transB);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c[i * n + j] : 0.0;
                for (int p = 0; p < k; p++)
                    sum += (double)(transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = (float)sum;
            }
    }

    // ------------------------------------------------------------------------------------------------ dispatch

    /// <summary>The shared entry point: validates, then runs the direct or packed path.</summary>
    internal static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n,
        bool transA, bool transB, bool accumulate, Path path)
    {
        Validate(a, b, c, m, k, n, transA, transB);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) c.Clear();
            return;
        }
        if (transB && !transA)
        {
            int dotWidth = path switch
            {
                Path.Dot => NativeWidth,
                Path.DotV128 => 128,
                Path.DotV256 => 256,
                Path.DotV512 => 512,
                Path.Auto when NativeWidth != 0 && PreferDot(m, k, n) => NativeWidth,
                _ => 0,
            };
            if (dotWidth != 0)
            {
                RunDot(a, b, c, m, k, n, accumulate, dotWidth);
                return;
            }
        }
        int width = path switch
        {
            Path.Direct => 0,
            Path.PackedV128 => 128,
            Path.PackedV256 => 256,
            Path.PackedV512 => 512,
            Path.Packed => NativeWidth,
            _ => PreferPacked(m, k, n) ? NativeWidth : 0,
        };
        if (width != 0)
            Packed(a, b, c, m, k, n, transA, transB, accumulate, width);
        else if (transA)
            DirectTN(ref MemoryMarshal.GetReference(a), ref MemoryMarshal.GetReference(b), ref MemoryMarshal.GetReference(c), m, k, n, accumulate);
        else if (transB)
            DirectNT(ref MemoryMarshal.GetReference(a), ref MemoryMarshal.GetReference(b), ref MemoryMarshal.GetReference(c), m, k, n, accumulate);
        else
            DirectNN(ref MemoryMarshal.GetReference(a), ref MemoryMarshal.GetReference(b), ref MemoryMarshal.GetReference(c), m, k, n, accumulate);
    }

    private static unsafe void RunDot(ReadOnlySpan<float> aSpan, ReadOnlySpan<float> bSpan, Span<float> cSpan, int m, int k, int n, bool accumulate, int width)
    {
        fixed (float* a = aSpan, b = bSpan, c = cSpan)
        {
            int parts = ParallelParts(m, k, n);
            if (parts > 1)
            {
                GemmJob.Run(a, b, c, m, k, n, transA: false, transB: true, accumulate, width, dot: true, parts);
            }
            else
            {
                var none = default(NoEpilogue);
                DotNT(a, b, c, m, k, n, accumulate, 0, n, ref none, width);
            }
        }
    }

    /// <summary>
    /// Packing pays off once each packed element is reused enough: at least a few microkernel rows and a reduction
    /// long enough to amortise the tile loads/stores. Batch-1 GEMV (m = 1) and tiny-k outer products stay direct.
    /// </summary>
    internal static bool PreferPacked(int m, int k, int n) => m >= 4 && n >= 8 && k >= 8 && (long)m * n * k >= 16_384;

    private static void Validate(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, int m, int k, int n, bool transA, bool transB)
    {
        ThrowHelper.CheckNonNegative(m, nameof(m));
        ThrowHelper.CheckNonNegative(k, nameof(k));
        ThrowHelper.CheckNonNegative(n, nameof(n));
        if (transA) ThrowHelper.CheckShape(a.Length, nameof(a), nameof(k), k, nameof(m), m);
        else ThrowHelper.CheckShape(a.Length, nameof(a), nameof(m), m, nameof(k), k);
        if (transB) ThrowHelper.CheckShape(b.Length, nameof(b), nameof(n), n, nameof(k), k);
        else ThrowHelper.CheckShape(b.Length, nameof(b), nameof(k), k, nameof(n), n);
        ThrowHelper.CheckShape(c.Length, nameof(c), nameof(m), m, nameof(n), n);
        ThrowHelper.CheckNoOverlap(a, c, nameof(a), nameof(c));
        ThrowHelper.CheckNoOverlap(b, c, nameof(b), nameof(c));
    }

    // ------------------------------------------------------------------------------------------------ direct path

    // C[m,n] (+)= A[m,k]·B[k,n]: each C row takes four B rows per pass (c += a0·b0 + a1·b1 + a2·b2 + a3·b3), so the
    // row is loaded and stored k/4 times instead of k.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DirectNN(ref float a, ref float b, ref float c, int m, int k, int n, bool accumulate)
    {
        nuint nn = (nuint)n, kk = (nuint)k;
        for (nuint i = 0; i < (nuint)m; i++)
        {
            ref float ci = ref Unsafe.Add(ref c, i * nn);  // [n]
            ref float ai = ref Unsafe.Add(ref a, i * kk);  // [k]
            if (!accumulate) MemoryMarshal.CreateSpan(ref ci, n).Clear();
            nuint p = 0;
            for (; p + 4 <= kk; p += 4)
                Axpy4(ref ci, ref Unsafe.Add(ref b, p * nn), ref Unsafe.Add(ref b, (p + 1) * nn), ref Unsafe.Add(ref b, (p + 2) * nn),
                    ref Unsafe.Add(ref b, (p + 3) * nn), Unsafe.Add(ref ai, p), Unsafe.Add(ref ai, p + 1), Unsafe.Add(ref ai, p + 2), Unsafe.Add(ref ai, p + 3), nn);
            for (; p < kk; p++)
                Axpy1(ref ci, ref Unsafe.Add(ref b, p * nn), Unsafe.Add(ref ai, p), nn);
        }
    }

    // C[m,n] (+)= A[k,m]ᵀ·B[k,n]: the same row update, with the scalar coefficients read down a column of A.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DirectTN(ref float a, ref float b, ref float c, int m, int k, int n, bool accumulate)
    {
        nuint nn = (nuint)n, mm = (nuint)m, kk = (nuint)k;
        for (nuint i = 0; i < mm; i++)
        {
            ref float ci = ref Unsafe.Add(ref c, i * nn);  // [n]
            if (!accumulate) MemoryMarshal.CreateSpan(ref ci, n).Clear();
            nuint p = 0;
            for (; p + 4 <= kk; p += 4)
                Axpy4(ref ci, ref Unsafe.Add(ref b, p * nn), ref Unsafe.Add(ref b, (p + 1) * nn), ref Unsafe.Add(ref b, (p + 2) * nn),
                    ref Unsafe.Add(ref b, (p + 3) * nn), Unsafe.Add(ref a, p * mm + i), Unsafe.Add(ref a, (p + 1) * mm + i),
                    Unsafe.Add(ref a, (p + 2) * mm + i), Unsafe.Add(ref a, (p + 3) * mm + i), nn);
            for (; p < kk; p++)
                Axpy1(ref ci, ref Unsafe.Add(ref b, p * nn), Unsafe.Add(ref a, p * mm + i), nn);
        }
    }

    // C[m,n] (+)= A[m,k]·B[n,k]ᵀ: one dot product per element; both operands are read contiguously.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DirectNT(ref float a, ref float b, ref float c, int m, int k, int n, bool accumulate)
    {
        nuint nn = (nuint)n, kk = (nuint)k;
        for (nuint i = 0; i < (nuint)m; i++)
        {
            ref float ai = ref Unsafe.Add(ref a, i * kk);
            ref float ci = ref Unsafe.Add(ref c, i * nn);
            for (nuint j = 0; j < nn; j++)
            {
                float dot = Dot(ref ai, ref Unsafe.Add(ref b, j * kk), kk);
                Unsafe.Add(ref ci, j) = accumulate ? Unsafe.Add(ref ci, j) + dot : dot;
            }
        }
    }

    /// <summary>c[j] += a0·b0[j] + a1·b1[j] + a2·b2[j] + a3·b3[j].</summary>
    private static void Axpy4(ref float c, ref float b0, ref float b1, ref float b2, ref float b3, float a0, float a1, float a2, float a3, nuint n)
    {
        nuint j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> v0 = Vector512.Create(a0), v1 = Vector512.Create(a1), v2 = Vector512.Create(a2), v3 = Vector512.Create(a3);
            for (; j + (nuint)Vector512<float>.Count <= n; j += (nuint)Vector512<float>.Count)
            {
                Vector512<float> s = Vector512.MultiplyAddEstimate(v0, Vector512.LoadUnsafe(ref b0, j), Vector512.LoadUnsafe(ref c, j));
                s = Vector512.MultiplyAddEstimate(v1, Vector512.LoadUnsafe(ref b1, j), s);
                s = Vector512.MultiplyAddEstimate(v2, Vector512.LoadUnsafe(ref b2, j), s);
                Vector512.MultiplyAddEstimate(v3, Vector512.LoadUnsafe(ref b3, j), s).StoreUnsafe(ref c, j);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> v0 = Vector256.Create(a0), v1 = Vector256.Create(a1), v2 = Vector256.Create(a2), v3 = Vector256.Create(a3);
            for (; j + (nuint)Vector256<float>.Count <= n; j += (nuint)Vector256<float>.Count)
            {
                Vector256<float> s = Vector256.MultiplyAddEstimate(v0, Vector256.LoadUnsafe(ref b0, j), Vector256.LoadUnsafe(ref c, j));
                s = Vector256.MultiplyAddEstimate(v1, Vector256.LoadUnsafe(ref b1, j), s);
                s = Vector256.MultiplyAddEstimate(v2, Vector256.LoadUnsafe(ref b2, j), s);
                Vector256.MultiplyAddEstimate(v3, Vector256.LoadUnsafe(ref b3, j), s).StoreUnsafe(ref c, j);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> v0 = Vector128.Create(a0), v1 = Vector128.Create(a1), v2 = Vector128.Create(a2), v3 = Vector128.Create(a3);
            for (; j + (nuint)Vector128<float>.Count <= n; j += (nuint)Vector128<float>.Count)
            {
                Vector128<float> s = Vector128.MultiplyAddEstimate(v0, Vector128.LoadUnsafe(ref b0, j), Vector128.LoadUnsafe(ref c, j));
                s = Vector128.MultiplyAddEstimate(v1, Vector128.LoadUnsafe(ref b1, j), s);
                s = Vector128.MultiplyAddEstimate(v2, Vector128.LoadUnsafe(ref b2, j), s);
                Vector128.MultiplyAddEstimate(v3, Vector128.LoadUnsafe(ref b3, j), s).StoreUnsafe(ref c, j);
            }
        }
        for (; j < n; j++)
        {
            float s = float.MultiplyAddEstimate(a0, Unsafe.Add(ref b0, j), Unsafe.Add(ref c, j));
            s = float.MultiplyAddEstimate(a1, Unsafe.Add(ref b1, j), s);
            s = float.MultiplyAddEstimate(a2, Unsafe.Add(ref b2, j), s);
            Unsafe.Add(ref c, j) = float.MultiplyAddEstimate(a3, Unsafe.Add(ref b3, j), s);
        }
    }

    /// <summary>c[j] += a0·b0[j].</summary>
    private static void Axpy1(ref float c, ref float b0, float a0, nuint n)
    {
        nuint j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j + (nuint)Vector512<float>.Count <= n; j += (nuint)Vector512<float>.Count)
                Vector512.MultiplyAddEstimate(Vector512.Create(a0), Vector512.LoadUnsafe(ref b0, j), Vector512.LoadUnsafe(ref c, j)).StoreUnsafe(ref c, j);
        if (Vector256.IsHardwareAccelerated)
            for (; j + (nuint)Vector256<float>.Count <= n; j += (nuint)Vector256<float>.Count)
                Vector256.MultiplyAddEstimate(Vector256.Create(a0), Vector256.LoadUnsafe(ref b0, j), Vector256.LoadUnsafe(ref c, j)).StoreUnsafe(ref c, j);
        if (Vector128.IsHardwareAccelerated)
            for (; j + (nuint)Vector128<float>.Count <= n; j += (nuint)Vector128<float>.Count)
                Vector128.MultiplyAddEstimate(Vector128.Create(a0), Vector128.LoadUnsafe(ref b0, j), Vector128.LoadUnsafe(ref c, j)).StoreUnsafe(ref c, j);
        for (; j < n; j++)
            Unsafe.Add(ref c, j) = float.MultiplyAddEstimate(a0, Unsafe.Add(ref b0, j), Unsafe.Add(ref c, j));
    }

    /// <summary>Σ x[p]·y[p] with four independent vector accumulators (hides FMA latency), folded in a fixed order.</summary>
    internal static float Dot(ref float x, ref float y, nuint n)
    {
        nuint p = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            const int W = 16;
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; p + 4 * W <= n; p += 4 * W)
            {
                s0 = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref x, p), Vector512.LoadUnsafe(ref y, p), s0);
                s1 = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref x, p + W), Vector512.LoadUnsafe(ref y, p + W), s1);
                s2 = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref x, p + 2 * W), Vector512.LoadUnsafe(ref y, p + 2 * W), s2);
                s3 = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref x, p + 3 * W), Vector512.LoadUnsafe(ref y, p + 3 * W), s3);
            }
            for (; p + W <= n; p += W)
                s0 = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref x, p), Vector512.LoadUnsafe(ref y, p), s0);
            sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            const int W = 8;
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; p + 4 * W <= n; p += 4 * W)
            {
                s0 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, p), Vector256.LoadUnsafe(ref y, p), s0);
                s1 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, p + W), Vector256.LoadUnsafe(ref y, p + W), s1);
                s2 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, p + 2 * W), Vector256.LoadUnsafe(ref y, p + 2 * W), s2);
                s3 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, p + 3 * W), Vector256.LoadUnsafe(ref y, p + 3 * W), s3);
            }
            for (; p + W <= n; p += W)
                s0 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, p), Vector256.LoadUnsafe(ref y, p), s0);
            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            const int W = 4;
            Vector128<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; p + 4 * W <= n; p += 4 * W)
            {
                s0 = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref x, p), Vector128.LoadUnsafe(ref y, p), s0);
                s1 = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref x, p + W), Vector128.LoadUnsafe(ref y, p + W), s1);
                s2 = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref x, p + 2 * W), Vector128.LoadUnsafe(ref y, p + 2 * W), s2);
                s3 = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref x, p + 3 * W), Vector128.LoadUnsafe(ref y, p + 3 * W), s3);
            }
            for (; p + W <= n; p += W)
                s0 = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref x, p), Vector128.LoadUnsafe(ref y, p), s0);
            sum = Vector128.Sum((s0 + s1) + (s2 + s3));
        }
        for (; p < n; p++) sum = float.MultiplyAddEstimate(Unsafe.Add(ref x, p), Unsafe.Add(ref y, p), sum);
        return sum;
    }
}
