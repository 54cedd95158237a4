// Learning-rate schedules as pure functions of (step, totalSteps): a trainer multiplies the optimizer's base learning
// rate by Factor(step, total) before each step. Stateless and immutable, so one instance can drive several runs;
// closed-form, so resuming at any step gives the same rate as running up to it (unlike PyTorch's chained form,
// which agrees with these closed forms at every step). The one exception is ReduceLROnPlateau (PlateauSchedule),
// which by nature depends on the metrics reported to it (ReportMetric). Per-epoch schedules are the same functions
// of the epoch index: PerEpoch() wraps any schedule so the trainer's step counts are turned into epochs.
using System.Globalization;

namespace ModelGen;

/// <summary>A learning-rate schedule: a multiplier on the base learning rate at each step.</summary>
public abstract partial class Schedule
{
    private static readonly Schedule s_constant = new ConstantSchedule();

    /// <summary>The multiplier on the base learning rate at 0-based <paramref name="step"/> of a run of <paramref name="totalSteps"/> steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative or <paramref name="totalSteps"/> is not positive.</exception>
    public abstract float Factor(int step, int totalSteps);

    /// <summary>
    /// The multiplier at 0-based <paramref name="step"/> of a run of <paramref name="totalSteps"/> steps with
    /// <paramref name="stepsPerEpoch"/> steps per epoch, which is what <see cref="Trainer"/> calls. Per-step schedules ignore
    /// <paramref name="stepsPerEpoch"/> (this default returns <see cref="Factor(int, int)"/>); <see cref="PerEpoch"/> uses it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="step"/> is negative, or <paramref name="totalSteps"/> or <paramref name="stepsPerEpoch"/> is not positive.
    /// </exception>
    public virtual float Factor(int step, int totalSteps, int stepsPerEpoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepsPerEpoch);
        return Factor(step, totalSteps);
    }

    /// <summary>
    /// Reports the metric of the epoch that has just finished (<see cref="O:ModelGen.Trainer.Fit"/> reports the validation loss, or the
    /// epoch's mean training loss without a validation set). Schedules that are functions of the step ignore it (this
    /// default does nothing); <see cref="PlateauSchedule"/> reduces its factor from it, and <see cref="Sequential"/> passes it on
    /// to the schedule that drives the next step.
    /// </summary>
    /// <param name="metric">The epoch's metric (e.g. a loss).</param>
    /// <param name="completedSteps">Steps completed so far in the run (the next step's 0-based index).</param>
    /// <param name="stepsPerEpoch">Steps per epoch (&gt; 0).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="completedSteps"/> is negative or <paramref name="stepsPerEpoch"/> is not positive.</exception>
    public virtual void ReportMetric(float metric, int completedSteps, int stepsPerEpoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(completedSteps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepsPerEpoch);
    }

    /// <summary>
    /// Writes the schedule's mutable state (what <see cref="ReportMetric"/> has changed) under keys starting with
    /// <paramref name="prefix"/>, for a training checkpoint. Schedules that are functions of the step have none (this default
    /// writes nothing); <see cref="PlateauSchedule"/> writes its factor, best metric and counters, and composite schedules
    /// write their parts' state under <c>prefix + index + "."</c>.
    /// </summary>
    /// <param name="state">Receives string keys and invariant-culture, round-trip values.</param>
    /// <param name="prefix">Key prefix, e.g. <c>"schedule."</c>.</param>
    public virtual void SaveState(IDictionary<string, string> state, string prefix)
    {
    }

    /// <summary>
    /// Restores the state <see cref="SaveState"/> wrote, so that the schedule continues exactly as the saving run's did.
    /// Validates every value before changing anything in this schedule (a composite restores its parts in order).
    /// </summary>
    /// <param name="state">The saved keys and values.</param>
    /// <param name="prefix">The prefix they were saved under.</param>
    /// <exception cref="InvalidDataException">A key is missing or its value is malformed (the message names the key).</exception>
    public virtual void LoadState(IReadOnlyDictionary<string, string> state, string prefix)
    {
    }

    /// <summary>Reads <paramref name="key"/> as a round-trip double; throws <see cref="InvalidDataException"/> naming the key.</summary>
    private protected static double ReadDouble(IReadOnlyDictionary<string, string> state, string key)
    {
        if (!state.TryGetValue(key, out string? text))
            throw new InvalidDataException($"The schedule state has no \"{key}\" entry (saved by another schedule?).");
        // The invariant culture parses "NaN", "Infinity" and "-Infinity", which "R" writes for those values.
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            throw new InvalidDataException($"The schedule state entry \"{key}\" is '{text}', expected a number.");
        return value;
    }

    /// <summary>Reads <paramref name="key"/> as a non-negative integer; throws <see cref="InvalidDataException"/> naming the key.</summary>
    private protected static int ReadCount(IReadOnlyDictionary<string, string> state, string key)
    {
        if (!state.TryGetValue(key, out string? text))
            throw new InvalidDataException($"The schedule state has no \"{key}\" entry (saved by another schedule?).");
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            throw new InvalidDataException($"The schedule state entry \"{key}\" is '{text}', expected a non-negative integer.");
        return value;
    }

    /// <summary>Factor 1 at every step.</summary>
    public static Schedule Constant => s_constant;

    /// <summary>
    /// Cosine annealing (PyTorch <c>CosineAnnealingLR</c> with <c>T_max = totalSteps</c>):
    /// <c>min + (1 - min)·(1 + cos(π·step/total))/2</c>, so step 0 gives 1; steps at or past the end give <paramref name="minFactor"/>.
    /// </summary>
    /// <param name="minFactor">The final factor (PyTorch's <c>eta_min</c> / base lr), in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minFactor"/> is outside [0, 1].</exception>
    public static Schedule Cosine(float minFactor = 0)
    {
        RequireFactor(minFactor, nameof(minFactor));
        return new WarmupCosineSchedule(0, minFactor);
    }

    /// <summary>
    /// Linear warm-up then cosine annealing: for step &lt; warmup the factor is <c>(step + 1)/warmup</c> (so the first step
    /// already moves and the last warm-up step reaches 1); afterwards cosine from 1 down to <paramref name="minFactor"/> over the
    /// remaining <c>total - warmup</c> steps.
    /// </summary>
    /// <param name="warmupSteps">Number of warm-up steps (&gt;= 0; 0 gives plain <see cref="Cosine"/>).</param>
    /// <param name="minFactor">The final factor, in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public static Schedule WarmupCosine(int warmupSteps, float minFactor = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        RequireFactor(minFactor, nameof(minFactor));
        return new WarmupCosineSchedule(warmupSteps, minFactor);
    }

    /// <summary>Step decay (PyTorch <c>StepLR</c>): <c>gamma^⌊step/stepSize⌋</c>.</summary>
    /// <param name="stepSize">Steps between decays (&gt; 0).</param>
    /// <param name="gamma">Multiplicative decay per period (finite, &gt;= 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public static Schedule StepDecay(int stepSize, float gamma = 0.1f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepSize);
        if (!(gamma >= 0) || float.IsPositiveInfinity(gamma))
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "'gamma' must be a finite value >= 0.");
        return new StepDecaySchedule(stepSize, gamma);
    }

    /// <summary>Validates the arguments of <see cref="Factor(int, int)"/>.</summary>
    private protected static void ValidateStep(int step, int totalSteps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
    }

    private static void RequireFactor(float value, string name)
    {
        if (!(value >= 0 && value <= 1))
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be in [0, 1].");
    }

    private sealed class ConstantSchedule : Schedule
    {
        public override float Factor(int step, int totalSteps)
        {
            ValidateStep(step, totalSteps);
            return 1f;
        }

        public override string ToString() => "Constant";
    }

    private sealed class WarmupCosineSchedule(int warmupSteps, float minFactor) : Schedule
    {
        public override float Factor(int step, int totalSteps)
        {
            ValidateStep(step, totalSteps);
            if (step < warmupSteps)
                return (float)((step + 1.0) / warmupSteps);
            int decaySteps = totalSteps - warmupSteps;
            if (decaySteps <= 0 || step >= totalSteps)
                return decaySteps <= 0 ? 1f : minFactor;
            double progress = (double)(step - warmupSteps) / decaySteps;
            return (float)(minFactor + (1.0 - minFactor) * 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
        }

        public override string ToString()
            => warmupSteps == 0
                ? string.Create(CultureInfo.InvariantCulture, $"Cosine(min: {minFactor})")
                : string.Create(CultureInfo.InvariantCulture, $"WarmupCosine(warmup: {warmupSteps}, min: {minFactor})");
    }

    private sealed class StepDecaySchedule(int stepSize, float gamma) : Schedule
    {
        public override float Factor(int step, int totalSteps)
        {
            ValidateStep(step, totalSteps);
            return (float)Math.Pow(gamma, step / stepSize);
        }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"StepDecay(stepSize: {stepSize}, gamma: {gamma})");
    }
}
