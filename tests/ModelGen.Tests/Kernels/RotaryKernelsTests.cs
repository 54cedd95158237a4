// Rotary position embeddings: forward against the float64 formula (RotaryKernels.ReferenceForward) over head widths that hit
// every vector width and tail (2, 6, 18, 40, 46), odd head counts, T = 1, 7, 33, start positions past 0 and packed rows whose
// other columns must stay untouched; backward against float64 central differences; the table against torchtune's formula;
// argument checks and zero allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class RotaryKernelsTests
{
    public static TheoryData<int, int, int, int> Shapes()
    {
        // headSize, heads, seq, start. 18 = 16 + 2 and 46 = 32 + 8 + 4 + 2 reach every vector width and the scalar pair.
        var data = new TheoryData<int, int, int, int>();
        data.Add(2, 1, 1, 0);
        data.Add(6, 3, 7, 0);
        data.Add(18, 5, 33, 0);
        data.Add(18, 3, 1, 40);
        data.Add(40, 1, 7, 3);
        data.Add(46, 3, 33, 9);
        data.Add(2, 7, 33, 1);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_PackedRows_MatchesFloat64Formula(int headSize, int heads, int seq, int start)
    {
        const int batch = 2;
        var table = new RotaryTable(headSize, 48);
        int width = heads * headSize, stride = width + 5;   // 5 extra columns per row (as v beside q|k) must not move
        float[] x = Uniform(batch * seq * stride, (ulong)(headSize * 100 + seq), -2f, 2f);
        double[] expected = Array.ConvertAll(x, v => (double)v);
        RotaryKernels.ReferenceForward(expected, headSize, batch, seq, stride, width, start);
        float[] actual = (float[])x.Clone();
        RotaryKernels.Forward(table, actual, batch, seq, stride, width, start);
        for (int i = 0; i < x.Length; i++)
        {
            if (i % stride >= width) Assert.Equal(x[i], actual[i]);
            else Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-6 * (1 + Math.Abs(expected[i])),
                $"hs={headSize} heads={heads} seq={seq} start={start}: x[{i}] = {actual[i]} vs {expected[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Backward_MatchesFloat64FiniteDifferences(int headSize, int heads, int seq, int start)
    {
        const int batch = 2;
        var table = new RotaryTable(headSize, 48, 500f);   // a non-default base flows through table and reference alike
        int width = heads * headSize, stride = width;
        float[] x = Uniform(batch * seq * stride, 5, -2f, 2f);
        float[] dy = Uniform(x.Length, 6);
        double[] xd = Array.ConvertAll(x, v => (double)v);
        double Loss(double[] v)
        {
            double[] y = (double[])v.Clone();
            RotaryKernels.ReferenceForward(y, headSize, batch, seq, stride, width, start, 500f);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += y[i] * dy[i];
            return sum;
        }
        float[] grad = (float[])dy.Clone();
        RotaryKernels.Backward(table, grad, batch, seq, stride, width, start);
        foreach (int i in Sample(x.Length, 120, 7))
        {
            double fd = CentralDifference(xd, i, Loss);
            Assert.True(Math.Abs(grad[i] - fd) <= 1e-5 * (1 + Math.Abs(fd)), $"hs={headSize} heads={heads} seq={seq} start={start}: dx[{i}] = {grad[i]} vs finite difference {fd}");
        }

        // The backward is the inverse rotation: Backward(Forward(x)) = x up to rounding.
        float[] roundTrip = (float[])x.Clone();
        RotaryKernels.Forward(table, roundTrip, batch, seq, stride, width, start);
        RotaryKernels.Backward(table, roundTrip, batch, seq, stride, width, start);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(roundTrip[i] - x[i]) <= 1e-6, $"round trip [{i}]: {roundTrip[i]} vs {x[i]}");
    }

    [Fact]
    public void Table_FollowsTorchtuneFormula()
    {
        // torchtune: theta = 1 / base^(arange(0, dim, 2) / dim); cache[p, i] = (cos(p·theta_i), sin(p·theta_i)). In double the
        // angle differs from the float32 one by at most p·ulp(theta), so 127 positions stay within ~1e-5.
        var table = new RotaryTable(10, 128);
        Assert.Equal((10, 128, 10000f), (table.HeadSize, table.MaxLength, table.Base));
        foreach (int p in new[] { 0, 1, 5, 127 })
        {
            float[] cos = table.CosAt(p), sin = table.SinAt(p);
            Assert.Equal(5, cos.Length);
            for (int i = 0; i < 5; i++)
            {
                double angle = p * Math.Pow(10000, -2.0 * i / 10);
                Assert.True(Math.Abs(cos[i] - Math.Cos(angle)) <= 2e-5 && Math.Abs(sin[i] - Math.Sin(angle)) <= 2e-5, $"position {p} pair {i}: ({cos[i]}, {sin[i]}) vs angle {angle}");
            }
        }
        Assert.Equal([1f, 1f, 1f, 1f, 1f], table.CosAt(0));
        Assert.Equal("RotaryPositionalEmbeddings(dim=10, max_seq_len=128, base=10000)", table.ToString());
        Assert.Equal(new RotaryTable(10, 128), table);
        Assert.NotEqual(new RotaryTable(10, 128, 500f), table);
    }

    [Fact]
    public void InvalidArguments_ThrowClearMessages()
    {
        var e = Assert.Throws<ArgumentException>(() => new RotaryTable(7, 16));
        Assert.Equal("'headSize' must be even (rotary embeddings rotate pairs of features) but is 7. (Parameter 'headSize')", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryTable(0, 16));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryTable(4, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryTable(4, 16, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryTable(4, 16, float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryTable(4, 16).CosAt(16));

        var table = new RotaryTable(4, 8);
        float[] x = new float[2 * 5 * 12];
        e = Assert.Throws<ArgumentException>(() => RotaryKernels.Forward(table, x, 2, 5, 12, 6));
        Assert.Contains("'width' (6) must be a whole number of heads of 4 features", e.Message);
        e = Assert.Throws<ArgumentException>(() => RotaryKernels.Forward(table, x, 2, 5, 4, 8));
        Assert.Contains("'rowStride' (4) must be at least 'width' (8)", e.Message);
        e = Assert.Throws<ArgumentException>(() => RotaryKernels.Backward(table, x, 2, 5, 12, 8, start: 4));
        Assert.Equal("Positions 4..8 exceed the 8 positions of the rotary table (RotaryPositionalEmbeddings(dim=4, max_seq_len=8, base=10000)); use a shorter sequence or a larger table. (Parameter 'seq')", e.Message);
        e = Assert.Throws<ArgumentException>(() => RotaryKernels.Forward(table, x.AsSpan(0, 110), 2, 5, 12, 8));
        Assert.StartsWith("The rotated operand must have at least 116 elements ([batch=2, seq=5] rows of stride 12, 8 rotated) but has 110.", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => RotaryKernels.Forward(table, x, -1, 5, 12, 8));
        Assert.Throws<ArgumentNullException>(() => RotaryKernels.Forward(null!, x, 2, 5, 12, 8));
        RotaryKernels.Forward(table, x.AsSpan(0, 116), 2, 5, 12, 8);   // the last row may end after its rotated floats

        e = Assert.Throws<ArgumentException>(() => new TransformerGeometry(12, 2, 8, 1, false, false, FeedForwardActivation.ReLU, rotary: new RotaryTable(4, 8)));
        Assert.Equal("'rotary' rotates heads of 4 features but model 12 / heads 2 gives heads of 6. (Parameter 'rotary')", e.Message);
    }

    [Fact]
    public void ForwardBackward_SteadyState_AllocateNothing()
    {
        var table = new RotaryTable(32, 64);
        float[] x = Uniform(4 * 64 * 96, 1);
        RotaryKernels.Forward(table, x, 4, 64, 96, 64);
        RotaryKernels.Backward(table, x, 4, 64, 96, 64);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            RotaryKernels.Forward(table, x, 4, 64, 96, 64);
            RotaryKernels.Backward(table, x, 4, 64, 96, 64, start: 0);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
