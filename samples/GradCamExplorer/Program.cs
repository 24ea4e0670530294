using System;
using System.CommandLine;
using System.Threading;
using GradCamExplorer;

// Explains a folder of images with a saved model. Parses and checks the arguments, then hands an
// ExplorerSettings to Explorer. Wrong arguments: one line, the usage, exit code 2.
var model = new Option<string?>("--model") { Description = "A model saved with TransferModel.Save (.safetensors). Default: train a tiny ResNet-18 on synthetic chest phantoms first (about half a minute)." };
var images = new Option<string?>("--images") { Description = "Folder of images to explain, searched recursively for .png, .jpg, .jpeg and .bmp. Required with --model; without --model, the demo's held-out phantoms." };
var output = new Option<string?>("--out") { Description = "Folder for the overlays and index.html. Default: runs/gradcam-<timestamp> under the current folder." };
var layer = new Option<string>("--layer") { Description = "The layer to explain: stem, layer1..layer4, or a block such as layer4.1.", DefaultValueFactory = _ => "layer4" };
var method = new Option<string>("--method") { Description = "gradcam or gradcam++.", DefaultValueFactory = _ => "gradcam" };
var seed = new Option<int>("--seed") { Description = "Seed of the demo's phantoms and training (ignored with --model).", DefaultValueFactory = _ => 42 };

var root = new RootCommand("Explains every image in a folder with a saved MedicalTransfer model: one Grad-CAM overlay per image and an index.html grid with the predicted class and its probability.")
{
    model, images, output, layer, method, seed,
};

root.SetAction(parse =>
{
    ExplorerSettings settings;
    try
    {
        settings = ExplorerSettings.From(parse.GetValue(model), parse.GetValue(images), parse.GetValue(output), parse.GetValue(layer)!, parse.GetValue(method)!, parse.GetValue(seed));
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
    return new Explorer(settings).Execute(cancel.Token);
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
