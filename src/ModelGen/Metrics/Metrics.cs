// Metrics of a model over a whole dataset: one inference pass in batches through the accumulators of
// ClassificationMetrics / RegressionMetrics. Trainer.Fit uses the same accumulators per epoch (FitOptions.ComputeMetrics).
using ModelGen.Data;

namespace ModelGen;

/// <summary>Computes classification or regression metrics of a model (inference mode) over a dataset.</summary>
public static class Metrics
{
    /// <summary>
    /// Runs <paramref name="model"/> over <paramref name="data"/> and returns per-class precision, recall and F1, their macro
    /// and weighted averages, accuracy, top-<paramref name="topK"/> accuracy and the confusion matrix (see
    /// <see cref="ClassificationReport"/>). The model's outputs are the class scores (logits or probabilities).
    /// </summary>
    /// <param name="model">The model; its output width is the number of classes.</param>
    /// <param name="data">A labelled dataset whose examples match the model's input.</param>
    /// <param name="topK">The k of top-k accuracy (&gt; 0, default 5).</param>
    /// <param name="classNames">Names of the model's output classes for the tables, or null for the dataset's own (<see cref="Dataset.ClassNames"/>, when they name every output) or else "0", "1", ...</param>
    /// <param name="batchSize">Examples per forward call (&gt; 0).</param>
    /// <exception cref="ArgumentException">The data has no labels, its examples do not match the model's input, it has more classes than the model has outputs, or <paramref name="classNames"/> has another length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topK"/> or <paramref name="batchSize"/> is not positive.</exception>
    public static ClassificationReport Classification(IFeedForwardModel model, IDataSource data, int topK = 5, IReadOnlyList<string>? classNames = null, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        CheckInput(model, data);
        if (!data.HasLabels)
            throw new ArgumentException("Classification metrics need class labels, but the dataset has none.", nameof(data));
        if (data.ClassCount > model.OutputLength)
            throw new ArgumentException($"The dataset has {data.ClassCount} classes, but the model outputs only {model.OutputLength} scores.", nameof(data));
        var metrics = new ClassificationMetrics(model.OutputLength, topK);
        Run(model, data, batchSize, metrics, null);
        // The dataset's own names serve only when they name every output (a model may have more outputs than the data has classes).
        IReadOnlyList<string>? own = (data as Dataset)?.ClassNames;
        return metrics.Report(classNames ?? (own is not null && own.Count == model.OutputLength ? own : null));
    }

    /// <summary>Runs <paramref name="model"/> over <paramref name="data"/> and returns MAE, RMSE and R² (see <see cref="RegressionMetrics.Report"/>).</summary>
    /// <param name="model">The model; its outputs are the predictions.</param>
    /// <param name="data">A dataset with targets of the model's output width.</param>
    /// <param name="batchSize">Examples per forward call (&gt; 0).</param>
    /// <exception cref="ArgumentException">The data has no targets or targets of another width, or its examples do not match the model's input.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    public static RegressionReport Regression(IFeedForwardModel model, IDataSource data, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        CheckInput(model, data);
        if (data.HasLabels || data.TargetLength != model.OutputLength)
            throw new ArgumentException($"Regression metrics need {model.OutputLength} targets per example, but the dataset has {(data.HasLabels ? 0 : data.TargetLength)}.", nameof(data));
        var metrics = new RegressionMetrics(model.OutputLength);
        Run(model, data, batchSize, null, metrics);
        return metrics.Report();
    }

    private static void CheckInput(IFeedForwardModel model, IDataSource data)
    {
        if (data.ExampleLength != model.InputLength)
            throw new ArgumentException($"The dataset has {data.ExampleLength} floats per example, but the model's input has {model.InputLength}.", nameof(data));
    }

    /// <summary>One inference pass over <paramref name="data"/> feeding each batch's outputs to the given accumulators.</summary>
    internal static void Run(IFeedForwardModel model, IDataSource data, int batchSize, ClassificationMetrics? classification, RegressionMetrics? regression)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var loader = new BatchLoader(data, batchSize, shuffle: false, seed: 0);
        int width = model.OutputLength;
        var output = new float[checked(Math.Min(batchSize, Math.Max(1, data.Count)) * width)];   // [batch, width]
        while (loader.TryNext(out var batch))
        {
            var outSpan = output.AsSpan(0, batch.Size * width);
            model.Forward(batch.Inputs, outSpan, batch.Size);
            classification?.Add(outSpan, batch.Labels);
            regression?.Add(outSpan, batch.Targets);
        }
    }
}
