// Classification metrics as scikit-learn defines them (precision_recall_fscore_support, confusion_matrix,
// top_k_accuracy_score), accumulated batch by batch: the accumulator holds a confusion matrix and a top-k count,
// so adding a batch allocates nothing and a report is computed from the counts at the end.
using System.Globalization;
using System.Text;

namespace ModelGen;

/// <summary>
/// Accumulates a confusion matrix and top-k hits over batches of model outputs (logits or probabilities) and class labels.
/// <see cref="Add"/> allocates nothing; <see cref="Report"/> computes the metrics. Not thread-safe.
/// </summary>
public sealed class ClassificationMetrics
{
    private readonly long[] _confusion;   // [ClassCount, ClassCount]: row = label (actual), column = prediction
    private long _topKHits;

    /// <summary>Creates an empty accumulator.</summary>
    /// <param name="classCount">Number of classes, which is the width of each output row (&gt; 0).</param>
    /// <param name="topK">The k of top-k accuracy (&gt; 0; default 5, as Keras' <c>top_k_categorical_accuracy</c>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classCount"/> or <paramref name="topK"/> is not positive.</exception>
    public ClassificationMetrics(int classCount, int topK = 5)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(topK);
        ClassCount = classCount;
        TopK = topK;
        _confusion = new long[checked(classCount * classCount)];
    }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>The k of top-k accuracy.</summary>
    public int TopK { get; }

    /// <summary>Examples counted so far (ignored labels excluded).</summary>
    public long Count { get; private set; }

    /// <summary>
    /// Counts a batch: the prediction of row i is the index of its largest output (the first of ties), and the row is a
    /// top-k hit when fewer than <see cref="TopK"/> outputs are strictly larger than the label's. A negative label is
    /// ignored (PyTorch's <c>ignore_index</c> is -100).
    /// </summary>
    /// <param name="outputs">[labels.Length, ClassCount] outputs of the model.</param>
    /// <param name="labels">[batch] class labels in [0, ClassCount), or negative to ignore the row.</param>
    /// <exception cref="ArgumentException"><paramref name="outputs"/> is not labels.Length × ClassCount long, or a label is ClassCount or more (nothing is counted then).</exception>
    public void Add(ReadOnlySpan<float> outputs, ReadOnlySpan<int> labels)
    {
        int width = ClassCount;
        if (outputs.Length != (long)labels.Length * width)
            throw new ArgumentException($"'outputs' has {outputs.Length} floats, expected {labels.Length} labels × {width} classes = {(long)labels.Length * width}.", nameof(outputs));
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= width)
                throw new ArgumentException($"Label {labels[i]} at row {i} is not a class index: expected 0 to {width - 1} (or negative to ignore the row).", nameof(labels));
        for (int i = 0; i < labels.Length; i++)
        {
            int label = labels[i];
            if (label < 0) continue;
            ReadOnlySpan<float> row = outputs.Slice(i * width, width);
            int predicted = 0, above = 0;
            float target = row[label];
            for (int j = 0; j < width; j++)
            {
                if (row[j] > row[predicted]) predicted = j;
                if (row[j] > target) above++;
            }
            _confusion[label * width + predicted]++;
            if (above < TopK) _topKHits++;
            Count++;
        }
    }

    /// <summary>Forgets every counted example.</summary>
    public void Reset()
    {
        Array.Clear(_confusion);
        _topKHits = 0;
        Count = 0;
    }

    /// <summary>The metrics of the examples counted so far.</summary>
    /// <param name="classNames">Names of the classes for the tables (default "0", "1", ...); must have <see cref="ClassCount"/> entries.</param>
    /// <exception cref="ArgumentException"><paramref name="classNames"/> has another length.</exception>
    public ClassificationReport Report(IReadOnlyList<string>? classNames = null)
    {
        if (classNames is not null && classNames.Count != ClassCount)
            throw new ArgumentException($"{classNames.Count} class names given for {ClassCount} classes.", nameof(classNames));
        var names = new string[ClassCount];
        for (int c = 0; c < ClassCount; c++) names[c] = classNames?[c] ?? c.ToString(CultureInfo.InvariantCulture);
        var matrix = new long[ClassCount, ClassCount];
        for (int a = 0; a < ClassCount; a++)
            for (int p = 0; p < ClassCount; p++) matrix[a, p] = _confusion[a * ClassCount + p];
        return new ClassificationReport(matrix, names, TopK, _topKHits);
    }
}

