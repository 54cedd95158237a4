// RecurrentKernels against libtorch: RecurrentTorchFixture.json holds nn.LSTM / nn.GRU outputs, final states and gradients
// (stacked, bidirectional, pack_padded_sequence lengths, last-step outputs) written by tools/reference/seq-check. Inputs,
// parameters, states and loss weights are not stored: this test regenerates them with the tool's Det function.
using System.Text.Json;
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

[Trait("Category", "Kernels")]
public class RecurrentTorchTests
{
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Fixture.RootElement.GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    private static readonly JsonDocument Fixture =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Kernels", "RecurrentTorchFixture.json")));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ForwardAndBackward_MatchLibtorch(string name)
    {
        var c = Fixture.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        int index = Fixture.RootElement.GetProperty("cases").EnumerateArray().TakeWhile(e => e.GetProperty("name").GetString() != name).Count();
        var g = new RecurrentGeometry(c.GetProperty("cell").GetString() == "LSTM" ? RecurrentCell.Lstm : RecurrentCell.Gru,
            c.GetProperty("inputSize").GetInt32(), c.GetProperty("hidden").GetInt32(), c.GetProperty("layers").GetInt32(),
            c.GetProperty("bidirectional").GetBoolean(), c.GetProperty("returnSequences").GetBoolean());
        int batch = c.GetProperty("batch").GetInt32(), seq = c.GetProperty("seq").GetInt32();
        int[] lengths = c.GetProperty("lengths").ValueKind == JsonValueKind.Null ? [] : Ints(c.GetProperty("lengths"));
        Assert.Equal(Strings(c.GetProperty("parameterNames")), g.ParameterTensors().Select(t => t.Suffix));

        // The tool's inputs: U(±2) input with 1000 at padded steps, U(±1/√H) parameters, U(±1) states and loss weights.
        ulong salt = (ulong)index * 16;
        float[] x = Det(batch * seq * g.InputSize, salt, 2f);
        for (int b = 0; b < lengths.Length; b++)
            for (int i = lengths[b] * g.InputSize; i < seq * g.InputSize; i++) x[b * seq * g.InputSize + i] = 1000f;
        float[] p = Det(g.ParameterCount, salt + 1, 1f / MathF.Sqrt(g.Hidden));
        int state = g.Layers * g.Directions * batch * g.Hidden;
        float[] initial = g.Cell == RecurrentCell.Lstm ? [.. Det(state, salt + 2, 1f), .. Det(state, salt + 3, 1f)] : Det(state, salt + 2, 1f);
        float[] dy = Det((int)g.OutputLength(batch, seq), salt + 4, 1f);

        foreach (var tuning in RecurrentKernelsTests.Paths())
        {
            string where = $"{name} path={tuning}";
            float[] ws = new float[g.WorkspaceLength(batch, seq)];
            float[] y = new float[g.OutputLength(batch, seq)], final = new float[g.StateLength(batch)];
            RecurrentKernels.ForwardCore(g, x, p, y, lengths, ws, batch, seq, initial, final, tuning);
            AssertClose(Floats(c.GetProperty("outputWithState")), y, 1e-5, where + " output from (h_0, c_0)");
            AssertClose(Floats(c.GetProperty("finalStateWithState")), final, 1e-5, where + " (h_n, c_n) from (h_0, c_0)");

            RecurrentKernels.ForwardCore(g, x, p, y, lengths, ws, batch, seq, default, final, tuning);
            AssertClose(Floats(c.GetProperty("output")), y, 1e-5, where + " output");
            AssertClose(Floats(c.GetProperty("finalState")), final, 1e-5, where + " (h_n, c_n)");

            float[] kept = new float[g.KeptLength(batch, seq)], dp = new float[g.ParameterCount], dx = new float[x.Length];
            RecurrentKernels.TrainForwardCore(g, x, p, y, kept, lengths, ws, batch, seq, 0f, null!, tuning);
            AssertClose(Floats(c.GetProperty("output")), y, 1e-5, where + " training output");
            RecurrentKernels.BackwardCore(g, dy, x, p, kept, dp, dx, lengths, ws, batch, seq, tuning);
            AssertClose(Floats(c.GetProperty("dParameters")), dp, 1e-4, where + " dParameters");
            AssertClose(Floats(c.GetProperty("dInput")), dx, 1e-4, where + " dInput");
        }
    }

    /// <summary>seq-check's Det: n values uniform in [−scale, scale) from a splitmix64 hash of (salt, i).</summary>
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

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance, $"{where}: [{i}] = {actual[i]} vs libtorch {expected[i]}");
    }

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => v.GetSingle()).ToArray();
    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(v => v.GetInt32()).ToArray();
    private static string[] Strings(JsonElement e) => e.EnumerateArray().Select(v => v.GetString()!).ToArray();
}
