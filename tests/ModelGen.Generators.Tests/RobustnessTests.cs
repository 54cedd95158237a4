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
}
