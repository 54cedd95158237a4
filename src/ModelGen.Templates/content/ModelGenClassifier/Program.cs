// ModelGenClassifier: trains the network declared in Model.cs and classifies new inputs with it.
#if (IsImage)
//   train   --data DIR [--epochs N] [--seed N] [--batch-size N] [--validation F] [--out FILE]
//           DIR has one sub-folder per class (PNG, JPEG, BMP), as torchvision's ImageFolder.
//   predict --model FILE INPUT...   (image files, or folders searched for images)
#else
//   train   --data FILE [--label COLUMN] [--epochs N] [--seed N] [--batch-size N] [--validation F] [--out FILE]
//           FILE is a CSV table with a header row; every column but the label is a feature.
//   predict --model FILE INPUT...   (CSV files with the training feature columns; the label column is optional)
#endif
// The weights file also holds what predict needs to treat new inputs exactly as training did (class names and
// preprocessing), so it is the only file to deploy beside the executable. Output is plain text for scripts: train ends
// with "validation accuracy: 0.XXXX", predict prints one line per input (and "accuracy: ..." when labels are known).
using System.CommandLine;
using ModelGenClassifier;

var dataOption = new Option<string>("--data")
{
#if (IsImage)
    Description = "Training image folder: one sub-folder per class",
#else
    Description = "Training CSV file (header row; one example per row)",
#endif
    Required = true,
};
#if (!IsImage)
var labelOption = new Option<string>("--label") { Description = "The label column", DefaultValueFactory = _ => "label" };
#endif
var epochsOption = new Option<int>("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => 10 };
var seedOption = new Option<int>("--seed") { Description = "Seed for the validation split, initialisation and shuffling", DefaultValueFactory = _ => 1 };
var batchOption = new Option<int>("--batch-size") { Description = "Minibatch size", DefaultValueFactory = _ => 64 };
var validationOption = new Option<double>("--validation") { Description = "Share of the data held out (stratified) to validate each epoch", DefaultValueFactory = _ => 0.1 };
var outOption = new Option<string>("--out") { Description = "Where to save the weights (safetensors)", DefaultValueFactory = _ => "model.safetensors" };
var train = new Command("train", "Train the model in Model.cs and save its weights")
{
#if (IsImage)
    dataOption, epochsOption, seedOption, batchOption, validationOption, outOption,
#else
    dataOption, labelOption, epochsOption, seedOption, batchOption, validationOption, outOption,
#endif
};
train.SetAction(parse => Report(() => Training.Run(new TrainSettings(
    parse.GetValue(dataOption)!,
#if (IsImage)
    Label: null,
#else
    parse.GetValue(labelOption)!,
#endif
    parse.GetValue(epochsOption), parse.GetValue(seedOption), parse.GetValue(batchOption),
    parse.GetValue(validationOption), parse.GetValue(outOption)!))));

var modelOption = new Option<string>("--model") { Description = "Weights written by 'train'", DefaultValueFactory = _ => "model.safetensors" };
var inputsArgument = new Argument<string[]>("inputs")
{
#if (IsImage)
    Description = "Image files, or folders searched (recursively) for .png, .jpg, .jpeg and .bmp files",
#else
    Description = "CSV files with the training feature columns",
#endif
    Arity = ArgumentArity.OneOrMore,
};
var predict = new Command("predict", "Classify inputs with trained weights") { modelOption, inputsArgument };
predict.SetAction(parse => Report(() => Prediction.Run(parse.GetValue(modelOption)!, parse.GetValue(inputsArgument)!)));

var root = new RootCommand("Train and run the ModelGen classifier declared in Model.cs.") { train, predict };
return root.Parse(args).Invoke();

// Expected failures (a bad path, a corrupt file, a wrong option) are one line naming the file or option; a stack
// trace would bury it. Anything else is a bug and keeps its stack trace.
static int Report(Func<int> run)
{
    try
    {
        return run();
    }
    catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException or UsageException)
    {
        Console.Error.WriteLine($"ModelGenClassifier: {e.Message}");
        return e is UsageException ? 2 : 1;
    }
}
