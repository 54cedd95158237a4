// Fixes MG0201 (Softmax or Sigmoid applied to an output that already went through it) by deleting the
// standalone layer that applies it the second time. The layer has no parameters, so no weights change.
using System.Collections.Immutable;
using System.Composition;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ModelGen.Generators.Shapes;

namespace ModelGen.CodeFixes;

/// <summary>Removes a duplicated standalone <c>[Softmax]</c> or <c>[Sigmoid]</c> layer.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(RemoveRepeatedActivationCodeFixProvider)), Shared]
public sealed class RemoveRepeatedActivationCodeFixProvider : CodeFixProvider
{
    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(ProblemIds.RepeatedSquashing);

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
            // The analyzer reports MG0201 on the standalone layer's attribute; anything else is not ours to delete.
            if (node.FirstAncestorOrSelf<AttributeSyntax>() is not { } attribute
                || attribute.FirstAncestorOrSelf<PropertyDeclarationSyntax>() is not { } property)
                continue;
            string kind = SyntaxEdits.SimpleName(attribute);
            context.RegisterCodeFix(
                CodeAction.Create($"Remove the duplicated {kind} layer '{property.Identifier.ValueText}'",
                    ct => RemoveAsync(context.Document, property, ct), equivalenceKey: nameof(RemoveRepeatedActivationCodeFixProvider)),
                diagnostic);
        }
    }

    private static async Task<Document> RemoveAsync(Document document, PropertyDeclarationSyntax property, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        // KeepNoTrivia drops the member's indentation and line break with it, so no blank line is left behind.
        var updated = root?.RemoveNode(property, SyntaxRemoveOptions.KeepNoTrivia);
        return updated is null ? document : document.WithSyntaxRoot(updated);
    }
}
