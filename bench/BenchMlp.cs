// The benchmark's MLP (workloads W1 and W2): the same 784-256-256-10 network the peers build, declared the way a
// ModelGen user would. The generator emits its forward, training forward and backward; ModelGenPeer loads the
// peers' seeded weights into it by PyTorch name.
using ModelGen;

namespace PeerBench;

/// <summary>MLP 784-256-256-10: Linear+ReLU, Linear+ReLU, Linear (parameter names fc1/fc2/fc3 as in the peers' mlp.bin).</summary>
[Model(784)]
public partial class BenchMlp
{
    [Dense(256, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [Dense(256, Activation = Activation.ReLU)] public partial Layer Fc2 { get; }
    [Dense(10)]                                public partial Layer Fc3 { get; }
}
