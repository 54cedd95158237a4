// Forward passes. Inference follows the planner's liveness schedule (arena slots, in-place layers, views, conv +
// max-pool fusions, the final tensor written straight into the output span); the training forward writes every tensor
// backward needs at its planned arena offset.
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
    private const string Cast = "global::System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>";

    private static string EmitForward(ModelPlan plan)
    {
        var spec = plan.Spec;
        var nodes = plan.Shapes.Nodes;
        return WriteFile(spec, w =>
        {
            // Network block (Regex's DescribeExpression idea): the whole model at a glance.
            w.Line("// Network:");
            w.Line($"//   input {BatchShape(spec.InputShape)}");
            var network = nodes.Select((node, i) => (node.Name, $"//   {node.Name}: {NodeText.Describe(node)}{FromText(plan, i)} -> {BatchShape(node.Output)}")).ToList();
            foreach (var line in RunRoller.RollComments(network, NodeNames(plan), "//   ")) w.Line(line);
            w.Line();

            string U = Unit(plan);
            w.Line("/// <summary>Runs inference (dropout off, BatchNorm on running statistics) on <paramref name=\"batch\"/> examples. Thread-safe; allocates nothing in steady state.</summary>");
            if (plan.IsSequence)
            {
                EmitSequenceDocs(w, plan);
                if (HasRecurrentState(plan))
                {
                    // Stateless and stateful calls share one body; the state is the recurrent layers' (h, c).
                    w.Line($"public void Forward({SequenceParameters(plan)}) => ForwardCore(input, output, batch, seq, lengths, default);");
                    w.Line();
                    EmitStatefulForward(w, plan);
                    w.Open($"private void ForwardCore({SequenceParameters(plan, optionalLengths: false)}, global::System.Span<float> state)");
                }
                else
                    w.Open($"public void Forward({SequenceParameters(plan)})");
                EmitSequenceGuard(w, plan);
            }
            else
            {
                w.Line("/// <param name=\"input\">[batch, InputSize] examples back to back.</param>");
                w.Line("/// <param name=\"output\">[batch, OutputSize] receives the outputs.</param>");
                w.Line("/// <exception cref=\"global::System.ArgumentException\">A span's length is not batch × its per-example size, or batch is not positive or exceeds MaxBatch.</exception>");
                w.Open("public void Forward(global::System.ReadOnlySpan<float> input, global::System.Span<float> output, int batch)");
                w.Line($"{Guards}.CheckForward({String(spec.ClassName)}, input.Length, output.Length, batch, InputSize, OutputSize, MaxBatch);");
            }
            EmitInferenceBody(w, plan, InferencePart.Whole);
            w.Close();
            w.Line();
            if (SupportsSteps(plan)) EmitForwardStep(w, plan);

            w.Line("/// <summary>");
            w.Line("/// Forward pass that keeps what <see cref=\"Backward\"/> needs, in the model's mode (<see cref=\"IsTraining\"/>): in training mode dropout is");
            w.Line("/// on and BatchNorm normalises with batch statistics, updating its running statistics and num_batches_tracked (InstanceNorm: its running statistics); in evaluation mode");
            w.Line("/// it computes what <see cref=\"Forward\"/> does (no dropout, running statistics left unchanged). Not thread-safe.");
            w.Line("/// </summary>");
            if (plan.IsSequence)
            {
                EmitSequenceDocs(w, plan);
                w.Open($"public void ForwardTrain({SequenceParameters(plan)})");
                EmitSequenceGuard(w, plan);
            }
            else
            {
                w.Line("/// <exception cref=\"global::System.ArgumentException\">A span's length is not batch × its per-example size, or batch is not positive or exceeds MaxBatch.</exception>");
                w.Open("public void ForwardTrain(global::System.ReadOnlySpan<float> input, global::System.Span<float> output, int batch)");
                w.Line($"{Guards}.CheckForward({String(spec.ClassName)}, input.Length, output.Length, batch, InputSize, OutputSize, MaxBatch);");
            }
            w.Open($"if (_trainingArena.Length < {U} * TrainingArenaLength + TrainingFixedLength)");
            w.Line($"_trainingArena = new float[{U} * TrainingArenaLength + TrainingFixedLength];   // grows with the largest batch seen, then stays");
            w.Line($"_gradientArena = new float[{U} * (GradientArenaLength + 2 * ScratchLength)];");
            w.Close();
            w.Line("_trainingBatch = batch;");
            w.Line("_forwardTraining = _training;   // Backward differentiates the function this call computed, whatever the mode is by then");
            if (plan.IsSequence) EmitSequenceTrainingState(w, plan);
            w.Line("global::System.ReadOnlySpan<float> parameters = new(_parameters, _parameterOffset, ParameterCount);");
            if (plan.BufferCount > 0)
                w.Line("var buffers = new global::System.Span<float>(_buffers, _bufferOffset, BufferCount); // writable: training-mode BatchNorm updates its running statistics");
            w.Line($"var t = new global::System.Span<float>(_trainingArena, 0, {U} * TrainingArenaLength);");
            if (plan.TrainingFixedLength > 0)
                w.Line($"var stats = new global::System.Span<float>(_trainingArena, {U} * TrainingArenaLength, TrainingFixedLength);");
            w.Line(plan.TokenInput
                ? $"input.CopyTo({Cast}(t.Slice(0, rows * InputSize))); // backward needs the token ids"
                : $"input.CopyTo(t.Slice(0, {U} * InputSize)); // backward needs the model input");
            var runs = new RunRoller(OffsetValues(plan));
            if (plan.SourceIsFloat)
            {
                string kept = Slot(plan.InputLength, plan.SourceLength, U, SourceRows);
                w.Line($"source.CopyTo({kept}); // the second input, after the model input");
                // Padded source rows read as zeros: per-position layers over S then keep them finite, so whatever the caller left
                // there (even NaN) cannot reach a parameter gradient through 0 · NaN.
                w.Line($"{Kernels}.SequenceKernels.ZeroPadded({kept}, sourceLengths, batch, sourceSeq, SourceSize);");
            }
            else if (plan.HasSource)
                w.Line($"source.CopyTo({Cast}({Slot(plan.InputLength, plan.SourceLength, U, SourceRows)})); // the second input's ids, after the model input's");
            for (int i = 0; i < nodes.Count; i++)
            {
                var node = nodes[i];
                if (Planner.IsTrainingView(node.Layer)) continue;
                var c = runs.Begin(node.Name);
                c.Line($"// {node.Name}: {NodeText.Describe(node)} : {Shapes(node)}");
                var sources = node.Inputs.Select(x => Slot(TrainingOffset(plan, x), LengthOf(plan, x), U, Mult(plan, x))).ToList();
                OverSource(c, plan, node, v => EmitNodeForward(v, node, sources, Slot(plan.Training[i].Output, node.OutputLength, U, Mult(plan, i)), training: true, plan.Training[i], plan));
            }
            runs.WriteTo(w);
            w.Line();
            w.Line($"t.Slice({Offset(plan.Training[nodes.Count - 1].Output, U)}, {Mult(plan, nodes.Count - 1)} * OutputSize).CopyTo(output);");
            w.Close();
        });
    }

    /// <summary>
    /// The body of an inference call: the planner's steps over arena slots. <paramref name="part"/> selects the whole pass, the
    /// incremental variant (one position per call, attention over the key/value cache, positions offset by <c>position</c>), or a
    /// two-input model's source side alone (see <see cref="InferencePart"/>); <paramref name="predictor"/> emits the sequence
    /// predictor's whole pass (its own parameter copy, packed weights; see ModelEmitter.SequencePredictor.cs).
    /// </summary>
    private static void EmitInferenceBody(SourceWriter w, ModelPlan plan, InferencePart part, bool predictor = false)
    {
        bool incremental = part == InferencePart.Step;
        var nodes = plan.Shapes.Nodes;
        string U = Unit(plan);
        if (plan.InferenceSlots > 0)
        {
            w.Line($"float[] arena = _inferenceArenas.Rent(InferenceSlots * {U} * SlotLength);");
            w.Line("try");
            w.Line("{");
            w.Indent();
            for (int s = 0; s < plan.InferenceSlots; s++)
                w.Line($"var s{s} = new global::System.Span<float>(arena, {(s == 0 ? "0" : $"{s} * {U} * SlotLength")}, {U} * SlotLength);");
        }
        if (plan.Inference.Count > 0)
            w.Line(predictor ? "global::System.ReadOnlySpan<float> parameters = _parameters;" : "global::System.ReadOnlySpan<float> parameters = new(_parameters, _parameterOffset, ParameterCount);");
        if (plan.Inference.Count > 0 && plan.BufferCount > 0)
            w.Line(predictor ? "global::System.ReadOnlySpan<float> buffers = _buffers;" : "global::System.ReadOnlySpan<float> buffers = new(_buffers, _bufferOffset, BufferCount);");
        var runs = new RunRoller(OffsetValues(plan));
        foreach (var step in plan.Inference)
        {
            var node = nodes[step.Node];
            if (!InPart(plan, node, part)) continue;
            var c = runs.Begin(node.Name);
            if (part == InferencePart.Source && !IsSourceNode(plan, node))
            {
                EmitPrepareMemory(c, plan, node, PlaceText(step.Sources[1], LengthOf(plan, node.Inputs[1]), Mult(plan, node.Inputs[1])));
                continue;
            }
            if (plan.PoolFusions.FirstOrDefault(f => f.Pool == step.Node) is { } fusion)
            {
                EmitConvPool(c, plan, nodes[fusion.Conv], node, step);
                continue;
            }
            if (plan.ResidualFusions.FirstOrDefault(f => f.Add == step.Node) is { } residual)
            {
                EmitDenseResidual(c, plan, nodes[residual.Dense], node, residual.Skip, step);
                continue;
            }
            c.Line($"// {node.Name}: {NodeText.Describe(node)} : {Shapes(node)}");
            var sources = step.Sources.Select((place, k) => PlaceText(place, LengthOf(plan, node.Inputs[k]), Mult(plan, node.Inputs[k]))).ToList();
            OverSource(c, plan, node, v => EmitNodeForward(v, node, sources, PlaceText(step.Destination, node.OutputLength, Mult(plan, step.Node)), training: false, slot: null, plan, incremental, predictor));
        }
        runs.WriteTo(w);
        if (plan.InferenceCopiesInput)
            w.Line("input.CopyTo(output); // every layer is a view of the input at inference");
        if (plan.InferenceSlots > 0)
        {
            w.Unindent();
            w.Line("}");
            w.Line("finally");
            w.Line("{");
            w.Line("    _inferenceArenas.Return(arena);");
            w.Line("}");
        }
    }

    /// <summary>
    /// One node's forward call. <paramref name="slot"/> is null at inference (nothing kept for backward). In a
    /// <paramref name="predictor"/>, Dense, Transformer and recurrent layers read their weights packed once (<see cref="PackedWeightField"/>).
    /// </summary>
    private static void EmitNodeForward(SourceWriter w, GraphNode node, List<string> src, string dst, bool training, TrainingSlot? slot, ModelPlan plan,
        bool incremental = false, bool predictor = false)
    {
        string P(string shortName) => ParamSlice(node, shortName);
        string U = Unit(plan), B = plan.IsSequence && node.OutputIsSequence ? "rows" : "batch";
        string Kept(int offset, int length) => training && offset >= 0 ? Slot(offset, length, U, B) : "default";
        switch (node.Layer)
        {
            case EmbeddingSpec emb:
                // Ids at inference come straight from the caller; the training forward reads its kept copy.
                w.Line($"{Kernels}.EmbeddingKernels.Forward({(training ? $"{Cast}({src[0]})" : src[0])}, {IdColumns(node)}{P("weight")}, {dst}, {Int(emb.Vocab)}, {Int(emb.Dim)});");
                break;
            case TransformerSpec when incremental:
            {
                string g = GeometryField(node.Name);
                w.Line($"float[] {Camel(node.Name)}Work = _inferenceArenas.Rent({Guards}.ArenaLength({String(plan.Spec.ClassName)}, {g}.StepWorkspaceLength(batch, MaxLength)));");
                w.Line($"{Kernels}.TransformerKernels.ForwardStep({g}, {src[0]}, {NodeParams(node, "parameters")}, {dst}, {CacheSlice(plan, node)}, position, MaxLength, {Camel(node.Name)}Work, batch);");
                w.Line($"_inferenceArenas.Return({Camel(node.Name)}Work);");
                break;
            }
            case AttentionSpec when incremental && UsesSourceMemory(node):
                EmitMemoryAttentionStep(w, plan, node, src[0], dst);
                break;
            case AttentionSpec when incremental:
            {
                string g = GeometryField(node.Name), work = $"{Camel(node.Name)}Work";
                w.Line($"float[] {work} = _inferenceArenas.Rent({Guards}.ArenaLength({String(plan.Spec.ClassName)}, {g}.StepWorkspaceLength(batch, MaxLength)));");
                w.Line($"{Kernels}.MultiHeadAttentionKernels.ForwardStep({g}, {src[0]}, {MemoryOperand(src)}, {NodeParams(node, "parameters")}, {dst}, {CacheSlice(plan, node)}, position, MaxLength, {work}, batch);");
                w.Line($"_inferenceArenas.Return({work});");
                break;
            }
            case DecoderSpec when incremental:
                EmitDecoderStep(w, plan, node, src[0], dst);
                break;
            case AttentionSpec or DecoderSpec when UsesSourceMemory(node):
            {
                // Cross-attention over the second input's S positions: queries over T, keys masked past sourceLengths.
                string g = GeometryField(node.Name), weights = NodeParams(node, "parameters");
                string kernels = node.Layer is DecoderSpec ? $"{Kernels}.TransformerDecoderKernels" : $"{Kernels}.MultiHeadAttentionKernels";
                // Attention-weight dropout as over T: the seed is drawn before the element masks, the mask's key index is the source position.
                string drop = node.Layer is DecoderSpec decoder ? $", {Float(decoder.Dropout)}{AttentionDropoutArguments(node)}, _dropoutRng" : AttentionDropoutArguments(node);
                if (training)
                {
                    if (AttentionWeightDropout(node.Layer) > 0) w.Line($"{AttentionSeedField(node)} = _dropoutRng.NextUInt64();");
                    w.Line($"{kernels}.TrainForward({g}, {src[0]}, {src[1]}, {weights}, {dst}, {KeptSpan(node)}, lengths, sourceLengths, _workspace, batch, seq, sourceSeq{drop});");
                    break;
                }
                string work = $"{Camel(node.Name)}Work";
                w.Line($"float[] {work} = _inferenceArenas.Rent({Guards}.ArenaLength({String(plan.Spec.ClassName)}, {g}.WorkspaceLength(batch, seq, sourceSeq)));");
                w.Line($"{kernels}.Forward({g}, {src[0]}, {src[1]}, {weights}, {dst}, lengths, sourceLengths, {work}, batch, seq, sourceSeq);");
                w.Line($"_inferenceArenas.Return({work});");
                break;
            }
            case AttentionSpec:
            {
                string g = GeometryField(node.Name), weights = NodeParams(node, "parameters");
                if (training)
                {
                    if (AttentionWeightDropout(node.Layer) > 0) w.Line($"{AttentionSeedField(node)} = _dropoutRng.NextUInt64();");
                    w.Line($"{Kernels}.MultiHeadAttentionKernels.TrainForward({g}, {src[0]}, {MemoryOperand(src)}, {weights}, {dst}, {KeptSpan(node)}, lengths, _workspace, batch, seq{AttentionDropoutArguments(node)});");
                    break;
                }
                string work = $"{Camel(node.Name)}Work";
                w.Line($"float[] {work} = _inferenceArenas.Rent({Guards}.ArenaLength({String(plan.Spec.ClassName)}, {g}.WorkspaceLength(batch, seq)));");
                w.Line($"{Kernels}.MultiHeadAttentionKernels.Forward({g}, {src[0]}, {MemoryOperand(src)}, {weights}, {dst}, lengths, {work}, batch, seq);");
                w.Line($"_inferenceArenas.Return({work});");
                break;
            }
            case DecoderSpec decoder:
            {
                string g = GeometryField(node.Name), weights = NodeParams(node, "parameters");
                if (training)
                {
                    if (AttentionWeightDropout(node.Layer) > 0) w.Line($"{AttentionSeedField(node)} = _dropoutRng.NextUInt64();");
                    w.Line($"{Kernels}.TransformerDecoderKernels.TrainForward({g}, {src[0]}, {src[1]}, {weights}, {dst}, {KeptSpan(node)}, lengths, _workspace, batch, seq, {ModeDropout(decoder.Dropout)}{AttentionDropoutArguments(node)}, _dropoutRng);");
                    break;
                }
                string work = $"{Camel(node.Name)}Work";
                w.Line($"float[] {work} = _inferenceArenas.Rent({Guards}.ArenaLength({String(plan.Spec.ClassName)}, {g}.WorkspaceLength(batch, seq)));");
                w.Line($"{Kernels}.TransformerDecoderKernels.Forward({g}, {src[0]}, {src[1]}, {weights}, {dst}, lengths, {work}, batch, seq);");
                w.Line($"_inferenceArenas.Return({work});");
                break;
            }
            case RecurrentSpec or TransformerSpec:
            {
                string g = GeometryField(node.Name), kernels = CompositeKernels(node.Layer);
                string weights = NodeParams(node, "parameters");
                if (training)
                {
                    double dropout = node.Layer is RecurrentSpec rnn ? rnn.Dropout : ((TransformerSpec)node.Layer).Dropout;
                    // A Transformer whose feed-forward dropout differs takes the overload with both probabilities; the usual
                    // (PyTorch) case keeps the shorter call.
                    string inner = node.Layer is TransformerSpec tf && tf.InnerDropout != tf.Dropout ? $", {ModeDropout(tf.InnerDropout)}" : "";
                    // Attention-weight dropout takes the overload with all three probabilities and the masks' seed.
                    if (AttentionWeightDropout(node.Layer) > 0)
                    {
                        var t = (TransformerSpec)node.Layer;
                        w.Line($"{AttentionSeedField(node)} = _dropoutRng.NextUInt64();");
                        inner = $", {ModeDropout(t.InnerDropout)}{AttentionDropoutArguments(node)}";
                    }
                    w.Line($"{kernels}.TrainForward({g}, {src[0]}, {weights}, {dst}, {KeptSpan(node)}, lengths, _workspace, batch, seq, {ModeDropout(dropout)}{inner}, _dropoutRng);");
                    break;
                }
                w.Line($"float[] {Camel(node.Name)}Work = _inferenceArenas.Rent({Guards}.ArenaLength({String(plan.Spec.ClassName)}, {g}.WorkspaceLength(batch, seq)));");
                if (predictor)
                    w.Line($"{kernels}.ForwardPrepacked({g}, {src[0]}, {weights}, {PackedWeightField(plan, node)}, {dst}, lengths, {Camel(node.Name)}Work, batch, seq);");
                else
                {
                    string state = node.Layer is RecurrentSpec ? StateSlice(plan, node) : "";
                    w.Line($"{kernels}.Forward({g}, {src[0]}, {weights}, {dst}, lengths, {Camel(node.Name)}Work, batch, seq{(state.Length > 0 ? $", {state}, {state}" : "")});");
                }
                w.Line($"_inferenceArenas.Return({Camel(node.Name)}Work);");
                break;
            }
            case PositionEmbeddingSpec position:
                w.Line($"{Kernels}.PositionEmbeddingKernels.Forward({src[0]}, {PositionTable(node)}, {dst}, batch, seq, {Int(node.Output[1])}, {(incremental ? "position" : "0")}, {String(node.Name)});");
                break;
            case LayerNormSpec norm:
            {
                int features = node.Output[node.Output.Count - 1];
                string rowsOf = Rows(node.OutputLength / features, B);
                string mean = Kept(slot?.Aux ?? -1, node.OutputLength / features);
                string rstd = training ? $"t.Slice({Offset(slot!.Aux, U)} + {rowsOf}, {rowsOf})" : "default";
                w.Line($"{Kernels}.LayerNormKernels.Forward({src[0]}, {(norm.Affine ? P("weight") : "default")}, {(norm.Affine ? P("bias") : "default")}, {dst}, {mean}, {rstd}, {rowsOf}, {Int(features)}, {Float(norm.Eps)});");
                break;
            }
            case GlobalPoolSpec pool when ShapeInference.IsSequence(node.InputShapes[0]):
            {
                int features = node.Output[0];
                if (pool.IsMax)
                    w.Line($"{Kernels}.SequencePoolingKernels.MaxForward({src[0]}, {dst}, {(training ? $"{Cast}({Slot(slot!.Aux, node.OutputLength, U, B)})" : "default")}, lengths, batch, seq, {Int(features)});");
                else
                    w.Line($"{Kernels}.SequencePoolingKernels.AvgForward({src[0]}, {dst}, lengths, batch, seq, {Int(features)});");
                break;
            }
            case DenseSpec dense:
            {
                bool softmax = dense.Activation == ActivationKind.Softmax;
                string pre = Kept(slot?.PreActivation ?? -1, node.OutputLength);
                string act = Operator(softmax ? ActivationKind.None : dense.Activation);
                string linearOut = softmax && training ? pre : dst;
                if (predictor)
                    w.Line($"{Kernels}.DenseKernels.Forward({act}, {src[0]}, {PackedWeightField(plan, node)}, {P("bias")}, {linearOut}, {B});");
                else
                    w.Line($"{Kernels}.DenseKernels.Forward({act}, {src[0]}, {P("weight")}, {P("bias")}, {linearOut}, {(softmax ? "default" : pre)}, {B}, {Int(node.InputLength)}, {Int(dense.Units)});");
                if (softmax) w.Line($"{Kernels}.Softmax.Forward({linearOut}, {dst}, {B}, {Int(dense.Units)});");
                break;
            }
            case ConvSpec conv when node.OutputIsSequence:
                // Over the run-time length: each example convolved at its real length (padded positions read as zeros, written as 0).
                w.Line($"{Kernels}.ConvKernels.ForwardSequence({Operator(conv.Activation)}, {GeometryField(node.Name)} with {{ InWidth = seq }}, {src[0]}, {P("weight")}, {P("bias")}, {dst}, {Kept(slot?.PreActivation ?? -1, node.OutputLength)}, lengths, batch, seq);");
                break;
            case PermuteSpec permute:
                w.Line(PermuteCall(node, permute, src[0], dst, backward: false));
                break;
            case ConvSpec conv:
                w.Line($"{Kernels}.ConvKernels.Forward({Operator(conv.Activation)}, {GeometryField(node.Name)}, {src[0]}, {P("weight")}, {P("bias")}, {dst}, {Kept(slot?.PreActivation ?? -1, node.OutputLength)}, batch);");
                break;
            case PoolSpec { IsMax: true }:
                w.Line($"{Kernels}.PoolingKernels.MaxForward({GeometryField(node.Name)}, {src[0]}, {dst}, {(training ? $"{Cast}({Slot(slot!.Aux, node.OutputLength)})" : "default")}, batch);");
                break;
            case PoolSpec:
                w.Line($"{Kernels}.PoolingKernels.AvgForward({GeometryField(node.Name)}, {src[0]}, {dst}, batch);");
                break;
            case GlobalPoolSpec { IsMax: true }:
                w.Line($"{Kernels}.PoolingKernels.GlobalMaxForward({src[0]}, {dst}, {(training ? $"{Cast}({Slot(slot!.Aux, node.OutputLength)})" : "default")}, batch, {Int(node.Output[0])}, {Int(NodeText.Spatial(node.InputShapes[0]))});");
                break;
            case GlobalPoolSpec:
                w.Line($"{Kernels}.PoolingKernels.GlobalAvgForward({src[0]}, {dst}, batch, {Int(node.Output[0])}, {Int(NodeText.Spatial(node.InputShapes[0]))});");
                break;
            case AdaptiveAvgPoolSpec a:
                w.Line($"{Kernels}.PoolingKernels.AdaptiveAvgForward({src[0]}, {dst}, batch, {Int(node.Output[0])}, {Int(node.InputShapes[0][1])}, {Int(node.InputShapes[0][2])}, {Int(a.Height)}, {Int(a.Width)});");
                break;
            case BatchNormSpec bn:
            {
                int c = node.Output[0];
                string common = $"{P("weight")}, {P("bias")}, {BufferSlice(node, "running_mean")}, {BufferSlice(node, "running_var")}";
                if (training)
                {
                    string saved = $"stats.Slice({Int(slot!.Stats)}, {Int(c)}), stats.Slice({Int(slot.Stats + c)}, {Int(c)})";
                    string count = $"buffers[{OffsetConstant(node.Buffers.First(b => b.IsCount))}]";
                    w.Open("if (_forwardTraining)");
                    // As PyTorch: every training-mode forward counts the batch (a float count stays at 2^24 once there);
                    // momentum None averages all batches so far (factor 1/count).
                    w.Line($"{count} += 1f;");
                    string momentum = bn.Momentum is { } m ? Float(m) : $"1f / {count}";
                    w.Line($"{Kernels}.BatchNormKernels.TrainForward({src[0]}, {dst}, {common}, {saved}, batch, {Int(c)}, {Int(NodeText.Spatial(node.Output))}, {Float(bn.Eps)}, {momentum});");
                    w.Close();
                    w.Line("else");
                    w.Line($"    {Kernels}.BatchNormKernels.EvalForward({src[0]}, {dst}, {common}, {saved}, batch, {Int(c)}, {Int(NodeText.Spatial(node.Output))}, {Float(bn.Eps)});");
                }
                else
                    w.Line($"{Kernels}.BatchNormKernels.InferenceForward({src[0]}, {dst}, {common}, batch, {Int(c)}, {Int(NodeText.Spatial(node.Output))}, {Float(bn.Eps)});");
                break;
            }
            case MergeSpec { IsConcat: true }:
            {
                int offset = 0;
                for (int k = 0; k < src.Count; k++)
                {
                    int part = ShapeInference.Length(node.InputShapes[k]);
                    w.Line($"{Kernels}.MergeKernels.ConcatPart({src[k]}, {dst}, {B}, {Int(part)}, {Int(offset)}, {Int(node.OutputLength)});");
                    offset += part;
                }
                break;
            }
            case MergeSpec:
                w.Line($"{Kernels}.MergeKernels.Add({src[0]}, {src[1]}, {dst});");
                for (int k = 2; k < src.Count; k++)
                    w.Line($"{Kernels}.MergeKernels.Add({dst}, {src[k]}, {dst});");
                break;
            case ActivationSpec { Activation: ActivationKind.Softmax }:
            {
                int cols = node.Output[node.Output.Count - 1];
                w.Line($"{Kernels}.Softmax.Forward({src[0]}, {dst}, {Rows(node.OutputLength / cols, B)}, {Int(cols)});");
                break;
            }
            case GroupNormSpec or InstanceNormSpec:
                EmitNormForward(w, node, src[0], dst, training, slot, U, B, P, name => BufferSlice(node, name));
                break;
            case PReLUSpec prelu:
                w.Line($"{Kernels}.PReLUKernels.Forward({src[0]}, {P("weight")}, {dst}, {NodeText.PReLUShape(node, prelu)});");
                break;
            case LogSoftmaxSpec:
            {
                int cols = node.Output[node.Output.Count - 1];
                w.Line($"{Kernels}.Softmax.LogForward({src[0]}, {dst}, {Rows(node.OutputLength / cols, B)}, {Int(cols)});");
                break;
            }
            case ActivationSpec act:
                w.Line($"{Kernels}.Elementwise.Forward({Operator(act.Activation, act.Slope)}, {src[0]}, {dst});");
                break;
            case DropoutSpec drop:
                w.Line($"{Kernels}.Dropout.Forward({src[0]}, {dst}, {Slot(slot!.Aux, node.OutputLength, U, B)}, {ModeDropout(drop.P)}, _dropoutRng);");
                break;
            default:
                throw new System.InvalidOperationException($"{node.Layer.Kind} has no forward step");
        }
    }

    /// <summary>
    /// GroupNorm, or InstanceNorm (GroupNorm with one group per channel): in training the per-(example, group) mean and
    /// 1/std are kept for backward, and an InstanceNorm that tracks running statistics updates them; at inference such
    /// an InstanceNorm normalises with its running statistics (BatchNorm's inference formula), any other with each
    /// example's own statistics. <paramref name="P"/> gives a parameter's slice.
    /// </summary>
    private static void EmitNormForward(SourceWriter w, GraphNode node, string src, string dst, bool training, TrainingSlot? slot, string U, string B,
        System.Func<string, string> P, System.Func<string, string> running)
    {
        int c = node.Output[0], spatial = NodeText.Spatial(node.Output), groups = Planner.NormGroups(node);
        var (affine, eps) = node.Layer switch
        {
            GroupNormSpec gn => (gn.Affine, gn.Eps),
            InstanceNormSpec inorm => (inorm.Affine, inorm.Eps),
            _ => throw new System.InvalidOperationException(node.Layer.Kind + " is not a group or instance normalisation"),
        };
        string weight = affine ? P("weight") : "default", bias = affine ? P("bias") : "default";
        string sizes = $"{B}, {Int(c)}, {Int(spatial)}";
        var tracked = node.Layer as InstanceNormSpec is { TrackRunningStats: true } t ? t : null;
        string runningStats = tracked is null ? "" : $"{running("running_mean")}, {running("running_var")}";
        if (!training)
        {
            w.Line(tracked is not null
                ? $"{Kernels}.BatchNormKernels.InferenceForward({src}, {dst}, {weight}, {bias}, {runningStats}, {sizes}, {Float(eps)});"
                : $"{Kernels}.GroupNormKernels.Forward({src}, {weight}, {bias}, {dst}, default, default, {sizes}, {Int(groups)}, {Float(eps)});");
            return;
        }
        string rowsOf = Rows(groups, B);
        string mean = $"t.Slice({Offset(slot!.Aux, U)}, {rowsOf})", rstd = $"t.Slice({Offset(slot.Aux, U)} + {rowsOf}, {rowsOf})";
        if (tracked is null)
        {
            w.Line($"{Kernels}.GroupNormKernels.Forward({src}, {weight}, {bias}, {dst}, {mean}, {rstd}, {sizes}, {Int(groups)}, {Float(eps)});");
            return;
        }
        // As PyTorch: a training-mode forward updates the running statistics (its num_batches_tracked is registered but
        // never advanced: _InstanceNorm.forward does not count); an evaluation-mode one normalises with them (constants
        // for Backward, which finds them in the first channels' rows of the saved statistics).
        w.Line($"if (_forwardTraining) {Kernels}.GroupNormKernels.InstanceTrainForward({src}, {weight}, {bias}, {dst}, {mean}, {rstd}, {runningStats}, {sizes}, {Float(eps)}, {Float(tracked.Momentum)});");
        w.Line("else");
        w.Line($"    {Kernels}.BatchNormKernels.EvalForward({src}, {dst}, {weight}, {bias}, {runningStats}, {EvalStats(slot, U, B, c)}, {sizes}, {Float(eps)});");
    }

    /// <summary>Where an evaluation-mode InstanceNorm keeps its constant per-channel mean and 1/std: the start of its (example, channel) rows.</summary>
    private static string EvalStats(TrainingSlot slot, string U, string B, int c) =>
        $"t.Slice({Offset(slot.Aux, U)}, {Int(c)}), t.Slice({Offset(slot.Aux, U)} + {Rows(c, B)}, {Int(c)})";

    /// <summary>
    /// A Permute (forward) or its gradient (backward): a swap of the two axes of a rank-2 example is the tiled
    /// SequenceKernels.Transpose; other ranks go through PermuteKernels with the shape on the stack (T is the call's seq).
    /// </summary>
    private static string PermuteCall(GraphNode node, PermuteSpec permute, string from, string to, bool backward)
    {
        var shape = node.InputShapes[0];
        string Dim(int d) => d == ModelSpec.Seq ? "seq" : Int(d);
        if (shape.Count == 2 && permute.Dims[0] == 1)
            return backward
                ? $"{Kernels}.SequenceKernels.Transpose({from}, {to}, batch, {Dim(shape[1])}, {Dim(shape[0])});"
                : $"{Kernels}.SequenceKernels.Transpose({from}, {to}, batch, {Dim(shape[0])}, {Dim(shape[1])});";
        string dims = $"stackalloc int[] {{ {string.Join(", ", permute.Dims.Select(d => Int(d)))} }}";
        return $"{Kernels}.PermuteKernels.{(backward ? "Backward" : "Forward")}({from}, {to}, batch, stackalloc int[] {{ {string.Join(", ", shape.Select(Dim))} }}, {dims});";
    }

    /// <summary>A convolution and the 2×2 max pool fused with it at inference (see <see cref="PoolFusion"/>): one call, pooled outputs only.</summary>
    private static void EmitConvPool(SourceWriter w, ModelPlan plan, GraphNode conv, GraphNode pool, InferenceStep step)
    {
        var spec = (ConvSpec)conv.Layer;
        w.Line($"// {conv.Name} + {pool.Name}: {NodeText.Describe(conv)}, {NodeText.Describe(pool)} fused (only pooled outputs are written) : {BatchShape(conv.InputShapes[0])} -> {BatchShape(pool.Output)}");
        string src = PlaceText(step.Sources[0], LengthOf(plan, conv.Inputs[0]));
        w.Line($"{Kernels}.ConvKernels.ForwardMaxPool({Operator(spec.Activation)}, {GeometryField(conv.Name)}, {GeometryField(pool.Name)}, {src}, {ParamSlice(conv, "weight")}, {ParamSlice(conv, "bias")}, {PlaceText(step.Destination, pool.OutputLength)}, batch);");
    }

    /// <summary>A dense layer and the residual add that alone reads it, fused at inference (see <see cref="ResidualFusion"/>): one call.</summary>
    private static void EmitDenseResidual(SourceWriter w, ModelPlan plan, GraphNode dense, GraphNode add, int skip, InferenceStep step)
    {
        var spec = (DenseSpec)dense.Layer;
        int skipTensor = add.Inputs[skip];
        w.Line($"// {dense.Name} + {add.Name}: {NodeText.Describe(dense)}, {NodeText.Describe(add)} fused (the product accumulates onto {(skipTensor < 0 ? "input" : plan.Shapes.Nodes[skipTensor].Name)}) : {BatchShape(dense.InputShapes[0])} -> {BatchShape(add.Output)}");
        string x = PlaceText(step.Sources[1 - skip], LengthOf(plan, dense.Inputs[0]));   // the dense layer is a view of its input
        string residual = PlaceText(step.Sources[skip], add.OutputLength);
        w.Line($"{Kernels}.DenseKernels.ForwardResidual({Operator(ActivationKind.None)}, {x}, {ParamSlice(dense, "weight")}, {ParamSlice(dense, "bias")}, {residual}, {PlaceText(step.Destination, add.OutputLength)}, batch, {Int(dense.InputLength)}, {Int(spec.Units)});");
    }

    /// <summary>" (from 'x', 'y')" when a node does not simply read the node before it.</summary>
    private static string FromText(ModelPlan plan, int i)
    {
        var inputs = plan.Shapes.Nodes[i].Inputs;
        if (inputs.Count == 1 && inputs[0] == i - 1) return "";
        return " (from " + string.Join(", ", inputs.Select(x => x < 0 ? "input" : plan.Shapes.Nodes[x].Name)) + ")";
    }

    private static string Shapes(GraphNode node) =>
        string.Join(" + ", node.InputShapes.Select(s => BatchShape(s))) + " -> " + BatchShape(node.Output);

    /// <summary>Per-example length of tensor <paramref name="tensor"/> (-1: the model input).</summary>
    private static int LengthOf(ModelPlan plan, int tensor) => tensor == -2 ? plan.SourceLength : tensor < 0 ? plan.InputLength : plan.Shapes.Nodes[tensor].OutputLength;

    /// <summary>Per-example offset of tensor <paramref name="tensor"/> in the training arena (the inputs' ids lie at its start).</summary>
    private static int TrainingOffset(ModelPlan plan, int tensor) => tensor == -2 ? plan.InputLength : tensor < 0 ? 0 : plan.Training[tensor].Output;

    private static string PlaceText(Place place, int length, string mult = "batch") => place.Kind switch
    {
        PlaceKind.Input => "input",
        PlaceKind.Source => "source",
        PlaceKind.Output => "output",
        _ => $"s{place.Slot}.Slice(0, {mult} * {Int(length)})",
    };

    /// <summary>Row count of a per-example softmax over the last dimension: <c>batch</c> or <c>batch * n</c> (<paramref name="mult"/> for batch).</summary>
    private static string Rows(int perExample, string mult = "batch") => perExample == 1 ? mult : $"{mult} * {Int(perExample)}";

    /// <summary>An arena offset: <paramref name="unit"/> (<c>batch</c>, or <c>rows</c> = batch × T in a sequence model) × the per-example offset.</summary>
    private static string Offset(int perExample, string unit = "batch") => perExample == 0 ? "0" : $"{unit} * {Int(perExample)}";

    /// <summary>A region of the training arena: offset in <paramref name="unit"/>s, length in <paramref name="mult"/>s (the tensor's rows).</summary>
    private static string Slot(int offset, int length, string unit = "batch", string mult = "batch") => $"t.Slice({Offset(offset, unit)}, {mult} * {Int(length)})";

    /// <summary>
    /// What arena offsets scale with: <c>batch</c>, or <c>rows</c> (= batch × T) in a sequence model, where every region
    /// is sized for a sequence tensor (a tensor without T needs only <c>batch</c> of its per-example length).
    /// </summary>
    private static string Unit(ModelPlan plan) => plan.HasSource ? "cap" : plan.IsSequence ? "rows" : "batch";

    /// <summary>The rows of a tensor over the second input's length S: batch × sourceSeq.</summary>
    private const string SourceRows = "sourceRows";

    /// <summary>Whether <paramref name="node"/> runs over the second input's S positions (its output has S).</summary>
    private static bool IsSourceNode(ModelPlan plan, GraphNode node) => plan.HasSource && ShapeInference.HasSourceSeq(node.Output);

    /// <summary>Whether <paramref name="node"/> is cross-attention whose memory has the second input's length S (queries over T).</summary>
    private static bool UsesSourceMemory(GraphNode node) => node.InputShapes.Count > 1 && ShapeInference.HasSourceSeq(node.InputShapes[1]);

    /// <summary>
    /// Emits one node's code through <paramref name="emit"/>; a node over S gets the T-domain names of its call rewritten to the
    /// second input's (<c>rows</c>, <c>seq</c>, <c>lengths</c> → <c>sourceRows</c>, <c>sourceSeq</c>, <c>sourceLengths</c>): such a
    /// node is one of the per-position or within-sequence layers (ShapeInference.SourceMisuse), whose calls take exactly those.
    /// </summary>
    private static void OverSource(SourceWriter w, ModelPlan plan, GraphNode node, System.Action<SourceWriter> emit)
    {
        if (!IsSourceNode(plan, node))
        {
            emit(w);
            return;
        }
        var inner = new SourceWriter();
        emit(inner);
        foreach (string line in inner.ToString().TrimEnd('\n').Split('\n'))
            w.Line(System.Text.RegularExpressions.Regex.Replace(line, @"\b(rows|seq|lengths)\b", m => "source" + char.ToUpperInvariant(m.Value[0]) + m.Value.Substring(1)));
    }

    /// <summary>
    /// The row count of tensor <paramref name="tensor"/> (-1: the model input): <c>rows</c> for a tensor with T on any axis
    /// (a [C, T] tensor holds batch × C × T floats, as many as [T, C]), else <c>batch</c>.
    /// </summary>
    private static string Mult(ModelPlan plan, int tensor)
    {
        if (tensor == -2) return SourceRows;
        var shape = tensor < 0 ? plan.Spec.InputShape : plan.Shapes.Nodes[tensor].Output;
        if (plan.HasSource && ShapeInference.HasSourceSeq(shape)) return SourceRows;
        return plan.IsSequence && ShapeInference.HasSeq(shape) ? "rows" : "batch";
    }
}
