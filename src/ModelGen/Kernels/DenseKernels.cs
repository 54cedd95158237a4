// Dense (fully connected) layer kernels in PyTorch's layout: weight [out, in], bias [out].
// Forward = one GEMM (Y = X·Wᵀ) plus one fused pass over the output that adds the bias, keeps the
// pre-activation when training, and applies the activation. Backward = activation derivative into dPre, then
// dW += dPreᵀ·X (TN GEMM), dBias += column sums of dPre, dX = dPre·W (NN GEMM). At small batch (and batch 1,
// GEMV-like) the forward runs Gemm's unpacked dot-product path with the bias/activation epilogue applied to each
// finished block while it is still in L1; larger batches use the packed GEMM and one epilogue pass per row.
// ForwardResidual fuses a following residual add at inference: the product accumulates onto the skip tensor.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Fused forward and backward kernels for a dense layer <c>y = act(x·Wᵀ + b)</c>.</summary>
public static class DenseKernels
{
    /// <summary>
    /// Effectively computes <c>pre[b, o] = Σ_i input[b, i]·weight[o, i] + bias[o]</c> and <c>output[b, o] = act(pre[b, o])</c>.
    /// </summary>
    /// <param name="act">The activation operator (fused into the output pass).</param>
    /// <param name="input">Input [batch, inFeatures].</param>
    /// <param name="weight">Weight [outFeatures, inFeatures].</param>
    /// <param name="bias">Bias [outFeatures], or empty for no bias.</param>
    /// <param name="output">Output [batch, outFeatures]; must not overlap the other operands.</param>
    /// <param name="preActivation">Receives the pre-activation [batch, outFeatures] for training, or empty (inference) to not store it.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="inFeatures">Input width.</param>
    /// <param name="outFeatures">Output width.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or spans overlap.</exception>
    public static void Forward<TAct>(TAct act, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output, Span<float> preActivation, int batch, int inFeatures, int outFeatures) where TAct : struct, IActivation
    {
        CheckOperands(input, weight, bias, output, batch, inFeatures, outFeatures);
        if (!preActivation.IsEmpty)
        {
            ThrowHelper.CheckShape(preActivation.Length, nameof(preActivation), nameof(batch), batch, nameof(outFeatures), outFeatures, orEmpty: true);
            ThrowHelper.CheckNoOverlap(preActivation, output, nameof(preActivation), nameof(output));
        }
        if (output.IsEmpty) return;

        // Training: the GEMM writes into preActivation, and the epilogue reads it back to finish pre (bias) and output.
        // Inference: the GEMM writes into output and the epilogue works in place.
        bool keepPre = !preActivation.IsEmpty;
        Span<float> gemmOut = keepPre ? preActivation : output;   // [batch, out]
        bool identity = typeof(TAct) == typeof(IdentityActivation);
        bool needEpilogue = !(identity && bias.IsEmpty && !keepPre);

        string outName = keepPre ? nameof(preActivation) : nameof(output);
        ThrowHelper.CheckNoOverlap(input, gemmOut, nameof(input), outName);
        ThrowHelper.CheckNoOverlap(weight, gemmOut, nameof(weight), outName);

        if (Gemm.NativeWidth != 0 && Gemm.PreferDot(batch, inFeatures, outFeatures))
        {
            // Unpacked dot-product GEMM; bias and activation run on each finished block while it is in L1.
            ForwardDot(act, input, weight, bias, gemmOut, output, needEpilogue, batch, inFeatures, outFeatures);
            return;
        }

        Gemm.NT(input, weight, gemmOut, batch, inFeatures, outFeatures);
        if (!needEpilogue) return;

        EpilogueRows(act, gemmOut, output, bias, batch, outFeatures);
    }

    /// <summary>The epilogue over every row (rows are independent, so they split between threads when large).</summary>
    private static unsafe void EpilogueRows<TAct>(TAct act, Span<float> pre, Span<float> output, ReadOnlySpan<float> bias, int batch, int outFeatures)
        where TAct : struct, IActivation
    {
        fixed (float* p = pre, y = output, b = bias)
            ParallelRange.Run(new EpilogueRange<TAct>(act, p, y, b, !bias.IsEmpty, outFeatures), batch, 1, 2L * outFeatures);
    }

