using System.Diagnostics;

namespace ModelGen.Generators.Tests;

/// <summary>The MNIST sample's command line on bad input: one line on stderr, no stack trace, a non-zero exit code.</summary>
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
