// Incremental decoding of generated two-input models: PrepareSource once, then ForwardStep per target position must give the
// rows of the full two-input Forward (to 1e-5) with S < T, S = T and S > T and padded sources, through decoders and through a
// cross-attention layer over S; the argument errors (position
// past MaxLength, a cache of the wrong size, a step on a cache no PrepareSource filled); and zero allocation per step.
namespace ModelGen.Tests.Models;

public class Seq2SeqStepTests
{
    private static int[] Ids(int count, int vocab, int seed)
    {
        var rng = new Rng((ulong)seed);
        var ids = new int[count];
        for (int i = 0; i < count; i++) ids[i] = rng.NextInt(vocab);
        return ids;
    }

    /// <summary>
    /// Runs <paramref name="step"/> over every target position after <paramref name="prepare"/> and compares each output row with
    /// the full forward's row at that position.
    /// </summary>
    private static void AssertStepsEqualForward(float[] whole, int batch, int seq, int outputSize, int[] target,
        Action<int[], float[], int> step, string what)
    {
        var ids = new int[batch];
        var y = new float[batch * outputSize];
        for (int t = 0; t < seq; t++)
        {
            for (int b = 0; b < batch; b++) ids[b] = target[b * seq + t];
            step(ids, y, t);
            for (int b = 0; b < batch; b++)
                for (int k = 0; k < outputSize; k++)
                {
                    float expected = whole[(b * seq + t) * outputSize + k], actual = y[b * outputSize + k];
                    Assert.True(Math.Abs(expected - actual) <= 1e-5f * (1 + Math.Abs(expected)),
                        $"{what}: position {t}, example {b}, output {k}: full forward {expected}, cached step {actual}");
                }
        }
    }

    [Theory]
    [InlineData(3, 12, false)]   // S < T, T = MaxLength
    [InlineData(7, 7, true)]     // S = T
    [InlineData(15, 5, true)]    // S > T, past the target's MaxLength (S has its own bound: the source positions' 16)
    [InlineData(1, 4, false)]
    public void PreNorm_StepsEqualTheFullForward(int sourceSeq, int seq, bool padded)
    {
        var model = new Seq2SeqStepNet(5);
        const int batch = 3;
        int[] target = Ids(batch * seq, 11, 1), source = Ids(batch * sourceSeq, 7, 2);
        int[] sourceLengths = padded ? [sourceSeq, Math.Max(1, sourceSeq - 3), 1] : [];
        var whole = new float[batch * seq * Seq2SeqStepNet.OutputSize];
        model.Forward(target, source, whole, batch, seq, sourceSeq, default, sourceLengths);
        var cache = new float[batch * Seq2SeqStepNet.CacheSize(sourceSeq)];
        model.PrepareSource(source, batch, sourceSeq, sourceLengths, cache);
        AssertStepsEqualForward(whole, batch, seq, Seq2SeqStepNet.OutputSize, target,
            (ids, y, t) => model.ForwardStep(ids, y, batch, t, cache), $"S={sourceSeq}, T={seq}");
    }

    [Theory]
    [InlineData(4, 10)]   // S < T
    [InlineData(13, 6)]   // S > T
    public void FloatSource_StepsEqualTheFullForward(int sourceSeq, int seq)
    {
        var model = new FloatSourceStepNet(4);
        const int batch = 2;
        int[] target = Ids(batch * seq, 9, 7), sourceLengths = [sourceSeq, Math.Max(1, sourceSeq - 2)];
        var rng = new Rng(8);
        var frames = new float[batch * sourceSeq * FloatSourceStepNet.SourceSize];
        for (int i = 0; i < frames.Length; i++) frames[i] = rng.NextFloat() * 2 - 1;
        for (int i = (sourceSeq + sourceLengths[1]) * FloatSourceStepNet.SourceSize; i < frames.Length; i++) frames[i] = float.NaN;   // padded frames
        var whole = new float[batch * seq * FloatSourceStepNet.OutputSize];
        model.Forward(target, frames, whole, batch, seq, sourceSeq, default, sourceLengths);
        var cache = new float[batch * FloatSourceStepNet.CacheSize(sourceSeq)];
        model.PrepareSource(frames, batch, sourceSeq, sourceLengths, cache);
        AssertStepsEqualForward(whole, batch, seq, FloatSourceStepNet.OutputSize, target,
            (ids, y, t) => model.ForwardStep(ids, y, batch, t, cache), $"float source S={sourceSeq}, T={seq}");
    }

