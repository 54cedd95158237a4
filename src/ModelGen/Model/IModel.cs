// The contract between generated models and the runtime. Generated classes implement ITrainable so that
// losses, optimizers, serialization and Trainer stay ordinary runtime code, never generated per model.
namespace ModelGen;

/// <summary>
/// What every generated model has: shapes, layers and the named parameter buffer (what optimizers and serialization
/// need). How it runs depends on its input: <see cref="IFeedForwardModel"/> for fixed-size examples,
/// <see cref="ISequenceModel{TInput}"/> for sequences of a run-time length.
/// </summary>
public interface IModel
{
    /// <summary>Per-example input shape (batch excluded).</summary>
    ReadOnlySpan<int> InputShapeDims { get; }

    /// <summary>Per-example output shape (batch excluded).</summary>
    ReadOnlySpan<int> OutputShapeDims { get; }

    /// <summary>Number of floats in one example's input.</summary>
    int InputLength { get; }

    /// <summary>Number of floats in one example's output.</summary>
    int OutputLength { get; }

    /// <summary>The layers in execution order, with shapes and parameter views.</summary>
    IReadOnlyList<Layer> Layers { get; }

    /// <summary>Every named parameter tensor, in the order of the parameter buffer.</summary>
    IReadOnlyList<ParameterInfo> ParameterInfos { get; }

    /// <summary>The contiguous parameter buffer (all weights and biases; layout given by <see cref="ParameterInfos"/>).</summary>
    Span<float> Parameters { get; }
}

/// <summary>A model over fixed-size examples (every input dimension known at compile time).</summary>
public interface IFeedForwardModel : IModel
{
    /// <summary>Runs inference on <paramref name="batch"/> examples laid out back to back.</summary>
    /// <exception cref="ArgumentException">A span has the wrong length, or <paramref name="batch"/> is not positive or exceeds the model's <c>MaxBatch</c>.</exception>
    void Forward(ReadOnlySpan<float> input, Span<float> output, int batch);
}

/// <summary>
/// A model over sequences whose length T is a run-time dimension, fixed per call: the input is [batch, T, ...]
/// (<typeparamref name="TInput"/> is <c>int</c> for token ids, else <c>float</c>), padded to T, with each example's
/// real length optionally given; padded positions never affect real positions' outputs.
/// </summary>
/// <typeparam name="TInput"><c>int</c> (token ids) or <c>float</c>.</typeparam>
public interface ISequenceModel<TInput> : IModel where TInput : unmanaged
{
    /// <summary>Runs inference on <paramref name="batch"/> sequences of padded length <paramref name="seq"/>.</summary>
    /// <param name="input">[batch, seq, InputLength] values (token ids: [batch, seq]).</param>
    /// <param name="output">[batch, seq, OutputLength] for a per-position output, else [batch, OutputLength].</param>
    /// <param name="batch">Examples in the call.</param>
    /// <param name="seq">Padded sequence length T.</param>
    /// <param name="lengths">Real lengths [batch] in [1, seq], or empty when every example has length <paramref name="seq"/>.</param>
    /// <exception cref="ArgumentException">A span's length does not match, or a length is outside [1, seq].</exception>
    void Forward(ReadOnlySpan<TInput> input, Span<float> output, int batch, int seq, ReadOnlySpan<int> lengths = default);
}

/// <summary>A sequence model that can be trained (see <see cref="ITrainable"/> for the contract).</summary>
/// <remarks>Training is single-caller: do not train one model from several threads at once.</remarks>
public interface ISequenceTrainable<TInput> : ISequenceModel<TInput> where TInput : unmanaged
{
    /// <summary>Gradient buffer with the same layout as <see cref="IModel.Parameters"/>.</summary>
    Span<float> Gradients { get; }

    /// <summary>Forward pass in training mode (dropout active); keeps what <see cref="Backward"/> needs.</summary>
    void ForwardTrain(ReadOnlySpan<TInput> input, Span<float> output, int batch, int seq, ReadOnlySpan<int> lengths = default);

    /// <summary>
    /// Back-propagates <paramref name="dOutput"/> (∂loss/∂output of the last <see cref="ForwardTrain"/>, zero at padded
    /// positions) and <b>accumulates</b> parameter gradients into <see cref="Gradients"/>. Writes ∂loss/∂input to
    /// <paramref name="dInput"/> unless it is empty (token models have no input gradient: pass empty).
    /// </summary>
    void Backward(ReadOnlySpan<float> dOutput, Span<float> dInput);

    /// <summary>Re-seeds the generator dropout uses during training.</summary>
    void SeedDropout(ulong seed);
}

