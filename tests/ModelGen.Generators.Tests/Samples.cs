namespace ModelGen.Generators.Tests;

/// <summary>Representative model declarations shared by the generator tests.</summary>
internal static class Samples
{
    /// <summary>The MNIST MLP shape: image input, Flatten, fused ReLU/GELU epilogues, dropout.</summary>
    public const string Mlp = """
        using ModelGen;

        namespace Demo;

        [Model(1, 28, 28)]
        public partial class Mlp
        {
            [Flatten] public partial Layer Flat { get; }
            [Dense(256, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
            [Dropout(0.1)] public partial Layer Drop1 { get; }
            [Dense(128, Activation = Activation.GELU)] public partial Layer Fc2 { get; }
            [Dense(10)] public partial Layer Fc3 { get; }
        }
        """;

    /// <summary>Every standalone activation, a bias-free Dense, a fused softmax, nesting in a partial class, global namespace.</summary>
    public const string Activations = """
        using ModelGen;

        public static partial class Zoo
        {
            [Model(17)]
            internal partial class Everything
            {
                [Dense(33, UseBias = false, Init = Init.XavierUniform)] public partial Layer Hidden1 { get; }
                [LeakyReLU(0.2)] public partial Layer Leaky { get; }
                [Dense(15, Activation = Activation.Tanh)] public partial Layer Hidden2 { get; }
                [GELU(Approximate = true)] public partial Layer Gelu { get; }
                [SiLU] public partial Layer Silu { get; }
                [Sigmoid] public partial Layer Sig { get; }
                [Tanh] public partial Layer Th { get; }
                [ReLU] public partial Layer Relu { get; }
                [Dense(3, Activation = Activation.Softmax)] public partial Layer Head { get; }
            }
        }
        """;

    /// <summary>A parameter-free head: activations after the last Dense, and a standalone Softmax output.</summary>
    public const string SoftmaxHead = """
        using ModelGen;

        namespace Demo.Heads;

        [Model(2, 3)]
        public partial class SoftmaxHead
        {
            [ReLU] public partial Layer Relu0 { get; }
            [Flatten] public partial Layer Flat { get; }
            [Dense(5, Activation = Activation.SiLU)] public partial Layer Fc { get; }
            [Sigmoid] public partial Layer Sig { get; }
            [Softmax] public partial Layer Probs { get; }
        }
        """;

    /// <summary>An invalid model: Dense on a 3-D input without Flatten.</summary>
    public const string MissingFlatten = """
        using ModelGen;

        namespace Demo;

        [Model(16, 5, 5)]
        public partial class Broken
        {
            [Dense(120)] public partial Layer Fc1 { get; }
            [Dense(10)] public partial Layer Fc2 { get; }
        }
        """;

