// Issue 13's plain tagger recipe in libtorch (TorchSharp), on samples/Tagger's own corpus, vocabulary, tag set and batches
// (the sample's Corpus/Vocabulary/TaggedBatches sources are linked into this tool), so that libtorch and ModelGen
// (`samples/Tagger --model plain`) can be timed on one machine and their accuracy compared on the same split:
//   nn.Embedding(28,946, 100, padding_idx 0) → dropout 0.25 → bidirectional nn.LSTM(100, 128) over packed sequences
//   (pack_padded_sequence with each sentence's length, as PyTorch users do) → dropout 0.25 → nn.Linear(256, 104);
//   cross-entropy with ignore_index -100 (the mean over real tokens), Adam 2e-3, 32 sentences per batch, training
//   sentences cut at 100 tokens, shuffled per epoch (the sample's TaggedBatches with the same seed: the same batches).
// --framework modelgen runs the same recipe through samples/Tagger's BrownTagger with the sample's own training loop (the
// same calls, seed and batches as `samples/Tagger --model plain`), so both frameworks can be timed for the same batches.
// Test token accuracy counts every test token (whole sentences, punctuation included), split into words the vocabulary
// knows and unknown ones (<unk>), as samples/Tagger's TaggerEvaluation does.
// Usage (build, patch libLibTorchSharp.so as tools/reference/README.md shows, then):
//   dotnet .../TaggerCalibration.dll [--framework torch|modelgen] [--epochs 5] [--max-batches N] [--threads 1] [--seed 1] [--data DIR]
// --max-batches stops training after N batches (to time part of an epoch) and then evaluates as at an epoch's end.
using System.Diagnostics;
using System.Globalization;
using Tagger;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Rnn = TorchSharp.torch.nn.utils.rnn;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
Options o;
try
{
    o = Options.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine("usage: TaggerCalibration [--framework torch|modelgen] [--epochs N] [--max-batches N] [--threads N] [--seed N] [--data DIR]");
    return 2;
}
torch.set_num_threads(o.Threads);
torch.set_num_interop_threads(1);
torch.manual_seed(o.Seed);   // initialisation, then the dropout masks
ModelGen.Kernels.KernelOptions.MaxThreads = o.Threads;

var clock = Stopwatch.StartNew();
var corpus = Corpus.Load(o.Data);
var vocabulary = Vocabulary.FromWords(corpus.Train);
var tags = TagSet.FromSentences(corpus.Train);
const int Words = 28_946, Tags = 104;
if (vocabulary.Count != Words || tags.Count != Tags)
    throw new InvalidDataException($"{o.Data}: the corpus gives {vocabulary.Count} words and {tags.Count} tags; the recipe has {Words} and {Tags}.");
var train = EncodedSentences.Encode(corpus.Train, vocabulary, tags);
var test = EncodedSentences.Encode(corpus.Test, vocabulary, tags);
var batches = new TaggedBatches(train, 32, shuffle: true, seed: (ulong)o.Seed);
Console.WriteLine($"{(o.Framework == "torch" ? $"libtorch {torch.__version__}" : "ModelGen")}, {o}; {train.Count:N0} training sentences ({batches.BatchesPerEpoch} batches per epoch), "
    + $"{test.Count:N0} test sentences ({test.TokenCount:N0} tokens), {vocabulary.Count:N0} words, {tags.Count} tags ({clock.Elapsed.TotalSeconds:F1} s); "
    + $"load {File.ReadAllText("/proc/loadavg").Trim()}; {DateTime.UtcNow:u}");

