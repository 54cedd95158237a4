// Repeated structure as loops (issue 17: the size of generated code grows with the number of distinct layer shapes,
// not with depth). Emitters write one chunk per layer (or fused step); a run of chunks whose code is the same text
// except for integer literals (parameter offsets, arena offsets, table indices) that step by a constant amount per
// repetition becomes one `for` loop over those offsets. The decision is made on the emitted text itself, so every
// layer kind and fusion takes part without a per-kind "same layer?" rule, and a loop does exactly the calls, with
// exactly the arguments, that the unrolled code did (results are bit-identical). Short runs stay unrolled: small
// models keep their straight-line code.
using System.Collections.Generic;
using System.Text;
using ModelGen.Generators.Common;
using static ModelGen.Generators.Emitting.EmitNames;

namespace ModelGen.Generators.Emitting;

/// <summary>Collects per-layer chunks of code and writes them, with runs of repeated chunks rolled into loops.</summary>
internal sealed class RunRoller
{
    /// <summary>A run is rolled from this many repetitions on (fewer stay straight-line code).</summary>
    public const int MinRepetitions = 4;

    /// <summary>The longest repeating group of chunks looked for (a residual block's layers, alternating arena slots).</summary>
    private const int MaxPeriod = 16;

    /// <summary>The loop variable of rolled runs; no other generated code names a local <c>r</c>.</summary>
    private const string Index = "r";

    /// <summary>How every rolled loop starts: a file containing it has rolled runs.</summary>
    public const string LoopHeader = "for (int " + Index + " = 0; ";

    private readonly List<(string Label, SourceWriter Writer)> _chunks = new();
    private readonly IReadOnlyDictionary<string, int> _constants;

    /// <param name="constants">Named integer constants that chunks use (offset constants): compared and stepped by value.</param>
    public RunRoller(IReadOnlyDictionary<string, int> constants) => _constants = constants;

    /// <summary>Starts the chunk of one layer (named <paramref name="label"/> in a rolled loop's comment) and returns its writer.</summary>
    public SourceWriter Begin(string label)
    {
        var writer = new SourceWriter();
        _chunks.Add((label, writer));
        return writer;
    }

    /// <summary>
    /// Writes the chunks into <paramref name="w"/>, each after a blank line when <paramref name="separate"/>; a rolled
    /// run is a commented <c>for</c> loop whose body shows the first repetition's comments.
    /// </summary>
    public void WriteTo(SourceWriter w, bool separate = true)
    {
        var chunks = Parse();
        int i = 0;
        while (i < chunks.Count)
        {
            var (period, repetitions) = FindRun(chunks, i);
            if (repetitions < MinRepetitions)
            {
                if (separate && chunks[i].Lines.Count > 0) w.Line();
                foreach (var line in chunks[i].Lines) w.Line(line);
                i++;
                continue;
            }
            if (separate) w.Line();
            var last = chunks[i + period * repetitions - 1];
            w.Line($"// {chunks[i].Label} … {last.Label}: {Int(repetitions)} repetitions of the {(period == 1 ? "layer" : Int(period) + " layers")} below (shown for {Index} = 0; "
                + "their offsets and indices step by a constant per repetition)");
            w.Open($"{LoopHeader}{Index} < {Int(repetitions)}; {Index}++)");
            for (int j = 0; j < period; j++)
            {
                if (j > 0 && separate) w.Line();
                var first = chunks[i + j];
                foreach (var comment in first.Comments) w.Line(comment);
                var steps = new long[first.Holes.Count];
                for (int h = 0; h < steps.Length; h++) steps[h] = chunks[i + period + j].Holes[h] - first.Holes[h];
                if (first.Lines.Count > first.Comments.Count)
                    foreach (var line in first.Template(steps).Split('\n')) w.Line(line);
            }
            w.Close();
            i += period * repetitions;
        }
    }

