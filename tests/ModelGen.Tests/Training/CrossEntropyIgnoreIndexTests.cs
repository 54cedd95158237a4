// Cross-entropy with ignore_index against a double reference written from PyTorch's definition (mean over the rows
// whose label is not ignored, label smoothing on those rows only), gradients against central differences, the
// sequence use (batch·seq rows, padding labelled -100, equal to plain cross-entropy over the real tokens), the
// all-ignored choice (0, zero gradient), validation, and that Loss.CrossEntropy itself is unchanged.
using ModelGen;

namespace ModelGen.Tests.Training;

public class CrossEntropyIgnoreIndexTests
{
    /// <summary>
    /// <c>nn.CrossEntropyLoss(ignore_index=ignore, label_smoothing=eps)</c>: Σ over counted rows of
    /// −Σ_c q_c·log_softmax(x)_c, divided by the number of counted rows.
    /// </summary>
    private static double Reference(double[] x, int[] labels, int rows, double eps, int ignore)
    {
        int classes = x.Length / rows, counted = 0;
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            if (labels[r] == ignore) continue;
            counted++;
            double max = double.NegativeInfinity, sum = 0;
            for (int c = 0; c < classes; c++) max = Math.Max(max, x[r * classes + c]);
            for (int c = 0; c < classes; c++) sum += Math.Exp(x[r * classes + c] - max);
            double lse = max + Math.Log(sum);
            for (int c = 0; c < classes; c++)
                total -= ((c == labels[r] ? 1 - eps : 0) + eps / classes) * (x[r * classes + c] - lse);
        }
        return total / counted;
    }

    private static float[] RandomFloats(Rng rng, int n, double scale)
    {
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float)(scale * (2 * rng.NextDouble() - 1));
        return values;
    }

    private static void AssertClose(double expected, double actual, double relative, double absolute, string what)
    {
        double tolerance = absolute + relative * Math.Abs(expected);
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what}: expected {expected:R}, actual {actual:R}");
    }

    public static TheoryData<float, int> Cases => new()
    {
        { 0f, Loss.DefaultIgnoreIndex }, { 0.1f, Loss.DefaultIgnoreIndex }, { 1f, Loss.DefaultIgnoreIndex },
        { 0f, 0 }, { 0.2f, 2 },   // an ignore index that is also a real class (e.g. 0 as the padding class)
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Compute_MatchesReferenceAndFiniteDifferences(float smoothing, int ignore)
    {
        Loss loss = smoothing == 0 ? Loss.CrossEntropyIgnoring(ignore) : Loss.CrossEntropyIgnoring(ignore, smoothing);
        var rng = new Rng(4321);
        foreach (int classes in new[] { 3, 10, 17, 33, 71 })
        foreach (int rows in new[] { 1, 5, 9 })
        {
            float[] x = RandomFloats(rng, rows * classes, 4);
            int[] labels = new int[rows];
            for (int r = 0; r < rows; r++) labels[r] = r % 3 == 1 ? ignore : rng.NextInt(classes);
            if (labels[0] == ignore) labels[0] = (ignore + 1) % classes;   // at least one counted row (else the reference is 0/0)
            float[] d = Enumerable.Repeat(float.NaN, x.Length).ToArray();   // proves every entry is written
            float value = loss.Compute(x, labels, default, d, rows);

            string what = $"{loss.Name} classes {classes} rows {rows}";
            double[] xd = Array.ConvertAll(x, v => (double)v);
            AssertClose(Reference(xd, labels, rows, smoothing, ignore), value, 1e-5, 1e-6, what);
            const double h = 1e-4;
            for (int i = 0; i < x.Length; i++)
            {
                double saved = xd[i];
                xd[i] = saved + h;
                double plus = Reference(xd, labels, rows, smoothing, ignore);
                xd[i] = saved - h;
                double minus = Reference(xd, labels, rows, smoothing, ignore);
                xd[i] = saved;
                AssertClose((plus - minus) / (2 * h), d[i], 1e-3, 2e-6, $"{what} d/dx[{i}]");
                if (labels[i / classes] == ignore) Assert.Equal(0f, d[i]);
            }
        }
    }

    [Fact]
    public void Compute_SequenceRowsWithPadding_EqualsPlainCrossEntropyOverRealTokens()
    {
        // batch 3 × seq 4 positions, lengths 4, 2, 1: the padded positions are labelled -100 and hold junk logits.
        const int batch = 3, seq = 4, classes = 9;
        int[] lengths = [4, 2, 1];
        var rng = new Rng(8);
        float[] logits = RandomFloats(rng, batch * seq * classes, 3);
        int[] labels = new int[batch * seq];
        var realLogits = new List<float>();
        var realLabels = new List<int>();
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seq; t++)
            {
                int row = b * seq + t;
                if (t < lengths[b])
                {
                    labels[row] = rng.NextInt(classes);
                    realLogits.AddRange(logits.AsSpan(row * classes, classes).ToArray());
                    realLabels.Add(labels[row]);
                }
                else
                {
                    labels[row] = Loss.DefaultIgnoreIndex;
                    for (int c = 0; c < classes; c++) logits[row * classes + c] = 1e4f * (c % 2 == 0 ? 1 : -1);
                }
            }
        float[] d = new float[logits.Length];
        float value = Loss.CrossEntropyIgnoring(Loss.DefaultIgnoreIndex).Compute(logits, labels, default, d, batch * seq);
        float[] dReal = new float[realLogits.Count];
        float expected = Loss.CrossEntropy.Compute(realLogits.ToArray(), realLabels.ToArray(), default, dReal, realLabels.Count);
        Assert.Equal(expected, value);
        int k = 0;
        for (int row = 0; row < batch * seq; row++)
            for (int c = 0; c < classes; c++)
                Assert.Equal(labels[row] == Loss.DefaultIgnoreIndex ? 0f : dReal[k++], d[row * classes + c]);
    }

    [Fact]
    public void Compute_EveryRowIgnored_ReturnsZeroLossAndZeroGradient()
    {
        // PyTorch returns NaN here (0/0); ModelGen returns 0 so that a batch of pure padding changes nothing.
        float[] x = [1f, 2f, 3f, 4f, 5f, 6f], d = [9f, 9f, 9f, 9f, 9f, 9f];
        foreach (Loss loss in new[] { Loss.CrossEntropyIgnoring(-100), Loss.CrossEntropyIgnoring(-100, 0.3f) })
        {
            Assert.Equal(0f, loss.Compute(x, [-100, -100], default, d, 2));
            Assert.All(d, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void Compute_NoRowIgnored_MatchesCrossEntropyBitForBit()
    {
        var rng = new Rng(3);
        float[] x = RandomFloats(rng, 6 * 13, 5), d1 = new float[x.Length], d2 = new float[x.Length];
        int[] labels = [0, 12, 5, 7, 7, 1];
        Assert.Equal(Loss.CrossEntropy.Compute(x, labels, default, d1, 6), Loss.CrossEntropyIgnoring(-100).Compute(x, labels, default, d2, 6));
        Assert.Equal(d1, d2);
        Assert.Equal(Loss.CrossEntropyWithLabelSmoothing(0.1f).Compute(x, labels, default, d1, 6),
            Loss.CrossEntropyIgnoring(-100, 0.1f).Compute(x, labels, default, d2, 6));
        Assert.Equal(d1, d2);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5)]
    [InlineData(-99)]
    public void Compute_LabelOutOfRangeAndNotIgnored_ThrowsNamingRowLabelClassesAndIgnoreIndex(int bad)
    {
        var x = new float[3 * 5];
        var d = new float[x.Length];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Loss.CrossEntropyIgnoring(-100).Compute(x, [-100, 0, bad], default, d, 3));
        Assert.Contains($"label {bad} at row 2", ex.Message);
        Assert.Contains("5 classes", ex.Message);
        Assert.Contains("ignore index -100", ex.Message);
        Assert.All(d, v => Assert.Equal(0f, v));   // validated before anything is written
    }

    [Fact]
    public void CrossEntropy_WithoutIgnoring_StillRejectsMinus100()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Loss.CrossEntropy.Compute(new float[10], [1, -100], default, new float[10], 2));
        Assert.Contains("label -100 at batch index 1", ex.Message);
    }

    [Theory]
    [InlineData(-0.5f)]
    [InlineData(1.01f)]
    [InlineData(float.NaN)]
    public void CrossEntropyIgnoring_SmoothingOutOfRange_Throws(float smoothing)
        => Assert.Throws<ArgumentOutOfRangeException>(() => Loss.CrossEntropyIgnoring(-100, smoothing));

    [Fact]
    public void Properties_NameTheOptions()
    {
        Assert.True(Loss.CrossEntropyIgnoring(-100).UsesLabels);
        Assert.Equal("CrossEntropy(ignoreIndex: -100)", Loss.CrossEntropyIgnoring(-100).Name);
        Assert.Equal("CrossEntropy(labelSmoothing: 0.1, ignoreIndex: 0)", Loss.CrossEntropyIgnoring(0, 0.1f).Name);
        Assert.Equal("CrossEntropy(ignoreIndex: -100)", Loss.CrossEntropyIgnoring(-100, 0f).Name);
    }

    [Fact]
    public void Compute_SteadyState_AllocatesNothing()
    {
        const int rows = 64, classes = 37;
        var rng = new Rng(11);
        float[] x = RandomFloats(rng, rows * classes, 3), d = new float[x.Length];
        int[] labels = new int[rows];
        for (int r = 0; r < rows; r++) labels[r] = r % 5 == 0 ? -100 : rng.NextInt(classes);
        Loss[] losses = [Loss.CrossEntropyIgnoring(-100), Loss.CrossEntropyIgnoring(-100, 0.1f)];
        void Round()
        {
            foreach (Loss loss in losses) loss.Compute(x, labels, default, d, rows);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Round, callsPerWindow: 5, "Compute of CrossEntropyIgnoring", warmUpCalls: 1);
    }
}
