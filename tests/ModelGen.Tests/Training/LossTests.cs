// Losses against double-precision scalar references written straight from PyTorch's definitions, gradients against
// central finite differences of those references, at widths that exercise every SIMD tier and tail.
using ModelGen;

namespace ModelGen.Tests.Training;

public class LossTests
{
    private static readonly int[] s_widths = [1, 3, 10, 17, 33, 64, 71];

    // ---- double-precision references (PyTorch definitions, reduction='mean') ----

    /// <summary>nn.CrossEntropyLoss(label_smoothing=eps): mean_b Σ_c -q_c·log_softmax(x_b)_c, q = (1-eps)·onehot + eps/C.</summary>
    private static double ReferenceCrossEntropy(double[] x, int[] labels, int batch, double eps)
    {
        int classes = x.Length / batch;
        double total = 0;
        for (int b = 0; b < batch; b++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++) max = Math.Max(max, x[b * classes + c]);
            double sum = 0;
            for (int c = 0; c < classes; c++) sum += Math.Exp(x[b * classes + c] - max);
            double lse = max + Math.Log(sum);
            for (int c = 0; c < classes; c++)
            {
                double q = (c == labels[b] ? 1 - eps : 0) + eps / classes;
                total -= q * (x[b * classes + c] - lse);
            }
        }
        return total / batch;
    }

    /// <summary>nn.MSELoss(): mean (x - t)².</summary>
    private static double ReferenceMse(double[] x, float[] t)
    {
        double total = 0;
        for (int i = 0; i < x.Length; i++) total += (x[i] - t[i]) * (x[i] - t[i]);
        return total / x.Length;
    }

    /// <summary>nn.BCEWithLogitsLoss(): mean -[t·log σ(x) + (1-t)·log(1-σ(x))], in the stable form.</summary>
    private static double ReferenceBce(double[] x, float[] t)
    {
        double total = 0;
        for (int i = 0; i < x.Length; i++)
            total += Math.Max(x[i], 0) - x[i] * t[i] + Math.Log(1 + Math.Exp(-Math.Abs(x[i])));
        return total / x.Length;
    }

    private static float[] RandomFloats(Rng rng, int n, double scale)
    {
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float)(scale * (2 * rng.NextDouble() - 1));
        return values;
    }

    private static int[] RandomLabels(Rng rng, int batch, int classes)
    {
        var labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = rng.NextInt(classes);
        return labels;
    }

    private static double[] ToDouble(float[] x) => Array.ConvertAll(x, v => (double)v);

    private static void AssertClose(double expected, double actual, double relative, double absolute, string what)
    {
        double tolerance = absolute + relative * Math.Abs(expected);
        Assert.True(Math.Abs(expected - actual) <= tolerance,
            $"{what}: expected {expected:R}, actual {actual:R}, |diff| {Math.Abs(expected - actual):E3} > tolerance {tolerance:E3}");
    }

    /// <summary>Central differences of <paramref name="f"/> at <paramref name="x"/> (double precision) against the float gradient.</summary>
    private static void AssertGradientMatchesFiniteDifferences(Func<double[], double> f, float[] x, float[] gradient, string what)
    {
        const double h = 1e-4;
        double[] xd = ToDouble(x);
        for (int i = 0; i < x.Length; i++)
        {
            double saved = xd[i];
            xd[i] = saved + h;
            double plus = f(xd);
            xd[i] = saved - h;
            double minus = f(xd);
            xd[i] = saved;
            AssertClose((plus - minus) / (2 * h), gradient[i], 1e-3, 2e-6, $"{what} d/dx[{i}]");
        }
    }

    public static TheoryData<float> Smoothings => new() { 0f, 0.1f, 0.5f, 1f };

    [Theory]
    [MemberData(nameof(Smoothings))]
    public void CrossEntropy_RandomLogits_MatchesReferenceAndFiniteDifferences(float smoothing)
    {
        Loss loss = Loss.CrossEntropyWithLabelSmoothing(smoothing);
        var rng = new Rng(1234);
        foreach (int width in s_widths)
        foreach (int batch in new[] { 1, 3 })
        {
            float[] x = RandomFloats(rng, batch * width, 4);
            int[] labels = RandomLabels(rng, batch, width);
            var d = new float[x.Length];
            float value = loss.Compute(x, labels, default, d, batch);

            string what = $"{loss.Name} width {width} batch {batch}";
            AssertClose(ReferenceCrossEntropy(ToDouble(x), labels, batch, smoothing), value, 1e-5, 1e-6, what);
            AssertGradientMatchesFiniteDifferences(xs => ReferenceCrossEntropy(xs, labels, batch, smoothing), x, d, what);
        }
    }

    [Fact]
    public void CrossEntropy_ExtremeLogits_FiniteAndExact()
    {
        // Rows mixing ±1e4: naive exp overflows; the max-subtracted form must give the exact answer.
        const int batch = 3, width = 17;
        var x = new float[batch * width];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 3 == 0) ? 1e4f : (i % 3 == 1 ? -1e4f : 0f);
        int[] labels = [0, 1, 5];  // row 0: the label is a max logit; row 1: a -1e4 logit; row 2: a 0 logit
        foreach (float smoothing in new[] { 0f, 0.1f })
        {
            Loss loss = Loss.CrossEntropyWithLabelSmoothing(smoothing);
            var d = new float[x.Length];
            float value = loss.Compute(x, labels, default, d, batch);
            Assert.True(float.IsFinite(value), $"{loss.Name}: loss {value}");
            Assert.All(d, v => Assert.True(float.IsFinite(v), $"{loss.Name}: gradient {v}"));
            AssertClose(ReferenceCrossEntropy(ToDouble(x), labels, batch, smoothing), value, 1e-6, 1e-4, loss.Name);
            for (int b = 0; b < batch; b++)
            {
                double rowSum = 0;
                for (int c = 0; c < width; c++) rowSum += d[b * width + c];
                AssertClose(0, rowSum, 0, 1e-6, $"{loss.Name} row {b} gradient sum");  // Σ_c (p_c - q_c) = 0
            }
        }
    }

    [Fact]
    public void CrossEntropy_UniformLogits_IsLogOfClassCount()
    {
        var x = new float[10];
        var d = new float[10];
        float value = Loss.CrossEntropy.Compute(x, [7], default, d, 1);
        AssertClose(Math.Log(10), value, 1e-6, 0, "CE of uniform logits");
        for (int c = 0; c < 10; c++) AssertClose(c == 7 ? 0.1 - 1 : 0.1, d[c], 1e-6, 1e-7, $"d[{c}]");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5)]
    [InlineData(int.MaxValue)]
    public void CrossEntropy_LabelOutOfRange_ThrowsNamingBatchIndexLabelAndClassCount(int badLabel)
    {
        var x = new float[3 * 5];
        var d = new float[x.Length];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Loss.CrossEntropy.Compute(x, [0, badLabel, 1], default, d, 3));
        Assert.Contains($"label {badLabel}", ex.Message);
        Assert.Contains("batch index 1", ex.Message);
        Assert.Contains("5 classes", ex.Message);
        Assert.All(d, v => Assert.Equal(0f, v));  // validated before anything is written
    }

    [Fact]
    public void CrossEntropy_LabelsLengthMismatch_ThrowsWithExpectedAndActual()
    {
        var x = new float[6];
        var ex = Assert.Throws<ArgumentException>(() => Loss.CrossEntropy.Compute(x, [0], default, new float[6], 2));
        Assert.Contains("batch size 2", ex.Message);
        Assert.Contains("was 1", ex.Message);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void CrossEntropyWithLabelSmoothing_OutOfRange_Throws(float smoothing)
        => Assert.Throws<ArgumentOutOfRangeException>(() => Loss.CrossEntropyWithLabelSmoothing(smoothing));

    [Fact]
    public void MeanSquaredError_Random_MatchesReferenceAndFiniteDifferences()
    {
        var rng = new Rng(99);
        foreach (int width in s_widths)
        foreach (int batch in new[] { 1, 4 })
        {
            float[] x = RandomFloats(rng, batch * width, 3);
            float[] t = RandomFloats(rng, batch * width, 3);
            var d = new float[x.Length];
            float value = Loss.MeanSquaredError.Compute(x, default, t, d, batch);
            string what = $"MSE width {width} batch {batch}";
            AssertClose(ReferenceMse(ToDouble(x), t), value, 1e-5, 1e-7, what);
            AssertGradientMatchesFiniteDifferences(xs => ReferenceMse(xs, t), x, d, what);
        }
    }

    [Fact]
    public void BinaryCrossEntropyWithLogits_Random_MatchesReferenceAndFiniteDifferences()
    {
        var rng = new Rng(7);
        foreach (int width in s_widths)
        foreach (int batch in new[] { 1, 4 })
        {
            float[] x = RandomFloats(rng, batch * width, 6);
            var t = new float[x.Length];
            for (int i = 0; i < t.Length; i++) t[i] = (i % 4) switch { 0 => 0f, 1 => 1f, _ => rng.NextFloat() };  // hard and soft targets
            var d = new float[x.Length];
            float value = Loss.BinaryCrossEntropyWithLogits.Compute(x, default, t, d, batch);
            string what = $"BCE width {width} batch {batch}";
            AssertClose(ReferenceBce(ToDouble(x), t), value, 1e-5, 1e-7, what);
            AssertGradientMatchesFiniteDifferences(xs => ReferenceBce(xs, t), x, d, what);
        }
    }

    [Fact]
    public void BinaryCrossEntropyWithLogits_ExtremeLogits_FiniteAndExact()
    {
        float[] x = [1e4f, -1e4f, 1e4f, -1e4f, 30f, -30f, 20f, -20f, 0f, 1e4f, -1e4f, 88f, -88f, 100f, -100f, 17f, -17f];
        float[] t = [1f, 0f, 0f, 1f, 1f, 0f, 1f, 0f, 0.5f, 0.5f, 0.5f, 1f, 0f, 1f, 1f, 0f, 1f];
        var d = new float[x.Length];
        float value = Loss.BinaryCrossEntropyWithLogits.Compute(x, default, t, d, 1);
        Assert.True(float.IsFinite(value));
        AssertClose(ReferenceBce(ToDouble(x), t), value, 1e-6, 1e-6, "BCE extreme");
        for (int i = 0; i < x.Length; i++)
        {
            double sigmoid = 1 / (1 + Math.Exp(-(double)x[i]));
            AssertClose((sigmoid - t[i]) / x.Length, d[i], 1e-5, 1e-9, $"d[{i}]");
        }
    }

    [Fact]
    public void BinaryCrossEntropyWithLogits_ConfidentAndRight_KeepsTinyLoss()
    {
        // log(1 + e^-20) ≈ 2.06e-9 is below float's resolution next to 1; the log1p correction must keep it.
        var d = new float[1];
        float value = Loss.BinaryCrossEntropyWithLogits.Compute([20f], default, [1f], d, 1);
        AssertClose(Math.Log(1 + Math.Exp(-20.0)), value, 1e-4, 0, "BCE at x=20, t=1");
    }

    [Fact]
    public void ElementwiseLosses_TargetsLengthMismatch_ThrowWithExpectedAndActual()
    {
        foreach (Loss loss in new[] { Loss.MeanSquaredError, Loss.BinaryCrossEntropyWithLogits })
        {
            var ex = Assert.Throws<ArgumentException>(() => loss.Compute(new float[6], default, new float[5], new float[6], 2));
            Assert.Contains("must be 6", ex.Message);
            Assert.Contains("was 5", ex.Message);
        }
    }

    [Fact]
    public void Compute_BadShapes_Throw()
    {
        foreach (Loss loss in new[] { Loss.CrossEntropy, Loss.MeanSquaredError, Loss.BinaryCrossEntropyWithLogits })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => loss.Compute(new float[4], new int[1], new float[4], new float[4], 0));
            var notMultiple = Assert.Throws<ArgumentException>(() => loss.Compute(new float[5], new int[2], new float[5], new float[5], 2));
            Assert.Contains("output length 5", notMultiple.Message);
            var badGradient = Assert.Throws<ArgumentException>(() => loss.Compute(new float[4], new int[2], new float[4], new float[3], 2));
            Assert.Contains("was 3", badGradient.Message);
        }
    }

    [Fact]
    public void Properties_DescribeEachLoss()
    {
        Assert.True(Loss.CrossEntropy.UsesLabels);
        Assert.True(Loss.CrossEntropyWithLabelSmoothing(0.1f).UsesLabels);
        Assert.False(Loss.MeanSquaredError.UsesLabels);
        Assert.False(Loss.BinaryCrossEntropyWithLogits.UsesLabels);
        Assert.Equal("CrossEntropy", Loss.CrossEntropy.Name);
        Assert.Equal("CrossEntropy(labelSmoothing: 0.1)", Loss.CrossEntropyWithLabelSmoothing(0.1f).Name);
        Assert.Equal("MeanSquaredError", Loss.MeanSquaredError.ToString());
        Assert.Same(Loss.CrossEntropy, Loss.CrossEntropy);
    }

    [Fact]
    public void Compute_SteadyState_AllocatesNothing()
    {
        const int batch = 8, width = 37;
        var rng = new Rng(5);
        float[] x = RandomFloats(rng, batch * width, 3), t = RandomFloats(rng, batch * width, 1), d = new float[batch * width];
        int[] labels = RandomLabels(rng, batch, width);
        Loss[] losses = [Loss.CrossEntropy, Loss.CrossEntropyWithLabelSmoothing(0.2f), Loss.MeanSquaredError, Loss.BinaryCrossEntropyWithLogits];
        void Round()
        {
            foreach (Loss loss in losses) loss.Compute(x, labels, t, d, batch);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Round, callsPerWindow: 10, "Compute of each loss", warmUpCalls: 1);   // warm-up: JIT, statics
    }
}
