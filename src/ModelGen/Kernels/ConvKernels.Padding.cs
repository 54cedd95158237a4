// Non-zero padding modes (PyTorch's padding_mode = 'reflect' | 'replicate' | 'circular') as PyTorch itself runs them:
// F.pad the input into a padded copy, then a convolution with no padding. Every route (direct, lanes, im2col, pooled)
// therefore handles them unchanged, and the zero-padding routes keep their own special cases and speed.
//   forward   xp[b, c, Hp, Wp] = x[b, c, src(y − PadH, H), src(x − PadW, W)]      (Hp = H + 2·PadH, Wp = W + 2·PadW)
//             y = conv₀(xp)                                                        (the same geometry with PadH = PadW = 0)
//   backward  dxp = ∂loss/∂xp from conv₀'s backward;  dx[src] += dxp[padded]       (the adjoint of the copy: gradients of
//             reflected, replicated or wrapped positions accumulate into the input positions they were read from)
// src(i, n): reflect i < 0 → −i, i ≥ n → 2(n − 1) − i; replicate clamps to [0, n); circular wraps modulo n.
// The padded copy and its gradient are thread-static scratch (grown on first use, reused; no allocation in steady state).
// Backward re-pads the input rather than keeping the forward's copy: one cheap pass instead of another activation buffer.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelGen.Kernels;

public static partial class ConvKernels
{
    [ThreadStatic] private static float[]? t_padded;    // [batch, C, Hp, Wp] the padded input
    [ThreadStatic] private static float[]? t_dPadded;   // [batch, C, Hp, Wp] its gradient

    /// <summary>The convolution <paramref name="g"/> runs on its padded input: input Hp × Wp, no padding, zero mode.</summary>
    internal static ConvGeometry OnPaddedInput(in ConvGeometry g)
        => g with { InHeight = g.InHeight + 2 * g.PadH, InWidth = g.InWidth + 2 * g.PadW, PadH = 0, PadW = 0, PaddingMode = PaddingMode.Zeros };

    /// <summary>Where padded coordinate <paramref name="i"/> (relative to the input's first element) reads from in [0, n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int PaddingSource(int i, int n, PaddingMode mode)
    {
        if ((uint)i < (uint)n) return i;
        return mode switch
        {
            PaddingMode.Reflect => i < 0 ? -i : 2 * (n - 1) - i,
            PaddingMode.Replicate => i < 0 ? 0 : n - 1,
            _ => i < 0 ? i + n : i - n,   // circular: Validate bounds the padding by n, so one wrap suffices
        };
    }

