// RMSprop (Hinton) with torch.optim.RMSprop's single-tensor implementation (foreach=False, maximize=False):
//   g = grad + weight_decay * p
//   s = alpha * s + (1 - alpha) * g * g                       (square_avg)
//   centered:  a = a + (1 - alpha) * (g - a)                  (grad_avg; torch: lerp_)
//              denom = sqrt(s - a * a) + eps
//   else:      denom = sqrt(s) + eps
//   momentum:  b = momentum * b + g / denom;  p = p - lr * b  (momentum_buffer, zero-initialised, unlike SGD's)
//   else:      p = p - lr * g / denom
// One fused pass per tensor; the four variants are separate instantiations of one loop (flags as constants), so
// a plain RMSprop step streams only p, g and s.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>
/// RMSprop, with PyTorch's <c>torch.optim.RMSprop</c> semantics and defaults. Per element:
/// <c>g += wd·p; s = alpha·s + (1 - alpha)·g²; a = alpha·a + (1 - alpha)·g (centered); d = sqrt(s - a²) or sqrt(s), plus eps;
/// b = momentum·b + g/d, p -= lr·b (momentum &gt; 0) or p -= lr·g/d</c>.
/// </summary>
/// <remarks>
/// State, as <c>torch.optim.RMSprop</c> names it: <c>step</c>, <c>square_avg</c> (s), <c>momentum_buffer</c> (b, when momentum &gt; 0)
/// and <c>grad_avg</c> (a, when centered).
/// </remarks>
public sealed class RmsProp : Optimizer
{
    private float[] _squareAverage = [];    // s [parameterCount]
    private float[] _momentumBuffer = [];   // b [parameterCount], momentum > 0 only
    private float[] _gradientAverage = [];  // a [parameterCount], centered only

    /// <summary>Creates an RMSprop optimizer (PyTorch's defaults).</summary>
    /// <param name="learningRate">Learning rate (&gt;= 0; PyTorch's <c>lr</c>, default 1e-2).</param>
    /// <param name="alpha">Smoothing constant of the averages (&gt;= 0; PyTorch's <c>alpha</c>, default 0.99).</param>
    /// <param name="epsilon">Added to the denominator (&gt;= 0; PyTorch's <c>eps</c>, default 1e-8).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (&gt;= 0).</param>
    /// <param name="momentum">Momentum factor (&gt;= 0); 0 disables the momentum buffer.</param>
    /// <param name="centered">Normalise by the estimated variance of the gradient instead of its second moment.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative or not finite.</exception>
    public RmsProp(float learningRate = 1e-2f, float alpha = 0.99f, float epsilon = 1e-8f, float weightDecay = 0, float momentum = 0, bool centered = false)
        : base(learningRate)
    {
        RequireInRange(alpha, 0, float.PositiveInfinity, false, nameof(alpha));
        RequireInRange(epsilon, 0, float.PositiveInfinity, false, nameof(epsilon));
        RequireInRange(weightDecay, 0, float.PositiveInfinity, false, nameof(weightDecay));
        RequireInRange(momentum, 0, float.PositiveInfinity, false, nameof(momentum));
        Alpha = alpha;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        Momentum = momentum;
        Centered = centered;
    }

    /// <summary>Smoothing constant of the squared-gradient (and, centered, gradient) averages.</summary>
    public float Alpha { get; }

    /// <summary>Denominator term for numerical stability.</summary>
    public float Epsilon { get; }

    /// <summary>L2 penalty coefficient.</summary>
    public float WeightDecay { get; }

    /// <summary>Momentum factor (0: none).</summary>
    public float Momentum { get; }

    /// <summary>Whether the centered variant is used.</summary>
    public bool Centered { get; }

    /// <inheritdoc/>
    protected override void InitializeState(int parameterCount)
    {
        _squareAverage = new float[parameterCount];
        if (Momentum > 0) _momentumBuffer = new float[parameterCount];
        if (Centered) _gradientAverage = new float[parameterCount];
    }

