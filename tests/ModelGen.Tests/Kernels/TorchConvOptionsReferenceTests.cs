// libtorch 2.10 (TorchSharp-cpu 0.107.0, float32) values for issue 15's convolution and pooling options, read from the
// fixture Fixtures/conv-options-libtorch.bin that `tools/reference/conv-check --options` wrote (inputs included, so
// nothing here depends on libtorch's RNG): non-square kernel/stride/padding/dilation tuples, every padding_mode (run as
// nn.Conv2d runs them: F.pad, then conv with padding 0), avg_pool2d with ceil_mode, count_include_pad=False and
// divisor_override, avg_pool1d without padding counted, max_pool2d with tuples. loss = Σ y ⊙ lw. Forward within 1e-5 and
// gradients within 1e-4 relative to max(1, |value|), on several conv routes.
using ModelGen.Kernels;
using Xunit.Abstractions;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class TorchConvOptionsReferenceTests(ITestOutputHelper output)
{
    private const double ForwardTolerance = 1e-5, GradientTolerance = 1e-4;
    private static readonly LibtorchFixture Fixture = new("conv-options-libtorch.bin");

    public static TheoryData<string, string> Convs()
    {
        var data = new TheoryData<string, string>();
        foreach (string name in new[] { "conv_nonsquare", "conv_reflect", "conv_replicate", "conv_circular", "conv1d_reflect", "conv1d_circular" })
            foreach (string path in new[] { "Auto", "Im2Col", "Scalar", "V256" })
                data.Add(name, path);
        return data;
    }

    [Theory]
    [MemberData(nameof(Convs))]
    public void Conv_MatchesLibtorch(string name, string pathName)
    {
        int[] c = Fixture.Ints($"{name}.config");   // batch, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, groups·16 + mode
        var g = new ConvGeometry(c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13] / 16, (PaddingMode)(c[13] % 16));
        int batch = c[0];
        var path = Enum.Parse<ConvKernels.Path>(pathName);
        float[] x = Fixture.Floats($"{name}.x"), w = Fixture.Floats($"{name}.w"), b = Fixture.Floats($"{name}.b"), lw = Fixture.Floats($"{name}.lw");
        float[] y = new float[batch * g.OutputLength], dW = new float[w.Length], dB = new float[b.Length], dX = new float[x.Length];
        var identity = new IdentityActivation();
        ConvKernels.Forward(path, identity, g, x, w, b, y, default, batch);
        ConvKernels.Backward(path, identity, g, lw, default, default, x, w, default, dW, dB, dX, batch);
        double worst = 0;
        worst = Math.Max(worst, AssertClose(Fixture.Floats($"{name}.y"), y, ForwardTolerance, $"{name} {path} y"));
        worst = Math.Max(worst, AssertClose(Fixture.Floats($"{name}.dx"), dX, GradientTolerance, $"{name} {path} dx"));
        worst = Math.Max(worst, AssertClose(Fixture.Floats($"{name}.dw"), dW, GradientTolerance, $"{name} {path} dw"));
        worst = Math.Max(worst, AssertClose(Fixture.Floats($"{name}.db"), dB, GradientTolerance, $"{name} {path} db"));
        output.WriteLine($"{name} {path} {g}: largest relative difference from libtorch {worst:E2}");
    }

    [Theory]
    [InlineData("avg_nonsquare_exclude_pad_ceil")]
    [InlineData("avg_divisor_override")]
    [InlineData("avg_include_pad_nonsquare")]
    [InlineData("avg1d_exclude_pad")]
    [InlineData("max_nonsquare")]
    public void Pool_MatchesLibtorch(string name)
    {
        int[] c = Fixture.Ints($"{name}.config");   // batch, C, H, W, kh, kw, sh, sw, ph, pw, ceil, count_include_pad, divisor_override, max
        var g = new PoolGeometry(c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10] != 0, c[11] != 0, c[12]);
        int batch = c[0];
        float[] x = Fixture.Floats($"{name}.x"), lw = Fixture.Floats($"{name}.lw");
        float[] y = new float[batch * g.OutputLength], dX = new float[x.Length];
        Assert.Equal(Fixture.Floats($"{name}.y").Length, y.Length);   // the output sizes agree before any value does
        if (c[13] != 0)
        {
            int[] argmax = new int[y.Length];
            PoolingKernels.MaxForward(g, x, y, argmax, batch);
            PoolingKernels.MaxBackward(g, lw, argmax, dX, batch);
        }
        else
        {
            PoolingKernels.AvgForward(g, x, y, batch);
            PoolingKernels.AvgBackward(g, lw, dX, batch);
        }
        double worst = Math.Max(AssertClose(Fixture.Floats($"{name}.y"), y, ForwardTolerance, $"{name} y"),
            AssertClose(Fixture.Floats($"{name}.dx"), dX, GradientTolerance, $"{name} dx"));
        output.WriteLine($"{name} {g}: largest relative difference from libtorch {worst:E2}");
    }

    /// <summary>Asserts every element within <paramref name="tolerance"/> relative to max(1, |libtorch|); returns the largest such difference.</summary>
    private static double AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i]));
            Assert.True(diff <= tolerance, $"{what}[{i}]: libtorch {expected[i]:R}, ModelGen {actual[i]:R} (relative difference {diff:E2} > {tolerance:E0})");
            worst = Math.Max(worst, diff);
        }
        return worst;
    }
}
