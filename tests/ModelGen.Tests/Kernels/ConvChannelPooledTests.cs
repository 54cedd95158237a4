// ConvKernels.ForwardMaxPool with a PackedConvWeight (the channel-vectorised single-example path,
// ConvKernels.Channels.cs) on every single-example width, the pack made for that width whatever the machine: against the
// double reference (conv + bias, activation, 2×2/2 max pool) and bit for bit against the unpacked call on the same path.
// Output channel counts leave partial channel vectors at every width (1, 3, 7, 17, 33), pooled widths take every tile
// size (1 to 7 windows: 3 + 3 + 1 …), with padding, dilation, odd sizes whose last row/column the pool drops, and
// batches mixing lane blocks with single examples; plus the routes that fall back to the plain weight and the checks.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class ConvChannelPooledTests
{
    private static readonly ConvGeometry[] Cases =
    [
        ConvGeometry.Conv2D(6, 14, 14, 16, 5),                             // LeNet conv2: 5 windows per row (3 + 2)
        ConvGeometry.Conv2D(1, 28, 28, 6, 5, padding: 2),                  // LeNet conv1: padded source, 14 windows
        ConvGeometry.Conv2D(3, 5, 5, 1, 3, padding: 1),                    // one channel; 5 × 5 output, the pool drops a row and column
        ConvGeometry.Conv2D(2, 4, 3, 7, 2),                                // 3 × 2 output: one window
        ConvGeometry.Conv2D(3, 9, 16, 17, 3, padding: 1),                  // 17 channels, 8 windows (3 + 3 + 2)
        new ConvGeometry(2, 11, 13, 33, 3, 3, 1, 1, 2, 1, 2, 1, 1),       // dilation 2 × 1, padding 2 × 1, 33 channels, 7 windows
        new ConvGeometry(4, 8, 11, 3, 3, 5, 1, 1, 1, 2, 1, 1, 1),         // non-square kernel and padding, 3 channels
    ];

    public static TheoryData<string> Paths() => new("Scalar", "V128", "V256", "V512");

    [Theory]
    [MemberData(nameof(Paths))]
    public void ForwardMaxPool_Packed_MatchesReferenceAndUnpackedCall(string pathName)
    {
        var path = Enum.Parse<ConvKernels.Path>(pathName);
        int lanes = pathName switch { "V512" => 16, "V256" => 8, "V128" => 4, _ => 1 };
        foreach (var g in Cases)
            foreach (int batch in new[] { 1, 3, 19 })   // 19: lane blocks (where the layer takes them) plus single examples
            {
                var pool = PoolGeometry.Pool2D(g.OutChannels, g.OutHeight, g.OutWidth, 2);
                ulong seed = (ulong)(g.WeightLength * 7 + batch);
                float[] x = Uniform(batch * g.InputLength, seed), w = Uniform(g.WeightLength, seed + 1, -0.5f, 0.5f);
                float[] b = Uniform(g.OutChannels, seed + 2);
                var packed = new PackedConvWeight(w, g, lanes);
                string what = $"{pathName} {g} batch={batch}";

                float[] relu = Packed(path, new ReluActivation(), g, pool, x, packed, b, batch);
                float[] expected = Reference(g, pool, x, w, b, batch, v => Math.Max(v, 0));
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(relu[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"{what}: [{i}] {relu[i]} vs reference {expected[i]}");

                // Same taps in the same order, same bias add and winner rule: the unpacked call's bits for ReLU and the identity.
                Assert.Equal(Unpacked(path, new ReluActivation(), g, pool, x, w, b, batch), relu);
                Assert.Equal(Unpacked(path, new IdentityActivation(), g, pool, x, w, default, batch),
                    Packed(path, new IdentityActivation(), g, pool, x, packed, default, batch));

                float[] tanh = Packed(path, new TanhActivation(), g, pool, x, packed, b, batch);
                expected = Reference(g, pool, x, w, b, batch, Math.Tanh);
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(tanh[i] - expected[i]) <= 1e-5, $"{what} tanh: [{i}] {tanh[i]} vs reference {expected[i]}");
            }
    }

    [Fact]
    public void ForwardMaxPool_Packed_NaNInput_PropagatesLikeTheUnpackedCall()
    {
        var g = ConvGeometry.Conv2D(2, 10, 10, 16, 3);
        var pool = PoolGeometry.Pool2D(16, 8, 8, 2);
        float[] x = Uniform(g.InputLength, 3), w = Uniform(g.WeightLength, 4), b = Uniform(16, 5);
        x[37] = float.NaN;
        foreach (var (path, lanes) in new[] { (ConvKernels.Path.V512, 16), (ConvKernels.Path.V256, 8), (ConvKernels.Path.Scalar, 1) })
        {
            float[] packed = Packed(path, new IdentityActivation(), g, pool, x, new PackedConvWeight(w, g, lanes), b, 1);
            Assert.Equal(Unpacked(path, new IdentityActivation(), g, pool, x, w, b, 1), packed);
            Assert.Contains(packed, float.IsNaN);
        }
    }

    [Fact]
    public void ForwardMaxPool_Packed_RoutesWithoutTheChannelPath_EqualTheUnpackedCall()
    {
        // A 3×3 pool, reflect padding, two groups, and a pack made for another width all take the plain weight.
        var cases = new (ConvGeometry G, PoolGeometry Pool, int Lanes)[]
        {
            (ConvGeometry.Conv2D(2, 12, 12, 16, 3, padding: 1), PoolGeometry.Pool2D(16, 12, 12, 3, 2, 1), 16),
            (ConvGeometry.Conv2D(2, 12, 12, 16, 3, padding: 1) with { PaddingMode = PaddingMode.Reflect }, PoolGeometry.Pool2D(16, 12, 12, 2), 16),
            (ConvGeometry.Conv2D(4, 10, 10, 16, 3, groups: 2), PoolGeometry.Pool2D(16, 8, 8, 2), 16),
            (ConvGeometry.Conv2D(2, 10, 10, 16, 3), PoolGeometry.Pool2D(16, 8, 8, 2), 8),
        };
        foreach (var (g, pool, lanes) in cases)
        {
            float[] x = Uniform(2 * g.InputLength, 6), w = Uniform(g.WeightLength, 7), b = Uniform(16, 8);
            Assert.Equal(Unpacked(ConvKernels.Path.V512, new ReluActivation(), g, pool, x, w, b, 2),
                Packed(ConvKernels.Path.V512, new ReluActivation(), g, pool, x, new PackedConvWeight(w, g, lanes), b, 2));
        }
    }

    [Fact]
    public void ForwardMaxPool_PackedForAnotherGeometry_Throws()
    {
        var g = ConvGeometry.Conv2D(6, 14, 14, 16, 5);
        var pool = PoolGeometry.Pool2D(16, 10, 10, 2);
        var packed = new PackedConvWeight(new float[g.WeightLength], g with { PadH = 1, PadW = 1 });
        var ex = Assert.Throws<ArgumentException>(() => ConvKernels.ForwardMaxPool(new ReluActivation(), g, pool,
            new float[g.InputLength], packed, default, new float[pool.OutputLength], 1));
        Assert.Equal("weight", ex.ParamName);
        Assert.Contains("PadH = 1", ex.Message);
        Assert.Throws<ArgumentNullException>(() => ConvKernels.ForwardMaxPool(new ReluActivation(), g, pool,
            new float[g.InputLength], (PackedConvWeight)null!, default, new float[pool.OutputLength], 1));
    }

    [Fact]
    public void PackedConvWeight_WrongLength_Throws()
    {
        var g = ConvGeometry.Conv2D(6, 14, 14, 16, 5);
        var ex = Assert.Throws<ArgumentException>(() => new PackedConvWeight(new float[g.WeightLength - 1], g));
        Assert.Equal("weight", ex.ParamName);
        Assert.Contains("2400", ex.Message);
    }

    [Fact]
    public void ForwardMaxPool_Packed_OutputOfUnpooledLength_Throws()
    {
        var g = ConvGeometry.Conv2D(6, 14, 14, 16, 5);
        var pool = PoolGeometry.Pool2D(16, 10, 10, 2);
        var ex = Assert.Throws<ArgumentException>(() => ConvKernels.ForwardMaxPool(ConvKernels.Path.V512, new ReluActivation(), g, pool,
            new float[g.InputLength], new PackedConvWeight(new float[g.WeightLength], g, 16), default, new float[g.OutputLength], 1));
        Assert.Equal("output", ex.ParamName);
    }

    [Fact]
    public void ForwardMaxPool_Packed_SteadyState_AllocatesNothing()
    {
        var g = ConvGeometry.Conv2D(1, 12, 12, 16, 5, padding: 2);
        var pool = PoolGeometry.Pool2D(16, 12, 12, 2);
        float[] x = Uniform(3 * g.InputLength, 1), w = Uniform(g.WeightLength, 2), b = Uniform(16, 3), y = new float[3 * pool.OutputLength];
        var packed = new PackedConvWeight(w, g, ConvKernels.NativeLanes);
        AllocationAssert.SteadyStateAllocatesNothing(() => ConvKernels.ForwardMaxPool(new ReluActivation(), g, pool, x, packed, b, y, 3),
            callsPerWindow: 5, warmUpCalls: 1);
    }

    private static float[] Packed<TAct>(ConvKernels.Path path, TAct act, ConvGeometry g, PoolGeometry pool, float[] x, PackedConvWeight w, ReadOnlySpan<float> b, int batch)
        where TAct : struct, IActivation
    {
        float[] y = new float[batch * pool.OutputLength];
        Array.Fill(y, float.NaN);   // every output must be written
        ConvKernels.ForwardMaxPool(path, act, g, pool, x, w, b, y, batch);
        return y;
    }

    private static float[] Unpacked<TAct>(ConvKernels.Path path, TAct act, ConvGeometry g, PoolGeometry pool, float[] x, float[] w, ReadOnlySpan<float> b, int batch)
        where TAct : struct, IActivation
    {
        float[] y = new float[batch * pool.OutputLength];
        ConvKernels.ForwardMaxPool(path, act, g, pool, x, w, b, y, batch);
        return y;
    }

    /// <summary>conv + bias in double (ConvKernels.ReferenceForward), the activation, then the 2×2/2 max over each window.</summary>
    private static float[] Reference(ConvGeometry g, PoolGeometry pool, float[] x, float[] w, float[] b, int batch, Func<double, double> act)
    {
        double[] conv = new double[batch * g.OutputLength];
        ConvKernels.ReferenceForward(g, Array.ConvertAll(x, v => (double)v), Array.ConvertAll(w, v => (double)v), Array.ConvertAll(b, v => (double)v), conv, batch);
        int oh = g.OutHeight, ow = g.OutWidth, poh = pool.OutHeight, pow = pool.OutWidth;
        float[] y = new float[batch * pool.OutputLength];
        for (int n = 0; n < batch * g.OutChannels; n++)
            for (int py = 0; py < poh; py++)
                for (int px = 0; px < pow; px++)
                {
                    double best = double.NegativeInfinity;
                    for (int r = 0; r < 2; r++)
                        for (int s = 0; s < 2; s++)
                            best = Math.Max(best, act(conv[n * oh * ow + (2 * py + r) * ow + 2 * px + s]));
                    y[n * poh * pow + py * pow + px] = (float)best;
                }
        return y;
    }
}
