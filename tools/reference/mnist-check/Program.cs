// MNIST accuracy cross-check: trains the sample's 784-256-128-10 MLP with ModelGen's Trainer and with libtorch
// (TorchSharp, float32, 1 thread) from the same initial weights on the same batches (ModelGen's BatchLoader with the
// same seed and augmentation, so every batch is pixel-identical), then compares them step by step and epoch by epoch.
// If both land on the same accuracy, ModelGen's numerics are faithful and any gap to other references is the recipe.
//
//   dotnet run -c Release --project tools/reference/mnist-check -- [check|variants] [--seeds 1,2,3] [--epochs 20]
//
// "check" (default): one-step gradients, 50-step parameter drift, then full runs per seed on both engines.
// "variants": ModelGen runs of recipe variants (init, schedule, augmentation) over the seeds; see Variants below.
using System.Diagnostics;
using System.Globalization;
using MnistCheck;
using ModelGen;
using ModelGen.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

string mode = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "check";
int[] seeds = Arg("--seeds", "1,2,3").Split(',').Select(int.Parse).ToArray();
int epochs = int.Parse(Arg("--epochs", "20"));
int shift = int.Parse(Arg("--shift", "2"));
string only = Arg("--only", "");
string dataDir = Arg("--data", Path.Combine(FindRepoRoot(), "samples", "Mnist", "data"));
const int BatchSize = 64;

torch.set_num_threads(1);
var (train, test) = ModelGen.Data.Mnist.Load(dataDir);
Console.WriteLine($"MNIST {train.Count} train / {test.Count} test from {dataDir}; batch {BatchSize}, {epochs} epochs, shift {shift}, seeds {string.Join(",", seeds)}");

switch (mode)
{
    case "check":
        StepCheck(seeds[0]);
        foreach (int seed in seeds) FullRunCheck(seed);
        break;
    case "torch-init":   // only libtorch with its own nn.Linear initialisation, per seed
        foreach (int seed in seeds)
        {
            var opts = new FitOptions { Seed = (ulong)seed, Augmentation = shift > 0 ? new RandomShift(shift) : null };
            var h = TorchMlp.FromTorchInit(seed).Fit(train, test, epochs, BatchSize, opts);
            Console.WriteLine($"libtorch, own nn.Linear init (manual_seed {seed}): final test accuracy {h[^1].TestAccuracy:F4}");
        }
        break;
    case "variants":
        Variants();
        break;
    default:
        Console.Error.WriteLine($"unknown mode '{mode}' (expected check or variants)");
        return 2;
}
return 0;

// ---------------------------------------------------------------------------------------------------------------
// One batch: gradients of both engines from the same weights; then 50 Adam steps and the parameter drift.
void StepCheck(int seed)
{
    var model = new MnistMlp(seed);
    var torchNet = new TorchMlp(model);
    var loader = new BatchLoader(train, BatchSize, shuffle: true, (ulong)seed, shift > 0 ? new RandomShift(shift) : null);
    loader.StartEpoch(0);
    loader.TryNext(out var batch);

    var output = new float[batch.Size * 10];
    var dOutput = new float[batch.Size * 10];
    model.Gradients.Clear();
    model.ForwardTrain(batch.Inputs, output, batch.Size);
    float mgLoss = Loss.CrossEntropy.Compute(output, batch.Labels, default, dOutput, batch.Size);
    model.Backward(dOutput, default);

    float tLoss = torchNet.LossAndGradients(batch.Inputs, batch.Labels, batch.Size);
    Console.WriteLine($"\n== one batch, seed {seed}: loss ModelGen {mgLoss:F7} libtorch {tLoss:F7}");
    foreach (var info in model.ParameterInfos)
    {
        var mg = model.Gradients.Slice(info.Offset, info.Length);
        var tg = torchNet.Gradient(info.Name);
        Console.WriteLine($"   grad {info.Name,-11} max |diff| / max |g| = {MaxDiff(mg, tg) / MaxAbs(tg):E2}");
    }

    // 50 steps of Adam at lr 1e-3 on the same batches (constant rate, so only the update rule matters).
    var adam = new Adam(1e-3f);
    var torchOpt = torch.optim.Adam(torchNet.Parameters, 1e-3);
    loader.StartEpoch(0);
    for (int step = 0; step < 50 && loader.TryNext(out var b); step++)
    {
        model.Gradients.Clear();
        var o = output.AsSpan(0, b.Size * 10);
        var d = dOutput.AsSpan(0, b.Size * 10);
        model.ForwardTrain(b.Inputs, o, b.Size);
        Loss.CrossEntropy.Compute(o, b.Labels, default, d, b.Size);
        model.Backward(d, default);
        adam.Step(model, model.Gradients);

        torchOpt.zero_grad();
        torchNet.LossAndGradients(b.Inputs, b.Labels, b.Size);
        torchOpt.step();
    }
    foreach (var info in model.ParameterInfos)
    {
        var mp = model.Parameters.Slice(info.Offset, info.Length);
        var tp = torchNet.Values(info.Name);
        Console.WriteLine($"   after 50 Adam steps {info.Name,-11} max |diff| = {MaxDiff(mp, tp):E2} (max |p| {MaxAbs(tp):F3})");
    }
}

