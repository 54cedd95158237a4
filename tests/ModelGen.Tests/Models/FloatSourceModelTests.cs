// A generated model whose second input is float vectors ([ModelInput("Source", Dim.Seq, 13)], as PyTorch's memory is any float
// tensor): its forward against the kernels composed by hand over S and T, padded source rows (NaN or anything else) that reach no
// real output and no gradient, dInput and dSource against central finite differences (S > T and S < T) with each skippable on its
// own, argument errors naming dSource, and zero steady-state allocation.
using ModelGen.Kernels;

namespace ModelGen.Tests.Models;

public class FloatSourceModelTests
{
    private const int Batch = 3, Seq = 4, Width = 13;
    private static readonly int[] Lengths = [4, 2, 3];

    private static int[] SourceLengths(int sourceSeq) => [sourceSeq, Math.Max(1, sourceSeq - 2), 1];

    /// <summary>[Batch, sourceSeq, 13] floats whose padded rows hold <paramref name="padding"/>.</summary>
    private static float[] Source(int sourceSeq, float padding, int seed = 8)
    {
        var source = ModelTestData.RandomArray(Batch * sourceSeq * Width, seed, 2);
        int[] lengths = SourceLengths(sourceSeq);
        for (int b = 0; b < Batch; b++)
            source.AsSpan((b * sourceSeq + lengths[b]) * Width, (sourceSeq - lengths[b]) * Width).Fill(padding);
        return source;
    }

    private static float[] Input() => ModelTestData.RandomArray(Batch * Seq * FloatSourceNet.InputSize, 6, 2);

    /// <summary>A parameter range of the model by the first and last tensor names (composite layers take one contiguous slice).</summary>
    private static ReadOnlySpan<float> Range(FloatSourceNet m, string first, string last)
    {
        var a = m.ParameterInfos.First(p => p.Name == first);
        var b = m.ParameterInfos.First(p => p.Name == last);
        return m.Parameters.Slice(a.Offset, b.Offset + b.Length - a.Offset);
    }

    /// <summary>The model computed with the kernels directly: the wiring the generated code must reproduce.</summary>
    private static float[] Reference(FloatSourceNet m, float[] input, float[] source, int sourceSeq, int[] sourceLengths)
    {
        int sRows = Batch * sourceSeq, tRows = Batch * Seq;
        var enc = new TransformerGeometry(8, 2, 12, 1, normFirst: false, causal: false, FeedForwardActivation.Gelu);
        var dec = new TransformerDecoderGeometry(8, 2, 12, 1, normFirst: false, causal: true, FeedForwardActivation.Gelu);
        var cross = new MultiHeadAttentionGeometry(8, 2, memory: Width);
        var p = new float[sRows * 8];
        DenseKernels.Forward(default(IdentityActivation), source, m.Proj.Parameter("weight"), m.Proj.Parameter("bias"), p, default, sRows, Width, 8);
        LayerNormKernels.Forward(p, m.SrcNorm.Parameter("weight"), m.SrcNorm.Parameter("bias"), p, default, default, sRows, 8, 1e-5f);
        var e = new float[p.Length];
        TransformerKernels.Forward(enc, p, Range(m, "encoder.layers.0.self_attn.in_proj_weight", "encoder.layers.0.norm2.bias"), e, sourceLengths,
            new float[enc.WorkspaceLength(Batch, sourceSeq)], Batch, sourceSeq);
        var x = new float[tRows * 8];
        DenseKernels.Forward(default(TanhActivation), input, m.Tgt.Parameter("weight"), m.Tgt.Parameter("bias"), x, default, tRows, FloatSourceNet.InputSize, 8);
        var y = new float[x.Length];
        TransformerDecoderKernels.Forward(dec, x, e, Range(m, "decoder.layers.0.self_attn.in_proj_weight", "decoder.layers.0.norm3.bias"), y, Lengths, sourceLengths,
            new float[dec.WorkspaceLength(Batch, Seq, sourceSeq)], Batch, Seq, sourceSeq);
        var g = new float[source.Length];
        Elementwise.Forward(default(GeluActivation), source, g);
        var z = new float[x.Length];
        MultiHeadAttentionKernels.Forward(cross, y, g, Range(m, "cross.q_proj_weight", "cross.out_proj.bias"), z, Lengths, sourceLengths,
            new float[cross.WorkspaceLength(Batch, Seq, sourceSeq)], Batch, Seq, sourceSeq);
        var output = new float[tRows * 3];
        DenseKernels.Forward(default(IdentityActivation), z, m.Head.Parameter("weight"), m.Head.Parameter("bias"), output, default, tRows, 8, 3);
        return output;
    }