    private readonly unsafe struct EpilogueRange<TAct>(TAct act, float* pre, float* y, float* bias, bool hasBias, int n) : IRangeOp where TAct : struct, IActivation
    {
        public void Run(int start, int end)
        {
            for (long r = start; r < end; r++) Epilogue(act, ref pre[r * n], ref y[r * n], ref *bias, hasBias, (nuint)n);
        }
    }

    /// <summary>
    /// Inference with a residual connection fused in: effectively computes
    /// <c>output[b, o] = act(Σ_i input[b, i]·weight[o, i] + bias[o] + residual[b, o])</c>, the layer and the following
    /// <c>x + f(x)</c> add in one pass (the product accumulates onto the residual; bias and activation run as its epilogue).
    /// </summary>
    /// <param name="act">The activation applied after the residual add (identity for a plain <c>x + f(x)</c>).</param>
    /// <param name="input">Input [batch, inFeatures]; must not overlap <paramref name="output"/>.</param>
    /// <param name="weight">Weight [outFeatures, inFeatures].</param>
    /// <param name="bias">Bias [outFeatures], or empty for no bias.</param>
    /// <param name="residual">The skip tensor [batch, outFeatures]; may be the very memory of <paramref name="output"/> (updated in place).</param>
    /// <param name="output">Output [batch, outFeatures].</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="inFeatures">Input width.</param>
    /// <param name="outFeatures">Output width.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or spans overlap (other than residual being output).</exception>
    public static void ForwardResidual<TAct>(TAct act, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> residual, Span<float> output, int batch, int inFeatures, int outFeatures) where TAct : struct, IActivation
    {
        CheckOperands(input, weight, bias, output, batch, inFeatures, outFeatures);
        ThrowHelper.CheckShape(residual.Length, nameof(residual), nameof(batch), batch, nameof(outFeatures), outFeatures);
        ThrowHelper.CheckSameOrDisjoint(residual, output, nameof(residual), nameof(output));
        if (output.IsEmpty) return;

        // The product accumulates onto the residual, so it must already be where the output goes (in place: free).
        if (!residual.Overlaps(output)) residual.CopyTo(output);
        bool needEpilogue = !(typeof(TAct) == typeof(IdentityActivation) && bias.IsEmpty);
        if (Gemm.NativeWidth != 0 && Gemm.PreferDot(batch, inFeatures, outFeatures))
        {
            ForwardDot(act, input, weight, bias, output, output, needEpilogue, batch, inFeatures, outFeatures, accumulate: true);
            return;
        }
        Gemm.NT(input, weight, output, batch, inFeatures, outFeatures, accumulate: true);
        if (!needEpilogue) return;
        EpilogueRows(act, output, output, bias, batch, outFeatures);
    }

    /// <summary>
    /// Inference over a prepared weight: effectively computes <c>output[b, o] = act(Σ_i input[b, i]·weight[o, i] + bias[o])</c>,
    /// as <see cref="Forward{TAct}(TAct, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, int, int, int)"/>
    /// does without keeping the pre-activation, but batches that take the packed GEMM read the weight packed once
    /// instead of packing it on every call.
    /// </summary>
    /// <param name="act">The activation operator (fused into the output pass).</param>
    /// <param name="input">Input [batch, weight.InFeatures].</param>
    /// <param name="weight">The prepared weight [OutFeatures, InFeatures].</param>
    /// <param name="bias">Bias [weight.OutFeatures], or empty for no bias.</param>
    /// <param name="output">Output [batch, weight.OutFeatures]; must not overlap the other operands.</param>
    /// <param name="batch">Number of examples.</param>
    /// <exception cref="ArgumentNullException"><paramref name="weight"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or spans overlap.</exception>
    public static void Forward<TAct>(TAct act, ReadOnlySpan<float> input, PackedDenseWeight weight, ReadOnlySpan<float> bias,
        Span<float> output, int batch) where TAct : struct, IActivation
        => Forward(PackedRoute.Auto, act, input, weight, bias, output, batch);

