// libtorch (TorchSharp) reference values for ModelGen's non-recurrent sequence pieces: nn.Embedding with padding_idx,
// F.layer_norm (affine, weight only, not affine) and F.cross_entropy with ignore_index (with and without label
// smoothing, ignore_index -100 and a real class); and (issue 15, appended after those so their RNG draws and tensors
// stay as they were) F.group_norm, nn.InstanceNorm1d/2d (affine, track_running_stats: the running statistics and
// num_batches_tracked after a training step and the evaluation output with them), F.prelu (one slope, per channel, per
// feature) and F.log_softmax(dim=-1); then nn.BatchNorm1d/2d (momentum=None and 0.1: running statistics and
// num_batches_tracked after k training steps; evaluation-mode output and gradients); all float32 from fixed seeds. Every case's loss is
// `f(x).exp().mean()` (cross-entropy: the loss itself), so output gradients are non-uniform; the output gradient is
// recorded with retain_grad, so ModelGen's backward can be fed exactly what libtorch's autograd fed its own.
//
// Writes the fixture tests/ModelGen.Tests/Kernels/Fixtures/layers-libtorch.bin (format below; read by
// ModelGen.Tests.Kernels.TorchLayersReferenceTests) when given --out PATH, and always runs ModelGen's kernels on the
// same inputs and prints the largest differences.
//
// Fixture format (little endian): "MGLF" magic, int32 version = 1, int32 tensor count, then per tensor:
// int32 name length + UTF-8 name, byte dtype (0 = float32, 1 = int32), int32 rank, int32[rank] dims, the data.
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using K = ModelGen.Kernels;

string? outPath = null;
for (int i = 0; i < args.Length; i++)
    if (args[i] == "--out" && i + 1 < args.Length) outPath = args[++i];
    else { Console.Error.WriteLine("usage: layers-check [--out tests/ModelGen.Tests/Kernels/Fixtures/layers-libtorch.bin]"); return 2; }

var fixture = new LibtorchFixture();
void PutF(string name, Tensor t) => fixture.Add((name, false, t.shape.Select(d => (int)d).ToArray(), t.detach().contiguous().data<float>().ToArray(), null));
void PutI(string name, Tensor t) => fixture.Add((name, true, t.shape.Select(d => (int)d).ToArray(), null, t.to(ScalarType.Int64).data<long>().ToArray().Select(v => checked((int)v)).ToArray()));
void PutScalarF(string name, float v) => fixture.Add((name, false, [1], [v], null));
void PutScalarI(string name, int v) => fixture.Add((name, true, [1], null, [v]));

int failures = 0;
void Report(string what, float[] expected, ReadOnlySpan<float> actual, double tol)
{
    double max = 0;
    for (int i = 0; i < expected.Length; i++) max = Math.Max(max, Math.Abs(expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i])));
    bool ok = max <= tol && expected.Length == actual.Length;
    if (!ok) failures++;
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what,-44} max rel diff {max:E2}");
}
float[] Data(Tensor t) => t.detach().contiguous().data<float>().ToArray();
int[] Ints(Tensor t) => t.data<long>().ToArray().Select(v => (int)v).ToArray();

torch.manual_seed(20261207);

