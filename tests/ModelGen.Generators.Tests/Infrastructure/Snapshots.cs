// Golden-file snapshots of generated code (Verify does not restore here). Baselines live in
// Baselines/{Scenario}/{HintName}.txt next to this project's sources; set MODELGEN_ACCEPT_SNAPSHOTS=1 to rewrite
// them (stale files are deleted), then review the diff before committing.
using System.Runtime.CompilerServices;

namespace ModelGen.Generators.Tests.Infrastructure;

internal static class Snapshots
{
    public static bool Accepting => Environment.GetEnvironmentVariable("MODELGEN_ACCEPT_SNAPSHOTS") == "1";

    /// <summary>Compares <paramref name="files"/> (hint name → source) with the scenario's baselines.</summary>
    public static void Verify(string scenario, IReadOnlyDictionary<string, string> files, [CallerFilePath] string caller = "")
    {
        string dir = Path.Combine(Path.GetDirectoryName(caller)!, "Baselines", scenario);
        if (Accepting)
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.CreateDirectory(dir);
            foreach (var (hint, source) in files)
                File.WriteAllText(Path.Combine(dir, hint + ".txt"), Normalize(source));
            return;
        }
        Assert.True(Directory.Exists(dir), $"No baselines for scenario '{scenario}' at {dir}; run with MODELGEN_ACCEPT_SNAPSHOTS=1 to create them.");
        var expected = Directory.GetFiles(dir, "*.txt").Select(Path.GetFileName).Select(f => f![..^4]).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, files.Keys.Order(StringComparer.Ordinal).ToArray());
        foreach (var (hint, source) in files)
        {
            string want = File.ReadAllText(Path.Combine(dir, hint + ".txt")).ReplaceLineEndings("\n");
            string got = Normalize(source);
            if (want != got)
            {
                var wantLines = want.Split('\n');
                var gotLines = got.Split('\n');
                int line = 0;
                while (line < Math.Min(wantLines.Length, gotLines.Length) && wantLines[line] == gotLines[line]) line++;
                Assert.Fail($"{scenario}/{hint} differs from its baseline at line {line + 1}:\n  expected: {(line < wantLines.Length ? wantLines[line] : "<end>")}\n  actual:   {(line < gotLines.Length ? gotLines[line] : "<end>")}\n" +
                            "If the change is intended, rerun with MODELGEN_ACCEPT_SNAPSHOTS=1 and review the diff.");
            }
        }
    }

    private static string Normalize(string source) =>
        source.ReplaceLineEndings("\n").Replace($"\"{ModelGen.Generators.Emitting.ModelEmitter.Version}\"", "\"%VERSION%\"");
}
