// Group normalisation over x[batch, channels, spatial] (PyTorch nn.GroupNorm(G, C)), and instance normalisation as its
// G = C case (nn.InstanceNorm1d/2d: F.instance_norm computes the same per-(example, channel) statistics):
//   the channels split into G groups of C/G consecutive channels; per example n and group g, over the m = (C/G)·spatial
//   values of the group (contiguous in memory):
//   μ = mean, σ² = biased variance, rstd = 1/√(σ² + eps),  y = (x − μ)·rstd·weight[c] + bias[c]  (weight/bias per channel).
// Forward stores μ and rstd per (n, g) for backward (llm.c's layernorm_forward does the same per row).
// Statistics are the corrected two-pass algorithm (as LayerNormKernels and BatchNormKernels): a float first mean m₀,
// then Σd and Σd² with d = x − m₀ in double, μ = m₀ + Σd/m, σ² = (Σd² − (Σd)²/m)/m. Normalisation is centred on m₀:
// y = (x − m₀)·s_c + t_c with s_c = rstd·weight[c], t_c = bias[c] − (μ − m₀)·s_c, so |μ| ≫ σ keeps its digits.
// Instance normalisation with track_running_stats (PyTorch, training): running_mean ← (1 − m)·running_mean + m·mean_n(μ_nc),
//   running_var ← (1 − m)·running_var + m·mean_n(σ²_nc·spatial/(spatial − 1)) (unbiased per instance, averaged over
//   the batch: torch runs batch_norm on the [1, N·C, spatial] view and averages the N copies of the running statistics).
//   At inference such a layer uses the running statistics: BatchNormKernels.InferenceForward is exactly that formula.
// Backward (derivation, per group; x̂ = (x − μ)·rstd, g = dy·weight[c]):
//   dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) = A_c·dy + B·(x − μ) + C,  A_c = rstd·weight[c],  B = −rstd·mean(g·x̂)·rstd,
//   C = −rstd·mean(g);   dweight[c] += Σ_{n,s} dy·x̂,  dbias[c] += Σ_{n,s} dy.
//   Per channel run: S_c = Σ dy and D_c = Σ dy·(x − μ) (one vector pass), then mean(g) = Σ_c weight[c]·S_c / m and
//   mean(g·x̂) = rstd·Σ_c weight[c]·D_c / m; a second pass writes dx.
// Every loop is written once over ISimdOps and runs 512 → 256 → 128 → scalar over each contiguous channel run.
// Naive double references (Reference*) stay in this file: tests compare the fast paths with them.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen.Kernels;

