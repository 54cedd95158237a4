// Generation from an encoder-decoder model through the library's sampler: EncoderDecoderLogits over a generated two-input
// model's PrepareSource/ForwardStep gives the last row of the full two-input Forward for every context (growing, restarted,
// past MaxLength, under a new source), greedy decoding is the argmax of the full forward, a seed fixes the text, and a
// generation allocates nothing after warm-up. Plus the sampler's top-k = 1 against greedy on random logits.
using ModelGen.Tests.Models;

namespace ModelGen.Tests.Generation;

public class EncoderDecoderLogitsTests
{
    private const int Vocabulary = 11;   // Seq2SeqStepNet's target vocabulary (its head's outputs)

    private static int[] Ids(int count, int vocab, int seed)
    {
        var rng = new Rng((ulong)seed);
        var ids = new int[count];
        for (int i = 0; i < count; i++) ids[i] = rng.NextInt(vocab);
        return ids;
    }

    private static EncoderDecoderLogits Logits(Seq2SeqStepNet model, int expectedSourceLength = 4) =>
        new(model.PrepareSource, model.ForwardStep, Seq2SeqStepNet.CacheSize, Seq2SeqStepNet.MaxLength, Vocabulary, expectedSourceLength);

    /// <summary>The last row of the full two-input forward over the last MaxLength tokens of <paramref name="context"/>.</summary>
    private static float[] FullLastRow(Seq2SeqStepNet model, ReadOnlySpan<int> context, int[] source)
    {
        var window = context.Length > Seq2SeqStepNet.MaxLength ? context[^Seq2SeqStepNet.MaxLength..] : context;
        var output = new float[window.Length * Vocabulary];
        model.Forward(window, source, output, 1, window.Length, source.Length);
        return output[^Vocabulary..];
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual, string what)
    {
        for (int k = 0; k < expected.Length; k++)
            Assert.True(Math.Abs(expected[k] - actual[k]) <= 1e-5f * (1 + Math.Abs(expected[k])), $"{what}, logit {k}: full forward {expected[k]}, cached {actual[k]}");
    }

    [Fact]
    public void Logits_GrowingRestartedLongAndReconditionedContexts_EqualTheFullForward()
    {
        var model = new Seq2SeqStepNet(4);
        var logits = Logits(model);
        int[] source = Ids(6, 7, 1), other = Ids(9, 7, 2), target = Ids(Seq2SeqStepNet.MaxLength + 5, Vocabulary, 3);
        var y = new float[Vocabulary];
        Assert.Throws<InvalidOperationException>(() => logits.Logits(target.AsSpan(0, 1), y));

        logits.SetSource(source);   // longer than the expected 4: the cache grows
        Assert.Equal(6, logits.SourceLength);
        for (int t = 1; t <= target.Length; t++)   // past MaxLength the window slides and is re-read through the cache
        {
            logits.Logits(target.AsSpan(0, t), y);
            AssertClose(FullLastRow(model, target.AsSpan(0, t), source), y, $"source 1, context {t}");
        }
        logits.Logits(target.AsSpan(0, 3), y);   // a context that does not extend the last one: the model restarts
        AssertClose(FullLastRow(model, target.AsSpan(0, 3), source), y, "restarted context 3");

        // The same target context under another source: SetSource forgets what was read, so nothing stale is reused.
        logits.SetSource(other);
        for (int t = 1; t <= 5; t++)
        {
            logits.Logits(target.AsSpan(0, t), y);
            AssertClose(FullLastRow(model, target.AsSpan(0, t), other), y, $"source 2, context {t}");
        }
        Assert.Throws<ArgumentException>(() => logits.SetSource([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => logits.SetSource([1, 7]));   // id 7 is past the source vocabulary
        Assert.Throws<InvalidOperationException>(() => logits.Logits(target.AsSpan(0, 1), y));   // the failed SetSource left no source
    }

    [Fact]
    public void Generate_GreedyIsTheFullForwardsArgmax_AndASeedFixesTheText()
    {
        var model = new Seq2SeqStepNet(6);
        var logits = Logits(model);
        int[] source = Ids(5, 7, 4);
        logits.SetSource(source);
        var sampler = new TokenSampler(logits.Logits, Vocabulary);
        var greedy = new int[10];
        greedy[0] = 1;   // the start token
        sampler.Generate(greedy, 1, temperature: 0, topK: 0, new Rng(1));
        for (int i = 1; i < greedy.Length; i++)
        {
            float[] row = FullLastRow(model, greedy.AsSpan(0, i), source);
            Assert.Equal(Array.IndexOf(row, row.Max()), greedy[i]);
        }
        var topOne = (int[])greedy.Clone();
        sampler.Generate(topOne, 1, temperature: 1.5f, topK: 1, new Rng(2));
        Assert.Equal(greedy, topOne);

        int[] Sampled(ulong seed)
        {
            var sequence = new int[12];
            sequence[0] = 1;
            sampler.Generate(sequence, 1, temperature: 1f, topK: 0, new Rng(seed));
            return sequence;
        }
        Assert.Equal(Sampled(7), Sampled(7));
        Assert.NotEqual(Sampled(7), Sampled(8));
    }

    [Fact]
    public void SetSourceAndGenerate_AfterWarmUp_AllocateNothing()
    {
        var model = new Seq2SeqStepNet(2);
        var logits = Logits(model, expectedSourceLength: 8);
        var sampler = new TokenSampler(logits.Logits, Vocabulary);
        int[] source = Ids(8, 7, 5), shorter = Ids(3, 7, 6);
        var sequence = new int[Seq2SeqStepNet.MaxLength];
        var rng = new Rng(3);
        bool flip = false;
        AllocationAssert.SteadyStateAllocatesNothing(() =>
        {
            logits.SetSource((flip = !flip) ? source : shorter);
            sequence[0] = 1;
            sampler.Generate(sequence, 1, 0.8f, 5, rng);
        }, callsPerWindow: 4, "SetSource + Generate of 11 tokens");
    }

    /// <summary>Top-k = 1 keeps only the largest logit whatever the temperature: the greedy token (lowest id among equals), on random logits.</summary>
    [Fact]
    public void Sample_TopKOne_EqualsGreedyArgmax()
    {
        var data = new Rng(9);
        var scratch = new float[37];
        var logits = new float[37];
        for (int trial = 0; trial < 200; trial++)
        {
            for (int i = 0; i < logits.Length; i++) logits[i] = (float)(data.NextDouble() * 8 - 4);
            if (trial % 10 == 0) logits[trial % 37] = logits.Max();   // a tie at the top
            int greedy = TokenSampler.Sample(logits, 0, 0, new Rng(1), scratch);
            Assert.Equal(Array.IndexOf(logits, logits.Max()), greedy);
            foreach (float temperature in new[] { 0.1f, 1f, 10f })
            {
                int drawn = TokenSampler.Sample(logits, temperature, 1, new Rng((ulong)trial), scratch);
                Assert.True(logits[drawn] == logits[greedy], $"trial {trial}, T={temperature}: top-1 drew {drawn} ({logits[drawn]}), greedy {greedy} ({logits[greedy]})");
            }
        }
    }
}
