// The benchmark's LeNet-5 (workload W3): the network the peers build (shared/peers tools/make_models.py make_lenet and
// TorchSharpPeer.LeNet), declared the way a ModelGen user would. Member names follow the peers' module names, so the
// parameters come out as conv1.weight … fc3.bias in the same order as lenet.bin; ModelGenPeer still maps them by
// order and checks every name and shape before copying.
using ModelGen;

namespace PeerBench;

/// <summary>
/// LeNet-5 on 1×28×28: Conv 6@5×5 pad 2 + ReLU, MaxPool 2, Conv 16@5×5 + ReLU, MaxPool 2, Flatten (400),
/// Linear 120 + ReLU, Linear 84 + ReLU, Linear 10. No dropout, as in the peers' model.
/// </summary>
[Model(1, 28, 28)]
public partial class BenchLeNet
{
    [Conv2D(6, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer Conv1 { get; }
    [MaxPool2D(2)]                                                     public partial Layer Pool1 { get; }
    [Conv2D(16, Kernel = 5, Activation = Activation.ReLU)]             public partial Layer Conv2 { get; }
    [MaxPool2D(2)]                                                     public partial Layer Pool2 { get; }
    [Flatten]                                                          public partial Layer Flatten { get; }
    [Dense(120, Activation = Activation.ReLU)]                         public partial Layer Fc1 { get; }
    [Dense(84, Activation = Activation.ReLU)]                          public partial Layer Fc2 { get; }
    [Dense(10)]                                                        public partial Layer Fc3 { get; }
}
