// Shared helpers for kernel tests: seeded data, double-precision references of the activations, erf/erfc in double.
namespace ModelGen.Tests.Kernels;

internal static class KernelTestUtil
{
    /// <summary>Uniform floats in [lo, hi) from a fixed seed.</summary>
    public static float[] Uniform(int n, ulong seed, float lo = -1f, float hi = 1f)
    {
        var rng = new Rng(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.NextFloat();
        return v;
    }

    /// <summary>∂loss/∂values[i] by central differences (h = 1e-6, in double), leaving <paramref name="values"/> unchanged.</summary>
    public static double CentralDifference(double[] values, int i, Func<double[], double> loss)
    {
        double saved = values[i], h = 1e-6;
        values[i] = saved + h;
        double plus = loss(values);
        values[i] = saved - h;
        double minus = loss(values);
        values[i] = saved;
        return (plus - minus) / (2 * h);
    }

    /// <summary>Up to <paramref name="count"/> distinct indices of [0, n), spread over the whole range (every tensor gets some).</summary>
    public static int[] Sample(int n, int count, ulong seed)
    {
        if (n <= count) return Enumerable.Range(0, n).ToArray();
        var rng = new Rng(seed);
        var set = new SortedSet<int>();
        for (int k = 0; k < count; k++) set.Add((int)((k + rng.NextFloat()) * n / count));
        return set.Where(i => i < n).ToArray();
    }

    /// <summary>The state-dict name of the tensor holding parameter <paramref name="index"/> of a layout (a geometry's ParameterTensors()), for messages.</summary>
    public static string TensorName(IEnumerable<(string Name, int[] Shape)> tensors, int index)
    {
        foreach (var (name, shape) in tensors)
        {
            int size = shape.Aggregate(1, (a, b) => a * b);
            if (index < size) return $"{name}[{index}]";
            index -= size;
        }
        return "?";
    }

    /// <summary>erf in double: Maclaurin series for |x| &lt; 2.5, 1 − erfc (continued fraction) beyond. Error &lt; 1e-13.</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 2.5)
        {
            double term = ax, sum = ax;
            for (int n = 1; n < 100; n++)
            {
                term *= -ax * ax / n;
                sum += term / (2 * n + 1);
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        return Math.Sign(x) * (1 - ErfcLarge(ax));
    }

    /// <summary>erfc for x ≥ 2.5 by its continued fraction (accurate in relative terms in the far tail).</summary>
    private static double ErfcLarge(double x)
    {
        double f = 0;
        for (int n = 80; n >= 1; n--) f = n / 2.0 / (x + f);
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / (x + f);
    }

    /// <summary>Standard normal CDF in double, accurate in both tails.</summary>
    public static double Phi(double x)
    {
        double z = x / Math.Sqrt(2);
        if (z < -2.5) return 0.5 * ErfcLarge(-z);
        return 0.5 * (1 + Erf(z));
    }

    /// <summary>Double-precision reference for each activation under test, by name.</summary>
    public static double Reference(string name, double x) => name switch
    {
        "Identity" => x,
        "Relu" => Math.Max(x, 0),
        "LeakyRelu" => x > 0 ? x : LeakySlope * x,
        "Gelu" => x * Phi(x),
        "GeluTanh" => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        "Silu" => x / (1 + Math.Exp(-x)),
        "Sigmoid" => 1 / (1 + Math.Exp(-x)),
        "Tanh" => Math.Tanh(x),
        _ => throw new ArgumentException($"unknown activation '{name}'", nameof(name)),
    };

    /// <summary>Central finite difference of <see cref="Reference"/> in double.</summary>
    public static double ReferenceDerivative(string name, double x)
    {
        double h = 1e-6 * Math.Max(1, Math.Abs(x));
        return (Reference(name, x + h) - Reference(name, x - h)) / (2 * h);
    }

    /// <summary>Whether the activation has a kink at 0 (finite differences there are meaningless).</summary>
    public static bool HasKinkAtZero(string name) => name is "Relu" or "LeakyRelu";

    public const float LeakySlope = 0.1f;

    public static readonly string[] ActivationNames = ["Identity", "Relu", "LeakyRelu", "Gelu", "GeluTanh", "Silu", "Sigmoid", "Tanh"];
}
