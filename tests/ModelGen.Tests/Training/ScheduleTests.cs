// Learning-rate schedules: endpoints, midpoints and PyTorch equivalences (CosineAnnealingLR, StepLR).
using ModelGen;

namespace ModelGen.Tests.Training;

public class ScheduleTests
{
    [Fact]
    public void Constant_IsOneEverywhere()
    {
        foreach (int step in new[] { 0, 1, 50, 99, 1000 })
            Assert.Equal(1f, Schedule.Constant.Factor(step, 100));
    }

    [Fact]
    public void Cosine_EndpointsAndMidpoint()
    {
        Schedule s = Schedule.Cosine();
        Assert.Equal(1f, s.Factor(0, 100));
        Assert.Equal(0.5, s.Factor(50, 100), 1e-6);
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 99 / 100)), s.Factor(99, 100), 1e-6);  // last step: not yet the minimum, as in PyTorch
        Assert.Equal(0f, s.Factor(100, 100));
        Assert.Equal(0f, s.Factor(250, 100));  // past the end: stays at the minimum
    }

    [Fact]
    public void Cosine_WithMinFactor_MatchesCosineAnnealingLR()
    {
        // PyTorch: eta_t = eta_min + (eta_max - eta_min) * (1 + cos(pi * t / T_max)) / 2, here as a factor of eta_max.
        Schedule s = Schedule.Cosine(minFactor: 0.1f);
        for (int t = 0; t <= 40; t++)
            Assert.Equal(0.1 + 0.9 * (1 + Math.Cos(Math.PI * t / 40)) / 2, s.Factor(t, 40), 1e-6);
        Assert.Equal(0.55, s.Factor(20, 40), 1e-6);
    }

    [Fact]
    public void WarmupCosine_RampsLinearlyThenAnneals()
    {
        Schedule s = Schedule.WarmupCosine(warmupSteps: 10, minFactor: 0.2f);
        Assert.Equal(0.1, s.Factor(0, 110), 1e-7);   // first step already moves: 1/10
        Assert.Equal(0.5, s.Factor(4, 110), 1e-7);
        Assert.Equal(1.0, s.Factor(9, 110), 1e-7);   // last warm-up step reaches 1
        Assert.Equal(1.0, s.Factor(10, 110), 1e-7);  // cosine starts at 1
        Assert.Equal(0.6, s.Factor(60, 110), 1e-6);  // halfway through the 100 cosine steps: 0.2 + 0.8/2
        Assert.Equal(0.2, s.Factor(110, 110), 1e-7);
        for (int t = 1; t < 110; t++)
            Assert.True(t < 10 ? s.Factor(t, 110) > s.Factor(t - 1, 110) : s.Factor(t, 110) <= s.Factor(t - 1, 110), $"monotone at {t}");
    }

    [Fact]
    public void WarmupCosine_ZeroWarmup_EqualsCosine()
    {
        Schedule a = Schedule.WarmupCosine(0, 0.05f), b = Schedule.Cosine(0.05f);
        for (int t = 0; t <= 30; t++) Assert.Equal(b.Factor(t, 30), a.Factor(t, 30));
    }

    [Fact]
    public void WarmupCosine_WarmupLongerThanRun_OnlyWarmsUp()
    {
        Schedule s = Schedule.WarmupCosine(20);
        Assert.Equal(0.05, s.Factor(0, 10), 1e-7);
        Assert.Equal(0.5, s.Factor(9, 10), 1e-7);
    }

    [Fact]
    public void StepDecay_MatchesStepLR()
    {
        // StepLR(step_size=30, gamma=0.1): lr = base * gamma ** (epoch // step_size).
        Schedule s = Schedule.StepDecay(30);
        Assert.Equal(1f, s.Factor(0, 100));
        Assert.Equal(1f, s.Factor(29, 100));
        Assert.Equal(0.1, s.Factor(30, 100), 1e-7);
        Assert.Equal(0.01, s.Factor(60, 100), 1e-8);
        Assert.Equal(0.001, s.Factor(99, 100), 1e-9);
        Assert.Equal(0.25, Schedule.StepDecay(2, 0.5f).Factor(5, 10), 1e-7);
    }

    [Fact]
    public void Factories_InvalidArguments_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Cosine(-0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Cosine(1.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.WarmupCosine(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.StepDecay(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.StepDecay(10, -0.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Constant.Factor(-1, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Cosine().Factor(0, 0));
    }

    [Fact]
    public void ToString_DescribesSchedule()
    {
        Assert.Equal("Constant", Schedule.Constant.ToString());
        Assert.Equal("WarmupCosine(warmup: 100, min: 0.1)", Schedule.WarmupCosine(100, 0.1f).ToString());
        Assert.Equal("StepDecay(stepSize: 30, gamma: 0.1)", Schedule.StepDecay(30).ToString());
    }
}
