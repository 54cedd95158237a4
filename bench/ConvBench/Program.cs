// ConvBench: times the generated LeNet-5 (inference batch 1 and 64, training step batch 64) and the MNIST ResNet
// (training step batch 64), then every LeNet/ResNet convolution and pooling kernel against its baseline in the same
// process (the im2col + GEMM convolution path kept as ConvKernels.Im2ColForward/Im2ColBackward, and a naive max-pool
// loop), so the ratios are meaningful on a noisy shared machine. Single-threaded, as the peers in shared/peers.
//   dotnet run -c Release --project bench/ConvBench [-- --quick] [--lenet] [--b1]   (--lenet: LeNet-5 and its kernels only;
//   --b1: LeNet-5 inference at batch 1, step by step)
using System.Diagnostics;
using Mnist;
using ModelGen;
using ModelGen.Kernels;

bool quick = args.Contains("--quick"), lenetOnly = args.Contains("--lenet"), b1Only = args.Contains("--b1"), abOnly = args.Contains("--ab");
double repMs = quick ? 40 : 150;
const int Reps = 7;
Console.WriteLine($"ConvBench  Vector512={System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated} Vector256={System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated}  (median of {Reps} reps, thread CPU µs per call)");
Console.WriteLine();

// ------------------------------------------------------------------------------------------------ LeNet-5 b1 per layer
// The generated inference steps of LeNet-5 at batch 1, each timed on its own with the generated call's arguments
// (weights are random: the cost does not depend on them), beside the whole Forward, to see where a call's time goes.
if (abOnly)
{
    AbPaths();
    return;
}
if (b1Only)
{
    ProfileLeNetB1();
    return;
}

// ------------------------------------------------------------------------------------------------ whole models
Console.WriteLine($"{"model",-34} {"µs/call",10} {"alloc B",8}");
var lenet = new LeNet5(seed: 1);
TimeModel("LeNet5 Forward b1", lenet, 1, train: false);
TimeModel("LeNet5 Forward b64", lenet, 64, train: false);
TimeModel("LeNet5 train step b64", lenet, 64, train: true);
if (!lenetOnly)
{
    var resnet = new MnistResNet(seed: 1);
    TimeModel("MnistResNet Forward b64", resnet, 64, train: false);
    TimeModel("MnistResNet train step b64", resnet, 64, train: true);
}
Console.WriteLine();

// ------------------------------------------------------------------------------------------------ kernels
Console.WriteLine($"{"kernel (batch 64)",-44} {"new µs",9} {"base µs",9} {"speed-up",8}");
ConvGeometry[] convs =
[
    ConvGeometry.Conv2D(1, 28, 28, 6, 5, padding: 2),      // LeNet C1
    ConvGeometry.Conv2D(6, 14, 14, 16, 5),                 // LeNet C3
    ConvGeometry.Conv2D(1, 28, 28, 8, 3, padding: 1),      // ResNet stem
    ConvGeometry.Conv2D(8, 28, 28, 8, 3, padding: 1),      // ResNet layer1
    ConvGeometry.Conv2D(8, 28, 28, 16, 3, stride: 2, padding: 1),
    ConvGeometry.Conv2D(8, 28, 28, 16, 1, stride: 2),      // projection
    ConvGeometry.Conv2D(16, 14, 14, 16, 3, padding: 1),
    ConvGeometry.Conv2D(16, 14, 14, 32, 3, stride: 2, padding: 1),
    ConvGeometry.Conv2D(32, 7, 7, 32, 3, padding: 1),
];
foreach (ConvGeometry g in lenetOnly ? convs[..2] : convs) TimeConv(g, 64);
TimeConv(convs[0], 1);
TimeConv(convs[1], 1);
TimePool(PoolGeometry.Pool2D(6, 28, 28, 2), 64);
TimePool(PoolGeometry.Pool2D(16, 10, 10, 2), 64);
TimePool(PoolGeometry.Pool2D(6, 28, 28, 2), 1);

