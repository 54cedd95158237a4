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
        => Forward(ids, 1, 0, weight, output, vocab, dim);

    /// <summary>
    /// The lookup of one id column of a token model with several ids per position (e.g. word, suffix and shape ids):
    /// effectively computes <c>output[r, j] = weight[ids[r·columns + column], j]</c>.
    /// </summary>
    /// <param name="ids">Token ids [rows, columns]; the ids of column <paramref name="column"/> must be in [0, vocab).</param>
    /// <param name="columns">Ids per row (position).</param>
    /// <param name="column">The column this embedding reads, in [0, columns).</param>
    /// <param name="weight">The embedding table [vocab, dim].</param>
    /// <param name="output">Embeddings [rows, dim]; must not overlap <paramref name="weight"/>.</param>
    /// <param name="vocab">Number of embeddings.</param>
    /// <param name="dim">Embedding size.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, the column is outside [0, columns), or an id lies outside [0, vocab).</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or output overlaps weight.</exception>
    public static void Forward(ReadOnlySpan<int> ids, int columns, int column, ReadOnlySpan<float> weight, Span<float> output, int vocab, int dim)
    {
        int rows = CheckColumns(ids.Length, columns, column);
        CheckTable(weight.Length, vocab, dim, nameof(weight));
        ThrowHelper.CheckShape(output.Length, nameof(output), "rows", rows, nameof(dim), dim);
        ThrowHelper.CheckNoOverlap(weight, output, nameof(weight), nameof(output));
        CheckIds(ids, columns, column, vocab);
        for (int r = 0; r < rows; r++)
            weight.Slice(ids[r * columns + column] * dim, dim).CopyTo(output.Slice(r * dim, dim));
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
        => Backward(ids, 1, 0, dOutput, dWeight, vocab, dim, paddingIdx);

    /// <summary>Backward of the column lookup: <c>dWeight[ids[r·columns + column], j] += dOutput[r, j]</c> except for the padding id.</summary>
    /// <param name="ids">The token ids of the forward pass [rows, columns].</param>
    /// <param name="columns">Ids per row.</param>
    /// <param name="column">The column the embedding read.</param>
    /// <param name="dOutput">Gradient with respect to the embeddings [rows, dim].</param>
    /// <param name="dWeight">Gradient of the table [vocab, dim], accumulated into.</param>
    /// <param name="vocab">Number of embeddings.</param>
    /// <param name="dim">Embedding size.</param>
    /// <param name="paddingIdx">The id whose row receives no gradient, or -1 for none.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, the column or <paramref name="paddingIdx"/> is out of range, or an id lies outside [0, vocab).</exception>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or dWeight overlaps dOutput.</exception>
    public static void Backward(ReadOnlySpan<int> ids, int columns, int column, ReadOnlySpan<float> dOutput, Span<float> dWeight, int vocab, int dim, int paddingIdx)
    {
        int rows = CheckColumns(ids.Length, columns, column);
        CheckTable(dWeight.Length, vocab, dim, nameof(dWeight));
        ThrowHelper.CheckShape(dOutput.Length, nameof(dOutput), "rows", rows, nameof(dim), dim);
        if (paddingIdx < -1 || paddingIdx >= vocab)
            throw new ArgumentOutOfRangeException(nameof(paddingIdx), paddingIdx,
                $"'paddingIdx' must be -1 (none) or an id in [0, {vocab}) but is {paddingIdx}.");
        ThrowHelper.CheckNoOverlap(dOutput, dWeight, nameof(dOutput), nameof(dWeight));
        CheckIds(ids, columns, column, vocab);
        ref float dy = ref MemoryMarshal.GetReference(dOutput);
        ref float dw = ref MemoryMarshal.GetReference(dWeight);
        for (int r = 0; r < rows; r++)
        {
            int id = ids[r * columns + column];
            if (id == paddingIdx) continue;
            RowOps.AddTo(ref Unsafe.Add(ref dy, (nint)r * dim), ref Unsafe.Add(ref dw, (nint)id * dim), (nuint)dim);
        }
    }

    /// <summary>Naive reference for <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float}, int, int)"/> in double. For tests.</summary>
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

    private static void CheckIds(ReadOnlySpan<int> ids, int columns, int column, int vocab)
    {
        for (int i = column; i < ids.Length; i += columns)
            if ((uint)ids[i] >= (uint)vocab) ThrowBadId(i / columns, ids[i], vocab);
    }

    /// <summary>Checks the column layout and returns the number of rows.</summary>
    private static int CheckColumns(int length, int columns, int column)
    {
        if (columns <= 0) throw new ArgumentOutOfRangeException(nameof(columns), columns, "'columns' must be positive.");
        if ((uint)column >= (uint)columns)
            throw new ArgumentOutOfRangeException(nameof(column), column, $"'column' must be in [0, {columns}) but is {column}.");
        if (length % columns != 0)
            throw new ArgumentException($"'ids' has {length} ids, not a whole number of rows of {columns} columns.", "ids");
        return length / columns;
    }

    [DoesNotReturn]
    private static void ThrowBadId(int row, int id, int vocab)
        => throw new ArgumentOutOfRangeException("ids", id, $"Token id {id} at row {row} is outside the vocabulary [0, {vocab}) (vocab = {vocab}).");
}
