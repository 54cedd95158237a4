// The training loop: minibatches -> training forward -> loss -> generated backward -> clip -> schedule -> step.
// Ordinary runtime code over ITrainable (fixed-size examples), ISequenceTrainable<int> (token sequences),
// ISequenceTrainable<float> (float sequences) and ISeq2SeqTrainable (sequence pairs), so every generated model (and a user's own loop) uses the same pieces; what differs
// per kind of model lives in Trainer.Batches.cs.
// Steady-state steps allocate nothing: output/gradient scratch is sized once per Fit, the loader reuses its buffers.
using System.Diagnostics;
using ModelGen.Data;

namespace ModelGen;

/// <summary>
/// Trains an <see cref="ITrainable"/> model (fixed-size examples), an <see cref="ISequenceTrainable{TInput}"/> over token
/// ids (tagger, language model or sequence classifier) or float frames (time series, feature sequences), or an <see cref="ISeq2SeqTrainable{TInput, TSource}"/>
/// encoder-decoder (pairs of token sequences) with an optimizer, a loss and an optional learning-rate schedule.
/// </summary>
/// <remarks>Single-caller: do not run two Fit calls on one model at once.</remarks>
public sealed partial class Trainer
{
    private readonly IModalModel _model;
    private readonly ITrainable? _examples;                   // the model, when it trains on fixed-size examples
    private readonly ISeq2SeqTrainable<int, int>? _pairs;    // the model, when it trains on sequence pairs
    private readonly ISequenceTrainable<int>? _sequences;    // the model, when it trains on token sequences
    private readonly ISequenceTrainable<float>? _frames;     // the model, when it trains on float sequences
    private readonly Optimizer _optimizer;
    private readonly Loss _loss;
    private readonly Schedule _schedule;
    private readonly float _baseLearningRate;

    // Salt separating the dropout stream from the loader's order and augmentation streams derived from the same seed.
    private const ulong DropoutSalt = 0xD20F_0A7DUL;

    /// <summary>
    /// Creates a trainer. The optimizer's current learning rate is the base rate the schedule scales. Before every step
    /// <see cref="O:ModelGen.Trainer.Fit"/> sets the rate to base × <see cref="Schedule.Factor(int, int, int)"/> (step, the run's total steps,
    /// steps per epoch); after every epoch it reports the validation loss (the epoch's mean training loss without a validation
    /// set) to <see cref="Schedule.ReportMetric"/>, which drives <see cref="Schedule.ReduceOnPlateau"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/>, <paramref name="optimizer"/> or <paramref name="loss"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="loss"/> has <see cref="Reduction.None"/>.</exception>
    public Trainer(ITrainable model, Optimizer optimizer, Loss loss, Schedule? schedule = null)
        : this((IModalModel)model, optimizer, loss, schedule)
    {
        _examples = model;
    }

    /// <summary>
    /// Creates a trainer for an encoder-decoder over token ids (a <c>[Model(Dim.Seq, InputType = typeof(int))]</c> with a
    /// <c>[ModelInput(..., Dim.Seq, InputType = typeof(int))]</c>), trained with
    /// <see cref="Fit(ISeq2SeqDataSource, int, int, ISeq2SeqDataSource?, FitOptions?, IProgress{TrainingProgress}?, CancellationToken)"/>
    /// on sequence pairs. The loss is computed per target position, one row of logits per position with the position's
    /// label, and is the mean over the batch's labelled tokens: padded positions carry the label
    /// <see cref="Loss.DefaultIgnoreIndex"/>, so the loss must ignore it (<c>Loss.CrossEntropyIgnoring(Loss.DefaultIgnoreIndex)</c>,
    /// <c>new CrossEntropyLoss()</c> or <c>new NllLoss()</c>, with mean reduction). Schedules as in the other constructor.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/>, <paramref name="optimizer"/> or <paramref name="loss"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// The loss has <see cref="Reduction.None"/> or <see cref="Reduction.Sum"/>, or does not ignore <see cref="Loss.DefaultIgnoreIndex"/>;
    /// or the model reads more than one id per target or source position, or has one output per example rather than per
    /// target position.
    /// </exception>
    public Trainer(ISeq2SeqTrainable<int, int> model, Optimizer optimizer, Loss loss, Schedule? schedule = null)
        : this((IModalModel)model, optimizer, loss, schedule)
    {
        _pairs = model;
        CheckTokenLoss(loss, "sequence pairs", "target positions");
        if (model.InputLength != 1 || model.SourceLength != 1)
            throw new ArgumentException($"The model reads {model.InputLength} ids per target position and {model.SourceLength} per source position; sequence pairs carry 1 of each.", nameof(model));
        if (model.OutputShapeDims.Length == 0 || model.OutputShapeDims[0] != -1)
            throw new ArgumentException($"The model outputs [{string.Join(", ", model.OutputShapeDims.ToArray())}] per example; training on sequence pairs needs an output per target position ([T, classes]).", nameof(model));
    }

