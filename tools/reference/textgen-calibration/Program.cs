// Calibration of samples/TextGen --recipe torch against libtorch (issue 14: "with that same recipe ModelGen must land
// within 0.03 bpc of libtorch's 2.589"). The issue's calibration tool is not available, so this one trains the issue's
// recipe in libtorch (TorchSharp) on the sample's own data split, batches and schedule, with the network composed the
// way a TorchSharp user must compose a pre-LN block (TorchSharp's nn.TransformerEncoderLayer has no norm_first), as
// ../../../../shared/peers builds W8: per block x + drop(out_proj(sdpa_causal(F.linear(ln1 x, in_proj)))), then
// x + drop(linear2(act(linear1(ln2 x)))), with qkv and out_proj as nn.Linear (so PyTorch's nn.Linear initialisation,
// not nn.MultiheadAttention's Xavier in_proj with zero biases).
//
// Both frameworks can start from the same initial weights (ModelGen's seeded initialisation copied into libtorch, or
// libtorch's copied into ModelGen) and read the same batches (samples/TextGen's TrainingWindows with the same seed),
// so the suspects separate:
//   parity   both frameworks side by side without dropout, step by step: losses, gradient norms, first-step gradients
//            and the final parameters must agree (else there is an implementation difference);
//   train    one framework, one initialisation, one activation, with or without dropout, for N steps of a T-step
//            schedule; validation bpc (samples/TextGen's BitsPerCharacter, on the first 200,000 test characters) every
//            --eval-every steps. libtorch's weights are scored by copying them into the ModelGen model of the same
//            network (its forward agrees with libtorch's to <= 1e-5: tools/reference/transformer-check).
// Usage (build, patch libLibTorchSharp.so as tools/reference/README.md shows, then):
//   dotnet .../TextGenCalibration.dll parity [--steps 100] [--act relu|gelu] [--init modelgen|torch] [--seed 1] [--threads 1]
//   dotnet .../TextGenCalibration.dll train --framework torch|modelgen --init modelgen|torch --act relu|gelu
//          [--dropout 0.1|0] [--steps 1000] [--total 2000] [--eval-every 500] [--same-layers] [--pos-std S] [--seed 1]
//          [--threads 1] [--validation-characters 200000] [--data DIR]
using System.Diagnostics;
using System.Globalization;
using ModelGen;
using TextGen;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

var options = Options.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: textgen-calibration parity|train [--framework torch|modelgen] [--init modelgen|torch] [--act relu|gelu] [--dropout P] "
        + "[--steps N] [--total N] [--eval-every N] [--same-layers] [--pos-std S] [--seed N] [--threads N] [--validation-characters N] [--data DIR]");
    return 2;
}
torch.set_num_threads(options.Threads);
torch.set_num_interop_threads(1);
ModelGen.Kernels.KernelOptions.MaxThreads = options.Threads;
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var text = BrownText.Load(options.Data);
var vocabulary = CharVocabulary.FromText(text.Train);
int[] train = vocabulary.Encode(text.Train), test = vocabulary.Encode(text.Test);
int[] validation = test.AsSpan(0, Math.Min(test.Length, options.ValidationCharacters)).ToArray();
ulong windowSeed = Rng.Derive((ulong)options.Seed, 1).NextUInt64();   // samples/TextGen's window stream
Console.WriteLine($"{options}; load {File.ReadAllText("/proc/loadavg").Trim()}; {DateTime.UtcNow:u}");

float[] initial = Calibration.InitialWeights(options);
return options.Mode == "parity" ? Calibration.Parity(options, initial, train, windowSeed) : Calibration.Train(options, initial, train, validation, windowSeed);

