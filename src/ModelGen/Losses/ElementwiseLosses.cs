// The element-wise losses: each output element x with its target t gives one term ℓ(x, t), PyTorch's MSELoss, L1Loss,
// SmoothL1Loss, HuberLoss, BCEWithLogitsLoss and KLDivLoss. Every loss is an IPointwiseLoss operator struct (the term and
// its derivative, written once for every vector width) run by one driver: one fused pass writes the gradient (times the
// reduction's scale), optionally the unreduced terms, and returns the sum. Sums run in float vectors within blocks of
// BlockLength elements (or one row, with per-class parameters) and in double across blocks, so large outputs keep their
// precision and the result does not depend on alignment.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>One element-wise loss term and its derivative with respect to x.</summary>
internal interface IPointwiseLoss
{
    /// <summary>Returns ℓ(x, t) and writes ∂ℓ/∂x into <paramref name="dx"/>; <paramref name="a"/> and <paramref name="b"/> are the loss's parameters (per class or constant).</summary>
    static abstract TV Invoke<TV, TOps>(TV x, TV t, TV a, TV b, out TV dx) where TV : struct where TOps : ISimdOps<TV>;
}

/// <summary>The driver of every <see cref="IPointwiseLoss"/>: tiers, tails, blocks, the optional per-term output.</summary>
internal static class PointwiseLoss
{
    private const int BlockLength = 4096;

