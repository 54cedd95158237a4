// Generated models built from [MultiHeadAttention]: a user's pre-LN attention block under [Residual] (parameter names,
// KV-cache decoding through the block equal to the full forward), cross-attention over another member's output (names
// and shapes from the kernel geometry, the input gradient through both the query and the memory paths against finite
// differences, padded positions that reach nothing real). Parameter gradients of all three models against finite
// differences run in SequenceModelTests.Backward_WithLengths_MatchesFiniteDifferences.
using ModelGen.Kernels;

namespace ModelGen.Tests.Models;

public class AttentionModelTests
{
    [Fact]
    public void ParameterInfos_FollowMultiheadAttentionStateDictNames()
    {
        var gpt = new BlockGpt(1);
        var block1 = gpt.ParameterInfos.Where(p => p.Name.StartsWith("block1.")).Select(p => $"{p.Name} [{string.Join(", ", p.Shape)}]");
        Assert.Equal(["block1.ln.weight [6]", "block1.ln.bias [6]", "block1.attn.in_proj_weight [18, 6]", "block1.attn.in_proj_bias [18]",
            "block1.attn.out_proj.weight [6, 6]", "block1.attn.out_proj.bias [6]"], block1);
        // PyTorch init: zero in_proj_bias and out_proj.bias; Xavier-uniform in_proj_weight (bound √(6/(d + 3d)) = 0.5).
        var info = gpt.ParameterInfos.Single(p => p.Name == "block1.attn.in_proj_bias");
        Assert.All(gpt.Parameters.Slice(info.Offset, info.Length).ToArray(), v => Assert.Equal(0f, v));
        info = gpt.ParameterInfos.Single(p => p.Name == "block1.attn.in_proj_weight");
        Assert.All(gpt.Parameters.Slice(info.Offset, info.Length).ToArray(), v => Assert.InRange(v, -0.5f, 0.5f));

        var cross = new CrossAttentionNet(1);
        var geometry = new MultiHeadAttentionGeometry(6, 3, memory: 4);
        var tensors = cross.ParameterInfos.Where(p => p.Name.StartsWith("cross.")).ToList();
        Assert.Equal(geometry.ParameterTensors().Select(t => "cross." + t.Name), tensors.Select(p => p.Name));
        Assert.Equal(geometry.ParameterTensors().Select(t => string.Join(",", t.Shape)), tensors.Select(p => string.Join(",", p.Shape)));
        var packed = new PackedCrossNet(1);
        Assert.Equal(["cross.in_proj_weight", "cross.out_proj.weight"], packed.ParameterInfos.Where(p => p.Name.StartsWith("cross.")).Select(p => p.Name));
        Assert.Contains("MultiHeadAttention", CrossAttentionNet.Summary().Split('\n').Single(l => l.StartsWith("cross")));
    }

