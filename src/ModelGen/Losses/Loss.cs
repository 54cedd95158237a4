// The loss functions a training loop plugs in: one abstract class with a fused call that returns the reduced loss and
// writes its gradient, so Trainer and users' own loops stay model-independent. The concrete losses are public sealed
// classes named and parameterised after torch.nn (CrossEntropyLoss, NllLoss, BinaryCrossEntropyWithLogitsLoss,
// MeanSquaredErrorLoss, L1Loss, SmoothL1Loss, HuberLoss, KLDivLoss), each with one constructor carrying only its own
// options; the static members below are shortcuts kept for existing code. Implementations are immutable (weights are
// copied), validate shapes with messages giving expected vs actual, and allocate nothing per call.
//
// Reduction 'none': each loss term depends on one row (class losses) or one element (element-wise losses) of the
// output only, so the per-term losses go to a caller-given span and dOutput is the gradient of their sum; a caller
// with an upstream gradient g (one value per term) scales row/element i of dOutput by g_i.
namespace ModelGen;

/// <summary>A loss function with its gradient, with PyTorch semantics (<see cref="Reduction"/> as PyTorch's <c>reduction</c>).</summary>
/// <remarks>
/// Implementations are immutable and thread-safe; <see cref="Compute(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float}, int)"/>
/// allocates nothing. Class losses (<see cref="UsesLabels"/>) have one term per row of the output; element-wise losses one
/// term per element.
/// </remarks>
public abstract class Loss
{
    private static readonly Loss s_crossEntropy = new CrossEntropyLoss(0f);  // the internal no-ignore-index constructor

    /// <summary>Creates a loss with the given reduction.</summary>
    /// <param name="reduction">How the terms are reduced.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="reduction"/> is not a defined value.</exception>
    protected Loss(Reduction reduction)
    {
        if (reduction is < Reduction.None or > Reduction.BatchMean)
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Unknown reduction.");
        Reduction = reduction;
    }

    /// <summary>
    /// Cross-entropy from logits (PyTorch <c>nn.CrossEntropyLoss()</c>, mean over the rows): a fused, max-subtracted
    /// log-softmax. Unlike <c>new CrossEntropyLoss()</c> it has no ignore index: every label must be a class.
    /// </summary>
    public static Loss CrossEntropy => s_crossEntropy;

    /// <summary>Cross-entropy from logits against targets smoothed as in PyTorch's <c>label_smoothing</c>: (1 - ε)·onehot + ε/classes.</summary>
    /// <param name="smoothing">ε in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="smoothing"/> is outside [0, 1].</exception>
    public static Loss CrossEntropyWithLabelSmoothing(float smoothing)
    {
        CrossEntropyLoss.CheckSmoothing(smoothing);
        return smoothing == 0 ? s_crossEntropy : new CrossEntropyLoss(smoothing);
    }

    /// <summary>PyTorch's default <c>ignore_index</c> for <c>nn.CrossEntropyLoss</c> and <c>nn.NLLLoss</c>: -100.</summary>
    public const int DefaultIgnoreIndex = -100;

    /// <summary>
    /// Cross-entropy from logits that skips rows labelled <paramref name="ignoreIndex"/> (PyTorch
    /// <c>nn.CrossEntropyLoss(ignore_index=ignoreIndex)</c>); the same as <c>new CrossEntropyLoss(ignoreIndex: ignoreIndex)</c>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The unit is the row of <c>output</c>, not the example: a sequence model passes its logits as <c>batch·seq</c> rows of
    /// [classes] with one label per position (the padded positions labelled <paramref name="ignoreIndex"/>), so the loss is
    /// the mean over the real tokens of the whole batch, as PyTorch's <c>cross_entropy(logits.view(-1, C), targets.view(-1))</c>.
    /// </para>
    /// <para>See <see cref="CrossEntropyLoss"/> for the all-ignored case.</para>
    /// </remarks>
    /// <param name="ignoreIndex">The label that marks a row to skip (PyTorch's default is <see cref="DefaultIgnoreIndex"/>).</param>
    public static Loss CrossEntropyIgnoring(int ignoreIndex) => new CrossEntropyLoss(ignoreIndex: ignoreIndex);