/// <summary>
/// Classification metrics of a set of examples, as scikit-learn computes them: per class precision = TP / (TP + FP),
/// recall = TP / (TP + FN) and F1 = 2·P·R / (P + R), each 0 when its denominator is 0 (<c>zero_division=0</c>); macro
/// averages are unweighted means over the classes that occur as a label or a prediction (scikit-learn's default labels),
/// weighted averages weight each class by its support (number of true examples).
/// </summary>
public sealed class ClassificationReport
{
    private readonly long[,] _confusion;

    internal ClassificationReport(long[,] confusion, string[] classNames, int topK, long topKHits)
    {
        _confusion = confusion;
        ClassNames = classNames;
        int classes = classNames.Length;
        ClassCount = classes;
        TopK = topK;
        var precision = new double[classes];
        var recall = new double[classes];
        var f1 = new double[classes];
        var support = new long[classes];
        long total = 0, correct = 0;
        int present = 0;
        double macroP = 0, macroR = 0, macroF = 0, weightedP = 0, weightedR = 0, weightedF = 0;
        for (int c = 0; c < classes; c++)
        {
            long tp = confusion[c, c], actual = 0, predicted = 0;
            for (int k = 0; k < classes; k++)
            {
                actual += confusion[c, k];
                predicted += confusion[k, c];
            }
            support[c] = actual;
            total += actual;
            correct += tp;
            precision[c] = predicted == 0 ? 0 : (double)tp / predicted;
            recall[c] = actual == 0 ? 0 : (double)tp / actual;
            f1[c] = precision[c] + recall[c] == 0 ? 0 : 2 * precision[c] * recall[c] / (precision[c] + recall[c]);
            if (actual + predicted > 0)
            {
                present++;
                macroP += precision[c];
                macroR += recall[c];
                macroF += f1[c];
            }
            weightedP += precision[c] * actual;
            weightedR += recall[c] * actual;
            weightedF += f1[c] * actual;
        }
        Precision = precision;
        Recall = recall;
        F1 = f1;
        Support = support;
        Count = total;
        Accuracy = total == 0 ? double.NaN : (double)correct / total;
        TopKAccuracy = total == 0 ? double.NaN : (double)topKHits / total;
        MacroPrecision = present == 0 ? double.NaN : macroP / present;
        MacroRecall = present == 0 ? double.NaN : macroR / present;
        MacroF1 = present == 0 ? double.NaN : macroF / present;
        WeightedPrecision = total == 0 ? double.NaN : weightedP / total;
        WeightedRecall = total == 0 ? double.NaN : weightedR / total;
        WeightedF1 = total == 0 ? double.NaN : weightedF / total;
    }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>Class names, as given to <see cref="ClassificationMetrics.Report"/> (default "0", "1", ...).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Examples counted.</summary>
    public long Count { get; }

    /// <summary>The k of <see cref="TopKAccuracy"/>.</summary>
    public int TopK { get; }

    /// <summary>Fraction of examples whose prediction is the label (NaN without examples).</summary>
    public double Accuracy { get; }

    /// <summary>Fraction of examples whose label is among the <see cref="TopK"/> largest outputs (NaN without examples).</summary>
    public double TopKAccuracy { get; }

    /// <summary>Per-class precision [ClassCount].</summary>
    public IReadOnlyList<double> Precision { get; }

    /// <summary>Per-class recall [ClassCount].</summary>
    public IReadOnlyList<double> Recall { get; }

    /// <summary>Per-class F1 [ClassCount].</summary>
    public IReadOnlyList<double> F1 { get; }

    /// <summary>Per-class support (examples whose label is the class) [ClassCount].</summary>
    public IReadOnlyList<long> Support { get; }

    /// <summary>Unweighted mean precision over the classes that occur (as label or prediction).</summary>
    public double MacroPrecision { get; }

    /// <summary>Unweighted mean recall over the classes that occur.</summary>
    public double MacroRecall { get; }

    /// <summary>Unweighted mean F1 over the classes that occur.</summary>
    public double MacroF1 { get; }

    /// <summary>Support-weighted mean precision.</summary>
    public double WeightedPrecision { get; }

    /// <summary>Support-weighted mean recall.</summary>
    public double WeightedRecall { get; }

    /// <summary>Support-weighted mean F1.</summary>
    public double WeightedF1 { get; }

    /// <summary>Examples whose label is <paramref name="actual"/> and whose prediction is <paramref name="predicted"/>.</summary>
    /// <exception cref="IndexOutOfRangeException">A class index is outside [0, ClassCount).</exception>
    public long Confusion(int actual, int predicted) => _confusion[actual, predicted];

