// A plain double-precision LSTM/GRU stack, written straight from PyTorch's formulas (nn.LSTM, nn.GRU, packed sequences),
// one example, one direction and one step at a time: the reference the fast kernels are checked against.
using ModelGen.Kernels;

namespace ModelGen.Tests.Kernels;

internal static class RecurrentReference
{
    /// <summary>Output (the kernels' output layout) and final state (h_n then, for LSTM, c_n: [Layers·Directions, batch, H] each).</summary>
    public sealed record Result(double[] Output, double[] FinalState);

    /// <param name="masks">Per layer below the top, the scaled dropout mask [batch, seq, Directions·H], or null for none.</param>
    public static Result Forward(RecurrentGeometry g, double[] x, double[] p, int[]? lengths, int batch, int seq,
        double[]? initialState = null, double[][]? masks = null)
    {
        int h = g.Hidden, gates = g.GateCount, dirs = g.Directions, dh = dirs * h, gh = gates * h;
        bool lstm = g.Cell == RecurrentCell.Lstm;
        long hBlock = (long)g.Layers * dirs * batch * h;
        var final = new double[g.StateLength(batch)];
        double[] layerIn = x, seqOut = [];
        int inL = g.InputSize, offset = 0;
        for (int l = 0; l < g.Layers; l++)
        {
            seqOut = new double[batch * seq * dh];
            for (int d = 0; d < dirs; d++)
            {
                int wIh = offset, wHh = wIh + gh * inL, bIh = wHh + gh * h, bHh = bIh + gh;
                offset = bHh + gh;
                for (int b = 0; b < batch; b++)
                {
                    int len = lengths?[b] ?? seq;
                    long slot = ((long)(l * dirs + d) * batch + b) * h;
                    var hs = new double[h];
                    var cs = new double[h];
                    if (initialState != null)
                        for (int j = 0; j < h; j++)
                        {
                            hs[j] = initialState[slot + j];
                            if (lstm) cs[j] = initialState[hBlock + slot + j];
                        }
                    for (int s = 0; s < len; s++)
                    {
                        int t = d == 0 ? s : len - 1 - s;
                        var gi = new double[gh];
                        var gw = new double[gh];
                        for (int r = 0; r < gh; r++)
                        {
                            double si = p[bIh + r], sh = p[bHh + r];
                            for (int k = 0; k < inL; k++) si += p[wIh + r * inL + k] * layerIn[((long)b * seq + t) * inL + k];
                            for (int k = 0; k < h; k++) sh += p[wHh + r * h + k] * hs[k];
                            gi[r] = si;
                            gw[r] = sh;
                        }
                        var hNew = new double[h];
                        for (int j = 0; j < h; j++)
                        {
                            if (lstm)
                            {
                                double i = Sigmoid(gi[j] + gw[j]), f = Sigmoid(gi[h + j] + gw[h + j]);
                                double gg = Math.Tanh(gi[2 * h + j] + gw[2 * h + j]), o = Sigmoid(gi[3 * h + j] + gw[3 * h + j]);
                                cs[j] = f * cs[j] + i * gg;
                                hNew[j] = o * Math.Tanh(cs[j]);
                            }
                            else
                            {
                                double r = Sigmoid(gi[j] + gw[j]), z = Sigmoid(gi[h + j] + gw[h + j]);
                                double n = Math.Tanh(gi[2 * h + j] + r * gw[2 * h + j]);
                                hNew[j] = (1 - z) * n + z * hs[j];
                            }
                        }
                        hs = hNew;
                        for (int j = 0; j < h; j++) seqOut[((long)b * seq + t) * dh + d * h + j] = hs[j];
                    }
                    for (int j = 0; j < h; j++)
                    {
                        final[slot + j] = hs[j];
                        if (lstm) final[hBlock + slot + j] = cs[j];
                    }
                }
            }
            layerIn = seqOut;
            if (l < g.Layers - 1 && masks != null)
            {
                layerIn = new double[seqOut.Length];
                for (int i = 0; i < seqOut.Length; i++) layerIn[i] = seqOut[i] * masks[l][i];
            }
            inL = dh;
        }
        if (g.ReturnSequences) return new Result(seqOut, final);
        var output = new double[batch * dh];
        for (int b = 0; b < batch; b++)
        {
            int len = lengths?[b] ?? seq;
            for (int j = 0; j < h; j++)
            {
                output[b * dh + j] = seqOut[((long)b * seq + len - 1) * dh + j];
                if (dirs == 2) output[b * dh + h + j] = seqOut[(long)b * seq * dh + h + j];
            }
        }
        return new Result(output, final);
    }

    /// <summary>
    /// The dropout masks TrainForward draws: per layer below the top, one NextFloat per element in time-major
    /// [seq, batch, D·H] order; returned in the batch-first [batch, seq, D·H] layout the reference uses.
    /// </summary>
    public static double[][] Masks(RecurrentGeometry g, int batch, int seq, float p, ulong seed)
    {
        var rng = new Rng(seed);
        var masks = new double[g.Layers - 1][];
        float scale = 1f / (1f - p);
        int f = g.OutputFeatures;
        for (int l = 0; l < g.Layers - 1; l++)
        {
            masks[l] = new double[batch * seq * f];
            for (int t = 0; t < seq; t++)
                for (int b = 0; b < batch; b++)
                    for (int i = 0; i < f; i++)
                        masks[l][(b * seq + t) * f + i] = p == 0f ? 1.0 : rng.NextFloat() >= p ? scale : 0.0;
        }
        return masks;
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}