    /// <summary>
    /// Cross-entropy with both label smoothing and <c>ignore_index</c>, as PyTorch's
    /// <c>nn.CrossEntropyLoss(ignore_index=ignoreIndex, label_smoothing=smoothing)</c>.
    /// </summary>
    /// <param name="ignoreIndex">The label that marks a row to skip.</param>
    /// <param name="smoothing">ε in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="smoothing"/> is outside [0, 1].</exception>
    public static Loss CrossEntropyIgnoring(int ignoreIndex, float smoothing) => new CrossEntropyLoss(ignoreIndex: ignoreIndex, labelSmoothing: smoothing);

    /// <summary>Mean squared error over all elements (PyTorch <c>nn.MSELoss()</c>); <c>new MeanSquaredErrorLoss()</c>.</summary>
    public static Loss MeanSquaredError { get; } = new MeanSquaredErrorLoss();

    /// <summary>
    /// Binary cross-entropy on logits over all elements (PyTorch <c>nn.BCEWithLogitsLoss()</c>), computed stably as
    /// <c>max(x, 0) - x·t + log(1 + exp(-|x|))</c>; <c>new BinaryCrossEntropyWithLogitsLoss()</c>.
    /// </summary>
    public static Loss BinaryCrossEntropyWithLogits { get; } = new BinaryCrossEntropyWithLogitsLoss();

    /// <summary>How the terms are reduced (PyTorch's <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>A short display name, e.g. <c>CrossEntropy</c>.</summary>
    public abstract string Name { get; }

    /// <summary>True when the loss reads integer class labels (cross-entropy, NLL); false when it reads float targets.</summary>
    public abstract bool UsesLabels { get; }

    /// <summary>
    /// Computes the reduced loss over the batch and writes ∂loss/∂output (with the same reduction) into <paramref name="dOutput"/>.
    /// </summary>
    /// <param name="output">The model's output [batch, width], with width = output.Length / batch.</param>
    /// <param name="labels">Class labels [batch] when <see cref="UsesLabels"/>; otherwise ignored.</param>
    /// <param name="targets">Targets [batch, width] when not <see cref="UsesLabels"/> (or class probabilities for
    /// <see cref="CrossEntropyLoss"/> when <paramref name="labels"/> is empty); otherwise ignored.</param>
    /// <param name="dOutput">Receives the gradient [batch, width] (overwritten, not accumulated).</param>
    /// <param name="batch">Number of rows (&gt; 0): examples, or batch·seq positions for a per-position loss on a sequence.</param>
    /// <returns>The reduced loss.</returns>
    /// <exception cref="InvalidOperationException"><see cref="Reduction"/> is <see cref="Reduction.None"/>, which needs the
    /// overload with a <c>losses</c> span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is not positive, or a label is outside [0, width).</exception>
    /// <exception cref="ArgumentException">A span's length does not match the batch and width, or a class weight vector's length is not the width.</exception>
    public float Compute(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, int batch)
    {
        if (Reduction == Reduction.None)
            throw new InvalidOperationException(
                $"{Name}: reduction None returns one loss per term; call Compute(output, labels, targets, dOutput, losses, batch) with a losses span.");
        return ComputeCore(output, labels, targets, dOutput, default, batch);
    }

    /// <summary>
    /// Computes the loss, writes every unreduced term into <paramref name="losses"/> and the gradient into
    /// <paramref name="dOutput"/>. With <see cref="Reduction.None"/> the gradient is that of the sum of the terms, and the
    /// returned value is that sum; otherwise both follow <see cref="Reduction"/> (the terms are still written unreduced).
    /// </summary>
    /// <param name="output">The model's output [batch, width].</param>
    /// <param name="labels">Class labels [batch] when <see cref="UsesLabels"/>; otherwise ignored.</param>
    /// <param name="targets">Targets [batch, width] when not <see cref="UsesLabels"/>; otherwise ignored.</param>
    /// <param name="dOutput">Receives the gradient [batch, width] (overwritten).</param>
    /// <param name="losses">Receives the terms: [batch] for class losses (0 for ignored rows), [batch, width] for
    /// element-wise ones. May be empty unless <see cref="Reduction"/> is <see cref="Reduction.None"/>.</param>
    /// <param name="batch">Number of rows (&gt; 0).</param>
    /// <returns>The reduced loss (the sum of the terms for <see cref="Reduction.None"/>).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is not positive, or a label is outside [0, width).</exception>
    /// <exception cref="ArgumentException">A span's length does not match the batch and width (<paramref name="losses"/>
    /// included), or a class weight vector's length is not the width.</exception>
    public float Compute(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch)
    {
        int width = ValidateOutput(output, dOutput, batch);
        int terms = UsesLabels ? batch : output.Length;
        if (losses.Length != terms && !(losses.IsEmpty && Reduction != Reduction.None))
            throw new ArgumentException(
                $"{Name}: losses length must be {terms} (one per {(UsesLabels ? "row" : "element")} of [batch {batch}, width {width}]), but was {losses.Length}.",
                nameof(losses));
        return ComputeCore(output, labels, targets, dOutput, losses, batch);
    }

