// The ModelGen column of the peers harness (/work/shared/peers): implements its IPeer so the harness validates
// our outputs against TorchSharp's and interleaves our timed repetitions with the other peers'. bench/run.sh copies
// this file, BenchMlp.cs and FmaPeak.cs beside the harness's sources in bench/.build and registers the peer.
using System.Runtime.InteropServices;
using ModelGen;
using ModelGen.Kernels;

namespace PeerBench;

/// <summary>ModelGen: generated models and runtime kernels, called the way an application would call them.</summary>
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
            "mlp_infer" when threads == 1 => new MlpInfer(LoadMlp(data.Weights("mlp")), spec.Batch),
            "mlp_train" when threads == 1 => new MlpTrain(LoadMlp(data.Weights("mlp")), data.Weights("mlp"), spec.Batch),
            "sgemm" => new Sgemm(spec.N, threads),
            _ => null,   // LeNet, transformer and LSTM layers do not exist yet (the report prints n/a)
        };
    }

    public void Dispose() { }

    /// <summary>A generated model with the peers' weights copied in by PyTorch name; every tensor must match exactly.</summary>
    private static BenchMlp LoadMlp(WeightFile weights)
    {
        var model = new BenchMlp(seed: 0);
        var infos = model.ParameterInfos;
        if (infos.Count != weights.Entries.Count)
            throw new InvalidOperationException($"mlp.bin has {weights.Entries.Count} tensors but BenchMlp has {infos.Count}.");
        foreach (var entry in weights.Entries)
        {
            ParameterInfo? info = null;
            foreach (var p in infos) if (p.Name == entry.Name) info = p;
            if (info is null) throw new InvalidOperationException($"mlp.bin tensor '{entry.Name}' has no parameter in BenchMlp.");
            if (!info.Shape.Select(d => (long)d).SequenceEqual(entry.Shape))
                throw new InvalidOperationException($"{entry.Name}: BenchMlp shape {info.ShapeText} vs mlp.bin [{string.Join(", ", entry.Shape)}].");
            entry.Data.CopyTo(model.Parameters.Slice(info.Offset, info.Length));
        }
        return model;
    }

    /// <summary>All parameters flattened in weight-file order (the harness's training output).</summary>
    private static float[] Flatten(BenchMlp model, WeightFile weights)
    {
        var result = new List<float>();
        foreach (var entry in weights.Entries)
            foreach (var p in model.ParameterInfos)
                if (p.Name == entry.Name) result.AddRange(model.Parameters.Slice(p.Offset, p.Length).ToArray());
        return result.ToArray();
    }

    private static string CpuModel()
    {
        try { return File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("model name")).Split(':', 2)[1].Trim(); }
        catch (IOException) { return RuntimeInformation.ProcessArchitecture.ToString(); }
    }

    /// <summary>W1: generated inference forward into a preallocated output.</summary>
    private sealed class MlpInfer(BenchMlp model, int batch) : IBenchCase
    {
        private readonly float[] _x = BenchData.Input("mlp_infer", batch);
        private readonly float[] _y = new float[batch * BenchMlp.OutputSize];

        public float[] Output() { Run(); return (float[])_y.Clone(); }
        public void Run() => model.Forward(_x, _y, batch);
        public void Dispose() { }
    }

    /// <summary>W2: one SGD step (lr 0.01) on mean cross-entropy, as the TorchSharp peer does it.</summary>
    private sealed class MlpTrain : IBenchCase
    {
        private readonly BenchMlp _model;
        private readonly WeightFile _weights;
        private readonly int _batch;
        private readonly float[] _x;
        private readonly int[] _labels;
        private readonly float[] _logits, _dLogits;
        private readonly Sgd _sgd = new(0.01f);

        public MlpTrain(BenchMlp model, WeightFile weights, int batch)
        {
            _model = model;
            _weights = weights;
            _batch = batch;
            _x = BenchData.Input("mlp_train", batch);
            _labels = BenchData.Labels(batch).Select(l => (int)l).ToArray();
            _logits = new float[batch * BenchMlp.OutputSize];
            _dLogits = new float[batch * BenchMlp.OutputSize];
        }

        public float[] Output() { Run(); return Flatten(_model, _weights); }

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
