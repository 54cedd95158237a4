// The parsed form of a [Model] class: plain strings, ints, enums and EquatableArrays only.
// Contract for every record in this folder: immutable, structurally equatable, and holding no ISymbol,
// SyntaxNode, Location or Compilation, so the incremental pipeline can cache it across edits.
using ModelGen.Generators.Common;

namespace ModelGen.Generators.Model;

/// <summary>A model class as declared by the user.</summary>
/// <param name="Namespace">Containing namespace, or empty for the global namespace.</param>
/// <param name="ClassName">The class's simple name.</param>
/// <param name="HintName">Unique, file-name-safe name for the generated file.</param>
/// <param name="ContainingTypes">Declarations of enclosing types, outermost first (e.g. <c>partial class Outer</c>).</param>
/// <param name="InputShape">Per-example input shape from <c>[Model(...)]</c>.</param>
/// <param name="Members">Layer members in declaration order.</param>
/// <param name="Problems">Declaration problems found while parsing (the model is invalid if any).</param>
/// <param name="TokenInput">Whether the input was declared as <c>int</c> token ids (<c>InputType = typeof(int)</c>).</param>
/// <param name="MaxLength">The declared bound on the sequence length, 0 when none.</param>
/// <param name="ShapeGeneric">Declared as <c>[Model]</c> without a shape: a block that takes its input shape from each use.</param>
/// <param name="SourceName">The name of the second input declared with <c>[ModelInput]</c>, or empty when there is none.</param>
/// <param name="SourceShape">The second input's per-example shape: [<see cref="SourceSeq"/>] for S token ids, [<see cref="SourceSeq"/>, features] for S float vectors.</param>
internal sealed record ModelSpec(
    string Namespace,
    string ClassName,
    string HintName,
    EquatableArray<string> ContainingTypes,
    EquatableArray<int> InputShape,
    EquatableArray<MemberSpec> Members,
    EquatableArray<ModelProblem> Problems,
    bool TokenInput = false,
    int MaxLength = 0,
    bool ShapeGeneric = false,
    string SourceName = "",
    EquatableArray<int> SourceShape = default)
{
    /// <summary>The symbolic sequence dimension T in shapes (<c>ModelGen.Dim.Seq</c>); only ever the first dimension.</summary>
    public const int Seq = -1;

    /// <summary>The second input's run-time length S in shapes (written <c>Dim.Seq</c> in <c>[ModelInput]</c>, shown as S).</summary>
    public const int SourceSeq = -2;

    /// <summary>Whether the model declares a second input (<c>[ModelInput]</c>).</summary>
    public bool HasSource => SourceName.Length > 0;

    /// <summary>Whether the second input is float vectors [S, features] (differentiable) rather than token ids [S].</summary>
    public bool SourceIsFloat => HasSource && SourceShape.Count == 2;

    /// <summary>Whether the input has the run-time sequence dimension.</summary>
    public bool IsSequence => InputShape.Count > 0 && InputShape[0] == Seq;

    /// <summary>Fully qualified name as blocks refer to it (<c>global::Ns.Outer.Name</c>).</summary>
    public string FullName => "global::" + HintName;
}

/// <summary>A partial property carrying a layer attribute, with what is needed to implement it.</summary>
/// <param name="PropertyName">The C# property name, e.g. <c>Fc1</c>.</param>
/// <param name="Modifiers">Modifiers to repeat on the implementing part, e.g. <c>public</c>.</param>
/// <param name="TypeName">Fully qualified property type.</param>
/// <param name="IsLayerType">Whether the property type is <c>ModelGen.Layer</c>.</param>
/// <param name="Layer">The parsed layer, or null when the attribute could not be parsed.</param>
/// <param name="From">The member whose output this layer reads (<c>&lt;input&gt;</c> for the model input); empty for the previous member.</param>
/// <param name="Documented">The user's declaration has a doc comment of its own (the generated one would replace it).</param>
internal sealed record MemberSpec(string PropertyName, string Modifiers, string TypeName, bool IsLayerType, LayerSpec? Layer, string From = "", bool Documented = false)
{
    /// <summary>The name of the model input in <c>From</c> and merges (mirrors <c>ModelGen.Layer.Input</c>).</summary>
    public const string InputName = "<input>";
}

/// <summary>A problem in the declaration, with where it is in terms of the declaration (no Roslyn locations).</summary>
/// <param name="Id">The MG id.</param>
/// <param name="Member">The property the problem is on; empty for the class (or its [Model] attribute).</param>
/// <param name="Argument">The attribute argument at fault (constructor parameter or named property, e.g. <c>units</c>, <c>P</c>); empty for the whole attribute or member.</param>
/// <param name="Message">The message, in domain terms, without a trailing period.</param>
internal sealed record ModelProblem(string Id, string Member, string Argument, string Message)
{
    /// <summary>A problem with the whole member (or class when <paramref name="member"/> is empty).</summary>
    public ModelProblem(string id, string member, string message) : this(id, member, "", message) { }
}

