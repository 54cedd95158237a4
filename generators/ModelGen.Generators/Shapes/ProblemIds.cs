// Ids of every problem the Roslyn-free layers (parsing, shape inference) can find. The analyzers report these
// same ids, and the generator names them in the throwing stubs it emits for an invalid model, so a user sees
// one id everywhere. Ids are never reused; ranges: MG00xx declaration misuse, MG01xx shape and hyper-parameter errors,
// MG02xx architecture warnings (ArchitectureLints).
namespace ModelGen.Generators.Shapes;

internal static class ProblemIds
{
    /// <summary>
    /// Not a ModelGen diagnostic: the C# compiler already reports an error in the declaration (a syntax error in a
    /// layer attribute's arguments, no matching constructor, an argument of the wrong type, a duplicate member). The
    /// analyzer stays silent, so the user sees the compiler's error alone; the generator still emits throwing stubs.
    /// </summary>
    public const string CompilerReported = "CS";
    /// <summary>The generator failed on a model (a ModelGen bug); the model gets throwing stubs naming it.</summary>
    public const string InternalError = "MG0098";
    /// <summary>The [Model] class is not partial.</summary>
    public const string ClassNotPartial = "MG0001";
    /// <summary>The [Model] class is generic or nested in a type that is not partial.</summary>
    public const string UnsupportedClassForm = "MG0002";
    /// <summary>A layer attribute sits on something other than a partial property.</summary>
    public const string LayerMemberNotPartialProperty = "MG0003";
    /// <summary>A layer property's type is not ModelGen.Layer.</summary>
    public const string LayerMemberWrongType = "MG0004";
    /// <summary>More than one layer attribute on one member.</summary>
    public const string MultipleLayerAttributes = "MG0005";
    /// <summary>The input shape is empty or has a non-positive dimension.</summary>
    public const string InvalidInputShape = "MG0006";
    /// <summary>The model declares no layers.</summary>
    public const string NoLayers = "MG0007";
    /// <summary>Two layers map to the same weight name.</summary>
    public const string DuplicateLayerName = "MG0008";
    /// <summary>A layer attribute's arguments could not be bound (half-typed code, wrong argument types).</summary>
    public const string UnboundAttribute = "MG0009";
    /// <summary>A model contains itself, directly or through its blocks.</summary>
    public const string BlockContainsItself = "MG0010";
    /// <summary>A <c>From</c> or merge input names a member that does not exist or comes later.</summary>
    public const string UnknownSource = "MG0011";
    /// <summary>A block's model class is invalid or not declared in this compilation.</summary>
    public const string InvalidBlock = "MG0012";
    /// <summary>A hyper-parameter is out of its valid range (units &lt;= 0, dropout p outside [0, 1), ...).</summary>
    public const string InvalidHyperParameter = "MG0100";
    /// <summary>A layer that needs a flat input receives a multi-dimensional one.</summary>
    public const string ExpectsFlatInput = "MG0101";
    /// <summary>A block's declared input shape differs from what it receives.</summary>
    public const string BlockInputMismatch = "MG0102";
    /// <summary>A residual block changes the shape and has no projection (or the projection cannot match it).</summary>
    public const string ResidualShapeMismatch = "MG0103";
    /// <summary>A kernel or window is larger than its (padded) input, so the output would be empty.</summary>
    public const string KernelLargerThanInput = "MG0104";
    /// <summary>A layer receives an input of the wrong rank (e.g. Conv2D on a flat vector).</summary>
    public const string RankMismatch = "MG0105";
    /// <summary>A merge combines inputs whose shapes do not fit together.</summary>
    public const string MergeShapeMismatch = "MG0106";
    /// <summary>A layer that runs over time (LSTM, GRU) receives a tensor without the sequence dimension.</summary>
    public const string ExpectsSequence = "MG0107";
    /// <summary>A layer that works only on fixed-size tensors receives a sequence [T, ...].</summary>
    public const string SequenceNotSupported = "MG0108";
    /// <summary>Token ids reach a layer other than Embedding, or an Embedding reads floats.</summary>
    public const string ExpectsTokenIds = "MG0109";
    /// <summary>The model's MaxLength exceeds the positions a position table holds.</summary>
    public const string SequenceLongerThanPositions = "MG0110";
    /// <summary>Attention heads that do not divide the model width.</summary>
    public const string HeadsDoNotDivideWidth = "MG0111";
    /// <summary>A tensor, the parameter buffer or the per-example activations exceed what one .NET array holds.</summary>
    public const string ModelTooLarge = "MG0112";
    /// <summary>A Permute's dims are not a permutation of its input's axes.</summary>
    public const string InvalidPermutation = "MG0113";
    /// <summary>A layer over the run-time length T of a [C, T] tensor would change that length (stride, padding).</summary>
    public const string SequenceLengthChanged = "MG0114";
    /// <summary>Rotary position embeddings on attention heads of an odd width.</summary>
    public const string RotaryOddHeadWidth = "MG0115";
    /// <summary>A <c>[ModelInput]</c> that is malformed or does not fit the model (a second input must be S token ids of a sequence model).</summary>
    public const string InvalidModelInput = "MG0116";
    /// <summary>A layer that cannot run on the second input's length S, or mixes S and T where only one fits.</summary>
    public const string SourceSequenceMisused = "MG0117";
    /// <summary>GroupNorm groups that do not divide the input's channels.</summary>
    public const string GroupsDoNotDivideChannels = "MG0120";
    /// <summary>A PReLU whose slope count is neither 1 nor the input's channels.</summary>
    public const string PReLUSlopeCount = "MG0121";
    /// <summary>Instance normalisation over a single value per channel (PyTorch refuses it in training).</summary>
    public const string SinglePositionInstanceNorm = "MG0122";
    /// <summary>A convolution's padding is too large for its PaddingMode (Reflect: not smaller than the input; Circular: larger).</summary>
    public const string PaddingTooLargeForMode = "MG0130";

    // Architecture warnings (Shapes/ArchitectureLints.cs): legal models that are almost certainly wrong.

    /// <summary>Softmax or Sigmoid applied to an output that already went through the same function.</summary>
    public const string RepeatedSquashing = "MG0201";
    /// <summary>The model ends in Softmax, which Loss.CrossEntropy (taking logits) applies again.</summary>
    public const string SoftmaxOutput = "MG0202";
    /// <summary>Dropout is the last layer.</summary>
    public const string DropoutLast = "MG0203";
    /// <summary>More than ten parameterised layers with no normalisation or residual connection.</summary>
    public const string DeepPlainStack = "MG0204";
    /// <summary>Sigmoid or Tanh as a hidden activation of a deep stack.</summary>
    public const string SaturatingHiddenActivation = "MG0205";
    /// <summary>An initialiser that does not suit the activation that follows (Xavier before ReLU, He before Tanh/Sigmoid).</summary>
    public const string InitActivationMismatch = "MG0206";
    /// <summary>A Conv/Dense bias directly followed by BatchNorm, which cancels it.</summary>
    public const string BiasBeforeNormalisation = "MG0207";
}
