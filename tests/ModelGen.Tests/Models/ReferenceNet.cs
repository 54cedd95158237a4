// A double-precision interpreter of the same networks, written plainly from the definitions (PyTorch semantics),
// used as the scalar reference for forward outputs and, through central finite differences, for gradients.
namespace ModelGen.Tests.Models;

internal enum RefAct { None, ReLU, LeakyReLU, GELU, GELUTanh, SiLU, Sigmoid, Tanh, Softmax }

internal abstract record RefOp;
internal sealed record RefDense(string Name, int In, int Out, RefAct Act, bool Bias, double Slope = 0.01) : RefOp;
internal sealed record RefActivation(RefAct Act, double Slope = 0.01) : RefOp;
/// <summary>[Residual] over a block: x + block(x).</summary>
internal sealed record RefResidual(RefOp[] Block) : RefOp;

internal static class ReferenceNet
{
    /// <summary>Runs <paramref name="ops"/> on one example, reading weights by PyTorch name from <paramref name="p"/>.</summary>
    public static double[] Forward(IReadOnlyList<RefOp> ops, Func<string, double[]> p, double[] x)
    {
        foreach (var op in ops)
        {
            switch (op)
            {
                case RefDense d:
                {
                    var w = p(d.Name + ".weight");
                    var b = d.Bias ? p(d.Name + ".bias") : null;
                    var y = new double[d.Out];
                    for (int o = 0; o < d.Out; o++)
                    {
                        double s = b?[o] ?? 0;
                        for (int i = 0; i < d.In; i++) s += w[o * d.In + i] * x[i];
                        y[o] = s;
                    }
                    x = Apply(d.Act, d.Slope, y);
                    break;
                }
                case RefActivation a:
                    x = Apply(a.Act, a.Slope, x);
                    break;
                case RefResidual r:
                {
                    var input = x;
                    var y = Forward(r.Block, p, input);
                    x = input.Select((v, i) => v + y[i]).ToArray();
                    break;
                }
            }
        }
        return x;
    }

    private static double[] Apply(RefAct act, double slope, double[] x)
    {
        if (act == RefAct.Softmax)
        {
            double max = x.Max();
            var e = x.Select(v => Math.Exp(v - max)).ToArray();
            double sum = e.Sum();
            return e.Select(v => v / sum).ToArray();
        }
        return x.Select(v => act switch
        {
            RefAct.None => v,
            RefAct.ReLU => Math.Max(v, 0),
            RefAct.LeakyReLU => v > 0 ? v : slope * v,
            RefAct.GELU => 0.5 * v * (1 + Erf(v / Math.Sqrt(2))),
            RefAct.GELUTanh => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))),
            RefAct.SiLU => v / (1 + Math.Exp(-v)),
            RefAct.Sigmoid => 1 / (1 + Math.Exp(-v)),
            RefAct.Tanh => Math.Tanh(v),
            _ => throw new ArgumentOutOfRangeException(nameof(act)),
        }).ToArray();
    }

    /// <summary>erf in double: Maclaurin series below 3 (error ~1e-14), continued fraction for erfc above.</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        double r;
        if (ax < 3)
        {
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17 * sum; n++)
            {
                term *= -x2 / n;
                sum += term / (2 * n + 1);
            }
            r = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), evaluated bottom-up
            double f = ax;
            for (int k = 60; k >= 1; k--) f = ax + k / 2.0 / f;
            r = 1 - Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        }
        return x < 0 ? -r : r;
    }
}
