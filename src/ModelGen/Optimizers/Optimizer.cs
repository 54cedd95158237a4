// Base of the optimizers: walks a model's layers (skipping frozen ones and non-trainable buffers), scales the
// learning rate per layer and hands each parameter tensor to the subclass's element-wise update. Per-element state
// (momentum, moments) lives in flat arrays sized to the parameter buffer and indexed by parameter offset, allocated
// once on the first step, so steady-state steps allocate nothing. Each parameter tensor keeps its own step count,
// as PyTorch keeps state['step'] per parameter: a layer frozen for a while and then unfrozen starts its momentum and
// bias corrections afresh, exactly as with requires_grad=False in PyTorch.
using System.Runtime.InteropServices;

namespace ModelGen;

/// <summary>
/// Updates a model's parameters from their gradients. Subclasses implement PyTorch's <c>torch.optim</c> update rules.
/// </summary>
/// <remarks>
/// An optimizer instance belongs to one parameter buffer: its state is sized on the first step and a later step with a
/// buffer of another length throws. Steps do not clear the gradients: a model's backward pass accumulates into them, so
/// the training loop clears them before the next backward (PyTorch's <c>zero_grad</c>). Not thread-safe (training is
/// single-caller).
/// </remarks>
public abstract partial class Optimizer
{
    private float _learningRate;
    private int _stateLength = -1;

    // Per parameter tensor (keyed by its offset in the buffer): how many updates it has received. Filled on the first
    // steps only, so lookups in later steps do not allocate.
    private readonly Dictionary<int, int> _tensorSteps = new();

    /// <summary>Creates an optimizer with the given base learning rate.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="learningRate"/> is negative, NaN or infinite.</exception>
    protected Optimizer(float learningRate)
    {
        RequireLearningRate(learningRate, nameof(learningRate));
        _learningRate = learningRate;
    }

