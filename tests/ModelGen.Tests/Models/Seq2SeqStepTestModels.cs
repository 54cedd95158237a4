// Two-input models that decode step by step (PrepareSource + ForwardStep): a pre-norm encoder-decoder with heads of odd width
// (d 9, 3 heads) and learned positions on both sides, and a post-norm one whose target side holds a causal self-attention
// stack before the decoder (two self-attention caches) and whose memory is narrower than the decoder (kdim 5 ≠ d 6).
namespace ModelGen.Tests.Models;

/// <summary>Source: embedding, positions, encoder, LayerNorm; target: embedding, positions, 2-layer pre-norm decoder, LayerNorm, head.</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 12)]
[ModelInput("Source", Dim.Seq, InputType = typeof(int))]
public partial class Seq2SeqStepNet
{
    [Embedding(7, 9, From = "Source")]                                                                          public partial Layer Src { get; }
    [PositionEmbedding(16)]                                                                                     public partial Layer SrcPos { get; }
    [TransformerEncoder(Heads = 3, FeedForward = 13, NormFirst = true, Dropout = 0.1, Activation = Activation.GELU)] public partial Layer Encoder { get; }
    [LayerNorm]                                                                                                 public partial Layer EncNorm { get; }
    [Embedding(11, 9, From = Layer.Input)]                                                                      public partial Layer Tgt { get; }
    [PositionEmbedding(12)]                                                                                     public partial Layer Pos { get; }
    [TransformerDecoder(Heads = 3, FeedForward = 13, Layers = 2, NormFirst = true, Dropout = 0.1, Activation = Activation.GELU, Memory = nameof(EncNorm))]
                                                                                                                public partial Layer Decoder { get; }
    [LayerNorm]                                                                                                 public partial Layer LnF { get; }
    [Dense(11)]                                                                                                 public partial Layer Head { get; }
}

/// <summary>Post-norm (PyTorch's default) with ReLU: a causal encoder stack over the target before the decoder, memory of width 5.</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 9)]
[ModelInput("Source", Dim.Seq, InputType = typeof(int))]
public partial class PostNormSeq2SeqStepNet
{
    [Embedding(8, 5, From = "Source")]                                                                          public partial Layer Src { get; }
    [TransformerEncoder(Heads = 1, FeedForward = 7, Dropout = 0)]                                               public partial Layer Encoder { get; }
    [Embedding(10, 6, From = Layer.Input)]                                                                      public partial Layer Tgt { get; }
    [PositionEmbedding(9, Sinusoidal = true)]                                                                   public partial Layer Pos { get; }
    [TransformerEncoder(Heads = 2, FeedForward = 7, Causal = true, Dropout = 0)]                                public partial Layer SelfBlock { get; }
    [TransformerDecoder(Heads = 2, FeedForward = 7, Layers = 2, Dropout = 0, Memory = nameof(Encoder))]         public partial Layer Decoder { get; }
    [Dense(10)]                                                                                                 public partial Layer Head { get; }
}

/// <summary>A float source (7 features per position): per-position projection and encoder under a decoder, and a cross-attention over the raw frames (kdim 7).</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 10)]
[ModelInput("Frames", Dim.Seq, 7)]
public partial class FloatSourceStepNet
{
    [Dense(6, From = "Frames")]                                                                                 public partial Layer FrameProj { get; }
    [TransformerEncoder(Heads = 2, FeedForward = 9, NormFirst = true, Dropout = 0)]                             public partial Layer Encoder { get; }
    [Embedding(9, 6, From = Layer.Input)]                                                                       public partial Layer Tgt { get; }
    [PositionEmbedding(10)]                                                                                     public partial Layer Pos { get; }
    [TransformerDecoder(Heads = 2, FeedForward = 9, NormFirst = true, Dropout = 0, Memory = nameof(Encoder))]   public partial Layer Decoder { get; }
    [MultiHeadAttention(3, Memory = "Frames")]                                                                  public partial Layer Cross { get; }
    [Dense(9)]                                                                                                  public partial Layer Head { get; }
}
