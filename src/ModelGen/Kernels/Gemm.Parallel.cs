// Splitting one GEMM between threads (see Threading.cs for the helpers). Only C is split, never k, so the bits
// do not depend on the thread count.
// Packed NN/TN/NT share ONE packed B: B is cut into packing pieces (~64 KiB of panels) that the caller and the helper
// claim from a counter, so the caller starts packing while the helper is still being woken and the helper joins in
// whenever it arrives; once every piece is packed, both pull chunks of C rows (whole MR panels, ~32 per call) from a
// second counter, pack their own rows of A per KC slice and run the microkernels over the shared B. The caller then
// waits only for the chunk the helper has in flight. The old scheme (each thread packing its own copy of all of B and
// computing a fixed half of C) doubled the packing and left the caller idle when the helper woke late.
// The dot path splits columns: it packs nothing, and each thread streams only its rows of the transposed B.
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

    /// <summary>
    /// Row chunks a shared-B call aims for (each a whole number of MR panels, at most MC rows). Enough that a helper
    /// that starts late, or a core another process takes for a while, costs at most about one chunk at the end;
    /// 32 measured no slower than 16 at 256-1024 and clearly faster than the old static halves at 256.
    /// </summary>
    internal const int TargetChunks = 32;

    /// <summary>One GEMM as a parallel job. A per-caller instance is reused, so steady-state calls allocate nothing.</summary>
    private sealed unsafe class GemmJob : ParallelJob
    {
        [ThreadStatic] private static GemmJob? t_job;

        // The whole-B pack of a parallel packed call. Static and shared by all callers, but only the caller holding
        // the helpers (the one whose Prepare ran) touches it, and KernelThreads runs one parallel job at a time.
        private static float[]? s_sharedB;

        private float* _a, _b, _c;
        private int _m, _k, _n, _width;
        private bool _transA, _transB, _accumulate, _dot;

        // Shared-B schedule (valid from Prepare to the end of the call). Threads claim pieces of the B packing, then
        // wait until every piece is packed, then claim row chunks; all three counters are only ever incremented.
        private bool _shared;
        private float* _packedB;
        private int _packPieces, _panelsPerPiece, _piecesPerBlock, _blocks;
        private int _nextPack, _packedCount, _nextChunk;
        private int _chunkRows, _chunks;

        public static void Run(float* a, float* b, float* c, int m, int k, int n, bool transA, bool transB, bool accumulate,
            int width, bool dot, int parts)
        {
            GemmJob job = t_job ??= new GemmJob();
            job._a = a;
            job._b = b;
            job._c = c;
            (job._m, job._k, job._n, job._width) = (m, k, n, width);
            (job._transA, job._transB, job._accumulate, job._dot) = (transA, transB, accumulate, dot);
            job._shared = false;
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job._a = job._b = job._c = null;   // the buffers are pinned only for this call
                job._packedB = null;
            }
        }

        public override void Prepare(int parts)
        {
            int nr = _width / 16;
            // A B too large for one float array (n·k near 2³¹) keeps the per-thread split below, which packs by blocks.
            _shared = !_dot && (long)RoundUp(_n, nr) * _k <= Array.MaxLength - 16;
            if (!_shared) return;
            _packedB = AlignedBuffer(ref s_sharedB, RoundUp(_n, nr) * _k);
            // Packing pieces of ~64 KiB (4 panels of KC×16 at 256-bit): small enough that the caller and a helper
            // that woke during the packing share it, large enough that claiming costs nothing.
            _panelsPerPiece = Math.Max(1, 64 / nr);
            _blocks = (_n + NC - 1) / NC;
            _piecesPerBlock = ((Math.Min(NC, _n) + nr - 1) / nr + _panelsPerPiece - 1) / _panelsPerPiece;
            _packPieces = (_k + KC - 1) / KC * _blocks * _piecesPerBlock;
            // Row chunks: whole MR panels, at most MC rows (the packed A block stays in L2), and about TargetChunks of them
            // so a helper that starts late (or a core that is shared) evens out at the end.
            int units = (_m + MR - 1) / MR;
            int perChunk = Math.Clamp((units + TargetChunks - 1) / TargetChunks, 1, MC / MR);
            _chunkRows = perChunk * MR;
            _chunks = (_m + _chunkRows - 1) / _chunkRows;
            _nextPack = _packedCount = _nextChunk = 0;
            // Prepare runs on the caller: size its A buffer now, even if the helper ends up taking every chunk.
            SharedChunkPackA(_chunkRows, _k);
        }

        public override void Execute(int part, int parts)
        {
            if (parts > 1 && _shared)
            {
                ExecuteShared();
            }
            else if (_dot)
            {
                var (col0, col1) = Split(_n, 24, part, parts);
                var none = default(NoEpilogue);
                if (col1 > col0) DotNT(_a, _b, _c, _m, _k, _n, _accumulate, col0, col1, ref none, _width);
            }
            // One piece (the helpers were busy), or a B too large to pack whole: C split by columns (NT) or rows.
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

        /// <summary>One thread's share of a shared-B call: B packing pieces, then (once all of B is packed) row chunks, until none is left.</summary>
        private void ExecuteShared()
        {
            int nr = _width / 16;
            for (int piece; (piece = Interlocked.Increment(ref _nextPack) - 1) < _packPieces;)
            {
                try
                {
                    int group = piece % _piecesPerBlock, rest = piece / _piecesPerBlock;
                    int jc = rest % _blocks * NC, pc = rest / _blocks * KC;
                    PackSharedB(_b, _packedB, _k, _n, _transB, nr, pc, jc, group * _panelsPerPiece, (group + 1) * _panelsPerPiece);
                }
                finally
                {
                    // Counted even if it failed, so the other thread does not wait forever (the failure is rethrown by the join).
                    Interlocked.Increment(ref _packedCount);
                }
            }
            // The other thread may still be packing its last piece; it is awake and working, so this wait is short.
            if (Volatile.Read(ref _packedCount) < _packPieces)
            {
                var spin = new SpinWait();
                while (Volatile.Read(ref _packedCount) < _packPieces) spin.SpinOnce(sleep1Threshold: -1);
            }
            for (int chunk; (chunk = Interlocked.Increment(ref _nextChunk) - 1) < _chunks;)
            {
                int row0 = chunk * _chunkRows;
                PackedRowsShared(_a, _packedB, _c, _m, _k, _n, _transA, _accumulate, _width, row0, Math.Min(row0 + _chunkRows, _m), _chunkRows);
            }
        }
    }
}
