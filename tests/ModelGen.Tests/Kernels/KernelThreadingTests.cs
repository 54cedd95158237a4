// Kernels other than GEMM that split their work between threads (KernelOptions.MaxThreads): attention by (example, head)
// pair; LayerNorm, the dense epilogues, dropout (masks included) and the Adam update by rows or blocks of elements; the sums over rows (bias, LayerNorm weight
// and bias gradients) by columns, each still summed in row order; and the whole Transformer training step built on them. Each must give the same bits with 1, 2 and 3 threads (every
// piece of output is computed by the same code whichever thread claims it) and really run on a helper when it can. Like
// GemmThreadingTests, the class changes the process-wide MaxThreads, so it sits in the collection that runs alone.
using ModelGen.Kernels;
using static ModelGen.Tests.Kernels.KernelTestUtil;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
[Collection(nameof(GlobalKernelOptions))]
public class KernelThreadingTests
{
    /// <summary>Runs <paramref name="f"/> with MaxThreads = <paramref name="threads"/>, restoring the previous value.</summary>
    private static T WithThreads<T>(int threads, Func<T> f)
    {
        int saved = KernelOptions.MaxThreads;
        KernelOptions.MaxThreads = threads;
        try { return f(); }
        finally { KernelOptions.MaxThreads = saved; }
    }

