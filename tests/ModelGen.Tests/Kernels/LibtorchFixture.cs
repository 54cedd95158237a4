// Reader for the libtorch reference fixtures under Kernels/Fixtures (written by the tools in tools/reference; format in
// tools/reference/layers-check/Program.cs): named float32 and int32 tensors, looked up by name.
using System.Text;

namespace ModelGen.Tests.Kernels;

/// <summary>A fixture's tensors by name, read once from <c>tests/ModelGen.Tests/Kernels/Fixtures/{file}</c>.</summary>
internal sealed class LibtorchFixture
{
    private readonly string _relativePath;
    private readonly Dictionary<string, (int[] Shape, float[]? Floats, int[]? Ints)> _tensors = [];

    public LibtorchFixture(string file)
    {
        _relativePath = "tests/ModelGen.Tests/Kernels/Fixtures/" + file;
        using var reader = new BinaryReader(File.OpenRead(Find(_relativePath)));
        string magic = Encoding.ASCII.GetString(reader.ReadBytes(4));
        int version = reader.ReadInt32();
        if (magic != "MGLF" || version != 1)
            throw new InvalidDataException($"{_relativePath}: expected magic MGLF version 1, found '{magic}' version {version}.");
        int count = reader.ReadInt32();
        for (int t = 0; t < count; t++)
        {
            string name = Encoding.UTF8.GetString(reader.ReadBytes(reader.ReadInt32()));
            byte dtype = reader.ReadByte();
            int[] shape = new int[reader.ReadInt32()];
            for (int d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt32();
            int n = shape.Aggregate(1, (a, b) => a * b);
            if (dtype == 0)
            {
                var values = new float[n];
                for (int i = 0; i < n; i++) values[i] = reader.ReadSingle();
                _tensors.Add(name, (shape, values, null));
            }
            else
            {
                var values = new int[n];
                for (int i = 0; i < n; i++) values[i] = reader.ReadInt32();
                _tensors.Add(name, (shape, null, values));
            }
        }
        if (reader.BaseStream.Position != reader.BaseStream.Length)
            throw new InvalidDataException($"{_relativePath}: {reader.BaseStream.Length - reader.BaseStream.Position} bytes after the last tensor.");
    }

    public bool Has(string name) => _tensors.ContainsKey(name);

    public int[] Shape(string name) => Get(name).Shape;

    public float[] Floats(string name) => Get(name).Floats ?? throw new InvalidDataException($"'{name}' is not a float32 tensor.");

    public int[] Ints(string name) => Get(name).Ints ?? throw new InvalidDataException($"'{name}' is not an int32 tensor.");

    private (int[] Shape, float[]? Floats, int[]? Ints) Get(string name)
        => _tensors.TryGetValue(name, out var tensor) ? tensor : throw new KeyNotFoundException($"{_relativePath} has no tensor '{name}'.");

    private static string Find(string relativePath)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relativePath);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"'{relativePath}' not found above {AppContext.BaseDirectory}.");
    }
}
