// The batched stride-1 convolution path: examples in the vector lanes. A block of L examples (L = floats per vector) is
// transposed into a lane-interleaved source [C, Hp, Wp, L] (padded plane, each element a vector of the block's L
// examples), so every output position is one whole vector and the "wide grid" of the single-example path
// (ConvKernels.Direct.cs: OH × Wp positions of which only OH × OW are kept, 40 % waste on LeNet's 10 × 10 layer)
// disappears. The register tile is the same 6 output channels × 2 positions; the positions of a tile are now two
// adjacent output columns of one row.
// Backward keeps the dW partial sums as vectors in memory across the whole batch (one lane reduction per weight at the
// end instead of one per weight and example), and the input gradient is the stride-1 "full" convolution of the
// lane-interleaved dPre (padded by (K − 1)·d − p) with the transposed, flipped weight, also waste-free.
// Examples beyond the last whole block take the single-example path. Results are deterministic (fixed order), and differ
// from the single-example path only in the order of the dW reduction.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelGen.Kernels;

public static partial class ConvKernels
{
    [ThreadStatic] private static float[]? t_laneY;     // activated rows of one output channel, before the scatter
    [ThreadStatic] private static float[]? t_laneAcc;   // dW partial sums [O, K, L], kept across the batch

    /// <summary>
    /// Stride 1, at least one whole block of <paramref name="lanes"/> examples, and a wide grid that wastes enough to pay for
    /// the (scalar) transposes in and out: padded width ≥ <paramref name="wasteTenths"/>/10 of the output width. Measured
    /// with bench/ConvBench (AVX2): LeNet's 10-wide layer (14/10) and the ResNet's 7-wide one (9/7, backward) win;
    /// 28- and 14-wide layers (waste ≤ 1.14) lose, the transposes costing more than the waste saved.
    /// </summary>
    /// <param name="g">The convolution geometry.</param>
    /// <param name="batch">Examples in the call.</param>
    /// <param name="lanes">Examples per block (the vector width in floats).</param>
    /// <param name="wasteTenths">Minimum padded-to-output width ratio, in tenths.</param>
    /// <param name="force">Skip the waste test (the *Lanes paths that tests force; a one-lane "vector" is then allowed too).</param>
    private static bool LanesApply(in ConvGeometry g, int batch, int lanes, int wasteTenths, bool force)
        => g.StrideH == 1 && g.StrideW == 1 && batch >= lanes
           && (force || (lanes > 1 && (g.InWidth + 2 * g.PadW) * 10 >= g.OutWidth * wasteTenths));

    /// <summary>Forward takes the lane path from a wide-grid waste of 1.3 (the ResNet's 7 × 7 layer, 9/7, measured a little slower).</summary>
    private const int ForwardWasteTenths = 13;

    /// <summary>Backward takes it from 1.2: it also saves the per-example dW lane reductions.</summary>
    private const int BackwardWasteTenths = 12;