    /// <inheritdoc/>
    protected override void AddStateBuffers(IList<(string Name, float[] Values)> buffers)
    {
        buffers.Add(("square_avg", _squareAverage));
        if (Momentum > 0) buffers.Add(("momentum_buffer", _momentumBuffer));
        if (Centered) buffers.Add(("grad_avg", _gradientAverage));
    }

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int stateOffset, int step, float learningRate)
    {
        int n = parameters.Length;
        var c = new RmsPropCoefficients(-learningRate, WeightDecay, Alpha, 1f - Alpha, Epsilon, Momentum);
        Span<float> s = _squareAverage.AsSpan(stateOffset, n);
        Span<float> b = Momentum > 0 ? _momentumBuffer.AsSpan(stateOffset, n) : default;
        Span<float> a = Centered ? _gradientAverage.AsSpan(stateOffset, n) : default;
        if (Momentum > 0)
        {
            if (Centered) RmsPropKernel.Run<Yes, Yes>(parameters, gradients, s, a, b, c);
            else RmsPropKernel.Run<No, Yes>(parameters, gradients, s, a, b, c);
        }
        else
        {
            if (Centered) RmsPropKernel.Run<Yes, No>(parameters, gradients, s, a, b, c);
            else RmsPropKernel.Run<No, No>(parameters, gradients, s, a, b, c);
        }
    }
}

/// <summary>Per-step constants of the RMSprop update.</summary>
internal readonly record struct RmsPropCoefficients(float NegLearningRate, float WeightDecay, float Alpha, float OneMinusAlpha, float Epsilon, float Momentum);

/// <summary>The vectorised RMSprop update (see <see cref="RmsProp"/> for the rule).</summary>
internal static class RmsPropKernel
{
    /// <summary>Updates p, s and, as the flags say, a (centered) and b (momentum) in place (all spans [n]).</summary>
    public static void Run<TCentered, TMomentum>(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> squareAverage,
        Span<float> gradientAverage, Span<float> momentumBuffer, in RmsPropCoefficients c)
        where TCentered : struct, IFlag where TMomentum : struct, IFlag
    {
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        ref float s = ref MemoryMarshal.GetReference(squareAverage);
        ref float a = ref MemoryMarshal.GetReference(gradientAverage);
        ref float b = ref MemoryMarshal.GetReference(momentumBuffer);
        int n = parameters.Length, i = 0;
        if (V512.IsAccelerated) i = Run<Vector512<float>, V512, TCentered, TMomentum>(ref p, ref g, ref s, ref a, ref b, c, i, n);
        if (V256.IsAccelerated) i = Run<Vector256<float>, V256, TCentered, TMomentum>(ref p, ref g, ref s, ref a, ref b, c, i, n);
        if (V128.IsAccelerated) i = Run<Vector128<float>, V128, TCentered, TMomentum>(ref p, ref g, ref s, ref a, ref b, c, i, n);
        Run<float, Scalar, TCentered, TMomentum>(ref p, ref g, ref s, ref a, ref b, c, i, n);
    }

    private static int Run<TV, TOps, TCentered, TMomentum>(ref float p, ref float g, ref float s, ref float a, ref float b,
        in RmsPropCoefficients c, int i, int n)
        where TV : struct where TOps : ISimdOps<TV> where TCentered : struct, IFlag where TMomentum : struct, IFlag
    {
        TV negLr = TOps.Create(c.NegLearningRate), wd = TOps.Create(c.WeightDecay);
        TV alpha = TOps.Create(c.Alpha), oneMinusAlpha = TOps.Create(c.OneMinusAlpha);
        TV eps = TOps.Create(c.Epsilon), mu = TOps.Create(c.Momentum);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            nuint k = (nuint)i;
            TV pv = TOps.Load(ref p, k);
            TV gv = TOps.MultiplyAdd(wd, pv, TOps.Load(ref g, k));
            TV sv = TOps.MultiplyAdd(oneMinusAlpha, TOps.Multiply(gv, gv), TOps.Multiply(alpha, TOps.Load(ref s, k)));
            TOps.Store(sv, ref s, k);
            TV variance = sv;
            if (TCentered.Value)
            {
                TV av = TOps.Load(ref a, k);
                av = TOps.MultiplyAdd(oneMinusAlpha, TOps.Subtract(gv, av), av);
                TOps.Store(av, ref a, k);
                variance = TOps.Subtract(sv, TOps.Multiply(av, av));
            }
            TV denom = TOps.Add(TOps.Sqrt(variance), eps);
            TV direction = TOps.Divide(gv, denom);
            if (TMomentum.Value)
            {
                direction = TOps.MultiplyAdd(mu, TOps.Load(ref b, k), direction);
                TOps.Store(direction, ref b, k);
            }
            TOps.Store(TOps.MultiplyAdd(negLr, direction, pv), ref p, k);
        }
        return i;
    }
}