    /// <summary>A residual model: BasicBlock with BatchNorm, a projected downsampling block, pooling and a head.</summary>
    public const string Residual = """
        using ModelGen;

        namespace Demo.Res;

        [Model(4, 8, 8)]
        public partial class Basic
        {
            [Conv2D(4, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
            [BatchNorm2D] public partial Layer Bn1 { get; }
            [ReLU] public partial Layer Relu { get; }
            [Conv2D(4, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
            [BatchNorm2D] public partial Layer Bn2 { get; }
        }

        [Model(4, 8, 8)]
        public partial class Down
        {
            [Conv2D(8, Kernel = 3, Stride = 2, Padding = 1, Activation = Activation.ReLU)] public partial Layer Conv1 { get; }
            [Conv2D(8, Kernel = 3, Padding = 1)] public partial Layer Conv2 { get; }
        }

        [Model(1, 8, 8)]
        public partial class TinyResNet
        {
            [Conv2D(4, Kernel = 3, Padding = 1, Activation = Activation.ReLU)] public partial Layer Stem { get; }
            [Residual] public partial Basic Layer1 { get; }
            [ReLU] public partial Layer Relu1 { get; }
            [Residual(Projection = true)] public partial Down Layer2 { get; }
            [Conv2D(8, Kernel = 1, Stride = 2, From = nameof(Stem))] public partial Layer Side { get; }
            [Add(nameof(Layer2), nameof(Side))] public partial Layer Sum { get; }
            [MaxPool2D(2)] public partial Layer Pool { get; }
            [GlobalAvgPool] public partial Layer Gap { get; }
            [Dense(10)] public partial Layer Fc { get; }
        }
        """;
    /// <summary>LeNet-5 (the benchmark's): each Conv2D feeds only a 2×2 MaxPool2D, so inference fuses them (ConvKernels.ForwardMaxPool).</summary>
    public const string LeNet = """
        using ModelGen;

        namespace Demo;

        [Model(1, 28, 28)]
        public partial class LeNet
        {
            [Conv2D(6, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer Conv1 { get; }
            [MaxPool2D(2)] public partial Layer Pool1 { get; }
            [Conv2D(16, Kernel = 5, Activation = Activation.ReLU)] public partial Layer Conv2 { get; }
            [MaxPool2D(2)] public partial Layer Pool2 { get; }
            [Flatten] public partial Layer Flatten { get; }
            [Dense(120, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
            [Dense(84, Activation = Activation.ReLU)] public partial Layer Fc2 { get; }
            [Dense(10)] public partial Layer Fc3 { get; }
        }
        """;
    /// <summary>
    /// PyTorch's per-axis tuples and padding modes: a reflect-padded (3, 5) kernel fused with its 2×2 max pool at inference,
    /// a circular strided conv, a (2, 3) max pool and an average pool with count_include_pad = false and divisor_override.
    /// </summary>
    public const string ConvAxes = """
        using ModelGen;

        namespace Demo;

        [Model(3, 16, 20)]
        public partial class ConvAxes
        {
            [Conv2D(8, KernelHeight = 3, KernelWidth = 5, PaddingHeight = 1, PaddingWidth = 2, PaddingMode = PaddingMode.Reflect, Activation = Activation.ReLU)] public partial Layer Conv1 { get; }
            [MaxPool2D(2)] public partial Layer Pool1 { get; }
            [Conv2D(8, Kernel = 3, StrideWidth = 2, Padding = 1, PaddingMode = PaddingMode.Circular, Activation = Activation.ReLU)] public partial Layer Conv2 { get; }
            [MaxPool2D(2, 3, PaddingWidth = 1)] public partial Layer Pool2 { get; }
            [AvgPool2D(3, 2, Padding = 1, CountIncludePad = false, DivisorOverride = 0)] public partial Layer Pool3 { get; }
            [AvgPool2D(2, DivisorOverride = 3)] public partial Layer Pool4 { get; }
            [Flatten] public partial Layer Flatten { get; }
            [Dense(10)] public partial Layer Fc { get; }
        }
        """;
    /// <summary>Residual adds after dense layers without activation: inference fuses each into DenseKernels.ForwardResidual.</summary>
    public const string ResidualMlp = """
        using ModelGen;

        namespace Demo;

        [Model(20)]
        public partial class ResidualMlp
        {
            [Dense(24, Activation = Activation.ReLU)] public partial Layer H1 { get; }
            [Dense(24)] public partial Layer F1 { get; }
            [Add(nameof(H1), nameof(F1))] public partial Layer Sum1 { get; }
            [Dense(17, Activation = Activation.Tanh)] public partial Layer H2 { get; }
            [Dense(24)] public partial Layer G { get; }
            [Add(nameof(G), nameof(Sum1))] public partial Layer Sum2 { get; }
            [Dense(5)] public partial Layer Out { get; }
        }
        """;

