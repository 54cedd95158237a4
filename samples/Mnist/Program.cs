// MNIST sample: trains a generated model on the 10,000 real digits vendored in data/ (7,996 train / 2,004 test),
// shows live progress, saves the weights as safetensors, reloads them into a fresh model and checks that the
// predictions are identical. The last line is exactly "test accuracy: 0.XXXX" (scripts read it).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Mnist;
using ModelGen;
using ModelGen.Data;
using ModelGen.Plotting;
using ModelGen.Serialization;
using Spectre.Console;

var modelOption = new Option<string>("--model") { Description = "Network to train: mlp, lenet or resnet", DefaultValueFactory = _ => "mlp" };
modelOption.AcceptOnlyFromAmong("mlp", "lenet", "resnet");
var epochsOption = new Option<int?>("--epochs") { Description = "Training epochs (default: the model's recipe: mlp 40, lenet 30, resnet 20)" };
var seedOption = new Option<int>("--seed") { Description = "Seed for initialisation, shuffling, augmentation and dropout", DefaultValueFactory = _ => 1 };
var batchOption = new Option<int>("--batch-size") { Description = "Minibatch size", DefaultValueFactory = _ => 64 };
var outOption = new Option<string?>("--out") { Description = "Where to save the trained weights (safetensors; default mnist-<model>.safetensors)" };
var shiftOption = new Option<int?>("--shift") { Description = "Random-shift augmentation in pixels, 0 turns it off (default: the recipe's, 2)" };
var dataOption = new Option<string>("--data") { Description = "Folder with the IDX files", DefaultValueFactory = _ => Path.Combine(AppContext.BaseDirectory, "data") };
var gradientsOption = new Option<bool>("--gradients") { Description = "Record per-layer gradient norms and update ratios; print the last epoch's table and any vanishing/exploding warnings" };
var plotsOption = new Option<string?>("--plots") { Description = "Write training curves and the test set's confusion matrix as SVG files into this folder, and print the metrics" };

var root = new RootCommand("Train a ModelGen network on real MNIST digits, save it, reload it and report test accuracy.")
{
    modelOption, epochsOption, seedOption, batchOption, shiftOption, outOption, dataOption, plotsOption, gradientsOption,
};
root.SetAction(parse =>
{
    var recipe = Recipe.For(parse.GetValue(modelOption)!);
    int epochs = parse.GetValue(epochsOption) ?? recipe.Epochs;
    int batchSize = parse.GetValue(batchOption);
    int shift = parse.GetValue(shiftOption) ?? recipe.Shift;
    if (epochs <= 0 || batchSize <= 0 || shift < 0)
    {
        Console.Error.WriteLine("--epochs and --batch-size must be positive, --shift not negative.");
        return 2;
    }
    string outPath = parse.GetValue(outOption) ?? $"mnist-{recipe.Name}.safetensors";
    return Run(recipe, epochs, parse.GetValue(seedOption), batchSize, shift, outPath, parse.GetValue(dataOption)!, parse.GetValue(plotsOption), parse.GetValue(gradientsOption));
});
return root.Parse(args).Invoke();

