// The torch.optim.lr_scheduler counterparts (ExponentialLR, LinearLR, PolynomialLR, OneCycleLR, SequentialLR,
// ReduceLROnPlateau) and per-epoch schedules: against the closed forms written out in double, against the rates
// TorchSharp's ports of PyTorch's schedulers produced (tools/reference/optim-fixture: the rate before each step divided
// by the base rate), and driven by Trainer.Fit (per-epoch factors, the plateau fed the validation loss).
using ModelGen;
using ModelGen.Data;
using ModelGen.Tests.Models;

namespace ModelGen.Tests.Training;

public class ScheduleTorchTests
{
    private static void AssertFactors(float[] expected, Func<int, float> actual, string what)
    {
        for (int t = 0; t < expected.Length; t++)
        {
            float a = actual(t);
            Assert.True(Math.Abs(expected[t] - a) <= 1e-7 + 1e-6 * Math.Abs(expected[t]),
                $"{what} at step {t}: PyTorch {expected[t]:R}, ModelGen {a:R}");
        }
    }

    /// <summary>
    /// <code>
    /// var opt = torch.optim.SGD([p], 0.1); var sched = make(opt);
    /// for (t = 0; t &lt; n; t++) { factors.Add(opt.ParamGroups.First().LearningRate / 0.1); opt.step(); sched.step(); }
    /// </code>
    /// </summary>
    public static TheoryData<string, float[]> TorchCases => new()
    {
        { "ExponentialLR(gamma=0.9)", [1f, 0.9f, 0.81f, 0.729f, 0.6561f, 0.59049f, 0.531441f, 0.4782969f] },
        { "LinearLR()", [0.33333334f, 0.46666667f, 0.6f, 0.73333335f, 0.8666667f, 1f, 1f, 1f] },
        { "LinearLR(start_factor=1.0, end_factor=0.1, total_iters=4)", [1f, 0.775f, 0.55f, 0.325f, 0.1f, 0.1f, 0.1f, 0.1f] },
        { "PolynomialLR()", [1f, 0.8f, 0.6f, 0.4f, 0.2f, 0f, 0f, 0f] },
        { "PolynomialLR(total_iters=6, power=2)", [1f, 0.6944444f, 0.44444445f, 0.25f, 0.11111111f, 0.027777778f, 0f, 0f] },
        { "OneCycleLR(max_lr=0.1, total_steps=20)", [0.04f, 0.13167185f, 0.37167186f, 0.66832817f, 0.9083282f, 1f, 0.987464f, 0.95048463f, 0.89091617f, 0.81174564f, 0.716943f, 0.611262f, 0.500002f, 0.38874197f, 0.283061f, 0.18825835f, 0.109087825f, 0.049519368f, 0.012539994f, 4E-06f] },
        { "OneCycleLR(max_lr=0.1, total_steps=23, pct_start=0.25, anneal_strategy='linear', three_phase=True)", [0.04f, 0.24210526f, 0.44421053f, 0.6463158f, 0.84842104f, 0.9494737f, 0.7473684f, 0.5452632f, 0.3431579f, 0.14105263f, 0.03840016f, 0.03520048f, 0.0320008f, 0.02880112f, 0.02560144f, 0.02240176f, 0.01920208f, 0.0160024f, 0.01280272f, 0.00960304f, 0.00640336f, 0.00320368f, 4E-06f] },
        { "SequentialLR([LinearLR(0.1, 1.0, 3), ExponentialLR(0.8)], milestones=[3])", [0.1f, 0.4f, 0.7f, 1f, 0.8f, 0.64f, 0.512f, 0.4096f] },
    };

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Factor_MatchesPyTorchScheduler(string torchCall, float[] expected)
    {
        Schedule schedule = torchCall switch
        {
            "ExponentialLR(gamma=0.9)" => Schedule.Exponential(0.9f),
            "LinearLR()" => Schedule.Linear(),
            "LinearLR(start_factor=1.0, end_factor=0.1, total_iters=4)" => Schedule.Linear(1f, 0.1f, 4),
            "PolynomialLR()" => Schedule.Polynomial(),
            "PolynomialLR(total_iters=6, power=2)" => Schedule.Polynomial(6, 2f),
            "OneCycleLR(max_lr=0.1, total_steps=20)" => Schedule.OneCycle(),
            "OneCycleLR(max_lr=0.1, total_steps=23, pct_start=0.25, anneal_strategy='linear', three_phase=True)"
                => Schedule.OneCycle(0.25f, OneCycleAnneal.Linear, threePhase: true),
            "SequentialLR([LinearLR(0.1, 1.0, 3), ExponentialLR(0.8)], milestones=[3])"
                => Schedule.Sequential([Schedule.Linear(0.1f, 1f, 3), Schedule.Exponential(0.8f)], [3]),
            _ => throw new ArgumentException(torchCall),
        };
        AssertFactors(expected, t => schedule.Factor(t, expected.Length), torchCall);
        // Trainer's form with any steps per epoch: a per-step schedule ignores it.
        AssertFactors(expected, t => schedule.Factor(t, expected.Length, 7), torchCall + " (3-argument form)");
    }

