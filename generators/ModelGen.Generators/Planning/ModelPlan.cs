// Planning: the checked graph -> where every tensor lives. Pure and Roslyn-free.
//
// Inference: tensors get arena slots by liveness (a slot is reused once its tensor's last reader has run);
// elementwise layers and Add run in place when their input dies there; Flatten, and Dropout at inference, are
// views (no data moves); a Conv2D read only by a 2×2/2 MaxPool2D runs fused with it (only pooled outputs are written);
// the final tensor is written straight into the caller's output span.
// Training (llm.c style): every tensor backward needs gets its own region of one arena at a fixed per-example
// offset (outputs, pre-activations, dropout masks, max-pool argmax), plus batch-independent per-channel state
// (BatchNorm's saved mean and 1/std). Every tensor also gets a gradient region; when several layers read one
// tensor, the first gradient written (in backward order) overwrites and the rest accumulate.
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;
using ModelGen.Generators.Shapes;

namespace ModelGen.Generators.Planning;

/// <summary>Where an inference tensor lives: the caller's input or output span, or arena slot <c>Slot</c>.</summary>
internal readonly record struct Place(PlaceKind Kind, int Slot = 0);

/// <summary>Kinds of <see cref="Place"/>.</summary>
internal enum PlaceKind
{
    Input,
    Output,
    Slot,
    /// <summary>The caller's second input (<c>[ModelInput]</c>): the <c>source</c> ids span.</summary>
    Source,
}

/// <summary>One inference step: node <paramref name="Node"/> reads <paramref name="Sources"/> and writes <paramref name="Destination"/>.</summary>
internal sealed record InferenceStep(int Node, EquatableArray<Place> Sources, Place Destination);

/// <summary>Per-example offsets (floats) of what the training forward keeps for one node; -1 when absent.</summary>
/// <param name="Output">The node's output (its input's offset for Flatten, a view).</param>
/// <param name="PreActivation">Dense/Conv pre-activation, kept when the fused activation is not the identity.</param>
/// <param name="Aux">Dropout mask or max-pool argmax (as ints), per example; LayerNorm/GroupNorm/InstanceNorm mean and 1/std.</param>
/// <param name="Stats">BatchNorm's saved mean then 1/std: a batch-independent offset in the fixed region.</param>
/// <param name="Gradient">The gradient region of the node's output tensor (shared by views).</param>
internal sealed record TrainingSlot(int Output, int PreActivation, int Aux, int Stats, int Gradient);

/// <summary>
/// An inference-time fusion of Conv2D node <paramref name="Conv"/> with the 2×2/2 MaxPool2D node <paramref name="Pool"/>
/// that alone reads it: the pool's step runs ConvKernels.ForwardMaxPool on the convolution's input and writes only
/// the pooled outputs, and the convolution becomes a view (no step, no buffer of its own). Training is unchanged.
/// </summary>
internal sealed record PoolFusion(int Conv, int Pool);

/// <summary>
/// An inference-time fusion of a Dense node <paramref name="Dense"/> without activation into the two-input Add node
/// <paramref name="Add"/> that alone reads it (<c>x + f(x)</c>): the add's step runs DenseKernels.ForwardResidual on the
/// dense layer's input, accumulating the product onto the other operand (input <paramref name="Skip"/> of the add),
/// and the dense layer becomes a view. Training is unchanged.
/// </summary>
internal sealed record ResidualFusion(int Dense, int Add, int Skip);

