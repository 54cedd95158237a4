// Batch normalisation over x[batch, channels, spatial] (BatchNorm2D: spatial = H·W; BatchNorm1D on [C]: spatial = 1,
// on [C, L]: spatial = L), in PyTorch's semantics:
//   training   μ = mean, σ² = biased variance over the n = batch·spatial values of a channel;
//              y = γ·(x − μ)/√(σ² + eps) + β; running_mean ← (1 − m)·running_mean + m·μ,
//              running_var ← (1 − m)·running_var + m·σ²·n/(n − 1)  (the UNBIASED variance, as torch does);
//   inference  y = γ·(x − running_mean)/√(running_var + eps) + β.
// Statistics are the corrected two-pass algorithm (Chan, Golub & LeVeque): a first mean m₀, then Σd and Σd² with
// d = x − m₀ in one pass, giving μ = m₀ + Σd/n and σ² = (Σd² − (Σd)²/n)/n. Each contiguous spatial run is summed with
// vectors and the runs are added in double, so neither |μ| ≫ σ nor large batches lose precision, and nothing depends
// on alignment. Normalisation is centred, y = (x − μ)·scale + β: folding μ into the shift (as torch's CPU kernel does)
// would cancel catastrophically when |μ| ≫ σ.
// Backward (derivation): with x̂ = (x − μ)·r, r = 1/√(σ² + eps), S = Σ dy and D = Σ dy·(x − μ),
//   dx = γ·r·(dy − S/n − x̂·r·D/n) = A·dy + B·(x − μ) + C,  A = γ·r,  B = −γ·r³·D/n,  C = −A·S/n
//   (x − μ) is formed explicitly: folding −B·μ into C would cancel catastrophically when |μ| ≫ σ);
//   dγ += r·D,  dβ += S.
// Evaluation mode with gradients (a frozen-statistics forward that backward can follow): y is the inference output,
//   dx = γ·r·dy with r = 1/√(running_var + eps), dγ += Σ dy·(x − running_mean)·r, dβ += Σ dy.
// Fold: conv/dense weight [out, ...] and bias [out] absorb an inference-mode BatchNorm that follows them.
// Naive double references (Reference*) stay in this file: tests compare the fast paths with them.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Batch normalisation (training and inference forward, backward) and folding into a preceding layer.</summary>
public static class BatchNormKernels
{
    /// <summary>
    /// Training forward: normalises each channel with its batch statistics, writes <paramref name="saveMean"/> and
    /// <paramref name="saveInvStd"/> (<c>1/√(σ² + eps)</c>) for backward, and updates the running statistics in place
    /// (the running variance with the unbiased batch variance).
    /// </summary>
    /// <param name="input">Input [batch, channels, spatial].</param>
    /// <param name="output">Output [batch, channels, spatial]; may be the same span as <paramref name="input"/>.</param>
    /// <param name="gamma">Scale [channels], or empty when not affine (γ = 1).</param>
    /// <param name="beta">Shift [channels], or empty when not affine (β = 0).</param>
    /// <param name="runningMean">Running mean [channels]; updated.</param>
    /// <param name="runningVar">Running variance [channels]; updated.</param>
    /// <param name="saveMean">Receives the batch mean [channels].</param>
    /// <param name="saveInvStd">Receives <c>1/√(σ² + eps)</c> [channels] (biased batch variance σ²).</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per channel per example.</param>
    /// <param name="eps">Added to the variance (PyTorch default 1e-5).</param>
    /// <param name="momentum">Running-statistics momentum (PyTorch default 0.1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or eps/momentum is out of range.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, spans overlap, or a channel has only one value (batch·spatial = 1).</exception>
    public static void TrainForward(ReadOnlySpan<float> input, Span<float> output, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> runningMean, Span<float> runningVar, Span<float> saveMean, Span<float> saveInvStd,
        int batch, int channels, int spatial, float eps, float momentum)
    {
        CheckData(input.Length, output.Length, batch, channels, spatial, nameof(input), nameof(output));
        CheckAffine(gamma, beta, channels);
        ThrowHelper.CheckShape(runningMean.Length, nameof(runningMean), nameof(channels), channels);
        ThrowHelper.CheckShape(runningVar.Length, nameof(runningVar), nameof(channels), channels);
        ThrowHelper.CheckShape(saveMean.Length, nameof(saveMean), nameof(channels), channels);
        ThrowHelper.CheckShape(saveInvStd.Length, nameof(saveInvStd), nameof(channels), channels);
        CheckEps(eps);
        if (!(momentum >= 0f && momentum <= 1f)) ThrowHelper.ThrowArgumentOutOfRange(nameof(momentum), momentum, "must be between 0 and 1");
        ThrowHelper.CheckSameOrDisjoint(input, output, nameof(input), nameof(output));
        long n = (long)batch * spatial;
        if (channels > 0 && n <= 1)
            throw new ArgumentException($"Batch normalisation in training needs more than 1 value per channel, but batch·spatial = {n}.", nameof(input));
        if (channels == 0) return;

        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y0 = ref MemoryMarshal.GetReference(output);
        nint plane = (nint)channels * spatial;
        for (int c = 0; c < channels; c++)
        {
            ref float xc = ref Unsafe.Add(ref x0, (nint)c * spatial);
            double sum = 0;
            for (int b = 0; b < batch; b++) sum += RowOps.Sum(ref Unsafe.Add(ref xc, b * plane), (nuint)spatial);
            float mean0 = (float)(sum / n);
            double deviations = 0, squares = 0;
            for (int b = 0; b < batch; b++)
            {
                squares += Deviations(ref Unsafe.Add(ref xc, b * plane), (nuint)spatial, mean0, out float runSum);
                deviations += runSum;
            }
            double mean = mean0 + deviations / n;
            double variance = Math.Max(0, (squares - deviations * deviations / n) / n);   // biased: used to normalise
            double invStd = 1.0 / Math.Sqrt(variance + eps);
            saveMean[c] = (float)mean;
            saveInvStd[c] = (float)invStd;
            runningMean[c] = (float)((1.0 - momentum) * runningMean[c] + momentum * mean);
            runningVar[c] = (float)((1.0 - momentum) * runningVar[c] + momentum * variance * n / (n - 1));

            // Centre on the float m₀ (x − m₀ is exact for x near m₀) and move the small double correction μ − m₀ into the
            // shift: rounding μ itself to float would cost up to ulp(μ)/2·scale per element.
            double scale = (gamma.IsEmpty ? 1.0 : gamma[c]) * invStd;
            double shift = (beta.IsEmpty ? 0.0 : beta[c]) - (mean - mean0) * scale;
            ref float yc = ref Unsafe.Add(ref y0, (nint)c * spatial);
            for (int b = 0; b < batch; b++)
                Normalize(ref Unsafe.Add(ref xc, b * plane), ref Unsafe.Add(ref yc, b * plane), (nuint)spatial, mean0, (float)scale, (float)shift);
        }
    }

