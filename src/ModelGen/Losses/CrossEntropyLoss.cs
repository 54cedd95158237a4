// Cross-entropy from logits with optional label smoothing and ignore_index, fused with its gradient. Per row x
// [classes] with label y, smoothed target q = (1 - ε)·onehot(y) + ε/C and shift s_c = x_c - max(x) (never
// exponentiate unshifted logits):
//   log p_c   = s_c - log Σ exp(s)                       (log-softmax; log Σ exp(s) >= 0 since the max term is 1)
//   loss_row  = -Σ q_c log p_c = log Σ exp(s) - (1 - ε)·s_y - (ε/C)·Σ s_c      (Σ q = 1)
//   ∂loss_row/∂x_c = p_c - q_c
// and the mean divides both by the number of counted rows N: every row, or with ignore_index the rows whose label is
// not ignoreIndex (PyTorch's nll and label-smoothing terms both divide by that count when there are no class
// weights); ignored rows contribute nothing and get a zero gradient. Working with shifted logits keeps the
// subtraction of two large numbers (lse - x_y) out of the result, so logits of ±1e4 give exact, finite values. Three
// vector passes per row: max; exp(s) into dOutput with Σ exp(s) and Σ s; scale and shift dOutput in place.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>
/// Cross-entropy over logits with PyTorch's <c>nn.CrossEntropyLoss(label_smoothing=ε, ignore_index=i)</c> semantics,
/// mean over the counted rows.
/// </summary>
internal sealed class CrossEntropyLoss : Loss
{
    private readonly float _smoothing;
    private readonly bool _ignores;
    private readonly int _ignoreIndex;

    /// <summary>Creates the loss with label smoothing ε (already validated to lie in [0, 1]), counting every row.</summary>
    public CrossEntropyLoss(float smoothing)
    {
        _smoothing = smoothing;
        Name = smoothing == 0 ? "CrossEntropy" : $"CrossEntropy(labelSmoothing: {Format(smoothing)})";
    }

    /// <summary>Creates the loss with label smoothing ε, skipping rows labelled <paramref name="ignoreIndex"/>.</summary>
    public CrossEntropyLoss(float smoothing, int ignoreIndex)
    {
        _smoothing = smoothing;
        _ignores = true;
        _ignoreIndex = ignoreIndex;
        Name = smoothing == 0
            ? $"CrossEntropy(ignoreIndex: {Format(ignoreIndex)})"
            : $"CrossEntropy(labelSmoothing: {Format(smoothing)}, ignoreIndex: {Format(ignoreIndex)})";
    }

    /// <summary>The label whose rows are skipped, or null when every row counts.</summary>
    public int? IgnoreIndex => _ignores ? _ignoreIndex : null;

