// Models built from [MultiHeadAttention] for the end-to-end tests: a user's own pre-LN attention block used under [Residual]
// in a causal token model (KV-cache decoding through the block), and cross-attention over another member's output, with
// a memory of another width (kdim/vdim) and of the model width (packed in_proj_weight, no bias), and rotary embeddings on both.
namespace ModelGen.Tests.Models;

/// <summary>A user's attention block: pre-LN (LayerNorm, then causal self-attention), to be wrapped in [Residual].</summary>
[Model(Dim.Seq, 6)]
public partial class PreLnAttentionBlock
{
    [LayerNorm]                                   public partial Layer Ln { get; }
    [MultiHeadAttention(3, Causal = true)]        public partial Layer Attn { get; }
}

/// <summary>A causal token model of two residual attention blocks of the user's design, a final LayerNorm and a head.</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 8)]
public partial class BlockGpt
{
    [Embedding(11, 6)]                            public partial Layer Tok { get; }
    [PositionEmbedding(8)]                        public partial Layer Pos { get; }
    [Residual]                                    public partial PreLnAttentionBlock Block1 { get; }
    [Residual]                                    public partial PreLnAttentionBlock Block2 { get; }
    [LayerNorm]                                   public partial Layer LnF { get; }
    [Dense(11)]                                   public partial Layer Head { get; }
}

/// <summary>Cross-attention: queries from one projection of the input, keys and values from another of width 4 (kdim = vdim = 4).</summary>
[Model(Dim.Seq, 5)]
public partial class CrossAttentionNet
{
    [Dense(6)]                                                              public partial Layer Query { get; }
    [Dense(4, Activation = Activation.Tanh, From = Layer.Input)]            public partial Layer Mem { get; }
    [MultiHeadAttention(3, Memory = nameof(Mem), From = nameof(Query))]     public partial Layer Cross { get; }
    [GlobalAvgPool]                                                         public partial Layer Pool { get; }
    [Dense(2)]                                                              public partial Layer Out { get; }
}

/// <summary>Causal cross-attention over a memory of the model width (packed in_proj_weight), without biases, output per position.</summary>
[Model(Dim.Seq, 5, MaxLength = 6)]
public partial class PackedCrossNet
{
    [Dense(6)]                                                                                        public partial Layer Query { get; }
    [Dense(6, Activation = Activation.Tanh, From = Layer.Input)]                                      public partial Layer Mem { get; }
    [MultiHeadAttention(2, Memory = nameof(Mem), From = nameof(Query), Causal = true, UseBias = false)] public partial Layer Cross { get; }
    [Dense(3)]                                                                                        public partial Layer Out { get; }
}

/// <summary>Rotary embeddings (head width 4) on causal self-attention and on causal cross-attention over a memory of width 6, output per position.</summary>
[Model(Dim.Seq, 5, MaxLength = 7)]
public partial class RopeAttentionNet
{
    [Dense(8)]                                                                                                              public partial Layer Query { get; }
    [MultiHeadAttention(2, Causal = true, Rotary = true)]                                                                   public partial Layer Self { get; }
    [Dense(6, Activation = Activation.Tanh, From = Layer.Input)]                                                            public partial Layer Mem { get; }
    [MultiHeadAttention(2, Memory = nameof(Mem), From = nameof(Self), Causal = true, Rotary = true, RotaryBase = 100)]      public partial Layer Cross { get; }
    [Dense(3)]                                                                                                              public partial Layer Out { get; }
}

/// <summary>
/// Cross-attention over the model input itself, which (9 features) is wider than every layer's output (at most 4): the
/// memory's gradient is added into dInput after the query path's, through scratch sized for the input, not for a layer.
/// </summary>
[Model(Dim.Seq, 9)]
public partial class WideInputCrossNet
{
    [Dense(4, Activation = Activation.Tanh)]                                       public partial Layer Query { get; }
    [MultiHeadAttention(2, Memory = Layer.Input, From = nameof(Query))]            public partial Layer Cross { get; }
    [Dense(3)]                                                                     public partial Layer Out { get; }
}

/// <summary>Two per-position Dense branches over a wide input (9 features, outputs of 3): dInput gets one branch's gradient added to the other's.</summary>
[Model(Dim.Seq, 9)]
public partial class WideInputBranchNet
{
    [Dense(3, Activation = Activation.Tanh)]                                       public partial Layer Left { get; }
    [Dense(3, Activation = Activation.Tanh, From = Layer.Input)]                   public partial Layer Right { get; }
    [Add(nameof(Left), nameof(Right))]                                             public partial Layer Sum { get; }
}

