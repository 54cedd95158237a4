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

    /// <summary>
    /// Creates a trainer. The optimizer's current learning rate is the base rate the schedule scales. Before every step
    /// <see cref="Fit"/> sets the rate to base × <see cref="Schedule.Factor(int, int, int)"/> (step, the run's total steps,
    /// steps per epoch); after every epoch it reports the validation loss (the epoch's mean training loss without a validation
    /// set) to <see cref="Schedule.ReportMetric"/>, which drives <see cref="Schedule.ReduceOnPlateau"/>.
    /// </summary>
    public Trainer(ITrainable model, Optimizer optimizer, Loss loss, Schedule? schedule = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _loss = loss ?? throw new ArgumentNullException(nameof(loss));
        _schedule = schedule ?? Schedule.Constant;
        _baseLearningRate = optimizer.LearningRate;
    }

    /// <summary>
    /// Trains for <paramref name="epochs"/> epochs, evaluating on <paramref name="validation"/> after each. The data may be an
    /// in-memory <see cref="Dataset"/> or any <see cref="IDataSource"/> that reads examples on demand (e.g. from disk): the
    /// batches, and so the result, are the same for the same examples and seed.
    /// </summary>
    /// <exception cref="ArgumentException">The data does not match the model or the loss.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochs"/> or <paramref name="batchSize"/> is not positive, or an option is out of range.</exception>
    /// <exception cref="TrainingDivergedException">
    /// Training diverged (see <see cref="FitOptions.StopOnDivergence"/>): the message names the epoch, the step, the loss
    /// and, where NaN or infinity appear, the first layer whose gradient or parameters hold them.
    /// </exception>
    public TrainingHistory Fit(IDataSource train, int epochs, int batchSize, IDataSource? validation = null, FitOptions? options = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new FitOptions();
        if (epochs <= 0) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "must be positive");
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be positive");
        CheckData(train, nameof(train));
        if (validation is not null) CheckData(validation, nameof(validation));
        if (options.EarlyStoppingPatience is not null && validation is null)
            throw new ArgumentException("Early stopping needs a validation set.", nameof(options));
        if (options.GradientClipNorm is { } clip && !(clip >= 0))
            throw new ArgumentOutOfRangeException(nameof(options), clip, "FitOptions.GradientClipNorm must be >= 0.");
        if (!(options.DivergenceFactor > 1 && float.IsFinite(options.DivergenceFactor)))
            throw new ArgumentOutOfRangeException(nameof(options), options.DivergenceFactor, "FitOptions.DivergenceFactor must be finite and greater than 1.");
        if (options.GradientAccumulationSteps < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.GradientAccumulationSteps, "FitOptions.GradientAccumulationSteps must be at least 1.");

        var loader = new BatchLoader(train, batchSize, options.Shuffle, options.Seed, options.Augmentation);
        int outputLength = _model.OutputLength;
        int rows = Math.Min(batchSize, Math.Max(1, train.Count));   // no batch holds more rows than the set has
        var output = new float[checked(rows * outputLength)];
        var dOutput = new float[rows * outputLength];
        // Optimizer steps: one per group of GradientAccumulationSteps minibatches; a group never spans two epochs.
        int accumulation = options.GradientAccumulationSteps;
        int updatesPerEpoch = loader.BatchesPerEpoch / accumulation + (loader.BatchesPerEpoch % accumulation == 0 ? 0 : 1);
        int totalSteps = epochs * updatesPerEpoch;
        _model.SeedDropout(options.Seed ^ 0xD20F_0A7DUL);

        var history = new List<EpochMetrics>();
        float bestLoss = float.PositiveInfinity;
        int bestEpoch = 0;
        float[]? bestParameters = null;
        bool stoppedEarly = false;
        int step = 0;       // minibatches so far
        int update = 0;     // optimizer steps so far (the schedule's step)
        int groupRows = 0, groupBatches = 0;
        bool watch = options.StopOnDivergence;
        double firstLoss = 0, runningLoss = 0;   // the divergence rule's references (FitOptions.StopOnDivergence)

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

                _model.ForwardTrain(batch.Inputs, outSpan, n);
                float loss = _loss.Compute(outSpan, batch.Labels, batch.Targets, dOutSpan, n);
                if (watch)
                {
                    // Scalar work only. The gradients are cleared after this check, so a non-finite loss can still be
                    // traced to the previous step's gradients (the update they drove is what poisoned the parameters).
                    if (!float.IsFinite(loss))
                        throw NonFiniteLoss(loss, epoch, epochStep + 1, loader.BatchesPerEpoch, step > 0, batch.Inputs);
                    if (step == 0)
                        firstLoss = runningLoss = loss;
                    else if (loss > options.DivergenceFactor * runningLoss && loss > firstLoss && runningLoss > 0)
                        throw Diverged($"the {_loss.Name} loss is {loss:G4}, more than {options.DivergenceFactor:G4} × its running mean {runningLoss:G4}",
                            epoch, epochStep + 1, loader.BatchesPerEpoch, loss, null);
                    else
                        runningLoss += (loss - runningLoss) / 16;
                }
                if (groupBatches == 0) _model.Gradients.Clear();
                // Accumulating: each minibatch's mean-loss gradient is weighted by its rows, and the sum is divided by the
                // group's rows before the step, so the update is that of the mean loss over the whole group.
                if (accumulation > 1) GradientClipping.Scale(dOutSpan, n);
                _model.Backward(dOutSpan, default);
                groupRows += n;
                groupBatches++;
                bool endOfGroup = groupBatches == accumulation || epochStep + 1 == loader.BatchesPerEpoch;
                if (endOfGroup && accumulation > 1) GradientClipping.Scale(_model.Gradients, 1f / groupRows);
                if (endOfGroup && options.GradientClipNorm is { } maxNorm)
                {
                    float norm = (float)Math.Sqrt(GradientClipping.SumOfSquares(_model.Gradients));
                    // A norm overflows to ∞ for finite gradients above ~1e19 too; only NaN or ∞ among them is a divergence.
                    if (watch && !float.IsFinite(norm) && Finiteness.FirstNonFinite(_model, _model.Gradients) is { } bad)
                        throw Diverged($"the gradient of {Describe(bad)} is not finite (the {_loss.Name} loss was {loss:G4})",
                            epoch, epochStep + 1, loader.BatchesPerEpoch, loss, bad.Layer);
                    GradientClipping.ClipToNorm(_model.Gradients, maxNorm, norm);
                }
                if (endOfGroup)
                {
                    _optimizer.LearningRate = _baseLearningRate * _schedule.Factor(update, totalSteps, updatesPerEpoch);
                    _optimizer.Step(_model, _model.Gradients);
                    update++;
                    groupRows = groupBatches = 0;
                }

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
            // Once per epoch: a NaN can hide from the loss (a ReLU maps it to 0) while it sits in a parameter.
            if (watch && Finiteness.FirstNonFinite(_model, _model.Parameters) is { } poisoned)
                throw Diverged($"the parameters of {Describe(poisoned)} are not finite after the epoch's last step",
                    epoch, epochStep, loader.BatchesPerEpoch, float.NaN, poisoned.Layer);

            Evaluation? val = validation is null ? null : Evaluate(validation, Math.Max(batchSize, 256));
            var metrics = new EpochMetrics(epoch, (float)(lossSum / seen), _loss.UsesLabels ? (float)correct / seen : float.NaN,
                val?.Loss, val?.Accuracy, _optimizer.LearningRate, clock.Elapsed, seen / trainSeconds);
            history.Add(metrics);
            // Once per epoch, PyTorch's scheduler.step(val_loss): metric-driven schedules (ReduceOnPlateau) update here
            // and the next epoch's steps see the result; step-driven schedules ignore it.
            _schedule.ReportMetric(val?.Loss ?? metrics.TrainLoss, update, Math.Max(1, updatesPerEpoch));
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

    /// <summary>
    /// Explains a non-finite loss: the previous step's gradients (still in the buffer) were not finite, or the
    /// parameters are not (the optimizer overflowed), or the batch's inputs are not, or else the forward pass overflowed.
    /// </summary>
    private TrainingDivergedException NonFiniteLoss(float loss, int epoch, int step, int steps, bool hasPreviousGradients, ReadOnlySpan<float> inputs)
    {
        string cause;
        string? layer = null;
        if (hasPreviousGradients && Finiteness.FirstNonFinite(_model, _model.Gradients) is { } gradient)
        {
            (layer, cause) = (gradient.Layer, $"the previous step's gradient of {Describe(gradient)} was not finite, and the update it drove made the parameters non-finite");
        }
        else if (Finiteness.FirstNonFinite(_model, _model.Parameters) is { } parameter)
        {
            (layer, cause) = (parameter.Layer, $"the parameters of {Describe(parameter)} are not finite");
        }
        else if (Finiteness.IndexOfNonFinite(inputs) is var at and >= 0)
        {
            cause = $"the batch's inputs are not finite (example {at / _model.InputLength + 1} of the batch holds {inputs[at]})";
        }
        else
        {
            cause = "the parameters and inputs are finite, so the forward pass overflowed (weights or activations too large)";
        }
        return Diverged($"the {_loss.Name} loss is {loss}: {cause}", epoch, step, steps, loss, layer);
    }

    private TrainingDivergedException Diverged(string what, int epoch, int step, int steps, float loss, string? layer) =>
        new($"Training diverged at epoch {epoch}, step {step} of {steps}: {what} (learning rate {_optimizer.LearningRate:G4}). " +
            "Lower the learning rate, clip the gradients (FitOptions.GradientClipNorm) or check the data; " +
            "FitOptions.StopOnDivergence = false turns this check off.", epoch, step, loss, layer);

    private static string Describe((string? Layer, string Tensor) where) =>
        where.Layer is null ? $"tensor '{where.Tensor}'" : $"layer '{where.Layer}' ({where.Tensor})";

    /// <summary>Mean loss and accuracy of the model (inference mode) on <paramref name="data"/>.</summary>
    public Evaluation Evaluate(IDataSource data, int batchSize = 256)
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

    private void CheckData(IDataSource data, string name)
    {
        ArgumentNullException.ThrowIfNull(data, name);
        if (data.ExampleLength != _model.InputLength)
            throw new ArgumentException($"The {name} set has {data.ExampleLength} floats per example, but the model's input has {_model.InputLength}.", name);
        if (_loss.UsesLabels && !data.HasLabels)
            throw new ArgumentException($"The {_loss.Name} loss needs class labels, but the {name} set has none.", name);
        if (!_loss.UsesLabels && data.TargetLength != _model.OutputLength)
            throw new ArgumentException($"The {_loss.Name} loss needs {_model.OutputLength} targets per example, but the {name} set has {data.TargetLength}.", name);
        if (_loss.UsesLabels && data.ClassCount > _model.OutputLength)
            throw new ArgumentException($"The {name} set has {data.ClassCount} classes, but the model outputs only {_model.OutputLength} logits.", name);
    }
}