    private static void AssertRealRowsClose(float[] expected, float[] actual, double tolerance, string what)
    {
        for (int b = 0; b < Batch; b++)
            for (int i = 0; i < Lengths[b] * 3; i++)
            {
                int at = b * Seq * 3 + i;
                Assert.True(Math.Abs(expected[at] - actual[at]) <= tolerance * Math.Max(1, Math.Abs(expected[at])),
                    $"{what}: output[{at}] expected {expected[at]:R}, got {actual[at]:R}");
            }
    }

    [Theory]
    [InlineData(7)]   // S > T
    [InlineData(3)]   // S < T
    public void Forward_EqualsTheKernelsComposedByHand(int sourceSeq)
    {
        var model = new FloatSourceNet(3);
        float[] input = Input(), source = Source(sourceSeq, 0f);
        var output = new float[Batch * Seq * FloatSourceNet.OutputSize];
        var train = new float[output.Length];
        model.Forward(input, source, output, Batch, Seq, sourceSeq, Lengths, SourceLengths(sourceSeq));
        model.ForwardTrain(input, source, train, Batch, Seq, sourceSeq, Lengths, SourceLengths(sourceSeq));
        float[] expected = Reference(model, input, source, sourceSeq, SourceLengths(sourceSeq));
        AssertRealRowsClose(expected, output, 1e-5, "Forward");
        AssertRealRowsClose(expected, train, 1e-5, "ForwardTrain");
        Assert.Equal(13, FloatSourceNet.SourceSize);
        Assert.Contains("[S, 13]", FloatSourceNet.Summary());
        Assert.Contains("cross.k_proj_weight", model.ParameterInfos.Select(p => p.Name));
    }

    /// <summary>Whatever padded source rows hold (NaN, ±∞, large values) reaches no real output, no parameter gradient and no real dSource row.</summary>
    [Fact]
    public void PaddedSourceRows_ReachNothing()
    {
        const int sourceSeq = 6;
        float[] input = Input();
        var dOutput = ModelTestData.RandomArray(Batch * Seq * FloatSourceNet.OutputSize, 31);
        for (int b = 0; b < Batch; b++)
            dOutput.AsSpan((b * Seq + Lengths[b]) * 3, (Seq - Lengths[b]) * 3).Clear();
        (float[] Output, float[] Inference, float[] Gradients, float[] DInput, float[] DSource) Run(float padding)
        {
            var model = new FloatSourceNet(5);
            float[] source = Source(sourceSeq, padding);
            var output = new float[dOutput.Length];
            var inference = new float[dOutput.Length];
            var dInput = new float[input.Length];
            var dSource = new float[source.Length];
            model.Forward(input, source, inference, Batch, Seq, sourceSeq, Lengths, SourceLengths(sourceSeq));
            model.ForwardTrain(input, source, output, Batch, Seq, sourceSeq, Lengths, SourceLengths(sourceSeq));
            model.Backward(dOutput, dInput, dSource);
            return (output, inference, model.Gradients.ToArray(), dInput, dSource);
        }
        var zeros = Run(0f);
        Assert.All(zeros.Gradients, v => Assert.True(float.IsFinite(v)));
        foreach (float padding in new[] { float.NaN, float.PositiveInfinity, -3e38f, 17f })
        {
            var other = Run(padding);
            for (int b = 0; b < Batch; b++)
                for (int i = 0; i < Lengths[b] * 3; i++)
                {
                    int at = b * Seq * 3 + i;
                    Assert.Equal(zeros.Output[at], other.Output[at]);
                    Assert.Equal(zeros.Inference[at], other.Inference[at]);
                }
            Assert.Equal(zeros.Gradients, other.Gradients);
            Assert.Equal(zeros.DInput, other.DInput);
            Assert.Equal(zeros.DSource, other.DSource);   // padded rows 0 in both
        }
        int[] sourceLengths = SourceLengths(sourceSeq);
        for (int b = 0; b < Batch; b++)
            Assert.All(zeros.DSource.AsSpan((b * sourceSeq + sourceLengths[b]) * Width, (sourceSeq - sourceLengths[b]) * Width).ToArray(), v => Assert.Equal(0f, v));
        Assert.Contains(zeros.DSource, v => v != 0f);
    }

