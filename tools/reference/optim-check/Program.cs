// Cross-check of ModelGen's losses/optimizers/clipping/schedules against libtorch (TorchSharp), float32.
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using MG = ModelGen;

int failures = 0;
void Report(string what, float[] expected, float[] actual, double tol)
{
    double max = 0;
    for (int i = 0; i < expected.Length; i++) max = Math.Max(max, Math.Abs(expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i])));
    bool ok = max <= tol && expected.Length == actual.Length;
    if (!ok) failures++;
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what,-58} max rel diff {max:E2}");
}
var rng = new MG.Rng(77);
float[] Rand(int n, float scale) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = scale * (2 * rng.NextFloat() - 1); return a; }

// ---- losses ----
foreach (int width in new[] { 1, 3, 10, 17, 33 })
foreach (float eps in new[] { 0f, 0.1f, 0.7f })
{
    int batch = 5;
    float[] x = Rand(batch * width, 5);
    if (width == 17) for (int i = 0; i < x.Length; i += 3) x[i] = (i % 2 == 0) ? 1e4f : -1e4f;
    int[] labels = new int[batch]; for (int b = 0; b < batch; b++) labels[b] = rng.NextInt(width);
    var xt = torch.tensor(x, new long[] { batch, width }, requires_grad: true);
    var yt = torch.tensor(labels.Select(v => (long)v).ToArray());
    var loss = F.cross_entropy(xt, yt, label_smoothing: eps);
    loss.backward();
    var d = new float[x.Length];
    float mg = MG.Loss.CrossEntropyWithLabelSmoothing(eps).Compute(x, labels, default, d, batch);
    Report($"CE width {width} eps {eps} loss", [loss.item<float>()], [mg], 2e-6);
    Report($"CE width {width} eps {eps} grad", xt.grad!.data<float>().ToArray(), d, 1e-6);
}
foreach (int n in new[] { 1, 3, 10, 17, 33, 70 })
{
    float[] x = Rand(n * 2, 8), t = Rand(n * 2, 1).Select(Math.Abs).ToArray();
    x[0] = 1e4f; if (n > 1) x[1] = -1e4f;
    var xt = torch.tensor(x, requires_grad: true); var tt = torch.tensor(t);
    var l1 = F.mse_loss(xt, tt); l1.backward();
    var d = new float[x.Length];
    float mg = MG.Loss.MeanSquaredError.Compute(x, default, t, d, 2);
    Report($"MSE n {2 * n} loss", [l1.item<float>()], [mg], 2e-6);
    Report($"MSE n {2 * n} grad", xt.grad!.data<float>().ToArray(), d, 1e-6);
    var xt2 = torch.tensor(x, requires_grad: true);
    var l2 = F.binary_cross_entropy_with_logits(xt2, tt); l2.backward();
    mg = MG.Loss.BinaryCrossEntropyWithLogits.Compute(x, default, t, d, 2);
    Report($"BCEWithLogits n {2 * n} loss", [l2.item<float>()], [mg], 2e-6);
    Report($"BCEWithLogits n {2 * n} grad", xt2.grad!.data<float>().ToArray(), d, 1e-6);
}

