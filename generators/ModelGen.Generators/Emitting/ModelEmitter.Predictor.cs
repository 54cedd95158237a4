// The predictor: {Hint}.Predictor.g.cs, for fixed-shape models only. CreatePredictor() copies the model's parameters
// once into a nested, immutable Predictor (BatchNorm folded into the layer before it, dense weights packed for the
// GEMM microkernel; see Planning/PredictorPlan.cs), whose Forward follows the predictor plan's arena schedule. Layers
// with parameters are emitted here against the predictor's own buffer; parameter-free layers reuse the model's
// emitter (EmitNodeForward), which reads no parameters for them.
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Shapes;
using static ModelGen.Generators.Emitting.EmitNames;

namespace ModelGen.Generators.Emitting;

internal static partial class ModelEmitter
{
    /// <summary>
    /// The predictor file: a fixed-shape model's (unless it holds a layer that predictor does not run), or a one-input
    /// sequence model's (ModelEmitter.SequencePredictor.cs).
    /// </summary>
    private static IEnumerable<GeneratedFile> PredictorFiles(ModelPlan plan)
    {
        if (PredictorPlanner.Plan(plan) is { } predictor)
            yield return new GeneratedFile(plan.Spec.HintName + ".Predictor.g.cs", EmitPredictor(plan, predictor));
        else if (HasSequencePredictor(plan))
            yield return new GeneratedFile(plan.Spec.HintName + ".Predictor.g.cs", EmitSequencePredictor(plan));
    }

