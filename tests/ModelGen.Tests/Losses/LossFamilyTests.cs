// Every loss (CrossEntropyLoss with weights / ignore_index / label smoothing / class-probability targets, NllLoss,
// BinaryCrossEntropyWithLogitsLoss with weight and pos_weight, MSE, L1, SmoothL1, Huber, KLDiv) under every reduction
// against float64 references written straight from PyTorch's definitions: the reduced value, the per-term losses, and
// the gradient against central finite differences of the reference, at odd class counts that hit every vector tail.
// Then hand-computed cases, the errors PyTorch raises, and zero allocation.
using ModelGen;

namespace ModelGen.Tests.Losses;

[Trait("Category", "Kernels")]
public class LossFamilyTests
{
    private static readonly int[] s_widths = [1, 3, 7, 17, 33];

    /// <summary>One loss on one input: the float inputs and a float64 reference giving the reduced value and the per-term losses.</summary>
    private sealed record Case(string What, Loss Loss, float[] X, int[] Labels, float[] Targets, int Batch, Func<double[], (double Value, double[] Terms)> Reference);

    // ---- float64 references, PyTorch's formulas ----

    private static double[] LogSoftmaxRow(double[] x, int row, int classes)
    {
        double max = double.NegativeInfinity;
        for (int c = 0; c < classes; c++) max = Math.Max(max, x[row * classes + c]);
        double sum = 0;
        for (int c = 0; c < classes; c++) sum += Math.Exp(x[row * classes + c] - max);
        double lse = max + Math.Log(sum);
        var logp = new double[classes];
        for (int c = 0; c < classes; c++) logp[c] = x[row * classes + c] - lse;
        return logp;
    }

    /// <summary>
    /// PyTorch's cross_entropy with class indices: (1-ε)·nll_loss(logp, y, w, reduction) + ε/C·smooth, smooth_row =
    /// -Σ_c w_c logp_c masked at ignored rows; 'mean' divides both by Σ w_y over counted rows.
    /// </summary>
    private static (double, double[]) ReferenceCrossEntropy(double[] x, int[] labels, double[]? w, int? ignore, double eps, Reduction reduction)
    {
        int batch = labels.Length, classes = x.Length / batch;
        var terms = new double[batch];
        double weightOfCounted = 0;
        for (int b = 0; b < batch; b++)
        {
            int y = labels[b];
            if (ignore == y) continue;
            double[] logp = LogSoftmaxRow(x, b, classes);
            double nll = -(w?[y] ?? 1) * logp[y], smooth = 0;
            for (int c = 0; c < classes; c++) smooth -= (w?[c] ?? 1) * logp[c];
            terms[b] = (1 - eps) * nll + eps / classes * smooth;
            weightOfCounted += w?[y] ?? 1;
        }
        return (Reduce(terms, reduction, weightOfCounted), terms);
    }

    /// <summary>PyTorch's cross_entropy with probabilities: q' = (1-ε)·q + ε/C, row = -Σ_c w_c q'_c logp_c; 'mean' over rows.</summary>
    private static (double, double[]) ReferenceSoftCrossEntropy(double[] x, float[] q, double[]? w, double eps, int batch, Reduction reduction)
    {
        int classes = x.Length / batch;
        var terms = new double[batch];
        for (int b = 0; b < batch; b++)
        {
            double[] logp = LogSoftmaxRow(x, b, classes);
            for (int c = 0; c < classes; c++)
                terms[b] -= (w?[c] ?? 1) * ((1 - eps) * q[b * classes + c] + eps / classes) * logp[c];
        }
        return (Reduce(terms, reduction, batch), terms);
    }

