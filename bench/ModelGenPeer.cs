// The ModelGen column of the peers harness (/work/shared/peers): implements its IPeer so the harness validates
// our outputs against TorchSharp's and interleaves our timed repetitions with the other peers'. bench/run.sh copies
// this file, BenchMlp.cs, BenchLeNet.cs, BenchLstm.cs, BenchTagger.cs, BenchTransformer.cs, BenchCharLm.cs and FmaPeak.cs
// beside the harness's sources in bench/.build and registers the peer.
using System.Runtime.InteropServices;
using ModelGen;
using ModelGen.Kernels;

namespace PeerBench;

/// <summary>
/// ModelGen: generated models (MLP, LeNet-5, LSTM, BiLSTM tagger, Transformer block, character GPT) and runtime kernels,
/// called the way an application would call them. Registered twice: "modelgen" runs each model's own <c>Forward</c>
/// (which reads the parameters live), "modelgen-predictor" the inference snapshot <c>model.CreatePredictor()</c> (weights
/// copied once, BatchNorm folded, dense weights prepacked; for sequence models the Transformer projections and the LSTM's
/// W_ih/W_hh packed once too), which is what a deployment runs; the predictor peer does the inference workloads only
/// (W1, W3, W5, W6).
/// </summary>
public sealed class ModelGenPeer : IPeer
{
    private readonly bool _predictor;

    public string Name => _predictor ? "modelgen-predictor" : "modelgen";

    public string Version { get; } =
        $"ModelGen {typeof(Gemm).Assembly.GetName().Version} (widest vector: {FmaPeak.Width} bit, {RuntimeInformation.FrameworkDescription})";

    public ModelGenPeer() : this(predictor: false) { }