// ---- Embedding: ids [3, 5] (repeats, the padding id 2 three times), and one without padding_idx ----
foreach ((string name, int vocab, int dim, long[] idShape, int? padding) in new[]
{
    ("emb.pad", 11, 7, new long[] { 3, 5 }, (int?)2),
    ("emb.nopad", 6, 33, new long[] { 2, 5 }, null),
})
{
    Tensor ids = torch.randint(0, vocab, idShape, dtype: ScalarType.Int64);
    if (padding is int p)
    {
        ids[0, 1] = torch.tensor((long)p); ids[1, 4] = torch.tensor((long)p); ids[2, 0] = torch.tensor((long)p);
        ids[2, 3] = ids[0, 2].clone();   // a repeat besides whatever randint gave
    }
    Tensor weight0 = torch.randn(vocab, dim);
    var emb = nn.Embedding_from_pretrained(weight0.clone(), freeze: false, padding_idx: padding);
    Tensor y = emb.forward(ids);
    y.retain_grad();
    y.exp().mean().backward();
    PutI($"{name}.ids", ids); PutF($"{name}.weight", weight0); PutScalarI($"{name}.padding_idx", padding ?? -1);
    PutF($"{name}.output", y); PutF($"{name}.doutput", y.grad!); PutF($"{name}.dweight", emb.weight!.grad!);

    int[] idv = Ints(ids.flatten());
    float[] o = new float[idv.Length * dim], dw = new float[vocab * dim];
    K.EmbeddingKernels.Forward(idv, Data(weight0), o, vocab, dim);
    K.EmbeddingKernels.Backward(idv, Data(y.grad!), dw, vocab, dim, padding ?? -1);
    Report($"{name} output", Data(y), o, 0);
    Report($"{name} dweight", Data(emb.weight!.grad!), dw, 1e-6);
}

// ---- LayerNorm over the last axis ----
foreach ((string name, long[] shape, bool weight, bool bias, double eps) in new[]
{
    ("ln.affine17", new long[] { 2, 3, 17 }, true, true, 1e-5),
    ("ln.plain100", new long[] { 4, 100 }, false, false, 1e-5),
    ("ln.affine257", new long[] { 3, 257 }, true, true, 1e-3),
    ("ln.weightonly3", new long[] { 4, 3 }, true, false, 1e-5),
    ("ln.affine1", new long[] { 5, 1 }, true, true, 1e-5),
})
{
    int features = (int)shape[^1], rows = (int)(shape.Aggregate(1L, (a, b) => a * b) / features);
    Tensor x = (torch.randn(shape) * 1.5 + 0.7).requires_grad_();
    Tensor? w = weight ? (torch.rand(features) + 0.5).requires_grad_() : null;
    Tensor? b = bias ? torch.randn(features).requires_grad_() : null;
    Tensor y = F.layer_norm(x, [features], w, b, eps);
    y.retain_grad();
    y.exp().mean().backward();
    PutF($"{name}.input", x); PutScalarF($"{name}.eps", (float)eps);
    if (w is not null) PutF($"{name}.weight", w);
    if (b is not null) PutF($"{name}.bias", b);
    PutF($"{name}.output", y); PutF($"{name}.doutput", y.grad!); PutF($"{name}.dinput", x.grad!);
    if (w is not null) PutF($"{name}.dweight", w.grad!);
    if (b is not null) PutF($"{name}.dbias", b.grad!);

    float[] wv = w is null ? [] : Data(w), bv = b is null ? [] : Data(b);
    float[] o = new float[rows * features], mean = new float[rows], rstd = new float[rows], dx = new float[o.Length];
    float[] dw = new float[wv.Length], db = new float[bv.Length];
    K.LayerNormKernels.Forward(Data(x), wv, bv, o, mean, rstd, rows, features, (float)eps);
    K.LayerNormKernels.Backward(Data(y.grad!), Data(x), wv, mean, rstd, dx, dw, db, rows, features);
    Report($"{name} output", Data(y), o, 1e-5);
    Report($"{name} dinput", Data(x.grad!), dx, 1e-4);
    if (w is not null) Report($"{name} dweight", Data(w.grad!), dw, 1e-4);
    if (b is not null) Report($"{name} dbias", Data(b.grad!), db, 1e-4);
}