    /// <summary>PyTorch's nll_loss: row = -w_y·x_y; 'mean' over Σ w_y of counted rows.</summary>
    private static (double, double[]) ReferenceNll(double[] x, int[] labels, double[]? w, int ignore, Reduction reduction)
    {
        int batch = labels.Length, classes = x.Length / batch;
        var terms = new double[batch];
        double weightOfCounted = 0;
        for (int b = 0; b < batch; b++)
        {
            if (labels[b] == ignore) continue;
            double wy = w?[labels[b]] ?? 1;
            terms[b] = -wy * x[b * classes + labels[b]];
            weightOfCounted += wy;
        }
        return (Reduce(terms, reduction, weightOfCounted), terms);
    }

    /// <summary>An element-wise loss: terms ℓ(x_i, t_i, column), reduced over elements (or rows for BatchMean).</summary>
    private static (double, double[]) ReferencePointwise(double[] x, float[] t, int batch, Func<double, double, int, double> term, Reduction reduction)
    {
        int width = x.Length / batch;
        var terms = new double[x.Length];
        for (int i = 0; i < x.Length; i++) terms[i] = term(x[i], t[i], i % width);
        return (Reduce(terms, reduction, reduction == Reduction.BatchMean ? batch : x.Length), terms);
    }

    /// <summary>The reduction; a mean over nothing (every row ignored) is 0 by ModelGen's choice, where PyTorch gives NaN.</summary>
    private static double Reduce(double[] terms, Reduction reduction, double meanDivisor)
    {
        double sum = terms.Sum();
        if (meanDivisor == 0) return 0;
        return reduction is Reduction.Mean or Reduction.BatchMean ? sum / meanDivisor : sum;
    }

    private static double LogSigmoid(double x) => x >= 0 ? -Math.Log(1 + Math.Exp(-x)) : x - Math.Log(1 + Math.Exp(x));

    private static double Bce(double x, double t, double w, double p) => -w * (p * t * LogSigmoid(x) + (1 - t) * LogSigmoid(-x));

    private static double SmoothL1(double x, double t, double beta)
    {
        double d = Math.Abs(x - t);
        return d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
    }

    private static double Huber(double x, double t, double delta)
    {
        double d = Math.Abs(x - t);
        return d < delta ? 0.5 * d * d : delta * (d - 0.5 * delta);
    }

    private static double KLDiv(double x, double t) => t > 0 ? t * (Math.Log(t) - x) : 0;

    // ---- inputs ----

    private static float[] Uniform(Rng rng, int n, double lo, double hi)
    {
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        return values;
    }

    /// <summary>Moves x away from the kinks of the piecewise losses (d = x - t at 0 and ±<paramref name="kinks"/>) so finite differences are smooth.</summary>
    private static float[] AwayFromKinks(float[] x, float[] t, params double[] kinks)
    {
        var moved = (float[])x.Clone();
        for (int i = 0; i < x.Length; i++)
            while (kinks.Append(0).Any(k => Math.Abs(Math.Abs(moved[i] - t[i]) - k) < 0.02)) moved[i] += 0.05f;
        return moved;
    }

    private static double[]? ToDouble(float[]? v) => v is null ? null : Array.ConvertAll(v, f => (double)f);

