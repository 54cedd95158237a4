// Image classifier sample: trains a generated network on an image folder (one sub-folder per class, PNG/JPEG/BMP),
// with a validation split taken from the training images and a test set that is either --test DIR or a held-out
// split of --data. Saves the weights with the class names and the preprocessing in the file's metadata. The last line
// is exactly "test accuracy: 0.XXXX" (scripts read it).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ImageClassifier;
using ModelGen;
using ModelGen.Data;
using ModelGen.Plotting;
using ModelGen.Serialization;

var dataOption = new Option<string>("--data") { Description = "Training image folder: one sub-folder per class", Required = true };
var testOption = new Option<string?>("--test") { Description = "Test image folder with the same classes (default: hold out 20% of --data, stratified)" };
var sizeOption = new Option<string>("--size") { Description = "Model input size HxW; images are resized to it (declared: 28x28, 32x32)", DefaultValueFactory = _ => "28x28" };
var greyOption = new Option<bool>("--grayscale") { Description = "Convert images to one grey channel (default: RGB)" };
var modelOption = new Option<string>("--model") { Description = "Network: lenet or resnet", DefaultValueFactory = _ => "lenet" };
modelOption.AcceptOnlyFromAmong("lenet", "resnet");
var epochsOption = new Option<int>("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => 10 };
var seedOption = new Option<int>("--seed") { Description = "Seed for the splits, initialisation, shuffling and augmentation", DefaultValueFactory = _ => 1 };
var batchOption = new Option<int>("--batch-size") { Description = "Minibatch size", DefaultValueFactory = _ => 64 };
var validationOption = new Option<double>("--validation") { Description = "Share of the training images held out for validation", DefaultValueFactory = _ => 0.1 };
var outOption = new Option<string?>("--out") { Description = "Where to save the weights (safetensors; default image-<model>.safetensors)" };
var plotsOption = new Option<string?>("--plots") { Description = "Write the training curves (train vs validation) and the test set's confusion matrix as SVG files into this folder" };

var root = new RootCommand("Train a ModelGen network on an image folder and report its test accuracy.")
{
    dataOption, testOption, sizeOption, greyOption, modelOption, epochsOption, seedOption, batchOption, validationOption, outOption, plotsOption,
};
root.SetAction(parse =>
{
    var settings = new Settings(parse.GetValue(dataOption)!, parse.GetValue(testOption), parse.GetValue(sizeOption)!,
        parse.GetValue(greyOption), parse.GetValue(modelOption)!, parse.GetValue(epochsOption), parse.GetValue(seedOption),
        parse.GetValue(batchOption), parse.GetValue(validationOption), parse.GetValue(outOption) ?? $"image-{parse.GetValue(modelOption)}.safetensors",
        parse.GetValue(plotsOption));
    try
    {
        return Run(settings);
    }
    catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or UsageException)
    {
        // One line naming the file or option; a stack trace would bury it.
        Console.Error.WriteLine($"imageclassifier: {e.Message}");
        return e is UsageException ? 2 : 3;
    }
});
return root.Parse(args).Invoke();

