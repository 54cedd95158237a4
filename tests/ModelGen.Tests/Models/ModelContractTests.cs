using ModelGen.Data;

namespace ModelGen.Tests.Models;

/// <summary>Bad input, allocation, thread-safety, determinism and save/load contracts of generated models.</summary>
public class ModelContractTests
{
    [Theory]
    [InlineData(10, 4 * 64, 4 * 10, "'input' has 10 floats, expected batch 4 × 64 = 256")]
    [InlineData(4 * 64, 39, 4 * 10, "'output' has 39 floats, expected batch 4 × 10 = 40")]
    public void Forward_WrongLengths_ThrowsNamingExpectedAndActual_WritesNothing(int inputLength, int ignored, int outputLength, string message)
    {
        _ = ignored;
        var model = new SmallMlp(1);
        var output = Enumerable.Repeat(-7f, outputLength == 40 ? 39 : outputLength).ToArray();
        if (message.Contains("'input'")) output = Enumerable.Repeat(-7f, 40).ToArray();
        var ex = Assert.Throws<ArgumentException>(() => model.Forward(new float[inputLength], output, 4));
        Assert.Contains(message, ex.Message);
        Assert.All(output, v => Assert.Equal(-7f, v));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Forward_NonPositiveBatch_Throws(int batch)
    {
        var ex = Assert.Throws<ArgumentException>(() => new SmallMlp(1).Forward(default, default, batch));
        Assert.Contains($"batch must be positive, got {batch}", ex.Message);
    }

    [Theory]
    [InlineData(20_000)]        // used to throw OverflowException (a negative array length)
    [InlineData(43_000)]        // used to throw ArgumentOutOfRangeException without a message (a span past the arena)
    [InlineData(int.MaxValue)]
    public void ForwardAndForwardTrain_BatchBeyondMaxBatch_ThrowNamingModelBatchAndLimit(int batch)
    {
        // Every planned buffer of WideConv has at most 150,538 floats per example: 14,265 examples fill an array.
        Assert.Equal(0x7FFFFFC7 / 150_538, WideConv.MaxBatch);
        var model = new WideConv(1);
        foreach (var call in new Action[] { () => model.Forward(default, default, batch), () => model.ForwardTrain(default, default, batch) })
        {
            var ex = Assert.Throws<ArgumentException>(call);
            Assert.Equal("batch", ex.ParamName);
            Assert.Contains($"WideConv: batch {batch} is too large; the largest batch WideConv supports is 14265 (WideConv.MaxBatch)", ex.Message);
        }
    }

    [Fact]
    public void Forward_MaxBatchPlusOne_Throws_ButSmallerBatchesRun()
    {
        var model = new WideConv(1);
        Assert.Throws<ArgumentException>(() => model.Forward(default, default, WideConv.MaxBatch + 1));
        model.Forward(new float[3 * WideConv.InputSize], new float[3 * WideConv.OutputSize], 3);
    }

    [Fact]
    public void Backward_BeforeForwardTrain_Throws()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new SmallMlp(1).Backward(new float[10], default));
        Assert.Contains("call ForwardTrain before Backward", ex.Message);
    }

    [Fact]
    public void Backward_WrongBatch_ThrowsNamingExpectedAndActual()
    {
        var model = new SmallMlp(1);
        model.ForwardTrain(new float[2 * 64], new float[2 * 10], 2);
        var ex = Assert.Throws<ArgumentException>(() => model.Backward(new float[3 * 10], default));
        Assert.Contains("'dOutput' has 30 floats, expected batch 2 × 10 = 20", ex.Message);
    }

    [Fact]
    public void ForwardAndTrainingStep_SteadyState_AllocateNothing()
    {
        var model = new SmallMlp(1);
        var input = new float[16 * 64];
        var output = new float[16 * 10];
        var dOutput = new float[16 * 10];
        var optimizer = new Adam();
        void Step()
        {
            model.Forward(input, output, 16);
            model.Gradients.Clear();
            model.ForwardTrain(input, output, 16);
            model.Backward(dOutput, default);
            optimizer.Step(model, model.Gradients);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 10, "Forward + ForwardTrain + Backward + Adam step", warmUpCalls: 3);
    }

    [Fact]
    public void Forward_ManyThreadsAtOnce_GiveTheSingleThreadedResult()
    {
        var model = new SmallMlp(3);
        var rng = new Rng(5);
        var input = Enumerable.Range(0, 8 * 64).Select(_ => rng.NextFloat()).ToArray();
        var expected = new float[8 * 10];
        model.Forward(input, expected, 8);
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            var output = new float[8 * 10];
            for (int k = 0; k < 20; k++)
            {
                model.Forward(input, output, 8);
                Assert.Equal(expected, output);
            }
        });
    }

    private static Dataset Synthetic(int count, int seed)
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

    private static float[] Train(int seed)
    {
        var model = new SmallMlp(seed);
        var trainer = new Trainer(model, new AdamW(1e-2f), Loss.CrossEntropy, Schedule.WarmupCosine(5));
        trainer.Fit(Synthetic(300, 1), epochs: 3, batchSize: 32, options: new FitOptions { Seed = (ulong)seed, Augmentation = new RandomShift(1) });
        return model.Parameters.ToArray();
    }

    [Fact]
    public void Fit_SameSeed_BitIdenticalWeights()
    {
        var a = Train(4);
        var b = Train(4);
        Assert.Equal(a, b);
        Assert.NotEqual(a, Train(5));
    }

    [Fact]
    public void Fit_LearnsSeparableData()
    {
        var model = new SmallMlp(2);
        var trainer = new Trainer(model, new Adam(1e-2f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(400, 7), epochs: 5, batchSize: 32, validation: Synthetic(200, 8));
        Assert.Equal(5, history.Epochs.Count);
        Assert.True(history.Epochs[^1].ValidationAccuracy > 0.95, $"validation accuracy {history.Epochs[^1].ValidationAccuracy}");
        Assert.True(history.Epochs[^1].TrainLoss < history.Epochs[0].TrainLoss);
    }

    [Fact]
    public void FitAndEvaluate_BatchSizeBeyondTheData_RunOneBatchOfTheWholeSet()
    {
        // int.MaxValue × 10 outputs used to overflow the trainer's output buffers before the model saw the batch.
        var trainer = new Trainer(new SmallMlp(2), new Adam(1e-2f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(50, 7), epochs: 1, batchSize: int.MaxValue);
        Assert.Equal(50, trainer.Evaluate(Synthetic(50, 8), batchSize: int.MaxValue).Count);
        Assert.True(float.IsFinite(history.Epochs[0].TrainLoss));
    }

    [Fact]
    public void Fit_DivergingLoss_ThrowsNamingEpochAndStep()
    {
        var data = Synthetic(64, 1);
        data.Inputs[5] = float.NaN;
        var trainer = new Trainer(new SmallMlp(1), new Sgd(0.1f), Loss.CrossEntropy);
        var ex = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(data, epochs: 1, batchSize: 64, options: new FitOptions { Shuffle = false }));
        Assert.Contains("at epoch 1, step 1 of 1: the CrossEntropy loss is NaN", ex.Message);
    }

    [Fact]
    public void Fit_EarlyStopping_StopsAndRestoresBest()
    {
        var model = new SmallMlp(2);
        var trainer = new Trainer(model, new Sgd(5f), Loss.CrossEntropy); // far too large: validation loss gets worse
        var history = trainer.Fit(Synthetic(200, 3), epochs: 30, batchSize: 50, validation: Synthetic(100, 4),
            options: new FitOptions { EarlyStoppingPatience = 2 });
        Assert.True(history.StoppedEarly);
        Assert.True(history.Epochs.Count < 30);
        var restored = trainer.Evaluate(Synthetic(100, 4));
        Assert.Equal(history.Epochs[history.BestEpoch - 1].ValidationLoss!.Value, restored.Loss, 1e-5f);
    }

    [Fact]
    public void SaveLoad_RoundTrip_GivesIdenticalPredictions()
    {
        string path = Path.Combine(Path.GetTempPath(), $"modelgen-{Guid.NewGuid():N}.safetensors");
        try
        {
            var model = new SmallMlp(11);
            model.Save(path);
            var loaded = SmallMlp.Load(path);
            Assert.Equal(model.Parameters.ToArray(), loaded.Parameters.ToArray());
            var input = Enumerable.Range(0, 5 * 64).Select(i => (float)Math.Sin(i)).ToArray();
            var a = new float[50];
            var b = new float[50];
            model.Forward(input, a, 5);
            loaded.Forward(input, b, 5);
            Assert.Equal(a, b);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LoadWeights_OtherModelsFile_ThrowsAndLeavesWeightsUnchanged()
    {
        string path = Path.Combine(Path.GetTempPath(), $"modelgen-{Guid.NewGuid():N}.safetensors");
        try
        {
            new DropoutNet(1).Save(path);
            var model = new SmallMlp(11);
            var before = model.Parameters.ToArray();
            var ex = Assert.Throws<InvalidDataException>(() => model.LoadWeights(path));
            Assert.Contains(Path.GetFileName(path), ex.Message);
            Assert.Contains("fc1.weight", ex.Message);
            Assert.Equal(before, model.Parameters.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
