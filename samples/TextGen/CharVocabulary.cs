// The character vocabulary of a character-level language model: <unk> = id 0, then every distinct character of the
// training text in ordinal (UTF-16 code unit) order. For the Brown training text that is 83 characters ('\n', ' ',
// '!', ..., 'z'), so 84 ids; characters the training text lacks (the test text's '{' and '}') map to <unk>.
namespace TextGen;

/// <summary>Characters ↔ ids: <see cref="UnkId"/> = 0, then the training text's characters in ordinal order.</summary>
public sealed class CharVocabulary
{
    /// <summary>The id of characters outside the vocabulary.</summary>
    public const int UnkId = 0;

    /// <summary>How <see cref="UnkId"/> is named in listings.</summary>
    public const string UnkToken = "<unk>";

    /// <summary>What <see cref="Decode(ReadOnlySpan{int})"/> writes for <see cref="UnkId"/>: U+FFFD, the replacement character.</summary>
    public const char UnkCharacter = '\uFFFD';

    /// <summary>Ids of the Brown training text's vocabulary: its 83 characters plus &lt;unk&gt;.</summary>
    public const int BrownSize = 84;

    private readonly char[] _characters;   // [Count] id -> character; [0] is UnkCharacter
    private readonly int[] _ids;           // [max character + 1] character -> id (UnkId where absent)

    private CharVocabulary(char[] characters)
    {
        _characters = characters;
        _ids = new int[characters[^1] + 1];   // characters[1..] are sorted, so the last is the largest
        for (int id = 1; id < characters.Length; id++) _ids[characters[id]] = id;
    }

    /// <summary>Number of ids, &lt;unk&gt; included.</summary>
    public int Count => _characters.Length;

    /// <summary>
    /// The characters of ids 1 to <see cref="Count"/> − 1, in id order: the vocabulary as text, which
    /// <see cref="FromText"/> turns back into this vocabulary (a weights file stores it this way).
    /// </summary>
    public string Characters => new(_characters, 1, _characters.Length - 1);

    /// <summary>The character of <paramref name="id"/> (<see cref="UnkCharacter"/> for <see cref="UnkId"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside [0, <see cref="Count"/>).</exception>
    public char this[int id]
    {
        get
        {
            if ((uint)id >= (uint)_characters.Length)
                throw new ArgumentOutOfRangeException(nameof(id), id, $"Character ids are in [0, {_characters.Length}).");
            return _characters[id];
        }
    }

    /// <summary>Builds the vocabulary of <paramref name="text"/>: &lt;unk&gt; = 0, then its distinct characters in ordinal order.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="text"/> is empty, or contains <see cref="UnkCharacter"/> (which would be ambiguous).</exception>
    public static CharVocabulary FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) throw new ArgumentException("The vocabulary needs a non-empty text.", nameof(text));
        var seen = new bool[char.MaxValue + 1];
        foreach (char c in text) seen[c] = true;
        if (seen[UnkCharacter])
            throw new ArgumentException($"The text contains U+FFFD, which the vocabulary reserves for {UnkToken}.", nameof(text));
        var characters = new List<char> { UnkCharacter };
        for (int c = 0; c <= char.MaxValue; c++)
            if (seen[c]) characters.Add((char)c);
        return new CharVocabulary([.. characters]);
    }

    /// <summary>The id of <paramref name="c"/>, or <see cref="UnkId"/> if the training text lacks it.</summary>
    public int IdOf(char c) => c < _ids.Length ? _ids[c] : UnkId;

    /// <summary>Writes the id of each character of <paramref name="text"/> into <paramref name="ids"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="ids"/> is not as long as <paramref name="text"/>.</exception>
    public void Encode(ReadOnlySpan<char> text, Span<int> ids)
    {
        if (ids.Length != text.Length)
            throw new ArgumentException($"'ids' has {ids.Length} elements but the text has {text.Length} characters.", nameof(ids));
        for (int i = 0; i < text.Length; i++) ids[i] = IdOf(text[i]);
    }

    /// <summary>The ids of the characters of <paramref name="text"/>.</summary>
    public int[] Encode(ReadOnlySpan<char> text)
    {
        var ids = new int[text.Length];
        Encode(text, ids);
        return ids;
    }

    /// <summary>Writes the character of each id into <paramref name="text"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="text"/> is not as long as <paramref name="ids"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, <see cref="Count"/>).</exception>
    public void Decode(ReadOnlySpan<int> ids, Span<char> text)
    {
        if (ids.Length != text.Length)
            throw new ArgumentException($"'text' has {text.Length} elements but there are {ids.Length} ids.", nameof(text));
        for (int i = 0; i < ids.Length; i++) text[i] = this[ids[i]];
    }

    /// <summary>The text of <paramref name="ids"/> (<see cref="UnkCharacter"/> for <see cref="UnkId"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, <see cref="Count"/>).</exception>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new char[ids.Length];
        Decode(ids, text);
        return new string(text);
    }
}