/// <summary>Everything the emitter needs: the spec, its graph, and the buffer plans (empty when invalid).</summary>
internal sealed record ModelPlan(
    ModelSpec Spec,
    ModelShapes Shapes,
    EquatableArray<InferenceStep> Inference,
    bool InferenceCopiesInput,
    int InferenceSlots,
    int SlotLength,
    EquatableArray<TrainingSlot> Training,
    int TrainingArenaLength,
    int TrainingFixedLength,
    int GradientArenaLength,
    int ParameterCount,
    EquatableArray<PoolFusion> PoolFusions,
    EquatableArray<ResidualFusion> ResidualFusions,
    int ScratchLength = 0)
{
    public bool IsValid => Shapes.IsValid;

    /// <summary>Elements of the buffer span (running statistics, counters), apart from the parameters.</summary>
    public int BufferCount => Shapes.Nodes.Sum(n => n.Buffers.Sum(b => b.Length));

    /// <summary>Per-example input length; per position for a sequence model (token models: 1 id per position).</summary>
    public int InputLength => ShapeInference.Length(Spec.InputShape);

    /// <summary>Whether the model has the run-time sequence dimension (its arenas then scale with batch × T).</summary>
    public bool IsSequence => Spec.IsSequence;

    /// <summary>Whether the input is int token ids.</summary>
    public bool TokenInput => Spec.TokenInput || (Shapes.Nodes.Count > 0 && Shapes.Nodes[0].Layer is EmbeddingSpec && Shapes.Nodes[0].Inputs[0] == -1);

    /// <summary>Whether the model has a second input (<c>[ModelInput]</c>, graph input -2): S token ids or float vectors with their own lengths.</summary>
    public bool HasSource => Spec.HasSource;

    /// <summary>Whether the second input is float vectors [S, features], which have a gradient (Backward's dSource).</summary>
    public bool SourceIsFloat => Spec.SourceIsFloat;

    /// <summary>Elements per position of the second input (1 id, or its features), kept in the training arena right after the model input's.</summary>
    public int SourceLength => Spec.HasSource ? ShapeInference.Length(Spec.SourceShape) : 0;

    public GraphNode Final => Shapes.Nodes[Shapes.Nodes.Count - 1];

    /// <summary>The largest array .NET allocates (<c>Array.MaxLength</c>, which netstandard2.0 lacks).</summary>
    public const int MaxArrayLength = 0x7FFFFFC7;

    /// <summary>
    /// The largest batch whose buffers each fit in one .NET array, so that every <c>batch * length</c> the generated
    /// code computes fits in <c>int</c>: the inference arena (InferenceSlots × SlotLength per example), the training
    /// arena (TrainingArenaLength per example + TrainingFixedLength) and the gradient arena (GradientArenaLength + 2 ×
    /// ScratchLength per example). Every other batch-sized tensor (input, output, a layer's operands) lies inside one of
    /// them, so its per-example length is no larger. 0 when one example alone does not fit.
    /// </summary>
    public int MaxBatch
    {
        get
        {
            long max = MaxArrayLength;
            max = System.Math.Min(max, PerArena((long)InferenceSlots * SlotLength, 0));
            max = System.Math.Min(max, PerArena(TrainingArenaLength, TrainingFixedLength));
            max = System.Math.Min(max, PerArena(GradientArenaLength + 2L * ScratchLength, 0));
            return (int)max;

            static long PerArena(long perExample, long fixedLength) =>
                perExample <= 0 ? MaxArrayLength : System.Math.Max(0, (MaxArrayLength - fixedLength) / perExample);
        }
    }
}

internal static class Planner
{
    /// <summary>
    /// <see cref="Plan"/>, except that an exception (a generator bug) becomes an invalid plan whose problem names it, so
    /// one model's failure cannot stop generation for the others.
    /// </summary>
    public static ModelPlan PlanOrFail(ModelSpec spec, IReadOnlyList<ModelSpec>? models = null)
    {
        try
        {
            return Plan(spec, models);
        }
        catch (System.Exception e) when (e is not System.OperationCanceledException)
        {
            return Failed(spec, e);
        }
    }

    /// <summary>An invalid plan for <paramref name="spec"/> whose only problem reports the internal failure <paramref name="e"/>.</summary>
    public static ModelPlan Failed(ModelSpec spec, System.Exception e)
    {
        var problem = new ModelProblem(ProblemIds.InternalError, "",
            $"ModelGen could not generate '{spec.ClassName}' ({e.GetType().Name}: {e.Message}); this is a ModelGen bug, please report it");
        var shapes = new ModelShapes(EquatableArray<LayerShape>.Empty, EquatableArray<GraphNode>.Empty, new[] { problem }.ToEquatableArray());
        return new ModelPlan(spec, shapes, EquatableArray<InferenceStep>.Empty, false, 0, 0, EquatableArray<TrainingSlot>.Empty, 0, 0, 0, 0, EquatableArray<PoolFusion>.Empty, EquatableArray<ResidualFusion>.Empty);
    }

