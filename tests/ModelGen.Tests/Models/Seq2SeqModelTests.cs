// A generated two-input model ([ModelInput]: source ids of their own length S beside the target's T): its forward against the
// kernels composed by hand over S and T, padded source positions that reach nothing, the generated backward against central
// finite differences with S > T and S < T, argument errors naming the operand, and zero steady-state allocation.
using ModelGen.Kernels;

namespace ModelGen.Tests.Models;

public class Seq2SeqModelTests
{
    private const int Batch = 3, Seq = 4;
    private static readonly int[] Lengths = [4, 2, 3];

    private static int[] Ids(int count, int vocab, int seed)
    {
        var rng = new Rng((ulong)seed);
        var ids = new int[count];
        for (int i = 0; i < count; i++) ids[i] = rng.NextInt(vocab);
        return ids;
    }

    private static int[] SourceLengths(int sourceSeq) => [sourceSeq, Math.Max(1, sourceSeq - 2), 1];

    /// <summary>A parameter range of the model by the first and last tensor names (composite layers take one contiguous slice).</summary>
    private static ReadOnlySpan<float> Range(Seq2SeqNet m, string first, string last)
    {
        var a = m.ParameterInfos.First(p => p.Name == first);
        var b = m.ParameterInfos.First(p => p.Name == last);
        return m.Parameters.Slice(a.Offset, b.Offset + b.Length - a.Offset);
    }

    /// <summary>The model computed with the kernels directly: the wiring the generated code must reproduce.</summary>
    private static float[] Reference(Seq2SeqNet m, int[] target, int[] source, int sourceSeq, int[] sourceLengths)
    {
        int sRows = Batch * sourceSeq, tRows = Batch * Seq;
        var enc = new TransformerGeometry(8, 2, 12, 1, normFirst: true, causal: false, FeedForwardActivation.Gelu);
        var dec = new TransformerDecoderGeometry(8, 2, 12, 2, normFirst: true, causal: true, FeedForwardActivation.Gelu);
        var cross = new MultiHeadAttentionGeometry(8, 4, memory: 8, bias: false);
        var s = new float[sRows * 8];
        EmbeddingKernels.Forward(source, m.Src.Parameter("weight"), s, 9, 8);
        PositionEmbeddingKernels.Forward(s, m.SrcPos.Parameter("weight"), s, Batch, sourceSeq, 8);
        var e = new float[s.Length];
        TransformerKernels.Forward(enc, s, Range(m, "encoder.layers.0.self_attn.in_proj_weight", "encoder.layers.0.norm2.bias"), e, sourceLengths,
            new float[enc.WorkspaceLength(Batch, sourceSeq)], Batch, sourceSeq);
        LayerNormKernels.Forward(e, m.EncNorm.Parameter("weight"), m.EncNorm.Parameter("bias"), e, default, default, sRows, 8, 1e-5f);
        var x = new float[tRows * 8];
        EmbeddingKernels.Forward(target, m.Tgt.Parameter("weight"), x, 11, 8);
        var y = new float[x.Length];
        TransformerDecoderKernels.Forward(dec, x, e, Range(m, "decoder.layers.0.self_attn.in_proj_weight", "decoder.layers.1.norm3.bias"), y, Lengths, sourceLengths,
            new float[dec.WorkspaceLength(Batch, Seq, sourceSeq)], Batch, Seq, sourceSeq);
        var z = new float[x.Length];
        MultiHeadAttentionKernels.Forward(cross, y, e, Range(m, "cross.in_proj_weight", "cross.out_proj.weight"), z, Lengths, sourceLengths,
            new float[cross.WorkspaceLength(Batch, Seq, sourceSeq)], Batch, Seq, sourceSeq);
        var output = new float[tRows * 11];
        DenseKernels.Forward(default(IdentityActivation), z, m.Head.Parameter("weight"), m.Head.Parameter("bias"), output, default, tRows, 8, 11);
        return output;
    }

    [Theory]
    [InlineData(7)]
    [InlineData(2)]
    [InlineData(4)]
    public void Forward_EqualsTheKernelsComposedOverSAndT(int sourceSeq)
    {
        var model = new Seq2SeqNet(3);
        int[] target = Ids(Batch * Seq, 11, 1), source = Ids(Batch * sourceSeq, 9, 2), sourceLengths = SourceLengths(sourceSeq);
        var output = new float[Batch * Seq * Seq2SeqNet.OutputSize];
        model.Forward(target, source, output, Batch, Seq, sourceSeq, Lengths, sourceLengths);
        Assert.Equal(Reference(model, target, source, sourceSeq, sourceLengths), output);

        // Padded source positions reach nothing: other ids there leave every real output bit-identical.
        var fresh = (int[])source.Clone();
        for (int b = 0; b < Batch; b++)
            for (int t = sourceLengths[b]; t < sourceSeq; t++) fresh[b * sourceSeq + t] = 8 - fresh[b * sourceSeq + t];
        var again = new float[output.Length];
        model.Forward(target, fresh, again, Batch, Seq, sourceSeq, Lengths, sourceLengths);
        for (int b = 0; b < Batch; b++)
            for (int t = 0; t < Lengths[b]; t++)
                for (int j = 0; j < Seq2SeqNet.OutputSize; j++)
                {
                    int i = (b * Seq + t) * Seq2SeqNet.OutputSize + j;
                    Assert.True(output[i] == again[i], $"[{b}, {t}, {j}]: {again[i]} vs {output[i]} after changing padded source ids");
                }
    }

    [Fact]
    public void Declaration_ShapesAndNames()
    {
        Assert.Equal(1, Seq2SeqNet.SourceSize);
        Assert.Contains("[S, 8]", Seq2SeqNet.Summary());
        Assert.Contains("[T, 8]", Seq2SeqNet.Summary());
        Assert.Contains("cross.in_proj_weight", new Seq2SeqNet().ParameterInfos.Select(p => p.Name));
        Assert.IsAssignableFrom<IModel>(new Seq2SeqNet());
    }

