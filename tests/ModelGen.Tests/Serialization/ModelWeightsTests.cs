// ModelWeights: model-level save/load through IModel, with the model left unchanged when a file is rejected.
using ModelGen.Serialization;

namespace ModelGen.Tests.Serialization;

public sealed class ModelWeightsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("modelgen-mw-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A hand-written two-layer model standing in for generated code: fc1 [3, 4] + bias, fc2 [2, 3] + bias.</summary>
    private sealed class TinyModel : IModel
    {
        private readonly float[] _parameters = new float[3 * 4 + 3 + 2 * 3 + 2];

        public TinyModel(int hidden = 3, ulong seed = 1)
        {
            ParameterInfos =
            [
                new("fc1.weight", [hidden, 4], 0, hidden * 4), new("fc1.bias", [hidden], hidden * 4, hidden),
                new("fc2.weight", [2, 3], 15, 6), new("fc2.bias", [2], 21, 2),
            ];
            var rng = new Rng(seed);
            for (int i = 0; i < _parameters.Length; i++) _parameters[i] = rng.NextFloat() - 0.5f;
        }

        public ReadOnlySpan<int> InputShapeDims => new[] { 4 };
        public ReadOnlySpan<int> OutputShapeDims => new[] { 2 };
        public int InputLength => 4;
        public int OutputLength => 2;
        public IReadOnlyList<Layer> Layers => [];
        public IReadOnlyList<ParameterInfo> ParameterInfos { get; }
        public Span<float> Parameters => _parameters;
        public IReadOnlyList<BufferInfo> BufferInfos => [];
        public Span<float> Buffers => Span<float>.Empty;
        public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch) => throw new NotSupportedException();
    }

    [Fact]
    public void SaveLoad_IntoFreshModel_RestoresParametersAndWritesFormatMetadata()
    {
        string path = Path.Combine(_dir, "tiny.safetensors");
        var source = new TinyModel(seed: 1);
        source.Save(path);
        var target = new TinyModel(seed: 2);
        Assert.NotEqual(source.Parameters.ToArray(), target.Parameters.ToArray());
        target.Load(path);
        Assert.Equal(source.Parameters.ToArray(), target.Parameters.ToArray());
        SafeTensors.ReadHeader(path, out var metadata);
        Assert.Equal("pt", metadata["format"]);
    }

    [Fact]
    public void Load_ShapeMismatch_LeavesModelUnchanged()
    {
        string path = Path.Combine(_dir, "tiny.safetensors");
        new TinyModel(seed: 1).Save(path);
        var other = new TinyModel(hidden: 2, seed: 3);   // fc1 is [2, 4] here, [3, 4] in the file
        float[] before = other.Parameters.ToArray();
        var e = Assert.Throws<InvalidDataException>(() => other.Load(path));
        Assert.Contains("tensor 'fc1.weight' has shape [3, 4], expected [2, 4]", e.Message);
        Assert.Equal(before, other.Parameters.ToArray());
    }
}
