using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests;

/// <summary>The generated source for representative models matches the reviewed baselines (see Infrastructure/Snapshots.cs).</summary>
public class SnapshotTests
{
    [Theory]
    [InlineData(nameof(Samples.Mlp), Samples.Mlp)]
    [InlineData(nameof(Samples.Activations), Samples.Activations)]
    [InlineData(nameof(Samples.SoftmaxHead), Samples.SoftmaxHead)]
    [InlineData(nameof(Samples.MissingFlatten), Samples.MissingFlatten)]
    [InlineData(nameof(Samples.Residual), Samples.Residual)]
    [InlineData(nameof(Samples.LeNet), Samples.LeNet)]
    [InlineData(nameof(Samples.ConvAxes), Samples.ConvAxes)]
    [InlineData(nameof(Samples.ResidualMlp), Samples.ResidualMlp)]
    [InlineData(nameof(Samples.Tagger), Samples.Tagger)]
    [InlineData(nameof(Samples.ConvTagger), Samples.ConvTagger)]
    [InlineData(nameof(Samples.StackedRecurrent), Samples.StackedRecurrent)]
    [InlineData(nameof(Samples.CharGpt), Samples.CharGpt)]
    [InlineData(nameof(Samples.CrossAttention), Samples.CrossAttention)]
    [InlineData(nameof(Samples.RopeGpt), Samples.RopeGpt)]
    [InlineData(nameof(Samples.GenericBlocks), Samples.GenericBlocks)]
    [InlineData(nameof(Samples.EncoderDecoder), Samples.EncoderDecoder)]
    [InlineData(nameof(Samples.NormLayers), Samples.NormLayers)]
    [InlineData(nameof(Samples.TwoInputSeq2Seq), Samples.TwoInputSeq2Seq)]
    [InlineData(nameof(Samples.FloatSourceSeq2Seq), Samples.FloatSourceSeq2Seq)]
    [InlineData(nameof(Samples.Seq2SeqDecoding), Samples.Seq2SeqDecoding)]
    public void Generate_RepresentativeModel_MatchesBaseline(string scenario, string source)
    {
        var (_, result) = GeneratorRunner.Run(source);
        var files = result.Results.Single().GeneratedSources.Where(s => scenario != nameof(Samples.Residual) || s.HintName.Contains("TinyResNet"))
            .ToDictionary(s => s.HintName, s => s.SourceText.ToString());
        Snapshots.Verify(scenario, files);
    }

    [Theory]
    [InlineData(Samples.Mlp)]
    [InlineData(Samples.Activations)]
    [InlineData(Samples.SoftmaxHead)]
    [InlineData(Samples.MissingFlatten)]
    [InlineData(Samples.Residual)]
    [InlineData(Samples.LeNet)]
    [InlineData(Samples.ConvAxes)]
    [InlineData(Samples.ResidualMlp)]
    [InlineData(Samples.Tagger)]
    [InlineData(Samples.ConvTagger)]
    [InlineData(Samples.StackedRecurrent)]
    [InlineData(Samples.CharGpt)]
    [InlineData(Samples.CrossAttention)]
    [InlineData(Samples.RopeGpt)]
    [InlineData(Samples.GenericBlocks)]
    [InlineData(Samples.EncoderDecoder)]
    [InlineData(Samples.NormLayers)]
    [InlineData(Samples.TwoInputSeq2Seq)]
    [InlineData(Samples.FloatSourceSeq2Seq)]
    [InlineData(Samples.Seq2SeqDecoding)]
    public void Generate_RepresentativeModel_CompilesWithoutErrors(string source)
    {
        var (output, result) = GeneratorRunner.Run(source);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorRunner.Errors(output));
    }

    [Theory]
    [InlineData(Samples.Mlp)]
    [InlineData(Samples.Activations)]
    [InlineData(Samples.SoftmaxHead)]
    [InlineData(Samples.Residual)]
    [InlineData(Samples.LeNet)]
    [InlineData(Samples.ConvAxes)]
    [InlineData(Samples.ResidualMlp)]
    [InlineData(Samples.Tagger)]
    [InlineData(Samples.ConvTagger)]
    [InlineData(Samples.StackedRecurrent)]
    [InlineData(Samples.CharGpt)]
    [InlineData(Samples.CrossAttention)]
    [InlineData(Samples.GenericBlocks)]
    [InlineData(Samples.EncoderDecoder)]
    [InlineData(Samples.NormLayers)]
    [InlineData(Samples.TwoInputSeq2Seq)]
    [InlineData(Samples.FloatSourceSeq2Seq)]
    [InlineData(Samples.Seq2SeqDecoding)]
    public void Generate_ValidSample_HasNoProblemsAndFullCode(string source)
    {
        var (_, result) = GeneratorRunner.Run(source);
        var plans = result.Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Plan].SelectMany(s => s.Outputs).Select(o => (Planning.ModelPlan)o.Value);
        Assert.All(plans, plan => Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Id + ": " + p.Message))));
        Assert.DoesNotContain(result.Results.Single().GeneratedSources, s => s.SourceText.ToString().Contains("generated no code"));
    }

    [Fact]
    public void Generate_InvalidModel_EmitsStubsThatNameTheProblem()
    {
        var (_, result) = GeneratorRunner.Run(Samples.MissingFlatten);
        var source = Assert.Single(result.Results.Single().GeneratedSources).SourceText.ToString();
        Assert.Contains("throw new global::System.InvalidOperationException(\"MG0101: Dense 'fc1' expects a flat input but receives [16, 5, 5] from the model input; add [Flatten] before it.", source);
        Assert.Contains("partial global::ModelGen.Layer Fc2", source);
    }

    [Fact]
    public void Generate_ClassNotPartial_EmitsNothing()
    {
        var (_, result) = GeneratorRunner.Run("""
            using ModelGen;
            [Model(4)]
            public class NotPartial
            {
                [Dense(2)] public Layer Fc => null!;
            }
            """);
        Assert.Empty(result.Results.Single().GeneratedSources);
    }
}
