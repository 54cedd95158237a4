// Where the weights come from: an explicit --weights file, else a copy embedded in the executable at build time
// (-p:EmbedWeights=FILE), else mnist-mlp.safetensors beside the binary, else in the current directory.
// Embedded weights are a manifest resource read through a stream, never C# array initialisers (those make the
// compiler's time and memory explode for real models).
using Mnist;
using ModelGen.Serialization;

namespace Classify;

/// <summary>Finds and loads the MNIST MLP's weights.</summary>
internal static class WeightsSource
{
    /// <summary>The file samples/Mnist writes by default.</summary>
    internal const string DefaultFileName = "mnist-mlp.safetensors";

    /// <summary>The manifest resource name the csproj gives an embedded weights file (EmbeddedWeightsResourceName).</summary>
    internal const string ResourceName = "Classify.weights.safetensors";

    /// <summary>Loads the model from <paramref name="explicitPath"/> or the default places; returns it with a description of the source.</summary>
    /// <exception cref="FileNotFoundException">No weights were given, embedded or found; the message lists where it looked.</exception>
    internal static (MnistMlp Model, string Source) LoadModel(string? explicitPath)
    {
        var model = new MnistMlp();
        if (explicitPath is not null)
        {
            if (!File.Exists(explicitPath))
                throw new FileNotFoundException($"--weights: '{explicitPath}' does not exist.", explicitPath);
            model.LoadWeights(explicitPath);
            return (model, $"file {Path.GetFullPath(explicitPath)}");
        }

        using (Stream? embedded = typeof(WeightsSource).Assembly.GetManifestResourceStream(ResourceName))
        {
            if (embedded is not null)
            {
                model.Load(embedded, $"embedded resource '{ResourceName}'");
                return (model, $"embedded in the executable ({embedded.Length:N0} bytes)");
            }
        }

        string besideBinary = Path.Combine(AppContext.BaseDirectory, DefaultFileName);
        string inCurrentDirectory = Path.GetFullPath(DefaultFileName);
        foreach (string candidate in (ReadOnlySpan<string>)[besideBinary, inCurrentDirectory])
            if (File.Exists(candidate))
            {
                model.LoadWeights(candidate);
                return (model, $"file {candidate}");
            }
        string places = besideBinary == inCurrentDirectory ? besideBinary : $"{besideBinary} or {inCurrentDirectory}";
        throw new FileNotFoundException(
            $"No weights: none embedded in this binary, and no {DefaultFileName} at {places}. " +
            "Train some with 'dotnet run -c Release --project samples/Mnist' or pass --weights FILE.", DefaultFileName);
    }
}
