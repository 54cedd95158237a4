// The activation operator contract shared by Elementwise, DenseKernels and generated fused epilogues.
// Operators are readonly structs used through `where TAct : struct, IActivation`, so the JIT/AOT compiler
// specialises every kernel per activation and inlines Invoke/Derivative (no interface dispatch, no boxing).
// Instances (rather than static abstract members) let an operator carry per-layer constants such as a slope.
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>
/// An elementwise activation <c>y = f(x)</c> and its derivative, at every vector width the kernels use.
/// </summary>
/// <remarks>
/// Every width must compute the same function; results may differ between widths and machines in the last bits
/// (fused multiply-add is used where the hardware has it). Implementations must return finite values for every
/// finite input.
/// </remarks>
public interface IActivation
{
    /// <summary>Computes <c>f(x)</c> for one value.</summary>
    float Invoke(float x);

    /// <summary>Computes <c>f(x)</c> for each lane.</summary>
    Vector128<float> Invoke(Vector128<float> x);

    /// <summary>Computes <c>f(x)</c> for each lane.</summary>
    Vector256<float> Invoke(Vector256<float> x);

    /// <summary>Computes <c>f(x)</c> for each lane.</summary>
    Vector512<float> Invoke(Vector512<float> x);

    /// <summary>Computes <c>f'(x)</c> given the input <paramref name="x"/> and the output <paramref name="y"/> = <c>f(x)</c>.</summary>
    float Derivative(float x, float y);

    /// <summary>Computes <c>f'(x)</c> for each lane given the input and the output <c>y = f(x)</c>.</summary>
    Vector128<float> Derivative(Vector128<float> x, Vector128<float> y);

    /// <summary>Computes <c>f'(x)</c> for each lane given the input and the output <c>y = f(x)</c>.</summary>
    Vector256<float> Derivative(Vector256<float> x, Vector256<float> y);

    /// <summary>Computes <c>f'(x)</c> for each lane given the input and the output <c>y = f(x)</c>.</summary>
    Vector512<float> Derivative(Vector512<float> x, Vector512<float> y);
}
