// Vectorised per-row reductions and maps shared by Softmax, Dropout and DenseKernels. Reductions accumulate in
// vector lanes from the start of the row and fold lanes in a fixed order, so a result never depends on the
// buffer's alignment; the tail is handled by narrower vectors and then scalars, never by re-reading elements.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Vectorised row primitives (max, sum of exp, dot, scale, add) over <c>ref float</c> + length.</summary>
internal static class RowOps
{
    /// <summary>max over x[0..n); n ≥ 1. NaN handling follows <see cref="MathF.Max(float, float)"/> (propagates).</summary>
    internal static float Max(ref float x, nuint n)
    {
        nuint i = 0;
        float result = float.NegativeInfinity;
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            Vector512<float> acc = Vector512.Create(float.NegativeInfinity);
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                acc = Vector512.Max(acc, Vector512.LoadUnsafe(ref x, i));
            result = HorizontalMax(Vector256.Max(acc.GetLower(), acc.GetUpper()));
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            Vector256<float> acc = Vector256.Create(float.NegativeInfinity);
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                acc = Vector256.Max(acc, Vector256.LoadUnsafe(ref x, i));
            result = HorizontalMax(acc);
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            Vector128<float> acc = Vector128.Create(float.NegativeInfinity);
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                acc = Vector128.Max(acc, Vector128.LoadUnsafe(ref x, i));
            result = HorizontalMax(acc);
        }
        for (; i < n; i++) result = MathF.Max(result, Unsafe.Add(ref x, i));
        return result;
    }

    private static float HorizontalMax(Vector256<float> v) => HorizontalMax(Vector128.Max(v.GetLower(), v.GetUpper()));

    private static float HorizontalMax(Vector128<float> v)
        => MathF.Max(MathF.Max(v.GetElement(0), v.GetElement(1)), MathF.Max(v.GetElement(2), v.GetElement(3)));

    /// <summary>Writes y[i] = exp(x[i] − shift) when <paramref name="store"/>, and returns Σ exp(x[i] − shift). x and y may alias.</summary>
    internal static float ExpShiftSum(ref float x, ref float y, nuint n, float shift, bool store)
    {
        nuint i = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            Vector512<float> acc = Vector512<float>.Zero, s = Vector512.Create(shift);
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
            {
                Vector512<float> e = Vector512.Exp(Vector512.LoadUnsafe(ref x, i) - s);
                if (store) e.StoreUnsafe(ref y, i);
                acc += e;
            }
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            Vector256<float> acc = Vector256<float>.Zero, s = Vector256.Create(shift);
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
            {
                Vector256<float> e = Vector256.Exp(Vector256.LoadUnsafe(ref x, i) - s);
                if (store) e.StoreUnsafe(ref y, i);
                acc += e;
            }
            sum = Vector256.Sum(acc);
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            Vector128<float> acc = Vector128<float>.Zero, s = Vector128.Create(shift);
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
            {
                Vector128<float> e = Vector128.Exp(Vector128.LoadUnsafe(ref x, i) - s);
                if (store) e.StoreUnsafe(ref y, i);
                acc += e;
            }
            sum = Vector128.Sum(acc);
        }
        for (; i < n; i++)
        {
            float e = MathF.Exp(Unsafe.Add(ref x, i) - shift);
            if (store) Unsafe.Add(ref y, i) = e;
            sum += e;
        }
        return sum;
    }

    /// <summary>Σ a[i]·b[i].</summary>
    internal static float Dot(ref float a, ref float b, nuint n)
    {
        nuint i = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            Vector512<float> acc = Vector512<float>.Zero;
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                acc = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref a, i), Vector512.LoadUnsafe(ref b, i), acc);
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                acc = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref a, i), Vector256.LoadUnsafe(ref b, i), acc);
            sum = Vector256.Sum(acc);
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            Vector128<float> acc = Vector128<float>.Zero;
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                acc = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref a, i), Vector128.LoadUnsafe(ref b, i), acc);
            sum = Vector128.Sum(acc);
        }
        for (; i < n; i++) sum = float.MultiplyAddEstimate(Unsafe.Add(ref a, i), Unsafe.Add(ref b, i), sum);
        return sum;
    }

    /// <summary>Σ x[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Sum(ref float x, nuint n)
    {
        nuint i = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            Vector512<float> acc = Vector512<float>.Zero;
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count) acc += Vector512.LoadUnsafe(ref x, i);
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count) acc += Vector256.LoadUnsafe(ref x, i);
            sum = Vector256.Sum(acc);
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            Vector128<float> acc = Vector128<float>.Zero;
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count) acc += Vector128.LoadUnsafe(ref x, i);
            sum = Vector128.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref x, i);
        return sum;
    }

    /// <summary>y[i] = x[i]·scale (x and y may alias).</summary>
    internal static void Scale(ref float x, ref float y, nuint n, float scale)
    {
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                (Vector512.LoadUnsafe(ref x, i) * scale).StoreUnsafe(ref y, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref x, i) * scale).StoreUnsafe(ref y, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                (Vector128.LoadUnsafe(ref x, i) * scale).StoreUnsafe(ref y, i);
        for (; i < n; i++) Unsafe.Add(ref y, i) = Unsafe.Add(ref x, i) * scale;
    }

    /// <summary>y[i] = (x[i] − a) − b (x and y may alias); subtracting in two steps keeps log-softmax exact-ish when a ≫ b.</summary>
    internal static void SubtractTwice(ref float x, ref float y, nuint n, float a, float b)
    {
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                (Vector512.LoadUnsafe(ref x, i) - Vector512.Create(a) - Vector512.Create(b)).StoreUnsafe(ref y, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref x, i) - Vector256.Create(a) - Vector256.Create(b)).StoreUnsafe(ref y, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                (Vector128.LoadUnsafe(ref x, i) - Vector128.Create(a) - Vector128.Create(b)).StoreUnsafe(ref y, i);
        for (; i < n; i++) Unsafe.Add(ref y, i) = Unsafe.Add(ref x, i) - a - b;
    }

    /// <summary>dx[i] = y[i]·(dy[i] − dot) (softmax backward; dx may alias dy or y).</summary>
    internal static void SoftmaxGrad(ref float dy, ref float y, ref float dx, nuint n, float dot)
    {
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                (Vector512.LoadUnsafe(ref y, i) * (Vector512.LoadUnsafe(ref dy, i) - Vector512.Create(dot))).StoreUnsafe(ref dx, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref y, i) * (Vector256.LoadUnsafe(ref dy, i) - Vector256.Create(dot))).StoreUnsafe(ref dx, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                (Vector128.LoadUnsafe(ref y, i) * (Vector128.LoadUnsafe(ref dy, i) - Vector128.Create(dot))).StoreUnsafe(ref dx, i);
        for (; i < n; i++) Unsafe.Add(ref dx, i) = Unsafe.Add(ref y, i) * (Unsafe.Add(ref dy, i) - dot);
    }

    /// <summary>dx[i] = dy[i] − exp(y[i])·sum (log-softmax backward; dx may alias dy or y).</summary>
    internal static void LogSoftmaxGrad(ref float dy, ref float y, ref float dx, nuint n, float sum)
    {
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                (Vector512.LoadUnsafe(ref dy, i) - Vector512.Exp(Vector512.LoadUnsafe(ref y, i)) * sum).StoreUnsafe(ref dx, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref dy, i) - Vector256.Exp(Vector256.LoadUnsafe(ref y, i)) * sum).StoreUnsafe(ref dx, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                (Vector128.LoadUnsafe(ref dy, i) - Vector128.Exp(Vector128.LoadUnsafe(ref y, i)) * sum).StoreUnsafe(ref dx, i);
        for (; i < n; i++) Unsafe.Add(ref dx, i) = Unsafe.Add(ref dy, i) - MathF.Exp(Unsafe.Add(ref y, i)) * sum;
    }

    /// <summary>y[i] = x[i]·m[i] (elementwise product; y may alias x or m).</summary>
    internal static void Multiply(ref float x, ref float m, ref float y, nuint n)
    {
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                (Vector512.LoadUnsafe(ref x, i) * Vector512.LoadUnsafe(ref m, i)).StoreUnsafe(ref y, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref x, i) * Vector256.LoadUnsafe(ref m, i)).StoreUnsafe(ref y, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                (Vector128.LoadUnsafe(ref x, i) * Vector128.LoadUnsafe(ref m, i)).StoreUnsafe(ref y, i);
        for (; i < n; i++) Unsafe.Add(ref y, i) = Unsafe.Add(ref x, i) * Unsafe.Add(ref m, i);
    }

    /// <summary>y[i] += x[i].</summary>
    internal static void AddTo(ref float x, ref float y, nuint n)
    {
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                (Vector512.LoadUnsafe(ref y, i) + Vector512.LoadUnsafe(ref x, i)).StoreUnsafe(ref y, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref y, i) + Vector256.LoadUnsafe(ref x, i)).StoreUnsafe(ref y, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
                (Vector128.LoadUnsafe(ref y, i) + Vector128.LoadUnsafe(ref x, i)).StoreUnsafe(ref y, i);
        for (; i < n; i++) Unsafe.Add(ref y, i) += Unsafe.Add(ref x, i);
    }

    // ------------------------------------------------------------------------------------------------ split between threads
    // The same maps over large buffers, split by ParallelRange in chunks of whole 16-float blocks (so every element goes
    // through the vector tier it would in one call: the bits do not depend on the thread count). One call is one pass.

    /// <summary>y[i] = x[i]·m[i] over n elements, split between threads when large (y may alias x or m).</summary>
    internal static unsafe void MultiplyParallel(float* x, float* m, float* y, long n)
        => ParallelRange.Run(new MultiplyRange(x, m, y), (int)n, 16, 3);

    /// <summary>y[i] += x[i] over n elements, split between threads when large.</summary>
    internal static unsafe void AddToParallel(float* x, float* y, long n)
        => ParallelRange.Run(new AddToRange(x, y), (int)n, 16, 3);

    /// <summary>y[c] += Σ_r x[r, c] for x [rows, n], each column summed over the rows in order, split between threads by columns when large.</summary>
    internal static unsafe void AddRowsTo(float* x, float* y, int rows, int n)
        => ParallelRange.Run(new AddRowsRange(x, y, rows, n), n, 16, rows, chunksPerThread: 1);

    private readonly unsafe struct MultiplyRange(float* x, float* m, float* y) : IRangeOp
    {
        public void Run(int start, int end) => Multiply(ref x[start], ref m[start], ref y[start], (nuint)(end - start));
    }

    private readonly unsafe struct AddToRange(float* x, float* y) : IRangeOp
    {
        public void Run(int start, int end) => AddTo(ref x[start], ref y[start], (nuint)(end - start));
    }

    private readonly unsafe struct AddRowsRange(float* x, float* y, int rows, int n) : IRangeOp
    {
        public void Run(int start, int end)
        {
            for (long r = 0; r < rows; r++) AddTo(ref x[r * n + start], ref y[start], (nuint)(end - start));
        }
    }
}
