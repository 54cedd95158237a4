// [Permute(1, 0)] + Conv1D over the run-time length + ReLU + [Permute(1, 0)] with per-example lengths against libtorch:
// ConvSequenceTorchFixture.json (written by tools/reference/conv-check) holds each example run alone through
// x[:L].permute(1, 0) -> conv1d -> relu -> permute back, and the gradients of Σ y ⊙ w over real positions. Inputs are
// regenerated here with the tool's Det function; ModelGen runs the kernels the generated code calls for those layers.
using System.Text.Json;
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class ConvSequenceTorchTests
{
    private static readonly JsonDocument Fixture =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Kernels", "ConvSequenceTorchFixture.json")));

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Fixture.RootElement.GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void PermuteConvPermute_MatchesLibtorch(string name)
    {
        var cases = Fixture.RootElement.GetProperty("cases").EnumerateArray().ToList();
        int index = cases.FindIndex(e => e.GetProperty("name").GetString() == name);
        var c = cases[index];
        int batch = Int(c, "batch"), seq = Int(c, "seq"), f = Int(c, "features"), o = Int(c, "out"), k = Int(c, "kernel"), dilation = Int(c, "dilation"), groups = Int(c, "groups");
        int[] lengths = c.GetProperty("lengths").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var g = ConvGeometry.Conv1D(f, seq, o, k, padding: dilation * (k - 1) / 2, dilation: dilation, groups: groups);

        ulong salt = (ulong)index * 16;
        float[] x = Det(batch * seq * f, salt, 2f);                     // [B, T, F], 1000 at padded positions
        for (int b = 0; b < batch; b++)
            for (int i = lengths[b] * f; i < seq * f; i++) x[b * seq * f + i] = 1000f;
        float[] w = Det(g.WeightLength, salt + 1, 0.5f), bias = Det(o, salt + 2, 0.5f);
        float[] lossWeights = Det(batch * seq * o, salt + 3, 1f);      // [B, T, O]

        float[] channels = new float[x.Length], pre = new float[batch * o * seq], y = new float[pre.Length], output = new float[pre.Length];
        SequenceKernels.Transpose(x, channels, batch, seq, f);
        ConvKernels.ForwardSequence(default(ReluActivation), g, channels, w, bias, y, pre, lengths, batch, seq);
        SequenceKernels.Transpose(y, output, batch, o, seq);
        Near(Floats(c, "output"), output, 1e-5, name + " output");

        float[] dY = new float[pre.Length], dPre = new float[pre.Length], dW = new float[w.Length], dB = new float[o];
        float[] dChannels = new float[x.Length], dX = new float[x.Length];
        SequenceKernels.Transpose(lossWeights, dY, batch, seq, o);
        ConvKernels.BackwardSequence(default(ReluActivation), g, dY, pre, y, channels, w, dPre, dW, dB, dChannels, lengths, batch, seq);
        SequenceKernels.Transpose(dChannels, dX, batch, f, seq);
        Near(Floats(c, "dWeight"), dW, 1e-4, name + " dWeight");
        Near(Floats(c, "dBias"), dB, 1e-4, name + " dBias");
        Near(Floats(c, "dInput"), dX, 1e-4, name + " dInput");
    }

    private static void Near(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"{what}[{i}]: libtorch {expected[i]}, ModelGen {actual[i]}");
    }

    private static int Int(JsonElement c, string name) => c.GetProperty(name).GetInt32();

    private static float[] Floats(JsonElement c, string name) => c.GetProperty(name).EnumerateArray().Select(e => e.GetSingle()).ToArray();

    /// <summary>The tool's deterministic values (an integer hash; bit-identical on every machine).</summary>
    private static float[] Det(int n, ulong salt, float scale)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            ulong z = (salt << 32) + (ulong)i + 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            v[i] = ((z >> 40) * (1f / (1 << 24)) * 2f - 1f) * scale;
        }
        return v;
    }
}
