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
    /// Loader throughput (images/s) for the reference article's training pipeline at 224x224 from
    /// 512x512 gray JPEG and 16-bit PNG phantoms, on 1 and 2 worker threads, next to a ResNet-18
    /// training step on the same machine. Usage:
    ///   dotnet run -c Release --project tests/MedicalTransfer.Benchmarks -- [--images N] [--data DIR] [--workers 1,2] [--no-training]
    ///   (--backbones and --gray run BackboneBenchmark instead)
    /// The same files feed bench_pil_torchvision.py, the PIL + torchvision reference.
    /// </summary>
    internal static class Program
    {
        private static int Main(string[] args)
        {
            int images = IntArg(args, "--images", 256);
            string data = StringArg(args, "--data", Path.Combine(Path.GetTempPath(), "mt-bench"));
            int[] workerCounts = StringArg(args, "--workers", "1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            bool training = !args.Contains("--no-training");
            int epochs = IntArg(args, "--epochs", 2);

            if (args.Contains("--dicom"))
            {
                return DicomBenchmark.Run(StringArg(args, "--data", Path.Combine(Path.GetTempPath(), "mt-bench-dicom")), IntArg(args, "--repeat", 30));
            }

            if (args.Contains("--jpeg-decode"))
            {
                return JpegDecodeBenchmark.Run(data, IntArg(args, "--rounds", 5));
            }

            if (args.Contains("--backbones") || args.Contains("--gray"))
            {
                return BackboneBenchmark.Run(args, IntArg, StringArg);
            }

            if (args.Contains("--breakdown"))
            {
                Breakdown(data);
                return 0;
            }

            Console.WriteLine($"MedicalTransfer data benchmark: {Environment.ProcessorCount} logical cores, .NET {Environment.Version}, {images} images per format, {epochs} timed epochs");
            var rows = new List<(string What, double ImagesPerSecond, double ImagesPerCpuSecond)>();
            foreach ((string name, SyntheticImageFormat format) in new[] { ("512x512 JPEG", SyntheticImageFormat.Jpeg), ("512x512 16-bit PNG", SyntheticImageFormat.Png16) })
            {
                string root = Path.Combine(data, format.ToString().ToLowerInvariant());
                if (!Directory.Exists(root))
                {
                    SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = images, Size = 512, Format = format, Seed = 1 });
                }

                ImageDataset dataset = ImageFolder.Load(root);
                foreach (int workers in workerCounts)
                {
                    (double rate, double perCpu) = LoaderRate(dataset, workers, epochs);
                    rows.Add(($"loader, train pipeline, {name}, {workers} worker{(workers == 1 ? string.Empty : "s")}", rate, perCpu));
                    Console.WriteLine($"  {rows[^1].What}: {rate:F0} img/s, {perCpu:F0} img per CPU-s");
                }
            }

            if (training)
            {
                (double rate, double perCpu) = TrainingRate(batch: 32, steps: 4);
                rows.Add(($"ResNet-18 training step (batch 32, 224x224, AdamW, {torch.get_num_threads()} threads)", rate, perCpu));
                Console.WriteLine($"  {rows[^1].What}: {rate:F1} img/s, {perCpu:F1} img per CPU-s");
            }

            Console.WriteLine();
            // Images per CPU-second is the per-core figure; on a shared machine it is also far less
            // sensitive to other processes than wall-clock rates.
            Console.WriteLine("| measurement | images/s (wall) | images per CPU-second |");
            Console.WriteLine("|---|---:|---:|");
            foreach ((string what, double rate, double perCpu) in rows)
            {
                Console.WriteLine($"| {what} | {rate:F1} | {perCpu:F1} |");
            }

            return 0;
        }

        private static (double Wall, double PerCpuSecond) LoaderRate(ImageDataset dataset, int workers, int epochs)
        {
            var loader = new DataLoader(dataset, Transforms.ForTraining(Preprocessing.ImageNet), new LoaderOptions { BatchSize = 32, Workers = workers, PrefetchBatches = 4, Seed = 1 });
            Consume(loader, 0); // warm-up: JIT, pools, file cache
            TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            int count = 0;
            for (int epoch = 1; epoch <= epochs; epoch++)
            {
                count += Consume(loader, epoch);
            }

            double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            return (count / watch.Elapsed.TotalSeconds, count / cpuSeconds);
        }

        /// <summary>CPU milliseconds per image on one worker as the pipeline grows, step by step.</summary>
        private static void Breakdown(string data)
        {
            var pipelines = new (string Name, ImageTransform Transform)[]
            {
                ("decode + CenterCrop(224)", Transforms.CenterCrop(224)),
                ("decode + RandomResizedCrop(224)", Transforms.RandomResizedCrop(224)),
                ("  + flip + rotation", Transforms.Compose(Transforms.RandomResizedCrop(224), Transforms.RandomHorizontalFlip(), Transforms.RandomRotation(10))),
                ("  + color jitter", Transforms.Compose(Transforms.RandomResizedCrop(224), Transforms.RandomHorizontalFlip(), Transforms.RandomRotation(10), Transforms.ColorJitter(0.2, 0.2))),
                ("  + normalize (full train pipeline)", Transforms.ForTraining(Preprocessing.ImageNet)),
            };
            foreach (string folder in new[] { "jpeg", "png16" })
            {
                ImageDataset dataset = ImageFolder.Load(Path.Combine(data, folder));
                foreach ((string name, ImageTransform transform) in pipelines)
                {
                    var loader = new DataLoader(dataset, transform, new LoaderOptions { BatchSize = 32, Workers = 1, Sampling = SamplingMode.Sequential });
                    Consume(loader, 0);
                    TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    int count = Consume(loader, 1);
                    double ms = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / count;
                    Console.WriteLine($"{folder,-6} {name,-40} {ms,6:F2} CPU ms/image");
                }
            }
        }

        private static int Consume(DataLoader loader, int epoch)
        {
            int count = 0;
            foreach (Batch batch in loader.GetBatches(epoch))
            {
                using var scope = torch.NewDisposeScope();
                using (batch)
                {
                    // Creating the tensors is part of the loader's cost.
                    count += (int)batch.Images.shape[0];
                    _ = batch.Labels;
                }
            }

            return count;
        }

        private static (double Wall, double PerCpuSecond) TrainingRate(int batch, int steps)
        {
            using var model = new ResNet(ResNetArchitecture.ForDepth(18), numClasses: 2);
            model.train();
            using var optimizer = torch.optim.AdamW(model.parameters(), lr: 1e-4, weight_decay: 1e-4);
            using var loss = torch.nn.CrossEntropyLoss();
            using Tensor images = torch.randn(batch, 3, 224, 224);
            using Tensor labels = torch.randint(0, 2, new long[] { batch }, dtype: ScalarType.Int64);

            void Step()
            {
                using var scope = torch.NewDisposeScope();
                optimizer.zero_grad();
                Tensor output = loss.forward(model.forward(images), labels);
                output.backward();
                optimizer.step();
            }

            Step(); // warm-up
            TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++)
            {
                Step();
            }

            double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            return (batch * steps / watch.Elapsed.TotalSeconds, batch * steps / cpuSeconds);
        }

        private static int IntArg(string[] args, string name, int fallback) =>
            int.Parse(StringArg(args, name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

        private static string StringArg(string[] args, string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
    }
}
