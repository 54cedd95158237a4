// Trainer.Fit on one-input float-sequence models (time series, feature frames) and on token models with several ids per
// position: toy tasks are learned (per-position classes, pooled regression, forecasting windows, per-position targets,
// word+feature ids), Fit equals a hand-written masked-mean loop bit for bit, resumes exactly, allocates nothing per step,
// is not changed by padding, and rejects bad data naming the example.
using ModelGen.Data;

namespace ModelGen.Tests.Training;

/// <summary>A causal recurrent tagger over 2 floats per position: the class of position t needs the frame before it.</summary>
[Model(Dim.Seq, 2)]
public partial class RiseTagger
{
    [GRU(12)]                                      public partial Layer Rnn { get; }
    [Dense(FloatSequenceTrainingTests.RiseClasses)] public partial Layer Out { get; }
}

/// <summary>Per-position features averaged over the real positions into one regression output per sequence.</summary>
[Model(Dim.Seq, 2)]
public partial class MeanRegressor
{
    [Dense(8, Activation = Activation.Tanh)] public partial Layer Proj { get; }
    [GlobalAvgPool]                          public partial Layer Pool { get; }
    [Dense(1)]                               public partial Layer Out { get; }
}

/// <summary>A one-step-ahead forecaster: an LSTM's final state, then the next value.</summary>
[Model(Dim.Seq, 1)]
public partial class NextValueForecaster
{
    [LSTM(12, ReturnSequences = false)] public partial Layer Lstm { get; }
    [Dense(1)]                          public partial Layer Out { get; }
}

/// <summary>A causal recurrent per-position regressor: y_t depends on x_t and x_(t-1).</summary>
[Model(Dim.Seq, 2, MaxLength = FloatSequenceTrainingTests.MaxLength)]
public partial class RunningRegressor
{
    [GRU(10)] public partial Layer Rnn { get; }
    [Dense(1)] public partial Layer Out { get; }
}

/// <summary>Two ids per position (a word and a feature id), embedded from their own columns and concatenated.</summary>
[Model(Dim.Seq, 2, InputType = typeof(int))]
public partial class TwoIdTagger
{
    [Embedding(FloatSequenceTrainingTests.Words, 6)]                                 public partial Layer Word { get; }
    [Embedding(FloatSequenceTrainingTests.Shapes, 4, Column = 1, From = Layer.Input)] public partial Layer Shape { get; }
    [Concat(nameof(Word), nameof(Shape))]                                            public partial Layer Both { get; }
    [Dense(16, Activation = Activation.ReLU)]                                        public partial Layer Hidden { get; }
    [Dense(FloatSequenceTrainingTests.Shapes)]                                       public partial Layer Out { get; }
}

public class FloatSequenceTrainingTests
{
    /// <summary>Classes of <see cref="RiseTagger"/>: 0 fell, 1 rose, 2 the first position.</summary>
    public const int RiseClasses = 3;

    /// <summary><see cref="RunningRegressor"/>'s MaxLength.</summary>
    public const int MaxLength = 12;

    /// <summary>Word ids of <see cref="TwoIdTagger"/>.</summary>
    public const int Words = 7;

    /// <summary>Feature ids of <see cref="TwoIdTagger"/>, also its classes.</summary>
    public const int Shapes = 3;

    private static Loss TokenLoss => Loss.CrossEntropyIgnoring(Loss.DefaultIgnoreIndex);

    private static float[][] Frames(Random rng, int count, int features, int shortest, int longest)
    {
        var frames = new float[count][];
        for (int i = 0; i < count; i++)
        {
            frames[i] = new float[rng.Next(shortest, longest + 1) * features];
            for (int k = 0; k < frames[i].Length; k++) frames[i][k] = (float)(rng.NextDouble() * 2 - 1);
        }
        return frames;
    }

    /// <summary>Sequences of 2 floats per position; position t's class: did feature 0 rise since t − 1 (2 at t = 0).</summary>
    private static FloatSequenceDataset Rises(int count, int seed)
    {
        var frames = Frames(new Random(seed), count, 2, 1, 9);
        var labels = frames.Select(f => Enumerable.Range(0, f.Length / 2).Select(t => t == 0 ? 2 : f[2 * t] > f[2 * t - 2] ? 1 : 0).ToArray()).ToArray();
        return new FloatSequenceDataset(frames, 2, labels);
    }

