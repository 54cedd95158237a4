// Fixes MG0101 (a layer that needs a flat input receives a multi-dimensional one) by declaring a new
// '[Flatten] public partial Layer FlattenN { get; }' member right above the diagnosed layer.
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
using ModelGen.Generators.Parsing;
using ModelGen.Generators.Shapes;

namespace ModelGen.CodeFixes;

/// <summary>Inserts a <c>[Flatten]</c> layer before a layer that expects a flat input.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(InsertFlattenCodeFixProvider)), Shared]
public sealed class InsertFlattenCodeFixProvider : CodeFixProvider
{
    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(ProblemIds.ExpectsFlatInput);

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
            if (node.FirstAncestorOrSelf<AttributeSyntax>() is not { } attribute
                || attribute.FirstAncestorOrSelf<PropertyDeclarationSyntax>() is not { Parent: TypeDeclarationSyntax type } property)
                continue;
            string name = FreeName(type);
            context.RegisterCodeFix(
                CodeAction.Create($"Insert [Flatten] layer '{name}' before '{property.Identifier.ValueText}'",
                    ct => InsertAsync(context.Document, attribute, property, name, ct), equivalenceKey: nameof(InsertFlattenCodeFixProvider)),
                diagnostic);
        }
    }

    /// <summary><c>Flatten1</c>, <c>Flatten2</c>, ...: the first name no member (or weight name) of the class uses.</summary>
    private static string FreeName(TypeDeclarationSyntax type)
    {
        var taken = new HashSet<string>();
        foreach (var member in type.Members)
        {
            string? memberName = member switch
            {
                PropertyDeclarationSyntax p => p.Identifier.ValueText,
                MethodDeclarationSyntax m => m.Identifier.ValueText,
                BaseTypeDeclarationSyntax t => t.Identifier.ValueText,
                BaseFieldDeclarationSyntax f => f.Declaration.Variables.FirstOrDefault()?.Identifier.ValueText,
                _ => null,
            };
            if (memberName is null) continue;
            taken.Add(memberName);
            taken.Add(ModelParser.ToWeightName(memberName));
        }
        for (int n = 1; ; n++)
        {
            string candidate = "Flatten" + n;
            if (!taken.Contains(candidate) && !taken.Contains(ModelParser.ToWeightName(candidate))) return candidate;
        }
    }

    private static async Task<Document> InsertAsync(Document document, AttributeSyntax attribute, PropertyDeclarationSyntax property, string name, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null) return document;

        // Spell the attribute the way the diagnosed one is spelled ([Dense] -> [Flatten], [ModelGen.Dense] -> [ModelGen.Flatten]).
        string attributeName = attribute.Name switch
        {
            QualifiedNameSyntax q => q.Left + ".Flatten",
            AliasQualifiedNameSyntax a => a.Alias + "::Flatten",
            _ => "Flatten",
        };
        string modifiers = string.Join(" ", property.Modifiers.Select(m => m.Text));
        if (!property.Modifiers.Any(SyntaxKind.PartialKeyword)) modifiers = (modifiers + " partial").TrimStart();
        var flatten = SyntaxFactory.ParseMemberDeclaration($"[{attributeName}] {modifiers} {property.Type.WithoutTrivia()} {name} {{ get; }}")!
            .WithLeadingTrivia(SyntaxEdits.Indentation(property))
            .WithTrailingTrivia(property.GetTrailingTrivia().Any(SyntaxKind.EndOfLineTrivia) ? property.GetTrailingTrivia() : SyntaxFactory.TriviaList(SyntaxFactory.ElasticCarriageReturnLineFeed));
        return document.WithSyntaxRoot(root.InsertNodesBefore(property, new[] { flatten }));
    }
}
