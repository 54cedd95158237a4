// Width-generic vector helpers for the GEMM kernels: one kernel body written over TV ∈ {Vector128<float>,
// Vector256<float>, Vector512<float>}, specialised by the JIT/AOT compiler per width (the typeof tests fold to
// constants and the bit casts vanish). The BCL's own ISimdVector interface would do this but is not public.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Kernels;

/// <summary>Per-width vector operations for generic kernels (TV is Vector128/256/512 of float; anything else is a bug).</summary>
internal static class Simd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Count<TV>() where TV : struct =>
        typeof(TV) == typeof(Vector512<float>) ? 16 : typeof(TV) == typeof(Vector256<float>) ? 8 : 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe TV Load<TV>(float* p) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Unsafe.BitCast<Vector512<float>, TV>(Vector512.Load(p));
        if (typeof(TV) == typeof(Vector256<float>)) return Unsafe.BitCast<Vector256<float>, TV>(Vector256.Load(p));
        return Unsafe.BitCast<Vector128<float>, TV>(Vector128.Load(p));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store<TV>(float* p, TV v) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) Unsafe.BitCast<TV, Vector512<float>>(v).Store(p);
        else if (typeof(TV) == typeof(Vector256<float>)) Unsafe.BitCast<TV, Vector256<float>>(v).Store(p);
        else Unsafe.BitCast<TV, Vector128<float>>(v).Store(p);
    }

    /// <summary>a·b + c, fused where the hardware has FMA (the same choice the rest of the kernels make).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Fma<TV>(TV a, TV b, TV c) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
            return Unsafe.BitCast<Vector512<float>, TV>(Vector512.MultiplyAddEstimate(
                Unsafe.BitCast<TV, Vector512<float>>(a), Unsafe.BitCast<TV, Vector512<float>>(b), Unsafe.BitCast<TV, Vector512<float>>(c)));
        if (typeof(TV) == typeof(Vector256<float>))
            return Unsafe.BitCast<Vector256<float>, TV>(Vector256.MultiplyAddEstimate(
                Unsafe.BitCast<TV, Vector256<float>>(a), Unsafe.BitCast<TV, Vector256<float>>(b), Unsafe.BitCast<TV, Vector256<float>>(c)));
        return Unsafe.BitCast<Vector128<float>, TV>(Vector128.MultiplyAddEstimate(
            Unsafe.BitCast<TV, Vector128<float>>(a), Unsafe.BitCast<TV, Vector128<float>>(b), Unsafe.BitCast<TV, Vector128<float>>(c)));
    }

    /// <summary>a·b + c with the multiplier broadcast from a scalar.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Broadcast<TV>(float x) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Unsafe.BitCast<Vector512<float>, TV>(Vector512.Create(x));
        if (typeof(TV) == typeof(Vector256<float>)) return Unsafe.BitCast<Vector256<float>, TV>(Vector256.Create(x));
        return Unsafe.BitCast<Vector128<float>, TV>(Vector128.Create(x));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Add<TV>(TV a, TV b) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
            return Unsafe.BitCast<Vector512<float>, TV>(Unsafe.BitCast<TV, Vector512<float>>(a) + Unsafe.BitCast<TV, Vector512<float>>(b));
        if (typeof(TV) == typeof(Vector256<float>))
            return Unsafe.BitCast<Vector256<float>, TV>(Unsafe.BitCast<TV, Vector256<float>>(a) + Unsafe.BitCast<TV, Vector256<float>>(b));
        return Unsafe.BitCast<Vector128<float>, TV>(Unsafe.BitCast<TV, Vector128<float>>(a) + Unsafe.BitCast<TV, Vector128<float>>(b));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Subtract<TV>(TV a, TV b) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
            return Unsafe.BitCast<Vector512<float>, TV>(Unsafe.BitCast<TV, Vector512<float>>(a) - Unsafe.BitCast<TV, Vector512<float>>(b));
        if (typeof(TV) == typeof(Vector256<float>))
            return Unsafe.BitCast<Vector256<float>, TV>(Unsafe.BitCast<TV, Vector256<float>>(a) - Unsafe.BitCast<TV, Vector256<float>>(b));
        return Unsafe.BitCast<Vector128<float>, TV>(Unsafe.BitCast<TV, Vector128<float>>(a) - Unsafe.BitCast<TV, Vector128<float>>(b));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Multiply<TV>(TV a, TV b) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
            return Unsafe.BitCast<Vector512<float>, TV>(Unsafe.BitCast<TV, Vector512<float>>(a) * Unsafe.BitCast<TV, Vector512<float>>(b));
        if (typeof(TV) == typeof(Vector256<float>))
            return Unsafe.BitCast<Vector256<float>, TV>(Unsafe.BitCast<TV, Vector256<float>>(a) * Unsafe.BitCast<TV, Vector256<float>>(b));
        return Unsafe.BitCast<Vector128<float>, TV>(Unsafe.BitCast<TV, Vector128<float>>(a) * Unsafe.BitCast<TV, Vector128<float>>(b));
    }

    /// <summary>
    /// The horizontal sums of four vectors at once, as lanes 0-3 of the result. Each sum is a fixed pairwise tree
    /// (for 8 lanes: ((x0+x1)+(x2+x3)) + ((x4+x5)+(x6+x7)); 16 lanes first add the two halves lane by lane), the same
    /// whichever lane it lands in, so <c>Sum4(v, v, v, v)</c> gives every single sum bit-identically. Three horizontal
    /// adds replace four separate reductions (about a third of the shuffles).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sum4<TV>(TV a, TV b, TV c, TV d) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            Vector512<float> a5 = Unsafe.BitCast<TV, Vector512<float>>(a), b5 = Unsafe.BitCast<TV, Vector512<float>>(b),
                c5 = Unsafe.BitCast<TV, Vector512<float>>(c), d5 = Unsafe.BitCast<TV, Vector512<float>>(d);
            return Sum4(a5.GetLower() + a5.GetUpper(), b5.GetLower() + b5.GetUpper(), c5.GetLower() + c5.GetUpper(), d5.GetLower() + d5.GetUpper());
        }
        if (typeof(TV) == typeof(Vector256<float>))
        {
            Vector256<float> a8 = Unsafe.BitCast<TV, Vector256<float>>(a), b8 = Unsafe.BitCast<TV, Vector256<float>>(b),
                c8 = Unsafe.BitCast<TV, Vector256<float>>(c), d8 = Unsafe.BitCast<TV, Vector256<float>>(d);
            if (Avx.IsSupported)
            {
                // Per 128-bit half: [(x0+x1)+(x2+x3) for x = a, b, c, d]; then the halves are added.
                Vector256<float> h = Avx.HorizontalAdd(Avx.HorizontalAdd(a8, b8), Avx.HorizontalAdd(c8, d8));
                return h.GetLower() + h.GetUpper();
            }
            return Vector128.Create(Tree8(a8), Tree8(b8), Tree8(c8), Tree8(d8));
        }
        Vector128<float> a4 = Unsafe.BitCast<TV, Vector128<float>>(a), b4 = Unsafe.BitCast<TV, Vector128<float>>(b),
            c4 = Unsafe.BitCast<TV, Vector128<float>>(c), d4 = Unsafe.BitCast<TV, Vector128<float>>(d);
        if (Sse3.IsSupported)
            return Sse3.HorizontalAdd(Sse3.HorizontalAdd(a4, b4), Sse3.HorizontalAdd(c4, d4));
        return Vector128.Create(Tree4(a4), Tree4(b4), Tree4(c4), Tree4(d4));
    }

    /// <summary>The scalar form of <see cref="Sum4{TV}"/>'s tree for 4 lanes (no SSE3).</summary>
    private static float Tree4(Vector128<float> v) => (v.GetElement(0) + v.GetElement(1)) + (v.GetElement(2) + v.GetElement(3));

    /// <summary>The scalar form of <see cref="Sum4{TV}"/>'s tree for 8 lanes (no AVX).</summary>
    private static float Tree8(Vector256<float> v) => Tree4(v.GetLower()) + Tree4(v.GetUpper());
}