    /// <summary>Inference forward: <c>y = γ·(x − runningMean)/√(runningVar + eps) + β</c> per channel.</summary>
    /// <param name="input">Input [batch, channels, spatial].</param>
    /// <param name="output">Output [batch, channels, spatial]; may be the same span as <paramref name="input"/>.</param>
    /// <param name="gamma">Scale [channels], or empty when not affine.</param>
    /// <param name="beta">Shift [channels], or empty when not affine.</param>
    /// <param name="runningMean">Running mean [channels].</param>
    /// <param name="runningVar">Running variance [channels].</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per channel per example.</param>
    /// <param name="eps">Added to the variance.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or eps is out of range.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or output partially overlaps input.</exception>
    public static void InferenceForward(ReadOnlySpan<float> input, Span<float> output, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, int batch, int channels, int spatial, float eps)
    {
        CheckData(input.Length, output.Length, batch, channels, spatial, nameof(input), nameof(output));
        CheckAffine(gamma, beta, channels);
        ThrowHelper.CheckShape(runningMean.Length, nameof(runningMean), nameof(channels), channels);
        ThrowHelper.CheckShape(runningVar.Length, nameof(runningVar), nameof(channels), channels);
        CheckEps(eps);
        ThrowHelper.CheckSameOrDisjoint(input, output, nameof(input), nameof(output));
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y0 = ref MemoryMarshal.GetReference(output);
        nint plane = (nint)channels * spatial;
        for (int c = 0; c < channels; c++)
        {
            float scale = (float)((gamma.IsEmpty ? 1.0 : gamma[c]) / Math.Sqrt((double)runningVar[c] + eps)), shift = beta.IsEmpty ? 0f : beta[c];
            for (int b = 0; b < batch; b++)
            {
                nint at = b * plane + (nint)c * spatial;
                Normalize(ref Unsafe.Add(ref x0, at), ref Unsafe.Add(ref y0, at), (nuint)spatial, runningMean[c], scale, shift);
            }
        }
    }

