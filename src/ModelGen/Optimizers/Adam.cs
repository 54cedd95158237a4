// Adam (Kingma & Ba) with PyTorch's torch.optim.Adam semantics: weight decay is an L2 penalty added to the gradient
// before the moments. The update itself is AdamKernel, shared with AdamW.
using ModelGen.Optimizers;

namespace ModelGen;

/// <summary>Adam, with PyTorch's <c>torch.optim.Adam</c> semantics (weight decay as an L2 penalty on the gradient, no AMSGrad).</summary>
public sealed class Adam : Optimizer
{
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
        : base(learningRate)
    {
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

    /// <summary>L2 penalty coefficient.</summary>
    public float WeightDecay { get; }

    /// <inheritdoc/>
    protected override void InitializeState(int parameterCount)
    {
        _firstMoment = new float[parameterCount];
        _secondMoment = new float[parameterCount];
    }

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int stateOffset, int step, float learningRate)
    {
        var c = AdamCoefficients.For(step, learningRate, Beta1, Beta2, Epsilon, WeightDecay, decoupled: false);
        AdamKernel.Run(parameters, gradients,
            _firstMoment.AsSpan(stateOffset, parameters.Length), _secondMoment.AsSpan(stateOffset, parameters.Length), c);
    }
}
