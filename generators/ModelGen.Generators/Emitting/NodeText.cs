// How each graph node reads in generated code: its one-line description (the llm.c-style comment above every
// call), and the kernel geometry it needs (emitted once as a static readonly field per node).
using System.Globalization;
using System.Linq;
using ModelGen.Generators.Model;
using ModelGen.Generators.Shapes;
using static ModelGen.Generators.Emitting.EmitNames;

namespace ModelGen.Generators.Emitting;

internal static class NodeText
{
    /// <summary>E.g. <c>Dense 784->256 + bias + ReLU (fused epilogue)</c>, <c>Conv2D 1->6 5x5 pad 2 + bias + ReLU (fused epilogue)</c>.</summary>
    public static string Describe(GraphNode node)
    {
        string Fused(ActivationKind a) => a == ActivationKind.None ? "" : $" + {EmitNames.Describe(a)} (fused epilogue)";
        return node.Layer switch
        {
            DenseSpec d => $"Dense {node.InputLength}->{d.Units}" + (d.UseBias ? " + bias" : "") + Fused(d.Activation),
            ConvSpec c => $"{c.Kind} {node.InputShapes[0][0]}->{c.OutChannels} {c.Kernel.Window(c.Rank)}" + (node.OutputIsSequence ? " over T (real lengths)" : "")
                          + (c.Stride != One ? $" stride {c.Stride.Show(c.Rank)}" : "") + (c.EffectivePadding != default ? $" pad {c.EffectivePadding.Show(c.Rank)}" : "")
                          + (c.PaddingMode != PaddingModeKind.Zeros ? $" {c.PaddingMode.ToString().ToLowerInvariant()}" : "")
                          + (c.Dilation != One ? $" dilation {c.Dilation.Show(c.Rank)}" : "") + (c.Groups != 1 ? $" groups {c.Groups}" : "")
                          + (c.UseBias ? " + bias" : "") + Fused(c.Activation),
            PoolSpec p => $"{p.Kind} {p.Kernel.Window(p.Rank)} stride {p.Stride.Show(p.Rank)}" + (p.Padding != default ? $" pad {p.Padding.Show(p.Rank)}" : "") + (p.CeilMode ? " ceil" : "")
                          + (!p.IsMax && !p.CountIncludePad ? " (padding not counted)" : "") + (!p.IsMax && p.DivisorOverride > 0 ? $" divisor {p.DivisorOverride}" : ""),
            BatchNormSpec b => $"{b.Kind} eps {Num(b.Eps)} momentum {(b.Momentum is { } m ? Num(m) : "None (cumulative)")}" + (b.Affine ? "" : " (no affine)"),
            MergeSpec { IsConcat: true } => ShapeInference.IsSequence(node.Output) ? "Concat along features" : "Concat along channels",
            MergeSpec => "Add",
            ActivationSpec a => EmitNames.Describe(a.Activation, a.Slope),
            DropoutSpec d => $"Dropout(p={Num(d.P)})",
            FlattenSpec => "Flatten (a view: no data moves)",
            PermuteSpec p => $"Permute({string.Join(", ", p.Dims)})" + (node.InputShapes[0].Count == 2 && p.Dims[0] == 1 ? " (tiled transpose)" : ""),
            EmbeddingSpec e => $"Embedding {e.Vocab}x{e.Dim}" + (e.PaddingIdx >= 0 ? $" padding {e.PaddingIdx}" : "") + (node.InputShapes[0].Count == 2 ? $" (id column {e.Column})" : ""),
            RecurrentSpec r => $"{r.Kind} {node.InputShapes[0][1]}->{r.Hidden}" + (r.Layers > 1 ? $" x{r.Layers} layers" : "") + (r.Bidirectional ? " bidirectional" : "")
                               + (r.ReturnSequences ? "" : " (final state)") + (r.Dropout > 0 ? $" dropout {Num(r.Dropout)}" : ""),
            GroupNormSpec g => $"GroupNorm {g.Groups} group{(g.Groups == 1 ? "" : "s")} eps {Num(g.Eps)}" + (g.Affine ? "" : " (no affine)"),
            InstanceNormSpec i => $"{i.Kind} eps {Num(i.Eps)}" + (i.TrackRunningStats ? $" momentum {Num(i.Momentum)} (running statistics)" : "") + (i.Affine ? " (affine)" : ""),
            PReLUSpec p => p.NumParameters == 1 ? "PReLU (one shared slope)" : $"PReLU ({p.NumParameters} slopes, one per channel)",
            LayerNormSpec l => $"LayerNorm eps {Num(l.Eps)}" + (l.Affine ? "" : " (no affine)"),
            TransformerSpec t => $"TransformerEncoder d {node.Output[1]}, {t.Heads} heads, FF {t.FeedForward} {EmitNames.Describe(t.Activation)}, {t.Layers} layer{(t.Layers == 1 ? "" : "s")}"
                                 + (t.NormFirst ? ", pre-norm" : ", post-norm") + (t.Causal ? ", causal" : "") + (t.Rotary ? ", rotary" : "") + (t.Dropout > 0 ? $", dropout {Num(t.Dropout)}" : "")
                                 + (t.WeightDropout != t.Dropout ? $", attention dropout {Num(t.WeightDropout)}" : ""),
            DecoderSpec t => $"TransformerDecoder d {node.Output[1]}, memory width {node.InputShapes[1][1]}, {t.Heads} heads, FF {t.FeedForward} {EmitNames.Describe(t.Activation)}, {t.Layers} layer{(t.Layers == 1 ? "" : "s")}"
                             + (t.NormFirst ? ", pre-norm" : ", post-norm") + (t.Causal ? ", causal" : "") + (t.Dropout > 0 ? $", dropout {Num(t.Dropout)}" : "")
                             + (t.WeightDropout != t.Dropout ? $", attention dropout {Num(t.WeightDropout)}" : ""),
            AttentionSpec a => $"MultiHeadAttention d {node.Output[1]}, {a.Heads} heads" + (node.InputShapes.Count > 1 ? $", cross over memory width {node.InputShapes[1][1]}" : ", self")
                               + (a.Causal ? ", causal" : "") + (a.Rotary ? ", rotary" : "") + (a.UseBias ? "" : ", no bias") + (a.Dropout > 0 ? $", dropout {Num(a.Dropout)}" : ""),
            PositionEmbeddingSpec p => $"PositionEmbedding {(p.Sinusoidal ? "sinusoidal" : "learned")} {p.MaxLength}x{node.Output[1]} (added)",
            GlobalPoolSpec g when ShapeInference.IsSequence(node.InputShapes[0]) => $"{g.Kind} over time (real lengths)",
            _ => node.Layer.Kind,
        };
    }

