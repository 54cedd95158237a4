using ModelGen.Kernels;

namespace ModelGen.Tests.Models;

/// <summary>
/// Generated sequence models end to end (the kernels are checked in Kernels/): the run-time T, token ids, lengths and
/// padding, the generated backward against central finite differences, argument errors and zero allocation.
/// </summary>
public class SequenceModelTests
{
    private static int[] RandomIds(int count, int vocab, int seed)
    {
        var rng = new Rng((ulong)seed);
        var ids = new int[count];
        for (int i = 0; i < count; i++) ids[i] = rng.NextInt(vocab);
        return ids;
    }

    /// <summary>The tagger computed position by position with the kernels, as a reference for the generated wiring.</summary>
    private static float[] Reference(TokenMlpTagger m, int[] ids)
    {
        int rows = ids.Length;
        var e = new float[rows * 6];
        EmbeddingKernels.Forward(ids, m.Emb.Parameter("weight"), e, 11, 6);
        LayerNormKernels.Forward(e, m.Norm.Parameter("weight"), m.Norm.Parameter("bias"), e, default, default, rows, 6, 1e-5f);
        var h = new float[rows * 5];
        DenseKernels.Forward(default(TanhActivation), e, m.Hidden.Parameter("weight"), m.Hidden.Parameter("bias"), h, default, rows, 6, 5);
        var y = new float[rows * 3];
        DenseKernels.Forward(default(IdentityActivation), h, m.Out.Parameter("weight"), m.Out.Parameter("bias"), y, default, rows, 5, 3);
        return y;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(2, 40)]
    public void Forward_TokenTagger_EqualsThePerPositionReference(int batch, int seq)
    {
        var model = new TokenMlpTagger(3);
        model.Norm.Parameter("weight").Fill(1.3f);
        var ids = RandomIds(batch * seq, 11, seq);
        var output = new float[batch * seq * TokenMlpTagger.OutputSize];
        model.Forward(ids, output, batch, seq);
        Assert.Equal(Reference(model, ids), output);

        var train = new float[output.Length];
        model.ForwardTrain(ids, train, batch, seq);
        Assert.Equal(output, train);   // no dropout: training and inference agree bit for bit
    }

    [Fact]
    public void Shapes_ShowTSymbolically()
    {
        Assert.Equal(new[] { Dim.Seq }, TokenMlpTagger.InputShape.ToArray());
        Assert.Equal(new[] { Dim.Seq, 3 }, TokenMlpTagger.OutputShape.ToArray());
        Assert.Equal(1, TokenMlpTagger.InputSize);
        Assert.Equal(3, TokenMlpTagger.OutputSize);
        Assert.Equal(40, TokenMlpTagger.MaxLength);
        Assert.Contains("[T, 6]", TokenMlpTagger.Summary());
        Assert.Equal(new[] { "emb.weight", "norm.weight", "norm.bias", "hidden.weight", "hidden.bias", "out.weight", "out.bias" },
            new TokenMlpTagger().ParameterInfos.Select(p => p.Name));
    }

    [Fact]
    public void Constructor_EmbeddingPaddingRowIsZero_LayerNormIsIdentityAffine()
    {
        var model = new TokenMlpTagger(5);
        Assert.All(model.Emb.Parameter("weight").Slice(0, 6).ToArray(), v => Assert.Equal(0f, v));
        Assert.Contains(model.Emb.Parameter("weight").Slice(6).ToArray(), v => v != 0);
        Assert.All(model.Norm.Parameter("weight").ToArray(), v => Assert.Equal(1f, v));
        Assert.All(model.Norm.Parameter("bias").ToArray(), v => Assert.Equal(0f, v));
    }

    /// <summary>Pooled models: padded positions (whatever they hold) never change an example's output.</summary>
    [Fact]
    public void Forward_PooledWithLengths_EqualsEachExampleAloneAtItsRealLength()
    {
        var model = new SeqPoolNet(2);
        int[] lengths = { 5, 1, 3 };
        const int seq = 5;
        var input = ModelTestData.RandomArray(3 * seq * 4, 8, 3);
        var output = new float[3 * 2];
        model.Forward(input, output, 3, seq, lengths);
        for (int b = 0; b < 3; b++)
        {
            var alone = new float[2];
            model.Forward(input.AsSpan(b * seq * 4, lengths[b] * 4), alone, 1, lengths[b]);
            // The batch's 15 rows and an example's 1-5 may take different GEMM paths (Gemm.PreferDot: a 4-input Dense has
            // no whole vector step, so 12+ rows go packed), which round differently: equal within float rounding.
            for (int o = 0; o < 2; o++)
                Assert.True(Math.Abs(alone[o] - output[b * 2 + o]) <= 1e-6 * Math.Max(1, Math.Abs(alone[o])),
                    $"example {b}, output {o}: alone {alone[o]} vs in the batch {output[b * 2 + o]}");
        }
        // Garbage in padded positions changes nothing.
        for (int b = 0; b < 3; b++)
            input.AsSpan((b * seq + lengths[b]) * 4, (seq - lengths[b]) * 4).Fill(1e6f);
        var again = new float[output.Length];
        model.Forward(input, again, 3, seq, lengths);
        Assert.Equal(output, again);
    }

