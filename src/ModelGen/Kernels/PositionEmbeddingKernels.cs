// Position embeddings added to a sequence: output[b, t, :] = input[b, t, :] + table[start + t, :], with the table
// either learned (a [maxLength, dim] parameter, PyTorch's nn.Embedding over positions: GPT-style) or the fixed
// sinusoidal encoding of "Attention Is All You Need", PE(p, 2i) = sin(p / 10000^(2i/dim)), PE(p, 2i+1) = cos(...),
// computed once per model (a static table in generated code), never per call. `start` is the position of the first
// row, so incremental decoding adds the encoding of position t to a single step.
namespace ModelGen.Kernels;

/// <summary>Position embeddings (learned or sinusoidal) added to [batch, seq, dim] tensors, forward and backward.</summary>
public static class PositionEmbeddingKernels
{
    /// <summary>Effectively computes <c>output[b, t, j] = input[b, t, j] + table[start + t, j]</c>.</summary>
    /// <param name="input">[batch, seq, dim].</param>
    /// <param name="table">Position vectors [maxLength, dim].</param>
    /// <param name="output">[batch, seq, dim]; may be the same span as <paramref name="input"/>.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="dim">Features per position.</param>
    /// <param name="start">Position of the first row (0 for a whole sequence; t when adding to step t alone).</param>
    /// <param name="layer">The layer's name, for the error message.</param>
    /// <exception cref="ArgumentException">start + seq exceeds the table's positions, or a span's length does not match.</exception>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> table, Span<float> output, int batch, int seq, int dim, int start = 0, string layer = "position embedding")
    {
        Check(input.Length, table, output.Length, batch, seq, dim, start, layer, nameof(input));
        ReadOnlySpan<float> positions = table.Slice(start * dim, seq * dim);
        int plane = seq * dim;
        for (int b = 0; b < batch; b++)
            MergeKernels.Add(input.Slice(b * plane, plane), positions, output.Slice(b * plane, plane));
    }

    /// <summary>
    /// Backward of a learned table: <c>dTable[start + t, j] += Σ_b dOutput[b, t, j]</c> (the input gradient is
    /// <paramref name="dOutput"/> itself).
    /// </summary>
    /// <exception cref="ArgumentException">start + seq exceeds the table's positions, or a span's length does not match.</exception>
    public static void Backward(ReadOnlySpan<float> dOutput, Span<float> dTable, int batch, int seq, int dim, int start = 0, string layer = "position embedding")
    {
        Check(dOutput.Length, dTable, dOutput.Length, batch, seq, dim, start, layer, nameof(dOutput));
        Span<float> positions = dTable.Slice(start * dim, seq * dim);
        int plane = seq * dim;
        for (int b = 0; b < batch; b++)
            MergeKernels.AddInPlace(positions, dOutput.Slice(b * plane, plane));
    }

    /// <summary>The sinusoidal encoding [maxLength, dim]: <c>PE(p, 2i) = sin(p·ω_i)</c>, <c>PE(p, 2i+1) = cos(p·ω_i)</c>, <c>ω_i = 10000^(−2i/dim)</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public static float[] Sinusoidal(int maxLength, int dim)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        var table = new float[checked(maxLength * dim)];
        for (int p = 0; p < maxLength; p++)
            for (int j = 0; j < dim; j++)
            {
                double angle = p * Math.Pow(10000.0, -(j - j % 2) / (double)dim);
                table[p * dim + j] = (float)(j % 2 == 0 ? Math.Sin(angle) : Math.Cos(angle));
            }
        return table;
    }

    private static void Check(int inputLength, ReadOnlySpan<float> table, int outputLength, int batch, int seq, int dim, int start, string layer, string inputName)
    {
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        ThrowHelper.CheckNonNegative(start, nameof(start));
        if (dim <= 0 || table.Length % dim != 0)
            throw new ArgumentException($"The position table of {layer} has {table.Length} floats, not a whole number of rows of {dim}.", nameof(table));
        int positions = table.Length / dim;
        if ((long)start + seq > positions)
            throw new ArgumentException(start == 0
                ? $"{layer} has {positions} positions but the sequence has {seq}; use a shorter sequence (or a larger table)."
                : $"{layer} has {positions} positions but positions {start}..{start + seq - 1} were asked for.", nameof(seq));
        long expected = (long)batch * seq * dim;
        if (inputLength != expected) throw new ArgumentException($"'{inputName}' has {inputLength} floats, expected batch {batch} × seq {seq} × {dim} = {expected}.", inputName);
        if (outputLength != expected) throw new ArgumentException($"'output' has {outputLength} floats, expected batch {batch} × seq {seq} × {dim} = {expected}.", "output");
    }
}
