// The shared element-wise Adam/AdamW update, vectorised. One pass reads p, g, m, v and writes p, m, v (28 bytes per
// element), so it is memory-bound; fusing decay, moments and the parameter update into one loop is what matters.
// Follows torch.optim's single-tensor implementation (foreach=False, maximize=False):
//   p = p * (1 - lr * wd)                       (AdamW only, decoupled decay)
//   g = g + wd * p                              (Adam only, L2 penalty)
//   m = m + (1 - beta1) * (g - m)               (torch: exp_avg.lerp_(grad, 1 - beta1))
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)                         (amsgrad only; torch.maximum, so NaN propagates)
//   p = p - (lr / bc1) * m / (sqrt(v or vmax) / sqrt(bc2) + eps),   bc_k = 1 - beta_k^step
// AMSGrad adds a fourth stream (vmax, 4 more bytes per element); it is a separate instantiation so the plain loop
// carries no branch.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ModelGen.Optimizers.Simd;

namespace ModelGen.Optimizers;

/// <summary>Per-step constants of the Adam update, computed once per tensor in double precision.</summary>
internal readonly record struct AdamCoefficients(
    float DecayFactor, float L2, float OneMinusBeta1, float Beta2, float OneMinusBeta2, float NegStepSize, float InvSqrtBc2, float Epsilon)
{
    /// <summary>The coefficients for one tensor's update number <paramref name="step"/> (1-based).</summary>
    public static AdamCoefficients For(int step, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, bool decoupled)
    {
        double bc1 = 1 - Math.Pow(beta1, step);
        double bc2 = 1 - Math.Pow(beta2, step);
        return new AdamCoefficients(
            DecayFactor: decoupled ? (float)(1 - (double)learningRate * weightDecay) : 1f,
            L2: decoupled ? 0f : weightDecay,
            OneMinusBeta1: 1f - beta1,
            Beta2: beta2,
            OneMinusBeta2: 1f - beta2,
            NegStepSize: (float)(-learningRate / bc1),
            InvSqrtBc2: (float)(1 / Math.Sqrt(bc2)),
            Epsilon: epsilon);
    }

    /// <summary>Validates the hyper-parameters shared by Adam and AdamW (PyTorch's checks).</summary>
    public static void Validate(float beta1, float beta2, float epsilon, float weightDecay)
    {
        if (!(beta1 >= 0 && beta1 < 1))
            throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "'beta1' must be in [0, 1).");
        if (!(beta2 >= 0 && beta2 < 1))
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "'beta2' must be in [0, 1).");
        if (!(epsilon >= 0) || float.IsPositiveInfinity(epsilon))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "'epsilon' must be a finite value >= 0.");
        if (!(weightDecay >= 0) || float.IsPositiveInfinity(weightDecay))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "'weightDecay' must be a finite value >= 0.");
    }
}

/// <summary>The vectorised Adam/AdamW element-wise update.</summary>
internal static class AdamKernel
{
    /// <summary>
    /// Updates <paramref name="parameters"/> and the moments in place (all spans [n]). <paramref name="maxSecondMoment"/>
    /// is AMSGrad's running maximum of v [n], or empty for plain Adam.
    /// </summary>
    /// <remarks>Split between threads (<see cref="Kernels.KernelOptions.MaxThreads"/>) in blocks of 16 elements when large: each
    /// element's update is the same whatever the split, so the bits do not depend on the thread count.</remarks>
    public static unsafe void Run(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> firstMoment, Span<float> secondMoment,
        Span<float> maxSecondMoment, in AdamCoefficients c)
    {
        fixed (float* p = parameters, g = gradients, m = firstMoment, v = secondMoment, vmax = maxSecondMoment)
            Kernels.ParallelRange.Run(new Range(p, g, m, v, vmax, c), parameters.Length, 16, vmax == null ? 7 : 9);
    }

