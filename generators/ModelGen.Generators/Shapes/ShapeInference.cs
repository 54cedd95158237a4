// Shape inference: ModelSpec -> a checked dataflow graph with every tensor's shape, parameters and FLOPs, or the
// problems that make the model invalid. Pure and Roslyn-free, so the generator and the analyzers call the same
// function and can never disagree, and unit tests call it directly.
//
// The graph is flat: blocks (members whose type is another [Model]) are inlined with their weight names prefixed
// ("block1.conv1.weight", as PyTorch nests state_dict keys), residual shortcuts become an Add node (after a
// torchvision-style 1x1 conv + BatchNorm "downsample" projection when asked), and From/Add/Concat become edges.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;

namespace ModelGen.Generators.Shapes;

/// <summary>A named tensor of a layer, PyTorch layout: a trainable parameter, or a buffer (PyTorch's registered buffers).</summary>
/// <param name="Name">Full state-dict name, e.g. <c>block1.conv1.weight</c>.</param>
/// <param name="ShortName">The last part: <c>weight</c>, <c>bias</c>, <c>running_mean</c>, <c>num_batches_tracked</c>.</param>
/// <param name="IsBuffer">A buffer (running statistics, counters): kept apart from the parameters, never trained.</param>
/// <param name="IsCount">A buffer that is an integer counter (saved as I64, as PyTorch's <c>num_batches_tracked</c>).</param>
internal sealed record ParamSpec(string Name, string ShortName, EquatableArray<int> Shape, bool IsBuffer = false, bool IsCount = false)
{
    public int Length => Shape.Aggregate(1, (a, b) => a * b);

    /// <summary>The element count without overflow (checked against the array limit before <see cref="Length"/> is used).</summary>
    public long LongLength => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>One operation of the flattened graph.</summary>
/// <param name="Layer">What it computes (for synthetic residual nodes, a generated spec).</param>
/// <param name="Name">Full name, the prefix of its parameters (e.g. <c>block1.conv1</c>).</param>
/// <param name="Member">Index of the top-level member it belongs to.</param>
/// <param name="Inputs">Producer node indices; -1 is the model input.</param>
/// <param name="InputShapes">Shapes of <paramref name="Inputs"/>, per example.</param>
/// <param name="Output">Output shape per example.</param>
/// <param name="Params">Its trainable parameters, in buffer order.</param>
/// <param name="Buffers">Its buffers (running statistics, counters), in buffer order.</param>
internal sealed record GraphNode(LayerSpec Layer, string Name, int Member, EquatableArray<int> Inputs, EquatableArray<EquatableArray<int>> InputShapes,
    EquatableArray<int> Output, EquatableArray<ParamSpec> Params, long Flops, EquatableArray<ParamSpec> Buffers)
{
    /// <summary>Floats per example of the first input; per position (T excluded) for a sequence tensor.</summary>
    public int InputLength => ShapeInference.Length(InputShapes[0]);

    /// <summary>Floats per example of the output; per position (T excluded) for a sequence tensor.</summary>
    public int OutputLength => ShapeInference.Length(Output);

    /// <summary>Whether the output has the run-time sequence dimension anywhere (so it holds batch × T × <see cref="OutputLength"/> floats).</summary>
    public bool OutputIsSequence => ShapeInference.HasSeq(Output);
}

/// <summary>A top-level member with its shapes (per example; batch excluded) and everything it owns.</summary>
internal sealed record LayerShape(LayerSpec Layer, EquatableArray<int> Input, EquatableArray<int> Output, EquatableArray<ParamSpec> Params, long Flops,
    EquatableArray<ParamSpec> Buffers);

/// <summary>One use of a block inside the model: where, at which shapes, and its members' shapes there.</summary>
/// <param name="Path">Its full name, the prefix of its parameters (<c>layer1a</c>, or <c>outer.inner</c> when nested).</param>
/// <param name="ShapeGeneric">Whether the block class declares no input shape (its shapes exist only at its uses).</param>
/// <param name="Layers">The block's members with their shapes at this use, in declaration order.</param>
internal sealed record BlockShape(string Path, string ClassName, bool ShapeGeneric, EquatableArray<int> Input, EquatableArray<int> Output, EquatableArray<LayerShape> Layers);

/// <summary>Result of shape inference: per-member shapes, the flattened graph, and the problems found.</summary>
/// <param name="Blocks">Every block use, nested ones included (outer before inner).</param>
internal sealed record ModelShapes(EquatableArray<LayerShape> Layers, EquatableArray<GraphNode> Nodes, EquatableArray<ModelProblem> Problems,
    EquatableArray<BlockShape> Blocks = default)
{
    public bool IsValid => Problems.Count == 0;
}

internal static class ShapeInference
{
    /// <summary>Infers shapes for a model without blocks (blocks are reported as unresolved).</summary>
    public static ModelShapes Infer(ModelSpec spec) => Infer(spec, static _ => null);

    /// <summary>Infers shapes for <paramref name="spec"/>; <paramref name="resolve"/> finds block models by fully qualified name. Never throws on malformed input.</summary>
    public static ModelShapes Infer(ModelSpec spec, Func<string, ModelSpec?> resolve) => Infer(spec, resolve, new List<string>());

    /// <summary><paramref name="enclosing"/>: the models whose blocks led here, to detect a model containing itself.</summary>
    private static ModelShapes Infer(ModelSpec spec, Func<string, ModelSpec?> resolve, List<string> enclosing)
    {
        var ctx = new Context(resolve) { MaxLength = spec.MaxLength };
        ctx.Stack.AddRange(enclosing);
        ctx.Stack.Add(spec.ClassName);
        ctx.Problems.AddRange(spec.Problems);
        if (spec.ShapeGeneric)
        {
            // A block without an input shape: only what holds whatever it receives is checked here; its shapes are
            // inferred, and their errors reported, at each member that uses it.
            if (spec.TokenInput || spec.MaxLength != 0)
                ctx.Problems.Add(new ModelProblem(ProblemIds.InvalidInputShape, "", spec.TokenInput ? "InputType" : "MaxLength",
                    $"Block '{spec.ClassName}' declares no input shape, so it takes its input from each model that uses it; {(spec.TokenInput ? "InputType" : "MaxLength")} belongs on that model's [Model]"));
            CheckMembers(spec, ctx);
            return ctx.Result();
        }
        if (spec.InputShape.Count == 0 || spec.InputShape.Skip(1).Any(d => d <= 0) || (spec.InputShape[0] <= 0 && spec.InputShape[0] != ModelSpec.Seq))
        {
            if (!spec.Problems.Any(p => p.Id is ProblemIds.UnboundAttribute or ProblemIds.CompilerReported && p.Member.Length == 0))
                ctx.Problems.Add(new ModelProblem(ProblemIds.InvalidInputShape, "",
                    spec.InputShape.Skip(1).Contains(ModelSpec.Seq)
                        ? $"Model '{spec.ClassName}' has input shape {Format(spec.InputShape)}; only the first dimension may be Dim.Seq (sequence tensors are [T, features])"
                        : $"Model '{spec.ClassName}' has input shape {Format(spec.InputShape)}; every dimension must be positive and at least one is required"));
            return ctx.Result();
        }
        bool firstIsEmbedding = spec.Members.Count > 0 && spec.Members[0] is { Layer: EmbeddingSpec, From: "" };
        bool tokens = spec.TokenInput || firstIsEmbedding;
        if (tokens && !(spec.InputShape.Count is 1 or 2 && spec.IsSequence))
        {
            ctx.Problems.Add(new ModelProblem(ProblemIds.ExpectsTokenIds, "",
                $"Model '{spec.ClassName}' takes token ids, so its input shape is [Dim.Seq] (T ids per example) or [Dim.Seq, ids per position], not {Format(spec.InputShape)}"));
            return ctx.Result();
        }
        if (spec.MaxLength < 0 || (spec.MaxLength > 0 && !spec.IsSequence))
        {
            ctx.Problems.Add(new ModelProblem(ProblemIds.InvalidInputShape, "", "MaxLength", spec.MaxLength < 0
                ? $"Model '{spec.ClassName}' has MaxLength = {spec.MaxLength}; it must be positive (or 0 for no bound)"
                : $"Model '{spec.ClassName}' sets MaxLength but its input {Format(spec.InputShape)} has no sequence dimension (start it with Dim.Seq)"));
            return ctx.Result();
        }
        CheckMembers(spec, ctx);
        if (spec.HasSource)
        {
            // The second input: S token ids (read by an Embedding) or S float vectors (read directly, by cross-attention too)
            // beside a sequence model's T, named in From and Memory like a member.
            string problem = !spec.IsSequence
                ? $"Model '{spec.ClassName}' declares the second input '{spec.SourceName}' but its own input {Format(spec.InputShape)} has no run-time length; a model with [ModelInput] starts its [Model] shape with Dim.Seq"
                : spec.Members.Any(m => m.PropertyName == spec.SourceName)
                    ? $"Model '{spec.ClassName}' names its second input '{spec.SourceName}', which is also a member's name; From = \"{spec.SourceName}\" would be ambiguous"
                    : "";
            if (problem.Length > 0)
            {
                ctx.Problems.Add(new ModelProblem(ProblemIds.InvalidModelInput, "", spec.IsSequence ? "name" : "", problem));
                return ctx.Result();
            }
            ctx.SourceName = spec.SourceName;
            ctx.Source = new Tensor(-2, spec.SourceShape.ToArray(), $"the input '{spec.SourceName}'", ids: !spec.SourceIsFloat);
        }

        var output = InferScope(spec, prefix: "", topMember: -1, where: "", input: new Tensor(-1, spec.InputShape.ToArray(), "the model input", tokens), ctx, ctx.Layers);
        if (output is { } last && HasSourceSeq(last.Shape) && ctx.Problems.Count == 0)
            ctx.Problems.Add(new ModelProblem(ProblemIds.SourceSequenceMisused, spec.Members[spec.Members.Count - 1].PropertyName,
                $"Model '{spec.ClassName}' ends with {Format(last.Shape)} from {last.Description}, over the second input's length S; outputs, losses and lengths are per position of the model input [T, features], so end on a layer that reads S only as a Memory (TransformerDecoder, MultiHeadAttention)"));
        if (output is { } final && HasSeq(final.Shape) && !IsSequence(final.Shape) && ctx.Problems.Count == 0)
            ctx.Problems.Add(new ModelProblem(ProblemIds.SequenceNotSupported, spec.Members[spec.Members.Count - 1].PropertyName,
                $"Model '{spec.ClassName}' ends with {Format(final.Shape)} from {final.Description}, whose run-time length T is not the first axis; outputs, losses and lengths are per position [T, features], so end with [Permute] to put T first"));
        return ctx.Result();
    }

