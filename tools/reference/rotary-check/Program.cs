// libtorch (TorchSharp) reference values for ModelGen's Transformer encoder stacks with rotary position embeddings. PyTorch's
// nn.MultiheadAttention has no RoPE hook, so each layer's self-attention is composed by hand from libtorch ops exactly as
// nn.TransformerEncoderLayer + torchtune compose it:
//   qkv = linear(h, in_proj_weight, in_proj_bias); q, k, v = qkv.chunk(3); q, k = rope(q), rope(k) per head;
//   o = softmax(q·kᵀ/√head_dim + masks)·v; sa = linear(o, out_proj.weight, out_proj.bias)
// with rope = torchtune.modules.RotaryPositionalEmbeddings (torchtune/modules/position_embeddings.py):
//   theta = 1 / base^(arange(0, dim, 2)[:dim//2].float() / dim); idx_theta = outer(arange(max_seq_len).float(), theta)
//   cache = stack([cos(idx_theta), sin(idx_theta)], -1); xs = x.reshape(..., -1, 2)
//   out = stack([xs[...,0]·cos − xs[...,1]·sin, xs[...,1]·cos + xs[...,0]·sin], -1).flatten(3)
// The layer composition is torch/nn/modules/transformer.py's (norm_first: x = x + sa(norm1(x)); x = x + ff(norm2(x)); else
// x = norm1(x + sa(x)); x = norm2(x + ff(x))). As a check of the hand-written attention, every case is also run WITHOUT RoPE
// and compared with libtorch's own nn.MultiheadAttention on the same weights (printed; must agree to 1e-6).
// Masks: key padding (t >= lengths[b]) and, when causal, −∞ above the diagonal. Parameters are redrawn uniformly; the loss is
// (y ⊙ m).exp().mean() with m = 1 at real positions, so output gradients are non-uniform and padded outputs get none.
//
// Writes tests/ModelGen.Tests/Kernels/Fixtures/rotary-libtorch.bin with --out PATH (the "MGLF" format of layers-check and
// transformer-check) and always runs ModelGen's kernels on the same inputs, printing the largest differences.
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using K = ModelGen.Kernels;

string? outPath = null;
for (int i = 0; i < args.Length; i++)
    if (args[i] == "--out" && i + 1 < args.Length) outPath = args[++i];
    else { Console.Error.WriteLine("usage: rotary-check [--out tests/ModelGen.Tests/Kernels/Fixtures/rotary-libtorch.bin]"); return 2; }

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
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what,-44} max rel diff {max:E2}");
}

// torchtune's RotaryPositionalEmbeddings forward on x [b, s, n_h, h_d] (input_pos = None: positions 0..s-1).
static Tensor Rope(Tensor x, int dim, int maxSeqLen, float @base)
{
    Tensor theta = 1.0f / torch.pow(torch.tensor(@base), torch.arange(0, dim, 2)[..(dim / 2)].to(ScalarType.Float32) / dim);
    Tensor seqIdx = torch.arange(maxSeqLen, dtype: ScalarType.Float32);
    Tensor idxTheta = torch.einsum("i, j -> ij", seqIdx, theta).to(ScalarType.Float32);
    Tensor cache = torch.stack([torch.cos(idxTheta), torch.sin(idxTheta)], -1);   // [max_seq_len, dim/2, 2]
    long s = x.shape[1];
    Tensor ropeCache = cache[..(int)s];
    Tensor xs = x.to(ScalarType.Float32).reshape(x.shape[0], x.shape[1], x.shape[2], -1, 2);
    ropeCache = ropeCache.view(-1, xs.shape[1], 1, xs.shape[3], 2);
    Tensor xOut = torch.stack([
        xs[TensorIndex.Ellipsis, 0] * ropeCache[TensorIndex.Ellipsis, 0] - xs[TensorIndex.Ellipsis, 1] * ropeCache[TensorIndex.Ellipsis, 1],
        xs[TensorIndex.Ellipsis, 1] * ropeCache[TensorIndex.Ellipsis, 0] + xs[TensorIndex.Ellipsis, 0] * ropeCache[TensorIndex.Ellipsis, 1]], -1);
    return xOut.flatten(3);
}

