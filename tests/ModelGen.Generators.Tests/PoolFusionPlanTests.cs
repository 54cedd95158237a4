// The planner's inference-time fusion rules: a Conv2D read only by a 2×2/2 MaxPool2D fuses (and becomes a view with no
// step of its own); a convolution with a second reader, or a pool of another shape, does not. A Dense without activation
// read only by a two-operand Add fuses into it; the add then runs in place only over its skip operand.
using ModelGen.Generators.Planning;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests;

public class PoolFusionPlanTests
{
    [Fact]
    public void Plan_ConvsReadOnlyByMaxPool2x2_FuseAndLoseTheirSteps()
    {
        var plan = PlanOf(Samples.LeNet);
        Assert.Equal(new[] { new PoolFusion(0, 1), new PoolFusion(2, 3) }, plan.PoolFusions.ToArray());
        Assert.DoesNotContain(plan.Inference, s => s.Node is 0 or 2);
    }

    [Fact]
    public void Plan_ConvWithASecondReaderOrOtherPool_DoesNotFuse()
    {
        var plan = PlanOf("""
            using ModelGen;

            namespace Demo;

            [Model(2, 12, 12)]
            public partial class NoFusion
            {
                [Conv2D(4, Kernel = 3, Padding = 1)] public partial Layer C1 { get; }
                [MaxPool2D(2)] public partial Layer P1 { get; }
                [AvgPool2D(2, From = nameof(C1))] public partial Layer A1 { get; }
                [Add(nameof(P1), nameof(A1))] public partial Layer Sum { get; }
                [Conv2D(4, Kernel = 3, Padding = 1)] public partial Layer C2 { get; }
                [MaxPool2D(3, Stride = 2)] public partial Layer P2 { get; }
                [Flatten] public partial Layer Flat { get; }
                [Dense(2)] public partial Layer Out { get; }
            }
            """);
        Assert.True(plan.IsValid);
        Assert.Empty(plan.PoolFusions);
    }

    [Fact]
    public void Plan_DenseReadOnlyByAdd_FusesAndTheAddOverwritesOnlyItsSkip()
    {
        var plan = PlanOf("""
            using ModelGen;

            namespace Demo;

            [Model(20)]
            public partial class ResidualMlp
            {
                [Dense(24, Activation = Activation.ReLU)] public partial Layer H1 { get; }
                [Dense(24)] public partial Layer F1 { get; }
                [Add(nameof(H1), nameof(F1))] public partial Layer Sum1 { get; }
                [Dense(17, Activation = Activation.Tanh)] public partial Layer H2 { get; }
                [Dense(24)] public partial Layer G { get; }
                [Add(nameof(G), nameof(Sum1))] public partial Layer Sum2 { get; }
                [Dense(24, Activation = Activation.ReLU)] public partial Layer Act { get; }
                [Add(nameof(Act), nameof(Sum2))] public partial Layer NotFused { get; }
                [Dense(5)] public partial Layer Out { get; }
            }
            """);
        Assert.Equal(new[] { new ResidualFusion(1, 2, 0), new ResidualFusion(4, 5, 1) }, plan.ResidualFusions.ToArray());
        Assert.DoesNotContain(plan.Inference, s => s.Node is 1 or 4);
        var sum1 = plan.Inference.Single(s => s.Node == 2);
        var sum2 = plan.Inference.Single(s => s.Node == 5);
        // Sum1 = H1 + F1(H1): F1 reads H1 until the end, so the add must not write over H1.
        Assert.NotEqual(sum1.Sources[0], sum1.Destination);
        // Sum2 = G(H2) + Sum1: Sum1 dies here, so the add accumulates onto it in place, never over H2 (G's input).
        Assert.Equal(sum2.Sources[1], sum2.Destination);
        Assert.NotEqual(sum2.Sources[0], sum2.Destination);
    }

    private static ModelPlan PlanOf(string source)
    {
        var (_, result) = GeneratorRunner.Run(source);
        return result.Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Plan].SelectMany(s => s.Outputs)
            .Select(o => (ModelPlan)o.Value).Single();
    }
}
