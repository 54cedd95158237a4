// AdamW (Loshchilov & Hutter) with PyTorch's torch.optim.AdamW semantics: weight decay is decoupled from the gradient,
// p *= 1 - lr * weight_decay before the Adam step. Everything else is Adam's (AdamW derives from Adam, as in PyTorch).
namespace ModelGen;

/// <summary>AdamW, with PyTorch's <c>torch.optim.AdamW</c> semantics: decoupled weight decay <c>p *= 1 - lr * weightDecay</c>, then <see cref="Adam"/>'s update (AMSGrad optional).</summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates an AdamW optimizer.</summary>
    /// <param name="learningRate">Learning rate (&gt;= 0).</param>
    /// <param name="beta1">Decay rate of the first moment, in [0, 1).</param>
    /// <param name="beta2">Decay rate of the second moment, in [0, 1).</param>
    /// <param name="epsilon">Added to the denominator for stability (&gt;= 0).</param>
    /// <param name="weightDecay">Decoupled weight decay coefficient (&gt;= 0; PyTorch's default 0.01).</param>
    /// <param name="amsgrad">Use the running maximum of the second moment in the denominator (PyTorch's <c>amsgrad</c>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its range or not finite.</exception>
    public AdamW(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 1e-2f, bool amsgrad = false)
        : base(learningRate, beta1, beta2, epsilon, weightDecay, amsgrad, decoupled: true)
    {
    }
}
