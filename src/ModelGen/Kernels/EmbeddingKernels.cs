// Embedding lookup in PyTorch's nn.Embedding semantics: output[r, :] = weight[ids[r], :] for every row r (a row is
// one token: batch·seq of them for a sequence model). Backward scatters the output gradient back onto the rows that
// were read, accumulating when an id repeats; the padding_idx row receives no gradient (as torch's
// embedding_backward masks it), but forward still returns whatever that row holds (torch zeroes it at construction
// only). Every id is validated before anything is written: an id outside [0, vocab) would otherwise read or write
// outside the weight. Forward is a row copy (memmove is already vectorised); backward adds rows with RowOps.AddTo.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelGen.Kernels;

/// <summary>Embedding lookup (PyTorch <c>nn.Embedding</c>), forward and backward.</summary>
public static class EmbeddingKernels
{
    /// <summary>Effectively computes <c>output[r, j] = weight[ids[r], j]</c>.</summary>
    /// <param name="ids">Token ids [rows], each in [0, vocab).</param>
    /// <param name="weight">The embedding table [vocab, dim] (PyTorch <c>weight</c>).</param>
    /// <param name="output">Embeddings [rows, dim]; must not overlap <paramref name="weight"/>.</param>
    /// <param name="vocab">Number of embeddings (PyTorch <c>num_embeddings</c>).</param>
    /// <param name="dim">Embedding size (PyTorch <c>embedding_dim</c>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or an id lies outside [0, vocab) (the message names its row, the id and vocab).</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or output overlaps weight.</exception>
    public static void Forward(ReadOnlySpan<int> ids, ReadOnlySpan<float> weight, Span<float> output, int vocab, int dim)
    {
        CheckTable(weight.Length, vocab, dim, nameof(weight));
        ThrowHelper.CheckShape(output.Length, nameof(output), "rows", ids.Length, nameof(dim), dim);
        ThrowHelper.CheckNoOverlap(weight, output, nameof(weight), nameof(output));
        CheckIds(ids, vocab);
        for (int r = 0; r < ids.Length; r++)
            weight.Slice(ids[r] * dim, dim).CopyTo(output.Slice(r * dim, dim));
    }

    /// <summary>
    /// Effectively computes <c>dWeight[ids[r], j] += dOutput[r, j]</c> for every row r whose id is not
    /// <paramref name="paddingIdx"/> (repeated ids accumulate; the padding row gets no gradient).
    /// </summary>
    /// <param name="ids">The token ids of the forward pass [rows], each in [0, vocab).</param>
    /// <param name="dOutput">Gradient with respect to the embeddings [rows, dim].</param>
    /// <param name="dWeight">Gradient of the table [vocab, dim], accumulated into; must not overlap <paramref name="dOutput"/>.</param>
    /// <param name="vocab">Number of embeddings.</param>
    /// <param name="dim">Embedding size.</param>
    /// <param name="paddingIdx">The id whose row receives no gradient (PyTorch <c>padding_idx</c>, already made non-negative), or -1 for none.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, <paramref name="paddingIdx"/> is outside [-1, vocab), or an id lies outside [0, vocab).</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or dWeight overlaps dOutput.</exception>
    public static void Backward(ReadOnlySpan<int> ids, ReadOnlySpan<float> dOutput, Span<float> dWeight, int vocab, int dim, int paddingIdx)
    {
        CheckTable(dWeight.Length, vocab, dim, nameof(dWeight));
        ThrowHelper.CheckShape(dOutput.Length, nameof(dOutput), "rows", ids.Length, nameof(dim), dim);
        if (paddingIdx < -1 || paddingIdx >= vocab)
            throw new ArgumentOutOfRangeException(nameof(paddingIdx), paddingIdx,
                $"'paddingIdx' must be -1 (none) or an id in [0, {vocab}) but is {paddingIdx}.");
        ThrowHelper.CheckNoOverlap(dOutput, dWeight, nameof(dOutput), nameof(dWeight));
        CheckIds(ids, vocab);
        ref float dy = ref MemoryMarshal.GetReference(dOutput);
        ref float dw = ref MemoryMarshal.GetReference(dWeight);
        for (int r = 0; r < ids.Length; r++)
        {
            int id = ids[r];
            if (id == paddingIdx) continue;
            RowOps.AddTo(ref Unsafe.Add(ref dy, (nint)r * dim), ref Unsafe.Add(ref dw, (nint)id * dim), (nuint)dim);
        }
    }

    /// <summary>Naive reference for <see cref="Forward"/> in double. For tests.</summary>
    public static void ReferenceForward(ReadOnlySpan<int> ids, ReadOnlySpan<double> weight, Span<double> output, int dim)
    {
        for (int r = 0; r < ids.Length; r++)
            for (int j = 0; j < dim; j++) output[r * dim + j] = weight[ids[r] * dim + j];
    }

    private static void CheckTable(int length, int vocab, int dim, string name)
    {
        ThrowHelper.CheckNonNegative(vocab, nameof(vocab));
        ThrowHelper.CheckNonNegative(dim, nameof(dim));
        ThrowHelper.CheckShape(length, name, nameof(vocab), vocab, nameof(dim), dim);
    }

    private static void CheckIds(ReadOnlySpan<int> ids, int vocab)
    {
        for (int r = 0; r < ids.Length; r++)
            if ((uint)ids[r] >= (uint)vocab) ThrowBadId(r, ids[r], vocab);
    }

    [DoesNotReturn]
    private static void ThrowBadId(int row, int id, int vocab)
        => throw new ArgumentOutOfRangeException("ids", id, $"Token id {id} at row {row} is outside the vocabulary [0, {vocab}) (vocab = {vocab}).");
}
