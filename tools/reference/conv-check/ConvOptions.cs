// libtorch's values for the convolution and pooling options of issue 15, as the MGLF fixture
// tests/ModelGen.Tests/Kernels/Fixtures/conv-options-libtorch.bin that TorchConvOptionsReferenceTests checks ModelGen against:
//   dotnet ConvCheck.dll --options tests/ModelGen.Tests/Kernels/Fixtures/conv-options-libtorch.bin
// Convolutions: non-square kernel/stride/padding/dilation tuples and every padding_mode, run exactly as nn.Conv2d/nn.Conv1d
// run a non-zero mode (F.pad with the reversed, repeated padding, then conv with padding 0); zeros mode uses conv's own padding.
// Pools: avg_pool2d with (kh, kw) tuples, ceil_mode, count_include_pad=False and divisor_override; avg_pool1d with
// count_include_pad=False; max_pool2d with tuples. loss = Σ y ⊙ lw, so the stored gradients are those of that loss.
// Stored per case "{name}.{x|w|b|lw|y|dx|dw|db}" plus "{name}.config" (int32: the geometry ModelGen is given).
using TorchSharp;
using static TorchSharp.torch;

internal static class ConvOptions
{
    // (name, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, groups, mode); H = 1 with kh = 1 is Conv1d.
    private static readonly (string Name, int C, int H, int W, int O, int Kh, int Kw, int Sh, int Sw, int Ph, int Pw, int Dh, int Dw, int G, int Mode)[] Convs =
    [
        ("conv_nonsquare", 3, 7, 9, 4, 3, 5, 2, 1, 1, 2, 1, 2, 1, 0),
        ("conv_reflect", 2, 5, 6, 3, 3, 3, 1, 1, 2, 1, 1, 1, 1, 1),
        ("conv_replicate", 4, 4, 7, 4, 3, 5, 1, 2, 3, 2, 1, 1, 2, 2),
        ("conv_circular", 2, 5, 5, 3, 3, 3, 2, 2, 1, 2, 2, 1, 1, 3),
        ("conv1d_reflect", 3, 1, 11, 2, 1, 5, 1, 1, 0, 3, 1, 1, 1, 1),
        ("conv1d_circular", 2, 1, 7, 3, 1, 3, 1, 1, 0, 2, 1, 2, 1, 3),
    ];

    // (name, C, H, W, kh, kw, sh, sw, ph, pw, ceil, countIncludePad, divisorOverride, max); H = 1 with kh = 1 is a 1-D pool.
    private static readonly (string Name, int C, int H, int W, int Kh, int Kw, int Sh, int Sw, int Ph, int Pw, bool Ceil, bool Cip, int Div, bool Max)[] Pools =
    [
        ("avg_nonsquare_exclude_pad_ceil", 2, 7, 9, 3, 2, 2, 1, 1, 1, true, false, 0, false),
        ("avg_divisor_override", 3, 6, 7, 2, 3, 2, 2, 1, 1, false, true, 5, false),
        ("avg_include_pad_nonsquare", 2, 9, 8, 3, 4, 3, 2, 1, 2, true, true, 0, false),
        ("avg1d_exclude_pad", 3, 1, 17, 1, 3, 1, 2, 0, 1, true, false, 0, false),
        ("max_nonsquare", 2, 8, 11, 3, 2, 2, 1, 1, 1, true, true, 0, true),
    ];

