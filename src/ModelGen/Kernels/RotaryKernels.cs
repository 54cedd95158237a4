// Rotary position embeddings (RoPE, Su et al. 2021) in the convention of torchtune's RotaryPositionalEmbeddings (PyTorch's
// own library): each head vector's pairs (x[2i], x[2i+1]) are rotated by the angle p·θ_i, θ_i = base^(−2i/head_dim), where p
// is the row's position:
//   y[2i]   = x[2i]·cos(p·θ_i) − x[2i+1]·sin(p·θ_i)
//   y[2i+1] = x[2i+1]·cos(p·θ_i) + x[2i]·sin(p·θ_i)
// Attention applies it to q and k after the in-projection, so q·k depends on positions only through their difference.
// Backward is the transpose rotation (angle −p·θ_i) applied to the gradient. The angles follow torchtune's float32 arithmetic
// (θ_i = 1/base^(2i/d) and p·θ_i rounded to float) so the table matches libtorch's cache; cos and sin are then taken in double.
// The table is stored expanded to one cos and one signed sin per element ([maxLength, head_dim] each) so the vector path is
// y = x ⊙ C + swap(x) ⊙ S with swap exchanging the two lanes of every pair, with no de-interleaving of the table.
// Naive double references (Reference*) stay in this file: tests compare the fast paths with them.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>
/// The fixed cos/sin table of rotary position embeddings for one head width and up to <see cref="MaxLength"/> positions
/// (torchtune's <c>RotaryPositionalEmbeddings(dim, max_seq_len, base)</c> cache). Immutable and thread-safe; compute it once per
/// model (it is a pure function of its three arguments, so it is not a parameter and is never saved).
/// </summary>
public sealed class RotaryTable : IEquatable<RotaryTable>
{
    // [maxLength, headSize]: Cos[p, j] = cos(p·θ_{j/2}); Sin[p, j] = −sin(p·θ_{j/2}) for even j, +sin for odd j.
    private readonly float[] _cos, _sin;

