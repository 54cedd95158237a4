// The packed GEMM path (see Gemm.cs for the overview): BLIS loop order jc → pc → (pack B) → ic → (pack A) → jr → ir.
// Packed layouts, per KC-deep slice:
//   A block [MC, KC]  → ⌈mc/MR⌉ panels, each [KC][MR]  (element (r, p) at p·MR + r), rows past m zero-padded
//   B block [KC, NC]  → ⌈nc/NR⌉ panels, each [KC][NR]  (element (p, c) at p·NR + c), columns past n zero-padded
// so the microkernel reads both panels strictly sequentially. Zero padding lets edge tiles run the same
// microkernel into a scratch tile, of which only the valid part is written back.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Kernels;

public static partial class Gemm
{
    // Thread-static so concurrent callers (parallel inference) never share a buffer; pinned so the 64-byte
    // aligned pointer derived from each stays valid without `fixed`.
    [ThreadStatic] private static float[]? t_packA;
    [ThreadStatic] private static float[]? t_packB;

    /// <summary>The widest accelerated vector width in bits, or 0 when vectors are not accelerated (then the direct path runs).</summary>
    internal static int NativeWidth => Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>The packed path over the whole of C, split between threads when <see cref="KernelOptions.MaxThreads"/> allows.</summary>
    /// <param name="aSpan">A, [m, k] or [k, m] when <paramref name="transA"/>.</param>
    /// <param name="bSpan">B, [k, n] or [n, k] when <paramref name="transB"/>.</param>
    /// <param name="cSpan">C [m, n].</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="k">The reduction length.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="transA">A is stored transposed.</param>
    /// <param name="transB">B is stored transposed.</param>
    /// <param name="accumulate">Add to C instead of overwriting it.</param>
    /// <param name="width">Microkernel vector width in bits (128, 256 or 512); NR = two vectors = width / 16 floats.</param>
    private static unsafe void Packed(ReadOnlySpan<float> aSpan, ReadOnlySpan<float> bSpan, Span<float> cSpan, int m, int k, int n,
        bool transA, bool transB, bool accumulate, int width)
    {
        fixed (float* a = aSpan, b = bSpan, c = cSpan)
        {
            int parts = ParallelParts(m, k, n);
            if (parts > 1)
                GemmJob.Run(a, b, c, m, k, n, transA, transB, accumulate, width, dot: false, parts);
            else
                PackedRange(a, b, c, m, k, n, transA, transB, accumulate, width, 0, m, 0, n);
        }
    }

