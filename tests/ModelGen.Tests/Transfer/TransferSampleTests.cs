// samples/Transfer's pieces: the class and few-shot splits of the vendored MNIST, the backbone-only load from the
// pre-trained model into the transfer model (through the prefix map), and a short frozen-backbone training run.
using ModelGen.Data;
using ModelGen.Serialization;
using ModelGen.Tests.Data;
using Transfer;

namespace ModelGen.Tests.Transfer;

public sealed class TransferSampleTests : IDisposable
{
    private static readonly Lazy<(Dataset Train, Dataset Test)> Data = new(() => Mnist.Load(TestPaths.MnistDirectory));
    private readonly string _dir = Directory.CreateTempSubdirectory("modelgen-transfer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Classes_FiveToNine_KeepsOrderAndRelabels()
    {
        var test = Data.Value.Test;
        var split = DigitSplits.Classes(test, 5, 5);

        int[] originals = Enumerable.Range(0, test.Count).Where(i => test.Labels![i] >= 5).ToArray();
        Assert.Equal(originals.Length, split.Count);
        Assert.Equal(5, split.ClassCount);
        for (int k = 0; k < split.Count; k += 97)
        {
            Assert.Equal(test.Labels![originals[k]] - 5, split.Labels![k]);
            Assert.True(test.Example(originals[k]).SequenceEqual(split.Example(k)));
        }
        Assert.Throws<ArgumentException>(() => DigitSplits.Classes(test, 8, 5));
    }

    [Fact]
    public void FewShot_FiftyPerClass_IsDeterministicPerSeedAndDrawnFromTheSet()
    {
        var target = DigitSplits.Classes(Data.Value.Train, 5, 5);
        var a = DigitSplits.FewShot(target, 50, seed: 1);
        var again = DigitSplits.FewShot(target, 50, seed: 1);
        var other = DigitSplits.FewShot(target, 50, seed: 2);

        Assert.Equal(250, a.Count);
        Assert.All(Enumerable.Range(0, 5), c => Assert.Equal(50, a.Labels!.Count(l => l == c)));
        Assert.Equal(a.Inputs, again.Inputs);
        Assert.Equal(a.Labels, again.Labels);
        Assert.NotEqual(a.Inputs, other.Inputs);
        // Every drawn example is one of the set's, with its label, and none is drawn twice.
        var index = Enumerable.Range(0, target.Count).ToLookup(i => Key(target.Example(i)));
        var seen = new HashSet<int>();
        for (int k = 0; k < a.Count; k++)
        {
            int i = index[Key(a.Example(k))].First(i => target.Example(i).SequenceEqual(a.Example(k)));
            Assert.Equal(target.Labels![i], a.Labels![k]);
            Assert.True(seen.Add(i));
        }
        var e = Assert.Throws<ArgumentException>(() => DigitSplits.FewShot(target, 2000, seed: 1));
        Assert.StartsWith("Class 0 has ", e.Message);
    }

    private static int Key(ReadOnlySpan<float> example)
    {
        var hash = new HashCode();
        foreach (float v in example) hash.Add(v);
        return hash.ToHashCode();
    }

    [Fact]
    public void FromPretrained_LoadsTheBackboneUnderFeaturesAndKeepsTheNewHead()
    {
        var pretrained = new PretrainNet(7);
        string path = Path.Combine(_dir, "pretrained.safetensors");
        pretrained.Save(path);
        float[] freshHead = new TransferNet(3).Head.Parameter("weight").ToArray();

        var model = TransferRecipe.FromPretrained(path, 3, out var report);

        Assert.Equal(["features.c1.weight", "features.c1.bias", "features.c2.weight", "features.c2.bias"], report.Loaded);
        Assert.Equal(["fc.weight", "fc.bias", "head.weight", "head.bias"], report.Missing);
        Assert.Equal(["fc.bias", "fc.weight", "head.bias", "head.weight"], report.Skipped);
        Assert.Empty(report.Unexpected);
        Assert.Equal(pretrained.Backbone.Parameters.ToArray(), model.Features.Parameters.ToArray());
        Assert.Equal(freshHead, model.Head.Parameter("weight").ToArray());
        // Same backbone weights, same features: the two models' penultimate activations agree on real digits.
        var digits = Data.Value.Test;
        var a = new float[8 * 1568];   // [8, 32·7·7]
        var b = new float[8 * 1568];
        pretrained.Backbone.Forward(digits.Inputs.AsSpan(0, 8 * 784), a, 8);
        model.Features.Forward(digits.Inputs.AsSpan(0, 8 * 784), b, 8);
        Assert.Equal(a, b);
    }

    [Fact]
    public void FrozenBackbone_TrainingOnAFewShotSet_ChangesOnlyTheClassifier()
    {
        var pretrained = new PretrainNet(5);
        string path = Path.Combine(_dir, "pretrained.safetensors");
        pretrained.Save(path);
        var model = TransferRecipe.FromPretrained(path, 5, out _);
        model.Freeze("features");
        float[] backbone = model.Features.Parameters.ToArray();
        float[] fc = model.Fc.Parameter("weight").ToArray();
        float[] head = model.Head.Parameter("weight").ToArray();
        var fewShot = DigitSplits.FewShot(DigitSplits.Classes(Data.Value.Train, 5, 5), 4, seed: 3);

        var history = TransferRecipe.Train(model, fewShot, epochs: 2, batchSize: 8, learningRate: 1e-2f, seed: 3);

        Assert.Equal(2, history.Epochs.Count);
        Assert.Equal(backbone, model.Features.Parameters.ToArray());
        Assert.NotEqual(fc, model.Fc.Parameter("weight").ToArray());
        Assert.NotEqual(head, model.Head.Parameter("weight").ToArray());
    }
}
