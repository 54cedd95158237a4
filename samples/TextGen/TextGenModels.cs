// The character-level language models the sample can train, behind one factory (TextGenModel.For) so the training
// loop, the evaluation and the sampler only ever see an ISequenceTrainable<int> and a NextTokenLogits.
//   lstm   CharLstm: embedding, one LSTM layer, a linear head per position. A real char-level LSTM language model
//          built from layers that exist today; samples incrementally through its recurrent state.
//   gpt    the causal character Transformer: token and learned position embeddings, four pre-LN causal blocks (d 128,
//          4 heads, FFN 512), a final LayerNorm and a linear head; samples incrementally through its key/value cache
//          (ForwardStep). Two declarations: CharGpt (the sample's recipe, no dropout) and CharGptTorch (the issue's
//          calibration network, trained by --recipe torch: 96 logits, dropout 0.1 on the embedding sum and on the
//          attention and feed-forward outputs, none inside the feed-forward block).
using ModelGen;

namespace TextGen;

/// <summary>Sizes shared by the models, the data and the evaluation.</summary>
public static class TextSizes
{
    /// <summary>Character ids: the Brown training text's 83 characters plus &lt;unk&gt; (checked against the data at start-up).</summary>
    public const int Vocabulary = CharVocabulary.BrownSize;

    /// <summary>The logits of the issue's calibration network (<see cref="CharGptTorch"/>): 96, of which the first 84 are characters.</summary>
    public const int CalibrationVocabulary = 96;

    /// <summary>T: the training window and the evaluation window (the Transformer's <c>MaxLength</c>).</summary>
    public const int Context = 128;
}

/// <summary>Character ids [T] → next-character logits [T, 84]: a one-layer LSTM language model (char-rnn).</summary>
[Model(Dim.Seq, InputType = typeof(int))]
public partial class CharLstm
{
    [Embedding(TextSizes.Vocabulary, 64)] public partial Layer Emb { get; }
    [LSTM(128)]                           public partial Layer Lstm { get; }
    [Dense(TextSizes.Vocabulary)]         public partial Layer Head { get; }
}

/// <summary>
/// Character ids [T] → next-character logits [T, 84]: the issue's character-level GPT without dropout, which the sample's
/// own recipe trains (<see cref="CharTrainingRecipe.Sample"/>: at ~10M characters seen the model underfits, so dropout only slows it).
/// </summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = TextSizes.Context)]
public partial class CharGpt
{
    [Embedding(TextSizes.Vocabulary, 128)]      public partial Layer Tok { get; }
    [PositionEmbedding(TextSizes.Context)]      public partial Layer Pos { get; }
    [TransformerEncoder(Heads = 4, FeedForward = 512, NormFirst = true, Causal = true, Layers = 4, Dropout = 0)]
                                                public partial Layer Blocks { get; }
    [LayerNorm]                                 public partial Layer LnF { get; }
    [Dense(TextSizes.Vocabulary)]               public partial Layer Head { get; }
}

/// <summary>
/// Character ids [T] → logits [T, 96]: the issue's calibration network exactly as libtorch trained it: Embedding(96, 128)
/// (ids 84..95 never occur, their logits are learned down), learned positions (nn.Embedding, N(0, 1)), dropout 0.1 on the
/// embedding sum and on the attention and feed-forward block outputs but neither on the attention weights nor inside the
/// feed-forward block (<c>FeedForwardDropout = 0</c>), a final LayerNorm and Dense(96). Trained by <see cref="CharTrainingRecipe.Torch"/>.
/// </summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = TextSizes.Context)]
public partial class CharGptTorch
{
    [Embedding(TextSizes.CalibrationVocabulary, 128)] public partial Layer Tok { get; }
    [PositionEmbedding(TextSizes.Context)]            public partial Layer Pos { get; }
    [Dropout(0.1)]                                    public partial Layer Drop { get; }
    [TransformerEncoder(Heads = 4, FeedForward = 512, NormFirst = true, Causal = true, Layers = 4, Dropout = 0.1, FeedForwardDropout = 0,
                        AttentionDropout = 0)]
                                                      public partial Layer Blocks { get; }
    [LayerNorm]                                       public partial Layer LnF { get; }
    [Dense(TextSizes.CalibrationVocabulary)]          public partial Layer Head { get; }
}

