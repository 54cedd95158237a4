// Fixes MG0001 (model class not partial), MG0002 (model class nested in a non-partial type) and MG0003 (layer
// member is an auto-property without 'partial') by adding the 'partial' modifier where it is missing.
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ModelGen.Generators.Shapes;

namespace ModelGen.CodeFixes;

/// <summary>Adds <c>partial</c> to a model class, its containing types, or a layer property.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(AddPartialCodeFixProvider)), Shared]
public sealed class AddPartialCodeFixProvider : CodeFixProvider
{
    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(
        ProblemIds.ClassNotPartial, ProblemIds.UnsupportedClassForm, ProblemIds.LayerMemberNotPartialProperty);

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null) return;
        foreach (var diagnostic in context.Diagnostics)
        {
            var node = root.FindNode(diagnostic.Location.SourceSpan);
            switch (diagnostic.Id)
            {
                case ProblemIds.ClassNotPartial when node.FirstAncestorOrSelf<TypeDeclarationSyntax>() is { } type:
                    Register(context, diagnostic, $"Make '{type.Identifier.ValueText}' partial", new[] { (MemberDeclarationSyntax)type });
                    break;
                case ProblemIds.UnsupportedClassForm when node.FirstAncestorOrSelf<TypeDeclarationSyntax>() is { } type:
                    // Only the nesting form is mechanical; a generic model class needs a redesign.
                    var containers = type.Ancestors().OfType<TypeDeclarationSyntax>()
                        .Where(t => !t.Modifiers.Any(SyntaxKind.PartialKeyword) && t.TypeParameterList is null)
                        .Cast<MemberDeclarationSyntax>().ToArray();
                    if (containers.Length > 0)
                        Register(context, diagnostic, $"Make the types containing '{type.Identifier.ValueText}' partial", containers);
                    break;
                case ProblemIds.LayerMemberNotPartialProperty when node.FirstAncestorOrSelf<PropertyDeclarationSyntax>() is { } property
                                                                   && IsGetOnlyAutoProperty(property):
                    Register(context, diagnostic, $"Make '{property.Identifier.ValueText}' a partial property", new[] { (MemberDeclarationSyntax)property });
                    break;
            }
        }
    }

    private static void Register(CodeFixContext context, Diagnostic diagnostic, string title, IReadOnlyList<MemberDeclarationSyntax> targets) =>
        context.RegisterCodeFix(
            CodeAction.Create(title, ct => AddPartialAsync(context.Document, targets, ct), equivalenceKey: "AddPartial:" + diagnostic.Id),
            diagnostic);

    /// <summary>Only <c>Layer X { get; }</c> becomes valid by adding 'partial'; setters, bodies or initialisers need a human.</summary>
    private static bool IsGetOnlyAutoProperty(PropertyDeclarationSyntax property) =>
        !property.Modifiers.Any(SyntaxKind.PartialKeyword) && !property.Modifiers.Any(SyntaxKind.StaticKeyword)
        && property.Initializer is null && property.ExpressionBody is null
        && property.AccessorList is { Accessors.Count: 1 } accessors
        && accessors.Accessors[0] is { Body: null, ExpressionBody: null } accessor
        && accessor.IsKind(SyntaxKind.GetAccessorDeclaration);

    private static async Task<Document> AddPartialAsync(Document document, IReadOnlyList<MemberDeclarationSyntax> targets, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null) return document;
        var updated = root.ReplaceNodes(targets, static (_, rewritten) => SyntaxEdits.AddPartialModifier(rewritten));
        return document.WithSyntaxRoot(updated);
    }
}
