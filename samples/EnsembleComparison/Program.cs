using System;
using System.CommandLine;
using System.Threading;
using EnsembleComparison;

// Four differently built members (three ResNet-18s, a DenseNet-121) against their soft-voting ensemble. Parses and checks the
// arguments, then hands a ComparisonSettings to Comparison. Wrong arguments: one line, the usage, exit code 2.
var output = new Option<string?>("--out") { Description = "Folder for comparison.md and comparison.json. Default: runs/ensemble-<timestamp> under the current folder." };
var images = new Option<int>("--synthetic-images") { Description = "How many synthetic chest phantoms to generate (70% train, 15% validation, 15% test).", DefaultValueFactory = _ => 200 };
var imageSize = new Option<int>("--image-size") { Description = "Side of the square the networks see.", DefaultValueFactory = _ => 96 };
var epochs = new Option<int>("--epochs") { Description = "Training epochs of the fine-tuned member (the three frozen-backbone members train 5 times as many on cached features).", DefaultValueFactory = _ => 3 };
var device = new Option<string>("--device") { Description = "cpu or cuda (default: cuda when available).", DefaultValueFactory = _ => "auto" };
var seed = new Option<int>("--seed") { Description = "Seed for the phantoms, the split, initialisation and augmentation.", DefaultValueFactory = _ => 42 };

var root = new RootCommand("Trains three ImageNet ResNet-18s that differ in what is frozen and in their heads, and a frozen ImageNet DenseNet-121 (CheXNet's backbone; torchvision's checkpoint, downloaded once, or a random initialisation when it cannot be had) with a linear head, on synthetic chest phantoms; evaluates each and their soft-voting ensemble on the same test split, and prints and saves the comparison (accuracy, ROC AUC with a bootstrap CI, sensitivity, specificity).")
{
    output, images, imageSize, epochs, device, seed,
};

root.SetAction(parse =>
{
    ComparisonSettings settings;
    try
    {
        settings = ComparisonSettings.From(parse.GetValue(output), parse.GetValue(images), parse.GetValue(imageSize), parse.GetValue(epochs), parse.GetValue(device)!, parse.GetValue(seed));
    }
    catch (ArgumentException ex)
    {
        return Usage(ex.Message);
    }

    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        if (!cancel.IsCancellationRequested)
        {
            e.Cancel = true;
            cancel.Cancel();
        }
    };
    return new Comparison(settings).Execute(cancel.Token);
});

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    return Usage(parsed.Errors[0].Message);
}

return parsed.Invoke();

int Usage(string message)
{
    Console.Error.WriteLine("error: " + message);
    root.Parse("--help").Invoke();
    return 2;
}
