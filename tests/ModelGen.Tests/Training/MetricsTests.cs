// Classification and regression metrics against values computed by hand (fractions in the comments), the terminal
// tables, and their per-epoch computation in Trainer.Fit (FitOptions.ComputeMetrics, Monitor on a metric).
using ModelGen.Data;
using ModelGen.Tests.Models;

namespace ModelGen.Tests.Training;

public class MetricsTests
{
    // Nine labelled rows over 3 classes plus one ignored row. Each row's logits rank (prediction, second, third) as 3, 2, 1.
    //   actual 0: predicted 0, 0, 1 (second 0)     confusion row [2, 1, 0]
    //   actual 1: predicted 1, 1                   confusion row [0, 2, 0]
    //   actual 2: predicted 2, 2, 2, 0 (second 1)  confusion row [1, 0, 3]
    private static readonly (int Label, int Predicted, int Second)[] Rows =
    [
        (0, 0, 1), (0, 0, 2), (0, 1, 0), (1, 1, 0), (1, 1, 2), (2, 2, 0), (2, 2, 1), (2, 2, 0), (2, 0, 1), (-100, 2, 1),
    ];

    private static ClassificationMetrics Counted(int topK)
    {
        var outputs = new float[Rows.Length * 3];
        var labels = new int[Rows.Length];
        for (int i = 0; i < Rows.Length; i++)
        {
            var (label, predicted, second) = Rows[i];
            labels[i] = label;
            outputs.AsSpan(i * 3, 3).Fill(1f);
            outputs[i * 3 + predicted] = 3f;
            outputs[i * 3 + second] = 2f;
        }
        var metrics = new ClassificationMetrics(3, topK);
        metrics.Add(outputs.AsSpan(0, 12), labels.AsSpan(0, 4));   // in two batches, as a loop adds them
        metrics.Add(outputs.AsSpan(12), labels.AsSpan(4));
        return metrics;
    }

    [Fact]
    public void Classification_HandComputedExample_MatchesEveryMetric()
    {
        var r = Counted(topK: 2).Report(["cat", "dog", "emu"]);
        Assert.Equal(9, r.Count);   // the -100 row is ignored
        long[,] confusion = { { 2, 1, 0 }, { 0, 2, 0 }, { 1, 0, 3 } };
        for (int a = 0; a < 3; a++)
            for (int p = 0; p < 3; p++) Assert.Equal(confusion[a, p], r.Confusion(a, p));
        // Precision = TP / column sum: 2/3, 2/3, 3/3. Recall = TP / row sum: 2/3, 2/2, 3/4. F1 = 2PR/(P+R): 2/3, 4/5, 6/7.
        AssertClose([2.0 / 3, 2.0 / 3, 1.0], r.Precision);
        AssertClose([2.0 / 3, 1.0, 3.0 / 4], r.Recall);
        AssertClose([2.0 / 3, 4.0 / 5, 6.0 / 7], r.F1);
        Assert.Equal([3L, 2L, 4L], r.Support);
        Assert.Equal(7.0 / 9, r.Accuracy, 12);
        Assert.Equal(8.0 / 9, r.TopKAccuracy, 12);   // the actual-0 row predicted 1 has 0 second; the actual-2 row predicted 0 has 1 second
        Assert.Equal(7.0 / 9, r.MacroPrecision, 12);                          // (2/3 + 2/3 + 1) / 3
        Assert.Equal(29.0 / 36, r.MacroRecall, 12);                           // (2/3 + 1 + 3/4) / 3
        Assert.Equal(244.0 / 315, r.MacroF1, 12);                             // (2/3 + 4/5 + 6/7) / 3
        Assert.Equal(22.0 / 27, r.WeightedPrecision, 12);                     // (3·2/3 + 2·2/3 + 4·1) / 9
        Assert.Equal(7.0 / 9, r.WeightedRecall, 12);                          // weighted recall is the accuracy
        Assert.Equal((2 + 1.6 + 24.0 / 7) / 9, r.WeightedF1, 12);              // (3·2/3 + 2·4/5 + 4·6/7) / 9
        Assert.Equal(7.0 / 9, Counted(topK: 1).Report().TopKAccuracy, 12);    // top-1 is the accuracy
    }

