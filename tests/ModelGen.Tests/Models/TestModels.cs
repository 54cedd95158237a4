// Models declared the way users declare them; the generator runs on this test project, so these tests exercise
// the real generated code. Sizes are odd on purpose (17, 33, 15, 37...) to hit every SIMD tail.
// These networks end in Softmax on purpose (the softmax forward and backward are under test), so MG0202 does not apply.
#pragma warning disable MG0202

namespace ModelGen.Tests.Models;

/// <summary>Fused epilogues of every kind, a standalone LeakyReLU/SiLU/GELU(tanh), and a softmax head.</summary>
[Model(2, 3)]
public partial class FusedNet
{
    [Flatten] public partial Layer Flat { get; }
    [Dense(17, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [LeakyReLU(0.2)] public partial Layer Leaky { get; }
    [Dense(33, Activation = Activation.GELU)] public partial Layer Fc2 { get; }
    [Dense(15, Activation = Activation.Tanh)] public partial Layer Fc3 { get; }
    [SiLU] public partial Layer Silu { get; }
    [Dense(5, Activation = Activation.Sigmoid, UseBias = false)] public partial Layer Fc4 { get; }
    [GELU(Approximate = true)] public partial Layer Gelu { get; }
    [Dense(3, Activation = Activation.Softmax)] public partial Layer Head { get; }
}

/// <summary>Plain Dense layers followed by standalone activations, ending in a standalone Softmax.</summary>
[Model(37)]
public partial class StandaloneNet
{
    [Dense(19)] public partial Layer Fc1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Dense(17, Activation = Activation.LeakyReLU, Init = Init.HeNormal)] public partial Layer Fc2 { get; }
    [Sigmoid] public partial Layer Sig { get; }
    [Dense(21, Activation = Activation.SiLU, Init = Init.XavierNormal)] public partial Layer Fc3 { get; }
    [Tanh] public partial Layer Th { get; }
    [Dense(9, UseBias = false, Activation = Activation.GELUTanh)] public partial Layer Fc4 { get; }
    [GELU] public partial Layer Gelu { get; }
    [Softmax] public partial Layer Probs { get; }
}

/// <summary>
/// A deep stack of one repeated pair of layers: the generator emits the repetition as a loop over parameter and arena
/// offsets (RunRoller), so these tests check the rolled forward, training forward and backward against the reference.
/// </summary>
#pragma warning disable MG0204, MG0205 // deep and Tanh on purpose: the test is about the rolled loops, not trainability
[Model(7)]
public partial class DeepNet
{
    [Dense(17, Activation = Activation.ReLU)] public partial Layer Fc0 { get; }
    [Dense(17, Activation = Activation.Tanh)] public partial Layer A1 { get; }
    [Dense(17)] public partial Layer B1 { get; }
    [Dense(17, Activation = Activation.Tanh)] public partial Layer A2 { get; }
    [Dense(17)] public partial Layer B2 { get; }
    [Dense(17, Activation = Activation.Tanh)] public partial Layer A3 { get; }
    [Dense(17)] public partial Layer B3 { get; }
    [Dense(17, Activation = Activation.Tanh)] public partial Layer A4 { get; }
    [Dense(17)] public partial Layer B4 { get; }
    [Dense(17, Activation = Activation.Tanh)] public partial Layer A5 { get; }
    [Dense(17)] public partial Layer B5 { get; }
    [Dense(17, Activation = Activation.Tanh)] public partial Layer A6 { get; }
    [Dense(17)] public partial Layer B6 { get; }
    [Dense(3)] public partial Layer Head { get; }
}
#pragma warning restore MG0204, MG0205

/// <summary>The block of <see cref="ResStack"/>: Dense+ReLU then Dense, back to the input's width.</summary>
[Model(17)]
public partial class DenseResBlock
{
    [Dense(33, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [Dense(17)] public partial Layer Fc2 { get; }
}

/// <summary>Six identical residual blocks (rolled into loops by the generator, the residual add fused at inference), then a head.</summary>
[Model(17)]
public partial class ResStack
{
    [Residual] public partial DenseResBlock Block1 { get; }
    [Residual] public partial DenseResBlock Block2 { get; }
    [Residual] public partial DenseResBlock Block3 { get; }
    [Residual] public partial DenseResBlock Block4 { get; }
    [Residual] public partial DenseResBlock Block5 { get; }
    [Residual] public partial DenseResBlock Block6 { get; }
    [Dense(3)] public partial Layer Head { get; }
}

/// <summary>Dropout between two layers, for train/eval semantics.</summary>
[Model(67)]
public partial class DropoutNet
{
    [Dense(33, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [Dropout(0.5)] public partial Layer Drop { get; }
    [Dense(4)] public partial Layer Fc2 { get; }
}

/// <summary>The MNIST MLP shape, for training determinism and serialization.</summary>
[Model(1, 8, 8)]
public partial class SmallMlp
{
    [Flatten] public partial Layer Flat { get; }
    [Dense(32, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [Dropout(0.1)] public partial Layer Drop { get; }
    [Dense(16, Activation = Activation.ReLU)] public partial Layer Fc2 { get; }
    [Dense(10)] public partial Layer Fc3 { get; }
}
