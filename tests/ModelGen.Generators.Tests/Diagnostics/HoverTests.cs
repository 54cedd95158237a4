using Microsoft.CodeAnalysis;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests.Diagnostics;

/// <summary>Hovering a model class shows the generated layer table: the class's documentation comment holds it.</summary>
public class HoverTests
{
    [Fact]
    public void GetDocumentationCommentXml_GeneratedModel_HoldsTheRuntimeSummaryTable()
    {
        var (compiled, _) = GeneratorRunner.Run(Samples.Mlp);
        var type = compiled.GetTypeByMetadataName("Demo.Mlp")!;
        string xml = type.GetDocumentationCommentXml() ?? "";

        // The table Summary() returns at run time is the generated SummaryText constant; the hover must show the same lines.
        var summary = (string)type.GetMembers("SummaryText").OfType<IFieldSymbol>().Single().ConstantValue!;
        var lines = summary.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("Layer", StringComparison.Ordinal) && l.Contains("Kind") && l.Contains("Output shape") && l.Contains("Params") && l.Contains("FLOPs"));
        Assert.Contains(lines, l => l.StartsWith("fc1 ", StringComparison.Ordinal) && l.Contains("Dense+ReLU") && l.Contains("[256]") && l.Contains("200,960") && l.Contains("401,408"));
        foreach (var line in lines)
            Assert.Contains(System.Security.SecurityElement.Escape(line.TrimEnd('\r')), xml);
    }
}
