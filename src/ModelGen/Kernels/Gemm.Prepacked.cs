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
            PackedRowsShared(a, packedB, c, m, k, n, transA: false, accumulate, width, row0, row1, MC);
            epilogue.Apply(c, n, row0, row1 - row0, 0, n);
        }
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