    /// <summary>The loss itself: validates the inputs, writes the gradient and (when not empty) the unreduced terms.</summary>
    /// <param name="output">[batch, width].</param>
    /// <param name="labels">[batch] class labels, for class losses.</param>
    /// <param name="targets">[batch, width] targets, for element-wise losses.</param>
    /// <param name="dOutput">[batch, width] gradient, overwritten.</param>
    /// <param name="losses">[terms] or empty; its length has been checked when not empty.</param>
    /// <param name="batch">Rows.</param>
    /// <returns>The reduced loss (the sum for <see cref="Reduction.None"/>).</returns>
    protected abstract float ComputeCore(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, Span<float> losses, int batch);

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>Checks <paramref name="batch"/>, the output and gradient lengths, and returns the width.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The output is not [batch, width] or <paramref name="dOutput"/> differs in length.</exception>
    protected int ValidateOutput(ReadOnlySpan<float> output, Span<float> dOutput, int batch)
    {
        if (batch <= 0)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"{Name}: the batch size must be positive.");
        if (output.Length == 0 || output.Length % batch != 0)
            throw new ArgumentException(
                $"{Name}: output length {output.Length} is not a positive multiple of the batch size {batch}.", nameof(output));
        if (dOutput.Length != output.Length)
            throw new ArgumentException(
                $"{Name}: dOutput length must equal the output length {output.Length} [batch {batch}, width {output.Length / batch}], but was {dOutput.Length}.",
                nameof(dOutput));
        return output.Length / batch;
    }

    /// <summary>Checks that the float targets match the output element for element.</summary>
    /// <exception cref="ArgumentException"><paramref name="targets"/> is not [batch, width].</exception>
    protected void ValidateTargets(ReadOnlySpan<float> targets, int batch, int width)
    {
        if (targets.Length != batch * width)
            throw new ArgumentException(
                $"{Name}: targets length must be {batch * width} [batch {batch}, width {width}], but was {targets.Length}.", nameof(targets));
    }

    /// <summary>Checks that a per-class vector given at construction has one value per output column.</summary>
    private protected void ValidateClassVector(float[]? vector, string name, int width)
    {
        if (vector is not null && vector.Length != width)
            throw new ArgumentException(
                $"{Name}: {name} has {vector.Length} values, but the output has {width} classes (columns); it must have one per class.", name);
    }

    /// <summary>Formats a number for <see cref="Name"/> with the invariant culture.</summary>
    private protected static string Format(float value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Formats a number for <see cref="Name"/> with the invariant culture.</summary>
    private protected static string Format(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The name suffix for a non-default reduction, e.g. <c>reduction: Sum</c>, or null for <see cref="Reduction.Mean"/>.</summary>
    private protected string? ReductionPart => Reduction == Reduction.Mean ? null : $"reduction: {Reduction}";

    /// <summary>Builds <c>Base(part1, part2, ...)</c> from the non-null parts, or <c>Base</c> when there are none.</summary>
    private protected static string Describe(string name, params string?[] parts)
    {
        string joined = string.Join(", ", parts.Where(p => p is not null));
        return joined.Length == 0 ? name : $"{name}({joined})";
    }

    /// <summary>Copies a per-class vector given at construction (null stays null), rejecting an empty one.</summary>
    /// <exception cref="ArgumentException"><paramref name="vector"/> is empty.</exception>
    private protected static float[]? CopyClassVector(float[]? vector, string name)
    {
        if (vector is null) return null;
        if (vector.Length == 0) throw new ArgumentException($"{name} must have one value per class, but is empty.", name);
        return (float[])vector.Clone();
    }
}