/// <summary>Command-line options (see the file header).</summary>
sealed record Options(string Mode, string Framework, string Init, bool Gelu, double Dropout, int Steps, int Total, int EvalEvery,
                      bool SameLayers, double PosStd, int Seed, int Threads, int ValidationCharacters, string Data)
{
    public static Options? Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("parity" or "train")) return null;
        var o = new Options(args[0], "torch", "modelgen", false, args[0] == "parity" ? 0 : 0.1, args[0] == "parity" ? 100 : 1000, 2000, 500,
                            false, -1, 1, 1, BitsPerCharacter.ValidationCharacters, Path.Combine(AppContext.BaseDirectory, "data"));
        for (int i = 1; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            static int Int(string s) => int.Parse(s, CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--framework" => o with { Framework = Next() is var f && f is "torch" or "modelgen" ? f : throw new ArgumentException($"--framework {f}: torch or modelgen") },
                "--init" => o with { Init = Next() is var s && s is "torch" or "modelgen" ? s : throw new ArgumentException($"--init {s}: torch or modelgen") },
                "--act" => o with { Gelu = Next() switch { "gelu" => true, "relu" => false, var a => throw new ArgumentException($"--act {a}: relu or gelu") } },
                "--dropout" => o with { Dropout = double.Parse(Next(), CultureInfo.InvariantCulture) is var p && p is 0 or 0.1 ? p : throw new ArgumentException($"--dropout {p}: 0 or 0.1 (the declared models)") },
                "--steps" => o with { Steps = Int(Next()) },
                "--total" => o with { Total = Int(Next()) },
                "--eval-every" => o with { EvalEvery = Int(Next()) },
                "--same-layers" => o with { SameLayers = true },
                "--pos-std" => o with { PosStd = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seed" => o with { Seed = Int(Next()) },
                "--threads" => o with { Threads = Int(Next()) },
                "--validation-characters" => o with { ValidationCharacters = Int(Next()) },
                "--data" => o with { Data = Next() },
                var a => throw new ArgumentException($"unknown option {a}"),
            };
        }
        if (o.Mode == "parity" && o.Dropout != 0) throw new ArgumentException("parity runs without dropout (masks cannot match)");
        return o;
    }

    public override string ToString() =>
        $"{Mode}: framework {(Mode == "parity" ? "both" : Framework)}, init {Init}{(SameLayers ? " (layer 0 copied to all)" : "")}{(PosStd >= 0 ? $", positions N(0, {PosStd})" : "")}, "
        + $"{(Gelu ? "GELU" : "ReLU")}, dropout {Dropout}, {Steps} of {Total} steps, seed {Seed}, {Threads} thread(s)";
}

/// <summary>The calibration runs.</summary>
static class Calibration
{
    const int Batch = 32, T = TextSizes.Context, V = TextSizes.CalibrationVocabulary;

    /// <summary>The ModelGen network the options describe (every variant has the same parameter layout).</summary>
    public static ISequenceTrainable<int> ModelGenModel(bool gelu, double dropout, int seed) => (gelu, dropout) switch
    {
        (false, 0.1) => new CharGptTorch(seed),
        (false, 0) => new CalReluNoDropout(seed),
        (true, 0.1) => new CalGelu(seed),
        (true, 0) => new CalGeluNoDropout(seed),
        _ => throw new ArgumentException($"no declared model with dropout {dropout}"),
    };

    /// <summary>Initial weights in ModelGen's parameter layout: ModelGen's seeded initialisation or libtorch's.</summary>
    public static float[] InitialWeights(Options o)
    {
        var mg = ModelGenModel(o.Gelu, 0, o.Seed);
        float[] weights;
        if (o.Init == "modelgen") weights = mg.Parameters.ToArray();
        else
        {
            torch.manual_seed(o.Seed);
            using var lm = new TorchCharGpt(o.Gelu, 0);
            weights = lm.Export(mg);
        }
        if (o.SameLayers)   // nn.TransformerEncoder deep-copies one layer: every layer starts as layer 0
        {
            foreach (var p in mg.ParameterInfos)
            {
                int at = p.Name.IndexOf("layers.", StringComparison.Ordinal);
                if (at < 0 || p.Name.AsSpan(at + 7).StartsWith("0.")) continue;
                string layer0 = p.Name[..(at + 7)] + "0" + p.Name[p.Name.IndexOf('.', at + 7)..];
                var src = mg.ParameterInfos.Single(q => q.Name == layer0);
                Array.Copy(weights, src.Offset, weights, p.Offset, p.Length);
            }
        }
        if (o.PosStd >= 0)   // a different position-table initialisation, N(0, std) from libtorch's generator
        {
            var pos = mg.ParameterInfos.Single(p => p.Name == "pos.weight");
            torch.manual_seed(o.Seed + 1000);
            float[] draw = (torch.randn(pos.Length) * o.PosStd).data<float>().ToArray();
            draw.CopyTo(weights, pos.Offset);
        }
        return weights;
    }