// ---- CrossEntropy(ignore_index), mean over the rows that are not ignored ----
foreach ((string name, int rows, int classes, int ignore, double smoothing) in new[]
{
    ("ce.ignore", 12, 7, -100, 0.0),
    ("ce.ignore.smooth", 12, 7, -100, 0.1),
    ("ce.ignore0", 10, 5, 0, 0.0),
    ("ce.seq", 15, 9, -100, 0.0),   // batch 3 × seq 5 with lengths 5, 2, 4: the padded positions labelled -100
})
{
    Tensor x = (torch.randn(rows, classes) * 3).requires_grad_();
    Tensor labels = torch.randint(0, classes, [rows], dtype: ScalarType.Int64);
    int[] ignored = name == "ce.seq" ? [7, 8, 9, 14] : name == "ce.ignore0" ? [] : [1, 4, 10];
    foreach (int r in ignored) labels[r] = torch.tensor((long)ignore);
    if (name == "ce.ignore0") { labels[2] = torch.tensor(0L); labels[7] = torch.tensor(0L); }
    Tensor loss = F.cross_entropy(x, labels, ignore_index: ignore, label_smoothing: smoothing);
    loss.backward();
    PutF($"{name}.logits", x); PutI($"{name}.labels", labels); PutScalarI($"{name}.ignore_index", ignore);
    PutScalarF($"{name}.smoothing", (float)smoothing); PutScalarF($"{name}.loss", loss.item<float>()); PutF($"{name}.dlogits", x.grad!);

    var mg = ModelGen.Loss.CrossEntropyIgnoring(ignore, (float)smoothing);
    float[] d = new float[rows * classes];
    float value = mg.Compute(Data(x), Ints(labels), default, d, rows);
    Report($"{name} loss", [loss.item<float>()], [value], 1e-5);
    Report($"{name} dlogits", Data(x.grad!), d, 1e-4);
}

// ---- GroupNorm: F.group_norm over [N, C, *] (and [N, C]) ----
foreach ((string name, long[] shape, int groups, bool affine, double eps) in new[]
{
    ("gn.affine", new long[] { 3, 6, 5, 3 }, 3, true, 1e-5),
    ("gn.plain", new long[] { 4, 8, 17 }, 2, false, 1e-5),
    ("gn.flat", new long[] { 5, 6 }, 3, true, 1e-5),
    ("gn.one", new long[] { 2, 4, 7 }, 1, true, 1e-3),
})
{
    int n = (int)shape[0], c = (int)shape[1], spatial = (int)(shape.Skip(2).Aggregate(1L, (a, b) => a * b));
    Tensor x = (torch.randn(shape) * 1.5 + 0.7).requires_grad_();
    Tensor? w = affine ? (torch.rand(c) + 0.5).requires_grad_() : null;
    Tensor? b = affine ? torch.randn(c).requires_grad_() : null;
    Tensor y = F.group_norm(x, groups, w, b, eps);
    y.retain_grad();
    y.exp().mean().backward();
    PutF($"{name}.input", x); PutScalarI($"{name}.groups", groups); PutScalarF($"{name}.eps", (float)eps);
    if (affine) { PutF($"{name}.weight", w!); PutF($"{name}.bias", b!); }
    PutF($"{name}.output", y); PutF($"{name}.doutput", y.grad!); PutF($"{name}.dinput", x.grad!);
    if (affine) { PutF($"{name}.dweight", w!.grad!); PutF($"{name}.dbias", b!.grad!); }

    float[] wv = affine ? Data(w!) : [], bv = affine ? Data(b!) : [];
    float[] o = new float[n * c * spatial], mean = new float[n * groups], rstd = new float[n * groups], dx = new float[o.Length];
    float[] dw = new float[wv.Length], db = new float[bv.Length];
    K.GroupNormKernels.Forward(Data(x), wv, bv, o, mean, rstd, n, c, spatial, groups, (float)eps);
    K.GroupNormKernels.Backward(Data(y.grad!), Data(x), wv, mean, rstd, dx, dw, db, n, c, spatial, groups);
    Report($"{name} output", Data(y), o, 1e-5);
    Report($"{name} dinput", Data(x.grad!), dx, 1e-4);
    if (affine) { Report($"{name} dweight", Data(w!.grad!), dw, 1e-4); Report($"{name} dbias", Data(b!.grad!), db, 1e-4); }
}

