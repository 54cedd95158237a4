// Models for the issue-15 layers (GroupNorm, InstanceNorm1D/2D, PReLU, LogSoftmax) in the end-to-end tests: odd sizes
// throughout, every layer in a graph that the whole-model finite-difference theory (ConvModelTests) differentiates.
namespace ModelGen.Tests.Models;

/// <summary>LogSoftmax over the last axis of [C, L] (C rows per example) and over the features of a flat head.</summary>
[Model(3, 5)]
public partial class LogSoftmaxNet
{
    [Conv1D(4, Kernel = 3, Same = true, Activation = Activation.Tanh)] public partial Layer Conv { get; }
    [LogSoftmax] public partial Layer Rows { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(3)] public partial Layer Fc { get; }
    [LogSoftmax] public partial Layer Head { get; }
}

/// <summary>A bare LogSoftmax over [2, 7], for its forward against a double reference.</summary>
[Model(2, 7)]
public partial class JustLogSoftmax
{
    [LogSoftmax] public partial Layer Out { get; }
}

/// <summary>PReLU with per-channel slopes on [C, H, W] and on a flat [F], and one shared slope, in a conv net.</summary>
[Model(2, 5, 3)]
public partial class PReLUNet
{
    [Conv2D(3, Kernel = 3, Padding = 1)] public partial Layer Conv { get; }
    [PReLU(3, Init = 0.1)]               public partial Layer Act1 { get; }
    [Flatten]                            public partial Layer Flat { get; }
    [Dense(7)]                           public partial Layer Fc { get; }
    [PReLU(7)]                           public partial Layer Act2 { get; }
    [Dense(5)]                           public partial Layer Out { get; }
    [PReLU]                              public partial Layer Act3 { get; }
}

/// <summary>A bare per-channel PReLU over [3, 2], for the channel mapping against a hand-written reference.</summary>
[Model(3, 2)]
public partial class JustPReLU
{
    [PReLU(3)] public partial Layer Act { get; }
}

/// <summary>GroupNorm on [C, H, W] and on a flat [F], InstanceNorm2D with affine parameters and running statistics.</summary>
[Model(4, 5, 3)]
public partial class GroupNormNet
{
    [Conv2D(6, Kernel = 3, Padding = 1, Activation = Activation.Tanh)] public partial Layer Conv1 { get; }
    [GroupNorm(3)] public partial Layer Gn1 { get; }
    [InstanceNorm2D(Affine = true, TrackRunningStats = true)] public partial Layer In1 { get; }
    [Conv2D(4, Kernel = 3, Activation = Activation.Tanh)] public partial Layer Conv2 { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(6)] public partial Layer Fc { get; }
    [GroupNorm(2, Affine = false)] public partial Layer Gn2 { get; }
    [Dense(3)] public partial Layer Out { get; }
}

/// <summary>InstanceNorm1D straight on the model input (PyTorch defaults: no affine, no running statistics), then an affine one.</summary>
[Model(3, 7)]
public partial class InstanceNormNet
{
    [InstanceNorm1D] public partial Layer In0 { get; }
    [Conv1D(4, Kernel = 3, Activation = Activation.Tanh)] public partial Layer Conv { get; }
    [InstanceNorm1D(Affine = true, Eps = 1e-3)] public partial Layer In1 { get; }
    [GlobalAvgPool] public partial Layer Gap { get; }
    [Dense(2)] public partial Layer Out { get; }
}

/// <summary>One InstanceNorm1D with running statistics over [2, 3], for PyTorch's running-statistics semantics.</summary>
[Model(2, 3)]
public partial class JustInstanceNorm
{
    [InstanceNorm1D(TrackRunningStats = true, Momentum = 0.2)] public partial Layer Norm { get; }
}

/// <summary>A bare affine GroupNorm over [6, 5] in 3 groups, for the generated call against the double reference.</summary>
[Model(6, 5)]
public partial class JustGroupNorm
{
    [GroupNorm(3, Eps = 1e-4)] public partial Layer Norm { get; }
}

/// <summary>InstanceNorm1D as libtorch's "in1.tracked" fixture case (5 channels of 33, momentum 0.3, running statistics).</summary>
[Model(5, 33)]
public partial class TrackedInstanceNorm1D
{
    [InstanceNorm1D(TrackRunningStats = true, Momentum = 0.3)] public partial Layer Norm { get; }
}
