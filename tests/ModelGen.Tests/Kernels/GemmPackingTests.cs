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
}
