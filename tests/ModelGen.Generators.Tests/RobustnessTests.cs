using Microsoft.CodeAnalysis;
using ModelGen.Generators.Tests.Infrastructure;

namespace ModelGen.Generators.Tests;

/// <summary>Half-typed and garbled declarations must never make the generator throw (which users see as CS8785).</summary>
public class RobustnessTests
{
    public static IEnumerable<object[]> Sources() => new[] { Samples.Mlp, Samples.Activations, Samples.SoftmaxHead, Samples.Residual }.Select(s => new object[] { s });

    [Theory]
    [MemberData(nameof(Sources))]
    public void Generate_EveryTruncationAndDeletion_NeverThrows(string source)
    {
        var variants = new List<string>();
        for (int i = 0; i < source.Length; i += 3) variants.Add(source[..i]);                     // typed up to here
        var rng = new Random(1234);
        for (int i = 0; i < 150; i++)                                                            // a span deleted
        {
            int start = rng.Next(source.Length), length = rng.Next(1, 12);
            variants.Add(source.Remove(start, Math.Min(length, source.Length - start)));
        }
        for (int i = 0; i < 100; i++)                                                            // a character replaced
        {
            int at = rng.Next(source.Length);
            const string noise = "(){};,=\"0-x[]";
            variants.Add(source[..at] + noise[rng.Next(noise.Length)] + source[(at + 1)..]);
        }

        // One driver over successive edits, as in the IDE: also exercises the incremental caches.
        var driver = GeneratorRunner.CreateDriver();
        foreach (var variant in variants)
        {
            driver = driver.RunGenerators(GeneratorRunner.CreateCompilation(variant));
            var result = driver.GetRunResult();
            var failure = result.Results.Single().Exception;
            Assert.True(failure is null, $"Generator threw {failure} on:\n{variant}");
            Assert.DoesNotContain(result.Diagnostics, d => d.Id is "CS8785" or "AD0001");
        }
    }
}
