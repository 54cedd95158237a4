// Dropout on attention weights (PyTorch's nn.MultiheadAttention(dropout=p), training only) for the fused, online-softmax
// attention of AttentionKernels: P̃ = P ⊙ M with M[i, j] = (u ≥ p)/(1 − p). The scores are never materialised, so neither
// is the mask: u is a counter-based hash of (seed, example, head, query, key), recomputed wherever a tile needs it, so the
// forward pass and backward (which recomputes P tile by tile) see the same mask without storing T×T bits.
// Hash: a 32-bit row key from three splitmix64 finalisers over (seed, b, h, i), then per key j the 32-bit "lowbias32"
// finaliser (Chris Wellons' constants) of rowKey + j·golden ratio, a bijection in j; vector widths compute the same lanes.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>The dropout of one attention call: probability, seed, and the counter-based keep mask they define.</summary>
internal readonly struct AttentionDropout
{
    private const uint Golden = 0x9E3779B9u;

    /// <summary>Probability of dropping a weight, in [0, 1]; 0 means no dropout (nothing is hashed).</summary>
    public readonly float P;

    /// <summary>The call's seed: the mask is a function of (seed, b, h, i, j) only.</summary>
    public readonly ulong Seed;

    /// <summary>Weights whose hash is below this are dropped: p·2³².</summary>
    public readonly uint Threshold;

    /// <summary>The factor on kept weights, 1/(1 − p) (0 when p = 1: everything is dropped).</summary>
    public readonly float Scale;

    public AttentionDropout(float p, ulong seed)
    {
        P = p;
        Seed = seed;
        Threshold = p >= 1f ? uint.MaxValue : (uint)(p * 4294967296.0);
        Scale = p >= 1f ? 0f : 1f / (1f - p);
    }

    /// <summary>Whether weights are dropped at all (p &gt; 0).</summary>
    public bool Active => P > 0f;

    /// <summary>An independent seed for sub-call <paramref name="index"/> (a layer of a stack, the cross-attention of a decoder layer).</summary>
    public AttentionDropout For(int index) => new(P, Mix64(Seed ^ (0xA0761D6478BD642FUL * (ulong)(index + 1))));

    /// <summary>The 32-bit key of query row i of example b, head h.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint RowKey(int b, int h, int i)
    {
        ulong z = Mix64(Seed ^ ((ulong)(uint)b << 32 | (uint)h));
        z = Mix64(z ^ (uint)i);
        return (uint)(z >> 32) ^ (uint)z;
    }

    /// <summary>The mask multiplier of key j in a row: 1/(1 − p) when kept, 0 when dropped (the scalar definition every width follows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Multiplier(uint rowKey, int j) => Hash(rowKey + (uint)j * Golden) >= Threshold ? Scale : 0f;

    /// <summary>Whether weight (b, h, i, j) is kept (for references and tests).</summary>
    public bool Keeps(int b, int h, int i, int j) => Multiplier(RowKey(b, h, i), j) != 0f;

    /// <summary>s[c] *= multiplier of key j0 + c, over a whole number of TV vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Apply<TV, TOps>(float* s, int count, uint rowKey, int j0) where TV : struct where TOps : ModelGen.Optimizers.Simd.ISimdOps<TV>
    {
        for (int c = 0; c < count; c += TOps.Count)
            TOps.Store(TOps.Multiply(TOps.Load(ref s[c], 0), Multipliers<TV>(rowKey, j0 + c)), ref s[c], 0);
    }

    /// <summary>
    /// The backward of softmax followed by dropout, over a whole number of TV vectors: with p = P (undropped) and ds = dP̃ on entry,
    /// ds[c] = p[c]·(M[c]·ds[c] − delta)·scale and p[c] = M[c]·p[c] (P̃, for dV); one hash per weight serves both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void SoftmaxGradient<TV, TOps>(float* p, float* ds, float delta, float scale, int count, uint rowKey, int j0)
        where TV : struct where TOps : ModelGen.Optimizers.Simd.ISimdOps<TV>
    {
        TV d = TOps.Create(delta), sc = TOps.Create(scale);
        for (int c = 0; c < count; c += TOps.Count)
        {
            TV mask = Multipliers<TV>(rowKey, j0 + c), pc = TOps.Load(ref p[c], 0);
            TV g = TOps.Multiply(TOps.Multiply(pc, TOps.Subtract(TOps.Multiply(mask, TOps.Load(ref ds[c], 0)), d)), sc);
            TOps.Store(g, ref ds[c], 0);
            TOps.Store(TOps.Multiply(pc, mask), ref p[c], 0);
        }
    }

    /// <summary>The multipliers of keys j .. j + width(TV) − 1 of a row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TV Multipliers<TV>(uint rowKey, int j) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            var x = Vector512.Create(rowKey) + (Vector512.Create((uint)j) + Vector512<uint>.Indices) * Vector512.Create(Golden);
            var keep = Vector512.GreaterThanOrEqual(Hash(x), Vector512.Create(Threshold)).AsSingle();
            return Unsafe.BitCast<Vector512<float>, TV>(keep & Vector512.Create(Scale));
        }
        if (typeof(TV) == typeof(Vector256<float>))
        {
            var x = Vector256.Create(rowKey) + (Vector256.Create((uint)j) + Vector256<uint>.Indices) * Vector256.Create(Golden);
            var keep = Vector256.GreaterThanOrEqual(Hash(x), Vector256.Create(Threshold)).AsSingle();
            return Unsafe.BitCast<Vector256<float>, TV>(keep & Vector256.Create(Scale));
        }
        if (typeof(TV) == typeof(Vector128<float>))
        {
            var x = Vector128.Create(rowKey) + (Vector128.Create((uint)j) + Vector128<uint>.Indices) * Vector128.Create(Golden);
            var keep = Vector128.GreaterThanOrEqual(Hash(x), Vector128.Create(Threshold)).AsSingle();
            return Unsafe.BitCast<Vector128<float>, TV>(keep & Vector128.Create(Scale));
        }
        return Unsafe.BitCast<float, TV>(Multiplier(rowKey, j));
    }

    /// <summary>splitmix64's finaliser (with its increment): a bijection that spreads every input bit over the output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix64(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // lowbias32 (x ^= x >> 16; x *= 0x21f0aaad; x ^= x >> 15; x *= 0xd35a2d97; x ^= x >> 15), once per width.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Hash(uint x)
    {
        x ^= x >> 16; x *= 0x21F0AAADu; x ^= x >> 15; x *= 0xD35A2D97u; return x ^ (x >> 15);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Hash(Vector512<uint> x)
    {
        x ^= x >>> 16; x *= Vector512.Create(0x21F0AAADu); x ^= x >>> 15; x *= Vector512.Create(0xD35A2D97u); return x ^ (x >>> 15);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Hash(Vector256<uint> x)
    {
        x ^= x >>> 16; x *= Vector256.Create(0x21F0AAADu); x ^= x >>> 15; x *= Vector256.Create(0xD35A2D97u); return x ^ (x >>> 15);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Hash(Vector128<uint> x)
    {
        x ^= x >>> 16; x *= Vector128.Create(0x21F0AAADu); x ^= x >>> 15; x *= Vector128.Create(0xD35A2D97u); return x ^ (x >>> 15);
    }
}
