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
