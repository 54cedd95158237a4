// Negative log-likelihood over log-probabilities, PyTorch's nn.NLLLoss(weight, ignore_index, reduction): the loss of a
// row x [classes] with class index y is -w_y·x_y and its gradient is -w_y at y, 0 elsewhere. It touches one element
// per row, so there is nothing to vectorise beyond clearing the gradient row.
namespace ModelGen;

/// <summary>
/// Negative log-likelihood, PyTorch's <c>nn.NLLLoss(weight, ignore_index, reduction)</c>: for a row x of log-probabilities
/// (e.g. the output of a log-softmax) with class index y, <c>loss = -weight[y]·x[y]</c>.
/// </summary>
/// <remarks>
/// <see cref="Reduction.Mean"/> divides by the sum of <c>weight[y]</c> over the rows not ignored (their number without
/// weights). If that sum is 0 (every row ignored), PyTorch returns NaN; this loss returns 0 and a zero gradient.
/// <see cref="Reduction.None"/> gives one term per row, 0 for ignored rows. The input is not checked to be
/// log-probabilities, as in PyTorch.
/// </remarks>
public sealed class NllLoss : Loss
{
    private readonly int _ignoreIndex;
    private readonly float[]? _weight;   // [classes] or null

    /// <summary>Creates the loss with PyTorch's <c>nn.NLLLoss</c> arguments and defaults.</summary>
    /// <param name="weight">Class weights [classes] (PyTorch <c>weight</c>), copied; null for 1 per class.</param>
    /// <param name="ignoreIndex">Rows whose class index equals it are skipped (PyTorch <c>ignore_index</c>, default -100).</param>
    /// <param name="reduction"><see cref="Reduction.None"/>, <see cref="Reduction.Mean"/> (default) or <see cref="Reduction.Sum"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reduction"/> is <see cref="Reduction.BatchMean"/> or undefined.</exception>
    /// <exception cref="ArgumentException"><paramref name="weight"/> is empty.</exception>
    public NllLoss(float[]? weight = null, int ignoreIndex = DefaultIgnoreIndex, Reduction reduction = Reduction.Mean) : base(reduction)
    {
        if (reduction == Reduction.BatchMean)
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "NllLoss takes None, Mean or Sum; BatchMean is KLDivLoss's.");
        _weight = CopyClassVector(weight, nameof(weight));
        _ignoreIndex = ignoreIndex;
        Name = Describe("Nll", ignoreIndex == DefaultIgnoreIndex ? null : $"ignoreIndex: {Format(ignoreIndex)}",
            _weight is null ? null : $"weight: [{_weight.Length}]", ReductionPart);
    }

    /// <summary>The class index whose rows are skipped.</summary>
    public int IgnoreIndex => _ignoreIndex;

    /// <summary>A copy of the class weights, or null without them.</summary>
    public float[]? Weight => (float[]?)_weight?.Clone();

    /// <summary>PyTorch's <c>loss(input, target)</c> followed by <c>backward()</c>: returns the reduced loss and overwrites <paramref name="dInput"/> with its gradient.</summary>
    /// <param name="input">Log-probabilities [batch, classes].</param>
    /// <param name="labels">Class indices [batch] in [0, classes), or the ignore index.</param>
    /// <param name="dInput">Receives ∂loss/∂input [batch, classes].</param>
    /// <param name="batch">Rows (&gt; 0).</param>
    /// <returns>The reduced loss.</returns>
    /// <exception cref="InvalidOperationException"><see cref="Loss.Reduction"/> is <see cref="Reduction.None"/>: use the
    /// overload of <see cref="Loss.Compute(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float}, Span{float}, int)"/> with a losses span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is not positive, or a label is outside [0, classes) and not the ignore index.</exception>
    /// <exception cref="ArgumentException">A span's length does not match [batch, classes], or the weight does not have one value per class.</exception>
    public float Compute(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, Span<float> dInput, int batch)
        => Compute(input, labels, default, dInput, batch);

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    public override bool UsesLabels => true;

    /// <inheritdoc/>
    protected override float ComputeCore(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch)
    {
        int classes = ValidateOutput(output, dOutput, batch);
        ValidateClassVector(_weight, "weight", classes);
        if (labels.Length != batch)
            throw new ArgumentException($"{Name}: labels length must equal the batch size {batch}, but was {labels.Length}.", nameof(labels));
        double counted = 0;
        for (int b = 0; b < batch; b++)
        {
            int label = labels[b];
            if (label == _ignoreIndex) continue;
            if ((uint)label >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), label,
                    $"{Name}: label {label} at row {b} is outside [0, {classes}) for {classes} classes and is not the ignore index {_ignoreIndex}.");
            counted += _weight is null ? 1 : _weight[label];
        }
        double denominator = Reduction == Reduction.Mean ? counted : 1;
        dOutput.Clear();
        if (denominator == 0)
        {
            losses.Clear();   // every row ignored or weighted 0: PyTorch's NaN becomes 0, as in CrossEntropyLoss
            return 0f;
        }
        double scale = 1 / denominator, total = 0;
        for (int b = 0; b < batch; b++)
        {
            int y = labels[b];
            if (y == _ignoreIndex)
            {
                if (!losses.IsEmpty) losses[b] = 0;
                continue;
            }
            double w = _weight is null ? 1 : _weight[y];
            double rowLoss = -w * output[b * classes + y];
            total += rowLoss;
            if (!losses.IsEmpty) losses[b] = (float)rowLoss;
            dOutput[b * classes + y] = (float)(-w * scale);
        }
        return (float)(total * scale);
    }
}
