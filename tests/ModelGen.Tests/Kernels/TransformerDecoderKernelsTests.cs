// Transformer decoder stacks: forward against a float64 reference composed from the MultiHeadAttention reference (self- and
// cross-attention) and TransformerReference's LayerNorm/Linear (pre- and post-norm, causal or not, ReLU and GELU, one and two
// layers, memory as wide as the model or not, with and without lengths); training forward with dropout against the reference
// given the same masks; backward (parameters, input and memory) against float64 central differences at small odd sizes;
// padding that cannot reach real outputs or gradients; zero steady-state allocation; geometry and argument checks.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class TransformerDecoderKernelsTests
{
    [Theory]
    [InlineData(6, 3, 5, 0)]
    [InlineData(6, 3, 5, 4)]
    [InlineData(20, 4, 33, 7)]
    public void Forward_AllConfigurations_MatchFloat64Reference(int model, int heads, int feedForward, int memory)
    {
        ulong seed = (ulong)(model * 100 + memory);
        foreach (int seq in new[] { 1, 5 })
            foreach (int layers in new[] { 1, 2 })
                foreach (bool normFirst in new[] { true, false })
                    foreach (bool causal in new[] { false, true })
                        foreach (var act in new[] { FeedForwardActivation.ReLU, FeedForwardActivation.Gelu })
                            foreach (int[]? lengths in new[] { null, seq == 1 ? [1, 1, 1] : new[] { 5, 2, 4 } })
                            {
                                seed += 3;
                                var g = new TransformerDecoderGeometry(model, heads, feedForward, layers, normFirst, causal, act, memory);
                                var c = new Case(g, 3, seq, lengths, seed);
                                double[] expected = DecoderReference.Forward(g, c.XD, c.MD, c.PD, lengths, 3, seq);
                                AssertRealRowsClose(g, expected, c.Forward(), lengths, 3, seq, 3e-5, $"{g} seq={seq} lengths={(lengths is null ? "none" : "some")}");
                            }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Forward_LongerSequence_MatchesReference_AndTrainForwardWithoutDropoutIsBitIdentical(bool normFirst)
    {
        // 2·70 rows: several query and key tiles per example, and the projections' packed-GEMM path.
        var g = new TransformerDecoderGeometry(16, 2, 24, 2, normFirst, causal: true, FeedForwardActivation.Gelu);
        int[] lengths = [70, 66];
        var c = new Case(g, 2, 70, lengths, 9);
        float[] y = c.Forward();
        AssertRealRowsClose(g, DecoderReference.Forward(g, c.XD, c.MD, c.PD, lengths, 2, 70), y, lengths, 2, 70, 3e-5, g.ToString());
        Assert.Equal(y, c.TrainForward(0f, null, out _));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainForward_Dropout_AppliesTheDocumentedMasks(bool normFirst)
    {
        const float p = 0.3f;
        const ulong rngSeed = 77;
        var g = new TransformerDecoderGeometry(15, 3, 9, 2, normFirst, causal: true, FeedForwardActivation.ReLU, memory: 8);
        int[] lengths = [5, 3, 4];
        var c = new Case(g, 3, 5, lengths, 8);
        var masks = DecoderReference.Masks(g, 3, 5, p, rngSeed);
        Assert.Contains(0.0, masks[1][1]);
        double[] expected = DecoderReference.Forward(g, c.XD, c.MD, c.PD, lengths, 3, 5, masks);
        AssertRealRowsClose(g, expected, c.TrainForward(p, new Rng(rngSeed), out _), lengths, 3, 5, 3e-5, g.ToString());
    }

    public static TheoryData<int, int, int, int, bool, bool, FeedForwardActivation, bool, float, int> BackwardCases()
    {
        var data = new TheoryData<int, int, int, int, bool, bool, FeedForwardActivation, bool, float, int>();
        // model, heads, feedForward, layers, normFirst, causal, activation, lengths, dropout, memory
        data.Add(6, 3, 5, 2, true, true, FeedForwardActivation.ReLU, true, 0f, 0);
        data.Add(6, 3, 5, 2, false, true, FeedForwardActivation.Gelu, true, 0f, 0);
        data.Add(6, 3, 5, 2, true, false, FeedForwardActivation.Gelu, false, 0.25f, 4);
        data.Add(6, 3, 5, 2, false, false, FeedForwardActivation.ReLU, true, 0.25f, 7);
        data.Add(15, 3, 9, 1, false, true, FeedForwardActivation.Gelu, true, 0f, 0);
        return data;
    }

    [Theory]
    [MemberData(nameof(BackwardCases))]
    public void Backward_MatchesFloat64FiniteDifferences(int model, int heads, int feedForward, int layers, bool normFirst, bool causal,
        FeedForwardActivation activation, bool withLengths, float dropout, int memory)
        => CheckBackward(model, heads, feedForward, layers, normFirst, causal, activation, withLengths, dropout, memory, 0f);

    /// <summary>Self- and cross-attention weights dropped (per layer and block, from one seed): every gradient against central differences.</summary>
    [Theory]
    [InlineData(6, 3, 5, 2, true, true, FeedForwardActivation.Gelu, true, 0.2f, 4, 0.3f)]
    [InlineData(6, 3, 5, 2, false, false, FeedForwardActivation.Gelu, true, 0f, 0, 0.5f)]
    public void Backward_AttentionDropout_MatchesFloat64FiniteDifferences(int model, int heads, int feedForward, int layers, bool normFirst, bool causal,
        FeedForwardActivation activation, bool withLengths, float dropout, int memory, float attentionDropout)
        => CheckBackward(model, heads, feedForward, layers, normFirst, causal, activation, withLengths, dropout, memory, attentionDropout);

    [Fact]
    public void TrainForward_AttentionDropout_MatchesFloat64Reference()
    {
        const ulong rngSeed = 77, attentionSeed = 99;
        var g = new TransformerDecoderGeometry(15, 3, 9, 2, true, causal: true, FeedForwardActivation.Gelu, memory: 8);
        int[] lengths = [5, 3, 4];
        var c = new Case(g, 3, 5, lengths, 8) { AttentionDropout = 0.3f, AttentionSeed = attentionSeed };
        var masks = DecoderReference.Masks(g, 3, 5, 0.1f, rngSeed);
        double[] expected = DecoderReference.Forward(g, c.XD, c.MD, c.PD, lengths, 3, 5, masks, 0.3f, attentionSeed);
        float[] dropped = c.TrainForward(0.1f, new Rng(rngSeed), out _);
        AssertRealRowsClose(g, expected, dropped, lengths, 3, 5, 3e-5, $"{g} attentionDropout=0.3");
        c.AttentionDropout = 0f;
        Assert.NotEqual(c.TrainForward(0.1f, new Rng(rngSeed), out _), dropped);
    }

    private static void CheckBackward(int model, int heads, int feedForward, int layers, bool normFirst, bool causal,
        FeedForwardActivation activation, bool withLengths, float dropout, int memory, float attentionDropout)
    {
        const ulong rngSeed = 31, attentionSeed = 808;
        foreach (int seq in new[] { 1, 5 })
        {
            const int batch = 3;
            var g = new TransformerDecoderGeometry(model, heads, feedForward, layers, normFirst, causal, activation, memory);
            int[]? lengths = withLengths ? (seq == 1 ? [1, 1, 1] : [5, 1, 3]) : null;
            var c = new Case(g, batch, seq, lengths, (ulong)(model * 10 + layers + seq)) { AttentionDropout = attentionDropout, AttentionSeed = attentionSeed };
            var masks = DecoderReference.Masks(g, batch, seq, dropout, rngSeed);
            float[] dy = Uniform((int)g.InputLength(batch, seq), 17);
            // The loss counts real positions only (padded outputs are "whatever"); the kernels ignore dOutput there.
            double[] dyd = Array.ConvertAll(dy, v => (double)v);
            for (int b = 0; b < batch; b++)
                for (int t = lengths?[b] ?? seq; t < seq; t++)
                    for (int j = 0; j < model; j++) dyd[(b * seq + t) * model + j] = 0;
            double[] pd = c.PD, xd = c.XD, md = c.MD;
            double Loss(double[] p, double[] x, double[] m)
            {
                double[] y = DecoderReference.Forward(g, x, m, p, lengths, batch, seq, masks, attentionDropout, attentionSeed);
                double sum = 0;
                for (int i = 0; i < y.Length; i++) sum += y[i] * dyd[i];
                return sum;
            }
            int[] paramIndices = Sample(g.ParameterCount, 120, 3);
            int[] inputIndices = Sample(c.X.Length, 30, 4);
            int[] memoryIndices = Sample(c.M.Length, 30, 5);
            double[] fdParams = paramIndices.Select(i => CentralDifference(pd, i, v => Loss(v, xd, md))).ToArray();
            double[] fdInput = inputIndices.Select(i => CentralDifference(xd, i, v => Loss(pd, v, md))).ToArray();
            double[] fdMemory = memoryIndices.Select(i => CentralDifference(md, i, v => Loss(pd, xd, v))).ToArray();

            string where = $"{g} seq={seq} lengths={withLengths} dropout={dropout} attentionDropout={attentionDropout}";
            float[] dP0 = Uniform(g.ParameterCount, 41);   // non-zero start: gradients accumulate
            var (dP, dX, dM) = c.Backward(dy, dropout, new Rng(rngSeed), dP0, withInput: true, withMemory: true);
            for (int s = 0; s < paramIndices.Length; s++)
            {
                int i = paramIndices[s];
                AssertGradient(fdParams[s], dP[i] - dP0[i], $"{where}: dParameters[{i}] ({TensorName(g.ParameterTensors(), i)})");
            }
            for (int s = 0; s < inputIndices.Length; s++)
                AssertGradient(fdInput[s], dX![inputIndices[s]], $"{where}: dInput[{inputIndices[s]}]");
            for (int s = 0; s < memoryIndices.Length; s++)
                AssertGradient(fdMemory[s], dM![memoryIndices[s]], $"{where}: dMemory[{memoryIndices[s]}]");

            // Skipping dInput and dMemory changes nothing else.
            var (dP2, _, _) = c.Backward(dy, dropout, new Rng(rngSeed), dP0, withInput: false, withMemory: false);
            Assert.Equal(dP, dP2);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PaddedPositions_DoNotInfluenceRealOutputsOrGradients(bool normFirst)
    {
        const int batch = 4, seq = 6;
        var g = new TransformerDecoderGeometry(20, 4, 33, 2, normFirst, causal: true, FeedForwardActivation.Gelu, memory: 9);
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
                for (int j = 0; j < g.Memory; j++) other.M[(b * seq + t) * g.Memory + j] = j == 2 ? float.NaN : -1e3f;
            }
        float[] y = c.Forward(), yOther = other.Forward();
        Assert.Equal(y, yOther);   // padded rows are computed from zeros, so they match too
        Assert.All(yOther, v => Assert.True(float.IsFinite(v)));
        float[] dP0 = new float[g.ParameterCount];
        var (dP, dX, dM) = c.Backward(dy, 0.2f, new Rng(3), dP0, withInput: true, withMemory: true);
        var (dPOther, dXOther, dMOther) = other.Backward(dyOther, 0.2f, new Rng(3), dP0, withInput: true, withMemory: true);
        Assert.Equal(dP, dPOther);
        Assert.Equal(dX, dXOther);
        Assert.Equal(dM, dMOther);
        for (int b = 0; b < batch; b++)
        {
            for (int i = lengths[b] * g.Model; i < seq * g.Model; i++) Assert.Equal(0f, dX![b * seq * g.Model + i]);
            for (int i = lengths[b] * g.Memory; i < seq * g.Memory; i++) Assert.Equal(0f, dM![b * seq * g.Memory + i]);
        }
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(4, 17)]
    public void ForwardTrainBackward_SteadyState_AllocateNothing(int batch, int seq)
    {
        foreach (bool normFirst in new[] { true, false })
        {
            var g = new TransformerDecoderGeometry(32, 4, 64, 2, normFirst, causal: true, FeedForwardActivation.Gelu, memory: 24);
            float[] x = Uniform((int)g.InputLength(batch, seq), 1), m = Uniform((int)g.MemoryLength(batch, seq), 5), p = Uniform(g.ParameterCount, 2, -0.2f, 0.2f);
            float[] y = new float[x.Length], dy = Uniform(y.Length, 3), kept = new float[g.KeptLength(batch, seq)];
            float[] ws = new float[g.WorkspaceLength(batch, seq)], dp = new float[g.ParameterCount], dx = new float[x.Length], dm = new float[m.Length];
            int[] lengths = Enumerable.Range(0, batch).Select(b => 1 + (seq - 1 - b) % seq).ToArray();
            var rng = new Rng(4);
            for (int i = 0; i < 40; i++)   // past the tiering call-count threshold, so no promotion happens inside the measurement
            {
                TransformerDecoderKernels.Forward(g, x, m, p, y, lengths, ws, batch, seq);
                TransformerDecoderKernels.TrainForward(g, x, m, p, y, kept, lengths, ws, batch, seq, 0.2f, rng);
                TransformerDecoderKernels.Backward(g, dy, x, m, p, kept, dp, dx, dm, lengths, ws, batch, seq);
            }
            string where = $"(normFirst {normFirst}, batch {batch}, seq {seq})";
            AllocationAssert.SteadyStateAllocatesNothing(() => TransformerDecoderKernels.Forward(g, x, m, p, y, lengths, ws, batch, seq),
                callsPerWindow: 1, $"Forward {where}", warmUpCalls: 0);
            AllocationAssert.SteadyStateAllocatesNothing(() => TransformerDecoderKernels.TrainForward(g, x, m, p, y, kept, lengths, ws, batch, seq, 0.2f, rng),
                callsPerWindow: 1, $"TrainForward {where}", warmUpCalls: 0);
            AllocationAssert.SteadyStateAllocatesNothing(() => TransformerDecoderKernels.Backward(g, dy, x, m, p, kept, dp, dx, dm, lengths, ws, batch, seq),
                callsPerWindow: 1, $"Backward {where}", warmUpCalls: 0);
        }
    }

    [Fact]
    public void Geometry_ParameterTensors_FollowTransformerDecoderStateDictOrder()
    {
        var g = new TransformerDecoderGeometry(8, 2, 12, 2, true, true, FeedForwardActivation.ReLU);
        var tensors = g.ParameterTensors().ToArray();
        string[] suffixes = ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
            "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias", "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias",
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
            "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias"];
        Assert.Equal(suffixes.Select(s => "layers.0." + s).Concat(suffixes.Select(s => "layers.1." + s)), tensors.Select(t => t.Name));
        int[][] shapes = [[24, 8], [24], [8, 8], [8], [24, 8], [24], [8, 8], [8], [12, 8], [12], [8, 12], [8], [8], [8], [8], [8], [8], [8]];
        for (int i = 0; i < tensors.Length; i++) Assert.Equal(shapes[i % 18], tensors[i].Shape);
        Assert.Equal(g.ParameterCount, tensors.Sum(t => t.Shape.Aggregate(1, (a, b) => a * b)));
        // nn.TransformerDecoderLayer(8, 2, 12): 8·64 + 2·8·12 + 15·8 + 12 = 836 parameters per layer.
        Assert.Equal(836, g.LayerParameterCount);
        Assert.Equal(1672, g.ParameterCount);
        Assert.Equal(2 * (16 * 8 + 2 * 2 + 3 * 12 + 6) + 8, g.TrainingStepLength);
        Assert.Equal("TransformerDecoder(d_model=8, nhead=2, dim_feedforward=12, num_layers=2, memory=8, norm_first=True, causal=True, activation=relu, eps=1E-05)", g.ToString());
        Assert.Equal(g, new TransformerDecoderGeometry(8, 2, 12, 2, true, true, FeedForwardActivation.ReLU, memory: 8));

        // A memory of another width: PyTorch's kdim/vdim names.
        var narrow = new TransformerDecoderGeometry(8, 2, 12, 1, false, true, FeedForwardActivation.Gelu, memory: 5);
        var cross = narrow.ParameterTensors().Where(t => t.Name.Contains("multihead_attn")).ToArray();
        Assert.Equal(["layers.0.multihead_attn.q_proj_weight", "layers.0.multihead_attn.k_proj_weight", "layers.0.multihead_attn.v_proj_weight",
            "layers.0.multihead_attn.in_proj_bias", "layers.0.multihead_attn.out_proj.weight", "layers.0.multihead_attn.out_proj.bias"], cross.Select(t => t.Name));
        Assert.Equal([8, 5], cross[1].Shape);
        Assert.Equal(narrow.ParameterCount, narrow.ParameterTensors().Sum(t => t.Shape.Aggregate(1, (a, b) => a * b)));
        Assert.NotEqual(g, narrow);
    }

    [Fact]
    public void Geometry_InvalidArguments_ThrowNamingTheArgument()
    {
        Assert.Equal("model", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerDecoderGeometry(0, 1, 4, 1, true, true, FeedForwardActivation.ReLU)).ParamName);
        Assert.Equal("heads", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerDecoderGeometry(8, 0, 4, 1, true, true, FeedForwardActivation.ReLU)).ParamName);
        Assert.Equal("feedForward", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerDecoderGeometry(8, 2, 0, 1, true, true, FeedForwardActivation.ReLU)).ParamName);
        Assert.Equal("layers", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerDecoderGeometry(8, 2, 4, 0, true, true, FeedForwardActivation.ReLU)).ParamName);
        Assert.Equal("memory", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerDecoderGeometry(8, 2, 4, 1, true, true, FeedForwardActivation.ReLU, -1)).ParamName);
        Assert.Equal("activation", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerDecoderGeometry(8, 2, 4, 1, true, true, (FeedForwardActivation)5)).ParamName);
        Assert.Equal("eps", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerDecoderGeometry(8, 2, 4, 1, true, true, FeedForwardActivation.ReLU, 0, float.NaN)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => new TransformerDecoderGeometry(10, 3, 4, 1, true, true, FeedForwardActivation.ReLU));
        Assert.Equal("heads", e.ParamName);
        Assert.Contains("'heads' (3) must divide 'model' (10)", e.Message);
    }

    [Fact]
    public void Kernels_InvalidArguments_ThrowClearMessages()
    {
        var g = new TransformerDecoderGeometry(6, 3, 5, 1, true, true, FeedForwardActivation.ReLU, memory: 4);
        const int batch = 2, seq = 3;
        float[] x = new float[batch * seq * 6], m = new float[batch * seq * 4], p = new float[g.ParameterCount], y = new float[x.Length];
        float[] ws = new float[g.WorkspaceLength(batch, seq)], kept = new float[g.KeptLength(batch, seq)], dp = new float[g.ParameterCount];

        var e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.Forward(g, new float[5], m, p, y, [], ws, batch, seq));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("must have 36 elements ([batch=2, seq=3, Model=6]) but has 5", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.Forward(g, x, new float[36], p, y, [], ws, batch, seq));
        Assert.Equal("memory", e.ParamName);
        Assert.Contains("must have 24 elements ([batch=2, seq=3, Memory=4]) but has 36", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.Forward(g, x, m, new float[3], y, [], ws, batch, seq));
        Assert.Equal("parameters", e.ParamName);
        Assert.Contains($"must have {g.ParameterCount} elements (ParameterCount of TransformerDecoder(d_model=6", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.Forward(g, x, m, p, y, [1, 4], ws, batch, seq));
        Assert.Equal("lengths", e.ParamName);
        Assert.Contains("'lengths[1]' must be in [1, seq=3] but is 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.Forward(g, x, m, p, y, [], new float[3], batch, seq));
        Assert.Equal("workspace", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.Forward(g, x, m, p, x, [], ws, batch, seq));
        Assert.Equal("output", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.TrainForward(g, x, m, p, y, new float[7], [], ws, batch, seq, 0f, null!));
        Assert.Equal("kept", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => TransformerDecoderKernels.TrainForward(g, x, m, p, y, kept, [], ws, batch, seq, 1.5f, new Rng(1)));
        Assert.Throws<ArgumentNullException>(() => TransformerDecoderKernels.TrainForward(g, x, m, p, y, kept, [], ws, batch, seq, 0.5f, null!));
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.Backward(g, y, x, m, p, kept, dp, new float[36], new float[5], [], ws, batch, seq));
        Assert.Equal("dMemory", e.ParamName);
        Assert.Contains("must have 24 elements ([batch=2, seq=3, Memory=4]) or be empty but has 5", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerDecoderKernels.Forward(default, x, m, p, y, [], ws, batch, seq));
        Assert.Equal("g", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => TransformerDecoderKernels.Forward(g, x, m, p, y, [], ws, batch, 0));
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private sealed class Case
    {
        public readonly TransformerDecoderGeometry G;
        public readonly int Batch, Seq;
        public readonly int[]? Lengths;
        public readonly float[] X, M, P;

        public Case(TransformerDecoderGeometry g, int batch, int seq, int[]? lengths, ulong seed)
        {
            G = g;
            Batch = batch;
            Seq = seq;
            Lengths = lengths;
            X = Uniform((int)g.InputLength(batch, seq), seed, -1.5f, 1.5f);
            M = Uniform((int)g.MemoryLength(batch, seq), seed + 7, -1.5f, 1.5f);
            // U(±0.6): attention scores of a few units (neither uniform nor one-hot), LayerNorm gains of either sign.
            P = Uniform(g.ParameterCount, seed + 1, -0.6f, 0.6f);
        }

        public double[] XD => Array.ConvertAll(X, v => (double)v);
        public double[] MD => Array.ConvertAll(M, v => (double)v);
        public double[] PD => Array.ConvertAll(P, v => (double)v);

        public float[] Forward()
        {
            float[] y = new float[X.Length];
            // NaN-filled workspace: any read of scratch the kernels did not write shows up in the results.
            float[] ws = new float[G.WorkspaceLength(Batch, Seq)];
            Array.Fill(ws, float.NaN);
            TransformerDecoderKernels.Forward(G, X, M, P, y, Lengths, ws, Batch, Seq);
            return y;
        }

        public float AttentionDropout;   // attention-weight dropout of TrainForward and Backward
        public ulong AttentionSeed;

        public float[] TrainForward(float dropout, Rng? rng, out float[] kept)
        {
            float[] y = new float[X.Length];
            kept = new float[G.KeptLength(Batch, Seq)];
            Array.Fill(kept, float.NaN);
            float[] ws = new float[G.WorkspaceLength(Batch, Seq)];
            Array.Fill(ws, float.NaN);
            if (AttentionDropout > 0f) TransformerDecoderKernels.TrainForward(G, X, M, P, y, kept, Lengths, ws, Batch, Seq, dropout, AttentionDropout, AttentionSeed, rng!);
            else TransformerDecoderKernels.TrainForward(G, X, M, P, y, kept, Lengths, ws, Batch, Seq, dropout, rng!);
            return y;
        }

        public (float[] DParameters, float[]? DInput, float[]? DMemory) Backward(float[] dy, float dropout, Rng rng, float[] dP0, bool withInput, bool withMemory)
        {
            TrainForward(dropout, rng, out float[] kept);
            float[] dP = (float[])dP0.Clone();
            float[]? dX = withInput ? new float[X.Length] : null, dM = withMemory ? new float[M.Length] : null;
            if (dX != null) Array.Fill(dX, float.NaN);   // overwritten, never accumulated
            if (dM != null) Array.Fill(dM, float.NaN);
            float[] ws = new float[G.WorkspaceLength(Batch, Seq)];
            Array.Fill(ws, float.NaN);
            TransformerDecoderKernels.Backward(G, dy, X, M, P, kept, dP, dX, dM, Lengths, ws, Batch, Seq, AttentionDropout, AttentionSeed);
            return (dP, dX, dM);
        }
    }

    private static void AssertRealRowsClose(in TransformerDecoderGeometry g, double[] expected, float[] actual, int[]? lengths, int batch, int seq, double tolerance, string where)
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

