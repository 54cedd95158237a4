// Optimizers against double-precision re-statements of torch.optim's documented algorithms (the pseudo-code is
// quoted above each reference), on a 5-element vector for 3 steps, on every length 0..70 (all SIMD tiers and tails),
// and through Step(IModel) for frozen layers, learning-rate scales, buffers and per-tensor step counts.
using ModelGen;

namespace ModelGen.Tests.Training;

public class OptimizerTests
{
    private static readonly float[] s_initial = [0.5f, -1.25f, 2.0f, 0.0f, -0.75f];

    // Fixed gradients for steps 1, 2, 3 (different per step so momentum and moments matter).
    private static readonly float[][] s_gradients =
    [
        [0.1f, -0.2f, 0.3f, -0.4f, 0.05f],
        [-0.3f, 0.1f, 0.25f, 0.2f, -0.5f],
        [0.2f, 0.2f, -0.1f, 0.6f, 0.0f],
    ];

    // ---- references in double precision ----

    /// <summary>
    /// torch.optim.SGD (maximize=False):
    /// <code>
    /// for t = 1 to ...:
    ///     g_t = grad(theta_{t-1})
    ///     if lambda != 0: g_t = g_t + lambda * theta_{t-1}
    ///     if mu != 0:
    ///         if t > 1: b_t = mu * b_{t-1} + (1 - tau) * g_t
    ///         else:     b_t = g_t
    ///         if nesterov: g_t = g_t + mu * b_t
    ///         else:        g_t = b_t
    ///     theta_t = theta_{t-1} - gamma * g_t
    /// </code>
    /// </summary>
    private static double[] ReferenceSgd(float[] initial, float[][] gradients, double lr, double mu, double tau, double lambda, bool nesterov)
    {
        double[] theta = Array.ConvertAll(initial, v => (double)v);
        var b = new double[theta.Length];
        for (int t = 1; t <= gradients.Length; t++)
        {
            for (int i = 0; i < theta.Length; i++)
            {
                double g = gradients[t - 1][i];
                if (lambda != 0) g += lambda * theta[i];
                if (mu != 0)
                {
                    b[i] = t > 1 ? mu * b[i] + (1 - tau) * g : g;
                    g = nesterov ? g + mu * b[i] : b[i];
                }
                theta[i] -= lr * g;
            }
        }
        return theta;
    }

