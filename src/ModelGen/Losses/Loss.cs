// The loss functions a training loop plugs in: one abstract class with a single fused call that returns the mean
// loss and writes its gradient, so Trainer and users' own loops stay model-independent. Implementations are
// stateless singletons (or small immutable objects), validate shapes with messages giving expected vs actual, and
// allocate nothing per call. Semantics are PyTorch's (reduction='mean').
namespace ModelGen;

/// <summary>A loss function with its gradient, with PyTorch semantics and <c>reduction='mean'</c>.</summary>
/// <remarks>Implementations are immutable and thread-safe; <see cref="Compute"/> allocates nothing.</remarks>
public abstract class Loss
{
    private static readonly Loss s_crossEntropy = new CrossEntropyLoss(0f);

    /// <summary>Cross-entropy from logits (PyTorch <c>nn.CrossEntropyLoss</c>): a fused, max-subtracted log-softmax, averaged over the batch.</summary>
    public static Loss CrossEntropy => s_crossEntropy;

    /// <summary>Cross-entropy from logits against targets smoothed as in PyTorch's <c>label_smoothing</c>: (1 - ε)·onehot + ε/classes.</summary>
    /// <param name="smoothing">ε in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="smoothing"/> is outside [0, 1].</exception>
    public static Loss CrossEntropyWithLabelSmoothing(float smoothing)
    {
        if (!(smoothing >= 0 && smoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "Label smoothing must be in [0, 1].");
        return smoothing == 0 ? s_crossEntropy : new CrossEntropyLoss(smoothing);
    }

    /// <summary>PyTorch's default <c>ignore_index</c> for <c>nn.CrossEntropyLoss</c>: -100.</summary>
    public const int DefaultIgnoreIndex = -100;

    /// <summary>
    /// Cross-entropy from logits that skips rows labelled <paramref name="ignoreIndex"/> (PyTorch
    /// <c>nn.CrossEntropyLoss(ignore_index=ignoreIndex)</c>): the mean is over the other rows only, and ignored rows get
    /// a zero gradient.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The unit is the row of <see cref="Compute"/>'s <c>output</c>, not the example: a sequence model passes its logits
    /// as <c>batch·seq</c> rows of [classes] with one label per position (the padded positions labelled
    /// <paramref name="ignoreIndex"/>), so the loss is the mean over the real tokens of the whole batch, as PyTorch's
    /// <c>cross_entropy(logits.view(-1, C), targets.view(-1))</c>.
    /// </para>
    /// <para>
    /// If every row is ignored, PyTorch returns NaN (0/0); this loss returns 0 and a zero gradient instead, so a batch
    /// made only of padding leaves the parameters unchanged. Labels other than <paramref name="ignoreIndex"/> must lie
    /// in [0, classes); <paramref name="ignoreIndex"/> itself may be any value, including a real class (e.g. 0 as the
    /// padding class).
    /// </para>
    /// </remarks>
    /// <param name="ignoreIndex">The label that marks a row to skip (PyTorch's default is <see cref="DefaultIgnoreIndex"/>).</param>
    public static Loss CrossEntropyIgnoring(int ignoreIndex) => new CrossEntropyLoss(0f, ignoreIndex);

    /// <summary>
    /// Cross-entropy with both label smoothing and <c>ignore_index</c>, as PyTorch's
    /// <c>nn.CrossEntropyLoss(ignore_index=ignoreIndex, label_smoothing=smoothing)</c>: the smoothed loss of each counted
    /// row, averaged over the counted rows. See <see cref="CrossEntropyIgnoring(int)"/> for rows and the all-ignored case.
    /// </summary>
    /// <param name="ignoreIndex">The label that marks a row to skip.</param>
    /// <param name="smoothing">ε in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="smoothing"/> is outside [0, 1].</exception>
    public static Loss CrossEntropyIgnoring(int ignoreIndex, float smoothing)
    {
        if (!(smoothing >= 0 && smoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "Label smoothing must be in [0, 1].");
        return new CrossEntropyLoss(smoothing, ignoreIndex);
    }

    /// <summary>Mean squared error over all elements (PyTorch <c>nn.MSELoss</c>).</summary>
    public static Loss MeanSquaredError { get; } = new MeanSquaredErrorLoss();

    /// <summary>
    /// Binary cross-entropy on logits over all elements (PyTorch <c>nn.BCEWithLogitsLoss</c>), computed stably as
    /// <c>max(x, 0) - x·t + log(1 + exp(-|x|))</c>.
    /// </summary>
    public static Loss BinaryCrossEntropyWithLogits { get; } = new BinaryCrossEntropyWithLogitsLoss();

    /// <summary>A short display name, e.g. <c>CrossEntropy</c>.</summary>
    public abstract string Name { get; }

    /// <summary>True when the loss reads integer class labels (cross-entropy); false when it reads float targets.</summary>
    public abstract bool UsesLabels { get; }

    /// <summary>
    /// Computes the mean loss over the batch and writes ∂loss/∂output (with the same mean reduction) into <paramref name="dOutput"/>.
    /// </summary>
    /// <param name="output">The model's output [batch, width], with width = output.Length / batch.</param>
    /// <param name="labels">
    /// Class labels [batch] in [0, width) when <see cref="UsesLabels"/> (or the ignore index, for
    /// <see cref="CrossEntropyIgnoring(int)"/>); otherwise ignored.
    /// </param>
    /// <param name="targets">Targets [batch, width] when not <see cref="UsesLabels"/>; otherwise ignored.</param>
    /// <param name="dOutput">Receives the gradient [batch, width] (overwritten, not accumulated).</param>
    /// <param name="batch">Number of rows (&gt; 0): examples, or batch·seq positions for a per-position loss on a sequence.</param>
    /// <returns>The mean loss (over the rows that are not ignored, for <see cref="CrossEntropyIgnoring(int)"/>).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is not positive, or a label is outside [0, width).</exception>
    /// <exception cref="ArgumentException">A span's length does not match the batch and width.</exception>
    public abstract float Compute(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, Span<float> dOutput, int batch);

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>Checks <paramref name="batch"/>, the output and gradient lengths, and returns the width.</summary>
    private protected int ValidateOutput(ReadOnlySpan<float> output, Span<float> dOutput, int batch)
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
    private protected void ValidateTargets(ReadOnlySpan<float> targets, int batch, int width)
    {
        if (targets.Length != batch * width)
            throw new ArgumentException(
                $"{Name}: targets length must be {batch * width} [batch {batch}, width {width}], but was {targets.Length}.", nameof(targets));
    }
}
