using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests;

/// <summary>The pipeline's cached steps re-run only when the model declaration changes.</summary>
public class IncrementalTests
{
    private static IncrementalStepRunReason SpecReason(GeneratorDriver driver) =>
        driver.GetRunResult().Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Spec].Single().Outputs.Single().Reason;

    private static IncrementalStepRunReason PlanReason(GeneratorDriver driver) =>
        driver.GetRunResult().Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Plan].Single().Outputs.Single().Reason;

    [Fact]
    public void Generate_UnrelatedEdit_LeavesSpecAndPlanCached()
    {
        var compilation = GeneratorRunner.CreateCompilation(Samples.Mlp, "class Other { void M() { } }");
        var driver = GeneratorRunner.CreateDriver().RunGenerators(compilation);

        var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Last(),
            CSharpSyntaxTree.ParseText("class Other { void M() { int x = 1; } }", GeneratorRunner.ParseOptions));
        driver = driver.RunGenerators(edited);

        Assert.Equal(IncrementalStepRunReason.Cached, PlanReason(driver));
    }

    [Fact]
    public void Generate_EditInsideModelThatKeepsDeclaration_StopsAtSpec()
    {
        var compilation = GeneratorRunner.CreateCompilation(Samples.Mlp);
        var driver = GeneratorRunner.CreateDriver().RunGenerators(compilation);

        string withMethod = Samples.Mlp.Replace("[Dense(10)] public partial Layer Fc3 { get; }", "[Dense(10)] public partial Layer Fc3 { get; }\n    void Helper() { }");
        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Single(), CSharpSyntaxTree.ParseText(withMethod, GeneratorRunner.ParseOptions)));

        Assert.Equal(IncrementalStepRunReason.Unchanged, SpecReason(driver));
        Assert.Equal(IncrementalStepRunReason.Cached, PlanReason(driver));
    }

    /// <summary>
    /// Runs the generator on <paramref name="before"/>, then on the compilation with its trees replaced by
    /// <paramref name="after"/> (a longer array adds files), and asserts no step past parsing re-ran: the model's spec is
    /// Unchanged (its file was re-parsed and compared equal) or Cached (its file was untouched), and the plan and the
    /// source output are Cached, so nothing is re-emitted.
    /// </summary>
    private static void AssertNotRegenerated(string[] before, string[] after)
    {
        var compilation = GeneratorRunner.CreateCompilation(before);
        var driver = GeneratorRunner.CreateDriver().RunGenerators(compilation);
        var edited = compilation;
        for (int i = 0; i < after.Length; i++)
        {
            var tree = CSharpSyntaxTree.ParseText(after[i], GeneratorRunner.ParseOptions, path: $"Model{i}.cs");
            edited = i < before.Length ? edited.ReplaceSyntaxTree(edited.SyntaxTrees.ElementAt(i), tree) : edited.AddSyntaxTrees(tree);
        }
        Assert.NotEqual(compilation.SyntaxTrees.Select(t => t.ToString()), edited.SyntaxTrees.Select(t => t.ToString()));
        driver = driver.RunGenerators(edited);

        var result = driver.GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        Assert.All(result.TrackedSteps[ModelGenerator.TrackingNames.Spec].SelectMany(s => s.Outputs),
            o => Assert.Contains(o.Reason, new[] { IncrementalStepRunReason.Unchanged, IncrementalStepRunReason.Cached }));
        Assert.All(result.TrackedSteps[ModelGenerator.TrackingNames.Plan].SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
        var emitted = result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).ToList();
        Assert.NotEmpty(emitted);
        Assert.All(emitted, o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    private const string Other = "class Other { void M() { } }";

    [Fact]
    public void Generate_CommentTypedInsideModel_NotRegenerated() => AssertNotRegenerated(
        [Samples.Mlp],
        [Samples.Mlp.Replace("    [Dropout(0.1)]", "    // a comment typed between two layers\n    [Dropout(0.1)]")]);

    [Fact]
    public void Generate_DocCommentTextChangedOnLayer_NotRegenerated() => AssertNotRegenerated(
        [Samples.Mlp.Replace("    [Dense(10)]", "    /// <summary>The logits.</summary>\n    [Dense(10)]")],
        [Samples.Mlp.Replace("    [Dense(10)]", "    /// <summary>The ten class logits.</summary>\n    [Dense(10)]")]);

    [Fact]
    public void Generate_MethodBodyInModelClassEdited_NotRegenerated() => AssertNotRegenerated(
        [Samples.Mlp.Replace("    [Flatten]", "    public static int Helper() => 1;\n    [Flatten]")],
        [Samples.Mlp.Replace("    [Flatten]", "    public static int Helper() { int x = 2; return x * ParameterCount.GetHashCode(); }\n    [Flatten]")]);

    [Fact]
    public void Generate_OtherClassInSameFileEdited_NotRegenerated() => AssertNotRegenerated(
        [Samples.Mlp + "\n" + Other],
        [Samples.Mlp + "\nclass Other { void M() { int x = 1; } public int Added; }\nclass Another { }"]);

    [Fact]
    public void Generate_OtherFileEdited_NotRegenerated() => AssertNotRegenerated(
        [Samples.Mlp, Other],
        [Samples.Mlp, "class Other { void M() { } public int Added => 1; }"]);

    [Fact]
    public void Generate_FileAdded_NotRegenerated() => AssertNotRegenerated(
        [Samples.Mlp],
        [Samples.Mlp, Other]);

    [Fact]
    public void AssertNotRegenerated_LayerWidthChanged_Fails() =>
        // The helper above can fail: a changed layer attribute re-runs the plan and the output.
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertNotRegenerated([Samples.Mlp], [Samples.Mlp.Replace("Dense(128", "Dense(64")]));

    [Fact]
    public void Generate_ChangedWidth_ModifiesSpecAndPlan()
    {
        var compilation = GeneratorRunner.CreateCompilation(Samples.Mlp);
        var driver = GeneratorRunner.CreateDriver().RunGenerators(compilation);

        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Single(),
            CSharpSyntaxTree.ParseText(Samples.Mlp.Replace("Dense(128", "Dense(64"), GeneratorRunner.ParseOptions)));

        Assert.Equal(IncrementalStepRunReason.Modified, SpecReason(driver));
        Assert.Equal(IncrementalStepRunReason.Modified, PlanReason(driver));
    }

    [Fact]
    public void ModelPlan_ContainsNoRoslynObjects()
    {
        var forbidden = new[] { typeof(ISymbol), typeof(SyntaxNode), typeof(Location), typeof(Compilation), typeof(SyntaxTree) };
        var seen = new HashSet<Type>();
        void Walk(Type type)
        {
            if (!seen.Add(type) || type.IsPrimitive || type == typeof(string) || type.IsEnum) return;
            Assert.DoesNotContain(forbidden, f => f.IsAssignableFrom(type));
            foreach (var property in type.GetProperties()) Walk(property.PropertyType);
            foreach (var argument in type.GetGenericArguments()) Walk(argument);
            foreach (var derived in type.Assembly.GetTypes().Where(t => t.BaseType == type)) Walk(derived);
        }
        Walk(typeof(ModelPlan));
        Assert.Contains(typeof(Model.DenseSpec), seen);
    }
}
