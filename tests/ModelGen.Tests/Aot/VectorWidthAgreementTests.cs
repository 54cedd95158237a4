// Why the Arm64 (NEON, 128-bit) binary and the x64 (AVX2, 256-bit) binary print the same logits on the batched
// test set (.ci/aot.sh checks it under qemu): the packed GEMM that batched Dense layers use accumulates every output
// element in its own vector lane, over k in the same order whatever the microkernel width, with fused multiply-add
// on both targets. These tests pin that property on the MNIST MLP's shapes, so a change to the microkernel that
// would make the AOT targets disagree fails here first, on any machine (missing widths are emulated exactly).
using ModelGen.Kernels;

namespace ModelGen.Tests.Aot;

public sealed class VectorWidthAgreementTests
{
    public static TheoryData<int, int, int> MlpDenseShapes() => new()
    {
        { 37, 784, 256 },   // fc1 (k spans several KC = 256 slices plus a partial one; 37 rows = 6 panels + 1)
        { 37, 256, 128 },   // fc2
        { 37, 128, 10 },    // fc3 (n narrower than every microkernel: edge tiles only)
    };

    [Theory]
    [MemberData(nameof(MlpDenseShapes))]
    public void PackedNT_EveryMicrokernelWidth_GivesBitIdenticalOutput(int m, int k, int n)
    {
        var rng = new Rng((ulong)(m * 1_000_003 + k * 1009 + n));
        var a = new float[m * k];
        var b = new float[n * k];
        for (int i = 0; i < a.Length; i++) a[i] = rng.NextFloat();          // activations >= 0, as after ReLU
        for (int i = 0; i < b.Length; i++) b[i] = rng.NextFloat() - 0.5f;   // weights of both signs

        var c128 = new float[m * n];
        var c256 = new float[m * n];
        var c512 = new float[m * n];
        Gemm.Multiply(a, b, c128, m, k, n, transA: false, transB: true, accumulate: false, Gemm.Path.PackedV128);
        Gemm.Multiply(a, b, c256, m, k, n, transA: false, transB: true, accumulate: false, Gemm.Path.PackedV256);
        Gemm.Multiply(a, b, c512, m, k, n, transA: false, transB: true, accumulate: false, Gemm.Path.PackedV512);

        for (int i = 0; i < c128.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(c128[i]) == BitConverter.SingleToInt32Bits(c256[i]),
                $"C[{i / n}, {i % n}]: 128-bit {c128[i]:R} vs 256-bit {c256[i]:R}");
            Assert.True(BitConverter.SingleToInt32Bits(c256[i]) == BitConverter.SingleToInt32Bits(c512[i]),
                $"C[{i / n}, {i % n}]: 256-bit {c256[i]:R} vs 512-bit {c512[i]:R}");
        }
    }

    [Fact]
    public void GeneratedMlp_BatchedForward_UsesThePackedPathForEveryLayer()
    {
        // The agreement above holds for the packed path only (the direct path's dot products fold vector lanes,
        // so their order depends on the width); a test-set-sized batch must therefore take it in every layer.
        foreach (var (k, n) in new[] { (784, 256), (256, 128), (128, 10) })
            Assert.True(Gemm.PreferPacked(2004, k, n), $"batch 2004, k {k}, n {n} would take the direct path");
    }
}
