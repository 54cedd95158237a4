// Prints libtorch reference values for ModelGen.Tests.Training.TorchReferenceTests.
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

float[] p0 = [0.5f, -1.25f, 2.0f, 0.0f, -0.75f];
float[][] grads = [[0.1f, -0.2f, 0.3f, -0.4f, 0.05f], [-0.3f, 0.1f, 0.25f, 0.2f, -0.5f], [0.2f, 0.2f, -0.1f, 0.6f, 0.0f]];
string Fmt(IEnumerable<float> v) => "[" + string.Join(", ", v.Select(x => x.ToString("R") + "f")) + "]";
// Large then small gradients: the second moment shrinks, which is where AMSGrad's running maximum differs from Adam.
float[][] shrinking = [[1.0f, -2.0f, 0.5f, 0.3f, -1.0f], [0.01f, 0.02f, -0.01f, 0.0f, 0.05f], [0.02f, -0.01f, 0.0f, 0.01f, 0.03f], [-0.05f, 0.01f, 0.02f, -0.02f, 0.0f]];
void Run(string name, Func<TorchSharp.Modules.Parameter[], torch.optim.Optimizer> make, float[][]? gradients = null)
{
    var p = new TorchSharp.Modules.Parameter(torch.tensor(p0));
    var opt = make([p]);
    foreach (var g in gradients ?? grads) { p.grad = torch.tensor(g); opt.step(); }
    Console.WriteLine($"{name}: {Fmt(p.data<float>().ToArray())}");
}
Run("SGD(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)", ps => torch.optim.SGD(ps, 0.05, momentum: 0.9, dampening: 0.3, weight_decay: 0.01));
Run("SGD(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)", ps => torch.optim.SGD(ps, 0.05, momentum: 0.9, weight_decay: 0.01, nesterov: true));
Run("Adam(lr=0.01, weight_decay=0.1)", ps => torch.optim.Adam(ps, 0.01, weight_decay: 0.1));
Run("AdamW(lr=0.01, weight_decay=0.01)", ps => torch.optim.AdamW(ps, 0.01, weight_decay: 0.01));
Run("Adam(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1, amsgrad=True) shrinking", ps => torch.optim.Adam(ps, 0.01, beta1: 0.9, beta2: 0.9, weight_decay: 0.1, amsgrad: true), shrinking);
Run("Adam(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1) shrinking", ps => torch.optim.Adam(ps, 0.01, beta1: 0.9, beta2: 0.9, weight_decay: 0.1), shrinking);
Run("AdamW(lr=0.01, betas=(0.9, 0.9), weight_decay=0.01, amsgrad=True) shrinking", ps => torch.optim.AdamW(ps, 0.01, beta1: 0.9, beta2: 0.9, weight_decay: 0.01, amsgrad: true), shrinking);
Run("RMSprop()", ps => torch.optim.RMSProp(ps));
Run("RMSprop(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.8, centered=True)",
    ps => torch.optim.RMSProp(ps, 0.01, alpha: 0.9, eps: 1e-6, weight_decay: 0.1, momentum: 0.8, centered: true));
Run("RMSprop(lr=0.02, momentum=0.5)", ps => torch.optim.RMSProp(ps, 0.02, momentum: 0.5));
Run("RMSprop(lr=0.02, centered=True)", ps => torch.optim.RMSProp(ps, 0.02, centered: true));
Run("Adagrad()", ps => torch.optim.Adagrad(ps));
Run("Adagrad(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-6)",
    ps => torch.optim.Adagrad(ps, 0.1, lr_decay: 0.05, weight_decay: 0.1, initial_accumulator_value: 0.2, eps: 1e-6));