    private static readonly float[] s_plateauMetrics = [1.0f, 0.9f, 0.95f, 0.91f, 0.92f, 0.93f, 0.5f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f];

    /// <summary>
    /// As <see cref="TorchCases"/>, with <c>sched.step(metrics[t])</c> after each step (one step per epoch).
    /// </summary>
    public static TheoryData<string, float[]> PlateauCases => new()
    {
        { "ReduceLROnPlateau(patience=2, cooldown=1, min_lr=0.0005)", [1f, 1f, 1f, 1f, 1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.01f, 0.01f, 0.01f, 0.01f] },
        { "ReduceLROnPlateau(mode='max', factor=0.5, patience=1, threshold=0.05, threshold_mode='abs')", [1f, 1f, 1f, 0.5f, 0.5f, 0.25f, 0.25f, 0.125f, 0.125f, 0.0625f, 0.0625f, 0.03125f, 0.03125f, 0.015625f] },
    };

    [Theory]
    [MemberData(nameof(PlateauCases))]
    public void ReduceOnPlateau_MatchesPyTorchScheduler(string torchCall, float[] expected)
    {
        PlateauSchedule schedule = torchCall.Contains("'max'")
            ? Schedule.ReduceOnPlateau(PlateauMode.Max, 0.5f, 1, 0.05f, PlateauThresholdMode.Absolute)
            : Schedule.ReduceOnPlateau(patience: 2, cooldown: 1, minFactor: 0.005f);
        var actual = new float[expected.Length];
        for (int t = 0; t < expected.Length; t++)
        {
            actual[t] = schedule.Factor(t, expected.Length);
            schedule.ReportMetric(s_plateauMetrics[t], t + 1, 1);
        }
        AssertFactors(expected, t => actual[t], torchCall);
        schedule.Reset();
        Assert.Equal(1f, schedule.Factor(0, 1));
    }

    [Fact]
    public void ReduceOnPlateau_MinFactorFloorsTheReduction()
    {
        // factor 0.1, min 0.05: 1 -> 0.1 -> 0.05 (floored) -> 0.05 (a reduction of 0 is skipped).
        PlateauSchedule s = Schedule.ReduceOnPlateau(patience: 0, minFactor: 0.05f);
        s.ReportMetric(1f, 1, 1);
        float[] seen = new float[3];
        for (int k = 0; k < 3; k++)
        {
            s.ReportMetric(2f, k + 2, 1);
            seen[k] = s.CurrentFactor;
        }
        Assert.Equal(0.1f, seen[0], 6);
        Assert.Equal(0.05f, seen[1], 6);
        Assert.Equal(0.05f, seen[2], 6);
    }

    [Fact]
    public void ReduceOnPlateau_Defaults_ArePyTorchDefaults()
    {
        PlateauSchedule s = Schedule.ReduceOnPlateau();
        Assert.Equal((PlateauMode.Min, 0.1f, 10, 1e-4f, PlateauThresholdMode.Relative, 0, 0f, 1e-8f),
            (s.Mode, s.ReductionFactor, s.Patience, s.Threshold, s.ThresholdMode, s.Cooldown, s.MinFactor, s.Epsilon));
    }

    // ---- closed forms in double ----

    [Fact]
    public void ClosedForms_MatchPyTorchFormulas()
    {
        const int total = 37;
        for (int t = 0; t < 60; t++)
        {
            Assert.Equal(Math.Pow(0.97, t), Schedule.Exponential(0.97f).Factor(t, total), 1e-6);
            Assert.Equal(0.25 + (0.9 - 0.25) * Math.Min(t, 11) / 11.0, Schedule.Linear(0.25f, 0.9f, 11).Factor(t, total), 1e-6);
            Assert.Equal(Math.Pow(1 - Math.Min(t, 13) / 13.0, 1.5), Schedule.Polynomial(13, 1.5f).Factor(t, total), 1e-6);
        }
    }

    /// <summary>
    /// OneCycleLR.get_lr, two phases, cos: phase 1 ends at pct_start·total - 1, phase 2 at total - 1;
    /// lr = end + (start - end)/2·(cos(π·pct) + 1), pct = (step - phase start)/(phase end - phase start).
    /// </summary>
    [Theory]
    [InlineData(100, 0.3)]
    [InlineData(41, 0.45)]
    [InlineData(7, 0.3)]
    public void OneCycle_MatchesFormulaAndEndpoints(int total, double pctStart)
    {
        Schedule s = Schedule.OneCycle((float)pctStart);
        double initial = 1 / 25.0, min = initial / 1e4;
        double end1 = (double)(float)pctStart * total - 1, end2 = total - 1;
        for (int t = 0; t < total; t++)
        {
            double expected = t <= end1
                ? 1 + (initial - 1) / 2 * (Math.Cos(Math.PI * t / end1) + 1)
                : min + (1 - min) / 2 * (Math.Cos(Math.PI * (t - end1) / (end2 - end1)) + 1);
            Assert.Equal(expected, s.Factor(t, total), 1e-6);
        }
        Assert.Equal(initial, s.Factor(0, total), 1e-7);
        Assert.Equal(min, s.Factor(total - 1, total), 1e-9);
        Assert.Equal(min, s.Factor(total + 5, total), 1e-9);   // past the end: the last step's factor
    }

