// Forward passes. Inference follows the planner's ping-pong schedule (in-place elementwise layers, identity
// layers skipped); the training forward writes every tensor backward needs at its planned arena offset.
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Shapes;
using static ModelGen.Generators.Emitting.EmitNames;

namespace ModelGen.Generators.Emitting;

internal static partial class ModelEmitter
{
    private static string EmitForward(ModelPlan plan)
    {
        var spec = plan.Spec;
        var layers = plan.Shapes.Layers;
        var members = spec.Members;
        return WriteFile(spec, w =>
        {
            // Network block (Regex's DescribeExpression idea): the whole model at a glance.
            w.Line("// Network:");
            w.Line($"//   input {BatchShape(spec.InputShape)}");
            foreach (var layer in layers)
                w.Line($"//   {layer.Layer.Name}: {Describe(layer)} -> {BatchShape(layer.Output)}");
            w.Line();

            w.Line("/// <summary>Runs inference (dropout off) on <paramref name=\"batch\"/> examples. Thread-safe; allocates nothing in steady state.</summary>");
            w.Line("/// <param name=\"input\">[batch, InputSize] examples back to back.</param>");
            w.Line("/// <param name=\"output\">[batch, OutputSize] receives the outputs.</param>");
            w.Line("/// <exception cref=\"global::System.ArgumentException\">A span's length is not batch × its per-example size, or batch is not positive.</exception>");
            w.Open("public void Forward(global::System.ReadOnlySpan<float> input, global::System.Span<float> output, int batch)");
            w.Line($"{Guards}.CheckForward({String(spec.ClassName)}, input.Length, output.Length, batch, InputSize, OutputSize);");
            if (plan.Inference.Count == 0)
            {
                w.Line("input.CopyTo(output); // every layer is the identity at inference");
            }
            else
            {
                bool usesArena = plan.Inference.Any(s => s.Source is Buffer.A or Buffer.B || s.Destination is Buffer.A or Buffer.B);
                if (usesArena)
                {
                    w.Line("float[] arena = _inferenceArenas.Rent(2 * batch * InferenceRegionLength);");
                    w.Line("try");
                    w.Line("{");
                    w.Indent();
                    w.Line("var a = new global::System.Span<float>(arena, 0, batch * InferenceRegionLength);");
                    w.Line("var b = new global::System.Span<float>(arena, batch * InferenceRegionLength, batch * InferenceRegionLength);");
                }
                w.Line("global::System.ReadOnlySpan<float> parameters = _parameters;");
                foreach (var step in plan.Inference)
                {
                    var layer = layers[step.Layer];
                    w.Line();
                    w.Line($"// {layer.Layer.Name}: {Describe(layer)} : {BatchShape(layer.Input)} -> {BatchShape(layer.Output)}");
                    string src = Region(step.Source, layer.InputLength);
                    string dst = Region(step.Destination, layer.OutputLength);
                    EmitInferenceLayer(w, members[step.Layer], layer, src, dst);
                }
                if (usesArena)
                {
                    w.Unindent();
                    w.Line("}");
                    w.Line("finally");
                    w.Line("{");
                    w.Line("    _inferenceArenas.Return(arena);");
                    w.Line("}");
                }
            }
            w.Close();
            w.Line();

            w.Line("/// <summary>Forward pass in training mode (dropout on), keeping what <see cref=\"Backward\"/> needs. Not thread-safe.</summary>");
            w.Line("/// <exception cref=\"global::System.ArgumentException\">A span's length is not batch × its per-example size, or batch is not positive.</exception>");
            w.Open("public void ForwardTrain(global::System.ReadOnlySpan<float> input, global::System.Span<float> output, int batch)");
            w.Line($"{Guards}.CheckForward({String(spec.ClassName)}, input.Length, output.Length, batch, InputSize, OutputSize);");
            w.Open("if (_trainingArena.Length < batch * TrainingArenaLength)");
            w.Line("_trainingArena = new float[batch * TrainingArenaLength];   // grows with the largest batch seen, then stays");
            w.Line("_gradientArena = new float[batch * 3 * GradientRegionLength];");
            w.Close();
            w.Line("_trainingBatch = batch;");
            w.Line("global::System.ReadOnlySpan<float> parameters = _parameters;");
            w.Line("var t = new global::System.Span<float>(_trainingArena);");
            w.Line("input.CopyTo(t.Slice(0, batch * InputSize)); // backward needs the input of the first layer");
            for (int i = 0; i < layers.Count; i++)
            {
                var layer = layers[i];
                var slot = plan.Training[i];
                if (layer.Layer is FlattenSpec) continue;
                w.Line();
                w.Line($"// {layer.Layer.Name}: {Describe(layer)} : {BatchShape(layer.Input)} -> {BatchShape(layer.Output)}");
                string src = Slot(slot.InputOffset, layer.InputLength);
                string dst = Slot(slot.OutputOffset, layer.OutputLength);
                switch (layer.Layer)
                {
                    case DenseSpec dense:
                    {
                        bool softmax = dense.Activation == ActivationKind.Softmax;
                        string pre = slot.PreActivationOffset >= 0 ? Slot(slot.PreActivationOffset, layer.OutputLength) : "default";
                        string act = Operator(softmax ? ActivationKind.None : dense.Activation);
                        EmitDenseCall(w, members[i], layer, dense, act, src, softmax ? pre : dst, softmax ? "default" : pre);
                        if (softmax)
                            w.Line($"{Kernels}.Softmax.Forward({pre}, {dst}, batch, {Int(dense.Units)});");
                        break;
                    }
                    case ActivationSpec { Activation: ActivationKind.Softmax }:
                        EmitSoftmax(w, layer, src, dst);
                        break;
                    case ActivationSpec act:
                        w.Line($"{Kernels}.Elementwise.Forward({Operator(act.Activation, act.Slope)}, {src}, {dst});");
                        break;
                    case DropoutSpec drop:
                        w.Line($"{Kernels}.Dropout.Forward({src}, {dst}, {Slot(slot.MaskOffset, layer.OutputLength)}, {Float(drop.P)}, _dropoutRng);");
                        break;
                }
            }
            w.Line();
            w.Line($"t.Slice({Offset(plan.Training[layers.Count - 1].OutputOffset)}, batch * OutputSize).CopyTo(output);");
            w.Close();
        });
    }

