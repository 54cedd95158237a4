// The sequence predictor: {Hint}.Predictor.g.cs for a sequence model with one input (issue 12 part 2). CreatePredictor()
// copies the model's parameters and buffers once into a nested, immutable Predictor : ISequencePredictor<TInput>, and packs
// the GEMM weights once: every Dense layer's weight (PackedDenseWeight), the four projections of every Transformer
// encoder layer (PackedTransformerWeights) and W_ih/W_hh of every LSTM/GRU layer (PackedRecurrentWeights, W_hh in the
// step kernel's panels, which the model's Forward repacks per call). Its Forward is the model's inference body
// (EmitInferenceBody, the same arena plan and layer calls) over the copy, with those three kinds reading their packs.
// Two-input (encoder-decoder) models get none here.
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
    /// <summary>Whether a model gets a sequence predictor: a valid sequence model with one input.</summary>
    internal static bool HasSequencePredictor(ModelPlan plan) => plan.IsValid && plan.IsSequence && !plan.HasSource && plan.Shapes.Nodes.Count > 0;

    /// <summary>Layers whose weights a sequence predictor holds packed: Dense, Transformer encoder stacks, LSTM/GRU stacks.</summary>
    private static bool IsPackedInPredictor(LayerSpec layer) => layer is DenseSpec or TransformerSpec or RecurrentSpec;

    /// <summary>
    /// Where the predictor holds a node's packed weights: a Dense layer's is its element of <c>_packed</c> (an int literal
    /// index, so runs of identical layers roll into loops that step through it), a stack's its own field, e.g. <c>_blocksPacked</c>.
    /// </summary>
    private static string PackedWeightField(ModelPlan plan, GraphNode node)
    {
        if (node.Layer is not DenseSpec) return $"_{Camel(node.Name)}Packed";
        int k = plan.Shapes.Nodes.TakeWhile(n => n != node).Count(n => n.Layer is DenseSpec);
        return $"_packed[{Int(k)}]";
    }

    private static string EmitSequencePredictor(ModelPlan plan)
    {
        var spec = plan.Spec;
        var nodes = plan.Shapes.Nodes;
        string input = plan.TokenInput ? "int" : "float";
        return WriteFile(spec, w =>
        {
            w.Line("/// <summary>");
            w.Line("/// Creates an immutable inference snapshot of the parameters as they are now (ONNX Runtime's session role): parameters");
            w.Line("/// and buffers copied once, the weights of Dense, Transformer and LSTM/GRU layers packed once for the GEMM and");
            w.Line("/// recurrent kernels. Later writes to this model do not affect it. Deployment uses it; the model's own");
            w.Line("/// <c>Forward</c> always reads the parameters live.");
            w.Line("/// </summary>");
            w.Line("/// <remarks>Reads the parameters during this call: do not write them from another thread meanwhile.</remarks>");
            w.Line("public Predictor CreatePredictor() => new(this);");
            w.Line();
            w.Line("/// <summary>");
            w.Line($"/// An immutable inference snapshot of a <see cref=\"{spec.ClassName}\"/> (see <see cref=\"CreatePredictor\"/>). <see cref=\"Forward\"/>");
            w.Line("/// may run on any number of threads at once and allocates nothing in steady state. Outputs equal the model's <c>Forward</c>");
            w.Line("/// up to rounding (the packed kernels may sum in another order).");
            w.Line("/// </summary>");
            w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"ModelGen.Generators\", \"{Version}\")]");
            w.Open($"public sealed class Predictor : global::ModelGen.ISequencePredictor<{input}>");
            w.Line("private readonly float[] _parameters = new float[ParameterCount];   // the model's parameters when the snapshot was made");
            if (plan.BufferCount > 0) w.Line("private readonly float[] _buffers = new float[BufferCount];   // its buffers (running statistics)");
            int dense = nodes.Count(n => n.Layer is DenseSpec);
            if (dense > 0)
                w.Line($"private readonly global::ModelGen.Kernels.PackedDenseWeight[] _packed = new global::ModelGen.Kernels.PackedDenseWeight[{Int(dense)}];   // one per Dense layer, in layer order"
                    + (dense <= 8 ? $" ({string.Join(", ", nodes.Where(n => n.Layer is DenseSpec).Select(n => n.Name))})" : ""));
            foreach (var node in nodes.Where(n => n.Layer is TransformerSpec or RecurrentSpec))
                w.Line($"private readonly {PackedType(node.Layer)} {PackedWeightField(plan, node)};   // {node.Name}: {PackedWhat(node.Layer)}");
            w.Line("private readonly global::ModelGen.Runtime.ArenaPool _inferenceArenas = new();");
            w.Line();

            w.Line("/// <summary>Copies <paramref name=\"model\"/>'s current parameters and buffers and packs its GEMM weights.</summary>");
            w.Open($"internal Predictor({spec.ClassName} model)");
            w.Line("model.Parameters.CopyTo(_parameters);");
            if (plan.BufferCount > 0) w.Line("model.Buffers.CopyTo(_buffers);");
            if (nodes.Any(n => IsPackedInPredictor(n.Layer)))
            {
                w.Line("global::System.ReadOnlySpan<float> parameters = _parameters;");
                var runs = new RunRoller(OffsetValues(plan));   // a deep stack of identical Dense layers packs in a loop
                foreach (var node in nodes.Where(n => IsPackedInPredictor(n.Layer)))
                {
                    string create = node.Layer is DenseSpec d
                        ? $"new {Kernels}.PackedDenseWeight({ParamSlice(node, "weight")}, {Int(d.Units)}, {Int(node.InputLength)})"
                        : $"new {PackedType(node.Layer)}({GeometryField(node.Name)}, {NodeParams(node, "parameters")})";
                    runs.Begin(node.Name).Line($"{PackedWeightField(plan, node)} = {create};");
                }
                runs.WriteTo(w, separate: false);
            }
            w.Close();
            w.Line();

            w.Line("/// <inheritdoc/>");
            w.Line("public global::System.ReadOnlySpan<int> InputShapeDims => InputShape;");
            w.Line("/// <inheritdoc/>");
            w.Line("public global::System.ReadOnlySpan<int> OutputShapeDims => OutputShape;");
            w.Line("/// <inheritdoc/>");
            w.Line("public int InputLength => InputSize;");
            w.Line("/// <inheritdoc/>");
            w.Line("public int OutputLength => OutputSize;");
            w.Line("/// <inheritdoc/>");
            w.Line($"public bool OutputIsSequence => {Bool(plan.Final.OutputIsSequence)};");
            // Qualified: inside this class the bare names are these very properties.
            w.Line("/// <inheritdoc/>");
            w.Line($"public int MaxLength => {spec.ClassName}.MaxLength;");
            w.Line("/// <inheritdoc/>");
            w.Line($"public int MaxPositions => {spec.ClassName}.MaxPositions;");
            w.Line();

            w.Line("/// <summary>Runs inference (dropout off) on <paramref name=\"batch\"/> sequences. Thread-safe; allocates nothing in steady state.</summary>");
            EmitSequenceDocs(w, plan);
            w.Open($"public void Forward({SequenceParameters(plan)})");
            EmitSequenceGuard(w, plan);
            EmitInferenceBody(w, plan, InferencePart.Whole, predictor: true);
            w.Close();
            w.Close();
        });
    }

    /// <summary>The runtime type of a node's packed weights.</summary>
    private static string PackedType(LayerSpec layer) => layer switch
    {
        DenseSpec => $"{Kernels}.PackedDenseWeight",
        TransformerSpec => $"{Kernels}.PackedTransformerWeights",
        _ => $"{Kernels}.PackedRecurrentWeights",
    };

    /// <summary>What a packed field holds, for its comment.</summary>
    private static string PackedWhat(LayerSpec layer) => layer switch
    {
        TransformerSpec => "in_proj, out_proj, linear1 and linear2 of every layer, packed for the GEMM",
        _ => "W_ih packed for the GEMM, W_hh for the step kernel, per layer and direction",
    };
}