    public static TheoryData<string> Networks => new() { nameof(TokenMlpTagger), nameof(SeqPoolNet), nameof(TokenAvgClassifier), nameof(StepTagger), nameof(BiLstmClassifier), nameof(FeatureTagger), nameof(PositionTagger), nameof(SinePositionNet), nameof(TinyGpt), nameof(EncoderClassifier), nameof(BlockGpt), nameof(CrossAttentionNet), nameof(PackedCrossNet), nameof(SmallConvTagger), nameof(ConvStackNet), nameof(RopeGpt), nameof(RopeEncoderClassifier), nameof(RopeAttentionNet), nameof(EncoderDecoderNet), nameof(NarrowMemoryDecoderNet), nameof(ThreeCompositeNet), nameof(DroppedAttentionNet), nameof(Seq2SeqNet), Seq2SeqShortSource, nameof(Seq2SeqDroppedNet), nameof(FloatSourceNet), FloatSourceShort, nameof(LogSoftmaxTagger) };

    /// <summary>The two-input encoder-decoder with a source shorter than the target (S = 2 &lt; T = 4); <see cref="Seq2SeqNet"/> alone runs S = 6.</summary>
    private const string Seq2SeqShortSource = nameof(Seq2SeqNet) + " (S < T)";

    /// <summary>The float-source model with a source shorter than the target (S = 3 &lt; T = 4); <see cref="FloatSourceNet"/> alone runs S = 7.</summary>
    private const string FloatSourceShort = nameof(FloatSourceNet) + " (S < T)";

