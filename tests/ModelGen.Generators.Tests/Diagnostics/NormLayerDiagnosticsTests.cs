using Microsoft.CodeAnalysis.Testing;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests.Diagnostics;

/// <summary>
/// Diagnostics of the issue-15 layers (GroupNorm, InstanceNorm1D/2D, PReLU, LogSoftmax), each on its exact location,
/// with the rendered message above it; and the generator's throwing stubs for such models still compile.
/// </summary>
public class NormLayerDiagnosticsTests
{
    private static Task Verify(string source, params DiagnosticResult[] expected) => new ModelAnalyzerTest(source, expected).RunAsync();

    [Fact]
    public Task PReLUSlopesNotMatchingChannels_MG0121_OnNumParametersArgument() => Verify("""
        using ModelGen;
        [Model(4, 9)]
        public partial class Net
        {
            [Conv1D(6, Kernel = 3)] public partial Layer Conv { get; }
            [PReLU({|#0:4|})] public partial Layer Act { get; }
        }
        """,
        // PReLU 'act' has 4 slopes but its input [6, 7] from 'conv' has 6 channels; numParameters must be 1 (one shared slope) or 6 (one per channel)
        Expect.Error("MG0121", 0, "PReLU 'act' has 4 slopes but its input [6, 7] from 'conv' has 6 channels; numParameters must be 1 (one shared slope) or 6 (one per channel)"));

    [Fact]
    public Task PReLUSlopesNotMatchingFeatures_MG0121_NamesFeatures() => Verify("""
        using ModelGen;
        [Model(5)]
        public partial class Net
        {
            [Dense(7)] public partial Layer Fc { get; }
            [PReLU({|#0:numParameters: 5|})] public partial Layer Act { get; }
        }
        """,
        // PReLU 'act' has 5 slopes but its input [7] from 'fc' has 7 features; numParameters must be 1 (one shared slope) or 7 (one per feature)
        Expect.Error("MG0121", 0, "PReLU 'act' has 5 slopes but its input [7] from 'fc' has 7 features; numParameters must be 1 (one shared slope) or 7 (one per feature)"));

    [Fact]
    public Task PReLUZeroSlopes_MG0100_OnNumParametersArgument() => Verify("""
        using ModelGen;
        [Model(5)]
        public partial class Net
        {
            [PReLU({|#0:0|})] public partial Layer Act { get; }
        }
        """,
        // PReLU 'act' has numParameters = 0; it must be 1 (one shared slope) or the number of channels
        Expect.Error("MG0100", 0, "PReLU 'act' has numParameters = 0; it must be 1 (one shared slope) or the number of channels"));

    [Fact]
    public Task PReLUPerChannelOnSequence_MG0108_OnNumParametersArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 4)]
        public partial class Net
        {
            [PReLU({|#0:4|})] public partial Layer Act { get; }
        }
        """,
        // PReLU 'act' has 4 slopes but receives [T, 4] from the model input, which has the run-time length T; PyTorch's per-channel slopes run along dim 1, ...
        Expect.Error("MG0108", 0, "PReLU 'act' has 4 slopes but receives [T, 4] from the model input, which has the run-time length T; PyTorch's per-channel slopes run along dim 1, which T would be, so only one shared slope (numParameters = 1) works here"));

    [Fact]
    public Task LogSoftmaxOnChannelsOverTime_MG0108_OnAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 4)]
        public partial class Net
        {
            [Permute(1, 0)] public partial Layer Channels { get; }
            [{|#0:LogSoftmax|}] public partial Layer LogProbs { get; }
            [Permute(1, 0)] public partial Layer Back { get; }
        }
        """,
        // LogSoftmax 'log_probs' receives [4, T] from 'channels', whose run-time length T is not the first axis; ...
        Expect.Error("MG0108", 0, "LogSoftmax 'log_probs' receives [4, T] from 'channels', whose run-time length T is not the first axis; such tensors take Permute, Conv1D (keeping the length), activations other than Softmax, Dropout and Add; use [Permute] to put T first"));

    [Theory]
    [InlineData("[Conv1D(6, Kernel = 3)] public partial Layer Conv { get; } [PReLU(4)] public partial Layer Act { get; }", "MG0121")]
    public void InvalidModel_GeneratorStubs_CompileWithoutErrors(string members, string id)
    {
        string source = $"using ModelGen;\n[Model(4, 9)]\npublic partial class M\n{{\n    {members}\n}}\n";
        var (output, result) = GeneratorRunner.Run(source);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorRunner.Errors(output));
        Assert.Contains(result.GeneratedTrees, t => t.ToString().Contains(id + ":", StringComparison.Ordinal));
    }
}