    /// <summary>The tagger: token ids of a run-time length, Embedding, dropout, a bidirectional LSTM, Dense per position.</summary>
    /// <summary>The Conv1D tagger: [T, 32] permuted to [32, T] for a convolution over the run-time length, back for the LSTM.</summary>
    public const string ConvTagger = """
        using ModelGen;

        namespace Demo;

        [Model(Dim.Seq, InputType = typeof(int))]
        public partial class ConvTagger
        {
            [Embedding(1000, 32)] public partial Layer Emb { get; }
            [Permute(1, 0)] public partial Layer ToChannels { get; }
            [Conv1D(64, Kernel = 3, Padding = 1, Activation = Activation.ReLU)] public partial Layer Conv { get; }
            [Permute(1, 0)] public partial Layer ToSteps { get; }
            [LSTM(32)] public partial Layer Lstm { get; }
            [Dense(10)] public partial Layer Tags { get; }
        }
        """;

    public const string Tagger = """
        using ModelGen;

        namespace Demo;

        [Model(Dim.Seq, InputType = typeof(int))]
        public partial class Tagger
        {
            [Embedding(20000, 100, PaddingIdx = 0)] public partial Layer Emb { get; }
            [Dropout(0.25)] public partial Layer Drop { get; }
            [LSTM(128, Bidirectional = true)] public partial Layer Lstm { get; }
            [Dense(104)] public partial Layer Tags { get; }
        }
        """;

    /// <summary>Float sequences through a stacked bidirectional LSTM with dropout between layers, its final state, a head.</summary>
    public const string StackedRecurrent = """
        using ModelGen;

        namespace Demo;

        [Model(Dim.Seq, 32, MaxLength = 128)]
        public partial class Encoder
        {
            [LayerNorm] public partial Layer Norm { get; }
            [LSTM(64, Layers = 2, Bidirectional = true, Dropout = 0.1)] public partial Layer Lstm { get; }
            [GRU(48, ReturnSequences = false)] public partial Layer Gru { get; }
            [Dense(10)] public partial Layer Out { get; }
        }
        """;

    /// <summary>The character-level GPT: token and position embeddings, a causal pre-LN stack, final norm, head.</summary>
    public const string CharGpt = """
        using ModelGen;

        namespace Demo;

        [Model(Dim.Seq, InputType = typeof(int), MaxLength = 128)]
        public partial class CharGpt
        {
            [Embedding(96, 128)] public partial Layer Tok { get; }
            [PositionEmbedding(128)] public partial Layer Pos { get; }
            [TransformerEncoder(Heads = 4, FeedForward = 512, NormFirst = true, Causal = true, Layers = 4, Dropout = 0.1)] public partial Layer Blocks { get; }
            [LayerNorm] public partial Layer LnF { get; }
            [Dense(96)] public partial Layer Head { get; }
        }
        """;

    /// <summary>Causal cross-attention over another member's output of another width (kdim/vdim), with a residual add: a decoder-style block.</summary>
    public const string CrossAttention = """
        using ModelGen;

        namespace Demo;

        [Model(Dim.Seq, InputType = typeof(int), MaxLength = 16)]
        public partial class CrossAttender
        {
            [Embedding(40, 32)] public partial Layer Tok { get; }
            [LayerNorm] public partial Layer Ln { get; }
            [Dense(24, Activation = Activation.GELU, From = nameof(Tok))] public partial Layer Mem { get; }
            [MultiHeadAttention(4, Memory = nameof(Mem), From = nameof(Ln), Causal = true)] public partial Layer Cross { get; }
            [Add(nameof(Tok), nameof(Cross))] public partial Layer Res { get; }
            [Dense(40)] public partial Layer Head { get; }
        }
        """;