    /// <summary>Both frameworks without dropout from the same weights on the same batches, step by step.</summary>
    public static int Parity(Options o, float[] initial, int[] train, ulong windowSeed)
    {
        var mg = ModelGenModel(o.Gelu, 0, o.Seed);
        initial.CopyTo(mg.Parameters);
        var trainer = new LanguageModelTrainer(mg, train, V, Batch, T, o.Total, windowSeed, CharTrainingRecipe.Torch);
        using var lm = new TorchCharGpt(o.Gelu, 0);
        lm.Import(mg, initial);
        var torchRun = new TorchTrainer(lm, train, windowSeed, o.Total);

        double worstLoss = 0;
        for (int step = 0; step < o.Steps; step++)
        {
            float mgLoss = trainer.Step();
            (double tLoss, double tNorm) = torchRun.Step(step);
            double diff = Math.Abs(mgLoss - tLoss);
            worstLoss = Math.Max(worstLoss, diff);
            if (step == 0)
            {
                // The first step's clipped gradients, tensor by tensor (relative to the tensor's largest gradient).
                float[] tg = lm.ExportGradients(mg);
                foreach (var p in mg.ParameterInfos)
                {
                    double max = 0, scale = 0;
                    for (int i = p.Offset; i < p.Offset + p.Length; i++)
                    {
                        max = Math.Max(max, Math.Abs(tg[i] - mg.Gradients[i]));
                        scale = Math.Max(scale, Math.Abs(tg[i]));
                    }
                    if (max > 1e-4 * scale) Console.WriteLine($"  step 1 gradient {p.Name}: max |diff| {max:E2} of max |g| {scale:E2}");
                }
                Console.WriteLine($"  step 1 gradients: every tensor checked (listed above when a difference exceeds 1e-4 of its largest gradient)");
            }
            if (step < 10 || (step + 1) % 10 == 0)
                Console.WriteLine($"step {step + 1,5}: loss ModelGen {mgLoss:F6} libtorch {tLoss:F6} |diff| {diff:E2}; grad norm {trainer.GradientNorm:F4} vs {tNorm:F4}; lr {trainer.LearningRate:E3}");
        }
        float[] final = lm.Export(mg);
        double worstParam = 0;
        for (int i = 0; i < final.Length; i++) worstParam = Math.Max(worstParam, Math.Abs(final[i] - mg.Parameters[i]));
        Console.WriteLine($"parity over {o.Steps} steps: largest loss difference {worstLoss:E2}, largest parameter difference at the end {worstParam:E2}");
        return 0;
    }

