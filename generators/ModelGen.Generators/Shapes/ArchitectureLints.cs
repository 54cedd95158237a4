// Architecture lints: warnings for models that are legal (shape inference succeeded) but almost certainly wrong.
// Pure and Roslyn-free like ShapeInference, so tests call it directly and the analyzer reports exactly what it
// returns. Runs only on valid models: on an invalid one the shapes are partial and the errors matter more.
// Each rule is justified on its help page, docs/diagnostics/MG02xx.md.
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;

namespace ModelGen.Generators.Shapes;

internal static class ArchitectureLints
{
    /// <summary>
    /// Parameterised layers a plain stack may have before it counts as deep (MG0204, MG0205). Past about ten layers
    /// without normalisation or residuals, gradient magnitudes drift by a constant factor per layer (Glorot and
    /// Bengio 2010; He et al. 2016 saw plain 20- and 56-layer nets train worse than shallower ones).
    /// </summary>
    public const int DeepStackLayers = 10;

    /// <summary>The warnings for <paramref name="spec"/> with its inferred <paramref name="shapes"/>; empty for an invalid model.</summary>
    public static EquatableArray<ModelProblem> Analyze(ModelSpec spec, ModelShapes shapes)
    {
        if (!shapes.IsValid || shapes.Layers.Count == 0) return EquatableArray<ModelProblem>.Empty;

        // Pair each layer with its member: valid models have exactly one shape per member, in order.
        var layers = new List<(string Member, LayerShape Shape)>();
        int next = 0;
        foreach (var member in spec.Members)
        {
            if (member.Layer is null || next >= shapes.Layers.Count) return EquatableArray<ModelProblem>.Empty;
            layers.Add((member.PropertyName, shapes.Layers[next++]));
        }
        if (next != shapes.Layers.Count) return EquatableArray<ModelProblem>.Empty;

        var problems = new List<ModelProblem>();
        RepeatedSquashing(layers, problems);
        OutputHead(spec, layers, problems);
        DeepStacks(spec, layers, problems);
        InitialiserMismatches(layers, problems);
        BiasBeforeBatchNorm(layers, problems);
        return problems.ToEquatableArray();
    }

    /// <summary>MG0201: Softmax after Softmax, Sigmoid after Sigmoid (looking through shape-only layers).</summary>
    private static void RepeatedSquashing(List<(string Member, LayerShape Shape)> layers, List<ModelProblem> problems)
    {
        ActivationKind applied = ActivationKind.None; // what the current tensor last went through
        string appliedBy = "";
        foreach (var (member, shape) in layers)
        {
            var layer = shape.Layer;
            if (IsShapeOnly(layer)) continue;
            var activation = FinalActivation(layer);
            if (layer is ActivationSpec && activation is ActivationKind.Softmax or ActivationKind.Sigmoid && activation == applied)
                problems.Add(new ModelProblem(ProblemIds.RepeatedSquashing, member,
                    $"{activation} '{layer.Name}' is applied to the output of '{appliedBy}', which already applied {activation}; remove one of them"));
            applied = activation;
            appliedBy = layer.Name;
        }
    }

    /// <summary>MG0202 (ends in Softmax) and MG0203 (ends in Dropout).</summary>
    private static void OutputHead(ModelSpec spec, List<(string Member, LayerShape Shape)> layers, List<ModelProblem> problems)
    {
        var (lastMember, lastShape) = layers[layers.Count - 1];
        if (lastShape.Layer is DropoutSpec dropout)
            problems.Add(new ModelProblem(ProblemIds.DropoutLast, lastMember,
                $"Dropout '{dropout.Name}' is the last layer of '{spec.ClassName}'; it randomly zeroes the model's outputs during training, so put it before the last parameterised layer"));

        for (int i = layers.Count - 1; i >= 0; i--)
        {
            var (member, shape) = layers[i];
            if (IsShapeOnly(shape.Layer)) continue;
            if (FinalActivation(shape.Layer) == ActivationKind.Softmax)
                problems.Add(new ModelProblem(ProblemIds.SoftmaxOutput, member, shape.Layer is DenseSpec ? "Activation" : "",
                    $"Model '{spec.ClassName}' ends in Softmax ('{shape.Layer.Name}'); Loss.CrossEntropy takes logits and applies log-softmax itself, so return logits and apply Softmax only where probabilities are needed"));
            break;
        }
    }

