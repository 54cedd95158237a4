// nn.MultiheadAttention kernels: forward against a float64 scalar reference (kept here) for self-attention, cross-attention
// over a memory of the model width (packed in_proj_weight) and of another width (kdim/vdim), heads of odd width (d 15 /
// 5 heads → 3), T = 1, 7, 33, causal or not, with and without lengths and biases; every gradient (q/k/v/out weights and
// biases, input, memory) against float64 central differences; incremental decoding against Forward's rows; padding that
// cannot reach real outputs or gradients; zero steady-state allocation; geometry and argument checks. With rotary embeddings
// (self and cross, head widths 2, 4, 10, 18: every vector width plus a pair tail) the same three checks: forward against the
// reference (which rotates q and k with RotaryKernels' float64 formula), gradients against finite differences, cached steps.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class MultiHeadAttentionKernelsTests
{
    public static TheoryData<int, int, int> Widths()
    {
        // model, heads, memory (0: self-attention): head sizes 3, 3, 3, 2, 7.
        var data = new TheoryData<int, int, int>();
        data.Add(15, 5, 0);
        data.Add(15, 5, 15);
        data.Add(15, 5, 7);
        data.Add(6, 3, 0);
        data.Add(7, 1, 17);
        return data;
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Forward_AllConfigurations_MatchFloat64Reference(int model, int heads, int memory)
    {
        ulong seed = (ulong)(model * 100 + memory);
        foreach (int seq in new[] { 1, 7, 33 })
            foreach (bool causal in new[] { false, true })
                foreach (bool bias in new[] { true, false })
                    foreach (bool withLengths in new[] { false, true })
                    {
                        seed += 3;
                        const int batch = 3;
                        int[]? lengths = withLengths ? [seq, 1, Math.Max(1, seq - 2)] : null;
                        var g = new MultiHeadAttentionGeometry(model, heads, memory, causal, bias);
                        var c = new Case(g, batch, seq, lengths, seed);
                        double[] expected = Reference.Forward(g, c.XD, c.MD, c.PD, lengths, batch, seq);
                        string where = $"{g} seq={seq} lengths={withLengths}";
                        float[] y = c.Forward();
                        AssertRealRowsClose(g, expected, y, lengths, batch, seq, 2e-5, where);
                        Assert.Equal(y, c.TrainForward(out _));   // training forward: the same bits
                    }
    }

    public static TheoryData<int, int, int, int, bool, bool, bool> BackwardCases()
    {
        var data = new TheoryData<int, int, int, int, bool, bool, bool>();
        // model, heads, memory, seq, causal, lengths, bias
        data.Add(15, 5, 0, 7, false, true, true);
        data.Add(15, 5, 0, 7, true, false, true);
        data.Add(15, 5, 15, 7, false, true, true);
        data.Add(15, 5, 7, 7, true, true, true);
        data.Add(15, 5, 7, 33, false, true, false);
        data.Add(6, 3, 0, 33, true, true, false);
        data.Add(7, 1, 17, 1, false, false, true);
        return data;
    }

    [Theory]
    [MemberData(nameof(BackwardCases))]
    public void Backward_MatchesFloat64FiniteDifferences(int model, int heads, int memory, int seq, bool causal, bool withLengths, bool bias)
        => CheckBackward(model, heads, memory, seq, causal, withLengths, bias, 0f);

    public static TheoryData<int, int, int, int, bool, bool, bool, float> AttentionDropoutCases()
    {
        var data = new TheoryData<int, int, int, int, bool, bool, bool, float>();
        // model, heads, memory, seq, causal, lengths, bias, dropout
        data.Add(15, 5, 0, 7, true, true, true, 0.3f);
        data.Add(15, 5, 7, 7, false, true, true, 0.5f);
        data.Add(6, 3, 0, 33, true, true, false, 0.1f);
        data.Add(15, 5, 15, 33, true, false, true, 0.2f);
        return data;
    }

    /// <summary>Attention-weight dropout: forward against the float64 reference dropping the same weights, every gradient against its central differences.</summary>
    [Theory]
    [MemberData(nameof(AttentionDropoutCases))]
    public void AttentionDropout_ForwardAndBackward_MatchFloat64Reference(int model, int heads, int memory, int seq, bool causal, bool withLengths, bool bias, float dropout)
    {
        const int batch = 2;
        const ulong seed = 4242;
        var g = new MultiHeadAttentionGeometry(model, heads, memory, causal, bias);
        int[]? lengths = withLengths ? [seq, Math.Max(1, seq - 3)] : null;
        var c = new Case(g, batch, seq, lengths, (ulong)(model * 10 + seq)) { Dropout = dropout, DropoutSeed = seed };
        double[] expected = Reference.Forward(g, c.XD, c.MD, c.PD, lengths, batch, seq, AttentionDropoutTests.Mask(dropout, seed));
        float[] y = c.TrainForward(out _);
        AssertRealRowsClose(g, expected, y, lengths, batch, seq, 2e-5, $"{g} seq={seq} dropout={dropout}");
        Assert.NotEqual(c.Forward(), y);   // inference never drops
        CheckBackward(model, heads, memory, seq, causal, withLengths, bias, dropout);
    }

    private static void CheckBackward(int model, int heads, int memory, int seq, bool causal, bool withLengths, bool bias, float dropout)
    {
        const int batch = 2;
        const ulong seed = 4242;
        var g = new MultiHeadAttentionGeometry(model, heads, memory, causal, bias);
        int[]? lengths = withLengths ? [seq, Math.Max(1, seq - 3)] : null;
        var c = new Case(g, batch, seq, lengths, (ulong)(model * 10 + seq)) { Dropout = dropout, DropoutSeed = seed };
        var weightMask = dropout > 0 ? AttentionDropoutTests.Mask(dropout, seed) : null;
        float[] dy = Uniform((int)g.InputLength(batch, seq), 17);
        // The loss counts real positions only (padded outputs are "whatever"); the kernels ignore dOutput there.
        double[] dyd = Array.ConvertAll(dy, v => (double)v);
        for (int b = 0; b < batch; b++)
            for (int t = lengths?[b] ?? seq; t < seq; t++)
                for (int j = 0; j < model; j++) dyd[(b * seq + t) * model + j] = 0;
        double[] pd = c.PD, xd = c.XD, md = c.MD;
        double Loss(double[] p, double[] x, double[] m)
        {
            double[] y = Reference.Forward(g, x, m, p, lengths, batch, seq, weightMask);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += y[i] * dyd[i];
            return sum;
        }
        int[] paramIndices = Sample(g.ParameterCount, 120, 3);
        int[] inputIndices = Sample(c.X.Length, 40, 4);
        int[] memoryIndices = Sample(c.M.Length, 40, 5);
        double[] fdParams = paramIndices.Select(i => CentralDifference(pd, i, v => Loss(v, xd, md))).ToArray();
        double[] fdInput = inputIndices.Select(i => CentralDifference(xd, i, v => Loss(pd, v, md))).ToArray();
        double[] fdMemory = memoryIndices.Select(i => CentralDifference(md, i, v => Loss(pd, xd, v))).ToArray();

        string where = $"{g} seq={seq} lengths={withLengths} dropout={dropout}";
        float[] dP0 = Uniform(g.ParameterCount, 41);   // non-zero start: gradients accumulate
        var (dP, dX, dM) = c.Backward(dy, dP0, withInputs: true);
        for (int s = 0; s < paramIndices.Length; s++)
        {
            int i = paramIndices[s];
            AssertGradient(fdParams[s], dP[i] - dP0[i], $"{where}: dParameters[{i}] ({TensorName(g.ParameterTensors(), i)})");
        }
        for (int s = 0; s < inputIndices.Length; s++)
            AssertGradient(fdInput[s], dX![inputIndices[s]], $"{where}: dInput[{inputIndices[s]}]");
        for (int s = 0; s < memoryIndices.Length; s++)
            AssertGradient(fdMemory[s], dM![memoryIndices[s]], $"{where}: dMemory[{memoryIndices[s]}]");

        // Skipping the input gradients changes nothing else.
        var (dP2, _, _) = c.Backward(dy, dP0, withInputs: false);
        Assert.Equal(dP, dP2);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    public void PaddedPositions_DoNotInfluenceRealOutputsOrGradients(int memory)
    {
        const int batch = 4, seq = 6;
        var g = new MultiHeadAttentionGeometry(15, 5, memory);
        int[] lengths = [6, 2, 4, 1];
        var c = new Case(g, batch, seq, lengths, 21);
        var other = new Case(g, batch, seq, lengths, 21);
        float[] dy = Uniform((int)g.InputLength(batch, seq), 22), dyOther = (float[])dy.Clone();
        var junk = new Rng(5);
        for (int b = 0; b < batch; b++)
            for (int t = lengths[b]; t < seq; t++)
            {
                for (int j = 0; j < g.Model; j++)
                {
                    other.X[(b * seq + t) * g.Model + j] = j == 0 ? float.NaN : 1e3f * (junk.NextFloat() - 0.5f);
                    dyOther[(b * seq + t) * g.Model + j] = j == 1 ? float.NaN : 1e3f;
                }
                for (int j = 0; j < g.Memory; j++)
                    other.M[(b * seq + t) * g.Memory + j] = j == 2 ? float.NaN : -1e3f;
            }
        float[] y = c.Forward(), yOther = other.Forward();
        Assert.Equal(y, yOther);   // padded rows are computed from zeros, so they match too
        Assert.All(yOther, v => Assert.True(float.IsFinite(v)));
        float[] dP0 = new float[g.ParameterCount];
        var (dP, dX, dM) = c.Backward(dy, dP0, withInputs: true);
        var (dPOther, dXOther, dMOther) = other.Backward(dyOther, dP0, withInputs: true);
        Assert.Equal(dP, dPOther);
        Assert.Equal(dX, dXOther);
        Assert.Equal(dM, dMOther);
        for (int b = 0; b < batch; b++)
        {
            for (int i = lengths[b] * g.Model; i < seq * g.Model; i++)
                Assert.Equal(0f, dX![b * seq * g.Model + i]);
            for (int i = lengths[b] * g.Memory; i < seq * g.Memory; i++)
                Assert.Equal(0f, dM![b * seq * g.Memory + i]);
        }
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(15, true)]
    [InlineData(7, false)]
    public void ForwardStep_EveryPosition_EqualsForwardRows(int memory, bool bias)
    {
        const int batch = 3, seq = 9, maxLength = 12;
        var g = new MultiHeadAttentionGeometry(15, 5, memory, causal: true, bias);
        var c = new Case(g, batch, seq, null, 60);
        float[] full = c.Forward();
        float[] cache = new float[g.CacheLength(batch, maxLength)];
        Array.Fill(cache, float.NaN);   // rows after the position must never be read
        float[] ws = new float[g.StepWorkspaceLength(batch, maxLength)];
        float[] x = new float[batch * g.Model], m = new float[batch * g.Memory], y = new float[batch * g.Model];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                Array.Copy(c.X, (b * seq + t) * g.Model, x, b * g.Model, g.Model);
                Array.Copy(c.M, (b * seq + t) * g.Memory, m, b * g.Memory, g.Memory);
            }
            MultiHeadAttentionKernels.ForwardStep(g, x, m, c.P, y, cache, t, maxLength, ws, batch);
            for (int b = 0; b < batch; b++)
                for (int j = 0; j < g.Model; j++)
                {
                    float expected = full[(b * seq + t) * g.Model + j];
                    Assert.True(Math.Abs(y[b * g.Model + j] - expected) <= 1e-5, $"{g} position {t} example {b} [{j}]: {y[b * g.Model + j]} vs {expected}");
                }
        }
        for (int i = 0; i < cache.Length; i++)
        {
            int row = i / g.HeadSize % maxLength;
            Assert.True(row < seq ? float.IsFinite(cache[i]) : float.IsNaN(cache[i]), $"cache[{i}] (row {row})");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(24)]
    public void ForwardTrainBackwardStep_SteadyState_AllocateNothing(int memory)
    {
        const int batch = 2, seq = 37;
        var g = new MultiHeadAttentionGeometry(32, 4, memory, causal: true);
        float[] x = Uniform((int)g.InputLength(batch, seq), 1), m = Uniform((int)g.MemoryLength(batch, seq), 9), p = Uniform(g.ParameterCount, 2, -0.2f, 0.2f);
        float[] y = new float[x.Length], dy = Uniform(y.Length, 3), kept = new float[g.KeptLength(batch, seq)];
        float[] ws = new float[g.WorkspaceLength(batch, seq)], dp = new float[g.ParameterCount], dx = new float[x.Length], dm = new float[m.Length];
        float[] cache = new float[g.CacheLength(batch, seq)], stepWs = new float[g.StepWorkspaceLength(batch, seq)];
        float[] xs = new float[batch * g.Model], ms = new float[batch * g.Memory], ys = new float[batch * g.Model];
        int[] lengths = [seq, 5];
        void Step()
        {
            MultiHeadAttentionKernels.Forward(g, x, m, p, y, lengths, ws, batch, seq);
            MultiHeadAttentionKernels.TrainForward(g, x, m, p, y, kept, lengths, ws, batch, seq, 0.2f, 7);
            MultiHeadAttentionKernels.Backward(g, dy, x, m, p, kept, dp, dx, dm, lengths, ws, batch, seq, 0.2f, 7);
            MultiHeadAttentionKernels.ForwardStep(g, xs, ms, p, ys, cache, 1, seq, stepWs, batch);
        }
        for (int i = 0; i < 40; i++) Step();   // past tiering thresholds
        long before = GC.GetAllocatedBytesForCurrentThread();
        MultiHeadAttentionKernels.Forward(g, x, m, p, y, lengths, ws, batch, seq);
        long a1 = GC.GetAllocatedBytesForCurrentThread();
        MultiHeadAttentionKernels.TrainForward(g, x, m, p, y, kept, lengths, ws, batch, seq, 0.2f, 7);
        long a2 = GC.GetAllocatedBytesForCurrentThread();
        MultiHeadAttentionKernels.Backward(g, dy, x, m, p, kept, dp, dx, dm, lengths, ws, batch, seq, 0.2f, 7);
        long a3 = GC.GetAllocatedBytesForCurrentThread();
        MultiHeadAttentionKernels.ForwardStep(g, xs, ms, p, ys, cache, 1, seq, stepWs, batch);
        long a4 = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal("0 0 0 0", $"{a1 - before} {a2 - a1} {a3 - a2} {a4 - a3}");
    }

    public static TheoryData<int, int, int> RotaryWidths()
    {
        // model, heads, memory (0: self-attention): head sizes 4, 4, 2, 10, 18 (past one Vector256/Vector512 with a pair left over).
        var data = new TheoryData<int, int, int>();
        data.Add(12, 3, 0);
        data.Add(12, 3, 7);
        data.Add(12, 6, 12);
        data.Add(10, 1, 0);
        data.Add(36, 2, 5);
        return data;
    }

    [Theory]
    [MemberData(nameof(RotaryWidths))]
    public void Forward_Rotary_MatchesFloat64Reference(int model, int heads, int memory)
    {
        var table = new RotaryTable(model / heads, 40, 500f);   // a small base: large angles at the far positions
        ulong seed = (ulong)(model * 31 + memory);
        foreach (int seq in new[] { 1, 7, 33 })
            foreach (bool causal in new[] { false, true })
                foreach (bool withLengths in new[] { false, true })
                {
                    seed += 5;
                    const int batch = 2;
                    int[]? lengths = withLengths ? [Math.Max(1, seq - 3), seq] : null;
                    var g = new MultiHeadAttentionGeometry(model, heads, memory, causal, bias: true, table);
                    var c = new Case(g, batch, seq, lengths, seed);
                    double[] expected = Reference.Forward(g, c.XD, c.MD, c.PD, lengths, batch, seq);
                    string where = $"{g} seq={seq} lengths={withLengths}";
                    float[] y = c.Forward();
                    AssertRealRowsClose(g, expected, y, lengths, batch, seq, 2e-5, where);
                    Assert.Equal(y, c.TrainForward(out _));
                    if (seq > 1)
                    {
                        // The rotation is not a no-op: without it the result differs.
                        var plain = new Case(new MultiHeadAttentionGeometry(model, heads, memory, causal, bias: true), batch, seq, lengths, seed);
                        Assert.NotEqual(y, plain.Forward());
                    }
                }
    }

    [Theory]
    [InlineData(12, 3, 0, 7, true, true)]
    [InlineData(12, 3, 0, 17, false, false)]
    [InlineData(12, 3, 7, 7, true, true)]
    [InlineData(12, 6, 12, 17, false, true)]
    [InlineData(36, 2, 5, 3, true, false)]
    public void Backward_Rotary_MatchesFloat64FiniteDifferences(int model, int heads, int memory, int seq, bool causal, bool withLengths)
    {
        const int batch = 2;
        var g = new MultiHeadAttentionGeometry(model, heads, memory, causal, bias: true, new RotaryTable(model / heads, 20, 100f));
        int[]? lengths = withLengths ? [seq, Math.Max(1, seq - 3)] : null;
        var c = new Case(g, batch, seq, lengths, (ulong)(model * 7 + seq + memory));
        float[] dy = Uniform((int)g.InputLength(batch, seq), 19);
        double[] dyd = Array.ConvertAll(dy, v => (double)v);
        for (int b = 0; b < batch; b++)
            for (int t = lengths?[b] ?? seq; t < seq; t++)
                for (int j = 0; j < model; j++) dyd[(b * seq + t) * model + j] = 0;
        double[] pd = c.PD, xd = c.XD, md = c.MD;
        double Loss(double[] p, double[] x, double[] m)
        {
            double[] y = Reference.Forward(g, x, m, p, lengths, batch, seq);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += y[i] * dyd[i];
            return sum;
        }
        // The q and k weights and biases are where RoPE acts: sample them densely, plus the rest.
        int qkSpan = g.Model * g.Model + g.Model * g.KeyFeatures;
        int[] paramIndices = Sample(qkSpan, 80, 6).Concat(Sample(g.ParameterCount, 40, 7)).Distinct().ToArray();
        int[] inputIndices = Sample(c.X.Length, 40, 8);
        int[] memoryIndices = Sample(c.M.Length, 40, 9);
        double[] fdParams = paramIndices.Select(i => CentralDifference(pd, i, v => Loss(v, xd, md))).ToArray();
        double[] fdInput = inputIndices.Select(i => CentralDifference(xd, i, v => Loss(pd, v, md))).ToArray();
        double[] fdMemory = memoryIndices.Select(i => CentralDifference(md, i, v => Loss(pd, xd, v))).ToArray();

        string where = $"{g} seq={seq} lengths={withLengths}";
        float[] dP0 = Uniform(g.ParameterCount, 43);
        var (dP, dX, dM) = c.Backward(dy, dP0, withInputs: true);
        for (int s = 0; s < paramIndices.Length; s++)
        {
            int i = paramIndices[s];
            AssertGradient(fdParams[s], dP[i] - dP0[i], $"{where}: dParameters[{i}] ({TensorName(g.ParameterTensors(), i)})");
        }
        for (int s = 0; s < inputIndices.Length; s++)
            AssertGradient(fdInput[s], dX![inputIndices[s]], $"{where}: dInput[{inputIndices[s]}]");
        for (int s = 0; s < memoryIndices.Length; s++)
            AssertGradient(fdMemory[s], dM![memoryIndices[s]], $"{where}: dMemory[{memoryIndices[s]}]");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(12)]
    [InlineData(7)]
    public void ForwardStep_Rotary_EveryPosition_EqualsForwardRows(int memory)
    {
        const int batch = 2, seq = 9, maxLength = 11;
        var g = new MultiHeadAttentionGeometry(12, 3, memory, causal: true, bias: true, new RotaryTable(4, maxLength));
        var c = new Case(g, batch, seq, null, 61);
        float[] full = c.Forward();
        float[] cache = new float[g.CacheLength(batch, maxLength)];
        float[] ws = new float[g.StepWorkspaceLength(batch, maxLength)];
        float[] x = new float[batch * g.Model], m = new float[batch * g.Memory], y = new float[batch * g.Model];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                Array.Copy(c.X, (b * seq + t) * g.Model, x, b * g.Model, g.Model);
                Array.Copy(c.M, (b * seq + t) * g.Memory, m, b * g.Memory, g.Memory);
            }
            MultiHeadAttentionKernels.ForwardStep(g, x, m, c.P, y, cache, t, maxLength, ws, batch);
            for (int b = 0; b < batch; b++)
                for (int j = 0; j < g.Model; j++)
                {
                    float expected = full[(b * seq + t) * g.Model + j];
                    Assert.True(Math.Abs(y[b * g.Model + j] - expected) <= 1e-5, $"{g} position {t} example {b} [{j}]: {y[b * g.Model + j]} vs {expected}");
                }
        }
    }

    [Fact]
    public void Rotary_InvalidArguments_ThrowClearMessages()
    {
        var e = Assert.Throws<ArgumentException>(() => new MultiHeadAttentionGeometry(12, 3, rotary: new RotaryTable(6, 8)));
        Assert.Equal("rotary", e.ParamName);
        Assert.Contains("rotates heads of 6 features but model 12 / heads 3 gives heads of 4", e.Message);
        var g = new MultiHeadAttentionGeometry(12, 3, causal: true, rotary: new RotaryTable(4, 5));
        Assert.NotEqual(g, new MultiHeadAttentionGeometry(12, 3, causal: true));
        Assert.Equal(g, new MultiHeadAttentionGeometry(12, 3, causal: true, rotary: new RotaryTable(4, 5)));
        Assert.EndsWith("rotary=RotaryPositionalEmbeddings(dim=4, max_seq_len=5, base=10000))", g.ToString());
        const int batch = 1, seq = 6;
        float[] x = new float[batch * seq * 12], p = new float[g.ParameterCount], y = new float[x.Length];
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(g, x, [], p, y, [], new float[g.WorkspaceLength(batch, seq)], batch, seq));
        Assert.Equal("seq", e.ParamName);
        Assert.Contains("'seq' (6) exceeds the 5 positions of the rotary table", e.Message);
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => MultiHeadAttentionKernels.ForwardStep(g, new float[12], [], p, new float[12],
            new float[g.CacheLength(batch, 8)], 5, 8, new float[g.StepWorkspaceLength(batch, 8)], batch));
        Assert.Contains("'position' (5) is beyond the 5 positions of the rotary table", r.Message);
    }

    [Fact]
    public void Geometry_ParameterTensors_FollowMultiheadAttentionStateDict()
    {
        var self = new MultiHeadAttentionGeometry(8, 2);
        Assert.Equal(["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"], self.ParameterTensors().Select(t => t.Name));
        Assert.Equal(4 * 64 + 4 * 8, self.ParameterCount);
        Assert.Equal([24, 8], self.ParameterTensors().First().Shape);
        var packedCross = new MultiHeadAttentionGeometry(8, 2, memory: 8);
        Assert.True(packedCross.PackedInProjection && packedCross.IsCross);
        Assert.Equal(self.ParameterTensors().Select(t => t.Name), packedCross.ParameterTensors().Select(t => t.Name));
        var cross = new MultiHeadAttentionGeometry(8, 2, memory: 5, bias: false);
        var tensors = cross.ParameterTensors().ToArray();
        Assert.Equal(["q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"], tensors.Select(t => t.Name));
        Assert.Equal([[8, 8], [8, 5], [8, 5], [8, 8]], tensors.Select(t => t.Shape));
        Assert.Equal(cross.ParameterCount, tensors.Sum(t => t.Shape.Aggregate(1, (a, b) => a * b)));
        Assert.Equal(4 * 8 + 2, cross.TrainingStepLength);
        Assert.Equal(2L * 3 * 10 * 8, cross.CacheLength(3, 10));
        Assert.Equal("MultiheadAttention(embed_dim=8, num_heads=2, kdim=5, vdim=5, cross, bias=False, causal=False)", cross.ToString());
        Assert.Equal(cross, new MultiHeadAttentionGeometry(8, 2, 5, false, false));
        Assert.NotEqual(cross, new MultiHeadAttentionGeometry(8, 2, 5, true, false));
    }

    [Fact]
    public void Kernels_InvalidArguments_ThrowClearMessages()
    {
        var e = Assert.Throws<ArgumentException>(() => new MultiHeadAttentionGeometry(10, 3));
        Assert.Equal("heads", e.ParamName);
        Assert.Contains("'heads' (3) must divide 'model' (10)", e.Message);
        Assert.Equal("memory", Assert.Throws<ArgumentOutOfRangeException>(() => new MultiHeadAttentionGeometry(10, 2, -1)).ParamName);
        Assert.Equal("model", Assert.Throws<ArgumentOutOfRangeException>(() => new MultiHeadAttentionGeometry(0, 1)).ParamName);

        var g = new MultiHeadAttentionGeometry(6, 2, memory: 4);
        const int batch = 2, seq = 3;
        float[] x = new float[batch * seq * 6], m = new float[batch * seq * 4], p = new float[g.ParameterCount], y = new float[x.Length];
        float[] ws = new float[g.WorkspaceLength(batch, seq)], kept = new float[g.KeptLength(batch, seq)];
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(g, x, new float[5], p, y, [], ws, batch, seq));
        Assert.Equal("memory", e.ParamName);
        Assert.Contains("must have 24 elements ([batch=2, seq=3, Memory=4]) but has 5", e.Message);
        var self = new MultiHeadAttentionGeometry(6, 2);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(self, x, m, new float[self.ParameterCount], y, [], new float[self.WorkspaceLength(batch, seq)], batch, seq));
        Assert.Contains("empty for self-attention", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(g, x, m, p, y, [3, 4], ws, batch, seq));
        Assert.Contains("'lengths[1]' must be in [1, seq=3] but is 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(g, x, m, p, x, [], ws, batch, seq));
        Assert.Contains("'output' must not overlap 'input'", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Forward(default, x, m, p, y, [], ws, batch, seq));
        Assert.Equal("g", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.TrainForward(g, x, m, p, y, new float[4], [], ws, batch, seq));
        Assert.Equal("kept", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Backward(g, y, x, m, p, kept, new float[g.ParameterCount], [], new float[3], [], ws, batch, seq));
        Assert.Equal("dMemory", e.ParamName);
        Assert.Contains("[batch=2, seq=3, Memory=4] or empty", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.Backward(g, y, x, m, p, kept, new float[g.ParameterCount], [], m, [], ws, batch, seq));
        Assert.Contains("must not overlap", e.Message);
        e = Assert.Throws<ArgumentException>(() => MultiHeadAttentionKernels.ForwardStep(g, new float[12], new float[8], p, new float[12],
            new float[g.CacheLength(batch, 4)], 0, 4, new float[g.StepWorkspaceLength(batch, 4)], batch));
        Assert.Contains("must be causal", e.Message);
    }

    // ------------------------------------------------------------------------------------------------ reference

    /// <summary>The float64 scalar reference: PyTorch's multi_head_attention_forward written out loop by loop.</summary>
    internal static class Reference
    {
        /// <summary>With <paramref name="weightMask"/>, softmax weight (b, h, i, j) is multiplied by it (attention dropout).</summary>
        public static double[] Forward(MultiHeadAttentionGeometry g, double[] x, double[] m, double[] p, int[]? lengths, int batch, int seq,
            Func<int, int, int, int, double>? weightMask = null)
            => Forward(g, x, m, p, lengths, batch, seq, lengths, seq, weightMask);

        /// <summary>Cross-attention over a memory of <paramref name="memorySeq"/> rows per example, keys masked past <paramref name="memoryLengths"/>;
        /// <paramref name="weightMask"/> as in the other overload, j the memory position.</summary>
        public static double[] Forward(MultiHeadAttentionGeometry g, double[] x, double[] m, double[] p, int[]? lengths, int batch, int seq,
            int[]? memoryLengths, int memorySeq, Func<int, int, int, int, double>? weightMask = null)
        {
            int d = g.Model, dk = g.KeyFeatures, hs = g.HeadSize, ms = memorySeq;
            if (!g.IsCross) (m, ms, memoryLengths) = (x, seq, lengths);
            int wq = 0, wk = d * d, wv = wk + d * dk, at = wv + d * dk;
            int bq = -1, wo, bo = -1;
            if (g.Bias) { bq = at; at += 3 * d; }
            wo = at;
            if (g.Bias) bo = wo + d * d;
            var y = new double[batch * seq * d];
            for (int b = 0; b < batch; b++)
            {
                int len = memoryLengths?[b] ?? ms;
                var q = new double[seq, d];
                var k = new double[ms, d];
                var v = new double[ms, d];
                for (int t = 0; t < seq; t++)
                    for (int o = 0; o < d; o++)
                    {
                        double sq = g.Bias ? p[bq + o] : 0;
                        for (int i = 0; i < d; i++) sq += p[wq + o * d + i] * x[(b * seq + t) * d + i];
                        q[t, o] = sq;
                    }
                for (int t = 0; t < ms; t++)
                    for (int o = 0; o < d; o++)
                    {
                        double sk = g.Bias ? p[bq + d + o] : 0, sv = g.Bias ? p[bq + 2 * d + o] : 0;
                        for (int i = 0; i < dk; i++)
                        {
                            sk += p[wk + o * dk + i] * m[(b * ms + t) * dk + i];
                            sv += p[wv + o * dk + i] * m[(b * ms + t) * dk + i];
                        }
                        k[t, o] = sk;
                        v[t, o] = sv;
                    }
                if (g.Rotary is { } table)
                {
                    RotateRows(q, table);   // q by its position, k by its (memory) position: the same t
                    RotateRows(k, table);
                }
                var a = new double[seq, d];
                for (int h = 0; h < g.Heads; h++)
                    for (int i = 0; i < seq; i++)
                    {
                        int visible = g.Causal ? Math.Min(len, i + 1) : len;
                        var s = new double[visible];
                        double max = double.NegativeInfinity;
                        for (int j = 0; j < visible; j++)
                        {
                            double dot = 0;
                            for (int c = 0; c < hs; c++) dot += q[i, h * hs + c] * k[j, h * hs + c];
                            s[j] = dot / Math.Sqrt(hs);
                            max = Math.Max(max, s[j]);
                        }
                        double sum = 0;
                        for (int j = 0; j < visible; j++) sum += s[j] = Math.Exp(s[j] - max);
                        for (int j = 0; j < visible; j++)
                        {
                            double w = s[j] / sum * (weightMask?.Invoke(b, h, i, j) ?? 1.0);
                            for (int c = 0; c < hs; c++) a[i, h * hs + c] += w * v[j, h * hs + c];
                        }
                    }
                for (int t = 0; t < seq; t++)
                    for (int o = 0; o < d; o++)
                    {
                        double sum = g.Bias ? p[bo + o] : 0;
                        for (int i = 0; i < d; i++) sum += p[wo + o * d + i] * a[t, i];
                        y[(b * seq + t) * d + o] = sum;
                    }
            }
            return y;
        }

        /// <summary>Rotates the head vectors of rows [seq, d] by their positions (RotaryKernels' float64 formula).</summary>
        private static void RotateRows(double[,] rows, RotaryTable table)
        {
            int seq = rows.GetLength(0), d = rows.GetLength(1);
            var flat = new double[seq * d];
            Buffer.BlockCopy(rows, 0, flat, 0, flat.Length * sizeof(double));
            RotaryKernels.ReferenceForward(flat, table.HeadSize, 1, seq, d, d, 0, table.Base);
            Buffer.BlockCopy(flat, 0, rows, 0, flat.Length * sizeof(double));
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// <summary>One problem: input, memory and parameters in float (for the kernels) and double (for the reference).</summary>
    private sealed class Case
    {
        public readonly MultiHeadAttentionGeometry G;
        public readonly int Batch, Seq;
        public readonly int[]? Lengths;
        public readonly float[] X, M, P;
        public float Dropout;       // attention-weight dropout of TrainForward and Backward
        public ulong DropoutSeed;

        public Case(MultiHeadAttentionGeometry g, int batch, int seq, int[]? lengths, ulong seed)
        {
            G = g;
            Batch = batch;
            Seq = seq;
            Lengths = lengths;
            X = Uniform((int)g.InputLength(batch, seq), seed, -1.5f, 1.5f);
            M = Uniform((int)g.MemoryLength(batch, seq), seed + 2, -1.5f, 1.5f);
            // U(±0.6): attention scores of a few units (neither uniform nor one-hot).
            P = Uniform(g.ParameterCount, seed + 1, -0.6f, 0.6f);
        }

        public double[] XD => Array.ConvertAll(X, v => (double)v);
        public double[] MD => Array.ConvertAll(M, v => (double)v);
        public double[] PD => Array.ConvertAll(P, v => (double)v);

        private float[] Workspace()
        {
            // NaN-filled: any read of scratch the kernels did not write shows up in the results.
            float[] ws = new float[G.WorkspaceLength(Batch, Seq)];
            Array.Fill(ws, float.NaN);
            return ws;
        }

        public float[] Forward()
        {
            float[] y = new float[X.Length];
            MultiHeadAttentionKernels.Forward(G, X, M, P, y, Lengths, Workspace(), Batch, Seq);
            return y;
        }

        public float[] TrainForward(out float[] kept)
        {
            float[] y = new float[X.Length];
            kept = new float[G.KeptLength(Batch, Seq)];
            Array.Fill(kept, float.NaN);
            MultiHeadAttentionKernels.TrainForward(G, X, M, P, y, kept, Lengths, Workspace(), Batch, Seq, Dropout, DropoutSeed);
            return y;
        }

        public (float[] DParameters, float[]? DInput, float[]? DMemory) Backward(float[] dy, float[] dP0, bool withInputs)
        {
            TrainForward(out float[] kept);
            float[] dP = (float[])dP0.Clone();
            float[]? dX = withInputs ? new float[X.Length] : null;
            float[]? dM = withInputs ? new float[M.Length] : null;
            if (dX != null) Array.Fill(dX, float.NaN);   // overwritten, never accumulated
            if (dM != null) Array.Fill(dM, float.NaN);
            MultiHeadAttentionKernels.Backward(G, dy, X, M, P, kept, dP, dX, dM, Lengths, Workspace(), Batch, Seq, Dropout, DropoutSeed);
            return (dP, dX, dM);
        }
    }

    /// <summary>Compares the rows of real positions.</summary>
    private static void AssertRealRowsClose(in MultiHeadAttentionGeometry g, double[] expected, float[] actual, int[]? lengths, int batch, int seq, double tolerance, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < (lengths?[b] ?? seq); t++)
                for (int j = 0; j < g.Model; j++)
                {
                    int i = (b * seq + t) * g.Model + j;
                    Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"{where}: [{b}, {t}, {j}] = {actual[i]} vs {expected[i]}");
                }
    }

    private static void AssertGradient(double expected, double actual, string where)
        => Assert.True(Math.Abs(actual - expected) <= 2e-4 + 1e-3 * Math.Abs(expected), $"{where}: {actual} vs finite difference {expected}");
}
