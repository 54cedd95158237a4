// Convolution (Conv1D/Conv2D, any stride, padding, dilation and groups) as im2col + the packed GEMM, PyTorch layout:
// input [batch, C, H, W], weight [O, C/G, KH, KW], bias [O], output [batch, O, OH, OW].
//
// Per example and group g (Cg = C/G input channels, Og = O/G output channels, K = Cg·KH·KW, P = OH·OW):
//   forward   col[K, P] = im2col(x_g)            out_g[Og, P]  = W_g[Og, K] · col[K, P]            (Gemm.NN)
//   backward  dW_g[Og, K] += dPre_g[Og, P] · col[K, P]ᵀ                                            (Gemm.NT)
//             dCol[K, P]   = W_g[Og, K]ᵀ · dPre_g[Og, P];  dx_g = col2im(dCol)                    (Gemm.TN)
// A 1×1 kernel with stride 1 and no padding needs no unfolding: col is x_g itself and dx_g is written by the GEMM.
// The output rows of one group are contiguous in NCHW, so the GEMM writes them in place; bias and activation are
// then fused into one pass over each output channel row (as DenseKernels does per feature column).
// Scratch (col, dCol) is thread-static: allocated on first use at the largest size seen, reused afterwards, never
// shared between threads (concurrent inference is safe and allocation-free in steady state).
// The naive reference (ReferenceForward, in double) stays in this file: tests compare the fast path with it.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Fused forward and backward kernels for a convolution layer <c>y = act(conv(x, W) + b)</c>.</summary>
/// <remarks>Single-threaded and deterministic; results may differ from other machines in the last bits (see <see cref="Gemm"/>).</remarks>
public static partial class ConvKernels
{
    [ThreadStatic] private static float[]? t_col;
    [ThreadStatic] private static float[]? t_dCol;

    /// <summary>
    /// Effectively computes <c>pre[b, o, y, x] = bias[o] + Σ_{c ∈ group(o), i, j} weight[o, c − c0, i, j]·input[b, c, y·sh − ph + i·dh, x·sw − pw + j·dw]</c>
    /// (zero outside the input) and <c>output = act(pre)</c>.
    /// </summary>
    /// <param name="act">The activation operator (fused into the output pass).</param>
    /// <param name="g">The convolution geometry.</param>
    /// <param name="input">Input [batch, InChannels, InHeight, InWidth].</param>
    /// <param name="weight">Weight [OutChannels, InChannels/Groups, KernelH, KernelW].</param>
    /// <param name="bias">Bias [OutChannels], or empty for no bias.</param>
    /// <param name="output">Output [batch, OutChannels, OutHeight, OutWidth]; must not overlap the other operands.</param>
    /// <param name="preActivation">Receives the pre-activation [batch, OutChannels, OutHeight, OutWidth] for training, or empty (inference).</param>
    /// <param name="batch">Number of examples.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative.</exception>
    /// <exception cref="ArgumentException">The geometry is invalid, a span's length does not match its shape, or spans overlap.</exception>
    public static void Forward<TAct>(TAct act, in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, Span<float> preActivation, int batch) where TAct : struct, IActivation
        => Forward(Path.Auto, act, g, input, weight, bias, output, preActivation, batch);

