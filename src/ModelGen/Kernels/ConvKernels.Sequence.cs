// Conv1D over a run-time length T with per-example real lengths (a [C, T] tensor of a sequence model, after a
// [Permute(1, 0)] of [T, F]): input [batch, C, T], weight [O, C/G, K], output [batch, O, T]. Only length-preserving
// geometries (stride 1, 2·pad = dilation·(K − 1)) are allowed, so output position t is input position t and the
// lengths keep describing the positions.
//
// Each example behaves as if run alone at its real length L_b: positions ≥ L_b read as zeros (exactly like PyTorch's
// zero padding on a tensor of length L_b), so padding never changes a real output. Padded output positions are
// written as 0 (pre-activation and output) and get no gradient: backward masks dOutput to the real positions before
// anything else, so neither the weights nor dInput see them, and dInput is 0 at padded positions.
//
// Per example and group (Cg = C/G, Og = O/G, K' = Cg·K), as ConvKernels' im2col path:
//   forward   col[K', T] = unfold(x_g) (masked)     pre_g[Og, T] = W_g[Og, K'] · col          (Gemm.NN)
//   backward  dW_g += dPre_g · colᵀ (Gemm.NT);      dCol = W_gᵀ · dPre_g (Gemm.TN); dx_g = fold(dCol) (masked)
// The unfolding copies one block per (channel, tap) row: with stride 1 the valid taps of a row are contiguous.
// Scratch (col, dCol) is the thread-static buffers of ConvKernels: no allocation in steady state.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelGen.Kernels;