    /// <summary>One framework's run with validation bpc every EvalEvery steps and at the end.</summary>
    public static int Train(Options o, float[] initial, int[] train, int[] validation, ulong windowSeed)
    {
        var scorer = ModelGenModel(o.Gelu, o.Dropout, o.Seed);
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        int lossCount = 0;
        void Report(int done, Func<float[]> weights)
        {
            bool eval = done == o.Steps || (o.EvalEvery > 0 && done % o.EvalEvery == 0);
            if (done % 50 != 0 && !eval) return;
            string line = $"step {done,5}: train loss {lossSum / lossCount:F4} (mean of the last {lossCount}), {clock.Elapsed.TotalSeconds:F0} s";
            lossSum = 0; lossCount = 0;
            if (eval)
            {
                weights().CopyTo(scorer.Parameters);
                line += $", validation bpc {BitsPerCharacter.Evaluate(scorer, validation, T, V).Bpc:F3}";
            }
            Console.WriteLine(line);
        }
        if (o.Framework == "modelgen")
        {
            var mg = ModelGenModel(o.Gelu, o.Dropout, o.Seed);
            initial.CopyTo(mg.Parameters);
            var trainer = new LanguageModelTrainer(mg, train, V, Batch, T, o.Total, windowSeed, CharTrainingRecipe.Torch);
            for (int step = 0; step < o.Steps; step++)
            {
                lossSum += trainer.Step(); lossCount++;
                Report(step + 1, () => mg.Parameters.ToArray());
            }
        }
        else
        {
            torch.manual_seed(o.Seed + 2000);   // dropout masks
            using var lm = new TorchCharGpt(o.Gelu, o.Dropout);
            lm.Import(scorer, initial);
            var run = new TorchTrainer(lm, train, windowSeed, o.Total);
            for (int step = 0; step < o.Steps; step++)
            {
                lossSum += run.Step(step).Loss; lossCount++;
                Report(step + 1, () => lm.Export(scorer));
            }
        }
        Console.WriteLine($"done: {o}; {clock.Elapsed.TotalSeconds:F0} s; load {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }
}

/// <summary>The recipe in libtorch: AdamW(1e-3, betas (0.9, 0.99), eps 1e-8, wd 0.01), clip 1.0, the issue's schedule, the sample's batches.</summary>
sealed class TorchTrainer(TorchCharGpt model, int[] train, ulong windowSeed, int total)
{
    private readonly TrainingWindows _windows = new(train, 32, TextSizes.Context, windowSeed);
    private readonly optim.Optimizer _opt = torch.optim.AdamW(model.parameters(), 1e-3, CharTrainingRecipe.Beta1, CharTrainingRecipe.Beta2, 1e-8, CharTrainingRecipe.WeightDecay);
    private readonly long[] _x = new long[32 * TextSizes.Context], _y = new long[32 * TextSizes.Context];

    /// <summary>One step; returns the loss before the update and the gradient norm before clipping.</summary>
    public (double Loss, double Norm) Step(int step)
    {
        _windows.Next();
        for (int i = 0; i < _x.Length; i++) { _x[i] = _windows.Inputs[i]; _y[i] = _windows.Targets[i]; }
        using var scope = torch.NewDisposeScope();
        model.train();
        _opt.zero_grad();
        var x = torch.tensor(_x, [32, TextSizes.Context]);
        var y = torch.tensor(_y, [32 * TextSizes.Context]);
        var logits = model.forward(x);
        var loss = F.cross_entropy(logits.view(-1, TextSizes.CalibrationVocabulary), y);
        loss.backward();
        double norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CharTrainingRecipe.ClipNorm);
        // The same learning rate ModelGen's trainer sets: 1e-3 · the recipe's warm-up + cosine factor at this step.
        _opt.ParamGroups.First().LearningRate = CharTrainingRecipe.Torch.LearningRate * (double)CharTrainingRecipe.Torch.Schedule.Factor(step, total);
        _opt.step();
        return (loss.item<float>(), norm);
    }
}

/// <summary>
/// The issue's network in libtorch, as W8 composes it: tok Embedding(96, 128) + pos Embedding(128, 128) → dropout → 4 pre-LN
/// causal blocks (packed qkv through F.linear, F.scaled_dot_product_attention causal, out_proj, dropout on the attention and
/// feed-forward outputs only) → LayerNorm → Linear(128, 96). Default initialisation is libtorch's for each module (nn.Linear
/// for qkv and out_proj).
/// </summary>
sealed class TorchCharGpt : nn.Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Embedding tok, pos;
    private readonly TorchSharp.Modules.ModuleList<TorchBlock> blocks;
    private readonly TorchSharp.Modules.LayerNorm lnF;
    private readonly TorchSharp.Modules.Linear head;
    private readonly double _p;

