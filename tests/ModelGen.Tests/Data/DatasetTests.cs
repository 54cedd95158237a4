// Dataset validation: shapes, lengths and label ranges, with messages naming what was wrong.
using ModelGen.Data;

namespace ModelGen.Tests.Data;

public class DatasetTests
{
    [Fact]
    public void FromArrays_Classification_ExposesShapeAndExamples()
    {
        float[] x = [0, 1, 2, 3, 4, 5];
        var d = Dataset.FromArrays(x, [1, 0, 2], [2], classCount: 3);
        Assert.Equal(3, d.Count);
        Assert.Equal(2, d.ExampleLength);
        Assert.Equal([2f, 3f], d.Example(1).ToArray());
        Assert.Null(d.Targets);
        Assert.Equal(0, d.TargetLength);
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Example(3));
    }

    [Fact]
    public void FromArrays_LabelOutOfRange_ThrowsNamingIndexAndValue()
    {
        var e = Assert.Throws<ArgumentException>(() => Dataset.FromArrays(new float[6], [1, 3, 0], [2], classCount: 3));
        Assert.Contains("labels[1] = 3 is outside [0, 3)", e.Message);
        e = Assert.Throws<ArgumentException>(() => Dataset.FromArrays(new float[6], [1, -1, 0], [2], classCount: 3));
        Assert.Contains("labels[1] = -1", e.Message);
    }

    [Fact]
    public void FromArrays_InputsNotMultipleOfShape_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => Dataset.FromArrays(new float[7], [0, 0], [1, 2, 2], classCount: 1));
        Assert.Contains("7 floats, not a multiple of the example length 4 (shape [1, 2, 2])", e.Message);
    }

    [Fact]
    public void FromArrays_WrongLabelCount_ThrowsExpectedVsActual()
    {
        var e = Assert.Throws<ArgumentException>(() => Dataset.FromArrays(new float[8], [0], [4], classCount: 1));
        Assert.Contains("labels has 1 entries, expected 2", e.Message);
    }

    [Fact]
    public void FromArrays_NonPositiveDimension_Throws() =>
        Assert.Contains("exampleShape[1] = 0", Assert.Throws<ArgumentException>(() => Dataset.FromArrays(new float[4], [0], [4, 0], 1)).Message);

    [Fact]
    public void FromArrays_Targets_ValidatesLength()
    {
        var d = Dataset.FromArrays(new float[6], new float[] { 1, 2, 3, 4, 5, 6 }, [3], targetLength: 3);
        Assert.Equal(2, d.Count);
        Assert.Equal([4f, 5f, 6f], d.Target(1).ToArray());
        Assert.Null(d.Labels);
        var e = Assert.Throws<ArgumentException>(() => Dataset.FromArrays(new float[6], new float[5], [3], targetLength: 3));
        Assert.Contains("targets has 5 floats, expected 6 (2 examples × 3)", e.Message);
    }
}