    private static IEnumerable<Case> Cases(int width, int batch, Rng rng)
    {
        Reduction[] reductions = [Reduction.None, Reduction.Mean, Reduction.Sum];
        int n = width * batch;
        float[] logits = Uniform(rng, n, -3, 3);
        float[] classWeight = Uniform(rng, width, 0.2, 2);
        var labels = new int[batch];
        for (int b = 0; b < batch; b++) labels[b] = rng.NextInt(width);
        // Row 1 (when there is one) is padding, labelled with the ignore index.
        int[] padded = (int[])labels.Clone();
        if (batch > 1) padded[1] = Loss.DefaultIgnoreIndex;
        float[] probabilities = Uniform(rng, n, 0, 1);
        for (int b = 0; b < batch; b++)
        {
            float sum = 0;
            for (int c = 0; c < width; c++) sum += probabilities[b * width + c];
            for (int c = 0; c < width; c++) probabilities[b * width + c] /= sum;
        }
        foreach (Reduction r in reductions)
        {
            foreach (float[]? w in new[] { null, classWeight })
            foreach (float eps in new[] { 0f, 0.2f })
            {
                double[]? wd = ToDouble(w);
                foreach (int[] y in new[] { labels, padded })
                    yield return new Case($"CrossEntropy(weight {w is not null}, ε {eps}, {r}, labels [{string.Join(",", y)}])",
                        new CrossEntropyLoss(w, reduction: r, labelSmoothing: eps), logits, y, [], batch,
                        x => ReferenceCrossEntropy(x, y, wd, Loss.DefaultIgnoreIndex, eps, r));
                yield return new Case($"CrossEntropy probabilities (weight {w is not null}, ε {eps}, {r})",
                    new CrossEntropyLoss(w, reduction: r, labelSmoothing: eps), logits, [], probabilities, batch,
                    x => ReferenceSoftCrossEntropy(x, probabilities, wd, eps, batch, r));
                if (eps == 0)
                {
                    yield return new Case($"Nll(weight {w is not null}, {r})", new NllLoss(w, reduction: r), logits, padded, [], batch,
                        x => ReferenceNll(x, padded, wd, Loss.DefaultIgnoreIndex, r));
                    // ignore_index a real class: rows of class 0 are skipped.
                    yield return new Case($"CrossEntropy(ignoreIndex 0, weight {w is not null}, {r})",
                        new CrossEntropyLoss(w, ignoreIndex: 0, reduction: r), logits, labels, [], batch,
                        x => ReferenceCrossEntropy(x, labels, wd, 0, 0, r));
                }
            }

            float[] binary = Uniform(rng, n, 0, 1);
            float[] posWeight = Uniform(rng, width, 0.5, 4);
            foreach (var (w, p) in new[] { ((float[]?)null, (float[]?)null), (classWeight, null), (null, posWeight), (classWeight, posWeight) })
                yield return new Case($"BCEWithLogits(weight {w is not null}, posWeight {p is not null}, {r})",
                    new BinaryCrossEntropyWithLogitsLoss(w, r, p), logits, [], binary, batch,
                    x => ReferencePointwise(x, binary, batch, (xi, ti, c) => Bce(xi, ti, w?[c] ?? 1, p?[c] ?? 1), r));

            float[] targets = Uniform(rng, n, -3, 3);
            float[] xMse = AwayFromKinks(logits, targets);
            yield return new Case($"MSE({r})", new MeanSquaredErrorLoss(r), xMse, [], targets, batch,
                x => ReferencePointwise(x, targets, batch, (xi, ti, _) => (xi - ti) * (xi - ti), r));
            yield return new Case($"L1({r})", new L1Loss(r), xMse, [], targets, batch,
                x => ReferencePointwise(x, targets, batch, (xi, ti, _) => Math.Abs(xi - ti), r));
            foreach (float beta in new[] { 1f, 0.5f, 0f })
            {
                float[] xs = AwayFromKinks(logits, targets, beta);
                yield return new Case($"SmoothL1(β {beta}, {r})", new SmoothL1Loss(r, beta), xs, [], targets, batch,
                    x => ReferencePointwise(x, targets, batch, (xi, ti, _) => beta == 0 ? Math.Abs(xi - ti) : SmoothL1(xi, ti, beta), r));
            }
            foreach (float delta in new[] { 1f, 0.7f })
            {
                float[] xs = AwayFromKinks(logits, targets, delta);
                yield return new Case($"Huber(δ {delta}, {r})", new HuberLoss(r, delta), xs, [], targets, batch,
                    x => ReferencePointwise(x, targets, batch, (xi, ti, _) => Huber(xi, ti, delta), r));
            }
        }

        // KLDiv: log-probability inputs, probability targets with a zero, or log-probability targets.
        float[] logInput = Uniform(rng, n, -4, 0);
        float[] target = (float[])probabilities.Clone();
        target[0] = 0;
        float[] logTarget = Array.ConvertAll(probabilities, v => MathF.Log(v));
        foreach (Reduction r in new[] { Reduction.None, Reduction.Mean, Reduction.Sum, Reduction.BatchMean })
        {
            yield return new Case($"KLDiv({r})", new KLDivLoss(r), logInput, [], target, batch,
                x => ReferencePointwise(x, target, batch, (xi, ti, _) => KLDiv(xi, ti), r));
            yield return new Case($"KLDiv(logTarget, {r})", new KLDivLoss(r, logTarget: true), logInput, [], logTarget, batch,
                x => ReferencePointwise(x, logTarget, batch, (xi, ti, _) => Math.Exp(ti) * (ti - xi), r));
        }
    }

