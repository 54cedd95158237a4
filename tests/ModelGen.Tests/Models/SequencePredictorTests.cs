// Sequence predictors (model.CreatePredictor() on a sequence model, issue 12 part 2): equal to the model's own Forward
// within 1e-6 relative on the sample models (samples/Tagger's taggers, samples/TextGen's CharGpt, its dropout variant and
// CharLstm) and on test models covering GRU, stacked LSTM + GRU, float inputs, pooled outputs, post-norm and RoPE
// Transformers, with and without lengths and at sizes that take each GEMM route (1 to 128 rows); blind to later writes to
// the model; the same bits from many threads at once; allocation-free in steady state.
// "Within 1e-6 relative" is measured as in PredictorTests: max |predictor − Forward| ≤ 1e-6 · max |Forward| over the output.
using ModelGen.Kernels;
using Tagger;
using TextGen;

namespace ModelGen.Tests.Models;

/// <summary>A float-input tagger: a stacked (two-layer) bidirectional GRU and a tanh head per position.</summary>
[Model(Dim.Seq, 5)]
public partial class FloatGruTagger
{
    [GRU(9, Layers = 2, Bidirectional = true)] public partial Layer Gru { get; }
    [Dense(4, Activation = Activation.Tanh)]   public partial Layer Out { get; }
}

public class SequencePredictorTests
{
    /// <summary>A sequence model, the call that snapshots it, and its inputs ([count] ids below the smallest vocabulary, or floats).</summary>
    private sealed record Case<T>(ISequenceTrainable<T> Model, Func<ISequencePredictor<T>> Create, Func<int, ulong, T[]> Input) where T : unmanaged;

    private static Case<int> Tokens<TModel>(TModel model, Func<TModel, ISequencePredictor<int>> create, int vocab) where TModel : ISequenceTrainable<int>
        => new(model, () => create(model), (count, seed) =>
        {
            var rng = new Rng(seed);
            return Enumerable.Range(0, count).Select(_ => rng.NextInt(vocab)).ToArray();
        });

    private static Case<float> Floats<TModel>(TModel model, Func<TModel, ISequencePredictor<float>> create) where TModel : ISequenceTrainable<float>
        => new(model, () => create(model), (count, seed) =>
        {
            var rng = new Rng(seed);
            return Enumerable.Range(0, count).Select(_ => rng.NextFloat() * 2 - 1).ToArray();
        });

    private static Case<int> TokenCase(string name, int seed) => name switch
    {
        nameof(BrownTagger) => Tokens(new BrownTagger(seed), m => m.CreatePredictor(), BrownSizes.Words),
        nameof(BrownFeatureTagger) => Tokens(new BrownFeatureTagger(seed), m => m.CreatePredictor(), WordFeatures.ShapeCount),
        nameof(CharGpt) => Tokens(new CharGpt(seed), m => m.CreatePredictor(), TextSizes.Vocabulary),
        nameof(CharGptTorch) => Tokens(new CharGptTorch(seed), m => m.CreatePredictor(), TextSizes.CalibrationVocabulary),
        nameof(CharLstm) => Tokens(new CharLstm(seed), m => m.CreatePredictor(), TextSizes.Vocabulary),
        nameof(StepTagger) => Tokens(new StepTagger(seed), m => m.CreatePredictor(), 13),
        nameof(FeatureTagger) => Tokens(new FeatureTagger(seed), m => m.CreatePredictor(), 5),
        nameof(TinyGpt) => Tokens(new TinyGpt(seed), m => m.CreatePredictor(), 11),
        nameof(RopeGpt) => Tokens(new RopeGpt(seed), m => m.CreatePredictor(), 11),
        nameof(TokenMlpTagger) => Tokens(new TokenMlpTagger(seed), m => m.CreatePredictor(), 11),
        _ => throw new ArgumentException($"unknown model {name}", nameof(name)),
    };

    private static Case<float> FloatCase(string name, int seed) => name switch
    {
        nameof(FloatGruTagger) => Floats(new FloatGruTagger(seed), m => m.CreatePredictor()),
        nameof(BiLstmClassifier) => Floats(new BiLstmClassifier(seed), m => m.CreatePredictor()),
        nameof(EncoderClassifier) => Floats(new EncoderClassifier(seed), m => m.CreatePredictor()),
        nameof(SeqPoolNet) => Floats(new SeqPoolNet(seed), m => m.CreatePredictor()),
        _ => throw new ArgumentException($"unknown model {name}", nameof(name)),
    };

    /// <summary>The samples' models (Tagger, TextGen) and token test models: LSTM, GRU, stacked recurrences, Transformers with learned positions and RoPE.</summary>
    public static TheoryData<string> TokenModels => new()
    {
        nameof(BrownTagger), nameof(BrownFeatureTagger), nameof(CharGpt), nameof(CharGptTorch), nameof(CharLstm),
        nameof(StepTagger), nameof(FeatureTagger), nameof(TinyGpt), nameof(RopeGpt), nameof(TokenMlpTagger),
    };

