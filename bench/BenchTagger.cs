// The benchmark's part-of-speech tagger (workload W7): the peers' Embedding(5000, 64) → bidirectional LSTM(64 → 128 per
// direction) → Linear(256 → 48) (shared/peers TorchSharpPeer.LstmTagger), declared the way a ModelGen user would.
// Member names follow the peers' modules, so the parameters come out as emb.weight, lstm.weight_ih_l0 … fc.bias in
// the order of lstm_tagger.bin; ModelGenPeer.Load checks every name and shape before copying.
using ModelGen;

namespace PeerBench;

/// <summary>Token ids [T] in [0, 5000) → 48 tag logits per position [T, 48]. No padding row and no dropout, as in the peers' model.</summary>
[Model(Dim.Seq, InputType = typeof(int))]
public partial class BenchTagger
{
    [Embedding(5000, 64)]             public partial Layer Emb { get; }
    [LSTM(128, Bidirectional = true)] public partial Layer Lstm { get; }
    [Dense(48)]                       public partial Layer Fc { get; }
}
