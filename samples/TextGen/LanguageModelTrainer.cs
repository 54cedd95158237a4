// Next-character training, one step at a time, with the recipe (CharTrainingRecipe): B random windows of
// T + 1 characters, logits for all B·T positions, cross-entropy over those B·T rows (mean), backward, gradient
// clipping to a global L2 norm of 1, AdamW at the scheduled learning rate. Works on any ISequenceTrainable<int>;
// every buffer is allocated in the constructor, so a step allocates nothing once the model's arenas have grown.
using ModelGen;

namespace TextGen;

/// <summary>The training recipe for the character models.</summary>
public static class CharTrainingRecipe
{
    /// <summary>AdamW's peak learning rate.</summary>
    public const float LearningRate = 1e-3f;

    /// <summary>AdamW's moment decay rates (PyTorch <c>betas=(0.9, 0.99)</c>).</summary>
    public const float Beta1 = 0.9f, Beta2 = 0.99f;

    /// <summary>AdamW's decoupled weight decay, applied to every parameter.</summary>
    public const float WeightDecay = 0.01f;

    /// <summary>Gradients are scaled to this global L2 norm when larger (<c>clip_grad_norm_(1.0)</c>).</summary>
    public const float ClipNorm = 1f;

    /// <summary>Steps of linear warm-up: <c>lr = 1e-3·(t+1)/200</c>.</summary>
    public const int WarmupSteps = 200;

    /// <summary>The floor of the cosine: <c>1e-4 = 0.1 · 1e-3</c>.</summary>
    public const float MinFactor = 0.1f;

    /// <summary>Training steps of the recipe.</summary>
    public const int Steps = 2000;

    /// <summary>Windows per batch.</summary>
    public const int BatchSize = 32;

    /// <summary>
    /// The learning-rate factor: <c>(t+1)/200</c> for t &lt; 200, then <c>0.1 + 0.45·(1 + cos(π(t−200)/(total−200)))</c>, so with
    /// 2,000 steps <c>lr(t) = 1e-4 + 0.45e-3·(1 + cos(π(t−200)/1800))</c>.
    /// </summary>
    public static Schedule Schedule { get; } = Schedule.WarmupCosine(WarmupSteps, MinFactor);

    /// <summary>A fresh AdamW with the recipe's hyper-parameters (eps 1e-8, PyTorch's default).</summary>
    public static AdamW CreateOptimizer() => new(LearningRate, Beta1, Beta2, 1e-8f, WeightDecay);
}

/// <summary>Trains a next-character model with <see cref="CharTrainingRecipe"/>. Not thread-safe.</summary>
public sealed class LanguageModelTrainer
{
    private readonly ISequenceTrainable<int> _model;
    private readonly TrainingWindows _windows;
    private readonly AdamW _optimizer = CharTrainingRecipe.CreateOptimizer();
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
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="text"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size or <paramref name="totalSteps"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The text is shorter than one window.</exception>
    public LanguageModelTrainer(ISequenceTrainable<int> model, int[] text, int vocabularySize, int batchSize, int context, int totalSteps, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(model);
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
    /// <c>1e-3 · Schedule.Factor(step, TotalSteps)</c>.
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
        // Past TotalSteps the schedule stays at its floor, so a continued run keeps training at 1e-4.
        _optimizer.LearningRate = CharTrainingRecipe.LearningRate * CharTrainingRecipe.Schedule.Factor(StepsDone, TotalSteps);
        _optimizer.Step(_model, _model.Gradients);
        StepsDone++;
        return loss;
    }
}
