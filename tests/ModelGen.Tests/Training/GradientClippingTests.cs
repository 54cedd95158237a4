// Gradient clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_ restated in double precision.
using ModelGen;

namespace ModelGen.Tests.Training;

public class GradientClippingTests
{
    private static float[] RandomGradients(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var g = new float[n];
        for (int i = 0; i < n; i++) g[i] = (float)(2 * rng.NextDouble() - 1);
        return g;
    }

    private static double Norm(float[] g)
    {
        double sum = 0;
        foreach (float v in g) sum += (double)v * v;
        return Math.Sqrt(sum);
    }

    [Fact]
    public void ClipByGlobalNorm_EveryLengthAndLargeBuffers_MatchesTorch()
    {
        // torch: total = ||g||_2; coef = max_norm / (total + 1e-6); g *= clamp(coef, max=1); returns total.
        int[] lengths = [.. Enumerable.Range(1, 70), 4095, 4096, 4097, 100_003];
        foreach (int n in lengths)
        {
            float[] g = RandomGradients(n, (ulong)n);
            float[] original = (float[])g.Clone();
            double expectedNorm = Norm(original);
            double maxNorm = expectedNorm / 2;  // always clips

            float total = GradientClipping.ClipByGlobalNorm(g, (float)maxNorm);

            Assert.True(Math.Abs(total - expectedNorm) <= 1e-6 * expectedNorm, $"n={n}: norm {total} vs {expectedNorm}");
            double coefficient = (float)maxNorm / ((double)total + 1e-6);
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(g[i] - original[i] * coefficient) <= 1e-6 * Math.Abs(original[i]) + 1e-9, $"n={n}, g[{i}]");
            Assert.True(Math.Abs(Norm(g) - maxNorm) <= 1e-5 * maxNorm, $"n={n}: clipped norm {Norm(g)} vs max {maxNorm}");
        }
    }

    [Fact]
    public void ClipByGlobalNorm_BelowMax_LeavesGradientsAndReturnsNorm()
    {
        float[] g = [3f, 4f];
        float total = GradientClipping.ClipByGlobalNorm(g, 10f);
        Assert.Equal(5f, total);
        Assert.Equal([3f, 4f], g);
    }

    [Fact]
    public void ClipByGlobalNorm_ThreeFourFive_ScalesToMaxNorm()
    {
        float[] g = [3f, 4f, 0f];
        Assert.Equal(5f, GradientClipping.ClipByGlobalNorm(g, 1f));
        Assert.Equal(0.6, g[0], 1e-6);
        Assert.Equal(0.8, g[1], 1e-6);
        Assert.Equal(0f, g[2]);
    }

    [Fact]
    public void ClipByGlobalNorm_EmptyOrZero_ReturnsZeroAndNoNaN()
    {
        Assert.Equal(0f, GradientClipping.ClipByGlobalNorm(Span<float>.Empty, 1f));
        float[] zeros = new float[9];
        Assert.Equal(0f, GradientClipping.ClipByGlobalNorm(zeros, 0f));  // coef = 0/(0+1e-6) = 0: zeros stay zero
        Assert.All(zeros, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ClipByGlobalNorm_NonFiniteGradient_PropagatesLikePyTorch()
    {
        // error_if_nonfinite=False: an infinite norm gives coef 0 and inf * 0 = NaN.
        float[] g = [1f, float.PositiveInfinity, 2f];
        Assert.Equal(float.PositiveInfinity, GradientClipping.ClipByGlobalNorm(g, 1f));
        Assert.True(float.IsNaN(g[1]));
    }

    [Fact]
    public void ClipByValue_EveryLength_ClampsIntoRange()
    {
        for (int n = 0; n <= 70; n++)
        {
            float[] g = RandomGradients(n, 100 + (ulong)n);
            float[] original = (float[])g.Clone();
            GradientClipping.ClipByValue(g, 0.25f);
            for (int i = 0; i < n; i++)
                Assert.Equal(Math.Clamp(original[i], -0.25f, 0.25f), g[i]);
        }
    }

    [Fact]
    public void ClipByValue_NaN_StaysNaN()
    {
        float[] g = [float.NaN, 5f, -5f, float.NegativeInfinity, 0.1f];
        GradientClipping.ClipByValue(g, 1f);
        Assert.True(float.IsNaN(g[0]));
        Assert.Equal([1f, -1f, -1f, 0.1f], g[1..]);
    }

    [Fact]
    public void Clip_InvalidLimits_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByGlobalNorm(new float[3], -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByGlobalNorm(new float[3], float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByValue(new float[3], -0.5f));
    }
}
