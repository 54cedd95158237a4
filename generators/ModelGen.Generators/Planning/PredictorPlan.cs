// Planning the predictor: the immutable inference snapshot a model creates with CreatePredictor() (ONNX Runtime's
// session). Pure and Roslyn-free, derived from the model's plan.
//
// What differs from the model's own Forward, which reads the parameters live:
//  * BatchNorm folds into the Conv/Dense before it when that layer has no activation and nothing else reads its output
//    (weight' = w·γ/√(var+ε), bias' = (b − mean)·γ/√(var+ε) + β, computed once when the predictor is created); the
//    BatchNorm is then a view, with no step and no buffer of its own.
//  * Every weight and bias the predictor reads lives in its own buffer, copied once; dense weights are packed once
//    into the GEMM's panel layout (a runtime object, since the layout depends on the machine's vector width).
//  * A standalone activation that alone reads a Conv/Dense without activation (directly or through a folded BatchNorm)
//    runs as that layer's fused epilogue (Conv + BatchNorm + ReLU becomes one convolution), and is a view too.
//  * The arena plan is redone with the folded BatchNorms and fused activations as views (the model's pool and residual fusions still apply:
//    a fold needs its layer's only reader to be the BatchNorm, a fusion needs it to be the pool or the add).
// Only fixed-shape models get a predictor; the layers they can hold are Dense, Conv, BatchNorm, LayerNorm and the
// parameter-free kinds.
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;
using ModelGen.Generators.Shapes;

namespace ModelGen.Generators.Planning;

/// <summary>BatchNorm node <paramref name="Norm"/> folded into the Conv/Dense node <paramref name="Target"/> it follows.</summary>
internal sealed record PredictorFold(int Target, int Norm);

/// <summary>Standalone activation node <paramref name="Activation"/> fused into the epilogue of the Conv/Dense node <paramref name="Target"/>.</summary>
internal sealed record PredictorEpilogue(int Target, int Activation);

/// <summary>
/// A tensor of the predictor's weight buffer: parameter <paramref name="ShortName"/> of node <paramref name="Node"/>
/// (a folded layer's weight and bias hold the folded values; a folded layer without bias gets one) at
/// <paramref name="Offset"/>, <paramref name="Length"/> floats.
/// </summary>
internal sealed record PredictorTensor(int Node, string ShortName, int Offset, int Length);

/// <summary>The predictor's schedule and weight layout (see the file header).</summary>
/// <param name="Steps">Inference steps over the predictor's arena slots (folded BatchNorms are views).</param>
/// <param name="CopiesInput">Every layer is a view: the output is the input.</param>
/// <param name="Slots">Arena slots of <c>SlotLength</c> floats per example.</param>
/// <param name="Folds">BatchNorms folded into the layer before them.</param>
/// <param name="Epilogues">Standalone activations fused into the layer before them.</param>
/// <param name="Tensors">What the weight buffer holds, in node order.</param>
/// <param name="WeightsLength">Floats of the weight buffer.</param>
/// <param name="PackedDense">Dense nodes whose weight is held packed (every Dense).</param>
/// <param name="MaxBatch">The largest batch a call accepts (the model's, or less if the predictor's arena is larger).</param>
internal sealed record PredictorPlan(
    EquatableArray<InferenceStep> Steps,
    bool CopiesInput,
    int Slots,
    EquatableArray<PredictorFold> Folds,
    EquatableArray<PredictorEpilogue> Epilogues,
    EquatableArray<PredictorTensor> Tensors,
    int WeightsLength,
    EquatableArray<int> PackedDense,
    int MaxBatch)
{
    /// <summary>The tensor holding parameter <paramref name="shortName"/> of <paramref name="node"/>, or null.</summary>
    public PredictorTensor? Find(int node, string shortName) => Tensors.FirstOrDefault(t => t.Node == node && t.ShortName == shortName);

    /// <summary>The fold whose target is <paramref name="node"/>, or null.</summary>
    public PredictorFold? FoldInto(int node) => Folds.FirstOrDefault(f => f.Target == node);

    /// <summary>The standalone activation fused into <paramref name="node"/>, or null.</summary>
    public PredictorEpilogue? EpilogueOf(int node) => Epilogues.FirstOrDefault(e => e.Target == node);
}

