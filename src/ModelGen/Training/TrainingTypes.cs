// Plain data the training loop reports: per-step progress, per-epoch metrics, the run's history, evaluations.
using ModelGen.Data;

namespace ModelGen;

/// <summary>Options of <see cref="O:ModelGen.Trainer.Fit"/>.</summary>
public sealed class FitOptions
{
    /// <summary>
    /// Seed for shuffling, augmentation and dropout (the same seed, data and thread count give bit-identical weights). Each
    /// epoch's order, augmentation and dropout masks come from generators derived from (seed, epoch), so a run resumed at an
    /// epoch boundary (<see cref="ResumeFrom"/>) draws the same numbers as an uninterrupted one.
    /// </summary>
    public ulong Seed { get; init; }

    /// <summary>Augmentation applied to each training example as its batch is formed (none by default).</summary>
    public IAugmentation? Augmentation { get; init; }

    /// <summary>Shuffle the training set every epoch (default true).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>
    /// Stop when the <see cref="Monitor"/>ed validation metric has not improved for this many epochs (off when null; needs a
    /// validation set). Keras' <c>EarlyStopping(patience)</c> with <c>min_delta = 0</c>.
    /// </summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>
    /// The validation metric that picks the best epoch (default <see cref="Metric.Loss"/>, the validation loss) for
    /// <see cref="RestoreBestWeights"/> and <see cref="EarlyStoppingPatience"/>: Keras' <c>monitor</c>. Any metric other than the
    /// loss needs a validation set. An epoch is better only when strictly better than every earlier one; NaN never is.
    /// </summary>
    public Metric Monitor { get; init; } = Metric.Loss;

    /// <summary>
    /// Whether the <see cref="Monitor"/>ed metric should fall or rise (Keras' <c>mode</c>); <see cref="MetricMode.Auto"/> (the
    /// default) takes <see cref="MetricMode.Min"/> for losses and errors and <see cref="MetricMode.Max"/> for the others.
    /// </summary>
    public MetricMode MonitorMode { get; init; } = MetricMode.Auto;

    /// <summary>
    /// With a validation set, keep the parameters of the best epoch (by <see cref="Monitor"/>) and restore them when
    /// <see cref="O:ModelGen.Trainer.Fit"/> returns, whether or not early stopping fired (default true; false leaves the last epoch's
    /// parameters). Without a validation set there is no best epoch and the last epoch's parameters stay. Before checkpoints
    /// and <see cref="Monitor"/> existed, the best weights were restored only when early stopping fired.
    /// </summary>
    public bool RestoreBestWeights { get; init; } = true;

    /// <summary>
    /// Compute metrics after every epoch (default false): for a loss with class labels the top-k accuracy and the macro and
    /// weighted precision, recall and F1 (see <see cref="ClassificationReport"/>); for a loss with targets MAE, RMSE and R²
    /// (see <see cref="RegressionMetrics.Report"/>). Training-set values are accumulated from the training steps' outputs
    /// (dropout and augmentation active, as Keras reports them) at a few scalar operations per output and no allocation;
    /// validation-set values come from the validation pass. They land in <see cref="EpochMetrics.TrainMetrics"/> and
    /// <see cref="EpochMetrics.ValidationMetrics"/>. A <see cref="Monitor"/> other than the loss or accuracy turns the
    /// validation metrics on by itself.
    /// </summary>
    public bool ComputeMetrics { get; init; }

    /// <summary>The k of <see cref="Metric.TopKAccuracy"/> (default 5). Must be at least 1.</summary>
    public int TopK { get; init; } = 5;

    /// <summary>
    /// Record per-layer gradient norms and update-to-weight ratios every optimizer step and report them per epoch in
    /// <see cref="EpochMetrics.Gradients"/> (default false), with a warning for each trainable layer whose gradients vanish
    /// or explode (<see cref="VanishingGradientNorm"/>, <see cref="ExplodingGradientNorm"/>). Costs about three vectorised
    /// passes over the parameters per step (gradient norms, a copy of the parameters, the update norms); allocates nothing per step.
    /// </summary>
    public bool TrackGradients { get; init; }

    /// <summary>
    /// A trainable layer's gradients count as vanishing when their L2 norm, averaged over an epoch's steps, is below this
    /// (default 1e-7: an SGD step of any usual rate then changes float32 weights of order 1 by less than their resolution,
    /// about 6e-8). Must be positive and below <see cref="ExplodingGradientNorm"/>.
    /// </summary>
    public float VanishingGradientNorm { get; init; } = 1e-7f;

