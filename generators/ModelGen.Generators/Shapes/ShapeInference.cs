// Shape inference: ModelSpec -> every layer's input/output shape, parameters and FLOPs, or the problems that
// make the model invalid. Pure and Roslyn-free, so the generator and the analyzers call the same function and
// can never disagree, and unit tests call it directly.
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;

namespace ModelGen.Generators.Shapes;

/// <summary>A named parameter tensor of a layer, PyTorch layout.</summary>
internal sealed record ParamSpec(string Name, string ShortName, EquatableArray<int> Shape)
{
    public int Length => Shape.Aggregate(1, (a, b) => a * b);
}

/// <summary>A layer with its inferred shapes (per example; batch excluded).</summary>
internal sealed record LayerShape(LayerSpec Layer, EquatableArray<int> Input, EquatableArray<int> Output, EquatableArray<ParamSpec> Params, long Flops)
{
    public int InputLength => Input.Aggregate(1, (a, b) => a * b);

    public int OutputLength => Output.Aggregate(1, (a, b) => a * b);
}

/// <summary>Result of shape inference: shapes for every layer that could be inferred, and the problems found.</summary>
internal sealed record ModelShapes(EquatableArray<LayerShape> Layers, EquatableArray<ModelProblem> Problems)
{
    public bool IsValid => Problems.Count == 0;
}

internal static class ShapeInference
{
    /// <summary>Infers shapes for <paramref name="spec"/>. Never throws on malformed input: problems are returned.</summary>
    public static ModelShapes Infer(ModelSpec spec)
    {
        var problems = new List<ModelProblem>(spec.Problems);
        var layers = new List<LayerShape>();

        // [Model(...)] arguments that could not be read were reported while parsing; an empty shape would only repeat that.
        if (spec.Problems.Any(p => p.Id == ProblemIds.UnboundAttribute && p.Member.Length == 0))
            return new ModelShapes(EquatableArray<LayerShape>.Empty, problems.ToEquatableArray());
        if (spec.InputShape.Count == 0 || spec.InputShape.Any(d => d <= 0))
        {
            problems.Add(new ModelProblem(ProblemIds.InvalidInputShape, "",
                $"Model '{spec.ClassName}' has input shape {Format(spec.InputShape)}; every dimension must be positive and at least one is required"));
            return new ModelShapes(EquatableArray<LayerShape>.Empty, problems.ToEquatableArray());
        }
        if (spec.Members.Count == 0 && !spec.Problems.Any(p => p.Member.Length > 0)) // a malformed layer member is still a layer
            problems.Add(new ModelProblem(ProblemIds.NoLayers, "", $"Model '{spec.ClassName}' declares no layers"));

        var seenNames = new HashSet<string>();
        int[] current = spec.InputShape.ToArray();
        string previous = "the model input";
        foreach (var member in spec.Members)
        {
            if (member.Layer is not { } layer) continue; // its problem was recorded while parsing
            if (!seenNames.Add(layer.Name))
                problems.Add(new ModelProblem(ProblemIds.DuplicateLayerName, member.PropertyName,
                    $"Layer '{member.PropertyName}' has the weight name '{layer.Name}', which another layer already uses"));

            var shape = InferLayer(layer, current, previous, member.PropertyName, problems);
            if (shape is null) break; // later shapes would only repeat this error
            layers.Add(shape);
            current = shape.Output.ToArray();
            previous = $"'{layer.Name}'";
        }
        return new ModelShapes(layers.ToEquatableArray(), problems.ToEquatableArray());
    }

    private static LayerShape? InferLayer(LayerSpec layer, int[] input, string from, string member, List<ModelProblem> problems)
    {
        var inShape = input.ToEquatableArray();
        switch (layer)
        {
            case DenseSpec dense:
            {
                if (dense.Units <= 0)
                {
                    problems.Add(new ModelProblem(ProblemIds.InvalidHyperParameter, member, "units",
                        $"Dense '{dense.Name}' has {dense.Units} units; units must be positive"));
                    return null;
                }
                if (input.Length != 1)
                {
                    problems.Add(new ModelProblem(ProblemIds.ExpectsFlatInput, member,
                        $"Dense '{dense.Name}' expects a flat input but receives {Format(input)} from {from}; add [Flatten] before it"));
                    return null;
                }
                int inFeatures = input[0];
                var ps = new List<ParamSpec> { new(dense.Name + ".weight", "weight", new[] { dense.Units, inFeatures }.ToEquatableArray()) };
                if (dense.UseBias) ps.Add(new ParamSpec(dense.Name + ".bias", "bias", new[] { dense.Units }.ToEquatableArray()));
                return new LayerShape(layer, inShape, new[] { dense.Units }.ToEquatableArray(), ps.ToEquatableArray(), 2L * inFeatures * dense.Units);
            }
            case ActivationSpec act:
                if (act.Activation == ActivationKind.LeakyReLU && (double.IsNaN(act.Slope) || double.IsInfinity(act.Slope)))
                {
                    problems.Add(new ModelProblem(ProblemIds.InvalidHyperParameter, member, "slope",
                        $"LeakyReLU '{act.Name}' has slope {act.Slope.ToString(CultureInfo.InvariantCulture)}; the slope must be a finite number"));
                    return null;
                }
                return new LayerShape(layer, inShape, inShape, EquatableArray<ParamSpec>.Empty, 0);
            case DropoutSpec drop:
                if (!(drop.P >= 0 && drop.P < 1))
                {
                    problems.Add(new ModelProblem(ProblemIds.InvalidHyperParameter, member, "p",
                        $"Dropout '{drop.Name}' has p = {drop.P.ToString(CultureInfo.InvariantCulture)}; p must be in [0, 1)"));
                    return null;
                }
                return new LayerShape(layer, inShape, inShape, EquatableArray<ParamSpec>.Empty, 0);
            case FlattenSpec:
                return new LayerShape(layer, inShape, new[] { input.Aggregate(1, (a, b) => a * b) }.ToEquatableArray(), EquatableArray<ParamSpec>.Empty, 0);
            default:
                problems.Add(new ModelProblem(ProblemIds.UnboundAttribute, member, $"Layer '{layer.Name}' of kind {layer.Kind} is not supported"));
                return null;
        }
    }

    /// <summary>Formats a shape as <c>[16, 5, 5]</c>.</summary>
    public static string Format(IEnumerable<int> shape) => "[" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
}