    /// <summary>Elements [start, end) of the update (vmax null: plain Adam).</summary>
    private readonly unsafe struct Range(float* p0, float* g0, float* m0, float* v0, float* vmax0, AdamCoefficients c) : Kernels.IRangeOp
    {
        public void Run(int start, int end)
        {
            ref float p = ref p0[start];
            ref float g = ref g0[start];
            ref float m = ref m0[start];
            ref float v = ref v0[start];
            int n = end - start, i = 0;
            if (vmax0 == null)
            {
                if (V512.IsAccelerated) i = Run<Vector512<float>, V512>(ref p, ref g, ref m, ref v, c, i, n);
                if (V256.IsAccelerated) i = Run<Vector256<float>, V256>(ref p, ref g, ref m, ref v, c, i, n);
                if (V128.IsAccelerated) i = Run<Vector128<float>, V128>(ref p, ref g, ref m, ref v, c, i, n);
                Run<float, Scalar>(ref p, ref g, ref m, ref v, c, i, n);
                return;
            }
            ref float vmax = ref vmax0[start];
            if (V512.IsAccelerated) i = RunAmsgrad<Vector512<float>, V512>(ref p, ref g, ref m, ref v, ref vmax, c, i, n);
            if (V256.IsAccelerated) i = RunAmsgrad<Vector256<float>, V256>(ref p, ref g, ref m, ref v, ref vmax, c, i, n);
            if (V128.IsAccelerated) i = RunAmsgrad<Vector128<float>, V128>(ref p, ref g, ref m, ref v, ref vmax, c, i, n);
            RunAmsgrad<float, Scalar>(ref p, ref g, ref m, ref v, ref vmax, c, i, n);
        }
    }

    private static int RunAmsgrad<TV, TOps>(ref float p, ref float g, ref float m, ref float v, ref float vmax, in AdamCoefficients c, int i, int n)
        where TV : struct where TOps : ISimdOps<TV>
    {
        TV decay = TOps.Create(c.DecayFactor), l2 = TOps.Create(c.L2);
        TV oneMinusBeta1 = TOps.Create(c.OneMinusBeta1), beta2 = TOps.Create(c.Beta2), oneMinusBeta2 = TOps.Create(c.OneMinusBeta2);
        TV negStepSize = TOps.Create(c.NegStepSize), invSqrtBc2 = TOps.Create(c.InvSqrtBc2), eps = TOps.Create(c.Epsilon);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            nuint k = (nuint)i;
            TV pv = TOps.Multiply(TOps.Load(ref p, k), decay);
            TV gv = TOps.MultiplyAdd(l2, pv, TOps.Load(ref g, k));
            TV mv = TOps.Load(ref m, k);
            mv = TOps.MultiplyAdd(oneMinusBeta1, TOps.Subtract(gv, mv), mv);
            TV vv = TOps.MultiplyAdd(oneMinusBeta2, TOps.Multiply(gv, gv), TOps.Multiply(beta2, TOps.Load(ref v, k)));
            TV vm = TOps.Max(TOps.Load(ref vmax, k), vv);
            TV denom = TOps.MultiplyAdd(TOps.Sqrt(vm), invSqrtBc2, eps);
            TOps.Store(mv, ref m, k);
            TOps.Store(vv, ref v, k);
            TOps.Store(vm, ref vmax, k);
            TOps.Store(TOps.MultiplyAdd(negStepSize, TOps.Divide(mv, denom), pv), ref p, k);
        }
        return i;
    }

    private static int Run<TV, TOps>(ref float p, ref float g, ref float m, ref float v, in AdamCoefficients c, int i, int n)
        where TV : struct where TOps : ISimdOps<TV>
    {
        TV decay = TOps.Create(c.DecayFactor), l2 = TOps.Create(c.L2);
        TV oneMinusBeta1 = TOps.Create(c.OneMinusBeta1), beta2 = TOps.Create(c.Beta2), oneMinusBeta2 = TOps.Create(c.OneMinusBeta2);
        TV negStepSize = TOps.Create(c.NegStepSize), invSqrtBc2 = TOps.Create(c.InvSqrtBc2), eps = TOps.Create(c.Epsilon);
        for (; i <= n - TOps.Count; i += TOps.Count)
        {
            nuint k = (nuint)i;
            TV pv = TOps.Multiply(TOps.Load(ref p, k), decay);
            TV gv = TOps.MultiplyAdd(l2, pv, TOps.Load(ref g, k));
            TV mv = TOps.Load(ref m, k);
            mv = TOps.MultiplyAdd(oneMinusBeta1, TOps.Subtract(gv, mv), mv);
            TV vv = TOps.MultiplyAdd(oneMinusBeta2, TOps.Multiply(gv, gv), TOps.Multiply(beta2, TOps.Load(ref v, k)));
            TV denom = TOps.MultiplyAdd(TOps.Sqrt(vv), invSqrtBc2, eps);
            TOps.Store(mv, ref m, k);
            TOps.Store(vv, ref v, k);
            TOps.Store(TOps.MultiplyAdd(negStepSize, TOps.Divide(mv, denom), pv), ref p, k);
        }
        return i;
    }
}
