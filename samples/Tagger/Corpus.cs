// Loads the vendored Brown corpus (samples/Tagger/data, produced by tools/brown/convert.py): two gzip-compressed
// UTF-8 files, one sentence per line, tokens separated by a TAB, each token "word SPACE tag". Words keep their
// case; tags are the recipe's 104 simplified tags (tools/brown/README.md). Repeated words share one string
// instance, so the 1.16M tokens cost about 30k word strings, not 1.16M.
using System.IO.Compression;
using System.Text;

namespace Tagger;

/// <summary>One tagged sentence: <see cref="Words"/>[i] carries tag <see cref="Tags"/>[i].</summary>
public sealed class Sentence
{
    /// <summary>Creates a sentence from parallel word and tag arrays (not copied).</summary>
    /// <exception cref="ArgumentException">The arrays differ in length or are empty.</exception>
    public Sentence(string[] words, string[] tags)
    {
        ArgumentNullException.ThrowIfNull(words);
        ArgumentNullException.ThrowIfNull(tags);
        if (words.Length != tags.Length)
            throw new ArgumentException($"A sentence needs one tag per word: {words.Length} words but {tags.Length} tags.", nameof(tags));
        if (words.Length == 0) throw new ArgumentException("A sentence needs at least one word.", nameof(words));
        Words = words;
        Tags = tags;
    }

    /// <summary>The words, in their original case.</summary>
    public string[] Words { get; }

    /// <summary>The tags, one per word.</summary>
    public string[] Tags { get; }

    /// <summary>Number of tokens.</summary>
    public int Length => Words.Length;

    /// <inheritdoc/>
    public override string ToString() => string.Join(' ', Words.Select((w, i) => $"{w}/{Tags[i]}"));
}

/// <summary>The Brown corpus split of the recipe: 52,596 training and 4,744 test sentences.</summary>
public sealed class Corpus
{
    /// <summary>File names looked up by <see cref="Load"/>.</summary>
    public const string TrainFile = "train.txt.gz", TestFile = "test.txt.gz";

    /// <summary>The recipe's counts (tools/brown/README.md); the tests and the sample check the vendored files against them.</summary>
    public const int ExpectedTrainSentences = 52_596, ExpectedTestSentences = 4_744,
                     ExpectedTrainTokens = 1_066_418, ExpectedTestTokens = 94_774, ExpectedTagCount = 104;

    private Corpus(IReadOnlyList<Sentence> train, IReadOnlyList<Sentence> test)
    {
        Train = train;
        Test = test;
    }

    /// <summary>Training sentences, in corpus order (files ca01..cr09 without the test files, lines in order).</summary>
    public IReadOnlyList<Sentence> Train { get; }

    /// <summary>Test sentences (files whose number is divisible by 10), in corpus order.</summary>
    public IReadOnlyList<Sentence> Test { get; }

    /// <summary>Loads <c>train.txt.gz</c> and <c>test.txt.gz</c> from <paramref name="dataDir"/>.</summary>
    /// <exception cref="FileNotFoundException">The directory or a file is missing; the message names the directory and both expected files.</exception>
    /// <exception cref="InvalidDataException">A line is not in the format above; the message names the file and line.</exception>
    public static Corpus Load(string dataDir)
    {
        ArgumentNullException.ThrowIfNull(dataDir);
        string trainPath = Path.Combine(dataDir, TrainFile), testPath = Path.Combine(dataDir, TestFile);
        foreach (string path in (ReadOnlySpan<string>)[trainPath, testPath])
            if (!File.Exists(path))
                throw new FileNotFoundException(
                    $"Brown corpus not found: '{Path.GetFullPath(dataDir)}' must contain {TrainFile} and {TestFile} (from samples/Tagger/data; see tools/brown/README.md).", path);
        var pool = new StringPool();
        return new Corpus(ReadFile(trainPath, pool), ReadFile(testPath, pool));
    }

    private static List<Sentence> ReadFile(string path, StringPool pool)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, new UTF8Encoding(false, throwOnInvalidBytes: true));
        return Read(reader, path, pool);
    }

    /// <summary>Parses sentences in the vendored format from <paramref name="reader"/>; <paramref name="sourceName"/> is used in error messages.</summary>
    /// <exception cref="InvalidDataException">A line is empty, or a token is not exactly <c>word SPACE tag</c> with both parts non-empty.</exception>
    public static List<Sentence> Read(TextReader reader, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return Read(reader, sourceName, new StringPool());
    }

    private static List<Sentence> Read(TextReader reader, string sourceName, StringPool pool)
    {
        var sentences = new List<Sentence>();
        var words = new List<string>();
        var tags = new List<string>();
        int lineNumber = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Length == 0) throw Error(sourceName, lineNumber, "empty line (every line is one sentence)");
            words.Clear();
            tags.Clear();
            foreach (Range range in line.AsSpan().Split('\t'))
            {
                ReadOnlySpan<char> token = line.AsSpan(range);
                int space = token.IndexOf(' ');
                if (space <= 0 || space == token.Length - 1 || token[(space + 1)..].Contains(' '))
                    throw Error(sourceName, lineNumber, $"token '{token}' is not 'word tag'");
                words.Add(pool.Get(token[..space]));
                tags.Add(pool.Get(token[(space + 1)..]));
            }
            sentences.Add(new Sentence([.. words], [.. tags]));
        }
        return sentences;
    }

    private static InvalidDataException Error(string source, int line, string what) =>
        new($"{source}:{line}: {what}; expected one sentence per line, tokens 'word tag' separated by TABs.");

    /// <summary>Returns one shared string per distinct text, looked up by span so repeated words allocate nothing.</summary>
    private sealed class StringPool
    {
        private readonly HashSet<string> _set = new(StringComparer.Ordinal);

        public string Get(ReadOnlySpan<char> text)
        {
            var lookup = _set.GetAlternateLookup<ReadOnlySpan<char>>();
            if (lookup.TryGetValue(text, out string? existing)) return existing;
            string s = text.ToString();
            _set.Add(s);
            return s;
        }
    }
}
