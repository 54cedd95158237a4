// Finiteness: the vectorised NaN/∞ scan behind the divergence diagnostics, at every length and position that the
// 512/256/128-bit tiers and the scalar tail split differently, and the layer-order search over a model's buffer.
namespace ModelGen.Tests.Training;

[Trait("Category", "Kernels")]
public class FinitenessTests
{
    [Fact]
    public void AllFinite_EveryLengthAndPosition_FindsTheOneNonFiniteElement()
    {
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
            for (int n = 0; n <= 70; n++)
            {
                // Extreme finite values around it: x − x must stay 0 for them.
                var values = Enumerable.Range(0, n).Select(i => (i % 3) switch { 0 => float.MaxValue, 1 => -float.Epsilon, _ => i }).ToArray();
                Assert.True(Finiteness.AllFinite(values), $"n={n}");
                Assert.Equal(-1, Finiteness.IndexOfNonFinite(values));
                for (int at = 0; at < n; at++)
                {
                    float kept = values[at];
                    values[at] = bad;
                    Assert.False(Finiteness.AllFinite(values), $"{bad} at {at} of {n}");
                    Assert.Equal(at, Finiteness.IndexOfNonFinite(values));
                    values[at] = kept;
                }
            }
    }

    [Fact]
    public void FirstNonFinite_FollowsLayerOrderThenUnlistedTensors()
    {
        var model = new FakeModel(("b", [("weight", 5), ("bias", 2)]), ("a", [("weight", 3)]));
        var buffer = new float[10];
        Assert.Null(Finiteness.FirstNonFinite(model, buffer));
        buffer[8] = float.NaN;   // a.weight[1]
        Assert.Equal(("a", "a.weight"), Finiteness.FirstNonFinite(model, buffer));
        buffer[6] = float.NegativeInfinity;   // b.bias[1]: layer b comes first
        Assert.Equal(("b", "b.bias"), Finiteness.FirstNonFinite(model, buffer));
    }
}
