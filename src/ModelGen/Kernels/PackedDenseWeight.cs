// A dense layer's weight prepared once for inference (what a predictor holds; ONNX Runtime's session prepacks its
// MatMul weights the same way). Two copies, one per GEMM path the forward can take:
//  * the weight as it lies [out, in], which the dot-product path (small batches, Gemm.Dot.cs) reads directly;
//  * the [out, in] matrix packed into the packed GEMM's column panels (Gemm.Prepacked.cs), so batches that take the
//    packed path pack only their input rows instead of all of W on every call;
//  * for batches of 1-3 rows (GEMV: bound by streaming W), its full vector steps (then its tail) with rows interleaved in groups of
//    eight (Gemm.Gemv.cs), so the dot path's eight dot products read one contiguous stream; same bits as the plain copy.
// The pack is made for the widest accelerated vector width of the process and lives in a pinned, 64-byte aligned
// array, so the microkernel reads it through a pointer with no `fixed` per call.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelGen.Kernels;

/// <summary>
/// An immutable copy of a dense layer's weight [OutFeatures, InFeatures] (PyTorch's Linear layout), prepared for
/// <see cref="DenseKernels.Forward{TAct}(TAct, ReadOnlySpan{float}, PackedDenseWeight, ReadOnlySpan{float}, Span{float}, int)"/>.
/// Thread-safe: any number of calls may read it at once.
/// </summary>
public sealed unsafe class PackedDenseWeight
{
    private readonly float[] _plain;     // [out, in] as given
    private readonly float[]? _packed;   // [⌈out/NR⌉·NR × in] column panels (+ alignment slack), pinned; null when never used
    private readonly nint _offset;       // floats from _packed[0] to the 64-byte aligned pack
    private readonly float[]? _interleaved;   // rows in groups of 8, vector step by step, at Gemm.NativeWidth, pinned; null without vectors
    private readonly nint _interleavedOffset;

    /// <summary>Copies and packs <paramref name="weight"/> [<paramref name="outFeatures"/>, <paramref name="inFeatures"/>]; the span is not kept.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="weight"/> does not have outFeatures × inFeatures elements, or the pack would exceed the largest array.</exception>
    public PackedDenseWeight(ReadOnlySpan<float> weight, int outFeatures, int inFeatures)
        : this(weight, outFeatures, inFeatures, PackPays(outFeatures, inFeatures, Gemm.NativeWidth) ? Gemm.NativeWidth : 0)
    {
    }

