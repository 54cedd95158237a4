// The planner's inference-time conv + max-pool fusion rule: a Conv2D read only by a 2×2/2 MaxPool2D fuses (and becomes
// a view with no step of its own); a convolution with a second reader, or a pool of another shape, does not.
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

    private static ModelPlan PlanOf(string source)
    {
        var (_, result) = GeneratorRunner.Run(source);
        return result.Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Plan].SelectMany(s => s.Outputs)
            .Select(o => (ModelPlan)o.Value).Single();
    }
}