    /// <summary><see cref="Forward{TAct}(TAct, ReadOnlySpan{float}, PackedDenseWeight, ReadOnlySpan{float}, Span{float}, int)"/> on a chosen route (tests and benchmarks force each).</summary>
    internal static void Forward<TAct>(PackedRoute route, TAct act, ReadOnlySpan<float> input, PackedDenseWeight weight, ReadOnlySpan<float> bias,
        Span<float> output, int batch) where TAct : struct, IActivation
    {
        ArgumentNullException.ThrowIfNull(weight);
        int inFeatures = weight.InFeatures, outFeatures = weight.OutFeatures;
        if (route == PackedRoute.Auto && weight.UsesInterleaved(batch))
        {
            CheckOperands(input, default, bias, output, batch, inFeatures, outFeatures, checkWeight: false);
            ForwardInterleaved(act, input, weight, bias, output, batch, accumulate: false);
            return;
        }
        if (!weight.TakesPacked(route, batch))
        {
            // The model's own forward over the plain copy: the dot path up to DotMaxRows rows, the per-call packed GEMM beyond.
            Forward(act, input, weight.Plain, bias, output, default, batch, inFeatures, outFeatures);
            return;
        }
        CheckOperands(input, default, bias, output, batch, inFeatures, outFeatures, checkWeight: false);
        bool needEpilogue = !(typeof(TAct) == typeof(IdentityActivation) && bias.IsEmpty);
        ForwardPacked(act, input, weight, bias, output, needEpilogue, batch, accumulate: false);
    }

    /// <summary>
    /// <see cref="ForwardResidual{TAct}(TAct, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int)"/>
    /// over a prepared weight: effectively computes <c>output[b, o] = act(Σ_i input[b, i]·weight[o, i] + bias[o] + residual[b, o])</c>.
    /// </summary>
    /// <param name="act">The activation applied after the residual add (identity for a plain <c>x + f(x)</c>).</param>
    /// <param name="input">Input [batch, weight.InFeatures]; must not overlap <paramref name="output"/>.</param>
    /// <param name="weight">The prepared weight [OutFeatures, InFeatures].</param>
    /// <param name="bias">Bias [weight.OutFeatures], or empty for no bias.</param>
    /// <param name="residual">The skip tensor [batch, weight.OutFeatures]; may be the very memory of <paramref name="output"/> (updated in place).</param>
    /// <param name="output">Output [batch, weight.OutFeatures].</param>
    /// <param name="batch">Number of examples.</param>
    /// <exception cref="ArgumentNullException"><paramref name="weight"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or spans overlap (other than residual being output).</exception>
    public static void ForwardResidual<TAct>(TAct act, ReadOnlySpan<float> input, PackedDenseWeight weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> residual, Span<float> output, int batch) where TAct : struct, IActivation
        => ForwardResidual(PackedRoute.Auto, act, input, weight, bias, residual, output, batch);

    /// <summary><see cref="ForwardResidual{TAct}(TAct, ReadOnlySpan{float}, PackedDenseWeight, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int)"/> on a chosen route.</summary>
    internal static void ForwardResidual<TAct>(PackedRoute route, TAct act, ReadOnlySpan<float> input, PackedDenseWeight weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> residual, Span<float> output, int batch) where TAct : struct, IActivation
    {
        ArgumentNullException.ThrowIfNull(weight);
        int inFeatures = weight.InFeatures, outFeatures = weight.OutFeatures;
        if (route == PackedRoute.Auto && weight.UsesInterleaved(batch))
        {
            CheckOperands(input, default, bias, output, batch, inFeatures, outFeatures, checkWeight: false);
            ThrowHelper.CheckShape(residual.Length, nameof(residual), nameof(batch), batch, nameof(outFeatures), outFeatures);
            ThrowHelper.CheckSameOrDisjoint(residual, output, nameof(residual), nameof(output));
            if (!residual.Overlaps(output)) residual.CopyTo(output);
            ForwardInterleaved(act, input, weight, bias, output, batch, accumulate: true);
            return;
        }
        if (!weight.TakesPacked(route, batch))
        {
            ForwardResidual(act, input, weight.Plain, bias, residual, output, batch, inFeatures, outFeatures);
            return;
        }
        CheckOperands(input, default, bias, output, batch, inFeatures, outFeatures, checkWeight: false);
        ThrowHelper.CheckShape(residual.Length, nameof(residual), nameof(batch), batch, nameof(outFeatures), outFeatures);
        ThrowHelper.CheckSameOrDisjoint(residual, output, nameof(residual), nameof(output));
        if (!residual.Overlaps(output)) residual.CopyTo(output);
        bool needEpilogue = !(typeof(TAct) == typeof(IdentityActivation) && bias.IsEmpty);
        ForwardPacked(act, input, weight, bias, output, needEpilogue, batch, accumulate: true);
    }