/// <summary>Group normalisation (PyTorch <c>nn.GroupNorm</c>) and instance normalisation (<c>nn.InstanceNorm1d/2d</c>), forward and backward.</summary>
/// <remarks>Results may differ in the last bits between vector widths (fused multiply-add, lane order).</remarks>
public static class GroupNormKernels
{
    /// <summary>
    /// Effectively computes <c>output[n, c, s] = (input[n, c, s] − μ_ng)/√(σ²_ng + eps)·weight[c] + bias[c]</c>, with
    /// <c>μ_ng</c> and the biased variance <c>σ²_ng</c> of the values of group <c>g = c / (channels / groups)</c> of
    /// example n, and stores <c>μ_ng</c> and <c>1/√(σ²_ng + eps)</c>.
    /// </summary>
    /// <param name="input">Input [batch, channels, spatial].</param>
    /// <param name="weight">Scale [channels] (PyTorch <c>weight</c>), or empty when not affine (1).</param>
    /// <param name="bias">Shift [channels] (PyTorch <c>bias</c>), or empty when not affine (0).</param>
    /// <param name="output">Output [batch, channels, spatial]; may be the same span as <paramref name="input"/>.</param>
    /// <param name="mean">Receives μ [batch, groups] for backward, or empty (inference).</param>
    /// <param name="rstd">Receives <c>1/√(σ² + eps)</c> [batch, groups] for backward, or empty (inference).</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels (PyTorch <c>num_channels</c>).</param>
    /// <param name="spatial">Elements per channel per example (L, H·W, or 1 for [C] examples).</param>
    /// <param name="groups">Groups (PyTorch <c>num_groups</c>); divides <paramref name="channels"/>. <paramref name="channels"/> for instance normalisation.</param>
    /// <param name="eps">Added to the variance (PyTorch default 1e-5).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, <paramref name="groups"/> is not positive or does not divide <paramref name="channels"/>, <paramref name="spatial"/> is 0, or eps is negative or not finite.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, output partially overlaps input, or mean/rstd overlap input or output.</exception>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output,
        Span<float> mean, Span<float> rstd, int batch, int channels, int spatial, int groups, float eps)
        => ForwardCore(input, weight, bias, output, mean, rstd, default, default, batch, channels, spatial, groups, eps, 0f);

    /// <summary>
    /// Instance normalisation in training with running statistics (PyTorch <c>nn.InstanceNorm1d/2d(track_running_stats=True)</c>):
    /// <see cref="Forward"/> with <c>groups = channels</c>, and the running statistics updated in place:
    /// <c>runningMean[c] ← (1 − momentum)·runningMean[c] + momentum·mean_n(μ_nc)</c>,
    /// <c>runningVar[c] ← (1 − momentum)·runningVar[c] + momentum·mean_n(σ²_nc·spatial/(spatial − 1))</c>.
    /// </summary>
    /// <param name="input">Input [batch, channels, spatial].</param>
    /// <param name="weight">Scale [channels], or empty when not affine.</param>
    /// <param name="bias">Shift [channels], or empty when not affine.</param>
    /// <param name="output">Output [batch, channels, spatial]; may be the same span as <paramref name="input"/>.</param>
    /// <param name="mean">Receives μ [batch, channels] for backward, or empty.</param>
    /// <param name="rstd">Receives <c>1/√(σ² + eps)</c> [batch, channels] for backward, or empty.</param>
    /// <param name="runningMean">Running mean [channels]; updated.</param>
    /// <param name="runningVar">Running variance [channels]; updated.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per channel per example; at least 2 (an unbiased variance of one value does not exist).</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="momentum">Running-statistics momentum (PyTorch default 0.1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, <paramref name="spatial"/> is less than 2, eps is negative or not finite, or momentum is outside [0, 1].</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or spans overlap.</exception>
    public static void InstanceTrainForward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output,
        Span<float> mean, Span<float> rstd, Span<float> runningMean, Span<float> runningVar, int batch, int channels, int spatial, float eps, float momentum)
    {
        ThrowHelper.CheckNonNegative(channels, nameof(channels));
        ThrowHelper.CheckShape(runningMean.Length, nameof(runningMean), nameof(channels), channels);
        ThrowHelper.CheckShape(runningVar.Length, nameof(runningVar), nameof(channels), channels);
        if (spatial < 2) ThrowHelper.ThrowArgumentOutOfRange(nameof(spatial), spatial, "must be at least 2 to track running statistics (PyTorch: more than 1 spatial element when training)");
        if (!(momentum >= 0f && momentum <= 1f)) ThrowHelper.ThrowArgumentOutOfRange(nameof(momentum), momentum, "must be between 0 and 1");
        ThrowHelper.CheckNoOverlap(input, runningMean, nameof(input), nameof(runningMean));
        ThrowHelper.CheckNoOverlap(output, runningMean, nameof(output), nameof(runningMean));
        ThrowHelper.CheckNoOverlap(input, runningVar, nameof(input), nameof(runningVar));
        ThrowHelper.CheckNoOverlap(output, runningVar, nameof(output), nameof(runningVar));
        ThrowHelper.CheckNoOverlap(runningMean, runningVar, nameof(runningMean), nameof(runningVar));
        ForwardCore(input, weight, bias, output, mean, rstd, runningMean, runningVar, batch, channels, spatial, channels, eps, momentum);
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: with <c>x̂ = (input − mean)·rstd</c> and <c>g = dOutput·weight[c]</c> per group,
    /// <c>dInput = rstd·(g − mean(g) − x̂·mean(g·x̂))</c> (overwritten), <c>dWeight[c] += Σ dOutput·x̂</c>,
    /// <c>dBias[c] += Σ dOutput</c> (sums over the batch and the channel's elements).
    /// </summary>
    /// <param name="dOutput">Gradient with respect to the output [batch, channels, spatial].</param>
    /// <param name="input">The forward input [batch, channels, spatial].</param>
    /// <param name="weight">Scale [channels], or empty when not affine.</param>
    /// <param name="mean">μ [batch, groups] from <see cref="Forward"/>.</param>
    /// <param name="rstd"><c>1/√(σ² + eps)</c> [batch, groups] from <see cref="Forward"/>.</param>
    /// <param name="dInput">Input gradient [batch, channels, spatial], overwritten; may be the same span as <paramref name="dOutput"/>; empty when not needed.</param>
    /// <param name="dWeight">Scale gradient [channels], accumulated into; empty when not affine.</param>
    /// <param name="dBias">Shift gradient [channels], accumulated into; empty when not affine.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="spatial">Elements per channel per example.</param>
    /// <param name="groups">Groups; divides <paramref name="channels"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, <paramref name="groups"/> is not positive or does not divide <paramref name="channels"/>, or <paramref name="spatial"/> is 0.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or an output span overlaps another operand (dInput may only coincide with dOutput).</exception>
    public static void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dInput, Span<float> dWeight, Span<float> dBias,
        int batch, int channels, int spatial, int groups)
    {
        CheckShape(input.Length, batch, channels, spatial, groups, nameof(input));
        ThrowHelper.CheckShape(dOutput.Length, nameof(dOutput), nameof(batch), batch, nameof(channels), channels, nameof(spatial), spatial);
        if (!dInput.IsEmpty) ThrowHelper.CheckShape(dInput.Length, nameof(dInput), nameof(batch), batch, nameof(channels), channels, nameof(spatial), spatial);
        CheckOptional(weight.Length, channels, nameof(weight));
        CheckOptional(dWeight.Length, channels, nameof(dWeight));
        CheckOptional(dBias.Length, channels, nameof(dBias));
        ThrowHelper.CheckShape(mean.Length, nameof(mean), nameof(batch), batch, nameof(groups), groups);
        ThrowHelper.CheckShape(rstd.Length, nameof(rstd), nameof(batch), batch, nameof(groups), groups);
        ThrowHelper.CheckSameOrDisjoint(dOutput, dInput, nameof(dOutput), nameof(dInput));
        ThrowHelper.CheckNoOverlap(input, dInput, nameof(input), nameof(dInput));
        ThrowHelper.CheckNoOverlap(dWeight, dOutput, nameof(dOutput), nameof(dWeight));
        ThrowHelper.CheckNoOverlap(dBias, dOutput, nameof(dOutput), nameof(dBias));
        ThrowHelper.CheckNoOverlap(dWeight, dInput, nameof(dInput), nameof(dWeight));
        ThrowHelper.CheckNoOverlap(dBias, dInput, nameof(dInput), nameof(dBias));
        ThrowHelper.CheckNoOverlap(dWeight, dBias, nameof(dWeight), nameof(dBias));
        if (batch == 0 || channels == 0) return;

        ref float dy0 = ref MemoryMarshal.GetReference(dOutput);
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float dx0 = ref MemoryMarshal.GetReference(dInput);
        bool hasWeight = !weight.IsEmpty, hasDInput = !dInput.IsEmpty;
        int per = channels / groups;
        double m = (double)per * spatial;
        for (int n = 0; n < batch; n++)
        {
            for (int g = 0; g < groups; g++)
            {
                float mu = mean[n * groups + g];
                double r = rstd[n * groups + g];
                // Pass 1: S_c = Σ dy, D_c = Σ dy·(x − μ) per channel; parameter gradients; the group's Σg and Σg·(x − μ).
                double sumG = 0, sumGD = 0;
                for (int k = 0; k < per; k++)
                {
                    int c = g * per + k;
                    nint at = ((nint)n * channels + c) * spatial;
                    var (s, d) = Sums(ref Unsafe.Add(ref dy0, at), ref Unsafe.Add(ref x0, at), mu, spatial);
                    if (!dWeight.IsEmpty) dWeight[c] += (float)(r * d);
                    if (!dBias.IsEmpty) dBias[c] += (float)s;
                    double gamma = hasWeight ? weight[c] : 1.0;
                    sumG += gamma * s;
                    sumGD += gamma * d;
                }
                if (!hasDInput) continue;
                // Pass 2: dx = A_c·dy + B·(x − μ) + C (the group's sums are complete, so dx may alias dy).
                float b = (float)(-r * r * r * sumGD / m), cc = (float)(-r * sumG / m);
                for (int k = 0; k < per; k++)
                {
                    int c = g * per + k;
                    nint at = ((nint)n * channels + c) * spatial;
                    float a = (float)(r * (hasWeight ? weight[c] : 1.0));
                    Combine(ref Unsafe.Add(ref dy0, at), ref Unsafe.Add(ref x0, at), ref Unsafe.Add(ref dx0, at), a, b, cc, mu, spatial);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ references

    /// <summary>Naive reference for <see cref="Forward"/> in double (two-pass statistics). <paramref name="mean"/>/<paramref name="rstd"/> may be empty. For tests.</summary>
    public static void ReferenceForward(ReadOnlySpan<double> input, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias, Span<double> output,
        Span<double> mean, Span<double> rstd, int batch, int channels, int spatial, int groups, double eps)
    {
        int per = channels / groups, m = per * spatial;
        for (int n = 0; n < batch; n++)
            for (int g = 0; g < groups; g++)
            {
                int start = (n * channels + g * per) * spatial;
                double mu = 0, variance = 0;
                for (int i = 0; i < m; i++) mu += input[start + i];
                mu /= m;
                for (int i = 0; i < m; i++) variance += (input[start + i] - mu) * (input[start + i] - mu);
                variance /= m;
                double inv = 1.0 / Math.Sqrt(variance + eps);
                if (!mean.IsEmpty) mean[n * groups + g] = mu;
                if (!rstd.IsEmpty) rstd[n * groups + g] = inv;
                for (int i = 0; i < m; i++)
                {
                    int c = g * per + i / spatial;
                    output[start + i] = (input[start + i] - mu) * inv * (weight.IsEmpty ? 1 : weight[c]) + (bias.IsEmpty ? 0 : bias[c]);
                }
            }
    }

    /// <summary>Naive reference for <see cref="Backward"/> in double, recomputing the statistics from <paramref name="input"/>. For tests.</summary>
    public static void ReferenceBackward(ReadOnlySpan<double> dOutput, ReadOnlySpan<double> input, ReadOnlySpan<double> weight,
        Span<double> dInput, Span<double> dWeight, Span<double> dBias, int batch, int channels, int spatial, int groups, double eps)
    {
        int per = channels / groups, m = per * spatial;
        var xhat = new double[m];
        for (int n = 0; n < batch; n++)
            for (int g = 0; g < groups; g++)
            {
                int start = (n * channels + g * per) * spatial;
                double mu = 0, variance = 0;
                for (int i = 0; i < m; i++) mu += input[start + i];
                mu /= m;
                for (int i = 0; i < m; i++) variance += (input[start + i] - mu) * (input[start + i] - mu);
                variance /= m;
                double inv = 1.0 / Math.Sqrt(variance + eps), meanG = 0, meanGX = 0;
                for (int i = 0; i < m; i++)
                {
                    int c = g * per + i / spatial;
                    xhat[i] = (input[start + i] - mu) * inv;
                    double gi = dOutput[start + i] * (weight.IsEmpty ? 1 : weight[c]);
                    meanG += gi / m;
                    meanGX += gi * xhat[i] / m;
                    if (!dWeight.IsEmpty) dWeight[c] += dOutput[start + i] * xhat[i];
                    if (!dBias.IsEmpty) dBias[c] += dOutput[start + i];
                }
                if (dInput.IsEmpty) continue;
                for (int i = 0; i < m; i++)
                {
                    int c = g * per + i / spatial;
                    dInput[start + i] = inv * (dOutput[start + i] * (weight.IsEmpty ? 1 : weight[c]) - meanG - xhat[i] * meanGX);
                }
            }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static void ForwardCore(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output,
        Span<float> mean, Span<float> rstd, Span<float> runningMean, Span<float> runningVar, int batch, int channels, int spatial, int groups, float eps, float momentum)
    {
        CheckShape(input.Length, batch, channels, spatial, groups, nameof(input));
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(channels), channels, nameof(spatial), spatial);
        CheckOptional(weight.Length, channels, nameof(weight));
        CheckOptional(bias.Length, channels, nameof(bias));
        if (!mean.IsEmpty) ThrowHelper.CheckShape(mean.Length, nameof(mean), nameof(batch), batch, nameof(groups), groups, orEmpty: true);
        if (!rstd.IsEmpty) ThrowHelper.CheckShape(rstd.Length, nameof(rstd), nameof(batch), batch, nameof(groups), groups, orEmpty: true);
        if (!(eps >= 0f) || float.IsInfinity(eps)) ThrowHelper.ThrowArgumentOutOfRange(nameof(eps), eps, "must be finite and zero or more");
        ThrowHelper.CheckSameOrDisjoint(input, output, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(input, mean, nameof(input), nameof(mean));
        ThrowHelper.CheckNoOverlap(output, mean, nameof(output), nameof(mean));
        ThrowHelper.CheckNoOverlap(input, rstd, nameof(input), nameof(rstd));
        ThrowHelper.CheckNoOverlap(output, rstd, nameof(output), nameof(rstd));
        if (batch == 0 || channels == 0) return;

        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y0 = ref MemoryMarshal.GetReference(output);
        bool tracking = !runningMean.IsEmpty;
        int per = channels / groups;
        int m = per * spatial;
        // Groups outer, examples inner: with running statistics (groups = channels) each channel's update sums in double.
        for (int g = 0; g < groups; g++)
        {
            double meanSum = 0, varianceSum = 0;
            for (int n = 0; n < batch; n++)
            {
                nint start = ((nint)n * channels + (nint)g * per) * spatial;
                ref float x = ref Unsafe.Add(ref x0, start);   // [per, spatial], contiguous
                float m0 = RowOps.Sum(ref x, (nuint)m) / m;
                var (sumD, sumD2) = Deviations(ref x, m0, m);
                double mu = m0 + sumD / m;
                double variance = Math.Max(0, (sumD2 - sumD * sumD / m) / m);
                double inv = 1.0 / Math.Sqrt(variance + eps);
                if (!mean.IsEmpty) mean[n * groups + g] = (float)mu;
                if (!rstd.IsEmpty) rstd[n * groups + g] = (float)inv;
                meanSum += mu;
                varianceSum += variance;
                for (int k = 0; k < per; k++)
                {
                    int c = g * per + k;
                    double scale = inv * (weight.IsEmpty ? 1.0 : weight[c]);
                    double shift = (bias.IsEmpty ? 0.0 : bias[c]) - (mu - m0) * scale;
                    nint at = start + (nint)k * spatial;
                    Normalize(ref Unsafe.Add(ref x0, at), ref Unsafe.Add(ref y0, at), m0, (float)scale, (float)shift, spatial);
                }
            }
            if (tracking)
            {
                // groups = channels here: group g is channel g. The unbiased per-instance variance, averaged over the batch.
                runningMean[g] = (float)((1.0 - momentum) * runningMean[g] + momentum * meanSum / batch);
                runningVar[g] = (float)((1.0 - momentum) * runningVar[g] + momentum * varianceSum / batch * spatial / (spatial - 1));
            }
        }
    }

    private static void CheckShape(int length, int batch, int channels, int spatial, int groups, string name)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(channels, nameof(channels));
        ThrowHelper.CheckNonNegative(spatial, nameof(spatial));
        if (groups <= 0 || channels % groups != 0)
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"'groups' must be positive and divide channels ({channels}) but is {groups}.");
        if (spatial == 0 && batch > 0 && channels > 0)
            throw new ArgumentOutOfRangeException(nameof(spatial), spatial, $"'spatial' must be at least 1 to normalise {batch}·{channels} channels but is 0.");
        ThrowHelper.CheckShape(length, name, nameof(batch), batch, nameof(channels), channels, nameof(spatial), spatial);
    }

    private static void CheckOptional(int length, int channels, string name)
    {
        if (length != 0) ThrowHelper.CheckShape(length, name, nameof(channels), channels, orEmpty: true);
    }

    /// <summary>(Σ d, Σ d²) over x[0..n) with d = x − shift; vector lanes in float, runs and tail in double.</summary>
    private static (double Sum, double Squares) Deviations(ref float x, float shift, int n)
    {
        int i = 0;
        double sum = 0, squares = 0;
        if (V512.IsAccelerated) Deviations<Vector512<float>, V512>(ref x, shift, ref i, n, ref sum, ref squares);
        if (V256.IsAccelerated) Deviations<Vector256<float>, V256>(ref x, shift, ref i, n, ref sum, ref squares);
        if (V128.IsAccelerated) Deviations<Vector128<float>, V128>(ref x, shift, ref i, n, ref sum, ref squares);
        for (; i < n; i++)
        {
            double d = Unsafe.Add(ref x, i) - shift;
            sum += d;
            squares += d * d;
        }
        return (sum, squares);
    }

    private static void Deviations<TV, TOps>(ref float x, float shift, ref int i, int n, ref double sum, ref double squares)
        where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return;
        TV m = TOps.Create(shift), s1 = TOps.Create(0f), s2 = TOps.Create(0f);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV d = TOps.Subtract(TOps.Load(ref x, (nuint)i), m);
            s1 = TOps.Add(s1, d);
            s2 = TOps.MultiplyAdd(d, d, s2);
        }
        sum += TOps.Sum(s1);
        squares += TOps.Sum(s2);
    }

    /// <summary>y = (x − m₀)·scale + shift over [0..n) (x and y may alias).</summary>
    private static void Normalize(ref float x, ref float y, float m0, float scale, float shift, int n)
    {
        int i = 0;
        if (V512.IsAccelerated) i = Normalize<Vector512<float>, V512>(ref x, ref y, m0, scale, shift, i, n);
        if (V256.IsAccelerated) i = Normalize<Vector256<float>, V256>(ref x, ref y, m0, scale, shift, i, n);
        if (V128.IsAccelerated) i = Normalize<Vector128<float>, V128>(ref x, ref y, m0, scale, shift, i, n);
        Normalize<float, Scalar>(ref x, ref y, m0, scale, shift, i, n);
    }

    private static int Normalize<TV, TOps>(ref float x, ref float y, float m0, float scale, float shift, int i, int n)
        where TV : struct where TOps : ISimdOps<TV>
    {
        TV m = TOps.Create(m0), s = TOps.Create(scale), t = TOps.Create(shift);
        for (; i <= n - TOps.Count; i += TOps.Count)
            TOps.Store(TOps.MultiplyAdd(TOps.Subtract(TOps.Load(ref x, (nuint)i), m), s, t), ref y, (nuint)i);
        return i;
    }

    /// <summary>(Σ dy, Σ dy·(x − mean)) over [0..n); vector lanes in float, runs and tail in double.</summary>
    private static (double S, double D) Sums(ref float dy, ref float x, float mean, int n)
    {
        int i = 0;
        double s = 0, d = 0;
        if (V512.IsAccelerated) Sums<Vector512<float>, V512>(ref dy, ref x, mean, ref i, n, ref s, ref d);
        if (V256.IsAccelerated) Sums<Vector256<float>, V256>(ref dy, ref x, mean, ref i, n, ref s, ref d);
        if (V128.IsAccelerated) Sums<Vector128<float>, V128>(ref dy, ref x, mean, ref i, n, ref s, ref d);
        for (; i < n; i++)
        {
            double g = Unsafe.Add(ref dy, i);
            s += g;
            d += g * (Unsafe.Add(ref x, i) - mean);
        }
        return (s, d);
    }

    private static void Sums<TV, TOps>(ref float dy, ref float x, float mean, ref int i, int n, ref double s, ref double d)
        where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return;
        TV m = TOps.Create(mean), accS = TOps.Create(0f), accD = TOps.Create(0f);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV g = TOps.Load(ref dy, (nuint)i);
            accS = TOps.Add(accS, g);
            accD = TOps.MultiplyAdd(g, TOps.Subtract(TOps.Load(ref x, (nuint)i), m), accD);
        }
        s += TOps.Sum(accS);
        d += TOps.Sum(accD);
    }

    /// <summary>dx = a·dy + b·(x − mean) + c over [0..n) (dx may alias dy).</summary>
    private static void Combine(ref float dy, ref float x, ref float dx, float a, float b, float c, float mean, int n)
    {
        int i = 0;
        if (V512.IsAccelerated) i = Combine<Vector512<float>, V512>(ref dy, ref x, ref dx, a, b, c, mean, i, n);
        if (V256.IsAccelerated) i = Combine<Vector256<float>, V256>(ref dy, ref x, ref dx, a, b, c, mean, i, n);
        if (V128.IsAccelerated) i = Combine<Vector128<float>, V128>(ref dy, ref x, ref dx, a, b, c, mean, i, n);
        Combine<float, Scalar>(ref dy, ref x, ref dx, a, b, c, mean, i, n);
    }

    private static int Combine<TV, TOps>(ref float dy, ref float x, ref float dx, float a, float b, float c, float mean, int i, int n)
        where TV : struct where TOps : ISimdOps<TV>
    {
        TV va = TOps.Create(a), vb = TOps.Create(b), vc = TOps.Create(c), vm = TOps.Create(mean);
        for (; i <= n - TOps.Count; i += TOps.Count)
            TOps.Store(TOps.MultiplyAdd(TOps.Load(ref dy, (nuint)i), va, TOps.MultiplyAdd(TOps.Subtract(TOps.Load(ref x, (nuint)i), vm), vb, vc)), ref dx, (nuint)i);
        return i;
    }
}
