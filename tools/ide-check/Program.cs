// Drives csharp-ls (a Roslyn-based C# language server) over stdio JSON-RPC against a sample project that references
// the packed ModelGen nupkg, and checks what an editor user sees (issue 17): a valid model has no diagnostics; each
// edit yields the expected ids on the expected ranges and nothing else; hovers show the layer table as a code block
// and a layer's kind and shapes. Prints "ide-check: PASS|FAIL <what>" per check and the time from each edit to its
// diagnostics; exits 1 if any check failed. run.sh packs the nupkg, creates the sample and installs the server.
// Usage: IdeCheck <sample project dir> <dir holding the dotnet-tools.json that pins csharp-ls> <nupkg> [rounds]
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

if (args.Length < 3)
{
    Console.Error.WriteLine("usage: IdeCheck <sample project dir> <tool manifest dir> <ModelGen nupkg> [rounds]");
    return 2;
}
string sampleDir = Path.GetFullPath(args[0]);
string toolDir = Path.GetFullPath(args[1]);
int rounds = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 3;
var check = new Checks();

// The package the sample restores must carry the generator and analyzer beside the runtime, or nothing below runs.
using (var zip = ZipFile.OpenRead(args[2]))
{
    var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
    string[] required = ["lib/net10.0/ModelGen.dll", "analyzers/dotnet/cs/ModelGen.Generators.dll"];
    check.That(required.All(entries.Contains), $"the packed nupkg contains {string.Join(" and ", required)}",
        "entries: " + string.Join(", ", entries.Where(e => e.EndsWith(".dll", StringComparison.Ordinal))));
}

string file = Path.Combine(sampleDir, "Models.cs");
string valid = File.ReadAllText(file);
string uri = new Uri(file).AbsoluteUri;

await using var server = LspClient.Start(toolDir, Path.Combine(sampleDir, "csharp-ls.stderr.log"));
var clock = Stopwatch.StartNew();
await server.Request("initialize", new JsonObject
{
    ["processId"] = Environment.ProcessId,
    ["rootUri"] = new Uri(sampleDir + "/").AbsoluteUri,
    ["workspaceFolders"] = new JsonArray(new JsonObject { ["uri"] = new Uri(sampleDir + "/").AbsoluteUri, ["name"] = "sample" }),
    ["capabilities"] = new JsonObject
    {
        ["workspace"] = new JsonObject { ["configuration"] = true, ["workspaceFolders"] = true, ["didChangeConfiguration"] = new JsonObject { ["dynamicRegistration"] = true } },
        ["textDocument"] = new JsonObject
        {
            ["synchronization"] = new JsonObject { ["dynamicRegistration"] = true },
            ["hover"] = new JsonObject { ["contentFormat"] = new JsonArray("markdown", "plaintext") },
            ["diagnostic"] = new JsonObject { ["dynamicRegistration"] = true },
            ["publishDiagnostics"] = new JsonObject(),
        },
        ["window"] = new JsonObject { ["workDoneProgress"] = true },
    },
    // csharp-ls reads its settings through workspace/configuration (answered by LspClient); analyzers are off by
    // default there, and ModelGen's MG diagnostics come only from its analyzer.
    ["initializationOptions"] = LspClient.Settings(),
}, TimeSpan.FromSeconds(60));
server.Notify("initialized", new JsonObject());
server.Notify("workspace/didChangeConfiguration", new JsonObject { ["settings"] = new JsonObject { ["csharp"] = LspClient.Settings() } });
int version = 1;
server.Notify("textDocument/didOpen", new JsonObject
{
    ["textDocument"] = new JsonObject { ["uri"] = uri, ["languageId"] = "csharp", ["version"] = version, ["text"] = valid },
});

