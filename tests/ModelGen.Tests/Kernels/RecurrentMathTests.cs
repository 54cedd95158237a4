// The LSTM cell's exponentials and its three-division update (RecurrentMath): σ(a)·tanh(b) as one quotient against float64
// at every vector width, over a dense grid and at the ends of the range (saturation both signs, NaN), and the interleaved
// Exp5 against the one-chain Exp bit for bit (the pipelined and per-row cell forms rely on it).
using System.Runtime.Intrinsics;
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class RecurrentMathTests
{
    private static readonly float[] Ends = [-1e30f, -1e4f, -100f, -50f, -44f, -43.5f, -43f, -22f, -21.5f, -10f, 0f, 10f, 21.5f, 22f, 43f, 43.5f, 44f, 50f, 100f, 1e4f, 1e30f];

    [Theory]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    public void SigmoidTimesTanh_Grid_WithinFloatErrorOfFloat64(int width)
    {
        double productAbs = 0, sigmoidAbs = 0, tanhAbs = 0;
        for (int p = -600; p <= 600; p++)
        {
            float a = p * 0.025f;   // [-15, 15]: where σ and tanh change
            var (s, _, _) = Eval(width, a, 0f);
            sigmoidAbs = Math.Max(sigmoidAbs, Math.Abs(s - Sigmoid(a)));
            for (int q = -300; q <= 300; q++)
            {
                float b = q * 0.025f + 0.0123f;   // [-7.5, 7.5], off the grid of a
                var (_, t, st) = Eval(width, a, b);
                tanhAbs = Math.Max(tanhAbs, Math.Abs(t - Math.Tanh(b)));
                productAbs = Math.Max(productAbs, Math.Abs(st - Sigmoid(a) * Math.Tanh(b)));
            }
        }
        // Measured on x64 at every width: σ·tanh 2.0e-7 (the two quotients multiplied, the form before: 2.6e-7); σ 8.4e-8 and
        // tanh 2.1e-7 as training keeps them (one division for both; FastSigmoid/FastTanh: 9.0e-8, 1.8e-7).
        Assert.True(productAbs <= 2.5e-7, $"σ(a)·tanh(b) absolute error {productAbs}, expected ≤ 2.5e-7");
        Assert.True(sigmoidAbs <= 1.5e-7, $"σ absolute error {sigmoidAbs}, expected ≤ 1.5e-7");
        Assert.True(tanhAbs <= 2.5e-7, $"tanh absolute error {tanhAbs}, expected ≤ 2.5e-7");
    }

    [Theory]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    public void SigmoidTimesTanh_LargeArgumentsBothSigns_SaturatesWithoutOverflow(int width)
    {
        // The clamp to CellExpHi keeps (1 + e^{−a})(1 + e^{−2b}) finite and its reciprocal normal: a product of two e^88 would be
        // ∞ and ∞/∞ NaN; of two e^44, a reciprocal below float.MinNormal that loses tanh's last bits.
        foreach (float a in Ends)
        {
            foreach (float b in Ends)
            {
                var (s, t, st) = Eval(width, a, b);
                Assert.True(float.IsFinite(s) && float.IsFinite(t) && float.IsFinite(st), $"a = {a}, b = {b}: σ {s}, tanh {t}, σ·tanh {st}");
                double expected = Sigmoid(a) * Math.Tanh(b);
                Assert.True(Math.Abs(st - expected) <= 2.5e-7, $"a = {a}, b = {b}: σ·tanh {st}, expected {expected}");
                Assert.True(Math.Abs(s - Sigmoid(a)) <= 1.5e-7, $"a = {a}: σ {s}, expected {Sigmoid(a)}");
                Assert.True(Math.Abs(t - Math.Tanh(b)) <= 2.5e-7, $"b = {b}: tanh {t}, expected {Math.Tanh(b)}");
            }
        }
        Assert.Equal(1f, Eval(width, 1e30f, 1e30f).Product);
        Assert.Equal(-1f, Eval(width, 1e30f, -1e30f).Product);
        Assert.Equal(0f, Eval(width, -1e30f, 1e30f).Product, 1e-18f);
        Assert.Equal(0f, Eval(width, 0f, 0f).Product);
        Assert.Equal(0.5f, Eval(width, 0f, 0f).Sigmoid);
    }

    [Theory]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    public void SigmoidTimesTanh_NaNInEitherArgument_IsNaN(int width)
    {
        Assert.True(float.IsNaN(Eval(width, float.NaN, 1f).Product), "NaN gate a");
        Assert.True(float.IsNaN(Eval(width, 1f, float.NaN).Product), "NaN gate b");
        Assert.True(float.IsNaN(Eval(width, float.NaN, 1f).Sigmoid), "σ(NaN)");
        Assert.True(float.IsNaN(Eval(width, 1f, float.NaN).Tanh), "tanh(NaN)");
    }

    [Fact]
    public void Exp5_EveryLane_BitIdenticalToExp()
    {
        // Five different argument sets through the interleaved form and one at a time: the same bits (16 lanes cover all widths).
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            float[][] args = Enumerable.Range(0, 5).Select(_ => Enumerable.Range(0, 16)
                .Select(_ => trial < 190 ? (float)(rng.NextDouble() * 60 - 30) : Ends[rng.Next(Ends.Length)]).ToArray()).ToArray();
            Check(args, Vector512.Create, v => v.AsInt32().ToString());
            Check(args, x => Vector256.Create(x.AsSpan(0, 8)), v => v.AsInt32().ToString());
            Check(args, x => Vector128.Create(x.AsSpan(0, 4)), v => v.AsInt32().ToString());
        }

        static void Check<TV>(float[][] a, Func<float[], TV> load, Func<TV, string> bits) where TV : struct
        {
            TV i = load(a[0]), f = load(a[1]), g = load(a[2]), o = load(a[3]), c = load(a[4]);
            RecurrentMath.Exp5(ref i, ref f, ref g, ref o, ref c);
            TV m2 = Simd.Broadcast<TV>(-2f);
            Assert.Equal(bits(RecurrentMath.Exp(RecurrentMath.Negate(load(a[0])))), bits(i));
            Assert.Equal(bits(RecurrentMath.Exp(RecurrentMath.Negate(load(a[1])))), bits(f));
            Assert.Equal(bits(RecurrentMath.Exp(Simd.Multiply(m2, load(a[2])))), bits(g));
            Assert.Equal(bits(RecurrentMath.Exp(RecurrentMath.Negate(load(a[3])))), bits(o));
            Assert.Equal(bits(RecurrentMath.Exp(Simd.Multiply(m2, load(a[4])))), bits(c));
        }
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>σ(a), tanh(b) (as training keeps them) and σ(a)·tanh(b) as the LSTM cell computes them at the given width.</summary>
    private static (float Sigmoid, float Tanh, float Product) Eval(int width, float a, float b) => width switch
    {
        128 => Eval(Vector128.Create(a), Vector128.Create(b), v => v.ToScalar()),
        256 => Eval(Vector256.Create(a), Vector256.Create(b), v => v.ToScalar()),
        _ => Eval(Vector512.Create(a), Vector512.Create(b), v => v.ToScalar()),
    };

    private static (float, float, float) Eval<TV>(TV a, TV b, Func<TV, float> first) where TV : struct
    {
        TV ea = RecurrentMath.Exp(RecurrentMath.Negate(a)), tb = RecurrentMath.Exp(Simd.Multiply(Simd.Broadcast<TV>(-2f), b));
        RecurrentMath.SigmoidAndTanh(ea, tb, out TV sigmoid, out TV tanh);
        return (first(sigmoid), first(tanh), first(RecurrentMath.SigmoidTimesTanh(ea, tb)));
    }
}
