using Microsoft.CodeAnalysis;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests;

/// <summary>Half-typed and garbled declarations must never make the generator throw (which users see as CS8785).</summary>
public class RobustnessTests
{
    public static IEnumerable<object[]> Sources() => new[] { Samples.Mlp, Samples.Activations, Samples.SoftmaxHead, Samples.Residual }.Select(s => new object[] { s });

    [Theory]
    [MemberData(nameof(Sources))]
    public void Generate_EveryTruncationAndDeletion_NeverThrows(string source)
    {
        var variants = new List<string>();
        for (int i = 0; i < source.Length; i += 3) variants.Add(source[..i]);                     // typed up to here
        var rng = new Random(1234);
        for (int i = 0; i < 150; i++)                                                            // a span deleted
        {
            int start = rng.Next(source.Length), length = rng.Next(1, 12);
            variants.Add(source.Remove(start, Math.Min(length, source.Length - start)));
        }
        for (int i = 0; i < 100; i++)                                                            // a character replaced
        {
            int at = rng.Next(source.Length);
            const string noise = "(){};,=\"0-x[]";
            variants.Add(source[..at] + noise[rng.Next(noise.Length)] + source[(at + 1)..]);
        }

        // One driver over successive edits, as in the IDE: also exercises the incremental caches.
        var driver = GeneratorRunner.CreateDriver();
        foreach (var variant in variants)
        {
            driver = driver.RunGenerators(GeneratorRunner.CreateCompilation(variant));
            var result = driver.GetRunResult();
            var failure = result.Results.Single().Exception;
            Assert.True(failure is null, $"Generator threw {failure} on:\n{variant}");
            Assert.DoesNotContain(result.Diagnostics, d => d.Id is "CS8785" or "AD0001");
        }
    }

