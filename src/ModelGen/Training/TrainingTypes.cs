// Plain data the training loop reports: per-step progress, per-epoch metrics, the run's history, evaluations.
using ModelGen.Data;

namespace ModelGen;

/// <summary>Options of <see cref="Trainer.Fit"/>.</summary>
public sealed class FitOptions
{
    /// <summary>Seed for shuffling, augmentation and dropout (the same seed, data and thread count give bit-identical weights).</summary>
    public ulong Seed { get; init; }

    /// <summary>Augmentation applied to each training example as its batch is formed (none by default).</summary>
    public IAugmentation? Augmentation { get; init; }

    /// <summary>Shuffle the training set every epoch (default true).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Stop when the validation loss has not improved for this many epochs (off when null; needs a validation set).</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>With early stopping, restore the parameters of the best epoch at the end (default true).</summary>
    public bool RestoreBestWeights { get; init; } = true;

    /// <summary>Clip the global L2 norm of the gradients to this value before each step (off when null).</summary>
    public float? GradientClipNorm { get; init; }

    /// <summary>
    /// Minibatches whose gradients are accumulated before each optimizer step (default 1: a step per minibatch). The step
    /// uses the mean-loss gradient over all the group's rows, so <c>batchSize: 8, GradientAccumulationSteps = 4</c> takes the
    /// same step as <c>batchSize: 32</c> (up to rounding) for models without batch-dependent layers (BatchNorm statistics and
    /// dropout masks are per minibatch, as in PyTorch). A group never spans two epochs: an epoch's last group may be
    /// shorter. Clipping, the schedule (which counts optimizer steps) and the step run once per group.
    /// </summary>
    /// <remarks>Must be at least 1; <see cref="Trainer.Fit"/> throws <see cref="ArgumentOutOfRangeException"/> otherwise.</remarks>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>How many training steps pass between progress reports inside an epoch (default 10).</summary>
    public int ReportEverySteps { get; init; } = 10;

    /// <summary>
    /// Stop with a <see cref="TrainingDivergedException"/> when training diverges (default true). A step diverges when
    /// its loss is NaN or infinite; when, from the second step of the run on, its loss exceeds both
    /// <see cref="DivergenceFactor"/> × the running mean of the earlier steps' losses (an exponential moving average,
    /// weight 1/16 per step, started at the first step's loss) and the first step's loss; or, with
    /// <see cref="GradientClipNorm"/> set, when a gradient is NaN or infinite. After each epoch the parameters are also
    /// checked for NaN and infinity. The checks cost a few scalar operations per step; the vectorised scans that name
    /// the offending layer run only once something is already wrong (and once per epoch over the parameters).
    /// False turns every check off, including the one for a NaN loss.
    /// </summary>
    public bool StopOnDivergence { get; init; } = true;

    /// <summary>
    /// How many times its running mean a step's loss may reach before <see cref="StopOnDivergence"/> calls the run
    /// diverged (default 10,000: four orders of magnitude, far beyond the noise of minibatch losses).
    /// </summary>
    /// <remarks>Must be finite and greater than 1; <see cref="Trainer.Fit"/> throws <see cref="ArgumentOutOfRangeException"/> otherwise.</remarks>
    public float DivergenceFactor { get; init; } = 1e4f;
}

/// <summary>
/// Thrown by <see cref="Trainer.Fit"/> when training diverges (see <see cref="FitOptions.StopOnDivergence"/>). The message
/// names the epoch, the step, the loss and, where NaN or infinity appear, the first layer whose gradient or parameters
/// hold them. The model keeps the parameters of the step that diverged.
/// </summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The full explanation.</param>
    /// <param name="epoch">1-based epoch.</param>
    /// <param name="step">1-based step within the epoch.</param>
    /// <param name="loss">The loss of that step (NaN when the check ran after the epoch).</param>
    /// <param name="layer">The first layer holding non-finite gradients or parameters, if one was found.</param>
    public TrainingDivergedException(string message, int epoch, int step, float loss, string? layer) : base(message)
    {
        Epoch = epoch;
        Step = step;
        Loss = loss;
        Layer = layer;
    }

    /// <summary>1-based epoch in which training diverged.</summary>
    public int Epoch { get; }

    /// <summary>1-based step within <see cref="Epoch"/>.</summary>
    public int Step { get; }

    /// <summary>The loss of that step (NaN or infinite for a non-finite loss).</summary>
    public float Loss { get; }

    /// <summary>The first layer (in <see cref="IModel.Layers"/> order) whose gradient or parameters are not finite, or null.</summary>
    public string? Layer { get; }
}

/// <summary>A progress report from <see cref="Trainer.Fit"/>: during an epoch (<see cref="Completed"/> null) or at its end.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Total epochs requested.</param>
/// <param name="Step">Steps done in this epoch.</param>
/// <param name="Steps">Steps per epoch.</param>
/// <param name="Loss">Mean training loss so far this epoch.</param>
/// <param name="Accuracy">Training accuracy so far this epoch (NaN for losses without labels).</param>
/// <param name="SamplesPerSecond">Training throughput so far this epoch.</param>
/// <param name="Completed">The epoch's metrics once it has finished, else null.</param>
public readonly record struct TrainingProgress(int Epoch, int Epochs, int Step, int Steps, float Loss, float Accuracy, double SamplesPerSecond, EpochMetrics? Completed);

/// <summary>Metrics of one finished epoch.</summary>
public sealed record EpochMetrics(int Epoch, float TrainLoss, float TrainAccuracy, float? ValidationLoss, float? ValidationAccuracy, float LearningRate, TimeSpan Elapsed, double SamplesPerSecond);

/// <summary>The result of <see cref="Trainer.Fit"/>.</summary>
public sealed record TrainingHistory(IReadOnlyList<EpochMetrics> Epochs, int BestEpoch, bool StoppedEarly);

/// <summary>Loss and accuracy of a model on a dataset (accuracy is NaN for losses without labels).</summary>
public readonly record struct Evaluation(float Loss, float Accuracy, int Count);