// The project is loaded and generated once the class hover carries the generated layer table.
string? classHover = null;
var classPosition = Text.Position(valid, "class LeNet", "class ".Length + 1);
while (clock.Elapsed < TimeSpan.FromSeconds(120))
{
    classHover = await Hover(classPosition);
    if (classHover?.Contains("Total parameters", StringComparison.Ordinal) == true) break;
    await Task.Delay(500);
}
if (classHover?.Contains("Total parameters", StringComparison.Ordinal) != true)
{
    check.Fail($"server loaded the sample and generated LeNet's docs within 120 s (last hover: {Text.Short(classHover)})");
    return check.Finish();
}
Console.WriteLine($"ide-check: server ready (project loaded, generator ran) after {clock.ElapsedMilliseconds} ms");

// Hover over the class: the table must be a fenced code block of its own lines, or Markdown clients run it together.
string[] hoverLines = classHover.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
int header = Array.FindIndex(hoverLines, l => l.StartsWith("Layer ", StringComparison.Ordinal) && l.Contains("Output shape", StringComparison.Ordinal));
int open = header < 0 ? -1 : Array.FindLastIndex(hoverLines, header, l => l.TrimStart().StartsWith("```", StringComparison.Ordinal));
int total = Array.FindIndex(hoverLines, Math.Max(header, 0), l => l.Contains("Total parameters", StringComparison.Ordinal));
int close = total < 0 ? -1 : Array.FindIndex(hoverLines, total, l => l.TrimStart().StartsWith("```", StringComparison.Ordinal));
bool tableInFence = header > 0 && open >= 0 && close > total
    && !hoverLines[(open + 1)..header].Any(l => l.Contains("```", StringComparison.Ordinal))
    && hoverLines[header..close].Any(l => l.StartsWith("fc1 ", StringComparison.Ordinal) && l.Contains("Dense+ReLU", StringComparison.Ordinal) && l.Contains("[120]", StringComparison.Ordinal));
check.That(tableInFence, "hover over the model class shows the layer table (header, fc1 row, total) inside one fenced code block", classHover);

string? layerHover = await Hover(Text.Position(valid, "Layer Fc1 ", "Layer ".Length + 1));
check.That(layerHover is not null && layerHover.Contains("fc1", StringComparison.Ordinal) && layerHover.Contains("Dense+ReLU", StringComparison.Ordinal)
        && layerHover.Contains("[400] → [120]", StringComparison.Ordinal) && layerHover.Contains("48,120 parameters", StringComparison.Ordinal),
    "hover over a layer property shows its kind, input -> output shape and parameters (fc1: Dense+ReLU, [400] → [120], 48,120 parameters)", layerHover);

// The edits. Each is applied to the valid text and reverted; both directions are timed (edit sent -> diagnostics back).
var edits = new Edit[]
{
    new("Dense on a conv output without Flatten", valid.Replace("    [Flatten] public partial Layer Flatten { get; }\n", ""),
        (text, items) => ExactlyOne(text, items, "MG0101", "Dense(120, Activation = Activation.ReLU)", "expects a flat input but receives [16, 5, 5]")),
    new("heads not dividing the width", valid.Replace("[MultiHeadAttention(4, ", "[MultiHeadAttention(5, "),
        (text, items) => ExactlyOne(text, items, "MG0111", "MultiHeadAttention(5", "splits its width 12 (from 'ln') into 5 heads", skip: "MultiHeadAttention(".Length)),
    new("half-typed 'Kernel = ,'", valid.Replace("Kernel = 5, Padding = 2", "Kernel = , Padding = 2"),
        (text, items) => OnlyCompiler(text, items, "CS1525", "Kernel = ,", "Kernel = ".Length)),
    new("comment typed inside the model", valid.Replace("    [MaxPool2D(2)] public partial Layer Pool1 { get; }\n", "    [MaxPool2D(2)] public partial Layer Pool1 { get; }\n    // a comment\n"),
        (text, items) => Clean(items)),
};
if (edits.Any(e => e.Text == valid)) throw new InvalidOperationException("an edit does not apply to Models.cs: the sample and this program disagree");

var initial = await Diagnostics(valid);
check.That(Clean(initial.Items) is null, "the valid sample (two models and code using their generated API) has no errors or warnings", Clean(initial.Items));

