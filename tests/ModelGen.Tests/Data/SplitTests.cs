// Dataset.Split: seeded, stratified per class, disjoint and complete, never empty, class names carried along.
using ModelGen.Data;

namespace ModelGen.Tests.Data;

public class SplitTests
{
    /// <summary>Example i holds the single float i, so a split's inputs show which examples went where.</summary>
    private static Dataset Numbered(int[] labels, int classCount, string[]? names = null) =>
        Dataset.FromArrays(Enumerable.Range(0, labels.Length).Select(i => (float)i).ToArray(), labels, [1], classCount, names);

    [Fact]
    public void Split_SameSeedSameSplit_OtherSeedOther_DisjointAndComplete()
    {
        var labels = Enumerable.Range(0, 200).Select(i => i % 3 == 0 ? 0 : i % 7 == 0 ? 2 : 1).ToArray();
        var data = Numbered(labels, 3);
        var (train, validation) = data.Split(0.25, seed: 5);
        var (train2, validation2) = data.Split(0.25, seed: 5);
        var (_, validation3) = data.Split(0.25, seed: 6);
        Assert.Equal(validation.Inputs, validation2.Inputs);
        Assert.Equal(train.Inputs, train2.Inputs);
        Assert.NotEqual(validation.Inputs, validation3.Inputs);
        var all = train.Inputs.Concat(validation.Inputs).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, 200).Select(i => (float)i), all);
        // Original relative order kept, labels follow their examples.
        Assert.True(validation.Inputs.SequenceEqual(validation.Inputs.Order()));
        for (int i = 0; i < validation.Count; i++) Assert.Equal(labels[(int)validation.Inputs[i]], validation.Labels![i]);
    }

    [Fact]
    public void Split_Stratified_EachClassRoundedShare()
    {
        // 10 of class 0, 30 of class 1, 5 of class 2: 20% gives 2, 6 and 1 validation examples.
        int[] labels = [.. Enumerable.Repeat(0, 10), .. Enumerable.Repeat(1, 30), .. Enumerable.Repeat(2, 5)];
        var (train, validation) = Numbered(labels, 3, ["a", "b", "c"]).Split(0.2, seed: 1);
        Assert.Equal(2, validation.Labels!.Count(l => l == 0));
        Assert.Equal(6, validation.Labels!.Count(l => l == 1));
        Assert.Equal(1, validation.Labels!.Count(l => l == 2));
        Assert.Equal(36, train.Count);
        Assert.Equal(3, validation.ClassCount);
        Assert.Equal(["a", "b", "c"], validation.ClassNames!.ToArray());
        Assert.Equal(["a", "b", "c"], train.ClassNames!.ToArray());
    }

    [Fact]
    public void Split_Targets_RandomShareAndTargetsFollow()
    {
        var data = Dataset.FromArrays(Enumerable.Range(0, 9).Select(i => (float)i).ToArray(),
                                      Enumerable.Range(0, 9).Select(i => i * 10f).ToArray(), [1], targetLength: 1);
        var (train, validation) = data.Split(1.0 / 3, seed: 2);
        Assert.Equal(3, validation.Count);
        Assert.Equal(6, train.Count);
        for (int i = 0; i < 3; i++) Assert.Equal(validation.Inputs[i] * 10, validation.Targets![i]);
    }

    [Fact]
    public void Split_BadFractionOrEmptyPart_Throws()
    {
        var data = Numbered([0, 1, 0], 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => data.Split(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => data.Split(1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => data.Split(double.NaN, 1));
        var e = Assert.Throws<ArgumentException>(() => data.Split(0.1, 1));
        Assert.Contains("leaves 3 for training and 0 for validation", e.Message);
    }

    [Fact]
    public void ClassNames_RoundTripThroughMetadata_BadEntryNamesFile()
    {
        var meta = new Dictionary<string, string>();
        ClassNames.Add(meta, ["cat", "dog \"big\"", "ünïcode"]);
        Assert.Equal(["cat", "dog \"big\"", "ünïcode"], ClassNames.Read(meta, "m.safetensors")!);
        Assert.Null(ClassNames.Read(new Dictionary<string, string>(), "m.safetensors"));
        var e = Assert.Throws<InvalidDataException>(() => ClassNames.Read(new Dictionary<string, string> { [ClassNames.MetadataKey] = "[1,2]" }, "m.safetensors"));
        Assert.Contains("m.safetensors: metadata 'modelgen.class_names' is not a JSON array of strings", e.Message);
        var d = Assert.Throws<ArgumentException>(() => Numbered([0, 1], 2, ["a", "a"]));
        Assert.Contains("classNames[1] is 'a', a repeat", d.Message);
    }
}
