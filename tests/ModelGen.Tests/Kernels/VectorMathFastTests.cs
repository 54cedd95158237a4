// VectorMath.FastExp / FastSigmoid / FastTanh (the recurrent cells' inlined transcendental functions) against float64 at
// every vector width, over a dense grid and the ends of the range, including inputs whose e^x would over- or underflow.
using System.Runtime.Intrinsics;
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class VectorMathFastTests
{
    private static IEnumerable<float> Grid()
    {
        for (int i = -200_000; i <= 200_000; i++) yield return i * 5e-4f;   // [-100, 100], step 5e-4
        foreach (float x in new[] { -1e30f, -1e4f, -88.5f, -87.4f, -87.3f, -86.5f, -86.4f, 88.3f, 88.4f, 89f, 1e4f, 1e30f, 1e-20f, -1e-20f, 0f })
            yield return x;
    }

    [Theory]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    public void FastFunctions_StayWithinTheirDocumentedErrors(int width)
    {
        double expExcess = 0, sigAbs = 0, tanhAbs = 0;
        foreach (float x in Grid())
        {
            var (e, s, t) = Eval(width, x);
            Assert.True(float.IsFinite(e) && float.IsFinite(s) && float.IsFinite(t), $"x = {x}: exp {e}, σ {s}, tanh {t}");
            // exp's one-step reduction (where multiply-add is fused) adds up to |n|·1.9e-9 (n = round(x·log2 e)) to the polynomial's error.
            if (x >= VectorMath.ExpLo && x <= VectorMath.ExpHi)
                expExcess = Math.Max(expExcess, Math.Abs(e - Math.Exp(x)) / Math.Exp(x) - 2e-9 * Math.Abs(Math.Round(x / Math.Log(2))));
            sigAbs = Math.Max(sigAbs, Math.Abs(s - 1 / (1 + Math.Exp(-(double)x))));
            tanhAbs = Math.Max(tanhAbs, Math.Abs(t - Math.Tanh(x)));
        }
        // Measured on x64 (KernelBench accuracy, every width): σ 9.0e-8, tanh 1.8e-7 absolute.
        Assert.True(expExcess <= 2e-7, $"exp relative error beyond |n|·2e-9: {expExcess}");
        Assert.True(sigAbs <= 1.5e-7, $"σ absolute error {sigAbs}");
        Assert.True(tanhAbs <= 2.5e-7, $"tanh absolute error {tanhAbs}");
    }

    [Fact]
    public void FastFunctions_SaturateExactly()
    {
        foreach (int width in new[] { 128, 256, 512 })
        {
            Assert.Equal(1f, Eval(width, 60f).Sigmoid);
            Assert.Equal(0f, Eval(width, -1e30f).Sigmoid, 1e-37f);
            Assert.Equal(1f, Eval(width, 20f).Tanh);
            Assert.Equal(-1f, Eval(width, -20f).Tanh);
            Assert.Equal(0f, Eval(width, 0f).Tanh);
            Assert.Equal(0.5f, Eval(width, 0f).Sigmoid);
            Assert.Equal(1f, Eval(width, 0f).Exp);
        }
    }

    private static (float Exp, float Sigmoid, float Tanh) Eval(int width, float x) => width switch
    {
        128 => (VectorMath.FastExp(Vector128.Create(x)).ToScalar(), VectorMath.FastSigmoid(Vector128.Create(x)).ToScalar(), VectorMath.FastTanh(Vector128.Create(x)).ToScalar()),
        256 => (VectorMath.FastExp(Vector256.Create(x)).ToScalar(), VectorMath.FastSigmoid(Vector256.Create(x)).ToScalar(), VectorMath.FastTanh(Vector256.Create(x)).ToScalar()),
        _ => (VectorMath.FastExp(Vector512.Create(x)).ToScalar(), VectorMath.FastSigmoid(Vector512.Create(x)).ToScalar(), VectorMath.FastTanh(Vector512.Create(x)).ToScalar()),
    };
}
