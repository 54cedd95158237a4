// Gradient accumulation in Trainer.Fit (FitOptions.GradientAccumulationSteps): k minibatches of b rows accumulated
// into one step give the update of one minibatch of k·b rows (the mean loss over the group), including an epoch's
// shorter last group, for SGD and Adam; the schedule counts optimizer steps; 1 is the old behaviour.
using ModelGen;
using ModelGen.Data;

namespace ModelGen.Tests.Training;

/// <summary>No dropout or normalisation: nothing in it depends on how rows are split into minibatches.</summary>
[Model(1, 8, 8)]
public partial class AccumulationMlp
{
    [Flatten] public partial Layer Flat { get; }
    [Dense(13, Activation = Activation.Tanh)] public partial Layer Fc1 { get; }
    [Dense(10)] public partial Layer Fc2 { get; }
}

public class GradientAccumulationTests
{
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

    private static (float[] Parameters, TrainingHistory History) Train(Func<Optimizer> optimizer, int batchSize, int accumulation, int count, Schedule? schedule = null)
    {
        var model = new AccumulationMlp(21);
        var trainer = new Trainer(model, optimizer(), Loss.CrossEntropy, schedule);
        var history = trainer.Fit(Synthetic(count, 3), epochs: 2, batchSize,
            options: new FitOptions { Shuffle = false, GradientAccumulationSteps = accumulation });
        return (model.Parameters.ToArray(), history);
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        double max = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i]));
            if (d > max) (max, at) = (d, i);
        }
        Assert.True(max <= 2e-6, $"{what}: parameter {at} is {actual[at]:R} accumulated, {expected[at]:R} with one large batch (rel diff {max:E2})");
    }

    [Theory]
    [InlineData(64)]   // 8 minibatches of 8: two full groups of 4
    [InlineData(60)]   // 7 of 8 and one of 4: groups of 32 and 28 rows, as the large batches
    public void Sgd_FourMicroBatchesOfEight_EqualOneBatchOf32(int count)
    {
        var (large, _) = Train(() => new Sgd(0.5f, momentum: 0.9f), 32, 1, count);
        var (accumulated, _) = Train(() => new Sgd(0.5f, momentum: 0.9f), 8, 4, count);
        AssertClose(large, accumulated, $"SGD, {count} examples");
        var (unaccumulated, _) = Train(() => new Sgd(0.5f, momentum: 0.9f), 8, 1, count);
        Assert.NotEqual(large, unaccumulated);   // the comparison can tell the two apart
    }

    [Fact]
    public void AdamWithSchedule_ThreeMicroBatchesOfFive_EqualOneBatchOf15()
    {
        // 50 examples: 10 minibatches of 5 -> groups 3, 3, 3, 1 (15, 15, 15, 5 rows), as batches of 15 give.
        Schedule schedule = Schedule.OneCycle();
        var (large, largeHistory) = Train(() => new Adam(1e-2f), 15, 1, 50, schedule);
        var (accumulated, history) = Train(() => new Adam(1e-2f), 5, 3, 50, schedule);
        AssertClose(large, accumulated, "Adam + OneCycle");
        Assert.Equal(largeHistory.Epochs.Select(e => e.LearningRate), history.Epochs.Select(e => e.LearningRate));
    }

    [Fact]
    public void InvalidAccumulation_Throws()
    {
        var trainer = new Trainer(new AccumulationMlp(1), new Sgd(0.1f), Loss.CrossEntropy);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            trainer.Fit(Synthetic(8, 1), 1, 4, options: new FitOptions { GradientAccumulationSteps = 0 }));
        Assert.Contains("GradientAccumulationSteps", ex.Message);
    }
}
