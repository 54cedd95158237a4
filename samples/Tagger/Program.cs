// Part-of-speech tagger sample, data side: loads the vendored Brown corpus (data/, from tools/brown/convert.py),
// builds the vocabulary, tag set and batches a tagger trains on, and reports the most-frequent-tag baseline the
// tagger has to beat. `--tag "text"` tokenizes text the Brown way and tags it with that baseline.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Tagger;

var dataOption = new Option<string>("--data") { Description = "Folder with train.txt.gz and test.txt.gz", DefaultValueFactory = _ => Path.Combine(AppContext.BaseDirectory, "data") };
var minCountOption = new Option<int>("--min-count") { Description = "Training occurrences a word needs to get its own id", DefaultValueFactory = _ => 2 };
var tagOption = new Option<string?>("--tag") { Description = "Text to tokenize and tag with the baseline, e.g. \"The jury said it was pleased.\"" };

var root = new RootCommand("Brown corpus part-of-speech data: counts, vocabulary, batches and the most-frequent-tag baseline.")
{
    dataOption, minCountOption, tagOption,
};
root.SetAction(parse =>
{
    int minCount = parse.GetValue(minCountOption);
    if (minCount < 1)
    {
        Console.Error.WriteLine("--min-count must be at least 1.");
        return 2;
    }
    try
    {
        return Run(parse.GetValue(dataOption)!, minCount, parse.GetValue(tagOption));
    }
    catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
    {
        Console.Error.WriteLine(e.Message);
        return 1;
    }
});
return root.Parse(args).Invoke();

static int Run(string dataDir, int minCount, string? text)
{
    var clock = Stopwatch.StartNew();
    var corpus = Corpus.Load(dataDir);
    var vocabulary = Vocabulary.FromWords(corpus.Train, minCount);
    var tags = TagSet.FromSentences(corpus.Train);
    var features = WordFeatures.FromSentences(corpus.Train, minCount);
    var train = EncodedSentences.Encode(corpus.Train, vocabulary, tags, features);
    var test = EncodedSentences.Encode(corpus.Test, vocabulary, tags, features);
    var loadTime = clock.Elapsed;

    Console.WriteLine(Invariant($"Brown corpus from {dataDir} (loaded and encoded in {loadTime.TotalSeconds:F2} s)"));
    Console.WriteLine(Invariant($"  train: {train.Count:N0} sentences, {train.TokenCount:N0} tokens, longest {train.LongestSentence}"));
    Console.WriteLine(Invariant($"  test:  {test.Count:N0} sentences, {test.TokenCount:N0} tokens, longest {test.LongestSentence}"));
    Console.WriteLine(Invariant($"  tags: {tags.Count}; vocabulary (exact case, training count >= {minCount}, with <pad> and <unk>): {vocabulary.Count:N0}; suffixes: {features.Suffixes.Count:N0}"));

    var batches = new TaggedBatches(train, batchSize: 32, shuffle: true, seed: 1);
    batches.TryNext(out var first);
    Console.WriteLine(Invariant($"  batches of 32: {batches.BatchesPerEpoch:N0} per epoch; the first is [{first.Size}, {first.SeqLength}] with {first.TokenCount} tokens"));

    var baseline = MostFrequentTagBaseline.Train(corpus.Train);
    var score = baseline.Evaluate(corpus.Test);
    Console.WriteLine(Invariant($"Most-frequent-tag baseline (unknown words: {MostFrequentTagBaseline.UnknownWordTag}): test accuracy {100 * score.Accuracy:F2}% ({score.Correct:N0} of {score.Tokens:N0})"));
    Console.WriteLine(Invariant($"  known words   {100 * score.KnownAccuracy:F2}% ({score.KnownCorrect:N0} of {score.Known:N0})"));
    Console.WriteLine(Invariant($"  unknown words {100 * score.UnknownAccuracy:F2}% ({score.UnknownCorrect:N0} of {score.Unknown:N0})"));

    if (text is not null)
    {
        var tokens = BrownTokenizer.Tokenize(text);
        Console.WriteLine(string.Join(' ', tokens.Select(t => $"{t}/{baseline.Predict(t)}{(baseline.IsKnown(t) ? "" : "?")}")));
    }
    return 0;
}

static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
