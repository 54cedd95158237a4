// Shape-generic blocks ([Model] without a shape) used at several input shapes, each beside its shaped equivalent:
// one block class per shape, with the same members, in an otherwise identical model.
namespace ModelGen.Tests.Models;

/// <summary>A block body without an input shape: conv + BatchNorm + grouped conv (4 channels out, whatever comes in).</summary>
[Model]
public partial class GenericBody
{
    [Conv2D(4, Kernel = 3, Padding = 1, Activation = Activation.Tanh)] public partial Layer C1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [Conv2D(4, Kernel = 3, Padding = 1, Groups = 2)] public partial Layer C2 { get; }
}

/// <summary><see cref="GenericBody"/> used at [3, 6, 5] (projected residual) and at [4, 3, 3] (identity residual).</summary>
[Model(3, 6, 5)]
public partial class GenericBodyNet
{
    [Residual(Projection = true)] public partial GenericBody Block1 { get; }
    [AvgPool2D(2, CeilMode = true)] public partial Layer Pool { get; }
    [Residual] public partial GenericBody Block2 { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(5, Activation = Activation.Sigmoid)] public partial Layer Fc { get; }
}

/// <summary><see cref="GenericBody"/> declared for [3, 6, 5].</summary>
[Model(3, 6, 5)]
public partial class ShapedBody365
{
    [Conv2D(4, Kernel = 3, Padding = 1, Activation = Activation.Tanh)] public partial Layer C1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [Conv2D(4, Kernel = 3, Padding = 1, Groups = 2)] public partial Layer C2 { get; }
}

/// <summary><see cref="GenericBody"/> declared for [4, 3, 3].</summary>
[Model(4, 3, 3)]
public partial class ShapedBody433
{
    [Conv2D(4, Kernel = 3, Padding = 1, Activation = Activation.Tanh)] public partial Layer C1 { get; }
    [BatchNorm2D] public partial Layer Bn1 { get; }
    [Conv2D(4, Kernel = 3, Padding = 1, Groups = 2)] public partial Layer C2 { get; }
}

/// <summary><see cref="GenericBodyNet"/> with one shaped block class per use.</summary>
[Model(3, 6, 5)]
public partial class ShapedBodyNet
{
    [Residual(Projection = true)] public partial ShapedBody365 Block1 { get; }
    [AvgPool2D(2, CeilMode = true)] public partial Layer Pool { get; }
    [Residual] public partial ShapedBody433 Block2 { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(5, Activation = Activation.Sigmoid)] public partial Layer Fc { get; }
}

/// <summary>A per-position block without an input shape: LayerNorm, then a two-layer MLP to width 5.</summary>
[Model]
public partial class GenericMlp
{
    [LayerNorm] public partial Layer Norm { get; }
    [Dense(7, Activation = Activation.Tanh)] public partial Layer Up { get; }
    [Dense(5)] public partial Layer Down { get; }
}

/// <summary>A wrapper without a shape around another one: nesting keeps names (<c>outer.inner.up.weight</c>) and per-use shapes.</summary>
[Model]
public partial class GenericWrapper
{
    public partial GenericMlp Inner { get; }
    [GELU] public partial Layer Act { get; }
}

/// <summary><see cref="GenericMlp"/> on sequences: [T, 3] → [T, 5], then residually at [T, 5], then nested at [T, 5].</summary>
[Model(Dim.Seq, 3)]
public partial class GenericSequenceNet
{
    public partial GenericMlp Mix { get; }
    [Residual] public partial GenericMlp Block { get; }
    [Residual] public partial GenericWrapper Outer { get; }
    [Dense(2)] public partial Layer Head { get; }
}

/// <summary><see cref="GenericMlp"/> declared for [T, 3].</summary>
[Model(Dim.Seq, 3)]
public partial class ShapedMlp3
{
    [LayerNorm] public partial Layer Norm { get; }
    [Dense(7, Activation = Activation.Tanh)] public partial Layer Up { get; }
    [Dense(5)] public partial Layer Down { get; }
}

/// <summary><see cref="GenericMlp"/> declared for [T, 5].</summary>
[Model(Dim.Seq, 5)]
public partial class ShapedMlp5
{
    [LayerNorm] public partial Layer Norm { get; }
    [Dense(7, Activation = Activation.Tanh)] public partial Layer Up { get; }
    [Dense(5)] public partial Layer Down { get; }
}

/// <summary><see cref="GenericWrapper"/> declared for [T, 5].</summary>
[Model(Dim.Seq, 5)]
public partial class ShapedWrapper5
{
    public partial ShapedMlp5 Inner { get; }
    [GELU] public partial Layer Act { get; }
}

/// <summary><see cref="GenericSequenceNet"/> with shaped blocks.</summary>
[Model(Dim.Seq, 3)]
public partial class ShapedSequenceNet
{
    public partial ShapedMlp3 Mix { get; }
    [Residual] public partial ShapedMlp5 Block { get; }
    [Residual] public partial ShapedWrapper5 Outer { get; }
    [Dense(2)] public partial Layer Head { get; }
}

/// <summary>A shape-generic block holding a shaped one: the shaped block's view sits at this use's offset.</summary>
[Model]
public partial class GenericHolder
{
    [Conv2D(Kernel = 1)] public partial Layer Mix { get; }
    [Residual] public partial ShapedBody433 Body { get; }
}

/// <summary>Uses <see cref="GenericHolder"/> at [4, 3, 3] (the only shape its shaped block accepts).</summary>
[Model(4, 3, 3)]
public partial class HolderNet
{
    [Residual] public partial GenericHolder Holder { get; }
    [Flatten] public partial Layer Flat { get; }
}