    /// <summary>
    /// Runs <typeparamref name="TOp"/> over every element with constant parameters: d = ∂ℓ/∂x·<paramref name="gradScale"/>,
    /// losses = ℓ when not empty; returns Σ ℓ.
    /// </summary>
    public static double Run<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> t, Span<float> d, Span<float> losses, float a, float b, float gradScale)
        where TOp : IPointwiseLoss
    {
        int count = x.Length;
        double total = 0;
        for (int start = 0; start < count; start += BlockLength)
        {
            int n = Math.Min(BlockLength, count - start);
            total += losses.IsEmpty
                ? Segment<TOp, No, No>(x.Slice(start, n), t.Slice(start, n), d.Slice(start, n), default, default, default, a, b, gradScale)
                : Segment<TOp, No, Yes>(x.Slice(start, n), t.Slice(start, n), d.Slice(start, n), losses.Slice(start, n), default, default, a, b, gradScale);
        }
        return total;
    }

    /// <summary>As <see cref="Run{TOp}"/>, with the parameters a and b given per column ([width] each), row by row.</summary>
    public static double RunPerColumn<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> t, Span<float> d, Span<float> losses, int width,
        ReadOnlySpan<float> columnA, ReadOnlySpan<float> columnB, float gradScale) where TOp : IPointwiseLoss
    {
        double total = 0;
        for (int start = 0; start < x.Length; start += width)
        {
            total += losses.IsEmpty
                ? Segment<TOp, Yes, No>(x.Slice(start, width), t.Slice(start, width), d.Slice(start, width), default, columnA, columnB, 0, 0, gradScale)
                : Segment<TOp, Yes, Yes>(x.Slice(start, width), t.Slice(start, width), d.Slice(start, width), losses.Slice(start, width),
                    columnA, columnB, 0, 0, gradScale);
        }
        return total;
    }

    private static float Segment<TOp, TColumns, TLosses>(ReadOnlySpan<float> x, ReadOnlySpan<float> t, Span<float> d, Span<float> losses,
        ReadOnlySpan<float> columnA, ReadOnlySpan<float> columnB, float a, float b, float gradScale)
        where TOp : IPointwiseLoss where TColumns : IFlag where TLosses : IFlag
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float tr = ref MemoryMarshal.GetReference(t);
        ref float dr = ref MemoryMarshal.GetReference(d);
        ref float lr = ref MemoryMarshal.GetReference(losses);
        ref float ar = ref MemoryMarshal.GetReference(columnA);
        ref float br = ref MemoryMarshal.GetReference(columnB);
        int n = x.Length, i = 0;
        float sum = 0;
        if (V512.IsAccelerated) sum += Block<Vector512<float>, V512, TOp, TColumns, TLosses>(ref xr, ref tr, ref dr, ref lr, ref ar, ref br, a, b, gradScale, ref i, n);
        if (V256.IsAccelerated) sum += Block<Vector256<float>, V256, TOp, TColumns, TLosses>(ref xr, ref tr, ref dr, ref lr, ref ar, ref br, a, b, gradScale, ref i, n);
        if (V128.IsAccelerated) sum += Block<Vector128<float>, V128, TOp, TColumns, TLosses>(ref xr, ref tr, ref dr, ref lr, ref ar, ref br, a, b, gradScale, ref i, n);
        sum += Block<float, Scalar, TOp, TColumns, TLosses>(ref xr, ref tr, ref dr, ref lr, ref ar, ref br, a, b, gradScale, ref i, n);
        return sum;
    }

    private static float Block<TV, TOps, TOp, TColumns, TLosses>(ref float x, ref float t, ref float d, ref float losses, ref float columnA,
        ref float columnB, float a, float b, float gradScale, ref int i, int n)
        where TV : struct where TOps : ISimdOps<TV> where TOp : IPointwiseLoss where TColumns : IFlag where TLosses : IFlag
    {
        if (n - i < TOps.Count) return 0;
        TV scale = TOps.Create(gradScale), av = TOps.Create(a), bv = TOps.Create(b), acc = TOps.Create(0f);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            if (TColumns.Value)
            {
                av = TOps.Load(ref columnA, (nuint)i);
                bv = TOps.Load(ref columnB, (nuint)i);
            }
            TV loss = TOp.Invoke<TV, TOps>(TOps.Load(ref x, (nuint)i), TOps.Load(ref t, (nuint)i), av, bv, out TV dx);
            acc = TOps.Add(acc, loss);
            TOps.Store(TOps.Multiply(dx, scale), ref d, (nuint)i);
            if (TLosses.Value) TOps.Store(loss, ref losses, (nuint)i);
        }
        return TOps.Sum(acc);
    }

    /// <summary>sign(v): -1, 0 or 1 (0 at ±0, as PyTorch's sign, which the L1 gradient uses).</summary>
    internal static TV Sign<TV, TOps>(TV v) where TV : struct where TOps : ISimdOps<TV>
    {
        TV one = TOps.Create(1f), zero = TOps.Create(0f);
        TV nonZero = TOps.SelectWhereNonNegative(TOps.Subtract(zero, TOps.Abs(v)), zero, one);   // -|v| >= 0 only at 0
        return TOps.Multiply(TOps.SelectWhereNonNegative(v, one, TOps.Create(-1f)), nonZero);
    }

    /// <summary>The reduction's scale of the gradient and the sum: 1/elements for Mean, 1/batch for BatchMean, 1 otherwise.</summary>
    internal static float Scale(Reduction reduction, int elements, int batch) => reduction switch
    {
        Reduction.Mean => 1f / elements,
        Reduction.BatchMean => 1f / batch,
        _ => 1f,
    };

    /// <summary>Applies the scale to the sum in double: the mean over elements (or rows) or the sum itself.</summary>
    internal static float Reduce(double total, Reduction reduction, int elements, int batch) => reduction switch
    {
        Reduction.Mean => (float)(total / elements),
        Reduction.BatchMean => (float)(total / batch),
        _ => (float)total,
    };

    /// <summary>Rejects <see cref="Reduction.BatchMean"/> for every loss but KLDiv.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reduction"/> is <see cref="Reduction.BatchMean"/>.</exception>
    internal static Reduction NotBatchMean(Reduction reduction, string loss) => reduction == Reduction.BatchMean
        ? throw new ArgumentOutOfRangeException(nameof(reduction), reduction, $"{loss} takes None, Mean or Sum; BatchMean is KLDivLoss's.")
        : reduction;
}

/// <summary>(x - t)², derivative 2(x - t).</summary>
internal readonly struct SquaredErrorOperator : IPointwiseLoss
{
    public static TV Invoke<TV, TOps>(TV x, TV t, TV a, TV b, out TV dx) where TV : struct where TOps : ISimdOps<TV>
    {
        TV diff = TOps.Subtract(x, t);
        dx = TOps.Add(diff, diff);
        return TOps.Multiply(diff, diff);
    }
}

