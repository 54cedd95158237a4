// Part-of-speech tagger sample: trains a bidirectional LSTM (TaggerModel.cs; --model features, the default, also reads
// each word's suffix and spelling shape; --model plain is the issue's word-only recipe) on the Brown corpus vendored
// in data/ (tools/brown), reports test token accuracy with known- and unknown-word accuracy and a few tagged sentences, saves
// the weights, reloads them into a fresh model and checks the predictions are identical. `--tag "text"` tags a
// sentence. The last line is exactly "test accuracy: 0.XXXX" (scripts read it).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ModelGen;
using ModelGen.Serialization;
using Tagger;

var modelOption = new Option<string>("--model") { Description = "features (words, suffixes and shapes) or plain (words only)", DefaultValueFactory = _ => "features" };
modelOption.AcceptOnlyFromAmong("features", "plain");
var epochsOption = new Option<int?>("--epochs") { Description = "Training epochs (default: the model's recipe: features 3, plain 5)" };
var seedOption = new Option<int>("--seed") { Description = "Seed for initialisation, shuffling and dropout", DefaultValueFactory = _ => 1 };
var batchOption = new Option<int>("--batch-size") { Description = "Sentences per minibatch", DefaultValueFactory = _ => 32 };
var lrOption = new Option<float>("--lr") { Description = "Adam learning rate", DefaultValueFactory = _ => 2e-3f };
var outOption = new Option<string?>("--out") { Description = "Where to save the trained weights (safetensors; default brown-tagger-<model>.safetensors)" };
var dataOption = new Option<string>("--data") { Description = "Folder with train.txt.gz and test.txt.gz", DefaultValueFactory = _ => Path.Combine(AppContext.BaseDirectory, "data") };
var tagOption = new Option<string?>("--tag") { Description = "A sentence to tag after training, e.g. \"The jury said it was pleased.\"" };
var threadsOption = new Option<int>("--threads") { Description = "Threads a large matrix product or the two LSTM directions may use (results are bit-identical for any count)", DefaultValueFactory = _ => Environment.ProcessorCount };

var root = new RootCommand("Train a bidirectional-LSTM part-of-speech tagger on the Brown corpus and report test accuracy.")
{
    modelOption, epochsOption, seedOption, batchOption, lrOption, outOption, dataOption, tagOption, threadsOption,
};
root.SetAction(parse =>
{
    var recipe = TaggerRecipe.For(parse.GetValue(modelOption)!);
    int epochs = parse.GetValue(epochsOption) ?? recipe.Epochs, batchSize = parse.GetValue(batchOption);
    float lr = parse.GetValue(lrOption);
    int threads = parse.GetValue(threadsOption);
    if (epochs <= 0 || batchSize <= 0 || !(lr > 0) || threads <= 0)
    {
        Console.Error.WriteLine("--epochs, --batch-size, --lr and --threads must be positive.");
        return 2;
    }
    // GEMMs split their output rows between threads (never a sum) and a bidirectional LSTM's two directions run on two
    // threads (summed in one order), so every count gives the same bits.
    ModelGen.Kernels.KernelOptions.MaxThreads = threads;
    try
    {
        string outPath = parse.GetValue(outOption) ?? $"brown-tagger-{recipe.Name}.safetensors";
        return Run(recipe, epochs, parse.GetValue(seedOption), batchSize, lr, outPath, parse.GetValue(dataOption)!, parse.GetValue(tagOption));
    }
    catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
    {
        Console.Error.WriteLine(e.Message);
        return 1;
    }
});
return root.Parse(args).Invoke();

