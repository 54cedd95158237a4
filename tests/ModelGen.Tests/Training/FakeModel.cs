// A hand-written IModel test double: a fixed list of layers over one flat parameter buffer (and, as a generated model
// keeps them, running statistics in a buffer span of their own), enough to drive Optimizer.Step(IModel, ...) without
// the source generator.
using ModelGen;

namespace ModelGen.Tests.Training;

/// <summary>A tiny model: layers and parameter tensors are given explicitly; Forward is not used by these tests.</summary>
internal sealed class FakeModel : IModel
{
    private readonly float[] _parameters;
    private readonly float[] _buffers;
    private readonly List<Layer> _layers = new();
    private readonly List<ParameterInfo> _infos = new();
    private readonly List<BufferInfo> _bufferInfos = new();

    /// <summary>
    /// Creates a model whose layers each own the named tensors (name, length), laid out back to back: running statistics
    /// (<c>running_*</c>) in the buffer span, the others in the parameter buffer.
    /// </summary>
    public FakeModel(params (string Layer, (string Name, int Length)[] Tensors)[] layers)
    {
        int offset = 0, bufferOffset = 0;
        foreach (var (layerName, tensors) in layers)
        {
            var owned = new List<ParameterInfo>();
            var ownedBuffers = new List<BufferInfo>();
            foreach (var (name, length) in tensors)
            {
                if (name.StartsWith("running_", StringComparison.Ordinal))
                {
                    var buffer = new BufferInfo($"{layerName}.{name}", [length], bufferOffset, length);
                    ownedBuffers.Add(buffer);
                    _bufferInfos.Add(buffer);
                    bufferOffset += length;
                    continue;
                }
                var info = new ParameterInfo($"{layerName}.{name}", [length], offset, length);
                owned.Add(info);
                _infos.Add(info);
                offset += length;
            }
            _layers.Add(new Layer(this, layerName, "Fake", [1], [1], owned.ToArray(), 0, ownedBuffers.ToArray()));
        }
        _parameters = new float[offset];
        _buffers = new float[bufferOffset];
        for (int i = 0; i < _buffers.Length; i++) _buffers[i] = 1f + i;
    }

    private static readonly int[] s_shape = [1];

    public ReadOnlySpan<int> InputShapeDims => s_shape;
    public ReadOnlySpan<int> OutputShapeDims => s_shape;
    public int InputLength => 1;
    public int OutputLength => 1;
    public IReadOnlyList<Layer> Layers => _layers;
    public IReadOnlyList<ParameterInfo> ParameterInfos => _infos;
    public Span<float> Parameters => _parameters;
    public IReadOnlyList<BufferInfo> BufferInfos => _bufferInfos;
    public Span<float> Buffers => _buffers;

    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch)
        => throw new NotSupportedException("FakeModel only carries parameters for optimizer tests.");
}