    private static void AssertClose(double expected, double actual, double relative, double absolute, string what)
    {
        double tolerance = absolute + relative * Math.Abs(expected);
        Assert.True(Math.Abs(expected - actual) <= tolerance,
            $"{what}: expected {expected:R}, actual {actual:R}, |diff| {Math.Abs(expected - actual):E3} > tolerance {tolerance:E3}");
    }

    [Fact]
    public void EveryLossAndReduction_MatchesReferenceAndFiniteDifferences()
    {
        var rng = new Rng(2026);
        int checkedCases = 0;
        foreach (int width in s_widths)
        foreach (int batch in new[] { 1, 3 })
        foreach (Case c in Cases(width, batch, rng))
        {
            string what = $"{c.What} [batch {batch}, width {width}] ({c.Loss.Name})";
            var d = new float[c.X.Length];
            bool perRow = c.Loss.UsesLabels;
            var terms = new float[perRow ? batch : c.X.Length];
            float value = c.Loss.Compute(c.X, c.Labels, c.Targets, d, terms, batch);
            double[] xd = Array.ConvertAll(c.X, v => (double)v);
            var (expected, expectedTerms) = c.Reference(xd);
            AssertClose(expected, value, 2e-6, 1e-6, what);
            for (int i = 0; i < terms.Length; i++) AssertClose(expectedTerms[i], terms[i], 2e-6, 1e-6, $"{what} term {i}");

            // The reduced overload (and an empty losses span) gives the same value and gradient.
            if (c.Loss.Reduction != Reduction.None)
            {
                var d2 = new float[c.X.Length];
                Assert.Equal(value, c.Loss.Compute(c.X, c.Labels, c.Targets, d2, batch));
                Assert.Equal(d, d2);
            }

            // Gradient: of the reduced value, or of the sum of the terms for None.
            const double h = 1e-4;
            for (int i = 0; i < xd.Length; i++)
            {
                double saved = xd[i];
                xd[i] = saved + h;
                double plus = c.Reference(xd).Value;
                xd[i] = saved - h;
                double minus = c.Reference(xd).Value;
                xd[i] = saved;
                AssertClose((plus - minus) / (2 * h), d[i], 1e-3, 2e-6, $"{what} d/dx[{i}]");
            }
            checkedCases++;
        }
        Assert.True(checkedCases > 500, $"only {checkedCases} cases ran");
    }

    // ---- hand-computed cases ----

    [Fact]
    public void CrossEntropy_ClassWeights_MeanDividesByWeightsOfTargets()
    {
        // Rows x = [0, ln 3] (p = [1/4, 3/4]) with labels 0 and 1, weight [2, 1]:
        // (2·ln 4 + 1·ln(4/3)) / (2 + 1) = (2.7725887 + 0.2876821) / 3.
        float ln3 = MathF.Log(3);
        float[] x = [0, ln3, 0, ln3];
        var loss = new CrossEntropyLoss(weight: [2f, 1f]);
        var d = new float[4];
        Assert.Equal(1.0200903f, loss.Compute(x, [0, 1], default, d, 2), 6);
        // Row 0: w_y·(p - onehot)/3 = 2·[-3/4, 3/4]/3; row 1: [1/4, -1/4]/3.
        Assert.Equal([-0.5f, 0.5f, 1f / 12, -1f / 12], d, (a, b) => Math.Abs(a - b) < 1e-6);
        var sum = new CrossEntropyLoss(weight: [2f, 1f], reduction: Reduction.Sum);
        Assert.Equal(3.0602708f, sum.Compute(x, [0, 1], default, d, 2), 5);
    }

