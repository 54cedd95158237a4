// The one catalogue of every diagnostic ModelGen reports. Ids come from Shapes/ProblemIds.cs (the Roslyn-free
// layers produce problems under those ids; this file only gives them a title, category and severity), are never
// reused, and every rule is tracked in AnalyzerReleases.Shipped.md / Unshipped.md (RS2000-series analyzers check it).
// Ranges: MG00xx declaration misuse, MG01xx shape and hyper-parameter errors, MG02xx architecture warnings
// (MG0010–MG0019 and MG0102–MG0149 are reserved for convolution and composition).
// Errors are NotConfigurable: for an invalid model the generator emits throwing stubs, so silencing the error
// would only move it to run time.
using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using ModelGen.Generators.Shapes;

namespace ModelGen.Generators.Diagnostics;

/// <summary>Descriptors for every <c>MG####</c> id, looked up by id.</summary>
internal static class DiagnosticDescriptors
{
    /// <summary>Category of declaration misuse (MG00xx).</summary>
    public const string DeclarationCategory = "ModelGen.Declaration";
    /// <summary>Category of shape and hyper-parameter errors (MG01xx).</summary>
    public const string ShapeCategory = "ModelGen.Shape";
    /// <summary>Category of legal but almost certainly wrong architectures (MG02xx).</summary>
    public const string ArchitectureCategory = "ModelGen.Architecture";

    /// <summary>
    /// Where the help pages are, one per id. The package ships them at its root (<c>docs/diagnostics/</c>, three folders
    /// above the analyzer in <c>analyzers/dotnet/cs/</c>), so an analyzer loaded from the package links to the page
    /// there as a <c>file:</c> URI that opens offline; loaded from anywhere else (the repository's build output, a
    /// host's shadow copy) the link is the page's path in the repository. Messages are complete without the page.
    /// </summary>
    public static readonly string HelpLinkBase = HelpLinkBaseFor(typeof(DiagnosticDescriptors).Assembly.Location);

    /// <summary>The help-page folder for an analyzer assembly at <paramref name="analyzerPath"/> (see <see cref="HelpLinkBase"/>).</summary>
    internal static string HelpLinkBaseFor(string? analyzerPath)
    {
        const string InPackage = "/analyzers/dotnet/cs/ModelGen.Generators.dll";
        string path = (analyzerPath ?? "").Replace('\\', '/');
        if (!path.EndsWith(InPackage, StringComparison.OrdinalIgnoreCase) || path.Length == InPackage.Length) return RepositoryHelpLinkBase;
        string root = path.Substring(0, path.Length - InPackage.Length);
        return Uri.TryCreate(root + "/docs/diagnostics/", UriKind.Absolute, out var uri) && uri.IsFile ? uri.AbsoluteUri : RepositoryHelpLinkBase;
    }

    /// <summary>The help pages' folder relative to the repository root.</summary>
    public const string RepositoryHelpLinkBase = "docs/diagnostics/";

    /// <summary>
    /// Reported for a problem whose id has no descriptor here (a newer Shapes layer than this catalogue). Exists so
    /// that such a mismatch degrades to a clear error instead of the analyzer crashing (AD0001); a test keeps every
    /// id of <see cref="ProblemIds"/> covered, so users should never see it.
    /// </summary>
    public const string UncataloguedProblemId = "MG0099";

    // Messages are the problem's own text ("{0}"): the Roslyn-free layers phrase them in domain terms, naming the
    // layer, what it expected and what it got, so the analyzer and the generator's stubs say the same thing.

