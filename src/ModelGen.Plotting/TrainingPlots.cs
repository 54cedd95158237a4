// Pictures of a training run as SVG files, drawn with OxyPlot.Core (MIT; pure managed, its own SVG exporter, no native
// dependencies). One chart per quantity: the loss, the accuracy, each metric Fit computed and the learning rate, each
// with a "train" and a "validation" line where both exist, and the confusion matrix as a heat map with counts. Kept out
// of the ModelGen runtime so that it stays BCL-only.
using System.Globalization;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace ModelGen.Plotting;

/// <summary>Writes training curves and confusion matrices as SVG files.</summary>
public static class TrainingPlots
{
    private const double Width = 800, Height = 500;

    /// <summary>
    /// Writes one SVG chart per quantity recorded in <paramref name="history"/> into <paramref name="directory"/> (created if
    /// missing): <c>loss.svg</c>, <c>accuracy.svg</c> (for a loss with labels), one per metric in
    /// <see cref="EpochMetrics.TrainMetrics"/> or <see cref="EpochMetrics.ValidationMetrics"/> (<c>macro_f1.svg</c>,
    /// <c>rmse.svg</c>, ...) and <c>learning_rate.svg</c>. Each has the epoch on the x axis and a line per set, titled
    /// "train" and <paramref name="validationSet"/>; the best epoch is marked on the validation line's charts.
    /// </summary>
    /// <param name="history">The result of <see cref="O:ModelGen.Trainer.Fit"/>.</param>
    /// <param name="directory">Destination folder.</param>
    /// <param name="validationSet">The name of the set Fit's validation columns came from, for the legend (default "validation";
    /// "test" when a program passed its test set as Fit's validation set).</param>
    /// <returns>The paths written, in the order above.</returns>
    /// <exception cref="ArgumentException"><paramref name="history"/> has no epochs.</exception>
    /// <exception cref="IOException">A file could not be written.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not write into <paramref name="directory"/>.</exception>
    public static IReadOnlyList<string> WriteTrainingCurves(TrainingHistory history, string directory, string validationSet = "validation")
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (history.Epochs.Count == 0)
            throw new ArgumentException("The history has no epochs to plot.", nameof(history));
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        var epochs = history.Epochs;
        var metrics = new List<Metric> { Metric.Loss };
        if (epochs.Any(e => !float.IsNaN(e.TrainAccuracy))) metrics.Add(Metric.Accuracy);
        foreach (Metric m in Enum.GetValues<Metric>())
            if (m is not (Metric.Loss or Metric.Accuracy)
                && epochs.Any(e => e.TrainMetrics?.ContainsKey(m) == true || e.ValidationMetrics?.ContainsKey(m) == true))
                metrics.Add(m);
        foreach (Metric metric in metrics)
        {
            var model = Chart(Title(metric), Title(metric));
            AddLine(model, "train", OxyColor.FromRgb(0x1f, 0x77, 0xb4), epochs.Select(e => (e.Epoch, e.Value(metric, validation: false))));
            bool hasValidation = AddLine(model, validationSet, OxyColor.FromRgb(0xff, 0x7f, 0x0e),
                epochs.Select(e => (e.Epoch, e.Value(metric, validation: true))));
            if (hasValidation && epochs.FirstOrDefault(e => e.Epoch == history.BestEpoch)?.Value(metric, validation: true) is { } best)
                model.Series.Add(new ScatterSeries
                {
                    Title = $"best epoch ({history.BestEpoch})",
                    MarkerType = MarkerType.Circle,
                    MarkerSize = 6,
                    MarkerFill = OxyColors.Transparent,
                    MarkerStroke = OxyColors.Black,
                    MarkerStrokeThickness = 1.5,
                    ItemsSource = new[] { new ScatterPoint(history.BestEpoch, best) },
                });
            written.Add(Save(model, Path.Combine(directory, FileName(metric) + ".svg")));
        }
        var rate = Chart("Learning rate", "learning rate");
        AddLine(rate, "learning rate (at each epoch's last step)", OxyColor.FromRgb(0x2c, 0xa0, 0x2c), epochs.Select(e => (e.Epoch, (float?)e.LearningRate)));
        written.Add(Save(rate, Path.Combine(directory, "learning_rate.svg")));
        return written;
    }

    /// <summary>
    /// Writes the confusion matrix of <paramref name="report"/> as an SVG heat map to <paramref name="path"/>: actual classes
    /// down the rows, predicted classes across the columns, each cell coloured by its share of the row (the class's
    /// recall on the diagonal) and labelled with its count; the title names <paramref name="set"/>.
    /// </summary>
    /// <param name="report">Metrics with the confusion matrix (<see cref="Metrics.Classification"/>).</param>
    /// <param name="path">Destination file; its folder is created if missing.</param>
    /// <param name="set">Which data the counts come from ("validation", "test", ...).</param>
    /// <exception cref="IOException">The file could not be written.</exception>
    /// <exception cref="UnauthorizedAccessException">The process may not write <paramref name="path"/>.</exception>
    public static string WriteConfusionMatrix(ClassificationReport report, string path, string set)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(set);
        int classes = report.ClassCount;
        var model = new PlotModel
        {
            Title = string.Create(CultureInfo.InvariantCulture, $"Confusion matrix ({set} set, {report.Count} examples, accuracy {report.Accuracy:P2})"),
            Background = OxyColors.White,
            Culture = CultureInfo.InvariantCulture,
        };
        // Category axes: index i sits at coordinate i. Rows (actual) run top to bottom, as in the terminal table.
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Bottom, Key = "predicted", Title = "predicted class", ItemsSource = report.ClassNames, GapWidth = 0 });
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, Key = "actual", Title = "actual class", ItemsSource = report.ClassNames, GapWidth = 0, StartPosition = 1, EndPosition = 0, AxisTitleDistance = 12 });
        model.Axes.Add(new LinearColorAxis { Position = AxisPosition.Right, Palette = OxyPalette.Interpolate(100, OxyColors.White, OxyColor.FromRgb(0x08, 0x51, 0x9c)), Minimum = 0, Maximum = 1, StringFormat = "P0", Title = "share of the actual class", AxisTitleDistance = 10 });
        var share = new double[classes, classes];   // [predicted (x), actual (y)]
        for (int a = 0; a < classes; a++)
            for (int p = 0; p < classes; p++)
                share[p, a] = report.Support[a] == 0 ? 0 : (double)report.Confusion(a, p) / report.Support[a];
        model.Series.Add(new HeatMapSeries
        {
            X0 = 0, X1 = classes - 1, Y0 = 0, Y1 = classes - 1,
            XAxisKey = "predicted", YAxisKey = "actual",
            CoordinateDefinition = HeatMapCoordinateDefinition.Center,
            RenderMethod = HeatMapRenderMethod.Rectangles,   // vector rectangles: a crisp SVG, no embedded bitmap
            Data = share,
            Interpolate = false,
        });
        // Counts as text annotations (the series' own labels would print the shares).
        for (int a = 0; a < classes; a++)
            for (int p = 0; p < classes; p++)
                model.Annotations.Add(new OxyPlot.Annotations.TextAnnotation
                {
                    Text = report.Confusion(a, p).ToString(CultureInfo.InvariantCulture),
                    TextPosition = new DataPoint(p, a),
                    XAxisKey = "predicted", YAxisKey = "actual",
                    TextHorizontalAlignment = HorizontalAlignment.Center,
                    TextVerticalAlignment = VerticalAlignment.Middle,
                    Stroke = OxyColors.Transparent,
                    FontSize = classes > 20 ? 7 : 11,
                });
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        double side = Math.Max(500, 40 * classes + 200);
        return Save(model, path, side + 120, side);
    }

    private static PlotModel Chart(string title, string yTitle)
    {
        var model = new PlotModel { Title = title, Background = OxyColors.White, Culture = CultureInfo.InvariantCulture };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.BottomCenter, LegendPlacement = LegendPlacement.Outside, LegendOrientation = LegendOrientation.Horizontal });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "epoch", MinimumMajorStep = 1, MinimumMinorStep = 1, MajorGridlineStyle = LineStyle.Dot });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = yTitle, MajorGridlineStyle = LineStyle.Dot, AxisTitleDistance = 12 });
        return model;
    }

    /// <summary>Adds a line of the finite values (none: nothing added); returns whether it was added.</summary>
    private static bool AddLine(PlotModel model, string title, OxyColor color, IEnumerable<(int Epoch, float? Value)> points)
    {
        var series = new LineSeries { Title = title, Color = color, MarkerType = MarkerType.Circle, MarkerSize = 3, MarkerFill = color };
        foreach (var (epoch, value) in points)
            if (value is { } v && float.IsFinite(v)) series.Points.Add(new DataPoint(epoch, v));
        if (series.Points.Count == 0) return false;
        model.Series.Add(series);
        return true;
    }

    private static string Save(PlotModel model, string path, double width = Width, double height = Height)
    {
        using var file = File.Create(path);
        // The PDF context knows the metrics of the standard fonts; without a measurer SVG text is sized by a rough guess
        // (overlapping legend rows, clipped titles). UseVerticalTextAlignmentWorkaround places text right in browsers
        // and librsvg, which ignore dominant-baseline.
        new SvgExporter
        {
            Width = width,
            Height = height,
            TextMeasurer = new PdfRenderContext(width, height, OxyColors.White),
            UseVerticalTextAlignmentWorkaround = true,
        }.Export(model, file);
        return path;
    }

    private static string Title(Metric metric) => metric switch
    {
        Metric.Loss => "Loss",
        Metric.Accuracy => "Accuracy",
        Metric.TopKAccuracy => "Top-k accuracy",
        Metric.MacroPrecision => "Macro precision",
        Metric.MacroRecall => "Macro recall",
        Metric.MacroF1 => "Macro F1",
        Metric.WeightedPrecision => "Weighted precision",
        Metric.WeightedRecall => "Weighted recall",
        Metric.WeightedF1 => "Weighted F1",
        Metric.Mae => "MAE",
        Metric.Rmse => "RMSE",
        Metric.R2 => "R²",
        _ => metric.ToString(),
    };

    /// <summary>The file name of a metric's chart (without extension), e.g. <c>macro_f1</c>.</summary>
    internal static string FileName(Metric metric) => metric switch
    {
        Metric.TopKAccuracy => "top_k_accuracy",
        Metric.MacroPrecision => "macro_precision",
        Metric.MacroRecall => "macro_recall",
        Metric.MacroF1 => "macro_f1",
        Metric.WeightedPrecision => "weighted_precision",
        Metric.WeightedRecall => "weighted_recall",
        Metric.WeightedF1 => "weighted_f1",
        _ => metric.ToString().ToLowerInvariant(),
    };
}
