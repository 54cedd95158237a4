// Validation bits per character on fake models: a uniform model costs log2(V), a model that knows the data ~0, and a
// model whose logits depend on the whole prefix matches a position-by-position reference of the window scheme
// (window i reads x[iT .. iT+T) and predicts x[iT+1 .. iT+T+1), the last window shorter), in double.
using TextGen;

namespace ModelGen.Tests.TextGeneration;

public class BitsPerCharacterTests
{
    private static int[] RandomText(int n, int vocabulary, ulong seed)
    {
        var rng = new Rng(seed);
        var text = new int[n];
        for (int i = 0; i < n; i++) text[i] = rng.NextInt(vocabulary);
        return text;
    }

    [Theory]
    [InlineData(2, 128)]
    [InlineData(129, 128)]     // exactly one full window
    [InlineData(1_000, 128)]   // 7 full windows and one of 103
    [InlineData(1_000, 1)]
    public void Evaluate_UniformModel_IsLog2OfTheVocabulary(int n, int context)
    {
        var score = BitsPerCharacter.Evaluate(new UniformModel(84), RandomText(n, 84, 1), context, 84);
        Assert.Equal(n - 1, score.Characters);
        Assert.Equal(Math.Log2(84), score.Bpc, 12);
        Assert.Equal(6.392, score.Bpc, 3);
        Assert.Equal(Math.Log(84), score.Nats, 12);
    }

    [Fact]
    public void Evaluate_ModelThatKnowsTheData_IsNearZero()
    {
        var text = new int[5_000];
        text[0] = 5;
        for (int i = 1; i < text.Length; i++) text[i] = RuleModel.Next(text[i - 1], 84);
        var score = BitsPerCharacter.Evaluate(new RuleModel(84), text, 128, 84);
        Assert.InRange(score.Bpc, 0, 1e-20);   // −log2(1/(1 + 83e−60)) ≈ 1e−24

        text[2_500] = (text[2_500] + 1) % 84;  // one surprise costs 60/ln 2 + log2(83) bits, and the next one too
        var surprised = BitsPerCharacter.Evaluate(new RuleModel(84), text, 128, 84);
        Assert.InRange(surprised.Bits, 2 * 60 / Math.Log(2), 2 * (60 / Math.Log(2) + Math.Log2(84)));
    }

    [Theory]
    [InlineData(300, 128, 2)]   // 2 full windows + 43
    [InlineData(257, 128, 32)]  // 2 full windows, no partial one
    [InlineData(50, 7, 3)]      // 7 full windows (3 + 3 + 1 per call) of 7, no partial one
    [InlineData(51, 7, 4)]      // 7 full + 1 of 1 position: the partial window's only prediction sees one character
    public void Evaluate_PrefixModel_MatchesPositionByPositionReference(int n, int context, int batchSize)
    {
        const int V = 11;
        int[] text = RandomText(n, V, 4);
        var model = new PrefixModel(V);
        var score = BitsPerCharacter.Evaluate(model, text, context, V, batchSize);

        // Reference: character j (1 <= j < n) is predicted in window i = (j − 1)/T from x[iT .. j).
        double bits = 0;
        var logits = new float[V];
        for (int j = 1; j < n; j++)
        {
            int start = (j - 1) / context * context;
            model.Logits(text.AsSpan(start, j - start), logits);
            double max = logits.Max(), sum = logits.Sum(z => Math.Exp(z - max));
            bits -= (logits[text[j]] - max - Math.Log(sum)) / Math.Log(2);
        }
        Assert.Equal(n - 1, score.Characters);
        Assert.Equal(bits, score.Bits, 1e-9 * bits);

        // The calls: full windows in batches of batchSize [.., T], then the partial window alone.
        int full = (n - 1) / context, partial = (n - 1) % context, window = 0;
        foreach (var (batch, seq, ids) in model.Calls)
        {
            if (window < full)
            {
                Assert.Equal((context, Math.Min(batchSize, full - window)), (seq, batch));
                Assert.Equal(text.AsSpan(window * context, batch * seq).ToArray(), ids);
                window += batch;
            }
            else
            {
                Assert.Equal((1, partial), (batch, seq));
                Assert.Equal(text.AsSpan(full * context, partial).ToArray(), ids);
                window++;
            }
        }
        Assert.Equal(full + (partial > 0 ? 1 : 0), window);
    }

    [Fact]
    public void Evaluate_BatchSize_DoesNotChangeTheResult()
    {
        int[] text = RandomText(3_000, 13, 8);
        double one = BitsPerCharacter.Evaluate(new PrefixModel(13), text, 64, 13, batchSize: 1).Bits;
        Assert.Equal(one, BitsPerCharacter.Evaluate(new PrefixModel(13), text, 64, 13, batchSize: 5).Bits);
        Assert.Equal(one, BitsPerCharacter.Evaluate(new PrefixModel(13), text, 64, 13, batchSize: 1_000).Bits);
    }

    [Fact]
    public void LogSoftmaxAt_LargeLogits_StaysFiniteAndExact()
    {
        // Without the maximum subtracted exp(1000) overflows; with it the result is log(1/2) exactly.
        Assert.Equal(Math.Log(0.5), BitsPerCharacter.LogSoftmaxAt([1000f, 1000f], 0), 15);
        Assert.Equal(-1000 - Math.Log(1 + Math.Exp(-1000)), BitsPerCharacter.LogSoftmaxAt([1000f, 0f], 1), 9);
    }

    [Fact]
    public void Evaluate_BadArguments_Throw()
    {
        var model = new UniformModel(5);
        Assert.Contains("at least 2 ids", Assert.Throws<ArgumentException>(() => BitsPerCharacter.Evaluate(model, [1], 4, 5)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => BitsPerCharacter.Evaluate(model, [1, 2], 0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => BitsPerCharacter.Evaluate(model, [1, 2], 4, 5, batchSize: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BitsPerCharacter.Evaluate(model, [1, 7], 4, 5));   // target outside the logits
    }
}
