using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using MedicalTransfer;
using MedicalTransfer.Benchmarks.Inference;
using MedicalTransfer.Data;
using MedicalTransfer.Export;
using MedicalTransfer.Models;
using MedicalTransfer.Onnx;
using MedicalTransfer.Prediction;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

// Inference benchmark (issue 11). One process, same ResNet-18 weights, 224x224, 2 threads everywhere:
//   eager TorchSharp model, the same graph run eagerly with BatchNorm folded / unfolded, the MedicalTransfer.Onnx
//   classifier and raw ONNX Runtime on the exported file, at batch 1 and 16; then PredictFolder over 512x512 PNGs
//   against the classifier alone on prepared tensors. Rounds interleave the configurations and the median is kept.
// Usage: nice -n 10 dotnet run -c Release --project tests/MedicalTransfer.Benchmarks.Inference -- [--rounds 3] [--images 96]
//        [--onnx-only] (no TorchSharp rows in the first table) [--folder-only] (PredictFolder table only) [--skip-eager-folder]
//        [--pipeline-stages] (CPU ms per image of each stage of the prediction pipeline alone, see PipelineStages.cs)
int rounds = Arg("--rounds", 3);
int images = Arg("--images", 96);
bool folderOnly = args.Contains("--folder-only");
bool skipEager = args.Contains("--skip-eager-folder");
bool onnxOnly = args.Contains("--onnx-only"); // the first table without the (slow) TorchSharp rows
// Issue 15: --depth picks the ResNet; --no-folder skips the PredictFolder table; --batches limits the batch sizes (1,16).
int depth = Arg("--depth", 18);
bool folderTable = !args.Contains("--no-folder");
int[] batchSizes = args.Contains("--batch16-only") ? new[] { 16 } : new[] { 1, 16 };
const int Threads = 2;
set_num_threads(Threads);
Console.WriteLine(Lscpu());
Console.WriteLine("bfloat16: " + CpuCapabilities.Describe());
Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} logical cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at start; torch threads {get_num_threads()}, ORT intra-op threads {Threads}");

