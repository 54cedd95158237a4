// Optimizer state in a safetensors checkpoint: save after k steps, load into a fresh model and optimizer, and the next
// steps equal an uninterrupted run bit for bit (every optimizer and variant with state); the file's tensor names;
// frozen tensors without state; and the errors for a missing, foreign or corrupt state.
using ModelGen;
using ModelGen.Serialization;

namespace ModelGen.Tests.Training;

public sealed class OptimizerStateTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("modelgen-optim-state-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static FakeModel CreateModel()
    {
        var model = new FakeModel(
            ("fc1", [("weight", 6), ("bias", 3)]),
            ("bn", [("weight", 3), ("bias", 3), ("running_mean", 3), ("running_var", 3)]),
            ("fc2", [("weight", 7), ("bias", 1)]));
        Span<float> p = model.Parameters;
        for (int i = 0; i < p.Length; i++) p[i] = 0.1f * (i % 7) - 0.3f;
        return model;
    }

    private static float[][] Gradients(int length, int steps)
    {
        var rng = new Rng(5);
        var result = new float[steps][];
        for (int s = 0; s < steps; s++)
        {
            result[s] = new float[length];
            for (int i = 0; i < length; i++) result[s][i] = (float)((s == 0 ? 1 : 0.1) * (rng.NextDouble() - 0.5));
        }
        return result;
    }

    public static TheoryData<string> Optimizers => new()
    {
        "Sgd", "SgdNesterov", "Adam", "AdamAmsgrad", "AdamW", "AdamWAmsgrad", "RmsProp", "RmsPropCenteredMomentum", "Adagrad",
    };

    private static Optimizer Make(string name) => name switch
    {
        "Sgd" => new Sgd(0.1f, momentum: 0.9f, dampening: 0.1f),
        "SgdNesterov" => new Sgd(0.1f, momentum: 0.9f, nesterov: true),
        "Adam" => new Adam(0.01f, weightDecay: 0.01f),
        "AdamAmsgrad" => new Adam(0.01f, 0.9f, 0.9f, amsgrad: true),
        "AdamW" => new AdamW(0.01f),
        "AdamWAmsgrad" => new AdamW(0.01f, 0.9f, 0.9f, amsgrad: true),
        "RmsProp" => new RmsProp(),
        "RmsPropCenteredMomentum" => new RmsProp(0.01f, momentum: 0.9f, centered: true, weightDecay: 0.01f),
        "Adagrad" => new Adagrad(0.1f, learningRateDecay: 0.01f, initialAccumulatorValue: 0.1f),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void SaveAfterSteps_LoadIntoFreshOptimizer_NextStepsEqualUninterruptedRunBitForBit(string name)
    {
        const int k = 3, total = 6;
        FakeModel reference = CreateModel();
        float[][] gradients = Gradients(reference.Parameters.Length, total);
        Optimizer uninterrupted = Make(name);
        reference.Layers[2].LearningRateScale = 0.5f;
        foreach (float[] g in gradients) uninterrupted.Step(reference, g);

        FakeModel first = CreateModel();
        first.Layers[2].LearningRateScale = 0.5f;
        Optimizer before = Make(name);
        for (int s = 0; s < k; s++) before.Step(first, gradients[s]);
        string path = Path.Combine(_directory, name + ".safetensors");
        first.Save(path, before);

        FakeModel resumed = CreateModel();
        resumed.Parameters.Clear();
        resumed.Layers[2].LearningRateScale = 0.5f;
        Optimizer after = Make(name);
        resumed.Load(path, after);
        Assert.Equal(k, after.StepCount);
        for (int s = k; s < total; s++) after.Step(resumed, gradients[s]);

        float[] expected = reference.Parameters.ToArray(), actual = resumed.Parameters.ToArray();
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{name}: parameter {i} after resuming is {actual[i]:R}, the uninterrupted run has {expected[i]:R}");
        Assert.Equal(total, after.StepCount);
    }

    [Fact]
    public void Save_NamesTensorsAsTorchOptimStateAndSkipsFrozenTensors()
    {
        FakeModel model = CreateModel();
        model.Layers[0].Trainable = false;   // fc1 never updated: no state, as in torch
        var optimizer = new Adam(amsgrad: true);
        float[][] gradients = Gradients(model.Parameters.Length, 2);
        foreach (float[] g in gradients) optimizer.Step(model, g);
        string path = Path.Combine(_directory, "names.safetensors");
        model.Save(path, optimizer);

        var entries = SafeTensors.ReadHeader(path, out var metadata);
        var names = entries.Select(e => e.Name).ToHashSet();
        Assert.Equal("Adam", metadata["optimizer"]);
        Assert.Equal("2", metadata["optimizer.step_count"]);
        Assert.Equal("pt", metadata["format"]);
        foreach (string p in new[] { "bn.weight", "bn.bias", "fc2.weight", "fc2.bias" })
            foreach (string state in new[] { "step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq" })
                Assert.Contains($"optimizer.state.{p}.{state}", names);
        Assert.DoesNotContain(names, n => n.StartsWith("optimizer.state.fc1.", StringComparison.Ordinal));
        Assert.DoesNotContain(names, n => n.StartsWith("optimizer.state.bn.running_", StringComparison.Ordinal));
        var step = entries.Single(e => e.Name == "optimizer.state.fc2.weight.step");
        Assert.Empty(step.Shape);
        Assert.Equal([7], entries.Single(e => e.Name == "optimizer.state.fc2.weight.exp_avg").Shape);
        Assert.Equal(4 * 4 + 8, entries.Count);   // 4 tensors × 4 state tensors + the model's 8
    }

    [Fact]
    public void Load_IntoOptimizerThatHasStepped_ResetsTensorsAbsentFromTheFile()
    {
        // Saved with fc1 frozen (no fc1 state); loaded into an optimizer that has trained fc1: fc1 must start afresh,
        // i.e. its next update is Adam's first step (size lr per element).
        FakeModel model = CreateModel();
        model.Layers[0].Trainable = false;
        var saving = new Adam(0.01f);
        float[][] gradients = Gradients(model.Parameters.Length, 3);
        saving.Step(model, gradients[0]);
        string path = Path.Combine(_directory, "partial.safetensors");
        model.Save(path, saving);

        FakeModel other = CreateModel();
        var used = new Adam(0.01f);
        used.Step(other, gradients[1]);
        used.Step(other, gradients[2]);
        other.Load(path, used);
        float[] loaded = other.Parameters.ToArray();
        used.Step(other, gradients[1]);
        for (int i = 0; i < 9; i++)
            Assert.Equal(0.01, Math.Abs(other.Parameters[i] - loaded[i]), 5);
    }

    [Fact]
    public void Load_WeightsOnlyFile_ThrowsSayingThereIsNoOptimizerState()
    {
        FakeModel model = CreateModel();
        string path = Path.Combine(_directory, "weights.safetensors");
        model.Save(path);
        var ex = Assert.Throws<InvalidDataException>(() => CreateModel().Load(path, new Adam()));
        Assert.Contains("no optimizer state", ex.Message);
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void Load_OtherOptimizersState_ThrowsNamingBothAndChangesNothing()
    {
        FakeModel model = CreateModel();
        var sgd = new Sgd(0.1f, momentum: 0.9f);
        sgd.Step(model, Gradients(model.Parameters.Length, 1)[0]);
        string path = Path.Combine(_directory, "sgd.safetensors");
        model.Save(path, sgd);

        FakeModel target = CreateModel();
        float[] before = target.Parameters.ToArray();
        var ex = Assert.Throws<InvalidDataException>(() => target.Load(path, new Adam()));
        Assert.Contains("Sgd", ex.Message);
        Assert.Contains("Adam", ex.Message);
        Assert.Equal(before, target.Parameters.ToArray());
    }

    [Fact]
    public void Load_StateOfAVariantWithMoreBuffers_ThrowsNamingTheUnexpectedTensor()
    {
        // AMSGrad saves max_exp_avg_sq, which a plain Adam does not have.
        FakeModel model = CreateModel();
        var ams = new Adam(amsgrad: true);
        ams.Step(model, Gradients(model.Parameters.Length, 1)[0]);
        string path = Path.Combine(_directory, "ams.safetensors");
        model.Save(path, ams);
        var ex = Assert.Throws<InvalidDataException>(() => CreateModel().Load(path, new Adam()));
        Assert.Contains("max_exp_avg_sq", ex.Message);
    }
}
