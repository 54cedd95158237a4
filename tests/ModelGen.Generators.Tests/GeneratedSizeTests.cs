using ModelGen.Generators.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ModelGen.Generators.Tests;

/// <summary>
/// Issue 17: repeated structure is emitted as loops, so generated code grows with the number of distinct layer shapes,
/// not with depth. What still grows with depth is per-member API and its documentation: each layer's partial property
/// and XML doc, its row in the class's summary table, its name in the s_names table.
/// </summary>
public class GeneratedSizeTests(ITestOutputHelper output)
{
    private static (long Chars, long Lines, long CodeChars, string[] Sources) Measure(int layers)
    {
        var (compilation, result) = GeneratorRunner.Run(DeepModels.Source(layers, $"Deep{layers}"));
        Assert.Empty(GeneratorRunner.Errors(compilation));
        var sources = result.GeneratedTrees.Select(t => t.ToString()).ToArray();
        long chars = sources.Sum(s => (long)s.Length);
        long lines = sources.Sum(s => (long)s.Count(c => c == '\n'));
        // Code: every line that is not a comment, a layer's partial property (API, one per member) or the name table.
        long code = sources.SelectMany(s => s.Split('\n')).Select(l => l.Trim())
            .Where(l => !l.StartsWith("//") && !l.Contains(" partial global::ModelGen.Layer ") && !l.StartsWith("private static readonly string[] s_names"))
            .Sum(l => (long)l.Length);
        return (chars, lines, code, sources);
    }

    [Fact]
    public void Generate_50Vs200IdenticalLayers_SizeGrowsFarLessThanDepth()
    {
        var (chars50, lines50, code50, _) = Measure(50);
        var (chars200, lines200, code200, sources200) = Measure(200);
        output.WriteLine($"50 layers: {chars50:N0} chars, {lines50:N0} lines, {code50:N0} code chars; 200 layers: {chars200:N0} chars, {lines200:N0} lines, {code200:N0} code chars");

        // Unrolled code would be 4x (200/50 layers). The bound on everything, 2.5x, leaves room for what must grow with
        // depth (about 330 characters of property, documentation and summary row per layer: 2.0x measured) and little else.
        Assert.True(chars200 < 2.5 * chars50, $"generated characters: 200 layers {chars200:N0}, 50 layers {chars50:N0}, expected less than 2.5x");
        // Code apart from the per-member properties and the name table does not grow with depth: the loops' trip counts
        // and the last, unrolled layers' literals change, not the amount of code (1.25x allows for the longer literals).
        Assert.True(code200 < 1.25 * code50, $"code characters: 200 layers {code200:N0}, 50 layers {code50:N0}, expected less than 1.25x");
        Assert.Contains(sources200, s => s.Contains("for (int r = 0; r < 49; r++)"));
    }

    [Fact]
    public void Generate_StackOfResidualBlocks_RollsForwardBackwardAndPredictor()
    {
        const string source = """
            using ModelGen;
            namespace Bench;
            [Model(17)]
            public partial class DenseResBlock
            {
                [Dense(33, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
                [Dense(17)] public partial Layer Fc2 { get; }
            }
            [Model(17)]
            public partial class ResStack
            {
                [Residual] public partial DenseResBlock Block1 { get; }
                [Residual] public partial DenseResBlock Block2 { get; }
                [Residual] public partial DenseResBlock Block3 { get; }
                [Residual] public partial DenseResBlock Block4 { get; }
                [Residual] public partial DenseResBlock Block5 { get; }
                [Residual] public partial DenseResBlock Block6 { get; }
                [Dense(3)] public partial Layer Head { get; }
            }
            """;
        var (compilation, result) = GeneratorRunner.Run(source);
        Assert.Empty(GeneratorRunner.Errors(compilation));
        foreach (var part in new[] { "Forward", "Backward", "Predictor" })
        {
            var tree = result.GeneratedTrees.Single(t => t.FilePath.EndsWith($"Bench.ResStack.{part}.g.cs"));
            Assert.Contains("for (int r = 0; ", tree.ToString());
        }
    }

    [Fact]
    public void Generate_DeepSequenceModel_RollsItsPredictor()
    {
        // Twelve identical per-position Dense layers (alternating arena slots: a period of two layers, repeated 5 times past
        // the first): the sequence predictor's forward and its packing both loop over _packed[...r...].
        string layers = string.Concat(Enumerable.Range(1, 12).Select(i => $"    [Dense(16, Activation = Activation.ReLU)] public partial Layer Fc{i} {{ get; }}\n"));
        string source = "using ModelGen;\nnamespace Bench;\n[Model(Dim.Seq, 16)]\npublic partial class DeepTagger\n{\n" + layers + "    [Dense(3)] public partial Layer Head { get; }\n}\n";
        var (compilation, result) = GeneratorRunner.Run(source);
        Assert.Empty(GeneratorRunner.Errors(compilation));
        string predictor = result.GeneratedTrees.Single(t => t.FilePath.EndsWith("Bench.DeepTagger.Predictor.g.cs")).ToString();
        Assert.Contains("global::ModelGen.ISequencePredictor<float>", predictor);
        Assert.Contains("_packed[r", predictor);
        Assert.Equal(2, predictor.Split(RunRollerLoopHeader).Length - 1);   // the constructor's packing and the forward
    }

    private const string RunRollerLoopHeader = "for (int r = 0; ";
}