/// <summary>
/// nn.TransformerDecoder in float64, composed from the MultiHeadAttention reference (self_attn, multihead_attn) and
/// TransformerReference's LayerNorm, Linear and masking; masks are given per layer as [self-attention output, cross-attention
/// output, activation, feed-forward output], drawn as TransformerDecoderKernels.TrainForward draws them.
/// </summary>
internal static class DecoderReference
{
    public static double[][][] Masks(in TransformerDecoderGeometry g, int batch, int seq, float p, ulong seed)
    {
        var rng = new Rng(seed);
        int rows = batch * seq;
        float scale = 1f / (1f - p);
        double[] Draw(int n)
        {
            var m = new double[n];
            for (int i = 0; i < n; i++) m[i] = p == 0f ? 1.0 : rng.NextFloat() >= p ? scale : 0.0;
            return m;
        }
        var masks = new double[g.Layers][][];
        for (int l = 0; l < g.Layers; l++)
        {
            double[] sa = Draw(rows * g.Model), ca = Draw(rows * g.Model), f = Draw(rows * g.FeedForward), o = Draw(rows * g.Model);
            masks[l] = [sa, ca, f, o];
        }
        return masks;
    }

    /// <summary>With <paramref name="attentionP"/> &gt; 0, layer l's self- and cross-attention weights are dropped by the counter-based masks of
    /// <paramref name="attentionSeed"/> derived for 2l and 2l + 1, as TransformerDecoderKernels derives them.</summary>
    public static double[] Forward(TransformerDecoderGeometry g, double[] x, double[] memory, double[] parameters, int[]? lengths, int batch, int seq,
        double[][][]? masks = null, float attentionP = 0f, ulong attentionSeed = 0)
        => Forward(g, x, memory, parameters, lengths, batch, seq, lengths, seq, masks, attentionP, attentionSeed);

