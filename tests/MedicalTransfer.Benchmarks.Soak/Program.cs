using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Explainability;
using MedicalTransfer.Models;
using MedicalTransfer.Training;
using TorchSharp;

// Soak benchmark: trains for at least --steps steps (default 2,000) on small synthetic X-rays through the public API
// (image folder, DataLoader with workers, Fit), with validation every epoch, Grad-CAM on two images every
// --cam-every epochs and a training checkpoint written every epoch. Every --report-every epochs it prints the live
// TorchSharp tensors (this thread's count, as the Trainer runs on it), the managed heap after a full collection,
// the RSS and the open file handles (/proc/self/fd), then a verdict per column: the growth between the first sample
// after warm-up (--warmup-steps) and the last one, and the spread in between. Run with nice -n 10 on a shared machine:
//   nice -n 10 dotnet run -c Release --project tests/MedicalTransfer.Benchmarks.Soak -- [--steps 2000] [--images 64] [--batch 4] [--crop 32] [--threads 1]
string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

int steps = int.Parse(Arg("--steps", "2000"), CultureInfo.InvariantCulture);
int imageCount = int.Parse(Arg("--images", "64"), CultureInfo.InvariantCulture);
int batch = int.Parse(Arg("--batch", "4"), CultureInfo.InvariantCulture);
int camEvery = int.Parse(Arg("--cam-every", "3"), CultureInfo.InvariantCulture);
int reportEvery = int.Parse(Arg("--report-every", "5"), CultureInfo.InvariantCulture);
int warmupSteps = int.Parse(Arg("--warmup-steps", "300"), CultureInfo.InvariantCulture);
int crop = int.Parse(Arg("--crop", "32"), CultureInfo.InvariantCulture);
// One intra-op thread by default: at these sizes (16-32 px crops, batch 2-4) a second libtorch thread only spins
// against the other processes of a shared machine; measured side by side under a load average of about 20, one
// thread made a step 6 times faster (0.09 s against 0.55 s), which is what lets the soak reach its 2,000 steps.
torch.set_num_threads(int.Parse(Arg("--threads", "1"), CultureInfo.InvariantCulture));

string root = Path.Combine(Path.GetTempPath(), "mt-soak-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
string data = Path.Combine(root, "data");
Directory.CreateDirectory(data);
try
{
    SyntheticChestXRay.WriteImageFolder(data, new SyntheticChestXRayOptions { Count = imageCount, Size = 48, Seed = 18 });
    DatasetSplits splits = ImageFolder.Load(data).Split(new SplitOptions { ValidationFraction = 0.2, TestFraction = 0.1, Seed = 1 });
    using TransferModel model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
        .WithHead(Head.Linear())
        .ForClasses(splits.Train.Classes.ToArray())
        .WithPreprocessing(new Preprocessing { ResizeSize = crop + (crop / 4), CropSize = crop })
        .OnDevice(torch.CPU)
        .WithSeed(1)
        .Build();
    var loader = new LoaderOptions { BatchSize = batch, Workers = 2, Seed = 1, CacheShorterSide = crop + (crop / 4) };
    var train = new DataLoader(splits.Train, Transforms.ForTraining(model.Preprocessing), loader with { DropLast = true });
    var validation = new DataLoader(splits.Validation, Transforms.ForEvaluation(model.Preprocessing), loader with { Sampling = SamplingMode.Sequential });
    int stepsPerEpoch = splits.Train.Samples.Count / batch;
    int epochs = (steps + stepsPerEpoch - 1) / stepsPerEpoch;
    string[] camImages = splits.Test.Samples.Select(s => s.Path).Take(2).ToArray();

    Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "Soak: {0} training images ({1} steps per epoch, batch {2}), {3} epochs = {4} steps, validation every epoch ({5} images), Grad-CAM on {6} images every {7} epochs, a checkpoint every epoch; {8} thread(s), {9}x{9} crops", splits.Train.Samples.Count, stepsPerEpoch, batch, epochs, epochs * stepsPerEpoch, splits.Validation.Samples.Count, camImages.Length, camEvery, torch.get_num_threads(), crop));
    Console.WriteLine(Cpu());
    Console.WriteLine();
    Console.WriteLine("| epoch | step | live tensors | managed heap (MiB) | RSS (MiB) | open handles | train loss | s/epoch |");
    Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
    var monitor = new Monitor(camImages, camEvery, reportEvery);
    var watch = Stopwatch.StartNew();
    model.Fit(train, validation, new TrainingOptions { Epochs = epochs, LearningRate = 1e-3, CheckpointPath = Path.Combine(root, "checkpoint.safetensors"), Callbacks = new[] { monitor } });
    Console.WriteLine();
    Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0} steps in {1:F0} s; {2} Grad-CAM runs, {3} checkpoints written", monitor.Samples[^1].Step, watch.Elapsed.TotalSeconds, monitor.CamRuns, epochs));
    monitor.Verdict(warmupSteps);
}
finally
{
    Directory.Delete(root, recursive: true);
}