    /// <summary>Problems of the member list that do not depend on shapes: no layers, two layers of one weight name.</summary>
    private static void CheckMembers(ModelSpec spec, Context ctx)
    {
        if (spec.Members.Count == 0 && !spec.Problems.Any(p => p.Member.Length > 0)) // a malformed layer member is still a layer
            ctx.Problems.Add(new ModelProblem(ProblemIds.NoLayers, "", $"Model '{spec.ClassName}' declares no layers"));

        var seenNames = new HashSet<string>();
        foreach (var member in spec.Members)
            if (member.Layer is { } layer && !seenNames.Add(layer.Name))
                ctx.Problems.Add(new ModelProblem(ProblemIds.DuplicateLayerName, member.PropertyName,
                    $"Layer '{member.PropertyName}' has the weight name '{layer.Name}', which another layer already uses"));
    }

    /// <summary>A tensor in the graph; <paramref name="ids"/> marks the token ids of a token model's input.</summary>
    private readonly struct Tensor(int node, int[] shape, string description, bool ids = false)
    {
        public int Node { get; } = node;
        public int[] Shape { get; } = shape;
        public string Description { get; } = description;
        public bool Ids { get; } = ids;
    }

    private sealed class Context(Func<string, ModelSpec?> resolve)
    {
        public readonly Func<string, ModelSpec?> Resolve = resolve;
        public readonly List<GraphNode> Nodes = new();
        public readonly List<LayerShape> Layers = new();
        public readonly List<ModelProblem> Problems = new();
        public readonly List<BlockShape> Blocks = new();
        public readonly List<string> Stack = new();
        /// <summary>The model's declared bound on T (0: none), checked against position tables.</summary>
        public int MaxLength;
        /// <summary>The second input's name (empty: none) and its tensor [S], which top-level members may read.</summary>
        public string SourceName = "";
        public Tensor Source;
        /// <summary>Parameters and per-example activation floats of the nodes so far (long: checked against the array limit).</summary>
        public long Parameters, Activations;

        public ModelShapes Result() => new(Layers.ToEquatableArray(), Nodes.ToEquatableArray(), Problems.ToEquatableArray(), Blocks.ToEquatableArray());
    }

    /// <summary>
    /// Adds the nodes of <paramref name="spec"/>'s members and each member's shape to <paramref name="layers"/>; returns the
    /// scope's output, or null once a problem stops it. Inside a block (<paramref name="topMember"/> ≥ 0) problems go on
    /// <paramref name="where"/>, the enclosing model's member that uses the block.
    /// </summary>
    private static Tensor? InferScope(ModelSpec spec, string prefix, int topMember, string where, Tensor input, Context ctx, List<LayerShape> layers)
    {
        bool top = topMember < 0;
        var outputs = new Dictionary<string, Tensor>();
        var current = input;
        for (int i = 0; i < spec.Members.Count; i++)
        {
            var member = spec.Members[i];
            if (member.Layer is not { } layer) return null; // its problem was recorded while parsing
            int owner = top ? i : topMember;
            string at = top ? member.PropertyName : where;

            // Resolve the inputs: merges name theirs; others read From or the previous member; cross-attention adds its memory.
            Tensor? Named(string name, string argument)
            {
                if (name == MemberSpec.InputName) return input;
                if (outputs.TryGetValue(name, out var t)) return t;
                if (top && ctx.SourceName.Length > 0 && name == ctx.SourceName) return ctx.Source;
                bool later = spec.Members.Skip(i).Any(m => m.PropertyName == name);
                ctx.Problems.Add(new ModelProblem(ProblemIds.UnknownSource, at, top ? argument : "",
                    later ? $"{layer.Kind} '{layer.Name}' reads '{name}', which is declared after it (or is itself); layers run in declaration order"
                          : $"{layer.Kind} '{layer.Name}' reads '{name}', which is not a layer of '{spec.ClassName}' (use nameof(...) or Layer.Input)"));
                return null;
            }
            var sourceNames = layer is MergeSpec merge ? merge.Inputs.ToList() : member.From.Length > 0 ? new List<string> { member.From } : null;
            var sources = new List<Tensor>();
            if (sourceNames is null) sources.Add(current);
            else
            {
                foreach (var name in sourceNames)
                {
                    if (Named(name, layer is MergeSpec ? "" : "From") is not { } t) return null;
                    sources.Add(t);
                }
            }
            if (layer is AttentionSpec { Memory.Length: > 0 } attention)
            {
                if (Named(attention.Memory, "Memory") is not { } memory) return null;
                sources.Add(memory);
            }
            if (layer is DecoderSpec decoder)
            {
                if (decoder.Memory.Length == 0)
                {
                    ctx.Problems.Add(new ModelProblem(ProblemIds.InvalidHyperParameter, at, "",
                        $"TransformerDecoder '{decoder.Name}' has no Memory; set Memory = nameof(...) to the member (an encoder) whose [T, features] output its cross-attention reads"));
                    return null;
                }
                if (Named(decoder.Memory, "Memory") is not { } memory) return null;
                sources.Add(memory);
            }

            if (SourceMisuse(layer, sources) is { } misuse)
            {
                ctx.Problems.Add(new ModelProblem(ProblemIds.SourceSequenceMisused, at, top && member.From.Length > 0 && HasSourceSeq(sources[0].Shape) ? "From" : "", misuse));
                return null;
            }

            int firstNode = ctx.Nodes.Count;
            var result = layer is BlockSpec block
                ? InferBlock(block, prefix, owner, at, sources[0], ctx)
                : AddNode(layer, prefix + layer.Name, owner, at, sources, ctx);
            if (result is not { } output) return null; // later shapes would only repeat this error

            var owned = ctx.Nodes.Skip(firstNode).ToList();
            // A width-keeping convolution is shown as resolved at this use (its node's spec).
            var shown = layer is ConvSpec { KeepChannels: true } && owned.Count == 1 ? owned[0].Layer : layer;
            layers.Add(new LayerShape(shown, sources[0].Shape.ToEquatableArray(), output.Shape.ToEquatableArray(),
                owned.SelectMany(n => n.Params).ToEquatableArray(), owned.Sum(n => n.Flops), owned.SelectMany(n => n.Buffers).ToEquatableArray()));
            outputs[member.PropertyName] = output;
            current = output;
        }
        return current;
    }

    /// <summary>
    /// Why <paramref name="layer"/> cannot run on what it reads from the second input's length S, or null when it can: the layers
    /// on S work per position or attend within S (the generated code runs them over batch × S rows with the source lengths), and S
    /// meets the model's T only as the Memory of cross-attention (queries from T, keys and values from S, Tq ≠ Tk).
    /// </summary>
    private static string? SourceMisuse(LayerSpec layer, List<Tensor> sources)
    {
        if (!sources.Any(s => HasSourceSeq(s.Shape))) return null;
        var first = sources[0];
        string reads = $"{layer.Kind} '{layer.Name}' reads {Format(first.Shape)} from {first.Description}";
        const string allowed = "layers over S are Embedding, PositionEmbedding, TransformerEncoder, MultiHeadAttention, LayerNorm, Dense, Dropout and activations, and S meets T only as the Memory of a TransformerDecoder or MultiHeadAttention";
        if (layer is DecoderSpec or AttentionSpec { Memory.Length: > 0 })
        {
            var memory = sources[1];
            if (HasSourceSeq(first.Shape))
                return $"{reads}, over the second input's length S, as its queries; cross-attention takes queries from the model input's T and reads S through Memory";
            if (layer is AttentionSpec { Causal: true })
                return $"MultiHeadAttention '{layer.Name}' is causal over the Memory {Format(memory.Shape)} from {memory.Description}, whose positions are not the queries' (S ≠ T); drop Causal = true";
            return null;
        }
        if (layer is EmbeddingSpec or PositionEmbeddingSpec or TransformerSpec or AttentionSpec or LayerNormSpec or DenseSpec or DropoutSpec or ActivationSpec
            && IsSequence(first.Shape))
            return null;
        return $"{reads}, over the second input's length S; {allowed}";
    }