    [Theory]
    [InlineData(2, 9)]
    [InlineData(11, 6)]
    public void PostNorm_TwoSelfCachesAndNarrowMemory_StepsEqualTheFullForward(int sourceSeq, int seq)
    {
        var model = new PostNormSeq2SeqStepNet(8);
        const int batch = 2;
        int[] target = Ids(batch * seq, 10, 3), source = Ids(batch * sourceSeq, 8, 4), sourceLengths = [Math.Max(1, sourceSeq - 1), sourceSeq];
        var whole = new float[batch * seq * PostNormSeq2SeqStepNet.OutputSize];
        model.Forward(target, source, whole, batch, seq, sourceSeq, default, sourceLengths);
        var cache = new float[batch * PostNormSeq2SeqStepNet.CacheSize(sourceSeq)];
        model.PrepareSource(source, batch, sourceSeq, sourceLengths, cache);
        AssertStepsEqualForward(whole, batch, seq, PostNormSeq2SeqStepNet.OutputSize, target,
            (ids, y, t) => model.ForwardStep(ids, y, batch, t, cache), $"S={sourceSeq}, T={seq}");

        // A cache re-prepared with another source decodes that source: the header and cross keys are replaced, not mixed.
        int otherSeq = sourceSeq + 1;
        int[] other = Ids(batch * otherSeq, 8, 6);
        model.Forward(target, other, whole, batch, seq, otherSeq);
        cache = new float[batch * PostNormSeq2SeqStepNet.CacheSize(otherSeq)];
        model.PrepareSource(source.Concat(source).Take(batch * otherSeq).ToArray(), batch, otherSeq, default, cache);
        model.PrepareSource(other, batch, otherSeq, default, cache);
        AssertStepsEqualForward(whole, batch, seq, PostNormSeq2SeqStepNet.OutputSize, target,
            (ids, y, t) => model.ForwardStep(ids, y, batch, t, cache), $"re-prepared S={otherSeq}");
    }

    /// <summary>A cross-attention layer over S after the decoder (no bias, Seq2SeqNet) steps over its own prepared keys and values.</summary>
    [Theory]
    [InlineData(3, 9)]
    [InlineData(13, 4)]
    public void CrossAttentionOverSource_StepsEqualTheFullForward(int sourceSeq, int seq)
    {
        var model = new Seq2SeqNet(6);
        const int batch = 3;
        int[] target = Ids(batch * seq, 11, 7), source = Ids(batch * sourceSeq, 9, 8), sourceLengths = [1, sourceSeq, Math.Max(1, sourceSeq / 2)];
        var whole = new float[batch * seq * Seq2SeqNet.OutputSize];
        model.Forward(target, source, whole, batch, seq, sourceSeq, default, sourceLengths);
        // Header; decoder self K/V (2 layers, MaxLength 16, d 8); per source position: decoder cross K/V (2 layers) and the layer's K/V.
        Assert.Equal(2 + 2 * 2 * 16 * 8 + sourceSeq * (2 * 2 * 8 + 2 * 8), Seq2SeqNet.CacheSize(sourceSeq));
        var cache = new float[batch * Seq2SeqNet.CacheSize(sourceSeq)];
        model.PrepareSource(source, batch, sourceSeq, sourceLengths, cache);
        AssertStepsEqualForward(whole, batch, seq, Seq2SeqNet.OutputSize, target,
            (ids, y, t) => model.ForwardStep(ids, y, batch, t, cache), $"S={sourceSeq}, T={seq}");
    }

