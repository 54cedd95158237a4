// The benchmark's character-level causal language model (workload W8): the peers' CharLM (shared/peers
// TorchSharpPeer.CharLM, tools/make_models.py make_char_lm), declared the way a ModelGen user would: token embedding
// (96, 128) plus learned positions (64, 128), two causal pre-LN encoder layers (4 heads, feed-forward 512, exact GELU,
// no dropout, LayerNorm eps 1e-5, packed Q/K/V with bias), a final LayerNorm and a Linear 128 → 96 head. Member names give
// tok.weight, pos.weight, ln_f.*, head.* as in char_lm.bin; the blocks' tensors are PyTorch's blocks.layers.{i}.norm1 …
// where the file has blocks.{i}.ln1 …, so ModelGenPeer loads it through an explicit name map.
using ModelGen;

namespace PeerBench;

/// <summary>Character ids [T] in [0, 96), T ≤ 64 → next-character logits per position [T, 96].</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 64)]
public partial class BenchCharLm
{
    [Embedding(96, 128)]    public partial Layer Tok { get; }
    [PositionEmbedding(64)] public partial Layer Pos { get; }
    [TransformerEncoder(Heads = 4, FeedForward = 512, Layers = 2, NormFirst = true, Causal = true, Dropout = 0, Activation = Activation.GELU)]
                            public partial Layer Blocks { get; }
    [LayerNorm]             public partial Layer LnF { get; }
    [Dense(96)]             public partial Layer Head { get; }
}