    [Fact]
    public void Classification_AbsentClass_LeftOutOfMacroAverage()
    {
        // Class 2 never occurs as label or prediction: scikit-learn's macro average runs over the labels present, 0 and 1.
        var metrics = new ClassificationMetrics(3, topK: 1);
        metrics.Add([5, 0, 0, 0, 5, 0, 5, 0, 0], [0, 1, 1]);
        var r = metrics.Report();
        Assert.Equal((1.0 + 0.5) / 2, r.MacroRecall, 12);     // class 0: 1/1, class 1: 1/2
        Assert.Equal((0.5 + 1.0) / 2, r.MacroPrecision, 12);  // class 0: 1/2 (two predicted), class 1: 1/1
        Assert.Equal(0, r.Precision[2]);
    }

    [Fact]
    public void Classification_BadInput_ThrowsNamingTheProblem()
    {
        var metrics = new ClassificationMetrics(3);
        var ex = Assert.Throws<ArgumentException>(() => metrics.Add(new float[5], new int[2]));
        Assert.Contains("'outputs' has 5 floats, expected 2 labels × 3 classes = 6", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => metrics.Add(new float[6], [0, 3]));
        Assert.Contains("Label 3 at row 1 is not a class index: expected 0 to 2", ex.Message);
        Assert.Equal(0, metrics.Count);
        Assert.Throws<ArgumentException>(() => metrics.Report(["a", "b"]));
    }

    [Fact]
    public void ConfusionMatrixTable_RendersCountsTotalsAndTheSet()
    {
        string table = Counted(topK: 2).Report(["cat", "dog", "emu"]).ConfusionMatrixTable("test");
        string[] lines = table.Split('\n');
        Assert.StartsWith("Confusion matrix (test set, 9 examples; rows: actual class, columns: predicted class)", lines[0]);
        Assert.Matches(@"^actual \\ predicted \|\s+cat\s+dog\s+emu \|\s+total$", lines[1]);
        Assert.Matches(@"^cat\s+\|\s+2\s+1\s+0 \|\s+3$", lines[3]);
        Assert.Matches(@"^emu\s+\|\s+1\s+0\s+3 \|\s+4$", lines[5]);
        Assert.Matches(@"^total\s+\|\s+3\s+3\s+3 \|\s+9$", lines[7]);
        string report = Counted(topK: 2).Report(["cat", "dog", "emu"]).ToTable("validation");
        Assert.Contains("Classification report (validation set, 9 examples)", report);
        Assert.Matches(@"dog\s+0\.6667\s+1\.0000\s+0\.8000\s+2", report);
        Assert.Matches(@"top-2 accuracy\s+0\.8889\s+9", report);
    }

    [Fact]
    public void Regression_HandComputedExample()
    {
        // Column 0: targets 1, 2, 3, 4; predictions 1.5, 2, 2, 5: errors 0.5, 0, -1, 1.
        //   MAE 2.5/4 = 0.625, RMSE sqrt(2.25/4) = 0.75, R² = 1 - 2.25 / 5 = 0.55 (Σ(y - 2.5)² = 5).
        // Column 1: constant targets 10 predicted exactly: MAE 0, RMSE 0, R² 1 (scikit-learn's force_finite).
        var metrics = new RegressionMetrics(2);
        metrics.Add([1.5f, 10, 2, 10], [1, 10, 2, 10]);
        metrics.Add([2, 10, 5, 10], [3, 10, 4, 10]);
        var r = metrics.Report();
        Assert.Equal(4, r.Count);
        Assert.Equal((0.625 + 0) / 2, r.Mae, 12);
        Assert.Equal((0.75 + 0) / 2, r.Rmse, 12);
        Assert.Equal((0.55 + 1) / 2, r.R2, 12);
        Assert.Contains("Regression metrics (test set, 4 examples): MAE 0.3125, RMSE 0.375, R² 0.7750", r.ToTable("test"));
    }

