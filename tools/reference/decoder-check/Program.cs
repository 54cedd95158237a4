// libtorch (TorchSharp) reference values for ModelGen's Transformer decoder stacks. Each layer is PyTorch's
// nn.TransformerDecoderLayer(d, nhead, dim_feedforward, dropout=0, activation, norm_first) built from libtorch's own
// modules: two nn.MultiheadAttention (self_attn; multihead_attn with kdim = vdim = dm when the memory is narrower),
// nn.Linear, nn.LayerNorm and relu / exact gelu, composed as torch/nn/modules/transformer.py composes them:
//   norm_first: x = x + sa(norm1(x)); x = x + mha(norm2(x), m); x = x + ff(norm3(x))
//   otherwise:  x = norm1(x + sa(x)); x = norm2(x + mha(x, m)); x = norm3(x + ff(x))
// (TorchSharp 0.107's nn.TransformerDecoderLayer has neither norm_first nor kdim, so the composition is the reference, as in
// tools/reference/transformer-check.) Causal cases pass the square subsequent mask to self-attention only; padded cases pass
// key_padding_mask = (t >= lengths[b]) to both attentions (tgt_key_padding_mask and memory_key_padding_mask). Parameters are
// redrawn uniformly so that no bias is zero. The ".tk" cases (appended last, so the earlier tensors stay byte for byte) give
// the memory its own length S ≠ T and lengths: memory_key_padding_mask = (s >= memoryLengths[b]), recorded as "memlengths". The loss is (y ⊙ realMask).exp().mean(); the output gradient is recorded with
// retain_grad.
//
// Writes the fixture tests/ModelGen.Tests/Kernels/Fixtures/decoder-libtorch.bin when given --out PATH (format of
// tools/reference/layers-check), and always runs ModelGen's kernels on the same inputs and prints the largest differences.
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using K = ModelGen.Kernels;

string? outPath = null;
for (int i = 0; i < args.Length; i++)
    if (args[i] == "--out" && i + 1 < args.Length) outPath = args[++i];
    else { Console.Error.WriteLine("usage: decoder-check [--out tests/ModelGen.Tests/Kernels/Fixtures/decoder-libtorch.bin]"); return 2; }

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
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what,-36} max rel diff {max:E2}");
}

