// The channel-vectorised single-example convolution fused with a 2×2/2 max pool (inference, from a PackedConvWeight).
// The direct path (ConvKernels.Direct.cs) puts output positions in the vector lanes; a layer such as LeNet's conv2
// (6 → 16 channels, 10 × 10 outputs) then computes 7 vectors of 16 positions for 100 kept, copies its input KW times
// into a column-shifted source, and pools from a scratch grid. Here the lanes hold output channels instead: one tap's
// weights for a block of L channels are one vector of the pack [C·KH·KW, Op], and each input value is broadcast
// against it. A register tile is the 2 × 2·TP output pixels under TP pooling windows (two conv rows, 12 accumulators
// at TP = 3: within AVX2's 16 registers with the weight and the broadcast), reduced over every tap in the order
// (c, i, j) and then pooled in registers: bias, activation and the winner rule of PoolingKernels.Max2x2Row in its
// window order, so results are bit for bit those of the direct path (same per-tap fused multiply-adds from zero, same
// bias add, same winner). Nothing is wasted when O is a multiple of L, and the input is read where it lies (copied only
// into a zero-bordered plane when the layer pads). The pooled vectors [P, Op] are transposed to NCHW at the end.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

public static partial class ConvKernels
{
    [ThreadStatic] private static float[]? t_chanPooled;   // pooled channel vectors [poh·pow, Op] of one example
    [ThreadStatic] private static float[]? t_chanBias;     // the bias padded with zeros to Op

    /// <summary>Floats per vector on the widest accelerated width (1 without hardware intrinsics): the lane count a process's packs are made for.</summary>
    internal static int NativeLanes => LanesOf(Resolve(Path.Auto));

    /// <summary>Floats per vector of a single-example path (Scalar, V128, V256, V512), or 0 for any other path.</summary>
    private static int LanesOf(Path path) => path switch
    {
        Path.V512 => Vector512<float>.Count,
        Path.V256 => Vector256<float>.Count,
        Path.V128 => Vector128<float>.Count,
        Path.Scalar => 1,
        _ => 0,
    };

    /// <summary>
    /// Whether a predictor packs this layer for the channel path at <paramref name="lanes"/> floats per vector: 512-bit
    /// vectors, one group, stride 1, and output channels filling whole vectors (no lanes computed and dropped). Measured on
    /// LeNet's conv2 + pool (bench/KernelBench lenetconv, Zen 4, thread CPU, direct time / channel time): 1.45 at 512 bits,
    /// where the FMA broadcasts each input value from memory for free; 0.96 at 256 and 0.83 at 128 bits, where every
    /// broadcast is a separate instruction (12 per 12 multiply-adds, against 6 per 12 on the direct tile); 1.03 on the
    /// scalar path (within noise, so it keeps the direct route). LeNet's conv1 (6 channels in 16 lanes) measured 0.49.
    /// </summary>
    internal static bool ChannelPackPays(in ConvGeometry g, int lanes)
        => lanes == Vector512<float>.Count && g.Groups == 1 && g.StrideH == 1 && g.StrideW == 1 && g.OutChannels % lanes == 0;

    /// <summary>
    /// Inference only: <see cref="ForwardMaxPool{TAct}(TAct, in ConvGeometry, in PoolGeometry, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int)"/>
    /// with a prepacked weight, that is <c>output = MaxPool(act(conv(input, weight) + bias))</c> with only the pooled outputs
    /// written. Examples the batched path does not take run channel-vectorised where the weight was packed for this
    /// process's vector width and the pool is 2×2 with stride 2 (same results as the unpacked call, bit for bit for ReLU and the identity).
    /// </summary>
    /// <param name="act">The activation operator (applied before pooling).</param>
    /// <param name="g">The convolution geometry; must equal <paramref name="weight"/>'s.</param>
    /// <param name="pool">The max-pool geometry over the convolution's output: Channels = OutChannels, InHeight = OutHeight, InWidth = OutWidth.</param>
    /// <param name="input">Input [batch, InChannels, InHeight, InWidth].</param>
    /// <param name="weight">The packed weight [OutChannels, InChannels/Groups, KernelH, KernelW].</param>
    /// <param name="bias">Bias [OutChannels], or empty for no bias.</param>
    /// <param name="output">Pooled output [batch, OutChannels, pool.OutHeight, pool.OutWidth]; must not overlap the other operands.</param>
    /// <param name="batch">Number of examples.</param>
    /// <exception cref="ArgumentNullException"><paramref name="weight"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="weight"/> was packed for another geometry, a geometry is invalid, the pool
    /// does not match the convolution's output, a span's length does not match its shape, or spans overlap.</exception>
    public static void ForwardMaxPool<TAct>(TAct act, in ConvGeometry g, in PoolGeometry pool, ReadOnlySpan<float> input,
        PackedConvWeight weight, ReadOnlySpan<float> bias, Span<float> output, int batch) where TAct : struct, IActivation
        => ForwardMaxPool(Path.Auto, act, g, pool, input, weight, bias, output, batch);

