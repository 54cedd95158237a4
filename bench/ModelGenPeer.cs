// The ModelGen column of the peers harness (/work/shared/peers): implements its IPeer so the harness validates
// our outputs against TorchSharp's and interleaves our timed repetitions with the other peers'. bench/run.sh copies
// this file, BenchMlp.cs, BenchLeNet.cs and FmaPeak.cs beside the harness's sources in bench/.build and registers the peer.
using System.Runtime.InteropServices;
using ModelGen;
using ModelGen.Kernels;

namespace PeerBench;

/// <summary>ModelGen: generated models (MLP, LeNet-5) and runtime kernels, called the way an application would call them.</summary>
public sealed class ModelGenPeer : IPeer
{
    public string Name => "modelgen";

    public string Version { get; } =
        $"ModelGen {typeof(Gemm).Assembly.GetName().Version} (widest vector: {FmaPeak.Width} bit, {RuntimeInformation.FrameworkDescription})";

    public ModelGenPeer()
    {
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
        return spec.Kind switch
        {
            "mlp_infer" when threads == 1 => new Infer<BenchMlp>(Load(new BenchMlp(seed: 0), data.Weights("mlp"), "mlp.bin"), spec),
            "mlp_train" when threads == 1 => new Train<BenchMlp>(Load(new BenchMlp(seed: 0), data.Weights("mlp"), "mlp.bin"), spec),
            "lenet_infer" when threads == 1 => new Infer<BenchLeNet>(Load(new BenchLeNet(seed: 0), data.Weights("lenet"), "lenet.bin"), spec),
            "lenet_train" when threads == 1 => new Train<BenchLeNet>(Load(new BenchLeNet(seed: 0), data.Weights("lenet"), "lenet.bin"), spec),
            "sgemm" => new Sgemm(spec.N, threads),
            "lstm_infer" when threads == 1 => new LstmInfer(data.Weights("lstm"), spec),
            _ => null,   // transformer layers and the W7/W8 token models do not exist yet (the report prints n/a)
        };
    }

    public void Dispose() { }

    /// <summary>
    /// Copies the peers' seeded weights into a generated model. The weight file lists a PyTorch state dict in module
    /// order, and a generated model's <see cref="IModel.ParameterInfos"/> follow declaration order, so tensors are
    /// paired by position; each pair must agree exactly in name and shape, or nothing is trusted.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor counts, a name or a shape differ (both sides are named).</exception>
    internal static TModel Load<TModel>(TModel model, WeightFile weights, string file) where TModel : IModel
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
            if (info.Name != entry.Name)
                throw new InvalidOperationException($"{file} tensor #{i} is '{entry.Name}' but {typeof(TModel).Name}'s parameter #{i} is '{info.Name}'.");
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
    private sealed class Infer<TModel>(TModel model, CaseSpec spec) : IBenchCase where TModel : IModel
    {
        private readonly float[] _x = BenchData.Input(spec.Kind, spec.Batch);
        private readonly float[] _y = new float[spec.Batch * model.OutputLength];

        public float[] Output() { Run(); return (float[])_y.Clone(); }
        public void Run() => model.Forward(_x, _y, spec.Batch);
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

    /// <summary>
    /// W6: nn.LSTM(32, 128, batch_first=True) over 50 steps through <see cref="RecurrentKernels.Forward"/> (the runtime kernel
    /// a generated [LSTM] layer calls), weights copied from the peers' state dict by name and shape, workspace allocated once.
    /// </summary>
    private sealed class LstmInfer : IBenchCase
    {
        private readonly RecurrentGeometry _g = new(RecurrentCell.Lstm, BenchData.LstmIn, BenchData.LstmHidden, 1, false, true);
        private readonly int _batch;
        private readonly float[] _x, _y, _p, _workspace;

        public LstmInfer(WeightFile weights, CaseSpec spec)
        {
            _batch = spec.Batch;
            _x = BenchData.Input(spec.Kind, spec.Batch);
            _y = new float[_g.OutputLength(_batch, BenchData.LstmSeq)];
            _p = new float[_g.ParameterCount];
            _workspace = new float[_g.WorkspaceLength(_batch, BenchData.LstmSeq)];
            int offset = 0;
            foreach (var (name, shape) in _g.ParameterTensors())
            {
                WeightFile.Entry entry = weights[name];
                if (!entry.Shape.SequenceEqual(shape.Select(d => (long)d)))
                    throw new InvalidOperationException($"lstm.bin: {name} is [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", shape)}].");
                entry.Data.CopyTo(_p, offset);
                offset += entry.Data.Length;
            }
        }

        public float[] Output() { Run(); return (float[])_y.Clone(); }
        public void Run() => RecurrentKernels.Forward(_g, _x, _p, _y, [], _workspace, _batch, BenchData.LstmSeq);
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