    /// <summary>MG0204 (deep plain stack) and MG0205 (saturating hidden activations in it).</summary>
    private static void DeepStacks(ModelSpec spec, List<(string Member, LayerShape Shape)> layers, List<ModelProblem> problems)
    {
        int depth = layers.Count(l => l.Shape.Params.Count > 0);
        if (depth <= DeepStackLayers) return;
        if (layers.Any(l => IsNormalisationOrResidual(l.Shape.Layer))) return;

        problems.Add(new ModelProblem(ProblemIds.DeepPlainStack, "",
            $"Model '{spec.ClassName}' stacks {depth} parameterised layers with no normalisation or residual connection; plain stacks deeper than {DeepStackLayers} layers train poorly"));

        // A saturating activation is hidden when a parameterised layer still follows it: its derivative then
        // scales the gradient of every earlier layer.
        int remaining = depth;
        foreach (var (member, shape) in layers)
        {
            if (shape.Params.Count > 0) remaining--;
            if (remaining == 0) break;
            var activation = FinalActivation(shape.Layer);
            if (activation is not (ActivationKind.Sigmoid or ActivationKind.Tanh)) continue;
            problems.Add(new ModelProblem(ProblemIds.SaturatingHiddenActivation, member, shape.Layer is DenseSpec ? "Activation" : "",
                $"{activation} in '{shape.Layer.Name}' is a saturating hidden activation in a stack of {depth} parameterised layers; its gradient vanishes with depth, use ReLU, GELU or SiLU"));
        }
    }

    /// <summary>MG0206: Xavier before ReLU/LeakyReLU, He before Tanh/Sigmoid.</summary>
    private static void InitialiserMismatches(List<(string Member, LayerShape Shape)> layers, List<ModelProblem> problems)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i].Shape.Layer is not DenseSpec dense) continue;
            var activation = dense.Activation;
            if (activation == ActivationKind.None)
            {
                // The activation that reads this layer's output: the next layer, through dropout/flatten.
                for (int j = i + 1; j < layers.Count; j++)
                {
                    var layer = layers[j].Shape.Layer;
                    if (IsShapeOnly(layer)) continue;
                    if (layer is ActivationSpec standalone) activation = standalone.Activation;
                    break;
                }
            }

            bool xavier = dense.Init is InitKind.XavierUniform or InitKind.XavierNormal;
            bool he = dense.Init is InitKind.HeUniform or InitKind.HeNormal;
            bool uniform = dense.Init is InitKind.XavierUniform or InitKind.HeUniform;
            if (xavier && activation is ActivationKind.ReLU or ActivationKind.LeakyReLU)
                problems.Add(new ModelProblem(ProblemIds.InitActivationMismatch, layers[i].Member, "Init",
                    $"Dense '{dense.Name}' uses Init.{dense.Init} but feeds {activation}; Xavier assumes a symmetric activation and lets ReLU halve the signal variance at every layer, use Init.{(uniform ? InitKind.HeUniform : InitKind.HeNormal)}"));
            else if (he && activation is ActivationKind.Tanh or ActivationKind.Sigmoid)
                problems.Add(new ModelProblem(ProblemIds.InitActivationMismatch, layers[i].Member, "Init",
                    $"Dense '{dense.Name}' uses Init.{dense.Init} but feeds {activation}; He's doubled variance drives {activation} into saturation, use Init.{(uniform ? InitKind.XavierUniform : InitKind.XavierNormal)}"));
        }
    }

    /// <summary>
    /// MG0207: a Conv/Dense bias feeding BatchNorm directly. BatchNorm subtracts the per-channel batch mean, which
    /// removes any per-channel constant, so the bias never changes the output and its gradient is zero (ResNet and
    /// torchvision use bias=False before BatchNorm). An activation in between keeps the bias meaningful.
    /// </summary>
    private static void BiasBeforeBatchNorm(List<(string Member, LayerShape Shape)> layers, List<ModelProblem> problems)
    {
        for (int i = 0; i + 1 < layers.Count; i++)
        {
            var layer = layers[i].Shape.Layer;
            bool biasedLinear = layer is DenseSpec { UseBias: true, Activation: ActivationKind.None } or ConvSpec { UseBias: true, Activation: ActivationKind.None };
            if (!biasedLinear || layers[i + 1].Shape.Layer is not BatchNormSpec norm) continue;
            problems.Add(new ModelProblem(ProblemIds.BiasBeforeNormalisation, layers[i].Member, "UseBias",
                $"{layer.Kind} '{layer.Name}' has a bias, but {norm.Kind} '{norm.Name}' right after it subtracts the batch mean and cancels it; set UseBias = false"));
        }
    }

    /// <summary>The activation a layer's output has gone through last; None for a layer ending in a linear map.</summary>
    private static ActivationKind FinalActivation(LayerSpec layer) => layer switch
    {
        DenseSpec dense => dense.Activation,
        ConvSpec conv => conv.Activation,
        ActivationSpec act => act.Activation,
        _ => ActivationKind.None,
    };

    /// <summary>Layers that move or mask values without transforming them, so lints look through them.</summary>
    private static bool IsShapeOnly(LayerSpec layer) => layer is DropoutSpec or FlattenSpec;

    /// <summary>Whether a layer normalises activations or adds a skip path (a residual block, or an Add merge).</summary>
    private static bool IsNormalisationOrResidual(LayerSpec layer) =>
        layer is BatchNormSpec or GroupNormSpec or InstanceNormSpec or BlockSpec { Residual: true } or MergeSpec { IsConcat: false };
}
