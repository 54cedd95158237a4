// RMSprop, Adagrad and Adam/AdamW with AMSGrad against double-precision re-statements of torch.optim's documented
// algorithms (quoted above each reference): a few steps on a 5-element vector, every length 0..70 (all SIMD tiers
// and tails; CI re-runs the Kernels category with the wider tiers off), zero gradients, frozen layers and per-layer
// learning-rate scales through Step(IModel), and zero allocation per step.
using ModelGen;

namespace ModelGen.Tests.Training;

[Trait("Category", "Kernels")]
public class OptimizerVariantsTests
{
    private static readonly float[] s_initial = [0.5f, -1.25f, 2.0f, 0.0f, -0.75f];

    private static readonly float[][] s_gradients =
    [
        [0.1f, -0.2f, 0.3f, -0.4f, 0.05f],
        [-0.3f, 0.1f, 0.25f, 0.2f, -0.5f],
        [0.2f, 0.2f, -0.1f, 0.6f, 0.0f],
    ];

    // Large then small gradients: v shrinks, so AMSGrad's running maximum differs from Adam's v.
    private static readonly float[][] s_shrinking =
    [
        [1.0f, -2.0f, 0.5f, 0.3f, -1.0f],
        [0.01f, 0.02f, -0.01f, 0.0f, 0.05f],
        [0.02f, -0.01f, 0.0f, 0.01f, 0.03f],
        [-0.05f, 0.01f, 0.02f, -0.02f, 0.0f],
    ];

    /// <summary>
    /// torch.optim.RMSprop (maximize=False):
    /// <code>
    /// v_0 = 0, b_0 = 0, g_ave_0 = 0
    /// for t = 1 to ...:
    ///     g_t = grad; if lambda != 0: g_t = g_t + lambda * theta_{t-1}
    ///     v_t = alpha * v_{t-1} + (1 - alpha) * g_t^2
    ///     v~ = v_t
    ///     if centered: g_ave_t = alpha * g_ave_{t-1} + (1 - alpha) * g_t;  v~ = v~ - g_ave_t^2
    ///     if mu > 0: b_t = mu * b_{t-1} + g_t / (sqrt(v~) + eps);  theta_t = theta_{t-1} - gamma * b_t
    ///     else:      theta_t = theta_{t-1} - gamma * g_t / (sqrt(v~) + eps)
    /// </code>
    /// </summary>
    private static double[] ReferenceRmsProp(float[] initial, float[][] gradients, double lr, double alpha, double eps, double lambda, double mu, bool centered)
    {
        double[] theta = Array.ConvertAll(initial, v => (double)v);
        var v = new double[theta.Length];
        var b = new double[theta.Length];
        var gAve = new double[theta.Length];
        foreach (float[] grad in gradients)
        {
            for (int i = 0; i < theta.Length; i++)
            {
                double g = grad[i] + lambda * theta[i];
                v[i] = alpha * v[i] + (1 - alpha) * g * g;
                double vt = v[i];
                if (centered)
                {
                    gAve[i] = alpha * gAve[i] + (1 - alpha) * g;
                    vt -= gAve[i] * gAve[i];
                }
                if (mu > 0)
                {
                    b[i] = mu * b[i] + g / (Math.Sqrt(vt) + eps);
                    theta[i] -= lr * b[i];
                }
                else
                {
                    theta[i] -= lr * g / (Math.Sqrt(vt) + eps);
                }
            }
        }
        return theta;
    }

