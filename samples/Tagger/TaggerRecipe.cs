// The two ways the sample can tag: which model, how many ids it reads per position, and how a batch's ids are laid
// out for it ([B, T] word ids, or [B, T, 3] word, suffix and shape ids interleaved per position).
using ModelGen;

namespace Tagger;

/// <summary>A tagger recipe: its model and the id columns it reads.</summary>
/// <param name="Name">As given to <c>--model</c>.</param>
/// <param name="Create">A fresh model from a seed.</param>
/// <param name="Load">A model loaded from a weights file.</param>
/// <param name="Columns">Ids per position: 1 (word) or 3 (word, suffix, shape).</param>
/// <param name="Summary">The model's layer table.</param>
/// <param name="Epochs">Default training epochs.</param>
/// <param name="CreatePredictor">The immutable inference snapshot of a model <paramref name="Create"/> or <paramref name="Load"/> made (what evaluation and tagging run).</param>
public sealed record TaggerRecipe(string Name, Func<int, ISequenceTrainable<int>> Create, Func<string, ISequenceTrainable<int>> Load, int Columns, string Summary, int Epochs,
                                  Func<ISequenceTrainable<int>, ISequencePredictor<int>> CreatePredictor)
{
    /// <summary>The plain recipe (word embeddings only, 5 epochs), to compare with libtorch.</summary>
    public static TaggerRecipe Plain { get; } = new("plain", seed => new BrownTagger(seed), path => BrownTagger.Load(path), 1, BrownTagger.Summary(), 5,
        model => As<BrownTagger>(model).CreatePredictor());

    /// <summary>The sample's recipe: words, suffixes and spelling shapes; 3 epochs (96.75% test accuracy, seed 1).</summary>
    public static TaggerRecipe Features { get; } = new("features", seed => new BrownFeatureTagger(seed), path => BrownFeatureTagger.Load(path), 3, BrownFeatureTagger.Summary(), 3,
        model => As<BrownFeatureTagger>(model).CreatePredictor());

    /// <summary>The recipe named <paramref name="name"/>.</summary>
    public static TaggerRecipe For(string name) => name == Plain.Name ? Plain : Features;

    /// <summary>
    /// The model input of <paramref name="batch"/>: its word ids as they are, or (word, suffix, shape) interleaved per
    /// position into <paramref name="buffer"/> ([Size, SeqLength, 3]).
    /// </summary>
    public ReadOnlySpan<int> Input(in TaggedBatch batch, int[] buffer)
    {
        if (Columns == 1) return batch.Ids;
        int positions = batch.Ids.Length;
        var ids = buffer.AsSpan(0, positions * 3);
        for (int i = 0; i < positions; i++)
        {
            ids[3 * i] = batch.Ids[i];
            ids[3 * i + 1] = batch.Suffixes[i];
            ids[3 * i + 2] = batch.Shapes[i];
        }
        return ids;
    }

    private static T As<T>(ISequenceTrainable<int> model) where T : class
        => model as T ?? throw new ArgumentException($"Expected a {typeof(T).Name}, got {model.GetType().Name}.", nameof(model));
}
