// Softmax / log-softmax: forward against float64 references (including rows with 1e4-sized values, where
// an implementation without max subtraction overflows), backward against float64 central differences, aliasing.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class SoftmaxTests
{
    private static double[] RefSoftmaxRow(ReadOnlySpan<double> x)
    {
        double max = double.NegativeInfinity;
        foreach (double v in x) max = Math.Max(max, v);
        double sum = 0;
        foreach (double v in x) sum += Math.Exp(v - max);
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = Math.Exp(x[i] - max) / sum;
        return y;
    }

    private static double[] RefLogSoftmaxRow(ReadOnlySpan<double> x)
    {
        double max = double.NegativeInfinity;
        foreach (double v in x) max = Math.Max(max, v);
        double sum = 0;
        foreach (double v in x) sum += Math.Exp(v - max);
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] - max - Math.Log(sum);
        return y;
    }

    private static float[] Input(int rows, int cols, ulong seed)
    {
        float[] x = Uniform(rows * cols, seed, -5f, 5f);
        if (rows > 1) for (int j = 0; j < cols; j++) x[cols + j] += 1e4f; // second row: huge values
        return x;
    }

    public static TheoryData<int> Cols() => new([1, 2, 5, 16, 17, 33, 70]);

    [Theory]
    [MemberData(nameof(Cols))]
    public void Forward_RowsIncludingHugeValues_MatchDoubleReference(int cols)
    {
        const int rows = 3;
        float[] x = Input(rows, cols, (ulong)cols);
        float[] y = new float[x.Length], ly = new float[x.Length];
        Softmax.Forward(x, y, rows, cols);
        Softmax.LogForward(x, ly, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double[] xr = Array.ConvertAll(x[(r * cols)..((r + 1) * cols)], v => (double)v);
            double[] expected = RefSoftmaxRow(xr), expectedLog = RefLogSoftmaxRow(xr);
            for (int j = 0; j < cols; j++)
            {
                Assert.True(Math.Abs(y[r * cols + j] - expected[j]) <= 1e-6 + 1e-5 * expected[j], $"softmax r={r} j={j}: {y[r * cols + j]} vs {expected[j]}");
                Assert.True(Math.Abs(ly[r * cols + j] - expectedLog[j]) <= 2e-6 + 1e-6 * Math.Abs(expectedLog[j]), $"log-softmax r={r} j={j}: {ly[r * cols + j]} vs {expectedLog[j]}");
            }
        }
        float[] inPlace = (float[])x.Clone();
        Softmax.Forward(inPlace, inPlace, rows, cols);
        Assert.Equal(y, inPlace);
        inPlace = (float[])x.Clone();
        Softmax.LogForward(inPlace, inPlace, rows, cols);
        Assert.Equal(ly, inPlace);
    }

    [Theory]
    [MemberData(nameof(Cols))]
    public void Backward_MatchesFiniteDifferences(int cols)
    {
        const int rows = 3;
        float[] x = Input(rows, cols, (ulong)(100 + cols));
        float[] dy = Uniform(rows * cols, (ulong)(200 + cols));
        float[] y = new float[x.Length], ly = new float[x.Length], dx = new float[x.Length], ldx = new float[x.Length];
        Softmax.Forward(x, y, rows, cols);
        Softmax.Backward(dy, y, dx, rows, cols);
        Softmax.LogForward(x, ly, rows, cols);
        Softmax.LogBackward(dy, ly, ldx, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            double[] xr = Array.ConvertAll(x[(r * cols)..((r + 1) * cols)], v => (double)v);
            for (int j = 0; j < cols; j++)
            {
                // loss = Σ dy ⊙ f(x) in double; central difference in x_j.
                double h = 1e-6 * Math.Max(1, Math.Abs(xr[j]));
                double[] plus = (double[])xr.Clone(), minus = (double[])xr.Clone();
                plus[j] += h;
                minus[j] -= h;
                double fd = 0, lfd = 0;
                double[] sp = RefSoftmaxRow(plus), sm = RefSoftmaxRow(minus), lp = RefLogSoftmaxRow(plus), lm = RefLogSoftmaxRow(minus);
                for (int i = 0; i < cols; i++)
                {
                    fd += dy[r * cols + i] * (sp[i] - sm[i]) / (2 * h);
                    lfd += dy[r * cols + i] * (lp[i] - lm[i]) / (2 * h);
                }
                Assert.True(Math.Abs(dx[r * cols + j] - fd) <= 1e-5 + 1e-4 * Math.Abs(fd), $"softmax grad r={r} j={j}: {dx[r * cols + j]} vs {fd}");
                Assert.True(Math.Abs(ldx[r * cols + j] - lfd) <= 1e-5 + 1e-4 * Math.Abs(lfd), $"log-softmax grad r={r} j={j}: {ldx[r * cols + j]} vs {lfd}");
            }
        }
        float[] alias = (float[])dy.Clone();
        Softmax.Backward(alias, y, alias, rows, cols);
        Assert.Equal(dx, alias);
        alias = (float[])dy.Clone();
        Softmax.LogBackward(alias, ly, alias, rows, cols);
        Assert.Equal(ldx, alias);
    }

    [Fact]
    public void Forward_WrongLength_ThrowsNamingOperand()
    {
        var ex = Assert.Throws<ArgumentException>(() => Softmax.Forward(new float[6], new float[5], 2, 3));
        Assert.Equal("output", ex.ParamName);
        Assert.Contains("[rows=2, cols=3]", ex.Message);
    }
}