    [Fact]
    public void CrossEntropy_ProbabilitiesNotSummingToOne_AreUsedAsGiven()
    {
        // PyTorch does not check that probabilities sum to 1: q = [1, 1] on p = [1/4, 3/4] gives ln 4 + ln(4/3).
        float[] x = [0, MathF.Log(3)];
        var d = new float[2];
        float value = new CrossEntropyLoss().Compute(x, default, [1f, 1f], d, 1);
        Assert.Equal((float)(Math.Log(4) + Math.Log(4.0 / 3)), value, 6);
        Assert.Equal([2 * 0.25f - 1, 2 * 0.75f - 1], d, (a, b) => Math.Abs(a - b) < 1e-6);   // R·p - q, R = 2
    }

    [Fact]
    public void Nll_WeightedAndIgnored_HandComputed()
    {
        float[] x = [-1, -2, -3, -0.5f, -0.25f, -4];
        var d = new float[6];
        var losses = new float[2];
        var mean = new NllLoss(weight: [1f, 1f, 4f]);
        // Row 0: -4·(-3) = 12 with weight 4; row 1 ignored: 12/4 = 3.
        Assert.Equal(3f, mean.Compute(x, [2, -100], default, d, losses, 2));
        Assert.Equal([12f, 0f], losses);
        Assert.Equal([0, 0, -1f, 0, 0, 0], d);
        var none = new NllLoss(reduction: Reduction.None);
        Assert.Equal(3.25f, none.Compute(x, [2, 1], default, d, losses, 2));
        Assert.Equal([3f, 0.25f], losses);
        Assert.Equal([0, 0, -1f, 0, -1f, 0], d);   // gradient of the sum of the terms
    }

    [Fact]
    public void SmoothL1AndHuber_HandComputed()
    {
        float[] x = [0.2f, 1f], t = [0, 0];
        var d = new float[2];
        // β = 0.5: 0.5·0.04/0.5 = 0.04 and 1 - 0.25 = 0.75.
        Assert.Equal(0.395f, new SmoothL1Loss(beta: 0.5f).Compute(x, default, t, d, 1), 6);
        Assert.Equal([0.4f / 2, 1f / 2], d, (a, b) => Math.Abs(a - b) < 1e-7);
        // δ = 0.5: 0.5·0.04 = 0.02 and 0.5·(1 - 0.25) = 0.375.
        Assert.Equal(0.1975f, new HuberLoss(delta: 0.5f).Compute(x, default, t, d, 1), 6);
        Assert.Equal([0.2f / 2, 0.5f / 2], d, (a, b) => Math.Abs(a - b) < 1e-7);
        // L1's gradient at x = t is 0 (PyTorch's sign), and SmoothL1 with β = 0 is L1.
        Assert.Equal(0f, new L1Loss(Reduction.Sum).Compute([3f], default, [3f], d.AsSpan(0, 1), 1));
        Assert.Equal(0f, d[0]);
        Assert.Equal(1.2f, new SmoothL1Loss(Reduction.Sum, beta: 0).Compute(x, default, t, d, 1), 6);
        Assert.Equal([1f, 1f], d);
    }