    /// <summary>
    /// torch.optim.Adam (amsgrad=False, maximize=False) and, with <paramref name="decoupled"/>, torch.optim.AdamW:
    /// <code>
    /// m_0 = 0, v_0 = 0
    /// for t = 1 to ...:
    ///     g_t = grad(theta_{t-1})
    ///     AdamW: theta_t = theta_{t-1} - gamma * lambda * theta_{t-1}
    ///     Adam:  if lambda != 0: g_t = g_t + lambda * theta_{t-1}
    ///     m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    ///     v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
    ///     m_hat = m_t / (1 - beta1^t)
    ///     v_hat = v_t / (1 - beta2^t)
    ///     theta_t = theta_t - gamma * m_hat / (sqrt(v_hat) + eps)
    /// </code>
    /// (PyTorch's implementation divides as sqrt(v_t)/sqrt(1 - beta2^t) + eps, the same value.)
    /// </summary>
    private static double[] ReferenceAdam(float[] initial, float[][] gradients, double lr, double beta1, double beta2, double eps, double lambda, bool decoupled)
    {
        double[] theta = Array.ConvertAll(initial, v => (double)v);
        var m = new double[theta.Length];
        var v = new double[theta.Length];
        for (int t = 1; t <= gradients.Length; t++)
        {
            for (int i = 0; i < theta.Length; i++)
            {
                double g = gradients[t - 1][i];
                if (decoupled) theta[i] -= lr * lambda * theta[i];
                else if (lambda != 0) g += lambda * theta[i];
                m[i] = beta1 * m[i] + (1 - beta1) * g;
                v[i] = beta2 * v[i] + (1 - beta2) * g * g;
                double mHat = m[i] / (1 - Math.Pow(beta1, t));
                double vHat = v[i] / (1 - Math.Pow(beta2, t));
                theta[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
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

    private static void AssertClose(double[] expected, float[] actual, string what, double relative = 2e-5, double absolute = 2e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = absolute + relative * Math.Abs(expected[i]);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance,
                $"{what}[{i}]: expected {expected[i]:R}, actual {actual[i]:R}, |diff| {Math.Abs(expected[i] - actual[i]):E3} > {tolerance:E3}");
        }
    }

    // ---- SGD ----

    [Fact]
    public void Sgd_MomentumThreeSteps_MatchesHandComputedValues()
    {
        // lr 0.1, momentum 0.9, element 0 with gradients 0.1, -0.3, 0.2:
        //   b1 = 0.1 (first step: no dampening)            p1 = 0.5 - 0.1*0.1    = 0.49
        //   b2 = 0.9*0.1 - 0.3 = -0.21                     p2 = 0.49 + 0.021     = 0.511
        //   b3 = 0.9*(-0.21) + 0.2 = 0.011                 p3 = 0.511 - 0.0011   = 0.5099
        // element 3 with gradients -0.4, 0.2, 0.6:
        //   b1 = -0.4, p1 = 0.04; b2 = -0.16, p2 = 0.056; b3 = 0.456, p3 = 0.0104
        float[] p = Run(new Sgd(0.1f, momentum: 0.9f), s_initial, s_gradients);
        Assert.Equal(0.5099, p[0], 1e-6);
        Assert.Equal(0.0104, p[3], 1e-6);
    }

    public static TheoryData<float, float, float, float, bool> SgdVariants => new()
    {
        { 0.1f, 0f, 0f, 0f, false },     // plain
        { 0.1f, 0f, 0f, 0.05f, false },  // weight decay only
        { 0.05f, 0.9f, 0f, 0f, false },  // momentum
        { 0.05f, 0.9f, 0.3f, 0f, false },// momentum with dampening (not applied on step 1)
        { 0.05f, 0.9f, 0f, 0.01f, true },// Nesterov with weight decay
        { 0.2f, 0.5f, 0.1f, 0.1f, false },
    };

    [Theory]
    [MemberData(nameof(SgdVariants))]
    public void Sgd_ThreeSteps_MatchesTorchAlgorithm(float lr, float momentum, float dampening, float weightDecay, bool nesterov)
    {
        var optimizer = new Sgd(lr, momentum, dampening, weightDecay, nesterov);
        float[] actual = Run(optimizer, s_initial, s_gradients);
        AssertClose(ReferenceSgd(s_initial, s_gradients, lr, momentum, dampening, weightDecay, nesterov), actual, "SGD");
        Assert.Equal(3, optimizer.StepCount);
    }

    [Theory]
    [InlineData(0f, 0f)]
    [InlineData(0.9f, 0.5f)]
    public void Sgd_InvalidNesterov_Throws(float momentum, float dampening)
    {
        var ex = Assert.Throws<ArgumentException>(() => new Sgd(0.1f, momentum, dampening, nesterov: true));
        Assert.Contains("Nesterov", ex.Message);
    }

    [Fact]
    public void Constructors_InvalidHyperparameters_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(-0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1f, momentum: -0.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1f, weightDecay: -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(learningRate: -1e-3f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(beta1: 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(beta2: -0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(epsilon: -1e-8f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(weightDecay: -0.01f));
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(learningRate: -1f)).ParamName);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(beta1: 1.5f));
        Assert.Equal("beta1", ex.ParamName);
        var optimizer = new Sgd(0.1f);
        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.LearningRate = -1f);
        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.LearningRate = float.PositiveInfinity);
        optimizer.LearningRate = 0f;  // zero is allowed (e.g. the first warm-up step of some schedules)
        Assert.Equal(0f, optimizer.LearningRate);
    }

    // ---- Adam / AdamW ----

    [Fact]
    public void Adam_FirstStep_MovesEachParameterByLearningRate()
    {
        // After one step m_hat = g and v_hat = g², so the update is lr * g / (|g| + eps) ≈ lr * sign(g).
        float[] p = (float[])s_initial.Clone();
        new Adam(learningRate: 0.01f).Step(p, s_gradients[0]);
        for (int i = 0; i < p.Length; i++)
            Assert.Equal(s_initial[i] - 0.01 * Math.Sign(s_gradients[0][i]), p[i], 1e-6);
    }

    public static TheoryData<float, float, float, float, float> AdamVariants => new()
    {
        { 1e-3f, 0.9f, 0.999f, 1e-8f, 0f },
        { 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f },
        { 0.05f, 0.5f, 0.9f, 1e-3f, 0.02f },
        { 0.1f, 0f, 0f, 1e-6f, 0f },  // beta = 0: no averaging, bias corrections 1
    };

