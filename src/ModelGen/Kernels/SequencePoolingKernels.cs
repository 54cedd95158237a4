// Global pooling over time of a sequence x[batch, seq, features] that respects per-example lengths (GlobalAvgPool /
// GlobalMaxPool on [T, F]): example b is reduced over its valid positions t < lengths[b] only, so padding never
// reaches the result, and backward gives padded positions a zero gradient.
//  * Avg: output[b, f] = Σ_{t<L_b} x[b, t, f] · (1/L_b)  (PyTorch: x[b, :L_b].mean(0)).
//  * Max: output[b, f] = max_{t<L_b} x[b, t, f] with PyTorch's max-pooling rule (a later value wins if it is
//    greater or NaN): ties keep the first step, NaN propagates (the last NaN's step), as PoolingKernels.GlobalMaxForward.
//    argmax[b, f] holds the winning step t, so backward scatters without recomputing.
// The features of a step are contiguous, so both kernels keep a block of features in vector registers and walk t
// down the block (a constant stride the prefetcher follows): every lane sums (or compares) its own column in t
// order, so the result is the same on every vector width and does not depend on alignment.
// Naive double references (Reference*) stay in this file: tests compare the fast paths with them.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen.Kernels;

/// <summary>Average and max pooling over time with per-example lengths, forward and backward.</summary>
public static class SequencePoolingKernels
{
    /// <summary>Effectively computes <c>output[b, f] = (1/L_b)·Σ_{t &lt; L_b} input[b, t, f]</c> with <c>L_b = lengths[b]</c> (or seq).</summary>
    /// <param name="input">Input [batch, seq, features].</param>
    /// <param name="output">Output [batch, features]; must not overlap <paramref name="input"/>.</param>
    /// <param name="lengths">Valid lengths [batch], each in [1, seq], or empty (all seq).</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="seq">Padded sequence length.</param>
    /// <param name="features">Features per step.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, a length lies outside [1, seq], or lengths is empty and seq is 0.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or output overlaps input.</exception>
    public static void AvgForward(ReadOnlySpan<float> input, Span<float> output, ReadOnlySpan<int> lengths, int batch, int seq, int features)
    {
        SequenceKernels.CheckSequence(input.Length, lengths, batch, seq, features, nameof(input));
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(features), features);
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y0 = ref MemoryMarshal.GetReference(output);
        for (int b = 0; b < batch; b++)
        {
            int valid = SequenceKernels.Length(lengths, b, seq);
            ref float x = ref Unsafe.Add(ref x0, (nint)b * seq * features);   // [seq, features]
            ref float y = ref Unsafe.Add(ref y0, (nint)b * features);         // [features]
            float scale = 1f / valid;
            int i = 0;
            if (V512.IsAccelerated) i = Average<Vector512<float>, V512>(ref x, ref y, features, valid, scale, i);
            if (V256.IsAccelerated) i = Average<Vector256<float>, V256>(ref x, ref y, features, valid, scale, i);
            if (V128.IsAccelerated) i = Average<Vector128<float>, V128>(ref x, ref y, features, valid, scale, i);
            Average<float, Scalar>(ref x, ref y, features, valid, scale, i);
        }
    }

    /// <summary>Backward of <see cref="AvgForward"/>: <c>dInput[b, t, f] = dOutput[b, f]/L_b</c> for <c>t &lt; L_b</c>, 0 at padded steps (overwritten).</summary>
    /// <param name="dOutput">Gradient with respect to the output [batch, features].</param>
    /// <param name="dInput">Gradient with respect to the input [batch, seq, features]; overwritten; must not overlap dOutput.</param>
    /// <param name="lengths">Valid lengths [batch], or empty.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="seq">Padded sequence length.</param>
    /// <param name="features">Features per step.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, a length lies outside [1, seq], or lengths is empty and seq is 0.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or dInput overlaps dOutput.</exception>
    public static void AvgBackward(ReadOnlySpan<float> dOutput, Span<float> dInput, ReadOnlySpan<int> lengths, int batch, int seq, int features)
    {
        SequenceKernels.CheckSequence(dInput.Length, lengths, batch, seq, features, nameof(dInput));
        ThrowHelper.CheckShape(dOutput.Length, nameof(dOutput), nameof(batch), batch, nameof(features), features);
        ThrowHelper.CheckNoOverlap(dOutput, dInput, nameof(dOutput), nameof(dInput));
        ref float dy0 = ref MemoryMarshal.GetReference(dOutput);
        ref float dx0 = ref MemoryMarshal.GetReference(dInput);
        for (int b = 0; b < batch; b++)
        {
            int valid = SequenceKernels.Length(lengths, b, seq);
            ref float dy = ref Unsafe.Add(ref dy0, (nint)b * features);
            float scale = 1f / valid;
            for (int t = 0; t < valid; t++)
                RowOps.Scale(ref dy, ref Unsafe.Add(ref dx0, ((nint)b * seq + t) * features), (nuint)features, scale);
            dInput.Slice((b * seq + valid) * features, (seq - valid) * features).Clear();
        }
    }

    /// <summary>
    /// Effectively computes <c>output[b, f] = max_{t &lt; L_b} input[b, t, f]</c> (NaN propagates; ties keep the first
    /// step) and, when <paramref name="argmax"/> is not empty, the winning step t.
    /// </summary>
    /// <param name="input">Input [batch, seq, features].</param>
    /// <param name="output">Output [batch, features]; must not overlap <paramref name="input"/>.</param>
    /// <param name="argmax">Receives the winning step [batch, features] for backward, or empty (inference).</param>
    /// <param name="lengths">Valid lengths [batch], each in [1, seq], or empty (all seq).</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="seq">Padded sequence length.</param>
    /// <param name="features">Features per step.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, a length lies outside [1, seq], or lengths is empty and seq is 0.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or output overlaps input.</exception>
    public static void MaxForward(ReadOnlySpan<float> input, Span<float> output, Span<int> argmax, ReadOnlySpan<int> lengths, int batch, int seq, int features)
    {
        SequenceKernels.CheckSequence(input.Length, lengths, batch, seq, features, nameof(input));
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(features), features);
        if (!argmax.IsEmpty) ThrowHelper.CheckShape(argmax.Length, nameof(argmax), nameof(batch), batch, nameof(features), features, orEmpty: true);
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y0 = ref MemoryMarshal.GetReference(output);
        ref int a0 = ref MemoryMarshal.GetReference(argmax);
        bool keep = !argmax.IsEmpty;
        for (int b = 0; b < batch; b++)
        {
            int valid = SequenceKernels.Length(lengths, b, seq);
            ref float x = ref Unsafe.Add(ref x0, (nint)b * seq * features);   // [seq, features]
            ref float y = ref Unsafe.Add(ref y0, (nint)b * features);         // [features]
            ref int a = ref Unsafe.Add(ref a0, keep ? (nint)b * features : 0);
            int i = 0;
            if (Vector512.IsHardwareAccelerated) i = Max512(ref x, ref y, ref a, features, valid, keep, i);
            if (Vector256.IsHardwareAccelerated) i = Max256(ref x, ref y, ref a, features, valid, keep, i);
            if (Vector128.IsHardwareAccelerated) i = Max128(ref x, ref y, ref a, features, valid, keep, i);
            for (; i < features; i++)
            {
                float max = Unsafe.Add(ref x, i);
                int best = 0;
                for (int t = 1; t < valid; t++)
                {
                    float v = Unsafe.Add(ref x, (nint)t * features + i);
                    if (v > max || float.IsNaN(v)) { max = v; best = t; }
                }
                Unsafe.Add(ref y, i) = max;
                if (keep) Unsafe.Add(ref a, i) = best;
            }
        }
    }

    /// <summary>Backward of <see cref="MaxForward"/>: <c>dInput</c> is zero except <c>dInput[b, argmax[b, f], f] = dOutput[b, f]</c> (overwritten).</summary>
    /// <param name="dOutput">Gradient with respect to the output [batch, features].</param>
    /// <param name="argmax">The winning steps <see cref="MaxForward"/> wrote [batch, features].</param>
    /// <param name="dInput">Gradient with respect to the input [batch, seq, features]; overwritten; must not overlap dOutput.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="seq">Padded sequence length.</param>
    /// <param name="features">Features per step.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or an argmax entry lies outside [0, seq).</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or dInput overlaps dOutput.</exception>
    public static void MaxBackward(ReadOnlySpan<float> dOutput, ReadOnlySpan<int> argmax, Span<float> dInput, int batch, int seq, int features)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        ThrowHelper.CheckNonNegative(features, nameof(features));
        long perExample = (long)seq * features;
        if (perExample > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(seq), seq, $"'seq'·'features' ({perExample}) must fit in an int.");
        ThrowHelper.CheckShape(dInput.Length, nameof(dInput), nameof(batch), batch, "seq·features", (int)perExample);
        ThrowHelper.CheckShape(dOutput.Length, nameof(dOutput), nameof(batch), batch, nameof(features), features);
        ThrowHelper.CheckShape(argmax.Length, nameof(argmax), nameof(batch), batch, nameof(features), features);
        ThrowHelper.CheckNoOverlap(dOutput, dInput, nameof(dOutput), nameof(dInput));
        // Validate every step before writing, so a corrupt argmax leaves dInput as it was.
        for (int o = 0; o < argmax.Length; o++)
            if ((uint)argmax[o] >= (uint)seq)
                throw new ArgumentOutOfRangeException(nameof(argmax), argmax[o], $"'argmax[{o}]' must be a step in [0, {seq}) but is {argmax[o]}.");
        dInput.Clear();
        for (int b = 0; b < batch; b++)
            for (int f = 0; f < features; f++)
            {
                int o = b * features + f;
                dInput[(b * seq + argmax[o]) * features + f] = dOutput[o];
            }
    }

    // ------------------------------------------------------------------------------------------------ references

    /// <summary>Naive reference for <see cref="AvgForward"/> in double. For tests.</summary>
    public static void ReferenceAvgForward(ReadOnlySpan<double> input, Span<double> output, ReadOnlySpan<int> lengths, int batch, int seq, int features)
    {
        for (int b = 0; b < batch; b++)
        {
            int valid = SequenceKernels.Length(lengths, b, seq);
            for (int f = 0; f < features; f++)
            {
                double sum = 0;
                for (int t = 0; t < valid; t++) sum += input[(b * seq + t) * features + f];
                output[b * features + f] = sum / valid;
            }
        }
    }

    /// <summary>Naive reference for <see cref="MaxForward"/> (value and step, same tie and NaN rules). For tests.</summary>
    public static void ReferenceMaxForward(ReadOnlySpan<float> input, Span<float> output, Span<int> argmax, ReadOnlySpan<int> lengths, int batch, int seq, int features)
    {
        for (int b = 0; b < batch; b++)
        {
            int valid = SequenceKernels.Length(lengths, b, seq);
            for (int f = 0; f < features; f++)
            {
                int best = 0;
                float max = input[b * seq * features + f];
                for (int t = 1; t < valid; t++)
                {
                    float v = input[(b * seq + t) * features + f];
                    if (v > max || float.IsNaN(v)) { max = v; best = t; }
                }
                output[b * features + f] = max;
                argmax[b * features + f] = best;
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// <summary>Averages whole vectors of columns from i over t &lt; valid, four vectors at a time (independent add chains); returns where it stopped.</summary>
    private static int Average<TV, TOps>(ref float x, ref float y, int features, int valid, float scale, int i)
        where TV : struct where TOps : ISimdOps<TV>
    {
        TV s = TOps.Create(scale);
        int c = TOps.Count;
        for (; i <= features - 4 * c; i += 4 * c)
        {
            TV a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0;
            ref float col = ref Unsafe.Add(ref x, i);
            for (int t = 0; t < valid; t++)
            {
                ref float row = ref Unsafe.Add(ref col, (nint)t * features);
                a0 = TOps.Add(a0, TOps.Load(ref row, 0));
                a1 = TOps.Add(a1, TOps.Load(ref row, (nuint)c));
                a2 = TOps.Add(a2, TOps.Load(ref row, (nuint)(2 * c)));
                a3 = TOps.Add(a3, TOps.Load(ref row, (nuint)(3 * c)));
            }
            TOps.Store(TOps.Multiply(a0, s), ref y, (nuint)i);
            TOps.Store(TOps.Multiply(a1, s), ref y, (nuint)(i + c));
            TOps.Store(TOps.Multiply(a2, s), ref y, (nuint)(i + 2 * c));
            TOps.Store(TOps.Multiply(a3, s), ref y, (nuint)(i + 3 * c));
        }
        for (; i <= features - c; i += c)
        {
            TV acc = TOps.Create(0f);
            for (int t = 0; t < valid; t++) acc = TOps.Add(acc, TOps.Load(ref x, (nuint)((nint)t * features + i)));
            TOps.Store(TOps.Multiply(acc, s), ref y, (nuint)i);
        }
        return i;
    }

    // Max over t for whole vectors of columns: a lane takes the new value when it is greater or NaN (NaN ≠ NaN), the
    // scalar rule lane by lane, and records its step. One width per method: the step vector is an int vector.

    private static int Max512(ref float x, ref float y, ref int a, int features, int valid, bool keep, int i)
    {
        for (; i <= features - Vector512<float>.Count; i += Vector512<float>.Count)
        {
            Vector512<float> max = Vector512.LoadUnsafe(ref x, (nuint)i);
            Vector512<int> best = Vector512<int>.Zero;
            for (int t = 1; t < valid; t++)
            {
                Vector512<float> v = Vector512.LoadUnsafe(ref x, (nuint)((nint)t * features + i));
                Vector512<float> take = Vector512.GreaterThan(v, max) | ~Vector512.Equals(v, v);
                max = Vector512.ConditionalSelect(take, v, max);
                best = Vector512.ConditionalSelect(take.AsInt32(), Vector512.Create(t), best);
            }
            max.StoreUnsafe(ref y, (nuint)i);
            if (keep) best.StoreUnsafe(ref a, (nuint)i);
        }
        return i;
    }

    private static int Max256(ref float x, ref float y, ref int a, int features, int valid, bool keep, int i)
    {
        for (; i <= features - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            Vector256<float> max = Vector256.LoadUnsafe(ref x, (nuint)i);
            Vector256<int> best = Vector256<int>.Zero;
            for (int t = 1; t < valid; t++)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref x, (nuint)((nint)t * features + i));
                Vector256<float> take = Vector256.GreaterThan(v, max) | ~Vector256.Equals(v, v);
                max = Vector256.ConditionalSelect(take, v, max);
                best = Vector256.ConditionalSelect(take.AsInt32(), Vector256.Create(t), best);
            }
            max.StoreUnsafe(ref y, (nuint)i);
            if (keep) best.StoreUnsafe(ref a, (nuint)i);
        }
        return i;
    }

    private static int Max128(ref float x, ref float y, ref int a, int features, int valid, bool keep, int i)
    {
        for (; i <= features - Vector128<float>.Count; i += Vector128<float>.Count)
        {
            Vector128<float> max = Vector128.LoadUnsafe(ref x, (nuint)i);
            Vector128<int> best = Vector128<int>.Zero;
            for (int t = 1; t < valid; t++)
            {
                Vector128<float> v = Vector128.LoadUnsafe(ref x, (nuint)((nint)t * features + i));
                Vector128<float> take = Vector128.GreaterThan(v, max) | ~Vector128.Equals(v, v);
                max = Vector128.ConditionalSelect(take, v, max);
                best = Vector128.ConditionalSelect(take.AsInt32(), Vector128.Create(t), best);
            }
            max.StoreUnsafe(ref y, (nuint)i);
            if (keep) best.StoreUnsafe(ref a, (nuint)i);
        }
        return i;
    }
}
