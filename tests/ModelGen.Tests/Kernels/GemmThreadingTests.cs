// Multi-threaded GEMM (KernelOptions.MaxThreads): every path split between threads must match the reference and be
// bit-identical to the single-thread result (threads split C, never k); steady state allocates nothing; concurrent
// callers are served correctly (one gets the helpers, the others run alone). All tests that change the process-wide
// MaxThreads live in this one class, and restore it. xunit runs test classes in parallel, so the class sits in a
// collection that runs alone: otherwise another class's zero-allocation test could see MaxThreads = 2 and fork.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

/// <summary>Tests that change process-wide kernel options; run with no other test class in parallel.</summary>
[CollectionDefinition(nameof(GlobalKernelOptions), DisableParallelization = true)]
public sealed class GlobalKernelOptions { }

[Trait("Category", "Kernels")]
[Collection(nameof(GlobalKernelOptions))]
public class GemmThreadingTests
{
    public enum Case { PackedNN, PackedNT, PackedTN, DotNT, PackedNNV128, DotNTV128 }

    private static (bool TransA, bool TransB, Gemm.Path Path) Describe(Case c) => c switch
    {
        Case.PackedNN => (false, false, Gemm.Path.Packed),
        Case.PackedNT => (false, true, Gemm.Path.Packed),
        Case.PackedTN => (true, false, Gemm.Path.Packed),
        Case.PackedNNV128 => (false, false, Gemm.Path.PackedV128),
        Case.DotNTV128 => (false, true, Gemm.Path.DotV128),
        _ => (false, true, Gemm.Path.Dot),
    };

    private static T WithThreads<T>(int threads, Func<T> f)
    {
        int saved = KernelOptions.MaxThreads;
        KernelOptions.MaxThreads = threads;
        try { return f(); }
        finally { KernelOptions.MaxThreads = saved; }
    }