    [Theory]
    [MemberData(nameof(AdamVariants))]
    public void Adam_ThreeSteps_MatchesTorchAlgorithm(float lr, float beta1, float beta2, float eps, float weightDecay)
    {
        float[] actual = Run(new Adam(lr, beta1, beta2, eps, weightDecay), s_initial, s_gradients);
        AssertClose(ReferenceAdam(s_initial, s_gradients, lr, beta1, beta2, eps, weightDecay, decoupled: false), actual, "Adam");
    }

    [Theory]
    [MemberData(nameof(AdamVariants))]
    public void AdamW_ThreeSteps_MatchesTorchAlgorithm(float lr, float beta1, float beta2, float eps, float weightDecay)
    {
        float[] actual = Run(new AdamW(lr, beta1, beta2, eps, weightDecay), s_initial, s_gradients);
        AssertClose(ReferenceAdam(s_initial, s_gradients, lr, beta1, beta2, eps, weightDecay, decoupled: true), actual, "AdamW");
    }

    [Fact]
    public void AdamW_ZeroGradient_OnlyDecays()
    {
        // With g = 0 the moments stay 0 and the Adam term is 0/(0 + eps) = 0: only p *= 1 - lr * wd remains.
        float[] p = [1f, -2f, 3f];
        new AdamW(learningRate: 0.1f, weightDecay: 0.5f).Step(p, new float[3]);
        Assert.Equal([0.95f, -1.9f, 2.85f], p);
    }

    [Fact]
    public void AdamW_DefaultWeightDecay_IsPyTorchDefault()
    {
        Assert.Equal(1e-2f, new AdamW().WeightDecay);
        Assert.Equal(0f, new Adam().WeightDecay);
        Assert.Equal(1e-3f, new Adam().LearningRate);
    }

    // ---- every length: all SIMD tiers and tails ----

    [Fact]
    public void Step_EveryLengthUpTo70_MatchesReferences()
    {
        var rng = new Rng(2024);
        for (int n = 0; n <= 70; n++)
        {
            float[] initial = new float[n];
            for (int i = 0; i < n; i++) initial[i] = (float)(2 * rng.NextDouble() - 1);
            float[][] gradients = new float[3][];
            for (int s = 0; s < 3; s++)
            {
                gradients[s] = new float[n];
                for (int i = 0; i < n; i++) gradients[s][i] = (float)(rng.NextDouble() - 0.5);
            }
            AssertClose(ReferenceSgd(initial, gradients, 0.1, 0, 0, 0.01, false), Run(new Sgd(0.1f, weightDecay: 0.01f), initial, gradients), $"SGD n={n}");
            AssertClose(ReferenceSgd(initial, gradients, 0.1, 0.9, 0.1, 0.01, false),
                Run(new Sgd(0.1f, 0.9f, 0.1f, 0.01f), initial, gradients), $"SGD momentum n={n}");
            AssertClose(ReferenceSgd(initial, gradients, 0.1, 0.9, 0, 0, true),
                Run(new Sgd(0.1f, 0.9f, nesterov: true), initial, gradients), $"SGD nesterov n={n}");
            AssertClose(ReferenceAdam(initial, gradients, 0.01, 0.9, 0.999, 1e-8, 0.01, false),
                Run(new Adam(0.01f, weightDecay: 0.01f), initial, gradients), $"Adam n={n}");
            AssertClose(ReferenceAdam(initial, gradients, 0.01, 0.9, 0.999, 1e-8, 0.01, true),
                Run(new AdamW(0.01f), initial, gradients), $"AdamW n={n}");
        }
    }

    // ---- raw-form argument checks ----

