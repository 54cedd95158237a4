// Test-set evaluation of a tagger: token accuracy over every test token (punctuation included), split into words
// the vocabulary knows and unknown ones (<unk>), in padded batches of whole sentences (never truncated). Everything here
// runs a predictor (model.CreatePredictor(): the weights copied and packed once), as a deployed tagger would.
using System.Globalization;
using System.Text;
using ModelGen;

namespace Tagger;

/// <summary>Runs a tagger over the test sentences and scores it; reuses its buffers between calls.</summary>
public sealed class TaggerEvaluation
{
    private readonly EncodedSentences _test;
    private readonly TaggerRecipe _recipe;
    private readonly TaggedBatches _batches;
    private readonly float[] _logits;
    private readonly int[] _ids;
    private readonly int[] _predictions;   // [test tokens], sentence after sentence

    /// <summary>Prepares batches of <paramref name="batchSize"/> test sentences in corpus order, laid out for <paramref name="recipe"/>.</summary>
    public TaggerEvaluation(EncodedSentences test, int batchSize, TaggerRecipe recipe)
    {
        _test = test;
        _recipe = recipe;
        _batches = new TaggedBatches(test, batchSize, shuffle: false, maxLength: test.LongestSentence);
        _logits = new float[batchSize * test.LongestSentence * BrownSizes.Tags];
        _ids = new int[batchSize * test.LongestSentence * recipe.Columns];
        _predictions = new int[test.TokenCount];
    }

    /// <summary>Tags every test sentence and scores the predictions against the gold tags.</summary>
    public TaggingScore Evaluate(ISequencePredictor<int> predictor)
    {
        Predict(predictor, _predictions);
        var score = new TaggingScore();
        int at = 0;
        for (int s = 0; s < _test.Count; s++)
        {
            var words = _test.WordIds(s);
            var gold = _test.TagIds(s);
            for (int i = 0; i < gold.Length; i++, at++)
                score = score.Add(known: words[i] != Vocabulary.UnkId, correct: _predictions[at] == gold[i]);
        }
        return score;
    }

    /// <summary>Positions where two predictors' tags differ (0 for a faithful save and reload).</summary>
    public int CountDifferentPredictions(ISequencePredictor<int> a, ISequencePredictor<int> b)
    {
        var other = new int[_predictions.Length];
        Predict(a, _predictions);
        Predict(b, other);
        int differ = 0;
        for (int i = 0; i < other.Length; i++) differ += other[i] != _predictions[i] ? 1 : 0;
        return differ;
    }

    /// <summary>Prints the first <paramref name="count"/> test sentences as word/tag, marking errors with the gold tag.</summary>
    public void PrintExamples(ISequencePredictor<int> predictor, IReadOnlyList<Sentence> sentences, TagSet tags, int count)
    {
        Predict(predictor, _predictions);
        int at = 0;
        for (int s = 0; s < Math.Min(count, sentences.Count); s++)
        {
            var sb = new StringBuilder("  ");
            var sentence = sentences[s];
            for (int i = 0; i < sentence.Length; i++, at++)
            {
                string predicted = tags[_predictions[at]];
                sb.Append(sentence.Words[i]).Append('/').Append(predicted);
                if (predicted != sentence.Tags[i]) sb.Append("(gold ").Append(sentence.Tags[i]).Append(')');
                sb.Append(' ');
            }
            Console.WriteLine(sb.ToString().TrimEnd());
        }
    }

    /// <summary>Tags one tokenized sentence: <c>word/tag</c> pairs, unknown words marked with <c>?</c>.</summary>
    public static string Tag(ISequencePredictor<int> predictor, TaggerRecipe recipe, Vocabulary vocabulary, WordFeatures features, TagSet tags, string[] tokens)
    {
        if (tokens.Length == 0) return "";
        var encoded = EncodedSentences.Encode([tokens], vocabulary, features);
        var batches = new TaggedBatches(encoded, 1, shuffle: false, maxLength: tokens.Length);
        batches.StartEpoch(0);
        batches.TryNext(out var batch);
        var logits = new float[tokens.Length * BrownSizes.Tags];
        predictor.Forward(recipe.Input(batch, new int[tokens.Length * recipe.Columns]), logits, 1, tokens.Length);
        return string.Join(' ', tokens.Select((t, i) =>
            $"{t}/{tags[ArgMax(logits.AsSpan(i * BrownSizes.Tags, BrownSizes.Tags))]}{(encoded.WordIds(0)[i] == Vocabulary.UnkId ? "?" : "")}"));
    }

    private void Predict(ISequencePredictor<int> predictor, int[] predictions)
    {
        _batches.StartEpoch(0);
        while (_batches.TryNext(out var batch))
        {
            var logits = _logits.AsSpan(0, batch.Size * batch.SeqLength * BrownSizes.Tags);
            predictor.Forward(_recipe.Input(batch, _ids), logits, batch.Size, batch.SeqLength, batch.Lengths);
            for (int b = 0; b < batch.Size; b++)
            {
                int sentence = batch.SentenceIndices[b], start = _test.Start(sentence);
                for (int t = 0; t < batch.Lengths[b]; t++)
                    predictions[start + t] = ArgMax(logits.Slice((b * batch.SeqLength + t) * BrownSizes.Tags, BrownSizes.Tags));
            }
        }
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }
}
