// libtorch (TorchSharp) reference values for ModelGen's MultiHeadAttentionKernels: PyTorch's nn.MultiheadAttention(d, heads,
// bias, kdim = vdim = dm) itself, called as self-attention (query = key = value = x) or cross-attention (query x, key = value
// = m, the memory) with key_padding_mask = (t >= lengths[b]) and, for causal cases, the float square subsequent mask.
// The ".tk" cases (appended last, so the earlier tensors stay byte for byte) give the memory its own length S ≠ T and its own
// lengths (key_padding_mask = (s >= memoryLengths[b]), the [T, S] causal mask −∞ where s > t) and record "memlengths".
// Parameters are redrawn uniformly so that no bias is zero. The loss is (y ⊙ realMask).exp().mean(), so output gradients
// are non-uniform and padded outputs get none; the output gradient is recorded with retain_grad.
//
// Writes the fixture tests/ModelGen.Tests/Kernels/Fixtures/mha-libtorch.bin when given --out PATH (format of
// tools/reference/layers-check: "MGLF", int32 version 1, int32 count, then per tensor: int32 name length + UTF-8 name,
// byte dtype (0 float32, 1 int32), int32 rank, int32[rank] dims, the data), and always runs ModelGen's kernels on the
// same inputs and prints the largest differences over real positions.
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using K = ModelGen.Kernels;

string? outPath = null;
for (int i = 0; i < args.Length; i++)
    if (args[i] == "--out" && i + 1 < args.Length) outPath = args[++i];
    else { Console.Error.WriteLine("usage: mha-check [--out tests/ModelGen.Tests/Kernels/Fixtures/mha-libtorch.bin]"); return 2; }

var fixture = new LibtorchFixture();
void PutF(string name, Tensor t) => fixture.Add((name, false, t.shape.Select(d => (int)d).ToArray(), Data(t), null));
void PutI(string name, int[] shape, int[] values) => fixture.Add((name, true, shape, null, values));
static float[] Data(Tensor t) => t.detach().contiguous().data<float>().ToArray();

int failures = 0;
void Report(string what, float[] expected, float[] actual, bool[] real, int d, double tol)
{
    double max = 0;
    for (int i = 0; i < expected.Length; i++)
        if (real.Length == 0 || real[i / d]) max = Math.Max(max, Math.Abs(expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i])));
    bool ok = max <= tol && expected.Length == actual.Length;
    if (!ok) failures++;
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what,-28} max rel diff {max:E2}");
}

