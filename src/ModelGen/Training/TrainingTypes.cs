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

    /// <summary>How many training steps pass between progress reports inside an epoch (default 10).</summary>
    public int ReportEverySteps { get; init; } = 10;
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