void ProfileLeNetB1()
{
    var c1 = ConvGeometry.Conv2D(1, 28, 28, 6, 5, padding: 2);
    var c3 = ConvGeometry.Conv2D(6, 14, 14, 16, 5);
    var s2 = PoolGeometry.Pool2D(6, 28, 28, 2);
    var s4 = PoolGeometry.Pool2D(16, 10, 10, 2);
    float[] x = Fill(new float[784], 1), w1 = Fill(new float[150], 2), b1 = Fill(new float[6], 3), w3 = Fill(new float[2400], 4), b3 = Fill(new float[16], 5);
    float[] w5 = Fill(new float[48000], 6), b5 = Fill(new float[120], 7), w6 = Fill(new float[10080], 8), b6 = Fill(new float[84], 9);
    float[] w7 = Fill(new float[840], 10), b7 = Fill(new float[10], 11);
    float[] a1 = new float[4704], p1 = Fill(new float[1176], 12), a3 = new float[1600], p3 = Fill(new float[400], 13);
    float[] h5 = Fill(new float[120], 14), h6 = Fill(new float[84], 15), y = new float[10];
    var relu = new ReluActivation();
    var lenet = new LeNet5(seed: 1);
    float[] mx = Fill(new float[784], 7), my = new float[10];
    (string Name, Action Step)[] steps =
    [
        ("conv1 1x28x28->6 k5 p2 +ReLU", () => ConvKernels.Forward(relu, c1, x, w1, b1, a1, default, 1)),
        ("pool1 6x28x28", () => PoolingKernels.MaxForward(s2, a1, p1, default, 1)),
        ("conv2 6x14x14->16 k5 +ReLU", () => ConvKernels.Forward(relu, c3, p1, w3, b3, a3, default, 1)),
        ("pool2 16x10x10", () => PoolingKernels.MaxForward(s4, a3, p3, default, 1)),
        ("fc1 400->120 +ReLU", () => DenseKernels.Forward(relu, p3, w5, b5, h5, default, 1, 400, 120)),
        ("fc2 120->84 +ReLU", () => DenseKernels.Forward(relu, h5, w6, b6, h6, default, 1, 120, 84)),
        ("fc3 84->10", () => DenseKernels.Forward(new IdentityActivation(), h6, w7, b7, y, default, 1, 84, 10)),
    ];
    Console.WriteLine($"{"LeNet-5 b1 step",-34} {"µs/call",10} {"alloc B",8}");
    double sum = 0;
    foreach ((string name, Action step) in steps)
    {
        (double us, long alloc) = Time(step);
        sum += us;
        Console.WriteLine($"{name,-34} {us,10:F2} {alloc,8}");
    }
    Console.WriteLine($"{"sum of steps",-34} {sum,10:F2}");
    (double whole, long wholeAlloc) = Time(() => lenet.Forward(mx, my, 1));
    Console.WriteLine($"{"LeNet5 Forward b1 (generated)",-34} {whole,10:F2} {wholeAlloc,8}");
}

