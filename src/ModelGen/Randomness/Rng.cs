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
    /// as calling <see cref="NextFloat"/> once per element, but with the state held in registers for the whole loop (dropout
    /// draws millions of numbers per training step, and a call per draw reloads and stores the four state words each time).
    /// </summary>
    internal void FillKeepMask(Span<float> mask, float p, float keep)
    {
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        // NextFloat() = u·2⁻²⁴ with u the top 24 bits, exact, and p·2²⁴ is exact too, so u·2⁻²⁴ ≥ p ⟺ u ≥ ⌈p·2²⁴⌉:
        // an integer compare with no conversion (p ≥ 1 gives a threshold above every u; p ≤ 0 one of 0).
        ulong threshold = (ulong)Math.Clamp(MathF.Ceiling(p * (1 << 24)), 0f, (1 << 24) + 1f);
        ref float m = ref MemoryMarshal.GetReference(mask);
        for (nuint i = 0; i < (nuint)mask.Length; i++)
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
            Unsafe.Add(ref m, i) = result >> 40 >= threshold ? keep : 0f;
        }
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
    }

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