    private static void EmitInferenceLayer(SourceWriter w, MemberSpec member, LayerShape layer, string src, string dst)
    {
        switch (layer.Layer)
        {
            case DenseSpec dense:
                bool softmax = dense.Activation == ActivationKind.Softmax;
                EmitDenseCall(w, member, layer, dense, Operator(softmax ? ActivationKind.None : dense.Activation), src, dst, "default");
                if (softmax) w.Line($"{Kernels}.Softmax.Forward({dst}, {dst}, batch, {Int(dense.Units)});");
                break;
            case ActivationSpec { Activation: ActivationKind.Softmax }:
                EmitSoftmax(w, layer, src, dst);
                break;
            case ActivationSpec act:
                w.Line($"{Kernels}.Elementwise.Forward({Operator(act.Activation, act.Slope)}, {src}, {dst});");
                break;
            default:
                throw new System.InvalidOperationException($"{layer.Layer.Kind} has no inference step");
        }
    }

    private static void EmitDenseCall(SourceWriter w, MemberSpec member, LayerShape layer, DenseSpec dense, string act, string src, string dst, string pre)
    {
        string weight = $"parameters.Slice({OffsetConstant(member.PropertyName, layer.Params[0])}, {Int(layer.Params[0].Length)})";
        string bias = dense.UseBias ? $"parameters.Slice({OffsetConstant(member.PropertyName, layer.Params[1])}, {Int(dense.Units)})" : "default";
        w.Line($"{Kernels}.DenseKernels.Forward({act}, {src}, {weight}, {bias}, {dst}, {pre}, batch, {Int(layer.InputLength)}, {Int(dense.Units)});");
    }

    /// <summary>Softmax over the last dimension: rows = batch × the product of the other dimensions.</summary>
    private static void EmitSoftmax(SourceWriter w, LayerShape layer, string src, string dst)
    {
        int cols = layer.Output[layer.Output.Count - 1];
        w.Line($"{Kernels}.Softmax.Forward({src}, {dst}, {Rows(layer.OutputLength / cols)}, {Int(cols)});");
    }

    /// <summary>Description used in comments: <c>Dense 784->256 + bias + ReLU (fused epilogue)</c>.</summary>
    private static string Describe(LayerShape layer) => layer.Layer switch
    {
        DenseSpec d => $"Dense {layer.InputLength}->{d.Units}" + (d.UseBias ? " + bias" : "")
                       + (d.Activation == ActivationKind.None ? "" : $" + {EmitNames.Describe(d.Activation)} (fused epilogue)"),
        ActivationSpec a => EmitNames.Describe(a.Activation, a.Slope),
        DropoutSpec d => $"Dropout(p={d.P.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}) (identity at inference)",
        FlattenSpec => "Flatten (a view: no data moves)",
        _ => layer.Layer.Kind,
    };

    private static string Region(Buffer buffer, int length) => buffer switch
    {
        Buffer.Input => "input",
        Buffer.Output => "output",
        Buffer.A => $"a.Slice(0, batch * {Int(length)})",
        _ => $"b.Slice(0, batch * {Int(length)})",
    };

    /// <summary>Row count of a per-example softmax over the last dimension: <c>batch</c> or <c>batch * n</c>.</summary>
    private static string Rows(int perExample) => perExample == 1 ? "batch" : $"batch * {Int(perExample)}";

    private static string Offset(int perExample) => perExample == 0 ? "0" : $"batch * {Int(perExample)}";

    private static string Slot(int offset, int length) => $"t.Slice({Offset(offset)}, batch * {Int(length)})";
}
