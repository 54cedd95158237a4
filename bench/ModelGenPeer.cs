// The ModelGen column of the peers harness (/work/shared/peers): implements its IPeer so the harness validates
// our outputs against TorchSharp's and interleaves our timed repetitions with the other peers'. bench/run.sh copies
// this file, BenchMlp.cs, BenchLeNet.cs, BenchLstm.cs, BenchTagger.cs and FmaPeak.cs beside the harness's sources in
// bench/.build and registers the peer.
using System.Runtime.InteropServices;
using ModelGen;
using ModelGen.Kernels;

namespace PeerBench;

/// <summary>
/// ModelGen: generated models (MLP, LeNet-5, LSTM, BiLSTM tagger) and runtime kernels, called the way an application
/// would call them. Registered twice: "modelgen" runs each model's own <c>Forward</c> (which reads the parameters live),
/// "modelgen-predictor" the inference snapshot <c>model.CreatePredictor()</c> (weights copied once, BatchNorm folded,
/// dense weights prepacked), which is what a deployment runs; the predictor peer does W1 and W3 inference only.
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
            "sgemm" => new Sgemm(spec.N, threads),
            _ => null,   // attention layers do not exist yet (W5, W8: the report prints n/a)
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

    /// <summary>All parameters flattened in weight-file order (the harness's training output); Load guarantees the same order.</summary>
    private static float[] Flatten(IModel model)
    {
        var result = new List<float>(model.Parameters.Length);
        foreach (var p in model.ParameterInfos) result.AddRange(model.Parameters.Slice(p.Offset, p.Length).ToArray());
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

    /// <summary>W6 inference: the generated sequence <c>Forward</c> (T = 50, every example full length) into a preallocated [B, T, 128].</summary>
    private sealed class SeqInfer<TModel>(TModel model, CaseSpec spec) : IBenchCase where TModel : ISequenceModel<float>
    {
        private readonly float[] _x = BenchData.Input(spec.Kind, spec.Batch);
        private readonly float[] _y = new float[spec.Batch * BenchData.LstmSeq * model.OutputLength];

        public float[] Output() { Run(); return (float[])_y.Clone(); }
        public void Run() => model.Forward(_x, _y, spec.Batch, BenchData.LstmSeq);
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

        public TokenTrain(TModel model, CaseSpec spec)
        {
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

        public float[] Output() { Run(); return Flatten(_model); }

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
