// Prints libtorch's nn.LSTM / nn.GRU outputs, final states and gradients for small fixed-seed configurations (stacked,
// bidirectional, variable lengths through pack_padded_sequence) as the JSON fixture that
// tests/ModelGen.Tests/Kernels/RecurrentTorchTests.cs checks RecurrentKernels against.
//   dotnet run -c Release --project tools/reference/seq-check -- [out.json]   (see ../README.md for the GLIBCXX workaround)
//   ... -- bench   times libtorch's nn.LSTM (1 thread) beside RecurrentKernels on the same shapes, interleaved: inference forward
//                  and a training step (forward + backward of Σ output ⊙ w) on W6 (32→128, seq 50, batch 1 and 16) and W7's
//                  bidirectional 64→128 (batch 32, seq 32). Times are medians of per-thread CPU time (robust on a shared machine).
// Per case: a forward from a given (h_0, c_0) (output and (h_n, c_n)), then a forward from zeros with
// loss = Σ output ⊙ lossWeights, where output is the padded batch-first sequence (returnSequences) or the top layer's
// h_n of each direction concatenated, and its gradients with respect to every parameter (state-dict order) and the input.
// Inputs, parameters (U(±1/√H), PyTorch's init range), states and loss weights are not stored: both this tool and the test
// draw them from Det (an integer hash, bit-identical everywhere); padded steps of the input hold 1000.
// Values are printed with 8 significant digits (the test's tolerances are 1e-5 and 1e-4).
using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using Rnn = TorchSharp.torch.nn.utils.rnn;

torch.set_num_threads(1);
torch.set_num_interop_threads(1);
if (args.Length > 0 && args[0] == "bench")
{
    SeqBench.Run();
    return;
}
string outPath = args.Length > 0 ? args[0] : "RecurrentTorchFixture.json";
var cases = new (string Name, bool Lstm, int Input, int Hidden, int Layers, bool Bi, bool ReturnSequences, int Batch, int Seq, long[]? Lengths)[]
{
    ("lstm_2layer_bidirectional_packed", true, 5, 5, 2, true, true, 3, 6, [6, 3, 4]),
    ("gru_2layer_bidirectional_packed", false, 5, 6, 2, true, true, 3, 6, [6, 3, 4]),
    ("lstm_1layer_last_step", true, 4, 9, 1, false, false, 2, 5, null),
    ("gru_2layer_bidirectional_packed_last_step", false, 3, 6, 2, true, false, 4, 4, [4, 1, 2, 3]),
    ("lstm_3layer_packed", true, 6, 6, 3, false, true, 2, 5, [5, 2]),
    ("gru_1layer_hidden17", false, 5, 17, 1, false, true, 2, 3, null),
};