    /// <summary>Per-position targets y_t = x_t0 − 0.5·x_(t−1)0 + 0.25·x_t1 over 1 to <paramref name="longest"/> positions.</summary>
    private static FloatSequenceDataset Running(int count, int seed, int longest = 9)
    {
        var frames = Frames(new Random(seed), count, 2, 1, longest);
        var targets = frames.Select(f => Enumerable.Range(0, f.Length / 2)
            .Select(t => f[2 * t] - (t == 0 ? 0 : 0.5f * f[2 * t - 2]) + 0.25f * f[2 * t + 1]).ToArray()).ToArray();
        return FloatSequenceDataset.Regression(frames, 2, targets);
    }

    [Fact]
    public void Fit_PerPositionClasses_ReachHighHeldOutAccuracy()
    {
        var train = Rises(1024, 1);
        var test = Rises(256, 2);
        var trainer = new Trainer(new RiseTagger(seed: 3), new Adam(1e-2f), TokenLoss);
        var before = trainer.Evaluate(test);

        trainer.Fit(train, epochs: 8, batchSize: 32, validation: test, options: new FitOptions { Seed = 4 });

        var after = trainer.Evaluate(test);
        // Without the previous frame a tagger gets position 0 and half of the rest right (about 55%).
        Assert.True(before.Accuracy < 0.6f, $"untrained accuracy {before.Accuracy}");
        Assert.True(after.Accuracy >= 0.95f, $"held-out per-position accuracy {after.Accuracy} (loss {after.Loss}); before: {before.Accuracy}");
        Assert.Equal(256, after.Count);
    }

    [Fact]
    public void Fit_PooledRegression_LearnsTheMeanOfAFeatureMix()
    {
        // target = mean over real positions of (x0 − x1) + 0.5: the pooled mean of a per-position feature.
        static FloatSequenceDataset Mixes(int count, int seed)
        {
            var frames = Frames(new Random(seed), count, 2, 2, 10);
            var targets = frames.Select(f => new[] { Enumerable.Range(0, f.Length / 2).Average(t => f[2 * t] - f[2 * t + 1]) + 0.5f }).ToArray();
            return FloatSequenceDataset.PooledRegression(frames, 2, targets);
        }
        var train = Mixes(1024, 1);
        var test = Mixes(256, 2);
        var trainer = new Trainer(new MeanRegressor(seed: 3), new Adam(1e-2f), Loss.MeanSquaredError);

        var history = trainer.Fit(train, epochs: 15, batchSize: 32, validation: test, options: new FitOptions { Seed = 4, ComputeMetrics = true });

        var last = history.Epochs[history.BestEpoch - 1];
        float r2 = last.Value(Metric.R2, validation: true)!.Value, mae = last.Value(Metric.Mae, validation: true)!.Value;
        Assert.True(r2 >= 0.97f, $"held-out R² {r2} (MAE {mae})");
        Assert.True(float.IsNaN(trainer.Evaluate(test).Accuracy));
    }

    [Fact]
    public void Fit_ForecastWindows_PredictTheNextValueOfASeries()
    {
        // A noiseless sum of two sines: the next value follows from the window; predicting the last value scores worse.
        var series = Enumerable.Range(0, 1200).Select(i => (float)(Math.Sin(i * 0.3) + 0.5 * Math.Sin(i * 0.11))).ToArray();
        var windows = FloatSequenceDataset.Forecast(series[..1000], features: 1, window: 12);
        var held = FloatSequenceDataset.Forecast(series[1000..], features: 1, window: 12);
        Assert.Equal(1000 - 12, windows.Count);
        var input = new float[12];
        var target = new float[1];
        windows.ReadExample(5, input, default, target);
        Assert.Equal(series[5..17], input);
        Assert.Equal(series[17], target[0]);

        var trainer = new Trainer(new NextValueForecaster(seed: 5), new Adam(1e-2f), Loss.MeanSquaredError);
        var history = trainer.Fit(windows, epochs: 12, batchSize: 32, validation: held, options: new FitOptions { Seed = 6, Monitor = Metric.Rmse });

        double persistence = Math.Sqrt(Enumerable.Range(1012, 188).Average(i => Math.Pow(series[i] - series[i - 1], 2)));
        float rmse = history.Epochs[history.BestEpoch - 1].Value(Metric.Rmse, validation: true)!.Value;
        Assert.True(rmse < 0.3 * persistence, $"held-out RMSE {rmse}; repeating the last value scores {persistence}");
    }

