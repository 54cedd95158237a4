using ModelGen.Generators.Model;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Shapes;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests;

/// <summary>Shape rules of convolution, pooling, normalisation and composition, through the real parser.</summary>
public class ConvShapeTests
{
    private static ModelPlan PlanOf(string members, string input = "1, 28, 28", string extra = "")
    {
        var (_, result) = GeneratorRunner.Run($$"""
            using ModelGen;
            namespace Demo;
            {{extra}}
            [Model({{input}})]
            public partial class M
            {
                {{members}}
            }
            """);
        return (ModelPlan)result.Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Plan]
            .SelectMany(s => s.Outputs).Select(o => (ModelPlan)o.Value).Single(p => p.Spec.ClassName == "M");
    }

    private static ModelProblem Problem(string members, string input = "1, 28, 28", string extra = "") =>
        Assert.Single(PlanOf(members, input, extra).Shapes.Problems);

    [Fact]
    public void LeNet_ShapesParametersAndFlopsMatchPyTorch()
    {
        var plan = PlanOf("""
            [Conv2D(6, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer C1 { get; }
            [MaxPool2D(2)] public partial Layer S2 { get; }
            [Conv2D(16, Kernel = 5, Activation = Activation.ReLU)] public partial Layer C3 { get; }
            [MaxPool2D(2)] public partial Layer S4 { get; }
            [Flatten] public partial Layer Flat { get; }
            [Dense(120)] public partial Layer F5 { get; }
            """);
        Assert.True(plan.IsValid);
        Assert.Equal(new[] { new[] { 6, 28, 28 }, new[] { 6, 14, 14 }, new[] { 16, 10, 10 }, new[] { 16, 5, 5 }, new[] { 400 }, new[] { 120 } },
            plan.Shapes.Layers.Select(l => l.Output.ToArray()));
        Assert.Equal(new[] { 6, 1, 5, 5 }, plan.Shapes.Layers[0].Params[0].Shape);
        Assert.Equal(2L * 6 * 25 * 784, plan.Shapes.Layers[0].Flops);
        Assert.Equal(2L * 16 * 6 * 25 * 100, plan.Shapes.Layers[2].Flops);
    }

    [Theory]
    [InlineData("[Conv2D(4, Kernel = 3, Stride = 2, Padding = 1)]", "1, 7, 9", new[] { 4, 4, 5 })]
    [InlineData("[Conv2D(4, Kernel = 3, Dilation = 2)]", "1, 7, 9", new[] { 4, 3, 5 })]
    [InlineData("[Conv2D(4, Kernel = 5, Same = true)]", "2, 7, 9", new[] { 4, 7, 9 })]
    [InlineData("[Conv2D(6, Kernel = 3, Groups = 3)]", "3, 5, 5", new[] { 6, 3, 3 })]
    [InlineData("[Conv1D(5, Kernel = 4, Stride = 3)]", "2, 17", new[] { 5, 5 })]
    [InlineData("[MaxPool2D(3, Stride = 2, CeilMode = true)]", "1, 8, 8", new[] { 1, 4, 4 })]
    [InlineData("[MaxPool2D(2, Stride = 2, Padding = 1, CeilMode = true)]", "1, 5, 5", new[] { 1, 3, 3 })]
    [InlineData("[AvgPool1D(3, Padding = 1)]", "2, 10", new[] { 2, 4 })]
    [InlineData("[AdaptiveAvgPool2D(3, 2)]", "4, 7, 5", new[] { 4, 3, 2 })]
    [InlineData("[GlobalMaxPool]", "4, 7, 5", new[] { 4 })]
    [InlineData("[BatchNorm1D]", "4, 7", new[] { 4, 7 })]
    // Non-square: nn.Conv2d(2, 4, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2)) on 2x9x11 gives 4x5x7.
    [InlineData("[Conv2D(4, KernelHeight = 3, KernelWidth = 5, StrideHeight = 2, PaddingHeight = 1, PaddingWidth = 2, DilationWidth = 2)]", "2, 9, 11", new[] { 4, 5, 7 })]
    [InlineData("[Conv2D(4, Kernel = 3, KernelWidth = 1, Padding = 1, PaddingWidth = 0)]", "2, 9, 11", new[] { 4, 9, 11 })]
    [InlineData("[Conv2D(4, KernelHeight = 1, KernelWidth = 5, Same = true)]", "2, 6, 11", new[] { 4, 6, 11 })]
    [InlineData("[MaxPool2D(2, 3)]", "1, 8, 9", new[] { 1, 4, 3 })]
    [InlineData("[MaxPool2D(3, 2, StrideHeight = 1, PaddingHeight = 1, CeilMode = true)]", "1, 7, 9", new[] { 1, 7, 5 })]
    [InlineData("[AvgPool2D(3, StrideWidth = 1, PaddingWidth = 1)]", "1, 7, 9", new[] { 1, 2, 9 })]
    [InlineData("[Conv2D(4, Kernel = 3, PaddingHeight = 2, PaddingMode = PaddingMode.Reflect)]", "1, 3, 8", new[] { 4, 5, 6 })]
    [InlineData("[Conv1D(4, Kernel = 5, Padding = 2, PaddingMode = PaddingMode.Circular)]", "2, 2", new[] { 4, 2 })]
    [InlineData("[Conv2D(4, Kernel = 3, Padding = 5, PaddingMode = PaddingMode.Replicate)]", "1, 2, 2", new[] { 4, 10, 10 })]
    public void Layer_OutputShape_FollowsPyTorch(string attribute, string input, int[] expected)
    {
        var plan = PlanOf($"{attribute} public partial Layer L {{ get; }}", input);
        Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Message)));
        Assert.Equal(expected, plan.Shapes.Layers[0].Output.ToArray());
    }

    [Theory]
    [InlineData("[Conv2D(6, Kernel = 7)]", "1, 5, 5", ProblemIds.KernelLargerThanInput, "KernelHeight|Kernel", "Conv2D 'l' kernel 7x7 is larger than its input 5x5")]
    [InlineData("[Conv2D(6, Kernel = 7, Padding = 0)]", "784", ProblemIds.RankMismatch, "", "Conv2D 'l' expects input [channels, height, width] but receives [784] from the model input")]
    [InlineData("[Conv2D(6)]", "1, 5, 5", ProblemIds.InvalidHyperParameter, "Kernel|KernelHeight|KernelWidth", "Conv2D 'l' has Kernel = 0; set a positive kernel size")]
    [InlineData("[Conv2D(6, Kernel = 3, Groups = 4)]", "6, 5, 5", ProblemIds.InvalidHyperParameter, "Groups", "Conv2D 'l' has Groups = 4, which does not divide its 6 input channels")]
    [InlineData("[Conv2D(6, Kernel = 3, Same = true, Stride = 2)]", "1, 5, 5", ProblemIds.InvalidHyperParameter, "Same", "Conv2D 'l' uses Same padding with a stride other than 1 (as in PyTorch, 'same' needs stride 1)")]
    [InlineData("[MaxPool2D(2, Padding = 2)]", "1, 5, 5", ProblemIds.InvalidHyperParameter, "Padding|PaddingHeight|PaddingWidth", "MaxPool2D 'l' has Padding = 2; it must be between 0 and half the kernel (1)")]
    [InlineData("[AvgPool2D(6)]", "1, 5, 5", ProblemIds.KernelLargerThanInput, "kernelHeight|kernel", "AvgPool2D 'l' window 6x6 is larger than its input 5x5")]
    [InlineData("[Conv2D(6, Kernel = 3, KernelWidth = 9)]", "1, 5, 7", ProblemIds.KernelLargerThanInput, "KernelWidth|Kernel", "Conv2D 'l' kernel 3x9 is larger than its input 5x7")]
    [InlineData("[Conv2D(6, Kernel = 3, StrideWidth = 0)]", "1, 5, 7", ProblemIds.InvalidHyperParameter, "StrideWidth|Stride", "Conv2D 'l' has Stride = (1, 0); it must be positive")]
    [InlineData("[Conv2D(6, KernelHeight = 3, KernelWidth = 2, Same = true)]", "1, 5, 7", ProblemIds.InvalidHyperParameter, "Same", "Conv2D 'l' uses Same padding with an even effective kernel (3, 2), which would need asymmetric padding")]
    [InlineData("[MaxPool2D(3, 2, PaddingWidth = 2)]", "1, 5, 5", ProblemIds.InvalidHyperParameter, "PaddingWidth|Padding", "MaxPool2D 'l' has Padding = (0, 2); it must be between 0 and half the kernel (1)")]
    [InlineData("[AvgPool2D(2, 6)]", "1, 5, 5", ProblemIds.KernelLargerThanInput, "kernelWidth|kernel", "AvgPool2D 'l' window 2x6 is larger than its input 5x5")]
    [InlineData("[Conv2D(4, Kernel = 7, Padding = 3, PaddingMode = PaddingMode.Reflect)]", "1, 3, 8", ProblemIds.PaddingTooLargeForMode, "PaddingHeight|Padding", "Conv2D 'l' pads its height by 3 with PaddingMode = Reflect, which needs a padding smaller than its input 3x8 from the model input")]
    [InlineData("[Conv2D(4, Kernel = 5, Same = true, PaddingMode = PaddingMode.Reflect)]", "1, 6, 2", ProblemIds.PaddingTooLargeForMode, "Same", "Conv2D 'l' pads its width by 2 with PaddingMode = Reflect, which needs a padding smaller than its input 6x2 from the model input")]
    [InlineData("[Conv1D(4, Kernel = 3, Padding = 3, PaddingMode = PaddingMode.Circular)]", "2, 2", ProblemIds.PaddingTooLargeForMode, "Padding", "Conv1D 'l' pads by 3 with PaddingMode = Circular, which needs a padding no larger than its input 2 from the model input")]
    [InlineData("[AvgPool2D(2, DivisorOverride = -1)]", "1, 5, 5", ProblemIds.InvalidHyperParameter, "DivisorOverride", "AvgPool2D 'l' has DivisorOverride = -1; it must be positive (or 0 for none)")]
    [InlineData("[BatchNorm2D]", "8", ProblemIds.RankMismatch, "", "BatchNorm2D 'l' expects [channels, height, width] but receives [8] from the model input")]
    [InlineData("[BatchNorm1D(Momentum = 2)]", "8", ProblemIds.InvalidHyperParameter, "Momentum", "BatchNorm1D 'l' has Momentum = 2; it must be in [0, 1], or null for a cumulative average")]
    [InlineData("[Conv2D(6, Kernel = 3, Activation = Activation.Softmax)]", "1, 5, 5", ProblemIds.InvalidHyperParameter, "Activation", "[Conv2D] on 'L' cannot fuse Softmax; add a [Softmax] layer (over the last dimension) or flatten first")]
    [InlineData("[GlobalAvgPool]", "8", ProblemIds.RankMismatch, "", "GlobalAvgPool 'l' expects [channels, ...] but receives [8] from the model input")]
    public void Layer_Misconfigured_ReportsProblemAtArgument(string attribute, string input, string id, string argument, string message)
    {
        var problem = Problem($"{attribute} public partial Layer L {{ get; }}", input);
        Assert.Equal((id, "L", argument, message), (problem.Id, problem.Member, problem.Argument, problem.Message));
    }

    [Fact]
    public void Conv2D_NonSquare_WeightShapeAndFlopsMatchPyTorch()
    {
        // nn.Conv2d(2, 4, (3, 5), stride=(2, 1), padding=(1, 2)): weight [4, 2, 3, 5], output 4x5x11 on 2x9x11.
        var plan = PlanOf("[Conv2D(4, KernelHeight = 3, KernelWidth = 5, StrideHeight = 2, PaddingHeight = 1, PaddingWidth = 2)] public partial Layer L { get; }", "2, 9, 11");
        Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Message)));
        Assert.Equal(new[] { 4, 5, 11 }, plan.Shapes.Layers[0].Output.ToArray());
        Assert.Equal(new[] { 4, 2, 3, 5 }, plan.Shapes.Layers[0].Params[0].Shape);
        Assert.Equal(2L * 4 * 2 * 15 * 55, plan.Shapes.Layers[0].Flops);
    }

    [Fact]
    public void Add_MismatchedShapes_NamesBothSources()
    {
        var problem = Problem("""
            [Dense(64)] public partial Layer Fc1 { get; }
            [Dense(32, From = Layer.Input)] public partial Layer Fc2 { get; }
            [Add(nameof(Fc1), nameof(Fc2))] public partial Layer Merge1 { get; }
            """, "16");
        Assert.Equal(ProblemIds.MergeShapeMismatch, problem.Id);
        Assert.Equal("Add 'merge1' combines [64] from 'fc1' with [32] from 'fc2'", problem.Message);
    }

    [Fact]
    public void Concat_JoinsChannels()
    {
        var plan = PlanOf("""
            [Conv2D(3, Kernel = 3, Padding = 1)] public partial Layer A { get; }
            [Conv2D(5, Kernel = 1, From = Layer.Input)] public partial Layer B { get; }
            [Concat(nameof(A), nameof(B), Layer.Input)] public partial Layer Cat { get; }
            """, "2, 4, 4");
        Assert.True(plan.IsValid);
        Assert.Equal(new[] { 10, 4, 4 }, plan.Shapes.Layers[2].Output.ToArray());
        Assert.Equal(new[] { 0, 1, -1 }, plan.Shapes.Nodes[2].Inputs.ToArray());
    }

    [Theory]
    [InlineData("Nope", "Dense 'fc2' reads 'Nope', which is not a layer of 'M' (use nameof(...) or Layer.Input)")]
    [InlineData("Fc3", "Dense 'fc2' reads 'Fc3', which is declared after it (or is itself); layers run in declaration order")]
    [InlineData("Fc2", "Dense 'fc2' reads 'Fc2', which is declared after it (or is itself); layers run in declaration order")]
    public void From_UnknownLaterOrSelf_IsReported(string from, string message)
    {
        var problem = Problem($$"""
            [Dense(8)] public partial Layer Fc1 { get; }
            [Dense(8, From = "{{from}}")] public partial Layer Fc2 { get; }
            [Dense(8)] public partial Layer Fc3 { get; }
            """, "4");
        Assert.Equal((ProblemIds.UnknownSource, "Fc2", "From", message), (problem.Id, problem.Member, problem.Argument, problem.Message));
    }

    private const string Blocks = """
        [Model(4, 6, 6)]
        public partial class Same
        {
            [Conv2D(4, Kernel = 3, Padding = 1)] public partial Layer C1 { get; }
        }
        [Model(4, 6, 6)]
        public partial class Down
        {
            [Conv2D(8, Kernel = 3, Stride = 2, Padding = 1)] public partial Layer C1 { get; }
        }
        """;

    [Fact]
    public void Residual_WithProjection_AddsTorchvisionDownsample()
    {
        var plan = PlanOf("[Residual(Projection = true)] public partial Down B1 { get; }", "4, 6, 6", Blocks);
        Assert.True(plan.IsValid, string.Join("; ", plan.Shapes.Problems.Select(p => p.Message)));
        Assert.Equal(new[] { "b1.c1", "b1.downsample.0", "b1.downsample.1", "b1" }, plan.Shapes.Nodes.Select(n => n.Name));
        Assert.Equal(new[] { 8, 3, 3 }, plan.Shapes.Nodes[1].Output.ToArray());
        Assert.Equal(new[] { "b1.c1.weight", "b1.c1.bias", "b1.downsample.0.weight", "b1.downsample.1.weight", "b1.downsample.1.bias" },
            plan.Shapes.Layers[0].Params.Select(p => p.Name));
        Assert.Equal(new[] { "b1.downsample.1.running_mean", "b1.downsample.1.running_var", "b1.downsample.1.num_batches_tracked" },
            plan.Shapes.Layers[0].Buffers.Select(p => p.Name));
    }

    [Fact]
    public void Residual_ShapeChangeWithoutProjection_IsReported()
    {
        var problem = Problem("[Residual] public partial Down B1 { get; }", "4, 6, 6", Blocks);
        Assert.Equal(ProblemIds.ResidualShapeMismatch, problem.Id);
        Assert.Equal("Residual 'b1' adds the output [8, 3, 3] of 'Down' to its input [4, 6, 6]; set Projection = true to add a projection shortcut", problem.Message);
    }

    [Fact]
    public void Block_WrongInput_IsReported()
    {
        var problem = Problem("[Residual] public partial Same B1 { get; }", "3, 6, 6", Blocks);
        Assert.Equal("Block 'b1' (Same) expects input [4, 6, 6] but receives [3, 6, 6] from the model input", problem.Message);
    }

    [Fact]
    public void Block_ContainingItself_IsReported()
    {
        var plan = PlanOf("[Dense(2)] public partial Layer Fc { get; }", "4", """
            [Model(4)]
            public partial class Outer
            {
                public partial Inner A { get; }
            }
            [Model(4)]
            public partial class Inner
            {
                public partial Outer B { get; }
            }
            """);
        Assert.True(plan.IsValid); // M itself is fine; the cycle is reported on Outer and Inner
        var (_, result) = GeneratorRunner.Run("""
            using ModelGen;
            [Model(4)]
            public partial class Outer
            {
                public partial Inner A { get; }
            }
            [Model(4)]
            public partial class Inner
            {
                public partial Outer B { get; }
            }
            """);
        var plans = result.Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Plan].SelectMany(s => s.Outputs).Select(o => (ModelPlan)o.Value).ToList();
        var outer = Assert.Single(plans.Single(p => p.Spec.ClassName == "Outer").Shapes.Problems);
        Assert.Equal(ProblemIds.InvalidBlock, outer.Id);
        Assert.Equal("Block 'a' uses 'Inner', which is invalid: MG0010: Block 'b' makes 'Outer' contain itself (Outer -> Inner -> Outer)", outer.Message);
    }
}
