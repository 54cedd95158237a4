// Activation operators through Elementwise: forward against float64 references over a wide sweep (every SIMD
// width plus scalar tails), derivatives against central finite differences in float64, in-place use, and the
// large-|x| stability the brief requires (no NaN/inf for finite inputs).
using System.Runtime.Intrinsics;
using ModelGen.Kernels;
using Xunit.Abstractions;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class ActivationTests(ITestOutputHelper output)
{
    public static TheoryData<string> Names() => new(ActivationNames);

    // Forward tolerance: |f − ref| ≤ 1e-6 + 2e-6·|ref| (a few float ulps; any formula error is far larger).
    private static bool ForwardClose(float actual, double expected) => Math.Abs(actual - expected) <= 1e-6 + 2e-6 * Math.Abs(expected);

    // Derivative tolerance against a float64 central difference.
    private static bool DerivativeClose(float actual, double expected) => Math.Abs(actual - expected) <= 1e-5 + 1e-5 * Math.Abs(expected);

    private static float[] Sweep()
    {
        var xs = new List<float>();
        for (int i = -30_000; i <= 30_000; i++) xs.Add(i * 1e-3f);
        xs.AddRange([100f, -100f, 1e4f, -1e4f, 1e30f, -1e30f, float.MaxValue, -float.MaxValue, 0f, -0f, 1e-30f, -1e-30f]);
        return xs.ToArray();
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Forward_SweepIncludingLargeMagnitudes_MatchesDoubleReference(string name)
    {
        float[] x = Sweep();
        float[] y = new float[x.Length];
        Dispatch.Forward(name, x, y);
        double maxAbs = 0, maxRel = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double r = Reference(name, x[i]);
            Assert.True(float.IsFinite(y[i]), $"{name}({x[i]}) = {y[i]} is not finite");
            Assert.True(ForwardClose(y[i], r), $"{name}({x[i]:R}) = {y[i]:R}, expected {r:R}");
            if (Math.Abs(x[i]) <= 30)
            {
                double e = Math.Abs(y[i] - r);
                maxAbs = Math.Max(maxAbs, e);
                if (Math.Abs(r) > 1e-3) maxRel = Math.Max(maxRel, e / Math.Abs(r));
            }
        }
        output.WriteLine($"{name}: forward max abs error {maxAbs:E2}, max rel error (|f| > 1e-3) {maxRel:E2}");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Backward_Sweep_MatchesFiniteDifferences(string name)
    {
        var xs = new List<float>();
        for (int i = -3000; i <= 3000; i++) xs.Add(i * 1e-2f + 0.003f); // offset keeps ReLU's kink out of the stencil
        xs.AddRange([100f, -100f, 1e4f, -1e4f, 1e30f, -1e30f]);
        float[] x = xs.ToArray();
        float[] y = new float[x.Length], dy = new float[x.Length], dx = new float[x.Length];
        Array.Fill(dy, 1f);
        Dispatch.Forward(name, x, y);
        Dispatch.Backward(name, dy, x, y, dx);
        double maxAbs = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double fd = ReferenceDerivative(name, x[i]);
            Assert.True(float.IsFinite(dx[i]), $"{name}'({x[i]}) = {dx[i]} is not finite");
            Assert.True(DerivativeClose(dx[i], fd), $"{name}'({x[i]:R}) = {dx[i]:R}, finite difference {fd:R}");
            maxAbs = Math.Max(maxAbs, Math.Abs(dx[i] - fd));
        }
        output.WriteLine($"{name}: derivative max abs error vs float64 central difference {maxAbs:E2}");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ForwardBackward_EveryLengthUpTo70_MatchReferencesAndAllowAliasing(string name)
    {
        for (int n = 0; n <= 70; n++)
        {
            float[] x = Uniform(n, (ulong)(1000 + n), -6f, 6f);
            for (int i = 0; i < n; i++) if (HasKinkAtZero(name) && Math.Abs(x[i]) < 1e-3f) x[i] = 0.5f;
            float[] y = new float[n];
            Dispatch.Forward(name, x, y);
            for (int i = 0; i < n; i++)
                Assert.True(ForwardClose(y[i], Reference(name, x[i])), $"{name} n={n} i={i}: {y[i]:R} vs {Reference(name, x[i]):R}");

            float[] inPlace = (float[])x.Clone();
            Dispatch.Forward(name, inPlace, inPlace);
            Assert.Equal(y, inPlace);

            float[] dy = Uniform(n, (ulong)(2000 + n));
            float[] dx = new float[n];
            Dispatch.Backward(name, dy, x, y, dx);
            for (int i = 0; i < n; i++)
            {
                double expected = dy[i] * ReferenceDerivative(name, x[i]);
                Assert.True(DerivativeClose(dx[i], expected), $"{name} n={n} i={i}: {dx[i]:R} vs {expected:R}");
            }
            Dispatch.Backward(name, dy, x, y, dy); // dInput aliasing dOutput
            Assert.Equal(dx, dy);
        }
    }

    /// <summary>
    /// Calls every width's Invoke/Derivative directly, so widths the CPU lacks (software-emulated by the BCL) are
    /// verified too: CI machines without AVX-512 would otherwise never run the Vector512 code.
    /// </summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void InvokeAndDerivative_EveryVectorWidth_MatchReferences(string name)
    {
        float[] x = new float[4096];
        for (int i = 0; i < x.Length; i++) x[i] = -20.48f + i * 0.01f + 0.003f;
        float[] y128 = new float[x.Length], y256 = new float[x.Length], y512 = new float[x.Length];
        float[] d128 = new float[x.Length], d256 = new float[x.Length], d512 = new float[x.Length];
        Dispatch.Widths(name, x, y128, y256, y512, d128, d256, d512);
        for (int i = 0; i < x.Length; i++)
        {
            double r = Reference(name, x[i]), dr = ReferenceDerivative(name, x[i]);
            foreach (var (y, d, w) in new[] { (y128, d128, 128), (y256, d256, 256), (y512, d512, 512) })
            {
                Assert.True(ForwardClose(y[i], r), $"{name} V{w}({x[i]:R}) = {y[i]:R}, expected {r:R}");
                Assert.True(DerivativeClose(d[i], dr), $"{name}' V{w}({x[i]:R}) = {d[i]:R}, expected {dr:R}");
            }
        }
    }

    [Fact]
    public void Relu_DerivativeAtZero_IsZero()
    {
        float[] x = new float[40], y = new float[40], dy = new float[40], dx = new float[40];
        Array.Fill(dy, 1f);
        Elementwise.Backward(new ReluActivation(), dy, x, y, dx);
        Assert.All(dx, d => Assert.Equal(0f, d));
    }

    [Fact]
    public void StableValues_AtLargeMagnitudes_MatchPyTorch()
    {
        float[] x = [-100f, 50f, -30f, 30f];
        float[] y = new float[4];
        Elementwise.Forward(new SigmoidActivation(), x, y);
        Assert.Equal(0f, y[0], 1e-30f);
        Elementwise.Forward(new TanhActivation(), x, y);
        Assert.Equal(1f, y[1]);
        Elementwise.Forward(new GeluActivation(), x, y);
        Assert.Equal(0f, y[2]);
        Assert.Equal(30f, y[3]);
        Elementwise.Forward(new GeluTanhActivation(), x, y);
        Assert.Equal(0f, y[2]);
        Assert.Equal(30f, y[3]);
    }

    [Fact]
    public void Forward_LengthMismatch_ThrowsNamingOutput()
    {
        var ex = Assert.Throws<ArgumentException>(() => Elementwise.Forward(new ReluActivation(), new float[5], new float[4]));
        Assert.Equal("output", ex.ParamName);
        Assert.Contains("5", ex.Message);
        Assert.Contains("4", ex.Message);
    }

    [Fact]
    public void Forward_PartialOverlap_Throws()
    {
        float[] buffer = new float[20];
        Assert.Throws<ArgumentException>(() => Elementwise.Forward(new ReluActivation(), buffer.AsSpan(0, 10), buffer.AsSpan(1, 10)));
    }

    /// <summary>Maps a name to the operator struct so theories can cover every activation through the generic kernels.</summary>
    private static class Dispatch
    {
        public static void Widths(string name, float[] x, float[] y128, float[] y256, float[] y512, float[] d128, float[] d256, float[] d512)
        {
            switch (name)
            {
                case "Identity": AllWidths(new IdentityActivation(), x, y128, y256, y512, d128, d256, d512); break;
                case "Relu": AllWidths(new ReluActivation(), x, y128, y256, y512, d128, d256, d512); break;
                case "LeakyRelu": AllWidths(new LeakyReluActivation(LeakySlope), x, y128, y256, y512, d128, d256, d512); break;
                case "Gelu": AllWidths(new GeluActivation(), x, y128, y256, y512, d128, d256, d512); break;
                case "GeluTanh": AllWidths(new GeluTanhActivation(), x, y128, y256, y512, d128, d256, d512); break;
                case "Silu": AllWidths(new SiluActivation(), x, y128, y256, y512, d128, d256, d512); break;
                case "Sigmoid": AllWidths(new SigmoidActivation(), x, y128, y256, y512, d128, d256, d512); break;
                case "Tanh": AllWidths(new TanhActivation(), x, y128, y256, y512, d128, d256, d512); break;
                default: throw new ArgumentException(name);
            }
        }

        // x.Length must be a multiple of 16.
        private static void AllWidths<TAct>(TAct act, float[] x, float[] y128, float[] y256, float[] y512, float[] d128, float[] d256, float[] d512)
            where TAct : struct, IActivation
        {
            for (int i = 0; i < x.Length; i += 4)
            {
                var v = System.Runtime.Intrinsics.Vector128.Create(x, i);
                var y = act.Invoke(v);
                y.CopyTo(y128.AsSpan(i));
                act.Derivative(v, y).CopyTo(d128.AsSpan(i));
            }
            for (int i = 0; i < x.Length; i += 8)
            {
                var v = System.Runtime.Intrinsics.Vector256.Create(x, i);
                var y = act.Invoke(v);
                y.CopyTo(y256.AsSpan(i));
                act.Derivative(v, y).CopyTo(d256.AsSpan(i));
            }
            for (int i = 0; i < x.Length; i += 16)
            {
                var v = System.Runtime.Intrinsics.Vector512.Create(x, i);
                var y = act.Invoke(v);
                y.CopyTo(y512.AsSpan(i));
                act.Derivative(v, y).CopyTo(d512.AsSpan(i));
            }
        }

        public static void Forward(string name, ReadOnlySpan<float> x, Span<float> y)
        {
            switch (name)
            {
                case "Identity": Elementwise.Forward(new IdentityActivation(), x, y); break;
                case "Relu": Elementwise.Forward(new ReluActivation(), x, y); break;
                case "LeakyRelu": Elementwise.Forward(new LeakyReluActivation(LeakySlope), x, y); break;
                case "Gelu": Elementwise.Forward(new GeluActivation(), x, y); break;
                case "GeluTanh": Elementwise.Forward(new GeluTanhActivation(), x, y); break;
                case "Silu": Elementwise.Forward(new SiluActivation(), x, y); break;
                case "Sigmoid": Elementwise.Forward(new SigmoidActivation(), x, y); break;
                case "Tanh": Elementwise.Forward(new TanhActivation(), x, y); break;
                default: throw new ArgumentException(name);
            }
        }

        public static void Backward(string name, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dx)
        {
            switch (name)
            {
                case "Identity": Elementwise.Backward(new IdentityActivation(), dy, x, y, dx); break;
                case "Relu": Elementwise.Backward(new ReluActivation(), dy, x, y, dx); break;
                case "LeakyRelu": Elementwise.Backward(new LeakyReluActivation(LeakySlope), dy, x, y, dx); break;
                case "Gelu": Elementwise.Backward(new GeluActivation(), dy, x, y, dx); break;
                case "GeluTanh": Elementwise.Backward(new GeluTanhActivation(), dy, x, y, dx); break;
                case "Silu": Elementwise.Backward(new SiluActivation(), dy, x, y, dx); break;
                case "Sigmoid": Elementwise.Backward(new SigmoidActivation(), dy, x, y, dx); break;
                case "Tanh": Elementwise.Backward(new TanhActivation(), dy, x, y, dx); break;
                default: throw new ArgumentException(name);
            }
        }
    }
}