    /// <summary>
    /// Creates a trainer for a one-input sequence model over token ids (a <c>[Model(Dim.Seq, InputType = typeof(int))]</c>),
    /// trained with <see cref="Fit(ISequenceDataSource, int, int, ISequenceDataSource?, FitOptions?, IProgress{TrainingProgress}?, CancellationToken)"/>
    /// on variable-length sequences. A model with an output per position ([T, classes]: a tagger or a language model) is
    /// scored per position, one row of logits per position with the position's label, and the loss is the mean over the
    /// batch's labelled tokens: padded positions carry the label <see cref="Loss.DefaultIgnoreIndex"/>, so the loss must
    /// ignore it (<c>Loss.CrossEntropyIgnoring(Loss.DefaultIgnoreIndex)</c>, <c>new CrossEntropyLoss()</c> or
    /// <c>new NllLoss()</c>, with mean reduction), and the data needs a label per position. A model with one output per
    /// example ([classes]: pooled over time) is scored per sequence with any loss over class labels, as a feed-forward
    /// classifier, and the data needs one label per sequence (<see cref="SequenceDataset.Classification"/>). Schedules as
    /// in the other constructors.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/>, <paramref name="optimizer"/> or <paramref name="loss"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// The loss has <see cref="Reduction.None"/> or does not use class labels; for an output per position, the loss has
    /// <see cref="Reduction.Sum"/> or does not ignore <see cref="Loss.DefaultIgnoreIndex"/>.
    /// </exception>
    /// <remarks>
    /// A model that reads several ids per position (<see cref="IModel.InputLength"/> &gt; 1, e.g. word, suffix and shape
    /// ids) trains on data with as many (<c>new SequenceDataset(inputs, labels, idsPerPosition: 3)</c>).
    /// </remarks>
    public Trainer(ISequenceTrainable<int> model, Optimizer optimizer, Loss loss, Schedule? schedule = null)
        : this((IModalModel)model, optimizer, loss, schedule)
    {
        _sequences = model;
        if (OutputPerPosition(model)) CheckTokenLoss(loss, "sequences scored per position", "positions");
        else if (!loss.UsesLabels)
            throw new ArgumentException($"The {loss.Name} loss uses float targets; sequence data carries class labels (one per sequence for this model's output [{string.Join(", ", model.OutputShapeDims.ToArray())}]).", nameof(loss));
    }

    /// <summary>
    /// Creates a trainer for a one-input sequence model over float frames (a <c>[Model(Dim.Seq, F)]</c>: time series,
    /// feature sequences), trained with
    /// <see cref="Fit(ISequenceDataSource{float}, int, int, ISequenceDataSource{float}?, FitOptions?, IProgress{TrainingProgress}?, CancellationToken)"/>
    /// on variable-length sequences of <c>[length, F]</c> floats. A model with an output per position ([T, K]) is scored
    /// per position: with class labels as a token tagger (the loss must ignore <see cref="Loss.DefaultIgnoreIndex"/>, with
    /// mean reduction: <c>Loss.CrossEntropyIgnoring(Loss.DefaultIgnoreIndex)</c>); with float targets (MSE, L1, Huber, ...)
    /// the loss is the mean over the real positions' elements, padded positions left out (mean reduction). A model with one
    /// output per example ([K]: pooled over time) is scored per sequence with any loss, as a feed-forward model, on one
    /// label or target row per sequence. Schedules as in the other constructors.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/>, <paramref name="optimizer"/> or <paramref name="loss"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// The loss has <see cref="Reduction.None"/>; or, for an output per position, the loss has <see cref="Reduction.Sum"/>
    /// or is a class loss that does not ignore <see cref="Loss.DefaultIgnoreIndex"/>.
    /// </exception>
    public Trainer(ISequenceTrainable<float> model, Optimizer optimizer, Loss loss, Schedule? schedule = null)
        : this((IModalModel)model, optimizer, loss, schedule)
    {
        _frames = model;
        if (!OutputPerPosition(model)) return;
        if (loss.UsesLabels) CheckTokenLoss(loss, "sequences scored per position", "positions");
        else if (loss.Reduction != Reduction.Mean)
            throw new ArgumentException($"The {loss.Name} loss has reduction {loss.Reduction}; sequences with targets per position train on the mean over their real positions (Reduction.Mean).", nameof(loss));
    }

    /// <summary>Whether the model's output has a row per position ([T, ...]) rather than one per example.</summary>
    private static bool OutputPerPosition(IModel model) => model.OutputShapeDims.Length > 0 && model.OutputShapeDims[0] == -1;

