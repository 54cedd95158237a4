namespace ModelGen.Tests.Models;

/// <summary>Deterministic inputs and shared checks for the generated-model tests.</summary>
internal static class ModelTestData
{
    /// <summary><paramref name="length"/> floats uniform in [-scale, scale), fixed by <paramref name="seed"/>.</summary>
    public static float[] RandomArray(int length, int seed, float scale = 1)
    {
        var rng = new Rng((ulong)seed);
        var a = new float[length];
        for (int i = 0; i < length; i++) a[i] = (rng.NextFloat() * 2 - 1) * scale;
        return a;
    }

    /// <summary>
    /// Inference (<c>Forward</c>, where the planner fuses layers) equals the training forward (which never fuses) within
    /// 1e-5, relative and absolute, on a random batch fixed by <paramref name="seed"/>.
    /// </summary>
    public static void AssertInferenceMatchesTraining(ITrainable model, int batch, int seed)
    {
        var input = RandomArray(batch * model.InputLength, seed);
        var fused = new float[batch * model.OutputLength];
        var unfused = new float[fused.Length];
        model.Forward(input, fused, batch);
        model.ForwardTrain(input, unfused, batch);
        for (int i = 0; i < fused.Length; i++)
            Assert.True(Math.Abs(fused[i] - unfused[i]) <= 1e-5f + 1e-5f * Math.Abs(unfused[i]),
                $"{model.GetType().Name} batch {batch}: output[{i}] = {fused[i]} (fused inference) vs {unfused[i]} (training forward)");
    }
}
