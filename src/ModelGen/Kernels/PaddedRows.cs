// Padded positions of a [batch, seq, width] buffer: rows t >= lengths[b]. The Transformer and attention kernels read
// them as zeros, so whatever padding holds (even NaN) never reaches a real output or gradient.
namespace ModelGen.Kernels;

internal static unsafe class PaddedRows
{
    /// <summary>True when some example is shorter than <paramref name="seq"/> (null lengths: every example is full).</summary>
    public static bool Any(int* lengths, int batch, int seq)
    {
        if (lengths == null) return false;
        for (int b = 0; b < batch; b++)
            if (lengths[b] < seq) return true;
        return false;
    }

    /// <summary>Writes 0 to the padded rows (t ≥ lengths[b]) of a [batch, seq, width] buffer.</summary>
    public static void Zero(float* buffer, int* lengths, int batch, int seq, int width)
    {
        if (lengths == null) return;
        for (int b = 0; b < batch; b++)
            if (lengths[b] < seq)
                new Span<float>(buffer + ((long)b * seq + lengths[b]) * width, checked((int)((long)(seq - lengths[b]) * width))).Clear();
    }

    /// <summary><paramref name="x"/> itself when no example is padded, else <paramref name="copy"/> holding x with the padded rows zeroed.</summary>
    public static float* ZeroedCopy(float* x, float* copy, int* lengths, int batch, int seq, int width)
    {
        if (!Any(lengths, batch, seq)) return x;
        int n = checked((int)((long)batch * seq * width));
        new ReadOnlySpan<float>(x, n).CopyTo(new Span<float>(copy, n));
        Zero(copy, lengths, batch, seq, width);
        return copy;
    }
}
