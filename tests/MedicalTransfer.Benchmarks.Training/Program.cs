using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer;
using MedicalTransfer.Benchmarks.Training;
using MedicalTransfer.Data;
using MedicalTransfer.Freezing;
using MedicalTransfer.Training;
using TorchSharp;
using static TorchSharp.torch;

// Training throughput and memory benchmark (not a timed test). Usage:
//   dotnet run -c Release --project tests/MedicalTransfer.Benchmarks.Training -- [--models 18,50] [--batch 16]
//       [--size 224] [--threads 2] [--rounds 5] [--steps 2] [--variants abcde] [--no-loader] [--default-allocator] [--memory]
// Variants: (a) a raw TorchSharp loop: forward, cross-entropy, backward, TorchSharp's own optim.AdamW, each step in
// a DisposeScope; (b) the SDK's Trainer, full fine-tune, on the same in-memory batches; (c) the Trainer with
// Layers.UpTo(2) frozen; (d) with Layers.All frozen; (e) the Trainer fed by the DataLoader (synthetic PNGs, decoded
// into the loader's cache first) instead of in-memory batches, which shows what the pipeline costs.
// Shared machines drift: a step can take 1.0 s for a minute and 1.6 s the next. So the variants take turns: in each
// of --rounds rounds every variant runs 1 + --steps steps with a fresh optimizer (a Fit call per round for the
// Trainer rows; the first step, which allocates the optimizer state, is not timed), in an order rotated every
// round, and a row reports batch / (median timed step), the mean beside it.
// A Trainer step is the time between two of its per-batch progress reports: everything the Trainer does per
// batch (learning rate, loss check, metrics, progress) is inside it. Compare with bench_training_pytorch.py.
// The C allocator: by default every variant runs with freed memory kept for reuse, the Trainer's default
// (TrainingOptions.RetainFreedMemory; process-wide, so it is set once before the first variant and the raw loop gets it
// too); --default-allocator leaves glibc as it is for all of them. The page-fault column shows the difference.
// Issue 15: rows (b)-(e) run with model.ChannelsLast and model.FoldBatchNorm on; --nchw adds (b')-(d') with both
// off (the SDK's default layout), so the two are compared in the same run; the table header prints the CPU's bfloat16 flags.
bool nchwRows = args.Contains("--nchw");
var settings = Settings.Parse(args.Where(a => a != "--nchw").ToArray());
Console.WriteLine("bfloat16: " + MedicalTransfer.Models.CpuCapabilities.Describe() + $"; load average {File.ReadAllText("/proc/loadavg").Trim()}");
torch.set_num_threads(settings.Threads);
Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "TorchSharp {0}, {1} thread(s), batch {2}, {3}x{3}, {4} rounds x (1 + {5}) steps per variant, {6}, {7} logical CPUs", typeof(torch).Assembly.GetName().Version, torch.get_num_threads(), settings.Batch, settings.Size, settings.Rounds, settings.Steps, Environment.OSVersion, Environment.ProcessorCount));

if (!settings.DefaultAllocator)
{
    Console.WriteLine("C allocator: " + MedicalTransfer.Internal.NativeAllocator.RetainFreedMemory() + " (freed memory kept for reuse, as the Trainer does by default)");
}
else
{
    Console.WriteLine("C allocator: left as it is (--default-allocator)");
}

if (settings.Memory)
{
    MemoryBenchmark.Run();
    return;
}

