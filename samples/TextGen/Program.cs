// Character-level language model sample: trains a next-character model on the running text of the Brown corpus
// (the tagger's vendored files, words joined by spaces, one sentence per line; see BrownText.cs) with a recipe
// (--recipe: the sample's own, or "torch", the issue's calibration: AdamW 1e-3, warm-up 200 steps then cosine to 1e-4,
// clipping 1.0, 32 random windows of 128 characters), prints progress and a short sample now and then, saves the weights
// (with the model's name and vocabulary: TextGenWeights, which samples/TextGen.Generate loads) and reloads them,
// generates text from a prompt and scores bits per character on the first 200,000 characters of the test text
// (--validation-characters). The last line is exactly "validation bpc: X.XXX" (scripts read it).
// The model comes from CharTrainingRecipe.ModelFor(--model): the Transformer ("gpt") or the LSTM ("lstm").
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ModelGen;
using ModelGen.Serialization;
using TextGen;

var modelOption = new Option<string>("--model") { Description = "The model: gpt (the causal character Transformer) or lstm (a one-layer character LSTM)", DefaultValueFactory = _ => TextGenModel.Gpt.Name };
modelOption.AcceptOnlyFromAmong([.. TextGenModel.All.Select(m => m.Name)]);
var recipeOption = new Option<string>("--recipe") { Description = "The training recipe: sample (the default: 3e-3 peak, no dropout, 2,000 steps) or torch (the issue's libtorch calibration: 1e-3 peak, dropout 0.1, 2,000 steps)", DefaultValueFactory = _ => CharTrainingRecipe.Sample.Name };
recipeOption.AcceptOnlyFromAmong([.. CharTrainingRecipe.All.Select(r => r.Name)]);
var stepsOption = new Option<int?>("--steps") { Description = "Training steps (the schedule spans them; default: the recipe's)" };
var seedOption = new Option<int>("--seed") { Description = "Seed for initialisation, training windows and sampling", DefaultValueFactory = _ => 1 };
var batchOption = new Option<int?>("--batch-size") { Description = "Windows of 128 characters per step (default: the recipe's, 32)" };
var evalEveryOption = new Option<int>("--eval-every") { Description = "Also score validation bpc every N steps (0 = only at the end)", DefaultValueFactory = _ => 0 };
var outOption = new Option<string?>("--out") { Description = "Where to save the trained weights (safetensors; default textgen-<model>.safetensors)" };
var promptOption = new Option<string>("--prompt") { Description = "Text the sample starts from", DefaultValueFactory = _ => "The " };
var temperatureOption = new Option<float>("--temperature") { Description = "Sampling temperature (0 = greedy)", DefaultValueFactory = _ => 0.8f };
var topKOption = new Option<int>("--top-k") { Description = "Sample among the k most likely characters only (0 = all)", DefaultValueFactory = _ => 0 };
var lengthOption = new Option<int>("--length") { Description = "Characters to generate after the prompt", DefaultValueFactory = _ => 400 };
var dataOption = new Option<string>("--data") { Description = "Folder with train.txt.gz and test.txt.gz", DefaultValueFactory = _ => Path.Combine(AppContext.BaseDirectory, "data") };

var validationOption = new Option<int>("--validation-characters") { Description = "Test characters the validation bpc is scored on (the issue's 200,000; fewer for a quick check)", DefaultValueFactory = _ => BitsPerCharacter.ValidationCharacters };
var threadsOption = new Option<int>("--threads") { Description = "Threads one training or inference step may use: matrix products, attention, normalisation, dropout and the optimizer split their work (results are bit-identical for any count)", DefaultValueFactory = _ => Environment.ProcessorCount };
var root = new RootCommand("Train a character-level language model on the Brown corpus, generate text and report validation bits per character.")
{
    modelOption, stepsOption, seedOption, batchOption, outOption, promptOption, temperatureOption, topKOption, lengthOption, dataOption, threadsOption,
    recipeOption, evalEveryOption, validationOption,
};
root.SetAction(parse =>
{
    var recipe = CharTrainingRecipe.For(parse.GetValue(recipeOption)!);
    int steps = parse.GetValue(stepsOption) ?? recipe.Steps, batchSize = parse.GetValue(batchOption) ?? recipe.BatchSize;
    int topK = parse.GetValue(topKOption), length = parse.GetValue(lengthOption), evalEvery = parse.GetValue(evalEveryOption);
    float temperature = parse.GetValue(temperatureOption);
    string prompt = parse.GetValue(promptOption)!;
    int threads = parse.GetValue(threadsOption), validation = parse.GetValue(validationOption);
    if (steps <= 0 || batchSize <= 0 || length < 0 || topK < 0 || evalEvery < 0 || !(temperature >= 0) || float.IsPositiveInfinity(temperature) || prompt.Length == 0 || threads <= 0 || validation < 2)
    {
        Console.Error.WriteLine("--steps, --batch-size and --threads must be positive, --length, --top-k and --eval-every >= 0, --temperature finite and >= 0, --prompt non-empty, --validation-characters >= 2.");
        return 2;
    }
    // The GEMMs split their output rows between threads (never the sum), so every count gives the same bits.
    ModelGen.Kernels.KernelOptions.MaxThreads = threads;
    try
    {
        var model = recipe.ModelFor(parse.GetValue(modelOption)!);
        string outPath = parse.GetValue(outOption) ?? $"textgen-{model.Name}.safetensors";
        return Run(model, recipe, steps, parse.GetValue(seedOption), batchSize, outPath, prompt, temperature, topK, length, parse.GetValue(dataOption)!, evalEvery, validation);
    }
    catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
    {
        Console.Error.WriteLine(e.Message);
        return 1;
    }
});
return root.Parse(args).Invoke();

