// Width-generic vector helpers for the GEMM kernels: one kernel body written over TV ∈ {Vector128<float>,
// Vector256<float>, Vector512<float>}, specialised by the JIT/AOT compiler per width (the typeof tests fold to
// constants and the bit casts vanish). The BCL's own ISimdVector interface would do this but is not public.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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

    /// <summary>Horizontal sum in the BCL's fixed lane order (deterministic for a given width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum<TV>(TV v) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>)) return Vector512.Sum(Unsafe.BitCast<TV, Vector512<float>>(v));
        if (typeof(TV) == typeof(Vector256<float>)) return Vector256.Sum(Unsafe.BitCast<TV, Vector256<float>>(v));
        return Vector128.Sum(Unsafe.BitCast<TV, Vector128<float>>(v));
    }
}
