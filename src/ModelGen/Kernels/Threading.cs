// Optional intra-kernel parallelism. Off by default (KernelOptions.MaxThreads = 1): a kernel then runs entirely on
// its caller's thread, which is what concurrent inference servers want. When raised, large GEMMs split their OUTPUT
// between the caller and up to MaxThreads - 1 helper threads; the reduction dimension is never split, so every
// element is computed by exactly the same instructions in the same order whatever the thread count: results are
// bit-identical with 1, 2 or N threads (the deterministic mode is the only mode). A bidirectional LSTM/GRU layer runs
// its two directions as two pieces the same way (RecurrentKernels.cs), summing what both feed in one fixed order.
// Helpers are background threads created on first use. Between jobs each one is blocked in the kernel on its own
// event (spin count 0), so idle helpers never spin and never steal a core from another runtime or process. One
// parallel job runs at a time; a call that finds the helpers busy (another thread's kernel) runs single-threaded
// instead of waiting, so concurrent callers neither block each other nor oversubscribe the cores.
// Every helper piece is claimed before it runs, by whichever thread gets there first: a caller that finishes its own
// piece takes the pieces of helpers that have not woken yet. On a busy machine a helper can wait a whole scheduler
// slice (milliseconds) to be woken; the caller then does the work itself instead of idling until it arrives, so a
// parallel call is never much slower than a single-threaded one. Who computes a piece never changes its bits.
namespace ModelGen.Kernels;

/// <summary>Process-wide settings of the runtime kernels.</summary>
public static class KernelOptions
{
    private static int s_maxThreads = 1;

    /// <summary>
    /// The most threads one kernel call may use, the caller's included (default 1: no helper threads). Values above
    /// <see cref="Environment.ProcessorCount"/> are treated as the processor count. Results do not depend on this
    /// setting: kernels split only their output between threads (rows or columns of a GEMM, the two directions of a
    /// bidirectional LSTM/GRU layer), never a sum, so they are bit-identical for every value.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public static int MaxThreads
    {
        get => s_maxThreads;
        set
        {
            if (value < 1)
                throw new ArgumentOutOfRangeException(nameof(MaxThreads), value, $"{nameof(MaxThreads)} must be at least 1 (1 = run kernels on the caller's thread only), got {value}.");
            s_maxThreads = value;
        }
    }

    /// <summary>The thread count a kernel call may actually use now: <see cref="MaxThreads"/> capped at the processor count.</summary>
    internal static int EffectiveThreads => Math.Min(s_maxThreads, Environment.ProcessorCount);
}

/// <summary>A kernel's job, split into <c>parts</c> disjoint pieces of output; part <c>p</c> is computed by one thread.</summary>
internal abstract class ParallelJob
{
    /// <summary>
    /// Called once on the caller's thread when the job has won the helpers and will run as <paramref name="parts"/>
    /// pieces, before any helper is offered a piece: the place to set up state the pieces share (which only the
    /// holder of the helpers may touch). Not called when the job runs as one piece.
    /// </summary>
    public virtual void Prepare(int parts) { }

    /// <summary>Computes piece <paramref name="part"/> of <paramref name="parts"/>. With parts = 1 it must compute everything.</summary>
    public abstract void Execute(int part, int parts);
}

/// <summary>The helper threads and the fork/join of one job over them.</summary>
internal static class KernelThreads
{
    private static readonly object s_createLock = new();
    private static Helper[] s_helpers = [];
    private static int s_busy;                 // 1 while a job owns the helpers
    private static int s_pending;              // pieces 1.. of the current job not yet finished (by a helper or the caller)
    private static readonly ManualResetEventSlim s_done = new(false, spinCount: 0);
    private static Exception? s_failure;
    private static long s_generation;          // numbers the jobs, so a helper woken late cannot claim a later job's piece
    private static long s_helperPieces;

    /// <summary>Pieces computed by helper threads (not stolen back by their caller) since the process started (for tests and diagnostics).</summary>
    internal static long HelperPieces => Interlocked.Read(ref s_helperPieces);