    /// <summary>
    /// torch.optim.Adagrad (maximize=False):
    /// <code>
    /// state_sum_0 = initial_accumulator_value
    /// for t = 1 to ...:
    ///     g_t = grad
    ///     gamma~ = gamma / (1 + (t - 1) * eta)
    ///     if lambda != 0: g_t = g_t + lambda * theta_{t-1}
    ///     state_sum_t = state_sum_{t-1} + g_t^2
    ///     theta_t = theta_{t-1} - gamma~ * g_t / (sqrt(state_sum_t) + eps)
    /// </code>
    /// </summary>
    private static double[] ReferenceAdagrad(float[] initial, float[][] gradients, double lr, double lrDecay, double lambda, double initialSum, double eps)
    {
        double[] theta = Array.ConvertAll(initial, v => (double)v);
        var sum = new double[theta.Length];
        Array.Fill(sum, initialSum);
        for (int t = 1; t <= gradients.Length; t++)
        {
            double clr = lr / (1 + (t - 1) * lrDecay);
            for (int i = 0; i < theta.Length; i++)
            {
                double g = gradients[t - 1][i] + lambda * theta[i];
                sum[i] += g * g;
                theta[i] -= clr * g / (Math.Sqrt(sum[i]) + eps);
            }
        }
        return theta;
    }

    /// <summary>
    /// torch.optim.Adam / AdamW with amsgrad=True:
    /// <code>
    /// m_t = beta1 * m_{t-1} + (1 - beta1) * g_t;  v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
    /// v_max_t = max(v_max_{t-1}, v_t)   (torch.maximum on the raw v, as the implementation does)
    /// theta_t = theta_{t-1} - gamma * (m_t / (1 - beta1^t)) / (sqrt(v_max_t) / sqrt(1 - beta2^t) + eps)
    /// </code>
    /// with weight decay as an L2 term on g (Adam) or theta *= 1 - gamma * lambda first (AdamW).
    /// </summary>
    private static double[] ReferenceAmsgrad(float[] initial, float[][] gradients, double lr, double beta1, double beta2, double eps, double lambda, bool decoupled)
    {
        double[] theta = Array.ConvertAll(initial, v => (double)v);
        var m = new double[theta.Length];
        var v = new double[theta.Length];
        var vMax = new double[theta.Length];
        for (int t = 1; t <= gradients.Length; t++)
        {
            for (int i = 0; i < theta.Length; i++)
            {
                double g = gradients[t - 1][i];
                if (decoupled) theta[i] -= lr * lambda * theta[i];
                else g += lambda * theta[i];
                m[i] = beta1 * m[i] + (1 - beta1) * g;
                v[i] = beta2 * v[i] + (1 - beta2) * g * g;
                vMax[i] = Math.Max(vMax[i], v[i]);
                theta[i] -= lr * (m[i] / (1 - Math.Pow(beta1, t))) / (Math.Sqrt(vMax[i]) / Math.Sqrt(1 - Math.Pow(beta2, t)) + eps);
            }
        }
        return theta;
    }