    [Fact]
    public void Regression_TargetsFarFromZero_R2StaysExact()
    {
        var metrics = new RegressionMetrics(1);
        metrics.Add([1_000_001.5f, 1_000_002, 1_000_002, 1_000_005], [1_000_001, 1_000_002, 1_000_003, 1_000_004]);
        Assert.Equal(0.55, metrics.Report().R2, 9);
        var constant = new RegressionMetrics(1);
        constant.Add([1, 3], [2, 2]);
        Assert.Equal(0, constant.Report().R2);   // a constant column predicted with errors: 0, not -∞
    }

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

    [Fact]
    public void Fit_ComputeMetrics_ValidationColumnsMatchMetricsOverTheModel()
    {
        var model = new SmallMlp(2);
        var trainer = new Trainer(model, new Adam(3e-3f), Loss.CrossEntropy);
        var validation = Synthetic(77, 4);
        var history = trainer.Fit(Synthetic(150, 3), epochs: 2, batchSize: 32, validation,
            new FitOptions { ComputeMetrics = true, TopK = 3, RestoreBestWeights = false });
        var last = history.Epochs[^1];
        var report = Metrics.Classification(model, validation, topK: 3);
        Assert.Equal((float)report.MacroF1, last.Value(Metric.MacroF1, validation: true));
        Assert.Equal((float)report.TopKAccuracy, last.Value(Metric.TopKAccuracy, validation: true));
        Assert.Equal((float)report.Accuracy, last.Value(Metric.Accuracy, validation: true)!.Value, 6);
        Assert.NotNull(last.Value(Metric.WeightedF1, validation: false));   // training-set column
        Assert.Null(last.Value(Metric.Mae, validation: true));
    }

    [Fact]
    public void Fit_MonitorMacroF1_BestEpochHasTheHighestValidationF1()
    {
        var trainer = new Trainer(new SmallMlp(2), new Sgd(5f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(200, 3), epochs: 5, batchSize: 50, Synthetic(100, 4),
            new FitOptions { StopOnDivergence = false, Monitor = Metric.MacroF1 });
        float[] f1 = history.Epochs.Select(e => e.Value(Metric.MacroF1, validation: true)!.Value).ToArray();
        Assert.Equal(Array.IndexOf(f1, f1.Max()) + 1, history.BestEpoch);
        Assert.Null(history.Epochs[0].TrainMetrics);   // ComputeMetrics is off: only what Monitor needs
    }

    [Fact]
    public void Fit_RegressionMetrics_MonitorRmse()
    {
        var rng = new Rng(3);
        var x = new float[120 * 64];
        var t = new float[120 * 10];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextFloat();
        for (int i = 0; i < t.Length; i++) t[i] = x[(i / 10) * 64 + i % 10] * 2 - 1;
        var data = Dataset.FromArrays(x, t, new[] { 1, 8, 8 }, 10);
        var model = new SmallMlp(1);
        var trainer = new Trainer(model, new Adam(3e-3f), Loss.MeanSquaredError);
        var history = trainer.Fit(data, epochs: 3, batchSize: 16, data, new FitOptions { ComputeMetrics = true, Monitor = Metric.Rmse });
        float[] rmse = history.Epochs.Select(e => e.Value(Metric.Rmse, validation: true)!.Value).ToArray();
        Assert.Equal(Array.IndexOf(rmse, rmse.Min()) + 1, history.BestEpoch);
        var report = Metrics.Regression(model, data);
        Assert.Equal(rmse.Min(), (float)report.Rmse, 6);
        Assert.True(report.R2 < 1 && report.R2 > -10);
        var ex = Assert.Throws<ArgumentException>(() => trainer.Fit(data, 1, 16, data, new FitOptions { Monitor = Metric.MacroF1 }));
        Assert.Contains("Monitor = MacroF1 needs class labels", ex.Message);
    }

    private static void AssertClose(double[] expected, IReadOnlyList<double> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 12);
    }
}
