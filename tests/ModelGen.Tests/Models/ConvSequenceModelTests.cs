using ModelGen.Kernels;

namespace ModelGen.Tests.Models;

/// <summary>
/// Permute + Conv1D over the run-time length in generated sequence models (the ConvTagger): shapes shown with T,
/// padded positions never changing real outputs or gradients, the generated wiring against a kernel-by-kernel reference,
/// and training reducing the loss. Backward against finite differences runs in SequenceModelTests (SmallConvTagger, ConvStackNet).
/// </summary>
public class ConvSequenceModelTests
{
    private static int[] Ids(int count, int vocab, int seed)
    {
        var rng = new Rng((ulong)seed);
        var ids = new int[count];
        for (int i = 0; i < count; i++) ids[i] = rng.NextInt(vocab);
        return ids;
    }

    [Fact]
    public void Shapes_ShowTOnTheLengthAxis()
    {
        string summary = ConvTagger.Summary();
        Assert.Contains("[32, T]", summary);
        Assert.Contains("[64, T]", summary);
        Assert.Contains("[T, 64]", summary);
        var model = new ConvTagger(1);
        Assert.Equal(new[] { 64, Dim.Seq }, model.Conv.OutputShape);
        Assert.Equal(new[] { Dim.Seq, 10 }, ConvTagger.OutputShape.ToArray());
        Assert.Equal(new[] { "emb.weight", "conv.weight", "conv.bias", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "tags.weight", "tags.bias" },
            model.ParameterInfos.Select(p => p.Name));
        Assert.Equal(new[] { 64, 32, 3 }, model.ParameterInfos.Single(p => p.Name == "conv.weight").Shape);
    }

    /// <summary>The generated ConvStackNet equals the same layers called one by one on the runtime kernels.</summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 7)]
    [InlineData(3, 17)]
    public void Forward_ConvStack_EqualsTheKernelByKernelReference(int batch, int seq)
    {
        var model = new ConvStackNet(4);
        var input = ModelTestData.RandomArray(batch * seq * 4, 5);
        int[] lengths = Enumerable.Range(0, batch).Select(b => Math.Max(1, seq - 2 * b)).ToArray();
        var output = new float[batch * seq * 3];
        model.Forward(input, output, batch, seq, lengths);

        var x = new float[batch * 4 * seq];
        SequenceKernels.Transpose(input, x, batch, seq, 4);
        var a = new float[batch * 6 * seq];
        ConvKernels.ForwardSequence(default(IdentityActivation), ConvGeometry.Conv1D(4, seq, 6, 3, padding: 2, dilation: 2, groups: 2), x,
            model.Dilated.Parameter("weight"), model.Dilated.Parameter("bias"), a, default, lengths, batch, seq);
        Elementwise.Forward(default(TanhActivation), a, a);
        var c = new float[a.Length];
        ConvKernels.ForwardSequence(default(SiluActivation), ConvGeometry.Conv1D(6, seq, 6, 5, padding: 2), a,
            model.Wide.Parameter("weight"), model.Wide.Parameter("bias"), c, default, lengths, batch, seq);
        MergeKernels.Add(a, c, c);
        var steps = new float[c.Length];
        SequenceKernels.Transpose(c, steps, batch, 6, seq);
        var expected = new float[output.Length];
        DenseKernels.Forward(default(IdentityActivation), steps, model.Out.Parameter("weight"), model.Out.Parameter("bias"), expected, default, batch * seq, 6, 3);
        Assert.Equal(expected, output);

        var train = new float[output.Length];
        model.ForwardTrain(input, train, batch, seq, lengths);
        Assert.Equal(output, train);   // no dropout: training and inference agree bit for bit
    }

    /// <summary>Each example, padded or not, gives the outputs it gives alone at its real length; padding contents do not matter.</summary>
    [Fact]
    public void Forward_WithLengths_EqualsEachExampleAlone_AndIgnoresPaddedIds()
    {
        var model = new ConvTagger(2);
        const int batch = 3, seq = 9;
        int[] lengths = { 9, 4, 1 };
        var ids = Ids(batch * seq, 1000, 3);
        var output = new float[batch * seq * 10];
        model.Forward(ids, output, batch, seq, lengths);
        for (int b = 0; b < batch; b++)
        {
            var alone = new float[lengths[b] * 10];
            model.Forward(ids.AsSpan(b * seq, lengths[b]), alone, 1, lengths[b]);
            Assert.Equal(alone, output.AsSpan(b * seq * 10, lengths[b] * 10).ToArray());
        }
        for (int b = 0; b < batch; b++)
            for (int t = lengths[b]; t < seq; t++) ids[b * seq + t] = 999 - t;
        var again = new float[output.Length];
        model.Forward(ids, again, batch, seq, lengths);
        for (int b = 0; b < batch; b++)
            Assert.Equal(output.AsSpan(b * seq * 10, lengths[b] * 10).ToArray(), again.AsSpan(b * seq * 10, lengths[b] * 10).ToArray());
    }

