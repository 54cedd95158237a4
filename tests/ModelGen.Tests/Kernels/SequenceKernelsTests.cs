// Sequence helpers: the tiled transpose against the naive index formula at sizes around the 16-wide tile (1, 15, 16, 17, 33, 70),
// its use as its own backward (the adjoint identity ⟨dY, T(x)⟩ = ⟨Tᵀ(dY), x⟩), ZeroPadded touching exactly the padded
// positions, CheckLengths' messages, overlap and shape validation, and zero allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class SequenceKernelsTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 1, 9)]
    [InlineData(2, 9, 1)]
    [InlineData(3, 3, 5)]
    [InlineData(2, 15, 16)]
    [InlineData(1, 16, 17)]
    [InlineData(2, 31, 33)]
    [InlineData(1, 32, 32)]
    [InlineData(2, 70, 17)]
    [InlineData(1, 65, 100)]
    public void Transpose_MatchesIndexFormula_AndIsItsOwnAdjoint(int batch, int rows, int cols)
    {
        float[] x = Uniform(batch * rows * cols, (ulong)(rows * 100 + cols)), y = new float[x.Length];
        SequenceKernels.Transpose(x, y, batch, rows, cols);
        for (int b = 0; b < batch; b++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                    Assert.Equal(x[(b * rows + r) * cols + c], y[(b * cols + c) * rows + r]);

        // Backward of a permute is the inverse permute: transposing back restores x, and ⟨dY, T(x)⟩ = ⟨Tᵀ(dY), x⟩.
        float[] back = new float[x.Length], dY = Uniform(x.Length, 7), dX = new float[x.Length];
        SequenceKernels.Transpose(y, back, batch, cols, rows);
        Assert.Equal(x, back);
        SequenceKernels.Transpose(dY, dX, batch, cols, rows);
        double lhs = 0, rhs = 0;
        for (int i = 0; i < x.Length; i++)
        {
            lhs += (double)dY[i] * y[i];
            rhs += (double)dX[i] * x[i];
        }
        Assert.Equal(lhs, rhs, 9);
    }

    [Fact]
    public void Transpose_BadArguments_Throw()
    {
        float[] buffer = new float[12];
        var overlap = Assert.Throws<ArgumentException>(() => SequenceKernels.Transpose(buffer, buffer, 1, 3, 4));
        Assert.Equal("output", overlap.ParamName);
        var shape = Assert.Throws<ArgumentException>(() => SequenceKernels.Transpose(new float[12], new float[11], 1, 3, 4));
        Assert.Contains("must have 12 elements ([batch=1, cols·rows=12]) but has 11", shape.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SequenceKernels.Transpose([], [], 1, -1, 4));
    }

    [Fact]
    public void ZeroPadded_ClearsExactlyThePaddedPositions()
    {
        const int batch = 3, seq = 5, features = 7;
        int[] lengths = [5, 2, 1];
        float[] x = Uniform(batch * seq * features, 3, 1f, 2f), original = (float[])x.Clone();
        SequenceKernels.ZeroPadded(x, lengths, batch, seq, features);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seq; t++)
                for (int f = 0; f < features; f++)
                {
                    int i = (b * seq + t) * features + f;
                    Assert.Equal(t < lengths[b] ? original[i] : 0f, x[i]);
                }
        SequenceKernels.ZeroPadded(x, [], batch, seq, features);   // empty lengths: nothing is padding
        Assert.Equal(original.AsSpan(0, seq * features).ToArray(), x.AsSpan(0, seq * features).ToArray());
    }

    [Theory]
    [InlineData(new[] { 4, 0, 2 }, 1, 0)]
    [InlineData(new[] { 4, 3, 5 }, 2, 5)]
    [InlineData(new[] { -3, 3, 2 }, 0, -3)]
    public void CheckLengths_OutOfRange_NamesExampleLengthAndSeq(int[] lengths, int example, int length)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => SequenceKernels.CheckLengths(lengths, 3, 4));
        Assert.Equal("lengths", ex.ParamName);
        Assert.Equal(length, ex.ActualValue);
        Assert.Contains($"Example {example} has length {length}", ex.Message);
        Assert.Contains("between 1 and seq = 4", ex.Message);
    }

    [Fact]
    public void CheckLengths_CountAndEmptyRules()
    {
        SequenceKernels.CheckLengths([], 3, 4);
        SequenceKernels.CheckLengths([1, 4, 2], 3, 4);
        SequenceKernels.CheckLengths([], 0, 0);
        var count = Assert.Throws<ArgumentException>(() => SequenceKernels.CheckLengths([1, 2], 3, 4));
        Assert.Contains("'lengths' must have 3 elements ([batch=3]) or be empty, but has 2", count.Message);
        var emptySeq = Assert.Throws<ArgumentOutOfRangeException>(() => SequenceKernels.CheckLengths([], 2, 0));
        Assert.Equal("seq", emptySeq.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => SequenceKernels.CheckLengths([], -1, 4));
    }

    [Fact]
    public void SteadyState_AllocatesNothing()
    {
        const int batch = 4, rows = 50, cols = 70;
        float[] x = Uniform(batch * rows * cols, 1), y = new float[x.Length];
        int[] lengths = [50, 3, 20, 1];
        void Step()
        {
            SequenceKernels.Transpose(x, y, batch, rows, cols);
            SequenceKernels.ZeroPadded(y, lengths, batch, rows, cols);
            SequenceKernels.CheckLengths(lengths, batch, rows);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, "Transpose + ZeroPadded + CheckLengths", warmUpCalls: 1);
    }
}
