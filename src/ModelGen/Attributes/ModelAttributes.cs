// The attribute vocabulary users write. Spellings are public API (DESIGN.md); the generator reads them by
// metadata name, so renaming anything here is a breaking change for every user model.
namespace ModelGen;

/// <summary>Marks a <c>partial class</c> as a neural network; the source generator emits its forward and backward code.</summary>
/// <remarks>Members carrying a layer attribute are applied in declaration order.</remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModelAttribute : Attribute
{
    /// <summary>Declares a model with the given per-example input shape (the batch is the leading run-time dimension).</summary>
    /// <param name="inputShape">Dimensions of one example, batch excluded (e.g. <c>1, 28, 28</c>); a sequence model starts with <see cref="Dim.Seq"/>.</param>
    public ModelAttribute(params int[] inputShape) => InputShape = inputShape;

    /// <summary>
    /// The per-example input shape, e.g. <c>(1, 28, 28)</c> or <c>(784)</c>; a sequence model starts it with
    /// <see cref="Dim.Seq"/>, e.g. <c>(Dim.Seq, 32)</c> for [T, 32] or <c>(Dim.Seq)</c> for [T] token ids.
    /// </summary>
    public int[] InputShape { get; }

    /// <summary>
    /// The input's element type: <c>typeof(float)</c> (default) or <c>typeof(int)</c> for token ids, which a model
    /// whose first layer is <see cref="EmbeddingAttribute"/> reads (inferred from that layer when not set).
    /// </summary>
    public Type? InputType { get; set; }

    /// <summary>An optional upper bound on the run-time sequence length (0: none).</summary>
    public int MaxLength { get; set; }
}

/// <summary>
/// Declares a second model input with its own run-time length S and per-example lengths, e.g. the source tokens of an
/// encoder-decoder: <c>[ModelInput("Source", Dim.Seq, InputType = typeof(int))]</c> next to <c>[Model(Dim.Seq, ...)]</c>.
/// Layers read it by its name (<c>From = "Source"</c>); a <see cref="TransformerDecoderAttribute"/> or
/// <see cref="MultiHeadAttentionAttribute"/> attends over what is computed from it with <c>Memory = nameof(...)</c>.
/// </summary>
/// <remarks>
/// The generated <c>Forward</c>, <c>ForwardTrain</c> and <c>Backward</c> then take the second input as <c>source</c>, its padded
/// length <c>sourceSeq</c> and its real lengths <c>sourceLengths</c> (keys past them are masked in cross-attention). Two kinds:
/// token ids, <c>[ModelInput("Source", Dim.Seq, InputType = typeof(int))]</c> (<c>source</c> is <c>ReadOnlySpan&lt;int&gt;</c>
/// <c>[batch, sourceSeq]</c>, read by an <see cref="EmbeddingAttribute"/>); or feature vectors,
/// <c>[ModelInput("Source", Dim.Seq, 16)]</c> (<c>source</c> is <c>ReadOnlySpan&lt;float&gt;</c> <c>[batch, sourceSeq, 16]</c>, e.g.
/// audio frames or image patches, as PyTorch's memory is any float tensor), which layers read directly, cross-attention
/// included (<c>Memory = "Source"</c>), and whose gradient <c>Backward</c> returns in <c>dSource</c> when asked. The layers over
/// S work per position or within S (Embedding, PositionEmbedding, TransformerEncoder, MultiHeadAttention, LayerNorm, Dense,
/// Dropout, activations); S meets the model's T only as the Memory of cross-attention.
/// </remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModelInputAttribute : Attribute
{
    /// <summary>Declares the second input <paramref name="name"/> with the per-example shape <paramref name="shape"/>.</summary>
    /// <param name="name">The name layers use in <c>From</c> (a string constant; it must not be a member's name).</param>
    /// <param name="shape">Dimensions of one example, batch excluded: <c>Dim.Seq</c> for S token ids, or <c>Dim.Seq, features</c>
    /// for S float vectors of <c>features</c> each.</param>
    public ModelInputAttribute(string name, params int[] shape)
    {
        Name = name;
        Shape = shape;
    }

    /// <summary>The input's name, as layers refer to it.</summary>
    public string Name { get; }

    /// <summary>The per-example shape (<c>Dim.Seq</c>: S token ids; <c>Dim.Seq, features</c>: S float vectors).</summary>
    public int[] Shape { get; }

    /// <summary>The element type: <c>typeof(int)</c> for token ids (shape <c>Dim.Seq</c>); <c>typeof(float)</c> or unset for feature
    /// vectors (shape <c>Dim.Seq, features</c>).</summary>
    public Type? InputType { get; set; }
}