// ---- optimizers: 5 steps on 37 elements (all tiers), a fresh gradient each step ----
float[] p0 = Rand(37, 1);
float[][] grads = Enumerable.Range(0, 5).Select(_ => Rand(37, 0.5f)).ToArray();
// Large first gradients, then small ones: the second moment shrinks, where AMSGrad differs from Adam.
float[][] shrinking = Enumerable.Range(0, 5).Select(k => Rand(37, k == 0 ? 2f : 0.05f)).ToArray();
void CompareOptimizer(string what, Func<IEnumerable<TorchSharp.Modules.Parameter>, torch.optim.Optimizer> makeTorch, MG.Optimizer mg, float[][]? gradients = null)
{
    var p = new TorchSharp.Modules.Parameter(torch.tensor(p0));
    var opt = makeTorch(new[] { p });
    var mine = (float[])p0.Clone();
    foreach (var g in gradients ?? grads)
    {
        opt.zero_grad();
        using (torch.no_grad()) { }
        p.grad = torch.tensor(g);
        opt.step();
        mg.Step(mine, g);
    }
    Report(what, p.data<float>().ToArray(), mine, 2e-6);
}
CompareOptimizer("SGD lr 0.1", ps => torch.optim.SGD(ps, 0.1), new MG.Sgd(0.1f));
CompareOptimizer("SGD lr 0.1 wd 0.05", ps => torch.optim.SGD(ps, 0.1, weight_decay: 0.05), new MG.Sgd(0.1f, weightDecay: 0.05f));
CompareOptimizer("SGD momentum 0.9 dampening 0.3 wd 0.01", ps => torch.optim.SGD(ps, 0.05, momentum: 0.9, dampening: 0.3, weight_decay: 0.01), new MG.Sgd(0.05f, 0.9f, 0.3f, 0.01f));
CompareOptimizer("SGD nesterov 0.9 wd 0.01", ps => torch.optim.SGD(ps, 0.05, momentum: 0.9, weight_decay: 0.01, nesterov: true), new MG.Sgd(0.05f, 0.9f, 0f, 0.01f, true));
CompareOptimizer("Adam defaults lr 0.01", ps => torch.optim.Adam(ps, 0.01), new MG.Adam(0.01f));
CompareOptimizer("Adam betas (0.5, 0.9) eps 1e-3 wd 0.1", ps => torch.optim.Adam(ps, 0.05, beta1: 0.5, beta2: 0.9, eps: 1e-3, weight_decay: 0.1), new MG.Adam(0.05f, 0.5f, 0.9f, 1e-3f, 0.1f));
CompareOptimizer("AdamW lr 0.01 wd 0.01 (PyTorch default wd)", ps => torch.optim.AdamW(ps, 0.01, weight_decay: 0.01), new MG.AdamW(0.01f));
CompareOptimizer("AdamW wd 0 vs TorchSharp default", ps => torch.optim.AdamW(ps, 0.01), new MG.AdamW(0.01f, weightDecay: 0f));
CompareOptimizer("AdamW wd 0.3 lr 0.05", ps => torch.optim.AdamW(ps, 0.05, weight_decay: 0.3), new MG.AdamW(0.05f, weightDecay: 0.3f));
CompareOptimizer("Adam amsgrad betas (0.9, 0.9) wd 0.1, shrinking gradients", ps => torch.optim.Adam(ps, 0.01, beta1: 0.9, beta2: 0.9, weight_decay: 0.1, amsgrad: true),
    new MG.Adam(0.01f, 0.9f, 0.9f, weightDecay: 0.1f, amsgrad: true), shrinking);
CompareOptimizer("AdamW amsgrad wd 0.01, shrinking gradients", ps => torch.optim.AdamW(ps, 0.01, weight_decay: 0.01, amsgrad: true),
    new MG.AdamW(0.01f, amsgrad: true), shrinking);
CompareOptimizer("RMSprop defaults", ps => torch.optim.RMSProp(ps), new MG.RmsProp());
CompareOptimizer("RMSprop alpha 0.9 eps 1e-6 wd 0.1 momentum 0.8 centered", ps => torch.optim.RMSProp(ps, 0.01, alpha: 0.9, eps: 1e-6, weight_decay: 0.1, momentum: 0.8, centered: true),
    new MG.RmsProp(0.01f, 0.9f, 1e-6f, 0.1f, 0.8f, true));
CompareOptimizer("RMSprop momentum 0.5, shrinking gradients", ps => torch.optim.RMSProp(ps, 0.02, momentum: 0.5), new MG.RmsProp(0.02f, momentum: 0.5f), shrinking);
CompareOptimizer("RMSprop centered, shrinking gradients", ps => torch.optim.RMSProp(ps, 0.02, centered: true), new MG.RmsProp(0.02f, centered: true), shrinking);
CompareOptimizer("Adagrad defaults", ps => torch.optim.Adagrad(ps), new MG.Adagrad());
CompareOptimizer("Adagrad lr_decay 0.05 wd 0.1 init 0.2 eps 1e-6", ps => torch.optim.Adagrad(ps, 0.1, lr_decay: 0.05, weight_decay: 0.1, initial_accumulator_value: 0.2, eps: 1e-6),
    new MG.Adagrad(0.1f, 0.05f, 0.1f, 0.2f, 1e-6f));

// ---- clipping ----
{
    float[] g = Rand(1001, 2);
    var p = new TorchSharp.Modules.Parameter(torch.zeros(1001));
    p.grad = torch.tensor(g);
    double total = torch.nn.utils.clip_grad_norm_(new[] { p }, 3.0);
    var mine = (float[])g.Clone();
    float mgTotal = MG.GradientClipping.ClipByGlobalNorm(mine, 3f);
    Report("clip_grad_norm_ total", [(float)total], [mgTotal], 1e-6);
    Report("clip_grad_norm_ gradients", p.grad!.data<float>().ToArray(), mine, 1e-6);
}

