// --dump-logits: one line per classified example, "label<TAB>prediction<TAB>logit0 ... logit9", each logit in the
// shortest text that round-trips to the same float ("R"), so two dumps are byte-identical exactly when every
// logit is bit-identical (cmp), and still parse as numbers for a tolerance check (awk).
using System.Globalization;
using System.Text;

namespace Classify;

/// <summary>Writes logits as round-trip text for comparing runs (JIT vs AOT, x64 vs Arm64).</summary>
internal sealed class LogitsWriter : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly StringBuilder _line = new(256);

    /// <summary>Creates (or truncates) <paramref name="path"/>.</summary>
    internal LogitsWriter(string path)
    {
        _writer = new StreamWriter(path, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { NewLine = "\n" };
        _writer.WriteLine("# label\tprediction\tlogits (float32, round-trip text); label -1 = unknown");
    }

    /// <summary>Appends one example.</summary>
    internal void Write(int label, int prediction, ReadOnlySpan<float> logits)
    {
        _line.Clear();
        _line.Append(label).Append('\t').Append(prediction);
        foreach (float v in logits) _line.Append('\t').Append(v.ToString("R", CultureInfo.InvariantCulture));
        _writer.WriteLine(_line);
    }

    /// <inheritdoc/>
    public void Dispose() => _writer.Dispose();
}
