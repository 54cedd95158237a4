// Exact GELU through the normal CDF: the forward by a piecewise polynomial (no exp, no division: it is the costliest epilogue of a
// Transformer's feed-forward), the derivative through A&S erfc, whose e^{-x²/2} also gives the density.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>Exact GELU (PyTorch <c>approximate='none'</c>): <c>f(x) = x·Φ(x) = ½x(1 + erf(x/√2))</c>, <c>f'(x) = Φ(x) + x·φ(x)</c>.</summary>
/// <remarks>Forward: x·Φ(x) = relu(x) − |x|·Q(|x|), Q(u) = ½·erfc(u/√2) by a polynomial per interval of [0, 6)
/// (VectorMath.GeluPiecewise) and 0 beyond, so there is no 1 + erf cancellation in the negative tail: gelu(−30) = 0 and there is
/// no NaN for any finite x; one FMA after Q (x·Q for x &lt; 0, x − x·Q rounded once for x ≥ 0). Max |Φ error| against float64 6.3e-8 (the rounding of Φ in float; A&amp;S: 1.7e-7), bit-identical at
/// every width where FMA is fused; 1.9× faster than the A&amp;S form at 512 bits (GELU over 64×512 on Zen 4: 21.3 → 11.1 µs CPU).
/// Derivative: Φ(x) = ½·erfc(|x|/√2) mirrored for x ≥ 0 (Abramowitz &amp; Stegun 7.1.26, |error| ≤ 1.5e-7) plus x·φ(x), measured against
/// central differences over x ∈ [−30, 30] (step 1e-2), AVX2 machine: max abs error 2.2e-7.</remarks>
public readonly struct GeluActivation : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => VectorMath.GeluPiecewise(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> x) => VectorMath.GeluPiecewise(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.GeluPiecewise(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.GeluPiecewise(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Derivative(float x, float y)
    {
        float cdf = VectorMath.NormalCdf(x, out float gauss);
        return float.MultiplyAddEstimate(x * VectorMath.InvSqrt2Pi, gauss, cdf);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Derivative(Vector128<float> x, Vector128<float> y)
    {
        Vector128<float> cdf = VectorMath.NormalCdf(x, out Vector128<float> gauss);
        return Vector128.MultiplyAddEstimate(x * Vector128.Create(VectorMath.InvSqrt2Pi), gauss, cdf);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> x, Vector256<float> y)
    {
        Vector256<float> cdf = VectorMath.NormalCdf(x, out Vector256<float> gauss);
        return Vector256.MultiplyAddEstimate(x * Vector256.Create(VectorMath.InvSqrt2Pi), gauss, cdf);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> x, Vector512<float> y)
    {
        Vector512<float> cdf = VectorMath.NormalCdf(x, out Vector512<float> gauss);
        return Vector512.MultiplyAddEstimate(x * Vector512.Create(VectorMath.InvSqrt2Pi), gauss, cdf);
    }
}
