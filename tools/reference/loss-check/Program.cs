// libtorch (TorchSharp) reference values for ModelGen's losses: F.cross_entropy (class weights, ignore_index, label
// smoothing, class-probability targets), F.nll_loss, F.binary_cross_entropy_with_logits (weight, pos_weight),
// F.mse_loss, F.l1_loss, F.smooth_l1_loss (beta), F.huber_loss (delta) and F.kl_div (log_target), each under the
// reductions it accepts, float32 from a fixed seed, at odd class counts. 'batchmean' is computed as Python's
// F.kl_div does it: the 'sum' result divided by the batch size. The gradient is autograd's, of the reduced loss or,
// for 'none', of the sum of the terms (ModelGen's definition of dOutput for reduction None).
//
// Writes the fixture tests/ModelGen.Tests/Kernels/Fixtures/losses-libtorch.bin (MGLF, see ../Shared/LibtorchFixture.cs;
// read by ModelGen.Tests.Losses.TorchLossReferenceTests) when given --out PATH, and always runs ModelGen's losses on the
// same inputs and prints the largest relative differences. Per case i: case{i}.kind (int: 0 CE with class indices,
// 1 CE with probabilities, 2 NLL, 3 BCEWithLogits, 4 MSE, 5 L1, 6 SmoothL1, 7 Huber, 8 KLDiv), case{i}.reduction
// (int, ModelGen.Reduction order: 0 none, 1 mean, 2 sum, 3 batchmean), case{i}.ignore_index (int), case{i}.flag (int:
// log_target), case{i}.param (float: label smoothing, beta or delta), case{i}.x [N, C], case{i}.labels [N] or
// case{i}.targets [N, C], optional case{i}.weight [C] and case{i}.pos_weight [C], case{i}.loss (the reduced value [1],
// or the terms for 'none') and case{i}.dx [N, C].
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using MG = ModelGen;

string? outPath = null;
for (int i = 0; i < args.Length; i++)
    if (args[i] == "--out" && i + 1 < args.Length) outPath = args[++i];
    else { Console.Error.WriteLine("usage: loss-check [--out tests/ModelGen.Tests/Kernels/Fixtures/losses-libtorch.bin]"); return 2; }

var fixture = new LibtorchFixture();
void PutF(string name, Tensor t) => fixture.Add((name, false, t.shape.Select(d => (int)d).ToArray(), t.detach().contiguous().data<float>().ToArray(), null));
void PutI(string name, Tensor t) => fixture.Add((name, true, t.shape.Select(d => (int)d).ToArray(), null, t.to(ScalarType.Int64).data<long>().ToArray().Select(v => checked((int)v)).ToArray()));
void PutScalarF(string name, float v) => fixture.Add((name, false, [1], [v], null));
void PutScalarI(string name, int v) => fixture.Add((name, true, [1], null, [v]));

int failures = 0;
double worstLoss = 0, worstGradient = 0;
// Relative to the tensor's largest magnitude (at least 1e-3 of it for a loss of ~0), so gradients near 0 are not
// judged by their own tiny size.
double Compare(string what, float[] expected, ReadOnlySpan<float> actual, double tol)
{
    double scale = expected.Max(v => Math.Abs((double)v)), max = 0;
    for (int i = 0; i < expected.Length; i++) max = Math.Max(max, Math.Abs(expected[i] - actual[i]) / Math.Max(scale, 1e-3));
    bool ok = max <= tol && expected.Length == actual.Length;
    if (!ok) { failures++; Console.WriteLine($"FAIL {what,-70} max rel diff {max:E2}"); }
    return max;
}
float[] Data(Tensor t) => t.detach().contiguous().data<float>().ToArray();
int[] Ints(Tensor t) => t.data<long>().ToArray().Select(v => (int)v).ToArray();
nn.Reduction Torch(MG.Reduction r) => r switch
{
    MG.Reduction.None => nn.Reduction.None, MG.Reduction.Mean => nn.Reduction.Mean, _ => nn.Reduction.Sum,
};

torch.manual_seed(20261205);
int count = 0;
var reductions = new[] { MG.Reduction.None, MG.Reduction.Mean, MG.Reduction.Sum };

void Case(int kind, MG.Reduction reduction, Tensor x, Tensor? labels, Tensor? targets, Tensor? weight, Tensor? posWeight,
    int ignoreIndex, bool flag, float param, Func<Tensor, Tensor> lossOf, MG.Loss mg)
{
    x = x.detach().clone().requires_grad_();
    Tensor loss = lossOf(x);
    (reduction == MG.Reduction.None ? loss.sum() : loss).backward();
    string p = $"case{count++}";
    PutScalarI($"{p}.kind", kind); PutScalarI($"{p}.reduction", (int)reduction); PutScalarI($"{p}.ignore_index", ignoreIndex);
    PutScalarI($"{p}.flag", flag ? 1 : 0); PutScalarF($"{p}.param", param);
    PutF($"{p}.x", x);
    if (labels is not null) PutI($"{p}.labels", labels);
    if (targets is not null) PutF($"{p}.targets", targets);
    if (weight is not null) PutF($"{p}.weight", weight);
    if (posWeight is not null) PutF($"{p}.pos_weight", posWeight);
    PutF($"{p}.loss", loss.reshape(-1)); PutF($"{p}.dx", x.grad!);

    int batch = (int)x.shape[0];
    float[] xs = Data(x), d = new float[xs.Length];
    float[] terms = new float[mg.UsesLabels ? batch : xs.Length];
    float value = mg.Compute(xs, labels is null ? default : Ints(labels), targets is null ? default : Data(targets), d, terms, batch);
    string what = $"{p} {mg.Name} [{batch}, {x.shape[1]}]";
    worstLoss = Math.Max(worstLoss, reduction == MG.Reduction.None ? Compare($"{what} terms", Data(loss), terms, 1e-6) : Compare($"{what} loss", [loss.item<float>()], [value], 1e-6));
    worstGradient = Math.Max(worstGradient, Compare($"{what} dx", Data(x.grad!), d, 1e-6));
}