    /// <summary>For tests: how long a woken helper sleeps before it tries to claim its piece (0 in production).</summary>
    internal static int TestWakeDelayMs;

    /// <summary>
    /// Runs <paramref name="job"/> in <paramref name="parts"/> pieces: piece 0 on the calling thread, the others on
    /// helpers, or on the caller when it gets to them before their helper does; returns when all are done. Runs it as
    /// one piece on the caller if <paramref name="parts"/> ≤ 1 or the helpers are serving another call.
    /// </summary>
    public static void Run(ParallelJob job, int parts)
    {
        if (parts <= 1 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            job.Execute(0, 1);
            return;
        }
        try
        {
            Helper[] helpers = EnsureHelpers(parts - 1);
            long generation = Interlocked.Increment(ref s_generation);
            s_failure = null;
            s_done.Reset();
            Volatile.Write(ref s_pending, parts - 1);
            job.Prepare(parts);
            for (int h = 0; h < parts - 1; h++) helpers[h].Offer(job, h + 1, parts, generation);
            Exception? own = null;
            try
            {
                job.Execute(0, parts);
                // Pieces whose helper has not woken yet: cheaper to compute here than to wait for the scheduler.
                for (int h = 0; h < parts - 1; h++)
                    if (helpers[h].TryClaim(generation)) RunPiece(job, h + 1, parts);
            }
            catch (Exception e) { own = e; }
            s_done.Wait();
            if (own is not null) throw own;
            if (s_failure is not null) throw new AggregateException("A kernel helper thread failed.", s_failure);
        }
        finally
        {
            Volatile.Write(ref s_busy, 0);
        }
    }

    /// <summary>Computes one claimed piece and counts it done, recording (not throwing) a failure so the join completes.</summary>
    private static void RunPiece(ParallelJob job, int part, int parts)
    {
        try { job.Execute(part, parts); }
        catch (Exception e) { Interlocked.CompareExchange(ref s_failure, e, null); }
        if (Interlocked.Decrement(ref s_pending) == 0) s_done.Set();
    }

    private static Helper[] EnsureHelpers(int count)
    {
        Helper[] helpers = s_helpers;
        if (helpers.Length >= count) return helpers;
        lock (s_createLock)
        {
            if (s_helpers.Length < count)
            {
                var grown = new Helper[count];
                s_helpers.CopyTo(grown, 0);
                for (int i = s_helpers.Length; i < count; i++) grown[i] = new Helper(i + 1);
                s_helpers = grown;
            }
            return s_helpers;
        }
    }

    /// <summary>
    /// One helper thread: blocks on its event, claims its offered piece and runs it, blocks again. The offer is the
    /// generation of the job; claiming swaps it for 0, so exactly one thread (this helper or the caller) runs the piece,
    /// and a helper that wakes after its job has ended finds nothing to claim.
    /// </summary>
    private sealed class Helper
    {
        private readonly ManualResetEventSlim _go = new(false, spinCount: 0);
        private ParallelJob? _job;
        private int _part, _parts;
        private long _offer;   // generation of the job whose piece is on offer; 0 when none

        public Helper(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"ModelGen kernel helper {index}" };
            thread.Start();
        }

        public void Offer(ParallelJob job, int part, int parts, long generation)
        {
            _job = job;
            _part = part;
            _parts = parts;
            Interlocked.Exchange(ref _offer, generation);   // full fence: the fields above are visible to whoever claims
            _go.Set();
        }

        public bool TryClaim(long generation) => Interlocked.CompareExchange(ref _offer, 0, generation) == generation;

        private void Loop()
        {
            while (true)
            {
                _go.Wait();
                _go.Reset();
                if (TestWakeDelayMs > 0) Thread.Sleep(TestWakeDelayMs);
                long generation = Volatile.Read(ref _offer);
                if (generation == 0 || !TryClaim(generation)) continue;   // the caller took the piece (or a stale wake)
                // The claim succeeded, so the offer of this generation was still open and the fields are its own: the
                // caller cannot return (and make another offer) before this piece is counted done.
                Interlocked.Increment(ref s_helperPieces);
                RunPiece(_job!, _part, _parts);
            }
        }
    }
}