    /// <summary>Decoding through the user's residual attention blocks with the key/value cache equals the full forward.</summary>
    [Fact]
    public void ForwardStep_ThroughUserBlocks_EqualsTheFullForward()
    {
        var model = new BlockGpt(3);
        const int batch = 2, seq = 8;
        var rng = new Rng(9);
        var ids = Enumerable.Range(0, batch * seq).Select(_ => (int)(rng.NextFloat() * 11) % 11).ToArray();
        var whole = new float[batch * seq * BlockGpt.OutputSize];
        model.Forward(ids, whole, batch, seq);
        Assert.Equal(2 * 2 * 8 * 6, BlockGpt.CacheSize);   // two layers, K and V, MaxLength 8, d 6
        var cache = new float[batch * BlockGpt.CacheSize];
        var step = new int[batch];
        var logits = new float[batch * BlockGpt.OutputSize];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++) step[b] = ids[b * seq + t];
            model.ForwardStep(step, logits, batch, t, cache);
            for (int b = 0; b < batch; b++)
                for (int k = 0; k < BlockGpt.OutputSize; k++)
                {
                    float expected = whole[(b * seq + t) * BlockGpt.OutputSize + k], actual = logits[b * BlockGpt.OutputSize + k];
                    Assert.True(Math.Abs(expected - actual) <= 1e-5f * (1 + Math.Abs(expected)), $"position {t}, example {b}, logit {k}: full {expected}, cached {actual}");
                }
        }
    }

    /// <summary>
    /// Attention-weight dropout acts in training only: inference and the cached step agree (no dropout), a training forward with
    /// the same seed repeats itself bit for bit, another seed drops other weights, and neither equals inference.
    /// </summary>
    [Fact]
    public void AttentionDropout_TrainingOnly_StepAgreesWithInference()
    {
        var model = new DroppedAttentionNet(4);
        const int batch = 3, seq = 6, n = DroppedAttentionNet.InputSize, m = DroppedAttentionNet.OutputSize;
        var x = ModelTestData.RandomArray(batch * seq * n, 8);
        var whole = new float[batch * seq * m];
        model.Forward(x, whole, batch, seq);
        var cache = new float[batch * DroppedAttentionNet.CacheSize];
        var step = new float[batch * n];
        var y = new float[batch * m];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++) Array.Copy(x, (b * seq + t) * n, step, b * n, n);
            model.ForwardStep(step, y, batch, t, cache);
            for (int b = 0; b < batch; b++)
                for (int k = 0; k < m; k++)
                    Assert.True(Math.Abs(whole[(b * seq + t) * m + k] - y[b * m + k]) <= 1e-5f, $"position {t}, example {b}, output {k}");
        }
        float[] Train(ulong seed)
        {
            var o = new float[whole.Length];
            model.SeedDropout(seed);
            model.ForwardTrain(x, o, batch, seq);
            return o;
        }
        float[] a = Train(5), again = Train(5), other = Train(6);
        Assert.Equal(a, again);
        Assert.NotEqual(a, other);
        Assert.NotEqual(whole, a);
    }

    /// <summary>Causal cross-attention decodes step by step too: the memory's row at each position joins the cache.</summary>
    [Fact]
    public void ForwardStep_CausalCrossAttention_EqualsTheFullForward()
    {
        var model = new PackedCrossNet(4);
        const int batch = 3, seq = 6;
        var x = ModelTestData.RandomArray(batch * seq * PackedCrossNet.InputSize, 8);
        var whole = new float[batch * seq * PackedCrossNet.OutputSize];
        model.Forward(x, whole, batch, seq);
        var cache = new float[batch * PackedCrossNet.CacheSize];
        var step = new float[batch * PackedCrossNet.InputSize];
        var y = new float[batch * PackedCrossNet.OutputSize];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++) Array.Copy(x, (b * seq + t) * PackedCrossNet.InputSize, step, b * PackedCrossNet.InputSize, PackedCrossNet.InputSize);
            model.ForwardStep(step, y, batch, t, cache);
            for (int b = 0; b < batch; b++)
                for (int k = 0; k < PackedCrossNet.OutputSize; k++)
                    Assert.True(Math.Abs(whole[(b * seq + t) * PackedCrossNet.OutputSize + k] - y[b * PackedCrossNet.OutputSize + k]) <= 1e-5f, $"position {t}, example {b}, output {k}");
        }
    }

    /// <summary>
    /// Rotary self- and cross-attention decode step by step (keys cached already rotated, each by its own position) to the full
    /// forward; the geometry carries the table sized by MaxLength, no parameter is added, and RoPE changes the outputs.
    /// </summary>
    [Fact]
    public void ForwardStep_RotaryAttention_EqualsTheFullForward()
    {
        var model = new RopeAttentionNet(4);
        const int batch = 2, seq = 7;
        var x = ModelTestData.RandomArray(batch * seq * RopeAttentionNet.InputSize, 8);
        var whole = new float[batch * seq * RopeAttentionNet.OutputSize];
        model.Forward(x, whole, batch, seq);
        var cache = new float[batch * RopeAttentionNet.CacheSize];
        var step = new float[batch * RopeAttentionNet.InputSize];
        var y = new float[batch * RopeAttentionNet.OutputSize];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++) Array.Copy(x, (b * seq + t) * RopeAttentionNet.InputSize, step, b * RopeAttentionNet.InputSize, RopeAttentionNet.InputSize);
            model.ForwardStep(step, y, batch, t, cache);
            for (int b = 0; b < batch; b++)
                for (int k = 0; k < RopeAttentionNet.OutputSize; k++)
                {
                    float expected = whole[(b * seq + t) * RopeAttentionNet.OutputSize + k], actual = y[b * RopeAttentionNet.OutputSize + k];
                    Assert.True(Math.Abs(expected - actual) <= 1e-5f * (1 + Math.Abs(expected)), $"position {t}, example {b}, output {k}: full {expected}, cached {actual}");
                }
        }
        Assert.Throws<ArgumentException>(() => model.ForwardStep(step, y, batch, seq, cache));   // past MaxLength

        var self = new MultiHeadAttentionGeometry(8, 2, causal: true);
        var selfRope = new MultiHeadAttentionGeometry(8, 2, causal: true, rotary: new RotaryTable(4, RopeAttentionNet.MaxLength));
        Assert.Equal(self.ParameterCount, model.ParameterInfos.Where(p => p.Name.StartsWith("self.")).Sum(p => p.Length));
        var info = model.ParameterInfos.First(p => p.Name.StartsWith("self."));
        var p = model.Parameters.Slice(info.Offset, self.ParameterCount).ToArray();
        var q = ModelTestData.RandomArray(seq * 8, 5);
        float[] plain = new float[q.Length], rotated = new float[q.Length];
        MultiHeadAttentionKernels.Forward(self, q, default, p, plain, default, new float[self.WorkspaceLength(1, seq)], 1, seq);
        MultiHeadAttentionKernels.Forward(selfRope, q, default, p, rotated, default, new float[selfRope.WorkspaceLength(1, seq)], 1, seq);
        Assert.NotEqual(plain, rotated);
    }

    /// <summary>∂loss/∂input reaches the input through the queries and through the memory (keys and values); both paths against finite differences.</summary>
    [Fact]
    public void Backward_CrossAttention_InputGradientMatchesFiniteDifferences()
    {
        var model = new CrossAttentionNet(5);
        const int batch = 3, seq = 4;
        int[] lengths = [4, 2, 3];
        var x = ModelTestData.RandomArray(batch * seq * CrossAttentionNet.InputSize, 6, 2);
        var weights = ModelTestData.RandomArray(batch * CrossAttentionNet.OutputSize, 7);
        var output = new float[weights.Length];
        var dx = new float[x.Length];
        model.ForwardTrain(x, output, batch, seq, lengths);
        model.Backward(weights, dx);
        double Loss()
        {
            model.ForwardTrain(x, output, batch, seq, lengths);
            double sum = 0;
            for (int j = 0; j < output.Length; j++) sum += (double)weights[j] * output[j];
            return sum;
        }
        for (int i = 0; i < x.Length; i++)
        {
            int b = i / (seq * CrossAttentionNet.InputSize), t = i / CrossAttentionNet.InputSize % seq;
            const float h = 1e-2f;
            float saved = x[i];
            x[i] = saved + h;
            double plus = Loss();
            x[i] = saved - h;
            double minus = Loss();
            x[i] = saved;
            double expected = (plus - minus) / (2 * h);
            if (t >= lengths[b]) Assert.Equal(0f, dx[i]);   // padded positions get no gradient
            Assert.True(Math.Abs(expected - dx[i]) <= 3e-3 + 2e-2 * Math.Abs(expected), $"dInput[{i}] (example {b}, position {t}): finite difference {expected}, backward {dx[i]}");
        }
    }

    /// <summary>
    /// A memory that is the model input, wider than every layer's output: both paths' input gradients (queries, and keys and
    /// values through the memory) reach dInput whole, against finite differences (the memory's part goes through scratch that
    /// must hold a whole input gradient). The same for two plain branches over a wide input.
    /// </summary>
    [Fact]
    public void Backward_WideInputAsMemory_InputGradientMatchesFiniteDifferences()
    {
        CheckInputGradient(new WideInputCrossNet(5), WideInputCrossNet.InputSize, WideInputCrossNet.OutputSize, perPosition: true);
        CheckInputGradient(new WideInputBranchNet(5), WideInputBranchNet.InputSize, WideInputBranchNet.OutputSize, perPosition: true);
    }

    private static void CheckInputGradient(ISequenceTrainable<float> model, int inputSize, int outputSize, bool perPosition)
    {
        const int batch = 2, seq = 3;
        int[] lengths = [3, 2];
        var x = ModelTestData.RandomArray(batch * seq * inputSize, 6, 2);
        var weights = ModelTestData.RandomArray(batch * (perPosition ? seq : 1) * outputSize, 7);
        for (int b = 0; b < batch; b++)   // the loss counts real positions only
            for (int t = lengths[b]; perPosition && t < seq; t++)
                for (int k = 0; k < outputSize; k++) weights[(b * seq + t) * outputSize + k] = 0;
        var output = new float[weights.Length];
        var dx = new float[x.Length];
        model.ForwardTrain(x, output, batch, seq, lengths);
        model.Backward(weights, dx);
        double Loss()
        {
            model.ForwardTrain(x, output, batch, seq, lengths);
            double sum = 0;
            for (int j = 0; j < output.Length; j++) sum += (double)weights[j] * output[j];
            return sum;
        }
        for (int i = 0; i < x.Length; i++)
        {
            int b = i / (seq * inputSize), t = i / inputSize % seq;
            const float h = 1e-2f;
            float saved = x[i];
            x[i] = saved + h;
            double plus = Loss();
            x[i] = saved - h;
            double minus = Loss();
            x[i] = saved;
            double expected = (plus - minus) / (2 * h);
            if (t >= lengths[b]) Assert.Equal(0f, dx[i]);
            Assert.True(Math.Abs(expected - dx[i]) <= 3e-3 + 2e-2 * Math.Abs(expected), $"{model.GetType().Name} dInput[{i}] (example {b}, position {t}): finite difference {expected}, backward {dx[i]}");
        }
    }

    /// <summary>
    /// Whatever padded positions hold never reaches a real output, a parameter gradient or the input gradient (finite junk: the
    /// per-position Dense layers before the attention multiply padded rows by a zero gradient; the attention kernel tests cover NaN).
    /// </summary>
    [Fact]
    public void PaddedPositions_DoNotReachRealOutputsOrGradients()
    {
        const int batch = 3, seq = 5;
        int[] lengths = [5, 2, 3];
        var x = ModelTestData.RandomArray(batch * seq * PackedCrossNet.InputSize, 11);
        var junk = (float[])x.Clone();
        for (int b = 0; b < batch; b++)
            for (int i = lengths[b] * PackedCrossNet.InputSize; i < seq * PackedCrossNet.InputSize; i++)
                junk[b * seq * PackedCrossNet.InputSize + i] = i % 3 == 0 ? -1e4f : 1e4f;
        var dy = ModelTestData.RandomArray(batch * seq * PackedCrossNet.OutputSize, 12);
        (float[] Y, float[] G, float[] Dx) Run(float[] input)
        {
            var model = new PackedCrossNet(2);
            var y = new float[dy.Length];
            var dx = new float[input.Length];
            model.ForwardTrain(input, y, batch, seq, lengths);
            model.Backward(dy, dx);
            return (y, model.Gradients.ToArray(), dx);
        }
        var (y0, g0, dx0) = Run(x);
        var (y1, g1, dx1) = Run(junk);
        Assert.Equal(g0, g1);
        Assert.Equal(dx0, dx1);
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < lengths[b] * PackedCrossNet.OutputSize; i++)
                Assert.Equal(y0[b * seq * PackedCrossNet.OutputSize + i], y1[b * seq * PackedCrossNet.OutputSize + i]);
    }
}