    private static string EmitPredictor(ModelPlan plan, PredictorPlan predictor)
    {
        var spec = plan.Spec;
        var nodes = plan.Shapes.Nodes;
        return WriteFile(spec, w =>
        {
            w.Line("/// <summary>");
            w.Line("/// Creates an immutable inference snapshot of the parameters as they are now (ONNX Runtime's session role): weights");
            w.Line("/// copied once, each BatchNorm folded into the Conv/Dense before it where that layer has no activation and nothing else");
            w.Line("/// reads it, dense weights packed once for the GEMM kernels. Later writes to this model do not affect it. Deployment");
            w.Line("/// uses it; the model's own <see cref=\"Forward\"/> always reads the parameters live.");
            w.Line("/// </summary>");
            w.Line("/// <remarks>Reads the parameters during this call: do not write them from another thread meanwhile.</remarks>");
            w.Line("public Predictor CreatePredictor() => new(this);");
            w.Line();
            w.Line("/// <summary>");
            w.Line($"/// An immutable inference snapshot of a <see cref=\"{spec.ClassName}\"/> (see <see cref=\"CreatePredictor\"/>). <see cref=\"Forward\"/>");
            w.Line("/// and <see cref=\"Predict\"/> may run on any number of threads at once and allocate nothing in steady state.");
            w.Line("/// Outputs equal the model's <c>Forward</c> up to rounding (folding and the packed kernels sum in another order).");
            w.Line("/// </summary>");
            w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"ModelGen.Generators\", \"{Version}\")]");
            w.Open("public sealed class Predictor : global::ModelGen.IPredictor");
            EmitPredictorNetwork(w, plan, predictor);

            w.Line("// Weight buffer layout (folded layers hold their folded weight and bias).");
            foreach (var t in predictor.Tensors)
            {
                var node = nodes[t.Node];
                string what = predictor.FoldInto(t.Node) is { } fold && t.ShortName is "weight" or "bias" ? $", {nodes[fold.Norm].Name} folded in" : "";
                w.Line($"private const int {TensorConstant(node, t.ShortName)} = {Int(t.Offset)}; // {node.Name}.{t.ShortName} [{Int(t.Length)}]{what}");
            }
            w.Line($"private const int WeightsLength = {Int(predictor.WeightsLength)};");
            w.Line($"private const int Slots = {Int(predictor.Slots)}; // arena slots of SlotLength floats per example");
            w.Line();
            w.Line("private readonly float[] _weights = new float[WeightsLength];");
            if (predictor.PackedDense.Count > 0)
            {
                // One array rather than a field per layer, so that runs of identical dense layers index it in a loop.
                w.Line($"private readonly global::ModelGen.Kernels.PackedDenseWeight[] _packed = new global::ModelGen.Kernels.PackedDenseWeight[{Int(predictor.PackedDense.Count)}];   // one per Dense layer, in layer order"
                    + (predictor.PackedDense.Count <= 8 ? $" ({string.Join(", ", predictor.PackedDense.Select(i => nodes[i].Name))})" : ""));
            }
            if (plan.PoolFusions.Count > 0)
            {
                // Conv + MaxPool steps read a prepacked copy of their (final, folded) weight: the channel-vectorised path where it pays.
                w.Line($"private readonly global::ModelGen.Kernels.PackedConvWeight[] _packedConv = new global::ModelGen.Kernels.PackedConvWeight[{Int(plan.PoolFusions.Count)}];   // one per Conv fused with its MaxPool, in layer order"
                    + (plan.PoolFusions.Count <= 8 ? $" ({string.Join(", ", plan.PoolFusions.Select(f => nodes[f.Conv].Name))})" : ""));
            }
            w.Line("private readonly global::ModelGen.Runtime.ArenaPool _arenas = new();");
            w.Line();

            EmitPredictorConstructor(w, plan, predictor);
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("public global::System.ReadOnlySpan<int> InputShapeDims => InputShape;");
            w.Line("/// <inheritdoc/>");
            w.Line("public global::System.ReadOnlySpan<int> OutputShapeDims => OutputShape;");
            w.Line("/// <inheritdoc/>");
            w.Line("public int InputLength => InputSize;");
            w.Line("/// <inheritdoc/>");
            w.Line("public int OutputLength => OutputSize;");
            w.Line("/// <summary>The largest batch one call accepts.</summary>");
            w.Line($"public int MaxBatch => {Int(predictor.MaxBatch)};");
            w.Line();
            EmitPredictorForward(w, plan, predictor);
            w.Line();
            w.Line("/// <summary>Runs one example: <see cref=\"Forward\"/> with batch 1.</summary>");
            w.Line("/// <param name=\"input\">[InputSize] the example.</param>");
            w.Line("/// <param name=\"output\">[OutputSize] receives its output.</param>");
            w.Line("/// <exception cref=\"global::System.ArgumentException\">A span's length is not its per-example size.</exception>");
            w.Line("public void Predict(global::System.ReadOnlySpan<float> input, global::System.Span<float> output) => Forward(input, output, 1);");
            w.Close();
        });
    }

    /// <summary>The predictor's "Network:" block: the model's layers as the predictor runs them.</summary>
    private static void EmitPredictorNetwork(SourceWriter w, ModelPlan plan, PredictorPlan predictor)
    {
        var nodes = plan.Shapes.Nodes;
        w.Line("// Network (as the predictor runs it):");
        w.Line($"//   input {BatchShape(plan.Spec.InputShape)}");
        var network = new List<(string, string)>();
        for (int i = 0; i < nodes.Count; i++)
        {
            string folded = predictor.Folds.FirstOrDefault(f => f.Norm == i) is { } fold ? $" (folded into {nodes[fold.Target].Name})"
                : predictor.Epilogues.FirstOrDefault(e => e.Activation == i) is { } epilogue ? $" (fused into {nodes[epilogue.Target].Name}'s epilogue)" : "";
            network.Add((nodes[i].Name, $"//   {nodes[i].Name}: {NodeText.Describe(nodes[i])}{FromText(plan, i)}{folded} -> {BatchShape(nodes[i].Output)}"));
        }
        foreach (var line in RunRoller.RollComments(network, NodeNames(plan), "//   ")) w.Line(line);
        w.Line();
    }

    /// <summary>The constructor: copies, folds and packs the model's parameters into the predictor's own storage.</summary>
    private static void EmitPredictorConstructor(SourceWriter w, ModelPlan plan, PredictorPlan predictor)
    {
        var nodes = plan.Shapes.Nodes;
        var spec = plan.Spec;
        w.Line("/// <summary>Copies, folds and packs <paramref name=\"model\"/>'s current parameters.</summary>");
        w.Open($"internal Predictor({spec.ClassName} model)");
        w.Line("global::System.ReadOnlySpan<float> parameters = model.Parameters;");
        if (plan.BufferCount > 0) w.Line("global::System.ReadOnlySpan<float> buffers = model.Buffers;   // running statistics, folded or copied");
        w.Line("var weights = new global::System.Span<float>(_weights);");
        var runs = new RunRoller(PredictorOffsetValues(plan, predictor));
        for (int i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            if (predictor.Folds.Any(f => f.Norm == i)) continue;
            var c = runs.Begin(node.Name);
            var fold = predictor.FoldInto(i);
            string T(string shortName) => predictor.Find(i, shortName) is { } t ? $"weights.Slice({TensorConstant(node, t.ShortName)}, {Int(t.Length)})" : "default";
            if (fold is not null)
            {
                var norm = nodes[fold.Norm];
                int channels = norm.Output[0];
                bool dense = node.Layer is DenseSpec;
                string weight = dense ? $"{Camel(node)}Folded" : T("weight");
                if (dense) c.Line($"var {weight} = new float[{Int(node.Params[0].Length)}]; // the folded weight, packed below");
                c.Line($"{Kernels}.BatchNormKernels.Fold({ParamSlice(node, "weight")}, {ParamSlice(node, "bias")}, {ParamSlice(norm, "weight")}, {ParamSlice(norm, "bias")}, {BufferSlice(norm, "running_mean")}, {BufferSlice(norm, "running_var")}, {Float(((BatchNormSpec)norm.Layer).Eps)},");
                c.Line($"    {weight}, {T("bias")}, {Int(channels)}); // {node.Name} + {norm.Name}");
                if (dense) c.Line($"{PackedField(predictor, i)} = new {Kernels}.PackedDenseWeight({weight}, {Int(channels)}, {Int(node.InputLength)});");
                continue;
            }
            foreach (var t in predictor.Tensors.Where(t => t.Node == i))
                c.Line($"{(node.Buffers.Any(b => b.ShortName == t.ShortName) ? BufferSlice(node, t.ShortName) : ParamSlice(node, t.ShortName))}.CopyTo({T(t.ShortName)}); // {node.Name}.{t.ShortName}");
            if (node.Layer is DenseSpec d)
                c.Line($"{PackedField(predictor, i)} = new {Kernels}.PackedDenseWeight({ParamSlice(node, "weight")}, {Int(d.Units)}, {Int(node.InputLength)}); // {node.Name}.weight");
        }
        runs.WriteTo(w, separate: false);
        // After every copy and fold: the packs are made from the predictor's own final weights.
        for (int k = 0; k < plan.PoolFusions.Count; k++)
        {
            var conv = nodes[plan.PoolFusions[k].Conv];
            w.Line($"_packedConv[{Int(k)}] = new {Kernels}.PackedConvWeight({Weight(predictor, plan.PoolFusions[k].Conv, conv, "weight")}, {GeometryField(conv.Name)}); // {conv.Name}.weight");
        }
        w.Close();
    }

    private static void EmitPredictorForward(SourceWriter w, ModelPlan plan, PredictorPlan predictor)
    {
        var nodes = plan.Shapes.Nodes;
        w.Line("/// <summary>Runs inference on <paramref name=\"batch\"/> examples. Thread-safe; allocates nothing in steady state.</summary>");
        w.Line("/// <param name=\"input\">[batch, InputSize] examples back to back.</param>");
        w.Line("/// <param name=\"output\">[batch, OutputSize] receives the outputs.</param>");
        w.Line("/// <exception cref=\"global::System.ArgumentException\">A span's length is not batch × its per-example size, or batch is not positive or exceeds MaxBatch.</exception>");
        w.Open("public void Forward(global::System.ReadOnlySpan<float> input, global::System.Span<float> output, int batch)");
        w.Line($"{Guards}.CheckForward({String(plan.Spec.ClassName)}, input.Length, output.Length, batch, InputSize, OutputSize, {Int(predictor.MaxBatch)});");
        if (predictor.Slots > 0)
        {
            w.Line("float[] arena = _arenas.Rent(Slots * batch * SlotLength);");
            w.Line("try");
            w.Line("{");
            w.Indent();
            for (int s = 0; s < predictor.Slots; s++)
                w.Line($"var s{s} = new global::System.Span<float>(arena, {(s == 0 ? "0" : $"{s} * batch * SlotLength")}, batch * SlotLength);");
        }
        if (predictor.Steps.Count > 0)
            w.Line("global::System.ReadOnlySpan<float> weights = _weights;");
        var runs = new RunRoller(PredictorOffsetValues(plan, predictor));
        foreach (var step in predictor.Steps)
        {
            var node = nodes[step.Node];
            var c = runs.Begin(node.Name);
            string dst = PlaceText(step.Destination, node.OutputLength);
            if (plan.PoolFusions.FirstOrDefault(f => f.Pool == step.Node) is { } fusion)
            {
                var conv = nodes[fusion.Conv];
                c.Line($"// {conv.Name} + {node.Name}: {NodeText.Describe(conv)}, {NodeText.Describe(node)} fused (only pooled outputs are written) : {BatchShape(conv.InputShapes[0])} -> {BatchShape(node.Output)}");
                string src = PlaceText(step.Sources[0], LengthOf(plan, conv.Inputs[0]));
                c.Line($"{Kernels}.ConvKernels.ForwardMaxPool({Operator(((ConvSpec)conv.Layer).Activation)}, {GeometryField(conv.Name)}, {GeometryField(node.Name)}, {src}, _packedConv[{Int(PoolFusionIndex(plan, fusion.Conv))}], {Weight(predictor, fusion.Conv, conv, "bias")}, {dst}, batch);");
                continue;
            }
            if (plan.ResidualFusions.FirstOrDefault(f => f.Add == step.Node) is { } residual)
            {
                var dense = nodes[residual.Dense];
                int skipTensor = node.Inputs[residual.Skip];
                c.Line($"// {dense.Name} + {node.Name}: {NodeText.Describe(dense)}, {NodeText.Describe(node)} fused (the product accumulates onto {(skipTensor < 0 ? "input" : nodes[skipTensor].Name)}) : {BatchShape(dense.InputShapes[0])} -> {BatchShape(node.Output)}");
                string x = PlaceText(step.Sources[1 - residual.Skip], LengthOf(plan, dense.Inputs[0]));
                string skip = PlaceText(step.Sources[residual.Skip], node.OutputLength);
                c.Line($"{Kernels}.DenseKernels.ForwardResidual({Operator(ActivationKind.None)}, {x}, {PackedField(predictor, residual.Dense)}, {Weight(predictor, residual.Dense, dense, "bias")}, {skip}, {dst}, batch);");
                continue;
            }
            string folded = predictor.FoldInto(step.Node) is { } fold ? $" with {nodes[fold.Norm].Name} folded in" : "";
            if (predictor.EpilogueOf(step.Node) is { } fused) folded += $", {nodes[fused.Activation].Name} ({NodeText.Describe(nodes[fused.Activation])}) fused as its epilogue";
            c.Line($"// {node.Name}: {NodeText.Describe(node)}{folded} : {Shapes(node)}");
            var sources = step.Sources.Select((place, k) => PlaceText(place, LengthOf(plan, node.Inputs[k]))).ToList();
            string W(string shortName) => Weight(predictor, step.Node, node, shortName);
            switch (node.Layer)
            {
                case DenseSpec dense:
                {
                    bool softmax = dense.Activation == ActivationKind.Softmax;
                    c.Line($"{Kernels}.DenseKernels.Forward({EpilogueOperator(predictor, plan, step.Node, softmax ? ActivationKind.None : dense.Activation)}, {sources[0]}, {PackedField(predictor, step.Node)}, {W("bias")}, {dst}, batch);");
                    if (softmax) c.Line($"{Kernels}.Softmax.Forward({dst}, {dst}, batch, {Int(dense.Units)});");
                    break;
                }
                case ConvSpec conv:
                    c.Line($"{Kernels}.ConvKernels.Forward({EpilogueOperator(predictor, plan, step.Node, conv.Activation)}, {GeometryField(node.Name)}, {sources[0]}, {W("weight")}, {W("bias")}, {dst}, default, batch);");
                    break;
                case BatchNormSpec bn:
                {
                    int channels = node.Output[0];
                    c.Line($"{Kernels}.BatchNormKernels.InferenceForward({sources[0]}, {dst}, {W("weight")}, {W("bias")}, {W("running_mean")}, {W("running_var")}, batch, {Int(channels)}, {Int(NodeText.Spatial(node.Output))}, {Float(bn.Eps)});");
                    break;
                }
                case GroupNormSpec or InstanceNormSpec:
                    EmitNormForward(c, node, sources[0], dst, training: false, slot: null, "batch", "batch", W, W);
                    break;
                case PReLUSpec prelu:
                    c.Line($"{Kernels}.PReLUKernels.Forward({sources[0]}, {W("weight")}, {dst}, {NodeText.PReLUShape(node, prelu)});");
                    break;
                case LayerNormSpec norm:
                {
                    int features = node.Output[node.Output.Count - 1];
                    c.Line($"{Kernels}.LayerNormKernels.Forward({sources[0]}, {W("weight")}, {W("bias")}, {dst}, default, default, {Rows(node.OutputLength / features)}, {Int(features)}, {Float(norm.Eps)});");
                    break;
                }
                default:
                    // Parameter-free: the model's own emission reads no parameters.
                    EmitNodeForward(c, node, sources, dst, training: false, slot: null, plan);
                    break;
            }
        }
        runs.WriteTo(w);
        if (predictor.CopiesInput)
            w.Line("input.CopyTo(output); // every layer is a view of the input at inference");
        if (predictor.Slots > 0)
        {
            w.Unindent();
            w.Line("}");
            w.Line("finally");
            w.Line("{");
            w.Line("    _arenas.Return(arena);");
            w.Line("}");
        }
        w.Close();
    }

    /// <summary>The activation operator of a Conv/Dense step: its own, or the standalone activation fused into it.</summary>
    private static string EpilogueOperator(PredictorPlan predictor, ModelPlan plan, int node, ActivationKind own) =>
        predictor.EpilogueOf(node) is { } e && plan.Shapes.Nodes[e.Activation].Layer is ActivationSpec act
            ? Operator(act.Activation, act.Slope)
            : Operator(own);

    /// <summary>Parameter <paramref name="shortName"/> of <paramref name="node"/> in the predictor's buffer, or <c>default</c> when it has none.</summary>
    private static string Weight(PredictorPlan predictor, int index, GraphNode node, string shortName) =>
        predictor.Find(index, shortName) is { } t ? $"weights.Slice({TensorConstant(node, t.ShortName)}, {Int(t.Length)})" : "default";

    /// <summary>The index of the Conv node <paramref name="conv"/>'s pool fusion (its element of <c>_packedConv</c>).</summary>
    private static int PoolFusionIndex(ModelPlan plan, int conv)
    {
        for (int k = 0; k < plan.PoolFusions.Count; k++)
            if (plan.PoolFusions[k].Conv == conv) return k;
        throw new System.InvalidOperationException($"node {conv} is not a pool-fused convolution");
    }

    /// <summary>Name of a predictor buffer offset, e.g. <c>Block1Conv1WeightAt</c>.</summary>
    private static string TensorConstant(GraphNode node, string shortName) => Pascal(node.Name) + Pascal(shortName) + "At";

    /// <summary>A dense layer's packed weight: its element of <c>_packed</c> (an int literal index, so runs can step through it).</summary>
    private static string PackedField(PredictorPlan predictor, int node)
    {
        for (int k = 0; k < predictor.PackedDense.Count; k++)
            if (predictor.PackedDense[k] == node) return $"_packed[{Int(k)}]";
        throw new System.InvalidOperationException($"node {node} is not a packed dense layer");
    }

    /// <summary>The model's offset constants and the predictor's buffer offsets, for <see cref="RunRoller"/>.</summary>
    private static Dictionary<string, int> PredictorOffsetValues(ModelPlan plan, PredictorPlan predictor)
    {
        var values = OffsetValues(plan);
        foreach (var t in predictor.Tensors) values[TensorConstant(plan.Shapes.Nodes[t.Node], t.ShortName)] = t.Offset;
        return values;
    }

    private static string Camel(GraphNode node)
    {
        string pascal = Pascal(node.Name);
        return char.ToLowerInvariant(pascal[0]) + pascal.Substring(1);
    }
}
