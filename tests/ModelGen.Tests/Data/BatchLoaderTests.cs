// BatchLoader: determinism from (seed, epoch), coverage of every example, dropLast, and zero steady-state allocation.
using ModelGen.Data;

namespace ModelGen.Tests.Data;

public class BatchLoaderTests
{
    // 10 examples of shape [1, 3, 3]; example i holds i + pixel/100 so each pixel identifies its source.
    private static Dataset Tiny(int count = 10)
    {
        var x = new float[count * 9];
        for (int i = 0; i < x.Length; i++) x[i] = i / 9 + (i % 9 + 1) / 100f;
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = i % 4;
        return Dataset.FromArrays(x, labels, [1, 3, 3], classCount: 4);
    }

    private static List<float[]> Epoch(BatchLoader loader, int epoch, List<int[]>? labels = null)
    {
        loader.StartEpoch(epoch);
        var batches = new List<float[]>();
        while (loader.TryNext(out var b))
        {
            batches.Add(b.Inputs.ToArray());
            labels?.Add(b.Labels.ToArray());
        }
        return batches;
    }

    [Fact]
    public void TryNext_SameSeed_SameBatchesAndAugmentedPixels()
    {
        var aug = new Compose(new RandomShift(1), new RandomHorizontalFlip());
        var a = new BatchLoader(Tiny(), 4, shuffle: true, seed: 7, aug);
        var b = new BatchLoader(Tiny(), 4, shuffle: true, seed: 7, aug);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var ea = Epoch(a, epoch);
            var eb = Epoch(b, epoch);
            Assert.Equal(ea.Count, eb.Count);
            for (int i = 0; i < ea.Count; i++) Assert.Equal(ea[i], eb[i]);
        }
        // Restarting an epoch reproduces it, independently of what ran before.
        Assert.Equal(Epoch(b, 1), Epoch(a, 1));
    }

    [Fact]
    public void StartEpoch_DifferentEpochOrSeed_GivesDifferentOrder()
    {
        var loader = new BatchLoader(Tiny(), 10, shuffle: true, seed: 7);
        var other = new BatchLoader(Tiny(), 10, shuffle: true, seed: 8);
        Assert.NotEqual(Epoch(loader, 0)[0], Epoch(loader, 1)[0]);
        Assert.NotEqual(Epoch(loader, 0)[0], Epoch(other, 0)[0]);
    }

    [Fact]
    public void TryNext_Shuffled_VisitsEveryExampleOncePerEpochWithItsLabel()
    {
        var loader = new BatchLoader(Tiny(), 3, shuffle: true, seed: 3);
        Assert.Equal(4, loader.BatchesPerEpoch);
        var labels = new List<int[]>();
        var batches = Epoch(loader, 5, labels);
        Assert.Equal([3, 3, 3, 1], batches.Select(b => b.Length / 9));
        var seen = new List<int>();
        for (int k = 0; k < batches.Count; k++)
            for (int j = 0; j < labels[k].Length; j++)
            {
                int source = (int)batches[k][j * 9];       // integer part of every pixel is the source index
                Assert.Equal(source % 4, labels[k][j]);
                seen.Add(source);
            }
        Assert.Equal(Enumerable.Range(0, 10), seen.Order());
        Assert.NotEqual(Enumerable.Range(0, 10), seen);   // and actually shuffled
    }

    [Fact]
    public void TryNext_NoShuffle_KeepsIndexOrder()
    {
        var batches = Epoch(new BatchLoader(Tiny(), 4, shuffle: false, seed: 0), 3);
        Assert.Equal(Tiny().Inputs, batches.SelectMany(b => b));
    }

    [Fact]
    public void TryNext_DropLast_SkipsPartialBatch()
    {
        var loader = new BatchLoader(Tiny(), 4, shuffle: true, seed: 1, dropLast: true);
        Assert.Equal(2, loader.BatchesPerEpoch);
        var batches = Epoch(loader, 0);
        Assert.Equal(2, batches.Count);
        Assert.All(batches, b => Assert.Equal(4 * 9, b.Length));
        Assert.False(loader.TryNext(out _));
        Assert.Equal(0, new BatchLoader(Tiny(3), 4, shuffle: false, seed: 1, dropLast: true).BatchesPerEpoch);
    }

    [Theory]
    [InlineData(4, 3)]
    [InlineData(5, 2)]
    [InlineData(int.MaxValue, 1)]   // Count + batchSize − 1 used to overflow to 0 batches
    public void BatchesPerEpoch_RoundsUp_EvenForTheLargestBatchSize(int batchSize, int expected)
    {
        var loader = new BatchLoader(Tiny(), batchSize, shuffle: false, seed: 0);
        Assert.Equal(expected, loader.BatchesPerEpoch);
        Assert.Equal(expected, Epoch(loader, 0).Count);
    }

    [Fact]
    public void TryNext_Targets_CopiedAlongsideInputs()
    {
        var d = Dataset.FromArrays([0, 1, 2, 3], new float[] { 10, 11, 12, 13, 14, 15, 16, 17 }, [1], targetLength: 2);
        var loader = new BatchLoader(d, 3, shuffle: true, seed: 9);
        Assert.True(loader.TryNext(out var b));
        Assert.True(b.Labels.IsEmpty);
        for (int j = 0; j < b.Size; j++)
        {
            int source = (int)b.Inputs[j];
            Assert.Equal(10 + 2 * source, b.Targets[2 * j]);
            Assert.Equal(11 + 2 * source, b.Targets[2 * j + 1]);
        }
    }

    [Fact]
    public void TryNext_SteadyState_AllocatesNothing()
    {
        var loader = new BatchLoader(Tiny(100), 8, shuffle: true, seed: 2, new Compose(new RandomCrop(1), new RandomHorizontalFlip()));
        Epoch(loader, 0);   // warm up (JIT)
        int epoch = 0, batches = 0;
        // A window is one epoch's batches; starting the epoch is outside it.
        AllocationAssert.SteadyStateAllocatesNothing(() =>
        {
            batches = 0;
            while (loader.TryNext(out var b)) batches += b.Size > 0 ? 1 : 0;
        }, callsPerWindow: 1, "an epoch of TryNext", warmUpCalls: 0, beforeEachWindow: () => loader.StartEpoch(++epoch));
        Assert.Equal(13, batches);
    }
}
