// Adam (Kingma & Ba) with PyTorch's torch.optim.Adam semantics: weight decay is an L2 penalty added to the gradient
// before the moments. AdamW derives from it (as torch.optim.AdamW derives from Adam) and only decouples the decay;
// the update itself is AdamKernel.
using ModelGen.Optimizers;

namespace ModelGen;

/// <summary>
/// Adam, with PyTorch's <c>torch.optim.Adam</c> semantics (weight decay as an L2 penalty on the gradient; AMSGrad optional).
/// Per element, with <c>bc_k = 1 - beta_k^step</c>:
/// <c>g += wd·p; m = beta1·m + (1 - beta1)·g; v = beta2·v + (1 - beta2)·g²; vmax = max(vmax, v) (AMSGrad);
/// p -= (lr / bc1)·m / (sqrt(v or vmax) / sqrt(bc2) + eps)</c>.
/// </summary>
/// <remarks>
/// State, as <c>torch.optim.Adam</c> names it: <c>step</c>, <c>exp_avg</c> (m), <c>exp_avg_sq</c> (v) and, with AMSGrad,
/// <c>max_exp_avg_sq</c> (vmax); see <see cref="Serialization.ModelWeights"/> for saving it.
/// </remarks>
public class Adam : Optimizer
{
    private readonly bool _decoupled;
    private float[] _firstMoment = [];    // m [parameterCount]
    private float[] _secondMoment = [];   // v [parameterCount]
    private float[] _maxSecondMoment = []; // vmax [parameterCount], AMSGrad only

    /// <summary>Creates an Adam optimizer.</summary>
    /// <param name="learningRate">Learning rate (&gt;= 0).</param>
    /// <param name="beta1">Decay rate of the first moment, in [0, 1).</param>
    /// <param name="beta2">Decay rate of the second moment, in [0, 1).</param>
    /// <param name="epsilon">Added to the denominator for stability (&gt;= 0).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (&gt;= 0).</param>
    /// <param name="amsgrad">Use the running maximum of the second moment in the denominator (PyTorch's <c>amsgrad</c>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its range or not finite.</exception>
    public Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0, bool amsgrad = false)
        : this(learningRate, beta1, beta2, epsilon, weightDecay, amsgrad, decoupled: false)
    {
    }

    /// <summary>For <see cref="AdamW"/>: <paramref name="decoupled"/> applies weight decay to the parameters instead of the gradient.</summary>
    private protected Adam(float learningRate, float beta1, float beta2, float epsilon, float weightDecay, bool amsgrad, bool decoupled)
        : base(learningRate)
    {
        _decoupled = decoupled;
        Amsgrad = amsgrad;
        AdamCoefficients.Validate(beta1, beta2, epsilon, weightDecay);
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
    }

    /// <summary>Decay rate of the first moment.</summary>
    public float Beta1 { get; }

    /// <summary>Decay rate of the second moment.</summary>
    public float Beta2 { get; }

    /// <summary>Denominator term for numerical stability.</summary>
    public float Epsilon { get; }

    /// <summary>Weight decay coefficient: an L2 penalty on the gradient for Adam, decoupled for <see cref="AdamW"/>.</summary>
    public float WeightDecay { get; }

    /// <summary>Whether the AMSGrad variant is used.</summary>
    public bool Amsgrad { get; }

    /// <inheritdoc/>
    protected sealed override void InitializeState(int parameterCount)
    {
        _firstMoment = new float[parameterCount];
        _secondMoment = new float[parameterCount];
        if (Amsgrad) _maxSecondMoment = new float[parameterCount];
    }

    /// <inheritdoc/>
    protected sealed override void AddStateBuffers(IList<(string Name, float[] Values)> buffers)
    {
        buffers.Add(("exp_avg", _firstMoment));
        buffers.Add(("exp_avg_sq", _secondMoment));
        if (Amsgrad) buffers.Add(("max_exp_avg_sq", _maxSecondMoment));
    }

    /// <inheritdoc/>
    protected sealed override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int stateOffset, int step, float learningRate)
    {
        var c = AdamCoefficients.For(step, learningRate, Beta1, Beta2, Epsilon, WeightDecay, _decoupled);
        AdamKernel.Run(parameters, gradients,
            _firstMoment.AsSpan(stateOffset, parameters.Length), _secondMoment.AsSpan(stateOffset, parameters.Length),
            Amsgrad ? _maxSecondMoment.AsSpan(stateOffset, parameters.Length) : default, c);
    }
}