var times = edits.ToDictionary(e => e.Name, _ => new List<long>());
var revertTimes = new List<long>();
var failures = edits.ToDictionary(e => e.Name, _ => (string?)null);
string? revertFailure = null;
for (int round = 0; round < rounds; round++)
{
    foreach (var edit in edits)
    {
        var result = await Diagnostics(edit.Text);
        times[edit.Name].Add(result.Milliseconds);
        failures[edit.Name] ??= edit.Expect(edit.Text, result.Items);
        var back = await Diagnostics(valid);
        revertTimes.Add(back.Milliseconds);
        revertFailure ??= Clean(back.Items) is { } problem ? $"after reverting '{edit.Name}': {problem}" : null;
    }
}
foreach (var edit in edits)
{
    check.That(failures[edit.Name] is null, $"{edit.Name}: {Describe(edit)}", failures[edit.Name]);
    Console.WriteLine($"ide-check: time {edit.Name}: edit to diagnostics {string.Join(", ", times[edit.Name])} ms (median {Median(times[edit.Name])} ms)");
}
check.That(revertFailure is null, "reverting each edit clears its diagnostics", revertFailure);
Console.WriteLine($"ide-check: time revert to the valid model: median {Median(revertTimes)} ms over {revertTimes.Count} edits");
return check.Finish();

static string Describe(Edit edit) => edit.Name switch
{
    "Dense on a conv output without Flatten" => "only MG0101, on the Dense attribute",
    "heads not dividing the width" => "only MG0111, on the heads argument",
    "half-typed 'Kernel = ,'" => "only the compiler's CS1525 at the comma, no MG diagnostic",
    _ => "no diagnostics",
};

static long Median(List<long> xs) { var s = xs.OrderBy(x => x).ToList(); return s[s.Count / 2]; }

async Task<string?> Hover((int Line, int Character) at)
{
    var result = await server.Request("textDocument/hover", new JsonObject
    {
        ["textDocument"] = new JsonObject { ["uri"] = uri },
        ["position"] = new JsonObject { ["line"] = at.Line, ["character"] = at.Character },
    }, TimeSpan.FromSeconds(30));
    return result?["contents"] switch
    {
        JsonObject markup => (string?)markup["value"],
        JsonValue plain => (string?)plain,
        JsonArray parts => string.Join("\n", parts.Select(p => p is JsonObject o ? (string?)o["value"] : (string?)p)),
        _ => null,
    };
}

// Replaces the whole document and pulls its diagnostics (csharp-ls answers textDocument/diagnostic for the
// version it has, and processes the didChange notification first).
async Task<(List<Diag> Items, long Milliseconds)> Diagnostics(string text)
{
    var watch = Stopwatch.StartNew();
    server.Notify("textDocument/didChange", new JsonObject
    {
        ["textDocument"] = new JsonObject { ["uri"] = uri, ["version"] = ++version },
        ["contentChanges"] = new JsonArray(new JsonObject { ["text"] = text }),
    });
    var result = await server.Request("textDocument/diagnostic", new JsonObject { ["textDocument"] = new JsonObject { ["uri"] = uri } }, TimeSpan.FromSeconds(60));
    long ms = watch.ElapsedMilliseconds;
    var items = new List<Diag>();
    foreach (var item in result?["items"]?.AsArray() ?? new JsonArray())
    {
        var range = item!["range"]!;
        items.Add(new Diag(item["code"]?.ToString() ?? "", (int?)item["severity"] ?? 1, (string?)item["message"] ?? "",
            ((int)range["start"]!["line"]!, (int)range["start"]!["character"]!), ((int)range["end"]!["line"]!, (int)range["end"]!["character"]!)));
    }
    return (items, ms);
}

// Errors and warnings matter; the server's hints and infos (style suggestions) do not.
static string? Clean(List<Diag> items)
{
    var shown = items.Where(d => d.Severity <= 2).ToList();
    return shown.Count == 0 ? null : "expected no errors or warnings, got " + string.Join("; ", shown);
}

