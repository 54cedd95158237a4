// String <-> id maps for the tagger: the word vocabulary (with <pad> and <unk>), the tag set, and the same
// vocabulary machinery reused for suffix features. Ids are decided once, deterministically, from the training
// sentences only, so the same corpus always gives the same ids (embedding rows and class indices).
namespace Tagger;

/// <summary>
/// Maps tokens to ids: <c>&lt;pad&gt;</c> = 0, <c>&lt;unk&gt;</c> = 1, then every token seen at least <c>minCount</c>
/// times in training, by descending count, ties in ordinal order. Lookups are exact (case-sensitive); anything
/// else maps to <see cref="UnkId"/>. For the Brown training words with <c>minCount</c> 2 this gives 28,946 entries.
/// </summary>
public sealed class Vocabulary
{
    /// <summary>Id of the padding token, which fills batch positions past a sentence's end.</summary>
    public const int PadId = 0;

    /// <summary>Id of every token not in the vocabulary.</summary>
    public const int UnkId = 1;

    /// <summary>Texts of <see cref="PadId"/> and <see cref="UnkId"/>.</summary>
    public const string Pad = "<pad>", Unk = "<unk>";

    /// <summary>Size of the Brown word vocabulary with the default <c>minCount</c> (exact case), checked by the tests.</summary>
    public const int ExpectedBrownWordCount = 28_946;

    private readonly string[] _tokens;                  // [Count] id -> text
    private readonly Dictionary<string, int> _ids;      // text -> id, without <pad>/<unk>
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanIds;

    private Vocabulary(string[] tokens)
    {
        _tokens = tokens;
        _ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int id = UnkId + 1; id < tokens.Length; id++) _ids.Add(tokens[id], id);
        _spanIds = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Number of ids, including <c>&lt;pad&gt;</c> and <c>&lt;unk&gt;</c> (the embedding table's row count).</summary>
    public int Count => _tokens.Length;

    /// <summary>The text of <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is not in [0, <see cref="Count"/>).</exception>
    public string this[int id] => (uint)id < (uint)_tokens.Length
        ? _tokens[id]
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"must be in [0, {_tokens.Length})");

    /// <summary>Builds the vocabulary of the words of <paramref name="sentences"/> (exact case).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minCount"/> is less than 1.</exception>
    public static Vocabulary FromWords(IEnumerable<Sentence> sentences, int minCount = 2)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        return Build(sentences.SelectMany(s => s.Words), minCount);
    }

    /// <summary>Builds a vocabulary of every token of <paramref name="tokens"/> occurring at least <paramref name="minCount"/> times.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minCount"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A token is <c>&lt;pad&gt;</c> or <c>&lt;unk&gt;</c>, which would make its id ambiguous.</exception>
    public static Vocabulary Build(IEnumerable<string> tokens, int minCount = 2)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(minCount, 1);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string token in tokens)
        {
            if (token is Pad or Unk) throw new ArgumentException($"The token '{token}' is reserved for id {(token == Pad ? PadId : UnkId)}.", nameof(tokens));
            counts[token] = counts.GetValueOrDefault(token) + 1;
        }
        var kept = counts.Where(kv => kv.Value >= minCount).ToList();
        kept.Sort((a, b) => a.Value != b.Value ? b.Value.CompareTo(a.Value) : string.CompareOrdinal(a.Key, b.Key));
        return new Vocabulary([Pad, Unk, .. kept.Select(kv => kv.Key)]);
    }

    /// <summary>The id of <paramref name="token"/>, or <see cref="UnkId"/> if it is not in the vocabulary.</summary>
    public int IdOf(ReadOnlySpan<char> token) => _spanIds.TryGetValue(token, out int id) ? id : UnkId;

    /// <summary>Whether <paramref name="token"/> has its own id (is not mapped to <see cref="UnkId"/>).</summary>
    public bool Contains(ReadOnlySpan<char> token) => _spanIds.ContainsKey(token);
}

/// <summary>The tags seen in training, indexed in ordinal order (for Brown: 104 tags, <c>'</c> = 0 ... <c>wrb</c> = 103).</summary>
public sealed class TagSet
{
    private readonly string[] _tags;               // [Count] index -> tag, ordinal order
    private readonly Dictionary<string, int> _indices;

    private TagSet(string[] tags)
    {
        _tags = tags;
        _indices = new Dictionary<string, int>(tags.Length, StringComparer.Ordinal);
        for (int i = 0; i < tags.Length; i++) _indices.Add(tags[i], i);
    }

    /// <summary>Number of tags (the classifier's output size).</summary>
    public int Count => _tags.Length;

    /// <summary>The tag with class index <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not in [0, <see cref="Count"/>).</exception>
    public string this[int index] => (uint)index < (uint)_tags.Length
        ? _tags[index]
        : throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {_tags.Length})");

    /// <summary>Collects the distinct tags of <paramref name="sentences"/>, sorted ordinally.</summary>
    public static TagSet FromSentences(IEnumerable<Sentence> sentences)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        var tags = sentences.SelectMany(s => s.Tags).Distinct(StringComparer.Ordinal).ToArray();
        Array.Sort(tags, StringComparer.Ordinal);
        return new TagSet(tags);
    }

    /// <summary>The class index of <paramref name="tag"/>.</summary>
    /// <exception cref="KeyNotFoundException"><paramref name="tag"/> was not seen in training.</exception>
    public int IndexOf(string tag) => _indices.TryGetValue(tag, out int index)
        ? index
        : throw new KeyNotFoundException($"Tag '{tag}' is not in the tag set ({_tags.Length} tags seen in training).");

    /// <summary>Whether <paramref name="tag"/> is in the set.</summary>
    public bool Contains(string tag) => _indices.ContainsKey(tag);
}
