// The network. ModelGen's source generator turns this declaration into shape-checked forward and backward code at
// compile time, so the input shape and the number of classes are constants here: change them (or the layers) and
// rebuild. Layers and their arguments follow PyTorch (ModelGen's docs/layers.md); the weights file names tensors
// as PyTorch would (conv1.weight, conv1.bias, ...).
using ModelGen;

namespace ModelGenClassifier;

#if (IsImage)
/// <summary>
/// A small CNN for MODELGEN_CHANNELS×MODELGEN_HEIGHT×MODELGEN_WIDTH images and MODELGEN_CLASSES classes: two 3×3
/// convolution + 2×2 max-pooling stages (16 and 32 channels), a 64-unit hidden layer, and the class logits.
/// </summary>
[Model(MODELGEN_CHANNELS, MODELGEN_HEIGHT, MODELGEN_WIDTH)]   // [channels, height, width] of one image; the batch is a run-time size
public partial class Classifier
{
    [Conv2D(16, Kernel = 3, Padding = 1, Activation = Activation.ReLU)] public partial Layer Conv1 { get; }
    [MaxPool2D(2)] public partial Layer Pool1 { get; }
    [Conv2D(32, Kernel = 3, Padding = 1, Activation = Activation.ReLU)] public partial Layer Conv2 { get; }
    [MaxPool2D(2)] public partial Layer Pool2 { get; }
    [Flatten] public partial Layer Flat { get; }
    [Dense(64, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [Dense(MODELGEN_CLASSES)] public partial Layer Logits { get; }
}
#else
/// <summary>
/// An MLP for rows of MODELGEN_FEATURES encoded features (numeric columns standardised, categorical ones one-hot) and
/// MODELGEN_CLASSES classes: two 64-unit hidden layers and the class logits.
/// </summary>
[Model(MODELGEN_FEATURES)]   // features per row after encoding; `train` names the right number if the CSV differs
public partial class Classifier
{
    [Dense(64, Activation = Activation.ReLU)] public partial Layer Fc1 { get; }
    [Dense(64, Activation = Activation.ReLU)] public partial Layer Fc2 { get; }
    [Dense(MODELGEN_CLASSES)] public partial Layer Logits { get; }
}
#endif
