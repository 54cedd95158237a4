// AdamW (Loshchilov & Hutter) with PyTorch's torch.optim.AdamW semantics: weight decay is decoupled from the gradient,
// p *= 1 - lr * weight_decay before the Adam step. The update itself is AdamKernel, shared with Adam.
using ModelGen.Optimizers;

namespace ModelGen;

/// <summary>AdamW, with PyTorch's <c>torch.optim.AdamW</c> semantics: decoupled weight decay <c>p *= 1 - lr * weightDecay</c>, no AMSGrad.</summary>
public sealed class AdamW : Optimizer
{
    private float[] _firstMoment = [];   // m [parameterCount]
    private float[] _secondMoment = [];  // v [parameterCount]

    /// <summary>Creates an AdamW optimizer.</summary>
    /// <param name="learningRate">Learning rate (&gt;= 0).</param>
    /// <param name="beta1">Decay rate of the first moment, in [0, 1).</param>
    /// <param name="beta2">Decay rate of the second moment, in [0, 1).</param>
    /// <param name="epsilon">Added to the denominator for stability (&gt;= 0).</param>
    /// <param name="weightDecay">Decoupled weight decay coefficient (&gt;= 0; PyTorch's default 0.01).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its range or not finite.</exception>
    public AdamW(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 1e-2f)
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

    /// <summary>Decoupled weight decay coefficient.</summary>
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
        var c = AdamCoefficients.For(step, learningRate, Beta1, Beta2, Epsilon, WeightDecay, decoupled: true);
        AdamKernel.Run(parameters, gradients,
            _firstMoment.AsSpan(stateOffset, parameters.Length), _secondMoment.AsSpan(stateOffset, parameters.Length), c);
    }
}