    /// <summary>An encoder-decoder: a Transformer encoder stack over the tokens, and a decoder stack (pre-norm, causal) over another embedding of them attending to the encoder's output.</summary>
    public const string EncoderDecoder = """
        using ModelGen;

        namespace Demo;

        [Model(Dim.Seq, InputType = typeof(int), MaxLength = 32)]
        public partial class Seq2Seq
        {
            [Embedding(50, 32)] public partial Layer Src { get; }
            [TransformerEncoder(Heads = 4, FeedForward = 64, Layers = 2, NormFirst = true)] public partial Layer Encoder { get; }
            [Embedding(50, 32, From = Layer.Input)] public partial Layer Tgt { get; }
            [PositionEmbedding(32)] public partial Layer Pos { get; }
            [TransformerDecoder(Heads = 4, FeedForward = 64, Layers = 3, NormFirst = true, Activation = Activation.GELU, Memory = nameof(Encoder))] public partial Layer Decoder { get; }
            [LayerNorm] public partial Layer LnF { get; }
            [Dense(50)] public partial Layer Head { get; }
        }
        """;

    /// <summary>
    /// An encoder-decoder over two inputs ([ModelInput]): source ids of their own run-time length S through an encoder, target ids
    /// through a decoder whose cross-attention reads the encoder's [S, 32] (Tq ≠ Tk), and a cross-attention layer of its own.
    /// </summary>
    public const string TwoInputSeq2Seq = """
        using ModelGen;

        namespace Demo;

        [Model(Dim.Seq, InputType = typeof(int), MaxLength = 32)]
        [ModelInput("Source", Dim.Seq, InputType = typeof(int))]
        public partial class Translator
        {
            [Embedding(60, 32, From = "Source")] public partial Layer Src { get; }
            [PositionEmbedding(64, Sinusoidal = true)] public partial Layer SrcPos { get; }
            [TransformerEncoder(Heads = 4, FeedForward = 64, Layers = 2, NormFirst = true)] public partial Layer Encoder { get; }
            [LayerNorm] public partial Layer EncNorm { get; }
            [Embedding(50, 32, From = Layer.Input)] public partial Layer Tgt { get; }
            [PositionEmbedding(32)] public partial Layer Pos { get; }
            [TransformerDecoder(Heads = 4, FeedForward = 64, Layers = 2, NormFirst = true, Memory = nameof(EncNorm))] public partial Layer Decoder { get; }
            [MultiHeadAttention(4, Memory = nameof(EncNorm))] public partial Layer Cross { get; }
            [Dense(50)] public partial Layer Head { get; }
        }
        """;

    /// <summary>
    /// A second input of float vectors (Whisper-like: S audio frames of 20 features, as PyTorch's memory is any float tensor): a
    /// per-position Dense + sinusoidal positions + encoder over S that a decoder attends over, a cross-attention layer reading the
    /// frames themselves (Memory = "Source", kdim 20), and a backward that writes dSource.
    /// </summary>
    public const string FloatSourceSeq2Seq = """
        using ModelGen;

        namespace Demo;

        [Model(Dim.Seq, InputType = typeof(int), MaxLength = 32)]
        [ModelInput("Frames", Dim.Seq, 20)]
        public partial class Transcriber
        {
            [Dense(32, From = "Frames")] public partial Layer FrameProj { get; }
            [PositionEmbedding(256, Sinusoidal = true)] public partial Layer FramePos { get; }
            [TransformerEncoder(Heads = 4, FeedForward = 64, NormFirst = true)] public partial Layer Encoder { get; }
            [Embedding(50, 32, From = Layer.Input)] public partial Layer Tgt { get; }
            [PositionEmbedding(32)] public partial Layer Pos { get; }
            [TransformerDecoder(Heads = 4, FeedForward = 64, NormFirst = true, Memory = nameof(Encoder))] public partial Layer Decoder { get; }
            [MultiHeadAttention(4, Memory = "Frames")] public partial Layer Cross { get; }
            [Dense(50)] public partial Layer Head { get; }
        }
        """;

