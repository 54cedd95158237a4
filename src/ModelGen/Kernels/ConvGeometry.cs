// Convolution geometry: the sizes one Conv1D/Conv2D layer is defined by, in PyTorch's terms (NCHW input,
// weight [out, in/groups, kh, kw], symmetric zero padding). Output sizes are derived, never stored, so a `with`
// expression can never leave them stale. Validation lives here so every kernel reports a bad geometry the same way.
namespace ModelGen.Kernels;

/// <summary>
/// The geometry of a 2-D convolution over one example (<c>[InChannels, InHeight, InWidth]</c> →
/// <c>[OutChannels, OutHeight, OutWidth]</c>). A 1-D convolution is the case <c>InHeight = 1</c>, <c>KernelH = 1</c>,
/// <c>StrideH = 1</c>, <c>PadH = 0</c>, <c>DilationH = 1</c> (see <see cref="Conv1D"/>).
/// </summary>
/// <param name="InChannels">Input channels (C).</param>
/// <param name="InHeight">Input height (H).</param>
/// <param name="InWidth">Input width (W).</param>
/// <param name="OutChannels">Output channels (O).</param>
/// <param name="KernelH">Kernel height.</param>
/// <param name="KernelW">Kernel width.</param>
/// <param name="StrideH">Vertical stride.</param>
/// <param name="StrideW">Horizontal stride.</param>
/// <param name="PadH">Zero padding added above and below.</param>
/// <param name="PadW">Zero padding added left and right.</param>
/// <param name="DilationH">Vertical spacing between kernel taps.</param>
/// <param name="DilationW">Horizontal spacing between kernel taps.</param>
/// <param name="Groups">Channel groups: input and output channels are split into this many independent blocks
/// (<c>Groups = InChannels</c> is a depthwise convolution).</param>
/// <param name="PaddingMode">How the padding is filled (PyTorch's <c>padding_mode</c>; default zeros).</param>
public readonly record struct ConvGeometry(int InChannels, int InHeight, int InWidth, int OutChannels,
    int KernelH, int KernelW, int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups,
    PaddingMode PaddingMode = PaddingMode.Zeros)
{
    /// <summary>Output height: <c>(InHeight + 2·PadH − DilationH·(KernelH − 1) − 1) / StrideH + 1</c> (floor division, as PyTorch).</summary>
    public int OutHeight => OutSize(InHeight, KernelH, StrideH, PadH, DilationH);

    /// <summary>Output width: <c>(InWidth + 2·PadW − DilationW·(KernelW − 1) − 1) / StrideW + 1</c> (floor division, as PyTorch).</summary>
    public int OutWidth => OutSize(InWidth, KernelW, StrideW, PadW, DilationW);

    /// <summary>Elements of one input example: <c>InChannels·InHeight·InWidth</c>.</summary>
    public int InputLength => InChannels * InHeight * InWidth;

    /// <summary>Elements of one output example: <c>OutChannels·OutHeight·OutWidth</c>.</summary>
    public int OutputLength => OutChannels * OutHeight * OutWidth;

    /// <summary>Elements of the weight <c>[OutChannels, InChannels/Groups, KernelH, KernelW]</c>.</summary>
    public int WeightLength => OutChannels * (InChannels / Groups) * KernelH * KernelW;

    /// <summary>Creates the geometry of a 1-D convolution over <c>[inChannels, length]</c> (PyTorch <c>Conv1d</c>).</summary>
    public static ConvGeometry Conv1D(int inChannels, int length, int outChannels, int kernel, int stride = 1, int padding = 0,
        int dilation = 1, int groups = 1)
        => new(inChannels, 1, length, outChannels, 1, kernel, 1, stride, 0, padding, 1, dilation, groups);

    /// <summary>Creates the geometry of a 2-D convolution with square kernel, stride, padding and dilation (PyTorch <c>Conv2d</c>).</summary>
    public static ConvGeometry Conv2D(int inChannels, int height, int width, int outChannels, int kernel, int stride = 1, int padding = 0,
        int dilation = 1, int groups = 1)
        => new(inChannels, height, width, outChannels, kernel, kernel, stride, stride, padding, padding, dilation, dilation, groups);

    /// <summary>Throws unless every size is legal and the output is non-empty.</summary>
    /// <param name="paramName">The kernel parameter holding this geometry (named in the exception).</param>
    /// <exception cref="ArgumentException">A size is out of range, <see cref="Groups"/> does not divide both channel counts,
    /// the dilated kernel is larger than the padded input, a length overflows <see cref="int"/>, or the padding is too large for
    /// <see cref="PaddingMode"/> (Reflect: smaller than the input; Circular: no larger).</exception>
    public void Validate(string paramName)
    {
        Positive(InChannels, nameof(InChannels), paramName);
        Positive(InHeight, nameof(InHeight), paramName);
        Positive(InWidth, nameof(InWidth), paramName);
        Positive(OutChannels, nameof(OutChannels), paramName);
        Positive(KernelH, nameof(KernelH), paramName);
        Positive(KernelW, nameof(KernelW), paramName);
        Positive(StrideH, nameof(StrideH), paramName);
        Positive(StrideW, nameof(StrideW), paramName);
        Positive(DilationH, nameof(DilationH), paramName);
        Positive(DilationW, nameof(DilationW), paramName);
        Positive(Groups, nameof(Groups), paramName);
        if (PadH < 0) Throw(paramName, $"PadH must be zero or more but is {PadH}.");
        if (PadW < 0) Throw(paramName, $"PadW must be zero or more but is {PadW}.");
        switch (PaddingMode)
        {
            case PaddingMode.Zeros or PaddingMode.Replicate: break;
            // PyTorch's F.pad rules: reflection mirrors inside the input, wrapping may go around at most once.
            case PaddingMode.Reflect when PadH >= InHeight || PadW >= InWidth:
                Throw(paramName, $"Reflect padding must be smaller than the input, but PadH × PadW is {PadH} × {PadW} for an input of {InHeight} × {InWidth}."); break;
            case PaddingMode.Circular when PadH > InHeight || PadW > InWidth:
                Throw(paramName, $"Circular padding must not exceed the input, but PadH × PadW is {PadH} × {PadW} for an input of {InHeight} × {InWidth}."); break;
            case PaddingMode.Reflect or PaddingMode.Circular: break;
            default: Throw(paramName, $"PaddingMode {(int)PaddingMode} is not a PaddingMode value."); break;
        }
        if (InChannels % Groups != 0) Throw(paramName, $"Groups ({Groups}) must divide InChannels ({InChannels}).");
        if (OutChannels % Groups != 0) Throw(paramName, $"Groups ({Groups}) must divide OutChannels ({OutChannels}).");
        long spanH = (long)DilationH * (KernelH - 1) + 1, spanW = (long)DilationW * (KernelW - 1) + 1;
        if (spanH > InHeight + 2L * PadH)
            Throw(paramName, $"the dilated kernel height ({spanH}) must not exceed the padded input height ({InHeight + 2L * PadH}).");
        if (spanW > InWidth + 2L * PadW)
            Throw(paramName, $"the dilated kernel width ({spanW}) must not exceed the padded input width ({InWidth + 2L * PadW}).");
        long inLen = (long)InChannels * InHeight * InWidth, outLen = (long)OutChannels * OutHeight * OutWidth;
        long colLen = (long)(InChannels / Groups) * KernelH * KernelW * OutHeight * OutWidth;
        if (inLen > int.MaxValue || outLen > int.MaxValue || colLen > int.MaxValue || (long)OutChannels * (InChannels / Groups) * KernelH * KernelW > int.MaxValue)
            Throw(paramName, "the input, output, weight or unfolded-input length exceeds int.MaxValue elements.");
    }

    // A kernel larger than the padded input gives 0 (Validate reports it); floor, not truncation, for the division.
    private static int OutSize(int input, int kernel, int stride, int pad, int dilation)
    {
        long span = (long)input + 2L * pad - (long)dilation * (kernel - 1) - 1;
        return stride <= 0 || span < 0 ? 0 : (int)Math.Min(int.MaxValue, span / stride + 1);
    }

    private static void Positive(int value, string name, string paramName)
    {
        if (value < 1) Throw(paramName, $"{name} must be at least 1 but is {value}.");
    }

    private static void Throw(string paramName, string message)
        => throw new ArgumentException($"Invalid convolution geometry: {message}", paramName);
}