    [Fact]
    public void Fit_PerPositionTargets_LearnARunningFunction()
    {
        var trainer = new Trainer(new RunningRegressor(seed: 7), new Adam(1e-2f), Loss.MeanSquaredError);
        var test = Running(256, 2);
        float before = trainer.Evaluate(test).Loss;

        var history = trainer.Fit(Running(1024, 1), epochs: 10, batchSize: 32, validation: test, options: new FitOptions { Seed = 8, ComputeMetrics = true });

        var best = history.Epochs[history.BestEpoch - 1];
        Assert.True(best.Value(Metric.R2, validation: true) >= 0.98f, $"held-out per-position R² {best.Value(Metric.R2, validation: true)}, MSE {best.ValidationLoss} (before: {before})");
    }

    [Fact]
    public void Fit_EqualsHandWrittenMaskedMeanLoop_BitForBit()
    {
        var train = Running(100, 5);
        var validation = Running(30, 6);
        const int epochs = 3, batchSize = 16;
        const ulong seed = 7;

        var fitted = new RunningRegressor(seed: 8);
        var reported = new List<float>();
        var history = new Trainer(fitted, new Adam(3e-3f), Loss.MeanSquaredError)
            .Fit(train, epochs, batchSize, validation, new FitOptions { Seed = seed, RestoreBestWeights = false, ReportEverySteps = 1 },
                 new Probe(p => { if (p.Completed is null) reported.Add(p.Loss); }));
        var expected = new List<float>();

        // What a PyTorch user writes: padded batch, forward with lengths, loss_fn(out[mask], target[mask]), backward, step.
        var manual = new RunningRegressor(seed: 8);
        var optimizer = new Adam(3e-3f);
        var loss = Loss.MeanSquaredError;
        var loader = new SequenceBatchLoader<float>(train, batchSize, shuffle: true, seed);
        var output = new float[batchSize * train.LongestSequence];
        var dOutput = new float[output.Length];
        float MaskedMean(SequenceBatch<float> b, Span<float> o, Span<float> dO)
        {
            var (real, realTargets) = (new List<float>(), new List<float>());
            for (int row = 0; row < b.Size; row++)
                for (int t = 0; t < b.Lengths[row]; t++)
                {
                    real.Add(o[row * b.Seq + t]);
                    realTargets.Add(b.Targets[row * b.Seq + t]);
                }
            var dReal = new float[real.Count];
            float mean = loss.Compute(real.ToArray(), default, realTargets.ToArray(), dReal, real.Count);
            dO.Clear();
            int k = 0;
            for (int row = 0; row < b.Size; row++)
                for (int t = 0; t < b.Lengths[row]; t++)
                    dO[row * b.Seq + t] = dReal[k++];
            return mean;
        }
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            double sum = 0;
            long positions = 0;
            loader.StartEpoch(epoch);
            while (loader.TryNext(out var b))
            {
                int rows = b.Size * b.Seq;
                manual.Gradients.Clear();
                manual.ForwardTrain(b.Inputs, output.AsSpan(0, rows), b.Size, b.Seq, b.Lengths);
                float mean = MaskedMean(b, output.AsSpan(0, rows), dOutput.AsSpan(0, rows));
                manual.Backward(dOutput.AsSpan(0, rows), default);
                optimizer.Step(manual, manual.Gradients);
                sum += (double)mean * b.TokenCount;
                positions += b.TokenCount;
                expected.Add((float)(sum / positions));
            }
            Assert.Equal(train.LabelCount, positions);
            Assert.Equal((float)(sum / positions), history.Epochs[epoch].TrainLoss);
        }
        Assert.Equal(expected, reported);   // step for step, bit for bit
        Assert.True(fitted.Parameters.SequenceEqual(manual.Parameters), "Fit's parameters differ from the hand-written loop's");

