// Values produced by libtorch 2.10 (TorchSharp-cpu 0.107.0, float32) for the same inputs, so PyTorch's actual
// implementation, not only our reading of its docs, pins these results. The generating program is quoted in each
// doc comment (run with the GLIBCXX workaround from shared/peers/README.md).
using ModelGen;

namespace ModelGen.Tests.Training;

public class TorchReferenceTests
{
    private static readonly float[] s_initial = [0.5f, -1.25f, 2.0f, 0.0f, -0.75f];

    private static readonly float[][] s_gradients =
    [
        [0.1f, -0.2f, 0.3f, -0.4f, 0.05f],
        [-0.3f, 0.1f, 0.25f, 0.2f, -0.5f],
        [0.2f, 0.2f, -0.1f, 0.6f, 0.0f],
    ];

    private static readonly float[] s_logits = [2.0f, -1.0f, 0.5f, 3.0f, -2.5f, 0.0f, 1.5f, -0.5f, 1e4f, -1e4f];

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = 1e-7 + 1e-6 * Math.Abs(expected[i]);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}[{i}]: libtorch {expected[i]:R}, ModelGen {actual[i]:R}");
        }
    }

    /// <summary>
    /// <code>
    /// var p = new Parameter(torch.tensor(p0)); var opt = make([p]);
    /// foreach (var g in grads) { p.grad = torch.tensor(g); opt.step(); }
    /// </code>
    /// </summary>
    public static TheoryData<string, float[]> OptimizerCases => new()
    {
        { "SGD(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)", [0.4982184f, -1.2336005f, 1.9415096f, 0.019875852f, -0.7217509f] },
        { "SGD(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)", [0.5024432f, -1.2431762f, 1.9160976f, -0.015404904f, -0.687864f] },
        { "Adam(lr=0.01, weight_decay=0.1)", [0.4905427f, -1.2287943f, 1.9715031f, 0.0087383855f, -0.7255422f] },
        { "AdamW(lr=0.01, weight_decay=0.01)", [0.49460554f, -1.2396908f, 1.9736552f, 0.008767207f, -0.74782705f] },
        { "RMSprop()", [0.4412526f, -1.2619023f, 1.8607854f, -0.025337506f, -0.75049114f] },
        { "RMSprop(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.8, centered=True)", [0.44746634f, -1.1730881f, 1.8701211f, 0.027521273f, -0.60441726f] },
        { "RMSprop(lr=0.02, momentum=0.5)", [0.3274211f, -1.1687059f, 1.5073625f, 0.05442361f, -0.80147344f] },
        { "RMSprop(lr=0.02, centered=True)", [0.3818826f, -1.272964f, 1.7195839f, -0.049993284f, -0.7511852f] },
        { "Adagrad()", [0.4941416f, -1.2511388f, 1.9860789f, -0.0024899724f, -0.7500496f] },
        { "Adagrad(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-6)", [0.4746079f, -1.2011244f, 1.8632016f, -0.027000964f, -0.6609954f] },
    };

    // Large then small gradients (v shrinks), where AMSGrad's running maximum changes the result.
    private static readonly float[][] s_shrinking =
    [
        [1.0f, -2.0f, 0.5f, 0.3f, -1.0f],
        [0.01f, 0.02f, -0.01f, 0.0f, 0.05f],
        [0.02f, -0.01f, 0.0f, 0.01f, 0.03f],
        [-0.05f, 0.01f, 0.02f, -0.02f, 0.0f],
    ];

    /// <summary>As <see cref="OptimizerCases"/>, over the four shrinking gradients (tools/reference/optim-fixture).</summary>
    public static TheoryData<string, float[]> ShrinkingGradientCases => new()
    {
        { "Adam(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1, amsgrad=True)", [0.47295967f, -1.2228111f, 1.9652375f, -0.025229655f, -0.72343206f] },
        { "Adam(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1)", [0.47125614f, -1.2210739f, 1.9647512f, -0.026746307f, -0.7217309f] },
        { "AdamW(lr=0.01, betas=(0.9, 0.9), weight_decay=0.01, amsgrad=True)", [0.47430423f, -1.2242672f, 1.9739501f, -0.025380706f, -0.7255062f] },
    };

    [Theory]
    [MemberData(nameof(ShrinkingGradientCases))]
    public void Optimizer_ShrinkingGradients_MatchesLibtorch(string torchCall, float[] expected)
    {
        Optimizer optimizer = torchCall switch
        {
            "Adam(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1, amsgrad=True)" => new Adam(0.01f, 0.9f, 0.9f, weightDecay: 0.1f, amsgrad: true),
            "Adam(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1)" => new Adam(0.01f, 0.9f, 0.9f, weightDecay: 0.1f),
            "AdamW(lr=0.01, betas=(0.9, 0.9), weight_decay=0.01, amsgrad=True)" => new AdamW(0.01f, 0.9f, 0.9f, weightDecay: 0.01f, amsgrad: true),
            _ => throw new ArgumentException(torchCall),
        };
        float[] p = (float[])s_initial.Clone();
        foreach (float[] g in s_shrinking) optimizer.Step(p, g);
        AssertClose(expected, p, torchCall);
    }

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void Optimizer_ThreeSteps_MatchesLibtorch(string torchCall, float[] expected)
    {
        Optimizer optimizer = torchCall switch
        {
            "SGD(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)" => new Sgd(0.05f, 0.9f, 0.3f, 0.01f),
            "SGD(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)" => new Sgd(0.05f, 0.9f, 0f, 0.01f, nesterov: true),
            "Adam(lr=0.01, weight_decay=0.1)" => new Adam(0.01f, weightDecay: 0.1f),
            "AdamW(lr=0.01, weight_decay=0.01)" => new AdamW(0.01f),
            "RMSprop()" => new RmsProp(),
            "RMSprop(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.8, centered=True)" => new RmsProp(0.01f, 0.9f, 1e-6f, 0.1f, 0.8f, centered: true),
            "RMSprop(lr=0.02, momentum=0.5)" => new RmsProp(0.02f, momentum: 0.5f),
            "RMSprop(lr=0.02, centered=True)" => new RmsProp(0.02f, centered: true),
            "Adagrad()" => new Adagrad(),
            "Adagrad(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-6)" => new Adagrad(0.1f, 0.05f, 0.1f, 0.2f, 1e-6f),
            _ => throw new ArgumentException(torchCall),
        };
        float[] p = (float[])s_initial.Clone();
        foreach (float[] g in s_gradients) optimizer.Step(p, g);
        AssertClose(expected, p, torchCall);
    }

    /// <summary>
    /// <code>
    /// var x = torch.tensor(logits, new long[] { 2, 5 }, requires_grad: true);
    /// var loss = F.cross_entropy(x, torch.tensor(new long[] { 3, 1 }), label_smoothing: 0.1); loss.backward();
    /// </code>
    /// </summary>
    [Fact]
    public void CrossEntropyWithLabelSmoothing_MatchesLibtorch()
    {
        var d = new float[10];
        float loss = Loss.CrossEntropyWithLabelSmoothing(0.1f).Compute(s_logits, [3, 1], default, d, 2);
        AssertClose([4999.638f], [loss], "loss");
        AssertClose([0.11492791f, -0.0037802062f, 0.017875187f, -0.1204107f, -0.008612176f, -0.01f, -0.45999998f, -0.01f, 0.48999995f, -0.01f], d, "grad");
    }

    /// <summary>
    /// <code>
    /// var x = torch.tensor(logits, requires_grad: true);
    /// var loss = F.binary_cross_entropy_with_logits(x, torch.tensor(targets)); loss.backward();
    /// </code>
    /// </summary>
    [Fact]
    public void BinaryCrossEntropyWithLogits_MatchesLibtorch()
    {
        float[] targets = [1f, 0f, 0.25f, 1f, 0f, 0.5f, 1f, 0f, 1f, 1f];
        var d = new float[10];
        float loss = Loss.BinaryCrossEntropyWithLogits.Compute(s_logits, default, targets, d, 1);
        AssertClose([1000.2785f], [loss], "loss");
        AssertClose([-0.0119202975f, 0.026894143f, 0.037245937f, -0.0047425865f, 0.0075858175f, 0f, -0.018242557f, 0.037754066f, 0f, -0.1f], d, "grad");
    }
}