static string? ExactlyOne(string text, List<Diag> items, string id, string needle, string message, int skip = 0)
{
    var shown = items.Where(d => d.Severity <= 2).ToList();
    var expected = Text.Range(text, needle, skip);
    if (shown.Count != 1 || shown[0].Code != id || shown[0].Start != expected.Start || shown[0].End != expected.End || !shown[0].Message.Contains(message, StringComparison.Ordinal))
        return $"expected exactly {id} at {expected.Start}-{expected.End} ('{needle[skip..]}') with a message containing '{message}', got {(shown.Count == 0 ? "nothing" : string.Join("; ", shown))}";
    return null;
}

static string? OnlyCompiler(string text, List<Diag> items, string id, string needle, int at)
{
    var shown = items.Where(d => d.Severity <= 2).ToList();
    var position = Text.Range(text, needle, at).Start;
    bool hasCompiler = shown.Any(d => d.Code == id && d.Start == position);
    bool anyModelGen = shown.Any(d => d.Code.StartsWith("MG", StringComparison.Ordinal));
    if (!hasCompiler || anyModelGen)
        return $"expected {id} at {position} and no MG diagnostic, got {(shown.Count == 0 ? "nothing" : string.Join("; ", shown))}";
    return null;
}

internal sealed record Edit(string Name, string Text, Func<string, List<Diag>, string?> Expect);

internal sealed record Diag(string Code, int Severity, string Message, (int Line, int Character) Start, (int Line, int Character) End)
{
    public override string ToString() => $"{Code} {Start}-{End} \"{Message}\"";
}

internal static class Text
{
    /// <summary>The zero-based LSP position (line, UTF-16 column) of <paramref name="needle"/>'s first occurrence plus <paramref name="offset"/>.</summary>
    public static (int Line, int Character) Position(string text, string needle, int offset)
    {
        int index = text.IndexOf(needle, StringComparison.Ordinal);
        if (index < 0) throw new InvalidOperationException($"'{needle}' not found in the sample");
        return At(text, index + offset);
    }

    /// <summary>The range of <paramref name="needle"/>'s first occurrence, from <paramref name="skip"/> characters in.</summary>
    public static ((int Line, int Character) Start, (int Line, int Character) End) Range(string text, string needle, int skip = 0)
    {
        int index = text.IndexOf(needle, StringComparison.Ordinal);
        if (index < 0) throw new InvalidOperationException($"'{needle}' not found in the edited sample");
        return (At(text, index + skip), At(text, index + needle.Length));
    }

    private static (int Line, int Character) At(string text, int index)
    {
        int line = 0, lineStart = 0;
        for (int i = 0; i < index; i++)
            if (text[i] == '\n') { line++; lineStart = i + 1; }
        return (line, index - lineStart);
    }

    public static string Short(string? s) => s is null ? "null" : s.Length > 300 ? s[..300] + "..." : s;
}

internal sealed class Checks
{
    private int _failed;

    public void That(bool ok, string what, object? detail)
    {
        if (ok) Console.WriteLine($"ide-check: PASS {what}");
        else Fail($"{what}\n    got: {Text.Short(detail?.ToString())?.Replace("\n", "\n    ")}");
    }

    public void Fail(string what)
    {
        _failed++;
        Console.WriteLine($"ide-check: FAIL {what}");
    }

    public int Finish() => _failed == 0 ? 0 : 1;
}