    /// <summary>The packed GEMM over the prepared pack into <paramref name="output"/> (accumulating onto it for a residual), with the bias/activation epilogue per row chunk.</summary>
    private static unsafe void ForwardPacked<TAct>(TAct act, ReadOnlySpan<float> input, PackedDenseWeight weight, ReadOnlySpan<float> bias,
        Span<float> output, bool needEpilogue, int batch, bool accumulate) where TAct : struct, IActivation
    {
        int inFeatures = weight.InFeatures, outFeatures = weight.OutFeatures;
        fixed (float* x = input, bs = bias, y = output)
        {
            if (needEpilogue)
            {
                var epilogue = new DenseEpilogue<TAct>(act, y, y, bs, !bias.IsEmpty);
                Gemm.PrepackedRows(x, weight.Packed, y, batch, inFeatures, outFeatures, accumulate, weight.Width, ref epilogue);
            }
            else
            {
                var none = default(NoEpilogue);
                Gemm.PrepackedRows(x, weight.Packed, y, batch, inFeatures, outFeatures, accumulate, weight.Width, ref none);
            }
        }
        GC.KeepAlive(weight);   // the pack is read through a raw pointer
    }

    /// <summary>
    /// 1-3 rows over the interleaved copy, one row at a time (what the dot path does for fewer than 4 rows, bit for bit),
    /// each row's bias/activation epilogue right after it.
    /// </summary>
    private static unsafe void ForwardInterleaved<TAct>(TAct act, ReadOnlySpan<float> input, PackedDenseWeight weight, ReadOnlySpan<float> bias,
        Span<float> output, int batch, bool accumulate) where TAct : struct, IActivation
    {
        int inFeatures = weight.InFeatures, outFeatures = weight.OutFeatures;
        bool needEpilogue = !(typeof(TAct) == typeof(IdentityActivation) && bias.IsEmpty);
        fixed (float* x = input, bs = bias, y = output)
        {
            var epilogue = new DenseEpilogue<TAct>(act, y, y, bs, !bias.IsEmpty);
            for (int r = 0; r < batch; r++)
            {
                Gemm.GemvInterleaved(x + (nint)r * inFeatures, weight.Interleaved, y + (nint)r * outFeatures, inFeatures, outFeatures, accumulate, Gemm.NativeWidth);
                if (needEpilogue) epilogue.Apply(y, outFeatures, r, 1, 0, outFeatures);
            }
        }
        GC.KeepAlive(weight);   // the interleaved copy is read through a raw pointer
    }

