// Deep models for the cost tests: one block of four layers repeated, as a residual MLP stack is written by hand.
using System.Text;

namespace ModelGen.Generators.Tests.Infrastructure;

internal static class DeepModels
{
    /// <summary>
    /// A [Model(64)] class <paramref name="className"/> with <paramref name="layers"/> layers: (Dense+ReLU, Dense, GELU,
    /// Dropout) repeated, the last layer a Dense(10) head.
    /// </summary>
    public static string Source(int layers, string className = "Deep200")
    {
        var sb = new StringBuilder($"using ModelGen;\nnamespace Bench;\n[Model(64)]\npublic partial class {className}\n{{\n");
        for (int i = 0; i < layers - 1; i++)
        {
            string attribute = (i % 4) switch
            {
                0 => "Dense(64, Activation = Activation.ReLU)",
                1 => "Dense(64)",
                2 => "GELU",
                _ => "Dropout(0.1)",
            };
            sb.Append($"    [{attribute}] public partial Layer L{i} {{ get; }}\n");
        }
        return sb.Append("    [Dense(10)] public partial Layer Head { get; }\n}\n").ToString();
    }
}