/// <summary>|x - t|, derivative sign(x - t).</summary>
internal readonly struct AbsoluteErrorOperator : IPointwiseLoss
{
    public static TV Invoke<TV, TOps>(TV x, TV t, TV a, TV b, out TV dx) where TV : struct where TOps : ISimdOps<TV>
    {
        TV diff = TOps.Subtract(x, t);
        dx = PointwiseLoss.Sign<TV, TOps>(diff);
        return TOps.Abs(diff);
    }
}

/// <summary>
/// Smooth L1 with a = β &gt; 0, b = 1/β: 0.5·d²/β where |d| &lt; β, else |d| - 0.5·β; derivative d/β or sign(d). Both pieces
/// agree at |d| = β, so the comparison may be ≤.
/// </summary>
internal readonly struct SmoothL1Operator : IPointwiseLoss
{
    public static TV Invoke<TV, TOps>(TV x, TV t, TV a, TV b, out TV dx) where TV : struct where TOps : ISimdOps<TV>
    {
        TV diff = TOps.Subtract(x, t), abs = TOps.Abs(diff), half = TOps.Create(0.5f);
        TV inside = TOps.Subtract(a, abs);   // >= 0: quadratic piece
        TV scaled = TOps.Multiply(diff, b);
        dx = TOps.SelectWhereNonNegative(inside, scaled, PointwiseLoss.Sign<TV, TOps>(diff));
        return TOps.SelectWhereNonNegative(inside, TOps.Multiply(TOps.Multiply(half, diff), scaled), TOps.Subtract(abs, TOps.Multiply(half, a)));
    }
}

/// <summary>Huber with a = δ &gt; 0: 0.5·d² where |d| ≤ δ, else δ·(|d| - 0.5·δ); derivative d or δ·sign(d).</summary>
internal readonly struct HuberOperator : IPointwiseLoss
{
    public static TV Invoke<TV, TOps>(TV x, TV t, TV a, TV b, out TV dx) where TV : struct where TOps : ISimdOps<TV>
    {
        TV diff = TOps.Subtract(x, t), abs = TOps.Abs(diff), half = TOps.Create(0.5f);
        TV inside = TOps.Subtract(a, abs);
        dx = TOps.SelectWhereNonNegative(inside, diff, TOps.Multiply(a, PointwiseLoss.Sign<TV, TOps>(diff)));
        return TOps.SelectWhereNonNegative(inside, TOps.Multiply(TOps.Multiply(half, diff), diff),
            TOps.Multiply(a, TOps.Subtract(abs, TOps.Multiply(half, a))));
    }
}

/// <summary>
/// Binary cross-entropy on logits with a = weight, b = pos_weight p, PyTorch's stable form:
/// w·[(1 - t)·x + (1 + (p - 1)·t)·(log(1 + exp(-|x|)) + max(-x, 0))]; derivative w·[σ(x) - t + (p - 1)·t·(σ(x) - 1)].
/// </summary>
/// <remarks>
/// One exponential per element serves both: with e = exp(-|x|) (never overflows) and u = 1 + e, σ(x) is 1/u for x ≥ 0 and
/// e/u otherwise. log(1 + e) is log(u) + (e - (u - 1))/u, which recovers what rounding u lost (so a tiny e still counts,
/// as with log1p) without a branch.
/// </remarks>
internal readonly struct BinaryCrossEntropyWithLogitsOperator : IPointwiseLoss
{
    public static TV Invoke<TV, TOps>(TV x, TV t, TV a, TV b, out TV dx) where TV : struct where TOps : ISimdOps<TV>
    {
        TV one = TOps.Create(1f), zero = TOps.Create(0f);
        TV e = TOps.Exp(TOps.Subtract(zero, TOps.Abs(x)));
        TV u = TOps.Add(one, e);
        TV log1pE = TOps.Add(TOps.Log(u), TOps.Divide(TOps.Subtract(e, TOps.Subtract(u, one)), u));
        TV softplusNegX = TOps.Add(log1pE, TOps.Max(TOps.Subtract(zero, x), zero));   // -log σ(x)
        TV logWeight = TOps.MultiplyAdd(TOps.Subtract(b, one), t, one);                 // 1 + (p - 1)·t
        TV oneMinusT = TOps.Subtract(one, t);
        // (1 - t) - (1 + (p - 1)·t)·(1 - σ(x)) rearranged as σ(x) - t + (p - 1)·t·(σ(x) - 1), so that without pos_weight
        // it is exactly σ(x) - t (0 for a saturated, correct logit), as before pos_weight existed.
        TV sigmoid = TOps.Divide(TOps.SelectWhereNonNegative(x, one, e), u);
        TV dxUnweighted = TOps.MultiplyAdd(TOps.Subtract(logWeight, one), TOps.Subtract(sigmoid, one), TOps.Subtract(sigmoid, t));
        dx = TOps.Multiply(a, dxUnweighted);
        return TOps.Multiply(a, TOps.MultiplyAdd(oneMinusT, x, TOps.Multiply(logWeight, softplusNegX)));
    }
}