    private static float[] Run(Optimizer optimizer, float[] initial, float[][] gradients)
    {
        float[] p = (float[])initial.Clone();
        foreach (float[] g in gradients) optimizer.Step(p, g);
        return p;
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, string what, double relative = 2e-5, double absolute = 2e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = absolute + relative * Math.Abs(expected[i]);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance,
                $"{what}[{i}]: expected {expected[i]:R}, actual {actual[i]:R}, |diff| {Math.Abs(expected[i] - actual[i]):E3} > {tolerance:E3}");
        }
    }

    // ---- a few steps ----

    public static TheoryData<float, float, float, float, float, bool> RmsPropVariants => new()
    {
        { 1e-2f, 0.99f, 1e-8f, 0f, 0f, false },      // PyTorch's defaults
        { 1e-2f, 0.9f, 1e-6f, 0.1f, 0.8f, true },
        { 2e-2f, 0.99f, 1e-8f, 0f, 0.5f, false },
        { 2e-2f, 0.99f, 1e-8f, 0f, 0f, true },
    };

    [Theory]
    [MemberData(nameof(RmsPropVariants))]
    public void RmsProp_ThreeSteps_MatchesTorchAlgorithm(float lr, float alpha, float eps, float weightDecay, float momentum, bool centered)
    {
        var optimizer = new RmsProp(lr, alpha, eps, weightDecay, momentum, centered);
        AssertClose(ReferenceRmsProp(s_initial, s_gradients, lr, alpha, eps, weightDecay, momentum, centered),
            Run(optimizer, s_initial, s_gradients), $"RMSprop(lr={lr}, alpha={alpha}, momentum={momentum}, centered={centered})");
    }

    [Fact]
    public void RmsProp_Defaults_ArePyTorchDefaults()
    {
        var o = new RmsProp();
        Assert.Equal((1e-2f, 0.99f, 1e-8f, 0f, 0f, false), (o.LearningRate, o.Alpha, o.Epsilon, o.WeightDecay, o.Momentum, o.Centered));
    }

    [Fact]
    public void RmsProp_FirstStepHandComputed()
    {
        // s = 0.01·g², so the step is lr·g/(0.1·|g| + eps) = 0.1·sign(g) (to ~1e-7) for lr 0.01.
        float[] p = [1f, 1f];
        new RmsProp().Step(p, [0.5f, -2f]);
        Assert.Equal(0.9f, p[0], 6);
        Assert.Equal(1.1f, p[1], 6);
    }

    public static TheoryData<float, float, float, float, float> AdagradVariants => new()
    {
        { 1e-2f, 0f, 0f, 0f, 1e-10f },               // PyTorch's defaults
        { 0.1f, 0.05f, 0.1f, 0.2f, 1e-6f },
        { 0.5f, 1f, 0f, 1f, 1e-10f },
    };

    [Theory]
    [MemberData(nameof(AdagradVariants))]
    public void Adagrad_ThreeSteps_MatchesTorchAlgorithm(float lr, float lrDecay, float weightDecay, float initialSum, float eps)
    {
        var optimizer = new Adagrad(lr, lrDecay, weightDecay, initialSum, eps);
        AssertClose(ReferenceAdagrad(s_initial, s_gradients, lr, lrDecay, weightDecay, initialSum, eps),
            Run(optimizer, s_initial, s_gradients), $"Adagrad(lr={lr}, lr_decay={lrDecay}, initial_accumulator_value={initialSum})");
    }

    [Fact]
    public void Adagrad_Defaults_ArePyTorchDefaults()
    {
        var o = new Adagrad();
        Assert.Equal((1e-2f, 0f, 0f, 0f, 1e-10f), (o.LearningRate, o.LearningRateDecay, o.WeightDecay, o.InitialAccumulatorValue, o.Epsilon));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Amsgrad_ShrinkingGradients_MatchesTorchAlgorithmAndDiffersFromAdam(bool decoupled)
    {
        float wd = decoupled ? 0.01f : 0.1f;
        Optimizer ams = decoupled ? new AdamW(0.01f, 0.9f, 0.9f, weightDecay: wd, amsgrad: true) : new Adam(0.01f, 0.9f, 0.9f, weightDecay: wd, amsgrad: true);
        Optimizer plain = decoupled ? new AdamW(0.01f, 0.9f, 0.9f, weightDecay: wd) : new Adam(0.01f, 0.9f, 0.9f, weightDecay: wd);
        float[] withMax = Run(ams, s_initial, s_shrinking);
        AssertClose(ReferenceAmsgrad(s_initial, s_shrinking, 0.01, 0.9, 0.9, 1e-8, wd, decoupled), withMax, "AMSGrad");
        float[] without = Run(plain, s_initial, s_shrinking);
        // The maximum keeps the denominator large after the big first gradient, so AMSGrad moves less in later steps.
        Assert.True(Math.Abs(withMax[0] - without[0]) > 1e-3, $"AMSGrad {withMax[0]} vs Adam {without[0]}: the running maximum had no effect");
    }

    // ---- zero gradients ----

    [Fact]
    public void ZeroGradients_LeaveParametersUnchangedWithoutWeightDecay()
    {
        float[][] zeros = [new float[5], new float[5]];
        Optimizer[] optimizers = [new RmsProp(), new RmsProp(momentum: 0.9f, centered: true), new Adagrad(), new Adagrad(initialAccumulatorValue: 0.1f), new Adam(amsgrad: true)];
        foreach (Optimizer o in optimizers)
        {
            float[] p = Run(o, s_initial, zeros);
            Assert.True(p.AsSpan().SequenceEqual(s_initial), $"{o.GetType().Name}: parameters moved under zero gradients: [{string.Join(", ", p)}]");
        }
    }

    // ---- every length: all SIMD tiers and tails ----

    [Fact]
    public void Step_EveryLengthUpTo70_MatchesReferences()
    {
        var rng = new Rng(77);
        for (int n = 0; n <= 70; n++)
        {
            float[] initial = new float[n];
            for (int i = 0; i < n; i++) initial[i] = (float)(2 * rng.NextDouble() - 1);
            float[][] gradients = new float[4][];
            for (int s = 0; s < gradients.Length; s++)
            {
                gradients[s] = new float[n];
                double scale = s == 0 ? 1 : 0.05;   // shrinking, so AMSGrad's maximum matters
                for (int i = 0; i < n; i++) gradients[s][i] = (float)(scale * (rng.NextDouble() - 0.5));
            }
            AssertClose(ReferenceRmsProp(initial, gradients, 0.01, 0.99, 1e-8, 0, 0, false), Run(new RmsProp(), initial, gradients), $"RMSprop n={n}");
            AssertClose(ReferenceRmsProp(initial, gradients, 0.01, 0.9, 1e-6, 0.1, 0.8, true),
                Run(new RmsProp(0.01f, 0.9f, 1e-6f, 0.1f, 0.8f, true), initial, gradients), $"RMSprop centered momentum n={n}");
            AssertClose(ReferenceRmsProp(initial, gradients, 0.01, 0.99, 1e-8, 0, 0.5, false),
                Run(new RmsProp(momentum: 0.5f), initial, gradients), $"RMSprop momentum n={n}");
            AssertClose(ReferenceRmsProp(initial, gradients, 0.01, 0.99, 1e-8, 0, 0, true),
                Run(new RmsProp(centered: true), initial, gradients), $"RMSprop centered n={n}");
            AssertClose(ReferenceAdagrad(initial, gradients, 0.1, 0.05, 0.1, 0.2, 1e-6),
                Run(new Adagrad(0.1f, 0.05f, 0.1f, 0.2f, 1e-6f), initial, gradients), $"Adagrad n={n}");
            AssertClose(ReferenceAmsgrad(initial, gradients, 0.01, 0.9, 0.9, 1e-8, 0.1, false),
                Run(new Adam(0.01f, 0.9f, 0.9f, weightDecay: 0.1f, amsgrad: true), initial, gradients), $"Adam amsgrad n={n}");
            AssertClose(ReferenceAmsgrad(initial, gradients, 0.01, 0.9, 0.9, 1e-8, 0.01, true),
                Run(new AdamW(0.01f, 0.9f, 0.9f, amsgrad: true), initial, gradients), $"AdamW amsgrad n={n}");
        }
    }

    // ---- Step(IModel): frozen layers and learning-rate scales ----

    private static FakeModel CreateModel()
    {
        var model = new FakeModel(
            ("fc1", [("weight", 6), ("bias", 3)]),
            ("bn", [("weight", 3), ("bias", 3), ("running_mean", 3), ("running_var", 3)]),
            ("fc2", [("weight", 7), ("bias", 1)]));
        Span<float> p = model.Parameters;
        for (int i = 0; i < p.Length; i++) p[i] = 0.1f * (i % 7) - 0.3f;
        return model;
    }

    private static float[][] ModelGradients(int length, int steps)
    {
        var rng = new Rng(13);
        var result = new float[steps][];
        for (int s = 0; s < steps; s++)
        {
            result[s] = new float[length];
            for (int i = 0; i < length; i++) result[s][i] = (float)(rng.NextDouble() - 0.5);
        }
        return result;
    }

    private static float[] Slice(float[] values, int offset, int length) => values.AsSpan(offset, length).ToArray();

    private static float[][] Slice(float[][] values, int offset, int length) => Array.ConvertAll(values, v => Slice(v, offset, length));

    [Fact]
    public void StepModel_FrozenLayerBuffersAndScale_MatchReference()
    {
        // fc1 frozen, fc2 at lr x 0.25, bn's running statistics never touched; every other tensor is its own reference run.
        (Func<Optimizer> Make, Func<float[], float[][], double, double[]> Reference)[] cases =
        [
            (() => new RmsProp(0.02f, momentum: 0.5f, centered: true), (p, g, lr) => ReferenceRmsProp(p, g, lr, 0.99, 1e-8, 0, 0.5, true)),
            (() => new Adagrad(0.1f, 0.05f, 0.01f, 0.1f), (p, g, lr) => ReferenceAdagrad(p, g, lr, 0.05, 0.01, 0.1, 1e-10)),
            (() => new AdamW(0.01f, amsgrad: true), (p, g, lr) => ReferenceAmsgrad(p, g, lr, 0.9, 0.999, 1e-8, 0.01, true)),
        ];
        foreach (var (make, reference) in cases)
        {
            FakeModel model = CreateModel();
            float[] initial = model.Parameters.ToArray();
            float[][] gradients = ModelGradients(initial.Length, 3);
            model.Layers[0].Trainable = false;
            model.Layers[2].LearningRateScale = 0.25f;
            Optimizer optimizer = make();
            foreach (float[] g in gradients) optimizer.Step(model, g);
            float[] after = model.Parameters.ToArray();
            string name = optimizer.GetType().Name;
            Assert.True(Slice(initial, 0, 9).AsSpan().SequenceEqual(Slice(after, 0, 9)), $"{name}: frozen fc1 changed");
            Assert.True(model.Buffers.SequenceEqual([1f, 2, 3, 4, 5, 6]), $"{name}: running statistics changed");
            foreach (var (offset, length, scale) in new[] { (9, 3, 1.0), (12, 3, 1.0), (15, 7, 0.25), (22, 1, 0.25) })
                AssertClose(reference(Slice(initial, offset, length), Slice(gradients, offset, length), optimizer.LearningRate * scale),
                    Slice(after, offset, length), $"{name} tensor at {offset}");
        }
    }

    [Fact]
    public void Constructors_InvalidHyperparameters_ThrowNamingTheParameter()
    {
        Assert.Equal("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp(alpha: -0.1f)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp(epsilon: float.NaN)).ParamName);
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp(momentum: -1)).ParamName);
        Assert.Equal("weightDecay", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp(weightDecay: float.PositiveInfinity)).ParamName);
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp(-1)).ParamName);
        Assert.Equal("learningRateDecay", Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad(learningRateDecay: -1)).ParamName);
        Assert.Equal("initialAccumulatorValue", Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad(initialAccumulatorValue: -1)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad(epsilon: -1)).ParamName);
    }

    [Fact]
    public void Step_SteadyState_AllocatesNothing()
    {
        FakeModel model = CreateModel();
        float[] gradients = ModelGradients(model.Parameters.Length, 1)[0];
        Optimizer[] optimizers = [new RmsProp(), new RmsProp(momentum: 0.9f, centered: true), new Adagrad(learningRateDecay: 0.1f), new Adam(amsgrad: true), new AdamW(amsgrad: true)];
        void Round()
        {
            foreach (Optimizer o in optimizers) o.Step(model, gradients);
        }
        AllocationAssert.SteadyStateAllocatesNothing(Round, callsPerWindow: 5, "Step of RMSprop, Adagrad and AMSGrad", warmUpCalls: 1);
    }
}
