// The unpacked NT dot path (Gemm.Dot.cs) at every vector width (widths the CPU lacks run on the BCL's software
// vectors) against the double-accumulating reference, on sizes around each tile edge (4 rows, 3 and 8 columns,
// one vector of k) and the L2 column chunk; plus the property threading relies on: an element's bits do not
// depend on which tile or column range computed it.
using System.Runtime.Intrinsics;
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class GemmDotTests
{
    public enum DotPath { Dot = Gemm.Path.Dot, DotV128 = Gemm.Path.DotV128, DotV256 = Gemm.Path.DotV256, DotV512 = Gemm.Path.DotV512 }

    private static void AssertClose(float[] expected, float[] actual, int k, string what)
    {
        double tol = 1e-6 + 3e-7 * k;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}: C[{i}] = {actual[i]:R}, expected {expected[i]:R} (tol {tol:E1})");
    }

    private static void Check(DotPath path, int m, int k, int n, bool accumulate, ulong seed)
    {
        float[] a = Uniform(m * k, seed), b = Uniform(n * k, seed + 1), c0 = Uniform(m * n, seed + 2);
        float[] expected = (float[])c0.Clone(), actual = (float[])c0.Clone();
        Gemm.ReferenceNT(a, b, expected, m, k, n, accumulate);
        Gemm.Multiply(a, b, actual, m, k, n, transA: false, transB: true, accumulate, (Gemm.Path)path);
        AssertClose(expected, actual, k, $"{path} m={m} k={k} n={n} accumulate={accumulate}");
    }

    [Theory]
    [InlineData(DotPath.Dot)]
    [InlineData(DotPath.DotV128)]
    [InlineData(DotPath.DotV256)]
    [InlineData(DotPath.DotV512)]
    public void NT_SizesAroundEveryTileEdge_MatchReference(DotPath path)
    {
        ulong seed = 1;
        foreach (int m in (int[])[1, 3, 4, 5, 8, 9])
            foreach (int k in (int[])[1, 3, 4, 5, 8, 15, 16, 17, 24, 33, 40, 49])   // 24, 40, 49: odd vector counts (the 2-step unroll's remainder)
                foreach (int n in (int[])[1, 2, 3, 4, 7, 8, 9, 11, 25])
                    Check(path, m, k, n, accumulate: (seed++ & 1) == 0, seed * 13);
    }

    [Theory]
    [InlineData(DotPath.Dot, 9, 3000, 53)]     // k so long the L2 chunk is 24 columns: crosses two chunk edges
    [InlineData(DotPath.DotV512, 6, 2900, 50)]
    [InlineData(DotPath.DotV128, 5, 2731, 49)]
    [InlineData(DotPath.Dot, 64, 784, 256)]    // the benchmark MLP's first layer at batch 64
    [InlineData(DotPath.Dot, 1, 784, 256)]     // ... and at batch 1
    [InlineData(DotPath.Dot, 96, 67, 101)]     // the largest A the automatic choice sends here
    public void NT_LongKAndModelShapes_MatchReference(DotPath path, int m, int k, int n)
    {
        Check(path, m, k, n, accumulate: false, 41);
        Check(path, m, k, n, accumulate: true, 42);
    }

    [Fact]
    public void NT_AutomaticPath_UsesDotForShortA_AndPackedForLongA()
    {
        Assert.True(Gemm.PreferDot(1, 784, 256));
        Assert.True(Gemm.PreferDot(11, 120, 84));
        Assert.True(Gemm.PreferDot(Gemm.DotMaxRows, 784, 256));
        Assert.False(Gemm.PreferDot(Gemm.DotMaxRows + 1, 784, 256));
        // Narrow outputs pad whole panels: the dot path at any width.
        Assert.True(Gemm.PreferDot(64, 256, 10));
        Assert.True(Gemm.PreferDot(64, 84, 10));
    }

    [Fact]
    public void NT_AutomaticPath_FollowsTheVectorWidth()
    {
        // Pinned on the measured crossover (Gemm.PreferDot): 120 inputs are 7.5 vectors at 512 bits (a scalar tail of 8 per
        // element: packed 1.5-2× faster from 24 rows), 15 whole vectors at 256 bits (the dot path stays ahead).
        int width = Gemm.NativeWidth;
        Assert.Equal(width != 512, Gemm.PreferDot(64, 120, 84));
        Assert.Equal(width is not (512 or 256), Gemm.PreferDot(24, 72, 256));   // 4.5 vectors at 512, 9 at 256: short; 18 at 128
        Assert.Equal(width is not (512 or 256), Gemm.PreferDot(48, 100, 64));  // tail 4 at 512 and 256; 25 whole vectors at 128
        Assert.True(Gemm.PreferDot(64, 784, 256));
        Assert.True(Gemm.PreferDot(64, 400, 120));
    }

    /// <summary>
    /// Every element is one accumulator + horizontal sum + scalar tail whichever tile holds it, so a matrix computed
    /// whole equals, bit for bit, the same matrix computed row by row and column by column (how threads split it).
    /// </summary>
    [Theory]
    [InlineData(DotPath.Dot)]
    [InlineData(DotPath.DotV128)]
    [InlineData(DotPath.DotV512)]
    public void NT_ElementBits_DoNotDependOnTiling(DotPath path)
    {
        const int m = 11, k = 45, n = 29;
        float[] a = Uniform(m * k, 7), b = Uniform(n * k, 8);
        float[] whole = new float[m * n];
        Gemm.Multiply(a, b, whole, m, k, n, false, true, false, (Gemm.Path)path);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float[] one = new float[1];
                Gemm.Multiply(a.AsSpan(i * k, k), b.AsSpan(j * k, k), one, 1, k, 1, false, true, false, (Gemm.Path)path);
                Assert.Equal(whole[i * n + j], one[0]);
            }
    }

    [Fact]
    public void NT_DotPathSteadyState_AllocatesNothing()
    {
        const int m = 64, k = 300, n = 100;
        float[] a = Uniform(m * k, 31), b = Uniform(n * k, 32), c = new float[m * n];
        // Warm up with the very call that is measured: a first call on a branch may still JIT or tier up, and a method
        // crossing its tiering call-count threshold inside the measurement was seen to allocate under parallel test load.
        Gemm.NT(a, b, c, m, k, n);
        AllocationAssert.SteadyStateAllocatesNothing(() => Gemm.NT(a, b, c, m, k, n, accumulate: true), callsPerWindow: 1, warmUpCalls: 40);
    }

    /// <summary>
    /// The dot path's horizontal sum: each lane of Sum4 must be the documented pairwise tree of its own input
    /// (values spanning 2^±20 so any other association changes the bits), whichever lane it lands in.
    /// </summary>
    [Fact]
    public void Sum4_EveryWidth_EachLaneIsThePairwiseTreeOfItsInput()
    {
        var rng = new ModelGen.Rng(11);
        float[] x = new float[64];
        for (int i = 0; i < x.Length; i++) x[i] = (rng.NextFloat() - 0.5f) * MathF.Pow(2, (i * 7 % 41) - 20);
        static float Tree(ReadOnlySpan<float> v) => v.Length == 4
            ? (v[0] + v[1]) + (v[2] + v[3])
            : Tree(v[..(v.Length / 2)]) + Tree(v[(v.Length / 2)..]);
        // 16 lanes: the halves are added lane by lane first, then the 8-lane tree.
        static float Tree16(ReadOnlySpan<float> v)
        {
            Span<float> h = stackalloc float[8];
            for (int i = 0; i < 8; i++) h[i] = v[i] + v[i + 8];
            return Tree(h);
        }

        var r128 = Simd.Sum4(Vector128.Create(x.AsSpan(0, 4)), Vector128.Create(x.AsSpan(4, 4)), Vector128.Create(x.AsSpan(8, 4)), Vector128.Create(x.AsSpan(12, 4)));
        var r256 = Simd.Sum4(Vector256.Create(x.AsSpan(0, 8)), Vector256.Create(x.AsSpan(8, 8)), Vector256.Create(x.AsSpan(16, 8)), Vector256.Create(x.AsSpan(24, 8)));
        var r512 = Simd.Sum4(Vector512.Create(x.AsSpan(0, 16)), Vector512.Create(x.AsSpan(16, 16)), Vector512.Create(x.AsSpan(32, 16)), Vector512.Create(x.AsSpan(48, 16)));
        for (int lane = 0; lane < 4; lane++)
        {
            Assert.Equal(Tree(x.AsSpan(lane * 4, 4)), r128.GetElement(lane));
            Assert.Equal(Tree(x.AsSpan(lane * 8, 8)), r256.GetElement(lane));
            Assert.Equal(Tree16(x.AsSpan(lane * 16, 16)), r512.GetElement(lane));
        }
        var v = Vector256.Create(x.AsSpan(40, 8));
        Assert.Equal(Tree(x.AsSpan(40, 8)), Simd.Sum4(v, v, v, v).ToScalar());
    }
}