    [Fact]
    public void KLDiv_HandComputed_BatchMeanAndMean()
    {
        // t = [1/2, 1/2, 0], x = log [1/4, 3/4, e^-1]: ½·ln 2 + ½·ln(2/3) + 0 (t = 0 contributes nothing) = 0.1438410.
        float[] x = [MathF.Log(0.25f), MathF.Log(0.75f), -1], t = [0.5f, 0.5f, 0];
        var d = new float[3];
        Assert.Equal(0.1438410f, new KLDivLoss(Reduction.BatchMean).Compute(x, default, t, d, 1), 6);
        Assert.Equal([-0.5f, -0.5f, 0], d);
        Assert.Equal(0.1438410f / 3, new KLDivLoss().Compute(x, default, t, d, 1), 6);   // 'mean' divides by every element
        // With log targets (finite: exp(-∞)·(-∞ - x) is NaN in PyTorch too) the first two terms alone give the same sum.
        float[] logT = [MathF.Log(0.5f), MathF.Log(0.5f)];
        Assert.Equal(0.1438410f, new KLDivLoss(Reduction.Sum, logTarget: true).Compute(x.AsSpan(0, 2), default, logT, d.AsSpan(0, 2), 1), 6);
        Assert.Equal([-0.5f, -0.5f], d.AsSpan(0, 2).ToArray());
    }

    [Fact]
    public void BceWithLogits_PosWeight_HandComputed()
    {
        // x = 0, t = 1, pos_weight 3: 3·ln 2; gradient -pos_weight·σ(-x) = -1.5. Weight 2 doubles both.
        var d = new float[1];
        Assert.Equal(3 * MathF.Log(2), new BinaryCrossEntropyWithLogitsLoss(posWeight: [3f]).Compute([0f], default, [1f], d, 1), 6);
        Assert.Equal(-1.5f, d[0], 6);
        Assert.Equal(6 * MathF.Log(2), new BinaryCrossEntropyWithLogitsLoss([2f], posWeight: [3f]).Compute([0f], default, [1f], d, 1), 6);
        Assert.Equal(-3f, d[0], 6);
    }

