// Adagrad (Duchi et al.) with torch.optim.Adagrad's single-tensor implementation (foreach=False, maximize=False):
//   g = grad + weight_decay * p
//   clr = lr / (1 + (step - 1) * lr_decay)          (per tensor, in double, once per step)
//   sum = sum + g * g                               (state 'sum', initialised to initial_accumulator_value)
//   p = p - clr * g / (sqrt(sum) + eps)
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>
/// Adagrad, with PyTorch's <c>torch.optim.Adagrad</c> semantics and defaults. Per element, at the tensor's update number
/// <c>step</c> (1-based): <c>g += wd·p; sum += g²; p -= lr / (1 + (step - 1)·lrDecay) · g / (sqrt(sum) + eps)</c>.
/// </summary>
/// <remarks>State, as <c>torch.optim.Adagrad</c> names it: <c>step</c> and <c>sum</c>.</remarks>
public sealed class Adagrad : Optimizer
{
    private float[] _sum = [];   // [parameterCount], starts at InitialAccumulatorValue

    /// <summary>Creates an Adagrad optimizer (PyTorch's defaults).</summary>
    /// <param name="learningRate">Learning rate (&gt;= 0; PyTorch's <c>lr</c>, default 1e-2).</param>
    /// <param name="learningRateDecay">Decay of the learning rate per update (&gt;= 0; PyTorch's <c>lr_decay</c>).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (&gt;= 0).</param>
    /// <param name="initialAccumulatorValue">Starting value of the squared-gradient sum (&gt;= 0).</param>
    /// <param name="epsilon">Added to the denominator (&gt;= 0; PyTorch's <c>eps</c>, default 1e-10).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative or not finite.</exception>
    public Adagrad(float learningRate = 1e-2f, float learningRateDecay = 0, float weightDecay = 0, float initialAccumulatorValue = 0, float epsilon = 1e-10f)
        : base(learningRate)
    {
        RequireInRange(learningRateDecay, 0, float.PositiveInfinity, false, nameof(learningRateDecay));
        RequireInRange(weightDecay, 0, float.PositiveInfinity, false, nameof(weightDecay));
        RequireInRange(initialAccumulatorValue, 0, float.PositiveInfinity, false, nameof(initialAccumulatorValue));
        RequireInRange(epsilon, 0, float.PositiveInfinity, false, nameof(epsilon));
        LearningRateDecay = learningRateDecay;
        WeightDecay = weightDecay;
        InitialAccumulatorValue = initialAccumulatorValue;
        Epsilon = epsilon;
    }

    /// <summary>Decay of the learning rate per update.</summary>
    public float LearningRateDecay { get; }

    /// <summary>L2 penalty coefficient.</summary>
    public float WeightDecay { get; }

    /// <summary>Starting value of the squared-gradient sum.</summary>
    public float InitialAccumulatorValue { get; }

    /// <summary>Denominator term for numerical stability.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    protected override void InitializeState(int parameterCount)
    {
        _sum = new float[parameterCount];
        if (InitialAccumulatorValue != 0) _sum.AsSpan().Fill(InitialAccumulatorValue);
    }

    /// <inheritdoc/>
    protected override void AddStateBuffers(IList<(string Name, float[] Values)> buffers) => buffers.Add(("sum", _sum));

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int stateOffset, int step, float learningRate)
    {
        // torch computes clr in Python floats (double) and passes it to addcdiv_ as a scalar.
        float clr = (float)(learningRate / (1 + (step - 1) * (double)LearningRateDecay));
        AdagradKernel.Run(parameters, gradients, _sum.AsSpan(stateOffset, parameters.Length), -clr, WeightDecay, Epsilon);
    }
}

/// <summary>The vectorised Adagrad update (see <see cref="Adagrad"/> for the rule).</summary>
internal static class AdagradKernel
{
    /// <summary>Updates p and sum in place (all spans [n]); <paramref name="negLearningRate"/> is -clr.</summary>
    public static void Run(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> sum, float negLearningRate, float weightDecay, float epsilon)
    {
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        ref float s = ref MemoryMarshal.GetReference(sum);
        int n = parameters.Length, i = 0;
        if (V512.IsAccelerated) i = Run<Vector512<float>, V512>(ref p, ref g, ref s, negLearningRate, weightDecay, epsilon, i, n);
        if (V256.IsAccelerated) i = Run<Vector256<float>, V256>(ref p, ref g, ref s, negLearningRate, weightDecay, epsilon, i, n);
        if (V128.IsAccelerated) i = Run<Vector128<float>, V128>(ref p, ref g, ref s, negLearningRate, weightDecay, epsilon, i, n);
        Run<float, Scalar>(ref p, ref g, ref s, negLearningRate, weightDecay, epsilon, i, n);
    }

    private static int Run<TV, TOps>(ref float p, ref float g, ref float s, float negLearningRate, float weightDecay, float epsilon, int i, int n)
        where TV : struct where TOps : ISimdOps<TV>
    {
        TV negLr = TOps.Create(negLearningRate), wd = TOps.Create(weightDecay), eps = TOps.Create(epsilon);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            nuint k = (nuint)i;
            TV pv = TOps.Load(ref p, k);
            TV gv = TOps.MultiplyAdd(wd, pv, TOps.Load(ref g, k));
            TV sv = TOps.MultiplyAdd(gv, gv, TOps.Load(ref s, k));
            TOps.Store(sv, ref s, k);
            TV denom = TOps.Add(TOps.Sqrt(sv), eps);
            TOps.Store(TOps.MultiplyAdd(negLr, TOps.Divide(gv, denom), pv), ref p, k);
        }
        return i;
    }
}
