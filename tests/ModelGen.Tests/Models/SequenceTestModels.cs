// Sequence models for the end-to-end tests: token ids, per-position layers, LayerNorm, pooling over time, a run-time T.
namespace ModelGen.Tests.Models;

/// <summary>A per-position token tagger without recurrence: Embedding (padding row), LayerNorm, two Dense layers.</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 40)]
public partial class TokenMlpTagger
{
    [Embedding(11, 6, PaddingIdx = 0)]         public partial Layer Emb { get; }
    [LayerNorm]                                public partial Layer Norm { get; }
    [Dense(5, Activation = Activation.Tanh)]   public partial Layer Hidden { get; }
    [Dense(3)]                                 public partial Layer Out { get; }
}

/// <summary>Float sequences averaged over their real positions into one vector per example.</summary>
[Model(Dim.Seq, 4)]
public partial class SeqPoolNet
{
    [Dense(7, Activation = Activation.Tanh)] public partial Layer Proj { get; }
    [LayerNorm(Eps = 1e-3)]                  public partial Layer Norm { get; }
    [GlobalAvgPool]                          public partial Layer Pool { get; }
    [Dense(2)]                               public partial Layer Out { get; }
}

/// <summary>The maximum over real positions (not smooth: checked against the kernels rather than finite differences).</summary>
[Model(Dim.Seq, 3)]
public partial class SeqMaxNet
{
    [GlobalMaxPool] public partial Layer Pool { get; }
    [Dense(2)]      public partial Layer Out { get; }
}

/// <summary>Average pooling over time after a residual per-position block and dropout.</summary>
[Model(Dim.Seq, InputType = typeof(int))]
public partial class TokenAvgClassifier
{
    [Embedding(9, 5)]                              public partial Layer Emb { get; }
    [Dense(5, Activation = Activation.ReLU)]       public partial Layer Mix { get; }
    [Add(nameof(Emb), nameof(Mix))]                public partial Layer Sum { get; }
    [Dropout(0.3)]                                 public partial Layer Drop { get; }
    [GlobalAvgPool]                                public partial Layer Pool { get; }
    [Dense(3)]                                     public partial Layer Out { get; }
}

/// <summary>A causal recurrent tagger (unidirectional LSTM then GRU), for stateful step-by-step inference.</summary>
[Model(Dim.Seq, InputType = typeof(int))]
public partial class StepTagger
{
    [Embedding(13, 5)]            public partial Layer Emb { get; }
    [LSTM(7, Layers = 2)]         public partial Layer Lstm { get; }
    [GRU(6)]                      public partial Layer Gru { get; }
    [Dense(4)]                    public partial Layer Out { get; }
}

/// <summary>A bidirectional LSTM classifier over float sequences (final state), with lengths.</summary>
[Model(Dim.Seq, 3)]
public partial class BiLstmClassifier
{
    [LSTM(5, Bidirectional = true, ReturnSequences = false)] public partial Layer Lstm { get; }
    [Dense(2)]                                              public partial Layer Out { get; }
}

/// <summary>Three ids per position (word, suffix, shape), one embedding each, joined along the features.</summary>
[Model(Dim.Seq, 3, InputType = typeof(int))]
public partial class FeatureTagger
{
    [Embedding(10, 4)]                                  public partial Layer Word { get; }
    [Embedding(6, 3, Column = 1, From = Layer.Input)]   public partial Layer Suffix { get; }
    [Embedding(5, 2, Column = 2, From = Layer.Input)]   public partial Layer Shape { get; }
    [Concat(nameof(Word), nameof(Suffix), nameof(Shape))] public partial Layer Features { get; }
    [GRU(5, Bidirectional = true)]                      public partial Layer Rnn { get; }
    [Dense(3)]                                          public partial Layer Out { get; }
}

/// <summary>Token and learned position embeddings (GPT-style input), LayerNorm, a per-position head.</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 6)]
public partial class PositionTagger
{
    [Embedding(9, 6)]        public partial Layer Tok { get; }
    [PositionEmbedding(6)]   public partial Layer Pos { get; }
    [LayerNorm]              public partial Layer Norm { get; }
    [Dense(3)]               public partial Layer Out { get; }
}

/// <summary>The fixed sinusoidal encoding added to float sequences.</summary>
[Model(Dim.Seq, 4)]
public partial class SinePositionNet
{
    [PositionEmbedding(10, Sinusoidal = true)] public partial Layer Pos { get; }
    [Dense(2)]                                 public partial Layer Out { get; }
}

/// <summary>A tiny GPT: token and learned position embeddings, two causal pre-LN blocks (odd head width), a head.</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 8)]
public partial class TinyGpt
{
    [Embedding(11, 6)]                                                                                           public partial Layer Tok { get; }
    [PositionEmbedding(8)]                                                                                       public partial Layer Pos { get; }
    [TransformerEncoder(Heads = 2, FeedForward = 10, Layers = 2, NormFirst = true, Causal = true, Dropout = 0, Activation = Activation.GELU)] public partial Layer Blocks { get; }
    [LayerNorm]                                                                                                  public partial Layer LnF { get; }
    [Dense(11)]                                                                                                  public partial Layer Head { get; }
}

