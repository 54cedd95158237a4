// One seeded generator for everything random in ModelGen (initialisation, dropout masks, shuffling,
// augmentation), so that the same seed reproduces a run bit for bit. xoshiro256** seeded through splitmix64:
// fast, tiny state, and independent of System.Random's implementation, which may change between .NET versions.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelGen;

/// <summary>A small, fast, seeded pseudo-random generator (xoshiro256**). Not thread-safe; not for cryptography.</summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareGaussian;
    private bool _hasSpare;

    /// <summary>Creates a generator whose whole sequence is determined by <paramref name="seed"/>.</summary>
    public Rng(ulong seed) => Reseed(seed);

    /// <summary>Restarts the sequence from <paramref name="seed"/>.</summary>
    public void Reseed(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
        _hasSpare = false;
    }

    /// <summary>Derives an independent generator for a sub-task (e.g. one per epoch) without disturbing this one's sequence order.</summary>
    public static Rng Derive(ulong seed, ulong stream)
    {
        ulong x = seed ^ (0x9E3779B97F4A7C15UL * (stream + 1));
        return new Rng(SplitMix64(ref x));
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform float in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>
    /// Fills <c>mask[i] = NextFloat() ≥ p ? keep : 0</c> for every i, in order: the same draws, and the same state afterwards,
    /// as calling <see cref="NextFloat"/> once per element, but with the state held in registers (dropout draws millions of
    /// numbers per training step, and a call per draw reloads and stores the four state words each time). A large mask is
    /// split between threads (<see cref="Kernels.KernelOptions.MaxThreads"/>): each chunk starts from the state the draws
    /// before it would leave, reached by a jump (<see cref="Jump"/>), so every element gets the very number it would get in
    /// one sequential pass and the bits do not depend on the thread count.
    /// </summary>
    internal unsafe void FillKeepMask(Span<float> mask, float p, float keep)
    {
        // NextFloat() = u·2⁻²⁴ with u the top 24 bits, exact, and p·2²⁴ is exact too, so u·2⁻²⁴ ≥ p ⟺ u ≥ ⌈p·2²⁴⌉:
        // an integer compare with no conversion (p ≥ 1 gives a threshold above every u; p ≤ 0 one of 0).
        ulong threshold = (ulong)Math.Clamp(MathF.Ceiling(p * (1 << 24)), 0f, (1 << 24) + 1f);
        int n = mask.Length;
        int parts = Kernels.ParallelRange.Parts(n, MinJumpChunk, 1);
        fixed (float* m = mask)
        {
            if (parts == 1)
            {
                Fill(ref _s0, ref _s1, ref _s2, ref _s3, m, n, threshold, keep);
                return;
            }
            // Chunks of equal length (the last shorter); a few per thread so a late helper evens out.
            int chunks = Math.Min(parts * 4, MaxJumpChunks), length = (n + chunks - 1) / chunks;
            chunks = (n + length - 1) / length;
            ulong[] states = _chunkStates ??= new ulong[4 * (MaxJumpChunks + 1)];   // [chunk][s0..s3]; the last row gets the end state
            ulong[] poly = JumpPolynomial(length);
            (states[0], states[1], states[2], states[3]) = (_s0, _s1, _s2, _s3);
            for (int c = 1; c < chunks; c++)
            {
                (ulong s0, ulong s1, ulong s2, ulong s3) = (states[4 * c - 4], states[4 * c - 3], states[4 * c - 2], states[4 * c - 1]);
                Jump(poly, ref s0, ref s1, ref s2, ref s3);
                (states[4 * c], states[4 * c + 1], states[4 * c + 2], states[4 * c + 3]) = (s0, s1, s2, s3);
            }
            fixed (ulong* st = states)
                Kernels.ParallelRange.Run(new MaskChunks(m, n, length, chunks, st, threshold, keep), chunks, 1, length);
            int e = 4 * chunks;
            (_s0, _s1, _s2, _s3) = (states[e], states[e + 1], states[e + 2], states[e + 3]);
        }
    }

    /// <summary>The smallest mask chunk worth a jump (256 steps and as many conditional state XORs, ~1 µs).</summary>
    private const int MinJumpChunk = 1 << 14;

    private const int MaxJumpChunks = 16;

    private ulong[]? _chunkStates;             // FillKeepMask's per-chunk start states, allocated on first parallel use
    private JumpCache? _jumps;                 // allocated on first parallel use, so creating a generator stays one small object

    /// <summary>xⁿ mod P for the last four chunk lengths n (a model's masks come in few sizes).</summary>
    private sealed class JumpCache
    {
        public readonly ulong[]?[] Polynomials = new ulong[]?[4];
        public readonly int[] Distances = new int[4];
        public int Next;
    }

    /// <summary>One chunk of a split <see cref="FillKeepMask"/>: from its start state, its elements, and (the last chunk) the end state.</summary>
    private readonly unsafe struct MaskChunks(float* mask, int n, int length, int chunks, ulong* states, ulong threshold, float keep) : Kernels.IRangeOp
    {
        public void Run(int start, int end)
        {
            for (int c = start; c < end; c++)
            {
                ulong* st = states + 4 * c;
                ulong s0 = st[0], s1 = st[1], s2 = st[2], s3 = st[3];
                int first = c * length;
                Fill(ref s0, ref s1, ref s2, ref s3, mask + first, Math.Min(length, n - first), threshold, keep);
                if (c == chunks - 1) (st[4], st[5], st[6], st[7]) = (s0, s1, s2, s3);
            }
        }
    }

    /// <summary>mask[i] = (the top 24 bits of the next output ≥ threshold) ? keep : 0 for i &lt; count, advancing the state.</summary>
    private static unsafe void Fill(ref ulong state0, ref ulong state1, ref ulong state2, ref ulong state3, float* mask, int count, ulong threshold, float keep)
    {
        ulong s0 = state0, s1 = state1, s2 = state2, s3 = state3;
        for (nint i = 0; i < count; i++)
        {
            // NextUInt64, inlined on the local state.
            ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
            ulong t = s1 << 17;
            s2 ^= s0;
            s3 ^= s1;
            s1 ^= s2;
            s0 ^= s3;
            s2 ^= t;
            s3 = ulong.RotateLeft(s3, 45);
            mask[i] = result >> 40 >= threshold ? keep : 0f;
        }
        (state0, state1, state2, state3) = (s0, s1, s2, s3);
    }

    // ------------------------------------------------------------------------------------------------ jumps
    // The state update T of xoshiro256 is linear over GF(2)²⁵⁶ (XORs, shifts, rotations), with characteristic polynomial
    // P of degree 256 (primitive: the period is 2²⁵⁶ − 1). By Cayley–Hamilton P(T) = 0, so with R(x) = xⁿ mod P = Σ rᵢxⁱ,
    // Tⁿ = R(T) = Σ rᵢTⁱ: n steps cost 256 steps and up to 256 state XORs (the reference jump() of xoshiro, for any n).
    // P is recovered once from the generator itself with Berlekamp–Massey over 512 bits of one state bit.

    /// <summary>P's coefficients, bit i of word i/64 = the coefficient of xⁱ (i ≤ 256).</summary>
    private static readonly ulong[] s_characteristic = CharacteristicPolynomial();

    /// <summary>Advances the state by the distance whose polynomial <paramref name="poly"/> (xⁿ mod P) is.</summary>
    private static void Jump(ulong[] poly, ref ulong s0, ref ulong s1, ref ulong s2, ref ulong s3)
    {
        ulong a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int i = 0; i < 256; i++)
        {
            if ((poly[i >> 6] >> (i & 63) & 1) != 0)
            {
                a0 ^= s0;
                a1 ^= s1;
                a2 ^= s2;
                a3 ^= s3;
            }
            Step(ref s0, ref s1, ref s2, ref s3);
        }
        (s0, s1, s2, s3) = (a0, a1, a2, a3);
    }

    /// <summary>xⁿ mod P, cached for the last four distances (the masks of one model repeat their few sizes every step; ~1 ms to compute).</summary>
    private ulong[] JumpPolynomial(int n)
    {
        JumpCache jumps = _jumps ??= new JumpCache();
        for (int i = 0; i < jumps.Distances.Length; i++)
            if (jumps.Polynomials[i] is { } cached && jumps.Distances[i] == n) return cached;
        var result = new ulong[4];
        result[0] = 1;                      // x⁰
        var power = new ulong[4];
        power[0] = 2;                       // x¹
        var product = new ulong[8];
        for (int bits = n; bits != 0; bits >>= 1)
        {
            if ((bits & 1) != 0) MultiplyMod(result, power, product);
            if (bits > 1) MultiplyMod(power, power, product);
        }
        (jumps.Polynomials[jumps.Next], jumps.Distances[jumps.Next]) = (result, n);
        jumps.Next = (jumps.Next + 1) % jumps.Distances.Length;
        return result;
    }

    /// <summary>a = a·b mod P over GF(2) (a and b of degree &lt; 256; product is scratch of 8 words).</summary>
    private static void MultiplyMod(ulong[] a, ulong[] b, ulong[] product)
    {
        Array.Clear(product);
        for (int i = 0; i < 256; i++)
            if ((a[i >> 6] >> (i & 63) & 1) != 0) XorShifted(product, b, 4, i);
        for (int i = 511; i >= 256; i--)
            if ((product[i >> 6] >> (i & 63) & 1) != 0) XorShifted(product, s_characteristic, 5, i - 256);   // clears bit i (P has x²⁵⁶)
        Array.Copy(product, a, 4);
    }

    /// <summary>target ^= source·x^shift (source of <paramref name="words"/> words).</summary>
    private static void XorShifted(ulong[] target, ulong[] source, int words, int shift)
    {
        int w = shift >> 6, b = shift & 63;
        for (int i = 0; i < words && i + w < target.Length; i++)
        {
            target[i + w] ^= source[i] << b;
            if (b != 0 && i + w + 1 < target.Length) target[i + w + 1] ^= source[i] >> (64 - b);
        }
    }

    private static void Step(ref ulong s0, ref ulong s1, ref ulong s2, ref ulong s3)
    {
        ulong t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = ulong.RotateLeft(s3, 45);
    }

    /// <summary>P by Berlekamp–Massey over bit 0 of s0 along 512 steps from a fixed non-zero state (its minimal polynomial is P: P is irreducible).</summary>
    private static ulong[] CharacteristicPolynomial()
    {
        const int N = 512;
        var bits = new byte[N];
        ulong s0 = 0x9E3779B97F4A7C15UL, s1 = 0xBF58476D1CE4E5B9UL, s2 = 0x94D049BB133111EBUL, s3 = 1;
        for (int i = 0; i < N; i++)
        {
            bits[i] = (byte)(s0 & 1);
            Step(ref s0, ref s1, ref s2, ref s3);
        }
        // Connection polynomial C(x) = 1 + c₁x + … + c_L x^L with bits[k] = Σ cᵢ·bits[k − i].
        var c = new byte[N + 1];
        var b = new byte[N + 1];
        c[0] = b[0] = 1;
        int l = 0, m = 1;
        for (int k = 0; k < N; k++)
        {
            int d = bits[k];
            for (int i = 1; i <= l; i++) d ^= c[i] & bits[k - i];
            if (d == 0)
            {
                m++;
                continue;
            }
            var previous = (byte[])c.Clone();
            for (int i = 0; i + m <= N; i++) c[i + m] ^= b[i];
            if (2 * l <= k)
            {
                l = k + 1 - l;
                b = previous;
                m = 1;
            }
            else m++;
        }
        if (l != 256) throw new InvalidOperationException($"xoshiro256's characteristic polynomial came out of degree {l}, expected 256.");
        // P(x) = x^L·C(1/x): the coefficient of xⁱ is c_{L−i}.
        var p = new ulong[5];
        for (int i = 0; i <= 256; i++)
            if (c[256 - i] != 0) p[i >> 6] |= 1UL << (i & 63);
        return p;
    }

    /// <summary>For tests: advances the state by <paramref name="n"/> draws with one jump (as <paramref name="n"/> calls to <see cref="NextUInt64"/> would).</summary>
    internal void JumpForTests(int n) => Jump(JumpPolynomial(n), ref _s0, ref _s1, ref _s2, ref _s3);

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>), without modulo bias (Lemire's method).</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive), maxExclusive, "must be positive");
        ulong range = (ulong)maxExclusive;
        UInt128 m = (UInt128)(NextUInt64() >> 32) * range;
        ulong low = (ulong)m & 0xFFFFFFFFUL;
        if (low < range)
        {
            ulong threshold = (0x1_0000_0000UL - range) % range;
            while (low < threshold)
            {
                m = (UInt128)(NextUInt64() >> 32) * range;
                low = (ulong)m & 0xFFFFFFFFUL;
            }
        }
        return (int)((ulong)(m >> 32));
    }

    /// <summary>Standard normal sample (Box–Muller in double precision).</summary>
    public double NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareGaussian;
        }
        double u1;
        do u1 = NextDouble(); while (u1 <= double.Epsilon);
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        _spareGaussian = r * Math.Sin(2 * Math.PI * u2);
        _hasSpare = true;
        return r * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Fisher–Yates shuffle of <paramref name="values"/>.</summary>
    public void Shuffle<T>(Span<T> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}