    public static void Write(string path)
    {
        torch.set_num_threads(1);
        var fixture = new LibtorchFixture();
        for (int ci = 0; ci < Convs.Length; ci++)
        {
            var c = Convs[ci];
            using var scope = torch.NewDisposeScope();
            ulong salt = 1000 + (ulong)ci * 16;
            bool oneD = c.H == 1 && c.Kh == 1;
            long[] xShape = oneD ? [2, c.C, c.W] : [2, c.C, c.H, c.W];
            long[] wShape = oneD ? [c.O, c.C / c.G, c.Kw] : [c.O, c.C / c.G, c.Kh, c.Kw];
            float[] xs = Det((int)xShape.Aggregate(1L, (a, b) => a * b), salt, 1f), ws = Det((int)wShape.Aggregate(1L, (a, b) => a * b), salt + 1, 0.5f);
            float[] bs = Det(c.O, salt + 2, 0.5f);
            var x = torch.tensor(xs, xShape).requires_grad_(true);
            var w = torch.tensor(ws, wShape).requires_grad_(true);
            var bias = torch.tensor(bs, new long[] { c.O }).requires_grad_(true);
            Tensor y;
            if (c.Mode == 0)
                y = oneD ? nn.functional.conv1d(x, w, bias, stride: c.Sw, padding: c.Pw, dilation: c.Dw, groups: c.G)
                         : nn.functional.conv2d(x, w, bias, strides: new long[] { c.Sh, c.Sw }, padding: new long[] { c.Ph, c.Pw }, dilation: new long[] { c.Dh, c.Dw }, groups: c.G);
            else
            {
                var mode = c.Mode switch { 1 => PaddingModes.Reflect, 2 => PaddingModes.Replicate, _ => PaddingModes.Circular };
                // nn.Conv2d's _reversed_padding_repeated_twice: (left, right, top, bottom).
                var padded = nn.functional.pad(x, oneD ? new long[] { c.Pw, c.Pw } : new long[] { c.Pw, c.Pw, c.Ph, c.Ph }, mode);
                y = oneD ? nn.functional.conv1d(padded, w, bias, stride: c.Sw, padding: 0, dilation: c.Dw, groups: c.G)
                         : nn.functional.conv2d(padded, w, bias, strides: new long[] { c.Sh, c.Sw }, padding: new long[] { 0, 0 }, dilation: new long[] { c.Dh, c.Dw }, groups: c.G);
            }
            float[] lws = Det((int)y.numel(), salt + 3, 1f);
            var lw = torch.tensor(lws, y.shape);
            (y * lw).sum().backward();
            fixture.Add(($"{c.Name}.config", true, [14], null, [2, c.C, c.H, c.W, c.O, c.Kh, c.Kw, c.Sh, c.Sw, c.Ph, c.Pw, c.Dh, c.Dw, c.G * 16 + c.Mode]));
            Add(fixture, c.Name + ".x", x); Add(fixture, c.Name + ".w", w); Add(fixture, c.Name + ".b", bias); Add(fixture, c.Name + ".lw", lw);
            Add(fixture, c.Name + ".y", y); Add(fixture, c.Name + ".dx", x.grad!); Add(fixture, c.Name + ".dw", w.grad!); Add(fixture, c.Name + ".db", bias.grad!);
        }
        for (int pi = 0; pi < Pools.Length; pi++)
        {
            var p = Pools[pi];
            using var scope = torch.NewDisposeScope();
            ulong salt = 2000 + (ulong)pi * 16;
            bool oneD = p.H == 1 && p.Kh == 1;
            long[] xShape = oneD ? [2, p.C, p.W] : [2, p.C, p.H, p.W];
            var x = torch.tensor(Det((int)xShape.Aggregate(1L, (a, b) => a * b), salt, 1f), xShape).requires_grad_(true);
            Tensor y = p.Max
                ? nn.functional.max_pool2d(x, new long[] { p.Kh, p.Kw }, new long[] { p.Sh, p.Sw }, new long[] { p.Ph, p.Pw }, ceil_mode: p.Ceil)
                : oneD
                    ? nn.functional.avg_pool1d(x, p.Kw, p.Sw, p.Pw, ceil_mode: p.Ceil, count_include_pad: p.Cip)
                    : nn.functional.avg_pool2d(x, new long[] { p.Kh, p.Kw }, new long[] { p.Sh, p.Sw }, new long[] { p.Ph, p.Pw }, ceil_mode: p.Ceil,
                        count_include_pad: p.Cip, divisor_override: p.Div == 0 ? null : p.Div);
            var lw = torch.tensor(Det((int)y.numel(), salt + 3, 1f), y.shape);
            (y * lw).sum().backward();
            fixture.Add(($"{p.Name}.config", true, [14], null, [2, p.C, p.H, p.W, p.Kh, p.Kw, p.Sh, p.Sw, p.Ph, p.Pw, p.Ceil ? 1 : 0, p.Cip ? 1 : 0, p.Div, p.Max ? 1 : 0]));
            Add(fixture, p.Name + ".x", x); Add(fixture, p.Name + ".lw", lw); Add(fixture, p.Name + ".y", y); Add(fixture, p.Name + ".dx", x.grad!);
        }
        fixture.Write(path);
        Console.WriteLine($"{fixture.Count} tensors, {fixture.Values} values, torch {torch.__version__}");
    }

    private static void Add(LibtorchFixture fixture, string name, Tensor t)
        => fixture.Add((name, false, t.shape.Select(d => (int)d).ToArray(), t.detach().contiguous().data<float>().ToArray(), null));

    private static float[] Det(int n, ulong salt, float scale)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            ulong z = (salt << 32) + (ulong)i + 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            v[i] = ((z >> 40) * (1f / (1 << 24)) * 2f - 1f) * scale;
        }
        return v;
    }
}