    /// <summary>
    /// The generated backward of each network against central finite differences of its training forward, with
    /// variable lengths; the loss weights padded positions by zero, as a masked loss does.
    /// </summary>
    [Theory]
    [MemberData(nameof(Networks))]
    public void Backward_WithLengths_MatchesFiniteDifferences(string network)
    {
        const int batch = 3, seq = 4;
        int[] lengths = { 4, 2, 3 };
        var (model, forward, backward, outputPerPosition, gradients) = network switch
        {
            nameof(TokenMlpTagger) => Token(new TokenMlpTagger(7), 11, TokenMlpTagger.OutputSize, perPosition: true),
            nameof(TokenAvgClassifier) => Token(new TokenAvgClassifier(7), 9, TokenAvgClassifier.OutputSize, perPosition: false),
            nameof(StepTagger) => Token(new StepTagger(7), 13, StepTagger.OutputSize, perPosition: true),
            nameof(PositionTagger) => Token(new PositionTagger(7), 9, PositionTagger.OutputSize, perPosition: true),
            nameof(TinyGpt) => Token(new TinyGpt(7), 11, TinyGpt.OutputSize, perPosition: true),
            nameof(EncoderClassifier) => Floats(new EncoderClassifier(7), EncoderClassifier.InputSize),
            nameof(BlockGpt) => Token(new BlockGpt(7), 11, BlockGpt.OutputSize, perPosition: true),
            nameof(CrossAttentionNet) => Floats(new CrossAttentionNet(7), CrossAttentionNet.InputSize),
            nameof(PackedCrossNet) => Floats(new PackedCrossNet(7), PackedCrossNet.InputSize, perPosition: true),
            nameof(RopeAttentionNet) => Floats(new RopeAttentionNet(7), RopeAttentionNet.InputSize, perPosition: true),
            nameof(DroppedAttentionNet) => Floats(new DroppedAttentionNet(7), DroppedAttentionNet.InputSize, perPosition: true, seeded: true),
            nameof(RopeGpt) => Token(new RopeGpt(7), 11, RopeGpt.OutputSize, perPosition: true),
            nameof(EncoderDecoderNet) => Token(new EncoderDecoderNet(7), 11, EncoderDecoderNet.OutputSize, perPosition: true),
            nameof(Seq2SeqNet) => TwoInputs(new Seq2SeqNet(7), sourceSeq: 6),
            Seq2SeqShortSource => TwoInputs(new Seq2SeqNet(7), sourceSeq: 2),
            nameof(Seq2SeqDroppedNet) => TwoInputs(new Seq2SeqDroppedNet(7), sourceSeq: 5),
            nameof(FloatSourceNet) => FloatSource(new FloatSourceNet(7), sourceSeq: 7),
            FloatSourceShort => FloatSource(new FloatSourceNet(7), sourceSeq: 3),
            nameof(NarrowMemoryDecoderNet) => Floats(new NarrowMemoryDecoderNet(7), NarrowMemoryDecoderNet.InputSize),
            nameof(ThreeCompositeNet) => Floats(new ThreeCompositeNet(7), ThreeCompositeNet.InputSize, perPosition: true),
            nameof(RopeEncoderClassifier) => Floats(new RopeEncoderClassifier(7), RopeEncoderClassifier.InputSize),
            nameof(SinePositionNet) => Floats(new SinePositionNet(7), SinePositionNet.InputSize, perPosition: true),
            nameof(FeatureTagger) => Token(new FeatureTagger(7), 5, FeatureTagger.OutputSize, perPosition: true, columns: 3),
            nameof(BiLstmClassifier) => Floats(new BiLstmClassifier(7), BiLstmClassifier.InputSize),
            nameof(SmallConvTagger) => Token(new SmallConvTagger(7), 13, SmallConvTagger.OutputSize, perPosition: true),
            nameof(ConvStackNet) => Floats(new ConvStackNet(7), ConvStackNet.InputSize, perPosition: true),
            nameof(LogSoftmaxTagger) => Floats(new LogSoftmaxTagger(7), LogSoftmaxTagger.InputSize, perPosition: true),
            _ => Floats(new SeqPoolNet(7), SeqPoolNet.InputSize),
        };
        var weights = ModelTestData.RandomArray(batch * (outputPerPosition ? seq : 1) * OutputSize(model), 31);
        if (outputPerPosition)
            for (int b = 0; b < batch; b++)
                weights.AsSpan((b * seq + lengths[b]) * OutputSize(model), (seq - lengths[b]) * OutputSize(model)).Clear();
        var output = new float[weights.Length];

        gradients().Clear();
        forward(output, batch, seq, lengths);
        backward(weights);
        var analytic = gradients().ToArray();

        double Loss()
        {
            forward(output, batch, seq, lengths);
            double sum = 0;
            for (int j = 0; j < output.Length; j++) sum += (double)weights[j] * output[j];
            return sum;
        }
        foreach (var info in model.ParameterInfos)
            for (int i = 0; i < info.Length; i++)
            {
                var values = model.Parameters;
                const float h = 1e-2f;
                float saved = values[info.Offset + i];
                values[info.Offset + i] = saved + h;
                double plus = Loss();
                model.Parameters[info.Offset + i] = saved - h;
                double minus = Loss();
                model.Parameters[info.Offset + i] = saved;
                double expected = (plus - minus) / (2 * h);
                float actual = analytic[info.Offset + i];
                Assert.True(Math.Abs(expected - actual) <= 3e-3 + 2e-2 * Math.Abs(expected), $"{network} {info.Name}[{i}]: finite difference {expected}, backward {actual}");
            }
    }

    private static int OutputSize(IModel model) => model.OutputLength;

    private delegate void ForwardCall(float[] output, int batch, int seq, int[] lengths);

    private delegate Span<float> GradientsOf();

    private static (IModel, ForwardCall, Action<float[]>, bool, GradientsOf) Token(ISequenceTrainable<int> model, int vocab, int outputSize, bool perPosition, int columns = 1)
    {
        var ids = RandomIds(3 * 4 * columns, vocab, 5);
        ids[(1 * 4 + 3) * columns] = vocab - 1;   // padded positions may hold any valid id
        return (model, (o, b, s, l) => { model.SeedDropout(9); model.ForwardTrain(ids, o, b, s, l); }, w => model.Backward(w, default), perPosition, () => model.Gradients);
    }

    /// <summary>A model with a second input ([ModelInput]): source ids of length <paramref name="sourceSeq"/> with lengths of their own.</summary>
    private static (IModel, ForwardCall, Action<float[]>, bool, GradientsOf) TwoInputs(Seq2SeqNet model, int sourceSeq)
        => TwoInputs(model, () => model.SeedDropout(9), (ids, src, o, b, s, ss, l, sl) => model.ForwardTrain(ids, src, o, b, s, ss, l, sl),
            w => model.Backward(w, default), () => model.Gradients, sourceSeq);

