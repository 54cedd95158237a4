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

    [Fact]
    public Task GroupsNotDividingChannels_MG0120_OnGroupsArgument() => Verify("""
        using ModelGen;
        [Model(3, 8, 8)]
        public partial class Net
        {
            [Conv2D(6, Kernel = 3, Padding = 1)] public partial Layer Conv { get; }
            [GroupNorm({|#0:4|})] public partial Layer Norm { get; }
        }
        """,
        // GroupNorm 'norm' splits the 6 channels of [6, 8, 8] from 'conv' into 4 groups, which does not divide them; use a group count that divides 6
        Expect.Error("MG0120", 0, "GroupNorm 'norm' splits the 6 channels of [6, 8, 8] from 'conv' into 4 groups, which does not divide them; use a group count that divides 6"));

    [Fact]
    public Task GroupNormZeroGroups_MG0100_OnGroupsArgument() => Verify("""
        using ModelGen;
        [Model(6)]
        public partial class Net
        {
            [GroupNorm({|#0:0|})] public partial Layer Norm { get; }
        }
        """,
        // GroupNorm 'norm' has 0 groups; groups must be positive
        Expect.Error("MG0100", 0, "GroupNorm 'norm' has 0 groups; groups must be positive"));

    [Fact]
    public Task GroupNormNegativeEps_MG0100_OnEpsArgument() => Verify("""
        using ModelGen;
        [Model(6, 2)]
        public partial class Net
        {
            [GroupNorm(2, {|#0:Eps = -1|})] public partial Layer Norm { get; }
        }
        """,
        // GroupNorm 'norm' has Eps = -1; it must be positive
        Expect.Error("MG0100", 0, "GroupNorm 'norm' has Eps = -1; it must be positive"));

    [Fact]
    public Task GroupNormOnSequence_MG0108_OnAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 4)]
        public partial class Net
        {
            [{|#0:GroupNorm(2)|}] public partial Layer Norm { get; }
        }
        """,
        // GroupNorm 'norm' receives the sequence [T, 4] from the model input, but works only on fixed-size tensors; ...
        Expect.Error("MG0108", 0, "GroupNorm 'norm' receives the sequence [T, 4] from the model input, but works only on fixed-size tensors; sequence tensors [T, features] take Dense, LayerNorm, LSTM, GRU, activations, Dropout, Add, Concat and GlobalAvgPool/GlobalMaxPool"));

    [Fact]
    public Task InstanceNormOverOnePosition_MG0122_OnAttribute() => Verify("""
        using ModelGen;
        [Model(3, 5)]
        public partial class Net
        {
            [Conv1D(8, Kernel = 5)] public partial Layer Conv { get; }
            [{|#0:InstanceNorm1D|}] public partial Layer Norm { get; }
        }
        """,
        // InstanceNorm1D 'norm' normalises each channel of [8, 1] from 'conv' over its length, which is a single value: ...
        Expect.Error("MG0122", 0, "InstanceNorm1D 'norm' normalises each channel of [8, 1] from 'conv' over its length, which is a single value: the output would be the bias alone (PyTorch refuses it in training); normalise over more positions, or across channels with [GroupNorm] or [LayerNorm]"));

    [Fact]
    public Task InstanceNorm1DOnFeatures_MG0105_OnAttribute() => Verify("""
        using ModelGen;
        [Model(8)]
        public partial class Net
        {
            [{|#0:InstanceNorm1D(Affine = true)|}] public partial Layer Norm { get; }
        }
        """,
        // InstanceNorm1D 'norm' expects [channels, length] but receives [8] from the model input (PyTorch would read ...)
        Expect.Error("MG0105", 0, "InstanceNorm1D 'norm' expects [channels, length] but receives [8] from the model input (PyTorch would read a batch of [features] as one unbatched [channels, length]); normalise features with [LayerNorm] or [BatchNorm1D]"));

    [Fact]
    public Task InstanceNormMomentumAboveOne_MG0100_OnMomentumArgument() => Verify("""
        using ModelGen;
        [Model(2, 3, 3)]
        public partial class Net
        {
            [InstanceNorm2D(TrackRunningStats = true, {|#0:Momentum = 1.5|})] public partial Layer Norm { get; }
        }
        """,
        // InstanceNorm2D 'norm' has Momentum = 1.5; it must be in [0, 1]
        Expect.Error("MG0100", 0, "InstanceNorm2D 'norm' has Momentum = 1.5; it must be in [0, 1]"));

    [Theory]
    [InlineData("[Conv1D(6, Kernel = 3)] public partial Layer Conv { get; } [PReLU(4)] public partial Layer Act { get; }", "MG0121")]
    [InlineData("[GroupNorm(5)] public partial Layer Norm { get; }", "MG0120")]
    [InlineData("[Conv1D(6, Kernel = 9)] public partial Layer Conv { get; } [InstanceNorm1D] public partial Layer Norm { get; }", "MG0122")]
    public void InvalidModel_GeneratorStubs_CompileWithoutErrors(string members, string id)
    {
        string source = $"using ModelGen;\n[Model(4, 9)]\npublic partial class M\n{{\n    {members}\n}}\n";
        var (output, result) = GeneratorRunner.Run(source);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorRunner.Errors(output));
        Assert.Contains(result.GeneratedTrees, t => t.ToString().Contains(id + ":", StringComparison.Ordinal));
    }
}