    private static string Format(float value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Format(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    public override bool UsesLabels => true;

    /// <inheritdoc/>
    public override float Compute(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, int batch)
    {
        int classes = ValidateOutput(output, dOutput, batch);
        if (labels.Length != batch)
            throw new ArgumentException($"{Name}: labels length must equal the batch size {batch}, but was {labels.Length}.", nameof(labels));
        // Validate every label before writing anything, so a bad batch leaves dOutput untouched; count the rows that
        // take part in the mean.
        int counted = 0;
        for (int b = 0; b < batch; b++)
        {
            int label = labels[b];
            if (_ignores && label == _ignoreIndex) continue;
            if ((uint)label >= (uint)classes) ThrowLabelOutOfRange(label, b, classes);
            counted++;
        }
        if (counted == 0)
        {
            // Every row ignored: PyTorch returns NaN (0/0). A padded tail batch must not poison training, so the loss
            // is 0 and nothing is learnt from it.
            dOutput.Clear();
            return 0f;
        }

        double eps = _smoothing, offTarget = eps / classes;
        float invCount = 1f / counted;
        float shift = (float)(-offTarget / counted);  // -q_c/N for every class; the label gets -(1-ε)/N more below
        double total = 0;
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> x = output.Slice(b * classes, classes);      // [classes]
            Span<float> d = dOutput.Slice(b * classes, classes);             // [classes]
            int y = labels[b];
            if (_ignores && y == _ignoreIndex)
            {
                d.Clear();
                continue;
            }

            float max = RowMax(x);
            float sumExp = ExpShifted(x, d, max, out float sumShifted);
            double logSumExp = Math.Log(sumExp);
            double shiftedLabel = x[y] - max;
            total += logSumExp - (1 - eps) * shiftedLabel - offTarget * sumShifted;

            // d = p - q over N: exp(s)/Σexp(s)/N - ε/(C·N), then the label's extra -(1-ε)/N.
            ScaleShift(d, invCount / sumExp, shift);
            d[y] -= (float)((1 - eps) / counted);
        }
        return (float)(total / counted);
    }

    private void ThrowLabelOutOfRange(int label, int row, int classes)
        => throw new ArgumentOutOfRangeException("labels", label, _ignores
            ? $"{Name}: label {label} at row {row} is outside [0, {classes}) for {classes} classes and is not the ignore index {_ignoreIndex}."
            : $"{Name}: label {label} at batch index {row} is outside [0, {classes}) for {classes} classes.");

    private static float RowMax(ReadOnlySpan<float> x)
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

    /// <summary>Writes exp(x - max) into <paramref name="e"/>; returns Σ exp(x - max) and, in <paramref name="sumShifted"/>, Σ (x - max).</summary>
    private static float ExpShifted(ReadOnlySpan<float> x, Span<float> e, float max, out float sumShifted)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float er = ref MemoryMarshal.GetReference(e);
        int n = x.Length, i = 0;
        float sumExp = 0;
        sumShifted = 0;
        if (V512.IsAccelerated) sumExp += ExpShifted<Vector512<float>, V512>(ref xr, ref er, max, ref i, n, ref sumShifted);
        if (V256.IsAccelerated) sumExp += ExpShifted<Vector256<float>, V256>(ref xr, ref er, max, ref i, n, ref sumShifted);
        if (V128.IsAccelerated) sumExp += ExpShifted<Vector128<float>, V128>(ref xr, ref er, max, ref i, n, ref sumShifted);
        sumExp += ExpShifted<float, Scalar>(ref xr, ref er, max, ref i, n, ref sumShifted);
        return sumExp;
    }

    private static float ExpShifted<TV, TOps>(ref float x, ref float e, float max, ref int i, int n, ref float sumShifted)
        where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return 0;
        TV m = TOps.Create(max), accExp = TOps.Create(0), accShifted = TOps.Create(0);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV s = TOps.Subtract(TOps.Load(ref x, (nuint)i), m);
            TV ev = TOps.Exp(s);
            TOps.Store(ev, ref e, (nuint)i);
            accExp = TOps.Add(accExp, ev);
            accShifted = TOps.Add(accShifted, s);
        }
        sumShifted += TOps.Sum(accShifted);
        return TOps.Sum(accExp);
    }

    /// <summary>d = d * scale + shift, in place.</summary>
    private static void ScaleShift(Span<float> d, float scale, float shift)
    {
        ref float r = ref MemoryMarshal.GetReference(d);
        int n = d.Length, i = 0;
        if (V512.IsAccelerated) i = ScaleShift<Vector512<float>, V512>(ref r, scale, shift, i, n);
        if (V256.IsAccelerated) i = ScaleShift<Vector256<float>, V256>(ref r, scale, shift, i, n);
        if (V128.IsAccelerated) i = ScaleShift<Vector128<float>, V128>(ref r, scale, shift, i, n);
        ScaleShift<float, Scalar>(ref r, scale, shift, i, n);
    }

    private static int ScaleShift<TV, TOps>(ref float d, float scale, float shift, int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        TV a = TOps.Create(scale), b = TOps.Create(shift);
        for (; i <= n - TOps.Count; i += TOps.Count)
            TOps.Store(TOps.MultiplyAdd(TOps.Load(ref d, (nuint)i), a, b), ref d, (nuint)i);
        return i;
    }
}
