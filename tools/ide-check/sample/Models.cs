using ModelGen;

namespace Sample;

[Model(1, 28, 28)]
public partial class LeNet
{
    [Conv2D(6, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer Conv1 { get; }
    [MaxPool2D(2)] public partial Layer Pool1 { get; }
    [Conv2D(16, Kernel = 5, Activation = Activation.ReLU)] public partial Layer Conv2 { get; }
    [MaxPool2D(2)] public partial Layer Pool2 { get; }
    [Flatten] public partial Layer Flatten { get; }
    [Dense(120, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [Dense(84, Activation = Activation.ReLU)] public partial Layer Fc2 { get; }
    [Dense(10)] public partial Layer Fc3 { get; }
}

[Model(Dim.Seq, 12)]
public partial class Block
{
    [LayerNorm] public partial Layer Ln { get; }
    [MultiHeadAttention(4, Causal = true)] public partial Layer Attn { get; }
}

/// <summary>Uses the generated API: an invalid model must keep it (throwing stubs), or these lines add CS errors.</summary>
public static class Uses
{
    /// <summary>Touches constructors, constants, layers and Summary of both models.</summary>
    public static string All() =>
        $"{LeNet.ParameterCount} {new LeNet(seed: 1).Fc1.Name} {LeNet.Summary()} {Block.ParameterCount} {new Block(seed: 1).Attn.Name}";
}