string work = Path.Combine(Path.GetTempPath(), "mt-bench-inference-" + Guid.NewGuid().ToString("N"));
Directory.CreateDirectory(work);
try
{
    using var model = TransferBuilder.FromResNet(depth).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(1).Build();
    model.eval();
    string folded = Path.Combine(work, "folded.onnx"), unfolded = Path.Combine(work, "unfolded.onnx");
    model.ExportOnnx(folded);
    model.ExportOnnx(unfolded, new OnnxExportOptions { FoldBatchNorm = false });
    using var eagerFolded = new EagerGraph(folded);
    using var eagerUnfolded = new EagerGraph(unfolded);
    using var classifier = OnnxImageClassifier.Load(folded, new OnnxClassifierOptions { Threads = Threads });
    using var quiet = OnnxImageClassifier.Load(folded, new OnnxClassifierOptions { Threads = Threads, AllowSpinning = false });
    using var rawOptions = new SessionOptions { IntraOpNumThreads = Threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
    using var raw = new InferenceSession(folded, rawOptions);
    var sdk = model.AsClassifier();
    if (args.Contains("--pipeline-stages"))
    {
        return PipelineStages.Run(rounds, images, Lscpu(), classifier);
    }

    var configs = new List<(string Name, int Batch, Action Run)>();
    foreach (int batch in batchSizes)
    {
        var input = rand(batch, 3, 224, 224).DetachFromDisposeScope();
        float[] pixels = input.data<float>().ToArray();
        var probabilities = new double[batch * 2];
        if (!onnxOnly)
        {
            configs.Add(("SDK eager (TorchSharp modules)", batch, () => sdk.Classify(pixels, batch, 224, probabilities)));
            // Issue 15: the SDK's defaults (above: NCHW, BatchNorm unfolded) against each lever on, and bfloat16.
            configs.Add(("SDK eager, channels-last, folded", batch, () => WithLayout(model, channelsLast: true, fold: true, () => sdk.Classify(pixels, batch, 224, probabilities))));
            configs.Add(("SDK eager, channels-last, unfolded", batch, () => WithLayout(model, channelsLast: true, fold: false, () => sdk.Classify(pixels, batch, 224, probabilities))));
            configs.Add(("SDK eager, NCHW, folded", batch, () => WithLayout(model, channelsLast: false, fold: true, () => sdk.Classify(pixels, batch, 224, probabilities))));
            configs.Add(("SDK eager, bfloat16 (channels-last, folded)", batch, () => WithLayout(model, channelsLast: true, fold: true, () => WithBFloat16(sdk, () => sdk.Classify(pixels, batch, 224, probabilities)))));
            configs.Add(("eager graph, BatchNorm unfolded", batch, () => Eager(eagerUnfolded, input)));
            configs.Add(("eager graph, BatchNorm folded", batch, () => Eager(eagerFolded, input)));
        }

        configs.Add(("MedicalTransfer.Onnx classifier", batch, () => classifier.Classify(pixels, batch, 224, probabilities)));
        configs.Add(("MedicalTransfer.Onnx classifier, AllowSpinning = false", batch, () => quiet.Classify(pixels, batch, 224, probabilities)));
        configs.Add(("raw ONNX Runtime", batch, () =>
        {
            using var value = OrtValue.CreateTensorValueFromMemory(pixels, new long[] { batch, 3, 224, 224 });
            using var options = new RunOptions();
            using var results = raw.Run(options, new[] { "input" }, new[] { value }, raw.OutputNames);
            _ = results[0].GetTensorDataAsSpan<float>()[0];
        }));
    }

    if (folderOnly)
    {
        configs.Clear();
    }

    var rates = configs.ToDictionary(c => (c.Name, c.Batch), _ => new List<double>());
    foreach (var c in configs)
    {
        c.Run(); // warm-up: kernels, allocator, ORT's first run
    }

    for (int r = 0; r < rounds; r++)
    {
        foreach (var c in configs)
        {
            rates[(c.Name, c.Batch)].Add(Rate(c.Run, c.Batch, seconds: c.Batch == 1 ? 2.0 : 4.0));
        }

        Console.WriteLine($"round {r + 1}/{rounds} done, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
    }

    Console.WriteLine();
    Console.WriteLine("| configuration | batch | images/s (median of " + rounds + " rounds) | range | vs SDK eager | vs raw ORT |");
    Console.WriteLine("|---|---:|---:|---:|---:|---:|");
    foreach (int batch in folderOnly ? Array.Empty<int>() : batchSizes)
    {
        double eager = onnxOnly ? double.NaN : Median(rates[("SDK eager (TorchSharp modules)", batch)]);
        double ort = Median(rates[("raw ONNX Runtime", batch)]);
        foreach (var c in configs.Where(c => c.Batch == batch))
        {
            var list = rates[(c.Name, batch)];
            double m = Median(list);
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1} | {2:F1} | {3:F1}-{4:F1} | {5:F2}x | {6:F2}x |", c.Name, batch, m, list.Min(), list.Max(), m / eager, m / ort));
        }
    }

    Console.WriteLine($"(eager graph: {eagerUnfolded.Nodes} nodes unfolded, {eagerFolded.Nodes} folded)");

    if (!folderTable)
    {
        Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Trim()} at the end");
        return 0;
    }

    // PredictFolder on 512x512 16-bit PNGs against the same classifier on prepared tensors, batch 16. The pipeline
    // alone (a classifier that computes nothing) says what decoding costs: on a machine where decoding and
    // inference share the same cores, PredictFolder can reach at most 1 / (1/pipeline + 1/model) images/s.
    string folder = Path.Combine(work, "png");
    SyntheticChestXRay.WriteImageFolder(folder, new SyntheticChestXRayOptions { Count = images, Size = 512, Format = SyntheticImageFormat.Png16, Seed = 3 });
    Console.WriteLine();
    Console.WriteLine($"| PredictFolder, {images} 512x512 16-bit PNGs, batch 16 | decode workers | model only (images/s) | PredictFolder (images/s) | ratio | pipeline alone (images/s) | shared-CPU bound | CPU ms/image: model only, PredictFolder, pipeline alone | CPU ratio |");
    Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    var candidates = new List<(string, IImageClassifier, int)>
    {
        ("MedicalTransfer.Onnx classifier", classifier, 2),
        ("MedicalTransfer.Onnx classifier", classifier, 1),
        ("MedicalTransfer.Onnx classifier, AllowSpinning = false", quiet, 2),
        ("MedicalTransfer.Onnx classifier, AllowSpinning = false", quiet, 1),
    };
    if (!skipEager)
    {
        candidates.Add(("SDK eager", sdk, 2));
    }

    var pipelineRates = new Dictionary<int, double>();
    var pipelineCpu = new Dictionary<int, double>();
    foreach (int workers in new[] { 1, 2 })
    {
        var nothing = new NoInference(classifier);
        var list = new List<double>();
        var cpu = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            list.Add(CpuPerImage(() => FolderRate(nothing, folder, workers), images, cpu));
        }

        pipelineRates[workers] = Median(list);
        pipelineCpu[workers] = Median(cpu);
    }

    foreach (var (name, c, workers) in candidates)
    {
        var input = rand(16, 3, 224, 224).DetachFromDisposeScope();
        float[] pixels = input.data<float>().ToArray();
        var probabilities = new double[32];
        var modelOnly = new List<double>();
        var folderRates = new List<double>();
        var modelCpu = new List<double>();
        var folderCpu = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            modelOnly.Add(CpuPerImage(() => Rate(() => c.Classify(pixels, 16, 224, probabilities), 16, seconds: 4.0), -1, modelCpu));
            folderRates.Add(CpuPerImage(() => FolderRate(c, folder, workers), images, folderCpu));
        }

        double m = Median(modelOnly), f = Median(folderRates), d = pipelineRates[workers];
        double cm = Median(modelCpu), cf = Median(folderCpu);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1} | {2:F1} | {3:F1} | {4:P0} | {5:F1} | {6:F1} ({7:P0}) | {8:F0}, {9:F0}, {10:F0} | {11:P0} |", name, workers, m, f, f / m, d, 1 / ((1 / d) + (1 / m)), d / (d + m), cm, cf, pipelineCpu[workers], cm / cf));
    }

    Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Trim()} at the end");
    return 0;
}
finally
{
    Directory.Delete(work, recursive: true);
}

