// The floor every tagger must beat: each word seen in training gets the tag it carried most often there, every
// other word gets "nn". Ties go to the tag seen first in training order, which is what Python's
// Counter.most_common does and gives the recipe's calibration value, 90.35% (85,631 of 94,774 test tokens).
// Breaking ties by the ordinally smallest tag instead gives 85,638 (90.36%); tools/brown/README.md has both.
namespace Tagger;

/// <summary>Token accuracy split by whether the word was known (seen in training).</summary>
/// <param name="Known">Tokens whose word is known.</param>
/// <param name="KnownCorrect">Known tokens tagged correctly.</param>
/// <param name="Unknown">Tokens whose word is unknown.</param>
/// <param name="UnknownCorrect">Unknown tokens tagged correctly.</param>
public readonly record struct TaggingScore(int Known, int KnownCorrect, int Unknown, int UnknownCorrect)
{
    /// <summary>All scored tokens.</summary>
    public int Tokens => Known + Unknown;

    /// <summary>All correctly tagged tokens.</summary>
    public int Correct => KnownCorrect + UnknownCorrect;

    /// <summary>Correct / tokens (NaN if nothing was scored).</summary>
    public double Accuracy => (double)Correct / Tokens;

    /// <summary>Accuracy on known words.</summary>
    public double KnownAccuracy => (double)KnownCorrect / Known;

    /// <summary>Accuracy on unknown words.</summary>
    public double UnknownAccuracy => (double)UnknownCorrect / Unknown;

    /// <summary>This score with one more token counted.</summary>
    public TaggingScore Add(bool known, bool correct) => known
        ? this with { Known = Known + 1, KnownCorrect = KnownCorrect + (correct ? 1 : 0) }
        : this with { Unknown = Unknown + 1, UnknownCorrect = UnknownCorrect + (correct ? 1 : 0) };
}

/// <summary>The most-frequent-tag baseline (see the file header).</summary>
public sealed class MostFrequentTagBaseline
{
    /// <summary>The tag given to words not seen in training.</summary>
    public const string UnknownWordTag = "nn";

    /// <summary>Correct test tokens the recipe's calibration expects (90.35%), checked by the tests.</summary>
    public const int ExpectedBrownCorrect = 85_631;

    private readonly Dictionary<string, string> _best;   // word (exact case) -> its most frequent training tag

    private MostFrequentTagBaseline(Dictionary<string, string> best) => _best = best;

    /// <summary>Number of distinct training words (the baseline's "known" words).</summary>
    public int KnownWords => _best.Count;

    /// <summary>Counts the tags of every word of <paramref name="training"/> (exact case).</summary>
    public static MostFrequentTagBaseline Train(IEnumerable<Sentence> training)
    {
        ArgumentNullException.ThrowIfNull(training);
        // Per word, its tags in first-seen order with counts; a list because most words have one or two tags.
        var counts = new Dictionary<string, List<(string Tag, int Count)>>(StringComparer.Ordinal);
        foreach (var sentence in training)
            for (int i = 0; i < sentence.Length; i++)
            {
                if (!counts.TryGetValue(sentence.Words[i], out var tags)) counts.Add(sentence.Words[i], tags = []);
                int k = tags.FindIndex(t => t.Tag == sentence.Tags[i]);
                if (k < 0) tags.Add((sentence.Tags[i], 1));
                else tags[k] = (tags[k].Tag, tags[k].Count + 1);
            }
        var best = new Dictionary<string, string>(counts.Count, StringComparer.Ordinal);
        foreach (var (word, tags) in counts)
        {
            var top = tags[0];
            foreach (var t in tags) if (t.Count > top.Count) top = t;   // strict: the first-seen tag wins ties
            best.Add(word, top.Tag);
        }
        return new MostFrequentTagBaseline(best);
    }

    /// <summary>Whether <paramref name="word"/> occurred in training.</summary>
    public bool IsKnown(string word) => _best.ContainsKey(word);

    /// <summary>The baseline's tag for <paramref name="word"/>.</summary>
    public string Predict(string word) => _best.GetValueOrDefault(word, UnknownWordTag);

    /// <summary>Scores the baseline on <paramref name="sentences"/>.</summary>
    public TaggingScore Evaluate(IEnumerable<Sentence> sentences)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        var score = new TaggingScore();
        foreach (var sentence in sentences)
            for (int i = 0; i < sentence.Length; i++)
                score = score.Add(IsKnown(sentence.Words[i]), Predict(sentence.Words[i]) == sentence.Tags[i]);
        return score;
    }
}
