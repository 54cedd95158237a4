// The fast convolution path: register-tiled kernels that treat the (small) weight as the broadcast operand and stream
// the input, with no packing and no GEMM call per example.
//
// Every convolution here is "out[o, q] = Σ_t W[o, t]·src[koff[t] + q]" over a flat position q, where koff is a table of
// per-tap offsets into a source buffer:
//  * stride 1 (implicit GEMM): src is the input zero-padded to [C, H + 2·ph, Wp = W + 2·pw]; tap (c, i, j) reads at
//    koff = c·Hp·Wp + i·dh·Wp + j·dw, and q = oy·Wp + ox runs over a "wide" output grid OH × Wp, whose columns
//    ox ≥ OW are computed and dropped. No unfolding at all: the source is a few KB and stays in L1.
//  * other strides: src is the im2col matrix [K, P] (koff = t·P), so nothing is wasted.
//  * stride 1 whose wide grid wastes much (forward only; LeNet's conv2, 14 columns computed per 10 kept): src is the
//    "column-shifted" source [C, KW, Hp, OW], one copy of each padded channel per kernel column j, shifted left by
//    j·dw and cropped to OW columns. Tap (c, i, j) reads at koff = ((c·KW + j)·Hp + i·dh)·OW and q = oy·OW + ox runs
//    over exactly the OH × OW outputs: KW copies of the input (a few KB) buy a waste-free, compact output grid.
// A tile holds up to 6 output channels × 2 vectors of positions in registers (12 accumulators: 15 of AVX2's 16
// registers with the two source vectors and the broadcast weight) and runs the whole reduction before storing once.
// The epilogue then adds the bias, keeps the pre-activation when training, applies the activation and drops the wide
// columns, in one pass over each output row while it is still in cache.
// Backward: dW[o, t] += Σ_q dPre[o, q]·src[koff[t] + q] (a 4 × 2 tile of dot products over q, dPre laid out on the
// same wide grid with zeros in the dropped columns); dInput, for stride 1, is the same forward tile run as a "full"
// convolution of dPre (padded by (K−1)·d − p) with the transposed, flipped weight; other strides use GEMM + col2im.
// Scratch is thread-static (grown on demand, then reused): no steady-state allocation, safe for concurrent inference.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

public static partial class ConvKernels
{
    /// <summary>Which implementation a call uses; <see cref="Auto"/> picks the widest accelerated vector. The others exist for tests and benchmarks
    /// (a width the hardware lacks is emulated by the BCL: slow but exact). The *Lanes values send every whole block of
    /// examples of a stride-1 layer through the lane-interleaved path (ConvKernels.Lanes.cs), whatever its waste; the *Shifted and
    /// *Wide values force the single-example forward of a stride-1 layer onto the column-shifted source or the wide grid.</summary>
    internal enum Path { Auto, Im2Col, Scalar, V128, V256, V512, ScalarLanes, V128Lanes, V256Lanes, V512Lanes, ScalarShifted, V128Shifted, V256Shifted, V512Shifted, ScalarWide, V128Wide, V256Wide, V512Wide }

    [ThreadStatic] private static float[]? t_src;    // padded input or im2col matrix (+ slack for the last tile's over-read)
    [ThreadStatic] private static float[]? t_src2;   // padded dPre for the input gradient
    [ThreadStatic] private static float[]? t_wide;   // tile output on the wide grid [rows, pitch]
    [ThreadStatic] private static float[]? t_grad;   // dPre on the wide grid [Og, pitch]
    [ThreadStatic] private static float[]? t_wT;     // transposed, flipped weight [G][Cg, Og·KH·KW]
    [ThreadStatic] private static int[]? t_koff;
    [ThreadStatic] private static int[]? t_koff2;

    private const int TileRows = 6;

    private static Path Resolve(Path path) => path != Path.Auto ? path
        : Vector512.IsHardwareAccelerated ? Path.V512
        : Vector256.IsHardwareAccelerated ? Path.V256
        : Vector128.IsHardwareAccelerated ? Path.V128
        : Path.Scalar;

