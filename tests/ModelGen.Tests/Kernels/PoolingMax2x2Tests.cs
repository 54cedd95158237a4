// The 2×2 / stride-2 max-pooling fast path (vector and scalar) against the general path, bit for bit: values (including
// the sign of zero and NaN) and argmax indices, on data full of ties, signed zeros and NaNs, for sizes that leave
// vector tails and odd rows/columns that floor mode drops; plus the geometries that must not take the fast path.
using ModelGen;
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class PoolingMax2x2Tests
{
    public static TheoryData<int, int, int, bool> Shapes() => new()
    {
        { 6, 28, 28, false },   // LeNet S2
        { 16, 10, 10, false },  // LeNet S4: 5 outputs per row, one vector + a tail
        { 3, 7, 9, false },     // odd height and width: the last row and column are dropped
        { 2, 5, 19, false },    // 9 outputs per row
        { 2, 8, 8, true },      // ceil mode on even sizes: same windows
        { 1, 2, 2, false },     // a single window
        { 2, 4, 16, false },    // 8 outputs per row: one 256-bit block, no overlap
        { 2, 6, 8, false },     // 4 outputs per row: one 128-bit block, no overlap
        { 1, 2, 46, false },    // 23 outputs per row: 256-bit blocks ending in an overlapping one
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MaxForward_TiesZerosNaNs_MatchesGeneralPathBitForBit(int channels, int h, int w, bool ceil)
    {
        var g = new PoolGeometry(channels, h, w, 2, 2, 2, 2, 0, 0, ceil);
        const int batch = 3;
        float[] x = TrickyValues(batch * g.InputLength, seed: (ulong)(h * 100 + w));
        foreach (var path in new[] { PoolingKernels.MaxPath.Auto, PoolingKernels.MaxPath.Fast2x2Scalar })
        {
            float[] y = new float[batch * g.OutputLength], yRef = new float[y.Length], yInf = new float[y.Length];
            int[] arg = new int[y.Length], argRef = new int[y.Length];
            PoolingKernels.MaxForward(g, x, y, arg, batch, path);
            PoolingKernels.MaxForward(g, x, yInf, default, batch, path);
            PoolingKernels.MaxForward(g, x, yRef, argRef, batch, PoolingKernels.MaxPath.General);
            for (int i = 0; i < y.Length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(y[i]) == BitConverter.SingleToInt32Bits(yRef[i]) || (float.IsNaN(y[i]) && float.IsNaN(yRef[i])),
                    $"{path} {g}: y[{i}] = {y[i]} vs {yRef[i]}");
                Assert.True(BitConverter.SingleToInt32Bits(yInf[i]) == BitConverter.SingleToInt32Bits(yRef[i]) || (float.IsNaN(yInf[i]) && float.IsNaN(yRef[i])),
                    $"{path} {g} inference: y[{i}] = {yInf[i]} vs {yRef[i]}");
                Assert.True(arg[i] == argRef[i], $"{path} {g}: argmax[{i}] = {arg[i]} vs {argRef[i]}");
            }
        }
    }

    [Fact]
    public void MaxForward_KnownWindow_PicksFirstMaxAndLastNaN()
    {
        // One 2×2 plane per case, taps in row-major order a b / c d.
        var g = PoolGeometry.Pool2D(1, 2, 2, 2);
        (float[] X, float Y, int Arg)[] cases =
        [
            ([1, 3, 3, 2], 3, 1),                      // tie: the first 3
            ([-0f, 0f, -1, -2], -0f, 0),               // signed zeros: the first zero's sign
            ([1, float.NaN, 5, float.NaN], float.NaN, 3),   // NaN wins, the last NaN's index
            ([float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity], float.NegativeInfinity, 0),
        ];
        foreach (var (x, expected, expectedArg) in cases)
        {
            float[] y = new float[1];
            int[] arg = new int[1];
            PoolingKernels.MaxForward(g, x, y, arg, 1);
            Assert.Equal(float.IsNaN(expected), float.IsNaN(y[0]));
            if (!float.IsNaN(expected)) Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(y[0]));
            Assert.Equal(expectedArg, arg[0]);
        }
    }

    [Fact]
    public void MaxForward_SteadyState_AllocatesNothing()
    {
        var g = PoolGeometry.Pool2D(6, 28, 28, 2);
        float[] x = KernelTestUtil.Uniform(4 * g.InputLength, 3), y = new float[4 * g.OutputLength];
        int[] arg = new int[y.Length];
        PoolingKernels.MaxForward(g, x, y, arg, 4);
        AllocationAssert.SteadyStateAllocatesNothing(() =>
        {
            PoolingKernels.MaxForward(g, x, y, arg, 4);
            PoolingKernels.MaxForward(g, x, y, default, 4);
        }, callsPerWindow: 1, "MaxForward with and without argmax", warmUpCalls: 0);
    }

    /// <summary>Values from a tiny set, so windows are full of ties, with signed zeros, infinities and a few NaNs.</summary>
    private static float[] TrickyValues(int n, ulong seed)
    {
        var rng = new Rng(seed);
        float[] pool = [-1f, -0f, 0f, 1f, 2f, float.NegativeInfinity, float.NaN];
        float[] x = new float[n];
        for (int i = 0; i < n; i++)
        {
            int pick = rng.NextInt(40);
            x[i] = pick < pool.Length ? pool[pick] : (pick - 20) * 0.25f;
        }
        return x;
    }
}
