// Convolutional and composed models for the end-to-end gradient tests: every conv/pool/norm layer, residual
// blocks with and without projection, From branches, Add and Concat, odd sizes throughout.
namespace ModelGen.Tests.Models;

/// <summary>Shape-preserving block: conv + BatchNorm + grouped conv.</summary>
[Model(4, 6, 5)]
public partial class SameBlock
{
    [Conv2D(4, Kernel = 3, Padding = 1, Activation = Activation.Tanh)] public partial Layer C1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [Conv2D(4, Kernel = 3, Padding = 1, Groups = 2)] public partial Layer C2 { get; }
}

/// <summary>Downsampling block: stride 2 and more channels (needs a projection shortcut).</summary>
[Model(4, 6, 5)]
public partial class DownBlock
{
    [Conv2D(6, Kernel = 3, Stride = 2, Padding = 1, Activation = Activation.Tanh)] public partial Layer C1 { get; }
    [Conv2D(6, Kernel = 3, Same = true)] public partial Layer C2 { get; }
}

/// <summary>A tiny ResNet: stem, identity residual, projected residual, pooling, head.</summary>
[Model(3, 6, 5)]
public partial class TinyResNet
{
    [Conv2D(4, Kernel = 3, Padding = 1, Activation = Activation.Tanh)] public partial Layer Stem { get; }
    [Residual] public partial SameBlock Block1 { get; }
    [Residual(Projection = true)] public partial DownBlock Block2 { get; }
    [AvgPool2D(2, Padding = 1, CeilMode = true)] public partial Layer Pool { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(5, Activation = Activation.Sigmoid)] public partial Layer Fc { get; }
}

/// <summary>1-D branches: two convs from the same input, Add, Concat with a branch, BatchNorm1D, global pooling.</summary>
[Model(2, 7)]
public partial class BranchNet
{
    [Conv1D(3, Kernel = 3, Same = true, Activation = Activation.Tanh)] public partial Layer A { get; }
    [Conv1D(3, Kernel = 3, Dilation = 2, Padding = 2, From = Layer.Input)] public partial Layer B { get; }
    [Add(nameof(A), nameof(B))] public partial Layer Sum { get; }
    [Concat(nameof(Sum), nameof(A))] public partial Layer Cat { get; }
    [BatchNorm1D] public partial Layer Bn { get; }
    [AvgPool1D(3, Stride = 2, Padding = 1)] public partial Layer Pool { get; }
    [GlobalAvgPool] public partial Layer Gap { get; }
    [Dense(2)] public partial Layer Out { get; }
}

/// <summary>
/// PyTorch's per-axis tuples and average-pooling options: non-square kernels, strides, paddings and dilations,
/// count_include_pad = false with ceil mode, divisor_override (all smooth, for the finite-difference theory).
/// </summary>
[Model(2, 9, 11)]
public partial class AxesNet
{
    [Conv2D(3, KernelHeight = 3, KernelWidth = 5, PaddingHeight = 1, PaddingWidth = 2, Activation = Activation.Tanh)] public partial Layer C1 { get; }   // [3, 9, 11]
    [AvgPool2D(3, 2, StrideWidth = 1, PaddingHeight = 1, CountIncludePad = false, CeilMode = true)] public partial Layer P1 { get; }                    // [3, 4, 10]
    [Conv2D(4, Kernel = 3, KernelHeight = 1, StrideWidth = 2, DilationWidth = 2, Activation = Activation.Tanh)] public partial Layer C2 { get; }        // [4, 4, 3]
    [AvgPool2D(2, PaddingWidth = 1, DivisorOverride = 3)] public partial Layer P2 { get; }                                                            // [4, 2, 2]
    [Flatten] public partial Layer Flat { get; }
    [Dense(3)] public partial Layer Fc { get; }
}

/// <summary>Every padding mode (PyTorch's padding_mode) on odd, non-square sizes, 2-D and 1-D, for the finite-difference theory.</summary>
[Model(2, 5, 7)]
public partial class PaddingNet
{
    [Conv2D(3, KernelHeight = 3, KernelWidth = 5, PaddingHeight = 1, PaddingWidth = 2, PaddingMode = PaddingMode.Reflect, Activation = Activation.Tanh)] public partial Layer C1 { get; }   // [3, 5, 7]
    [Conv2D(3, Kernel = 3, Same = true, Groups = 3, PaddingMode = PaddingMode.Replicate, Activation = Activation.Tanh)] public partial Layer C2 { get; }                                   // [3, 5, 7]
    [Conv2D(4, Kernel = 3, Stride = 2, Padding = 2, PaddingMode = PaddingMode.Circular)] public partial Layer C3 { get; }                                                               // [4, 4, 5]
    [AvgPool2D(2, CountIncludePad = false, Padding = 1)] public partial Layer P { get; }                                                                                                // [4, 3, 3]
    [Flatten] public partial Layer Flat { get; }
    [Dense(3)] public partial Layer Fc { get; }
}

