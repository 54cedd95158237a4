// Loading weights from a stream, the way samples/Classify reads weights embedded in a NativeAOT executable as a
// manifest resource: same bits as loading the file, same validation, and the same errors naming the source.
using System.Runtime.InteropServices;
using ModelGen.Serialization;

namespace ModelGen.Tests.Aot;

/// <summary>The MNIST MLP of samples/Mnist (784-256-128-10, ReLU), declared again so the tests need no sample.</summary>
[Model(1, 28, 28)]
public partial class AotMlp
{
    [Flatten] public partial Layer Flat { get; }
    [Dense(256, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [Dense(128, Activation = Activation.ReLU)] public partial Layer Fc2 { get; }
    [Dense(10)] public partial Layer Fc3 { get; }
}

public sealed class EmbeddedWeightsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelgen-aot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string SaveTrained(int seed)
    {
        string path = Path.Combine(_dir, $"mlp-{seed}.safetensors");
        new AotMlp(seed).Save(path);
        return path;
    }

    [Fact]
    public void LoadFromStream_ManifestLikeStream_GivesTheSameParametersAndLogitsAsTheFile()
    {
        string path = SaveTrained(seed: 7);
        byte[] bytes = File.ReadAllBytes(path);
        var fromFile = AotMlp.Load(path);

        // A manifest resource is an UnmanagedMemoryStream over the image's mapped bytes: use the same stream type.
        var fromStream = new AotMlp(seed: 99);
        GCHandle pin = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        try
        {
            unsafe
            {
                using var stream = new UnmanagedMemoryStream((byte*)pin.AddrOfPinnedObject(), bytes.Length);
                fromStream.Load(stream, "resource 'weights'");
            }
        }
        finally
        {
            pin.Free();
        }

        Assert.True(fromFile.Parameters.SequenceEqual(fromStream.Parameters));
        var input = new float[3 * AotMlp.InputSize];
        var rng = new Rng(3);
        for (int i = 0; i < input.Length; i++) input[i] = rng.NextFloat();
        var expected = new float[3 * AotMlp.OutputSize];
        var actual = new float[3 * AotMlp.OutputSize];
        fromFile.Forward(input, expected, batch: 3);
        fromStream.Forward(input, actual, batch: 3);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void LoadFromStream_PositionNotAtStart_ReadsTheWholeFileFromPositionZero()
    {
        string path = SaveTrained(seed: 5);
        using var stream = new MemoryStream(File.ReadAllBytes(path));
        stream.Position = 100;
        var model = new AotMlp(seed: 1);

        model.Load(stream, "memory");

        Assert.True(AotMlp.Load(path).Parameters.SequenceEqual(model.Parameters));
    }

    [Fact]
    public void LoadFromStream_Truncated_ThrowsNamingTheSourceAndLeavesTheModelUnchanged()
    {
        byte[] bytes = File.ReadAllBytes(SaveTrained(seed: 5));
        using var stream = new MemoryStream(bytes, 0, bytes.Length - 4);
        var model = new AotMlp(seed: 2);
        float[] before = model.Parameters.ToArray();

        var e = Assert.Throws<InvalidDataException>(() => model.Load(stream, "embedded resource 'w'"));

        Assert.StartsWith("embedded resource 'w': ", e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.True(before.AsSpan().SequenceEqual(model.Parameters));
    }

    [Fact]
    public void LoadFromStream_WrongModel_ThrowsNamingTensorAndShapes()
    {
        byte[] bytes = File.ReadAllBytes(SaveTrained(seed: 5));
        var infos = new ParameterInfo[] { new("fc1.weight", [128, 784], 0, 128 * 784) };
        var buffer = new float[128 * 784];

        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(new MemoryStream(bytes), "weights.bin", infos, buffer));

        Assert.Contains("tensor 'fc1.weight' has shape [256, 784], expected [128, 784]", e.Message);
        Assert.Contains("unexpected tensor 'fc3.bias'", e.Message);
        Assert.All(buffer, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void LoadFromStream_NotSeekable_ThrowsSayingWhy()
    {
        byte[] bytes = File.ReadAllBytes(SaveTrained(seed: 5));
        using var stream = new ForwardOnlyStream(bytes);

        var e = Assert.Throws<ArgumentException>(() => new AotMlp().Load(stream, "pipe"));

        Assert.Contains("'pipe' must be readable and seekable", e.Message);
        Assert.Contains("CanSeek=False", e.Message);
    }

    /// <summary>A readable stream that cannot seek, like a pipe or a network stream.</summary>
    private sealed class ForwardOnlyStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
