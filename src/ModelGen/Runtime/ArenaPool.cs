// Scratch memory for inference. Inference may run on many threads at once on one model (as a server does), so
// activations cannot live in model fields; renting from a small lock-free pool keeps concurrent calls
// allocation-free in steady state without copying weights per thread.
namespace ModelGen.Runtime;

/// <summary>A small lock-free pool of float arrays, used by generated code for per-call activation memory.</summary>
public sealed class ArenaPool
{
    private readonly float[]?[] _slots = new float[]?[Math.Max(4, Environment.ProcessorCount * 2)];

    /// <summary>Returns an array of at least <paramref name="length"/> floats (contents unspecified).</summary>
    public float[] Rent(int length)
    {
        var slots = _slots;
        for (int i = 0; i < slots.Length; i++)
        {
            var candidate = Volatile.Read(ref slots[i]);
            if (candidate is not null && candidate.Length >= length
                && ReferenceEquals(Interlocked.CompareExchange(ref slots[i], null, candidate), candidate))
                return candidate;
        }
        return new float[length];
    }

    /// <summary>Gives an array back for reuse; if the pool is full the array is left to the GC.</summary>
    public void Return(float[] array)
    {
        var slots = _slots;
        for (int i = 0; i < slots.Length; i++)
            if (Interlocked.CompareExchange(ref slots[i], array, null) is null)
                return;
    }
}
