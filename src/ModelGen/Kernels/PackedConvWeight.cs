// A convolution's weight prepared once for inference (what a predictor holds, as PackedDenseWeight for Dense layers).
// Two copies:
//  * the weight as it lies [O, C/groups, KH, KW], which every existing route reads;
//  * for the channel-vectorised single-example path (ConvKernels.Channels.cs), the weight transposed to [C·KH·KW, Op]:
//    tap-major, the output channels of one tap contiguous and padded with zeros to Op, a whole number of vectors, so
//    each tap's weights are one vector load per block of output channels.
// The pack is made for the lane count of the process's widest accelerated vector (1 without hardware intrinsics).
namespace ModelGen.Kernels;

/// <summary>
/// An immutable copy of a convolution's weight [OutChannels, InChannels/Groups, KernelH, KernelW] (PyTorch's Conv2d layout),
/// prepared for <see cref="ConvKernels.ForwardMaxPool{TAct}(TAct, in ConvGeometry, in PoolGeometry, ReadOnlySpan{float}, PackedConvWeight, ReadOnlySpan{float}, Span{float}, int)"/>.
/// Thread-safe: any number of calls may read it at once.
/// </summary>
public sealed class PackedConvWeight
{
    private readonly float[] _plain;       // [O, C/groups, KH, KW] as given
    private readonly float[]? _channels;   // [C·KH·KW, Op] with Op = O rounded up to a whole vector of Lanes floats; null when not packed

    /// <summary>Copies <paramref name="weight"/> and, where the channel-vectorised path pays at this process's vector width, packs it; the span is not kept.</summary>
    /// <param name="weight">The weight [OutChannels, InChannels/Groups, KernelH, KernelW].</param>
    /// <param name="geometry">The convolution's geometry.</param>
    /// <exception cref="ArgumentException"><paramref name="geometry"/> is invalid, or <paramref name="weight"/> does not have <see cref="ConvGeometry.WeightLength"/> elements.</exception>
    public PackedConvWeight(ReadOnlySpan<float> weight, in ConvGeometry geometry)
        : this(weight, geometry, ConvKernels.ChannelPackPays(geometry, ConvKernels.NativeLanes) ? ConvKernels.NativeLanes : 0)
    {
    }

    /// <summary>
    /// Packs for vectors of <paramref name="lanes"/> floats (1, 4, 8 or 16; 0 for no pack) whether or not the channel path
    /// would be chosen: tests force every width on any machine (a width the machine lacks runs emulated, slow but exact).
    /// </summary>
    internal PackedConvWeight(ReadOnlySpan<float> weight, in ConvGeometry geometry, int lanes)
    {
        geometry.Validate(nameof(geometry));
        ThrowHelper.CheckShape(weight.Length, nameof(weight), nameof(geometry.WeightLength), geometry.WeightLength);
        if (lanes is not (0 or 1 or 4 or 8 or 16))
            throw new ArgumentOutOfRangeException(nameof(lanes), lanes, "The lane count must be 0, 1, 4, 8 or 16.");
        Geometry = geometry;
        _plain = weight.ToArray();
        if (lanes == 0 || geometry.Groups != 1) return;
        int o = geometry.OutChannels, k = geometry.WeightLength / o;
        int op = (o + lanes - 1) / lanes * lanes;
        _channels = new float[k * op];   // zeros in the padded channels: their sums stay 0 and are never stored
        for (int oc = 0; oc < o; oc++)
            for (int t = 0; t < k; t++)
                _channels[t * op + oc] = _plain[oc * k + t];
        Lanes = lanes;
        PaddedChannels = op;
    }

    /// <summary>The convolution's geometry.</summary>
    public ConvGeometry Geometry { get; }

    /// <summary>The weight as it lies [O, C/groups, KH, KW].</summary>
    internal ReadOnlySpan<float> Plain => _plain;

    /// <summary>Floats per vector of the channel pack (0: not packed).</summary>
    internal int Lanes { get; }

    /// <summary>Output channels rounded up to a whole number of vectors (the channel pack's row length).</summary>
    internal int PaddedChannels { get; }

    /// <summary>The channel pack [C·KH·KW, <see cref="PaddedChannels"/>] (empty when not packed).</summary>
    internal ReadOnlySpan<float> Channels => _channels;
}
