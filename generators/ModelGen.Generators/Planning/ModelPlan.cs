// Planning: checked shapes -> where every tensor lives. Pure and Roslyn-free.
// Inference ping-pongs between two scratch regions (A, B), runs elementwise layers in place and skips layers that
// are the identity at inference (Flatten, Dropout), so its arena is 2 × the widest activation per example.
// Training keeps every tensor backward needs (llm.c style): each layer's output, Dense pre-activations and
// dropout masks, at fixed per-example offsets in one arena; gradients ping-pong between two more regions.
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;
using ModelGen.Generators.Shapes;

namespace ModelGen.Generators.Planning;

/// <summary>Where an inference tensor lives.</summary>
internal enum Buffer
{
    Input,
    Output,
    A,
    B,
}

/// <summary>One inference step: layer <paramref name="Layer"/> reads <paramref name="Source"/> and writes <paramref name="Destination"/>.</summary>
internal sealed record InferenceStep(int Layer, Buffer Source, Buffer Destination);

/// <summary>Per-example offsets (in floats) of what the training forward keeps for one layer; -1 when absent.</summary>
/// <param name="InputOffset">Where the layer's input is (another layer's output, or the copied model input at 0).</param>
/// <param name="OutputOffset">Where the layer's output is (equals <paramref name="InputOffset"/> for Flatten).</param>
/// <param name="PreActivationOffset">Dense pre-activation, kept when the fused activation is not the identity.</param>
/// <param name="MaskOffset">Dropout mask.</param>
internal sealed record TrainingSlot(int InputOffset, int OutputOffset, int PreActivationOffset, int MaskOffset);

/// <summary>Everything the emitter needs: the spec, its shapes, and the buffer plans (empty when invalid).</summary>
internal sealed record ModelPlan(
    ModelSpec Spec,
    ModelShapes Shapes,
    EquatableArray<InferenceStep> Inference,
    int InferenceRegionLength,
    EquatableArray<TrainingSlot> Training,
    int TrainingArenaLength,
    int GradientRegionLength,
    int ParameterCount)
{
    public bool IsValid => Shapes.IsValid;
}

internal static class Planner
{
    public static ModelPlan Plan(ModelSpec spec)
    {
        var shapes = ShapeInference.Infer(spec);
        if (!shapes.IsValid)
            return new ModelPlan(spec, shapes, EquatableArray<InferenceStep>.Empty, 0, EquatableArray<TrainingSlot>.Empty, 0, 0, 0);

        var layers = shapes.Layers;
        int parameterCount = layers.Sum(l => l.Params.Sum(p => p.Length));
        int widest = layers.Max(l => l.OutputLength);

        return new ModelPlan(spec, shapes, PlanInference(layers), widest, PlanTraining(layers, spec, out int arena), arena, widest, parameterCount);
    }

    /// <summary>True for layers that read one element and write one element at the same index (can run in place).</summary>
    public static bool IsInPlace(LayerSpec layer) => layer is ActivationSpec;

    /// <summary>True for layers that are the identity at inference time.</summary>
    public static bool IsInferenceIdentity(LayerSpec layer) => layer is FlattenSpec or DropoutSpec;

    private static EquatableArray<InferenceStep> PlanInference(EquatableArray<LayerShape> layers)
    {
        var active = Enumerable.Range(0, layers.Count).Where(i => !IsInferenceIdentity(layers[i].Layer)).ToList();
        var steps = new List<InferenceStep>();
        if (active.Count == 0) return steps.ToEquatableArray(); // the emitter copies input to output

        // The trailing run of in-place layers works on the output span directly, so the layer before it writes
        // there and no final copy is needed.
        int firstTrailingInPlace = active.Count;
        while (firstTrailingInPlace > 0 && IsInPlace(layers[active[firstTrailingInPlace - 1]].Layer)) firstTrailingInPlace--;
        int writesOutput = firstTrailingInPlace > 0 ? firstTrailingInPlace - 1 : 0;

        var current = Buffer.Input;
        for (int k = 0; k < active.Count; k++)
        {
            Buffer destination;
            if (k >= writesOutput) destination = k == writesOutput ? Buffer.Output : current;
            else if (IsInPlace(layers[active[k]].Layer) && current != Buffer.Input) destination = current;
            else destination = current == Buffer.A ? Buffer.B : Buffer.A;
            steps.Add(new InferenceStep(active[k], current, destination));
            current = destination;
        }
        return steps.ToEquatableArray();
    }

    private static EquatableArray<TrainingSlot> PlanTraining(EquatableArray<LayerShape> layers, ModelSpec spec, out int arenaLength)
    {
        int offset = spec.InputShape.Aggregate(1, (a, b) => a * b); // [0, inputLength) holds the copied input
        int input = 0;
        var slots = new List<TrainingSlot>();
        foreach (var layer in layers)
        {
            int pre = -1, mask = -1, output;
            if (layer.Layer is FlattenSpec)
                output = input;
            else
            {
                if (layer.Layer is DenseSpec { Activation: not ActivationKind.None } dense)
                {
                    pre = offset;
                    offset += layer.OutputLength;
                }
                if (layer.Layer is DropoutSpec)
                {
                    mask = offset;
                    offset += layer.OutputLength;
                }
                output = offset;
                offset += layer.OutputLength;
            }
            slots.Add(new TrainingSlot(input, output, pre, mask));
            input = output;
        }
        arenaLength = offset;
        return slots.ToEquatableArray();
    }
}
