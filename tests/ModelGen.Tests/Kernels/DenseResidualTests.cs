// DenseKernels.ForwardResidual (the inference fusion of a dense layer with the residual add after it): against a
// float64 reference of act(x·Wᵀ + b + r), on both GEMM paths (dot path up to 96 rows, packed beyond) and odd sizes,
// with the residual in place (the output's own memory) or separate; partial overlaps rejected; nothing allocated.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class DenseResidualTests
{
    private static readonly (int Batch, int In, int Out)[] Shapes =
        [(1, 1, 1), (1, 33, 67), (3, 17, 15), (8, 40, 70), (97, 33, 67), (130, 70, 19)];   // 97+ rows: the packed path

    private static void Run(string act, float[] x, float[] w, float[] b, float[] r, float[] y, int batch, int inF, int outF)
    {
        switch (act)
        {
            case "Identity": DenseKernels.ForwardResidual(new IdentityActivation(), x, w, b, r, y, batch, inF, outF); break;
            case "Relu": DenseKernels.ForwardResidual(new ReluActivation(), x, w, b, r, y, batch, inF, outF); break;
            case "Tanh": DenseKernels.ForwardResidual(new TanhActivation(), x, w, b, r, y, batch, inF, outF); break;
            default: throw new ArgumentException(act);
        }
    }

    [Theory]
    [InlineData("Identity", false)]
    [InlineData("Identity", true)]
    [InlineData("Relu", false)]
    [InlineData("Relu", true)]
    [InlineData("Tanh", true)]
    public void ForwardResidual_OddSizesBothPaths_MatchesReference(string act, bool inPlace)
    {
        ulong seed = 300;
        foreach (var (batch, inF, outF) in Shapes)
            foreach (bool withBias in new[] { true, false })
            {
                float[] x = Uniform(batch * inF, seed++), w = Uniform(outF * inF, seed++);
                float[] b = withBias ? Uniform(outF, seed++) : [];
                float[] r = Uniform(batch * outF, seed++);
                float[] rCopy = (float[])r.Clone();
                float[] y = inPlace ? r : new float[batch * outF];
                Run(act, x, w, b, r, y, batch, inF, outF);
                if (!inPlace) Assert.Equal(rCopy, r);   // a separate residual is only read
                for (int n = 0; n < batch; n++)
                    for (int o = 0; o < outF; o++)
                    {
                        double pre = (withBias ? b[o] : 0) + rCopy[n * outF + o];
                        for (int i = 0; i < inF; i++) pre += (double)x[n * inF + i] * w[o * inF + i];
                        double expected = Reference(act, pre);
                        Assert.True(Math.Abs(expected - y[n * outF + o]) <= 1e-5 + 1e-5 * Math.Abs(expected),
                            $"{act} {batch}x{inF}->{outF} bias={withBias} inPlace={inPlace}: y[{n},{o}] = {y[n * outF + o]}, expected {expected}");
                    }
            }
    }

    [Fact]
    public void ForwardResidual_ResidualPartlyOverlapsOutput_ThrowsNamingBoth()
    {
        float[] buffer = new float[2 * 4 + 1], x = new float[2 * 3], w = new float[4 * 3];
        var ex = Assert.Throws<ArgumentException>(() => DenseKernels.ForwardResidual(new IdentityActivation(), x, w, default,
            buffer.AsSpan(1, 8), buffer.AsSpan(0, 8), 2, 3, 4));
        Assert.Contains("residual", ex.Message);
        Assert.Contains("output", ex.Message);
    }

    [Fact]
    public void ForwardResidual_WrongResidualLength_ThrowsNamingResidual()
    {
        var ex = Assert.Throws<ArgumentException>(() => DenseKernels.ForwardResidual(new IdentityActivation(), new float[6], new float[12],
            default, new float[7], new float[8], 2, 3, 4));
        Assert.Contains("residual", ex.Message);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(130)]
    public void ForwardResidual_SteadyState_AllocatesNothing(int batch)
    {
        const int inF = 50, outF = 40;
        float[] x = Uniform(batch * inF, 1), w = Uniform(outF * inF, 2), b = Uniform(outF, 3), r = Uniform(batch * outF, 4), y = new float[batch * outF];
        void Step()
        {
            DenseKernels.ForwardResidual(new ReluActivation(), x, w, b, r, y, batch, inF, outF);
            DenseKernels.ForwardResidual(new IdentityActivation(), x, w, b, y, y, batch, inF, outF);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, $"ForwardResidual, batch {batch}", warmUpCalls: 2);
    }
}
