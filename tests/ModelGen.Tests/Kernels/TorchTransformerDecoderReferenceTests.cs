// libtorch 2.10 (TorchSharp-cpu 0.107.0, float32) values for Transformer decoder stacks, read from the fixture
// Fixtures/decoder-libtorch.bin that tools/reference/decoder-check wrote (inputs, memory, parameters and the output gradient
// are in the fixture, so nothing here depends on libtorch's RNG). Each case is a stack of nn.TransformerDecoderLayer(d, nhead,
// dim_feedforward, dropout=0, activation, norm_first) built from libtorch's nn.MultiheadAttention (self_attn; multihead_attn
// with kdim = vdim when the memory is narrower), nn.Linear and nn.LayerNorm, with key padding on both attentions and the
// causal mask on self-attention; and stacks over a memory of its own length S ≠ T (S < T and S > T) with its own
// memory_key_padding_mask. Forward within 1e-5 and gradients within 1e-4 relative to max(1, |value|) (measured when
// written: ≤ 7.5e-7 and ≤ 3.6e-7; the S ≠ T cases ≤ 7.2e-7 and ≤ 2.0e-7).
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class TorchTransformerDecoderReferenceTests
{
    private const double ForwardTolerance = 1e-5, GradientTolerance = 1e-4;
    private static readonly LibtorchFixture Fixture = new("decoder-libtorch.bin");

    /// <summary>
    /// <code>
    /// y = x; for each layer: norm_first ? (y = y + sa(norm1(y)); y = y + mha(norm2(y), m); y = y + ff(norm3(y)))
    ///                                   : (y = norm1(y + sa(y)); y = norm2(y + mha(y, m)); y = norm3(y + ff(y)))
    /// y.retain_grad(); (y * realMask).exp().mean().backward();   // y.grad is the fixture's doutput
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("dec.post.relu.causal")]
    [InlineData("dec.pre.gelu.causal.kdim")]
    [InlineData("dec.pre.relu")]
    [InlineData("dec.post.gelu.kdim")]
    public void DecoderStack_MatchesLibtorch(string name)
    {
        int[] c = Fixture.Ints($"{name}.config");   // d, heads, ff, layers, memory, normFirst, causal, gelu
        var g = new TransformerDecoderGeometry(c[0], c[1], c[2], c[3], c[5] == 1, c[6] == 1, c[7] == 1 ? FeedForwardActivation.Gelu : FeedForwardActivation.ReLU, c[4]);
        int[] shape = Fixture.Shape($"{name}.input"), lengths = Fixture.Ints($"{name}.lengths");
        int batch = shape[0], seq = shape[1];
        float[] x = Fixture.Floats($"{name}.input"), m = Fixture.Floats($"{name}.memory"), p = Fixture.Floats($"{name}.params");
        Assert.Equal(g.ParameterCount, p.Length);
        float[] y = new float[x.Length], yTrain = new float[x.Length], kept = new float[g.KeptLength(batch, seq)];
        float[] ws = new float[g.WorkspaceLength(batch, seq)], dp = new float[p.Length], dx = new float[x.Length], dm = new float[m.Length];
        TransformerDecoderKernels.Forward(g, x, m, p, y, lengths, ws, batch, seq);
        TransformerDecoderKernels.TrainForward(g, x, m, p, yTrain, kept, lengths, ws, batch, seq, 0f, null!);
        TransformerDecoderKernels.Backward(g, Fixture.Floats($"{name}.doutput"), x, m, p, kept, dp, dx, dm, lengths, ws, batch, seq);

        // Padded outputs are "whatever" (libtorch computes them from the padding, ModelGen from zeros): real rows only.
        float[] expected = Fixture.Floats($"{name}.output");
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < lengths[b] * g.Model; i++)
            {
                int at = b * seq * g.Model + i;
                AssertClose(expected[at], y[at], ForwardTolerance, $"{name}.output[{at}]");
                AssertClose(expected[at], yTrain[at], ForwardTolerance, $"{name}.output (training)[{at}]");
            }
        float[] dxExpected = Fixture.Floats($"{name}.dinput"), dmExpected = Fixture.Floats($"{name}.dmemory"), dpExpected = Fixture.Floats($"{name}.dparams");
        for (int i = 0; i < dx.Length; i++) AssertClose(dxExpected[i], dx[i], GradientTolerance, $"{name}.dinput[{i}]");
        for (int i = 0; i < dm.Length; i++) AssertClose(dmExpected[i], dm[i], GradientTolerance, $"{name}.dmemory[{i}]");
        for (int i = 0; i < dp.Length; i++) AssertClose(dpExpected[i], dp[i], GradientTolerance, $"{name}.dparams[{i}] ({KernelTestUtil.TensorName(g.ParameterTensors(), i)})");
        if (name != "dec.pre.relu") Assert.Contains(lengths, l => l < seq);   // padding really is exercised
    }

    /// <summary>
    /// Decoder stacks over a memory of its own length S and lengths (Tq ≠ Tk), through the memoryLengths/memorySeq overloads.
    /// <code>
    /// x [B, T, d], m [B, S, dm]; layers as above with tgt_key_padding_mask: t >= lengths[b] (self_attn, causal mask [T, T])
    /// and memory_key_padding_mask: s >= memoryLengths[b] (multihead_attn, no mask)
    /// y.retain_grad(); (y * realMask).exp().mean().backward();   // realMask: t < lengths[b]; y.grad is the fixture's doutput
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("dec.tk.pre.relu.causal.short")]        // S 3 < T 5, pre-norm, 2 layers
    [InlineData("dec.tk.post.gelu.causal.long.kdim")]   // S 11 > T 5, post-norm, kdim = vdim = 5, a memory of one real position
    [InlineData("dec.tk.pre.gelu.long")]                // S 8 > T 5, pre-norm, kdim = vdim = 3
    [InlineData("dec.tk.post.relu.short.full")]         // S 2 < T 5, post-norm, no padding
    public void DecoderStack_MemoryOfItsOwnLength_MatchesLibtorch(string name)
    {
        int[] c = Fixture.Ints($"{name}.config");   // d, heads, ff, layers, memory, normFirst, causal, gelu
        var g = new TransformerDecoderGeometry(c[0], c[1], c[2], c[3], c[5] == 1, c[6] == 1, c[7] == 1 ? FeedForwardActivation.Gelu : FeedForwardActivation.ReLU, c[4]);
        int[] shape = Fixture.Shape($"{name}.input"), memoryShape = Fixture.Shape($"{name}.memory");
        int[] lengths = Fixture.Ints($"{name}.lengths"), memoryLengths = Fixture.Ints($"{name}.memlengths");
        int batch = shape[0], seq = shape[1], memorySeq = memoryShape[1];
        Assert.NotEqual(seq, memorySeq);
        float[] x = Fixture.Floats($"{name}.input"), m = Fixture.Floats($"{name}.memory"), p = Fixture.Floats($"{name}.params");
        Assert.Equal(g.ParameterCount, p.Length);
        float[] y = new float[x.Length], yTrain = new float[x.Length], kept = new float[g.KeptLength(batch, seq, memorySeq)];
        float[] ws = new float[g.WorkspaceLength(batch, seq, memorySeq)], dp = new float[p.Length], dx = new float[x.Length], dm = new float[m.Length];
        TransformerDecoderKernels.Forward(g, x, m, p, y, lengths, memoryLengths, ws, batch, seq, memorySeq);
        TransformerDecoderKernels.TrainForward(g, x, m, p, yTrain, kept, lengths, memoryLengths, ws, batch, seq, memorySeq, 0f, null!);
        TransformerDecoderKernels.Backward(g, Fixture.Floats($"{name}.doutput"), x, m, p, kept, dp, dx, dm, lengths, memoryLengths, ws, batch, seq, memorySeq);

        float[] expected = Fixture.Floats($"{name}.output");
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < lengths[b] * g.Model; i++)
            {
                int at = b * seq * g.Model + i;
                AssertClose(expected[at], y[at], ForwardTolerance, $"{name}.output[{at}]");
                AssertClose(expected[at], yTrain[at], ForwardTolerance, $"{name}.output (training)[{at}]");
            }
        float[] dxExpected = Fixture.Floats($"{name}.dinput"), dmExpected = Fixture.Floats($"{name}.dmemory"), dpExpected = Fixture.Floats($"{name}.dparams");
        for (int i = 0; i < dx.Length; i++) AssertClose(dxExpected[i], dx[i], GradientTolerance, $"{name}.dinput[{i}]");
        for (int i = 0; i < dm.Length; i++) AssertClose(dmExpected[i], dm[i], GradientTolerance, $"{name}.dmemory[{i}]");
        for (int i = 0; i < dp.Length; i++) AssertClose(dpExpected[i], dp[i], GradientTolerance, $"{name}.dparams[{i}] ({KernelTestUtil.TensorName(g.ParameterTensors(), i)})");
        if (name != "dec.tk.post.relu.short.full") Assert.Contains(memoryLengths, l => l < memorySeq);   // memory padding really is exercised
    }

    private static void AssertClose(float expected, float actual, double tolerance, string what)
    {
        double diff = Math.Abs(expected - actual) / Math.Max(1.0, Math.Abs(expected));
        Assert.True(diff <= tolerance, $"{what}: libtorch {expected:R}, ModelGen {actual:R} (relative difference {diff:E2} > {tolerance:E0})");
    }
}
