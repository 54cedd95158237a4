// GEMM NN/NT/TN against the naive double-accumulating references on every combination of awkward sizes, through
// each path (automatic, direct, packed), with and without accumulation; plus big shapes that cross the packing
// block sizes, alignment independence, validation and zero steady-state allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class GemmTests
{
    private static readonly int[] Sizes = [1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 67];

    public enum Layout { NN, NT, TN }

    /// <summary>Public mirror of the internal Gemm.Path (theory parameters must be public).</summary>
    public enum PathKind
    {
        Auto = Gemm.Path.Auto, Direct = Gemm.Path.Direct, Packed = Gemm.Path.Packed,
        PackedV128 = Gemm.Path.PackedV128, PackedV256 = Gemm.Path.PackedV256, PackedV512 = Gemm.Path.PackedV512,
    }

    private static readonly PathKind[] MainPaths = [PathKind.Auto, PathKind.Direct, PathKind.Packed];

    public static TheoryData<Layout, PathKind> LayoutsAndPaths()
    {
        var data = new TheoryData<Layout, PathKind>();
        foreach (Layout l in Enum.GetValues<Layout>())
            foreach (PathKind p in MainPaths)
                data.Add(l, p);
        return data;
    }

    private static void Run(Layout layout, PathKind path, float[] a, float[] b, float[] c, int m, int k, int n, bool accumulate)
        => Gemm.Multiply(a, b, c, m, k, n, transA: layout == Layout.TN, transB: layout == Layout.NT, accumulate, (Gemm.Path)path);

    private static void Reference(Layout layout, float[] a, float[] b, float[] c, int m, int k, int n, bool accumulate)
    {
        switch (layout)
        {
            case Layout.NN: Gemm.ReferenceNN(a, b, c, m, k, n, accumulate); break;
            case Layout.NT: Gemm.ReferenceNT(a, b, c, m, k, n, accumulate); break;
            default: Gemm.ReferenceTN(a, b, c, m, k, n, accumulate); break;
        }
    }

    // Entries in [-1, 1): float summation error grows at worst linearly in k; a wrong index gives O(1) errors.
    private static void AssertClose(float[] expected, float[] actual, int k, string what)
    {
        double tol = 1e-6 + 3e-7 * k;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}: C[{i}] = {actual[i]:R}, expected {expected[i]:R} (tol {tol:E1})");
    }

    private static void Check(Layout layout, PathKind path, int m, int k, int n, bool accumulate, ulong seed)
    {
        float[] a = Uniform(m * k, seed), b = Uniform(k * n, seed + 1), c0 = Uniform(m * n, seed + 2);
        float[] expected = (float[])c0.Clone(), actual = (float[])c0.Clone();
        Reference(layout, a, b, expected, m, k, n, accumulate);
        Run(layout, path, a, b, actual, m, k, n, accumulate);
        AssertClose(expected, actual, k, $"{layout} {path} m={m} k={k} n={n} accumulate={accumulate}");
    }

    [Theory]
    [MemberData(nameof(LayoutsAndPaths))]
    public void Multiply_AllSmallShapeCombinations_MatchReference(Layout layout, PathKind path)
    {
        ulong seed = 1;
        foreach (int m in Sizes)
            foreach (int k in Sizes)
                foreach (int n in Sizes)
                    Check(layout, path, m, k, n, accumulate: (seed++ & 1) == 0, seed * 7);
    }

    /// <summary>
    /// Each microkernel width on any machine: widths the CPU lacks run on the BCL's software vectors, so the
    /// AVX-512 kernel is verified even where only AVX2 exists (and vice versa for the narrower ones).
    /// </summary>
    [Theory]
    [InlineData(Layout.NN, PathKind.PackedV128)]
    [InlineData(Layout.NT, PathKind.PackedV128)]
    [InlineData(Layout.TN, PathKind.PackedV128)]
    [InlineData(Layout.NN, PathKind.PackedV256)]
    [InlineData(Layout.NT, PathKind.PackedV256)]
    [InlineData(Layout.TN, PathKind.PackedV256)]
    [InlineData(Layout.NN, PathKind.PackedV512)]
    [InlineData(Layout.NT, PathKind.PackedV512)]
    [InlineData(Layout.TN, PathKind.PackedV512)]
    public void Multiply_EachMicrokernelWidth_MatchesReference(Layout layout, PathKind path)
    {
        ulong seed = 3;
        foreach (int m in (int[])[1, 7, 16, 17, 33])
            foreach (int k in (int[])[1, 3, 6, 17, 260])   // k mod 4 = 1, 3, 2, 1, 0: every tail of the unrolled k loop
                foreach (int n in (int[])[1, 7, 16, 33, 67])
                    Check(layout, path, m, k, n, accumulate: (seed++ & 1) == 0, seed * 5);
    }

    [Theory]
    [InlineData(Layout.NN, 129, 257, 65)]
    [InlineData(Layout.NT, 129, 257, 65)]
    [InlineData(Layout.TN, 129, 257, 65)]
    [InlineData(Layout.NN, 300, 520, 70)]   // crosses MC (144) and two KC (256) boundaries
    [InlineData(Layout.NT, 151, 300, 97)]
    [InlineData(Layout.TN, 150, 513, 33)]
    [InlineData(Layout.NN, 7, 9, 2100)]     // crosses NC (2048)
    [InlineData(Layout.NT, 13, 11, 2090)]
    public void Multiply_LargerShapes_MatchReference(Layout layout, int m, int k, int n)
    {
        foreach (PathKind path in MainPaths)
        {
            Check(layout, path, m, k, n, accumulate: false, 11);
            Check(layout, path, m, k, n, accumulate: true, 12);
        }
    }

    [Fact]
    public void PublicEntryPoints_MatchReference()
    {
        const int m = 37, k = 45, n = 53;
        float[] a = Uniform(m * k, 5), b = Uniform(k * n, 6);
        float[] expected = new float[m * n], actual = new float[m * n];
        Gemm.ReferenceNN(a, b, expected, m, k, n);
        Gemm.NN(a, b, actual, m, k, n);
        AssertClose(expected, actual, k, "NN");
        Gemm.ReferenceNT(a, b, expected, m, k, n, accumulate: true);
        Gemm.NT(a, b, actual, m, k, n, accumulate: true);
        AssertClose(expected, actual, k, "NT");
        Gemm.ReferenceTN(a, b, expected, m, k, n, accumulate: true);
        Gemm.TN(a, b, actual, m, k, n, accumulate: true);
        AssertClose(expected, actual, k, "TN");
    }

    [Fact]
    public void Multiply_KIsZero_OverwritesWithZeroOrKeepsC()
    {
        float[] c = [1f, 2f, 3f, 4f];
        Gemm.NN([], [], c, 2, 0, 2, accumulate: true);
        Assert.Equal([1f, 2f, 3f, 4f], c);
        Gemm.NN([], [], c, 2, 0, 2);
        Assert.Equal([0f, 0f, 0f, 0f], c);
    }

    [Theory]
    [InlineData(PathKind.Direct)]
    [InlineData(PathKind.Packed)]
    public void Multiply_MisalignedBuffers_GiveBitIdenticalResults(PathKind path)
    {
        const int m = 45, k = 70, n = 77;
        float[] a = Uniform(m * k, 21), b = Uniform(k * n, 22);
        float[] c = new float[m * n];
        Gemm.Multiply(a, b, c, m, k, n, false, true, false, (Gemm.Path)path);
        for (int offset = 1; offset < 16; offset += 5)
        {
            float[] a2 = new float[m * k + offset], b2 = new float[k * n + offset], c2 = new float[m * n + offset];
            a.CopyTo(a2, offset);
            b.CopyTo(b2, offset);
            Gemm.Multiply(a2.AsSpan(offset), b2.AsSpan(offset), c2.AsSpan(offset), m, k, n, false, true, false, (Gemm.Path)path);
            Assert.Equal(c, c2.AsSpan(offset).ToArray());
        }
    }

    [Fact]
    public void NN_WrongLengthForB_ThrowsNamingOperandAndLengths()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.NN(new float[6], new float[11], new float[8], 2, 3, 4));
        Assert.Equal("b", ex.ParamName);
        Assert.Contains("12", ex.Message);
        Assert.Contains("11", ex.Message);
    }

    [Fact]
    public void NT_NegativeSize_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.NT([], [], [], -1, 0, 0));

    [Fact]
    public void TN_OutputOverlapsInput_Throws()
    {
        float[] buffer = new float[8];
        var ex = Assert.Throws<ArgumentException>(() => Gemm.TN(buffer.AsSpan(0, 4), new float[4], buffer.AsSpan(2, 4), 2, 2, 2));
        Assert.Equal("c", ex.ParamName);
    }

    [Theory]
    [InlineData(PathKind.Direct)]
    [InlineData(PathKind.Packed)]
    public void Multiply_SteadyState_AllocatesNothing(PathKind path)
    {
        const int m = 64, k = 300, n = 100;
        float[] a = Uniform(m * k, 31), b = Uniform(k * n, 32), c = new float[m * n];
        foreach (bool transA in new[] { false, true })
            foreach (bool transB in new[] { false, true })
            {
                if (transA && transB) continue;
                Gemm.Multiply(a, b, c, m, k, n, transA, transB, false, (Gemm.Path)path); // warm: JIT and pack buffers
                AllocationAssert.SteadyStateAllocatesNothing(() => Gemm.Multiply(a, b, c, m, k, n, transA, transB, true, (Gemm.Path)path),
                    callsPerWindow: 1, $"Gemm.Multiply ({path}, transA {transA}, transB {transB}, accumulate)", warmUpCalls: 0);
            }
    }
}