    /// <summary>As the other overload, for the two-input model with attention-weight dropout (masks fixed by reseeding before every forward).</summary>
    private static (IModel, ForwardCall, Action<float[]>, bool, GradientsOf) TwoInputs(Seq2SeqDroppedNet model, int sourceSeq)
        => TwoInputs(model, () => model.SeedDropout(9), (ids, src, o, b, s, ss, l, sl) => model.ForwardTrain(ids, src, o, b, s, ss, l, sl),
            w => model.Backward(w, default), () => model.Gradients, sourceSeq);

    /// <summary>
    /// The model with a float second input: input [3, 4, 6] and source [3, sourceSeq, 13] floats with source lengths of their own,
    /// padded source rows NaN (they must reach nothing); Backward also asks for dInput and dSource (the paths only they want run).
    /// </summary>
    private static (IModel, ForwardCall, Action<float[]>, bool, GradientsOf) FloatSource(FloatSourceNet model, int sourceSeq)
    {
        var input = ModelTestData.RandomArray(3 * 4 * FloatSourceNet.InputSize, 6, 2);
        var source = ModelTestData.RandomArray(3 * sourceSeq * FloatSourceNet.SourceSize, 8, 2);
        int[] sourceLengths = [sourceSeq, Math.Max(1, sourceSeq - 2), 1];
        for (int b = 0; b < 3; b++)
            source.AsSpan((b * sourceSeq + sourceLengths[b]) * FloatSourceNet.SourceSize, (sourceSeq - sourceLengths[b]) * FloatSourceNet.SourceSize).Fill(float.NaN);
        return (model, (o, b, s, l) => model.ForwardTrain(input, source, o, b, s, sourceSeq, l, sourceLengths),
            w => model.Backward(w, new float[input.Length], new float[source.Length]), true, () => model.Gradients);
    }

    private delegate void TwoInputTrain(int[] ids, int[] source, float[] output, int batch, int seq, int sourceSeq, int[] lengths, int[] sourceLengths);

    private static (IModel, ForwardCall, Action<float[]>, bool, GradientsOf) TwoInputs(IModel model, Action seed, TwoInputTrain train, Action<float[]> backward,
        GradientsOf gradients, int sourceSeq)
    {
        var ids = RandomIds(3 * 4, 11, 5);
        var source = RandomIds(3 * sourceSeq, 9, 8);
        int[] sourceLengths = [sourceSeq, Math.Max(1, sourceSeq - 1), 1];
        return (model, (o, b, s, l) => { seed(); train(ids, source, o, b, s, sourceSeq, l, sourceLengths); }, backward, true, gradients);
    }

    /// <summary>A float model's calls; <paramref name="seeded"/> reseeds dropout before every training forward, so the masks are fixed.</summary>
    private static (IModel, ForwardCall, Action<float[]>, bool, GradientsOf) Floats(ISequenceTrainable<float> model, int inputSize, bool perPosition = false,
        bool seeded = false)
    {
        var input = ModelTestData.RandomArray(3 * 4 * inputSize, 6, 2);
        return (model, (o, b, s, l) =>
        {
            if (seeded) model.SeedDropout(9);
            model.ForwardTrain(input, o, b, s, l);
        }, w => model.Backward(w, new float[input.Length]), perPosition, () => model.Gradients);
    }

    [Fact]
    public void Backward_FloatSequence_InputGradientMatchesFiniteDifferences()
    {
        var model = new SeqPoolNet(4);
        const int batch = 2, seq = 3;
        int[] lengths = { 3, 2 };
        var input = ModelTestData.RandomArray(batch * seq * 4, 12, 2);
        var weights = ModelTestData.RandomArray(batch * 2, 13);
        var output = new float[weights.Length];
        var dInput = new float[input.Length];
        model.ForwardTrain(input, output, batch, seq, lengths);
        model.Backward(weights, dInput);
        for (int i = 0; i < input.Length; i++)
        {
            const float h = 1e-2f;
            float saved = input[i];
            input[i] = saved + h;
            model.ForwardTrain(input, output, batch, seq, lengths);
            double plus = weights.Select((w, j) => (double)w * output[j]).Sum();
            input[i] = saved - h;
            model.ForwardTrain(input, output, batch, seq, lengths);
            double minus = weights.Select((w, j) => (double)w * output[j]).Sum();
            input[i] = saved;
            double expected = (plus - minus) / (2 * h);
            Assert.True(Math.Abs(expected - dInput[i]) <= 3e-3 + 2e-2 * Math.Abs(expected), $"input[{i}]: finite difference {expected}, backward {dInput[i]}");
        }
        // Padded positions get no gradient.
        Assert.All(dInput.AsSpan((1 * seq + 2) * 4, 4).ToArray(), v => Assert.Equal(0f, v));
    }