/// <summary>
/// An encoder-decoder over two inputs of their own lengths: source ids [S] → Embedding + positions → encoder → LayerNorm, target ids
/// [T] → Embedding → a causal decoder stack whose cross-attention reads the encoder's [S, 8] (Tq ≠ Tk, source padding masked),
/// plus a single cross-attention layer over the same memory (kdim 8 = d, no bias). GELU feed-forwards keep finite differences smooth.
/// </summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 16)]
[ModelInput("Source", Dim.Seq, InputType = typeof(int))]
public partial class Seq2SeqNet
{
    [Embedding(9, 8, From = "Source")]                                                       public partial Layer Src { get; }
    [PositionEmbedding(16)]                                                                  public partial Layer SrcPos { get; }
    [TransformerEncoder(Heads = 2, FeedForward = 12, NormFirst = true, Activation = Activation.GELU)] public partial Layer Encoder { get; }
    [LayerNorm]                                                                              public partial Layer EncNorm { get; }
    [Embedding(11, 8, From = Layer.Input)]                                                   public partial Layer Tgt { get; }
    [TransformerDecoder(Heads = 2, FeedForward = 12, Layers = 2, NormFirst = true, Activation = Activation.GELU, Memory = nameof(EncNorm))] public partial Layer Decoder { get; }
    [MultiHeadAttention(4, UseBias = false, Memory = nameof(EncNorm))]                       public partial Layer Cross { get; }
    [Dense(11)]                                                                              public partial Layer Head { get; }
}

/// <summary>
/// Attention-weight dropout over a second input of its own length: the encoder over S drops its self-attention weights (p = 0.3),
/// the decoder's self- and cross-attention weights over the encoder's [S, 8] are dropped (p = 0.4, element dropout 0 so only the
/// attention masks are random), and a single cross-attention layer over S drops its weights too (p = 0.5). Output per target position.
/// </summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 16)]
[ModelInput("Source", Dim.Seq, InputType = typeof(int))]
public partial class Seq2SeqDroppedNet
{
    [Embedding(9, 8, From = "Source")]                                                                          public partial Layer Src { get; }
    [TransformerEncoder(Heads = 2, FeedForward = 12, Dropout = 0, AttentionDropout = 0.3, Activation = Activation.GELU)] public partial Layer Encoder { get; }
    [Embedding(11, 8, From = Layer.Input)]                                                                      public partial Layer Tgt { get; }
    [TransformerDecoder(Heads = 2, FeedForward = 12, Layers = 2, Dropout = 0, AttentionDropout = 0.4, Activation = Activation.GELU, Memory = nameof(Encoder))] public partial Layer Decoder { get; }
    [MultiHeadAttention(2, Memory = nameof(Encoder), Dropout = 0.5)]                                            public partial Layer Cross { get; }
    [Dense(11)]                                                                                                 public partial Layer Head { get; }
}

/// <summary>
/// Attention-weight dropout (PyTorch's <c>nn.MultiheadAttention(dropout)</c>) on causal self-attention (p = 0.3) and on causal
/// cross-attention over a memory of width 4 (p = 0.5), output per position: training drops weights, inference and the cached
/// step do not.
/// </summary>
[Model(Dim.Seq, 5, MaxLength = 7)]
public partial class DroppedAttentionNet
{
    [Dense(6)]                                                                                                  public partial Layer Query { get; }
    [MultiHeadAttention(2, Causal = true, Dropout = 0.3)]                                                       public partial Layer Self { get; }
    [Dense(4, Activation = Activation.Tanh, From = Layer.Input)]                                                public partial Layer Mem { get; }
    [MultiHeadAttention(3, Memory = nameof(Mem), From = nameof(Self), Causal = true, Dropout = 0.5)]            public partial Layer Cross { get; }
    [Dense(3)]                                                                                                  public partial Layer Out { get; }
}

/// <summary>
/// A second input of float vectors (<c>[ModelInput("Source", Dim.Seq, 13)]</c>: S frames of 13 features, wider than every layer
/// output and read by two layers, so its gradient is summed through scratch): a per-position Dense + LayerNorm + encoder over S
/// that a decoder's cross-attention reads, and a GELU straight off the source (a layer without parameters, whose gradient only
/// dSource wants) that a cross-attention layer reads with kdim = vdim = 13. The model input is a float [T, 6] sequence, so
/// Backward writes both dInput and dSource. No dropout: finite differences see one function.
/// </summary>
[Model(Dim.Seq, 6, MaxLength = 16)]
[ModelInput("Source", Dim.Seq, 13)]
public partial class FloatSourceNet
{
    [Dense(8, From = "Source")]                                                                                  public partial Layer Proj { get; }
    [LayerNorm]                                                                                                  public partial Layer SrcNorm { get; }
    [TransformerEncoder(Heads = 2, FeedForward = 12, Dropout = 0, Activation = Activation.GELU)]                 public partial Layer Encoder { get; }
    [Dense(8, Activation = Activation.Tanh, From = Layer.Input)]                                                 public partial Layer Tgt { get; }
    [TransformerDecoder(Heads = 2, FeedForward = 12, Dropout = 0, Activation = Activation.GELU, Memory = nameof(Encoder))] public partial Layer Decoder { get; }
    [GELU(From = "Source")]                                                                                      public partial Layer SrcAct { get; }
    [MultiHeadAttention(2, Memory = nameof(SrcAct), From = nameof(Decoder))]                                     public partial Layer Cross { get; }
    [Dense(3)]                                                                                                   public partial Layer Head { get; }
}
