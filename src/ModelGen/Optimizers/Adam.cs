// Adam (Kingma & Ba) with PyTorch's torch.optim.Adam semantics: weight decay is an L2 penalty added to the gradient
// before the moments. AdamW derives from it (as torch.optim.AdamW derives from Adam) and only decouples the decay;
// the update itself is AdamKernel.
using ModelGen.Optimizers;

namespace ModelGen;

/// <summary>Adam, with PyTorch's <c>torch.optim.Adam</c> semantics (weight decay as an L2 penalty on the gradient, no AMSGrad).</summary>
public class Adam : Optimizer
{
    private readonly bool _decoupled;
    private float[] _firstMoment = [];   // m [parameterCount]
    private float[] _secondMoment = [];  // v [parameterCount]

    /// <summary>Creates an Adam optimizer.</summary>
    /// <param name="learningRate">Learning rate (&gt;= 0).</param>
    /// <param name="beta1">Decay rate of the first moment, in [0, 1).</param>
    /// <param name="beta2">Decay rate of the second moment, in [0, 1).</param>
    /// <param name="epsilon">Added to the denominator for stability (&gt;= 0).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (&gt;= 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its range or not finite.</exception>
    public Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0)
        : this(learningRate, beta1, beta2, epsilon, weightDecay, decoupled: false)
    {
    }

    /// <summary>For <see cref="AdamW"/>: <paramref name="decoupled"/> applies weight decay to the parameters instead of the gradient.</summary>
    private protected Adam(float learningRate, float beta1, float beta2, float epsilon, float weightDecay, bool decoupled)
        : base(learningRate)
    {
        _decoupled = decoupled;
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

    /// <inheritdoc/>
    protected sealed override void InitializeState(int parameterCount)
    {
        _firstMoment = new float[parameterCount];
        _secondMoment = new float[parameterCount];
    }

    /// <inheritdoc/>
    protected sealed override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int stateOffset, int step, float learningRate)
    {
        var c = AdamCoefficients.For(step, learningRate, Beta1, Beta2, Epsilon, WeightDecay, _decoupled);
        AdamKernel.Run(parameters, gradients,
            _firstMoment.AsSpan(stateOffset, parameters.Length), _secondMoment.AsSpan(stateOffset, parameters.Length), c);
    }
}