    [Theory]
    [InlineData(Case.PackedNN, 157, 131, 149)]
    [InlineData(Case.PackedNT, 157, 131, 149)]
    [InlineData(Case.PackedTN, 157, 131, 149)]
    [InlineData(Case.DotNT, 61, 301, 139)]
    [InlineData(Case.PackedNN, 301, 270, 40)]   // splits rows across an MC block and two KC slices
    [InlineData(Case.PackedNNV128, 131, 129, 130)]   // the NEON width (software vectors on a machine without SSE)
    // Shared-B row chunks: m not a multiple of MR, k over two KC slices, n past NC (two column blocks, the second
    // narrower than a packing piece), m below one MR panel (a single chunk), for each of NN, TN and NT.
    [InlineData(Case.PackedNN, 253, 517, 67)]
    [InlineData(Case.PackedTN, 97, 300, 131)]
    [InlineData(Case.PackedNN, 40, 30, 2100)]
    [InlineData(Case.PackedTN, 41, 40, 2061)]
    [InlineData(Case.PackedNT, 97, 300, 131)]
    [InlineData(Case.PackedNT, 40, 30, 2100)]
    [InlineData(Case.PackedNN, 5, 700, 601)]
    [InlineData(Case.PackedNNV128, 7, 600, 503)]
    [InlineData(Case.DotNTV128, 67, 257, 127)]
    public void Multiply_TwoThreads_BitIdenticalToOneThreadAndMatchesReference(Case kind, int m, int k, int n)
    {
        Assert.True(Gemm.ParallelParts(m, k, n) == 1, "with the default MaxThreads = 1 kernels must not fork");
        var (transA, transB, path) = Describe(kind);
        float[] a = Uniform(m * k, 1), b = Uniform(k * n, 2), c0 = Uniform(m * n, 3);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] one = (float[])c0.Clone(), two = (float[])c0.Clone(), expected = (float[])c0.Clone();
            Gemm.Multiply(a, b, one, m, k, n, transA, transB, accumulate, path);
            // With vectors off (DOTNET_EnableHWIntrinsic=0) the automatic widths fall back to the direct path, which stays single-threaded.
            bool canFork = Environment.ProcessorCount >= 2 && (Gemm.NativeWidth != 0 || kind is Case.PackedNNV128 or Case.DotNTV128);
            // The caller computes a helper's piece itself when the helper is slow to wake (a busy machine), so retry
            // for a while until a helper really took part. Either way the call ran as split pieces.
            bool forked = WithThreads(2, () =>
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                do
                {
                    Array.Copy(c0, two, c0.Length);
                    long before = KernelThreads.HelperPieces;
                    Gemm.Multiply(a, b, two, m, k, n, transA, transB, accumulate, path);
                    if (KernelThreads.HelperPieces > before) return true;
                } while (canFork && clock.ElapsedMilliseconds < 5000);
                return false;
            });
            Assert.True(forked || !canFork, "the two-thread call never ran on two threads");
            Assert.Equal(one, two);   // bit for bit
            if (transA) Gemm.ReferenceTN(a, b, expected, m, k, n, accumulate);
            else if (transB) Gemm.ReferenceNT(a, b, expected, m, k, n, accumulate);
            else Gemm.ReferenceNN(a, b, expected, m, k, n, accumulate);
            double tol = 1e-6 + 3e-7 * k;
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - two[i]) <= tol, $"{kind} accumulate={accumulate}: C[{i}] = {two[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void Multiply_TwoThreadsSteadyState_AllocatesNothingOnCaller()
    {
        const int m = 160, k = 150, n = 170;
        float[] a = Uniform(m * k, 4), b = Uniform(k * n, 5), c = new float[m * n];
        WithThreads(2, () =>
        {
            Gemm.NN(a, b, c, m, k, n);   // warm: helpers, job object, pack buffers
            Gemm.NT(a, b.AsSpan(0, n * k), c, m, k, n);
            AllocationAssert.SteadyStateAllocatesNothing(() => Gemm.NN(a, b, c, m, k, n, accumulate: true), callsPerWindow: 5,
                "Gemm.NN on two threads, on the calling thread", warmUpCalls: 0);
            return true;
        });
    }

    [Fact]
    public void Multiply_ConcurrentCallersWithTwoThreads_AllGetCorrectResults()
    {
        const int m = 140, k = 130, n = 150;
        float[] a = Uniform(m * k, 6), b = Uniform(k * n, 7);
        float[] expected = new float[m * n];
        Gemm.NN(a, b, expected, m, k, n);
        var results = WithThreads(2, () =>
        {
            var tasks = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                var c = new float[m * n];
                for (int r = 0; r < 5; r++) Gemm.NN(a, b, c, m, k, n);
                return c;
            })).ToArray();
            Task.WaitAll(tasks);
            return tasks.Select(t => t.Result).ToArray();
        });
        foreach (var c in results) Assert.Equal(expected, c);
    }

    [Fact]
    public void Multiply_HelperWakesLate_CallerComputesItsPieceAndLaterCallsStayCorrect()
    {
        const int m = 157, k = 131, n = 149;
        float[] a = Uniform(m * k, 8), b = Uniform(k * n, 9);
        float[] one = new float[m * n], two = new float[m * n];
        Gemm.Multiply(a, b, one, m, k, n, false, false, false, Gemm.Path.Packed);
        WithThreads(2, () =>
        {
            // The helper sleeps 200 ms after every wake-up before it claims: the caller must take the piece itself
            // (had it waited, the helper would have computed the piece and counted it). A helper still finishing an
            // earlier wake-up (it read the delay as 0, or a wake the caller's own piece made stale) may legitimately
            // claim the new offer, so the helpers get time to settle first and the check gets three attempts: a caller
            // that waits for a late helper fails every one of them.
            KernelThreads.TestWakeDelayMs = 200;
            try
            {
                long taken = -1;
                for (int attempt = 0; attempt < 3 && taken != 0; attempt++)
                {
                    Thread.Sleep(250);
                    long helperPieces = KernelThreads.HelperPieces;
                    Array.Clear(two);
                    Gemm.Multiply(a, b, two, m, k, n, false, false, false, Gemm.Path.Packed);
                    taken = KernelThreads.HelperPieces - helperPieces;
                    Assert.Equal(one, two);
                }
                Assert.True(taken == 0, $"a helper delayed 200 ms after its wake-up computed {taken} piece(s) in each of 3 calls: the caller waited for it");
            }
            finally { KernelThreads.TestWakeDelayMs = 0; }
            // The late helper now wakes to an offer that was already taken; the next calls must still be exact.
            for (int r = 0; r < 20; r++)
            {
                Array.Clear(two);
                Gemm.Multiply(a, b, two, m, k, n, false, false, false, Gemm.Path.Packed);
                Assert.Equal(one, two);
            }
            return 0;
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Multiply_HelperWakesDuringTheCall_JoinsMidwayAndResultsStayBitIdentical(int delayMs)
    {
        // A call of several milliseconds: a helper delayed 1-3 ms after its wake-up arrives while B is being packed or
        // while row chunks are being claimed, and must neither lose nor repeat a chunk.
        const int m = 301, k = 530, n = 389;
        float[] a = Uniform(m * k, 10), b = Uniform(k * n, 11), c0 = Uniform(m * n, 12);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] one = (float[])c0.Clone();
            Gemm.Multiply(a, b, one, m, k, n, false, false, accumulate, Gemm.Path.Packed);
            WithThreads(2, () =>
            {
                KernelThreads.TestWakeDelayMs = delayMs;
                try
                {
                    for (int r = 0; r < 4; r++)
                    {
                        float[] two = (float[])c0.Clone();
                        Gemm.Multiply(a, b, two, m, k, n, false, false, accumulate, Gemm.Path.Packed);
                        Assert.Equal(one, two);
                    }
                }
                finally { KernelThreads.TestWakeDelayMs = 0; }
                return 0;
            });
        }
    }

    [Fact]
    public void Multiply_ConcurrentCallersOfDifferentShapes_EachBitIdenticalToOneThread()
    {
        // Whichever caller holds the helpers uses the one shared packed-B buffer, sized for its own shape; the others
        // run alone on their thread-static buffers. Different shapes would expose a caller reading another's B.
        var shapes = new[] { (m: 150, k: 140, n: 160), (m: 64, k: 300, n: 520), (m: 200, k: 90, n: 130), (m: 97, k: 257, n: 211) };
        var inputs = shapes.Select((s, i) => (s, a: Uniform(s.m * s.k, (ulong)(20 + i)), b: Uniform(s.k * s.n, (ulong)(30 + i)))).ToArray();
        var expected = inputs.Select(x =>
        {
            var c = new float[x.s.m * x.s.n];
            Gemm.Multiply(x.a, x.b, c, x.s.m, x.s.k, x.s.n, false, false, false, Gemm.Path.Packed);
            return c;
        }).ToArray();
        var results = WithThreads(2, () =>
        {
            var tasks = inputs.Select(x => Task.Run(() =>
            {
                var c = new float[x.s.m * x.s.n];
                var all = new List<float[]>();
                for (int r = 0; r < 20; r++)
                {
                    Gemm.Multiply(x.a, x.b, c, x.s.m, x.s.k, x.s.n, false, false, false, Gemm.Path.Packed);
                    all.Add((float[])c.Clone());
                }
                return all;
            })).ToArray();
            Task.WaitAll(tasks);
            return tasks.Select(t => t.Result).ToArray();
        });
        for (int i = 0; i < shapes.Length; i++)
            foreach (var c in results[i]) Assert.Equal(expected[i], c);
    }

    [Fact]
    public void MaxThreads_BelowOne_ThrowsNamingTheValue()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => KernelOptions.MaxThreads = 0);
        Assert.Equal("MaxThreads", ex.ParamName);
        Assert.Contains("got 0", ex.Message);
        Assert.Equal(1, KernelOptions.MaxThreads);
    }

    [Theory]
    [InlineData(100, 6, 2)]
    [InlineData(5, 6, 2)]
    [InlineData(1000, 24, 3)]
    [InlineData(7, 1, 4)]
    public void Split_PiecesTileTheRangeInWholeUnits(int total, int unit, int parts)
    {
        int next = 0;
        for (int p = 0; p < parts; p++)
        {
            var (start, end) = Gemm.Split(total, unit, p, parts);
            Assert.Equal(next, start);
            Assert.True(end >= start);
            Assert.True(end == total || end % unit == 0, $"piece {p} ends at {end}, not a multiple of {unit}");
            next = end;
        }
        Assert.Equal(total, next);
    }
}
