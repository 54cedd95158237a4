// Trainer.Fit on a two-input encoder-decoder: it learns to copy a token sequence through cross-attention (S ≠ T: the
// target is the source plus an end token), equals a hand-written loop over the same batches bit for bit, resumes from a
// checkpoint exactly, and allocates nothing per step.
using ModelGen.Data;

namespace ModelGen.Tests.Training;

/// <summary>
/// A small encoder-decoder: source ids through an encoder, target-side ids (the target shifted right behind a start
/// token) through a causal decoder that cross-attends to the encoded source. No dropout, so a hand-written loop can
/// reproduce Fit exactly.
/// </summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = 8)]
[ModelInput("Source", Dim.Seq, InputType = typeof(int))]
public partial class CopyNet
{
    [Embedding(Seq2SeqTrainingTests.Vocabulary, 16, From = "Source")]                                     public partial Layer Src { get; }
    [PositionEmbedding(8)]                                                                               public partial Layer SrcPos { get; }
    [TransformerEncoder(Heads = 2, FeedForward = 32, NormFirst = true, Dropout = 0)]                     public partial Layer Encoder { get; }
    [LayerNorm]                                                                                          public partial Layer EncNorm { get; }
    [Embedding(Seq2SeqTrainingTests.Vocabulary, 16, From = Layer.Input)]                                  public partial Layer Tgt { get; }
    [PositionEmbedding(8)]                                                                               public partial Layer Pos { get; }
    [TransformerDecoder(Heads = 2, FeedForward = 32, NormFirst = true, Dropout = 0, Memory = nameof(EncNorm))] public partial Layer Decoder { get; }
    [LayerNorm]                                                                                          public partial Layer DecNorm { get; }
    [Dense(Seq2SeqTrainingTests.Vocabulary)]                                                             public partial Layer Head { get; }
}

public class Seq2SeqTrainingTests
{
    /// <summary>Token ids: 0 padding, 1 start, 2 end, 3 … 9 the symbols to copy.</summary>
    public const int Vocabulary = 10;

    private const int Start = 1, End = 2, FirstSymbol = 3;

    /// <summary>
    /// <paramref name="count"/> random sources of 2 to 6 symbols; each target is the source followed by the end token, so T = S + 1.
    /// </summary>
    private static Seq2SeqDataset CopyPairs(int count, int seed)
    {
        var rng = new Random(seed);
        var sources = new int[count][];
        var targets = new int[count][];
        for (int i = 0; i < count; i++)
        {
            sources[i] = new int[rng.Next(2, 7)];
            for (int t = 0; t < sources[i].Length; t++) sources[i][t] = rng.Next(FirstSymbol, Vocabulary);
            targets[i] = [.. sources[i], End];
        }
        return Seq2SeqDataset.TeacherForced(sources, targets, Start);
    }

    private static Loss TokenLoss => Loss.CrossEntropyIgnoring(Loss.DefaultIgnoreIndex);

    [Fact]
    public void Fit_CopyTask_ReachesHighTokenAccuracyOnHeldOutPairs()
    {
        var train = CopyPairs(512, 1);
        var test = CopyPairs(128, 2);
        var model = new CopyNet(seed: 3);
        var trainer = new Trainer(model, new Adam(1e-2f), TokenLoss);
        var before = trainer.Evaluate(test);

        var history = trainer.Fit(train, epochs: 6, batchSize: 32, validation: test, options: new FitOptions { Seed = 4 });

        var after = trainer.Evaluate(test);
        // Without reading the source through cross-attention a position can only guess its symbol (1 in 7) and where the
        // end token goes, under 30% of the tokens; wrong gradients never get there either.
        Assert.True(before.Accuracy < 0.3f, $"untrained token accuracy {before.Accuracy}");
        Assert.True(after.Accuracy >= 0.97f, $"token accuracy after training: {after.Accuracy} (loss {after.Loss}); before: {before.Accuracy}");
        Assert.True(after.Loss < 0.15f, $"validation loss after training: {after.Loss}, before {before.Loss}");
        Assert.True(history.RestoredBest);
        Assert.Equal(history.Epochs[history.BestEpoch - 1].ValidationLoss!.Value, after.Loss);   // the best epoch (by validation loss) was restored
        Assert.Equal(128, after.Count);
    }

