// Per-layer gradient norms and update-to-weight ratios for Trainer.Fit (FitOptions.TrackGradients). Each optimizer step
// adds, per layer, the L2 norm of its gradient (before clipping) and ‖Δw‖ / ‖w‖ of the update the step made (Karpathy's
// "update/data ratio", healthy around 1e-3). The sums are vectorised (GradientClipping.SumOfSquares and a squared-
// difference kernel over ISimdOps), the layer ranges and accumulators are arrays sized once, so a step allocates
// nothing; an epoch's end turns the sums into a GradientReport and starts afresh. Normalisation running statistics are
// buffers, not parameters, and are left out.
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>Accumulates per-layer gradient and update statistics over an epoch's optimizer steps.</summary>
internal sealed class GradientMonitor
{
    private readonly IModel _model;
    private readonly Layer[] _layers;           // layers with at least one parameter that is not a buffer
    private readonly int[] _rangeStart;         // [layers + 1]: the layer's first index into _offsets/_lengths
    private readonly int[] _offsets, _lengths;  // its tensors' places in the parameter buffer
    private readonly double[] _sumNorm, _maxNorm, _sumRatio;   // [layers], this epoch so far
    private readonly float[] _before;           // [parameter count]: the parameters before the current step
    private int _steps;

    public GradientMonitor(IModel model)
    {
        _model = model;
        var layers = new List<Layer>();
        var starts = new List<int>();
        var offsets = new List<int>();
        var lengths = new List<int>();
        foreach (var layer in model.Layers)
        {
            int start = offsets.Count;
            foreach (var p in layer.Parameters)
            {
                if (Optimizer.IsBuffer(p.Name)) continue;
                offsets.Add(p.Offset);
                lengths.Add(p.Length);
            }
            if (offsets.Count == start) continue;
            layers.Add(layer);
            starts.Add(start);
        }
        starts.Add(offsets.Count);
        _layers = layers.ToArray();
        _rangeStart = starts.ToArray();
        _offsets = offsets.ToArray();
        _lengths = lengths.ToArray();
        _sumNorm = new double[_layers.Length];
        _maxNorm = new double[_layers.Length];
        _sumRatio = new double[_layers.Length];
        _before = new float[model.Parameters.Length];
    }

    /// <summary>Adds each layer's gradient norm for the coming step (called before clipping).</summary>
    public void RecordGradients(ReadOnlySpan<float> gradients)
    {
        for (int l = 0; l < _layers.Length; l++)
        {
            double sum = 0;
            for (int t = _rangeStart[l]; t < _rangeStart[l + 1]; t++)
                sum += GradientClipping.SumOfSquares(gradients.Slice(_offsets[t], _lengths[t]));
            double norm = Math.Sqrt(sum);
            _sumNorm[l] += norm;
            // NaN must win: Math.Max propagates it, so an exploding layer is never hidden by later finite steps.
            _maxNorm[l] = Math.Max(_maxNorm[l], norm);
        }
    }

    /// <summary>Keeps the parameters the step is about to change.</summary>
    public void BeforeStep() => _model.Parameters.CopyTo(_before);

    /// <summary>Adds each layer's ‖Δw‖ / ‖w_before‖ for the step just taken (0 for a layer whose weights are all 0).</summary>
    public void AfterStep()
    {
        ReadOnlySpan<float> after = _model.Parameters;
        for (int l = 0; l < _layers.Length; l++)
        {
            double update = 0, weight = 0;
            for (int t = _rangeStart[l]; t < _rangeStart[l + 1]; t++)
            {
                var before = _before.AsSpan(_offsets[t], _lengths[t]);
                update += SumOfSquaredDifferences(after.Slice(_offsets[t], _lengths[t]), before);
                weight += GradientClipping.SumOfSquares(before);
            }
            _sumRatio[l] += weight > 0 ? Math.Sqrt(update / weight) : 0;
        }
        _steps++;
    }