    /// <summary>
    /// Sizes past what an array holds (issue 17: they used to overflow int inside the generator, which then threw and
    /// emitted nothing for any model of the project) are MG0112 on the layer; a valid model beside them is generated.
    /// </summary>
    [Fact]
    public void Generate_HugeModelsBesideAValidOne_ReportsThemAndGeneratesTheValidOne()
    {
        var (output, result) = GeneratorRunner.Run("""
            using ModelGen;
            [Model(784)] public partial class Wide { [Dense(int.MaxValue)] public partial Layer Fc { get; } }
            [Model(784)] public partial class Huge { [Dense(5_000_000)] public partial Layer Fc { get; } }
            [Model(3, 224, 224)] public partial class Image { [Flatten] public partial Layer Flat { get; } [Dense(20000)] public partial Layer Fc { get; } }
            [Model(4)] public partial class Fine { [Dense(2)] public partial Layer Fc { get; } }
            [Model(Dim.Seq, InputType = typeof(int))]
            [ModelInput("Source", Dim.Seq, InputType = typeof(int))]
            public partial class BrokenTranslator { [Embedding(10, 4, From = "Source")] public partial Layer Src { get; } [Embedding(10, 4, From = Layer.Input)] public partial Layer Tgt { get; } [Flatten] public partial Layer Flat { get; } }
            public static class Use
            {
                public static int Run()
                {
                    var m = new Fine(seed: 1);
                    return Fine.ParameterCount + m.Layers.Count;
                }
            }
            """);
        Assert.Null(result.Results.Single().Exception);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorRunner.Errors(output));
        var sources = result.Results.Single().GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString());
        Assert.Contains("Fine.Forward.g.cs", sources.Keys);
        foreach (var huge in new[] { "Wide", "Huge", "Image" })
            Assert.Contains("MG0112", sources[huge + ".Model.g.cs"]);
    }

    /// <summary>An internal failure becomes MG0098 stubs for that model only (the generator itself never throws).</summary>
    [Fact]
    public void Emit_FailedPlan_EmitsStubsNamingMG0098()
    {
        var (_, result) = GeneratorRunner.Run("""
            using ModelGen;
            [Model(4)] public partial class Broken { [Dense(2)] public partial Layer Fc { get; } }
            """);
        var spec = (Model.ModelSpec)result.Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Spec].Single().Outputs.Single().Value;
        var files = Emitting.ModelEmitter.Emit(Planning.Planner.Failed(spec, new InvalidOperationException("boom")));
        var source = Assert.Single(files).Source;
        Assert.Contains("MG0098: ModelGen could not generate 'Broken' (InvalidOperationException: boom); this is a ModelGen bug, please report it", source);
        Assert.Contains("partial global::ModelGen.Layer Fc", source);
    }

    /// <summary>
    /// An invalid model keeps the whole API of a valid one as throwing stubs (issue 17): code using every member
    /// compiles, so the model's MG error is the only error anywhere. Both flavours: fixed-shape and token sequence.
    /// </summary>
    [Fact]
    public void Generate_InvalidModels_KeepEveryPublicMemberAsStubs()
    {
        var (output, result) = GeneratorRunner.Run("""
            using System;
            using ModelGen;
            [Model(16, 5, 5)] public partial class Broken { [Dense(120)] public partial Layer Fc1 { get; } }
            [Model(Dim.Seq, InputType = typeof(int))] public partial class BrokenTagger { [Embedding(10, 4)] public partial Layer Emb { get; } [Flatten] public partial Layer Flat { get; } }
            [Model(Dim.Seq, InputType = typeof(int))]
            [ModelInput("Source", Dim.Seq, InputType = typeof(int))]
            public partial class BrokenTranslator { [Embedding(10, 4, From = "Source")] public partial Layer Src { get; } [Embedding(10, 4, From = Layer.Input)] public partial Layer Tgt { get; } [Flatten] public partial Layer Flat { get; } }
            public static class Use
            {
                public static void Run(Trainer? _)
                {
                    var m = new Broken(seed: 1);
                    int sizes = Broken.InputSize + Broken.OutputSize + Broken.ParameterCount + Broken.MaxBatch + Broken.InputShape.Length + Broken.OutputShape.Length;
                    string summary = Broken.Summary();
                    m.Forward(new float[4], new float[2], 1);
                    m.ForwardTrain(new float[4], new float[2], 1);
                    m.Backward(new float[2], default);
                    m.SeedDropout(1);
                    m.Save("x");
                    m.LoadWeights("x");
                    var loaded = Broken.Load("x");
                    int count = m.Parameters.Length + m.Gradients.Length + m.Layers.Count + m.ParameterInfos.Count;
                    var trainer = new Trainer(m, new Adam(), Loss.CrossEntropy);
                    Broken.Predictor predictor = m.CreatePredictor();
                    predictor.Forward(new float[4], new float[2], 1);
                    IPredictor asPredictor = predictor;
                    var t = new BrokenTagger(seed: 2);
                    t.Forward(new int[3], new float[3], 1, 3);
                    t.ForwardTrain(new int[3], new float[3], 1, 3, new[] { 3 });
                    t.Backward(new float[3], default);
                    ISequenceTrainable<int> asInterface = t;
                    var s = new BrokenTranslator(seed: 3);
                    s.ForwardTrain(new int[3], new int[2], new float[3], 1, 3, 2, new[] { 3 }, new[] { 2 });
                    ISeq2SeqTrainable<int, int> asSeq2Seq = s;
                    var seq2seqTrainer = new Trainer(s, new Adam(), Loss.CrossEntropyIgnoring(Loss.DefaultIgnoreIndex));
                    int more = BrokenTagger.MaxLength + BrokenTagger.MaxPositions + m.Fc1.ParameterCount + t.Emb.ParameterCount;
                }
            }
            """);
        Assert.Null(result.Results.Single().Exception);
        Assert.Empty(GeneratorRunner.Errors(output));
        var sources = result.Results.Single().GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString());
        Assert.Contains("MG0101", sources["Broken.Model.g.cs"]);
        Assert.Contains("MG0108", sources["BrokenTagger.Model.g.cs"]);
        Assert.Contains("is invalid, so ModelGen generated no code for it", sources["BrokenTranslator.Model.g.cs"]);
        Assert.Contains("ISeq2SeqTrainable<int, int>", sources["BrokenTranslator.Model.g.cs"]);
    }
}