var rows = new List<Row>();
foreach (int depth in settings.Models)
{
    string name = "ResNet-" + depth.ToString(CultureInfo.InvariantCulture);
    int batches = 1 + settings.Steps;
    manual_seed(1);
    using var images = randn(settings.Batch * batches, 3, settings.Size, settings.Size);
    using var labels = randint(0, 2, new long[] { settings.Batch * batches });
    var variants = new List<Variant>
    {
        new RawLoop("(a) raw TorchSharp loop", depth, images, labels, settings.Batch),
        new TrainerOnTensors("(b) Trainer, full fine-tune", depth, Layers.None, images, labels, settings.Batch, settings.Options),
    };
    if (settings.Runs('c'))
    {
        variants.Add(new TrainerOnTensors("(c) Trainer, Layers.UpTo(2)", depth, Layers.UpTo(2), images, labels, settings.Batch, settings.Options));
    }

    if (settings.Runs('d'))
    {
        variants.Add(new TrainerOnTensors("(d) Trainer, Layers.All", depth, Layers.All, images, labels, settings.Batch, settings.Options));
    }

    if (nchwRows)
    {
        variants.Add(new TrainerOnTensors("(b') Trainer, full, NCHW unfolded (default)", depth, Layers.None, images, labels, settings.Batch, settings.Options, legacyLayout: true));
        if (settings.Runs('c'))
        {
            variants.Add(new TrainerOnTensors("(c') Trainer, UpTo(2), NCHW unfolded (default)", depth, Layers.UpTo(2), images, labels, settings.Batch, settings.Options, legacyLayout: true));
        }

        if (settings.Runs('d'))
        {
            variants.Add(new TrainerOnTensors("(d') Trainer, All, NCHW unfolded (default)", depth, Layers.All, images, labels, settings.Batch, settings.Options, legacyLayout: true));
        }
    }

    if (settings.Loader && settings.Runs('e'))
    {
        variants.Add(new TrainerOnLoader("(e) Trainer + DataLoader, full", depth, settings.Batch, batches, settings.Size, settings.Options));
    }

    try
    {
        for (int round = 0; round < settings.Rounds; round++)
        {
            for (int i = 0; i < variants.Count; i++)
            {
                variants[(i + round) % variants.Count].Round();
            }

            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0}: round {1} of {2} done", name, round + 1, settings.Rounds));
        }

        foreach (var variant in variants)
        {
            rows.Add(new Row(name, variant.Name, settings.Batch, variant.Steps.ToArray(), variant.Faults.ToArray()));
            Console.WriteLine(rows[^1].Describe());
        }
    }
    finally
    {
        variants.ForEach(v => v.Dispose());
    }
}

Console.WriteLine();
Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Trim()} at the end");
Console.WriteLine("| Model | Variant | images/s (median step) | images/s (mean) | vs (a) | vs (b) | page faults/step |");
Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
foreach (var row in rows)
{
    double a = rows.First(r => r.Model == row.Model && r.Variant.StartsWith("(a)", StringComparison.Ordinal)).MedianImagesPerSecond;
    double b = rows.First(r => r.Model == row.Model && r.Variant.StartsWith("(b)", StringComparison.Ordinal)).MedianImagesPerSecond;
    Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1} | {2:F1} | {3:F1} | {4:F2}x | {5:F2}x | {6:N0} |", row.Model, row.Variant, row.MedianImagesPerSecond, row.MeanImagesPerSecond, row.MedianImagesPerSecond / a, row.MedianImagesPerSecond / b, row.MedianFaults));
}

/// <summary>One row of the table: a model it trains, and the timed steps it has collected over the rounds.</summary>
internal abstract class Variant : IDisposable
{
    protected Variant(string name) => Name = name;

    public string Name { get; }

    public List<double> Steps { get; } = new();

    /// <summary>Minor page faults of the process during each timed step (-1 where /proc is not there).</summary>
    public List<long> Faults { get; } = new();

    /// <summary>Runs 1 + --steps steps and adds the durations of all but the first to <see cref="Steps"/>.</summary>
    public abstract void Round();

    public abstract void Dispose();

    protected static TransferModel Build(int depth, FreezeSpec freeze, IReadOnlyList<string> classes) =>
        TransferBuilder.FromResNet(depth).ForClasses(classes.ToArray()).Freeze(freeze).OnDevice(CPU).WithSeed(1).Build();
}

/// <summary>The baseline: what a TorchSharp user writes by hand.</summary>
internal sealed class RawLoop : Variant
{
    private readonly TransferModel model;
    private readonly Tensor images;
    private readonly Tensor labels;
    private readonly int batch;

    public RawLoop(string name, int depth, Tensor images, Tensor labels, int batch)
        : base(name)
    {
        model = Build(depth, Layers.None, new[] { "NORMAL", "PNEUMONIA" });
        model.train();
        this.images = images;
        this.labels = labels;
        this.batch = batch;
    }

