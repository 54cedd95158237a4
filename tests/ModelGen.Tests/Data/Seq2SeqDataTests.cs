// Sequence pairs and their padded minibatches: layout, padding ids and labels, lengths, token counts, teacher forcing,
// the seeded order per epoch, argument checks, and no allocation per batch.
using ModelGen.Data;

namespace ModelGen.Tests.Data;

public class Seq2SeqDataTests
{
    private static Seq2SeqDataset Pairs() => Seq2SeqDataset.TeacherForced(
        [[5, 6, 7], [8], [9, 10, 11, 12], [13, 14]],
        [[20, 21], [22, 23, 24, 25], [26], [27, 28, 29]],
        startId: 1);

    [Fact]
    public void TeacherForced_InputIsTheTargetShiftedBehindTheStartId()
    {
        var data = Pairs();
        Assert.Equal((4, 4, 4, 10), (data.Count, data.LongestSource, data.LongestTarget, data.TargetTokenCount));
        var (source, input, labels) = (new int[4], new int[4], new int[4]);
        data.ReadExample(1, source.AsSpan(0, 1), input, labels);
        Assert.Equal([8], source[..1]);
        Assert.Equal([1, 22, 23, 24], input);
        Assert.Equal([22, 23, 24, 25], labels);
        data.ReadExample(2, source, input.AsSpan(0, 1), labels.AsSpan(0, 1));
        Assert.Equal((1, 26), (input[0], labels[0]));
    }

    [Fact]
    public void TryNext_PadsEachBatchToItsLongestSourceAndTarget()
    {
        var loader = new Seq2SeqBatchLoader(Pairs(), batchSize: 3, shuffle: false, padId: 0);
        Assert.Equal(2, loader.BatchesPerEpoch);
        Assert.True(loader.TryNext(out var b));
        Assert.Equal((3, 4, 4, 7), (b.Size, b.SourceSeq, b.TargetSeq, b.TokenCount));
        Assert.Equal([3, 1, 4], b.SourceLengths.ToArray());
        Assert.Equal([2, 4, 1], b.TargetLengths.ToArray());
        Assert.Equal([5, 6, 7, 0, 8, 0, 0, 0, 9, 10, 11, 12], b.Source.ToArray());
        Assert.Equal([1, 20, 0, 0, 1, 22, 23, 24, 1, 0, 0, 0], b.TargetInputs.ToArray());
        Assert.Equal([20, 21, -100, -100, 22, 23, 24, 25, 26, -100, -100, -100], b.TargetLabels.ToArray());
        Assert.True(loader.TryNext(out var last));
        Assert.Equal((1, 2, 3, 3), (last.Size, last.SourceSeq, last.TargetSeq, last.TokenCount));
        Assert.Equal([13, 14], last.Source.ToArray());
        Assert.False(loader.TryNext(out _));
    }

    [Fact]
    public void TokenCount_LeavesOutLabelsEqualToTheIgnoreIndex()
    {
        var data = new Seq2SeqDataset([[3], [4]], [[1, 5, 6], [1, 7]], [[5, -100, 2], [7, 2]]);
        var loader = new Seq2SeqBatchLoader(data, 2, shuffle: false);
        Assert.True(loader.TryNext(out var b));
        Assert.Equal(4, b.TokenCount);
    }

    [Fact]
    public void StartEpoch_OrderDependsOnlyOnSeedAndEpoch()
    {
        var data = Seq2SeqDataset.TeacherForced(Enumerable.Range(0, 23).Select(i => new[] { i }).ToArray(),
            Enumerable.Range(0, 23).Select(i => new[] { i, i }).ToArray(), 0);
        int[] Order(Seq2SeqBatchLoader loader, int epoch)
        {
            loader.StartEpoch(epoch);
            var seen = new List<int>();
            while (loader.TryNext(out var b)) seen.AddRange(b.Source.ToArray());
            return seen.ToArray();
        }
        var x = new Seq2SeqBatchLoader(data, 4, shuffle: true, seed: 5);
        var y = new Seq2SeqBatchLoader(data, 4, shuffle: true, seed: 5);
        Order(y, 0);
        Assert.Equal(Order(x, 2), Order(y, 2));
        Assert.NotEqual(Order(x, 0), Order(x, 1));
        Assert.Equal(Enumerable.Range(0, 23), Order(x, 1).Order());
        Assert.Equal(Enumerable.Range(0, 23), Order(new Seq2SeqBatchLoader(data, 4, shuffle: false), 3));
        Assert.Equal(5, new Seq2SeqBatchLoader(data, 4, shuffle: true, dropLast: true).BatchesPerEpoch);
    }

    [Fact]
    public void TryNext_SteadyState_AllocatesNothing()
    {
        // Per batch; StartEpoch draws the epoch's order from a new generator (once per epoch), outside the windows.
        var many = Enumerable.Range(0, 100).Select(i => new[] { 3 + i % 5, 4 }[..(1 + i % 2)]).ToArray();
        var loader = new Seq2SeqBatchLoader(Seq2SeqDataset.TeacherForced(many, many, 1), 2, shuffle: true, seed: 3);
        int epoch = 0;
        AllocationAssert.SteadyStateAllocatesNothing(() => Assert.True(loader.TryNext(out _)), callsPerWindow: 10, warmUpCalls: 3,
            beforeEachWindow: () => loader.StartEpoch(++epoch));
    }

    [Fact]
    public void Constructor_InvalidPairs_ThrowNamingTheExample()
    {
        Assert.Contains("Example 1 has 2 target input ids but 1 labels",
            Assert.Throws<ArgumentException>(() => new Seq2SeqDataset([[1], [2]], [[1], [1, 2]], [[1], [2]])).Message);
        Assert.Contains("Source 0 is empty", Assert.Throws<ArgumentException>(() => new Seq2SeqDataset([[]], [[1]], [[1]])).Message);
        Assert.Contains("1 sources, 2 target inputs", Assert.Throws<ArgumentException>(() => new Seq2SeqDataset([[1]], [[1], [2]], [[1]])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Pairs().SourceLength(4));
        Assert.Throws<ArgumentException>(() => Pairs().ReadExample(0, new int[2], new int[2], new int[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Seq2SeqBatchLoader(Pairs(), 0, shuffle: false));
    }
}