    /// <summary>The forward pass of the whole blocks of examples; returns how many examples it did (a multiple of L).</summary>
    private static int LanesForward<TAct, TV, TOps>(TAct act, in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, Span<float> preActivation, int batch)
        where TAct : struct, IActivation where TV : struct where TOps : struct, IConvVector<TV>
    {
        int lanes = TOps.Count, blocks = batch / lanes;
        int groups = g.Groups, cg = g.InChannels / groups, og = g.OutChannels / groups;
        int k = cg * g.KernelH * g.KernelW, oh = g.OutHeight, ow = g.OutWidth, p = oh * ow, hw = g.InHeight * g.InWidth;
        int inLen = g.InputLength, outLen = g.OutputLength;
        int hp = g.InHeight + 2 * g.PadH, wp = g.InWidth + 2 * g.PadW, ow2 = (ow + 1) & ~1;
        int pitch = oh * ow2 * lanes;   // one output channel on the tile grid [OH, OW rounded to the tile, L]

        // The padding borders stay zero across blocks (only the interior is rewritten); the slack feeds the odd last
        // column's dropped partner position.
        Span<float> src = Scratch(ref t_src, cg * hp * wp * lanes + 2 * lanes);
        src.Clear();
        Span<int> koff = ScratchInt(ref t_koff, k);
        LaneOffsets(g, cg, hp, wp, lanes, koff);
        Span<float> wide = Scratch(ref t_wide, og * pitch);
        Span<float> yRow = Scratch(ref t_laneY, pitch);

        bool keepPre = !preActivation.IsEmpty, hasBias = !bias.IsEmpty;
        ref float wide0 = ref MemoryMarshal.GetReference(wide);
        ref float y1 = ref MemoryMarshal.GetReference(yRow);
        for (int blk = 0; blk < blocks; blk++)
            for (int grp = 0; grp < groups; grp++)
            {
                int b0 = blk * lanes;
                ToLanes(input, b0, inLen, grp * cg * hw, cg, g.InHeight, g.InWidth, g.InWidth, hp, wp, g.PadH, g.PadW, lanes, src);
                LaneTiles<TV, TOps>(src, koff, weight.Slice(grp * og * k, og * k), og, k, oh, ow2, wp, wide, pitch);
                for (int o = 0; o < og; o++)
                {
                    int channel = grp * og + o;
                    TV vb = TOps.Broadcast(hasBias ? bias[channel] : 0f);
                    ref float row = ref Unsafe.Add(ref wide0, o * pitch);
                    for (nuint q = 0; q < (nuint)pitch; q += (nuint)lanes)
                    {
                        TV v = TOps.Add(TOps.Load(ref row, q), vb);
                        if (keepPre) TOps.Store(v, ref row, q);
                        TOps.Store(TOps.Activate(act, v), ref y1, q);
                    }
                    if (keepPre) FromLanes(ref row, preActivation, b0, outLen, channel * p, oh, ow, ow2, lanes);
                    FromLanes(ref y1, output, b0, outLen, channel * p, oh, ow, ow2, lanes);
                }
            }
        return blocks * lanes;
    }

    /// <summary>
    /// dWeight (and dInput when asked) of the whole blocks of examples from grad = ∂loss/∂pre; returns how many examples
    /// it did (0 when the input gradient's padding exceeds the dilated kernel, which the full convolution cannot express).
    /// </summary>
    private static int LanesBackward<TV, TOps>(in ConvGeometry g, ReadOnlySpan<float> grad, ReadOnlySpan<float> input,
        ReadOnlySpan<float> weight, Span<float> dWeight, Span<float> dInput, int batch)
        where TV : struct where TOps : struct, IConvVector<TV>
    {
        int kh = g.KernelH, kw = g.KernelW;
        int qh = (kh - 1) * g.DilationH - g.PadH, qw = (kw - 1) * g.DilationW - g.PadW;
        bool wantInput = !dInput.IsEmpty;
        if (wantInput && (qh < 0 || qw < 0)) return 0;

        int lanes = TOps.Count, blocks = batch / lanes;
        int groups = g.Groups, cg = g.InChannels / groups, og = g.OutChannels / groups;
        int k = cg * kh * kw, oh = g.OutHeight, ow = g.OutWidth, p = oh * ow, h = g.InHeight, w = g.InWidth, hw = h * w;
        int inLen = g.InputLength, outLen = g.OutputLength;
        int hp = h + 2 * g.PadH, wp = w + 2 * g.PadW;

        Span<float> src = Scratch(ref t_src, cg * hp * wp * lanes + 2 * lanes);
        src.Clear();
        Span<int> koff = ScratchInt(ref t_koff, k);
        LaneOffsets(g, cg, hp, wp, lanes, koff);
        Span<float> acc = Scratch(ref t_laneAcc, g.OutChannels * k * lanes);
        acc.Clear();

        // dPre of one (block, group), lane-interleaved. For the input gradient it is written straight into the interior
        // of the full convolution's padded source [Og, OH + 2·qh, OW + 2·qw, L]; otherwise into a compact [Og, OH, OW, L].
        int hp2 = oh + 2 * qh, wp2 = ow + 2 * qw, k2 = og * kh * kw, w2 = (w + 1) & ~1, pitch2 = h * w2 * lanes;
        Span<float> gl, wide2 = default, wT = default;
        Span<int> koff2 = default;
        int gPlane, gRow, gOrigin;   // dPre layout: floats per channel, per row, and the offset of (0, 0)
        if (wantInput)
        {
            gl = Scratch(ref t_src2, og * hp2 * wp2 * lanes + 2 * lanes);
            gl.Clear();
            (gPlane, gRow, gOrigin) = (hp2 * wp2 * lanes, wp2 * lanes, (qh * wp2 + qw) * lanes);
            koff2 = ScratchInt(ref t_koff2, k2);
            for (int o = 0, t = 0; o < og; o++)
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++)
                        koff2[t++] = ((o * hp2 + i * g.DilationH) * wp2 + j * g.DilationW) * lanes;
            wide2 = Scratch(ref t_wide, cg * pitch2);
            wT = Scratch(ref t_wT, groups * cg * k2);
            TransposedFlipped(g, weight, wT);
        }
        else
        {
            gl = Scratch(ref t_grad, og * p * lanes);
            (gPlane, gRow, gOrigin) = (p * lanes, ow * lanes, 0);
        }

