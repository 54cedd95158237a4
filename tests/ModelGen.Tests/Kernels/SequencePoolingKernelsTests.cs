// Pooling over time with per-example lengths: forward against the double/scalar references at feature counts that
// hit every vector tier and tail, with NaN and ±∞ planted in the padded steps (they must never reach the output or
// the real gradients), backward against float64 central differences, max's tie/NaN rules and argmax, validation
// messages, and zero steady-state allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class SequencePoolingKernelsTests
{
    private const int Batch = 3, Seq = 6;

    public static TheoryData<int, bool> Cases()
    {
        var data = new TheoryData<int, bool>();
        foreach (int features in new[] { 1, 3, 4, 7, 17, 33, 64, 69 })
        {
            data.Add(features, true);
            data.Add(features, false);
        }
        return data;
    }

    private static int[] Lengths(bool padded) => padded ? [6, 1, 4] : [];

    /// <summary>Random values in the real steps; NaN, +∞ and huge values in the padded ones.</summary>
    private static float[] SequenceInput(int features, int[] lengths, ulong seed)
    {
        float[] x = Uniform(Batch * Seq * features, seed, -3f, 3f);
        for (int b = 0; b < lengths.Length; b++)
            for (int t = lengths[b]; t < Seq; t++)
                for (int f = 0; f < features; f++)
                    x[(b * Seq + t) * features + f] = (t + f) % 3 switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => 1e30f };
        return x;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Avg_ForwardBackward_MatchReferenceAndFiniteDifferences(int features, bool padded)
    {
        int[] lengths = Lengths(padded);
        float[] x = SequenceInput(features, lengths, (ulong)features);
        float[] y = new float[Batch * features];
        SequencePoolingKernels.AvgForward(x, y, lengths, Batch, Seq, features);
        double[] xd = Array.ConvertAll(x, v => (double)v), expected = new double[y.Length];
        SequencePoolingKernels.ReferenceAvgForward(xd, expected, lengths, Batch, Seq, features);
        string where = $"features={features} padded={padded}";
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-6, $"{where}: y[{i}] = {y[i]} vs {expected[i]}");

        float[] dy = Uniform(y.Length, (ulong)features + 1), dX = new float[x.Length];
        Array.Fill(dX, float.NaN);
        SequencePoolingKernels.AvgBackward(dy, dX, lengths, Batch, Seq, features);
        AssertPaddedZero(dX, lengths, features, where);
        double Loss(double[] p)
        {
            var o = new double[y.Length];
            SequencePoolingKernels.ReferenceAvgForward(p, o, lengths, Batch, Seq, features);
            double loss = 0;
            for (int i = 0; i < o.Length; i++) loss += dy[i] * o[i];
            return loss;
        }
        // Differences are taken at real steps only (the padded ones hold NaN by design).
        double[] clean = (double[])xd.Clone();
        for (int i = 0; i < clean.Length; i++) if (!double.IsFinite(clean[i]) || Math.Abs(clean[i]) > 1e20) clean[i] = 0;
        FiniteDifference.Check(where, "dX", dX, null, clean, Loss, samples: 80);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Max_ForwardBackward_MatchReferenceAndFiniteDifferences(int features, bool padded)
    {
        int[] lengths = Lengths(padded);
        float[] x = SequenceInput(features, lengths, (ulong)features + 1000);
        float[] y = new float[Batch * features], expected = new float[y.Length];
        int[] argmax = new int[y.Length], expectedArgmax = new int[y.Length];
        SequencePoolingKernels.MaxForward(x, y, argmax, lengths, Batch, Seq, features);
        SequencePoolingKernels.ReferenceMaxForward(x, expected, expectedArgmax, lengths, Batch, Seq, features);
        Assert.Equal(expected, y);
        Assert.Equal(expectedArgmax, argmax);
        float[] inference = new float[y.Length];
        SequencePoolingKernels.MaxForward(x, inference, [], lengths, Batch, Seq, features);
        Assert.Equal(y, inference);

        float[] dy = Uniform(y.Length, (ulong)features + 2), dX = new float[x.Length];
        Array.Fill(dX, float.NaN);
        SequencePoolingKernels.MaxBackward(dy, argmax, dX, Batch, Seq, features);
        string where = $"features={features} padded={padded}";
        AssertPaddedZero(dX, lengths, features, where);
        // Σ dy·max over the real steps in double (the padded steps hold NaN/∞ and are never read).
        double[] clean = Array.ConvertAll(x, v => float.IsFinite(v) && Math.Abs(v) < 1e20 ? (double)v : 0);
        double Loss(double[] p)
        {
            double loss = 0;
            for (int b = 0; b < Batch; b++)
                for (int f = 0; f < features; f++)
                {
                    double max = double.NegativeInfinity;
                    for (int t = 0; t < (padded ? lengths[b] : Seq); t++) max = Math.Max(max, p[(b * Seq + t) * features + f]);
                    loss += dy[b * features + f] * max;
                }
            return loss;
        }
        FiniteDifference.Check(where, "dX", dX, null, clean, Loss, samples: 80);
    }

    [Fact]
    public void MaxForward_TiesAndNaN_FollowPyTorchRule()
    {
        // One column per vector lane pattern: ties keep the first step; NaN wins and the last NaN's step is kept;
        // -0 then +0 keeps -0 (not greater). 37 features so the 512/256/128 paths and the scalar tail all see them.
        const int seq = 5, features = 37;
        float[] x = new float[seq * features];
        for (int f = 0; f < features; f++)
        {
            float[] column = (f % 4) switch
            {
                0 => [1f, 2f, 2f, 0f, 2f],                           // tie → step 1
                1 => [1f, float.NaN, 5f, float.NaN, 9f],             // NaN → last NaN, step 3
                2 => [-0f, 0f, -1f, -2f, -3f],                      // -0 stays, step 0
                _ => [float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity],
            };
            for (int t = 0; t < seq; t++) x[t * features + f] = column[t];
        }
        float[] y = new float[features];
        int[] argmax = new int[features];
        SequencePoolingKernels.MaxForward(x, y, argmax, [], 1, seq, features);
        for (int f = 0; f < features; f++)
        {
            (float value, int step) = (f % 4) switch { 0 => (2f, 1), 1 => (float.NaN, 3), 2 => (-0f, 0), _ => (float.NegativeInfinity, 0) };
            Assert.Equal(value, y[f]);
            Assert.Equal(step, argmax[f]);
            if (f % 4 == 2) Assert.True(float.IsNegative(y[f]), $"feature {f}: expected -0");
        }
    }

    [Fact]
    public void AvgForward_LengthOne_IsFirstStep()
    {
        const int features = 9;
        float[] x = Uniform(2 * Seq * features, 5), y = new float[2 * features];
        SequencePoolingKernels.AvgForward(x, y, [1, 1], 2, Seq, features);
        for (int f = 0; f < features; f++)
        {
            Assert.Equal(x[f], y[f]);
            Assert.Equal(x[Seq * features + f], y[features + f]);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(-1)]
    public void Forward_BadLength_ThrowsNamingExampleLengthAndSeq(int bad)
    {
        int[] lengths = [6, bad, 2];
        var avg = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SequencePoolingKernels.AvgForward(new float[Batch * Seq * 2], new float[Batch * 2], lengths, Batch, Seq, 2));
        Assert.Contains($"Example 1 has length {bad}", avg.Message);
        Assert.Contains("seq = 6", avg.Message);
        Assert.Equal("lengths", avg.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            SequencePoolingKernels.MaxForward(new float[Batch * Seq * 2], new float[Batch * 2], [], lengths, Batch, Seq, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            SequencePoolingKernels.AvgBackward(new float[Batch * 2], new float[Batch * Seq * 2], lengths, Batch, Seq, 2));
    }

    [Fact]
    public void Forward_WrongShapes_ThrowNamingOperand()
    {
        var lengths = Assert.Throws<ArgumentException>(() =>
            SequencePoolingKernels.AvgForward(new float[Batch * Seq * 2], new float[Batch * 2], [1, 2], Batch, Seq, 2));
        Assert.Equal("lengths", lengths.ParamName);
        Assert.Contains("must have 3 elements", lengths.Message);
        var output = Assert.Throws<ArgumentException>(() =>
            SequencePoolingKernels.MaxForward(new float[Batch * Seq * 2], new float[5], [], [], Batch, Seq, 2));
        Assert.Equal("output", output.ParamName);
        var argmax = Assert.Throws<ArgumentException>(() =>
            SequencePoolingKernels.MaxForward(new float[Batch * Seq * 2], new float[6], new int[5], [], Batch, Seq, 2));
        Assert.Equal("argmax", argmax.ParamName);
        var input = Assert.Throws<ArgumentException>(() =>
            SequencePoolingKernels.AvgForward(new float[30], new float[Batch * 2], [], Batch, Seq, 2));
        Assert.Contains("([batch=3, seq·features=12]) but has 30", input.Message);
    }

    [Fact]
    public void MaxBackward_ArgmaxOutOfRange_ThrowsAndWritesNothing()
    {
        float[] dX = Enumerable.Repeat(7f, 2 * Seq).ToArray();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => SequencePoolingKernels.MaxBackward([1f, 2f], [0, Seq], dX, 2, Seq, 1));
        Assert.Contains("'argmax[1]' must be a step in [0, 6) but is 6", ex.Message);
        Assert.All(dX, v => Assert.Equal(7f, v));
    }

    [Fact]
    public void ForwardBackward_SteadyState_AllocatesNothing()
    {
        const int batch = 8, seq = 50, features = 67;
        int[] lengths = [50, 1, 20, 33, 50, 49, 2, 17];
        float[] x = Uniform(batch * seq * features, 1), y = new float[batch * features], dX = new float[x.Length];
        int[] argmax = new int[y.Length];
        void Step()
        {
            SequencePoolingKernels.AvgForward(x, y, lengths, batch, seq, features);
            SequencePoolingKernels.AvgBackward(y, dX, lengths, batch, seq, features);
            SequencePoolingKernels.MaxForward(x, y, argmax, lengths, batch, seq, features);
            SequencePoolingKernels.MaxBackward(y, argmax, dX, batch, seq, features);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, "sequence Avg/Max Forward + Backward", warmUpCalls: 1);
    }

    private static void AssertPaddedZero(float[] dX, int[] lengths, int features, string where)
    {
        for (int b = 0; b < lengths.Length; b++)
            for (int t = lengths[b]; t < Seq; t++)
                for (int f = 0; f < features; f++)
                    Assert.True(dX[(b * Seq + t) * features + f] == 0f, $"{where}: padded dX[{b}, {t}, {f}] = {dX[(b * Seq + t) * features + f]}");
        Assert.All(dX, v => Assert.False(float.IsNaN(v), $"{where}: NaN left in dX"));
    }
}
