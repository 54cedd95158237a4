// The packed path over a B packed ahead of time (a predictor's weights, packed once when it is created): the call packs
// only A. The layout is the whole-B pack that the parallel path shares between threads (Gemm.Packed.cs,
// SharedBSlice): NC-column blocks one after another, each its KC slices in order, each slice ⌈nc/NR⌉ panels [KC][NR],
// zero-padded past n. NR is fixed by the microkernel width at packing time, so a pack is only valid for that width.
// Every element gets the sums of PackedRange in the same order (one microkernel per KC slice from zero, added to C
// slice by slice), so a prepacked product equals the per-call packed one bit for bit.
// With KernelOptions.MaxThreads > 1 a large product splits its rows between threads (chunks claimed from a counter,
// as the shared-B phase of Gemm.Parallel.cs, here with nothing to pack first); each chunk's epilogue runs on the
// thread that computed it. Which thread computes a row never changes its bits.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

public static partial class Gemm
{
    /// <summary>Floats of a whole-B pack of an [k, n] (or [n, k]) operand for microkernels of <paramref name="width"/> bits.</summary>
    internal static long PrepackedLength(int n, int k, int width) => (long)RoundUp(n, width / 16) * k;

    /// <summary>
    /// Packs all of B (B [k, n], or B [n, k] when <paramref name="transB"/>) into <paramref name="packed"/>, which holds
    /// <see cref="PrepackedLength"/> floats and is 64-byte aligned, for microkernels of <paramref name="width"/> bits.
    /// </summary>
    internal static unsafe void Prepack(float* b, float* packed, int k, int n, bool transB, int width)
    {
        int nr = width / 16;
        for (int jc = 0; jc < n; jc += NC)
        {
            int panels = (Math.Min(NC, n - jc) + nr - 1) / nr;
            for (int pc = 0; pc < k; pc += KC)
                PackSharedB(b, packed, k, n, transB, nr, pc, jc, 0, panels);
        }
    }

