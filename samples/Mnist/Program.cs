// MNIST sample: trains a generated model on the 10,000 real digits vendored in data/ (7,996 train / 2,004 test),
// shows live progress, saves the weights as safetensors, reloads them into a fresh model and checks that the
// predictions are identical. The last line is exactly "test accuracy: 0.XXXX" (scripts read it).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Mnist;
using ModelGen;
using ModelGen.Data;
using Spectre.Console;

var modelOption = new Option<string>("--model") { Description = "Network to train: mlp", DefaultValueFactory = _ => "mlp" };
modelOption.AcceptOnlyFromAmong("mlp");
var epochsOption = new Option<int>("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => 20 };
var seedOption = new Option<int>("--seed") { Description = "Seed for initialisation, shuffling, augmentation and dropout", DefaultValueFactory = _ => 1 };
var batchOption = new Option<int>("--batch-size") { Description = "Minibatch size", DefaultValueFactory = _ => 64 };
var outOption = new Option<string>("--out") { Description = "Where to save the trained weights (safetensors)", DefaultValueFactory = _ => "mnist-mlp.safetensors" };
var shiftOption = new Option<int>("--shift") { Description = "Random-shift augmentation in pixels (0 turns it off)", DefaultValueFactory = _ => 2 };
var dataOption = new Option<string>("--data") { Description = "Folder with the IDX files", DefaultValueFactory = _ => Path.Combine(AppContext.BaseDirectory, "data") };

var root = new RootCommand("Train a ModelGen network on real MNIST digits, save it, reload it and report test accuracy.")
{
    modelOption, epochsOption, seedOption, batchOption, shiftOption, outOption, dataOption,
};
root.SetAction(parse =>
{
    int epochs = parse.GetValue(epochsOption);
    int batchSize = parse.GetValue(batchOption);
    if (epochs <= 0 || batchSize <= 0)
    {
        Console.Error.WriteLine("--epochs and --batch-size must be positive.");
        return 2;
    }
    return Run(parse.GetValue(modelOption)!, epochs, parse.GetValue(seedOption), batchSize, parse.GetValue(shiftOption), parse.GetValue(outOption)!, parse.GetValue(dataOption)!);
});
return root.Parse(args).Invoke();

static int Run(string modelName, int epochs, int seed, int batchSize, int shift, string outPath, string dataDir)
{
    var total = Stopwatch.StartNew();
    var (train, test) = ModelGen.Data.Mnist.Load(dataDir);
    Console.WriteLine($"MNIST: {train.Count:N0} training and {test.Count:N0} test digits from {dataDir}");

    var model = new MnistMlp(seed);
    Console.WriteLine(MnistMlp.Summary());
    Console.WriteLine($"Recipe: Adam(lr 1e-3), cosine decay, batch {batchSize}, {epochs} epochs, random shifts of up to {shift} pixels, seed {seed}");

    var trainer = new Trainer(model, new Adam(learningRate: 1e-3f), Loss.CrossEntropy, Schedule.Cosine());
    var options = new FitOptions { Seed = (ulong)seed, Augmentation = shift > 0 ? new RandomShift(shift) : null };
    var history = TrainWithProgress(trainer, train, test, epochs, batchSize, options);

    var evaluation = trainer.Evaluate(test);
    double trainSeconds = history.Epochs.Sum(e => e.Elapsed.TotalSeconds);
    Console.WriteLine($"Trained {history.Epochs.Count} epochs in {trainSeconds:F1} s; test loss {evaluation.Loss:F4}");

    model.Save(outPath);
    var reloaded = MnistMlp.Load(outPath);
    int identical = ComparePredictions(model, reloaded, test);
    Console.WriteLine(identical == test.Count
        ? $"Saved {outPath} ({new FileInfo(outPath).Length:N0} bytes); the reloaded model's outputs are bit-identical on all {test.Count:N0} test digits"
        : $"WARNING: the reloaded model differs on {test.Count - identical} of {test.Count} test digits");
    Console.WriteLine($"Total time {total.Elapsed.TotalSeconds:F1} s");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test accuracy: {evaluation.Accuracy:F4}"));
    return identical == test.Count ? 0 : 1;
}

static TrainingHistory TrainWithProgress(Trainer trainer, Dataset train, Dataset test, int epochs, int batchSize, FitOptions options)
{
    if (!AnsiConsole.Profile.Capabilities.Interactive || Console.IsOutputRedirected)
        return trainer.Fit(train, epochs, batchSize, test, options, new PlainProgress());

    TrainingHistory history = null!;
    AnsiConsole.Progress()
        .AutoClear(false)
        .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
        .Start(ctx =>
        {
            var tasks = new ProgressTask?[epochs + 1];
            history = trainer.Fit(train, epochs, batchSize, test, options, new SpectreProgress(ctx, tasks));
        });
    return history;
}

static int ComparePredictions(IModel a, IModel b, Dataset data)
{
    var outA = new float[data.Count * a.OutputLength];
    var outB = new float[data.Count * b.OutputLength];
    a.Forward(data.Inputs, outA, data.Count);
    b.Forward(data.Inputs, outB, data.Count);
    int same = 0;
    for (int i = 0; i < data.Count; i++)
        if (outA.AsSpan(i * a.OutputLength, a.OutputLength).SequenceEqual(outB.AsSpan(i * b.OutputLength, b.OutputLength))) same++;
    return same;
}

/// <summary>One line per epoch, for logs and pipes.</summary>
sealed class PlainProgress : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress p)
    {
        if (p.Completed is { } m)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {m.Epoch,2}/{p.Epochs}  loss {m.TrainLoss:F4}  acc {m.TrainAccuracy:F4}  val loss {m.ValidationLoss:F4}  val acc {m.ValidationAccuracy:F4}  {m.SamplesPerSecond,8:N0} samples/s  {m.Elapsed.TotalSeconds:F1} s"));
    }
}

/// <summary>A live bar per epoch with loss, accuracy and throughput in its description.</summary>
sealed class SpectreProgress(ProgressContext context, ProgressTask?[] tasks) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress p)
    {
        var task = tasks[p.Epoch] ??= context.AddTask($"epoch {p.Epoch}", maxValue: p.Steps);
        task.Value = p.Step;
        string text = string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch,2}/{p.Epochs} loss {p.Loss:F4} acc {p.Accuracy:F4} {p.SamplesPerSecond,7:N0}/s");
        if (p.Completed is { } m)
        {
            text += string.Create(CultureInfo.InvariantCulture, $" | val acc {m.ValidationAccuracy:F4}");
            task.StopTask();
        }
        task.Description = Markup.Escape(text);
    }
}