    /// <summary>
    /// Evaluation-mode forward that keeps what <see cref="EvalBackward"/> needs: the output of <see cref="InferenceForward"/>
    /// (<c>y = γ·(x − runningMean)/√(runningVar + eps) + β</c>, bit for bit), and <paramref name="saveMean"/> =
    /// runningMean, <paramref name="saveInvStd"/> = <c>1/√(runningVar + eps)</c>. The running statistics are not changed.
    /// </summary>
    /// <param name="input">Input [batch, channels, spatial].</param>
    /// <param name="output">Output [batch, channels, spatial]; may be the same span as <paramref name="input"/>.</param>
    /// <param name="gamma">Scale [channels], or empty when not affine.</param>
    /// <param name="beta">Shift [channels], or empty when not affine.</param>
    /// <param name="runningMean">Running mean [channels].</param>
    /// <param name="runningVar">Running variance [channels].</param>
    /// <param name="saveMean">Receives runningMean [channels].</param>
    /// <param name="saveInvStd">Receives <c>1/√(runningVar + eps)</c> [channels].</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per channel per example.</param>
    /// <param name="eps">Added to the variance.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or eps is out of range.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or output partially overlaps input.</exception>
    public static void EvalForward(ReadOnlySpan<float> input, Span<float> output, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, Span<float> saveMean, Span<float> saveInvStd,
        int batch, int channels, int spatial, float eps)
    {
        ThrowHelper.CheckShape(saveMean.Length, nameof(saveMean), nameof(channels), channels);
        ThrowHelper.CheckShape(saveInvStd.Length, nameof(saveInvStd), nameof(channels), channels);
        InferenceForward(input, output, gamma, beta, runningMean, runningVar, batch, channels, spatial, eps);
        for (int c = 0; c < channels; c++)
        {
            saveMean[c] = runningMean[c];
            saveInvStd[c] = (float)(1.0 / Math.Sqrt((double)runningVar[c] + eps));
        }
    }