    /// <summary>
    /// Runs <paramref name="f"/> at <paramref name="threads"/> threads until a helper thread computed a piece (a helper slow to
    /// wake on a busy machine leaves its piece to the caller), for up to 5 s; returns the last result and whether a helper took part.
    /// </summary>
    private static (T Result, bool Forked) UntilForked<T>(int threads, Func<T> f)
    {
        return WithThreads(threads, () =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                long before = KernelThreads.HelperPieces;
                T result = f();
                if (KernelThreads.HelperPieces > before) return (result, true);
                if (clock.ElapsedMilliseconds > 5000) return (result, false);
            }
        });
    }

    private static bool CanFork => Environment.ProcessorCount >= 2;

    public static TheoryData<int, int, int, int, bool, bool, float> AttentionCases() => new()
    {
        // batch, heads, headSize, seq, causal, padded lengths, dropout: odd head sizes, sequences ending in partial 32-query and
        // 64-key tiles, an odd number of pairs (3·5 = 15), one pair per example, padding and attention dropout; each call is
        // above the ~2M score multiply-adds below which attention stays on one thread.
        { 3, 5, 7, 161, true, false, 0f },
        { 4, 4, 32, 128, true, false, 0f },
        { 2, 3, 17, 200, false, true, 0f },
        { 5, 1, 33, 130, true, true, 0.2f },
        { 2, 2, 16, 257, false, false, 0.1f },
    };

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void Attention_OneTwoThreeThreads_BitIdentical(int batch, int heads, int headSize, int seq, bool causal, bool padded, float dropout)
    {
        int width = heads * headSize, stride = 3 * width, rows = batch * seq;
        float[] qkv = Uniform(rows * stride, 11), dy = Uniform(rows * width, 12);
        int[] lengths = padded ? Enumerable.Range(0, batch).Select(b => seq - (b * 7) % seq).ToArray() : [];
        const ulong seed = 0x5EED;

        (float[] O, float[] Lse, float[] DQkv) Run()
        {
            float[] o = new float[rows * width], lse = new float[rows * heads], dqkv = new float[rows * stride];
            float[] ws = new float[AttentionKernels.WorkspaceLength(seq, headSize)];
            var q = qkv.AsSpan();
            AttentionKernels.Forward(q, q[width..], q[(2 * width)..], stride, o, width, lse, lengths, causal, ws, batch, seq, heads, headSize, dropout, seed);
            var g = dqkv.AsSpan();
            AttentionKernels.Backward(dy, q, q[width..], q[(2 * width)..], stride, o, width, lse, g, g[width..], g[(2 * width)..], stride, lengths, causal,
                ws, batch, seq, heads, headSize, dropout, seed);
            return (o, lse, dqkv);
        }

        var one = WithThreads(1, Run);
        foreach (int threads in new[] { 2, 3 })
        {
            var (many, forked) = UntilForked(threads, Run);
            Assert.True(forked || !CanFork, $"{threads} threads: no helper thread ever took part");
            Assert.Equal(one.O, many.O);
            Assert.Equal(one.Lse, many.Lse);
            Assert.Equal(one.DQkv, many.DQkv);
        }
    }

    [Fact]
    public void Attention_TwoThreadsSteadyState_AllocatesNothingOnCaller()
    {
        const int batch = 4, heads = 4, headSize = 32, seq = 128, width = heads * headSize, stride = 3 * width, rows = batch * seq;
        float[] qkv = Uniform(rows * stride, 21), dy = Uniform(rows * width, 22);
        float[] o = new float[rows * width], lse = new float[rows * heads], dqkv = new float[rows * stride];
        float[] ws = new float[AttentionKernels.WorkspaceLength(seq, headSize)];
        void Step()
        {
            var q = qkv.AsSpan();
            var g = dqkv.AsSpan();
            AttentionKernels.Forward(q, q[width..], q[(2 * width)..], stride, o, width, lse, default, true, ws, batch, seq, heads, headSize);
            AttentionKernels.Backward(dy, q, q[width..], q[(2 * width)..], stride, o, width, lse, g, g[width..], g[(2 * width)..], stride, default, true,
                ws, batch, seq, heads, headSize);
        }
        // Warm-up creates the helpers, the job object and the helper's scratch; a one-time allocation (say, helpers first
        // created in a measured call because an earlier one found them busy) must not count, a per-call one must.
        WithThreads(2, () =>
        {
            AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, "attention forward and backward on two threads");
            return 0;
        });
    }

    [Fact]
    public void TransformerTrainingStep_OneTwoThreeThreads_BitIdentical()
    {
        // The calibration network's kind of block, smaller (d 64, 4 heads, FF 128, 2 pre-LN causal layers, dropout 0.1) but large
        // enough that its attention and its projections split between threads; seq 100 ends in partial query and key tiles.
        var g = new TransformerGeometry(64, 4, 128, 2, normFirst: true, causal: true, FeedForwardActivation.ReLU);
        const int batch = 4, seq = 100;
        int n = batch * seq * g.Model;
        float[] input = Uniform(n, 31), parameters = Uniform(g.ParameterCount, 32, -0.2f, 0.2f), dOutput = Uniform(n, 33);

        (float[] Output, float[] DParameters, float[] DInput) Run()
        {
            float[] output = new float[n], kept = new float[g.KeptLength(batch, seq)], workspace = new float[g.WorkspaceLength(batch, seq)];
            float[] dParameters = new float[g.ParameterCount], dInput = new float[n];
            TransformerKernels.TrainForward(g, input, parameters, output, kept, default, workspace, batch, seq, 0.1f, new Rng(7));
            TransformerKernels.Backward(g, dOutput, input, parameters, kept, dParameters, dInput, default, workspace, batch, seq);
            return (output, dParameters, dInput);
        }

        var one = WithThreads(1, Run);
        foreach (int threads in new[] { 2, 3 })
        {
            var (many, forked) = UntilForked(threads, Run);
            Assert.True(forked || !CanFork, $"{threads} threads: no helper thread ever took part");
            Assert.Equal(one.Output, many.Output);
            Assert.Equal(one.DParameters, many.DParameters);
            Assert.Equal(one.DInput, many.DInput);
        }
    }

    /// <summary>Asserts that <paramref name="run"/> gives the same arrays with 2 and 3 threads as with 1, and that a helper took part.</summary>
    private static void AssertSameBitsAtEveryThreadCount(Func<float[][]> run, string what)
    {
        float[][] one = WithThreads(1, run);
        foreach (int threads in new[] { 2, 3 })
        {
            var (many, forked) = UntilForked(threads, run);
            Assert.True(forked || !CanFork, $"{what}, {threads} threads: no helper thread ever took part");
            for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], many[i]);
        }
    }

    [Theory]
    [InlineData(1001, 133)]   // odd width: 128 + 4 + 1 (every vector tier); columns split 16 at a time
    [InlineData(10007, 7)]    // narrower than a vector block: rows split, the parameter columns stay whole
    [InlineData(700, 512)]
    public void LayerNorm_OneTwoThreeThreads_BitIdentical(int rows, int features)
    {
        float[] x = Uniform(rows * features, 41, -2f, 3f), w = Uniform(features, 42), b = Uniform(features, 43), dy = Uniform(rows * features, 44);
        AssertSameBitsAtEveryThreadCount(() =>
        {
            float[] y = new float[rows * features], mean = new float[rows], rstd = new float[rows];
            LayerNormKernels.Forward(x, w, b, y, mean, rstd, rows, features, 1e-5f);
            float[] dx = new float[rows * features], dw = Uniform(features, 45), db = Uniform(features, 46);
            LayerNormKernels.Backward(dy, x, w, mean, rstd, dx, dw, db, rows, features);
            // dInput may be dOutput itself: the parameter columns must read dy before the rows overwrite it.
            float[] inPlace = (float[])dy.Clone(), dw2 = new float[features], db2 = new float[features];
            LayerNormKernels.Backward(inPlace, x, w, mean, rstd, inPlace, dw2, db2, rows, features);
            // Parameter gradients only.
            float[] dw3 = new float[features], db3 = new float[features];
            LayerNormKernels.Backward(dy, x, w, mean, rstd, default, dw3, db3, rows, features);
            return [y, mean, rstd, dx, dw, db, inPlace, dw2, db2, dw3, db3];
        }, $"LayerNorm [{rows}, {features}]");
    }

    [Fact]
    public void DenseAndDropout_OneTwoThreeThreads_BitIdentical()
    {
        const int batch = 1001, inF = 37, outF = 133;
        float[] x = Uniform(batch * inF, 51), w = Uniform(outF * inF, 52), b = Uniform(outF, 53), skip = Uniform(batch * outF, 54), dy = Uniform(batch * outF, 55);
        AssertSameBitsAtEveryThreadCount(() =>
        {
            float[] y = new float[batch * outF], pre = new float[batch * outF], res = new float[batch * outF];
            DenseKernels.Forward(default(GeluActivation), x, w, b, y, pre, batch, inF, outF);
            DenseKernels.ForwardResidual(default(ReluActivation), x, w, b, skip, res, batch, inF, outF);
            float[] dPre = new float[batch * outF], dw = new float[outF * inF], db = Uniform(outF, 56), dx = new float[batch * inF];
            DenseKernels.Backward(default(GeluActivation), dy, pre, y, x, w, dPre, dw, db, dx, batch, inF, outF);
            float[] dropped = new float[batch * outF], mask = new float[batch * outF];
            Dropout.Forward(y, dropped, mask, 0.3f, new Rng(57));
            return [y, pre, res, dPre, dw, db, dx, dropped, mask];
        }, "Dense and Dropout");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(255)]
    [InlineData(256)]
    [InlineData(257)]
    [InlineData(65_539)]
    [InlineData(262_144)]
    public void RngJump_LandsWhereThatManyDrawsDo(int n)
    {
        var stepped = new Rng(1234);
        var jumped = new Rng(1234);
        for (int i = 0; i < n; i++) stepped.NextUInt64();
        jumped.JumpForTests(n);
        for (int i = 0; i < 4; i++) Assert.Equal(stepped.NextUInt64(), jumped.NextUInt64());
    }

    [Theory]
    [InlineData(131_073, 0.1f)]   // just above the split threshold, chunks of unequal length
    [InlineData(524_288, 0.5f)]   // the calibration network's [4096, 128] mask
    public void DropoutMask_OneTwoThreeThreads_SameDrawsAndSameGeneratorState(int n, float p)
    {
        float[] x = Uniform(n, 61);
        AssertSameBitsAtEveryThreadCount(() =>
        {
            var rng = new Rng(62);
            float[] y = new float[n], mask = new float[n], mask2 = new float[n];
            Dropout.Forward(x, y, mask, p, rng);
            Dropout.Forward(x, y, mask2, p, rng);   // a second mask from where the first left the generator
            return [y, mask, mask2, [rng.NextFloat()]];
        }, $"Dropout mask of {n}");
        // And one thread draws NextFloat per element in order (so every thread count does).
        var reference = new Rng(62);
        float[] one = WithThreads(1, () =>
        {
            float[] y = new float[n], m = new float[n];
            Dropout.Forward(x, y, m, p, new Rng(62));
            return m;
        });
        for (int i = 0; i < n; i++)
            if ((reference.NextFloat() >= p ? 1f / (1f - p) : 0f) != one[i]) Assert.Fail($"mask[{i}] = {one[i]} differs from the sequential draw");
    }

    [Fact]
    public void DropoutAndLayerNorm_TwoThreadsSteadyState_AllocateNothingOnCaller()
    {
        const int rows = 4096, features = 128, n = rows * features;
        float[] x = Uniform(n, 71), y = new float[n], mask = new float[n], w = Uniform(features, 72), b = Uniform(features, 73);
        float[] mean = new float[rows], rstd = new float[rows], dx = new float[n], dw = new float[features], db = new float[features];
        var rng = new Rng(74);
        void Step()
        {
            Dropout.Forward(x, y, mask, 0.1f, rng);
            LayerNormKernels.Forward(y, w, b, dx, mean, rstd, rows, features, 1e-5f);
            LayerNormKernels.Backward(x, y, w, mean, rstd, dx, dw, db, rows, features);
        }
        // Warm-up builds the jump polynomial, the chunk states and the jobs.
        WithThreads(2, () =>
        {
            AllocationAssert.SteadyStateAllocatesNothing(Step, callsPerWindow: 1, "dropout and LayerNorm on two threads");
            return 0;
        });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AdamUpdate_OneTwoThreeThreads_BitIdentical(bool amsgrad)
    {
        const int n = 200_003;   // 16-float blocks and a 3-element tail
        float[] p0 = Uniform(n, 81), g = Uniform(n, 82), m0 = Uniform(n, 83), v0 = Uniform(n, 84, 0f, 1f), vmax0 = Uniform(n, 85, 0f, 1f);
        var c = ModelGen.Optimizers.AdamCoefficients.For(3, 1e-3f, 0.9f, 0.99f, 1e-8f, 0.01f, decoupled: true);
        AssertSameBitsAtEveryThreadCount(() =>
        {
            float[] p = (float[])p0.Clone(), m = (float[])m0.Clone(), v = (float[])v0.Clone(), vmax = amsgrad ? (float[])vmax0.Clone() : [];
            ModelGen.Optimizers.AdamKernel.Run(p, g, m, v, vmax, c);
            return [p, m, v, vmax];
        }, $"Adam (amsgrad {amsgrad})");
    }
}
