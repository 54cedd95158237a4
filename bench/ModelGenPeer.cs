// The ModelGen column of the peers harness (/work/shared/peers): implements its IPeer so the harness validates
// our outputs against TorchSharp's and interleaves our timed repetitions with the other peers'. bench/run.sh copies
// this file, BenchMlp.cs, BenchLeNet.cs, BenchLstm.cs, BenchTagger.cs and FmaPeak.cs beside the harness's sources in
// bench/.build and registers the peer.
using System.Runtime.InteropServices;
using ModelGen;
using ModelGen.Kernels;

namespace PeerBench;

/// <summary>ModelGen: generated models (MLP, LeNet-5, LSTM, BiLSTM tagger) and runtime kernels (GEMM, Transformer stacks), called the way an application would call them.</summary>
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
            // lstm.bin holds nn.LSTM's bare names (weight_ih_l0 …), as TorchSharp's peer reads it; ours carry the member's "lstm." prefix.
            "lstm_infer" when threads == 1 => new SeqInfer<BenchLstm>(Load(new BenchLstm(seed: 0), data.Weights("lstm"), "lstm.bin", modelPrefix: "lstm."), spec),
            "lstm_train" when threads == 1 => new TokenTrain<BenchTagger>(Load(new BenchTagger(seed: 0), data.Weights("lstm_tagger"), "lstm_tagger.bin"), spec),
            "sgemm" => new Sgemm(spec.N, threads),
            // No attention attribute in the generator yet: W5 and W8 call the runtime's Transformer kernels directly.
            "transformer_infer" when threads == 1 => new TransformerInfer(data.Weights("transformer"), spec),
            "transformer_train" when threads == 1 => new CharLmTrain(data.Weights("char_lm"), spec),
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

    /// <summary>
    /// The weight file's entries for a <see cref="TransformerGeometry"/>'s tensors, copied into its flat parameter layout.
    /// <paramref name="fileName"/> maps (layer, our name without "layers.{i}.") to the file's name; shapes must agree.
    /// Returns the parameters and, per file entry used, its offset in them (for flattening back in file order).
    /// </summary>
    private static (float[] Parameters, Dictionary<string, int> Offsets) StackParameters(in TransformerGeometry g, WeightFile weights, string file,
        Func<int, string, string> fileName)
    {
        var p = new float[g.ParameterCount];
        var offsets = new Dictionary<string, int>();
        int offset = 0;
        foreach (var (name, shape) in g.ParameterTensors())
        {
            int dot = name.IndexOf('.', "layers.".Length);
            string own = name[(dot + 1)..], theirs = fileName(int.Parse(name["layers.".Length..dot]), own);
            WeightFile.Entry entry = weights.Entries.FirstOrDefault(e => e.Name == theirs)
                ?? throw new InvalidOperationException($"{file} has no tensor '{theirs}' (for {name}); it has {string.Join(", ", weights.Entries.Select(e => e.Name))}.");
            if (!shape.Select(d => (long)d).SequenceEqual(entry.Shape))
                throw new InvalidOperationException($"{theirs}: {name} is [{string.Join(", ", shape)}] but {file} has [{string.Join(", ", entry.Shape)}].");
            entry.Data.CopyTo(p, offset);
            offsets[theirs] = offset;
            offset += entry.Data.Length;
        }
        return (p, offsets);
    }

    /// <summary>The file's sub-module names for nn.TransformerEncoderLayer's: W5's block and W8's blocks call them ln1, qkv / attn, proj, ln2, ff1, ff2.</summary>
    private static string PeerName(string own, string attention, string projection) => own
        .Replace("self_attn.in_proj_weight", attention + "weight").Replace("self_attn.in_proj_bias", attention + "bias")
        .Replace("self_attn.out_proj.", projection)
        .Replace("linear1.", "ff1.").Replace("linear2.", "ff2.").Replace("norm1.", "ln1.").Replace("norm2.", "ln2.");

    /// <summary>W5: one pre-LN block (d 128, 4 heads, FFN 512, erf GELU) over [1, 64, 128], <see cref="TransformerKernels.Forward"/>.</summary>
    private sealed class TransformerInfer : IBenchCase
    {
        private static readonly TransformerGeometry G = new(BenchData.DModel, BenchData.Heads, BenchData.Ffn, 1, normFirst: true, causal: false, FeedForwardActivation.Gelu);
        private readonly int _batch;
        private readonly float[] _p, _x, _y, _ws;

        public TransformerInfer(WeightFile weights, CaseSpec spec)
        {
            if (weights.Entries.Count != 12) throw new InvalidOperationException($"transformer.bin has {weights.Entries.Count} tensors; one block has 12.");
            _p = StackParameters(G, weights, "transformer.bin", (_, own) => PeerName(own, "qkv.", "proj.")).Parameters;
            _batch = spec.Batch;
            _x = BenchData.Input(spec.Kind, spec.Batch);
            _y = new float[_x.Length];
            _ws = new float[G.WorkspaceLength(spec.Batch, BenchData.Seq)];
        }

        public float[] Output() { Run(); return (float[])_y.Clone(); }
        public void Run() => TransformerKernels.Forward(G, _x, _p, _y, default, _ws, _batch, BenchData.Seq);
        public void Dispose() { }
    }

    /// <summary>
    /// W8: one SGD step (lr 0.01) of the character LM on mean cross-entropy over all B·T tokens, composed from runtime kernels:
    /// token + learned position embeddings, the two causal pre-LN blocks as one <see cref="TransformerKernels"/> stack, the
    /// final LayerNorm and the 128→96 head; backward in reverse; plain SGD over every tensor (as the TorchSharp peer's step).
    /// </summary>
    private sealed class CharLmTrain : IBenchCase
    {
        private const int D = BenchData.DModel, V = BenchData.LmVocab, T = BenchData.LmSeq;
        private static readonly TransformerGeometry G = new(D, BenchData.Heads, BenchData.Ffn, BenchData.LmLayers, normFirst: true, causal: true, FeedForwardActivation.Gelu);
        private readonly int _batch, _rows;
        private readonly int[] _ids, _labels;
        // Parameters and gradients: token [V, D], position [T, D], the stack, ln_f weight/bias [D], head weight [V, D] and bias [V].
        private readonly float[] _tok, _pos, _stack, _lnW, _lnB, _headW, _headB;
        private readonly float[] _dTok, _dPos, _dStack, _dLnW, _dLnB, _dHeadW, _dHeadB;
        private readonly Dictionary<string, int> _stackOffsets;
        private readonly WeightFile _weights;
        // Activations: embeddings and stack output [B·T, D], ln_f output, its statistics, logits and their gradient, scratch.
        private readonly float[] _h, _hs, _a, _mean, _rstd, _logits, _dLogits, _dA, _dHs, _dH, _kept, _ws;

        public CharLmTrain(WeightFile weights, CaseSpec spec)
        {
            if (weights.Entries.Count != 6 + 12 * BenchData.LmLayers) throw new InvalidOperationException($"char_lm.bin has {weights.Entries.Count} tensors.");
            _weights = weights;
            long[] shape = BenchData.TokenShape(spec.Kind, spec.Batch);
            _batch = checked((int)shape[0]);
            _rows = _batch * T;
            _ids = BenchData.Tokens(spec.Kind, spec.Batch).Select(id => checked((int)id)).ToArray();
            _labels = BenchData.Targets(spec.Kind, spec.Batch).Select(tag => checked((int)tag)).ToArray();
            float[] Get(string name, params long[] dims)
            {
                var e = weights[name];
                if (!e.Shape.SequenceEqual(dims)) throw new InvalidOperationException($"{name}: expected [{string.Join(", ", dims)}], char_lm.bin has [{string.Join(", ", e.Shape)}].");
                return (float[])e.Data.Clone();
            }
            _tok = Get("tok.weight", V, D);
            _pos = Get("pos.weight", T, D);
            (_stack, _stackOffsets) = StackParameters(G, weights, "char_lm.bin", (i, own) => $"blocks.{i}." + PeerName(own, "attn.in_proj_", "attn.out_proj."));
            _lnW = Get("ln_f.weight", D);
            _lnB = Get("ln_f.bias", D);
            _headW = Get("head.weight", V, D);
            _headB = Get("head.bias", V);
            (_dTok, _dPos, _dStack, _dLnW, _dLnB, _dHeadW, _dHeadB) = (new float[_tok.Length], new float[_pos.Length], new float[_stack.Length],
                new float[D], new float[D], new float[_headW.Length], new float[V]);
            int rd = _rows * D;
            (_h, _hs, _a, _dA, _dHs, _dH) = (new float[rd], new float[rd], new float[rd], new float[rd], new float[rd], new float[rd]);
            (_mean, _rstd) = (new float[_rows], new float[_rows]);
            (_logits, _dLogits) = (new float[_rows * V], new float[_rows * V]);
            _kept = new float[G.KeptLength(_batch, T)];
            _ws = new float[G.WorkspaceLength(_batch, T)];
        }

        public float[] Output()
        {
            Run();
            // Every tensor in weight-file order: the stack's by their file names, the rest directly.
            var result = new List<float>();
            foreach (var e in _weights.Entries)
                result.AddRange(e.Name switch
                {
                    "tok.weight" => _tok,
                    "pos.weight" => _pos,
                    "ln_f.weight" => _lnW,
                    "ln_f.bias" => _lnB,
                    "head.weight" => _headW,
                    "head.bias" => _headB,
                    _ => _stack.AsSpan(_stackOffsets[e.Name], e.Data.Length).ToArray(),
                });
            return result.ToArray();
        }

        public void Run()
        {
            Array.Clear(_dTok); Array.Clear(_dPos); Array.Clear(_dStack); Array.Clear(_dLnW); Array.Clear(_dLnB);   // zero_grad
            Array.Clear(_dHeadW); Array.Clear(_dHeadB);
            // h = tok[x] + pos[t]
            EmbeddingKernels.Forward(_ids, _tok, _h, V, D);
            for (int b = 0; b < _batch; b++) AddInto(_pos, _h.AsSpan(b * T * D, T * D));
            TransformerKernels.TrainForward(G, _h, _stack, _hs, _kept, default, _ws, _batch, T, 0f, null!);
            LayerNormKernels.Forward(_hs, _lnW, _lnB, _a, _mean, _rstd, _rows, D, 1e-5f);
            DenseKernels.Forward(default(IdentityActivation), _a, _headW, _headB, _logits, default, _rows, D, V);
            Loss.CrossEntropy.Compute(_logits, _labels, default, _dLogits, _rows);
            DenseKernels.Backward(default(IdentityActivation), _dLogits, default, default, _a, _headW, default, _dHeadW, _dHeadB, _dA, _rows, D, V);
            LayerNormKernels.Backward(_dA, _hs, _lnW, _mean, _rstd, _dHs, _dLnW, _dLnB, _rows, D);
            TransformerKernels.Backward(G, _dHs, _h, _stack, _kept, _dStack, _dH, default, _ws, _batch, T);
            EmbeddingKernels.Backward(_ids, _dH, _dTok, V, D, paddingIdx: -1);
            for (int b = 0; b < _batch; b++) AddInto(_dH.AsSpan(b * T * D, T * D), _dPos);
            Step(_tok, _dTok); Step(_pos, _dPos); Step(_stack, _dStack); Step(_lnW, _dLnW); Step(_lnB, _dLnB); Step(_headW, _dHeadW); Step(_headB, _dHeadB);
        }

        /// <summary>y += x (vectorised).</summary>
        private static void AddInto(ReadOnlySpan<float> x, Span<float> y)
        {
            int i = 0;
            for (; i + System.Numerics.Vector<float>.Count <= x.Length; i += System.Numerics.Vector<float>.Count)
                (new System.Numerics.Vector<float>(x[i..]) + new System.Numerics.Vector<float>(y[i..])).CopyTo(y[i..]);
            for (; i < x.Length; i++) y[i] += x[i];
        }

        /// <summary>Plain SGD, p ← p − 0.01·g.</summary>
        private static void Step(Span<float> p, ReadOnlySpan<float> g)
        {
            var lr = new System.Numerics.Vector<float>(0.01f);
            int i = 0;
            for (; i + System.Numerics.Vector<float>.Count <= p.Length; i += System.Numerics.Vector<float>.Count)
                (new System.Numerics.Vector<float>(p[i..]) - lr * new System.Numerics.Vector<float>(g[i..])).CopyTo(p[i..]);
            for (; i < p.Length; i++) p[i] -= 0.01f * g[i];
        }

        public void Dispose() { }
    }
}