    [Fact]
    public void Fit_EqualsHandWrittenLoop_BitForBit()
    {
        var train = CopyPairs(100, 5);
        var validation = CopyPairs(30, 6);
        const int epochs = 3, batchSize = 16;
        const ulong seed = 7;

        var fitted = new CopyNet(seed: 8);
        var reported = new List<float>();   // after every step: the epoch's mean loss so far
        var history = new Trainer(fitted, new Adam(3e-3f), TokenLoss)
            .Fit(train, epochs, batchSize, validation, new FitOptions { Seed = seed, RestoreBestWeights = false, ReportEverySteps = 1 },
                 new Probe(p => { if (p.Completed is null) reported.Add(p.Loss); }));
        var expected = new List<float>();

        // The same steps written out: seeded batches, clear, training forward, per-position loss, backward, step.
        var manual = new CopyNet(seed: 8);
        var optimizer = new Adam(3e-3f);
        var loss = TokenLoss;
        var loader = new Seq2SeqBatchLoader(train, batchSize, shuffle: true, seed);
        var logits = new float[batchSize * train.LongestTarget * Vocabulary];
        var dLogits = new float[logits.Length];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            double sum = 0;
            long tokens = 0;
            loader.StartEpoch(epoch);
            while (loader.TryNext(out var b))
            {
                int rows = b.Size * b.TargetSeq;
                manual.Gradients.Clear();
                manual.ForwardTrain(b.TargetInputs, b.Source, logits.AsSpan(0, rows * Vocabulary), b.Size, b.TargetSeq, b.SourceSeq, b.TargetLengths, b.SourceLengths);
                float mean = loss.Compute(logits.AsSpan(0, rows * Vocabulary), b.TargetLabels, default, dLogits.AsSpan(0, rows * Vocabulary), rows);
                manual.Backward(dLogits.AsSpan(0, rows * Vocabulary), default);
                optimizer.Step(manual, manual.Gradients);
                sum += (double)mean * b.TokenCount;
                tokens += b.TokenCount;
                expected.Add((float)(sum / tokens));
            }
            Assert.Equal((float)(sum / tokens), history.Epochs[epoch].TrainLoss);
        }
        Assert.Equal(epochs * loader.BatchesPerEpoch, expected.Count);
        Assert.Equal(expected, reported);   // step for step, bit for bit
        Assert.True(fitted.Parameters.SequenceEqual(manual.Parameters), "Fit's parameters differ from the hand-written loop's");

