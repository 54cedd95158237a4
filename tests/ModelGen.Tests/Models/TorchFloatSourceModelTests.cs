// Generated two-input models against libtorch: a float model input [T, d] and a float second input [S, dm] ([ModelInput]) read
// straight by one nn.MultiheadAttention (Memory = "Source") or one nn.TransformerDecoderLayer (its memory), with the parameters,
// inputs and output gradient of the S ≠ T cases in Kernels/Fixtures/mha-libtorch.bin and decoder-libtorch.bin (tools/reference/
// mha-check, decoder-check). The generated Forward, ForwardTrain and Backward (dInput, dSource and the parameter gradients) must
// agree with libtorch as the kernels do: forward within 1e-5, gradients within 1e-4 relative to max(1, |value|).
using ModelGen.Tests.Kernels;

namespace ModelGen.Tests.Models;

/// <summary>The case mha.cross.tk.short: nn.MultiheadAttention(15, 5) over a memory of 15 features, S 4 &lt; T 7.</summary>
[Model(Dim.Seq, 15)]
[ModelInput("Source", Dim.Seq, 15)]
public partial class TorchCrossShortNet
{
    [MultiHeadAttention(5, Memory = "Source")] public partial Layer Cross { get; }
}

/// <summary>The case mha.cross.tk.long.kdim: nn.MultiheadAttention(9, 3, kdim=5, vdim=5), S 11 &gt; T 7.</summary>
[Model(Dim.Seq, 9)]
[ModelInput("Source", Dim.Seq, 5)]
public partial class TorchCrossLongNet
{
    [MultiHeadAttention(3, Memory = "Source")] public partial Layer Cross { get; }
}

/// <summary>The case dec.tk.pre.gelu.long: one pre-norm nn.TransformerDecoderLayer(6, 2, 5, gelu) over a memory of 3 features, S 8 &gt; T 5.</summary>
[Model(Dim.Seq, 6)]
[ModelInput("Source", Dim.Seq, 3)]
public partial class TorchDecoderLongNet
{
    [TransformerDecoder(Heads = 2, FeedForward = 5, NormFirst = true, Causal = false, Dropout = 0, Activation = Activation.GELU, Memory = "Source")]
    public partial Layer Decoder { get; }
}

public class TorchFloatSourceModelTests
{
    private const double ForwardTolerance = 1e-5, GradientTolerance = 1e-4;
    private static readonly LibtorchFixture Mha = new("mha-libtorch.bin");
    private static readonly LibtorchFixture Decoder = new("decoder-libtorch.bin");

    [Fact]
    public void CrossAttention_SourceShorterThanTarget_MatchesLibtorch()
    {
        var model = new TorchCrossShortNet();
        Check(Mha, "mha.cross.tk.short", model, model.Parameters, () => model.Gradients, TorchCrossShortNet.OutputSize,
            (x, s, y, b, t, st, l, sl) => model.Forward(x, s, y, b, t, st, l, sl),
            (x, s, y, b, t, st, l, sl) => model.ForwardTrain(x, s, y, b, t, st, l, sl),
            (dy, dx, ds) => model.Backward(dy, dx, ds));
    }

    [Fact]
    public void CrossAttention_NarrowSourceLongerThanTarget_MatchesLibtorch()
    {
        var model = new TorchCrossLongNet();
        Check(Mha, "mha.cross.tk.long.kdim", model, model.Parameters, () => model.Gradients, TorchCrossLongNet.OutputSize,
            (x, s, y, b, t, st, l, sl) => model.Forward(x, s, y, b, t, st, l, sl),
            (x, s, y, b, t, st, l, sl) => model.ForwardTrain(x, s, y, b, t, st, l, sl),
            (dy, dx, ds) => model.Backward(dy, dx, ds));
    }

    [Fact]
    public void DecoderLayer_NarrowSourceLongerThanTarget_MatchesLibtorch()
    {
        var model = new TorchDecoderLongNet();
        Check(Decoder, "dec.tk.pre.gelu.long", model, model.Parameters, () => model.Gradients, TorchDecoderLongNet.OutputSize,
            (x, s, y, b, t, st, l, sl) => model.Forward(x, s, y, b, t, st, l, sl),
            (x, s, y, b, t, st, l, sl) => model.ForwardTrain(x, s, y, b, t, st, l, sl),
            (dy, dx, ds) => model.Backward(dy, dx, ds));
    }

    private delegate void Run(float[] input, float[] source, float[] output, int batch, int seq, int sourceSeq, int[] lengths, int[] sourceLengths);

    private delegate Span<float> GradientsOf();

    private static void Check(LibtorchFixture fixture, string name, IModel model, Span<float> parameters, GradientsOf gradients, int outputSize,
        Run forward, Run forwardTrain, Action<float[], float[], float[]> backward)
    {
        int[] shape = fixture.Shape($"{name}.input"), memoryShape = fixture.Shape($"{name}.memory");
        int batch = shape[0], seq = shape[1], sourceSeq = memoryShape[1];
        int[] lengths = fixture.Ints($"{name}.lengths"), sourceLengths = fixture.Ints($"{name}.memlengths");
        float[] x = fixture.Floats($"{name}.input"), m = fixture.Floats($"{name}.memory"), p = fixture.Floats($"{name}.params");
        Assert.Equal(p.Length, parameters.Length);   // the state-dict order of the fixture is the model's
        p.CopyTo(parameters);

        var y = new float[batch * seq * outputSize];
        var yTrain = new float[y.Length];
        forward(x, m, y, batch, seq, sourceSeq, lengths, sourceLengths);
        gradients().Clear();
        forwardTrain(x, m, yTrain, batch, seq, sourceSeq, lengths, sourceLengths);
        var dx = new float[x.Length];
        var dm = new float[m.Length];
        backward(fixture.Floats($"{name}.doutput"), dx, dm);

        float[] expected = fixture.Floats($"{name}.output");
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < lengths[b] * outputSize; i++)
            {
                int at = b * seq * outputSize + i;
                AssertClose(expected[at], y[at], ForwardTolerance, $"{name} Forward output[{at}]");
                AssertClose(expected[at], yTrain[at], ForwardTolerance, $"{name} ForwardTrain output[{at}]");
            }
        float[] dxExpected = fixture.Floats($"{name}.dinput"), dmExpected = fixture.Floats($"{name}.dmemory"), dpExpected = fixture.Floats($"{name}.dparams");
        for (int i = 0; i < dx.Length; i++) AssertClose(dxExpected[i], dx[i], GradientTolerance, $"{name} dInput[{i}]");
        for (int i = 0; i < dm.Length; i++) AssertClose(dmExpected[i], dm[i], GradientTolerance, $"{name} dSource[{i}]");
        var dp = gradients();
        for (int i = 0; i < dp.Length; i++) AssertClose(dpExpected[i], dp[i], GradientTolerance, $"{name} gradient[{i}] ({Tensor(model, i)})");
        Assert.Contains(sourceLengths, l => l < sourceSeq);   // source padding really is exercised
    }

    private static string Tensor(IModel model, int index)
    {
        foreach (var info in model.ParameterInfos)
            if (index >= info.Offset && index < info.Offset + info.Length) return $"{info.Name}[{index - info.Offset}]";
        return "?";
    }

    private static void AssertClose(float expected, float actual, double tolerance, string what)
    {
        double diff = Math.Abs(expected - actual) / Math.Max(1.0, Math.Abs(expected));
        Assert.True(diff <= tolerance, $"{what}: libtorch {expected:R}, ModelGen {actual:R} (relative difference {diff:E2} > {tolerance:E0})");
    }
}
