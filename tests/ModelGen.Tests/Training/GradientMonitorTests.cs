// FitOptions.TrackGradients: per-layer gradient norms and update ratios against quantities computed here in double,
// warnings from deliberately broken models (a frozen zero layer starves the layers before it; weights scaled by 1e6
// blow up the gradients after them), the vectorised squared-difference kernel on every tail length, and a training
// step that still allocates nothing with metrics and gradient tracking on.
using ModelGen.Data;
using ModelGen.Tests.Models;

namespace ModelGen.Tests.Training;

[Trait("Category", "Kernels")]
public class GradientMonitorTests
{
    private static Dataset Synthetic(int count, int seed)
    {
        var rng = new Rng((ulong)seed);
        var x = new float[count * 64];
        var y = new int[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = rng.NextInt(10);
            for (int j = 0; j < 64; j++) x[i * 64 + j] = rng.NextFloat() * 0.6f + (j % 10 == y[i] ? 0.5f : 0f);
        }
        return Dataset.FromArrays(x, y, new[] { 1, 8, 8 }, 10);
    }

    [Fact]
    public void SumOfSquaredDifferences_EveryTailAndBlock_MatchesDoubleReference()
    {
        var rng = new Rng(1);
        foreach (int n in Enumerable.Range(0, 70).Concat([255, 1000, 4097, 9001]))
        {
            var a = Enumerable.Range(0, n).Select(_ => rng.NextFloat() * 2 - 1).ToArray();
            var b = Enumerable.Range(0, n).Select(_ => rng.NextFloat() * 2 - 1).ToArray();
            double expected = 0;
            for (int i = 0; i < n; i++) expected += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
            Assert.Equal(expected, GradientMonitor.SumOfSquaredDifferences(a, b), Math.Max(1e-9, expected * 1e-5));
        }
    }

