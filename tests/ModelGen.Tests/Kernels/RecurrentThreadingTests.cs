// Bidirectional LSTM/GRU layers under KernelOptions.MaxThreads ≥ 2 run their two directions on two threads. Outputs, final
// states, kept planes and gradients must be bit-identical for 1, 2 and 3 threads (dX = dX_forward + dX_reverse is summed in
// one order whoever computed the directions), match the float64 reference, and the direction job must really fork; steady
// state allocates nothing on the caller. These tests change the process-wide MaxThreads, so they run in the
// GlobalKernelOptions collection (no other test class in parallel) and restore it.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
[Collection(nameof(GlobalKernelOptions))]
public class RecurrentThreadingTests
{
    // Large enough that every layer's directions fork (RecurrentKernels forks from 2^21 multiply-adds per direction), odd
    // enough to hit vector tails: batch·seq = 231 rows, LSTM 188 gate rows over 40 + 47 inputs (GRU 141).
    private const int Input = 40, Hidden = 47, Seq = 21, Batch = 11;
    private static readonly int[] Lengths = [21, 3, 17, 1, 21, 9, 20, 5, 12, 21, 7];

    public static TheoryData<RecurrentCell, bool, bool> Cases()
    {
        var data = new TheoryData<RecurrentCell, bool, bool>();
        foreach (var cell in new[] { RecurrentCell.Lstm, RecurrentCell.Gru })
            foreach (bool withLengths in new[] { true, false })
                foreach (bool returnSequences in new[] { true, false })
                    data.Add(cell, withLengths, returnSequences);
        return data;
    }

    private sealed record Results(float[] Output, float[] FinalState, float[] Prepacked, float[] TrainOutput, float[] Kept, float[] DParameters, float[] DInput);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BidirectionalStack_OneTwoThreeThreads_BitIdenticalOutputsStatesAndGradients(RecurrentCell cell, bool withLengths, bool returnSequences)
    {
        var g = new RecurrentGeometry(cell, Input, Hidden, 2, true, returnSequences);
        int[]? lengths = withLengths ? Lengths : null;
        var c = new RecurrentKernelsTests.Case(g, Batch, Seq, lengths, 77);
        float[] s0 = Uniform((int)g.StateLength(Batch), 80, -0.5f, 0.5f);
        float[] dy = Uniform((int)g.OutputLength(Batch, Seq), 78), dP0 = Uniform(g.ParameterCount, 79);
        var packed = new PackedRecurrentWeights(g, c.P);
        var tuning = RecurrentKernels.Tuning.Default;
        Results Run()
        {
            float[] final = new float[s0.Length];
            float[] y = c.Forward(tuning, s0, final);
            float[] yp = new float[y.Length], ws = new float[g.WorkspaceLength(Batch, Seq)];
            Array.Fill(ws, float.NaN);
            RecurrentKernels.ForwardPrepacked(g, c.X, c.P, packed, yp, lengths, ws, Batch, Seq);
            float[] yt = c.TrainForward(tuning, 0.3f, new Rng(5), out float[] kept);
            var (dp, dx) = c.Backward(tuning, dy, 0.3f, new Rng(5), dP0, withInput: true);
            return new(y, final, yp, yt, kept, dp, dx!);
        }

        Results one = WithThreads(1, Run);
        var expected = RecurrentReference.Forward(g, c.XD, c.PD, lengths, Batch, Seq, Array.ConvertAll(s0, v => (double)v));
        AssertClose(expected.Output, one.Output, 2e-5, $"{g} output");
        AssertClose(expected.FinalState, one.FinalState, 2e-5, $"{g} final state");

        bool canFork = Environment.ProcessorCount >= 2;
        foreach (int threads in new[] { 2, 3 })
        {
            // A helper that wakes late has its direction computed by the caller (still the same bits): retry for a while
            // until a helper really took one, comparing every attempt.
            bool forked = WithThreads(threads, () =>
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                do
                {
                    long before = RecurrentKernels.HelperDirections;
                    Results r = Run();
                    string where = $"{g} lengths={withLengths} threads={threads}";
                    Assert.True(one.Output.AsSpan().SequenceEqual(r.Output), $"{where}: Forward output differs from 1 thread");
                    Assert.True(one.FinalState.AsSpan().SequenceEqual(r.FinalState), $"{where}: final state differs from 1 thread");
                    Assert.True(one.Prepacked.AsSpan().SequenceEqual(r.Prepacked), $"{where}: ForwardPrepacked output differs from 1 thread");
                    Assert.True(one.TrainOutput.AsSpan().SequenceEqual(r.TrainOutput), $"{where}: TrainForward output differs from 1 thread");
                    Assert.True(one.Kept.AsSpan().SequenceEqual(r.Kept), $"{where}: kept planes differ from 1 thread");
                    Assert.True(one.DParameters.AsSpan().SequenceEqual(r.DParameters), $"{where}: dParameters differ from 1 thread");
                    Assert.True(one.DInput.AsSpan().SequenceEqual(r.DInput), $"{where}: dInput differs from 1 thread");
                    if (RecurrentKernels.HelperDirections > before) return true;
                } while (canFork && clock.ElapsedMilliseconds < 5000);
                return false;
            });
            Assert.True(forked || !canFork, $"with {threads} threads no direction ever ran on a helper thread");
        }
    }

    [Fact]
    public void BidirectionalStack_TwoThreadsSteadyState_AllocatesNothingOnCaller()
    {
        foreach (var cell in new[] { RecurrentCell.Lstm, RecurrentCell.Gru })
        {
            var g = new RecurrentGeometry(cell, Input, Hidden, 2, true, true);
            float[] x = Uniform((int)g.InputLength(Batch, Seq), 1), p = Uniform(g.ParameterCount, 2, -0.2f, 0.2f);
            float[] y = new float[g.OutputLength(Batch, Seq)], dy = Uniform(y.Length, 3), kept = new float[g.KeptLength(Batch, Seq)];
            float[] ws = new float[g.WorkspaceLength(Batch, Seq)], dp = new float[g.ParameterCount], dx = new float[x.Length];
            var rng = new Rng(4);
            WithThreads(2, () =>
            {
                void Step()
                {
                    RecurrentKernels.Forward(g, x, p, y, Lengths, ws, Batch, Seq);
                    RecurrentKernels.TrainForward(g, x, p, y, kept, Lengths, ws, Batch, Seq, 0.2f, rng);
                    RecurrentKernels.Backward(g, dy, x, p, kept, dp, dx, Lengths, ws, Batch, Seq);
                }
                // Past the tiering threshold of every method involved, helpers and their pack buffers created.
                for (int i = 0; i < 40; i++) Step();
                AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, $"{cell} forward, training forward and backward on two threads", warmUpCalls: 0);
                return true;
            });
        }
    }

    private static T WithThreads<T>(int threads, Func<T> f)
    {
        int saved = KernelOptions.MaxThreads;
        KernelOptions.MaxThreads = threads;
        try { return f(); }
        finally { KernelOptions.MaxThreads = saved; }
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance, $"{where}: [{i}] = {actual[i]} vs {expected[i]}");
    }
}