torch.manual_seed(20261205);
const int batch = 3, seq = 7, maxLength = 16;
foreach ((string name, int d, int heads, int ff, int layers, bool normFirst, bool causal, bool gelu, float rbase, int[]? lengths) in new[]
{
    ("rope.pre.gelu.causal", 12, 2, 20, 2, true, true, true, 10000f, (int[]?)[7, 3, 5]),
    ("rope.post.relu", 12, 3, 20, 2, false, false, false, 10000f, (int[]?)[7, 4, 6]),
    ("rope.pre.gelu", 18, 1, 33, 1, true, false, true, 10000f, (int[]?)null),
    ("rope.post.gelu.causal.base500", 8, 4, 7, 2, false, true, true, 500f, (int[]?)[5, 7, 1]),
})
{
    int hs = d / heads;
    var mods = new List<(TorchSharp.Modules.MultiheadAttention Mha, TorchSharp.Modules.Linear L1, TorchSharp.Modules.Linear L2, TorchSharp.Modules.LayerNorm N1, TorchSharp.Modules.LayerNorm N2)>();
    var ordered = new List<Tensor>();   // every parameter in ModelGen's (state-dict) order
    for (int l = 0; l < layers; l++)
    {
        var mha = nn.MultiheadAttention(d, heads, dropout: 0.0);
        var l1 = nn.Linear(d, ff);
        var l2 = nn.Linear(ff, d);
        var n1 = nn.LayerNorm(d, 1e-5);
        var n2 = nn.LayerNorm(d, 1e-5);
        var mhaParams = mha.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Tensor[] layerParams = [mhaParams["in_proj_weight"], mhaParams["in_proj_bias"], mhaParams["out_proj.weight"], mhaParams["out_proj.bias"],
            l1.weight!, l1.bias!, l2.weight!, l2.bias!, n1.weight!, n1.bias!, n2.weight!, n2.bias!];
        using (torch.no_grad())
            for (int k = 0; k < layerParams.Length; k++)
            {
                Tensor p = layerParams[k];
                double bound = k >= 8 ? 0.3 : 1.0 / Math.Sqrt(p.shape[^1] == ff ? ff : d) * 1.5;
                p.uniform_(-bound, bound);
                if (k is 8 or 10) p.add_(1.0);
            }
        ordered.AddRange(layerParams);
        mods.Add((mha, l1, l2, n1, n2));
    }

    Tensor x = (torch.randn(batch, seq, d) * 1.2 + 0.1).requires_grad_();
    int[] lens = lengths ?? Enumerable.Repeat(seq, batch).ToArray();
    var realMask = torch.zeros(batch, seq, 1);
    var padMask = torch.zeros(batch, seq, dtype: ScalarType.Bool);
    for (int b = 0; b < batch; b++)
        for (int t = 0; t < seq; t++)
            if (t < lens[b]) realMask[b, t, 0] = torch.tensor(1f);
            else padMask[b, t] = torch.tensor(true);
    Tensor? attnMask = causal ? torch.zeros(seq, seq).masked_fill(torch.ones(seq, seq, dtype: ScalarType.Bool).triu(1), float.NegativeInfinity) : null;
    // Additive mask [B, 1, T, T]: −∞ at padded keys (and above the diagonal when causal).
    Tensor additive = torch.zeros(batch, 1, seq, seq).masked_fill(padMask.view(batch, 1, 1, seq), float.NegativeInfinity);
    if (attnMask is not null) additive = additive + attnMask;

    Tensor SaByHand(int l, Tensor h, bool rope)   // h [B, T, d]
    {
        var p = ordered.Skip(l * 12).Take(4).ToArray();
        Tensor qkv = F.linear(h, p[0], p[1]);
        Tensor[] parts = qkv.chunk(3, -1);
        Tensor q = parts[0].reshape(batch, seq, heads, hs), k = parts[1].reshape(batch, seq, heads, hs), v = parts[2].reshape(batch, seq, heads, hs);
        if (rope) { q = Rope(q, hs, maxLength, rbase); k = Rope(k, hs, maxLength, rbase); }
        q = q.transpose(1, 2); k = k.transpose(1, 2); v = v.transpose(1, 2);   // [B, H, T, hs]
        Tensor scores = torch.matmul(q, k.transpose(-2, -1)) / Math.Sqrt(hs) + additive;
        Tensor o = torch.matmul(F.softmax(scores, -1), v).transpose(1, 2).reshape(batch, seq, d);
        return F.linear(o, p[2], p[3]);
    }
    Tensor SaLibtorch(int l, Tensor h)
    {
        Tensor s = h.transpose(0, 1);
        var (o, _) = mods[l].Mha.call(s, s, s, lengths is null ? null : padMask, false, attnMask);
        return o.transpose(0, 1);
    }
    Tensor Ff(int l, Tensor h) => mods[l].L2.call(gelu ? F.gelu(mods[l].L1.call(h)) : F.relu(mods[l].L1.call(h)));
    Tensor Stack(Tensor input, Func<int, Tensor, Tensor> sa)
    {
        Tensor y = input;
        for (int l = 0; l < layers; l++)
            if (normFirst)
            {
                y = y + sa(l, mods[l].N1.call(y));
                y = y + Ff(l, mods[l].N2.call(y));
            }
            else
            {
                y = mods[l].N1.call(y + sa(l, y));
                y = mods[l].N2.call(y + Ff(l, y));
            }
        return y;
    }

    bool[] realRows = Enumerable.Range(0, batch * seq).Select(r => r % seq < lens[r / seq]).ToArray();
    using (torch.no_grad())
        Report($"{name} hand attention vs MultiheadAttention", Data(Stack(x, SaLibtorch)), Data(Stack(x, (l, h) => SaByHand(l, h, rope: false))), realRows, d, 1e-6);

    Tensor y = Stack(x, (l, h) => SaByHand(l, h, rope: true));
    y.retain_grad();
    (y * realMask).exp().mean().backward();

    Tensor flat = torch.cat(ordered.Select(p => p.detach().flatten()).ToList(), 0);
    Tensor dflat = torch.cat(ordered.Select(p => p.grad!.flatten()).ToList(), 0);
    PutI($"{name}.config", [8], [d, heads, ff, layers, normFirst ? 1 : 0, causal ? 1 : 0, gelu ? 1 : 0, maxLength]);
    PutF($"{name}.base", torch.tensor(new[] { rbase }));
    PutI($"{name}.lengths", [batch], lens);
    PutF($"{name}.input", x); PutF($"{name}.params", flat); PutF($"{name}.output", y); PutF($"{name}.doutput", y.grad!);
    PutF($"{name}.dinput", x.grad!); PutF($"{name}.dparams", dflat);

    // ---- ModelGen on the same inputs ----
    var g = new K.TransformerGeometry(d, heads, ff, layers, normFirst, causal, gelu ? K.FeedForwardActivation.Gelu : K.FeedForwardActivation.ReLU,
        rotary: new K.RotaryTable(hs, maxLength, rbase));
    float[] xv = Data(x), pv = Data(flat), yv = new float[xv.Length], kept = new float[g.KeptLength(batch, seq)];
    float[] ws = new float[g.WorkspaceLength(batch, seq)], dp = new float[pv.Length], dx = new float[xv.Length];
    K.TransformerKernels.TrainForward(g, xv, pv, yv, kept, lengths, ws, batch, seq, 0f, null!);
    K.TransformerKernels.Backward(g, Data(y.grad!), xv, pv, kept, dp, dx, lengths, ws, batch, seq);
    Report($"{name} output", Data(y), yv, realRows, d, 1e-5);
    Report($"{name} dinput", Data(x.grad!), dx, [], d, 1e-4);
    Report($"{name} dparams", Data(dflat), dp, [], 1, 1e-4);
}

Console.WriteLine($"torch {torch.__version__}, {fixture.Count} tensors, {fixture.Values} values");
if (outPath is not null) fixture.Write(outPath);
return failures == 0 ? 0 : 1;
