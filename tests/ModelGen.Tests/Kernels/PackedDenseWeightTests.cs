// The dense forward over a prepared (prepacked) weight, as a predictor runs it: shapes the cost rule gives to the dot path
// read the plain copy, the others the panels packed once. Both routes and every microkernel width are forced (a width
// the machine lacks runs emulated), compared with a float64 reference on odd sizes that leave partial panels and tiles,
// and with the per-call packed GEMM bit for bit; the rule itself is pinned on the measured shapes.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class PackedDenseWeightTests
{
    public static TheoryData<int, int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int, int>();
        foreach (int width in new[] { 0, 128, 256, 512 })
            foreach (var (batch, inF, outF) in new[] { (1, 1, 1), (3, 7, 17), (8, 33, 3), (17, 300, 33), (150, 261, 70) })
                data.Add(width, batch, inF, outF);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_PackedWeight_MatchesFloat64Reference(int width, int batch, int inF, int outF)
    {
        float[] x = Uniform(batch * inF, 1), w = Uniform(outF * inF, 2, -0.5f, 0.5f), b = Uniform(outF, 3);
        var packed = new PackedDenseWeight(w, outF, inF, width);
        foreach (var route in new[] { PackedRoute.Auto, PackedRoute.Plain, PackedRoute.Packed })
        foreach (bool withBias in new[] { true, false })
        {
            float[] bias = withBias ? b : [];
            float[] y = new float[batch * outF];
            DenseKernels.Forward(route, new GeluActivation(), x, packed, bias, y, batch);
            for (int r = 0; r < batch; r++)
                for (int o = 0; o < outF; o++)
                {
                    double z = withBias ? b[o] : 0;
                    for (int i = 0; i < inF; i++) z += (double)x[r * inF + i] * w[o * inF + i];
                    double expected = Reference("Gelu", z);
                    double tol = 1e-6 + 3e-7 * inF;
                    Assert.True(Math.Abs(y[r * outF + o] - expected) <= tol + 1e-5 * Math.Abs(expected),
                        $"width={width} {route} batch={batch} in={inF} out={outF} bias={withBias} [{r},{o}]: {y[r * outF + o]} vs {expected}");
                }
        }
    }

    [Theory]
    [InlineData(128, 151)]
    [InlineData(256, 151)]
    [InlineData(512, 151)]   // 8-row tiles over A in place for 144 rows, then 7 rows through the 6-row kernel
    [InlineData(512, 64)]    // 8-row tiles only
    [InlineData(512, 13)]    // one 8-row tile and 5 rows
    [InlineData(512, 5)]     // no 8-row tile
    public void Forward_PackedPath_EqualsPerCallPackedGemmBitForBit(int width, int batch)
    {
        // The same panels summed in the same order: only the packing moved to construction time (and at 512 bits the
        // 8-row tiles that read A in place do each element's operations in the 6-row kernel's order).
        const int inF = 300, outF = 37;   // two KC slices, a partial panel (and at 151 rows a row chunk past MC)
        float[] x = Uniform(batch * inF, 4), w = Uniform(outF * inF, 5), expected = new float[batch * outF], y = new float[batch * outF];
        var path = width switch { 128 => Gemm.Path.PackedV128, 256 => Gemm.Path.PackedV256, _ => Gemm.Path.PackedV512 };
        Gemm.Multiply(x, w, expected, batch, inF, outF, transA: false, transB: true, accumulate: false, path);
        var packed = new PackedDenseWeight(w, outF, inF, width);
        DenseKernels.Forward(PackedRoute.Packed, default(IdentityActivation), x, packed, [], y, batch);
        Assert.Equal(expected, y);
        // Accumulating (a residual): every slice adds to C.
        float[] skip = Uniform(batch * outF, 6), expectedSum = (float[])skip.Clone(), sum = new float[batch * outF];
        Gemm.Multiply(x, w, expectedSum, batch, inF, outF, transA: false, transB: true, accumulate: true, path);
        DenseKernels.ForwardResidual(PackedRoute.Packed, default(IdentityActivation), x, packed, [], skip, sum, batch);
        Assert.Equal(expectedSum, sum);
    }

    [Theory]
    [InlineData(64, 128, 64, false)]    // one KC slice, whole 32-column panels: every tile finishes in registers
    [InlineData(64, 300, 37, false)]    // two KC slices (the epilogue on the second), a partial last panel through Apply
    [InlineData(13, 128, 37, false)]    // one 8-row tile, then 5 rows through the 6-row kernel and Apply
    [InlineData(64, 300, 37, true)]     // accumulating onto a skip tensor (a residual)
    [InlineData(17, 33, 3, true)]
    public void Forward_PackedPath_BiasAndGeluInRegisters_EqualGemmThenEpilogueBitForBit(int batch, int inF, int outF, bool residual)
    {
        // At 512 bits the 8-row tiles run bias + activation on their accumulators before the store; that must be the very
        // operations of the pass over C it replaces: (C + A·B) + b, then GELU, per element.
        float[] x = Uniform(batch * inF, 7), w = Uniform(outF * inF, 8, -0.5f, 0.5f), b = Uniform(outF, 9);
        float[] skip = residual ? Uniform(batch * outF, 10) : [], gemm = residual ? (float[])skip.Clone() : new float[batch * outF];
        Gemm.Multiply(x, w, gemm, batch, inF, outF, transA: false, transB: true, accumulate: residual, Gemm.Path.PackedV512);
        var packed = new PackedDenseWeight(w, outF, inF, 512);
        float[] y = new float[batch * outF];
        if (residual) DenseKernels.ForwardResidual(PackedRoute.Packed, new GeluActivation(), x, packed, b, skip, y, batch);
        else DenseKernels.Forward(PackedRoute.Packed, new GeluActivation(), x, packed, b, y, batch);
        var gelu = new GeluActivation();
        // Scalar and vector GELU agree bit for bit only where every multiply-add is fused (NormalCdfPiecewiseTests).
        bool exact = System.Runtime.Intrinsics.X86.Fma.IsSupported;
        for (int r = 0; r < batch; r++)
            for (int o = 0; o < outF; o++)
            {
                int i = r * outF + o;
                float expected = gelu.Invoke(gemm[i] + b[o]);
                Assert.True(exact ? BitConverter.SingleToInt32Bits(y[i]) == BitConverter.SingleToInt32Bits(expected) : Math.Abs(y[i] - expected) <= 1e-6f * (1 + Math.Abs(expected)),
                    $"batch={batch} in={inF} out={outF} residual={residual} [{r},{o}]: {y[i]:R}, expected {expected:R} (GEMM then bias and GELU)");
            }
    }

    [Theory]
    [InlineData(512, 64, 784, 256, true)]    // no dot tail (784 = 49 vectors), 64 rows pad to 66: 3% padding
    [InlineData(512, 8, 784, 256, false)]    // 8 rows pad to 12: the dot path
    [InlineData(512, 5, 120, 84, false)]     // fewer rows than one microkernel tile
    [InlineData(512, 8, 120, 84, true)]      // 120 = 7.5 vectors: the dot path's scalar tail costs more than 1.7× padding
    [InlineData(512, 64, 256, 10, false)]    // 10 columns pad to 32
    [InlineData(512, 97, 400, 120, true)]    // beyond the dot path's 96 rows the model would pack W per call: use the pack
    [InlineData(256, 64, 120, 84, false)]    // at 256 bits 120 is 15 whole vectors, and 84 columns pad to 96
    [InlineData(256, 60, 256, 96, true)]
    public void UsePacked_FollowsPaddingAndTheDotPathsTail(int width, int batch, int inF, int outF, bool packed)
        => Assert.Equal(packed, new PackedDenseWeight(new float[outF * inF], outF, inF, width).UsePacked(batch));

    [Fact]
    public void Constructor_PacksOnlyWhenSomeBatchWouldReadThePack()
    {
        // 10 columns pad to at least 16 at any width: more than 1.05×, and 256 inputs leave no dot tail.
        var narrow = new PackedDenseWeight(new float[10 * 256], 10, 256);
        Assert.Equal(0, narrow.Width);
        var wide = new PackedDenseWeight(new float[96 * 256], 96, 256);
        Assert.Equal(Gemm.NativeWidth, wide.Width);
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(256, 5)]
    [InlineData(256, 40)]
    [InlineData(512, 97)]
    public void ForwardResidual_PackedWeight_AddsTheSkipTensor(int width, int batch)
    {
        const int inF = 19, outF = 23;
        float[] x = Uniform(batch * inF, 6), w = Uniform(outF * inF, 7), b = Uniform(outF, 8), skip = Uniform(batch * outF, 9);
        var packed = new PackedDenseWeight(w, outF, inF, width);
        float[] separate = new float[batch * outF], inPlace = (float[])skip.Clone();
        var route = width == 0 ? PackedRoute.Plain : batch >= 6 ? PackedRoute.Packed : PackedRoute.Auto;
        DenseKernels.ForwardResidual(route, new ReluActivation(), x, packed, b, skip, separate, batch);
        DenseKernels.ForwardResidual(route, new ReluActivation(), x, packed, b, inPlace, inPlace, batch);   // over the skip tensor itself
        Assert.Equal(separate, inPlace);
        for (int r = 0; r < batch; r++)
            for (int o = 0; o < outF; o++)
            {
                double z = b[o] + skip[r * outF + o];
                for (int i = 0; i < inF; i++) z += (double)x[r * inF + i] * w[o * inF + i];
                Assert.True(Math.Abs(separate[r * outF + o] - Math.Max(z, 0)) <= 1e-5, $"width={width} batch={batch} [{r},{o}]: {separate[r * outF + o]} vs {Math.Max(z, 0)}");
            }
    }

    [Theory]
    [InlineData(1, 1)]      // less than one vector: no interleaved copy, the plain route
    [InlineData(7, 17)]     // a partial group of eight rows, a scalar tail at every width
    [InlineData(33, 3)]     // a tail of 1 at 128/256/512 bits
    [InlineData(64, 9)]     // whole vectors at every width, one row past a group
    [InlineData(784, 256)]  // the benchmark MLP's first layer
    [InlineData(120, 84)]   // LeNet's fc2: an 8-float tail at 512 bits on every row, a partial last group
    [InlineData(84, 10)]    // LeNet's fc3: a 4-float tail at 256/512 bits
    public void Forward_OneToThreeRows_InterleavedCopyEqualsThePlainRouteBitForBit(int inF, int outF)
    {
        // Batches of 1-3 read the row-interleaved copy; each element must be summed exactly as the dot path sums it.
        float[] w = Uniform(outF * inF, 12, -0.5f, 0.5f), b = Uniform(outF, 13);
        var weight = new PackedDenseWeight(w, outF, inF);
        Assert.Equal(Gemm.NativeWidth != 0 && inF >= Gemm.NativeWidth / 32, weight.UsesInterleaved(1));
        Assert.False(weight.UsesInterleaved(4));
        for (int batch = 1; batch <= 3; batch++)
        {
            float[] x = Uniform(batch * inF, 14 + (ulong)batch), skip = Uniform(batch * outF, 20 + (ulong)batch);
            float[] expected = new float[batch * outF], actual = new float[batch * outF];
            DenseKernels.Forward(PackedRoute.Plain, new GeluActivation(), x, weight, b, expected, batch);
            DenseKernels.Forward(PackedRoute.Auto, new GeluActivation(), x, weight, b, actual, batch);
            Assert.Equal(expected, actual);
            DenseKernels.Forward(PackedRoute.Plain, default(IdentityActivation), x, weight, [], expected, batch);
            DenseKernels.Forward(PackedRoute.Auto, default(IdentityActivation), x, weight, [], actual, batch);
            Assert.Equal(expected, actual);
            float[] inPlace = (float[])skip.Clone();
            DenseKernels.ForwardResidual(PackedRoute.Plain, new ReluActivation(), x, weight, b, skip, expected, batch);
            DenseKernels.ForwardResidual(PackedRoute.Auto, new ReluActivation(), x, weight, b, skip, actual, batch);
            Assert.Equal(expected, actual);
            DenseKernels.ForwardResidual(PackedRoute.Auto, new ReluActivation(), x, weight, b, inPlace, inPlace, batch);
            Assert.Equal(expected, inPlace);
        }
    }

    [Fact]
    public void Constructor_CopiesTheWeight_LaterWritesDoNotReachIt()
    {
        float[] w = Uniform(6 * 5, 10), x = Uniform(20 * 5, 11);
        var packed = new PackedDenseWeight(w, 6, 5);
        float[] before = new float[20 * 6], small = new float[6], after = new float[20 * 6], smallAfter = new float[6];
        DenseKernels.Forward(default(IdentityActivation), x, packed, [], before, 20);
        DenseKernels.Forward(default(IdentityActivation), x.AsSpan(0, 5), packed, [], small, 1);
        w.AsSpan().Fill(3f);
        DenseKernels.Forward(default(IdentityActivation), x, packed, [], after, 20);
        DenseKernels.Forward(default(IdentityActivation), x.AsSpan(0, 5), packed, [], smallAfter, 1);
        Assert.Equal(before, after);
        Assert.Equal(small, smallAfter);
    }

    [Fact]
    public void Forward_ZeroInputFeatures_GivesActivatedBias()
    {
        var packed = new PackedDenseWeight([], 3, 0);
        float[] y = new float[4 * 3];
        DenseKernels.Forward(new ReluActivation(), [], packed, [1f, -2f, 3f], y, 4);
        Assert.Equal(new float[] { 1, 0, 3, 1, 0, 3, 1, 0, 3, 1, 0, 3 }, y);
    }

    [Fact]
    public void ForwardAndConstructor_WrongLengths_ThrowNamingTheOperand()
    {
        var ex = Assert.Throws<ArgumentException>(() => new PackedDenseWeight(new float[11], 3, 4));
        Assert.Equal("weight", ex.ParamName);
        Assert.Contains("12", ex.Message);
        var packed = new PackedDenseWeight(new float[12], 3, 4);
        var packedEverywhere = new PackedDenseWeight(new float[12], 3, 4, 256);
        foreach (var (weight, route) in new[] { (packed, PackedRoute.Auto), (packedEverywhere, PackedRoute.Packed) })   // dot and packed routes check alike
        {
            const int batch = 7;
            ex = Assert.Throws<ArgumentException>(() => DenseKernels.Forward(route, default(IdentityActivation), new float[4 * batch + 1], weight, [], new float[3 * batch], batch));
            Assert.Equal("input", ex.ParamName);
            ex = Assert.Throws<ArgumentException>(() => DenseKernels.Forward(route, default(IdentityActivation), new float[4 * batch], weight, new float[2], new float[3 * batch], batch));
            Assert.Equal("bias", ex.ParamName);
            ex = Assert.Throws<ArgumentException>(() => DenseKernels.Forward(route, default(IdentityActivation), new float[4 * batch], weight, [], new float[3 * batch - 1], batch));
            Assert.Equal("output", ex.ParamName);
        }
        Assert.Throws<ArgumentNullException>(() => DenseKernels.Forward(default(IdentityActivation), new float[4], null!, [], new float[3], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PackedDenseWeight([], -1, 0));
    }
}

/// <summary>The prepacked product split between threads (KernelOptions.MaxThreads): the same bits as on one thread.</summary>
[Trait("Category", "Kernels")]
[Collection(nameof(GlobalKernelOptions))]
public class PackedDenseWeightThreadingTests
{
    [Theory]
    [InlineData(301, 784, 256)]   // row chunks of whole MR panels, a last partial one, four KC slices
    [InlineData(97, 300, 70)]     // just past the dot path's rows: the packed route by rule
    public void Forward_TwoThreads_GivesTheSingleThreadedBits(int batch, int inF, int outF)
    {
        float[] x = Uniform(batch * inF, 21), w = Uniform(outF * inF, 22, -0.5f, 0.5f), b = Uniform(outF, 23);
        var packed = new PackedDenseWeight(w, outF, inF, Gemm.NativeWidth == 0 ? 256 : Gemm.NativeWidth);
        float[] one = new float[batch * outF];
        DenseKernels.Forward(PackedRoute.Packed, new ReluActivation(), x, packed, b, one, batch);
        int saved = KernelOptions.MaxThreads;
        KernelOptions.MaxThreads = 2;
        try
        {
            for (int repeat = 0; repeat < 5; repeat++)
            {
                float[] two = new float[batch * outF];
                DenseKernels.Forward(PackedRoute.Packed, new ReluActivation(), x, packed, b, two, batch);
                Assert.Equal(one, two);
            }
        }
        finally
        {
            KernelOptions.MaxThreads = saved;
        }
        // And the single-threaded result is right (float64 reference, ReLU).
        for (int r = 0; r < batch; r += 37)
            for (int o = 0; o < outF; o++)
            {
                double z = b[o];
                for (int i = 0; i < inF; i++) z += (double)x[r * inF + i] * w[o * inF + i];
                Assert.True(Math.Abs(one[r * outF + o] - Math.Max(z, 0)) <= 1e-4, $"[{r},{o}]: {one[r * outF + o]} vs {Math.Max(z, 0)}");
            }
    }
}
