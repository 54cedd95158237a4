using System.Xml.Linq;
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

    /// <summary>
    /// The table sits alone in a <c>&lt;para&gt;&lt;code&gt;</c>, after a paragraph of its own: a code element following text
    /// inside one paragraph reached VS Code (markdown-it, through csharp-ls) as a fence in mid-line, shown as one run-on
    /// paragraph (issue 17).
    /// </summary>
    [Fact]
    public void GetDocumentationCommentXml_GeneratedModel_TableIsAParagraphOfItsOwn()
    {
        var (compiled, _) = GeneratorRunner.Run(Samples.Mlp);
        var summary = XElement.Parse(compiled.GetTypeByMetadataName("Demo.Mlp")!.GetDocumentationCommentXml()!).Element("summary")!;
        Assert.DoesNotContain(summary.Nodes().OfType<XText>(), t => !string.IsNullOrWhiteSpace(t.Value));
        var paragraphs = summary.Elements().ToList();
        Assert.All(paragraphs, p => Assert.Equal("para", p.Name.LocalName));
        Assert.Equal(2, paragraphs.Count);
        Assert.Contains("Mlp", paragraphs[0].Value);
        var code = Assert.Single(paragraphs[1].Nodes(), n => n is not XText t || !string.IsNullOrWhiteSpace(t.Value));
        Assert.Equal("code", Assert.IsType<XElement>(code).Name.LocalName);
        Assert.Contains("fc1      Dense+ReLU", ((XElement)code).Value);
    }

    [Fact]
    public void GetDocumentationCommentXml_LayerProperty_SaysKindShapesParametersAndTensors()
    {
        var (compiled, _) = GeneratorRunner.Run(Samples.Mlp);
        var type = compiled.GetTypeByMetadataName("Demo.Mlp")!;
        string fc1 = type.GetMembers("Fc1").Single().GetDocumentationCommentXml() ?? "";
        Assert.Contains("<c>fc1</c>: Dense+ReLU, [784] → [256] per example; 200,960 parameters, 401,408 FLOPs per example.", fc1);
        Assert.Contains("<c>fc1.weight</c> [256, 784], <c>fc1.bias</c> [256]", fc1);
        string flat = type.GetMembers("Flat").Single().GetDocumentationCommentXml() ?? "";
        Assert.Contains("<c>flat</c>: Flatten, [1, 28, 28] → [784] per example; 0 parameters", flat);
        Assert.DoesNotContain("Tensors", flat);
    }

    [Fact]
    public void GetDocumentationCommentXml_LayerPropertyTheUserDocumented_KeepsTheUsersComment()
    {
        var (compiled, _) = GeneratorRunner.Run(Samples.Mlp.Replace(
            "[Dense(10)] public partial Layer Fc3 { get; }",
            "/// <summary>The classifier head.</summary>\n    [Dense(10)] public partial Layer Fc3 { get; }"));
        string fc3 = compiled.GetTypeByMetadataName("Demo.Mlp")!.GetMembers("Fc3").Single().GetDocumentationCommentXml() ?? "";
        Assert.Contains("The classifier head.", fc3);
    }

    [Fact]
    public void GetDocumentationCommentXml_SequenceLayer_ShowsTheSymbolicLength()
    {
        var (compiled, _) = GeneratorRunner.Run(Samples.Tagger);
        var type = compiled.GetTypeByMetadataName("Demo.Tagger")!;
        string lstm = type.GetMembers().OfType<IPropertySymbol>().First(p => p.Name.Contains("Lstm", StringComparison.Ordinal)).GetDocumentationCommentXml() ?? "";
        Assert.Contains("[T,", lstm);
        Assert.Contains("weight_ih_l0", lstm);
    }
}
