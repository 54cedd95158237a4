// The text-generation sample's data: the Brown running text built from the vendored tagger files, its character
// vocabulary, and the counts the sample and its README state.
using ModelGen.Tests.Data;
using TextGen;

namespace ModelGen.Tests.TextGeneration;

public class BrownTextTests
{
    internal static readonly Lazy<BrownText> Brown = new(() => BrownText.Load(TestPaths.BrownDirectory));

    [Fact]
    public void Load_VendoredFiles_HasExpectedCharacterAndSentenceCounts()
    {
        var text = Brown.Value;
        Assert.Equal(BrownText.ExpectedTrainCharacters, text.Train.Length);
        Assert.Equal(5_624_845, text.Train.Length);
        Assert.Equal(502_229, text.Test.Length);
        Assert.Equal(52_596, text.Train.Count(c => c == '\n'));
        Assert.Equal(4_744, text.Test.Count(c => c == '\n'));
        Assert.EndsWith(".\n", text.Train);
        // ca01's first sentence, words joined by single spaces; the tagger's tokens `` and '' stay as they are.
        Assert.StartsWith("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced `` no evidence '' that any irregularities took place .\nThe jury further said", text.Train);
        Assert.StartsWith("Vincent G. Ierulli has been appointed temporary assistant district attorney ,", text.Test);
        Assert.DoesNotContain("  ", text.Train);
        Assert.DoesNotContain('\t', text.Train);
        Assert.DoesNotContain(" \n", text.Test);
    }

    [Fact]
    public void Vocabulary_BrownTraining_IsUnkThen83CharactersInOrdinalOrder()
    {
        var text = Brown.Value;
        var vocabulary = CharVocabulary.FromText(text.Train);
        Assert.Equal(84, vocabulary.Count);
        Assert.Equal(CharVocabulary.BrownSize, vocabulary.Count);
        Assert.Equal(CharVocabulary.UnkCharacter, vocabulary[CharVocabulary.UnkId]);
        Assert.Equal('\n', vocabulary[1]);
        Assert.Equal(' ', vocabulary[2]);
        Assert.Equal('!', vocabulary[3]);
        Assert.Equal('A', vocabulary[vocabulary.IdOf('A')]);
        Assert.Equal('z', vocabulary[83]);
        for (int id = 2; id < vocabulary.Count; id++) Assert.True(vocabulary[id - 1] < vocabulary[id], $"ids {id - 1} and {id} are not in ordinal order");
        Assert.Equal(string.Concat(text.Train.Distinct().Order()), new string(Enumerable.Range(1, 83).Select(id => vocabulary[id]).ToArray()));

        // The test text has two characters training lacks, '{' and '}' (16 each), none in the scored first 200,000.
        int[] test = vocabulary.Encode(text.Test);
        Assert.Equal(32, test.Count(id => id == CharVocabulary.UnkId));
        Assert.Equal(CharVocabulary.UnkId, vocabulary.IdOf('{'));
        Assert.DoesNotContain(CharVocabulary.UnkId, test.AsSpan(0, BitsPerCharacter.ValidationCharacters).ToArray());
        Assert.Equal(text.Test.Replace('{', CharVocabulary.UnkCharacter).Replace('}', CharVocabulary.UnkCharacter), vocabulary.Decode(test));
    }

    [Fact]
    public void Vocabulary_SmallText_EncodesDecodesAndMapsUnknownsToUnk()
    {
        var vocabulary = CharVocabulary.FromText("hello world\n");
        Assert.Equal(10, vocabulary.Count);   // <unk>, then '\n', ' ', d, e, h, l, o, r, w
        Assert.Equal(Enumerable.Range(0, 10), "\uFFFD\n dehlorw".Select(c => vocabulary.IdOf(c)));
        Assert.Equal(CharVocabulary.UnkId, vocabulary.IdOf('x'));
        Assert.Equal(CharVocabulary.UnkId, vocabulary.IdOf('\u4E16'));   // beyond the table
        int[] ids = vocabulary.Encode("hold xow");
        Assert.Equal("hold \uFFFDow", vocabulary.Decode(ids));
        Assert.Throws<ArgumentOutOfRangeException>(() => vocabulary.Decode([10]));
        Assert.Throws<ArgumentException>(() => vocabulary.Encode("ab", new int[3]));
        Assert.Throws<ArgumentException>(() => CharVocabulary.FromText(""));
        Assert.Throws<ArgumentException>(() => CharVocabulary.FromText("a\uFFFD"));
    }

    [Fact]
    public void Read_TaggedLines_JoinsWordsBySpacesOneSentencePerLine()
    {
        string text = BrownText.Read(new StringReader("The at\tjury nn\t. .\n1/2 cd\tmg/l nns\n"), "inline");
        Assert.Equal("The jury .\n1/2 mg/l\n", text);
    }

    [Theory]
    [InlineData("The at\n\nA at\n", "inline:2: empty line")]
    [InlineData("The at\tjury\n", "inline:1: token 'jury' is not 'word tag'")]
    [InlineData("The at x\n", "inline:1: token 'The at x' is not 'word tag'")]
    public void Read_MalformedLine_ThrowsNamingSourceAndLine(string input, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => BrownText.Read(new StringReader(input), "inline"));
        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void Load_MissingDirectory_ThrowsNamingBothFiles()
    {
        var e = Assert.Throws<FileNotFoundException>(() => BrownText.Load(Path.Combine(Path.GetTempPath(), "no-such-brown-dir")));
        Assert.Contains("train.txt.gz", e.Message);
        Assert.Contains("test.txt.gz", e.Message);
    }
}