    [Fact]
    public void CacheSize_IsHeaderSelfCachesAndCrossKeysPerSourcePosition()
    {
        // Header 2 ints; decoder self-attention: 2 layers × K, V × MaxLength 12 × d 9; cross: 2 layers × K, V × d 9 per source position.
        Assert.Equal(2 + 2 * 2 * 12 * 9 + 5 * 2 * 2 * 9, Seq2SeqStepNet.CacheSize(5));
        // Causal encoder (1 layer) and decoder (2 layers) self-attention over MaxLength 9, d 6; cross of the decoder per source position.
        Assert.Equal(2 + 2 * 1 * 9 * 6 + 2 * 2 * 9 * 6 + 3 * 2 * 2 * 6, PostNormSeq2SeqStepNet.CacheSize(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Seq2SeqStepNet.CacheSize(0));
        Assert.Throws<ArgumentException>(() => Seq2SeqStepNet.CacheSize(int.MaxValue));
    }

    [Fact]
    public void Errors_NameWhatIsWrong()
    {
        var model = new Seq2SeqStepNet(1);
        const int batch = 2, sourceSeq = 4;
        int[] source = Ids(batch * sourceSeq, 7, 1), ids = [1, 2];
        var y = new float[batch * Seq2SeqStepNet.OutputSize];

        // A step on a cache PrepareSource never filled.
        var cache = new float[batch * Seq2SeqStepNet.CacheSize(sourceSeq)];
        var state = Assert.Throws<InvalidOperationException>(() => model.ForwardStep(ids, y, batch, 0, cache));
        Assert.Contains("call PrepareSource", state.Message);

        // A cache of the wrong size for this batch and S.
        var e = Assert.Throws<ArgumentException>(() => model.PrepareSource(source, batch, sourceSeq, default, new float[cache.Length - 1]));
        Assert.Equal("cache", e.ParamName);
        Assert.Contains($"expected batch 2 × CacheSize(sourceSeq: 4) {Seq2SeqStepNet.CacheSize(sourceSeq)}", e.Message);
        model.PrepareSource(source, batch, sourceSeq, default, cache);
        e = Assert.Throws<ArgumentException>(() => model.ForwardStep(ids, y, batch, 0, cache.AsSpan(0, cache.Length - 3).ToArray()));
        Assert.Equal("cache", e.ParamName);

        // Past MaxLength.
        e = Assert.Throws<ArgumentException>(() => model.ForwardStep(ids, y, batch, Seq2SeqStepNet.MaxLength, cache));
        Assert.Equal("position", e.ParamName);
        Assert.Contains("outside [0, MaxLength = 12)", e.Message);

        // The step's batch must be PrepareSource's: the cache is then the wrong size for it.
        e = Assert.Throws<ArgumentException>(() => model.ForwardStep([1], new float[Seq2SeqStepNet.OutputSize], 1, 0, cache));
        Assert.Equal("cache", e.ParamName);

        // Bad source arguments are PrepareSource's errors, and a failed PrepareSource leaves the cache unprepared.
        e = Assert.Throws<ArgumentException>(() => model.PrepareSource(source, batch, sourceSeq, [4, 5], cache));
        Assert.Equal("sourceLengths", e.ParamName);
        Assert.Throws<InvalidOperationException>(() => model.ForwardStep(ids, y, batch, 0, cache));
        source[3] = 7;   // vocab is 7: fails inside the source side, after the header was cleared
        Assert.Throws<ArgumentOutOfRangeException>(() => model.PrepareSource(source, batch, sourceSeq, default, cache));
        Assert.Throws<InvalidOperationException>(() => model.ForwardStep(ids, y, batch, 0, cache));
    }

    [Fact]
    public void PrepareSourceAndSteps_SteadyState_AllocateNothing()
    {
        var model = new Seq2SeqStepNet(2);
        const int batch = 2, sourceSeq = 9;
        int[] source = Ids(batch * sourceSeq, 7, 1), ids = [3, 4], sourceLengths = [9, 5];
        var cache = new float[batch * Seq2SeqStepNet.CacheSize(sourceSeq)];
        var y = new float[batch * Seq2SeqStepNet.OutputSize];
        int position = 0;
        model.PrepareSource(source, batch, sourceSeq, sourceLengths, cache);
        AllocationAssert.SteadyStateAllocatesNothing(() =>
        {
            model.ForwardStep(ids, y, batch, position, cache);
            position = (position + 1) % Seq2SeqStepNet.MaxLength;
        }, callsPerWindow: 24, "ForwardStep", warmUpCalls: 12);
        AllocationAssert.SteadyStateAllocatesNothing(() => model.PrepareSource(source, batch, sourceSeq, sourceLengths, cache), callsPerWindow: 5, "PrepareSource");
    }
}
