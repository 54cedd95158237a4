// Backward pass: the forward graph in reverse (llm.c's gpt2_backward). Every tensor has a gradient region; when
// several layers read one tensor, the first gradient written in backward order overwrites the region and later
// ones are computed into scratch and added. Parameter gradients accumulate into the gradient buffer. Gradients
// that lead only back to the model input (or a float second input) are computed only when the caller asks for dInput
// (or dSource).
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
    private static string EmitBackward(ModelPlan plan)
    {
        var spec = plan.Spec;
        var nodes = plan.Shapes.Nodes;
        int n = nodes.Count;

        // Whether a tensor's gradient is needed regardless of dInput: it leads back to some parameters.
        var needed = new bool[n];
        for (int i = 0; i < n; i++)
            needed[i] = nodes[i].Params.Count > 0 || nodes[i].Inputs.Any(x => x >= 0 && needed[x]);

        // Which differentiable model inputs a tensor's gradient leads back to: bit 1 the model input (dInput), bit 2 a float
        // second input (dSource); the condition under which a gradient that reaches no parameter is wanted follows from it.
        int ReachOf(int tensor, int[] r) => tensor == -1 ? 1 : tensor == -2 ? (plan.SourceIsFloat ? 2 : 0) : r[tensor];
        var reach = new int[n];
        for (int i = 0; i < n; i++)
            foreach (int x in nodes[i].Inputs) reach[i] |= ReachOf(x, reach);

        // Gradient regions are shared by views; key -1 is the model input (dInput), -2 the second input (dSource). For each region, the reads
        // in forward order; the last one runs first in backward and overwrites unless dOutput seeded the region.
        int GradientKey(int tensor) => tensor < 0 ? tensor : plan.Training[tensor].Gradient;   // -2: the second input (dSource for floats; ids have none)
        var readers = new Dictionary<int, List<(int Node, int Position)>>();
        for (int i = 0; i < n; i++)
        {
            if (Planner.IsTrainingView(nodes[i].Layer)) continue;
            for (int k = 0; k < nodes[i].Inputs.Count; k++)
            {
                int key = GradientKey(nodes[i].Inputs[k]);
                if (!readers.TryGetValue(key, out var list)) readers[key] = list = new List<(int, int)>();
                list.Add((i, k));
            }
        }
        int seeded = GradientKey(n - 1);
        bool seedRegion = readers.ContainsKey(seeded);
        bool Overwrites(int node, int position)
        {
            int key = GradientKey(nodes[node].Inputs[position]);
            return !(key == seeded && seedRegion) && readers[key][readers[key].Count - 1] == (node, position);
        }

        return WriteFile(spec, w =>
        {
            w.Line("/// <summary>");
            w.Line("/// Back-propagates ∂loss/∂output of the last <see cref=\"ForwardTrain\"/> call, <b>adding</b> every parameter's");
            w.Line(plan.SourceIsFloat
                ? "/// gradient into <see cref=\"Gradients\"/>, and writes ∂loss/∂input into <paramref name=\"dInput\"/> and ∂loss/∂source into <paramref name=\"dSource\"/> unless they are empty."
                : "/// gradient into <see cref=\"Gradients\"/>, and writes ∂loss/∂input into <paramref name=\"dInput\"/> unless it is empty.");
            w.Line("/// </summary>");
            if (plan.SourceIsFloat)
            {
                w.Line("/// <param name=\"dOutput\">∂loss/∂output, shaped as the last ForwardTrain's output.</param>");
                w.Line("/// <param name=\"dInput\">Receives ∂loss/∂input [batch, seq, InputSize] (0 at padded positions), or empty to skip it.</param>");
                w.Line("/// <param name=\"dSource\">Receives ∂loss/∂source [batch, sourceSeq, SourceSize] (0 at padded source positions), or empty to skip it.</param>");
            }
            w.Line("/// <exception cref=\"global::System.InvalidOperationException\">No training forward has run.</exception>");
            w.Line("/// <exception cref=\"global::System.ArgumentException\">A span's length does not match the last training batch.</exception>");
            w.Open(plan.SourceIsFloat
                ? "public void Backward(global::System.ReadOnlySpan<float> dOutput, global::System.Span<float> dInput, global::System.Span<float> dSource = default)"
                : "public void Backward(global::System.ReadOnlySpan<float> dOutput, global::System.Span<float> dInput)");
            string U = Unit(plan);
            if (plan.IsSequence)
                EmitSequenceBackwardState(w, plan);
            else
            {
                w.Line("int batch = _trainingBatch;");
                w.Line($"{Guards}.CheckBackward({String(spec.ClassName)}, dOutput.Length, dInput.Length, batch, InputSize, OutputSize);");
            }
            w.Line("global::System.ReadOnlySpan<float> parameters = new(_parameters, _parameterOffset, ParameterCount);");
            w.Line("var gradients = new global::System.Span<float>(_gradients, _parameterOffset, ParameterCount);");
            w.Line($"var t = new global::System.Span<float>(_trainingArena, 0, {U} * TrainingArenaLength);");
            if (plan.TrainingFixedLength > 0)
                w.Line($"var stats = new global::System.Span<float>(_trainingArena, {U} * TrainingArenaLength, TrainingFixedLength);");
            w.Line($"var d = new global::System.Span<float>(_gradientArena, 0, {U} * GradientArenaLength);         // ∂loss/∂(every tensor)");
            w.Line($"var scratch = new global::System.Span<float>(_gradientArena, {U} * GradientArenaLength, {U} * ScratchLength);   // gradients to add into a shared region");
            w.Line($"var dPre = new global::System.Span<float>(_gradientArena, {U} * (GradientArenaLength + ScratchLength), {U} * ScratchLength);");
            w.Line();
            // The output's gradient region is seeded with dOutput only when other layers also add into it (a view of the
            // output read elsewhere); otherwise the last layer reads dOutput directly.
            if (seeded < 0)
                w.Line("if (!dInput.IsEmpty) dOutput.CopyTo(dInput); // the output is a view of the input");
            else if (seedRegion)
                w.Line($"dOutput.CopyTo({Grad(seeded, plan.Final.OutputLength, U, Mult(plan, n - 1))});");

            var runs = new RunRoller(OffsetValues(plan));
            for (int i = n - 1; i >= 0; i--)
            {
                var node = nodes[i];
                if (Planner.IsTrainingView(node.Layer)) continue;
                bool always = node.Params.Count > 0 || node.Inputs.Any(x => x >= 0 && needed[x]);
                var c = runs.Begin(node.Name);   // this layer's code: rolled into a loop with identical neighbours
                c.Line($"// {node.Name}: {NodeText.Describe(node)} backward : {BatchShape(node.Output)} -> {string.Join(" + ", node.InputShapes.Select(s => BatchShape(s)))}");
                if (!always) c.Open($"if ({Want(reach[i])}) // only the input gradient depends on this layer");

                // Where each input's gradient goes: its region (or dInput, dSource), or scratch when it must be added; a gradient
                // that reaches no parameter carries the condition under which the caller wants it.
                var targets = new List<(string Write, string? AddInto, bool Needed, string? Want)>();
                for (int k = 0; k < node.Inputs.Count; k++)
                {
                    int x = node.Inputs[k];
                    int length = LengthOf(plan, x);
                    int key = GradientKey(x);
                    string region = key == -2 ? (plan.SourceIsFloat ? "dSource" : "default") : key < 0 ? "dInput" : Grad(key, length, U, Mult(plan, x));
                    bool overwrite = Overwrites(i, k);
                    string? want = key < 0 || !needed[x] ? Want(ReachOf(x, reach)) : null;
                    targets.Add(overwrite ? (region, null, true, want) : ($"scratch.Slice(0, {Mult(plan, x)} * {Int(length)})", region, true, want));
                }
                int outKey = plan.Training[i].Gradient;
                string dOut = outKey == seeded && !seedRegion ? "dOutput" : Grad(outKey, node.OutputLength, U, Mult(plan, i));
                OverSource(c, plan, node, v => EmitNodeBackward(v, plan, node, plan.Training[i], dOut, targets, always));
                if (!always) c.Close();
            }
            runs.WriteTo(w);
            w.Close();
        });
    }

    /// <summary>The condition under which a gradient leading back to the inputs <paramref name="reach"/> (bit 1 dInput, bit 2 dSource) is wanted.</summary>
    private static string Want(int reach) => reach switch
    {
        2 => "!dSource.IsEmpty",
        3 => "(!dInput.IsEmpty || !dSource.IsEmpty)",
        _ => "!dInput.IsEmpty",
    };

    /// <summary>The negation of a <see cref="Want"/> condition: the caller wants none of those gradients.</summary>
    private static string Skip(string want) => want switch
    {
        "!dSource.IsEmpty" => "dSource.IsEmpty",
        "(!dInput.IsEmpty || !dSource.IsEmpty)" => "(dInput.IsEmpty && dSource.IsEmpty)",
        _ => "dInput.IsEmpty",
    };

    /// <summary>Whether <paramref name="write"/> is a caller's gradient span, which the kernels skip when it is empty.</summary>
    private static bool IsCallerGradient(string write) => write is "dInput" or "dSource";

    private static void EmitNodeBackward(SourceWriter w, ModelPlan plan, GraphNode node, TrainingSlot slot, string dOut,
        List<(string Write, string? AddInto, bool Needed, string? Want)> targets, bool always)
    {
        string P(string shortName) => ParamSlice(node, shortName);
        string G(string shortName) => ParamSlice(node, shortName, "gradients");
        string U = Unit(plan), B = plan.IsSequence && node.OutputIsSequence ? "rows" : "batch";
        string Input(int k) => Slot(TrainingOffset(plan, node.Inputs[k]), LengthOf(plan, node.Inputs[k]), U, Mult(plan, node.Inputs[k]));
        string output = Slot(slot.Output, node.OutputLength, U, B);
        var target = targets[0];
        // A parameterised layer computes its input gradient only when something needs it.
        string dIn = always && target.Want is { } wanted && !IsCallerGradient(target.Write) ? $"{Skip(wanted)} ? default : {target.Write}" : target.Write;
        void AddBack(int k)
        {
            if (targets[k].AddInto is { } region)
            {
                string add = $"{Kernels}.MergeKernels.AddInPlace({region}, {targets[k].Write});";
                w.Line(always && targets[k].Want is { } want ? $"if ({want}) {add}" : add);
            }
        }

        switch (node.Layer)
        {
            case EmbeddingSpec emb:
                // Token ids have no gradient: only the table's rows accumulate (the padding row excepted).
                w.Line($"{Kernels}.EmbeddingKernels.Backward({Cast}({Input(0)}), {IdColumns(node)}{dOut}, {G("weight")}, {Int(emb.Vocab)}, {Int(emb.Dim)}, {Int(emb.PaddingIdx)});");
                break;
            case AttentionSpec or DecoderSpec:
            {
                // Cross-attention writes two input gradients in one call: the memory's goes through dPre when it must be added
                // (scratch may already hold the input's).
                string dMemory = "default";
                if (targets.Count > 1)
                {
                    var m = targets[1];
                    string write = m.AddInto is null ? m.Write : "dPre" + m.Write.Substring("scratch".Length);
                    targets[1] = (write, m.AddInto, m.Needed, m.Want);
                    dMemory = always && m.Want is { } want && !IsCallerGradient(write) ? $"{Skip(want)} ? default : {write}" : write;
                }
                string kernels = node.Layer is DecoderSpec ? "TransformerDecoderKernels" : "MultiHeadAttentionKernels";
                w.Line($"{Kernels}.{kernels}.Backward({GeometryField(node.Name)}, {dOut}, {Input(0)}, {(targets.Count > 1 ? Input(1) : "default")}, {NodeParams(node, "parameters")}, {KeptSpan(node)},");
                w.Line(UsesSourceMemory(node)
                    ? $"    {NodeParams(node, "gradients")}, {dIn}, {dMemory}, lengths, sourceLengths, _workspace, batch, seq, sourceSeq{AttentionDropoutArguments(node)});"
                    : $"    {NodeParams(node, "gradients")}, {dIn}, {dMemory}, lengths, _workspace, batch, seq{AttentionDropoutArguments(node)});");
                AddBack(0);
                if (targets.Count > 1) AddBack(1);
                break;
            }
            case RecurrentSpec or TransformerSpec:
                w.Line($"{CompositeKernels(node.Layer)}.Backward({GeometryField(node.Name)}, {dOut}, {Input(0)}, {NodeParams(node, "parameters")}, {KeptSpan(node)},");
                w.Line($"    {NodeParams(node, "gradients")}, {dIn}, lengths, _workspace, batch, seq{AttentionDropoutArguments(node)});");
                AddBack(0);
                break;
            case PositionEmbeddingSpec position:
                // The input gradient is dOutput itself; a learned table also gathers it per position.
                if (!position.Sinusoidal)
                    w.Line($"{Kernels}.PositionEmbeddingKernels.Backward({dOut}, {G("weight")}, batch, seq, {Int(node.Output[1])}, 0, {String(node.Name)});");
                if (target.Write != dOut) w.Line(always && target.Want is { } want ? $"if ({want}) {dOut}.CopyTo({target.Write});" : $"{dOut}.CopyTo({target.Write});");
                AddBack(0);
                break;
            case LayerNormSpec norm:
            {
                int features = node.Output[node.Output.Count - 1];
                string rowsOf = Rows(node.OutputLength / features, B);
                string mean = $"t.Slice({Offset(slot.Aux, U)}, {rowsOf})", rstd = $"t.Slice({Offset(slot.Aux, U)} + {rowsOf}, {rowsOf})";
                w.Line($"{Kernels}.LayerNormKernels.Backward({dOut}, {Input(0)}, {(norm.Affine ? P("weight") : "default")}, {mean}, {rstd}, {dIn}, {(norm.Affine ? G("weight") : "default")}, {(norm.Affine ? G("bias") : "default")}, {rowsOf}, {Int(features)});");
                AddBack(0);
                break;
            }
            case GlobalPoolSpec pool when ShapeInference.IsSequence(node.InputShapes[0]):
                if (pool.IsMax)
                    w.Line($"{Kernels}.SequencePoolingKernels.MaxBackward({dOut}, {Cast}({Slot(slot.Aux, node.OutputLength, U, B)}), {target.Write}, batch, seq, {Int(node.Output[0])});");
                else
                    w.Line($"{Kernels}.SequencePoolingKernels.AvgBackward({dOut}, {target.Write}, lengths, batch, seq, {Int(node.Output[0])});");
                AddBack(0);
                break;
            case DenseSpec dense:
            {
                bool softmax = dense.Activation == ActivationKind.Softmax;
                string dLinear = dOut;
                if (softmax)
                {
                    // Softmax runs after the linear part: take its gradient first; the Dense then sees the identity.
                    dLinear = $"dPre.Slice(0, {B} * {Int(dense.Units)})";
                    w.Line($"{Kernels}.Softmax.Backward({dOut}, {output}, {dLinear}, {B}, {Int(dense.Units)});");
                }
                string act = Operator(softmax ? ActivationKind.None : dense.Activation);
                string pre = slot.PreActivation >= 0 && !softmax ? Slot(slot.PreActivation, node.OutputLength, U, B) : "default";
                string scratchPre = softmax || dense.Activation == ActivationKind.None ? "default" : $"dPre.Slice(0, {B} * {Int(dense.Units)})";
                w.Line($"{Kernels}.DenseKernels.Backward({act}, {dLinear}, {pre}, {(softmax ? "default" : output)}, {Input(0)}, {P("weight")}, {scratchPre}, {G("weight")}, {G("bias")}, {dIn},");
                w.Line($"    {B}, {Int(node.InputLength)}, {Int(dense.Units)});");
                AddBack(0);
                break;
            }
            case ConvSpec conv when node.OutputIsSequence:
            {
                // The kernel masks dOutput to the real positions in dPre (always needed), then back-propagates from there.
                string pre = slot.PreActivation >= 0 ? Slot(slot.PreActivation, node.OutputLength, U, B) : "default";
                w.Line($"{Kernels}.ConvKernels.BackwardSequence({Operator(conv.Activation)}, {GeometryField(node.Name)} with {{ InWidth = seq }}, {dOut}, {pre}, {(conv.Activation == ActivationKind.None ? "default" : output)}, {Input(0)}, {P("weight")}, dPre.Slice(0, rows * {Int(node.OutputLength)}),");
                w.Line($"    {G("weight")}, {G("bias")}, {dIn}, lengths, batch, seq);");
                AddBack(0);
                break;
            }
            case PermuteSpec permute:
                w.Line(PermuteCall(node, permute, dOut, target.Write, backward: true));
                AddBack(0);
                break;
            case ConvSpec conv:
            {
                string pre = slot.PreActivation >= 0 ? Slot(slot.PreActivation, node.OutputLength) : "default";
                string scratchPre = conv.Activation == ActivationKind.None ? "default" : $"dPre.Slice(0, batch * {Int(node.OutputLength)})";
                w.Line($"{Kernels}.ConvKernels.Backward({Operator(conv.Activation)}, {GeometryField(node.Name)}, {dOut}, {pre}, {(conv.Activation == ActivationKind.None ? "default" : output)}, {Input(0)}, {P("weight")}, {scratchPre},");
                w.Line($"    {G("weight")}, {G("bias")}, {dIn}, batch);");
                AddBack(0);
                break;
            }
            case BatchNormSpec:
            {
                int c = node.Output[0];
                // The kernel always produces the input gradient; when nobody needs it, scratch takes it.
                string bnIn = always && target.Want is { } want ? $"{Skip(want)} ? scratch.Slice(0, batch * {Int(node.InputLength)}) : {target.Write}" : target.Write;
                // After an evaluation-mode ForwardTrain the statistics were constants (the running ones): EvalBackward.
                w.Line($"if (_forwardTraining) {Kernels}.BatchNormKernels.Backward({dOut}, {Input(0)}, {P("weight")}, stats.Slice({Int(slot.Stats)}, {Int(c)}), stats.Slice({Int(slot.Stats + c)}, {Int(c)}),");
                w.Line($"    {G("weight")}, {G("bias")}, {bnIn}, batch, {Int(c)}, {Int(NodeText.Spatial(node.Output))});");
                w.Line($"else {Kernels}.BatchNormKernels.EvalBackward({dOut}, {Input(0)}, {P("weight")}, stats.Slice({Int(slot.Stats)}, {Int(c)}), stats.Slice({Int(slot.Stats + c)}, {Int(c)}),");
                w.Line($"    {G("weight")}, {G("bias")}, {bnIn}, batch, {Int(c)}, {Int(NodeText.Spatial(node.Output))});");
                AddBack(0);
                break;
            }
            case PoolSpec { IsMax: true }:
                w.Line($"{Kernels}.PoolingKernels.MaxBackward({GeometryField(node.Name)}, {dOut}, {Cast}({Slot(slot.Aux, node.OutputLength)}), {target.Write}, batch);");
                AddBack(0);
                break;
            case PoolSpec:
                w.Line($"{Kernels}.PoolingKernels.AvgBackward({GeometryField(node.Name)}, {dOut}, {target.Write}, batch);");
                AddBack(0);
                break;
            case GlobalPoolSpec { IsMax: true }:
                w.Line($"{Kernels}.PoolingKernels.GlobalMaxBackward({dOut}, {Cast}({Slot(slot.Aux, node.OutputLength)}), {target.Write}, batch, {Int(node.Output[0])}, {Int(NodeText.Spatial(node.InputShapes[0]))});");
                AddBack(0);
                break;
            case GlobalPoolSpec:
                w.Line($"{Kernels}.PoolingKernels.GlobalAvgBackward({dOut}, {target.Write}, batch, {Int(node.Output[0])}, {Int(NodeText.Spatial(node.InputShapes[0]))});");
                AddBack(0);
                break;
            case AdaptiveAvgPoolSpec a:
                w.Line($"{Kernels}.PoolingKernels.AdaptiveAvgBackward({dOut}, {target.Write}, batch, {Int(node.Output[0])}, {Int(node.InputShapes[0][1])}, {Int(node.InputShapes[0][2])}, {Int(a.Height)}, {Int(a.Width)});");
                AddBack(0);
                break;
            case MergeSpec { IsConcat: true }:
            {
                int offset = 0;
                for (int k = 0; k < targets.Count; k++)
                {
                    int part = ShapeInference.Length(node.InputShapes[k]);
                    string region = targets[k].AddInto ?? targets[k].Write;
                    string line = $"{Kernels}.MergeKernels.SplitPart({dOut}, {region}, {B}, {Int(part)}, {Int(offset)}, {Int(node.OutputLength)}, accumulate: {(targets[k].AddInto is null ? "false" : "true")});";
                    w.Line(always && targets[k].Want is { } want ? $"if ({want}) {line}" : line);
                    offset += part;
                }
                break;
            }
            case MergeSpec:
                for (int k = 0; k < targets.Count; k++)
                {
                    string line = targets[k].AddInto is { } region
                        ? $"{Kernels}.MergeKernels.AddInPlace({region}, {dOut});"
                        : $"{dOut}.CopyTo({targets[k].Write});";
                    w.Line(always && targets[k].Want is { } want ? $"if ({want}) {line}" : line);
                }
                break;
            case ActivationSpec { Activation: ActivationKind.Softmax }:
            {
                int cols = node.Output[node.Output.Count - 1];
                w.Line($"{Kernels}.Softmax.Backward({dOut}, {output}, {target.Write}, {Rows(node.OutputLength / cols, B)}, {Int(cols)});");
                AddBack(0);
                break;
            }
            case GroupNormSpec or InstanceNormSpec:
            {
                // Training normalises with each example's statistics in both kinds (running statistics do not enter the gradient).
                int c = node.Output[0], groups = Planner.NormGroups(node);
                bool affine = node.Layer is GroupNormSpec { Affine: true } or InstanceNormSpec { Affine: true };
                string rowsOf = Rows(groups, B);
                string mean = $"t.Slice({Offset(slot.Aux, U)}, {rowsOf})", rstd = $"t.Slice({Offset(slot.Aux, U)} + {rowsOf}, {rowsOf})";
                bool tracked = node.Layer is InstanceNormSpec { TrackRunningStats: true };
                w.Line($"{(tracked ? "if (_forwardTraining) " : "")}{Kernels}.GroupNormKernels.Backward({dOut}, {Input(0)}, {(affine ? P("weight") : "default")}, {mean}, {rstd}, {dIn}, {(affine ? G("weight") : "default")}, {(affine ? G("bias") : "default")},");
                w.Line($"    {B}, {Int(c)}, {Int(NodeText.Spatial(node.Output))}, {Int(groups)});");
                if (tracked)
                {
                    // After an evaluation-mode ForwardTrain the statistics were the running ones (constants): BatchNorm's EvalBackward.
                    string bnIn = always && target.Want is { } want && !IsCallerGradient(target.Write)
                        ? $"{Skip(want)} ? scratch.Slice(0, {B} * {Int(node.InputLength)}) : {target.Write}" : dIn;
                    w.Line($"else {Kernels}.BatchNormKernels.EvalBackward({dOut}, {Input(0)}, {(affine ? P("weight") : "default")}, {EvalStats(slot, U, B, c)}, {(affine ? G("weight") : "default")}, {(affine ? G("bias") : "default")},");
                    w.Line($"    {bnIn}, {B}, {Int(c)}, {Int(NodeText.Spatial(node.Output))});");
                }
                AddBack(0);
                break;
            }
            case PReLUSpec prelu:
                w.Line($"{Kernels}.PReLUKernels.Backward({dOut}, {Input(0)}, {P("weight")}, {dIn}, {G("weight")}, {NodeText.PReLUShape(node, prelu)});");
                AddBack(0);
                break;
            case LogSoftmaxSpec:
            {
                // Backward reads the kept log-probabilities: exp(y) is the softmax, so nothing else is stored.
                int cols = node.Output[node.Output.Count - 1];
                w.Line($"{Kernels}.Softmax.LogBackward({dOut}, {output}, {target.Write}, {Rows(node.OutputLength / cols, B)}, {Int(cols)});");
                AddBack(0);
                break;
            }
            case ActivationSpec act:
                w.Line($"{Kernels}.Elementwise.Backward({Operator(act.Activation, act.Slope)}, {dOut}, {Input(0)}, {output}, {target.Write});");
                AddBack(0);
                break;
            case DropoutSpec:
                w.Line($"{Kernels}.Dropout.Backward({dOut}, {Slot(slot.Aux, node.OutputLength, U, B)}, {target.Write});");
                AddBack(0);
                break;
        }
    }

    private static string Grad(int offset, int length, string unit = "batch", string mult = "batch") => $"d.Slice({Offset(offset, unit)}, {mult} * {Int(length)})";
}
