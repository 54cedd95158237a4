// Maximum error of the vectorised transcendental kernels against float64, over every finite float they accept:
// the sweep walks all 2^32 bit patterns with a fixed odd stride (so every binade of both signs, denormals
// included, gets thousands of samples) and adds a dense pass over [-30, 30] where activations change fastest.
// Each function runs at the scalar, 128- and 256-bit widths (and 512-bit where the CPU has it) exactly as the
// kernels call it. Errors: absolute, and in float ulps of the correctly rounded result (the ulp of the float64 value
// rounded to float), the latter only where |f(x)| ≥ 1e-30, clear of underflow.
using System.Runtime.Intrinsics;
using ModelGen.Kernels;

internal static class Accuracy
{
    private sealed record Fn(string Name, string Domain, Func<double, double> Reference,
        Func<float, float> Scalar, Func<Vector128<float>, Vector128<float>> V128, Func<Vector256<float>, Vector256<float>> V256,
        Func<Vector512<float>, Vector512<float>> V512);

    public static void Run(uint stride)
    {
        var gelu = default(GeluActivation);
        var tanh = default(TanhActivation);
        var sigmoid = default(SigmoidActivation);
        var silu = default(SiluActivation);
        var geluTanh = default(GeluTanhActivation);
        Fn[] fns =
        [
            new("exp (BCL Vector*.Exp)", "all finite x", Math.Exp, MathF.Exp, Vector128.Exp, Vector256.Exp, Vector512.Exp),
            new("tanh", "all finite x", Math.Tanh, tanh.Invoke, tanh.Invoke, tanh.Invoke, tanh.Invoke),
            new("sigmoid", "all finite x", x => 1 / (1 + Math.Exp(-x)), sigmoid.Invoke, sigmoid.Invoke, sigmoid.Invoke, sigmoid.Invoke),
            new("gelu (erf: x·Φ(x))", "all finite x", x => x * Phi(x), gelu.Invoke, gelu.Invoke, gelu.Invoke, gelu.Invoke),
            // ½x(1 + tanh u) = x·σ(2u): the σ form has no cancellation in double either (1 + tanh(−19) is 0 in float64).
            new("gelu tanh approx.", "all finite x", x => x / (1 + Math.Exp(-2 * Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
                geluTanh.Invoke, geluTanh.Invoke, geluTanh.Invoke, geluTanh.Invoke),
            new("silu", "all finite x", x => x / (1 + Math.Exp(-x)), silu.Invoke, silu.Invoke, silu.Invoke, silu.Invoke),
            // The recurrent cells' inlined forms (scalar column: the cells' scalar tails).
            new("σ of the LSTM/GRU cells (FastSigmoid)", "all finite x", x => 1 / (1 + Math.Exp(-x)), VectorMath.Sigmoid,
                VectorMath.FastSigmoid, VectorMath.FastSigmoid, VectorMath.FastSigmoid),
            new("tanh of the LSTM/GRU cells (FastTanh)", "all finite x", Math.Tanh, VectorMath.Tanh, VectorMath.FastTanh, VectorMath.FastTanh, VectorMath.FastTanh),
        ];
        int[] widths = Vector512.IsHardwareAccelerated ? [0, 128, 256, 512] : [0, 128, 256];
        Console.WriteLine($"| function | width | max abs error | at x | max ulp error (\\|f\\| ≥ 1e-30) | at x | max rel error (\\|f\\| ≥ 1e-3) |");
        Console.WriteLine($"|---|---|---|---|---|---|---|");
        foreach (var fn in fns)
            foreach (int w in widths)
            {
                var (abs, absAt, ulp, ulpAt, rel) = Sweep(fn, w, stride);
                Console.WriteLine($"| {fn.Name} | {(w == 0 ? "scalar" : w + "-bit")} | {abs:0.0e+00} | {absAt:G6} | {ulp:F2} | {ulpAt:G6} | {rel:0.0e+00} |");
            }
        LogSoftmax();
    }

    private static (double Abs, float AbsAt, double Ulp, float UlpAt, double Rel) Sweep(Fn fn, int width, uint stride)
    {
        double maxAbs = 0, maxUlp = 0, maxRel = 0;
        float absAt = 0, ulpAt = 0;
        const int Batch = 16;
        var xs = new float[Batch];
        var ys = new float[Batch];
        int count = 0;
        void Flush()
        {
            Eval(fn, width, xs, ys, count);
            for (int i = 0; i < count; i++)
            {
                double r = fn.Reference(xs[i]);
                float rf = (float)r;
                double err = float.IsInfinity(rf) ? (ys[i] == rf ? 0 : double.PositiveInfinity) : Math.Abs(ys[i] - r);
                if (double.IsNaN(err) || err > maxAbs) { maxAbs = double.IsNaN(err) ? double.NaN : err; absAt = xs[i]; }
                // ulps only where the result is clear of float underflow: below 1e-30 the exponentials involved
                // (e^{±x} for |x| > 69) leave the float range, and only the absolute error says something there.
                double u = float.IsInfinity(rf) || Math.Abs(r) < UlpFloor ? 0 : err / Ulp(rf);
                if (double.IsNaN(u) || u > maxUlp) { maxUlp = double.IsNaN(u) ? double.NaN : u; ulpAt = xs[i]; }
                if (Math.Abs(r) >= 1e-3 && !float.IsInfinity(rf)) maxRel = Math.Max(maxRel, err / Math.Abs(r));
            }
            count = 0;
        }
        void Add(float x)
        {
            xs[count++] = x;
            if (count == Batch) Flush();
        }
        for (ulong bits = 0; bits < (1UL << 32); bits += stride)
        {
            float x = BitConverter.UInt32BitsToSingle((uint)bits);
            if (float.IsFinite(x)) Add(x);
        }
        for (double x = -30; x <= 30; x += 1.0 / 1024) Add((float)x);   // dense where the curves bend
        Flush();
        return (maxAbs, absAt, maxUlp, ulpAt, maxRel);
    }

    private static void Eval(Fn fn, int width, float[] xs, float[] ys, int count)
    {
        if (width == 0) { for (int i = 0; i < count; i++) ys[i] = fn.Scalar(xs[i]); return; }
        var x = xs.AsSpan();
        var y = ys.AsSpan();
        int step = width / 32;
        for (int i = 0; i + step <= 16; i += step)
        {
            if (width == 128) fn.V128(Vector128.Create(x.Slice(i, 4))).CopyTo(y.Slice(i, 4));
            else if (width == 256) fn.V256(Vector256.Create(x.Slice(i, 8))).CopyTo(y.Slice(i, 8));
            else fn.V512(Vector512.Create(x.Slice(i, 16))).CopyTo(y.Slice(i, 16));
        }
    }

    private const double UlpFloor = 1e-30;

    /// <summary>The spacing of floats at |f| (the denormal spacing below the normal range).</summary>
    private static double Ulp(float f)
    {
        float a = MathF.Abs(f);
        if (a < float.Epsilon * 2) return float.Epsilon;
        return (double)MathF.BitIncrement(a) - a;
    }

    /// <summary>log-softmax rows (10 and 1000 wide) with logits spread over [-s, s] for s up to 1e4, vs float64.</summary>
    private static void LogSoftmax()
    {
        var rng = new Random(5);
        Console.WriteLine();
        Console.WriteLine("| log-softmax row width | logits uniform in | max abs error | in ulps of the largest \\|output\\| |");
        Console.WriteLine("|---|---|---|---|");
        foreach (int cols in new[] { 10, 1000 })
            foreach (float spread in new[] { 1f, 30f, 100f, 1e4f })
            {
                const int rows = 200;
                var x = new float[rows * cols];
                for (int i = 0; i < x.Length; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * spread);
                var y = new float[x.Length];
                Softmax.LogForward(x, y, rows, cols);
                double maxAbs = 0, maxOut = 0;
                for (int r = 0; r < rows; r++)
                {
                    double max = double.NegativeInfinity, sum = 0;
                    for (int j = 0; j < cols; j++) max = Math.Max(max, x[r * cols + j]);
                    for (int j = 0; j < cols; j++) sum += Math.Exp(x[r * cols + j] - max);
                    double lse = max + Math.Log(sum);
                    for (int j = 0; j < cols; j++)
                    {
                        maxAbs = Math.Max(maxAbs, Math.Abs(y[r * cols + j] - (x[r * cols + j] - lse)));
                        maxOut = Math.Max(maxOut, Math.Abs(x[r * cols + j] - lse));
                    }
                }
                Console.WriteLine($"| {cols} | ±{spread:G} | {maxAbs:0.0e+00} | {maxAbs / Ulp((float)maxOut):F2} |");
            }
    }

    // Standard normal CDF in double, accurate in both tails (series for |z| < 2.5, continued fraction beyond).
    private static double Phi(double x)
    {
        double z = x / Math.Sqrt(2);
        if (z < -2.5) return 0.5 * ErfcLarge(-z);
        if (z > 2.5) return 1 - 0.5 * ErfcLarge(z);
        double term = z, sum = z;
        for (int n = 1; n < 100; n++)
        {
            term *= -z * z / n;
            sum += term / (2 * n + 1);
        }
        return 0.5 * (1 + 2 / Math.Sqrt(Math.PI) * sum);
    }

    private static double ErfcLarge(double x)
    {
        double f = 0;
        for (int n = 80; n >= 1; n--) f = n / 2.0 / (x + f);
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / (x + f);
    }
}