    [Fact]
    public void CrossEntropy_AllRowsIgnoredWithWeights_ReturnsZero()
    {
        var d = new float[6];
        d.AsSpan().Fill(7);
        Assert.Equal(0f, new CrossEntropyLoss(weight: [1f, 2f, 3f]).Compute(new float[6], [-100, -100], default, d, 2));
        Assert.All(d, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void TypedOverloads_MatchTheGeneralCall()
    {
        var rng = new Rng(31);
        const int batch = 3, width = 7;
        float[] x = Uniform(rng, batch * width, -2, 2), t = Uniform(rng, batch * width, 0, 1), w = Uniform(rng, width, 0.5, 2);
        int[] labels = [6, -100, 0];
        var expected = new float[x.Length];
        var actual = new float[x.Length];
        void Same(float general, float typed, string what)
        {
            Assert.True(general == typed, $"{what}: general {general:R}, typed {typed:R}");
            Assert.Equal(expected, actual);
        }
        var ce = new CrossEntropyLoss(w, labelSmoothing: 0.1f);
        Same(ce.Compute(x, labels, default, expected, batch), ce.Compute(x, labels, actual, batch), "CrossEntropy labels");
        Same(ce.Compute(x, default, t, expected, batch), ce.Compute(x, t, actual, batch), "CrossEntropy probabilities");
        var nll = new NllLoss(w);
        Same(nll.Compute(x, labels, default, expected, batch), nll.Compute(x, labels, actual, batch), "Nll");
        var bce = new BinaryCrossEntropyWithLogitsLoss(w, posWeight: w);
        Same(bce.Compute(x, default, t, expected, batch), bce.Compute(x, t, actual, batch), "BCEWithLogits");
        var mse = new MeanSquaredErrorLoss(Reduction.Sum);
        Same(mse.Compute(x, default, t, expected, batch), mse.Compute(x, t, actual, batch), "MSE");
        var l1 = new L1Loss();
        Same(l1.Compute(x, default, t, expected, batch), l1.Compute(x, t, actual, batch), "L1");
        var smooth = new SmoothL1Loss(beta: 0.3f);
        Same(smooth.Compute(x, default, t, expected, batch), smooth.Compute(x, t, actual, batch), "SmoothL1");
        var huber = new HuberLoss(delta: 0.3f);
        Same(huber.Compute(x, default, t, expected, batch), huber.Compute(x, t, actual, batch), "Huber");
        var kl = new KLDivLoss(Reduction.BatchMean);
        Same(kl.Compute(x, default, t, expected, batch), kl.Compute(x, t, actual, batch), "KLDiv");
        Assert.Throws<InvalidOperationException>(() => new HuberLoss(Reduction.None).Compute(x, t, actual, batch));
    }

    // ---- errors ----

    [Fact]
    public void ClassLosses_BadLabelsOrWeights_ThrowNamingTheProblem()
    {
        var d = new float[6];
        foreach (Loss loss in new Loss[] { new CrossEntropyLoss(), new NllLoss() })
        {
            var negative = Assert.Throws<ArgumentOutOfRangeException>(() => loss.Compute(new float[6], [0, -1], default, d, 2));
            Assert.Contains("label -1 at row 1 is outside [0, 3)", negative.Message);
            var high = Assert.Throws<ArgumentOutOfRangeException>(() => loss.Compute(new float[6], [3, 0], default, d, 2));
            Assert.Contains("label 3 at row 0", high.Message);
            var length = Assert.Throws<ArgumentException>(() => loss.Compute(new float[6], [0], default, d, 2));
            Assert.Contains("labels length must equal the batch size 2, but was 1", length.Message);
        }
        foreach (Loss loss in new Loss[] { new CrossEntropyLoss(weight: [1f, 2f]), new NllLoss(weight: [1f, 2f]) })
        {
            var ex = Assert.Throws<ArgumentException>(() => loss.Compute(new float[6], [0, 1], default, d, 2));
            Assert.Contains("weight has 2 values, but the output has 3 classes", ex.Message);
        }
        var bce = Assert.Throws<ArgumentException>(() => new BinaryCrossEntropyWithLogitsLoss(posWeight: [1f, 2f]).Compute(new float[6], default, new float[6], d, 2));
        Assert.Contains("posWeight has 2 values, but the output has 3 classes", bce.Message);
        Assert.Throws<ArgumentException>(() => new BinaryCrossEntropyWithLogitsLoss([1f], posWeight: [1f, 2f]));
        Assert.Throws<ArgumentException>(() => new CrossEntropyLoss(weight: []));
    }

    [Fact]
    public void CrossEntropy_ProbabilitiesWithNonNegativeIgnoreIndex_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new CrossEntropyLoss(ignoreIndex: 0).Compute(new float[3], default, new float[3], new float[3], 1));
        Assert.Contains("ignore_index 0 is not supported for class-probability targets", ex.Message);
        // The default (-100) is fine, as in PyTorch.
        new CrossEntropyLoss().Compute(new float[3], default, [1f, 0, 0], new float[3], 1);
    }

    [Fact]
    public void Options_OutOfRange_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SmoothL1Loss(beta: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HuberLoss(delta: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HuberLoss(delta: float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropyLoss(labelSmoothing: 1.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropyLoss(reduction: Reduction.BatchMean));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NllLoss(reduction: Reduction.BatchMean));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MeanSquaredErrorLoss(Reduction.BatchMean));
        Assert.Throws<ArgumentOutOfRangeException>(() => new L1Loss((Reduction)17));
    }

