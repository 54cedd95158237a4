// ReLU with PyTorch's conventions: NaN propagates, and the derivative at exactly 0 is 0.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>ReLU: <c>f(x) = max(x, 0)</c>, <c>f'(x) = x &gt; 0 ? 1 : 0</c> (0 at x = 0, as in PyTorch).</summary>
/// <remarks>Exact (max error 0). NaN inputs give NaN, as <c>torch.relu</c> does.</remarks>
public readonly struct ReluActivation : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x) => MathF.Max(x, 0f);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Max(x, Vector128<float>.Zero);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Derivative(float x, float y) => x > 0f ? 1f : 0f;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Derivative(Vector128<float> x, Vector128<float> y)
        => Vector128.GreaterThan(x, Vector128<float>.Zero) & Vector128<float>.One;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> x, Vector256<float> y)
        => Vector256.GreaterThan(x, Vector256<float>.Zero) & Vector256<float>.One;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> x, Vector512<float> y)
        => Vector512.GreaterThan(x, Vector512<float>.Zero) & Vector512<float>.One;
}
