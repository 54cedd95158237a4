// Every convolution implementation forced in turn (the direct tiled path at each vector width, including widths the
// machine lacks, which the BCL emulates; the scalar one-lane path; and the im2col + GEMM baseline), each against double
// references of the forward and of all three gradients, for geometries that hit every case of the direct path:
// implicit stride 1 with padding and dilation, the "full"-convolution input gradient, its fallback when the padding
// exceeds the dilated kernel, im2col-fed strides, groups, row-tile remainders (O not a multiple of 6) and odd sizes
// that leave partial position tiles; and batches with whole blocks of examples for the lane-interleaved stride-1 path.
// The single-example stride-1 forward runs on both of its sources (wide grid, column-shifted copies) at every width.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class ConvPathsTests
{
    public static TheoryData<ConvGeometry> Geometries() => new(
        new ConvGeometry(1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1),      // LeNet conv1: implicit, 6-row tile exactly
        new ConvGeometry(6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1),     // LeNet conv2: no padding, rows 6 + 6 + 4
        new ConvGeometry(3, 9, 11, 13, 3, 3, 1, 1, 2, 1, 2, 1, 1),      // stride 1 with dilation 2 × 1, rows 6 + 6 + 1
        new ConvGeometry(3, 6, 5, 2, 2, 2, 1, 1, 3, 2, 1, 1, 1),        // padding beyond the kernel: dInput falls back to col2im
        new ConvGeometry(6, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6),        // depthwise, stride 1
        new ConvGeometry(4, 5, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1, 2),        // grouped pointwise
        new ConvGeometry(2, 9, 8, 5, 3, 2, 2, 3, 1, 1, 1, 1, 1),        // strides (im2col-fed), rectangular kernel
        new ConvGeometry(4, 11, 10, 6, 3, 3, 2, 1, 2, 1, 2, 3, 2),      // stride 2 × 1, dilation, groups
        new ConvGeometry(8, 13, 13, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1),      // ResNet-style downsampling, odd size
        new ConvGeometry(3, 7, 10, 5, 3, 5, 1, 1, 1, 2, 1, 1, 1),       // non-square kernel and padding, stride 1 (lanes, wide grid)
        new ConvGeometry(2, 9, 6, 4, 1, 3, 1, 1, 0, 1, 1, 2, 1),        // 1×3 kernel, padding and dilation along the width only
        new ConvGeometry(3, 5, 17, 4, 5, 1, 1, 1, 2, 0, 1, 1, 1),       // 5×1 kernel: tall, one tap wide
        ConvGeometry.Conv1D(3, 17, 5, kernel: 4, padding: 2, dilation: 2));

    // Path names (the enum is internal, and xunit theories must be public).
    // *Shifted forces the column-shifted forward source and *Wide the wide grid (the automatic choice picks by waste).
    public static TheoryData<string> Paths() => new("Im2Col", "Scalar", "V128", "V256", "V512",
        "ScalarShifted", "V128Shifted", "V256Shifted", "V512Shifted", "ScalarWide", "V128Wide", "V256Wide", "V512Wide");

    [Theory]
    [MemberData(nameof(Paths))]
    public void ForwardBackward_EveryPathAndGeometry_MatchesDoubleReferences(string pathName)
    {
        var path = Enum.Parse<ConvKernels.Path>(pathName);
        foreach (ConvGeometry g in Geometries())
            foreach (int batch in new[] { 1, 2 })
                Check(path, g, batch, seed: (ulong)(g.InputLength * 13 + g.WeightLength * 7 + batch));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Forward_SameInputsTwice_GivesIdenticalBits(string pathName)
    {
        var path = Enum.Parse<ConvKernels.Path>(pathName);
        // Scratch is reused between calls: a stale border or slack must not leak into the next result.
        var g = new ConvGeometry(3, 9, 11, 13, 3, 3, 1, 1, 2, 1, 2, 1, 1);
        float[] x = Uniform(2 * g.InputLength, 5), w = Uniform(g.WeightLength, 6), b = Uniform(g.OutChannels, 7);
        float[] y1 = new float[2 * g.OutputLength], y2 = new float[y1.Length], other = new float[y1.Length];
        ConvKernels.Forward(path, new ReluActivation(), g, x, w, b, y1, default, 2);
        var big = new ConvGeometry(3, 20, 20, 13, 3, 3, 1, 1, 0, 0, 1, 1, 1);   // dirties larger scratch in between
        float[] yBig = new float[big.OutputLength];
        ConvKernels.Forward(path, new ReluActivation(), big, Uniform(big.InputLength, 8, 5f, 9f), Uniform(big.WeightLength, 9), default, yBig, default, 1);
        ConvKernels.Forward(path, new ReluActivation(), g, x, w, b, y2, default, 2);
        Assert.Equal(y1, y2);
    }

    // Batches of two whole lane blocks plus a remainder: stride-1 layers take the lane-interleaved path for the blocks
    // (dW summed across blocks as vectors) and the single-example path for the rest; strided ones ignore it. The *Lanes
    // paths force it on every stride-1 geometry; plain V256 checks the automatic choice (by wide-grid waste) at 8 lanes.
    public static TheoryData<string, int> LanePaths() => new() { { "ScalarLanes", 1 }, { "V128Lanes", 4 }, { "V256Lanes", 8 }, { "V512Lanes", 16 }, { "V256", 8 } };

    [Theory]
    [MemberData(nameof(LanePaths))]
    public void ForwardBackward_WholeLaneBlocksPlusRemainder_MatchDoubleReferences(string pathName, int lanes)
    {
        var path = Enum.Parse<ConvKernels.Path>(pathName);
        foreach (ConvGeometry g in Geometries())
            Check(path, g, 2 * lanes + 3, seed: (ulong)(g.InputLength * 5 + g.WeightLength * 3 + lanes));
    }

    [Theory]
    [MemberData(nameof(LanePaths))]
    public void Backward_LaneBlocksTwice_GivesIdenticalBits(string pathName, int lanes)
    {
        var path = Enum.Parse<ConvKernels.Path>(pathName);
        // The vector dW sums and the padded dPre are scratch: a stale value from another geometry must not leak in.
        var g = new ConvGeometry(3, 9, 11, 13, 3, 3, 1, 1, 2, 1, 2, 1, 1);
        int batch = lanes + 1;
        float[] x = Uniform(batch * g.InputLength, 5), w = Uniform(g.WeightLength, 6), b = Uniform(g.OutChannels, 7);
        float[] y = new float[batch * g.OutputLength], pre = new float[y.Length], dy = Uniform(y.Length, 8), dPre = new float[y.Length];
        var relu = new ReluActivation();
        ConvKernels.Forward(path, relu, g, x, w, b, y, pre, batch);
        (float[] dW1, float[] dX1) = Run(g, x);
        var big = new ConvGeometry(3, 20, 20, 13, 3, 3, 1, 1, 2, 2, 1, 1, 1);   // dirties larger scratch in between
        float[] xBig = Uniform(batch * big.InputLength, 9, 5f, 9f), yBig = new float[batch * big.OutputLength];
        ConvKernels.Backward(path, new IdentityActivation(), big, Uniform(yBig.Length, 10, 3f, 4f), default, default, xBig,
            Uniform(big.WeightLength, 11), default, new float[big.WeightLength], default, new float[xBig.Length], batch);
        (float[] dW2, float[] dX2) = Run(g, x);
        Assert.Equal(dW1, dW2);
        Assert.Equal(dX1, dX2);

        (float[], float[]) Run(ConvGeometry geo, float[] input)
        {
            float[] dW = new float[geo.WeightLength], dX = new float[input.Length];
            ConvKernels.Backward(path, relu, geo, dy, pre, y, input, w, dPre, dW, default, dX, batch);
            return (dW, dX);
        }
    }

    private static void Check(ConvKernels.Path path, ConvGeometry g, int batch, ulong seed)
    {
        int inLen = batch * g.InputLength, outLen = batch * g.OutputLength;
        float[] x = Uniform(inLen, seed), w = Uniform(g.WeightLength, seed + 1, -0.5f, 0.5f), b = Uniform(g.OutChannels, seed + 2);
        float[] dy = Uniform(outLen, seed + 3);
        float[] y = new float[outLen], pre = new float[outLen];
        var tanh = new TanhActivation();
        ConvKernels.Forward(path, tanh, g, x, w, b, y, pre, batch);

        double[] refPre = new double[outLen];
        ConvKernels.ReferenceForward(g, ToDouble(x), ToDouble(w), ToDouble(b), refPre, batch);
        string where = $"{path} {g} batch={batch}";
        for (int i = 0; i < outLen; i++)
        {
            Assert.True(Math.Abs(pre[i] - refPre[i]) <= 1e-5 + 1e-5 * Math.Abs(refPre[i]), $"{where}: pre[{i}] = {pre[i]} vs {refPre[i]}");
            Assert.True(Math.Abs(y[i] - Math.Tanh(refPre[i])) <= 2e-5, $"{where}: y[{i}] = {y[i]} vs {Math.Tanh(refPre[i])}");
        }

        // dW and dB accumulate into non-zero buffers; dX is overwritten (NaN-filled to catch untouched entries).
        float[] dW0 = Uniform(g.WeightLength, seed + 4), dB0 = Uniform(g.OutChannels, seed + 5);
        float[] dW = (float[])dW0.Clone(), dB = (float[])dB0.Clone(), dX = new float[inLen], dPre = new float[outLen];
        Array.Fill(dX, float.NaN);
        ConvKernels.Backward(path, tanh, g, dy, pre, y, x, w, dPre, dW, dB, dX, batch);

        double[] g2 = new double[outLen];
        for (int i = 0; i < outLen; i++) g2[i] = dy[i] * (1 - (double)y[i] * y[i]);
        (double[] refDW, double[] refDB, double[] refDX) = ReferenceBackward(g, g2, ToDouble(x), ToDouble(w), batch);
        for (int i = 0; i < dW.Length; i++) AssertClose(dW0[i] + refDW[i], dW[i], $"{where}: dW[{i}]");
        for (int i = 0; i < dB.Length; i++) AssertClose(dB0[i] + refDB[i], dB[i], $"{where}: dB[{i}]");
        for (int i = 0; i < dX.Length; i++) AssertClose(refDX[i], dX[i], $"{where}: dX[{i}]");
    }

    private static void AssertClose(double expected, float actual, string what)
        => Assert.True(Math.Abs(actual - expected) <= 1e-4 + 1e-4 * Math.Abs(expected), $"{what} = {actual}, expected {expected}");

    /// <summary>The adjoint of ReferenceForward, tap by tap in double: every (output, tap) pair adds its two products.</summary>
    private static (double[] DW, double[] DB, double[] DX) ReferenceBackward(ConvGeometry g, double[] dPre, double[] x, double[] w, int batch)
    {
        double[] dW = new double[w.Length], dB = new double[g.OutChannels], dX = new double[x.Length];
        int cg = g.InChannels / g.Groups, og = g.OutChannels / g.Groups, oh = g.OutHeight, ow = g.OutWidth;
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int y = 0; y < oh; y++)
                    for (int xo = 0; xo < ow; xo++)
                    {
                        double d = dPre[((b * g.OutChannels + o) * oh + y) * ow + xo];
                        dB[o] += d;
                        for (int c = 0; c < cg; c++)
                            for (int i = 0; i < g.KernelH; i++)
                                for (int j = 0; j < g.KernelW; j++)
                                {
                                    int iy = y * g.StrideH - g.PadH + i * g.DilationH, ix = xo * g.StrideW - g.PadW + j * g.DilationW;
                                    if (iy < 0 || iy >= g.InHeight || ix < 0 || ix >= g.InWidth) continue;
                                    int xi = ((b * g.InChannels + o / og * cg + c) * g.InHeight + iy) * g.InWidth + ix;
                                    int wi = ((o * cg + c) * g.KernelH + i) * g.KernelW + j;
                                    dW[wi] += d * x[xi];
                                    dX[xi] += d * w[wi];
                                }
                    }
        return (dW, dB, dX);
    }

    private static double[] ToDouble(float[] v) => Array.ConvertAll(v, f => (double)f);
}
