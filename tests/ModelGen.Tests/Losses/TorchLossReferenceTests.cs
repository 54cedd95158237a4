// Every loss and reduction against libtorch: the fixture Kernels/Fixtures/losses-libtorch.bin, written by
// tools/reference/loss-check (TorchSharp over libtorch; the case layout is described there), holds the inputs, the
// options, libtorch's loss (or per-term losses for 'none') and autograd's gradient. ModelGen must agree to 1e-6
// relative to each tensor's largest magnitude, on whichever vector width this run takes.
using ModelGen;
using ModelGen.Tests.Kernels;

namespace ModelGen.Tests.Losses;

[Trait("Category", "Kernels")]
public class TorchLossReferenceTests
{
    private static readonly LibtorchFixture s_fixture = new("losses-libtorch.bin");

    private static Loss Build(string p)
    {
        var reduction = (Reduction)s_fixture.Ints($"{p}.reduction")[0];
        int ignore = s_fixture.Ints($"{p}.ignore_index")[0];
        bool flag = s_fixture.Ints($"{p}.flag")[0] != 0;
        float param = s_fixture.Floats($"{p}.param")[0];
        float[]? weight = s_fixture.Has($"{p}.weight") ? s_fixture.Floats($"{p}.weight") : null;
        float[]? posWeight = s_fixture.Has($"{p}.pos_weight") ? s_fixture.Floats($"{p}.pos_weight") : null;
        return s_fixture.Ints($"{p}.kind")[0] switch
        {
            0 or 1 => new CrossEntropyLoss(weight, ignore, reduction, param),
            2 => new NllLoss(weight, ignore, reduction),
            3 => new BinaryCrossEntropyWithLogitsLoss(weight, reduction, posWeight),
            4 => new MeanSquaredErrorLoss(reduction),
            5 => new L1Loss(reduction),
            6 => new SmoothL1Loss(reduction, param),
            7 => new HuberLoss(reduction, param),
            8 => new KLDivLoss(reduction, flag),
            int kind => throw new InvalidDataException($"{p}: unknown loss kind {kind}"),
        };
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(expected.Max(v => Math.Abs((double)v)), 1e-3);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6 * scale,
                $"{what}[{i}]: libtorch {expected[i]:R}, ModelGen {actual[i]:R}, |diff| {Math.Abs(expected[i] - actual[i]):E2} > 1e-6 × {scale:G4}");
    }

    [Fact]
    public void EveryCase_MatchesLibtorch()
    {
        int cases = 0;
        for (; s_fixture.Has($"case{cases}.kind"); cases++)
        {
            string p = $"case{cases}";
            Loss loss = Build(p);
            float[] x = s_fixture.Floats($"{p}.x");
            int batch = s_fixture.Shape($"{p}.x")[0];
            int[] labels = s_fixture.Has($"{p}.labels") ? s_fixture.Ints($"{p}.labels") : [];
            float[] targets = s_fixture.Has($"{p}.targets") ? s_fixture.Floats($"{p}.targets") : [];
            var d = new float[x.Length];
            var terms = new float[loss.UsesLabels ? batch : x.Length];
            float value = loss.Compute(x, labels, targets, d, terms, batch);
            string what = $"{p} {loss.Name} [{batch}, {x.Length / batch}]";
            if (loss.Reduction == Reduction.None) AssertClose(s_fixture.Floats($"{p}.loss"), terms, $"{what} terms");
            else AssertClose(s_fixture.Floats($"{p}.loss"), [value], $"{what} loss");
            AssertClose(s_fixture.Floats($"{p}.dx"), d, $"{what} dx");
        }
        Assert.True(cases >= 280, $"the fixture holds only {cases} cases");
    }
}