/// <summary>Symbolic dimensions of a model's input shape.</summary>
public static class Dim
{
    /// <summary>
    /// The run-time sequence length T, fixed per call (every example of a batch has the same padded length; real
    /// lengths are a call argument). Only the first input dimension may be <c>Seq</c>. Write <c>using static
    /// ModelGen.Dim;</c> to spell it <c>[Model(Seq, 32)]</c>.
    /// </summary>
    public const int Seq = -1;
}

/// <summary>Base class of every layer attribute.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public abstract class LayerAttribute : Attribute
{
    /// <summary>
    /// The member whose output this layer reads (<c>nameof(Other)</c>), or <see cref="Layer.Input"/> for the model's
    /// input. Default: the previous member. Merge layers (<see cref="AddAttribute"/>, <see cref="ConcatAttribute"/>) name theirs in the constructor.
    /// </summary>
    public string? From { get; set; }
}

/// <summary>Fully connected layer: <c>y = act(x · Wᵀ + b)</c> with <c>weight</c> of shape [units, in] as in PyTorch's <c>nn.Linear</c>.</summary>
public sealed class DenseAttribute : LayerAttribute
{
    /// <summary>Declares a dense layer with <paramref name="units"/> outputs.</summary>
    /// <param name="units">Output features (PyTorch <c>out_features</c>); the input features come from the previous layer.</param>
    public DenseAttribute(int units) => Units = units;

    /// <summary>Number of output features.</summary>
    public int Units { get; }

    /// <summary>Activation fused into the layer's epilogue (default: none).</summary>
    public Activation Activation { get; set; }

    /// <summary>Whether the layer has a bias (default: true).</summary>
    public bool UseBias { get; set; } = true;

    /// <summary>How the weight is initialised (default: PyTorch's <c>nn.Linear</c> initialisation).</summary>
    public Init Init { get; set; }
}

/// <summary>Flattens each example to one dimension.</summary>
public sealed class FlattenAttribute : LayerAttribute { }

/// <summary>Inverted dropout: during training zeroes each element with probability <see cref="P"/> and scales the rest by 1/(1-p); identity at inference.</summary>
public sealed class DropoutAttribute : LayerAttribute
{
    /// <summary>Declares dropout with drop probability <paramref name="p"/> in [0, 1).</summary>
    /// <param name="p">Probability of zeroing each element in training, in [0, 1); survivors are scaled by 1/(1 − p).</param>
    public DropoutAttribute(double p) => P = p;

    /// <summary>The probability of zeroing an element.</summary>
    public double P { get; }
}

/// <summary>Standalone ReLU: <c>max(x, 0)</c>.</summary>
public sealed class ReLUAttribute : LayerAttribute { }

/// <summary>Standalone LeakyReLU: <c>x</c> for x &gt; 0, else <c>slope · x</c>.</summary>
public sealed class LeakyReLUAttribute : LayerAttribute
{
    /// <summary>Declares a LeakyReLU with the given negative slope (PyTorch's default is 0.01).</summary>
    /// <param name="slope">Slope for negative inputs (PyTorch <c>negative_slope</c>, default 0.01).</param>
    public LeakyReLUAttribute(double slope = 0.01) => Slope = slope;

    /// <summary>Slope for negative inputs.</summary>
    public double Slope { get; }
}

