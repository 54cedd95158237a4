// Transformer encoder stacks: forward against the float64 reference (TransformerReference) over widths and head counts with
// odd head sizes (d 6 / 2 heads, d 15 / 3, d 20 / 4), pre- and post-norm, causal or not, ReLU and GELU, one and two layers,
// with and without lengths; training forward with dropout against the reference given the same masks; backward (parameters
// and input) against float64 central differences; incremental decoding against Forward's rows; padding that cannot reach
// real outputs or gradients; concurrency; zero steady-state allocation; geometry and argument checks.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class TransformerKernelsTests
{
    public static TheoryData<int, int, int> Widths()
    {
        // model, heads, feedForward: head sizes 3, 5, 5 and hidden widths that are not multiples of any vector width.
        var data = new TheoryData<int, int, int>();
        data.Add(6, 2, 7);
        data.Add(15, 3, 9);
        data.Add(20, 4, 33);
        return data;
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Forward_AllConfigurations_MatchFloat64Reference(int model, int heads, int feedForward)
    {
        const int batch = 3, seq = 5;
        ulong seed = (ulong)(model * 100);
        foreach (int layers in new[] { 1, 2 })
            foreach (bool normFirst in new[] { true, false })
                foreach (bool causal in new[] { false, true })
                    foreach (var act in new[] { FeedForwardActivation.ReLU, FeedForwardActivation.Gelu })
                        foreach (int[]? lengths in new[] { null, new[] { 5, 2, 4 } })
                        {
                            seed += 3;
                            var g = new TransformerGeometry(model, heads, feedForward, layers, normFirst, causal, act);
                            var c = new Case(g, batch, seq, lengths, seed);
                            double[] expected = TransformerReference.Forward(g, c.XD, c.PD, lengths, batch, seq);
                            AssertRealRowsClose(g, expected, c.Forward(), lengths, batch, seq, 3e-5, $"{g} lengths={(lengths is null ? "none" : "some")}");
                        }
    }

    [Theory]
    [InlineData(2, 70)]   // three query tiles and two key tiles per example; 140 rows (DenseKernels' packed GEMM)
    [InlineData(1, 64)]   // 64 rows with d = 16: the transformer's own packed-GEMM + epilogue path
    [InlineData(1, 50)]
    public void Forward_LongerSequences_MatchReference(int batch, int seq)
    {
        foreach (bool normFirst in new[] { true, false })
        {
            var g = new TransformerGeometry(16, 2, 24, 1, normFirst, causal: true, FeedForwardActivation.Gelu);
            int[] lengths = batch == 2 ? [seq, seq - 4] : [seq];
            var c = new Case(g, batch, seq, lengths, 9);
            double[] expected = TransformerReference.Forward(g, c.XD, c.PD, lengths, batch, seq);
            float[] y = c.Forward();
            AssertRealRowsClose(g, expected, y, lengths, batch, seq, 3e-5, g.ToString());
            Assert.Equal(y, c.TrainForward(0f, null, out _));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainForward_WithoutDropout_EqualsInferenceForwardBitForBit(bool normFirst)
    {
        var g = new TransformerGeometry(20, 4, 33, 2, normFirst, causal: true, FeedForwardActivation.Gelu);
        var c = new Case(g, 3, 5, [5, 1, 3], 4);
        Assert.Equal(c.Forward(), c.TrainForward(0f, null, out _));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainForward_Dropout_AppliesTheDocumentedMasks(bool normFirst)
    {
        const float p = 0.3f;
        const ulong rngSeed = 77;
        var g = new TransformerGeometry(15, 3, 9, 2, normFirst, causal: false, FeedForwardActivation.ReLU);
        int[] lengths = [5, 3, 4];
        var c = new Case(g, 3, 5, lengths, 8);
        var masks = TransformerReference.Masks(g, 3, 5, p, rngSeed);
        Assert.Contains(0.0, masks[1].FeedForward);
        double[] expected = TransformerReference.Forward(g, c.XD, c.PD, lengths, 3, 5, masks);
        AssertRealRowsClose(g, expected, c.TrainForward(p, new Rng(rngSeed), out _), lengths, 3, 5, 3e-5, g.ToString());
    }

    [Theory]
    [InlineData(true, 0.3f, 0f)]
    [InlineData(false, 0.3f, 0f)]
    [InlineData(true, 0f, 0.3f)]
    [InlineData(false, 0.2f, 0.4f)]
    public void TrainForward_SeparateFeedForwardDropout_AppliesTheDocumentedMasks(bool normFirst, float p, float feedForwardP)
    {
        const ulong rngSeed = 78;
        var g = new TransformerGeometry(15, 3, 9, 2, normFirst, causal: true, FeedForwardActivation.Gelu);
        int[] lengths = [5, 3, 4];
        var c = new Case(g, 3, 5, lengths, 9);
        var masks = TransformerReference.Masks(g, 3, 5, p, rngSeed, feedForwardP);
        Assert.Equal(feedForwardP > 0f, masks[1].FeedForward.Contains(0.0));
        Assert.Equal(p > 0f, masks[1].Output.Contains(0.0));
        double[] expected = TransformerReference.Forward(g, c.XD, c.PD, lengths, 3, 5, masks);
        AssertRealRowsClose(g, expected, c.TrainForward(p, new Rng(rngSeed), out _, feedForwardP), lengths, 3, 5, 3e-5,
            $"{g} dropout={p} feedForwardDropout={feedForwardP}");
    }

    [Fact]
    public void TrainForward_FeedForwardDropoutEqualToDropout_IsTheSingleProbabilityOverload()
    {
        var g = new TransformerGeometry(15, 3, 9, 2, true, causal: true, FeedForwardActivation.ReLU);
        var c = new Case(g, 3, 5, null, 10);
        Assert.Equal(c.TrainForward(0.25f, new Rng(5), out float[] kept1), c.TrainForward(0.25f, new Rng(5), out float[] kept2, 0.25f));
        Assert.Equal(kept1, kept2);
    }

    public static TheoryData<int, int, int, int, bool, bool, FeedForwardActivation, bool, float, float> SeparateDropoutBackwardCases()
    {
        var data = new TheoryData<int, int, int, int, bool, bool, FeedForwardActivation, bool, float, float>();
        // model, heads, feedForward, layers, normFirst, causal, activation, lengths, dropout, feedForwardDropout
        data.Add(15, 3, 9, 2, true, true, FeedForwardActivation.ReLU, true, 0.25f, 0f);
        data.Add(7, 1, 17, 2, false, true, FeedForwardActivation.Gelu, false, 0f, 0.3f);
        data.Add(20, 4, 33, 1, true, false, FeedForwardActivation.Gelu, true, 0.1f, 0.4f);
        return data;
    }

    [Theory]
    [MemberData(nameof(SeparateDropoutBackwardCases))]
    public void Backward_SeparateFeedForwardDropout_MatchesFloat64FiniteDifferences(int model, int heads, int feedForward, int layers, bool normFirst,
        bool causal, FeedForwardActivation activation, bool withLengths, float dropout, float feedForwardDropout)
        => CheckBackward(model, heads, feedForward, layers, normFirst, causal, activation, withLengths, dropout, feedForwardDropout);

    public static TheoryData<int, int, int, int, bool, bool, FeedForwardActivation, bool, float, float> AttentionDropoutBackwardCases()
    {
        var data = new TheoryData<int, int, int, int, bool, bool, FeedForwardActivation, bool, float, float>();
        // model, heads, feedForward, layers, normFirst, causal, activation, lengths, dropout, attentionDropout
        data.Add(15, 3, 9, 2, true, true, FeedForwardActivation.Gelu, true, 0.2f, 0.3f);
        data.Add(7, 1, 17, 2, false, false, FeedForwardActivation.Gelu, true, 0f, 0.4f);
        data.Add(20, 4, 33, 1, true, false, FeedForwardActivation.ReLU, false, 0.1f, 0.1f);
        return data;
    }

    /// <summary>Gradients with attention-weight dropout on: the float64 reference drops the same weights (the mask is fixed by the seed).</summary>
    [Theory]
    [MemberData(nameof(AttentionDropoutBackwardCases))]
    public void Backward_AttentionDropout_MatchesFloat64FiniteDifferences(int model, int heads, int feedForward, int layers, bool normFirst,
        bool causal, FeedForwardActivation activation, bool withLengths, float dropout, float attentionDropout)
        => CheckBackward(model, heads, feedForward, layers, normFirst, causal, activation, withLengths, dropout, null, attentionDropout);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainForward_AttentionDropout_MatchesFloat64ReferenceAndZeroIsBitIdentical(bool normFirst)
    {
        const ulong rngSeed = 79, attentionSeed = 1234;
        var g = new TransformerGeometry(15, 3, 9, 2, normFirst, causal: true, FeedForwardActivation.Gelu);
        int[] lengths = [5, 3, 4];
        var c = new Case(g, 3, 5, lengths, 11);
        var masks = TransformerReference.Masks(g, 3, 5, 0.2f, rngSeed, null, 0.3f, attentionSeed);
        double[] expected = TransformerReference.Forward(g, c.XD, c.PD, lengths, 3, 5, masks);
        float[] dropped = c.TrainForward(0.2f, new Rng(rngSeed), out _, null, 0.3f, attentionSeed);
        AssertRealRowsClose(g, expected, dropped, lengths, 3, 5, 3e-5, $"{g} attentionDropout=0.3");
        // p = 0 is the overload without attention dropout, bit for bit (outputs and what backward keeps), whatever the seed.
        Assert.Equal(c.TrainForward(0.2f, new Rng(rngSeed), out float[] kept1), c.TrainForward(0.2f, new Rng(rngSeed), out float[] kept2, null, 0f, attentionSeed));
        Assert.Equal(kept1, kept2);
        Assert.NotEqual(c.TrainForward(0.2f, new Rng(rngSeed), out _), dropped);
    }

    public static TheoryData<int, int, int, int, bool, bool, FeedForwardActivation, bool, float> BackwardCases()
    {
        var data = new TheoryData<int, int, int, int, bool, bool, FeedForwardActivation, bool, float>();
        // model, heads, feedForward, layers, normFirst, causal, activation, lengths, dropout
        data.Add(6, 2, 7, 1, true, false, FeedForwardActivation.ReLU, false, 0f);
        data.Add(6, 2, 7, 2, false, true, FeedForwardActivation.Gelu, true, 0f);
        data.Add(15, 3, 9, 1, false, false, FeedForwardActivation.Gelu, true, 0.25f);
        data.Add(15, 3, 9, 2, true, true, FeedForwardActivation.ReLU, true, 0.25f);
        data.Add(20, 4, 33, 1, true, true, FeedForwardActivation.Gelu, false, 0f);
        data.Add(20, 4, 33, 2, false, false, FeedForwardActivation.ReLU, true, 0f);
        data.Add(20, 4, 33, 2, true, false, FeedForwardActivation.Gelu, true, 0.1f);
        return data;
    }

    [Theory]
    [MemberData(nameof(BackwardCases))]
    public void Backward_MatchesFloat64FiniteDifferences(int model, int heads, int feedForward, int layers, bool normFirst, bool causal,
        FeedForwardActivation activation, bool withLengths, float dropout)
        => CheckBackward(model, heads, feedForward, layers, normFirst, causal, activation, withLengths, dropout, null);

    private static void CheckBackward(int model, int heads, int feedForward, int layers, bool normFirst, bool causal,
        FeedForwardActivation activation, bool withLengths, float dropout, float? feedForwardDropout, float attentionDropout = 0f)
    {
        const ulong attentionSeed = 555;
        const int batch = 3, seq = 4;
        const ulong rngSeed = 31;
        var g = new TransformerGeometry(model, heads, feedForward, layers, normFirst, causal, activation);
        int[]? lengths = withLengths ? [4, 1, 3] : null;
        var c = new Case(g, batch, seq, lengths, (ulong)(model * 10 + layers));
        var masks = TransformerReference.Masks(g, batch, seq, dropout, rngSeed, feedForwardDropout, attentionDropout, attentionSeed);
        float[] dy = Uniform((int)g.InputLength(batch, seq), 17);
        // The loss counts real positions only (padded outputs are "whatever"); the kernels ignore dOutput there.
        double[] dyd = Array.ConvertAll(dy, v => (double)v);
        for (int b = 0; b < batch; b++)
            for (int t = lengths?[b] ?? seq; t < seq; t++)
                for (int j = 0; j < model; j++) dyd[(b * seq + t) * model + j] = 0;
        double[] pd = c.PD, xd = c.XD;
        double Loss(double[] p, double[] x)
        {
            double[] y = TransformerReference.Forward(g, x, p, lengths, batch, seq, masks);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += y[i] * dyd[i];
            return sum;
        }
        int[] paramIndices = Sample(g.ParameterCount, 90, 3);
        int[] inputIndices = Sample(c.X.Length, 30, 4);
        double[] fdParams = paramIndices.Select(i => CentralDifference(pd, i, v => Loss(v, xd))).ToArray();
        double[] fdInput = inputIndices.Select(i => CentralDifference(xd, i, v => Loss(pd, v))).ToArray();

        string where = $"{g} lengths={withLengths} dropout={dropout} feedForwardDropout={feedForwardDropout?.ToString() ?? "same"} attentionDropout={attentionDropout}";
        float[] dP0 = Uniform(g.ParameterCount, 41);   // non-zero start: gradients accumulate
        var (dP, dX) = c.Backward(dy, dropout, new Rng(rngSeed), dP0, withInput: true, feedForwardDropout, attentionDropout, attentionSeed);
        for (int s = 0; s < paramIndices.Length; s++)
        {
            int i = paramIndices[s];
            AssertGradient(fdParams[s], dP[i] - dP0[i], $"{where}: dParameters[{i}] ({TensorName(g.ParameterTensors(), i)})");
        }
        for (int s = 0; s < inputIndices.Length; s++)
            AssertGradient(fdInput[s], dX![inputIndices[s]], $"{where}: dInput[{inputIndices[s]}]");

        // Skipping dInput changes nothing else.
        var (dP2, _) = c.Backward(dy, dropout, new Rng(rngSeed), dP0, withInput: false, feedForwardDropout, attentionDropout, attentionSeed);
        Assert.Equal(dP, dP2);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PaddedPositions_DoNotInfluenceRealOutputsOrGradients(bool normFirst)
    {
        const int batch = 4, seq = 6;
        var g = new TransformerGeometry(20, 4, 33, 2, normFirst, causal: false, FeedForwardActivation.Gelu);
        int[] lengths = [6, 2, 4, 1];
        var c = new Case(g, batch, seq, lengths, 21);
        var other = new Case(g, batch, seq, lengths, 21);
        float[] dy = Uniform((int)g.InputLength(batch, seq), 22), dyOther = (float[])dy.Clone();
        var junk = new Rng(5);
        for (int b = 0; b < batch; b++)
            for (int t = lengths[b]; t < seq; t++)
                for (int j = 0; j < g.Model; j++)
                {
                    other.X[(b * seq + t) * g.Model + j] = j == 0 ? float.NaN : 1e3f * (junk.NextFloat() - 0.5f);
                    dyOther[(b * seq + t) * g.Model + j] = j == 1 ? float.NaN : 1e3f;
                }
        float[] y = c.Forward(), yOther = other.Forward();
        Assert.Equal(y, yOther);   // padded rows are computed from zeros, so they match too
        Assert.All(yOther, v => Assert.True(float.IsFinite(v)));
        float[] dP0 = new float[g.ParameterCount];
        var (dP, dX) = c.Backward(dy, 0.2f, new Rng(3), dP0, withInput: true);
        var (dPOther, dXOther) = other.Backward(dyOther, 0.2f, new Rng(3), dP0, withInput: true);
        Assert.Equal(dP, dPOther);
        Assert.Equal(dX, dXOther);
        for (int b = 0; b < batch; b++)
            for (int i = lengths[b] * g.Model; i < seq * g.Model; i++)
                Assert.Equal(0f, dX![b * seq * g.Model + i]);
    }

    [Theory]
    [InlineData(true, FeedForwardActivation.Gelu)]
    [InlineData(false, FeedForwardActivation.ReLU)]
    public void ForwardStep_EveryPosition_EqualsForwardRows(bool normFirst, FeedForwardActivation activation)
    {
        const int batch = 3, seq = 9, maxLength = 12;
        var g = new TransformerGeometry(20, 4, 33, 2, normFirst, causal: true, activation);
        var c = new Case(g, batch, seq, null, 60);
        float[] full = c.Forward();
        float[] cache = new float[g.CacheLength(batch, maxLength)];
        Array.Fill(cache, float.NaN);   // rows after the position must never be read
        float[] ws = new float[g.StepWorkspaceLength(batch, maxLength)];
        float[] x = new float[batch * g.Model], y = new float[batch * g.Model];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++)
                Array.Copy(c.X, (b * seq + t) * g.Model, x, b * g.Model, g.Model);
            TransformerKernels.ForwardStep(g, x, c.P, y, cache, t, maxLength, ws, batch);
            for (int b = 0; b < batch; b++)
                for (int j = 0; j < g.Model; j++)
                {
                    float expected = full[(b * seq + t) * g.Model + j];
                    Assert.True(Math.Abs(y[b * g.Model + j] - expected) <= 1e-5, $"{g} position {t} example {b} [{j}]: {y[b * g.Model + j]} vs {expected}");
                }
        }
        // The cache holds every layer's keys for the decoded positions, laid out [layer, batch, head, maxLength, headSize].
        for (int i = 0; i < cache.Length; i++)
        {
            int row = i / g.HeadSize % maxLength;
            Assert.True(row < seq ? float.IsFinite(cache[i]) : float.IsNaN(cache[i]), $"cache[{i}] (row {row})");
        }
    }

    public static TheoryData<int, int, bool, bool> RotaryCases()
    {
        // model, heads, normFirst, causal: head widths 2 (scalar pairs only), 6 (Vector128 + a pair) and 18 (Vector512 + a pair).
        var data = new TheoryData<int, int, bool, bool>();
        data.Add(6, 3, true, true);
        data.Add(12, 2, false, true);
        data.Add(12, 2, true, false);
        data.Add(18, 1, false, false);
        return data;
    }

    private static TransformerGeometry RotaryGeometry(int model, int heads, bool normFirst, bool causal, int layers = 2)
        => new(model, heads, 9, layers, normFirst, causal, FeedForwardActivation.Gelu, rotary: new RotaryTable(model / heads, 12));

    [Theory]
    [MemberData(nameof(RotaryCases))]
    public void Forward_Rotary_MatchesFloat64Reference(int model, int heads, bool normFirst, bool causal)
    {
        const int batch = 3, seq = 7;
        var g = RotaryGeometry(model, heads, normFirst, causal);
        foreach (int[]? lengths in new[] { null, new[] { 7, 2, 5 } })
        {
            var c = new Case(g, batch, seq, lengths, (ulong)(model + heads));
            double[] expected = TransformerReference.Forward(g, c.XD, c.PD, lengths, batch, seq);
            float[] y = c.Forward();
            AssertRealRowsClose(g, expected, y, lengths, batch, seq, 3e-5, $"{g} lengths={(lengths is null ? "none" : "some")}");
            Assert.Equal(y, c.TrainForward(0f, null, out _));
            // RoPE really acts: the same weights without it give other outputs.
            var plain = new Case(new TransformerGeometry(model, heads, 9, 2, normFirst, causal, FeedForwardActivation.Gelu), batch, seq, lengths, (ulong)(model + heads));
            Assert.NotEqual(y, plain.Forward());
        }
    }

    [Theory]
    [MemberData(nameof(RotaryCases))]
    public void Backward_Rotary_MatchesFloat64FiniteDifferences(int model, int heads, bool normFirst, bool causal)
    {
        const int batch = 2, seq = 5;
        var g = RotaryGeometry(model, heads, normFirst, causal);
        int[] lengths = [5, 3];
        var c = new Case(g, batch, seq, lengths, (ulong)(model * 7 + heads));
        var masks = TransformerReference.Masks(g, batch, seq, 0.2f, 12);
        float[] dy = Uniform((int)g.InputLength(batch, seq), 19);
        double[] dyd = Array.ConvertAll(dy, v => (double)v);
        for (int b = 0; b < batch; b++)
            for (int t = lengths[b]; t < seq; t++)
                for (int j = 0; j < model; j++) dyd[(b * seq + t) * model + j] = 0;
        double[] pd = c.PD, xd = c.XD;
        double Loss(double[] p, double[] x)
        {
            double[] y = TransformerReference.Forward(g, x, p, lengths, batch, seq, masks);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += y[i] * dyd[i];
            return sum;
        }
        // The in-projection's q and k rows are where RoPE's backward shows: sample them densely, the rest sparsely.
        int qk = 2 * model * model;
        int[] paramIndices = Sample(qk, 60, 3).Concat(Sample(g.ParameterCount - qk, 40, 5).Select(i => i + qk)).ToArray();
        int[] inputIndices = Sample(c.X.Length, 30, 4);
        float[] dP0 = new float[g.ParameterCount];
        var (dP, dX) = c.Backward(dy, 0.2f, new Rng(12), dP0, withInput: true);
        string where = $"{g}";
        foreach (int i in paramIndices)
            AssertGradient(CentralDifference(pd, i, v => Loss(v, xd)), dP[i], $"{where}: dParameters[{i}] ({TensorName(g.ParameterTensors(), i)})");
        foreach (int i in inputIndices)
            AssertGradient(CentralDifference(xd, i, v => Loss(pd, v)), dX![i], $"{where}: dInput[{i}]");
    }

    [Theory]
    [InlineData(true, 6, 3)]
    [InlineData(false, 12, 2)]
    [InlineData(true, 18, 1)]
    public void ForwardStep_Rotary_EqualsForwardRows(bool normFirst, int model, int heads)
    {
        const int batch = 2, seq = 9, maxLength = 12;
        var g = RotaryGeometry(model, heads, normFirst, causal: true);
        var c = new Case(g, batch, seq, null, 61);
        float[] full = c.Forward();
        float[] cache = new float[g.CacheLength(batch, maxLength)];
        float[] ws = new float[g.StepWorkspaceLength(batch, maxLength)];
        float[] x = new float[batch * g.Model], y = new float[batch * g.Model];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++)
                Array.Copy(c.X, (b * seq + t) * g.Model, x, b * g.Model, g.Model);
            TransformerKernels.ForwardStep(g, x, c.P, y, cache, t, maxLength, ws, batch);
            for (int b = 0; b < batch; b++)
                for (int j = 0; j < g.Model; j++)
                {
                    float expected = full[(b * seq + t) * g.Model + j];
                    Assert.True(Math.Abs(y[b * g.Model + j] - expected) <= 1e-5, $"{g} position {t} example {b} [{j}]: {y[b * g.Model + j]} vs {expected}");
                }
        }
        // Positions past the table are refused, in the step and in the full forward.
        var shortTable = new TransformerGeometry(model, heads, 9, 2, normFirst, true, FeedForwardActivation.Gelu, rotary: new RotaryTable(model / heads, 4));
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => TransformerKernels.ForwardStep(shortTable, x, c.P, y, cache, 4, maxLength, ws, batch));
        Assert.Contains("'position' (4) is beyond the 4 positions of the rotary table", r.Message);
        var e = Assert.Throws<ArgumentException>(() => new Case(shortTable, batch, 5, null, 1).Forward());
        Assert.Contains("'seq' (5) exceeds the 4 positions of the rotary table", e.Message);
    }

    [Fact]
    public void Forward_ConcurrentCallers_GetTheSingleThreadedResult()
    {
        var g = new TransformerGeometry(32, 4, 48, 2, true, true, FeedForwardActivation.Gelu);
        var c = new Case(g, 4, 13, [13, 5, 9, 1], 50);
        float[] expected = c.Forward();
        var results = new float[8][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            float[] y = [];
            for (int rep = 0; rep < 5; rep++) y = c.Forward();
            results[i] = y;
        });
        foreach (var y in results) Assert.Equal(expected, y);
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(4, 17)]
    public void ForwardTrainBackwardStep_SteadyState_AllocateNothing(int batch, int seq)
    {
        foreach (bool normFirst in new[] { true, false })
        {
            var g = new TransformerGeometry(32, 4, 64, 2, normFirst, causal: true, FeedForwardActivation.Gelu);
            float[] x = Uniform((int)g.InputLength(batch, seq), 1), p = Uniform(g.ParameterCount, 2, -0.2f, 0.2f);
            float[] y = new float[x.Length], dy = Uniform(y.Length, 3), kept = new float[g.KeptLength(batch, seq)];
            float[] ws = new float[g.WorkspaceLength(batch, seq)], dp = new float[g.ParameterCount], dx = new float[x.Length];
            float[] cache = new float[g.CacheLength(batch, seq)], stepWs = new float[g.StepWorkspaceLength(batch, seq)];
            float[] xs = new float[batch * g.Model], ys = new float[batch * g.Model];
            int[] lengths = Enumerable.Range(0, batch).Select(b => 1 + (seq - 1 - b) % seq).ToArray();
            var rng = new Rng(4);
            void Step()
            {
                TransformerKernels.Forward(g, x, p, y, lengths, ws, batch, seq);
                TransformerKernels.TrainForward(g, x, p, y, kept, lengths, ws, batch, seq, 0.2f, rng);
                TransformerKernels.Backward(g, dy, x, p, kept, dp, dx, lengths, ws, batch, seq);
                TransformerKernels.TrainForward(g, x, p, y, kept, lengths, ws, batch, seq, 0.2f, 0.2f, 0.1f, 17, rng);
                TransformerKernels.Backward(g, dy, x, p, kept, dp, dx, lengths, ws, batch, seq, 0.1f, 17);
                TransformerKernels.ForwardStep(g, xs, p, ys, cache, 1, seq, stepWs, batch);
            }
            // Past the tiering call-count threshold of every method involved, so no promotion happens inside the measurement.
            for (int i = 0; i < 40; i++) Step();
            // Each entry point measured on its own, so a failure names the one that allocates.
            string where = $"(normFirst {normFirst}, batch {batch}, seq {seq})";
            AllocationAssert.SteadyStateAllocatesNothing(() => TransformerKernels.Forward(g, x, p, y, lengths, ws, batch, seq),
                callsPerWindow: 1, $"Forward {where}", warmUpCalls: 0);
            AllocationAssert.SteadyStateAllocatesNothing(() => TransformerKernels.TrainForward(g, x, p, y, kept, lengths, ws, batch, seq, 0.2f, rng),
                callsPerWindow: 1, $"TrainForward {where}", warmUpCalls: 0);
            AllocationAssert.SteadyStateAllocatesNothing(() => TransformerKernels.Backward(g, dy, x, p, kept, dp, dx, lengths, ws, batch, seq),
                callsPerWindow: 1, $"Backward {where}", warmUpCalls: 0);
            AllocationAssert.SteadyStateAllocatesNothing(() => TransformerKernels.TrainForward(g, x, p, y, kept, lengths, ws, batch, seq, 0.2f, 0.2f, 0.1f, 17, rng),
                callsPerWindow: 1, $"TrainForward with attention dropout {where}", warmUpCalls: 0);
            AllocationAssert.SteadyStateAllocatesNothing(() => TransformerKernels.Backward(g, dy, x, p, kept, dp, dx, lengths, ws, batch, seq, 0.1f, 17),
                callsPerWindow: 1, $"Backward with attention dropout {where}", warmUpCalls: 0);
            AllocationAssert.SteadyStateAllocatesNothing(() => TransformerKernels.ForwardStep(g, xs, p, ys, cache, 1, seq, stepWs, batch),
                callsPerWindow: 1, $"ForwardStep {where}", warmUpCalls: 0);
        }
    }

    [Fact]
    public void Geometry_ParameterTensors_FollowTransformerEncoderStateDictOrder()
    {
        var g = new TransformerGeometry(8, 2, 12, 2, true, false, FeedForwardActivation.ReLU);
        var tensors = g.ParameterTensors().ToArray();
        string[] suffixes = ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"];
        Assert.Equal(suffixes.Select(s => "layers.0." + s).Concat(suffixes.Select(s => "layers.1." + s)), tensors.Select(t => t.Name));
        int[][] shapes = [[24, 8], [24], [8, 8], [8], [12, 8], [12], [8, 12], [8], [8], [8], [8], [8]];
        for (int i = 0; i < 24; i++) Assert.Equal(shapes[i % 12], tensors[i].Shape);
        Assert.Equal(g.ParameterCount, tensors.Sum(t => t.Shape.Aggregate(1, (a, b) => a * b)));
        // nn.TransformerEncoderLayer(8, 2, 12): 4·64 + 2·8·12 + 9·8 + 12 = 532 parameters per layer.
        Assert.Equal(532, g.LayerParameterCount);
        Assert.Equal(1064, g.ParameterCount);
        Assert.Equal(4, g.HeadSize);
        Assert.Equal(2L * 2 * 3 * 10 * 8, g.CacheLength(3, 10));
        Assert.Equal(2 * (9 * 8 + 2 + 3 * 12 + 4) + 8, g.TrainingStepLength);
        Assert.Equal("TransformerEncoder(d_model=8, nhead=2, dim_feedforward=12, num_layers=2, norm_first=True, causal=False, activation=relu, eps=1E-05)", g.ToString());
        Assert.Equal(g, new TransformerGeometry(8, 2, 12, 2, true, false, FeedForwardActivation.ReLU, 1e-5f));
        Assert.NotEqual(g, new TransformerGeometry(8, 2, 12, 2, true, true, FeedForwardActivation.ReLU));
    }

    [Fact]
    public void Geometry_InvalidArguments_ThrowNamingTheArgument()
    {
        Assert.Equal("model", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerGeometry(0, 1, 4, 1, true, false, FeedForwardActivation.ReLU)).ParamName);
        Assert.Equal("heads", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerGeometry(8, 0, 4, 1, true, false, FeedForwardActivation.ReLU)).ParamName);
        Assert.Equal("feedForward", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerGeometry(8, 2, 0, 1, true, false, FeedForwardActivation.ReLU)).ParamName);
        Assert.Equal("layers", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerGeometry(8, 2, 4, 0, true, false, FeedForwardActivation.ReLU)).ParamName);
        Assert.Equal("activation", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerGeometry(8, 2, 4, 1, true, false, (FeedForwardActivation)5)).ParamName);
        Assert.Equal("eps", Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerGeometry(8, 2, 4, 1, true, false, FeedForwardActivation.ReLU, float.NaN)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => new TransformerGeometry(10, 3, 4, 1, true, false, FeedForwardActivation.ReLU));
        Assert.Equal("heads", e.ParamName);
        Assert.Contains("'heads' (3) must divide 'model' (10)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new TransformerGeometry(1 << 14, 1, 1 << 16, 4, true, false, FeedForwardActivation.ReLU));
        Assert.Contains("parameters", e.Message);
    }

    [Fact]
    public void Kernels_InvalidArguments_ThrowClearMessages()
    {
        var g = new TransformerGeometry(6, 2, 7, 1, true, false, FeedForwardActivation.ReLU);
        const int batch = 2, seq = 3;
        float[] x = new float[batch * seq * 6], p = new float[g.ParameterCount], y = new float[x.Length];
        float[] ws = new float[g.WorkspaceLength(batch, seq)], kept = new float[g.KeptLength(batch, seq)];

        var e = Assert.Throws<ArgumentException>(() => TransformerKernels.Forward(g, new float[5], p, y, [], ws, batch, seq));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("must have 36 elements ([batch=2, seq=3, Model=6]) but has 5", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.Forward(g, x, new float[3], y, [], ws, batch, seq));
        Assert.Equal("parameters", e.ParamName);
        Assert.Contains($"must have {g.ParameterCount} elements (ParameterCount of TransformerEncoder(d_model=6", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.Forward(g, x, p, new float[6], [], ws, batch, seq));
        Assert.Equal("output", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.Forward(g, x, p, y, [3, 4], ws, batch, seq));
        Assert.Equal("lengths", e.ParamName);
        Assert.Contains("'lengths[1]' must be in [1, seq=3] but is 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.Forward(g, x, p, y, [1, 1, 1], ws, batch, seq));
        Assert.Contains("must have 2 elements ([batch=2]) or be empty but has 3", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.Forward(g, x, p, y, [], new float[10], batch, seq));
        Assert.Equal("workspace", e.ParamName);
        Assert.Contains($"at least {g.WorkspaceLength(batch, seq)} elements", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.Forward(default, x, p, y, [], ws, batch, seq));
        Assert.Equal("g", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.Forward(g, x, p, x, [], ws, batch, seq));
        Assert.Contains("'output' must not overlap 'input'", e.Message);
        Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() => TransformerKernels.Forward(g, x, p, y, [], ws, -1, seq)).ParamName);
        Assert.Equal("seq", Assert.Throws<ArgumentOutOfRangeException>(() => TransformerKernels.Forward(g, [], p, [], [], ws, batch, 0)).ParamName);

        e = Assert.Throws<ArgumentException>(() => TransformerKernels.TrainForward(g, x, p, y, new float[4], [], ws, batch, seq, 0f, new Rng(1)));
        Assert.Equal("kept", e.ParamName);
        Assert.Contains($"KeptLength(batch=2, seq=3) = batch·seq·TrainingStepLength({g.TrainingStepLength})", e.Message);
        Assert.Equal("dropout", Assert.Throws<ArgumentOutOfRangeException>(() =>
            TransformerKernels.TrainForward(g, x, p, y, kept, [], ws, batch, seq, 1.5f, new Rng(1))).ParamName);
        Assert.Throws<ArgumentNullException>(() => TransformerKernels.TrainForward(g, x, p, y, kept, [], ws, batch, seq, 0.5f, null!));
        TransformerKernels.TrainForward(g, x, p, y, kept, [], ws, batch, seq, 0f, null!);   // no dropout: no generator needed
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() =>
            TransformerKernels.TrainForward(g, x, p, y, kept, [], ws, batch, seq, 0.1f, float.NaN, new Rng(1)));
        Assert.Equal("feedForwardDropout", e2.ParamName);
        Assert.Contains("must be in [0, 1]", e2.Message);
        Assert.Equal("feedForwardDropout", Assert.Throws<ArgumentOutOfRangeException>(() =>
            TransformerKernels.TrainForward(g, x, p, y, kept, [], ws, batch, seq, 0f, -0.5f, new Rng(1))).ParamName);
        Assert.Throws<ArgumentNullException>(() => TransformerKernels.TrainForward(g, x, p, y, kept, [], ws, batch, seq, 0f, 0.5f, null!));
        TransformerKernels.TrainForward(g, x, p, y, kept, [], ws, batch, seq, 0f, 0f, null!);

        e = Assert.Throws<ArgumentException>(() => TransformerKernels.Backward(g, y, x, p, kept, new float[1], [], [], ws, batch, seq));
        Assert.Equal("dParameters", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.Backward(g, y, x, p, kept, new float[g.ParameterCount], new float[3], [], ws, batch, seq));
        Assert.Equal("dInput", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.Backward(g, new float[2], x, p, kept, new float[g.ParameterCount], [], [], ws, batch, seq));
        Assert.Equal("dOutput", e.ParamName);

        var causal = new TransformerGeometry(6, 2, 7, 1, true, true, FeedForwardActivation.ReLU);
        float[] cache = new float[causal.CacheLength(batch, 4)], stepWs = new float[causal.StepWorkspaceLength(batch, 4)];
        float[] xs = new float[batch * 6], ys = new float[batch * 6];
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.ForwardStep(g, xs, p, ys, cache, 0, 4, stepWs, batch));
        Assert.Equal("g", e.ParamName);
        Assert.Contains("must be causal", e.Message);
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => TransformerKernels.ForwardStep(causal, xs, p, ys, cache, 4, 4, stepWs, batch));
        Assert.Equal("position", r.ParamName);
        Assert.Contains("'position' must be in [0, maxLength=4) but is 4", r.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.ForwardStep(causal, xs, p, ys, new float[7], 0, 4, stepWs, batch));
        Assert.Equal("cache", e.ParamName);
        Assert.Contains("CacheLength(batch=2, maxLength=4): keys then values, each [Layers=1, batch=2, Heads=2, maxLength=4, HeadSize=3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.ForwardStep(causal, new float[5], p, ys, cache, 0, 4, stepWs, batch));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("[batch=2, Model=6]", e.Message);
        e = Assert.Throws<ArgumentException>(() => TransformerKernels.ForwardStep(causal, xs, p, ys, cache, 0, 4, new float[3], batch));
        Assert.Equal("workspace", e.ParamName);
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// <summary>One problem: inputs and parameters in float (for the kernels) and double (for the reference).</summary>
    private sealed class Case
    {
        public readonly TransformerGeometry G;
        public readonly int Batch, Seq;
        public readonly int[]? Lengths;
        public readonly float[] X, P;

        public Case(TransformerGeometry g, int batch, int seq, int[]? lengths, ulong seed)
        {
            G = g;
            Batch = batch;
            Seq = seq;
            Lengths = lengths;
            X = Uniform((int)g.InputLength(batch, seq), seed, -1.5f, 1.5f);
            // U(±0.6): attention scores of a few units (neither uniform nor one-hot), LayerNorm gains of either sign.
            P = Uniform(g.ParameterCount, seed + 1, -0.6f, 0.6f);
        }

        public double[] XD => Array.ConvertAll(X, v => (double)v);
        public double[] PD => Array.ConvertAll(P, v => (double)v);

        public float[] Forward()
        {
            float[] y = new float[X.Length];
            // NaN-filled workspace: any read of scratch the kernels did not write shows up in the results.
            float[] ws = new float[G.WorkspaceLength(Batch, Seq)];
            Array.Fill(ws, float.NaN);
            TransformerKernels.Forward(G, X, P, y, Lengths, ws, Batch, Seq);
            return y;
        }

        /// <summary>
        /// The single-probability overload, or the two-probability one when <paramref name="feedForwardDropout"/> is given, or the one with
        /// attention-weight dropout when <paramref name="attentionDropout"/> is.
        /// </summary>
        public float[] TrainForward(float dropout, Rng? rng, out float[] kept, float? feedForwardDropout = null, float? attentionDropout = null, ulong attentionSeed = 0)
        {
            float[] y = new float[X.Length];
            kept = new float[G.KeptLength(Batch, Seq)];
            Array.Fill(kept, float.NaN);
            float[] ws = new float[G.WorkspaceLength(Batch, Seq)];
            Array.Fill(ws, float.NaN);
            if (attentionDropout is float pa)
                TransformerKernels.TrainForward(G, X, P, y, kept, Lengths, ws, Batch, Seq, dropout, feedForwardDropout ?? dropout, pa, attentionSeed, rng!);
            else if (feedForwardDropout is float pf) TransformerKernels.TrainForward(G, X, P, y, kept, Lengths, ws, Batch, Seq, dropout, pf, rng!);
            else TransformerKernels.TrainForward(G, X, P, y, kept, Lengths, ws, Batch, Seq, dropout, rng!);
            return y;
        }

        public (float[] DParameters, float[]? DInput) Backward(float[] dy, float dropout, Rng rng, float[] dP0, bool withInput, float? feedForwardDropout = null,
            float attentionDropout = 0f, ulong attentionSeed = 0)
        {
            TrainForward(dropout, rng, out float[] kept, feedForwardDropout, attentionDropout, attentionSeed);
            float[] dP = (float[])dP0.Clone();
            float[]? dX = withInput ? new float[X.Length] : null;
            if (dX != null) Array.Fill(dX, float.NaN);   // overwritten, never accumulated
            float[] ws = new float[G.WorkspaceLength(Batch, Seq)];
            Array.Fill(ws, float.NaN);
            TransformerKernels.Backward(G, dy, X, P, kept, dP, dX, Lengths, ws, Batch, Seq, attentionDropout, attentionSeed);
            return (dP, dX);
        }
    }

    /// <summary>Compares the rows of real positions (padded rows of the reference are computed from the padding itself).</summary>
    private static void AssertRealRowsClose(in TransformerGeometry g, double[] expected, float[] actual, int[]? lengths, int batch, int seq, double tolerance, string where)
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