public static partial class ConvKernels
{
    /// <summary>
    /// Effectively computes, for every example <c>b</c> with real length <c>L = lengths[b]</c> (or <paramref name="seq"/>) and
    /// <c>t &lt; L</c>: <c>pre[b, o, t] = bias[o] + Σ_{c ∈ group(o), k} weight[o, c − c0, k]·x[b, c, t − PadW + k·DilationW]</c>
    /// where <c>x</c> is zero outside <c>[0, L)</c>, and <c>output = act(pre)</c>; for <c>t ≥ L</c> both are 0.
    /// This is PyTorch's <c>Conv1d</c> run on each example alone, truncated to its length.
    /// </summary>
    /// <param name="act">The activation operator (fused into the output pass).</param>
    /// <param name="g">A 1-D geometry (<c>InHeight = 1</c>) with <c>InWidth = seq</c>, stride 1 and padding that keeps the length (<c>2·PadW = DilationW·(KernelW − 1)</c>).</param>
    /// <param name="input">Input [batch, InChannels, seq].</param>
    /// <param name="weight">Weight [OutChannels, InChannels/Groups, KernelW].</param>
    /// <param name="bias">Bias [OutChannels], or empty for no bias.</param>
    /// <param name="output">Output [batch, OutChannels, seq]; must not overlap the other operands.</param>
    /// <param name="preActivation">Receives the pre-activation [batch, OutChannels, seq] for training, or empty (inference).</param>
    /// <param name="lengths">Real lengths [batch], each in [1, seq], or empty (every example is seq long).</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="seq">The padded length T.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="seq"/> is negative, or a length lies outside [1, seq].</exception>
    /// <exception cref="ArgumentException">The geometry is invalid, not 1-D, not length-preserving or not <paramref name="seq"/> wide; a span's length does not match its shape; or spans overlap.</exception>
    public static void ForwardSequence<TAct>(TAct act, in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, Span<float> preActivation, ReadOnlySpan<int> lengths, int batch, int seq) where TAct : struct, IActivation
    {
        CheckSequenceGeometry(g, lengths, batch, seq);
        CheckForward(g, input, weight, bias, output, preActivation, batch);
        if (batch == 0) return;
        int groups = g.Groups, cg = g.InChannels / groups, og = g.OutChannels / groups, k = cg * g.KernelW;
        int inLen = g.InputLength, outLen = g.OutputLength;
        bool keepPre = !preActivation.IsEmpty;
        Span<float> col = Scratch(ref t_col, k * seq);   // [K', T]
        Span<float> gemmOut = keepPre ? preActivation : output;   // [batch, O, T]
        ref float pre = ref MemoryMarshal.GetReference(gemmOut);
        ref float y = ref MemoryMarshal.GetReference(output);
        for (int b = 0; b < batch; b++)
        {
            int length = SequenceKernels.Length(lengths, b, seq);
            for (int grp = 0; grp < groups; grp++)
            {
                UnfoldMasked(g, input.Slice(b * inLen + grp * cg * seq, cg * seq), col, cg, seq, length);
                // pre_g[Og, T] = W_g[Og, K'] · col[K', T] (padded columns of col are zero, so they come out 0)
                Gemm.NN(weight.Slice(grp * og * k, og * k), col, gemmOut.Slice(b * outLen + grp * og * seq, og * seq), og, k, seq);
            }
            for (int o = 0; o < g.OutChannels; o++)
            {
                nuint row = (nuint)(b * outLen + o * seq);
                Epilogue(act, ref Unsafe.Add(ref pre, row), ref Unsafe.Add(ref y, row), bias.IsEmpty ? 0f : bias[o], !bias.IsEmpty, (nuint)length);
                if (length == seq) continue;
                // Padded positions hold 0, not act(bias): nothing computed from padding is left in the tensor.
                gemmOut.Slice((int)row + length, seq - length).Clear();
                if (keepPre) output.Slice((int)row + length, seq - length).Clear();
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="ForwardSequence{TAct}"/>: with <c>dPre = dOutput ⊙ act'(pre)</c> at real positions and 0 at padded
    /// ones, <c>dWeight += ∂loss/∂W</c>, <c>dBias[o] += Σ_{b, t &lt; L_b} dPre[b, o, t]</c> and <c>dInput = ∂loss/∂input</c>
    /// (overwritten; 0 at padded positions). dOutput at padded positions is ignored.
    /// </summary>
    /// <param name="act">The activation operator used in the forward pass.</param>
    /// <param name="g">The geometry passed to the forward pass.</param>
    /// <param name="dOutput">Gradient with respect to the output [batch, OutChannels, seq].</param>
    /// <param name="preActivation">The forward pre-activation [batch, OutChannels, seq] (may be empty for <see cref="IdentityActivation"/>).</param>
    /// <param name="output">The forward output, same shape (may be empty for <see cref="IdentityActivation"/>).</param>
    /// <param name="input">The forward input [batch, InChannels, seq].</param>
    /// <param name="weight">Weight [OutChannels, InChannels/Groups, KernelW].</param>
    /// <param name="dPre">Scratch for the masked pre-activation gradient [batch, OutChannels, seq] (always needed: the mask is applied there).</param>
    /// <param name="dWeight">Weight gradient, shaped as the weight; accumulated into.</param>
    /// <param name="dBias">Bias gradient [OutChannels], accumulated into; empty when the layer has no bias.</param>
    /// <param name="dInput">Input gradient [batch, InChannels, seq], overwritten; empty to skip.</param>
    /// <param name="lengths">The real lengths of the forward pass, or empty.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="seq">The padded length T.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="seq"/> is negative, or a length lies outside [1, seq].</exception>
    /// <exception cref="ArgumentException">The geometry is invalid, not 1-D, not length-preserving or not <paramref name="seq"/> wide; a span's length does not match its shape (dPre included); or outputs overlap inputs.</exception>
    public static void BackwardSequence<TAct>(TAct act, in ConvGeometry g, ReadOnlySpan<float> dOutput, ReadOnlySpan<float> preActivation,
        ReadOnlySpan<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> dPre,
        Span<float> dWeight, Span<float> dBias, Span<float> dInput, ReadOnlySpan<int> lengths, int batch, int seq) where TAct : struct, IActivation
    {
        CheckSequenceGeometry(g, lengths, batch, seq);
        ThrowHelper.CheckShape(dOutput.Length, nameof(dOutput), nameof(batch), batch, nameof(g.OutputLength), g.OutputLength);
        ThrowHelper.CheckShape(dPre.Length, nameof(dPre), nameof(batch), batch, nameof(g.OutputLength), g.OutputLength);
        ThrowHelper.CheckNoOverlap(dOutput, dPre, nameof(dOutput), nameof(dPre));
        // dPre = dOutput ⊙ act'(pre), then the mask: everything after (bias sum, GEMMs) reads the masked dPre only.
        if (typeof(TAct) == typeof(IdentityActivation)) dOutput.CopyTo(dPre);
        else
        {
            ThrowHelper.CheckShape(preActivation.Length, nameof(preActivation), nameof(batch), batch, nameof(g.OutputLength), g.OutputLength);
            ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(g.OutputLength), g.OutputLength);
            Elementwise.Backward(act, dOutput, preActivation, output, dPre);
        }
        if (!lengths.IsEmpty)
            for (int b = 0; b < batch; b++)
            {
                int length = lengths[b];
                for (int o = 0; o < g.OutChannels && length < seq; o++)
                    dPre.Slice((b * g.OutChannels + o) * seq + length, seq - length).Clear();
            }
        ReadOnlySpan<float> grad = PrepareBackward(default(IdentityActivation), g, dPre, default, default, input, weight, default, dWeight, dBias, dInput, batch);
        if (batch == 0) return;

        int groups = g.Groups, cg = g.InChannels / groups, og = g.OutChannels / groups, k = cg * g.KernelW;
        int inLen = g.InputLength, outLen = g.OutputLength;
        Span<float> col = Scratch(ref t_col, k * seq);                                   // [K', T]
        Span<float> dCol = dInput.IsEmpty ? default : Scratch(ref t_dCol, k * seq);      // [K', T]
        for (int b = 0; b < batch; b++)
        {
            int length = SequenceKernels.Length(lengths, b, seq);
            for (int grp = 0; grp < groups; grp++)
            {
                ReadOnlySpan<float> gOut = grad.Slice(b * outLen + grp * og * seq, og * seq);   // [Og, T]
                ReadOnlySpan<float> wG = weight.Slice(grp * og * k, og * k);                   // [Og, K']
                UnfoldMasked(g, input.Slice(b * inLen + grp * cg * seq, cg * seq), col, cg, seq, length);
                // dW_g[Og, K'] += dPre_g[Og, T] · col[K', T]ᵀ
                Gemm.NT(gOut, col, dWeight.Slice(grp * og * k, og * k), og, seq, k, accumulate: true);
                if (dInput.IsEmpty) continue;
                // dCol[K', T] = W_g[Og, K']ᵀ · dPre_g[Og, T]; dx_g = fold(dCol), real positions only
                Gemm.TN(wG, gOut, dCol, k, og, seq);
                Span<float> dx = dInput.Slice(b * inLen + grp * cg * seq, cg * seq);
                dx.Clear();
                FoldMasked(g, dCol, dx, cg, seq, length);
            }
        }
    }

    /// <summary>
    /// Double-precision reference for <see cref="ForwardSequence{TAct}"/> without activation: each example convolved alone at its
    /// length (zero padding), padded positions 0. A direct loop, for tests only.
    /// </summary>
    /// <exception cref="ArgumentException">The geometry or a span's length is invalid (as in <see cref="ForwardSequence{TAct}"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or a length lies outside [1, seq].</exception>
    public static void ReferenceForwardSequence(in ConvGeometry g, ReadOnlySpan<double> input, ReadOnlySpan<double> weight,
        ReadOnlySpan<double> bias, Span<double> output, ReadOnlySpan<int> lengths, int batch, int seq)
    {
        CheckSequenceGeometry(g, lengths, batch, seq);
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, nameof(g.InputLength), g.InputLength);
        ThrowHelper.CheckShape(weight.Length, nameof(weight), nameof(g.WeightLength), g.WeightLength);
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(g.OutputLength), g.OutputLength);
        int cg = g.InChannels / g.Groups, og = g.OutChannels / g.Groups;
        for (int b = 0; b < batch; b++)
        {
            int length = SequenceKernels.Length(lengths, b, seq);
            for (int o = 0; o < g.OutChannels; o++)
                for (int t = 0; t < seq; t++)
                {
                    double sum = 0;
                    if (t < length)
                    {
                        sum = bias.IsEmpty ? 0 : bias[o];
                        int c0 = o / og * cg;
                        for (int c = 0; c < cg; c++)
                            for (int j = 0; j < g.KernelW; j++)
                            {
                                int s = t - g.PadW + j * g.DilationW;
                                if (s >= 0 && s < length)
                                    sum += weight[(o * cg + c) * g.KernelW + j] * input[(b * g.InChannels + c0 + c) * seq + s];
                            }
                    }
                    output[(b * g.OutChannels + o) * seq + t] = sum;
                }
        }
    }

