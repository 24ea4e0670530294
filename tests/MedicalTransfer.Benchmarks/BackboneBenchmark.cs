using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Benchmarks
{
    /// <summary>
    /// The backbones side by side, and what gray input saves. Usage:
    ///   dotnet run -c Release --project tests/MedicalTransfer.Benchmarks -- --backbones [--batch 8] [--rounds 3] [--threads N]
    ///   dotnet run -c Release --project tests/MedicalTransfer.Benchmarks -- --gray [--images 128] [--rounds 3] [--threads N]
    /// --backbones: parameters, evaluation and training (full fine-tune, AdamW, cross-entropy) images/s at 224x224 for
    /// ResNet-18, ResNet-50, DenseNet-121 and EfficientNet-B0 with a 2-class linear head.
    /// --gray: the loader (the article's training pipeline on 512x512 gray JPEG phantoms, 1 worker) and a ResNet-18,
    /// DenseNet-121 and EfficientNet-B0 training step, each with 3-channel input (the gray image replicated) and with
    /// 1-channel input (TransferBuilder.WithInputChannels(1)).
    /// Variants take turns within each round and the median round is reported, because this project's machines are
    /// shared: the CPU model, its flags and the load average before and after are printed with the table. Images per
    /// CPU-second (this process's CPU time) is the figure to compare on a busy machine; wall-clock rates follow the
    /// load. With --threads 1 it is the single-core figure and free of OpenMP spinning on an oversubscribed machine.
    /// </summary>
    internal static class BackboneBenchmark
    {
        public static int Run(string[] args, Func<string[], string, int, int> intArg, Func<string[], string, string, string> stringArg)
        {
            int rounds = intArg(args, "--rounds", 3);
            int threads = intArg(args, "--threads", 0);
            if (threads > 0)
            {
                torch.set_num_threads(threads);
            }

            PrintMachine();
            if (args.Contains("--backbones"))
            {
                Backbones(intArg(args, "--batch", 8), rounds);
            }

            if (args.Contains("--gray"))
            {
                Gray(intArg(args, "--images", 128), stringArg(args, "--data", Path.Combine(Path.GetTempPath(), "mt-bench")), rounds);
            }

            PrintLoad("after");
            return 0;
        }

        private static readonly (string Name, BackboneArchitecture Architecture)[] Architectures =
        {
            ("ResNet-18", ResNetArchitecture.ForDepth(18)),
            ("ResNet-50", ResNetArchitecture.ForDepth(50)),
            ("DenseNet-121", DenseNetArchitecture.ForDepth(121)),
            ("EfficientNet-B0", EfficientNetArchitecture.ForWidth(0)),
        };

        private static void Backbones(int batch, int rounds)
        {
            var models = Architectures.Select(a => (a.Name, Model: TransferBuilder.From(a.Architecture).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(1).Build())).ToArray();
            var eval = models.ToDictionary(m => m.Name, _ => new List<(double Wall, double Cpu)>());
            var train = models.ToDictionary(m => m.Name, _ => new List<(double Wall, double Cpu)>());
            using var images = torch.randn(batch, 3, 224, 224);
            using var labels = torch.randint(0, 2, new long[] { batch }, dtype: ScalarType.Int64);
            foreach (var (_, model) in models)
            {
                EvalRate(model, images, 1);
                TrainRate(model, images, labels, 1);
            }

            for (int round = 0; round < rounds; round++)
            {
                foreach (var (name, model) in models)
                {
                    eval[name].Add(EvalRate(model, images, 2));
                    train[name].Add(TrainRate(model, images, labels, 2));
                    Console.WriteLine($"  round {round + 1}: {name} eval {eval[name][^1].Wall:F1} img/s ({eval[name][^1].Cpu:F1} per CPU-s), train {train[name][^1].Wall:F1} img/s ({train[name][^1].Cpu:F1} per CPU-s)");
                }
            }

            Console.WriteLine();
            Console.WriteLine($"| backbone | parameters (1000 classes) | features | eval images/s (batch {batch}, 224x224) | eval images per CPU-second | training images/s (batch {batch}, full fine-tune) | training images per CPU-second | default Grad-CAM stage |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---|");
            foreach (var (name, model) in models)
            {
                var a = model.Architecture;
                long head1000 = ((long)a.FeatureCount * 1000) + 1000;
                long parameters = model.Summary().TotalParameters - ((long)a.FeatureCount * 2) - 2 + head1000;
                Console.WriteLine($"| {name} | {parameters:N0} | {a.FeatureCount} | {Median(eval[name].Select(r => r.Wall)):F1} | {Median(eval[name].Select(r => r.Cpu)):F1} | {Median(train[name].Select(r => r.Wall)):F2} | {Median(train[name].Select(r => r.Cpu)):F2} | {a.DefaultCamStage} |");
                model.Dispose();
            }
        }

        private static void Gray(int count, string data, int rounds)
        {
            string root = Path.Combine(data, "jpeg-" + count.ToString(CultureInfo.InvariantCulture));
            if (!Directory.Exists(root))
            {
                SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = count, Size = 512, Format = SyntheticImageFormat.Jpeg, Seed = 1 });
            }

            var dataset = ImageFolder.Load(root);
            var rgb = Preprocessing.ImageNet;
            var gray = new Preprocessing { Mean = new[] { rgb.Mean.Average() }, Std = new[] { rgb.Std.Average() } };
            var loaders = new (string Name, DataLoader Loader)[]
            {
                ("3 channels", new DataLoader(dataset, Transforms.ForTraining(rgb), new LoaderOptions { BatchSize = 32, Workers = 1, Seed = 1 })),
                ("1 channel", new DataLoader(dataset, Transforms.ForTraining(gray), new LoaderOptions { BatchSize = 32, Workers = 1, Seed = 1 })),
            };
            var loaderRates = loaders.ToDictionary(l => l.Name, _ => new List<double>());
            foreach (var (_, loader) in loaders)
            {
                Consume(loader, 0);
            }

            for (int round = 0; round < rounds; round++)
            {
                foreach (var (name, loader) in loaders)
                {
                    TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    int n = Consume(loader, round + 1);
                    loaderRates[name].Add(n / (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
                    Console.WriteLine($"  round {round + 1}: loader {name} {loaderRates[name][^1]:F1} images per CPU-second");
                }
            }

            Console.WriteLine();
            Console.WriteLine("| loader (train pipeline, 512x512 gray JPEG, 1 worker, batch 32) | images per CPU-second | batch tensor |");
            Console.WriteLine("|---|---:|---|");
            Console.WriteLine($"| 3 channels (gray replicated) | {Median(loaderRates["3 channels"]):F1} | [32, 3, 224, 224], 19.3 MB |");
            Console.WriteLine($"| 1 channel | {Median(loaderRates["1 channel"]):F1} | [32, 1, 224, 224], 6.4 MB |");

            const int batch = 16;
            using var labels = torch.randint(0, 2, new long[] { batch }, dtype: ScalarType.Int64);
            using var images3 = torch.randn(batch, 3, 224, 224);
            using var images1 = torch.randn(batch, 1, 224, 224);
            Console.WriteLine();
            Console.WriteLine($"| training step (batch {batch}, 224x224, full fine-tune) | 3 channels, images per CPU-second | 1 channel, images per CPU-second | ratio |");
            Console.WriteLine("|---|---:|---:|---:|");
            foreach (var (name, architecture) in Architectures.Where(a => a.Name != "ResNet-50"))
            {
                using var three = TransferBuilder.From(architecture).ForClasses("A", "B").OnDevice(CPU).WithSeed(1).Build();
                using var one = TransferBuilder.From(architecture).WithInputChannels(1).ForClasses("A", "B").OnDevice(CPU).WithSeed(1).Build();
                TrainRate(three, images3, labels, 1);
                TrainRate(one, images1, labels, 1);
                var r3 = new List<double>();
                var r1 = new List<double>();
                for (int round = 0; round < rounds; round++)
                {
                    r3.Add(TrainRate(three, images3, labels, 2).Cpu);
                    r1.Add(TrainRate(one, images1, labels, 2).Cpu);
                    Console.WriteLine($"  round {round + 1}: {name} training, 3 channels {r3[^1]:F2}, 1 channel {r1[^1]:F2} images per CPU-second");
                }

                Console.WriteLine($"| {name} | {Median(r3):F2} | {Median(r1):F2} | {Median(r1) / Median(r3):F3}x |");
            }
        }

        private static (double Wall, double Cpu) EvalRate(TransferModel model, Tensor images, int steps)
        {
            model.eval();
            TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            using (torch.no_grad())
            {
                for (int i = 0; i < steps; i++)
                {
                    using var scope = torch.NewDisposeScope();
                    model.call(images);
                }
            }

            return (images.shape[0] * steps / watch.Elapsed.TotalSeconds, images.shape[0] * steps / (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
        }

        private static (double Wall, double Cpu) TrainRate(TransferModel model, Tensor images, Tensor labels, int steps)
        {
            model.train();
            using var optimizer = torch.optim.AdamW(model.parameters(), lr: 1e-4, weight_decay: 1e-4);
            TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++)
            {
                using var scope = torch.NewDisposeScope();
                optimizer.zero_grad();
                var loss = torch.nn.functional.cross_entropy(model.call(images), labels);
                loss.backward();
                optimizer.step();
            }

            var rate = (images.shape[0] * steps / watch.Elapsed.TotalSeconds, images.shape[0] * steps / (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
            model.zero_grad();
            return rate;
        }

        private static int Consume(DataLoader loader, int epoch)
        {
            int count = 0;
            foreach (Batch batch in loader.GetBatches(epoch))
            {
                using var scope = torch.NewDisposeScope();
                using (batch)
                {
                    count += (int)batch.Images.shape[0];
                }
            }

            return count;
        }

        private static double Median(IEnumerable<double> values)
        {
            var sorted = values.OrderBy(v => v).ToArray();
            if (sorted.Length == 0)
            {
                return double.NaN;
            }

            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        private static void PrintMachine()
        {
            foreach (string line in File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").Where(l => l.StartsWith("model name", StringComparison.Ordinal) || l.StartsWith("flags", StringComparison.Ordinal)).Distinct().Take(2) : Array.Empty<string>())
            {
                Console.WriteLine(line.StartsWith("flags", StringComparison.Ordinal)
                    ? "flags (vector): " + string.Join(" ", line.Split(' ').Where(f => f.StartsWith("avx", StringComparison.Ordinal) || f.StartsWith("amx", StringComparison.Ordinal) || f == "fma" || f.StartsWith("sse4", StringComparison.Ordinal)))
                    : line);
            }

            Console.WriteLine($"{Environment.ProcessorCount} logical cores, {torch.get_num_threads()} torch threads, .NET {Environment.Version}");
            PrintLoad("before");
        }

        private static void PrintLoad(string when)
        {
            if (File.Exists("/proc/loadavg"))
            {
                Console.WriteLine($"load average {when}: {File.ReadAllText("/proc/loadavg").Trim()}");
            }
        }
    }
}
