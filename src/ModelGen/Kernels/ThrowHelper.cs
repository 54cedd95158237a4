// Argument validation shared by every kernel, so that error messages name the operand with the expected and
// actual sizes, and so the throw sites stay out of the (inlined) hot paths.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace ModelGen.Kernels;

/// <summary>Throw helpers and argument checks for the kernels.</summary>
internal static class ThrowHelper
{
    /// <summary>
    /// The checks the composite sequence kernels (recurrent and Transformer stacks) share once their operand lengths are
    /// checked: each real length in [1, seq], a workspace of at least <paramref name="need"/> floats, and no overlap
    /// between what they read and what they write.
    /// </summary>
    internal static void CheckCompositeOperands(ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, ReadOnlySpan<float> output, string outputName,
        ReadOnlySpan<int> lengths, ReadOnlySpan<float> workspace, long need, int batch, int seq)
    {
        for (int b = 0; b < lengths.Length; b++)
            if (lengths[b] < 1 || lengths[b] > seq)
                throw new ArgumentException($"'{nameof(lengths)}[{b}]' must be in [1, seq={seq}] but is {lengths[b]}.", nameof(lengths));
        if (workspace.Length < need)
            throw new ArgumentException(
                $"'{nameof(workspace)}' must have at least {need} elements (WorkspaceLength(batch={batch}, seq={seq})) but has {workspace.Length}.", nameof(workspace));
        CheckNoOverlap(input, output, nameof(input), outputName);
        CheckNoOverlap(parameters, output, nameof(parameters), outputName);
        CheckNoOverlap(workspace, output, nameof(workspace), outputName);
        CheckNoOverlap(input, workspace, nameof(input), nameof(workspace));
        CheckNoOverlap(parameters, workspace, nameof(parameters), nameof(workspace));
    }

    /// <summary>Throws if <paramref name="written"/> (a buffer a composite kernel writes: kept state, a cache) overlaps any of its other operands.</summary>
    internal static void CheckWritable(ReadOnlySpan<float> written, string name, ReadOnlySpan<float> input, ReadOnlySpan<float> parameters,
        ReadOnlySpan<float> output, ReadOnlySpan<float> workspace, string outputName = "output")
    {
        CheckNoOverlap(input, written, nameof(input), name);
        CheckNoOverlap(parameters, written, nameof(parameters), name);
        CheckNoOverlap(output, written, outputName, name);
        CheckNoOverlap(workspace, written, "workspace", name);
    }

    /// <summary>Throws unless <paramref name="actual"/> equals <paramref name="expected"/>; <paramref name="what"/> (a constant) explains it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CheckLength(int actual, int expected, string operand, string what)
    {
        if (actual != expected) ThrowLength(actual, expected, operand, what);
    }

    /// <summary>Throws unless the operand has d0 elements (shape [name0=d0]). The message is only formatted when throwing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CheckShape(int actual, string operand, string name0, int d0, bool orEmpty = false)
    {
        if (actual != d0) ThrowLength(actual, d0, operand, $"[{name0}={d0}]" + (orEmpty ? " or empty" : ""));
    }

    /// <summary>Throws unless the operand has d0·d1 elements (shape [name0=d0, name1=d1]). The message is only formatted when throwing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CheckShape(int actual, string operand, string name0, int d0, string name1, int d1, bool orEmpty = false)
    {
        if (actual != (long)d0 * d1) ThrowLength(actual, (long)d0 * d1, operand, $"[{name0}={d0}, {name1}={d1}]" + (orEmpty ? " or empty" : ""));
    }

    /// <summary>
    /// Throws unless the operand has d0·d1·d2 elements (shape [name0=d0, name1=d1, name2=d2]). The product is exact (128
    /// bits): a product that wraps could match a short span and let a kernel run past its end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CheckShape(int actual, string operand, string name0, int d0, string name1, int d1, string name2, int d2)
    {
        if (actual != (Int128)d0 * d1 * d2) ThrowLength(actual, (Int128)d0 * d1 * d2, operand, $"[{name0}={d0}, {name1}={d1}, {name2}={d2}]");
    }

    /// <summary>Throws unless <paramref name="value"/> is zero or more.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CheckNonNegative(int value, string name)
    {
        if (value < 0) ThrowNegative(value, name);
    }

    /// <summary>Throws if the two spans share memory (the kernel reads one while writing the other).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CheckNoOverlap(ReadOnlySpan<float> input, ReadOnlySpan<float> output, string inputName, string outputName)
    {
        if (input.Overlaps(output)) ThrowOverlap(inputName, outputName);
    }

    /// <summary>Throws unless the two spans are either the same memory or disjoint (partial overlap would corrupt results).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CheckSameOrDisjoint(ReadOnlySpan<float> input, ReadOnlySpan<float> output, string inputName, string outputName)
    {
        if (input.Overlaps(output, out int offset) && offset != 0) ThrowPartialOverlap(inputName, outputName, offset);
    }

    [DoesNotReturn]
    private static void ThrowLength(int actual, Int128 expected, string operand, string shape)
        => throw new ArgumentException($"'{operand}' must have {expected} elements ({shape}) but has {actual}.", operand);

    [DoesNotReturn]
    private static void ThrowNegative(int value, string name)
        => throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be zero or more but is {value}.");

    [DoesNotReturn]
    private static void ThrowOverlap(string inputName, string outputName)
        => throw new ArgumentException($"'{outputName}' must not overlap '{inputName}'.", outputName);

    [DoesNotReturn]
    private static void ThrowPartialOverlap(string inputName, string outputName, int offset)
        => throw new ArgumentException(
            $"'{outputName}' must be either the same span as '{inputName}' or disjoint from it, but it is offset by {offset} elements.", outputName);

    [DoesNotReturn]
    internal static void ThrowArgumentOutOfRange(string name, float value, string requirement)
        => throw new ArgumentOutOfRangeException(name, value, $"'{name}' {requirement} but is {value}.");
}