/// <summary>Activations the generator knows. Values mirror <c>ModelGen.Activation</c> (the attribute enum) exactly.</summary>
internal enum ActivationKind
{
    None = 0,
    ReLU,
    LeakyReLU,
    GELU,
    GELUTanh,
    SiLU,
    Sigmoid,
    Tanh,
    Softmax,
}

/// <summary>Mirrors <c>ModelGen.Init</c>.</summary>
internal enum InitKind
{
    Default = 0,
    HeUniform,
    HeNormal,
    XavierUniform,
    XavierNormal,
    Zeros,
}

/// <summary>A layer; a closed hierarchy that emitters switch over.</summary>
/// <param name="Name">PyTorch-style name derived from the member (snake_case), used in weights and diagnostics.</param>
internal abstract record LayerSpec(string Name)
{
    /// <summary>Kind as users spell it in attributes, e.g. <c>Dense</c>.</summary>
    public abstract string Kind { get; }
}

/// <summary><c>[Dense(units)]</c>.</summary>
internal sealed record DenseSpec(string Name, int Units, ActivationKind Activation, bool UseBias, InitKind Init) : LayerSpec(Name)
{
    public override string Kind => "Dense";
}

/// <summary>A standalone elementwise activation (<c>[ReLU]</c>, <c>[LeakyReLU(0.2)]</c>, <c>[GELU]</c>, ...).</summary>
internal sealed record ActivationSpec(string Name, ActivationKind Activation, double Slope) : LayerSpec(Name)
{
    public override string Kind => Activation switch
    {
        ActivationKind.GELUTanh => "GELU",
        _ => Activation.ToString(),
    };
}

/// <summary><c>[PReLU(numParameters)]</c>: learned slopes, one shared (1) or one per channel; <paramref name="Init"/> is every slope's initial value.</summary>
internal sealed record PReLUSpec(string Name, int NumParameters, double Init) : LayerSpec(Name)
{
    public override string Kind => "PReLU";
}

/// <summary><c>[LogSoftmax]</c>: log-softmax over the last axis (per position on a sequence), as <c>[Softmax]</c>.</summary>
internal sealed record LogSoftmaxSpec(string Name) : LayerSpec(Name)
{
    public override string Kind => "LogSoftmax";
}

/// <summary><c>[Dropout(p)]</c>.</summary>
internal sealed record DropoutSpec(string Name, double P) : LayerSpec(Name)
{
    public override string Kind => "Dropout";
}

/// <summary><c>[Flatten]</c>.</summary>
internal sealed record FlattenSpec(string Name) : LayerSpec(Name)
{
    public override string Kind => "Flatten";
}

