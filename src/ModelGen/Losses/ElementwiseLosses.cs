// The element-wise losses (mean over every element, PyTorch reduction='mean'): mean squared error and binary
// cross-entropy on logits. Each is one fused pass that writes the gradient and returns the partial loss sum; sums
// run in float vectors within blocks of BlockLength elements and in double across blocks, so large outputs keep
// their precision and the result does not depend on alignment.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>Mean squared error, PyTorch's <c>nn.MSELoss()</c>: mean over all elements of (x - t)²; gradient 2(x - t)/N.</summary>
internal sealed class MeanSquaredErrorLoss : Loss
{
    private const int BlockLength = 4096;

    /// <inheritdoc/>
    public override string Name => "MeanSquaredError";

    /// <inheritdoc/>
    public override bool UsesLabels => false;

    /// <inheritdoc/>
    public override float Compute(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, int batch)
    {
        int width = ValidateOutput(output, dOutput, batch);
        ValidateTargets(targets, batch, width);
        int count = output.Length;
        float gradScale = 2f / count;
        double total = 0;
        for (int start = 0; start < count; start += BlockLength)
        {
            int n = Math.Min(BlockLength, count - start);
            ref float x = ref MemoryMarshal.GetReference(output.Slice(start, n));
            ref float t = ref MemoryMarshal.GetReference(targets.Slice(start, n));
            ref float d = ref MemoryMarshal.GetReference(dOutput.Slice(start, n));
            int i = 0;
            float sum = 0;
            if (V512.IsAccelerated) sum += Block<Vector512<float>, V512>(ref x, ref t, ref d, gradScale, ref i, n);
            if (V256.IsAccelerated) sum += Block<Vector256<float>, V256>(ref x, ref t, ref d, gradScale, ref i, n);
            if (V128.IsAccelerated) sum += Block<Vector128<float>, V128>(ref x, ref t, ref d, gradScale, ref i, n);
            sum += Block<float, Scalar>(ref x, ref t, ref d, gradScale, ref i, n);
            total += sum;
        }
        return (float)(total / count);
    }

    private static float Block<TV, TOps>(ref float x, ref float t, ref float d, float gradScale, ref int i, int n)
        where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return 0;
        TV scale = TOps.Create(gradScale), acc = TOps.Create(0);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV diff = TOps.Subtract(TOps.Load(ref x, (nuint)i), TOps.Load(ref t, (nuint)i));
            acc = TOps.MultiplyAdd(diff, diff, acc);
            TOps.Store(TOps.Multiply(diff, scale), ref d, (nuint)i);
        }
        return TOps.Sum(acc);
    }
}

/// <summary>
/// Binary cross-entropy on logits, PyTorch's <c>nn.BCEWithLogitsLoss()</c>: mean over all elements of
/// <c>max(x, 0) - x·t + log(1 + exp(-|x|))</c>; gradient (sigmoid(x) - t)/N.
/// </summary>
/// <remarks>
/// One exponential per element serves both terms: with e = exp(-|x|) (never overflows), sigmoid(x) is 1/(1+e) for x ≥ 0
/// and e/(1+e) otherwise. log(1 + e) is computed as log(u) + (e - (u - 1))/u with u = 1 + e, which recovers what rounding
/// u lost (so a tiny e still counts, as with log1p) without a branch.
/// </remarks>
internal sealed class BinaryCrossEntropyWithLogitsLoss : Loss
{
    private const int BlockLength = 4096;

    /// <inheritdoc/>
    public override string Name => "BinaryCrossEntropyWithLogits";

    /// <inheritdoc/>
    public override bool UsesLabels => false;

    /// <inheritdoc/>
    public override float Compute(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, int batch)
    {
        int width = ValidateOutput(output, dOutput, batch);
        ValidateTargets(targets, batch, width);
        int count = output.Length;
        float gradScale = 1f / count;
        double total = 0;
        for (int start = 0; start < count; start += BlockLength)
        {
            int n = Math.Min(BlockLength, count - start);
            ref float x = ref MemoryMarshal.GetReference(output.Slice(start, n));
            ref float t = ref MemoryMarshal.GetReference(targets.Slice(start, n));
            ref float d = ref MemoryMarshal.GetReference(dOutput.Slice(start, n));
            int i = 0;
            float sum = 0;
            if (V512.IsAccelerated) sum += Block<Vector512<float>, V512>(ref x, ref t, ref d, gradScale, ref i, n);
            if (V256.IsAccelerated) sum += Block<Vector256<float>, V256>(ref x, ref t, ref d, gradScale, ref i, n);
            if (V128.IsAccelerated) sum += Block<Vector128<float>, V128>(ref x, ref t, ref d, gradScale, ref i, n);
            sum += Block<float, Scalar>(ref x, ref t, ref d, gradScale, ref i, n);
            total += sum;
        }
        return (float)(total / count);
    }

    private static float Block<TV, TOps>(ref float x, ref float t, ref float d, float gradScale, ref int i, int n)
        where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return 0;
        TV scale = TOps.Create(gradScale), one = TOps.Create(1f), zero = TOps.Create(0f), acc = TOps.Create(0f);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV xv = TOps.Load(ref x, (nuint)i), tv = TOps.Load(ref t, (nuint)i);
            TV e = TOps.Exp(TOps.Subtract(zero, TOps.Abs(xv)));
            TV u = TOps.Add(one, e);
            TV log1pE = TOps.Add(TOps.Log(u), TOps.Divide(TOps.Subtract(e, TOps.Subtract(u, one)), u));
            // max(x, 0) - x·t + log(1 + e)
            TV loss = TOps.Add(TOps.Subtract(TOps.Max(xv, zero), TOps.Multiply(xv, tv)), log1pE);
            acc = TOps.Add(acc, loss);
            TV sigmoid = TOps.Divide(TOps.SelectWhereNonNegative(xv, one, e), u);
            TOps.Store(TOps.Multiply(TOps.Subtract(sigmoid, tv), scale), ref d, (nuint)i);
        }
        return TOps.Sum(acc);
    }
}
