// Splitting one GEMM between threads (see Threading.cs for the helpers). Only C is split, never k, so the bits
// do not depend on the thread count. Packed NN/TN split rows of C (each thread packs its own rows of A and its own
// copy of B, a cheap contiguous copy in those layouts); packed NT and the dot path split columns (each thread packs
// or streams only its rows of the transposed B, which is the expensive operand there).
namespace ModelGen.Kernels;

public static partial class Gemm
{
    /// <summary>Below this many multiply-adds (~20 µs of work) waking a helper costs more than it saves.</summary>
    internal const long ParallelMinMacs = 1L << 21;

    /// <summary>How many threads a GEMM of this shape uses under the current <see cref="KernelOptions.MaxThreads"/>.</summary>
    internal static int ParallelParts(int m, int k, int n)
    {
        int threads = KernelOptions.EffectiveThreads;
        return threads > 1 && (long)m * k * n >= ParallelMinMacs ? threads : 1;
    }

    /// <summary>Piece <paramref name="part"/> of <paramref name="parts"/> of [0, total) in whole units of <paramref name="unit"/>.</summary>
    internal static (int Start, int End) Split(int total, int unit, int part, int parts)
    {
        int units = (total + unit - 1) / unit;
        int start = (int)((long)units * part / parts) * unit;
        int end = (int)((long)units * (part + 1) / parts) * unit;
        return (Math.Min(start, total), Math.Min(end, total));
    }

    /// <summary>One GEMM as a parallel job. A per-caller instance is reused, so steady-state calls allocate nothing.</summary>
    private sealed unsafe class GemmJob : ParallelJob
    {
        [ThreadStatic] private static GemmJob? t_job;

        private float* _a, _b, _c;
        private int _m, _k, _n, _width;
        private bool _transA, _transB, _accumulate, _dot;

        public static void Run(float* a, float* b, float* c, int m, int k, int n, bool transA, bool transB, bool accumulate,
            int width, bool dot, int parts)
        {
            GemmJob job = t_job ??= new GemmJob();
            job._a = a;
            job._b = b;
            job._c = c;
            (job._m, job._k, job._n, job._width) = (m, k, n, width);
            (job._transA, job._transB, job._accumulate, job._dot) = (transA, transB, accumulate, dot);
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job._a = job._b = job._c = null;   // the buffers are pinned only for this call
            }
        }

        public override void Execute(int part, int parts)
        {
            if (_dot)
            {
                var (col0, col1) = Split(_n, 24, part, parts);
                var none = default(NoEpilogue);
                if (col1 > col0) DotNT(_a, _b, _c, _m, _k, _n, _accumulate, col0, col1, ref none, _width);
            }
            else if (_transB)
            {
                var (col0, col1) = Split(_n, _width / 16, part, parts);
                if (col1 > col0) PackedRange(_a, _b, _c, _m, _k, _n, _transA, _transB, _accumulate, _width, 0, _m, col0, col1);
            }
            else
            {
                var (row0, row1) = Split(_m, MR, part, parts);
                if (row1 > row0) PackedRange(_a, _b, _c, _m, _k, _n, _transA, _transB, _accumulate, _width, row0, row1, 0, _n);
            }
        }
    }
}