    /// <summary>
    /// Rows [row0, row1) × columns [col0, col1) of C by the packed algorithm. Each element's value does not depend on
    /// the range (the same microkernel sums the same KC slices in the same order), which is what lets threads split C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void PackedRange(float* a, float* b, float* c, int m, int k, int n,
        bool transA, bool transB, bool accumulate, int width, int row0, int row1, int col0, int col1)
    {
        int nr = width / 16;
        int kcMax = Math.Min(KC, k);
        float* packA = AlignedBuffer(ref t_packA, RoundUp(Math.Min(MC, row1 - row0), MR) * kcMax);    // [⌈mc/MR⌉][KC][MR]
        float* packB = AlignedBuffer(ref t_packB, RoundUp(Math.Min(NC, col1 - col0), nr) * kcMax);    // [⌈nc/NR⌉][KC][NR]
        float* tile = stackalloc float[MR * 32 + 16];                                                // edge tile [MR][NR]
        tile = (float*)(((nuint)tile + 63) & ~(nuint)63);

        for (int jc = col0; jc < col1; jc += NC)
        {
            int nc = Math.Min(NC, col1 - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                // Later KC slices add to what the first slice wrote.
                bool add = accumulate || pc > 0;
                if (transB) PackBTransposed(b, packB, k, pc, kc, jc, nc, nr);
                else PackB(b, packB, n, pc, kc, jc, nc, nr);

                for (int ic = row0; ic < row1; ic += MC)
                {
                    int mc = Math.Min(MC, row1 - ic);
                    if (transA) PackATransposed(a, packA, m, pc, kc, ic, mc);
                    else PackA(a, packA, k, pc, kc, ic, mc);
                    MacroKernel(width, kc, packA, packB, c + (nint)ic * n + jc, n, mc, nc, add, tile);
                }
            }
        }
    }

    /// <summary>
    /// One packed A block [mc rows] times one packed B block [nc columns] of a KC slice into C (C points at the block's
    /// first element): the jr → ir loops over MR×NR tiles. <paramref name="add"/> adds the slice to C instead of
    /// overwriting it. Edge tiles run the same microkernel into <paramref name="tile"/> and copy back their valid part.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MacroKernel(int width, int kc, float* packA, float* packB, float* c, int ldc, int mc, int nc,
        bool add, float* tile)
    {
        int nr = width / 16;
        for (int jr = 0; jr < nc; jr += nr)
        {
            int ncols = Math.Min(nr, nc - jr);
            float* bPanel = packB + (nint)jr * kc;
            for (int ir = 0; ir < mc; ir += MR)
            {
                int nrows = Math.Min(MR, mc - ir);
                float* aPanel = packA + (nint)ir * kc;
                float* cTile = c + (nint)ir * ldc + jr;
                if (nrows == MR && ncols == nr)
                {
                    Microkernel(width, kc, aPanel, bPanel, cTile, ldc, add);
                }
                else
                {
                    Microkernel(width, kc, aPanel, bPanel, tile, nr, accumulate: false);
                    for (int r = 0; r < nrows; r++)
                    {
                        float* dst = cTile + (nint)r * ldc;
                        float* src = tile + r * nr;
                        if (add) for (int j = 0; j < ncols; j++) dst[j] += src[j];
                        else for (int j = 0; j < ncols; j++) dst[j] = src[j];
                    }
                }
            }
        }
    }

    // All of B packed once, shared by the threads of a parallel call. Layout: NC-column blocks one after another, each
    // its KC slices in order, each slice the usual ⌈nc/NR⌉ panels [KC][NR]. Block jc starts at jc·k (earlier blocks are
    // full, NC·k floats) and its slice pc at + pc·⌈nc⌉_NR, so any (block, slice) is found without a table.

    /// <summary>Where the packed slice <paramref name="pc"/> of column block <paramref name="jc"/> starts in a whole-B pack.</summary>
    private static unsafe float* SharedBSlice(float* packedB, int k, int n, int nr, int pc, int jc)
        => packedB + (nint)jc * k + (nint)pc * RoundUp(Math.Min(NC, n - jc), nr);

    /// <summary>
    /// Packs panels [<paramref name="panel0"/>, <paramref name="panel1"/>) of slice <paramref name="pc"/> of column block
    /// <paramref name="jc"/> into a whole-B pack (the shared layout above): a piece of the packing that threads claim.
    /// </summary>
    internal static unsafe void PackSharedB(float* b, float* packedB, int k, int n, bool transB, int nr, int pc, int jc,
        int panel0, int panel1)
    {
        int kc = Math.Min(KC, k - pc);
        int nc = Math.Min(NC, n - jc);
        int col0 = panel0 * nr, cols = Math.Min(panel1 * nr, nc) - col0;
        if (cols <= 0) return;
        float* dst = SharedBSlice(packedB, k, n, nr, pc, jc) + (nint)col0 * kc;
        if (transB) PackBTransposed(b, dst, k, pc, kc, jc + col0, cols, nr);
        else PackB(b, dst, n, pc, kc, jc + col0, cols, nr);
    }

    /// <summary>
    /// Rows [row0, row1) (at most <see cref="MC"/>) of all of C over a whole-B pack made by <see cref="PackSharedB"/>: per
    /// KC slice in order, the rows of A are packed once and run against every column block. Every element gets exactly
    /// the sums of <see cref="PackedRange"/> in the same order (one microkernel per slice from zero, added to C slice by
    /// slice), so the bits do not depend on which thread computes which rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void PackedRowsShared(float* a, float* packedB, float* c, int m, int k, int n,
        bool transA, bool accumulate, int width, int row0, int row1, int maxRows)
    {
        int nr = width / 16;
        int mc = row1 - row0;
        float* packA = SharedChunkPackA(maxRows, k);
        float* tile = stackalloc float[MR * 32 + 16];
        tile = (float*)(((nuint)tile + 63) & ~(nuint)63);
        for (int pc = 0; pc < k; pc += KC)
        {
            int kc = Math.Min(KC, k - pc);
            bool add = accumulate || pc > 0;
            if (transA) PackATransposed(a, packA, m, pc, kc, row0, mc);
            else PackA(a, packA, k, pc, kc, row0, mc);
            for (int jc = 0; jc < n; jc += NC)
                MacroKernel(width, kc, packA, SharedBSlice(packedB, k, n, nr, pc, jc), c + (nint)row0 * n + jc, n, mc,
                    Math.Min(NC, n - jc), add, tile);
        }
    }

    /// <summary>
    /// This thread's A buffer for row chunks of up to <paramref name="maxRows"/> rows. Sized by the largest chunk, not the
    /// one at hand: which chunks a thread gets varies from call to call, and a buffer grown mid-way would allocate.
    /// </summary>
    internal static unsafe float* SharedChunkPackA(int maxRows, int k) => AlignedBuffer(ref t_packA, RoundUp(maxRows, MR) * Math.Min(KC, k));

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>A 64-byte aligned view of a thread-static pinned buffer of at least <paramref name="length"/> floats.</summary>
    private static unsafe float* AlignedBuffer(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length + 16)
            buffer = GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
        nuint p = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((p + 63) & ~(nuint)63);
    }

    // A[m,k] row-major: panel element (r, p) = a[(ic+ir+r)·k + pc + p]. Full panels go through an 8×8 register
    // transpose (8 k-values from each of the 6 rows per step); edge panels and the k tail are copied one float at a time.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void PackA(float* a, float* dst, int k, int pc, int kc, int ic, int mc)
    {
        if (!Avx.IsSupported)
        {
            PackAScalar(a, dst, k, pc, kc, ic, mc, 0);
            return;
        }
        int ir = 0;
        for (; ir + MR <= mc; ir += MR)
        {
            float* src = a + (nint)(ic + ir) * k + pc;
            float* panel = dst + (nint)ir * kc;
            int p = PackAPanelAvx(src, k, panel, kc);
            for (int r = 0; r < MR; r++)
                for (int q = p; q < kc; q++) panel[q * MR + r] = src[(nint)r * k + q];
        }
        if (ir < mc) PackAScalar(a, dst, k, pc, kc, ic, mc, ir);
    }

    /// <summary>
    /// Packs k-steps [0, p) of one full MR-row panel, 8 at a time, and returns p (the caller copies the rest).
    /// Row r of the 8×8 transpose is k-step p+r's 6 values plus 2 junk lanes; the rows are stored 6 floats apart in
    /// ascending order, so each store's junk is overwritten by the next. The last store's junk lands on k-step p+8,
    /// which is why the loop stops while p + 8 &lt; kc: that step is always written after.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int PackAPanelAvx(float* src, int k, float* panel, int kc)
    {
        float* r0 = src, r1 = src + k, r2 = src + 2 * (nint)k, r3 = src + 3 * (nint)k, r4 = src + 4 * (nint)k, r5 = src + 5 * (nint)k;
        int p = 0;
        for (; p + 8 < kc; p += 8)
        {
            Vector256<float> v0 = Avx.LoadVector256(r0 + p), v1 = Avx.LoadVector256(r1 + p), v2 = Avx.LoadVector256(r2 + p),
                v3 = Avx.LoadVector256(r3 + p), v4 = Avx.LoadVector256(r4 + p), v5 = Avx.LoadVector256(r5 + p);
            Vector256<float> t0 = Avx.UnpackLow(v0, v1), t1 = Avx.UnpackHigh(v0, v1);    // a0 b0 a1 b1 | a4 b4 a5 b5 ; a2 b2 a3 b3 | a6 b6 a7 b7
            Vector256<float> t2 = Avx.UnpackLow(v2, v3), t3 = Avx.UnpackHigh(v2, v3);
            Vector256<float> t4 = Avx.UnpackLow(v4, v5), t5 = Avx.UnpackHigh(v4, v5);
            Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);    // a0 b0 c0 d0 | a4 b4 c4 d4 ; a1.. | a5..
            Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
            Vector256<float> s4 = Avx.Shuffle(t4, t4, 0x44), s5 = Avx.Shuffle(t4, t4, 0xEE);    // e0 f0 e0 f0 | e4 f4 e4 f4 ; ...
            Vector256<float> s6 = Avx.Shuffle(t5, t5, 0x44), s7 = Avx.Shuffle(t5, t5, 0xEE);
            float* d = panel + p * MR;
            Avx.Store(d, Avx.Permute2x128(s0, s4, 0x20));
            Avx.Store(d + MR, Avx.Permute2x128(s1, s5, 0x20));
            Avx.Store(d + 2 * MR, Avx.Permute2x128(s2, s6, 0x20));
            Avx.Store(d + 3 * MR, Avx.Permute2x128(s3, s7, 0x20));
            Avx.Store(d + 4 * MR, Avx.Permute2x128(s0, s4, 0x31));
            Avx.Store(d + 5 * MR, Avx.Permute2x128(s1, s5, 0x31));
            Avx.Store(d + 6 * MR, Avx.Permute2x128(s2, s6, 0x31));
            Avx.Store(d + 7 * MR, Avx.Permute2x128(s3, s7, 0x31));
        }
        return p;
    }

    /// <summary>The one-float-at-a-time <see cref="PackA"/> for panels from row <paramref name="irStart"/> on (and the reference in tests).</summary>
    internal static unsafe void PackAScalar(float* a, float* dst, int k, int pc, int kc, int ic, int mc, int irStart)
    {
        for (int ir = irStart; ir < mc; ir += MR)
        {
            int rows = Math.Min(MR, mc - ir);
            float* panel = dst + (nint)ir * kc;
            for (int r = 0; r < rows; r++)
            {
                float* src = a + (nint)(ic + ir + r) * k + pc;
                for (int p = 0; p < kc; p++) panel[p * MR + r] = src[p];
            }
            for (int r = rows; r < MR; r++)
                for (int p = 0; p < kc; p++) panel[p * MR + r] = 0f;
        }
    }

    // A[k,m] (the TN layout): panel element (r, p) = a[(pc+p)·m + ic+ir+r]; MR consecutive floats per p. Full panels
    // whose 8-float read stays inside the row (ic+ir+8 ≤ m) copy each k-step with one 8-float load and store: the two
    // extra floats land on the next k-step's slot, which is written right after, so the last k-step is copied alone.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void PackATransposed(float* a, float* dst, int m, int pc, int kc, int ic, int mc)
    {
        int ir = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; ir + MR <= mc && ic + ir + 8 <= m; ir += MR)
            {
                float* src = a + (nint)pc * m + ic + ir;
                float* panel = dst + (nint)ir * kc;
                int p = 0;
                for (; p + 1 < kc; p++) Vector256.Load(src + (nint)p * m).Store(panel + p * MR);
                float* last = src + (nint)p * m;
                float* d = panel + p * MR;
                for (int r = 0; r < MR; r++) d[r] = last[r];
            }
        }
        if (ir < mc) PackATransposedScalar(a, dst, m, pc, kc, ic, mc, ir);
    }

    /// <summary>The one-float-at-a-time <see cref="PackATransposed"/> for panels from row <paramref name="irStart"/> on (and the reference in tests).</summary>
    internal static unsafe void PackATransposedScalar(float* a, float* dst, int m, int pc, int kc, int ic, int mc, int irStart)
    {
        for (int ir = irStart; ir < mc; ir += MR)
        {
            int rows = Math.Min(MR, mc - ir);
            float* panel = dst + (nint)ir * kc;
            for (int p = 0; p < kc; p++)
            {
                float* src = a + (nint)(pc + p) * m + ic + ir;
                float* d = panel + p * MR;
                int r = 0;
                for (; r < rows; r++) d[r] = src[r];
                for (; r < MR; r++) d[r] = 0f;
            }
        }
    }

    // B[k,n] row-major: panel element (p, c) = b[(pc+p)·n + jc+jr+c]; NR consecutive floats per p.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackB(float* b, float* dst, int n, int pc, int kc, int jc, int nc, int nr)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (nint)jr * kc;
            for (int p = 0; p < kc; p++)
            {
                float* src = b + (nint)(pc + p) * n + jc + jr;
                float* d = panel + p * nr;
                if (cols == nr)
                {
                    // Two vector moves inline: a Span.CopyTo here is a Memmove call per 32-128 bytes, which for the
                    // dense backward's dX = dPre·W repacks all of W in thousands of calls.
                    if (nr == 16) { Vector256.Load(src).Store(d); Vector256.Load(src + 8).Store(d + 8); }
                    else if (nr == 8) { Vector128.Load(src).Store(d); Vector128.Load(src + 4).Store(d + 4); }
                    else { Vector512.Load(src).Store(d); Vector512.Load(src + 16).Store(d + 16); }
                }
                else
                {
                    int c = 0;
                    for (; c < cols; c++) d[c] = src[c];
                    for (; c < nr; c++) d[c] = 0f;
                }
            }
        }
    }

    // B[n,k] (the NT layout): panel element (p, c) = b[(jc+jr+c)·k + pc+p]. Full panels go through 8×8 register
    // transposes (8 k-values from each of 8 rows of B give 8 k-steps of 8 columns); edge panels and the k tail are
    // copied one float at a time.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void PackBTransposed(float* b, float* dst, int k, int pc, int kc, int jc, int nc, int nr)
    {
        if (!Avx.IsSupported)
        {
            PackBTransposedScalar(b, dst, k, pc, kc, jc, nc, nr, 0);
            return;
        }
        int jr = 0;
        for (; jr + nr <= nc; jr += nr)
        {
            float* panel = dst + (nint)jr * kc;
            for (int c0 = 0; c0 < nr; c0 += 8)
            {
                float* src = b + (nint)(jc + jr + c0) * k + pc;
                int p = PackBBlockAvx(src, k, panel + c0, nr, kc);
                for (int c = 0; c < 8; c++)
                    for (int q = p; q < kc; q++) panel[q * nr + c0 + c] = src[(nint)c * k + q];
            }
        }
        if (jr < nc) PackBTransposedScalar(b, dst, k, pc, kc, jc, nc, nr, jr);
    }

    /// <summary>Packs k-steps [0, p) of 8 columns (8 rows of B, <paramref name="k"/> apart) into a panel with row pitch <paramref name="nr"/>; returns p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int PackBBlockAvx(float* src, int k, float* d, int nr, int kc)
    {
        nint ld = k;
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            float* s = src + p;
            Vector256<float> v0 = Avx.LoadVector256(s), v1 = Avx.LoadVector256(s + ld), v2 = Avx.LoadVector256(s + 2 * ld),
                v3 = Avx.LoadVector256(s + 3 * ld), v4 = Avx.LoadVector256(s + 4 * ld), v5 = Avx.LoadVector256(s + 5 * ld),
                v6 = Avx.LoadVector256(s + 6 * ld), v7 = Avx.LoadVector256(s + 7 * ld);
            Vector256<float> t0 = Avx.UnpackLow(v0, v1), t1 = Avx.UnpackHigh(v0, v1), t2 = Avx.UnpackLow(v2, v3), t3 = Avx.UnpackHigh(v2, v3);
            Vector256<float> t4 = Avx.UnpackLow(v4, v5), t5 = Avx.UnpackHigh(v4, v5), t6 = Avx.UnpackLow(v6, v7), t7 = Avx.UnpackHigh(v6, v7);
            Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE), s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
            Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE), s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
            float* o = d + (nint)p * nr;
            Avx.Store(o, Avx.Permute2x128(s0, s4, 0x20));
            Avx.Store(o + nr, Avx.Permute2x128(s1, s5, 0x20));
            Avx.Store(o + 2 * nr, Avx.Permute2x128(s2, s6, 0x20));
            Avx.Store(o + 3 * nr, Avx.Permute2x128(s3, s7, 0x20));
            Avx.Store(o + 4 * nr, Avx.Permute2x128(s0, s4, 0x31));
            Avx.Store(o + 5 * nr, Avx.Permute2x128(s1, s5, 0x31));
            Avx.Store(o + 6 * nr, Avx.Permute2x128(s2, s6, 0x31));
            Avx.Store(o + 7 * nr, Avx.Permute2x128(s3, s7, 0x31));
        }
        return p;
    }

    /// <summary>The one-float-at-a-time <see cref="PackBTransposed"/> for panels from column <paramref name="jrStart"/> on (and the reference in tests).</summary>
    internal static unsafe void PackBTransposedScalar(float* b, float* dst, int k, int pc, int kc, int jc, int nc, int nr, int jrStart)
    {
        for (int jr = jrStart; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (nint)jr * kc;
            for (int c = 0; c < cols; c++)
            {
                float* src = b + (nint)(jc + jr + c) * k + pc;
                for (int p = 0; p < kc; p++) panel[p * nr + c] = src[p];
            }
            for (int c = cols; c < nr; c++)
                for (int p = 0; p < kc; p++) panel[p * nr + c] = 0f;
        }
    }

    /// <summary>C[MR, NR] (+)= Apanel[kc][MR] · Bpanel[kc][NR] with NR = two vectors of <paramref name="width"/> bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Microkernel(int width, int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        if (width == 512) Microkernel512(kc, a, b, c, ldc, accumulate);
        else if (width == 256) Microkernel256(kc, a, b, c, ldc, accumulate);
        else Microkernel128(kc, a, b, c, ldc, accumulate);
    }

    // 12 accumulators + 2 B vectors + 1 broadcast = 15 registers: fits the 16 of AVX2/SSE as well as AVX-512's 32.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Microkernel512(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        PrefetchTile(c, ldc, 32);
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            Vector512<float> av = Vector512.Create(a[0]);
            c00 = Vector512.MultiplyAddEstimate(av, b0, c00); c01 = Vector512.MultiplyAddEstimate(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Vector512.MultiplyAddEstimate(av, b0, c10); c11 = Vector512.MultiplyAddEstimate(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Vector512.MultiplyAddEstimate(av, b0, c20); c21 = Vector512.MultiplyAddEstimate(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Vector512.MultiplyAddEstimate(av, b0, c30); c31 = Vector512.MultiplyAddEstimate(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Vector512.MultiplyAddEstimate(av, b0, c40); c41 = Vector512.MultiplyAddEstimate(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Vector512.MultiplyAddEstimate(av, b0, c50); c51 = Vector512.MultiplyAddEstimate(av, b1, c51);
            a += MR;
            b += 32;
        }
        Store512(c, c00, c01, accumulate); c += ldc;
        Store512(c, c10, c11, accumulate); c += ldc;
        Store512(c, c20, c21, accumulate); c += ldc;
        Store512(c, c30, c31, accumulate); c += ldc;
        Store512(c, c40, c41, accumulate); c += ldc;
        Store512(c, c50, c51, accumulate);
    }

    /// <summary>
    /// Asks for the C tile's lines while the k loop runs: C rows lie ldc apart (4 KiB for n = 1024) and usually come
    /// from L2/L3, and without this the final read-modify-write of the tile stalls on them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchTile(float* c, int ldc, int cols)
    {
        if (!Sse.IsSupported) return;
        for (int r = 0; r < MR; r++)
        {
            float* row = c + (nint)r * ldc;
            Sse.Prefetch0(row);
            Sse.Prefetch0(row + cols - 1);   // the row's last element: a second line when the tile is not line-aligned
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store512(float* c, Vector512<float> v0, Vector512<float> v1, bool accumulate)
    {
        if (accumulate)
        {
            v0 += Vector512.Load(c);
            v1 += Vector512.Load(c + 16);
        }
        v0.Store(c);
        v1.Store(c + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Microkernel256(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        PrefetchTile(c, ldc, 16);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        // Two k-steps per iteration: half the loop overhead (pointer bumps, compare, branch), which measured 2-5%
        // faster in interleaved runs while another process shared the core (no change when the core was quiet).
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8);
            Vector256<float> av = Vector256.Create(a[0]);
            c00 = Vector256.MultiplyAddEstimate(av, b0, c00); c01 = Vector256.MultiplyAddEstimate(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Vector256.MultiplyAddEstimate(av, b0, c10); c11 = Vector256.MultiplyAddEstimate(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Vector256.MultiplyAddEstimate(av, b0, c20); c21 = Vector256.MultiplyAddEstimate(av, b1, c21);
            av = Vector256.Create(a[3]);
            c30 = Vector256.MultiplyAddEstimate(av, b0, c30); c31 = Vector256.MultiplyAddEstimate(av, b1, c31);
            av = Vector256.Create(a[4]);
            c40 = Vector256.MultiplyAddEstimate(av, b0, c40); c41 = Vector256.MultiplyAddEstimate(av, b1, c41);
            av = Vector256.Create(a[5]);
            c50 = Vector256.MultiplyAddEstimate(av, b0, c50); c51 = Vector256.MultiplyAddEstimate(av, b1, c51);
            b0 = Vector256.Load(b + 16); b1 = Vector256.Load(b + 24);
            av = Vector256.Create(a[MR]);
            c00 = Vector256.MultiplyAddEstimate(av, b0, c00); c01 = Vector256.MultiplyAddEstimate(av, b1, c01);
            av = Vector256.Create(a[MR + 1]);
            c10 = Vector256.MultiplyAddEstimate(av, b0, c10); c11 = Vector256.MultiplyAddEstimate(av, b1, c11);
            av = Vector256.Create(a[MR + 2]);
            c20 = Vector256.MultiplyAddEstimate(av, b0, c20); c21 = Vector256.MultiplyAddEstimate(av, b1, c21);
            av = Vector256.Create(a[MR + 3]);
            c30 = Vector256.MultiplyAddEstimate(av, b0, c30); c31 = Vector256.MultiplyAddEstimate(av, b1, c31);
            av = Vector256.Create(a[MR + 4]);
            c40 = Vector256.MultiplyAddEstimate(av, b0, c40); c41 = Vector256.MultiplyAddEstimate(av, b1, c41);
            av = Vector256.Create(a[MR + 5]);
            c50 = Vector256.MultiplyAddEstimate(av, b0, c50); c51 = Vector256.MultiplyAddEstimate(av, b1, c51);
            a += 2 * MR;
            b += 32;
        }
        if (p < kc)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8);
            Vector256<float> av = Vector256.Create(a[0]);
            c00 = Vector256.MultiplyAddEstimate(av, b0, c00); c01 = Vector256.MultiplyAddEstimate(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Vector256.MultiplyAddEstimate(av, b0, c10); c11 = Vector256.MultiplyAddEstimate(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Vector256.MultiplyAddEstimate(av, b0, c20); c21 = Vector256.MultiplyAddEstimate(av, b1, c21);
            av = Vector256.Create(a[3]);
            c30 = Vector256.MultiplyAddEstimate(av, b0, c30); c31 = Vector256.MultiplyAddEstimate(av, b1, c31);
            av = Vector256.Create(a[4]);
            c40 = Vector256.MultiplyAddEstimate(av, b0, c40); c41 = Vector256.MultiplyAddEstimate(av, b1, c41);
            av = Vector256.Create(a[5]);
            c50 = Vector256.MultiplyAddEstimate(av, b0, c50); c51 = Vector256.MultiplyAddEstimate(av, b1, c51);
        }
        Store256(c, c00, c01, accumulate); c += ldc;
        Store256(c, c10, c11, accumulate); c += ldc;
        Store256(c, c20, c21, accumulate); c += ldc;
        Store256(c, c30, c31, accumulate); c += ldc;
        Store256(c, c40, c41, accumulate); c += ldc;
        Store256(c, c50, c51, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store256(float* c, Vector256<float> v0, Vector256<float> v1, bool accumulate)
    {
        if (accumulate)
        {
            v0 += Vector256.Load(c);
            v1 += Vector256.Load(c + 8);
        }
        v0.Store(c);
        v1.Store(c + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Microkernel128(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        PrefetchTile(c, ldc, 8);
        Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector128<float> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 4);
            Vector128<float> av = Vector128.Create(a[0]);
            c00 = Vector128.MultiplyAddEstimate(av, b0, c00); c01 = Vector128.MultiplyAddEstimate(av, b1, c01);
            av = Vector128.Create(a[1]);
            c10 = Vector128.MultiplyAddEstimate(av, b0, c10); c11 = Vector128.MultiplyAddEstimate(av, b1, c11);
            av = Vector128.Create(a[2]);
            c20 = Vector128.MultiplyAddEstimate(av, b0, c20); c21 = Vector128.MultiplyAddEstimate(av, b1, c21);
            av = Vector128.Create(a[3]);
            c30 = Vector128.MultiplyAddEstimate(av, b0, c30); c31 = Vector128.MultiplyAddEstimate(av, b1, c31);
            av = Vector128.Create(a[4]);
            c40 = Vector128.MultiplyAddEstimate(av, b0, c40); c41 = Vector128.MultiplyAddEstimate(av, b1, c41);
            av = Vector128.Create(a[5]);
            c50 = Vector128.MultiplyAddEstimate(av, b0, c50); c51 = Vector128.MultiplyAddEstimate(av, b1, c51);
            a += MR;
            b += 8;
        }
        Store128(c, c00, c01, accumulate); c += ldc;
        Store128(c, c10, c11, accumulate); c += ldc;
        Store128(c, c20, c21, accumulate); c += ldc;
        Store128(c, c30, c31, accumulate); c += ldc;
        Store128(c, c40, c41, accumulate); c += ldc;
        Store128(c, c50, c51, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store128(float* c, Vector128<float> v0, Vector128<float> v1, bool accumulate)
    {
        if (accumulate)
        {
            v0 += Vector128.Load(c);
            v1 += Vector128.Load(c + 4);
        }
        v0.Store(c);
        v1.Store(c + 4);
    }
}
