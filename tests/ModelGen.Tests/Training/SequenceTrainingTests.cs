// Trainer.Fit on one-input token-sequence models: a tagger learns a task that needs the previous token, a pooled
// classifier learns from one label per sequence, a language model from next-token windows; Fit equals a hand-written loop
// bit for bit, resumes exactly, allocates nothing per step, is not changed by padding, and rejects bad data naming the example.
using ModelGen.Data;

namespace ModelGen.Tests.Training;

/// <summary>
/// A causal recurrent tagger (GRU): the tag of position t is a function of the ids up to t. No dropout, so a hand-written
/// loop can reproduce Fit exactly.
/// </summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = SequenceTrainingTests.MaxLength)]
public partial class PreviousTokenTagger
{
    [Embedding(SequenceTrainingTests.Vocabulary, 8, PaddingIdx = 0)] public partial Layer Emb { get; }
    [GRU(16)]                                                         public partial Layer Rnn { get; }
    [Dense(SequenceTrainingTests.Tags)]                               public partial Layer Out { get; }
}

/// <summary>Token embeddings averaged over the real positions into one row of logits per sequence.</summary>
[Model(Dim.Seq, InputType = typeof(int))]
public partial class TokenGroupClassifier
{
    [Embedding(SequenceTrainingTests.Vocabulary, 8)] public partial Layer Emb { get; }
    [GlobalAvgPool]                                  public partial Layer Pool { get; }
    [Dense(SequenceTrainingTests.Groups)]            public partial Layer Out { get; }
}

/// <summary>A next-id language model: embedding, GRU, a head over the whole vocabulary.</summary>
[Model(Dim.Seq, InputType = typeof(int))]
public partial class NextIdModel
{
    [Embedding(SequenceTrainingTests.Vocabulary, 8)] public partial Layer Emb { get; }
    [GRU(16)]                                        public partial Layer Rnn { get; }
    [Dense(SequenceTrainingTests.Vocabulary)]        public partial Layer Out { get; }
}

public class SequenceTrainingTests
{
    /// <summary>Token ids: 0 padding, 1 … 11 the tokens; token k belongs to group (k − 1) mod 3.</summary>
    public const int Vocabulary = 12;

    /// <summary>Groups of tokens, the classes of <see cref="TokenGroupClassifier"/>.</summary>
    public const int Groups = 3;

    /// <summary>Tags: the group of the previous token, or <see cref="Groups"/> (= 3) at position 0.</summary>
    public const int Tags = Groups + 1;

    /// <summary>The tagger's MaxLength.</summary>
    public const int MaxLength = 12;

    private static int Group(int token) => (token - 1) % Groups;

    private static Loss TokenLoss => Loss.CrossEntropyIgnoring(Loss.DefaultIgnoreIndex);

    /// <summary><paramref name="count"/> random sequences of 1 to <paramref name="longest"/> tokens, tagged with the previous token's group.</summary>
    private static SequenceDataset PreviousTokenTags(int count, int seed, int longest = 10)
    {
        var rng = new Random(seed);
        var inputs = new int[count][];
        var tags = new int[count][];
        for (int i = 0; i < count; i++)
        {
            inputs[i] = new int[rng.Next(1, longest + 1)];
            tags[i] = new int[inputs[i].Length];
            for (int t = 0; t < inputs[i].Length; t++)
            {
                inputs[i][t] = rng.Next(1, Vocabulary);
                tags[i][t] = t == 0 ? Groups : Group(inputs[i][t - 1]);
            }
        }
        return new SequenceDataset(inputs, tags);
    }

    [Fact]
    public void Fit_TaggingTask_ReachesHighHeldOutTokenAccuracy()
    {
        var train = PreviousTokenTags(1024, 1);
        var test = PreviousTokenTags(256, 2);
        var model = new PreviousTokenTagger(seed: 3);
        var trainer = new Trainer(model, new Adam(1e-2f), TokenLoss);
        var before = trainer.Evaluate(test);

        var history = trainer.Fit(train, epochs: 6, batchSize: 32, validation: test, options: new FitOptions { Seed = 4 });

        var after = trainer.Evaluate(test);
        // A tagger that does not carry the previous token gets position 0 (about 1 in 5.5 tokens) plus a third of the rest
        // right, under 50%; wrong gradients through the recurrence never get there either.
        Assert.True(before.Accuracy < 0.5f, $"untrained token accuracy {before.Accuracy}");
        Assert.True(after.Accuracy >= 0.97f, $"held-out token accuracy after training: {after.Accuracy} (loss {after.Loss}); before: {before.Accuracy}");
        Assert.Equal(history.Epochs[history.BestEpoch - 1].ValidationLoss!.Value, after.Loss);   // the best epoch (by validation loss) was restored
        Assert.Equal(256, after.Count);
    }

