// Fixes MG0104 when a convolution's output channels and kernel size were obviously swapped:
// [Conv2D(3, Kernel = 64)] on a 28x28 image almost certainly meant [Conv2D(64, Kernel = 3)]. Offered only when the
// diagnostic sits on the Kernel argument, both values are integer literals, and the channel count is a plausible
// kernel size (at most 11) that is smaller than the kernel; the re-analysis of the fixed code is the final check.
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

/// <summary>Swaps the output-channel count and the kernel size of a convolution whose kernel does not fit its input.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(SwapConvolutionArgumentsCodeFixProvider)), Shared]
public sealed class SwapConvolutionArgumentsCodeFixProvider : CodeFixProvider
{
    /// <summary>The largest channel count treated as a kernel size someone meant to write.</summary>
    private const int LargestPlausibleKernel = 11;

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(ProblemIds.KernelLargerThanInput);

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null) return;
        foreach (var diagnostic in context.Diagnostics)
        {
            if (root.FindNode(diagnostic.Location.SourceSpan).FirstAncestorOrSelf<AttributeArgumentSyntax>() is not { NameEquals.Name.Identifier.ValueText: "Kernel" } kernel
                || kernel.Parent?.Parent is not AttributeSyntax attribute
                || SyntaxEdits.SimpleName(attribute) is not ("Conv1D" or "Conv2D")
                || attribute.ArgumentList!.Arguments.FirstOrDefault() is not { NameEquals: null } channels
                || Literal(channels.Expression) is not { } channelValue
                || Literal(kernel.Expression) is not { } kernelValue
                || channelValue > LargestPlausibleKernel || channelValue >= kernelValue)
                continue;
            context.RegisterCodeFix(
                CodeAction.Create($"Swap to {SyntaxEdits.SimpleName(attribute)}({kernelValue}, Kernel = {channelValue})",
                    ct => SwapAsync(context.Document, channels, kernel, ct), equivalenceKey: nameof(SwapConvolutionArgumentsCodeFixProvider)),
                diagnostic);
        }
    }

    private static int? Literal(ExpressionSyntax expression) =>
        expression is LiteralExpressionSyntax { Token.Value: int value } ? value : null;

    private static async Task<Document> SwapAsync(Document document, AttributeArgumentSyntax channels, AttributeArgumentSyntax kernel, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null) return document;
        var updated = root.ReplaceNodes(new[] { channels.Expression, kernel.Expression },
            (original, _) => (original == channels.Expression ? kernel.Expression : channels.Expression).WithTriviaFrom(original));
        return document.WithSyntaxRoot(updated);
    }
}