    /// <summary>Whether <see cref="WriteTo"/> would roll at least one run (a table then switches to statements it can loop over).</summary>
    public bool HasRuns
    {
        get
        {
            var chunks = Parse();
            for (int i = 0; i < chunks.Count; i++)
                if (FindRun(chunks, i).Repetitions >= MinRepetitions) return true;
            return false;
        }
    }

    private List<Chunk>? _parsed;

    private List<Chunk> Parse()
    {
        if (_parsed is { Count: var count } && count == _chunks.Count) return _parsed;
        _parsed = new List<Chunk>(_chunks.Count);
        foreach (var (label, writer) in _chunks) _parsed.Add(Chunk.Parse(label, writer.ToString(), _constants));
        return _parsed;
    }

    /// <summary>
    /// The "Network:" comment lines of <paramref name="nodes"/> (name, line) with runs of lines that differ only in layer
    /// names (<paramref name="names"/>) shortened to their first repetition and one line naming the rest.
    /// </summary>
    public static IEnumerable<string> RollComments(IReadOnlyList<(string Name, string Line)> nodes, ICollection<string> names, string prefix)
    {
        var keys = new List<string>(nodes.Count);
        foreach (var (_, line) in nodes) keys.Add(WithoutNames(line, names));
        int i = 0;
        while (i < nodes.Count)
        {
            int bestPeriod = 1, bestRepetitions = 1;
            for (int period = 1; period <= MaxPeriod && i + MinRepetitions * period <= nodes.Count; period++)
            {
                int repetitions = 1;
                while (i + (repetitions + 1) * period <= nodes.Count && SameKeys(keys, i, i + repetitions * period, period)) repetitions++;
                if (repetitions >= MinRepetitions && period * repetitions > bestPeriod * bestRepetitions) (bestPeriod, bestRepetitions) = (period, repetitions);
            }
            if (bestRepetitions < MinRepetitions)
            {
                yield return nodes[i++].Line;
                continue;
            }
            for (int j = 0; j < bestPeriod; j++) yield return nodes[i + j].Line;
            yield return $"{prefix}{nodes[i + bestPeriod].Name} … {nodes[i + bestPeriod * bestRepetitions - 1].Name}: "
                + $"the {(bestPeriod == 1 ? "layer" : Int(bestPeriod) + " layers")} above, {Int(bestRepetitions - 1)} more times";
            i += bestPeriod * bestRepetitions;
        }
    }

    private static bool SameKeys(List<string> keys, int a, int b, int count)
    {
        for (int j = 0; j < count; j++)
            if (!string.Equals(keys[a + j], keys[b + j], System.StringComparison.Ordinal)) return false;
        return true;
    }

    /// <summary><paramref name="line"/> with every layer name (an identifier, dots allowed) replaced by one placeholder.</summary>
    private static string WithoutNames(string line, ICollection<string> names)
    {
        var sb = new StringBuilder(line.Length);
        int i = 0;
        while (i < line.Length)
        {
            if (char.IsLetter(line[i]) || line[i] == '_')
            {
                int start = i;
                while (i < line.Length && (char.IsLetterOrDigit(line[i]) || line[i] == '_' || line[i] == '.')) i++;
                string word = line.Substring(start, i - start).TrimEnd('.');
                sb.Append(names.Contains(word) ? "\u0001" : line.Substring(start, i - start));
            }
            else sb.Append(line[i++]);
        }
        return sb.ToString();
    }