/// <summary>KL divergence term with a probability target: t·log t - t·x (0 where t = 0, as PyTorch's xlogy); derivative -t.</summary>
internal readonly struct KLDivOperator : IPointwiseLoss
{
    public static TV Invoke<TV, TOps>(TV x, TV t, TV a, TV b, out TV dx) where TV : struct where TOps : ISimdOps<TV>
    {
        TV zero = TOps.Create(0f);
        TV tLogT = TOps.SelectWhereNonNegative(TOps.Subtract(zero, TOps.Abs(t)), zero, TOps.Multiply(t, TOps.Log(t)));
        dx = TOps.Subtract(zero, t);
        return TOps.Subtract(tLogT, TOps.Multiply(t, x));
    }
}

/// <summary>KL divergence term with a log-probability target: exp(t)·(t - x); derivative -exp(t).</summary>
internal readonly struct KLDivLogTargetOperator : IPointwiseLoss
{
    public static TV Invoke<TV, TOps>(TV x, TV t, TV a, TV b, out TV dx) where TV : struct where TOps : ISimdOps<TV>
    {
        TV p = TOps.Exp(t);
        dx = TOps.Subtract(TOps.Create(0f), p);
        return TOps.Multiply(p, TOps.Subtract(t, x));
    }
}

/// <summary>
/// A loss of outputs against float targets of the same shape [batch, width], one term per element (<see cref="MeanSquaredErrorLoss"/>,
/// <see cref="L1Loss"/>, <see cref="SmoothL1Loss"/>, <see cref="HuberLoss"/>, <see cref="BinaryCrossEntropyWithLogitsLoss"/>,
/// <see cref="KLDivLoss"/>): they share the call that takes targets and no labels.
/// </summary>
public abstract class ElementwiseLoss : Loss
{
    /// <summary>The loss's description, set by each constructor once the reduction is known.</summary>
    private protected string _name = "";

    private protected ElementwiseLoss(Reduction reduction) : base(reduction) { }

    /// <summary>PyTorch's <c>loss(input, target)</c> followed by <c>backward()</c>: returns the reduced loss and overwrites <paramref name="dInput"/> with its gradient.</summary>
    /// <param name="input">[batch, width].</param>
    /// <param name="target">[batch, width].</param>
    /// <param name="dInput">Receives ∂loss/∂input [batch, width].</param>
    /// <param name="batch">Rows (&gt; 0).</param>
    /// <returns>The reduced loss.</returns>
    /// <exception cref="InvalidOperationException"><see cref="Loss.Reduction"/> is <see cref="Reduction.None"/>: use the
    /// overload of <see cref="Loss.Compute(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/> with a losses span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A span's length does not match [batch, width], or a per-class vector (weight, posWeight) does not have one value per column.</exception>
    public float Compute(ReadOnlySpan<float> input, ReadOnlySpan<float> target, Span<float> dInput, int batch)
        => Compute(input, default, target, dInput, batch);

    /// <inheritdoc/>
    public sealed override string Name => _name;

    /// <inheritdoc/>
    public sealed override bool UsesLabels => false;
}

