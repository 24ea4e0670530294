using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;
using MedicalTransfer.Models;
using MedicalTransfer.Training;
using Xunit;
using Xunit.Abstractions;

namespace MedicalTransfer.Tests.Reliability
{
    /// <summary>
    /// Training, evaluation, prediction and Grad-CAM never write into the data folder. They run on a read-only
    /// bind mount of it (root cannot write there either: the kernel refuses with EROFS), and a full listing of
    /// the folder (paths, sizes, modification times, SHA-256) is compared before and after. Where a bind mount
    /// is impossible (not root, no mount permission) the listing comparison alone decides, and the output says so.
    /// </summary>
    [Collection("Fault host")]
    public sealed class ReadOnlyDataTests
    {
        private readonly ITestOutputHelper _output;

        public ReadOnlyDataTests(ITestOutputHelper output)
        {
            _output = output;
        }

        [Fact]
        public void FitEvaluatePredictExplain_OnAReadOnlyDataFolder_WriteNothingThere()
        {
            using var source = new TestSupport.TempFolder();
            using var mountPoint = new TestSupport.TempFolder();
            using var work = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(source.Path, new SyntheticChestXRayOptions { Count = 16, Size = 48, Seed = 18 });
            string before = Listing(source.Path);

            string data = source.Path;
            bool mounted = ReliabilitySupport.Run("mount", "--bind", source.Path, mountPoint.Path).ExitCode == 0;
            if (mounted && ReliabilitySupport.Run("mount", "-o", "remount,ro,bind", mountPoint.Path).ExitCode != 0)
            {
                ReliabilitySupport.Run("umount", mountPoint.Path);
                mounted = false;
            }

            try
            {
                if (mounted)
                {
                    data = mountPoint.Path;
                    Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(data, "probe.txt"), "x")); // the mount really is read-only
                    _output.WriteLine("ran on a read-only bind mount of the data folder, and compared listings");
                }
                else
                {
                    _output.WriteLine("no bind mount possible here (not root or no mount permission): compared full listings with hashes and modification times only");
                }

                RunEverything(data, work.Path);
            }
            finally
            {
                if (mounted)
                {
                    ReliabilitySupport.Run("umount", mountPoint.Path);
                }
            }

            Assert.Equal(before, Listing(source.Path));
        }

        private static void RunEverything(string data, string work)
        {
            DatasetSplits splits = ImageFolder.Load(data).Split(new SplitOptions { TestFraction = 0.25, ValidationFraction = 0.25, Seed = 1 });
            using TransferModel model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithHead(Head.Linear())
                .ForClasses(splits.Train.Classes.ToArray())
                .WithPreprocessing(new Preprocessing { ResizeSize = 40, CropSize = 32 })
                .OnDevice(TorchSharp.torch.CPU)
                .WithSeed(1)
                .Build();
            var loader = new LoaderOptions { BatchSize = 4, Workers = 2, Seed = 1, CacheShorterSide = 40 };
            var train = new DataLoader(splits.Train, Transforms.ForTraining(model.Preprocessing), loader with { DropLast = true });
            var validation = new DataLoader(splits.Validation, Transforms.ForEvaluation(model.Preprocessing), loader with { Sampling = SamplingMode.Sequential });
            model.Fit(train, validation, new TrainingOptions { Epochs = 1, CheckpointPath = Path.Combine(work, "checkpoint.safetensors") });

            var prediction = new PredictionOptions { Loader = loader };
            EvaluationReport report = Evaluator.Evaluate(model, splits.Test, new EvaluationOptions { PositiveClass = splits.Train.Classes[^1] }, Evaluator.Predict(model, splits.Validation, prediction), prediction);
            Assert.Equal(splits.Test.Samples.Count, report.Predictions.Count);

            string[] paths = splits.Test.Samples.Select(s => s.Path).Take(2).ToArray();
            Assert.Equal(2, new GradCam().Explain(model, paths).Count);
            model.Save(Path.Combine(work, "model.safetensors"));
        }

        /// <summary>Every file and folder under <paramref name="root"/>: relative path, size, modification time and SHA-256.</summary>
        private static string Listing(string root) => string.Join(
            Environment.NewLine,
            Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
                .OrderBy(p => p, StringComparer.Ordinal)
                .Select(p => File.Exists(p)
                    ? $"{Path.GetRelativePath(root, p)} {new FileInfo(p).Length} {File.GetLastWriteTimeUtc(p):O} {ReliabilitySupport.Sha256(p)}"
                    : $"{Path.GetRelativePath(root, p)}/ {Directory.GetLastWriteTimeUtc(p):O}"));
    }
}
