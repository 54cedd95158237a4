// Merge kernels: Add for every length 0..70 (all vector tails) including aliased outputs, gradient fan-in, and
// Concat/Split of NCHW parts along axis 1 (round trip, overwrite vs accumulate), with validation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class MergeKernelsTests
{
    [Fact]
    public void Add_EveryLengthAndAliasing_MatchesScalarSum()
    {
        for (int n = 0; n <= 70; n++)
        {
            float[] a = Uniform(n, (ulong)n), b = Uniform(n, (ulong)n + 500), sum = new float[n];
            MergeKernels.Add(a, b, sum);
            for (int i = 0; i < n; i++) Assert.Equal(a[i] + b[i], sum[i]);

            float[] inA = (float[])a.Clone();
            MergeKernels.Add(inA, b, inA);   // residual: x += f(x) into the same buffer
            Assert.Equal(sum, inA);
            float[] inB = (float[])b.Clone();
            MergeKernels.Add(a, inB, inB);
            Assert.Equal(sum, inB);

            float[] acc = (float[])a.Clone();
            MergeKernels.AddInPlace(acc, b);
            Assert.Equal(sum, acc);
        }
    }

    [Fact]
    public void Add_LengthMismatch_ThrowsNamingOperand()
    {
        var ex = Assert.Throws<ArgumentException>(() => MergeKernels.Add(new float[4], new float[5], new float[4]));
        Assert.Equal("b", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => MergeKernels.AddInPlace(new float[4], new float[3]));
        Assert.Equal("value", ex.ParamName);
    }

    [Fact]
    public void Add_PartialOverlap_Throws()
    {
        float[] buffer = new float[10];
        var ex = Assert.Throws<ArgumentException>(() => MergeKernels.Add(buffer.AsSpan(0, 8), new float[8], buffer.AsSpan(1, 8)));
        Assert.Equal("output", ex.ParamName);
    }

    [Fact]
    public void ConcatThenSplit_ThreeChannelBlocks_RoundTrip()
    {
        // Concat of [3, 2, 4, 5], [3, 1, 4, 5] and [3, 3, 4, 5] (NCHW) along channels → [3, 6, 4, 5].
        const int batch = 3, spatial = 20;
        int[] channels = [2, 1, 3];
        int total = 6 * spatial;
        float[][] parts = [Uniform(batch * 2 * spatial, 1), Uniform(batch * 1 * spatial, 2), Uniform(batch * 3 * spatial, 3)];
        float[] output = new float[batch * total];
        int offset = 0;
        for (int p = 0; p < 3; p++)
        {
            MergeKernels.ConcatPart(parts[p], output, batch, channels[p] * spatial, offset, total);
            offset += channels[p] * spatial;
        }
        // torch.cat(parts, dim=1)[b, c] is part p's channel c − start(p).
        for (int b = 0; b < batch; b++)
            for (int c = 0, p = 0, start = 0; c < 6; c++)
            {
                if (c - start == channels[p]) { start += channels[p]; p++; }
                for (int s = 0; s < spatial; s++)
                    Assert.Equal(parts[p][(b * channels[p] + c - start) * spatial + s], output[(b * 6 + c) * spatial + s]);
            }

        offset = 0;
        for (int p = 0; p < 3; p++)
        {
            int len = channels[p] * spatial;
            float[] back = new float[parts[p].Length];
            Array.Fill(back, float.NaN);
            MergeKernels.SplitPart(output, back, batch, len, offset, total, accumulate: false);
            Assert.Equal(parts[p], back);

            float[] acc = Uniform(parts[p].Length, 9);
            float[] expected = new float[acc.Length];
            for (int i = 0; i < acc.Length; i++) expected[i] = acc[i] + parts[p][i];
            MergeKernels.SplitPart(output, acc, batch, len, offset, total, accumulate: true);
            Assert.Equal(expected, acc);
            offset += len;
        }
    }

    [Fact]
    public void ConcatPart_PartPastTotal_ThrowsNamingOffset()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => MergeKernels.ConcatPart(new float[6], new float[10], 2, 3, 3, 5));
        Assert.Equal("offset", ex.ParamName);
        Assert.Contains("(6)", ex.Message);
    }

    [Fact]
    public void SplitPart_WrongPartLength_ThrowsNamingDPart()
    {
        var ex = Assert.Throws<ArgumentException>(() => MergeKernels.SplitPart(new float[10], new float[5], 2, 3, 0, 5, accumulate: false));
        Assert.Equal("dPart", ex.ParamName);
    }
}