// ---- InstanceNorm1d/2d modules: one training step (batch statistics, running statistics updated), then eval ----
foreach ((string name, long[] shape, bool affine, bool track, double momentum) in new[]
{
    ("in2.tracked", new long[] { 3, 4, 5, 3 }, true, true, 0.1),
    ("in1.plain", new long[] { 4, 3, 17 }, false, false, 0.1),
    ("in1.tracked", new long[] { 2, 5, 33 }, false, true, 0.3),
    ("in2.affine", new long[] { 2, 3, 4, 4 }, true, false, 0.1),
})
{
    int n = (int)shape[0], c = (int)shape[1], spatial = (int)(shape.Skip(2).Aggregate(1L, (a, b) => a * b));
    nn.Module<Tensor, Tensor> module = shape.Length == 3
        ? nn.InstanceNorm1d(c, 1e-5, momentum, affine, track)
        : nn.InstanceNorm2d(c, 1e-5, momentum, affine, track);
    var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
    var buffers = module.named_buffers().ToDictionary(p => p.name, p => p.buffer);
    using (torch.no_grad())
    {
        if (affine) { parameters["weight"].copy_(torch.rand(c) + 0.5); parameters["bias"].copy_(torch.randn(c)); }
        if (track) { buffers["running_mean"].copy_(torch.randn(c) * 0.3); buffers["running_var"].copy_(torch.rand(c) + 0.5); }
    }
    if (affine) { PutF($"{name}.weight", parameters["weight"]); PutF($"{name}.bias", parameters["bias"]); }
    if (track) { PutF($"{name}.running_mean0", buffers["running_mean"]); PutF($"{name}.running_var0", buffers["running_var"]); }
    float[] rm = track ? Data(buffers["running_mean"]) : [], rv = track ? Data(buffers["running_var"]) : [];   // copies, before the step
    PutScalarF($"{name}.momentum", (float)momentum);
    Tensor x = (torch.randn(shape) * 1.5 + 0.7).requires_grad_();
    module.train();
    Tensor y = module.forward(x);
    y.retain_grad();
    y.exp().mean().backward();
    PutF($"{name}.input", x); PutF($"{name}.output", y); PutF($"{name}.doutput", y.grad!); PutF($"{name}.dinput", x.grad!);
    if (affine) { PutF($"{name}.dweight", parameters["weight"].grad!); PutF($"{name}.dbias", parameters["bias"].grad!); }
    if (track)
    {
        PutF($"{name}.running_mean", buffers["running_mean"]); PutF($"{name}.running_var", buffers["running_var"]);
        PutScalarI($"{name}.num_batches_tracked", checked((int)buffers["num_batches_tracked"].item<long>()));   // registered, but InstanceNorm never advances it: 0
    }
    module.eval();
    Tensor evalOut;
    using (torch.no_grad()) evalOut = module.forward(x);
    PutF($"{name}.eval_output", evalOut);

    float[] wv = affine ? Data(parameters["weight"]) : [], bv = affine ? Data(parameters["bias"]) : [];
    float[] o = new float[n * c * spatial], mean = new float[n * c], rstd = new float[n * c], dx = new float[o.Length], e = new float[o.Length];
    float[] dw = new float[wv.Length], db = new float[bv.Length];
    if (track)
    {
        K.GroupNormKernels.InstanceTrainForward(Data(x), wv, bv, o, mean, rstd, rm, rv, n, c, spatial, 1e-5f, (float)momentum);
        K.BatchNormKernels.InferenceForward(Data(x), e, wv, bv, rm, rv, n, c, spatial, 1e-5f);
        Report($"{name} running_mean", Data(buffers["running_mean"]), rm, 1e-5);
        Report($"{name} running_var", Data(buffers["running_var"]), rv, 1e-5);
    }
    else
    {
        K.GroupNormKernels.Forward(Data(x), wv, bv, o, mean, rstd, n, c, spatial, c, 1e-5f);
        K.GroupNormKernels.Forward(Data(x), wv, bv, e, [], [], n, c, spatial, c, 1e-5f);
    }
    K.GroupNormKernels.Backward(Data(y.grad!), Data(x), wv, mean, rstd, dx, dw, db, n, c, spatial, c);
    Report($"{name} output", Data(y), o, 1e-5);
    Report($"{name} eval output", Data(evalOut), e, 1e-5);
    Report($"{name} dinput", Data(x.grad!), dx, 1e-4);
    if (affine) { Report($"{name} dweight", Data(parameters["weight"].grad!), dw, 1e-4); Report($"{name} dbias", Data(parameters["bias"].grad!), db, 1e-4); }
}