/// <summary>A model that can be trained: a training forward that keeps activations and a generated backward pass.</summary>
/// <remarks>Training is single-caller: do not train one model from several threads at once.</remarks>
public interface ITrainable : IFeedForwardModel
{
    /// <summary>Gradient buffer with the same layout as <see cref="IModel.Parameters"/>.</summary>
    Span<float> Gradients { get; }

    /// <summary>Forward pass in training mode (dropout active); keeps what <see cref="Backward"/> needs.</summary>
    /// <exception cref="ArgumentException">A span has the wrong length, or <paramref name="batch"/> is not positive or exceeds the model's <c>MaxBatch</c>.</exception>
    void ForwardTrain(ReadOnlySpan<float> input, Span<float> output, int batch);

    /// <summary>
    /// Back-propagates <paramref name="dOutput"/> (∂loss/∂output of the last <see cref="ForwardTrain"/>) and
    /// <b>accumulates</b> parameter gradients into <see cref="Gradients"/>. Writes ∂loss/∂input to
    /// <paramref name="dInput"/> unless it is empty.
    /// </summary>
    void Backward(ReadOnlySpan<float> dOutput, Span<float> dInput);

    /// <summary>Re-seeds the generator dropout uses during training.</summary>
    void SeedDropout(ulong seed);
}

/// <summary>A named parameter tensor inside a model's contiguous parameter buffer.</summary>
/// <param name="Name">PyTorch-style name, e.g. <c>fc1.weight</c>.</param>
/// <param name="Shape">Tensor shape, PyTorch layout (Dense weight is [out, in]).</param>
/// <param name="Offset">Offset of the first element in the parameter buffer.</param>
/// <param name="Length">Number of elements (the product of <paramref name="Shape"/>).</param>
public sealed record ParameterInfo(string Name, int[] Shape, int Offset, int Length)
{
    /// <summary>Shape rendered as <c>[a, b]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>One layer of a generated model: its name, kind, shapes and parameter views.</summary>
public sealed class Layer
{
    private readonly IModel _model;

    /// <summary>Names the model's input in <c>From = Layer.Input</c> and in merges.</summary>
    public const string Input = "<input>";

    /// <summary>Created by generated code; users get layers from the model's properties or <see cref="IModel.Layers"/>.</summary>
    public Layer(IModel model, string name, string kind, int[] inputShape, int[] outputShape, ParameterInfo[] parameters, long flops)
    {
        _model = model;
        Name = name;
        Kind = kind;
        InputShape = inputShape;
        OutputShape = outputShape;
        Parameters = parameters;
        Flops = flops;
    }

    /// <summary>The layer's name (lower-case member name), used in summaries and weight files.</summary>
    public string Name { get; }

    /// <summary>The layer kind, e.g. <c>Dense</c> or <c>ReLU</c>.</summary>
    public string Kind { get; }

    /// <summary>Per-example input shape.</summary>
    public int[] InputShape { get; }

    /// <summary>Per-example output shape.</summary>
    public int[] OutputShape { get; }

    /// <summary>The layer's parameter tensors (empty for parameter-free layers).</summary>
    public IReadOnlyList<ParameterInfo> Parameters { get; }

    /// <summary>Multiply-adds × 2 per example in the forward pass.</summary>
    public long Flops { get; }

    /// <summary>Total parameter count of this layer.</summary>
    public int ParameterCount
    {
        get
        {
            int n = 0;
            foreach (var p in Parameters) n += p.Length;
            return n;
        }
    }

    /// <summary>Whether the optimizer updates this layer's parameters (default true). Frozen layers keep their values.</summary>
    public bool Trainable { get; set; } = true;

    /// <summary>Multiplier applied to the optimizer's learning rate for this layer (default 1).</summary>
    public float LearningRateScale { get; set; } = 1f;

    /// <summary>A view of the named parameter (e.g. <c>"weight"</c>) inside the model's parameter buffer.</summary>
    /// <exception cref="KeyNotFoundException">The layer has no parameter of that name.</exception>
    public Span<float> Parameter(string shortName)
    {
        foreach (var p in Parameters)
            if (p.Name.Length == Name.Length + 1 + shortName.Length && p.Name.EndsWith(shortName, StringComparison.Ordinal)
                && p.Name.StartsWith(Name, StringComparison.Ordinal))
                return _model.Parameters.Slice(p.Offset, p.Length);
        throw new KeyNotFoundException($"Layer '{Name}' ({Kind}) has no parameter '{shortName}'.");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Kind}) [{string.Join(", ", InputShape)}] -> [{string.Join(", ", OutputShape)}]";
}
