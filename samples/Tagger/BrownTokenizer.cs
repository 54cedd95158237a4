// Splits plain text into tokens the way the Brown corpus writes them, so a tagger trained on Brown sees familiar
// tokens: punctuation is its own token ("said," -> "said" ","), double quotes are `` and '' , "--" is a token, but
// contractions and possessives stay whole ("didn't", "Atlanta's", "workers'") and abbreviations keep their period
// ("Mr.", "U.S.", "J."). Deliberately simple: a few rules, no sentence splitting, no dictionary.
namespace Tagger;

/// <summary>
/// A Brown-style tokenizer. Rules, applied to each whitespace-separated chunk:
/// <list type="number">
/// <item><c>--</c> anywhere splits the chunk and is a token itself.</item>
/// <item>Leading <c>"</c> or <c>``</c> becomes the token <c>``</c>; leading <c>(</c> and <c>[</c> are tokens.</item>
/// <item>Trailing <c>"</c> or <c>''</c> becomes <c>''</c>; trailing <c>, ; : ! ? ) ]</c> are tokens; a trailing
/// <c>.</c> is a token unless the word is an abbreviation: a single letter (<c>J.</c>), letters joined by periods
/// (<c>U.S.</c>, <c>p.m.</c>), or one of <see cref="Abbreviations"/> (<c>Mr.</c>, <c>Dr.</c>, <c>etc.</c>, ...).</item>
/// </list>
/// Apostrophes are never split off.
/// </summary>
public static class BrownTokenizer
{
    /// <summary>Words (without the period) whose trailing period belongs to them, from Brown's most frequent abbreviations.</summary>
    public static IReadOnlySet<string> Abbreviations => s_abbreviations;

    private static readonly HashSet<string> s_abbreviations = new(StringComparer.Ordinal)
    {
        "Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Co", "Corp", "Inc", "Ltd", "No", "Fig", "fig", "Gen", "Sen",
        "Rep", "Gov", "Rev", "Prof", "Lt", "Col", "Capt", "Sgt", "Mt", "Ft", "etc", "vs", "Jan", "Feb", "Mar",
        "Apr", "Aug", "Sept", "Oct", "Nov", "Dec", "Calif", "Ill", "lb", "p", "v",
    };

    /// <summary>Splits <paramref name="text"/> into Brown-style tokens (see the class remarks).</summary>
    public static string[] Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<string>();
        foreach (string chunk in text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            string[] pieces = chunk.Split("--");
            for (int i = 0; i < pieces.Length; i++)
            {
                if (i > 0) tokens.Add("--");
                AddPiece(pieces[i], tokens);
            }
        }
        return [.. tokens];
    }

    private static void AddPiece(string piece, List<string> tokens)
    {
        int start = 0, end = piece.Length;
        while (start < end)
        {
            if (piece[start] == '"') { tokens.Add("``"); start++; }
            else if (piece.AsSpan(start, end - start).StartsWith("``")) { tokens.Add("``"); start += 2; }
            else if (piece[start] is '(' or '[') { tokens.Add(piece[start].ToString()); start++; }
            else break;
        }
        var trailing = new List<string>();   // in reverse order
        while (end > start)
        {
            char c = piece[end - 1];
            if (c == '"') { trailing.Add("''"); end--; }
            else if (c == '\'' && end - start >= 2 && piece[end - 2] == '\'') { trailing.Add("''"); end -= 2; }
            else if (c is ',' or ';' or ':' or '!' or '?' or ')' or ']') { trailing.Add(c.ToString()); end--; }
            else if (c == '.' && !IsAbbreviation(piece.AsSpan(start, end - start - 1))) { trailing.Add("."); end--; }
            else break;
        }
        if (end > start) tokens.Add(piece[start..end]);
        for (int i = trailing.Count - 1; i >= 0; i--) tokens.Add(trailing[i]);
    }

    // `word` is the text before a final period.
    private static bool IsAbbreviation(ReadOnlySpan<char> word)
    {
        if (word.IsEmpty) return false;
        if (word.Length == 1) return char.IsLetter(word[0]);
        // Letters joined by periods: U.S, p.m, i.e, D.C (the final period was removed by the caller).
        bool lettersAndPeriods = word.Length % 2 == 1;
        for (int i = 0; i < word.Length && lettersAndPeriods; i++)
            lettersAndPeriods = i % 2 == 0 ? char.IsLetter(word[i]) : word[i] == '.';
        return lettersAndPeriods || s_abbreviations.GetAlternateLookup<ReadOnlySpan<char>>().Contains(word);
    }
}
