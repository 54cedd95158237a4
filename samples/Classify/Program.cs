// Classify: the inference half of the MNIST sample, meant to be published as one NativeAOT executable.
// It loads the weights samples/Mnist trained (a safetensors file, or a copy embedded in the binary) into the same
// generated MnistMlp, snapshots it as the model's predictor (weights copied once, dense weights prepacked: what
// deployment runs), then classifies image files, raw pixels from stdin, or the whole vendored test split.
// --info says what the binary really executes (AOT or JIT, vector widths, FMA), and --dump-logits writes every
// logit in round-trip form so a JIT run and an AOT run can be compared bit for bit (.ci/aot.sh does).
using System.Diagnostics;
using System.Globalization;
using Classify;
using Mnist;

// Options are parsed by hand (CommandLine.cs): System.CommandLine is AOT-clean but added 1.4 MB (3.5 MB instead
// of 2.1 MB) to a binary whose budget is 3 MB.
try
{
    if (!CommandLine.TryParse(args, out var request, out string? error))
    {
        Console.Error.WriteLine($"classify: {error}");
        Console.Error.WriteLine("Try 'classify --help'.");
        return 2;
    }
    if (request.Help)
    {
        Console.WriteLine(CommandLine.HelpText);
        return 0;
    }
    return Commands.Run(request);
}
catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
{
    Console.Error.WriteLine($"classify: {e.Message}");
    return 1;
}

namespace Classify
{
    /// <summary>The program's work, kept out of the top-level statements so each step reads on its own.</summary>
    internal static class Commands
    {
        internal static int Run(Request request)
        {
            var (model, source) = WeightsSource.LoadModel(request.Weights);
            if (request.Info) PrintInfo(source);
            // The immutable inference snapshot; the model itself is only needed for its layer table (FLOPs).
            MnistMlp.Predictor predictor = model.CreatePredictor();
            long flopsPerExample = 0;   // multiply-adds × 2, from the generated layer table
            foreach (var layer in model.Layers) flopsPerExample += layer.Flops;

            var dump = request.DumpLogits is null ? null : new LogitsWriter(request.DumpLogits);
            try
            {
                if (request.Images.Length > 0) ClassifyImages(predictor, request.Images, request.Invert, dump);
                if (request.TestSet) EvaluateTestSet(predictor, flopsPerExample, request.DataDirectory, request.Repeat, dump);
            }
            finally
            {
                dump?.Dispose();
            }
            return 0;
        }

        private static void ClassifyImages(MnistMlp.Predictor predictor, string[] images, bool invert, LogitsWriter? dump)
        {
            Span<float> pixels = stackalloc float[MnistMlp.InputSize];
            Span<float> logits = stackalloc float[MnistMlp.OutputSize];
            Span<float> probabilities = stackalloc float[MnistMlp.OutputSize];
            foreach (string image in images)
            {
                ImageReader.Read(image, pixels, invert);
                predictor.Predict(pixels, logits);
                ModelGen.Kernels.Softmax.Forward(logits, probabilities, rows: 1, cols: MnistMlp.OutputSize);
                var (best, second) = TopTwo(probabilities);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(image == "-" ? "stdin" : image)}: {best}  (p {probabilities[best]:F4}; next {second}, p {probabilities[second]:F4})"));
                dump?.Write(label: -1, best, logits);
            }
        }

        private static void EvaluateTestSet(MnistMlp.Predictor predictor, long flopsPerExample, string dataDirectory, int repeat, LogitsWriter? dump)
        {
            var load = Stopwatch.StartNew();
            var (_, test) = ModelGen.Data.Mnist.Load(dataDirectory);
            load.Stop();

            var logits = new float[test.Count * MnistMlp.OutputSize];   // [count, 10]
            // One batch: the same call, hence the same bits, under JIT and AOT. Repeats overwrite the same logits.
            var times = new double[repeat];
            for (int r = 0; r < repeat; r++)
            {
                long start = Stopwatch.GetTimestamp();
                predictor.Forward(test.Inputs, logits, test.Count);
                times[r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            Array.Sort(times);
            double inferMs = times[repeat / 2];

            int[] labels = test.Labels!;
            int correct = 0;
            for (int i = 0; i < test.Count; i++)
            {
                ReadOnlySpan<float> row = logits.AsSpan(i * MnistMlp.OutputSize, MnistMlp.OutputSize);
                int predicted = ArgMax(row);
                if (predicted == labels[i]) correct++;
                dump?.Write(labels[i], predicted, row);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{test.Count:N0} test digits from {dataDirectory}: loaded in {load.Elapsed.TotalMilliseconds:F1} ms, classified in {inferMs:F1} ms{(repeat > 1 ? $" (median of {repeat})" : "")} ({test.Count / (inferMs / 1000):N0} digits/s, {(double)test.Count * flopsPerExample / (inferMs * 1e6):F1} GFLOP/s)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"accuracy: {(double)correct / test.Count:F4}"));
        }

        private static void PrintInfo(string weightsSource)
        {
            foreach (var (key, value) in RuntimeInfo.Describe())
                Console.WriteLine($"{key,-26}{value}");
            Console.WriteLine($"{"weights",-26}{weightsSource}");
        }

        /// <summary>Indices of the largest and second-largest values (the first index wins ties).</summary>
        private static (int Best, int Second) TopTwo(ReadOnlySpan<float> values)
        {
            int best = ArgMax(values), second = best == 0 ? 1 : 0;
            for (int i = 0; i < values.Length; i++)
                if (i != best && values[i] > values[second]) second = i;
            return (best, second);
        }

        /// <summary>Index of the largest value; the first one on ties, as <c>torch.argmax</c> returns.</summary>
        internal static int ArgMax(ReadOnlySpan<float> values)
        {
            int best = 0;
            for (int i = 1; i < values.Length; i++)
                if (values[i] > values[best]) best = i;
            return best;
        }
    }
}