/// <summary>A model the sample can train: how to create it and how to sample from it.</summary>
/// <param name="Name">As given to <c>--model</c>.</param>
/// <param name="Create">A freshly initialised model from a seed.</param>
/// <param name="Context">T: positions per training window and per evaluation window.</param>
/// <param name="Summary">The model's layer table.</param>
/// <param name="Sampling">The next-token logits of a model <see cref="Create"/> made, for <see cref="TokenSampler"/>.</param>
/// <param name="CreatePredictor">The immutable inference snapshot of a model <see cref="Create"/> made (what scoring runs).</param>
/// <param name="Vocabulary">Logits per position (at least <see cref="TextSizes.Vocabulary"/>; ids past the characters never occur in the text).</param>
public sealed record TextGenModel(string Name, Func<int, ISequenceTrainable<int>> Create, int Context, string Summary,
                                  Func<ISequenceTrainable<int>, NextTokenLogits> Sampling, Func<ISequenceTrainable<int>, ISequencePredictor<int>> CreatePredictor,
                                  int Vocabulary = TextSizes.Vocabulary)
{
    /// <summary>The LSTM language model; it samples by stepping its recurrent state (one LSTM step per character).</summary>
    public static TextGenModel Lstm { get; } = new("lstm", seed => new CharLstm(seed), TextSizes.Context, CharLstm.Summary(),
        model => new IncrementalLogits(new RecurrentTokenModel(As<CharLstm>(model).Forward, CharLstm.StateSize, TextSizes.Vocabulary)).Logits,
        model => As<CharLstm>(model).CreatePredictor());

    /// <summary>The causal Transformer of the sample's recipe; it samples through its key/value cache (one cached position per character).</summary>
    public static TextGenModel Gpt { get; } = new("gpt", seed => new CharGpt(seed), TextSizes.Context, CharGpt.Summary(),
        model => new IncrementalLogits(new CachedTokenModel(As<CharGpt>(model).ForwardStep, CharGpt.CacheSize, CharGpt.MaxLength, TextSizes.Vocabulary),
            windowed: WindowedOnFirstUse(model, TextSizes.Vocabulary)).Logits,
        model => As<CharGpt>(model).CreatePredictor());

    /// <summary>The issue's calibration Transformer (<c>--model gpt --recipe torch</c>), sampled like <see cref="Gpt"/>.</summary>
    public static TextGenModel GptTorch { get; } = new("gpt-torch", seed => new CharGptTorch(seed), TextSizes.Context, CharGptTorch.Summary(),
        model => new IncrementalLogits(new CachedTokenModel(As<CharGptTorch>(model).ForwardStep, CharGptTorch.CacheSize, CharGptTorch.MaxLength, TextSizes.CalibrationVocabulary),
            windowed: WindowedOnFirstUse(model, TextSizes.CalibrationVocabulary)).Logits,
        model => As<CharGptTorch>(model).CreatePredictor(), TextSizes.CalibrationVocabulary);

    /// <summary>Every model, by <see cref="Name"/>.</summary>
    public static IReadOnlyList<TextGenModel> All { get; } = [Gpt, Lstm];

    /// <summary>The model named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No model has that name; the message lists the names.</exception>
    public static TextGenModel For(string name)
    {
        foreach (var model in All)
            if (model.Name == name) return model;
        if (name == GptTorch.Name) return GptTorch;   // what --recipe torch trains; its weight files name it
        throw new ArgumentException($"Unknown model '{name}'; expected one of: {string.Join(", ", All.Select(m => m.Name))}.", nameof(name));
    }

    /// <summary>
    /// The generator that sampling with <paramref name="seed"/> draws from: stream 2 of the seed (stream 1 draws the
    /// training windows), so a weights file and a seed give the text samples/TextGen printed after training.
    /// </summary>
    public static Rng SamplingRng(int seed) => Rng.Derive((ulong)seed, 2);

    // The windowed re-run for contexts past MaxLength, built when first needed: its constructor runs one full-window
    // Forward to size the arenas, which a generation that stays inside the window (and its time to first token) never needs.
    private static NextTokenLogits WindowedOnFirstUse(ISequenceTrainable<int> model, int vocabulary)
    {
        SequenceModelLogits? windowed = null;
        return (context, logits) => (windowed ??= new SequenceModelLogits(model, vocabulary, TextSizes.Context)).Logits(context, logits);
    }

    private static T As<T>(ISequenceTrainable<int> model) where T : class
        => model as T ?? throw new ArgumentException($"Expected a {typeof(T).Name}, got {model.GetType().Name}.", nameof(model));
}
