// The predictor snapshot (model.CreatePredictor(), issue 12): equal to the model's own Forward up to rounding on every
// sample-like model (BatchNorm given random statistics, so folding changes real numbers), blind to every later write
// to the model, the same bits from many threads at once, and allocation-free in steady state.
// "Within 1e-6 relative" is measured over the whole output: max |predictor − Forward| ≤ 1e-6 · max |Forward|. Folding
// and the packed GEMM sum in another order, so single outputs near zero may differ by more than 1e-6 of themselves.
extern alias MnistSample;
using MnistSample::Mnist;

namespace ModelGen.Tests.Models;

/// <summary>
/// Standalone activations the predictor fuses into the layer before them: a LeakyReLU with its own slope after a
/// folded Conv + BatchNorm, a SiLU after a Dense, and the final Sigmoid (so the last Dense writes straight into the output).
/// </summary>
[Model(2, 5, 5)]
public partial class EpilogueNet
{
    [Conv2D(3, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer C { get; }
    [BatchNorm2D] public partial Layer Bn { get; }
    [LeakyReLU(0.3)] public partial Layer Leaky { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(6)] public partial Layer Fc1 { get; }
    [SiLU] public partial Layer Silu { get; }
    [Dense(4)] public partial Layer Fc2 { get; }
    [Sigmoid] public partial Layer Sig { get; }
}

public class PredictorTests
{
    /// <summary>A model and the call that snapshots it (CreatePredictor is generated per class; there is no common interface to call it through).</summary>
    private static (ITrainable Model, Func<IPredictor> Create) Make(string name, int seed) => name switch
    {
        nameof(SmallMlp) => Pair(new SmallMlp(seed), m => m.CreatePredictor()),
        nameof(FusedNet) => Pair(new FusedNet(seed), m => m.CreatePredictor()),
        nameof(StandaloneNet) => Pair(new StandaloneNet(seed), m => m.CreatePredictor()),
        nameof(DropoutNet) => Pair(new DropoutNet(seed), m => m.CreatePredictor()),
        nameof(ResidualMlp) => Pair(new ResidualMlp(seed), m => m.CreatePredictor()),
        nameof(SmallLeNet) => Pair(new SmallLeNet(seed), m => m.CreatePredictor()),
        nameof(TinyResNet) => Pair(new TinyResNet(seed), m => m.CreatePredictor()),
        nameof(BranchNet) => Pair(new BranchNet(seed), m => m.CreatePredictor()),
        nameof(FoldNet) => Pair(new FoldNet(seed), m => m.CreatePredictor()),
        nameof(FoldCnn) => Pair(new FoldCnn(seed), m => m.CreatePredictor()),
        nameof(BnResNet) => Pair(new BnResNet(seed), m => m.CreatePredictor()),
        nameof(JustBatchNorm) => Pair(new JustBatchNorm(seed), m => m.CreatePredictor()),
        nameof(EpilogueNet) => Pair(new EpilogueNet(seed), m => m.CreatePredictor()),
        nameof(MnistMlp) => Pair(new MnistMlp(seed), m => m.CreatePredictor()),
        nameof(LeNet5) => Pair(new LeNet5(seed), m => m.CreatePredictor()),
        nameof(MnistResNet) => Pair(new MnistResNet(seed), m => m.CreatePredictor()),
        nameof(DeepNet) => Pair(new DeepNet(seed), m => m.CreatePredictor()),
        nameof(ResStack) => Pair(new ResStack(seed), m => m.CreatePredictor()),
        nameof(AxesNet) => Pair(new AxesNet(seed), m => m.CreatePredictor()),
        nameof(PaddingNet) => Pair(new PaddingNet(seed), m => m.CreatePredictor()),
        nameof(PaddedFusedNet) => Pair(new PaddedFusedNet(seed), m => m.CreatePredictor()),
        _ => throw new ArgumentException($"unknown model {name}", nameof(name)),
    };

    private static (ITrainable, Func<IPredictor>) Pair<T>(T model, Func<T, IPredictor> create) where T : ITrainable => (model, () => create(model));

    /// <summary>Every test model with parameters, and the samples/Mnist models (its Models.cs is compiled into this project).</summary>
    public static TheoryData<string> Models => new()
    {
        nameof(SmallMlp), nameof(FusedNet), nameof(StandaloneNet), nameof(DropoutNet), nameof(ResidualMlp), nameof(SmallLeNet),
        nameof(TinyResNet), nameof(BranchNet), nameof(FoldNet), nameof(FoldCnn), nameof(BnResNet), nameof(JustBatchNorm),
        nameof(EpilogueNet), nameof(MnistMlp), nameof(LeNet5), nameof(MnistResNet), nameof(DeepNet), nameof(ResStack), nameof(AxesNet), nameof(PaddingNet), nameof(PaddedFusedNet),
    };

    /// <summary>BatchNorm layers get γ, β and running statistics far from their initial 1/0/0/1, so a fold that ignored one would show.</summary>
    private static void RandomizeNorms(IModel model, ulong seed)
    {
        var rng = new Rng(seed);
        var norms = model.BufferInfos.Where(p => p.Name.EndsWith(".running_mean", StringComparison.Ordinal))
            .Select(p => p.Name[..^".running_mean".Length]).ToHashSet();
        var tensors = model.ParameterInfos.Select(p => (p.Name, p.Offset, p.Length, Buffer: false))
            .Concat(model.BufferInfos.Where(b => !b.IsCount).Select(b => (b.Name, b.Offset, b.Length, Buffer: true)));
        foreach (var p in tensors)
        {
            int dot = p.Name.LastIndexOf('.');
            if (!norms.Contains(p.Name[..dot])) continue;
            (float lo, float hi) = p.Name[(dot + 1)..] switch
            {
                "weight" => (0.5f, 2f),
                "bias" => (-1f, 1f),
                "running_mean" => (-0.5f, 0.5f),
                _ => (0.2f, 3f),   // running_var
            };
            var values = (p.Buffer ? model.Buffers : model.Parameters).Slice(p.Offset, p.Length);
            for (int i = 0; i < values.Length; i++) values[i] = lo + (hi - lo) * rng.NextFloat();
        }
    }

    private static float[] Input(IModel model, int batch, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, batch * model.InputLength).Select(_ => rng.NextFloat() * 2 - 1).ToArray();
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        double scale = expected.Max(v => Math.Abs((double)v)), worst = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)expected[i] - actual[i]);
            if (diff > worst) (worst, at) = (diff, i);
        }
        Assert.True(worst <= 1e-6 * scale,
            $"{what}: max |predictor − Forward| = {worst:E2} at [{at}] ({actual[at]} vs {expected[at]}), more than 1e-6 × max |Forward| = {1e-6 * scale:E2}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Forward_EveryModel_EqualsTheModelsForwardWithin1e6Relative(string name)
    {
        var (model, create) = Make(name, 3);
        RandomizeNorms(model, 4);
        var predictor = create();
        Assert.Equal(model.InputLength, predictor.InputLength);
        Assert.Equal(model.OutputLength, predictor.OutputLength);
        Assert.Equal(model.InputShapeDims.ToArray(), predictor.InputShapeDims.ToArray());
        Assert.Equal(model.OutputShapeDims.ToArray(), predictor.OutputShapeDims.ToArray());
        // 1: the dot path and one-example calls; 7: below the packed threshold; 64, 150: the packed GEMM (150 > one MC chunk).
        foreach (int batch in new[] { 1, 7, 64, 150 })
        {
            float[] x = Input(model, batch, (ulong)batch), expected = new float[batch * model.OutputLength], actual = new float[expected.Length];
            model.Forward(x, expected, batch);
            predictor.Forward(x, actual, batch);
            AssertClose(expected, actual, $"{name} batch {batch}");
        }
        float[] one = Input(model, 1, 99), viaForward = new float[model.OutputLength], viaPredict = new float[model.OutputLength];
        predictor.Forward(one, viaForward, 1);
        predictor.Predict(one, viaPredict);
        Assert.Equal(viaForward, viaPredict);
    }

    /// <summary>
    /// Without BatchNorm to fold or standalone activations to fuse, a batch beyond the dot path's 96 rows runs the very
    /// products of the model's Forward (the same panels, packed once instead of per call), so the bits are the same;
    /// that also keeps such batches independent of the vector width, as the NativeAOT sample's x64/Arm64 check relies on.
    /// </summary>
    [Theory]
    [InlineData(nameof(MnistMlp))]
    [InlineData(nameof(LeNet5))]
    [InlineData(nameof(SmallMlp))]
    public void Forward_BatchBeyondTheDotPath_IsBitIdenticalToTheModelsForward(string name)
    {
        var (model, create) = Make(name, 17);
        const int batch = 150;
        float[] x = Input(model, batch, 18), expected = new float[batch * model.OutputLength], actual = new float[expected.Length];
        model.Forward(x, expected, batch);
        create().Forward(x, actual, batch);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Forward_AfterEveryKindOfWriteToTheModel_IsUnchanged(string name)
    {
        var (model, create) = Make(name, 5);
        RandomizeNorms(model, 6);
        Span<float> held = model.Parameters;   // held across the snapshot, written after it
        var predictor = create();
        const int batch = 9;
        float[] x = Input(model, batch, 7), before = new float[batch * model.OutputLength], modelBefore = new float[before.Length];
        predictor.Forward(x, before, batch);
        model.Forward(x, modelBefore, batch);

        void Check(string write)
        {
            float[] now = new float[before.Length], modelNow = new float[before.Length];
            predictor.Forward(x, now, batch);
            Assert.True(before.AsSpan().SequenceEqual(now), $"{name}: the predictor changed after {write}");
            // The write did reach the model (else this test could not fail), and a new snapshot sees it.
            model.Forward(x, modelNow, batch);
            Assert.False(modelBefore.AsSpan().SequenceEqual(modelNow), $"{name}: {write} did not change the model's Forward");
            float[] fresh = new float[before.Length];
            create().Forward(x, fresh, batch);
            AssertClose(modelNow, fresh, $"{name}: a new predictor after {write}");
        }

        var rng = new Rng(8);
        for (int i = 0; i < held.Length; i += 3) held[i] += 0.25f * (rng.NextFloat() - 0.5f);
        Check("writes through a span held since before the snapshot");

        model.Parameters.CopyTo(held);   // no-op: held is the buffer itself
        var gradients = model.Gradients;
        for (int i = 0; i < gradients.Length; i++) gradients[i] = rng.NextFloat() - 0.5f;
        new Sgd(0.1f).Step(model, gradients);
        Check("an optimizer step");

        if (model.BufferInfos.Any(p => p.Name.EndsWith(".running_mean", StringComparison.Ordinal)))
        {
            float[] y = new float[16 * model.OutputLength];
            model.ForwardTrain(Input(model, 16, 9), y, 16);   // updates BatchNorm's running statistics
            Check("a training forward (running statistics)");
        }

        var (other, _) = Make(name, 11);
        RandomizeNorms(other, 12);
        string path = Path.Combine(Path.GetTempPath(), $"predictor-{name}-{Guid.NewGuid():N}.safetensors");
        try
        {
            global::ModelGen.Serialization.ModelWeights.Save(other, path);
            global::ModelGen.Serialization.ModelWeights.Load(model, path);   // what the generated LoadWeights(path) calls
        }
        finally
        {
            File.Delete(path);
        }
        Check("LoadWeights");
    }

    [Fact]
    public void Forward_ManyThreadsAtOnce_GiveTheSingleThreadedBits()
    {
        foreach (string name in new[] { nameof(MnistMlp), nameof(LeNet5), nameof(MnistResNet) })
        {
            var (model, create) = Make(name, 13);
            RandomizeNorms(model, 14);
            var predictor = create();
            int[] batches = { 1, 8, 64 };
            var inputs = batches.Select(b => Input(model, b, (ulong)b + 20)).ToArray();
            var expected = batches.Select((b, k) =>
            {
                float[] y = new float[b * model.OutputLength];
                predictor.Forward(inputs[k], y, b);
                return y;
            }).ToArray();
            const int workers = 8;
            using var start = new Barrier(workers);
            int mismatches = 0;
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
            {
                var outputs = batches.Select(b => new float[b * model.OutputLength]).ToArray();
                start.SignalAndWait();
                for (int call = 0; call < 12; call++)
                {
                    int k = (w + call) % batches.Length;
                    predictor.Forward(inputs[k], outputs[k], batches[k]);
                    if (!outputs[k].AsSpan().SequenceEqual(expected[k])) Interlocked.Increment(ref mismatches);
                }
            });
            Assert.True(mismatches == 0, $"{name}: {mismatches} of {workers * 12} concurrent calls differed from the single-threaded result");
        }
    }

    [Theory]
    [InlineData(nameof(MnistMlp))]
    [InlineData(nameof(LeNet5))]
    [InlineData(nameof(MnistResNet))]
    [InlineData(nameof(ResidualMlp))]
    [InlineData(nameof(FoldNet))]
    public void Forward_SteadyState_AllocatesNothing(string name)
    {
        var (model, create) = Make(name, 15);
        var predictor = create();
        foreach (int batch in new[] { 1, 64 })
        {
            float[] x = Input(model, batch, 16), y = new float[batch * model.OutputLength];
            for (int i = 0; i < 3; i++) predictor.Forward(x, y, batch);
            // A window: ten batches, then one example through Predict (not warmed up separately, as before).
            AllocationAssert.SteadyStateAllocatesNothing(() =>
            {
                for (int i = 0; i < 10; i++) predictor.Forward(x, y, batch);
                predictor.Predict(x.AsSpan(0, model.InputLength), y.AsSpan(0, model.OutputLength));
            }, callsPerWindow: 1, $"{name} predictor, batch {batch}: 10 Forward + 1 Predict", warmUpCalls: 0);
        }
    }

    [Fact]
    public void Forward_BadArguments_ThrowNamingTheModelAndTheProblem()
    {
        var predictor = new FoldCnn(1).CreatePredictor();
        var ex = Assert.Throws<ArgumentException>(() => predictor.Forward(new float[FoldCnn.InputSize], new float[4], 0));
        Assert.Contains("FoldCnn", ex.Message);
        Assert.Contains("batch must be positive", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => predictor.Forward(new float[FoldCnn.InputSize * 2 - 1], new float[8], 2));
        Assert.Equal("input", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => predictor.Predict(new float[FoldCnn.InputSize], new float[5]));
        Assert.Equal("output", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => predictor.Forward(default, default, predictor.MaxBatch + 1));
        Assert.Contains($"largest batch FoldCnn supports is {predictor.MaxBatch}", ex.Message);
        Assert.True(predictor.MaxBatch > 0 && predictor.MaxBatch <= FoldCnn.MaxBatch);
    }

    [Fact]
    public void CreatePredictor_FoldsBatchNorm_IntoAConvWithoutBias()
    {
        // The report's model: conv (no bias) + BatchNorm2D + ReLU. The predictor's conv gets the folded weight and a bias
        // (β − μ·γ/√(var+ε)); clearing the model's conv weight afterwards leaves exactly that bias visible in the model
        // and nothing in the predictor.
        var model = new FoldCnn(2);
        RandomizeNorms(model, 3);
        var predictor = model.CreatePredictor();
        float[] x = new float[FoldCnn.InputSize];
        x.AsSpan().Fill(0.5f);
        float[] expected = new float[4], actual = new float[4];
        model.Forward(x, expected, 1);
        model.C1.Parameter("weight").Clear();
        predictor.Forward(x, actual, 1);
        AssertClose(expected, actual, "FoldCnn after clearing the model's conv weight");
    }
}
