// Next-character training, one step at a time, with a CharTrainingRecipe (the issue's or the sample's): B random windows of
// T + 1 characters, logits for all B·T positions, cross-entropy over those B·T rows (mean), backward, gradient
// clipping to a global L2 norm of 1, AdamW at the scheduled learning rate. Works on any ISequenceTrainable<int>;
// every buffer is allocated in the constructor, so a step allocates nothing once the model's arenas have grown.
using ModelGen;

namespace TextGen;

/// <summary>
/// A training recipe for the character models: AdamW (betas 0.9/0.99, eps 1e-8, weight decay 0.01 on every parameter),
/// gradients clipped to a global L2 norm of 1, <see cref="BatchSize"/> random windows per step, and the learning rate
/// <c>LearningRate · Schedule.Factor(t, steps)</c>: a linear warm-up <c>(t+1)/WarmupSteps</c>, then a cosine from 1 down to
/// <see cref="MinFactor"/> at the last step.
/// </summary>
/// <param name="Name">As given to <c>--recipe</c>.</param>
/// <param name="LearningRate">AdamW's peak learning rate.</param>
/// <param name="WarmupSteps">Steps of linear warm-up.</param>
/// <param name="MinFactor">The floor of the cosine, as a fraction of <paramref name="LearningRate"/>.</param>
/// <param name="Steps">Training steps when <c>--steps</c> is not given (the schedule spans the steps actually run).</param>
/// <param name="BatchSize">Windows per step when <c>--batch-size</c> is not given.</param>
public sealed record CharTrainingRecipe(string Name, float LearningRate, int WarmupSteps, float MinFactor, int Steps, int BatchSize)
{
    /// <summary>
    /// The model named <paramref name="name"/> as this recipe trains it: <c>gpt</c> under <see cref="Torch"/> is
    /// <see cref="TextGenModel.GptTorch"/> (the calibration's network), else <see cref="TextGenModel.For"/>'s. Here rather
    /// than in TextGenModels.cs, which samples/TextGen.Generate shares and which knows nothing of training.
    /// </summary>
    /// <exception cref="ArgumentException">No model has that name; the message lists the names.</exception>
    public TextGenModel ModelFor(string name)
    {
        var model = TextGenModel.For(name);
        return model == TextGenModel.Gpt && this == Torch ? TextGenModel.GptTorch : model;
    }

    /// <summary>AdamW's moment decay rates (PyTorch <c>betas=(0.9, 0.99)</c>).</summary>
    public const float Beta1 = 0.9f, Beta2 = 0.99f;

    /// <summary>AdamW's decoupled weight decay, applied to every parameter.</summary>
    public const float WeightDecay = 0.01f;

    /// <summary>Gradients are scaled to this global L2 norm when larger (<c>clip_grad_norm_(1.0)</c>).</summary>
    public const float ClipNorm = 1f;

    /// <summary>
    /// The issue's calibration recipe (<c>--recipe torch</c>), the one libtorch ran: peak 1e-3, <c>lr = 1e-3·(t+1)/200</c> for the
    /// first 200 steps, then <c>1e-4 + 0.45e-3·(1 + cos(π(t−200)/1800))</c>, 2,000 steps of 32 windows. With <c>--model gpt</c> it
    /// trains <see cref="CharGptTorch"/>, the calibration's network.
    /// </summary>
    public static CharTrainingRecipe Torch { get; } = new("torch", 1e-3f, 200, 0.1f, 2000, 32);

    /// <summary>
    /// The sample's default recipe (<c>--recipe sample</c>): the same optimiser and clipping at a 3× higher peak (3e-3) with a
    /// 100-step warm-up, cosine to 3e-4 over 2,000 steps of 32 windows, for <see cref="CharGpt"/> (no dropout: seeing ~6M
    /// characters once, the model underfits, so dropout only slows it). See the README for what it reaches and how fast.
    /// </summary>
    public static CharTrainingRecipe Sample { get; } = new("sample", 3e-3f, 100, 0.1f, 2000, 32);

    /// <summary>Every recipe, by <see cref="Name"/>.</summary>
    public static IReadOnlyList<CharTrainingRecipe> All { get; } = [Sample, Torch];

    /// <summary>The recipe named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No recipe has that name; the message lists the names.</exception>
    public static CharTrainingRecipe For(string name)
    {
        foreach (var recipe in All)
            if (recipe.Name == name) return recipe;
        throw new ArgumentException($"Unknown recipe '{name}'; expected one of: {string.Join(", ", All.Select(r => r.Name))}.", nameof(name));
    }