static int Run(Settings s)
{
    var total = Stopwatch.StartNew();
    if (s.Epochs <= 0 || s.BatchSize <= 0) throw new UsageException("--epochs and --batch-size must be positive.");
    if (!(s.Validation > 0 && s.Validation < 1)) throw new UsageException($"--validation {s.Validation}: expected a fraction between 0 and 1.");
    var (height, width) = Networks.ParseSize(s.Size);
    var network = Networks.Find(s.Model, s.Grayscale ? 1 : 3, height, width);
    var preprocessing = new ImagePreprocessing(s.Grayscale ? 1 : 3, height, width);

    var clock = Stopwatch.StartNew();
    Dataset all = ImageFolder.Load(s.Data, preprocessing);
    if (all.ClassCount > ModelSizes.Classes)
        throw new UsageException($"{s.Data} has {all.ClassCount} classes, but the models are declared with {ModelSizes.Classes} outputs (ModelSizes.Classes in Models.cs).");
    Dataset trainAll, test;
    string testSource;
    if (s.Test is not null)
    {
        (trainAll, test) = (all, ImageFolder.Load(s.Test, preprocessing, all.ClassNames));
        testSource = s.Test;
    }
    else
    {
        // The test images are set aside first; the validation split below is drawn from what is left.
        (trainAll, test) = all.Split(0.2, (ulong)s.Seed);
        testSource = $"20% of {s.Data} held out";
    }
    var (train, validation) = trainAll.Split(s.Validation, (ulong)s.Seed + 1);
    Console.WriteLine($"Classes ({all.ClassCount}): {string.Join(", ", all.ClassNames!)}");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Images as {preprocessing.Channels}x{height}x{width} (bilinear resize): {train.Count:N0} train, {validation.Count:N0} validation ({s.Validation * 100:0.#}% of the training images), {test.Count:N0} test ({testSource}); decoded in {clock.Elapsed.TotalSeconds:F1} s"));

    var model = network.Create(s.Seed);
    Console.WriteLine(network.Summary);
    Console.WriteLine($"Recipe: {network.Recipe}, batch {s.BatchSize}, {s.Epochs} epochs, random shifts of up to 2 pixels, seed {s.Seed}");
    var trainer = new Trainer(model, network.Optimizer(), network.Loss, network.Schedule);
    // The validation split picks the best epoch (restored at the end); --plots also computes per-epoch metrics for the curves.
    var options = new FitOptions { Seed = (ulong)s.Seed, Augmentation = new RandomShift(2), ComputeMetrics = s.Plots is not null };
    var history = trainer.Fit(train, s.Epochs, s.BatchSize, validation, options, new MetricsReport());

    var evaluation = trainer.Evaluate(test);
    MetricsReport.PrintTest(history, evaluation);
    var report = Metrics.Classification(model, test, topK: Math.Min(5, ModelSizes.Classes), classNames: ClassNamesForOutputs(all.ClassNames!));
    MetricsReport.PrintClassification(report);
    if (s.Plots is not null)
    {
        var files = TrainingPlots.WriteTrainingCurves(history, s.Plots, validationSet: "validation").ToList();
        files.Add(TrainingPlots.WriteConfusionMatrix(report, Path.Combine(s.Plots, "confusion_matrix.svg"), "test"));
        Console.WriteLine($"Wrote {files.Count} plots to {s.Plots}: {string.Join(", ", files.Select(Path.GetFileName))}");
    }
    var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["imageclassifier.model"] = network.Name };
    ClassNames.Add(metadata, all.ClassNames!);
    preprocessing.AddTo(metadata);
    model.Save(s.Out, metadata);
    Console.WriteLine($"Saved {s.Out} ({new FileInfo(s.Out).Length:N0} bytes) with the class names and preprocessing; total time {total.Elapsed.TotalSeconds:F1} s");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test accuracy: {evaluation.Accuracy:F4}"));
    return 0;
}

// The models have ModelSizes.Classes outputs; a folder with fewer classes leaves the spare ones unnamed (and untrained).
static string[] ClassNamesForOutputs(IReadOnlyList<string> classes) =>
    Enumerable.Range(0, ModelSizes.Classes).Select(c => c < classes.Count ? classes[c] : $"(unused {c})").ToArray();

/// <summary>The command line's values.</summary>
sealed record Settings(string Data, string? Test, string Size, bool Grayscale, string Model, int Epochs, int Seed, int BatchSize, double Validation, string Out, string? Plots);

/// <summary>A bad option value: reported as one line, exit code 2.</summary>
sealed class UsageException(string message) : Exception(message);

/// <summary>
/// All the sample's printing of training metrics, in one place: a header naming the sets, one line per epoch, the test
/// summary, the per-class metrics and the confusion matrix.
/// </summary>
sealed class MetricsReport : IProgress<TrainingProgress>
{
    private bool _headerPrinted;

    public void Report(TrainingProgress p)
    {
        if (p.Completed is not { } m) return;
        if (!_headerPrinted)
        {
            Console.WriteLine("epoch  train loss  train acc  val loss  val acc   (val = the validation split of the training images)");
            _headerPrinted = true;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{m.Epoch,5}  {m.TrainLoss,10:F4}  {m.TrainAccuracy,9:F4}  {m.ValidationLoss,8:F4}  {m.ValidationAccuracy,7:F4}   {m.SamplesPerSecond,8:N0} samples/s  {m.Elapsed.TotalSeconds:F1} s"));
    }

    /// <summary>Per-class precision, recall and F1 and the confusion matrix of the test set, as terminal tables.</summary>
    public static void PrintClassification(ClassificationReport report)
    {
        Console.WriteLine(report.ToTable("test"));
        Console.WriteLine(report.ConfusionMatrixTable("test"));
    }

    public static void PrintTest(TrainingHistory history, Evaluation test)
    {
        double seconds = history.Epochs.Sum(e => e.Elapsed.TotalSeconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Trained {history.Epochs.Count} epochs in {seconds:F1} s; test loss {test.Loss:F4}, test accuracy {test.Accuracy:F4} on {test.Count:N0} images"));
    }
}
