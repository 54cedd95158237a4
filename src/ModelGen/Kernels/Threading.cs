// Optional intra-kernel parallelism. Off by default (KernelOptions.MaxThreads = 1): a kernel then runs entirely on
// its caller's thread, which is what concurrent inference servers want. When raised, large GEMMs split their OUTPUT
// between the caller and up to MaxThreads - 1 helper threads; the reduction dimension is never split, so every
// element is computed by exactly the same instructions in the same order whatever the thread count: results are
// bit-identical with 1, 2 or N threads (the deterministic mode is the only mode).
// Helpers are background threads created on first use. Between jobs each one is blocked in the kernel on its own
// event (spin count 0), so idle helpers never spin and never steal a core from another runtime or process. One
// parallel job runs at a time; a call that finds the helpers busy (another thread's kernel) runs single-threaded
// instead of waiting, so concurrent callers neither block each other nor oversubscribe the cores.
namespace ModelGen.Kernels;

/// <summary>Process-wide settings of the runtime kernels.</summary>
public static class KernelOptions
{
    private static int s_maxThreads = 1;

    /// <summary>
    /// The most threads one kernel call may use, the caller's included (default 1: no helper threads). Values above
    /// <see cref="Environment.ProcessorCount"/> are treated as the processor count. Results do not depend on this
    /// setting: kernels split only their output between threads, never a sum, so they are bit-identical for every value.
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
    /// <summary>Computes piece <paramref name="part"/> of <paramref name="parts"/>. With parts = 1 it must compute everything.</summary>
    public abstract void Execute(int part, int parts);
}

/// <summary>The helper threads and the fork/join of one job over them.</summary>
internal static class KernelThreads
{
    private static readonly object s_createLock = new();
    private static Helper[] s_helpers = [];
    private static int s_busy;                 // 1 while a job owns the helpers
    private static int s_pending;              // helpers still working on the current job
    private static readonly ManualResetEventSlim s_done = new(false, spinCount: 0);
    private static Exception? s_failure;
    private static long s_parallelJobs;

    /// <summary>Jobs that actually ran on more than one thread since the process started (for tests and diagnostics).</summary>
    internal static long ParallelJobs => Interlocked.Read(ref s_parallelJobs);

    /// <summary>
    /// Runs <paramref name="job"/> in <paramref name="parts"/> pieces: piece 0 on the calling thread, the others on
    /// helpers; returns when all are done. Runs it as one piece on the caller if <paramref name="parts"/> ≤ 1 or the
    /// helpers are serving another call.
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
            Interlocked.Increment(ref s_parallelJobs);
            s_failure = null;
            s_done.Reset();
            Volatile.Write(ref s_pending, parts - 1);
            for (int h = 0; h < parts - 1; h++) helpers[h].Start(job, h + 1, parts);
            Exception? own = null;
            try { job.Execute(0, parts); }
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

    private static void Finished(Exception? failure)
    {
        if (failure is not null) Interlocked.CompareExchange(ref s_failure, failure, null);
        if (Interlocked.Decrement(ref s_pending) == 0) s_done.Set();
    }

    /// <summary>One helper thread: blocks on its event, runs one piece, reports, blocks again.</summary>
    private sealed class Helper
    {
        private readonly ManualResetEventSlim _go = new(false, spinCount: 0);
        private ParallelJob? _job;
        private int _part, _parts;

        public Helper(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"ModelGen kernel helper {index}" };
            thread.Start();
        }

        public void Start(ParallelJob job, int part, int parts)
        {
            _job = job;
            _part = part;
            _parts = parts;
            _go.Set();   // publishes the fields above (Set is a full fence)
        }

        private void Loop()
        {
            while (true)
            {
                _go.Wait();
                _go.Reset();
                Exception? failure = null;
                try { _job!.Execute(_part, _parts); }
                catch (Exception e) { failure = e; }
                _job = null;
                Finished(failure);
            }
        }
    }
}