static int Run(TextGenModel recipe, CharTrainingRecipe training, int steps, int seed, int batchSize, string outPath, string prompt, float temperature, int topK,
    int length, string dataDir, int evalEvery, int validationCharacters)
{
    var clock = Stopwatch.StartNew();
    var text = BrownText.Load(dataDir);
    var vocabulary = CharVocabulary.FromText(text.Train);
    if (vocabulary.Count != TextSizes.Vocabulary)
        throw new InvalidDataException($"{dataDir}: the training text has {vocabulary.Count - 1} distinct characters, but the models are declared for {TextSizes.Vocabulary - 1} (+ {CharVocabulary.UnkToken}); see tools/brown.");
    int[] train = vocabulary.Encode(text.Train), test = vocabulary.Encode(text.Test);
    int unknown = test.Count(id => id == CharVocabulary.UnkId);
    Console.WriteLine(Invariant($"Brown text: {train.Length:N0} training characters, {test.Length:N0} test characters ({unknown} not in training), vocabulary {vocabulary.Count} = {CharVocabulary.UnkToken} + {vocabulary.Count - 1} characters ({clock.Elapsed.TotalSeconds:F1} s)"));
    var validation = test.AsSpan(0, Math.Min(test.Length, validationCharacters)).ToArray();

    var model = recipe.Create(seed);
    Console.Write(recipe.Summary);
    Console.WriteLine(Invariant($"Recipe {training.Name}: AdamW peak {training.LearningRate:0.0e0}, warm-up {training.WarmupSteps}, cosine to {training.LearningRate * training.MinFactor:0.0e0}, {steps} steps of {batchSize} windows of {recipe.Context}"));
    var trainer = new LanguageModelTrainer(model, train, recipe.Vocabulary, batchSize, recipe.Context, steps, Rng.Derive((ulong)seed, 1).NextUInt64(), training);
    int every = Math.Max(1, steps / 20), sampleEvery = Math.Max(1, steps / 4);
    var trainClock = Stopwatch.StartNew();
    var intervalClock = Stopwatch.StartNew();
    double lossSum = 0, asideSeconds = 0;   // aside: mid-run samples and scores, kept out of the throughput
    for (int step = 0; step < steps; step++)
    {
        float loss = trainer.Step();
        if (!float.IsFinite(loss))
        {
            Console.Error.WriteLine(Invariant($"step {step + 1}: the loss is {loss}; training diverged."));
            return 1;
        }
        lossSum += loss;
        int done = step + 1;
        if (done % every == 0 || done == steps)
        {
            int interval = done % every == 0 ? every : done % every;
            double seconds = intervalClock.Elapsed.TotalSeconds;
            double mean = lossSum / interval;
            Console.WriteLine(Invariant($"step {done,5}/{steps}: loss {mean:F4} ({mean / Math.Log(2):F3} bits/char), lr {trainer.LearningRate:0.00e0}, grad norm {trainer.GradientNorm:F2}, {interval * (double)trainer.CharactersPerStep / seconds:N0} characters/s, {trainClock.Elapsed.TotalSeconds:F0} s"));
            lossSum = 0;
            intervalClock.Restart();
        }
        bool sampleNow = done % sampleEvery == 0 && done < steps, scoreNow = evalEvery > 0 && done % evalEvery == 0 && done < steps;
        if (sampleNow || scoreNow)
        {
            var aside = Stopwatch.StartNew();
            if (sampleNow)
                Console.WriteLine($"  sample at step {done}: {Generate(recipe, model, vocabulary, prompt, 100, temperature, topK, seed).ReplaceLineEndings(" / ")}");
            if (scoreNow)
                Console.WriteLine(Invariant($"  step {done}: validation bpc {BitsPerCharacter.Evaluate(recipe.CreatePredictor(model), validation, recipe.Context, recipe.Vocabulary).Bpc:F3}"));
            asideSeconds += aside.Elapsed.TotalSeconds;
            intervalClock.Restart();
        }
    }
    double trainSeconds = trainClock.Elapsed.TotalSeconds - asideSeconds;

    TextGenWeights.Save(recipe, model, vocabulary, outPath);   // with the model's name and vocabulary, for samples/TextGen.Generate
    Console.WriteLine(Invariant($"Trained {steps} steps in {trainSeconds:F1} s ({(double)steps * trainer.CharactersPerStep / trainSeconds:N0} characters/s); saved {outPath} ({new FileInfo(outPath).Length / 1e6:F2} MB)"));
    // Everything after training reads the saved file back into a fresh model (differently seeded, so nothing is left over).
    var reloaded = recipe.Create(seed + 1);
    reloaded.Load(outPath);
    if (!reloaded.Parameters.SequenceEqual(model.Parameters))
        throw new InvalidDataException($"{outPath}: the reloaded weights differ from the trained ones.");
    Console.WriteLine($"Reloaded {outPath}: {reloaded.Parameters.Length:N0} parameters, identical");
    model = reloaded;

    var sampleClock = Stopwatch.StartNew();
    string sample = Generate(recipe, model, vocabulary, prompt, length, temperature, topK, seed);
    double sampleSeconds = sampleClock.Elapsed.TotalSeconds;
    if (vocabulary.Encode(prompt).Contains(CharVocabulary.UnkId))
        Console.WriteLine($"(the prompt has characters the training text lacks; they read as {CharVocabulary.UnkToken})");
    Console.WriteLine(Invariant($"--- sample: temperature {temperature}, top-k {(topK == 0 ? "off" : topK.ToString(CultureInfo.InvariantCulture))}, seed {seed}, {length / sampleSeconds:N0} characters/s ---"));
    Console.WriteLine(sample);
    Console.WriteLine("---");
    // Decoding speed within one window (batch 1): the model's incremental path against a full re-run per token.
    var sequence = vocabulary.Encode(sample);
    int positions = Math.Min(sequence.Length, recipe.Context);
    double incremental = TokensPerSecond(recipe.Sampling(model), sequence.AsSpan(0, positions), recipe.Vocabulary);
    double rerun = TokensPerSecond(new SequenceModelLogits(model, recipe.Vocabulary, recipe.Context).Logits, sequence.AsSpan(0, positions), recipe.Vocabulary);
    Console.WriteLine(Invariant($"Decoding {positions} positions at batch 1: {incremental:N0} tokens/s incremental, {rerun:N0} tokens/s re-running the prefix ({incremental / rerun:F1}x)"));

    var evalClock = Stopwatch.StartNew();
    var score = BitsPerCharacter.Evaluate(recipe.CreatePredictor(model), validation, recipe.Context, recipe.Vocabulary);
    Console.WriteLine(Invariant($"Validation: {score.Characters:N0} characters of the test text in windows of {recipe.Context}: {score.Nats:F4} nats/char ({evalClock.Elapsed.TotalSeconds:F1} s); whole run {clock.Elapsed.TotalSeconds:F0} s"));
    Console.WriteLine(Invariant($"validation bpc: {score.Bpc:F3}"));
    return 0;
}

