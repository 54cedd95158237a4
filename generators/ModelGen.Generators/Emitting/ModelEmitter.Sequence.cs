// What a sequence model adds to the emitted code: the (input, output, batch, seq, lengths) signatures, the guard
// that checks them and sizes every arena for rows = batch × T, the per-call training state backward reads (T, the
// real lengths, what each composite layer — a recurrent or Transformer stack — keeps, and their shared workspace), the
// stateful recurrent overload and incremental decoding over a key/value cache. Every tensor keeps
// its per-position length; a sequence tensor has `rows` rows and a tensor without T (after pooling over time or a
// final recurrent state) has `batch`.
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Shapes;
using static ModelGen.Generators.Emitting.EmitNames;

namespace ModelGen.Generators.Emitting;

internal static partial class ModelEmitter
{
    /// <summary>The parameter list of Forward and ForwardTrain for a sequence model.</summary>
    private static string SequenceParameters(ModelPlan plan, bool optionalLengths = true) => plan.HasSource
        ? $"global::System.ReadOnlySpan<{(plan.TokenInput ? "int" : "float")}> input, global::System.ReadOnlySpan<{(plan.SourceIsFloat ? "float" : "int")}> source, global::System.Span<float> output, int batch, int seq, int sourceSeq, global::System.ReadOnlySpan<int> lengths = default, global::System.ReadOnlySpan<int> sourceLengths = default"
        : $"global::System.ReadOnlySpan<{(plan.TokenInput ? "int" : "float")}> input, global::System.Span<float> output, int batch, int seq, global::System.ReadOnlySpan<int> lengths{(optionalLengths ? " = default" : "")}";

    /// <summary>Whether the model has recurrent layers, whose (h, c) a caller may carry across calls.</summary>
    private static bool HasRecurrentState(ModelPlan plan) => !plan.HasSource && plan.Shapes.Nodes.Any(n => n.Layer is RecurrentSpec);

    /// <summary>Per-example floats of one recurrent node's state: h (and c for LSTM) of every layer and direction.</summary>
    private static int StateLength(GraphNode node)
    {
        var rnn = (RecurrentSpec)node.Layer;
        return (rnn.IsGru ? 1 : 2) * rnn.Layers * rnn.Directions * rnn.Hidden;
    }

    /// <summary>The node's part of the caller's state span at inference (read as h_0/c_0, overwritten with h_n/c_n), or "" for none.</summary>
    private static string StateSlice(ModelPlan plan, GraphNode node)
    {
        if (!HasRecurrentState(plan)) return "";
        return $"state.IsEmpty ? default : {CallerSlice(plan, node, "state", n => n.Layer is RecurrentSpec, StateLength)}";
    }

    /// <summary>
    /// <paramref name="node"/>'s part of a caller-held span laid out per example as the parts of every node <paramref name="owns"/>
    /// selects, in graph order, each <paramref name="length"/> floats per example (state or cache spans).
    /// </summary>
    private static string CallerSlice(ModelPlan plan, GraphNode node, string span, System.Func<GraphNode, bool> owns, System.Func<GraphNode, int> length)
    {
        int offset = plan.Shapes.Nodes.TakeWhile(n => n != node).Where(owns).Sum(length);
        return $"{span}.Slice({(offset == 0 ? "0" : $"batch * {Int(offset)}")}, batch * {Int(length(node))})";
    }