if (o.Framework == "modelgen") return ModelGenRun.Train(o, train, test, batches, clock);
using var model = new TorchTagger(Words, Tags);
var optimizer = torch.optim.Adam(model.parameters(), lr: 2e-3);
int done = 0;
for (int epoch = 0; epoch < o.Epochs && done < o.MaxBatches; epoch++)
{
    var epochClock = Stopwatch.StartNew();
    var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
    double lossSum = 0, windowLoss = 0;
    long tokens = 0, windowTokens = 0;
    int inEpoch = 0;
    batches.StartEpoch(epoch);
    model.train();
    while (done < o.MaxBatches && batches.TryNext(out var batch))
    {
        using var scope = torch.NewDisposeScope();
        var (ids, lengths) = Tensors(batch.Ids, batch.Lengths, batch.Size, batch.SeqLength);
        var labels = torch.tensor(Array.ConvertAll(batch.Labels.ToArray(), v => (long)v), [batch.Size * batch.SeqLength]);
        optimizer.zero_grad();
        var logits = model.forward(ids, lengths);
        var loss = F.cross_entropy(logits.view(-1, Tags), labels, ignore_index: TaggedBatches.IgnoreIndex);
        loss.backward();
        optimizer.step();
        double mean = loss.item<float>();
        lossSum += mean * batch.TokenCount;
        windowLoss += mean * batch.TokenCount;
        tokens += batch.TokenCount;
        windowTokens += batch.TokenCount;
        done++;
        inEpoch++;
        if (inEpoch % 100 == 0)
        {
            Console.WriteLine($"  batch {inEpoch,5}: loss {windowLoss / windowTokens:F4} (last 100 batches), {epochClock.Elapsed.TotalSeconds:F1} s");
            windowLoss = 0;
            windowTokens = 0;
        }
    }
    double seconds = epochClock.Elapsed.TotalSeconds;
    double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
    var score = Evaluate(model, test);
    Console.WriteLine(Report.EpochLine(epoch, o.Epochs, inEpoch, lossSum / tokens, tokens, seconds, cpu) + $"; test accuracy {score}");
}
Console.WriteLine($"done: {o}; {clock.Elapsed.TotalSeconds:F0} s; load {File.ReadAllText("/proc/loadavg").Trim()}");
return 0;

// Word ids [size, seq] and lengths [size] as libtorch's int64 tensors.
static (Tensor Ids, Tensor Lengths) Tensors(ReadOnlySpan<int> ids, ReadOnlySpan<int> lengths, int size, int seq)
{
    var idData = new long[ids.Length];
    for (int i = 0; i < idData.Length; i++) idData[i] = ids[i];
    var lengthData = new long[lengths.Length];
    for (int i = 0; i < lengthData.Length; i++) lengthData[i] = lengths[i];
    return (torch.tensor(idData, [size, seq]), torch.tensor(lengthData));
}

// Tags every test sentence (whole, in corpus order, 32 per batch) and scores all tokens, known and unknown words.
static Score Evaluate(TorchTagger model, EncodedSentences test)
{
    model.eval();
    using var noGrad = torch.no_grad();
    var batches = new TaggedBatches(test, 32, shuffle: false, maxLength: test.LongestSentence);
    var score = new Score();
    while (batches.TryNext(out var batch))
    {
        using var scope = torch.NewDisposeScope();
        var (ids, lengths) = Tensors(batch.Ids, batch.Lengths, batch.Size, batch.SeqLength);
        long[] predicted = model.forward(ids, lengths).argmax(-1).data<long>().ToArray();   // [size·seq]
        for (int b = 0; b < batch.Size; b++)
        {
            var words = test.WordIds(batch.SentenceIndices[b]);
            var gold = test.TagIds(batch.SentenceIndices[b]);
            for (int t = 0; t < gold.Length; t++)
                score.Add(known: words[t] != Vocabulary.UnkId, correct: predicted[b * batch.SeqLength + t] == gold[t]);
        }
    }
    model.train();
    return score;
}

