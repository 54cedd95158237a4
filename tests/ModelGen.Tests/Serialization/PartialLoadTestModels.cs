// Small generated models for the transfer-learning tests: one body class used as a block under two member names, and
// heads of two widths, so names, prefix maps and shape mismatches can all be exercised.
namespace ModelGen.Tests.Serialization;

/// <summary>The shared body: 3 → 4 (tanh) → 3.</summary>
[Model(3)]
public partial class TlBody
{
    [Dense(4, Activation = Activation.Tanh)] public partial Layer Fc1 { get; }
    [Dense(3)] public partial Layer Fc2 { get; }
}

/// <summary>The "pre-trained" model: <c>backbone.*</c> and a 2-way head.</summary>
[Model(3)]
public partial class TlSource
{
    public partial TlBody Backbone { get; }
    [Dense(2)] public partial Layer Head { get; }
}

/// <summary>The transfer model: the body as <c>features.*</c> and a 2-way head (same shape as the source's).</summary>
[Model(3)]
public partial class TlTarget
{
    public partial TlBody Features { get; }
    [Dense(2)] public partial Layer Head { get; }
}

/// <summary>Like <see cref="TlTarget"/> with a 5-way head: <c>head.weight</c> is [5, 3] where the source's is [2, 3].</summary>
[Model(3)]
public partial class TlWide
{
    public partial TlBody Features { get; }
    [Dense(5)] public partial Layer Head { get; }
}
