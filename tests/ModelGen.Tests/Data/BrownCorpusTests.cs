// Checks the vendored Brown corpus (samples/Tagger/data) and the tagger sample's data pipeline over it against the
// recipe's counts (tools/brown/README.md): sentences, tokens, tags, vocabulary size, the baseline, checksums.
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Tagger;

namespace ModelGen.Tests.Data;

public class BrownCorpusTests
{
    private static readonly Lazy<Corpus> Brown = new(() => Corpus.Load(TestPaths.BrownDirectory));

    [Fact]
    public void Load_VendoredFiles_HasRecipeSentenceAndTokenCounts()
    {
        var corpus = Brown.Value;
        Assert.Equal(Corpus.ExpectedTrainSentences, corpus.Train.Count);
        Assert.Equal(52_596, corpus.Train.Count);
        Assert.Equal(4_744, corpus.Test.Count);
        Assert.Equal(1_066_418, corpus.Train.Sum(s => s.Length));
        Assert.Equal(94_774, corpus.Test.Sum(s => s.Length));
        // The corpus's first sentence (ca01), as the source has it but with simplified tags.
        Assert.Equal("The/at Fulton/np County/nn Grand/jj Jury/nn said/vbd Friday/nr", string.Join(' ', corpus.Train[0].ToString().Split(' ')[..7]));
    }

    [Fact]
    public void TagSet_Training_Has104OrdinallySortedTagsCoveringTheTestSet()
    {
        var corpus = Brown.Value;
        var tags = TagSet.FromSentences(corpus.Train);
        Assert.Equal(104, tags.Count);
        Assert.Equal("'", tags[0]);
        Assert.Equal("wrb", tags[103]);
        for (int i = 1; i < tags.Count; i++) Assert.True(string.CompareOrdinal(tags[i - 1], tags[i]) < 0, $"tags {i - 1} and {i} out of order");
        foreach (var s in corpus.Test)
            foreach (string t in s.Tags) Assert.True(tags.Contains(t), $"test tag '{t}' not in the training tag set");
        // The recipe's rules leave no compound, title or foreign-word marks.
        Assert.DoesNotContain(Enumerable.Range(0, tags.Count).Select(i => tags[i]), t => t.Contains('+') || (t != "--" && t.Contains('-')) || t.StartsWith("fw", StringComparison.Ordinal));
    }