    /// <summary>
    /// Drops the declarations (<c>private const int {name} = ...;</c> lines) of the offset constants that no generated
    /// code reads any more because the runs using them were rolled into loops over their values.
    /// </summary>
    public static string[] DropUnusedConstants(string[] sources, System.Func<string, bool> isOffsetConstant)
    {
        var uses = new Dictionary<string, int>();
        foreach (var source in sources)
        {
            int i = 0;
            while (i < source.Length)
            {
                if (char.IsLetter(source[i]) || source[i] == '_')
                {
                    int start = i;
                    while (i < source.Length && (char.IsLetterOrDigit(source[i]) || source[i] == '_')) i++;
                    string word = source.Substring(start, i - start);
                    if (isOffsetConstant(word)) uses[word] = uses.TryGetValue(word, out int n) ? n + 1 : 1;
                }
                else i++;
            }
        }
        var result = new string[sources.Length];
        for (int f = 0; f < sources.Length; f++)
        {
            var kept = new StringBuilder(sources[f].Length);
            foreach (var line in sources[f].Split('\n'))
            {
                string trimmed = line.TrimStart();
                const string Declaration = "private const int ";
                if (trimmed.StartsWith(Declaration, System.StringComparison.Ordinal))
                {
                    int end = trimmed.IndexOf(' ', Declaration.Length);
                    string name = end < 0 ? "" : trimmed.Substring(Declaration.Length, end - Declaration.Length);
                    if (uses.TryGetValue(name, out int count) && count == 1) continue;   // declared, never read
                }
                kept.Append(line).Append('\n');
            }
            kept.Length--;   // Split added an empty last piece after the final newline; drop its newline
            result[f] = kept.ToString();
        }
        return result;
    }

    /// <summary>The (period, repetitions) of the longest run starting at <paramref name="start"/>; repetitions 1 when there is none.</summary>
    private static (int Period, int Repetitions) FindRun(List<Chunk> chunks, int start)
    {
        int bestPeriod = 1, bestRepetitions = 1;
        for (int period = 1; period <= MaxPeriod && start + MinRepetitions * period <= chunks.Count; period++)
        {
            // A group of layers that emit no code here (parameter-free layers in an initialiser) is nothing to loop over.
            bool code = false;
            for (int j = 0; j < period; j++) code |= chunks[start + j].Lines.Count > chunks[start + j].Comments.Count;
            if (!code) continue;
            int repetitions = 1;
            while (start + (repetitions + 1) * period <= chunks.Count && Repeats(chunks, start, period, repetitions)) repetitions++;
            if (repetitions >= MinRepetitions && period * repetitions > bestPeriod * bestRepetitions)
                (bestPeriod, bestRepetitions) = (period, repetitions);
        }
        return (bestPeriod, bestRepetitions);
    }

    /// <summary>
    /// Whether repetition <paramref name="r"/> (≥ 1) of the group of <paramref name="period"/> chunks at <paramref name="start"/>
    /// has the same text, and every integer equals the first repetition's plus <paramref name="r"/> steps (the step being
    /// the difference between repetitions 0 and 1), so that one loop body reproduces every repetition.
    /// </summary>
    private static bool Repeats(List<Chunk> chunks, int start, int period, int r)
    {
        for (int j = 0; j < period; j++)
        {
            var first = chunks[start + j];
            var second = chunks[start + period + j];
            var current = chunks[start + r * period + j];
            if (!current.Rollable || !first.SameText(current)) return false;
            for (int h = 0; h < first.Holes.Count; h++)
                if (current.Holes[h] != first.Holes[h] + r * (second.Holes[h] - first.Holes[h])) return false;
        }
        return true;
    }

    /// <summary>One layer's code split into text and the integers between it (literals and named offset constants).</summary>
    private sealed class Chunk
    {
        public string Label = "";
        public List<string> Lines = new();       // as written, for straight-line output
        public List<string> Comments = new();    // whole-line comments, shown once at the top of a loop body
        public List<string> Texts = new();       // code without comments: Texts[0] Holes[0] Texts[1] ... Texts[n]
        public List<long> Holes = new();
        public bool Rollable = true;             // false for code that must not run in a loop (stackalloc)

        public bool SameText(Chunk other)
        {
            if (Texts.Count != other.Texts.Count) return false;
            for (int i = 0; i < Texts.Count; i++)
                if (!string.Equals(Texts[i], other.Texts[i], System.StringComparison.Ordinal)) return false;
            return true;
        }

