// The tagger sample's batching on small hand-made sentences: padding, lengths, -100 labels, truncation, seeded
// order, dropLast, features, and zero allocation per batch; plus the Brown tokenizer and word-shape features.
using Tagger;

namespace ModelGen.Tests.Data;

public class TaggedBatchesTests
{
    // Sentence i has i + 1 words "w0".."wi" tagged "a", "b", "a", ...; w0 and w1 occur often enough for the vocabulary.
    private static List<Sentence> Sentences(int count) =>
        Enumerable.Range(0, count)
            .Select(i => new Sentence(
                Enumerable.Range(0, i + 1).Select(k => "w" + k).ToArray(),
                Enumerable.Range(0, i + 1).Select(k => k % 2 == 0 ? "a" : "b").ToArray()))
            .ToList();

    private static (EncodedSentences Data, Vocabulary Words, TagSet Tags) Encoded(int count, bool features = false)
    {
        var sentences = Sentences(count);
        var words = Vocabulary.FromWords(sentences, minCount: 2);
        var tags = TagSet.FromSentences(sentences);
        return (EncodedSentences.Encode(sentences, words, tags, features ? WordFeatures.FromSentences(sentences) : null), words, tags);
    }

    [Fact]
    public void TryNext_InOrder_PadsToLongestInBatchWithPadIdAndIgnoreIndex()
    {
        var (data, words, tags) = Encoded(5);   // lengths 1..5; with minCount 2 "w4" (once) is unknown
        var batches = new TaggedBatches(data, batchSize: 3, shuffle: false);
        Assert.Equal(2, batches.BatchesPerEpoch);

        Assert.True(batches.TryNext(out var b));
        Assert.Equal(3, b.Size);
        Assert.Equal(3, b.SeqLength);
        Assert.Equal(6, b.TokenCount);
        Assert.Equal([1, 2, 3], b.Lengths.ToArray());
        Assert.Equal([0, 1, 2], b.SentenceIndices.ToArray());
        int w0 = words.IdOf("w0"), w1 = words.IdOf("w1"), w2 = words.IdOf("w2"), a = tags.IndexOf("a"), bb = tags.IndexOf("b");
        Assert.Equal([w0, 0, 0, w0, w1, 0, w0, w1, w2], b.Ids.ToArray());
        Assert.Equal([a, -100, -100, a, bb, -100, a, bb, a], b.Labels.ToArray());
        Assert.True(b.Suffixes.IsEmpty && b.Shapes.IsEmpty);

        Assert.True(batches.TryNext(out b));   // the smaller last batch
        Assert.Equal(2, b.Size);
        Assert.Equal(5, b.SeqLength);
        Assert.Equal([4, 5], b.Lengths.ToArray());
        Assert.Equal(2 * 5, b.Ids.Length);
        Assert.Equal(Vocabulary.UnkId, b.Ids[5 + 4]);              // "w4" occurs once
        Assert.Equal(Vocabulary.PadId, b.Ids[4]);                   // row 0 padded after 4 tokens
        Assert.Equal(TaggedBatches.IgnoreIndex, b.Labels[4]);
        Assert.False(batches.TryNext(out _));
    }

    [Fact]
    public void TryNext_LongSentences_CutAtMaxLength()
    {
        var (data, _, _) = Encoded(10);   // lengths 1..10
        var batches = new TaggedBatches(data, batchSize: 4, shuffle: false, maxLength: 6);
        var lengths = new List<int>();
        while (batches.TryNext(out var b))
        {
            Assert.Equal(b.Lengths.ToArray().Max(), b.SeqLength);
            Assert.Equal(b.Size * b.SeqLength, b.Ids.Length);
            for (int r = 0; r < b.Size; r++)
            {
                // The kept tokens are the sentence's first ones: labels alternate a, b from position 0.
                var row = b.Labels.Slice(r * b.SeqLength, b.SeqLength);
                for (int t = 0; t < b.SeqLength; t++)
                    Assert.Equal(t < b.Lengths[r] ? t % 2 : TaggedBatches.IgnoreIndex, row[t]);
            }
            lengths.AddRange(b.Lengths.ToArray());
        }
        Assert.Equal([1, 2, 3, 4, 5, 6, 6, 6, 6, 6], lengths);
    }