/// <summary>Mean squared error, PyTorch's <c>nn.MSELoss(reduction)</c>: terms (x - t)², gradient 2(x - t) (over N for Mean).</summary>
public sealed class MeanSquaredErrorLoss : ElementwiseLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction"><see cref="Reduction.None"/>, <see cref="Reduction.Mean"/> (default) or <see cref="Reduction.Sum"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reduction"/> is <see cref="Reduction.BatchMean"/> or undefined.</exception>
    public MeanSquaredErrorLoss(Reduction reduction = Reduction.Mean) : base(PointwiseLoss.NotBatchMean(reduction, "MeanSquaredErrorLoss"))
        => _name = Describe("MeanSquaredError", ReductionPart);

    /// <inheritdoc/>
    protected override float ComputeCore(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch)
    {
        ValidateTargets(targets, batch, ValidateOutput(output, dOutput, batch));
        double total = PointwiseLoss.Run<SquaredErrorOperator>(output, targets, dOutput, losses, 0, 0, PointwiseLoss.Scale(Reduction, output.Length, batch));
        return PointwiseLoss.Reduce(total, Reduction, output.Length, batch);
    }
}

/// <summary>Mean absolute error, PyTorch's <c>nn.L1Loss(reduction)</c>: terms |x - t|, gradient sign(x - t) (0 where x = t).</summary>
public sealed class L1Loss : ElementwiseLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="reduction"><see cref="Reduction.None"/>, <see cref="Reduction.Mean"/> (default) or <see cref="Reduction.Sum"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reduction"/> is <see cref="Reduction.BatchMean"/> or undefined.</exception>
    public L1Loss(Reduction reduction = Reduction.Mean) : base(PointwiseLoss.NotBatchMean(reduction, "L1Loss"))
        => _name = Describe("L1", ReductionPart);

    /// <inheritdoc/>
    protected override float ComputeCore(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch)
    {
        ValidateTargets(targets, batch, ValidateOutput(output, dOutput, batch));
        double total = PointwiseLoss.Run<AbsoluteErrorOperator>(output, targets, dOutput, losses, 0, 0, PointwiseLoss.Scale(Reduction, output.Length, batch));
        return PointwiseLoss.Reduce(total, Reduction, output.Length, batch);
    }
}

/// <summary>
/// Smooth L1, PyTorch's <c>nn.SmoothL1Loss(reduction, beta)</c>: with d = x - t, terms 0.5·d²/β where |d| &lt; β and
/// |d| - 0.5·β elsewhere; β = 0 is <see cref="L1Loss"/>.
/// </summary>
public sealed class SmoothL1Loss : ElementwiseLoss
{
    private readonly float _beta;

    /// <summary>Creates the loss.</summary>
    /// <param name="reduction"><see cref="Reduction.None"/>, <see cref="Reduction.Mean"/> (default) or <see cref="Reduction.Sum"/>.</param>
    /// <param name="beta">β ≥ 0 (PyTorch <c>beta</c>, default 1), where the loss changes from quadratic to linear.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="beta"/> is negative or not finite, or
    /// <paramref name="reduction"/> is <see cref="Reduction.BatchMean"/> or undefined.</exception>
    public SmoothL1Loss(Reduction reduction = Reduction.Mean, float beta = 1f) : base(PointwiseLoss.NotBatchMean(reduction, "SmoothL1Loss"))
    {
        if (!(beta >= 0 && float.IsFinite(beta)))
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "SmoothL1Loss: beta must be finite and non-negative (PyTorch rejects negative values).");
        _beta = beta;
        _name = Describe("SmoothL1", beta == 1f ? null : $"beta: {Format(beta)}", ReductionPart);
    }

    /// <summary>β.</summary>
    public float Beta => _beta;

    /// <inheritdoc/>
    protected override float ComputeCore(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch)
    {
        ValidateTargets(targets, batch, ValidateOutput(output, dOutput, batch));
        float scale = PointwiseLoss.Scale(Reduction, output.Length, batch);
        double total = _beta == 0   // PyTorch computes l1_loss for β = 0 (1/β would be infinite)
            ? PointwiseLoss.Run<AbsoluteErrorOperator>(output, targets, dOutput, losses, 0, 0, scale)
            : PointwiseLoss.Run<SmoothL1Operator>(output, targets, dOutput, losses, _beta, 1f / _beta, scale);
        return PointwiseLoss.Reduce(total, Reduction, output.Length, batch);
    }
}