    /// <summary>The public stateful overload: checks the state span and runs the shared body.</summary>
    private static void EmitStatefulForward(SourceWriter w, ModelPlan plan)
    {
        var recurrent = plan.Shapes.Nodes.Where(n => n.Layer is RecurrentSpec).ToList();
        w.Line("/// <summary>Floats of recurrent state per example: for each LSTM/GRU layer in order, PyTorch's h_n [layers·directions, batch, hidden] (then c_n for LSTM).</summary>");
        w.Line($"public const int StateSize = {Int(recurrent.Sum(StateLength))};");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Runs inference continuing from <paramref name=\"state\"/> (PyTorch's h_0/c_0 of every recurrent layer; zeros to start)");
        w.Line("/// and overwrites it with the state after each example's last real step, so a sequence can be fed a step at a time");
        w.Line("/// (seq = 1 per call) with no allocation. Thread-safe for distinct state spans.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"state\">[batch × StateSize]: read as the initial state, overwritten with the final state.</param>");
        w.Open($"public void Forward({SequenceParameters(plan, optionalLengths: false)}, global::System.Span<float> state)");
        w.Line($"{Guards}.CheckState({String(plan.Spec.ClassName)}, state.Length, batch, StateSize);");
        w.Line("ForwardCore(input, output, batch, seq, lengths, state);");
        w.Close();
        w.Line();
    }

    private static void EmitSequenceDocs(SourceWriter w, ModelPlan plan)
    {
        string outRows = plan.Final.OutputIsSequence ? "batch, seq" : "batch";
        w.Line(plan.TokenInput
            ? "/// <param name=\"input\">Token ids [batch, seq] (padded), each in [0, vocab).</param>"
            : "/// <param name=\"input\">[batch, seq, InputSize] (padded) examples back to back.</param>");
        if (plan.HasSource)
            w.Line(plan.SourceIsFloat
                ? $"/// <param name=\"source\">The second input '{plan.Spec.SourceName}': [batch, sourceSeq, SourceSize] (padded) floats; padded positions (even NaN) never affect real outputs or gradients.</param>"
                : $"/// <param name=\"source\">The second input '{plan.Spec.SourceName}': token ids [batch, sourceSeq] (padded), each in [0, vocab).</param>");
        w.Line($"/// <param name=\"output\">[{outRows}, OutputSize] receives the outputs{(plan.Final.OutputIsSequence ? " (padded positions hold values computed from padding; losses ignore them)" : "")}.</param>");
        w.Line("/// <param name=\"batch\">Examples in the call.</param>");
        w.Line("/// <param name=\"seq\">The padded sequence length T of this call.</param>");
        if (plan.HasSource) w.Line("/// <param name=\"sourceSeq\">The padded length S of <paramref name=\"source\"/> in this call.</param>");
        w.Line("/// <param name=\"lengths\">Each example's real length in [1, seq], or empty when all are <paramref name=\"seq\"/>; padded positions never affect real ones.</param>");
        if (plan.HasSource)
            w.Line("/// <param name=\"sourceLengths\">Each example's real source length in [1, sourceSeq], or empty when all are <paramref name=\"sourceSeq\"/>; cross-attention never reads padded source positions.</param>");
        w.Line(plan.HasSource
            ? "/// <exception cref=\"global::System.ArgumentException\">A span's length does not match batch and seq (or sourceSeq), a length is outside [1, seq] (a source length outside [1, sourceSeq]), seq exceeds MaxLength, or batch × seq (or batch × sourceSeq) is too large for the arenas.</exception>"
            : "/// <exception cref=\"global::System.ArgumentException\">A span's length does not match batch and seq, a length is outside [1, seq], seq exceeds MaxLength, or batch × seq is too large for the arenas.</exception>");
        if (plan.TokenInput)
            w.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\">A token id is outside [0, vocab).</exception>");
    }

    /// <summary>Checks a sequence call and defines <c>rows</c> = batch × seq (overflow-checked against every arena).</summary>
    private static void EmitSequenceGuard(SourceWriter w, ModelPlan plan)
    {
        w.Line($"int rows = {Guards}.CheckSequence({String(plan.Spec.ClassName)}, input.Length, output.Length, batch, seq, lengths, InputSize, OutputSize, outputIsSequence: {Bool(plan.Final.OutputIsSequence)}, MaxLength, MaxPositions);");
        if (!plan.HasSource) return;
        w.Line($"int sourceRows = {Guards}.CheckSource({String(plan.Spec.ClassName)}, source.Length, batch, sourceSeq, sourceLengths, SourceSize, MaxPositions);");
        w.Line("int cap = global::System.Math.Max(rows, sourceRows);   // arena regions are planned per position and sized for the longer of T and S");
    }

    /// <summary>Remembers what Backward needs of this training call and grows the composite layers' buffers (then they stay).</summary>
    private static void EmitSequenceTrainingState(SourceWriter w, ModelPlan plan)
    {
        w.Line("_trainingSeq = seq;");
        w.Line("_trainingHasLengths = !lengths.IsEmpty;");
        w.Open("if (!lengths.IsEmpty)");
        w.Line("if (_trainingLengths.Length < batch) _trainingLengths = new int[batch];");
        w.Line("lengths.CopyTo(_trainingLengths);");
        w.Close();
        if (plan.HasSource)
        {
            w.Line("_trainingSourceSeq = sourceSeq;");
            w.Line("_trainingSourceHasLengths = !sourceLengths.IsEmpty;");
            w.Open("if (!sourceLengths.IsEmpty)");
            w.Line("if (_trainingSourceLengths.Length < batch) _trainingSourceLengths = new int[batch];");
            w.Line("sourceLengths.CopyTo(_trainingSourceLengths);");
            w.Close();
        }
        var composites = plan.Shapes.Nodes.Where(n => IsComposite(n.Layer)).ToList();
        if (composites.Count == 0) return;
        string model = String(plan.Spec.ClassName);
        foreach (var node in composites)
        {
            string kept = KeptLength(plan, node);
            w.Line($"if ({KeptField(node)}.Length < {kept}) {KeptField(node)} = new float[{Guards}.ArenaLength({model}, {kept})];");
        }
        // Math.Max takes two operands: nest it for three or more composites (an encoder, a decoder and an attention layer).
        string work = composites.Select(n => $"{GeometryField(n.Name)}.WorkspaceLength({CallSizes(plan, n)})")
            .Aggregate((a, b) => $"global::System.Math.Max({a}, {b})");
        w.Line($"long workspace = {work};");
        w.Line($"if (_workspace.Length < workspace) _workspace = new float[{Guards}.ArenaLength({model}, workspace)];");
    }

    /// <summary>The first lines of Backward in a sequence model: the last training call's batch, T, rows and lengths.</summary>
    private static void EmitSequenceBackwardState(SourceWriter w, ModelPlan plan)
    {
        w.Line("int batch = _trainingBatch, seq = _trainingSeq, rows = batch * seq;");
        w.Line($"{Guards}.CheckSequenceBackward({String(plan.Spec.ClassName)}, dOutput.Length, dInput.Length, batch, seq, InputSize, OutputSize, outputIsSequence: {Bool(plan.Final.OutputIsSequence)}, tokenInput: {Bool(plan.TokenInput)});");
        w.Line("global::System.ReadOnlySpan<int> lengths = _trainingHasLengths ? new(_trainingLengths, 0, batch) : default;");
        if (!plan.HasSource) return;
        w.Line("int sourceSeq = _trainingSourceSeq, sourceRows = batch * sourceSeq, cap = global::System.Math.Max(rows, sourceRows);");
        w.Line("global::System.ReadOnlySpan<int> sourceLengths = _trainingSourceHasLengths ? new(_trainingSourceLengths, 0, batch) : default;");
        if (plan.SourceIsFloat)
            w.Line($"{Guards}.CheckSourceBackward({String(plan.Spec.ClassName)}, dSource.Length, batch, sourceSeq, SourceSize);");
    }

    /// <summary>Fields a sequence model's training keeps between ForwardTrain and Backward.</summary>
    private static void EmitSequenceFields(SourceWriter w, ModelPlan plan)
    {
        w.Line("private int _trainingSeq;   // T of the last ForwardTrain");
        w.Line("private bool _trainingHasLengths;");
        w.Line("private int[] _trainingLengths = global::System.Array.Empty<int>();   // [batch] real lengths of the last ForwardTrain");
        if (plan.HasSource)
        {
            w.Line("private int _trainingSourceSeq;   // S of the last ForwardTrain");
            w.Line("private bool _trainingSourceHasLengths;");
            w.Line("private int[] _trainingSourceLengths = global::System.Array.Empty<int>();   // [batch] real source lengths of the last ForwardTrain");
        }
        if (!plan.Shapes.Nodes.Any(n => IsComposite(n.Layer))) return;
        w.Line("private float[] _workspace = global::System.Array.Empty<float>();   // recurrent/attention scratch, shared by the layers (they run one at a time)");
        foreach (var node in plan.Shapes.Nodes.Where(n => IsComposite(n.Layer)))
        {
            w.Line($"private float[] {KeptField(node)} = global::System.Array.Empty<float>();   // [rows, {GeometryField(node.Name)}.TrainingStepLength] gates and states backward reuses");
            if (AttentionWeightDropout(node.Layer) > 0)
                w.Line($"private ulong {AttentionSeedField(node)};   // the last ForwardTrain's attention-dropout seed: Backward regenerates the masks from it");
        }
    }

    /// <summary>
    /// Whether the model can run one position at a time with a key/value cache: a causal Transformer stack, a bound on T
    /// (the cache size), and otherwise only layers that work position by position (no pooling, recurrence or full attention).
    /// </summary>
    private static bool SupportsSteps(ModelPlan plan) => plan.HasSource ? SupportsSourceSteps(plan) :
        plan.IsSequence && plan.Spec.MaxLength > 0 && plan.Final.OutputIsSequence
        && plan.Shapes.Nodes.Any(n => HasCache(n.Layer))
        && plan.Shapes.Nodes.All(n => StepsPerPosition(n.Layer) || HasCache(n.Layer));

    /// <summary>Layers that compute each position from that position alone, so a step runs them on its one row.</summary>
    private static bool StepsPerPosition(LayerSpec layer) =>
        layer is EmbeddingSpec or PositionEmbeddingSpec or DenseSpec or LayerNormSpec or ActivationSpec or LogSoftmaxSpec or DropoutSpec or MergeSpec;

    /// <summary>
    /// Whether a two-input model can decode step by step: its target side (every node without S) is what a single-input model
    /// needs, plus causal decoders and cross-attention layers whose memory is over the source (their keys and values of the
    /// source are prepared once); the source side runs whole in PrepareSource.
    /// </summary>
    private static bool SupportsSourceSteps(ModelPlan plan) =>
        plan.Spec.MaxLength > 0 && plan.Final.OutputIsSequence
        && plan.Shapes.Nodes.Any(IsSourceCrossAttention)
        && plan.Shapes.Nodes.Where(n => !IsSourceNode(plan, n))
            .All(n => IsSourceCrossAttention(n) || (!UsesSourceMemory(n) && (StepsPerPosition(n.Layer) || HasCache(n.Layer))));

    /// <summary>
    /// A target node attending to the second input's S positions that can step over a prepared memory: a causal decoder, or a
    /// cross-attention layer without rotary embeddings (over S it is never causal: MG diagnostic).
    /// </summary>
    private static bool IsSourceCrossAttention(GraphNode node) =>
        node.Layer is DecoderSpec { Causal: true } or AttentionSpec { Rotary: false, Causal: false } && UsesSourceMemory(node);

    /// <summary>Which nodes an inference body runs: all, the incremental step's, or the source side that PrepareSource runs once.</summary>
    private enum InferencePart
    {
        /// <summary>Forward: every node over the whole sequence(s).</summary>
        Whole,

        /// <summary>ForwardStep: one target position; a two-input model's source nodes are skipped (their part is in the cache).</summary>
        Step,

        /// <summary>PrepareSource: the source nodes over S, and each decoder's cross-attention keys and values into the cache.</summary>
        Source,
    }

    /// <summary>Whether <paramref name="part"/> runs <paramref name="node"/>.</summary>
    private static bool InPart(ModelPlan plan, GraphNode node, InferencePart part) => part switch
    {
        InferencePart.Source => IsSourceNode(plan, node) || IsSourceCrossAttention(node),
        InferencePart.Step => !IsSourceNode(plan, node),
        _ => true,
    };

    /// <summary>Layers that keep keys and values in the caller's cache when decoding step by step (causal attention).</summary>
    private static bool HasCache(LayerSpec layer) => layer is TransformerSpec { Causal: true } or AttentionSpec { Causal: true };

    /// <summary>Per-example floats of an attention layer's key/value cache: K and V of every layer of the stack for MaxLength positions.</summary>
    private static int CacheLength(ModelPlan plan, GraphNode node) =>
        2 * (node.Layer is TransformerSpec tf ? tf.Layers : 1) * plan.Spec.MaxLength * node.Output[1];

    /// <summary>An attention layer's part of the caller's cache span (a two-input model's self-attention keys and values: <see cref="SourceModelCacheSlice"/>).</summary>
    private static string CacheSlice(ModelPlan plan, GraphNode node) => plan.HasSource ? SourceModelCacheSlice(plan, node) :
        CallerSlice(plan, node, "cache", n => HasCache(n.Layer), n => CacheLength(plan, n));

    /// <summary>The memory operand of an attention call: its second source (cross-attention), or none.</summary>
    private static string MemoryOperand(System.Collections.Generic.List<string> sources) => sources.Count > 1 ? sources[1] : "default";

    /// <summary>The incremental decoding entry point: one position per call, attention over the cached keys and values.</summary>
    private static void EmitForwardStep(SourceWriter w, ModelPlan plan)
    {
        if (plan.HasSource)
        {
            EmitSourceSteps(w, plan);
            return;
        }
        int cache = plan.Shapes.Nodes.Where(n => HasCache(n.Layer)).Sum(n => CacheLength(plan, n));
        w.Line("/// <summary>Floats of key/value cache per example that <see cref=\"ForwardStep\"/> needs: keys and values of every attention layer for MaxLength positions.</summary>");
        w.Line($"public const int CacheSize = {Int(cache)};");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Incremental decoding: runs position <paramref name=\"position\"/> alone, attending to the keys and values that earlier");
        w.Line("/// calls for positions 0 … position − 1 left in <paramref name=\"cache\"/> (and appending its own), so producing token t");
        w.Line("/// costs attention over t positions instead of a re-run of the prefix. Its output equals row <c>position</c> of");
        w.Line("/// <see cref=\"Forward(global::System.ReadOnlySpan{int}, global::System.Span{float}, int, int, global::System.ReadOnlySpan{int})\"/>");
        w.Line("/// over the prefix. Thread-safe for distinct caches; allocates nothing in steady state.");
        w.Line("/// </summary>");
        w.Line(plan.TokenInput ? "/// <param name=\"input\">The ids at <paramref name=\"position\"/> [batch, InputSize].</param>" : "/// <param name=\"input\">The vectors at <paramref name=\"position\"/> [batch, InputSize].</param>");
        w.Line("/// <param name=\"output\">[batch, OutputSize] receives the outputs at <paramref name=\"position\"/>.</param>");
        w.Line("/// <param name=\"batch\">Sequences decoded together (the same for every position of one cache).</param>");
        w.Line("/// <param name=\"position\">The position, in [0, MaxLength): call 0, 1, 2, … in order.</param>");
        w.Line("/// <param name=\"cache\">[batch × CacheSize], kept by the caller between calls.</param>");
        w.Open($"public void ForwardStep(global::System.ReadOnlySpan<{(plan.TokenInput ? "int" : "float")}> input, global::System.Span<float> output, int batch, int position, global::System.Span<float> cache)");
        w.Line($"int rows = {Guards}.CheckStep({String(plan.Spec.ClassName)}, input.Length, output.Length, batch, position, cache.Length, InputSize, OutputSize, MaxLength, CacheSize);");
        if (plan.Shapes.Nodes.Any(n => n.Layer is PositionEmbeddingSpec))
            w.Line("const int seq = 1;   // one position per call");
        EmitInferenceBody(w, plan, InferencePart.Step);
        w.Close();
        w.Line();
    }

    /// <summary>Layers the runtime implements as one composite call with a geometry, kept state and a workspace (recurrent stacks, Transformer stacks, attention).</summary>
    private static bool IsComposite(LayerSpec layer) => layer is RecurrentSpec or TransformerSpec or DecoderSpec or AttentionSpec;

    /// <summary>The runtime class implementing a composite node.</summary>
    private static string CompositeKernels(LayerSpec layer) => layer is TransformerSpec ? $"{Kernels}.TransformerKernels" : $"{Kernels}.RecurrentKernels";

    /// <summary>The attention-weight dropout of a node (0 for layers without attention).</summary>
    private static double AttentionWeightDropout(LayerSpec layer) => layer switch
    {
        TransformerSpec tf => tf.WeightDropout,
        DecoderSpec dec => dec.WeightDropout,
        AttentionSpec attention => attention.Dropout,
        _ => 0,
    };

    /// <summary>The field holding the seed of a node's attention-weight dropout masks between ForwardTrain and Backward (only when it has that dropout).</summary>
    private static string AttentionSeedField(GraphNode node) => $"_{Camel(node.Name)}AttentionSeed";

    /// <summary>
    /// The attention-dropout arguments of a node's TrainForward and Backward calls (", p, seed"), or "" without attention-weight
    /// dropout, so such models keep the calls (and the dropout generator's draws) they had before it existed.
    /// </summary>
    private static string AttentionDropoutArguments(GraphNode node) =>
        AttentionWeightDropout(node.Layer) > 0 ? $", {ModeDropout(AttentionWeightDropout(node.Layer))}, {AttentionSeedField(node)}" : "";

    /// <summary>The field holding what a recurrent node's training forward keeps.</summary>
    private static string KeptField(GraphNode node) => $"_{Camel(node.Name)}Kept";

    /// <summary>This call's part of <see cref="KeptField"/>: [rows, TrainingStepLength].</summary>
    private static string KeptSpan(GraphNode node) => UsesSourceMemory(node)
        ? $"new global::System.Span<float>({KeptField(node)}, 0, (int){GeometryField(node.Name)}.KeptLength(batch, seq, sourceSeq))"
        : $"new global::System.Span<float>({KeptField(node)}, 0, rows * {GeometryField(node.Name)}.TrainingStepLength)";

    /// <summary>Floats a composite node keeps in this call (a long expression): per row of its domain, or per query and memory row for cross-attention over S.</summary>
    private static string KeptLength(ModelPlan plan, GraphNode node) =>
        UsesSourceMemory(node) ? $"{GeometryField(node.Name)}.KeptLength(batch, seq, sourceSeq)"
        : $"(long){(IsSourceNode(plan, node) ? SourceRows : "rows")} * {GeometryField(node.Name)}.TrainingStepLength";

    /// <summary>The run-time sizes a composite node's geometry takes: (batch, seq), (batch, sourceSeq) over S, (batch, seq, sourceSeq) across.</summary>
    private static string CallSizes(ModelPlan plan, GraphNode node) =>
        UsesSourceMemory(node) ? "batch, seq, sourceSeq" : IsSourceNode(plan, node) ? "batch, sourceSeq" : "batch, seq";

    /// <summary>A node's whole parameter range (recurrent layers take every tensor as one slice, in state-dict order).</summary>
    private static string NodeParams(GraphNode node, string buffer) =>
        $"{buffer}.Slice({OffsetConstant(node.Params[0])}, {Int(node.Params.Sum(p => p.Length))})";

    private static string Camel(string name)
    {
        string pascal = Pascal(name);
        return char.ToLowerInvariant(pascal[0]) + pascal.Substring(1);
    }

    private static string Bool(bool value) => value ? "true" : "false";

    /// <summary>A position embedding's table: its learned weight, or the static sinusoidal table of the class.</summary>
    private static string PositionTable(GraphNode node) =>
        ((PositionEmbeddingSpec)node.Layer).Sinusoidal ? $"{GeometryField(node.Name)}" : ParamSlice(node, "weight");

    /// <summary>"columns, column, " for an Embedding reading one of several ids per position; "" when there is one.</summary>
    private static string IdColumns(GraphNode node) =>
        node.InputShapes[0].Count == 2 ? $"{Int(node.InputShapes[0][1])}, {Int(((EmbeddingSpec)node.Layer).Column)}, " : "";
}
