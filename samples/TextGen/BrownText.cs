// The running text of the Brown corpus, read from the tagger's vendored files (samples/Tagger/data, produced by
// tools/brown/convert.py; same file split: test = the 41 files whose number is divisible by 10). Each line of those
// files is one sentence of TAB-separated "word SPACE tag" tokens; the text keeps the words only, joined by single
// spaces, and ends every sentence with '\n', so the newline is one of the characters a model learns to predict.
using System.IO.Compression;
using System.Text;

namespace TextGen;

/// <summary>The Brown corpus as running text: training and test splits, one sentence per line.</summary>
public sealed class BrownText
{
    /// <summary>File names looked up by <see cref="Load"/> (the tagger's files).</summary>
    public const string TrainFile = "train.txt.gz", TestFile = "test.txt.gz";

    /// <summary>Characters of the training text (newlines included), as the vendored files give them.</summary>
    public const int ExpectedTrainCharacters = 5_624_845;

    /// <summary>Characters of the test text (newlines included).</summary>
    public const int ExpectedTestCharacters = 502_229;

    /// <summary>Sentences (lines) of the two splits.</summary>
    public const int ExpectedTrainSentences = 52_596, ExpectedTestSentences = 4_744;

    private BrownText(string train, string test)
    {
        Train = train;
        Test = test;
    }

    /// <summary>The training text: 52,596 sentences, each followed by <c>'\n'</c>.</summary>
    public string Train { get; }

    /// <summary>The test text: 4,744 sentences, each followed by <c>'\n'</c>.</summary>
    public string Test { get; }

    /// <summary>Loads <c>train.txt.gz</c> and <c>test.txt.gz</c> from <paramref name="dataDir"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="dataDir"/> is null.</exception>
    /// <exception cref="FileNotFoundException">The directory or a file is missing; the message names the directory and both expected files.</exception>
    /// <exception cref="InvalidDataException">A line is not in the vendored format; the message names the file and line.</exception>
    public static BrownText Load(string dataDir)
    {
        ArgumentNullException.ThrowIfNull(dataDir);
        string trainPath = Path.Combine(dataDir, TrainFile), testPath = Path.Combine(dataDir, TestFile);
        foreach (string path in (ReadOnlySpan<string>)[trainPath, testPath])
            if (!File.Exists(path))
                throw new FileNotFoundException(
                    $"Brown corpus not found: '{Path.GetFullPath(dataDir)}' must contain {TrainFile} and {TestFile} (from samples/Tagger/data; see tools/brown/README.md).", path);
        return new BrownText(ReadFile(trainPath), ReadFile(testPath));
    }

    private static string ReadFile(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, new UTF8Encoding(false, throwOnInvalidBytes: true));
        return Read(reader, path);
    }

    /// <summary>
    /// Turns tagged sentences in the vendored format (one per line, TAB-separated <c>word SPACE tag</c> tokens) into
    /// running text: each sentence's words joined by single spaces, followed by <c>'\n'</c>.
    /// </summary>
    /// <param name="reader">The tagged lines.</param>
    /// <param name="sourceName">Names the source in error messages.</param>
    /// <exception cref="ArgumentNullException"><paramref name="reader"/> is null.</exception>
    /// <exception cref="InvalidDataException">A line is empty, or a token is not exactly <c>word SPACE tag</c> with both parts non-empty.</exception>
    public static string Read(TextReader reader, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var text = new StringBuilder();
        int lineNumber = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Length == 0) throw Error(sourceName, lineNumber, "empty line (every line is one sentence)");
            bool first = true;
            foreach (Range range in line.AsSpan().Split('\t'))
            {
                ReadOnlySpan<char> token = line.AsSpan(range);
                int space = token.IndexOf(' ');
                if (space <= 0 || space == token.Length - 1 || token[(space + 1)..].Contains(' '))
                    throw Error(sourceName, lineNumber, $"token '{token}' is not 'word tag'");
                if (!first) text.Append(' ');
                text.Append(token[..space]);
                first = false;
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    private static InvalidDataException Error(string source, int line, string what) =>
        new($"{source}:{line}: {what}; expected one sentence per line, tokens 'word tag' separated by TABs.");
}
