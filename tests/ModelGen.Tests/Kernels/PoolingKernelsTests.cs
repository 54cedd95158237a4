// Pooling kernels: PyTorch's output-size rules (incl. ceil mode's last-window rule), max/avg forward vs the double
// references for odd sizes, strides, paddings and ceil mode at batch 1 and 3, argmax semantics and NaN propagation,
// backward vs float64 central differences; global and adaptive pooling; validation; zero steady-state allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class PoolingKernelsTests
{
    public static TheoryData<PoolGeometry> Geometries() => new(
        PoolGeometry.Pool2D(2, 28, 28, 2),                                // LeNet: 2×2 stride 2
        PoolGeometry.Pool2D(3, 7, 9, 2),                                  // odd sizes: last row/column dropped
        PoolGeometry.Pool2D(3, 7, 9, 2, ceilMode: true),                  // ceil mode: partial last window
        PoolGeometry.Pool2D(2, 6, 6, 3, stride: 2, padding: 1),           // overlapping, padded (ResNet stem)
        PoolGeometry.Pool2D(2, 6, 7, 3, stride: 2, padding: 1, ceilMode: true),
        PoolGeometry.Pool2D(1, 5, 5, 2, stride: 2, padding: 1, ceilMode: true),   // last window would start in the right padding: dropped
        new PoolGeometry(2, 8, 11, 3, 2, 1, 3, 1, 1, false),              // rectangular window, mixed strides
        new PoolGeometry(2, 9, 10, 4, 3, 3, 2, 2, 1, true),               // stride < kernel, ceil mode
        PoolGeometry.Pool1D(3, 17, 3, stride: 2, padding: 1),
        PoolGeometry.Pool1D(2, 11, 4, stride: 3, ceilMode: true),
        // Average-only options (max ignores them): count_include_pad = false, divisor_override, on non-square windows.
        new PoolGeometry(2, 7, 9, 3, 2, 2, 1, 1, 1, true, CountIncludePad: false),
        new PoolGeometry(3, 9, 7, 3, 5, 2, 3, 1, 2, false, CountIncludePad: false),
        new PoolGeometry(1, 5, 8, 2, 3, 2, 2, 1, 1, true, DivisorOverride: 5),
        new PoolGeometry(2, 6, 7, 3, 3, 2, 2, 1, 1, true, CountIncludePad: false, DivisorOverride: 2),
        PoolGeometry.Pool1D(3, 17, 3, stride: 2, padding: 1, ceilMode: true) with { CountIncludePad = false });

    [Theory]
    [InlineData(5, 2, 2, 0, false, 2)]
    [InlineData(5, 2, 2, 0, true, 3)]
    [InlineData(6, 3, 2, 1, false, 3)]
    [InlineData(6, 3, 2, 1, true, 4)]
    [InlineData(5, 2, 2, 1, true, 3)]   // ⌈5/2⌉ + 1 = 4, but window 3 would start at 6 ≥ 5 + 1: dropped
    [InlineData(4, 4, 4, 0, true, 1)]
    [InlineData(11, 4, 3, 0, true, 4)]
    [InlineData(10, 4, 3, 0, true, 3)]
    public void OutWidth_PyTorchRules_MatchNnMaxPool1d(int length, int kernel, int stride, int padding, bool ceil, int expected)
    {
        // torch.nn.MaxPool1d(kernel, stride, padding, ceil_mode=ceil)(torch.zeros(1, 1, length)).shape[-1] == expected
        Assert.Equal(expected, PoolGeometry.Pool1D(1, length, kernel, stride, padding, ceil).OutWidth);
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Max_Geometry_MatchesReferenceAndFiniteDifferences(PoolGeometry g)
    {
        foreach (int batch in new[] { 1, 3 })
        {
            ulong seed = (ulong)(g.InputLength * 13 + batch);
            int inLen = batch * g.InputLength, outLen = batch * g.OutputLength;
            float[] x = Uniform(inLen, seed), y = new float[outLen], yInference = new float[outLen], dy = Uniform(outLen, seed + 1);
            int[] argmax = new int[outLen];
            PoolingKernels.MaxForward(g, x, y, argmax, batch);
            PoolingKernels.MaxForward(g, x, yInference, [], batch);
            Assert.Equal(y, yInference);

            double[] expected = new double[outLen];
            PoolingKernels.ReferenceMax(g, ToDouble(x), expected, batch);
            int planeIn = g.InHeight * g.InWidth, planeOut = g.OutHeight * g.OutWidth;
            for (int i = 0; i < outLen; i++)
            {
                Assert.Equal((float)expected[i], y[i]);
                Assert.Equal(y[i], x[i / planeOut * planeIn + argmax[i]]);   // argmax is a plane index holding the max
            }

            float[] dX = new float[inLen];
            Array.Fill(dX, float.NaN);
            PoolingKernels.MaxBackward(g, dy, argmax, dX, batch);
            double[] dyd = ToDouble(dy);
            FiniteDifference.Check($"{g} batch={batch}", "dX", dX, null, ToDouble(x), p =>
            {
                var o = new double[outLen];
                PoolingKernels.ReferenceMax(g, p, o, batch);
                return Dot(o, dyd);
            }, samples: 64);
        }
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Avg_Geometry_MatchesReferenceAndFiniteDifferences(PoolGeometry g)
    {
        foreach (int batch in new[] { 1, 3 })
        {
            ulong seed = (ulong)(g.InputLength * 17 + batch);
            int inLen = batch * g.InputLength, outLen = batch * g.OutputLength;
            float[] x = Uniform(inLen, seed), y = new float[outLen], dy = Uniform(outLen, seed + 1);
            PoolingKernels.AvgForward(g, x, y, batch);
            double[] expected = new double[outLen];
            PoolingKernels.ReferenceAvg(g, ToDouble(x), expected, batch);
            for (int i = 0; i < outLen; i++)
                Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-6, $"{g} batch={batch}: y[{i}] = {y[i]} vs {expected[i]}");

            float[] dX = new float[inLen];
            Array.Fill(dX, float.NaN);
            PoolingKernels.AvgBackward(g, dy, dX, batch);
            double[] dyd = ToDouble(dy);
            FiniteDifference.Check($"{g} batch={batch}", "dX", dX, null, ToDouble(x), p =>
            {
                var o = new double[outLen];
                PoolingKernels.ReferenceAvg(g, p, o, batch);
                return Dot(o, dyd);
            }, samples: 64);
        }
    }

    [Fact]
    public void AvgForward_CountIncludePadFalseAndDivisorOverride_UsePyTorchDivisors()
    {
        // torch.nn.functional.avg_pool1d(torch.tensor([[[1., 2., 3., 4., 5.]]]), 2, 2, padding=1, ceil_mode=True, count_include_pad=False)
        //   -> [[[1.0, 2.5, 4.5]]]: the first window covers one input element and divides by 1.
        float[] y = new float[3];
        PoolingKernels.AvgForward(PoolGeometry.Pool1D(1, 5, 2, 2, 1, ceilMode: true) with { CountIncludePad = false }, [1, 2, 3, 4, 5], y, 1);
        Assert.Equal([1f, 2.5f, 4.5f], y);
        // torch.nn.functional.avg_pool2d(torch.arange(1., 7.).view(1, 1, 2, 3), (2, 2), 1, divisor_override=3) -> [[[[4., 16/3]]]]
        float[] y2 = new float[2];
        PoolingKernels.AvgForward(new PoolGeometry(1, 2, 3, 2, 2, 1, 1, 0, 0, false, DivisorOverride: 3), [1, 2, 3, 4, 5, 6], y2, 1);
        Assert.Equal([4f, 16f / 3], y2);
        // The backward spreads by the same divisor: every tap of a window gets dy / 3.
        float[] dX = new float[6];
        PoolingKernels.AvgBackward(new PoolGeometry(1, 2, 3, 2, 2, 1, 1, 0, 0, false, DivisorOverride: 3), [3f, 6f], dX, 1);
        Assert.Equal([1f, 3f, 2f, 1f, 3f, 2f], dX);
    }

    [Fact]
    public void Validate_NegativeDivisorOverride_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => PoolingKernels.AvgForward(new PoolGeometry(1, 2, 3, 2, 2, 1, 1, 0, 0, false, DivisorOverride: -2), new float[6], new float[2], 1));
        Assert.Contains("DivisorOverride must be positive, or 0 for none, but is -2", e.Message);
    }

    [Fact]
    public void AvgForward_CeilModeAndPadding_UsesPyTorchDivisors()
    {
        // torch.nn.functional.avg_pool1d(torch.tensor([[[1., 2., 3., 4., 5.]]]), 2, 2, padding=1, ceil_mode=True)
        //   -> [[[0.5, 2.5, 4.5]]]: windows [pad,1], [2,3], [4,5]; each divisor 2 (padding counts).
        float[] y = new float[3];
        PoolingKernels.AvgForward(PoolGeometry.Pool1D(1, 5, 2, 2, 1, ceilMode: true), [1, 2, 3, 4, 5], y, 1);
        Assert.Equal([0.5f, 2.5f, 4.5f], y);

        // avg_pool1d(torch.tensor([[[1., 2., 3., 4., 5.]]]), 2, 2, ceil_mode=True) -> [[[1.5, 3.5, 5.]]]:
        // the last window hangs past the input (no padding there), so its divisor is 1.
        PoolingKernels.AvgForward(PoolGeometry.Pool1D(1, 5, 2, 2, 0, ceilMode: true), [1, 2, 3, 4, 5], y, 1);
        Assert.Equal([1.5f, 3.5f, 5f], y);
    }

    [Fact]
    public void MaxForward_NaNInWindow_Propagates()
    {
        float[] x = [1, float.NaN, 3, 4, 5, 6, 7, 8], y = new float[2];
        int[] argmax = new int[2];
        PoolingKernels.MaxForward(PoolGeometry.Pool1D(1, 8, 4), x, y, argmax, 1);
        Assert.True(float.IsNaN(y[0]));
        Assert.Equal(1, argmax[0]);
        Assert.Equal(8f, y[1]);
        Assert.Equal(7, argmax[1]);
    }

    [Fact]
    public void MaxForward_NaNInLowerWindowRow_PropagatesAtEveryVectorWidth()
    {
        // 2×2 windows over a 2×40 plane: the vertical pass runs vectorised; NaNs sit in the second row at several lanes.
        const int w = 40;
        float[] x = Uniform(2 * w, 5), y = new float[w / 2];
        int[] argmax = new int[w / 2];
        int[] nanColumns = [3, 17, 38];
        foreach (int c in nanColumns) x[w + c] = float.NaN;
        PoolingKernels.MaxForward(PoolGeometry.Pool2D(1, 2, w, 2), x, y, argmax, 1);
        for (int o = 0; o < w / 2; o++)
        {
            int nanAt = Array.FindIndex(nanColumns, c => c / 2 == o);
            Assert.Equal(nanAt >= 0, float.IsNaN(y[o]));
            if (nanAt >= 0) Assert.Equal(w + nanColumns[nanAt], argmax[o]);
            else Assert.Equal(y[o], x[argmax[o]]);
        }
    }

    [Fact]
    public void MaxForward_SignedZeros_KeepsTheFirstLikeTorch()
    {
        // torch.max_pool1d(torch.tensor([[[-0., 0., 0., -0.]]]), 2, return_indices=True) -> values [-0., 0.], indices [0, 2]
        float[] y = new float[2];
        int[] argmax = new int[2];
        PoolingKernels.MaxForward(PoolGeometry.Pool1D(1, 4, 2), [-0f, 0f, 0f, -0f], y, argmax, 1);
        Assert.True(float.IsNegative(y[0]));
        Assert.False(float.IsNegative(y[1]));
        Assert.Equal([0, 2], argmax);
        PoolingKernels.MaxForward(PoolGeometry.Pool1D(1, 4, 2), [-0f, 0f, 0f, -0f], y, [], 1);
        Assert.True(float.IsNegative(y[0]));
    }

    [Fact]
    public void MaxBackward_OverlappingWindows_AccumulateAtSharedArgmax()
    {
        // Windows [0..2] and [2..4] share element 2, the maximum of both: it receives both gradients.
        float[] x = [0, 1, 9, 1, 0], y = new float[2], dX = new float[5];
        int[] argmax = new int[2];
        var g = PoolGeometry.Pool1D(1, 5, 3, stride: 2);
        PoolingKernels.MaxForward(g, x, y, argmax, 1);
        PoolingKernels.MaxBackward(g, [0.25f, 0.5f], argmax, dX, 1);
        Assert.Equal([0f, 0, 0.75f, 0, 0], dX);
    }

    [Fact]
    public void MaxBackward_ArgmaxOutsidePlane_Throws()
    {
        var g = PoolGeometry.Pool1D(1, 4, 2);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => PoolingKernels.MaxBackward(g, [1, 1], [0, 4], new float[4], 1));
        Assert.Equal("argmax", ex.ParamName);
    }

    [Theory]
    [InlineData(3, 2)]
    [InlineData(2, 2)]
    [InlineData(1, 1)]
    [InlineData(4, 3)]
    public void Validate_PaddingOverHalfTheKernel_ThrowsNamingGeometry(int kernel, int padding)
    {
        // PyTorch: "pad should be at most half of effective kernel size".
        var ex = Assert.Throws<ArgumentException>(() => PoolingKernels.AvgForward(PoolGeometry.Pool1D(1, 8, kernel, 1, padding),
            new float[8], new float[100], 1));
        Assert.Equal("g", ex.ParamName);
        Assert.Contains("half of KernelW", ex.Message);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(3, 64)]
    public void GlobalAvgAndMax_MatchReferenceAndFiniteDifferences(int batch, int spatial)
    {
        const int channels = 3;
        int n = batch * channels * spatial, m = batch * channels;
        float[] x = Uniform(n, (ulong)(batch * 100 + spatial)), dy = Uniform(m, 9);
        float[] avg = new float[m], max = new float[m], dAvg = new float[n], dMax = new float[n];
        int[] argmax = new int[m];
        PoolingKernels.GlobalAvgForward(x, avg, batch, channels, spatial);
        PoolingKernels.GlobalMaxForward(x, max, argmax, batch, channels, spatial);
        for (int p = 0; p < m; p++)
        {
            double sum = 0, best = double.NegativeInfinity;
            for (int i = 0; i < spatial; i++) { sum += x[p * spatial + i]; best = Math.Max(best, x[p * spatial + i]); }
            Assert.True(Math.Abs(avg[p] - sum / spatial) <= 1e-6, $"avg[{p}] = {avg[p]} vs {sum / spatial}");
            Assert.Equal((float)best, max[p]);
            Assert.Equal(max[p], x[p * spatial + argmax[p]]);
        }
        PoolingKernels.GlobalAvgBackward(dy, dAvg, batch, channels, spatial);
        PoolingKernels.GlobalMaxBackward(dy, argmax, dMax, batch, channels, spatial);
        for (int i = 0; i < n; i++)
        {
            int p = i / spatial;
            Assert.Equal(dy[p] / spatial, dAvg[i], 1e-7f);
            Assert.Equal(i % spatial == argmax[p] ? dy[p] : 0f, dMax[i]);
        }
    }

    [Theory]
    [InlineData(1, 7, 7, 3, 3)]
    [InlineData(3, 5, 9, 4, 2)]
    [InlineData(3, 3, 4, 5, 6)]   // upsampling: windows overlap and repeat
    [InlineData(1, 6, 6, 1, 1)]   // global
    [InlineData(3, 8, 8, 4, 4)]   // divisible: plain 2×2 average
    public void AdaptiveAvg_MatchesReferenceAndFiniteDifferences(int batch, int inH, int inW, int outH, int outW)
    {
        const int channels = 2;
        int n = batch * channels * inH * inW, m = batch * channels * outH * outW;
        float[] x = Uniform(n, (ulong)(inH * 10 + outW)), y = new float[m], dy = Uniform(m, 5), dX = new float[n];
        PoolingKernels.AdaptiveAvgForward(x, y, batch, channels, inH, inW, outH, outW);
        double[] expected = new double[m];
        PoolingKernels.ReferenceAdaptiveAvg(ToDouble(x), expected, batch, channels, inH, inW, outH, outW);
        for (int i = 0; i < m; i++) Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-6, $"y[{i}] = {y[i]} vs {expected[i]}");

        Array.Fill(dX, float.NaN);
        PoolingKernels.AdaptiveAvgBackward(dy, dX, batch, channels, inH, inW, outH, outW);
        double[] dyd = ToDouble(dy);
        FiniteDifference.Check($"adaptive {inH}x{inW}->{outH}x{outW} batch={batch}", "dX", dX, null, ToDouble(x), p =>
        {
            var o = new double[m];
            PoolingKernels.ReferenceAdaptiveAvg(p, o, batch, channels, inH, inW, outH, outW);
            return Dot(o, dyd);
        }, samples: 48);
    }

    [Fact]
    public void AdaptiveAvg_BatchTimesChannelsWrapsInInt_Throws()
    {
        // 65,537 × 65,536 wraps to 65,536 in 32 bits, which used to match these 1×1 planes and pass for a batch of 65,537.
        var ex = Assert.Throws<ArgumentException>(() => PoolingKernels.AdaptiveAvgForward(new float[65_536], new float[65_536], 65_537, 65_536, 1, 1, 1, 1));
        Assert.Equal("input", ex.ParamName);
        Assert.Contains("[batch=65537, channels=65536, inH·inW=1]", ex.Message);
    }

    [Fact]
    public void AdaptiveAvg_HandComputed_MatchesPyTorch()
    {
        // torch.nn.functional.adaptive_avg_pool1d(torch.arange(1., 6.).view(1, 1, 5), 3) -> [[[1.5, 3., 4.5]]]
        // (windows [0, 2), [1, 4), [3, 5)).
        float[] y = new float[3];
        PoolingKernels.AdaptiveAvgForward([1, 2, 3, 4, 5], y, 1, 1, 1, 5, 1, 3);
        Assert.Equal([1.5f, 3f, 4.5f], y);
    }

    [Fact]
    public void ForwardBackward_SteadyState_AllocatesNothing()
    {
        var g = PoolGeometry.Pool2D(6, 28, 28, 2);
        const int batch = 4;
        float[] x = Uniform(batch * g.InputLength, 1), y = new float[batch * g.OutputLength], dX = new float[x.Length];
        int[] argmax = new int[y.Length];
        float[] gy = new float[batch * 6], ax = new float[batch * 6 * 9];
        int[] garg = new int[batch * 6];
        void Step()
        {
            PoolingKernels.MaxForward(g, x, y, argmax, batch);
            PoolingKernels.MaxBackward(g, y, argmax, dX, batch);
            PoolingKernels.AvgForward(g, x, y, batch);
            PoolingKernels.AvgBackward(g, y, dX, batch);
            PoolingKernels.GlobalMaxForward(x, gy, garg, batch, 6, 784);
            PoolingKernels.GlobalAvgBackward(gy, dX, batch, 6, 784);
            PoolingKernels.AdaptiveAvgForward(x, ax, batch, 6, 28, 28, 3, 3);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, "max, average, global and adaptive pooling forward/backward", warmUpCalls: 1);
    }

    private static double[] ToDouble(float[] v) => Array.ConvertAll(v, f => (double)f);

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
