// The networks ConvBench times: copies of samples/Mnist/Models.cs's LeNet5 and MnistResNet (with its blocks),
// so the benchmark compiles the same generated code the sample trains without depending on the sample.
using ModelGen;

namespace ConvBench;

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

/// <summary>torchvision's BasicBlock body at width 8 on 28×28: conv-BN-ReLU-conv-BN (the residual add and final ReLU are in the parent).</summary>
[Model(8, 28, 28)]
public partial class Block8
{
    [Conv2D(8, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Conv2D(8, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>Downsampling BasicBlock 8 → 16 channels, 28 → 14.</summary>
[Model(8, 28, 28)]
public partial class Down16
{
    [Conv2D(16, Kernel = 3, Stride = 2, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Conv2D(16, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>BasicBlock at width 16 on 14×14.</summary>
[Model(16, 14, 14)]
public partial class Block16
{
    [Conv2D(16, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Conv2D(16, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>Downsampling BasicBlock 16 → 32 channels, 14 → 7.</summary>
[Model(16, 14, 14)]
public partial class Down32
{
    [Conv2D(32, Kernel = 3, Stride = 2, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer Relu { get; }
    [Conv2D(32, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>BasicBlock at width 32 on 7×7.</summary>
[Model(32, 7, 7)]
public partial class Block32
{
    [Conv2D(32, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer Conv1 { get; }
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
    [Residual] public partial Block8 Layer1a { get; }
    [ReLU] public partial Layer Relu1a { get; }
    [Residual] public partial Block8 Layer1b { get; }
    [ReLU] public partial Layer Relu1b { get; }
    [Residual(Projection = true)] public partial Down16 Layer2a { get; }
    [ReLU] public partial Layer Relu2a { get; }
    [Residual] public partial Block16 Layer2b { get; }
    [ReLU] public partial Layer Relu2b { get; }
    [Residual(Projection = true)] public partial Down32 Layer3a { get; }
    [ReLU] public partial Layer Relu3a { get; }
    [Residual] public partial Block32 Layer3b { get; }
    [ReLU] public partial Layer Relu3b { get; }
    [GlobalAvgPool] public partial Layer Pool { get; }
    [Dense(10)] public partial Layer Fc { get; }
}
