// Symbols -> ModelSpec. The only code in the generator allowed to touch ISymbol or syntax; everything after it
// works on plain equatable records. Must never throw on half-typed code: anything it cannot make sense of
// becomes a ModelProblem (and the generator then emits throwing stubs naming the problem's id).
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ModelGen.Generators.Common;
using ModelGen.Generators.Model;
using ModelGen.Generators.Shapes;

namespace ModelGen.Generators.Parsing;

internal static class ModelParser
{
    public const string ModelAttributeName = "ModelGen.ModelAttribute";
    public const string ModelInputAttributeName = "ModelGen.ModelInputAttribute";
    public const string LayerAttributeName = "ModelGen.LayerAttribute";
    private const string LayerTypeName = "ModelGen.Layer";

    /// <summary>Parses the model class <paramref name="type"/> whose <c>[Model]</c> attribute is <paramref name="modelAttribute"/>.</summary>
    public static ModelSpec Parse(INamedTypeSymbol type, AttributeData modelAttribute, CancellationToken cancellationToken)
    {
        var problems = new List<ModelProblem>();

        if (!IsPartial(type))
            problems.Add(new ModelProblem(ProblemIds.ClassNotPartial, "", $"Model class '{type.Name}' must be declared partial so ModelGen can generate its code"));
        if (type.IsGenericType)
            problems.Add(new ModelProblem(ProblemIds.UnsupportedClassForm, "", $"Model class '{type.Name}' must not be generic"));

        var containing = new List<string>();
        for (var outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            if (!IsPartial(outer) || outer.IsGenericType)
                problems.Add(new ModelProblem(ProblemIds.UnsupportedClassForm, "",
                    $"Model class '{type.Name}' is nested in '{outer.Name}', which must be a non-generic partial type"));
            containing.Insert(0, "partial " + TypeKeyword(outer) + " " + outer.Name);
        }

        var inputShape = ParseInputShape(modelAttribute, type.Name, problems);
        // [Model] with no dimensions declares a shape-generic block (an empty array written out means the same).
        bool shapeGeneric = IsShapeGeneric(modelAttribute);

        var members = new List<MemberSpec>();
        var memberNames = new HashSet<string>();
        foreach (var member in type.GetMembers())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var layerAttributes = member.GetAttributes().Where(IsLayerAttribute).ToList();
            if (layerAttributes.Count == 0 && !(member is IPropertySymbol { Type: INamedTypeSymbol t } && IsModelType(t))) continue;
            if (!memberNames.Add(member.Name))
            {
                // Two members of one name: the compiler reports CS0102 on the second; parsing it too would only
                // add a second implementation to the generated code.
                problems.Add(new ModelProblem(ProblemIds.CompilerReported, member.Name, $"Model '{type.Name}' declares '{member.Name}' twice"));
                continue;
            }
            var spec = ParseMember(member, layerAttributes, problems);
            if (spec is not null) members.Add(spec);
        }

