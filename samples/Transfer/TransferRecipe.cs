// How the sample moves the pre-trained backbone into the transfer model, and how each of its three runs is trained.
using ModelGen;
using ModelGen.Data;
using ModelGen.Serialization;

namespace Transfer;

/// <summary>The sample's recipe: what is loaded from the pre-trained checkpoint and how the models are trained.</summary>
public static class TransferRecipe
{
    /// <summary>
    /// Loads only the pre-trained backbone (<c>backbone.*</c>, renamed to <c>features.*</c>); the old classifier
    /// (<c>fc.*</c>, <c>head.*</c>) is skipped, so the new one keeps its fresh initialisation and is reported missing.
    /// </summary>
    public static LoadOptions BackboneOnly() => new()
    {
        Strict = false,
        Include = { "backbone." },
        PrefixMap = { ["backbone."] = "features." },
    };

    /// <summary>A <see cref="TransferNet"/> initialised from <paramref name="seed"/> whose backbone is loaded from <paramref name="checkpoint"/>.</summary>
    /// <exception cref="InvalidDataException">The checkpoint's backbone does not match (names or shapes).</exception>
    public static TransferNet FromPretrained(string checkpoint, int seed, out LoadReport report)
    {
        var model = new TransferNet(seed);
        report = model.LoadWeights(checkpoint, BackboneOnly());
        return model;
    }

    /// <summary>Trains <paramref name="model"/> with Adam and cosine decay, random shifts of up to 2 pixels, and no validation set.</summary>
    public static TrainingHistory Train(ITrainable model, Dataset train, int epochs, int batchSize, float learningRate, int seed,
        IProgress<TrainingProgress>? progress = null)
    {
        var trainer = new Trainer(model, new Adam(learningRate), Loss.CrossEntropy, Schedule.Cosine());
        var options = new FitOptions { Seed = (ulong)seed, Augmentation = new RandomShift(2) };
        return trainer.Fit(train, epochs, batchSize, validation: null, options, progress);
    }

    /// <summary>Accuracy of <paramref name="model"/> on <paramref name="data"/> (inference mode).</summary>
    public static double Accuracy(ITrainable model, Dataset data) =>
        new Trainer(model, new Sgd(0f), Loss.CrossEntropy).Evaluate(data).Accuracy;
}
