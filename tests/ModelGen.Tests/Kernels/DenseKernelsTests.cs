// Dense layer kernels: forward against a float64 reference, backward against float64 central differences of
// loss = Σ dOutput ⊙ layer(x; W, b), for every activation and odd sizes that exercise all vector tails and both
// GEMM paths; accumulation/overwrite semantics of the gradient buffers; zero steady-state allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class DenseKernelsTests
{
    public static TheoryData<string> Names() => new(ActivationNames);

    private static readonly (int Batch, int In, int Out)[] Shapes =
        [(1, 1, 1), (1, 17, 15), (1, 33, 67), (3, 1, 15), (3, 17, 67), (3, 33, 1), (3, 33, 67), (8, 40, 70)];

    // Reference layer output in double for one example.
    private static double RefOutput(string act, double[] x, double[] w, double[] b, int batchIndex, int o, int inF)
    {
        double pre = b.Length == 0 ? 0 : b[o];
        for (int i = 0; i < inF; i++) pre += x[batchIndex * inF + i] * w[o * inF + i];
        return Reference(act, pre);
    }

    private static double Loss(string act, double[] x, double[] w, double[] b, double[] dy, int batch, int inF, int outF)
    {
        double loss = 0;
        for (int r = 0; r < batch; r++)
            for (int o = 0; o < outF; o++) loss += dy[r * outF + o] * RefOutput(act, x, w, b, r, o, inF);
        return loss;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ForwardBackward_OddSizes_MatchReferenceAndFiniteDifferences(string act)
    {
        ulong seed = 100;
        foreach (var (batch, inF, outF) in Shapes)
            foreach (bool withBias in new[] { true, false })
            {
                seed += 10;
                float[] x = Uniform(batch * inF, seed), w = Uniform(outF * inF, seed + 1, -0.5f, 0.5f);
                float[] b = withBias ? Uniform(outF, seed + 2) : [];
                float[] dy = Uniform(batch * outF, seed + 3);
                float[] y = new float[batch * outF], pre = new float[batch * outF], yInference = new float[batch * outF];
                Dense.Forward(act, x, w, b, y, pre, batch, inF, outF);
                Dense.Forward(act, x, w, b, yInference, [], batch, inF, outF);
                Assert.Equal(y, yInference);

                double[] xd = Array.ConvertAll(x, v => (double)v), wd = Array.ConvertAll(w, v => (double)v), bd = Array.ConvertAll(b, v => (double)v);
                double[] dyd = Array.ConvertAll(dy, v => (double)v);
                string where = $"{act} batch={batch} in={inF} out={outF} bias={withBias}";
                for (int r = 0; r < batch; r++)
                    for (int o = 0; o < outF; o++)
                    {
                        double expected = RefOutput(act, xd, wd, bd, r, o, inF);
                        float actual = y[r * outF + o];
                        Assert.True(Math.Abs(actual - expected) <= 1e-5 + 1e-5 * Math.Abs(expected), $"{where}: y[{r},{o}] = {actual} vs {expected}");
                    }

                // Gradient buffers start non-zero to check accumulation (dW, dB) and overwrite (dX).
                float[] dW0 = Uniform(outF * inF, seed + 4), dB0 = withBias ? Uniform(outF, seed + 5) : [];
                float[] dW = (float[])dW0.Clone(), dB = (float[])dB0.Clone(), dX = new float[batch * inF], dPre = new float[batch * outF];
                Array.Fill(dX, float.NaN);
                Dense.Backward(act, dy, pre, y, x, w, dPre, dW, dB, dX, batch, inF, outF);

                CheckGradient(where, "dW", dW, dW0, wd, p => Loss(act, xd, p, bd, dyd, batch, inF, outF));
                if (withBias) CheckGradient(where, "dB", dB, dB0, bd, p => Loss(act, xd, wd, p, dyd, batch, inF, outF));
                CheckGradient(where, "dX", dX, null, xd, p => Loss(act, p, wd, bd, dyd, batch, inF, outF));

                // Skipping dInput and dBias leaves them alone and does not change dWeight.
                float[] dW2 = (float[])dW0.Clone();
                Dense.Backward(act, dy, pre, y, x, w, dPre, dW2, [], [], batch, inF, outF);
                Assert.Equal(dW, dW2);
            }
    }

    // Checks up to 24 sampled entries of an analytic gradient against a float64 central difference of the loss.
    private static void CheckGradient(string where, string name, float[] actual, float[]? initial, double[] parameters, Func<double[], double> loss)
    {
        int step = Math.Max(1, parameters.Length / 24);
        for (int i = 0; i < parameters.Length; i += step)
        {
            double saved = parameters[i], h = 1e-6;
            parameters[i] = saved + h;
            double lp = loss(parameters);
            parameters[i] = saved - h;
            double lm = loss(parameters);
            parameters[i] = saved;
            double fd = (lp - lm) / (2 * h);
            double got = actual[i] - (initial is null ? 0 : initial[i]);
            Assert.True(Math.Abs(got - fd) <= 5e-5 + 1e-4 * Math.Abs(fd), $"{where}: {name}[{i}] = {got} vs finite difference {fd}");
        }
    }

    [Fact]
    public void Backward_IdentityWithoutScratch_UsesDOutputDirectly()
    {
        const int batch = 3, inF = 17, outF = 15;
        float[] x = Uniform(batch * inF, 1), w = Uniform(outF * inF, 2), dy = Uniform(batch * outF, 3);
        float[] dW1 = new float[outF * inF], dB1 = new float[outF], dX1 = new float[batch * inF];
        float[] dW2 = new float[outF * inF], dB2 = new float[outF], dX2 = new float[batch * inF], dPre = new float[batch * outF];
        var id = new IdentityActivation();
        DenseKernels.Backward(id, dy, [], [], x, w, [], dW1, dB1, dX1, batch, inF, outF);
        DenseKernels.Backward(id, dy, [], [], x, w, dPre, dW2, dB2, dX2, batch, inF, outF);
        Assert.Equal(dW1, dW2);
        Assert.Equal(dB1, dB2);
        Assert.Equal(dX1, dX2);
    }

    [Fact]
    public void Forward_WrongBiasLength_ThrowsNamingBias()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            DenseKernels.Forward(new ReluActivation(), new float[6], new float[12], new float[3], new float[8], [], 2, 3, 4));
        Assert.Equal("bias", ex.ParamName);
        Assert.Contains("4", ex.Message);
    }

    [Fact]
    public void Backward_NonIdentityWithoutScratch_ThrowsNamingDPre()
    {
        var ex = Assert.Throws<ArgumentException>(() => DenseKernels.Backward(new ReluActivation(), new float[8], new float[8], new float[8],
            new float[6], new float[12], [], new float[12], [], [], 2, 3, 4));
        Assert.Equal("dPre", ex.ParamName);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(32)]
    public void ForwardBackward_SteadyState_AllocatesNothing(int batch)
    {
        const int inF = 100, outF = 70;
        float[] x = Uniform(batch * inF, 1), w = Uniform(outF * inF, 2), b = Uniform(outF, 3);
        float[] y = new float[batch * outF], pre = new float[batch * outF], dy = Uniform(batch * outF, 4), dPre = new float[batch * outF];
        float[] dW = new float[outF * inF], dB = new float[outF], dX = new float[batch * inF];
        var act = new GeluActivation();
        void Step()
        {
            DenseKernels.Forward(act, x, w, b, y, pre, batch, inF, outF);
            DenseKernels.Forward(act, x, w, b, y, [], batch, inF, outF);
            DenseKernels.Backward(act, dy, pre, y, x, w, dPre, dW, dB, dX, batch, inF, outF);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, $"Dense Forward (with and without pre) + Backward, batch {batch}", warmUpCalls: 1);
    }

    /// <summary>Maps activation names to the generic DenseKernels entry points.</summary>
    private static class Dense
    {
        public static void Forward(string act, float[] x, float[] w, float[] b, float[] y, float[] pre, int batch, int inF, int outF)
        {
            switch (act)
            {
                case "Identity": DenseKernels.Forward(new IdentityActivation(), x, w, b, y, pre, batch, inF, outF); break;
                case "Relu": DenseKernels.Forward(new ReluActivation(), x, w, b, y, pre, batch, inF, outF); break;
                case "LeakyRelu": DenseKernels.Forward(new LeakyReluActivation(LeakySlope), x, w, b, y, pre, batch, inF, outF); break;
                case "Gelu": DenseKernels.Forward(new GeluActivation(), x, w, b, y, pre, batch, inF, outF); break;
                case "GeluTanh": DenseKernels.Forward(new GeluTanhActivation(), x, w, b, y, pre, batch, inF, outF); break;
                case "Silu": DenseKernels.Forward(new SiluActivation(), x, w, b, y, pre, batch, inF, outF); break;
                case "Sigmoid": DenseKernels.Forward(new SigmoidActivation(), x, w, b, y, pre, batch, inF, outF); break;
                case "Tanh": DenseKernels.Forward(new TanhActivation(), x, w, b, y, pre, batch, inF, outF); break;
                default: throw new ArgumentException(act);
            }
        }

        public static void Backward(string act, float[] dy, float[] pre, float[] y, float[] x, float[] w, float[] dPre, float[] dW, float[] dB, float[] dX,
            int batch, int inF, int outF)
        {
            switch (act)
            {
                case "Identity": DenseKernels.Backward(new IdentityActivation(), dy, pre, y, x, w, dPre, dW, dB, dX, batch, inF, outF); break;
                case "Relu": DenseKernels.Backward(new ReluActivation(), dy, pre, y, x, w, dPre, dW, dB, dX, batch, inF, outF); break;
                case "LeakyRelu": DenseKernels.Backward(new LeakyReluActivation(LeakySlope), dy, pre, y, x, w, dPre, dW, dB, dX, batch, inF, outF); break;
                case "Gelu": DenseKernels.Backward(new GeluActivation(), dy, pre, y, x, w, dPre, dW, dB, dX, batch, inF, outF); break;
                case "GeluTanh": DenseKernels.Backward(new GeluTanhActivation(), dy, pre, y, x, w, dPre, dW, dB, dX, batch, inF, outF); break;
                case "Silu": DenseKernels.Backward(new SiluActivation(), dy, pre, y, x, w, dPre, dW, dB, dX, batch, inF, outF); break;
                case "Sigmoid": DenseKernels.Backward(new SigmoidActivation(), dy, pre, y, x, w, dPre, dW, dB, dX, batch, inF, outF); break;
                case "Tanh": DenseKernels.Backward(new TanhActivation(), dy, pre, y, x, w, dPre, dW, dB, dX, batch, inF, outF); break;
                default: throw new ArgumentException(act);
            }
        }
    }
}