/// <summary>Command-line options (see the file header).</summary>
sealed record Options(string Framework, int Epochs, int MaxBatches, int Threads, int Seed, string Data)
{
    public static Options Parse(string[] args)
    {
        var o = new Options("torch", 5, int.MaxValue, 1, 1, Path.Combine(AppContext.BaseDirectory, "data"));
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Positive()
            {
                string name = args[i], text = Next();
                return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0
                    ? v : throw new ArgumentException($"{name} must be a positive integer, got '{text}'");
            }
            o = args[i] switch
            {
                "--framework" => o with { Framework = Next() is var f && f is "torch" or "modelgen" ? f : throw new ArgumentException($"--framework {f}: torch or modelgen") },
                "--epochs" => o with { Epochs = Positive() },
                "--max-batches" => o with { MaxBatches = Positive() },
                "--threads" => o with { Threads = Positive() },
                "--seed" => o with { Seed = Positive() },
                "--data" => o with { Data = Next() },
                var a => throw new ArgumentException($"unknown option {a}"),
            };
        }
        return o;
    }

    public override string ToString() =>
        $"plain recipe in {Framework}: {Epochs} epoch(s){(MaxBatches < int.MaxValue ? $", at most {MaxBatches} batches" : "")}, seed {Seed}, {Threads} thread(s)";
}

/// <summary>Token accuracy over all test tokens and over known and unknown words.</summary>
sealed class Score
{
    private long _known, _knownCorrect, _unknown, _unknownCorrect;

    public void Add(bool known, bool correct)
    {
        if (known) { _known++; _knownCorrect += correct ? 1 : 0; }
        else { _unknown++; _unknownCorrect += correct ? 1 : 0; }
    }

    public override string ToString()
    {
        long all = _known + _unknown;
        return $"{100.0 * (_knownCorrect + _unknownCorrect) / all:F2}% of {all:N0} tokens; known words {100.0 * _knownCorrect / _known:F2}% ({_known:N0}), "
            + $"unknown words {100.0 * _unknownCorrect / Math.Max(1, _unknown):F2}% ({_unknown:N0}, {100.0 * _unknown / all:F1}%)";
    }
}

/// <summary>
/// The plain recipe's network: Embedding(V, 100, padding_idx 0) → dropout 0.25 → bidirectional LSTM(100, 128) over the
/// packed sentences → dropout 0.25 → Linear(256, 104); libtorch's default initialisation for every module.
/// </summary>
sealed class TorchTagger : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Embedding emb;
    private readonly TorchSharp.Modules.LSTM lstm;
    private readonly TorchSharp.Modules.Linear tags;

    public TorchTagger(int words, int tagCount) : base("TorchTagger")
    {
        emb = nn.Embedding(words, 100, padding_idx: 0);
        lstm = nn.LSTM(100, 128, batchFirst: true, bidirectional: true);
        tags = nn.Linear(256, tagCount);
        RegisterComponents();
    }

    /// <summary>Logits [batch, seq, tags] for ids [batch, seq] with real lengths [batch] (padded positions' logits are unused).</summary>
    public override Tensor forward(Tensor ids, Tensor lengths)
    {
        long seq = ids.shape[1];
        var x = F.dropout(emb.forward(ids), 0.25, training);
        var packed = Rnn.pack_padded_sequence(x, lengths, batch_first: true, enforce_sorted: false);
        var (output, _, _) = lstm.call(packed, null);
        var h = Rnn.pad_packed_sequence(output, batch_first: true, total_length: seq).Item1;   // [batch, seq, 256]
        return tags.forward(F.dropout(h, 0.25, training));
    }
}

/// <summary>The recipe through samples/Tagger's BrownTagger, with the sample's training loop (Program.cs) call for call.</summary>
static class ModelGenRun
{
    const int Tags = BrownSizes.Tags;

