// The transfer sample's networks: one convolutional backbone class used as a block by two models, so the pre-trained
// model's backbone.* tensors and the transfer model's features.* tensors have the same shapes and relative names.
using ModelGen;

namespace Transfer;

/// <summary>
/// The shared convolutional feature extractor: two 5×5 convolutions with ReLU and 2×2 max pooling (16 and 32 channels),
/// flattened to 1,568 features. No BatchNorm or dropout, so a frozen backbone computes the same features in training and
/// inference.
/// </summary>
[Model(1, 28, 28)]
public partial class DigitFeatures
{
    [Conv2D(16, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer C1 { get; }
    [MaxPool2D(2)] public partial Layer P1 { get; }
    [Conv2D(32, Kernel = 5, Padding = 2, Activation = Activation.ReLU)] public partial Layer C2 { get; }
    [MaxPool2D(2)] public partial Layer P2 { get; }
    [Flatten] public partial Layer Flat { get; }
}

/// <summary>The pre-training model: the backbone (tensors <c>backbone.*</c>) and a two-layer classifier for digits 0-4.</summary>
[Model(1, 28, 28)]
public partial class PretrainNet
{
    public partial DigitFeatures Backbone { get; }
    [Dense(64, Activation = Activation.ReLU)] public partial Layer Fc { get; }
    [Dense(5)] public partial Layer Head { get; }
}

/// <summary>
/// The transfer model: the same backbone under another name (tensors <c>features.*</c>, loaded from
/// <c>backbone.*</c> through a prefix map) and a new two-layer classifier for digits 5-9.
/// </summary>
[Model(1, 28, 28)]
public partial class TransferNet
{
    public partial DigitFeatures Features { get; }
    [Dense(64, Activation = Activation.ReLU)] public partial Layer Fc { get; }
    [Dense(5)] public partial Layer Head { get; }
}