// Runs a measurement that returns images/s; records the process's CPU milliseconds per image (user + system, all
// threads), which the other processes on a shared machine change far less than wall-clock rates. count < 0: the
// image count is rate x elapsed.
static double CpuPerImage(Func<double> measure, int count, List<double> cpu)
{
    var process = Process.GetCurrentProcess();
    process.Refresh();
    var before = process.TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    double rate = measure();
    double seconds = clock.Elapsed.TotalSeconds;
    process.Refresh();
    double n = count > 0 ? count : rate * seconds;
    cpu.Add((process.TotalProcessorTime - before).TotalMilliseconds / n);
    return rate;
}

static double FolderRate(IImageClassifier c, string folder, int workers)
{
    var clock = Stopwatch.StartNew();
    int n = 0;
    Task.Run(async () =>
    {
        await foreach (var p in c.PredictFolder(folder, new ImagePredictionOptions { BatchSize = 16, Workers = workers }))
        {
            n += p.Succeeded ? 1 : 0;
        }
    }).GetAwaiter().GetResult();
    return n / clock.Elapsed.TotalSeconds;
}

static void WithLayout(BackboneNetwork model, bool channelsLast, bool fold, Action run)
{
    (bool oldLayout, bool oldFold) = (model.ChannelsLast, model.FoldBatchNorm);
    model.ChannelsLast = channelsLast;
    model.FoldBatchNorm = fold;
    try
    {
        run();
    }
    finally
    {
        model.ChannelsLast = oldLayout;
        model.FoldBatchNorm = oldFold;
    }
}

static void WithBFloat16(IImageClassifier classifier, Action run)
{
    var torchClassifier = (TorchClassifier)classifier;
    torchClassifier.Precision = ComputePrecision.BFloat16;
    try
    {
        run();
    }
    finally
    {
        torchClassifier.Precision = ComputePrecision.Float32;
    }
}

static void Eager(EagerGraph graph, Tensor input)
{
    using var scope = NewDisposeScope();
    using var noGrad = no_grad();
    _ = graph.Forward(input).data<float>()[0];
}

static double Rate(Action run, int batch, double seconds)
{
    var clock = Stopwatch.StartNew();
    int n = 0;
    do
    {
        run();
        n++;
    }
    while (clock.Elapsed.TotalSeconds < seconds);
    return n * batch / clock.Elapsed.TotalSeconds;
}

static double Median(List<double> values)
{
    var sorted = values.OrderBy(v => v).ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}

static string Lscpu()
{
    try
    {
        var start = new ProcessStartInfo("lscpu") { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(start)!;
        var lines = p.StandardOutput.ReadToEnd().Split('\n');
        p.WaitForExit();
        return string.Join('\n', lines.Where(l => l.StartsWith("Model name", StringComparison.Ordinal) || l.StartsWith("CPU(s)", StringComparison.Ordinal) || l.StartsWith("Flags", StringComparison.Ordinal) || l.StartsWith("Thread(s) per core", StringComparison.Ordinal)).Select(l => "lscpu: " + string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))));
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return "lscpu: not available";
    }
}

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
