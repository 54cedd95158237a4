using System.Reflection;
using Microsoft.CodeAnalysis;
using ModelGen.Generators.Analyzers;
using ModelGen.Generators.Diagnostics;
using ModelGen.Generators.Shapes;

namespace ModelGen.Generators.Tests.Diagnostics;

/// <summary>The catalogue, the release-tracking file and the help pages list the same ids.</summary>
public class CatalogueTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ModelGen.sln"))) return dir.FullName;
        throw new InvalidOperationException("ModelGen.sln not found above " + AppContext.BaseDirectory);
    }

    private static IEnumerable<string> ProblemIdValues() =>
        typeof(ProblemIds).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!);

    [Fact]
    public void Find_EveryProblemId_HasItsOwnDescriptor()
    {
        // CompilerReported marks what the C# compiler already reports: deliberately no descriptor, never a diagnostic.
        var missing = ProblemIdValues().Where(id => id != ProblemIds.CompilerReported && DiagnosticDescriptors.Find(id) is null).ToList();
        Assert.True(missing.Count == 0, "ProblemIds without a descriptor in DiagnosticDescriptors: " + string.Join(", ", missing));
    }

    [Fact]
    public void Descriptors_ErrorsNotConfigurable_WarningsConfigurable_HelpLinkPerId()
    {
        foreach (var d in DiagnosticDescriptors.All)
        {
            Assert.Matches("^MG[0-9]{4}$", d.Id);
            Assert.Equal($"{DiagnosticDescriptors.HelpLinkBase}{d.Id}.md", d.HelpLinkUri);
            Assert.True(File.Exists(Path.Combine(RepositoryRoot(), "docs", "diagnostics", d.Id + ".md")), $"{d.Id}: no help page docs/diagnostics/{d.Id}.md");
            bool notConfigurable = d.CustomTags.Contains(WellKnownDiagnosticTags.NotConfigurable);
            Assert.True(d.DefaultSeverity == DiagnosticSeverity.Error ? notConfigurable : !notConfigurable, $"{d.Id}: severity {d.DefaultSeverity}, NotConfigurable {notConfigurable}");
            Assert.Equal(d.Id.StartsWith("MG02", StringComparison.Ordinal) ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error, d.DefaultSeverity);
        }
        Assert.Equal(DiagnosticDescriptors.All.Length, DiagnosticDescriptors.All.Select(d => d.Id).Distinct().Count());
        Assert.Equal(DiagnosticDescriptors.All, new ModelAnalyzer().SupportedDiagnostics);
    }

    [Fact]
    public void HelpPages_EveryId_HasPageWithWrongAndRightExampleAndIndexEntry()
    {
        string docs = Path.Combine(RepositoryRoot(), "docs", "diagnostics");
        string index = File.ReadAllText(Path.Combine(docs, "README.md"));
        foreach (var d in DiagnosticDescriptors.All)
        {
            string page = Path.Combine(docs, d.Id + ".md");
            Assert.True(File.Exists(page), "missing help page " + page);
            string text = File.ReadAllText(page);
            Assert.StartsWith("# " + d.Id + ":", text);
            Assert.Contains("## Wrong", text);
            Assert.Contains("## Right", text);
            Assert.Contains($"[{d.Id}]({d.Id}.md)", index);
        }
    }

    [Fact]
    public void ReleaseTracking_Unshipped_ListsEveryDescriptorWithItsCategoryAndSeverity()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), "generators", "ModelGen.Generators", "Diagnostics", "AnalyzerReleases.Unshipped.md"));
        foreach (var d in DiagnosticDescriptors.All)
            Assert.Contains(lines, l => l.StartsWith($"{d.Id} | {d.Category} | {d.DefaultSeverity} |", StringComparison.Ordinal));
    }

    /// <summary>From the package, the link opens the page the package ships; from anywhere else, the repository path.</summary>
    [Theory]
    [InlineData("/home/u/.nuget/packages/modelgen/0.1.0/analyzers/dotnet/cs/ModelGen.Generators.dll", "file:///home/u/.nuget/packages/modelgen/0.1.0/docs/diagnostics/")]
    [InlineData(@"C:\Users\u\.nuget\packages\modelgen\0.1.0\analyzers\dotnet\cs\ModelGen.Generators.dll", "file:///C:/Users/u/.nuget/packages/modelgen/0.1.0/docs/diagnostics/")]
    [InlineData("/repo/generators/ModelGen.Generators/bin/Release/netstandard2.0/ModelGen.Generators.dll", "docs/diagnostics/")]
    [InlineData("/tmp/shadow/1f2e/ModelGen.Generators.dll", "docs/diagnostics/")]
    [InlineData("", "docs/diagnostics/")]
    [InlineData(null, "docs/diagnostics/")]
    public void HelpLinkBaseFor_AnalyzerLocation_PointsAtTheShippedPages(string? analyzerPath, string expected) =>
        Assert.Equal(expected, DiagnosticDescriptors.HelpLinkBaseFor(analyzerPath));
}
