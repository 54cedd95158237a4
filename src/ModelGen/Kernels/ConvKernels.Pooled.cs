// Inference-only fusion of a convolution (bias + activation) with the max pool that follows it: only the pooled
// outputs are written. On the single-example direct path (ConvKernels.Direct.cs) with a 2×2/2 pool, each output
// channel's tile grid gets the bias and activation in place and is pooled straight from there (two grid rows per pooled
// row), so the full-size convolution output never leaves the scratch and no separate pooling call re-reads it.
// Everything else (blocks of examples that take the lane-interleaved path, the im2col path, other pool shapes) runs the
// unfused kernels on a chunk of examples into thread-static scratch and pools it from there: same results, and the
// intermediate stays in cache. Results equal Forward followed by PoolingKernels.MaxForward: bit for bit for ReLU and
// the identity (same tiles, same bias add, same winner rule); other activations may differ in the last bits where a
// value falls in a vector body on one path and a scalar tail on the other (IActivation allows that between widths).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

public static partial class ConvKernels
{
    [ThreadStatic] private static float[]? t_unpooled;   // a chunk's convolution output before pooling (unfused cases)

    /// <summary>Lane blocks convolved per chunk before pooling (bounds the scratch: 4 × 8 examples of LeNet's conv2 are 200 KB).</summary>
    private const int LaneBlocksPerChunk = 4;

    /// <summary>
    /// Inference only: effectively <c>output = MaxPool(act(conv(input, weight) + bias))</c>, that is
    /// <see cref="Forward{TAct}(TAct, in ConvGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/>
    /// followed by <see cref="PoolingKernels.MaxForward(in PoolGeometry, ReadOnlySpan{float}, Span{float}, Span{int}, int)"/>,
    /// without writing the convolution's output (identical results for ReLU and the identity; see the file header).
    /// </summary>
    /// <param name="act">The activation operator (applied before pooling).</param>
    /// <param name="g">The convolution geometry.</param>
    /// <param name="pool">The max-pool geometry over the convolution's output: Channels = OutChannels, InHeight = OutHeight, InWidth = OutWidth.</param>
    /// <param name="input">Input [batch, InChannels, InHeight, InWidth].</param>
    /// <param name="weight">Weight [OutChannels, InChannels/Groups, KernelH, KernelW].</param>
    /// <param name="bias">Bias [OutChannels], or empty for no bias.</param>
    /// <param name="output">Pooled output [batch, OutChannels, pool.OutHeight, pool.OutWidth]; must not overlap the other operands.</param>
    /// <param name="batch">Number of examples.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative.</exception>
    /// <exception cref="ArgumentException">A geometry is invalid, the pool does not match the convolution's output, a span's
    /// length does not match its shape, or spans overlap.</exception>
    public static void ForwardMaxPool<TAct>(TAct act, in ConvGeometry g, in PoolGeometry pool, ReadOnlySpan<float> input,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output, int batch) where TAct : struct, IActivation
        => ForwardMaxPool(Path.Auto, act, g, pool, input, weight, bias, output, batch);

    /// <summary><see cref="ForwardMaxPool{TAct}(TAct, in ConvGeometry, in PoolGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int)"/> on a chosen path.</summary>
    internal static void ForwardMaxPool<TAct>(Path path, TAct act, in ConvGeometry g, in PoolGeometry pool, ReadOnlySpan<float> input,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output, int batch) where TAct : struct, IActivation
    {
        CheckMaxPool(g, pool, input, weight, bias, output, batch);
        if (batch == 0) return;
        if (g.PaddingMode != PaddingMode.Zeros)
        {
            // As Forward: pad into scratch, then fuse the zero-padding convolution on it with the pool.
            ConvGeometry inner = OnPaddedInput(g);
            Span<float> padded = Scratch(ref t_padded, batch * inner.InputLength);   // [batch, C, Hp, Wp]
            PadInput(g, input, padded, batch);
            ForwardMaxPool(path, act, inner, pool, padded, weight, bias, output, batch);
            return;
        }
        FusedOrChunked(path, act, g, pool, input, weight, bias, output, batch);
    }