static int Run(TaggerRecipe recipe, int epochs, int seed, int batchSize, float lr, string outPath, string dataDir, string? text)
{
    var clock = Stopwatch.StartNew();
    var corpus = Corpus.Load(dataDir);
    var vocabulary = Vocabulary.FromWords(corpus.Train);
    var tags = TagSet.FromSentences(corpus.Train);
    var features = WordFeatures.FromSentences(corpus.Train);
    if (vocabulary.Count != BrownSizes.Words || features.Suffixes.Count != BrownSizes.Suffixes || tags.Count != BrownSizes.Tags)
        throw new InvalidDataException($"{dataDir}: the corpus gives {vocabulary.Count} words, {features.Suffixes.Count} suffixes and {tags.Count} tags; the models are declared for {BrownSizes.Words}, {BrownSizes.Suffixes} and {BrownSizes.Tags} (see tools/brown).");
    var train = EncodedSentences.Encode(corpus.Train, vocabulary, tags, features);
    var test = EncodedSentences.Encode(corpus.Test, vocabulary, tags, features);
    Console.WriteLine(Invariant($"Brown corpus: {train.Count:N0} training sentences ({train.TokenCount:N0} tokens), {test.Count:N0} test sentences ({test.TokenCount:N0} tokens), {vocabulary.Count:N0} words, {features.Suffixes.Count:N0} suffixes, {tags.Count} tags ({clock.Elapsed.TotalSeconds:F1} s)"));

    var model = recipe.Create(seed);
    model.SeedDropout((ulong)seed);
    Console.Write(recipe.Summary);
    var optimizer = new Adam(lr);
    var loss = Loss.CrossEntropyIgnoring(TaggedBatches.IgnoreIndex);
    var batches = new TaggedBatches(train, batchSize, shuffle: true, seed: (ulong)seed);
    var logits = new float[batchSize * batches.MaxLength * BrownSizes.Tags];
    var dLogits = new float[logits.Length];
    var ids = new int[batchSize * batches.MaxLength * recipe.Columns];
    var evaluation = new TaggerEvaluation(test, batchSize, recipe);

    for (int epoch = 0; epoch < epochs; epoch++)
    {
        var epochClock = Stopwatch.StartNew();
        double lossSum = 0;
        long tokens = 0;
        batches.StartEpoch(epoch);
        while (batches.TryNext(out var batch))
        {
            int rows = batch.Size * batch.SeqLength;
            var output = logits.AsSpan(0, rows * BrownSizes.Tags);
            var dOutput = dLogits.AsSpan(0, output.Length);
            model.Gradients.Clear();
            model.ForwardTrain(recipe.Input(batch, ids), output, batch.Size, batch.SeqLength, batch.Lengths);
            // Mean over the batch's real tokens (padding is labelled -100 and gets no gradient), as PyTorch's ignore_index.
            float mean = loss.Compute(output, batch.Labels, default, dOutput, rows);
            model.Backward(dOutput, default);
            optimizer.Step(model, model.Gradients);
            lossSum += (double)mean * batch.TokenCount;
            tokens += batch.TokenCount;
        }
        double seconds = epochClock.Elapsed.TotalSeconds;
        var score = evaluation.Evaluate(recipe.CreatePredictor(model));
        Console.WriteLine(Invariant($"epoch {epoch + 1}/{epochs}: loss {lossSum / tokens:F4}, {tokens / seconds:N0} tokens/s, {seconds:F1} s; test accuracy {100 * score.Accuracy:F2}%"));
    }

    var predictor = recipe.CreatePredictor(model);   // the trained weights, copied and packed once for inference
    var final = evaluation.Evaluate(predictor);
    Console.WriteLine(Invariant($"Test: {100 * final.Accuracy:F2}% of {final.Tokens:N0} tokens; known words {100 * final.KnownAccuracy:F2}% ({final.Known:N0}), unknown words {100 * final.UnknownAccuracy:F2}% ({final.Unknown:N0}, {100.0 * final.Unknown / final.Tokens:F1}%)"));
    evaluation.PrintExamples(predictor, corpus.Test, tags, count: 3);

    model.Save(outPath);
    var reloaded = recipe.Load(outPath);
    var reloadedPredictor = recipe.CreatePredictor(reloaded);
    int differing = evaluation.CountDifferentPredictions(predictor, reloadedPredictor);
    Console.WriteLine(Invariant($"Saved {outPath} ({new FileInfo(outPath).Length / 1e6:F1} MB) and reloaded it: {(differing == 0 ? "identical predictions" : $"{differing} predictions differ")}"));
    if (text is not null)
        Console.WriteLine(TaggerEvaluation.Tag(reloadedPredictor, recipe, vocabulary, features, tags, BrownTokenizer.Tokenize(text)));
    Console.WriteLine(Invariant($"Whole run: {clock.Elapsed.TotalSeconds:F0} s"));
    Console.WriteLine(Invariant($"test accuracy: {final.Accuracy:F4}"));
    return differing == 0 ? 0 : 1;
}

static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