/// <summary>
/// Parametric ReLU (PyTorch <c>nn.PReLU</c>): <c>x</c> for x &gt; 0, else <c>weight[c] · x</c>, with learned slopes
/// <c>weight</c> [numParameters]: one slope shared by every element, or one per channel (the channel axis C of [C, ...],
/// or each feature of [F], as PyTorch's dim 1).
/// </summary>
public sealed class PReLUAttribute : LayerAttribute
{
    /// <summary>Declares a PReLU with <paramref name="numParameters"/> learned slopes.</summary>
    /// <param name="numParameters">Number of slopes (PyTorch <c>num_parameters</c>, default 1): 1, or the input's channels (features of a flat input).</param>
    public PReLUAttribute(int numParameters = 1) => NumParameters = numParameters;

    /// <summary>Number of learned slopes: 1 or the number of channels.</summary>
    public int NumParameters { get; }

    /// <summary>Initial value of every slope (PyTorch <c>init</c>, default 0.25).</summary>
    public double Init { get; set; } = 0.25;
}

/// <summary>Standalone GELU: exact <c>x · Φ(x)</c>, or the tanh approximation when <see cref="Approximate"/> is set.</summary>
public sealed class GELUAttribute : LayerAttribute
{
    /// <summary>Use the tanh approximation (PyTorch's <c>approximate='tanh'</c>).</summary>
    public bool Approximate { get; set; }
}

/// <summary>Standalone SiLU (swish): <c>x · sigmoid(x)</c>.</summary>
public sealed class SiLUAttribute : LayerAttribute { }

/// <summary>Standalone logistic sigmoid.</summary>
public sealed class SigmoidAttribute : LayerAttribute { }

/// <summary>Standalone hyperbolic tangent.</summary>
public sealed class TanhAttribute : LayerAttribute { }

/// <summary>Softmax over the features of each example (the last dimension).</summary>
public sealed class SoftmaxAttribute : LayerAttribute { }

/// <summary>
/// Log-softmax over the features of each example (the last dimension), as PyTorch's <c>nn.LogSoftmax(dim=-1)</c>:
/// <c>y[j] = (x[j] − max) − log Σ_k exp(x[k] − max)</c>. On a sequence [T, features] it runs per position.
/// </summary>
public sealed class LogSoftmaxAttribute : LayerAttribute { }

/// <summary>Activations that can be fused into a parameterised layer's epilogue.</summary>
public enum Activation
{
    /// <summary>No activation (identity).</summary>
    None = 0,
    /// <summary><c>max(x, 0)</c>.</summary>
    ReLU,
    /// <summary>LeakyReLU with PyTorch's default slope 0.01.</summary>
    LeakyReLU,
    /// <summary>Exact GELU, <c>x · Φ(x)</c> with the erf.</summary>
    GELU,
    /// <summary>GELU with the tanh approximation.</summary>
    GELUTanh,
    /// <summary><c>x · sigmoid(x)</c>.</summary>
    SiLU,
    /// <summary>Logistic sigmoid.</summary>
    Sigmoid,
    /// <summary>Hyperbolic tangent.</summary>
    Tanh,
    /// <summary>Softmax over the layer's outputs (applied after the layer, per example).</summary>
    Softmax,
}

/// <summary>Weight initialisation schemes. Biases follow PyTorch: U(±1/√fan_in) for <see cref="Default"/>, zero otherwise.</summary>
public enum Init
{
    /// <summary>PyTorch's default for the layer (for Linear: kaiming_uniform with a=√5, i.e. U(±1/√fan_in)).</summary>
    Default = 0,
    /// <summary>He/Kaiming uniform for ReLU: U(±√(6/fan_in)).</summary>
    HeUniform,
    /// <summary>He/Kaiming normal for ReLU: N(0, 2/fan_in).</summary>
    HeNormal,
    /// <summary>Xavier/Glorot uniform: U(±√(6/(fan_in+fan_out))).</summary>
    XavierUniform,
    /// <summary>Xavier/Glorot normal: N(0, 2/(fan_in+fan_out)).</summary>
    XavierNormal,
    /// <summary>All zeros.</summary>
    Zeros,
}