/// <summary>
/// A per-axis size (PyTorch's <c>(h, w)</c> tuple) as conv and pooling specs hold them: already resolved from the square
/// argument and its per-axis overrides. A 1-D layer is the case <c>H = 1</c> (kernel, stride, dilation) or <c>H = 0</c> (padding),
/// exactly as <c>ConvGeometry.Conv1D</c> builds its geometry.
/// </summary>
internal readonly record struct Hw(int H, int W)
{
    /// <summary>The same size on both axes.</summary>
    public static Hw Square(int size) => new(size, size);

    /// <summary>The size along spatial axis <paramref name="axis"/> (0-based over the spatial axes) of a rank-<paramref name="rank"/> layer.</summary>
    public int At(int rank, int axis) => rank == 2 && axis == 0 ? H : W;

    /// <summary>As the user would write it: <c>3</c> for 1-D or square, <c>(3, 5)</c> otherwise.</summary>
    public string Show(int rank) => rank == 1 || H == W ? W.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"({H}, {W})";

    /// <summary>In parentheses: <c>(3)</c> for 1-D or square, <c>(3, 5)</c> otherwise.</summary>
    public string Paren(int rank) => rank == 1 || H == W ? $"({W})" : Show(rank);

    /// <summary><c>3x3</c> or <c>3x5</c> for 2-D, <c>3</c> for 1-D (summaries and comments).</summary>
    public string Window(int rank) => rank == 2 ? $"{H}x{W}" : W.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>How a convolution pads its input (PyTorch's <c>padding_mode</c>); mirrors the runtime's <c>ModelGen.PaddingMode</c>.</summary>
internal enum PaddingModeKind
{
    /// <summary>Zeros outside the input (PyTorch <c>'zeros'</c>).</summary>
    Zeros,
    /// <summary>Mirror without repeating the edge (PyTorch <c>'reflect'</c>).</summary>
    Reflect,
    /// <summary>Repeat the edge value (PyTorch <c>'replicate'</c>).</summary>
    Replicate,
    /// <summary>Wrap around (PyTorch <c>'circular'</c>).</summary>
    Circular,
}

/// <summary><c>[Conv1D]</c> (Rank 1) or <c>[Conv2D]</c> (Rank 2). Kernel/stride/padding/dilation per spatial axis (see <see cref="Hw"/>).</summary>
/// <param name="KeepChannels">Written without output channels: as many as the input has (resolved per node by shape inference).</param>
/// <param name="PaddingMode">How the padding is filled (PyTorch's <c>padding_mode</c>).</param>
internal sealed record ConvSpec(string Name, int Rank, int OutChannels, Hw Kernel, Hw Stride, Hw Padding, bool Same, Hw Dilation, int Groups,
    ActivationKind Activation, bool UseBias, InitKind Init, bool KeepChannels = false, PaddingModeKind PaddingMode = PaddingModeKind.Zeros) : LayerSpec(Name)
{
    public override string Kind => Rank == 1 ? "Conv1D" : "Conv2D";

    /// <summary>The padding actually applied per axis: <see cref="Padding"/>, or half the dilated kernel with <see cref="Same"/>.</summary>
    public Hw EffectivePadding => Same ? new Hw(Dilation.H * (Kernel.H - 1) / 2, Dilation.W * (Kernel.W - 1) / 2) : Padding;
}

/// <summary><c>[MaxPool1D/2D]</c>, <c>[AvgPool1D/2D]</c>, with the stride already resolved (the kernel when not given).</summary>
/// <param name="CountIncludePad">Average pooling: whether padded zeros count in the divisor (PyTorch <c>count_include_pad</c>).</param>
/// <param name="DivisorOverride">Average pooling: the divisor of every window, 0 for none (PyTorch <c>divisor_override</c>).</param>
internal sealed record PoolSpec(string Name, int Rank, bool IsMax, Hw Kernel, Hw Stride, Hw Padding, bool CeilMode,
    bool CountIncludePad = true, int DivisorOverride = 0) : LayerSpec(Name)
{
    public override string Kind => (IsMax ? "MaxPool" : "AvgPool") + Rank + "D";
}

/// <summary><c>[GlobalAvgPool]</c> / <c>[GlobalMaxPool]</c>.</summary>
internal sealed record GlobalPoolSpec(string Name, bool IsMax) : LayerSpec(Name)
{
    public override string Kind => IsMax ? "GlobalMaxPool" : "GlobalAvgPool";
}

/// <summary><c>[AdaptiveAvgPool2D(h, w)]</c>.</summary>
internal sealed record AdaptiveAvgPoolSpec(string Name, int Height, int Width) : LayerSpec(Name)
{
    public override string Kind => "AdaptiveAvgPool2D";
}

/// <summary><c>[BatchNorm1D]</c> / <c>[BatchNorm2D]</c>.</summary>
internal sealed record BatchNormSpec(string Name, int Rank, double Eps, double? Momentum, bool Affine) : LayerSpec(Name)
{
    public override string Kind => Rank == 1 ? "BatchNorm1D" : "BatchNorm2D";
}

/// <summary><c>[GroupNorm(groups)]</c>: per-example statistics over groups of consecutive channels.</summary>
internal sealed record GroupNormSpec(string Name, int Groups, double Eps, bool Affine) : LayerSpec(Name)
{
    public override string Kind => "GroupNorm";
}

/// <summary><c>[InstanceNorm1D]</c> / <c>[InstanceNorm2D]</c>: per-example, per-channel statistics (optionally tracked as running statistics).</summary>
internal sealed record InstanceNormSpec(string Name, int Rank, double Eps, double Momentum, bool Affine, bool TrackRunningStats) : LayerSpec(Name)
{
    public override string Kind => Rank == 1 ? "InstanceNorm1D" : "InstanceNorm2D";
}

/// <summary><c>[Add(...)]</c> or <c>[Concat(...)]</c> over named members (<see cref="MemberSpec.InputName"/> for the input).</summary>
internal sealed record MergeSpec(string Name, bool IsConcat, EquatableArray<string> Inputs) : LayerSpec(Name)
{
    public override string Kind => IsConcat ? "Concat" : "Add";
}

/// <summary>A member whose type is another [Model] class, applied as a block (optionally residual).</summary>
/// <param name="TypeName">Fully qualified name of the block's model class (resolved when planning).</param>
/// <param name="ShapeGeneric">Whether that class declares no input shape (<c>[Model]</c> alone): it is specialised at this use.</param>
internal sealed record BlockSpec(string Name, string TypeName, string ClassName, bool Residual, bool Projection, bool ShapeGeneric = false) : LayerSpec(Name)
{
    public override string Kind => ClassName;
}

/// <summary><c>[Embedding(vocab, dim)]</c>; <paramref name="PaddingIdx"/> is -1 for none; <paramref name="Column"/> picks one id of each position.</summary>
internal sealed record EmbeddingSpec(string Name, int Vocab, int Dim, int PaddingIdx, int Column = 0) : LayerSpec(Name)
{
    public override string Kind => "Embedding";
}

/// <summary><c>[LSTM(hidden)]</c> or <c>[GRU(hidden)]</c>.</summary>
internal sealed record RecurrentSpec(string Name, bool IsGru, int Hidden, int Layers, bool Bidirectional, bool ReturnSequences, double Dropout) : LayerSpec(Name)
{
    public override string Kind => IsGru ? "GRU" : "LSTM";

    /// <summary>Gate rows per hidden unit: 4 (i, f, g, o) or 3 (r, z, n).</summary>
    public int Gates => IsGru ? 3 : 4;

    public int Directions => Bidirectional ? 2 : 1;
}

/// <summary><c>[Permute(dims)]</c>: the output's axis k is the input's axis <c>Dims[k]</c> (per example, batch excluded).</summary>
internal sealed record PermuteSpec(string Name, EquatableArray<int> Dims) : LayerSpec(Name)
{
    public override string Kind => "Permute";
}

/// <summary><c>[LayerNorm]</c> over the last axis.</summary>
internal sealed record LayerNormSpec(string Name, double Eps, bool Affine) : LayerSpec(Name)
{
    public override string Kind => "LayerNorm";
}

/// <summary><c>[PositionEmbedding(maxLength)]</c>: a learned table, or the fixed sinusoidal encoding.</summary>
internal sealed record PositionEmbeddingSpec(string Name, int MaxLength, bool Sinusoidal) : LayerSpec(Name)
{
    public override string Kind => "PositionEmbedding";
}

/// <summary>
/// <c>[TransformerEncoder]</c>: a stack of <paramref name="Layers"/> encoder layers over [T, d] (with RoPE on q and k when
/// <paramref name="Rotary"/>). <paramref name="FeedForwardDropout"/> is the attribute's value as written (negative: the same
/// as <paramref name="Dropout"/>); <see cref="InnerDropout"/> resolves it. <paramref name="AttentionDropout"/> likewise, resolved by
/// <see cref="WeightDropout"/>.
/// </summary>
internal sealed record TransformerSpec(string Name, int Heads, int FeedForward, int Layers, bool NormFirst, bool Causal, double Dropout, ActivationKind Activation,
    bool Rotary = false, double RotaryBase = 10000, double FeedForwardDropout = -1, double AttentionDropout = -1)
    : LayerSpec(Name)
{
    public override string Kind => "TransformerEncoder";

    /// <summary>The dropout probability after the feed-forward activation.</summary>
    public double InnerDropout => FeedForwardDropout < 0 ? Dropout : FeedForwardDropout;

    /// <summary>The dropout probability on the attention weights.</summary>
    public double WeightDropout => AttentionDropout < 0 ? Dropout : AttentionDropout;
}

/// <summary><c>[TransformerDecoder]</c>: a stack of <paramref name="Layers"/> decoder layers over [T, d] with cross-attention over the member <paramref name="Memory"/>.</summary>
internal sealed record DecoderSpec(string Name, int Heads, int FeedForward, int Layers, bool NormFirst, bool Causal, double Dropout, ActivationKind Activation,
    string Memory, double AttentionDropout = -1)
    : LayerSpec(Name)
{
    public override string Kind => "TransformerDecoder";

    /// <summary>The dropout probability on the weights of both attention blocks (<paramref name="AttentionDropout"/> as written, negative: <paramref name="Dropout"/>).</summary>
    public double WeightDropout => AttentionDropout < 0 ? Dropout : AttentionDropout;
}

/// <summary>
/// <c>[MultiHeadAttention(heads)]</c>: one attention layer over [T, d]; <paramref name="Memory"/> names the member giving keys and values
/// (empty: self-attention); with <paramref name="Rotary"/>, RoPE on q and k; <paramref name="Dropout"/> drops attention weights in training.
/// </summary>
internal sealed record AttentionSpec(string Name, int Heads, bool Causal, bool UseBias, string Memory, bool Rotary = false, double RotaryBase = 10000,
    double Dropout = 0) : LayerSpec(Name)
{
    public override string Kind => "MultiHeadAttention";
}