internal static class PredictorPlanner
{
    /// <summary>Plans the predictor of a valid fixed-shape model; null for a sequence model or one holding a layer the predictor does not run.</summary>
    public static PredictorPlan? Plan(ModelPlan plan)
    {
        if (!plan.IsValid || plan.IsSequence || plan.Shapes.Nodes.Count == 0) return null;
        var nodes = plan.Shapes.Nodes;
        if (nodes.Any(n => (n.Params.Count > 0 || n.Buffers.Count > 0) && n.Layer is not (DenseSpec or ConvSpec or BatchNormSpec or LayerNormSpec or PReLUSpec or GroupNormSpec or InstanceNormSpec))) return null;

        var folds = PlanFolds(nodes);
        var folded = new HashSet<int>(folds.Select(f => f.Norm));
        var epilogues = PlanEpilogues(nodes, folds);
        var views = new HashSet<int>(folded.Concat(epilogues.Select(e => e.Activation))
            .Concat(plan.PoolFusions.Select(f => f.Conv)).Concat(plan.ResidualFusions.Select(f => f.Dense)));
        var inPlaceInput = plan.ResidualFusions.ToDictionary(f => f.Add, f => f.Skip);
        var (steps, copies, slots) = Planner.PlanInference(nodes, views, inPlaceInput);

        var tensors = new List<PredictorTensor>();
        int length = 0;
        void Add(int node, string shortName, int count)
        {
            tensors.Add(new PredictorTensor(node, shortName, length, count));
            length += count;
        }
        for (int i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            bool isTarget = folds.Any(f => f.Target == i);
            switch (node.Layer)
            {
                case ConvSpec conv:
                    Add(i, "weight", node.Params[0].Length);
                    if (conv.UseBias || isTarget) Add(i, "bias", conv.OutChannels);
                    break;
                case DenseSpec dense:
                    if (dense.UseBias || isTarget) Add(i, "bias", dense.Units);
                    break;
                case BatchNormSpec or LayerNormSpec or PReLUSpec or GroupNormSpec or InstanceNormSpec when !folded.Contains(i):
                    // Parameters, then the running statistics (buffers; counters are not needed for inference).
                    foreach (var param in node.Params.Concat(node.Buffers.Where(b => !b.IsCount))) Add(i, param.ShortName, param.Length);
                    break;
            }
        }
        var packed = Enumerable.Range(0, nodes.Count).Where(i => nodes[i].Layer is DenseSpec).ToEquatableArray();

        long perExample = (long)slots * plan.SlotLength;
        int maxBatch = perExample <= 0 ? plan.MaxBatch : (int)System.Math.Min(plan.MaxBatch, ModelPlan.MaxArrayLength / perExample);
        return new PredictorPlan(steps, copies, slots, folds, epilogues, tensors.ToEquatableArray(), length, packed, maxBatch);
    }

    /// <summary>BatchNorm folds into the Conv/Dense before it when that layer has no activation and nothing else reads its output.</summary>
    private static EquatableArray<PredictorFold> PlanFolds(EquatableArray<GraphNode> nodes)
    {
        var folds = new List<PredictorFold>();
        for (int j = 0; j < nodes.Count; j++)
        {
            if (nodes[j].Layer is not BatchNormSpec || nodes[j].Inputs[0] is not (var i and >= 0)) continue;
            bool linear = nodes[i].Layer is ConvSpec { Activation: ActivationKind.None } or DenseSpec { Activation: ActivationKind.None };
            if (linear && nodes.Count(n => n.Inputs.Contains(i)) == 1) folds.Add(new PredictorFold(i, j));
        }
        return folds.ToEquatableArray();
    }

    /// <summary>
    /// A standalone elementwise activation (not Softmax, which needs whole rows) fuses into the Conv/Dense its input comes
    /// from, directly or through a folded BatchNorm, when that layer has no activation and every tensor on the way has
    /// the activation as its only reader. (Pool- and residual-fused layers never qualify: their only reader is the pool or the add.)
    /// </summary>
    private static EquatableArray<PredictorEpilogue> PlanEpilogues(EquatableArray<GraphNode> nodes, EquatableArray<PredictorFold> folds)
    {
        var epilogues = new List<PredictorEpilogue>();
        int Readers(int tensor) => nodes.Count(n => n.Inputs.Contains(tensor));
        for (int a = 0; a < nodes.Count; a++)
        {
            if (nodes[a].Layer is not ActivationSpec { Activation: not ActivationKind.Softmax } || nodes[a].Inputs[0] is not (var source and >= 0)) continue;
            if (Readers(source) != 1) continue;
            int target = folds.FirstOrDefault(f => f.Norm == source)?.Target ?? source;   // a folded BatchNorm is its target's output
            if (nodes[target].Layer is ConvSpec { Activation: ActivationKind.None } or DenseSpec { Activation: ActivationKind.None })
                epilogues.Add(new PredictorEpilogue(target, a));
        }
        return epilogues.ToEquatableArray();
    }
}