torch.manual_seed(20261210);
const int batch = 3, seq = 5;
// memorySeq 0 = seq with the query lengths as the memory's key padding (the original cases); otherwise S positions with memoryLengths.
foreach ((string name, int d, int heads, int ff, int layers, int memory, bool normFirst, bool causal, bool gelu, int[]? lengths, int memorySeq, int[]? memoryLengths) in new[]
{
    ("dec.post.relu.causal", 12, 3, 20, 2, 0, false, true, false, (int[]?)[5, 3, 4], 0, (int[]?)null),
    ("dec.pre.gelu.causal.kdim", 12, 3, 20, 2, 7, true, true, true, (int[]?)[5, 2, 4], 0, (int[]?)null),
    ("dec.pre.relu", 6, 3, 5, 1, 0, true, false, false, (int[]?)null, 0, (int[]?)null),
    ("dec.post.gelu.kdim", 6, 2, 7, 2, 4, false, false, true, (int[]?)[4, 5, 1], 0, (int[]?)null),
    ("dec.tk.pre.relu.causal.short", 9, 3, 11, 2, 0, true, true, false, (int[]?)[5, 2, 4], 3, (int[]?)[3, 1, 2]),
    ("dec.tk.post.gelu.causal.long.kdim", 9, 3, 7, 2, 5, false, true, true, (int[]?)[5, 5, 3], 11, (int[]?)[11, 4, 1]),
    ("dec.tk.pre.gelu.long", 6, 2, 5, 1, 3, true, false, true, (int[]?)[4, 1, 5], 8, (int[]?)[2, 8, 7]),
    ("dec.tk.post.relu.short.full", 6, 3, 9, 1, 0, false, false, false, (int[]?)null, 2, (int[]?)null),
})
{
    bool tk = memorySeq > 0;
    int sm = tk ? memorySeq : seq;
    int dm = memory == 0 ? d : memory;
    var mods = new List<(TorchSharp.Modules.MultiheadAttention Sa, TorchSharp.Modules.MultiheadAttention Ca, TorchSharp.Modules.Linear L1, TorchSharp.Modules.Linear L2,
        TorchSharp.Modules.LayerNorm N1, TorchSharp.Modules.LayerNorm N2, TorchSharp.Modules.LayerNorm N3)>();
    var ordered = new List<Tensor>();   // every parameter in ModelGen's (state-dict) order
    for (int l = 0; l < layers; l++)
    {
        var sa = nn.MultiheadAttention(d, heads, dropout: 0.0);
        var ca = dm == d ? nn.MultiheadAttention(d, heads, dropout: 0.0) : nn.MultiheadAttention(d, heads, dropout: 0.0, kdim: dm, vdim: dm);
        var l1 = nn.Linear(d, ff);
        var l2 = nn.Linear(ff, d);
        var n1 = nn.LayerNorm(d, 1e-5);
        var n2 = nn.LayerNorm(d, 1e-5);
        var n3 = nn.LayerNorm(d, 1e-5);
        var sp = sa.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var cp = ca.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var layerParams = new List<Tensor> { sp["in_proj_weight"], sp["in_proj_bias"], sp["out_proj.weight"], sp["out_proj.bias"] };
        if (dm == d) layerParams.Add(cp["in_proj_weight"]);
        else layerParams.AddRange([cp["q_proj_weight"], cp["k_proj_weight"], cp["v_proj_weight"]]);
        layerParams.AddRange([cp["in_proj_bias"], cp["out_proj.weight"], cp["out_proj.bias"], l1.weight!, l1.bias!, l2.weight!, l2.bias!]);
        int norms = layerParams.Count;
        layerParams.AddRange([n1.weight!, n1.bias!, n2.weight!, n2.bias!, n3.weight!, n3.bias!]);
        using (torch.no_grad())
            for (int k = 0; k < layerParams.Count; k++)
            {
                Tensor p = layerParams[k];
                double bound = k >= norms ? 0.3 : 1.0 / Math.Sqrt(p.shape[^1] == ff ? ff : d) * 1.5;
                p.uniform_(-bound, bound);
                if (k >= norms && (k - norms) % 2 == 0) p.add_(1.0);   // LayerNorm weights around 1
            }
        ordered.AddRange(layerParams);
        mods.Add((sa, ca, l1, l2, n1, n2, n3));
    }

    Tensor x = (torch.randn(batch, seq, d) * 1.2 + 0.1).requires_grad_();
    Tensor m = (torch.randn(batch, sm, dm) * 1.2 - 0.1).requires_grad_();
    int[] lens = lengths ?? Enumerable.Repeat(seq, batch).ToArray();
    int[] mlens = tk ? memoryLengths ?? Enumerable.Repeat(sm, batch).ToArray() : lens;
    var memoryPadMask = torch.zeros(batch, sm, dtype: ScalarType.Bool);
    for (int b = 0; b < batch; b++)
        for (int s = mlens[b]; s < sm; s++) memoryPadMask[b, s] = torch.tensor(true);
    Tensor? memoryKeyPadding = tk ? (memoryLengths is null ? null : memoryPadMask) : null;
    var realMask = torch.zeros(batch, seq, 1);
    var padMask = torch.zeros(batch, seq, dtype: ScalarType.Bool);
    for (int b = 0; b < batch; b++)
        for (int t = 0; t < seq; t++)
            if (t < lens[b]) realMask[b, t, 0] = torch.tensor(1f);
            else padMask[b, t] = torch.tensor(true);
    // The square subsequent mask as PyTorch builds it (float, −∞ above the diagonal); see transformer-check.
    Tensor? attnMask = causal ? torch.zeros(seq, seq).masked_fill(torch.ones(seq, seq, dtype: ScalarType.Bool).triu(1), float.NegativeInfinity) : null;

    Tensor Sa(int l, Tensor h)   // libtorch's MHA is sequence-first
    {
        Tensor s = h.transpose(0, 1);
        var (o, _) = mods[l].Sa.call(s, s, s, lengths is null ? null : padMask, false, attnMask);
        return o.transpose(0, 1);
    }
    Tensor Ca(int l, Tensor h)
    {
        Tensor s = h.transpose(0, 1), kv = m.transpose(0, 1);
        var (o, _) = mods[l].Ca.call(s, kv, kv, tk ? memoryKeyPadding : lengths is null ? null : padMask, false, null);
        return o.transpose(0, 1);
    }
    Tensor Ff(int l, Tensor h) => mods[l].L2.call(gelu ? F.gelu(mods[l].L1.call(h)) : F.relu(mods[l].L1.call(h)));

    Tensor y = x;
    for (int l = 0; l < layers; l++)
    {
        if (normFirst)
        {
            y = y + Sa(l, mods[l].N1.call(y));
            y = y + Ca(l, mods[l].N2.call(y));
            y = y + Ff(l, mods[l].N3.call(y));
        }
        else
        {
            y = mods[l].N1.call(y + Sa(l, y));
            y = mods[l].N2.call(y + Ca(l, y));
            y = mods[l].N3.call(y + Ff(l, y));
        }
    }
    y.retain_grad();
    (y * realMask).exp().mean().backward();

    Tensor flat = torch.cat(ordered.Select(p => p.detach().flatten()).ToList(), 0);
    Tensor dflat = torch.cat(ordered.Select(p => p.grad!.flatten()).ToList(), 0);
    PutI($"{name}.config", [8], [d, heads, ff, layers, memory, normFirst ? 1 : 0, causal ? 1 : 0, gelu ? 1 : 0]);
    PutI($"{name}.lengths", [batch], lens);
    PutF($"{name}.input", x); PutF($"{name}.memory", m); PutF($"{name}.params", flat); PutF($"{name}.output", y); PutF($"{name}.doutput", y.grad!);
    PutF($"{name}.dinput", x.grad!); PutF($"{name}.dmemory", m.grad!); PutF($"{name}.dparams", dflat);
    if (tk) PutI($"{name}.memlengths", [batch], mlens);

    // ---- ModelGen on the same inputs ----
    var g = new K.TransformerDecoderGeometry(d, heads, ff, layers, normFirst, causal, gelu ? K.FeedForwardActivation.Gelu : K.FeedForwardActivation.ReLU, memory);
    float[] xv = Data(x), mv = Data(m), pv = Data(flat), yv = new float[xv.Length], kept = new float[g.KeptLength(batch, seq, sm)];
    float[] ws = new float[g.WorkspaceLength(batch, seq, sm)], dp = new float[pv.Length], dx = new float[xv.Length], dmv = new float[mv.Length];
    int[]? lv = lengths, mlv = tk ? memoryLengths : lengths;
    K.TransformerDecoderKernels.TrainForward(g, xv, mv, pv, yv, kept, lv, mlv, ws, batch, seq, sm, 0f, null!);
    K.TransformerDecoderKernels.Backward(g, Data(y.grad!), xv, mv, pv, kept, dp, dx, dmv, lv, mlv, ws, batch, seq, sm);
    bool[] realRows = Enumerable.Range(0, batch * seq).Select(r => r % seq < lens[r / seq]).ToArray();
    Report($"{name} output", Data(y), yv, realRows, d, 1e-5);
    Report($"{name} dinput", Data(x.grad!), dx, [], d, 1e-4);
    Report($"{name} dmemory", Data(m.grad!), dmv, [], dm, 1e-4);
    Report($"{name} dparams", Data(dflat), dp, [], 1, 1e-4);
}

Console.WriteLine($"torch {torch.__version__}, {fixture.Count} tensors, {fixture.Values} values");
if (outPath is not null) fixture.Write(outPath);
return failures == 0 ? 0 : 1;