        for (int blk = 0; blk < blocks; blk++)
            for (int grp = 0; grp < groups; grp++)
            {
                int b0 = blk * lanes;
                ToLanes(input, b0, inLen, grp * cg * hw, cg, h, w, w, hp, wp, g.PadH, g.PadW, lanes, src);
                // The grad planes [Og, OH, OW] are "channels" of a plane of pitch gRow/L: the same transpose, without padding.
                ToLanes(grad, b0, outLen, grp * og * p, og, oh, ow, ow, gPlane / gRow, gRow / lanes, 0, 0, lanes, gl.Slice(gOrigin));
                LaneDotTiles<TV, TOps>(gl.Slice(gOrigin), gPlane, gRow, og, src, koff, wp * lanes, oh, ow * lanes,
                    acc.Slice(grp * og * k * lanes, og * k * lanes));
                if (!wantInput) continue;
                LaneTiles<TV, TOps>(gl, koff2, wT.Slice(grp * cg * k2, cg * k2), cg, k2, h, w2, wp2, wide2, pitch2);
                ref float wide0 = ref MemoryMarshal.GetReference(wide2);
                for (int c = 0; c < cg; c++)
                    FromLanes(ref Unsafe.Add(ref wide0, c * pitch2), dInput, b0, inLen, (grp * cg + c) * hw, h, w, w2, lanes);
            }

