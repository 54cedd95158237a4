// Backward pass: the forward schedule reversed (llm.c's gpt2_backward). Gradients flow through two ping-pong
// regions; parameter gradients accumulate into the gradient buffer. Layers before the first parameterised one
// only matter for ∂loss/∂input, so they run only when the caller asks for dInput.
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Shapes;
using static ModelGen.Generators.Emitting.EmitNames;

namespace ModelGen.Generators.Emitting;

internal static partial class ModelEmitter
{
    private enum GradientBuffer
    {
        DOutput,
        G0,
        G1,
    }

    private static string EmitBackward(ModelPlan plan)
    {
        var spec = plan.Spec;
        var layers = plan.Shapes.Layers;
        int firstParameterised = Enumerable.Range(0, layers.Count).Where(i => layers[i].Params.Count > 0).DefaultIfEmpty(layers.Count).First();
        return WriteFile(spec, w =>
        {
            w.Line("/// <summary>");
            w.Line("/// Back-propagates ∂loss/∂output of the last <see cref=\"ForwardTrain\"/> call, <b>adding</b> every parameter's");
            w.Line("/// gradient into <see cref=\"Gradients\"/>, and writes ∂loss/∂input into <paramref name=\"dInput\"/> unless it is empty.");
            w.Line("/// </summary>");
            w.Line("/// <exception cref=\"global::System.InvalidOperationException\">No training forward has run.</exception>");
            w.Line("/// <exception cref=\"global::System.ArgumentException\">A span's length does not match the last training batch.</exception>");
            w.Open("public void Backward(global::System.ReadOnlySpan<float> dOutput, global::System.Span<float> dInput)");
            w.Line("int batch = _trainingBatch;");
            w.Line($"{Guards}.CheckBackward({String(spec.ClassName)}, dOutput.Length, dInput.Length, batch, InputSize, OutputSize);");
            w.Line("global::System.ReadOnlySpan<float> parameters = _parameters;");
            w.Line("var gradients = new global::System.Span<float>(_gradients);");
            w.Line("var t = new global::System.Span<float>(_trainingArena);");
            w.Line("var g0 = new global::System.Span<float>(_gradientArena, 0, batch * GradientRegionLength);");
            w.Line("var g1 = new global::System.Span<float>(_gradientArena, batch * GradientRegionLength, batch * GradientRegionLength);");
            w.Line("var dPre = new global::System.Span<float>(_gradientArena, 2 * batch * GradientRegionLength, batch * GradientRegionLength);");

            var current = GradientBuffer.DOutput;
            bool guardOpen = false;
            for (int i = layers.Count - 1; i >= 0; i--)
            {
                var layer = layers[i];
                var slot = plan.Training[i];
                if (i < firstParameterised && !guardOpen)
                {
                    w.Line();
                    w.Line("// Layers below have no parameters: only needed for the input gradient.");
                    w.Open("if (!dInput.IsEmpty)");
                    guardOpen = true;
                }
                else
                {
                    w.Line();
                }
                w.Line($"// {layer.Layer.Name}: {Describe(layer)} backward : {BatchShape(layer.Output)} -> {BatchShape(layer.Input)}");
                string dOut = Gradient(current, layer.OutputLength);
                var next = current == GradientBuffer.G0 ? GradientBuffer.G1 : GradientBuffer.G0;
                string dIn = i == 0 ? "dInput" : Gradient(next, layer.InputLength);
                string input = Slot(slot.InputOffset, layer.InputLength);
                string output = Slot(slot.OutputOffset, layer.OutputLength);
                switch (layer.Layer)
                {
                    case FlattenSpec:
                        if (i == 0) w.Line($"{dOut}.CopyTo(dInput);");
                        else w.Line("// a view: the gradient passes through unchanged");
                        continue; // current stays
                    case DropoutSpec:
                        w.Line($"{Kernels}.Dropout.Backward({dOut}, {Slot(slot.MaskOffset, layer.OutputLength)}, {dIn});");
                        break;
                    case ActivationSpec { Activation: ActivationKind.Softmax }:
                    {
                        int cols = layer.Output[layer.Output.Count - 1];
                        w.Line($"{Kernels}.Softmax.Backward({dOut}, {output}, {dIn}, {Rows(layer.OutputLength / cols)}, {Int(cols)});");
                        break;
                    }
                    case ActivationSpec act:
                        w.Line($"{Kernels}.Elementwise.Backward({Operator(act.Activation, act.Slope)}, {dOut}, {input}, {output}, {dIn});");
                        break;
                    case DenseSpec dense:
                    {
                        var member = spec.Members[i];
                        string act = Operator(dense.Activation == ActivationKind.Softmax ? ActivationKind.None : dense.Activation);
                        string pre = slot.PreActivationOffset >= 0 ? Slot(slot.PreActivationOffset, layer.OutputLength) : "default";
                        if (dense.Activation == ActivationKind.Softmax)
                        {
                            // Softmax runs after the linear part: take its gradient first, then the Dense backward sees the identity.
                            w.Line($"{Kernels}.Softmax.Backward({dOut}, {output}, {Gradient(next, layer.OutputLength)}, batch, {Int(dense.Units)});");
                            current = next;
                            next = current == GradientBuffer.G0 ? GradientBuffer.G1 : GradientBuffer.G0;
                            dOut = Gradient(current, layer.OutputLength);
                            dIn = i == 0 ? "dInput" : Gradient(next, layer.InputLength);
                            pre = "default";
                            output = "default";
                        }
                        if (i > 0 && i == firstParameterised) dIn = $"dInput.IsEmpty ? default : {dIn}";
                        string weight = $"parameters.Slice({OffsetConstant(member.PropertyName, layer.Params[0])}, {Int(layer.Params[0].Length)})";
                        string dWeight = $"gradients.Slice({OffsetConstant(member.PropertyName, layer.Params[0])}, {Int(layer.Params[0].Length)})";
                        string dBias = dense.UseBias ? $"gradients.Slice({OffsetConstant(member.PropertyName, layer.Params[1])}, {Int(dense.Units)})" : "default";
                        w.Line($"{Kernels}.DenseKernels.Backward({act}, {dOut}, {pre}, {output}, {input}, {weight}, dPre.Slice(0, batch * {Int(dense.Units)}), {dWeight}, {dBias}, {dIn},");
                        w.Line($"    batch, {Int(layer.InputLength)}, {Int(dense.Units)});");
                        break;
                    }
                }
                current = next;
            }
            if (guardOpen) w.Close();
            w.Close();
        });
    }

    private static string Gradient(GradientBuffer buffer, int length) => buffer switch
    {
        GradientBuffer.DOutput => "dOutput",
        GradientBuffer.G0 => $"g0.Slice(0, batch * {Int(length)})",
        _ => $"g1.Slice(0, batch * {Int(length)})",
    };
}