// ---- PReLU: F.prelu with one slope, per channel of [N, C, H, W], per feature of [N, F] ----
foreach ((string name, long[] shape, int slopes) in new[]
{
    ("prelu.shared", new long[] { 3, 4, 5 }, 1),
    ("prelu.channels", new long[] { 3, 4, 5, 3 }, 4),
    ("prelu.features", new long[] { 5, 33 }, 33),
})
{
    int channels = slopes == 1 ? 1 : (int)shape[1], spatial = slopes == 1 ? 1 : (int)(shape.Skip(2).Aggregate(1L, (a, b) => a * b));
    Tensor x = (torch.randn(shape) * 1.5).requires_grad_();
    Tensor w = (torch.rand(slopes) * 2 - 0.5).requires_grad_();
    Tensor y = F.prelu(x, w);
    y.retain_grad();
    y.exp().mean().backward();
    PutF($"{name}.input", x); PutF($"{name}.weight", w); PutF($"{name}.output", y); PutF($"{name}.doutput", y.grad!);
    PutF($"{name}.dinput", x.grad!); PutF($"{name}.dweight", w.grad!);

    float[] o = new float[x.NumberOfElements], dx = new float[o.Length], dw = new float[slopes];
    K.PReLUKernels.Forward(Data(x), Data(w), o, channels, spatial);
    K.PReLUKernels.Backward(Data(y.grad!), Data(x), Data(w), dx, dw, channels, spatial);
    Report($"{name} output", Data(y), o, 1e-5);
    Report($"{name} dinput", Data(x.grad!), dx, 1e-4);
    Report($"{name} dweight", Data(w.grad!), dw, 1e-4);
}

// ---- LogSoftmax over the last axis ----
foreach ((string name, long[] shape, double scale) in new[] { ("lsm.rows", new long[] { 4, 17 }, 3.0), ("lsm.3d", new long[] { 2, 3, 7 }, 30.0) })
{
    int cols = (int)shape[^1], rows = (int)(shape.Aggregate(1L, (a, b) => a * b) / cols);
    Tensor x = (torch.randn(shape) * scale).requires_grad_();
    Tensor y = F.log_softmax(x, -1);
    y.retain_grad();
    y.exp().mean().backward();
    PutF($"{name}.input", x); PutF($"{name}.output", y); PutF($"{name}.doutput", y.grad!); PutF($"{name}.dinput", x.grad!);

    float[] o = new float[rows * cols], dx = new float[o.Length];
    K.Softmax.LogForward(Data(x), o, rows, cols);
    K.Softmax.LogBackward(Data(y.grad!), o, dx, rows, cols);
    Report($"{name} output", Data(y), o, 1e-5);
    Report($"{name} dinput", Data(x.grad!), dx, 1e-4);
}