/// <summary>A tiny GPT with rotary embeddings (RoPE, head width 4) and no position table: two causal pre-LN blocks, a head.</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 8)]
public partial class RopeGpt
{
    [Embedding(11, 8)]                                                                                           public partial Layer Tok { get; }
    [TransformerEncoder(Heads = 2, FeedForward = 10, Layers = 2, NormFirst = true, Causal = true, Dropout = 0, Activation = Activation.GELU, Rotary = true)] public partial Layer Blocks { get; }
    [LayerNorm]                                                                                                  public partial Layer LnF { get; }
    [Dense(11)]                                                                                                  public partial Layer Head { get; }
}

/// <summary>A post-norm, non-causal rotary encoder over float sequences (head width 6, base 100), pooled over real positions.</summary>
[Model(Dim.Seq, 5, MaxLength = 6)]
public partial class RopeEncoderClassifier
{
    [Dense(6)]                                                                   public partial Layer Proj { get; }
    [TransformerEncoder(Heads = 1, FeedForward = 7, Dropout = 0, Activation = Activation.GELU, Rotary = true, RotaryBase = 100)] public partial Layer Encoder { get; }
    [GlobalAvgPool]                                                              public partial Layer Pool { get; }
    [Dense(2)]                                                                   public partial Layer Out { get; }
}

/// <summary>A post-norm, non-causal encoder classifier over float sequences, pooled over real positions (GELU: smooth for finite differences).</summary>
[Model(Dim.Seq, 5)]
public partial class EncoderClassifier
{
    [Dense(6)]                                                                   public partial Layer Proj { get; }
    [TransformerEncoder(Heads = 3, FeedForward = 7, Dropout = 0, Activation = Activation.GELU)] public partial Layer Encoder { get; }
    [GlobalAvgPool]                                                              public partial Layer Pool { get; }
    [Dense(2)]                                                                   public partial Layer Out { get; }
}

/// <summary>The tagger: token vectors permuted to [channels, T] for a Conv1D over the run-time length, then back for the LSTM.</summary>
[Model(Dim.Seq, InputType = typeof(int))]
public partial class ConvTagger
{
    [Embedding(1000, 32)]                                               public partial Layer Emb { get; }          // [T, 32]
    [Permute(1, 0)]                                                     public partial Layer ToChannels { get; }   // [32, T]
    [Conv1D(64, Kernel = 3, Padding = 1, Activation = Activation.ReLU)] public partial Layer Conv { get; }         // [64, T]
    [Permute(1, 0)]                                                     public partial Layer ToSteps { get; }      // [T, 64]
    [LSTM(32)]                                                          public partial Layer Lstm { get; }
    [Dense(10)]                                                         public partial Layer Tags { get; }
}

/// <summary>A small ConvTagger (finite differences over every parameter stay cheap): Embedding, Permute, Conv1D + ReLU, Permute, LSTM, Dense.</summary>
[Model(Dim.Seq, InputType = typeof(int))]
public partial class SmallConvTagger
{
    [Embedding(13, 5, PaddingIdx = 0)]                                  public partial Layer Emb { get; }
    [Permute(1, 0)]                                                     public partial Layer ToChannels { get; }
    [Conv1D(7, Kernel = 3, Padding = 1, Activation = Activation.ReLU)] public partial Layer Conv { get; }
    [Permute(1, 0)]                                                     public partial Layer ToSteps { get; }
    [LSTM(4)]                                                           public partial Layer Lstm { get; }
    [Dense(3)]                                                          public partial Layer Tags { get; }
}

/// <summary>
/// Float sequences through two stacked convolutions over T (dilated and grouped, then a 5-tap one with Same padding),
/// an activation, Dropout and an Add on the [C, T] layout, back to [T, C] for a per-position Dense.
/// </summary>
[Model(Dim.Seq, 4)]
public partial class ConvStackNet
{
    [Permute(1, 0)]                                                           public partial Layer ToChannels { get; }   // [4, T]
    [Conv1D(6, Kernel = 3, Dilation = 2, Padding = 2, Groups = 2)]            public partial Layer Dilated { get; }      // [6, T]
    [Tanh]                                                                    public partial Layer Squash { get; }
    [Conv1D(6, Kernel = 5, Same = true, Activation = Activation.SiLU)]        public partial Layer Wide { get; }         // [6, T]
    [Add(nameof(Squash), nameof(Wide))]                                       public partial Layer Sum { get; }
    [Permute(1, 0)]                                                           public partial Layer ToSteps { get; }      // [T, 6]
    [Dense(3)]                                                                public partial Layer Out { get; }
}

/// <summary>A fixed-shape rank-3 Permute (the general PermuteKernels path in generated code) before a Flatten and a Dense.</summary>
[Model(2, 3, 5)]
public partial class PermuteMlp
{
    [Permute(2, 0, 1)] public partial Layer Rotate { get; }   // [5, 2, 3]
    [Flatten]          public partial Layer Flat { get; }
    [Dense(4)]         public partial Layer Out { get; }
}

/// <summary>Per-position log-probabilities over the features of a float sequence (LogSoftmax on [T, F]).</summary>
[Model(Dim.Seq, 4)]
public partial class LogSoftmaxTagger
{
    [Dense(5, Activation = Activation.Tanh)] public partial Layer Proj { get; }
    [LogSoftmax]                             public partial Layer LogProbs { get; }
}