    /// <summary>Float-input models: a bidirectional two-layer GRU tagger, final-state and pooled classifiers, a post-norm encoder.</summary>
    public static TheoryData<string> FloatModels => new()
    {
        nameof(FloatGruTagger), nameof(BiLstmClassifier), nameof(EncoderClassifier), nameof(SeqPoolNet),
    };

    /// <summary>(batch, seq): 1 row (the interleaved GEMV), 7 and 51 rows (dot path), 64 and 128 rows (the packed GEMM), capped at MaxLength.</summary>
    private static IEnumerable<(int Batch, int Seq)> Sizes(int maxLength) =>
        new[] { (1, 1), (1, 7), (3, 17), (1, 64), (2, 64) }.Select(s => (s.Item1, maxLength > 0 ? Math.Min(s.Item2, maxLength) : s.Item2)).Distinct();

    /// <summary>Real lengths in [1, seq], the first example full.</summary>
    private static int[] Lengths(int batch, int seq) => Enumerable.Range(0, batch).Select(b => b == 0 ? seq : 1 + (b * 7 + 3) % seq).ToArray();

    private static float[] Run<T>(Action<T[], float[], int, int, int[]?> forward, T[] x, int outLength, int batch, int seq, int[]? lengths) where T : unmanaged
    {
        float[] y = new float[outLength];
        forward(x, y, batch, seq, lengths);
        return y;
    }