/// <summary>
/// Huber, PyTorch's <c>nn.HuberLoss(reduction, delta)</c>: with d = x - t, terms 0.5·d² where |d| ≤ δ and δ·(|d| - 0.5·δ)
/// elsewhere (δ times <see cref="SmoothL1Loss"/> with β = δ).
/// </summary>
public sealed class HuberLoss : ElementwiseLoss
{
    private readonly float _delta;

    /// <summary>Creates the loss.</summary>
    /// <param name="reduction"><see cref="Reduction.None"/>, <see cref="Reduction.Mean"/> (default) or <see cref="Reduction.Sum"/>.</param>
    /// <param name="delta">δ &gt; 0 (PyTorch <c>delta</c>, default 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delta"/> is not positive and finite, or
    /// <paramref name="reduction"/> is <see cref="Reduction.BatchMean"/> or undefined.</exception>
    public HuberLoss(Reduction reduction = Reduction.Mean, float delta = 1f) : base(PointwiseLoss.NotBatchMean(reduction, "HuberLoss"))
    {
        if (!(delta > 0 && float.IsFinite(delta)))
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "HuberLoss: delta must be positive and finite (PyTorch rejects non-positive values).");
        _delta = delta;
        _name = Describe("Huber", delta == 1f ? null : $"delta: {Format(delta)}", ReductionPart);
    }

    /// <summary>δ.</summary>
    public float Delta => _delta;

    /// <inheritdoc/>
    protected override float ComputeCore(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch)
    {
        ValidateTargets(targets, batch, ValidateOutput(output, dOutput, batch));
        double total = PointwiseLoss.Run<HuberOperator>(output, targets, dOutput, losses, _delta, 0, PointwiseLoss.Scale(Reduction, output.Length, batch));
        return PointwiseLoss.Reduce(total, Reduction, output.Length, batch);
    }
}

/// <summary>
/// Binary cross-entropy on logits, PyTorch's <c>nn.BCEWithLogitsLoss(weight, reduction, pos_weight)</c>: with class c's
/// weight w_c and positive weight p_c, terms <c>-w_c·[p_c·t·log σ(x) + (1 - t)·log(1 - σ(x))]</c>, computed stably as
/// <c>w_c·[(1 - t)·x + (1 + (p_c - 1)·t)·(log(1 + exp(-|x|)) + max(-x, 0))]</c>.
/// </summary>
/// <remarks>
/// <c>weight</c> and <c>posWeight</c> have one value per output column (class) and apply to every row, PyTorch's
/// broadcasting of shape-[C] tensors over [N, C]. Targets are not checked to lie in [0, 1], as in PyTorch.
/// </remarks>
public sealed class BinaryCrossEntropyWithLogitsLoss : ElementwiseLoss
{
    private readonly float[]? _weight;      // [classes] or null
    private readonly float[]? _posWeight;   // [classes] or null

    /// <summary>Creates the loss with PyTorch's <c>nn.BCEWithLogitsLoss</c> arguments and defaults.</summary>
    /// <param name="weight">Per-class rescaling [classes] (PyTorch <c>weight</c>), copied; null for 1.</param>
    /// <param name="reduction"><see cref="Reduction.None"/>, <see cref="Reduction.Mean"/> (default) or <see cref="Reduction.Sum"/>.</param>
    /// <param name="posWeight">Weight of the positive term per class [classes] (PyTorch <c>pos_weight</c>), copied; null for 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reduction"/> is <see cref="Reduction.BatchMean"/> or undefined.</exception>
    /// <exception cref="ArgumentException"><paramref name="weight"/> or <paramref name="posWeight"/> is empty, or they differ in length.</exception>
    public BinaryCrossEntropyWithLogitsLoss(float[]? weight = null, Reduction reduction = Reduction.Mean, float[]? posWeight = null)
        : base(PointwiseLoss.NotBatchMean(reduction, "BinaryCrossEntropyWithLogitsLoss"))
    {
        _weight = CopyClassVector(weight, nameof(weight));
        _posWeight = CopyClassVector(posWeight, nameof(posWeight));
        if (_weight is not null && _posWeight is not null && _weight.Length != _posWeight.Length)
            throw new ArgumentException($"weight has {_weight.Length} values but posWeight has {_posWeight.Length}; both have one per class.", nameof(posWeight));
        _name = Describe("BinaryCrossEntropyWithLogits", _weight is null ? null : $"weight: [{_weight.Length}]",
            _posWeight is null ? null : $"posWeight: [{_posWeight.Length}]", ReductionPart);
        // The driver reads both per-class vectors together; the one not given is 1 for every class.
        if (_weight is not null || _posWeight is not null)
        {
            int classes = (_weight ?? _posWeight)!.Length;
            _columnWeight = _weight ?? Ones(classes);
            _columnPosWeight = _posWeight ?? Ones(classes);
        }
    }

