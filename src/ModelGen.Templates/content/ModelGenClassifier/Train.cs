// The train command: loads the data, holds out a stratified validation split, standardises the inputs with the
// training split's statistics (per image channel, or per CSV column), trains Classifier with AdamW and a
// cosine schedule (the best epoch by validation loss is kept), and saves the weights with the class names and the
// preprocessing in the file's metadata. The recipe is a starting point: change it here.
using System.Globalization;
using ModelGen;
using ModelGen.Data;
using ModelGen.Serialization;

namespace ModelGenClassifier;

/// <summary>The train command's options.</summary>
/// <param name="Label">The CSV label column (<see langword="null"/> for image folders).</param>
internal sealed record TrainSettings(string Data, string? Label, int Epochs, int Seed, int BatchSize, double Validation, string Out);

/// <summary>A bad option value or a data set the model does not fit: reported as one line, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

internal static class Training
{
    /// <summary>Runs the train command; returns the exit code.</summary>
    public static int Run(TrainSettings s)
    {
        if (s.Epochs <= 0) throw new UsageException($"--epochs {s.Epochs}: expected a positive number.");
        if (s.BatchSize <= 0) throw new UsageException($"--batch-size {s.BatchSize}: expected a positive number.");
        if (!(s.Validation > 0 && s.Validation < 1)) throw new UsageException($"--validation {s.Validation}: expected a fraction between 0 and 1.");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
#if (IsImage)
        var shape = Classifier.InputShape;   // [channels, height, width], declared in Model.cs
        Dataset all = ImageFolder.Load(s.Data, new ImagePreprocessing(shape[0], shape[1], shape[2]));   // pixels in [0, 1]
        IReadOnlyList<string> classes = all.ClassNames!;
        CheckClassCount(classes, s.Data);
        var (train, validation) = all.Split(s.Validation, (ulong)s.Seed);
        // Per-channel standardisation with the training split's statistics, saved with the weights so that predict's
        // decoder applies exactly the same (x - mean) / std.
        var preprocessing = Standardize(train, validation, shape[0], shape[1], shape[2]);
        preprocessing.AddTo(metadata);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{s.Data}: {all.Count:N0} images as {shape[0]}x{shape[1]}x{shape[2]}, {classes.Count} classes ({string.Join(", ", classes)}); {train.Count:N0} train, {validation.Count:N0} validation"));
#else
        var table = CsvTable.Read(s.Data);
        // The split comes first so the normalisation statistics are computed on the training rows only.
        var (trainRows, validationRows) = table.Split(s.Validation, (ulong)s.Seed, stratifyColumn: s.Label!);
        var schema = TabularSchema.Fit(trainRows, s.Label!);
        IReadOnlyList<string> classes = schema.ClassNames!;
        if (schema.FeatureLength != Classifier.InputSize)
            throw new UsageException(
                $"{s.Data}: the rows encode to {schema.FeatureLength} features ({Describe(schema)}), but Classifier in Model.cs takes {Classifier.InputSize}: " +
                $"declare it as [Model({schema.FeatureLength})] and rebuild.");
        CheckClassCount(classes, s.Data);
        Dataset train = schema.ToDataset(trainRows), validation = schema.ToDataset(validationRows);
        schema.AddTo(metadata);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{s.Data}: {table.Count:N0} rows, {schema.FeatureLength} features, label '{schema.LabelColumn}' with {classes.Count} classes ({string.Join(", ", classes)}); {train.Count:N0} train, {validation.Count:N0} validation"));
#endif
        ClassNames.Add(metadata, classes);

        var model = new Classifier(s.Seed);
        var trainer = new Trainer(model, new AdamW(2e-3f, weightDecay: 1e-4f), Loss.CrossEntropy, Schedule.Cosine());
        var history = trainer.Fit(train, s.Epochs, s.BatchSize, validation, new FitOptions { Seed = (ulong)s.Seed }, new EpochPrinter());
        var evaluation = trainer.Evaluate(validation);
        model.Save(s.Out, metadata);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Saved {s.Out} (epoch {history.BestEpoch}, the best by validation loss) with the class names and preprocessing"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"validation accuracy: {evaluation.Accuracy:F4}"));
        return 0;
    }

    /// <summary>The model's output count is fixed at compile time; a data set may use fewer classes (the spare logits stay untrained), not more.</summary>
    private static void CheckClassCount(IReadOnlyList<string> classes, string source)
    {
        if (classes.Count > Classifier.OutputSize)
            throw new UsageException(
                $"{source} has {classes.Count} classes, but Classifier in Model.cs has {Classifier.OutputSize} outputs: set its last layer to [Dense({classes.Count})] and rebuild.");
    }
#if (IsImage)

    /// <summary>
    /// Computes each channel's mean and population standard deviation over <paramref name="train"/> (a constant channel
    /// gets std 1), standardises both sets in place as <see cref="ImagePreprocessing"/> does, and returns the
    /// preprocessing that does the same for new images.
    /// </summary>
    private static ImagePreprocessing Standardize(Dataset train, Dataset validation, int channels, int height, int width)
    {
        int plane = height * width;
        var mean = new float[channels];
        var std = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double sum = 0, squares = 0;   // double: millions of pixels would lose float precision
            for (int i = 0; i < train.Count; i++)
                foreach (float v in train.Example(i).Slice(c * plane, plane)) { sum += v; squares += (double)v * v; }
            double n = (double)train.Count * plane, m = sum / n;
            double sd = Math.Sqrt(Math.Max(squares / n - m * m, 0));
            mean[c] = (float)m;
            std[c] = sd > 1e-6 ? (float)sd : 1f;
        }
        foreach (var set in new[] { train, validation })
            for (int i = 0; i < set.Count; i++)
                for (int c = 0; c < channels; c++)
                {
                    var values = set.Inputs.AsSpan(i * set.ExampleLength + c * plane, plane);   // [height, width]
                    for (int k = 0; k < values.Length; k++) values[k] = (values[k] - mean[c]) / std[c];
                }
        return new ImagePreprocessing(channels, height, width, mean, std);
    }
#else

    /// <summary>How the features add up, e.g. "age, income, city (3 categories)".</summary>
    private static string Describe(TabularSchema schema) =>
        string.Join(", ", schema.Features.Select(f => f.IsCategorical ? $"{f.Column} ({f.Width} categories)" : f.Column));
#endif
}

/// <summary>Prints one line per epoch: the training set's loss and accuracy as the epoch saw them, then the validation split's.</summary>
internal sealed class EpochPrinter : IProgress<TrainingProgress>
{
    private bool _headerPrinted;

    public void Report(TrainingProgress p)
    {
        if (p.Completed is not { } m) return;
        if (!_headerPrinted)
        {
            Console.WriteLine("epoch  train loss  train acc  val loss  val acc");
            _headerPrinted = true;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{m.Epoch,5}  {m.TrainLoss,10:F4}  {m.TrainAccuracy,9:F4}  {m.ValidationLoss,8:F4}  {m.ValidationAccuracy,7:F4}   {m.SamplesPerSecond,8:N0} samples/s  {m.Elapsed.TotalSeconds:F1} s"));
    }
}