    public override void Round()
    {
        // A fresh optimizer every round, as every Fit call builds one: its state is allocated in the untimed step.
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-4, weight_decay: 1e-4);
        var clock = new Stopwatch();
        long batches = images.shape[0] / batch;
        for (int i = 0; i < batches; i++)
        {
            long faults = PageFaults.Read();
            clock.Restart();
            using var scope = NewDisposeScope();
            var index = arange(i * batch, (i + 1) * batch, dtype: ScalarType.Int64);
            var loss = nn.functional.cross_entropy(model.forward(images.index_select(0, index)), labels.index_select(0, index));
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            _ = loss.item<float>();
            if (i > 0)
            {
                Steps.Add(clock.Elapsed.TotalSeconds);
                Faults.Add(PageFaults.Since(faults));
            }
        }
    }

    public override void Dispose() => model.Dispose();
}

/// <summary>The SDK's Trainer on in-memory batches (the raw loop's own): one epoch of 1 + --steps batches per round.</summary>
internal sealed class TrainerOnTensors : Variant
{
    private readonly TransferModel model;
    private readonly TensorBatchSource train;
    private readonly TensorBatchSource validation;
    private readonly Tensor validationImages;
    private readonly Tensor validationLabels;
    private readonly TrainingOptions options;

    public TrainerOnTensors(string name, int depth, FreezeSpec freeze, Tensor images, Tensor labels, int batch, TrainingOptions options, bool legacyLayout = false)
        : base(name)
    {
        this.options = options;
        model = Build(depth, freeze, new[] { "NORMAL", "PNEUMONIA" });
        model.ChannelsLast = !legacyLayout;
        model.FoldBatchNorm = !legacyLayout;
        train = new TensorBatchSource(images, labels, batch);
        validationImages = images.narrow(0, 0, batch);
        validationLabels = labels.narrow(0, 0, batch);
        validation = new TensorBatchSource(validationImages, validationLabels, batch);
    }

    public override void Round()
    {
        var clock = new StepClock();
        TransferModelTrainingExtensions.FitCore(model, train, validation, options with { Progress = clock }, CancellationToken.None);
        Steps.AddRange(clock.StepsAfterFirst());
        Faults.AddRange(clock.FaultsAfterFirst());
    }

    public override void Dispose()
    {
        validationImages.Dispose();
        validationLabels.Dispose();
        model.Dispose();
    }
}