// ---- schedules (factor = lr / base lr, base 1) ----
{
    var p = new TorchSharp.Modules.Parameter(torch.zeros(1));
    var opt = torch.optim.SGD(new[] { p }, 1.0);
    var sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 50, eta_min: 0.1);
    var expected = new List<float>(); var actual = new List<float>();
    for (int t = 0; t < 50; t++) { expected.Add((float)opt.ParamGroups.First().LearningRate); actual.Add(MG.Schedule.Cosine(0.1f).Factor(t, 50)); opt.step(); sched.step(); }
    Report("CosineAnnealingLR(T_max 50, eta_min 0.1)", expected.ToArray(), actual.ToArray(), 1e-6);
    var opt2 = torch.optim.SGD(new[] { p }, 1.0);
    var sched2 = torch.optim.lr_scheduler.StepLR(opt2, 7, 0.5);
    expected.Clear(); actual.Clear();
    for (int t = 0; t < 30; t++) { expected.Add((float)opt2.ParamGroups.First().LearningRate); actual.Add(MG.Schedule.StepDecay(7, 0.5f).Factor(t, 30)); opt2.step(); sched2.step(); }
    Report("StepLR(step_size 7, gamma 0.5)", expected.ToArray(), actual.ToArray(), 1e-6);

    // The torch.optim.lr_scheduler ports, as PyTorch steps them: read the rate, step, scheduler.step().
    void CompareSchedule(string what, int n, Func<torch.optim.Optimizer, object> make, MG.Schedule mine, int stepsPerEpoch = 1)
    {
        var o = torch.optim.SGD(new[] { p }, 1.0);
        var s = (dynamic)make(o);
        var e = new List<float>(); var a = new List<float>();
        for (int t = 0; t < n; t++) { e.Add((float)o.ParamGroups.First().LearningRate); a.Add(mine.Factor(t * stepsPerEpoch, n * stepsPerEpoch, stepsPerEpoch)); o.step(); s.step(); }
        Report(what, e.ToArray(), a.ToArray(), 1e-6);
    }
    CompareSchedule("ExponentialLR(0.93)", 60, o => torch.optim.lr_scheduler.ExponentialLR(o, 0.93), MG.Schedule.Exponential(0.93f));
    CompareSchedule("ExponentialLR(0.93) per epoch, 7 steps each", 30, o => torch.optim.lr_scheduler.ExponentialLR(o, 0.93), MG.Schedule.Exponential(0.93f).PerEpoch(), 7);
    CompareSchedule("LinearLR(0.05, 1.0, 17)", 40, o => torch.optim.lr_scheduler.LinearLR(o, 0.05, 1.0, 17), MG.Schedule.Linear(0.05f, 1f, 17));
    CompareSchedule("PolynomialLR(23, power 3)", 40, o => torch.optim.lr_scheduler.PolynomialLR(o, 23, 3), MG.Schedule.Polynomial(23, 3f));
    CompareSchedule("OneCycleLR(total 97)", 97, o => torch.optim.lr_scheduler.OneCycleLR(o, 1.0, total_steps: 97, cycle_momentum: false), MG.Schedule.OneCycle());
    CompareSchedule("OneCycleLR(total 101, pct 0.4, three_phase)", 101,
        o => torch.optim.lr_scheduler.OneCycleLR(o, 1.0, total_steps: 101, pct_start: 0.4, three_phase: true, cycle_momentum: false), MG.Schedule.OneCycle(0.4f, threePhase: true));
    CompareSchedule("SequentialLR([LinearLR(0.01, 1, 10), ExponentialLR(0.9)], [10])", 40,
        o => torch.optim.lr_scheduler.SequentialLR(o, [torch.optim.lr_scheduler.LinearLR(o, 0.01, 1.0, 10), torch.optim.lr_scheduler.ExponentialLR(o, 0.9)], [10]),
        MG.Schedule.Sequential([MG.Schedule.Linear(0.01f, 1f, 10), MG.Schedule.Exponential(0.9f)], [10]));
}
Console.WriteLine($"torch {torch.__version__}: {failures} failure(s)");
return failures;