    [Fact]
    public void ReductionNone_NeedsTheLossesSpan()
    {
        var loss = new MeanSquaredErrorLoss(Reduction.None);
        var ex = Assert.Throws<InvalidOperationException>(() => loss.Compute(new float[4], default, new float[4], new float[4], 2));
        Assert.Contains("reduction None", ex.Message);
        var wrong = Assert.Throws<ArgumentException>(() => loss.Compute(new float[4], default, new float[4], new float[4], new float[2], 2));
        Assert.Contains("losses length must be 4 (one per element of [batch 2, width 2]), but was 2", wrong.Message);
        var perRow = Assert.Throws<ArgumentException>(() => new CrossEntropyLoss(reduction: Reduction.None).Compute(new float[4], [0, 1], default, new float[4], new float[4], 2));
        Assert.Contains("losses length must be 2 (one per row", perRow.Message);
        Assert.Throws<ArgumentException>(() => new Trainer(new ModelGen.Tests.Models.SmallMlp(1), new Sgd(0.1f), new CrossEntropyLoss(reduction: Reduction.None)));
    }

    [Fact]
    public void Names_ShowNonDefaultOptions()
    {
        Assert.Equal("CrossEntropy(ignoreIndex: -100)", new CrossEntropyLoss().Name);
        Assert.Equal("CrossEntropy(labelSmoothing: 0.1, ignoreIndex: -100, weight: [3], reduction: Sum)",
            new CrossEntropyLoss([1f, 2f, 3f], reduction: Reduction.Sum, labelSmoothing: 0.1f).Name);
        Assert.Equal("Nll", new NllLoss().Name);
        Assert.Equal("SmoothL1(beta: 0.5, reduction: None)", new SmoothL1Loss(Reduction.None, 0.5f).Name);
        Assert.Equal("KLDiv(reduction: BatchMean, logTarget: true)", new KLDivLoss(Reduction.BatchMean, true).Name);
        Assert.Equal("BinaryCrossEntropyWithLogits(posWeight: [2])", new BinaryCrossEntropyWithLogitsLoss(posWeight: [1f, 2f]).Name);
        Assert.Equal(-100, new CrossEntropyLoss().IgnoreIndex);
        Assert.Null(((CrossEntropyLoss)Loss.CrossEntropy).IgnoreIndex);
    }

    [Fact]
    public void Constructors_CopyTheirVectors()
    {
        float[] w = [1f, 2f];
        var loss = new CrossEntropyLoss(weight: w);
        w[0] = 100;
        Assert.Equal([1f, 2f], loss.Weight!);
        var d = new float[2];
        Assert.Equal(new CrossEntropyLoss(weight: [1f, 2f]).Compute([0.5f, -1], [0], default, d, 1), loss.Compute([0.5f, -1], [0], default, d, 1));
    }

    [Fact]
    public void Compute_SteadyState_AllocatesNothing()
    {
        const int batch = 6, width = 37;
        var rng = new Rng(9);
        float[] x = Uniform(rng, batch * width, -2, 2), t = Uniform(rng, batch * width, 0, 1), d = new float[batch * width];
        float[] w = Uniform(rng, width, 0.5, 2), terms = new float[batch * width];
        int[] labels = [0, 5, -100, 36, 2, 7];
        Loss[] withLabels = [new CrossEntropyLoss(w, labelSmoothing: 0.1f), new CrossEntropyLoss(reduction: Reduction.None), new NllLoss(w)];
        Loss[] withTargets = [new BinaryCrossEntropyWithLogitsLoss(w, posWeight: w), new MeanSquaredErrorLoss(Reduction.None), new L1Loss(),
            new SmoothL1Loss(beta: 0.5f), new HuberLoss(Reduction.Sum), new KLDivLoss(Reduction.BatchMean), new KLDivLoss(logTarget: true)];
        var soft = new CrossEntropyLoss(w);
        void Round()
        {
            foreach (Loss loss in withLabels) loss.Compute(x, labels, default, d, terms.AsSpan(0, batch), batch);
            soft.Compute(x, default, t, d, batch);   // class probabilities
            foreach (Loss loss in withTargets) loss.Compute(x, default, t, d, terms, batch);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Round, callsPerWindow: 10, "Compute of each loss", warmUpCalls: 1);
    }
}