    /// <summary><see cref="Forward{TAct}(TAct, in ConvGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/> on a chosen path (tests and benchmarks force each one).</summary>
    internal static void Forward<TAct>(Path path, TAct act, in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, Span<float> preActivation, int batch) where TAct : struct, IActivation
    {
        CheckForward(g, input, weight, bias, output, preActivation, batch);
        if (batch == 0) return;
        if (g.PaddingMode != PaddingMode.Zeros)
        {
            ForwardPadded(path, act, g, input, weight, bias, output, preActivation, batch);
            return;
        }
        switch (Resolve(path))
        {
            case Path.Im2Col: Im2ColForwardCore(act, g, input, weight, bias, output, preActivation, batch); break;
            case Path.ScalarLanes: DirectForward<TAct, float, ConvScalar>(act, g, input, weight, bias, output, preActivation, batch, forceLanes: true); break;
            case Path.V128Lanes: DirectForward<TAct, Vector128<float>, ConvV128>(act, g, input, weight, bias, output, preActivation, batch, forceLanes: true); break;
            case Path.V256Lanes: DirectForward<TAct, Vector256<float>, ConvV256>(act, g, input, weight, bias, output, preActivation, batch, forceLanes: true); break;
            case Path.V512Lanes: DirectForward<TAct, Vector512<float>, ConvV512>(act, g, input, weight, bias, output, preActivation, batch, forceLanes: true); break;
            case Path.ScalarShifted: DirectForward<TAct, float, ConvScalar>(act, g, input, weight, bias, output, preActivation, batch, shifted: true); break;
            case Path.V128Shifted: DirectForward<TAct, Vector128<float>, ConvV128>(act, g, input, weight, bias, output, preActivation, batch, shifted: true); break;
            case Path.V256Shifted: DirectForward<TAct, Vector256<float>, ConvV256>(act, g, input, weight, bias, output, preActivation, batch, shifted: true); break;
            case Path.V512Shifted: DirectForward<TAct, Vector512<float>, ConvV512>(act, g, input, weight, bias, output, preActivation, batch, shifted: true); break;
            case Path.ScalarWide: DirectForward<TAct, float, ConvScalar>(act, g, input, weight, bias, output, preActivation, batch, shifted: false); break;
            case Path.V128Wide: DirectForward<TAct, Vector128<float>, ConvV128>(act, g, input, weight, bias, output, preActivation, batch, shifted: false); break;
            case Path.V256Wide: DirectForward<TAct, Vector256<float>, ConvV256>(act, g, input, weight, bias, output, preActivation, batch, shifted: false); break;
            case Path.V512Wide: DirectForward<TAct, Vector512<float>, ConvV512>(act, g, input, weight, bias, output, preActivation, batch, shifted: false); break;
            case Path.V512: DirectForward<TAct, Vector512<float>, ConvV512>(act, g, input, weight, bias, output, preActivation, batch); break;
            case Path.V256: DirectForward<TAct, Vector256<float>, ConvV256>(act, g, input, weight, bias, output, preActivation, batch); break;
            case Path.V128: DirectForward<TAct, Vector128<float>, ConvV128>(act, g, input, weight, bias, output, preActivation, batch); break;
            default: DirectForward<TAct, float, ConvScalar>(act, g, input, weight, bias, output, preActivation, batch); break;
        }
    }

    /// <summary>
    /// The general im2col + GEMM path of <see cref="Forward{TAct}(TAct, in ConvGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/> (one unfolding and one GEMM per example and group), kept as
    /// the baseline for tests and benchmarks. Same contract as <see cref="Forward{TAct}(TAct, in ConvGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/>.
    /// </summary>
    public static void Im2ColForward<TAct>(TAct act, in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, Span<float> preActivation, int batch) where TAct : struct, IActivation
    {
        CheckForward(g, input, weight, bias, output, preActivation, batch);
        if (batch == 0) return;
        if (g.PaddingMode != PaddingMode.Zeros) ForwardPadded(Path.Im2Col, act, g, input, weight, bias, output, preActivation, batch);
        else Im2ColForwardCore(act, g, input, weight, bias, output, preActivation, batch);
    }

