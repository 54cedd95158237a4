// Pooling geometry (MaxPool1D/2D, AvgPool1D/2D) in PyTorch's terms, including ceil_mode's rule that the last window
// must start inside the input or the left padding. Output sizes are derived, never stored, so `with` cannot leave them stale.
namespace ModelGen.Kernels;

/// <summary>
/// The geometry of a 2-D max or average pooling over one example (<c>[Channels, InHeight, InWidth]</c> →
/// <c>[Channels, OutHeight, OutWidth]</c>). 1-D pooling is the case <c>InHeight = 1</c>, <c>KernelH = 1</c>,
/// <c>StrideH = 1</c>, <c>PadH = 0</c> (see <see cref="Pool1D"/>).
/// </summary>
/// <param name="Channels">Channels (pooled independently).</param>
/// <param name="InHeight">Input height.</param>
/// <param name="InWidth">Input width.</param>
/// <param name="KernelH">Window height.</param>
/// <param name="KernelW">Window width.</param>
/// <param name="StrideH">Vertical stride.</param>
/// <param name="StrideW">Horizontal stride.</param>
/// <param name="PadH">Implicit padding above and below (−∞ for max, zeros counted in the divisor for average).</param>
/// <param name="PadW">Implicit padding left and right.</param>
/// <param name="CeilMode">Round the output size up instead of down (a last, partial window), as PyTorch's <c>ceil_mode</c>.</param>
/// <param name="CountIncludePad">Average pooling: whether padding taps count in the divisor (PyTorch's <c>count_include_pad</c>,
/// default true); false divides by the number of input elements the window covers. Max pooling ignores it.</param>
/// <param name="DivisorOverride">Average pooling: when positive, the divisor of every window (PyTorch's <c>divisor_override</c>);
/// 0 means none. Max pooling ignores it.</param>
public readonly record struct PoolGeometry(int Channels, int InHeight, int InWidth, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH, int PadW, bool CeilMode, bool CountIncludePad = true, int DivisorOverride = 0)
{
    /// <summary>Output height (PyTorch's <c>pooling_output_shape</c>).</summary>
    public int OutHeight => OutSize(InHeight, KernelH, StrideH, PadH, CeilMode);

    /// <summary>Output width (PyTorch's <c>pooling_output_shape</c>).</summary>
    public int OutWidth => OutSize(InWidth, KernelW, StrideW, PadW, CeilMode);

    /// <summary>Elements of one input example: <c>Channels·InHeight·InWidth</c>.</summary>
    public int InputLength => Channels * InHeight * InWidth;

    /// <summary>Elements of one output example: <c>Channels·OutHeight·OutWidth</c>.</summary>
    public int OutputLength => Channels * OutHeight * OutWidth;

    /// <summary>Creates the geometry of a 1-D pooling over <c>[channels, length]</c>; <paramref name="stride"/> defaults to the kernel size, as in PyTorch.</summary>
    public static PoolGeometry Pool1D(int channels, int length, int kernel, int stride = 0, int padding = 0, bool ceilMode = false)
        => new(channels, 1, length, 1, kernel, 1, stride == 0 ? kernel : stride, 0, padding, ceilMode);

    /// <summary>Creates the geometry of a 2-D pooling with a square window; <paramref name="stride"/> defaults to the kernel size, as in PyTorch.</summary>
    public static PoolGeometry Pool2D(int channels, int height, int width, int kernel, int stride = 0, int padding = 0, bool ceilMode = false)
        => new(channels, height, width, kernel, kernel, stride == 0 ? kernel : stride, stride == 0 ? kernel : stride, padding, padding, ceilMode);

    /// <summary>Throws unless every size is legal (PyTorch's checks) and the output is non-empty.</summary>
    /// <param name="paramName">The kernel parameter holding this geometry (named in the exception).</param>
    /// <exception cref="ArgumentException">A size is out of range, a padding exceeds half its window, the window is larger than the padded input,
    /// or <see cref="DivisorOverride"/> is negative.</exception>
    public void Validate(string paramName)
    {
        Positive(Channels, nameof(Channels), paramName);
        Positive(InHeight, nameof(InHeight), paramName);
        Positive(InWidth, nameof(InWidth), paramName);
        Positive(KernelH, nameof(KernelH), paramName);
        Positive(KernelW, nameof(KernelW), paramName);
        Positive(StrideH, nameof(StrideH), paramName);
        Positive(StrideW, nameof(StrideW), paramName);
        if (PadH < 0 || PadH > KernelH / 2) Throw(paramName, $"PadH must be between 0 and half of KernelH ({KernelH / 2}) but is {PadH}.");
        if (PadW < 0 || PadW > KernelW / 2) Throw(paramName, $"PadW must be between 0 and half of KernelW ({KernelW / 2}) but is {PadW}.");
        if (KernelH > InHeight + 2L * PadH) Throw(paramName, $"KernelH ({KernelH}) must not exceed the padded input height ({InHeight + 2L * PadH}).");
        if (KernelW > InWidth + 2L * PadW) Throw(paramName, $"KernelW ({KernelW}) must not exceed the padded input width ({InWidth + 2L * PadW}).");
        if (DivisorOverride < 0) Throw(paramName, $"DivisorOverride must be positive, or 0 for none, but is {DivisorOverride}.");
        if ((long)Channels * InHeight * InWidth > int.MaxValue) Throw(paramName, "the input length exceeds int.MaxValue elements.");
    }

    // PyTorch: out = ⌊ or ⌈(in + 2p − k) / s⌉ + 1, and in ceil mode the last window must start inside the input or
    // the left padding ((out − 1)·s < in + p), otherwise it is dropped.
    private static int OutSize(int input, int kernel, int stride, int pad, bool ceil)
    {
        long span = (long)input + 2L * pad - kernel;
        if (stride <= 0 || span < 0) return 0;
        long outSize = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
        if (ceil && (outSize - 1) * stride >= (long)input + pad) outSize--;
        return (int)Math.Min(int.MaxValue, outSize);
    }

    private static void Positive(int value, string name, string paramName)
    {
        if (value < 1) Throw(paramName, $"{name} must be at least 1 but is {value}.");
    }

    private static void Throw(string paramName, string message)
        => throw new ArgumentException($"Invalid pooling geometry: {message}", paramName);
}
