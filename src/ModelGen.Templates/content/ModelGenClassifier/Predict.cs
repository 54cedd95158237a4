// The predict command: loads the weights and the metadata 'train' saved with them, snapshots the model as its
// predictor (immutable, weights prepacked: what a deployment runs), and classifies each input. Nothing here uses
// reflection, so the command runs the same in the NativeAOT executable.
using System.Globalization;
using ModelGen.Data;
using ModelGen.Kernels;
using ModelGen.Serialization;

namespace ModelGenClassifier;

internal static class Prediction
{
    /// <summary>Runs the predict command; returns the exit code.</summary>
    public static int Run(string modelPath, string[] inputs)
    {
        if (!File.Exists(modelPath))
            throw new FileNotFoundException($"--model: '{modelPath}' does not exist (write it with 'train --out {modelPath}').", modelPath);
        var model = Classifier.Load(modelPath);   // checks every tensor's name and shape against Model.cs
        SafeTensors.ReadHeader(modelPath, out var metadata);
        string[] classes = ClassNames.Read(metadata, modelPath)
            ?? throw new InvalidDataException($"{modelPath}: no class names in its metadata ('{ClassNames.MetadataKey}'); save the weights with 'train'.");
        if (classes.Length > Classifier.OutputSize)
            throw new InvalidDataException($"{modelPath}: names {classes.Length} classes, but the model has {Classifier.OutputSize} outputs.");
        var predictor = model.CreatePredictor();
        var counts = new Counts();
#if (IsImage)
        var preprocessing = ImagePreprocessing.Read(metadata, modelPath)
            ?? throw new InvalidDataException($"{modelPath}: no image preprocessing in its metadata ('{ImagePreprocessing.MetadataKey}'); save the weights with 'train'.");
        if (preprocessing.ExampleLength != Classifier.InputSize)
            throw new InvalidDataException(
                $"{modelPath}: written for {preprocessing.Channels}x{preprocessing.Height}x{preprocessing.Width} images, but Classifier takes {string.Join("x", Classifier.InputShape.ToArray())}.");
        var image = new float[Classifier.InputSize];   // [channels, height, width]
        foreach (string file in ImageFiles(inputs))
        {
            preprocessing.Decode(file, image);
            // An image inside a folder named after a class (the ImageFolder layout) counts towards the accuracy line.
            string? folder = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(file)));
            Classify(predictor, image, classes, file, Array.IndexOf(classes, folder), counts);
        }
#else
        var schema = TabularSchema.Read(metadata, modelPath)
            ?? throw new InvalidDataException($"{modelPath}: no CSV schema in its metadata ('{TabularSchema.MetadataKey}'); save the weights with 'train'.");
        if (schema.FeatureLength != Classifier.InputSize)
            throw new InvalidDataException($"{modelPath}: its schema encodes {schema.FeatureLength} features, but Classifier takes {Classifier.InputSize}.");
        foreach (string file in inputs)
        {
            var table = CsvTable.Read(file);
            float[] rows = schema.EncodeFeatures(table);   // [table.Count, FeatureLength], the training statistics applied
            int labelColumn = table.Columns.ToList().IndexOf(schema.LabelColumn);   // optional: -1 when absent
            for (int r = 0; r < table.Count; r++)
            {
                int label = labelColumn < 0 ? -1 : Array.IndexOf(classes, table.Cell(r, labelColumn));
                Classify(predictor, rows.AsSpan(r * Classifier.InputSize, Classifier.InputSize), classes,
                         $"{file}:{table.LineNumber(r).ToString(CultureInfo.InvariantCulture)}", label, counts);
            }
        }
#endif
        if (counts.Labelled > 0)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"accuracy: {(double)counts.Correct / counts.Labelled:F4} ({counts.Correct}/{counts.Labelled} labelled inputs)"));
        return 0;
    }

    /// <summary>Running totals over the inputs whose class is known.</summary>
    private sealed class Counts
    {
        public int Labelled, Correct;
    }

    /// <summary>Prints "name: class (p 0.XXXX)" for one input; <paramref name="label"/> is its known class index or -1.</summary>
    private static void Classify(Classifier.Predictor predictor, ReadOnlySpan<float> input, string[] classes, string name, int label, Counts counts)
    {
        Span<float> logits = stackalloc float[Classifier.OutputSize];
        Span<float> probabilities = stackalloc float[Classifier.OutputSize];
        predictor.Predict(input, logits);
        Softmax.Forward(logits, probabilities, rows: 1, cols: Classifier.OutputSize);
        // Only the data set's classes compete: outputs beyond them were never a training target.
        int best = 0;
        for (int c = 1; c < classes.Length; c++)
            if (probabilities[c] > probabilities[best]) best = c;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {classes[best]} (p {probabilities[best]:F4})"));
        if (label < 0) return;
        counts.Labelled++;
        if (label == best) counts.Correct++;
    }
#if (IsImage)

    /// <summary>The inputs with folders expanded to their image files (recursively, in ordinal order).</summary>
    private static IEnumerable<string> ImageFiles(string[] inputs)
    {
        foreach (string input in inputs)
        {
            if (File.Exists(input))
            {
                yield return input;
                continue;
            }
            if (!Directory.Exists(input)) throw new FileNotFoundException($"'{input}' is neither a file nor a folder.", input);
            var files = Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
                .Where(f => ImageFolder.Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new InvalidDataException($"{input}: no .png, .jpg, .jpeg or .bmp files in it or below it.");
            foreach (string file in files) yield return file;
        }
    }
#endif
}
