// Inverted dropout: identity at p = 0, scaled mask with mean ≈ 1, reproducible from the seed, backward uses the mask.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class DropoutTests
{
    [Fact]
    public void Forward_PZero_IsIdentityWithUnitMask()
    {
        float[] x = Uniform(37, 1), y = new float[37], mask = new float[37];
        Dropout.Forward(x, y, mask, 0f, new Rng(3));
        Assert.Equal(x, y);
        Assert.All(mask, v => Assert.Equal(1f, v));
    }

    [Fact]
    public void Forward_HalfProbability_MaskIsScaledAndHasMeanNearOne()
    {
        const int n = 100_000;
        float[] x = new float[n], y = new float[n], mask = new float[n];
        Array.Fill(x, 2f);
        Dropout.Forward(x, y, mask, 0.3f, new Rng(7));
        double mean = 0;
        int kept = 0;
        for (int i = 0; i < n; i++)
        {
            Assert.True(mask[i] == 0f || mask[i] == 1f / 0.7f, $"mask[{i}] = {mask[i]}");
            Assert.Equal(x[i] * mask[i], y[i]);
            mean += mask[i];
            if (mask[i] != 0f) kept++;
        }
        mean /= n;
        Assert.InRange(mean, 0.99, 1.01);
        Assert.InRange(kept / (double)n, 0.69, 0.71);
    }

    [Theory]
    [InlineData(0, 0.1f)]
    [InlineData(1, 0.5f)]
    [InlineData(17, 0.1f)]
    [InlineData(1000, 0.9f)]
    [InlineData(4099, 1e-7f)]          // below 2⁻²⁴: only u = 0 drops
    [InlineData(4099, 0.33333334f)]    // p·2²⁴ not an integer
    [InlineData(4099, 0.99999994f)]    // the largest float below 1
    public void Forward_DrawsOneNextFloatPerElementInOrder_AndLeavesTheGeneratorWhereTheyWould(int n, float p)
    {
        // The mask is defined by NextFloat (the documented contract); the generator must end where n calls would leave it.
        float[] x = Uniform(n, 5), y = new float[n], mask = new float[n];
        var rng = new Rng(99);
        var reference = new Rng(99);
        rng.NextUInt64();
        reference.NextUInt64();
        Dropout.Forward(x, y, mask, p, rng);
        float scale = 1f / (1f - p);
        for (int i = 0; i < n; i++)
        {
            float expected = reference.NextFloat() >= p ? scale : 0f;
            Assert.True(expected == mask[i], $"mask[{i}] = {mask[i]}, expected {expected}");
            Assert.Equal(x[i] * expected, y[i]);
        }
        Assert.Equal(reference.NextUInt64(), rng.NextUInt64());
    }

    [Fact]
    public void Forward_SameSeed_SameMask_DifferentSeed_DifferentMask()
    {
        float[] x = Uniform(257, 2), y = new float[257];
        float[] m1 = new float[257], m2 = new float[257], m3 = new float[257];
        Dropout.Forward(x, y, m1, 0.5f, new Rng(42));
        Dropout.Forward(x, y, m2, 0.5f, new Rng(42));
        Dropout.Forward(x, y, m3, 0.5f, new Rng(43));
        Assert.Equal(m1, m2);
        Assert.NotEqual(m1, m3);
    }

    [Fact]
    public void Backward_MultipliesByMask_AndAllowsAliasing()
    {
        float[] x = Uniform(71, 4), y = new float[71], mask = new float[71];
        Dropout.Forward(x, y, mask, 0.4f, new Rng(9));
        float[] dy = Uniform(71, 5), dx = new float[71];
        Dropout.Backward(dy, mask, dx);
        for (int i = 0; i < 71; i++) Assert.Equal(dy[i] * mask[i], dx[i]);
        Dropout.Backward(dy, mask, dy);
        Assert.Equal(dx, dy);
    }

    [Fact]
    public void Forward_PEqualOne_ZeroesEverything()
    {
        float[] x = Uniform(19, 6), y = new float[19], mask = new float[19];
        Dropout.Forward(x, y, mask, 1f, new Rng(1));
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void Forward_InvalidProbability_Throws(float p)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Forward(new float[3], new float[3], new float[3], p, new Rng(1)));
        Assert.Equal("p", ex.ParamName);
    }
}
