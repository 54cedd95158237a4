// Parametric ReLU over x[examples, channels, spatial] with learned slopes (PyTorch nn.PReLU, channel axis = dim 1):
//   y = x            for x > 0,
//   y = weight[c]·x  otherwise,
// with weight [channels] (num_parameters = C) or [1] (one slope shared by every element; call with channels = 1,
// spatial = 1, so any tensor is a run of examples). Backward follows torch's prelu backward exactly, including x = 0:
//   dx = dy for x > 0, else weight[c]·dy;    dweight[c] += Σ dy·x over the elements with x ≤ 0.
// Three loop shapes keep every loop contiguous and vectorised: one slope (one long run), per-channel slopes on
// [F] examples (spatial = 1: the slope vector is loaded beside x), and per-channel slopes on [C, spatial] (one run
// per example and channel with a broadcast slope). Every loop is written once over ISimdOps and runs
// 512 → 256 → 128 → scalar. Naive double references (Reference*) stay in this file: tests compare with them.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen.Kernels;

/// <summary>Parametric ReLU (PyTorch <c>nn.PReLU</c>): forward and backward with per-channel or shared slopes.</summary>
/// <remarks>Results may differ in the last bits of the slope gradient between vector widths (summation order).</remarks>
public static class PReLUKernels
{
    /// <summary>
    /// Effectively computes <c>output[n, c, s] = input[n, c, s] &gt; 0 ? input[n, c, s] : weight[c]·input[n, c, s]</c>
    /// (with one shared slope, <c>weight[0]</c> for every element).
    /// </summary>
    /// <param name="input">Input [examples, channels, spatial]; its length must be a multiple of channels·spatial.</param>
    /// <param name="weight">Slopes [channels], or [1] for one shared slope (PyTorch <c>weight</c>, init 0.25).</param>
    /// <param name="output">Output, shaped as <paramref name="input"/>; may be the same span as <paramref name="input"/>.</param>
    /// <param name="channels">Channels (dim 1 of PyTorch's [N, C, ...]; the features of [N, F]); 1 with a shared slope.</param>
    /// <param name="spatial">Elements per channel per example (1 for [F] examples).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> or <paramref name="spatial"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A span's length does not fit the shape, the weight is neither [channels] nor [1], or output partially overlaps input.</exception>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> output, int channels, int spatial)
    {
        int examples = CheckShape(input.Length, weight.Length, channels, spatial, nameof(input));
        ThrowHelper.CheckLength(output.Length, input.Length, nameof(output), "the length of input");
        ThrowHelper.CheckSameOrDisjoint(input, output, nameof(input), nameof(output));
        if (input.IsEmpty) return;
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y0 = ref MemoryMarshal.GetReference(output);
        ref float w = ref MemoryMarshal.GetReference(weight);
        if (weight.Length == 1)
        {
            ForwardRun(ref x0, ref y0, w, input.Length);
            return;
        }
        nint plane = (nint)channels * spatial;
        for (int n = 0; n < examples; n++)
        {
            ref float x = ref Unsafe.Add(ref x0, n * plane);   // [channels, spatial]
            ref float y = ref Unsafe.Add(ref y0, n * plane);
            if (spatial == 1)
            {
                int i = 0;
                if (V512.IsAccelerated) i = ForwardLanes<Vector512<float>, V512>(ref x, ref w, ref y, i, channels);
                if (V256.IsAccelerated) i = ForwardLanes<Vector256<float>, V256>(ref x, ref w, ref y, i, channels);
                if (V128.IsAccelerated) i = ForwardLanes<Vector128<float>, V128>(ref x, ref w, ref y, i, channels);
                ForwardLanes<float, Scalar>(ref x, ref w, ref y, i, channels);
                continue;
            }
            for (int c = 0; c < channels; c++)
                ForwardRun(ref Unsafe.Add(ref x, (nint)c * spatial), ref Unsafe.Add(ref y, (nint)c * spatial), Unsafe.Add(ref w, c), spatial);
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: <c>dInput = input &gt; 0 ? dOutput : weight[c]·dOutput</c> (overwritten) and
    /// <c>dWeight[c] += Σ dOutput·input</c> over the elements of channel c (all elements for a shared slope) with input ≤ 0.
    /// </summary>
    /// <param name="dOutput">Gradient with respect to the output, shaped as <paramref name="input"/>.</param>
    /// <param name="input">The forward input [examples, channels, spatial].</param>
    /// <param name="weight">Slopes [channels] or [1].</param>
    /// <param name="dInput">Input gradient, overwritten; may be the same span as <paramref name="dOutput"/>; empty when not needed.</param>
    /// <param name="dWeight">Slope gradient, shaped as <paramref name="weight"/>, accumulated into; empty when not needed.</param>
    /// <param name="channels">Channels; 1 with a shared slope.</param>
    /// <param name="spatial">Elements per channel per example.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> or <paramref name="spatial"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A span's length does not fit the shape, or an output span overlaps another operand (dInput may only coincide with dOutput).</exception>
    public static void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> dInput, Span<float> dWeight,
        int channels, int spatial)
    {
        int examples = CheckShape(input.Length, weight.Length, channels, spatial, nameof(input));
        ThrowHelper.CheckLength(dOutput.Length, input.Length, nameof(dOutput), "the length of input");
        if (!dInput.IsEmpty) ThrowHelper.CheckLength(dInput.Length, input.Length, nameof(dInput), "the length of input (or empty)");
        if (!dWeight.IsEmpty) ThrowHelper.CheckLength(dWeight.Length, weight.Length, nameof(dWeight), "the length of weight (or empty)");
        ThrowHelper.CheckSameOrDisjoint(dOutput, dInput, nameof(dOutput), nameof(dInput));
        ThrowHelper.CheckNoOverlap(input, dInput, nameof(input), nameof(dInput));
        ThrowHelper.CheckNoOverlap(dWeight, dOutput, nameof(dOutput), nameof(dWeight));
        ThrowHelper.CheckNoOverlap(dWeight, dInput, nameof(dInput), nameof(dWeight));
        ThrowHelper.CheckNoOverlap(dWeight, input, nameof(input), nameof(dWeight));
        if (input.IsEmpty) return;
        ref float dy0 = ref MemoryMarshal.GetReference(dOutput);
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float dx0 = ref MemoryMarshal.GetReference(dInput);
        ref float w = ref MemoryMarshal.GetReference(weight);
        ref float dw = ref MemoryMarshal.GetReference(dWeight);
        bool hasDInput = !dInput.IsEmpty, hasDWeight = !dWeight.IsEmpty;
        if (weight.Length == 1)
        {
            double slope = BackwardRun(ref dy0, ref x0, ref dx0, w, input.Length, hasDInput);
            if (hasDWeight) dw += (float)slope;
            return;
        }
        nint plane = (nint)channels * spatial;
        for (int n = 0; n < examples; n++)
        {
            ref float dy = ref Unsafe.Add(ref dy0, n * plane);   // [channels, spatial]
            ref float x = ref Unsafe.Add(ref x0, n * plane);
            ref float dx = ref Unsafe.Add(ref dx0, n * plane);
            if (spatial == 1)
            {
                int i = 0;
                if (V512.IsAccelerated) i = BackwardLanes<Vector512<float>, V512>(ref dy, ref x, ref w, ref dx, ref dw, hasDInput, hasDWeight, i, channels);
                if (V256.IsAccelerated) i = BackwardLanes<Vector256<float>, V256>(ref dy, ref x, ref w, ref dx, ref dw, hasDInput, hasDWeight, i, channels);
                if (V128.IsAccelerated) i = BackwardLanes<Vector128<float>, V128>(ref dy, ref x, ref w, ref dx, ref dw, hasDInput, hasDWeight, i, channels);
                BackwardLanes<float, Scalar>(ref dy, ref x, ref w, ref dx, ref dw, hasDInput, hasDWeight, i, channels);
                continue;
            }
            for (int c = 0; c < channels; c++)
            {
                nint at = (nint)c * spatial;
                double slope = BackwardRun(ref Unsafe.Add(ref dy, at), ref Unsafe.Add(ref x, at), ref Unsafe.Add(ref dx, at), Unsafe.Add(ref w, c), spatial, hasDInput);
                if (hasDWeight) Unsafe.Add(ref dw, c) += (float)slope;
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ references

    /// <summary>Naive reference for <see cref="Forward"/> in double. For tests.</summary>
    public static void ReferenceForward(ReadOnlySpan<double> input, ReadOnlySpan<double> weight, Span<double> output, int channels, int spatial)
    {
        for (int i = 0; i < input.Length; i++)
        {
            double a = weight.Length == 1 ? weight[0] : weight[i / spatial % channels];
            output[i] = input[i] > 0 ? input[i] : a * input[i];
        }
    }

    /// <summary>Naive reference for <see cref="Backward"/> in double (dInput overwritten, dWeight accumulated). For tests.</summary>
    public static void ReferenceBackward(ReadOnlySpan<double> dOutput, ReadOnlySpan<double> input, ReadOnlySpan<double> weight, Span<double> dInput, Span<double> dWeight,
        int channels, int spatial)
    {
        for (int i = 0; i < input.Length; i++)
        {
            int c = weight.Length == 1 ? 0 : i / spatial % channels;
            dInput[i] = input[i] > 0 ? dOutput[i] : weight[c] * dOutput[i];
            if (input[i] <= 0) dWeight[c] += dOutput[i] * input[i];
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// <summary>Validates the shape and returns the number of examples.</summary>
    private static int CheckShape(int length, int weightLength, int channels, int spatial, string name)
    {
        if (channels <= 0) ThrowHelper.ThrowArgumentOutOfRange(nameof(channels), channels, "must be positive");
        if (spatial <= 0) ThrowHelper.ThrowArgumentOutOfRange(nameof(spatial), spatial, "must be positive");
        if (weightLength != 1 && weightLength != channels)
            throw new ArgumentException($"'weight' must have 1 or channels ({channels}) elements but has {weightLength}.", "weight");
        long plane = (long)channels * spatial;
        if (length % plane != 0)
            throw new ArgumentException($"'{name}' must have a multiple of channels·spatial ({channels}·{spatial} = {plane}) elements but has {length}.", name);
        return (int)(length / plane);
    }

    /// <summary>y = x &gt; 0 ? x : a·x over x[0..n) with one slope (x and y may alias).</summary>
    private static void ForwardRun(ref float x, ref float y, float a, int n)
    {
        int i = 0;
        if (V512.IsAccelerated) i = ForwardRun<Vector512<float>, V512>(ref x, ref y, a, i, n);
        if (V256.IsAccelerated) i = ForwardRun<Vector256<float>, V256>(ref x, ref y, a, i, n);
        if (V128.IsAccelerated) i = ForwardRun<Vector128<float>, V128>(ref x, ref y, a, i, n);
        ForwardRun<float, Scalar>(ref x, ref y, a, i, n);
    }

    /// <summary>Returns Σ dy·x over x ≤ 0 and writes dx = x &gt; 0 ? dy : a·dy (when <paramref name="hasDInput"/>) over [0..n).</summary>
    private static double BackwardRun(ref float dy, ref float x, ref float dx, float a, int n, bool hasDInput)
    {
        int i = 0;
        double sum = 0;
        if (V512.IsAccelerated) i = BackwardRun<Vector512<float>, V512>(ref dy, ref x, ref dx, a, hasDInput, i, n, ref sum);
        if (V256.IsAccelerated) i = BackwardRun<Vector256<float>, V256>(ref dy, ref x, ref dx, a, hasDInput, i, n, ref sum);
        if (V128.IsAccelerated) i = BackwardRun<Vector128<float>, V128>(ref dy, ref x, ref dx, a, hasDInput, i, n, ref sum);
        BackwardRun<float, Scalar>(ref dy, ref x, ref dx, a, hasDInput, i, n, ref sum);
        return sum;
    }

    // y = select(−x ≥ 0, a·x, x): at x = 0 both are 0, and the test on −x puts x = 0 on the slope side as torch's backward does.
    private static int ForwardRun<TV, TOps>(ref float x, ref float y, float a, int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        TV slope = TOps.Create(a), zero = TOps.Create(0f);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV v = TOps.Load(ref x, (nuint)i);
            TOps.Store(TOps.SelectWhereNonNegative(TOps.Subtract(zero, v), TOps.Multiply(v, slope), v), ref y, (nuint)i);
        }
        return i;
    }

    private static int ForwardLanes<TV, TOps>(ref float x, ref float w, ref float y, int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        TV zero = TOps.Create(0f);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV v = TOps.Load(ref x, (nuint)i);
            TOps.Store(TOps.SelectWhereNonNegative(TOps.Subtract(zero, v), TOps.Multiply(v, TOps.Load(ref w, (nuint)i)), v), ref y, (nuint)i);
        }
        return i;
    }

    private static int BackwardRun<TV, TOps>(ref float dy, ref float x, ref float dx, float a, bool hasDInput, int i, int n, ref double sum)
        where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return i;
        TV slope = TOps.Create(a), zero = TOps.Create(0f), acc = zero;
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV v = TOps.Load(ref x, (nuint)i), d = TOps.Load(ref dy, (nuint)i), negative = TOps.Subtract(zero, v);
            acc = TOps.Add(acc, TOps.SelectWhereNonNegative(negative, TOps.Multiply(d, v), zero));
            if (hasDInput) TOps.Store(TOps.SelectWhereNonNegative(negative, TOps.Multiply(d, slope), d), ref dx, (nuint)i);
        }
        sum += TOps.Sum(acc);
        return i;
    }

    private static int BackwardLanes<TV, TOps>(ref float dy, ref float x, ref float w, ref float dx, ref float dw, bool hasDInput, bool hasDWeight, int i, int n)
        where TV : struct where TOps : ISimdOps<TV>
    {
        TV zero = TOps.Create(0f);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV v = TOps.Load(ref x, (nuint)i), d = TOps.Load(ref dy, (nuint)i), negative = TOps.Subtract(zero, v);
            if (hasDWeight) TOps.Store(TOps.Add(TOps.Load(ref dw, (nuint)i), TOps.SelectWhereNonNegative(negative, TOps.Multiply(d, v), zero)), ref dw, (nuint)i);
            if (hasDInput) TOps.Store(TOps.SelectWhereNonNegative(negative, TOps.Multiply(d, TOps.Load(ref w, (nuint)i)), d), ref dx, (nuint)i);
        }
        return i;
    }
}
