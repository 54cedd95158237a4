// libtorch 2.10 (TorchSharp-cpu 0.107.0, float32) values for nn.MultiheadAttention, read from the fixture
// Fixtures/mha-libtorch.bin that tools/reference/mha-check wrote (inputs, memory, parameters and the output gradient are in
// the fixture, so nothing here depends on libtorch's RNG): self-attention with and without bias, cross-attention over a
// memory of the model width (packed in_proj_weight) and of another width (kdim = vdim), key padding and the causal mask; and
// cross-attention over a memory of its own length S ≠ T (S < T and S > T) with its own key padding (memory_key_padding_mask).
// Forward within 1e-5 and gradients within 1e-4 relative to max(1, |value|) (measured when written: ≤ 7.2e-7 and ≤ 3.6e-6;
// the S ≠ T cases ≤ 1.1e-6 and ≤ 2.4e-7).
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class TorchMultiHeadAttentionReferenceTests
{
    private const double ForwardTolerance = 1e-5, GradientTolerance = 1e-4;
    private static readonly LibtorchFixture Fixture = new("mha-libtorch.bin");

    /// <summary>
    /// <code>
    /// mha = nn.MultiheadAttention(d, heads, bias=bias, kdim=dm, vdim=dm); parameters redrawn U(±0.6)
    /// y = mha(x, kv, kv, key_padding_mask: t >= lengths[b], attn_mask: causal ? -inf above the diagonal : None)   // kv = x or the memory m
    /// y.retain_grad(); (y * realMask).exp().mean().backward();   // y.grad is the fixture's doutput
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("mha.self.causal")]
    [InlineData("mha.self.nobias")]
    [InlineData("mha.cross.packed")]
    [InlineData("mha.cross.kdim.causal")]
    public void MultiheadAttention_MatchesLibtorch(string name)
    {
        int[] config = Fixture.Ints($"{name}.config");
        var g = new MultiHeadAttentionGeometry(config[0], config[1], config[2], causal: config[3] == 1, bias: config[4] == 1);
        int[] shape = Fixture.Shape($"{name}.input"), lengths = Fixture.Ints($"{name}.lengths");
        int batch = shape[0], seq = shape[1];
        float[] x = Fixture.Floats($"{name}.input"), p = Fixture.Floats($"{name}.params");
        float[] m = g.IsCross ? Fixture.Floats($"{name}.memory") : [];
        Assert.Equal(g.ParameterCount, p.Length);
        float[] y = new float[x.Length], yTrain = new float[x.Length], kept = new float[g.KeptLength(batch, seq)];
        float[] ws = new float[g.WorkspaceLength(batch, seq)], dp = new float[p.Length], dx = new float[x.Length], dm = new float[m.Length];
        MultiHeadAttentionKernels.Forward(g, x, m, p, y, lengths, ws, batch, seq);
        MultiHeadAttentionKernels.TrainForward(g, x, m, p, yTrain, kept, lengths, ws, batch, seq);
        MultiHeadAttentionKernels.Backward(g, Fixture.Floats($"{name}.doutput"), x, m, p, kept, dp, dx, dm, lengths, ws, batch, seq);

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
        for (int i = 0; i < dp.Length; i++) AssertClose(dpExpected[i], dp[i], GradientTolerance, $"{name}.dparams[{i}] ({KernelTestUtil.TensorName(g.ParameterTensors(), i)})");
        if (g.IsCross)
        {
            float[] dmExpected = Fixture.Floats($"{name}.dmemory");
            for (int i = 0; i < dm.Length; i++) AssertClose(dmExpected[i], dm[i], GradientTolerance, $"{name}.dmemory[{i}]");
        }
        if (name != "mha.self.nobias") Assert.Contains(lengths, l => l < seq);   // padding really is exercised
    }

    /// <summary>
    /// Cross-attention over a memory of its own length S and lengths (Tq ≠ Tk), through the memoryLengths/memorySeq overloads.
    /// <code>
    /// mha = nn.MultiheadAttention(d, heads, bias=bias, kdim=dm, vdim=dm); parameters redrawn U(±0.6); x [B, T, d], m [B, S, dm]
    /// y = mha(x, m, m, key_padding_mask: s >= memoryLengths[b], attn_mask: causal ? [T, S] -inf where s > t : None)
    /// y.retain_grad(); (y * realMask).exp().mean().backward();   // realMask: t < lengths[b]; y.grad is the fixture's doutput
    /// </code>
    /// </summary>
    [Theory]
    [InlineData("mha.cross.tk.short")]         // S 4 < T 7, packed in_proj_weight, both sides padded
    [InlineData("mha.cross.tk.long.kdim")]     // S 11 > T 7, kdim = vdim = 5, a memory of one real position
    [InlineData("mha.cross.tk.long.causal")]   // S 13 > T 7, the [T, S] causal mask
    [InlineData("mha.cross.tk.nobias.full")]   // S 3, no bias, no padding
    public void CrossAttention_MemoryOfItsOwnLength_MatchesLibtorch(string name)
    {
        int[] config = Fixture.Ints($"{name}.config");
        var g = new MultiHeadAttentionGeometry(config[0], config[1], config[2], causal: config[3] == 1, bias: config[4] == 1);
        int[] shape = Fixture.Shape($"{name}.input"), memoryShape = Fixture.Shape($"{name}.memory");
        int[] lengths = Fixture.Ints($"{name}.lengths"), memoryLengths = Fixture.Ints($"{name}.memlengths");
        int batch = shape[0], seq = shape[1], memorySeq = memoryShape[1];
        Assert.NotEqual(seq, memorySeq);
        float[] x = Fixture.Floats($"{name}.input"), m = Fixture.Floats($"{name}.memory"), p = Fixture.Floats($"{name}.params");
        Assert.Equal(g.ParameterCount, p.Length);
        float[] y = new float[x.Length], yTrain = new float[x.Length], kept = new float[g.KeptLength(batch, seq, memorySeq)];
        float[] ws = new float[g.WorkspaceLength(batch, seq, memorySeq)], dp = new float[p.Length], dx = new float[x.Length], dm = new float[m.Length];
        MultiHeadAttentionKernels.Forward(g, x, m, p, y, lengths, memoryLengths, ws, batch, seq, memorySeq);
        MultiHeadAttentionKernels.TrainForward(g, x, m, p, yTrain, kept, lengths, memoryLengths, ws, batch, seq, memorySeq);
        MultiHeadAttentionKernels.Backward(g, Fixture.Floats($"{name}.doutput"), x, m, p, kept, dp, dx, dm, lengths, memoryLengths, ws, batch, seq, memorySeq);

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
        // libtorch's gradient at padded memory rows is exactly 0 too (masked keys get weight 0), so every row is compared.
        for (int i = 0; i < dm.Length; i++) AssertClose(dmExpected[i], dm[i], GradientTolerance, $"{name}.dmemory[{i}]");
        for (int i = 0; i < dp.Length; i++) AssertClose(dpExpected[i], dp[i], GradientTolerance, $"{name}.dparams[{i}] ({KernelTestUtil.TensorName(g.ParameterTensors(), i)})");
        if (name != "mha.cross.tk.nobias.full") Assert.Contains(memoryLengths, l => l < memorySeq);   // memory padding really is exercised
    }

    private static void AssertClose(float expected, float actual, double tolerance, string what)
    {
        double diff = Math.Abs(expected - actual) / Math.Max(1.0, Math.Abs(expected));
        Assert.True(diff <= tolerance, $"{what}: libtorch {expected:R}, ModelGen {actual:R} (relative difference {diff:E2} > {tolerance:E0})");
    }
}
