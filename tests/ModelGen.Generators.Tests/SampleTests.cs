using System.Diagnostics;

namespace ModelGen.Generators.Tests;

/// <summary>The samples run end to end: bad input gives one line on stderr, no stack trace, a non-zero exit code.</summary>
[Trait("Category", "Samples")]
[Collection(DotnetProcesses.Name)]
public class SampleTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ModelGen.sln"))) return dir.FullName;
        throw new InvalidOperationException("ModelGen.sln not found above " + AppContext.BaseDirectory);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> Dotnet(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = RepositoryRoot(), RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(info)!;
        var readOut = process.StandardOutput.ReadToEndAsync();
        var readErr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await readOut, await readErr);
    }

    /// <summary>
    /// tools/mnist-png writes a small subset of the vendored digits as PNG folders; samples/ImageClassifier trains on them
    /// for one epoch and ends with the accuracy line. A second run without --test holds out part of --data instead.
    /// </summary>
    [Fact]
    public async Task ImageClassifier_OneEpochOnMnistPngSubset_EndsWithTestAccuracy()
    {
        string dir = Path.Combine(Path.GetTempPath(), "modelgen-mnist-png-" + Guid.NewGuid().ToString("N"));
        try
        {
            var tool = await Dotnet("run", "-c", "Release", "--project", "tools/mnist-png", "--", dir, "--per-class", "20");
            Assert.True(tool.ExitCode == 0, tool.Stdout + tool.Stderr);
            Assert.Contains("train: 200 PNGs", tool.Stdout);
            Assert.Equal(20, Directory.GetFiles(Path.Combine(dir, "test", "7")).Length);

            var run = await Dotnet("run", "-c", "Release", "--project", "samples/ImageClassifier", "--", "--data", Path.Combine(dir, "train"),
                "--test", Path.Combine(dir, "test"), "--grayscale", "--epochs", "1", "--out", Path.Combine(dir, "w.safetensors"));
            Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
            Assert.Contains("180 train, 20 validation (10% of the training images), 200 test", run.Stdout);
            Assert.Contains("(val = the validation split of the training images)", run.Stdout);
            Assert.Matches(@"^test accuracy: 0\.\d{4}$", run.Stdout.TrimEnd().Split('\n')[^1]);

            run = await Dotnet("run", "-c", "Release", "--no-build", "--project", "samples/ImageClassifier", "--", "--data", Path.Combine(dir, "train"),
                "--size", "32x32", "--epochs", "1", "--out", Path.Combine(dir, "w2.safetensors"));
            Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
            Assert.Contains("Images as 3x32x32 (bilinear resize): 140 train, 20 validation (10% of the training images), 40 test (20% of", run.Stdout);
            Assert.Matches(@"^test accuracy: 0\.\d{4}$", run.Stdout.TrimEnd().Split('\n')[^1]);

            var bad = await Dotnet("run", "-c", "Release", "--no-build", "--project", "samples/ImageClassifier", "--", "--data", Path.Combine(dir, "missing"));
            Assert.Equal(3, bad.ExitCode);
            Assert.StartsWith($"imageclassifier: Image folder '{Path.Combine(dir, "missing")}'", bad.Stderr);
            Assert.DoesNotContain("   at ", bad.Stdout + bad.Stderr);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Mnist_MissingDataDirectory_PrintsOneLineNamingItAndTheFiles()
    {
        string missing = Path.Combine(Path.GetTempPath(), "modelgen-no-mnist-" + Guid.NewGuid().ToString("N"));
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = RepositoryRoot(), RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "run", "-c", "Release", "--project", "samples/Mnist", "--", "--data", missing }) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(info)!;
        var readOut = process.StandardOutput.ReadToEndAsync();
        var readErr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        string stdout = await readOut, stderr = await readErr;

        Assert.True(process.ExitCode != 0, $"exit code 0; stdout:\n{stdout}");
        Assert.Equal(
            $"mnist: MNIST directory '{missing}' does not exist; it should hold train-images.idx.gz, train-labels.idx.gz, " +
            "test-images.idx.gz and test-labels.idx.gz (as samples/Mnist/data does).",
            stderr.TrimEnd());
        Assert.DoesNotContain("   at ", stdout + stderr);
    }
}

/// <summary>
/// Tests that run <c>dotnet</c> builds of this repository's projects: never at the same time, since two MSBuild
/// processes building src/ModelGen at once (a pack with another version, a sample run) would race on its obj folder.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DotnetProcesses
{
    public const string Name = "dotnet processes";
}
