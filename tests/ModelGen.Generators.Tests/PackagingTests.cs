using System.Diagnostics;
using System.IO.Compression;

namespace ModelGen.Generators.Tests;

/// <summary>
/// `dotnet pack src/ModelGen` yields ONE package carrying the runtime and the generator, and a project that
/// references only that package gets generated code. Slow (a pack and a consumer build), so it is one test.
/// </summary>
[Trait("Category", "Packaging")]
[Collection(DotnetProcesses.Name)]
public class PackagingTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ModelGen.sln"))) return dir.FullName;
        throw new InvalidOperationException("ModelGen.sln not found above " + AppContext.BaseDirectory);
    }

    private static string Run(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        string output = stdout.Result + stderr.Result;
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed ({process.ExitCode}):\n{output}");
        return output;
    }

    [Fact]
    public void Pack_ConsumerOfNupkg_GetsGeneratedModel()
    {
        string root = RepositoryRoot();
        string work = Path.Combine(Path.GetTempPath(), "modelgen-pack-" + Guid.NewGuid().ToString("N"));
        try
        {
            string feed = Path.Combine(work, "feed");
            Run(root, "pack", "src/ModelGen", "-c", "Release", "-o", feed, "-p:PackageVersion=0.0.0-test");
            string nupkg = Assert.Single(Directory.GetFiles(feed, "*.nupkg"));
            using (var zip = ZipFile.OpenRead(nupkg))
            {
                var entries = zip.Entries.Select(e => e.FullName).ToList();
                Assert.Contains("lib/net10.0/ModelGen.dll", entries);
                Assert.Contains("analyzers/dotnet/cs/ModelGen.Generators.dll", entries);
                // Every diagnostic's help page ships where the analyzer's help links point (DiagnosticDescriptors.HelpLinkBase).
                foreach (var d in ModelGen.Generators.Diagnostics.DiagnosticDescriptors.All)
                    Assert.Contains($"docs/diagnostics/{d.Id}.md", entries);
            }

            string app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <configuration>
                  <packageSources><clear /><add key="local" value="{feed}" /></packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "App.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <RestorePackagesPath>{Path.Combine(work, "packages")}</RestorePackagesPath>
                  </PropertyGroup>
                  <ItemGroup><PackageReference Include="ModelGen" Version="0.0.0-test" /></ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using ModelGen;
                var model = new Tiny(seed: 1);
                var output = new float[2 * Tiny.OutputSize];
                model.Forward(new float[2 * Tiny.InputSize], output, batch: 2);
                Console.WriteLine($"params={Tiny.ParameterCount} out={output.Length} layer={model.Fc.Name}");

                [Model(5)]
                public partial class Tiny
                {
                    [Dense(3, Activation = Activation.ReLU)] public partial Layer Fc { get; }
                }
                """);
            string output = Run(app, "run", "-c", "Release");
            Assert.Contains("params=18 out=6 layer=fc", output);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }
}