    [Fact]
    public void Fit_PooledModel_LearnsFromOneLabelPerSequence()
    {
        // The label is the group most tokens come from (60% of the tokens are drawn from it), which the mean of the
        // embeddings carries; chance is 1 in 3.
        static SequenceDataset Dominant(int count, int seed)
        {
            var rng = new Random(seed);
            var inputs = new int[count][];
            var labels = new int[count];
            for (int i = 0; i < count; i++)
            {
                labels[i] = rng.Next(Groups);
                inputs[i] = new int[rng.Next(3, 10)];
                for (int t = 0; t < inputs[i].Length; t++)
                    inputs[i][t] = rng.NextDouble() < 0.6 ? 1 + labels[i] + Groups * rng.Next(3) : rng.Next(1, Vocabulary);
            }
            return SequenceDataset.Classification(inputs, labels);
        }
        var train = Dominant(1024, 1);
        var test = Dominant(256, 2);
        var trainer = new Trainer(new TokenGroupClassifier(seed: 3), new Adam(1e-2f), Loss.CrossEntropy);

        trainer.Fit(train, epochs: 8, batchSize: 32, validation: test, options: new FitOptions { Seed = 4 });

        var after = trainer.Evaluate(test);
        Assert.True(after.Accuracy >= 0.85f, $"held-out accuracy {after.Accuracy} (loss {after.Loss})");
        Assert.Equal(256, after.Count);
    }

    [Fact]
    public void Fit_NextTokenWindows_LearnAPeriodicText()
    {
        // 1 2 3 … 7 1 2 3 …: the next id follows from the current one, except that a window's first position sees one id.
        var text = Enumerable.Range(0, 3000).Select(i => 1 + i % 7).ToArray();
        var windows = SequenceDataset.NextToken(text, window: 10);
        var trainer = new Trainer(new NextIdModel(seed: 5), new Adam(1e-2f), TokenLoss);
        var before = trainer.Evaluate(windows);

        trainer.Fit(windows, epochs: 3, batchSize: 16, options: new FitOptions { Seed = 6 });

        var after = trainer.Evaluate(windows);
        Assert.True(before.Accuracy < 0.5f, $"untrained next-id accuracy {before.Accuracy}");
        Assert.True(after.Accuracy >= 0.99f, $"next-id accuracy {after.Accuracy} (loss {after.Loss})");
    }

    [Fact]
    public void Fit_EqualsHandWrittenLoop_BitForBit()
    {
        var train = PreviousTokenTags(100, 5);
        var validation = PreviousTokenTags(30, 6);
        const int epochs = 3, batchSize = 16;
        const ulong seed = 7;

        var fitted = new PreviousTokenTagger(seed: 8);
        var reported = new List<float>();   // after every step: the epoch's mean loss so far
        var history = new Trainer(fitted, new Adam(3e-3f), TokenLoss)
            .Fit(train, epochs, batchSize, validation, new FitOptions { Seed = seed, RestoreBestWeights = false, ReportEverySteps = 1 },
                 new Probe(p => { if (p.Completed is null) reported.Add(p.Loss); }));
        var expected = new List<float>();

        // The same steps written out: seeded padded batches, clear, training forward, per-position loss, backward, step.
        var manual = new PreviousTokenTagger(seed: 8);
        var optimizer = new Adam(3e-3f);
        var loss = TokenLoss;
        var loader = new SequenceBatchLoader<int>(train, batchSize, shuffle: true, seed);
        var logits = new float[batchSize * train.LongestSequence * Tags];
        var dLogits = new float[logits.Length];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            double sum = 0;
            long tokens = 0;
            loader.StartEpoch(epoch);
            while (loader.TryNext(out var b))
            {
                int rows = b.Size * b.Seq;
                manual.Gradients.Clear();
                manual.ForwardTrain(b.Inputs, logits.AsSpan(0, rows * Tags), b.Size, b.Seq, b.Lengths);
                float mean = loss.Compute(logits.AsSpan(0, rows * Tags), b.Labels, default, dLogits.AsSpan(0, rows * Tags), rows);
                manual.Backward(dLogits.AsSpan(0, rows * Tags), default);
                optimizer.Step(manual, manual.Gradients);
                sum += (double)mean * b.TokenCount;
                tokens += b.TokenCount;
                expected.Add((float)(sum / tokens));
            }
            Assert.Equal(train.LabelCount, tokens);
            Assert.Equal((float)(sum / tokens), history.Epochs[epoch].TrainLoss);
        }
        Assert.Equal(epochs * loader.BatchesPerEpoch, expected.Count);
        Assert.Equal(expected, reported);   // step for step, bit for bit
        Assert.True(fitted.Parameters.SequenceEqual(manual.Parameters), "Fit's parameters differ from the hand-written loop's");