    /// <summary>
    /// C[m, n] (+)= A[m, k]·B over a prepacked B (<see cref="Prepack"/>), in row chunks of at most <see cref="MC"/>; after
    /// each chunk, <paramref name="epilogue"/> runs on its finished rows while they are still in cache.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void PrepackedRows<TEp>(float* a, float* packedB, float* c, int m, int k, int n, bool accumulate, int width,
        ref TEp epilogue) where TEp : struct, IGemmEpilogue
    {
        int parts = ParallelParts(m, k, n);
        if (parts > 1)
        {
            PrepackedJob<TEp>.Run(a, packedB, c, m, k, n, accumulate, width, epilogue, parts);
            return;
        }
        for (int row0 = 0; row0 < m; row0 += MC)
        {
            int row1 = Math.Min(m, row0 + MC);
            if (width == 512)
            {
                // Whole 8-row blocks read A in place; the last 1-7 rows take the 6-row microkernel over packed A.
                // The 8-row tiles finish their own rows (the epilogue in registers where it can be); the rest get it here.
                int rows8 = row0 + (row1 - row0) / 8 * 8;
                if (rows8 > row0) Rows8x32(a, packedB, c, k, n, accumulate, row0, rows8, ref epilogue);
                if (rows8 < row1)
                {
                    PackedRowsShared(a, packedB, c, m, k, n, transA: false, accumulate, width, rows8, row1, MC);
                    epilogue.Apply(c, n, rows8, row1 - rows8, 0, n);
                }
            }
            else
            {
                PackedRowsShared(a, packedB, c, m, k, n, transA: false, accumulate, width, row0, row1, MC);
                epilogue.Apply(c, n, row0, row1 - row0, 0, n);
            }
        }
    }

    /// <summary>
    /// Rows [row0, row1) (a multiple of 8) of C over a whole-B pack of 512-bit panels, with A read where it lies: 8×32
    /// tiles (16 accumulators of AVX-512's 32 registers, 10 loads per 16 FMAs against the 6-row kernel's 8 per 12) and
    /// no A packing; a batch of 64 needs no padding rows (6-row tiles compute 66). Each element gets exactly
    /// <see cref="PackedRowsShared"/>'s operations (per KC slice, one accumulator from zero over the slice in order, then
    /// added to C), so the bits equal the 6-row path's. The epilogue of rows [row0, row1) is done here: on the last KC slice a full
    /// tile runs it on its accumulators before the store (<see cref="IGemmEpilogue.Finish"/>: the same operations, so the same
    /// bits, without a second pass over C from L2: W5's prepacked forward 0.982x the time, its QKV projection 0.977x); the narrower last panel and an epilogue
    /// that cannot finish in registers get <see cref="IGemmEpilogue.Apply"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Rows8x32<TEp>(float* a, float* packedB, float* c, int k, int n, bool accumulate, int row0, int row1, ref TEp epilogue)
        where TEp : struct, IGemmEpilogue
    {
        float* tile = stackalloc float[8 * 32 + 16];
        tile = (float*)(((nuint)tile + 63) & ~(nuint)63);
        bool inRegisters = epilogue.FinishesInRegisters;
        if (k == 0 || !inRegisters)
        {
            // Nothing to finish in registers (no slice runs when k = 0): the plain tiles, then the epilogue as a pass.
            var none = default(NoEpilogue);
            if (k > 0) Rows8x32(a, packedB, c, k, n, accumulate, row0, row1, ref none);
            epilogue.Apply(c, n, row0, row1 - row0, 0, n);
            return;
        }
        for (int pc = 0; pc < k; pc += KC)
        {
            int kc = Math.Min(KC, k - pc);
            bool add = accumulate || pc > 0, last = pc + kc == k;
            for (int jc = 0; jc < n; jc += NC)
            {
                int nc = Math.Min(NC, n - jc);
                float* slice = SharedBSlice(packedB, k, n, 32, pc, jc);
                for (int jr = 0; jr < nc; jr += 32)
                {
                    int cols = Math.Min(32, nc - jr);
                    float* panel = slice + (nint)jr * kc;
                    for (int ir = row0; ir < row1; ir += 8)
                    {
                        float* cTile = c + (nint)ir * n + jc + jr;
                        if (cols == 32)
                        {
                            if (last) Kernel8x32(kc, a + (nint)ir * k + pc, k, panel, cTile, n, add, ref epilogue, jc + jr);
                            else Kernel8x32(kc, a + (nint)ir * k + pc, k, panel, cTile, n, add);
                            continue;
                        }
                        Kernel8x32(kc, a + (nint)ir * k + pc, k, panel, tile, 32, accumulate: false);
                        for (int r = 0; r < 8; r++)
                        {
                            float* dst = cTile + (nint)r * n, src = tile + r * 32;
                            if (add) for (int j = 0; j < cols; j++) dst[j] += src[j];
                            else for (int j = 0; j < cols; j++) dst[j] = src[j];
                        }
                        if (last) epilogue.Apply(c, n, ir, 8, jc + jr, cols);
                    }
                }
            }
        }
    }

    /// <summary>C[8, 32] (+)= A[8 rows lda apart][kc] · Bpanel[kc][32].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel8x32(int kc, float* a, int lda, float* b, float* c, int ldc, bool accumulate)
    {
        var none = default(NoEpilogue);
        Kernel8x32(kc, a, lda, b, c, ldc, accumulate, ref none, 0);
    }

    /// <summary>C[8, 32] = epilogue((C +) A[8 rows lda apart][kc] · Bpanel[kc][32]), the tile being columns [col, col + 32) of the epilogue's C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel8x32<TEp>(int kc, float* a, int lda, float* b, float* c, int ldc, bool accumulate, ref TEp epilogue, int col)
        where TEp : struct, IGemmEpilogue
    {
        float* a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda, a6 = a5 + lda, a7 = a6 + lda;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default,
            c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < kc; p++, b += 32)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            Vector512<float> av = Vector512.Create(a[p]);
            c00 = Vector512.MultiplyAddEstimate(av, b0, c00); c01 = Vector512.MultiplyAddEstimate(av, b1, c01);
            av = Vector512.Create(a1[p]);
            c10 = Vector512.MultiplyAddEstimate(av, b0, c10); c11 = Vector512.MultiplyAddEstimate(av, b1, c11);
            av = Vector512.Create(a2[p]);
            c20 = Vector512.MultiplyAddEstimate(av, b0, c20); c21 = Vector512.MultiplyAddEstimate(av, b1, c21);
            av = Vector512.Create(a3[p]);
            c30 = Vector512.MultiplyAddEstimate(av, b0, c30); c31 = Vector512.MultiplyAddEstimate(av, b1, c31);
            av = Vector512.Create(a4[p]);
            c40 = Vector512.MultiplyAddEstimate(av, b0, c40); c41 = Vector512.MultiplyAddEstimate(av, b1, c41);
            av = Vector512.Create(a5[p]);
            c50 = Vector512.MultiplyAddEstimate(av, b0, c50); c51 = Vector512.MultiplyAddEstimate(av, b1, c51);
            av = Vector512.Create(a6[p]);
            c60 = Vector512.MultiplyAddEstimate(av, b0, c60); c61 = Vector512.MultiplyAddEstimate(av, b1, c61);
            av = Vector512.Create(a7[p]);
            c70 = Vector512.MultiplyAddEstimate(av, b0, c70); c71 = Vector512.MultiplyAddEstimate(av, b1, c71);
        }
        Finish512(c, c00, c01, accumulate, ref epilogue, col); c += ldc;
        Finish512(c, c10, c11, accumulate, ref epilogue, col); c += ldc;
        Finish512(c, c20, c21, accumulate, ref epilogue, col); c += ldc;
        Finish512(c, c30, c31, accumulate, ref epilogue, col); c += ldc;
        Finish512(c, c40, c41, accumulate, ref epilogue, col); c += ldc;
        Finish512(c, c50, c51, accumulate, ref epilogue, col); c += ldc;
        Finish512(c, c60, c61, accumulate, ref epilogue, col); c += ldc;
        Finish512(c, c70, c71, accumulate, ref epilogue, col);
    }

    /// <summary>One tile row: (C +) v, then the epilogue on the register (a no-op for <see cref="NoEpilogue"/>), then the store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Finish512<TEp>(float* c, Vector512<float> v0, Vector512<float> v1, bool accumulate, ref TEp epilogue, int col)
        where TEp : struct, IGemmEpilogue
    {
        if (accumulate)
        {
            v0 += Vector512.Load(c);
            v1 += Vector512.Load(c + 16);
        }
        epilogue.Finish(v0, col).Store(c);
        epilogue.Finish(v1, col + 16).Store(c + 16);
    }

    /// <summary>A prepacked product as a parallel job: threads claim row chunks until none is left. Reused per caller and epilogue type.</summary>
    private sealed unsafe class PrepackedJob<TEp> : ParallelJob where TEp : struct, IGemmEpilogue
    {
        [ThreadStatic] private static PrepackedJob<TEp>? t_job;

        private float* _a, _packedB, _c;
        private int _m, _k, _n, _width, _chunkRows, _chunks, _nextChunk;
        private bool _accumulate;
        private TEp _epilogue;

        public static void Run(float* a, float* packedB, float* c, int m, int k, int n, bool accumulate, int width, TEp epilogue, int parts)
        {
            PrepackedJob<TEp> job = t_job ??= new PrepackedJob<TEp>();
            job._a = a;
            job._packedB = packedB;
            job._c = c;
            (job._m, job._k, job._n, job._width, job._accumulate, job._epilogue) = (m, k, n, width, accumulate, epilogue);
            // Whole MR panels, at most MC rows, about TargetChunks of them (see Gemm.Parallel.cs): a late helper evens out.
            int units = (m + MR - 1) / MR;
            job._chunkRows = Math.Clamp((units + TargetChunks - 1) / TargetChunks, 1, MC / MR) * MR;
            job._chunks = (m + job._chunkRows - 1) / job._chunkRows;
            job._nextChunk = 0;
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job._a = job._packedB = job._c = null;   // the buffers are pinned only for this call
                job._epilogue = default;
            }
        }

        public override void Execute(int part, int parts)
        {
            for (int chunk; (chunk = Interlocked.Increment(ref _nextChunk) - 1) < _chunks;)
            {
                int row0 = chunk * _chunkRows, row1 = Math.Min(_m, row0 + _chunkRows);
                PackedRowsShared(_a, _packedB, _c, _m, _k, _n, transA: false, _accumulate, _width, row0, row1, _chunkRows);
                _epilogue.Apply(_c, _n, row0, row1 - row0, 0, _n);
            }
        }
    }
}
