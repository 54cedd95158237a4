// --info: what this process really executes. Under NativeAOT the vector paths are fixed at compile time by
// IlcInstructionSet (Vector256.IsHardwareAccelerated is a constant there), so this is how a user verifies that a
// published binary takes the 256-bit AVX2+FMA kernels rather than the 128-bit baseline.
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Classify;

/// <summary>Describes the execution engine, the CPU features in use and the vector width the kernels take.</summary>
internal static class RuntimeInfo
{
    /// <summary>Widest vector the ModelGen kernels use in this process (they test the same three properties, widest first).</summary>
    internal static int KernelVectorBits =>
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>
    /// Whether a JIT compiled this code. Not <c>RuntimeFeature.IsDynamicCodeSupported</c>: with PublishAot in the
    /// csproj the SDK turns that switch off in JIT runs too, so that they behave like the AOT binary will.
    /// A NativeAOT process has no JIT, so its compiled-method count stays 0.
    /// </summary>
    internal static bool IsJitted => System.Runtime.JitInfo.GetCompiledMethodCount() > 0;

    /// <summary>Name/value pairs, in display order.</summary>
    internal static IEnumerable<(string Key, string Value)> Describe()
    {
        yield return ("engine", IsJitted ? "JIT (CoreCLR)" : "NativeAOT (compiled ahead of time, no JIT)");
        yield return ("framework", RuntimeInformation.FrameworkDescription);
        yield return ("os / process architecture", $"{RuntimeInformation.OSDescription} / {RuntimeInformation.ProcessArchitecture}");
        yield return ("kernel vector width", KernelVectorBits == 0 ? "scalar (no hardware vectors)" : $"{KernelVectorBits}-bit");
        yield return ("Vector512 accelerated", Flag(Vector512.IsHardwareAccelerated));
        yield return ("Vector256 accelerated", Flag(Vector256.IsHardwareAccelerated));
        yield return ("Vector128 accelerated", Flag(Vector128.IsHardwareAccelerated));
        yield return ("Vector<float>.Count", Vector<float>.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86)
        {
            yield return ("Sse4.2 / Avx / Avx2", $"{Flag(Sse42.IsSupported)} / {Flag(Avx.IsSupported)} / {Flag(Avx2.IsSupported)}");
            yield return ("Fma", Flag(Fma.IsSupported));
            yield return ("Avx512F", Flag(Avx512F.IsSupported));
        }
        else if (RuntimeInformation.ProcessArchitecture is Architecture.Arm64)
        {
            yield return ("AdvSimd (NEON) / Arm64", $"{Flag(AdvSimd.IsSupported)} / {Flag(AdvSimd.Arm64.IsSupported)}");
            yield return ("fused multiply-add", Flag(AdvSimd.IsSupported) + " (NEON FMLA)");
        }
    }

    private static string Flag(bool value) => value ? "true" : "false";
}
