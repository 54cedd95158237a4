// The sequence predictor's kernel entry points over weights packed once: TransformerKernels.ForwardPrepacked against the
// float64 TransformerReference (odd head widths, pre/post-norm, causal or not, ReLU/GELU, lengths, and row counts that take
// each route: few rows on the dot path, 48-96 rows on the packed GEMM, beyond 96), RecurrentKernels.ForwardPrepacked
// against the float64 RecurrentReference (LSTM/GRU, hidden sizes hitting every vector tail, stacked, bidirectional,
// sequence or final-state output, lengths, initial/final state), a W_hh pack made for another width (falls back to the
// per-call repack), an LSTM's [W_ih | W_hh] panels on both step routes at every width, argument checks, and zero steady-state
// allocation.
using System.Runtime.Intrinsics;
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class PrepackedSequenceKernelsTests
{
    public static TheoryData<int, int, int, int, int> TransformerShapes()
    {
        // model, heads, feedForward, batch, seq: head widths 3, 5, 5 and 8; rows 15 (dot path), 64 (packed with d 16), 140 (beyond 96).
        var data = new TheoryData<int, int, int, int, int>();
        data.Add(6, 2, 7, 3, 5);
        data.Add(15, 3, 9, 3, 5);
        data.Add(20, 4, 33, 3, 5);
        data.Add(16, 2, 24, 1, 64);
        data.Add(32, 4, 40, 2, 70);
        return data;
    }

    [Theory]
    [MemberData(nameof(TransformerShapes))]
    public void TransformerForwardPrepacked_AllConfigurations_MatchFloat64Reference(int model, int heads, int feedForward, int batch, int seq)
    {
        ulong seed = (ulong)(model * 31 + seq);
        foreach (int layers in new[] { 1, 2 })
            foreach (bool normFirst in new[] { true, false })
                foreach (bool causal in new[] { false, true })
                    foreach (var act in new[] { FeedForwardActivation.ReLU, FeedForwardActivation.Gelu })
                        foreach (bool padded in new[] { false, true })
                        {
                            seed += 3;
                            var g = new TransformerGeometry(model, heads, feedForward, layers, normFirst, causal, act);
                            int[]? lengths = padded ? Enumerable.Range(0, batch).Select(b => Math.Max(1, seq - 2 * b - 1)).ToArray() : null;
                            float[] x = Uniform((int)g.InputLength(batch, seq), seed, -1.5f, 1.5f), p = Uniform(g.ParameterCount, seed + 1, -0.6f, 0.6f);
                            double[] expected = TransformerReference.Forward(g, Array.ConvertAll(x, v => (double)v), Array.ConvertAll(p, v => (double)v), lengths, batch, seq);
                            float[] y = TransformerPrepacked(g, x, p, lengths, batch, seq);
                            for (int b = 0; b < batch; b++)
                                for (int t = 0; t < (lengths?[b] ?? seq); t++)
                                    for (int j = 0; j < model; j++)
                                    {
                                        int i = (b * seq + t) * model + j;
                                        Assert.True(Math.Abs(y[i] - expected[i]) <= 3e-5 * (1 + Math.Abs(expected[i])),
                                            $"{g} batch={batch} seq={seq} padded={padded}: [{b}, {t}, {j}] = {y[i]} vs {expected[i]}");
                                    }
                        }
    }

    [Fact]
    public void TransformerForwardPrepacked_WeightsPackedFromOtherParameters_AreWhatItReads()
    {
        // The packs, not the parameters' matrices, are the weights: packing other values changes the output.
        var g = new TransformerGeometry(16, 2, 24, 1, true, false, FeedForwardActivation.ReLU);
        const int batch = 2, seq = 9;
        float[] x = Uniform((int)g.InputLength(batch, seq), 5), p = Uniform(g.ParameterCount, 6, -0.6f, 0.6f);
        float[] other = (float[])p.Clone();
        for (int i = 0; i < 3 * 16 * 16; i++) other[i] *= -1f;   // in_proj_weight of layer 0
        float[] y = TransformerPrepacked(g, x, p, null, batch, seq);
        float[] ws = new float[g.WorkspaceLength(batch, seq)], z = new float[y.Length];
        TransformerKernels.ForwardPrepacked(g, x, p, new PackedTransformerWeights(g, other), z, default, ws, batch, seq);
        Assert.NotEqual(y, z);
    }

    [Fact]
    public void TransformerForwardPrepacked_BadArguments_Throw()
    {
        var g = new TransformerGeometry(6, 2, 7, 1, true, false, FeedForwardActivation.ReLU);
        var other = new TransformerGeometry(6, 2, 7, 2, true, false, FeedForwardActivation.ReLU);
        float[] x = new float[g.InputLength(1, 3)], y = new float[x.Length], p = new float[g.ParameterCount], ws = new float[g.WorkspaceLength(1, 3)];
        Assert.Throws<ArgumentNullException>(() => TransformerKernels.ForwardPrepacked(g, x, p, null!, y, default, ws, 1, 3));
        var wrong = new PackedTransformerWeights(other, new float[other.ParameterCount]);
        var e = Assert.Throws<ArgumentException>(() => TransformerKernels.ForwardPrepacked(g, x, p, wrong, y, default, ws, 1, 3));
        Assert.Contains("2 layer(s)", e.Message);
        var short_ = Assert.Throws<ArgumentException>(() => new PackedTransformerWeights(g, new float[g.ParameterCount - 1]));
        Assert.Equal("parameters", short_.ParamName);
        Assert.Throws<ArgumentException>(() => new PackedTransformerWeights(default, p));
    }

    [Theory]
    [MemberData(nameof(RecurrentKernelsTests.CellsAndHidden), MemberType = typeof(RecurrentKernelsTests))]
    public void RecurrentForwardPrepacked_AllConfigurations_MatchFloat64Reference(RecurrentCell cell, int hidden)
    {
        const int input = 7, seq = 5;
        ulong seed = (ulong)(2000 + hidden * 10 + (int)cell);
        foreach (int layers in new[] { 1, 2 })
            foreach (bool bidirectional in new[] { false, true })
                foreach (bool returnSequences in new[] { true, false })
                    foreach (int[]? lengths in new[] { null, new[] { 5, 2, 4, 1, 3, 5, 2 } })
                        foreach (bool withState in new[] { false, true })
                        {
                            seed += 7;
                            int batch = lengths?.Length ?? 3;
                            var g = new RecurrentGeometry(cell, input, hidden, layers, bidirectional, returnSequences);
                            float[] x = Uniform((int)g.InputLength(batch, seq), seed), p = Uniform(g.ParameterCount, seed + 1, -0.6f, 0.6f);
                            float[]? initial = withState ? Uniform((int)g.StateLength(batch), seed + 2) : null;
                            var expected = RecurrentReference.Forward(g, Array.ConvertAll(x, v => (double)v), Array.ConvertAll(p, v => (double)v), lengths, batch, seq,
                                initial is null ? null : Array.ConvertAll(initial, v => (double)v));
                            float[] final = new float[g.StateLength(batch)];
                            float[] y = RecurrentPrepacked(g, new PackedRecurrentWeights(g, p), x, p, lengths, batch, seq, initial, final);
                            string where = $"{g} batch={batch} lengths={(lengths is null ? "none" : "some")} state={withState}";
                            AssertClose(expected.Output, y, 2e-5, where);
                            AssertClose(expected.FinalState, final, 2e-5, where + " final state");
                        }
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm)]
    [InlineData(RecurrentCell.Gru)]
    public void RecurrentForwardPrepacked_HiddenPackForAnotherWidth_RepacksPerCallWithTheSameBits(RecurrentCell cell)
    {
        // A W_hh pack made for another vector width is not used (the step kernel repacks as the model does), so both give the prepacked W_ih's bits.
        var g = new RecurrentGeometry(cell, 9, 20, 2, true, true);
        const int batch = 4, seq = 6;
        int[] lengths = [6, 3, 1, 5];
        float[] x = Uniform((int)g.InputLength(batch, seq), 41), p = Uniform(g.ParameterCount, 42, -0.6f, 0.6f);
        int otherWidth = Gemm.NativeWidth == 128 ? 256 : 128;
        float[] native = RecurrentPrepacked(g, new PackedRecurrentWeights(g, p), x, p, lengths, batch, seq);
        float[] fallback = RecurrentPrepacked(g, new PackedRecurrentWeights(g, p, otherWidth), x, p, lengths, batch, seq);
        Assert.Equal(native, fallback);
    }

    [Theory]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    public void RecurrentForwardPrepacked_LstmPanelsWithInputWeights_GiveThePerCallPacksBitsOnBothRoutes(int width)
    {
        // A predictor's LSTM panels hold [W_ih | W_hh]: read whole where the input projection runs inside the steps, past W_ih's
        // rows where the steps start from the projection GEMM's plane. Either way the bits of the panels packed per call.
        bool accelerated = width switch { 128 => Vector128.IsHardwareAccelerated, 256 => Vector256.IsHardwareAccelerated, _ => Vector512.IsHardwareAccelerated };
        if (!accelerated) return;   // the step kernels never run at this width here (the CI runs that turn the wider ones off cover the rest)
        var g = new RecurrentGeometry(RecurrentCell.Lstm, 9, 20, 2, true, true);   // 20 units: a partial unit block at every width
        const int batch = 7, seq = 6;   // 7 rows: at least one register tile at every width, and a partial one
        int[] lengths = [6, 3, 1, 5, 6, 2, 4];
        float[] x = Uniform((int)g.InputLength(batch, seq), 51), p = Uniform(g.ParameterCount, 52, -0.6f, 0.6f);
        var panels = new PackedRecurrentWeights(g, p, width);
        var elsewhere = new PackedRecurrentWeights(g, p, width == 128 ? 256 : 128);   // W_ih prepacked, panels packed per call
        float[] Run(bool fused, PackedRecurrentWeights? packed)
        {
            float[] y = new float[g.OutputLength(batch, seq)], ws = new float[g.WorkspaceLength(batch, seq)];
            Array.Fill(ws, float.NaN);
            RecurrentKernels.ForwardCore(g, x, p, y, lengths, ws, batch, seq, default, default,
                new RecurrentKernels.Tuning(width, null, FusedProjection: fused), packed);
            return y;
        }
        // Inside the steps: no projection GEMM on either side, so the model's own Forward (no pack at all) is the yardstick.
        float[] fusedPrepacked = Run(true, panels);
        Assert.Equal(Run(true, null), fusedPrepacked);
        Assert.Equal(Run(true, elsewhere), fusedPrepacked);
        // From the plane: both sides project through the prepacked W_ih.
        Assert.Equal(Run(false, elsewhere), Run(false, panels));
    }

    [Fact]
    public void RecurrentForwardPrepacked_BadArguments_Throw()
    {
        var g = new RecurrentGeometry(RecurrentCell.Lstm, 3, 4, 1, false, true);
        var other = new RecurrentGeometry(RecurrentCell.Gru, 3, 4, 1, false, true);
        float[] x = new float[g.InputLength(1, 2)], y = new float[g.OutputLength(1, 2)], p = new float[g.ParameterCount], ws = new float[g.WorkspaceLength(1, 2)];
        Assert.Throws<ArgumentNullException>(() => RecurrentKernels.ForwardPrepacked(g, x, p, null!, y, default, ws, 1, 2));
        var wrong = new PackedRecurrentWeights(other, new float[other.ParameterCount]);
        var e = Assert.Throws<ArgumentException>(() => RecurrentKernels.ForwardPrepacked(g, x, p, wrong, y, default, ws, 1, 2));
        Assert.Contains("LSTM(3, 4", e.Message);
        Assert.Throws<ArgumentException>(() => new PackedRecurrentWeights(g, new float[g.ParameterCount + 1]));
        Assert.Throws<ArgumentException>(() => new PackedRecurrentWeights(default, p));
    }

    [Fact]
    public void ForwardPrepacked_SteadyState_AllocatesNothing()
    {
        var tg = new TransformerGeometry(16, 2, 24, 2, true, true, FeedForwardActivation.Gelu);
        float[] tx = Uniform((int)tg.InputLength(1, 64), 1), tp = Uniform(tg.ParameterCount, 2, -0.6f, 0.6f), ty = new float[tx.Length];
        float[] tws = new float[tg.WorkspaceLength(1, 64)];
        var tPacked = new PackedTransformerWeights(tg, tp);
        AllocationAssert.SteadyStateAllocatesNothing(() => TransformerKernels.ForwardPrepacked(tg, tx, tp, tPacked, ty, default, tws, 1, 64), what: "TransformerKernels.ForwardPrepacked");

        var rg = new RecurrentGeometry(RecurrentCell.Lstm, 8, 33, 1, true, true);
        float[] rx = Uniform((int)rg.InputLength(2, 9), 3), rp = Uniform(rg.ParameterCount, 4, -0.6f, 0.6f), ry = new float[rg.OutputLength(2, 9)];
        float[] rws = new float[rg.WorkspaceLength(2, 9)];
        var rPacked = new PackedRecurrentWeights(rg, rp);
        AllocationAssert.SteadyStateAllocatesNothing(() => RecurrentKernels.ForwardPrepacked(rg, rx, rp, rPacked, ry, default, rws, 2, 9), what: "RecurrentKernels.ForwardPrepacked");
    }

    private static float[] TransformerPrepacked(in TransformerGeometry g, float[] x, float[] p, int[]? lengths, int batch, int seq)
    {
        float[] y = new float[x.Length];
        // NaN-filled workspace: any read of scratch the kernels did not write shows up in the results.
        float[] ws = new float[g.WorkspaceLength(batch, seq)];
        Array.Fill(ws, float.NaN);
        TransformerKernels.ForwardPrepacked(g, x, p, new PackedTransformerWeights(g, p), y, lengths, ws, batch, seq);
        return y;
    }

    private static float[] RecurrentPrepacked(in RecurrentGeometry g, PackedRecurrentWeights packed, float[] x, float[] p, int[]? lengths, int batch, int seq,
        float[]? initial = null, float[]? final = null)
    {
        float[] y = new float[g.OutputLength(batch, seq)];
        float[] ws = new float[g.WorkspaceLength(batch, seq)];
        Array.Fill(ws, float.NaN);
        RecurrentKernels.ForwardPrepacked(g, x, p, packed, y, lengths, ws, batch, seq, initial, final);
        return y;
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance, $"{where}: [{i}] = {actual[i]} vs {expected[i]}");
    }
}
