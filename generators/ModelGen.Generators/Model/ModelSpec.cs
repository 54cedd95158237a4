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
internal sealed record ModelSpec(
    string Namespace,
    string ClassName,
    string HintName,
    EquatableArray<string> ContainingTypes,
    EquatableArray<int> InputShape,
    EquatableArray<MemberSpec> Members,
    EquatableArray<ModelProblem> Problems);

/// <summary>A partial property carrying a layer attribute, with what is needed to implement it.</summary>
/// <param name="PropertyName">The C# property name, e.g. <c>Fc1</c>.</param>
/// <param name="Modifiers">Modifiers to repeat on the implementing part, e.g. <c>public</c>.</param>
/// <param name="TypeName">Fully qualified property type.</param>
/// <param name="IsLayerType">Whether the property type is <c>ModelGen.Layer</c>.</param>
/// <param name="Layer">The parsed layer, or null when the attribute could not be parsed.</param>
internal sealed record MemberSpec(string PropertyName, string Modifiers, string TypeName, bool IsLayerType, LayerSpec? Layer);

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