    /// <summary>The sequence-specific checks: a 1-D, length-preserving geometry seq wide, and valid lengths.</summary>
    private static void CheckSequenceGeometry(in ConvGeometry g, ReadOnlySpan<int> lengths, int batch, int seq)
    {
        g.Validate(nameof(g));
        SequenceKernels.CheckLengths(lengths, batch, seq);
        if (g.InHeight != 1 || g.KernelH != 1 || g.StrideH != 1 || g.PadH != 0)
            throw new ArgumentException($"A convolution over a sequence is 1-D (InHeight, KernelH and StrideH 1, PadH 0), but the geometry has InHeight {g.InHeight}, KernelH {g.KernelH}, StrideH {g.StrideH}, PadH {g.PadH}.", nameof(g));
        if (g.PaddingMode != PaddingMode.Zeros)
            throw new ArgumentException($"A convolution over a sequence pads with zeros (positions past each real length are zeros too), but the geometry has PaddingMode {g.PaddingMode}.", nameof(g));
        if (g.InWidth != seq)
            throw new ArgumentException($"The geometry's InWidth ({g.InWidth}) must equal seq ({seq}).", nameof(g));
        if (g.StrideW != 1 || 2L * g.PadW != (long)g.DilationW * (g.KernelW - 1))
            throw new ArgumentException($"A convolution over a sequence must keep its length (stride 1, 2·PadW = DilationW·(KernelW − 1)), but has StrideW {g.StrideW}, PadW {g.PadW}, DilationW {g.DilationW}, KernelW {g.KernelW}.", nameof(g));
    }

