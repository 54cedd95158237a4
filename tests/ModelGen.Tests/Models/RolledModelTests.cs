using System.Globalization;

namespace ModelGen.Tests.Models;

/// <summary>
/// The tables a deep model builds in loops (issue 17: runs of identical layers are rolled): DeepNet's initialisation,
/// parameter infos, layer table and summary must be what the straight-line code of a shallow model would give.
/// Its forward and backward passes are checked against the reference in <see cref="GeneratedModelTests"/>.
/// </summary>
public class RolledModelTests
{
    private static readonly string[] s_names =
        new[] { "fc0" }.Concat(Enumerable.Range(1, 6).SelectMany(i => new[] { $"a{i}", $"b{i}" })).Append("head").ToArray();

    private static int FanOut(int layer) => layer == s_names.Length - 1 ? 3 : 17;

    private static int FanIn(int layer) => layer == 0 ? 7 : 17;

    [Fact]
    public void Constructor_InitialisesEveryLayerInOrder_AsStraightLineCodeWould()
    {
        var model = new DeepNet(seed: 9);
        var rng = new Rng(9);
        var expected = new float[DeepNet.ParameterCount];
        int offset = 0;
        for (int i = 0; i < s_names.Length; i++)
        {
            int weights = FanIn(i) * FanOut(i);
            Initializers.Initialize(expected.AsSpan(offset, weights), expected.AsSpan(offset + weights, FanOut(i)), FanIn(i), FanOut(i), Init.Default, rng);
            offset += weights + FanOut(i);
        }
        Assert.Equal(DeepNet.ParameterCount, offset);
        Assert.Equal(expected, model.Parameters.ToArray());
    }

    [Fact]
    public void ParameterInfosAndLayers_NameEveryLayerWithItsShapesAndOffsets()
    {
        var model = new DeepNet(seed: 1);
        Assert.Equal(s_names.Length * 2, model.ParameterInfos.Count);
        Assert.Equal(s_names.Length, model.Layers.Count);
        int offset = 0;
        for (int i = 0; i < s_names.Length; i++)
        {
            var weight = model.ParameterInfos[2 * i];
            var bias = model.ParameterInfos[2 * i + 1];
            Assert.Equal(new ParameterInfo($"{s_names[i]}.weight", weight.Shape, offset, FanIn(i) * FanOut(i)), weight);
            Assert.Equal(new[] { FanOut(i), FanIn(i) }, weight.Shape);
            offset += weight.Length;
            Assert.Equal(new ParameterInfo($"{s_names[i]}.bias", bias.Shape, offset, FanOut(i)), bias);
            Assert.Equal(new[] { FanOut(i) }, bias.Shape);
            offset += bias.Length;

            var layer = model.Layers[i];
            Assert.Equal(s_names[i], layer.Name);
            Assert.Equal("Dense", layer.Kind);
            Assert.Equal(new[] { FanIn(i) }, layer.InputShape);
            Assert.Equal(new[] { FanOut(i) }, layer.OutputShape);
            Assert.Equal(new[] { weight, bias }, layer.Parameters);
            Assert.Equal(2L * FanIn(i) * FanOut(i), layer.Flops);
        }
        Assert.Same(model.Layers[4], model.B2);
        Assert.Same(model.Layers[12], model.B6);
    }

    [Fact]
    public void Summary_ListsEveryLayer_InTheTableFormat()
    {
        static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
        static string Row(string name, string kind, string shape, string parameters, string flops) =>
            (name.PadRight(9) + kind.PadRight(12) + shape.PadRight(14) + parameters.PadLeft(6) + "  " + flops.PadLeft(5)).TrimEnd() + "\n";
        var expected = "DeepNet: [7] -> [3]\n" + Row("Layer", "Kind", "Output shape", "Params", "FLOPs") + Row("(input)", "", "[7]", "", "");
        for (int i = 0; i < s_names.Length; i++)
        {
            string kind = i == 0 ? "Dense+ReLU" : i == s_names.Length - 1 ? "Dense" : i % 2 == 1 ? "Dense+Tanh" : "Dense";
            expected += Row(s_names[i], kind, $"[{FanOut(i)}]", N(FanIn(i) * FanOut(i) + FanOut(i)), N(2 * FanIn(i) * FanOut(i)));
        }
        expected += "Total parameters: 3,862   FLOPs per example: 7,276\n";
        Assert.Equal(expected, DeepNet.Summary());
    }
}