    [Fact]
    public void Vocabulary_ExactCaseMinCount2_Has28946EntriesByDescendingCount()
    {
        var train = Brown.Value.Train;
        var vocabulary = Vocabulary.FromWords(train);
        Assert.Equal(Vocabulary.ExpectedBrownWordCount, vocabulary.Count);
        Assert.Equal(28_946, vocabulary.Count);
        Assert.Equal("<pad>", vocabulary[Vocabulary.PadId]);
        Assert.Equal("<unk>", vocabulary[Vocabulary.UnkId]);
        Assert.Equal("the", vocabulary[2]);   // the most frequent training word
        Assert.NotEqual(vocabulary.IdOf("the"), vocabulary.IdOf("The"));   // exact case
        var counts = train.SelectMany(s => s.Words).GroupBy(w => w, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        for (int id = 3; id < vocabulary.Count; id++)
        {
            int previous = counts[vocabulary[id - 1]], current = counts[vocabulary[id]];
            Assert.True(current >= 2, $"'{vocabulary[id]}' occurs once but has id {id}");
            Assert.True(previous > current || (previous == current && string.CompareOrdinal(vocabulary[id - 1], vocabulary[id]) < 0),
                $"ids {id - 1} ('{vocabulary[id - 1]}', {previous}) and {id} ('{vocabulary[id]}', {current}) are not in descending-count, ordinal order");
            Assert.Equal(id, vocabulary.IdOf(vocabulary[id]));
        }
        Assert.Equal(Vocabulary.UnkId, vocabulary.IdOf(counts.First(kv => kv.Value == 1).Key));
        // Lower-casing would give a different size: the recipe's 28,946 is the exact-case vocabulary.
        Assert.Equal(26_432, Vocabulary.Build(train.SelectMany(s => s.Words).Select(w => w.ToLowerInvariant())).Count);
    }

    [Fact]
    public void Baseline_TestSet_Gives9035Percent()
    {
        var corpus = Brown.Value;
        var score = MostFrequentTagBaseline.Train(corpus.Train).Evaluate(corpus.Test);
        Assert.Equal(MostFrequentTagBaseline.ExpectedBrownCorrect, score.Correct);
        Assert.Equal(94_774, score.Tokens);
        Assert.Equal(new TaggingScore(Known: 90_890, KnownCorrect: 84_531, Unknown: 3_884, UnknownCorrect: 1_100), score);
        Assert.Equal("90.35", (100 * score.Accuracy).ToString("F2", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Baseline_Tie_GoesToTheTagSeenFirst()
    {
        // "carried" is vbn 58 and vbd 58 times in training; vbn comes first in the corpus.
        var baseline = MostFrequentTagBaseline.Train([new Sentence(["x", "x", "x"], ["vbn", "vbd", "vbd"]), new Sentence(["x", "y"], ["vbn", "jj"])]);
        Assert.Equal("vbn", baseline.Predict("x"));
        Assert.Equal("jj", baseline.Predict("y"));
        Assert.Equal("nn", baseline.Predict("X"));   // exact case: unknown
        Assert.Equal("vbn", MostFrequentTagBaseline.Train(Brown.Value.Train).Predict("carried"));
    }

    [Fact]
    public void Encode_WholeCorpus_EveryTokenAppearsOnceInAnEpoch()
    {
        var corpus = Brown.Value;
        var vocabulary = Vocabulary.FromWords(corpus.Train);
        var tags = TagSet.FromSentences(corpus.Train);
        var train = EncodedSentences.Encode(corpus.Train, vocabulary, tags, WordFeatures.FromSentences(corpus.Train));
        Assert.Equal(180, train.LongestSentence);
        var full = new TaggedBatches(train, batchSize: 64, shuffle: true, seed: 3, maxLength: int.MaxValue);
        var cut = new TaggedBatches(train, batchSize: 64, shuffle: true, seed: 3);
        long fullTokens = 0, cutTokens = 0, labelled = 0;
        var seen = new bool[train.Count];
        while (full.TryNext(out var b))
        {
            fullTokens += b.TokenCount;
            foreach (int label in b.Labels) labelled += label != TaggedBatches.IgnoreIndex ? 1 : 0;
            foreach (int i in b.SentenceIndices)
            {
                Assert.False(seen[i], $"sentence {i} appears twice in one epoch");
                seen[i] = true;
            }
        }
        while (cut.TryNext(out var b))
        {
            Assert.InRange(b.SeqLength, 1, 100);
            cutTokens += b.TokenCount;
        }
        Assert.All(seen, Assert.True);
        Assert.Equal(1_066_418, fullTokens);
        Assert.Equal(fullTokens, labelled);
        long expectedCut = Enumerable.Range(0, train.Count).Sum(i => (long)Math.Min(train.Length(i), 100));
        Assert.Equal(expectedCut, cutTokens);
        Assert.True(cutTokens < fullTokens, "some Brown training sentences are longer than 100 tokens, so truncation must drop tokens");
    }

    [Theory]
    [InlineData("train.txt.gz", "2665d44c02026ab97638052d26bf3388e06c6f8b96fdfa6441dd2bd24471af8e")]
    [InlineData("test.txt.gz", "6ca6c67b58fdeb77ea3e3e1d046a14459809bdf5bc2fb1cf9f607ff3f6ebe753")]
    public void VendoredFile_Sha256_MatchesToolsReadme(string file, string sha256)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(TestPaths.BrownDirectory, file));
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    [Fact]
    public void Load_MissingDirectory_ThrowsNamingDirectoryAndFiles()
    {
        string dir = Path.Combine(Path.GetTempPath(), "modelgen-no-brown-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<FileNotFoundException>(() => Corpus.Load(dir));
        Assert.Contains(dir, e.Message);
        Assert.Contains("train.txt.gz", e.Message);
        Assert.Contains("test.txt.gz", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("The at\tjury nn\n\nsaid vbd\n", 2, "empty line")]
    [InlineData("The at\tjury\n", 1, "'jury'")]
    [InlineData("The at\tjury nn x\n", 1, "'jury nn x'")]
    [InlineData("The at\t nn\n", 1, "' nn'")]
    [InlineData("The at\t\n", 1, "''")]
    public void Read_MalformedLine_ThrowsNamingFileAndLine(string text, int line, string detail)
    {
        var e = Assert.Throws<InvalidDataException>(() => Corpus.Read(new StringReader(text), "x.txt"));
        Assert.StartsWith($"x.txt:{line}: ", e.Message);
        Assert.Contains(detail, e.Message);
    }

    [Fact]
    public void Load_GzipRoundTrip_ReadsWordsWithSlashesAndCase()
    {
        string dir = Directory.CreateTempSubdirectory("modelgen-brown-").FullName;
        try
        {
            foreach (string file in (string[])[Corpus.TrainFile, Corpus.TestFile])
            {
                using var gz = new GZipStream(File.Create(Path.Combine(dir, file)), CompressionLevel.Optimal);
                gz.Write(Encoding.UTF8.GetBytes("1/2 cd\tand/or cc\tCafé np\n'' ''\n"));
            }
            var corpus = Corpus.Load(dir);
            Assert.Equal(["1/2", "and/or", "Café"], corpus.Train[0].Words);
            Assert.Equal(["cd", "cc", "np"], corpus.Test[0].Tags);
            Assert.Equal(["''"], corpus.Train[1].Words);
            Assert.Equal(["''"], corpus.Train[1].Tags);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
