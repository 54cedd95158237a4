// Token sequences and their padded minibatches: layout, padding ids and labels, lengths, token counts, next-token
// windows, one label per sequence, the seeded order per epoch, argument checks, and no allocation per batch.
using ModelGen.Data;

namespace ModelGen.Tests.Data;

public class SequenceDataTests
{
    private static SequenceDataset Tagged() => new(
        [[5, 6, 7], [8], [9, 10, 11, 12], [13, 14]],
        [[0, 1, 2], [3], [4, -100, 5, 6], [7, 8]]);

    [Fact]
    public void TryNext_PadsEachBatchToItsLongestSequence()
    {
        var data = Tagged();
        Assert.Equal((4, 4, true, 9L), (data.Count, data.LongestSequence, data.LabelsPerPosition, data.LabelCount));
        var loader = new SequenceBatchLoader<int>(data, batchSize: 3, shuffle: false, padValue: 0);
        Assert.Equal(2, loader.BatchesPerEpoch);
        Assert.True(loader.TryNext(out var b));
        Assert.Equal((3, 4, 7), (b.Size, b.Seq, b.TokenCount));
        Assert.Equal([3, 1, 4], b.Lengths.ToArray());
        Assert.Equal([0, 1, 2], b.Indices.ToArray());
        Assert.Equal([5, 6, 7, 0, 8, 0, 0, 0, 9, 10, 11, 12], b.Inputs.ToArray());
        Assert.Equal([0, 1, 2, -100, 3, -100, -100, -100, 4, -100, 5, 6], b.Labels.ToArray());
        Assert.True(loader.TryNext(out var last));
        Assert.Equal((1, 2, 2), (last.Size, last.Seq, last.TokenCount));
        Assert.Equal([13, 14], last.Inputs.ToArray());
        Assert.Equal([7, 8], last.Labels.ToArray());
        Assert.Equal([3], last.Indices.ToArray());
        Assert.False(loader.TryNext(out _));
    }

    [Fact]
    public void Classification_HasOneLabelPerSequence()
    {
        var data = SequenceDataset.Classification([[5, 6, 7], [8], [9, 10]], [2, 0, 1]);
        Assert.False(data.LabelsPerPosition);
        Assert.Equal(3L, data.LabelCount);
        var loader = new SequenceBatchLoader<int>(data, batchSize: 3, shuffle: false, padValue: 1);
        Assert.True(loader.TryNext(out var b));
        Assert.Equal((3, 3, 3), (b.Size, b.Seq, b.TokenCount));
        Assert.Equal([5, 6, 7, 8, 1, 1, 9, 10, 1], b.Inputs.ToArray());
        Assert.Equal([2, 0, 1], b.Labels.ToArray());
        Assert.Equal([3, 1, 2], b.Lengths.ToArray());
        var labels = new int[1];
        data.ReadExample(2, new int[2], labels);
        Assert.Equal(1, labels[0]);
        Assert.Throws<ArgumentException>(() => data.ReadExample(2, new int[2], new int[2]));
    }

    [Fact]
    public void NextToken_LabelsAreTheInputsShiftedByOne()
    {
        int[] text = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];   // 11 ids
        var windows = SequenceDataset.NextToken(text, window: 4);
        Assert.Equal((2, 4, 8L), (windows.Count, windows.LongestSequence, windows.LabelCount));   // (11 − 1 − 4) / 4 + 1 windows
        var (inputs, labels) = (new int[4], new int[4]);
        windows.ReadExample(1, inputs, labels);
        Assert.Equal([14, 15, 16, 17], inputs);
        Assert.Equal([15, 16, 17, 18], labels);

        var overlapping = SequenceDataset.NextToken(text, window: 4, stride: 1);
        Assert.Equal(7, overlapping.Count);
        overlapping.ReadExample(6, inputs, labels);
        Assert.Equal([16, 17, 18, 19], inputs);
        Assert.Equal([17, 18, 19, 20], labels);

