using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;
using ModelGen.CodeFixes;

namespace ModelGen.Generators.Tests.Diagnostics;

/// <summary>Each fixer, before and after; the fixed code is re-analyzed and must carry only the diagnostics marked in it.</summary>
public class CodeFixTests
{
    [Fact]
    public Task SwapConvolutionArguments_KernelAndChannelsSwapped_SwapsThem()
    {
        var test = new ModelCodeFixTest<SwapConvolutionArgumentsCodeFixProvider>("""
            using ModelGen;
            [Model(1, 28, 28)]
            public partial class Net
            {
                [Conv2D(5, {|MG0104:Kernel = 32|})] public partial Layer C1 { get; }
            }
            """, """
            using ModelGen;
            [Model(1, 28, 28)]
            public partial class Net
            {
                [Conv2D(32, Kernel = 5)] public partial Layer C1 { get; }
            }
            """);
        return test.RunAsync();
    }

    [Fact]
    public Task SwapConvolutionArguments_ImplausibleKernel_NoFixOffered()
    {
        // 16 channels is not a kernel size anyone means: no swap is offered, the code stays as it is.
        const string source = """
            using ModelGen;
            [Model(1, 5, 5)]
            public partial class Net
            {
                [Conv2D(16, {|MG0104:Kernel = 7|})] public partial Layer C1 { get; }
            }
            """;
        var test = new ModelCodeFixTest<SwapConvolutionArgumentsCodeFixProvider>(source, source);
        return test.RunAsync();
    }

    [Fact]
    public Task AddPartial_ClassWithoutModifiers_InsertsPartialBeforeClass()
    {
        var test = new ModelCodeFixTest<AddPartialCodeFixProvider>("""
            using ModelGen;
            [Model(4)]
            class {|MG0001:Net|}
            {
                [Dense(2)] public partial Layer Fc { get; }
            }
            """, """
            using ModelGen;
            [Model(4)]
            partial class Net
            {
                [Dense(2)] public partial Layer Fc { get; }
            }
            """);
        return test.RunAsync();
    }

    [Fact]
    public Task AddPartial_PublicSealedClass_AppendsPartialAfterModifiers()
    {
        var test = new ModelCodeFixTest<AddPartialCodeFixProvider>("""
            using ModelGen;
            [Model(4)]
            public sealed class {|MG0001:Net|}
            {
                [Dense(2)] public partial Layer Fc { get; }
            }
            """, """
            using ModelGen;
            [Model(4)]
            public sealed partial class Net
            {
                [Dense(2)] public partial Layer Fc { get; }
            }
            """);
        return test.RunAsync();
    }

    [Fact]
    public Task AddPartial_NestedInNonPartialTypes_MakesContainersPartial()
    {
        var test = new ModelCodeFixTest<AddPartialCodeFixProvider>("""
            using ModelGen;
            public static class Models
            {
                internal class Group
                {
                    [Model(4)]
                    public partial class {|MG0002:{|MG0002:Net|}|}
                    {
                        [Dense(2)] public partial Layer Fc { get; }
                    }
                }
            }
            """, """
            using ModelGen;
            public static partial class Models
            {
                internal partial class Group
                {
                    [Model(4)]
                    public partial class Net
                    {
                        [Dense(2)] public partial Layer Fc { get; }
                    }
                }
            }
            """);
        return test.RunAsync();
    }

    [Fact]
    public Task AddPartial_GetOnlyAutoProperty_BecomesPartialProperty()
    {
        var test = new ModelCodeFixTest<AddPartialCodeFixProvider>("""
            using ModelGen;
            [Model(4)]
            public partial class Net
            {
                [Dense(8)] public partial Layer Fc1 { get; }
                [Dense(2)] public Layer {|MG0003:Fc2|} { get; }
            }
            """, """
            using ModelGen;
            [Model(4)]
            public partial class Net
            {
                [Dense(8)] public partial Layer Fc1 { get; }
                [Dense(2)] public partial Layer Fc2 { get; }
            }
            """);
        return test.RunAsync();
    }

