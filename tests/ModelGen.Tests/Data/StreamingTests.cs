// Streaming sources: NpyDataSource (positioned reads) and ImageFolderSource (lazy decoding) give BatchLoader the same
// batches in the same seeded order as the in-memory Dataset, Trainer.Fit ends with bit-identical weights on either,
// the disk path allocates nothing per batch, and damaged files are reported before any training starts.
using ModelGen.Data;
using ModelGen.Tests.Training;
using StbImageWriteSharp;

namespace ModelGen.Tests.Data;

public sealed class StreamingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("streaming-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Inputs, string Labels) WriteNpy(Array inputs, int[] shape, int[] labels)
    {
        string x = Path.Combine(_dir, "x.npy"), y = Path.Combine(_dir, "y.npy");
        Npy.Write(x, new NpyArray(inputs, shape));
        Npy.Write(y, new NpyArray(labels, [labels.Length]));
        return (x, y);
    }

    private static List<(float[] Inputs, int[] Labels)> Batches(IDataSource data, int epochs, int batchSize, ulong seed, IAugmentation? augmentation)
    {
        var loader = new BatchLoader(data, batchSize, shuffle: true, seed, augmentation);
        var batches = new List<(float[], int[])>();
        for (int e = 0; e < epochs; e++)
        {
            loader.StartEpoch(e);
            while (loader.TryNext(out var b)) batches.Add((b.Inputs.ToArray(), b.Labels.ToArray()));
        }
        return batches;
    }

    private static void AssertSameBatches(List<(float[] Inputs, int[] Labels)> expected, List<(float[] Inputs, int[] Labels)> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Labels, actual[i].Labels);
            Assert.Equal(expected[i].Inputs, actual[i].Inputs);   // bitwise: same floats in the same order
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(37)]
    public void NpyDataSource_SameBatchesAsInMemory_ForEveryDType(int count)
    {
        var rng = new Rng(9);
        var labels = Enumerable.Range(0, count).Select(_ => rng.NextInt(4)).ToArray();
        Array[] inputs =
        [
            Enumerable.Range(0, count * 12).Select(_ => rng.NextFloat()).ToArray(),
            Enumerable.Range(0, count * 12).Select(_ => (byte)rng.NextInt(256)).ToArray(),
            Enumerable.Range(0, count * 12).Select(_ => rng.NextDouble()).ToArray(),
        ];
        foreach (var x in inputs)
        {
            var (xPath, yPath) = WriteNpy(x, [count, 1, 3, 4], labels);
            var memory = Dataset.FromNpy(xPath, yPath, classCount: 4);
            using var stream = NpyDataSource.Open(xPath, yPath, classCount: 4);
            Assert.Equal(memory.ExampleShape, stream.ExampleShape);
            var augmentation = new Compose(new RandomShift(1), new RandomHorizontalFlip());
            AssertSameBatches(Batches(memory, 3, 8, 5, augmentation), Batches(stream, 3, 8, 5, augmentation));
        }
    }

    [Fact]
    public void NpyDataSource_TryNext_AllocatesNothing()
    {
        var (xPath, yPath) = WriteNpy(new float[100 * 16], [100, 1, 4, 4], new int[100]);
        using var stream = NpyDataSource.Open(xPath, yPath);
        var loader = new BatchLoader(stream, 8, shuffle: true, seed: 2, new RandomShift(1));
        loader.StartEpoch(0);
        while (loader.TryNext(out _)) { }
        int epoch = 0;
        AllocationAssert.SteadyStateAllocatesNothing(() =>
        {
            while (loader.TryNext(out _)) { }
        }, callsPerWindow: 1, "an epoch of TryNext over a NpyDataSource", warmUpCalls: 0, beforeEachWindow: () => loader.StartEpoch(++epoch));
    }

    [Fact]
    public void Fit_OnNpyDataSource_EqualsFitOnDataset()
    {
        var rng = new Rng(4);
        int count = 75;
        var labels = Enumerable.Range(0, count).Select(_ => rng.NextInt(10)).ToArray();
        var x = new float[count * 64];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextFloat() * 0.2f + (i % 64 % 10 == labels[i / 64] ? 0.8f : 0f);
        var (xPath, yPath) = WriteNpy(x, [count, 1, 8, 8], labels);
        var memory = Dataset.FromNpy(xPath, yPath, classCount: 10);
        var (train, validation) = memory.Split(0.2, seed: 1);

        float[] Train(IDataSource t, IDataSource v, out TrainingHistory history)
        {
            var model = new AccumulationMlp(21);
            var trainer = new Trainer(model, new Adam(1e-2f), Loss.CrossEntropy);
            history = trainer.Fit(t, epochs: 3, batchSize: 16, v, new FitOptions { Seed = 3, Augmentation = new RandomShift(1) });
            return model.Parameters.ToArray();
        }

        string tx = Path.Combine(_dir, "tx.npy"), ty = Path.Combine(_dir, "ty.npy"), vx = Path.Combine(_dir, "vx.npy"), vy = Path.Combine(_dir, "vy.npy");
        Npy.Write(tx, new NpyArray(train.Inputs, [train.Count, 1, 8, 8]));
        Npy.Write(ty, new NpyArray(train.Labels!, [train.Count]));
        Npy.Write(vx, new NpyArray(validation.Inputs, [validation.Count, 1, 8, 8]));
        Npy.Write(vy, new NpyArray(validation.Labels!, [validation.Count]));
        using var trainStream = NpyDataSource.Open(tx, ty, classCount: 10);
        using var validationStream = NpyDataSource.Open(vx, vy, classCount: 10);

        var expected = Train(train, validation, out var expectedHistory);
        var actual = Train(trainStream, validationStream, out var actualHistory);
        Assert.Equal(expected, actual);
        Assert.Equal(expectedHistory.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss, e.ValidationAccuracy)),
                     actualHistory.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss, e.ValidationAccuracy)));
    }

    [Fact]
    public void ImageFolderSource_SameBatchesAsImageFolderLoad()
    {
        var rng = new Rng(6);
        string root = Path.Combine(_dir, "images");
        for (int i = 0; i < 23; i++)
        {
            int w = 3 + rng.NextInt(9), h = 3 + rng.NextInt(9);   // mixed sizes, all resized
            var pixels = Enumerable.Range(0, w * h * 3).Select(_ => (byte)rng.NextInt(256)).ToArray();
            string dir = Path.Combine(root, $"class{i % 3}");
            Directory.CreateDirectory(dir);
            using var file = File.Create(Path.Combine(dir, $"{i}.png"));
            new ImageWriter().WritePng(pixels, w, h, ColorComponents.RedGreenBlue, file);
        }
        var prep = new ImagePreprocessing(3, 5, 6, mean: [0.5f, 0.4f, 0.3f], std: [0.2f, 0.25f, 0.3f]);
        var memory = ImageFolder.Load(root, prep);
        var lazy = new ImageFolderSource(root, prep);
        Assert.Equal(memory.ClassNames, lazy.ClassNames);
        AssertSameBatches(Batches(memory, 2, 4, 11, new RandomHorizontalFlip()), Batches(lazy, 2, 4, 11, new RandomHorizontalFlip()));
    }

    [Fact]
    public void NpyDataSource_DamagedFiles_NameTheFile()
    {
        var (xPath, yPath) = WriteNpy(new float[6 * 4], [6, 4], [0, 1, 0, 1, 0, 1]);
        byte[] bytes = File.ReadAllBytes(xPath);
        File.WriteAllBytes(xPath, bytes[..^5]);
        var e = Assert.Throws<InvalidDataException>(() => NpyDataSource.Open(xPath, yPath));
        Assert.Contains($"{xPath}: the file has {bytes.Length - 5} bytes, but shape [6, 4] of float32 after the 128-byte header needs {bytes.Length}", e.Message);

        WriteNpy(new float[6 * 4], [6, 4], [0, 1, 0]);
        e = Assert.Throws<InvalidDataException>(() => NpyDataSource.Open(xPath, yPath));
        Assert.Contains($"{yPath}: shape [3]; expected [6]", e.Message);

        WriteNpy(new float[6 * 4], [6, 4], [0, 1, 0, 1, 0, 9]);
        e = Assert.Throws<InvalidDataException>(() => NpyDataSource.Open(xPath, yPath, classCount: 2));
        Assert.Contains("label #5 is 9, expected a class in [0, 2)", e.Message);
    }
}