/// <summary>The user's path: the Trainer fed by the DataLoader from PNG files, decoded into the loader's cache before round one.</summary>
internal sealed class TrainerOnLoader : Variant
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "mt-bench-training-" + Guid.NewGuid().ToString("N"));
    private readonly TransferModel model;
    private readonly DataLoader train;
    private readonly DataLoader validation;
    private readonly TrainingOptions options;

    public TrainerOnLoader(string name, int depth, int batch, int batches, int size, TrainingOptions options)
        : base(name)
    {
        this.options = options;
        SyntheticChestXRay.WriteImageFolder(Path.Combine(root, "train"), new SyntheticChestXRayOptions { Count = batch * batches, Size = size, PositiveFraction = 0.5, Seed = 1 });
        SyntheticChestXRay.WriteImageFolder(Path.Combine(root, "validation"), new SyntheticChestXRayOptions { Count = batch, Size = size, PositiveFraction = 0.5, Seed = 2 });
        var dataset = ImageFolder.Load(Path.Combine(root, "train"));
        var transform = Transforms.Compose(Transforms.ToTensor(), Transforms.Normalize(Preprocessing.ImageNet.Mean, Preprocessing.ImageNet.Std));
        train = new DataLoader(dataset, transform, new LoaderOptions { BatchSize = batch, Workers = 1, CacheShorterSide = size, Seed = 1 });
        validation = new DataLoader(ImageFolder.Load(Path.Combine(root, "validation")), transform, new LoaderOptions { BatchSize = batch, Workers = 1, Sampling = SamplingMode.Sequential });

        // Decoding is the data benchmark's subject, not this one's: fill the cache now.
        foreach (var b in train.GetBatches(0))
        {
            b.Dispose();
        }

        model = Build(depth, Layers.None, dataset.Classes);
    }

    public override void Round()
    {
        var clock = new StepClock();
        model.Fit(train, validation, options with { Progress = clock });
        Steps.AddRange(clock.StepsAfterFirst());
        Faults.AddRange(clock.FaultsAfterFirst());
    }

    public override void Dispose()
    {
        model.Dispose();
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

internal sealed record Row(string Model, string Variant, int Batch, double[] Steps, long[] Faults)
{
    public long MedianFaults => Faults.Order().ElementAt(Faults.Length / 2);

    public double MedianImagesPerSecond
    {
        get
        {
            var sorted = Steps.Order().ToArray();
            double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
            return Batch / median;
        }
    }

    public double MeanImagesPerSecond => Batch / Steps.Average();

    public string Describe() => string.Format(
        CultureInfo.InvariantCulture,
        "{0} {1}: {2:F1} images/s (median step), {3:F1} (mean); steps {4} s; page faults {5}",
        Model,
        Variant,
        MedianImagesPerSecond,
        MeanImagesPerSecond,
        string.Join(" ", Steps.Select(s => s.ToString("F2", CultureInfo.InvariantCulture))),
        string.Join(" ", Faults.Select(f => f.ToString(CultureInfo.InvariantCulture))));
}

/// <summary>Times the Trainer's steps from its per-batch progress reports (reported synchronously on the training thread).</summary>
internal sealed class StepClock : IProgress<TrainingProgress>
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly List<double> batchEnds = new();
    private readonly List<long> batchFaults = new();

    public void Report(TrainingProgress value)
    {
        if (value.Kind == TrainingProgressKind.Batch)
        {
            if (value.Batch == 1)
            {
                batchEnds.Clear();
                batchFaults.Clear();
            }

            batchEnds.Add(clock.Elapsed.TotalSeconds);
            batchFaults.Add(PageFaults.Read());
        }
    }

    /// <summary>Durations of the epoch's steps but the first (a step ends at its report; the first report has no start).</summary>
    public IEnumerable<double> StepsAfterFirst() =>
        Enumerable.Range(1, Math.Max(0, batchEnds.Count - 1)).Select(i => batchEnds[i] - batchEnds[i - 1]);

    /// <summary>Page faults of the same steps.</summary>
    public IEnumerable<long> FaultsAfterFirst() =>
        Enumerable.Range(1, Math.Max(0, batchFaults.Count - 1)).Select(i => batchFaults[i] < 0 ? -1 : batchFaults[i] - batchFaults[i - 1]);
}

internal sealed record Settings(int[] Models, int Batch, int Size, int Threads, int Rounds, int Steps, bool Loader, bool Memory, string Variants, bool DefaultAllocator)
{
    /// <summary>The Trainer rows' options: one constant-rate epoch per round, the allocator as chosen.</summary>
    public TrainingOptions Options => new() { Epochs = 1, Schedule = LearningRateSchedule.Constant(), RetainFreedMemory = !DefaultAllocator };

    /// <summary>Whether the variant with this letter runs (--variants abcde, default all; (a) and (b) always, as the ratios need them).</summary>
    public bool Runs(char letter) => letter is 'a' or 'b' || Variants.Contains(letter, StringComparison.Ordinal);

    public static Settings Parse(string[] args)
    {
        string Value(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        int Int(string name, int fallback) => int.Parse(Value(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        var settings = new Settings(
            Value("--models", "18,50").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
            Int("--batch", 16),
            Int("--size", 224),
            Int("--threads", 2),
            Int("--rounds", 5),
            Int("--steps", 2),
            !args.Contains("--no-loader"),
            args.Contains("--memory"),
            Value("--variants", "abcde"),
            args.Contains("--default-allocator"));
        if (settings.Rounds < 1 || settings.Steps < 1)
        {
            throw new ArgumentException("--rounds and --steps must be at least 1.");
        }

        return settings;
    }
}

/// <summary>The process's minor page faults so far (Linux /proc/self/stat, field 10), or -1 elsewhere.</summary>
internal static class PageFaults
{
    public static long Read()
    {
        try
        {
            string stat = File.ReadAllText("/proc/self/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[7], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return -1;
        }
        catch (UnauthorizedAccessException)
        {
            return -1;
        }
    }

    public static long Since(long start) => start < 0 ? -1 : Read() - start;
}