    /// <summary>MG0001: "Model class '{class}' must be declared partial so ModelGen can generate its code".</summary>
    public static readonly DiagnosticDescriptor ClassNotPartial = new(
        ProblemIds.ClassNotPartial, "Model class must be partial", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.ClassNotPartial + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0002: "Model class '{class}' must not be generic" / "... is nested in '{outer}', which must be a non-generic partial type".</summary>
    public static readonly DiagnosticDescriptor UnsupportedClassForm = new(
        ProblemIds.UnsupportedClassForm, "Model class has an unsupported form", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.UnsupportedClassForm + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0003: "Layer member '{member}' must be a partial property, e.g. 'public partial Layer {member} { get; }'".</summary>
    public static readonly DiagnosticDescriptor LayerMemberNotPartialProperty = new(
        ProblemIds.LayerMemberNotPartialProperty, "Layer member must be a get-only partial property", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.LayerMemberNotPartialProperty + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0004: "Layer member '{member}' has type '{type}'; layer properties must have type ModelGen.Layer".</summary>
    public static readonly DiagnosticDescriptor LayerMemberWrongType = new(
        ProblemIds.LayerMemberWrongType, "Layer property must have type ModelGen.Layer", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.LayerMemberWrongType + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0005: "Layer member '{member}' has {n} layer attributes ({names}); a member is exactly one layer".</summary>
    public static readonly DiagnosticDescriptor MultipleLayerAttributes = new(
        ProblemIds.MultipleLayerAttributes, "A member carries more than one layer attribute", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.MultipleLayerAttributes + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0006: "Model '{class}' has input shape {shape}; every dimension must be positive and at least one is required".</summary>
    public static readonly DiagnosticDescriptor InvalidInputShape = new(
        ProblemIds.InvalidInputShape, "Model input shape is invalid", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.InvalidInputShape + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0007: "Model '{class}' declares no layers".</summary>
    public static readonly DiagnosticDescriptor NoLayers = new(
        ProblemIds.NoLayers, "Model declares no layers", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.NoLayers + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0008: "Layer '{member}' has the weight name '{name}', which another layer already uses".</summary>
    public static readonly DiagnosticDescriptor DuplicateLayerName = new(
        ProblemIds.DuplicateLayerName, "Two layers have the same weight name", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.DuplicateLayerName + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0009: "The [{kind}] attribute on '{member}' has arguments that do not match any of its constructors" and similar.</summary>
    public static readonly DiagnosticDescriptor UnboundAttribute = new(
        ProblemIds.UnboundAttribute, "Attribute arguments cannot be read", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.UnboundAttribute + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0098: "ModelGen could not generate '{class}' ({exception}); this is a ModelGen bug, please report it".</summary>
    public static readonly DiagnosticDescriptor InternalError = new(
        ProblemIds.InternalError, "ModelGen failed on this model", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.InternalError + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0099: "ModelGen problem {id}: {message}" (see <see cref="UncataloguedProblemId"/>).</summary>
    public static readonly DiagnosticDescriptor Uncatalogued = new(
        UncataloguedProblemId, "Model problem without a catalogued diagnostic", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + UncataloguedProblemId + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0100: "Dense '{layer}' has {units} units; units must be positive" and other out-of-range hyper-parameters.</summary>
    public static readonly DiagnosticDescriptor InvalidHyperParameter = new(
        ProblemIds.InvalidHyperParameter, "Layer hyper-parameter is out of range", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.InvalidHyperParameter + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0101: "Dense '{layer}' expects a flat input but receives {shape} from {source}; add [Flatten] before it".</summary>
    public static readonly DiagnosticDescriptor ExpectsFlatInput = new(
        ProblemIds.ExpectsFlatInput, "Layer expects a flat input", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.ExpectsFlatInput + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0010: "Block '{block}' makes '{class}' contain itself ({path})".</summary>
    public static readonly DiagnosticDescriptor BlockContainsItself = new(
        ProblemIds.BlockContainsItself, "Model contains itself", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.BlockContainsItself + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0011: "{kind} '{layer}' reads '{name}', which is not a layer of '{class}' / is declared after it".</summary>
    public static readonly DiagnosticDescriptor UnknownSource = new(
        ProblemIds.UnknownSource, "Layer reads an unknown or later member", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.UnknownSource + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0012: "Block '{block}' uses '{class}', which is invalid: {first problem}".</summary>
    public static readonly DiagnosticDescriptor InvalidBlock = new(
        ProblemIds.InvalidBlock, "Block model is invalid or unknown", "{0}", DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.InvalidBlock + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0102: "Block '{block}' ({class}) expects input {shape} but receives {shape} from {source}".</summary>
    public static readonly DiagnosticDescriptor BlockInputMismatch = new(
        ProblemIds.BlockInputMismatch, "Block receives the wrong input shape", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.BlockInputMismatch + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0103: "Residual '{block}' adds the output {shape} of '{class}' to its input {shape}; set Projection = true".</summary>
    public static readonly DiagnosticDescriptor ResidualShapeMismatch = new(
        ProblemIds.ResidualShapeMismatch, "Residual block changes the shape", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.ResidualShapeMismatch + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0104: "Conv2D '{layer}' kernel {k} is larger than its padded input {h}x{w}".</summary>
    public static readonly DiagnosticDescriptor KernelLargerThanInput = new(
        ProblemIds.KernelLargerThanInput, "Kernel is larger than its input", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.KernelLargerThanInput + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0105: "Conv2D '{layer}' expects input [channels, height, width] but receives {shape} from {source}".</summary>
    public static readonly DiagnosticDescriptor RankMismatch = new(
        ProblemIds.RankMismatch, "Layer receives an input of the wrong rank", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.RankMismatch + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0106: "Add '{layer}' combines {shape} from {source} with {shape} from {source}".</summary>
    public static readonly DiagnosticDescriptor MergeShapeMismatch = new(
        ProblemIds.MergeShapeMismatch, "Merged inputs have mismatched shapes", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.MergeShapeMismatch + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0107: "{kind} '{layer}' expects a sequence [T, features] but receives {shape} from {source}" (LSTM, GRU, attention; or an attention Memory that is not a sequence).</summary>
    public static readonly DiagnosticDescriptor ExpectsSequence = new(
        ProblemIds.ExpectsSequence, "Layer expects a sequence input", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.ExpectsSequence + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0108: "{kind} '{layer}' receives the sequence {shape} from {source}, but works only on fixed-size tensors".</summary>
    public static readonly DiagnosticDescriptor SequenceNotSupported = new(
        ProblemIds.SequenceNotSupported, "Layer does not accept a sequence", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.SequenceNotSupported + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);
    /// <summary>MG0109: "Embedding '{layer}' expects token ids but receives the float tensor {shape}" (or token ids reaching another layer).</summary>
    public static readonly DiagnosticDescriptor ExpectsTokenIds = new(
        ProblemIds.ExpectsTokenIds, "Token ids and Embedding do not match", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.ExpectsTokenIds + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0110: "PositionEmbedding '{layer}' holds {n} positions, but the model accepts sequences of up to MaxLength = {m}".</summary>
    public static readonly DiagnosticDescriptor SequenceLongerThanPositions = new(
        ProblemIds.SequenceLongerThanPositions, "Sequence longer than the position table", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.SequenceLongerThanPositions + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0111: "{TransformerEncoder|MultiHeadAttention} '{layer}' splits its width {d} into {h} heads, which does not divide it".</summary>
    public static readonly DiagnosticDescriptor HeadsDoNotDivideWidth = new(
        ProblemIds.HeadsDoNotDivideWidth, "Attention heads do not divide the width", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.HeadsDoNotDivideWidth + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0112: "{kind} '{layer}' has a weight of {shape} = {n} floats, more than one array holds".</summary>
    public static readonly DiagnosticDescriptor ModelTooLarge = new(
        ProblemIds.ModelTooLarge, "Model is too large for the runtime", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.ModelTooLarge + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0113: "Permute '{layer}' has dims [..], which is not a permutation of the {n} axes of its input {shape}".</summary>
    public static readonly DiagnosticDescriptor InvalidPermutation = new(
        ProblemIds.InvalidPermutation, "Permute dims are not a permutation of the input axes", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.InvalidPermutation + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0114: "Conv1D '{layer}' runs over the run-time length of [C, T] but would change it to ...".</summary>
    public static readonly DiagnosticDescriptor SequenceLengthChanged = new(
        ProblemIds.SequenceLengthChanged, "Layer would change the run-time sequence length", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.SequenceLengthChanged + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0115: "TransformerEncoder '{layer}' uses rotary embeddings, which rotate pairs of features, but its heads have {n} features".</summary>
    public static readonly DiagnosticDescriptor RotaryOddHeadWidth = new(
        ProblemIds.RotaryOddHeadWidth, "Rotary embeddings need an even head width", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.RotaryOddHeadWidth + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0116: "[ModelInput] '{name}' on '{model}' has shape {shape}; a second input of floats is [Dim.Seq, features] ..." (or of token ids [Dim.Seq]).</summary>
    public static readonly DiagnosticDescriptor InvalidModelInput = new(
        ProblemIds.InvalidModelInput, "Invalid second model input", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.InvalidModelInput + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0117: "{kind} '{layer}' reads [S, 32] from the input 'Source'; ... ".</summary>
    public static readonly DiagnosticDescriptor SourceSequenceMisused = new(
        ProblemIds.SourceSequenceMisused, "Layer cannot run on the second input's length S", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.SourceSequenceMisused + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0120: "GroupNorm '{layer}' has {g} groups but its input [C, ...] has {c} channels; groups must divide the channels".</summary>
    public static readonly DiagnosticDescriptor GroupsDoNotDivideChannels = new(
        ProblemIds.GroupsDoNotDivideChannels, "GroupNorm groups do not divide the channels", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.GroupsDoNotDivideChannels + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0121: "PReLU '{layer}' has {n} slopes but its input ... has {c} channels; numParameters must be 1 or {c}".</summary>
    public static readonly DiagnosticDescriptor PReLUSlopeCount = new(
        ProblemIds.PReLUSlopeCount, "PReLU slopes do not match the channels", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.PReLUSlopeCount + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0122: "InstanceNorm1D '{layer}' normalises each channel over its L positions, but its input [C, 1] has one".</summary>
    public static readonly DiagnosticDescriptor SinglePositionInstanceNorm = new(
        ProblemIds.SinglePositionInstanceNorm, "Instance normalisation over a single position", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + ProblemIds.SinglePositionInstanceNorm + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0130: "Conv2D '{layer}' pads {p} with PaddingMode = Reflect, which needs a padding smaller than its input {h}x{w}".</summary>
    public static readonly DiagnosticDescriptor PaddingTooLargeForMode = new(
        ProblemIds.PaddingTooLargeForMode, "Padding is too large for the padding mode", "{0}", ShapeCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Reflect padding mirrors the input inside itself, so it needs a padding smaller than the input; circular padding wraps around at most once, so the padding cannot exceed the input (PyTorch's F.pad rules).",
        helpLinkUri: HelpLinkBase + ProblemIds.PaddingTooLargeForMode + ".md", customTags: WellKnownDiagnosticTags.NotConfigurable);

    /// <summary>MG0201: "{kind} '{layer}' applies {kind} to the output of '{previous}', which already applied it".</summary>
    public static readonly DiagnosticDescriptor RepeatedSquashing = new(
        ProblemIds.RepeatedSquashing, "Softmax or Sigmoid applied twice", "{0}", ArchitectureCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "Softmax and Sigmoid are idempotent in intent but not in value: applying one twice compresses the outputs into a narrow band and shrinks every gradient.",
        helpLinkUri: HelpLinkBase + ProblemIds.RepeatedSquashing + ".md");
    /// <summary>MG0202: "Model '{class}' ends in Softmax ('{layer}'); Loss.CrossEntropy takes logits and applies log-softmax itself".</summary>
    public static readonly DiagnosticDescriptor SoftmaxBeforeCrossEntropy = new(
        ProblemIds.SoftmaxOutput, "Model output is already a softmax", "{0}", ArchitectureCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "Loss.CrossEntropy applies log-softmax to the model output; a model that ends in Softmax has it applied twice, which trains slowly and badly.",
        helpLinkUri: HelpLinkBase + ProblemIds.SoftmaxOutput + ".md");
    /// <summary>MG0203: "Dropout '{layer}' is the last layer of '{class}'; it randomly zeroes the model's outputs".</summary>
    public static readonly DiagnosticDescriptor DropoutLast = new(
        ProblemIds.DropoutLast, "Dropout is the last layer", "{0}", ArchitectureCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "Dropout as the last layer zeroes outputs (logits) at random during training, which corrupts the loss rather than regularising features.",
        helpLinkUri: HelpLinkBase + ProblemIds.DropoutLast + ".md");
    /// <summary>MG0204: "Model '{class}' stacks {n} parameterised layers with no normalisation or residual connection".</summary>
    public static readonly DiagnosticDescriptor DeepPlainStack = new(
        ProblemIds.DeepPlainStack, "Deep plain stack without normalisation or residuals", "{0}", ArchitectureCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "Plain stacks deeper than about ten parameterised layers train poorly: gradients vanish or explode without normalisation or residual connections.",
        helpLinkUri: HelpLinkBase + ProblemIds.DeepPlainStack + ".md");
    /// <summary>MG0205: "{activation} in '{layer}' is a saturating hidden activation in a stack of {n} parameterised layers".</summary>
    public static readonly DiagnosticDescriptor SaturatingHiddenActivation = new(
        ProblemIds.SaturatingHiddenActivation, "Saturating hidden activation in a deep stack", "{0}", ArchitectureCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "Sigmoid and Tanh saturate; as hidden activations of a deep stack they multiply the gradient by a factor of at most 0.25 (Sigmoid) or 1 (Tanh) per layer, so early layers stop learning.",
        helpLinkUri: HelpLinkBase + ProblemIds.SaturatingHiddenActivation + ".md");
    /// <summary>MG0206: "Dense '{layer}' uses {init} but feeds {activation}; {advice}".</summary>
    public static readonly DiagnosticDescriptor InitActivationMismatch = new(
        ProblemIds.InitActivationMismatch, "Initialiser does not suit the activation", "{0}", ArchitectureCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "Xavier initialisation assumes a symmetric, roughly linear activation (Tanh, Sigmoid); He initialisation assumes ReLU, which zeroes half its inputs. The wrong one shrinks or grows activations layer after layer.",
        helpLinkUri: HelpLinkBase + ProblemIds.InitActivationMismatch + ".md");

    /// <summary>MG0207: "{kind} '{layer}' has a bias, but {norm} '{name}' right after it subtracts the batch mean and cancels it; set UseBias = false".</summary>
    public static readonly DiagnosticDescriptor BiasBeforeNormalisation = new(
        ProblemIds.BiasBeforeNormalisation, "Bias cancelled by the BatchNorm after it", "{0}", ArchitectureCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "BatchNorm subtracts the per-channel batch mean, which removes any per-channel constant: a bias right before it never changes the output and only wastes parameters and work.",
        helpLinkUri: HelpLinkBase + ProblemIds.BiasBeforeNormalisation + ".md");

    /// <summary>Every descriptor, for <c>SupportedDiagnostics</c>.</summary>
    public static ImmutableArray<DiagnosticDescriptor> All { get; } = ImmutableArray.Create(
        ClassNotPartial, UnsupportedClassForm, LayerMemberNotPartialProperty, LayerMemberWrongType, MultipleLayerAttributes,
        InvalidInputShape, NoLayers, DuplicateLayerName, UnboundAttribute, InternalError, Uncatalogued, InvalidHyperParameter, ExpectsFlatInput,
        BlockContainsItself, UnknownSource, InvalidBlock, BlockInputMismatch, ResidualShapeMismatch, KernelLargerThanInput, RankMismatch,
        MergeShapeMismatch, ExpectsSequence, SequenceNotSupported, ExpectsTokenIds, SequenceLongerThanPositions, HeadsDoNotDivideWidth, ModelTooLarge,
        InvalidPermutation, SequenceLengthChanged, RotaryOddHeadWidth, InvalidModelInput, SourceSequenceMisused, GroupsDoNotDivideChannels, PReLUSlopeCount, SinglePositionInstanceNorm, PaddingTooLargeForMode,
        RepeatedSquashing, SoftmaxBeforeCrossEntropy, DropoutLast, DeepPlainStack, SaturatingHiddenActivation, InitActivationMismatch,
        BiasBeforeNormalisation);

    private static readonly Dictionary<string, DiagnosticDescriptor> s_byId = BuildIndex();

    private static Dictionary<string, DiagnosticDescriptor> BuildIndex()
    {
        var index = new Dictionary<string, DiagnosticDescriptor>();
        foreach (var descriptor in All) index.Add(descriptor.Id, descriptor);
        return index;
    }

    /// <summary>The descriptor for <paramref name="id"/>, or null when the id is not catalogued.</summary>
    public static DiagnosticDescriptor? Find(string id) => s_byId.TryGetValue(id, out var descriptor) ? descriptor : null;
}
