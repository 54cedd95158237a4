// PermuteKernels: every permutation of ranks 1-4 against the index formula (ReferenceForward, in double), shapes with
// size-1 axes and mergeable runs (the simplification's cases: copy, one transpose, a batched transpose, the odometer),
// odd sizes around the 16-wide transpose tile; backward as the adjoint (⟨dY, P(x)⟩ = ⟨Pᵀ(dY), x⟩); errors; no allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class PermuteKernelsTests
{
    private static IEnumerable<int[]> Permutations(int n)
    {
        if (n == 0)
        {
            yield return [];
            yield break;
        }
        foreach (var rest in Permutations(n - 1))
            for (int at = 0; at <= rest.Length; at++)
            {
                var p = rest.ToList();
                p.Insert(at, n - 1);
                yield return p.ToArray();
            }
    }

    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 7 }, new[] { 1, 1 }, new[] { 17, 1 }, new[] { 3, 33 }, new[] { 16, 17 }, new[] { 1, 7, 3 }, new[] { 3, 1, 5 },
        new[] { 2, 3, 5 }, new[] { 17, 2, 33 }, new[] { 2, 3, 1, 5 }, new[] { 3, 2, 4, 5 }, new[] { 1, 1, 1, 1 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Forward_EveryPermutation_MatchesTheIndexFormula_AndBackwardIsItsAdjoint(int[] shape)
    {
        const int batch = 3;
        int n = batch * shape.Aggregate(1, (a, b) => a * b);
        float[] x = Uniform(n, (ulong)n), y = new float[n], dY = Uniform(n, 5), dX = new float[n];
        double[] expected = new double[n];
        foreach (var dims in Permutations(shape.Length))
        {
            PermuteKernels.Forward(x, y, batch, shape, dims);
            PermuteKernels.ReferenceForward(x.Select(v => (double)v).ToArray(), expected, batch, shape, dims);
            Assert.True(expected.Select(v => (float)v).SequenceEqual(y), $"shape [{string.Join(", ", shape)}] dims [{string.Join(", ", dims)}]");

            PermuteKernels.Backward(dY, dX, batch, shape, dims);
            double lhs = 0, rhs = 0;
            for (int i = 0; i < n; i++)
            {
                lhs += (double)dY[i] * y[i];
                rhs += (double)dX[i] * x[i];
            }
            Assert.Equal(lhs, rhs, 9);
        }
    }

    /// <summary>PyTorch semantics spot check: [T, F] with dims (1, 0) puts element (t, f) at (f, t).</summary>
    [Fact]
    public void Forward_SequenceToChannels_PutsPositionsLast()
    {
        float[] x = [0, 1, 2, 10, 11, 12], y = new float[6];   // [T=2, F=3]
        PermuteKernels.Forward(x, y, 1, [2, 3], [1, 0]);
        Assert.Equal([0f, 10, 1, 11, 2, 12], y);               // [F=3, T=2]
    }

    [Fact]
    public void Forward_BadArguments_ThrowNamingTheProblem()
    {
        float[] a = new float[6], b = new float[6];
        Assert.Contains("permutation of 0 … 1, but is [1, 1]", Assert.Throws<ArgumentException>(() => PermuteKernels.Forward(a, b, 1, [2, 3], [1, 1])).Message);
        Assert.Contains("must name each of the 2 axes", Assert.Throws<ArgumentException>(() => PermuteKernels.Forward(a, b, 1, [2, 3], [0])).Message);
        Assert.Contains("must have 6 elements", Assert.Throws<ArgumentException>(() => PermuteKernels.Forward(a, new float[5], 1, [2, 3], [1, 0])).Message);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => PermuteKernels.Forward(a, a, 1, [2, 3], [1, 0])).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => PermuteKernels.Forward(a, b, -1, [2, 3], [1, 0]));
    }

    [Fact]
    public void ForwardAndBackward_AllocateNothing()
    {
        float[] x = Uniform(2 * 3 * 4 * 5, 1), y = new float[x.Length];
        int[] shape = [3, 4, 5], dims = [2, 0, 1];
        void Step()
        {
            PermuteKernels.Forward(x, y, 2, shape, dims);
            PermuteKernels.Backward(y, x, 2, shape, dims);
        }
        Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
