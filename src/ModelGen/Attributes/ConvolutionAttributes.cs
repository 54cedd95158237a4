// Convolution, pooling, normalisation and composition attributes (PyTorch semantics and defaults: NCHW,
// weight [out, in/groups, k...], BatchNorm eps 1e-5 and momentum 0.1).
namespace ModelGen;

/// <summary>Shared options of <see cref="Conv1DAttribute"/> and <see cref="Conv2DAttribute"/>.</summary>
public abstract class ConvAttribute : LayerAttribute
{
    private protected ConvAttribute(int outChannels) => OutChannels = outChannels;

    /// <summary>
    /// Number of output channels; 0 when the attribute was written without it (<c>[Conv2D(Kernel = 3)]</c>): as many as
    /// the input has. That lets a shape-generic block (<c>[Model]</c> without a shape) keep the width of each place it is used.
    /// </summary>
    public int OutChannels { get; }

    /// <summary>Kernel size (square for 2-D). Required.</summary>
    public int Kernel { get; set; }

    /// <summary>Stride (default 1).</summary>
    public int Stride { get; set; } = 1;

    /// <summary>Zero padding on each side (default 0).</summary>
    public int Padding { get; set; }

    /// <summary>"Same" padding: output size = ceil(input / stride) (PyTorch's <c>padding='same'</c> needs stride 1; so does ours).</summary>
    public bool Same { get; set; }

    /// <summary>Dilation (default 1).</summary>
    public int Dilation { get; set; } = 1;

    /// <summary>Groups (default 1; equal to the input channels for depthwise).</summary>
    public int Groups { get; set; } = 1;

    /// <summary>Activation fused into the epilogue (default none).</summary>
    public Activation Activation { get; set; }

    /// <summary>Whether the layer has a bias (default true).</summary>
    public bool UseBias { get; set; } = true;

    /// <summary>Weight initialisation (default: PyTorch's Conv default).</summary>
    public Init Init { get; set; }
}

/// <summary>1-D convolution over input [channels, length], as PyTorch's <c>nn.Conv1d</c>.</summary>
public sealed class Conv1DAttribute : ConvAttribute
{
    /// <summary>Declares a 1-D convolution with <paramref name="outChannels"/> output channels.</summary>
    /// <param name="outChannels">Output channels (PyTorch <c>out_channels</c>); a multiple of <see cref="ConvAttribute.Groups"/>.</param>
    public Conv1DAttribute(int outChannels) : base(outChannels) { }

    /// <summary>Declares a 1-D convolution with as many output channels as its input has (its width follows each use of a shape-generic block).</summary>
    public Conv1DAttribute() : base(0) { }
}

/// <summary>2-D convolution over input [channels, height, width], as PyTorch's <c>nn.Conv2d</c>.</summary>
public sealed class Conv2DAttribute : ConvAttribute
{
    /// <summary>Declares a 2-D convolution with <paramref name="outChannels"/> output channels.</summary>
    /// <param name="outChannels">Output channels (PyTorch <c>out_channels</c>); a multiple of <see cref="ConvAttribute.Groups"/>.</param>
    public Conv2DAttribute(int outChannels) : base(outChannels) { }

    /// <summary>Declares a 2-D convolution with as many output channels as its input has (its width follows each use of a shape-generic block).</summary>
    public Conv2DAttribute() : base(0) { }
}

/// <summary>Shared options of the pooling attributes.</summary>
public abstract class PoolAttribute : LayerAttribute
{
    private protected PoolAttribute(int kernel) => Kernel = kernel;

    /// <summary>Window size (square for 2-D).</summary>
    public int Kernel { get; }

    /// <summary>Stride (default: the kernel size).</summary>
    public int Stride { get; set; }

    /// <summary>Implicit padding on each side (default 0; at most half the kernel).</summary>
    public int Padding { get; set; }

    /// <summary>Use ceil instead of floor for the output size (default false).</summary>
    public bool CeilMode { get; set; }
}

/// <summary>Max pooling over [channels, length] (PyTorch <c>nn.MaxPool1d</c>).</summary>
/// <param name="kernel">Window size (PyTorch <c>kernel_size</c>).</param>
public sealed class MaxPool1DAttribute(int kernel) : PoolAttribute(kernel);

/// <summary>Max pooling over [channels, height, width] (PyTorch <c>nn.MaxPool2d</c>).</summary>
/// <param name="kernel">Window size, square (PyTorch <c>kernel_size</c>).</param>
public sealed class MaxPool2DAttribute(int kernel) : PoolAttribute(kernel);

/// <summary>Average pooling over [channels, length] (padding counts as zeros, as PyTorch's default).</summary>
/// <param name="kernel">Window size (PyTorch <c>kernel_size</c>).</param>
public sealed class AvgPool1DAttribute(int kernel) : PoolAttribute(kernel);

/// <summary>Average pooling over [channels, height, width] (padding counts as zeros, as PyTorch's default).</summary>
/// <param name="kernel">Window size, square (PyTorch <c>kernel_size</c>).</param>
public sealed class AvgPool2DAttribute(int kernel) : PoolAttribute(kernel);

/// <summary>Mean over all spatial positions: [C, ...] → [C].</summary>
public sealed class GlobalAvgPoolAttribute : LayerAttribute { }

/// <summary>Max over all spatial positions: [C, ...] → [C].</summary>
public sealed class GlobalMaxPoolAttribute : LayerAttribute { }

