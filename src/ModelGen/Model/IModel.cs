// The contract between generated models and the runtime. Generated classes implement ITrainable so that
// losses, optimizers, serialization and Trainer stay ordinary runtime code, never generated per model.
namespace ModelGen;

/// <summary>
/// What every generated model has: shapes, layers and the named parameter buffer (what optimizers and serialization
/// need). How it runs depends on its input: <see cref="IFeedForwardModel"/> for fixed-size examples,
/// <see cref="ISequenceModel{TInput}"/> for sequences of a run-time length, <see cref="ISeq2SeqModel{TInput, TSource}"/> for
/// encoder-decoder models over a second sequence input.
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

    /// <summary>
    /// The contiguous parameter buffer: the trainable tensors only (weights, biases, BatchNorm's γ and β; layout given by
    /// <see cref="ParameterInfos"/>). What optimizers update and what <c>Gradients</c> mirrors.
    /// </summary>
    Span<float> Parameters { get; }

    /// <summary>Every named buffer tensor (running statistics, counters), in the order of <see cref="Buffers"/>.</summary>
    IReadOnlyList<BufferInfo> BufferInfos { get; }

    /// <summary>
    /// The contiguous buffer of non-trainable state, as PyTorch's registered buffers: BatchNorm's <c>running_mean</c>,
    /// <c>running_var</c> and <c>num_batches_tracked</c> (layout given by <see cref="BufferInfos"/>). Saved and loaded with
    /// the parameters, updated by training-mode forward passes, never given gradients nor seen by optimizers. Empty when
    /// the model has no buffers.
    /// </summary>
    Span<float> Buffers { get; }
}

/// <summary>
/// Training/evaluation mode as the model's state (PyTorch's <c>module.train()</c>/<c>module.eval()</c>). A new model is in
/// training mode, as in PyTorch. The mode decides what <c>ForwardTrain</c> does (dropout, batch or running statistics);
/// the inference <c>Forward</c> always runs in evaluation semantics whatever the mode, so serving code never depends on it.
/// </summary>
public interface IModalModel : IModel
{
    /// <summary>Whether the model is in training mode (true after construction, as in PyTorch).</summary>
    bool IsTraining { get; }

    /// <summary>
    /// Sets training mode (<paramref name="mode"/> = true, PyTorch's <c>train()</c>) or evaluation mode (false, <c>eval()</c>).
    /// In training mode <c>ForwardTrain</c> applies dropout, normalises BatchNorm with batch statistics and updates the
    /// running statistics and <c>num_batches_tracked</c>; in evaluation mode it uses the running statistics (left
    /// unchanged) and no dropout, and still keeps what <c>Backward</c> needs, so gradients of the evaluation-mode
    /// function can be computed (fine-tuning with frozen statistics).
    /// </summary>
    /// <param name="mode">True for training mode, false for evaluation mode.</param>
    void Train(bool mode = true);

    /// <summary>Sets evaluation mode: the same as <c>Train(false)</c>.</summary>
    void Eval();
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
    /// <summary>
    /// The longest sequence a call may pass (0: no bound). Generated models return their <c>MaxLength</c> constant; the
    /// default, for hand-written models, is 0.
    /// </summary>
    int MaxLength => 0;

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
public interface ISequenceTrainable<TInput> : ISequenceModel<TInput>, IModalModel where TInput : unmanaged
{
    /// <summary>Gradient buffer with the same layout as <see cref="IModel.Parameters"/>.</summary>
    Span<float> Gradients { get; }

    /// <summary>
    /// Forward pass that keeps what <see cref="Backward"/> needs, in the model's mode (<see cref="IModalModel.IsTraining"/>):
    /// dropout active only in training mode.
    /// </summary>
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

/// <summary>
/// A model over two sequences of their own run-time lengths (an encoder-decoder): the target-side input [batch, T, ...]
/// (<see cref="IModel.InputLength"/> values per position) and a second input, the source [batch, S, <see cref="SourceLength"/>],
/// declared with <c>[ModelInput]</c>; each padded to its length with per-example real lengths. The output is over T.
/// </summary>
/// <typeparam name="TInput"><c>int</c> (token ids) or <c>float</c>: the element of the model's own input.</typeparam>
/// <typeparam name="TSource"><c>int</c> (token ids) or <c>float</c>: the element of the second input.</typeparam>
public interface ISeq2SeqModel<TInput, TSource> : IModel where TInput : unmanaged where TSource : unmanaged
{
    /// <summary>Values per source position (1 for token ids).</summary>
    int SourceLength { get; }

