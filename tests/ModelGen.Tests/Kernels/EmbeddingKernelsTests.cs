// Embedding kernels: forward against the double reference at dims that hit every vector tail, backward against
// float64 central differences (repeated ids accumulate; the padding_idx row gets nothing), id validation messages
// that name the row, the id and vocab (and leave the outputs untouched), and zero steady-state allocation.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class EmbeddingKernelsTests
{
    private const int Vocab = 11;
    private static readonly int[] s_ids = [3, 0, 7, 3, 10, 2, 2, 5, 3, 9, 1, 2, 6];   // repeats, the first and last id, the padding id 2

    [Theory]
    [InlineData(1, -1)]
    [InlineData(3, 2)]
    [InlineData(7, -1)]
    [InlineData(17, 2)]
    [InlineData(33, 0)]
    [InlineData(70, 2)]
    public void ForwardBackward_MatchReferenceAndFiniteDifferences(int dim, int paddingIdx)
    {
        int rows = s_ids.Length;
        float[] weight = Uniform(Vocab * dim, (ulong)dim), output = new float[rows * dim];
        EmbeddingKernels.Forward(s_ids, weight, output, Vocab, dim);
        double[] wd = Array.ConvertAll(weight, v => (double)v), expected = new double[rows * dim];
        EmbeddingKernels.ReferenceForward(s_ids, wd, expected, dim);
        for (int i = 0; i < output.Length; i++) Assert.Equal(expected[i], output[i]);   // a copy: exact

        // Backward accumulates into a non-zero dWeight; loss = Σ dy·out, so ∂loss/∂weight[v] = Σ_{r: ids[r] = v} dy[r].
        float[] dy = Uniform(rows * dim, (ulong)dim + 100), dW0 = Uniform(Vocab * dim, (ulong)dim + 200), dW = (float[])dW0.Clone();
        EmbeddingKernels.Backward(s_ids, dy, dW, Vocab, dim, paddingIdx);
        double Loss(double[] w)
        {
            var o = new double[rows * dim];
            EmbeddingKernels.ReferenceForward(s_ids, w, o, dim);
            double loss = 0;
            for (int i = 0; i < o.Length; i++) loss += dy[i] * o[i];
            return loss;
        }
        string where = $"dim={dim} paddingIdx={paddingIdx}";
        if (paddingIdx < 0)
        {
            FiniteDifference.Check(where, "dWeight", dW, dW0, wd, Loss, samples: 200);
        }
        else
        {
            // PyTorch's padding_idx: the padding row's gradient is masked even though the output depends on it.
            for (int j = 0; j < dim; j++) Assert.Equal(dW0[paddingIdx * dim + j], dW[paddingIdx * dim + j]);
            double[] masked = (double[])wd.Clone();
            FiniteDifference.Check(where, "dWeight", dW, dW0, masked, w =>
            {
                for (int j = 0; j < dim; j++) w[paddingIdx * dim + j] = wd[paddingIdx * dim + j];   // hold the padding row fixed
                return Loss(w);
            }, samples: 200);
            // The padding id's forward row is whatever the table holds (torch zeroes it at construction only).
            int row = Array.IndexOf(s_ids, paddingIdx);
            for (int j = 0; j < dim; j++) Assert.Equal(weight[paddingIdx * dim + j], output[row * dim + j]);
        }
    }

    [Fact]
    public void Backward_RepeatedId_SumsItsRows()
    {
        const int dim = 5;
        int[] ids = [4, 4, 4];
        float[] dy = Uniform(3 * dim, 7), dW = new float[Vocab * dim];
        EmbeddingKernels.Backward(ids, dy, dW, Vocab, dim, -1);
        for (int j = 0; j < dim; j++) Assert.Equal(dy[j] + dy[dim + j] + dy[2 * dim + j], dW[4 * dim + j], 6);
        for (int v = 0; v < Vocab; v++)
            if (v != 4)
                for (int j = 0; j < dim; j++) Assert.Equal(0f, dW[v * dim + j]);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(Vocab)]
    [InlineData(int.MinValue)]
    public void Forward_IdOutOfRange_ThrowsNamingRowIdAndVocab_WritesNothing(int badId)
    {
        const int dim = 3;
        int[] ids = [1, 2, badId, 4];
        float[] output = new float[ids.Length * dim];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => EmbeddingKernels.Forward(ids, new float[Vocab * dim], output, Vocab, dim));
        Assert.Equal("ids", ex.ParamName);
        Assert.Contains($"Token id {badId} at row 2", ex.Message);
        Assert.Contains($"vocab = {Vocab}", ex.Message);
        Assert.All(output, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Backward_IdOutOfRange_ThrowsAndLeavesGradientUntouched()
    {
        const int dim = 4;
        float[] dW = new float[Vocab * dim];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            EmbeddingKernels.Backward([0, 12], Uniform(2 * dim, 1), dW, Vocab, dim, -1));
        Assert.Contains("Token id 12 at row 1", ex.Message);
        Assert.All(dW, v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(-2)]
    [InlineData(Vocab)]
    public void Backward_PaddingIdxOutOfRange_Throws(int paddingIdx)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            EmbeddingKernels.Backward([0], new float[2], new float[Vocab * 2], Vocab, 2, paddingIdx));
        Assert.Equal("paddingIdx", ex.ParamName);
        Assert.Contains($"[0, {Vocab})", ex.Message);
    }

    [Fact]
    public void Forward_WrongShapes_ThrowNamingOperand()
    {
        var weight = Assert.Throws<ArgumentException>(() => EmbeddingKernels.Forward([0], new float[10], new float[2], Vocab, 2));
        Assert.Equal("weight", weight.ParamName);
        Assert.Contains("[vocab=11, dim=2]", weight.Message);
        var output = Assert.Throws<ArgumentException>(() => EmbeddingKernels.Forward([0, 1], new float[Vocab * 2], new float[2], Vocab, 2));
        Assert.Equal("output", output.ParamName);
        Assert.Contains("[rows=2, dim=2]", output.Message);
        float[] shared = new float[Vocab * 2];
        var overlap = Assert.Throws<ArgumentException>(() => EmbeddingKernels.Forward([0], shared, shared.AsSpan(0, 2), Vocab, 2));
        Assert.Equal("output", overlap.ParamName);
    }

    [Fact]
    public void ForwardBackward_SteadyState_AllocatesNothing()
    {
        const int dim = 64, rows = 256;
        int[] ids = new int[rows];
        for (int r = 0; r < rows; r++) ids[r] = r * 7 % Vocab;
        float[] weight = Uniform(Vocab * dim, 1), output = new float[rows * dim], dW = new float[Vocab * dim];
        void Step()
        {
            EmbeddingKernels.Forward(ids, weight, output, Vocab, dim);
            EmbeddingKernels.Backward(ids, output, dW, Vocab, dim, 0);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, "Embedding Forward + Backward", warmUpCalls: 1);
    }
}