    /// <summary>The packed-weight <c>ForwardMaxPool</c> on a chosen path (the channel path needs a single-example path whose lane count the pack was made for).</summary>
    internal static void ForwardMaxPool<TAct>(Path path, TAct act, in ConvGeometry g, in PoolGeometry pool, ReadOnlySpan<float> input,
        PackedConvWeight weight, ReadOnlySpan<float> bias, Span<float> output, int batch) where TAct : struct, IActivation
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Geometry != g)
            throw new ArgumentException($"The weight was packed for the geometry {weight.Geometry}, but the call's is {g}.", nameof(weight));
        Path resolved = Resolve(path);
        int lanes = LanesOf(resolved);
        if (lanes == 0 || weight.Lanes != lanes || g.PaddingMode != PaddingMode.Zeros || !PoolingKernels.IsMax2x2(pool))
        {
            ForwardMaxPool(path, act, g, pool, input, weight.Plain, bias, output, batch);
            return;
        }
        CheckMaxPool(g, pool, input, weight.Plain, bias, output, batch);
        if (batch == 0) return;
        switch (resolved)
        {
            case Path.V512: ChannelForward<TAct, Vector512<float>, ConvV512>(path, act, g, pool, input, weight, bias, output, batch); break;
            case Path.V256: ChannelForward<TAct, Vector256<float>, ConvV256>(path, act, g, pool, input, weight, bias, output, batch); break;
            case Path.V128: ChannelForward<TAct, Vector128<float>, ConvV128>(path, act, g, pool, input, weight, bias, output, batch); break;
            default: ChannelForward<TAct, float, ConvScalar>(path, act, g, pool, input, weight, bias, output, batch); break;
        }
    }

    /// <summary>Whole blocks of examples that the lane-interleaved path takes go there (in chunks, as the unpacked call); the rest channel-vectorised.</summary>
    private static void ChannelForward<TAct, TV, TOps>(Path path, TAct act, in ConvGeometry g, in PoolGeometry pool, ReadOnlySpan<float> input,
        PackedConvWeight weight, ReadOnlySpan<float> bias, Span<float> output, int batch)
        where TAct : struct, IActivation where TV : struct where TOps : struct, IConvVector<TV>
    {
        int lanes = TOps.Count;
        int done = LanesApply(g, batch, lanes, ForwardWasteTenths, force: false) ? batch / lanes * lanes : 0;
        if (done > 0) PooledInChunks(path, act, g, pool, input, weight.Plain, bias, output, 0, done, chunk: LaneBlocksPerChunk * lanes);
        if (done == batch) return;

        int c = g.InChannels, h = g.InHeight, w = g.InWidth, hp = h + 2 * g.PadH, wp = w + 2 * g.PadW;
        int o = g.OutChannels, op = weight.PaddedChannels, k = c * g.KernelH * g.KernelW, inLen = g.InputLength;
        int poh = pool.OutHeight, pow = pool.OutWidth, pp = poh * pow, pooledLen = pool.OutputLength;
        bool padded = g.PadH != 0 || g.PadW != 0;
        Span<float> src = padded ? Scratch(ref t_src, c * hp * wp) : default;
        if (padded) src.Clear();   // the borders stay zero; each example rewrites the interior
        Span<int> koff = ScratchInt(ref t_koff, k);
        int t = 0;
        for (int ci = 0; ci < c; ci++)
            for (int i = 0; i < g.KernelH; i++)
                for (int j = 0; j < g.KernelW; j++)
                    koff[t++] = (ci * hp + i * g.DilationH) * wp + j * g.DilationW;
        Span<float> pooled = Scratch(ref t_chanPooled, pp * op);
        Span<float> biasPadded = Scratch(ref t_chanBias, op);
        biasPadded.Clear();
        bias.CopyTo(biasPadded);

        ref float p0 = ref MemoryMarshal.GetReference(pooled);
        for (int b = done; b < batch; b++)
        {
            ReadOnlySpan<float> x = input.Slice(b * inLen, inLen);
            if (padded)
            {
                ref float xs = ref MemoryMarshal.GetReference(x);
                ref float ds = ref MemoryMarshal.GetReference(src);
                for (int ci = 0; ci < c; ci++)
                    for (int y = 0; y < h; y++)
                        CopyRow(ref Unsafe.Add(ref xs, (ci * h + y) * w), ref Unsafe.Add(ref ds, (ci * hp + y + g.PadH) * wp + g.PadW), w);
                x = src;
            }
            ChannelTiles<TAct, TV, TOps>(act, x, koff, weight.Channels, op, wp, poh, pow, biasPadded, pooled);
            // [P, Op] → [O, P]: a few hundred scalar moves, small beside the P·K·Op/L multiply-adds.
            ref float dst = ref Unsafe.Add(ref MemoryMarshal.GetReference(output), (nint)b * pooledLen);
            for (int oc = 0; oc < o; oc++)
            {
                ref float d = ref Unsafe.Add(ref dst, oc * pp);
                for (int q = 0; q < pp; q++) Unsafe.Add(ref d, q) = Unsafe.Add(ref p0, q * op + oc);
            }
        }
    }

    /// <summary>pooled[py·pow + px, oc] = max over the window (py, px) of act(Σ_t w[t, oc]·src[koff[t] + (2py + r)·Wp + 2px + s] + bias[oc]).</summary>
    private static void ChannelTiles<TAct, TV, TOps>(TAct act, ReadOnlySpan<float> src, ReadOnlySpan<int> koff, ReadOnlySpan<float> w, int op,
        int wp, int poh, int pow, ReadOnlySpan<float> bias, Span<float> pooled)
        where TAct : struct, IActivation where TV : struct where TOps : struct, IConvVector<TV>
    {
        int k = koff.Length;
        ref float s0 = ref MemoryMarshal.GetReference(src);
        ref int kf = ref MemoryMarshal.GetReference(koff);
        ref float d0 = ref MemoryMarshal.GetReference(pooled);
        for (int cv = 0; cv < op; cv += TOps.Count)
        {
            ref float wv = ref Unsafe.Add(ref MemoryMarshal.GetReference(w), cv);
            TV vb = TOps.Load(ref MemoryMarshal.GetReference(bias), (nuint)cv);
            for (int py = 0; py < poh; py++)
            {
                ref float row = ref Unsafe.Add(ref s0, 2 * py * wp);
                for (int px = 0; px < pow; px += 3)
                {
                    ref float s = ref Unsafe.Add(ref row, 2 * px);
                    ref float d = ref Unsafe.Add(ref d0, (py * pow + px) * op + cv);
                    switch (Math.Min(3, pow - px))
                    {
                        case 3: ChannelTile<TAct, TV, TOps, ConvRows3>(act, ref s, ref kf, ref wv, k, op, wp, vb, ref d); break;
                        case 2: ChannelTile<TAct, TV, TOps, ConvRows2>(act, ref s, ref kf, ref wv, k, op, wp, vb, ref d); break;
                        default: ChannelTile<TAct, TV, TOps, ConvRows1>(act, ref s, ref kf, ref wv, k, op, wp, vb, ref d); break;
                    }
                }
            }
        }
    }

    /// <summary>
    /// One register tile: TP pooling windows side by side (two conv rows × 2·TP columns, one vector of channels each),
    /// reduced over all k taps, then bias, activation and the pool; stores TP vectors op floats apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ChannelTile<TAct, TV, TOps, TP>(TAct act, ref float s, ref int koff, ref float w, int k, int op, int wp, TV bias, ref float d)
        where TAct : struct, IActivation where TV : struct where TOps : struct, IConvVector<TV> where TP : struct, IConvRows
    {
        nuint kk = (nuint)k, stride = (nuint)op;
        TV a00 = TOps.Zero, a01 = TOps.Zero, a02 = TOps.Zero, a03 = TOps.Zero, a04 = TOps.Zero, a05 = TOps.Zero;
        TV a10 = TOps.Zero, a11 = TOps.Zero, a12 = TOps.Zero, a13 = TOps.Zero, a14 = TOps.Zero, a15 = TOps.Zero;
        for (nuint t = 0; t < kk; t++)
        {
            ref float r0 = ref Unsafe.Add(ref s, (nint)Unsafe.Add(ref koff, t));
            ref float r1 = ref Unsafe.Add(ref r0, wp);
            TV v = TOps.Load(ref w, t * stride);
            a00 = TOps.MultiplyAdd(TOps.Broadcast(r0), v, a00);
            a01 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref r0, 1)), v, a01);
            a10 = TOps.MultiplyAdd(TOps.Broadcast(r1), v, a10);
            a11 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref r1, 1)), v, a11);
            if (TP.Value > 1)
            {
                a02 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref r0, 2)), v, a02);
                a03 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref r0, 3)), v, a03);
                a12 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref r1, 2)), v, a12);
                a13 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref r1, 3)), v, a13);
            }
            if (TP.Value > 2)
            {
                a04 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref r0, 4)), v, a04);
                a05 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref r0, 5)), v, a05);
                a14 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref r1, 4)), v, a14);
                a15 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref r1, 5)), v, a15);
            }
        }
        TOps.Store(PoolWindow<TAct, TV, TOps>(act, a00, a01, a10, a11, bias), ref d, 0);
        if (TP.Value > 1) TOps.Store(PoolWindow<TAct, TV, TOps>(act, a02, a03, a12, a13, bias), ref d, stride);
        if (TP.Value > 2) TOps.Store(PoolWindow<TAct, TV, TOps>(act, a04, a05, a14, a15, bias), ref d, 2 * stride);
    }

    /// <summary>One 2×2 window: act(x + bias) of each in the order (0,0), (0,1), (1,0), (1,1), kept by the pool's winner rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV PoolWindow<TAct, TV, TOps>(TAct act, TV a, TV b, TV c, TV d, TV bias)
        where TAct : struct, IActivation where TV : struct where TOps : struct, IConvVector<TV>
    {
        TV best = TOps.Activate(act, TOps.Add(a, bias));
        best = TOps.PoolMax(best, TOps.Activate(act, TOps.Add(b, bias)));
        best = TOps.PoolMax(best, TOps.Activate(act, TOps.Add(c, bias)));
        return TOps.PoolMax(best, TOps.Activate(act, TOps.Add(d, bias)));
    }
}
