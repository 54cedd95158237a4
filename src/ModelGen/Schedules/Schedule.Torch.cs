// PyTorch's remaining torch.optim.lr_scheduler classes as closed-form factors of the base learning rate:
// ExponentialLR, LinearLR, PolynomialLR, OneCycleLR (base rate = max_lr), SequentialLR (composition at milestones)
// and the per-epoch form of any of them. Formulas are PyTorch's _get_closed_form_lr (or get_lr for OneCycleLR),
// evaluated in double and rounded once.
using System.Globalization;

namespace ModelGen;

/// <summary>How <see cref="Schedule.OneCycle"/> anneals between its phase endpoints (PyTorch's <c>anneal_strategy</c>).</summary>
public enum OneCycleAnneal
{
    /// <summary><c>end + (start - end)·(1 + cos(π·pct))/2</c> (PyTorch's <c>'cos'</c>, the default).</summary>
    Cosine,

    /// <summary><c>start + (end - start)·pct</c> (PyTorch's <c>'linear'</c>).</summary>
    Linear,
}

public abstract partial class Schedule
{
    /// <summary>PyTorch <c>ExponentialLR</c>: <c>gamma^step</c>.</summary>
    /// <param name="gamma">Multiplicative decay per step (per epoch under <see cref="PerEpoch"/>); finite, &gt;= 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gamma"/> is negative, NaN or infinite.</exception>
    public static Schedule Exponential(float gamma)
    {
        if (!(gamma >= 0) || float.IsPositiveInfinity(gamma))
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "'gamma' must be a finite value >= 0.");
        return new ExponentialSchedule(gamma);
    }

    /// <summary>
    /// PyTorch <c>LinearLR</c>: <c>start + (end - start)·min(step, totalIters)/totalIters</c>, so the factor moves linearly from
    /// <paramref name="startFactor"/> to <paramref name="endFactor"/> over <paramref name="totalIters"/> steps and stays there.
    /// A warm-up (<c>Linear(0.01f, 1f, 100)</c>) or a linear decay (<c>Linear(1f, 0f, n)</c>).
    /// </summary>
    /// <param name="startFactor">Factor at step 0, in (0, 1] (PyTorch's <c>start_factor</c>, default 1/3).</param>
    /// <param name="endFactor">Factor from step <paramref name="totalIters"/> on, in [0, 1] (default 1).</param>
    /// <param name="totalIters">Steps (or epochs) over which the factor moves (&gt; 0, default 5).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range.</exception>
    public static Schedule Linear(float startFactor = 1f / 3, float endFactor = 1f, int totalIters = 5)
    {
        if (!(startFactor > 0 && startFactor <= 1))
            throw new ArgumentOutOfRangeException(nameof(startFactor), startFactor, "'startFactor' must be in (0, 1].");
        RequireFactor(endFactor, nameof(endFactor));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalIters);
        return new LinearSchedule(startFactor, endFactor, totalIters);
    }

    /// <summary>PyTorch <c>PolynomialLR</c>: <c>(1 - min(step, totalIters)/totalIters)^power</c>, 0 from step <paramref name="totalIters"/> on.</summary>
    /// <param name="totalIters">Steps (or epochs) until the factor reaches 0 (&gt; 0, PyTorch's default 5).</param>
    /// <param name="power">Power of the polynomial (finite, &gt;= 0; default 1, a linear decay).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range.</exception>
    public static Schedule Polynomial(int totalIters = 5, float power = 1f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalIters);
        if (!(power >= 0) || float.IsPositiveInfinity(power))
            throw new ArgumentOutOfRangeException(nameof(power), power, "'power' must be a finite value >= 0.");
        return new PolynomialSchedule(totalIters, power);
    }

    /// <summary>
    /// PyTorch <c>OneCycleLR</c> over the run's <c>totalSteps</c>, with the optimizer's base learning rate as <c>max_lr</c>: the
    /// factor rises from <c>1/divFactor</c> to 1 over the first <c>pctStart·totalSteps - 1</c> steps, then falls to
    /// <c>1/(divFactor·finalDivFactor)</c> at the last step (three-phase: back to <c>1/divFactor</c> at
    /// <c>2·pctStart·totalSteps - 2</c>, then to the minimum). Steps past the end keep the last step's factor (PyTorch raises).
    /// Momentum is not cycled (PyTorch's <c>cycle_momentum</c>): the optimizers have no settable momentum.
    /// </summary>
    /// <param name="pctStart">Fraction of the run spent rising, in (0, 1) (PyTorch's default 0.3).</param>
    /// <param name="anneal">Cosine (default) or linear annealing.</param>
    /// <param name="divFactor">Initial rate = max / divFactor (&gt; 0, default 25).</param>
    /// <param name="finalDivFactor">Final rate = initial / finalDivFactor (&gt; 0, default 1e4).</param>
    /// <param name="threePhase">Use PyTorch's three-phase variant.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range.</exception>
    public static Schedule OneCycle(float pctStart = 0.3f, OneCycleAnneal anneal = OneCycleAnneal.Cosine, float divFactor = 25f,
        float finalDivFactor = 1e4f, bool threePhase = false)
    {
        if (!(pctStart > 0 && pctStart < 1))
            throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "'pctStart' must be in (0, 1).");
        if (anneal is not (OneCycleAnneal.Cosine or OneCycleAnneal.Linear))
            throw new ArgumentOutOfRangeException(nameof(anneal), anneal, "'anneal' must be Cosine or Linear.");
        if (!(divFactor > 0) || float.IsPositiveInfinity(divFactor))
            throw new ArgumentOutOfRangeException(nameof(divFactor), divFactor, "'divFactor' must be a finite value > 0.");
        if (!(finalDivFactor > 0) || float.IsPositiveInfinity(finalDivFactor))
            throw new ArgumentOutOfRangeException(nameof(finalDivFactor), finalDivFactor, "'finalDivFactor' must be a finite value > 0.");
        return new OneCycleSchedule(pctStart, anneal, divFactor, finalDivFactor, threePhase);
    }

    /// <summary>
    /// PyTorch <c>SequentialLR</c>: <paramref name="schedules"/>[i] drives the steps from <paramref name="milestones"/>[i - 1]
    /// (0 for the first) up to <paramref name="milestones"/>[i] (the run's end for the last), seeing its own steps from 0 and
    /// its own span as the total: <c>Sequential([Linear(0.01f, 1f, 500), Cosine()], [500])</c> is a 500-step warm-up followed by
    /// a cosine over the rest of the run. Milestones count steps, or epochs when the result is wrapped in <see cref="PerEpoch"/>.
    /// </summary>
    /// <param name="schedules">The schedules, in order (at least one).</param>
    /// <param name="milestones">Strictly increasing positive step indices where the next schedule takes over; one fewer than the schedules.</param>
    /// <exception cref="ArgumentNullException">An argument or a schedule is null.</exception>
    /// <exception cref="ArgumentException">The counts disagree, or the milestones are not positive and strictly increasing.</exception>
    public static Schedule Sequential(IReadOnlyList<Schedule> schedules, IReadOnlyList<int> milestones)
    {
        ArgumentNullException.ThrowIfNull(schedules);
        ArgumentNullException.ThrowIfNull(milestones);
        if (schedules.Count == 0 || milestones.Count != schedules.Count - 1)
            throw new ArgumentException(
                $"Sequential needs one milestone fewer than schedules: got {schedules.Count} schedules and {milestones.Count} milestones.", nameof(milestones));
        for (int i = 0; i < schedules.Count; i++)
            if (schedules[i] is null) throw new ArgumentNullException(nameof(schedules), $"schedules[{i}] is null.");
        for (int i = 0; i < milestones.Count; i++)
            if (milestones[i] <= (i == 0 ? 0 : milestones[i - 1]))
                throw new ArgumentException(
                    $"Milestones must be positive and strictly increasing; milestones[{i}] is {milestones[i]}{(i == 0 ? "" : $" after {milestones[i - 1]}")}.", nameof(milestones));
        return new SequentialSchedule(schedules.ToArray(), milestones.ToArray());
    }

    /// <summary>
    /// This schedule as a function of the epoch rather than the step (PyTorch's <c>scheduler.step()</c> once per epoch):
    /// <c>Factor(step, total, stepsPerEpoch) = inner.Factor(step / stepsPerEpoch, ⌈total / stepsPerEpoch⌉)</c>, so the rate is
    /// constant within an epoch. Called without steps per epoch (<see cref="Factor(int, int)"/>) every step counts as an epoch.
    /// </summary>
    public Schedule PerEpoch() => new EpochSchedule(this);

    private sealed class ExponentialSchedule(float gamma) : Schedule
    {
        public override float Factor(int step, int totalSteps)
        {
            ValidateStep(step, totalSteps);
            return (float)Math.Pow(gamma, step);
        }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"Exponential(gamma: {gamma})");
    }

    private sealed class LinearSchedule(float startFactor, float endFactor, int totalIters) : Schedule
    {
        public override float Factor(int step, int totalSteps)
        {
            ValidateStep(step, totalSteps);
            return (float)(startFactor + ((double)endFactor - startFactor) * Math.Min(step, totalIters) / totalIters);
        }

        public override string ToString()
            => string.Create(CultureInfo.InvariantCulture, $"Linear(start: {startFactor}, end: {endFactor}, totalIters: {totalIters})");
    }

    private sealed class PolynomialSchedule(int totalIters, float power) : Schedule
    {
        public override float Factor(int step, int totalSteps)
        {
            ValidateStep(step, totalSteps);
            return (float)Math.Pow(1.0 - (double)Math.Min(step, totalIters) / totalIters, power);
        }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"Polynomial(totalIters: {totalIters}, power: {power})");
    }

    private sealed class OneCycleSchedule(float pctStart, OneCycleAnneal anneal, float divFactor, float finalDivFactor, bool threePhase) : Schedule
    {
        public override float Factor(int step, int totalSteps)
        {
            ValidateStep(step, totalSteps);
            double initial = 1.0 / divFactor, minimum = initial / finalDivFactor;
            double t = Math.Min(step, totalSteps - 1);
            // PyTorch's phase table: end_step values are floats (pct_start * total_steps - 1, ...), compared with the step.
            double end1 = (double)pctStart * totalSteps - 1;
            Span<(double End, double From, double To)> phases = stackalloc (double, double, double)[3];
            int count;
            if (threePhase)
            {
                phases[0] = (end1, initial, 1.0);
                phases[1] = (2.0 * pctStart * totalSteps - 2, 1.0, initial);
                phases[2] = (totalSteps - 1, initial, minimum);
                count = 3;
            }
            else
            {
                phases[0] = (end1, initial, 1.0);
                phases[1] = (totalSteps - 1, 1.0, minimum);
                count = 2;
            }
            double start = 0;
            for (int i = 0; i < count; i++)
            {
                var (end, from, to) = phases[i];
                if (t <= end || i == count - 1)
                {
                    double pct = end == start ? 1.0 : (t - start) / (end - start);
                    return (float)(anneal == OneCycleAnneal.Cosine
                        ? to + (from - to) / 2.0 * (Math.Cos(Math.PI * pct) + 1)
                        : (to - from) * pct + from);
                }
                start = end;
            }
            throw new InvalidOperationException("unreachable: the last phase always matches");
        }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"OneCycle(pctStart: {pctStart}, anneal: {anneal}, divFactor: {divFactor}, finalDivFactor: {finalDivFactor}, threePhase: {threePhase})");
    }

    private sealed class SequentialSchedule(Schedule[] schedules, int[] milestones) : Schedule
    {
        public override float Factor(int step, int totalSteps) => Factor(step, totalSteps, 1);

        public override float Factor(int step, int totalSteps, int stepsPerEpoch)
        {
            ValidateStep(step, totalSteps);
            int i = Active(step);
            int start = i == 0 ? 0 : milestones[i - 1];
            int end = i < milestones.Length ? milestones[i] : totalSteps;
            return schedules[i].Factor(step - start, Math.Max(1, end - start), stepsPerEpoch);
        }

        public override void ReportMetric(float metric, int completedSteps, int stepsPerEpoch)
        {
            base.ReportMetric(metric, completedSteps, stepsPerEpoch);
            int i = Active(completedSteps);
            schedules[i].ReportMetric(metric, completedSteps - (i == 0 ? 0 : milestones[i - 1]), stepsPerEpoch);
        }

        public override void SaveState(IDictionary<string, string> state, string prefix)
        {
            for (int i = 0; i < schedules.Length; i++)
                schedules[i].SaveState(state, prefix + i.ToString(CultureInfo.InvariantCulture) + ".");
        }

        public override void LoadState(IReadOnlyDictionary<string, string> state, string prefix)
        {
            for (int i = 0; i < schedules.Length; i++)
                schedules[i].LoadState(state, prefix + i.ToString(CultureInfo.InvariantCulture) + ".");
        }

        // PyTorch's bisect_right(milestones, step): the number of milestones at or before the step.
        private int Active(int step)
        {
            int i = 0;
            while (i < milestones.Length && milestones[i] <= step) i++;
            return i;
        }

        public override string ToString() => $"Sequential([{string.Join(", ", (object[])schedules)}], milestones: [{string.Join(", ", milestones)}])";
    }

    private sealed class EpochSchedule(Schedule inner) : Schedule
    {
        public override float Factor(int step, int totalSteps) => Factor(step, totalSteps, 1);

        public override float Factor(int step, int totalSteps, int stepsPerEpoch)
        {
            ValidateStep(step, totalSteps);
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepsPerEpoch);
            int epochs = (int)(((long)totalSteps + stepsPerEpoch - 1) / stepsPerEpoch);
            return inner.Factor(step / stepsPerEpoch, epochs, 1);
        }

        public override void ReportMetric(float metric, int completedSteps, int stepsPerEpoch)
        {
            base.ReportMetric(metric, completedSteps, stepsPerEpoch);
            inner.ReportMetric(metric, completedSteps / stepsPerEpoch, 1);
        }

        public override void SaveState(IDictionary<string, string> state, string prefix) => inner.SaveState(state, prefix);

        public override void LoadState(IReadOnlyDictionary<string, string> state, string prefix) => inner.LoadState(state, prefix);

        public override string ToString() => $"{inner}.PerEpoch()";
    }
}