        /// <summary>The code with each integer as <c>first + r × step</c>.</summary>
        public string Template(long[] steps)
        {
            var sb = new StringBuilder(Texts[0]);
            for (int h = 0; h < Holes.Count; h++)
            {
                long value = Holes[h], step = steps[h];
                string times = System.Math.Abs(step) == 1 ? Index : $"{Index} * {Int(System.Math.Abs(step))}";
                if (step == 0) sb.Append(Int(value));
                else if (value == 0) sb.Append(step == 1 ? Index : step > 0 ? $"({times})" : $"(-{times})");
                else sb.Append($"({Int(value)} {(step > 0 ? '+' : '-')} {times})");
                sb.Append(Texts[h + 1]);
            }
            return sb.ToString();
        }

        public static Chunk Parse(string label, string text, IReadOnlyDictionary<string, int> constants)
        {
            var chunk = new Chunk { Label = label };
            if (text.Length > 0 && text[text.Length - 1] == '\n') text = text.Substring(0, text.Length - 1);
            if (text.Length > 0) chunk.Lines.AddRange(text.Split('\n'));   // a layer with nothing to emit writes no line
            var code = new StringBuilder();
            foreach (var line in chunk.Lines)
            {
                int first = 0;
                while (first < line.Length && line[first] == ' ') first++;
                if (string.CompareOrdinal(line, first, "//", 0, 2) == 0) { chunk.Comments.Add(line); continue; }
                if (code.Length > 0) code.Append('\n');
                code.Append(line);
            }
            chunk.Tokenize(code.ToString(), constants);
            return chunk;
        }

        /// <summary>Splits code into text and integers: decimal integer literals and the named constants; strings, chars,
        /// real literals (<c>0.1f</c>, <c>1E-05f</c>) and identifiers stay text; trailing comments are dropped.</summary>
        private void Tokenize(string code, IReadOnlyDictionary<string, int> constants)
        {
            var text = new StringBuilder();
            int i = 0;
            while (i < code.Length)
            {
                char c = code[i];
                if (c == '/' && i + 1 < code.Length && code[i + 1] == '/')
                {
                    // A trailing comment (names a layer): not part of the code compared, nor of a loop body.
                    while (text.Length > 0 && text[text.Length - 1] == ' ') text.Length--;
                    while (i < code.Length && code[i] != '\n') i++;
                }
                else if (c == '"' || c == '\'')
                {
                    int start = i++;
                    while (i < code.Length && code[i] != c) i += code[i] == '\\' ? 2 : 1;
                    i = System.Math.Min(i + 1, code.Length);
                    text.Append(code, start, i - start);
                }
                else if (char.IsLetter(c) || c == '_' || c == '@')
                {
                    int start = i;
                    while (i < code.Length && (char.IsLetterOrDigit(code[i]) || code[i] == '_' || code[i] == '@')) i++;
                    string identifier = code.Substring(start, i - start);
                    if (identifier == "stackalloc") Rollable = false;   // would grow the stack on every repetition
                    if (constants.TryGetValue(identifier, out int value)) Hole(text, value);
                    else text.Append(identifier);
                }
                else if (char.IsDigit(c))
                {
                    int start = i;
                    while (i < code.Length && char.IsDigit(code[i])) i++;
                    bool real = i < code.Length && (code[i] == '.' || char.IsLetter(code[i]) || code[i] == '_');
                    if (!real && long.TryParse(code.Substring(start, i - start), out long value))
                    {
                        Hole(text, value);
                        continue;
                    }
                    // A real or suffixed literal: the rest of it (digits, '.', letters, an exponent's sign) is text.
                    while (i < code.Length && (char.IsLetterOrDigit(code[i]) || code[i] == '.' || code[i] == '_'
                        || ((code[i] == '+' || code[i] == '-') && (code[i - 1] == 'e' || code[i - 1] == 'E')))) i++;
                    text.Append(code, start, i - start);
                }
                else
                {
                    text.Append(c);
                    i++;
                }
            }
            Texts.Add(text.ToString());
        }

        private void Hole(StringBuilder text, long value)
        {
            Texts.Add(text.ToString());
            text.Clear();
            Holes.Add(value);
        }
    }
}
