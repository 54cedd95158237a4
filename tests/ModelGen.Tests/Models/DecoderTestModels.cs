// Models built from [TransformerDecoder] for the end-to-end tests: an encoder-decoder token model (the decoder's memory is
// a TransformerEncoder member, pre-norm, causal, dropout in both stacks, seeded per call) and a float model whose decoder reads a memory of
// another width (kdim/vdim names), post-norm, not causal, pooled to a class. GELU feed-forwards: finite differences of
// step 1e-2 in float are not reliable across ReLU kinks.
namespace ModelGen.Tests.Models;

/// <summary>Encoder over the embedded tokens, decoder over the same embeddings attending to the encoder's output, per-position head.</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 8)]
public partial class EncoderDecoderNet
{
    [Embedding(11, 6)]                                                                                        public partial Layer Tok { get; }
    [PositionEmbedding(8)]                                                                                    public partial Layer Pos { get; }
    [TransformerEncoder(Heads = 3, FeedForward = 5, Layers = 1, NormFirst = true, Dropout = 0.1, Activation = Activation.GELU)]
                                                                                                              public partial Layer Enc { get; }
    [TransformerDecoder(Heads = 3, FeedForward = 5, Layers = 2, NormFirst = true, Dropout = 0.1, Activation = Activation.GELU, Memory = nameof(Enc), From = nameof(Pos))]
                                                                                                              public partial Layer Dec { get; }
    [LayerNorm]                                                                                               public partial Layer LnF { get; }
    [Dense(11)]                                                                                               public partial Layer Head { get; }
}

/// <summary>A post-norm, non-causal decoder over a memory of width 4 (q/k/v_proj_weight), GELU feed-forward, pooled.</summary>
[Model(Dim.Seq, 5)]
public partial class NarrowMemoryDecoderNet
{
    [Dense(6)]                                                                                                public partial Layer Query { get; }
    [Dense(4, Activation = Activation.Tanh, From = Layer.Input)]                                              public partial Layer Mem { get; }
    [TransformerDecoder(Heads = 3, FeedForward = 7, Layers = 2, Causal = false, Dropout = 0, Activation = Activation.GELU, Memory = nameof(Mem), From = nameof(Query))]
                                                                                                              public partial Layer Dec { get; }
    [GlobalAvgPool]                                                                                           public partial Layer Pool { get; }
    [Dense(2)]                                                                                                public partial Layer Out { get; }
}

/// <summary>Three composite layers (encoder, decoder, cross-attention) share one training workspace sized by the largest.</summary>
[Model(Dim.Seq, 6)]
public partial class ThreeCompositeNet
{
    [TransformerEncoder(Heads = 2, FeedForward = 5, Dropout = 0, Activation = Activation.GELU)]                               public partial Layer Enc { get; }
    [TransformerDecoder(Heads = 3, FeedForward = 7, Dropout = 0, Activation = Activation.GELU, Memory = nameof(Enc), From = Layer.Input)] public partial Layer Dec { get; }
    [MultiHeadAttention(2, Memory = nameof(Enc))]                                                                             public partial Layer Cross { get; }
    [Dense(3)]                                                                                                                public partial Layer Out { get; }
}
