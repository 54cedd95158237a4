using ModelGen.Generators.Model;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Shapes;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests;

/// <summary>
/// Shape-generic blocks (<c>[Model]</c> without a shape): shapes inferred per use, names as for shaped blocks, shape
/// errors reported on the using member naming the block layer that failed, and nothing reported for an unused block.
/// </summary>
public class GenericBlockShapeTests
{
    private static List<ModelPlan> Plans(string source)
    {
        var (_, result) = GeneratorRunner.Run(source);
        return result.Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Plan].SelectMany(s => s.Outputs).Select(o => (ModelPlan)o.Value).ToList();
    }

    private static ModelPlan PlanOf(string source, string className = "M") => Plans(source).Single(p => p.Spec.ClassName == className);

    private const string Body = """
        using ModelGen;
        [Model]
        public partial class Body
        {
            [Dense(6, Activation = Activation.ReLU)] public partial Layer Fc { get; }
            [Dense(4)] public partial Layer Out { get; }
        }
        """;

    [Fact]
    public void Parser_ModelWithoutShape_IsShapeGeneric_AndItsUsesSaySo()
    {
        var plans = Plans(Samples.GenericBlocks);
        Assert.True(plans.Single(p => p.Spec.ClassName == "Basic").Spec.ShapeGeneric);
        var net = plans.Single(p => p.Spec.ClassName == "GenericNet");
        Assert.False(net.Spec.ShapeGeneric);
        Assert.All(net.Spec.Members.Select(m => m.Layer).OfType<BlockSpec>(), b => Assert.True(b.ShapeGeneric));
    }

    [Fact]
    public void Shapes_InferredPerUse_WithPyTorchNames()
    {
        var plan = PlanOf(Samples.GenericBlocks, "GenericNet");
        Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Message)));
        Assert.Equal(new[] { "layer1", "layer2", "layer3", "layer3.first", "layer3.second" }, plan.Shapes.Blocks.Select(b => b.Path));
        var uses = plan.Shapes.Blocks.ToDictionary(b => b.Path);
        Assert.Equal(("[1, 8, 8]", "[4, 8, 8]"), (ShapeInference.Format(uses["layer1"].Input), ShapeInference.Format(uses["layer1"].Output)));
        Assert.Equal(("[4, 4, 4]", "[4, 4, 4]"), (ShapeInference.Format(uses["layer2"].Input), ShapeInference.Format(uses["layer2"].Output)));
        Assert.Equal(new[] { "conv1", "bn1", "relu" }, uses["layer3.second"].Layers.Select(l => l.Layer.Name));
        Assert.Equal(new[] { "first", "second" }, uses["layer3"].Layers.Select(l => l.Layer.Name));
        var weights = plan.Shapes.Nodes.SelectMany(n => n.Params.Concat(n.Buffers)).ToDictionary(p => p.Name, p => ShapeInference.Format(p.Shape));
        Assert.Equal("[4, 1, 3, 3]", weights["layer1.conv1.weight"]);          // the first use sees 1 channel
        Assert.Equal("[4, 1, 1, 1]", weights["layer1.downsample.0.weight"]);   // projection 1 -> 4 channels
        Assert.Equal("[4, 4, 3, 3]", weights["layer2.conv1.weight"]);
        Assert.Equal("[4, 4, 3, 3]", weights["layer3.second.conv1.weight"]);
        Assert.Equal("[4]", weights["layer3.first.bn1.running_var"]);
        Assert.Equal(new[] { "layer1.conv1", "layer1.bn1", "layer1.relu", "layer1.downsample.0", "layer1.downsample.1", "layer1", "pool",
            "layer2.conv1", "layer2.bn1", "layer2.relu", "layer2", "layer3.first.conv1", "layer3.first.bn1", "layer3.first.relu", "layer3.first",
            "layer3.second.conv1", "layer3.second.bn1", "layer3.second.relu", "layer3.second", "gap", "fc" }, plan.Shapes.Nodes.Select(n => n.Name));
    }

    [Fact]
    public void Shapes_SequenceUse_KeepsT()
    {
        var plan = PlanOf(Body + """
            [Model(Dim.Seq, 3)]
            public partial class M
            {
                public partial Body B1 { get; }
                [Residual] public partial Body B2 { get; }
            }
            """);
        Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Message)));
        Assert.Equal(new[] { "[T, 3] -> [T, 4]", "[T, 4] -> [T, 4]" }, plan.Shapes.Layers.Select(l => $"{ShapeInference.Format(l.Input)} -> {ShapeInference.Format(l.Output)}"));
        Assert.Equal("[6, 3]", ShapeInference.Format(plan.Shapes.Nodes[0].Params[0].Shape));
        Assert.Equal("[6, 4]", ShapeInference.Format(plan.Shapes.Nodes[2].Params[0].Shape));
    }

    [Fact]
    public void ShapeError_InsideBlock_IsReportedOnTheUsingMember()
    {
        var plan = PlanOf(Body + """
            [Model(8)]
            public partial class M
            {
                [Dense(8)] public partial Layer Fc { get; }
                [Residual(Projection = true)] public partial Body Good { get; }
                [Conv1D(2, Kernel = 1, From = Layer.Input)] public partial Layer Wide { get; }
                public partial Body Bad { get; }
            }
            """.Replace("[Model(8)]", "[Model(3, 8)]").Replace("[Dense(8)] public partial Layer Fc { get; }", "[Flatten] public partial Layer Fc { get; }"));
        var problem = Assert.Single(plan.Shapes.Problems);
        Assert.Equal((ProblemIds.ExpectsFlatInput, "Bad", ""), (problem.Id, problem.Member, problem.Argument));
        Assert.Equal("Block 'bad' (Body) on input [2, 8] from 'wide': Dense 'fc' expects a flat input but receives [2, 8] from 'wide'; add [Flatten] before it", problem.Message);
    }

    [Fact]
    public void ShapeError_InNestedBlock_NamesEveryBlockOnTheWay()
    {
        var plan = PlanOf(Body + """
            [Model]
            public partial class Pair
            {
                [Flatten] public partial Layer Flat { get; }
                public partial Body Inner { get; }
                [Dense(4, Kernel = 3)] public partial Layer Never { get; }
            }
            """.Replace("[Dense(4, Kernel = 3)] public partial Layer Never { get; }", "[Conv1D(3, Kernel = 2)] public partial Layer Conv { get; }") + """
            [Model(2, 5)]
            public partial class M
            {
                public partial Pair Outer { get; }
            }
            """);
        var problem = Assert.Single(plan.Shapes.Problems);
        Assert.Equal((ProblemIds.RankMismatch, "Outer"), (problem.Id, problem.Member));
        Assert.Equal("Block 'outer' (Pair) on input [2, 5] from the model input: Conv1D 'conv' expects input [channels, length] but receives [4] from 'inner'", problem.Message);

        var deeper = PlanOf(Body + """
            [Model]
            public partial class Pair
            {
                public partial Body Inner { get; }
            }
            [Model(2, 5)]
            public partial class M
            {
                public partial Pair Outer { get; }
            }
            """);
        var nested = Assert.Single(deeper.Shapes.Problems);
        Assert.Equal((ProblemIds.ExpectsFlatInput, "Outer"), (nested.Id, nested.Member));
        Assert.Equal("Block 'outer' (Pair) on input [2, 5] from the model input: Block 'inner' (Body) on input [2, 5] from the model input: "
            + "Dense 'fc' expects a flat input but receives [2, 5] from the model input; add [Flatten] before it", nested.Message);
    }

    [Fact]
    public void ResidualMismatch_OfGenericBlock_IsReportedOnTheUsingMember()
    {
        var problem = Assert.Single(PlanOf(Body + """
            [Model(5)]
            public partial class M
            {
                [Residual] public partial Body B1 { get; }
            }
            """).Shapes.Problems);
        Assert.Equal((ProblemIds.ResidualShapeMismatch, "B1"), (problem.Id, problem.Member));
        Assert.Equal("Residual 'b1' adds the output [4] of 'Body' to its input [5]; set Projection = true to add a projection shortcut", problem.Message);
    }

    [Fact]
    public void UnusedGenericBlock_HasNoProblems_AndGetsOnlyItsView()
    {
        var (output, result) = GeneratorRunner.Run(Body.Replace("[Dense(4)]", "[Conv2D(4, Kernel = 9)]"));
        var plan = PlanOf(Body, "Body");
        Assert.True(plan.IsValid);
        Assert.Empty(plan.Shapes.Nodes);
        var file = Assert.Single(result.Results.Single().GeneratedSources);
        Assert.Equal("Body.Model.g.cs", file.HintName);
        Assert.DoesNotContain("Forward", file.SourceText.ToString());
        Assert.Empty(GeneratorRunner.Errors(output));
    }

    [Fact]
    public void GenericBlock_WithInputTypeOrMaxLength_IsReported()
    {
        var plan = PlanOf(Body.Replace("[Model]", "[Model(MaxLength = 8)]"), "Body");
        var problem = Assert.Single(plan.Shapes.Problems);
        Assert.Equal((ProblemIds.InvalidInputShape, "", "MaxLength"), (problem.Id, problem.Member, problem.Argument));
        Assert.Equal("Block 'Body' declares no input shape, so it takes its input from each model that uses it; MaxLength belongs on that model's [Model]", problem.Message);
    }

    [Fact]
    public void GenericBlock_ContainingItself_IsReportedAtTheUse()
    {
        var plan = PlanOf("""
            using ModelGen;
            [Model]
            public partial class Loop
            {
                [Dense(2)] public partial Layer Fc { get; }
                public partial Loop Again { get; }
            }
            [Model(4)]
            public partial class M
            {
                public partial Loop L { get; }
            }
            """);
        var problem = Assert.Single(plan.Shapes.Problems);
        Assert.Equal((ProblemIds.BlockContainsItself, "L"), (problem.Id, problem.Member));
        Assert.Equal("Block 'l' (Loop) on input [4] from the model input: Block 'again' makes 'Loop' contain itself (M -> Loop -> Loop)", problem.Message);
    }

    [Fact]
    public void Conv_WithoutOutChannels_KeepsTheWidthOfEachUse()
    {
        var plan = PlanOf("""
            using ModelGen;
            [Model]
            public partial class Keep
            {
                [Conv2D(Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv { get; }
            }
            [Model(3, 5, 5)]
            public partial class M
            {
                [Conv2D(Kernel = 3)] public partial Layer Stem { get; }
                [Residual] public partial Keep A { get; }
                [Conv2D(6, Kernel = 1)] public partial Layer Widen { get; }
                [Residual] public partial Keep B { get; }
            }
            """);
        Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Message)));
        Assert.Equal(new[] { "[3, 3, 3]", "[3, 3, 3]", "[6, 3, 3]", "[6, 3, 3]" }, plan.Shapes.Layers.Select(l => ShapeInference.Format(l.Output)));
        var weights = plan.Shapes.Nodes.SelectMany(n => n.Params.Concat(n.Buffers)).ToDictionary(p => p.Name, p => ShapeInference.Format(p.Shape));
        Assert.Equal("[3, 3, 3, 3]", weights["stem.weight"]);
        Assert.Equal("[3, 3, 3, 3]", weights["a.conv.weight"]);
        Assert.Equal("[6, 6, 3, 3]", weights["b.conv.weight"]);
        // Every node carries the resolved width: planning and emitting never see the unresolved form.
        Assert.All(plan.Shapes.Nodes.Select(n => n.Layer).OfType<ModelGen.Generators.Model.ConvSpec>(), c => Assert.False(c.KeepChannels));
        Assert.Equal(3, Assert.IsType<ModelGen.Generators.Model.ConvSpec>(plan.Shapes.Layers[0].Layer).OutChannels);
    }
}
