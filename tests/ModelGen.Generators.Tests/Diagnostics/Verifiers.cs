// Microsoft.CodeAnalysis.Testing harnesses for the ModelGen analyzer and fixers. References are this test host's
// own framework assemblies plus the real ModelGen runtime (no reference-assembly download), C# preview syntax.
// Compiler diagnostics are not compared: without the generator the partial properties have no implementation
// (CS9248), and whether the generated stubs compile is asserted separately (AnalyzerTests, through the generator).
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;
using ModelGen.Generators.Analyzers;

namespace ModelGen.Generators.Tests.Diagnostics;

internal static class TestReferences
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> s_all = new(() =>
    {
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var refs = tpa.Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
                      .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
        refs.Add(MetadataReference.CreateFromFile(typeof(ModelGen.IModel).Assembly.Location));
        return refs.ToImmutableArray();
    });

    /// <summary>Framework assemblies of the test host plus ModelGen.dll.</summary>
    public static ImmutableArray<MetadataReference> All => s_all.Value;

    public static void Configure(SolutionState state)
    {
        state.AdditionalReferences.AddRange(All);
    }
}

/// <summary>Runs <see cref="ModelAnalyzer"/> over markup source and compares diagnostics (id, severity, span, message).</summary>
internal sealed class ModelAnalyzerTest : CSharpAnalyzerTest<ModelAnalyzer, DefaultVerifier>
{
    public ModelAnalyzerTest(string source, params DiagnosticResult[] expected)
    {
        TestCode = source;
        ExpectedDiagnostics.AddRange(expected);
        ReferenceAssemblies = new ReferenceAssemblies("net10.0");
        TestReferences.Configure(TestState);
        CompilerDiagnostics = CompilerDiagnostics.None;
    }

    protected override ParseOptions CreateParseOptions() => new CSharpParseOptions(LanguageVersion.Preview);
}

/// <summary>Runs a fixer over markup source and compares the fixed text (and the diagnostics left in it).</summary>
internal sealed class ModelCodeFixTest<TCodeFix> : CSharpCodeFixTest<ModelAnalyzer, TCodeFix, DefaultVerifier>
    where TCodeFix : CodeFixProvider, new()
{
    public ModelCodeFixTest(string source, string fixedSource)
    {
        TestCode = source;
        FixedCode = fixedSource;
        ReferenceAssemblies = new ReferenceAssemblies("net10.0");
        TestReferences.Configure(TestState);
        TestReferences.Configure(FixedState);
        CompilerDiagnostics = CompilerDiagnostics.None;
    }

    protected override ParseOptions CreateParseOptions() => new CSharpParseOptions(LanguageVersion.Preview);
}

/// <summary>Expected-diagnostic builders.</summary>
internal static class Expect
{
    /// <summary>An error with <paramref name="id"/> at markup location <c>{|#location:...|}</c> and the exact <paramref name="message"/>.</summary>
    public static DiagnosticResult Error(string id, int location, string message) =>
        new DiagnosticResult(id, DiagnosticSeverity.Error).WithLocation(location).WithMessage(message);

    /// <summary>A warning with <paramref name="id"/> at markup location <c>{|#location:...|}</c> and the exact <paramref name="message"/>.</summary>
    public static DiagnosticResult Warning(string id, int location, string message) =>
        new DiagnosticResult(id, DiagnosticSeverity.Warning).WithLocation(location).WithMessage(message);
}
