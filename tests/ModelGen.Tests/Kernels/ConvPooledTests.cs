// ConvKernels.ForwardMaxPool (inference-only convolution + activation + max pool) against the unfused pair
// ConvKernels.Forward then PoolingKernels.MaxForward on the same forced path: every convolution path (wide grid,
// column-shifted, im2col-fed strides, lane blocks plus single-example remainders, the im2col baseline), 2×2/2 pools
// (fused) including odd sizes whose last row/column floor mode drops, and other pools (chunked fallback); plus the
// argument checks.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class ConvPooledTests
{
    // (convolution, pool kernel, pool stride, pool padding, ceil mode)
    private static readonly (ConvGeometry Conv, int K, int S, int P, bool Ceil)[] Cases =
    [
        (ConvGeometry.Conv2D(1, 28, 28, 6, 5, padding: 2), 2, 2, 0, false),      // LeNet conv1 + pool1 (wide grid)
        (ConvGeometry.Conv2D(6, 14, 14, 16, 5), 2, 2, 0, false),                 // LeNet conv2 + pool2 (column-shifted)
        (new ConvGeometry(3, 9, 11, 13, 3, 3, 1, 1, 2, 1, 2, 1, 1), 2, 2, 0, false),   // dilation, odd output 9 × 11
        (new ConvGeometry(4, 11, 10, 6, 3, 3, 2, 1, 2, 1, 2, 3, 2), 2, 2, 0, false),   // strides + groups: im2col-fed tiles
        (new ConvGeometry(6, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6), 2, 2, 0, false),     // depthwise, 7 × 7 (floor drops a row)
        (ConvGeometry.Conv2D(2, 12, 12, 5, 3, padding: 1), 3, 2, 1, false),      // 3×3/2 pad 1: chunked fallback
        (ConvGeometry.Conv2D(2, 9, 9, 4, 3, padding: 1), 2, 2, 0, true),         // ceil mode on odd sizes: fallback
        (new ConvGeometry(3, 8, 11, 5, 3, 5, 1, 1, 1, 2, 1, 1, 1), 2, 2, 0, false),    // non-square kernel and padding, stride 1
        (new ConvGeometry(2, 9, 7, 4, 1, 3, 1, 1, 0, 2, 1, 2, 1), 2, 2, 0, false),     // 1×3 kernel dilated along the width only
    ];

    public static TheoryData<string> Paths() => new("Im2Col", "Scalar", "V128", "V256", "V512",
        "ScalarShifted", "V256Shifted", "V512Shifted", "ScalarWide", "V128Wide", "V256Wide", "V512Wide",
        "ScalarLanes", "V128Lanes", "V256Lanes", "V512Lanes");

    [Theory]
    [MemberData(nameof(Paths))]
    public void ForwardMaxPool_EveryPathAndCase_EqualsForwardThenMaxPool(string pathName)
    {
        var path = Enum.Parse<ConvKernels.Path>(pathName);
        foreach (var (g, k, s, p, ceil) in Cases)
            foreach (int batch in new[] { 1, 2, 19 })   // 19: two 8-lane blocks (or one 16-lane block) plus single examples
            {
                var pool = PoolGeometry.Pool2D(g.OutChannels, g.OutHeight, g.OutWidth, k, s, p, ceil);
                ulong seed = (ulong)(g.InputLength * 3 + batch);
                float[] x = Uniform(batch * g.InputLength, seed), w = Uniform(g.WeightLength, seed + 1, -0.5f, 0.5f);
                float[] b = Uniform(g.OutChannels, seed + 2);

                // ReLU and the identity: bit for bit.
                Assert.Equal(Unfused(path, new ReluActivation(), g, pool, x, w, b, batch), Fused(path, new ReluActivation(), g, pool, x, w, b, batch));
                Assert.Equal(Unfused(path, new IdentityActivation(), g, pool, x, w, default, batch), Fused(path, new IdentityActivation(), g, pool, x, w, default, batch));

                // tanh: a value may take a vector body on one path and a scalar tail on the other (last-bit differences).
                float[] expected = Unfused(path, new TanhActivation(), g, pool, x, w, b, batch), actual = Fused(path, new TanhActivation(), g, pool, x, w, b, batch);
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6f, $"{pathName} {g} batch={batch}: [{i}] {actual[i]} vs {expected[i]}");
            }
    }

    [Fact]
    public void ForwardMaxPool_NaNInput_PropagatesLikeTheUnfusedPair()
    {
        var g = ConvGeometry.Conv2D(2, 10, 10, 6, 3);
        var pool = PoolGeometry.Pool2D(6, 8, 8, 2);
        float[] x = Uniform(g.InputLength, 3), w = Uniform(g.WeightLength, 4), b = Uniform(6, 5);
        x[37] = float.NaN;
        float[] fused = Fused(ConvKernels.Path.Auto, new IdentityActivation(), g, pool, x, w, b, 1);
        Assert.Equal(Unfused(ConvKernels.Path.Auto, new IdentityActivation(), g, pool, x, w, b, 1), fused);
        Assert.Contains(fused, float.IsNaN);
    }

    [Fact]
    public void ForwardMaxPool_SameInputsAfterAnotherGeometry_GivesIdenticalBits()
    {
        // Scratch (padded source, tile grid) is shared with other geometries: nothing stale may leak in.
        var g = ConvGeometry.Conv2D(1, 28, 28, 6, 5, padding: 2);
        var pool = PoolGeometry.Pool2D(6, 28, 28, 2);
        float[] x = Uniform(g.InputLength, 1), w = Uniform(g.WeightLength, 2), b = Uniform(6, 3);
        float[] first = Fused(ConvKernels.Path.Auto, new ReluActivation(), g, pool, x, w, b, 1);
        var big = ConvGeometry.Conv2D(3, 30, 30, 13, 3);
        var bigPool = PoolGeometry.Pool2D(13, 28, 28, 2);
        Fused(ConvKernels.Path.Auto, new ReluActivation(), big, bigPool, Uniform(big.InputLength, 4, 5f, 9f), Uniform(big.WeightLength, 5), default, 1);
        Assert.Equal(first, Fused(ConvKernels.Path.Auto, new ReluActivation(), g, pool, x, w, b, 1));
    }

    [Fact]
    public void ForwardMaxPool_PoolNotOverTheConvOutput_Throws()
    {
        var g = ConvGeometry.Conv2D(6, 14, 14, 16, 5);
        var pool = PoolGeometry.Pool2D(16, 12, 10, 2);   // conv output is 10 × 10
        var ex = Assert.Throws<ArgumentException>(() => ConvKernels.ForwardMaxPool(new ReluActivation(), g, pool,
            new float[g.InputLength], new float[g.WeightLength], default, new float[pool.OutputLength], 1));
        Assert.Equal("pool", ex.ParamName);
        Assert.Contains("[16, 10, 10]", ex.Message);
    }

    [Fact]
    public void ForwardMaxPool_OutputOfUnpooledLength_Throws()
    {
        var g = ConvGeometry.Conv2D(6, 14, 14, 16, 5);
        var pool = PoolGeometry.Pool2D(16, 10, 10, 2);
        var ex = Assert.Throws<ArgumentException>(() => ConvKernels.ForwardMaxPool(new ReluActivation(), g, pool,
            new float[g.InputLength], new float[g.WeightLength], default, new float[g.OutputLength], 1));
        Assert.Equal("output", ex.ParamName);
    }

    [Fact]
    public void ForwardMaxPool_SteadyState_AllocatesNothing()
    {
        var g = ConvGeometry.Conv2D(6, 14, 14, 16, 5);
        var pool = PoolGeometry.Pool2D(16, 10, 10, 2);
        float[] x = Uniform(9 * g.InputLength, 1), w = Uniform(g.WeightLength, 2), b = Uniform(16, 3), y = new float[9 * pool.OutputLength];
        // The warm-up call grows the thread's scratch.
        AllocationAssert.SteadyStateAllocatesNothing(() => ConvKernels.ForwardMaxPool(new ReluActivation(), g, pool, x, w, b, y, 9),
            callsPerWindow: 5, warmUpCalls: 1);
    }

    private static float[] Fused<TAct>(ConvKernels.Path path, TAct act, ConvGeometry g, PoolGeometry pool, float[] x, float[] w, ReadOnlySpan<float> b, int batch)
        where TAct : struct, IActivation
    {
        float[] y = new float[batch * pool.OutputLength];
        Array.Fill(y, float.NaN);   // every output must be written
        ConvKernels.ForwardMaxPool(path, act, g, pool, x, w, b, y, batch);
        return y;
    }

    private static float[] Unfused<TAct>(ConvKernels.Path path, TAct act, ConvGeometry g, PoolGeometry pool, float[] x, float[] w, ReadOnlySpan<float> b, int batch)
        where TAct : struct, IActivation
    {
        float[] conv = new float[batch * g.OutputLength], y = new float[batch * pool.OutputLength];
        ConvKernels.Forward(path, act, g, x, w, b, conv, default, batch);
        PoolingKernels.MaxForward(pool, conv, y, default, batch);
        return y;
    }
}