        ref float a0 = ref MemoryMarshal.GetReference(acc);
        for (int i = 0; i < dWeight.Length; i++) dWeight[i] += TOps.Sum(TOps.Load(ref a0, (nuint)(i * lanes)));
        return blocks * lanes;
    }

    /// <summary>Tap offsets into a lane-interleaved padded source [Cg, Hp, Wp, L]: tap (c, i, j) starts at ((c·Hp + i·dh)·Wp + j·dw)·L.</summary>
    private static void LaneOffsets(in ConvGeometry g, int cg, int hp, int wp, int lanes, Span<int> koff)
    {
        int t = 0;
        for (int c = 0; c < cg; c++)
            for (int i = 0; i < g.KernelH; i++)
                for (int j = 0; j < g.KernelW; j++)
                    koff[t++] = ((c * hp + i * g.DilationH) * wp + j * g.DilationW) * lanes;
    }

    /// <summary>The weight of every group transposed to [Cg, Og, KH, KW] and flipped in both spatial axes (the full convolution's kernel).</summary>
    private static void TransposedFlipped(in ConvGeometry g, ReadOnlySpan<float> weight, Span<float> wT)
    {
        int groups = g.Groups, cg = g.InChannels / groups, og = g.OutChannels / groups, kh = g.KernelH, kw = g.KernelW;
        for (int grp = 0; grp < groups; grp++)
            for (int c = 0; c < cg; c++)
                for (int o = 0; o < og; o++)
                    for (int i = 0; i < kh; i++)
                        for (int j = 0; j < kw; j++)
                            wT[((grp * cg + c) * og + o) * kh * kw + i * kw + j] =
                                weight[(((grp * og + o) * cg + c) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)];
    }

    /// <summary>
    /// Transposes planes [channels, rows, cols] of the examples b0 … b0 + L − 1 (example stride <paramref name="exampleStride"/>,
    /// starting at <paramref name="offset"/>) into the interior of dst [channels, planeRows, planeCols, L] at (padRow, padCol).
    /// </summary>
    private static void ToLanes(ReadOnlySpan<float> x, int b0, int exampleStride, int offset, int channels, int rows, int cols, int rowStride,
        int planeRows, int planeCols, int padRow, int padCol, int lanes, Span<float> dst)
    {
        ref float d0 = ref MemoryMarshal.GetReference(dst);
        for (int l = 0; l < lanes; l++)
        {
            ref float s = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), (nint)(b0 + l) * exampleStride + offset);
            for (int c = 0; c < channels; c++)
                for (int y = 0; y < rows; y++)
                {
                    ref float sr = ref Unsafe.Add(ref s, (c * rows + y) * rowStride);
                    ref float dr = ref Unsafe.Add(ref d0, ((c * planeRows + y + padRow) * planeCols + padCol) * lanes + l);
                    for (int xx = 0; xx < cols; xx++) Unsafe.Add(ref dr, xx * lanes) = Unsafe.Add(ref sr, xx);
                }
        }
    }

    /// <summary>Scatters one channel's tile grid [rows, pitchCols, L] (the first <paramref name="cols"/> columns) to the L examples' planes.</summary>
    private static void FromLanes(ref float src, Span<float> y, int b0, int exampleStride, int offset, int rows, int cols, int pitchCols, int lanes)
    {
        for (int l = 0; l < lanes; l++)
        {
            ref float d = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), (nint)(b0 + l) * exampleStride + offset);
            for (int r = 0; r < rows; r++)
            {
                ref float sr = ref Unsafe.Add(ref src, r * pitchCols * lanes + l);
                ref float dr = ref Unsafe.Add(ref d, r * cols);
                for (int xx = 0; xx < cols; xx++) Unsafe.Add(ref dr, xx) = Unsafe.Add(ref sr, xx * lanes);
            }
        }
    }

    /// <summary>
    /// wide[r, y, x, :] = Σ_t w[r, t]·src[koff[t] + (y·Wp + x)·L + :] for r &lt; rows, y &lt; outRows, x &lt; outCols2 (even):
    /// the single-example tile run over pairs of adjacent lane-vector positions.
    /// </summary>
    private static void LaneTiles<TV, TOps>(ReadOnlySpan<float> src, ReadOnlySpan<int> koff, ReadOnlySpan<float> w, int rows, int k,
        int outRows, int outCols2, int wp, Span<float> wide, int pitch) where TV : struct where TOps : struct, IConvVector<TV>
    {
        int lanes = TOps.Count;
        ref float s0 = ref MemoryMarshal.GetReference(src);
        ref int kf = ref MemoryMarshal.GetReference(koff);
        ref float w0 = ref MemoryMarshal.GetReference(w);
        ref float d0 = ref MemoryMarshal.GetReference(wide);
        for (int y = 0; y < outRows; y++)
            for (int x = 0; x < outCols2; x += 2)
            {
                ref float s = ref Unsafe.Add(ref s0, (y * wp + x) * lanes);
                ref float dq = ref Unsafe.Add(ref d0, (y * outCols2 + x) * lanes);
                for (int r = 0; r < rows; r += TileRows)
                {
                    ref float wr = ref Unsafe.Add(ref w0, r * k);
                    ref float d = ref Unsafe.Add(ref dq, r * pitch);
                    switch (Math.Min(TileRows, rows - r))
                    {
                        case 6: Tile<TV, TOps, ConvRows6>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                        case 5: Tile<TV, TOps, ConvRows5>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                        case 4: Tile<TV, TOps, ConvRows4>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                        case 3: Tile<TV, TOps, ConvRows3>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                        case 2: Tile<TV, TOps, ConvRows2>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                        default: Tile<TV, TOps, ConvRows1>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                    }
                }
            }
    }

    /// <summary>
    /// acc[o, t, :] += Σ_{y, q} gl[o, y, q]·src[koff[t] + y·srcRow + q] over the rows y &lt; rows and q &lt; rowLen (whole vectors),
    /// in tiles of up to 4 channels × 2 taps whose vector sums stay in registers over every row.
    /// </summary>
    private static void LaneDotTiles<TV, TOps>(ReadOnlySpan<float> gl, int gPlane, int gRow, int og, ReadOnlySpan<float> src,
        ReadOnlySpan<int> koff, int srcRow, int rows, int rowLen, Span<float> acc) where TV : struct where TOps : struct, IConvVector<TV>
    {
        int k = koff.Length, lanes = TOps.Count;
        ref float g0 = ref MemoryMarshal.GetReference(gl);
        ref float s0 = ref MemoryMarshal.GetReference(src);
        ref float a0 = ref MemoryMarshal.GetReference(acc);
        var shape = new LaneDotShape(gPlane, gRow, srcRow, rows, rowLen, k * lanes);
        for (int r = 0; r < og; r += 4)
            for (int t = 0; t < k; t += 2)
            {
                // An odd last tap reuses its own offset for the second column, whose sums are then dropped.
                ref float sa = ref Unsafe.Add(ref s0, koff[t]);
                ref float sb = ref Unsafe.Add(ref s0, koff[Math.Min(t + 1, k - 1)]);
                ref float gr = ref Unsafe.Add(ref g0, r * gPlane);
                ref float ac = ref Unsafe.Add(ref a0, (r * k + t) * lanes);
                bool two = t + 1 < k;
                switch (Math.Min(4, og - r))
                {
                    case 4: LaneDotTile<TV, TOps, ConvRows4>(ref gr, ref sa, ref sb, ref ac, shape, two); break;
                    case 3: LaneDotTile<TV, TOps, ConvRows3>(ref gr, ref sa, ref sb, ref ac, shape, two); break;
                    case 2: LaneDotTile<TV, TOps, ConvRows2>(ref gr, ref sa, ref sb, ref ac, shape, two); break;
                    default: LaneDotTile<TV, TOps, ConvRows1>(ref gr, ref sa, ref sb, ref ac, shape, two); break;
                }
            }
    }

    /// <summary>Strides of a <see cref="LaneDotTile"/> (floats): grad channel and row, source row, rows, row length, acc channel.</summary>
    private readonly record struct LaneDotShape(int GPlane, int GRow, int SrcRow, int Rows, int RowLen, int AccRow);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LaneDotTile<TV, TOps, TR>(ref float g, ref float sa, ref float sb, ref float acc, in LaneDotShape sh, bool two)
        where TV : struct where TOps : struct, IConvVector<TV> where TR : struct, IConvRows
    {
        nuint n = (nuint)TOps.Count, len = (nuint)sh.RowLen, gp = (nuint)sh.GPlane;
        TV a00 = TOps.Zero, a01 = TOps.Zero, a10 = TOps.Zero, a11 = TOps.Zero, a20 = TOps.Zero, a21 = TOps.Zero, a30 = TOps.Zero, a31 = TOps.Zero;
        for (int y = 0; y < sh.Rows; y++)
        {
            ref float gy = ref Unsafe.Add(ref g, y * sh.GRow);
            ref float ya = ref Unsafe.Add(ref sa, y * sh.SrcRow);
            ref float yb = ref Unsafe.Add(ref sb, y * sh.SrcRow);
            for (nuint q = 0; q < len; q += n)
            {
                TV x0 = TOps.Load(ref ya, q), x1 = TOps.Load(ref yb, q);
                TV d = TOps.Load(ref gy, q);
                a00 = TOps.MultiplyAdd(d, x0, a00); a01 = TOps.MultiplyAdd(d, x1, a01);
                if (TR.Value > 1) { d = TOps.Load(ref gy, gp + q); a10 = TOps.MultiplyAdd(d, x0, a10); a11 = TOps.MultiplyAdd(d, x1, a11); }
                if (TR.Value > 2) { d = TOps.Load(ref gy, 2 * gp + q); a20 = TOps.MultiplyAdd(d, x0, a20); a21 = TOps.MultiplyAdd(d, x1, a21); }
                if (TR.Value > 3) { d = TOps.Load(ref gy, 3 * gp + q); a30 = TOps.MultiplyAdd(d, x0, a30); a31 = TOps.MultiplyAdd(d, x1, a31); }
            }
        }
        AddTo<TV, TOps>(a00, a01, ref acc, n, two);
        if (TR.Value > 1) AddTo<TV, TOps>(a10, a11, ref Unsafe.Add(ref acc, sh.AccRow), n, two);
        if (TR.Value > 2) AddTo<TV, TOps>(a20, a21, ref Unsafe.Add(ref acc, 2 * sh.AccRow), n, two);
        if (TR.Value > 3) AddTo<TV, TOps>(a30, a31, ref Unsafe.Add(ref acc, 3 * sh.AccRow), n, two);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTo<TV, TOps>(TV first, TV second, ref float acc, nuint n, bool two) where TV : struct where TOps : struct, IConvVector<TV>
    {
        TOps.Store(TOps.Add(TOps.Load(ref acc, 0), first), ref acc, 0);
        if (two) TOps.Store(TOps.Add(TOps.Load(ref acc, n), second), ref acc, n);
    }
}
