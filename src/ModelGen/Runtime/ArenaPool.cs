// Scratch memory for inference. Inference may run on many threads at once on one model (as a server does), so
// activations cannot live in model fields; renting from a small lock-free pool keeps concurrent calls
// allocation-free in steady state without copying weights per thread.
namespace ModelGen.Runtime;

/// <summary>A small lock-free pool of float arrays, used by generated code for per-call activation memory.</summary>
public sealed class ArenaPool
{
    private readonly float[]?[] _slots = new float[]?[Math.Max(4, Environment.ProcessorCount * 2)];

    /// <summary>Returns an array of at least <paramref name="length"/> floats (contents unspecified): the smallest pooled one that fits, else a new one.</summary>
    public float[] Rent(int length)
    {
        var slots = _slots;
        while (true)
        {
            // Best fit, so a small request does not take the large array a later request of the same call needs.
            int best = -1;
            float[]? bestArray = null;
            for (int i = 0; i < slots.Length; i++)
            {
                var candidate = Volatile.Read(ref slots[i]);
                if (candidate is not null && candidate.Length >= length && (bestArray is null || candidate.Length < bestArray.Length))
                {
                    best = i;
                    bestArray = candidate;
                }
            }
            if (bestArray is null) return new float[length];
            if (ReferenceEquals(Interlocked.CompareExchange(ref slots[best], null, bestArray), bestArray)) return bestArray;
            // Another thread took it first: look again (each retry means that thread made progress).
        }
    }

    /// <summary>
    /// Gives an array back for reuse. If the pool is full, the array replaces the smallest pooled array when it is larger
    /// (that one is left to the GC), otherwise it is left to the GC itself.
    /// </summary>
    /// <remarks>
    /// Keeping the largest arrays is what makes a caller whose sizes vary converge. A model rents two arrays per call
    /// (activations, then a layer's workspace) whose sizes change with the sequence length, so a call can find only
    /// arrays too small for one of its requests and allocate. If a full pool then dropped that fresh array, a pool of
    /// smaller arrays would stay as it was and every such call would allocate again (seen with sequence lengths growing
    /// call by call, as in text generation); keeping the largest, the pool ends up holding arrays that serve every
    /// size the caller asks for.
    /// </remarks>
    public void Return(float[] array)
    {
        var slots = _slots;
        int smallest = -1;
        float[]? smallestArray = null;
        for (int i = 0; i < slots.Length; i++)
        {
            var current = Volatile.Read(ref slots[i]);
            if (current is null)
            {
                if (Interlocked.CompareExchange(ref slots[i], array, null) is null) return;
                continue;   // another thread filled the slot first
            }
            if (smallestArray is null || current.Length < smallestArray.Length)
            {
                smallest = i;
                smallestArray = current;
            }
        }
        // Full. A failed exchange (the slot changed meanwhile) simply drops the array, as a full pool always did.
        if (smallestArray is not null && smallestArray.Length < array.Length)
            Interlocked.CompareExchange(ref slots[smallest], array, smallestArray);
    }
}
