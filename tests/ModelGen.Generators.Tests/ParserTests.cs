using ModelGen.Generators.Parsing;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Shapes;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests;

/// <summary>Symbols → specs, including declarations the generator must reject without crashing.</summary>
public class ParserTests
{
    [Theory]
    [InlineData("Fc1", "fc1")]
    [InlineData("C1", "c1")]
    [InlineData("HiddenLayer", "hidden_layer")]
    [InlineData("Conv2D", "conv2d")]
    [InlineData("HTMLBlock", "html_block")]
    [InlineData("logits", "logits")]
    public void ToWeightName_MemberName_IsPyTorchStyle(string member, string expected) =>
        Assert.Equal(expected, ModelParser.ToWeightName(member));

    private static ModelPlan PlanOf(string source)
    {
        var (_, result) = GeneratorRunner.Run(source);
        var step = result.Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Plan].Single();
        return (ModelPlan)step.Outputs.Single().Value;
    }

    [Fact]
    public void Parse_Mlp_ReadsEveryArgument()
    {
        var plan = PlanOf(Samples.Activations);
        Assert.True(plan.IsValid);
        Assert.Equal("Zoo.Everything", plan.Spec.HintName);
        Assert.Equal(new[] { "partial class Zoo" }, plan.Spec.ContainingTypes);
        Assert.Equal("public", plan.Spec.Members[0].Modifiers);
        Assert.Equal(new[] { "hidden1", "leaky", "hidden2", "gelu", "silu", "sig", "th", "relu", "head" }, plan.Spec.Members.Select(m => m.Layer!.Name));
        Assert.Equal(new Model.DenseSpec("hidden1", 33, Model.ActivationKind.None, false, Model.InitKind.XavierUniform), plan.Spec.Members[0].Layer);
        Assert.Equal(new Model.ActivationSpec("leaky", Model.ActivationKind.LeakyReLU, 0.2), plan.Spec.Members[1].Layer);
        Assert.Equal(Model.ActivationKind.GELUTanh, ((Model.ActivationSpec)plan.Spec.Members[3].Layer!).Activation);
    }

    [Theory]
    [InlineData("", -1.0, "0.25f, _dropoutRng")]
    [InlineData(", FeedForwardDropout = 0", 0.0, "0.25f, 0f, _dropoutRng")]
    [InlineData(", FeedForwardDropout = 0.25", 0.25, "0.25f, _dropoutRng")]
    [InlineData(", FeedForwardDropout = 0.5", 0.5, "0.25f, 0.5f, _dropoutRng")]
    public void Parse_TransformerFeedForwardDropout_ReachesTheTrainingForward(string argument, double parsed, string callTail)
    {
        string source = $$"""
            using ModelGen;
            namespace Demo;
            [Model(Dim.Seq, InputType = typeof(int), MaxLength = 16)]
            public partial class Lm
            {
                [Embedding(10, 8)] public partial Layer Tok { get; }
                [TransformerEncoder(Heads = 2, FeedForward = 16, NormFirst = true, Causal = true, Dropout = 0.25, AttentionDropout = 0{{argument}})] public partial Layer Blocks { get; }
                [Dense(10)] public partial Layer Head { get; }
            }
            """;
        var plan = PlanOf(source);
        Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Message)));
        Assert.Equal(parsed, ((Model.TransformerSpec)plan.Spec.Members[1].Layer!).FeedForwardDropout);
        var (output, result) = GeneratorRunner.Run(source);
        Assert.Empty(GeneratorRunner.Errors(output));
        string forward = result.GeneratedTrees.Single(t => t.FilePath.EndsWith("Lm.Forward.g.cs", StringComparison.Ordinal)).ToString();
        string call = forward.Split('\n').Single(l => l.Contains("TransformerKernels.TrainForward(", StringComparison.Ordinal)).TrimEnd();
        Assert.EndsWith(callTail + ");", call);
    }

    /// <summary>
    /// AttentionDropout defaults to Dropout (PyTorch passes dropout to self_attn): the training forward draws a seed and takes the
    /// overload with all three probabilities, backward gets the same seed; AttentionDropout = 0 keeps the calls of before.
    /// </summary>
    [Theory]
    [InlineData("", -1.0, "0.25f, 0.25f, 0.25f, _blocksAttentionSeed, _dropoutRng", "seq, 0.25f, _blocksAttentionSeed")]
    [InlineData(", AttentionDropout = 0", 0.0, "0.25f, _dropoutRng", "seq")]
    [InlineData(", AttentionDropout = 0.5, FeedForwardDropout = 0", 0.5, "0.25f, 0f, 0.5f, _blocksAttentionSeed, _dropoutRng", "seq, 0.5f, _blocksAttentionSeed")]
    public void Parse_TransformerAttentionDropout_ReachesTrainingForwardAndBackward(string argument, double parsed, string forwardTail, string backwardTail)
    {
        string source = $$"""
            using ModelGen;
            namespace Demo;
            [Model(Dim.Seq, InputType = typeof(int), MaxLength = 16)]
            public partial class Lm
            {
                [Embedding(10, 8)] public partial Layer Tok { get; }
                [TransformerEncoder(Heads = 2, FeedForward = 16, NormFirst = true, Causal = true, Dropout = 0.25{{argument}})] public partial Layer Blocks { get; }
                [MultiHeadAttention(2, Causal = true, Dropout = 0.125)] public partial Layer Attn { get; }
                [Dense(10)] public partial Layer Head { get; }
            }
            """;
        var plan = PlanOf(source);
        Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Message)));
        Assert.Equal(parsed, ((Model.TransformerSpec)plan.Spec.Members[1].Layer!).AttentionDropout);
        Assert.Equal(0.125, ((Model.AttentionSpec)plan.Spec.Members[2].Layer!).Dropout);
        var (output, result) = GeneratorRunner.Run(source);
        Assert.Empty(GeneratorRunner.Errors(output));
        string Generated(string suffix) => result.GeneratedTrees.Single(t => t.FilePath.EndsWith(suffix, StringComparison.Ordinal)).ToString();
        string forward = Generated("Lm.Forward.g.cs"), backward = Generated("Lm.Backward.g.cs");
        string[] lines = forward.Split('\n');
        int call = Array.FindIndex(lines, l => l.Contains("TransformerKernels.TrainForward(", StringComparison.Ordinal));
        Assert.EndsWith(forwardTail + ");", lines[call].TrimEnd());
        Assert.Equal(parsed != 0, lines[call - 1].Contains("_blocksAttentionSeed = _dropoutRng.NextUInt64();", StringComparison.Ordinal));
        string stepArgs = backward.Split('\n').SkipWhile(l => !l.Contains("TransformerKernels.Backward(", StringComparison.Ordinal)).Skip(1).First().TrimEnd();
        Assert.EndsWith(backwardTail + ");", stepArgs);
        // The layer comments name an attention dropout that differs from Dropout, and a lone attention layer's dropout.
        Assert.Equal(parsed is not (-1.0 or 0.25), forward.Contains($"dropout 0.25, attention dropout {parsed.ToString(System.Globalization.CultureInfo.InvariantCulture)} ->", StringComparison.Ordinal));
        Assert.Contains("2 heads, self, causal, dropout 0.125 ->", forward);
        // The lone attention layer: its own seed, drawn per training forward, handed to backward.
        Assert.Contains("_attnAttentionSeed = _dropoutRng.NextUInt64();", forward);
        Assert.Contains("batch, seq, 0.125f, _attnAttentionSeed);", forward);
        Assert.Contains("batch, seq, 0.125f, _attnAttentionSeed);", backward);
    }

    [Theory]
    [InlineData("[Dense(4)] public Layer Fc { get; }", ProblemIds.LayerMemberNotPartialProperty)]
    [InlineData("[Dense(4)] public partial int Fc { get; }", ProblemIds.LayerMemberWrongType)]
    [InlineData("[Dense(4)] [ReLU] public partial Layer Fc { get; }", ProblemIds.MultipleLayerAttributes)]
    [InlineData("[Dense(4)] public partial Layer Fc { get; set; }", ProblemIds.LayerMemberNotPartialProperty)]
    [InlineData("[Dense(4)] public static partial Layer Fc { get; }", ProblemIds.LayerMemberNotPartialProperty)]
    [InlineData("[Dense(\"four\")] public partial Layer Fc { get; }", ProblemIds.CompilerReported)]
    [InlineData("[Dense(4)] public partial Layer A { get; } [Add(null, nameof(A))] public partial Layer Fc { get; }", ProblemIds.UnboundAttribute)]
    [InlineData("[Permute(null)] public partial Layer Fc { get; }", ProblemIds.UnboundAttribute)]
    public void Parse_BadMember_RecordsProblem(string member, string id)
    {
        var plan = PlanOf($$"""
            using ModelGen;
            [Model(4)]
            public partial class M
            {
                {{member}}
            }
            """);
        Assert.Contains(plan.Shapes.Problems, p => p.Id == id);
    }

    [Fact]
    public void Parse_InputShapeNotConstant_RecordsProblem()
    {
        var plan = PlanOf("""
            using ModelGen;
            [Model(Size)]
            public partial class M
            {
                static int Size = 3;
                [Dense(4)] public partial Layer Fc { get; }
            }
            """);
        Assert.False(plan.IsValid);
    }
}