    private readonly float[]? _columnWeight;      // [classes]: weight, or ones when only posWeight was given
    private readonly float[]? _columnPosWeight;   // [classes]: posWeight, or ones when only weight was given

    private static float[] Ones(int n)
    {
        var ones = new float[n];
        Array.Fill(ones, 1f);
        return ones;
    }

    /// <summary>A copy of the per-class weights, or null without them.</summary>
    public float[]? Weight => (float[]?)_weight?.Clone();

    /// <summary>A copy of the per-class positive weights, or null without them.</summary>
    public float[]? PosWeight => (float[]?)_posWeight?.Clone();

    /// <inheritdoc/>
    protected override float ComputeCore(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch)
    {
        int width = ValidateOutput(output, dOutput, batch);
        ValidateTargets(targets, batch, width);
        ValidateClassVector(_weight, "weight", width);
        ValidateClassVector(_posWeight, "posWeight", width);
        float scale = PointwiseLoss.Scale(Reduction, output.Length, batch);
        double total = _columnWeight is null
            ? PointwiseLoss.Run<BinaryCrossEntropyWithLogitsOperator>(output, targets, dOutput, losses, 1f, 1f, scale)
            : PointwiseLoss.RunPerColumn<BinaryCrossEntropyWithLogitsOperator>(output, targets, dOutput, losses, width, _columnWeight, _columnPosWeight, scale);
        return PointwiseLoss.Reduce(total, Reduction, output.Length, batch);
    }
}

/// <summary>
/// Kullback-Leibler divergence, PyTorch's <c>nn.KLDivLoss(reduction, log_target)</c>: the input x holds log-probabilities;
/// terms <c>t·(log t - x)</c> (0 where t = 0) for probability targets, <c>exp(t)·(t - x)</c> for log-probability targets.
/// </summary>
/// <remarks>
/// <see cref="Reduction.BatchMean"/> (sum over batch) is the true KL divergence per example and what PyTorch recommends;
/// <see cref="Reduction.Mean"/>, PyTorch's default, divides by every element instead, as PyTorch defines it. Only x gets a
/// gradient (-t, or -exp(t)); targets are constants.
/// </remarks>
public sealed class KLDivLoss : ElementwiseLoss
{
    private readonly bool _logTarget;

    /// <summary>Creates the loss with PyTorch's <c>nn.KLDivLoss</c> arguments and defaults.</summary>
    /// <param name="reduction"><see cref="Reduction.Mean"/> (PyTorch's default), <see cref="Reduction.BatchMean"/> (recommended),
    /// <see cref="Reduction.Sum"/> or <see cref="Reduction.None"/>.</param>
    /// <param name="logTarget">Whether the targets are log-probabilities (PyTorch <c>log_target</c>, default false).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reduction"/> is undefined.</exception>
    public KLDivLoss(Reduction reduction = Reduction.Mean, bool logTarget = false) : base(reduction)
    {
        _logTarget = logTarget;
        _name = Describe("KLDiv", ReductionPart, logTarget ? "logTarget: true" : null);
    }

    /// <summary>Whether the targets are log-probabilities.</summary>
    public bool LogTarget => _logTarget;

    /// <inheritdoc/>
    protected override float ComputeCore(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch)
    {
        ValidateTargets(targets, batch, ValidateOutput(output, dOutput, batch));
        float scale = PointwiseLoss.Scale(Reduction, output.Length, batch);
        double total = _logTarget
            ? PointwiseLoss.Run<KLDivLogTargetOperator>(output, targets, dOutput, losses, 0, 0, scale)
            : PointwiseLoss.Run<KLDivOperator>(output, targets, dOutput, losses, 0, 0, scale);
        return PointwiseLoss.Reduce(total, Reduction, output.Length, batch);
    }
}
