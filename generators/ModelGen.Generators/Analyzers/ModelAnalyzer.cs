// Reports every problem of a [Model] class as a diagnostic at the exact syntax that causes it. It runs the SAME
// Roslyn-free code as the generator (ModelParser.Parse -> ShapeInference.Infer, plus ArchitectureLints), so the
// IDE squiggles and the generator's throwing stubs can never disagree; this file only maps each ModelProblem
// (id, member, argument) back to a location. The generator itself reports nothing (Roslyn's guidance).
using System;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using ModelGen.Generators.Diagnostics;
using ModelGen.Generators.Model;
using ModelGen.Generators.Parsing;
using ModelGen.Generators.Shapes;

namespace ModelGen.Generators.Analyzers;

/// <summary>Reports declaration, shape and architecture problems of classes marked <c>[Model]</c>.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ModelAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => DiagnosticDescriptors.All;

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(static start =>
        {
            // Resolved once per compilation; a compilation without the ModelGen runtime has nothing to analyze.
            var modelAttribute = start.Compilation.GetTypeByMetadataName(ModelParser.ModelAttributeName);
            var layerAttribute = start.Compilation.GetTypeByMetadataName(ModelParser.LayerAttributeName);
            if (modelAttribute is null || layerAttribute is null) return;
            start.RegisterSymbolAction(ctx => AnalyzeType(ctx, modelAttribute, layerAttribute), SymbolKind.NamedType);
        });
    }

    private static void AnalyzeType(SymbolAnalysisContext context, INamedTypeSymbol modelAttribute, INamedTypeSymbol layerAttribute)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        AttributeData? model = null;
        foreach (var attribute in type.GetAttributes())
            if (SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, modelAttribute)) { model = attribute; break; }
        // The generator only sees [Model] on class declarations (ForAttributeWithMetadataName's predicate); so do we.
        if (model?.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken) is not AttributeSyntax modelSyntax
            || modelSyntax.FirstAncestorOrSelf<TypeDeclarationSyntax>() is not ClassDeclarationSyntax classSyntax)
            return;

        var spec = ModelParser.Parse(type, model, context.CancellationToken);
        // Blocks are other [Model] classes inlined into this one: parse the ones reachable from here, as the
        // generator's plan step sees every model of the compilation.
        var blocks = new Dictionary<string, ModelSpec>();
        CollectBlocks(type, modelAttribute, blocks, context.CancellationToken);
        var locator = new Locator(type, modelSyntax, classSyntax, layerAttribute, context.CancellationToken);
        IEnumerable<ModelProblem> problems;
        try
        {
            var shapes = ShapeInference.Infer(spec, name => blocks.TryGetValue(name, out var block) ? block : null);
            problems = shapes.Problems.Concat(ArchitectureLints.Analyze(spec, shapes)).ToList();
        }
        catch (System.Exception e) when (e is not System.OperationCanceledException)
        {
            // The generator turns the same failure into stubs naming MG0098 (Planner.Failed): report what it reports.
            problems = Planning.Planner.Failed(spec, e).Shapes.Problems;
        }
        foreach (var problem in problems)
            if (problem.Id != ProblemIds.CompilerReported) Report(context, locator, problem);
    }

    private static void CollectBlocks(INamedTypeSymbol type, INamedTypeSymbol modelAttribute, Dictionary<string, ModelSpec> blocks, CancellationToken cancellationToken)
    {
        foreach (var member in type.GetMembers())
        {
            // Blocks are classes; the generated members' BCL types (spans, lists) are skipped without reading their attributes.
            if (member is not IPropertySymbol { Type: INamedTypeSymbol { TypeKind: TypeKind.Class, SpecialType: SpecialType.None } blockType }) continue;
            var attribute = blockType.GetAttributes().FirstOrDefault(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, modelAttribute));
            if (attribute is null) continue;
            var spec = ModelParser.Parse(blockType, attribute, cancellationToken);
            if (blocks.ContainsKey(spec.FullName)) continue;
            blocks.Add(spec.FullName, spec);
            CollectBlocks(blockType, modelAttribute, blocks, cancellationToken);
        }
    }

    private static void Report(SymbolAnalysisContext context, Locator locator, ModelProblem problem)
    {
        var location = locator.Locate(problem);
        var descriptor = DiagnosticDescriptors.Find(problem.Id);
        context.ReportDiagnostic(descriptor is not null
            ? Diagnostic.Create(descriptor, location, problem.Message)
            : Diagnostic.Create(DiagnosticDescriptors.Uncatalogued, location, problem.Id + ": " + problem.Message));
    }

    /// <summary>Maps a problem's (member, argument) back to syntax in the user's declaration.</summary>
    private readonly struct Locator
    {
        private readonly INamedTypeSymbol _type;
        private readonly AttributeSyntax _modelAttribute;
        private readonly ClassDeclarationSyntax _class;
        private readonly INamedTypeSymbol _layerAttribute;
        private readonly CancellationToken _cancellationToken;

        public Locator(INamedTypeSymbol type, AttributeSyntax modelAttribute, ClassDeclarationSyntax @class, INamedTypeSymbol layerAttribute, CancellationToken cancellationToken)
        {
            _type = type;
            _modelAttribute = modelAttribute;
            _class = @class;
            _layerAttribute = layerAttribute;
            _cancellationToken = cancellationToken;
        }

        public Location Locate(ModelProblem problem)
        {
            if (problem.Member.Length == 0 && problem.Id == ProblemIds.InvalidModelInput && ModelInputAttribute() is var (data, syntax))
            {
                // What [ModelInput(...)] says, or how it fits the model: on the attribute, or the argument at fault.
                return problem.Argument.Length > 0 && FindArgument(syntax, data, problem.Argument) is { } inputArgument ? inputArgument.GetLocation() : syntax.GetLocation();
            }
            if (problem.Member.Length == 0)
            {
                // Problems with what [Model(...)] says go on the attribute; problems with the class on its name.
                return problem.Id is ProblemIds.InvalidInputShape or ProblemIds.UnboundAttribute
                    ? _modelAttribute.GetLocation()
                    : _class.Identifier.GetLocation();
            }

            var (member, layer) = FindMember(problem.Member);
            if (member is null) return _class.Identifier.GetLocation();
            var memberSyntax = layer?.ApplicationSyntaxReference?.GetSyntax(_cancellationToken).FirstAncestorOrSelf<MemberDeclarationSyntax>();

            switch (problem.Id)
            {
                case ProblemIds.LayerMemberWrongType when memberSyntax is BasePropertyDeclarationSyntax property:
                    return property.Type.GetLocation();
                case ProblemIds.LayerMemberNotPartialProperty or ProblemIds.LayerMemberWrongType
                    or ProblemIds.MultipleLayerAttributes or ProblemIds.DuplicateLayerName:
                    return IdentifierLocation(memberSyntax) ?? SourceLocation(member);
            }

            if (layer?.ApplicationSyntaxReference?.GetSyntax(_cancellationToken) is not AttributeSyntax attribute)
                return SourceLocation(member);
            // "StrideHeight|Stride": the first alternative the user wrote (a per-axis override, else the square argument).
            if (problem.Argument.Length > 0)
                foreach (string name in problem.Argument.Split('|'))
                    if (FindArgument(attribute, layer, name) is { } argument)
                        return argument.GetLocation();
            return attribute.GetLocation();
        }

        /// <summary>The class's <c>[ModelInput]</c> with its syntax, or null.</summary>
        private (AttributeData Data, AttributeSyntax Syntax)? ModelInputAttribute()
        {
            foreach (var attribute in _type.GetAttributes())
                if (attribute.AttributeClass?.ToDisplayString() == ModelParser.ModelInputAttributeName
                    && attribute.ApplicationSyntaxReference?.GetSyntax(_cancellationToken) is AttributeSyntax syntax)
                    return (attribute, syntax);
            return null;
        }

        /// <summary>The member the parser named, and its (first) layer attribute; the parser only names members that have one.</summary>
        private (ISymbol? Member, AttributeData? Layer) FindMember(string name)
        {
            ISymbol? fallback = null;
            foreach (var member in _type.GetMembers(name))
            {
                fallback ??= member;
                foreach (var attribute in member.GetAttributes())
                    if (IsLayerAttribute(attribute.AttributeClass)) return (member, attribute);
            }
            return (fallback, null);
        }

        private bool IsLayerAttribute(INamedTypeSymbol? attributeClass)
        {
            for (var t = attributeClass?.BaseType; t is not null; t = t.BaseType)
                if (SymbolEqualityComparer.Default.Equals(t, _layerAttribute)) return true;
            return false;
        }

        private static Location? IdentifierLocation(MemberDeclarationSyntax? member) => member switch
        {
            PropertyDeclarationSyntax p => p.Identifier.GetLocation(),
            MethodDeclarationSyntax m => m.Identifier.GetLocation(),
            EventDeclarationSyntax e => e.Identifier.GetLocation(),
            BaseFieldDeclarationSyntax { Declaration.Variables.Count: > 0 } f => f.Declaration.Variables[0].Identifier.GetLocation(),
            _ => null,
        };

        /// <summary>The member's location in user code (partial members also have one in generated code).</summary>
        private Location SourceLocation(ISymbol member)
        {
            foreach (var location in member.Locations)
                if (location.IsInSource && location.SourceTree == _class.SyntaxTree) return location;
            foreach (var location in member.Locations)
                if (location.IsInSource) return location;
            return _class.Identifier.GetLocation();
        }

        /// <summary>
        /// The argument that binds to constructor parameter or named property <paramref name="name"/>
        /// (case-insensitive: problems say <c>units</c> for the parameter and <c>Activation</c> for the property).
        /// </summary>
        private static AttributeArgumentSyntax? FindArgument(AttributeSyntax attribute, AttributeData data, string name)
        {
            if (attribute.ArgumentList is not { } list) return null;
            var parameters = data.AttributeConstructor?.Parameters ?? ImmutableArray<IParameterSymbol>.Empty;
            int position = 0;
            foreach (var argument in list.Arguments)
            {
                string? bound;
                if (argument.NameEquals is { } property) bound = property.Name.Identifier.ValueText;
                else
                {
                    bound = argument.NameColon?.Name.Identifier.ValueText
                        ?? (position < parameters.Length ? parameters[position].Name
                            : parameters.Length > 0 && parameters[parameters.Length - 1].IsParams ? parameters[parameters.Length - 1].Name : null);
                    position++;
                }
                if (string.Equals(bound, name, StringComparison.OrdinalIgnoreCase)) return argument;
            }
            return null;
        }
    }
}
