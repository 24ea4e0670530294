using System;
using System.CommandLine;
using System.Threading;
using BatchPrediction;

// Classifies an archive of images. Parses and checks the arguments, then hands BatchSettings to BatchRun.
// Wrong arguments: one line on stderr, the usage on stdout, exit code 2.
var model = new Option<string?>("--model") { Description = "An exported ONNX model (.onnx, from model.ExportOnnx) or a saved model (.safetensors, from model.Save). Required." };
var images = new Option<string?>("--images") { Description = "The folder to classify, searched recursively for .png, .jpg, .jpeg and .bmp. Required." };
var output = new Option<string>("--out") { Description = "The CSV to write: path, one probability per class, predicted class, error.", DefaultValueFactory = _ => "predictions.csv" };
var resume = new Option<bool>("--resume") { Description = "Continue an interrupted run: keep the rows already in --out and classify only the images not listed there." };
var batch = new Option<int>("--batch-size") { Description = "Images classified at once.", DefaultValueFactory = _ => 16 };
var workers = new Option<int>("--workers") { Description = "Threads that decode the next images while the model runs.", DefaultValueFactory = _ => Math.Min(Environment.ProcessorCount, 4) };
var threads = new Option<int?>("--threads") { Description = "ONNX Runtime intra-op threads (ONNX models). Default: ONNX Runtime's." };

var root = new RootCommand("Classifies every image under a folder with a MedicalTransfer model and writes predictions.csv incrementally (resumable).")
{
    model, images, output, resume, batch, workers, threads,
};

root.SetAction(async (parse, cancellationToken) =>
{
    BatchSettings settings;
    try
    {
        settings = BatchSettings.From(parse.GetValue(model), parse.GetValue(images), parse.GetValue(output)!, parse.GetValue(resume), parse.GetValue(batch), parse.GetValue(workers), parse.GetValue(threads));
    }
    catch (ArgumentException ex)
    {
        return Usage(ex.Message);
    }

    using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    Console.CancelKeyPress += (_, e) =>
    {
        if (!cancel.IsCancellationRequested)
        {
            e.Cancel = true;
            cancel.Cancel();
        }
    };
    return await new BatchRun(settings).ExecuteAsync(cancel.Token);
});

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    return Usage(parsed.Errors[0].Message);
}

return await parsed.InvokeAsync();

int Usage(string message)
{
    Console.Error.WriteLine("error: " + message);
    root.Parse("--help").Invoke();
    return 2;
}