    /// <summary>
    /// Packs for microkernels of <paramref name="width"/> bits (128, 256 or 512; 0 for no pack) whether or not
    /// <see cref="UsePacked"/> would ever choose it: tests force every width on any machine (a width the machine lacks
    /// runs emulated, slow but exact).
    /// </summary>
    internal PackedDenseWeight(ReadOnlySpan<float> weight, int outFeatures, int inFeatures, int width)
    {
        ThrowHelper.CheckNonNegative(outFeatures, nameof(outFeatures));
        ThrowHelper.CheckNonNegative(inFeatures, nameof(inFeatures));
        ThrowHelper.CheckShape(weight.Length, nameof(weight), nameof(outFeatures), outFeatures, nameof(inFeatures), inFeatures);
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        _plain = weight.ToArray();
        _interleaved = MakeInterleaved(_plain, outFeatures, inFeatures, out _interleavedOffset);
        // Without accelerated vectors (width 0) the packed microkernels would run emulated: every batch reads the plain copy then.
        Width = outFeatures == 0 || inFeatures == 0 ? 0 : width;
        if (Width == 0) return;
        long length = Gemm.PrepackedLength(outFeatures, inFeatures, Width);
        if (length > Array.MaxLength - 16)
            throw new ArgumentException($"The packed copy of a [{outFeatures}, {inFeatures}] weight needs {length} floats, more than an array holds.", nameof(weight));
        _packed = GC.AllocateUninitializedArray<float>((int)length + 16, pinned: true);
        nuint start = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_packed));
        _offset = (nint)((((start + 63) & ~(nuint)63) - start) / sizeof(float));
        fixed (float* w = _plain)
            Gemm.Prepack(w, Packed, inFeatures, outFeatures, transB: true, Width);
    }

    /// <summary>Output features (rows of the weight).</summary>
    public int OutFeatures { get; }

    /// <summary>Input features (columns of the weight).</summary>
    public int InFeatures { get; }

    /// <summary>Microkernel width in bits the pack was made for (0: no pack; every batch reads <see cref="Plain"/>).</summary>
    internal int Width { get; }

    /// <summary>The weight as it lies [out, in].</summary>
    internal ReadOnlySpan<float> Plain => _plain;

    /// <summary>The 64-byte aligned pack (stays valid: the array is pinned and lives as long as this object).</summary>
    internal float* Packed => (float*)Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_packed!), _offset));

    /// <summary>Whether a call of <paramref name="batch"/> rows on the plain route reads the interleaved copy (1-3 rows: the dot path's row-by-row GEMV).</summary>
    internal bool UsesInterleaved(int batch) => _interleaved is not null && batch is > 0 and < 4;

    /// <summary>The 64-byte aligned interleaved copy for vectors of <see cref="Gemm.NativeWidth"/> bits (valid while this object lives: pinned).</summary>
    internal float* Interleaved => (float*)Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_interleaved!), _interleavedOffset));

    /// <summary>The interleaved copy at the dot path's width, or null where the dot path has no full vector step.</summary>
    private static float[]? MakeInterleaved(float[] plain, int outFeatures, int inFeatures, out nint offset)
    {
        offset = 0;
        int width = Gemm.NativeWidth;
        if (width == 0 || outFeatures == 0 || inFeatures < width / 32) return null;
        long length = Gemm.InterleavedLength(outFeatures, inFeatures, width);
        if (length > Array.MaxLength - 16) return null;   // the plain route serves such a weight (no real layer is near this)
        var array = GC.AllocateUninitializedArray<float>((int)length + 16, pinned: true);
        nuint start = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        offset = (nint)((((start + 63) & ~(nuint)63) - start) / sizeof(float));
        fixed (float* w = plain)
            Gemm.Interleave(w, (float*)Unsafe.AsPointer(ref array[offset]), outFeatures, inFeatures, width);
        return array;
    }

    /// <summary>
    /// Whether a call of <paramref name="batch"/> rows takes the packed path, else the model's own dense forward over
    /// <see cref="Plain"/> (the dot path up to <see cref="Gemm.DotMaxRows"/> rows, the per-call packed GEMM beyond). A
    /// deterministic rule, so a shape always takes the same path and gives the same bits:
    /// <list type="bullet">
    /// <item>beyond DotMaxRows rows, whenever there is a pack: the model would pack W per call into the very same panels,
    /// so this is the same product without the packing (bit for bit; which keeps large batches independent of the
    /// vector width, as the model's are).</item>
    /// <item>from MR rows up, when the cost rule prefers it. The packed microkernel computes whole MR×NR tiles, so it
    /// spends <c>⌈batch/MR⌉·MR·⌈out/NR⌉·NR / (batch·out)</c> of the useful work; the dot path pads nothing but ends
    /// every output with a horizontal sum plus, when <c>in</c> is not a whole number of vectors, a scalar tail.
    /// Measured on a Zen 4 at 512 and 256 bits (bench/KernelBench predictor): with no tail the two paths are within a
    /// few percent at equal fill and the dot path wins once padding exceeds ~5%; with a tail (LeNet's 120→84 layer at
    /// 512 bits: 7.5 vectors per dot product) the packed path wins up to 2× padding, by 1.4–2.6× at batch 6–96.</item>
    /// </list>
    /// </summary>
    internal bool UsePacked(int batch)
    {
        if (_packed is null || batch < Gemm.MR) return false;
        if (batch > Gemm.DotMaxRows) return true;
        long padded = (long)RoundUp(batch, Gemm.MR) * RoundUp(OutFeatures, Width / 16), useful = (long)batch * OutFeatures;
        return WithinLimit(padded, useful, InFeatures, Width);
    }

    /// <summary>
    /// Whether some batch up to DotMaxRows takes the packed path: the columns alone pad within the limit (rows pad nothing
    /// at a multiple of MR). Beyond DotMaxRows the model's own per-call packing would serve such a shape just as well,
    /// so a weight whose pack only large batches would read (10 outputs in 32-column panels) keeps no pack.
    /// </summary>
    private static bool PackPays(int outFeatures, int inFeatures, int width)
        => width != 0 && outFeatures > 0 && inFeatures > 0 && WithinLimit(RoundUp(outFeatures, width / 16), outFeatures, inFeatures, width);

    /// <summary>Padded work within 5% of the useful work when the dot path has no scalar tail, within 2× when it has one.</summary>
    private static bool WithinLimit(long padded, long useful, int inFeatures, int width)
        => inFeatures % (width / 32) == 0 ? padded * 20 <= useful * 21 : padded <= useful * 2;

    /// <summary>The route a call takes: <see cref="UsePacked"/>, or the forced one (a forced packed route needs a pack and rows).</summary>
    internal bool TakesPacked(PackedRoute route, int batch) => route switch
    {
        PackedRoute.Plain => false,
        PackedRoute.Packed => _packed is not null && batch > 0,
        _ => UsePacked(batch),
    };

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}

/// <summary>Which copy a forward over a <see cref="PackedDenseWeight"/> reads; <see cref="Auto"/> decides by shape. The others exist for tests and benchmarks.</summary>
internal enum PackedRoute { Auto, Plain, Packed }
