using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using MedicalTransfer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Benchmarks.Training
{
    /// <summary>200 training steps on 32x32 images: live TorchSharp tensors and RSS (after a full GC) every 25 steps.</summary>
    internal static class MemoryBenchmark
    {
        public static void Run()
        {
            string root = Path.Combine(Path.GetTempPath(), "mt-bench-memory-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(root);
            try
            {
                SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = 40, Size = 32, PositiveFraction = 0.5, Seed = 2 });
                var dataset = ImageFolder.Load(root);
                var transform = Transforms.ToTensor();
                using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).WithHead(Head.Mlp(16)).ForClasses(dataset.Classes.ToArray()).OnDevice(CPU).WithSeed(1).Build();
                var train = model.CreateLoader(dataset, transform, new LoaderOptions { BatchSize = 4, Workers = 1, CacheShorterSide = 32 });
                var validation = model.CreateLoader(dataset, transform, new LoaderOptions { BatchSize = 8, Workers = 1, Sampling = SamplingMode.Sequential });
                using var process = Process.GetCurrentProcess();
                int step = 0;
                Console.WriteLine("| step | live tensors | RSS (MiB) |");
                Console.WriteLine("|---:|---:|---:|");
                var progress = new Reporter(p =>
                {
                    if (p.Kind == TrainingProgressKind.Batch && ++step % 25 == 0)
                    {
                        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
                        GC.Collect();
                        GC.WaitForPendingFinalizers();
                        process.Refresh();
                        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1} | {2} |", step, live, process.WorkingSet64 >> 20));
                    }
                });
                model.Fit(train, validation, new TrainingOptions { Epochs = 20, Progress = progress });
            }
            finally
            {
                Directory.Delete(root, recursive: true);
            }
        }

        private sealed class Reporter : IProgress<TrainingProgress>
        {
            private readonly Action<TrainingProgress> action;

            public Reporter(Action<TrainingProgress> action) => this.action = action;

            public void Report(TrainingProgress value) => action(value);
        }
    }
}
