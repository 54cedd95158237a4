using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests.Diagnostics;

/// <summary>
/// One test per diagnostic: id, severity, exact span (the <c>{|#n:...|}</c> markup) and message. The rendered
/// message is repeated as a comment above each expectation, as in CommunityToolkit's tests.
/// </summary>
public class AnalyzerTests
{
    private static Task Verify(string source, params DiagnosticResult[] expected) => new ModelAnalyzerTest(source, expected).RunAsync();

    [Fact]
    public Task ClassNotPartial_MG0001_OnClassName() => Verify("""
        using ModelGen;
        [Model(4)]
        public class {|#0:NotPartial|}
        {
            [Dense(2)] public partial Layer Fc { get; }
        }
        """,
        // Model class 'NotPartial' must be declared partial so ModelGen can generate its code
        Expect.Error("MG0001", 0, "Model class 'NotPartial' must be declared partial so ModelGen can generate its code"));

    [Fact]
    public Task GenericClass_MG0002_OnClassName() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class {|#0:Generic|}<T>
        {
            [Dense(2)] public partial Layer Fc { get; }
        }
        """,
        Expect.Error("MG0002", 0, "Model class 'Generic' must not be generic"));

    [Fact]
    public Task NestedInNonPartial_MG0002_OnClassName() => Verify("""
        using ModelGen;
        public class Outer
        {
            [Model(4)]
            public partial class {|#0:Inner|}
            {
                [Dense(2)] public partial Layer Fc { get; }
            }
        }
        """,
        Expect.Error("MG0002", 0, "Model class 'Inner' is nested in 'Outer', which must be a non-generic partial type"));

    [Fact]
    public Task NonPartialProperty_MG0003_OnPropertyName() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(2)] public Layer {|#0:Fc|} { get; }
        }
        """,
        Expect.Error("MG0003", 0, "Layer member 'Fc' must be a partial property, e.g. 'public partial Layer Fc { get; }'"));

    [Fact]
    public Task PropertyWithSetter_MG0003_OnPropertyName() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(2)] public partial Layer {|#0:Fc|} { get; set; }
        }
        """,
        Expect.Error("MG0003", 0, "Layer member 'Fc' must be a get-only instance property, e.g. 'public partial Layer Fc { get; }'"));

    [Fact]
    public Task WrongPropertyType_MG0004_OnType() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(2)] public partial {|#0:int|} Fc { get; }
        }
        """,
        Expect.Error("MG0004", 0, "Layer member 'Fc' has type 'int'; layer properties must have type ModelGen.Layer"));

    [Fact]
    public Task TwoLayerAttributes_MG0005_OnPropertyName() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(2), ReLU] public partial Layer {|#0:Fc|} { get; }
        }
        """,
        Expect.Error("MG0005", 0, "Layer member 'Fc' has 2 layer attributes (DenseAttribute, ReLUAttribute); a member is exactly one layer"));

    [Fact]
    public Task ZeroInputDimension_MG0006_OnModelAttribute() => Verify("""
        using ModelGen;
        [{|#0:Model(3, 0)|}]
        public partial class M
        {
            [Dense(2)] public partial Layer Fc { get; }
        }
        """,
        Expect.Error("MG0006", 0, "Model 'M' has input shape [3, 0]; every dimension must be positive and at least one is required"));

    [Fact]
    public Task NoInputShape_IsAShapeGenericBlock_UnusedHasNoDiagnostics() => Verify("""
        using ModelGen;
        [Model]
        public partial class Body
        {
            [Conv2D(4, Kernel = 3)] public partial Layer Conv { get; }
            [Dense(2)] public partial Layer Fc { get; }
        }
        """);

    [Fact]
    public Task ShapeGenericBlock_ErrorInside_OnTheUsingMembersAttribute() => Verify("""
        using ModelGen;
        [Model]
        public partial class Body
        {
            [Conv2D(4, Kernel = 3, Padding = 1)] public partial Layer Conv { get; }
        }
        [Model(4, 6, 6)]
        public partial class M
        {
            [Residual] public partial Body Fine { get; }
            [Flatten] public partial Layer Flat { get; }
            [{|#0:Residual|}] public partial Body Broken { get; }
        }
        """,
        // Block 'broken' (Body) on input [144] from 'flat': Conv2D 'conv' expects input [channels, height, width] but receives [144] from 'flat'
        Expect.Error("MG0105", 0, "Block 'broken' (Body) on input [144] from 'flat': Conv2D 'conv' expects input [channels, height, width] but receives [144] from 'flat'"));

    [Fact]
    public Task ShapeGenericBlock_ErrorInside_OnTheUsingPropertyWithoutAttribute() => Verify("""
        using ModelGen;
        [Model]
        public partial class Body
        {
            [Dense(3)] public partial Layer Fc { get; }
        }
        [Model(2, 5)]
        public partial class M
        {
            public partial Body {|#0:Head|} { get; }
        }
        """,
        // Block 'head' (Body) on input [2, 5] from the model input: Dense 'fc' expects a flat input but receives [2, 5] from the model input; add [Flatten] before it
        Expect.Error("MG0101", 0, "Block 'head' (Body) on input [2, 5] from the model input: Dense 'fc' expects a flat input but receives [2, 5] from the model input; add [Flatten] before it"));

    [Fact]
    public Task ShapeGenericBlock_MaxLength_MG0006_OnModelAttribute() => Verify("""
        using ModelGen;
        [{|#0:Model(MaxLength = 4)|}]
        public partial class Body
        {
            [Dense(3)] public partial Layer Fc { get; }
        }
        """,
        Expect.Error("MG0006", 0, "Block 'Body' declares no input shape, so it takes its input from each model that uses it; MaxLength belongs on that model's [Model]"));

    [Fact]
    public Task NoLayers_MG0007_OnClassName() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class {|#0:Empty|}
        {
        }
        """,
        Expect.Error("MG0007", 0, "Model 'Empty' declares no layers"));

    [Fact]
    public Task DuplicateWeightName_MG0008_OnSecondPropertyName() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(8)] public partial Layer HiddenLayer { get; }
            [Dense(2)] public partial Layer {|#0:Hidden_Layer|} { get; }
        }
        """,
        Expect.Error("MG0008", 0, "Layer 'Hidden_Layer' has the weight name 'hidden_layer', which another layer already uses"));

    [Fact]
    public Task UnreadableMergeInput_MG0009_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(4)] public partial Layer A { get; }
            [{|#0:Add(null, nameof(A))|}] public partial Layer Sum { get; }
        }
        """,
        Expect.Error("MG0009", 0, "The [Add] attribute on 'Sum' has arguments that could not be read as constants"));

    [Fact]
    public Task NullInputShape_MG0009_OnModelAttribute() => Verify("""
        using ModelGen;
        [{|#0:Model(null)|}]
        public partial class M
        {
            [Dense(2)] public partial Layer Fc { get; }
        }
        """,
        Expect.Error("MG0009", 0, "[Model] on 'M' needs the per-example input shape as integers, e.g. [Model(1, 28, 28)]"));

    /// <summary>
    /// Where the C# compiler already reports the argument (a syntax error, no constructor that fits, a value of the
    /// wrong type, a member declared twice), ModelGen says nothing: a second, derived error (e.g. "Kernel = 0" for
    /// a half-typed <c>Kernel = ,</c>) would only mislead (issue 17). The compiler's errors are not compared here.
    /// </summary>
    [Theory]
    [InlineData("[Model(1, 8, 8)]", "[Conv2D(6, Kernel = , Padding = 2)] public partial Layer C1 { get; }")]
    [InlineData("[Model(1, 8, 8)]", "[Conv2D(6, Kernel = \"3\")] public partial Layer C1 { get; }")]
    [InlineData("[Model(4)]", "[Dense()] public partial Layer Fc { get; }")]
    [InlineData("[Model(4)]", "[Dense(\"x\")] public partial Layer Fc { get; }")]
    [InlineData("[Model(4)]", "[Dense(8, Activation = 3)] public partial Layer Fc { get; }")]
    [InlineData("[Model(4)]", "[Dense(8, )] public partial Layer Fc { get; }")]
    [InlineData("[Model(\"28x28\")]", "[Dense(2)] public partial Layer Fc { get; }")]
    [InlineData("[Model(4)]", "[Dense(8)] public partial Layer Fc { get; } [Dense(2)] public partial Layer Fc { get; }")]
    public Task CompilerReportedArguments_NoModelGenDiagnostic(string model, string members) =>
        Verify($"using ModelGen;\n{model}\npublic partial class M\n{{\n    {members}\n}}\n");

    /// <summary>
    /// The same declarations through the generator: the only errors of the whole compilation are the compiler's own,
    /// in the user's source (none in generated code, no CS9248/CS0117 cascades), and the stubs name the cause.
    /// </summary>
    [Theory]
    [InlineData("[Model(1, 8, 8)]", "[Conv2D(6, Kernel = , Padding = 2)] public partial Layer C1 { get; }", "CS1525")]
    [InlineData("[Model(4)]", "[Dense()] public partial Layer Fc { get; }", "CS7036")]
    [InlineData("[Model(4)]", "[Dense(\"x\")] public partial Layer Fc { get; }", "CS1503")]
    [InlineData("[Model(\"28x28\")]", "[Dense(2)] public partial Layer Fc { get; }", "CS1503")]
    [InlineData("[Model(4)]", "[Dense(8)] public partial Layer Fc { get; } [Dense(2)] public partial Layer Fc { get; }", "CS0102")]
    public void CompilerReportedArguments_GeneratorLeavesOnlyTheCompilersErrors(string model, string members, string compilerId)
    {
        string source = $"using ModelGen;\n{model}\npublic partial class M\n{{\n    {members}\n}}\n" +
            "public static class Use { public static int Size() => new M(seed: 1).ParameterCount + M.InputSize; }\n";
        var (output, result) = GeneratorRunner.Run(source);
        Assert.Empty(result.Diagnostics);
        var errors = GeneratorRunner.Errors(output);
        Assert.Contains(errors, e => e.Id == compilerId);
        Assert.All(errors, e => Assert.True(e.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) != true,
            $"error {e.Id} in generated code: {e.GetMessage()}"));
        Assert.All(errors, e => Assert.DoesNotContain(e.Id, new[] { "CS9248", "CS0117", "CS1739", "CS1729", "CS0103" }));
        Assert.Contains(result.GeneratedTrees, t => t.ToString().Contains("see the compiler's error there", StringComparison.Ordinal));
    }

    [Fact]
    public Task ZeroUnits_MG0100_OnUnitsArgument() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense({|#0:0|}, Activation = Activation.ReLU)] public partial Layer Fc { get; }
        }
        """,
        Expect.Error("MG0100", 0, "Dense 'fc' has 0 units; units must be positive"));

    [Fact]
    public Task DropoutOutOfRange_MG0100_OnNamedPArgument() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(8)] public partial Layer Fc { get; }
            [Dropout({|#0:p: 1.5|})] public partial Layer Drop { get; }
            [Dense(2)] public partial Layer Out { get; }
        }
        """,
        Expect.Error("MG0100", 0, "Dropout 'drop' has p = 1.5; p must be in [0, 1)"));

    [Fact]
    public Task NaNSlope_MG0100_OnSlopeArgument() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(8)] public partial Layer Fc { get; }
            [LeakyReLU({|#0:double.NaN|})] public partial Layer Leaky { get; }
            [Dense(2)] public partial Layer Out { get; }
        }
        """,
        Expect.Error("MG0100", 0, "LeakyReLU 'leaky' has slope NaN; the slope must be a finite number"));

    [Fact]
    public Task DenseOnImage_MG0101_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(16, 5, 5)]
        public partial class Broken
        {
            [{|#0:Dense(120)|}] public partial Layer Fc1 { get; }
            [Dense(10)] public partial Layer Fc2 { get; }
        }
        """,
        Expect.Error("MG0101", 0, "Dense 'fc1' expects a flat input but receives [16, 5, 5] from the model input; add [Flatten] before it"));

    [Fact]
    public Task LstmAfterFinalState_MG0107_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 32)]
        public partial class Net
        {
            [LSTM(64, ReturnSequences = false)] public partial Layer Encoder { get; }
            [{|#0:LSTM(64)|}] public partial Layer Decoder { get; }
        }
        """,
        // LSTM 'decoder' expects a sequence [T, features] but receives [64] from 'encoder'; it runs over time, ...
        Expect.Error("MG0107", 0, "LSTM 'decoder' expects a sequence [T, features] but receives [64] from 'encoder'; it runs over time, so its input must keep the sequence dimension (an LSTM/GRU before it needs ReturnSequences = true)"));

    [Fact]
    public Task GruOnFlatInput_MG0107_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(16)]
        public partial class Net
        {
            [{|#0:GRU(8)|}] public partial Layer Rnn { get; }
        }
        """,
        Expect.Error("MG0107", 0, "GRU 'rnn' expects a sequence [T, features] but receives [16] from the model input; it runs over time, so its input must keep the sequence dimension (an LSTM/GRU before it needs ReturnSequences = true)"));

    [Fact]
    public Task FlattenOnSequence_MG0108_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        public partial class Net
        {
            [Embedding(1000, 32)] public partial Layer Emb { get; }
            [{|#0:Flatten|}] public partial Layer Flat { get; }
            [Dense(2)] public partial Layer Out { get; }
        }
        """,
        // Flatten 'flat' receives the sequence [T, 32] from 'emb', which cannot be flattened (T is only known at run time); ...
        Expect.Error("MG0108", 0, "Flatten 'flat' receives the sequence [T, 32] from 'emb', which cannot be flattened (T is only known at run time); pool over time with [GlobalAvgPool]/[GlobalMaxPool] or use an LSTM/GRU with ReturnSequences = false"));

    [Fact]
    public Task EmbeddingOnFloats_MG0109_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 16)]
        public partial class Net
        {
            [Dense(8)] public partial Layer Proj { get; }
            [{|#0:Embedding(1000, 32)|}] public partial Layer Emb { get; }
        }
        """,
        // Embedding 'emb' expects token ids but receives the float tensor [T, 8] from 'proj'; ...
        Expect.Error("MG0109", 0, "Embedding 'emb' expects token ids but receives the float tensor [T, 8] from 'proj'; an Embedding reads the input of a token model ([Model(Dim.Seq, InputType = typeof(int))])"));

    [Fact]
    public Task DenseOnTokenIds_MG0109_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        public partial class Net
        {
            [{|#0:Dense(8)|}] public partial Layer Proj { get; }
        }
        """,
        // Dense 'proj' reads the token ids of the model input; map them to vectors with an [Embedding] layer first
        Expect.Error("MG0109", 0, "Dense 'proj' reads the token ids of the model input; map them to vectors with an [Embedding] layer first"));

    [Fact]
    public Task PositionTableShorterThanMaxLength_MG0110_OnMaxLengthArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int), MaxLength = 256)]
        public partial class CharGpt
        {
            [Embedding(96, 128)] public partial Layer Tok { get; }
            [PositionEmbedding({|#0:128|})] public partial Layer Pos { get; }
        }
        """,
        // PositionEmbedding 'pos' holds 128 positions, but the model accepts sequences of up to MaxLength = 256
        Expect.Error("MG0110", 0, "PositionEmbedding 'pos' holds 128 positions, but the model accepts sequences of up to MaxLength = 256"));

    [Fact]
    public Task HeadsNotDividingWidth_MG0111_OnHeadsArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        public partial class Lm
        {
            [Embedding(96, 100)] public partial Layer Tok { get; }
            [TransformerEncoder({|#0:Heads = 8|}, FeedForward = 256)] public partial Layer Blocks { get; }
        }
        """,
        // TransformerEncoder 'blocks' splits its width 100 (from 'tok') into 8 heads, which does not divide it; ...
        Expect.Error("MG0111", 0, "TransformerEncoder 'blocks' splits its width 100 (from 'tok') into 8 heads, which does not divide it; use a head count that divides 100"));

    [Fact]
    public Task AttentionDropoutOutOfRange_MG0100_OnTheNamedArguments() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        public partial class Encoder
        {
            [Embedding(96, 16)] public partial Layer Tok { get; }
            [TransformerEncoder(Heads = 4, FeedForward = 32, {|#0:AttentionDropout = 1|})] public partial Layer Blocks { get; }
        }
        [Model(Dim.Seq, 16)]
        public partial class Attention
        {
            [MultiHeadAttention(4, {|#1:Dropout = 1.5|})] public partial Layer Attn { get; }
        }
        [Model(Dim.Seq, 16)]
        public partial class Decoder
        {
            [TransformerEncoder(Heads = 4, FeedForward = 32)] public partial Layer Blocks { get; }
            [TransformerDecoder(Heads = 4, FeedForward = 32, Memory = nameof(Blocks), {|#2:AttentionDropout = 2|})] public partial Layer Dec { get; }
        }
        """,
        Expect.Error("MG0100", 0, "TransformerEncoder 'blocks' has AttentionDropout = 1; it must be in [0, 1), or negative for the same as Dropout"),
        Expect.Error("MG0100", 1, "MultiHeadAttention 'attn' has Dropout = 1.5; it must be in [0, 1)"),
        Expect.Error("MG0100", 2, "TransformerDecoder 'dec' has AttentionDropout = 2; it must be in [0, 1), or negative for the same as Dropout"));

    [Fact]
    public Task AttentionHeadsNotDividingWidth_MG0111_OnHeadsArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 10)]
        public partial class Block
        {
            [LayerNorm] public partial Layer Ln { get; }
            [MultiHeadAttention({|#0:4|}, Causal = true)] public partial Layer Attn { get; }
        }
        """,
        // MultiHeadAttention 'attn' splits its width 10 (from 'ln') into 4 heads, which does not divide it; ...
        Expect.Error("MG0111", 0, "MultiHeadAttention 'attn' splits its width 10 (from 'ln') into 4 heads, which does not divide it; use a head count that divides 10"));

    [Fact]
    public Task AttentionOnFlatInput_MG0107_OnAttribute() => Verify("""
        using ModelGen;
        [Model(12)]
        public partial class Flat
        {
            [Dense(8)] public partial Layer Fc { get; }
            [{|#0:MultiHeadAttention(2)|}] public partial Layer Attn { get; }
        }
        """,
        // MultiHeadAttention 'attn' expects a sequence [T, features] but receives [8] from 'fc'
        Expect.Error("MG0107", 0, "MultiHeadAttention 'attn' expects a sequence [T, features] but receives [8] from 'fc'"));

    [Fact]
    public Task AttentionMemoryUnknown_MG0011_OnMemoryArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 8)]
        public partial class Cross
        {
            [Dense(8)] public partial Layer Q { get; }
            [MultiHeadAttention(2, {|#0:Memory = "Encoder"|})] public partial Layer Attn { get; }
        }
        """,
        // MultiHeadAttention 'attn' reads 'Encoder', which is not a layer of 'Cross' (use nameof(...) or Layer.Input)
        Expect.Error("MG0011", 0, "MultiHeadAttention 'attn' reads 'Encoder', which is not a layer of 'Cross' (use nameof(...) or Layer.Input)"));

    [Fact]
    public Task AttentionMemoryDeclaredLater_MG0011_OnMemoryArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 8)]
        public partial class Cross
        {
            [MultiHeadAttention(2, {|#0:Memory = nameof(Mem)|})] public partial Layer Attn { get; }
            [Dense(8)] public partial Layer Mem { get; }
        }
        """,
        // MultiHeadAttention 'attn' reads 'Mem', which is declared after it (or is itself); layers run in declaration order
        Expect.Error("MG0011", 0, "MultiHeadAttention 'attn' reads 'Mem', which is declared after it (or is itself); layers run in declaration order"));

    [Fact]
    public Task AttentionMemoryNotASequence_MG0107_OnMemoryArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 8)]
        public partial class Cross
        {
            [GlobalAvgPool] public partial Layer Summary { get; }
            [Dense(8, From = Layer.Input)] public partial Layer Q { get; }
            [MultiHeadAttention(2, {|#0:Memory = nameof(Summary)|})] public partial Layer Attn { get; }
        }
        """,
        // MultiHeadAttention 'attn' takes keys and values from a sequence [T, features], but its Memory 'summary' gives [8]
        Expect.Error("MG0107", 0, "MultiHeadAttention 'attn' takes keys and values from a sequence [T, features], but its Memory 'summary' gives [8]"));

    [Fact]
    public Task DecoderHeadsNotDividingWidth_MG0111_OnHeadsArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 10)]
        public partial class Dec
        {
            [Dense(10)] public partial Layer Mem { get; }
            [TransformerDecoder({|#0:Heads = 4|}, FeedForward = 8, Memory = nameof(Mem), From = Layer.Input)] public partial Layer Decoder { get; }
        }
        """,
        // TransformerDecoder 'decoder' splits its width 10 (from the model input) into 4 heads, which does not divide it; ...
        Expect.Error("MG0111", 0, "TransformerDecoder 'decoder' splits its width 10 (from the model input) into 4 heads, which does not divide it; use a head count that divides 10"));

    [Fact]
    public Task DecoderMemoryNotASequence_MG0107_OnMemoryArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 8)]
        public partial class Dec
        {
            [GlobalAvgPool] public partial Layer Summary { get; }
            [Dense(8, From = Layer.Input)] public partial Layer Q { get; }
            [TransformerDecoder(Heads = 2, FeedForward = 8, {|#0:Memory = nameof(Summary)|})] public partial Layer Decoder { get; }
        }
        """,
        // TransformerDecoder 'decoder' takes cross-attention keys and values from a sequence [T, features], but its Memory 'summary' gives [8]
        Expect.Error("MG0107", 0, "TransformerDecoder 'decoder' takes cross-attention keys and values from a sequence [T, features], but its Memory 'summary' gives [8]"));

    [Fact]
    public Task DecoderMemoryUnknown_MG0011_OnMemoryArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 8)]
        public partial class Dec
        {
            [Dense(8)] public partial Layer Q { get; }
            [TransformerDecoder(Heads = 2, FeedForward = 8, {|#0:Memory = "Encoder"|})] public partial Layer Decoder { get; }
        }
        """,
        // TransformerDecoder 'decoder' reads 'Encoder', which is not a layer of 'Dec' (use nameof(...) or Layer.Input)
        Expect.Error("MG0011", 0, "TransformerDecoder 'decoder' reads 'Encoder', which is not a layer of 'Dec' (use nameof(...) or Layer.Input)"));

    [Fact]
    public Task DecoderMemoryDeclaredLater_MG0011_OnMemoryArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 8)]
        public partial class Dec
        {
            [TransformerDecoder(Heads = 2, FeedForward = 8, {|#0:Memory = nameof(Mem)|})] public partial Layer Decoder { get; }
            [Dense(8)] public partial Layer Mem { get; }
        }
        """,
        // TransformerDecoder 'decoder' reads 'Mem', which is declared after it (or is itself); layers run in declaration order
        Expect.Error("MG0011", 0, "TransformerDecoder 'decoder' reads 'Mem', which is declared after it (or is itself); layers run in declaration order"));

    [Fact]
    public Task DecoderWithoutMemory_MG0100_OnAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 8)]
        public partial class Dec
        {
            [{|#0:TransformerDecoder(Heads = 2, FeedForward = 8)|}] public partial Layer Decoder { get; }
        }
        """,
        // TransformerDecoder 'decoder' has no Memory; set Memory = nameof(...) to the member (an encoder) whose [T, features] output its cross-attention reads
        Expect.Error("MG0100", 0, "TransformerDecoder 'decoder' has no Memory; set Memory = nameof(...) to the member (an encoder) whose [T, features] output its cross-attention reads"));

    [Fact]
    public Task PermuteRepeatingAnAxis_MG0113_OnDimsArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        public partial class Net
        {
            [Embedding(1000, 32)] public partial Layer Emb { get; }
            [Permute({|#0:1|}, 1)] public partial Layer Swap { get; }
            [Dense(2)] public partial Layer Out { get; }
        }
        """,
        // Permute 'swap' has dims [1, 1], which is not a permutation of the axes 0 to 1 of its input [T, 32] from 'emb' ...
        Expect.Error("MG0113", 0, "Permute 'swap' has dims [1, 1], which is not a permutation of the axes 0 to 1 of its input [T, 32] from 'emb' (each axis once; the batch is not counted)"));

    [Fact]
    public Task PermuteWithTooManyAxes_MG0105_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 8)]
        public partial class Net
        {
            [{|#0:Permute(0, 2, 1)|}] public partial Layer Swap { get; }
            [Dense(2)] public partial Layer Out { get; }
        }
        """,
        // Permute 'swap' lists 3 axes [0, 2, 1], but its input [T, 8] from the model input has 2 (axes count from 0 and exclude the batch)
        Expect.Error("MG0105", 0, "Permute 'swap' lists 3 axes [0, 2, 1], but its input [T, 8] from the model input has 2 (axes count from 0 and exclude the batch)"));

    [Fact]
    public Task NonSquareKernelTooWide_MG0104_OnKernelWidthArgument() => Verify("""
        using ModelGen;
        [Model(1, 8, 6)]
        public partial class M
        {
            [Conv2D(4, Kernel = 3, {|#0:KernelWidth = 7|})] public partial Layer Conv { get; }
        }
        """,
        // Conv2D 'conv' kernel 3x7 is larger than its input 8x6
        Expect.Error("MG0104", 0, "Conv2D 'conv' kernel 3x7 is larger than its input 8x6"));

    [Fact]
    public Task PoolPaddingTooLargeOnOneAxis_MG0100_OnPaddingHeightArgument() => Verify("""
        using ModelGen;
        [Model(1, 8, 8)]
        public partial class M
        {
            [AvgPool2D(2, 4, {|#0:PaddingHeight = 2|}, Padding = 1)] public partial Layer Pool { get; }
        }
        """,
        // AvgPool2D 'pool' has Padding = (2, 1); it must be between 0 and half the kernel (1, 2)
        Expect.Error("MG0100", 0, "AvgPool2D 'pool' has Padding = (2, 1); it must be between 0 and half the kernel (1, 2)"));

    [Fact]
    public Task ReflectPaddingTooWide_MG0130_OnPaddingWidthArgument() => Verify("""
        using ModelGen;
        [Model(1, 8, 3)]
        public partial class M
        {
            [Conv2D(4, Kernel = 7, Padding = 1, {|#0:PaddingWidth = 3|}, PaddingMode = PaddingMode.Reflect)] public partial Layer Conv { get; }
        }
        """,
        // Conv2D 'conv' pads its width by 3 with PaddingMode = Reflect, which needs a padding smaller than its input 8x3 from the model input
        Expect.Error("MG0130", 0, "Conv2D 'conv' pads its width by 3 with PaddingMode = Reflect, which needs a padding smaller than its input 8x3 from the model input"));

    [Fact]
    public Task PaddingModeOverT_MG0108_OnPaddingModeArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 4)]
        public partial class Net
        {
            [Permute(1, 0)] public partial Layer ToChannels { get; }
            [Conv1D(8, Kernel = 3, Padding = 1, {|#0:PaddingMode = PaddingMode.Replicate|})] public partial Layer Conv { get; }
            [Permute(1, 0)] public partial Layer ToSteps { get; }
        }
        """,
        // Conv1D 'conv' receives the sequence [4, T] from 'to_channels', but PaddingMode = Replicate works only on fixed-size inputs (over the run-time length it pads with zeros)
        Expect.Error("MG0108", 0, "Conv1D 'conv' receives the sequence [4, T] from 'to_channels', but PaddingMode = Replicate works only on fixed-size inputs (over the run-time length it pads with zeros)"));

    [Fact]
    public Task UnpaddedConv1DOverT_MG0114_OnKernelArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        public partial class Net
        {
            [Embedding(1000, 32)] public partial Layer Emb { get; }
            [Permute(1, 0)] public partial Layer ToChannels { get; }
            [Conv1D(64, {|#0:Kernel = 3|})] public partial Layer Conv { get; }
            [Permute(1, 0)] public partial Layer ToSteps { get; }
            [Dense(2)] public partial Layer Out { get; }
        }
        """,
        // Conv1D 'conv' runs over the run-time length of its input [32, T] from 'to_channels', but its output length would be T - 2 ...
        Expect.Error("MG0114", 0, "Conv1D 'conv' runs over the run-time length of its input [32, T] from 'to_channels', but its output length would be T - 2 instead of T, so the sequence lengths would no longer describe the positions; use Stride = 1 and Padding = 1 (or Same = true)"));

    [Fact]
    public Task StridedConv1DOverT_MG0114_OnStrideArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 4)]
        public partial class Net
        {
            [Permute(1, 0)] public partial Layer ToChannels { get; }
            [Conv1D(8, Kernel = 3, Padding = 1, {|#0:Stride = 2|})] public partial Layer Conv { get; }
            [Permute(1, 0)] public partial Layer ToSteps { get; }
        }
        """,
        // Conv1D 'conv' runs over the run-time length of its input [4, T] from 'to_channels', but its output length would be about T/2 ...
        Expect.Error("MG0114", 0, "Conv1D 'conv' runs over the run-time length of its input [4, T] from 'to_channels', but its output length would be about T/2 instead of T, so the sequence lengths would no longer describe the positions; use Stride = 1 and Padding = 1 (or Same = true)"));

    [Fact]
    public Task LstmOnChannelsFirst_MG0108_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 4)]
        public partial class Net
        {
            [Permute(1, 0)] public partial Layer ToChannels { get; }
            [{|#0:LSTM(8)|}] public partial Layer Rnn { get; }
        }
        """,
        // LSTM 'rnn' receives [4, T] from 'to_channels', whose run-time length T is not the first axis; ...
        Expect.Error("MG0108", 0, "LSTM 'rnn' receives [4, T] from 'to_channels', whose run-time length T is not the first axis; such tensors take Permute, Conv1D (keeping the length), activations other than Softmax, Dropout and Add; use [Permute] to put T first"));

    [Fact]
    public Task ModelEndingChannelsFirst_MG0108_OnLastLayer() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 4)]
        public partial class Net
        {
            [Permute(1, 0)] public partial Layer ToChannels { get; }
            [{|#0:Conv1D(8, Kernel = 3, Padding = 1)|}] public partial Layer Conv { get; }
        }
        """,
        // Model 'Net' ends with [8, T] from 'conv', whose run-time length T is not the first axis; ...
        Expect.Error("MG0108", 0, "Model 'Net' ends with [8, T] from 'conv', whose run-time length T is not the first axis; outputs, losses and lengths are per position [T, features], so end with [Permute] to put T first"));

    [Fact]
    public Task Conv1DOnSteps_MG0108_SuggestsPermute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 4)]
        public partial class Net
        {
            [{|#0:Conv1D(8, Kernel = 3, Padding = 1)|}] public partial Layer Conv { get; }
        }
        """,
        // Conv1D 'conv' receives the sequence [T, 4] from the model input, but works only on fixed-size tensors; ...; a Conv1D reads [channels, T]: put [Permute(1, 0)] before it
        Expect.Error("MG0108", 0, "Conv1D 'conv' receives the sequence [T, 4] from the model input, but works only on fixed-size tensors; sequence tensors [T, features] take Dense, LayerNorm, LSTM, GRU, activations, Dropout, Add, Concat and GlobalAvgPool/GlobalMaxPool; a Conv1D reads [channels, T]: put [Permute(1, 0)] before it"));

    [Fact]
    public Task FloatSecondInputWithoutWidth_MG0116_OnShapeArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        [ModelInput("Source", {|#0:Dim.Seq|}, InputType = typeof(float))]
        public partial class Net
        {
            [Embedding(20, 8)] public partial Layer Tgt { get; }
            [Dense(3)] public partial Layer Out { get; }
        }
        """,
        // [ModelInput] 'Source' on 'Net' has shape [T]; a second input of floats is [Dim.Seq, features] ...
        Expect.Error("MG0116", 0, "[ModelInput] 'Source' on 'Net' has shape [T]; a second input of floats is [Dim.Seq, features] (S vectors of a positive width per example), or set InputType = typeof(int) for [Dim.Seq] token ids"));

    [Fact]
    public Task FloatSecondInputOfZeroWidth_MG0116_OnShapeArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        [ModelInput("Frames", {|#0:Dim.Seq|}, 0)]
        public partial class Net
        {
            [Embedding(20, 8)] public partial Layer Tgt { get; }
            [Dense(3)] public partial Layer Out { get; }
        }
        """,
        Expect.Error("MG0116", 0, "[ModelInput] 'Frames' on 'Net' has shape [T, 0]; a second input of floats is [Dim.Seq, features] (S vectors of a positive width per example), or set InputType = typeof(int) for [Dim.Seq] token ids"));

    [Fact]
    public Task TokenSecondInputWithWidth_MG0116_OnShapeArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        [ModelInput("Source", {|#0:Dim.Seq|}, 16, InputType = typeof(int))]
        public partial class Net
        {
            [Embedding(20, 8)] public partial Layer Tgt { get; }
            [Dense(3)] public partial Layer Out { get; }
        }
        """,
        Expect.Error("MG0116", 0, "[ModelInput] 'Source' on 'Net' has shape [T, 16]; a second input of token ids is [Dim.Seq] (S ids per example)"));

    [Fact]
    public Task DoubleSecondInput_MG0116_OnInputTypeArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        [ModelInput("Source", Dim.Seq, 16, {|#0:InputType = typeof(double)|})]
        public partial class Net
        {
            [Embedding(20, 8)] public partial Layer Tgt { get; }
            [Dense(3)] public partial Layer Out { get; }
        }
        """,
        Expect.Error("MG0116", 0, "[ModelInput] 'Source' on 'Net' has InputType = typeof(double); a second input is token ids (typeof(int)) or float vectors (typeof(float), the default)"));

    [Fact]
    public Task EmbeddingOfFloatSecondInput_MG0109_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        [ModelInput("Frames", Dim.Seq, 16)]
        public partial class Net
        {
            [{|#0:Embedding(20, 8, From = "Frames")|}] public partial Layer Src { get; }
            [Embedding(20, 8, From = Layer.Input)] public partial Layer Tgt { get; }
            [TransformerDecoder(Heads = 2, FeedForward = 16, Memory = nameof(Src))] public partial Layer Dec { get; }
        }
        """,
        Expect.Error("MG0109", 0, "Embedding 'src' expects token ids but receives the float tensor [S, 16] from the input 'Frames', a second input of float vectors; read it with a layer such as [Dense] or as a Memory, or declare token ids with [ModelInput(name, Dim.Seq, InputType = typeof(int))]"));

    [Fact]
    public Task RecurrentLayerOverFloatSource_MG0117_OnFromArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 4)]
        [ModelInput("Frames", Dim.Seq, 16)]
        public partial class Net
        {
            [LSTM(8, {|#0:From = "Frames"|})] public partial Layer Rnn { get; }
            [MultiHeadAttention(2, Memory = nameof(Rnn), From = Layer.Input)] public partial Layer Cross { get; }
        }
        """,
        Expect.Error("MG0117", 0, "LSTM 'rnn' reads [S, 16] from the input 'Frames', over the second input's length S; layers over S are Embedding, PositionEmbedding, TransformerEncoder, MultiHeadAttention, LayerNorm, Dense, Dropout and activations, and S meets T only as the Memory of a TransformerDecoder or MultiHeadAttention"));

    [Fact]
    public Task FloatSourceAsQueries_MG0117_OnFromArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 4)]
        [ModelInput("Frames", Dim.Seq, 4)]
        public partial class Net
        {
            [MultiHeadAttention(2, {|#0:From = "Frames"|}, Memory = Layer.Input)] public partial Layer Cross { get; }
        }
        """,
        Expect.Error("MG0117", 0, "MultiHeadAttention 'cross' reads [S, 4] from the input 'Frames', over the second input's length S, as its queries; cross-attention takes queries from the model input's T and reads S through Memory"));

    [Fact]
    public Task SecondInputNamedLikeAMember_MG0116_OnNameArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        [ModelInput({|#0:"Src"|}, Dim.Seq, InputType = typeof(int))]
        public partial class Net
        {
            [Embedding(20, 8, From = "Src")] public partial Layer Src { get; }
            [Dense(3)] public partial Layer Out { get; }
        }
        """,
        // Model 'Net' names its second input 'Src', which is also a member's name; From = "Src" would be ambiguous
        Expect.Error("MG0116", 0, "Model 'Net' names its second input 'Src', which is also a member's name; From = \"Src\" would be ambiguous"));

    [Fact]
    public Task SecondInputOfAFixedSizeModel_MG0116_OnModelInputAttribute() => Verify("""
        using ModelGen;
        [Model(4)]
        [{|#0:ModelInput("Source", Dim.Seq, InputType = typeof(int))|}]
        public partial class Net
        {
            [Dense(3)] public partial Layer Out { get; }
        }
        """,
        // Model 'Net' declares the second input 'Source' but its own input [4] has no run-time length; ...
        Expect.Error("MG0116", 0, "Model 'Net' declares the second input 'Source' but its own input [4] has no run-time length; a model with [ModelInput] starts its [Model] shape with Dim.Seq"));

    [Fact]
    public Task RecurrentLayerOverSource_MG0117_OnLayerAttribute() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        [ModelInput("Source", Dim.Seq, InputType = typeof(int))]
        public partial class Net
        {
            [Embedding(20, 8, From = "Source")] public partial Layer Src { get; }
            [{|#0:LSTM(8)|}] public partial Layer Rnn { get; }
            [Embedding(20, 8, From = Layer.Input)] public partial Layer Tgt { get; }
            [TransformerDecoder(Heads = 2, FeedForward = 16, Memory = nameof(Rnn))] public partial Layer Dec { get; }
        }
        """,
        // LSTM 'rnn' reads [S, 8] from 'src', over the second input's length S; layers over S are Embedding, ...
        Expect.Error("MG0117", 0, "LSTM 'rnn' reads [S, 8] from 'src', over the second input's length S; layers over S are Embedding, PositionEmbedding, TransformerEncoder, MultiHeadAttention, LayerNorm, Dense, Dropout and activations, and S meets T only as the Memory of a TransformerDecoder or MultiHeadAttention"));

    [Fact]
    public Task AddOfSourceAndTarget_MG0117_OnFromArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        [ModelInput("Source", Dim.Seq, InputType = typeof(int))]
        public partial class Net
        {
            [Embedding(20, 8, From = "Source")] public partial Layer Src { get; }
            [Embedding(20, 8, From = Layer.Input)] public partial Layer Tgt { get; }
            [TransformerDecoder(Heads = 2, FeedForward = 16, {|#0:From = nameof(Src)|}, Memory = nameof(Tgt))] public partial Layer Dec { get; }
        }
        """,
        // TransformerDecoder 'dec' reads [S, 8] from 'src', over the second input's length S, as its queries; ...
        Expect.Error("MG0117", 0, "TransformerDecoder 'dec' reads [S, 8] from 'src', over the second input's length S, as its queries; cross-attention takes queries from the model input's T and reads S through Memory"));

    [Fact]
    public Task ModelEndingOverSource_MG0117_OnLastLayer() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        [ModelInput("Source", Dim.Seq, InputType = typeof(int))]
        public partial class Net
        {
            [Embedding(20, 8, From = Layer.Input)] public partial Layer Tgt { get; }
            [Embedding(20, 8, From = "Source")] public partial Layer Src { get; }
            [{|#0:TransformerEncoder(Heads = 2, FeedForward = 16)|}] public partial Layer Enc { get; }
        }
        """,
        // Model 'Net' ends with [S, 8] from 'enc', over the second input's length S; ...
        Expect.Error("MG0117", 0, "Model 'Net' ends with [S, 8] from 'enc', over the second input's length S; outputs, losses and lengths are per position of the model input [T, features], so end on a layer that reads S only as a Memory (TransformerDecoder, MultiHeadAttention)"));

    [Fact]
    public Task RotaryOddHeadWidth_MG0115_OnRotaryArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int), MaxLength = 128)]
        public partial class Lm
        {
            [Embedding(96, 120)] public partial Layer Tok { get; }
            [TransformerEncoder(Heads = 8, FeedForward = 256, {|#0:Rotary = true|})] public partial Layer Blocks { get; }
        }
        """,
        Expect.Error("MG0115", 0, "TransformerEncoder 'blocks' uses rotary embeddings, which rotate pairs of features, but its heads have 15 features (width 120 / 8 heads), an odd number; choose Heads so that 120 / Heads is even"));

    [Fact]
    public Task RotaryWithoutMaxLength_MG0110_OnRotaryArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int))]
        public partial class Lm
        {
            [Embedding(96, 128)] public partial Layer Tok { get; }
            [TransformerEncoder(Heads = 4, FeedForward = 256, Causal = true, {|#0:Rotary = true|})] public partial Layer Blocks { get; }
        }
        """,
        Expect.Error("MG0110", 0, "TransformerEncoder 'blocks' uses rotary embeddings, whose fixed table holds MaxLength positions, but the model sets no MaxLength, so it accepts sequences of any length; set MaxLength on [Model]"));

    [Fact]
    public Task RotaryBaseNotAboveOne_MG0100_OnRotaryBaseArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, InputType = typeof(int), MaxLength = 16)]
        public partial class Lm
        {
            [Embedding(96, 128)] public partial Layer Tok { get; }
            [TransformerEncoder(Heads = 4, FeedForward = 256, Rotary = true, {|#0:RotaryBase = 1|})] public partial Layer Blocks { get; }
        }
        """,
        Expect.Error("MG0100", 0, "TransformerEncoder 'blocks' has RotaryBase = 1; it must be greater than 1 (and finite)"));

    [Fact]
    public Task AttentionRotaryOddHeadWidth_MG0115_OnRotaryArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 12, MaxLength = 16)]
        public partial class M
        {
            [MultiHeadAttention(4, Causal = true, {|#0:Rotary = true|})] public partial Layer Attn { get; }
        }
        """,
        Expect.Error("MG0115", 0, "MultiHeadAttention 'attn' uses rotary embeddings, which rotate pairs of features, but its heads have 3 features (width 12 / 4 heads), an odd number; choose heads so that 12 / heads is even"));

    [Fact]
    public Task CrossAttentionRotaryWithoutMaxLength_MG0110_OnRotaryArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 5)]
        public partial class M
        {
            [Dense(8)] public partial Layer Query { get; }
            [Dense(6, From = Layer.Input)] public partial Layer Mem { get; }
            [MultiHeadAttention(2, Memory = nameof(Mem), From = nameof(Query), {|#0:Rotary = true|})] public partial Layer Cross { get; }
        }
        """,
        Expect.Error("MG0110", 0, "MultiHeadAttention 'cross' uses rotary embeddings, whose fixed table holds MaxLength positions, but the model sets no MaxLength, so it accepts sequences of any length; set MaxLength on [Model]"));

    [Fact]
    public Task AttentionRotaryBaseNotAboveOne_MG0100_OnRotaryBaseArgument() => Verify("""
        using ModelGen;
        [Model(Dim.Seq, 8, MaxLength = 16)]
        public partial class M
        {
            [MultiHeadAttention(2, Rotary = true, {|#0:RotaryBase = 0.5|})] public partial Layer Attn { get; }
        }
        """,
        Expect.Error("MG0100", 0, "MultiHeadAttention 'attn' has RotaryBase = 0.5; it must be greater than 1 (and finite)"));

    [Fact]
    public Task SigmoidTwice_MG0201_OnSecondSigmoid() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(8, Activation = Activation.Sigmoid)] public partial Layer Gate { get; }
            [Dropout(0.1)] public partial Layer Drop { get; }
            [{|#0:Sigmoid|}] public partial Layer Again { get; }
            [Dense(2)] public partial Layer Out { get; }
        }
        """,
        Expect.Warning("MG0201", 0, "Sigmoid 'again' is applied to the output of 'gate', which already applied Sigmoid; remove one of them"));

    [Fact]
    public Task FusedSoftmaxHead_MG0202_OnActivationArgument() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class Classifier
        {
            [Dense(8, Activation = Activation.ReLU)] public partial Layer Fc { get; }
            [Dense(3, {|#0:Activation = Activation.Softmax|})] public partial Layer Head { get; }
        }
        """,
        Expect.Warning("MG0202", 0, "Model 'Classifier' ends in Softmax ('head'); Loss.CrossEntropy takes logits and applies log-softmax itself, so return logits and apply Softmax only where probabilities are needed"));

    [Fact]
    public Task StandaloneSoftmaxHead_MG0202_OnSoftmaxAttribute() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class Classifier
        {
            [Dense(3)] public partial Layer Head { get; }
            [{|#0:Softmax|}] public partial Layer Probs { get; }
        }
        """,
        Expect.Warning("MG0202", 0, "Model 'Classifier' ends in Softmax ('probs'); Loss.CrossEntropy takes logits and applies log-softmax itself, so return logits and apply Softmax only where probabilities are needed"));

    [Fact]
    public Task DropoutLast_MG0203_OnDropoutAttribute() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(3)] public partial Layer Head { get; }
            [{|#0:Dropout(0.5)|}] public partial Layer Drop { get; }
        }
        """,
        Expect.Warning("MG0203", 0, "Dropout 'drop' is the last layer of 'M'; it randomly zeroes the model's outputs during training, so put it before the last parameterised layer"));

    [Fact]
    public Task BiasBeforeBatchNorm_MG0207_OnAttributeWhenImplicit() => Verify("""
        using ModelGen;
        [Model(1, 8, 8)]
        public partial class M
        {
            [{|#0:Conv2D(4, Kernel = 3)|}] public partial Layer Conv { get; }
            [BatchNorm2D] public partial Layer Bn { get; }
            [GlobalAvgPool] public partial Layer Gap { get; }
        }
        """,
        Expect.Warning("MG0207", 0, "Conv2D 'conv' has a bias, but BatchNorm2D 'bn' right after it subtracts the batch mean and cancels it; set UseBias = false"));

    [Fact]
    public Task BiasBeforeBatchNorm_MG0207_OnUseBiasArgument() => Verify("""
        using ModelGen;
        [Model(8)]
        public partial class M
        {
            [Dense(4, {|#0:UseBias = true|})] public partial Layer Fc { get; }
            [BatchNorm1D] public partial Layer Bn { get; }
        }
        """,
        Expect.Warning("MG0207", 0, "Dense 'fc' has a bias, but BatchNorm1D 'bn' right after it subtracts the batch mean and cancels it; set UseBias = false"));

    [Fact]
    public Task BiasBeforeBatchNorm_NoWarningWithoutBiasOrWithActivation() => Verify("""
        using ModelGen;
        [Model(1, 8, 8)]
        public partial class M
        {
            [Conv2D(4, Kernel = 3, UseBias = false)] public partial Layer Conv1 { get; }
            [BatchNorm2D] public partial Layer Bn1 { get; }
            [Conv2D(4, Kernel = 3, Activation = Activation.ReLU)] public partial Layer Conv2 { get; }
            [BatchNorm2D] public partial Layer Bn2 { get; }
            [GlobalAvgPool] public partial Layer Gap { get; }
        }
        """);

    [Fact]
    public Task DeepStackWithBatchNorm_NoMG0204() => Verify(DeepStack(12).Replace("{|#0:Deep|}", "Deep")
        .Replace("[Dense(16, Activation = Activation.ReLU)] public partial Layer Fc5 { get; }",
                 "[Dense(16, Activation = Activation.ReLU)] public partial Layer Fc5 { get; }\n    [BatchNorm1D] public partial Layer Bn { get; }"));

    /// <summary>A plain stack of <paramref name="depth"/> Dense layers; layer <paramref name="tanhAt"/> (if any) uses a marked Tanh.</summary>
    private static string DeepStack(int depth, int tanhAt = -1)
    {
        var sb = new StringBuilder("using ModelGen;\n[Model(16)]\npublic partial class {|#0:Deep|}\n{\n");
        for (int i = 0; i < depth; i++)
        {
            string activation = i == depth - 1 ? "" : i == tanhAt ? ", {|#1:Activation = Activation.Tanh|}" : ", Activation = Activation.ReLU";
            sb.Append($"    [Dense(16{activation})] public partial Layer Fc{i} {{ get; }}\n");
        }
        return sb.Append("}\n").ToString();
    }

    [Fact]
    public Task ElevenPlainLayers_MG0204_OnClassName() => Verify(DeepStack(11),
        Expect.Warning("MG0204", 0, "Model 'Deep' stacks 11 parameterised layers with no normalisation or residual connection; plain stacks deeper than 10 layers train poorly"));

    [Fact]
    public Task TenPlainLayers_NoDiagnostic() => Verify(DeepStack(10).Replace("{|#0:Deep|}", "Deep"));

    [Fact]
    public Task TanhInDeepStack_MG0205_OnActivationArgument() => Verify(DeepStack(12, tanhAt: 3),
        Expect.Warning("MG0204", 0, "Model 'Deep' stacks 12 parameterised layers with no normalisation or residual connection; plain stacks deeper than 10 layers train poorly"),
        Expect.Warning("MG0205", 1, "Tanh in 'fc3' is a saturating hidden activation in a stack of 12 parameterised layers; its gradient vanishes with depth, use ReLU, GELU or SiLU"));

    [Fact]
    public Task XavierBeforeFusedReLU_MG0206_OnInitArgument() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(64, Activation = Activation.ReLU, {|#0:Init = Init.XavierUniform|})] public partial Layer Fc1 { get; }
            [Dense(2)] public partial Layer Out { get; }
        }
        """,
        Expect.Warning("MG0206", 0, "Dense 'fc1' uses Init.XavierUniform but feeds ReLU; Xavier assumes a symmetric activation and lets ReLU halve the signal variance at every layer, use Init.HeUniform"));

    [Fact]
    public Task HeBeforeStandaloneTanh_MG0206_OnInitArgument() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(64, {|#0:Init = Init.HeNormal|})] public partial Layer Fc1 { get; }
            [Tanh] public partial Layer Act { get; }
            [Dense(2)] public partial Layer Out { get; }
        }
        """,
        Expect.Warning("MG0206", 0, "Dense 'fc1' uses Init.HeNormal but feeds Tanh; He's doubled variance drives Tanh into saturation, use Init.XavierNormal"));

    [Fact]
    public Task ValidMlp_NoDiagnostics() => Verify(Samples.Mlp);

    [Fact]
    public Task SuppressedWarning_PragmaHidesIt() => Verify("""
        using ModelGen;
        [Model(4)]
        public partial class M
        {
            [Dense(3)] public partial Layer Head { get; }
        #pragma warning disable MG0203 // dropout on the outputs is intended here
            [Dropout(0.5)] public partial Layer Drop { get; }
        #pragma warning restore MG0203
        }
        """);

    /// <summary>
    /// With the markup stripped, the generator must still turn each invalid model into code that compiles
    /// (throwing stubs), so `dotnet build`, which skips analyzers once there are compile errors, shows the MG error.
    /// </summary>
    [Theory]
    [InlineData("[Dense(2)] public partial int Fc { get; }", "MG0004")]
    [InlineData("[Dense(2), ReLU] public partial Layer Fc { get; }", "MG0005")]
    [InlineData("[Dense(0)] public partial Layer Fc { get; }", "MG0100")]
    [InlineData("[Dropout(1.5)] public partial Layer Drop { get; }", "MG0100")]
    [InlineData("[Dense(8)] public partial Layer HiddenLayer { get; } [Dense(2)] public partial Layer Hidden_Layer { get; }", "MG0008")]
    public void InvalidModel_GeneratorStubs_CompileWithoutErrors(string members, string id)
    {
        string source = $"using ModelGen;\n[Model(3, 4)]\npublic partial class M\n{{\n    {(id == "MG0101" ? "" : "[Flatten] public partial Layer Flat { get; }")}\n    {members}\n}}\n";
        var (output, result) = GeneratorRunner.Run(source);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorRunner.Errors(output));
        Assert.Contains(result.GeneratedTrees, t => t.ToString().Contains(id + ":", StringComparison.Ordinal));
    }

    [Fact]
    public void MissingFlatten_GeneratorStubs_CompileWithoutErrors()
    {
        var (output, result) = GeneratorRunner.Run(Regex.Replace(Samples.MissingFlatten, @"\{\|#\d+:|\|\}", ""));
        Assert.Empty(GeneratorRunner.Errors(output));
        Assert.Contains(result.GeneratedTrees, t => t.ToString().Contains("MG0101:", StringComparison.Ordinal));
    }
}