    /// <summary>The current learning rate (a schedule typically sets it before every step).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative, NaN or infinite.</exception>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            RequireLearningRate(value, nameof(LearningRate));
            _learningRate = value;
        }
    }

    /// <summary>Number of completed <c>Step</c> calls.</summary>
    public int StepCount { get; private set; }

    /// <summary>
    /// One update of every trainable parameter of <paramref name="model"/>. Layers with <see cref="Layer.Trainable"/> false are
    /// skipped entirely (their values and optimizer state do not change, as with PyTorch's <c>requires_grad=False</c>); the others
    /// use <see cref="LearningRate"/> × <see cref="Layer.LearningRateScale"/>. Normalisation running statistics
    /// (<c>running_mean</c>, <c>running_var</c>, <c>num_batches_tracked</c>) are buffers, not parameters, and are never touched.
    /// </summary>
    /// <param name="model">The model whose <see cref="IModel.Parameters"/> are updated in place.</param>
    /// <param name="gradients">Gradients with the layout of <see cref="IModel.Parameters"/> [parameterCount].</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException">The gradient length differs from the parameter count.</exception>
    /// <exception cref="InvalidOperationException">The optimizer was used before on a parameter buffer of another length.</exception>
    public void Step(IModel model, ReadOnlySpan<float> gradients)
    {
        ArgumentNullException.ThrowIfNull(model);
        Span<float> parameters = model.Parameters;
        if (gradients.Length != parameters.Length)
            throw new ArgumentException(
                $"Gradient length {gradients.Length} does not match the model's parameter count {parameters.Length}.", nameof(gradients));
        EnsureState(parameters.Length);
        StepCount++;

        IReadOnlyList<Layer> layers = model.Layers;
        // Index loops: foreach over IReadOnlyList<T> would allocate an enumerator every step.
        for (int l = 0; l < layers.Count; l++)
        {
            Layer layer = layers[l];
            if (!layer.Trainable) continue;
            float learningRate = _learningRate * layer.LearningRateScale;
            IReadOnlyList<ParameterInfo> tensors = layer.Parameters;
            for (int t = 0; t < tensors.Count; t++)
            {
                ParameterInfo info = tensors[t];
                if (IsBuffer(info.Name)) continue;
                if ((uint)info.Offset > (uint)parameters.Length || (uint)info.Length > (uint)(parameters.Length - info.Offset))
                    throw new ArgumentException(
                        $"Parameter '{info.Name}' spans [{info.Offset}, {info.Offset + info.Length}) but the parameter buffer has {parameters.Length} elements.",
                        nameof(model));
                int step = ++CollectionsMarshal.GetValueRefOrAddDefault(_tensorSteps, info.Offset, out _);
                Update(parameters.Slice(info.Offset, info.Length), gradients.Slice(info.Offset, info.Length), info.Offset, step, learningRate);
            }
        }
    }

    /// <summary>One update of a flat parameter buffer treated as a single tensor with learning-rate scale 1, for custom loops.</summary>
    /// <param name="parameters">Parameters [n], updated in place.</param>
    /// <param name="gradients">Gradients [n].</param>
    /// <exception cref="ArgumentException">The two spans differ in length.</exception>
    /// <exception cref="InvalidOperationException">The optimizer was used before on a parameter buffer of another length.</exception>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        if (gradients.Length != parameters.Length)
            throw new ArgumentException(
                $"Gradient length {gradients.Length} does not match the parameter length {parameters.Length}.", nameof(gradients));
        EnsureState(parameters.Length);
        StepCount++;
        int step = ++CollectionsMarshal.GetValueRefOrAddDefault(_tensorSteps, 0, out _);
        Update(parameters, gradients, 0, step, _learningRate);
    }

    /// <summary>
    /// Allocates the per-element state for a parameter buffer of <paramref name="parameterCount"/> floats. Called once, before the
    /// first update. The default allocates nothing (for stateless rules).
    /// </summary>
    protected virtual void InitializeState(int parameterCount)
    {
    }

    /// <summary>
    /// Lists the per-element state buffers (each [parameterCount], indexed like the parameter buffer) under the names
    /// <c>torch.optim</c> gives them in a parameter's state (<c>exp_avg</c>, <c>square_avg</c>, <c>momentum_buffer</c>, ...),
    /// for saving and loading. Called after <see cref="InitializeState"/>; the default lists none (for stateless rules).
    /// </summary>
    /// <param name="buffers">Receives (name, buffer) pairs.</param>
    protected virtual void AddStateBuffers(IList<(string Name, float[] Values)> buffers)
    {
    }

    /// <summary>Applies the update rule to one parameter tensor.</summary>
    /// <param name="parameters">The tensor's parameters [n], updated in place.</param>
    /// <param name="gradients">Their gradients [n].</param>
    /// <param name="stateOffset">Offset of the tensor in the parameter buffer: where its per-element state starts.</param>
    /// <param name="step">1-based count of updates this tensor has received, this one included (PyTorch's <c>state['step']</c>).</param>
    /// <param name="learningRate">The learning rate for this tensor (base rate × the layer's scale).</param>
    protected abstract void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int stateOffset, int step, float learningRate);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="value"/> is finite and within [min, max] (or [min, max) when <paramref name="maxExclusive"/>).</summary>
    private protected static void RequireInRange(float value, float min, float max, bool maxExclusive, string name)
    {
        bool ok = float.IsFinite(value) && value >= min && (maxExclusive ? value < max : value <= max);
        if (!ok)
        {
            string upper = float.IsPositiveInfinity(max) ? "" : (maxExclusive ? $" and < {max}" : $" and <= {max}");
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be a finite value >= {min}{upper}.");
        }
    }

    private static void RequireLearningRate(float value, string name)
    {
        if (!(value >= 0) || float.IsPositiveInfinity(value))
            throw new ArgumentOutOfRangeException(name, value, "The learning rate must be a finite value >= 0.");
    }

    private void EnsureState(int length)
    {
        if (_stateLength == length) return;
        if (_stateLength >= 0)
            throw new InvalidOperationException(
                $"This optimizer's state was sized for {_stateLength} parameters but the step received {length}; use one optimizer per parameter buffer.");
        InitializeState(length);
        _stateLength = length;
    }

    // PyTorch registers normalisation statistics as buffers, which optimizers never see. Layer exposes them beside the
    // parameters (so they are saved and loaded), so they are recognised by their PyTorch names.
    internal static bool IsBuffer(string name)
        => name.EndsWith("running_mean", StringComparison.Ordinal)
        || name.EndsWith("running_var", StringComparison.Ordinal)
        || name.EndsWith("num_batches_tracked", StringComparison.Ordinal);
}