var json = new StringBuilder();
json.Append("{\n  \"torch\": \"").Append(torch.__version__).Append("\",\n  \"cases\": [\n");
for (int ci = 0; ci < cases.Length; ci++)
{
    var c = cases[ci];
    using var scope = torch.NewDisposeScope();
    nn.Module rnn = c.Lstm
        ? nn.LSTM(c.Input, c.Hidden, c.Layers, batchFirst: true, bidirectional: c.Bi)
        : nn.GRU(c.Input, c.Hidden, c.Layers, batchFirst: true, bidirectional: c.Bi);
    int d = c.Bi ? 2 : 1;
    ulong salt = (ulong)ci * 16;
    float[] xs = Det(c.Batch * c.Seq * c.Input, salt, 2f);
    if (c.Lengths != null)   // padded steps hold junk: they must not matter
        for (int b = 0; b < c.Batch; b++)
            for (long i = c.Lengths[b] * c.Input; i < c.Seq * c.Input; i++) xs[b * c.Seq * c.Input + i] = 1000f;
    var x = torch.tensor(xs, new long[] { c.Batch, c.Seq, c.Input });
    long count = rnn.parameters().Sum(p => p.numel());
    float[] ps = Det((int)count, salt + 1, 1f / MathF.Sqrt(c.Hidden));
    using (torch.no_grad())
    {
        long offset = 0;
        foreach (var p in rnn.parameters())
        {
            p.copy_(torch.tensor(ps.AsSpan((int)offset, (int)p.numel()).ToArray(), p.shape));
            offset += p.numel();
        }
    }
    long state = (long)c.Layers * d * c.Batch * c.Hidden;
    var h0 = torch.tensor(Det((int)state, salt + 2, 1f), new long[] { c.Layers * d, c.Batch, c.Hidden });
    var c0 = torch.tensor(Det((int)state, salt + 3, 1f), new long[] { c.Layers * d, c.Batch, c.Hidden });
    var lossWeights = c.ReturnSequences
        ? torch.tensor(Det(c.Batch * c.Seq * d * c.Hidden, salt + 4, 1f), new long[] { c.Batch, c.Seq, d * c.Hidden })
        : torch.tensor(Det(c.Batch * d * c.Hidden, salt + 4, 1f), new long[] { c.Batch, d * c.Hidden });

    // Forward from (h_0, c_0).
    var (outState, hN, cN) = Run(rnn, c.Lstm, x, c.Lengths, c.Seq, h0, c0);
    // Forward from zeros, loss, backward.
    var xg = x.detach().requires_grad_(true);
    var (seqOut, hN0, cN0) = Run(rnn, c.Lstm, xg, c.Lengths, c.Seq, null, null);
    var y = c.ReturnSequences ? seqOut : Top(hN0, c.Layers, d);
    (y * lossWeights).sum().backward();

    json.Append("    {\n");
    Field("name", $"\"{c.Name}\"");
    Field("cell", c.Lstm ? "\"LSTM\"" : "\"GRU\"");
    Field("inputSize", c.Input.ToString(CultureInfo.InvariantCulture));
    Field("hidden", c.Hidden.ToString(CultureInfo.InvariantCulture));
    Field("layers", c.Layers.ToString(CultureInfo.InvariantCulture));
    Field("bidirectional", c.Bi ? "true" : "false");
    Field("returnSequences", c.ReturnSequences ? "true" : "false");
    Field("batch", c.Batch.ToString(CultureInfo.InvariantCulture));
    Field("seq", c.Seq.ToString(CultureInfo.InvariantCulture));
    Field("lengths", c.Lengths is null ? "null" : "[" + string.Join(", ", c.Lengths) + "]");
    Field("parameterNames", "[" + string.Join(", ", rnn.named_parameters().Select(p => $"\"{p.name}\"")) + "]");
    Field("outputWithState", Floats(c.ReturnSequences ? outState : Top(hN, c.Layers, d)));
    Field("finalStateWithState", c.Lstm ? Floats([hN.flatten(), cN!.flatten()]) : Floats(hN));
    Field("output", Floats(y));
    Field("finalState", c.Lstm ? Floats([hN0.flatten(), cN0!.flatten()]) : Floats(hN0));
    Field("dParameters", Floats(rnn.parameters().Select(p => p.grad!.flatten())));
    Field("dInput", Floats(xg.grad!), last: true);
    json.Append(ci == cases.Length - 1 ? "    }\n" : "    },\n");
}
json.Append("  ]\n}\n");
File.WriteAllText(outPath, json.ToString());
Console.WriteLine($"wrote {cases.Length} cases to {outPath} (torch {torch.__version__})");

void Field(string name, string value, bool last = false) => json.Append("      \"").Append(name).Append("\": ").Append(value).Append(last ? "\n" : ",\n");

static string Floats(params IEnumerable<Tensor> tensors)
    => "[" + string.Join(", ", tensors.SelectMany(t => t.detach().contiguous().data<float>().ToArray()).Select(v => v.ToString("G8", CultureInfo.InvariantCulture))) + "]";

// n values uniform in [−scale, scale) from a splitmix64 hash of (salt, i): exact integer arithmetic, so the test (which has a
// copy of this function) regenerates the same floats on any machine.
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

// The padded batch-first output (zeros past each length) and h_n (and c_n), through pack_padded_sequence when lengths are given.
static (Tensor Output, Tensor HN, Tensor? CN) Run(nn.Module rnn, bool lstm, Tensor x, long[]? lengths, int seq, Tensor? h0, Tensor? c0)
{
    if (lengths is null)
    {
        if (lstm)
        {
            var (o, h, cc) = ((TorchSharp.Modules.LSTM)rnn).call(x, h0 is null ? null : (h0, c0!));
            return (o, h, cc);
        }
        var (og, hg) = ((TorchSharp.Modules.GRU)rnn).call(x, h0);
        return (og, hg, null);
    }
    var packed = Rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first: true, enforce_sorted: false);
    if (lstm)
    {
        var (p, h, cc) = ((TorchSharp.Modules.LSTM)rnn).call(packed, h0 is null ? null : (h0, c0!));
        return (Rnn.pad_packed_sequence(p, batch_first: true, total_length: seq).Item1, h, cc);
    }
    var (pg, hg2) = ((TorchSharp.Modules.GRU)rnn).call(packed, h0);
    return (Rnn.pad_packed_sequence(pg, batch_first: true, total_length: seq).Item1, hg2, null);
}

// [batch, D·H]: the top layer's h_n, forward direction then reverse (h_n is [layers·D, batch, H]).
static Tensor Top(Tensor hN, int layers, int d)
    => torch.cat(Enumerable.Range(0, d).Select(i => hN[(layers - 1) * d + i]).ToArray(), dim: 1);
