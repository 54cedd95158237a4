// Plain float64 references for attention and Transformer encoder stacks, written straight from PyTorch's formulas: the
// full score matrix is materialised, masked with −∞, softmaxed and multiplied by V; every layer is the textbook
// composition of LayerNorm, linear maps, attention, activation and residual adds. No tiling, no fusion, no reuse of the
// kernels under test. Dropout masks are given (drawn as TransformerKernels draws them), so the function is deterministic
// and central differences through it are the gradients the kernels must reproduce.
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

internal static class TransformerReference
{
    /// <summary>
    /// Attention per example b and head h: o[b, i, h, :] = Σ_j softmax_j(q_i·k_j/√hs)·v_j over j &lt; len_b (and j ≤ i when causal);
    /// rows are [batch·seq] with <paramref name="ld"/> floats between them, head h at columns h·hs. Returns o [batch·seq, heads·hs]
    /// and lse [batch·seq, heads]. With <paramref name="weightMask"/> (attention dropout), weight (b, h, i, j) is multiplied by
    /// weightMask(b, h, i, j) after the softmax (lse stays that of the undropped scores).
    /// </summary>
    public static (double[] Output, double[] Lse) Attention(double[] q, double[] k, double[] v, int ld, int[]? lengths, bool causal,
        int batch, int seq, int heads, int hs, Func<int, int, int, int, double>? weightMask = null)
    {
        int width = heads * hs;
        var o = new double[batch * seq * width];
        var lse = new double[batch * seq * heads];
        double scale = 1 / Math.Sqrt(hs);
        var s = new double[seq];
        for (int b = 0; b < batch; b++)
        {
            int len = lengths?[b] ?? seq;
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < seq; i++)
                {
                    int qi = (b * seq + i) * ld + h * hs;
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < seq; j++)
                    {
                        bool masked = j >= len || (causal && j > i);
                        double dot = 0;
                        if (!masked)
                            for (int p = 0; p < hs; p++) dot += q[qi + p] * k[(b * seq + j) * ld + h * hs + p];
                        s[j] = masked ? double.NegativeInfinity : dot * scale;
                        max = Math.Max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < seq; j++) sum += Math.Exp(s[j] - max);
                    lse[(b * seq + i) * heads + h] = max + Math.Log(sum);
                    for (int j = 0; j < seq; j++)
                    {
                        double pj = Math.Exp(s[j] - max) / sum;
                        if (pj == 0) continue;
                        if (weightMask != null) pj *= weightMask(b, h, i, j);
                        for (int p = 0; p < hs; p++) o[(b * seq + i) * width + h * hs + p] += pj * v[(b * seq + j) * ld + h * hs + p];
                    }
                }
        }
        return (o, lse);
    }

    /// <summary>
    /// Analytic attention backward in float64 (the textbook formulas over the materialised P): dV = Pᵀ·dO, dP = dO·Vᵀ,
    /// dS = P ⊙ (dP − rowsum(P ⊙ dP)), dQ = dS·K/√hs, dK = dSᵀ·Q/√hs. Gradients have row stride <paramref name="ld"/> like the inputs.
    /// With <paramref name="weightMask"/> M (dropout after the softmax): dV = (P ⊙ M)ᵀ·dO and dP = M ⊙ (dO·Vᵀ).
    /// </summary>
    public static (double[] DQ, double[] DK, double[] DV) AttentionBackward(double[] dO, double[] q, double[] k, double[] v, int ld, int[]? lengths,
        bool causal, int batch, int seq, int heads, int hs, Func<int, int, int, int, double>? weightMask = null)
    {
        int width = heads * hs;
        var dq = new double[q.Length];
        var dk = new double[k.Length];
        var dv = new double[v.Length];
        double scale = 1 / Math.Sqrt(hs);
        var pr = new double[seq];
        var dp = new double[seq];
        var mj = new double[seq];
        for (int b = 0; b < batch; b++)
        {
            int len = lengths?[b] ?? seq;
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < seq; i++)
                {
                    int qi = (b * seq + i) * ld + h * hs, oi = (b * seq + i) * width + h * hs;
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < seq; j++)
                    {
                        bool masked = j >= len || (causal && j > i);
                        double dot = 0;
                        if (!masked)
                            for (int p = 0; p < hs; p++) dot += q[qi + p] * k[(b * seq + j) * ld + h * hs + p];
                        pr[j] = masked ? double.NegativeInfinity : dot * scale;
                        max = Math.Max(max, pr[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < seq; j++) sum += Math.Exp(pr[j] - max);
                    double rowDot = 0;
                    for (int j = 0; j < seq; j++)
                    {
                        pr[j] = Math.Exp(pr[j] - max) / sum;
                        double d = 0;
                        for (int p = 0; p < hs; p++) d += dO[oi + p] * v[(b * seq + j) * ld + h * hs + p];
                        mj[j] = weightMask == null ? 1 : weightMask(b, h, i, j);
                        d *= mj[j];
                        dp[j] = d;
                        rowDot += pr[j] * d;
                    }
                    for (int j = 0; j < seq; j++)
                    {
                        if (pr[j] == 0) continue;
                        int kj = (b * seq + j) * ld + h * hs;
                        double ds = pr[j] * (dp[j] - rowDot) * scale;
                        for (int p = 0; p < hs; p++)
                        {
                            dv[kj + p] += pr[j] * mj[j] * dO[oi + p];
                            dq[qi + p] += ds * k[kj + p];
                            dk[kj + p] += ds * q[qi + p];
                        }
                    }
                }
        }
        return (dq, dk, dv);
    }

    /// <summary>Dropout masks of one layer (values 0 or 1/(1−p)), [rows·d], [rows·ff], [rows·d], and the attention-weight mask (b, h, i, j) or null.</summary>
    public sealed record LayerMasks(double[] Attention, double[] FeedForward, double[] Output, Func<int, int, int, int, double>? AttentionWeights = null);

    /// <summary>The masks TransformerKernels.TrainForward draws from a generator seeded with <paramref name="seed"/>: per layer,
    /// the attention output (p), the activation (<paramref name="feedForwardP"/>, or p when null) and the feed-forward output (p),
    /// one draw per element in order (none for a tensor whose probability is 0); with <paramref name="attentionP"/> &gt; 0, layer l's
    /// attention weights are dropped by the counter-based mask of <paramref name="attentionSeed"/> derived for layer l.</summary>
    public static LayerMasks[] Masks(in TransformerGeometry g, int batch, int seq, float p, ulong seed, float? feedForwardP = null,
        float attentionP = 0f, ulong attentionSeed = 0)
    {
        var rng = new Rng(seed);
        int rows = batch * seq;
        double[] Draw(int n, float q)
        {
            float scale = 1f / (1f - q);
            var m = new double[n];
            for (int i = 0; i < n; i++) m[i] = q == 0f ? 1.0 : rng.NextFloat() >= q ? scale : 0.0;
            return m;
        }
        float pf = feedForwardP ?? p;
        var masks = new LayerMasks[g.Layers];
        for (int l = 0; l < g.Layers; l++)
        {
            double[] a = Draw(rows * g.Model, p), f = Draw(rows * g.FeedForward, pf), o = Draw(rows * g.Model, p);
            Func<int, int, int, int, double>? weights = null;
            if (attentionP > 0f)
            {
                var drop = new AttentionDropout(attentionP, attentionSeed).For(l);
                weights = (b, h, i, j) => drop.Keeps(b, h, i, j) ? 1.0 / (1.0 - attentionP) : 0.0;
            }
            masks[l] = new LayerMasks(a, f, o, weights);
        }
        return masks;
    }

    /// <summary>
    /// The stack's forward in float64, PyTorch's nn.TransformerEncoderLayer per layer (see TransformerKernels' remarks), on
    /// the input as given (padded positions included; they are only masked as keys).
    /// </summary>
    public static double[] Forward(in TransformerGeometry g, double[] x, double[] parameters, int[]? lengths, int batch, int seq, LayerMasks[]? masks = null)
    {
        int rows = batch * seq, d = g.Model, ff = g.FeedForward;
        double[] h = (double[])x.Clone();
        int offset = 0;
        for (int l = 0; l < g.Layers; l++)
        {
            var w = new Weights(g, parameters, offset);
            offset += g.LayerParameterCount;
            var m = masks?[l];
            if (g.NormFirst)
            {
                double[] sa = SelfAttention(g, LayerNorm(h, w.Norm1Weight, w.Norm1Bias, rows, d, g.Eps), w, lengths, batch, seq, m?.AttentionWeights);
                h = Add(h, Mask(sa, m?.Attention));
                double[] f = FeedForward(g, LayerNorm(h, w.Norm2Weight, w.Norm2Bias, rows, d, g.Eps), w, rows, m?.FeedForward);
                h = Add(h, Mask(f, m?.Output));
            }
            else
            {
                double[] sa = SelfAttention(g, h, w, lengths, batch, seq, m?.AttentionWeights);
                h = LayerNorm(Add(h, Mask(sa, m?.Attention)), w.Norm1Weight, w.Norm1Bias, rows, d, g.Eps);
                double[] f = FeedForward(g, h, w, rows, m?.FeedForward);
                h = LayerNorm(Add(h, Mask(f, m?.Output)), w.Norm2Weight, w.Norm2Bias, rows, d, g.Eps);
            }
        }
        return h;
    }

    private static double[] SelfAttention(in TransformerGeometry g, double[] x, in Weights w, int[]? lengths, int batch, int seq,
        Func<int, int, int, int, double>? weightMask)
    {
        int rows = batch * seq, d = g.Model;
        double[] qkv = Linear(x, w.InProjWeight, w.InProjBias, rows, d, 3 * d);
        double[] q = new double[rows * d], k = new double[rows * d], v = new double[rows * d];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d; j++)
            {
                q[r * d + j] = qkv[r * 3 * d + j];
                k[r * d + j] = qkv[r * 3 * d + d + j];
                v[r * d + j] = qkv[r * 3 * d + 2 * d + j];
            }
        if (g.Rotary is { } rope)
        {
            // RoPE on every head of q and k, from the formula (RotaryKernels' double reference), positions 0..seq-1.
            RotaryKernels.ReferenceForward(q, rope.HeadSize, batch, seq, d, d, 0, rope.Base);
            RotaryKernels.ReferenceForward(k, rope.HeadSize, batch, seq, d, d, 0, rope.Base);
        }
        double[] o = Attention(q, k, v, d, lengths, g.Causal, batch, seq, g.Heads, g.HeadSize, weightMask).Output;
        return Linear(o, w.OutProjWeight, w.OutProjBias, rows, d, d);
    }

    private static double[] FeedForward(in TransformerGeometry g, double[] x, in Weights w, int rows, double[]? mask)
    {
        double[] h = Linear(x, w.Linear1Weight, w.Linear1Bias, rows, g.Model, g.FeedForward);
        for (int i = 0; i < h.Length; i++)
            h[i] = g.Activation == FeedForwardActivation.Gelu ? h[i] * KernelTestUtil.Phi(h[i]) : Math.Max(h[i], 0);
        return Linear(Mask(h, mask), w.Linear2Weight, w.Linear2Bias, rows, g.FeedForward, g.Model);
    }

    /// <summary>y[r, o] = Σ_i x[r, i]·W[o, i] + b[o].</summary>
    public static double[] Linear(double[] x, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias, int rows, int inF, int outF)
    {
        var y = new double[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double s = bias[o];
                for (int i = 0; i < inF; i++) s += x[r * inF + i] * weight[o * inF + i];
                y[r * outF + o] = s;
            }
        return y;
    }

    internal static double[] LayerNorm(double[] x, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias, int rows, int d, double eps)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, variance = 0;
            for (int j = 0; j < d; j++) mean += x[r * d + j];
            mean /= d;
            for (int j = 0; j < d; j++) variance += (x[r * d + j] - mean) * (x[r * d + j] - mean);
            double rstd = 1 / Math.Sqrt(variance / d + eps);
            for (int j = 0; j < d; j++) y[r * d + j] = (x[r * d + j] - mean) * rstd * weight[j] + bias[j];
        }
        return y;
    }

    internal static double[] Add(double[] a, double[] b)
    {
        var y = new double[a.Length];
        for (int i = 0; i < a.Length; i++) y[i] = a[i] + b[i];
        return y;
    }

    internal static double[] Mask(double[] x, double[]? mask)
    {
        if (mask is null) return x;
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * mask[i];
        return y;
    }

    /// <summary>One layer's tensors in state-dict order, as views into the parameter array.</summary>
    private readonly struct Weights
    {
        private readonly double[] _p;
        private readonly int _d, _ff, _at;

        public Weights(in TransformerGeometry g, double[] p, int offset)
        {
            _p = p;
            _d = g.Model;
            _ff = g.FeedForward;
            _at = offset;
        }

        private ReadOnlySpan<double> At(int start, int length) => _p.AsSpan(_at + start, length);
        private int D2 => _d * _d;
        public ReadOnlySpan<double> InProjWeight => At(0, 3 * D2);
        public ReadOnlySpan<double> InProjBias => At(3 * D2, 3 * _d);
        public ReadOnlySpan<double> OutProjWeight => At(3 * D2 + 3 * _d, D2);
        public ReadOnlySpan<double> OutProjBias => At(4 * D2 + 3 * _d, _d);
        public ReadOnlySpan<double> Linear1Weight => At(4 * D2 + 4 * _d, _ff * _d);
        public ReadOnlySpan<double> Linear1Bias => At(4 * D2 + 4 * _d + _ff * _d, _ff);
        public ReadOnlySpan<double> Linear2Weight => At(4 * D2 + 4 * _d + _ff * _d + _ff, _d * _ff);
        public ReadOnlySpan<double> Linear2Bias => At(4 * D2 + 4 * _d + 2 * _ff * _d + _ff, _d);
        private int Norms => 4 * D2 + 5 * _d + 2 * _ff * _d + _ff;
        public ReadOnlySpan<double> Norm1Weight => At(Norms, _d);
        public ReadOnlySpan<double> Norm1Bias => At(Norms + _d, _d);
        public ReadOnlySpan<double> Norm2Weight => At(Norms + 2 * _d, _d);
        public ReadOnlySpan<double> Norm2Bias => At(Norms + 3 * _d, _d);
    }
}