static string Cpu()
{
    string model = "unknown CPU", flags = string.Empty;
    if (File.Exists("/proc/cpuinfo"))
    {
        string[] lines = File.ReadAllLines("/proc/cpuinfo");
        model = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? model;
        string[] all = (lines.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1] ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        flags = string.Join(" ", all.Where(f => f.StartsWith("avx", StringComparison.Ordinal) || f.StartsWith("amx", StringComparison.Ordinal) || f is "fma" or "f16c"));
    }

    return string.Format(CultureInfo.InvariantCulture, "CPU: {0}, {1} logical CPUs; flags: {2}; load average at start: {3}", model, Environment.ProcessorCount, flags, File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?");
}

internal sealed record Sample(int Epoch, long Step, long LiveTensors, double HeapMiB, double RssMiB, int Handles);

/// <summary>Grad-CAM every few epochs and a row of resource figures every few epochs.</summary>
internal sealed class Monitor : ITrainingCallback
{
    private readonly string[] _camImages;
    private readonly int _camEvery;
    private readonly int _reportEvery;
    private readonly Stopwatch _epochWatch = Stopwatch.StartNew();

    public Monitor(string[] camImages, int camEvery, int reportEvery)
    {
        _camImages = camImages;
        _camEvery = camEvery;
        _reportEvery = reportEvery;
    }

    public List<Sample> Samples { get; } = new();

    public int CamRuns { get; private set; }

    public void OnEpochEnd(TrainingContext context)
    {
        int epoch = context.History.Epochs.Count;
        double seconds = _epochWatch.Elapsed.TotalSeconds;
        if (epoch % _camEvery == 0)
        {
            IReadOnlyList<Explanation> explanations = new GradCam().Explain(context.Model, _camImages);
            if (explanations.Count != _camImages.Length)
            {
                throw new InvalidOperationException("Grad-CAM explained " + explanations.Count + " images");
            }

            CamRuns++;
            context.Model.train();
        }

        if (epoch == 1 || epoch % _reportEvery == 0)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            var sample = new Sample(epoch, context.Step, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount, GC.GetTotalMemory(true) / 1048576.0, RssMiB(), Handles());
            Samples.Add(sample);
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1} | {2} | {3:F1} | {4:F0} | {5} | {6:F4} | {7:F1} |", sample.Epoch, sample.Step, sample.LiveTensors, sample.HeapMiB, sample.RssMiB, sample.Handles, context.LastEpoch!.TrainLoss, seconds));
        }

        _epochWatch.Restart();
    }

    public void Verdict(int warmupSteps)
    {
        Sample[] after = Samples.Where(s => s.Step >= warmupSteps).ToArray();
        if (after.Length < 2)
        {
            Console.WriteLine("too few samples after warm-up for a verdict");
            return;
        }

        Console.WriteLine();
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "After warm-up (step {0} to {1}, {2} samples):", after[0].Step, after[^1].Step, after.Length));
        Console.WriteLine("| figure | first | last | min | max | growth per 1,000 steps (least squares) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        Row("live tensors", after, s => s.LiveTensors);
        Row("managed heap (MiB)", after, s => s.HeapMiB);
        Row("RSS (MiB)", after, s => s.RssMiB);
        Row("open handles", after, s => s.Handles);
    }

    private static void Row(string name, Sample[] samples, Func<Sample, double> value)
    {
        double[] x = samples.Select(s => (double)s.Step).ToArray();
        double[] y = samples.Select(value).ToArray();
        double mx = x.Average(), my = y.Average();
        double slope = x.Zip(y, (a, b) => (a - mx) * (b - my)).Sum() / Math.Max(1e-9, x.Sum(a => (a - mx) * (a - mx)));
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1:0.#} | {2:0.#} | {3:0.#} | {4:0.#} | {5:+0.00;-0.00;0} |", name, y[0], y[^1], y.Min(), y.Max(), slope * 1000));
    }

    private static double RssMiB()
    {
        string? line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)) : null;
        return line is null ? -1 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }

    private static int Handles() => Directory.Exists("/proc/self/fd") ? Directory.GetFileSystemEntries("/proc/self/fd").Length : -1;
}