    /// <summary>
    /// Fills <paramref name="padded"/> [batch·C, Hp, Wp] from <paramref name="input"/> [batch·C, H, W] by <paramref name="g"/>'s
    /// padding mode: each row's interior is one block copy, only the PadW columns on each side are mapped.
    /// </summary>
    internal static void PadInput(in ConvGeometry g, ReadOnlySpan<float> input, Span<float> padded, int batch)
    {
        int h = g.InHeight, w = g.InWidth, ph = g.PadH, pw = g.PadW, hp = h + 2 * ph, wp = w + 2 * pw;
        int planes = batch * g.InChannels;
        PaddingMode mode = g.PaddingMode;
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float p0 = ref MemoryMarshal.GetReference(padded);
        for (int plane = 0; plane < planes; plane++)
            for (int py = 0; py < hp; py++)
            {
                ref float src = ref Unsafe.Add(ref x0, ((nint)plane * h + PaddingSource(py - ph, h, mode)) * w);
                ref float dst = ref Unsafe.Add(ref p0, ((nint)plane * hp + py) * wp);
                MemoryMarshal.CreateReadOnlySpan(ref src, w).CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dst, pw), w));
                for (int px = 0; px < pw; px++)
                {
                    Unsafe.Add(ref dst, px) = Unsafe.Add(ref src, PaddingSource(px - pw, w, mode));
                    Unsafe.Add(ref dst, pw + w + px) = Unsafe.Add(ref src, PaddingSource(w + px, w, mode));
                }
            }
    }

    /// <summary>
    /// The adjoint of <see cref="PadInput"/>: <paramref name="dInput"/> [batch·C, H, W] is overwritten with the sum, over every
    /// padded position, of <paramref name="dPadded"/> [batch·C, Hp, Wp] at the input position it was copied from.
    /// </summary>
    internal static void FoldPadding(in ConvGeometry g, ReadOnlySpan<float> dPadded, Span<float> dInput, int batch)
    {
        int h = g.InHeight, w = g.InWidth, ph = g.PadH, pw = g.PadW, hp = h + 2 * ph, wp = w + 2 * pw;
        int planes = batch * g.InChannels;
        PaddingMode mode = g.PaddingMode;
        dInput.Clear();
        ref float d0 = ref MemoryMarshal.GetReference(dPadded);
        ref float x0 = ref MemoryMarshal.GetReference(dInput);
        for (int plane = 0; plane < planes; plane++)
            for (int py = 0; py < hp; py++)
            {
                ref float src = ref Unsafe.Add(ref d0, ((nint)plane * hp + py) * wp);
                ref float dst = ref Unsafe.Add(ref x0, ((nint)plane * h + PaddingSource(py - ph, h, mode)) * w);
                RowOps.AddTo(ref Unsafe.Add(ref src, pw), ref dst, (nuint)w);
                for (int px = 0; px < pw; px++)
                {
                    Unsafe.Add(ref dst, PaddingSource(px - pw, w, mode)) += Unsafe.Add(ref src, px);
                    Unsafe.Add(ref dst, PaddingSource(w + px, w, mode)) += Unsafe.Add(ref src, pw + w + px);
                }
            }
    }

    /// <summary>Forward with a non-zero padding mode: pad into scratch, then the zero-padding kernels on the padded input.</summary>
    private static void ForwardPadded<TAct>(Path path, TAct act, in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, Span<float> preActivation, int batch) where TAct : struct, IActivation
    {
        ConvGeometry inner = OnPaddedInput(g);
        Span<float> padded = Scratch(ref t_padded, batch * inner.InputLength);   // [batch, C, Hp, Wp]
        PadInput(g, input, padded, batch);
        Forward(path, act, inner, padded, weight, bias, output, preActivation, batch);
    }

    /// <summary>Backward with a non-zero padding mode: the zero-padding backward on the re-padded input, then the gradient folded back.</summary>
    private static void BackwardPadded<TAct>(Path path, TAct act, in ConvGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> preActivation,
        ReadOnlySpan<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> dPre,
        Span<float> dWeight, Span<float> dBias, Span<float> dInput, int batch) where TAct : struct, IActivation
    {
        g.Validate(nameof(g));
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, nameof(g.InputLength), g.InputLength);
        if (!dInput.IsEmpty)
        {
            ThrowHelper.CheckShape(dInput.Length, nameof(dInput), nameof(batch), batch, nameof(g.InputLength), g.InputLength, orEmpty: true);
            ThrowHelper.CheckNoOverlap(dOutput, dInput, nameof(dOutput), nameof(dInput));
            ThrowHelper.CheckNoOverlap(weight, dInput, nameof(weight), nameof(dInput));
            ThrowHelper.CheckNoOverlap(input, dInput, nameof(input), nameof(dInput));
        }
        ConvGeometry inner = OnPaddedInput(g);
        int length = batch * inner.InputLength;
        Span<float> padded = Scratch(ref t_padded, length);                                    // [batch, C, Hp, Wp]
        Span<float> dPadded = dInput.IsEmpty ? default : Scratch(ref t_dPadded, length);        // [batch, C, Hp, Wp]
        PadInput(g, input, padded, batch);
        Backward(path, act, inner, dOutput, preActivation, output, padded, weight, dPre, dWeight, dBias, dPadded, batch);
        if (!dInput.IsEmpty) FoldPadding(g, dPadded, dInput, batch);
    }
}