    /// <summary>
    /// Stride 1 and a wide grid wasting at least <see cref="ShiftedWasteTenths"/>/10 (padded width against output width):
    /// the forward pass then builds the column-shifted source instead (KW copies of the input, no wasted outputs).
    /// Measured with bench/ConvBench --b1 (AVX2): LeNet's conv2 (14/10) wins; its conv1 (32/28) loses, the 5 copies of
    /// a 1-channel input costing more than 14 % of wasted tiles.
    /// </summary>
    private static bool ShiftedApply(in ConvGeometry g)
        => g.StrideH == 1 && g.StrideW == 1 && (g.InWidth + 2 * g.PadW) * 10 >= g.OutWidth * ShiftedWasteTenths;

    private const int ShiftedWasteTenths = 13;

    /// <summary>The source layout of one (example, group): implicit (stride 1, padded input), column-shifted (stride 1) or im2col.</summary>
    private readonly struct Layout
    {
        public readonly bool Implicit;       // stride 1 (implicit or shifted): the source is built from padded planes
        public readonly bool Shifted;        // the column-shifted source [Cg, KW, Hp, OW] (forward only)
        public readonly int Hp, Wp;          // padded plane (implicit)
        public readonly int RowPitch;        // wide-grid row length: Wp (implicit) or OW (shifted, im2col)
        public readonly int Positions;       // OH·RowPitch
        public readonly int Pitch;           // Positions rounded up to a whole tile
        public readonly int SourceLength;    // floats of src, slack included

        public Layout(in ConvGeometry g, int cg, int tile, bool shifted = false)
        {
            Implicit = g.StrideH == 1 && g.StrideW == 1;
            Shifted = Implicit && shifted;
            int oh = g.OutHeight, ow = g.OutWidth;
            if (Shifted)
            {
                Hp = g.InHeight + 2 * g.PadH;
                Wp = g.InWidth + 2 * g.PadW;
                RowPitch = ow;
                // The largest tap offset plus P is exactly Cg·KW·Hp·OW (OH = Hp − (KH−1)·dh), so the last tile reads
                // less than one tile past it.
                SourceLength = cg * g.KernelW * Hp * ow + tile;
            }
            else if (Implicit)
            {
                Hp = g.InHeight + 2 * g.PadH;
                Wp = g.InWidth + 2 * g.PadW;
                RowPitch = Wp;
                // The last tile reads up to Pitch − 1 past the largest tap offset (c, KH−1, KW−1).
                SourceLength = cg * Hp * Wp + (g.KernelW - 1) * g.DilationW + tile;
            }
            else
            {
                RowPitch = ow;
                SourceLength = cg * g.KernelH * g.KernelW * oh * ow + tile;
            }
            Positions = oh * RowPitch;
            Pitch = (Positions + tile - 1) / tile * tile;
        }
    }

    // ------------------------------------------------------------------------------------------------ forward

    private static void DirectForward<TAct, TV, TOps>(TAct act, in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, Span<float> preActivation, int batch, bool forceLanes = false, bool? shifted = null)
        where TAct : struct, IActivation where TV : struct where TOps : struct, IConvVector<TV>
    {
        int groups = g.Groups, cg = g.InChannels / groups, og = g.OutChannels / groups;
        int k = cg * g.KernelH * g.KernelW, oh = g.OutHeight, ow = g.OutWidth, p = oh * ow, hw = g.InHeight * g.InWidth;
        int inLen = g.InputLength, outLen = g.OutputLength;
        // Whole blocks of L examples go through the lane-interleaved path (ConvKernels.Lanes.cs); the rest one by one.
        int done = LanesApply(g, batch, TOps.Count, ForwardWasteTenths, forceLanes) ? LanesForward<TAct, TV, TOps>(act, g, input, weight, bias, output, preActivation, batch) : 0;
        if (done == batch) return;
        var layout = new Layout(g, cg, 2 * TOps.Count, shifted ?? ShiftedApply(g));
        Span<float> src = Scratch(ref t_src, layout.SourceLength);
        Span<float> wide = Scratch(ref t_wide, og * layout.Pitch);
        Span<int> koff = ScratchInt(ref t_koff, k);
        PrepareSource(g, layout, cg, src, koff);

        bool keepPre = !preActivation.IsEmpty, hasBias = !bias.IsEmpty;
        ref float y0 = ref MemoryMarshal.GetReference(output);
        ref float pre0 = ref keepPre ? ref MemoryMarshal.GetReference(preActivation) : ref y0;
        ref float wide0 = ref MemoryMarshal.GetReference(wide);
        for (int b = done; b < batch; b++)
            for (int grp = 0; grp < groups; grp++)
            {
                FillSource(g, layout, input.Slice(b * inLen + grp * cg * hw, cg * hw), src, cg);
                Tiles<TV, TOps>(src, koff, weight.Slice(grp * og * k, og * k), og, k, layout.Positions, wide, layout.Pitch);
                for (int o = 0; o < og; o++)
                {
                    int channel = grp * og + o;
                    float bo = hasBias ? bias[channel] : 0f;
                    if (layout.Shifted)
                    {
                        // The compact grid is the output row itself: one epilogue pass over the whole channel.
                        nint dst = (nint)b * outLen + (nint)channel * p;
                        Epilogue(act, ref Unsafe.Add(ref wide0, o * layout.Pitch), ref Unsafe.Add(ref pre0, dst), keepPre,
                            ref Unsafe.Add(ref y0, dst), bo, (nuint)p);
                        continue;
                    }
                    for (int y = 0; y < oh; y++)
                    {
                        nint dst = (nint)b * outLen + (nint)channel * p + y * ow;
                        Epilogue(act, ref Unsafe.Add(ref wide0, o * layout.Pitch + y * layout.RowPitch), ref Unsafe.Add(ref pre0, dst), keepPre,
                            ref Unsafe.Add(ref y0, dst), bo, (nuint)ow);
                    }
                }
            }
    }