    /// <summary>Plans <paramref name="spec"/>; <paramref name="models"/> holds every [Model] of the compilation, for blocks.</summary>
    public static ModelPlan Plan(ModelSpec spec, IReadOnlyList<ModelSpec>? models = null)
    {
        var byName = (models ?? new ModelSpec[0]).GroupBy(m => m.FullName).ToDictionary(g => g.Key, g => g.First());
        var shapes = ShapeInference.Infer(spec, name => byName.TryGetValue(name, out var m) ? m : null);
        if (!shapes.IsValid || shapes.Nodes.Count == 0)
            return new ModelPlan(spec, shapes, EquatableArray<InferenceStep>.Empty, false, 0, 0, EquatableArray<TrainingSlot>.Empty, 0, 0, 0, 0, EquatableArray<PoolFusion>.Empty, EquatableArray<ResidualFusion>.Empty);

        var nodes = shapes.Nodes;
        int parameterCount = nodes.Sum(n => n.Params.Sum(p => p.Length));
        int widest = nodes.Max(n => n.OutputLength);
        var fusions = PlanPoolFusions(nodes);
        var residuals = PlanResidualFusions(nodes);
        // Fused convolutions and dense layers are views at inference: no step and no buffer of their own.
        var views = new HashSet<int>(fusions.Select(f => f.Conv).Concat(residuals.Select(f => f.Dense)));
        // A fused add may run in place only over its skip operand: the product reads the dense layer's input to the end.
        var inPlaceInput = residuals.ToDictionary(f => f.Add, f => f.Skip);
        var (steps, copies, slots) = PlanInference(nodes, views, inPlaceInput);
        var training = PlanTraining(nodes, ShapeInference.Length(spec.InputShape), spec.HasSource ? ShapeInference.Length(spec.SourceShape) : 0, out int arena, out int fixedLength, out int gradients);
        // Backward's two scratch buffers hold an input gradient before it is added into a shared region (and Dense/conv
        // pre-activation gradients): a layer's output at most, or the model input's gradient when several layers read the
        // input, which may be wider than every layer's output (and so may a float second input's, read by several layers).
        int scratch = System.Math.Max(widest, InputReaders(nodes) > 1 ? ShapeInference.Length(spec.InputShape) : 0);
        if (spec.SourceIsFloat && InputReaders(nodes, -2) > 1) scratch = System.Math.Max(scratch, ShapeInference.Length(spec.SourceShape));
        return new ModelPlan(spec, shapes, steps, copies, slots, widest, training, arena, fixedLength, gradients, parameterCount, fusions, residuals, scratch);
    }

    /// <summary>How many (layer, operand) pairs read the model input (<paramref name="input"/> -1; -2 the second input), directly or through training views of it (Flatten).</summary>
    internal static int InputReaders(EquatableArray<GraphNode> nodes, int input = -1)
    {
        var isInput = new bool[nodes.Count];
        int readers = 0;
        for (int i = 0; i < nodes.Count; i++)
        {
            if (IsTrainingView(nodes[i].Layer))
            {
                int source = nodes[i].Inputs[0];
                isInput[i] = source == input || (source >= 0 && isInput[source]);
                continue;
            }
            foreach (int x in nodes[i].Inputs)
                if (x == input || (x >= 0 && isInput[x])) readers++;
        }
        return readers;
    }

    /// <summary>
    /// A Conv2D whose only reader is a MaxPool2D with a 2×2 window, stride 2 and no padding fuses into it at inference
    /// (the convolution's full-size output is then never written; ConvKernels.ForwardMaxPool handles any such pool).
    /// </summary>
    private static EquatableArray<PoolFusion> PlanPoolFusions(EquatableArray<GraphNode> nodes)
    {
        var fusions = new List<PoolFusion>();
        for (int j = 0; j < nodes.Count; j++)
        {
            if (nodes[j].Layer is not PoolSpec { IsMax: true, Rank: 2, Kernel: { H: 2, W: 2 }, Stride: { H: 2, W: 2 }, Padding: { H: 0, W: 0 } }
                || nodes[j].Inputs[0] is not (var i and >= 0) || nodes[i].Layer is not ConvSpec { Rank: 2 }) continue;
            if (nodes.Count(n => n.Inputs.Contains(i)) == 1) fusions.Add(new PoolFusion(i, j));
        }
        return fusions.ToEquatableArray();
    }