    [Fact]
    public void StartEpoch_Shuffled_OrderDependsOnlyOnSeedAndEpoch()
    {
        var (data, _, _) = Encoded(23);
        int[] Order(TaggedBatches batches, int epoch)
        {
            batches.StartEpoch(epoch);
            var order = new List<int>();
            while (batches.TryNext(out var b)) order.AddRange(b.SentenceIndices.ToArray());
            return [.. order];
        }
        var x = new TaggedBatches(data, 4, shuffle: true, seed: 5);
        var y = new TaggedBatches(data, 4, shuffle: true, seed: 5);
        int[] x0 = Order(x, 0), x1 = Order(x, 1);
        Assert.Equal(x1, Order(y, 1));     // same (seed, epoch), whatever ran before
        Assert.Equal(x0, Order(y, 0));
        Assert.NotEqual(x0, x1);
        Assert.Equal(Enumerable.Range(0, 23), x0.Order());
        Assert.NotEqual(x0, Order(new TaggedBatches(data, 4, shuffle: true, seed: 6), 0));
        Assert.Equal(Enumerable.Range(0, 23), Order(new TaggedBatches(data, 4, shuffle: false), 3));
    }

    [Fact]
    public void TryNext_DropLast_SkipsTheSmallBatch()
    {
        var (data, _, _) = Encoded(10);
        var batches = new TaggedBatches(data, 4, shuffle: true, dropLast: true);
        Assert.Equal(2, batches.BatchesPerEpoch);
        int count = 0;
        while (batches.TryNext(out var b))
        {
            Assert.Equal(4, b.Size);
            count++;
        }
        Assert.Equal(2, count);
    }

    [Fact]
    public void TryNext_WithFeatures_SameLayoutPaddedWithZero()
    {
        var sentences = new List<Sentence>
        {
            new(["The", "U.S.", "x-ray"], ["at", "np", "nn"]),
            new(["in", "1961", "The", "x-ray"], ["in", "cd", "at", "nn"]),
        };
        var features = WordFeatures.FromSentences(sentences, minCount: 2);   // suffixes seen twice: "the", "ray"
        var data = EncodedSentences.Encode(sentences, Vocabulary.FromWords(sentences), TagSet.FromSentences(sentences), features);
        var batches = new TaggedBatches(data, 2, shuffle: false);
        Assert.True(batches.TryNext(out var b));
        Assert.Equal(4, b.SeqLength);
        int the = features.Suffixes.IdOf("the"), ray = features.Suffixes.IdOf("ray"), unk = Vocabulary.UnkId;
        Assert.Equal([the, unk, ray, 0, unk, unk, the, ray], b.Suffixes.ToArray());
        Assert.Equal([WordFeatures.ShapeId("The"), WordFeatures.ShapeId("U.S."), WordFeatures.ShapeId("x-ray"), 0,
                      WordFeatures.ShapeId("in"), WordFeatures.ShapeId("1961"), WordFeatures.ShapeId("The"), WordFeatures.ShapeId("x-ray")],
                     b.Shapes.ToArray());
    }

    [Fact]
    public void Encode_Untagged_LabelsAreIgnoreIndex()
    {
        var sentences = Sentences(3);
        var words = Vocabulary.FromWords(sentences);
        var data = EncodedSentences.Encode([BrownTokenizer.Tokenize("w0 w1, w9.")], words);
        Assert.Equal(1, data.Count);
        Assert.Equal([words.IdOf("w0"), words.IdOf("w1"), Vocabulary.UnkId, Vocabulary.UnkId, Vocabulary.UnkId], data.WordIds(0).ToArray());
        Assert.All(data.TagIds(0).ToArray(), t => Assert.Equal(TaggedBatches.IgnoreIndex, t));
        Assert.Throws<ArgumentException>(() => EncodedSentences.Encode([Array.Empty<string>()], words));
    }

