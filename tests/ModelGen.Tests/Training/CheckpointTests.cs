// Resumable checkpoints (FitOptions.CheckpointPath / ResumeFrom) and the best epoch kept by FitOptions.Monitor. The
// resume tests interrupt a run by cancelling it once an epoch's checkpoint is on disk, continue it in a fresh model,
// optimizer, schedule and trainer, and require the uninterrupted run's parameters bit for bit: shuffling, augmentation,
// dropout (SmallMlp has a Dropout layer), Adam's moments and a ReduceOnPlateau inside a Sequential all have state.
using ModelGen.Data;
using ModelGen.Serialization;
using ModelGen.Tests.Models;

namespace ModelGen.Tests.Training;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mg-ckpt-").FullName;

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

    // Warm-up then a plateau schedule that reduces after every epoch that is not 1% better: both parts have to resume right.
    private static Schedule NewSchedule() =>
        Schedule.Sequential([Schedule.Linear(0.2f, 1f, 4), Schedule.ReduceOnPlateau(factor: 0.5f, patience: 0, threshold: 0.01f)], [4]);

    private static FitOptions Options(string? checkpoint = null, string? resume = null, int every = 1) => new()
    {
        Seed = 11,
        Augmentation = new RandomShift(1),
        CheckpointPath = checkpoint,
        ResumeFrom = resume,
        CheckpointEveryEpochs = every,
        ComputeMetrics = true,
    };

    private static (SmallMlp Model, Trainer Trainer) NewRun(int initSeed = 5)
    {
        var model = new SmallMlp(initSeed);
        return (model, new Trainer(model, new Adam(3e-3f), Loss.CrossEntropy, NewSchedule()));
    }

    [Theory]
    [InlineData(1, 1)]   // 1 epoch, then resume for 2
    [InlineData(2, 2)]   // checkpoints every 2 epochs: interrupted after epoch 2, resumed for 1
    public void Fit_ResumedFromCheckpoint_BitIdenticalToUninterruptedRun(int stopAfter, int every)
    {
        Dataset train = Synthetic(203, 1), validation = Synthetic(61, 2);
        var (straight, straightTrainer) = NewRun();
        var expected = straightTrainer.Fit(train, epochs: 3, batchSize: 16, validation, Options());

        string path = Path.Combine(_dir, "run.safetensors");
        var (first, firstTrainer) = NewRun();
        using var cancel = new CancellationTokenSource();
        Assert.Throws<OperationCanceledException>(() =>
            firstTrainer.Fit(train, epochs: 3, batchSize: 16, validation, Options(path, every: every), new StopAfter(stopAfter, cancel), cancel.Token));

        var (resumed, resumedTrainer) = NewRun(initSeed: 99);   // other initial weights: the checkpoint must replace them
        var history = resumedTrainer.Fit(train, epochs: 3, batchSize: 16, validation, Options(path, resume: path, every: every));

        Assert.Equal(straight.Parameters.ToArray(), resumed.Parameters.ToArray());
        Assert.Equal(expected.BestEpoch, history.BestEpoch);
        Assert.Equal(3, history.Epochs.Count);
        for (int e = 0; e < 3; e++)
        {
            Assert.Equal(expected.Epochs[e].TrainLoss, history.Epochs[e].TrainLoss);
            Assert.Equal(expected.Epochs[e].ValidationLoss, history.Epochs[e].ValidationLoss);
            Assert.Equal(expected.Epochs[e].LearningRate, history.Epochs[e].LearningRate);
            Assert.Equal(expected.Epochs[e].ValidationMetrics!.OrderBy(p => p.Key), history.Epochs[e].ValidationMetrics!.OrderBy(p => p.Key));
            Assert.Equal(expected.Epochs[e].TrainMetrics!.OrderBy(p => p.Key), history.Epochs[e].TrainMetrics!.OrderBy(p => p.Key));
        }
        // The run's end wrote a last checkpoint; resuming from it trains nothing and restores the same best weights.
        var (again, againTrainer) = NewRun(initSeed: 7);
        var none = againTrainer.Fit(train, epochs: 3, batchSize: 16, validation, Options(resume: path));
        Assert.Equal(straight.Parameters.ToArray(), again.Parameters.ToArray());
        Assert.Equal(3, none.Epochs.Count);
    }

    [Fact]
    public void Fit_ResumedWithoutValidation_BitIdentical()
    {
        // No validation set: no best epoch (its value stays +∞ in the file), and the plateau schedule sees the training loss.
        Dataset train = Synthetic(90, 3);
        var (straight, straightTrainer) = NewRun();
        straightTrainer.Fit(train, epochs: 3, batchSize: 16, options: Options());
        string path = Path.Combine(_dir, "nv.safetensors");
        using var cancel = new CancellationTokenSource();
        Assert.Throws<OperationCanceledException>(() =>
            NewRun().Trainer.Fit(train, epochs: 3, batchSize: 16, null, Options(path), new StopAfter(2, cancel), cancel.Token));
        var (resumed, resumedTrainer) = NewRun(initSeed: 8);
        var history = resumedTrainer.Fit(train, epochs: 3, batchSize: 16, options: Options(resume: path));
        Assert.Equal(straight.Parameters.ToArray(), resumed.Parameters.ToArray());
        Assert.Equal(3, history.BestEpoch);
        Assert.False(history.RestoredBest);
    }

    [Fact]
    public void Fit_Checkpoint_HoldsWeightsOptimizerStateAndRunState()
    {
        string path = Path.Combine(_dir, "c.safetensors");
        var (model, trainer) = NewRun();
        trainer.Fit(Synthetic(64, 1), epochs: 2, batchSize: 16, Synthetic(32, 2), Options(path));
        var entries = SafeTensors.ReadHeader(path, out var metadata);
        Assert.Contains(entries, e => e.Name == "fc1.weight");
        Assert.Contains(entries, e => e.Name == "optimizer.state.fc1.weight.exp_avg");
        Assert.Contains(entries, e => e.Name == "trainer.best_parameters" && e.Shape.SequenceEqual([model.Parameters.Length]));
        Assert.Equal("2", metadata["trainer.epochs_done"]);
        Assert.Equal("8", metadata["trainer.update"]);
        Assert.Equal("11", metadata["trainer.seed"]);
        Assert.True(metadata.ContainsKey("schedule.1.factor"));
        Assert.Equal(2, metadata["trainer.history"].Split('\n').Length);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));   // the temporary file was renamed, not left behind
    }

    [Fact]
    public void Fit_ResumeWithOtherBatchSize_ThrowsNamingTheSetting_ModelUnchanged()
    {
        string path = Path.Combine(_dir, "c.safetensors");
        NewRun().Trainer.Fit(Synthetic(64, 1), epochs: 2, batchSize: 16, Synthetic(32, 2), Options(path));
        var (model, trainer) = NewRun(initSeed: 3);
        float[] before = model.Parameters.ToArray();
        var ex = Assert.Throws<ArgumentException>(() => trainer.Fit(Synthetic(64, 1), epochs: 2, batchSize: 8, Synthetic(32, 2), Options(resume: path)));
        Assert.Contains("batch_size = 16, but this Fit call has batch_size = 8", ex.Message);
        Assert.Equal(before, model.Parameters.ToArray());
    }

    [Fact]
    public void Fit_ResumeFromPlainWeights_ThrowsNotACheckpoint()
    {
        string path = Path.Combine(_dir, "w.safetensors");
        var (model, trainer) = NewRun();
        model.Save(path);
        var ex = Assert.Throws<InvalidDataException>(() => trainer.Fit(Synthetic(64, 1), epochs: 1, batchSize: 16, options: Options(resume: path)));
        Assert.Contains("is not a training checkpoint", ex.Message);
    }

    [Fact]
    public void Fit_ResumeWithAnotherOptimizer_Throws_ModelAndScheduleUnchanged()
    {
        string path = Path.Combine(_dir, "c.safetensors");
        NewRun().Trainer.Fit(Synthetic(64, 1), epochs: 2, batchSize: 16, Synthetic(32, 2), Options(path));
        var model = new SmallMlp(3);
        float[] before = model.Parameters.ToArray();
        var plateau = Schedule.ReduceOnPlateau();
        var trainer = new Trainer(model, new Sgd(3e-3f), Loss.CrossEntropy, Schedule.Sequential([Schedule.Linear(0.2f, 1f, 4), plateau], [4]));
        plateau.ReportMetric(1f, 0, 1);   // some state of its own, which the failed resume must leave as it was
        var ex = Assert.Throws<InvalidDataException>(() => trainer.Fit(Synthetic(64, 1), epochs: 2, batchSize: 16, Synthetic(32, 2), Options(resume: path)));
        Assert.Contains("Adam optimizer, but this optimizer is a Sgd", ex.Message);
        Assert.Equal(before, model.Parameters.ToArray());
        var state = new Dictionary<string, string>();
        plateau.SaveState(state, "");
        Assert.Equal("1", state["best"]);
    }

    [Fact]
    public void Fit_WithoutEarlyStopping_RestoresBestEpochByValidationLoss()
    {
        // Far too large a rate: the validation loss gets worse after the first epochs, and no early stopping ends the run.
        var model = new SmallMlp(2);
        var trainer = new Trainer(model, new Sgd(5f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(200, 3), epochs: 8, batchSize: 50, Synthetic(100, 4), new FitOptions { StopOnDivergence = false });
        Assert.False(history.StoppedEarly);
        Assert.True(history.RestoredBest);
        int best = 1 + Enumerable.Range(0, 8).MinBy(e => history.Epochs[e].ValidationLoss!.Value);
        Assert.Equal(best, history.BestEpoch);
        Assert.NotEqual(8, best);
        Assert.Equal(history.Epochs[best - 1].ValidationLoss!.Value, trainer.Evaluate(Synthetic(100, 4)).Loss, 1e-6f);
    }

    [Fact]
    public void Fit_RestoreBestWeightsFalse_KeepsLastEpoch()
    {
        var model = new SmallMlp(2);
        var trainer = new Trainer(model, new Sgd(5f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(200, 3), epochs: 8, batchSize: 50, Synthetic(100, 4),
            new FitOptions { StopOnDivergence = false, RestoreBestWeights = false });
        Assert.False(history.RestoredBest);
        Assert.Equal(history.Epochs[^1].ValidationLoss!.Value, trainer.Evaluate(Synthetic(100, 4)).Loss, 1e-6f);
    }

    [Theory]
    [InlineData(MetricMode.Auto)]
    [InlineData(MetricMode.Max)]
    public void Fit_MonitorAccuracy_PicksTheMostAccurateEpoch(MetricMode mode)
    {
        var model = new SmallMlp(2);
        var trainer = new Trainer(model, new Sgd(5f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(200, 3), epochs: 6, batchSize: 50, Synthetic(100, 4),
            new FitOptions { StopOnDivergence = false, Monitor = Metric.Accuracy, MonitorMode = mode });
        float[] accuracies = history.Epochs.Select(e => e.ValidationAccuracy!.Value).ToArray();
        Assert.Equal(Array.IndexOf(accuracies, accuracies.Max()) + 1, history.BestEpoch);   // the first of equals: strictly better only
        Assert.Equal(accuracies.Max(), trainer.Evaluate(Synthetic(100, 4)).Accuracy);
    }

    [Fact]
    public void Fit_MonitorAccuracyModeMin_PicksTheLeastAccurateEpoch()
    {
        var trainer = new Trainer(new SmallMlp(2), new Sgd(5f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(200, 3), epochs: 4, batchSize: 50, Synthetic(100, 4),
            new FitOptions { StopOnDivergence = false, Monitor = Metric.Accuracy, MonitorMode = MetricMode.Min });
        float[] accuracies = history.Epochs.Select(e => e.ValidationAccuracy!.Value).ToArray();
        Assert.Equal(Array.IndexOf(accuracies, accuracies.Min()) + 1, history.BestEpoch);
    }

    [Fact]
    public void Fit_MonitorWithoutValidation_Throws()
    {
        var trainer = new Trainer(new SmallMlp(2), new Sgd(0.1f), Loss.CrossEntropy);
        var ex = Assert.Throws<ArgumentException>(() => trainer.Fit(Synthetic(20, 3), 1, 10, options: new FitOptions { Monitor = Metric.Accuracy }));
        Assert.Contains("FitOptions.Monitor = Accuracy needs a validation set", ex.Message);
    }

    [Fact]
    public void PlateauSchedule_SaveLoadState_ContinuesIdentically()
    {
        var a = Schedule.ReduceOnPlateau(patience: 1, threshold: 0.01f);
        foreach (float m in new[] { 1f, 0.9f, 0.95f, 0.97f }) a.ReportMetric(m, 0, 1);
        var state = new Dictionary<string, string>();
        a.SaveState(state, "p.");
        var b = Schedule.ReduceOnPlateau(patience: 1, threshold: 0.01f);
        b.LoadState(state, "p.");
        foreach (float m in new[] { 0.96f, 0.99f, 0.5f })
        {
            a.ReportMetric(m, 0, 1);
            b.ReportMetric(m, 0, 1);
            Assert.Equal(a.CurrentFactor, b.CurrentFactor);
        }
        Assert.Equal(0.01f, a.CurrentFactor, 6);
        state["p.bad_epochs"] = "x";
        var ex = Assert.Throws<InvalidDataException>(() => b.LoadState(state, "p."));
        Assert.Contains("\"p.bad_epochs\" is 'x'", ex.Message);
    }
}
