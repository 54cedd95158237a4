// Transfer-learning sample: pre-trains a small CNN on the digits 0-4 of the vendored MNIST, then learns the digits 5-9
// from 50 labelled examples per class by loading the pre-trained backbone into a new model (a partial load through a
// prefix map), freezing it and training a new classifier on top. The same model is also fine-tuned whole with the backbone at a tenth
// of the learning rate, and trained from scratch on the same 250 examples. The last line is exactly
// "test accuracy: 0.XXXX" (the frozen-backbone transfer model on the test digits 5-9; scripts read it).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ModelGen;
using ModelGen.Data;
using ModelGen.Serialization;
using Transfer;

var seedOption = new Option<int>("--seed") { Description = "Seed for initialisation, the few-shot sample, shuffling and augmentation", DefaultValueFactory = _ => 1 };
var epochsOption = new Option<int>("--epochs") { Description = "Epochs over the few-shot set for each of the three 5-9 models", DefaultValueFactory = _ => 40 };
var pretrainOption = new Option<int>("--pretrain-epochs") { Description = "Epochs of pre-training on the digits 0-4", DefaultValueFactory = _ => 10 };
var shotsOption = new Option<int>("--shots") { Description = "Labelled training examples per digit 5-9", DefaultValueFactory = _ => 50 };
var outOption = new Option<string>("--out") { Description = "Where to save the pre-trained model (safetensors)", DefaultValueFactory = _ => "transfer-pretrained.safetensors" };
var dataOption = new Option<string>("--data") { Description = "Folder with the MNIST IDX files", DefaultValueFactory = _ => Path.Combine(AppContext.BaseDirectory, "data") };

var root = new RootCommand("Pre-train on MNIST digits 0-4, then learn digits 5-9 from a few examples with a frozen backbone; compare with training from scratch.")
{
    seedOption, epochsOption, pretrainOption, shotsOption, outOption, dataOption,
};
root.SetAction(parse =>
{
    int epochs = parse.GetValue(epochsOption), pretrainEpochs = parse.GetValue(pretrainOption), shots = parse.GetValue(shotsOption);
    if (epochs <= 0 || pretrainEpochs <= 0 || shots <= 0)
    {
        Console.Error.WriteLine("--epochs, --pretrain-epochs and --shots must be positive.");
        return 2;
    }
    return Run(parse.GetValue(seedOption), epochs, pretrainEpochs, shots, parse.GetValue(outOption)!, parse.GetValue(dataOption)!);
});
return root.Parse(args).Invoke();

static int Run(int seed, int epochs, int pretrainEpochs, int shots, string outPath, string dataDir)
{
    var total = Stopwatch.StartNew();
    Dataset train, test;
    try
    {
        (train, test) = ModelGen.Data.Mnist.Load(dataDir);
    }
    catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"transfer: {e.Message}");
        return 3;
    }
    var source = DigitSplits.Classes(train, 0, 5);
    var targetAll = DigitSplits.Classes(train, 5, 5);
    var fewShot = DigitSplits.FewShot(targetAll, shots, (ulong)seed);
    var targetTest = DigitSplits.Classes(test, 5, 5);
    Console.WriteLine($"Pre-training set: {source.Count:N0} digits 0-4; transfer set: {fewShot.Count} digits 5-9 ({shots} per class, " +
                      $"of {targetAll.Count:N0}); test set: {targetTest.Count:N0} digits 5-9");

    // 1. Pre-train backbone + classifier on the digits 0-4, and save it as any checkpoint would be.
    var pretrained = new PretrainNet(seed);
    Console.WriteLine(PretrainNet.Summary());
    var history = TransferRecipe.Train(pretrained, source, pretrainEpochs, batchSize: 64, learningRate: 1e-3f, seed, new EpochLines("pre-train"));
    double sourceAccuracy = TransferRecipe.Accuracy(pretrained, DigitSplits.Classes(test, 0, 5));
    Console.WriteLine(Line($"Pre-trained in {history.Epochs.Sum(e => e.Elapsed.TotalSeconds):F1} s: {sourceAccuracy:F4} on the test digits 0-4"));
    pretrained.Save(outPath);

    // 2. Transfer: a new model whose features.* come from the checkpoint's backbone.*; frozen, so only the new classifier learns.
    var frozen = TransferRecipe.FromPretrained(outPath, seed, out var report);
    Console.WriteLine($"Loaded {outPath}: {report}");
    var frozenLayers = frozen.Freeze("features");
    Console.WriteLine($"Frozen: {string.Join(", ", frozenLayers.Select(l => $"{l.Name} ({l.ParameterCount:N0} parameters)"))}; " +
                      $"trainable: {frozen.Layers.Where(l => l.Trainable).Sum(l => l.ParameterCount):N0} parameters");
    float[] backboneBefore = frozen.Features.Parameters.ToArray();
    TransferRecipe.Train(frozen, fewShot, epochs, batchSize: 32, learningRate: 1e-3f, seed, new EpochLines("frozen backbone", every: 10));
    if (!frozen.Features.Parameters.SequenceEqual(backboneBefore))
    {
        Console.Error.WriteLine("transfer: the frozen backbone changed during training");
        return 1;
    }

    // 3. The same start, fine-tuned whole with the backbone at a tenth of the learning rate.
    var tuned = TransferRecipe.FromPretrained(outPath, seed, out _);
    tuned.SetLearningRateScale(0.1f, "features");
    TransferRecipe.Train(tuned, fewShot, epochs, batchSize: 32, learningRate: 1e-3f, seed, new EpochLines("fine-tuned (backbone lr x0.1)", every: 10));

    // 4. The baseline: the same architecture from scratch on the same 250 examples.
    var scratch = new TransferNet(seed);
    TransferRecipe.Train(scratch, fewShot, epochs, batchSize: 32, learningRate: 1e-3f, seed, new EpochLines("from scratch", every: 10));

    double frozenAccuracy = TransferRecipe.Accuracy(frozen, targetTest);
    Console.WriteLine();
    Console.WriteLine($"Test accuracy on the {targetTest.Count:N0} test digits 5-9 after training on {fewShot.Count} examples:");
    Console.WriteLine(Line($"  transfer, frozen backbone         {frozenAccuracy:F4}"));
    Console.WriteLine(Line($"  transfer, fine-tuned (lr x0.1)    {TransferRecipe.Accuracy(tuned, targetTest):F4}"));
    Console.WriteLine(Line($"  from scratch                      {TransferRecipe.Accuracy(scratch, targetTest):F4}"));
    Console.WriteLine(Line($"Total time {total.Elapsed.TotalSeconds:F1} s"));
    Console.WriteLine(Line($"test accuracy: {frozenAccuracy:F4}"));
    return 0;
}

static string Line(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

/// <summary>One line per epoch (or every <c>every</c>-th and the last), for logs and pipes.</summary>
sealed class EpochLines(string name, int every = 1) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress p)
    {
        if (p.Completed is { } m && (m.Epoch % every == 0 || m.Epoch == p.Epochs))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: epoch {m.Epoch,2}/{p.Epochs}  train loss {m.TrainLoss:F4}  train acc {m.TrainAccuracy:F4}  {m.SamplesPerSecond,7:N0} samples/s"));
    }
}
