// libtorch (TorchSharp) reference values for ModelGen's Transformer encoder stacks. Each layer is PyTorch's
// nn.TransformerEncoderLayer(d, nhead, dim_feedforward, dropout=0, activation, norm_first) built from libtorch's own
// modules: nn.MultiheadAttention (packed in_proj, 1/√head_dim scaling, key_padding_mask, attn_mask), nn.Linear,
// nn.LayerNorm and relu / exact gelu, composed as torch/nn/modules/transformer.py composes them:
//   norm_first: x = x + sa(norm1(x)); x = x + ff(norm2(x))      otherwise: x = norm1(x + sa(x)); x = norm2(x + ff(x))
// (TorchSharp's nn.TransformerEncoderLayer has no norm_first; for the post-norm cases the tool also runs it with the same
// weights and prints its difference from the composition, as a check of the composition itself.) Causal cases pass the
// square subsequent mask; padded cases pass key_padding_mask = (t >= lengths[b]). Parameters are redrawn uniformly so
// that no bias is zero. The loss is (y ⊙ m).exp().mean() with m = 1 at real positions and 0 at padded ones, so output
// gradients are non-uniform and padded outputs get none; the output gradient is recorded with retain_grad.
//
// Writes the fixture tests/ModelGen.Tests/Kernels/Fixtures/transformer-libtorch.bin when given --out PATH (format of
// tools/reference/layers-check: "MGLF", int32 version 1, int32 count, then per tensor: int32 name length + UTF-8 name,
// byte dtype (0 float32, 1 int32), int32 rank, int32[rank] dims, the data), and always runs ModelGen's kernels on the
// same inputs and prints the largest differences over real positions.
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using K = ModelGen.Kernels;

string? outPath = null;
for (int i = 0; i < args.Length; i++)
    if (args[i] == "--out" && i + 1 < args.Length) outPath = args[++i];
    else { Console.Error.WriteLine("usage: transformer-check [--out tests/ModelGen.Tests/Kernels/Fixtures/transformer-libtorch.bin]"); return 2; }

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

torch.manual_seed(20261208);
const int batch = 3, seq = 5;
foreach ((string name, int d, int heads, int ff, int layers, bool normFirst, bool causal, bool gelu, int[]? lengths) in new[]
{
    ("tf.post.relu", 12, 3, 20, 2, false, false, false, (int[]?)[5, 3, 4]),
    ("tf.pre.gelu.causal", 12, 3, 20, 2, true, true, true, (int[]?)[5, 2, 4]),
    ("tf.pre.gelu", 20, 4, 33, 1, true, false, true, (int[]?)null),
    ("tf.post.gelu.causal", 6, 2, 7, 2, false, true, true, (int[]?)[4, 5, 1]),
})
{
    // ---- the libtorch model: per layer MHA, linear1, linear2, norm1, norm2 with redrawn parameters ----
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
                bool normWeight = k is 8 or 10;
                double bound = k >= 8 ? 0.3 : 1.0 / Math.Sqrt(p.shape[^1] == ff ? ff : d) * 1.5;
                p.uniform_(-bound, bound);
                if (normWeight) p.add_(1.0);
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
    // The square subsequent mask as PyTorch's nn.Transformer.generate_square_subsequent_mask builds it: −∞ above the diagonal.
    // (A bool triu mask through TorchSharp 0.107's MultiheadAttention gave different results; the float form is PyTorch's own.)
    Tensor? attnMask = causal ? torch.zeros(seq, seq).masked_fill(torch.ones(seq, seq, dtype: ScalarType.Bool).triu(1), float.NegativeInfinity) : null;

    Tensor Sa(int l, Tensor h)   // h [B, T, d] -> [B, T, d]; libtorch's MHA is sequence-first
    {
        Tensor s = h.transpose(0, 1);
        var (o, _) = mods[l].Mha.call(s, s, s, lengths is null ? null : padMask, false, attnMask);
        return o.transpose(0, 1);
    }
    Tensor Ff(int l, Tensor h) => mods[l].L2.call(gelu ? F.gelu(mods[l].L1.call(h)) : F.relu(mods[l].L1.call(h)));

    Tensor y = x;
    for (int l = 0; l < layers; l++)
    {
        if (normFirst)
        {
            y = y + Sa(l, mods[l].N1.call(y));
            y = y + Ff(l, mods[l].N2.call(y));
        }
        else
        {
            y = mods[l].N1.call(y + Sa(l, y));
            y = mods[l].N2.call(y + Ff(l, y));
        }
    }
    y.retain_grad();
    (y * realMask).exp().mean().backward();

    if (!normFirst && !causal)
    {
        // Cross-check of the composition against libtorch's own (post-norm) TransformerEncoderLayer with the same weights.
        Tensor z = x.detach().transpose(0, 1);
        for (int l = 0; l < layers; l++)
        {
            var layer = nn.TransformerEncoderLayer(d, heads, ff, 0.0, gelu ? nn.Activations.GELU : nn.Activations.ReLU);
            var target = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            string[] names = ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
                "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"];
            using (torch.no_grad())
                for (int k = 0; k < names.Length; k++) target[names[k]].copy_(ordered[l * 12 + k]);
            z = layer.call(z, null!, lengths is null ? null! : padMask);
        }
        bool[] real = Enumerable.Range(0, batch * seq).Select(r => r % seq < lens[r / seq]).ToArray();
        Report($"{name} composition vs TransformerEncoderLayer", Data(y), Data(z.transpose(0, 1)), real, d, 1e-6);
    }

    Tensor flat = torch.cat(ordered.Select(p => p.detach().flatten()).ToList(), 0);
    Tensor dflat = torch.cat(ordered.Select(p => p.grad!.flatten()).ToList(), 0);
    PutI($"{name}.config", [7], [d, heads, ff, layers, normFirst ? 1 : 0, causal ? 1 : 0, gelu ? 1 : 0]);
    PutI($"{name}.lengths", [batch], lens);
    PutF($"{name}.input", x); PutF($"{name}.params", flat); PutF($"{name}.output", y); PutF($"{name}.doutput", y.grad!);
    PutF($"{name}.dinput", x.grad!); PutF($"{name}.dparams", dflat);

    // ---- ModelGen on the same inputs ----
    var g = new K.TransformerGeometry(d, heads, ff, layers, normFirst, causal, gelu ? K.FeedForwardActivation.Gelu : K.FeedForwardActivation.ReLU);
    float[] xv = Data(x), pv = Data(flat), yv = new float[xv.Length], kept = new float[g.KeptLength(batch, seq)];
    float[] ws = new float[g.WorkspaceLength(batch, seq)], dp = new float[pv.Length], dx = new float[xv.Length];
    int[]? lv = lengths;
    K.TransformerKernels.TrainForward(g, xv, pv, yv, kept, lv, ws, batch, seq, 0f, null!);
    K.TransformerKernels.Backward(g, Data(y.grad!), xv, pv, kept, dp, dx, lv, ws, batch, seq);
    bool[] realRows = Enumerable.Range(0, batch * seq).Select(r => r % seq < lens[r / seq]).ToArray();
    Report($"{name} output", Data(y), yv, realRows, d, 1e-5);
    Report($"{name} dinput", Data(x.grad!), dx, [], d, 1e-4);
    Report($"{name} dparams", Data(dflat), dp, [], 1, 1e-4);
}

Console.WriteLine($"torch {torch.__version__}, {fixture.Count} tensors, {fixture.Values} values");
if (outPath is not null) fixture.Write(outPath);
return failures == 0 ? 0 : 1;