    /// <summary>Max pooling over time: the gradient reaches each example's argmax among its real positions only.</summary>
    [Fact]
    public void Backward_MaxOverTime_RoutesToTheRealArgmax()
    {
        var model = new SeqMaxNet(3);
        const int batch = 2, seq = 4;
        int[] lengths = { 4, 2 };
        var input = ModelTestData.RandomArray(batch * seq * 3, 14, 2);
        input[(1 * seq + 3) * 3] = 100f;   // padding larger than every real value
        var output = new float[batch * 2];
        var dOutput = ModelTestData.RandomArray(output.Length, 15);
        var dInput = new float[input.Length];
        model.ForwardTrain(input, output, batch, seq, lengths);
        model.Backward(dOutput, dInput);

        var pooled = new float[batch * 3];
        var argmax = new int[batch * 3];
        SequencePoolingKernels.MaxForward(input, pooled, argmax, lengths, batch, seq, 3);
        var dPooled = new float[pooled.Length];
        DenseKernels.Backward(default(IdentityActivation), dOutput, default, default, pooled, model.Out.Parameter("weight"), default, new float[6], new float[2], dPooled, batch, 3, 2);
        var expected = new float[input.Length];
        SequencePoolingKernels.MaxBackward(dPooled, argmax, expected, batch, seq, 3);
        Assert.Equal(expected, dInput);
        Assert.Equal(0f, dInput[(1 * seq + 3) * 3]);
    }

