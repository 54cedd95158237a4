// The inference arena pool: a caller that rents two arrays per call with sizes that vary call by call (a sequence
// model's activations and its recurrent workspace while a generated text grows) stops allocating after one pass.
using ModelGen.Runtime;

namespace ModelGen.Tests.Models;

public class ArenaPoolTests
{
    // One "call" of a sequence model at length n: activations 2·n·128 floats, then a workspace 600·n floats,
    // returned in reverse order, as generated Forward does.
    private static int Call(ArenaPool pool, int n, HashSet<float[]> seen)
    {
        int fresh = 0;
        float[] arena = pool.Rent(2 * n * 128);
        float[] work = pool.Rent(600 * n);
        Assert.True(arena.Length >= 2 * n * 128 && work.Length >= 600 * n, "an array shorter than requested");
        Assert.False(ReferenceEquals(arena, work), "one array rented twice");
        if (seen.Add(arena)) fresh++;
        if (seen.Add(work)) fresh++;
        pool.Return(work);
        pool.Return(arena);
        return fresh;
    }

    [Fact]
    public void Rent_GrowingThenRepeatedSizes_StopsAllocatingAfterOnePass()
    {
        var pool = new ArenaPool();
        var seen = new HashSet<float[]>(ReferenceEqualityComparer.Instance);
        for (int n = 1; n <= 64; n++) Call(pool, n, seen);   // warm-up: the lengths a generation passes through
        int fresh = 0;
        for (int pass = 0; pass < 3; pass++)
        {
            for (int n = 1; n <= 64; n++) fresh += Call(pool, n, seen);
            for (int i = 0; i < 20; i++) fresh += Call(pool, 64, seen);
        }
        Assert.Equal(0, fresh);
    }

    [Fact]
    public void Return_FullPool_KeepsTheLargestArrays()
    {
        var pool = new ArenaPool();
        var small = new List<float[]>();
        for (int i = 0; i < 64; i++) small.Add(pool.Rent(10));   // more than the pool holds
        foreach (var a in small) pool.Return(a);
        var large = new float[1_000];
        pool.Return(large);
        Assert.Same(large, pool.Rent(500));
    }
}
