// What turns CSV rows into model inputs, fitted on the training rows only: for each feature column, numeric
// (standardised with the training mean and population standard deviation, as scikit-learn's StandardScaler) or
// categorical (one-hot over the training categories in ordinal order; unseen categories give all zeros, as
// OneHotEncoder(handle_unknown="ignore")); and the label (class names, or a regression target). Saved with the model as
// one metadata entry ("modelgen.tabular", JSON), so prediction applies exactly the training statistics.
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ModelGen.Data;

/// <summary>One feature column of a <see cref="TabularSchema"/>.</summary>
/// <param name="Column">The CSV column name.</param>
/// <param name="Categories">For a categorical column its training categories in one-hot order; <see langword="null"/> for a numeric column.</param>
/// <param name="Mean">A numeric column's training mean (0 when not standardised or categorical).</param>
/// <param name="Std">A numeric column's training population standard deviation (1 when constant, not standardised or categorical).</param>
public sealed record TabularFeature(string Column, IReadOnlyList<string>? Categories, double Mean, double Std)
{
    /// <summary>Whether the column is one-hot encoded.</summary>
    public bool IsCategorical => Categories is not null;

    /// <summary>Floats this column contributes to an example: 1, or the number of categories.</summary>
    public int Width => Categories?.Count ?? 1;
}

/// <summary>Options of <see cref="TabularSchema.Fit"/>.</summary>
public sealed class TabularOptions
{
    /// <summary>Columns to one-hot encode even if their values are numbers (e.g. codes). Others are inferred: numeric when every value is a number.</summary>
    public IReadOnlyList<string> Categorical { get; init; } = [];

    /// <summary>Columns to leave out (e.g. an id).</summary>
    public IReadOnlyList<string> Ignore { get; init; } = [];

    /// <summary>Treat the label as a regression target (a number) instead of a class.</summary>
    public bool Regression { get; init; }

    /// <summary>Standardise numeric features with the training mean and standard deviation (default true).</summary>
    public bool Standardize { get; init; } = true;
}

/// <summary>
/// The preprocessing of a CSV table into a <see cref="Dataset"/>, fitted on training rows (see <see cref="Fit"/>) and then
/// applied unchanged to validation, test and prediction rows.
/// </summary>
/// <example>
/// <code>
/// var (trainRows, validationRows) = CsvTable.Read("iris.csv").Split(0.2, seed: 1, stratifyColumn: "species");
/// var schema = TabularSchema.Fit(trainRows, labelColumn: "species");
/// Dataset train = schema.ToDataset(trainRows), validation = schema.ToDataset(validationRows);
/// </code>
/// </example>
public sealed class TabularSchema
{
    /// <summary>The metadata key under which <see cref="AddTo"/> stores the schema as JSON.</summary>
    public const string MetadataKey = "modelgen.tabular";

    private TabularSchema(string labelColumn, string[]? classNames, TabularFeature[] features)
    {
        LabelColumn = labelColumn;
        ClassNames = classNames;
        Features = features;
        FeatureLength = features.Sum(f => f.Width);
    }

    /// <summary>The label column's name.</summary>
    public string LabelColumn { get; }

    /// <summary>The classes (label index = position), or <see langword="null"/> for a regression target.</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>The feature columns in file order.</summary>
    public IReadOnlyList<TabularFeature> Features { get; }

    /// <summary>Floats per example: the sum of the features' widths.</summary>
    public int FeatureLength { get; }