    /// <summary>Feeding a sequence one step at a time through the state overload equals running it whole.</summary>
    [Fact]
    public void Forward_StepByStepWithState_EqualsTheWholeSequence()
    {
        var model = new StepTagger(2);
        const int batch = 2, seq = 6;
        var ids = RandomIds(batch * seq, 13, 4);
        var whole = new float[batch * seq * StepTagger.OutputSize];
        model.Forward(ids, whole, batch, seq);

        Assert.Equal(2 * 2 * 7 + 6, StepTagger.StateSize);   // LSTM (h, c) x 2 layers, GRU h
        var state = new float[batch * StepTagger.StateSize];
        var step = new int[batch];
        var stepOutput = new float[batch * StepTagger.OutputSize];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++) step[b] = ids[b * seq + t];
            model.Forward(step, stepOutput, batch, 1, default, state);
            for (int b = 0; b < batch; b++)
                for (int k = 0; k < StepTagger.OutputSize; k++)
                {
                    float expected = whole[(b * seq + t) * StepTagger.OutputSize + k], actual = stepOutput[b * StepTagger.OutputSize + k];
                    Assert.True(Math.Abs(expected - actual) <= 1e-5f * (1 + Math.Abs(expected)), $"step {t}, example {b}, output {k}: whole {expected}, stepped {actual}");
                }
        }
        var wrong = Assert.Throws<ArgumentException>(() => model.Forward(step, stepOutput, batch, 1, default, new float[3]));
        Assert.Contains("'state' has 3 floats", wrong.Message);
    }

    /// <summary>Stepping allocates nothing per step.</summary>
    [Fact]
    public void Forward_Stepping_AllocatesNothing()
    {
        var model = new StepTagger(2);
        var state = new float[StepTagger.StateSize];
        var output = new float[StepTagger.OutputSize];
        int[] token = { 3 };
        AllocationAssert.SteadyStateAllocatesNothing(() => model.Forward(token, output, 1, 1, default, state), callsPerWindow: 20, warmUpCalls: 3);
    }

    /// <summary>A bidirectional final state with lengths equals each example run alone at its real length.</summary>
    [Fact]
    public void Forward_BidirectionalFinalState_EqualsEachExampleAlone()
    {
        var model = new BiLstmClassifier(6);
        int[] lengths = { 2, 5, 4 };
        const int seq = 5;
        var input = ModelTestData.RandomArray(3 * seq * 3, 16);
        var output = new float[3 * 2];
        model.Forward(input, output, 3, seq, lengths);
        for (int b = 0; b < 3; b++)
        {
            var alone = new float[2];
            model.Forward(input.AsSpan(b * seq * 3, lengths[b] * 3), alone, 1, lengths[b]);
            for (int k = 0; k < 2; k++)
                Assert.True(Math.Abs(alone[k] - output[b * 2 + k]) <= 1e-6f * (1 + Math.Abs(alone[k])), $"example {b}: alone {alone[k]}, batched {output[b * 2 + k]}");
        }
    }

    /// <summary>Each embedding reads its own id column; the concatenation joins them per position.</summary>
    [Fact]
    public void Forward_IdColumns_EachEmbeddingReadsItsColumn()
    {
        var model = new FeatureTagger(3);
        const int rows = 5;
        var ids = RandomIds(rows * 3, 5, 8);
        var features = new float[rows * 9];
        var word = new float[rows * 4];
        var suffix = new float[rows * 3];
        var shape = new float[rows * 2];
        var column = new int[rows];
        for (int k = 0; k < 3; k++)
        {
            for (int r = 0; r < rows; r++) column[r] = ids[r * 3 + k];
            var (layer, table, dim) = k switch { 0 => (model.Word, word, 4), 1 => (model.Suffix, suffix, 3), _ => (model.Shape, shape, 2) };
            EmbeddingKernels.Forward(column, layer.Parameter("weight"), table, layer.Parameter("weight").Length / dim, dim);
        }
        for (int r = 0; r < rows; r++)
        {
            word.AsSpan(r * 4, 4).CopyTo(features.AsSpan(r * 9));
            suffix.AsSpan(r * 3, 3).CopyTo(features.AsSpan(r * 9 + 4));
            shape.AsSpan(r * 2, 2).CopyTo(features.AsSpan(r * 9 + 7));
        }
        var expected = new float[rows * 10];
        var rnn = new RecurrentGeometry(RecurrentCell.Gru, 9, 5, 1, true, true);
        var workspace = new float[rnn.WorkspaceLength(1, rows)];
        RecurrentKernels.Forward(rnn, features, model.Parameters.Slice(model.Rnn.Parameters[0].Offset, rnn.ParameterCount), expected, default, workspace, 1, rows);
        var logits = new float[rows * 3];
        DenseKernels.Forward(default(IdentityActivation), expected, model.Out.Parameter("weight"), model.Out.Parameter("bias"), logits, default, rows, 10, 3);

        var output = new float[rows * 3];
        model.Forward(ids, output, 1, rows);
        Assert.Equal(logits, output);
    }

    /// <summary>The sinusoidal encoding is added as in "Attention Is All You Need"; sequences past the table are refused.</summary>
    [Fact]
    public void Forward_SinusoidalPositions_AddTheFixedEncoding()
    {
        var model = new SinePositionNet(1);
        model.Out.Parameter("weight").Clear();
        model.Out.Parameter("weight")[1] = 1;   // out[0] = x[1]
        model.Out.Parameter("bias").Clear();
        const int seq = 7;
        var input = new float[seq * 4];
        var output = new float[seq * 2];
        model.Forward(input, output, 1, seq);
        for (int t = 0; t < seq; t++)
            Assert.Equal((float)Math.Cos(t), output[t * 2], 6);   // PE(t, 1) = cos(t / 10000^0)
        var tooLong = Assert.Throws<ArgumentException>(() => model.Forward(new float[11 * 4], new float[11 * 2], 1, 11));
        Assert.Contains("pos has 10 positions but the sequence has 11", tooLong.Message);
    }

    /// <summary>A learned table adds row t to position t of every example.</summary>
    [Fact]
    public void Forward_LearnedPositions_AddRowTToPositionT()
    {
        var model = new PositionTagger(4);
        model.Tok.Parameter("weight").Clear();
        var table = model.Pos.Parameter("weight");
        var ids = new[] { 1, 2, 3, 4, 5, 6 };
        var output = new float[2 * 3 * 3];
        model.Forward(ids, output, 2, 3);
        // With zero token vectors both examples see only the positions: equal outputs.
        Assert.Equal(output.AsSpan(0, 9).ToArray(), output.AsSpan(9, 9).ToArray());
        table.Slice(6, 6).Fill(0.5f);   // change position 1
        var changed = new float[output.Length];
        model.Forward(ids, changed, 2, 3);
        Assert.Equal(output.AsSpan(0, 3).ToArray(), changed.AsSpan(0, 3).ToArray());
        Assert.NotEqual(output.AsSpan(3, 3).ToArray(), changed.AsSpan(3, 3).ToArray());
    }

    /// <summary>The generator's names and shapes for a recurrent stack are the ones the kernel's geometry lays out.</summary>
    [Fact]
    public void ParameterInfos_Recurrent_MatchTheKernelGeometry()
    {
        var model = new StepTagger(1);
        var geometry = new RecurrentGeometry(RecurrentCell.Lstm, 5, 7, 2, false, true);
        var lstm = model.ParameterInfos.Where(p => p.Name.StartsWith("lstm.")).ToList();
        Assert.Equal(geometry.ParameterTensors().Select(t => "lstm." + t.Suffix), lstm.Select(p => p.Name));
        Assert.Equal(geometry.ParameterTensors().Select(t => string.Join(",", t.Shape)), lstm.Select(p => string.Join(",", p.Shape)));
        Assert.Equal(geometry.ParameterCount, lstm.Sum(p => p.Length));
    }

    /// <summary>Incremental decoding with the key/value cache equals the full forward, position by position.</summary>
    [Fact]
    public void ForwardStep_WithCache_EqualsTheFullForward()
    {
        var model = new TinyGpt(3);
        const int batch = 2, seq = 8;
        var ids = RandomIds(batch * seq, 11, 9);
        var whole = new float[batch * seq * TinyGpt.OutputSize];
        model.Forward(ids, whole, batch, seq);
        var cache = new float[batch * TinyGpt.CacheSize];
        var step = new int[batch];
        var logits = new float[batch * TinyGpt.OutputSize];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++) step[b] = ids[b * seq + t];
            model.ForwardStep(step, logits, batch, t, cache);
            for (int b = 0; b < batch; b++)
                for (int k = 0; k < TinyGpt.OutputSize; k++)
                {
                    float expected = whole[(b * seq + t) * TinyGpt.OutputSize + k], actual = logits[b * TinyGpt.OutputSize + k];
                    Assert.True(Math.Abs(expected - actual) <= 1e-5f * (1 + Math.Abs(expected)), $"position {t}, example {b}, logit {k}: full {expected}, cached {actual}");
                }
        }
        Assert.Throws<ArgumentException>(() => model.ForwardStep(step, logits, batch, seq, cache));   // past MaxLength
    }

    /// <summary>
    /// With rotary embeddings and no position table, the cached step (keys cached already rotated) equals the full forward;
    /// the table adds no parameters (nothing to save) and RoPE really changes the outputs.
    /// </summary>
    [Fact]
    public void ForwardStep_Rotary_EqualsTheFullForward()
    {
        var model = new RopeGpt(3);
        const int batch = 2, seq = 8;
        var ids = RandomIds(batch * seq, 11, 9);
        var whole = new float[batch * seq * RopeGpt.OutputSize];
        model.Forward(ids, whole, batch, seq, new[] { 8, 5 });
        var cache = new float[batch * RopeGpt.CacheSize];
        var step = new int[batch];
        var logits = new float[batch * RopeGpt.OutputSize];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++) step[b] = ids[b * seq + t];
            model.ForwardStep(step, logits, batch, t, cache);
            for (int b = 0; b < batch; b++)
                for (int k = 0; k < RopeGpt.OutputSize; k++)
                {
                    if (b == 1 && t >= 5) continue;   // padded positions of the full forward are "whatever"
                    float expected = whole[(b * seq + t) * RopeGpt.OutputSize + k], actual = logits[b * RopeGpt.OutputSize + k];
                    Assert.True(Math.Abs(expected - actual) <= 1e-5f * (1 + Math.Abs(expected)), $"position {t}, example {b}, logit {k}: full {expected}, cached {actual}");
                }
        }
        Assert.Throws<ArgumentException>(() => model.ForwardStep(step, logits, batch, seq, cache));   // past MaxLength
        var geometry = new TransformerGeometry(8, 2, 10, 2, true, true, FeedForwardActivation.Gelu);
        var blocks = model.ParameterInfos.Where(p => p.Name.StartsWith("blocks.")).ToList();
        Assert.Equal(geometry.ParameterCount, blocks.Sum(p => p.Length));
        Assert.Equal(RopeGpt.ParameterCount, 11 * 8 + geometry.ParameterCount + 2 * 8 + 11 * 8 + 11);   // tok, blocks, ln_f, head: no table

        // The same weights without RoPE (the kernels directly) give different block outputs: the rotation is not a no-op.
        var x = ModelTestData.RandomArray(seq * 8, 4, 1);
        var p = model.Parameters.Slice(blocks[0].Offset, geometry.ParameterCount).ToArray();
        float[] withRope = new float[x.Length], without = new float[x.Length];
        var rope = new TransformerGeometry(8, 2, 10, 2, true, true, FeedForwardActivation.Gelu, rotary: new RotaryTable(4, RopeGpt.MaxLength));
        TransformerKernels.Forward(rope, x, p, withRope, default, new float[rope.WorkspaceLength(1, seq)], 1, seq);
        TransformerKernels.Forward(geometry, x, p, without, default, new float[geometry.WorkspaceLength(1, seq)], 1, seq);
        Assert.NotEqual(without, withRope);
    }

    /// <summary>Incremental decoding allocates nothing per token.</summary>
    [Fact]
    public void ForwardStep_AllocatesNothing()
    {
        var model = new TinyGpt(3);
        var cache = new float[TinyGpt.CacheSize];
        var logits = new float[TinyGpt.OutputSize];
        int[] token = { 4 };
        for (int t = 0; t < 3; t++) model.ForwardStep(token, logits, 1, t, cache);
        // One call decodes a whole sequence, positions 0..7 (MaxLength 8), so each window is 8 tokens.
        AllocationAssert.SteadyStateAllocatesNothing(() =>
        {
            for (int t = 0; t < 8; t++) model.ForwardStep(token, logits, 1, t, cache);
        }, callsPerWindow: 1, "ForwardStep over positions 0..7", warmUpCalls: 0);
    }

    /// <summary>The generator's names and shapes for a Transformer stack are the ones the kernel's geometry lays out.</summary>
    [Fact]
    public void ParameterInfos_Transformer_MatchTheKernelGeometry()
    {
        var model = new TinyGpt(1);
        var geometry = new TransformerGeometry(6, 2, 10, 2, true, true, FeedForwardActivation.Gelu);
        var blocks = model.ParameterInfos.Where(p => p.Name.StartsWith("blocks.")).ToList();
        Assert.Equal(geometry.ParameterTensors().Select(t => "blocks." + t.Name), blocks.Select(p => p.Name));
        Assert.Equal(geometry.ParameterTensors().Select(t => string.Join(",", t.Shape)), blocks.Select(p => string.Join(",", p.Shape)));
        Assert.Equal(2 * 2 * 8 * 6, TinyGpt.CacheSize);
        Assert.Equal(TinyGpt.CacheSize, geometry.CacheLength(1, TinyGpt.MaxLength));
    }

    [Fact]
    public void Calls_InSteadyState_AllocateNothing()
    {
        var model = new TokenAvgClassifier(1);
        const int batch = 4, seq = 9;
        var ids = RandomIds(batch * seq, 9, 2);
        int[] lengths = { 9, 3, 5, 1 };
        var output = new float[batch * TokenAvgClassifier.OutputSize];
        var dOutput = ModelTestData.RandomArray(output.Length, 3);
        void Step()
        {
            model.Forward(ids, output, batch, seq, lengths);
            model.ForwardTrain(ids, output, batch, seq, lengths);
            model.Backward(dOutput, default);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 10, "Forward + ForwardTrain + Backward", warmUpCalls: 2);
    }

    [Fact]
    public void Forward_BadArguments_NameWhatIsWrong()
    {
        var model = new TokenMlpTagger(1);
        var output = new float[2 * 3 * 3];
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(new[] { 1, 2, 3, 4, 11, 0 }, output, 2, 3));
        Assert.Contains("11", bad.Message);
        var length = Assert.Throws<ArgumentException>(() => model.Forward(new int[6], output, 2, 3, new[] { 3, 4 }));
        Assert.Contains("lengths[1] is 4", length.Message);
        var shape = Assert.Throws<ArgumentException>(() => model.Forward(new int[5], output, 2, 3));
        Assert.Contains("expected batch 2 × seq 3 × 1 = 6", shape.Message);
        var tooLong = Assert.Throws<ArgumentException>(() => model.Forward(new int[41], new float[41 * 3], 1, 41));
        Assert.Contains("exceeds the model's MaxLength 40", tooLong.Message);
        var huge = Assert.Throws<ArgumentException>(() => new TokenAvgClassifier().Forward(default, default, 1 << 20, 1 << 12));
        Assert.Contains("more than one call supports", huge.Message);
        model.ForwardTrain(new int[6], output, 2, 3);
        var dInput = Assert.Throws<ArgumentException>(() => model.Backward(output, new float[6]));
        Assert.Contains("token ids, which have no gradient", dInput.Message);
    }
}