// A/B of internal forward paths at batch 1, repetitions interleaved (A, B, A, B, ...) so that a neighbour's load hits
// both alike. ConvKernels.Forward(Path, ...) is internal: it is reached through reflection and called through a function
// pointer (Path is an int-backed enum, so an int argument has the same ABI).
unsafe void AbPaths()
{
    var mi = typeof(ConvKernels).GetMethods(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
        .Single(m => m.Name == "Forward" && m.GetParameters().Length == 9).MakeGenericMethod(typeof(ReluActivation));
    var fwd = (delegate*<int, ReluActivation, in ConvGeometry, ReadOnlySpan<float>, ReadOnlySpan<float>, ReadOnlySpan<float>, Span<float>, Span<float>, int, void>)
        mi.MethodHandle.GetFunctionPointer();
    Type pathType = typeof(ConvKernels).GetNestedType("Path", System.Reflection.BindingFlags.NonPublic)!;
    int P(string name) => (int)Enum.Parse(pathType, name);
    var relu = new ReluActivation();
    Console.WriteLine($"{"A/B at batch 1",-44} {"A µs",9} {"B µs",9} {"A/B",8}");
    foreach ((ConvGeometry g, string a, string b) in new[]
    {
        (ConvGeometry.Conv2D(1, 28, 28, 6, 5, padding: 2), "V256Wide", "V256Shifted"),
        (ConvGeometry.Conv2D(6, 14, 14, 16, 5), "V256Wide", "V256Shifted"),
    })
    {
        float[] x = Fill(new float[g.InputLength], 1), w = Fill(new float[g.WeightLength], 2), bb = Fill(new float[g.OutChannels], 3);
        float[] y = new float[g.OutputLength];
        int pa = P(a), pb = P(b);
        (double ua, double ub) = TimePair(() => fwd(pa, relu, g, x, w, bb, y, default, 1), () => fwd(pb, relu, g, x, w, bb, y, default, 1));
        string shape = $"{g.InChannels}x{g.InHeight}x{g.InWidth}->{g.OutChannels} {a} vs {b}";
        Console.WriteLine($"{shape,-44} {ua,9:F2} {ub,9:F2} {ua / ub,7:F2}x");
    }
    // Convolution + ReLU then max pool 2×2, unfused (A: Forward, MaxForward) against ForwardMaxPool (B).
    foreach (ConvGeometry g in new[] { ConvGeometry.Conv2D(1, 28, 28, 6, 5, padding: 2), ConvGeometry.Conv2D(6, 14, 14, 16, 5) })
        foreach (int batch in new[] { 1, 64 })
        {
            var pool = PoolGeometry.Pool2D(g.OutChannels, g.OutHeight, g.OutWidth, 2);
            float[] x = Fill(new float[batch * g.InputLength], 1), w = Fill(new float[g.WeightLength], 2), bb = Fill(new float[g.OutChannels], 3);
            float[] y = new float[batch * g.OutputLength], yp = new float[batch * pool.OutputLength];
            (double ua, double ub) = TimePair(
                () => { ConvKernels.Forward(relu, g, x, w, bb, y, default, batch); PoolingKernels.MaxForward(pool, y, yp, default, batch); },
                () => ConvKernels.ForwardMaxPool(relu, g, pool, x, w, bb, yp, batch));
            string shape = $"{g.InChannels}x{g.InHeight}x{g.InWidth}->{g.OutChannels} +pool b{batch} unfused vs fused";
            Console.WriteLine($"{shape,-44} {ua,9:F2} {ub,9:F2} {ua / ub,7:F2}x");
        }
    // LeNet-5's whole inference at batch 1 as kernel calls, as the generator emitted it before (A) and now (B).
    {
        var c1 = ConvGeometry.Conv2D(1, 28, 28, 6, 5, padding: 2);
        var c3 = ConvGeometry.Conv2D(6, 14, 14, 16, 5);
        var s2 = PoolGeometry.Pool2D(6, 28, 28, 2);
        var s4 = PoolGeometry.Pool2D(16, 10, 10, 2);
        float[] x = Fill(new float[784], 1), w1 = Fill(new float[150], 2), b1 = Fill(new float[6], 3), w3 = Fill(new float[2400], 4), b3 = Fill(new float[16], 5);
        float[] w5 = Fill(new float[48000], 6), b5 = Fill(new float[120], 7), w6 = Fill(new float[10080], 8), b6 = Fill(new float[84], 9);
        float[] w7 = Fill(new float[840], 10), b7 = Fill(new float[10], 11), a = new float[4704], p = new float[4704], y = new float[10];
        var id = new IdentityActivation();
        void Dense()
        {
            DenseKernels.Forward(relu, p.AsSpan(0, 400), w5, b5, a.AsSpan(0, 120), default, 1, 400, 120);
            DenseKernels.Forward(relu, a.AsSpan(0, 120), w6, b6, p.AsSpan(0, 84), default, 1, 120, 84);
            DenseKernels.Forward(id, p.AsSpan(0, 84), w7, b7, y, default, 1, 84, 10);
        }
        (double ua, double ub) = TimePair(
            () =>
            {
                ConvKernels.Forward(relu, c1, x, w1, b1, a, default, 1);
                PoolingKernels.MaxForward(s2, a, p.AsSpan(0, 1176), default, 1);
                ConvKernels.Forward(relu, c3, p.AsSpan(0, 1176), w3, b3, a.AsSpan(0, 1600), default, 1);
                PoolingKernels.MaxForward(s4, a.AsSpan(0, 1600), p.AsSpan(0, 400), default, 1);
                Dense();
            },
            () =>
            {
                ConvKernels.ForwardMaxPool(relu, c1, s2, x, w1, b1, p.AsSpan(0, 1176), 1);
                ConvKernels.ForwardMaxPool(relu, c3, s4, p.AsSpan(0, 1176), w3, b3, a.AsSpan(0, 400), 1);
                a.AsSpan(0, 400).CopyTo(p);   // keeps the Dense calls' operands as in A (a 400-float copy, charged to B)
                Dense();
            });
        Console.WriteLine($"{"LeNet-5 b1 kernel sequence unfused vs fused",-44} {ua,9:F2} {ub,9:F2} {ua / ub,7:F2}x");
    }
}

(double A, double B) TimePair(Action a, Action b)
{
    var sw = Stopwatch.StartNew();
    int warm = 0;
    while (sw.Elapsed.TotalMilliseconds < 8 * repMs) { a(); b(); warm++; }
    int iters = Math.Max(1, (int)(warm * repMs / sw.Elapsed.TotalMilliseconds));
    const int pairs = 15;
    double[] ra = new double[pairs], rb = new double[pairs];
    for (int r = 0; r < pairs; r++)
    {
        double t0 = ThreadCpuMicroseconds();
        for (int i = 0; i < iters; i++) a();
        double t1 = ThreadCpuMicroseconds();
        for (int i = 0; i < iters; i++) b();
        double t2 = ThreadCpuMicroseconds();
        (ra[r], rb[r]) = ((t1 - t0) / iters, (t2 - t1) / iters);
    }
    Array.Sort(ra);
    Array.Sort(rb);
    return (ra[pairs / 2], rb[pairs / 2]);
}

void TimeModel<T>(string name, T model, int batch, bool train) where T : ITrainable
{
    float[] x = Fill(new float[batch * model.InputSize()], 7);
    float[] y = new float[batch * model.OutputSize()];
    float[] dy = new float[y.Length];
    int[] labels = new int[batch];
    for (int i = 0; i < batch; i++) labels[i] = i % 10;
    var sgd = new Sgd(1e-3f);
    Action step = train
        ? () =>
        {
            model.ForwardTrain(x, y, batch);
            Loss.CrossEntropy.Compute(y, labels, default, dy, batch);
            model.Gradients.Clear();
            model.Backward(dy, default);
            sgd.Step(model, model.Gradients);
        }
        : () => model.Forward(x, y, batch);
    (double us, long alloc) = Time(step);
    Console.WriteLine($"{name,-34} {us,10:F1} {alloc,8}");
}

void TimeConv(ConvGeometry g, int batch)
{
    float[] x = Fill(new float[batch * g.InputLength], 1), w = Fill(new float[g.WeightLength], 2), b = Fill(new float[g.OutChannels], 3);
    float[] y = new float[batch * g.OutputLength], pre = new float[y.Length], dy = Fill(new float[y.Length], 4), dPre = new float[y.Length];
    float[] dw = new float[w.Length], db = new float[b.Length], dx = new float[x.Length];
    var relu = new ReluActivation();
    string shape = $"{g.InChannels}x{g.InHeight}x{g.InWidth}->{g.OutChannels} k{g.KernelH} s{g.StrideH} p{g.PadH}";
    bool train = batch > 1;
    (double fNew, _) = Time(() => ConvKernels.Forward(relu, g, x, w, b, y, train ? pre : default, batch));
    (double fOld, _) = Time(() => ConvKernels.Im2ColForward(relu, g, x, w, b, y, train ? pre : default, batch));
    Console.WriteLine($"{"conv fwd " + shape + (batch == 1 ? " b1" : ""),-44} {fNew,9:F1} {fOld,9:F1} {fOld / fNew,7:F2}x");
    if (!train) return;
    (double bNew, _) = Time(() => ConvKernels.Backward(relu, g, dy, pre, y, x, w, dPre, dw, db, dx, batch));
    (double bOld, _) = Time(() => ConvKernels.Im2ColBackward(relu, g, dy, pre, y, x, w, dPre, dw, db, dx, batch));
    Console.WriteLine($"{"conv bwd " + shape,-44} {bNew,9:F1} {bOld,9:F1} {bOld / bNew,7:F2}x");
}

void TimePool(PoolGeometry g, int batch)
{
    float[] x = Fill(new float[batch * g.InputLength], 5), y = new float[batch * g.OutputLength], dy = Fill(new float[y.Length], 6), dx = new float[x.Length];
    int[] arg = new int[y.Length];
    string shape = $"{g.Channels}x{g.InHeight}x{g.InWidth} k{g.KernelH}";
    (double inf, _) = Time(() => PoolingKernels.MaxForward(g, x, y, default, batch));
    (double infBase, _) = Time(() => NaiveMax(g, x, y, default, batch));
    Console.WriteLine($"{"maxpool fwd " + shape + $" b{batch}",-44} {inf,9:F1} {infBase,9:F1} {infBase / inf,7:F2}x");
    if (batch == 1) return;
    (double tr, _) = Time(() => PoolingKernels.MaxForward(g, x, y, arg, batch));
    (double trBase, _) = Time(() => NaiveMax(g, x, y, arg, batch));
    Console.WriteLine($"{"maxpool fwd+argmax " + shape,-44} {tr,9:F1} {trBase,9:F1} {trBase / tr,7:F2}x");
    (double bw, _) = Time(() => PoolingKernels.MaxBackward(g, dy, arg, dx, batch));
    (double bwBase, _) = Time(() => NaiveMaxBackward(g, dy, arg, dx, batch));
    Console.WriteLine($"{"maxpool bwd " + shape,-44} {bw,9:F1} {bwBase,9:F1} {bwBase / bw,7:F2}x");
}

// The baseline max pool: one window scan per output (no padding in the benchmarked shapes).
static void NaiveMax(PoolGeometry g, float[] x, float[] y, int[]? arg, int batch)
{
    int h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth;
    bool keep = arg is { Length: > 0 };
    for (int plane = 0, o = 0; plane < batch * g.Channels; plane++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++, o++)
            {
                float max = float.NegativeInfinity;
                int best = 0;
                for (int i = 0; i < g.KernelH; i++)
                    for (int j = 0; j < g.KernelW; j++)
                    {
                        int idx = (oy * g.StrideH + i) * w + ox * g.StrideW + j;
                        float v = x[plane * h * w + idx];
                        if (v > max || float.IsNaN(v)) { max = v; best = idx; }
                    }
                y[o] = max;
                if (keep) arg![o] = best;
            }
}

static void NaiveMaxBackward(PoolGeometry g, float[] dy, int[] arg, float[] dx, int batch)
{
    Array.Clear(dx);
    int inPlane = g.InHeight * g.InWidth, outPlane = g.OutHeight * g.OutWidth;
    for (int o = 0; o < dy.Length; o++) dx[o / outPlane * inPlane + arg[o]] += dy[o];
}

static float[] Fill(float[] a, ulong seed)
{
    var rng = new Rng(seed);
    for (int i = 0; i < a.Length; i++) a[i] = rng.NextFloat() * 2f - 1f;
    return a;
}

// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID): on a machine shared by several busy engineers, wall time
// mostly measures the wait for a core; the thread's own CPU time is what the code costs.
static double ThreadCpuMicroseconds()
{
    if (Native.clock_gettime(3, out Native.Timespec ts) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    return ts.Seconds * 1e6 + ts.Nanoseconds / 1e3;
}

// Median over Reps repetitions of a loop sized to ~repMs; the allocation column is bytes per call in steady state.
(double Us, long AllocPerCall) Time(Action action)
{
    // Warm up long enough for tiered compilation to reach the optimised code (tier-0 kernels are 10-100x slower).
    var sw = Stopwatch.StartNew();
    int warm = 0;
    while (sw.Elapsed.TotalMilliseconds < 4 * repMs) { action(); warm++; }
    int iters = Math.Max(1, (int)(warm * repMs / sw.Elapsed.TotalMilliseconds));
    long before = GC.GetAllocatedBytesForCurrentThread();
    var reps = new double[Reps];
    for (int r = 0; r < Reps; r++)
    {
        double t0 = ThreadCpuMicroseconds();
        for (int i = 0; i < iters; i++) action();
        reps[r] = (ThreadCpuMicroseconds() - t0) / iters;
    }
    long alloc = (GC.GetAllocatedBytesForCurrentThread() - before) / ((long)iters * Reps);
    Array.Sort(reps);
    return (reps[Reps / 2], alloc);
}

static class ModelExtensions
{
    public static int InputSize(this IModel m) => Product(m.InputShapeDims);
    public static int OutputSize(this IModel m) => Product(m.OutputShapeDims);
    private static int Product(ReadOnlySpan<int> dims) { int p = 1; foreach (int d in dims) p *= d; return p; }
}

static class Native
{
    public struct Timespec { public long Seconds; public long Nanoseconds; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    public static extern int clock_gettime(int clockId, out Timespec ts);
}