    private static int OutputLength<T>(ISequencePredictor<T> p, int batch, int seq) where T : unmanaged =>
        batch * (p.OutputIsSequence ? seq : 1) * p.OutputLength;

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        double scale = expected.Max(v => Math.Abs((double)v)), worst = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)expected[i] - actual[i]);
            if (double.IsNaN(diff)) diff = double.PositiveInfinity;
            if (diff > worst) (worst, at) = (diff, i);
        }
        Assert.True(worst <= 1e-6 * scale,
            $"{what}: max |predictor − Forward| = {worst:E2} at [{at}] ({actual[at]} vs {expected[at]}), more than 1e-6 × max |Forward| = {1e-6 * scale:E2}");
    }

    [Theory]
    [MemberData(nameof(TokenModels))]
    public void Forward_TokenModels_EqualTheModelsForwardWithin1e6Relative(string name) => CheckEquality(name, TokenCase(name, 3));

    [Theory]
    [MemberData(nameof(FloatModels))]
    public void Forward_FloatModels_EqualTheModelsForwardWithin1e6Relative(string name) => CheckEquality(name, FloatCase(name, 3));

    private static void CheckEquality<T>(string name, Case<T> c) where T : unmanaged
    {
        var model = c.Model;
        var predictor = c.Create();
        Assert.Equal(model.InputShapeDims.ToArray(), predictor.InputShapeDims.ToArray());
        Assert.Equal(model.OutputShapeDims.ToArray(), predictor.OutputShapeDims.ToArray());
        Assert.Equal(model.InputLength, predictor.InputLength);
        Assert.Equal(model.OutputLength, predictor.OutputLength);
        foreach (var (batch, seq) in Sizes(predictor.MaxLength))
            foreach (int[]? lengths in new[] { null, Lengths(batch, seq) })
            {
                T[] x = c.Input(batch * seq * predictor.InputLength, (ulong)(batch * 100 + seq));
                int n = OutputLength(predictor, batch, seq);
                float[] expected = Run<T>((i, o, b, s, l) => model.Forward(i, o, b, s, l), x, n, batch, seq, lengths);
                float[] actual = Run<T>((i, o, b, s, l) => predictor.Forward(i, o, b, s, l), x, n, batch, seq, lengths);
                AssertClose(expected, actual, $"{name} batch {batch} seq {seq} {(lengths is null ? "without" : "with")} lengths");
            }
    }

    [Theory]
    [InlineData(nameof(CharGpt))]
    [InlineData(nameof(BrownTagger))]
    [InlineData(nameof(StepTagger))]
    public void Forward_AfterWritesToTheModel_IsUnchanged(string name) => CheckSnapshot(name, TokenCase(name, 5));

    [Fact]
    public void Forward_FloatGruAfterWritesToTheModel_IsUnchanged() => CheckSnapshot(nameof(FloatGruTagger), FloatCase(nameof(FloatGruTagger), 5));

    private static void CheckSnapshot<T>(string name, Case<T> c) where T : unmanaged
    {
        var model = c.Model;
        Span<float> held = model.Parameters;   // held across the snapshot, written after it
        var predictor = c.Create();
        const int batch = 2;
        int seq = predictor.MaxLength > 0 ? Math.Min(9, predictor.MaxLength) : 9;
        T[] x = c.Input(batch * seq * predictor.InputLength, 7);
        int[] lengths = [seq, seq - 3];
        int n = OutputLength(predictor, batch, seq);
        float[] before = new float[n], modelBefore = new float[n];
        predictor.Forward(x, before, batch, seq, lengths);
        model.Forward(x, modelBefore, batch, seq, lengths);

        var rng = new Rng(8);
        for (int i = 0; i < held.Length; i++) held[i] += 0.05f * (rng.NextFloat() - 0.5f);
        float[] now = new float[n], modelNow = new float[n], fresh = new float[n];
        predictor.Forward(x, now, batch, seq, lengths);
        Assert.True(before.AsSpan().SequenceEqual(now), $"{name}: the predictor changed after writes to the model's parameters");
        // The writes reached the model (else this test could not fail), and a new snapshot sees them.
        model.Forward(x, modelNow, batch, seq, lengths);
        Assert.False(modelBefore.AsSpan().SequenceEqual(modelNow), $"{name}: the writes did not change the model's Forward");
        c.Create().Forward(x, fresh, batch, seq, lengths);
        AssertClose(modelNow, fresh, $"{name}: a new predictor after the writes");
    }

    [Theory]
    [InlineData(nameof(CharGpt))]
    [InlineData(nameof(BrownTagger))]
    [InlineData(nameof(StepTagger))]
    public void Forward_ManyThreadsAtOnce_GiveTheSingleThreadedBits(string name)
    {
        var c = TokenCase(name, 13);
        var predictor = c.Create();
        (int Batch, int Seq)[] sizes = [(1, 5), (2, 33), (1, 64)];
        var inputs = sizes.Select((s, k) => c.Input(s.Batch * s.Seq * predictor.InputLength, (ulong)k + 20)).ToArray();
        var lengths = sizes.Select(s => Lengths(s.Batch, s.Seq)).ToArray();
        var expected = sizes.Select((s, k) =>
        {
            float[] y = new float[OutputLength(predictor, s.Batch, s.Seq)];
            predictor.Forward(inputs[k], y, s.Batch, s.Seq, lengths[k]);
            return y;
        }).ToArray();
        const int workers = 8;
        using var start = new Barrier(workers);
        int mismatches = 0;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            var outputs = expected.Select(e => new float[e.Length]).ToArray();
            start.SignalAndWait();
            for (int call = 0; call < 9; call++)
            {
                int k = (w + call) % sizes.Length;
                predictor.Forward(inputs[k], outputs[k], sizes[k].Batch, sizes[k].Seq, lengths[k]);
                if (!outputs[k].AsSpan().SequenceEqual(expected[k])) Interlocked.Increment(ref mismatches);
            }
        });
        Assert.True(mismatches == 0, $"{name}: {mismatches} of {workers * 9} concurrent calls differed from the single-threaded result");
    }

    [Theory]
    [InlineData(nameof(CharGpt))]
    [InlineData(nameof(BrownTagger))]
    [InlineData(nameof(StepTagger))]
    [InlineData(nameof(FeatureTagger))]
    public void Forward_SteadyState_AllocatesNothing(string name)
    {
        var c = TokenCase(name, 15);
        var predictor = c.Create();
        foreach (var (batch, seq) in new[] { (1, 1), (2, 64) })
        {
            int[] ids = c.Input(batch * seq * predictor.InputLength, 16), lengths = Lengths(batch, seq);
            float[] y = new float[OutputLength(predictor, batch, seq)];
            AllocationAssert.SteadyStateAllocatesNothing(() => predictor.Forward(ids, y, batch, seq, lengths), what: $"{name} predictor batch {batch} seq {seq}");
        }
    }

    [Fact]
    public void Forward_FloatModel_SteadyState_AllocatesNothing()
    {
        var c = FloatCase(nameof(FloatGruTagger), 17);
        var predictor = c.Create();
        float[] x = c.Input(3 * 20 * predictor.InputLength, 18), y = new float[OutputLength(predictor, 3, 20)];
        AllocationAssert.SteadyStateAllocatesNothing(() => predictor.Forward(x, y, 3, 20, default), what: "FloatGruTagger predictor");
    }

    [Fact]
    public void Forward_BadArguments_ThrowNamingTheProblem()
    {
        var predictor = new CharGpt(1).CreatePredictor();
        Assert.Equal(TextSizes.Context, predictor.MaxLength);
        Assert.True(predictor.OutputIsSequence);
        var tooLong = Assert.Throws<ArgumentException>(() => predictor.Forward(new int[129], new float[129 * predictor.OutputLength], 1, 129));
        Assert.Contains("129", tooLong.Message);
        Assert.Throws<ArgumentException>(() => predictor.Forward(new int[4], new float[3 * predictor.OutputLength], 1, 4));
        Assert.Throws<ArgumentException>(() => predictor.Forward(new int[4], new float[4 * predictor.OutputLength], 1, 4, new[] { 5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => predictor.Forward(new[] { 0, TextSizes.Vocabulary + 50 }, new float[2 * predictor.OutputLength], 1, 2));
        var pooled = new BiLstmClassifier(1).CreatePredictor();
        Assert.False(pooled.OutputIsSequence);
        Assert.Equal(0, pooled.MaxLength);
    }
}