/// <summary>1-D padding modes.</summary>
[Model(3, 6)]
public partial class PaddingNet1D
{
    [Conv1D(4, Kernel = 5, Padding = 3, PaddingMode = PaddingMode.Reflect, Activation = Activation.Tanh)] public partial Layer C1 { get; }      // [4, 8]
    [Conv1D(2, Kernel = 3, Dilation = 2, Padding = 4, PaddingMode = PaddingMode.Circular)] public partial Layer C2 { get; }                   // [2, 12]
    [Flatten] public partial Layer Flat { get; }
    [Dense(2)] public partial Layer Fc { get; }
}

/// <summary>LeNet-5 as in the MNIST sample, on a smaller image: max pooling, fused ReLU epilogues.</summary>
[Model(1, 12, 12)]
public partial class SmallLeNet
{
    [Conv2D(3, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer C1 { get; }
    [MaxPool2D(2)] public partial Layer S2 { get; }
    [Conv2D(5, Kernel = 3, Activation = Activation.ReLU)] public partial Layer C3 { get; }
    [MaxPool2D(2, CeilMode = true)] public partial Layer S4 { get; }
    [GlobalMaxPool] public partial Layer Gmp { get; }
    [Dense(4)] public partial Layer Fc { get; }
}

/// <summary>One BatchNorm1D, for running-statistics semantics.</summary>
[Model(3)]
public partial class JustBatchNorm
{
    [BatchNorm1D(Momentum = 0.1)] public partial Layer Bn { get; }
}

/// <summary>BatchNorm after a bias-free conv and after the final Dense (a predictor folds both; Forward must read them live).</summary>
[Model(3, 7, 6)]
public partial class FoldNet
{
    [Conv2D(5, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer C { get; }
    [BatchNorm2D] public partial Layer Bn { get; }
    [ReLU] public partial Layer Relu { get; }
    [Flatten] public partial Layer Flat { get; }
#pragma warning disable MG0207 // the bias is kept on purpose: a bias before a BatchNorm must still be honoured
    [Dense(4)] public partial Layer Fc { get; }
#pragma warning restore MG0207
    [BatchNorm1D(Eps = 1e-3)] public partial Layer Bn2 { get; }
}

/// <summary>The stale-weights report's model (issue 12): conv without bias, BatchNorm2D, ReLU, pooling, head.</summary>
[Model(3, 12, 12)]
public partial class FoldCnn
{
    [Conv2D(8, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer C1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer R1 { get; }
    [GlobalAvgPool] public partial Layer Pool { get; }
    [Dense(4)] public partial Layer Fc { get; }
}

/// <summary>A ResNet-style block whose convolutions are each followed by BatchNorm; used with a projection shortcut.</summary>
[Model(3, 6, 6)]
public partial class ConvBnBlock
{
    [Conv2D(5, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer C1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [ReLU] public partial Layer R1 { get; }
    [Conv2D(5, Kernel = 3, Padding = 1, UseBias = false)] public partial Layer C2 { get; }
    [BatchNorm2D] public partial Layer Bn2 { get; }
}

/// <summary>Blocks and a residual projection around BatchNorm layers, with a Dense + BatchNorm1D head.</summary>
[Model(3, 6, 6)]
public partial class BnResNet
{
    [Residual(Projection = true)] public partial ConvBnBlock Block { get; }
    [ReLU] public partial Layer Act { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(6, UseBias = false)] public partial Layer Fc { get; }
    [BatchNorm1D] public partial Layer Bn { get; }
}

/// <summary>A 64-channel 28×28 convolution: 150,538 gradient-arena floats per example, so batches past ~14,000 overflow int.</summary>
[Model(1, 28, 28)]
public partial class WideConv
{
    [Conv2D(64, Kernel = 3, Padding = 1, Activation = Activation.ReLU)] public partial Layer C1 { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(10)] public partial Layer Fc { get; }
}

/// <summary>BatchNorm with PyTorch's <c>momentum=None</c>: running statistics are the cumulative average over batches.</summary>
[Model(5, 3)]
public partial class CumulativeBatchNorm
{
    [BatchNorm1D(Momentum = null)] public partial Layer Bn { get; }
}
