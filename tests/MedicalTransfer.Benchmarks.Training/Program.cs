using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Freezing;
using MedicalTransfer.Training;
using MedicalTransfer.Benchmarks.Training;
using TorchSharp;
using static TorchSharp.torch;

// Training throughput and memory benchmark (not a timed test). Usage:
//   dotnet run -c Release --project tests/MedicalTransfer.Benchmarks.Training -- [--models 18,50] [--batch 16]
//       [--size 224] [--threads 2] [--warmup 2] [--steps 5] [--memory]
// (a) a raw TorchSharp forward/backward/AdamW loop on one in-memory batch; (b) the SDK's Trainer, full fine-tuning,
// fed by the DataLoader (synthetic PNGs, decoded once into the loader's cache during the warm-up epoch);
// (c) the Trainer with Layers.UpTo(2) frozen; (d) with Layers.All frozen. Images/s of (b)-(d) are those of the
// measured epoch's training steps (validation excluded). Compare with bench_training_pytorch.py.
var settings = Settings.Parse(args);
torch.set_num_threads(settings.Threads);
Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "TorchSharp {0}, {1} thread(s), batch {2}, {3}x{3}, {4} warm-up + {5} measured steps, {6}", typeof(torch).Assembly.GetName().Version, torch.get_num_threads(), settings.Batch, settings.Size, settings.Warmup, settings.Steps, Environment.OSVersion));

if (settings.Memory)
{
    MemoryBenchmark.Run();
    return;
}

string root = Path.Combine(Path.GetTempPath(), "mt-bench-training-" + Guid.NewGuid().ToString("N"));
Directory.CreateDirectory(root);
try
{
    SyntheticChestXRay.WriteImageFolder(Path.Combine(root, "train"), new SyntheticChestXRayOptions { Count = settings.Batch * settings.Steps, Size = settings.Size, PositiveFraction = 0.5, Seed = 1 });
    SyntheticChestXRay.WriteImageFolder(Path.Combine(root, "validation"), new SyntheticChestXRayOptions { Count = settings.Batch, Size = settings.Size, PositiveFraction = 0.5, Seed = 2 });
    var dataset = ImageFolder.Load(Path.Combine(root, "train"));
    var validationSet = ImageFolder.Load(Path.Combine(root, "validation"));
    var transform = Transforms.Compose(Transforms.ToTensor(), Transforms.Normalize(Preprocessing.ImageNet.Mean, Preprocessing.ImageNet.Std));
    var rows = new List<(string Model, string Variant, double ImagesPerSecond)>();
    foreach (int depth in settings.Models)
    {
        string name = "ResNet-" + depth.ToString(CultureInfo.InvariantCulture);
        rows.Add((name, "(a) raw TorchSharp loop", RawLoop(depth, settings)));
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0} {1}: {2:F1} images/s", name, rows[^1].Variant, rows[^1].ImagesPerSecond));
        rows.Add((name, "(b) Trainer, full fine-tune", TrainerRun(depth, Layers.None, dataset, validationSet, transform, settings)));
        rows.Add((name, "(c) Trainer, Layers.UpTo(2)", TrainerRun(depth, Layers.UpTo(2), dataset, validationSet, transform, settings)));
        rows.Add((name, "(d) Trainer, Layers.All", TrainerRun(depth, Layers.All, dataset, validationSet, transform, settings)));
    }

    Console.WriteLine();
    Console.WriteLine("| Model | Variant | images/s | vs (a) | vs (b) |");
    Console.WriteLine("|---|---|---:|---:|---:|");
    foreach (var row in rows)
    {
        double a = rows.First(r => r.Model == row.Model && r.Variant.StartsWith("(a)", StringComparison.Ordinal)).ImagesPerSecond;
        double b = rows.First(r => r.Model == row.Model && r.Variant.StartsWith("(b)", StringComparison.Ordinal)).ImagesPerSecond;
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1} | {2:F1} | {3:F2}x | {4:F2}x |", row.Model, row.Variant, row.ImagesPerSecond, row.ImagesPerSecond / a, row.ImagesPerSecond / b));
    }
}
finally
{
    Directory.Delete(root, recursive: true);
}

static double RawLoop(int depth, Settings settings)
{
    using var model = TransferBuilder.FromResNet(depth).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(1).Build();
    model.train();
    using var optimizer = optim.AdamW(model.parameters(), lr: 1e-4, weight_decay: 1e-4);
    using var images = randn(settings.Batch, 3, settings.Size, settings.Size);
    using var labels = randint(0, 2, new long[] { settings.Batch });
    var clock = new Stopwatch();
    for (int i = 0; i < settings.Warmup + settings.Steps; i++)
    {
        if (i == settings.Warmup)
        {
            clock.Start();
        }

        using var scope = NewDisposeScope();
        var loss = nn.functional.cross_entropy(model.forward(images), labels);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
    }

    clock.Stop();
    return settings.Batch * settings.Steps / clock.Elapsed.TotalSeconds;
}

static double TrainerRun(int depth, FreezeSpec freeze, ImageDataset dataset, ImageDataset validationSet, ImageTransform transform, Settings settings)
{
    using var model = TransferBuilder.FromResNet(depth).ForClasses(dataset.Classes.ToArray()).Freeze(freeze).OnDevice(CPU).WithSeed(1).Build();
    var train = new DataLoader(dataset, transform, new LoaderOptions { BatchSize = settings.Batch, Workers = 1, CacheShorterSide = settings.Size, Seed = 1 });
    var validation = new DataLoader(validationSet, transform, new LoaderOptions { BatchSize = settings.Batch, Workers = 1, CacheShorterSide = settings.Size, Sampling = SamplingMode.Sequential });

    // Epoch 1 warms up (decoding into the loader's cache, first allocations); epoch 2 is measured.
    var result = model.Fit(train, validation, new TrainingOptions { Epochs = 2, Schedule = LearningRateSchedule.Constant() });
    return result.History.Epochs[^1].ImagesPerSecond;
}

internal sealed record Settings(int[] Models, int Batch, int Size, int Threads, int Warmup, int Steps, bool Memory)
{
    public static Settings Parse(string[] args)
    {
        string Value(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        int Int(string name, int fallback) => int.Parse(Value(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        return new Settings(
            Value("--models", "18,50").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
            Int("--batch", 16),
            Int("--size", 224),
            Int("--threads", 2),
            Int("--warmup", 2),
            Int("--steps", 5),
            args.Contains("--memory"));
    }
}
