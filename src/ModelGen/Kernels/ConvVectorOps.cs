// One vector width as a struct of static operations, so the convolution tiles (ConvKernels.Direct.cs) are written
// once and the JIT/AOT compiler specialises them per width: Vector512, Vector256, Vector128 and a scalar "vector" of
// one float (the path taken when hardware intrinsics are off). Every member inlines to a single instruction.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Kernels;

/// <summary>The operations a convolution tile needs on one vector type.</summary>
internal interface IConvVector<TV> where TV : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }
    static abstract TV Zero { get; }
    static abstract TV Broadcast(float x);
    static abstract TV Load(ref float p, nuint i);
    static abstract void Store(TV v, ref float p, nuint i);
    /// <summary><c>a·b + c</c> (fused where the hardware has it, as <see cref="Gemm"/>).</summary>
    static abstract TV MultiplyAdd(TV a, TV b, TV c);
    /// <summary>Sum of the lanes, in a fixed order.</summary>
    static abstract float Sum(TV v);
    /// <summary><c>a + b</c> lane-wise.</summary>
    static abstract TV Add(TV a, TV b);
    /// <summary>The activation applied to every lane.</summary>
    static abstract TV Activate<TAct>(TAct act, TV v) where TAct : struct, IActivation;
    /// <summary>Max pooling's winner rule lane-wise: <paramref name="t"/> where <c>t &gt; best</c> or <c>t</c> is NaN, else <paramref name="best"/>
    /// (as PoolingKernels.Max2x2Row).</summary>
    static abstract TV PoolMax(TV best, TV t);
}

internal readonly struct ConvV512 : IConvVector<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(ref float p, nuint i) => Vector512.LoadUnsafe(ref p, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, ref float p, nuint i) => v.StoreUnsafe(ref p, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> v) => Vector512.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Activate<TAct>(TAct act, Vector512<float> v) where TAct : struct, IActivation => act.Invoke(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> PoolMax(Vector512<float> best, Vector512<float> t)
        => Vector512.ConditionalSelect(Vector512.GreaterThan(t, best) | ~Vector512.Equals(t, t), t, best);
}

internal readonly struct ConvV256 : IConvVector<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(ref float p, nuint i) => Vector256.LoadUnsafe(ref p, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, ref float p, nuint i) => v.StoreUnsafe(ref p, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> v) => Vector256.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Activate<TAct>(TAct act, Vector256<float> v) where TAct : struct, IActivation => act.Invoke(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> PoolMax(Vector256<float> best, Vector256<float> t)
        => Vector256.ConditionalSelect(Vector256.GreaterThan(t, best) | ~Vector256.Equals(t, t), t, best);
}

internal readonly struct ConvV128 : IConvVector<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(ref float p, nuint i) => Vector128.LoadUnsafe(ref p, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> v, ref float p, nuint i) => v.StoreUnsafe(ref p, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector128<float> v) => Vector128.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Activate<TAct>(TAct act, Vector128<float> v) where TAct : struct, IActivation => act.Invoke(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> PoolMax(Vector128<float> best, Vector128<float> t)
        => Vector128.ConditionalSelect(Vector128.GreaterThan(t, best) | ~Vector128.Equals(t, t), t, best);
}

/// <summary>A one-lane "vector" (plain float): the path for machines or runs without hardware intrinsics.</summary>
internal readonly struct ConvScalar : IConvVector<float>
{
    public static int Count => 1;
    public static float Zero => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Broadcast(float x) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(ref float p, nuint i) => Unsafe.Add(ref p, i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float v, ref float p, nuint i) => Unsafe.Add(ref p, i) = v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MultiplyAdd(float a, float b, float c) => float.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(float v) => v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float a, float b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Activate<TAct>(TAct act, float v) where TAct : struct, IActivation => act.Invoke(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float PoolMax(float best, float t) => t > best || float.IsNaN(t) ? t : best;
}

/// <summary>A compile-time row count for a register tile (the JIT folds <c>TR.Value</c> per instantiation).</summary>
internal interface IConvRows { static abstract int Value { get; } }
internal readonly struct ConvRows1 : IConvRows { public static int Value => 1; }
internal readonly struct ConvRows2 : IConvRows { public static int Value => 2; }
internal readonly struct ConvRows3 : IConvRows { public static int Value => 3; }
internal readonly struct ConvRows4 : IConvRows { public static int Value => 4; }
internal readonly struct ConvRows5 : IConvRows { public static int Value => 5; }
internal readonly struct ConvRows6 : IConvRows { public static int Value => 6; }