// Full recipe on both engines: same initial weights, same batches, same schedule; metrics per epoch.
void FullRunCheck(int seed)
{
    var options = new FitOptions { Seed = (ulong)seed, Augmentation = shift > 0 ? new RandomShift(shift) : null };

    var model = new MnistMlp(seed);
    var torchNet = new TorchMlp(model);   // copied before ModelGen trains

    var clock = Stopwatch.StartNew();
    var trainer = new Trainer(model, new Adam(1e-3f), Loss.CrossEntropy, Schedule.Cosine());
    var history = trainer.Fit(train, epochs, BatchSize, test, options);
    double mgSeconds = clock.Elapsed.TotalSeconds;

    clock.Restart();
    var torchHistory = torchNet.Fit(train, test, epochs, BatchSize, options);
    double tSeconds = clock.Elapsed.TotalSeconds;

    Console.WriteLine($"\n== full run, seed {seed} (ModelGen {mgSeconds:F1} s, libtorch {tSeconds:F1} s)");
    Console.WriteLine("   epoch | ModelGen loss  acc     val acc | libtorch loss  acc     val acc");
    for (int e = 0; e < epochs; e++)
    {
        var m = history.Epochs[e];
        var t = torchHistory[e];
        Console.WriteLine($"   {e + 1,5} | {m.TrainLoss,12:F4} {m.TrainAccuracy,7:F4} {m.ValidationAccuracy,7:F4} | {t.TrainLoss,12:F4} {t.TrainAccuracy,7:F4} {t.TestAccuracy,7:F4}");
    }
    double maxDrift = 0;
    foreach (var info in model.ParameterInfos)
        maxDrift = Math.Max(maxDrift, MaxDiff(model.Parameters.Slice(info.Offset, info.Length), torchNet.Values(info.Name)));
    Console.WriteLine($"   final test accuracy: ModelGen {history.Epochs[^1].ValidationAccuracy:F4}  libtorch {torchHistory[^1].TestAccuracy:F4}; max |weight diff| {maxDrift:E2}");

    // libtorch's own nn.Linear initialisation (torch.manual_seed), same batches: rules out ModelGen's init draws.
    var ownInit = TorchMlp.FromTorchInit(seed).Fit(train, test, epochs, BatchSize, options);
    Console.WriteLine($"   libtorch with its own nn.Linear init (manual_seed {seed}): final test accuracy {ownInit[^1].TestAccuracy:F4}");
}

