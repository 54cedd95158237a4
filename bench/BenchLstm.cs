// The benchmark's LSTM (workload W6): nn.LSTM(32, 128, batch_first=True) returning the whole output sequence, as the
// peers build it (shared/peers TorchSharpPeer.LstmOut), declared the way a ModelGen user would. The harness's lstm.bin
// holds the bare nn.LSTM names (weight_ih_l0 …); ModelGenPeer.Load maps them onto this model's lstm.* parameters.
using ModelGen;

namespace PeerBench;

/// <summary>Float sequences [T, 32] → every step's hidden state [T, 128] (one LSTM layer, one direction, h = c = 0 at the start).</summary>
[Model(Dim.Seq, 32)]
public partial class BenchLstm
{
    [LSTM(128)] public partial Layer Lstm { get; }
}
