// ModelGen.Plotting: the SVG files parse as XML and carry what a reader needs (which set each line comes from, the
// best epoch, the confusion matrix's counts and class names).
using System.Xml.Linq;
using ModelGen.Data;
using ModelGen.Plotting;
using ModelGen.Tests.Models;

namespace ModelGen.Tests.Training;

public sealed class PlottingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mg-plots-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dataset Synthetic(int count, int seed)
    {
        var rng = new Rng((ulong)seed);
        var x = new float[count * 64];
        var y = new int[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = rng.NextInt(10);
            for (int j = 0; j < 64; j++) x[i * 64 + j] = rng.NextFloat() * 0.6f + (j % 10 == y[i] ? 0.5f : 0f);
        }
        return Dataset.FromArrays(x, y, new[] { 1, 8, 8 }, 10);
    }

    private static string[] Texts(string path) =>
        XDocument.Load(path).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToArray();

    [Fact]
    public void WriteTrainingCurves_OneSvgPerQuantity_TrainAndValidationLines()
    {
        var trainer = new Trainer(new SmallMlp(2), new Adam(3e-3f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(96, 1), epochs: 3, batchSize: 32, Synthetic(40, 2), new FitOptions { ComputeMetrics = true });
        var files = TrainingPlots.WriteTrainingCurves(history, Path.Combine(_dir, "curves"));
        string[] names = files.Select(Path.GetFileName).ToArray()!;
        Assert.Equal(["loss.svg", "accuracy.svg", "top_k_accuracy.svg", "macro_precision.svg", "macro_recall.svg", "macro_f1.svg",
            "weighted_precision.svg", "weighted_recall.svg", "weighted_f1.svg", "learning_rate.svg"], names);
        string[] loss = Texts(files[0]);
        Assert.Contains("Loss", loss);
        Assert.Contains("train", loss);
        Assert.Contains("validation", loss);
        Assert.Contains($"best epoch ({history.BestEpoch})", loss);
        Assert.Contains("epoch", loss);
        // Three points per line: the polyline of each set holds the three epochs.
        var lines = XDocument.Load(files[0]).Descendants().Where(e => e.Name.LocalName == "polyline").ToArray();
        Assert.Contains(lines, l => l.Attribute("points")!.Value.Trim().Split(' ').Length == 3);
    }

    [Fact]
    public void WriteConfusionMatrix_CountsClassNamesAndSet()
    {
        var metrics = new ClassificationMetrics(3, topK: 1);
        // actual 0 → 0, 0, 1; actual 1 → 1; actual 2 → 2, 0.
        metrics.Add([9, 0, 0, 9, 0, 0, 0, 9, 0, 0, 9, 0, 0, 0, 9, 9, 0, 0], [0, 0, 0, 1, 2, 2]);
        string path = TrainingPlots.WriteConfusionMatrix(metrics.Report(["cat", "dog", "emu"]), Path.Combine(_dir, "sub", "cm.svg"), "test");
        string[] texts = Texts(path);
        Assert.Contains(texts, t => t.StartsWith("Confusion matrix (test set, 6 examples", StringComparison.Ordinal));
        foreach (string name in new[] { "cat", "dog", "emu", "predicted class", "actual class" }) Assert.Contains(name, texts);
        Assert.Equal(4, texts.Count(t => t == "0"));   // the zero cells: (0,2), (1,0), (1,2), (2,1)
        Assert.Equal(4, texts.Count(t => t == "1"));   // (0,1), (1,1), (2,0), (2,2)
        Assert.Equal(1, texts.Count(t => t == "2"));   // (0,0)
    }

    [Fact]
    public void WriteTrainingCurves_EmptyHistory_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => TrainingPlots.WriteTrainingCurves(new TrainingHistory([], 0, false), _dir));
        Assert.Contains("no epochs", ex.Message);
    }
}