    /// <summary>
    /// A trainable layer's gradients count as exploding when their L2 norm exceeds this at any step of an epoch, or is not
    /// finite (default 1e3: at a rate of 1e-3 one SGD step then moves the layer's weights by a norm of 1 or more). Must be finite.
    /// </summary>
    public float ExplodingGradientNorm { get; init; } = 1e3f;

    /// <summary>
    /// Write a resumable checkpoint to this file every <see cref="CheckpointEveryEpochs"/> epochs and after the last epoch
    /// (off when null). It holds the parameters, the optimizer's state, the schedule's state, the epoch and step counts, the
    /// best epoch so far (with its parameters when <see cref="RestoreBestWeights"/>), the divergence check's running loss and
    /// the history so far; shuffling, augmentation and dropout draw from generators derived from (<see cref="Seed"/>, epoch),
    /// so those two numbers are their whole state. Each write goes to a temporary file that is renamed over the previous
    /// checkpoint, so a crash never leaves a partial file. The last checkpoint holds the last epoch's parameters, written
    /// before the best epoch's are restored.
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Epochs between checkpoints (default 1: after every epoch). Must be at least 1.</summary>
    public int CheckpointEveryEpochs { get; init; } = 1;

    /// <summary>
    /// Resume from a checkpoint written through <see cref="CheckpointPath"/> (null: start afresh). <see cref="O:ModelGen.Trainer.Fit"/>
    /// then continues after the checkpoint's epoch exactly as the uninterrupted run would have (bit-identical parameters on the
    /// same machine and thread count), provided it is called with the same data, epochs, batch size, options and a freshly
    /// constructed optimizer and schedule of the same kinds and hyper-parameters; the settings the file records are checked.
    /// The returned history holds the earlier epochs too (without their <see cref="EpochMetrics.Gradients"/>).
    /// </summary>
    public string? ResumeFrom { get; init; }

    /// <summary>Clip the global L2 norm of the gradients to this value before each step (off when null).</summary>
    public float? GradientClipNorm { get; init; }

    /// <summary>
    /// Minibatches whose gradients are accumulated before each optimizer step (default 1: a step per minibatch). The step
    /// uses the mean-loss gradient over all the group's rows, so <c>batchSize: 8, GradientAccumulationSteps = 4</c> takes the
    /// same step as <c>batchSize: 32</c> (up to rounding) for models without batch-dependent layers (BatchNorm statistics and
    /// dropout masks are per minibatch, as in PyTorch). A group never spans two epochs: an epoch's last group may be
    /// shorter. Clipping, the schedule (which counts optimizer steps) and the step run once per group.
    /// </summary>
    /// <remarks>Must be at least 1; <see cref="O:ModelGen.Trainer.Fit"/> throws <see cref="ArgumentOutOfRangeException"/> otherwise.</remarks>
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
    /// <remarks>Must be finite and greater than 1; <see cref="O:ModelGen.Trainer.Fit"/> throws <see cref="ArgumentOutOfRangeException"/> otherwise.</remarks>
    public float DivergenceFactor { get; init; } = 1e4f;
}

/// <summary>
/// Thrown by <see cref="O:ModelGen.Trainer.Fit"/> when training diverges (see <see cref="FitOptions.StopOnDivergence"/>). The message
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

/// <summary>A progress report from <see cref="O:ModelGen.Trainer.Fit"/>: during an epoch (<see cref="Completed"/> null) or at its end.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Total epochs requested.</param>
/// <param name="Step">Steps done in this epoch.</param>
/// <param name="Steps">Steps per epoch.</param>
/// <param name="Loss">Mean training loss so far this epoch.</param>
/// <param name="Accuracy">Training accuracy so far this epoch (NaN for losses without labels).</param>
/// <param name="SamplesPerSecond">Training throughput so far this epoch.</param>
/// <param name="Completed">The epoch's metrics once it has finished, else null.</param>
public readonly record struct TrainingProgress(int Epoch, int Epochs, int Step, int Steps, float Loss, float Accuracy, double SamplesPerSecond, EpochMetrics? Completed);