/// <summary>A JSON-RPC 2.0 client over a language server's stdin/stdout (LSP base protocol: Content-Length framing).</summary>
internal sealed class LspClient : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly object _writeLock = new();
    private readonly Dictionary<int, TaskCompletionSource<JsonNode?>> _pending = new();
    private readonly Task _reader;
    private readonly StreamWriter _log;
    private int _nextId;

    private LspClient(Process process, string logPath)
    {
        _process = process;
        _input = process.StandardInput.BaseStream;
        _output = process.StandardOutput.BaseStream;
        _log = new StreamWriter(logPath) { AutoFlush = true };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.WriteLine(e.Data); };
        process.BeginErrorReadLine();
        _reader = Task.Run(ReadLoop);
    }

    /// <summary>
    /// The <c>csharp</c> settings section: analyzers on (csharp-ls defaults to off, and then shows no MG diagnostic);
    /// IDE_CHECK_ANALYZERS=off shows what a user with the default settings sees (the MG checks then fail).
    /// </summary>
    public static JsonObject Settings() => new()
    {
        ["analyzersEnabled"] = Environment.GetEnvironmentVariable("IDE_CHECK_ANALYZERS") != "off",
        ["logLevel"] = "warning",
    };

    /// <summary>Starts the csharp-ls pinned by the tool manifest in <paramref name="toolDir"/>.</summary>
    public static LspClient Start(string toolDir, string logPath)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = toolDir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "tool", "run", "csharp-ls", "--", "--loglevel", "warning", "--locale", "en-US" }) info.ArgumentList.Add(a);
        return new LspClient(Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet tool run csharp-ls"), logPath);
    }

    public async Task<JsonNode?> Request(string method, JsonNode parameters, TimeSpan timeout)
    {
        var done = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        int id;
        lock (_pending) { id = ++_nextId; _pending[id] = done; }
        Write(new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method, ["params"] = parameters });
        var finished = await Task.WhenAny(done.Task, Task.Delay(timeout), _reader);
        if (finished != done.Task)
            throw new TimeoutException($"{method} got no answer within {timeout.TotalSeconds:F0} s{(_reader.IsCompleted ? " (the server exited)" : "")}");
        return await done.Task;
    }

    public void Notify(string method, JsonNode parameters) =>
        Write(new JsonObject { ["jsonrpc"] = "2.0", ["method"] = method, ["params"] = parameters });

    private void Write(JsonObject message)
    {
        byte[] body = Encoding.UTF8.GetBytes(message.ToJsonString());
        lock (_writeLock)
        {
            _input.Write(Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n"));
            _input.Write(body);
            _input.Flush();
        }
    }

    private async Task ReadLoop()
    {
        var header = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            int length = -1;
            header.Clear();
            // Headers end with an empty line; only Content-Length matters.
            while (true)
            {
                if (await _output.ReadAsync(one) == 0) return;
                header.Append((char)one[0]);
                if (header.Length >= 4 && header.ToString(header.Length - 4, 4) == "\r\n\r\n") break;
            }
            foreach (var line in header.ToString().Split("\r\n"))
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) length = int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            if (length < 0) throw new InvalidDataException("LSP message without Content-Length: " + header);
            var body = new byte[length];
            await _output.ReadExactlyAsync(body);
            var message = JsonNode.Parse(body)!.AsObject();
            Dispatch(message);
        }
    }

    private void Dispatch(JsonObject message)
    {
        string? method = (string?)message["method"];
        if (method is null)
        {
            int id = (int)message["id"]!;
            TaskCompletionSource<JsonNode?>? done;
            lock (_pending) { _pending.Remove(id, out done); }
            if (message["error"] is { } error) done?.TrySetException(new InvalidOperationException($"server error: {error.ToJsonString()}"));
            else done?.TrySetResult(message["result"]?.DeepClone());
            return;
        }
        if (message["id"] is not { } requestId) return; // notifications: logs, progress, pushed diagnostics
        JsonNode? result = null;
        if (method == "workspace/configuration")
        {
            // One answer per requested section; csharp-ls asks for "csharp".
            var answers = new JsonArray();
            foreach (var item in message["params"]?["items"]?.AsArray() ?? new JsonArray())
                answers.Add((string?)item?["section"] == "csharp" ? Settings() : null);
            result = answers;
        }
        Write(new JsonObject { ["jsonrpc"] = "2.0", ["id"] = requestId.DeepClone(), ["result"] = result });
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Request("shutdown", new JsonObject(), TimeSpan.FromSeconds(5));
            Notify("exit", new JsonObject());
            if (!_process.WaitForExit(5000)) _process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is TimeoutException or IOException or InvalidOperationException)
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        _log.Dispose();
        _process.Dispose();
    }
}
