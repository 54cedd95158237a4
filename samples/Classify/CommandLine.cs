// The command line: a handful of flags and file names, parsed by hand to keep the NativeAOT binary small and
// quick to start (System.CommandLine works under AOT but made this binary 1.4 MB larger: 3.5 MB instead of 2.1).
// GNU conventions: options anywhere, "--opt value" or "--opt=value", "--" ends the options, "-" is a file name meaning stdin.
namespace Classify;

/// <summary>Everything the command line asked for.</summary>
internal sealed record Request(string? Weights, bool TestSet, string DataDirectory, string? DumpLogits, bool Invert, bool Info, bool Help, int Repeat, string[] Images);

/// <summary>Parses <c>classify [options] [images...]</c>.</summary>
internal static class CommandLine
{
    internal static string DefaultDataDirectory => Path.Combine(AppContext.BaseDirectory, "data");

    internal static string HelpText => $"""
        Classify handwritten digits with the ModelGen MNIST MLP (inference only; NativeAOT-ready).

        Usage: classify [options] [images...]

        Arguments:
          images               Image files: PGM (P5/P2) or 8-bit PNG (grey/RGB[A]), 28x28, light digit on dark
                               background as in MNIST, or exactly 784 raw bytes; '-' reads one from stdin.

        Options:
          -w, --weights FILE   Safetensors weights written by samples/Mnist (default: the copy embedded in the
                               binary if it has one, else {WeightsSource.DefaultFileName} beside the binary, else in
                               the current directory).
          --test-set           Classify the vendored MNIST test split; the last line is 'accuracy: 0.XXXX'.
          --data DIR           Folder with the MNIST .idx.gz files (default: data/ beside the binary).
          --repeat N           With --test-set: run the forward pass N times and report the median time
                               (compares builds, e.g. instruction sets; default 1).
          --dump-logits FILE   Write every logit as round-trip text, one example per line (compare runs with cmp).
          --invert             Images are dark digits on a light background: use 255 - pixel.
          --info               Print how this binary runs: AOT or JIT, architecture, vector width, FMA, weights.
          -h, --help           Show this text.
        """;

    /// <summary>Parses <paramref name="args"/>; on failure <paramref name="error"/> says which argument was wrong and why.</summary>
    internal static bool TryParse(string[] args, out Request request, out string? error)
    {
        request = null!;
        error = Parse(args, out var parsed);
        if (error is null) request = parsed!;
        return error is null;
    }

    /// <summary>Returns null and the request, or the problem.</summary>
    private static string? Parse(string[] args, out Request? request)
    {
        string? weights = null, dump = null, repeatText = null;
        string data = DefaultDataDirectory;
        bool testSet = false, invert = false, info = false, help = false, optionsEnded = false;
        var images = new List<string>();
        string? error = null;
        request = null;

        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (optionsEnded || arg == "-" || !arg.StartsWith('-'))
            {
                images.Add(arg);
                continue;
            }
            string name = arg, inlineValue = "";
            bool hasInlineValue = false;
            int equals = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 2)
            {
                name = arg[..equals];
                inlineValue = arg[(equals + 1)..];
                hasInlineValue = true;
            }
            switch (name)
            {
                case "--": optionsEnded = true; break;
                case "-w" or "--weights": if (!Value(ref i, out weights)) return error; break;
                case "--data": if (!Value(ref i, out data)) return error; break;
                case "--dump-logits": if (!Value(ref i, out dump)) return error; break;
                case "--repeat": if (!Value(ref i, out repeatText)) return error; break;
                case "--test-set": if (!Flag(out testSet)) return error; break;
                case "--invert": if (!Flag(out invert)) return error; break;
                case "--info": if (!Flag(out info)) return error; break;
                case "-h" or "--help" or "-?": if (!Flag(out help)) return error; break;
                default:
                    return $"unknown option '{name}'.";
            }

            bool Value(ref int index, out string value)
            {
                if (hasInlineValue) value = inlineValue;
                else if (index + 1 < args.Length) value = args[++index];
                else
                {
                    value = "";
                    error = $"option '{name}' needs a value.";
                    return false;
                }
                if (value.Length > 0) return true;
                error = $"option '{name}' has an empty value.";
                return false;
            }

            bool Flag(out bool value)
            {
                value = true;
                if (!hasInlineValue) return true;
                error = $"option '{name}' takes no value (got '{inlineValue}').";
                return false;
            }
        }

        if (!help && !info && !testSet && images.Count == 0)
            return "nothing to do: give image files, '-' for an image on stdin, --test-set or --info.";
        int repeat = 1;
        if (repeatText is not null && (!int.TryParse(repeatText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out repeat) || repeat < 1))
            return $"option '--repeat' needs a positive integer, got '{repeatText}'.";
        request = new Request(weights, testSet, data, dump, invert, info, help, repeat, images.ToArray());
        return null;
    }
}
