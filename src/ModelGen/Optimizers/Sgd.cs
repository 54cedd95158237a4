// Stochastic gradient descent with optional momentum, dampening, L2 weight decay and Nesterov momentum, following
// torch.optim.SGD (maximize=False):
//   g = grad + weight_decay * p
//   if momentum != 0:  b = g                          on the tensor's first step (no dampening)
//                      b = momentum * b + (1 - dampening) * g   afterwards
//                      g = g + momentum * b  (nesterov)  or  g = b
//   p = p - lr * g
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen;

/// <summary>Stochastic gradient descent, with PyTorch's <c>torch.optim.SGD</c> semantics.</summary>
public sealed class Sgd : Optimizer
{
    private float[] _momentumBuffer = [];  // [parameterCount], allocated on the first step when momentum != 0

    /// <summary>Creates an SGD optimizer.</summary>
    /// <param name="learningRate">Learning rate (&gt;= 0).</param>
    /// <param name="momentum">Momentum factor (&gt;= 0); 0 disables the momentum buffer.</param>
    /// <param name="dampening">Dampening for momentum (applied from the second step on, as in PyTorch).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (&gt;= 0).</param>
    /// <param name="nesterov">Use Nesterov momentum; requires <paramref name="momentum"/> &gt; 0 and <paramref name="dampening"/> = 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative or not finite.</exception>
    /// <exception cref="ArgumentException">Nesterov momentum was asked for with zero momentum or non-zero dampening.</exception>
    public Sgd(float learningRate, float momentum = 0, float dampening = 0, float weightDecay = 0, bool nesterov = false)
        : base(learningRate)
    {
        RequireInRange(momentum, 0, float.PositiveInfinity, false, nameof(momentum));
        if (!float.IsFinite(dampening))
            throw new ArgumentOutOfRangeException(nameof(dampening), dampening, "'dampening' must be finite.");
        RequireInRange(weightDecay, 0, float.PositiveInfinity, false, nameof(weightDecay));
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException(
                $"Nesterov momentum requires a momentum > 0 and zero dampening (got momentum {momentum}, dampening {dampening}).", nameof(nesterov));
        Momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
    }

    /// <summary>Momentum factor.</summary>
    public float Momentum { get; }

    /// <summary>Dampening for momentum.</summary>
    public float Dampening { get; }

    /// <summary>L2 penalty coefficient.</summary>
    public float WeightDecay { get; }

    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override void InitializeState(int parameterCount)
    {
        if (Momentum != 0) _momentumBuffer = new float[parameterCount];
    }

    /// <inheritdoc/>
    protected override void AddStateBuffers(IList<(string Name, float[] Values)> buffers)
    {
        if (Momentum != 0) buffers.Add(("momentum_buffer", _momentumBuffer));
    }

    /// <inheritdoc/>
    protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, int stateOffset, int step, float learningRate)
    {
        if (Momentum == 0)
        {
            SgdKernel.Plain(parameters, gradients, learningRate, WeightDecay);
            return;
        }
        Span<float> buffer = _momentumBuffer.AsSpan(stateOffset, parameters.Length);
        SgdKernel.WithMomentum(parameters, gradients, buffer, learningRate, WeightDecay, Momentum,
            first: step == 1, dampening: Dampening, nesterov: Nesterov);
    }
}

/// <summary>The vectorised SGD updates (see <see cref="Sgd"/> for the rule).</summary>
internal static class SgdKernel
{
    /// <summary>Effectively computes <c>p[i] -= lr * (g[i] + wd * p[i])</c>.</summary>
    public static void Plain(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate, float weightDecay)
    {
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        int n = parameters.Length, i = 0;
        if (V512.IsAccelerated) i = Plain<Vector512<float>, V512>(ref p, ref g, learningRate, weightDecay, i, n);
        if (V256.IsAccelerated) i = Plain<Vector256<float>, V256>(ref p, ref g, learningRate, weightDecay, i, n);
        if (V128.IsAccelerated) i = Plain<Vector128<float>, V128>(ref p, ref g, learningRate, weightDecay, i, n);
        Plain<float, Scalar>(ref p, ref g, learningRate, weightDecay, i, n);
    }

    private static int Plain<TV, TOps>(ref float p, ref float g, float learningRate, float weightDecay, int i, int n)
        where TV : struct where TOps : ISimdOps<TV>
    {
        TV negLr = TOps.Create(-learningRate), wd = TOps.Create(weightDecay);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV pv = TOps.Load(ref p, (nuint)i);
            TV d = TOps.MultiplyAdd(wd, pv, TOps.Load(ref g, (nuint)i));
            TOps.Store(TOps.MultiplyAdd(negLr, d, pv), ref p, (nuint)i);
        }
        return i;
    }

    /// <summary>The momentum update; <paramref name="first"/> initialises the buffer to the (decayed) gradient.</summary>
    public static void WithMomentum(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> buffer,
        float learningRate, float weightDecay, float momentum, bool first, float dampening, bool nesterov)
    {
        ref float p = ref MemoryMarshal.GetReference(parameters);
        ref float g = ref MemoryMarshal.GetReference(gradients);
        ref float b = ref MemoryMarshal.GetReference(buffer);
        // PyTorch sets b = g on a tensor's first step (no dampening): keep = 0, take = 1 gives exactly that.
        float keep = first ? 0f : momentum;
        float take = first ? 1f : 1f - dampening;
        var c = new MomentumCoefficients(-learningRate, weightDecay, momentum, keep, take, nesterov);
        int n = parameters.Length, i = 0;
        if (V512.IsAccelerated) i = WithMomentum<Vector512<float>, V512>(ref p, ref g, ref b, c, i, n);
        if (V256.IsAccelerated) i = WithMomentum<Vector256<float>, V256>(ref p, ref g, ref b, c, i, n);
        if (V128.IsAccelerated) i = WithMomentum<Vector128<float>, V128>(ref p, ref g, ref b, c, i, n);
        WithMomentum<float, Scalar>(ref p, ref g, ref b, c, i, n);
    }

    private readonly record struct MomentumCoefficients(float NegLr, float WeightDecay, float Momentum, float Keep, float Take, bool Nesterov);

    private static int WithMomentum<TV, TOps>(ref float p, ref float g, ref float b, in MomentumCoefficients c, int i, int n)
        where TV : struct where TOps : ISimdOps<TV>
    {
        TV negLr = TOps.Create(c.NegLr), wd = TOps.Create(c.WeightDecay), mu = TOps.Create(c.Momentum);
        TV keep = TOps.Create(c.Keep), take = TOps.Create(c.Take);
        bool nesterov = c.Nesterov;
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            TV pv = TOps.Load(ref p, (nuint)i);
            TV d = TOps.MultiplyAdd(wd, pv, TOps.Load(ref g, (nuint)i));
            TV bv = TOps.MultiplyAdd(keep, TOps.Load(ref b, (nuint)i), TOps.Multiply(take, d));
            TOps.Store(bv, ref b, (nuint)i);
            TV direction = nesterov ? TOps.MultiplyAdd(mu, bv, d) : bv;
            TOps.Store(TOps.MultiplyAdd(negLr, direction, pv), ref p, (nuint)i);
        }
        return i;
    }
}
