namespace ModelGen.Tests.Models;

/// <summary>Deterministic inputs shared by the generated-model tests.</summary>
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
}
