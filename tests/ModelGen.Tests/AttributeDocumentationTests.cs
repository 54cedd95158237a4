using System.Reflection;
using System.Xml.Linq;

namespace ModelGen.Tests;

/// <summary>
/// Completion and signature help show what the XML docs hold (issue 17): every public constructor parameter and
/// settable property of every attribute users write on a model must be documented, so [Dense(|, Activation = |)]
/// explains each argument in the editor.
/// </summary>
public class AttributeDocumentationTests
{
    private static readonly Lazy<Dictionary<string, XElement>> s_members = new(() =>
    {
        string path = Path.ChangeExtension(typeof(ModelAttribute).Assembly.Location, ".xml");
        Assert.True(File.Exists(path), $"{path}: the runtime's XML documentation file is missing (GenerateDocumentationFile)");
        return XDocument.Load(path).Descendants("member").ToDictionary(m => (string)m.Attribute("name")!);
    });

    public static TheoryData<string> Attributes()
    {
        var data = new TheoryData<string>();
        foreach (var type in typeof(ModelAttribute).Assembly.GetExportedTypes()
                     .Where(t => t.IsSubclassOf(typeof(Attribute)) && !t.IsAbstract).OrderBy(t => t.Name))
            data.Add(type.FullName!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Attributes))]
    public void Attribute_EveryConstructorParameterAndProperty_IsDocumented(string typeName)
    {
        var type = typeof(ModelAttribute).Assembly.GetType(typeName)!;
        var missing = new List<string>();
        if (!s_members.Value.ContainsKey("T:" + typeName)) missing.Add("the type's <summary>");
        foreach (var ctor in type.GetConstructors())
        {
            var parameters = ctor.GetParameters();
            if (parameters.Length == 0) continue;
            string id = $"M:{typeName}.#ctor({string.Join(",", parameters.Select(p => p.ParameterType.FullName))})";
            var doc = s_members.Value.GetValueOrDefault(id);
            foreach (var p in parameters)
                if (doc?.Elements("param").Any(e => (string?)e.Attribute("name") == p.Name && e.Value.Trim().Length > 0) != true)
                    missing.Add($"<param name=\"{p.Name}\"> of {id}");
        }
        for (var t = type; t is not null && t != typeof(Attribute); t = t.BaseType)
            foreach (var property in t.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
                if (s_members.Value.GetValueOrDefault($"P:{t.FullName}.{property.Name}")?.Element("summary") is not { } summary || summary.Value.Trim().Length == 0)
                    missing.Add($"<summary> of {t.Name}.{property.Name}");
        Assert.True(missing.Count == 0, $"{typeName} lacks: {string.Join("; ", missing)}");
    }
}
