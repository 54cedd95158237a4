// The building blocks that the Transformer encoder and decoder stacks share (TransformerKernels, TransformerDecoderKernels):
// LayerNorm forward/backward over raw rows, the projections with their bias/activation epilogues and residual accumulation,
// inverted dropout on a projection's output added to the residual stream, and the feed-forward block's pieces. They work
// on pointers into the caller's parameter slices, kept planes and workspace, and check nothing (the public kernels do).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Unchecked pointer-level pieces of the Transformer encoder and decoder layers (see the file header).</summary>
internal static class TransformerBlocks
{
    /// <summary>Act = Drop(act(x·W_1ᵀ + b_1)), keeping the pre-activation and the mask.</summary>
    internal static unsafe void FeedForwardIn<TAct>(TAct act, float* x, float* weight, float* bias, float* pre, float* y, float* mask,
        int rows, int d, int ff, float dropout, Rng rng) where TAct : struct, IActivation
    {
        Linear(act, x, weight, bias, y, pre, rows, d, ff);
        if (dropout == 0f) mask[0] = NoDropout;   // p = 0 draws nothing and writes no mask
        else Dropout.Forward(Span(y, (long)rows * ff), Span(y, (long)rows * ff), Span(mask, (long)rows * ff), dropout, rng);
    }

    /// <summary>dst = skip + Drop(x·Wᵀ + b), keeping the mask (p = 0: the <see cref="NoDropout"/> mark, and the product accumulates onto the skip in the GEMM).</summary>
    internal static unsafe void DropoutResidual(float* x, float* weight, float* bias, float* skip, float* dst, float* mask, float* scratch,
        int rows, int inF, int outF, float dropout, Rng rng)
    {
        long n = (long)rows * outF;
        if (dropout == 0f)
        {
            mask[0] = NoDropout;
            LinearResidual(x, weight, bias, skip, dst, rows, inF, outF);
            return;
        }
        Linear(default(IdentityActivation), x, weight, bias, scratch, null, rows, inF, outF);
        Dropout.FillMask(Span(mask, n), dropout, rng);   // the generator's sequence is serial; the arithmetic below splits
        ParallelRange.Run(new DropoutAddRange(scratch, mask, skip, dst), (int)n, 16, 4);
    }

    /// <summary>
    /// dst[i] = skip[i] + x[i]·mask[i] (dst may be skip), in one pass: the product rounded, then the sum, as the separate
    /// dropout and residual-add passes computed it (no fused multiply-add), so the bits are theirs.
    /// </summary>
    private readonly unsafe struct DropoutAddRange(float* x, float* mask, float* skip, float* dst) : IRangeOp
    {
        public void Run(int start, int end)
        {
            nuint i = (nuint)start, n = (nuint)end;
            if (Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16)
                    (Vector512.Load(skip + i) + Vector512.Load(x + i) * Vector512.Load(mask + i)).Store(dst + i);
            if (Vector256.IsHardwareAccelerated)
                for (; i + 8 <= n; i += 8)
                    (Vector256.Load(skip + i) + Vector256.Load(x + i) * Vector256.Load(mask + i)).Store(dst + i);
            if (Vector128.IsHardwareAccelerated)
                for (; i + 4 <= n; i += 4)
                    (Vector128.Load(skip + i) + Vector128.Load(x + i) * Vector128.Load(mask + i)).Store(dst + i);
            for (; i < n; i++) dst[i] = skip[i] + x[i] * mask[i];
        }
    }

    /// <summary>
    /// Written as the first element of a mask plane when training ran without dropout: a real mask holds only 0 and 1/(1 − p),
    /// so a negative first element says "all ones", and backward skips the multiplications (and forward the fills).
    /// </summary>
    internal const float NoDropout = -1f;

    /// <summary>The gradient through a dropout mask: <paramref name="grad"/> itself when the plane carries the <see cref="NoDropout"/> mark, else grad ⊙ mask in <paramref name="scratch"/>.</summary>
    internal static unsafe float* ThroughMask(float* grad, float* mask, float* scratch, long n)
    {
        if (mask[0] == NoDropout) return grad;
        RowOps.MultiplyParallel(grad, mask, scratch, n);
        return scratch;
    }

    /// <summary>dWeight += dYᵀ·X, dBias += Σ_rows dY, and dX (+)= dY·W when dX is not null.</summary>
    internal static unsafe void LinearBackward(float* dYp, float* xp, float* weight, float* dWeight, float* dBias, float* dXp,
        int rows, int inF, int outF, bool accumulate)
    {
        var dYs = ReadOnly(dYp, (long)rows * outF);
        // dWeight[out, in] += dY[rows, out]ᵀ · X[rows, in]
        Gemm.TN(dYs, ReadOnly(xp, (long)rows * inF), Span(dWeight, (long)outF * inF), outF, rows, inF, accumulate: true);
        // dBias[out] += Σ_r dY[r, :], rows in order (independent of alignment and of the split by columns).
        RowOps.AddRowsTo(dYp, dBias, rows, outF);
        // dX[rows, in] (+)= dY[rows, out] · W[out, in]
        if (dXp != null) Gemm.NN(dYs, ReadOnly(weight, (long)outF * inF), Span(dXp, (long)rows * inF), rows, outF, inF, accumulate);
    }