    private static Tensor? InferBlock(BlockSpec block, string prefix, int owner, string where, Tensor input, Context ctx)
    {
        if (ctx.Stack.Contains(block.ClassName))
        {
            ctx.Problems.Add(new ModelProblem(ProblemIds.BlockContainsItself, where,
                $"Block '{block.Name}' makes '{block.ClassName}' contain itself ({string.Join(" -> ", ctx.Stack.Concat(new[] { block.ClassName }))})"));
            return null;
        }
        var child = ctx.Resolve(block.TypeName);
        if (child is null)
        {
            ctx.Problems.Add(new ModelProblem(ProblemIds.InvalidBlock, where, $"Block '{block.Name}' has type '{block.ClassName}', which is not a [Model] class of this project"));
            return null;
        }
        var childShapes = Infer(child, ctx.Resolve, ctx.Stack);
        if (!childShapes.IsValid)
        {
            var first = childShapes.Problems[0];
            ctx.Problems.Add(new ModelProblem(ProblemIds.InvalidBlock, where, $"Block '{block.Name}' uses '{block.ClassName}', which is invalid: {first.Id}: {first.Message}"));
            return null;
        }
        if (!child.ShapeGeneric && !child.InputShape.SequenceEqual(input.Shape))
        {
            ctx.Problems.Add(new ModelProblem(ProblemIds.BlockInputMismatch, where,
                $"Block '{block.Name}' ({block.ClassName}) expects input {Format(child.InputShape)} but receives {Format(input.Shape)} from {input.Description}"));
            return null;
        }

        // The block's members are inferred here, on what this use feeds them: for a shape-generic block that is where
        // its shape errors surface, so they go on the member that uses it, saying which block layer failed and on what.
        int before = ctx.Problems.Count;
        var layers = new List<LayerShape>();
        int record = ctx.Blocks.Count;
        ctx.Blocks.Add(null!); // reserved, so outer blocks come before the ones nested in them
        ctx.Stack.Add(block.ClassName);
        var inner = InferScope(child, prefix + block.Name + ".", owner, where, input, ctx, layers);
        ctx.Stack.RemoveAt(ctx.Stack.Count - 1);
        for (int k = before; k < ctx.Problems.Count; k++)
        {
            var problem = ctx.Problems[k];
            // The argument named a layer attribute inside the block class; the location is now the using member.
            ctx.Problems[k] = problem with
            {
                Member = where,
                Argument = "",
                Message = child.ShapeGeneric
                    ? $"Block '{block.Name}' ({block.ClassName}) on input {Format(input.Shape)} from {input.Description}: {problem.Message}"
                    : problem.Message,
            };
        }
        if (inner is not { } body)
        {
            ctx.Blocks.RemoveRange(record, ctx.Blocks.Count - record);
            return null;
        }
        ctx.Blocks[record] = new BlockShape(prefix + block.Name, block.ClassName, child.ShapeGeneric, input.Shape.ToEquatableArray(), body.Shape.ToEquatableArray(),
            layers.ToEquatableArray());
        var output = new Tensor(body.Node, body.Shape, $"'{block.Name}'");
        if (!block.Residual) return output;

        var shortcut = input;
        string name = prefix + block.Name;
        if (!body.Shape.SequenceEqual(input.Shape))
        {
            string mismatch = $"Residual '{block.Name}' adds the output {Format(body.Shape)} of '{block.ClassName}' to its input {Format(input.Shape)}";
            if (!block.Projection)
            {
                ctx.Problems.Add(new ModelProblem(ProblemIds.ResidualShapeMismatch, where, "", mismatch + "; set Projection = true to add a projection shortcut"));
                return null;
            }
            if (ProjectionFor(input.Shape, body.Shape) is not { } projection)
            {
                ctx.Problems.Add(new ModelProblem(ProblemIds.ResidualShapeMismatch, where, "Projection",
                    mismatch + "; a 1x1 convolution with an integer stride (or a linear layer for flat inputs) cannot map one onto the other"));
                return null;
            }
            foreach (var layer in projection)
                shortcut = AddNode(layer with { Name = name + ".downsample." + layer.Name }, name + ".downsample." + layer.Name, owner, where, new List<Tensor> { shortcut }, ctx)!.Value;
        }
        var add = new MergeSpec(block.Name, false, EquatableArray<string>.Empty);
        var sum = AddNode(add, name, owner, where, new List<Tensor> { output, shortcut }, ctx);
        return sum is { } s ? new Tensor(s.Node, s.Shape, $"'{block.Name}'") : null;
    }

    /// <summary>torchvision's downsample: 1x1 conv (stride = spatial reduction, no bias) + BatchNorm; Dense for flat tensors.</summary>
    private static LayerSpec[]? ProjectionFor(int[] from, int[] to)
    {
        if (from.Length == 1 && to.Length == 1)
            return new LayerSpec[] { new DenseSpec("0", to[0], ActivationKind.None, true, InitKind.Default) };
        if (from.Length != to.Length || from.Length < 2 || from.Length > 3) return null;
        int stride = (from[1] + to[1] - 1) / to[1];
        for (int d = 1; d < from.Length; d++)
            if ((from[d] - 1) / stride + 1 != to[d]) return null;
        int rank = from.Length - 1;
        return new LayerSpec[]
        {
            new ConvSpec("0", rank, to[0], new Hw(1, 1), new Hw(rank == 2 ? stride : 1, stride), new Hw(0, 0), false, new Hw(1, 1), 1, ActivationKind.None, false, InitKind.Default),
            new BatchNormSpec("1", rank, 1e-5, 0.1, true),
        };
    }

    private static Tensor? AddNode(LayerSpec layer, string name, int owner, string where, List<Tensor> sources, Context ctx)
    {
        var problems = ctx.Problems;
        int before = problems.Count;
        var inputs = sources.Select(s => s.Shape).ToArray();
        if ((layer is EmbeddingSpec) != sources[0].Ids || sources.Skip(1).Any(s => s.Ids))
        {
            problems.Add(new ModelProblem(ProblemIds.ExpectsTokenIds, where, layer is EmbeddingSpec && sources[0].Node == -2
                ? $"Embedding '{layer.Name}' expects token ids but receives the float tensor {Format(inputs[0])} from {sources[0].Description}, a second input of float vectors; read it with a layer such as [Dense] or as a Memory, or declare token ids with [ModelInput(name, Dim.Seq, InputType = typeof(int))]"
                : layer is EmbeddingSpec
                ? $"Embedding '{layer.Name}' expects token ids but receives the float tensor {Format(inputs[0])} from {sources[0].Description}; an Embedding reads the input of a token model ([Model(Dim.Seq, InputType = typeof(int))])"
                : $"{layer.Kind} '{layer.Name}' reads the token ids of the model input; map them to vectors with an [Embedding] layer first"));
            return null;
        }
        if (IsSequence(inputs[0]) && !AcceptsSequence(layer, sources.Count))
        {
            problems.Add(new ModelProblem(ProblemIds.SequenceNotSupported, where, $"{layer.Kind} '{layer.Name}' receives the sequence {Format(inputs[0])} from {sources[0].Description}, "
                + (layer is FlattenSpec
                    ? "which cannot be flattened (T is only known at run time); pool over time with [GlobalAvgPool]/[GlobalMaxPool] or use an LSTM/GRU with ReturnSequences = false"
                    : "but works only on fixed-size tensors; sequence tensors [T, features] take Dense, LayerNorm, LSTM, GRU, activations, Dropout, Add, Concat and GlobalAvgPool/GlobalMaxPool"
                      + (layer is ConvSpec { Rank: 1 } ? "; a Conv1D reads [channels, T]: put [Permute(1, 0)] before it" : ""))));
            return null;
        }
        if (HasSeq(inputs[0]) && !IsSequence(inputs[0]) && !AcceptsLengthAxis(layer))
        {
            problems.Add(new ModelProblem(ProblemIds.SequenceNotSupported, where, $"{layer.Kind} '{layer.Name}' receives {Format(inputs[0])} from {sources[0].Description}, "
                + "whose run-time length T is not the first axis; such tensors take Permute, Conv1D (keeping the length), activations other than Softmax, Dropout and Add; "
                + (layer is PoolSpec { Rank: 1 } ? "pooling windows over T are not supported, " : "") + "use [Permute] to put T first"));
            return null;
        }
        // A width-keeping convolution gets its input's channel count here, so each node (each use of a shape-generic
        // block) carries a concrete spec and planning and emitting never see the unresolved form.
        if (layer is ConvSpec { KeepChannels: true } keep && inputs[0].Length > 0)
            layer = keep with { OutChannels = inputs[0][0], KeepChannels = false };
        var outShape = InferNode(layer, name, inputs, sources[0].Description, sources, where, problems, ctx.MaxLength, out var ps, out long flops);
        if (outShape is null || problems.Count != before) return null;
        if (TooLarge(layer, outShape, ps, ctx) is { } tooLarge)
        {
            problems.Add(new ModelProblem(ProblemIds.ModelTooLarge, where, tooLarge));
            return null;
        }
        ctx.Nodes.Add(new GraphNode(layer, name, owner, sources.Select(s => s.Node).ToEquatableArray(),
            inputs.Select(s => s.ToEquatableArray()).ToEquatableArray(), outShape.ToEquatableArray(), ps.Where(p => !p.IsBuffer).ToEquatableArray(), flops,
            ps.Where(p => p.IsBuffer).ToEquatableArray()));
        return new Tensor(ctx.Nodes.Count - 1, outShape, $"'{layer.Name}'");
    }