    /// <summary>
    /// Backward of <see cref="EvalForward"/> (the statistics are constants): <c>dInput = γ·r·dy</c> (overwritten),
    /// <c>dGamma += Σ dy·(x − saveMean)·r</c>, <c>dBeta += Σ dy</c>, with <c>r = saveInvStd</c>.
    /// </summary>
    /// <param name="dOutput">Gradient with respect to the output [batch, channels, spatial].</param>
    /// <param name="input">The forward input [batch, channels, spatial].</param>
    /// <param name="gamma">Scale [channels], or empty when not affine.</param>
    /// <param name="saveMean">The running mean [channels] <see cref="EvalForward"/> saved.</param>
    /// <param name="saveInvStd">The <c>1/√(runningVar + eps)</c> [channels] it saved.</param>
    /// <param name="dGamma">Scale gradient [channels], accumulated into; empty when not affine.</param>
    /// <param name="dBeta">Shift gradient [channels], accumulated into; empty when not affine.</param>
    /// <param name="dInput">Input gradient [batch, channels, spatial]; overwritten; may be the same span as <paramref name="dOutput"/>.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per channel per example.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or spans overlap.</exception>
    public static void EvalBackward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> saveMean, ReadOnlySpan<float> saveInvStd, Span<float> dGamma, Span<float> dBeta, Span<float> dInput,
        int batch, int channels, int spatial)
    {
        CheckBackward(dOutput, input, gamma, saveMean, saveInvStd, dGamma, dBeta, dInput, batch, channels, spatial);
        if ((long)batch * spatial == 0) return;

        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float dy0 = ref MemoryMarshal.GetReference(dOutput);
        ref float dx0 = ref MemoryMarshal.GetReference(dInput);
        nint plane = (nint)channels * spatial;
        for (int c = 0; c < channels; c++)
        {
            float mean = saveMean[c];
            double r = saveInvStd[c];
            nint off = (nint)c * spatial;
            if (!dGamma.IsEmpty || !dBeta.IsEmpty)
            {
                double s = 0, d = 0;   // S = Σ dy, D = Σ dy·(x − μ)
                for (int b = 0; b < batch; b++)
                {
                    ref float dy = ref Unsafe.Add(ref dy0, b * plane + off);
                    s += RowOps.Sum(ref dy, (nuint)spatial);
                    d += CenteredDot(ref dy, ref Unsafe.Add(ref x0, b * plane + off), (nuint)spatial, mean);
                }
                if (!dGamma.IsEmpty) dGamma[c] += (float)(r * d);
                if (!dBeta.IsEmpty) dBeta[c] += (float)s;
            }
            float a = (float)((gamma.IsEmpty ? 1.0 : gamma[c]) * r);
            for (int b = 0; b < batch; b++)
            {
                nint at = b * plane + off;
                RowOps.Scale(ref Unsafe.Add(ref dy0, at), ref Unsafe.Add(ref dx0, at), (nuint)spatial, a);
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="TrainForward"/> (gradients through the batch statistics):
    /// <c>dInput = γ·r·(dy − mean(dy) − x̂·mean(dy·x̂))</c> (overwritten), <c>dGamma += Σ dy·x̂</c>, <c>dBeta += Σ dy</c>,
    /// with <c>x̂ = (x − saveMean)·saveInvStd</c> and <c>r = saveInvStd</c>.
    /// </summary>
    /// <param name="dOutput">Gradient with respect to the output [batch, channels, spatial].</param>
    /// <param name="input">The forward input [batch, channels, spatial].</param>
    /// <param name="gamma">Scale [channels], or empty when not affine.</param>
    /// <param name="saveMean">The batch mean [channels] from <see cref="TrainForward"/>.</param>
    /// <param name="saveInvStd">The batch <c>1/√(σ² + eps)</c> [channels] from <see cref="TrainForward"/>.</param>
    /// <param name="dGamma">Scale gradient [channels], accumulated into; empty when not affine.</param>
    /// <param name="dBeta">Shift gradient [channels], accumulated into; empty when not affine.</param>
    /// <param name="dInput">Input gradient [batch, channels, spatial]; overwritten; may be the same span as <paramref name="dOutput"/>.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per channel per example.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or spans overlap.</exception>
    public static void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> saveMean, ReadOnlySpan<float> saveInvStd, Span<float> dGamma, Span<float> dBeta, Span<float> dInput,
        int batch, int channels, int spatial)
    {
        CheckBackward(dOutput, input, gamma, saveMean, saveInvStd, dGamma, dBeta, dInput, batch, channels, spatial);
        long n = (long)batch * spatial;
        if (n == 0) return;

        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float dy0 = ref MemoryMarshal.GetReference(dOutput);
        ref float dx0 = ref MemoryMarshal.GetReference(dInput);
        nint plane = (nint)channels * spatial;
        for (int c = 0; c < channels; c++)
        {
            float mean = saveMean[c];
            double r = saveInvStd[c];
            nint off = (nint)c * spatial;
            double s = 0, d = 0;   // S = Σ dy, D = Σ dy·(x − μ)
            for (int b = 0; b < batch; b++)
            {
                ref float dy = ref Unsafe.Add(ref dy0, b * plane + off);
                s += RowOps.Sum(ref dy, (nuint)spatial);
                d += CenteredDot(ref dy, ref Unsafe.Add(ref x0, b * plane + off), (nuint)spatial, mean);
            }
            if (!dGamma.IsEmpty) dGamma[c] += (float)(r * d);
            if (!dBeta.IsEmpty) dBeta[c] += (float)s;

            double a = (gamma.IsEmpty ? 1.0 : gamma[c]) * r;
            double bCoef = -a * r * r * d / n;
            double cCoef = -a * s / n;
            for (int b = 0; b < batch; b++)
            {
                nint at = b * plane + off;
                Combine(ref Unsafe.Add(ref dy0, at), ref Unsafe.Add(ref x0, at), ref Unsafe.Add(ref dx0, at), (nuint)spatial, (float)a, (float)bCoef, (float)cCoef, mean);
            }
        }
    }

    /// <summary>
    /// Folds an inference-mode BatchNorm into the layer before it: <c>weightOut[o, …] = weight[o, …]·s[o]</c> and
    /// <c>biasOut[o] = (bias[o] − runningMean[o])·s[o] + β[o]</c> with <c>s = γ/√(runningVar + eps)</c>.
    /// </summary>
    /// <param name="weight">Weight [outChannels, …] (conv [O, C/G, KH, KW] or dense [O, in]).</param>
    /// <param name="bias">Bias [outChannels], or empty (treated as 0).</param>
    /// <param name="gamma">BatchNorm scale [outChannels], or empty when not affine.</param>
    /// <param name="beta">BatchNorm shift [outChannels], or empty when not affine.</param>
    /// <param name="runningMean">Running mean [outChannels].</param>
    /// <param name="runningVar">Running variance [outChannels].</param>
    /// <param name="eps">The BatchNorm's eps.</param>
    /// <param name="weightOut">Folded weight, shaped as <paramref name="weight"/>; may be the same span as <paramref name="weight"/>.</param>
    /// <param name="biasOut">Folded bias [outChannels]; may be the same span as <paramref name="bias"/>.</param>
    /// <param name="outChannels">Output channels (features) of the folded layer.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="outChannels"/> is negative, or eps is out of range.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or outputs partially overlap inputs.</exception>
    public static void Fold(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, float eps, Span<float> weightOut, Span<float> biasOut, int outChannels)
    {
        ThrowHelper.CheckNonNegative(outChannels, nameof(outChannels));
        if (outChannels == 0 ? weight.Length != 0 : weight.Length % outChannels != 0)
            throw new ArgumentException($"'weight' must have a multiple of outChannels ({outChannels}) elements but has {weight.Length}.", nameof(weight));
        ThrowHelper.CheckLength(weightOut.Length, weight.Length, nameof(weightOut), "the length of weight");
        if (!bias.IsEmpty) ThrowHelper.CheckShape(bias.Length, nameof(bias), nameof(outChannels), outChannels, orEmpty: true);
        CheckAffine(gamma, beta, outChannels);
        ThrowHelper.CheckShape(runningMean.Length, nameof(runningMean), nameof(outChannels), outChannels);
        ThrowHelper.CheckShape(runningVar.Length, nameof(runningVar), nameof(outChannels), outChannels);
        ThrowHelper.CheckShape(biasOut.Length, nameof(biasOut), nameof(outChannels), outChannels);
        CheckEps(eps);
        ThrowHelper.CheckSameOrDisjoint(weight, weightOut, nameof(weight), nameof(weightOut));
        ThrowHelper.CheckSameOrDisjoint(bias, biasOut, nameof(bias), nameof(biasOut));
        if (outChannels == 0) return;
        int per = weight.Length / outChannels;
        ref float w = ref MemoryMarshal.GetReference(weight);
        ref float wOut = ref MemoryMarshal.GetReference(weightOut);
        for (int o = 0; o < outChannels; o++)
        {
            double s = (gamma.IsEmpty ? 1.0 : gamma[o]) / Math.Sqrt((double)runningVar[o] + eps);
            double b = bias.IsEmpty ? 0.0 : bias[o];
            biasOut[o] = (float)((b - runningMean[o]) * s + (beta.IsEmpty ? 0.0 : beta[o]));
            RowOps.Scale(ref Unsafe.Add(ref w, (nint)o * per), ref Unsafe.Add(ref wOut, (nint)o * per), (nuint)per, (float)s);
        }
    }

    // ------------------------------------------------------------------------------------------------ references

    /// <summary>Naive reference for <see cref="TrainForward"/>'s output, in double (running statistics not touched). For tests.</summary>
    public static void ReferenceTrainForward(ReadOnlySpan<double> input, Span<double> output, ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta,
        int batch, int channels, int spatial, double eps)
    {
        ThrowHelper.CheckLength(input.Length, batch * channels * spatial, nameof(input), "batch·channels·spatial");
        ThrowHelper.CheckLength(output.Length, input.Length, nameof(output), "the length of input");
        int n = batch * spatial;
        for (int c = 0; c < channels; c++)
        {
            double mean = 0, variance = 0;
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < spatial; i++) mean += input[(b * channels + c) * spatial + i];
            mean /= n;
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < spatial; i++)
                {
                    double dev = input[(b * channels + c) * spatial + i] - mean;
                    variance += dev * dev;
                }
            variance /= n;
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < spatial; i++)
                {
                    int at = (b * channels + c) * spatial + i;
                    output[at] = (input[at] - mean) / Math.Sqrt(variance + eps) * (gamma.IsEmpty ? 1 : gamma[c]) + (beta.IsEmpty ? 0 : beta[c]);
                }
        }
    }

    /// <summary>Naive reference for <see cref="InferenceForward"/> and <see cref="EvalForward"/>'s output, in double. For tests.</summary>
    public static void ReferenceInferenceForward(ReadOnlySpan<double> input, Span<double> output, ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta,
        ReadOnlySpan<double> runningMean, ReadOnlySpan<double> runningVar, int batch, int channels, int spatial, double eps)
    {
        ThrowHelper.CheckLength(input.Length, batch * channels * spatial, nameof(input), "batch·channels·spatial");
        ThrowHelper.CheckLength(output.Length, input.Length, nameof(output), "the length of input");
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < channels; c++)
                for (int i = 0; i < spatial; i++)
                {
                    int at = (b * channels + c) * spatial + i;
                    output[at] = (input[at] - runningMean[c]) / Math.Sqrt(runningVar[c] + eps) * (gamma.IsEmpty ? 1 : gamma[c]) + (beta.IsEmpty ? 0 : beta[c]);
                }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// <summary>The argument checks <see cref="Backward"/> and <see cref="EvalBackward"/> share (same parameters, same messages).</summary>
    private static void CheckBackward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> saveMean, ReadOnlySpan<float> saveInvStd, Span<float> dGamma, Span<float> dBeta, Span<float> dInput,
        int batch, int channels, int spatial)
    {
        CheckData(input.Length, dInput.Length, batch, channels, spatial, nameof(input), nameof(dInput));
        ThrowHelper.CheckShape(dOutput.Length, nameof(dOutput), nameof(batch), batch, nameof(channels), channels, nameof(spatial), spatial);
        if (!gamma.IsEmpty) ThrowHelper.CheckShape(gamma.Length, nameof(gamma), nameof(channels), channels, orEmpty: true);
        if (!dGamma.IsEmpty) ThrowHelper.CheckShape(dGamma.Length, nameof(dGamma), nameof(channels), channels, orEmpty: true);
        if (!dBeta.IsEmpty) ThrowHelper.CheckShape(dBeta.Length, nameof(dBeta), nameof(channels), channels, orEmpty: true);
        ThrowHelper.CheckShape(saveMean.Length, nameof(saveMean), nameof(channels), channels);
        ThrowHelper.CheckShape(saveInvStd.Length, nameof(saveInvStd), nameof(channels), channels);
        ThrowHelper.CheckSameOrDisjoint(dOutput, dInput, nameof(dOutput), nameof(dInput));
        ThrowHelper.CheckNoOverlap(input, dInput, nameof(input), nameof(dInput));
    }

    private static void CheckData(int inLength, int outLength, int batch, int channels, int spatial, string inName, string outName)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(channels, nameof(channels));
        ThrowHelper.CheckNonNegative(spatial, nameof(spatial));
        ThrowHelper.CheckShape(inLength, inName, nameof(batch), batch, nameof(channels), channels, nameof(spatial), spatial);
        ThrowHelper.CheckShape(outLength, outName, nameof(batch), batch, nameof(channels), channels, nameof(spatial), spatial);
    }

    private static void CheckAffine(ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int channels)
    {
        if (!gamma.IsEmpty) ThrowHelper.CheckShape(gamma.Length, nameof(gamma), nameof(channels), channels, orEmpty: true);
        if (!beta.IsEmpty) ThrowHelper.CheckShape(beta.Length, nameof(beta), nameof(channels), channels, orEmpty: true);
    }

    private static void CheckEps(float eps)
    {
        if (!(eps >= 0f) || float.IsInfinity(eps)) ThrowHelper.ThrowArgumentOutOfRange(nameof(eps), eps, "must be finite and zero or more");
    }

    /// <summary>Returns Σ d[i]² and sets <paramref name="sum"/> = Σ d[i], with d[i] = x[i] − shift.</summary>
    private static float Deviations(ref float x, nuint n, float shift, out float sum)
    {
        nuint i = 0;
        float squares = 0f;
        sum = 0f;
        if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            Vector256<float> s1 = Vector256<float>.Zero, s2 = Vector256<float>.Zero, m = Vector256.Create(shift);
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
            {
                Vector256<float> d = Vector256.LoadUnsafe(ref x, i) - m;
                s1 += d;
                s2 = Vector256.MultiplyAddEstimate(d, d, s2);
            }
            sum = Vector256.Sum(s1);
            squares = Vector256.Sum(s2);
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            Vector128<float> s1 = Vector128<float>.Zero, s2 = Vector128<float>.Zero, m = Vector128.Create(shift);
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
            {
                Vector128<float> d = Vector128.LoadUnsafe(ref x, i) - m;
                s1 += d;
                s2 = Vector128.MultiplyAddEstimate(d, d, s2);
            }
            sum = Vector128.Sum(s1);
            squares = Vector128.Sum(s2);
        }
        for (; i < n; i++)
        {
            float d = Unsafe.Add(ref x, i) - shift;
            sum += d;
            squares += d * d;
        }
        return squares;
    }

    /// <summary>Σ dy[i]·(x[i] − mean).</summary>
    private static float CenteredDot(ref float dy, ref float x, nuint n, float mean)
    {
        nuint i = 0;
        float sum = 0f;
        if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            Vector256<float> acc = Vector256<float>.Zero, m = Vector256.Create(mean);
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                acc = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref dy, i), Vector256.LoadUnsafe(ref x, i) - m, acc);
            sum = Vector256.Sum(acc);
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            Vector128<float> acc = Vector128<float>.Zero, m = Vector128.Create(mean);
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                acc = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref dy, i), Vector128.LoadUnsafe(ref x, i) - m, acc);
            sum = Vector128.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref dy, i) * (Unsafe.Add(ref x, i) - mean);
        return sum;
    }

    /// <summary>y[i] = (x[i] − mean)·scale + shift (x and y may alias).</summary>
    private static void Normalize(ref float x, ref float y, nuint n, float mean, float scale, float shift)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> m = Vector256.Create(mean), s = Vector256.Create(scale), t = Vector256.Create(shift);
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, i) - m, s, t).StoreUnsafe(ref y, i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> m = Vector128.Create(mean), s = Vector128.Create(scale), t = Vector128.Create(shift);
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref x, i) - m, s, t).StoreUnsafe(ref y, i);
        }
        for (; i < n; i++) Unsafe.Add(ref y, i) = float.MultiplyAddEstimate(Unsafe.Add(ref x, i) - mean, scale, shift);
    }

    /// <summary>dx[i] = a·dy[i] + b·(x[i] − mean) + c (dx may alias dy).</summary>
    private static void Combine(ref float dy, ref float x, ref float dx, nuint n, float a, float b, float c, float mean)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> va = Vector256.Create(a), vb = Vector256.Create(b), vc = Vector256.Create(c), vm = Vector256.Create(mean);
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref dy, i), va,
                    Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref x, i) - vm, vb, vc)).StoreUnsafe(ref dx, i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> va = Vector128.Create(a), vb = Vector128.Create(b), vc = Vector128.Create(c), vm = Vector128.Create(mean);
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref dy, i), va,
                    Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref x, i) - vm, vb, vc)).StoreUnsafe(ref dx, i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref dx, i) = float.MultiplyAddEstimate(Unsafe.Add(ref dy, i), a, float.MultiplyAddEstimate(Unsafe.Add(ref x, i) - mean, b, c));
    }
}
