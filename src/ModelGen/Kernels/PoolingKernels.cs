// Pooling kernels in PyTorch's semantics, NCHW (every (example, channel) plane pooled on its own):
//  * Max: padding acts as −∞; NaN propagates (a NaN in the window wins, the last one if several, as torch.max_pool2d);
//    ties keep the first index in row-major window order. argmax holds, per output, the flat index h·W + w of the winner inside its
//    input plane (PyTorch's `indices`), so backward scatters without recomputing.
//  * Avg: count_include_pad = true (default): the divisor is the window's area clipped to the padded input (so a ceil-mode
//    window hanging past the padding counts fewer elements); false: the number of input elements it covers;
//    divisor_override, when set, replaces both. As PyTorch's avg_pool2d.
//  * Global average/max over the whole plane, and adaptive average with PyTorch's windows
//    start = ⌊i·H/oh⌋, end = ⌈(i+1)·H/oh⌉.
// Backward kernels overwrite dInput. Window bounds are computed once per output row/column, not per tap.
// Naive double references (Reference*) stay in this file: tests compare the fast paths with them.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Max, average, global and adaptive pooling, forward and backward.</summary>
public static partial class PoolingKernels
{
    /// <summary>
    /// Effectively computes <c>output[b, c, y, x] = max over the window of input[b, c, ·, ·]</c> (padding is −∞) and,
    /// when <paramref name="argmax"/> is not empty, the winner's index <c>h·InWidth + w</c> within its plane.
    /// </summary>
    /// <param name="g">The pooling geometry.</param>
    /// <param name="input">Input [batch, Channels, InHeight, InWidth].</param>
    /// <param name="output">Output [batch, Channels, OutHeight, OutWidth].</param>
    /// <param name="argmax">Winner indices [batch, Channels, OutHeight, OutWidth] for backward, or empty (inference).</param>
    /// <param name="batch">Number of examples.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative.</exception>
    /// <exception cref="ArgumentException">The geometry is invalid, a span's length does not match its shape, or output overlaps input.</exception>
    public static void MaxForward(in PoolGeometry g, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax, int batch)
        => MaxForward(g, input, output, argmax, batch, MaxPath.Auto);

    /// <summary>Which max-pooling implementation runs; the forced values exist for tests.</summary>
    internal enum MaxPath { Auto, General, Fast2x2Scalar }

