using System.Buffers.Binary;
using ModelGen.Data;
using ModelGen.Serialization;

namespace ModelGen.Tests.Models;

/// <summary>
/// Buffers apart from parameters (running statistics and num_batches_tracked, as PyTorch's registered buffers) and
/// training/evaluation mode as the model's state: layout, optimizers, serialization, Momentum = null, and gradients
/// of an evaluation-mode forward.
/// </summary>
public sealed class ModesAndBuffersTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modes-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Buffers_AreApartFromParametersAndGradients()
    {
        var model = new FoldCnn(1);
        Assert.DoesNotContain(model.ParameterInfos, p => p.Name.Contains("running") || p.Name.Contains("num_batches"));
        Assert.Equal(new[] { "c1.weight", "bn1.weight", "bn1.bias", "fc.weight", "fc.bias" }, model.ParameterInfos.Select(p => p.Name));
        Assert.Equal(8 * 3 * 3 * 3 + 8 + 8 + 4 * 8 + 4, FoldCnn.ParameterCount);
        Assert.Equal(FoldCnn.ParameterCount, model.Parameters.Length);
        Assert.Equal(FoldCnn.ParameterCount, model.Gradients.Length);

        Assert.Equal(new[] { ("bn1.running_mean", "[8]", 0, false), ("bn1.running_var", "[8]", 8, false), ("bn1.num_batches_tracked", "[]", 16, true) },
            model.BufferInfos.Select(b => (b.Name, b.ShapeText, b.Offset, b.IsCount)));
        Assert.Equal(17, FoldCnn.BufferCount);
        Assert.Equal(17, model.Buffers.Length);
        Assert.Equal(model.BufferInfos, model.Bn1.Buffers);
        Assert.Empty(model.Fc.Buffers);
        Assert.All(model.Bn1.Buffer("running_var").ToArray(), v => Assert.Equal(1f, v));
        Assert.All(model.Bn1.Buffer("running_mean").ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(0f, model.Bn1.Buffer("num_batches_tracked")[0]);
        var missing = Assert.Throws<KeyNotFoundException>(() => model.Bn1.Parameter("running_mean"));
        Assert.Contains("no parameter 'running_mean'", missing.Message);
    }

    [Fact]
    public void Buffers_InBlocks_AreViewsOfTheEnclosingModel()
    {
        var model = new TinyResNet(2);
        Assert.Contains(model.BufferInfos, b => b.Name == "block2.downsample.1.num_batches_tracked" && b.IsCount);
        model.Block1.Bn1.Buffer("running_mean")[1] = 7f;
        Assert.Equal(7f, model.Buffers[model.BufferInfos.Single(b => b.Name == "block1.bn1.running_mean").Offset + 1]);
        Assert.Equal(model.Block1.BufferInfos.Sum(b => b.Length), model.Block1.Buffers.Length);
    }

    public static TheoryData<string> Optimizers => new() { "sgd", "adam", "adamw", "rmsprop", "adagrad" };

    private static Optimizer CreateOptimizer(string name) => name switch
    {
        "sgd" => new Sgd(0.1f, momentum: 0.9f, weightDecay: 0.1f),
        "adam" => new Adam(0.1f, weightDecay: 0.1f),
        "adamw" => new AdamW(0.1f),
        "rmsprop" => new RmsProp(0.1f, momentum: 0.5f, centered: true, weightDecay: 0.1f),
        _ => new Adagrad(0.1f, weightDecay: 0.1f),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Optimizers_NeverTouchBuffers(string name)
    {
        var model = new FoldCnn(3);
        var optimizer = CreateOptimizer(name);
        const int batch = 3;
        var input = ModelTestData.RandomArray(batch * FoldCnn.InputSize, 4);
        var output = new float[batch * FoldCnn.OutputSize];
        var dOutput = ModelTestData.RandomArray(output.Length, 5);
        for (int step = 0; step < 3; step++)
        {
            model.Gradients.Clear();
            model.ForwardTrain(input, output, batch);
            model.Backward(dOutput, default);
            var buffers = model.Buffers.ToArray();
            var parameters = model.Parameters.ToArray();
            optimizer.Step(model, model.Gradients);
            Assert.Equal(buffers, model.Buffers.ToArray());
            Assert.NotEqual(parameters, model.Parameters.ToArray());
        }
        Assert.Equal(3f, model.Bn1.Buffer("num_batches_tracked")[0]);
    }

    [Fact]
    public void SaveLoad_RoundTripsBuffersWithAnInt64Count()
    {
        var model = new FoldCnn(5);
        const int batch = 4;
        var input = ModelTestData.RandomArray(batch * FoldCnn.InputSize, 6);
        var output = new float[batch * FoldCnn.OutputSize];
        for (int i = 0; i < 3; i++) model.ForwardTrain(input, output, batch);
        string path = Path.Combine(_dir, "bn.safetensors");
        model.Save(path);

        var header = SafeTensors.ReadHeader(path);
        var count = header.Single(e => e.Name == "bn1.num_batches_tracked");
        Assert.Equal("I64", count.DType);
        Assert.Empty(count.Shape);
        Assert.Equal(3L, ReadInt64(path, count));
        Assert.Equal("F32", header.Single(e => e.Name == "bn1.running_var").DType);
        Assert.Equal(8, header.Count);   // 5 parameters + 3 buffers, nothing else

        var loaded = FoldCnn.Load(path);
        Assert.Equal(model.Parameters.ToArray(), loaded.Parameters.ToArray());
        Assert.Equal(model.Buffers.ToArray(), loaded.Buffers.ToArray());
        Assert.NotEqual(new FoldCnn(5).Buffers.ToArray(), loaded.Buffers.ToArray());   // the statistics did move
    }

    /// <summary>Files written before buffers had their own span hold running statistics as F32 and no num_batches_tracked.</summary>
    [Fact]
    public void Load_FileWithoutNumBatchesTracked_LoadsAndKeepsTheCount()
    {
        var source = new FoldCnn(7);
        var rng = new Rng(8);
        for (int i = 0; i < source.Buffers.Length; i++) source.Buffers[i] = 0.5f + rng.NextFloat();
        // The old layout: one float buffer with every tensor, running statistics among the parameters.
        var tensors = new List<ParameterInfo>(source.ParameterInfos);
        var values = new List<float>(source.Parameters.ToArray());
        foreach (var b in source.BufferInfos.Where(b => !b.IsCount))
        {
            tensors.Add(new ParameterInfo(b.Name, b.Shape, values.Count, b.Length));
            values.AddRange(source.Buffers.Slice(b.Offset, b.Length).ToArray());
        }
        string path = Path.Combine(_dir, "old.safetensors");
        SafeTensors.Save(path, tensors, values.ToArray());

        var target = new FoldCnn(9);
        target.Bn1.Buffer("num_batches_tracked")[0] = 11f;
        target.LoadWeights(path);
        Assert.Equal(source.Parameters.ToArray(), target.Parameters.ToArray());
        Assert.Equal(source.Bn1.Buffer("running_mean").ToArray(), target.Bn1.Buffer("running_mean").ToArray());
        Assert.Equal(source.Bn1.Buffer("running_var").ToArray(), target.Bn1.Buffer("running_var").ToArray());
        Assert.Equal(11f, target.Bn1.Buffer("num_batches_tracked")[0]);   // absent: kept, as PyTorch keeps it
    }

    [Fact]
    public void Load_CountWithTheWrongDtype_IsRejectedNamingIt()
    {
        var model = new FoldCnn(1);
        var tensors = new List<ParameterInfo>(model.ParameterInfos);
        var values = new List<float>(model.Parameters.ToArray());
        foreach (var b in model.BufferInfos)
        {
            tensors.Add(new ParameterInfo(b.Name, b.Shape, values.Count, b.Length));
            values.AddRange(model.Buffers.Slice(b.Offset, b.Length).ToArray());
        }
        string path = Path.Combine(_dir, "f32count.safetensors");
        SafeTensors.Save(path, tensors, values.ToArray());   // every tensor F32, the count included
        var e = Assert.Throws<InvalidDataException>(() => model.LoadWeights(path));
        Assert.Contains("tensor 'bn1.num_batches_tracked' has dtype F32, expected I64", e.Message);
    }

    [Fact]
    public void Checkpoint_WithOptimizer_RoundTripsBuffers()
    {
        var model = new FoldCnn(2);
        var optimizer = new Adam(1e-2f);
        const int batch = 2;
        var input = ModelTestData.RandomArray(batch * FoldCnn.InputSize, 3);
        var output = new float[batch * FoldCnn.OutputSize];
        var dOutput = ModelTestData.RandomArray(output.Length, 4);
        for (int i = 0; i < 2; i++)
        {
            model.Gradients.Clear();
            model.ForwardTrain(input, output, batch);
            model.Backward(dOutput, default);
            optimizer.Step(model, model.Gradients);
        }
        string path = Path.Combine(_dir, "ckpt.safetensors");
        model.Save(path, optimizer);
        var resumed = new FoldCnn(99);
        var resumedOptimizer = new Adam(1e-2f);
        ModelWeights.Load(resumed, path, resumedOptimizer);
        Assert.Equal(model.Buffers.ToArray(), resumed.Buffers.ToArray());
        Assert.Equal(model.Parameters.ToArray(), resumed.Parameters.ToArray());
        Assert.Equal("I64", SafeTensors.ReadHeader(path).Single(e => e.Name == "bn1.num_batches_tracked").DType);
    }

    [Fact]
    public void Modes_DefaultToTrainingAndSwitch()
    {
        var model = new FoldCnn(1);
        Assert.True(model.IsTraining);
        model.Eval();
        Assert.False(model.IsTraining);
        model.Train();
        Assert.True(model.IsTraining);
        model.Train(false);
        Assert.False(model.IsTraining);
    }

    [Fact]
    public void ForwardTrain_InEvalMode_EqualsForwardAndLeavesBuffers()
    {
        var model = new FoldCnn(4);
        const int batch = 3;
        var input = ModelTestData.RandomArray(batch * FoldCnn.InputSize, 9);
        var output = new float[batch * FoldCnn.OutputSize];
        model.ForwardTrain(input, output, batch);   // moves the statistics away from their initial values
        model.Eval();
        var buffers = model.Buffers.ToArray();
        var expected = new float[output.Length];
        model.Forward(input, expected, batch);
        model.ForwardTrain(input, output, batch);
        Assert.Equal(expected, output);
        Assert.Equal(buffers, model.Buffers.ToArray());   // num_batches_tracked included: only training mode counts

        var dropout = new DropoutNet(5);
        dropout.Eval();
        var x = ModelTestData.RandomArray(batch * DropoutNet.InputSize, 10);
        var y = new float[batch * DropoutNet.OutputSize];
        var inference = new float[y.Length];
        dropout.ForwardTrain(x, y, batch);
        dropout.Forward(x, inference, batch);
        Assert.Equal(inference, y);
        dropout.Train();
        dropout.ForwardTrain(x, y, batch);
        Assert.NotEqual(inference, y);   // p = 0.5 over 33 units: some are dropped
    }

    [Fact]
    public void ForwardTrain_InTrainingMode_CountsEveryBatchWithMomentumSet()
    {
        var model = new JustBatchNorm();
        var input = ModelTestData.RandomArray(4 * JustBatchNorm.InputSize, 1);
        var output = new float[input.Length];
        for (int i = 0; i < 5; i++) model.ForwardTrain(input, output, 4);
        Assert.Equal(5f, model.Bn.Buffer("num_batches_tracked")[0]);
        model.Forward(input, output, 4);   // inference never counts
        Assert.Equal(5f, model.Bn.Buffer("num_batches_tracked")[0]);
    }

    /// <summary>Momentum = null: after k batches the running statistics are the plain average of the k batch statistics.</summary>
    [Fact]
    public void MomentumNull_RunningStatisticsAreTheCumulativeAverage()
    {
        var model = new CumulativeBatchNorm();
        const int channels = 5, length = 3;
        int[] batches = [2, 7, 1, 4];
        var meanSum = new double[channels];
        var varSum = new double[channels];
        for (int k = 0; k < batches.Length; k++)
        {
            int batch = batches[k];
            var input = ModelTestData.RandomArray(batch * channels * length, 30 + k, scale: 2);
            for (int i = 0; i < input.Length; i++) input[i] += k;   // a different mean per batch
            model.ForwardTrain(input, new float[input.Length], batch);
            int n = batch * length;
            for (int c = 0; c < channels; c++)
            {
                double mean = 0, squares = 0;
                for (int b = 0; b < batch; b++)
                    for (int l = 0; l < length; l++) mean += input[(b * channels + c) * length + l];
                mean /= n;
                for (int b = 0; b < batch; b++)
                    for (int l = 0; l < length; l++) squares += Math.Pow(input[(b * channels + c) * length + l] - mean, 2);
                meanSum[c] += mean;
                varSum[c] += squares / (n - 1);   // unbiased, as torch's running_var
            }
            for (int c = 0; c < channels; c++)
            {
                Assert.True(Math.Abs(meanSum[c] / (k + 1) - model.Bn.Buffer("running_mean")[c]) <= 1e-5 * (1 + Math.Abs(meanSum[c] / (k + 1))),
                    $"after {k + 1} batches running_mean[{c}] = {model.Bn.Buffer("running_mean")[c]}, expected {meanSum[c] / (k + 1)}");
                Assert.True(Math.Abs(varSum[c] / (k + 1) - model.Bn.Buffer("running_var")[c]) <= 1e-5 * (1 + varSum[c] / (k + 1)),
                    $"after {k + 1} batches running_var[{c}] = {model.Bn.Buffer("running_var")[c]}, expected {varSum[c] / (k + 1)}");
            }
            Assert.Equal(k + 1, model.Bn.Buffer("num_batches_tracked")[0]);
        }
    }

    /// <summary>Fit trains in training mode whatever the model's mode, validates with Forward, and restores the mode.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fit_TrainsInTrainingModeAndRestoresTheMode(bool training)
    {
        var model = new FoldCnn(3);
        model.Train(training);
        const int n = 10;
        var x = ModelTestData.RandomArray(n * FoldCnn.InputSize, 12);
        var labels = Enumerable.Range(0, n).Select(i => i % 4).ToArray();
        var data = Dataset.FromArrays(x, labels, FoldCnn.InputShape, 4);
        var trainer = new Trainer(model, new Sgd(0.01f), Loss.CrossEntropy);
        trainer.Fit(data, epochs: 2, batchSize: 5, validation: data);
        Assert.Equal(training, model.IsTraining);
        Assert.Equal(4f, model.Bn1.Buffer("num_batches_tracked")[0]);   // 2 epochs × 2 batches, each counted: training mode
    }

    /// <summary>
    /// InstanceNorm2D(TrackRunningStats = true) holds running_mean, running_var and num_batches_tracked as buffers, as
    /// PyTorch registers them: not parameters (so no gradient, and weight decay never shrinks them), updated by
    /// training-mode batches (the count stays 0: PyTorch's InstanceNorm never advances it), saved and loaded by name.
    /// </summary>
    [Fact]
    public void InstanceNormRunningStatistics_AreBuffers_UntouchedByAdamWAndSavedByName()
    {
        var model = new GroupNormNet(8);
        Assert.DoesNotContain(model.ParameterInfos, p => p.Name.Contains("running") || p.Name.Contains("num_batches"));
        Assert.Equal(new[] { "in1.weight", "in1.bias" }, model.In1.Parameters.Select(p => p.Name));
        Assert.Equal(new[] { ("in1.running_mean", "[6]", false), ("in1.running_var", "[6]", false), ("in1.num_batches_tracked", "[]", true) },
            model.In1.Buffers.Select(b => (b.Name, b.ShapeText, b.IsCount)));
        Assert.Equal(13, GroupNormNet.BufferCount);
        Assert.Equal(GroupNormNet.ParameterCount, model.Gradients.Length);
        Assert.All(model.In1.Buffer("running_var").ToArray(), v => Assert.Equal(1f, v));
        Assert.Throws<KeyNotFoundException>(() => model.In1.Parameter("running_var"));

        var optimizer = new AdamW(0.1f, weightDecay: 0.5f);
        const int batch = 3;
        var input = ModelTestData.RandomArray(batch * GroupNormNet.InputSize, 13);
        var output = new float[batch * GroupNormNet.OutputSize];
        var dOutput = ModelTestData.RandomArray(output.Length, 14);
        for (int step = 0; step < 3; step++)
        {
            model.Gradients.Clear();
            var before = model.Buffers.ToArray();
            model.ForwardTrain(input, output, batch);
            Assert.NotEqual(before, model.Buffers.ToArray());   // training mode moves the statistics
            model.Backward(dOutput, default);
            var buffers = model.Buffers.ToArray();
            optimizer.Step(model, model.Gradients);
            Assert.Equal(buffers, model.Buffers.ToArray());
        }
        Assert.Equal(0f, model.In1.Buffer("num_batches_tracked")[0]);   // as libtorch's module (TorchLayersReferenceTests)
        model.In1.Buffer("num_batches_tracked")[0] = 5f;   // a count loaded from elsewhere round-trips as I64

        string path = Path.Combine(_dir, "in.safetensors");
        model.Save(path);
        var header = SafeTensors.ReadHeader(path);
        Assert.Equal("F32", header.Single(e => e.Name == "in1.running_mean").DType);
        var count = header.Single(e => e.Name == "in1.num_batches_tracked");
        Assert.Equal("I64", count.DType);
        Assert.Equal(5L, ReadInt64(path, count));
        var loaded = GroupNormNet.Load(path);
        Assert.Equal(model.Buffers.ToArray(), loaded.Buffers.ToArray());
        Assert.Equal(model.Parameters.ToArray(), loaded.Parameters.ToArray());
        Assert.NotEqual(new GroupNormNet(8).In1.Buffer("running_mean").ToArray(), loaded.In1.Buffer("running_mean").ToArray());
    }

    /// <summary>Partial loading (load_state_dict) matches buffers by name too: running statistics and the I64 count, renamed by the prefix map.</summary>
    [Fact]
    public void LoadWeights_LoadsBuffersByName_WithThePrefixMap()
    {
        var source = new GroupNormNet(11);
        const int batch = 2;
        var input = ModelTestData.RandomArray(batch * GroupNormNet.InputSize, 16);
        source.ForwardTrain(input, new float[batch * GroupNormNet.OutputSize], batch);
        source.In1.Buffer("num_batches_tracked")[0] = 7f;
        string path = Path.Combine(_dir, "partial.safetensors");
        source.Save(path);

        var strict = new GroupNormNet(12);
        var report = ModelWeights.LoadWeights(strict, path);   // the extension (strict), not the generated void LoadWeights
        Assert.Contains("in1.running_mean", report.Loaded);
        Assert.Contains("in1.num_batches_tracked", report.Loaded);
        Assert.Equal(source.Buffers.ToArray(), strict.Buffers.ToArray());
        Assert.Equal(source.Parameters.ToArray(), strict.Parameters.ToArray());

        var renamed = new GroupNormNet(13);
        var options = new LoadOptions { Strict = false };
        options.Include.Add("in1.running");
        report = ModelWeights.LoadWeights(renamed, path, options);
        Assert.Equal(new[] { "in1.running_mean", "in1.running_var" }, report.Loaded);
        Assert.DoesNotContain("in1.num_batches_tracked", report.Missing);   // optional, as in Load
        Assert.Equal(source.In1.Buffer("running_var").ToArray(), renamed.In1.Buffer("running_var").ToArray());
        Assert.Equal(0f, renamed.In1.Buffer("num_batches_tracked")[0]);
        Assert.Equal(new GroupNormNet(13).Parameters.ToArray(), renamed.Parameters.ToArray());
    }

    /// <summary>An evaluation-mode InstanceNorm with running statistics normalises with them and leaves them (and the count) alone.</summary>
    [Fact]
    public void InstanceNorm_ForwardTrainInEvalMode_EqualsForwardAndLeavesBuffers()
    {
        var model = new GroupNormNet(9);
        const int batch = 2;
        var input = ModelTestData.RandomArray(batch * GroupNormNet.InputSize, 15);
        var output = new float[batch * GroupNormNet.OutputSize];
        model.ForwardTrain(input, output, batch);
        model.Eval();
        var buffers = model.Buffers.ToArray();
        var expected = new float[output.Length];
        model.Forward(input, expected, batch);
        model.ForwardTrain(input, output, batch);
        Assert.Equal(expected, output);
        Assert.Equal(buffers, model.Buffers.ToArray());
    }

    public static TheoryData<string> EvalModels => new() { nameof(TinyResNet), nameof(FoldCnn), nameof(DropoutNet), nameof(GroupNormNet) };

    private static ITrainable CreateEvalModel(string name) => name switch
    {
        nameof(TinyResNet) => new TinyResNet(3),
        nameof(FoldCnn) => new FoldCnn(6),
        nameof(GroupNormNet) => new GroupNormNet(10),
        _ => new DropoutNet(7),
    };

    /// <summary>
    /// Fine-tuning with frozen statistics: Backward after an evaluation-mode ForwardTrain differentiates the evaluation-mode
    /// function (running statistics as constants, no dropout), checked against central differences of the inference Forward.
    /// </summary>
    [Theory]
    [MemberData(nameof(EvalModels))]
    public void Backward_AfterEvalModeForwardTrain_MatchesFiniteDifferencesOfForward(string network)
    {
        var model = CreateEvalModel(network);
        const int batch = 3;
        var input = ModelTestData.RandomArray(batch * model.InputLength, 41);
        var weights = ModelTestData.RandomArray(batch * model.OutputLength, 42);
        var output = new float[weights.Length];
        model.ForwardTrain(input, output, batch);   // training mode once: statistics other than 0 and 1
        var rng = new Rng(43);
        foreach (var layer in model.Layers)   // and non-trivial scales, so that dγ, dβ and dx all matter
            if (layer.Kind.StartsWith("BatchNorm", StringComparison.Ordinal) || layer.Kind.StartsWith("InstanceNorm", StringComparison.Ordinal) && layer.Parameters.Count > 0)
                foreach (ref float g in layer.Parameter("weight")) g = 0.5f + rng.NextFloat();
        model.Eval();
        var buffers = model.Buffers.ToArray();
        var dInput = new float[input.Length];
        model.Gradients.Clear();
        model.ForwardTrain(input, output, batch);
        model.Backward(weights, dInput);
        var analytic = model.Gradients.ToArray();
        Assert.Equal(buffers, model.Buffers.ToArray());

        double Loss()
        {
            model.Forward(input, output, batch);   // the evaluation-mode function
            double sum = 0;
            for (int j = 0; j < output.Length; j++) sum += (double)weights[j] * output[j];
            return sum;
        }
        double Numeric(Span<float> values, int i, float h)
        {
            float saved = values[i];
            values[i] = saved + h;
            double plus = Loss();
            values[i] = saved - h;
            double minus = Loss();
            values[i] = saved;
            return (plus - minus) / (2 * h);
        }
        // ReLU makes the function piecewise linear: a step of 1e-2 that crosses a kink is retried with 2e-3, which
        // crosses it five times less often (float rounding keeps the step from being much smaller).
        bool Close(double expected, float actual) => Math.Abs(expected - actual) <= 3e-3 + 2e-2 * Math.Abs(expected);
        void Check(string what, Span<float> values, int i, float actual)
        {
            double wide = Numeric(values, i, 1e-2f);
            if (Close(wide, actual)) return;
            double narrow = Numeric(values, i, 2e-3f);
            Assert.True(Close(narrow, actual), $"{network} {what}: finite differences {wide} (h = 1e-2) and {narrow} (h = 2e-3), backward {actual}");
        }

        foreach (var info in model.ParameterInfos)
            for (int i = 0; i < info.Length; i++)
                Check($"{info.Name}[{i}]", model.Parameters, info.Offset + i, analytic[info.Offset + i]);
        for (int i = 0; i < input.Length; i++)
            Check($"input[{i}]", input, i, dInput[i]);
    }

    private static long ReadInt64(string path, SafeTensorEntry entry)
    {
        using var file = File.OpenRead(path);
        Span<byte> eight = stackalloc byte[8];
        file.ReadExactly(eight);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(eight);
        file.Position = 8 + headerLength + entry.Begin;
        file.ReadExactly(eight);
        return BinaryPrimitives.ReadInt64LittleEndian(eight);
    }
}