    /// <summary>Runs inference on <paramref name="batch"/> pairs of a padded target-side input and a padded source.</summary>
    /// <param name="input">[batch, seq, InputLength] values (token ids: [batch, seq]).</param>
    /// <param name="source">[batch, sourceSeq, SourceLength] values of the second input (token ids: [batch, sourceSeq]).</param>
    /// <param name="output">[batch, seq, OutputLength] for a per-position output, else [batch, OutputLength].</param>
    /// <param name="batch">Examples in the call.</param>
    /// <param name="seq">Padded target-side length T.</param>
    /// <param name="sourceSeq">Padded source length S.</param>
    /// <param name="lengths">Real target-side lengths [batch] in [1, seq], or empty when every example has length <paramref name="seq"/>.</param>
    /// <param name="sourceLengths">Real source lengths [batch] in [1, sourceSeq], or empty when every source has length <paramref name="sourceSeq"/>.</param>
    /// <exception cref="ArgumentException">A span's length does not match, a length is outside its range, or seq exceeds the model's <c>MaxLength</c>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A token id is outside its embedding's vocabulary.</exception>
    void Forward(ReadOnlySpan<TInput> input, ReadOnlySpan<TSource> source, Span<float> output, int batch, int seq, int sourceSeq,
        ReadOnlySpan<int> lengths = default, ReadOnlySpan<int> sourceLengths = default);
}

/// <summary>A two-input (encoder-decoder) model that can be trained (see <see cref="ITrainable"/> for the contract).</summary>
/// <remarks>Training is single-caller: do not train one model from several threads at once.</remarks>
public interface ISeq2SeqTrainable<TInput, TSource> : ISeq2SeqModel<TInput, TSource>, IModalModel where TInput : unmanaged where TSource : unmanaged
{
    /// <summary>Gradient buffer with the same layout as <see cref="IModel.Parameters"/>.</summary>
    Span<float> Gradients { get; }

    /// <summary>
    /// Forward pass that keeps what <see cref="Backward"/> needs (including S and both length spans), in the model's mode
    /// (<see cref="IModalModel.IsTraining"/>): dropout active only in training mode. Arguments as
    /// <see cref="ISeq2SeqModel{TInput, TSource}.Forward"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A span's length does not match, a length is outside its range, or seq exceeds the model's <c>MaxLength</c>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A token id is outside its embedding's vocabulary.</exception>
    void ForwardTrain(ReadOnlySpan<TInput> input, ReadOnlySpan<TSource> source, Span<float> output, int batch, int seq, int sourceSeq,
        ReadOnlySpan<int> lengths = default, ReadOnlySpan<int> sourceLengths = default);

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
public interface ITrainable : IFeedForwardModel, IModalModel
{
    /// <summary>Gradient buffer with the same layout as <see cref="IModel.Parameters"/>.</summary>
    Span<float> Gradients { get; }

    /// <summary>
    /// Forward pass that keeps what <see cref="Backward"/> needs, in the model's mode (<see cref="IModalModel.IsTraining"/>):
    /// in training mode dropout is active and BatchNorm uses batch statistics (updating its buffers); in evaluation mode
    /// it computes what <see cref="IFeedForwardModel.Forward"/> computes and leaves the buffers unchanged.
    /// </summary>
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

/// <summary>A named buffer tensor (non-trainable state) inside a model's contiguous buffer span (<see cref="IModel.Buffers"/>).</summary>
/// <param name="Name">PyTorch state-dict name, e.g. <c>bn1.running_mean</c>.</param>
/// <param name="Shape">Tensor shape (<c>[]</c> for a scalar such as <c>num_batches_tracked</c>).</param>
/// <param name="Offset">Offset of the first element in the buffer span.</param>
/// <param name="Length">Number of elements (the product of <paramref name="Shape"/>).</param>
/// <param name="IsCount">
/// An integer counter (PyTorch's int64 <c>num_batches_tracked</c>): saved as an I64 tensor, held in the float span as a
/// whole number, exact up to 2^24 = 16,777,216 (a count that reaches it stays there).
/// </param>
public sealed record BufferInfo(string Name, int[] Shape, int Offset, int Length, bool IsCount = false)
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
    public Layer(IModel model, string name, string kind, int[] inputShape, int[] outputShape, ParameterInfo[] parameters, long flops,
        BufferInfo[]? buffers = null)
    {
        Buffers = buffers ?? [];
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

    /// <summary>The layer's buffer tensors (running statistics, counters; empty for most layers), never trained.</summary>
    public IReadOnlyList<BufferInfo> Buffers { get; }

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

    /// <summary>
    /// Whether the optimizer updates this layer's parameters (default true). Frozen layers keep their values; their
    /// gradients are still computed by <c>Backward</c>. Independent of the model's training/evaluation mode.
    /// </summary>
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

    /// <summary>A view of the named buffer (e.g. <c>"running_mean"</c>) inside the model's buffer span (<see cref="IModel.Buffers"/>).</summary>
    /// <exception cref="KeyNotFoundException">The layer has no buffer of that name.</exception>
    public Span<float> Buffer(string shortName)
    {
        foreach (var b in Buffers)
            if (b.Name.Length == Name.Length + 1 + shortName.Length && b.Name.EndsWith(shortName, StringComparison.Ordinal)
                && b.Name.StartsWith(Name, StringComparison.Ordinal))
                return _model.Buffers.Slice(b.Offset, b.Length);
        throw new KeyNotFoundException($"Layer '{Name}' ({Kind}) has no buffer '{shortName}'.");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Kind}) [{string.Join(", ", InputShape)}] -> [{string.Join(", ", OutputShape)}]";
}