    /// <summary>
    /// Gradients with lengths equal the gradients of each example alone (summed), and a gradient placed on padded output
    /// positions reaches no parameter: the conv masks it, and the LSTM/Dense see it only at padded rows.
    /// </summary>
    [Fact]
    public void Backward_PaddedPositions_GetNoGradient()
    {
        var model = new SmallConvTagger(5);
        const int batch = 2, seq = 6;
        int[] lengths = { 6, 3 };
        var ids = Ids(batch * seq, 13, 8);
        var output = new float[batch * seq * 3];
        var dOutput = ModelTestData.RandomArray(output.Length, 4);
        for (int t = lengths[1]; t < seq; t++) dOutput.AsSpan((seq + t) * 3, 3).Clear();

        model.Gradients.Clear();
        model.ForwardTrain(ids, output, batch, seq, lengths);
        model.Backward(dOutput, default);
        var together = model.Gradients.ToArray();

        model.Gradients.Clear();
        for (int b = 0; b < batch; b++)
        {
            var alone = new float[lengths[b] * 3];
            model.ForwardTrain(ids.AsSpan(b * seq, lengths[b]), alone, 1, lengths[b]);
            model.Backward(dOutput.AsSpan(b * seq * 3, lengths[b] * 3), default);
        }
        var separately = model.Gradients.ToArray();
        for (int i = 0; i < together.Length; i++)
            Assert.True(Math.Abs(together[i] - separately[i]) <= 1e-5f + 1e-4f * Math.Abs(separately[i]), $"gradient {i}: batched {together[i]}, alone {separately[i]}");

        // Only the conv's own masking stands between padded ids and the embedding rows: rows used only at padded
        // positions must get no gradient.
        var used = new HashSet<int>();
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < lengths[b]; t++) used.Add(ids[b * seq + t]);
        var emb = model.ParameterInfos.Single(p => p.Name == "emb.weight");
        for (int id = 0; id < 13; id++)
            if (!used.Contains(id))
                Assert.All(together.AsSpan(emb.Offset + id * 5, 5).ToArray(), v => Assert.Equal(0f, v));
    }

    /// <summary>The ConvTagger learns a tagging rule that needs the next token (which only the conv window sees) with Adam and a masked cross-entropy.</summary>
    [Fact]
    public void Training_ConvTagger_ReducesTheLoss()
    {
        var model = new ConvTagger(11);
        var adam = new Adam(3e-3f);
        var loss = Loss.CrossEntropyIgnoring(Loss.DefaultIgnoreIndex);
        const int batch = 8, seq = 12;
        var rng = new Rng(17);
        var output = new float[batch * seq * 10];
        var dOutput = new float[output.Length];
        var labels = new int[batch * seq];
        var lengths = new int[batch];
        var ids = new int[batch * seq];
        float first = 0, last = 0;
        for (int step = 0; step < 120; step++)
        {
            for (int b = 0; b < batch; b++)
            {
                lengths[b] = 4 + rng.NextInt(seq - 3);
                for (int t = 0; t < seq; t++) ids[b * seq + t] = rng.NextInt(20);
                for (int t = 0; t < seq; t++)
                {
                    // The tag of a position is the next token's class: only the conv window (the LSTM runs forward) sees it.
                    int right = t + 1 < lengths[b] ? ids[b * seq + t + 1] : 0;
                    labels[b * seq + t] = t < lengths[b] ? right % 10 : Loss.DefaultIgnoreIndex;
                }
            }
            model.Gradients.Clear();
            model.ForwardTrain(ids, output, batch, seq, lengths);
            float value = loss.Compute(output, labels, default, dOutput, batch * seq);
            model.Backward(dOutput, default);
            adam.Step(model, model.Gradients);
            if (step < 10) first += value / 10;
            if (step >= 110) last += value / 10;
        }
        Assert.True(last < 0.5f * first, $"mean loss of the first 10 steps {first}, of the last 10 {last}");
    }

    /// <summary>A rank-3 Permute in a fixed-shape model: forward and the input gradient equal the kernels called by hand.</summary>
    [Fact]
    public void FixedShapePermute_ForwardAndInputGradient_EqualTheKernels()
    {
        var model = new PermuteMlp(3);
        const int batch = 3;
        var input = ModelTestData.RandomArray(batch * 30, 2);
        var output = new float[batch * 4];
        model.ForwardTrain(input, output, batch);
        var rotated = new float[input.Length];
        PermuteKernels.Forward(input, rotated, batch, [2, 3, 5], [2, 0, 1]);
        var expected = new float[output.Length];
        DenseKernels.Forward(default(IdentityActivation), rotated, model.Out.Parameter("weight"), model.Out.Parameter("bias"), expected, default, batch, 30, 4);
        Assert.Equal(expected, output);
        Assert.Equal(new[] { 5, 2, 3 }, model.Rotate.OutputShape);

        var dOutput = ModelTestData.RandomArray(output.Length, 6);
        var dInput = new float[input.Length];
        model.Backward(dOutput, dInput);
        var dRotated = new float[input.Length];
        Gemm.NN(dOutput, model.Out.Parameter("weight"), dRotated, batch, 4, 30);   // dX = dY · W
        var expectedInput = new float[input.Length];
        PermuteKernels.Backward(dRotated, expectedInput, batch, [2, 3, 5], [2, 0, 1]);
        for (int i = 0; i < dInput.Length; i++) Assert.Equal(expectedInput[i], dInput[i], 5);
    }
}