    /// <summary>
    /// A translator that decodes step by step: the source side (embedding, sinusoidal positions, encoder, LayerNorm) runs once in
    /// PrepareSource, which also stores the causal decoder's cross-attention keys and values; ForwardStep runs the target side.
    /// </summary>
    public const string Seq2SeqDecoding = """
        using ModelGen;

        namespace Demo;

        [Model(Dim.Seq, InputType = typeof(int), MaxLength = 32)]
        [ModelInput("Source", Dim.Seq, InputType = typeof(int))]
        public partial class StepTranslator
        {
            [Embedding(60, 32, From = "Source")] public partial Layer Src { get; }
            [PositionEmbedding(64, Sinusoidal = true)] public partial Layer SrcPos { get; }
            [TransformerEncoder(Heads = 4, FeedForward = 64, Layers = 2, NormFirst = true)] public partial Layer Encoder { get; }
            [LayerNorm] public partial Layer EncNorm { get; }
            [Embedding(50, 32, From = Layer.Input)] public partial Layer Tgt { get; }
            [PositionEmbedding(32)] public partial Layer Pos { get; }
            [TransformerDecoder(Heads = 4, FeedForward = 64, Layers = 2, NormFirst = true, Memory = nameof(EncNorm))] public partial Layer Decoder { get; }
            [LayerNorm] public partial Layer LnF { get; }
            [Dense(50)] public partial Layer Head { get; }
        }
        """;

    /// <summary>A causal Transformer with rotary embeddings (RoPE) instead of a position table; a non-default base.</summary>
    public const string RopeGpt = """
        using ModelGen;

        namespace Demo;

        [Model(Dim.Seq, InputType = typeof(int), MaxLength = 64)]
        public partial class RopeGpt
        {
            [Embedding(96, 48)] public partial Layer Tok { get; }
            [TransformerEncoder(Heads = 4, FeedForward = 96, NormFirst = true, Causal = true, Layers = 2, Dropout = 0.1, Rotary = true, RotaryBase = 500)] public partial Layer Blocks { get; }
            [LayerNorm] public partial Layer LnF { get; }
            [Dense(96)] public partial Layer Head { get; }
        }
        """;

    /// <summary>One shape-generic BasicBlock used at three shapes (identity, projected, identity) and nested in another generic block.</summary>
    public const string GenericBlocks = """
        using ModelGen;

        namespace Demo.Generic;

        [Model]
        public partial class Basic
        {
            [Conv2D(4, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
            [BatchNorm2D] public partial Layer Bn1 { get; }
            [ReLU] public partial Layer Relu { get; }
        }

        [Model]
        public partial class Twice
        {
            [Residual] public partial Basic First { get; }
            [Residual] public partial Basic Second { get; }
        }

        [Model(1, 8, 8)]
        public partial class GenericNet
        {
            [Residual(Projection = true)] public partial Basic Layer1 { get; }
            [MaxPool2D(2)] public partial Layer Pool { get; }
            [Residual] public partial Basic Layer2 { get; }
            public partial Twice Layer3 { get; }
            [GlobalAvgPool] public partial Layer Gap { get; }
            [Dense(3)] public partial Layer Fc { get; }
        }
        """;

    /// <summary>The issue-15 layers: GroupNorm, InstanceNorm2D with running statistics, InstanceNorm1D, PReLU (per channel and shared), LogSoftmax.</summary>
    public const string NormLayers = """
        using ModelGen;

        namespace Demo.Norms;

        [Model(3, 9, 9)]
        public partial class NormZoo
        {
            [Conv2D(8, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv { get; }
            [GroupNorm(4)] public partial Layer Gn { get; }
            [PReLU(8)] public partial Layer Act { get; }
            [InstanceNorm2D(Affine = true, TrackRunningStats = true)] public partial Layer In2 { get; }
            [Conv2D(4, Kernel = 3, Stride = 2)] public partial Layer Down { get; }
            [GlobalAvgPool] public partial Layer Gap { get; }
            [Dense(5)] public partial Layer Fc { get; }
            [PReLU(Init = 0.1)] public partial Layer Shared { get; }
            [LogSoftmax] public partial Layer LogProbs { get; }
        }
        """;
}