    [Fact]
    public void Sequential_WarmupThenCosine_EachSeesItsOwnSpan()
    {
        Schedule s = Schedule.Sequential([Schedule.Linear(0.01f, 1f, 10), Schedule.Cosine()], [10]);
        for (int t = 0; t < 10; t++)
            Assert.Equal(0.01 + 0.99 * t / 10, s.Factor(t, 110), 1e-6);
        for (int t = 10; t < 110; t++)
            Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * (t - 10) / 100)), s.Factor(t, 110), 1e-6);
    }

    [Fact]
    public void Sequential_ThreeSchedulesAndInvalidMilestones()
    {
        Schedule s = Schedule.Sequential([Schedule.Constant, Schedule.Exponential(0.5f), Schedule.Linear(0.5f, 0.5f, 1)], [2, 4]);
        Assert.Equal([1f, 1f, 1f, 0.5f, 0.5f, 0.5f], Enumerable.Range(0, 6).Select(t => s.Factor(t, 6)).ToArray());
        Assert.Contains("one milestone fewer", Assert.Throws<ArgumentException>(() => Schedule.Sequential([Schedule.Constant], [3])).Message);
        Assert.Contains("milestones[1] is 2 after 2",
            Assert.Throws<ArgumentException>(() => Schedule.Sequential([Schedule.Constant, Schedule.Constant, Schedule.Constant], [2, 2])).Message);
        Assert.Throws<ArgumentException>(() => Schedule.Sequential([Schedule.Constant, Schedule.Constant], [0]));
    }

    [Fact]
    public void PerEpoch_ConstantWithinAnEpoch()
    {
        Schedule s = Schedule.Exponential(0.5f).PerEpoch();
        // 10 steps per epoch, 3 epochs.
        for (int t = 0; t < 30; t++)
            Assert.Equal(Math.Pow(0.5, t / 10), s.Factor(t, 30, 10), 1e-7);
        // Cosine per epoch over 4 epochs (the last one partial: 35 steps / 10 per epoch -> 4 epochs).
        Schedule c = Schedule.Cosine().PerEpoch();
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 2 / 4)), c.Factor(25, 35, 10), 1e-6);
        // Without steps per epoch each step is an epoch.
        Assert.Equal(0.25f, s.Factor(2, 30));
    }

    [Fact]
    public void InvalidArguments_Throw()
    {
        Assert.Equal("gamma", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Exponential(-1)).ParamName);
        Assert.Equal("startFactor", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Linear(0f)).ParamName);
        Assert.Equal("endFactor", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Linear(endFactor: 1.5f)).ParamName);
        Assert.Equal("totalIters", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Polynomial(0)).ParamName);
        Assert.Equal("pctStart", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.OneCycle(1f)).ParamName);
        Assert.Equal("divFactor", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.OneCycle(divFactor: 0)).ParamName);
        Assert.Equal("factor", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.ReduceOnPlateau(factor: 1f)).ParamName);
        Assert.Equal("patience", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.ReduceOnPlateau(patience: -1)).ParamName);
        Assert.Equal("stepsPerEpoch", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Constant.Factor(0, 1, 0)).ParamName);
    }

    // ---- driven by Trainer.Fit ----

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

    [Fact]
    public void Fit_PerEpochSchedule_OneRatePerEpoch()
    {
        var trainer = new Trainer(new SmallMlp(3), new Sgd(0.1f), Loss.CrossEntropy, Schedule.Exponential(0.5f).PerEpoch());
        var history = trainer.Fit(Synthetic(64, 1), epochs: 3, batchSize: 16);
        Assert.Equal([0.1f, 0.05f, 0.025f], history.Epochs.Select(e => e.LearningRate).ToArray());
    }

    [Fact]
    public void Fit_ReduceOnPlateau_FedTheValidationLossAfterEachEpoch()
    {
        // A relative threshold of 0.99 makes every epoch after the first "no improvement"; patience 0 reduces at once,
        // so epoch 1 and 2 run at the base rate and each later epoch at a tenth of the previous one.
        PlateauSchedule plateau = Schedule.ReduceOnPlateau(patience: 0, threshold: 0.99f);
        var trainer = new Trainer(new SmallMlp(3), new Adam(1e-2f), Loss.CrossEntropy, plateau);
        var history = trainer.Fit(Synthetic(64, 1), epochs: 4, batchSize: 16, validation: Synthetic(32, 2));
        float[] rates = history.Epochs.Select(e => e.LearningRate).ToArray();
        Assert.Equal(1e-2f, rates[0]);
        Assert.Equal(1e-2f, rates[1]);
        Assert.Equal(1e-3f, rates[2], 9);
        Assert.Equal(1e-4f, rates[3], 10);
        Assert.Equal(1e-3f, plateau.CurrentFactor, 9);   // reduced again after the last epoch
    }
}
