// Per-word features beside the word id, for tagging words the vocabulary does not know: most unknown Brown words
// are names, numbers, hyphenated compounds or inflected forms, which their suffix and spelling shape give away.
// Both features use id 0 for padding, like the word ids, so a batch can hold them in the same [B, T] layout.
namespace Tagger;

/// <summary>
/// Suffix and shape feature ids of a word. The suffix is the word's last 3 characters lower-cased (the whole word if
/// shorter), looked up in a <see cref="Vocabulary"/> built from the training words (so <c>&lt;pad&gt;</c> = 0,
/// <c>&lt;unk&gt;</c> = 1). The shape id is <c>1 + 4 × capitalisation + 2 × hasDigit + hasHyphen</c>, with
/// capitalisation 0 = no upper-case letter, 1 = only the first character upper-case, 2 = every letter upper-case
/// (at least two letters), 3 = any other use of upper case; 0 is padding, so there are <see cref="ShapeCount"/> ids.
/// </summary>
public sealed class WordFeatures
{
    /// <summary>Characters kept as the suffix.</summary>
    public const int SuffixLength = 3;

    /// <summary>Number of shape ids, including padding (0).</summary>
    public const int ShapeCount = 17;

    private WordFeatures(Vocabulary suffixes) => Suffixes = suffixes;

    /// <summary>The suffix vocabulary (its <see cref="Vocabulary.Count"/> is the suffix embedding's row count).</summary>
    public Vocabulary Suffixes { get; }

    /// <summary>Builds the suffix vocabulary from the training words: suffixes occurring at least <paramref name="minCount"/> times (counted over tokens).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minCount"/> is less than 1.</exception>
    public static WordFeatures FromSentences(IEnumerable<Sentence> sentences, int minCount = 2)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        return new WordFeatures(Vocabulary.Build(sentences.SelectMany(s => s.Words).Select(w => SuffixOf(w)), minCount));
    }

    /// <summary>The suffix id of <paramref name="word"/>.</summary>
    public int SuffixId(ReadOnlySpan<char> word)
    {
        Span<char> suffix = stackalloc char[SuffixLength];
        ReadOnlySpan<char> tail = word.Length > SuffixLength ? word[^SuffixLength..] : word;
        int length = tail.ToLowerInvariant(suffix);
        return Suffixes.IdOf(suffix[..length]);
    }

    /// <summary>The lower-cased last <see cref="SuffixLength"/> characters of <paramref name="word"/>.</summary>
    public static string SuffixOf(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        return (word.Length > SuffixLength ? word[^SuffixLength..] : word).ToLowerInvariant();
    }

    /// <summary>The shape id of <paramref name="word"/>, in [1, <see cref="ShapeCount"/>) (see the class remarks).</summary>
    public static int ShapeId(ReadOnlySpan<char> word)
    {
        int letters = 0, upper = 0;
        bool firstUpper = word.Length > 0 && char.IsUpper(word[0]), digit = false, hyphen = false;
        foreach (char c in word)
        {
            if (char.IsLetter(c))
            {
                letters++;
                if (char.IsUpper(c)) upper++;
            }
            else if (char.IsDigit(c)) digit = true;
            else if (c == '-') hyphen = true;
        }
        int capitalisation = upper == 0 ? 0
            : firstUpper && upper == 1 ? 1
            : upper == letters && letters >= 2 ? 2
            : 3;
        return 1 + 4 * capitalisation + (digit ? 2 : 0) + (hyphen ? 1 : 0);
    }
}