    /// <param name="predictor">Time <c>CreatePredictor()</c>'s snapshot instead of the model's <c>Forward</c> (inference workloads only).</param>
    public ModelGenPeer(bool predictor)
    {
        _predictor = predictor;
        if (predictor) return;   // the "modelgen" peer measures the machine once for both
        // The FMA peak is measured once, before any case, and handed to the report through a side file.
        double peak = FmaPeak.Measure();
        Console.WriteLine($"  fma peak: {peak:F1} GFLOP/s single thread, {FmaPeak.Width}-bit FMA, 12 accumulator chains");
        string? path = Environment.GetEnvironmentVariable("MODELGEN_BENCH_MACHINE_OUT");
        if (!string.IsNullOrEmpty(path))
            File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["fma_peak_gflops_1t"] = Math.Round(peak, 2),
                ["fma_width_bits"] = FmaPeak.Width,
                ["cpu"] = CpuModel(),
                ["runtime"] = RuntimeInformation.FrameworkDescription,
            }));
    }

    public IBenchCase? Create(CaseSpec spec, BenchData data)
    {
        int threads = spec.Threads;
        if (_predictor)
            return spec.Kind switch
            {
                "mlp_infer" when threads == 1 => new Predict(Load(new BenchMlp(seed: 0), data.Weights("mlp"), "mlp.bin").CreatePredictor(), spec),
                "lenet_infer" when threads == 1 => new Predict(Load(new BenchLeNet(seed: 0), data.Weights("lenet"), "lenet.bin").CreatePredictor(), spec),
                "lstm_infer" when threads == 1 => new SeqPredict(Load(new BenchLstm(seed: 0), data.Weights("lstm"), "lstm.bin", modelPrefix: "lstm.").CreatePredictor(), spec),
                "transformer_infer" when threads == 1 => new SeqPredict(
                    Load(new BenchTransformer(seed: 0), data.Weights("transformer"), "transformer.bin", TransformerNames()).Model.CreatePredictor(), spec),
                _ => null,
            };
        return spec.Kind switch
        {
            "mlp_infer" when threads == 1 => new Infer<BenchMlp>(Load(new BenchMlp(seed: 0), data.Weights("mlp"), "mlp.bin"), spec),
            "mlp_train" when threads == 1 => new Train<BenchMlp>(Load(new BenchMlp(seed: 0), data.Weights("mlp"), "mlp.bin"), spec),
            "lenet_infer" when threads == 1 => new Infer<BenchLeNet>(Load(new BenchLeNet(seed: 0), data.Weights("lenet"), "lenet.bin"), spec),
            "lenet_train" when threads == 1 => new Train<BenchLeNet>(Load(new BenchLeNet(seed: 0), data.Weights("lenet"), "lenet.bin"), spec),
            // lstm.bin holds nn.LSTM's bare names (weight_ih_l0 …), as TorchSharp's peer reads it; ours carry the member's "lstm." prefix.
            "lstm_infer" when threads == 1 => new SeqInfer<BenchLstm>(Load(new BenchLstm(seed: 0), data.Weights("lstm"), "lstm.bin", modelPrefix: "lstm."), spec),
            "lstm_train" when threads == 1 => new TokenTrain<BenchTagger>(Load(new BenchTagger(seed: 0), data.Weights("lstm_tagger"), "lstm_tagger.bin"), spec),
            // transformer.bin and char_lm.bin name the block tensors differently from nn.TransformerEncoderLayer: explicit maps.
            "transformer_infer" when threads == 1 => new SeqInfer<BenchTransformer>(
                Load(new BenchTransformer(seed: 0), data.Weights("transformer"), "transformer.bin", TransformerNames()).Model, spec),
            "transformer_train" when threads == 1 => CharLmTrain(data, spec),
            "sgemm" => new Sgemm(spec.N, threads),
            _ => null,
        };
    }

    public void Dispose() { }

    /// <summary>
    /// Copies the peers' seeded weights into a generated model. The weight file lists a PyTorch state dict in module
    /// order, and a generated model's <see cref="IModel.ParameterInfos"/> follow declaration order, so tensors are
    /// paired by position; each pair must agree exactly in name and shape, or nothing is trusted. A file written
    /// from a bare module (W6's lstm.bin holds nn.LSTM's own names) is read with <paramref name="modelPrefix"/>: every
    /// parameter name must start with it, and the rest must equal the file's name.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor counts, a name or a shape differ (both sides are named).</exception>
    internal static TModel Load<TModel>(TModel model, WeightFile weights, string file, string modelPrefix = "") where TModel : IModel
    {
        var infos = model.ParameterInfos;
        if (infos.Count != weights.Entries.Count)
            throw new InvalidOperationException(
                $"{file} has {weights.Entries.Count} tensors ({string.Join(", ", weights.Entries.Select(e => e.Name))}) " +
                $"but {typeof(TModel).Name} has {infos.Count} ({string.Join(", ", infos.Select(p => p.Name))}).");
        for (int i = 0; i < infos.Count; i++)
        {
            WeightFile.Entry entry = weights.Entries[i];
            ParameterInfo info = infos[i];
            if (!info.Name.StartsWith(modelPrefix, StringComparison.Ordinal) || info.Name[modelPrefix.Length..] != entry.Name)
                throw new InvalidOperationException(
                    $"{file} tensor #{i} is '{entry.Name}' but {typeof(TModel).Name}'s parameter #{i} is '{info.Name}'" +
                    (modelPrefix.Length > 0 ? $" (expected '{modelPrefix}{entry.Name}')." : "."));
            if (!info.Shape.Select(d => (long)d).SequenceEqual(entry.Shape))
                throw new InvalidOperationException(
                    $"{entry.Name}: {typeof(TModel).Name} expects shape {info.ShapeText} but {file} has [{string.Join(", ", entry.Shape)}].");
            entry.Data.CopyTo(model.Parameters.Slice(info.Offset, info.Length));
        }
        return model;
    }

    /// <summary>
    /// Copies a weight file whose names differ from the model's through an explicit map: <paramref name="names"/> lists, in
    /// the file's order, each file tensor's name and the model parameter it fills. The map must name the file's tensors in
    /// order, cover every model parameter exactly once, and each pair must agree in shape, or nothing is trusted.
    /// </summary>
    /// <returns>The model and its parameters in file order (what <see cref="Flatten(IModel, IReadOnlyList{ParameterInfo})"/> needs).</returns>
    /// <exception cref="InvalidOperationException">A count, a file name, a model name or a shape differs, or a parameter is mapped twice.</exception>
    internal static (TModel Model, ParameterInfo[] FileOrder) Load<TModel>(TModel model, WeightFile weights, string file,
        IReadOnlyList<(string File, string Model)> names) where TModel : IModel
    {
        string modelName = typeof(TModel).Name;
        var byName = model.ParameterInfos.ToDictionary(p => p.Name, StringComparer.Ordinal);
        if (names.Count != weights.Entries.Count || names.Count != byName.Count)
            throw new InvalidOperationException(
                $"{file} has {weights.Entries.Count} tensors, the name map {names.Count} and {modelName} {byName.Count} parameters " +
                $"({string.Join(", ", byName.Keys)}).");
        var order = new ParameterInfo[names.Count];
        var used = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            WeightFile.Entry entry = weights.Entries[i];
            (string fileName, string paramName) = names[i];
            if (entry.Name != fileName)
                throw new InvalidOperationException($"{file} tensor #{i} is '{entry.Name}' but the name map expects '{fileName}' there.");
            if (!byName.TryGetValue(paramName, out ParameterInfo? info))
                throw new InvalidOperationException($"{file} tensor '{fileName}' maps to '{paramName}', which {modelName} does not have ({string.Join(", ", byName.Keys)}).");
            if (!used.Add(paramName))
                throw new InvalidOperationException($"{file} tensor '{fileName}' maps to '{paramName}', which another tensor already filled.");
            if (!info.Shape.Select(d => (long)d).SequenceEqual(entry.Shape))
                throw new InvalidOperationException(
                    $"{fileName} → {paramName}: {modelName} expects shape {info.ShapeText} but {file} has [{string.Join(", ", entry.Shape)}].");
            entry.Data.CopyTo(model.Parameters.Slice(info.Offset, info.Length));
            order[i] = info;
        }
        return (model, order);
    }

    /// <summary>
    /// transformer.bin (W5; tools/make_models.py make_transformer) → <see cref="BenchTransformer"/>: the harness's block is
    /// ln1, qkv (packed [W_q; W_k; W_v], as in_proj), proj, ln2, ff1, ff2 in that order; nn.TransformerEncoderLayer's
    /// state dict orders the same tensors self_attn, linear1, linear2, norm1, norm2.
    /// </summary>
    internal static (string File, string Model)[] TransformerNames() =>
    [
        ("ln1.weight", "block.layers.0.norm1.weight"),
        ("ln1.bias", "block.layers.0.norm1.bias"),
        ("qkv.weight", "block.layers.0.self_attn.in_proj_weight"),
        ("qkv.bias", "block.layers.0.self_attn.in_proj_bias"),
        ("proj.weight", "block.layers.0.self_attn.out_proj.weight"),
        ("proj.bias", "block.layers.0.self_attn.out_proj.bias"),
        ("ln2.weight", "block.layers.0.norm2.weight"),
        ("ln2.bias", "block.layers.0.norm2.bias"),
        ("ff1.weight", "block.layers.0.linear1.weight"),
        ("ff1.bias", "block.layers.0.linear1.bias"),
        ("ff2.weight", "block.layers.0.linear2.weight"),
        ("ff2.bias", "block.layers.0.linear2.bias"),
    ];

    /// <summary>
    /// char_lm.bin (W8; make_char_lm) → <see cref="BenchCharLm"/>: tok, pos, ln_f and head keep their names; block i's
    /// ln1, attn (nn.MultiheadAttention's own names), ln2, ff1, ff2 are layer i's norm1, self_attn, norm2, linear1, linear2.
    /// </summary>
    internal static List<(string File, string Model)> CharLmNames()
    {
        var names = new List<(string, string)> { ("tok.weight", "tok.weight"), ("pos.weight", "pos.weight") };
        for (int i = 0; i < BenchData.LmLayers; i++)
        {
            string f = $"blocks.{i}.", m = $"blocks.layers.{i}.";
            names.AddRange(
            [
                (f + "ln1.weight", m + "norm1.weight"),
                (f + "ln1.bias", m + "norm1.bias"),
                (f + "attn.in_proj_weight", m + "self_attn.in_proj_weight"),
                (f + "attn.in_proj_bias", m + "self_attn.in_proj_bias"),
                (f + "attn.out_proj.weight", m + "self_attn.out_proj.weight"),
                (f + "attn.out_proj.bias", m + "self_attn.out_proj.bias"),
                (f + "ln2.weight", m + "norm2.weight"),
                (f + "ln2.bias", m + "norm2.bias"),
                (f + "ff1.weight", m + "linear1.weight"),
                (f + "ff1.bias", m + "linear1.bias"),
                (f + "ff2.weight", m + "linear2.weight"),
                (f + "ff2.bias", m + "linear2.bias"),
            ]);
        }
        names.AddRange([("ln_f.weight", "ln_f.weight"), ("ln_f.bias", "ln_f.bias"), ("head.weight", "head.weight"), ("head.bias", "head.bias")]);
        return names;
    }

    /// <summary>W8: the character GPT loaded from char_lm.bin, stepped by <see cref="TokenTrain{TModel}"/>, flattened in file order.</summary>
    private static TokenTrain<BenchCharLm> CharLmTrain(BenchData data, CaseSpec spec)
    {
        var (model, fileOrder) = Load(new BenchCharLm(seed: 0), data.Weights("char_lm"), "char_lm.bin", CharLmNames());
        return new TokenTrain<BenchCharLm>(model, spec, fileOrder);
    }

    /// <summary>All parameters flattened in weight-file order (the harness's training output); Load guarantees the same order.</summary>
    private static float[] Flatten(IModel model) => Flatten(model, model.ParameterInfos);

    /// <summary>The parameters listed, flattened in that order.</summary>
    private static float[] Flatten(IModel model, IReadOnlyList<ParameterInfo> order)
    {
        var result = new List<float>(model.Parameters.Length);
        foreach (var p in order) result.AddRange(model.Parameters.Slice(p.Offset, p.Length).ToArray());
        return result.ToArray();
    }

    private static string CpuModel()
    {
        try { return File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("model name")).Split(':', 2)[1].Trim(); }
        catch (IOException) { return RuntimeInformation.ProcessArchitecture.ToString(); }
    }

    /// <summary>W1/W3 inference: the generated <c>Forward</c> into a preallocated output.</summary>
    private sealed class Infer<TModel>(TModel model, CaseSpec spec) : IBenchCase where TModel : IFeedForwardModel
    {
        private readonly float[] _x = BenchData.Input(spec.Kind, spec.Batch);
        private readonly float[] _y = new float[spec.Batch * model.OutputLength];

        public float[] Output() { Run(); return (float[])_y.Clone(); }
        public void Run() => model.Forward(_x, _y, spec.Batch);
        public void Dispose() { }
    }

    /// <summary>W1/W3 inference through the predictor: <c>Forward</c> of the snapshot taken after the weights were loaded.</summary>
    private sealed class Predict(IPredictor predictor, CaseSpec spec) : IBenchCase
    {
        private readonly float[] _x = BenchData.Input(spec.Kind, spec.Batch);
        private readonly float[] _y = new float[spec.Batch * predictor.OutputLength];

        public float[] Output() { Run(); return (float[])_y.Clone(); }
        public void Run() => predictor.Forward(_x, _y, spec.Batch);
        public void Dispose() { }
    }

    /// <summary>W2/W3 training: one SGD step (lr 0.01) on mean cross-entropy, as the TorchSharp peer does it.</summary>
    private sealed class Train<TModel> : IBenchCase where TModel : ITrainable
    {
        private readonly TModel _model;
        private readonly int _batch;
        private readonly float[] _x;
        private readonly int[] _labels;
        private readonly float[] _logits, _dLogits;
        private readonly Sgd _sgd = new(0.01f);

        public Train(TModel model, CaseSpec spec)
        {
            _model = model;
            _batch = spec.Batch;
            _x = BenchData.Input(spec.Kind, spec.Batch);
            _labels = BenchData.Labels(spec.Batch).Select(l => (int)l).ToArray();
            _logits = new float[spec.Batch * model.OutputLength];
            _dLogits = new float[spec.Batch * model.OutputLength];
        }

        public float[] Output() { Run(); return Flatten(_model); }

        public void Run()
        {
            _model.Gradients.Clear();                                        // zero_grad
            _model.ForwardTrain(_x, _logits, _batch);
            Loss.CrossEntropy.Compute(_logits, _labels, default, _dLogits, _batch);
            _model.Backward(_dLogits, default);                              // no input gradient needed
            _sgd.Step(_model, _model.Gradients);
        }

        public void Dispose() { }
    }

    /// <summary>W5/W6 inference: the generated sequence <c>Forward</c> (T from the harness's input shape: 64 for W5, 50 for W6; every
    /// example full length) into a preallocated [B, T, F].</summary>
    private sealed class SeqInfer<TModel>(TModel model, CaseSpec spec) : IBenchCase where TModel : ISequenceModel<float>
    {
        private readonly int _seq = checked((int)BenchData.InputShape(spec.Kind, spec.Batch)[1]);
        private readonly float[] _x = BenchData.Input(spec.Kind, spec.Batch);
        private readonly float[] _y = new float[checked((int)BenchData.OutputShape(spec.Kind, spec.Batch).Aggregate(1L, (a, b) => a * b))];

        public float[] Output() { Run(); return (float[])_y.Clone(); }
        public void Run() => model.Forward(_x, _y, spec.Batch, _seq);
        public void Dispose() { }
    }

    /// <summary>W5/W6 inference through the sequence predictor: <c>Forward</c> of the snapshot taken after the weights were loaded (as <see cref="SeqInfer{TModel}"/>).</summary>
    private sealed class SeqPredict(ISequencePredictor<float> predictor, CaseSpec spec) : IBenchCase
    {
        private readonly int _seq = checked((int)BenchData.InputShape(spec.Kind, spec.Batch)[1]);
        private readonly float[] _x = BenchData.Input(spec.Kind, spec.Batch);
        private readonly float[] _y = new float[checked((int)BenchData.OutputShape(spec.Kind, spec.Batch).Aggregate(1L, (a, b) => a * b))];

        public float[] Output() { Run(); return (float[])_y.Clone(); }
        public void Run() => predictor.Forward(_x, _y, spec.Batch, _seq);
        public void Dispose() { }
    }

    /// <summary>
    /// W7: one SGD step (lr 0.01) of a token model on mean cross-entropy over all batch·T tokens, as the TorchSharp peer
    /// does it (its logits are [B·T, C] and its targets [B·T]). Every sequence is full length, so no position is padding
    /// and the plain cross-entropy over B·T rows is PyTorch's <c>cross_entropy(logits.view(-1, C), y.view(-1))</c>.
    /// </summary>
    private sealed class TokenTrain<TModel> : IBenchCase where TModel : ISequenceTrainable<int>
    {
        private readonly TModel _model;
        private readonly int _batch, _seq;
        private readonly int[] _ids, _labels;
        private readonly float[] _logits, _dLogits;
        private readonly Sgd _sgd = new(0.01f);
        private readonly IReadOnlyList<ParameterInfo> _fileOrder;

        /// <param name="model">The model, loaded from the case's weight file.</param>
        /// <param name="spec">The case (its kind picks the ids, targets and [B, T]).</param>
        /// <param name="fileOrder">The model's parameters in weight-file order, when that is not declaration order (W8).</param>
        public TokenTrain(TModel model, CaseSpec spec, IReadOnlyList<ParameterInfo>? fileOrder = null)
        {
            _fileOrder = fileOrder ?? model.ParameterInfos;
            long[] shape = BenchData.TokenShape(spec.Kind, spec.Batch);
            _model = model;
            _batch = checked((int)shape[0]);
            _seq = checked((int)shape[1]);
            // The harness's ids and tags are int64 (PyTorch's dtype); ours are int. Both lie far below int.MaxValue.
            _ids = BenchData.Tokens(spec.Kind, spec.Batch).Select(id => checked((int)id)).ToArray();
            _labels = BenchData.Targets(spec.Kind, spec.Batch).Select(tag => checked((int)tag)).ToArray();
            _logits = new float[_batch * _seq * model.OutputLength];
            _dLogits = new float[_logits.Length];
        }

        public float[] Output() { Run(); return Flatten(_model, _fileOrder); }

        public void Run()
        {
            _model.Gradients.Clear();                                        // zero_grad
            _model.ForwardTrain(_ids, _logits, _batch, _seq);
            Loss.CrossEntropy.Compute(_logits, _labels, default, _dLogits, _batch * _seq);
            _model.Backward(_dLogits, default);                              // token ids have no input gradient
            _sgd.Step(_model, _model.Gradients);
        }

        public void Dispose() { }
    }

    /// <summary>W4: C = A·B with the runtime's GEMM (row-major, square), on spec.Threads threads.</summary>
    private sealed class Sgemm : IBenchCase
    {
        private readonly int _n;
        private readonly float[] _a, _b, _c;

        private readonly int _threads;

        public Sgemm(int n, int threads)
        {
            _n = n;
            _threads = threads;
            (_a, _b) = BenchData.Gemm(n);
            _c = new float[n * n];
        }

        public float[] Output() { Run(); return (float[])_c.Clone(); }
        public void Run()
        {
            // The harness gives each case its thread count; ModelGen's is process-wide, so set it per call (a field write).
            KernelOptions.MaxThreads = _threads;
            Gemm.NN(_a, _b, _c, _n, _n, _n);
        }

        public void Dispose() => KernelOptions.MaxThreads = 1;
    }
}