    /// <summary>Computes the table: angle <c>p·θ_i</c>, <c>θ_i = base^(−2i/headSize)</c>, for positions <c>p</c> in [0, maxLength) and <c>i</c> in [0, headSize/2).</summary>
    /// <param name="headSize">Features per head (torchtune's <c>dim</c>); must be even.</param>
    /// <param name="maxLength">Positions the table holds (torchtune's <c>max_seq_len</c>).</param>
    /// <param name="base">The base of the geometric progression of frequencies (torchtune's <c>base</c>, default 10000).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="headSize"/> or <paramref name="maxLength"/> is less than 1, or
    /// <paramref name="base"/> is not finite and greater than 1.</exception>
    /// <exception cref="ArgumentException"><paramref name="headSize"/> is odd, or the table would exceed one array.</exception>
    public RotaryTable(int headSize, int maxLength, float @base = 10000f)
    {
        if (headSize < 1) throw new ArgumentOutOfRangeException(nameof(headSize), headSize, $"'{nameof(headSize)}' must be at least 1 but is {headSize}.");
        if (maxLength < 1) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"'{nameof(maxLength)}' must be at least 1 but is {maxLength}.");
        if (!(@base > 1f) || float.IsInfinity(@base))
            throw new ArgumentOutOfRangeException(nameof(@base), @base, $"'{nameof(@base)}' must be finite and greater than 1 but is {@base}.");
        if (headSize % 2 != 0)
            throw new ArgumentException($"'{nameof(headSize)}' must be even (rotary embeddings rotate pairs of features) but is {headSize}.", nameof(headSize));
        if ((long)headSize * maxLength > Array.MaxLength)
            throw new ArgumentException($"A rotary table of {maxLength} positions × {headSize} features exceeds one array ({Array.MaxLength} elements).", nameof(maxLength));
        HeadSize = headSize;
        MaxLength = maxLength;
        Base = @base;
        _cos = new float[headSize * maxLength];
        _sin = new float[headSize * maxLength];
        int half = headSize / 2;
        Span<float> theta = half <= 256 ? stackalloc float[half] : new float[half];
        for (int i = 0; i < half; i++)
            theta[i] = 1f / MathF.Pow(@base, (float)(2 * i) / headSize);   // torchtune: 1.0 / (base ** (arange(0, dim, 2).float() / dim))
        for (int p = 0; p < maxLength; p++)
            for (int i = 0; i < half; i++)
            {
                float angle = p * theta[i];   // float32 product, as torchtune's einsum over float32 tensors
                float c = (float)Math.Cos(angle), s = (float)Math.Sin(angle);
                int at = p * headSize + 2 * i;
                _cos[at] = c;
                _cos[at + 1] = c;
                _sin[at] = -s;
                _sin[at + 1] = s;
            }
    }

    /// <summary>Features per head.</summary>
    public int HeadSize { get; }

    /// <summary>Positions the table holds: rows at positions [0, MaxLength) can be rotated.</summary>
    public int MaxLength { get; }

    /// <summary>The frequency base.</summary>
    public float Base { get; }

    /// <summary><c>cos(p·θ_i)</c> of position <paramref name="position"/>, i = 0 .. HeadSize/2 − 1 (a copy of the table's values, for inspection).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="position"/> is outside [0, MaxLength).</exception>
    public float[] CosAt(int position) => Pick(_cos, position, odd: false);

    /// <summary><c>sin(p·θ_i)</c> of position <paramref name="position"/>, i = 0 .. HeadSize/2 − 1 (a copy).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="position"/> is outside [0, MaxLength).</exception>
    public float[] SinAt(int position) => Pick(_sin, position, odd: true);   // odd elements hold +sin

    internal ref float CosRow(int position) => ref _cos[position * HeadSize];

    internal ref float SinRow(int position) => ref _sin[position * HeadSize];

    private float[] Pick(float[] table, int position, bool odd)
    {
        if ((uint)position >= (uint)MaxLength)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"'{nameof(position)}' must be in [0, MaxLength={MaxLength}) but is {position}.");
        var values = new float[HeadSize / 2];
        for (int i = 0; i < values.Length; i++) values[i] = table[position * HeadSize + 2 * i + (odd ? 1 : 0)];
        return values;
    }

    /// <inheritdoc/>
    public bool Equals(RotaryTable? other) => other is not null && HeadSize == other.HeadSize && MaxLength == other.MaxLength && Base.Equals(other.Base);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is RotaryTable other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(HeadSize, MaxLength, Base);

    /// <summary>A torchtune-like description, e.g. <c>RotaryPositionalEmbeddings(dim=32, max_seq_len=128, base=10000)</c>.</summary>
    public override string ToString()
        => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"RotaryPositionalEmbeddings(dim={HeadSize}, max_seq_len={MaxLength}, base={Base})");
}