    /// <summary>
    /// ∂loss/∂input and ∂loss/∂source of the generated backward against central differences of ForwardTrain (loss = Σ w ⊙ output over
    /// real positions), every real element of both inputs; each gradient is the same when the other is skipped, and skipping both
    /// leaves the parameter gradients unchanged.
    /// </summary>
    [Theory]
    [InlineData(5)]   // S > T
    [InlineData(2)]   // S < T
    public void Backward_InputAndSourceGradients_MatchFiniteDifferences(int sourceSeq)
    {
        var model = new FloatSourceNet(7);
        float[] input = Input(), source = Source(sourceSeq, float.NaN);
        int[] sourceLengths = SourceLengths(sourceSeq);
        var weights = ModelTestData.RandomArray(Batch * Seq * FloatSourceNet.OutputSize, 31);
        for (int b = 0; b < Batch; b++)
            weights.AsSpan((b * Seq + Lengths[b]) * 3, (Seq - Lengths[b]) * 3).Clear();
        var output = new float[weights.Length];
        double Loss()
        {
            model.ForwardTrain(input, source, output, Batch, Seq, sourceSeq, Lengths, sourceLengths);
            double sum = 0;
            for (int j = 0; j < output.Length; j++) sum += (double)weights[j] * output[j];
            return sum;
        }

        var dInput = new float[input.Length];
        var dSource = new float[source.Length];
        model.Gradients.Clear();
        model.ForwardTrain(input, source, output, Batch, Seq, sourceSeq, Lengths, sourceLengths);
        model.Backward(weights, dInput, dSource);
        float[] parameterGradients = model.Gradients.ToArray();

        double Central(float[] values, int i)
        {
            const float h = 1e-2f;
            float saved = values[i];
            values[i] = saved + h;
            double plus = Loss();
            values[i] = saved - h;
            double minus = Loss();
            values[i] = saved;
            return (plus - minus) / (2 * h);
        }
        for (int b = 0; b < Batch; b++)
            for (int i = 0; i < Seq * FloatSourceNet.InputSize; i++)
            {
                int at = b * Seq * FloatSourceNet.InputSize + i;
                double expected = i / FloatSourceNet.InputSize < Lengths[b] ? Central(input, at) : 0;
                Assert.True(Math.Abs(expected - dInput[at]) <= 3e-3 + 2e-2 * Math.Abs(expected), $"S={sourceSeq} dInput[{at}]: finite difference {expected}, backward {dInput[at]}");
            }
        for (int b = 0; b < Batch; b++)
            for (int i = 0; i < sourceLengths[b] * Width; i++)
            {
                int at = b * sourceSeq * Width + i;
                double expected = Central(source, at);
                Assert.True(Math.Abs(expected - dSource[at]) <= 3e-3 + 2e-2 * Math.Abs(expected), $"S={sourceSeq} dSource[{at}]: finite difference {expected}, backward {dSource[at]}");
            }

        // Either gradient alone, then neither: the same values, and the parameter gradients never depend on what was asked.
        var dSourceOnly = new float[source.Length];
        var dInputOnly = new float[input.Length];
        foreach (var (di, ds) in new[] { (Array.Empty<float>(), dSourceOnly), (dInputOnly, Array.Empty<float>()), (Array.Empty<float>(), Array.Empty<float>()) })
        {
            model.Gradients.Clear();
            model.ForwardTrain(input, source, output, Batch, Seq, sourceSeq, Lengths, sourceLengths);
            model.Backward(weights, di, ds);
            Assert.Equal(parameterGradients, model.Gradients.ToArray());
        }
        Assert.Equal(dSource, dSourceOnly);
        Assert.Equal(dInput, dInputOnly);
    }

    [Fact]
    public void Backward_BadDSource_NamesIt()
    {
        var model = new FloatSourceNet(1);
        float[] input = Input(), source = Source(5, 0f);
        var output = new float[Batch * Seq * FloatSourceNet.OutputSize];
        model.ForwardTrain(input, source, output, Batch, Seq, 5, Lengths, SourceLengths(5));
        var e = Assert.Throws<ArgumentException>(() => model.Backward(output, default, new float[source.Length - 1]));
        Assert.Equal("dSource", e.ParamName);
        Assert.Contains($"expected batch 3 × sourceSeq 5 × 13 = {source.Length}", e.Message);
        var f = Assert.Throws<ArgumentException>(() => model.Forward(input, new float[source.Length + 1], output, Batch, Seq, 5, Lengths, SourceLengths(5)));
        Assert.Equal("source", f.ParamName);
    }

    [Fact]
    public void Calls_InSteadyState_AllocateNothing()
    {
        var model = new FloatSourceNet(1);
        float[] input = Input(), source = Source(5, float.NaN);
        var output = new float[Batch * Seq * FloatSourceNet.OutputSize];
        var dOutput = ModelTestData.RandomArray(output.Length, 3);
        var dInput = new float[input.Length];
        var dSource = new float[source.Length];
        int[] sourceLengths = SourceLengths(5);
        void Step()
        {
            model.Forward(input, source, output, Batch, Seq, 5, Lengths, sourceLengths);
            model.ForwardTrain(input, source, output, Batch, Seq, 5, Lengths, sourceLengths);
            model.Backward(dOutput, dInput, dSource);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 10, "Forward + ForwardTrain + Backward", warmUpCalls: 2);
    }
}
