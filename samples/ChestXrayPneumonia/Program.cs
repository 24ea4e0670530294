using System;
using System.CommandLine;
using System.IO;
using System.Linq;
using System.Threading;
using ChestXrayPneumonia;

// The article's chest X-ray example as a command-line program. Parses and checks the arguments, then
// hands a RunSettings to PneumoniaRun. Wrong arguments: the error and a one-line hint on stderr, exit code 2.
var data = new Option<string?>("--data") { Description = "An ImageFolder (the Kaggle chest_xray layout with train/val/test, or one folder of class folders; PNG, JPEG, BMP or DICOM files), or a CSV/TSV label table (CheXpert, NIH ChestX-ray14, or Path,Label columns; CheXpert's valid.csv beside train.csv is its validation set). Default: synthetic chest phantoms, generated once and cached." };
var dataRoot = new Option<string?>("--data-root") { Description = "For a table: the folder its paths are relative to (for CheXpert, the folder holding CheXpert-v1.0-small). Default: the table's folder." };
var finding = new Option<string>("--finding") { Description = "For a multi-label table (CheXpert, NIH): the finding that is PNEUMONIA when positive and NORMAL when negative (uncertain and missing left out).", DefaultValueFactory = _ => "Pneumonia" };
var view = new Option<string?>("--view") { Description = "Train and evaluate on one view only, for example PA (from the table's view column or the DICOM View Position)." };
var badImages = new Option<string>("--bad-images") { Description = "fail: stop when the pre-flight check finds unreadable images (the default); skip: leave them out (listed in the output).", DefaultValueFactory = _ => "fail" };
var skipBad = new Option<bool>("--skip-bad-images") { Description = "The same as --bad-images skip." };
var keepCheckpoint = new Option<bool>("--keep-checkpoint") { Description = "Keep the training checkpoint (checkpoint.mtckpt, about 190 MB for ResNet-18) after a complete run; by default it is deleted then and kept only while --resume may need it." };
var depth = new Option<int>("--depth") { Description = "ResNet depth: 18, 34, 50, 101 or 152 (with --weights onnx the layout is fixed by the file).", DefaultValueFactory = _ => 18 };
var weights = new Option<string>("--weights") { Description = "onnx (ImageNet ResNet-18 from a NuGet package, no network), imagenet (torchvision checkpoint, downloaded once), or a .pth/.safetensors file.", DefaultValueFactory = _ => "onnx" };
var freeze = new Option<string>("--freeze") { Description = "none, all, upto:N (N in 0..4) or adaptive (rank stages by ablation on validation data, freeze the least important).", DefaultValueFactory = _ => "upto:2" };
var progressive = new Option<bool>("--progressive") { Description = "Fine-tune in the article's three phases (head; layer3+layer4+head; everything), scaled to --epochs." };
var epochs = new Option<int>("--epochs") { Description = "Training epochs (in all phases together).", DefaultValueFactory = _ => 4 };
var batchSize = new Option<int>("--batch-size") { Description = "Images per batch.", DefaultValueFactory = _ => 16 };
var imageSize = new Option<int>("--image-size") { Description = "Side of the square the network sees.", DefaultValueFactory = _ => 160 };
var device = new Option<string>("--device") { Description = "cpu or cuda (default: cuda when available).", DefaultValueFactory = _ => "auto" };
var seed = new Option<int>("--seed") { Description = "Seed for data splits, augmentation, initialisation and dropout.", DefaultValueFactory = _ => 42 };
var output = new Option<string?>("--out") { Description = "Report folder. Default: runs/<timestamp> under the current folder." };
var resume = new Option<string?>("--resume") { Description = "Continue an interrupted run from its report folder (its settings are reused)." };
var images = new Option<int>("--synthetic-images") { Description = "How many synthetic phantoms to generate when --data is not given.", DefaultValueFactory = _ => 400 };
var folds = new Option<int>("--folds") { Description = "Patient-level k-fold cross-validation (for example 5) of train+val, the test split kept apart; writes study-report.html. 0: one train/validation/test run." };
var groupPattern = new Option<string?>("--group-pattern") { Description = "Regular expression whose first group is the patient id in a file name, for example ^(person\\d+)_ (default for the synthetic phantoms: ^(patient\\d+)_)." };

var root = new RootCommand("Fine-tunes an ImageNet ResNet to tell NORMAL from PNEUMONIA chest X-rays and writes a report folder (metrics, pictures, Grad-CAM, the model).")
{
    data, depth, weights, freeze, progressive, epochs, batchSize, imageSize, device, seed, output, resume, images, dataRoot, finding, view, badImages, skipBad, folds, groupPattern, keepCheckpoint,
};

root.SetAction(parse =>
{
    RunSettings settings;
    try
    {
        string badImagePolicy = parse.GetValue(badImages)!;
        if (badImagePolicy is not ("fail" or "skip"))
        {
            throw new ArgumentException($"--bad-images must be fail or skip; found '{badImagePolicy}'.");
        }

        settings = RunSettings.From(
            parse.GetValue(data), parse.GetValue(depth), parse.GetValue(weights)!, parse.GetValue(freeze)!, parse.GetValue(progressive),
            parse.GetValue(epochs), parse.GetValue(batchSize), parse.GetValue(imageSize), parse.GetValue(device)!, parse.GetValue(seed),
            parse.GetValue(output), parse.GetValue(resume), parse.GetValue(images), parse.GetValue(folds), parse.GetValue(groupPattern));
        // A resumed run keeps the data settings it was started with (run.json); only --keep-checkpoint can be added.
        settings = settings.Resumed
            ? settings with { KeepCheckpoint = settings.KeepCheckpoint || parse.GetValue(keepCheckpoint) }
            : settings with
            {
                DataRoot = parse.GetValue(dataRoot) is string root ? Path.GetFullPath(root) : null,
                Finding = parse.GetValue(finding)!,
                View = parse.GetValue(view),
                SkipBadImages = parse.GetValue(skipBad) || badImagePolicy == "skip",
                KeepCheckpoint = parse.GetValue(keepCheckpoint),
            };
    }
    catch (ArgumentException ex)
    {
        return Usage(ex.Message);
    }

    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        // First Ctrl+C: stop after the current batch and keep the checkpoints. Second: default behaviour.
        if (!cancel.IsCancellationRequested)
        {
            e.Cancel = true;
            cancel.Cancel();
        }
    };
    return new PneumoniaRun(settings).Execute(cancel.Token);
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
    Console.Error.WriteLine("hint: run with --help to list the options.");
    return 2;
}
