// The predictor's planning rules (Planning/PredictorPlan.cs): a BatchNorm folds into the Conv/Dense before it only when
// that layer has no activation and the BatchNorm is its only reader; a standalone activation becomes the epilogue of
// the Conv/Dense it alone reads (through a folded BatchNorm too); folded and fused layers get no step; and only
// fixed-shape models get a predictor file.
using ModelGen.Generators.Emitting;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests;

public class PredictorPlanTests
{
    [Fact]
    public void Plan_ResidualBlocks_FoldEachBatchNormAndFuseTheReluAfterIt()
    {
        var plan = PlanOf(Samples.Residual, "TinyResNet");
        var nodes = plan.Shapes.Nodes;
        var predictor = PredictorPlanner.Plan(plan)!;
        string Name(int i) => nodes[i].Name;
        Assert.Equal(new[] { ("layer1.conv1", "layer1.bn1"), ("layer1.conv2", "layer1.bn2"), ("layer2.downsample.0", "layer2.downsample.1") },
            predictor.Folds.Select(f => (Name(f.Target), Name(f.Norm))).ToArray());
        // relu1 reads the residual add, not a convolution: it stays a step of its own.
        Assert.Equal(new[] { ("layer1.conv1", "layer1.relu") }, predictor.Epilogues.Select(e => (Name(e.Target), Name(e.Activation))).ToArray());
        var stepNames = predictor.Steps.Select(s => Name(s.Node)).ToList();
        Assert.DoesNotContain("layer1.bn1", stepNames);
        Assert.DoesNotContain("layer1.relu", stepNames);
        Assert.Contains("relu1", stepNames);
        // A folded convolution without bias gets one; the predictor never stores the BatchNorm's own tensors.
        int conv1 = Enumerable.Range(0, nodes.Count).Single(i => Name(i) == "layer1.conv1");
        Assert.NotNull(predictor.Find(conv1, "bias"));
        Assert.DoesNotContain(predictor.Tensors, t => Name(t.Node).Contains("bn"));
        Assert.Equal(predictor.Tensors.Sum(t => t.Length), predictor.WeightsLength);
    }

    [Fact]
    public void Plan_BatchNormAfterActivationOrSharedOutput_StaysUnfolded()
    {
        var plan = PlanOf("""
            using ModelGen;

            namespace Demo;

            [Model(3, 6, 6)]
            public partial class NoFold
            {
                [Conv2D(4, Kernel = 3, Padding = 1, Activation = Activation.ReLU)] public partial Layer C1 { get; }
                [BatchNorm2D] public partial Layer Bn1 { get; }
                [Conv2D(4, Kernel = 3, Padding = 1)] public partial Layer C2 { get; }
                [BatchNorm2D] public partial Layer Bn2 { get; }
                [Add(nameof(C2), nameof(Bn2))] public partial Layer Sum { get; }
                [Tanh] public partial Layer Act { get; }
                [Flatten] public partial Layer Flat { get; }
                [Dense(3)] public partial Layer Out { get; }
            }
            """, "NoFold");
        var predictor = PredictorPlanner.Plan(plan)!;
        Assert.Empty(predictor.Folds);      // C1 has an activation; C2 is read by Bn2 and by Sum
        Assert.Empty(predictor.Epilogues);  // Act reads the add
        var nodes = plan.Shapes.Nodes;
        int bn1 = Enumerable.Range(0, nodes.Count).Single(i => nodes[i].Name == "bn1");
        Assert.Equal(new[] { "weight", "bias", "running_mean", "running_var" },
            predictor.Tensors.Where(t => t.Node == bn1).Select(t => t.ShortName).ToArray());
        Assert.Contains(predictor.Steps, s => s.Node == bn1);
    }

    [Fact]
    public void Emit_OneInputSequenceModel_HasASequencePredictor_TwoInputModelHasNone()
    {
        var (_, tagger) = GeneratorRunner.Run(Samples.Tagger);
        var taggerPredictor = Assert.Single(tagger.Results.Single().GeneratedSources, s => s.HintName == "Demo.Tagger.Predictor.g.cs");
        Assert.Contains("global::ModelGen.ISequencePredictor<int>", taggerPredictor.SourceText.ToString());
        var (_, mlp) = GeneratorRunner.Run(Samples.Mlp);
        Assert.Contains(mlp.Results.Single().GeneratedSources, s => s.HintName == "Demo.Mlp.Predictor.g.cs");
        // The fixed-shape planner still declines sequence models: they take the sequence predictor's emitter.
        Assert.Null(PredictorPlanner.Plan(PlanOf(Samples.Tagger, "Tagger")));
        var (_, seq2seq) = GeneratorRunner.Run(Samples.TwoInputSeq2Seq);
        Assert.DoesNotContain(seq2seq.Results.Single().GeneratedSources, s => s.HintName.EndsWith(".Predictor.g.cs", StringComparison.Ordinal));
    }

    private static ModelPlan PlanOf(string source, string className)
    {
        var (_, result) = GeneratorRunner.Run(source);
        return result.Results.Single().TrackedSteps[ModelGenerator.TrackingNames.Plan].SelectMany(s => s.Outputs)
            .Select(o => (ModelPlan)o.Value).Single(p => p.Spec.ClassName == className);
    }
}
