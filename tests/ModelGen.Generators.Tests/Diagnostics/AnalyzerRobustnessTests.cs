using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using ModelGen.Generators.Analyzers;
using ModelGen.Generators.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ModelGen.Generators.Tests.Diagnostics;

/// <summary>
/// Half-typed and garbled declarations through the generator AND the analyzer, as the IDE runs them on every
/// keystroke: neither may throw (CS8785 for the generator, AD0001 for the analyzer).
/// </summary>
public class AnalyzerRobustnessTests(ITestOutputHelper output)
{
    private static readonly string[] s_sources = { Samples.Mlp, Samples.Activations, Samples.SoftmaxHead, Samples.MissingFlatten };

    /// <summary>Every prefix, plus seeded deletions, replacements and insertions of attribute-ish fragments.</summary>
    private static List<string> Variants(string source, int seed)
    {
        var variants = new List<string>();
        for (int i = 0; i < source.Length; i++) variants.Add(source[..i]);                         // typed up to here
        var rng = new Random(seed);
        for (int i = 0; i < 300; i++)                                                              // a span deleted
        {
            int start = rng.Next(source.Length), length = rng.Next(1, 16);
            variants.Add(source.Remove(start, Math.Min(length, source.Length - start)));
        }
        const string noise = "(){};,=\"0-x[]:.";
        for (int i = 0; i < 300; i++)                                                              // a character replaced
        {
            int at = rng.Next(source.Length);
            variants.Add(source[..at] + noise[rng.Next(noise.Length)] + source[(at + 1)..]);
        }
        string[] fragments = { "[Dense(", "[Dense(-1)]", "[Flatten]", "partial ", "[Model(0)]", "Activation = Activation.Softmax", ", From = \"x\"", "[Softmax] public partial Layer S { get; }", "<T>", "static ", "int ", "[Dropout(2)]" };
        for (int i = 0; i < 300; i++)                                                              // a fragment inserted
        {
            int at = rng.Next(source.Length);
            variants.Add(source.Insert(at, fragments[rng.Next(fragments.Length)]));
        }
        return variants;
    }

    [Fact]
    public async Task GenerateAndAnalyze_FiveThousandVariants_NeverThrow()
    {
        var analyzers = ImmutableArray.Create<DiagnosticAnalyzer>(new ModelAnalyzer());
        int count = 0, reported = 0;
        for (int s = 0; s < s_sources.Length; s++)
        {
            var driver = GeneratorRunner.CreateDriver(); // one driver over successive edits, as in the IDE
            foreach (var variant in Variants(s_sources[s], seed: 1000 + s))
            {
                driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorRunner.CreateCompilation(variant), out var compiled, out _);
                var run = driver.GetRunResult();
                Assert.True(run.Results.Single().Exception is null, $"Generator threw {run.Results.Single().Exception} on:\n{variant}");
                Assert.DoesNotContain(run.Diagnostics, d => d.Id is "CS8785");

                Exception? thrown = null;
                var options = new CompilationWithAnalyzersOptions(new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
                    onAnalyzerException: (e, _, _) => thrown ??= e, concurrentAnalysis: false, logAnalyzerExecutionTime: false, reportSuppressedDiagnostics: false);
                // Per document, as the IDE analyzes the file being edited (the generated trees are in the compilation,
                // so the analyzer sees the generated partial parts, but their method bodies are not bound).
                var userTree = compiled.SyntaxTrees.First();
                var diagnostics = await compiled.WithAnalyzers(analyzers, options)
                    .GetAnalyzerSemanticDiagnosticsAsync(compiled.GetSemanticModel(userTree), filterSpan: null, CancellationToken.None);
                Assert.True(thrown is null, $"Analyzer threw {thrown} on:\n{variant}");
                Assert.DoesNotContain(diagnostics, d => d.Id is "AD0001");
                reported += diagnostics.Length;
                count++;
            }
        }
        output.WriteLine($"{count} variants, {reported} MG diagnostics reported, no exceptions");
        Assert.True(count >= 5000, $"only {count} variants");
    }
}
