// Incremental decoding of a two-input (encoder-decoder) model: PrepareSource runs the source side once per sequence and projects
// every decoder layer's cross-attention keys and values of it into the caller's cache; ForwardStep then runs one target position
// at a time over the target side, as a single-input model's does, with each decoder reading those keys and values. The cache's
// size depends on S, so it is CacheSize(sourceSeq) floats per example, laid out as
//   [header: SourceHeaderSize ints per example][self-attention K/V of every causal stack, MaxLength rows][cross K/V, S rows]
// each part batch-major as the kernels take it. The header records S and the real source lengths, so ForwardStep keeps the
// single-input signature and can tell a cache that was never prepared.
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;
using ModelGen.Generators.Planning;
using ModelGen.Generators.Shapes;
using static ModelGen.Generators.Emitting.EmitNames;

namespace ModelGen.Generators.Emitting;

internal static partial class ModelEmitter
{
    /// <summary>Per-example floats of a target node's self-attention cache: K and V of every layer for MaxLength positions (0: none).</summary>
    private static int SelfCacheLength(ModelPlan plan, GraphNode node) => node.Layer switch
    {
        DecoderSpec dec => 2 * dec.Layers * plan.Spec.MaxLength * node.Output[1],
        _ when HasCache(node.Layer) => CacheLength(plan, node),
        _ => 0,
    };

    /// <summary>Per-example floats per source position of a node's cross-attention cache: K and V of every layer (0: no attention over S).</summary>
    private static int MemoryCacheLength(GraphNode node) => !IsSourceCrossAttention(node) ? 0
        : 2 * (node.Layer is DecoderSpec dec ? dec.Layers : 1) * node.Output[1];

    /// <summary>A target node's self-attention part of a two-input model's cache (after the header and the earlier nodes' parts).</summary>
    private static string SourceModelCacheSlice(ModelPlan plan, GraphNode node)
    {
        int offset = plan.Shapes.Nodes.TakeWhile(n => n != node).Sum(n => SelfCacheLength(plan, n));
        string start = offset == 0 ? $"batch * {Guards}.SourceHeaderSize" : $"batch * ({Guards}.SourceHeaderSize + {Int(offset)})";
        return $"cache.Slice({start}, batch * {Int(SelfCacheLength(plan, node))})";
    }

    /// <summary>A node's cross-attention part of the cache: after every fixed part, [Layers, 2, batch, Heads, sourceSeq, HeadSize].</summary>
    private static string MemoryCacheSlice(ModelPlan plan, GraphNode node)
    {
        int offset = plan.Shapes.Nodes.TakeWhile(n => n != node).Sum(MemoryCacheLength);
        string start = offset == 0 ? "batch * CacheFixedSize" : $"batch * CacheFixedSize + batch * sourceSeq * {Int(offset)}";
        return $"cache.Slice({start}, batch * sourceSeq * {Int(MemoryCacheLength(node))})";
    }

