// The incremental pipeline. What re-runs when:
//  - Discover+Parse run only for classes carrying [Model] whose syntax or semantics changed
//    (ForAttributeWithMetadataName filters syntactically first, so unrelated edits cost almost nothing).
//  - Plan runs only when the parsed ModelSpec changed: specs are plain records of strings/ints/EquatableArrays,
//    so an edit that does not change the declaration (a method body, a comment) compares equal and stops here.
//  - Emit runs only when the plan changed.
// Diagnostics are not reported here: the analyzers report the same problems from the same Parsing/Shapes code
// (Roslyn's guidance), and for an invalid model this generator emits throwing stubs naming the problem's id.
using System.Linq;
using Microsoft.CodeAnalysis;
using ModelGen.Generators.Common;
using ModelGen.Generators.Emitting;
using ModelGen.Generators.Model;
using ModelGen.Generators.Parsing;
using ModelGen.Generators.Planning;

namespace ModelGen.Generators;

/// <summary>Generates forward/backward code for every class marked <c>[Model]</c>.</summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline steps (public so tests can assert caching).</summary>
    public static class TrackingNames
    {
        public const string Spec = nameof(Spec);
        public const string Plan = nameof(Plan);
    }

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // 1. Discover [Model] classes and 2. parse them into equatable specs.
        var specs = context.SyntaxProvider.ForAttributeWithMetadataName(
                ModelParser.ModelAttributeName,
                static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.ClassDeclarationSyntax,
                static (ctx, ct) => ModelParser.Parse((INamedTypeSymbol)ctx.TargetSymbol, ctx.Attributes[0], ct))
            .WithTrackingName(TrackingNames.Spec);

        // 3. Plan: shapes, buffer layout and schedules (pure). Blocks refer to other models by name, so each plan
        //    sees every spec; a plan that comes out equal to the previous one still stops the pipeline here.
        var allSpecs = specs.Collect().Select(static (all, _) => new EquatableArray<ModelSpec>(all.ToArray()));
        var plans = specs.Combine(allSpecs)
            .Select(static (pair, _) => Planner.PlanOrFail(pair.Left, pair.Right))
            .WithTrackingName(TrackingNames.Plan);

        // 4. Emit C#. A model this generator cannot handle (a bug) gets throwing stubs naming the failure instead of
        //    an exception, which would abort generation for every model of the project.
        context.RegisterSourceOutput(plans, static (spc, plan) =>
        {
            foreach (var file in ModelEmitter.EmitOrStub(plan))
                spc.AddSource(file.HintName, file.Source);
        });
    }
}