static int Run(Recipe recipe, int epochs, int seed, int batchSize, int shift, string outPath, string dataDir, string? plotsDir, bool gradients)
{
    var total = Stopwatch.StartNew();
    Dataset train, test;
    try
    {
        (train, test) = ModelGen.Data.Mnist.Load(dataDir);
    }
    catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
    {
        // One line naming the directory and the files it needs; a stack trace would bury it.
        Console.Error.WriteLine($"mnist: {e.Message}");
        return 3;
    }
    Console.WriteLine($"MNIST: {train.Count:N0} training and {test.Count:N0} test digits from {dataDir}");

    var model = recipe.Create(seed);
    Console.WriteLine(recipe.Summary);
    Console.WriteLine($"Recipe: {recipe.Describe}, batch {batchSize}, {epochs} epochs, random shifts of up to {shift} pixels, seed {seed}");

    var trainer = new Trainer(model, recipe.Optimizer(), recipe.Loss, recipe.Schedule);
    // The per-epoch "validation" columns here are computed on the test set, so the best epoch is not restored from them
    // (that would pick the weights by their test score); --plots also computes the per-epoch metrics for the curves.
    var options = new FitOptions
    {
        Seed = (ulong)seed, Augmentation = shift > 0 ? new RandomShift(shift) : null, RestoreBestWeights = false,
        ComputeMetrics = plotsDir is not null, TrackGradients = gradients,
    };
    var history = TrainWithProgress(trainer, train, test, epochs, batchSize, options);

    var evaluation = trainer.Evaluate(test);
    double trainSeconds = history.Epochs.Sum(e => e.Elapsed.TotalSeconds);
    Console.WriteLine($"Trained {history.Epochs.Count} epochs in {trainSeconds:F1} s; test loss {evaluation.Loss:F4}");
    if (gradients && history.Epochs[^1].Gradients is { } last)
    {
        foreach (var epoch in history.Epochs)
            foreach (string warning in epoch.Gradients?.Warnings ?? [])
                Console.WriteLine($"warning: {warning}");
        Console.WriteLine(last.ToTable());
    }
    if (plotsDir is not null)
    {
        var report = Metrics.Classification(model, test);
        Console.WriteLine(report.ToTable("test"));
        Console.WriteLine(report.ConfusionMatrixTable("test"));
        var files = TrainingPlots.WriteTrainingCurves(history, plotsDir, validationSet: "test").ToList();
        files.Add(TrainingPlots.WriteConfusionMatrix(report, Path.Combine(plotsDir, "confusion_matrix.svg"), "test"));
        Console.WriteLine($"Wrote {files.Count} plots to {plotsDir}: {string.Join(", ", files.Select(Path.GetFileName))}");
    }

    model.Save(outPath);
    var reloaded = recipe.Create(0);
    reloaded.Load(outPath);
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

static int ComparePredictions(IFeedForwardModel a, IFeedForwardModel b, Dataset data)
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

/// <summary>A network of this sample and how it is trained.</summary>
sealed record Recipe(string Name, Func<int, ITrainable> Create, string Summary, int Epochs, int Shift, string Describe,
    Func<Optimizer> Optimizer, Loss Loss, Schedule Schedule)
{
    public static Recipe For(string name) => name switch
    {
        // The issue's reference recipe (Adam 1e-3, cosine decay, batch 64, shifts of up to 2 pixels) reaches 96.2-96.4%
        // here, as libtorch does with identical batches; He init and 40 epochs give 97.0-97.4% (tools/reference/mnist-check).
        "mlp" => new("mlp", seed => new MnistMlp(seed), MnistMlp.Summary(), 40, 2, "Adam(lr 1e-3), cosine decay, He init",
            () => new Adam(1e-3f), Loss.CrossEntropy, Schedule.Cosine()),
        "lenet" => new("lenet", seed => new LeNet5(seed), LeNet5.Summary(), 30, 2, "AdamW(lr 2e-3, wd 5e-4), warm-up + cosine, label smoothing 0.1",
            () => new AdamW(2e-3f, weightDecay: 5e-4f), Loss.CrossEntropyWithLabelSmoothing(0.1f), Schedule.WarmupCosine(200)),
        "resnet" => new("resnet", seed => new MnistResNet(seed), MnistResNet.Summary(), 20, 3, "AdamW(lr 3e-3, wd 5e-4), warm-up + cosine, label smoothing 0.1",
            () => new AdamW(3e-3f, weightDecay: 5e-4f), Loss.CrossEntropyWithLabelSmoothing(0.1f), Schedule.WarmupCosine(200)),
        _ => throw new ArgumentException($"Unknown model '{name}'"),
    };
}

/// <summary>One line per epoch, for logs and pipes.</summary>
sealed class PlainProgress : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress p)
    {
        if (p.Completed is { } m)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {m.Epoch,2}/{p.Epochs}  train loss {m.TrainLoss:F4}  train acc {m.TrainAccuracy:F4}  test loss {m.ValidationLoss:F4}  test acc {m.ValidationAccuracy:F4}  {m.SamplesPerSecond,8:N0} samples/s  {m.Elapsed.TotalSeconds:F1} s"));
    }
}

/// <summary>A live bar per epoch with loss, accuracy and throughput in its description.</summary>
sealed class SpectreProgress(ProgressContext context, ProgressTask?[] tasks) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress p)
    {
        var task = tasks[p.Epoch] ??= context.AddTask($"epoch {p.Epoch}", maxValue: p.Steps);
        task.Value = p.Step;
        string text = string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch,2}/{p.Epochs} train loss {p.Loss:F4} train acc {p.Accuracy:F4} {p.SamplesPerSecond,7:N0}/s");
        if (p.Completed is { } m)
        {
            text += string.Create(CultureInfo.InvariantCulture, $" | test acc {m.ValidationAccuracy:F4}");
            task.StopTask();
        }
        task.Description = Markup.Escape(text);
    }
}
