extern alias MnistSample;
using System.Text.Json;
using MnistSample::Mnist;

namespace ModelGen.Tests.Models;

/// <summary>
/// samples/Mnist's ResNet declares its identity blocks as one shape-generic BasicBlock used at three widths: the weight
/// file it saves must hold exactly the tensors (names and shapes) the five shaped block classes it replaced gave, so
/// weights trained before load unchanged.
/// </summary>
public class MnistResNetBlockTests
{
    /// <summary>Every tensor of the file the shaped-block ResNet saved (read from its safetensors header), sorted by name.</summary>
    private const string SavedBefore = """
        fc.bias [10]
        fc.weight [10, 32]
        layer1a.bn1.bias [8]
        layer1a.bn1.running_mean [8]
        layer1a.bn1.running_var [8]
        layer1a.bn1.weight [8]
        layer1a.bn2.bias [8]
        layer1a.bn2.running_mean [8]
        layer1a.bn2.running_var [8]
        layer1a.bn2.weight [8]
        layer1a.conv1.weight [8, 8, 3, 3]
        layer1a.conv2.weight [8, 8, 3, 3]
        layer1b.bn1.bias [8]
        layer1b.bn1.running_mean [8]
        layer1b.bn1.running_var [8]
        layer1b.bn1.weight [8]
        layer1b.bn2.bias [8]
        layer1b.bn2.running_mean [8]
        layer1b.bn2.running_var [8]
        layer1b.bn2.weight [8]
        layer1b.conv1.weight [8, 8, 3, 3]
        layer1b.conv2.weight [8, 8, 3, 3]
        layer2a.bn1.bias [16]
        layer2a.bn1.running_mean [16]
        layer2a.bn1.running_var [16]
        layer2a.bn1.weight [16]
        layer2a.bn2.bias [16]
        layer2a.bn2.running_mean [16]
        layer2a.bn2.running_var [16]
        layer2a.bn2.weight [16]
        layer2a.conv1.weight [16, 8, 3, 3]
        layer2a.conv2.weight [16, 16, 3, 3]
        layer2a.downsample.0.weight [16, 8, 1, 1]
        layer2a.downsample.1.bias [16]
        layer2a.downsample.1.running_mean [16]
        layer2a.downsample.1.running_var [16]
        layer2a.downsample.1.weight [16]
        layer2b.bn1.bias [16]
        layer2b.bn1.running_mean [16]
        layer2b.bn1.running_var [16]
        layer2b.bn1.weight [16]
        layer2b.bn2.bias [16]
        layer2b.bn2.running_mean [16]
        layer2b.bn2.running_var [16]
        layer2b.bn2.weight [16]
        layer2b.conv1.weight [16, 16, 3, 3]
        layer2b.conv2.weight [16, 16, 3, 3]
        layer3a.bn1.bias [32]
        layer3a.bn1.running_mean [32]
        layer3a.bn1.running_var [32]
        layer3a.bn1.weight [32]
        layer3a.bn2.bias [32]
        layer3a.bn2.running_mean [32]
        layer3a.bn2.running_var [32]
        layer3a.bn2.weight [32]
        layer3a.conv1.weight [32, 16, 3, 3]
        layer3a.conv2.weight [32, 32, 3, 3]
        layer3a.downsample.0.weight [32, 16, 1, 1]
        layer3a.downsample.1.bias [32]
        layer3a.downsample.1.running_mean [32]
        layer3a.downsample.1.running_var [32]
        layer3a.downsample.1.weight [32]
        layer3b.bn1.bias [32]
        layer3b.bn1.running_mean [32]
        layer3b.bn1.running_var [32]
        layer3b.bn1.weight [32]
        layer3b.bn2.bias [32]
        layer3b.bn2.running_mean [32]
        layer3b.bn2.running_var [32]
        layer3b.bn2.weight [32]
        layer3b.conv1.weight [32, 32, 3, 3]
        layer3b.conv2.weight [32, 32, 3, 3]
        stem.weight [8, 1, 3, 3]
        stem_bn.bias [8]
        stem_bn.running_mean [8]
        stem_bn.running_var [8]
        stem_bn.weight [8]
        """;

    [Fact]
    public void Save_TensorNamesAndShapes_AsWithShapedBlocks()
    {
        var model = new MnistResNet(1);
        string path = Path.Combine(Path.GetTempPath(), $"modelgen-resnet-{Environment.ProcessId}-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            var bytes = File.ReadAllBytes(path);
            long headerLength = BitConverter.ToInt64(bytes, 0);
            using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
            var saved = header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__")
                .Select(p => $"{p.Name} [{string.Join(", ", p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()))}]")
                .Order(StringComparer.Ordinal).ToArray();
            // Since running statistics became buffers each BatchNorm also saves num_batches_tracked (I64 [], as PyTorch).
            var before = SavedBefore.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
            Assert.Equal(before, saved.Where(n => !n.Contains(".num_batches_tracked ")).ToArray());
            Assert.Equal(before.Where(n => n.Contains(".running_mean ")).Select(n => n[..n.IndexOf(".running_mean ")] + ".num_batches_tracked []"),
                saved.Where(n => n.Contains(".num_batches_tracked ")));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BasicBlock_OneClassAtThreeWidths()
    {
        var model = new MnistResNet(1);
        Assert.Equal(new[] { 8, 28, 28 }, model.Layer1b.InputShape.ToArray());
        Assert.Equal(new[] { 16, 14, 14 }, model.Layer2b.InputShape.ToArray());
        Assert.Equal(new[] { 32, 7, 7 }, model.Layer3b.InputShape.ToArray());
        Assert.Equal(new[] { 32, 32, 3, 3 }, model.Layer3b.ParameterInfos.Single(p => p.Name == "conv2.weight").Shape);
        Assert.Equal(new[] { 16, 8, 3, 3 }, model.Layer2a.ParameterInfos.Single(p => p.Name == "conv1.weight").Shape);
        // 44,786 elements in the file before running statistics (560 of them) became buffers, plus one count per BatchNorm now.
        Assert.Equal(44_226, MnistResNet.ParameterCount);
        Assert.Equal(MnistResNet.BufferCount, 560 + model.BufferInfos.Count(b => b.IsCount));
    }
}