    /// <summary>A Dense without activation whose only reader is a two-operand Add fuses into it at inference (see <see cref="ResidualFusion"/>).</summary>
    private static EquatableArray<ResidualFusion> PlanResidualFusions(EquatableArray<GraphNode> nodes)
    {
        var fusions = new List<ResidualFusion>();
        for (int j = 0; j < nodes.Count; j++)
        {
            if (nodes[j].Layer is not MergeSpec { IsConcat: false } || nodes[j].Inputs.Count != 2) continue;
            for (int k = 0; k < 2; k++)
            {
                int i = nodes[j].Inputs[k];
                if (i >= 0 && nodes[i].Layer is DenseSpec { Activation: ActivationKind.None } && nodes[j].Inputs[1 - k] != i
                    && nodes.Count(n => n.Inputs.Contains(i)) == 1)
                {
                    fusions.Add(new ResidualFusion(i, j, 1 - k));
                    break;
                }
            }
        }
        return fusions.ToEquatableArray();
    }

    /// <summary>
    /// Layers whose inference kernel may write its output over its (first) input. BatchNorm is one: at inference it
    /// is a per-channel scale and shift computed from the parameters as they are at the call (never a cached fold,
    /// which a write through a held parameter span could leave stale; the predictor snapshot is where folding belongs).
    /// </summary>
    public static bool CanRunInPlace(LayerSpec layer) => layer is ActivationSpec or LogSoftmaxSpec or PReLUSpec or BatchNormSpec or GroupNormSpec or InstanceNormSpec or PositionEmbeddingSpec || layer is MergeSpec { IsConcat: false };

    /// <summary>The statistics groups per example of a GroupNorm (its groups) or InstanceNorm (one per channel).</summary>
    public static int NormGroups(GraphNode node) => node.Layer is GroupNormSpec gn ? gn.Groups : node.Output[0];

    /// <summary>Layers that are views at inference time: no data moves.</summary>
    public static bool IsInferenceView(LayerSpec layer) => layer is FlattenSpec or DropoutSpec;

    /// <summary>Layers that are views in training too.</summary>
    public static bool IsTrainingView(LayerSpec layer) => layer is FlattenSpec;

    internal static (EquatableArray<InferenceStep>, bool, int) PlanInference(EquatableArray<GraphNode> nodes, HashSet<int> views,
        Dictionary<int, int> inPlaceInput)
    {
        int n = nodes.Count;
        bool IsView(int i) => IsInferenceView(nodes[i].Layer) || views.Contains(i);
        // baseOf[i]: the tensor whose memory node i's output is (views share their input's); -1 = the model input.
        var baseOf = new int[n];
        for (int i = 0; i < n; i++)
            baseOf[i] = IsView(i) ? Base(baseOf, nodes[i].Inputs[0]) : i;
        int final = baseOf[n - 1];
        var lastUse = new int[n];
        for (int i = 0; i < n; i++)
            foreach (var input in nodes[i].Inputs)
                if (Base(baseOf, input) is var b and >= 0) lastUse[b] = i;
        if (final >= 0) lastUse[final] = int.MaxValue;

        // First pass without constraints; then the tensor that starts the in-place chain ending in the final
        // tensor is written straight into the output span, so no final copy is needed.
        var (steps, slots, inPlaceFrom) = Assign(nodes, baseOf, lastUse, outputRoot: -1, IsView, inPlaceInput);
        if (final >= 0)
        {
            int root = final;
            while (inPlaceFrom[root] >= 0) root = inPlaceFrom[root];
            (steps, slots, _) = Assign(nodes, baseOf, lastUse, root, IsView, inPlaceInput);
        }
        return (steps.ToEquatableArray(), final < 0, slots);
    }

    /// <summary>The tensor whose memory <paramref name="tensor"/> is; the model inputs (-1, and -2 for the second one) are their own.</summary>
    private static int Base(int[] baseOf, int tensor) => tensor < 0 ? tensor : baseOf[tensor];