foreach (int classes in new[] { 1, 3, 7, 17 })
foreach (MG.Reduction r in reductions)
{
    int batch = 4;
    Tensor x = torch.randn(batch, classes) * 3;
    Tensor labels = torch.randint(0, classes, [batch], dtype: ScalarType.Int64);
    Tensor padded = labels.clone();
    padded[1] = torch.tensor(-100L); padded[3] = torch.tensor(-100L);
    Tensor weight = torch.rand(classes) * 1.8f + 0.2f;
    Tensor probs = torch.softmax(torch.randn(batch, classes), 1);
    foreach (Tensor? w in new[] { null, weight })
    foreach (float eps in new[] { 0f, 0.2f })
    {
        float[]? wv = w is null ? null : Data(w);
        Case(0, r, x, padded, null, w, null, -100, false, eps,
            t => F.cross_entropy(t, padded, w, ignore_index: -100, reduction: Torch(r), label_smoothing: eps),
            new MG.CrossEntropyLoss(wv, reduction: r, labelSmoothing: eps));
        Case(1, r, x, null, probs, w, null, -100, false, eps,
            t => F.cross_entropy(t, probs, w, reduction: Torch(r), label_smoothing: eps),
            new MG.CrossEntropyLoss(wv, reduction: r, labelSmoothing: eps));
        if (eps == 0)
        {
            Tensor logp = F.log_softmax(x, 1);
            // TorchSharp's nll_loss has no ignore_index argument; libtorch's default, -100, is the one the padded rows use.
            Case(2, r, logp, padded, null, w, null, -100, false, 0,
                t => F.nll_loss(t, padded, w, reduction: Torch(r)), new MG.NllLoss(wv, reduction: r));
            // ignore_index a real class (0); with one class every row would be ignored, where libtorch's mean is NaN
            // (0/0) and ModelGen's 0 by design.
            if (classes > 1) Case(0, r, x, labels, null, w, null, 0, false, 0,
                t => F.cross_entropy(t, labels, w, ignore_index: 0, reduction: Torch(r)), new MG.CrossEntropyLoss(wv, ignoreIndex: 0, reduction: r));
        }
    }

    Tensor binary = torch.rand(batch, classes);
    Tensor pos = torch.rand(classes) * 3.5f + 0.5f;
    foreach ((Tensor? w, Tensor? pw) in new[] { ((Tensor?)null, (Tensor?)null), (weight, null), (null, pos), (weight, pos) })
        Case(3, r, x, null, binary, w, pw, -100, false, 0,
            t => F.binary_cross_entropy_with_logits(t, binary, w, Torch(r), pw),
            new MG.BinaryCrossEntropyWithLogitsLoss(w is null ? null : Data(w), r, pw is null ? null : Data(pw)));
    Tensor target = torch.randn(batch, classes) * 2;
    Case(4, r, x, null, target, null, null, -100, false, 0, t => F.mse_loss(t, target, Torch(r)), new MG.MeanSquaredErrorLoss(r));
    Case(5, r, x, null, target, null, null, -100, false, 0, t => F.l1_loss(t, target, Torch(r)), new MG.L1Loss(r));
    foreach (float beta in new[] { 1f, 0.5f, 0f })
        Case(6, r, x, null, target, null, null, -100, false, beta, t => F.smooth_l1_loss(t, target, Torch(r), beta), new MG.SmoothL1Loss(r, beta));
    foreach (float delta in new[] { 1f, 0.7f })
        Case(7, r, x, null, target, null, null, -100, false, delta, t => F.huber_loss(t, target, delta, Torch(r)), new MG.HuberLoss(r, delta));
}

foreach (int classes in new[] { 1, 3, 7, 17 })
foreach (MG.Reduction r in new[] { MG.Reduction.None, MG.Reduction.Mean, MG.Reduction.Sum, MG.Reduction.BatchMean })
foreach (bool logTarget in new[] { false, true })
{
    int batch = 4;
    Tensor input = F.log_softmax(torch.randn(batch, classes) * 2, 1);
    Tensor probs = torch.softmax(torch.randn(batch, classes) * 2, 1);
    if (!logTarget && classes > 1) probs[0, 0] = torch.tensor(0f);   // a zero target contributes 0
    Tensor target = logTarget ? probs.log() : probs;
    Case(8, r, input, null, target, null, null, -100, logTarget, 0,
        t => r == MG.Reduction.BatchMean
            ? F.kl_div(t, target, logTarget, nn.Reduction.Sum) / batch
            : F.kl_div(t, target, logTarget, Torch(r)),
        new MG.KLDivLoss(r, logTarget));
}

Console.WriteLine($"torch {torch.__version__}: {count} cases, {fixture.Count} tensors, {fixture.Values} values; " +
    $"ModelGen's largest relative difference: losses {worstLoss:E2}, gradients {worstGradient:E2}; {failures} over 1e-6");
if (outPath is not null) fixture.Write(outPath);
return failures == 0 ? 0 : 1;