        // Validation: the mean over validation tokens of the inference forward, as Evaluate computes it by hand here.
        var check = new Seq2SeqBatchLoader(validation, 256, shuffle: false);
        var output = new float[validation.Count * validation.LongestTarget * Vocabulary];
        double validationSum = 0;
        long validationTokens = 0;
        check.TryNext(out var all);
        int positions = all.Size * all.TargetSeq;
        manual.Forward(all.TargetInputs, all.Source, output.AsSpan(0, positions * Vocabulary), all.Size, all.TargetSeq, all.SourceSeq, all.TargetLengths, all.SourceLengths);
        validationSum += (double)loss.Compute(output.AsSpan(0, positions * Vocabulary), all.TargetLabels, default, new float[positions * Vocabulary], positions) * all.TokenCount;
        validationTokens += all.TokenCount;
        Assert.Equal((float)(validationSum / validationTokens), history.Epochs[^1].ValidationLoss);
        Assert.Equal(validation.TargetTokenCount, validationTokens);
    }

    [Fact]
    public void Fit_ResumedFromCheckpoint_EqualsUninterruptedRun()
    {
        var train = CopyPairs(64, 9);
        string path = Path.Combine(Path.GetTempPath(), $"seq2seq-{Guid.NewGuid():N}.ckpt");
        FitOptions Options(string? checkpoint = null, string? resume = null) => new()
        {
            Seed = 10, GradientClipNorm = 1f, GradientAccumulationSteps = 2, CheckpointPath = checkpoint, ResumeFrom = resume,
        };
        Trainer NewTrainer(CopyNet model) => new(model, new AdamW(2e-3f), TokenLoss, Schedule.Cosine());
        try
        {
            var whole = new CopyNet(seed: 11);
            var wholeHistory = NewTrainer(whole).Fit(train, epochs: 3, batchSize: 8, options: Options());

            // Stopped once epoch 1 is complete: its checkpoint is written before the next step, which cancels.
            using var cancel = new CancellationTokenSource();
            Assert.Throws<OperationCanceledException>(() =>
                NewTrainer(new CopyNet(seed: 11)).Fit(train, epochs: 3, batchSize: 8, options: Options(checkpoint: path), progress: new StopAfter(1, cancel), cancellationToken: cancel.Token));
            var resumed = new CopyNet(seed: 99);   // other initial weights: the checkpoint must replace them all
            var resumedHistory = NewTrainer(resumed).Fit(train, epochs: 3, batchSize: 8, options: Options(resume: path));

            Assert.True(whole.Parameters.SequenceEqual(resumed.Parameters), "the resumed run's parameters differ from the uninterrupted run's");
            Assert.Equal(wholeHistory.Epochs.Select(e => e.TrainLoss), resumedHistory.Epochs.Select(e => e.TrainLoss));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Fit_AccumulatedHalfBatches_TakeTheStepOfTheWholeBatch()
    {
        // Two batches of 8 pairs accumulated = one batch of 16 when each half is weighted by its tokens (the halves hold
        // different token counts); weighting by pairs would not be. Padding differs between the two runs but never
        // reaches a real position, so only rounding separates them.
        var train = CopyPairs(64, 15);
        var whole = new CopyNet(seed: 16);
        var halves = new CopyNet(seed: 16);
        new Trainer(whole, new Sgd(0.5f), TokenLoss).Fit(train, epochs: 1, batchSize: 16, options: new FitOptions { Shuffle = false });
        new Trainer(halves, new Sgd(0.5f), TokenLoss).Fit(train, epochs: 1, batchSize: 8, options: new FitOptions { Shuffle = false, GradientAccumulationSteps = 2 });
        var start = new CopyNet(seed: 16).Parameters.ToArray();
        double moved = 0, apart = 0;
        for (int i = 0; i < start.Length; i++)
        {
            moved = Math.Max(moved, Math.Abs(whole.Parameters[i] - start[i]));
            apart = Math.Max(apart, Math.Abs(whole.Parameters[i] - halves.Parameters[i]));
        }
        Assert.True(moved > 1e-2, $"the parameters moved by at most {moved}");
        Assert.True(apart < 1e-5, $"accumulated halves differ from whole batches by up to {apart} (steps moved parameters by up to {moved})");
    }

    [Fact]
    public void Fit_SteadyStateSteps_AllocateNothing()
    {
        // As the feed-forward test (DivergenceTests): the bytes from the 5th progress report to the last are steps 6 to 32's.
        var data = CopyPairs(256, 12);
        AllocationAssert.SomeWindowAllocatesNothing(() =>
        {
            var allocated = new long[64];
            int reports = 0;
            var progress = new Probe(p =>
            {
                if (p.Completed is null && reports < allocated.Length) allocated[reports++] = GC.GetAllocatedBytesForCurrentThread();
            });
            new Trainer(new CopyNet(1), new Adam(1e-3f), TokenLoss).Fit(data, epochs: 1, batchSize: 8,
                options: new FitOptions { GradientClipNorm = 1f, ReportEverySteps = 1, ComputeMetrics = true }, progress: progress);
            Assert.Equal(32, reports);
            return allocated[reports - 1] - allocated[4];
        }, "Trainer.Fit's sequence-pair steps 6 to 32 (clipping, divergence checks, metrics, a progress report every step)");
    }

    [Fact]
    public void Fit_DivergingRun_IsStoppedNamingTheStep()
    {
        var model = new CopyNet(seed: 13);
        var ex = Assert.Throws<TrainingDivergedException>(() => new Trainer(model, new Sgd(1e30f), TokenLoss)
            .Fit(CopyPairs(64, 14), epochs: 2, batchSize: 8, options: new FitOptions { Shuffle = false }));
        Assert.Equal(1, ex.Epoch);
        Assert.Contains("Training diverged at epoch 1", ex.Message);
    }

    [Fact]
    public void Constructor_LossWithoutTheIgnoreIndex_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Trainer(new CopyNet(1), new Adam(), Loss.CrossEntropy));
        Assert.Contains("does not ignore the label -100", ex.Message);
        var sum = Assert.Throws<ArgumentException>(() => new Trainer(new CopyNet(1), new Adam(), new CrossEntropyLoss(reduction: Reduction.Sum)));
        Assert.Contains("reduction Sum", sum.Message);
        _ = new Trainer(new CopyNet(1), new Adam(), new NllLoss());   // NLL over log-probabilities ignores -100 by default too
    }

    [Fact]
    public void FitAndEvaluate_OtherKindOfData_ThrowNamingTheRightOne()
    {
        var seq2seq = new Trainer(new CopyNet(1), new Adam(), TokenLoss);
        var examples = Dataset.FromArrays(new float[4], new[] { 0, 1 }, new[] { 2 }, 2);
        Assert.Contains("trains on an ISeq2SeqDataSource", Assert.Throws<InvalidOperationException>(() => seq2seq.Fit(examples, 1, 2)).Message);
        Assert.Contains("trains on an ISeq2SeqDataSource", Assert.Throws<InvalidOperationException>(() => seq2seq.Evaluate(examples)).Message);
        var augmented = Assert.Throws<ArgumentException>(() => seq2seq.Fit(CopyPairs(4, 1), 1, 2, options: new FitOptions { Augmentation = new RandomShift(1) }));
        Assert.Contains("Augmentation", augmented.Message);
    }

    [Fact]
    public void Fit_RestoresTheModelsMode()
    {
        var model = new CopyNet(1);
        model.Eval();
        new Trainer(model, new Adam(), TokenLoss).Fit(CopyPairs(8, 1), epochs: 1, batchSize: 4);
        Assert.False(model.IsTraining);
    }
}
