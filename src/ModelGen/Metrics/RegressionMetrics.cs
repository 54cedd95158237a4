// Regression metrics as scikit-learn defines them with multioutput='uniform_average': MAE, RMSE and R² per output
// column, then the plain mean over the columns. Sums are kept per column in double, the target sums shifted by the
// column's first target so that Σ(y − ȳ)² does not cancel catastrophically for targets far from 0.
using System.Globalization;

namespace ModelGen;

/// <summary>Accumulates MAE, RMSE and R² over batches of predictions and targets. <see cref="Add"/> allocates nothing. Not thread-safe.</summary>
public sealed class RegressionMetrics
{
    private readonly double[] _absError, _squaredError, _shift, _shiftedSum, _shiftedSquares;   // each [Outputs]

    /// <summary>Creates an empty accumulator for <paramref name="outputs"/> values per example.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="outputs"/> is not positive.</exception>
    public RegressionMetrics(int outputs)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputs);
        Outputs = outputs;
        _absError = new double[outputs];
        _squaredError = new double[outputs];
        _shift = new double[outputs];
        _shiftedSum = new double[outputs];
        _shiftedSquares = new double[outputs];
    }

    /// <summary>Values per example (output columns).</summary>
    public int Outputs { get; }

    /// <summary>Examples counted so far.</summary>
    public long Count { get; private set; }

    /// <summary>Counts a batch of examples.</summary>
    /// <param name="predictions">[batch, Outputs] model outputs.</param>
    /// <param name="targets">[batch, Outputs] true values.</param>
    /// <exception cref="ArgumentException">The spans differ in length, or their length is not a multiple of <see cref="Outputs"/>.</exception>
    public void Add(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets)
    {
        if (predictions.Length != targets.Length || predictions.Length % Outputs != 0)
            throw new ArgumentException($"'predictions' has {predictions.Length} floats and 'targets' {targets.Length}; expected equal lengths, a multiple of {Outputs} outputs.", nameof(predictions));
        int rows = predictions.Length / Outputs;
        for (int r = 0; r < rows; r++)
        {
            if (Count == 0 && r == 0)
                for (int j = 0; j < Outputs; j++) _shift[j] = targets[j];
            for (int j = 0; j < Outputs; j++)
            {
                double y = targets[r * Outputs + j], error = predictions[r * Outputs + j] - y, d = y - _shift[j];
                _absError[j] += Math.Abs(error);
                _squaredError[j] += error * error;
                _shiftedSum[j] += d;
                _shiftedSquares[j] += d * d;
            }
        }
        Count += rows;
    }

    /// <summary>Forgets every counted example.</summary>
    public void Reset()
    {
        Array.Clear(_absError);
        Array.Clear(_squaredError);
        Array.Clear(_shift);
        Array.Clear(_shiftedSum);
        Array.Clear(_shiftedSquares);
        Count = 0;
    }

    /// <summary>
    /// The metrics of the examples counted so far: per output column j, <c>MAE_j = mean|ŷ − y|</c>,
    /// <c>RMSE_j = sqrt(mean (ŷ − y)²)</c> and <c>R²_j = 1 − Σ(ŷ − y)² / Σ(y − ȳ)²</c> (for a constant column: 1 when every
    /// prediction is exact, else 0, as scikit-learn's <c>force_finite</c>), each then averaged over the columns. All NaN
    /// without examples.
    /// </summary>
    public RegressionReport Report()
    {
        if (Count == 0) return new RegressionReport(0, Outputs, double.NaN, double.NaN, double.NaN);
        double mae = 0, rmse = 0, r2 = 0;
        for (int j = 0; j < Outputs; j++)
        {
            mae += _absError[j] / Count;
            rmse += Math.Sqrt(_squaredError[j] / Count);
            double total = _shiftedSquares[j] - _shiftedSum[j] * _shiftedSum[j] / Count;
            r2 += total > 0 ? 1 - _squaredError[j] / total : _squaredError[j] == 0 ? 1 : 0;
        }
        return new RegressionReport(Count, Outputs, mae / Outputs, rmse / Outputs, r2 / Outputs);
    }
}

/// <summary>Regression metrics of a set of examples (see <see cref="RegressionMetrics.Report"/> for the formulas).</summary>
/// <param name="Count">Examples counted.</param>
/// <param name="Outputs">Values per example.</param>
/// <param name="Mae">Mean absolute error.</param>
/// <param name="Rmse">Root mean squared error (per column, averaged over columns).</param>
/// <param name="R2">Coefficient of determination (per column, averaged over columns).</param>
public sealed record RegressionReport(long Count, int Outputs, double Mae, double Rmse, double R2)
{
    /// <summary>The value of <paramref name="metric"/>, or NaN for a metric that is not a regression metric.</summary>
    public double Value(Metric metric) => metric switch
    {
        Metric.Mae => Mae,
        Metric.Rmse => Rmse,
        Metric.R2 => R2,
        _ => double.NaN,
    };

    /// <summary>A one-line summary headed by <paramref name="set"/> ("validation", "test", ...).</summary>
    public string ToTable(string set) => string.Create(CultureInfo.InvariantCulture,
        $"Regression metrics ({set} set, {Count} examples): MAE {Mae:G6}, RMSE {Rmse:G6}, R² {R2:F4}");
}