// ---------------------------------------------------------------------------------------------------------------
// Recipe variants on ModelGen (numerics shown faithful by "check"): the final test accuracy per seed and the mean.
// Each variant changes one detail of the sample's recipe that a hand-written reference could plausibly do differently.
void Variants()
{
    int stepsPerEpoch = (train.Count + BatchSize - 1) / BatchSize;
    var baseline = new Recipe(Init.Default, Schedule.Cosine(), Shift: 2, Normalize: false);
    var variants = new List<(string Name, Recipe Recipe)>
    {
        ("baseline: default init, per-step cosine, shift 2", baseline),
        ("no augmentation", baseline with { Shift = 0 }),
        ("He-uniform init, zero bias", baseline with { Init = Init.HeUniform }),
        ("He-normal init, zero bias", baseline with { Init = Init.HeNormal }),
        ("Xavier-uniform init, zero bias", baseline with { Init = Init.XavierUniform }),
        ("He-normal init, no augmentation", baseline with { Init = Init.HeNormal, Shift = 0 }),
        ("per-epoch cosine", baseline with { Schedule = new PerEpochCosine(stepsPerEpoch) }),
        ("constant learning rate", baseline with { Schedule = Schedule.Constant }),
        ("inputs standardised (0.1307, 0.3081)", baseline with { Normalize = true }),
        ("inputs standardised, no augmentation", baseline with { Normalize = true, Shift = 0 }),
        ("shift with wrap-around (np.roll)", baseline with { Wrap = true }),
        ("[Dense(Init = HeUniform)] (generated init)", baseline with { HeModel = true }),
        ("[Dense(Init = HeUniform)], no augmentation", baseline with { HeModel = true, Shift = 0 }),
        ("He-uniform init + inputs standardised", baseline with { Init = Init.HeUniform, Normalize = true }),
        ("[Dense(Init = HeUniform)] + inputs standardised", baseline with { HeModel = true, Normalize = true }),
        ("[Dense(Init = HeUniform)] + standardised, no aug", baseline with { HeModel = true, Normalize = true, Shift = 0 }),
    };
    foreach (var (name, recipe) in variants)
    {
        if (only.Length > 0 && !name.Contains(only, StringComparison.OrdinalIgnoreCase)) continue;
        var clock = Stopwatch.StartNew();
        var accs = seeds.Select(s => RunModelGen(s, recipe)).ToArray();
        Console.WriteLine($"{name,-48} {string.Join("  ", accs.Select(a => a.ToString("F4")))}   mean {accs.Average():F4}  ({clock.Elapsed.TotalSeconds / seeds.Length:F1} s/run)");
    }
}

double RunModelGen(int seed, Recipe recipe)
{
    ITrainable model = recipe.HeModel ? new MnistMlpHe(seed) : new MnistMlp(seed);
    if (recipe.Init != Init.Default) Reinitialize(model, recipe.Init, seed);
    IAugmentation? shiftAug = recipe.Shift == 0 ? null : recipe.Wrap ? new RandomRoll(recipe.Shift) : new RandomShift(recipe.Shift);
    IAugmentation? augmentation = recipe.Normalize
        ? (shiftAug is null ? new Standardize() : new Compose(shiftAug, new Standardize()))
        : shiftAug;
    var testSet = recipe.Normalize ? Standardize.Copy(test) : test;
    var trainer = new Trainer(model, new Adam(1e-3f), Loss.CrossEntropy, recipe.Schedule);
    trainer.Fit(train, epochs, BatchSize, null, new FitOptions { Seed = (ulong)seed, Augmentation = augmentation });
    return trainer.Evaluate(testSet).Accuracy;
}

static void Reinitialize(IModel model, Init init, int seed)
{
    var rng = new Rng((ulong)seed);
    foreach (var layer in model.Layers)
    {
        if (layer.Parameters.Count == 0) continue;
        var weight = layer.Parameter("weight");
        var info = layer.Parameters.First(p => p.Name.EndsWith(".weight", StringComparison.Ordinal));
        Initializers.Initialize(weight, layer.Parameter("bias"), info.Shape[1], info.Shape[0], init, rng);
    }
}

// ---------------------------------------------------------------------------------------------------------------
static double MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
{
    if (a.Length != b.Length) throw new InvalidOperationException($"length {a.Length} vs {b.Length}");
    double max = 0;
    for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
    return max;
}

static double MaxAbs(ReadOnlySpan<float> a)
{
    double max = 0;
    foreach (float v in a) max = Math.Max(max, Math.Abs(v));
    return max;
}