// ---- BatchNorm: running statistics after k training-mode steps (momentum=None: the cumulative average, and 0.1), with
// num_batches_tracked; then evaluation-mode output and gradients (running statistics as constants). Last in the file, so
// the sections above draw the same numbers as before. bn.none1d is [5, 3], the shape of the tests' CumulativeBatchNorm
// model, which TorchLayersReferenceTests runs end to end on these tensors. TorchSharp's BatchNorm modules take no
// momentum=None, so this is what nn.BatchNorm's forward does in PyTorch: num_batches_tracked += 1 in training mode, the
// factor 1/num_batches_tracked when momentum is None (else momentum), then libtorch's F.batch_norm.
foreach ((string name, int channels, long[] spatialShape, double? momentum, int[] batches) in new (string, int, long[], double?, int[])[]
{
    ("bn.none1d", 5, [3], null, [2, 7, 1, 4]),
    ("bn.none2d", 3, [5, 7], null, [3, 1, 2]),
    ("bn.m01", 17, [], 0.1, [4, 9, 3]),
})
{
    int spatial = (int)spatialShape.Aggregate(1L, (a, b) => a * b);
    Tensor gamma = (torch.rand(channels) + 0.5).requires_grad_(), beta = torch.randn(channels).requires_grad_();
    Tensor runningMean = torch.zeros(channels), runningVar = torch.ones(channels);
    long tracked = 0;
    PutF($"{name}.weight", gamma); PutF($"{name}.bias", beta); PutScalarF($"{name}.momentum", (float)(momentum ?? -1));
    PutScalarI($"{name}.steps", batches.Length);

    float[] rm = new float[channels], rv = Enumerable.Repeat(1f, channels).ToArray(), save = new float[channels], inv = new float[channels];
    float count = 0;
    for (int k = 0; k < batches.Length; k++)
    {
        Tensor x = torch.randn([batches[k], channels, .. spatialShape]) * (1 + k) + k;
        tracked++;
        double factor = momentum ?? 1.0 / tracked;
        using (torch.no_grad()) F.batch_norm(x, runningMean, runningVar, gamma, beta, training: true, momentum: factor, eps: 1e-5);
        PutF($"{name}.step{k}.input", x);
        count += 1;   // what the generated ForwardTrain does in training mode
        K.BatchNormKernels.TrainForward(Data(x), new float[x.numel()], Data(gamma), Data(beta), rm, rv, save, inv,
            batches[k], channels, spatial, 1e-5f, momentum is double m ? (float)m : 1f / count);
    }
    PutF($"{name}.running_mean", runningMean); PutF($"{name}.running_var", runningVar); PutScalarI($"{name}.num_batches_tracked", checked((int)tracked));
    Report($"{name} running_mean after {batches.Length} steps", Data(runningMean), rm, 1e-5);
    Report($"{name} running_var after {batches.Length} steps", Data(runningVar), rv, 1e-5);
    Report($"{name} num_batches_tracked", [tracked], [count], 0);

    int batch = 3;
    Tensor xe = (torch.randn([batch, channels, .. spatialShape]) * 2 + 0.5).requires_grad_();
    Tensor ye = F.batch_norm(xe, runningMean, runningVar, gamma, beta, training: false, momentum: 0.1, eps: 1e-5);
    ye.retain_grad();
    ye.exp().mean().backward();
    PutF($"{name}.eval.input", xe); PutF($"{name}.eval.output", ye); PutF($"{name}.eval.doutput", ye.grad!);
    PutF($"{name}.eval.dinput", xe.grad!); PutF($"{name}.eval.dweight", gamma.grad!); PutF($"{name}.eval.dbias", beta.grad!);

    int n = batch * channels * spatial;
    float[] o = new float[n], dx = new float[n], dg = new float[channels], db = new float[channels];
    K.BatchNormKernels.EvalForward(Data(xe), o, Data(gamma), Data(beta), Data(runningMean), Data(runningVar), save, inv, batch, channels, spatial, 1e-5f);
    K.BatchNormKernels.EvalBackward(Data(ye.grad!), Data(xe), Data(gamma), save, inv, dg, db, dx, batch, channels, spatial);
    Report($"{name} eval output", Data(ye), o, 1e-5);
    Report($"{name} eval dinput", Data(xe.grad!), dx, 1e-4);
    Report($"{name} eval dweight", Data(gamma.grad!), dg, 1e-4);
    Report($"{name} eval dbias", Data(beta.grad!), db, 1e-4);
}

Console.WriteLine($"torch {torch.__version__}, {fixture.Count} tensors, {fixture.Values} values");
if (outPath is not null) fixture.Write(outPath);
return failures == 0 ? 0 : 1;
