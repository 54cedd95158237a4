// Axis permutation of each example (PyTorch's x.permute(0, *[d + 1 for d in dims]).contiguous(); [Permute(dims)]).
// Backward is the same kernel with the inverse permutation, run on the output's shape.
//
// Before moving data the permutation is simplified: size-1 axes are dropped, and input axes that stay adjacent and
// in order in the output are merged. What is left is, in practice, one of three cases:
//   - nothing moves (the identity on the merged axes): one block copy;
//   - a swap of two blocks [A, B] -> [B, A], optionally under a kept leading block: SequenceKernels.Transpose, the
//     16×16-tiled transpose (batch × leading matrices); this is [T, F] <-> [F, T], the case Conv1D next to a
//     sequence layer needs;
//   - anything else: an odometer over the output with a strided inner loop (or a block copy when the innermost
//     axis stays innermost).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelGen.Kernels;

/// <summary>Permutes the axes of each example of a batch (forward), and its gradient (backward).</summary>
public static class PermuteKernels
{
    /// <summary>The largest per-example rank handled (the simplification works on stack buffers of this size).</summary>
    public const int MaxRank = 16;

    /// <summary>
    /// Effectively computes <c>output[b, i_0, …, i_{r−1}] = input[b, j_0, …, j_{r−1}]</c> with <c>j_{dims[k]} = i_k</c>: the output's
    /// axis k is the input's axis <c>dims[k]</c> (PyTorch <c>x.permute(0, dims[0] + 1, …)</c>, made contiguous).
    /// </summary>
    /// <param name="input">Input [batch, shape[0], …, shape[r−1]].</param>
    /// <param name="output">Output [batch, shape[dims[0]], …, shape[dims[r−1]]]; must not overlap <paramref name="input"/>.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="shape">The per-example input shape (r sizes, each at least 0).</param>
    /// <param name="dims">A permutation of 0 … r − 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or a size is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="dims"/> is not a permutation of the axes of <paramref name="shape"/>, the rank exceeds
    /// <see cref="MaxRank"/>, a span's length does not match its shape, an example is larger than an int holds, or the spans overlap.</exception>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> shape, ReadOnlySpan<int> dims)
    {
        int perExample = Check(shape, dims, batch);
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, "the product of shape", perExample);
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, "the product of shape", perExample);
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        if (batch == 0 || perExample == 0) return;

        // Simplify: sizes and order of the kept input axes, then merge runs that stay adjacent in the output.
        Span<int> keep = stackalloc int[MaxRank];       // input axis -> index among kept axes, or -1
        Span<int> size = stackalloc int[MaxRank];       // merged input axes: sizes
        Span<int> order = stackalloc int[MaxRank];      // output order of the merged input axes
        int kept = 0;
        for (int a = 0; a < shape.Length; a++) keep[a] = shape[a] == 1 ? -1 : kept++;
        Span<int> keptOrder = stackalloc int[MaxRank];  // output order over kept axes
        int n = 0;
        foreach (int d in dims)
            if (keep[d] >= 0) keptOrder[n++] = keep[d];
        Span<int> keptSize = stackalloc int[MaxRank];
        for (int a = 0; a < shape.Length; a++)
            if (keep[a] >= 0) keptSize[keep[a]] = shape[a];
        // A kept axis joins the group before it when it directly follows that group's last axis in both orders.
        Span<int> groupOf = stackalloc int[MaxRank];   // kept axis -> merged group, groups numbered in input order
        Span<bool> startsGroup = stackalloc bool[MaxRank];
        for (int k = 0; k < n; k++) startsGroup[keptOrder[k]] = k == 0 || keptOrder[k - 1] != keptOrder[k] - 1;
        int groups = 0;
        for (int a = 0; a < kept; a++)
        {
            if (a == 0 || startsGroup[a]) size[groups++] = 1;
            groupOf[a] = groups - 1;
            size[groups - 1] *= keptSize[a];
        }
        int m = 0;
        for (int k = 0; k < n; k++)
            if (k == 0 || startsGroup[keptOrder[k]]) order[m++] = groupOf[keptOrder[k]];

        if (groups <= 1 || IsIdentity(order.Slice(0, groups)))
        {
            input.CopyTo(output);
            return;
        }
        if (groups == 2)
        {
            SequenceKernels.Transpose(input, output, batch, size[0], size[1]);   // [A, B] -> [B, A]
            return;
        }
        if (groups == 3 && order[0] == 0 && order[1] == 2 && order[2] == 1)
        {
            SequenceKernels.Transpose(input, output, batch * size[0], size[1], size[2]);   // [L, A, B] -> [L, B, A]
            return;
        }
        General(input, output, batch, perExample, size.Slice(0, groups), order.Slice(0, groups));
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: effectively <c>dInput = dOutput</c> permuted back (the inverse of <paramref name="dims"/>),
    /// overwriting <paramref name="dInput"/>.
    /// </summary>
    /// <param name="dOutput">Gradient of the output [batch, shape[dims[0]], …].</param>
    /// <param name="dInput">Gradient of the input [batch, shape[0], …], overwritten; must not overlap <paramref name="dOutput"/>.</param>
    /// <param name="batch">Number of examples.</param>
    /// <param name="shape">The per-example input shape of the forward pass.</param>
    /// <param name="dims">The forward permutation.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or a size is negative.</exception>
    /// <exception cref="ArgumentException">As in <see cref="Forward"/>.</exception>
    public static void Backward(ReadOnlySpan<float> dOutput, Span<float> dInput, int batch, ReadOnlySpan<int> shape, ReadOnlySpan<int> dims)
    {
        Check(shape, dims, batch);
        Span<int> outShape = stackalloc int[dims.Length];
        Span<int> inverse = stackalloc int[dims.Length];
        for (int k = 0; k < dims.Length; k++)
        {
            outShape[k] = shape[dims[k]];
            inverse[dims[k]] = k;
        }
        Forward(dOutput, dInput, batch, outShape, inverse);
    }

    /// <summary>Double-precision reference for <see cref="Forward"/>: a direct index computation per output element, for tests only.</summary>
    /// <exception cref="ArgumentException">As in <see cref="Forward"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">As in <see cref="Forward"/>.</exception>
    public static void ReferenceForward(ReadOnlySpan<double> input, Span<double> output, int batch, ReadOnlySpan<int> shape, ReadOnlySpan<int> dims)
    {
        int perExample = Check(shape, dims, batch);
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, "the product of shape", perExample);
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, "the product of shape", perExample);
        int r = shape.Length;
        Span<int> index = stackalloc int[r];   // output index
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < perExample; o++)
            {
                int rest = o;
                for (int k = r - 1; k >= 0; k--)
                {
                    int extent = shape[dims[k]];
                    index[k] = rest % extent;
                    rest /= extent;
                }
                int i = 0;
                for (int a = 0; a < r; a++)
                {
                    int k = dims.IndexOf(a);
                    i = i * shape[a] + index[k];
                }
                output[b * perExample + o] = input[b * perExample + i];
            }
    }

    /// <summary>Validates the shape and permutation; returns the elements per example.</summary>
    private static int Check(ReadOnlySpan<int> shape, ReadOnlySpan<int> dims, int batch)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        if (shape.Length > MaxRank)
            throw new ArgumentException($"The rank ({shape.Length}) must be at most {MaxRank}.", nameof(shape));
        if (dims.Length != shape.Length)
            throw new ArgumentException($"'dims' must name each of the {shape.Length} axes of 'shape' once, but has {dims.Length} entries.", nameof(dims));
        Span<bool> seen = stackalloc bool[MaxRank];
        foreach (int d in dims)
        {
            if ((uint)d >= (uint)shape.Length || seen[d])
                throw new ArgumentException($"'dims' must be a permutation of 0 … {shape.Length - 1}, but is [{string.Join(", ", dims.ToArray())}].", nameof(dims));
            seen[d] = true;
        }
        long total = 1;
        foreach (int s in shape)
        {
            ThrowHelper.CheckNonNegative(s, nameof(shape));
            total *= s;
            if (total > int.MaxValue) throw new ArgumentException($"An example of shape [{string.Join(", ", shape.ToArray())}] holds more elements than an int counts.", nameof(shape));
        }
        return (int)total;
    }

    private static bool IsIdentity(ReadOnlySpan<int> order)
    {
        for (int k = 0; k < order.Length; k++)
            if (order[k] != k) return false;
        return true;
    }

    /// <summary>Any permutation of merged axes: an odometer over the output, the innermost output axis as a strided run.</summary>
    private static void General(ReadOnlySpan<float> input, Span<float> output, int batch, int perExample, ReadOnlySpan<int> size, ReadOnlySpan<int> order)
    {
        int r = size.Length;
        Span<int> stride = stackalloc int[MaxRank];   // input strides of the merged axes
        stride[r - 1] = 1;
        for (int a = r - 2; a >= 0; a--) stride[a] = stride[a + 1] * size[a + 1];
        Span<int> index = stackalloc int[MaxRank];     // odometer over output axes 0 … r − 2
        int innerSize = size[order[r - 1]], innerStride = stride[order[r - 1]];
        ref float x0 = ref MemoryMarshal.GetReference(input);
        ref float y = ref MemoryMarshal.GetReference(output);
        nint written = 0;
        for (int b = 0; b < batch; b++)
        {
            ref float x = ref Unsafe.Add(ref x0, b * (nint)perExample);
            index.Clear();
            nint from = 0;   // input offset of the current output row
            for (int row = perExample / innerSize; row > 0; row--)
            {
                for (int j = 0; j < innerSize; j++) Unsafe.Add(ref y, written + j) = Unsafe.Add(ref x, from + (nint)j * innerStride);
                written += innerSize;
                for (int k = r - 2; k >= 0; k--)
                {
                    int axis = order[k];
                    from += stride[axis];
                    if (++index[k] < size[axis]) break;
                    from -= (nint)stride[axis] * size[axis];
                    index[k] = 0;
                }
            }
        }
    }
}