    /// <summary>A loss over padded per-position rows: the mean over labelled tokens, ignoring the padding label.</summary>
    private static void CheckTokenLoss(Loss loss, string data, string padded)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (loss.Reduction != Reduction.Mean)
            throw new ArgumentException($"The {loss.Name} loss has reduction {loss.Reduction}; {data} train on the mean over their tokens (Reduction.Mean).", nameof(loss));
        if (loss is not (CrossEntropyLoss { IgnoreIndex: Loss.DefaultIgnoreIndex } or NllLoss { IgnoreIndex: Loss.DefaultIgnoreIndex }))
            throw new ArgumentException($"The {loss.Name} loss does not ignore the label {Loss.DefaultIgnoreIndex} that marks padded {padded}; use Loss.CrossEntropyIgnoring(Loss.DefaultIgnoreIndex).", nameof(loss));
    }

    private Trainer(IModalModel model, Optimizer optimizer, Loss loss, Schedule? schedule)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _loss = loss ?? throw new ArgumentNullException(nameof(loss));
        if (loss.Reduction == Reduction.None)
            throw new ArgumentException($"The {loss.Name} loss has reduction None (one loss per term); a trainer needs Mean or Sum.", nameof(loss));
        _schedule = schedule ?? Schedule.Constant;
        _baseLearningRate = optimizer.LearningRate;
    }

    /// <summary>
    /// Trains for <paramref name="epochs"/> epochs, evaluating on <paramref name="validation"/> after each. The data may be an
    /// in-memory <see cref="Dataset"/> or any <see cref="IDataSource"/> that reads examples on demand (e.g. from disk): the
    /// batches, and so the result, are the same for the same examples and seed. With a validation set the best epoch by
    /// <see cref="FitOptions.Monitor"/> is kept and, with <see cref="FitOptions.RestoreBestWeights"/>, restored at the end;
    /// <see cref="FitOptions.CheckpointPath"/> writes resumable checkpoints and <see cref="FitOptions.ResumeFrom"/> continues
    /// from one.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The data does not match the model or the loss, an option needs a validation set that is missing, or the checkpoint to
    /// resume from was written by a run with other settings (the message names the setting, the file's value and this call's).
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochs"/> or <paramref name="batchSize"/> is not positive, or an option is out of range.</exception>
    /// <exception cref="InvalidDataException">The checkpoint to resume from is malformed or belongs to another model or optimizer.</exception>
    /// <exception cref="IOException">A checkpoint could not be read or written (the message names the file).</exception>
    /// <exception cref="TrainingDivergedException">
    /// Training diverged (see <see cref="FitOptions.StopOnDivergence"/>): the message names the epoch, the step, the loss
    /// and, where NaN or infinity appear, the first layer whose gradient or parameters hold them.
    /// </exception>
    /// <remarks>
    /// The model trains in training mode (<see cref="IModalModel.Train"/>) whatever its mode before the call, and the
    /// validation set is evaluated with the inference <c>Forward</c> (evaluation semantics: running statistics, no
    /// dropout); the model's mode is restored when Fit returns or throws.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The trainer was created for a sequence model, which trains on an <see cref="ISequenceDataSource"/> or an <see cref="ISeq2SeqDataSource"/>.</exception>
    public TrainingHistory Fit(IDataSource train, int epochs, int batchSize, IDataSource? validation = null, FitOptions? options = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var model = _examples ?? throw WrongData("an IDataSource of fixed-size examples");
        return InTrainingMode(() =>
        {
            var fit = options ?? new FitOptions();
            CheckCounts(epochs, batchSize);
            CheckData(train, nameof(train));
            if (validation is not null) CheckData(validation, nameof(validation));
            CheckOptions(fit, validation is not null);
            var batches = new ExampleBatches(model, train, batchSize, fit.Shuffle, fit.Seed, fit.Augmentation);
            var held = validation is null ? null : new ExampleBatches(model, validation, Math.Max(batchSize, 256), shuffle: false, seed: 0);
            return FitCore(batches, train.Count, epochs, batchSize, held, fit, progress, cancellationToken);
        });
    }

    /// <summary>
    /// Trains an encoder-decoder on (source, target) token-sequence pairs for <paramref name="epochs"/> epochs, evaluating on
    /// <paramref name="validation"/> after each: each minibatch of <paramref name="batchSize"/> pairs is padded to its longest
    /// source S and target T (<see cref="Seq2SeqBatchLoader"/>), run through <c>ForwardTrain(targetInputs, source, logits, batch,
    /// T, S, targetLengths, sourceLengths)</c>, scored by the loss over its [batch·T] rows of logits (padded positions
    /// ignored: the mean over the batch's labelled tokens) and back-propagated. Everything else is as in the other overload:
    /// shuffling and dropout from (<see cref="FitOptions.Seed"/>, epoch), gradient accumulation (weighted by tokens),
    /// clipping, the schedule, divergence detection, the monitored best epoch, checkpoints and resuming, progress reports.
    /// Losses and accuracies are per token; <see cref="EpochMetrics.SamplesPerSecond"/> counts pairs.
    /// </summary>
    /// <exception cref="InvalidOperationException">The trainer was created for another kind of model (an <see cref="ITrainable"/> trains on an <see cref="IDataSource"/>, an <see cref="ISequenceTrainable{TInput}"/> on an <see cref="ISequenceDataSource"/>).</exception>
    /// <exception cref="ArgumentNullException"><paramref name="train"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// <see cref="FitOptions.Augmentation"/> is set (it applies to float examples), an option needs a validation set that is
    /// missing, a regression metric is monitored, or the checkpoint to resume from was written by a run with other settings.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epochs"/> or <paramref name="batchSize"/> is not positive, an option is out of range, or a token id or label is outside the model's vocabulary or classes (thrown by the model or the loss).</exception>
    /// <exception cref="InvalidDataException">The checkpoint to resume from is malformed or belongs to another model or optimizer.</exception>
    /// <exception cref="IOException">A checkpoint could not be read or written (the message names the file).</exception>
    /// <exception cref="TrainingDivergedException">Training diverged (see <see cref="FitOptions.StopOnDivergence"/>).</exception>
    /// <remarks>
    /// The model trains in training mode whatever its mode before the call and is validated with the inference
    /// <c>Forward</c>; its mode is restored when Fit returns or throws.
    /// </remarks>
    public TrainingHistory Fit(ISeq2SeqDataSource train, int epochs, int batchSize, ISeq2SeqDataSource? validation = null, FitOptions? options = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var model = _pairs ?? throw WrongData("an ISeq2SeqDataSource of sequence pairs");
        return InTrainingMode(() =>
        {
            var fit = options ?? new FitOptions();
            CheckCounts(epochs, batchSize);
            ArgumentNullException.ThrowIfNull(train);
            if (fit.Augmentation is not null)
                throw new ArgumentException("FitOptions.Augmentation applies to float examples; sequence pairs take none.", nameof(options));
            CheckOptions(fit, validation is not null);
            var batches = new PairBatches(model, train, batchSize, fit.Shuffle, fit.Seed);
            var held = validation is null ? null : new PairBatches(model, validation, Math.Max(batchSize, 256), shuffle: false, seed: 0);
            return FitCore(batches, train.Count, epochs, batchSize, held, fit, progress, cancellationToken);
        });
    }

    /// <summary>
    /// Trains a one-input sequence model on token sequences for <paramref name="epochs"/> epochs, evaluating on
    /// <paramref name="validation"/> after each: each minibatch of <paramref name="batchSize"/> sequences is padded to its
    /// longest T (<see cref="SequenceBatchLoader{TInput}"/>), run through <c>ForwardTrain(inputs, output, batch, T, lengths)</c>,
    /// scored by the loss and back-propagated. With an output per position the loss is over the batch's [batch·T] rows of
    /// logits (padded positions ignored: the mean over the batch's labelled tokens, and losses and accuracies are per
    /// token); with one output per sequence it is over the batch's [batch] rows, one label each. Everything else is as in
    /// the other overloads: shuffling and dropout from (<see cref="FitOptions.Seed"/>, epoch), gradient accumulation
    /// (weighted by tokens), clipping, the schedule, divergence detection, the monitored best epoch, checkpoints and
    /// resuming, progress reports. <see cref="EpochMetrics.SamplesPerSecond"/> counts sequences.
    /// </summary>
    /// <exception cref="InvalidOperationException">The trainer was created for another kind of model (an <see cref="ITrainable"/> trains on an <see cref="IDataSource"/>, an <see cref="ISeq2SeqTrainable{TInput, TSource}"/> on an <see cref="ISeq2SeqDataSource"/>).</exception>
    /// <exception cref="ArgumentNullException"><paramref name="train"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// A set has another number of ids per position than the model reads (<see cref="IModel.InputLength"/>), or labels per
    /// position for a model with one output per sequence or the reverse; an example is longer than
    /// the model's <see cref="ISequenceModel{TInput}.MaxLength"/> (the message names the set and the example);
    /// <see cref="FitOptions.Augmentation"/> is set (it applies to float examples); an option needs a validation set that
    /// is missing, a regression metric is monitored, or the checkpoint to resume from was written by a run with other settings.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="epochs"/> or <paramref name="batchSize"/> is not positive, an option is out of range, a label is
    /// neither a class of the model's output nor (per position) <see cref="Loss.DefaultIgnoreIndex"/> (the message names the
    /// set, the example and the position), or a token id is outside the model's vocabulary (thrown by the model).
    /// </exception>
    /// <exception cref="InvalidDataException">
    /// The checkpoint to resume from is malformed or belongs to another model or optimizer, or the data source reports a
    /// length outside [1, its LongestSequence] (the message names the example).
    /// </exception>
    /// <exception cref="IOException">A checkpoint could not be read or written (the message names the file).</exception>
    /// <exception cref="TrainingDivergedException">Training diverged (see <see cref="FitOptions.StopOnDivergence"/>).</exception>
    /// <remarks>
    /// The model trains in training mode whatever its mode before the call and is validated with the inference
    /// <c>Forward</c>; its mode is restored when Fit returns or throws.
    /// </remarks>
    public TrainingHistory Fit(ISequenceDataSource train, int epochs, int batchSize, ISequenceDataSource? validation = null, FitOptions? options = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var model = _sequences ?? throw WrongData("an ISequenceDataSource of token sequences");
        return FitSequences(model, train, epochs, batchSize, validation, options, progress, cancellationToken);
    }

    /// <summary>
    /// Trains a one-input sequence model on float sequences for <paramref name="epochs"/> epochs, evaluating on
    /// <paramref name="validation"/> after each: each minibatch of <paramref name="batchSize"/> sequences is padded with
    /// zero frames to its longest T (<see cref="SequenceBatchLoader{TInput}"/>), run through <c>ForwardTrain(inputs, output,
    /// batch, T, lengths)</c>, scored by the loss and back-propagated. With an output per position the loss is over the
    /// real positions (class labels: padded positions ignored, the mean over labelled tokens; targets: the mean over the
    /// real positions' elements, PyTorch's <c>loss_fn(out[mask], target[mask])</c>), and losses, accuracies and MAE/RMSE/R²
    /// are per position; with one output per sequence it is over the batch's [batch] rows. Everything else is as in the
    /// other overloads: shuffling and dropout from (<see cref="FitOptions.Seed"/>, epoch), gradient accumulation (weighted
    /// by terms), clipping, the schedule, divergence detection, the monitored best epoch, checkpoints and resuming, progress
    /// reports. <see cref="EpochMetrics.SamplesPerSecond"/> counts sequences.
    /// </summary>
    /// <exception cref="InvalidOperationException">The trainer was created for another kind of model.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="train"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// A set's features per position differ from the model's input width, its labels or targets do not suit the model's
    /// output or the loss (class labels for a class loss, <see cref="IModel.OutputLength"/> targets per row for a
    /// regression loss; per position for an output per position), an example is longer than the model's
    /// <see cref="ISequenceModel{TInput}.MaxLength"/> or holds NaN or infinity in its inputs or targets (the message names
    /// the set, the example and the position); <see cref="FitOptions.Augmentation"/> is set; an option needs a validation
    /// set that is missing, a metric of the other kind is monitored, or the checkpoint to resume from was written by a run
    /// with other settings.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="epochs"/> or <paramref name="batchSize"/> is not positive, an option is out of range, or a label is
    /// neither a class of the model's output nor (per position) <see cref="Loss.DefaultIgnoreIndex"/> (the message names the
    /// set, the example and the position).
    /// </exception>
    /// <exception cref="InvalidDataException">
    /// The checkpoint to resume from is malformed or belongs to another model or optimizer, or the data source reports a
    /// length outside [1, its LongestSequence] (the message names the example).
    /// </exception>
    /// <exception cref="IOException">A checkpoint could not be read or written (the message names the file).</exception>
    /// <exception cref="TrainingDivergedException">Training diverged (see <see cref="FitOptions.StopOnDivergence"/>).</exception>
    /// <remarks>
    /// The model trains in training mode whatever its mode before the call and is validated with the inference
    /// <c>Forward</c>; its mode is restored when Fit returns or throws.
    /// </remarks>
    public TrainingHistory Fit(ISequenceDataSource<float> train, int epochs, int batchSize, ISequenceDataSource<float>? validation = null, FitOptions? options = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var model = _frames ?? throw WrongData("an ISequenceDataSource<float> of float sequences");
        return FitSequences(model, train, epochs, batchSize, validation, options, progress, cancellationToken);
    }

    /// <summary>The Fit of both kinds of one-input sequence models: checks, then the shared loop over padded batches.</summary>
    private TrainingHistory FitSequences<TInput>(ISequenceTrainable<TInput> model, ISequenceDataSource<TInput> train, int epochs, int batchSize,
        ISequenceDataSource<TInput>? validation, FitOptions? options, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
        where TInput : unmanaged
    {
        return InTrainingMode(() =>
        {
            var fit = options ?? new FitOptions();
            CheckCounts(epochs, batchSize);
            CheckSequences(model, train, nameof(train));
            if (validation is not null) CheckSequences(model, validation, nameof(validation));
            if (fit.Augmentation is not null)
                throw new ArgumentException($"FitOptions.Augmentation applies to fixed-size float examples; {(typeof(TInput) == typeof(int) ? "token" : "float")} sequences take none.", nameof(options));
            CheckOptions(fit, validation is not null);
            var batches = new SequenceBatches<TInput>(model, train, batchSize, fit.Shuffle, fit.Seed, nameof(train));
            var held = validation is null ? null : new SequenceBatches<TInput>(model, validation, Math.Max(batchSize, 256), shuffle: false, seed: 0, nameof(validation));
            return FitCore(batches, train.Count, epochs, batchSize, held, fit, progress, cancellationToken);
        });
    }

    /// <summary>
    /// Checks that a set suits the sequence model and the loss before any step: its values per position, its kind of labels
    /// or targets match the model's input and output, and no example is longer than the model's
    /// <see cref="ISequenceModel{TInput}.MaxLength"/> (scanned only when the set's longest is).
    /// </summary>
    private void CheckSequences<TInput>(ISequenceTrainable<TInput> model, ISequenceDataSource<TInput> data, string name) where TInput : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data, name);
        string output = $"[{string.Join(", ", model.OutputShapeDims.ToArray())}]";
        string values = typeof(TInput) == typeof(int) ? "ids" : "features";
        if (data.InputLength != model.InputLength)
            throw new ArgumentException(typeof(TInput) == typeof(int) && data.InputLength == 1
                ? $"The {name} set has 1 id per position, but the model reads {model.InputLength}: give {model.InputLength} ids per position (new SequenceDataset(inputs, labels, idsPerPosition: {model.InputLength}))."
                : $"The {name} set has {data.InputLength} {values} per position, but the model reads {model.InputLength}.", name);
        string kind = data.TargetLength == 0 ? "label" : "target row";
        if (data.LabelsPerPosition != OutputPerPosition(model))
            throw new ArgumentException(data.LabelsPerPosition
                ? $"The {name} set has a {kind} per position, but the model outputs {output} per sequence (pooled over time): give one {kind} per sequence."
                : $"The {name} set has one {kind} per sequence, but the model outputs {output}, a row per position: give a {kind} per position.", name);
        if (_loss.UsesLabels && data.TargetLength != 0)
            throw new ArgumentException($"The {_loss.Name} loss needs class labels, but the {name} set has float targets.", name);
        if (!_loss.UsesLabels && data.TargetLength != model.OutputLength)
            throw new ArgumentException(data.TargetLength == 0
                ? $"The {_loss.Name} loss needs float targets, but the {name} set has class labels."
                : $"The {_loss.Name} loss needs {model.OutputLength} targets per row (the model's output), but the {name} set has {data.TargetLength}.", name);
        int max = model.MaxLength;
        if (max <= 0 || data.LongestSequence <= max) return;
        for (int i = 0; i < data.Count; i++)
            if (data.Length(i) > max)
                throw new ArgumentException($"Example {i} of the {name} set has {data.Length(i)} positions, more than the model's MaxLength {max}: shorten or split it.", name);
    }

    /// <summary>The kind of data this trainer's model trains on, as the error for another kind names it.</summary>
    private string TrainsOn => _examples is not null ? "an IDataSource of fixed-size examples" : _pairs is not null ? "an ISeq2SeqDataSource of sequence pairs"
        : _sequences is not null ? "an ISequenceDataSource of token sequences" : "an ISequenceDataSource<float> of float sequences";

    private InvalidOperationException WrongData(string expected) =>
        new($"This trainer's model ({_model.GetType().Name}) trains on {TrainsOn}, not on {expected}: call the Fit or Evaluate overload for that.");

    /// <summary>Runs <paramref name="fit"/> with the model in training mode and restores its mode afterwards, also when it throws.</summary>
    private TrainingHistory InTrainingMode(Func<TrainingHistory> fit)
    {
        bool wasTraining = _model.IsTraining;
        _model.Train();
        try
        {
            return fit();
        }
        finally
        {
            _model.Train(wasTraining);
        }
    }

    private static void CheckCounts(int epochs, int batchSize)
    {
        if (epochs <= 0) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "must be positive");
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be positive");
    }

    private void CheckOptions(FitOptions options, bool hasValidation)
    {
        if (options.EarlyStoppingPatience is not null && !hasValidation)
            throw new ArgumentException("Early stopping needs a validation set.", nameof(options));
        if (options.Monitor != Metric.Loss && !hasValidation)
            throw new ArgumentException($"FitOptions.Monitor = {options.Monitor} needs a validation set.", nameof(options));
        if (!Enum.IsDefined(options.Monitor))
            throw new ArgumentOutOfRangeException(nameof(options), options.Monitor, "FitOptions.Monitor is not a Metric.");
        if (!Enum.IsDefined(options.MonitorMode))
            throw new ArgumentOutOfRangeException(nameof(options), options.MonitorMode, "FitOptions.MonitorMode is not a MetricMode.");
        if (IsClassificationMetric(options.Monitor) && !_loss.UsesLabels)
            throw new ArgumentException($"FitOptions.Monitor = {options.Monitor} needs class labels, but the {_loss.Name} loss uses targets.", nameof(options));
        if (options.Monitor is Metric.Mae or Metric.Rmse or Metric.R2 && _loss.UsesLabels)
            throw new ArgumentException($"FitOptions.Monitor = {options.Monitor} is a regression metric, but the {_loss.Name} loss uses class labels.", nameof(options));
        if (!(options.VanishingGradientNorm > 0 && options.VanishingGradientNorm < options.ExplodingGradientNorm && float.IsFinite(options.ExplodingGradientNorm)))
            throw new ArgumentOutOfRangeException(nameof(options), (options.VanishingGradientNorm, options.ExplodingGradientNorm),
                "FitOptions.VanishingGradientNorm must be positive and below FitOptions.ExplodingGradientNorm, which must be finite.");
        if (options.TopK < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.TopK, "FitOptions.TopK must be at least 1.");
        if (options.GradientClipNorm is { } clip && !(clip >= 0))
            throw new ArgumentOutOfRangeException(nameof(options), clip, "FitOptions.GradientClipNorm must be >= 0.");
        if (!(options.DivergenceFactor > 1 && float.IsFinite(options.DivergenceFactor)))
            throw new ArgumentOutOfRangeException(nameof(options), options.DivergenceFactor, "FitOptions.DivergenceFactor must be finite and greater than 1.");
        if (options.GradientAccumulationSteps < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.GradientAccumulationSteps, "FitOptions.GradientAccumulationSteps must be at least 1.");
        if (options.CheckpointEveryEpochs < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.CheckpointEveryEpochs, "FitOptions.CheckpointEveryEpochs must be at least 1.");
    }

    private TrainingHistory FitCore(Batches loader, int trainCount, int epochs, int batchSize, Batches? validation, FitOptions options,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        int outputLength = _model.OutputLength;
        // Optimizer steps: one per group of GradientAccumulationSteps minibatches; a group never spans two epochs.
        int accumulation = options.GradientAccumulationSteps;
        int updatesPerEpoch = loader.PerEpoch / accumulation + (loader.PerEpoch % accumulation == 0 ? 0 : 1);
        int totalSteps = epochs * updatesPerEpoch;
        bool minimize = options.MonitorMode == MetricMode.Min || (options.MonitorMode == MetricMode.Auto && LowerIsBetter(options.Monitor));

        var settings = new RunSettings(epochs, batchSize, options.Seed, options.Shuffle, accumulation, trainCount,
            _baseLearningRate, validation is not null, options.Monitor, minimize, options.EarlyStoppingPatience, options.RestoreBestWeights);
        var run = options.ResumeFrom is { } resumePath
            ? Resume(resumePath, settings)
            : new RunState { BestValue = minimize ? double.PositiveInfinity : double.NegativeInfinity };
        bool watch = options.StopOnDivergence;
        // Metric accumulators, sized once: adding a batch to them allocates nothing.
        bool trainMetrics = options.ComputeMetrics;
        bool validationMetrics = validation is not null && (options.ComputeMetrics || options.Monitor is not (Metric.Loss or Metric.Accuracy));
        var trainClassification = trainMetrics && _loss.UsesLabels ? new ClassificationMetrics(outputLength, options.TopK) : null;
        var trainRegression = trainMetrics && !_loss.UsesLabels ? new RegressionMetrics(outputLength) : null;
        var validationClassification = validationMetrics && _loss.UsesLabels ? new ClassificationMetrics(outputLength, options.TopK) : null;
        var validationRegression = validationMetrics && !_loss.UsesLabels ? new RegressionMetrics(outputLength) : null;
        var gradientMonitor = options.TrackGradients ? new GradientMonitor(_model) : null;

        for (int epoch = run.EpochsDone + 1; epoch <= epochs && !run.StoppedEarly; epoch++)
        {
            var clock = Stopwatch.StartNew();
            loader.StartEpoch(epoch - 1);
            // Dropout draws from a generator derived from (seed, epoch), like the loader's order and augmentation, so the
            // epoch number is the whole random state a checkpoint needs to resume at an epoch boundary.
            SeedDropout(Rng.Derive(options.Seed ^ DropoutSalt, (ulong)(epoch - 1)).NextUInt64());
            double lossSum = 0;
            long correct = 0, seen = 0, terms = 0;   // seen: examples; terms: what the loss averages (examples or tokens)
            int epochStep = 0;
            int groupTerms = 0, groupBatches = 0;
            trainClassification?.Reset();
            trainRegression?.Reset();
            while (loader.TryNext())
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = loader.Size, count = loader.Terms;
                float loss = loader.Forward(_loss, train: true);
                if (watch)
                {
                    // Scalar work only. The gradients are cleared after this check, so a non-finite loss can still be
                    // traced to the previous step's gradients (the update they drove is what poisoned the parameters).
                    if (!float.IsFinite(loss))
                        throw NonFiniteLoss(loss, epoch, epochStep + 1, loader.PerEpoch, run.Step > 0, loader);
                    if (run.Step == 0)
                        run.FirstLoss = run.RunningLoss = loss;
                    else if (loss > options.DivergenceFactor * run.RunningLoss && loss > run.FirstLoss && run.RunningLoss > 0)
                        throw Diverged($"the {_loss.Name} loss is {loss:G4}, more than {options.DivergenceFactor:G4} × its running mean {run.RunningLoss:G4}",
                            epoch, epochStep + 1, loader.PerEpoch, loss, null);
                    else
                        run.RunningLoss += (loss - run.RunningLoss) / 16;
                }
                if (groupBatches == 0) Gradients.Clear();
                // Accumulating: each minibatch's mean-loss gradient is weighted by its loss terms (rows or tokens), and the
                // sum is divided by the group's terms before the step, so the update is that of the mean loss over the group.
                if (accumulation > 1) GradientClipping.Scale(loader.DOutput, count);
                loader.Backward();
                groupTerms += count;
                groupBatches++;
                bool endOfGroup = groupBatches == accumulation || epochStep + 1 == loader.PerEpoch;
                if (endOfGroup && accumulation > 1) GradientClipping.Scale(Gradients, 1f / Math.Max(1, groupTerms));
                if (endOfGroup) gradientMonitor?.RecordGradients(Gradients);
                if (endOfGroup && options.GradientClipNorm is { } maxNorm)
                {
                    float norm = (float)Math.Sqrt(GradientClipping.SumOfSquares(Gradients));
                    // A norm overflows to ∞ for finite gradients above ~1e19 too; only NaN or ∞ among them is a divergence.
                    if (watch && !float.IsFinite(norm) && Finiteness.FirstNonFinite(_model, Gradients) is { } bad)
                        throw Diverged($"the gradient of {Describe(bad)} is not finite (the {_loss.Name} loss was {loss:G4})",
                            epoch, epochStep + 1, loader.PerEpoch, loss, bad.Layer);
                    GradientClipping.ClipToNorm(Gradients, maxNorm, norm);
                }
                if (endOfGroup)
                {
                    _optimizer.LearningRate = _baseLearningRate * _schedule.Factor(run.Update, totalSteps, updatesPerEpoch);
                    gradientMonitor?.BeforeStep();
                    _optimizer.Step(_model, Gradients);
                    gradientMonitor?.AfterStep();
                    run.Update++;
                    groupTerms = groupBatches = 0;
                }

                lossSum += (double)loss * count;
                if (_loss.UsesLabels) correct += CountCorrect(loader.Output, loader.Labels, outputLength);
                trainClassification?.Add(loader.Output, loader.Labels);
                trainRegression?.Add(loader.Output, loader.Targets);
                seen += n;
                terms += count;
                run.Step++;
                epochStep++;
                if (progress is not null && epochStep % Math.Max(1, options.ReportEverySteps) == 0)
                    progress.Report(new TrainingProgress(epoch, epochs, epochStep, loader.PerEpoch, (float)(lossSum / terms),
                        _loss.UsesLabels ? (float)correct / terms : float.NaN, seen / clock.Elapsed.TotalSeconds, null));
            }
            double trainSeconds = clock.Elapsed.TotalSeconds;
            // Once per epoch: a NaN can hide from the loss (a ReLU maps it to 0) while it sits in a parameter.
            if (watch && Finiteness.FirstNonFinite(_model, _model.Parameters) is { } poisoned)
                throw Diverged($"the parameters of {Describe(poisoned)} are not finite after the epoch's last step",
                    epoch, epochStep, loader.PerEpoch, float.NaN, poisoned.Layer);

            validationClassification?.Reset();
            validationRegression?.Reset();
            Evaluation? val = validation is null ? null
                : EvaluateCore(validation, validationClassification, validationRegression);
            var metrics = new EpochMetrics(epoch, (float)(lossSum / terms), _loss.UsesLabels ? (float)correct / terms : float.NaN,
                val?.Loss, val?.Accuracy, _optimizer.LearningRate, clock.Elapsed, seen / trainSeconds,
                trainMetrics ? Scores(trainClassification, trainRegression) : null,
                validationMetrics ? Scores(validationClassification, validationRegression) : null,
                gradientMonitor?.Finish(epoch, options.VanishingGradientNorm, options.ExplodingGradientNorm));
            run.History.Add(metrics);
            run.EpochsDone = epoch;
            // Once per epoch, PyTorch's scheduler.step(val_loss): metric-driven schedules (ReduceOnPlateau) update here
            // and the next epoch's steps see the result; step-driven schedules ignore it.
            _schedule.ReportMetric(val?.Loss ?? metrics.TrainLoss, run.Update, Math.Max(1, updatesPerEpoch));
            progress?.Report(new TrainingProgress(epoch, epochs, epochStep, loader.PerEpoch, metrics.TrainLoss, metrics.TrainAccuracy, metrics.SamplesPerSecond, metrics));

            if (validation is not null && metrics.Value(options.Monitor, validation: true) is { } value)
            {
                if (minimize ? value < run.BestValue : value > run.BestValue)
                {
                    run.BestValue = value;
                    run.BestEpoch = epoch;
                    if (options.RestoreBestWeights)
                    {
                        run.BestParameters ??= new float[_model.Parameters.Length + _model.Buffers.Length];
                        _model.Parameters.CopyTo(run.BestParameters);
                        _model.Buffers.CopyTo(run.BestParameters.AsSpan(_model.Parameters.Length));   // its running statistics too
                    }
                }
                else if (options.EarlyStoppingPatience is { } patience && epoch - run.BestEpoch >= patience)
                {
                    run.StoppedEarly = true;
                }
            }
            if (options.CheckpointPath is { } checkpoint
                && (epoch % options.CheckpointEveryEpochs == 0 || epoch == epochs || run.StoppedEarly))
                WriteCheckpoint(checkpoint, settings, run);
        }
        bool restored = options.RestoreBestWeights && run.BestParameters is not null && run.BestEpoch != run.EpochsDone;
        if (restored) Serialization.ModelWeights.CopyInto(_model, run.BestParameters);
        return new TrainingHistory(run.History.ToArray(), run.BestEpoch == 0 ? run.History.Count : run.BestEpoch, run.StoppedEarly,
            options.RestoreBestWeights && run.BestParameters is not null);
    }

    /// <summary>Whether lower values of <paramref name="metric"/> are better (<see cref="MetricMode.Auto"/>).</summary>
    internal static bool LowerIsBetter(Metric metric) => metric is Metric.Loss or Metric.Mae or Metric.Rmse;

    private static bool IsClassificationMetric(Metric metric) => metric is Metric.Accuracy or Metric.TopKAccuracy
        or Metric.MacroPrecision or Metric.MacroRecall or Metric.MacroF1 or Metric.WeightedPrecision or Metric.WeightedRecall or Metric.WeightedF1;

    /// <summary>The scalar metrics of one set, for <see cref="EpochMetrics"/> (accuracy and the loss have their own columns).</summary>
    private static Dictionary<Metric, float> Scores(ClassificationMetrics? classification, RegressionMetrics? regression)
    {
        var scores = new Dictionary<Metric, float>();
        if (classification is not null)
        {
            var report = classification.Report();
            foreach (Metric m in (ReadOnlySpan<Metric>)[Metric.TopKAccuracy, Metric.MacroPrecision, Metric.MacroRecall, Metric.MacroF1,
                         Metric.WeightedPrecision, Metric.WeightedRecall, Metric.WeightedF1])
                scores[m] = (float)report.Value(m);
        }
        if (regression is not null)
        {
            var report = regression.Report();
            foreach (Metric m in (ReadOnlySpan<Metric>)[Metric.Mae, Metric.Rmse, Metric.R2])
                scores[m] = (float)report.Value(m);
        }
        return scores;
    }

    /// <summary>
    /// Explains a non-finite loss: the previous step's gradients (still in the buffer) were not finite, or the
    /// parameters are not (the optimizer overflowed), or the batch's inputs are not, or else the forward pass overflowed.
    /// </summary>
    private TrainingDivergedException NonFiniteLoss(float loss, int epoch, int step, int steps, bool hasPreviousGradients, Batches batch)
    {
        string cause;
        string? layer = null;
        if (hasPreviousGradients && Finiteness.FirstNonFinite(_model, Gradients) is { } gradient)
        {
            (layer, cause) = (gradient.Layer, $"the previous step's gradient of {Describe(gradient)} was not finite, and the update it drove made the parameters non-finite");
        }
        else if (Finiteness.FirstNonFinite(_model, _model.Parameters) is { } parameter)
        {
            (layer, cause) = (parameter.Layer, $"the parameters of {Describe(parameter)} are not finite");
        }
        else if (batch.NonFiniteInput() is { } input)
        {
            cause = $"the batch's inputs are not finite ({input})";
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
    /// <exception cref="InvalidOperationException">The trainer was created for a sequence model.</exception>
    /// <exception cref="ArgumentException">The data does not match the model or the loss.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    public Evaluation Evaluate(IDataSource data, int batchSize = 256)
    {
        var model = _examples ?? throw WrongData("an IDataSource of fixed-size examples");
        CheckData(data, nameof(data));
        return EvaluateCore(new ExampleBatches(model, data, batchSize, shuffle: false, seed: 0), null, null);
    }

    /// <summary>
    /// Mean loss and accuracy per labelled target token of an encoder-decoder (inference <c>Forward</c>, teacher-forced:
    /// every position sees the true target-side input) on <paramref name="data"/>; <see cref="Evaluation.Count"/> counts pairs.
    /// </summary>
    /// <exception cref="InvalidOperationException">The trainer was created for another kind of model.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive, or a token id or label is outside the model's vocabulary or classes.</exception>
    public Evaluation Evaluate(ISeq2SeqDataSource data, int batchSize = 256)
    {
        var model = _pairs ?? throw WrongData("an ISeq2SeqDataSource of sequence pairs");
        ArgumentNullException.ThrowIfNull(data);
        return EvaluateCore(new PairBatches(model, data, batchSize, shuffle: false, seed: 0), null, null);
    }

    /// <summary>
    /// Mean loss and accuracy of a one-input sequence model (inference <c>Forward</c>) on <paramref name="data"/>: per
    /// labelled token for an output per position, per sequence for one output per sequence; <see cref="Evaluation.Count"/>
    /// counts sequences.
    /// </summary>
    /// <exception cref="InvalidOperationException">The trainer was created for another kind of model.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">The set's kind of labels does not match the model's output, or an example is longer than the model's MaxLength (the message names it).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive, a label is not a class of the model's output (the message names the example), or a token id is outside the model's vocabulary.</exception>
    public Evaluation Evaluate(ISequenceDataSource data, int batchSize = 256)
    {
        var model = _sequences ?? throw WrongData("an ISequenceDataSource of token sequences");
        CheckSequences(model, data, nameof(data));
        return EvaluateCore(new SequenceBatches<int>(model, data, batchSize, shuffle: false, seed: 0, nameof(data)), null, null);
    }

    /// <summary>
    /// Mean loss and accuracy of a one-input float-sequence model (inference <c>Forward</c>) on <paramref name="data"/>: per
    /// real position for an output per position (labelled positions with class labels), per sequence for one output per
    /// sequence; <see cref="Evaluation.Accuracy"/> is NaN for a loss over targets. <see cref="Evaluation.Count"/> counts sequences.
    /// </summary>
    /// <exception cref="InvalidOperationException">The trainer was created for another kind of model.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">The set does not suit the model or the loss (features per position, kind of labels or targets), or an example is longer than the model's MaxLength or holds NaN or infinity (the message names it).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive, or a label is not a class of the model's output (the message names the example).</exception>
    public Evaluation Evaluate(ISequenceDataSource<float> data, int batchSize = 256)
    {
        var model = _frames ?? throw WrongData("an ISequenceDataSource<float> of float sequences");
        CheckSequences(model, data, nameof(data));
        return EvaluateCore(new SequenceBatches<float>(model, data, batchSize, shuffle: false, seed: 0, nameof(data)), null, null);
    }

    /// <summary><see cref="Evaluate(IDataSource, int)"/>, also feeding each batch's outputs to the given metric accumulators.</summary>
    private Evaluation EvaluateCore(Batches data, ClassificationMetrics? classification, RegressionMetrics? regression)
    {
        data.StartEpoch(0);
        int outputLength = _model.OutputLength;
        double lossSum = 0;
        long correct = 0, seen = 0, terms = 0;
        while (data.TryNext())
        {
            int count = data.Terms;
            lossSum += (double)data.Forward(_loss, train: false) * count;
            if (_loss.UsesLabels) correct += CountCorrect(data.Output, data.Labels, outputLength);
            classification?.Add(data.Output, data.Labels);
            regression?.Add(data.Output, data.Targets);
            seen += data.Size;
            terms += count;
        }
        return new Evaluation((float)(lossSum / terms), _loss.UsesLabels ? (float)correct / terms : float.NaN, (int)seen);
    }

    /// <summary>The model's gradient buffer, whichever kind of model it is.</summary>
    private Span<float> Gradients => _examples is not null ? _examples.Gradients : _pairs is not null ? _pairs.Gradients
        : _sequences is not null ? _sequences.Gradients : _frames!.Gradients;

    private void SeedDropout(ulong seed)
    {
        if (_examples is not null) _examples.SeedDropout(seed);
        else if (_pairs is not null) _pairs.SeedDropout(seed);
        else if (_sequences is not null) _sequences.SeedDropout(seed);
        else _frames!.SeedDropout(seed);
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