        // Validation: the mean over validation tokens of the inference forward, in one padded batch.
        var check = new SequenceBatchLoader<int>(validation, 256, shuffle: false);
        Assert.True(check.TryNext(out var all));
        int positions = all.Size * all.Seq;
        var output = new float[positions * Tags];
        manual.Forward(all.Inputs, output, all.Size, all.Seq, all.Lengths);
        float validationLoss = loss.Compute(output, all.Labels, default, new float[output.Length], positions);
        Assert.Equal(validationLoss, history.Epochs[^1].ValidationLoss);
        Assert.Equal(validation.LabelCount, all.TokenCount);
    }

    [Fact]
    public void Fit_ResumedFromCheckpoint_EqualsUninterruptedRun()
    {
        var train = PreviousTokenTags(64, 9);
        string path = Path.Combine(Path.GetTempPath(), $"sequence-{Guid.NewGuid():N}.ckpt");
        FitOptions Options(string? checkpoint = null, string? resume = null) => new()
        {
            Seed = 10, GradientClipNorm = 1f, GradientAccumulationSteps = 2, CheckpointPath = checkpoint, ResumeFrom = resume,
        };
        Trainer NewTrainer(PreviousTokenTagger model) => new(model, new AdamW(2e-3f), TokenLoss, Schedule.Cosine());
        try
        {
            var whole = new PreviousTokenTagger(seed: 11);
            var wholeHistory = NewTrainer(whole).Fit(train, epochs: 3, batchSize: 8, options: Options());

            // Stopped once epoch 1 is complete: its checkpoint is written before the next step, which cancels.
            using var cancel = new CancellationTokenSource();
            Assert.Throws<OperationCanceledException>(() => NewTrainer(new PreviousTokenTagger(seed: 11))
                .Fit(train, epochs: 3, batchSize: 8, options: Options(checkpoint: path), progress: new StopAfter(1, cancel), cancellationToken: cancel.Token));
            var resumed = new PreviousTokenTagger(seed: 99);   // other initial weights: the checkpoint must replace them all
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
    public void Padding_NeverChangesTheLossOrTheStep()
    {
        // A 3-token sequence alone (T = 3) and beside a 9-token one (padded to T = 9, padding id 0 and label -100).
        int[] shortIds = [4, 9, 2], longIds = [7, 1, 1, 5, 11, 3, 8, 6, 10];
        int[] Tagged(int[] ids) => ids.Select((_, t) => t == 0 ? Groups : Group(ids[t - 1])).ToArray();
        var alone = new SequenceDataset([shortIds], [Tagged(shortIds)]);
        var other = new SequenceDataset([longIds], [Tagged(longIds)]);
        var both = new SequenceDataset([shortIds, longIds], [Tagged(shortIds), Tagged(longIds)]);
        var model = new PreviousTokenTagger(seed: 12);
        var trainer = new Trainer(model, new Sgd(0.5f), TokenLoss);

        // Loss contributions (mean × tokens) add up: the short sequence's padded positions add nothing.
        double padded = trainer.Evaluate(both).Loss * 12.0;
        double separate = trainer.Evaluate(alone).Loss * 3.0 + trainer.Evaluate(other).Loss * 9.0;
        Assert.True(Math.Abs(padded - separate) <= 1e-5 * separate, $"padded batch: {padded}, sequences alone: {separate}");

        // One step on the padded batch = one step accumulated from the two unpadded ones (weighted by their tokens).
        var whole = new PreviousTokenTagger(seed: 12);
        var halves = new PreviousTokenTagger(seed: 12);
        new Trainer(whole, new Sgd(0.5f), TokenLoss).Fit(both, epochs: 1, batchSize: 2, options: new FitOptions { Shuffle = false });
        new Trainer(halves, new Sgd(0.5f), TokenLoss).Fit(both, epochs: 1, batchSize: 1, options: new FitOptions { Shuffle = false, GradientAccumulationSteps = 2 });
        var start = new PreviousTokenTagger(seed: 12).Parameters.ToArray();
        double moved = 0, apart = 0;
        for (int i = 0; i < start.Length; i++)
        {
            moved = Math.Max(moved, Math.Abs(whole.Parameters[i] - start[i]));
            apart = Math.Max(apart, Math.Abs(whole.Parameters[i] - halves.Parameters[i]));
        }
        Assert.True(moved > 1e-2, $"the step moved the parameters by at most {moved}");
        Assert.True(apart < 1e-6, $"the padded batch's step differs from the unpadded sequences' by up to {apart} (the step moved parameters by up to {moved})");

        // Pooled over time, the padded positions would enter the mean unless Fit passes the lengths; they do not.
        var classifier = new Trainer(new TokenGroupClassifier(seed: 13), new Sgd(0.5f), Loss.CrossEntropy);
        double pooledPadded = classifier.Evaluate(SequenceDataset.Classification([shortIds, longIds], [0, 2])).Loss * 2.0;
        double pooledAlone = classifier.Evaluate(SequenceDataset.Classification([shortIds], [0])).Loss
            + classifier.Evaluate(SequenceDataset.Classification([longIds], [2])).Loss;
        Assert.True(Math.Abs(pooledPadded - pooledAlone) <= 1e-5 * pooledAlone, $"pooled, padded batch: {pooledPadded}, sequences alone: {pooledAlone}");
    }

    [Fact]
    public void Fit_SteadyStateSteps_AllocateNothing()
    {
        // Epoch 2's steps 2 to 16. Every batch is full, so epoch 1 already held the widest batch (the longest sequence
        // among batchSize others) and the model's buffers reached their size.
        var data = PreviousTokenTags(128, 12);
        AllocationAssert.SomeWindowAllocatesNothing(() =>
        {
            var allocated = new long[64];
            int reports = 0;
            var progress = new Probe(p =>
            {
                if (p.Completed is null && reports < allocated.Length) allocated[reports++] = GC.GetAllocatedBytesForCurrentThread();
            });
            new Trainer(new PreviousTokenTagger(1), new Adam(1e-3f), TokenLoss).Fit(data, epochs: 2, batchSize: 8,
                options: new FitOptions { GradientClipNorm = 1f, ReportEverySteps = 1, ComputeMetrics = true }, progress: progress);
            Assert.Equal(32, reports);
            return allocated[reports - 1] - allocated[16];
        }, "Trainer.Fit's token-sequence steps 2 to 16 of epoch 2 (clipping, divergence checks, metrics, a progress report every step)");
    }

    [Fact]
    public void Fit_LabelOutsideTheClasses_ThrowsNamingTheExampleAndPosition()
    {
        var data = new SequenceDataset([[1, 2], [3, 4, 5]], [[0, 1], [2, Tags, 1]]);
        var trainer = new Trainer(new PreviousTokenTagger(1), new Adam(), TokenLoss);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(data, epochs: 1, batchSize: 2));
        Assert.Contains($"Example 1 of the train set has label {Tags} at position 1; the model outputs {Tags} classes (0 to {Tags - 1})", ex.Message);
        var pooled = SequenceDataset.Classification([[1, 2], [3]], [2, -1]);
        var classifier = new Trainer(new TokenGroupClassifier(1), new Adam(), Loss.CrossEntropy);
        Assert.Contains("Example 1 of the data set has label -1", Assert.Throws<ArgumentOutOfRangeException>(() => classifier.Evaluate(pooled)).Message);
    }

    [Fact]
    public void Fit_SequenceLongerThanMaxLength_ThrowsNamingTheExample()
    {
        var ok = PreviousTokenTags(4, 1);
        var tooLong = new SequenceDataset([[1], [2, 3], new int[MaxLength + 1].Select(_ => 5).ToArray()], [[3], [3, 1], new int[MaxLength + 1]]);
        var trainer = new Trainer(new PreviousTokenTagger(1), new Adam(), TokenLoss);
        Assert.Equal(MaxLength, ((ISequenceModel<int>)new PreviousTokenTagger(1)).MaxLength);
        Assert.Contains($"Example 2 of the train set has {MaxLength + 1} positions, more than the model's MaxLength {MaxLength}",
            Assert.Throws<ArgumentException>(() => trainer.Fit(tooLong, epochs: 1, batchSize: 2)).Message);
        Assert.Contains("Example 2 of the validation set",
            Assert.Throws<ArgumentException>(() => trainer.Fit(ok, epochs: 1, batchSize: 2, validation: tooLong)).Message);
        Assert.Equal(0, ((ISequenceModel<int>)new TokenGroupClassifier(1)).MaxLength);   // no bound
    }

    [Fact]
    public void EmptySequences_AreRejectedNamingTheExample()
    {
        Assert.Contains("Sequence 1 is empty", Assert.Throws<ArgumentException>(() => new SequenceDataset([[1], []], [[0], []])).Message);
        Assert.Contains("Sequence 0 is empty", Assert.Throws<ArgumentException>(() => SequenceDataset.Classification([[]], [0])).Message);
        // A source of its own that reports an empty example: the loader names it.
        var trainer = new Trainer(new PreviousTokenTagger(1), new Adam(), TokenLoss);
        Assert.Contains("Example 2 has length 0", Assert.Throws<InvalidDataException>(() => trainer.Fit(new EmptyThird(), epochs: 1, batchSize: 4)).Message);
    }

    [Fact]
    public void LabelsOfTheWrongKind_AndLossesWithoutTheIgnoreIndex_AreRejected()
    {
        var perPosition = PreviousTokenTags(4, 1);
        var perSequence = SequenceDataset.Classification([[1, 2], [3]], [0, 2]);
        var tagger = new Trainer(new PreviousTokenTagger(1), new Adam(), TokenLoss);
        var classifier = new Trainer(new TokenGroupClassifier(1), new Adam(), Loss.CrossEntropy);
        Assert.Contains("has one label per sequence, but the model outputs [-1, 4], a row per position",
            Assert.Throws<ArgumentException>(() => tagger.Fit(perSequence, 1, 2)).Message);
        Assert.Contains("has a label per position, but the model outputs [3] per sequence",
            Assert.Throws<ArgumentException>(() => classifier.Evaluate(perPosition)).Message);
        Assert.Contains("does not ignore the label -100 that marks padded positions",
            Assert.Throws<ArgumentException>(() => new Trainer(new PreviousTokenTagger(1), new Adam(), Loss.CrossEntropy)).Message);
        Assert.Contains("reduction Sum", Assert.Throws<ArgumentException>(() =>
            new Trainer(new PreviousTokenTagger(1), new Adam(), new CrossEntropyLoss(reduction: Reduction.Sum))).Message);
        Assert.Contains("uses float targets", Assert.Throws<ArgumentException>(() =>
            new Trainer(new TokenGroupClassifier(1), new Adam(), Loss.MeanSquaredError)).Message);
    }

    [Fact]
    public void FitAndEvaluate_OtherKindOfData_ThrowNamingTheRightOne()
    {
        var sequences = new Trainer(new PreviousTokenTagger(1), new Adam(), TokenLoss);
        var examples = Dataset.FromArrays(new float[4], new[] { 0, 1 }, new[] { 2 }, 2);
        Assert.Contains("trains on an ISequenceDataSource", Assert.Throws<InvalidOperationException>(() => sequences.Fit(examples, 1, 2)).Message);
        Assert.Contains("trains on an ISequenceDataSource", Assert.Throws<InvalidOperationException>(() => sequences.Evaluate(examples)).Message);
        var pairs = new Trainer(new CopyNet(1), new Adam(), TokenLoss);
        Assert.Contains("trains on an ISeq2SeqDataSource", Assert.Throws<InvalidOperationException>(() => pairs.Fit(PreviousTokenTags(4, 1), 1, 2)).Message);
        var augmented = Assert.Throws<ArgumentException>(() => sequences.Fit(PreviousTokenTags(4, 1), 1, 2, options: new FitOptions { Augmentation = new RandomShift(1) }));
        Assert.Contains("Augmentation", augmented.Message);
    }

    /// <summary>Four sequences whose third claims length 0: a source breaking its own contract.</summary>
    private sealed class EmptyThird : ISequenceDataSource
    {
        public int Count => 4;
        public int LongestSequence => 2;
        public bool LabelsPerPosition => true;
        public int Length(int index) => index == 2 ? 0 : 2;
        public void ReadExample(int index, Span<int> inputs, Span<int> labels)
        {
            inputs.Fill(1);
            labels.Fill(0);
        }
    }
}