        text[0] = 99;   // the set holds its own copy
        windows.ReadExample(0, inputs, labels);
        Assert.Equal(10, inputs[0]);
        Assert.Contains("needs at least 5", Assert.Throws<ArgumentException>(() => SequenceDataset.NextToken([1, 2, 3, 4], 4)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SequenceDataset.NextToken(text, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SequenceDataset.NextToken(text, 4, stride: 0));
    }

    [Fact]
    public void StartEpoch_OrderDependsOnlyOnSeedAndEpoch()
    {
        var data = new SequenceDataset(Enumerable.Range(0, 23).Select(i => new[] { i }).ToArray(), Enumerable.Range(0, 23).Select(i => new[] { 0 }).ToArray());
        int[] Order(SequenceBatchLoader<int> loader, int epoch)
        {
            loader.StartEpoch(epoch);
            var seen = new List<int>();
            while (loader.TryNext(out var b)) seen.AddRange(b.Inputs.ToArray());
            return seen.ToArray();
        }
        var x = new SequenceBatchLoader<int>(data, 4, shuffle: true, seed: 5);
        var y = new SequenceBatchLoader<int>(data, 4, shuffle: true, seed: 5);
        Order(y, 0);
        Assert.Equal(Order(x, 2), Order(y, 2));
        Assert.NotEqual(Order(x, 0), Order(x, 1));
        Assert.Equal(Enumerable.Range(0, 23), Order(x, 1).Order());
        Assert.Equal(Enumerable.Range(0, 23), Order(new SequenceBatchLoader<int>(data, 4, shuffle: false), 3));
        Assert.Equal(5, new SequenceBatchLoader<int>(data, 4, shuffle: true, dropLast: true).BatchesPerEpoch);
        // The same seed visits the examples in the same order as the other loaders (one EpochOrder).
        var pairs = Seq2SeqDataset.TeacherForced(Enumerable.Range(0, 23).Select(i => new[] { i }).ToArray(), Enumerable.Range(0, 23).Select(i => new[] { 0 }).ToArray(), 1);
        var pairLoader = new Seq2SeqBatchLoader(pairs, 4, shuffle: true, seed: 5);
        pairLoader.StartEpoch(3);
        var pairOrder = new List<int>();
        while (pairLoader.TryNext(out var b)) pairOrder.AddRange(b.Source.ToArray());
        Assert.Equal(pairOrder, Order(x, 3));
    }

    [Fact]
    public void TryNext_SteadyState_AllocatesNothing()
    {
        // Per batch; StartEpoch draws the epoch's order from a new generator (once per epoch), outside the windows.
        var many = Enumerable.Range(0, 100).Select(i => new[] { 3 + i % 5, 4 }[..(1 + i % 2)]).ToArray();
        var loader = new SequenceBatchLoader<int>(new SequenceDataset(many, many), 2, shuffle: true, seed: 3);
        int epoch = 0;
        AllocationAssert.SteadyStateAllocatesNothing(() => Assert.True(loader.TryNext(out _)), callsPerWindow: 10, warmUpCalls: 3,
            beforeEachWindow: () => loader.StartEpoch(++epoch));
    }

    [Fact]
    public void Constructor_InvalidSequences_ThrowNamingTheExample()
    {
        Assert.Contains("Example 1 has 2 ids but 1 labels",
            Assert.Throws<ArgumentException>(() => new SequenceDataset([[1], [2, 3]], [[1], [2]])).Message);
        Assert.Contains("Sequence 0 is empty", Assert.Throws<ArgumentException>(() => new SequenceDataset([[]], [[]])).Message);
        Assert.Contains("2 sequences but 1 label sequences", Assert.Throws<ArgumentException>(() => new SequenceDataset([[1], [2]], [[1]])).Message);
        Assert.Contains("2 sequences but 3 labels", Assert.Throws<ArgumentException>(() => SequenceDataset.Classification([[1], [2]], [0, 1, 2])).Message);
        Assert.Contains("Sequence 1 is null", Assert.Throws<ArgumentNullException>(() => new SequenceDataset([[1], null!], [[1], [2]])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tagged().Length(4));
        Assert.Throws<ArgumentException>(() => Tagged().ReadExample(0, new int[2], new int[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceBatchLoader<int>(Tagged(), 0, shuffle: false));
    }
}
