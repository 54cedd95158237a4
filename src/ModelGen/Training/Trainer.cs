// The training loop: minibatches -> training forward -> loss -> generated backward -> clip -> schedule -> step.
// Ordinary runtime code over ITrainable, so every generated model (and a user's own loop) uses the same pieces.
// Steady-state steps allocate nothing: output/gradient scratch is sized once per Fit, the loader reuses its buffers.
using System.Diagnostics;
using ModelGen.Data;

namespace ModelGen;

/// <summary>Trains an <see cref="ITrainable"/> model with an optimizer, a loss and an optional learning-rate schedule.</summary>
/// <remarks>Single-caller: do not run two Fit calls on one model at once.</remarks>
public sealed class Trainer
{
    private readonly ITrainable _model;
    private readonly Optimizer _optimizer;
    private readonly Loss _loss;
    private readonly Schedule _schedule;
    private readonly float _baseLearningRate;

    /// <summary>Creates a trainer. The optimizer's current learning rate is the base rate the schedule scales.</summary>
    public Trainer(ITrainable model, Optimizer optimizer, Loss loss, Schedule? schedule = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _loss = loss ?? throw new ArgumentNullException(nameof(loss));
        _schedule = schedule ?? Schedule.Constant;
        _baseLearningRate = optimizer.LearningRate;
    }

    /// <summary>Trains for <paramref name="epochs"/> epochs, evaluating on <paramref name="validation"/> after each.</summary>
    /// <exception cref="ArgumentException">The data does not match the model or the loss.</exception>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite (names the epoch and step).</exception>
    public TrainingHistory Fit(Dataset train, int epochs, int batchSize, Dataset? validation = null, FitOptions? options = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new FitOptions();
        if (epochs <= 0) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "must be positive");
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be positive");
        CheckData(train, nameof(train));
        if (validation is not null) CheckData(validation, nameof(validation));
        if (options.EarlyStoppingPatience is not null && validation is null)
            throw new ArgumentException("Early stopping needs a validation set.", nameof(options));

        var loader = new BatchLoader(train, batchSize, options.Shuffle, options.Seed, options.Augmentation);
        int outputLength = _model.OutputLength;
        int rows = Math.Min(batchSize, Math.Max(1, train.Count));   // no batch holds more rows than the set has
        var output = new float[checked(rows * outputLength)];
        var dOutput = new float[rows * outputLength];
        int totalSteps = epochs * loader.BatchesPerEpoch;
        _model.SeedDropout(options.Seed ^ 0xD20F_0A7DUL);

