// The sampler: temperature and top-k semantics (nanoGPT's), determinism by seed, the context each model call sees
// (full re-run over the last window, incremental over a cache), the LSTM's stepped state against a full re-run,
// and no allocation per generated token.
using TextGen;

namespace ModelGen.Tests.TextGeneration;

public class SamplerTests
{
    private static double[] Softmax(float[] logits, double temperature, int topK = 0)
    {
        double threshold = topK == 0 ? double.NegativeInfinity : logits.OrderDescending().ElementAt(topK - 1);
        double max = logits.Max();
        var p = logits.Select(z => z >= threshold ? Math.Exp((z - max) / temperature) : 0).ToArray();
        double sum = p.Sum();
        return p.Select(x => x / sum).ToArray();
    }

    private static double[] Frequencies(float[] logits, float temperature, int topK, int draws, ulong seed)
    {
        var rng = new Rng(seed);
        var scratch = new float[logits.Length];
        var counts = new double[logits.Length];
        for (int i = 0; i < draws; i++) counts[TokenSampler.Sample(logits, temperature, topK, rng, scratch)]++;
        return counts.Select(c => c / draws).ToArray();
    }

    [Fact]
    public void Sample_TemperatureZero_IsArgmaxLowestIdOnTiesAndDrawsNothing()
    {
        var rng = new Rng(5);
        var scratch = new float[5];
        Assert.Equal(3, TokenSampler.Sample([0f, 1f, -2f, 4f, 3.5f], 0, 0, rng, scratch));
        Assert.Equal(1, TokenSampler.Sample([0f, 2f, 2f, -1f, 2f], 0, 0, rng, scratch));
        Assert.Equal(new Rng(5).NextUInt64(), rng.NextUInt64());   // no random number was used
    }

    [Theory]
    [InlineData(0.5f)]
    [InlineData(1f)]
    [InlineData(2f)]
    public void Sample_Frequencies_MatchSoftmaxOfLogitsOverTemperature(float temperature)
    {
        float[] logits = [1f, 2f, 0.5f, -1f, 1.5f];
        double[] expected = Softmax(logits, temperature), actual = Frequencies(logits, temperature, 0, 100_000, 11);
        for (int k = 0; k < logits.Length; k++)
            Assert.True(Math.Abs(expected[k] - actual[k]) < 0.006, $"token {k} at temperature {temperature}: p {expected[k]:F4}, drawn {actual[k]:F4}");
    }

    [Fact]
    public void Sample_Temperature_SharpensBelowOneFlattensAboveOne()
    {
        float[] logits = [0f, 1f, 2f];
        double cold = Frequencies(logits, 0.3f, 0, 20_000, 2)[2], warm = Frequencies(logits, 1f, 0, 20_000, 2)[2], hot = Frequencies(logits, 5f, 0, 20_000, 2)[2];
        Assert.True(cold > warm && warm > hot && hot > 1.0 / 3, $"p(best): T=0.3 {cold:F3}, T=1 {warm:F3}, T=5 {hot:F3}");
    }

    [Fact]
    public void Sample_TopK_KeepsTheKLargestAndTheirTiesRenormalised()
    {
        // Sorted: 5 (id 1), 4 (id 5), 3 (ids 2 and 3), 1, 0. k = 3 keeps logits >= 3, both 3s included (nanoGPT's rule).
        float[] logits = [0f, 5f, 3f, 3f, 1f, 4f];
        double[] actual = Frequencies(logits, 2f, 3, 100_000, 3), expected = Softmax(logits, 2, 3);
        Assert.Equal(0, actual[0]);
        Assert.Equal(0, actual[4]);
        for (int k = 0; k < logits.Length; k++)
            Assert.True(Math.Abs(expected[k] - actual[k]) < 0.006, $"token {k}: p {expected[k]:F4}, drawn {actual[k]:F4}");
        Assert.All(Frequencies(logits, 50f, 1, 1_000, 4).Select((f, k) => (f, k)), x => Assert.Equal(x.k == 1 ? 1.0 : 0.0, x.f));
        Assert.Equal(Frequencies(logits, 2f, 0, 5_000, 6), Frequencies(logits, 2f, 6, 5_000, 6));    // k = V keeps all
        Assert.Equal(Frequencies(logits, 2f, 0, 5_000, 6), Frequencies(logits, 2f, 99, 5_000, 6));   // k > V acts as V
    }

