// The networks this sample trains, declared the ModelGen way: attributed partial classes whose forward and
// backward passes the source generator writes at compile time.
using ModelGen;

namespace Mnist;

/// <summary>
/// Multilayer perceptron 784-256-128-10 with ReLU and He initialisation, trained with random shifts (see Program.cs
/// for the recipe). He init is worth +0.4 points here over PyTorch's default Linear init (tools/reference/mnist-check).
/// </summary>
[Model(1, 28, 28)]
public partial class MnistMlp
{
    [Flatten] public partial Layer Flat { get; }
    [Dense(256, Activation = Activation.ReLU, Init = Init.HeUniform)] public partial Layer Fc1 { get; }
    [Dense(128, Activation = Activation.ReLU, Init = Init.HeUniform)] public partial Layer Fc2 { get; }
    [Dense(10, Init = Init.HeUniform)] public partial Layer Fc3 { get; }
}

/// <summary>LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, as PyTorch tutorials write it, plus dropout before the classifier.</summary>
[Model(1, 28, 28)]
public partial class LeNet5
{
    [Conv2D(6, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer C1 { get; }
    [MaxPool2D(2)] public partial Layer S2 { get; }
    [Conv2D(16, Kernel = 5, Activation = Activation.ReLU)] public partial Layer C3 { get; }
    [MaxPool2D(2)] public partial Layer S4 { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(120, Activation = Activation.ReLU)] public partial Layer F5 { get; }
    [Dense(84, Activation = Activation.ReLU)] public partial Layer F6 { get; }
    [Dropout(0.2)] public partial Layer Drop { get; }
    [Dense(10)] public partial Layer Logits { get; }
}

/// <summary>
/// torchvision's BasicBlock body: conv-BN-ReLU-conv-BN (the residual add and final ReLU are in the parent). Declared
/// without an input shape, so each member that uses it specialises it at the shape it receives there; its convolutions
/// keep the width they receive (8, 16 or 32 channels).
/// </summary>
[Model]
public partial class BasicBlock
{
    [Conv2D(Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Conv2D(Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>Downsampling BasicBlock to 16 channels at half the resolution (its input's shape comes from where it is used).</summary>
[Model]
public partial class Down16
{
    [Conv2D(16, Kernel = 3, Stride = 2, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Conv2D(16, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>Downsampling BasicBlock to 32 channels at half the resolution.</summary>
[Model]
public partial class Down32
{
    [Conv2D(32, Kernel = 3, Stride = 2, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Conv2D(32, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>A small ResNet: stem, then 3 stages of 2 residual BasicBlocks (8, 16, 32 channels), global pooling, classifier.</summary>
[Model(1, 28, 28)]
public partial class MnistResNet
{
    [Conv2D(8, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Stem { get; }
    [BatchNorm2D] public partial Layer StemBn { get; }
    [ReLU] public partial Layer StemRelu { get; }
    [Residual] public partial BasicBlock Layer1a { get; }
    [ReLU] public partial Layer Relu1a { get; }
    [Residual] public partial BasicBlock Layer1b { get; }
    [ReLU] public partial Layer Relu1b { get; }
    [Residual(Projection = true)] public partial Down16 Layer2a { get; }
    [ReLU] public partial Layer Relu2a { get; }
    [Residual] public partial BasicBlock Layer2b { get; }
    [ReLU] public partial Layer Relu2b { get; }
    [Residual(Projection = true)] public partial Down32 Layer3a { get; }
    [ReLU] public partial Layer Relu3a { get; }
    [Residual] public partial BasicBlock Layer3b { get; }
    [ReLU] public partial Layer Relu3b { get; }
    [GlobalAvgPool] public partial Layer Pool { get; }
    [Dense(10)] public partial Layer Fc { get; }
}
