// Finiteness scans for the divergence diagnostics of Trainer.Fit. They run only when something already looks wrong
// (a non-finite loss or gradient norm) and once per epoch over the parameters, never per step, so the steady-state
// step pays nothing for them. x − x is 0 for every finite x and NaN for ±∞ and NaN, so a sum of x − x stays 0 over a
// finite span and becomes NaN at the first non-finite element.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>Vectorised checks for NaN and infinity over float spans, and which layer holds the first one.</summary>
internal static class Finiteness
{
    /// <summary>Whether every element of <paramref name="values"/> is finite (not NaN, not ±∞).</summary>
    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        ref float x = ref MemoryMarshal.GetReference(values);
        int n = values.Length, i = 0;
        float nonFinite = 0;   // stays 0 until a non-finite element turns it into NaN
        if (V512.IsAccelerated) nonFinite += Accumulate<Vector512<float>, V512>(ref x, ref i, n);
        if (V256.IsAccelerated) nonFinite += Accumulate<Vector256<float>, V256>(ref x, ref i, n);
        if (V128.IsAccelerated) nonFinite += Accumulate<Vector128<float>, V128>(ref x, ref i, n);
        nonFinite += Accumulate<float, Scalar>(ref x, ref i, n);
        return nonFinite == 0;
    }

    /// <summary>Index of the first non-finite element of <paramref name="values"/>, or -1.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        if (AllFinite(values)) return -1;
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>
    /// The first parameter tensor (in <see cref="IModel.Layers"/> order, then any tensor no layer lists) whose slice of
    /// <paramref name="buffer"/> (the parameters or the gradients, same layout) holds a NaN or an infinity.
    /// </summary>
    /// <returns>The layer's name (null when no layer lists the tensor) and the tensor's name, or null when all are finite.</returns>
    public static (string? Layer, string Tensor)? FirstNonFinite(IModel model, ReadOnlySpan<float> buffer)
    {
        if (AllFinite(buffer)) return null;
        foreach (var layer in model.Layers)
            foreach (var p in layer.Parameters)
                if (!AllFinite(buffer.Slice(p.Offset, p.Length))) return (layer.Name, p.Name);
        foreach (var p in model.ParameterInfos)
            if (!AllFinite(buffer.Slice(p.Offset, p.Length))) return (null, p.Name);
        return (null, $"[{IndexOfNonFinite(buffer)}]");   // outside every named tensor
    }

    private static float Accumulate<TV, TOps>(ref float x, ref int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return 0;
        TV acc = TOps.Create(0);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV v = TOps.Load(ref x, (nuint)i);
            acc = TOps.Add(acc, TOps.Subtract(v, v));
        }
        return TOps.Sum(acc);
    }
}