torch.manual_seed(20261209);
const int batch = 3, seq = 7;
// memorySeq 0 = seq with the query lengths as the key padding (the original cases); otherwise S positions with memoryLengths.
foreach ((string name, int d, int heads, int memory, bool causal, bool bias, int[]? lengths, int memorySeq, int[]? memoryLengths) in new[]
{
    ("mha.self.causal", 15, 5, 0, true, true, (int[]?)[7, 3, 5], 0, (int[]?)null),
    ("mha.self.nobias", 15, 5, 0, false, false, (int[]?)null, 0, (int[]?)null),
    ("mha.cross.packed", 15, 5, 15, false, true, (int[]?)[7, 1, 4], 0, (int[]?)null),
    ("mha.cross.kdim.causal", 15, 5, 7, true, true, (int[]?)[6, 7, 2], 0, (int[]?)null),
    ("mha.cross.tk.short", 15, 5, 15, false, true, (int[]?)[7, 3, 5], 4, (int[]?)[4, 1, 3]),
    ("mha.cross.tk.long.kdim", 9, 3, 5, false, true, (int[]?)[7, 2, 6], 11, (int[]?)[11, 6, 1]),
    ("mha.cross.tk.long.causal", 9, 3, 9, true, true, (int[]?)[7, 7, 4], 13, (int[]?)[13, 2, 9]),
    ("mha.cross.tk.nobias.full", 10, 2, 3, false, false, (int[]?)null, 3, (int[]?)null),
})
{
    bool tk = memorySeq > 0;
    int sm = tk ? memorySeq : seq;
    int dm = memory == 0 ? d : memory;
    var mha = memory == 0 || memory == d
        ? nn.MultiheadAttention(d, heads, dropout: 0.0, bias: bias)
        : nn.MultiheadAttention(d, heads, dropout: 0.0, bias: bias, kdim: dm, vdim: dm);
    var named = mha.named_parameters().ToDictionary(p => p.name, p => p.parameter);
    string[] order = (dm == d ? new[] { "in_proj_weight" } : new[] { "q_proj_weight", "k_proj_weight", "v_proj_weight" })
        .Concat(bias ? new[] { "in_proj_bias", "out_proj.weight", "out_proj.bias" } : new[] { "out_proj.weight" }).ToArray();
    Tensor[] ordered = order.Select(n => named[n]).ToArray();
    using (torch.no_grad())
        foreach (var p in ordered) p.uniform_(-0.6, 0.6);

    Tensor x = (torch.randn(batch, seq, d) * 1.2 + 0.1).requires_grad_();
    Tensor m = (torch.randn(batch, sm, dm) * 1.2 - 0.1).requires_grad_();
    int[] lens = lengths ?? Enumerable.Repeat(seq, batch).ToArray();
    int[] mlens = tk ? memoryLengths ?? Enumerable.Repeat(sm, batch).ToArray() : lens;
    var memoryPadMask = torch.zeros(batch, sm, dtype: ScalarType.Bool);
    for (int b = 0; b < batch; b++)
        for (int s = mlens[b]; s < sm; s++) memoryPadMask[b, s] = torch.tensor(true);
    var realMask = torch.zeros(batch, seq, 1);
    var padMask = torch.zeros(batch, seq, dtype: ScalarType.Bool);
    for (int b = 0; b < batch; b++)
        for (int t = 0; t < seq; t++)
            if (t < lens[b]) realMask[b, t, 0] = torch.tensor(1f);
            else padMask[b, t] = torch.tensor(true);
    Tensor? attnMask = causal ? torch.zeros(seq, sm).masked_fill(torch.ones(seq, sm, dtype: ScalarType.Bool).triu(1), float.NegativeInfinity) : null;
    Tensor q = x.transpose(0, 1), kv = (memory == 0 ? x : m).transpose(0, 1);   // libtorch's MHA is sequence-first
    Tensor? keyPadding = tk ? (memoryLengths is null ? null : memoryPadMask) : lengths is null ? null : padMask;
    var (o, _) = mha.call(q, kv, kv, keyPadding, false, attnMask);
    Tensor y = o.transpose(0, 1);
    y.retain_grad();
    (y * realMask).exp().mean().backward();

    Tensor flat = torch.cat(ordered.Select(p => p.detach().flatten()).ToList(), 0);
    Tensor dflat = torch.cat(ordered.Select(p => p.grad!.flatten()).ToList(), 0);
    PutI($"{name}.config", [5], [d, heads, memory, causal ? 1 : 0, bias ? 1 : 0]);
    PutI($"{name}.lengths", [batch], lens);
    PutF($"{name}.input", x); PutF($"{name}.params", flat); PutF($"{name}.output", y); PutF($"{name}.doutput", y.grad!);
    PutF($"{name}.dinput", x.grad!); PutF($"{name}.dparams", dflat);
    if (memory > 0) { PutF($"{name}.memory", m); PutF($"{name}.dmemory", m.grad!); }
    if (tk) PutI($"{name}.memlengths", [batch], mlens);

    // ---- ModelGen on the same inputs ----
    var g = new K.MultiHeadAttentionGeometry(d, heads, memory, causal, bias);
    float[] xv = Data(x), mv = memory > 0 ? Data(m) : [], pv = Data(flat), yv = new float[xv.Length], kept = new float[g.KeptLength(batch, seq, sm)];
    float[] ws = new float[g.WorkspaceLength(batch, seq, sm)], dp = new float[pv.Length], dx = new float[xv.Length], dmv = new float[mv.Length];
    int[]? kl = g.IsCross ? (tk ? memoryLengths : lengths) : null;
    K.MultiHeadAttentionKernels.TrainForward(g, xv, mv, pv, yv, kept, lengths, kl, ws, batch, seq, sm);
    K.MultiHeadAttentionKernels.Backward(g, Data(y.grad!), xv, mv, pv, kept, dp, dx, dmv, lengths, kl, ws, batch, seq, sm);
    bool[] realRows = Enumerable.Range(0, batch * seq).Select(r => r % seq < lens[r / seq]).ToArray();
    Report($"{name} output", Data(y), yv, realRows, d, 1e-5);
    Report($"{name} dinput", Data(x.grad!), dx, [], d, 1e-4);
    if (memory > 0) Report($"{name} dmemory", Data(m.grad!), dmv, [], dm, 1e-4);
    Report($"{name} dparams", Data(dflat), dp, [], 1, 1e-4);
}

Console.WriteLine($"torch {torch.__version__}, {fixture.Count} tensors, {fixture.Values} values");
if (outPath is not null) fixture.Write(outPath);
return failures == 0 ? 0 : 1;
