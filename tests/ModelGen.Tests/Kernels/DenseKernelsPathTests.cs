// The dense forward's two GEMM routes: the unpacked dot path with its blockwise fused epilogue (batch ≤ 96) and the
// packed GEMM followed by a row epilogue (larger batches). Both must match a float64 reference, with and without
// bias and pre-activation, including a shape whose columns span several L2 chunks of the dot path (so the
// epilogue sees blocks that start mid-row and must index the bias from there).
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class DenseKernelsPathTests
{
    [Theory]
    [InlineData(5, 800, 150)]    // dot path: 800 inputs give 72-column chunks, so 150 outputs span three
    [InlineData(96, 400, 120)]   // the largest batch on the dot path (at every width)
    [InlineData(96, 40, 70)]     // a short reduction: packed at every accelerated width
    [InlineData(97, 40, 70)]     // the smallest batch always on the packed path
    [InlineData(130, 33, 67)]
    public void Forward_DotAndPackedRoutes_MatchReference(int batch, int inF, int outF)
    {
        Assert.Equal(batch <= Gemm.DotMaxRows && (inF != 40 || Gemm.NativeWidth == 0), Gemm.PreferDot(batch, inF, outF));
        float[] x = Uniform(batch * inF, 1), w = Uniform(outF * inF, 2, -0.5f, 0.5f), b = Uniform(outF, 3);
        foreach (bool withBias in new[] { true, false })
            foreach (bool keepPre in new[] { true, false })
            {
                float[] bias = withBias ? b : [];
                float[] y = new float[batch * outF], pre = keepPre ? new float[batch * outF] : [];
                DenseKernels.Forward(new GeluActivation(), x, w, bias, y, pre, batch, inF, outF);
                for (int r = 0; r < batch; r++)
                    for (int o = 0; o < outF; o++)
                    {
                        double z = withBias ? b[o] : 0;
                        for (int i = 0; i < inF; i++) z += (double)x[r * inF + i] * w[o * inF + i];
                        double expected = Reference("Gelu", z);
                        string where = $"batch={batch} in={inF} out={outF} bias={withBias} pre={keepPre} [{r},{o}]";
                        double tol = 1e-6 + 3e-7 * inF;
                        Assert.True(Math.Abs(y[r * outF + o] - expected) <= tol + 1e-5 * Math.Abs(expected), $"{where}: y = {y[r * outF + o]} vs {expected}");
                        if (keepPre) Assert.True(Math.Abs(pre[r * outF + o] - z) <= tol, $"{where}: pre = {pre[r * outF + o]} vs {z}");
                    }
            }
    }

    [Fact]
    public void Forward_PreActivationOverlappingInput_ThrowsNamingBoth()
    {
        float[] buffer = new float[64];
        float[] w = new float[4 * 4];
        var ex = Assert.Throws<ArgumentException>(() =>
            DenseKernels.Forward(new ReluActivation(), buffer.AsSpan(0, 8), w, [], new float[8], buffer.AsSpan(4, 8), 2, 4, 4));
        Assert.Equal("preActivation", ex.ParamName);
        Assert.Contains("input", ex.Message);
    }
}