        string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : "";
        string hint = (ns.Length > 0 ? ns + "." : "") + string.Concat(containing.Select(c => c.Substring(c.LastIndexOf(' ') + 1) + ".")) + type.Name;
        var inputType = Named<ITypeSymbol?>(modelAttribute, "InputType", null);
        bool tokens = inputType?.SpecialType == SpecialType.System_Int32;
        if (inputType is not null && !tokens && inputType.SpecialType != SpecialType.System_Single)
            problems.Add(new ModelProblem(ProblemIds.InvalidInputShape, "", "InputType",
                $"Model '{type.Name}' has InputType = typeof({inputType.ToDisplayString()}); the input is float (the default) or int token ids"));
        int maxLength = Named(modelAttribute, "MaxLength", 0);
        var (sourceName, sourceShape) = ParseSourceInput(type, problems);
        return new ModelSpec(ns, type.Name, hint, containing.ToEquatableArray(), inputShape, members.ToEquatableArray(), problems.ToEquatableArray(), tokens, maxLength, shapeGeneric,
            sourceName, sourceShape);
    }

    /// <summary>
    /// The second input from <c>[ModelInput(name, shape)]</c>, or ("", empty) without one. What the declaration alone decides is
    /// checked here (a name; S token ids, or S float vectors of a positive width); how it fits the model (a sequence model, a name
    /// no member has) in shape inference.
    /// </summary>
    private static (string Name, EquatableArray<int> Shape) ParseSourceInput(INamedTypeSymbol type, List<ModelProblem> problems)
    {
        var attribute = type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == ModelInputAttributeName);
        if (attribute is null) return ("", EquatableArray<int>.Empty);
        if (CompilerReports(attribute) || attribute.ConstructorArguments.Length != 2 || !IsArray(attribute.ConstructorArguments[1]))
        {
            problems.Add(new ModelProblem(ProblemIds.InvalidModelInput, "", $"[ModelInput] on '{type.Name}' needs a name and the per-example shape, e.g. [ModelInput(\"Source\", Dim.Seq, InputType = typeof(int))] or [ModelInput(\"Source\", Dim.Seq, 16)]"));
            return ("", EquatableArray<int>.Empty);
        }
        string name = attribute.ConstructorArguments[0].Value as string ?? "";
        var dims = attribute.ConstructorArguments[1].Values.Select(v => v.Value is int d ? d : 0).ToList();
        var inputType = Named<ITypeSymbol?>(attribute, "InputType", null);
        if (name.Length == 0 || name == MemberSpec.InputName)
            problems.Add(new ModelProblem(ProblemIds.InvalidModelInput, "", "name", $"[ModelInput] on '{type.Name}' needs a non-empty name other than Layer.Input, which names the model's first input"));
        else if (inputType is not null && inputType.SpecialType is not (SpecialType.System_Int32 or SpecialType.System_Single))
            problems.Add(new ModelProblem(ProblemIds.InvalidModelInput, "", "InputType",
                $"[ModelInput] '{name}' on '{type.Name}' has InputType = typeof({inputType.ToDisplayString()}); a second input is token ids (typeof(int)) or float vectors (typeof(float), the default)"));
        else if (inputType?.SpecialType == SpecialType.System_Int32)
        {
            if (dims.Count == 1 && dims[0] == ModelSpec.Seq) return (name, new[] { ModelSpec.SourceSeq }.ToEquatableArray());
            problems.Add(new ModelProblem(ProblemIds.InvalidModelInput, "", "shape",
                $"[ModelInput] '{name}' on '{type.Name}' has shape {ShapeInference.Format(dims)}; a second input of token ids is [Dim.Seq] (S ids per example)"));
        }
        else if (dims.Count == 2 && dims[0] == ModelSpec.Seq && dims[1] > 0)
            return (name, new[] { ModelSpec.SourceSeq, dims[1] }.ToEquatableArray());
        else
            problems.Add(new ModelProblem(ProblemIds.InvalidModelInput, "", "shape",
                $"[ModelInput] '{name}' on '{type.Name}' has shape {ShapeInference.Format(dims)}; a second input of floats is [Dim.Seq, features] (S vectors of a positive width per example), or set InputType = typeof(int) for [Dim.Seq] token ids"));
        return ("", EquatableArray<int>.Empty);
    }

    private static EquatableArray<int> ParseInputShape(AttributeData attribute, string className, List<ModelProblem> problems)
    {
        if (CompilerReports(attribute))
        {
            problems.Add(new ModelProblem(ProblemIds.CompilerReported, "", $"[Model] on '{className}' has a C# error in its arguments"));
            return EquatableArray<int>.Empty;
        }
        if (attribute.ConstructorArguments.Length != 1 || !IsArray(attribute.ConstructorArguments[0]))
        {
            problems.Add(new ModelProblem(ProblemIds.UnboundAttribute, "", $"[Model] on '{className}' needs the per-example input shape as integers, e.g. [Model(1, 28, 28)]"));
            return EquatableArray<int>.Empty;
        }
        var dims = new List<int>();
        foreach (var value in attribute.ConstructorArguments[0].Values)
        {
            if (value.Value is int d) dims.Add(d);
            else
            {
                problems.Add(new ModelProblem(ProblemIds.UnboundAttribute, "", $"[Model] on '{className}' has an input dimension that is not an integer constant"));
                return EquatableArray<int>.Empty;
            }
        }
        return dims.ToEquatableArray();
    }

    private static MemberSpec? ParseMember(ISymbol member, List<AttributeData> attributes, List<ModelProblem> problems)
    {
        string name = member.Name;
        if (member is not IPropertySymbol property || GetPartialDeclaration(property) is not { } declaration)
        {
            problems.Add(new ModelProblem(ProblemIds.LayerMemberNotPartialProperty, name,
                $"Layer member '{name}' must be a partial property, e.g. 'public partial Layer {name} {{ get; }}'"));
            return null;
        }

        var modifiers = string.Join(" ", declaration.Modifiers.Where(m => !m.IsKind(SyntaxKind.PartialKeyword)).Select(m => m.Text));
        bool documented = declaration.GetLeadingTrivia().Any(t => t.IsKind(SyntaxKind.SingleLineDocumentationCommentTrivia) || t.IsKind(SyntaxKind.MultiLineDocumentationCommentTrivia));
        string typeName = property.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
        bool isLayerType = property.Type.ToDisplayString() == LayerTypeName;
        bool isBlock = property.Type is INamedTypeSymbol blockType && IsModelType(blockType);

        if (property.IsStatic || property.SetMethod is not null || property.GetMethod is null)
        {
            problems.Add(new ModelProblem(ProblemIds.LayerMemberNotPartialProperty, name,
                $"Layer member '{name}' must be a get-only instance property, e.g. 'public partial Layer {name} {{ get; }}'"));
            return null;
        }
        if (isBlock)
        {
            // A block: no attribute (applied as is) or [Residual]; any other layer attribute contradicts the type.
            var residual = attributes.FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == "ModelGen.ResidualAttribute");
            if (attributes.Count > (residual is null ? 0 : 1))
            {
                problems.Add(new ModelProblem(ProblemIds.LayerMemberWrongType, name,
                    $"Member '{name}' has the model type '{property.Type.Name}', so it is a block; only [Residual] may annotate it"));
                return null;
            }
            var block = new BlockSpec(ToWeightName(name), typeName, property.Type.Name, residual is not null,
                residual is not null && Named(residual, "Projection", false), IsShapeGeneric((INamedTypeSymbol)property.Type));
            return new MemberSpec(name, modifiers, typeName, false, block, residual is null ? "" : Named(residual, "From", ""), documented);
        }
        if (!isLayerType)
            problems.Add(new ModelProblem(ProblemIds.LayerMemberWrongType, name,
                attributes.Any(a => a.AttributeClass?.ToDisplayString() == "ModelGen.ResidualAttribute")
                    ? $"[Residual] member '{name}' must have the type of a [Model] class (the block it wraps), not '{property.Type.ToDisplayString()}'"
                    : $"Layer member '{name}' has type '{property.Type.ToDisplayString()}'; layer properties must have type ModelGen.Layer"));

        LayerSpec? layer = null;
        if (attributes.Count > 1)
            problems.Add(new ModelProblem(ProblemIds.MultipleLayerAttributes, name,
                $"Layer member '{name}' has {attributes.Count} layer attributes ({string.Join(", ", attributes.Select(a => a.AttributeClass?.Name))}); a member is exactly one layer"));
        else
            layer = ParseLayer(attributes[0], name, problems);
        return new MemberSpec(name, modifiers, typeName, isLayerType, layer, Named(attributes[0], "From", ""), documented);
    }

    private static LayerSpec? ParseLayer(AttributeData attribute, string member, List<ModelProblem> problems)
    {
        string name = ToWeightName(member);
        string kind = attribute.AttributeClass?.Name ?? "?";
        if (CompilerReports(attribute))
        {
            problems.Add(new ModelProblem(ProblemIds.CompilerReported, member, $"The [{Trim(kind)}] attribute on '{member}' has a C# error in its arguments"));
            return null;
        }
        var args = attribute.ConstructorArguments;
        switch (attribute.AttributeClass!.ToDisplayString())
        {
            case "ModelGen.DenseAttribute":
                if (args.Length != 1 || args[0].Value is not int units) break;
                return new DenseSpec(name, units,
                    (ActivationKind)Named(attribute, "Activation", 0),
                    Named(attribute, "UseBias", true),
                    (InitKind)Named(attribute, "Init", 0));
            case "ModelGen.FlattenAttribute":
                return new FlattenSpec(name);
            case "ModelGen.DropoutAttribute":
                if (args.Length != 1 || args[0].Value is not double p) break;
                return new DropoutSpec(name, p);
            case "ModelGen.ReLUAttribute":
                return new ActivationSpec(name, ActivationKind.ReLU, 0);
            case "ModelGen.LeakyReLUAttribute":
                if (args.Length != 1 || args[0].Value is not double slope) break;
                return new ActivationSpec(name, ActivationKind.LeakyReLU, slope);
            case "ModelGen.GELUAttribute":
                return new ActivationSpec(name, Named(attribute, "Approximate", false) ? ActivationKind.GELUTanh : ActivationKind.GELU, 0);
            case "ModelGen.SiLUAttribute":
                return new ActivationSpec(name, ActivationKind.SiLU, 0);
            case "ModelGen.SigmoidAttribute":
                return new ActivationSpec(name, ActivationKind.Sigmoid, 0);
            case "ModelGen.TanhAttribute":
                return new ActivationSpec(name, ActivationKind.Tanh, 0);
            case "ModelGen.SoftmaxAttribute":
                return new ActivationSpec(name, ActivationKind.Softmax, 0);
            case "ModelGen.PReLUAttribute":
                if (args.Length != 1 || args[0].Value is not int slopes) break;
                return new PReLUSpec(name, slopes, Named(attribute, "Init", 0.25));
            case "ModelGen.LogSoftmaxAttribute":
                return new LogSoftmaxSpec(name);
            case "ModelGen.Conv1DAttribute":
            case "ModelGen.Conv2DAttribute":
                // No outChannels: as many as the input has (known per use in a shape-generic block).
                bool keepChannels = args.Length == 0;
                int outChannels = 0;
                if (!keepChannels)
                {
                    if (args.Length != 1 || args[0].Value is not int declared) break;
                    outChannels = declared;
                }
                if ((ActivationKind)Named(attribute, "Activation", 0) == ActivationKind.Softmax)
                {
                    // Softmax is not elementwise; over which axis would be a guess (channels? positions?).
                    problems.Add(new ModelProblem(ProblemIds.InvalidHyperParameter, member, "Activation",
                        $"[{Trim(kind)}] on '{member}' cannot fuse Softmax; add a [Softmax] layer (over the last dimension) or flatten first"));
                    return null;
                }
                int convRank = kind == "Conv1DAttribute" ? 1 : 2;
                return new ConvSpec(name, convRank, outChannels, Axes(attribute, convRank, "Kernel", 0, 1), Axes(attribute, convRank, "Stride", 1, 1),
                    Axes(attribute, convRank, "Padding", 0, 0), Named(attribute, "Same", false), Axes(attribute, convRank, "Dilation", 1, 1), Named(attribute, "Groups", 1),
                    (ActivationKind)Named(attribute, "Activation", 0), Named(attribute, "UseBias", true), (InitKind)Named(attribute, "Init", 0), keepChannels,
                    (PaddingModeKind)Named(attribute, "PaddingMode", 0));
            case "ModelGen.MaxPool1DAttribute":
            case "ModelGen.MaxPool2DAttribute":
            case "ModelGen.AvgPool1DAttribute":
            case "ModelGen.AvgPool2DAttribute":
            {
                // [MaxPool2D(k)] is a square window, [MaxPool2D(kh, kw)] PyTorch's kernel_size=(kh, kw).
                int poolRank = kind.Contains("1D") ? 1 : 2;
                Hw window;
                if (args.Length == 1 && args[0].Value is int k) window = poolRank == 2 ? Hw.Square(k) : new Hw(1, k);
                else if (poolRank == 2 && args.Length == 2 && args[0].Value is int kh && args[1].Value is int kw) window = new Hw(kh, kw);
                else break;
                // Stride 0 (not written) means "the window", per axis, as PyTorch's stride=None.
                Hw stride = Axes(attribute, poolRank, "Stride", 0, 1);
                stride = new Hw(stride.H == 0 ? window.H : stride.H, stride.W == 0 ? window.W : stride.W);
                return new PoolSpec(name, poolRank, kind.StartsWith("Max"), window, stride, Axes(attribute, poolRank, "Padding", 0, 0),
                    Named(attribute, "CeilMode", false), Named(attribute, "CountIncludePad", true), Named(attribute, "DivisorOverride", 0));
            }
            case "ModelGen.GlobalAvgPoolAttribute":
                return new GlobalPoolSpec(name, IsMax: false);
            case "ModelGen.GlobalMaxPoolAttribute":
                return new GlobalPoolSpec(name, IsMax: true);
            case "ModelGen.AdaptiveAvgPool2DAttribute":
                if (args.Length != 2 || args[0].Value is not int h || args[1].Value is not int w) break;
                return new AdaptiveAvgPoolSpec(name, h, w);
            case "ModelGen.BatchNorm1DAttribute":
            case "ModelGen.BatchNorm2DAttribute":
                return new BatchNormSpec(name, kind.Contains("1D") ? 1 : 2, Named(attribute, "Eps", 1e-5), Momentum(attribute), Named(attribute, "Affine", true));
            case "ModelGen.GroupNormAttribute":
                if (args.Length != 1 || args[0].Value is not int groups) break;
                return new GroupNormSpec(name, groups, Named(attribute, "Eps", 1e-5), Named(attribute, "Affine", true));
            case "ModelGen.InstanceNorm1DAttribute":
            case "ModelGen.InstanceNorm2DAttribute":
                return new InstanceNormSpec(name, kind.Contains("1D") ? 1 : 2, Named(attribute, "Eps", 1e-5), Named(attribute, "Momentum", 0.1),
                    Named(attribute, "Affine", false), Named(attribute, "TrackRunningStats", false));
            case "ModelGen.AddAttribute":
            case "ModelGen.ConcatAttribute":
            {
                if (args.Length != 1 || !IsArray(args[0])) break;
                var inputs = args[0].Values.Select(v => v.Value as string).ToList();
                if (inputs.Any(i => i is null)) break;
                return new MergeSpec(name, kind == "ConcatAttribute", inputs.Select(i => i!).ToEquatableArray());
            }
            case "ModelGen.PermuteAttribute":
            {
                if (args.Length != 1 || !IsArray(args[0])) break;
                var dims = args[0].Values.Select(v => v.Value as int?).ToList();
                if (dims.Any(d => d is null)) break;
                return new PermuteSpec(name, dims.Select(d => d!.Value).ToEquatableArray());
            }
            case "ModelGen.EmbeddingAttribute":
                if (args.Length != 2 || args[0].Value is not int vocab || args[1].Value is not int dim) break;
                return new EmbeddingSpec(name, vocab, dim, Named(attribute, "PaddingIdx", -1), Named(attribute, "Column", 0));
            case "ModelGen.LSTMAttribute":
            case "ModelGen.GRUAttribute":
                if (args.Length != 1 || args[0].Value is not int hidden) break;
                return new RecurrentSpec(name, kind == "GRUAttribute", hidden, Named(attribute, "Layers", 1), Named(attribute, "Bidirectional", false),
                    Named(attribute, "ReturnSequences", true), Named(attribute, "Dropout", 0.0));
            case "ModelGen.PositionEmbeddingAttribute":
                if (args.Length != 1 || args[0].Value is not int positions) break;
                return new PositionEmbeddingSpec(name, positions, Named(attribute, "Sinusoidal", false));
            case "ModelGen.TransformerEncoderAttribute":
                return new TransformerSpec(name, Named(attribute, "Heads", 8), Named(attribute, "FeedForward", 2048), Named(attribute, "Layers", 1),
                    Named(attribute, "NormFirst", false), Named(attribute, "Causal", false), Named(attribute, "Dropout", 0.1),
                    (ActivationKind)Named(attribute, "Activation", (int)ActivationKind.ReLU), Named(attribute, "Rotary", false), Named(attribute, "RotaryBase", 10000.0),
                    Named(attribute, "FeedForwardDropout", -1.0), Named(attribute, "AttentionDropout", -1.0));
            case "ModelGen.TransformerDecoderAttribute":
                return new DecoderSpec(name, Named(attribute, "Heads", 8), Named(attribute, "FeedForward", 2048), Named(attribute, "Layers", 1),
                    Named(attribute, "NormFirst", false), Named(attribute, "Causal", true), Named(attribute, "Dropout", 0.1),
                    (ActivationKind)Named(attribute, "Activation", (int)ActivationKind.ReLU), Named(attribute, "Memory", ""), Named(attribute, "AttentionDropout", -1.0));
            case "ModelGen.MultiHeadAttentionAttribute":
                if (args.Length != 1 || args[0].Value is not int heads) break;
                return new AttentionSpec(name, heads, Named(attribute, "Causal", false), Named(attribute, "UseBias", true), Named(attribute, "Memory", ""),
                    Named(attribute, "Rotary", false), Named(attribute, "RotaryBase", 10000.0), Named(attribute, "Dropout", 0.0));
            case "ModelGen.LayerNormAttribute":
                return new LayerNormSpec(name, Named(attribute, "Eps", 1e-5), Named(attribute, "Affine", true));
            case "ModelGen.ResidualAttribute":
                problems.Add(new ModelProblem(ProblemIds.LayerMemberWrongType, member, $"[Residual] member '{member}' must have the type of a [Model] class (the block it wraps)"));
                return null;
            default:
                problems.Add(new ModelProblem(ProblemIds.UnboundAttribute, member, $"[{Trim(kind)}] on '{member}' is not a layer this version of ModelGen supports"));
                return null;
        }
        problems.Add(new ModelProblem(ProblemIds.UnboundAttribute, member, $"The [{Trim(kind)}] attribute on '{member}' has arguments that could not be read as constants"));
        return null;
    }

    /// <summary>
    /// True when the C# compiler itself reports an error in this attribute application: a syntax error in its
    /// arguments (<c>Kernel = ,</c>), no constructor that fits (<c>[Dense()]</c>), an argument of the wrong type
    /// (<c>[Dense("x")]</c>). Roslyn still binds what it can, so without this check a missing value would read as
    /// the default and be reported a second time, wrongly, as a ModelGen error.
    /// </summary>
    private static bool CompilerReports(AttributeData attribute)
    {
        if (attribute.AttributeConstructor is null) return true;
        foreach (var argument in attribute.ConstructorArguments)
            if (argument.Kind == TypedConstantKind.Error) return true;
        foreach (var pair in attribute.NamedArguments)
            if (pair.Value.Kind == TypedConstantKind.Error) return true;
        return attribute.ApplicationSyntaxReference?.GetSyntax() is { ContainsDiagnostics: true };
    }

    /// <summary>
    /// An array argument with its values: <c>params</c> arguments given as a literal <c>null</c> (<c>[Model(null)]</c>,
    /// <c>[Permute(null)]</c>) bind as an array whose <c>Values</c> is a default ImmutableArray, which throws when read.
    /// </summary>
    private static bool IsArray(TypedConstant argument) => argument.Kind == TypedConstantKind.Array && !argument.Values.IsDefault;

    /// <summary>
    /// BatchNorm's <c>Momentum</c> (typed <c>object?</c> so that <c>Momentum = null</c>, PyTorch's cumulative average, can be
    /// written): a number, null, or 0.1 when absent; anything else becomes NaN, which shape inference reports.
    /// </summary>
    private static double? Momentum(AttributeData attribute)
    {
        foreach (var pair in attribute.NamedArguments)
            if (pair.Key == "Momentum")
                return pair.Value.Value switch
                {
                    null => null,
                    double d => d,
                    float f => f,
                    int i => i,
                    long l => l,
                    _ => double.NaN,
                };
        return 0.1;
    }

    /// <summary>
    /// A per-axis size: the square argument <paramref name="name"/> (or <paramref name="fallback"/>), overridden on 2-D layers by
    /// <c>{name}Height</c> / <c>{name}Width</c> when written; a 1-D layer gets <paramref name="unitH"/> as its height value.
    /// </summary>
    private static Hw Axes(AttributeData attribute, int rank, string name, int fallback, int unitH)
    {
        int square = Named(attribute, name, fallback);
        return rank == 1 ? new Hw(unitH, square) : new Hw(Named(attribute, name + "Height", square), Named(attribute, name + "Width", square));
    }

    private static T Named<T>(AttributeData attribute, string name, T fallback)
    {
        foreach (var pair in attribute.NamedArguments)
            if (pair.Key == name && pair.Value.Value is T value) return value;
        return fallback;
    }

    private static string Trim(string attributeName) =>
        attributeName.EndsWith("Attribute") ? attributeName.Substring(0, attributeName.Length - "Attribute".Length) : attributeName;

    /// <summary>Whether <paramref name="type"/>'s <c>[Model]</c> lists no dimensions: a shape-generic block.</summary>
    private static bool IsShapeGeneric(INamedTypeSymbol type) =>
        type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == ModelAttributeName) is { } model && IsShapeGeneric(model);

    private static bool IsShapeGeneric(AttributeData model) =>
        !CompilerReports(model) && model.ConstructorArguments.Length == 1
        && model.ConstructorArguments[0] is { Kind: TypedConstantKind.Array, Values.IsDefault: false, Values.Length: 0 };

    // Name checks without ToDisplayString: the parser runs them on every member of the class, generated ones included
    // (hundreds in a deep model), and building display strings there was most of the parser's own time.
    private static bool IsModelType(INamedTypeSymbol type)
    {
        // Only classes can be models; the BCL types of generated members (Span<float>, IReadOnlyList<...>) are skipped
        // without decoding their metadata attributes.
        if (type.TypeKind != TypeKind.Class || type.SpecialType != SpecialType.None) return false;
        foreach (var attribute in type.GetAttributes())
            if (IsModelGenType(attribute.AttributeClass, "ModelAttribute")) return true;
        return false;
    }

    private static bool IsLayerAttribute(AttributeData attribute)
    {
        for (var t = attribute.AttributeClass?.BaseType; t is not null; t = t.BaseType)
            if (IsModelGenType(t, "LayerAttribute")) return true;
        return false;
    }

    /// <summary>Whether <paramref name="type"/> is <c>ModelGen.{name}</c> (the runtime's namespace, not nested).</summary>
    private static bool IsModelGenType(INamedTypeSymbol? type, string name) =>
        type is { Name: var n, ContainingType: null, ContainingNamespace: { Name: "ModelGen", ContainingNamespace.IsGlobalNamespace: true } } && n == name;

    /// <summary>The defining (body-less) partial declaration of the property, or null if it is not a partial property.</summary>
    private static PropertyDeclarationSyntax? GetPartialDeclaration(IPropertySymbol property)
    {
        foreach (var reference in property.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax() is PropertyDeclarationSyntax syntax
                && syntax.Modifiers.Any(SyntaxKind.PartialKeyword)
                && syntax.AccessorList is { } accessors
                && accessors.Accessors.All(a => a.Body is null && a.ExpressionBody is null))
                return syntax;
        }
        return null;
    }

    private static bool IsPartial(INamedTypeSymbol type)
    {
        foreach (var reference in type.DeclaringSyntaxReferences)
            if (reference.GetSyntax() is TypeDeclarationSyntax syntax && syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
                return true;
        return false;
    }

    private static string TypeKeyword(INamedTypeSymbol type) => type switch
    {
        { IsRecord: true, TypeKind: TypeKind.Struct } => "record struct",
        { IsRecord: true } => "record",
        { TypeKind: TypeKind.Struct } => "struct",
        { TypeKind: TypeKind.Interface } => "interface",
        _ => "class",
    };

    /// <summary>PyTorch-style snake_case weight name: <c>Fc1</c> → <c>fc1</c>, <c>HiddenLayer</c> → <c>hidden_layer</c>, <c>Conv2D</c> → <c>conv2d</c>.</summary>
    public static string ToWeightName(string member)
    {
        var sb = new StringBuilder(member.Length + 4);
        for (int i = 0; i < member.Length; i++)
        {
            char c = member[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(member[i - 1]) || (char.IsUpper(member[i - 1]) && i + 1 < member.Length && char.IsLower(member[i + 1]))))
                sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }
}