    [Fact]
    public void Sample_NegativeInfinityLogit_IsNeverDrawn()
    {
        float[] logits = [float.NegativeInfinity, 0f, float.NegativeInfinity, 0f];
        double[] actual = Frequencies(logits, 1f, 0, 10_000, 8);
        Assert.Equal(0, actual[0] + actual[2]);
        Assert.InRange(actual[1], 0.45, 0.55);
    }

    [Fact]
    public void Sample_BadOptions_Throw()
    {
        var rng = new Rng(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenSampler.Sample([1f, 2f], -0.1f, 0, rng, new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenSampler.Sample([1f, 2f], float.NaN, 0, rng, new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenSampler.Sample([1f, 2f], float.PositiveInfinity, 0, rng, new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenSampler.Sample([1f, 2f], 1f, -1, rng, new float[2]));
        Assert.Throws<ArgumentException>(() => TokenSampler.Sample([1f, 2f], 1f, 0, rng, new float[1]));
        var sampler = new TokenSampler(new SequenceModelLogits(new UniformModel(3), 3, 4).Logits, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Generate(new int[4], 0, 1f, 0, rng));
        Assert.Throws<ArgumentException>(() => sampler.Next([], 1f, 0, rng));
    }

    [Fact]
    public void Generate_Seed_FixesTheTextAndTemperatureZeroIgnoresIt()
    {
        var model = new PrefixModel(17) { Record = false };
        var sampler = new TokenSampler(new SequenceModelLogits(model, 17, 8).Logits, 17);
        int[] Run(float temperature, int topK, ulong seed)
        {
            var sequence = new int[40];
            sequence[0] = 4;
            sequence[1] = 9;
            sampler.Generate(sequence, 2, temperature, topK, new Rng(seed));
            return sequence;
        }
        Assert.Equal(Run(0.8f, 0, 1), Run(0.8f, 0, 1));
        Assert.Equal(Run(0.8f, 5, 1), Run(0.8f, 5, 1));
        Assert.NotEqual(Run(0.8f, 0, 1), Run(0.8f, 0, 2));
        Assert.NotEqual(Run(0.8f, 0, 1), Run(0.8f, 5, 1));
        Assert.Equal(Run(0f, 0, 1), Run(0f, 0, 2));
        Assert.Equal(new[] { 4, 9 }, Run(0.8f, 0, 3)[..2]);   // the prompt stays
    }

    [Fact]
    public void SequenceModelLogits_LongContext_RunsTheLastWindowAndKeepsItsLastRow()
    {
        const int V = 7, window = 5;
        var model = new PrefixModel(V);
        var logits = new SequenceModelLogits(model, V, window);
        Assert.Equal((1, window), (model.Calls[0].Batch, model.Calls[0].Seq));   // the warm-up at full size
        model.Calls.Clear();

        var sampler = new TokenSampler(logits.Logits, V);
        var sequence = new int[12];
        sequence[0] = 3;
        sampler.Generate(sequence, 1, 1f, 0, new Rng(1));
        Assert.Equal(11, model.Calls.Count);
        for (int i = 1; i < sequence.Length; i++)
        {
            var (batch, seq, ids) = model.Calls[i - 1];
            int start = Math.Max(0, i - window);
            Assert.Equal((1, i - start), (batch, seq));
            Assert.Equal(sequence[start..i], ids);
        }
        var expected = new float[V];
        var actual = new float[V];
        model.Logits(sequence.AsSpan(7, 5), expected);
        logits.Logits(sequence, actual);   // a 12-token context: the last 5 are read
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void IncrementalLogits_GrowingContext_AppendsOnlyNewTokensAndMatchesTheFullReRun()
    {
        const int V = 9, capacity = 6;
        var cached = new RecordingIncrementalModel(V, capacity);
        var incremental = new IncrementalLogits(cached, expectedLength: 2);   // the record grows past its hint
        var full = new SequenceModelLogits(new PrefixModel(V) { Record = false }, V, capacity);
        var sequence = new int[15];
        var rng = new Rng(3);
        for (int i = 0; i < sequence.Length; i++) sequence[i] = rng.NextInt(V);
        var a = new float[V];
        var b = new float[V];

        for (int n = 3; n <= sequence.Length; n++)
        {
            incremental.Logits(sequence.AsSpan(0, n), a);
            full.Logits(sequence.AsSpan(0, n), b);
            Assert.Equal(b, a);
        }
        // Prompt of 3 read at once, then one token per call up to the capacity; past it the window moves, so each
        // call starts over on the last 6 tokens.
        Assert.Equal(sequence[..3], cached.Appends[0]);
        Assert.All(cached.Appends.Skip(1).Take(3), tokens => Assert.Single(tokens));
        Assert.All(cached.Appends.Skip(4), tokens => Assert.Equal(capacity, tokens.Length));
        Assert.Equal(1 + (sequence.Length - capacity), cached.Resets);   // the constructor's reset, then one per moved window

        // A different context (a new prompt) starts over.
        int resets = cached.Resets;
        incremental.Logits([1, 2], a);
        Assert.Equal(resets + 1, cached.Resets);
        Assert.Equal(new[] { 1, 2 }, cached.Appends[^1]);
    }

    [Fact]
    public void RecurrentTokenModel_CharLstm_SteppedStateMatchesTheFullReRun()
    {
        var model = new CharLstm(3);
        var stepped = new IncrementalLogits(new RecurrentTokenModel(model.Forward, CharLstm.StateSize, TextSizes.Vocabulary));
        var full = new SequenceModelLogits(model, TextSizes.Vocabulary, 64);
        var rng = new Rng(12);
        var context = new int[40];
        for (int i = 0; i < context.Length; i++) context[i] = rng.NextInt(TextSizes.Vocabulary);
        var a = new float[TextSizes.Vocabulary];
        var b = new float[TextSizes.Vocabulary];
        for (int n = 1; n <= context.Length; n++)
        {
            stepped.Logits(context.AsSpan(0, n), a);
            full.Logits(context.AsSpan(0, n), b);
            for (int k = 0; k < a.Length; k++)
                Assert.True(Math.Abs(a[k] - b[k]) <= 1e-5f * (1 + Math.Abs(b[k])), $"context {n}, logit {k}: stepped {a[k]}, full re-run {b[k]}");
        }
        Assert.Equal(context.Length, stepped.ReadCount);
    }

    /// <summary>The GPT's cached path equals the full re-run inside the window and, past it, the windowed re-run.</summary>
    [Fact]
    public void CachedTokenModel_CharGpt_MatchesTheFullReRunInAndPastTheWindow()
    {
        var model = new CharGpt(3);
        var logits = TextGenModel.Gpt.Sampling(model);
        var full = new SequenceModelLogits(model, TextSizes.Vocabulary, TextSizes.Context);
        var rng = new Rng(13);
        var context = new int[TextSizes.Context + 6];
        for (int i = 0; i < context.Length; i++) context[i] = rng.NextInt(TextSizes.Vocabulary);
        var a = new float[TextSizes.Vocabulary];
        var b = new float[TextSizes.Vocabulary];
        foreach (int n in new[] { 1, 2, 3, 17, 64, TextSizes.Context, TextSizes.Context + 1, TextSizes.Context + 6 })
        {
            for (int m = n == 1 ? 1 : n - 1; m <= n; m++) logits(context.AsSpan(0, m), a);   // as generation asks: one more token each time
            full.Logits(context.AsSpan(0, n), b);
            for (int k = 0; k < a.Length; k++)
                Assert.True(Math.Abs(a[k] - b[k]) <= 1e-4f * (1 + Math.Abs(b[k])), $"context {n}, logit {k}: cached {a[k]}, full re-run {b[k]}");
        }
    }

    public static TheoryData<string, int> AllocationCases => new() { { "full", 0 }, { "full", 10 }, { "incremental", 0 }, { "incremental", 10 }, { "fake", 5 } };

    [Theory]
    [MemberData(nameof(AllocationCases))]
    public void Generate_AfterWarmUp_AllocatesNothingPerToken(string path, int topK)
    {
        var lstm = new CharLstm(1);
        NextTokenLogits logits = path switch
        {
            "full" => new SequenceModelLogits(lstm, TextSizes.Vocabulary, 16).Logits,   // contexts pass the window, which then slides
            "incremental" => TextGenModel.Lstm.Sampling(lstm),
            _ => new SequenceModelLogits(new PrefixModel(TextSizes.Vocabulary) { Record = false }, TextSizes.Vocabulary, 16).Logits,
        };
        var sampler = new TokenSampler(logits, TextSizes.Vocabulary);
        var sequence = new int[60];
        sequence[0] = 5;
        var rng = new Rng(1);
        // The warm-up call lets arenas and the incremental record reach their size.
        AllocationAssert.SteadyStateAllocatesNothing(() => sampler.Generate(sequence, 1, 0.8f, topK, rng), callsPerWindow: 1,
            $"Generate of 59 tokens ({path}, top-k {topK})", warmUpCalls: 1);
    }
}