    private static (List<InferenceStep> Steps, int Slots, int[] InPlaceFrom) Assign(EquatableArray<GraphNode> nodes, int[] baseOf, int[] lastUse, int outputRoot,
        System.Func<int, bool> isView, Dictionary<int, int> inPlaceInput)
    {
        int n = nodes.Count;
        var place = new Place[n];
        var inPlaceFrom = Enumerable.Repeat(-1, n).ToArray();
        var free = new SortedSet<int>();
        int slotCount = 0;
        var steps = new List<InferenceStep>();
        Place PlaceOf(int tensor) => Base(baseOf, tensor) switch
        {
            -1 => new Place(PlaceKind.Input),
            -2 => new Place(PlaceKind.Source),
            var b => place[b],
        };
        for (int i = 0; i < n; i++)
        {
            var node = nodes[i];
            if (isView(i)) continue;
            int over = inPlaceInput.TryGetValue(i, out int only) ? only : 0;   // the operand an in-place step overwrites
            int overwritten = Base(baseOf, node.Inputs[over]);
            bool inPlace = CanRunInPlace(node.Layer) && overwritten >= 0 && lastUse[overwritten] == i
                && node.Inputs.Where((_, k) => k != over).All(x => Base(baseOf, x) != overwritten);
            if (inPlace)
            {
                place[i] = place[overwritten];
                inPlaceFrom[i] = overwritten;
            }
            else if (i == outputRoot)
                place[i] = new Place(PlaceKind.Output);
            else
            {
                int slot = free.Count > 0 ? free.Min : slotCount++;
                free.Remove(slot);
                place[i] = new Place(PlaceKind.Slot, slot);
            }
            steps.Add(new InferenceStep(i, node.Inputs.Select(PlaceOf).ToEquatableArray(), place[i]));
            foreach (var input in node.Inputs.Distinct())
            {
                int b = Base(baseOf, input);
                if (b >= 0 && lastUse[b] == i && place[b].Kind == PlaceKind.Slot && place[b] != place[i])
                    free.Add(place[b].Slot);
            }
        }
        return (steps, slotCount, inPlaceFrom);
    }

    private static EquatableArray<TrainingSlot> PlanTraining(EquatableArray<GraphNode> nodes, int inputLength, int sourceLength, out int arenaLength, out int fixedLength,
        out int gradientLength)
    {
        int offset = inputLength + sourceLength; // [0, inputLength) holds the copied input, then the second input's ids
        int fixedOffset = 0;
        int gradient = 0;
        var slots = new List<TrainingSlot>();
        for (int i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            int Reserve(int length)
            {
                int at = offset;
                offset += length;
                return at;
            }
            if (IsTrainingView(node.Layer))
            {
                int source = node.Inputs[0];
                var of = source < 0 ? new TrainingSlot(source == -1 ? 0 : inputLength, -1, -1, -1, -1) : slots[source];
                slots.Add(new TrainingSlot(of.Output, -1, -1, -1, of.Gradient));
                continue;
            }
            int pre = node.Layer is DenseSpec { Activation: not ActivationKind.None } or ConvSpec { Activation: not ActivationKind.None }
                ? Reserve(node.OutputLength) : -1;
            int aux = node.Layer is DropoutSpec or PoolSpec { IsMax: true } or GlobalPoolSpec { IsMax: true } ? Reserve(node.OutputLength)
                : node.Layer is LayerNormSpec ? Reserve(2 * (node.OutputLength / node.Output[node.Output.Count - 1])) // per normalised row: mean, then 1/std
                : node.Layer is GroupNormSpec or InstanceNormSpec ? Reserve(2 * NormGroups(node)) // per example and group: mean, then 1/std
                : -1;
            int stats = -1;
            if (node.Layer is BatchNormSpec)
            {
                stats = fixedOffset;
                fixedOffset += 2 * node.Output[0];
            }
            int output = Reserve(node.OutputLength);
            slots.Add(new TrainingSlot(output, pre, aux, stats, gradient));
            gradient += node.OutputLength;
        }
        arenaLength = offset;
        fixedLength = fixedOffset;
        gradientLength = gradient;
        return slots.ToEquatableArray();
    }
}
