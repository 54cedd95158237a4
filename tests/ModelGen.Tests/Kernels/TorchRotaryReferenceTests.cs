// libtorch 2.10 (TorchSharp-cpu 0.107.0, float32) values for Transformer encoder stacks with rotary position embeddings, read
// from the fixture Fixtures/rotary-libtorch.bin that tools/reference/rotary-check wrote (inputs, parameters and the output
// gradient are in the fixture). Each case is nn.TransformerEncoderLayer's composition with the self-attention written out
// in libtorch ops so that torchtune's RotaryPositionalEmbeddings (its formula, composed by hand) rotates q and k after the
// in-projection; the tool checks that hand-written attention against libtorch's nn.MultiheadAttention without RoPE (≤ 6.6e-7).
// Cases: pre/post-norm, causal or not, key padding, head widths 6, 4, 18 and 2, base 10000 and 500. Forward within 1e-5 and
// gradients within 1e-4 relative to max(1, |value|) (measured when written: ≤ 6.4e-7 and ≤ 3.5e-7).
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class TorchRotaryReferenceTests
{
    private const double ForwardTolerance = 1e-5, GradientTolerance = 1e-4;
    private static readonly LibtorchFixture Fixture = new("rotary-libtorch.bin");

    [Theory]
    [InlineData("rope.pre.gelu.causal")]
    [InlineData("rope.post.relu")]
    [InlineData("rope.pre.gelu")]
    [InlineData("rope.post.gelu.causal.base500")]
    public void RotaryTransformerStack_MatchesLibtorch(string name)
    {
        int[] config = Fixture.Ints($"{name}.config");
        int d = config[0], heads = config[1];
        var g = new TransformerGeometry(d, heads, config[2], config[3], normFirst: config[4] == 1, causal: config[5] == 1,
            config[6] == 1 ? FeedForwardActivation.Gelu : FeedForwardActivation.ReLU, rotary: new RotaryTable(d / heads, config[7], Fixture.Floats($"{name}.base")[0]));
        int[] shape = Fixture.Shape($"{name}.input"), lengths = Fixture.Ints($"{name}.lengths");
        int batch = shape[0], seq = shape[1];
        float[] x = Fixture.Floats($"{name}.input"), p = Fixture.Floats($"{name}.params");
        Assert.Equal(g.ParameterCount, p.Length);
        float[] y = new float[x.Length], yTrain = new float[x.Length], kept = new float[g.KeptLength(batch, seq)];
        float[] ws = new float[g.WorkspaceLength(batch, seq)], dp = new float[p.Length], dx = new float[x.Length];
        TransformerKernels.Forward(g, x, p, y, lengths, ws, batch, seq);
        TransformerKernels.TrainForward(g, x, p, yTrain, kept, lengths, ws, batch, seq, 0f, null!);
        TransformerKernels.Backward(g, Fixture.Floats($"{name}.doutput"), x, p, kept, dp, dx, lengths, ws, batch, seq);

        // Padded outputs are "whatever" (libtorch computes them from the padding, ModelGen from zeros): real rows only.
        float[] expected = Fixture.Floats($"{name}.output");
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < lengths[b] * d; i++)
            {
                int at = b * seq * d + i;
                AssertClose(expected[at], y[at], ForwardTolerance, $"{name}.output[{at}]");
                AssertClose(expected[at], yTrain[at], ForwardTolerance, $"{name}.output (training)[{at}]");
            }
        float[] dxExpected = Fixture.Floats($"{name}.dinput"), dpExpected = Fixture.Floats($"{name}.dparams");
        for (int i = 0; i < dx.Length; i++) AssertClose(dxExpected[i], dx[i], GradientTolerance, $"{name}.dinput[{i}]");
        for (int i = 0; i < dp.Length; i++) AssertClose(dpExpected[i], dp[i], GradientTolerance, $"{name}.dparams[{i}] ({KernelTestUtil.TensorName(g.ParameterTensors(), i)})");
        if (name.Contains("causal") || name.Contains("post.relu")) Assert.Contains(lengths, l => l < seq);   // padding really is exercised
    }

    private static void AssertClose(float expected, float actual, double tolerance, string what)
    {
        double diff = Math.Abs(expected - actual) / Math.Max(1.0, Math.Abs(expected));
        Assert.True(diff <= tolerance, $"{what}: libtorch {expected:R}, ModelGen {actual:R} (relative difference {diff:E2} > {tolerance:E0})");
    }
}
