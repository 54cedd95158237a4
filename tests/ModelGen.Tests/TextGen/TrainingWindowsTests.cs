// Random training windows: inputs are T ids from a random offset, targets the same window shifted by one, offsets
// cover every window that fits (and no other), a seed fixes the batches, and a batch allocates nothing.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TextGen;

namespace ModelGen.Tests.TextGeneration;

public class TrainingWindowsTests
{
    // text[i] = i, so every id names its own position and a window shows where it came from.
    private static int[] Positions(int n) => Enumerable.Range(0, n).ToArray();

    [Fact]
    public void Next_Windows_InputsFromStartTargetsShiftedByOne()
    {
        const int batch = 5, T = 7;
        var windows = new TrainingWindows(Positions(100), batch, T, seed: 3);
        for (int draw = 0; draw < 20; draw++)
        {
            windows.Next();
            for (int b = 0; b < batch; b++)
            {
                int s = windows.Starts[b];
                Assert.InRange(s, 0, 100 - T - 1);
                for (int t = 0; t < T; t++)
                {
                    Assert.Equal(s + t, windows.Inputs[b * T + t]);
                    Assert.Equal(s + t + 1, windows.Targets[b * T + t]);
                }
            }
        }
    }

    [Fact]
    public void Next_ManyDraws_ReachEveryStartIncludingTheLastWindow()
    {
        // N = T + 4 ids hold exactly 4 windows of T + 1: starts 0..3. An off-by-one would miss 3 or produce 4.
        const int T = 6;
        var windows = new TrainingWindows(Positions(T + 4), 8, T, seed: 1);
        var seen = new int[4];
        for (int draw = 0; draw < 100; draw++)
        {
            windows.Next();
            foreach (int s in windows.Starts) seen[s]++;
        }
        Assert.All(seen, count => Assert.InRange(count, 150, 250));   // 800 draws, 200 expected each

        var single = new TrainingWindows(Positions(T + 1), 2, T, seed: 9);
        single.Next();
        Assert.Equal(new[] { 0, 0 }, single.Starts.ToArray());
    }

    [Fact]
    public void Next_Seed_FixesTheBatches()
    {
        var a = new TrainingWindows(Positions(10_000), 4, 16, seed: 7);
        var b = new TrainingWindows(Positions(10_000), 4, 16, seed: 7);
        var c = new TrainingWindows(Positions(10_000), 4, 16, seed: 8);
        bool anyDifferent = false;
        for (int draw = 0; draw < 10; draw++)
        {
            a.Next();
            b.Next();
            c.Next();
            Assert.Equal(a.Inputs.ToArray(), b.Inputs.ToArray());
            Assert.Equal(a.Targets.ToArray(), b.Targets.ToArray());
            anyDifferent |= !a.Starts.SequenceEqual(c.Starts);
        }
        Assert.True(anyDifferent, "seeds 7 and 8 drew the same windows");
    }

    [Fact]
    public void Next_SteadyState_ReusesBuffersAndAllocatesNothing()
    {
        var windows = new TrainingWindows(Positions(5_000), 32, 128, seed: 1);
        windows.Next();
        ref int inputs = ref MemoryMarshal.GetReference(windows.Inputs);
        AllocationAssert.SteadyStateAllocatesNothing(windows.Next, callsPerWindow: 50, "TrainingWindows.Next", warmUpCalls: 0);
        Assert.True(Unsafe.AreSame(ref inputs, ref MemoryMarshal.GetReference(windows.Inputs)), "Inputs moved to a new buffer");
        Assert.Equal(32 * 128, windows.Inputs.Length);
    }

    [Fact]
    public void Constructor_TextShorterThanOneWindow_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new TrainingWindows(Positions(8), 1, 8, 1));
        Assert.Contains("needs 9 ids (T + 1) but the text has 8", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingWindows(Positions(8), 0, 4, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingWindows(Positions(8), 1, 0, 1));
    }
}
