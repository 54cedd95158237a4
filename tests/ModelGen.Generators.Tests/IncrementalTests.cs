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