    [Fact]
    public void Encode_UnknownTag_ThrowsNamingIt()
    {
        var sentences = Sentences(2);
        var tags = TagSet.FromSentences(sentences);
        var e = Assert.Throws<KeyNotFoundException>(() =>
            EncodedSentences.Encode([new Sentence(["w0"], ["zz"])], Vocabulary.FromWords(sentences), tags));
        Assert.Contains("'zz'", e.Message);
    }

    [Fact]
    public void TryNext_SteadyState_AllocatesNothing()
    {
        var (data, _, _) = Encoded(40, features: true);
        var batches = new TaggedBatches(data, 7, shuffle: true, seed: 2, maxLength: 30);
        int epoch = -1, count = 0;
        // A window is one epoch's batches. Starting the epoch is outside it: it draws the epoch's order from a fresh derived
        // Rng (one small object per epoch). The warm-up epoch warms up the JIT.
        void Epoch()
        {
            count = 0;
            while (batches.TryNext(out _)) count++;
            if (count != 6) Assert.Fail($"epoch {epoch}: {count} batches, expected 6");   // formats only on failure: no allocation in the window
        }
        batches.StartEpoch(++epoch);
        Epoch();
        AllocationAssert.SteadyStateAllocatesNothing(Epoch, callsPerWindow: 1, "an epoch of TryNext", warmUpCalls: 0,
            beforeEachWindow: () => batches.StartEpoch(++epoch));
    }

    [Fact]
    public void Constructor_BadSizes_Throw()
    {
        var (data, _, _) = Encoded(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TaggedBatches(data, 0, shuffle: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TaggedBatches(data, 2, shuffle: false, maxLength: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Vocabulary.FromWords(Sentences(2), minCount: 0));
        Assert.Throws<ArgumentException>(() => new Sentence(["a"], ["x", "y"]));
        Assert.Throws<ArgumentException>(() => Vocabulary.Build(["<unk>"]));
    }

    [Theory]
    [InlineData("The jury said, \"it was fine.\"", "The|jury|said|,|``|it|was|fine|.|''")]
    [InlineData("Mr. Smith of the U.S. Army (retired) left at 5 p.m. today.", "Mr.|Smith|of|the|U.S.|Army|(|retired|)|left|at|5|p.m.|today|.")]
    [InlineData("J. Doe didn't see the workers' cars--or did he?", "J.|Doe|didn't|see|the|workers'|cars|--|or|did|he|?")]
    [InlineData("``Atlanta's mayor,'' he wrote; then: stop!", "``|Atlanta's|mayor|,|''|he|wrote|;|then|:|stop|!")]
    [InlineData("  wait...  [sic] -- 1,000 etc.", "wait|.|.|.|[|sic|]|--|1,000|etc.")]
    [InlineData("", "")]
    public void Tokenize_Text_SplitsTheBrownWay(string text, string expected)
    {
        Assert.Equal(expected.Length == 0 ? [] : expected.Split('|'), BrownTokenizer.Tokenize(text));
    }

    [Theory]
    [InlineData("the", 1)]          // no capitals
    [InlineData("The", 5)]          // initial capital
    [InlineData("I", 5)]
    [InlineData("NATO", 9)]         // all capitals
    [InlineData("McDonald", 13)]    // other capitals
    [InlineData("1961", 3)]         // digit
    [InlineData("x-ray", 2)]        // hyphen
    [InlineData("B-52", 8)]         // initial capital, digit, hyphen
    public void ShapeId_Word_EncodesCapitalisationDigitAndHyphen(string word, int shape)
    {
        Assert.Equal(shape, WordFeatures.ShapeId(word));
        Assert.InRange(shape, 1, WordFeatures.ShapeCount - 1);
    }

    [Fact]
    public void SuffixId_LowerCasesTheLastThreeCharacters()
    {
        var features = WordFeatures.FromSentences([new Sentence(["running", "jumping", "go", "go"], ["vbg", "vbg", "vb", "vb"])]);
        Assert.Equal(features.Suffixes.IdOf("ing"), features.SuffixId("SINGING"));
        Assert.Equal(features.Suffixes.IdOf("go"), features.SuffixId("Go"));
        Assert.Equal(Vocabulary.UnkId, features.SuffixId("table"));
        Assert.Equal(4, features.Suffixes.Count);   // <pad>, <unk>, "go", "ing" (2 each)
    }
}