    /// <summary>The argument checks of <see cref="ForwardMaxPool{TAct}(TAct, in ConvGeometry, in PoolGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int)"/>.</summary>
    private static void CheckMaxPool(in ConvGeometry g, in PoolGeometry pool, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, int batch)
    {
        g.Validate(nameof(g));
        pool.Validate(nameof(pool));
        if (pool.Channels != g.OutChannels || pool.InHeight != g.OutHeight || pool.InWidth != g.OutWidth)
            throw new ArgumentException(
                $"The pool's input [{pool.Channels}, {pool.InHeight}, {pool.InWidth}] must be the convolution's output [{g.OutChannels}, {g.OutHeight}, {g.OutWidth}].",
                nameof(pool));
        ThrowHelper.CheckNonNegative(batch, nameof(batch));
        ThrowHelper.CheckShape(input.Length, nameof(input), nameof(batch), batch, nameof(g.InputLength), g.InputLength);
        ThrowHelper.CheckShape(weight.Length, nameof(weight), nameof(g.WeightLength), g.WeightLength);
        if (!bias.IsEmpty) ThrowHelper.CheckShape(bias.Length, nameof(bias), nameof(g.OutChannels), g.OutChannels, orEmpty: true);
        ThrowHelper.CheckShape(output.Length, nameof(output), nameof(batch), batch, nameof(pool.OutputLength), pool.OutputLength);
        ThrowHelper.CheckNoOverlap(input, output, nameof(input), nameof(output));
        ThrowHelper.CheckNoOverlap(weight, output, nameof(weight), nameof(output));
        ThrowHelper.CheckNoOverlap(bias, output, nameof(bias), nameof(output));
    }

    /// <summary>The zero-padding case of ForwardMaxPool on checked arguments: fused on the direct path, else in chunks.</summary>
    private static void FusedOrChunked<TAct>(Path path, TAct act, in ConvGeometry g, in PoolGeometry pool, ReadOnlySpan<float> input,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output, int batch) where TAct : struct, IActivation
    {
        Path resolved = Resolve(path);
        if (resolved == Path.Im2Col || !PoolingKernels.IsMax2x2(pool))
        {
            PooledInChunks(path, act, g, pool, input, weight, bias, output, 0, batch, chunk: 1);
            return;
        }
        switch (resolved)
        {
            case Path.ScalarLanes: FusedForward<TAct, float, ConvScalar>(path, act, g, pool, input, weight, bias, output, batch, forceLanes: true); break;
            case Path.V128Lanes: FusedForward<TAct, Vector128<float>, ConvV128>(path, act, g, pool, input, weight, bias, output, batch, forceLanes: true); break;
            case Path.V256Lanes: FusedForward<TAct, Vector256<float>, ConvV256>(path, act, g, pool, input, weight, bias, output, batch, forceLanes: true); break;
            case Path.V512Lanes: FusedForward<TAct, Vector512<float>, ConvV512>(path, act, g, pool, input, weight, bias, output, batch, forceLanes: true); break;
            case Path.ScalarShifted: FusedForward<TAct, float, ConvScalar>(path, act, g, pool, input, weight, bias, output, batch, shifted: true); break;
            case Path.V128Shifted: FusedForward<TAct, Vector128<float>, ConvV128>(path, act, g, pool, input, weight, bias, output, batch, shifted: true); break;
            case Path.V256Shifted: FusedForward<TAct, Vector256<float>, ConvV256>(path, act, g, pool, input, weight, bias, output, batch, shifted: true); break;
            case Path.V512Shifted: FusedForward<TAct, Vector512<float>, ConvV512>(path, act, g, pool, input, weight, bias, output, batch, shifted: true); break;
            case Path.ScalarWide: FusedForward<TAct, float, ConvScalar>(path, act, g, pool, input, weight, bias, output, batch, shifted: false); break;
            case Path.V128Wide: FusedForward<TAct, Vector128<float>, ConvV128>(path, act, g, pool, input, weight, bias, output, batch, shifted: false); break;
            case Path.V256Wide: FusedForward<TAct, Vector256<float>, ConvV256>(path, act, g, pool, input, weight, bias, output, batch, shifted: false); break;
            case Path.V512Wide: FusedForward<TAct, Vector512<float>, ConvV512>(path, act, g, pool, input, weight, bias, output, batch, shifted: false); break;
            case Path.V512: FusedForward<TAct, Vector512<float>, ConvV512>(path, act, g, pool, input, weight, bias, output, batch); break;
            case Path.V256: FusedForward<TAct, Vector256<float>, ConvV256>(path, act, g, pool, input, weight, bias, output, batch); break;
            case Path.V128: FusedForward<TAct, Vector128<float>, ConvV128>(path, act, g, pool, input, weight, bias, output, batch); break;
            default: FusedForward<TAct, float, ConvScalar>(path, act, g, pool, input, weight, bias, output, batch); break;
        }
    }