    /// <summary>In place: dAct becomes dPre = dAct ⊙ mask ⊙ act'(pre) (no mask when the plane carries the <see cref="NoDropout"/> mark).</summary>
    /// <remarks>ReLU's and GELU's derivatives depend on the input alone, so the (dropped) activation is not needed: pre stands in for y.</remarks>
    /// <remarks>Split between threads in blocks of 16 elements when large (each element's bits do not depend on the split).</remarks>
    internal static unsafe void ActivationBackward<TAct>(TAct act, float* grad, float* mask, float* pre, long count) where TAct : struct, IActivation
        => ParallelRange.Run(new ActivationBackwardRange<TAct>(act, grad, mask[0] == NoDropout ? null : mask, pre), (int)count, 16, 3);

    private readonly unsafe struct ActivationBackwardRange<TAct>(TAct act, float* grad, float* mask, float* pre) : IRangeOp where TAct : struct, IActivation
    {
        public void Run(int start, int end)
        {
            if (mask == null) ActivationBackward(act, grad + start, pre + start, end - start);
            else MaskedActivationBackward(act, grad + start, mask + start, pre + start, end - start);
        }
    }

    /// <summary>In place: dAct becomes dPre = dAct ⊙ mask ⊙ act'(pre).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaskedActivationBackward<TAct>(TAct act, float* grad, float* mask, float* pre, long count) where TAct : struct, IActivation
    {
        nuint n = (nuint)count, i = 0;
        ref float g = ref grad[0], m = ref mask[0], x = ref pre[0];
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
            {
                var xv = Vector512.LoadUnsafe(ref x, i);
                (Vector512.LoadUnsafe(ref g, i) * Vector512.LoadUnsafe(ref m, i) * act.Derivative(xv, xv)).StoreUnsafe(ref g, i);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
            {
                var xv = Vector256.LoadUnsafe(ref x, i);
                (Vector256.LoadUnsafe(ref g, i) * Vector256.LoadUnsafe(ref m, i) * act.Derivative(xv, xv)).StoreUnsafe(ref g, i);
            }
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
            {
                var xv = Vector128.LoadUnsafe(ref x, i);
                (Vector128.LoadUnsafe(ref g, i) * Vector128.LoadUnsafe(ref m, i) * act.Derivative(xv, xv)).StoreUnsafe(ref g, i);
            }
        for (; i < n; i++)
        {
            float xv = Unsafe.Add(ref x, i);
            Unsafe.Add(ref g, i) = Unsafe.Add(ref g, i) * Unsafe.Add(ref m, i) * act.Derivative(xv, xv);
        }
    }

    /// <summary>In place: dAct becomes dPre = dAct ⊙ act'(pre).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void ActivationBackward<TAct>(TAct act, float* grad, float* pre, long count) where TAct : struct, IActivation
    {
        nuint n = (nuint)count, i = 0;
        ref float g = ref grad[0], x = ref pre[0];
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
            {
                var xv = Vector512.LoadUnsafe(ref x, i);
                (Vector512.LoadUnsafe(ref g, i) * act.Derivative(xv, xv)).StoreUnsafe(ref g, i);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
            {
                var xv = Vector256.LoadUnsafe(ref x, i);
                (Vector256.LoadUnsafe(ref g, i) * act.Derivative(xv, xv)).StoreUnsafe(ref g, i);
            }
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
            {
                var xv = Vector128.LoadUnsafe(ref x, i);
                (Vector128.LoadUnsafe(ref g, i) * act.Derivative(xv, xv)).StoreUnsafe(ref g, i);
            }
        for (; i < n; i++)
        {
            float xv = Unsafe.Add(ref x, i);
            Unsafe.Add(ref g, i) *= act.Derivative(xv, xv);
        }
    }

    // ------------------------------------------------------------------------------------------------ building blocks

    internal static unsafe void LayerNorm(float* x, float* weight, float* bias, float* y, float* mean, float* rstd, int rows, int d, float eps)
        => LayerNormKernels.Forward(ReadOnly(x, (long)rows * d), ReadOnly(weight, d), ReadOnly(bias, d), Span(y, (long)rows * d),
            mean == null ? default : Span(mean, rows), rstd == null ? default : Span(rstd, rows), rows, d, eps);

    /// <summary>dX = LayerNorm backward (overwritten; skipped when dX is null), dWeight/dBias accumulated.</summary>
    internal static unsafe void LayerNormBackward(float* dY, float* x, float* weight, float* mean, float* rstd, float* dX, float* dWeight, float* dBias, int rows, int d)
        => LayerNormKernels.Backward(ReadOnly(dY, (long)rows * d), ReadOnly(x, (long)rows * d), ReadOnly(weight, d), ReadOnly(mean, rows), ReadOnly(rstd, rows),
            dX == null ? default : Span(dX, (long)rows * d), Span(dWeight, d), Span(dBias, d), rows, d);

    /// <summary>y = act(x·Wᵀ + b), keeping the pre-activation when <paramref name="pre"/> is not null.</summary>
    internal static unsafe void Linear<TAct>(TAct act, float* x, float* weight, float* bias, float* y, float* pre, int rows, int inF, int outF)
        where TAct : struct, IActivation
    {
        if (PreferPacked(rows, inF))
        {
            float* c = pre != null ? pre : y;   // [rows, outF] the product, then the epilogue runs in place (or into y)
            Gemm.Multiply(ReadOnly(x, (long)rows * inF), ReadOnly(weight, (long)outF * inF), Span(c, (long)rows * outF), rows, inF, outF,
                transA: false, transB: true, accumulate: false, Gemm.Path.Packed);
            BiasActivation(act, c, y, bias, rows, outF);
            return;
        }
        DenseKernels.Forward(act, ReadOnly(x, (long)rows * inF), ReadOnly(weight, (long)outF * inF), ReadOnly(bias, outF),
            Span(y, (long)rows * outF), pre == null ? default : Span(pre, (long)rows * outF), rows, inF, outF);
    }

    /// <summary>y = skip + x·Wᵀ + b (skip may be y itself).</summary>
    internal static unsafe void LinearResidual(float* x, float* weight, float* bias, float* skip, float* y, int rows, int inF, int outF)
    {
        if (PreferPacked(rows, inF))
        {
            long n = (long)rows * outF;
            if (skip != y) ReadOnly(skip, n).CopyTo(Span(y, n));
            Gemm.Multiply(ReadOnly(x, (long)rows * inF), ReadOnly(weight, (long)outF * inF), Span(y, n), rows, inF, outF,
                transA: false, transB: true, accumulate: true, Gemm.Path.Packed);
            BiasActivation(default(IdentityActivation), y, y, bias, rows, outF);
            return;
        }
        DenseKernels.ForwardResidual(default(IdentityActivation), ReadOnly(x, (long)rows * inF), ReadOnly(weight, (long)outF * inF),
            ReadOnly(bias, outF), ReadOnly(skip, (long)rows * outF), Span(y, (long)rows * outF), rows, inF, outF);
    }

    /// <summary>
    /// DenseKernels takes Gemm's unpacked dot path up to Gemm.DotMaxRows rows; with a short reduction (the d = 128 projections of
    /// a block) the packed microkernel is faster once there are a few dozen rows to amortise packing W (measured on Zen 4, k = 128:
    /// 64 rows 100 vs 81 GFLOP/s, 32 rows 85 vs 80; with k = 512 the dot path stays ahead up to 64 rows).
    /// </summary>
    internal static bool PreferPacked(int rows, int inF) => Gemm.NativeWidth != 0 && rows >= 48 && rows <= Gemm.DotMaxRows && inF <= 192;

    /// <summary>Per row: pre = c + bias (kept in c), y = act(pre); c and y may be the same rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void BiasActivation<TAct>(TAct act, float* c, float* y, float* bias, int rows, int n) where TAct : struct, IActivation
    {
        bool keep = c != y;
        for (long r = 0; r < rows; r++)
        {
            float* cr = c + r * n, yr = y + r * n;
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; j + 16 <= n; j += 16)
                {
                    var v = Vector512.Load(cr + j) + Vector512.Load(bias + j);
                    if (keep) v.Store(cr + j);
                    act.Invoke(v).Store(yr + j);
                }
            if (Vector256.IsHardwareAccelerated)
                for (; j + 8 <= n; j += 8)
                {
                    var v = Vector256.Load(cr + j) + Vector256.Load(bias + j);
                    if (keep) v.Store(cr + j);
                    act.Invoke(v).Store(yr + j);
                }
            if (Vector128.IsHardwareAccelerated)
                for (; j + 4 <= n; j += 4)
                {
                    var v = Vector128.Load(cr + j) + Vector128.Load(bias + j);
                    if (keep) v.Store(cr + j);
                    act.Invoke(v).Store(yr + j);
                }
            for (; j < n; j++)
            {
                float v = cr[j] + bias[j];
                if (keep) cr[j] = v;
                yr[j] = act.Invoke(v);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Span<float> Span(float* p, long n) => new(p, (int)n);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe ReadOnlySpan<float> ReadOnly(float* p, long n) => new(p, (int)n);
}