    /// <summary>
    /// Unfolds one group x[Cg, T] of an example of real length <paramref name="length"/> into col[Cg·K, T]: row (c, j)
    /// holds x[c, t − PadW + j·DilationW] for t and the tap inside [0, length), 0 elsewhere (one block copy per row).
    /// </summary>
    private static void UnfoldMasked(in ConvGeometry g, ReadOnlySpan<float> x, Span<float> col, int cg, int seq, int length)
    {
        for (int c = 0; c < cg; c++)
            for (int j = 0; j < g.KernelW; j++)
            {
                Span<float> row = col.Slice((c * g.KernelW + j) * seq, seq);
                int shift = j * g.DilationW - g.PadW;
                int lo = Math.Max(0, -shift), hi = Math.Min(length, length - shift);
                if (hi <= lo)
                {
                    row.Clear();
                    continue;
                }
                row.Slice(0, lo).Clear();
                x.Slice(c * seq + lo + shift, hi - lo).CopyTo(row.Slice(lo));
                row.Slice(hi).Clear();
            }
    }

    /// <summary>The adjoint of <see cref="UnfoldMasked"/>: adds dCol[Cg·K, T] into dx[Cg, T] at the positions each tap read.</summary>
    private static void FoldMasked(in ConvGeometry g, ReadOnlySpan<float> dCol, Span<float> dx, int cg, int seq, int length)
    {
        for (int c = 0; c < cg; c++)
            for (int j = 0; j < g.KernelW; j++)
            {
                int shift = j * g.DilationW - g.PadW;
                int lo = Math.Max(0, -shift), hi = Math.Min(length, length - shift);
                if (hi <= lo) continue;
                RowOps.AddTo(ref MemoryMarshal.GetReference(dCol.Slice((c * g.KernelW + j) * seq + lo)),
                    ref MemoryMarshal.GetReference(dx.Slice(c * seq + lo + shift)), (nuint)(hi - lo));
            }
    }
}