/// <summary>
/// Work over an index range whose indices are independent (rows, columns or elements): <see cref="Run"/> computes
/// [start, end), reading and writing nothing that another index's computation writes.
/// </summary>
internal interface IRangeOp
{
    /// <summary>Computes indices [<paramref name="start"/>, <paramref name="end"/>).</summary>
    void Run(int start, int end);
}

/// <summary>
/// Splits an <see cref="IRangeOp"/> between threads (<see cref="KernelOptions.MaxThreads"/>) in chunks of whole
/// <c>unit</c>s, which the threads claim from a counter (a helper that wakes late costs about one chunk at the end). Each
/// index is computed by the same code whatever the split, so the bits do not depend on the thread count, provided every
/// chunk boundary is a boundary the op can start at unchanged: a row boundary for per-row ops, a multiple of the widest
/// vector (16 floats) for flat element-wise ops, so every element goes through the same vector tier as in one call.
/// </summary>
internal static class ParallelRange
{
    /// <summary>Below this many floats touched (~50 µs of streaming) waking a helper costs more than it saves.</summary>
    internal const long MinElements = 1 << 17;

    /// <summary>Chunks per thread: enough that a late helper or a busy core evens out, few enough that claiming costs nothing.</summary>
    private const int ChunksPerThread = 8;

    /// <summary>Runs <paramref name="op"/> over [0, <paramref name="count"/>), split between threads when it touches at least <see cref="MinElements"/> floats.</summary>
    /// <param name="op">The work; copied into the job, so it must hold only pointers and sizes.</param>
    /// <param name="count">Indices.</param>
    /// <param name="unit">Every chunk but the last is a multiple of this many indices.</param>
    /// <param name="floatsPerIndex">Floats one index reads and writes (decides whether splitting pays).</param>
    /// <param name="chunksPerThread">Chunks per thread: the default evens out a late helper; 1 (one contiguous piece per thread) suits
    /// column splits of a sum over rows, where every chunk reads its columns of every row and narrow chunks would read each
    /// cache line of the rows once per chunk.</param>
    public static void Run<TOp>(TOp op, int count, int unit, long floatsPerIndex, int chunksPerThread = ChunksPerThread) where TOp : struct, IRangeOp
    {
        int parts = Parts(count, unit, floatsPerIndex);
        if (parts == 1)
        {
            if (count > 0) op.Run(0, count);
            return;
        }
        int units = (count + unit - 1) / unit;
        int chunk = Math.Max(1, (units + parts * chunksPerThread - 1) / (parts * chunksPerThread)) * unit;
        RangeJob<TOp>.Run(op, count, chunk, parts);
    }

    /// <summary>How many threads <see cref="Run"/> would use for this range under the current <see cref="KernelOptions.MaxThreads"/>.</summary>
    public static int Parts(int count, int unit, long floatsPerIndex)
    {
        int threads = KernelOptions.EffectiveThreads;
        return threads <= 1 || count <= unit || (long)count * floatsPerIndex < MinElements ? 1 : threads;
    }

    /// <summary>One split range as a parallel job; a per-caller instance per op type is reused, so steady-state calls allocate nothing.</summary>
    private sealed class RangeJob<TOp> : ParallelJob where TOp : struct, IRangeOp
    {
        [ThreadStatic] private static RangeJob<TOp>? t_job;

        private TOp _op;
        private int _count, _chunk, _next;

        public static void Run(TOp op, int count, int chunk, int parts)
        {
            RangeJob<TOp> job = t_job ??= new RangeJob<TOp>();
            (job._op, job._count, job._chunk) = (op, count, chunk);
            job._next = 0;   // here, not in Prepare: a call that finds the helpers busy runs Execute(0, 1) without Prepare
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job._op = default;   // its pointers are valid only for this call
            }
        }

        public override void Execute(int part, int parts)
        {
            for (int c; (c = Interlocked.Increment(ref _next) - 1) < (_count + _chunk - 1) / _chunk;)
            {
                int start = c * _chunk;
                _op.Run(start, Math.Min(start + _chunk, _count));
            }
        }
    }
}
