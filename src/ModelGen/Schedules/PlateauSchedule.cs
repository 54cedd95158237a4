// PyTorch's ReduceLROnPlateau as a factor of the base learning rate. Unlike the other schedules it has state (the best
// metric, the bad-epoch and cooldown counters, the current factor), changed only by ReportMetric, once per epoch;
// Factor reads the current value. The rule is torch.optim.lr_scheduler.ReduceLROnPlateau.step(metrics), step for step.
using System.Globalization;

namespace ModelGen;

/// <summary>Whether <see cref="PlateauSchedule"/> watches for a metric that should fall or rise (PyTorch's <c>mode</c>).</summary>
public enum PlateauMode
{
    /// <summary>Lower is better (a loss; PyTorch's <c>'min'</c>, the default).</summary>
    Min,

    /// <summary>Higher is better (an accuracy; PyTorch's <c>'max'</c>).</summary>
    Max,
}

/// <summary>How <see cref="PlateauSchedule"/> compares a metric with the best one (PyTorch's <c>threshold_mode</c>).</summary>
public enum PlateauThresholdMode
{
    /// <summary>Better means beyond <c>best·(1 ∓ threshold)</c> (PyTorch's <c>'rel'</c>, the default).</summary>
    Relative,

    /// <summary>Better means beyond <c>best ∓ threshold</c> (PyTorch's <c>'abs'</c>).</summary>
    Absolute,
}

/// <summary>
/// PyTorch <c>ReduceLROnPlateau</c>: multiplies the factor by <see cref="ReductionFactor"/> (not below <see cref="MinFactor"/>)
/// when the metric reported after each epoch has not improved for more than <see cref="Patience"/> epochs, then waits
/// <see cref="Cooldown"/> epochs before counting again. Created by <see cref="Schedule.ReduceOnPlateau"/>.
/// </summary>
/// <remarks>
/// <see cref="O:ModelGen.Trainer.Fit"/> reports the validation loss after every epoch (the epoch's mean training loss without a validation
/// set); a custom loop calls <see cref="Schedule.ReportMetric"/> itself. The schedule keeps its state across runs, as a PyTorch
/// scheduler object does: use a new one per run, or <see cref="Reset"/>. PyTorch's <c>min_lr</c> and <c>eps</c> are absolute
/// rates; here they are factors of the base rate (<c>min_lr / lr</c>, and <c>eps</c> compares factors).
/// </remarks>
public sealed class PlateauSchedule : Schedule
{
    private double _factor = 1;
    private double _best;
    private int _badEpochs;
    private int _cooldownLeft;

    internal PlateauSchedule(PlateauMode mode, float factor, int patience, float threshold, PlateauThresholdMode thresholdMode,
        int cooldown, float minFactor, float epsilon)
    {
        Mode = mode;
        ReductionFactor = factor;
        Patience = patience;
        Threshold = threshold;
        ThresholdMode = thresholdMode;
        Cooldown = cooldown;
        MinFactor = minFactor;
        Epsilon = epsilon;
        Reset();
    }

    /// <summary>Whether lower or higher metrics are better.</summary>
    public PlateauMode Mode { get; }

    /// <summary>The multiplier applied on a plateau (PyTorch's <c>factor</c>).</summary>
    public float ReductionFactor { get; }

    /// <summary>Epochs without improvement tolerated before a reduction.</summary>
    public int Patience { get; }

    /// <summary>The least change that counts as an improvement.</summary>
    public float Threshold { get; }

    /// <summary>Whether <see cref="Threshold"/> is relative or absolute.</summary>
    public PlateauThresholdMode ThresholdMode { get; }

    /// <summary>Epochs after a reduction during which bad epochs are not counted.</summary>
    public int Cooldown { get; }

    /// <summary>The lowest factor (PyTorch's <c>min_lr</c> as a fraction of the base rate).</summary>
    public float MinFactor { get; }

    /// <summary>A reduction smaller than this (in factor) is skipped.</summary>
    public float Epsilon { get; }

    /// <summary>The current factor (1 until the first reduction).</summary>
    public float CurrentFactor => (float)_factor;

    /// <summary>The current factor, whatever the step.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative or <paramref name="totalSteps"/> is not positive.</exception>
    public override float Factor(int step, int totalSteps)
    {
        ValidateStep(step, totalSteps);
        return (float)_factor;
    }

    /// <summary>
    /// Counts the epoch whose <paramref name="metric"/> this is, as PyTorch's <c>step(metrics)</c>: a better metric (see
    /// <see cref="ThresholdMode"/>) becomes the best and clears the count of bad epochs; during a cooldown bad epochs are not
    /// counted; more than <see cref="Patience"/> bad epochs multiply the factor by <see cref="ReductionFactor"/> (not below
    /// <see cref="MinFactor"/>) and start a cooldown. A NaN metric is never better.
    /// </summary>
    /// <inheritdoc cref="Schedule.ReportMetric"/>
    public override void ReportMetric(float metric, int completedSteps, int stepsPerEpoch)
    {
        base.ReportMetric(metric, completedSteps, stepsPerEpoch);
        if (IsBetter(metric))
        {
            _best = metric;
            _badEpochs = 0;
        }
        else
        {
            _badEpochs++;
        }
        if (_cooldownLeft > 0)
        {
            _cooldownLeft--;
            _badEpochs = 0;
        }
        if (_badEpochs > Patience)
        {
            double reduced = Math.Max(_factor * ReductionFactor, MinFactor);
            if (_factor - reduced > Epsilon) _factor = reduced;
            _cooldownLeft = Cooldown;
            _badEpochs = 0;
        }
    }

