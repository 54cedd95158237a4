// Writes libtorch's values for [Permute(1, 0)] + Conv1D over the run-time length + ReLU + [Permute(1, 0)] with per-example
// lengths, as the JSON fixture tests/ModelGen.Tests/Kernels/ConvSequenceTorchTests.cs checks ModelGen's kernels against.
//   dotnet run -c Release --project tools/reference/conv-check -- [out.json]   (see ../README.md for the GLIBCXX workaround)
//   ... -- --options conv-options-libtorch.bin writes the non-square / padding-mode / pooling fixture instead (ConvOptions.cs).
// PyTorch has no lengths for conv1d: each example runs alone on its first L_b positions, x_b[:L].T (x.permute), conv1d with
// padding dilation·(K − 1)/2 (length kept), relu, permute back; that is the semantics ModelGen's sequence convolution defines.
// loss = Σ over real positions y ⊙ lossWeights; gradients of the weight, bias and input (0 at padded positions).
// Inputs are not stored: both sides draw them from Det (an integer hash, as seq-check); padded input positions hold 1000.
using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

if (args.Length == 2 && args[0] == "--options")
{
    ConvOptions.Write(args[1]);   // issue 15's non-square, padding-mode and pooling options (ConvOptions.cs)
    return;
}
torch.set_num_threads(1);
string outPath = args.Length > 0 ? args[0] : "ConvSequenceTorchFixture.json";
var cases = new (string Name, int Batch, int Seq, int Features, int Out, int Kernel, int Dilation, int Groups, int[] Lengths)[]
{
    ("k3_lengths", 3, 7, 5, 6, 3, 1, 1, [7, 3, 1]),
    ("k3_dilated2_grouped", 2, 17, 4, 6, 3, 2, 2, [17, 9]),
    ("k7_full_length", 2, 33, 3, 5, 7, 1, 1, [33, 33]),
};

var json = new StringBuilder();
json.Append("{\n  \"torch\": \"").Append(torch.__version__).Append("\",\n  \"cases\": [\n");
for (int ci = 0; ci < cases.Length; ci++)
{
    var c = cases[ci];
    using var scope = torch.NewDisposeScope();
    ulong salt = (ulong)ci * 16;
    float[] xs = Det(c.Batch * c.Seq * c.Features, salt, 2f);
    for (int b = 0; b < c.Batch; b++)
        for (int i = c.Lengths[b] * c.Features; i < c.Seq * c.Features; i++) xs[b * c.Seq * c.Features + i] = 1000f;
    float[] ws = Det(c.Out * (c.Features / c.Groups) * c.Kernel, salt + 1, 0.5f);
    float[] bs = Det(c.Out, salt + 2, 0.5f);
    float[] lw = Det(c.Batch * c.Seq * c.Out, salt + 3, 1f);
    var x = torch.tensor(xs, new long[] { c.Batch, c.Seq, c.Features }).requires_grad_(true);
    var w = torch.tensor(ws, new long[] { c.Out, c.Features / c.Groups, c.Kernel }).requires_grad_(true);
    var bias = torch.tensor(bs, new long[] { c.Out }).requires_grad_(true);
    var weights = torch.tensor(lw, new long[] { c.Batch, c.Seq, c.Out });
    Tensor loss = torch.zeros(1);
    var parts = new List<Tensor>();
    for (int b = 0; b < c.Batch; b++)
    {
        long length = c.Lengths[b];
        var xb = x[b].narrow(0, 0, length).permute(1, 0).unsqueeze(0);                        // [1, F, L]
        var yb = nn.functional.relu(nn.functional.conv1d(xb, w, bias, stride: 1, padding: c.Dilation * (c.Kernel - 1) / 2,
            dilation: c.Dilation, groups: c.Groups)).squeeze(0).permute(1, 0);                 // [L, O]
        loss = loss + (yb * weights[b].narrow(0, 0, length)).sum();
        parts.Add(torch.cat(new[] { yb, torch.zeros(c.Seq - length, c.Out) }, 0));
    }
    var output = torch.stack(parts, 0);   // [B, T, O], 0 at padded positions
    loss.backward();
    json.Append("    {\"name\": \"").Append(c.Name).Append("\", \"batch\": ").Append(c.Batch).Append(", \"seq\": ").Append(c.Seq)
        .Append(", \"features\": ").Append(c.Features).Append(", \"out\": ").Append(c.Out).Append(", \"kernel\": ").Append(c.Kernel)
        .Append(", \"dilation\": ").Append(c.Dilation).Append(", \"groups\": ").Append(c.Groups)
        .Append(", \"lengths\": [").Append(string.Join(", ", c.Lengths)).Append("],\n");
    json.Append("     \"output\": ").Append(Floats(output)).Append(",\n");
    json.Append("     \"dWeight\": ").Append(Floats(w.grad!)).Append(",\n");
    json.Append("     \"dBias\": ").Append(Floats(bias.grad!)).Append(",\n");
    json.Append("     \"dInput\": ").Append(Floats(x.grad!)).Append("}").Append(ci + 1 < cases.Length ? ",\n" : "\n");
}
json.Append("  ]\n}\n");
File.WriteAllText(outPath, json.ToString());
Console.WriteLine($"wrote {outPath} ({cases.Length} cases, torch {torch.__version__})");

static string Floats(Tensor t) =>
    "[" + string.Join(", ", t.detach().contiguous().data<float>().ToArray().Select(v => v.ToString("G9", CultureInfo.InvariantCulture))) + "]";

static float[] Det(int n, ulong salt, float scale)
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
