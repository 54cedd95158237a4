// Single-thread FP32 FMA peak of this machine, measured the way the toolchain notes prescribe: 12 independent
// accumulator chains (acc_i = acc_i·b + c), enough to cover FMA latency × throughput on Zen 4/5, so the loop is
// throughput-bound. GEMM efficiency in the report is quoted against this figure from the same run.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PeerBench;

/// <summary>Measures the FP32 fused-multiply-add peak of one core at the widest hardware-accelerated vector width.</summary>
public static class FmaPeak
{
    /// <summary>The widest accelerated width in bits (512, 256, 128) or 0 (scalar).</summary>
    public static int Width => Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>Best GFLOP/s (2 flops per lane per FMA) over <paramref name="trials"/> runs of ~<paramref name="trialMs"/> ms each.</summary>
    public static double Measure(int trials = 7, double trialMs = 60)
    {
        int width = Width;
        Run(width, 1 << 12);   // JIT the loop
        long iters = 1 << 16;
        double best = 0;
        for (int t = 0; t < trials; t++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Run(width, iters);
            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            double flops = 12.0 * 2 * Math.Max(1, width / 32) * iters;
            best = Math.Max(best, flops / s / 1e9);
            if (s < trialMs / 1000 / 2) iters *= 2;   // grow the loop until a trial is long enough to time
        }
        return best;
    }

    private static float Run(int width, long iters) => width switch
    {
        512 => Run512(iters),
        256 => Run256(iters),
        128 => Run128(iters),
        _ => RunScalar(iters),
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run512(long iters)
    {
        Vector512<float> b = Vector512.Create(0.999f), c = Vector512.Create(1e-3f);
        Vector512<float> a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b, a10 = b, a11 = b;
        for (long i = 0; i < iters; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, b, c); a1 = Vector512.FusedMultiplyAdd(a1, b, c);
            a2 = Vector512.FusedMultiplyAdd(a2, b, c); a3 = Vector512.FusedMultiplyAdd(a3, b, c);
            a4 = Vector512.FusedMultiplyAdd(a4, b, c); a5 = Vector512.FusedMultiplyAdd(a5, b, c);
            a6 = Vector512.FusedMultiplyAdd(a6, b, c); a7 = Vector512.FusedMultiplyAdd(a7, b, c);
            a8 = Vector512.FusedMultiplyAdd(a8, b, c); a9 = Vector512.FusedMultiplyAdd(a9, b, c);
            a10 = Vector512.FusedMultiplyAdd(a10, b, c); a11 = Vector512.FusedMultiplyAdd(a11, b, c);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run256(long iters)
    {
        Vector256<float> b = Vector256.Create(0.999f), c = Vector256.Create(1e-3f);
        Vector256<float> a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b, a10 = b, a11 = b;
        for (long i = 0; i < iters; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, b, c); a1 = Vector256.FusedMultiplyAdd(a1, b, c);
            a2 = Vector256.FusedMultiplyAdd(a2, b, c); a3 = Vector256.FusedMultiplyAdd(a3, b, c);
            a4 = Vector256.FusedMultiplyAdd(a4, b, c); a5 = Vector256.FusedMultiplyAdd(a5, b, c);
            a6 = Vector256.FusedMultiplyAdd(a6, b, c); a7 = Vector256.FusedMultiplyAdd(a7, b, c);
            a8 = Vector256.FusedMultiplyAdd(a8, b, c); a9 = Vector256.FusedMultiplyAdd(a9, b, c);
            a10 = Vector256.FusedMultiplyAdd(a10, b, c); a11 = Vector256.FusedMultiplyAdd(a11, b, c);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run128(long iters)
    {
        Vector128<float> b = Vector128.Create(0.999f), c = Vector128.Create(1e-3f);
        Vector128<float> a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b, a10 = b, a11 = b;
        for (long i = 0; i < iters; i++)
        {
            a0 = Vector128.FusedMultiplyAdd(a0, b, c); a1 = Vector128.FusedMultiplyAdd(a1, b, c);
            a2 = Vector128.FusedMultiplyAdd(a2, b, c); a3 = Vector128.FusedMultiplyAdd(a3, b, c);
            a4 = Vector128.FusedMultiplyAdd(a4, b, c); a5 = Vector128.FusedMultiplyAdd(a5, b, c);
            a6 = Vector128.FusedMultiplyAdd(a6, b, c); a7 = Vector128.FusedMultiplyAdd(a7, b, c);
            a8 = Vector128.FusedMultiplyAdd(a8, b, c); a9 = Vector128.FusedMultiplyAdd(a9, b, c);
            a10 = Vector128.FusedMultiplyAdd(a10, b, c); a11 = Vector128.FusedMultiplyAdd(a11, b, c);
        }
        return Vector128.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float RunScalar(long iters)
    {
        float b = 0.999f, c = 1e-3f;
        float a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b, a10 = b, a11 = b;
        for (long i = 0; i < iters; i++)
        {
            a0 = MathF.FusedMultiplyAdd(a0, b, c); a1 = MathF.FusedMultiplyAdd(a1, b, c);
            a2 = MathF.FusedMultiplyAdd(a2, b, c); a3 = MathF.FusedMultiplyAdd(a3, b, c);
            a4 = MathF.FusedMultiplyAdd(a4, b, c); a5 = MathF.FusedMultiplyAdd(a5, b, c);
            a6 = MathF.FusedMultiplyAdd(a6, b, c); a7 = MathF.FusedMultiplyAdd(a7, b, c);
            a8 = MathF.FusedMultiplyAdd(a8, b, c); a9 = MathF.FusedMultiplyAdd(a9, b, c);
            a10 = MathF.FusedMultiplyAdd(a10, b, c); a11 = MathF.FusedMultiplyAdd(a11, b, c);
        }
        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    }
}