    /// <summary>
    /// Attention-weight dropout over the second input (<see cref="Seq2SeqDroppedNet"/>: element dropout 0, so only the attention
    /// masks are random) acts in training only: the same seed repeats a training forward bit for bit, another seed drops other
    /// weights, and neither equals inference. Its gradient is checked by SequenceModelTests' finite-difference theory.
    /// </summary>
    [Fact]
    public void AttentionDropout_OverSource_TrainingOnlyAndSeeded()
    {
        var model = new Seq2SeqDroppedNet(3);
        const int sourceSeq = 5;
        int[] target = Ids(Batch * Seq, 11, 5), source = Ids(Batch * sourceSeq, 9, 6), sourceLengths = SourceLengths(sourceSeq);
        var inference = new float[Batch * Seq * Seq2SeqDroppedNet.OutputSize];
        model.Forward(target, source, inference, Batch, Seq, sourceSeq, Lengths, sourceLengths);
        float[] Train(ulong seed)
        {
            var o = new float[inference.Length];
            model.SeedDropout(seed);
            model.ForwardTrain(target, source, o, Batch, Seq, sourceSeq, Lengths, sourceLengths);
            return o;
        }
        float[] a = Train(5), again = Train(5), other = Train(6);
        Assert.Equal(a, again);
        Assert.NotEqual(a, other);
        Assert.NotEqual(inference, a);
        Assert.All(a, v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>
    /// The generated backward against central differences of the training forward (dropout masks re-drawn identically; GELU
    /// feed-forwards keep the loss smooth, so a step of 1e-2 crosses no kink).
    /// </summary>
    [Theory]
    [InlineData(6)]
    [InlineData(3)]
    public void Backward_MatchesFiniteDifferences(int sourceSeq)
    {
        var model = new Seq2SeqNet(7);
        int[] target = Ids(Batch * Seq, 11, 5), source = Ids(Batch * sourceSeq, 9, 6), sourceLengths = SourceLengths(sourceSeq);
        var weights = ModelTestData.RandomArray(Batch * Seq * Seq2SeqNet.OutputSize, 31);
        for (int b = 0; b < Batch; b++)
            weights.AsSpan((b * Seq + Lengths[b]) * Seq2SeqNet.OutputSize, (Seq - Lengths[b]) * Seq2SeqNet.OutputSize).Clear();
        var output = new float[weights.Length];
        void Forward()
        {
            model.SeedDropout(9);
            model.ForwardTrain(target, source, output, Batch, Seq, sourceSeq, Lengths, sourceLengths);
        }
        model.Gradients.Clear();
        Forward();
        model.Backward(weights, default);
        var analytic = model.Gradients.ToArray();
        double Loss()
        {
            Forward();
            double sum = 0;
            for (int j = 0; j < output.Length; j++) sum += (double)weights[j] * output[j];
            return sum;
        }
        foreach (var info in model.ParameterInfos)
            for (int i = 0; i < info.Length; i += info.Length > 40 ? 3 : 1)
            {
                const float h = 1e-2f;
                float saved = model.Parameters[info.Offset + i];
                model.Parameters[info.Offset + i] = saved + h;
                double plus = Loss();
                model.Parameters[info.Offset + i] = saved - h;
                double minus = Loss();
                model.Parameters[info.Offset + i] = saved;
                double expected = (plus - minus) / (2 * h);
                float actual = analytic[info.Offset + i];
                Assert.True(Math.Abs(expected - actual) <= 3e-3 + 2e-2 * Math.Abs(expected), $"S={sourceSeq} {info.Name}[{i}]: finite difference {expected}, backward {actual}");
            }
    }

    [Fact]
    public void Calls_WithWrongSourceArguments_ThrowNamingThem()
    {
        var model = new Seq2SeqNet(1);
        int[] target = new int[Batch * Seq], source = new int[Batch * 5];
        var output = new float[Batch * Seq * Seq2SeqNet.OutputSize];
        var e = Assert.Throws<ArgumentException>(() => model.Forward(target, source, output, Batch, Seq, 6));
        Assert.Equal("source", e.ParamName);
        Assert.Contains("'source' has 15 elements, expected batch 3 × sourceSeq 6 × 1 = 18", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Forward(target, source, output, Batch, Seq, 5, default, [5, 6, 1]));
        Assert.Equal("sourceLengths", e.ParamName);
        Assert.Contains("sourceLengths[1] is 6; each real length must be in [1, sourceSeq = 5]", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.ForwardTrain(target, source, output, Batch, Seq, 0));
        Assert.Equal("sourceSeq", e.ParamName);
    }

    [Fact]
    public void ForwardTrainBackward_SteadyState_AllocateNothing()
    {
        var model = new Seq2SeqNet(2);
        const int sourceSeq = 9;
        int[] target = Ids(Batch * Seq, 11, 1), source = Ids(Batch * sourceSeq, 9, 2), sourceLengths = SourceLengths(sourceSeq);
        var output = new float[Batch * Seq * Seq2SeqNet.OutputSize];
        var dOutput = ModelTestData.RandomArray(output.Length, 3);
        AllocationAssert.SteadyStateAllocatesNothing(() =>
        {
            model.Forward(target, source, output, Batch, Seq, sourceSeq, Lengths, sourceLengths);
            model.ForwardTrain(target, source, output, Batch, Seq, sourceSeq, Lengths, sourceLengths);
            model.Backward(dOutput, default);
        }, callsPerWindow: 10, "Forward + ForwardTrain + Backward", warmUpCalls: 2);
    }
}
