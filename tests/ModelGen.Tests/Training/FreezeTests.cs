// LayerSelection: freezing and learning-rate scales by layer name. A frozen block stays bit-identical through a whole
// Trainer.Fit while the rest trains; a scaled block moves by exactly scale × the plain step under SGD; names inside a
// block, unknown names and empty lists are rejected with messages listing the model's layers.
using ModelGen.Data;
using ModelGen.Tests.Serialization;

namespace ModelGen.Tests.Training;

public class FreezeTests
{
    private static Dataset Synthetic(int count, int seed)
    {
        var rng = new Rng((ulong)seed);
        var x = new float[count * 3];
        var y = new int[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = rng.NextInt(2);
            for (int j = 0; j < 3; j++) x[i * 3 + j] = rng.NextFloat() * 2 - 1 + (y[i] == 1 && j == 0 ? 1f : 0f);
        }
        return Dataset.FromArrays(x, y, new[] { 3 }, 2);
    }

    [Fact]
    public void Freeze_Block_StaysUnchangedThroughFitWhileTheHeadTrains()
    {
        var model = new TlTarget(3);
        var frozen = model.Freeze("features");
        Assert.Equal(["features"], frozen.Select(l => l.Name));
        float[] featuresBefore = model.Features.Parameters.ToArray();
        float[] headBefore = model.Head.Parameter("weight").ToArray();

        var trainer = new Trainer(model, new AdamW(1e-2f, weightDecay: 1e-2f), Loss.CrossEntropy);
        trainer.Fit(Synthetic(37, 1), epochs: 3, batchSize: 8, options: new FitOptions { Seed = 1 });

        Assert.Equal(featuresBefore, model.Features.Parameters.ToArray());
        Assert.NotEqual(headBefore, model.Head.Parameter("weight").ToArray());
    }

    [Fact]
    public void Unfreeze_MakesTheBlockTrainAgain()
    {
        var model = new TlTarget(3);
        model.Freeze("features.", "head");
        Assert.All(model.Layers, l => Assert.False(l.Trainable));
        model.Unfreeze("features");
        float[] before = model.Features.Parameters.ToArray();

        new Trainer(model, new Sgd(0.1f), Loss.CrossEntropy).Fit(Synthetic(16, 2), epochs: 1, batchSize: 8);

        Assert.True(model.Layers[0].Trainable);
        Assert.NotEqual(before, model.Features.Parameters.ToArray());
    }

    [Fact]
    public void SetLearningRateScale_Sgd_MovesTheBlockByScaleTimesTheStep()
    {
        // Two identical models, one step of plain SGD on the same gradients: the scaled block's update is exactly 0.25 × the
        // other's (computed in float, as the update lr × g is; both rates are exact multiples of powers of two).
        var plain = new TlTarget(4);
        var scaled = new TlTarget(4);
        var selected = scaled.SetLearningRateScale(0.25f, "features");
        Assert.Equal(0.25f, Assert.Single(selected).LearningRateScale);
        var gradients = new float[TlTarget.ParameterCount];
        var rng = new Rng(5);
        for (int i = 0; i < gradients.Length; i++) gradients[i] = rng.NextFloat() - 0.5f;
        float[] before = plain.Parameters.ToArray();

        new Sgd(0.5f).Step(plain, gradients);
        new Sgd(0.5f).Step(scaled, gradients);

        var features = scaled.ParameterInfos.Where(p => p.Name.StartsWith("features.", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(features);
        foreach (var p in scaled.ParameterInfos)
            for (int i = p.Offset; i < p.Offset + p.Length; i++)
            {
                float lr = features.Contains(p) ? 0.125f : 0.5f;
                Assert.Equal(before[i] - lr * gradients[i], scaled.Parameters[i]);
            }
    }

    [Fact]
    public void Freeze_NameInsideABlock_ThrowsNamingTheBlock()
    {
        var model = new TlTarget(1);
        var e = Assert.Throws<ArgumentException>(() => model.Freeze("features.fc1"));
        Assert.StartsWith("'features.fc1' is inside block 'features' (TlBody); optimizers freeze and scale whole members of the model, so select 'features'. The model's layers: features, head.", e.Message);
        Assert.All(model.Layers, l => Assert.True(l.Trainable));
    }

    [Fact]
    public void Freeze_UnknownOrEmpty_Throws()
    {
        var model = new TlTarget(1);
        var e = Assert.Throws<ArgumentException>(() => model.Freeze("head", "backbone"));
        Assert.StartsWith("The model has no layer 'backbone'. Its layers: features, head.", e.Message);
        Assert.True(model.Head.Trainable);   // nothing is changed when one name fails
        Assert.Throws<ArgumentException>(() => model.Freeze());
        Assert.Throws<ArgumentException>(() => model.Freeze(""));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.SetLearningRateScale(float.NaN, "head"));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.SetLearningRateScale(-1f, "head"));
    }
}