/// <summary>Rotary position embeddings applied in place to the head vectors of attention queries and keys, and their backward.</summary>
/// <remarks>
/// The operand is <c>[batch, seq]</c> rows of <c>rowStride</c> floats; the first <c>width</c> floats of each row are
/// <c>width / HeadSize</c> head vectors, all rotated by the row's position <c>start + t</c>. With a packed in-projection
/// <c>[rows, 3d]</c> (q, k, v side by side), one call with <c>width = 2d</c> rotates the queries and keys of every head.
/// </remarks>
public static class RotaryKernels
{
    /// <summary>
    /// Rotates in place: for row (b, t) at position <c>p = start + t</c> and every head vector h of it,
    /// <c>h[2i] ← h[2i]·cos(p·θ_i) − h[2i+1]·sin(p·θ_i)</c>, <c>h[2i+1] ← h[2i+1]·cos(p·θ_i) + h[2i]·sin(p·θ_i)</c>.
    /// </summary>
    /// <param name="table">The cos/sin table (its <see cref="RotaryTable.HeadSize"/> is the head width).</param>
    /// <param name="x">Rows <c>[batch, seq]</c> of <paramref name="rowStride"/> floats (the last row may end right after its <paramref name="width"/> floats).</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="rowStride">Floats from one row to the next; at least <paramref name="width"/>.</param>
    /// <param name="width">Floats rotated per row: a whole number of heads.</param>
    /// <param name="start">Position of each example's first row (0 for a whole sequence; t for the cached step at position t).</param>
    /// <exception cref="ArgumentNullException"><paramref name="table"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size or <paramref name="start"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="width"/> is not a multiple of the head width or exceeds <paramref name="rowStride"/>,
    /// positions <c>start .. start + seq − 1</c> exceed the table, or <paramref name="x"/> is too short.</exception>
    public static void Forward(RotaryTable table, Span<float> x, int batch, int seq, int rowStride, int width, int start = 0)
    {
        Check(table, x.Length, batch, seq, rowStride, width, start);
        Rotate<Rotation>(table, ref MemoryMarshal.GetReference(x), batch, seq, rowStride, width, start);
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> in place: the gradient is rotated by the opposite angle (the transpose rotation),
    /// <c>g[2i] ← g[2i]·cos(p·θ_i) + g[2i+1]·sin(p·θ_i)</c>, <c>g[2i+1] ← g[2i+1]·cos(p·θ_i) − g[2i]·sin(p·θ_i)</c>.
    /// </summary>
    /// <param name="table">The table given to <see cref="Forward"/>.</param>
    /// <param name="grad">∂L/∂(rotated rows) in, ∂L/∂(rows before rotation) out; laid out as <c>x</c> of <see cref="Forward"/>.</param>
    /// <param name="batch">Examples.</param>
    /// <param name="seq">Positions per example.</param>
    /// <param name="rowStride">Floats from one row to the next.</param>
    /// <param name="width">Floats rotated per row.</param>
    /// <param name="start">Position of each example's first row.</param>
    /// <exception cref="ArgumentNullException"><paramref name="table"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size or <paramref name="start"/> is negative.</exception>
    /// <exception cref="ArgumentException">As <see cref="Forward"/>.</exception>
    public static void Backward(RotaryTable table, Span<float> grad, int batch, int seq, int rowStride, int width, int start = 0)
    {
        Check(table, grad.Length, batch, seq, rowStride, width, start);
        Rotate<InverseRotation>(table, ref MemoryMarshal.GetReference(grad), batch, seq, rowStride, width, start);
    }

    /// <summary>The unchecked core for callers that validated their operands (the Transformer kernels).</summary>
    internal static unsafe void ForwardUnchecked(RotaryTable table, float* x, int batch, int seq, int rowStride, int width, int start)
        => Rotate<Rotation>(table, ref *x, batch, seq, rowStride, width, start);

    /// <summary>The unchecked backward core.</summary>
    internal static unsafe void BackwardUnchecked(RotaryTable table, float* grad, int batch, int seq, int rowStride, int width, int start)
        => Rotate<InverseRotation>(table, ref *grad, batch, seq, rowStride, width, start);

    /// <summary>
    /// Reference of <see cref="Forward"/> (or, with <paramref name="inverse"/>, <see cref="Backward"/>) in double from the formula,
    /// angles computed as the table computes them (torchtune's float32 <c>p·θ_i</c>).
    /// </summary>
    public static void ReferenceForward(Span<double> x, int headSize, int batch, int seq, int rowStride, int width, int start, float @base = 10000f, bool inverse = false)
    {
        int half = headSize / 2;
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seq; t++)
            {
                int p = start + t;
                long row = ((long)b * seq + t) * rowStride;
                for (int h = 0; h < width; h += headSize)
                    for (int i = 0; i < half; i++)
                    {
                        float theta = 1f / MathF.Pow(@base, (float)(2 * i) / headSize);
                        double angle = p * theta, c = Math.Cos((float)angle), s = Math.Sin((float)angle) * (inverse ? -1 : 1);
                        long at = row + h + 2 * i;
                        double x0 = x[(int)at], x1 = x[(int)at + 1];
                        x[(int)at] = x0 * c - x1 * s;
                        x[(int)at + 1] = x1 * c + x0 * s;
                    }
            }
    }