    public static int Train(Options o, EncodedSentences train, EncodedSentences test, TaggedBatches batches, Stopwatch clock)
    {
        var model = new BrownTagger(o.Seed);
        model.SeedDropout((ulong)o.Seed);
        var optimizer = new ModelGen.Adam(2e-3f);
        var loss = ModelGen.Loss.CrossEntropyIgnoring(TaggedBatches.IgnoreIndex);
        var logits = new float[batches.BatchSize * batches.MaxLength * Tags];
        var dLogits = new float[logits.Length];
        int done = 0;
        for (int epoch = 0; epoch < o.Epochs && done < o.MaxBatches; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
            double lossSum = 0, windowLoss = 0;
            long tokens = 0, windowTokens = 0;
            int inEpoch = 0;
            batches.StartEpoch(epoch);
            while (done < o.MaxBatches && batches.TryNext(out var batch))
            {
                int rows = batch.Size * batch.SeqLength;
                var output = logits.AsSpan(0, rows * Tags);
                var dOutput = dLogits.AsSpan(0, output.Length);
                model.Gradients.Clear();
                model.ForwardTrain(batch.Ids, output, batch.Size, batch.SeqLength, batch.Lengths);
                float mean = loss.Compute(output, batch.Labels, default, dOutput, rows);
                model.Backward(dOutput, default);
                optimizer.Step(model, model.Gradients);
                lossSum += (double)mean * batch.TokenCount;
                windowLoss += (double)mean * batch.TokenCount;
                tokens += batch.TokenCount;
                windowTokens += batch.TokenCount;
                done++;
                inEpoch++;
                if (inEpoch % 100 == 0)
                {
                    Console.WriteLine($"  batch {inEpoch,5}: loss {windowLoss / windowTokens:F4} (last 100 batches), {epochClock.Elapsed.TotalSeconds:F1} s");
                    windowLoss = 0;
                    windowTokens = 0;
                }
            }
            double seconds = epochClock.Elapsed.TotalSeconds;
            double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
            var score = Evaluate(model.CreatePredictor(), test);
            Console.WriteLine(Report.EpochLine(epoch, o.Epochs, inEpoch, lossSum / tokens, tokens, seconds, cpu) + $"; test accuracy {score}");
        }
        Console.WriteLine($"done: {o}; {clock.Elapsed.TotalSeconds:F0} s; load {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    private static Score Evaluate(ModelGen.ISequencePredictor<int> predictor, EncodedSentences test)
    {
        var batches = new TaggedBatches(test, 32, shuffle: false, maxLength: test.LongestSentence);
        var logits = new float[32 * test.LongestSentence * Tags];
        var score = new Score();
        while (batches.TryNext(out var batch))
        {
            var output = logits.AsSpan(0, batch.Size * batch.SeqLength * Tags);
            predictor.Forward(batch.Ids, output, batch.Size, batch.SeqLength, batch.Lengths);
            for (int b = 0; b < batch.Size; b++)
            {
                var words = test.WordIds(batch.SentenceIndices[b]);
                var gold = test.TagIds(batch.SentenceIndices[b]);
                for (int t = 0; t < gold.Length; t++)
                {
                    var row = output.Slice((b * batch.SeqLength + t) * Tags, Tags);
                    int best = 0;
                    for (int j = 1; j < Tags; j++)
                        if (row[j] > row[best]) best = j;
                    score.Add(known: words[t] != Vocabulary.UnkId, correct: best == gold[t]);
                }
            }
        }
        return score;
    }
}

static class Report
{
    /// <summary>
    /// One epoch's (or --max-batches') training: wall time, and the process's CPU time over all its threads (which a shared
    /// machine does not inflate by descheduling; with 2 threads it includes the second core's work and any spinning).
    /// </summary>
    public static string EpochLine(int epoch, int epochs, int batches, double loss, long tokens, double seconds, double cpu)
        => $"epoch {epoch + 1}/{epochs}: {batches} batches, loss {loss:F4}, {tokens / seconds:N0} tokens/s, {seconds:F1} s ({100 * seconds / batches:F2} s per 100 batches), "
           + $"CPU {cpu:F1} s ({100 * cpu / batches:F2} s per 100 batches)";
}
