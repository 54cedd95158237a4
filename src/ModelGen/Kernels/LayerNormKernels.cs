// Layer normalisation over the last axis of x[rows, features] (PyTorch nn.LayerNorm(features), biased variance):
//   μ = mean(x[r, :]),  σ² = mean((x[r, :] − μ)²),  rstd = 1/√(σ² + eps),  y = (x − μ)·rstd·weight + bias.
// Forward stores μ and rstd per row for backward, as llm.c's layernorm_forward does (empty spans at inference).
// Statistics are the corrected two-pass algorithm (as BatchNormKernels): a float first mean m₀, then Σd and Σd² with
// d = x − m₀, giving μ = m₀ + Σd/n and σ² = (Σd² − (Σd)²/n)/n in double. Normalisation is centred on the float m₀
// (x − m₀ is exact for x near m₀) with the small correction c = (μ − m₀)·rstd applied afterwards:
// y = ((x − m₀)·rstd − c)·weight + bias, so rows with |μ| ≫ σ keep their digits.
// Backward (llm.c layernorm_backward; derivation): with x̂ = (x − μ)·rstd and g = dy·weight,
//   dx = rstd·(g − mean(g) − x̂·mean(g·x̂))   (overwritten),   dweight += Σ_rows dy·x̂,   dbias += Σ_rows dy.
// Each row is two vector passes in backward (the sums, then dx), with the weight/bias gradients accumulated in the
// first. Every loop is written once over ISimdOps and runs 512 → 256 → 128 → scalar, so odd widths hit every tier.
// Naive double references (Reference*) stay in this file: tests compare the fast paths with them.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen.Kernels;

