// Small syntax edits shared by the fixers. Fixes write exact text (no Formatter pass), so they keep the user's
// layout: one modifier or one member added or removed, with the surrounding trivia left as it was.
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ModelGen.CodeFixes;

internal static class SyntaxEdits
{
    /// <summary>Adds <c>partial</c> as the last modifier (C# requires it right before <c>class</c> or the property type).</summary>
    public static TMember AddPartialModifier<TMember>(TMember member) where TMember : MemberDeclarationSyntax
    {
        var modifiers = member.Modifiers;
        if (modifiers.Any(SyntaxKind.PartialKeyword)) return member;
        if (modifiers.Count > 0)
        {
            var last = modifiers.Last();
            var partial = SyntaxFactory.Token(SyntaxKind.PartialKeyword).WithTrailingTrivia(last.TrailingTrivia);
            return (TMember)member.WithModifiers(modifiers.Replace(last, last.WithTrailingTrivia(SyntaxFactory.Space)).Add(partial));
        }

        // No modifiers: the keyword (or property type) after the attributes carries the line's indentation; move it to 'partial'.
        var anchor = member.AttributeLists.Count > 0 ? member.AttributeLists.Last().GetLastToken().GetNextToken() : member.GetFirstToken();
        var leading = anchor.LeadingTrivia;
        var stripped = member.ReplaceToken(anchor, anchor.WithLeadingTrivia());
        var token = SyntaxFactory.Token(leading, SyntaxKind.PartialKeyword, SyntaxFactory.TriviaList(SyntaxFactory.Space));
        return (TMember)stripped.WithModifiers(SyntaxFactory.TokenList(token));
    }

    /// <summary>The whitespace that indents <paramref name="node"/>'s first line.</summary>
    public static SyntaxTriviaList Indentation(SyntaxNode node)
    {
        var leading = node.GetLeadingTrivia();
        int start = leading.Count;
        while (start > 0 && leading[start - 1].IsKind(SyntaxKind.WhitespaceTrivia)) start--;
        return SyntaxFactory.TriviaList(leading.Skip(start));
    }

    /// <summary>The attribute's name without namespace, alias or the <c>Attribute</c> suffix, e.g. <c>Softmax</c>.</summary>
    public static string SimpleName(AttributeSyntax attribute)
    {
        string name = attribute.Name switch
        {
            QualifiedNameSyntax q => q.Right.Identifier.ValueText,
            AliasQualifiedNameSyntax a => a.Name.Identifier.ValueText,
            SimpleNameSyntax s => s.Identifier.ValueText,
            _ => attribute.Name.ToString(),
        };
        return name.EndsWith("Attribute") ? name.Substring(0, name.Length - "Attribute".Length) : name;
    }
}
