// libtorch 2.10 (TorchSharp-cpu 0.107.0, float32) values for Transformer encoder stacks, read from the fixture
// Fixtures/transformer-libtorch.bin that tools/reference/transformer-check wrote (inputs, parameters and the output
// gradient are in the fixture, so nothing here depends on libtorch's RNG). Each case is a stack of
// nn.TransformerEncoderLayer(d, nhead, dim_feedforward, dropout=0, activation, norm_first) built from libtorch's
// nn.MultiheadAttention, nn.Linear and nn.LayerNorm (post-norm cases also checked against libtorch's own
// TransformerEncoderLayer by the tool), with key padding and the causal mask. PyTorch's implementation pins the kernels:
// forward within 1e-5 and gradients within 1e-4 relative to max(1, |value|) (measured when written: ≤ 5.4e-7 and ≤ 2.8e-7).
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class TorchTransformerReferenceTests
{
    private const double ForwardTolerance = 1e-5, GradientTolerance = 1e-4;
    private static readonly LibtorchFixture Fixture = new("transformer-libtorch.bin");

    /// <summary>
    /// <code>
    /// y = x; for each layer: norm_first ? (y = y + sa(norm1(y)); y = y + ff(norm2(y))) : (y = norm1(y + sa(y)); y = norm2(y + ff(y)))
    /// // sa = MultiheadAttention(y, y, y, key_padding_mask: t >= lengths[b], attn_mask: causal ? -inf above the diagonal : null)
    /// y.retain_grad(); (y * realMask).exp().mean().backward();   // y.grad is the fixture's doutput
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("tf.post.relu")]
    [InlineData("tf.pre.gelu.causal")]
    [InlineData("tf.pre.gelu")]
    [InlineData("tf.post.gelu.causal")]
    public void TransformerStack_MatchesLibtorch(string name)
    {
        int[] config = Fixture.Ints($"{name}.config");
        var g = new TransformerGeometry(config[0], config[1], config[2], config[3], normFirst: config[4] == 1, causal: config[5] == 1,
            config[6] == 1 ? FeedForwardActivation.Gelu : FeedForwardActivation.ReLU);
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
            for (int i = 0; i < lengths[b] * g.Model; i++)
            {
                int at = b * seq * g.Model + i;
                AssertClose(expected[at], y[at], ForwardTolerance, $"{name}.output[{at}]");
                AssertClose(expected[at], yTrain[at], ForwardTolerance, $"{name}.output (training)[{at}]");
            }
        float[] dxExpected = Fixture.Floats($"{name}.dinput"), dpExpected = Fixture.Floats($"{name}.dparams");
        for (int i = 0; i < dx.Length; i++) AssertClose(dxExpected[i], dx[i], GradientTolerance, $"{name}.dinput[{i}]");
        for (int i = 0; i < dp.Length; i++) AssertClose(dpExpected[i], dp[i], GradientTolerance, $"{name}.dparams[{i}]");
        if (name.Contains("causal") || name.Contains("post.relu")) Assert.Contains(lengths, l => l < seq);   // padding really is exercised
    }

    private static void AssertClose(float expected, float actual, double tolerance, string what)
    {
        double diff = Math.Abs(expected - actual) / Math.Max(1.0, Math.Abs(expected));
        Assert.True(diff <= tolerance, $"{what}: libtorch {expected:R}, ModelGen {actual:R} (relative difference {diff:E2} > {tolerance:E0})");
    }
}