    private static int[]? InferNode(LayerSpec layer, string name, int[][] inputs, string from, List<Tensor> sources, string member,
        List<ModelProblem> problems, int modelMaxLength, out List<ParamSpec> ps, out long flops)
    {
        ps = new List<ParamSpec>();
        flops = 0;
        var input = inputs[0];
        void Problem(string id, string argument, string message) => problems.Add(new ModelProblem(id, member, argument, message));
        ParamSpec Param(string shortName, params int[] shape) => new(name + "." + shortName, shortName, shape.ToEquatableArray());
        // Buffers are declared beside the parameters (AddNode files them apart), so a layer with running statistics adds one line per buffer.
        ParamSpec Buffer(string shortName, params int[] shape) => new(name + "." + shortName, shortName, shape.ToEquatableArray(), IsBuffer: true);
        ParamSpec Count(string shortName) => new(name + "." + shortName, shortName, EquatableArray<int>.Empty, IsBuffer: true, IsCount: true);

        switch (layer)
        {
            case DenseSpec dense:
            {
                if (dense.Units <= 0)
                {
                    Problem(ProblemIds.InvalidHyperParameter, "units", $"Dense '{dense.Name}' has {dense.Units} units; units must be positive");
                    return null;
                }
                bool perPosition = IsSequence(input);
                if (input.Length != (perPosition ? 2 : 1))
                {
                    Problem(ProblemIds.ExpectsFlatInput, "", perPosition
                        ? $"Dense '{dense.Name}' expects [T, features] (applied per position) but receives {Format(input)} from {from}"
                        : $"Dense '{dense.Name}' expects a flat input but receives {Format(input)} from {from}; add [Flatten] before it");
                    return null;
                }
                int features = input[input.Length - 1];
                ps.Add(Param("weight", dense.Units, features));
                if (dense.UseBias) ps.Add(Param("bias", dense.Units));
                flops = 2L * features * dense.Units;
                return perPosition ? new[] { input[0], dense.Units } : new[] { dense.Units };
            }
            case ConvSpec conv:
                return InferConv(conv, input, from, Problem, ps, ref flops, Param);
            case PoolSpec pool:
                return InferPool(pool, input, from, Problem);
            case GlobalPoolSpec global when IsSequence(input):
                if (input.Length != 2)
                {
                    Problem(ProblemIds.RankMismatch, "", $"{global.Kind} '{global.Name}' pools a sequence [T, features] over time but receives {Format(input)} from {from}");
                    return null;
                }
                return new[] { input[1] };
            case GlobalPoolSpec global:
                if (input.Length < 2)
                {
                    Problem(ProblemIds.RankMismatch, "", $"{global.Kind} '{global.Name}' expects [channels, ...] but receives {Format(input)} from {from}");
                    return null;
                }
                return new[] { input[0] };
            case AdaptiveAvgPoolSpec adaptive:
                if (adaptive.Height <= 0 || adaptive.Width <= 0)
                {
                    Problem(ProblemIds.InvalidHyperParameter, adaptive.Height <= 0 ? "height" : "width",
                        $"AdaptiveAvgPool2D '{adaptive.Name}' has output size {adaptive.Height}x{adaptive.Width}; both must be positive");
                    return null;
                }
                if (input.Length != 3)
                {
                    Problem(ProblemIds.RankMismatch, "", $"AdaptiveAvgPool2D '{adaptive.Name}' expects [channels, height, width] but receives {Format(input)} from {from}");
                    return null;
                }
                return new[] { input[0], adaptive.Height, adaptive.Width };
            case BatchNormSpec bn:
            {
                bool rankOk = bn.Rank == 1 ? input.Length is 1 or 2 : input.Length == 3;
                if (!rankOk)
                {
                    Problem(ProblemIds.RankMismatch, "", bn.Rank == 1
                        ? $"BatchNorm1D '{bn.Name}' expects [features] or [channels, length] but receives {Format(input)} from {from}"
                        : $"BatchNorm2D '{bn.Name}' expects [channels, height, width] but receives {Format(input)} from {from}");
                    return null;
                }
                if (!(bn.Eps > 0))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "Eps", $"{bn.Kind} '{bn.Name}' has Eps = {Num(bn.Eps)}; it must be positive");
                    return null;
                }
                if (bn.Momentum is { } momentum && !(momentum >= 0 && momentum <= 1))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "Momentum", $"{bn.Kind} '{bn.Name}' has Momentum = {Num(momentum)}; it must be in [0, 1], or null for a cumulative average");
                    return null;
                }
                int c = input[0];
                if (bn.Affine)
                {
                    ps.Add(Param("weight", c));
                    ps.Add(Param("bias", c));
                }
                ps.Add(Buffer("running_mean", c));
                ps.Add(Buffer("running_var", c));
                ps.Add(Count("num_batches_tracked"));
                return input;
            }
            case MergeSpec merge:
            {
                string Names(int k) => sources[k].Description;
                if (inputs.Length < 2 && merge.Inputs.Count > 0)
                {
                    Problem(ProblemIds.InvalidHyperParameter, "", $"{merge.Kind} '{merge.Name}' needs at least two inputs, got {inputs.Length}");
                    return null;
                }
                if (!merge.IsConcat)
                {
                    for (int k = 1; k < inputs.Length; k++)
                        if (!inputs[k].SequenceEqual(input))
                        {
                            Problem(ProblemIds.MergeShapeMismatch, "", $"Add '{merge.Name}' combines {Format(input)} from {Names(0)} with {Format(inputs[k])} from {Names(k)}");
                            return null;
                        }
                    return input;
                }
                if (IsSequence(input))
                {
                    // Sequence tensors [T, F_k] join along the features of each position.
                    for (int k = 0; k < inputs.Length; k++)
                        if (!IsSequence(inputs[k]) || inputs[k].Length != 2)
                        {
                            Problem(ProblemIds.MergeShapeMismatch, "", $"Concat '{merge.Name}' joins sequences [T, features] along their features, but {Names(k)} gives {Format(inputs[k])}");
                            return null;
                        }
                    long joined = inputs.Sum(s => (long)s[1]);
                    if (joined > MaxElements)
                    {
                        Problem(ProblemIds.ModelTooLarge, "", $"Concat '{merge.Name}' joins {joined:N0} features, more than one array holds ({MaxElements:N0})");
                        return null;
                    }
                    return new[] { ModelSpec.Seq, (int)joined };
                }
                for (int k = 1; k < inputs.Length; k++)
                    if (inputs[k].Length != input.Length || !inputs[k].Skip(1).SequenceEqual(input.Skip(1)))
                    {
                        Problem(ProblemIds.MergeShapeMismatch, "", $"Concat '{merge.Name}' joins {Format(input)} from {Names(0)} with {Format(inputs[k])} from {Names(k)}; all dimensions but the first (channels) must match");
                        return null;
                    }
                var concat = (int[])input.Clone();
                long channels = inputs.Sum(s => (long)s[0]);
                if (channels > MaxElements)
                {
                    Problem(ProblemIds.ModelTooLarge, "", $"Concat '{merge.Name}' joins {channels:N0} channels, more than one array holds ({MaxElements:N0})");
                    return null;
                }
                concat[0] = (int)channels;
                return concat;
            }
            case ActivationSpec act:
                if (act.Activation == ActivationKind.LeakyReLU && (double.IsNaN(act.Slope) || double.IsInfinity(act.Slope)))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "slope", $"LeakyReLU '{act.Name}' has slope {Num(act.Slope)}; the slope must be a finite number");
                    return null;
                }
                return input;
            case LogSoftmaxSpec:
                return input;
            case GroupNormSpec gn:
            {
                if (gn.Groups <= 0)
                {
                    Problem(ProblemIds.InvalidHyperParameter, "groups", $"GroupNorm '{gn.Name}' has {gn.Groups} groups; groups must be positive");
                    return null;
                }
                if (!(gn.Eps > 0))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "Eps", $"GroupNorm '{gn.Name}' has Eps = {Num(gn.Eps)}; it must be positive");
                    return null;
                }
                int c = input[0];
                if (c % gn.Groups != 0)
                {
                    Problem(ProblemIds.GroupsDoNotDivideChannels, "groups", $"GroupNorm '{gn.Name}' splits the {c} {(input.Length == 1 ? "features" : "channels")} of {Format(input)} from {from} into {gn.Groups} groups, which does not divide them; use a group count that divides {c}");
                    return null;
                }
                if (gn.Affine)
                {
                    ps.Add(Param("weight", c));
                    ps.Add(Param("bias", c));
                }
                flops = 8L * Length(input);
                return input;
            }
            case InstanceNormSpec inorm:
            {
                if (input.Length != inorm.Rank + 1)
                {
                    Problem(ProblemIds.RankMismatch, "", inorm.Rank == 1
                        ? $"InstanceNorm1D '{inorm.Name}' expects [channels, length] but receives {Format(input)} from {from}"
                          + (input.Length == 1 ? " (PyTorch would read a batch of [features] as one unbatched [channels, length]); normalise features with [LayerNorm] or [BatchNorm1D]" : "")
                        : $"InstanceNorm2D '{inorm.Name}' expects [channels, height, width] but receives {Format(input)} from {from}");
                    return null;
                }
                if (!(inorm.Eps > 0))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "Eps", $"{inorm.Kind} '{inorm.Name}' has Eps = {Num(inorm.Eps)}; it must be positive");
                    return null;
                }
                if (!(inorm.Momentum >= 0 && inorm.Momentum <= 1))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "Momentum", $"{inorm.Kind} '{inorm.Name}' has Momentum = {Num(inorm.Momentum)}; it must be in [0, 1]");
                    return null;
                }
                int c = input[0], spatial = Length(input) / c;
                if (spatial < 2)
                {
                    Problem(ProblemIds.SinglePositionInstanceNorm, "", $"{inorm.Kind} '{inorm.Name}' normalises each channel of {Format(input)} from {from} over its {(inorm.Rank == 1 ? "length" : "height × width")}, which is a single value: "
                        + "the output would be the bias alone (PyTorch refuses it in training); normalise over more positions, or across channels with [GroupNorm] or [LayerNorm]");
                    return null;
                }
                if (inorm.Affine)
                {
                    ps.Add(Param("weight", c));
                    ps.Add(Param("bias", c));
                }
                if (inorm.TrackRunningStats)
                {
                    // Buffers, as PyTorch's InstanceNorm registers them (never trained, saved by name); its num_batches_tracked
                    // is in the state dict but stays 0, since _InstanceNorm.forward never counts.
                    ps.Add(Buffer("running_mean", c));
                    ps.Add(Buffer("running_var", c));
                    ps.Add(Count("num_batches_tracked"));
                }
                flops = 8L * Length(input);
                return input;
            }
            case PReLUSpec prelu:
            {
                // PyTorch's channel axis is dim 1 of the batched tensor: C of [C, ...], each feature of [F].
                int channels = input[0];
                if (prelu.NumParameters <= 0)
                {
                    Problem(ProblemIds.InvalidHyperParameter, "numParameters", $"PReLU '{prelu.Name}' has numParameters = {prelu.NumParameters}; it must be 1 (one shared slope) or the number of channels");
                    return null;
                }
                if (double.IsNaN(prelu.Init) || double.IsInfinity(prelu.Init))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "Init", $"PReLU '{prelu.Name}' has Init = {Num(prelu.Init)}; the initial slope must be a finite number");
                    return null;
                }
                if (prelu.NumParameters != 1 && HasSeq(input))
                {
                    // On [batch, T, F] PyTorch's dim 1 is T, which has no fixed size: no per-channel slopes there.
                    Problem(ProblemIds.SequenceNotSupported, "numParameters", $"PReLU '{prelu.Name}' has {prelu.NumParameters} slopes but receives {Format(input)} from {from}, which has the run-time length T; "
                        + "PyTorch's per-channel slopes run along dim 1, which T would be, so only one shared slope (numParameters = 1) works here");
                    return null;
                }
                if (prelu.NumParameters != 1 && prelu.NumParameters != channels)
                {
                    Problem(ProblemIds.PReLUSlopeCount, "numParameters", $"PReLU '{prelu.Name}' has {prelu.NumParameters} slopes but its input {Format(input)} from {from} has {channels} {(input.Length == 1 ? "features" : "channels")}; "
                        + $"numParameters must be 1 (one shared slope) or {channels} (one per {(input.Length == 1 ? "feature" : "channel")})");
                    return null;
                }
                ps.Add(Param("weight", prelu.NumParameters));
                flops = 2L * Length(input);
                return input;
            }
            case DropoutSpec drop:
                if (!(drop.P >= 0 && drop.P < 1))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "p", $"Dropout '{drop.Name}' has p = {Num(drop.P)}; p must be in [0, 1)");
                    return null;
                }
                return input;
            case FlattenSpec:
            {
                long flat = input.Aggregate(1L, (a, b) => a * b);
                if (flat > MaxElements)
                {
                    Problem(ProblemIds.ModelTooLarge, "", $"Flatten '{layer.Name}' would produce {flat:N0} features from {Format(input)}, more than one array holds ({MaxElements:N0})");
                    return null;
                }
                return new[] { (int)flat };
            }
            case EmbeddingSpec emb:
                if (emb.Vocab <= 0 || emb.Dim <= 0)
                {
                    Problem(ProblemIds.InvalidHyperParameter, emb.Vocab <= 0 ? "vocab" : "dim", $"Embedding '{emb.Name}' has vocab {emb.Vocab} and dim {emb.Dim}; both must be positive");
                    return null;
                }
                if (emb.PaddingIdx < -1 || emb.PaddingIdx >= emb.Vocab)
                {
                    Problem(ProblemIds.InvalidHyperParameter, "PaddingIdx", $"Embedding '{emb.Name}' has PaddingIdx = {emb.PaddingIdx}; it must be a token id in [0, {emb.Vocab}) or -1 for none");
                    return null;
                }
                int columns = input.Length == 2 ? input[1] : 1;
                if (emb.Column < 0 || emb.Column >= columns)
                {
                    Problem(ProblemIds.InvalidHyperParameter, "Column", $"Embedding '{emb.Name}' reads id column {emb.Column}, but the input {Format(input)} has {columns} id{(columns == 1 ? "" : "s")} per position");
                    return null;
                }
                ps.Add(Param("weight", emb.Vocab, emb.Dim));
                return new[] { input[0], emb.Dim };
            case RecurrentSpec rnn:
            {
                string what = $"{rnn.Kind} '{rnn.Name}'";
                (string Arg, bool Bad, string Message)[] checks =
                {
                    ("hidden", rnn.Hidden <= 0, $"has {rnn.Hidden} hidden features; it must be positive"),
                    ("Layers", rnn.Layers <= 0, $"has Layers = {rnn.Layers}; it must be positive"),
                    ("Dropout", !(rnn.Dropout >= 0 && rnn.Dropout < 1), $"has Dropout = {Num(rnn.Dropout)}; it must be in [0, 1)"),
                };
                foreach (var check in checks)
                    if (check.Bad)
                    {
                        Problem(ProblemIds.InvalidHyperParameter, check.Arg, $"{what} {check.Message}");
                        return null;
                    }
                if (!IsSequence(input) || input.Length != 2)
                {
                    Problem(ProblemIds.ExpectsSequence, "", $"{what} expects a sequence [T, features] but receives {Format(input)} from {from}"
                        + (IsSequence(input) ? "" : "; it runs over time, so its input must keep the sequence dimension (an LSTM/GRU before it needs ReturnSequences = true)"));
                    return null;
                }
                if ((long)rnn.Gates * rnn.Hidden > MaxElements)
                {
                    Problem(ProblemIds.ModelTooLarge, "hidden", $"{what} has {rnn.Gates}·{rnn.Hidden} gate rows, more than one array holds ({MaxElements:N0})");
                    return null;
                }
                int gateRows = rnn.Gates * rnn.Hidden;
                for (int l = 0; l < rnn.Layers; l++)
                {
                    int inFeatures = l == 0 ? input[1] : rnn.Directions * rnn.Hidden;
                    for (int d = 0; d < rnn.Directions; d++)
                    {
                        string suffix = $"_l{l}" + (d == 1 ? "_reverse" : "");
                        ps.Add(Param("weight_ih" + suffix, gateRows, inFeatures));
                        ps.Add(Param("weight_hh" + suffix, gateRows, rnn.Hidden));
                        ps.Add(Param("bias_ih" + suffix, gateRows));
                        ps.Add(Param("bias_hh" + suffix, gateRows));
                        flops += 2L * gateRows * (inFeatures + rnn.Hidden);
                    }
                }
                int outFeatures = rnn.Directions * rnn.Hidden;
                return rnn.ReturnSequences ? new[] { ModelSpec.Seq, outFeatures } : new[] { outFeatures };
            }
            case TransformerSpec tf:
            {
                string what = $"TransformerEncoder '{tf.Name}'";
                (string Arg, bool Bad, string Message)[] checks =
                {
                    ("Heads", tf.Heads <= 0, $"has Heads = {tf.Heads}; it must be positive"),
                    ("FeedForward", tf.FeedForward <= 0, $"has FeedForward = {tf.FeedForward}; it must be positive"),
                    ("Layers", tf.Layers <= 0, $"has Layers = {tf.Layers}; it must be positive"),
                    ("Dropout", !(tf.Dropout >= 0 && tf.Dropout < 1), $"has Dropout = {Num(tf.Dropout)}; it must be in [0, 1)"),
                    ("FeedForwardDropout", !(tf.FeedForwardDropout < 1), $"has FeedForwardDropout = {Num(tf.FeedForwardDropout)}; it must be in [0, 1), or negative for the same as Dropout"),
                    ("AttentionDropout", !(tf.AttentionDropout < 1), $"has AttentionDropout = {Num(tf.AttentionDropout)}; it must be in [0, 1), or negative for the same as Dropout"),
                    ("Activation", tf.Activation is not (ActivationKind.ReLU or ActivationKind.GELU), $"has Activation = {tf.Activation}; the feed-forward block takes ReLU or GELU (as PyTorch)"),
                    ("RotaryBase", !(tf.RotaryBase > 1 && tf.RotaryBase <= float.MaxValue), $"has RotaryBase = {Num(tf.RotaryBase)}; it must be greater than 1 (and finite)"),
                };
                foreach (var check in checks)
                    if (check.Bad)
                    {
                        Problem(ProblemIds.InvalidHyperParameter, check.Arg, $"{what} {check.Message}");
                        return null;
                    }
                if (!IsSequence(input) || input.Length != 2)
                {
                    Problem(ProblemIds.ExpectsSequence, "", $"{what} expects a sequence [T, features] but receives {Format(input)} from {from}");
                    return null;
                }
                int d = input[1];
                if (3L * d > MaxElements || (long)tf.FeedForward * d > MaxElements)
                {
                    Problem(ProblemIds.ModelTooLarge, "FeedForward", $"{what} on width {d} with FeedForward = {tf.FeedForward} has weights larger than one array holds ({MaxElements:N0})");
                    return null;
                }
                if (d % tf.Heads != 0)
                {
                    Problem(ProblemIds.HeadsDoNotDivideWidth, "Heads", $"{what} splits its width {d} (from {from}) into {tf.Heads} heads, which does not divide it; use a head count that divides {d}");
                    return null;
                }
                if (tf.Rotary && d / tf.Heads % 2 != 0)
                {
                    Problem(ProblemIds.RotaryOddHeadWidth, "Rotary", $"{what} uses rotary embeddings, which rotate pairs of features, but its heads have {d / tf.Heads} features (width {d} / {tf.Heads} heads), an odd number; choose Heads so that {d} / Heads is even");
                    return null;
                }
                if (tf.Rotary && modelMaxLength <= 0)
                {
                    Problem(ProblemIds.SequenceLongerThanPositions, "Rotary", $"{what} uses rotary embeddings, whose fixed table holds MaxLength positions, but the model sets no MaxLength, so it accepts sequences of any length; set MaxLength on [Model]");
                    return null;
                }
                for (int i = 0; i < tf.Layers; i++)
                {
                    string at = $"layers.{i}.";
                    ps.Add(Param(at + "self_attn.in_proj_weight", 3 * d, d));
                    ps.Add(Param(at + "self_attn.in_proj_bias", 3 * d));
                    ps.Add(Param(at + "self_attn.out_proj.weight", d, d));
                    ps.Add(Param(at + "self_attn.out_proj.bias", d));
                    ps.Add(Param(at + "linear1.weight", tf.FeedForward, d));
                    ps.Add(Param(at + "linear1.bias", tf.FeedForward));
                    ps.Add(Param(at + "linear2.weight", d, tf.FeedForward));
                    ps.Add(Param(at + "linear2.bias", d));
                    ps.Add(Param(at + "norm1.weight", d));
                    ps.Add(Param(at + "norm1.bias", d));
                    ps.Add(Param(at + "norm2.weight", d));
                    ps.Add(Param(at + "norm2.bias", d));
                    // Per position: the four projections and the two FF GEMMs (attention itself grows with T).
                    flops += 2L * (4L * d * d + 2L * d * tf.FeedForward);
                }
                return input;
            }
            case DecoderSpec dec:
            {
                string what = $"TransformerDecoder '{dec.Name}'";
                (string Arg, bool Bad, string Message)[] checks =
                {
                    ("Heads", dec.Heads <= 0, $"has Heads = {dec.Heads}; it must be positive"),
                    ("FeedForward", dec.FeedForward <= 0, $"has FeedForward = {dec.FeedForward}; it must be positive"),
                    ("Layers", dec.Layers <= 0, $"has Layers = {dec.Layers}; it must be positive"),
                    ("Dropout", !(dec.Dropout >= 0 && dec.Dropout < 1), $"has Dropout = {Num(dec.Dropout)}; it must be in [0, 1)"),
                    ("AttentionDropout", !(dec.AttentionDropout < 1), $"has AttentionDropout = {Num(dec.AttentionDropout)}; it must be in [0, 1), or negative for the same as Dropout"),
                    ("Activation", dec.Activation is not (ActivationKind.ReLU or ActivationKind.GELU), $"has Activation = {dec.Activation}; the feed-forward block takes ReLU or GELU (as PyTorch)"),
                };
                foreach (var check in checks)
                    if (check.Bad)
                    {
                        Problem(ProblemIds.InvalidHyperParameter, check.Arg, $"{what} {check.Message}");
                        return null;
                    }
                if (!IsSequence(input) || input.Length != 2)
                {
                    Problem(ProblemIds.ExpectsSequence, "", $"{what} expects a sequence [T, features] but receives {Format(input)} from {from}");
                    return null;
                }
                if (!IsSequence(inputs[1]) || inputs[1].Length != 2)
                {
                    Problem(ProblemIds.ExpectsSequence, "Memory", $"{what} takes cross-attention keys and values from a sequence [T, features], but its Memory {sources[1].Description} gives {Format(inputs[1])}");
                    return null;
                }
                int d = input[1], dm = inputs[1][1];
                if (3L * d * Math.Max(d, dm) > MaxElements || (long)dec.FeedForward * d > MaxElements)
                {
                    Problem(ProblemIds.ModelTooLarge, "FeedForward", $"{what} on width {d} (memory {dm}) with FeedForward = {dec.FeedForward} has weights larger than one array holds ({MaxElements:N0})");
                    return null;
                }
                if (d % dec.Heads != 0)
                {
                    Problem(ProblemIds.HeadsDoNotDivideWidth, "Heads", $"{what} splits its width {d} (from {from}) into {dec.Heads} heads, which does not divide it; use a head count that divides {d}");
                    return null;
                }
                for (int i = 0; i < dec.Layers; i++)
                {
                    string at = $"layers.{i}.";
                    ps.Add(Param(at + "self_attn.in_proj_weight", 3 * d, d));
                    ps.Add(Param(at + "self_attn.in_proj_bias", 3 * d));
                    ps.Add(Param(at + "self_attn.out_proj.weight", d, d));
                    ps.Add(Param(at + "self_attn.out_proj.bias", d));
                    // nn.MultiheadAttention's names: the packed in_proj_weight when the memory has width d (kdim = vdim = d).
                    if (dm == d) ps.Add(Param(at + "multihead_attn.in_proj_weight", 3 * d, d));
                    else
                    {
                        ps.Add(Param(at + "multihead_attn.q_proj_weight", d, d));
                        ps.Add(Param(at + "multihead_attn.k_proj_weight", d, dm));
                        ps.Add(Param(at + "multihead_attn.v_proj_weight", d, dm));
                    }
                    ps.Add(Param(at + "multihead_attn.in_proj_bias", 3 * d));
                    ps.Add(Param(at + "multihead_attn.out_proj.weight", d, d));
                    ps.Add(Param(at + "multihead_attn.out_proj.bias", d));
                    ps.Add(Param(at + "linear1.weight", dec.FeedForward, d));
                    ps.Add(Param(at + "linear1.bias", dec.FeedForward));
                    ps.Add(Param(at + "linear2.weight", d, dec.FeedForward));
                    ps.Add(Param(at + "linear2.bias", d));
                    for (int n = 1; n <= 3; n++)
                    {
                        ps.Add(Param(at + $"norm{n}.weight", d));
                        ps.Add(Param(at + $"norm{n}.bias", d));
                    }
                    // Per position: the eight projections and the two FF GEMMs (attention itself grows with T).
                    flops += 2L * (6L * d * d + 2L * d * dm + 2L * d * dec.FeedForward);
                }
                return input;
            }
            case AttentionSpec attention:
            {
                string what = $"MultiHeadAttention '{attention.Name}'";
                if (attention.Heads <= 0)
                {
                    Problem(ProblemIds.InvalidHyperParameter, "heads", $"{what} has {attention.Heads} heads; it must be positive");
                    return null;
                }
                if (!(attention.RotaryBase > 1 && attention.RotaryBase <= float.MaxValue))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "RotaryBase", $"{what} has RotaryBase = {Num(attention.RotaryBase)}; it must be greater than 1 (and finite)");
                    return null;
                }
                if (!(attention.Dropout >= 0 && attention.Dropout < 1))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "Dropout", $"{what} has Dropout = {Num(attention.Dropout)}; it must be in [0, 1)");
                    return null;
                }
                if (!IsSequence(input) || input.Length != 2)
                {
                    Problem(ProblemIds.ExpectsSequence, "", $"{what} expects a sequence [T, features] but receives {Format(input)} from {from}");
                    return null;
                }
                int d = input[1], dm = d;
                if (inputs.Length > 1)
                {
                    if (!IsSequence(inputs[1]) || inputs[1].Length != 2)
                    {
                        Problem(ProblemIds.ExpectsSequence, "Memory", $"{what} takes keys and values from a sequence [T, features], but its Memory {sources[1].Description} gives {Format(inputs[1])}");
                        return null;
                    }
                    dm = inputs[1][1];
                }
                if (3L * d * Math.Max(d, dm) > MaxElements)
                {
                    Problem(ProblemIds.ModelTooLarge, "", $"{what} on width {d} has weights larger than one array holds ({MaxElements:N0})");
                    return null;
                }
                if (d % attention.Heads != 0)
                {
                    Problem(ProblemIds.HeadsDoNotDivideWidth, "heads", $"{what} splits its width {d} (from {from}) into {attention.Heads} heads, which does not divide it; use a head count that divides {d}");
                    return null;
                }
                if (attention.Rotary && d / attention.Heads % 2 != 0)
                {
                    Problem(ProblemIds.RotaryOddHeadWidth, "Rotary", $"{what} uses rotary embeddings, which rotate pairs of features, but its heads have {d / attention.Heads} features (width {d} / {attention.Heads} heads), an odd number; choose heads so that {d} / heads is even");
                    return null;
                }
                if (attention.Rotary && modelMaxLength <= 0)
                {
                    Problem(ProblemIds.SequenceLongerThanPositions, "Rotary", $"{what} uses rotary embeddings, whose fixed table holds MaxLength positions, but the model sets no MaxLength, so it accepts sequences of any length; set MaxLength on [Model]");
                    return null;
                }
                // nn.MultiheadAttention's state dict: the packed in_proj_weight when keys and values have width d (kdim = vdim = d).
                if (dm == d) ps.Add(Param("in_proj_weight", 3 * d, d));
                else
                {
                    ps.Add(Param("q_proj_weight", d, d));
                    ps.Add(Param("k_proj_weight", d, dm));
                    ps.Add(Param("v_proj_weight", d, dm));
                }
                if (attention.UseBias) ps.Add(Param("in_proj_bias", 3 * d));
                ps.Add(Param("out_proj.weight", d, d));
                if (attention.UseBias) ps.Add(Param("out_proj.bias", d));
                // Per position: the four projections (attention itself grows with T).
                flops = 2L * (2L * d * d + 2L * d * dm);
                return input;
            }
            case PositionEmbeddingSpec position:
            {
                if (position.MaxLength <= 0)
                {
                    Problem(ProblemIds.InvalidHyperParameter, "maxLength", $"PositionEmbedding '{position.Name}' has maxLength {position.MaxLength}; it must be positive");
                    return null;
                }
                if (!IsSequence(input) || input.Length != 2)
                {
                    Problem(ProblemIds.ExpectsSequence, "", $"PositionEmbedding '{position.Name}' expects a sequence [T, features] but receives {Format(input)} from {from}");
                    return null;
                }
                if (modelMaxLength > position.MaxLength)
                {
                    Problem(ProblemIds.SequenceLongerThanPositions, "maxLength", $"PositionEmbedding '{position.Name}' holds {position.MaxLength} positions, but the model accepts sequences of up to MaxLength = {modelMaxLength}");
                    return null;
                }
                if (!position.Sinusoidal) ps.Add(Param("weight", position.MaxLength, input[1]));
                return input;
            }
            case PermuteSpec permute:
            {
                var dims = permute.Dims;
                string listed = "[" + string.Join(", ", dims) + "]";
                if (dims.Count != input.Length)
                {
                    Problem(ProblemIds.RankMismatch, "", $"Permute '{permute.Name}' lists {dims.Count} ax{(dims.Count == 1 ? "is" : "es")} {listed}, but its input {Format(input)} from {from} has {input.Length} (axes count from 0 and exclude the batch)");
                    return null;
                }
                if (dims.Any(d => d < 0 || d >= input.Length) || dims.Distinct().Count() != dims.Count)
                {
                    Problem(ProblemIds.InvalidPermutation, "dims", $"Permute '{permute.Name}' has dims {listed}, which is not a permutation of the axes 0 to {input.Length - 1} of its input {Format(input)} from {from} (each axis once; the batch is not counted)");
                    return null;
                }
                return dims.Select(d => input[d]).ToArray();
            }
            case LayerNormSpec norm:
            {
                if (!(norm.Eps > 0))
                {
                    Problem(ProblemIds.InvalidHyperParameter, "Eps", $"LayerNorm '{norm.Name}' has Eps = {Num(norm.Eps)}; it must be positive");
                    return null;
                }
                if (IsSequence(input) && input.Length == 1)
                {
                    Problem(ProblemIds.RankMismatch, "", $"LayerNorm '{norm.Name}' normalises the last axis, but its input {Format(input)} from {from} has only the sequence axis");
                    return null;
                }
                int features = input[input.Length - 1];
                if (norm.Affine)
                {
                    ps.Add(Param("weight", features));
                    ps.Add(Param("bias", features));
                }
                return input;
            }
            default:
                Problem(ProblemIds.UnboundAttribute, "", $"Layer '{layer.Name}' of kind {layer.Kind} is not supported");
                return null;
        }
    }

    private static int[]? InferConv(ConvSpec conv, int[] input, string from, Action<string, string, string> problem, List<ParamSpec> ps, ref long flops,
        Func<string, int[], ParamSpec> param)
    {
        string what = $"{conv.Kind} '{conv.Name}'";
        if (input.Length != conv.Rank + 1)
        {
            problem(ProblemIds.RankMismatch, "", conv.Rank == 2
                ? $"{what} expects input [channels, height, width] but receives {Format(input)} from {from}"
                : $"{what} expects input [channels, length] but receives {Format(input)} from {from}");
            return null;
        }
        int rank = conv.Rank;
        Hw k = conv.Kernel, s = conv.Stride, p = conv.Padding, dl = conv.Dilation;
        (string Arg, bool Bad, string Message)[] checks =
        {
            ("outChannels", conv.OutChannels <= 0, $"has {conv.OutChannels} output channels; it must be positive"),
            (Blame("Kernel", rank, k.H <= 0, k.W <= 0), k.H <= 0 || k.W <= 0, $"has Kernel = {k.Show(rank)}; set a positive kernel size"),
            (Blame("Stride", rank, s.H <= 0, s.W <= 0), s.H <= 0 || s.W <= 0, $"has Stride = {s.Show(rank)}; it must be positive"),
            (Blame("Padding", rank, p.H < 0, p.W < 0), p.H < 0 || p.W < 0, $"has Padding = {p.Show(rank)}; it must not be negative"),
            (Blame("Dilation", rank, dl.H <= 0, dl.W <= 0), dl.H <= 0 || dl.W <= 0, $"has Dilation = {dl.Show(rank)}; it must be positive"),
            ("Groups", conv.Groups <= 0, $"has Groups = {conv.Groups}; it must be positive"),
            ("Groups", conv.Groups > 0 && input[0] % conv.Groups != 0, $"has Groups = {conv.Groups}, which does not divide its {input[0]} input channels"),
            ("Groups", conv.Groups > 0 && conv.OutChannels > 0 && conv.OutChannels % conv.Groups != 0, $"has Groups = {conv.Groups}, which does not divide its {conv.OutChannels} output channels"),
            ("Same", conv.Same && (s.H != 1 || s.W != 1), "uses Same padding with a stride other than 1 (as in PyTorch, 'same' needs stride 1)"),
            ("Same", conv.Same && (p.H != 0 || p.W != 0), "sets both Same and Padding; choose one"),
            ("Same", conv.Same && (dl.H * (k.H - 1) % 2 != 0 || dl.W * (k.W - 1) % 2 != 0),
                $"uses Same padding with an even effective kernel {new Hw(dl.H * (k.H - 1) + 1, dl.W * (k.W - 1) + 1).Paren(rank)}, which would need asymmetric padding"),
            ("PaddingMode", !Enum.IsDefined(typeof(PaddingModeKind), conv.PaddingMode), $"has PaddingMode = {(int)conv.PaddingMode}, which is not a PaddingMode value"),
        };
        foreach (var check in checks)
            if (check.Bad)
            {
                problem(ProblemIds.InvalidHyperParameter, check.Arg, $"{what} {check.Message}");
                return null;
            }
        Hw pad = conv.EffectivePadding;
        var effective = new Hw(dl.H * (k.H - 1) + 1, dl.W * (k.W - 1) + 1);
        var output = new int[input.Length];
        output[0] = conv.OutChannels;
        for (int d = 1; d < input.Length; d++)
        {
            int sd = s.At(rank, d - 1), pd = pad.At(rank, d - 1), ed = effective.At(rank, d - 1);
            if (conv.PaddingMode != PaddingModeKind.Zeros && pd > 0)
            {
                // Over T the positions past each real length are zeros; a reflected or wrapped edge would read them.
                if (input[d] == ModelSpec.Seq)
                {
                    problem(ProblemIds.SequenceNotSupported, "PaddingMode",
                        $"{what} receives the sequence {Format(input)} from {from}, but PaddingMode = {conv.PaddingMode} works only on fixed-size inputs (over the run-time length it pads with zeros)");
                    return null;
                }
                // PyTorch's F.pad rules: reflection stays inside the input, wrapping goes around at most once.
                bool reflect = conv.PaddingMode == PaddingModeKind.Reflect;
                if (reflect ? pd >= input[d] : conv.PaddingMode == PaddingModeKind.Circular && pd > input[d])
                {
                    bool height = rank == 2 && d == 1;
                    string dims = string.Join("x", input.Skip(1));
                    problem(ProblemIds.PaddingTooLargeForMode, conv.Same ? "Same" : Blame("Padding", rank, height, !height),
                        $"{what} pads {(rank == 2 ? (height ? "its height" : "its width") + " " : "")}by {pd} with PaddingMode = {conv.PaddingMode}, which needs a padding "
                        + (reflect ? "smaller than" : "no larger than") + $" its input {dims} from {from}");
                    return null;
                }
            }
            if (input[d] == ModelSpec.Seq)
            {
                // Over the run-time length only a length-preserving convolution keeps the lengths describing the positions.
                if (sd != 1 || 2 * pd != ed - 1)
                {
                    string length = sd != 1 ? $"about T/{sd}" : 2 * pd > ed - 1 ? $"T + {2 * pd - ed + 1}" : $"T - {ed - 1 - 2 * pd}";
                    string fix = ed % 2 == 0
                        ? $"an even kernel ({ed}) cannot keep it; use an odd Kernel with Padding = (Kernel - 1) / 2"
                        : $"use Stride = 1 and Padding = {(ed - 1) / 2} (or Same = true)";
                    problem(ProblemIds.SequenceLengthChanged, sd != 1 ? "Stride" : conv.Same ? "Same" : pd != 0 ? "Padding" : "Kernel",
                        $"{what} runs over the run-time length of its input {Format(input)} from {from}, but its output length would be {length} instead of T, so the sequence lengths would no longer describe the positions; {fix}");
                    return null;
                }
                output[d] = ModelSpec.Seq;
                continue;
            }
            if (input[d] + 2 * pd < ed)
            {
                string size = string.Join("x", input.Skip(1).Select((v, a) => v == ModelSpec.Seq ? "T" : (v + 2 * pad.At(rank, a)).ToString(CultureInfo.InvariantCulture)));
                problem(ProblemIds.KernelLargerThanInput, Blame("Kernel", rank, rank == 2 && d == 1, rank == 1 || d == 2),
                    $"{what} kernel {k.Window(rank)}{(dl.H > 1 && rank == 2 || dl.W > 1 ? $" (dilated to {effective.Window(rank)})" : "")} is larger than its {(pad.H > 0 && rank == 2 || pad.W > 0 ? "padded " : "")}input {size}");
                return null;
            }
            output[d] = (input[d] + 2 * pd - ed) / sd + 1;
        }
        int kernelVolume = rank == 2 ? k.H * k.W : k.W;
        var weightShape = new List<int> { conv.OutChannels, input[0] / conv.Groups };
        if (rank == 2) weightShape.Add(k.H);
        weightShape.Add(k.W);
        ps.Add(param("weight", weightShape.ToArray()));
        if (conv.UseBias) ps.Add(param("bias", new[] { conv.OutChannels }));
        // Per example, or per position when the length is T.
        flops = 2L * conv.OutChannels * (input[0] / conv.Groups) * kernelVolume * output.Skip(1).Where(v => v != ModelSpec.Seq).Aggregate(1L, (a, b) => a * b);
        return output;
    }

    private static int[]? InferPool(PoolSpec pool, int[] input, string from, Action<string, string, string> problem)
    {
        string what = $"{pool.Kind} '{pool.Name}'";
        if (input.Length != pool.Rank + 1)
        {
            problem(ProblemIds.RankMismatch, "", pool.Rank == 2
                ? $"{what} expects input [channels, height, width] but receives {Format(input)} from {from}"
                : $"{what} expects input [channels, length] but receives {Format(input)} from {from}");
            return null;
        }
        int rank = pool.Rank;
        Hw k = pool.Kernel, s = pool.Stride, p = pool.Padding;
        if (k.H <= 0 || k.W <= 0) { problem(ProblemIds.InvalidHyperParameter, Blame("kernel", rank, k.H <= 0, k.W <= 0), $"{what} has kernel {k.Show(rank)}; it must be positive"); return null; }
        if (s.H < 0 || s.W < 0) { problem(ProblemIds.InvalidHyperParameter, Blame("Stride", rank, s.H < 0, s.W < 0), $"{what} has Stride = {s.Show(rank)}; it must be positive"); return null; }
        bool badPadH = p.H < 0 || p.H > k.H / 2, badPadW = p.W < 0 || p.W > k.W / 2;
        if (badPadH || badPadW)
        {
            problem(ProblemIds.InvalidHyperParameter, Blame("Padding", rank, badPadH, badPadW),
                $"{what} has Padding = {p.Show(rank)}; it must be between 0 and half the kernel {new Hw(k.H / 2, k.W / 2).Paren(rank)}");
            return null;
        }
        if (pool.DivisorOverride < 0)
        {
            problem(ProblemIds.InvalidHyperParameter, "DivisorOverride", $"{what} has DivisorOverride = {pool.DivisorOverride}; it must be positive (or 0 for none)");
            return null;
        }
        var output = new int[input.Length];
        output[0] = input[0];
        for (int d = 1; d < input.Length; d++)
        {
            int kd = k.At(rank, d - 1), sd = s.At(rank, d - 1), pd = p.At(rank, d - 1);
            int span = input[d] + 2 * pd - kd;
            if (span < 0)
            {
                problem(ProblemIds.KernelLargerThanInput, Blame("kernel", rank, rank == 2 && d == 1, rank == 1 || d == 2),
                    $"{what} window {k.Window(rank)} is larger than its {(p.H > 0 && rank == 2 || p.W > 0 ? "padded " : "")}input {string.Join("x", input.Skip(1).Select((v, a) => v + 2 * p.At(rank, a)))}");
                return null;
            }
            int size = (pool.CeilMode ? (span + sd - 1) / sd : span / sd) + 1;
            // PyTorch: with ceil mode the last window must start inside the input or the left padding.
            if (pool.CeilMode && (size - 1) * sd >= input[d] + pd) size--;
            output[d] = size;
        }
        return output;
    }

    /// <summary>
    /// The argument a per-axis problem points at (alternatives separated by <c>|</c>, the first one written wins): the
    /// <c>{name}Height</c> or <c>{name}Width</c> override of the bad axis when written, else the square <paramref name="name"/>.
    /// </summary>
    private static string Blame(string name, int rank, bool badH, bool badW)
    {
        if (rank == 1) return name;
        // A pool's window is a constructor argument: kernel, or kernelHeight/kernelWidth of the two-argument form.
        return badH && !badW ? $"{name}Height|{name}" : badW && !badH ? $"{name}Width|{name}" : $"{name}|{name}Height|{name}Width";
    }

    private static string Num(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Formats a shape as <c>[16, 5, 5]</c>.</summary>
    public static string Format(IEnumerable<int> shape) =>
        "[" + string.Join(", ", shape.Select(d => d == ModelSpec.Seq ? "T" : d == ModelSpec.SourceSeq ? "S" : d.ToString(CultureInfo.InvariantCulture))) + "]";

    /// <summary>Whether <paramref name="d"/> is a run-time length: T, or S of a second input.</summary>
    public static bool IsLength(int d) => d == ModelSpec.Seq || d == ModelSpec.SourceSeq;

    /// <summary>Whether <paramref name="shape"/> has the second input's length S (its tensors have batch × S rows).</summary>
    public static bool HasSourceSeq(IReadOnlyList<int> shape) => shape.Contains(ModelSpec.SourceSeq);

    /// <summary>The largest element count one array (and so one span, arena or parameter buffer) holds: .NET's Array.MaxLength.</summary>
    public const long MaxElements = 0x7FFFFFC7;

    /// <summary>
    /// Why a node would overflow what the runtime holds (a parameter tensor, the output per example, the whole
    /// parameter buffer, or the activations every training arena keeps per example), or null when it fits. Every size
    /// the planner and the emitter compute in <c>int</c> is bounded by one of these totals.
    /// </summary>
    private static string? TooLarge(LayerSpec layer, int[] output, List<ParamSpec> ps, Context ctx)
    {
        string what = $"{layer.Kind} '{layer.Name}'";
        // A dimension computed from hyper-parameters (4·hidden, 3·d, ...) that wrapped around int shows as non-positive.
        if (output.Any(d => d <= 0 && !IsLength(d)) || ps.Any(p => p.Shape.Any(d => d <= 0)))
            return $"{what} has sizes too large to index ({Format(output)}{string.Concat(ps.Select(p => $", {p.ShortName} {Format(p.Shape)}"))})";
        foreach (var p in ps)
            if (p.LongLength > MaxElements)
                return $"{what} has a {p.ShortName} of {Format(p.Shape)} = {p.LongLength:N0} floats, more than one array holds ({MaxElements:N0})";
        long outputLength = output.Where(d => !IsLength(d)).Aggregate(1L, (a, b) => a * b);
        ctx.Parameters += ps.Sum(p => p.LongLength);
        // A training arena keeps up to about three floats per output element (output, pre-activation, mask), plus gradients.
        ctx.Activations += outputLength;
        if (ctx.Parameters > MaxElements)
            return $"{what} brings the model to {ctx.Parameters:N0} parameters, more than one parameter buffer holds ({MaxElements:N0})";
        if (4 * ctx.Activations > MaxElements)
            return $"{what} brings the activations to {ctx.Activations:N0} floats per example{(IsSequence(output) ? " position" : "")}, too many for the training arenas to hold even one example ({MaxElements / 4:N0} at most)";
        return null;
    }

    /// <summary>Whether <paramref name="shape"/> is a sequence tensor (its first dimension is T).</summary>
    public static bool IsSequence(IReadOnlyList<int> shape) => shape.Count > 0 && IsLength(shape[0]);

    /// <summary>Whether <paramref name="shape"/> has the run-time length T on any axis ([T, F], or [C, T] after a Permute).</summary>
    public static bool HasSeq(IReadOnlyList<int> shape) => shape.Any(IsLength);

    /// <summary>Floats per example, or per position for a sequence tensor (T excluded).</summary>
    public static int Length(IEnumerable<int> shape) => shape.Where(d => !IsLength(d)).Aggregate(1, (a, b) => a * b);

    /// <summary>
    /// Layers that run on a tensor whose T is not the first axis ([C, T] after a Permute): they must not care where T
    /// is (elementwise layers, Add of equal shapes, Permute) or handle it themselves (a length-preserving Conv1D).
    /// </summary>
    private static bool AcceptsLengthAxis(LayerSpec layer) => layer switch
    {
        PermuteSpec or ConvSpec { Rank: 1 } or DropoutSpec or MergeSpec { IsConcat: false } or PReLUSpec => true,
        ActivationSpec act => act.Activation != ActivationKind.Softmax,
        _ => false,
    };

    /// <summary>Layers that run on [T, ...] tensors (per position, across time, or elementwise).</summary>
    private static bool AcceptsSequence(LayerSpec layer, int inputs) => layer switch
    {
        DenseSpec or LayerNormSpec or RecurrentSpec or ActivationSpec or LogSoftmaxSpec or PReLUSpec or DropoutSpec or GlobalPoolSpec or EmbeddingSpec or PositionEmbeddingSpec or TransformerSpec or DecoderSpec or AttentionSpec or PermuteSpec => true,
        MergeSpec => true,
        _ => false,
    };
}
