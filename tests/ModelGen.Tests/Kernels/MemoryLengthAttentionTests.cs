// Cross-attention over a memory with its own length and lengths (Tq ≠ Tk: a decoder over an encoder of a second model input):
// MultiHeadAttentionKernels and TransformerDecoderKernels' memoryLengths/memorySeq overloads against the float64 references
// (forward) and float64 central differences (backward) at odd sizes on both sides of the tile edges, padded memory rows that
// cannot reach anything (NaN there), the seq = memorySeq case bit-identical to the older overloads, argument checks naming the
// operand, attention-weight dropout over the memory (mask keyed by the memory position) against the same references, and zero
// steady-state allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class MemoryLengthAttentionTests
{
    // model, heads, memory width, seq, memorySeq
    public static TheoryData<int, int, int, int, int> AttentionSizes() => new()
    {
        { 6, 3, 6, 3, 7 },      // packed-width memory (dk = d), fewer queries than keys
        { 6, 3, 5, 7, 1 },      // one key per example
        { 7, 1, 9, 1, 33 },     // one query; keys past one vector width
        { 20, 4, 7, 17, 70 },   // several key tiles (KeyTile 64)
        { 12, 3, 12, 40, 5 },   // more queries than keys, two query tiles
    };

    [Theory]
    [MemberData(nameof(AttentionSizes))]
    public void MultiHeadAttention_Forward_TqNotTk_MatchesFloat64Reference(int model, int heads, int memory, int seq, int memorySeq)
    {
        const int batch = 3;
        foreach (bool causal in new[] { false, true })
            foreach (bool withLengths in new[] { false, true })
            {
                var g = new MultiHeadAttentionGeometry(model, heads, memory, causal);
                var c = new AttentionCase(g, batch, seq, memorySeq, withLengths, (ulong)(model + seq * 7 + memorySeq));
                double[] expected = MultiHeadAttentionKernelsTests.Reference.Forward(g, c.XD, c.MD, c.PD, c.Lengths, batch, seq, c.MemoryLengths, memorySeq);
                float[] y = c.Forward();
                AssertRealRowsClose(g.Model, expected, y, c.Lengths, batch, seq, 3e-5, $"{g} seq={seq} memorySeq={memorySeq} lengths={withLengths}");
                // Training forward computes the same output.
                Assert.Equal(y, c.TrainForward(out _));
            }
    }

    [Theory]
    [MemberData(nameof(AttentionSizes))]
    public void MultiHeadAttention_Backward_TqNotTk_MatchesFloat64FiniteDifferences(int model, int heads, int memory, int seq, int memorySeq)
    {
        const int batch = 2;
        var g = new MultiHeadAttentionGeometry(model, heads, memory, causal: false);
        var c = new AttentionCase(g, batch, seq, memorySeq, withLengths: true, (ulong)(model * 3 + seq + memorySeq));
        float[] dy = Uniform((int)g.InputLength(batch, seq), 17);
        double[] dyd = RealRowsOnly(dy, c.Lengths, batch, seq, model);
        double[] pd = c.PD, xd = c.XD, md = c.MD;
        double Loss(double[] p, double[] x, double[] m)
            => Dot(MultiHeadAttentionKernelsTests.Reference.Forward(g, x, m, p, c.Lengths, batch, seq, c.MemoryLengths, memorySeq), dyd);
        int[] paramIndices = Sample(g.ParameterCount, 100, 3);
        int[] inputIndices = Sample(c.X.Length, 30, 4);
        int[] memoryIndices = Sample(c.M.Length, 40, 5);
        double[] fdParams = paramIndices.Select(i => CentralDifference(pd, i, v => Loss(v, xd, md))).ToArray();
        double[] fdInput = inputIndices.Select(i => CentralDifference(xd, i, v => Loss(pd, v, md))).ToArray();
        double[] fdMemory = memoryIndices.Select(i => CentralDifference(md, i, v => Loss(pd, xd, v))).ToArray();

        string where = $"{g} seq={seq} memorySeq={memorySeq}";
        float[] dP0 = Uniform(g.ParameterCount, 41);   // non-zero start: gradients accumulate
        var (dP, dX, dM) = c.Backward(dy, dP0);
        for (int s = 0; s < paramIndices.Length; s++)
            AssertGradient(fdParams[s], dP[paramIndices[s]] - dP0[paramIndices[s]], $"{where}: dParameters[{paramIndices[s]}] ({TensorName(g.ParameterTensors(), paramIndices[s])})");
        for (int s = 0; s < inputIndices.Length; s++)
            AssertGradient(fdInput[s], dX[inputIndices[s]], $"{where}: dInput[{inputIndices[s]}]");
        for (int s = 0; s < memoryIndices.Length; s++)
            AssertGradient(fdMemory[s], dM[memoryIndices[s]], $"{where}: dMemory[{memoryIndices[s]}]");
    }

    /// <summary>
    /// Attention-weight dropout over a memory of its own length: forward against the float64 reference dropping the same weights
    /// (mask keyed by the memory position j), every gradient against central differences of that reference (backward regenerates
    /// the mask from the seed).
    /// </summary>
    [Theory]
    [InlineData(6, 3, 5, 3, 7, 0.3f)]
    [InlineData(20, 4, 7, 17, 70, 0.2f)]
    [InlineData(12, 3, 12, 40, 5, 0.5f)]
    public void MultiHeadAttention_AttentionDropout_TqNotTk_MatchesFloat64Reference(int model, int heads, int memory, int seq, int memorySeq, float dropout)
    {
        const int batch = 2;
        const ulong seed = 777;
        var g = new MultiHeadAttentionGeometry(model, heads, memory, causal: false);
        var c = new AttentionCase(g, batch, seq, memorySeq, withLengths: true, (ulong)(model * 5 + seq + memorySeq)) { Dropout = dropout, DropoutSeed = seed };
        var mask = AttentionDropoutTests.Mask(dropout, seed);
        double[] expected = MultiHeadAttentionKernelsTests.Reference.Forward(g, c.XD, c.MD, c.PD, c.Lengths, batch, seq, c.MemoryLengths, memorySeq, mask);
        float[] y = c.TrainForward(out _);
        string where = $"{g} seq={seq} memorySeq={memorySeq} dropout={dropout}";
        AssertRealRowsClose(g.Model, expected, y, c.Lengths, batch, seq, 3e-5, where);
        Assert.NotEqual(c.Forward(), y);   // inference never drops

        float[] dy = Uniform((int)g.InputLength(batch, seq), 17);
        double[] dyd = RealRowsOnly(dy, c.Lengths, batch, seq, model);
        double[] pd = c.PD, xd = c.XD, md = c.MD;
        double Loss(double[] p, double[] x, double[] m)
            => Dot(MultiHeadAttentionKernelsTests.Reference.Forward(g, x, m, p, c.Lengths, batch, seq, c.MemoryLengths, memorySeq, mask), dyd);
        int[] paramIndices = Sample(g.ParameterCount, 80, 3);
        int[] inputIndices = Sample(c.X.Length, 30, 4);
        int[] memoryIndices = Sample(c.M.Length, 40, 5);
        double[] fdParams = paramIndices.Select(i => CentralDifference(pd, i, v => Loss(v, xd, md))).ToArray();
        double[] fdInput = inputIndices.Select(i => CentralDifference(xd, i, v => Loss(pd, v, md))).ToArray();
        double[] fdMemory = memoryIndices.Select(i => CentralDifference(md, i, v => Loss(pd, xd, v))).ToArray();
        float[] dP0 = Uniform(g.ParameterCount, 41);
        var (dP, dX, dM) = c.Backward(dy, dP0);
        for (int s = 0; s < paramIndices.Length; s++)
            AssertGradient(fdParams[s], dP[paramIndices[s]] - dP0[paramIndices[s]], $"{where}: dParameters[{paramIndices[s]}] ({TensorName(g.ParameterTensors(), paramIndices[s])})");
        for (int s = 0; s < inputIndices.Length; s++)
            AssertGradient(fdInput[s], dX[inputIndices[s]], $"{where}: dInput[{inputIndices[s]}]");
        for (int s = 0; s < memoryIndices.Length; s++)
            AssertGradient(fdMemory[s], dM[memoryIndices[s]], $"{where}: dMemory[{memoryIndices[s]}]");
    }

    [Fact]
    public void MultiHeadAttention_PaddedMemoryRows_ReachNothing_AndTheirGradientIsZero()
    {
        const int batch = 2, seq = 5, memorySeq = 9;
        var g = new MultiHeadAttentionGeometry(12, 3, 7);
        var c = new AttentionCase(g, batch, seq, memorySeq, withLengths: true, 5);
        float[] clean = c.Forward();
        float[] dy = Uniform(clean.Length, 8);
        var (dP, dX, _) = c.Backward(dy, new float[g.ParameterCount]);
        // NaN in every padded memory row and padded query row.
        for (int b = 0; b < batch; b++)
        {
            for (int t = c.MemoryLengths![b]; t < memorySeq; t++) Array.Fill(c.M, float.NaN, (b * memorySeq + t) * g.Memory, g.Memory);
            for (int t = c.Lengths![b]; t < seq; t++) Array.Fill(c.X, float.NaN, (b * seq + t) * g.Model, g.Model);
        }
        float[] dirty = c.Forward();
        var (dP2, dX2, dM2) = c.Backward(dy, new float[g.ParameterCount]);
        AssertRealRowsEqual(g.Model, clean, dirty, c.Lengths, batch, seq);
        Assert.Equal(dP, dP2);
        AssertRealRowsEqual(g.Model, dX, dX2, c.Lengths, batch, seq);
        for (int b = 0; b < batch; b++)
            for (int t = c.MemoryLengths![b]; t < memorySeq; t++)
                for (int j = 0; j < g.Memory; j++) Assert.Equal(0f, dM2[(b * memorySeq + t) * g.Memory + j]);
    }

    [Fact]
    public void MultiHeadAttention_SameLength_IsBitIdenticalToTheSingleLengthOverloads()
    {
        const int batch = 2, seq = 9;
        var g = new MultiHeadAttentionGeometry(10, 2, 6, causal: true);
        float[] x = Uniform((int)g.InputLength(batch, seq), 1), m = Uniform((int)g.MemoryLength(batch, seq), 2), p = Uniform(g.ParameterCount, 3, -0.5f, 0.5f);
        int[] lengths = [9, 4];
        float[] ws = new float[g.WorkspaceLength(batch, seq)];
        Assert.Equal(ws.Length, g.WorkspaceLength(batch, seq, seq));
        Assert.Equal(g.KeptLength(batch, seq), g.KeptLength(batch, seq, seq));
        float[] y1 = new float[x.Length], y2 = new float[x.Length];
        MultiHeadAttentionKernels.Forward(g, x, m, p, y1, lengths, ws, batch, seq);
        MultiHeadAttentionKernels.Forward(g, x, m, p, y2, lengths, lengths, ws, batch, seq, seq);
        Assert.Equal(y1, y2);
    }

    [Fact]
    public void MultiHeadAttention_MemoryArguments_ThrowClearMessages()
    {
        const int batch = 2, seq = 3, memorySeq = 5;
        var g = new MultiHeadAttentionGeometry(6, 2, 4);
        float[] x = new float[g.InputLength(batch, seq)], m = new float[g.MemoryLength(batch, memorySeq)], p = new float[g.ParameterCount], y = new float[x.Length];
        float[] ws = new float[g.WorkspaceLength(batch, seq, memorySeq)];
        var e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(g, x, m, p, y, [], [5, 6], ws, batch, seq, memorySeq));
        Assert.Equal("memoryLengths", e.ParamName);
        Assert.Contains("'memoryLengths[1]' must be in [1, memorySeq=5] but is 6", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(g, x, new float[g.MemoryLength(batch, seq)], p, y, [], [], ws, batch, seq, memorySeq));
        Assert.Equal("memory", e.ParamName);
        Assert.Contains("must have 40 elements ([batch=2, seq=5, Memory=4]) but has 24", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(g, x, m, p, y, [], [], new float[g.WorkspaceLength(batch, seq)], batch, seq, memorySeq));
        Assert.Equal("workspace", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.TrainForward(g, x, m, p, y, new float[g.KeptLength(batch, seq)], [], [], ws, batch, seq, memorySeq));
        Assert.Equal("kept", e.ParamName);
        Assert.Contains("KeptLength(batch=2, seq=3, memorySeq=5)", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => MultiHeadAttentionKernels.Forward(g, x, m, p, y, [], [], ws, batch, seq, 0));
        var self = new MultiHeadAttentionGeometry(6, 2);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(self, x, [], new float[self.ParameterCount], y, [], [], ws, batch, seq, memorySeq));
        Assert.Equal("memorySeq", e.ParamName);
        Assert.Contains("must equal 'seq' (3) for self-attention", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(self, x, [], new float[self.ParameterCount], y, [], [3, 3], ws, batch, seq, seq));
        Assert.Equal("memoryLengths", e.ParamName);
        Assert.Throws<ArgumentException>(() => self.KeptLength(batch, seq, memorySeq));
    }

    // ------------------------------------------------------------------------------------------------ decoder

    // model, heads, feedForward, memory width, seq, memorySeq
    public static TheoryData<int, int, int, int, int, int> DecoderSizes() => new()
    {
        { 6, 3, 5, 0, 3, 7 },
        { 6, 3, 5, 4, 5, 1 },
        { 15, 3, 9, 7, 1, 17 },
        { 16, 2, 24, 0, 33, 70 },
    };

    [Theory]
    [MemberData(nameof(DecoderSizes))]
    public void Decoder_Forward_TqNotTk_MatchesFloat64Reference(int model, int heads, int feedForward, int memory, int seq, int memorySeq)
    {
        const int batch = 3;
        ulong seed = (ulong)(model * 31 + seq + memorySeq);
        foreach (bool normFirst in new[] { true, false })
            foreach (bool withLengths in new[] { false, true })
            {
                seed += 5;
                var g = new TransformerDecoderGeometry(model, heads, feedForward, 2, normFirst, causal: true, FeedForwardActivation.Gelu, memory);
                var c = new DecoderCase(g, batch, seq, memorySeq, withLengths, seed);
                double[] expected = DecoderReference.Forward(g, c.XD, c.MD, c.PD, c.Lengths, batch, seq, c.MemoryLengths, memorySeq);
                float[] y = c.Forward();
                AssertRealRowsClose(g.Model, expected, y, c.Lengths, batch, seq, 3e-5, $"{g} seq={seq} memorySeq={memorySeq} lengths={withLengths}");
                Assert.Equal(y, c.TrainForward(0f, null, out _));
            }
    }

    /// <summary>
    /// The decoder over a memory of its own length with attention-weight dropout on every layer's self- and cross-attention (and
    /// element dropout): forward against the float64 reference with the same masks, gradients against its central differences.
    /// </summary>
    [Theory]
    [InlineData(6, 3, 5, 4, 5, 9, true, 0f, 0.3f)]
    [InlineData(6, 2, 7, 0, 7, 3, false, 0.25f, 0.4f)]
    public void Decoder_AttentionDropout_TqNotTk_MatchesFloat64Reference(int model, int heads, int feedForward, int memory, int seq, int memorySeq,
        bool normFirst, float dropout, float attentionDropout)
    {
        const int batch = 2;
        const ulong rngSeed = 31, attentionSeed = 99;
        var g = new TransformerDecoderGeometry(model, heads, feedForward, 2, normFirst, causal: true, FeedForwardActivation.Gelu, memory);
        var c = new DecoderCase(g, batch, seq, memorySeq, withLengths: true, (ulong)(model + seq * 5 + memorySeq))
        {
            AttentionDropout = attentionDropout,
            AttentionSeed = attentionSeed,
        };
        var masks = DecoderReference.Masks(g, batch, seq, dropout, rngSeed);
        string where = $"{g} seq={seq} memorySeq={memorySeq} dropout={dropout} attentionDropout={attentionDropout}";
        double[] expected = DecoderReference.Forward(g, c.XD, c.MD, c.PD, c.Lengths, batch, seq, c.MemoryLengths, memorySeq, masks, attentionDropout, attentionSeed);
        float[] y = c.TrainForward(dropout, new Rng(rngSeed), out _);
        AssertRealRowsClose(g.Model, expected, y, c.Lengths, batch, seq, 3e-5, where);

        float[] dy = Uniform((int)g.InputLength(batch, seq), 17);
        double[] dyd = RealRowsOnly(dy, c.Lengths, batch, seq, model);
        double[] pd = c.PD, xd = c.XD, md = c.MD;
        double Loss(double[] p, double[] x, double[] m)
            => Dot(DecoderReference.Forward(g, x, m, p, c.Lengths, batch, seq, c.MemoryLengths, memorySeq, masks, attentionDropout, attentionSeed), dyd);
        int[] paramIndices = Sample(g.ParameterCount, 80, 3);
        int[] inputIndices = Sample(c.X.Length, 25, 4);
        int[] memoryIndices = Sample(c.M.Length, 30, 5);
        double[] fdParams = paramIndices.Select(i => CentralDifference(pd, i, v => Loss(v, xd, md))).ToArray();
        double[] fdInput = inputIndices.Select(i => CentralDifference(xd, i, v => Loss(pd, v, md))).ToArray();
        double[] fdMemory = memoryIndices.Select(i => CentralDifference(md, i, v => Loss(pd, xd, v))).ToArray();
        float[] dP0 = Uniform(g.ParameterCount, 41);
        var (dP, dX, dM) = c.Backward(dy, dropout, new Rng(rngSeed), dP0);
        for (int s = 0; s < paramIndices.Length; s++)
            AssertGradient(fdParams[s], dP[paramIndices[s]] - dP0[paramIndices[s]], $"{where}: dParameters[{paramIndices[s]}] ({TensorName(g.ParameterTensors(), paramIndices[s])})");
        for (int s = 0; s < inputIndices.Length; s++)
            AssertGradient(fdInput[s], dX[inputIndices[s]], $"{where}: dInput[{inputIndices[s]}]");
        for (int s = 0; s < memoryIndices.Length; s++)
            AssertGradient(fdMemory[s], dM[memoryIndices[s]], $"{where}: dMemory[{memoryIndices[s]}]");
    }

    [Theory]
    [InlineData(6, 3, 5, 0, 3, 7, true, 0f)]
    [InlineData(6, 3, 5, 4, 5, 1, false, 0.25f)]
    [InlineData(15, 3, 9, 7, 1, 17, true, 0.25f)]
    [InlineData(6, 2, 7, 5, 7, 3, false, 0f)]
    public void Decoder_Backward_TqNotTk_MatchesFloat64FiniteDifferences(int model, int heads, int feedForward, int memory, int seq, int memorySeq,
        bool normFirst, float dropout)
    {
        const int batch = 2;
        const ulong rngSeed = 31;
        var g = new TransformerDecoderGeometry(model, heads, feedForward, 2, normFirst, causal: true, FeedForwardActivation.ReLU, memory);
        var c = new DecoderCase(g, batch, seq, memorySeq, withLengths: true, (ulong)(model + seq * 3 + memorySeq));
        var masks = DecoderReference.Masks(g, batch, seq, dropout, rngSeed);
        float[] dy = Uniform((int)g.InputLength(batch, seq), 17);
        double[] dyd = RealRowsOnly(dy, c.Lengths, batch, seq, model);
        double[] pd = c.PD, xd = c.XD, md = c.MD;
        double Loss(double[] p, double[] x, double[] m) => Dot(DecoderReference.Forward(g, x, m, p, c.Lengths, batch, seq, c.MemoryLengths, memorySeq, masks), dyd);
        int[] paramIndices = Sample(g.ParameterCount, 100, 3);
        int[] inputIndices = Sample(c.X.Length, 25, 4);
        int[] memoryIndices = Sample(c.M.Length, 30, 5);
        double[] fdParams = paramIndices.Select(i => CentralDifference(pd, i, v => Loss(v, xd, md))).ToArray();
        double[] fdInput = inputIndices.Select(i => CentralDifference(xd, i, v => Loss(pd, v, md))).ToArray();
        double[] fdMemory = memoryIndices.Select(i => CentralDifference(md, i, v => Loss(pd, xd, v))).ToArray();

        string where = $"{g} seq={seq} memorySeq={memorySeq} dropout={dropout}";
        float[] dP0 = Uniform(g.ParameterCount, 41);
        var (dP, dX, dM) = c.Backward(dy, dropout, new Rng(rngSeed), dP0);
        for (int s = 0; s < paramIndices.Length; s++)
            AssertGradient(fdParams[s], dP[paramIndices[s]] - dP0[paramIndices[s]], $"{where}: dParameters[{paramIndices[s]}] ({TensorName(g.ParameterTensors(), paramIndices[s])})");
        for (int s = 0; s < inputIndices.Length; s++)
            AssertGradient(fdInput[s], dX[inputIndices[s]], $"{where}: dInput[{inputIndices[s]}]");
        for (int s = 0; s < memoryIndices.Length; s++)
            AssertGradient(fdMemory[s], dM[memoryIndices[s]], $"{where}: dMemory[{memoryIndices[s]}]");
    }

    [Fact]
    public void Decoder_PaddedMemoryRows_ReachNothing_AndTheirGradientIsZero()
    {
        const int batch = 2, seq = 4, memorySeq = 11;
        var g = new TransformerDecoderGeometry(12, 3, 10, 2, normFirst: true, causal: true, FeedForwardActivation.ReLU, memory: 5);
        var c = new DecoderCase(g, batch, seq, memorySeq, withLengths: true, 3);
        float[] clean = c.Forward();
        float[] dy = Uniform(clean.Length, 8);
        var (dP, _, _) = c.Backward(dy, 0f, null, new float[g.ParameterCount]);
        for (int b = 0; b < batch; b++)
            for (int t = c.MemoryLengths![b]; t < memorySeq; t++) Array.Fill(c.M, float.NaN, (b * memorySeq + t) * g.Memory, g.Memory);
        AssertRealRowsEqual(g.Model, clean, c.Forward(), c.Lengths, batch, seq);
        var (dP2, _, dM2) = c.Backward(dy, 0f, null, new float[g.ParameterCount]);
        Assert.Equal(dP, dP2);
        for (int b = 0; b < batch; b++)
            for (int t = c.MemoryLengths![b]; t < memorySeq; t++)
                for (int j = 0; j < g.Memory; j++) Assert.Equal(0f, dM2[(b * memorySeq + t) * g.Memory + j]);
    }

    [Fact]
    public void Decoder_MemoryArguments_ThrowClearMessages()
    {
        const int batch = 2, seq = 3, memorySeq = 5;
        var g = new TransformerDecoderGeometry(6, 2, 8, 1, true, true, FeedForwardActivation.ReLU, memory: 4);
        float[] x = new float[g.InputLength(batch, seq)], m = new float[g.MemoryLength(batch, memorySeq)], p = new float[g.ParameterCount], y = new float[x.Length];
        float[] ws = new float[g.WorkspaceLength(batch, seq, memorySeq)];
        var e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.Forward(g, x, m, p, y, [], [0, 5], ws, batch, seq, memorySeq));
        Assert.Equal("memoryLengths", e.ParamName);
        Assert.Contains("'memoryLengths[0]' must be in [1, memorySeq=5] but is 0", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.Forward(g, x, new float[7], p, y, [], [], ws, batch, seq, memorySeq));
        Assert.Equal("memory", e.ParamName);
        Assert.Contains("([batch=2, seq=5, Memory=4])", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.TrainForward(g, x, m, p, y, new float[g.KeptLength(batch, seq)], [], [], ws, batch, seq, memorySeq, 0f, null!));
        Assert.Equal("kept", e.ParamName);
        Assert.Contains("KeptLength(batch=2, seq=3, memorySeq=5)", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => TransformerDecoderKernels.Forward(g, x, m, p, y, [], [], ws, batch, seq, 0));
    }

    [Theory]
    [InlineData(true, 0, 9, FeedForwardActivation.Gelu)]
    [InlineData(false, 5, 3, FeedForwardActivation.ReLU)]
    [InlineData(true, 7, 1, FeedForwardActivation.ReLU)]
    [InlineData(false, 0, 70, FeedForwardActivation.Gelu)]
    public void Decoder_ForwardStep_EveryPosition_EqualsForwardRows(bool normFirst, int memory, int memorySeq, FeedForwardActivation activation)
    {
        const int batch = 3, seq = 7, maxLength = 9;
        var g = new TransformerDecoderGeometry(12, 3, 10, 2, normFirst, causal: true, activation, memory);
        var c = new DecoderCase(g, batch, seq, memorySeq, withLengths: true, (ulong)(memorySeq + memory));
        // The full forward with every target position real: row t then depends on positions 0..t only (causal).
        float[] full = new float[c.X.Length];
        TransformerDecoderKernels.Forward(g, c.X, c.M, c.P, full, default, c.MemoryLengths, new float[g.WorkspaceLength(batch, seq, memorySeq)], batch, seq, memorySeq);
        // NaN in padded memory rows: the steps read only the real ones.
        for (int b = 0; b < batch; b++)
            for (int t = c.MemoryLengths![b]; t < memorySeq; t++) Array.Fill(c.M, float.NaN, (b * memorySeq + t) * g.Memory, g.Memory);
        float[] memoryCache = new float[g.MemoryCacheLength(batch, memorySeq)];
        TransformerDecoderKernels.PrepareMemory(g, c.M, c.P, memoryCache, new float[g.PrepareWorkspaceLength(batch, memorySeq)], batch, memorySeq);
        float[] cache = new float[g.CacheLength(batch, maxLength)], ws = new float[g.StepWorkspaceLength(batch, maxLength, memorySeq)];
        Array.Fill(cache, float.NaN);   // rows not yet written must never be read
        Array.Fill(ws, float.NaN);
        float[] x = new float[batch * g.Model], y = new float[batch * g.Model];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++) Array.Copy(c.X, (b * seq + t) * g.Model, x, b * g.Model, g.Model);
            TransformerDecoderKernels.ForwardStep(g, x, c.P, y, cache, memoryCache, c.MemoryLengths, t, maxLength, memorySeq, ws, batch);
            for (int b = 0; b < batch; b++)
                for (int j = 0; j < g.Model; j++)
                {
                    float expected = full[(b * seq + t) * g.Model + j], actual = y[b * g.Model + j];
                    Assert.True(Math.Abs(actual - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"{g} memorySeq={memorySeq}: position {t}, [{b}, {j}] = {actual} vs Forward {expected}");
                }
        }
    }

    [Fact]
    public void Decoder_StepArguments_ThrowClearMessages()
    {
        const int batch = 2, memorySeq = 4, maxLength = 5;
        var g = new TransformerDecoderGeometry(6, 2, 8, 2, true, true, FeedForwardActivation.ReLU);
        float[] x = new float[batch * 6], y = new float[x.Length], p = new float[g.ParameterCount];
        float[] cache = new float[g.CacheLength(batch, maxLength)], mc = new float[g.MemoryCacheLength(batch, memorySeq)], ws = new float[g.StepWorkspaceLength(batch, maxLength, memorySeq)];
        var e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.ForwardStep(g, x, p, y, cache, new float[3], [], 0, maxLength, memorySeq, ws, batch));
        Assert.Equal("memoryCache", e.ParamName);
        Assert.Contains("MemoryCacheLength(batch=2, memorySeq=4)", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.ForwardStep(g, x, p, y, cache, mc, [4, 5], 0, maxLength, memorySeq, ws, batch));
        Assert.Equal("memoryLengths", e.ParamName);
        Assert.Contains("'memoryLengths[1]' must be in [1, memorySeq=4] but is 5", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.ForwardStep(g, x, p, y, new float[7], mc, [], 0, maxLength, memorySeq, ws, batch));
        Assert.Equal("cache", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.ForwardStep(g, x, p, y, cache, mc, [], 0, maxLength, memorySeq, new float[4], batch));
        Assert.Equal("workspace", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => TransformerDecoderKernels.ForwardStep(g, x, p, y, cache, mc, [], maxLength, maxLength, memorySeq, ws, batch));
        var notCausal = new TransformerDecoderGeometry(6, 2, 8, 2, true, false, FeedForwardActivation.ReLU);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.ForwardStep(notCausal, x, p, y, cache, mc, [], 0, maxLength, memorySeq, ws, batch));
        Assert.Contains("must be causal", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.PrepareMemory(g, new float[batch * memorySeq * 6], p, mc, new float[2], batch, memorySeq));
        Assert.Equal("workspace", e.ParamName);
    }

    [Fact]
    public void ForwardTrainBackward_TqNotTk_SteadyState_AllocateNothing()
    {
        const int batch = 2, seq = 13, memorySeq = 37;
        var g = new TransformerDecoderGeometry(32, 4, 48, 2, true, true, FeedForwardActivation.Gelu, memory: 24);
        var c = new DecoderCase(g, batch, seq, memorySeq, withLengths: true, 1);
        var a = new MultiHeadAttentionGeometry(32, 4, 24);
        var ac = new AttentionCase(a, batch, seq, memorySeq, withLengths: true, 2);
        float[] y = new float[c.X.Length], dy = Uniform(y.Length, 3), kept = new float[g.KeptLength(batch, seq, memorySeq)], ws = new float[g.WorkspaceLength(batch, seq, memorySeq)];
        float[] dp = new float[g.ParameterCount], dx = new float[c.X.Length], dm = new float[c.M.Length];
        float[] ay = new float[ac.X.Length], akept = new float[a.KeptLength(batch, seq, memorySeq)], aws = new float[a.WorkspaceLength(batch, seq, memorySeq)];
        float[] adp = new float[a.ParameterCount], adx = new float[ac.X.Length], adm = new float[ac.M.Length];
        float[] cache = new float[g.CacheLength(batch, seq)], memoryCache = new float[g.MemoryCacheLength(batch, memorySeq)];
        float[] prepareWs = new float[g.PrepareWorkspaceLength(batch, memorySeq)], stepWs = new float[g.StepWorkspaceLength(batch, seq, memorySeq)];
        float[] xs = new float[batch * g.Model], ys = new float[batch * g.Model];
        var rng = new Rng(5);
        void Step()
        {
            TransformerDecoderKernels.Forward(g, c.X, c.M, c.P, y, c.Lengths, c.MemoryLengths, ws, batch, seq, memorySeq);
            TransformerDecoderKernels.TrainForward(g, c.X, c.M, c.P, y, kept, c.Lengths, c.MemoryLengths, ws, batch, seq, memorySeq, 0.1f, rng);
            TransformerDecoderKernels.Backward(g, dy, c.X, c.M, c.P, kept, dp, dx, dm, c.Lengths, c.MemoryLengths, ws, batch, seq, memorySeq);
            MultiHeadAttentionKernels.Forward(a, ac.X, ac.M, ac.P, ay, ac.Lengths, ac.MemoryLengths, aws, batch, seq, memorySeq);
            MultiHeadAttentionKernels.TrainForward(a, ac.X, ac.M, ac.P, ay, akept, ac.Lengths, ac.MemoryLengths, aws, batch, seq, memorySeq);
            MultiHeadAttentionKernels.Backward(a, dy, ac.X, ac.M, ac.P, akept, adp, adx, adm, ac.Lengths, ac.MemoryLengths, aws, batch, seq, memorySeq);
            TransformerDecoderKernels.PrepareMemory(g, c.M, c.P, memoryCache, prepareWs, batch, memorySeq);
            TransformerDecoderKernels.ForwardStep(g, xs, c.P, ys, cache, memoryCache, c.MemoryLengths, 3, seq, memorySeq, stepWs, batch);
        }
        for (int i = 0; i < 30; i++) Step();   // past tiering thresholds
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static int[] MemoryLengthsFor(int batch, int memorySeq) => Enumerable.Range(0, batch).Select(b => Math.Max(1, memorySeq - 2 * b - (b > 0 ? 1 : 0))).ToArray();

    private static int[] LengthsFor(int batch, int seq) => Enumerable.Range(0, batch).Select(b => b == 0 ? seq : Math.Max(1, seq - 2 - b)).ToArray();

    /// <summary>dOutput in float64 with padded query rows zeroed (the loss counts real positions only).</summary>
    private static double[] RealRowsOnly(float[] dy, int[]? lengths, int batch, int seq, int width)
    {
        double[] d = Array.ConvertAll(dy, v => (double)v);
        for (int b = 0; b < batch; b++)
            for (int t = lengths?[b] ?? seq; t < seq; t++) Array.Clear(d, (b * seq + t) * width, width);
        return d;
    }

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    private sealed class AttentionCase
    {
        public readonly MultiHeadAttentionGeometry G;
        public readonly int Batch, Seq, MemorySeq;
        public readonly int[]? Lengths, MemoryLengths;
        public readonly float[] X, M, P;
        public float Dropout;        // attention-weight dropout of the training calls
        public ulong DropoutSeed;

        public AttentionCase(MultiHeadAttentionGeometry g, int batch, int seq, int memorySeq, bool withLengths, ulong seed)
        {
            (G, Batch, Seq, MemorySeq) = (g, batch, seq, memorySeq);
            Lengths = withLengths ? LengthsFor(batch, seq) : null;
            MemoryLengths = withLengths ? MemoryLengthsFor(batch, memorySeq) : null;
            X = Uniform((int)g.InputLength(batch, seq), seed, -1.5f, 1.5f);
            M = Uniform((int)g.MemoryLength(batch, memorySeq), seed + 2, -1.5f, 1.5f);
            P = Uniform(g.ParameterCount, seed + 1, -0.6f, 0.6f);
        }

        public double[] XD => Array.ConvertAll(X, v => (double)v);
        public double[] MD => Array.ConvertAll(M, v => (double)v);
        public double[] PD => Array.ConvertAll(P, v => (double)v);

        private float[] Workspace()
        {
            // NaN-filled: any read of scratch the kernels did not write shows up in the results.
            float[] ws = new float[G.WorkspaceLength(Batch, Seq, MemorySeq)];
            Array.Fill(ws, float.NaN);
            return ws;
        }

        public float[] Forward()
        {
            float[] y = new float[X.Length];
            MultiHeadAttentionKernels.Forward(G, X, M, P, y, Lengths, MemoryLengths, Workspace(), Batch, Seq, MemorySeq);
            return y;
        }

        public float[] TrainForward(out float[] kept)
        {
            float[] y = new float[X.Length];
            kept = new float[G.KeptLength(Batch, Seq, MemorySeq)];
            Array.Fill(kept, float.NaN);
            MultiHeadAttentionKernels.TrainForward(G, X, M, P, y, kept, Lengths, MemoryLengths, Workspace(), Batch, Seq, MemorySeq, Dropout, DropoutSeed);
            return y;
        }

        public (float[] DParameters, float[] DInput, float[] DMemory) Backward(float[] dy, float[] dP0)
        {
            TrainForward(out float[] kept);
            float[] dP = (float[])dP0.Clone(), dX = new float[X.Length], dM = new float[M.Length];
            Array.Fill(dX, float.NaN);   // overwritten, never accumulated
            Array.Fill(dM, float.NaN);
            MultiHeadAttentionKernels.Backward(G, dy, X, M, P, kept, dP, dX, dM, Lengths, MemoryLengths, Workspace(), Batch, Seq, MemorySeq, Dropout, DropoutSeed);
            return (dP, dX, dM);
        }
    }

    private sealed class DecoderCase
    {
        public readonly TransformerDecoderGeometry G;
        public readonly int Batch, Seq, MemorySeq;
        public readonly int[]? Lengths, MemoryLengths;
        public readonly float[] X, M, P;
        public float AttentionDropout;   // attention-weight dropout of the training calls
        public ulong AttentionSeed;

        public DecoderCase(TransformerDecoderGeometry g, int batch, int seq, int memorySeq, bool withLengths, ulong seed)
        {
            (G, Batch, Seq, MemorySeq) = (g, batch, seq, memorySeq);
            Lengths = withLengths ? LengthsFor(batch, seq) : null;
            MemoryLengths = withLengths ? MemoryLengthsFor(batch, memorySeq) : null;
            X = Uniform((int)g.InputLength(batch, seq), seed, -1.5f, 1.5f);
            M = Uniform((int)g.MemoryLength(batch, memorySeq), seed + 7, -1.5f, 1.5f);
            P = Uniform(g.ParameterCount, seed + 1, -0.6f, 0.6f);
        }

        public double[] XD => Array.ConvertAll(X, v => (double)v);
        public double[] MD => Array.ConvertAll(M, v => (double)v);
        public double[] PD => Array.ConvertAll(P, v => (double)v);

        private float[] Workspace()
        {
            float[] ws = new float[G.WorkspaceLength(Batch, Seq, MemorySeq)];
            Array.Fill(ws, float.NaN);
            return ws;
        }

        public float[] Forward()
        {
            float[] y = new float[X.Length];
            TransformerDecoderKernels.Forward(G, X, M, P, y, Lengths, MemoryLengths, Workspace(), Batch, Seq, MemorySeq);
            return y;
        }

        public float[] TrainForward(float dropout, Rng? rng, out float[] kept)
        {
            float[] y = new float[X.Length];
            kept = new float[G.KeptLength(Batch, Seq, MemorySeq)];
            Array.Fill(kept, float.NaN);
            if (AttentionDropout > 0f)
                TransformerDecoderKernels.TrainForward(G, X, M, P, y, kept, Lengths, MemoryLengths, Workspace(), Batch, Seq, MemorySeq, dropout, AttentionDropout, AttentionSeed, rng!);
            else TransformerDecoderKernels.TrainForward(G, X, M, P, y, kept, Lengths, MemoryLengths, Workspace(), Batch, Seq, MemorySeq, dropout, rng!);
            return y;
        }

        public (float[] DParameters, float[] DInput, float[] DMemory) Backward(float[] dy, float dropout, Rng? rng, float[] dP0)
        {
            TrainForward(dropout, rng, out float[] kept);
            float[] dP = (float[])dP0.Clone(), dX = new float[X.Length], dM = new float[M.Length];
            Array.Fill(dX, float.NaN);
            Array.Fill(dM, float.NaN);
            TransformerDecoderKernels.Backward(G, dy, X, M, P, kept, dP, dX, dM, Lengths, MemoryLengths, Workspace(), Batch, Seq, MemorySeq, AttentionDropout, AttentionSeed);
            return (dP, dX, dM);
        }
    }

    private static void AssertRealRowsClose(int width, double[] expected, float[] actual, int[]? lengths, int batch, int seq, double tolerance, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < (lengths?[b] ?? seq); t++)
                for (int j = 0; j < width; j++)
                {
                    int i = (b * seq + t) * width + j;
                    Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"{where}: [{b}, {t}, {j}] = {actual[i]} vs {expected[i]}");
                }
    }

    private static void AssertRealRowsEqual(int width, float[] expected, float[] actual, int[]? lengths, int batch, int seq)
    {
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < (lengths?[b] ?? seq); t++)
                for (int j = 0; j < width; j++)
                {
                    int i = (b * seq + t) * width + j;
                    Assert.True(expected[i] == actual[i], $"[{b}, {t}, {j}] = {actual[i]} vs {expected[i]}");
                }
    }

    private static void AssertGradient(double expected, double actual, string where)
        => Assert.True(Math.Abs(actual - expected) <= 2e-4 + 1e-3 * Math.Abs(expected), $"{where}: {actual} vs finite difference {expected}");
}