    /// <summary><see cref="MaxForward(in PoolGeometry, ReadOnlySpan{float}, Span{float}, Span{int}, int)"/> on a chosen path.</summary>
    internal static void MaxForward(in PoolGeometry g, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax, int batch, MaxPath path)
    {
        int planes = CheckPool(g, input.Length, output.Length, batch, nameof(input), nameof(output));
        if (!argmax.IsEmpty) ThrowHelper.CheckShape(argmax.Length, nameof(argmax), nameof(batch), batch, nameof(g.OutputLength), g.OutputLength, orEmpty: true);
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        if (path != MaxPath.General && IsMax2x2(g))
        {
            Max2x2(g, input, output, argmax, planes, allowVector: path == MaxPath.Auto);
            return;
        }
        int h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth;
        bool keep = !argmax.IsEmpty;
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y0 = ref MemoryMarshal.GetReference(output);
        ref int a0 = ref MemoryMarshal.GetReference(argmax);
        ref float colMax = ref MemoryMarshal.GetArrayDataReference(t_rowMax is { } r && r.Length >= w ? r : t_rowMax = new float[w]);   // [W]
        for (int plane = 0; plane < planes; plane++)
        {
            ref float x = ref Unsafe.Add(ref x0, (nint)plane * h * w);   // [H, W]
            for (int oy = 0; oy < oh; oy++)
            {
                int hs = oy * g.StrideH - g.PadH, he = Math.Min(hs + g.KernelH, h);
                hs = Math.Max(hs, 0);
                // The window maximum is separable: first the vertical maximum of the window's rows, for every column at
                // once (vectorised, NaN-propagating), then a short horizontal maximum per output. Data-dependent branches
                // ("is this tap larger?") are coin flips on real activations, so the value path has none; the argmax is
                // then a search that stops at the first match (a predictable loop).
                MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref x, hs * w), w).CopyTo(MemoryMarshal.CreateSpan(ref colMax, w));
                for (int iy = hs + 1; iy < he; iy++) MaxInto(ref Unsafe.Add(ref x, iy * w), ref colMax, (nuint)w);
                nint outRow = ((nint)plane * oh + oy) * ow;
                for (int ox = 0; ox < ow; ox++)
                {
                    int ws = ox * g.StrideW - g.PadW, we = Math.Min(ws + g.KernelW, w);
                    ws = Math.Max(ws, 0);
                    float max = Unsafe.Add(ref colMax, ws);
                    for (int ix = ws + 1; ix < we; ix++) max = Math.Max(max, Unsafe.Add(ref colMax, ix));
                    if (keep || max == 0f)
                    {
                        int best = FindMax(ref x, w, hs, he, ws, we, max);
                        if (keep) Unsafe.Add(ref a0, outRow + ox) = best;
                        if (max == 0f) max = Unsafe.Add(ref x, best);   // the first zero's sign, as torch's scan keeps it
                    }
                    Unsafe.Add(ref y0, outRow + ox) = max;
                }
            }
        }
    }

    [ThreadStatic] private static float[]? t_rowMax;

    /// <summary>m[i] = max(m[i], x[i]) with NaN propagating (IEEE 754:2019 maximum, as Math.Max).</summary>
    private static void MaxInto(ref float x, ref float m, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                Vector256.Max(Vector256.LoadUnsafe(ref m, i), Vector256.LoadUnsafe(ref x, i)).StoreUnsafe(ref m, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                Vector128.Max(Vector128.LoadUnsafe(ref m, i), Vector128.LoadUnsafe(ref x, i)).StoreUnsafe(ref m, i);
        for (; i < n; i++) Unsafe.Add(ref m, i) = Math.Max(Unsafe.Add(ref m, i), Unsafe.Add(ref x, i));
    }

    /// <summary>Index (h·W + w) of the first tap equal to <paramref name="max"/> in the window, or of the last NaN when it is NaN.</summary>
    private static int FindMax(ref float x, int w, int hs, int he, int ws, int we, float max)
    {
        if (float.IsNaN(max))
        {
            int last = 0;
            for (int iy = hs; iy < he; iy++)
                for (int ix = ws; ix < we; ix++)
                    if (float.IsNaN(Unsafe.Add(ref x, iy * w + ix))) last = iy * w + ix;
            return last;
        }
        for (int iy = hs; iy < he; iy++)
            for (int ix = ws; ix < we; ix++)
                if (Unsafe.Add(ref x, iy * w + ix) == max) return iy * w + ix;
        return hs * w + ws;   // all taps −∞
    }

    /// <summary>Backward of <see cref="MaxForward(in PoolGeometry, ReadOnlySpan{float}, Span{float}, Span{int}, int)"/>: <c>dInput</c> is overwritten with zeros, then each <c>dOutput</c> element is added at its argmax.</summary>
    /// <param name="g">The pooling geometry.</param>
    /// <param name="dOutput">Gradient with respect to the output [batch, Channels, OutHeight, OutWidth].</param>
    /// <param name="argmax">The indices <see cref="MaxForward(in PoolGeometry, ReadOnlySpan{float}, Span{float}, Span{int}, int)"/> wrote [batch, Channels, OutHeight, OutWidth].</param>
    /// <param name="dInput">Gradient with respect to the input [batch, Channels, InHeight, InWidth]; overwritten.</param>
    /// <param name="batch">Number of examples.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative, or an argmax entry lies outside its plane.</exception>
    /// <exception cref="ArgumentException">The geometry is invalid, a span's length does not match its shape, or dInput overlaps dOutput.</exception>
    public static void MaxBackward(in PoolGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<int> argmax, Span<float> dInput, int batch)
    {
        int planes = CheckPool(g, dInput.Length, dOutput.Length, batch, nameof(dInput), nameof(dOutput));
        ThrowHelper.CheckShape(argmax.Length, nameof(argmax), nameof(batch), batch, nameof(g.OutputLength), g.OutputLength);
        ThrowHelper.CheckNoOverlap(dOutput, dInput, nameof(dOutput), nameof(dInput));
        ScatterArgmax(dOutput, argmax, dInput, planes, g.InHeight * g.InWidth, g.OutHeight * g.OutWidth);
    }

    /// <summary>
    /// Effectively computes <c>output[b, c, y, x] = (Σ of input over the window ∩ input) / divisor</c>, where the divisor is
    /// <see cref="PoolGeometry.DivisorOverride"/> when positive, else the area of the window ∩ padded input
    /// (<see cref="PoolGeometry.CountIncludePad"/>) or of the window ∩ input (PyTorch's <c>avg_pool2d</c>).
    /// </summary>
    /// <param name="g">The pooling geometry.</param>
    /// <param name="input">Input [batch, Channels, InHeight, InWidth].</param>
    /// <param name="output">Output [batch, Channels, OutHeight, OutWidth].</param>
    /// <param name="batch">Number of examples.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative.</exception>
    /// <exception cref="ArgumentException">The geometry is invalid, a span's length does not match its shape, or output overlaps input.</exception>
    public static void AvgForward(in PoolGeometry g, ReadOnlySpan<float> input, Span<float> output, int batch)
    {
        int planes = CheckPool(g, input.Length, output.Length, batch, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        int h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth;
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y0 = ref MemoryMarshal.GetReference(output);
        for (int plane = 0; plane < planes; plane++)
        {
            ref float x = ref Unsafe.Add(ref x0, (nint)plane * h * w);
            for (int oy = 0; oy < oh; oy++)
            {
                (int hs, int he, int hd) = AvgWindow(oy, g.StrideH, g.PadH, g.KernelH, h);
                nint outRow = ((nint)plane * oh + oy) * ow;
                for (int ox = 0; ox < ow; ox++)
                {
                    (int ws, int we, int wd) = AvgWindow(ox, g.StrideW, g.PadW, g.KernelW, w);
                    float sum = 0f;
                    for (int iy = hs; iy < he; iy++)
                        for (int ix = ws; ix < we; ix++) sum += Unsafe.Add(ref x, iy * w + ix);
                    Unsafe.Add(ref y0, outRow + ox) = sum / Divisor(g, hd * wd, (he - hs) * (we - ws));
                }
            }
        }
    }

    /// <summary>Backward of <see cref="AvgForward"/>: each output gradient is spread evenly (divided by its window's divisor) over its window; dInput is overwritten.</summary>
    /// <param name="g">The pooling geometry.</param>
    /// <param name="dOutput">Gradient with respect to the output [batch, Channels, OutHeight, OutWidth].</param>
    /// <param name="dInput">Gradient with respect to the input [batch, Channels, InHeight, InWidth]; overwritten.</param>
    /// <param name="batch">Number of examples.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative.</exception>
    /// <exception cref="ArgumentException">The geometry is invalid, a span's length does not match its shape, or dInput overlaps dOutput.</exception>
    public static void AvgBackward(in PoolGeometry g, ReadOnlySpan<float> dOutput, Span<float> dInput, int batch)
    {
        int planes = CheckPool(g, dInput.Length, dOutput.Length, batch, nameof(dInput), nameof(dOutput));
        ThrowHelper.CheckNoOverlap(dOutput, dInput, nameof(dOutput), nameof(dInput));
        dInput.Clear();
        int h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth;
        ref float dy0 = ref MemoryMarshal.GetReference(dOutput);
        ref float dx0 = ref MemoryMarshal.GetReference(dInput);
        for (int plane = 0; plane < planes; plane++)
        {
            ref float dx = ref Unsafe.Add(ref dx0, (nint)plane * h * w);
            for (int oy = 0; oy < oh; oy++)
            {
                (int hs, int he, int hd) = AvgWindow(oy, g.StrideH, g.PadH, g.KernelH, h);
                nint outRow = ((nint)plane * oh + oy) * ow;
                for (int ox = 0; ox < ow; ox++)
                {
                    (int ws, int we, int wd) = AvgWindow(ox, g.StrideW, g.PadW, g.KernelW, w);
                    float share = Unsafe.Add(ref dy0, outRow + ox) / Divisor(g, hd * wd, (he - hs) * (we - ws));
                    for (int iy = hs; iy < he; iy++)
                        for (int ix = ws; ix < we; ix++) Unsafe.Add(ref dx, iy * w + ix) += share;
                }
            }
        }
    }

    /// <summary>Effectively computes <c>output[b, c] = mean of input[b, c, :]</c> (global average pooling).</summary>
    /// <param name="input">Input [batch, channels, spatial].</param>
    /// <param name="output">Output [batch, channels].</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per plane (H·W, or L for 1-D).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or <paramref name="spatial"/> is 0.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or output overlaps input.</exception>
    public static void GlobalAvgForward(ReadOnlySpan<float> input, Span<float> output, int batch, int channels, int spatial)
    {
        int planes = CheckGlobal(input.Length, output.Length, batch, channels, spatial, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ref float x = ref MemoryMarshal.GetReference(input);
        float inv = 1f / spatial;
        for (int plane = 0; plane < planes; plane++)
            output[plane] = RowOps.Sum(ref Unsafe.Add(ref x, (nint)plane * spatial), (nuint)spatial) * inv;
    }

    /// <summary>Backward of <see cref="GlobalAvgForward"/>: <c>dInput[b, c, :] = dOutput[b, c] / spatial</c> (overwritten).</summary>
    /// <param name="dOutput">Gradient with respect to the output [batch, channels].</param>
    /// <param name="dInput">Gradient with respect to the input [batch, channels, spatial]; overwritten.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per plane.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or <paramref name="spatial"/> is 0.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or dInput overlaps dOutput.</exception>
    public static void GlobalAvgBackward(ReadOnlySpan<float> dOutput, Span<float> dInput, int batch, int channels, int spatial)
    {
        int planes = CheckGlobal(dInput.Length, dOutput.Length, batch, channels, spatial, nameof(dInput), nameof(dOutput));
        ThrowHelper.CheckNoOverlap(dOutput, dInput, nameof(dOutput), nameof(dInput));
        float inv = 1f / spatial;
        for (int plane = 0; plane < planes; plane++)
            dInput.Slice(plane * spatial, spatial).Fill(dOutput[plane] * inv);
    }

    /// <summary>Effectively computes <c>output[b, c] = max of input[b, c, :]</c> and, when <paramref name="argmax"/> is not empty, the winner's index within the plane (NaN propagates; ties keep the first).</summary>
    /// <param name="input">Input [batch, channels, spatial].</param>
    /// <param name="output">Output [batch, channels].</param>
    /// <param name="argmax">Winner indices [batch, channels], or empty (inference).</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per plane.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or <paramref name="spatial"/> is 0.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or output overlaps input.</exception>
    public static void GlobalMaxForward(ReadOnlySpan<float> input, Span<float> output, Span<int> argmax, int batch, int channels, int spatial)
    {
        int planes = CheckGlobal(input.Length, output.Length, batch, channels, spatial, nameof(input), nameof(output));
        if (!argmax.IsEmpty) ThrowHelper.CheckShape(argmax.Length, nameof(argmax), nameof(batch), batch, nameof(channels), channels, orEmpty: true);
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        for (int plane = 0; plane < planes; plane++)
        {
            ReadOnlySpan<float> x = input.Slice(plane * spatial, spatial);
            int best = 0;
            float max = float.NegativeInfinity;
            for (int i = 0; i < x.Length; i++)
                if (x[i] > max || float.IsNaN(x[i])) { max = x[i]; best = i; }
            output[plane] = max;
            if (!argmax.IsEmpty) argmax[plane] = best;
        }
    }

    /// <summary>Backward of <see cref="GlobalMaxForward"/>: <c>dInput</c> is zero except <c>dOutput[b, c]</c> at each plane's argmax (overwritten).</summary>
    /// <param name="dOutput">Gradient with respect to the output [batch, channels].</param>
    /// <param name="argmax">The indices <see cref="GlobalMaxForward"/> wrote [batch, channels].</param>
    /// <param name="dInput">Gradient with respect to the input [batch, channels, spatial]; overwritten.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per plane.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, <paramref name="spatial"/> is 0, or an argmax entry lies outside its plane.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or dInput overlaps dOutput.</exception>
    public static void GlobalMaxBackward(ReadOnlySpan<float> dOutput, ReadOnlySpan<int> argmax, Span<float> dInput, int batch, int channels, int spatial)
    {
        int planes = CheckGlobal(dInput.Length, dOutput.Length, batch, channels, spatial, nameof(dInput), nameof(dOutput));
        ThrowHelper.CheckShape(argmax.Length, nameof(argmax), nameof(batch), batch, nameof(channels), channels);
        ThrowHelper.CheckNoOverlap(dOutput, dInput, nameof(dOutput), nameof(dInput));
        ScatterArgmax(dOutput, argmax, dInput, planes, spatial, 1);
    }

    /// <summary>
    /// Effectively computes <c>output[b, c, i, j] = mean of input[b, c, hs..he, ws..we]</c> with
    /// <c>hs = ⌊i·inH/outH⌋, he = ⌈(i+1)·inH/outH⌉</c> (likewise for columns), as PyTorch's <c>adaptive_avg_pool2d</c>.
    /// </summary>
    /// <param name="input">Input [batch, channels, inH, inW].</param>
    /// <param name="output">Output [batch, channels, outH, outW].</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="inH">Input height.</param>
    /// <param name="inW">Input width.</param>
    /// <param name="outH">Output height.</param>
    /// <param name="outW">Output width.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or a spatial size is 0.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or output overlaps input.</exception>
    public static void AdaptiveAvgForward(ReadOnlySpan<float> input, Span<float> output, int batch, int channels, int inH, int inW, int outH, int outW)
    {
        int planes = CheckAdaptive(input.Length, output.Length, batch, channels, inH, inW, outH, outW, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y0 = ref MemoryMarshal.GetReference(output);
        for (int plane = 0; plane < planes; plane++)
        {
            ref float x = ref Unsafe.Add(ref x0, (nint)plane * inH * inW);
            for (int i = 0; i < outH; i++)
            {
                int hs = AdaptiveStart(i, inH, outH), he = AdaptiveEnd(i, inH, outH);
                for (int j = 0; j < outW; j++)
                {
                    int ws = AdaptiveStart(j, inW, outW), we = AdaptiveEnd(j, inW, outW);
                    float sum = 0f;
                    for (int iy = hs; iy < he; iy++)
                        sum += RowOps.Sum(ref Unsafe.Add(ref x, iy * inW + ws), (nuint)(we - ws));
                    Unsafe.Add(ref y0, ((nint)plane * outH + i) * outW + j) = sum / ((he - hs) * (we - ws));
                }
            }
        }
    }

    /// <summary>Backward of <see cref="AdaptiveAvgForward"/>: each output gradient is spread evenly over its window; dInput is overwritten.</summary>
    /// <param name="dOutput">Gradient with respect to the output [batch, channels, outH, outW].</param>
    /// <param name="dInput">Gradient with respect to the input [batch, channels, inH, inW]; overwritten.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="inH">Input height.</param>
    /// <param name="inW">Input width.</param>
    /// <param name="outH">Output height.</param>
    /// <param name="outW">Output width.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or a spatial size is 0.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or dInput overlaps dOutput.</exception>
    public static void AdaptiveAvgBackward(ReadOnlySpan<float> dOutput, Span<float> dInput, int batch, int channels, int inH, int inW, int outH, int outW)
    {
        int planes = CheckAdaptive(dInput.Length, dOutput.Length, batch, channels, inH, inW, outH, outW, nameof(dInput), nameof(dOutput));
        ThrowHelper.CheckNoOverlap(dOutput, dInput, nameof(dOutput), nameof(dInput));
        dInput.Clear();
        ref float dy0 = ref MemoryMarshal.GetReference(dOutput);
        ref float dx0 = ref MemoryMarshal.GetReference(dInput);
        for (int plane = 0; plane < planes; plane++)
        {
            ref float dx = ref Unsafe.Add(ref dx0, (nint)plane * inH * inW);
            for (int i = 0; i < outH; i++)
            {
                int hs = AdaptiveStart(i, inH, outH), he = AdaptiveEnd(i, inH, outH);
                for (int j = 0; j < outW; j++)
                {
                    int ws = AdaptiveStart(j, inW, outW), we = AdaptiveEnd(j, inW, outW);
                    float share = Unsafe.Add(ref dy0, ((nint)plane * outH + i) * outW + j) / ((he - hs) * (we - ws));
                    for (int iy = hs; iy < he; iy++)
                        for (int ix = ws; ix < we; ix++) Unsafe.Add(ref dx, iy * inW + ix) += share;
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ references

    /// <summary>Naive reference for <see cref="MaxForward(in PoolGeometry, ReadOnlySpan{float}, Span{float}, Span{int}, int)"/> (value only), in double: every window tap is tested against the input bounds. For tests.</summary>
    public static void ReferenceMax(in PoolGeometry g, ReadOnlySpan<double> input, Span<double> output, int batch)
        => ReferencePool(g, input, output, batch, max: true);

    /// <summary>Naive reference for <see cref="AvgForward"/>, in double, with PyTorch's divisor rule spelled out tap by tap. For tests.</summary>
    public static void ReferenceAvg(in PoolGeometry g, ReadOnlySpan<double> input, Span<double> output, int batch)
        => ReferencePool(g, input, output, batch, max: false);

    /// <summary>Naive reference for <see cref="AdaptiveAvgForward"/>, in double. For tests.</summary>
    public static void ReferenceAdaptiveAvg(ReadOnlySpan<double> input, Span<double> output, int batch, int channels, int inH, int inW, int outH, int outW)
    {
        ThrowHelper.CheckLength(input.Length, batch * channels * inH * inW, nameof(input), "batch·channels·inH·inW");
        ThrowHelper.CheckLength(output.Length, batch * channels * outH * outW, nameof(output), "batch·channels·outH·outW");
        for (int plane = 0; plane < batch * channels; plane++)
            for (int i = 0; i < outH; i++)
                for (int j = 0; j < outW; j++)
                {
                    int hs = (int)Math.Floor((double)i * inH / outH), he = (int)Math.Ceiling((double)(i + 1) * inH / outH);
                    int ws = (int)Math.Floor((double)j * inW / outW), we = (int)Math.Ceiling((double)(j + 1) * inW / outW);
                    double sum = 0;
                    for (int y = hs; y < he; y++)
                        for (int x = ws; x < we; x++) sum += input[(plane * inH + y) * inW + x];
                    output[(plane * outH + i) * outW + j] = sum / ((he - hs) * (we - ws));
                }
    }

    private static void ReferencePool(in PoolGeometry g, ReadOnlySpan<double> input, Span<double> output, int batch, bool max)
    {
        g.Validate(nameof(g));
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, nameof(g.InputLength), g.InputLength);
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(g.OutputLength), g.OutputLength);
        int oh = g.OutHeight, ow = g.OutWidth;
        for (int plane = 0; plane < batch * g.Channels; plane++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                {
                    double acc = max ? double.NegativeInfinity : 0;
                    int counted = 0, inside = 0;
                    for (int i = 0; i < g.KernelH; i++)
                        for (int j = 0; j < g.KernelW; j++)
                        {
                            int iy = y * g.StrideH - g.PadH + i, ix = x * g.StrideW - g.PadW + j;
                            // count_include_pad: padding taps count, taps beyond the padding (ceil mode) do not.
                            if (iy < g.InHeight + g.PadH && ix < g.InWidth + g.PadW) counted++;
                            if (iy < 0 || iy >= g.InHeight || ix < 0 || ix >= g.InWidth) continue;
                            inside++;
                            double v = input[(plane * g.InHeight + iy) * g.InWidth + ix];
                            acc = max ? (double.IsNaN(acc) || double.IsNaN(v) ? double.NaN : Math.Max(acc, v)) : acc + v;
                        }
                    output[(plane * oh + y) * ow + x] = max ? acc
                        : acc / (g.DivisorOverride > 0 ? g.DivisorOverride : g.CountIncludePad ? counted : inside);
                }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// <summary>Clipped window [start, end) along one axis and the count_include_pad divisor (window clipped to the padded input).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int Start, int End, int Divisor) AvgWindow(int o, int stride, int pad, int kernel, int size)
    {
        int start = o * stride - pad;
        int end = Math.Min(start + kernel, size + pad);
        int divisor = end - start;
        return (Math.Max(start, 0), Math.Min(end, size), divisor);
    }

    /// <summary>An average window's divisor: the override, else its area within the padded input (count_include_pad) or within the input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Divisor(in PoolGeometry g, int padded, int inside)
        => g.DivisorOverride > 0 ? g.DivisorOverride : g.CountIncludePad ? padded : inside;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AdaptiveStart(int i, int input, int output) => (int)((long)i * input / output);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AdaptiveEnd(int i, int input, int output) => (int)(((long)(i + 1) * input + output - 1) / output);

    /// <summary>dInput = 0, then dInput[plane, argmax[plane, o]] += dOutput[plane, o].</summary>
    private static void ScatterArgmax(ReadOnlySpan<float> dOutput, ReadOnlySpan<int> argmax, Span<float> dInput, int planes, int inPlane, int outPlane)
    {
        dInput.Clear();
        for (int plane = 0; plane < planes; plane++)
        {
            Span<float> dx = dInput.Slice(plane * inPlane, inPlane);
            for (int o = plane * outPlane, end = o + outPlane; o < end; o++)
            {
                int index = argmax[o];
                if ((uint)index >= (uint)inPlane)
                    throw new ArgumentOutOfRangeException(nameof(argmax), index, $"'argmax[{o}]' must be a position inside its input plane [0, {inPlane}) but is {index}.");
                dx[index] += dOutput[o];
            }
        }
    }

    private static int CheckPool(in PoolGeometry g, int inLength, int outLength, int batch, string inName, string outName)
    {
        g.Validate(nameof(g));
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckShape(inLength, inName, nameof(batch), batch, nameof(g.InputLength), g.InputLength);
        ThrowHelper.CheckShape(outLength, outName, nameof(batch), batch, nameof(g.OutputLength), g.OutputLength);
        return batch * g.Channels;
    }

    private static int CheckGlobal(int inLength, int outLength, int batch, int channels, int spatial, string inName, string outName)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(channels, nameof(channels));
        CheckPositive(spatial, nameof(spatial));
        ThrowHelper.CheckShape(outLength, outName, nameof(batch), batch, nameof(channels), channels);
        ThrowHelper.CheckShape(inLength, inName, "batch·channels", batch * channels, nameof(spatial), spatial);
        return batch * channels;
    }

    private static int CheckAdaptive(int inLength, int outLength, int batch, int channels, int inH, int inW, int outH, int outW, string inName, string outName)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(channels, nameof(channels));
        CheckPositive(inH, nameof(inH));
        CheckPositive(inW, nameof(inW));
        CheckPositive(outH, nameof(outH));
        CheckPositive(outW, nameof(outW));
        // Products in 64 bits (a plane larger than int.MaxValue is clamped, which no span can match): once both
        // lengths match, batch·channels and the plane sizes fit in int.
        ThrowHelper.CheckShape(inLength, inName, nameof(batch), batch, nameof(channels), channels, "inH·inW", (int)Math.Min(int.MaxValue, (long)inH * inW));
        ThrowHelper.CheckShape(outLength, outName, nameof(batch), batch, nameof(channels), channels, "outH·outW", (int)Math.Min(int.MaxValue, (long)outH * outW));
        return batch * channels;
    }

    private static void CheckPositive(int value, string name)
    {
        if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be at least 1 but is {value}.");
    }
}