    /// <summary>The stack over a memory of <paramref name="memorySeq"/> rows per example whose keys are masked past <paramref name="memoryLengths"/>
    /// (attention dropout as the other overload, the cross-attention mask's j the memory position).</summary>
    public static double[] Forward(TransformerDecoderGeometry g, double[] x, double[] memory, double[] parameters, int[]? lengths, int batch, int seq,
        int[]? memoryLengths, int memorySeq, double[][][]? masks = null, float attentionP = 0f, ulong attentionSeed = 0)
    {
        int rows = batch * seq, d = g.Model, ff = g.FeedForward;
        var saG = new MultiHeadAttentionGeometry(d, g.Heads, 0, g.Causal);
        var caG = new MultiHeadAttentionGeometry(d, g.Heads, g.Memory, causal: false);
        double[] h = (double[])x.Clone();
        int at = 0;
        double[] Take(int n)
        {
            double[] t = parameters.AsSpan(at, n).ToArray();
            at += n;
            return t;
        }
        for (int l = 0; l < g.Layers; l++)
        {
            double[] sa = Take(saG.ParameterCount), ca = Take(caG.ParameterCount);
            double[] w1 = Take(ff * d), b1 = Take(ff), w2 = Take(d * ff), b2 = Take(d);
            double[] n1w = Take(d), n1b = Take(d), n2w = Take(d), n2b = Take(d), n3w = Take(d), n3b = Take(d);
            var m = masks?[l];
            Func<int, int, int, int, double>? Weights(int index)
            {
                if (attentionP == 0f) return null;
                var drop = new AttentionDropout(attentionP, attentionSeed).For(index);
                return (b, h, i, j) => drop.Keeps(b, h, i, j) ? 1.0 / (1.0 - attentionP) : 0.0;
            }
            var saMask = Weights(2 * l);
            var caMask = Weights(2 * l + 1);
            double[] SA(double[] v) => TransformerReference.Mask(MultiHeadAttentionKernelsTests.Reference.Forward(saG, v, [], sa, lengths, batch, seq, saMask), m?[0]);
            double[] CA(double[] v) => TransformerReference.Mask(
                MultiHeadAttentionKernelsTests.Reference.Forward(caG, v, memory, ca, lengths, batch, seq, memoryLengths, memorySeq, caMask), m?[1]);
            double[] FF(double[] v)
            {
                double[] a = TransformerReference.Linear(v, w1, b1, rows, d, ff);
                for (int i = 0; i < a.Length; i++)
                    a[i] = g.Activation == FeedForwardActivation.Gelu ? a[i] * KernelTestUtil.Phi(a[i]) : Math.Max(a[i], 0);
                return TransformerReference.Mask(TransformerReference.Linear(TransformerReference.Mask(a, m?[2]), w2, b2, rows, ff, d), m?[3]);
            }
            double[] LN(double[] v, double[] w, double[] b) => TransformerReference.LayerNorm(v, w, b, rows, d, g.Eps);
            if (g.NormFirst)
            {
                h = TransformerReference.Add(h, SA(LN(h, n1w, n1b)));
                h = TransformerReference.Add(h, CA(LN(h, n2w, n2b)));
                h = TransformerReference.Add(h, FF(LN(h, n3w, n3b)));
            }
            else
            {
                h = LN(TransformerReference.Add(h, SA(h)), n1w, n1b);
                h = LN(TransformerReference.Add(h, CA(h)), n2w, n2b);
                h = LN(TransformerReference.Add(h, FF(h)), n3w, n3b);
            }
        }
        return h;
    }
}