    /// <summary>
    /// Fits the schema on <paramref name="train"/>: every column except the label and the ignored ones is a feature;
    /// numeric when every value is a number (invariant culture) unless listed in <see cref="TabularOptions.Categorical"/>.
    /// Class names are the distinct label values, in numeric order when all are integers, else ordinal order.
    /// </summary>
    /// <exception cref="ArgumentException">The label column or a listed column does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// An empty cell; a column whose values are mostly numbers but not all (the message names the file, line, column and
    /// value; list the column in <see cref="TabularOptions.Categorical"/> if it is a category); a non-numeric or non-finite
    /// regression target; or no feature columns.
    /// </exception>
    public static TabularSchema Fit(CsvTable train, string labelColumn, TabularOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(labelColumn);
        options ??= new TabularOptions();
        int label = train.IndexOf(labelColumn);
        foreach (var name in options.Categorical.Concat(options.Ignore)) train.IndexOf(name);
        var features = new List<TabularFeature>();
        for (int c = 0; c < train.Columns.Count; c++)
        {
            string name = train.Columns[c];
            if (c == label || options.Ignore.Contains(name)) continue;
            var values = new double[train.Count];
            int numbers = 0, firstText = -1;
            for (int r = 0; r < train.Count; r++)
            {
                string cell = train.Cell(r, c);
                if (cell.Length == 0) throw MissingValue(train, r, name);
                if (TryNumber(cell, out values[r])) numbers++;
                else if (firstText < 0) firstText = r;
            }
            bool categorical = options.Categorical.Contains(name) || numbers < train.Count;
            if (categorical && !options.Categorical.Contains(name) && numbers * 2 > train.Count)
                throw new InvalidDataException(
                    $"{train.Source}: line {train.LineNumber(firstText)}: column '{name}' holds '{train.Cell(firstText, c)}', not a number, " +
                    $"though {numbers} of its {train.Count} values are numbers; fix the value, or list the column in TabularOptions.Categorical if it is a category.");
            if (categorical)
            {
                var categories = Enumerable.Range(0, train.Count).Select(r => train.Cell(r, c)).Distinct().Order(StringComparer.Ordinal).ToArray();
                features.Add(new TabularFeature(name, categories, 0, 1));
            }
            else
            {
                double mean = 0, std = 1;
                if (options.Standardize)
                {
                    mean = values.Average();
                    double variance = values.Sum(v => (v - mean) * (v - mean)) / values.Length;   // population (ddof 0), as StandardScaler
                    std = variance > 0 ? Math.Sqrt(variance) : 1;                                   // a constant column stays 0 after centring
                }
                features.Add(new TabularFeature(name, null, mean, std));
            }
        }
        if (features.Count == 0)
            throw new InvalidDataException($"{train.Source}: no feature columns besides the label '{labelColumn}'.");
        string[]? classes = null;
        if (!options.Regression)
        {
            var distinct = Enumerable.Range(0, train.Count).Select(r => train.Cell(r, label)).Distinct().ToArray();
            for (int r = 0; r < train.Count; r++)
                if (train.Cell(r, label).Length == 0) throw MissingValue(train, r, labelColumn);
            bool integers = distinct.All(v => long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out _));
            classes = integers
                ? [.. distinct.OrderBy(v => long.Parse(v, NumberStyles.Integer, CultureInfo.InvariantCulture))]
                : [.. distinct.Order(StringComparer.Ordinal)];
        }
        var schema = new TabularSchema(labelColumn, classes, [.. features]);
        if (options.Regression) schema.ToDataset(train);   // reports a non-numeric target now, with its line
        return schema;
    }

    /// <summary>
    /// Converts <paramref name="table"/> (training, validation or test rows with the same columns) into a dataset of
    /// <c>[FeatureLength]</c> examples: numeric features as <c>(x − mean) / std</c>, categorical ones one-hot (unseen
    /// categories all zero); labels as class indices, or targets <c>[1]</c> for regression.
    /// </summary>
    /// <exception cref="ArgumentException">A column of the schema is missing from the table.</exception>
    /// <exception cref="InvalidDataException">An empty cell, a non-numeric value in a numeric column or target, or a class not seen in training (the message names the file, line, column and value).</exception>
    public Dataset ToDataset(CsvTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        int label = table.IndexOf(LabelColumn);
        float[] inputs = EncodeFeatures(table);
        if (ClassNames is null)
        {
            var targets = new float[table.Count];
            for (int r = 0; r < table.Count; r++)
            {
                string cell = table.Cell(r, label);
                if (cell.Length == 0) throw MissingValue(table, r, LabelColumn);
                if (!TryNumber(cell, out double v))
                    throw new InvalidDataException($"{table.Source}: line {table.LineNumber(r)}: regression target '{LabelColumn}' is '{cell}', not a finite number.");
                targets[r] = (float)v;
            }
            return Dataset.FromArrays(inputs, targets, [FeatureLength], 1);
        }
        var classIndex = ClassNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        var labels = new int[table.Count];
        for (int r = 0; r < table.Count; r++)
        {
            string cell = table.Cell(r, label);
            if (!classIndex.TryGetValue(cell, out labels[r]))
                throw new InvalidDataException(
                    $"{table.Source}: line {table.LineNumber(r)}: label '{LabelColumn}' is '{cell}', a class the training rows do not have ({string.Join(", ", ClassNames)}).");
        }
        return Dataset.FromArrays(inputs, labels, [FeatureLength], ClassNames.Count, ClassNames);
    }

    /// <summary>
    /// Encodes the feature columns of every row of <paramref name="table"/> as <see cref="ToDataset"/> does, without
    /// needing the label column: for predicting on new rows. Row <c>r</c> is <c>[r * FeatureLength, (r + 1) * FeatureLength)</c>
    /// of the result: numeric features as <c>(x − mean) / std</c>, categorical ones one-hot (unseen categories all zero).
    /// </summary>
    /// <returns>[table.Count, FeatureLength] the encoded rows, row-major.</returns>
    /// <exception cref="ArgumentException">A feature column of the schema is missing from the table (the message lists the header).</exception>
    /// <exception cref="InvalidDataException">An empty cell or a non-numeric value in a numeric column (the message names the file, line, column and value).</exception>
    public float[] EncodeFeatures(CsvTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        int[] columns = [.. Features.Select(f => table.IndexOf(f.Column))];
        var inputs = new float[checked(table.Count * FeatureLength)];   // [rows, FeatureLength]
        for (int r = 0; r < table.Count; r++)
            Encode(table, r, columns, inputs.AsSpan(r * FeatureLength, FeatureLength));
        return inputs;
    }

    private void Encode(CsvTable table, int row, int[] columns, Span<float> output)
    {
        int at = 0;
        for (int f = 0; f < Features.Count; f++)
        {
            var feature = Features[f];
            string cell = table.Cell(row, columns[f]);
            if (cell.Length == 0) throw MissingValue(table, row, feature.Column);
            if (feature.Categories is { } categories)
            {
                var slots = output.Slice(at, categories.Count);
                slots.Clear();
                for (int k = 0; k < categories.Count; k++)
                    if (categories[k] == cell) slots[k] = 1;
                at += categories.Count;
            }
            else
            {
                if (!TryNumber(cell, out double v))
                    throw new InvalidDataException($"{table.Source}: line {table.LineNumber(row)}: column '{feature.Column}' is '{cell}', not a finite number (the column is numeric).");
                output[at++] = (float)((v - feature.Mean) / feature.Std);
            }
        }
    }

    /// <summary>Stores the schema in <paramref name="metadata"/> under <see cref="MetadataKey"/> (JSON), for saving with a model.</summary>
    public void AddTo(IDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("label", LabelColumn);
            if (ClassNames is not null)
            {
                json.WriteStartArray("classes");
                foreach (var n in ClassNames) json.WriteStringValue(n);
                json.WriteEndArray();
            }
            json.WriteStartArray("features");
            foreach (var f in Features)
            {
                json.WriteStartObject();
                json.WriteString("column", f.Column);
                if (f.Categories is { } categories)
                {
                    json.WriteStartArray("categories");
                    foreach (var c in categories) json.WriteStringValue(c);
                    json.WriteEndArray();
                }
                else
                {
                    json.WriteNumber("mean", f.Mean);   // round-trip formatting: the loaded schema is bit-identical
                    json.WriteNumber("std", f.Std);
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        metadata[MetadataKey] = Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The schema stored under <see cref="MetadataKey"/>, or <see langword="null"/> when there is none.</summary>
    /// <exception cref="InvalidDataException">The entry is not the JSON <see cref="AddTo"/> writes (the message names the file).</exception>
    public static TabularSchema? Read(IReadOnlyDictionary<string, string> metadata, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue(MetadataKey, out string? text)) return null;
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            string[]? classes = root.TryGetProperty("classes", out var c) ? [.. c.EnumerateArray().Select(e => e.GetString()!)] : null;
            var features = new List<TabularFeature>();
            foreach (var f in root.GetProperty("features").EnumerateArray())
            {
                string column = f.GetProperty("column").GetString()!;
                features.Add(f.TryGetProperty("categories", out var cats)
                    ? new TabularFeature(column, [.. cats.EnumerateArray().Select(e => e.GetString()!)], 0, 1)
                    : new TabularFeature(column, null, f.GetProperty("mean").GetDouble(), f.GetProperty("std").GetDouble()));
            }
            if (features.Count == 0 || features.Any(f => !(f.Std > 0))) throw new FormatException("no features, or a std that is not positive");
            return new TabularSchema(root.GetProperty("label").GetString()!, classes, [.. features]);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidDataException($"{sourceName}: metadata '{MetadataKey}' is not a valid tabular schema ({e.Message}).", e);
        }
    }

    private static bool TryNumber(string cell, out double value) =>
        double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    private static InvalidDataException MissingValue(CsvTable table, int row, string column) =>
        new($"{table.Source}: line {table.LineNumber(row)}: column '{column}' is empty; missing values are not supported (fill or drop them first).");
}