/// <summary>Layer normalisation over the last axis (PyTorch <c>nn.LayerNorm</c>), forward and backward.</summary>
/// <remarks>Results may differ in the last bits between vector widths (fused multiply-add, lane order).</remarks>
public static class LayerNormKernels
{
    /// <summary>
    /// Effectively computes <c>output[r, j] = (input[r, j] − μ_r)/√(σ²_r + eps)·weight[j] + bias[j]</c> with
    /// <c>μ_r</c> and the biased variance <c>σ²_r</c> of row r, and stores <c>μ_r</c> and <c>1/√(σ²_r + eps)</c>.
    /// </summary>
    /// <param name="input">Input [rows, features].</param>
    /// <param name="weight">Scale [features] (PyTorch <c>weight</c>), or empty when not affine (1).</param>
    /// <param name="bias">Shift [features] (PyTorch <c>bias</c>), or empty when not affine or <c>bias=False</c> (0).</param>
    /// <param name="output">Output [rows, features]; may be the same span as <paramref name="input"/>.</param>
    /// <param name="mean">Receives μ [rows] for backward, or empty (inference).</param>
    /// <param name="rstd">Receives <c>1/√(σ² + eps)</c> [rows] for backward, or empty (inference).</param>
    /// <param name="rows">Number of rows (batch, or batch·seq for a sequence).</param>
    /// <param name="features">Normalised size (PyTorch <c>normalized_shape</c>, one dimension).</param>
    /// <param name="eps">Added to the variance (PyTorch default 1e-5).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, <paramref name="features"/> is 0 while rows is not, or eps is negative or not finite.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, output partially overlaps input, or mean/rstd overlap input or output.</exception>
    public static unsafe void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output,
        Span<float> mean, Span<float> rstd, int rows, int features, float eps)
    {
        CheckRows(input.Length, rows, features, nameof(input));
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(rows), rows, nameof(features), features);
        CheckOptional(weight.Length, features, nameof(weight), nameof(features));
        CheckOptional(bias.Length, features, nameof(bias), nameof(features));
        CheckOptional(mean.Length, rows, nameof(mean), nameof(rows));
        CheckOptional(rstd.Length, rows, nameof(rstd), nameof(rows));
        if (!(eps >= 0f) || float.IsInfinity(eps)) ThrowHelper.ThrowArgumentOutOfRange(nameof(eps), eps, "must be finite and zero or more");
        ThrowHelper.CheckSameOrDisjoint(input, output, nameof(input), nameof(output));
        CheckStatistics(mean, input, output, nameof(mean));
        CheckStatistics(rstd, input, output, nameof(rstd));

        if (rows == 0) return;
        fixed (float* x = input, y = output, w = weight, b = bias, mu = mean, rs = rstd)
        {
            // Rows are independent, so any split between threads gives the same bits.
            ParallelRange.Run(new ForwardRows(x, y, w, b, mu, rs, features, eps, !weight.IsEmpty, !bias.IsEmpty), rows, 1, 2L * features);
        }
    }

    /// <summary>Forward over rows [start, end) (mean and rstd may be null).</summary>
    private readonly unsafe struct ForwardRows(float* x0, float* y0, float* w, float* b, float* mean, float* rstd, int n, float eps, bool hasWeight, bool hasBias)
        : IRangeOp
    {
        // Rows in blocks: first every row's statistics, then every row's normalisation. A row's statistics are a chain of
        // dependent steps (sum, its horizontal reduction, the deviations', double division and square root) that one row
        // at a time leaves latency-bound; a block's rows are independent, so their chains overlap (64×128 on Zen 4:
        // 0.77× the CPU time in a paired A/B, bit for bit the same operations).
        private const int Block = 16;

        public void Run(int start, int end)
        {
            Span<float> stats = stackalloc float[3 * Block];   // per row of the block: m₀, rstd, c
            for (int r0 = start; r0 < end; r0 += Block)
            {
                int count = Math.Min(Block, end - r0);
                for (int k = 0; k < count; k++)
                {
                    int r = r0 + k;
                    ref float x = ref x0[(nint)r * n];   // [features]
                    float m0 = RowOps.Sum(ref x, (nuint)n) / n;
                    double sumD = 0, sumD2 = 0;
                    int i = 0;
                    if (V512.IsAccelerated) Deviations<Vector512<float>, V512>(ref x, m0, ref i, n, ref sumD, ref sumD2);
                    if (V256.IsAccelerated) Deviations<Vector256<float>, V256>(ref x, m0, ref i, n, ref sumD, ref sumD2);
                    if (V128.IsAccelerated) Deviations<Vector128<float>, V128>(ref x, m0, ref i, n, ref sumD, ref sumD2);
                    for (; i < n; i++)
                    {
                        // The tail (and the whole row without SIMD) accumulates in double: one float accumulator over a long
                        // row would drift to ~1e-6 relative, where the vector lanes each see only n/lanes terms.
                        double d = Unsafe.Add(ref x, i) - m0;
                        sumD += d;
                        sumD2 += d * d;
                    }
                    double mu = m0 + sumD / n;
                    double variance = Math.Max(0, (sumD2 - sumD * sumD / n) / n);
                    double inv = 1.0 / Math.Sqrt(variance + eps);
                    if (mean != null) mean[r] = (float)mu;
                    if (rstd != null) rstd[r] = (float)inv;
                    stats[3 * k] = m0;
                    stats[3 * k + 1] = (float)inv;
                    stats[3 * k + 2] = (float)((mu - m0) * inv);
                }
                for (int k = 0; k < count; k++)
                {
                    nint at = (nint)(r0 + k) * n;
                    ref float x = ref x0[at];   // [features]; y may be x (in place): the block's statistics are all taken
                    ref float y = ref y0[at];
                    float m0 = stats[3 * k], s = stats[3 * k + 1], c = stats[3 * k + 2];
                    int i = 0;
                    if (V512.IsAccelerated) i = Normalize<Vector512<float>, V512>(ref x, ref y, ref *w, ref *b, m0, s, c, hasWeight, hasBias, i, n);
                    if (V256.IsAccelerated) i = Normalize<Vector256<float>, V256>(ref x, ref y, ref *w, ref *b, m0, s, c, hasWeight, hasBias, i, n);
                    if (V128.IsAccelerated) i = Normalize<Vector128<float>, V128>(ref x, ref y, ref *w, ref *b, m0, s, c, hasWeight, hasBias, i, n);
                    Normalize<float, Scalar>(ref x, ref y, ref *w, ref *b, m0, s, c, hasWeight, hasBias, i, n);
                }
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: with <c>x̂ = (input − mean)·rstd</c> and <c>g = dOutput·weight</c> per row,
    /// <c>dInput = rstd·(g − mean(g) − x̂·mean(g·x̂))</c> (overwritten), <c>dWeight += Σ_rows dOutput·x̂</c>,
    /// <c>dBias += Σ_rows dOutput</c>.
    /// </summary>
    /// <param name="dOutput">Gradient with respect to the output [rows, features].</param>
    /// <param name="input">The forward input [rows, features].</param>
    /// <param name="weight">Scale [features], or empty when not affine.</param>
    /// <param name="mean">μ [rows] from <see cref="Forward"/>.</param>
    /// <param name="rstd"><c>1/√(σ² + eps)</c> [rows] from <see cref="Forward"/>.</param>
    /// <param name="dInput">Input gradient [rows, features], overwritten; may be the same span as <paramref name="dOutput"/>; empty when not needed.</param>
    /// <param name="dWeight">Scale gradient [features], accumulated into; empty when not affine.</param>
    /// <param name="dBias">Shift gradient [features], accumulated into; empty when there is no bias.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="features">Normalised size.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or <paramref name="features"/> is 0 while rows is not.</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or an output span overlaps another operand (dInput may only coincide with dOutput).</exception>
    public static unsafe void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dInput, Span<float> dWeight, Span<float> dBias, int rows, int features)
    {
        CheckRows(input.Length, rows, features, nameof(input));
        ThrowHelper.CheckShape(dOutput.Length, nameof(dOutput), nameof(rows), rows, nameof(features), features);
        if (!dInput.IsEmpty) ThrowHelper.CheckShape(dInput.Length, nameof(dInput), nameof(rows), rows, nameof(features), features, orEmpty: true);
        CheckOptional(weight.Length, features, nameof(weight), nameof(features));
        CheckOptional(dWeight.Length, features, nameof(dWeight), nameof(features));
        CheckOptional(dBias.Length, features, nameof(dBias), nameof(features));
        ThrowHelper.CheckShape(mean.Length, nameof(mean), nameof(rows), rows);
        ThrowHelper.CheckShape(rstd.Length, nameof(rstd), nameof(rows), rows);
        ThrowHelper.CheckSameOrDisjoint(dOutput, dInput, nameof(dOutput), nameof(dInput));
        ThrowHelper.CheckNoOverlap(input, dInput, nameof(input), nameof(dInput));
        ThrowHelper.CheckNoOverlap(dWeight, dOutput, nameof(dOutput), nameof(dWeight));
        ThrowHelper.CheckNoOverlap(dBias, dOutput, nameof(dOutput), nameof(dBias));
        ThrowHelper.CheckNoOverlap(dWeight, dInput, nameof(dInput), nameof(dWeight));
        ThrowHelper.CheckNoOverlap(dBias, dInput, nameof(dInput), nameof(dBias));
        ThrowHelper.CheckNoOverlap(dWeight, dBias, nameof(dWeight), nameof(dBias));

        if (rows == 0) return;
        bool hasWeight = !weight.IsEmpty, hasDWeight = !dWeight.IsEmpty, hasDBias = !dBias.IsEmpty, hasDInput = !dInput.IsEmpty;
        fixed (float* dy = dOutput, x = input, w = weight, mu = mean, rs = rstd, dx = dInput, dw = dWeight, db = dBias)
        {
            var all = new BackwardRows(dy, x, w, mu, rs, dx, dw, db, features, hasWeight, hasDWeight, hasDBias, hasDInput);
            long floats = (hasDInput ? 3L : 1L) * features;
            if (ParallelRange.Parts(rows, 1, floats) == 1)
            {
                all.Run(0, rows);   // one pass: each row's sums, its parameter gradients and its dx
                return;
            }
            // Split: dWeight and dBias are sums over rows, so threads take whole columns of them (16 at a time, so each column
            // goes through the vector tier it would in one call), each summed over the rows in order: the bits of the one-pass
            // loop. That pass runs first because dx may overwrite dy; then the rows (sums and dx) split freely.
            if (hasDWeight || hasDBias)
                ParallelRange.Run(new ParameterGradientColumns(dy, x, w, mu, rs, dw, db, rows, features, hasWeight, hasDWeight, hasDBias), features, 16, 2L * rows, chunksPerThread: 1);
            if (hasDInput)
                ParallelRange.Run(new BackwardRows(dy, x, w, mu, rs, dx, null, null, features, hasWeight, false, false, true), rows, 1, floats);
        }
    }

    /// <summary>Backward over rows [start, end): each row's sums, then dWeight/dBias (when wanted, in row order) and dx (when wanted).</summary>
    private readonly unsafe struct BackwardRows(float* dy0, float* x0, float* w, float* mean, float* rstd, float* dx0, float* dw, float* db, int n,
        bool hasWeight, bool hasDWeight, bool hasDBias, bool hasDInput) : IRangeOp
    {
        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                nint at = (nint)r * n;
                ref float dy = ref dy0[at];   // [features]
                ref float x = ref x0[at];     // [features]
                float mu = mean[r], s = rstd[r];
                // Pass 1: Σg and Σg·x̂ (g = dy·weight), and the parameter gradients, which need nothing else.
                float sumG = 0f, sumGX = 0f;
                int i = 0;
                if (V512.IsAccelerated) Sums<Vector512<float>, V512>(ref dy, ref x, ref *w, ref *dw, ref *db, mu, s, hasWeight, hasDWeight, hasDBias, ref i, n, ref sumG, ref sumGX);
                if (V256.IsAccelerated) Sums<Vector256<float>, V256>(ref dy, ref x, ref *w, ref *dw, ref *db, mu, s, hasWeight, hasDWeight, hasDBias, ref i, n, ref sumG, ref sumGX);
                if (V128.IsAccelerated) Sums<Vector128<float>, V128>(ref dy, ref x, ref *w, ref *dw, ref *db, mu, s, hasWeight, hasDWeight, hasDBias, ref i, n, ref sumG, ref sumGX);
                Sums<float, Scalar>(ref dy, ref x, ref *w, ref *dw, ref *db, mu, s, hasWeight, hasDWeight, hasDBias, ref i, n, ref sumG, ref sumGX);
                if (!hasDInput) continue;

                // Pass 2: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); the row's sums are complete, so dx may alias dy.
                ref float dx = ref dx0[at];
                float meanG = sumG / n, meanGX = sumGX / n;
                i = 0;
                if (V512.IsAccelerated) i = InputGradient<Vector512<float>, V512>(ref dy, ref x, ref *w, ref dx, mu, s, meanG, meanGX, hasWeight, i, n);
                if (V256.IsAccelerated) i = InputGradient<Vector256<float>, V256>(ref dy, ref x, ref *w, ref dx, mu, s, meanG, meanGX, hasWeight, i, n);
                if (V128.IsAccelerated) i = InputGradient<Vector128<float>, V128>(ref dy, ref x, ref *w, ref dx, mu, s, meanG, meanGX, hasWeight, i, n);
                InputGradient<float, Scalar>(ref dy, ref x, ref *w, ref dx, mu, s, meanG, meanGX, hasWeight, i, n);
            }
        }
    }

    /// <summary>
    /// dWeight and dBias over columns [start, end) (a multiple of 16 from column 0), each summed over all rows in order by the
    /// same <see cref="Sums"/> code as <see cref="BackwardRows"/> (its row sums are computed and dropped).
    /// </summary>
    private readonly unsafe struct ParameterGradientColumns(float* dy0, float* x0, float* w, float* mean, float* rstd, float* dw, float* db, int rows, int n,
        bool hasWeight, bool hasDWeight, bool hasDBias) : IRangeOp
    {
        public void Run(int start, int end)
        {
            int width = end - start;
            ref float wc = ref hasWeight ? ref w[start] : ref *w;
            ref float dwc = ref hasDWeight ? ref dw[start] : ref *dw;
            ref float dbc = ref hasDBias ? ref db[start] : ref *db;
            for (int r = 0; r < rows; r++)
            {
                nint at = (nint)r * n + start;
                ref float dy = ref dy0[at];
                ref float x = ref x0[at];
                float mu = mean[r], s = rstd[r], sumG = 0f, sumGX = 0f;
                int i = 0;
                if (V512.IsAccelerated) Sums<Vector512<float>, V512>(ref dy, ref x, ref wc, ref dwc, ref dbc, mu, s, hasWeight, hasDWeight, hasDBias, ref i, width, ref sumG, ref sumGX);
                if (V256.IsAccelerated) Sums<Vector256<float>, V256>(ref dy, ref x, ref wc, ref dwc, ref dbc, mu, s, hasWeight, hasDWeight, hasDBias, ref i, width, ref sumG, ref sumGX);
                if (V128.IsAccelerated) Sums<Vector128<float>, V128>(ref dy, ref x, ref wc, ref dwc, ref dbc, mu, s, hasWeight, hasDWeight, hasDBias, ref i, width, ref sumG, ref sumGX);
                Sums<float, Scalar>(ref dy, ref x, ref wc, ref dwc, ref dbc, mu, s, hasWeight, hasDWeight, hasDBias, ref i, width, ref sumG, ref sumGX);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ references

    /// <summary>Naive reference for <see cref="Forward"/> in double (two-pass statistics). <paramref name="mean"/>/<paramref name="rstd"/> may be empty. For tests.</summary>
    public static void ReferenceForward(ReadOnlySpan<double> input, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias, Span<double> output,
        Span<double> mean, Span<double> rstd, int rows, int features, double eps)
    {
        ThrowHelper.CheckLength(input.Length, rows * features, nameof(input), "rows·features");
        ThrowHelper.CheckLength(output.Length, input.Length, nameof(output), "the length of input");
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<double> x = input.Slice(r * features, features);
            double m = 0, v = 0;
            for (int j = 0; j < features; j++) m += x[j];
            m /= features;
            for (int j = 0; j < features; j++) v += (x[j] - m) * (x[j] - m);
            double inv = 1 / Math.Sqrt(v / features + eps);
            if (!mean.IsEmpty) mean[r] = m;
            if (!rstd.IsEmpty) rstd[r] = inv;
            for (int j = 0; j < features; j++)
                output[r * features + j] = (x[j] - m) * inv * (weight.IsEmpty ? 1 : weight[j]) + (bias.IsEmpty ? 0 : bias[j]);
        }
    }

    /// <summary>Naive reference for <see cref="Backward"/> in double, from the statistics recomputed in double. dInput is overwritten; dWeight/dBias accumulate. For tests.</summary>
    public static void ReferenceBackward(ReadOnlySpan<double> dOutput, ReadOnlySpan<double> input, ReadOnlySpan<double> weight,
        Span<double> dInput, Span<double> dWeight, Span<double> dBias, int rows, int features, double eps)
    {
        var xhat = new double[features];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<double> x = input.Slice(r * features, features), dy = dOutput.Slice(r * features, features);
            double m = 0, v = 0;
            for (int j = 0; j < features; j++) m += x[j];
            m /= features;
            for (int j = 0; j < features; j++) v += (x[j] - m) * (x[j] - m);
            double inv = 1 / Math.Sqrt(v / features + eps), meanG = 0, meanGX = 0;
            for (int j = 0; j < features; j++)
            {
                xhat[j] = (x[j] - m) * inv;
                double g = dy[j] * (weight.IsEmpty ? 1 : weight[j]);
                meanG += g / features;
                meanGX += g * xhat[j] / features;
                if (!dWeight.IsEmpty) dWeight[j] += dy[j] * xhat[j];
                if (!dBias.IsEmpty) dBias[j] += dy[j];
            }
            if (dInput.IsEmpty) continue;
            for (int j = 0; j < features; j++)
                dInput[r * features + j] = inv * (dy[j] * (weight.IsEmpty ? 1 : weight[j]) - meanG - xhat[j] * meanGX);
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static void CheckRows(int length, int rows, int features, string name)
    {
        ThrowHelper.CheckNonNegative(rows, nameof(rows));
        ThrowHelper.CheckNonNegative(features, nameof(features));
        if (features == 0 && rows > 0)
            throw new ArgumentOutOfRangeException(nameof(features), features, $"'features' must be at least 1 to normalise {rows} rows but is 0.");
        ThrowHelper.CheckShape(length, name, nameof(rows), rows, nameof(features), features);
    }

    private static void CheckOptional(int length, int expected, string name, string dimension)
    {
        if (length != 0) ThrowHelper.CheckShape(length, name, dimension, expected, orEmpty: true);
    }

    private static void CheckStatistics(ReadOnlySpan<float> statistic, ReadOnlySpan<float> input, ReadOnlySpan<float> output, string name)
    {
        ThrowHelper.CheckNoOverlap(input, statistic, nameof(input), name);
        ThrowHelper.CheckNoOverlap(output, statistic, nameof(output), name);
    }

    /// <summary>Adds Σ d and Σ d² over whole vectors of x[i..n), d = x − shift, and advances i past them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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

    /// <summary>y = ((x − m₀)·rstd − c)·w + b over whole vectors from i; returns where it stopped. x and y may alias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Normalize<TV, TOps>(ref float x, ref float y, ref float w, ref float b, float m0, float rstd, float c,
        bool hasWeight, bool hasBias, int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        TV m = TOps.Create(m0), s = TOps.Create(rstd), negC = TOps.Create(-c), zero = TOps.Create(0f);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV xhat = TOps.MultiplyAdd(TOps.Subtract(TOps.Load(ref x, (nuint)i), m), s, negC);
            TV bi = hasBias ? TOps.Load(ref b, (nuint)i) : zero;
            TOps.Store(hasWeight ? TOps.MultiplyAdd(xhat, TOps.Load(ref w, (nuint)i), bi) : TOps.Add(xhat, bi), ref y, (nuint)i);
        }
        return i;
    }

    /// <summary>Adds Σg and Σg·x̂ over whole vectors from i, accumulating dw += dy·x̂ and db += dy; advances i.</summary>
    private static void Sums<TV, TOps>(ref float dy, ref float x, ref float w, ref float dw, ref float db, float mean, float rstd,
        bool hasWeight, bool hasDWeight, bool hasDBias, ref int i, int n, ref float sumG, ref float sumGX)
        where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return;
        TV m = TOps.Create(mean), s = TOps.Create(rstd), accG = TOps.Create(0f), accGX = TOps.Create(0f);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV xhat = TOps.Multiply(TOps.Subtract(TOps.Load(ref x, (nuint)i), m), s);
            TV d = TOps.Load(ref dy, (nuint)i);
            TV g = hasWeight ? TOps.Multiply(d, TOps.Load(ref w, (nuint)i)) : d;
            accG = TOps.Add(accG, g);
            accGX = TOps.MultiplyAdd(g, xhat, accGX);
            if (hasDWeight) TOps.Store(TOps.MultiplyAdd(d, xhat, TOps.Load(ref dw, (nuint)i)), ref dw, (nuint)i);
            if (hasDBias) TOps.Store(TOps.Add(TOps.Load(ref db, (nuint)i), d), ref db, (nuint)i);
        }
        sumG += TOps.Sum(accG);
        sumGX += TOps.Sum(accGX);
    }

    /// <summary>dx = (g − meanG − x̂·meanGX)·rstd over whole vectors from i; returns where it stopped. dx may alias dy.</summary>
    private static int InputGradient<TV, TOps>(ref float dy, ref float x, ref float w, ref float dx, float mean, float rstd,
        float meanG, float meanGX, bool hasWeight, int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        TV m = TOps.Create(mean), s = TOps.Create(rstd), mg = TOps.Create(meanG), negMgx = TOps.Create(-meanGX);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV xhat = TOps.Multiply(TOps.Subtract(TOps.Load(ref x, (nuint)i), m), s);
            TV d = TOps.Load(ref dy, (nuint)i);
            TV g = hasWeight ? TOps.Multiply(d, TOps.Load(ref w, (nuint)i)) : d;
            TOps.Store(TOps.Multiply(TOps.MultiplyAdd(xhat, negMgx, TOps.Subtract(g, mg)), s), ref dx, (nuint)i);
        }
        return i;
    }
}
