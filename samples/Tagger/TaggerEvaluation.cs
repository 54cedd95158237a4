// Test-set evaluation of a tagger: token accuracy over every test token (punctuation included), split into words
// the vocabulary knows and unknown ones (<unk>), in padded batches of whole sentences (never truncated).
using System.Globalization;
using System.Text;
using ModelGen;

namespace Tagger;

/// <summary>Runs a tagger over the test sentences and scores it; reuses its buffers between calls.</summary>
public sealed class TaggerEvaluation
{
    private readonly EncodedSentences _test;
    private readonly TaggedBatches _batches;
    private readonly float[] _logits;
    private readonly int[] _predictions;   // [test tokens], sentence after sentence

    /// <summary>Prepares batches of <paramref name="batchSize"/> test sentences in corpus order.</summary>
    public TaggerEvaluation(EncodedSentences test, int batchSize)
    {
        _test = test;
        _batches = new TaggedBatches(test, batchSize, shuffle: false, maxLength: test.LongestSentence);
        _logits = new float[batchSize * test.LongestSentence * BrownTagger.Tags];
        _predictions = new int[test.TokenCount];
    }

    /// <summary>Tags every test sentence and scores the predictions against the gold tags.</summary>
    public TaggingScore Evaluate(BrownTagger model)
    {
        Predict(model, _predictions);
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

    /// <summary>Positions where two models' predicted tags differ (0 for a faithful save and reload).</summary>
    public int CountDifferentPredictions(BrownTagger a, BrownTagger b)
    {
        var other = new int[_predictions.Length];
        Predict(a, _predictions);
        Predict(b, other);
        int differ = 0;
        for (int i = 0; i < other.Length; i++) differ += other[i] != _predictions[i] ? 1 : 0;
        return differ;
    }

    /// <summary>Prints the first <paramref name="count"/> test sentences as word/tag, marking errors with the gold tag.</summary>
    public void PrintExamples(BrownTagger model, IReadOnlyList<Sentence> sentences, TagSet tags, int count)
    {
        Predict(model, _predictions);
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
    public static string Tag(BrownTagger model, Vocabulary vocabulary, TagSet tags, string[] tokens)
    {
        if (tokens.Length == 0) return "";
        var ids = tokens.Select(t => vocabulary.IdOf(t)).ToArray();
        var logits = new float[tokens.Length * BrownTagger.Tags];
        model.Forward(ids, logits, 1, tokens.Length);
        return string.Join(' ', tokens.Select((t, i) => $"{t}/{tags[ArgMax(logits.AsSpan(i * BrownTagger.Tags, BrownTagger.Tags))]}{(ids[i] == Vocabulary.UnkId ? "?" : "")}"));
    }

    private void Predict(BrownTagger model, int[] predictions)
    {
        _batches.StartEpoch(0);
        while (_batches.TryNext(out var batch))
        {
            var logits = _logits.AsSpan(0, batch.Size * batch.SeqLength * BrownTagger.Tags);
            model.Forward(batch.Ids, logits, batch.Size, batch.SeqLength, batch.Lengths);
            for (int b = 0; b < batch.Size; b++)
            {
                int sentence = batch.SentenceIndices[b], start = _test.Start(sentence);
                for (int t = 0; t < batch.Lengths[b]; t++)
                    predictions[start + t] = ArgMax(logits.Slice((b * batch.SeqLength + t) * BrownTagger.Tags, BrownTagger.Tags));
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