    /// <summary>Writes the tap-offset table and clears what stays zero across examples (padding borders, slack).</summary>
    private static void PrepareSource(in ConvGeometry g, in Layout layout, int cg, Span<float> src, Span<int> koff)
    {
        int t = 0;
        if (layout.Shifted)
        {
            // Without padding every float but the slack is rewritten per example; with it, the borders stay zero.
            if (g.PadH == 0 && g.PadW == 0) src.Slice(cg * g.KernelW * layout.Hp * g.OutWidth).Clear();
            else src.Clear();
            for (int c = 0; c < cg; c++)
                for (int i = 0; i < g.KernelH; i++)
                    for (int j = 0; j < g.KernelW; j++)
                        koff[t++] = ((c * g.KernelW + j) * layout.Hp + i * g.DilationH) * g.OutWidth;
        }
        else if (layout.Implicit)
        {
            src.Clear();
            for (int c = 0; c < cg; c++)
                for (int i = 0; i < g.KernelH; i++)
                    for (int j = 0; j < g.KernelW; j++)
                        koff[t++] = c * layout.Hp * layout.Wp + i * g.DilationH * layout.Wp + j * g.DilationW;
        }
        else
        {
            int p = g.OutHeight * g.OutWidth, k = koff.Length;
            src.Slice(k * p).Clear();   // the last tile's over-read (dot products in backward must see zeros there)
            for (; t < k; t++) koff[t] = t * p;
        }
    }

    /// <summary>Copies one (example, group) input x[Cg, H, W] into the padded plane's interior, or unfolds it (im2col).</summary>
    private static void FillSource(in ConvGeometry g, in Layout layout, ReadOnlySpan<float> x, Span<float> src, int cg)
    {
        if (!layout.Implicit)
        {
            Im2Col(g, x, src, cg);
            return;
        }
        int h = g.InHeight, w = g.InWidth;
        if (layout.Shifted)
        {
            int ow = g.OutWidth, kw = g.KernelW;
            ref float x0 = ref MemoryMarshal.GetReference(x);
            ref float d0 = ref MemoryMarshal.GetReference(src);
            for (int c = 0; c < cg; c++)
                for (int j = 0; j < kw; j++)
                {
                    // Copy j: column ox holds padded column ox + j·dw, i.e. input column ox + xOff (zero outside [lo, hi)).
                    int xOff = j * g.DilationW - g.PadW;
                    (int lo, int hi) = ValidRange(xOff, 1, w, ow);
                    if (hi <= lo) continue;
                    ref float s = ref Unsafe.Add(ref x0, c * h * w + lo + xOff);
                    ref float d = ref Unsafe.Add(ref d0, ((c * kw + j) * layout.Hp + g.PadH) * ow + lo);
                    for (int y = 0; y < h; y++)
                        CopyRow(ref Unsafe.Add(ref s, y * w), ref Unsafe.Add(ref d, y * ow), hi - lo);
                }
            return;
        }
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ds = ref MemoryMarshal.GetReference(src);
        for (int c = 0; c < cg; c++)
            for (int y = 0; y < h; y++)
                CopyRow(ref Unsafe.Add(ref xs, (c * h + y) * w), ref Unsafe.Add(ref ds, (c * layout.Hp + y + g.PadH) * layout.Wp + g.PadW), w);
    }

