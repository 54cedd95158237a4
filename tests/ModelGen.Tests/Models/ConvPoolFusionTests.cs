// The inference-time conv + max-pool fusion in generated models: Forward (which calls ConvKernels.ForwardMaxPool where
// a Conv2D feeds only a 2×2/2 MaxPool2D) against ForwardTrain (which never fuses: it keeps the convolution output for
// backward), at batch 1 (the single-example fused epilogue) and at batches with whole lane blocks (chunked path).
namespace ModelGen.Tests.Models;

/// <summary>LeNet-5 on 1×28×28 exactly as the benchmark's (bench/BenchLeNet.cs): both convolutions fuse with their pools.</summary>
[Model(1, 28, 28)]
public partial class FusedLeNet
{
    [Conv2D(6, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer Conv1 { get; }
    [MaxPool2D(2)] public partial Layer Pool1 { get; }
    [Conv2D(16, Kernel = 5, Activation = Activation.ReLU)] public partial Layer Conv2 { get; }
    [MaxPool2D(2)] public partial Layer Pool2 { get; }
    [Flatten] public partial Layer Flatten { get; }
    [Dense(120, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [Dense(84, Activation = Activation.ReLU)] public partial Layer Fc2 { get; }
    [Dense(10)] public partial Layer Fc3 { get; }
}

/// <summary>A tanh convolution fused with its pool, and one that is not fused because a second layer also reads it.</summary>
[Model(2, 11, 11)]
public partial class PartlyFusedNet
{
    [Conv2D(4, Kernel = 3, Padding = 1, Activation = Activation.Tanh)] public partial Layer C1 { get; }
    [MaxPool2D(2)] public partial Layer P1 { get; }
    [Conv2D(8, Kernel = 3, Padding = 1)] public partial Layer C2 { get; }
    [MaxPool2D(2)] public partial Layer P2 { get; }
    [AvgPool2D(2, From = nameof(C2))] public partial Layer A2 { get; }
    [Add(nameof(P2), nameof(A2))] public partial Layer Sum { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(3)] public partial Layer Out { get; }
}

/// <summary>Padding modes and non-square kernels through the fused path: both convolutions fuse with their 2×2 pools.</summary>
[Model(2, 10, 9)]
public partial class PaddedFusedNet
{
    [Conv2D(4, KernelHeight = 3, KernelWidth = 5, PaddingHeight = 1, PaddingWidth = 2, PaddingMode = PaddingMode.Reflect, Activation = Activation.ReLU)] public partial Layer C1 { get; }   // [4, 10, 9]
    [MaxPool2D(2)] public partial Layer P1 { get; }                                                                                                                                        // [4, 5, 4]
    [Conv2D(3, Kernel = 3, Padding = 1, PaddingMode = PaddingMode.Circular, Activation = Activation.ReLU)] public partial Layer C2 { get; }                                                // [3, 5, 4]
    [MaxPool2D(2)] public partial Layer P2 { get; }                                                                                                                                        // [3, 2, 2]
    [Flatten] public partial Layer Flat { get; }
    [Dense(3)] public partial Layer Out { get; }
}

public class ConvPoolFusionTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(19)]
    public void Forward_PaddedFusedNet_MatchesUnfusedTrainingForward(int batch)
    {
        var model = new PaddedFusedNet(9);
        ModelTestData.AssertInferenceMatchesTraining(model, batch, seed: 13);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(19)]   // two 8-lane blocks (or one 16-lane block) through the chunked path, plus single examples
    public void Forward_FusedLeNet_MatchesUnfusedTrainingForward(int batch)
    {
        var model = new FusedLeNet(7);
        ModelTestData.AssertInferenceMatchesTraining(model, batch, seed: 11);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Forward_PartlyFusedNet_MatchesUnfusedTrainingForward(int batch)
    {
        var model = new PartlyFusedNet(8);
        ModelTestData.AssertInferenceMatchesTraining(model, batch, seed: 12);
    }

    [Fact]
    public void Forward_FusedLeNetAtBatchOne_AllocatesNothing()
    {
        var model = new FusedLeNet(3);
        var input = ModelTestData.RandomArray(FusedLeNet.InputSize, 4);
        var output = new float[FusedLeNet.OutputSize];
        AllocationAssert.SteadyStateAllocatesNothing(() => model.Forward(input, output, 1), callsPerWindow: 10, warmUpCalls: 1);
    }
}
