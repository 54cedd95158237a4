// The networks this sample trains. Models are generated at compile time with fixed shapes, so each (network, channels,
// size) combination is declared here: LeNet-5 and a small ResNet, for greyscale (1) and colour (3) images of 28×28 and
// 32×32, each with ModelSizes.Classes outputs. Images of any size are resized to the chosen declared size; a folder with
// fewer classes trains only its first logits (cross-entropy drives the others down). To support another size or more
// classes, add declarations (or change Classes) here: the generator then emits their code.
using ModelGen;

namespace ImageClassifier;

/// <summary>The compile-time sizes the declarations share.</summary>
public static class ModelSizes
{
    /// <summary>Logits per model: the most classes an image folder may have.</summary>
    public const int Classes = 10;
}

/// <summary>LeNet-5 with ReLU and max pooling, for 1×28×28 inputs.</summary>
[Model(1, 28, 28)]
public partial class LeNetGrey28
{
    [Conv2D(6, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer C1 { get; }
    [MaxPool2D(2)] public partial Layer S2 { get; }
    [Conv2D(16, Kernel = 5, Activation = Activation.ReLU)] public partial Layer C3 { get; }
    [MaxPool2D(2)] public partial Layer S4 { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(120, Activation = Activation.ReLU)] public partial Layer F5 { get; }
    [Dense(84, Activation = Activation.ReLU)] public partial Layer F6 { get; }
    [Dense(ModelSizes.Classes)] public partial Layer Logits { get; }
}

/// <summary>LeNet-5 for 3×28×28 inputs.</summary>
[Model(3, 28, 28)]
public partial class LeNetColour28
{
    [Conv2D(6, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer C1 { get; }
    [MaxPool2D(2)] public partial Layer S2 { get; }
    [Conv2D(16, Kernel = 5, Activation = Activation.ReLU)] public partial Layer C3 { get; }
    [MaxPool2D(2)] public partial Layer S4 { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(120, Activation = Activation.ReLU)] public partial Layer F5 { get; }
    [Dense(84, Activation = Activation.ReLU)] public partial Layer F6 { get; }
    [Dense(ModelSizes.Classes)] public partial Layer Logits { get; }
}

/// <summary>LeNet-5 as LeCun et al. drew it, for 1×32×32 inputs (no padding in the first convolution).</summary>
[Model(1, 32, 32)]
public partial class LeNetGrey32
{
    [Conv2D(6, Kernel = 5, Activation = Activation.ReLU)] public partial Layer C1 { get; }
    [MaxPool2D(2)] public partial Layer S2 { get; }
    [Conv2D(16, Kernel = 5, Activation = Activation.ReLU)] public partial Layer C3 { get; }
    [MaxPool2D(2)] public partial Layer S4 { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(120, Activation = Activation.ReLU)] public partial Layer F5 { get; }
    [Dense(84, Activation = Activation.ReLU)] public partial Layer F6 { get; }
    [Dense(ModelSizes.Classes)] public partial Layer Logits { get; }
}

/// <summary>LeNet-5 for 3×32×32 inputs (the CIFAR-10 shape).</summary>
[Model(3, 32, 32)]
public partial class LeNetColour32
{
    [Conv2D(6, Kernel = 5, Activation = Activation.ReLU)] public partial Layer C1 { get; }
    [MaxPool2D(2)] public partial Layer S2 { get; }
    [Conv2D(16, Kernel = 5, Activation = Activation.ReLU)] public partial Layer C3 { get; }
    [MaxPool2D(2)] public partial Layer S4 { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(120, Activation = Activation.ReLU)] public partial Layer F5 { get; }
    [Dense(84, Activation = Activation.ReLU)] public partial Layer F6 { get; }
    [Dense(ModelSizes.Classes)] public partial Layer Logits { get; }
}

/// <summary>torchvision's BasicBlock body (the identity shortcut comes from [Residual]).</summary>
[Model]
public partial class BasicBlock
{
    [Conv2D(Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Conv2D(Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>A downsampling block to 16 channels (its shortcut is a projection).</summary>
[Model]
public partial class Down16
{
    [Conv2D(16, Kernel = 3, Stride = 2, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Conv2D(16, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>A downsampling block to 32 channels.</summary>
[Model]
public partial class Down32
{
    [Conv2D(32, Kernel = 3, Stride = 2, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Conv2D(32, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>A small ResNet for 1×28×28 inputs: stem, 3 stages of 2 BasicBlocks (8, 16, 32 channels), global pooling, classifier.</summary>
[Model(1, 28, 28)]
public partial class ResNetGrey28
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
    [Dense(ModelSizes.Classes)] public partial Layer Fc { get; }
}

/// <summary>A small ResNet for 3×28×28 inputs: stem, 3 stages of 2 BasicBlocks (8, 16, 32 channels), global pooling, classifier.</summary>
[Model(3, 28, 28)]
public partial class ResNetColour28
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
    [Dense(ModelSizes.Classes)] public partial Layer Fc { get; }
}

/// <summary>A small ResNet for 1×32×32 inputs: stem, 3 stages of 2 BasicBlocks (8, 16, 32 channels), global pooling, classifier.</summary>
[Model(1, 32, 32)]
public partial class ResNetGrey32
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
    [Dense(ModelSizes.Classes)] public partial Layer Fc { get; }
}

/// <summary>A small ResNet for 3×32×32 inputs: stem, 3 stages of 2 BasicBlocks (8, 16, 32 channels), global pooling, classifier.</summary>
[Model(3, 32, 32)]
public partial class ResNetColour32
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
    [Dense(ModelSizes.Classes)] public partial Layer Fc { get; }
}
