using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using ModelGen.Generators.Analyzers;
using ModelGen.Generators.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ModelGen.Generators.Tests.Diagnostics;

/// <summary>
/// Measures (prints, never asserts: the VM is noisy) the cost of generating and analyzing a 200-layer model,
/// the budget being 100 ms. Run with `--logger "console;verbosity=detailed"` to see the figures.
/// </summary>
public class AnalyzerPerformanceTests(ITestOutputHelper output)
{
    private static string TwoHundredLayers() => DeepModels.Source(200);

    [Fact]
    public async Task AnalyzeAndGenerate_200Layers_PrintsTimings()
    {
        string source = TwoHundredLayers();
        var analyzers = ImmutableArray.Create<DiagnosticAnalyzer>(new ModelAnalyzer());
        var generate = new List<double>();
        var analyze = new List<double>();
        var analyzerOwn = new List<double>();
        var analyzerOwnParsed = new List<double>();
        var parseGenerated = new List<double>();
        Compilation? last = null;
        for (int run = 0; run < 10; run++) // runs 0 and 1 are cold (JIT); the rest are steady state
        {
            var compilation = GeneratorRunner.CreateCompilation(source);
            var clock = Stopwatch.StartNew();
            GeneratorRunner.CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out var compiled, out _);
            generate.Add(clock.Elapsed.TotalMilliseconds);

            // Generated trees are parsed lazily, by whichever semantic query first needs the class's declarations:
            // every other run parses them before analysis (as the compiler's own diagnostics would), so the analyzer's
            // time is printed both with that parse (it came first) and without it (its own work).
            bool parsedFirst = run % 2 == 1;
            if (parsedFirst)
            {
                clock.Restart();
                foreach (var tree in compiled.SyntaxTrees.Skip(1)) tree.GetRoot();
                parseGenerated.Add(clock.Elapsed.TotalMilliseconds);
            }

            clock.Restart();
            var withAnalyzers = compiled.WithAnalyzers(analyzers, new CompilationWithAnalyzersOptions(
                new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty), onAnalyzerException: null, concurrentAnalysis: false, logAnalyzerExecutionTime: true, reportSuppressedDiagnostics: false));
            var userTree = compiled.SyntaxTrees.First();
            var diagnostics = await withAnalyzers.GetAnalyzerSemanticDiagnosticsAsync(compiled.GetSemanticModel(userTree), filterSpan: null, CancellationToken.None);
            double own = (await withAnalyzers.GetAnalyzerTelemetryInfoAsync(analyzers[0], CancellationToken.None)).ExecutionTime.TotalMilliseconds;
            if (parsedFirst) analyzerOwnParsed.Add(own);
            else
            {
                analyze.Add(clock.Elapsed.TotalMilliseconds);
                analyzerOwn.Add(own);
            }
            Assert.DoesNotContain(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
            last = compiled;
        }
        var compileClock = Stopwatch.StartNew();
        Assert.Empty(GeneratorRunner.Errors(last!)); // binds every generated method body, which analysis also waits for
        double compileMs = compileClock.Elapsed.TotalMilliseconds;
        long generatedChars = last!.SyntaxTrees.Skip(1).Sum(t => (long)t.Length);

        // Where the time goes: binding the user's declarations, then the shared Parse -> Infer -> Lints on bound symbols.
        var userOnly = new List<double>();
        var parse = new List<double>();
        var bind = new List<double>();
        var planTimes = new List<double>();
        var emitTimes = new List<double>();
        for (int run = 0; run < 5; run++)
        {
            var compilation = GeneratorRunner.CreateCompilation(source);
            var clock = Stopwatch.StartNew();
            var type = compilation.GetTypeByMetadataName("Bench.Deep200")!;
            foreach (var member in type.GetMembers()) member.GetAttributes();
            bind.Add(clock.Elapsed.TotalMilliseconds);
            var model = type.GetAttributes().Single(a => a.AttributeClass?.Name == "ModelAttribute");
            clock.Restart();
            var spec = Parsing.ModelParser.Parse(type, model, CancellationToken.None);
            var shapes = Shapes.ShapeInference.Infer(spec);
            var lints = Shapes.ArchitectureLints.Analyze(spec, shapes);
            parse.Add(clock.Elapsed.TotalMilliseconds);
            Assert.True(shapes.IsValid);

            // The generator's own work after parsing: plan, then emit the C# text.
            clock.Restart();
            var plan = Planning.Planner.PlanOrFail(spec);
            planTimes.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            Emitting.ModelEmitter.Emit(plan);
            emitTimes.Add(clock.Elapsed.TotalMilliseconds);

            // The analyzer over the user's declarations alone, without generated method bodies to bind.
            var alone = GeneratorRunner.CreateCompilation(source).WithAnalyzers(analyzers);
            clock.Restart();
            await alone.GetAnalyzerDiagnosticsAsync();
            userOnly.Add(clock.Elapsed.TotalMilliseconds);
        }

        static string Steady(List<double> xs) { var s = xs.Skip(1).OrderBy(x => x).ToList(); return $"median {s[s.Count / 2]:F1} ms (min {s[0]:F1}, cold {xs[0]:F1})"; }
        string report = $"200-layer model: generate {Steady(generate)}; analyze the model file with generated parts present (wall, incl. binding) {Steady(analyze)}; ModelAnalyzer's own time {Steady(analyzerOwn)} "
            + $"(parsing the generated trees, which it pays when it is the first to need them, takes {Steady(parseGenerated)}; the analyzer's own time once they are parsed {Steady(analyzerOwnParsed)}); "
            + $"binding the 200 attributes {Steady(bind)}; Parse+Infer+Lints on bound symbols {Steady(parse)}; Plan {Steady(planTimes)}; Emit {Steady(emitTimes)}; analyzer over the user declarations alone (wall, incl. binding) {Steady(userOnly)}; "
            + $"compiling user + generated code ({generatedChars:N0} generated chars) once {compileMs:F0} ms";
        output.WriteLine(report);
        Console.WriteLine(report);
    }
}