    /// <summary>Copies n floats (short rows: vectors, the last one overlapping, instead of a memmove call and its setup).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(ref float s, ref float d, int n)
    {
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            if (n <= 64)
            {
                // The last vector overlaps the one before it and rewrites the same values (source and destination
                // are distinct buffers), so no scalar tail is needed.
                nuint last = (nuint)(n - 8);
                Vector256<float> tail = Vector256.LoadUnsafe(ref s, last);
                for (nuint i = 0; i < last; i += 8) Vector256.LoadUnsafe(ref s, i).StoreUnsafe(ref d, i);
                tail.StoreUnsafe(ref d, last);
                return;
            }
        }
        else if (Vector128.IsHardwareAccelerated && n >= 4 && n <= 8)
        {
            Vector128<float> a = Vector128.LoadUnsafe(ref s), b = Vector128.LoadUnsafe(ref s, (nuint)(n - 4));
            a.StoreUnsafe(ref d);
            b.StoreUnsafe(ref d, (nuint)(n - 4));
            return;
        }
        MemoryMarshal.CreateReadOnlySpan(ref s, n).CopyTo(MemoryMarshal.CreateSpan(ref d, n));
    }

    /// <summary>wide[r, q] = Σ_t w[r, t]·src[koff[t] + q] for r &lt; rows, q &lt; positions (rounded up to a whole tile).</summary>
    private static void Tiles<TV, TOps>(ReadOnlySpan<float> src, ReadOnlySpan<int> koff, ReadOnlySpan<float> w, int rows, int k,
        int positions, Span<float> wide, int pitch) where TV : struct where TOps : struct, IConvVector<TV>
    {
        int tile = 2 * TOps.Count;
        ref float s0 = ref MemoryMarshal.GetReference(src);
        ref int kf = ref MemoryMarshal.GetReference(koff);
        ref float w0 = ref MemoryMarshal.GetReference(w);
        ref float d0 = ref MemoryMarshal.GetReference(wide);
        for (int q = 0; q < positions; q += tile)
        {
            ref float s = ref Unsafe.Add(ref s0, q);
            // A last tile of at most one vector's positions (LeNet's 10 × 10 compact grid: 100 = 6·16 + 4) takes the
            // one-vector tile: half the work of a whole tile whose second vector would be dropped.
            bool half = positions - q <= TOps.Count;
            for (int r = 0; r < rows; r += TileRows)
            {
                ref float wr = ref Unsafe.Add(ref w0, r * k);
                ref float d = ref Unsafe.Add(ref d0, r * pitch + q);
                if (half)
                {
                    switch (Math.Min(TileRows, rows - r))
                    {
                        case 6: HalfTile<TV, TOps, ConvRows6>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                        case 5: HalfTile<TV, TOps, ConvRows5>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                        case 4: HalfTile<TV, TOps, ConvRows4>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                        case 3: HalfTile<TV, TOps, ConvRows3>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                        case 2: HalfTile<TV, TOps, ConvRows2>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                        default: HalfTile<TV, TOps, ConvRows1>(ref s, ref kf, ref wr, k, ref d, pitch); break;
                    }
                    continue;
                }
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

    /// <summary>A one-vector register tile: TR rows × 1 vector of positions (a grid's last, short tile).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HalfTile<TV, TOps, TR>(ref float s, ref int koff, ref float w, int k, ref float d, int pitch)
        where TV : struct where TOps : struct, IConvVector<TV> where TR : struct, IConvRows
    {
        nuint kk = (nuint)k;
        TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero, a4 = TOps.Zero, a5 = TOps.Zero;
        for (nuint t = 0; t < kk; t++)
        {
            TV b0 = TOps.Load(ref Unsafe.Add(ref s, (nint)Unsafe.Add(ref koff, t)), 0);
            a0 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref w, t)), b0, a0);
            if (TR.Value > 1) a1 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref w, kk + t)), b0, a1);
            if (TR.Value > 2) a2 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref w, 2 * kk + t)), b0, a2);
            if (TR.Value > 3) a3 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref w, 3 * kk + t)), b0, a3);
            if (TR.Value > 4) a4 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref w, 4 * kk + t)), b0, a4);
            if (TR.Value > 5) a5 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref w, 5 * kk + t)), b0, a5);
        }
        TOps.Store(a0, ref d, 0);
        if (TR.Value > 1) TOps.Store(a1, ref Unsafe.Add(ref d, pitch), 0);
        if (TR.Value > 2) TOps.Store(a2, ref Unsafe.Add(ref d, 2 * pitch), 0);
        if (TR.Value > 3) TOps.Store(a3, ref Unsafe.Add(ref d, 3 * pitch), 0);
        if (TR.Value > 4) TOps.Store(a4, ref Unsafe.Add(ref d, 4 * pitch), 0);
        if (TR.Value > 5) TOps.Store(a5, ref Unsafe.Add(ref d, 5 * pitch), 0);
    }

    /// <summary>One register tile: TR rows × 2 vectors of positions, reduced over all k taps, stored once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile<TV, TOps, TR>(ref float s, ref int koff, ref float w, int k, ref float d, int pitch)
        where TV : struct where TOps : struct, IConvVector<TV> where TR : struct, IConvRows
    {
        nuint n = (nuint)TOps.Count, kk = (nuint)k;
        TV a00 = TOps.Zero, a01 = TOps.Zero, a10 = TOps.Zero, a11 = TOps.Zero, a20 = TOps.Zero, a21 = TOps.Zero;
        TV a30 = TOps.Zero, a31 = TOps.Zero, a40 = TOps.Zero, a41 = TOps.Zero, a50 = TOps.Zero, a51 = TOps.Zero;
        for (nuint t = 0; t < kk; t++)
        {
            ref float st = ref Unsafe.Add(ref s, (nint)Unsafe.Add(ref koff, t));
            TV b0 = TOps.Load(ref st, 0), b1 = TOps.Load(ref st, n);
            TV v = TOps.Broadcast(Unsafe.Add(ref w, t));
            a00 = TOps.MultiplyAdd(v, b0, a00); a01 = TOps.MultiplyAdd(v, b1, a01);
            if (TR.Value > 1) { v = TOps.Broadcast(Unsafe.Add(ref w, kk + t)); a10 = TOps.MultiplyAdd(v, b0, a10); a11 = TOps.MultiplyAdd(v, b1, a11); }
            if (TR.Value > 2) { v = TOps.Broadcast(Unsafe.Add(ref w, 2 * kk + t)); a20 = TOps.MultiplyAdd(v, b0, a20); a21 = TOps.MultiplyAdd(v, b1, a21); }
            if (TR.Value > 3) { v = TOps.Broadcast(Unsafe.Add(ref w, 3 * kk + t)); a30 = TOps.MultiplyAdd(v, b0, a30); a31 = TOps.MultiplyAdd(v, b1, a31); }
            if (TR.Value > 4) { v = TOps.Broadcast(Unsafe.Add(ref w, 4 * kk + t)); a40 = TOps.MultiplyAdd(v, b0, a40); a41 = TOps.MultiplyAdd(v, b1, a41); }
            if (TR.Value > 5) { v = TOps.Broadcast(Unsafe.Add(ref w, 5 * kk + t)); a50 = TOps.MultiplyAdd(v, b0, a50); a51 = TOps.MultiplyAdd(v, b1, a51); }
        }
        TOps.Store(a00, ref d, 0); TOps.Store(a01, ref d, n);
        if (TR.Value > 1) { ref float r = ref Unsafe.Add(ref d, pitch); TOps.Store(a10, ref r, 0); TOps.Store(a11, ref r, n); }
        if (TR.Value > 2) { ref float r = ref Unsafe.Add(ref d, 2 * pitch); TOps.Store(a20, ref r, 0); TOps.Store(a21, ref r, n); }
        if (TR.Value > 3) { ref float r = ref Unsafe.Add(ref d, 3 * pitch); TOps.Store(a30, ref r, 0); TOps.Store(a31, ref r, n); }
        if (TR.Value > 4) { ref float r = ref Unsafe.Add(ref d, 4 * pitch); TOps.Store(a40, ref r, 0); TOps.Store(a41, ref r, n); }
        if (TR.Value > 5) { ref float r = ref Unsafe.Add(ref d, 5 * pitch); TOps.Store(a50, ref r, 0); TOps.Store(a51, ref r, n); }
    }

    /// <summary>One output row: v = src + bias; pre = v (when kept); y = act(v).</summary>
    private static void Epilogue<TAct>(TAct act, ref float src, ref float pre, bool keepPre, ref float y, float bias, nuint n) where TAct : struct, IActivation
    {
        nuint j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> vb = Vector512.Create(bias);
            for (; j + (nuint)Vector512<float>.Count <= n; j += (nuint)Vector512<float>.Count)
            {
                Vector512<float> v = Vector512.LoadUnsafe(ref src, j) + vb;
                if (keepPre) v.StoreUnsafe(ref pre, j);
                act.Invoke(v).StoreUnsafe(ref y, j);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vb = Vector256.Create(bias);
            for (; j + (nuint)Vector256<float>.Count <= n; j += (nuint)Vector256<float>.Count)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref src, j) + vb;
                if (keepPre) v.StoreUnsafe(ref pre, j);
                act.Invoke(v).StoreUnsafe(ref y, j);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> vb = Vector128.Create(bias);
            for (; j + (nuint)Vector128<float>.Count <= n; j += (nuint)Vector128<float>.Count)
            {
                Vector128<float> v = Vector128.LoadUnsafe(ref src, j) + vb;
                if (keepPre) v.StoreUnsafe(ref pre, j);
                act.Invoke(v).StoreUnsafe(ref y, j);
            }
        }
        for (; j < n; j++)
        {
            float v = Unsafe.Add(ref src, j) + bias;
            if (keepPre) Unsafe.Add(ref pre, j) = v;
            Unsafe.Add(ref y, j) = act.Invoke(v);
        }
    }

    // ------------------------------------------------------------------------------------------------ backward

    /// <summary>dWeight and dInput from grad = ∂loss/∂pre [batch, O, P] (dBias is done by the caller).</summary>
    private static void DirectBackward<TV, TOps>(in ConvGeometry g, ReadOnlySpan<float> grad, ReadOnlySpan<float> input,
        ReadOnlySpan<float> weight, Span<float> dWeight, Span<float> dInput, int batch, bool forceLanes = false)
        where TV : struct where TOps : struct, IConvVector<TV>
    {
        int groups = g.Groups, cg = g.InChannels / groups, og = g.OutChannels / groups;
        int kh = g.KernelH, kw = g.KernelW, k = cg * kh * kw, oh = g.OutHeight, ow = g.OutWidth, p = oh * ow;
        int h = g.InHeight, w = g.InWidth, hw = h * w, inLen = g.InputLength, outLen = g.OutputLength;
        int tile = 2 * TOps.Count;
        int done = LanesApply(g, batch, TOps.Count, BackwardWasteTenths, forceLanes) ? LanesBackward<TV, TOps>(g, grad, input, weight, dWeight, dInput, batch) : 0;
        if (done == batch) return;
        var layout = new Layout(g, cg, tile);
        Span<float> src = Scratch(ref t_src, layout.SourceLength);
        Span<int> koff = ScratchInt(ref t_koff, k);
        PrepareSource(g, layout, cg, src, koff);
        // dPre on the wide grid; the dropped columns and the tail stay zero, so they add nothing to the dot products.
        Span<float> gw = Scratch(ref t_grad, og * layout.Pitch);
        gw.Clear();

        // The input gradient of a stride-1 convolution is a stride-1 "full" convolution of dPre, padded by
        // q = (K − 1)·d − p on each side, with the weight transposed to [Cg, Og, KH, KW] and flipped in both axes.
        // It computes H·Wp2 positions per input channel against P (rounded up) for the alternative, dCol = Wᵀ·dPre
        // through the same tiles followed by col2im; a wide padding (LeNet's 5×5 on 10×10: 2.5×) makes the latter cheaper.
        int qh = (kh - 1) * g.DilationH - g.PadH, qw = (kw - 1) * g.DilationW - g.PadW;
        int hp2 = oh + 2 * qh, wp2 = ow + 2 * qw, k2 = og * kh * kw, positions2 = h * wp2, pitch2 = (positions2 + tile - 1) / tile * tile;
        int pitchP = (p + tile - 1) / tile * tile;
        bool full = !dInput.IsEmpty && layout.Implicit && qh >= 0 && qw >= 0 && positions2 * 10L <= pitchP * 13L;
        Span<float> src2 = default, wide2 = default, wT = default, dCol = default;
        Span<int> koff2 = default;
        if (full)
        {
            src2 = Scratch(ref t_src2, og * hp2 * wp2 + (kw - 1) * g.DilationW + tile);
            src2.Clear();
            wide2 = Scratch(ref t_wide, cg * pitch2);
            koff2 = ScratchInt(ref t_koff2, k2);
            for (int o = 0, t = 0; o < og; o++)
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++)
                        koff2[t++] = o * hp2 * wp2 + i * g.DilationH * wp2 + j * g.DilationW;
            wT = Scratch(ref t_wT, groups * cg * k2);
            for (int grp = 0; grp < groups; grp++)
                for (int c = 0; c < cg; c++)
                    for (int o = 0; o < og; o++)
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++)
                                wT[((grp * cg + c) * og + o) * kh * kw + i * kw + j] =
                                    weight[(((grp * og + o) * cg + c) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)];
        }
        else if (!dInput.IsEmpty)
        {
            // dCol[K, P] = Σ_o Wᵀ[K, o]·dPre[o, P]: the forward tile with the weight transposed per group to [K, Og] and
            // dPre copied (compact, koff = o·P) into a buffer with slack for the last tile's over-read.
            dCol = Scratch(ref t_dCol, k * pitchP);
            src2 = Scratch(ref t_src2, og * p + tile);
            src2.Slice(og * p).Clear();
            koff2 = ScratchInt(ref t_koff2, og);
            for (int o = 0; o < og; o++) koff2[o] = o * p;
            wT = Scratch(ref t_wT, groups * k * og);
            for (int grp = 0; grp < groups; grp++)
                for (int t = 0; t < k; t++)
                    for (int o = 0; o < og; o++)
                        wT[(grp * k + t) * og + o] = weight[(grp * og + o) * k + t];
        }

        for (int b = done; b < batch; b++)
            for (int grp = 0; grp < groups; grp++)
            {
                ReadOnlySpan<float> gOut = grad.Slice(b * outLen + grp * og * p, og * p);   // [Og, P]
                FillSource(g, layout, input.Slice(b * inLen + grp * cg * hw, cg * hw), src, cg);
                for (int o = 0; o < og; o++)
                    for (int y = 0; y < oh; y++)
                        gOut.Slice(o * p + y * ow, ow).CopyTo(gw.Slice(o * layout.Pitch + y * layout.RowPitch, ow));
                DotTiles<TV, TOps>(gw, layout.Pitch, og, src, koff, dWeight.Slice(grp * og * k, og * k));

                if (dInput.IsEmpty) continue;
                Span<float> dx = dInput.Slice(b * inLen + grp * cg * hw, cg * hw);          // [Cg, H, W]
                if (full)
                {
                    for (int o = 0; o < og; o++)
                        for (int y = 0; y < oh; y++)
                            gOut.Slice(o * p + y * ow, ow).CopyTo(src2.Slice((o * hp2 + y + qh) * wp2 + qw, ow));
                    Tiles<TV, TOps>(src2, koff2, wT.Slice(grp * cg * k2, cg * k2), cg, k2, positions2, wide2, pitch2);
                    for (int c = 0; c < cg; c++)
                        for (int y = 0; y < h; y++)
                            wide2.Slice(c * pitch2 + y * wp2, w).CopyTo(dx.Slice((c * h + y) * w, w));
                }
                else
                {
                    gOut.CopyTo(src2);
                    Tiles<TV, TOps>(src2, koff2, wT.Slice(grp * k * og, k * og), k, og, p, dCol, pitchP);
                    dx.Clear();
                    Col2Im(g, dCol, dx, cg, pitchP);
                }
            }
    }

    /// <summary>dW[o, t] += Σ_q gw[o, q]·src[koff[t] + q] over q &lt; pitch, in tiles of up to 4 rows × 2 taps.</summary>
    private static void DotTiles<TV, TOps>(ReadOnlySpan<float> gw, int pitch, int rows, ReadOnlySpan<float> src, ReadOnlySpan<int> koff, Span<float> dW)
        where TV : struct where TOps : struct, IConvVector<TV>
    {
        int k = koff.Length;
        ref float g0 = ref MemoryMarshal.GetReference(gw);
        ref float s0 = ref MemoryMarshal.GetReference(src);
        ref float dw0 = ref MemoryMarshal.GetReference(dW);
        for (int r = 0; r < rows; r += 4)
        {
            int n = Math.Min(4, rows - r);
            for (int t = 0; t < k; t += 2)
            {
                // An odd last tap reuses its own offset for the second column, whose sums are then dropped.
                ref float sa = ref Unsafe.Add(ref s0, koff[t]);
                ref float sb = ref Unsafe.Add(ref s0, koff[Math.Min(t + 1, k - 1)]);
                ref float gr = ref Unsafe.Add(ref g0, r * pitch);
                ref float dw = ref Unsafe.Add(ref dw0, r * k + t);
                bool two = t + 1 < k;
                switch (n)
                {
                    case 4: DotTile<TV, TOps, ConvRows4>(ref gr, pitch, ref sa, ref sb, ref dw, k, two); break;
                    case 3: DotTile<TV, TOps, ConvRows3>(ref gr, pitch, ref sa, ref sb, ref dw, k, two); break;
                    case 2: DotTile<TV, TOps, ConvRows2>(ref gr, pitch, ref sa, ref sb, ref dw, k, two); break;
                    default: DotTile<TV, TOps, ConvRows1>(ref gr, pitch, ref sa, ref sb, ref dw, k, two); break;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotTile<TV, TOps, TR>(ref float g, int pitch, ref float sa, ref float sb, ref float dw, int k, bool two)
        where TV : struct where TOps : struct, IConvVector<TV> where TR : struct, IConvRows
    {
        nuint n = (nuint)TOps.Count, len = (nuint)pitch, gp = (nuint)pitch;
        TV a00 = TOps.Zero, a01 = TOps.Zero, a10 = TOps.Zero, a11 = TOps.Zero, a20 = TOps.Zero, a21 = TOps.Zero, a30 = TOps.Zero, a31 = TOps.Zero;
        for (nuint q = 0; q < len; q += n)
        {
            TV x0 = TOps.Load(ref sa, q), x1 = TOps.Load(ref sb, q);
            TV d = TOps.Load(ref g, q);
            a00 = TOps.MultiplyAdd(d, x0, a00); a01 = TOps.MultiplyAdd(d, x1, a01);
            if (TR.Value > 1) { d = TOps.Load(ref g, gp + q); a10 = TOps.MultiplyAdd(d, x0, a10); a11 = TOps.MultiplyAdd(d, x1, a11); }
            if (TR.Value > 2) { d = TOps.Load(ref g, 2 * gp + q); a20 = TOps.MultiplyAdd(d, x0, a20); a21 = TOps.MultiplyAdd(d, x1, a21); }
            if (TR.Value > 3) { d = TOps.Load(ref g, 3 * gp + q); a30 = TOps.MultiplyAdd(d, x0, a30); a31 = TOps.MultiplyAdd(d, x1, a31); }
        }
        dw += TOps.Sum(a00);
        if (two) Unsafe.Add(ref dw, 1) += TOps.Sum(a01);
        if (TR.Value > 1) { ref float r = ref Unsafe.Add(ref dw, k); r += TOps.Sum(a10); if (two) Unsafe.Add(ref r, 1) += TOps.Sum(a11); }
        if (TR.Value > 2) { ref float r = ref Unsafe.Add(ref dw, 2 * k); r += TOps.Sum(a20); if (two) Unsafe.Add(ref r, 1) += TOps.Sum(a21); }
        if (TR.Value > 3) { ref float r = ref Unsafe.Add(ref dw, 3 * k); r += TOps.Sum(a30); if (two) Unsafe.Add(ref r, 1) += TOps.Sum(a31); }
    }

    /// <summary>A thread-static int scratch span (grown on demand, reused afterwards).</summary>
    private static Span<int> ScratchInt(ref int[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new int[length];
        return buffer.AsSpan(0, length);
    }
}
