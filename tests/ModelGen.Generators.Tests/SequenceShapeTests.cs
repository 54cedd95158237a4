using ModelGen.Generators.Common;
using ModelGen.Generators.Emitting;
using ModelGen.Generators.Model;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Shapes;

namespace ModelGen.Generators.Tests;

/// <summary>The run-time sequence dimension T in the shape core: symbolic shapes, per-position lengths, PyTorch names, errors.</summary>
public class SequenceShapeTests
{
    private const int T = ModelSpec.Seq;

    private static ModelSpec Spec(int[] input, bool tokens, params LayerSpec[] layers) =>
        new("Demo", "M", "Demo.M", EquatableArray<string>.Empty, input.ToEquatableArray(),
            layers.Select(l => new MemberSpec(l.Name, "public", "global::ModelGen.Layer", true, l)).ToEquatableArray(),
            EquatableArray<ModelProblem>.Empty, tokens);

    private static RecurrentSpec Lstm(string name, int hidden, int layers = 1, bool bidirectional = false, bool returnSequences = true) =>
        new(name, false, hidden, layers, bidirectional, returnSequences, 0);

    [Fact]
    public void Infer_Tagger_ShowsTSymbolicallyWithPerPositionLengths()
    {
        var spec = Spec(new[] { T }, tokens: true,
            new EmbeddingSpec("emb", 20000, 100, 0), new DropoutSpec("drop", 0.25), Lstm("lstm", 128, bidirectional: true),
            new DenseSpec("tags", 104, ActivationKind.None, true, InitKind.Default));
        var plan = Planner.Plan(spec);

        Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Message)));
        Assert.Equal("[T, 256]", ShapeInference.Format(plan.Shapes.Layers[2].Output));
        Assert.Equal(104, plan.Final.OutputLength);   // per position
        Assert.True(plan.Final.OutputIsSequence);
        Assert.True(plan.TokenInput);
        Assert.Equal(1, plan.InputLength);
        Assert.Equal(new[] { "emb.weight" }, plan.Shapes.Layers[0].Params.Select(p => p.Name));
        Assert.Equal(new[] { 104, 256 }, plan.Shapes.Layers[3].Params[0].Shape);
        string summary = ModelEmitter.SummaryTable(plan);
        Assert.Contains("M: [T] -> [T, 104]", summary);
        Assert.Contains("[T, 256]", summary);
    }

    [Fact]
    public void Infer_StackedBidirectionalLstm_HasPyTorchStateDictNamesAndShapes()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { T, 5 }, tokens: false, Lstm("lstm", 7, layers: 2, bidirectional: true)));
        Assert.True(shapes.IsValid);
        var ps = shapes.Layers[0].Params;
        Assert.Equal(new[]
        {
            "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
            "lstm.weight_ih_l0_reverse", "lstm.weight_hh_l0_reverse", "lstm.bias_ih_l0_reverse", "lstm.bias_hh_l0_reverse",
            "lstm.weight_ih_l1", "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1",
            "lstm.weight_ih_l1_reverse", "lstm.weight_hh_l1_reverse", "lstm.bias_ih_l1_reverse", "lstm.bias_hh_l1_reverse",
        }, ps.Select(p => p.Name));
        Assert.Equal(new[] { 28, 5 }, ps[0].Shape);     // [4H, in]
        Assert.Equal(new[] { 28, 7 }, ps[1].Shape);     // [4H, H]
        Assert.Equal(new[] { 28, 14 }, ps[8].Shape);    // layer 1 reads both directions
        Assert.Equal("[T, 14]", ShapeInference.Format(shapes.Layers[0].Output));
    }

    [Fact]
    public void Infer_GruFinalStateAndTimePooling_DropT()
    {
        var gru = ShapeInference.Infer(Spec(new[] { T, 5 }, false, new RecurrentSpec("gru", true, 6, 1, true, false, 0)));
        Assert.Equal(new[] { 12 }, gru.Layers[0].Output);
        Assert.Equal(new[] { 18, 5 }, gru.Layers[0].Params[0].Shape);   // [3H, in]
        var pooled = ShapeInference.Infer(Spec(new[] { T, 5 }, false, new GlobalPoolSpec("pool", true), new DenseSpec("out", 2, ActivationKind.None, true, InitKind.Default)));
        Assert.Equal(new[] { 5 }, pooled.Layers[0].Output);
        Assert.Equal(new[] { 2 }, pooled.Layers[1].Output);
    }

    [Fact]
    public void Infer_LayerNormOnSequence_NormalisesTheLastAxis()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { T, 9 }, false, new LayerNormSpec("norm", 1e-5, true)));
        Assert.Equal(new[] { "norm.weight", "norm.bias" }, shapes.Layers[0].Params.Select(p => p.Name));
        Assert.Equal(new[] { 9 }, shapes.Layers[0].Params[0].Shape);
    }

    [Theory]
    [InlineData(new[] { 4, T }, ProblemIds.InvalidInputShape, "Model 'M' has input shape [4, T]; only the first dimension may be Dim.Seq (sequence tensors are [T, features])")]
    [InlineData(new[] { T, 4, 2 }, ProblemIds.ExpectsTokenIds, "Model 'M' takes token ids, so its input shape is [Dim.Seq] (T ids per example) or [Dim.Seq, ids per position], not [T, 4, 2]")]
    public void Infer_BadSequenceInputs_AreReported(int[] input, string id, string message)
    {
        var shapes = ShapeInference.Infer(Spec(input, tokens: true, new EmbeddingSpec("emb", 10, 4, -1)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(id, problem.Id);
        Assert.Equal(message, problem.Message);
    }

    [Fact]
    public void Infer_ShapeErrorIndependentOfT_IsStillCaught()
    {
        // Dense per position on [T, 3, 4]: wrong whatever T is.
        var shapes = ShapeInference.Infer(Spec(new[] { T, 3, 4 }, false, new DenseSpec("fc", 2, ActivationKind.None, true, InitKind.Default)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.ExpectsFlatInput, problem.Id);
        Assert.Equal("Dense 'fc' expects [T, features] (applied per position) but receives [T, 3, 4] from the model input", problem.Message);
    }

    [Theory]
    [InlineData(0, 8, 1, 0.0, "hidden")]
    [InlineData(8, 0, 1, 0.0, "Layers")]
    [InlineData(8, 1, 1, 1.0, "Dropout")]
    public void Infer_RecurrentHyperParameters_AreChecked(int hidden, int layers, int _, double dropout, string argument)
    {
        var shapes = ShapeInference.Infer(Spec(new[] { T, 4 }, false, new RecurrentSpec("rnn", false, hidden, layers, false, true, dropout)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.InvalidHyperParameter, problem.Id);
        Assert.Equal(argument, problem.Argument);
    }

    [Theory]
    [InlineData(0, 4, -1, "vocab")]
    [InlineData(10, 4, 10, "PaddingIdx")]
    public void Infer_EmbeddingHyperParameters_AreChecked(int vocab, int dim, int padding, string argument)
    {
        var shapes = ShapeInference.Infer(Spec(new[] { T }, true, new EmbeddingSpec("emb", vocab, dim, padding)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.InvalidHyperParameter, problem.Id);
        Assert.Equal(argument, problem.Argument);
    }

    [Fact]
    public void Infer_IdColumns_EmbeddingsConcatAlongFeatures()
    {
        var spec = new ModelSpec("Demo", "M", "Demo.M", EquatableArray<string>.Empty, new[] { T, 3 }.ToEquatableArray(),
            new[]
            {
                new MemberSpec("Word", "public", "global::ModelGen.Layer", true, new EmbeddingSpec("word", 100, 8, 0)),
                new MemberSpec("Suffix", "public", "global::ModelGen.Layer", true, new EmbeddingSpec("suffix", 50, 4, -1, 1), MemberSpec.InputName),
                new MemberSpec("Cat", "public", "global::ModelGen.Layer", true, new MergeSpec("cat", true, new[] { "Word", "Suffix" }.ToEquatableArray())),
            }.ToEquatableArray(), EquatableArray<ModelProblem>.Empty, true);
        var plan = Planner.Plan(spec);
        Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Message)));
        Assert.Equal("[T, 12]", ShapeInference.Format(plan.Final.Output));
        Assert.Equal(3, plan.InputLength);   // ids per position
    }

    [Fact]
    public void Infer_EmbeddingColumnOutsideTheIds_IsReported()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { T, 2 }, true, new EmbeddingSpec("emb", 10, 4, -1, 2)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.InvalidHyperParameter, problem.Id);
        Assert.Equal("Column", problem.Argument);
        Assert.Equal("Embedding 'emb' reads id column 2, but the input [T, 2] has 2 ids per position", problem.Message);
    }

    [Fact]
    public void Infer_TransformerStack_HasNnTransformerEncoderNamesAndShapes()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { T }, true, new EmbeddingSpec("tok", 96, 12, -1),
            new TransformerSpec("blocks", 3, 20, 2, true, true, 0.1, ActivationKind.GELU)));
        Assert.True(shapes.IsValid, string.Join("; ", shapes.Problems.Select(p => p.Message)));
        var ps = shapes.Layers[1].Params;
        Assert.Equal(24, ps.Count);
        Assert.Equal(new[]
        {
            "blocks.layers.0.self_attn.in_proj_weight", "blocks.layers.0.self_attn.in_proj_bias", "blocks.layers.0.self_attn.out_proj.weight",
            "blocks.layers.0.self_attn.out_proj.bias", "blocks.layers.0.linear1.weight", "blocks.layers.0.linear1.bias", "blocks.layers.0.linear2.weight",
            "blocks.layers.0.linear2.bias", "blocks.layers.0.norm1.weight", "blocks.layers.0.norm1.bias", "blocks.layers.0.norm2.weight", "blocks.layers.0.norm2.bias",
        }, ps.Take(12).Select(p => p.Name));
        Assert.Equal(new[] { 36, 12 }, ps[0].Shape);
        Assert.Equal(new[] { 20, 12 }, ps[4].Shape);
        Assert.Equal(new[] { 12, 20 }, ps[6].Shape);
        Assert.StartsWith("blocks.layers.1.", ps[12].Name);
        Assert.Equal("[T, 12]", ShapeInference.Format(shapes.Layers[1].Output));
    }

    [Theory]
    [InlineData(1.0, "1")]
    [InlineData(double.NaN, "NaN")]
    public void Infer_FeedForwardDropoutOutsideTheRange_IsReported(double feedForwardDropout, string shown)
    {
        var shapes = ShapeInference.Infer(Spec(new[] { T }, true, new EmbeddingSpec("tok", 96, 12, -1),
            new TransformerSpec("blocks", 3, 20, 1, true, true, 0.1, ActivationKind.ReLU, FeedForwardDropout: feedForwardDropout)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.InvalidHyperParameter, problem.Id);
        Assert.Equal("FeedForwardDropout", problem.Argument);
        Assert.Equal($"TransformerEncoder 'blocks' has FeedForwardDropout = {shown}; it must be in [0, 1), or negative for the same as Dropout", problem.Message);
    }

    [Theory]
    [InlineData(1.0, "1")]
    [InlineData(double.NaN, "NaN")]
    public void Infer_AttentionDropoutOutsideTheRange_IsReported(double attentionDropout, string shown)
    {
        var shapes = ShapeInference.Infer(Spec(new[] { T }, true, new EmbeddingSpec("tok", 96, 12, -1),
            new TransformerSpec("blocks", 3, 20, 1, true, true, 0.1, ActivationKind.ReLU, AttentionDropout: attentionDropout)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.InvalidHyperParameter, problem.Id);
        Assert.Equal("AttentionDropout", problem.Argument);
        Assert.Equal($"TransformerEncoder 'blocks' has AttentionDropout = {shown}; it must be in [0, 1), or negative for the same as Dropout", problem.Message);

        shapes = ShapeInference.Infer(Spec(new[] { T }, true, new EmbeddingSpec("tok", 96, 12, -1),
            new AttentionSpec("attn", 3, true, true, "", Dropout: attentionDropout)));
        problem = Assert.Single(shapes.Problems);
        Assert.Equal("Dropout", problem.Argument);
        Assert.Equal($"MultiHeadAttention 'attn' has Dropout = {shown}; it must be in [0, 1)", problem.Message);
        Assert.Equal("Dropout", Assert.Single(ShapeInference.Infer(Spec(new[] { T }, true, new EmbeddingSpec("tok", 96, 12, -1),
            new AttentionSpec("attn", 3, true, true, "", Dropout: -0.1))).Problems).Argument);   // no "same as" for a lone attention layer
    }

    [Theory]
    [InlineData(-1.0, 0.1)]
    [InlineData(-0.5, 0.1)]
    [InlineData(0.0, 0.0)]
    [InlineData(0.3, 0.3)]
    public void TransformerSpec_WeightDropout_ResolvesNegativeToDropout(double attentionDropout, double expected)
    {
        var spec = new TransformerSpec("blocks", 3, 20, 1, true, true, 0.1, ActivationKind.ReLU, AttentionDropout: attentionDropout);
        Assert.Equal(expected, spec.WeightDropout);
        Assert.Equal(expected, new DecoderSpec("dec", 3, 20, 1, true, true, 0.1, ActivationKind.ReLU, "enc", attentionDropout).WeightDropout);
        Assert.True(ShapeInference.Infer(Spec(new[] { T }, true, new EmbeddingSpec("tok", 96, 12, -1), spec)).IsValid);
    }

    [Theory]
    [InlineData(-1.0, 0.1)]
    [InlineData(-0.5, 0.1)]
    [InlineData(0.0, 0.0)]
    [InlineData(0.3, 0.3)]
    public void TransformerSpec_InnerDropout_ResolvesNegativeToDropout(double feedForwardDropout, double expected)
    {
        var spec = new TransformerSpec("blocks", 3, 20, 1, true, true, 0.1, ActivationKind.ReLU, FeedForwardDropout: feedForwardDropout);
        Assert.Equal(expected, spec.InnerDropout);
        Assert.True(ShapeInference.Infer(Spec(new[] { T }, true, new EmbeddingSpec("tok", 96, 12, -1), spec)).IsValid);
    }

    [Fact]
    public void Infer_HeadsNotDividingTheWidth_IsReported()
    {
        var shapes = ShapeInference.Infer(Spec(new[] { T }, true, new EmbeddingSpec("tok", 96, 100, -1),
            new TransformerSpec("blocks", 8, 256, 1, false, false, 0.1, ActivationKind.ReLU)));
        var problem = Assert.Single(shapes.Problems);
        Assert.Equal(ProblemIds.HeadsDoNotDivideWidth, problem.Id);
        Assert.Equal("Heads", problem.Argument);
        Assert.Equal("TransformerEncoder 'blocks' splits its width 100 (from 'tok') into 8 heads, which does not divide it; use a head count that divides 100", problem.Message);
    }
}