    public TorchCharGpt(bool gelu, double dropout) : base("TorchCharGpt")
    {
        _p = dropout;
        tok = nn.Embedding(TextSizes.CalibrationVocabulary, 128);
        pos = nn.Embedding(TextSizes.Context, 128);
        blocks = nn.ModuleList(Enumerable.Range(0, 4).Select(_ => new TorchBlock(128, 4, 512, gelu, dropout)).ToArray());
        lnF = nn.LayerNorm(128);
        head = nn.Linear(128, TextSizes.CalibrationVocabulary);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        long t = x.shape[1];
        var h = F.dropout(tok.forward(x) + pos.forward(torch.arange(t, dtype: ScalarType.Int64)), _p, training);
        foreach (var b in blocks) h = b.forward(h);
        return head.forward(lnF.forward(h));
    }

    /// <summary>Parameters under ModelGen's names (CharGptTorch's safetensors names).</summary>
    private Dictionary<string, Tensor> Named()
    {
        var named = new Dictionary<string, Tensor> { ["tok.weight"] = tok.weight!, ["pos.weight"] = pos.weight!, ["ln_f.weight"] = lnF.weight!, ["ln_f.bias"] = lnF.bias!,
                                                     ["head.weight"] = head.weight!, ["head.bias"] = head.bias! };
        for (int i = 0; i < blocks.Count; i++)
            foreach (var (name, p) in blocks[i].Named()) named[$"blocks.layers.{i}.{name}"] = p;
        return named;
    }

    private (ParameterInfo Info, Tensor Tensor)[] Matched(IModel mg)
    {
        var named = Named();
        var matched = mg.ParameterInfos.Select(p => named.TryGetValue(p.Name, out var t) && t.shape.SequenceEqual(p.Shape.Select(d => (long)d))
            ? (p, t) : throw new InvalidOperationException($"ModelGen parameter {p.Name} {p.ShapeText} has no libtorch tensor of that name and shape; libtorch has: {string.Join(", ", named.Keys)}")).ToArray();
        if (matched.Length != named.Count) throw new InvalidOperationException($"libtorch has {named.Count} tensors, ModelGen {matched.Length}");
        return matched;
    }

    /// <summary>This model's weights in <paramref name="mg"/>'s parameter layout.</summary>
    public float[] Export(IModel mg) => Gather(mg, t => t);

    /// <summary>This model's gradients in <paramref name="mg"/>'s parameter layout.</summary>
    public float[] ExportGradients(IModel mg) => Gather(mg, t => t.grad!);

    private float[] Gather(IModel mg, Func<Tensor, Tensor> select)
    {
        var flat = new float[mg.Parameters.Length];
        foreach (var (info, t) in Matched(mg)) select(t).detach().contiguous().data<float>().ToArray().CopyTo(flat, info.Offset);
        return flat;
    }

    /// <summary>Sets this model's weights from a flat buffer in <paramref name="mg"/>'s layout.</summary>
    public void Import(IModel mg, float[] weights)
    {
        using var _ = torch.no_grad();
        foreach (var (info, t) in Matched(mg))
            t.copy_(torch.tensor(weights.AsSpan(info.Offset, info.Length).ToArray(), t.shape));
    }
}

