// The fixture file every libtorch reference tool here writes, in one place: "MGLF", int32 version 1, int32 count, then
// per tensor: int32 name length + UTF-8 name, byte dtype (0 float32, 1 int32), int32 rank, int32[rank] dims, the data
// (little-endian). tests/ModelGen.Tests reads it (KernelTestUtil). Linked into each tool's project.
using System.Text;

/// <summary>Named float32/int32 tensors collected by a reference tool, written as one MGLF fixture.</summary>
internal sealed class LibtorchFixture
{
    private readonly List<(string Name, bool IsInt, int[] Shape, float[]? F, int[]? I)> _tensors = new();

    /// <summary>Tensors collected so far.</summary>
    public int Count => _tensors.Count;

    /// <summary>Values in all tensors.</summary>
    public long Values => _tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));

    /// <summary>Adds a tensor: floats (<c>IsInt</c> false, <c>F</c>) or ints (<c>IsInt</c> true, <c>I</c>).</summary>
    public void Add((string Name, bool IsInt, int[] Shape, float[]? F, int[]? I) tensor) => _tensors.Add(tensor);

    /// <summary>Writes the fixture to <paramref name="path"/> and says so.</summary>
    public void Write(string path)
    {
        using (var w = new BinaryWriter(File.Create(path)))
        {
            w.Write(Encoding.ASCII.GetBytes("MGLF"));
            w.Write(1);
            w.Write(_tensors.Count);
            foreach (var (name, isInt, shape, f, iv) in _tensors)
            {
                byte[] utf8 = Encoding.UTF8.GetBytes(name);
                w.Write(utf8.Length);
                w.Write(utf8);
                w.Write((byte)(isInt ? 1 : 0));
                w.Write(shape.Length);
                foreach (int dim in shape) w.Write(dim);
                if (isInt) foreach (int v in iv!) w.Write(v);
                else foreach (float v in f!) w.Write(v);
            }
        }
        Console.WriteLine($"wrote {path} ({new FileInfo(path).Length} bytes)");
    }
}