/// <summary>Metrics of one finished epoch. Train* columns come from the training set (as seen during the epoch, with
/// dropout and augmentation active), Validation* ones from the validation set after the epoch (inference mode).</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="TrainLoss">Mean training loss over the epoch's batches.</param>
/// <param name="TrainAccuracy">Training accuracy over the epoch (NaN for losses without labels).</param>
/// <param name="ValidationLoss">Validation loss, or null without a validation set.</param>
/// <param name="ValidationAccuracy">Validation accuracy, or null without a validation set (NaN for losses without labels).</param>
/// <param name="LearningRate">The optimizer's learning rate at the epoch's last step.</param>
/// <param name="Elapsed">Wall time of the epoch (training and validation).</param>
/// <param name="SamplesPerSecond">Training throughput.</param>
/// <param name="TrainMetrics">Training-set metrics (<see cref="FitOptions.ComputeMetrics"/>), or null.</param>
/// <param name="ValidationMetrics">Validation-set metrics (<see cref="FitOptions.ComputeMetrics"/>, or when <see cref="FitOptions.Monitor"/> needs them), or null.</param>
/// <param name="Gradients">Per-layer gradient norms and update ratios over the epoch's steps (<see cref="FitOptions.TrackGradients"/>), or null (also for epochs before a resumed checkpoint).</param>
public sealed record EpochMetrics(int Epoch, float TrainLoss, float TrainAccuracy, float? ValidationLoss, float? ValidationAccuracy,
    float LearningRate, TimeSpan Elapsed, double SamplesPerSecond, IReadOnlyDictionary<Metric, float>? TrainMetrics = null,
    IReadOnlyDictionary<Metric, float>? ValidationMetrics = null, GradientReport? Gradients = null)
{
    /// <summary>
    /// The value of <paramref name="metric"/> on the training set (<paramref name="validation"/> false) or the validation
    /// set, or null when it was not computed (no validation set, or <see cref="FitOptions.ComputeMetrics"/> off).
    /// </summary>
    public float? Value(Metric metric, bool validation)
    {
        if (metric == Metric.Loss) return validation ? ValidationLoss : TrainLoss;
        if (metric == Metric.Accuracy) return validation ? ValidationAccuracy : TrainAccuracy;
        var map = validation ? ValidationMetrics : TrainMetrics;
        return map is not null && map.TryGetValue(metric, out float value) ? value : null;
    }
}

/// <summary>The result of <see cref="O:ModelGen.Trainer.Fit"/>.</summary>
/// <param name="Epochs">Every epoch run, including those before a resumed checkpoint.</param>
/// <param name="BestEpoch">The best epoch by <see cref="FitOptions.Monitor"/> on the validation set (the last epoch without one).</param>
/// <param name="StoppedEarly">Whether early stopping ended the run.</param>
/// <param name="RestoredBest">Whether the model holds the best epoch's parameters (<see cref="FitOptions.RestoreBestWeights"/>) rather than the last epoch's.</param>
public sealed record TrainingHistory(IReadOnlyList<EpochMetrics> Epochs, int BestEpoch, bool StoppedEarly, bool RestoredBest = false);

/// <summary>Loss and accuracy of a model on a dataset (accuracy is NaN for losses without labels).</summary>
public readonly record struct Evaluation(float Loss, float Accuracy, int Count);

/// <summary>A quantity measured on a dataset after an epoch or by an evaluation; <see cref="FitOptions.Monitor"/> picks one.</summary>
public enum Metric
{
    /// <summary>The training loss function's mean value (lower is better).</summary>
    Loss,

    /// <summary>The fraction of examples whose largest output is the label (higher is better).</summary>
    Accuracy,

    /// <summary>The fraction of examples whose label is among the <see cref="FitOptions.TopK"/> largest outputs.</summary>
    TopKAccuracy,

    /// <summary>Unweighted mean of the per-class precisions (see <see cref="ClassificationReport"/>).</summary>
    MacroPrecision,

    /// <summary>Unweighted mean of the per-class recalls.</summary>
    MacroRecall,

    /// <summary>Unweighted mean of the per-class F1 scores.</summary>
    MacroF1,

    /// <summary>Support-weighted mean of the per-class precisions.</summary>
    WeightedPrecision,

    /// <summary>Support-weighted mean of the per-class recalls.</summary>
    WeightedRecall,

    /// <summary>Support-weighted mean of the per-class F1 scores.</summary>
    WeightedF1,

    /// <summary>Mean absolute error of a regression head (lower is better).</summary>
    Mae,

    /// <summary>Root mean squared error of a regression head (lower is better).</summary>
    Rmse,

    /// <summary>Coefficient of determination R² of a regression head (higher is better).</summary>
    R2,
}

/// <summary>Whether a monitored metric should fall or rise (Keras' <c>mode</c>).</summary>
public enum MetricMode
{
    /// <summary>Min for <see cref="Metric.Loss"/> and error metrics, Max for the others.</summary>
    Auto,

    /// <summary>Lower is better.</summary>
    Min,

    /// <summary>Higher is better.</summary>
    Max,
}