    /// <summary>
    /// The learning-rate factor: <c>(t+1)/WarmupSteps</c> for t &lt; WarmupSteps, then
    /// <c>MinFactor + (1 − MinFactor)/2 · (1 + cos(π(t−WarmupSteps)/(total−WarmupSteps)))</c>.
    /// </summary>
    public Schedule Schedule { get; } = Schedule.WarmupCosine(WarmupSteps, MinFactor);

    /// <summary>A fresh AdamW with the recipe's hyper-parameters (eps 1e-8, PyTorch's default).</summary>
    public AdamW CreateOptimizer() => new(LearningRate, Beta1, Beta2, 1e-8f, WeightDecay);
}

/// <summary>Trains a next-character model with a <see cref="CharTrainingRecipe"/>. Not thread-safe.</summary>
public sealed class LanguageModelTrainer
{
    private readonly ISequenceTrainable<int> _model;
    private readonly TrainingWindows _windows;
    private readonly CharTrainingRecipe _recipe;
    private readonly AdamW _optimizer;
    private readonly Loss _loss = Loss.CrossEntropy;
    private readonly float[] _logits;    // [B, T, V]
    private readonly float[] _dLogits;   // [B, T, V]

    /// <summary>Prepares training of <paramref name="model"/> on <paramref name="text"/>.</summary>
    /// <param name="model">The model (ids [B, T] → logits [B, T, <paramref name="vocabularySize"/>]).</param>
    /// <param name="text">The encoded training text.</param>
    /// <param name="vocabularySize">Logits per position.</param>
    /// <param name="batchSize">Windows per step (B).</param>
    /// <param name="context">Positions per window (T).</param>
    /// <param name="totalSteps">Steps of the run, which the schedule spans.</param>
    /// <param name="seed">Seed of the window offsets (the model's initialisation is the caller's).</param>
    /// <param name="recipe">The optimiser and schedule (default: <see cref="CharTrainingRecipe.Torch"/>, the issue's).</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="text"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size or <paramref name="totalSteps"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The text is shorter than one window.</exception>
    public LanguageModelTrainer(ISequenceTrainable<int> model, int[] text, int vocabularySize, int batchSize, int context, int totalSteps, ulong seed,
        CharTrainingRecipe? recipe = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _recipe = recipe ?? CharTrainingRecipe.Torch;
        _optimizer = _recipe.CreateOptimizer();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        _model = model;
        _windows = new TrainingWindows(text, batchSize, context, seed);
        VocabularySize = vocabularySize;
        TotalSteps = totalSteps;
        _logits = new float[checked(batchSize * context * vocabularySize)];
        _dLogits = new float[_logits.Length];
    }

    /// <summary>Logits per position.</summary>
    public int VocabularySize { get; }

    /// <summary>Steps the schedule spans.</summary>
    public int TotalSteps { get; }

    /// <summary>Steps taken so far.</summary>
    public int StepsDone { get; private set; }

    /// <summary>Characters predicted per step: B·T.</summary>
    public int CharactersPerStep => _windows.BatchSize * _windows.WindowLength;

    /// <summary>The learning rate of the last step.</summary>
    public float LearningRate => _optimizer.LearningRate;

    /// <summary>The global gradient norm of the last step, before clipping.</summary>
    public float GradientNorm { get; private set; }

    /// <summary>
    /// One training step: the next batch of windows, <c>ForwardTrain</c>, the mean cross-entropy over the B·T positions,
    /// <c>Backward</c>, clipping to <see cref="CharTrainingRecipe.ClipNorm"/>, and an AdamW step at
    /// <c>LearningRate · Schedule.Factor(step, TotalSteps)</c> of the recipe.
    /// </summary>
    /// <returns>The batch's mean loss in nats per character (before the update).</returns>
    public float Step()
    {
        _windows.Next();
        int batch = _windows.BatchSize, seq = _windows.WindowLength;
        _model.Gradients.Clear();
        _model.ForwardTrain(_windows.Inputs, _logits, batch, seq);
        // One row of V logits per position with its next character as label: PyTorch's cross_entropy(logits.view(-1, V), y.view(-1)).
        float loss = _loss.Compute(_logits, _windows.Targets, default, _dLogits, batch * seq);
        _model.Backward(_dLogits, default);
        GradientNorm = GradientClipping.ClipByGlobalNorm(_model.Gradients, CharTrainingRecipe.ClipNorm);
        // Past TotalSteps the schedule stays at its floor, so a continued run keeps training at MinFactor · LearningRate.
        _optimizer.LearningRate = _recipe.LearningRate * _recipe.Schedule.Factor(StepsDone, TotalSteps);
        _optimizer.Step(_model, _model.Gradients);
        StepsDone++;
        return loss;
    }
}