// The prompt and `length` characters drawn after it (seeded, so the same weights give the same text). Ids past the
// characters (a wider calibration head) print as U+FFFD, as <unk> does.
static string Generate(TextGenModel recipe, ISequenceTrainable<int> model, CharVocabulary vocabulary, string prompt, int length, float temperature, int topK, int seed)
{
    var sampler = new TokenSampler(recipe.Sampling(model), recipe.Vocabulary);
    var sequence = new int[prompt.Length + length];
    vocabulary.Encode(prompt, sequence.AsSpan(0, prompt.Length));
    sampler.Generate(sequence, prompt.Length, temperature, topK, TextGenModel.SamplingRng(seed));
    var generated = sequence.AsSpan(prompt.Length);
    foreach (ref int id in generated)
        if (id >= vocabulary.Count) id = CharVocabulary.UnkId;
    return prompt + vocabulary.Decode(generated);
}

// Next-token logits for every prefix of `tokens` in turn, as generation asks for them; the rate after one warm-up pass.
static double TokensPerSecond(NextTokenLogits logits, ReadOnlySpan<int> tokens, int vocabularySize)
{
    var output = new float[vocabularySize];
    for (int t = 1; t <= tokens.Length; t++) logits(tokens[..t], output);
    var clock = Stopwatch.StartNew();
    for (int t = 1; t <= tokens.Length; t++) logits(tokens[..t], output);
    return tokens.Length / clock.Elapsed.TotalSeconds;
}

static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
