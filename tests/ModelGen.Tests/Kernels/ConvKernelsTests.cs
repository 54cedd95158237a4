// Convolution kernels: the double reference against hand-computed values; the fast path (im2col + GEMM, pointwise
// shortcut, grouped and depthwise) against the reference for odd sizes, strides, paddings, dilations, groups and
// batch 1/3; backward against float64 central differences of loss = Σ dOutput ⊙ act(conv(x; W, b)); every fused
// activation; accumulate/overwrite semantics; zero steady-state allocation; geometry validation messages.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class ConvKernelsTests
{
    // (C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, G): each row exercises a different im2col/col2im case.
    public static TheoryData<ConvGeometry> Geometries() => new(
        new ConvGeometry(1, 5, 5, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1),        // plain valid conv
        new ConvGeometry(3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1),        // "same" padding, odd sizes
        new ConvGeometry(2, 9, 8, 5, 3, 2, 2, 3, 1, 1, 1, 1, 1),        // strides, rectangular kernel
        new ConvGeometry(4, 11, 10, 6, 3, 3, 2, 1, 2, 1, 2, 3, 2),      // dilation + groups + uneven padding
        new ConvGeometry(3, 6, 5, 2, 2, 2, 1, 1, 3, 2, 1, 1, 1),        // padding larger than the kernel
        new ConvGeometry(6, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6),        // depthwise
        new ConvGeometry(3, 6, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 3),        // depthwise, channel multiplier 2, stride 2
        new ConvGeometry(5, 6, 7, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1),        // pointwise (no im2col)
        new ConvGeometry(4, 5, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1, 2),        // grouped pointwise
        new ConvGeometry(3, 9, 9, 4, 1, 1, 2, 2, 0, 0, 1, 1, 1),        // 1×1 with stride (im2col path)
        ConvGeometry.Conv1D(3, 17, 5, kernel: 4, stride: 2, padding: 2, dilation: 2),
        ConvGeometry.Conv1D(4, 13, 4, kernel: 3, padding: 1, groups: 4),
        new ConvGeometry(1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1),      // LeNet conv1 (packed GEMM path)
        new ConvGeometry(6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1));    // LeNet conv2

    [Fact]
    public void ReferenceForward_HandComputed_MatchesPyTorch()
    {
        // torch.nn.functional.conv2d(torch.arange(1., 10.).view(1,1,3,3), torch.ones(1,1,2,2), torch.tensor([0.5]))
        //   -> [[12.5, 16.5], [24.5, 28.5]]
        double[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9], y = new double[4];
        ConvKernels.ReferenceForward(ConvGeometry.Conv2D(1, 3, 3, 1, 2), x, [1, 1, 1, 1], [0.5], y, 1);
        Assert.Equal([12.5, 16.5, 24.5, 28.5], y);

        // conv2d(x, torch.ones(1,1,3,3), stride=2, padding=1) -> [[12, 16], [24, 28]] (each output sees one 2×2 corner).
        var g = ConvGeometry.Conv2D(1, 3, 3, 1, 3, stride: 2, padding: 1);
        ConvKernels.ReferenceForward(g, x, [1, 1, 1, 1, 1, 1, 1, 1, 1], [], y, 1);
        Assert.Equal([12.0, 16, 24, 28], y);

        // conv2d(x, torch.ones(1,1,2,2), dilation=2) -> [[1 + 3 + 7 + 9]] = [[20]].
        double[] one = new double[1];
        ConvKernels.ReferenceForward(new ConvGeometry(1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 2, 2, 1), x, [1, 1, 1, 1], [], one, 1);
        Assert.Equal([20.0], one);
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void ForwardBackward_Geometry_MatchesReferenceAndFiniteDifferences(ConvGeometry g)
    {
        foreach (int batch in new[] { 1, 3 })
            foreach (bool withBias in new[] { true, false })
                CheckLayer(g, batch, withBias, "Tanh", seed: (ulong)(g.InputLength * 31 + g.WeightLength) + (ulong)batch * 7 + (withBias ? 1UL : 0UL));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ForwardBackward_EveryActivation_MatchesReferenceAndFiniteDifferences(string act)
    {
        var g = new ConvGeometry(3, 8, 7, 5, 3, 3, 2, 1, 1, 1, 1, 1, 1);
        CheckLayer(g, 3, withBias: true, act, seed: 77);
    }

    public static TheoryData<string> Names() => new(ActivationNames);

    /// <summary>Forward vs the double reference (+ activation), then all three gradients vs central differences.</summary>
    private static void CheckLayer(ConvGeometry g, int batch, bool withBias, string act, ulong seed)
    {
        int inLen = batch * g.InputLength, outLen = batch * g.OutputLength;
        float[] x = Uniform(inLen, seed), w = Uniform(g.WeightLength, seed + 1, -0.5f, 0.5f);
        float[] b = withBias ? Uniform(g.OutChannels, seed + 2) : [];
        float[] dy = Uniform(outLen, seed + 3);
        float[] y = new float[outLen], pre = new float[outLen], yInference = new float[outLen];
        Conv.Forward(act, g, x, w, b, y, pre, batch);
        Conv.Forward(act, g, x, w, b, yInference, [], batch);
        Assert.Equal(y, yInference);

        double[] xd = ToDouble(x), wd = ToDouble(w), bd = ToDouble(b), dyd = ToDouble(dy);
        double[] refPre = new double[outLen];
        ConvKernels.ReferenceForward(g, xd, wd, bd, refPre, batch);
        string where = $"{g} batch={batch} bias={withBias} act={act}";
        for (int i = 0; i < outLen; i++)
        {
            Assert.True(Math.Abs(pre[i] - refPre[i]) <= 1e-5 + 1e-5 * Math.Abs(refPre[i]), $"{where}: pre[{i}] = {pre[i]} vs {refPre[i]}");
            double expected = Reference(act, refPre[i]);
            Assert.True(Math.Abs(y[i] - expected) <= 2e-5 + 1e-5 * Math.Abs(expected), $"{where}: y[{i}] = {y[i]} vs {expected}");
        }

        // Gradient buffers start non-zero to check accumulation (dW, dB) and overwrite (dX).
        float[] dW0 = Uniform(g.WeightLength, seed + 4), dB0 = withBias ? Uniform(g.OutChannels, seed + 5) : [];
        float[] dW = (float[])dW0.Clone(), dB = (float[])dB0.Clone(), dX = new float[inLen], dPre = new float[outLen];
        Array.Fill(dX, float.NaN);
        Conv.Backward(act, g, dy, pre, y, x, w, dPre, dW, dB, dX, batch);

        double Loss(double[] xp, double[] wp, double[] bp)
        {
            var o = new double[outLen];
            ConvKernels.ReferenceForward(g, xp, wp, bp, o, batch);
            double loss = 0;
            for (int i = 0; i < outLen; i++) loss += dyd[i] * Reference(act, o[i]);
            return loss;
        }
        // ReLU-family kinks make finite differences unreliable next to 0; their masks are checked exactly below.
        if (!HasKinkAtZero(act))
        {
            FiniteDifference.Check(where, "dW", dW, dW0, wd, p => Loss(xd, p, bd));
            if (withBias) FiniteDifference.Check(where, "dB", dB, dB0, bd, p => Loss(xd, wd, p));
            FiniteDifference.Check(where, "dX", dX, null, xd, p => Loss(p, wd, bd));
        }
        else
        {
            // act'(pre) masks dOutput; the identity backward of the masked gradient must match bit for bit.
            float[] masked = new float[outLen];
            for (int i = 0; i < outLen; i++) masked[i] = dy[i] * (float)ReferenceDerivativeAwayFromKink(act, pre[i]);
            float[] dW2 = (float[])dW0.Clone(), dB2 = (float[])dB0.Clone(), dX2 = new float[inLen];
            ConvKernels.Backward(new IdentityActivation(), g, masked, [], [], x, w, [], dW2, dB2, dX2, batch);
            Assert.Equal(dW2, dW);
            Assert.Equal(dB2, dB);
            Assert.Equal(dX2, dX);
        }

        // Skipping dInput and dBias leaves dWeight unchanged.
        float[] dW3 = (float[])dW0.Clone();
        Conv.Backward(act, g, dy, pre, y, x, w, dPre, dW3, [], [], batch);
        Assert.Equal(dW, dW3);
    }

    private static double ReferenceDerivativeAwayFromKink(string act, double x)
        => act == "Relu" ? (x > 0 ? 1 : 0) : (x > 0 ? 1 : LeakySlope);

    [Fact]
    public void Backward_IdentityWithoutScratch_UsesDOutputDirectly()
    {
        var g = new ConvGeometry(2, 6, 5, 3, 3, 3, 1, 2, 1, 1, 1, 1, 1);
        const int batch = 3;
        float[] x = Uniform(batch * g.InputLength, 1), w = Uniform(g.WeightLength, 2), dy = Uniform(batch * g.OutputLength, 3);
        float[] dW1 = new float[g.WeightLength], dB1 = new float[3], dX1 = new float[batch * g.InputLength];
        float[] dW2 = new float[g.WeightLength], dB2 = new float[3], dX2 = new float[batch * g.InputLength], dPre = new float[batch * g.OutputLength];
        var id = new IdentityActivation();
        ConvKernels.Backward(id, g, dy, [], [], x, w, [], dW1, dB1, dX1, batch);
        ConvKernels.Backward(id, g, dy, [], [], x, w, dPre, dW2, dB2, dX2, batch);
        Assert.Equal(dW1, dW2);
        Assert.Equal(dB1, dB2);
        Assert.Equal(dX1, dX2);
    }

    [Fact]
    public void Forward_BatchZero_WritesNothing()
    {
        var g = ConvGeometry.Conv2D(2, 5, 5, 3, 3);
        ConvKernels.Forward(new ReluActivation(), g, [], new float[g.WeightLength], new float[3], [], [], 0);
        float[] dW = new float[g.WeightLength];
        ConvKernels.Backward(new IdentityActivation(), g, [], [], [], [], new float[g.WeightLength], [], dW, [], [], 0);
        Assert.All(dW, v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(4, 6, 4, "Groups (4) must divide OutChannels (6)")]
    [InlineData(6, 4, 4, "Groups (4) must divide InChannels (6)")]
    [InlineData(2, 2, 0, "Groups must be at least 1 but is 0")]
    public void Forward_BadGroups_ThrowsNamingGeometry(int inChannels, int outChannels, int groups, string message)
    {
        var g = new ConvGeometry(inChannels, 5, 5, outChannels, 3, 3, 1, 1, 0, 0, 1, 1, groups);
        var ex = Assert.Throws<ArgumentException>(() => ConvKernels.Forward(new IdentityActivation(), g, new float[150], new float[1000], [], new float[1000], [], 1));
        Assert.Equal("g", ex.ParamName);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Validate_KernelLargerThanPaddedInput_ThrowsWithBothSizes()
    {
        var g = new ConvGeometry(1, 4, 4, 1, 3, 3, 1, 1, 0, 0, 2, 2, 1);   // dilated span 5 > 4
        var ex = Assert.Throws<ArgumentException>(() => g.Validate("g"));
        Assert.Contains("dilated kernel height (5)", ex.Message);
        Assert.Contains("padded input height (4)", ex.Message);
        Assert.Equal(0, g.OutHeight);
    }

    [Fact]
    public void Geometry_OutputSizes_FollowPyTorchFormula()
    {
        // nn.Conv2d(3, 8, kernel_size=(3, 2), stride=(2, 3), padding=(1, 2), dilation=(2, 1)) on 3×11×10 -> 8×5×5
        var g = new ConvGeometry(3, 11, 10, 8, 3, 2, 2, 3, 1, 2, 2, 1, 1);
        Assert.Equal(5, g.OutHeight);   // (11 + 2 − 4 − 1)/2 + 1
        Assert.Equal(5, g.OutWidth);    // (10 + 4 − 1 − 1)/3 + 1
        Assert.Equal(3 * 11 * 10, g.InputLength);
        Assert.Equal(8 * 25, g.OutputLength);
        Assert.Equal(8 * 3 * 3 * 2, g.WeightLength);
        Assert.Equal(new ConvGeometry(4, 1, 9, 6, 1, 3, 1, 2, 0, 1, 1, 1, 2), ConvGeometry.Conv1D(4, 9, 6, 3, stride: 2, padding: 1, groups: 2));
        Assert.Equal(4, (g with { InHeight = 9 }).OutHeight);   // derived sizes follow `with`: (9 + 2 − 4 − 1)/2 + 1
    }

    [Fact]
    public void Forward_WrongWeightLength_ThrowsNamingWeight()
    {
        var g = ConvGeometry.Conv2D(2, 5, 5, 3, 3);
        var ex = Assert.Throws<ArgumentException>(() =>
            ConvKernels.Forward(new IdentityActivation(), g, new float[50], new float[53], [], new float[27], [], 1));
        Assert.Equal("weight", ex.ParamName);
        Assert.Contains("54", ex.Message);
    }

    [Fact]
    public void Forward_OutputOverlapsInput_Throws()
    {
        var g = ConvGeometry.Conv2D(1, 4, 4, 1, 1);
        float[] buffer = new float[16];
        var ex = Assert.Throws<ArgumentException>(() =>
            ConvKernels.Forward(new IdentityActivation(), g, buffer, new float[1], [], buffer, [], 1));
        Assert.Equal("output", ex.ParamName);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(16, 2)]
    [InlineData(17, 0)]   // 10 wide on 14: whole blocks forward and backward on the lane path, one example on the other
    public void ForwardBackward_SteadyState_AllocatesNothing(int batch, int pad)
    {
        var g = new ConvGeometry(6, 14, 14, 16, 5, 5, 1, 1, pad, pad, 1, 1, 2);
        float[] x = Uniform(batch * g.InputLength, 1), w = Uniform(g.WeightLength, 2), b = Uniform(16, 3);
        float[] y = new float[batch * g.OutputLength], pre = new float[y.Length], dy = Uniform(y.Length, 4), dPre = new float[y.Length];
        float[] dW = new float[g.WeightLength], dB = new float[16], dX = new float[x.Length];
        var act = new ReluActivation();
        void Step()
        {
            ConvKernels.Forward(act, g, x, w, b, y, pre, batch);
            ConvKernels.Forward(act, g, x, w, b, y, [], batch);
            ConvKernels.Backward(act, g, dy, pre, y, x, w, dPre, dW, dB, dX, batch);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, $"Conv Forward (with and without pre) + Backward, batch {batch}, padding {pad}", warmUpCalls: 1);
    }

    private static double[] ToDouble(float[] v) => Array.ConvertAll(v, f => (double)f);

    /// <summary>Maps activation names to the generic ConvKernels entry points.</summary>
    private static class Conv
    {
        public static void Forward(string act, ConvGeometry g, float[] x, float[] w, float[] b, float[] y, float[] pre, int batch)
        {
            switch (act)
            {
                case "Identity": ConvKernels.Forward(new IdentityActivation(), g, x, w, b, y, pre, batch); break;
                case "Relu": ConvKernels.Forward(new ReluActivation(), g, x, w, b, y, pre, batch); break;
                case "LeakyRelu": ConvKernels.Forward(new LeakyReluActivation(LeakySlope), g, x, w, b, y, pre, batch); break;
                case "Gelu": ConvKernels.Forward(new GeluActivation(), g, x, w, b, y, pre, batch); break;
                case "GeluTanh": ConvKernels.Forward(new GeluTanhActivation(), g, x, w, b, y, pre, batch); break;
                case "Silu": ConvKernels.Forward(new SiluActivation(), g, x, w, b, y, pre, batch); break;
                case "Sigmoid": ConvKernels.Forward(new SigmoidActivation(), g, x, w, b, y, pre, batch); break;
                case "Tanh": ConvKernels.Forward(new TanhActivation(), g, x, w, b, y, pre, batch); break;
                default: throw new ArgumentException(act);
            }
        }

        public static void Backward(string act, ConvGeometry g, float[] dy, float[] pre, float[] y, float[] x, float[] w, float[] dPre,
            float[] dW, float[] dB, float[] dX, int batch)
        {
            switch (act)
            {
                case "Identity": ConvKernels.Backward(new IdentityActivation(), g, dy, pre, y, x, w, dPre, dW, dB, dX, batch); break;
                case "Relu": ConvKernels.Backward(new ReluActivation(), g, dy, pre, y, x, w, dPre, dW, dB, dX, batch); break;
                case "LeakyRelu": ConvKernels.Backward(new LeakyReluActivation(LeakySlope), g, dy, pre, y, x, w, dPre, dW, dB, dX, batch); break;
                case "Gelu": ConvKernels.Backward(new GeluActivation(), g, dy, pre, y, x, w, dPre, dW, dB, dX, batch); break;
                case "GeluTanh": ConvKernels.Backward(new GeluTanhActivation(), g, dy, pre, y, x, w, dPre, dW, dB, dX, batch); break;
                case "Silu": ConvKernels.Backward(new SiluActivation(), g, dy, pre, y, x, w, dPre, dW, dB, dX, batch); break;
                case "Sigmoid": ConvKernels.Backward(new SigmoidActivation(), g, dy, pre, y, x, w, dPre, dW, dB, dX, batch); break;
                case "Tanh": ConvKernels.Backward(new TanhActivation(), g, dy, pre, y, x, w, dPre, dW, dB, dX, batch); break;
                default: throw new ArgumentException(act);
            }
        }
    }
}

/// <summary>Central finite differences in double, shared by the conv, pooling and BatchNorm kernel tests.</summary>
internal static class FiniteDifference
{
    /// <summary>
    /// Checks up to <paramref name="samples"/> evenly spread entries of an analytic gradient (minus its
    /// <paramref name="initial"/> value, for accumulating buffers) against a central difference of the double loss.
    /// </summary>
    public static void Check(string where, string name, float[] actual, float[]? initial, double[] parameters, Func<double[], double> loss,
        int samples = 24, double h = 1e-6)
    {
        int step = Math.Max(1, parameters.Length / samples);
        for (int i = 0; i < parameters.Length; i += step)
        {
            double saved = parameters[i];
            parameters[i] = saved + h;
            double lp = loss(parameters);
            parameters[i] = saved - h;
            double lm = loss(parameters);
            parameters[i] = saved;
            double fd = (lp - lm) / (2 * h);
            double got = actual[i] - (initial is null ? 0 : initial[i]);
            Assert.True(Math.Abs(got - fd) <= 5e-5 + 1e-4 * Math.Abs(fd), $"{where}: {name}[{i}] = {got} vs finite difference {fd}");
        }
    }
}