    /// <summary>Examples [from, to) in chunks: the unfused convolution into scratch, then the pool from there into the output.</summary>
    private static void PooledInChunks<TAct>(Path path, TAct act, in ConvGeometry g, in PoolGeometry pool, ReadOnlySpan<float> input,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output, int from, int to, int chunk) where TAct : struct, IActivation
    {
        int inLen = g.InputLength, outLen = g.OutputLength, pooledLen = pool.OutputLength;
        Span<float> unpooled = Scratch(ref t_unpooled, chunk * outLen);
        for (int b = from; b < to; b += chunk)
        {
            int n = Math.Min(chunk, to - b);
            Span<float> y = unpooled.Slice(0, n * outLen);
            Forward(path, act, g, input.Slice(b * inLen, n * inLen), weight, bias, y, default, n);
            PoolingKernels.MaxForward(pool, y, output.Slice(b * pooledLen, n * pooledLen), default, n);
        }
    }

    /// <summary>
    /// The direct path with a 2×2/2 pool: whole blocks of examples that the lane-interleaved path takes go through it in
    /// chunks of up to <see cref="LaneBlocksPerChunk"/> blocks; every other example is convolved and pooled in one pass over its tile grid.
    /// </summary>
    private static void FusedForward<TAct, TV, TOps>(Path path, TAct act, in ConvGeometry g, in PoolGeometry pool, ReadOnlySpan<float> input,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output, int batch, bool forceLanes = false, bool? shifted = null)
        where TAct : struct, IActivation where TV : struct where TOps : struct, IConvVector<TV>
    {
        int lanes = TOps.Count;
        int done = LanesApply(g, batch, lanes, ForwardWasteTenths, forceLanes) ? batch / lanes * lanes : 0;
        // Four blocks per chunk: the lane path's per-call setup (clearing its padded source) is paid once per chunk.
        if (done > 0) PooledInChunks(path, act, g, pool, input, weight, bias, output, 0, done, chunk: LaneBlocksPerChunk * lanes);
        if (done == batch) return;

        int groups = g.Groups, cg = g.InChannels / groups, og = g.OutChannels / groups;
        int k = cg * g.KernelH * g.KernelW, hw = g.InHeight * g.InWidth, inLen = g.InputLength;
        int poh = pool.OutHeight, pow = pool.OutWidth, pooledPlane = poh * pow, pooledLen = pool.OutputLength;
        var layout = new Layout(g, cg, 2 * TOps.Count, shifted ?? ShiftedApply(g));
        Span<float> src = Scratch(ref t_src, layout.SourceLength);
        Span<float> wide = Scratch(ref t_wide, og * layout.Pitch);
        Span<int> koff = ScratchInt(ref t_koff, k);
        PrepareSource(g, layout, cg, src, koff);

        bool hasBias = !bias.IsEmpty;
        int rowPitch = layout.RowPitch;
        ref float out0 = ref MemoryMarshal.GetReference(output);
        ref float wide0 = ref MemoryMarshal.GetReference(wide);
        for (int b = done; b < batch; b++)
            for (int grp = 0; grp < groups; grp++)
            {
                FillSource(g, layout, input.Slice(b * inLen + grp * cg * hw, cg * hw), src, cg);
                Tiles<TV, TOps>(src, koff, weight.Slice(grp * og * k, og * k), og, k, layout.Positions, wide, layout.Pitch);
                for (int o = 0; o < og; o++)
                {
                    int channel = grp * og + o;
                    // Bias and activation in place over the channel's grid (the dropped wide columns too: cheaper than
                    // row by row), then each pooled row from two grid rows.
                    ref float grid = ref Unsafe.Add(ref wide0, o * layout.Pitch);
                    Epilogue(act, ref grid, ref grid, false, ref grid, hasBias ? bias[channel] : 0f, (nuint)layout.Positions);
                    ref float dst = ref Unsafe.Add(ref out0, (nint)b * pooledLen + (nint)channel * pooledPlane);
                    for (int py = 0; py < poh; py++)
                        PoolingKernels.Max2x2Row(ref Unsafe.Add(ref grid, 2 * py * rowPitch), ref Unsafe.Add(ref grid, (2 * py + 1) * rowPitch),
                            ref Unsafe.Add(ref dst, py * pow), pow);
                }
            }
    }
}