    /// <summary>
    /// <c>, rotary: new RotaryTable(head_dim, MaxLength, base)</c> for a rotary stack, else "": the fixed cos/sin table is computed
    /// once per process as part of the static geometry (a buffer, not a parameter: nothing to save, nothing trained).
    /// </summary>
    private static string RotaryArgument(bool rotary, double @base, int headSize, int maxLength) =>
        rotary ? $", rotary: new {Kernels}.RotaryTable({headSize}, {maxLength}, {Float(@base)})" : "";

    /// <summary>A stride or dilation of 1 on both axes (a 1-D spec holds height 1 too, see <see cref="Hw"/>).</summary>
    private static readonly Hw One = new(1, 1);

    /// <summary>
    /// The static geometry field declaration for conv, pooling, recurrent and Transformer nodes (and the sinusoidal table), or null
    /// for other kinds. <paramref name="maxLength"/> is the model's MaxLength, which sizes a rotary table.
    /// </summary>
    public static string? GeometryDeclaration(GraphNode node, int maxLength)
    {
        var input = node.InputShapes[0];
        int c = input[0], h = input.Count == 3 ? input[1] : 1, w = input[input.Count - 1];
        switch (node.Layer)
        {
            case ConvSpec conv:
            {
                // A 1-D spec already holds the unit height values (Hw), so both ranks write the same (kh, kw, sh, sw, ph, pw, dh, dw).
                Hw k = conv.Kernel, s = conv.Stride, p = conv.EffectivePadding, d = conv.Dilation;
                string axes = $"{k.H}, {k.W}, {s.H}, {s.W}, {p.H}, {p.W}, {d.H}, {d.W}";
                // Over the run-time length the width is each call's seq (`with { InWidth = seq }` where it is used).
                string width = w == ModelSpec.Seq ? "0 /* T */" : $"{w}";
                string mode = conv.PaddingMode == PaddingModeKind.Zeros ? "" : $", global::ModelGen.PaddingMode.{conv.PaddingMode}";
                return $"private static readonly {Kernels}.ConvGeometry {GeometryField(node.Name)} = new({c}, {h}, {width}, {conv.OutChannels}, {axes}, {conv.Groups}{mode});";
            }
            case PositionEmbeddingSpec { Sinusoidal: true } position:
                // Fixed for the model: computed once per process, never per call.
                return $"private static readonly float[] {GeometryField(node.Name)} = {Kernels}.PositionEmbeddingKernels.Sinusoidal({position.MaxLength}, {node.Output[1]});";
            case TransformerSpec tf:
                return $"private static readonly {Kernels}.TransformerGeometry {GeometryField(node.Name)} = new({input[1]}, {tf.Heads}, {tf.FeedForward}, {tf.Layers}, {(tf.NormFirst ? "true" : "false")}, {(tf.Causal ? "true" : "false")}, {Kernels}.FeedForwardActivation.{(tf.Activation == ActivationKind.GELU ? "Gelu" : "ReLU")}{RotaryArgument(tf.Rotary, tf.RotaryBase, input[1] / tf.Heads, maxLength)});";
            case DecoderSpec dec:
                return $"private static readonly {Kernels}.TransformerDecoderGeometry {GeometryField(node.Name)} = new({input[1]}, {dec.Heads}, {dec.FeedForward}, {dec.Layers}, {(dec.NormFirst ? "true" : "false")}, {(dec.Causal ? "true" : "false")}, {Kernels}.FeedForwardActivation.{(dec.Activation == ActivationKind.GELU ? "Gelu" : "ReLU")}, {node.InputShapes[1][1]});";
            case AttentionSpec attention:
                return $"private static readonly {Kernels}.MultiHeadAttentionGeometry {GeometryField(node.Name)} = new({input[1]}, {attention.Heads}, {(node.InputShapes.Count > 1 ? node.InputShapes[1][1] : 0)}, {(attention.Causal ? "true" : "false")}, {(attention.UseBias ? "true" : "false")}{RotaryArgument(attention.Rotary, attention.RotaryBase, input[1] / attention.Heads, maxLength)});";
            case RecurrentSpec rnn:
                return $"private static readonly {Kernels}.RecurrentGeometry {GeometryField(node.Name)} = new({Kernels}.RecurrentCell.{(rnn.IsGru ? "Gru" : "Lstm")}, {input[1]}, {rnn.Hidden}, {rnn.Layers}, {(rnn.Bidirectional ? "true" : "false")}, {(rnn.ReturnSequences ? "true" : "false")});";
            case PoolSpec pool:
            {
                Hw k = pool.Kernel, s = pool.Stride, p = pool.Padding;
                string axes = $"{k.H}, {k.W}, {s.H}, {s.W}, {p.H}, {p.W}";
                // PyTorch's defaults (count_include_pad, no divisor_override) are the geometry's own: written only when changed.
                string average = !pool.IsMax && (!pool.CountIncludePad || pool.DivisorOverride > 0)
                    ? $", {(pool.CountIncludePad ? "true" : "false")}, {pool.DivisorOverride}" : "";
                return $"private static readonly {Kernels}.PoolGeometry {GeometryField(node.Name)} = new({c}, {h}, {w}, {axes}, {(pool.CeilMode ? "true" : "false")}{average});";
            }
            default:
                return null;
        }
    }

    /// <summary>
    /// The <c>channels, spatial</c> arguments of a PReLU kernel call: <c>1, 1</c> for one shared slope (any tensor is a run
    /// of single elements), else the channels and the elements per channel of the example ([F]: F, 1).
    /// </summary>
    public static string PReLUShape(GraphNode node, PReLUSpec prelu) =>
        prelu.NumParameters == 1 ? "1, 1" : $"{node.Output[0]}, {Spatial(node.Output)}";

    /// <summary>Spatial size of a [C, ...] shape (1 for [C]).</summary>
    public static int Spatial(Common.EquatableArray<int> shape) => shape.Skip(1).Aggregate(1, (a, b) => a * b);

    private static string Num(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
