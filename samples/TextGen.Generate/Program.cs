// generate: the generation half of samples/TextGen, meant to be published as one NativeAOT executable. It loads a
// weights file that `samples/TextGen --out FILE` wrote (which model and which vocabulary are in the file's metadata:
// TextGenWeights) and prints the prompt and its continuation on stdout, each character as soon as it is drawn. It
// samples exactly as the trainer does (the same TokenSampler, the same TextGenModel decoding path: the GPT reads one
// position per character through its key/value cache, the same seed stream), so with the same --seed it prints the
// text samples/TextGen printed after training, at the same vector width. --stats adds timings on stderr.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using ModelGen;
using TextGen;

long started = Stopwatch.GetTimestamp();

const string DefaultWeights = "textgen-gpt.safetensors";   // samples/TextGen's default --out for the default model
var weightsOption = new Option<string?>("--weights", "-w") { Description = $"Weights written by samples/TextGen --out (default: {DefaultWeights} beside this program, else in the current directory)" };
var promptOption = new Option<string>("--prompt") { Description = "Text the continuation starts from", DefaultValueFactory = _ => "The " };
var temperatureOption = new Option<float>("--temperature") { Description = "Sampling temperature (0 = greedy)", DefaultValueFactory = _ => 0.8f };
var topKOption = new Option<int>("--top-k") { Description = "Sample among the k most likely characters only (0 = all)", DefaultValueFactory = _ => 0 };
var seedOption = new Option<int>("--seed") { Description = "Seed for sampling (samples/TextGen's --seed gives the text it printed)", DefaultValueFactory = _ => 1 };
var lengthOption = new Option<int>("--length") { Description = "Characters to generate after the prompt", DefaultValueFactory = _ => 400 };
var statsOption = new Option<bool>("--stats") { Description = "Print load time, time to the first character and characters/s on stderr" };
var root = new RootCommand("Continue a prompt with a character-level language model trained by samples/TextGen.")
{
    weightsOption, promptOption, temperatureOption, topKOption, seedOption, lengthOption, statsOption,
};
root.SetAction(parse =>
{
    string prompt = parse.GetValue(promptOption)!;
    float temperature = parse.GetValue(temperatureOption);
    int topK = parse.GetValue(topKOption), length = parse.GetValue(lengthOption);
    if (length < 0 || topK < 0 || !(temperature >= 0) || float.IsPositiveInfinity(temperature) || prompt.Length == 0)
    {
        Console.Error.WriteLine("generate: --length and --top-k must be >= 0, --temperature finite and >= 0, --prompt non-empty.");
        return 2;
    }
    try
    {
        string weights = parse.GetValue(weightsOption) ?? DefaultWeightsPath();
        return Generation.Run(weights, prompt, temperature, topK, parse.GetValue(seedOption), length, parse.GetValue(statsOption), started);
    }
    catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"generate: {e.Message}");
        return 1;
    }
});
return root.Parse(args).Invoke();

// The default file beside the executable if it is there, else in the current directory (whose error names it).
static string DefaultWeightsPath()
{
    string besideBinary = Path.Combine(AppContext.BaseDirectory, DefaultWeights);
    return File.Exists(besideBinary) ? besideBinary : DefaultWeights;
}

/// <summary>Loading, generating and reporting, kept out of the top-level statements.</summary>
internal static class Generation
{
    internal static int Run(string weights, string prompt, float temperature, int topK, int seed, int length, bool stats, long started)
    {
        long loadStart = Stopwatch.GetTimestamp();
        var (recipe, model, vocabulary) = TextGenWeights.Load(weights);
        double loadMs = Stopwatch.GetElapsedTime(loadStart).TotalMilliseconds;

        var sequence = new int[prompt.Length + length];   // [prompt + generated] character ids
        vocabulary.Encode(prompt, sequence.AsSpan(0, prompt.Length));
        if (sequence.AsSpan(0, prompt.Length).Contains(CharVocabulary.UnkId))
            Console.Error.WriteLine($"generate: the prompt has characters the training text lacks; the model reads them as {CharVocabulary.UnkToken}.");
        var sampler = new TokenSampler(recipe.Sampling(model), recipe.Vocabulary);   // a calibration model has 96 logits
        var rng = TextGenModel.SamplingRng(seed);

        // TokenSampler.Generate's loop, one character at a time so that each is printed as soon as it is drawn.
        TextWriter output = Console.Out;
        output.Write(prompt);
        double firstMs = 0;
        long decodeStart = 0;
        for (int i = prompt.Length; i < sequence.Length; i++)
        {
            sequence[i] = sampler.Next(sequence.AsSpan(0, i), temperature, topK, rng);
            if (sequence[i] >= vocabulary.Count) sequence[i] = CharVocabulary.UnkId;   // logits past the characters (never in the text)
            output.Write(vocabulary[sequence[i]]);
            if (i == prompt.Length)
            {
                firstMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                decodeStart = Stopwatch.GetTimestamp();
            }
        }
        output.WriteLine();

        if (stats)
        {
            // Characters after the first, whose time includes reading the prompt.
            double decodeSeconds = length > 1 ? Stopwatch.GetElapsedTime(decodeStart).TotalSeconds : 0;
            string rate = length > 1 ? string.Create(CultureInfo.InvariantCulture, $"{(length - 1) / decodeSeconds:N0} characters/s over the {length - 1} after the first") : "no rate (--length < 2)";
            string engine = System.Runtime.JitInfo.GetCompiledMethodCount() > 0 ? "JIT" : "NativeAOT";
            int bits = Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"generate: {engine}, {(bits == 0 ? "scalar" : $"{bits}-bit")} kernels; {recipe.Name} weights {weights} loaded in {loadMs:F1} ms; first character {firstMs:F1} ms after Main started; {rate}"));
        }
        return 0;
    }
}