    /// <summary>Writes the factor, the best metric and the bad-epoch and cooldown counters (round-trip, invariant culture).</summary>
    public override void SaveState(IDictionary<string, string> state, string prefix)
    {
        ArgumentNullException.ThrowIfNull(state);
        state[prefix + "factor"] = _factor.ToString("R", CultureInfo.InvariantCulture);
        state[prefix + "best"] = _best.ToString("R", CultureInfo.InvariantCulture);
        state[prefix + "bad_epochs"] = _badEpochs.ToString(CultureInfo.InvariantCulture);
        state[prefix + "cooldown_left"] = _cooldownLeft.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Restores what <see cref="SaveState"/> wrote; all four values are read before any is set.</summary>
    /// <exception cref="InvalidDataException">A value is missing or malformed, or the factor is outside [0, 1].</exception>
    public override void LoadState(IReadOnlyDictionary<string, string> state, string prefix)
    {
        ArgumentNullException.ThrowIfNull(state);
        double factor = ReadDouble(state, prefix + "factor");
        double best = ReadDouble(state, prefix + "best");
        int bad = ReadCount(state, prefix + "bad_epochs");
        int cooldown = ReadCount(state, prefix + "cooldown_left");
        if (!(factor >= 0 && factor <= 1))
            throw new InvalidDataException($"The schedule state entry \"{prefix}factor\" is {factor}, expected a factor in [0, 1].");
        (_factor, _best, _badEpochs, _cooldownLeft) = (factor, best, bad, cooldown);
    }

    /// <summary>Forgets every reported metric: factor 1, no best metric, no counts.</summary>
    public void Reset()
    {
        _factor = 1;
        _best = Mode == PlateauMode.Min ? double.PositiveInfinity : double.NegativeInfinity;
        _badEpochs = 0;
        _cooldownLeft = 0;
    }

    private bool IsBetter(double a) => (Mode, ThresholdMode) switch
    {
        (PlateauMode.Min, PlateauThresholdMode.Relative) => a < _best * (1.0 - Threshold),
        (PlateauMode.Min, PlateauThresholdMode.Absolute) => a < _best - Threshold,
        (PlateauMode.Max, PlateauThresholdMode.Relative) => a > _best * (Threshold + 1.0),
        _ => a > _best + Threshold,
    };

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"ReduceOnPlateau(mode: {Mode}, factor: {ReductionFactor}, patience: {Patience}, threshold: {Threshold} {ThresholdMode}, cooldown: {Cooldown}, min: {MinFactor})");
}

public abstract partial class Schedule
{
    /// <summary>
    /// PyTorch <c>ReduceLROnPlateau</c> with its defaults: reduce the rate when the metric reported after each epoch stops
    /// improving. See <see cref="PlateauSchedule"/>.
    /// </summary>
    /// <param name="mode">Lower (<see cref="PlateauMode.Min"/>, default) or higher metrics are better.</param>
    /// <param name="factor">Multiplier applied on a plateau, in [0, 1) (default 0.1).</param>
    /// <param name="patience">Bad epochs tolerated before a reduction (&gt;= 0, default 10).</param>
    /// <param name="threshold">Least change that counts as an improvement (finite, &gt;= 0, default 1e-4).</param>
    /// <param name="thresholdMode">Relative (default) or absolute threshold.</param>
    /// <param name="cooldown">Epochs after a reduction without counting (&gt;= 0, default 0).</param>
    /// <param name="minFactor">Lowest factor, in [0, 1] (PyTorch's <c>min_lr</c> / base rate; default 0).</param>
    /// <param name="epsilon">Reductions smaller than this are skipped (finite, &gt;= 0, default 1e-8).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range.</exception>
    public static PlateauSchedule ReduceOnPlateau(PlateauMode mode = PlateauMode.Min, float factor = 0.1f, int patience = 10,
        float threshold = 1e-4f, PlateauThresholdMode thresholdMode = PlateauThresholdMode.Relative, int cooldown = 0,
        float minFactor = 0, float epsilon = 1e-8f)
    {
        if (mode is not (PlateauMode.Min or PlateauMode.Max))
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "'mode' must be Min or Max.");
        if (!(factor >= 0 && factor < 1))
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "'factor' must be in [0, 1) (PyTorch: factor should be < 1.0).");
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        if (!(threshold >= 0) || float.IsPositiveInfinity(threshold))
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "'threshold' must be a finite value >= 0.");
        if (thresholdMode is not (PlateauThresholdMode.Relative or PlateauThresholdMode.Absolute))
            throw new ArgumentOutOfRangeException(nameof(thresholdMode), thresholdMode, "'thresholdMode' must be Relative or Absolute.");
        ArgumentOutOfRangeException.ThrowIfNegative(cooldown);
        RequireFactor(minFactor, nameof(minFactor));
        if (!(epsilon >= 0) || float.IsPositiveInfinity(epsilon))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "'epsilon' must be a finite value >= 0.");
        return new PlateauSchedule(mode, factor, patience, threshold, thresholdMode, cooldown, minFactor, epsilon);
    }
}