    /// <summary>The epoch's statistics and warnings; then starts the next epoch afresh.</summary>
    public GradientReport Finish(int epoch, float vanishing, float exploding)
    {
        var stats = new LayerGradientStats[_layers.Length];
        var warnings = new List<string>();
        Span<float> parameters = _model.Parameters;
        for (int l = 0; l < _layers.Length; l++)
        {
            double weight = 0;
            for (int t = _rangeStart[l]; t < _rangeStart[l + 1]; t++)
                weight += GradientClipping.SumOfSquares(parameters.Slice(_offsets[t], _lengths[t]));
            int steps = Math.Max(1, _steps);
            var layer = _layers[l];
            var s = new LayerGradientStats(layer.Name, layer.Kind, layer.Trainable, (float)(_sumNorm[l] / steps), (float)_maxNorm[l],
                (float)Math.Sqrt(weight), (float)(_sumRatio[l] / steps));
            stats[l] = s;
            if (!layer.Trainable) continue;   // a frozen layer's gradients are not used
            if (!(s.MaxGradientNorm <= exploding))
                warnings.Add(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {epoch}: the gradients of layer '{layer.Name}' ({layer.Kind}) explode: largest L2 norm {s.MaxGradientNorm:G3} > {exploding:G3} (FitOptions.ExplodingGradientNorm); lower the learning rate or clip the gradients (FitOptions.GradientClipNorm)"));
            else if (s.MeanGradientNorm < vanishing)
                warnings.Add(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {epoch}: the gradients of layer '{layer.Name}' ({layer.Kind}) vanish: mean L2 norm {s.MeanGradientNorm:G3} < {vanishing:G3} (FitOptions.VanishingGradientNorm); the layer barely learns (saturated activations, dead ReLUs or a zeroed layer after it?)"));
        }
        Array.Clear(_sumNorm);
        Array.Clear(_maxNorm);
        Array.Clear(_sumRatio);
        int taken = _steps;
        _steps = 0;
        return new GradientReport(epoch, taken, stats, warnings);
    }

    /// <summary>Σ (a − b)², vectorised, in double across blocks (as <see cref="GradientClipping.SumOfSquares"/>).</summary>
    internal static double SumOfSquaredDifferences(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        const int block = 4096;   // float partial sums stay accurate over a block; blocks add in double
        double total = 0;
        for (int start = 0; start < a.Length; start += block)
        {
            int n = Math.Min(block, a.Length - start), i = 0;
            ref float x = ref MemoryMarshal.GetReference(a.Slice(start, n));
            ref float y = ref MemoryMarshal.GetReference(b.Slice(start, n));
            float sum = 0;
            if (V512.IsAccelerated) sum += SquaredDifferences<Vector512<float>, V512>(ref x, ref y, ref i, n);
            if (V256.IsAccelerated) sum += SquaredDifferences<Vector256<float>, V256>(ref x, ref y, ref i, n);
            if (V128.IsAccelerated) sum += SquaredDifferences<Vector128<float>, V128>(ref x, ref y, ref i, n);
            sum += SquaredDifferences<float, Scalar>(ref x, ref y, ref i, n);
            total += sum;
        }
        return total;
    }

    private static float SquaredDifferences<TV, TOps>(ref float x, ref float y, ref int i, int n) where TV : struct where TOps : ISimdOps<TV>
    {
        if (n - i < TOps.Count) return 0;
        TV acc = TOps.Create(0);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV d = TOps.Subtract(TOps.Load(ref x, (nuint)i), TOps.Load(ref y, (nuint)i));
            acc = TOps.MultiplyAdd(d, d, acc);
        }
        return TOps.Sum(acc);
    }
}

/// <summary>One layer's gradient statistics over an epoch (<see cref="FitOptions.TrackGradients"/>).</summary>
/// <param name="Layer">The layer's name.</param>
/// <param name="Kind">The layer's kind (Dense, Conv2D, ...).</param>
/// <param name="Trainable">Whether the layer was trainable (a frozen layer's update ratio is 0 and it gets no warnings).</param>
/// <param name="MeanGradientNorm">Mean over the epoch's optimizer steps of the L2 norm of the layer's gradient (all its parameter tensors, before clipping).</param>
/// <param name="MaxGradientNorm">Largest such norm in the epoch (NaN or ∞ when a step's gradient was not finite).</param>
/// <param name="WeightNorm">L2 norm of the layer's parameters at the end of the epoch.</param>
/// <param name="MeanUpdateRatio">Mean over the steps of ‖Δw‖ / ‖w‖, the step's update relative to the parameters before it.</param>
public sealed record LayerGradientStats(string Layer, string Kind, bool Trainable, float MeanGradientNorm, float MaxGradientNorm,
    float WeightNorm, float MeanUpdateRatio);

/// <summary>Per-layer gradient norms and update-to-weight ratios of one epoch, with warnings for vanishing or exploding gradients.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Steps">Optimizer steps the statistics cover.</param>
/// <param name="Layers">One entry per layer with parameters, in execution order.</param>
/// <param name="Warnings">
/// One line per trainable layer whose largest gradient norm exceeded <see cref="FitOptions.ExplodingGradientNorm"/> (or was
/// not finite), or whose mean gradient norm was below <see cref="FitOptions.VanishingGradientNorm"/>; empty when healthy.
/// </param>
public sealed record GradientReport(int Epoch, int Steps, IReadOnlyList<LayerGradientStats> Layers, IReadOnlyList<string> Warnings)
{
    /// <summary>The statistics as a terminal table (one row per layer), followed by the warnings.</summary>
    public string ToTable()
    {
        int nameWidth = Math.Max(5, Layers.Count == 0 ? 0 : Layers.Max(l => l.Layer.Length + l.Kind.Length + 3));
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Gradients, epoch {Epoch} ({Steps} steps, training set)\n");
        text.Append(CultureInfo.InvariantCulture, $"{"layer".PadRight(nameWidth)} {"mean |g|",10} {"max |g|",10} {"|w|",10} {"|dw|/|w|",10}\n");
        foreach (var l in Layers)
            text.Append(CultureInfo.InvariantCulture,
                $"{$"{l.Layer} ({l.Kind})".PadRight(nameWidth)} {l.MeanGradientNorm,10:G3} {l.MaxGradientNorm,10:G3} {l.WeightNorm,10:G3} {l.MeanUpdateRatio,10:G3}{(l.Trainable ? "" : "  frozen")}\n");
        foreach (string warning in Warnings) text.Append("warning: ").Append(warning).Append('\n');
        return text.ToString().TrimEnd('\n');
    }
}