    /// <summary>The value of <paramref name="metric"/>, or NaN for a metric that is not a classification metric (the loss, MAE, RMSE, R²).</summary>
    public double Value(Metric metric) => metric switch
    {
        Metric.Accuracy => Accuracy,
        Metric.TopKAccuracy => TopKAccuracy,
        Metric.MacroPrecision => MacroPrecision,
        Metric.MacroRecall => MacroRecall,
        Metric.MacroF1 => MacroF1,
        Metric.WeightedPrecision => WeightedPrecision,
        Metric.WeightedRecall => WeightedRecall,
        Metric.WeightedF1 => WeightedF1,
        _ => double.NaN,
    };

    /// <summary>
    /// The per-class table (scikit-learn's <c>classification_report</c> layout): a row per class with precision, recall, F1
    /// and support, then accuracy, top-k accuracy and the macro and weighted averages, headed by <paramref name="set"/>.
    /// </summary>
    /// <param name="set">Which data the numbers come from, e.g. "validation" or "test"; printed in the header.</param>
    public string ToTable(string set)
    {
        int nameWidth = Math.Max(Math.Max(12, $"top-{TopK} accuracy".Length), ClassNames.Max(n => n.Length));
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Classification report ({set} set, {Count} examples)\n");
        text.Append(CultureInfo.InvariantCulture, $"{"".PadLeft(nameWidth)} {"precision",9} {"recall",9} {"f1",9} {"support",9}\n");
        for (int c = 0; c < ClassCount; c++)
            text.Append(CultureInfo.InvariantCulture, $"{ClassNames[c].PadLeft(nameWidth)} {Precision[c],9:F4} {Recall[c],9:F4} {F1[c],9:F4} {Support[c],9}\n");
        text.Append('\n');
        text.Append(CultureInfo.InvariantCulture, $"{"accuracy".PadLeft(nameWidth)} {"",9} {"",9} {Accuracy,9:F4} {Count,9}\n");
        text.Append(CultureInfo.InvariantCulture, $"{$"top-{TopK} accuracy".PadLeft(nameWidth)} {"",9} {"",9} {TopKAccuracy,9:F4} {Count,9}\n");
        text.Append(CultureInfo.InvariantCulture, $"{"macro avg".PadLeft(nameWidth)} {MacroPrecision,9:F4} {MacroRecall,9:F4} {MacroF1,9:F4} {Count,9}\n");
        text.Append(CultureInfo.InvariantCulture, $"{"weighted avg".PadLeft(nameWidth)} {WeightedPrecision,9:F4} {WeightedRecall,9:F4} {WeightedF1,9:F4} {Count,9}");
        return text.ToString();
    }

    /// <summary>
    /// The confusion matrix as a terminal table: one row per actual class (label), one column per predicted class, counts
    /// in the cells, row and column totals at the ends, headed by <paramref name="set"/>.
    /// </summary>
    /// <param name="set">Which data the counts come from, e.g. "validation" or "test"; printed in the header.</param>
    public string ConfusionMatrixTable(string set)
    {
        int nameWidth = Math.Max("actual \\ predicted".Length, ClassNames.Max(n => n.Length));
        int cell = Math.Max(Count.ToString(CultureInfo.InvariantCulture).Length, ClassNames.Max(n => n.Length)) + 1;
        cell = Math.Max(cell, 6);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Confusion matrix ({set} set, {Count} examples; rows: actual class, columns: predicted class)\n");
        text.Append("actual \\ predicted".PadRight(nameWidth)).Append(" |");
        foreach (string name in ClassNames) text.Append(name.PadLeft(cell));
        text.Append(" |").Append("total".PadLeft(cell)).Append('\n');
        text.Append(new string('-', nameWidth + 2 + cell * ClassCount + 2 + cell)).Append('\n');
        var columnTotals = new long[ClassCount];
        for (int a = 0; a < ClassCount; a++)
        {
            text.Append(ClassNames[a].PadRight(nameWidth)).Append(" |");
            for (int p = 0; p < ClassCount; p++)
            {
                text.Append(_confusion[a, p].ToString(CultureInfo.InvariantCulture).PadLeft(cell));
                columnTotals[p] += _confusion[a, p];
            }
            text.Append(" |").Append(Support[a].ToString(CultureInfo.InvariantCulture).PadLeft(cell)).Append('\n');
        }
        text.Append(new string('-', nameWidth + 2 + cell * ClassCount + 2 + cell)).Append('\n');
        text.Append("total".PadRight(nameWidth)).Append(" |");
        foreach (long t in columnTotals) text.Append(t.ToString(CultureInfo.InvariantCulture).PadLeft(cell));
        text.Append(" |").Append(Count.ToString(CultureInfo.InvariantCulture).PadLeft(cell));
        return text.ToString();
    }
}