        var history = new List<EpochMetrics>();
        float bestLoss = float.PositiveInfinity;
        int bestEpoch = 0;
        float[]? bestParameters = null;
        bool stoppedEarly = false;
        int step = 0;

        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            loader.StartEpoch(epoch - 1);
            double lossSum = 0;
            long correct = 0, seen = 0;
            int epochStep = 0;
            while (loader.TryNext(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = batch.Size;
                var outSpan = output.AsSpan(0, n * outputLength);
                var dOutSpan = dOutput.AsSpan(0, n * outputLength);

                _model.Gradients.Clear();
                _model.ForwardTrain(batch.Inputs, outSpan, n);
                float loss = _loss.Compute(outSpan, batch.Labels, batch.Targets, dOutSpan, n);
                if (!float.IsFinite(loss))
                    throw new InvalidOperationException(
                        $"Training diverged: the {_loss.Name} loss is {loss} at epoch {epoch}, step {epochStep + 1} (learning rate {_optimizer.LearningRate}). " +
                        "Lower the learning rate, enable gradient clipping, or check the inputs for NaN.");
                _model.Backward(dOutSpan, default);
                if (options.GradientClipNorm is { } maxNorm)
                    GradientClipping.ClipByGlobalNorm(_model.Gradients, maxNorm);
                _optimizer.LearningRate = _baseLearningRate * _schedule.Factor(step, totalSteps);
                _optimizer.Step(_model, _model.Gradients);

                lossSum += (double)loss * n;
                if (_loss.UsesLabels) correct += CountCorrect(outSpan, batch.Labels, outputLength);
                seen += n;
                step++;
                epochStep++;
                if (progress is not null && epochStep % Math.Max(1, options.ReportEverySteps) == 0)
                    progress.Report(new TrainingProgress(epoch, epochs, epochStep, loader.BatchesPerEpoch, (float)(lossSum / seen),
                        _loss.UsesLabels ? (float)correct / seen : float.NaN, seen / clock.Elapsed.TotalSeconds, null));
            }
            double trainSeconds = clock.Elapsed.TotalSeconds;

            Evaluation? val = validation is null ? null : Evaluate(validation, Math.Max(batchSize, 256));
            var metrics = new EpochMetrics(epoch, (float)(lossSum / seen), _loss.UsesLabels ? (float)correct / seen : float.NaN,
                val?.Loss, val?.Accuracy, _optimizer.LearningRate, clock.Elapsed, seen / trainSeconds);
            history.Add(metrics);
            progress?.Report(new TrainingProgress(epoch, epochs, epochStep, loader.BatchesPerEpoch, metrics.TrainLoss, metrics.TrainAccuracy, metrics.SamplesPerSecond, metrics));

            if (options.EarlyStoppingPatience is { } patience && val is { } v)
            {
                if (v.Loss < bestLoss)
                {
                    bestLoss = v.Loss;
                    bestEpoch = epoch;
                    if (options.RestoreBestWeights)
                    {
                        bestParameters ??= new float[_model.Parameters.Length];
                        _model.Parameters.CopyTo(bestParameters);
                    }
                }
                else if (epoch - bestEpoch >= patience)
                {
                    stoppedEarly = true;
                    break;
                }
            }
        }
        if (stoppedEarly && bestParameters is not null)
            bestParameters.CopyTo(_model.Parameters);
        return new TrainingHistory(history, bestEpoch == 0 ? history.Count : bestEpoch, stoppedEarly);
    }

    /// <summary>Mean loss and accuracy of the model (inference mode) on <paramref name="data"/>.</summary>
    public Evaluation Evaluate(Dataset data, int batchSize = 256)
    {
        CheckData(data, nameof(data));
        var loader = new BatchLoader(data, batchSize, shuffle: false, seed: 0);
        loader.StartEpoch(0);
        int outputLength = _model.OutputLength;
        int rows = Math.Min(batchSize, Math.Max(1, data.Count));
        var output = new float[checked(rows * outputLength)];
        var scratch = new float[rows * outputLength];
        double lossSum = 0;
        long correct = 0, seen = 0;
        while (loader.TryNext(out var batch))
        {
            int n = batch.Size;
            var outSpan = output.AsSpan(0, n * outputLength);
            _model.Forward(batch.Inputs, outSpan, n);
            lossSum += (double)_loss.Compute(outSpan, batch.Labels, batch.Targets, scratch.AsSpan(0, n * outputLength), n) * n;
            if (_loss.UsesLabels) correct += CountCorrect(outSpan, batch.Labels, outputLength);
            seen += n;
        }
        return new Evaluation((float)(lossSum / seen), _loss.UsesLabels ? (float)correct / seen : float.NaN, (int)seen);
    }

    /// <summary>Index of the largest value in each row (ties: the first), written to <paramref name="predictions"/>.</summary>
    public static void ArgMax(ReadOnlySpan<float> output, Span<int> predictions, int width)
    {
        for (int row = 0; row < predictions.Length; row++)
            predictions[row] = ArgMaxRow(output.Slice(row * width, width));
    }

    private static int ArgMaxRow(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int j = 1; j < row.Length; j++)
            if (row[j] > row[best]) best = j;
        return best;
    }

    private static int CountCorrect(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, int width)
    {
        int correct = 0;
        for (int row = 0; row < labels.Length; row++)
            if (ArgMaxRow(output.Slice(row * width, width)) == labels[row]) correct++;
        return correct;
    }

    private void CheckData(Dataset data, string name)
    {
        if (data.ExampleLength != _model.InputLength)
            throw new ArgumentException($"The {name} set has {data.ExampleLength} floats per example, but the model's input has {_model.InputLength}.", name);
        if (_loss.UsesLabels && data.Labels is null)
            throw new ArgumentException($"The {_loss.Name} loss needs class labels, but the {name} set has none.", name);
        if (!_loss.UsesLabels && (data.Targets is null || data.TargetLength != _model.OutputLength))
            throw new ArgumentException($"The {_loss.Name} loss needs {_model.OutputLength} targets per example, but the {name} set has {(data.Targets is null ? 0 : data.TargetLength)}.", name);
        if (_loss.UsesLabels && data.ClassCount > _model.OutputLength)
            throw new ArgumentException($"The {name} set has {data.ClassCount} classes, but the model outputs only {_model.OutputLength} logits.", name);
    }
}