    [Fact]
    public Task AddPartial_PropertyWithSetter_OffersNoFix()
    {
        const string source = """
            using ModelGen;
            [Model(4)]
            public partial class Net
            {
                [Dense(2)] public Layer {|MG0003:Fc|} { get; set; }
            }
            """;
        return new ModelCodeFixTest<AddPartialCodeFixProvider>(source, source).RunAsync();
    }

    [Fact]
    public Task InsertFlatten_DenseOnImage_AddsFlattenMemberAbove()
    {
        var test = new ModelCodeFixTest<InsertFlattenCodeFixProvider>("""
            using ModelGen;

            namespace Demo;

            [Model(16, 5, 5)]
            public partial class Lenet
            {
                [{|MG0101:Dense(120, Activation = Activation.ReLU)|}] public partial Layer Fc1 { get; }
                [Dense(10)] public partial Layer Fc2 { get; }
            }
            """, """
            using ModelGen;

            namespace Demo;

            [Model(16, 5, 5)]
            public partial class Lenet
            {
                [Flatten] public partial Layer Flatten1 { get; }
                [Dense(120, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
                [Dense(10)] public partial Layer Fc2 { get; }
            }
            """);
        return test.RunAsync();
    }

    [Fact]
    public Task InsertFlatten_QualifiedAttributeAndTakenName_KeepsQualificationAndPicksFreeName()
    {
        var test = new ModelCodeFixTest<InsertFlattenCodeFixProvider>("""
            [ModelGen.Model(2, 3)]
            internal partial class Net
            {
                [ModelGen.ReLU] internal partial ModelGen.Layer Flatten1 { get; }
                [{|MG0101:ModelGen.Dense(4)|}] internal partial ModelGen.Layer Fc { get; }
            }
            """, """
            [ModelGen.Model(2, 3)]
            internal partial class Net
            {
                [ModelGen.ReLU] internal partial ModelGen.Layer Flatten1 { get; }
                [ModelGen.Flatten] internal partial ModelGen.Layer Flatten2 { get; }
                [ModelGen.Dense(4)] internal partial ModelGen.Layer Fc { get; }
            }
            """);
        return test.RunAsync();
    }

    [Fact]
    public Task RemoveRepeated_SoftmaxAfterFusedSoftmax_RemovesStandaloneLayer()
    {
        var test = new ModelCodeFixTest<RemoveRepeatedActivationCodeFixProvider>("""
            using ModelGen;
            [Model(4)]
            public partial class Net
            {
                [Dense(3, Activation = Activation.Softmax)] public partial Layer Head { get; }
                [{|MG0201:{|MG0202:Softmax|}|}] public partial Layer Probs { get; }
            }
            """, """
            using ModelGen;
            [Model(4)]
            public partial class Net
            {
                [Dense(3, {|MG0202:Activation = Activation.Softmax|})] public partial Layer Head { get; }
            }
            """);
        // MG0202 (the model ends in Softmax) stays, and moves to 'head' once 'probs' is gone.
        return test.RunAsync();
    }

    [Fact]
    public Task RemoveRepeated_SigmoidTwice_RemovesSecondSigmoid()
    {
        var test = new ModelCodeFixTest<RemoveRepeatedActivationCodeFixProvider>("""
            using ModelGen;
            [Model(4)]
            public partial class Net
            {
                [Sigmoid] public partial Layer First { get; }
                [{|MG0201:Sigmoid|}] public partial Layer Second { get; }
                [Dense(2)] public partial Layer Out { get; }
            }
            """, """
            using ModelGen;
            [Model(4)]
            public partial class Net
            {
                [Sigmoid] public partial Layer First { get; }
                [Dense(2)] public partial Layer Out { get; }
            }
            """);
        return test.RunAsync();
    }
}