/// <summary>Adaptive average pooling to a fixed [height, width], as PyTorch's <c>nn.AdaptiveAvgPool2d</c>.</summary>
/// <param name="height">Output height (PyTorch <c>output_size[0]</c>).</param>
/// <param name="width">Output width (PyTorch <c>output_size[1]</c>).</param>
public sealed class AdaptiveAvgPool2DAttribute(int height, int width) : LayerAttribute
{
    /// <summary>Output height.</summary>
    public int Height { get; } = height;

    /// <summary>Output width.</summary>
    public int Width { get; } = width;
}

/// <summary>Shared options of the batch-normalisation attributes.</summary>
public abstract class BatchNormAttribute : LayerAttribute
{
    /// <summary>Added to the variance for stability (default 1e-5).</summary>
    public double Eps { get; set; } = 1e-5;

    /// <summary>Running-statistics momentum (default 0.1, PyTorch's convention: new = (1 − m)·old + m·batch).</summary>
    public double Momentum { get; set; } = 0.1;

    /// <summary>Learnable scale and shift (default true).</summary>
    public bool Affine { get; set; } = true;
}

/// <summary>Batch normalisation over [features] or [channels, length] (PyTorch's <c>nn.BatchNorm1d</c>).</summary>
public sealed class BatchNorm1DAttribute : BatchNormAttribute { }

/// <summary>Batch normalisation over [channels, height, width] (PyTorch's <c>nn.BatchNorm2d</c>).</summary>
public sealed class BatchNorm2DAttribute : BatchNormAttribute { }

/// <summary>
/// Group normalisation (PyTorch's <c>nn.GroupNorm(num_groups, num_channels)</c>) over [channels, ...] or [features]: the
/// channels split into <see cref="Groups"/> groups of consecutive channels, and each group of each example is normalised
/// with its own mean and biased variance, <c>y = (x − μ)/√(σ² + eps)·weight[c] + bias[c]</c>. The same in training and
/// at inference (no running statistics).
/// </summary>
/// <param name="groups">Number of groups (PyTorch <c>num_groups</c>); must divide the input's channels.</param>
public sealed class GroupNormAttribute(int groups) : LayerAttribute
{
    /// <summary>Number of groups the channels are split into.</summary>
    public int Groups { get; } = groups;

    /// <summary>Added to the variance for stability (default 1e-5).</summary>
    public double Eps { get; set; } = 1e-5;

    /// <summary>Learnable per-channel scale <c>weight</c> (ones) and shift <c>bias</c> (zeros) (PyTorch <c>affine</c>, default true).</summary>
    public bool Affine { get; set; } = true;
}

/// <summary>Shared options of the instance-normalisation attributes (PyTorch's defaults: no affine, no running statistics).</summary>
public abstract class InstanceNormAttribute : LayerAttribute
{
    /// <summary>Added to the variance for stability (default 1e-5).</summary>
    public double Eps { get; set; } = 1e-5;

    /// <summary>Running-statistics momentum when <see cref="TrackRunningStats"/> (default 0.1: new = (1 − m)·old + m·batch average).</summary>
    public double Momentum { get; set; } = 0.1;

    /// <summary>Learnable per-channel scale <c>weight</c> and shift <c>bias</c> (PyTorch <c>affine</c>, default false).</summary>
    public bool Affine { get; set; }

    /// <summary>
    /// Keep <c>running_mean</c>/<c>running_var</c> (PyTorch <c>track_running_stats</c>, default false): training updates them
    /// with each batch's average instance statistics and inference normalises with them; without, inference uses each
    /// instance's own statistics, as training does.
    /// </summary>
    public bool TrackRunningStats { get; set; }
}

/// <summary>Instance normalisation over [channels, length] (PyTorch's <c>nn.InstanceNorm1d</c>): each channel of each example normalised over its length.</summary>
public sealed class InstanceNorm1DAttribute : InstanceNormAttribute { }

/// <summary>Instance normalisation over [channels, height, width] (PyTorch's <c>nn.InstanceNorm2d</c>): each channel of each example normalised over its H·W values.</summary>
public sealed class InstanceNorm2DAttribute : InstanceNormAttribute { }

/// <summary>
/// On a member whose type is another <c>[Model]</c> class: <c>x + block(x)</c>. With <see cref="Projection"/>, when the
/// block changes the shape the shortcut becomes a 1×1 convolution (stride = the spatial reduction, no bias) followed
/// by BatchNorm, as torchvision's ResNet <c>downsample</c> (or a linear layer for flat inputs).
/// </summary>
public sealed class ResidualAttribute : LayerAttribute
{
    /// <summary>Add a projection shortcut when the block's output shape differs from its input's.</summary>
    public bool Projection { get; set; }
}

/// <summary>Element-wise sum of the outputs of the named members (all of the same shape).</summary>
/// <param name="from">The members to add: <c>nameof(...)</c>, or <see cref="Layer.Input"/> for the model input.</param>
public sealed class AddAttribute(params string[] from) : LayerAttribute
{
    /// <summary>The members to add (<c>nameof(...)</c>, or <see cref="Layer.Input"/>).</summary>
    public string[] Inputs { get; } = from;
}

/// <summary>Concatenation of the outputs of the named members along the channel/feature axis (dense-net style).</summary>
/// <param name="from">The members to concatenate, in order: <c>nameof(...)</c>, or <see cref="Layer.Input"/> for the model input.</param>
public sealed class ConcatAttribute(params string[] from) : LayerAttribute
{
    /// <summary>The members to concatenate, in order.</summary>
    public string[] Inputs { get; } = from;
}
