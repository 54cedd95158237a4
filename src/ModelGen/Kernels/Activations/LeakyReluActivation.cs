// LeakyReLU carrying its slope as instance state, so one generic kernel instantiation serves every slope.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>
/// LeakyReLU: <c>f(x) = x &gt; 0 ? x : slope·x</c>, <c>f'(x) = x &gt; 0 ? 1 : slope</c> (PyTorch's <c>negative_slope</c>;
/// the derivative at 0 is <c>slope</c>, as in PyTorch).
/// </summary>
/// <remarks>Exact up to the rounding of <c>slope·x</c> (max error 0.5 ulp). NaN inputs give NaN.</remarks>
/// <param name="slope">The slope for negative inputs; PyTorch's default is 0.01.</param>
public readonly struct LeakyReluActivation(float slope) : IActivation
{
    /// <summary>The slope applied to negative inputs.</summary>
    public float Slope { get; } = slope;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => x > 0f ? x : x * Slope;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> x)
        => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), x, x * Slope);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x)
        => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, x * Slope);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x)
        => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, x * Slope);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Derivative(float x, float y) => x > 0f ? 1f : Slope;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Derivative(Vector128<float> x, Vector128<float> y)
        => Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), Vector128<float>.One, Vector128.Create(Slope));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> x, Vector256<float> y)
        => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), Vector256<float>.One, Vector256.Create(Slope));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> x, Vector512<float> y)
        => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), Vector512<float>.One, Vector512.Create(Slope));
}
