// Cross-entropy from logits, PyTorch's nn.CrossEntropyLoss(weight, ignore_index, reduction, label_smoothing), fused with
// its gradient, for class-index targets and for class-probability (soft) targets. Per row x [classes], with shift
// s_c = x_c - max(x) (never exponentiate unshifted logits), lse = log Σ exp(s) (>= 0: the max term is 1) and
// log p_c = s_c - lse, every case is one coefficient vector r over the classes:
//   class index y:   r_c = (1 - ε)·w_y·[c = y] + (ε/C)·w_c          (PyTorch: (1-ε)·nll + ε/C·Σ_c -w_c log p_c)
//   probabilities q: r_c = w_c·((1 - ε)·q_c + ε/C)                  (PyTorch smooths q, then -Σ_c w_c q_c log p_c)
//   loss_row   = -Σ r_c log p_c = lse·R - Σ r_c s_c,   R = Σ r_c
//   ∂loss_row/∂x_c = R·p_c - r_c                                    (Σ_c p_c = 1)
// with w = 1 without class weights. Reduction 'mean' divides by Σ w_y over the counted rows for class indices (PyTorch's
// weighted mean; the row count without weights) and by the row count for probabilities; ignored rows contribute nothing
// and get a zero gradient. Working with shifted logits keeps the subtraction of two large numbers (lse - x_y) out of
// the result, so logits of ±1e4 give exact, finite values. Three vector passes per row: max; exp(s) into dOutput with
// Σ exp(s) and the dot products; then dOutput = exp(s)·R/(Σ exp(s)) - r in place (times the reduction's scale).
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>
/// Cross-entropy over logits, PyTorch's <c>nn.CrossEntropyLoss(weight, ignore_index, reduction, label_smoothing)</c>:
/// for a row x with class index y, <c>loss = -(1 - ε)·w_y·log_softmax(x)_y - (ε/C)·Σ_c w_c·log_softmax(x)_c</c>; for a row
/// of class probabilities q, <c>loss = -Σ_c w_c·((1 - ε)·q_c + ε/C)·log_softmax(x)_c</c>.
/// </summary>
/// <remarks>
/// <para>
/// Targets: class indices come in <c>labels</c> [batch]; when <c>labels</c> is empty, class probabilities come in
/// <c>targets</c> [batch, classes] (PyTorch tells them apart by dtype). Probabilities are not checked to be non-negative
/// or to sum to 1, as in PyTorch.
/// </para>
/// <para>
/// <see cref="Reduction.Mean"/> divides by the sum of <c>weight[y]</c> over the rows not ignored (the number of those
/// rows without weights) for class indices, and by the batch for probabilities. If that sum is 0 (every row ignored),
/// PyTorch returns NaN; this loss returns 0 and a zero gradient, so a batch made only of padding leaves the parameters
/// unchanged. <see cref="Reduction.None"/> gives one term per row, 0 for ignored rows.
/// </para>
/// <para>
/// The unit is the row of <c>output</c>: a sequence model passes its logits as <c>batch·seq</c> rows with one label per
/// position, padded positions labelled with the ignore index, as PyTorch's <c>cross_entropy(logits.view(-1, C), y.view(-1))</c>.
/// </para>
/// </remarks>
public sealed class CrossEntropyLoss : Loss
{
    private readonly float _smoothing;
    private readonly bool _ignores;
    private readonly int _ignoreIndex;
    private readonly float[]? _weight;   // [classes] or null
    private readonly double _weightSum;  // Σ weight (the class count without weights is used instead)

    /// <summary>Creates the loss with PyTorch's <c>nn.CrossEntropyLoss</c> arguments and defaults.</summary>
    /// <param name="weight">Class weights [classes] (PyTorch <c>weight</c>), copied; null for 1 per class.</param>
    /// <param name="ignoreIndex">Rows whose class index equals it are skipped (PyTorch <c>ignore_index</c>, default -100). Any
    /// value is allowed, including a real class; it must be negative when the targets are probabilities, as in PyTorch.</param>
    /// <param name="reduction"><see cref="Reduction.None"/>, <see cref="Reduction.Mean"/> (default) or <see cref="Reduction.Sum"/>.</param>
    /// <param name="labelSmoothing">ε in [0, 1] (PyTorch <c>label_smoothing</c>, default 0).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="labelSmoothing"/> is outside [0, 1], or
    /// <paramref name="reduction"/> is <see cref="Reduction.BatchMean"/> or undefined.</exception>
    /// <exception cref="ArgumentException"><paramref name="weight"/> is empty.</exception>
    public CrossEntropyLoss(float[]? weight = null, int ignoreIndex = DefaultIgnoreIndex, Reduction reduction = Reduction.Mean, float labelSmoothing = 0f)
        : this(CopyClassVector(weight, nameof(weight)), true, ignoreIndex, reduction, labelSmoothing)
    {
    }

