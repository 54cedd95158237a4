// The benchmark's pre-LN Transformer block (workload W5): the peers' PreLNBlock (shared/peers TorchSharpPeer.PreLNBlock,
// tools/make_models.py make_transformer), declared the way a ModelGen user would: one nn.TransformerEncoderLayer(128, 4,
// 512, dropout=0, activation=gelu (exact, erf), batch_first=True, norm_first=True), LayerNorm eps 1e-5, every Linear with
// its bias, packed Q/K/V projection, no final norm. The harness's transformer.bin names the tensors ln1/qkv/proj/ln2/ff1/ff2
// (in that order); ours are PyTorch's block.layers.0.norm1 … linear2, so ModelGenPeer loads it through an explicit name map.
using ModelGen;

namespace PeerBench;

/// <summary>Float sequences [T, 128] → [T, 128] through one non-causal pre-LN encoder layer (4 heads, feed-forward 512, GELU).</summary>
[Model(Dim.Seq, 128)]
public partial class BenchTransformer
{
    [TransformerEncoder(Heads = 4, FeedForward = 512, NormFirst = true, Dropout = 0, Activation = Activation.GELU)]
    public partial Layer Block { get; }
}
