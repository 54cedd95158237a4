// A dense layer's weight prepared once for inference (what a predictor holds; ONNX Runtime's session prepacks its
// MatMul weights the same way). Two copies, one per GEMM path the forward can take:
//  * the weight as it lies [out, in], which the dot-product path (small batches, Gemm.Dot.cs) reads directly;
//  * the [out, in] matrix packed into the packed GEMM's column panels (Gemm.Prepacked.cs), so batches that take the
//    packed path pack only their input rows instead of all of W on every call.
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

    /// <summary>Copies and packs <paramref name="weight"/> [<paramref name="outFeatures"/>, <paramref name="inFeatures"/>]; the span is not kept.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="weight"/> does not have outFeatures × inFeatures elements, or the pack would exceed the largest array.</exception>
    public PackedDenseWeight(ReadOnlySpan<float> weight, int outFeatures, int inFeatures)
        : this(weight, outFeatures, inFeatures, Gemm.NativeWidth)
    {
    }

    /// <summary>Packs for microkernels of <paramref name="width"/> bits (128, 256 or 512; 0 for no pack): tests force every width on any machine (an unaccelerated one runs emulated, slow but exact).</summary>
    internal PackedDenseWeight(ReadOnlySpan<float> weight, int outFeatures, int inFeatures, int width)
    {
        ThrowHelper.CheckNonNegative(outFeatures, nameof(outFeatures));
        ThrowHelper.CheckNonNegative(inFeatures, nameof(inFeatures));
        ThrowHelper.CheckShape(weight.Length, nameof(weight), nameof(outFeatures), outFeatures, nameof(inFeatures), inFeatures);
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        _plain = weight.ToArray();
        // Without accelerated vectors the packed microkernels would run emulated: every batch reads the plain copy then.
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

    /// <summary>Whether a call of <paramref name="batch"/> rows takes the packed path (else the dot path over <see cref="Plain"/>, as the model's own forward does).</summary>
    internal bool UsePacked(int batch) => Width != 0 && batch >= PackedMinRows;

    internal static int PackedMinRows = 8;
}