    private static void Check(RotaryTable table, int length, int batch, int seq, int rowStride, int width, int start)
    {
        ArgumentNullException.ThrowIfNull(table);
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckNonNegative(seq, nameof(seq));
        ThrowHelper.CheckNonNegative(width, nameof(width));
        ThrowHelper.CheckNonNegative(start, nameof(start));
        if (width % table.HeadSize != 0)
            throw new ArgumentException($"'{nameof(width)}' ({width}) must be a whole number of heads of {table.HeadSize} features ({table}).", nameof(width));
        if (rowStride < width)
            throw new ArgumentException($"'{nameof(rowStride)}' ({rowStride}) must be at least '{nameof(width)}' ({width}).", nameof(rowStride));
        if ((long)start + seq > table.MaxLength)
            throw new ArgumentException(
                $"Positions {start}..{(long)start + seq - 1} exceed the {table.MaxLength} positions of the rotary table ({table}); use a shorter sequence or a larger table.",
                nameof(seq));
        long rows = (long)batch * seq;
        long need = rows == 0 ? 0 : (rows - 1) * rowStride + width;
        if (length < need)
            throw new ArgumentException(
                $"The rotated operand must have at least {need} elements ([batch={batch}, seq={seq}] rows of stride {rowStride}, {width} rotated) but has {length}.", "x");
    }

    private interface IDirection;

    private struct Rotation : IDirection;

    private struct InverseRotation : IDirection;

    // typeof(TDir) == typeof(InverseRotation) is a JIT-time constant: each direction gets its own branch-free loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rotate<TDir>(RotaryTable table, ref float x, int batch, int seq, int rowStride, int width, int start) where TDir : struct, IDirection
    {
        int hs = table.HeadSize;
        for (int t = 0; t < seq; t++)
        {
            ref float c = ref table.CosRow(start + t);
            ref float s = ref table.SinRow(start + t);
            for (int b = 0; b < batch; b++)
            {
                ref float row = ref Unsafe.Add(ref x, ((nint)b * seq + t) * rowStride);
                for (int h = 0; h < width; h += hs)
                    RotateHead<TDir>(ref Unsafe.Add(ref row, h), ref c, ref s, (nuint)hs);
            }
        }
    }

    /// <summary>One head vector: y = x ⊙ C ± swap(x) ⊙ S (vector chunks start at even offsets, so pairs never straddle a chunk).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RotateHead<TDir>(ref float x, ref float c, ref float s, nuint n) where TDir : struct, IDirection
    {
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
            {
                var v = Vector512.LoadUnsafe(ref x, i);
                var swapped = Vector512.Shuffle(v, Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14));
                var sv = Vector512.LoadUnsafe(ref s, i);
                var cv = Vector512.LoadUnsafe(ref c, i);
                (typeof(TDir) == typeof(InverseRotation) ? v * cv - swapped * sv : v * cv + swapped * sv).StoreUnsafe(ref x, i);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref x, i);
                var swapped = Vector256.Shuffle(v, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6));
                var sv = Vector256.LoadUnsafe(ref s, i);
                var cv = Vector256.LoadUnsafe(ref c, i);
                (typeof(TDir) == typeof(InverseRotation) ? v * cv - swapped * sv : v * cv + swapped * sv).StoreUnsafe(ref x, i);
            }
        if (Vector128.IsHardwareAccelerated)
            for (; i + (nuint)Vector128<float>.Count <= n; i += (nuint)Vector128<float>.Count)
            {
                var v = Vector128.LoadUnsafe(ref x, i);
                var swapped = Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2));
                var sv = Vector128.LoadUnsafe(ref s, i);
                var cv = Vector128.LoadUnsafe(ref c, i);
                (typeof(TDir) == typeof(InverseRotation) ? v * cv - swapped * sv : v * cv + swapped * sv).StoreUnsafe(ref x, i);
            }
        for (; i < n; i += 2)
        {
            float x0 = Unsafe.Add(ref x, i), x1 = Unsafe.Add(ref x, i + 1);
            float cv = Unsafe.Add(ref c, i), sv = Unsafe.Add(ref s, i + 1);   // sv = +sin
            if (typeof(TDir) == typeof(InverseRotation)) sv = -sv;
            Unsafe.Add(ref x, i) = x0 * cv - x1 * sv;
            Unsafe.Add(ref x, i + 1) = x1 * cv + x0 * sv;
        }
    }
}
