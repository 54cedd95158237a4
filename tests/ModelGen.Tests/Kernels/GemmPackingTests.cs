// The vectorised packing routines of the packed GEMM path against their one-float-at-a-time versions: the packed
// panels must be bit-identical (packing only moves floats) for full and partial panels, k tails of every length
// mod 8, and source offsets (pc, ic) that leave the loads unaligned.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class GemmPackingTests
{
    public static TheoryData<int, int, int, int, int, int> ABlocks() => new()
    {
        // rows, k (row stride), pc, kc, ic, mc
        { 6, 8, 0, 8, 0, 6 },        // one k group that must not spill (kc = 8: the loop stops at p + 8 < kc)
        { 6, 9, 0, 9, 0, 6 },
        { 12, 16, 0, 16, 0, 12 },
        { 13, 40, 3, 37, 0, 13 },    // odd offsets, a partial last panel
        { 150, 300, 256, 44, 1, 144 },
        { 20, 517, 5, 512, 7, 13 },
        { 36, 264, 0, 264, 0, 36 },
        { 7, 3, 0, 3, 0, 7 },        // shorter than one group
    };

    [Theory]
    [MemberData(nameof(ABlocks))]
    public unsafe void PackA_AnyBlock_MatchesScalarPacking(int rows, int k, int pc, int kc, int ic, int mc)
    {
        float[] a = Uniform(rows * k, (ulong)(rows * 31 + k));
        int panels = (mc + Gemm.MR - 1) / Gemm.MR;
        float[] expected = new float[panels * Gemm.MR * kc], actual = new float[expected.Length];
        Array.Fill(expected, float.NaN);
        Array.Fill(actual, float.NaN);
        fixed (float* pa = a, pe = expected, pv = actual)
        {
            Gemm.PackAScalar(pa, pe, k, pc, kc, ic, mc, 0);
            Gemm.PackA(pa, pv, k, pc, kc, ic, mc);
        }
        Assert.Equal(expected, actual);
    }

    public static TheoryData<int, int, int, int, int, int, int> BBlocks() => new()
    {
        // rows of B (n), k (row stride), pc, kc, jc, nc, nr
        { 16, 8, 0, 8, 0, 16, 16 },
        { 33, 70, 3, 61, 0, 33, 16 },    // odd offsets, a partial last panel
        { 40, 300, 256, 44, 5, 35, 8 },  // the 128-bit kernel's NR
        { 70, 521, 9, 512, 1, 64, 32 },  // the 512-bit kernel's NR
        { 20, 7, 0, 7, 0, 20, 16 },      // shorter than one group
    };

    [Theory]
    [MemberData(nameof(BBlocks))]
    public unsafe void PackBTransposed_AnyBlock_MatchesScalarPacking(int rows, int k, int pc, int kc, int jc, int nc, int nr)
    {
        float[] b = Uniform(rows * k, (ulong)(rows * 37 + k));
        int panels = (nc + nr - 1) / nr;
        float[] expected = new float[panels * nr * kc], actual = new float[expected.Length];
        Array.Fill(expected, float.NaN);
        Array.Fill(actual, float.NaN);
        fixed (float* pb = b, pe = expected, pv = actual)
        {
            Gemm.PackBTransposedScalar(pb, pe, k, pc, kc, jc, nc, nr, 0);
            Gemm.PackBTransposed(pb, pv, k, pc, kc, jc, nc, nr);
        }
        Assert.Equal(expected, actual);
    }

    public static TheoryData<int, int, int, int, int, int> ATransposedBlocks() => new()
    {
        // m (row length of A [k, m]), rows of A, pc, kc, ic, mc
        { 12, 8, 0, 8, 0, 12 },       // ic + ir + 8 > m for the second panel: scalar
        { 14, 9, 0, 9, 0, 14 },       // two vector panels (the second reads to the row's end), then a partial one
        { 150, 300, 256, 44, 1, 144 },
        { 64, 5, 0, 1, 0, 64 },       // kc = 1: the last (only) k-step is copied alone
        { 256, 64, 0, 64, 0, 256 },   // the dense backward's dW = dPreᵀ·X at batch 64
    };

    [Theory]
    [MemberData(nameof(ATransposedBlocks))]
    public unsafe void PackATransposed_AnyBlock_MatchesScalarPacking(int m, int rows, int pc, int kc, int ic, int mc)
    {
        float[] a = Uniform(rows * m, (ulong)(rows * 41 + m));
        int panels = (mc + Gemm.MR - 1) / Gemm.MR;
        float[] expected = new float[panels * Gemm.MR * kc], actual = new float[expected.Length];
        Array.Fill(expected, float.NaN);
        Array.Fill(actual, float.NaN);
        fixed (float* pa = a, pe = expected, pv = actual)
        {
            Gemm.PackATransposedScalar(pa, pe, m, pc, kc, ic, mc, 0);
            Gemm.PackATransposed(pa, pv, m, pc, kc, ic, mc);
        }
        Assert.Equal(expected, actual);
    }
}
