// The networks this sample trains, declared the ModelGen way: attributed partial classes whose forward and
// backward passes the source generator writes at compile time.
using ModelGen;

namespace Mnist;

/// <summary>Multilayer perceptron 784-256-128-10 with ReLU, trained with random shifts (see Program.cs for the recipe).</summary>
[Model(1, 28, 28)]
public partial class MnistMlp
{
    [Flatten] public partial Layer Flat { get; }
    [Dense(256, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [Dense(128, Activation = Activation.ReLU)] public partial Layer Fc2 { get; }
    [Dense(10)] public partial Layer Fc3 { get; }
}