float[] logits = [2.0f, -1.0f, 0.5f, 3.0f, -2.5f, 0.0f, 1.5f, -0.5f, 1e4f, -1e4f];
var x = torch.tensor(logits, new long[] { 2, 5 }, requires_grad: true);
var loss = F.cross_entropy(x, torch.tensor(new long[] { 3, 1 }), label_smoothing: 0.1);
loss.backward();
Console.WriteLine($"cross_entropy(label_smoothing=0.1): {loss.item<float>():R} grad {Fmt(x.grad!.data<float>().ToArray())}");
float[] targets = [1f, 0f, 0.25f, 1f, 0f, 0.5f, 1f, 0f, 1f, 1f];
var xb = torch.tensor(logits, requires_grad: true);
var lb = F.binary_cross_entropy_with_logits(xb, torch.tensor(targets));
lb.backward();
Console.WriteLine($"binary_cross_entropy_with_logits: {lb.item<float>():R} grad {Fmt(xb.grad!.data<float>().ToArray())}");
Console.WriteLine($"torch {torch.__version__}");

// Learning-rate schedules: TorchSharp's ports of torch.optim.lr_scheduler, the rate before each of n steps divided by the
// base rate (OneCycleLR: by max_lr), as ModelGen's Schedule.Factor reports it.
void Lrs(string name, int n, Func<torch.optim.Optimizer, object> make, double baseLr = 0.1, float[]? metrics = null)
{
    var p = new TorchSharp.Modules.Parameter(torch.tensor(p0));
    var opt = torch.optim.SGD([p], baseLr);
    var sched = make(opt);
    var factors = new List<float>();
    for (int t = 0; t < n; t++)
    {
        factors.Add((float)(opt.ParamGroups.First().LearningRate / baseLr));
        p.grad = torch.zeros_like(p);
        opt.step();
        if (metrics is null) ((dynamic)sched).step(); else ((dynamic)sched).step(metrics[t]);
    }
    Console.WriteLine($"{name}: {Fmt(factors)}");
}
Lrs("ExponentialLR(gamma=0.9)", 8, o => torch.optim.lr_scheduler.ExponentialLR(o, 0.9));
Lrs("LinearLR()", 8, o => torch.optim.lr_scheduler.LinearLR(o));
Lrs("LinearLR(start_factor=1.0, end_factor=0.1, total_iters=4)", 8, o => torch.optim.lr_scheduler.LinearLR(o, 1.0, 0.1, 4));
Lrs("PolynomialLR()", 8, o => torch.optim.lr_scheduler.PolynomialLR(o));
Lrs("PolynomialLR(total_iters=6, power=2)", 8, o => torch.optim.lr_scheduler.PolynomialLR(o, 6, 2));
Lrs("OneCycleLR(max_lr=0.1, total_steps=20)", 20, o => torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps: 20, cycle_momentum: false));
Lrs("OneCycleLR(max_lr=0.1, total_steps=23, pct_start=0.25, anneal_strategy='linear', three_phase=True)", 23,
    o => torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps: 23, pct_start: 0.25, anneal_strategy: torch.optim.lr_scheduler.impl.OneCycleLR.AnnealStrategy.Linear, three_phase: true, cycle_momentum: false));
Lrs("SequentialLR([LinearLR(0.1, 1.0, 3), ExponentialLR(0.8)], milestones=[3])", 8,
    o => torch.optim.lr_scheduler.SequentialLR(o, [torch.optim.lr_scheduler.LinearLR(o, 0.1, 1.0, 3), torch.optim.lr_scheduler.ExponentialLR(o, 0.8)], [3]));
float[] plateauMetrics = [1.0f, 0.9f, 0.95f, 0.91f, 0.92f, 0.93f, 0.5f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f];
Lrs("ReduceLROnPlateau(patience=2, cooldown=1, min_lr=0.0005)", plateauMetrics.Length,
    o => torch.optim.lr_scheduler.ReduceLROnPlateau(o, patience: 2, cooldown: 1, min_lr: [0.0005]), 0.1, plateauMetrics);
Lrs("ReduceLROnPlateau(mode='max', factor=0.5, patience=1, threshold=0.05, threshold_mode='abs')", plateauMetrics.Length,
    o => torch.optim.lr_scheduler.ReduceLROnPlateau(o, "max", 0.5, 1, 0.05, "abs"), 0.1, plateauMetrics);