        var check = new SequenceBatchLoader<float>(validation, 256, shuffle: false);
        Assert.True(check.TryNext(out var all));
        var validationOutput = new float[all.Size * all.Seq];
        manual.Forward(all.Inputs, validationOutput, all.Size, all.Seq, all.Lengths);
        Assert.Equal(MaskedMean(all, validationOutput, new float[validationOutput.Length]), history.Epochs[^1].ValidationLoss);
    }

    [Fact]
    public void Fit_ResumedFromCheckpoint_EqualsUninterruptedRun()
    {
        var train = Running(64, 9);
        string path = Path.Combine(Path.GetTempPath(), $"float-sequence-{Guid.NewGuid():N}.ckpt");
        FitOptions Options(string? checkpoint = null, string? resume = null) => new()
        {
            Seed = 10, GradientClipNorm = 1f, GradientAccumulationSteps = 2, CheckpointPath = checkpoint, ResumeFrom = resume,
        };
        Trainer NewTrainer(RunningRegressor model) => new(model, new AdamW(2e-3f), new HuberLoss(delta: 0.5f), Schedule.Cosine());
        try
        {
            var whole = new RunningRegressor(seed: 11);
            var wholeHistory = NewTrainer(whole).Fit(train, epochs: 3, batchSize: 8, options: Options());

            using var cancel = new CancellationTokenSource();
            Assert.Throws<OperationCanceledException>(() => NewTrainer(new RunningRegressor(seed: 11))
                .Fit(train, epochs: 3, batchSize: 8, options: Options(checkpoint: path), progress: new StopAfter(1, cancel), cancellationToken: cancel.Token));
            var resumed = new RunningRegressor(seed: 99);
            var resumedHistory = NewTrainer(resumed).Fit(train, epochs: 3, batchSize: 8, options: Options(resume: path));

            Assert.True(whole.Parameters.SequenceEqual(resumed.Parameters), "the resumed run's parameters differ from the uninterrupted run's");
            Assert.Equal(wholeHistory.Epochs.Select(e => e.TrainLoss), resumedHistory.Epochs.Select(e => e.TrainLoss));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Padding_NeverChangesTheLossOrTheStep()
    {
        // A 2-position sequence alone (T = 2) and beside a 7-position one (padded to T = 7 with zero frames and targets).
        float[] shortFrames = [0.3f, -0.2f, 0.9f, 0.4f];
        float[] longFrames = Enumerable.Range(0, 14).Select(i => MathF.Sin(i * 0.7f)).ToArray();
        // Targets far from what the model outputs at padded positions, so a padded row in the loss would show.
        float[] shortTargets = [5f, -4f], longTargets = Enumerable.Range(0, 7).Select(i => 0.1f * i).ToArray();
        var alone = FloatSequenceDataset.Regression([shortFrames], 2, [shortTargets]);
        var other = FloatSequenceDataset.Regression([longFrames], 2, [longTargets]);
        var both = FloatSequenceDataset.Regression([shortFrames, longFrames], 2, [shortTargets, longTargets]);
        var trainer = new Trainer(new RunningRegressor(seed: 12), new Sgd(0.1f), Loss.MeanSquaredError);

        double padded = trainer.Evaluate(both).Loss * 9.0;
        double separate = trainer.Evaluate(alone).Loss * 2.0 + trainer.Evaluate(other).Loss * 7.0;
        Assert.True(Math.Abs(padded - separate) <= 1e-5 * separate, $"padded batch: {padded}, sequences alone: {separate}");

        // The loader pads frames and targets with zeros.
        var loader = new SequenceBatchLoader<float>(both, 2, shuffle: false);
        Assert.True(loader.TryNext(out var b));
        Assert.Equal(7, b.Seq);
        Assert.Equal(new[] { 2, 7 }, b.Lengths.ToArray());
        Assert.Equal(shortFrames.Concat(new float[10]), b.Inputs[..14].ToArray());
        Assert.Equal(shortTargets.Concat(new float[5]), b.Targets[..7].ToArray());
        Assert.Equal(9, b.TokenCount);

        // One step on the padded batch = one step accumulated from the two unpadded ones (weighted by their positions).
        var whole = new RunningRegressor(seed: 12);
        var halves = new RunningRegressor(seed: 12);
        new Trainer(whole, new Sgd(0.1f), Loss.MeanSquaredError).Fit(both, epochs: 1, batchSize: 2, options: new FitOptions { Shuffle = false });
        new Trainer(halves, new Sgd(0.1f), Loss.MeanSquaredError).Fit(both, epochs: 1, batchSize: 1, options: new FitOptions { Shuffle = false, GradientAccumulationSteps = 2 });
        var start = new RunningRegressor(seed: 12).Parameters.ToArray();
        double moved = 0, apart = 0;
        for (int i = 0; i < start.Length; i++)
        {
            moved = Math.Max(moved, Math.Abs(whole.Parameters[i] - start[i]));
            apart = Math.Max(apart, Math.Abs(whole.Parameters[i] - halves.Parameters[i]));
        }
        Assert.True(moved > 1e-2, $"the step moved the parameters by at most {moved}");
        Assert.True(apart < 1e-6, $"the padded batch's step differs from the unpadded sequences' by up to {apart} (the step moved parameters by up to {moved})");

        // Pooled: the padded frames would enter the mean over time unless Fit passes the lengths.
        var pooled = new Trainer(new MeanRegressor(seed: 13), new Sgd(0.1f), Loss.MeanSquaredError);
        double pooledPadded = pooled.Evaluate(FloatSequenceDataset.PooledRegression([shortFrames, longFrames], 2, [[1f], [-1f]])).Loss * 2.0;
        double pooledAlone = pooled.Evaluate(FloatSequenceDataset.PooledRegression([shortFrames], 2, [[1f]])).Loss
            + pooled.Evaluate(FloatSequenceDataset.PooledRegression([longFrames], 2, [[-1f]])).Loss;
        Assert.True(Math.Abs(pooledPadded - pooledAlone) <= 1e-5 * pooledAlone, $"pooled, padded batch: {pooledPadded}, sequences alone: {pooledAlone}");
    }

    [Fact]
    public void Fit_SteadyStateSteps_AllocateNothing()
    {
        var data = Running(128, 12);
        AllocationAssert.SomeWindowAllocatesNothing(() =>
        {
            var allocated = new long[64];
            int reports = 0;
            var progress = new Probe(p =>
            {
                if (p.Completed is null && reports < allocated.Length) allocated[reports++] = GC.GetAllocatedBytesForCurrentThread();
            });
            new Trainer(new RunningRegressor(1), new Adam(1e-3f), Loss.MeanSquaredError).Fit(data, epochs: 2, batchSize: 8,
                options: new FitOptions { GradientClipNorm = 1f, ReportEverySteps = 1, ComputeMetrics = true }, progress: progress);
            Assert.Equal(32, reports);
            return allocated[reports - 1] - allocated[16];
        }, "Trainer.Fit's float-sequence steps 2 to 16 of epoch 2 (masked mean, clipping, divergence checks, metrics, a progress report every step)");
    }

    [Fact]
    public void Fit_SeveralIdsPerPosition_LearnsFromBothColumns()
    {
        // Position t's class is (word + shape) mod 3: neither column alone predicts it.
        static SequenceDataset Pairs(int count, int seed)
        {
            var rng = new Random(seed);
            var inputs = new int[count][];
            var labels = new int[count][];
            for (int i = 0; i < count; i++)
            {
                int length = rng.Next(1, 8);
                inputs[i] = new int[2 * length];
                labels[i] = new int[length];
                for (int t = 0; t < length; t++)
                {
                    (inputs[i][2 * t], inputs[i][2 * t + 1]) = (rng.Next(Words), rng.Next(Shapes));
                    labels[i][t] = (inputs[i][2 * t] + inputs[i][2 * t + 1]) % Shapes;
                }
            }
            return new SequenceDataset(inputs, labels, idsPerPosition: 2);
        }
        // The loader pads position by position: [B, T, 2] ids, the pad id in both columns past each end.
        var loader = new SequenceBatchLoader<int>(new SequenceDataset([[1, 2], [3, 0, 4, 1, 5, 2]], [[0], [0, 1, 2]], idsPerPosition: 2), 2, shuffle: false, padValue: 6);
        Assert.True(loader.TryNext(out var b));
        Assert.Equal(new[] { 1, 2, 6, 6, 6, 6, 3, 0, 4, 1, 5, 2 }, b.Inputs.ToArray());
        Assert.Equal(new[] { 0, -100, -100, 0, 1, 2 }, b.Labels.ToArray());

        var test = Pairs(128, 2);
        var trainer = new Trainer(new TwoIdTagger(seed: 3), new Adam(1e-2f), TokenLoss);
        trainer.Fit(Pairs(512, 1), epochs: 10, batchSize: 32, options: new FitOptions { Seed = 4 });
        var after = trainer.Evaluate(test);
        Assert.True(after.Accuracy >= 0.98f, $"held-out accuracy {after.Accuracy} (loss {after.Loss})");

        // One id per position for a model that reads two: the error says how to give two.
        var single = new SequenceDataset([[1, 2]], [[0, 1]]);
        Assert.Contains("has 1 id per position, but the model reads 2: give 2 ids per position (new SequenceDataset(inputs, labels, idsPerPosition: 2))",
            Assert.Throws<ArgumentException>(() => trainer.Fit(single, 1, 1)).Message);
        Assert.Contains("Sequence 0 has 3 ids, not a multiple of 2 ids per position",
            Assert.Throws<ArgumentException>(() => new SequenceDataset([[1, 2, 0]], [[0]], idsPerPosition: 2)).Message);
        Assert.Contains("Example 0 has 2 positions (4 ids) but 1 labels",
            Assert.Throws<ArgumentException>(() => new SequenceDataset([[1, 2, 0, 1]], [[0]], idsPerPosition: 2)).Message);
    }

    [Fact]
    public void BadFrames_AreRejectedNamingTheExample()
    {
        Assert.Contains("Sequence 1 holds NaN at position 1, feature 0", Assert.Throws<ArgumentException>(() =>
            new FloatSequenceDataset([[1f, 2f], [0f, 0f, float.NaN, 1f]], 2, [[0], [0, 1]])).Message);
        Assert.Contains("Sequence 0 has 3 floats, not a multiple of 2 features per position", Assert.Throws<ArgumentException>(() =>
            FloatSequenceDataset.Classification([[1f, 2f, 3f]], 2, [0])).Message);
        Assert.Contains($"The targets of sequence 1 hold {float.PositiveInfinity} at position 0", Assert.Throws<ArgumentException>(() =>
            FloatSequenceDataset.Regression([[1f, 2f], [3f, 4f]], 2, [[0f], [float.PositiveInfinity]])).Message);
        Assert.Contains("Example 0 has 1 positions, so 1 targets (1 per position), but 2", Assert.Throws<ArgumentException>(() =>
            FloatSequenceDataset.Regression([[1f, 2f]], 2, [[0f, 1f]])).Message);
        Assert.Contains("Example 1 has 2 targets but example 0 has 1", Assert.Throws<ArgumentException>(() =>
            FloatSequenceDataset.PooledRegression([[1f, 2f], [3f, 4f]], 2, [[0f], [1f, 2f]])).Message);
        Assert.Contains("Sequence 1 is empty", Assert.Throws<ArgumentException>(() =>
            FloatSequenceDataset.Classification([[1f, 2f], []], 2, [0, 1])).Message);
        Assert.Contains("The series holds NaN at frame 3, feature 1", Assert.Throws<ArgumentException>(() =>
            FloatSequenceDataset.Forecast([0, 0, 0, 0, 0, 0, 0, float.NaN, 0, 0], 2, window: 2)).Message);
        Assert.Contains("The series has 5 frames; a window of 4 and the 2 that follow need at least 6", Assert.Throws<ArgumentException>(() =>
            FloatSequenceDataset.Forecast(new float[10], 2, window: 4, horizon: 2)).Message);

        // A source of its own that hands over NaN: Fit names the set, the example and the position.
        var trainer = new Trainer(new RunningRegressor(1), new Adam(), Loss.MeanSquaredError);
        Assert.Contains("Example 2 of the train set holds NaN in its inputs at position 1 (input 0)",
            Assert.Throws<ArgumentException>(() => trainer.Fit(new NaNSource(badInput: true), epochs: 1, batchSize: 4, options: new FitOptions { Shuffle = false })).Message);
        Assert.Contains("Example 2 of the validation set holds NaN in its targets at position 1",
            Assert.Throws<ArgumentException>(() => trainer.Fit(Running(4, 1), epochs: 1, batchSize: 4, validation: new NaNSource(badInput: false))).Message);
    }

    [Fact]
    public void DataAndLossesThatDoNotSuitTheModel_AreRejected()
    {
        var regressor = new Trainer(new RunningRegressor(1), new Adam(), Loss.MeanSquaredError);
        var frames = new[] { new float[] { 1, 2, 3, 4 } };
        Assert.Contains("The train set has 1 features per position, but the model reads 2", Assert.Throws<ArgumentException>(() =>
            regressor.Fit(FloatSequenceDataset.Regression([[1f, 2f]], 1, [[0f, 0f]]), 1, 1)).Message);
        Assert.Contains("loss needs float targets, but the train set has class labels", Assert.Throws<ArgumentException>(() =>
            regressor.Fit(new FloatSequenceDataset(frames, 2, [[0, 1]]), 1, 1)).Message);
        Assert.Contains("has one target row per sequence, but the model outputs [-1, 1], a row per position", Assert.Throws<ArgumentException>(() =>
            regressor.Fit(FloatSequenceDataset.PooledRegression(frames, 2, [[0f]]), 1, 1)).Message);
        Assert.Contains("needs 1 targets per row (the model's output), but the train set has 2", Assert.Throws<ArgumentException>(() =>
            regressor.Fit(FloatSequenceDataset.Regression(frames, 2, [[0f, 0f, 0f, 0f]], targetsPerPosition: 2), 1, 1)).Message);
        Assert.Contains($"more than the model's MaxLength {MaxLength}", Assert.Throws<ArgumentException>(() =>
            regressor.Fit(Running(40, 1, longest: MaxLength + 3), 1, 4)).Message);
        Assert.Contains("reduction Sum", Assert.Throws<ArgumentException>(() =>
            new Trainer(new RunningRegressor(1), new Adam(), new MeanSquaredErrorLoss(Reduction.Sum))).Message);
        Assert.Contains("does not ignore the label -100", Assert.Throws<ArgumentException>(() =>
            new Trainer(new RiseTagger(1), new Adam(), Loss.CrossEntropy)).Message);
        Assert.Contains("needs class labels, but the data set has float targets", Assert.Throws<ArgumentException>(() =>
            new Trainer(new RiseTagger(1), new Adam(), TokenLoss).Evaluate(Running(4, 1))).Message);
        Assert.Contains("Example 0 of the train set has label 3 at position 1", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new Trainer(new RiseTagger(1), new Adam(), TokenLoss).Fit(new FloatSequenceDataset(frames, 2, [[0, 3]]), 1, 1)).Message);
        Assert.Contains("trains on an ISequenceDataSource<float> of float sequences", Assert.Throws<InvalidOperationException>(() =>
            regressor.Fit(new SequenceDataset([[1]], [[0]]), 1, 1)).Message);
        Assert.Contains("trains on an ISequenceDataSource of token sequences", Assert.Throws<InvalidOperationException>(() =>
            new Trainer(new TwoIdTagger(1), new Adam(), TokenLoss).Evaluate(Running(4, 1))).Message);
    }

    /// <summary>Four sequences of 2 positions, 2 features, 1 target each; example 2 has NaN at position 1 in its inputs or targets.</summary>
    private sealed class NaNSource(bool badInput) : ISequenceDataSource<float>
    {
        public int Count => 4;
        public int LongestSequence => 2;
        public int InputLength => 2;
        public bool LabelsPerPosition => true;
        public int TargetLength => 1;
        public int Length(int index) => 2;
        public void ReadExample(int index, Span<float> inputs, Span<int> labels, Span<float> targets)
        {
            inputs.Fill(0.5f);
            targets.Fill(0.25f);
            if (index != 2) return;
            if (badInput) inputs[2] = float.NaN;
            else targets[1] = float.NaN;
        }
    }
}