    /// <summary>The shortcut <see cref="Loss.CrossEntropy"/> and <see cref="Loss.CrossEntropyWithLabelSmoothing"/>: no ignore index, every label must be a class.</summary>
    internal CrossEntropyLoss(float smoothing) : this(null, false, 0, Reduction.Mean, smoothing)
    {
    }

    private CrossEntropyLoss(float[]? weight, bool ignores, int ignoreIndex, Reduction reduction, float smoothing) : base(reduction)
    {
        if (reduction == Reduction.BatchMean)
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "CrossEntropyLoss takes None, Mean or Sum; BatchMean is KLDivLoss's.");
        CheckSmoothing(smoothing);
        _weight = weight;
        _smoothing = smoothing;
        _ignores = ignores;
        _ignoreIndex = ignoreIndex;
        if (weight is not null)
            foreach (float w in weight) _weightSum += w;
        Name = Describe("CrossEntropy",
            smoothing == 0 ? null : $"labelSmoothing: {Format(smoothing)}",
            ignores ? $"ignoreIndex: {Format(ignoreIndex)}" : null,
            weight is null ? null : $"weight: [{weight.Length}]",
            ReductionPart);
    }

    /// <summary>Throws unless ε lies in [0, 1].</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="smoothing"/> is outside [0, 1] or NaN.</exception>
    internal static void CheckSmoothing(float smoothing)
    {
        if (!(smoothing >= 0 && smoothing <= 1))
            throw new ArgumentOutOfRangeException("labelSmoothing", smoothing, "Label smoothing must be in [0, 1].");
    }

    /// <summary>The class index whose rows are skipped, or null when every row counts.</summary>
    public int? IgnoreIndex => _ignores ? _ignoreIndex : null;

    /// <summary>Label smoothing ε.</summary>
    public float LabelSmoothing => _smoothing;

    /// <summary>A copy of the class weights, or null without them.</summary>
    public float[]? Weight => (float[]?)_weight?.Clone();

    /// <summary>PyTorch's <c>loss(logits, target)</c> with class indices, followed by <c>backward()</c>: returns the reduced loss and overwrites <paramref name="dLogits"/> with its gradient.</summary>
    /// <param name="logits">[batch, classes].</param>
    /// <param name="labels">Class indices [batch] in [0, classes), or the ignore index.</param>
    /// <param name="dLogits">Receives ∂loss/∂logits [batch, classes].</param>
    /// <param name="batch">Rows (&gt; 0).</param>
    /// <returns>The reduced loss.</returns>
    /// <exception cref="InvalidOperationException"><see cref="Loss.Reduction"/> is <see cref="Reduction.None"/>: use the
    /// overload of <see cref="Loss.Compute(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/> with a losses span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is not positive, or a label is outside [0, classes) and not the ignore index.</exception>
    /// <exception cref="ArgumentException">A span's length does not match [batch, classes], or the weight does not have one value per class.</exception>
    public float Compute(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, Span<float> dLogits, int batch)
        => Compute(logits, labels, default, dLogits, batch);

    /// <summary>PyTorch's <c>loss(logits, target)</c> with class probabilities, followed by <c>backward()</c>: returns the reduced loss and overwrites <paramref name="dLogits"/> with its gradient.</summary>
    /// <param name="logits">[batch, classes].</param>
    /// <param name="probabilities">Class probabilities [batch, classes] (not checked to sum to 1, as in PyTorch).</param>
    /// <param name="dLogits">Receives ∂loss/∂logits [batch, classes].</param>
    /// <param name="batch">Rows (&gt; 0).</param>
    /// <returns>The reduced loss.</returns>
    /// <exception cref="InvalidOperationException"><see cref="Loss.Reduction"/> is <see cref="Reduction.None"/>: use the
    /// overload of <see cref="Loss.Compute(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/> with a losses span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A span's length does not match [batch, classes], the weight does not have one
    /// value per class, or <see cref="IgnoreIndex"/> is not negative (PyTorch rejects it with probabilities).</exception>
    public float Compute(ReadOnlySpan<float> logits, ReadOnlySpan<float> probabilities, Span<float> dLogits, int batch)
        => Compute(logits, default, probabilities, dLogits, batch);

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    public override bool UsesLabels => true;

    /// <inheritdoc/>
    protected override float ComputeCore(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch)
    {
        int classes = ValidateOutput(output, dOutput, batch);
        ValidateClassVector(_weight, "weight", classes);
        return labels.IsEmpty && !targets.IsEmpty
            ? Probabilities(output, targets, dOutput, losses, batch, classes)
            : ClassIndices(output, labels, dOutput, losses, batch, classes);
    }

    private float ClassIndices(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, Span<float> dOutput, Span<float> losses, int batch, int classes)
    {
        if (labels.Length != batch)
            throw new ArgumentException(
                $"{Name}: labels length must equal the batch size {batch}, but was {labels.Length} (class probabilities go in targets, with labels empty).",
                nameof(labels));
        // Validate every label before writing anything, so a bad batch leaves dOutput untouched; sum the weights of the
        // counted rows, the 'mean' denominator.
        double counted = 0;
        for (int b = 0; b < batch; b++)
        {
            int label = labels[b];
            if (_ignores && label == _ignoreIndex) continue;
            if ((uint)label >= (uint)classes) ThrowLabelOutOfRange(label, b, classes);
            counted += _weight is null ? 1 : _weight[label];
        }
        double denominator = Reduction == Reduction.Mean ? counted : 1;
        if (denominator == 0)
        {
            // Every row ignored (or weighted 0): PyTorch returns NaN (0/0). A padded tail batch must not poison training,
            // so the loss is 0 and nothing is learnt from it.
            dOutput.Clear();
            losses.Clear();
            return 0f;
        }

        double eps = _smoothing, offTarget = eps / classes;
        double weightSum = _weight is null ? classes : _weightSum;
        double scale = 1 / denominator;
        double total = 0;
        ReadOnlySpan<float> weight = _weight;
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> x = output.Slice(b * classes, classes);      // [classes]
            Span<float> d = dOutput.Slice(b * classes, classes);             // [classes]
            int y = labels[b];
            if (_ignores && y == _ignoreIndex)
            {
                d.Clear();
                if (!losses.IsEmpty) losses[b] = 0;
                continue;
            }

            double wy = _weight is null ? 1 : _weight[y];
            float max = RowMax(x);
            float sumExp = _weight is null
                ? ExpShifted<No, No>(x, d, weight, default, max, out float ws, out _, out _)
                : ExpShifted<Yes, No>(x, d, weight, default, max, out ws, out _, out _);
            double lse = Math.Log(sumExp);
            double r = (1 - eps) * wy + offTarget * weightSum;   // R = Σ_c r_c
            double rowLoss = lse * r - (1 - eps) * wy * (x[y] - max) - offTarget * ws;
            total += rowLoss;
            if (!losses.IsEmpty) losses[b] = (float)rowLoss;

            // d = (R·p - r)·scale: exp(s)·R·scale/Σexp(s) - (ε/C)·w·scale, then the label's extra -(1-ε)·w_y·scale.
            float a = (float)(r * scale / sumExp), b0 = (float)(-offTarget * scale);
            if (_weight is null) Finish<No, No>(d, weight, default, a, b0, 0);
            else Finish<Yes, No>(d, weight, default, a, b0, 0);
            d[y] -= (float)((1 - eps) * wy * scale);
        }
        return (float)(total * scale);
    }

    private float Probabilities(ReadOnlySpan<float> output, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch, int classes)
    {
        ValidateTargets(targets, batch, classes);
        if (_ignores && _ignoreIndex >= 0)
            throw new ArgumentException(
                $"{Name}: ignore_index {_ignoreIndex} is not supported for class-probability targets (PyTorch requires it to be negative).", nameof(targets));
        double eps = _smoothing, offTarget = eps / classes;
        double weightSum = _weight is null ? classes : _weightSum;
        double scale = Reduction == Reduction.Mean ? 1.0 / batch : 1;
        double total = 0;
        ReadOnlySpan<float> weight = _weight;
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> x = output.Slice(b * classes, classes);      // [classes]
            ReadOnlySpan<float> q = targets.Slice(b * classes, classes);     // [classes]
            Span<float> d = dOutput.Slice(b * classes, classes);             // [classes]
            float max = RowMax(x);
            float sumExp = _weight is null
                ? ExpShifted<No, Yes>(x, d, weight, q, max, out float ws, out float wqs, out float wq)
                : ExpShifted<Yes, Yes>(x, d, weight, q, max, out ws, out wqs, out wq);
            double lse = Math.Log(sumExp);
            double r = (1 - eps) * wq + offTarget * weightSum;
            double rowLoss = lse * r - (1 - eps) * wqs - offTarget * ws;
            total += rowLoss;
            if (!losses.IsEmpty) losses[b] = (float)rowLoss;

            // d = (R·p - w·((1-ε)·q + ε/C))·scale
            float a = (float)(r * scale / sumExp), b0 = (float)(-offTarget * scale), b1 = (float)(-(1 - eps) * scale);
            if (_weight is null) Finish<No, Yes>(d, weight, q, a, b0, b1);
            else Finish<Yes, Yes>(d, weight, q, a, b0, b1);
        }
        return (float)(total * scale);
    }

    private void ThrowLabelOutOfRange(int label, int row, int classes)
        => throw new ArgumentOutOfRangeException("labels", label, _ignores
            ? $"{Name}: label {label} at row {row} is outside [0, {classes}) for {classes} classes and is not the ignore index {_ignoreIndex}."
            : $"{Name}: label {label} at batch index {row} is outside [0, {classes}) for {classes} classes.");

    /// <summary>max_c x_c.</summary>
    internal static float RowMax(ReadOnlySpan<float> x)
    {
        ref float r = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float max = float.NegativeInfinity;
        if (V512.IsAccelerated) max = MathF.Max(max, Max<Vector512<float>, V512>(ref r, ref i, n));
        if (V256.IsAccelerated) max = MathF.Max(max, Max<Vector256<float>, V256>(ref r, ref i, n));
        if (V128.IsAccelerated) max = MathF.Max(max, Max<Vector128<float>, V128>(ref r, ref i, n));
        return MathF.Max(max, Max<float, Scalar>(ref r, ref i, n));
    }

    private static float Max<TV, TOps>(ref float x, ref int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return float.NegativeInfinity;
        TV acc = TOps.Load(ref x, (nuint)i);
        for (i += TOps.Count; i <= n - TOps.Count; i += TOps.Count)
            acc = TOps.Max(acc, TOps.Load(ref x, (nuint)i));
        return TOps.MaxAcross(acc);
    }

    /// <summary>
    /// Writes e = exp(x - max) into <paramref name="e"/> and returns Σ e; also Σ w·s (<paramref name="ws"/>), and with
    /// <typeparamref name="TQ"/> Σ w·q·s (<paramref name="wqs"/>) and Σ w·q (<paramref name="wq"/>), where s = x - max and
    /// w = 1 without <typeparamref name="TW"/>.
    /// </summary>
    private static float ExpShifted<TW, TQ>(ReadOnlySpan<float> x, Span<float> e, ReadOnlySpan<float> w, ReadOnlySpan<float> q, float max,
        out float ws, out float wqs, out float wq) where TW : IFlag where TQ : IFlag
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float er = ref MemoryMarshal.GetReference(e);
        ref float wr = ref MemoryMarshal.GetReference(w);
        ref float qr = ref MemoryMarshal.GetReference(q);
        int n = x.Length, i = 0;
        float sumExp = 0;
        ws = wqs = wq = 0;
        if (V512.IsAccelerated) sumExp += ExpShifted<Vector512<float>, V512, TW, TQ>(ref xr, ref er, ref wr, ref qr, max, ref i, n, ref ws, ref wqs, ref wq);
        if (V256.IsAccelerated) sumExp += ExpShifted<Vector256<float>, V256, TW, TQ>(ref xr, ref er, ref wr, ref qr, max, ref i, n, ref ws, ref wqs, ref wq);
        if (V128.IsAccelerated) sumExp += ExpShifted<Vector128<float>, V128, TW, TQ>(ref xr, ref er, ref wr, ref qr, max, ref i, n, ref ws, ref wqs, ref wq);
        sumExp += ExpShifted<float, Scalar, TW, TQ>(ref xr, ref er, ref wr, ref qr, max, ref i, n, ref ws, ref wqs, ref wq);
        return sumExp;
    }

    private static float ExpShifted<TV, TOps, TW, TQ>(ref float x, ref float e, ref float w, ref float q, float max, ref int i, int n,
        ref float ws, ref float wqs, ref float wq)
        where TV : struct where TOps : ISimdOps<TV> where TW : IFlag where TQ : IFlag
    {
        if (n - i < TOps.Count) return 0;
        TV m = TOps.Create(max), one = TOps.Create(1f);
        TV accExp = TOps.Create(0), accWs = TOps.Create(0), accWqs = TOps.Create(0), accWq = TOps.Create(0);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV s = TOps.Subtract(TOps.Load(ref x, (nuint)i), m);
            TV ev = TOps.Exp(s);
            TOps.Store(ev, ref e, (nuint)i);
            accExp = TOps.Add(accExp, ev);
            TV wv = TW.Value ? TOps.Load(ref w, (nuint)i) : one;
            accWs = TW.Value ? TOps.MultiplyAdd(wv, s, accWs) : TOps.Add(accWs, s);
            if (TQ.Value)
            {
                TV wqv = TW.Value ? TOps.Multiply(wv, TOps.Load(ref q, (nuint)i)) : TOps.Load(ref q, (nuint)i);
                accWqs = TOps.MultiplyAdd(wqv, s, accWqs);
                accWq = TOps.Add(accWq, wqv);
            }
        }
        ws += TOps.Sum(accWs);
        if (TQ.Value)
        {
            wqs += TOps.Sum(accWqs);
            wq += TOps.Sum(accWq);
        }
        return TOps.Sum(accExp);
    }

    /// <summary>d = d·a + w·(q·b1 + b0) in place (w = 1 without <typeparamref name="TW"/>, q = 0 without <typeparamref name="TQ"/>).</summary>
    private static void Finish<TW, TQ>(Span<float> d, ReadOnlySpan<float> w, ReadOnlySpan<float> q, float a, float b0, float b1)
        where TW : IFlag where TQ : IFlag
    {
        ref float dr = ref MemoryMarshal.GetReference(d);
        ref float wr = ref MemoryMarshal.GetReference(w);
        ref float qr = ref MemoryMarshal.GetReference(q);
        int n = d.Length, i = 0;
        if (V512.IsAccelerated) i = Finish<Vector512<float>, V512, TW, TQ>(ref dr, ref wr, ref qr, a, b0, b1, i, n);
        if (V256.IsAccelerated) i = Finish<Vector256<float>, V256, TW, TQ>(ref dr, ref wr, ref qr, a, b0, b1, i, n);
        if (V128.IsAccelerated) i = Finish<Vector128<float>, V128, TW, TQ>(ref dr, ref wr, ref qr, a, b0, b1, i, n);
        Finish<float, Scalar, TW, TQ>(ref dr, ref wr, ref qr, a, b0, b1, i, n);
    }

    private static int Finish<TV, TOps, TW, TQ>(ref float d, ref float w, ref float q, float a, float b0, float b1, int i, int n)
        where TV : struct where TOps : ISimdOps<TV> where TW : IFlag where TQ : IFlag
    {
        TV av = TOps.Create(a), b0v = TOps.Create(b0), b1v = TOps.Create(b1);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV coefficient = TQ.Value ? TOps.MultiplyAdd(TOps.Load(ref q, (nuint)i), b1v, b0v) : b0v;
            if (TW.Value) coefficient = TOps.Multiply(coefficient, TOps.Load(ref w, (nuint)i));
            TOps.Store(TOps.MultiplyAdd(TOps.Load(ref d, (nuint)i), av, coefficient), ref d, (nuint)i);
        }
        return i;
    }
}