    /// <summary>The checks both forward entry points share: sizes, the shapes of x, W, b and y, and y overlapping none of them.</summary>
    private static void CheckOperands(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> output,
        int batch, int inFeatures, int outFeatures, bool checkWeight = true)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(inFeatures, nameof(inFeatures));
        ThrowHelper.CheckNonNegative(outFeatures, nameof(outFeatures));
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, nameof(inFeatures), inFeatures);
        if (checkWeight) ThrowHelper.CheckShape(weight.Length, nameof(weight), nameof(outFeatures), outFeatures, nameof(inFeatures), inFeatures);
        if (!bias.IsEmpty) ThrowHelper.CheckShape(bias.Length, nameof(bias), nameof(outFeatures), outFeatures, orEmpty: true);
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(outFeatures), outFeatures);
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(weight, output, nameof(weight), nameof(output));
        ThrowHelper.CheckNoOverlap(bias, output, nameof(bias), nameof(output));
    }

    private static unsafe void ForwardDot<TAct>(TAct act, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> gemmOut, Span<float> output, bool needEpilogue, int batch, int inFeatures, int outFeatures, bool accumulate = false)
        where TAct : struct, IActivation
    {
        fixed (float* x = input, w = weight, bs = bias, pre = gemmOut, y = output)
        {
            if (needEpilogue)
            {
                var epilogue = new DenseEpilogue<TAct>(act, pre, y, bs, !bias.IsEmpty);
                Gemm.DotNT(x, w, pre, batch, inFeatures, outFeatures, accumulate, 0, outFeatures, ref epilogue, Gemm.NativeWidth);
            }
            else
            {
                var none = default(NoEpilogue);
                Gemm.DotNT(x, w, pre, batch, inFeatures, outFeatures, accumulate, 0, outFeatures, ref none, Gemm.NativeWidth);
            }
        }
    }

    /// <summary>Bias + activation (+ the pre-activation kept in place) on a finished block of the GEMM output.</summary>
    private readonly unsafe struct DenseEpilogue<TAct>(TAct act, float* pre, float* y, float* bias, bool hasBias) : IGemmEpilogue
        where TAct : struct, IActivation
    {
        public void Apply(float* c, int ldc, int row0, int rows, int col0, int cols)
        {
            for (int r = row0; r < row0 + rows; r++)
            {
                nint offset = (nint)r * ldc + col0;
                Epilogue(act, ref pre[offset], ref y[offset], ref bias[hasBias ? col0 : 0], hasBias, (nuint)cols);
            }
        }

        // With the pre-activation kept elsewhere, Apply also stores it: only the in-place form fits one register store.
        public bool FinishesInRegisters => pre == y;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Finish(Vector512<float> v, int col)
        {
            if (hasBias) v += Vector512.Load(bias + col);
            return act.Invoke(v);
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward{TAct}(TAct, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, int, int, int)"/>: <c>dPre = dOutput ⊙ act'(pre)</c>; <c>dWeight += dPreᵀ·input</c>;
    /// <c>dBias += Σ_b dPre[b, :]</c>; <c>dInput = dPre·weight</c> (overwritten).
    /// </summary>
    /// <param name="act">The activation operator used in the forward pass.</param>
    /// <param name="dOutput">Gradient with respect to the output [batch, outFeatures].</param>
    /// <param name="preActivation">The forward pre-activation [batch, outFeatures] (may be empty for <see cref="IdentityActivation"/>).</param>
    /// <param name="output">The forward output [batch, outFeatures] (may be empty for <see cref="IdentityActivation"/>).</param>
    /// <param name="input">The forward input [batch, inFeatures].</param>
    /// <param name="weight">Weight [outFeatures, inFeatures].</param>
    /// <param name="dPre">Scratch for the pre-activation gradient [batch, outFeatures] (may be empty for <see cref="IdentityActivation"/>, which uses dOutput directly).</param>
    /// <param name="dWeight">Weight gradient [outFeatures, inFeatures]; accumulated into.</param>
    /// <param name="dBias">Bias gradient [outFeatures], accumulated into; empty when the layer has no bias.</param>
    /// <param name="dInput">Input gradient [batch, inFeatures], overwritten; empty to skip (first layer).</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="inFeatures">Input width.</param>
    /// <param name="outFeatures">Output width.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or spans overlap.</exception>
    public static unsafe void Backward<TAct>(TAct act, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> preActivation, ReadOnlySpan<float> output,
        ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> dPre, Span<float> dWeight, Span<float> dBias, Span<float> dInput,
        int batch, int inFeatures, int outFeatures) where TAct : struct, IActivation
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(inFeatures, nameof(inFeatures));
        ThrowHelper.CheckNonNegative(outFeatures, nameof(outFeatures));
        bool identity = typeof(TAct) == typeof(IdentityActivation);
        ThrowHelper.CheckShape(dOutput.Length, nameof(dOutput), nameof(batch), batch, nameof(outFeatures), outFeatures);
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, nameof(inFeatures), inFeatures);
        ThrowHelper.CheckShape(weight.Length, nameof(weight), nameof(outFeatures), outFeatures, nameof(inFeatures), inFeatures);
        ThrowHelper.CheckShape(dWeight.Length, nameof(dWeight), nameof(outFeatures), outFeatures, nameof(inFeatures), inFeatures);
        if (!dBias.IsEmpty) ThrowHelper.CheckShape(dBias.Length, nameof(dBias), nameof(outFeatures), outFeatures, orEmpty: true);
        if (!dInput.IsEmpty) ThrowHelper.CheckShape(dInput.Length, nameof(dInput), nameof(batch), batch, nameof(inFeatures), inFeatures, orEmpty: true);

        ReadOnlySpan<float> grad;   // ∂loss/∂pre [batch, out]
        if (identity && dPre.IsEmpty)
        {
            grad = dOutput;
        }
        else
        {
            ThrowHelper.CheckShape(dPre.Length, nameof(dPre), nameof(batch), batch, nameof(outFeatures), outFeatures);
            if (!identity)
            {
                ThrowHelper.CheckShape(preActivation.Length, nameof(preActivation), nameof(batch), batch, nameof(outFeatures), outFeatures);
                ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(outFeatures), outFeatures);
                Elementwise.Backward(act, dOutput, preActivation, output, dPre);
            }
            else
            {
                dOutput.CopyTo(dPre);
            }
            grad = dPre;
        }
        // dWeight[out, in] += dPre[batch, out]ᵀ · input[batch, in]
        Gemm.TN(grad, input, dWeight, outFeatures, batch, inFeatures, accumulate: true);

        // dBias[out] += Σ_b dPre[b, out]; rows are added in batch order, independent of alignment.
        if (!dBias.IsEmpty)
        {
            fixed (float* g = grad, db = dBias) RowOps.AddRowsTo(g, db, batch, outFeatures);
        }

        // dInput[batch, in] = dPre[batch, out] · weight[out, in]
        if (!dInput.IsEmpty)
            Gemm.NN(grad, weight, dInput, batch, outFeatures, inFeatures);
    }

    /// <summary>One output row: pre = pre + bias; y = act(pre) (pre and y may be the same row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Epilogue<TAct>(TAct act, ref float pre, ref float y, ref float bias, bool hasBias, nuint n) where TAct : struct, IActivation
    {
        // In place (pre is y: every route without a kept pre-activation) the pre store is dead, the y store overwrites it.
        bool keepPre = hasBias && !Unsafe.AreSame(ref pre, ref y);
        nuint j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j + (nuint)Vector512<float>.Count <= n; j += (nuint)Vector512<float>.Count)
            {
                Vector512<float> v = Vector512.LoadUnsafe(ref pre, j);
                if (hasBias) v += Vector512.LoadUnsafe(ref bias, j);
                if (keepPre) v.StoreUnsafe(ref pre, j);
                act.Invoke(v).StoreUnsafe(ref y, j);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; j + (nuint)Vector256<float>.Count <= n; j += (nuint)Vector256<float>.Count)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref pre, j);
                if (hasBias) v += Vector256.LoadUnsafe(ref bias, j);
                if (keepPre) v.StoreUnsafe(ref pre, j);
                act.Invoke(v).StoreUnsafe(ref y, j);
            }
        if (Vector128.IsHardwareAccelerated)
            for (; j + (nuint)Vector128<float>.Count <= n; j += (nuint)Vector128<float>.Count)
            {
                Vector128<float> v = Vector128.LoadUnsafe(ref pre, j);
                if (hasBias) v += Vector128.LoadUnsafe(ref bias, j);
                if (keepPre) v.StoreUnsafe(ref pre, j);
                act.Invoke(v).StoreUnsafe(ref y, j);
            }
        for (; j < n; j++)
        {
            float v = Unsafe.Add(ref pre, j);
            if (hasBias) v += Unsafe.Add(ref bias, j);
            if (keepPre) Unsafe.Add(ref pre, j) = v;
            Unsafe.Add(ref y, j) = act.Invoke(v);
        }
    }
}
