// Convolution padding modes (PyTorch's padding_mode): every route forward against the double reference (which maps
// padding taps itself, independently of the fast path's padded copy), backward (dW, dBias, dInput) against central
// finite differences of that reference on odd, non-square sizes, the fused conv + max pool, PyTorch's values on tiny
// inputs, the size rules, and zero steady-state allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class ConvPaddingModeTests
{
    private static readonly ConvGeometry[] Shapes =
    [
        new(2, 5, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1),        // square kernel, padding 1
        new(3, 7, 6, 4, 3, 5, 1, 1, 2, 2, 1, 1, 1),        // non-square kernel, padding (2, 2)
        new(2, 6, 9, 4, 3, 3, 2, 1, 1, 3, 1, 2, 2),        // strides (2, 1), dilation (1, 2), groups, padding (1, 3)
        new(3, 3, 17, 3, 1, 3, 1, 1, 0, 1, 1, 1, 3),       // depthwise 1×3, height unpadded
        new(1, 4, 4, 2, 4, 4, 1, 1, 3, 3, 1, 1, 1),        // padding 3 on a 4 × 4 input (reflect's largest)
        ConvGeometry.Conv1D(3, 11, 5, kernel: 5, padding: 2),
    ];

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string mode in new[] { "Reflect", "Replicate", "Circular" })
            foreach (string path in new[] { "Auto", "Im2Col", "Scalar", "V128", "V256", "V512", "V256Lanes", "ScalarShifted" })
                data.Add(mode, path);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardBackward_EveryRoute_MatchesReferenceAndFiniteDifferences(string modeName, string pathName)
    {
        var mode = Enum.Parse<PaddingMode>(modeName);
        var path = Enum.Parse<ConvKernels.Path>(pathName);
        foreach (ConvGeometry shape in Shapes)
        {
            var g = shape with { PaddingMode = mode };
            // The lane path needs whole blocks of 8 examples; the others run 1 and 3.
            foreach (int batch in path == ConvKernels.Path.V256Lanes ? new[] { 9 } : new[] { 1, 3 })
                Check(path, g, batch, (ulong)(g.InputLength * 7 + batch + (int)mode));
        }
    }

    private static void Check(ConvKernels.Path path, ConvGeometry g, int batch, ulong seed)
    {
        int inLen = batch * g.InputLength, outLen = batch * g.OutputLength;
        float[] x = Uniform(inLen, seed), w = Uniform(g.WeightLength, seed + 1, -0.5f, 0.5f), b = Uniform(g.OutChannels, seed + 2);
        float[] dy = Uniform(outLen, seed + 3), y = new float[outLen], pre = new float[outLen];
        var tanh = new TanhActivation();
        ConvKernels.Forward(path, tanh, g, x, w, b, y, pre, batch);

        double[] xd = ToDouble(x), wd = ToDouble(w), bd = ToDouble(b), refPre = new double[outLen];
        ConvKernels.ReferenceForward(g, xd, wd, bd, refPre, batch);
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

        // loss = Σ dy · tanh(conv(x, w) + b), all in double.
        double[] dyd = ToDouble(dy);
        double Loss(double[] xs, double[] ws, double[] bs)
        {
            var o = new double[outLen];
            ConvKernels.ReferenceForward(g, xs, ws, bs, o, batch);
            double sum = 0;
            for (int i = 0; i < outLen; i++) sum += dyd[i] * Math.Tanh(o[i]);
            return sum;
        }
        FiniteDifference.Check(where, "dX", dX, null, xd, p => Loss(p, wd, bd), samples: 48);
        FiniteDifference.Check(where, "dW", dW, dW0, wd, p => Loss(xd, p, bd), samples: 24);
        FiniteDifference.Check(where, "dB", dB, dB0, bd, p => Loss(xd, wd, p), samples: 8);
    }

    [Theory]
    [InlineData("Reflect")]
    [InlineData("Replicate")]
    [InlineData("Circular")]
    public void ForwardMaxPool_PaddingMode_EqualsForwardThenPool(string modeName)
    {
        var g = new ConvGeometry(3, 9, 10, 4, 3, 5, 1, 1, 1, 2, 1, 1, 1, Enum.Parse<PaddingMode>(modeName));
        var pool = PoolGeometry.Pool2D(g.OutChannels, g.OutHeight, g.OutWidth, 2);
        const int batch = 3;
        float[] x = Uniform(batch * g.InputLength, 1), w = Uniform(g.WeightLength, 2, -0.5f, 0.5f), b = Uniform(g.OutChannels, 3);
        float[] conv = new float[batch * g.OutputLength], expected = new float[batch * pool.OutputLength], fused = new float[expected.Length];
        var relu = new ReluActivation();
        ConvKernels.Forward(relu, g, x, w, b, conv, default, batch);
        PoolingKernels.MaxForward(pool, conv, expected, default, batch);
        ConvKernels.ForwardMaxPool(relu, g, pool, x, w, b, fused, batch);
        Assert.Equal(expected, fused);
    }

    [Theory]
    // torch.nn.functional.conv1d(F.pad(torch.tensor([[[1., 2., 3., 4.]]]), (2, 2), mode), torch.ones(1, 1, 3)):
    [InlineData("Reflect", new float[] { 6, 5, 6, 9, 10, 9 })]       // padded 3 2 | 1 2 3 4 | 3 2
    [InlineData("Replicate", new float[] { 3, 4, 6, 9, 11, 12 })]    // padded 1 1 | 1 2 3 4 | 4 4
    [InlineData("Circular", new float[] { 8, 7, 6, 9, 8, 7 })]       // padded 3 4 | 1 2 3 4 | 1 2
    public void Forward_TinyInput_MatchesPyTorch(string modeName, float[] expected)
    {
        var g = ConvGeometry.Conv1D(1, 4, 1, kernel: 3, padding: 2) with { PaddingMode = Enum.Parse<PaddingMode>(modeName) };
        float[] y = new float[g.OutputLength];
        ConvKernels.Forward(new IdentityActivation(), g, [1, 2, 3, 4], [1, 1, 1], [], y, default, 1);
        Assert.Equal(expected, y);
    }

    [Theory]
    // Each input position's gradient counts how often the padded copy reads it (a ones kernel of width 3, dy = 1).
    [InlineData("Reflect", new float[] { 3, 6, 6, 3 })]      // reads of 3 2 1 2 3 4 3 2 by six windows of three
    [InlineData("Replicate", new float[] { 6, 3, 3, 6 })]
    [InlineData("Circular", new float[] { 5, 4, 4, 5 })]
    public void Backward_TinyInput_AccumulatesIntoSources(string modeName, float[] expected)
    {
        var g = ConvGeometry.Conv1D(1, 4, 1, kernel: 3, padding: 2) with { PaddingMode = Enum.Parse<PaddingMode>(modeName) };
        float[] dX = new float[4], dW = new float[3];
        ConvKernels.Backward(new IdentityActivation(), g, [1, 1, 1, 1, 1, 1], default, default, [1, 2, 3, 4], [1, 1, 1], default, dW, default, dX, 1);
        Assert.Equal(expected, dX);
    }

    [Theory]
    [InlineData("Reflect", 3, 3, "Reflect padding must be smaller than the input, but PadH × PadW is 3 × 1 for an input of 3 × 5.")]
    [InlineData("Circular", 4, 3, "Circular padding must not exceed the input, but PadH × PadW is 4 × 1 for an input of 3 × 5.")]
    public void Validate_PaddingTooLargeForMode_Throws(string modeName, int padH, int kernel, string message)
    {
        var g = new ConvGeometry(1, 3, 5, 1, kernel, 3, 1, 1, padH, 1, 1, 1, 1, Enum.Parse<PaddingMode>(modeName));
        var e = Assert.Throws<ArgumentException>(() => g.Validate("g"));
        Assert.Contains(message, e.Message);
        // Reflect may pad up to n − 1, circular and replicate up to n and beyond.
        (g with { PadH = 2 }).Validate("g");
        (g with { PaddingMode = PaddingMode.Replicate, PadH = 7 }).Validate("g");
    }

    [Fact]
    public void ForwardSequence_PaddingMode_Throws()
    {
        var g = ConvGeometry.Conv1D(2, 5, 2, kernel: 3, padding: 1) with { PaddingMode = PaddingMode.Reflect };
        var e = Assert.Throws<ArgumentException>(() => ConvKernels.ForwardSequence(new IdentityActivation(), g, new float[10], new float[g.WeightLength], [], new float[10], default, [5], 1, 5));
        Assert.Contains("pads with zeros", e.Message);
    }

    [Fact]
    public void ForwardBackward_SteadyState_AllocatesNothing()
    {
        var g = new ConvGeometry(3, 9, 10, 4, 3, 5, 1, 1, 1, 2, 1, 1, 1, PaddingMode.Reflect);
        const int batch = 4;
        float[] x = Uniform(batch * g.InputLength, 1), w = Uniform(g.WeightLength, 2), b = Uniform(g.OutChannels, 3);
        float[] y = new float[batch * g.OutputLength], pre = new float[y.Length], dy = Uniform(y.Length, 4), dPre = new float[y.Length];
        float[] dW = new float[w.Length], dB = new float[b.Length], dX = new float[x.Length];
        var tanh = new TanhActivation();
        void Step()
        {
            ConvKernels.Forward(tanh, g, x, w, b, y, pre, batch);
            ConvKernels.Backward(tanh, g, dy, pre, y, x, w, dPre, dW, dB, dX, batch);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, what: "reflect-padded conv forward + backward");
    }

    private static double[] ToDouble(float[] v) => Array.ConvertAll(v, f => (double)f);
}