    private static void CheckForward(in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, Span<float> preActivation, int batch)
    {
        g.Validate(nameof(g));
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        int inLen = g.InputLength, outLen = g.OutputLength;
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, nameof(g.InputLength), inLen);
        ThrowHelper.CheckShape(weight.Length, nameof(weight), nameof(g.WeightLength), g.WeightLength);
        if (!bias.IsEmpty) ThrowHelper.CheckShape(bias.Length, nameof(bias), nameof(g.OutChannels), g.OutChannels, orEmpty: true);
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(g.OutputLength), outLen);
        bool keepPre = !preActivation.IsEmpty;
        if (keepPre)
        {
            ThrowHelper.CheckShape(preActivation.Length, nameof(preActivation), nameof(batch), batch, nameof(g.OutputLength), outLen, orEmpty: true);
            ThrowHelper.CheckNoOverlap(preActivation, output, nameof(preActivation), nameof(output));
            ThrowHelper.CheckNoOverlap(input, preActivation, nameof(input), nameof(preActivation));
            ThrowHelper.CheckNoOverlap(weight, preActivation, nameof(weight), nameof(preActivation));
            ThrowHelper.CheckNoOverlap(bias, preActivation, nameof(bias), nameof(preActivation));
        }
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(weight, output, nameof(weight), nameof(output));
        ThrowHelper.CheckNoOverlap(bias, output, nameof(bias), nameof(output));
    }

    private static void Im2ColForwardCore<TAct>(TAct act, in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, Span<float> preActivation, int batch) where TAct : struct, IActivation
    {
        int inLen = g.InputLength, outLen = g.OutputLength;
        bool keepPre = !preActivation.IsEmpty;
        int groups = g.Groups, cg = g.InChannels / groups, og = g.OutChannels / groups;
        int k = cg * g.KernelH * g.KernelW, p = g.OutHeight * g.OutWidth, hw = g.InHeight * g.InWidth;
        bool pointwise = IsPointwise(g);
        Span<float> col = pointwise ? default : Scratch(ref t_col, k * p);   // [K, P]

        // Training: the GEMM writes into preActivation and the epilogue finishes pre (bias) and output from it.
        // Inference: the GEMM writes into output and the epilogue works in place.
        Span<float> gemmOut = keepPre ? preActivation : output;   // [batch, O, P]
        for (int b = 0; b < batch; b++)
            for (int grp = 0; grp < groups; grp++)
            {
                ReadOnlySpan<float> x = input.Slice(b * inLen + grp * cg * hw, cg * hw);   // [Cg, H, W]
                ReadOnlySpan<float> cols = x;                                              // [K, P]
                if (!pointwise)
                {
                    Im2Col(g, x, col, cg);
                    cols = col;
                }
                // out_g[Og, P] = W_g[Og, K] · col[K, P]
                Gemm.NN(weight.Slice(grp * og * k, og * k), cols, gemmOut.Slice(b * outLen + grp * og * p, og * p), og, k, p);
            }

        bool identity = typeof(TAct) == typeof(IdentityActivation);
        if (identity && bias.IsEmpty && !keepPre) return;
        ref float pre = ref MemoryMarshal.GetReference(gemmOut);
        ref float y = ref MemoryMarshal.GetReference(output);
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < g.OutChannels; o++)
            {
                nuint row = (nuint)(b * outLen + o * p);
                Epilogue(act, ref Unsafe.Add(ref pre, row), ref Unsafe.Add(ref y, row), bias.IsEmpty ? 0f : bias[o], !bias.IsEmpty, (nuint)p);
            }
    }

    /// <summary>
    /// Backward of <see cref="Forward{TAct}(TAct, in ConvGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/>: <c>dPre = dOutput ⊙ act'(pre)</c>; <c>dWeight += ∂loss/∂W</c>; <c>dBias[o] += Σ_{b,y,x} dPre[b, o, y, x]</c>;
    /// <c>dInput = ∂loss/∂input</c> (overwritten).
    /// </summary>
    /// <param name="act">The activation operator used in the forward pass.</param>
    /// <param name="g">The convolution geometry.</param>
    /// <param name="dOutput">Gradient with respect to the output [batch, OutChannels, OutHeight, OutWidth].</param>
    /// <param name="preActivation">The forward pre-activation [batch, OutChannels, OutHeight, OutWidth] (may be empty for <see cref="IdentityActivation"/>).</param>
    /// <param name="output">The forward output, same shape (may be empty for <see cref="IdentityActivation"/>).</param>
    /// <param name="input">The forward input [batch, InChannels, InHeight, InWidth].</param>
    /// <param name="weight">Weight [OutChannels, InChannels/Groups, KernelH, KernelW].</param>
    /// <param name="dPre">Scratch for the pre-activation gradient [batch, OutChannels, OutHeight, OutWidth]
    /// (may be empty for <see cref="IdentityActivation"/>, which then reads <paramref name="dOutput"/> directly).</param>
    /// <param name="dWeight">Weight gradient, shaped as the weight; accumulated into.</param>
    /// <param name="dBias">Bias gradient [OutChannels], accumulated into; empty when the layer has no bias.</param>
    /// <param name="dInput">Input gradient [batch, InChannels, InHeight, InWidth], overwritten; empty to skip (first layer).</param>
    /// <param name="batch">Number of examples.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative.</exception>
    /// <exception cref="ArgumentException">The geometry is invalid, a span's length does not match its shape, or outputs overlap inputs.</exception>
    public static void Backward<TAct>(TAct act, in ConvGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> preActivation,
        ReadOnlySpan<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> dPre,
        Span<float> dWeight, Span<float> dBias, Span<float> dInput, int batch) where TAct : struct, IActivation
        => Backward(Path.Auto, act, g, dOutput, preActivation, output, input, weight, dPre, dWeight, dBias, dInput, batch);

    /// <summary><see cref="Backward{TAct}(TAct, in ConvGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, Span{float}, int)"/> on a chosen path (tests and benchmarks force each one).</summary>
    internal static void Backward<TAct>(Path path, TAct act, in ConvGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> preActivation,
        ReadOnlySpan<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> dPre,
        Span<float> dWeight, Span<float> dBias, Span<float> dInput, int batch) where TAct : struct, IActivation
    {
        if (g.PaddingMode != PaddingMode.Zeros)
        {
            BackwardPadded(path, act, g, dOutput, preActivation, output, input, weight, dPre, dWeight, dBias, dInput, batch);
            return;
        }
        ReadOnlySpan<float> grad = PrepareBackward(act, g, dOutput, preActivation, output, input, weight, dPre, dWeight, dBias, dInput, batch);
        if (batch == 0) return;
        Path resolved = Resolve(path);
        // Strided layers with small outputs spend the dot-product tiles on short rows (a 4×2 tile reduces over only P
        // positions); the packed GEMM amortises better there (measured with bench/ConvBench on the ResNet's 7×7 layers).
        if (path == Path.Auto && (g.StrideH != 1 || g.StrideW != 1) && g.OutHeight * g.OutWidth < 128) resolved = Path.Im2Col;
        switch (resolved)
        {
            case Path.Im2Col: Im2ColBackwardCore(g, grad, input, weight, dWeight, dInput, batch); break;
            case Path.ScalarLanes: DirectBackward<float, ConvScalar>(g, grad, input, weight, dWeight, dInput, batch, forceLanes: true); break;
            case Path.V128Lanes: DirectBackward<Vector128<float>, ConvV128>(g, grad, input, weight, dWeight, dInput, batch, forceLanes: true); break;
            case Path.V256Lanes: DirectBackward<Vector256<float>, ConvV256>(g, grad, input, weight, dWeight, dInput, batch, forceLanes: true); break;
            case Path.V512Lanes: DirectBackward<Vector512<float>, ConvV512>(g, grad, input, weight, dWeight, dInput, batch, forceLanes: true); break;
            // The column-shifted source is forward-only: backward keeps the wide grid at the same width.
            case Path.V512 or Path.V512Shifted or Path.V512Wide: DirectBackward<Vector512<float>, ConvV512>(g, grad, input, weight, dWeight, dInput, batch); break;
            case Path.V256 or Path.V256Shifted or Path.V256Wide: DirectBackward<Vector256<float>, ConvV256>(g, grad, input, weight, dWeight, dInput, batch); break;
            case Path.V128 or Path.V128Shifted or Path.V128Wide: DirectBackward<Vector128<float>, ConvV128>(g, grad, input, weight, dWeight, dInput, batch); break;
            default: DirectBackward<float, ConvScalar>(g, grad, input, weight, dWeight, dInput, batch); break;
        }
    }

    /// <summary>
    /// The general im2col + GEMM path of <see cref="Backward{TAct}(TAct, in ConvGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, Span{float}, int)"/>, kept as the baseline for tests and benchmarks. Same
    /// contract as <see cref="Backward{TAct}(TAct, in ConvGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, Span{float}, int)"/>.
    /// </summary>
    public static void Im2ColBackward<TAct>(TAct act, in ConvGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> preActivation,
        ReadOnlySpan<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> dPre,
        Span<float> dWeight, Span<float> dBias, Span<float> dInput, int batch) where TAct : struct, IActivation
    {
        if (g.PaddingMode != PaddingMode.Zeros)
        {
            BackwardPadded(Path.Im2Col, act, g, dOutput, preActivation, output, input, weight, dPre, dWeight, dBias, dInput, batch);
            return;
        }
        ReadOnlySpan<float> grad = PrepareBackward(act, g, dOutput, preActivation, output, input, weight, dPre, dWeight, dBias, dInput, batch);
        if (batch == 0) return;
        Im2ColBackwardCore(g, grad, input, weight, dWeight, dInput, batch);
    }

    /// <summary>Validates the backward operands, forms dPre = dOutput ⊙ act'(pre) and accumulates dBias; returns ∂loss/∂pre.</summary>
    private static ReadOnlySpan<float> PrepareBackward<TAct>(TAct act, in ConvGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> preActivation,
        ReadOnlySpan<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> dPre,
        Span<float> dWeight, Span<float> dBias, Span<float> dInput, int batch) where TAct : struct, IActivation
    {
        g.Validate(nameof(g));
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        int inLen = g.InputLength, outLen = g.OutputLength;
        bool identity = typeof(TAct) == typeof(IdentityActivation);
        ThrowHelper.CheckShape(dOutput.Length, nameof(dOutput), nameof(batch), batch, nameof(g.OutputLength), outLen);
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, nameof(g.InputLength), inLen);
        ThrowHelper.CheckShape(weight.Length, nameof(weight), nameof(g.WeightLength), g.WeightLength);
        ThrowHelper.CheckShape(dWeight.Length, nameof(dWeight), nameof(g.WeightLength), g.WeightLength);
        if (!dBias.IsEmpty) ThrowHelper.CheckShape(dBias.Length, nameof(dBias), nameof(g.OutChannels), g.OutChannels, orEmpty: true);
        if (!dInput.IsEmpty)
        {
            ThrowHelper.CheckShape(dInput.Length, nameof(dInput), nameof(batch), batch, nameof(g.InputLength), inLen, orEmpty: true);
            ThrowHelper.CheckNoOverlap(dOutput, dInput, nameof(dOutput), nameof(dInput));
            ThrowHelper.CheckNoOverlap(weight, dInput, nameof(weight), nameof(dInput));
            ThrowHelper.CheckNoOverlap(input, dInput, nameof(input), nameof(dInput));
        }
        ThrowHelper.CheckNoOverlap(input, dWeight, nameof(input), nameof(dWeight));
        ThrowHelper.CheckNoOverlap(dOutput, dWeight, nameof(dOutput), nameof(dWeight));

        ReadOnlySpan<float> grad;   // ∂loss/∂pre [batch, O, P]
        if (identity && dPre.IsEmpty)
        {
            grad = dOutput;
        }
        else
        {
            ThrowHelper.CheckShape(dPre.Length, nameof(dPre), nameof(batch), batch, nameof(g.OutputLength), outLen);
            if (!identity)
            {
                ThrowHelper.CheckShape(preActivation.Length, nameof(preActivation), nameof(batch), batch, nameof(g.OutputLength), outLen);
                ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(g.OutputLength), outLen);
                Elementwise.Backward(act, dOutput, preActivation, output, dPre);
            }
            else
            {
                dOutput.CopyTo(dPre);
            }
            grad = dPre;
        }
        if (batch == 0) return grad;
        int p = g.OutHeight * g.OutWidth;

        // dBias[o] += Σ_{b, p} dPre[b, o, p]: each row summed on its own, rows added in batch order (alignment-independent).
        if (!dBias.IsEmpty)
        {
            ref float gr = ref MemoryMarshal.GetReference(grad);
            for (int b = 0; b < batch; b++)
                for (int o = 0; o < g.OutChannels; o++)
                    dBias[o] += RowOps.Sum(ref Unsafe.Add(ref gr, (nuint)(b * outLen + o * p)), (nuint)p);
        }
        return grad;
    }

    private static void Im2ColBackwardCore(in ConvGeometry g, ReadOnlySpan<float> grad, ReadOnlySpan<float> input,
        ReadOnlySpan<float> weight, Span<float> dWeight, Span<float> dInput, int batch)
    {
        int groups = g.Groups, cg = g.InChannels / groups, og = g.OutChannels / groups;
        int k = cg * g.KernelH * g.KernelW, p = g.OutHeight * g.OutWidth, hw = g.InHeight * g.InWidth;
        int inLen = g.InputLength, outLen = g.OutputLength;
        bool pointwise = IsPointwise(g);
        Span<float> col = pointwise ? default : Scratch(ref t_col, k * p);     // [K, P]
        Span<float> dCol = pointwise || dInput.IsEmpty ? default : Scratch(ref t_dCol, k * p);   // [K, P]
        for (int b = 0; b < batch; b++)
            for (int grp = 0; grp < groups; grp++)
            {
                ReadOnlySpan<float> x = input.Slice(b * inLen + grp * cg * hw, cg * hw);       // [Cg, H, W]
                ReadOnlySpan<float> gOut = grad.Slice(b * outLen + grp * og * p, og * p);     // [Og, P]
                ReadOnlySpan<float> wG = weight.Slice(grp * og * k, og * k);                  // [Og, K]
                ReadOnlySpan<float> cols = x;                                                  // [K, P]
                if (!pointwise)
                {
                    Im2Col(g, x, col, cg);
                    cols = col;
                }
                // dW_g[Og, K] += dPre_g[Og, P] · col[K, P]ᵀ
                Gemm.NT(gOut, cols, dWeight.Slice(grp * og * k, og * k), og, p, k, accumulate: true);

                if (dInput.IsEmpty) continue;
                Span<float> dx = dInput.Slice(b * inLen + grp * cg * hw, cg * hw);            // [Cg, H, W]
                if (pointwise)
                {
                    // dx_g[Cg, P] = W_g[Og, Cg]ᵀ · dPre_g[Og, P]
                    Gemm.TN(wG, gOut, dx, cg, og, p);
                }
                else
                {
                    // dCol[K, P] = W_g[Og, K]ᵀ · dPre_g[Og, P]; dx_g = col2im(dCol)
                    Gemm.TN(wG, gOut, dCol, k, og, p);
                    dx.Clear();
                    Col2Im(g, dCol, dx, cg);
                }
            }
    }

    // ------------------------------------------------------------------------------------------------ reference

    /// <summary>
    /// Naive reference for <see cref="Forward{TAct}(TAct, in ConvGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/> without activation, in double: <c>output = conv(input, weight) + bias</c>
    /// (bias may be empty; padding taps read zeros or, by <see cref="ConvGeometry.PaddingMode"/>, the input position they map to).
    /// A direct seven-deep loop, for tests only.
    /// </summary>
    /// <exception cref="ArgumentException">The geometry is invalid or a span's length does not match its shape.</exception>
    public static void ReferenceForward(in ConvGeometry g, ReadOnlySpan<double> input, ReadOnlySpan<double> weight,
        ReadOnlySpan<double> bias, Span<double> output, int batch)
    {
        g.Validate(nameof(g));
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, nameof(g.InputLength), g.InputLength);
        ThrowHelper.CheckShape(weight.Length, nameof(weight), nameof(g.WeightLength), g.WeightLength);
        if (!bias.IsEmpty) ThrowHelper.CheckShape(bias.Length, nameof(bias), nameof(g.OutChannels), g.OutChannels, orEmpty: true);
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(g.OutputLength), g.OutputLength);
        int cg = g.InChannels / g.Groups, og = g.OutChannels / g.Groups, oh = g.OutHeight, ow = g.OutWidth;
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                    {
                        double sum = bias.IsEmpty ? 0 : bias[o];
                        for (int c = 0; c < cg; c++)
                        {
                            int ci = o / og * cg + c;
                            for (int i = 0; i < g.KernelH; i++)
                                for (int j = 0; j < g.KernelW; j++)
                                {
                                    int iy = y * g.StrideH - g.PadH + i * g.DilationH, ix = x * g.StrideW - g.PadW + j * g.DilationW;
                                    if (iy < 0 || iy >= g.InHeight || ix < 0 || ix >= g.InWidth)
                                    {
                                        if (g.PaddingMode == PaddingMode.Zeros) continue;
                                        iy = ReferenceSource(iy, g.InHeight, g.PaddingMode);
                                        ix = ReferenceSource(ix, g.InWidth, g.PaddingMode);
                                    }
                                    sum += weight[((o * cg + c) * g.KernelH + i) * g.KernelW + j]
                                        * input[((b * g.InChannels + ci) * g.InHeight + iy) * g.InWidth + ix];
                                }
                        }
                        output[((b * g.OutChannels + o) * oh + y) * ow + x] = sum;
                    }
    }

    /// <summary>
    /// The reference's own reading of PyTorch's padding modes, kept apart from the fast path's <see cref="PaddingSource"/>:
    /// reflect mirrors (repeatedly, though Validate allows one reflection only), replicate clamps, circular wraps with a true modulo.
    /// </summary>
    private static int ReferenceSource(int i, int n, PaddingMode mode)
    {
        switch (mode)
        {
            case PaddingMode.Replicate:
                return Math.Clamp(i, 0, n - 1);
            case PaddingMode.Circular:
                return ((i % n) + n) % n;
            default:
                if (n == 1) return 0;
                while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
                return i;
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// <summary>1×1 kernel, stride 1, no padding: the unfolded input is the input itself (dilation is then irrelevant).</summary>
    private static bool IsPointwise(in ConvGeometry g)
        => g.KernelH == 1 && g.KernelW == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0;

    /// <summary>A thread-static scratch span of <paramref name="length"/> floats (grown on demand, reused afterwards).</summary>
    private static Span<float> Scratch(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>(length);
        return buffer.AsSpan(0, length);
    }

    /// <summary>
    /// First and one-past-last output column whose input column <c>ox·stride + offset</c> lies inside <c>[0, width)</c>.
    /// Columns outside the range read padding.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int Lo, int Hi) ValidRange(int offset, int stride, int width, int outWidth)
    {
        int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int last = width - 1 - offset;   // largest ox·stride that stays inside
        int hi = last < 0 ? 0 : Math.Min(outWidth, last / stride + 1);
        return (Math.Min(lo, outWidth), Math.Max(hi, Math.Min(lo, outWidth)));
    }

    /// <summary>
    /// Unfolds one group's input x[Cg, H, W] into col[Cg·KH·KW, OH·OW]: row (c, i, j) holds, for every output position,
    /// the input tap it multiplies (zero in the padding). Rows are written contiguously; with stride 1 each output row's
    /// valid part is one block copy.
    /// </summary>
    private static void Im2Col(in ConvGeometry g, ReadOnlySpan<float> x, Span<float> col, int cg)
    {
        int h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth, sw = g.StrideW;
        ref float src0 = ref MemoryMarshal.GetReference(x);
        ref float dst = ref MemoryMarshal.GetReference(col);
        for (int c = 0; c < cg; c++)
            for (int i = 0; i < g.KernelH; i++)
                for (int j = 0; j < g.KernelW; j++)
                {
                    int xOff = j * g.DilationW - g.PadW;
                    (int lo, int hi) = ValidRange(xOff, sw, w, ow);
                    for (int y = 0; y < oh; y++, dst = ref Unsafe.Add(ref dst, ow))
                    {
                        int iy = y * g.StrideH - g.PadH + i * g.DilationH;
                        if ((uint)iy >= (uint)h)
                        {
                            MemoryMarshal.CreateSpan(ref dst, ow).Clear();
                            continue;
                        }
                        ref float srcRow = ref Unsafe.Add(ref src0, (nint)(c * h + iy) * w);
                        for (int o = 0; o < lo; o++) Unsafe.Add(ref dst, o) = 0f;
                        if (sw == 1)
                            MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref srcRow, lo + xOff), hi - lo)
                                .CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dst, lo), hi - lo));
                        else
                            for (int o = lo; o < hi; o++) Unsafe.Add(ref dst, o) = Unsafe.Add(ref srcRow, o * sw + xOff);
                        for (int o = hi; o < ow; o++) Unsafe.Add(ref dst, o) = 0f;
                    }
                }
    }

    /// <summary>
    /// The adjoint of <see cref="Im2Col"/>: adds every entry of dCol[Cg·KH·KW, OH·OW] into the input position it was
    /// read from (padding taps are dropped). dx[Cg, H, W] must be cleared by the caller.
    /// </summary>
    /// <param name="g">The convolution geometry.</param>
    /// <param name="dCol">Gradient of the unfolded input [Cg·KH·KW, rows of rowPitch].</param>
    /// <param name="dx">Input gradient [Cg, H, W] to add into.</param>
    /// <param name="cg">Input channels per group.</param>
    /// <param name="rowPitch">Distance between dCol rows (OH·OW when packed; more when each row is padded to whole tiles).</param>
    private static void Col2Im(in ConvGeometry g, ReadOnlySpan<float> dCol, Span<float> dx, int cg, int rowPitch = 0)
    {
        if (rowPitch == 0) rowPitch = g.OutHeight * g.OutWidth;
        int h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth, sw = g.StrideW;
        ref float dst0 = ref MemoryMarshal.GetReference(dx);
        ref float src = ref MemoryMarshal.GetReference(dCol);
        for (int c = 0; c < cg; c++)
            for (int i = 0; i < g.KernelH; i++)
                for (int j = 0; j < g.KernelW; j++)
                {
                    int xOff = j * g.DilationW - g.PadW;
                    (int lo, int hi) = ValidRange(xOff, sw, w, ow);
                    ref float rowStart = ref src;
                    for (int y = 0; y < oh; y++, src = ref Unsafe.Add(ref src, ow))
                    {
                        int iy = y * g.StrideH - g.PadH + i * g.DilationH;
                        if ((uint)iy >= (uint)h) continue;
                        ref float dstRow = ref Unsafe.Add(ref dst0, (nint)(c * h + iy) * w);
                        if (sw == 1)
                            RowOps.AddTo(ref Unsafe.Add(ref src, lo), ref Unsafe.Add(ref dstRow, lo + xOff), (nuint)(hi - lo));
                        else
                            for (int o = lo; o < hi; o++) Unsafe.Add(ref dstRow, o * sw + xOff) += Unsafe.Add(ref src, o);
                    }
                    src = ref Unsafe.Add(ref rowStart, rowPitch);
                }
    }

    /// <summary>One output channel row: pre = pre + bias; y = act(pre) (pre and y may be the same row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Epilogue<TAct>(TAct act, ref float pre, ref float y, float bias, bool hasBias, nuint n) where TAct : struct, IActivation
    {
        nuint j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> vb = Vector512.Create(bias);
            for (; j + (nuint)Vector512<float>.Count <= n; j += (nuint)Vector512<float>.Count)
            {
                Vector512<float> v = Vector512.LoadUnsafe(ref pre, j);
                if (hasBias) { v += vb; v.StoreUnsafe(ref pre, j); }
                act.Invoke(v).StoreUnsafe(ref y, j);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vb = Vector256.Create(bias);
            for (; j + (nuint)Vector256<float>.Count <= n; j += (nuint)Vector256<float>.Count)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref pre, j);
                if (hasBias) { v += vb; v.StoreUnsafe(ref pre, j); }
                act.Invoke(v).StoreUnsafe(ref y, j);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> vb = Vector128.Create(bias);
            for (; j + (nuint)Vector128<float>.Count <= n; j += (nuint)Vector128<float>.Count)
            {
                Vector128<float> v = Vector128.LoadUnsafe(ref pre, j);
                if (hasBias) { v += vb; v.StoreUnsafe(ref pre, j); }
                act.Invoke(v).StoreUnsafe(ref y, j);
            }
        }
        for (; j < n; j++)
        {
            float v = Unsafe.Add(ref pre, j);
            if (hasBias) { v += bias; Unsafe.Add(ref pre, j) = v; }
            Unsafe.Add(ref y, j) = act.Invoke(v);
        }
    }
}