/// <summary>One pre-LN causal block: x + drop(out_proj(attn(ln1 x))); then + drop(linear2(act(linear1(ln2 x)))).</summary>
sealed class TorchBlock : nn.Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.LayerNorm norm1, norm2;
    private readonly TorchSharp.Modules.Linear in_proj, out_proj, linear1, linear2;
    private readonly int _heads;
    private readonly bool _gelu;
    private readonly double _p;

    public TorchBlock(int d, int heads, int ff, bool gelu, double dropout) : base("TorchBlock")
    {
        (_heads, _gelu, _p) = (heads, gelu, dropout);
        norm1 = nn.LayerNorm(d); in_proj = nn.Linear(d, 3 * d); out_proj = nn.Linear(d, d);
        norm2 = nn.LayerNorm(d); linear1 = nn.Linear(d, ff); linear2 = nn.Linear(ff, d);
        RegisterComponents();
    }

    public IEnumerable<(string, Tensor)> Named() =>
    [
        ("self_attn.in_proj_weight", in_proj.weight!), ("self_attn.in_proj_bias", in_proj.bias!),
        ("self_attn.out_proj.weight", out_proj.weight!), ("self_attn.out_proj.bias", out_proj.bias!),
        ("linear1.weight", linear1.weight!), ("linear1.bias", linear1.bias!), ("linear2.weight", linear2.weight!), ("linear2.bias", linear2.bias!),
        ("norm1.weight", norm1.weight!), ("norm1.bias", norm1.bias!), ("norm2.weight", norm2.weight!), ("norm2.bias", norm2.bias!),
    ];

    public override Tensor forward(Tensor x)
    {
        long b = x.shape[0], s = x.shape[1], d = x.shape[2];
        var qkv = in_proj.forward(norm1.forward(x)).view(b, s, 3, _heads, d / _heads).permute(2, 0, 3, 1, 4);   // [3, B, H, S, Dh]
        var a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_casual: true);                         // [B, H, S, Dh]
        var x1 = x + F.dropout(out_proj.forward(a.transpose(1, 2).reshape(b, s, d)), _p, training);
        var h = linear1.forward(norm2.forward(x1));
        return x1 + F.dropout(linear2.forward(_gelu ? F.gelu(h) : F.relu(h)), _p, training);
    }
}

// The ModelGen variants of the calibration network (CharGptTorch is the ReLU one with dropout); all share its parameter layout.

/// <summary>CharGptTorch without any dropout.</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = TextSizes.Context)]
public partial class CalReluNoDropout
{
    [Embedding(TextSizes.CalibrationVocabulary, 128)] public partial Layer Tok { get; }
    [PositionEmbedding(TextSizes.Context)]            public partial Layer Pos { get; }
    [TransformerEncoder(Heads = 4, FeedForward = 512, NormFirst = true, Causal = true, Layers = 4, Dropout = 0)]
                                                      public partial Layer Blocks { get; }
    [LayerNorm]                                       public partial Layer LnF { get; }
    [Dense(TextSizes.CalibrationVocabulary)]          public partial Layer Head { get; }
}

/// <summary>CharGptTorch with a GELU feed-forward block (as W8).</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = TextSizes.Context)]
public partial class CalGelu
{
    [Embedding(TextSizes.CalibrationVocabulary, 128)] public partial Layer Tok { get; }
    [PositionEmbedding(TextSizes.Context)]            public partial Layer Pos { get; }
    [Dropout(0.1)]                                    public partial Layer Drop { get; }
    [TransformerEncoder(Heads = 4, FeedForward = 512, NormFirst = true, Causal = true, Layers = 4, Dropout = 0.1, FeedForwardDropout = 0, Activation = Activation.GELU)]
                                                      public partial Layer Blocks { get; }
    [LayerNorm]                                       public partial Layer LnF { get; }
    [Dense(TextSizes.CalibrationVocabulary)]          public partial Layer Head { get; }
}

/// <summary>CalGelu without any dropout.</summary>
[Model(Dim.Seq, InputType = typeof(int), MaxLength = TextSizes.Context)]
public partial class CalGeluNoDropout
{
    [Embedding(TextSizes.CalibrationVocabulary, 128)] public partial Layer Tok { get; }
    [PositionEmbedding(TextSizes.Context)]            public partial Layer Pos { get; }
    [TransformerEncoder(Heads = 4, FeedForward = 512, NormFirst = true, Causal = true, Layers = 4, Dropout = 0, Activation = Activation.GELU)]
                                                      public partial Layer Blocks { get; }
    [LayerNorm]                                       public partial Layer LnF { get; }
    [Dense(TextSizes.CalibrationVocabulary)]          public partial Layer Head { get; }
}
