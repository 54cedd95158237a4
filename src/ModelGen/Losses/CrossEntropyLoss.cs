// Cross-entropy from logits with optional label smoothing, fused with its gradient. Per row x [classes] with label y,
// smoothed target q = (1 - ε)·onehot(y) + ε/C and shift s_c = x_c - max(x) (never exponentiate unshifted logits):
//   log p_c   = s_c - log Σ exp(s)                       (log-softmax; log Σ exp(s) >= 0 since the max term is 1)
//   loss_row  = -Σ q_c log p_c = log Σ exp(s) - (1 - ε)·s_y - (ε/C)·Σ s_c      (Σ q = 1)
//   ∂loss_row/∂x_c = p_c - q_c
// and the batch mean divides both by the batch size. Working with shifted logits keeps the subtraction of two large
// numbers (lse - x_y) out of the result, so logits of ±1e4 give exact, finite values. Three vector passes per row:
// max; exp(s) into dOutput with Σ exp(s) and Σ s; scale and shift dOutput in place.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>Cross-entropy over logits with PyTorch's <c>nn.CrossEntropyLoss(label_smoothing=ε)</c> semantics, mean over the batch.</summary>
internal sealed class CrossEntropyLoss : Loss
{
    private readonly float _smoothing;

    /// <summary>Creates the loss with label smoothing ε (already validated to lie in [0, 1]).</summary>
    public CrossEntropyLoss(float smoothing)
    {
        _smoothing = smoothing;
        Name = smoothing == 0 ? "CrossEntropy" : $"CrossEntropy(labelSmoothing: {smoothing.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
    }

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
        // Validate every label before writing anything, so a bad batch leaves dOutput untouched.
        for (int b = 0; b < batch; b++)
            if ((uint)labels[b] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[b],
                    $"{Name}: label {labels[b]} at batch index {b} is outside [0, {classes}) for {classes} classes.");

        double eps = _smoothing, offTarget = eps / classes;
        float invBatch = 1f / batch;
        float shift = (float)(-offTarget / batch);  // -q_c/B for every class; the label gets -(1-ε)/B more below
        double total = 0;
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> x = output.Slice(b * classes, classes);      // [classes]
            Span<float> d = dOutput.Slice(b * classes, classes);             // [classes]
            int y = labels[b];

            float max = RowMax(x);
            float sumExp = ExpShifted(x, d, max, out float sumShifted);
            double logSumExp = Math.Log(sumExp);
            double shiftedLabel = x[y] - max;
            total += logSumExp - (1 - eps) * shiftedLabel - offTarget * sumShifted;

            // d = p - q over B: exp(s)/Σexp(s)/B - ε/(C·B), then the label's extra -(1-ε)/B.
            ScaleShift(d, invBatch / sumExp, shift);
            d[y] -= (float)((1 - eps) / batch);
        }
        return (float)(total / batch);
    }

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