    [Fact]
    public void Step_LengthMismatch_ThrowsWithBothLengths()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Adam().Step(new float[5], new float[4]));
        Assert.Contains("4", ex.Message);
        Assert.Contains("5", ex.Message);
    }

    [Fact]
    public void Step_DifferentBufferLengthAfterFirstStep_Throws()
    {
        var optimizer = new Sgd(0.1f, momentum: 0.9f);
        optimizer.Step(new float[5], new float[5]);
        var ex = Assert.Throws<InvalidOperationException>(() => optimizer.Step(new float[6], new float[6]));
        Assert.Contains("sized for 5", ex.Message);
        Assert.Contains("received 6", ex.Message);
    }

    // ---- Step(IModel) ----

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
        var rng = new Rng(11);
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
    public void StepModel_FrozenLayerAndBuffers_UntouchedOthersMatchReference()
    {
        FakeModel model = CreateModel();
        float[] initial = model.Parameters.ToArray();
        float[][] gradients = ModelGradients(initial.Length, 3);
        model.Layers[0].Trainable = false;  // fc1 frozen
        var optimizer = new AdamW(learningRate: 0.01f, weightDecay: 0.1f);
        foreach (float[] g in gradients) optimizer.Step(model, g);
        float[] after = model.Parameters.ToArray();

        Assert.Equal(Slice(initial, 0, 9), Slice(after, 0, 9));      // fc1.weight, fc1.bias: frozen
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, model.Buffers.ToArray());   // bn.running_mean, bn.running_var: buffers, never decayed
        foreach (var (offset, length) in new[] { (9, 3), (12, 3), (15, 7), (22, 1) })
            AssertClose(ReferenceAdam(Slice(initial, offset, length), Slice(gradients, offset, length), 0.01, 0.9, 0.999, 1e-8, 0.1, true),
                Slice(after, offset, length), $"tensor at {offset}");
        Assert.Equal(3, optimizer.StepCount);
    }

    [Fact]
    public void StepModel_LearningRateScale_ScalesThatLayerOnly()
    {
        FakeModel model = CreateModel();
        float[] initial = model.Parameters.ToArray();
        float[][] gradients = ModelGradients(initial.Length, 3);
        model.Layers[2].LearningRateScale = 0.25f;  // fc2
        var optimizer = new Sgd(0.2f, momentum: 0.9f, weightDecay: 0.01f);
        foreach (float[] g in gradients) optimizer.Step(model, g);
        float[] after = model.Parameters.ToArray();

        AssertClose(ReferenceSgd(Slice(initial, 0, 15), Slice(gradients, 0, 15), 0.2, 0.9, 0, 0.01, false), Slice(after, 0, 15), "fc1+bn affine");
        AssertClose(ReferenceSgd(Slice(initial, 15, 8), Slice(gradients, 15, 8), 0.05, 0.9, 0, 0.01, false), Slice(after, 15, 8), "fc2 at lr x 0.25");
    }

    [Fact]
    public void StepModel_LayerUnfrozenLater_StartsItsOwnStepCountLikePyTorch()
    {
        // In PyTorch a parameter with requires_grad=False gets no state; once unfrozen its state['step'] starts at 1, so
        // its first Adam update is the fresh lr·sign(g) step, not one with the global step's bias corrections.
        FakeModel model = CreateModel();
        float[] initial = model.Parameters.ToArray();
        float[][] gradients = ModelGradients(initial.Length, 4);
        var optimizer = new Adam(learningRate: 0.01f);
        model.Layers[0].Trainable = false;
        optimizer.Step(model, gradients[0]);
        optimizer.Step(model, gradients[1]);
        model.Layers[0].Trainable = true;
        optimizer.Step(model, gradients[2]);
        optimizer.Step(model, gradients[3]);

        float[] after = model.Parameters.ToArray();
        AssertClose(ReferenceAdam(Slice(initial, 0, 9), [Slice(gradients[2], 0, 9), Slice(gradients[3], 0, 9)], 0.01, 0.9, 0.999, 1e-8, 0, false),
            Slice(after, 0, 9), "fc1 after unfreezing");
        AssertClose(ReferenceAdam(Slice(initial, 15, 8), Slice(gradients, 15, 8), 0.01, 0.9, 0.999, 1e-8, 0, false),
            Slice(after, 15, 8), "fc2 trained throughout");
        Assert.Equal(4, optimizer.StepCount);
    }

    [Fact]
    public void StepModel_GradientLengthMismatch_Throws()
    {
        FakeModel model = CreateModel();
        var ex = Assert.Throws<ArgumentException>(() => new Sgd(0.1f).Step(model, new float[model.Parameters.Length - 1]));
        Assert.Contains($"parameter count {model.Parameters.Length}", ex.Message);
    }

    [Fact]
    public void Step_SteadyState_AllocatesNothing()
    {
        FakeModel model = CreateModel();
        float[] gradients = ModelGradients(model.Parameters.Length, 1)[0];
        float[] flat = new float[100], flatGradients = new float[100];
        Optimizer[] optimizers = [new Sgd(0.1f, 0.9f, nesterov: true), new Adam(), new AdamW()];
        Optimizer[] flatOptimizers = [new Sgd(0.1f, 0.9f), new Adam(), new AdamW()];
        void Round()
        {
            for (int k = 0; k < optimizers.Length; k++)
            {
                optimizers[k].Step(model, gradients);
                flatOptimizers[k].Step(flat, flatGradients);
            }
        }
        // The warm-up round's first steps allocate the optimizers' state.
        AllocationAssert.SteadyStateAllocatesNothing(Round, callsPerWindow: 5, "Step of SGD, Adam and AdamW", warmUpCalls: 1);
    }
}
