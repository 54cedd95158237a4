// Trainer.Fit's divergence checks (FitOptions.StopOnDivergence): an exploding loss, a NaN loss traced to its cause
// (the previous step's gradient, the parameters, the inputs), a NaN gradient caught by the clipping norm, a NaN that
// hides in a parameter until the end of the epoch; runs that do not diverge are unchanged and steps allocate nothing.
using ModelGen.Data;
using ModelGen.Tests.Models;

namespace ModelGen.Tests.Training;

public class DivergenceTests
{
    private static Dataset Digits(int count, int seed)
    {
        var rng = new Rng((ulong)seed);
        var x = new float[count * 64];
        var y = new int[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = rng.NextInt(10);
            for (int j = 0; j < 64; j++) x[i * 64 + j] = rng.NextFloat() * 0.2f + (j % 10 == y[i] ? 0.8f : 0f);
        }
        return Dataset.FromArrays(x, y, new[] { 1, 8, 8 }, 10);
    }

    [Fact]
    public void Fit_AdamAtLearningRate1e6_StopsAtTheExplodingStep()
    {
        // Step 1's loss is ln 10 ≈ 2.3; the first update of size ~1e6 sends step 2's loss to ~1e20.
        var trainer = new Trainer(new SmallMlp(1), new Adam(1e6f), Loss.CrossEntropy);
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(Digits(512, 1), epochs: 3, batchSize: 32));
        Assert.Equal((1, 2, null), (ex.Epoch, ex.Step, ex.Layer));
        Assert.True(ex.Loss > 1e4f * 2.3f, $"loss {ex.Loss}");
        Assert.StartsWith("Training diverged at epoch 1, step 2 of 16: the CrossEntropy loss is ", ex.Message);
        Assert.Matches(@"the CrossEntropy loss is [\d.]+E\+\d\d, more than 1E\+04 × its running mean 2\.\d+ \(learning rate 1E\+06\)\.", ex.Message);
        Assert.Contains("FitOptions.StopOnDivergence = false", ex.Message);
    }

    [Fact]
    public void Fit_DivergenceCheckOff_RunsTheDivergingTrainingToTheEnd()
    {
        var trainer = new Trainer(new SmallMlp(1), new Adam(1e6f), Loss.CrossEntropy);
        var history = trainer.Fit(Digits(512, 1), epochs: 2, batchSize: 32, options: new FitOptions { StopOnDivergence = false });
        Assert.Equal(2, history.Epochs.Count);
        Assert.True(!(history.Epochs[^1].TrainLoss < 1e4f), $"loss {history.Epochs[^1].TrainLoss}");   // huge or NaN: it did diverge
    }

    [Fact]
    public void Fit_HealthyRun_IsBitIdenticalWithTheCheckOnOrOff()
    {
        float[] Train(bool check)
        {
            var model = new SmallMlp(3);
            new Trainer(model, new Adam(1e-2f), Loss.CrossEntropy).Fit(Digits(300, 2), epochs: 3, batchSize: 32,
                options: new FitOptions { Seed = 5, StopOnDivergence = check, GradientClipNorm = 1f });
            return model.Parameters.ToArray();
        }
        Assert.Equal(Train(check: false), Train(check: true));
    }

    [Fact]
    public void Fit_NaNInput_NamesTheExampleOfTheBatch()
    {
        var data = Digits(64, 1);
        data.Inputs[2 * 64 + 5] = float.NaN;   // example 3
        var trainer = new Trainer(new SmallMlp(1), new Sgd(0.1f), Loss.CrossEntropy);
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(data, epochs: 1, batchSize: 32, options: new FitOptions { Shuffle = false }));
        Assert.Equal((1, 1), (ex.Epoch, ex.Step));
        Assert.Contains("at epoch 1, step 1 of 2: the CrossEntropy loss is NaN: the batch's inputs are not finite (example 3 of the batch holds NaN)", ex.Message);
    }

    [Fact]
    public void Fit_NaNGradient_IsTracedFromTheNaNLossOfTheNextStep()
    {
        var model = new ScriptedModel { PoisonGradientOnCall = 3, PoisonedTensor = 1 };   // fc2's gradient at step 3
        var ex = Assert.Throws<TrainingDivergedException>(() => Fit(model));
        Assert.Equal((1, 4, "fc2"), (ex.Epoch, ex.Step, ex.Layer));
        Assert.Contains("step 4 of 8: the MeanSquaredError loss is NaN: the previous step's gradient of layer 'fc2' (fc2.weight) was not finite", ex.Message);
    }

    [Fact]
    public void Fit_NaNGradientWithClipping_StopsAtThatStep()
    {
        var model = new ScriptedModel { PoisonGradientOnCall = 3, PoisonedTensor = 0 };
        var ex = Assert.Throws<TrainingDivergedException>(() => Fit(model, new FitOptions { Shuffle = false, GradientClipNorm = 10f }));
        Assert.Equal((1, 3, "fc1"), (ex.Epoch, ex.Step, ex.Layer));
        Assert.Contains("step 3 of 8: the gradient of layer 'fc1' (fc1.weight) is not finite", ex.Message);
    }

    [Fact]
    public void Fit_NaNParameters_AreNamed()
    {
        var model = new ScriptedModel();
        model.Parameters[1] = float.PositiveInfinity;   // fc1.weight[1]
        var ex = Assert.Throws<TrainingDivergedException>(() => Fit(model));
        Assert.Equal((1, 1, "fc1"), (ex.Epoch, ex.Step, ex.Layer));
        Assert.Contains("the MeanSquaredError loss is NaN: the parameters of layer 'fc1' (fc1.weight) are not finite", ex.Message);
    }

    [Fact]
    public void Fit_NaNInAParameterTheLossNeverSees_IsCaughtAfterTheEpoch()
    {
        var model = new ScriptedModel { PoisonGradientOnCall = 2, PoisonedTensor = 2 };   // 'unused' is not in the forward pass
        var ex = Assert.Throws<TrainingDivergedException>(() => Fit(model));
        Assert.Equal((1, 8, "unused"), (ex.Epoch, ex.Step, ex.Layer));
        Assert.True(float.IsNaN(ex.Loss));
        Assert.Contains("at epoch 1, step 8 of 8: the parameters of layer 'unused' (unused.weight) are not finite after the epoch's last step", ex.Message);
        Assert.Single(Fit(new ScriptedModel { PoisonGradientOnCall = 2, PoisonedTensor = 2 }, new FitOptions { StopOnDivergence = false }).Epochs);
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0.5f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Fit_DivergenceFactorOutOfRange_Throws(float factor)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Fit(new ScriptedModel(), new FitOptions { DivergenceFactor = factor }));
        Assert.Contains("DivergenceFactor must be finite and greater than 1", ex.Message);
    }

    [Fact]
    public void Fit_SteadyStateSteps_AllocateNothing_WithEveryCheckOn()
    {
        // The progress callback runs between steps: the bytes allocated from one report to the next are one step's, so
        // from the 5th report to the last are steps 6 to 40's, which must all be 0. A window is one whole training run's
        // steps 6 to 40 (a fresh trainer each time): an allocation that a step makes shows in every run.
        var data = Digits(640, 3);
        AllocationAssert.SomeWindowAllocatesNothing(() =>
        {
            var allocated = new long[64];
            int reports = 0;
            var progress = new Probe(p =>
            {
                if (p.Completed is null && reports < allocated.Length) allocated[reports++] = GC.GetAllocatedBytesForCurrentThread();
            });
            new Trainer(new SmallMlp(1), new Adam(1e-3f), Loss.CrossEntropy).Fit(data, epochs: 1, batchSize: 16,
                options: new FitOptions { GradientClipNorm = 1f, ReportEverySteps = 1 }, progress: progress);
            Assert.Equal(40, reports);
            return allocated[reports - 1] - allocated[4];
        }, "Trainer.Fit's steps 6 to 40 (gradient clipping, divergence checks, a progress report every step)");
    }

    private static TrainingHistory Fit(ScriptedModel model, FitOptions? options = null)
    {
        // 16 examples of y = 3·x0 − 2·x1, batches of 2: 8 steps per epoch.
        var x = new float[32];
        var y = new float[16];
        for (int i = 0; i < 16; i++)
        {
            (x[2 * i], x[2 * i + 1]) = (i % 4 * 0.25f, i / 4 * 0.25f);
            y[i] = 3 * x[2 * i] - 2 * x[2 * i + 1];
        }
        return new Trainer(model, new Sgd(0.05f), Loss.MeanSquaredError)
            .Fit(Dataset.FromArrays(x, y, new[] { 2 }, 1), epochs: 1, batchSize: 2, options: options ?? new FitOptions { Shuffle = false });
    }

    /// <summary>
    /// y = fc2 · (fc1 · x) over 2 inputs, plus a layer 'unused' that the forward pass never reads. Backward call
    /// <see cref="PoisonGradientOnCall"/> (1-based) writes NaN into tensor <see cref="PoisonedTensor"/>'s gradient.
    /// </summary>
    private sealed class ScriptedModel : ITrainable
    {
        private readonly float[] _parameters = [0.5f, -0.5f, 1f, 0f];   // fc1.weight [2], fc2.weight [1], unused.weight [1]
        private readonly float[] _gradients = new float[4];
        private readonly ParameterInfo[] _infos = [new("fc1.weight", [2], 0, 2), new("fc2.weight", [1], 2, 1), new("unused.weight", [1], 3, 1)];
        private readonly Layer[] _layers;
        private float[] _input = [];
        private int _batch, _backwardCalls;

        public ScriptedModel() => _layers =
        [
            new(this, "fc1", "Fake", [2], [1], [_infos[0]], 0),
            new(this, "fc2", "Fake", [1], [1], [_infos[1]], 0),
            new(this, "unused", "Fake", [1], [1], [_infos[2]], 0),
        ];

        public int PoisonGradientOnCall { get; init; } = -1;
        public int PoisonedTensor { get; init; }

        public ReadOnlySpan<int> InputShapeDims => new[] { 2 };
        public ReadOnlySpan<int> OutputShapeDims => new[] { 1 };
        public int InputLength => 2;
        public int OutputLength => 1;
        public IReadOnlyList<Layer> Layers => _layers;
        public IReadOnlyList<ParameterInfo> ParameterInfos => _infos;
        public Span<float> Parameters => _parameters;
        public IReadOnlyList<BufferInfo> BufferInfos => [];
        public Span<float> Buffers => Span<float>.Empty;
        public bool IsTraining { get; private set; } = true;
        public void Train(bool mode = true) => IsTraining = mode;
        public void Eval() => IsTraining = false;
        public Span<float> Gradients => _gradients;

        public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch)
        {
            for (int b = 0; b < batch; b++)
                output[b] = _parameters[2] * (_parameters[0] * input[2 * b] + _parameters[1] * input[2 * b + 1]);
        }

        public void ForwardTrain(ReadOnlySpan<float> input, Span<float> output, int batch)
        {
            if (_input.Length < input.Length) _input = new float[input.Length];
            input.CopyTo(_input);
            _batch = batch;
            Forward(input, output, batch);
        }

        public void Backward(ReadOnlySpan<float> dOutput, Span<float> dInput)
        {
            for (int b = 0; b < _batch; b++)
            {
                float x0 = _input[2 * b], x1 = _input[2 * b + 1], hidden = _parameters[0] * x0 + _parameters[1] * x1;
                _gradients[0] += dOutput[b] * _parameters[2] * x0;
                _gradients[1] += dOutput[b] * _parameters[2] * x1;
                _gradients[2] += dOutput[b] * hidden;
            }
            if (++_backwardCalls == PoisonGradientOnCall)
                _gradients[_infos[PoisonedTensor].Offset] = float.NaN;
        }

        public void SeedDropout(ulong seed) { }
    }
}