string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "ModelGen.sln"))) return dir.FullName;
    throw new DirectoryNotFoundException("ModelGen.sln not found above " + AppContext.BaseDirectory);
}

namespace MnistCheck
{
    /// <summary>The sample's network (samples/Mnist/Models.cs), declared again so this tool owns its generated code.</summary>
    [Model(1, 28, 28)]
    public partial class MnistMlp
    {
        [Flatten] public partial Layer Flat { get; }
        [Dense(256, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
        [Dense(128, Activation = Activation.ReLU)] public partial Layer Fc2 { get; }
        [Dense(10)] public partial Layer Fc3 { get; }
    }

    /// <summary>One recipe variant: initialisation, schedule, shift (0 = none), input standardisation, wrap-around shifts.</summary>
    public sealed record Recipe(Init Init, Schedule Schedule, int Shift, bool Normalize, bool Wrap = false, bool HeModel = false);

    /// <summary>The sample's network with He-uniform initialisation declared on every Dense layer (the generator draws it).</summary>
    [Model(1, 28, 28)]
    public partial class MnistMlpHe
    {
        [Flatten] public partial Layer Flat { get; }
        [Dense(256, Activation = Activation.ReLU, Init = Init.HeUniform)] public partial Layer Fc1 { get; }
        [Dense(128, Activation = Activation.ReLU, Init = Init.HeUniform)] public partial Layer Fc2 { get; }
        [Dense(10, Init = Init.HeUniform)] public partial Layer Fc3 { get; }
    }

    /// <summary>Cosine annealing stepped once per epoch (CosineAnnealingLR(T_max = epochs) with scheduler.step() per epoch).</summary>
    public sealed class PerEpochCosine(int stepsPerEpoch) : Schedule
    {
        public override float Factor(int step, int totalSteps)
        {
            int epochs = (totalSteps + stepsPerEpoch - 1) / stepsPerEpoch;
            return (float)(0.5 * (1 + Math.Cos(Math.PI * (step / stepsPerEpoch) / epochs)));
        }
    }

    /// <summary>torchvision's Normalize((0.1307,), (0.3081,)) applied after the shift, as in a ToTensor-RandomAffine-Normalize pipeline.</summary>
    public sealed class Standardize : IAugmentation
    {
        public const float Mean = 0.1307f, Std = 0.3081f;

        public void Apply(ReadOnlySpan<int> exampleShape, Span<float> example, Rng rng)
        {
            for (int i = 0; i < example.Length; i++) example[i] = (example[i] - Mean) / Std;
        }

        public static Dataset Copy(Dataset data)
        {
            var inputs = data.Inputs.Select(v => (v - Mean) / Std).ToArray();
            return Dataset.FromArrays(inputs, data.Labels!, data.ExampleShape, data.ClassCount);
        }
    }

    /// <summary>Random shift with wrap-around (np.roll) instead of zero fill; same draws as RandomShift.</summary>
    public sealed class RandomRoll(int maxShift) : IAugmentation
    {
        private readonly float[] _scratch = new float[784];

        public void Apply(ReadOnlySpan<int> exampleShape, Span<float> example, Rng rng)
        {
            int dy = rng.NextInt(2 * maxShift + 1) - maxShift;
            int dx = rng.NextInt(2 * maxShift + 1) - maxShift;
            example.CopyTo(_scratch);
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                    example[y * 28 + x] = _scratch[((y - dy + 28) % 28) * 28 + (x - dx + 28) % 28];
        }
    }

    /// <summary>Per-epoch metrics of the libtorch run.</summary>
    public sealed record TorchEpoch(float TrainLoss, float TrainAccuracy, float TestAccuracy);

    /// <summary>The same MLP in libtorch: plain parameter tensors named like ModelGen's, F.linear + ReLU.</summary>
    public sealed class TorchMlp
    {
        private static readonly string[] Names = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"];
        private readonly Dictionary<string, TorchSharp.Modules.Parameter> _p = new();

        private readonly List<torch.nn.Module> _keepAlive = new();   // libtorch modules whose weights were copied; not finalised mid-run

        private TorchMlp() { }

        /// <summary>Weights from libtorch's own nn.Linear reset_parameters after torch.manual_seed(seed).</summary>
        public static TorchMlp FromTorchInit(int seed)
        {
            torch.manual_seed(seed);
            var net = new TorchMlp();
            int i = 1;
            foreach (var (inputs, outputs) in new[] { (784, 256), (256, 128), (128, 10) })
            {
                var linear = torch.nn.Linear(inputs, outputs);
                net._keepAlive.Add(linear);
                net._p[$"fc{i}.weight"] = new TorchSharp.Modules.Parameter(linear.weight!.detach().clone());
                net._p[$"fc{i}.bias"] = new TorchSharp.Modules.Parameter(linear.bias!.detach().clone());
                i++;
            }
            return net;
        }

        /// <summary>Copies the initial weights of <paramref name="model"/> by name.</summary>
        public TorchMlp(IModel model)
        {
            foreach (var info in model.ParameterInfos)
            {
                var values = model.Parameters.Slice(info.Offset, info.Length).ToArray();
                _p[info.Name] = new TorchSharp.Modules.Parameter(torch.tensor(values, info.Shape.Select(d => (long)d).ToArray()));
            }
            if (!Names.All(_p.ContainsKey)) throw new InvalidOperationException("parameter names differ from fc1..fc3 weight/bias");
        }

        public IEnumerable<TorchSharp.Modules.Parameter> Parameters => Names.Select(n => _p[n]);

        public float[] Gradient(string name) => _p[name].grad!.data<float>().ToArray();

        public float[] Values(string name) => _p[name].data<float>().ToArray();

        private Tensor Logits(Tensor x)
        {
            var h = F.relu(F.linear(x, _p["fc1.weight"], _p["fc1.bias"]));
            h = F.relu(F.linear(h, _p["fc2.weight"], _p["fc2.bias"]));
            return F.linear(h, _p["fc3.weight"], _p["fc3.bias"]);
        }

        /// <summary>Mean cross-entropy of one batch; accumulates the gradients into .grad.</summary>
        public float LossAndGradients(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, int n)
            => LossAndGradients(inputs, labels, n, out _);

        private float LossAndGradients(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, int n, out int correct)
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.tensor(inputs.ToArray(), [n, 784]);
            var y = torch.tensor(labels.ToArray().Select(v => (long)v).ToArray());
            var logits = Logits(x);
            var loss = F.cross_entropy(logits, y);
            loss.backward();
            correct = (int)logits.argmax(1).eq(y).sum().item<long>();
            return loss.item<float>();
        }

        /// <summary>Test accuracy in inference mode.</summary>
        public float Accuracy(Dataset data)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var x = torch.tensor(data.Inputs, [data.Count, 784]);
            var y = torch.tensor(data.Labels!.Select(v => (long)v).ToArray());
            return (float)(Logits(x).argmax(1).eq(y).sum().item<long>() / (double)data.Count);
        }

        /// <summary>The recipe with torch.optim.Adam(lr 1e-3) and CosineAnnealingLR(T_max = all steps), stepped per batch.</summary>
        public List<TorchEpoch> Fit(Dataset train, Dataset test, int epochs, int batchSize, FitOptions options)
        {
            var loader = new BatchLoader(train, batchSize, options.Shuffle, options.Seed, options.Augmentation);
            var opt = torch.optim.Adam(Parameters, 1e-3);
            var sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * loader.BatchesPerEpoch);
            var history = new List<TorchEpoch>();
            for (int epoch = 0; epoch < epochs; epoch++)
            {
                loader.StartEpoch(epoch);
                double lossSum = 0;
                long correct = 0, seen = 0;
                while (loader.TryNext(out var batch))
                {
                    opt.zero_grad();
                    float loss = LossAndGradients(batch.Inputs, batch.Labels, batch.Size, out int c);
                    opt.step();
                    sched.step();
                    lossSum += (double)loss * batch.Size;
                    correct += c;
                    seen += batch.Size;
                }
                history.Add(new TorchEpoch((float)(lossSum / seen), (float)correct / seen, Accuracy(test)));
            }
            return history;
        }
    }
}
