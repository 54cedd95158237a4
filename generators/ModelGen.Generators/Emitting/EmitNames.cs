// Spellings shared by the emitters: runtime type names, activation operator expressions, offset constants and
// invariant float literals (generated code must not depend on the build machine's culture).
using System.Globalization;
using System.Linq;
using ModelGen.Generators.Model;
using ModelGen.Generators.Shapes;

namespace ModelGen.Generators.Emitting;

internal static class EmitNames
{
    public const string Kernels = "global::ModelGen.Kernels";
    public const string Guards = "global::ModelGen.Runtime.ModelGuards";

    /// <summary>C# expression for the activation operator struct, e.g. <c>default(global::ModelGen.Kernels.ReluActivation)</c>.</summary>
    public static string Operator(ActivationKind activation, double slope = 0.01) => activation switch
    {
        ActivationKind.None => $"default({Kernels}.IdentityActivation)",
        ActivationKind.ReLU => $"default({Kernels}.ReluActivation)",
        ActivationKind.LeakyReLU => $"new {Kernels}.LeakyReluActivation({Float(slope)})",
        ActivationKind.GELU => $"default({Kernels}.GeluActivation)",
        ActivationKind.GELUTanh => $"default({Kernels}.GeluTanhActivation)",
        ActivationKind.SiLU => $"default({Kernels}.SiluActivation)",
        ActivationKind.Sigmoid => $"default({Kernels}.SigmoidActivation)",
        ActivationKind.Tanh => $"default({Kernels}.TanhActivation)",
        _ => throw new System.ArgumentOutOfRangeException(nameof(activation), activation, "not an elementwise activation"),
    };

    /// <summary>Human-readable activation name for comments and summaries.</summary>
    public static string Describe(ActivationKind activation, double slope = 0.01) => activation switch
    {
        ActivationKind.LeakyReLU => $"LeakyReLU({slope.ToString("R", CultureInfo.InvariantCulture)})",
        ActivationKind.GELUTanh => "GELU(tanh)",
        _ => activation.ToString(),
    };

    /// <summary>A float literal with round-trip precision in the invariant culture, e.g. <c>0.01f</c>.</summary>
    public static string Float(double value) => ((float)value).ToString("R", CultureInfo.InvariantCulture) + "f";

    /// <summary>An int literal in the invariant culture.</summary>
    public static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Name of the offset constant of a parameter, e.g. <c>Fc1WeightOffset</c>, <c>Block1Conv1WeightOffset</c>.</summary>
    public static string OffsetConstant(ParamSpec param) => Pascal(param.Name) + "Offset";

    /// <summary>
    /// A node's parameter named <paramref name="shortName"/> (<c>weight</c>, <c>bias</c>, ...) as a slice of the span
    /// <paramref name="buffer"/> (<c>parameters</c> or <c>gradients</c>), or <c>default</c> when the node has none.
    /// </summary>
    public static string ParamSlice(GraphNode node, string shortName, string buffer = "parameters") =>
        node.Params.FirstOrDefault(p => p.ShortName == shortName) is { } param
            ? $"{buffer}.Slice({OffsetConstant(param)}, {Int(param.Length)})"
            : "default";

    /// <summary>
    /// A node's buffer named <paramref name="shortName"/> (<c>running_mean</c>, ...) as a slice of the span <paramref name="buffers"/>.
    /// </summary>
    public static string BufferSlice(GraphNode node, string shortName, string buffers = "buffers")
    {
        var buffer = node.Buffers.First(p => p.ShortName == shortName);
        return $"{buffers}.Slice({OffsetConstant(buffer)}, {Int(buffer.Length)})";
    }

    /// <summary>A dropout probability that applies only in training mode: the last ForwardTrain's mode decides (0 in evaluation mode).</summary>
    public static string ModeDropout(double p) => p > 0 ? $"(_forwardTraining ? {Float(p)} : 0f)" : Float(p);

    /// <summary>Name of the static geometry field of a conv or pooling node, e.g. <c>s_block1Conv1Geometry</c>.</summary>
    public static string GeometryField(string nodeName)
    {
        string pascal = Pascal(nodeName);
        return "s_" + char.ToLowerInvariant(pascal[0]) + pascal.Substring(1) + "Geometry";
    }

    /// <summary>Shape as it appears in comments: <c>[B,784]</c>.</summary>
    public static string BatchShape(System.Collections.Generic.IEnumerable<int> shape) =>
        "[B," + string.Join(",", shape.Select(d => d == Model.ModelSpec.Seq ? "T" : d == Model.ModelSpec.SourceSeq ? "S" : Int(d))) + "]";

    /// <summary>An <c>int[]</c> creation expression for a shape.</summary>
    public static string IntArray(System.Collections.Generic.IEnumerable<int> values) => "new int[] { " + string.Join(", ", values.Select(v => Int(v))) + " }";

    /// <summary>A string literal with C# escapes.</summary>
    public static string String(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n") + "\"";

    /// <summary><c>block1.conv1.running_mean</c> → <c>Block1Conv1RunningMean</c>.</summary>
    public static string Pascal(string s) =>
        string.Concat(s.Split('.', '_').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p.Substring(1)));
}