    /// <summary>CacheSize(sourceSeq), PrepareSource and ForwardStep of a two-input model.</summary>
    private static void EmitSourceSteps(SourceWriter w, ModelPlan plan)
    {
        var nodes = plan.Shapes.Nodes;
        string model = String(plan.Spec.ClassName);
        string ids = plan.TokenInput ? "int" : "float";
        w.Line($"private const int CacheFixedSize = {Guards}.SourceHeaderSize + {Int(nodes.Sum(n => SelfCacheLength(plan, n)))};   // per example: the source header, then every causal self-attention's keys and values for MaxLength positions");
        w.Line($"private const int CacheSizePerSourcePosition = {Int(nodes.Sum(MemoryCacheLength))};   // per example and source position: the keys and values of every cross-attention over the source");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Floats of decoding cache per example for a source of <paramref name=\"sourceSeq\"/> positions: the source's real lengths, the keys");
        w.Line("/// and values of every causal self-attention for MaxLength target positions, and the keys and values of the source of every");
        w.Line("/// cross-attention over it (each decoder layer's, each attention layer's). Allocate <c>batch × CacheSize(sourceSeq)</c> floats for <see cref=\"PrepareSource\"/> and <see cref=\"ForwardStep\"/>.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"sourceSeq\">The padded source length S that PrepareSource will be given.</param>");
        w.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\"><paramref name=\"sourceSeq\"/> is not positive.</exception>");
        w.Line("/// <exception cref=\"global::System.ArgumentException\">The size exceeds the largest array.</exception>");
        w.Line($"public static int CacheSize(int sourceSeq) => {Guards}.SourceCacheSize({model}, sourceSeq, CacheFixedSize, CacheSizePerSourcePosition);");
        w.Line();

        w.Line("/// <summary>");
        w.Line($"/// Starts incremental decoding of <paramref name=\"batch\"/> sequences: runs the source side (every layer over '{plan.Spec.SourceName}') once and");
        w.Line("/// stores the keys and values of its output of every cross-attention over it, with the source lengths, in <paramref name=\"cache\"/>;");
        w.Line("/// then <see cref=\"ForwardStep\"/> decodes target positions 0, 1, 2, … against it. Thread-safe for distinct caches; allocates");
        w.Line("/// nothing in steady state.");
        w.Line("/// </summary>");
        w.Line(plan.SourceIsFloat
            ? $"/// <param name=\"source\">The second input '{plan.Spec.SourceName}': [batch, sourceSeq, SourceSize] (padded) floats; padded positions never affect real outputs.</param>"
            : $"/// <param name=\"source\">The second input '{plan.Spec.SourceName}': token ids [batch, sourceSeq] (padded), each in [0, vocab).</param>");
        w.Line("/// <param name=\"batch\">Sequences decoded together (the same for every ForwardStep on this cache).</param>");
        w.Line("/// <param name=\"sourceSeq\">The padded length S of <paramref name=\"source\"/>.</param>");
        w.Line("/// <param name=\"sourceLengths\">Each example's real source length in [1, sourceSeq], or empty when all are <paramref name=\"sourceSeq\"/>; cross-attention never reads padded source positions.</param>");
        w.Line("/// <param name=\"cache\">[batch × CacheSize(sourceSeq)], kept by the caller for the ForwardStep calls; its earlier contents are discarded.</param>");
        w.Line("/// <exception cref=\"global::System.ArgumentException\">batch is not positive, a span's length does not match batch and sourceSeq, a source length is outside [1, sourceSeq], or batch × sourceSeq is too large for the arenas.</exception>");
        w.Line(plan.SourceIsFloat
            ? "/// <exception cref=\"global::System.ArgumentOutOfRangeException\">sourceSeq is not positive.</exception>"
            : "/// <exception cref=\"global::System.ArgumentOutOfRangeException\">sourceSeq is not positive, or a token id is outside [0, vocab).</exception>");
        w.Open($"public void PrepareSource(global::System.ReadOnlySpan<{(plan.SourceIsFloat ? "float" : "int")}> source, int batch, int sourceSeq, global::System.ReadOnlySpan<int> sourceLengths, global::System.Span<float> cache)");
        w.Line($"{Guards}.BeginSourceCache({model}, cache, batch, sourceSeq, CacheSize(sourceSeq));");
        w.Line($"int sourceRows = {Guards}.CheckSource({model}, source.Length, batch, sourceSeq, sourceLengths, SourceSize, MaxPositions);");
        w.Line("int cap = sourceRows;   // the source side's arena regions hold S rows per example");
        EmitInferenceBody(w, plan, InferencePart.Source);
        w.Line($"{Guards}.WriteSourceHeader(cache, batch, sourceSeq, sourceLengths);   // last: only a completed call marks the cache prepared");
        w.Close();
        w.Line();

        w.Line("/// <summary>");
        w.Line("/// Incremental decoding: runs target position <paramref name=\"position\"/> alone, attending to the keys and values that earlier");
        w.Line("/// calls for positions 0 … position − 1 left in <paramref name=\"cache\"/> (and appending its own) and to the source that");
        w.Line("/// <see cref=\"PrepareSource\"/> stored there, so producing token t costs attention over t positions instead of a re-run of the");
        w.Line("/// prefix and the source. Its output equals row <c>position</c> of");
        w.Line($"/// <see cref=\"Forward(global::System.ReadOnlySpan{{{ids}}}, global::System.ReadOnlySpan{{{(plan.SourceIsFloat ? "float" : "int")}}}, global::System.Span{{float}}, int, int, int, global::System.ReadOnlySpan{{int}}, global::System.ReadOnlySpan{{int}})\"/>");
        w.Line("/// over the target prefix with the same source. Thread-safe for distinct caches; allocates nothing in steady state.");
        w.Line("/// </summary>");
        w.Line(plan.TokenInput ? "/// <param name=\"input\">The target ids at <paramref name=\"position\"/> [batch, InputSize].</param>" : "/// <param name=\"input\">The target vectors at <paramref name=\"position\"/> [batch, InputSize].</param>");
        w.Line("/// <param name=\"output\">[batch, OutputSize] receives the outputs at <paramref name=\"position\"/>.</param>");
        w.Line("/// <param name=\"batch\">Sequences decoded together (PrepareSource's batch).</param>");
        w.Line("/// <param name=\"position\">The target position, in [0, MaxLength): call 0, 1, 2, … in order after PrepareSource.</param>");
        w.Line("/// <param name=\"cache\">[batch × CacheSize(sourceSeq)], prepared by PrepareSource and kept by the caller between calls.</param>");
        w.Line("/// <exception cref=\"global::System.ArgumentException\">batch is not positive, a span's length does not match, or the position is outside [0, MaxLength).</exception>");
        w.Line("/// <exception cref=\"global::System.InvalidOperationException\">The cache holds no source prepared for this batch (PrepareSource was not called on it, or failed).</exception>");
        if (plan.TokenInput)
            w.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\">A token id is outside [0, vocab).</exception>");
        w.Open($"public void ForwardStep(global::System.ReadOnlySpan<{ids}> input, global::System.Span<float> output, int batch, int position, global::System.Span<float> cache)");
        w.Line($"global::System.ReadOnlySpan<int> sourceLengths = {Guards}.ReadSourceHeader({model}, cache, batch, out int sourceSeq);");
        w.Line($"int rows = {Guards}.CheckStep({model}, input.Length, output.Length, batch, position, cache.Length, InputSize, OutputSize, MaxLength, CacheSize(sourceSeq));");
        w.Line("int cap = rows;   // one target position per example");
        if (nodes.Any(n => n.Layer is PositionEmbeddingSpec && !IsSourceNode(plan, n)))
            w.Line("const int seq = 1;   // one position per call");
        EmitInferenceBody(w, plan, InferencePart.Step);
        w.Close();
        w.Line();
    }

    /// <summary>In PrepareSource, a node attending to the source: its cross-attention keys and values of <paramref name="memory"/> into the cache.</summary>
    private static void EmitPrepareMemory(SourceWriter w, ModelPlan plan, GraphNode node, string memory)
    {
        string g = GeometryField(node.Name), work = $"{Camel(node.Name)}Work";
        string kernels = node.Layer is DecoderSpec ? $"{Kernels}.TransformerDecoderKernels" : $"{Kernels}.MultiHeadAttentionKernels";
        w.Line($"// {node.Name}: cross-attention keys and values{(node.Layer is DecoderSpec ? " of every layer" : "")} over {(node.Inputs[1] < 0 ? plan.Spec.SourceName : plan.Shapes.Nodes[node.Inputs[1]].Name)} : {BatchShape(node.InputShapes[1])} -> cache");
        w.Line($"float[] {work} = _inferenceArenas.Rent({Guards}.ArenaLength({String(plan.Spec.ClassName)}, {g}.PrepareWorkspaceLength(batch, sourceSeq)));");
        w.Line($"{kernels}.PrepareMemory({g}, {memory}, {NodeParams(node, "parameters")}, {MemoryCacheSlice(plan, node)}, {work}, batch, sourceSeq);");
        w.Line($"_inferenceArenas.Return({work});");
    }

    /// <summary>In ForwardStep, a cross-attention layer's query at one target position over the prepared source.</summary>
    private static void EmitMemoryAttentionStep(SourceWriter w, ModelPlan plan, GraphNode node, string input, string output)
    {
        string g = GeometryField(node.Name), work = $"{Camel(node.Name)}Work";
        w.Line($"float[] {work} = _inferenceArenas.Rent({Guards}.ArenaLength({String(plan.Spec.ClassName)}, {g}.MemoryStepWorkspaceLength(batch, sourceSeq)));");
        w.Line($"{Kernels}.MultiHeadAttentionKernels.ForwardStepOverMemory({g}, {input}, {NodeParams(node, "parameters")}, {output}, {MemoryCacheSlice(plan, node)}, sourceLengths, sourceSeq, {work}, batch);");
        w.Line($"_inferenceArenas.Return({work});");
    }

    /// <summary>In ForwardStep, a source decoder over one target position: self-attention over its cache, cross-attention over the prepared source.</summary>
    private static void EmitDecoderStep(SourceWriter w, ModelPlan plan, GraphNode node, string input, string output)
    {
        string g = GeometryField(node.Name), work = $"{Camel(node.Name)}Work";
        w.Line($"float[] {work} = _inferenceArenas.Rent({Guards}.ArenaLength({String(plan.Spec.ClassName)}, {g}.StepWorkspaceLength(batch, MaxLength, sourceSeq)));");
        w.Line($"{Kernels}.TransformerDecoderKernels.ForwardStep({g}, {input}, {NodeParams(node, "parameters")}, {output}, {SourceModelCacheSlice(plan, node)}, {MemoryCacheSlice(plan, node)}, sourceLengths, position, MaxLength, sourceSeq, {work}, batch);");
        w.Line($"_inferenceArenas.Return({work});");
    }
}
