// The `bench` mode: libtorch's nn.LSTM and ModelGen's RecurrentKernels on the same shapes and weights, timed alternately.
using System.Runtime.InteropServices;
using ModelGen.Kernels;
using TorchSharp;
using static TorchSharp.torch;

internal static unsafe class SeqBench
{
    public static void Run()
    {
        Console.WriteLine("shape                                   | libtorch fwd | ModelGen fwd | ratio | libtorch train | ModelGen train | ratio");
        foreach (var (name, input, hidden, bi, batch, seq) in new[]
        {
            ("W6 LSTM 32->128 seq 50 batch 1", 32, 128, false, 1, 50),
            ("W6 LSTM 32->128 seq 50 batch 16", 32, 128, false, 16, 50),
            ("W7 biLSTM 64->128 seq 32 batch 32", 64, 128, true, 32, 32),
        })
        {
            using var scope = torch.NewDisposeScope();
            var lstm = nn.LSTM(input, hidden, 1, batchFirst: true, bidirectional: bi);
            var g = new RecurrentGeometry(RecurrentCell.Lstm, input, hidden, 1, bi, true);
            float[] p = lstm.parameters().SelectMany(t => t.detach().data<float>().ToArray()).ToArray();
            var xt = torch.randn(batch, seq, input);
            float[] x = xt.data<float>().ToArray();
            var wt = torch.randn(batch, seq, g.OutputFeatures);
            float[] dy = wt.data<float>().ToArray();
            float[] y = new float[g.OutputLength(batch, seq)], kept = new float[g.KeptLength(batch, seq)];
            float[] ws = new float[g.WorkspaceLength(batch, seq)], dp = new float[g.ParameterCount], dx = new float[x.Length];

            void TorchForward()
            {
                using var s = torch.NewDisposeScope();
                using var _ = torch.inference_mode();
                lstm.call(xt, null);
            }
            void TorchTrain()
            {
                using var s = torch.NewDisposeScope();
                lstm.zero_grad();
                var xg = xt.detach().requires_grad_(true);   // the input gradient too, as ModelGen computes it
                var (o, _, _) = lstm.call(xg, null);
                (o * wt).sum().backward();
            }
            void OursForward() => RecurrentKernels.Forward(g, x, p, y, [], ws, batch, seq);
            void OursTrain()
            {
                RecurrentKernels.TrainForward(g, x, p, y, kept, [], ws, batch, seq, 0f, null!);
                RecurrentKernels.Backward(g, dy, x, p, kept, dp, dx, [], ws, batch, seq);
            }
            var (tf, of) = Pair(TorchForward, OursForward);
            var (tt, ot) = Pair(TorchTrain, OursTrain);
            Console.WriteLine($"{name,-39} | {tf,9:F1} us | {of,9:F1} us | {tf / of,4:F2}x | {tt,11:F1} us | {ot,11:F1} us | {tt / ot,4:F2}x");
        }
    }

    /// <summary>Medians of 15 alternating repetitions (each ~50 ms of CPU time) after a warm-up.</summary>
    private static (double A, double B) Pair(Action a, Action b)
    {
        int na = Calibrate(a), nb = Calibrate(b);
        var ta = new List<double>();
        var tb = new List<double>();
        for (int r = 0; r < 15; r++)
        {
            ta.Add(Measure(a, na));
            tb.Add(Measure(b, nb));
        }
        ta.Sort();
        tb.Sort();
        return (ta[ta.Count / 2], tb[tb.Count / 2]);
    }

    private static int Calibrate(Action f)
    {
        double t0 = Now();
        int n = 0;
        while (n < 5 || Now() - t0 < 300_000) { f(); n++; }
        return Math.Max(1, (int)(50_000 / ((Now() - t0) / n)));
    }

    private static double Measure(Action f, int n)
    {
        double t0 = Now();
        for (int i = 0; i < n; i++) f();
        return (Now() - t0) / n;
    }

    [DllImport("libc")] private static extern int clock_gettime(int clock, long* ts);

    /// <summary>This thread's CPU time in µs (CLOCK_THREAD_CPUTIME_ID): time other processes take from this core is not counted.</summary>
    private static double Now()
    {
        long* ts = stackalloc long[2];
        clock_gettime(3, ts);
        return ts[0] * 1e6 + ts[1] / 1e3;
    }
}
