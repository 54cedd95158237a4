// Initialisation: bounds, mean and variance over 100k draws against PyTorch's formulas, draw order and determinism.
using ModelGen;

namespace ModelGen.Tests.Training;

public class InitializerTests
{
    private const int FanIn = 250, FanOut = 400;  // weight [400, 250]: 100k draws

    private static (double Mean, double Variance, double MaxAbs) Statistics(ReadOnlySpan<float> values)
    {
        double sum = 0, sumSq = 0, maxAbs = 0;
        foreach (float v in values)
        {
            sum += v;
            sumSq += (double)v * v;
            maxAbs = Math.Max(maxAbs, Math.Abs(v));
        }
        double mean = sum / values.Length;
        return (mean, sumSq / values.Length - mean * mean, maxAbs);
    }

    public static TheoryData<Init, double, bool> Schemes => new()
    {
        // init, bound (uniform) or std (normal), isUniform
        { Init.Default, 1 / Math.Sqrt(FanIn), true },                      // kaiming_uniform_(a=sqrt(5)): gain sqrt(1/3) * sqrt(3/fan_in)
        { Init.HeUniform, Math.Sqrt(6.0 / FanIn), true },                  // gain sqrt(2) * sqrt(3/fan_in)
        { Init.XavierUniform, Math.Sqrt(6.0 / (FanIn + FanOut)), true },
        { Init.HeNormal, Math.Sqrt(2.0 / FanIn), false },
        { Init.XavierNormal, Math.Sqrt(2.0 / (FanIn + FanOut)), false },
    };

    [Theory]
    [MemberData(nameof(Schemes))]
    public void Initialize_100kDraws_MatchPyTorchDistribution(Init init, double scale, bool uniform)
    {
        var weight = new float[FanIn * FanOut];
        var bias = new float[FanOut];
        bias.AsSpan().Fill(7f);  // must be overwritten
        Initializers.Initialize(weight, bias, FanIn, FanOut, init, new Rng(42));

        var (mean, variance, maxAbs) = Statistics(weight);
        double expectedVariance = uniform ? scale * scale / 3 : scale * scale;
        double std = Math.Sqrt(expectedVariance);
        // The mean of 100k draws has standard error std/316; 5 standard errors is a safe, still tight bound.
        Assert.True(Math.Abs(mean) < 5 * std / Math.Sqrt(weight.Length), $"{init}: mean {mean}");
        Assert.True(Math.Abs(variance / expectedVariance - 1) < 0.02, $"{init}: variance {variance} vs {expectedVariance}");
        if (uniform)
        {
            Assert.True(maxAbs <= scale, $"{init}: |w| {maxAbs} exceeds bound {scale}");
            Assert.True(maxAbs > 0.999 * scale, $"{init}: |w| max {maxAbs} does not reach the bound {scale}");
        }
        else
        {
            Assert.True(maxAbs > 3.5 * scale && maxAbs < 6 * scale, $"{init}: max |w| {maxAbs} is not normal-tailed for std {scale}");
        }

        if (init == Init.Default)
        {
            var (_, _, biasMax) = Statistics(bias);
            Assert.True(biasMax <= scale && biasMax > 0.5 * scale, $"bias max {biasMax}, bound {scale}");
        }
        else
        {
            Assert.All(bias, b => Assert.Equal(0f, b));
        }
    }

    [Fact]
    public void Initialize_Zeros_ClearsEverything()
    {
        float[] w = [1f, 2f, 3f, 4f], b = [5f, 6f];
        Initializers.Initialize(w, b, 2, 2, Init.Zeros, new Rng(1));
        Assert.All(w, v => Assert.Equal(0f, v));
        Assert.All(b, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Initialize_SameSeed_SameWeights_DifferentSeed_Different()
    {
        float[] Draw(ulong seed)
        {
            var w = new float[30];
            var b = new float[5];
            Initializers.Initialize(w, b, 6, 5, Init.Default, new Rng(seed));
            return [.. w, .. b];
        }
        Assert.Equal(Draw(3), Draw(3));
        Assert.NotEqual(Draw(3), Draw(4));
    }

    [Fact]
    public void Initialize_Default_DrawsWeightThenBiasFromRng()
    {
        // The fixed order is part of reproducibility: weight elements first, then bias, from the same stream.
        var w = new float[6];
        var b = new float[2];
        Initializers.Initialize(w, b, 3, 2, Init.Default, new Rng(9));
        var rng = new Rng(9);
        double bound = 1 / Math.Sqrt(3);
        foreach (float v in w) Assert.Equal((float)(bound * (2 * rng.NextDouble() - 1)), v);
        foreach (float v in b) Assert.Equal((float)(bound * (2 * rng.NextDouble() - 1)), v);
    }

    [Fact]
    public void Initialize_ConvolutionLayout_UsesFanInPerOutputChannel()
    {
        // Conv2d(4 -> 8, k=3, groups=2): weight [8, 2, 3, 3], fan_in = 2*9 = 18, fan_out = 8*9 = 72, bias [8].
        var w = new float[8 * 2 * 3 * 3];
        var b = new float[8];
        Initializers.Initialize(w, b, 18, 72, Init.Default, new Rng(5));
        double bound = 1 / Math.Sqrt(18);
        Assert.All(w, v => Assert.True(Math.Abs(v) <= bound));
        Assert.All(b, v => Assert.True(Math.Abs(v) <= bound));
    }

    [Fact]
    public void Initialize_EmptyBias_IsAllowed()
    {
        var w = new float[12];
        Initializers.Initialize(w, Span<float>.Empty, 4, 3, Init.HeNormal, new Rng(1));
        Assert.Contains(w, v => v != 0);
    }

    [Fact]
    public void Initialize_BadArguments_Throw()
    {
        var rng = new Rng(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => Initializers.Initialize(new float[4], new float[2], 0, 2, Init.Default, rng));
        Assert.Throws<ArgumentOutOfRangeException>(() => Initializers.Initialize(new float[4], new float[2], 2, 0, Init.Default, rng));
        Assert.Throws<ArgumentOutOfRangeException>(() => Initializers.Initialize(new float[4], new float[2], 2, 2, (Init)99, rng));
        Assert.Throws<ArgumentNullException>(() => Initializers.Initialize(new float[4], new float[2], 2, 2, Init.Default, null!));
        var weight = Assert.Throws<ArgumentException>(() => Initializers.Initialize(new float[5], new float[2], 2, 2, Init.Default, rng));
        Assert.Contains("Weight length 5", weight.Message);
        var bias = Assert.Throws<ArgumentException>(() => Initializers.Initialize(new float[4], new float[3], 2, 2, Init.Default, rng));
        Assert.Contains("must be 2", bias.Message);
        Assert.Contains("was 3", bias.Message);
    }
}