    [Fact]
    public void Fit_TrackGradients_OneSgdStep_NormsAndRatioMatchTheUpdate()
    {
        // One full-batch SGD step per epoch without momentum: Δw = −lr·g per layer, so ‖Δw‖ = lr·‖g‖ and the ratio is
        // lr·‖g‖ / ‖w_before‖, all measured here from the parameters before and after.
        var model = new AccumulationMlp(3);
        float[] before = model.Parameters.ToArray();
        var trainer = new Trainer(model, new Sgd(0.1f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(37, 1), epochs: 1, batchSize: 37, options: new FitOptions { TrackGradients = true, Shuffle = false });
        float[] after = model.Parameters.ToArray();
        var report = history.Epochs[0].Gradients!;
        Assert.Equal(1, report.Steps);
        Assert.Equal(["fc1", "fc2"], report.Layers.Select(l => l.Layer));
        Assert.Empty(report.Warnings);
        foreach (var stats in report.Layers)
        {
            var layer = model.Layers.Single(l => l.Name == stats.Layer);
            double update = 0, weightBefore = 0, weightAfter = 0;
            foreach (var p in layer.Parameters)
                for (int i = p.Offset; i < p.Offset + p.Length; i++)
                {
                    update += ((double)after[i] - before[i]) * ((double)after[i] - before[i]);
                    weightBefore += (double)before[i] * before[i];
                    weightAfter += (double)after[i] * after[i];
                }
            Assert.Equal(Math.Sqrt(update) / 0.1, stats.MeanGradientNorm, Math.Sqrt(update) / 0.1 * 1e-4);
            Assert.Equal(stats.MeanGradientNorm, stats.MaxGradientNorm);
            Assert.Equal(Math.Sqrt(update / weightBefore), stats.MeanUpdateRatio, 1e-6);
            Assert.Equal(Math.Sqrt(weightAfter), stats.WeightNorm, Math.Sqrt(weightAfter) * 1e-6);
        }
        Assert.Matches(@"fc1 \(Dense\)\s+[0-9.e+-]+\s+[0-9.e+-]+", report.ToTable());
        Assert.StartsWith("Gradients, epoch 1 (1 steps, training set)", report.ToTable());
    }

    [Fact]
    public void Fit_FrozenZeroHead_WarnsThatEarlierLayersVanish()
    {
        // fc3's weights are 0 and frozen: no gradient reaches fc2 or fc1, whatever the data.
        var model = new SmallMlp(4);
        model.Fc3.Parameter("weight").Clear();
        model.Fc3.Trainable = false;
        var trainer = new Trainer(model, new Adam(1e-3f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(64, 1), epochs: 2, batchSize: 16, options: new FitOptions { TrackGradients = true });
        var report = history.Epochs[1].Gradients!;
        Assert.Equal(2, report.Warnings.Count);
        Assert.Contains("epoch 2: the gradients of layer 'fc1' (Dense) vanish: mean L2 norm 0 < 1E-07 (FitOptions.VanishingGradientNorm)", report.Warnings[0]);
        Assert.Contains("layer 'fc2' (Dense) vanish", report.Warnings[1]);
        var fc3 = report.Layers.Single(l => l.Layer == "fc3");
        Assert.False(fc3.Trainable);
        Assert.Equal(0, fc3.MeanUpdateRatio);
        Assert.Contains("frozen", report.ToTable());
    }

    [Fact]
    public void Fit_HugeWeights_WarnsThatLaterLayersExplode()
    {
        var model = new SmallMlp(4);
        foreach (ref float w in model.Fc1.Parameter("weight")) w *= 1e6f;
        var trainer = new Trainer(model, new Sgd(1e-3f), Loss.CrossEntropy);
        var history = trainer.Fit(Synthetic(64, 1), epochs: 1, batchSize: 16,
            options: new FitOptions { TrackGradients = true, StopOnDivergence = false });
        var warnings = history.Epochs[0].Gradients!.Warnings;
        Assert.Contains(warnings, w => w.Contains("layer 'fc3' (Dense) explode: largest L2 norm") && w.Contains("> 1E+03 (FitOptions.ExplodingGradientNorm)"));
    }

    [Fact]
    public void Fit_BadThresholds_Throw()
    {
        var trainer = new Trainer(new SmallMlp(4), new Sgd(1e-3f), Loss.CrossEntropy);
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(Synthetic(8, 1), 1, 8,
            options: new FitOptions { TrackGradients = true, VanishingGradientNorm = 10, ExplodingGradientNorm = 1 }));
    }

    [Fact]
    public void Fit_MetricsAndGradientTracking_StepsAllocateNothing()
    {
        // Windows between in-epoch progress reports (every 5 steps) cover only training steps: no evaluation, no checkpoint.
        var model = new SmallMlp(4);
        var trainer = new Trainer(model, new Adam(1e-3f), Loss.CrossEntropy, Schedule.Cosine());
        var windows = new List<long>();
        long last = -1;
        var progress = new Recorder(p =>
        {
            if (p.Completed is not null || p.Epoch < 2) { last = -1; return; }   // epoch 1 warms up (JIT, tiering)
            long now = GC.GetAllocatedBytesForCurrentThread();
            if (last >= 0) windows.Add(now - last);
            last = GC.GetAllocatedBytesForCurrentThread();
        });
        trainer.Fit(Synthetic(640, 1), epochs: 3, batchSize: 16, Synthetic(32, 2),
            new FitOptions { ComputeMetrics = true, TrackGradients = true, ReportEverySteps = 5, Augmentation = new RandomShift(1) }, progress);
        Assert.True(windows.Count >= AllocationAssert.Windows, $"{windows.Count} windows");
        int next = 0;
        AllocationAssert.SomeWindowAllocatesNothing(() => windows[next++], "5 training steps with ComputeMetrics and TrackGradients");
    }

    private sealed class Recorder(Action<TrainingProgress> onReport) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => onReport(value);
    }
}
