// VectorMath.NormalCdfPiecewise (exact GELU's forward Φ: a polynomial per interval picked by a permute) against float64 at the
// scalar, 128-, 256- and 512-bit widths, with every lane of a vector on a different point (so lanes take different intervals), and
// GeluActivation's forward at every width.
using System.Runtime.Intrinsics;
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class NormalCdfPiecewiseTests
{
    /// <summary>[−10, 10] step 1e-4 (every interval boundary ±, both sides of the u = 6 cut), then extremes; a multiple of 16 long.</summary>
    private static float[] Grid()
    {
        var xs = new List<float>();
        for (int i = -100_000; i <= 100_000; i++) xs.Add(i * 1e-4f);
        for (int k = 0; k <= 16; k++)
        {
            float b = k * 6f / 16f;   // the 16-interval boundaries (the 8-interval ones are among them)
            foreach (float x in new[] { b, -b }) xs.AddRange([x, MathF.BitDecrement(x), MathF.BitIncrement(x)]);
        }
        xs.AddRange([-1e30f, -1e4f, -40f, -13.5f, -6.0001f, 6.0001f, 13.5f, 40f, 1e4f, 1e30f, 1e-30f, -1e-30f, 0f, -0f]);
        while (xs.Count % 16 != 0) xs.Add(0.123f);
        return [.. xs];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    public void Phi_WithinDocumentedError(int width)
    {
        float[] x = Grid(), phi = Eval(width, x);
        double worst = 0;
        float at = 0;
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(phi[i] >= 0f && phi[i] <= 1f, $"width {width}: Φ({x[i]}) = {phi[i]} outside [0, 1]");
            double err = Math.Abs(phi[i] - KernelTestUtil.Phi(x[i]));
            if (err > worst) (worst, at) = (err, x[i]);
        }
        // Measured (tools/gelu-tables, float evaluation with FMA): 6.3e-8.
        Assert.True(worst <= 1e-7, $"width {width}: max |Φ − Φ_float64| = {worst:E2} at x = {at}, expected ≤ 1e-7");
    }

    [Fact]
    public void Phi_IsBitIdenticalAcrossWidths()
    {
        // Same tables, same operations at every width: the dense routes, which end rows on different widths, rely on it. Only
        // where FMA is fused at every width (x86 with FMA); elsewhere the scalar and vector multiply-adds may round differently.
        if (!System.Runtime.Intrinsics.X86.Fma.IsSupported) return;
        float[] x = Grid(), scalar = Eval(1, x);
        foreach (int width in new[] { 128, 256, 512 })
        {
            float[] y = Eval(width, x);
            for (int i = 0; i < x.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(y[i]) == BitConverter.SingleToInt32Bits(scalar[i]),
                    $"Φ({x[i]:R}) = {y[i]:R} at {width} bits but {scalar[i]:R} in scalar code");
        }
    }

    [Fact]
    public void Gelu_IsBitIdenticalAcrossWidths_AndExactlyXTimesQBelowZero()
    {
        // GELU is relu(x) + n·Q(|x|) in one FMA with n = −|x|: the same operations at every width (the prepacked dense tiles
        // finish GELU in 512-bit registers while the rows' tails take narrower ones); below zero it is x·Φ(x) rounded once.
        if (!System.Runtime.Intrinsics.X86.Fma.IsSupported) return;
        float[] x = Grid(), scalar = GeluAt(1, x), phi = Eval(1, x);
        foreach (int width in new[] { 128, 256, 512 })
        {
            float[] y = GeluAt(width, x);
            for (int i = 0; i < x.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(y[i]) == BitConverter.SingleToInt32Bits(scalar[i]),
                    $"gelu({x[i]:R}) = {y[i]:R} at {width} bits but {scalar[i]:R} in scalar code");
        }
        for (int i = 0; i < x.Length; i++)
            if (x[i] < 0f && x[i] > -6f)
                Assert.True(scalar[i] == x[i] * phi[i], $"gelu({x[i]:R}) = {scalar[i]:R}, expected x·Φ(x) = {x[i] * phi[i]:R}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    public void Gelu_Forward_MatchesFloat64_AndSaturates(int width)
    {
        float[] x = Grid(), y = GeluAt(width, x);
        for (int i = 0; i < x.Length; i++)
        {
            double expected = x[i] * KernelTestUtil.Phi(x[i]);
            // Φ's error (≤ 1e-7) times |x|, plus the rounding of the product.
            double tol = 1e-7 * Math.Abs(x[i]) + 6e-8 * Math.Abs(expected) + 1e-30;
            Assert.True(Math.Abs(y[i] - expected) <= tol, $"width {width}: gelu({x[i]}) = {y[i]}, expected {expected} ± {tol:E1}");
        }
        float[] ends = GeluAt(width, [-1e30f, -30f, -7f, 30f, 1e30f, float.NaN, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f]);
        Assert.Equal(0f, ends[0]);
        Assert.Equal(0f, ends[1]);
        Assert.True(ends[2] <= 0f && ends[2] > -1e-8f, $"width {width}: gelu(-7) = {ends[2]}, expected in (−1e-8, 0]");
        Assert.Equal(30f, ends[3]);
        Assert.Equal(1e30f, ends[4]);
        Assert.True(float.IsNaN(ends[5]), $"width {width}: gelu(NaN) = {ends[5]}, expected NaN");
    }

    private static float[] Eval(int width, float[] x)
    {
        float[] y = new float[x.Length];
        for (int i = 0; i < x.Length; i += 16)
            for (int j = 0; j < 16; j += width == 1 ? 1 : width / 32)
            {
                int at = i + j;
                if (width == 512) VectorMath.NormalCdfPiecewise(Vector512.Create(x, at)).CopyTo(y, at);
                else if (width == 256) VectorMath.NormalCdfPiecewise(Vector256.Create(x, at)).CopyTo(y, at);
                else if (width == 128) VectorMath.NormalCdfPiecewise(Vector128.Create(x, at)).CopyTo(y, at);
                else y[at] = VectorMath.NormalCdfPiecewise(x[at]);
            }
        return y;
    }

    private static float[] GeluAt(int width, float[] x)
    {
        var gelu = new GeluActivation();
        float[] y = new float[x.Length];
        int step = width / 32 is 0 ? 1 : width / 32;
        for (int i = 0; i < x.Length; i += step)
        {
            if (width == 512) gelu.Invoke(Vector512.Create(x, i)).CopyTo(y, i);
            else if (width == 256) gelu.Invoke(Vector256.Create(x, i)).CopyTo(y, i);
            else if (width == 128) gelu.Invoke(Vector128.Create(x, i)).CopyTo(y, i);
            else y[i] = gelu.Invoke(x[i]);
        }
        return y;
    }
}
