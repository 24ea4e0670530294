using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using SixLabors.ImageSharp;
using Xunit;

namespace MedicalTransfer.Tests.Samples
{
    public class ChestXrayPneumoniaSampleTests
    {
        private const string Sample = "ChestXrayPneumonia";

        [Theory]
        [InlineData(new[] { "--depth", "20" }, "--depth must be one of 18, 34, 50, 101, 152; found 20.")]
        [InlineData(new[] { "--freeze", "some" }, "--freeze must be none, all, upto:N (N from 0 to 4) or adaptive; found 'some'.")]
        [InlineData(new[] { "--weights", "onnx", "--depth", "50" }, "--weights onnx is the ML.NET ImageNet ResNet-18")]
        [InlineData(new[] { "--no-such-option" }, "no-such-option")]
        [InlineData(new[] { "--bad-images", "ignore" }, "--bad-images must be fail or skip; found 'ignore'.")]
        public void Main_WrongArguments_PrintsTheErrorAndAOneLineHintAndExits2(string[] arguments, string expected)
        {
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(1), arguments);
            Assert.Equal(2, result.ExitCode);
            var errorLines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, errorLines.Length);
            Assert.StartsWith("error: ", errorLines[0], StringComparison.Ordinal);
            Assert.Contains(expected, errorLines[0], StringComparison.Ordinal);
            Assert.Equal("hint: run with --help to list the options.", errorLines[1].TrimEnd('\r'));
            Assert.DoesNotContain("Usage:", result.Output, StringComparison.Ordinal);
        }

        [Fact]
        public void Main_MissingDataFolder_SaysWhichPathWasExpected()
        {
            string missing = Path.Combine(Path.GetTempPath(), "no-such-chest-xray-" + Guid.NewGuid().ToString("N"));
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(1), "--data", missing);
            Assert.Equal(2, result.ExitCode);
            Assert.Contains($"the folder '{missing}' does not exist", result.Error, StringComparison.Ordinal);
        }

        [Fact]
        public void Main_CorruptTestImage_IsFoundBeforeTraining()
        {
            using var folder = new TestSupport.TempFolder();
            string data = Path.Combine(folder.Path, "data");
            MedicalTransfer.Data.SyntheticChestXRay.WriteImageFolder(data, new MedicalTransfer.Data.SyntheticChestXRayOptions { Count = 60, Size = 48, Seed = 3 });
            // The file the sample's split (seed 42) puts in the test set, cut in half as an interrupted copy leaves it.
            string victim = MedicalTransfer.Data.ImageFolder.Load(data).Split(new MedicalTransfer.Data.SplitOptions { Seed = 42 }).Test.Samples[0].Path;
            byte[] bytes = File.ReadAllBytes(victim);
            File.WriteAllBytes(victim, bytes[..(bytes.Length / 2)]);
            string output = Path.Combine(folder.Path, "report");

            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(3), "--data", data, "--epochs", "1", "--image-size", "64", "--out", output);

            Assert.Equal(1, result.ExitCode);
            Assert.Contains("error: The pre-flight check found 1 unreadable image file of 60", result.Error, StringComparison.Ordinal);
            Assert.Contains(victim + ": Image file '" + victim + "' is a truncated PNG", result.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("epoch 1/1", result.Output, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(output, "model.safetensors")), "nothing was trained");
            Assert.Contains("hint: nothing was trained yet, so there is nothing to resume", result.Error, StringComparison.Ordinal);
            AssertFailed(output, "The pre-flight check found 1 unreadable image file of 60");
        }

        /// <summary>A kept checkpoint, then a resume that fails (a test image broke meanwhile), then one that succeeds.</summary>
        [Fact]
        [Trait("Category", "Slow")] // about 60 s on 2 shared cores
        public void Main_ResumeFailsWithACheckpoint_TheErrorSaysResumeAndTheNextResumeClearsTheFailure()
        {
            using var folder = new TestSupport.TempFolder();
            string data = Path.Combine(folder.Path, "data");
            MedicalTransfer.Data.SyntheticChestXRay.WriteImageFolder(data, new MedicalTransfer.Data.SyntheticChestXRayOptions { Count = 60, Size = 48, Seed = 3 });
            string output = Path.Combine(folder.Path, "report");
            var first = SampleProcess.Run(Sample, TimeSpan.FromMinutes(8), "--data", data, "--epochs", "1", "--image-size", "64", "--batch-size", "8", "--keep-checkpoint", "--out", output);
            Assert.True(first.ExitCode == 0, first.Output + first.Error);
            Assert.True(File.Exists(Path.Combine(output, "checkpoint.mtckpt")), "--keep-checkpoint keeps it");

            string victim = MedicalTransfer.Data.ImageFolder.Load(data).Split(new MedicalTransfer.Data.SplitOptions { Seed = 42 }).Test.Samples[0].Path;
            byte[] bytes = File.ReadAllBytes(victim);
            File.WriteAllBytes(victim, bytes[..(bytes.Length / 2)]);
            var failed = SampleProcess.Run(Sample, TimeSpan.FromMinutes(3), "--resume", output);
            Assert.Equal(1, failed.ExitCode);
            Assert.Contains("error: The pre-flight check found 1 unreadable image file of 60", failed.Error, StringComparison.Ordinal);
            Assert.Contains($"hint: the last checkpoint is {Path.Combine(output, "checkpoint.mtckpt")}; after fixing the cause, continue from it with: dotnet run --project samples/ChestXrayPneumonia -- --resume \"{output}\"", failed.Error, StringComparison.Ordinal);
            AssertFailed(output, "unreadable image");
            Assert.Contains("--resume", File.ReadAllText(Path.Combine(output, "FAILED.txt")), StringComparison.Ordinal);

            File.WriteAllBytes(victim, bytes);
            var resumed = SampleProcess.Run(Sample, TimeSpan.FromMinutes(8), "--resume", output);
            Assert.True(resumed.ExitCode == 0, resumed.Output + resumed.Error);
            Assert.False(File.Exists(Path.Combine(output, "FAILED.txt")), "a complete run removes the failure marker");
            using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "run.json")));
            Assert.Equal("completed", run.RootElement.GetProperty("Status").GetString());
            Assert.Equal(JsonValueKind.Null, run.RootElement.GetProperty("Error").ValueKind);
            Assert.True(File.Exists(Path.Combine(output, "checkpoint.mtckpt")), "the resumed run keeps --keep-checkpoint from run.json");

        }

        [Fact]
        public void Main_ResumeACompletedRun_SaysThereIsNothingToResumeAndTouchesNothing()
        {
            using var folder = new TestSupport.TempFolder();
            string runJson = Path.Combine(folder.Path, "run.json");
            const string Completed = "{\"Settings\":{\"Epochs\":1},\"Started\":\"2026-12-01T10:00:00.0000000Z\",\"Finished\":\"2026-12-01T10:05:00.0000000Z\",\"Status\":\"completed\",\"Error\":null}";
            File.WriteAllText(runJson, Completed);

            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(1), "--resume", folder.Path);

            Assert.Equal(2, result.ExitCode);
            Assert.Contains("completed (finished 2026-12-01T10:05:00.0000000Z) and its checkpoint was deleted, so there is nothing to resume", result.Error, StringComparison.Ordinal);
            Assert.Equal(Completed, File.ReadAllText(runJson));
            Assert.Equal(new[] { runJson }, Directory.GetFiles(folder.Path));
        }

        private static void AssertFailed(string output, string error)
        {
            using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "run.json")));
            Assert.Equal("failed", run.RootElement.GetProperty("Status").GetString());
            Assert.Contains(error, run.RootElement.GetProperty("Error").GetString(), StringComparison.Ordinal);
            string marker = File.ReadAllText(Path.Combine(output, "FAILED.txt"));
            Assert.StartsWith("This run FAILED at ", marker, StringComparison.Ordinal);
            Assert.Contains(error, marker, StringComparison.Ordinal);
        }

        [Fact]
        public void Main_MissingTable_SaysWhichPathWasExpected()
        {
            string missing = Path.Combine(Path.GetTempPath(), "no-such-table-" + Guid.NewGuid().ToString("N") + ".csv");
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(1), "--data", missing);
            Assert.Equal(2, result.ExitCode);
            Assert.Contains($"the table '{missing}' does not exist", result.Error, StringComparison.Ordinal);
        }

        /// <summary>DICOM phantoms in class folders (MONOCHROME1 and MONOCHROME2, 12 bits, a window), one epoch.</summary>
        [Fact]
        [Trait("Category", "Slow")] // about 40 s on 2 shared cores
        public void Main_DicomFolder_TrainsAndExplainsOnTheOriginalImages()
        {
            using var folder = new TestSupport.TempFolder();
            string data = Path.Combine(folder.Path, "dicom");
            MedicalTransfer.Data.SyntheticChestXRay.WriteImageFolder(data, new MedicalTransfer.Data.SyntheticChestXRayOptions { Count = 60, Size = 80, Format = MedicalTransfer.Data.SyntheticImageFormat.Dicom, ImagesPerPatient = 2, Seed = 5 });
            string output = Path.Combine(folder.Path, "report");

            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(8), "--data", data, "--epochs", "1", "--image-size", "64", "--batch-size", "8", "--out", output);

            Assert.True(result.ExitCode == 0, result.Output + result.Error);
            Assert.Contains("Pre-flight check: all 60 images readable", result.Output, StringComparison.Ordinal);
            Assert.True(new FileInfo(Path.Combine(output, "metrics.json")).Length > 0);
            var overlays = Directory.GetFiles(Path.Combine(output, "gradcam"), "*.png");
            Assert.NotEmpty(overlays);
            // Panels (title, original, overlay, colour bar) of the decoded DICOM images.
            Assert.All(overlays, o => Assert.Equal((762, 411), (Image.Identify(o).Width, Image.Identify(o).Height)));
        }

        /// <summary>A CheXpert-style table of DICOM phantoms: the Pneumonia finding on PA images, valid.csv as validation.</summary>
        [Fact]
        [Trait("Category", "Slow")] // about 40 s on 2 shared cores
        public void Main_CheXpertTable_TrainsOnOneFindingAndOneView()
        {
            using var folder = new TestSupport.TempFolder();
            var table = MedicalTransfer.Data.SyntheticChestXRay.WriteCheXpertTable(Path.Combine(folder.Path, "chexpert"), new MedicalTransfer.Data.SyntheticChestXRayOptions { Count = 160, Size = 64, PositiveFraction = 0.5, Format = MedicalTransfer.Data.SyntheticImageFormat.Dicom, Seed = 6 });
            string output = Path.Combine(folder.Path, "report");

            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(8), "--data", table.TrainTable, "--data-root", table.Root, "--view", "PA", "--epochs", "1", "--image-size", "64", "--batch-size", "8", "--out", output);

            Assert.True(result.ExitCode == 0, result.Output + result.Error);
            Assert.Contains("Splits from separate tables", result.Output, StringComparison.Ordinal);
            Assert.Contains("Finding Pneumonia: positive = PNEUMONIA, negative = NORMAL; uncertain and missing left out.", result.Output, StringComparison.Ordinal);
            Assert.Contains("Restricted to view PA.", result.Output, StringComparison.Ordinal);
            using var model = TransferModel.Load(Path.Combine(output, "model.safetensors"), TorchSharp.torch.CPU);
            Assert.Equal(new[] { "NORMAL", "PNEUMONIA" }, model.ClassNames);
            using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "run.json")));
            Assert.Equal("PA", run.RootElement.GetProperty("Settings").GetProperty("View").GetString());
        }

        /// <summary>A scaled-down run (60 phantoms, 64 px, one epoch) must still write the whole report folder.</summary>
        [Fact]
        [Trait("Category", "Slow")] // about 50 s on 2 shared cores
        public void Main_TinySyntheticRun_WritesTheFullReportFolder()
        {
            using var folder = new TestSupport.TempFolder();
            string output = Path.Combine(folder.Path, "report");
            // An empty temp folder: the phantoms are generated in this run, not taken from an earlier one's cache.
            var temp = new System.Collections.Generic.Dictionary<string, string> { ["TMPDIR"] = Directory.CreateDirectory(Path.Combine(folder.Path, "tmp")).FullName };
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(8), temp, "--synthetic-images", "60", "--epochs", "1", "--image-size", "64", "--batch-size", "8", "--out", output);
            Assert.True(result.ExitCode == 0, result.Output + result.Error);
            Assert.Contains("Report: " + output, result.Output, StringComparison.Ordinal);

            // Redirected output: plain progress lines, the phantoms counted, each epoch printed once (not also by the log).
            var outputLines = result.Output.Split('\n');
            Assert.Contains("Generating phantoms: 0 of 60", outputLines.Select(l => l.TrimEnd('\r')));
            Assert.Single(outputLines, l => l.StartsWith("Generating phantoms: 60 of 60 (", StringComparison.Ordinal));
            Assert.Single(outputLines, l => l.StartsWith("epoch 1/1 [", StringComparison.Ordinal));
            Assert.DoesNotContain("Epoch 1: train loss", result.Output, StringComparison.Ordinal);

            foreach (var file in new[] { "metrics.json", "classification_report.txt", "results.txt", "run.json", "history.json", "history.csv", "model.safetensors" })
            {
                Assert.True(new FileInfo(Path.Combine(output, file)).Length > 0, file);
            }

            // Only --resume needs the 187 MB training checkpoint: a complete run deletes it.
            Assert.False(File.Exists(Path.Combine(output, "checkpoint.mtckpt")), "the checkpoint of a complete run is deleted");
            Assert.False(File.Exists(Path.Combine(output, "FAILED.txt")));

            // One decision rule up front, the evaluated epoch named, both matrices labelled; the same text in results.txt.
            string results = File.ReadAllText(Path.Combine(output, "results.txt"));
            Assert.Contains(results.TrimEnd(), result.Output, StringComparison.Ordinal);
            var lines = results.Split('\n');
            Assert.StartsWith("Test set: ", lines[0], StringComparison.Ordinal);
            Assert.Equal("Evaluated weights: epoch 1 of 1, the lowest validation loss (", lines[1][..61]);
            Assert.Matches(@"^Decision rule: PNEUMONIA when P\(PNEUMONIA\) >= 0\.\d+, the operating point \(target sensitivity 0\.9 \(validation\)\) chosen on the validation set and applied unchanged to the test set\.$", lines[2]);
            int headline = results.IndexOf("Confusion matrix at the operating point (the headline", StringComparison.Ordinal);
            int argmax = results.IndexOf("Confusion matrix, argmax", StringComparison.Ordinal);
            Assert.True(headline > 0 && argmax > headline, results);
            Assert.True(results.IndexOf("For reference, argmax", StringComparison.Ordinal) > headline, results);

            foreach (var picture in new[] { "confusion_matrix.png", "confusion_matrix_argmax.png", "roc.png", "pr.png", "reliability.png", "training_curves.png" })
            {
                var info = Image.Identify(Path.Combine(output, picture));
                Assert.True(info.Width >= 400 && info.Height >= 300, $"{picture} is {info.Width}x{info.Height}");
            }

            var overlays = Directory.GetFiles(Path.Combine(output, "gradcam"), "*.png");
            Assert.NotEmpty(overlays);
            Assert.All(overlays, o => Assert.Equal((762, 411), (Image.Identify(o).Width, Image.Identify(o).Height))); // title, original, overlay, colour bar

            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
            Assert.Contains("PNEUMONIA", metrics.RootElement.GetRawText(), StringComparison.Ordinal);
            Assert.Contains("precision", File.ReadAllText(Path.Combine(output, "classification_report.txt")), StringComparison.Ordinal);
            using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "run.json")));
            Assert.Equal(42, run.RootElement.GetProperty("Settings").GetProperty("Seed").GetInt32());
            Assert.Equal("completed", run.RootElement.GetProperty("Status").GetString());
            Assert.True(run.RootElement.GetProperty("Seconds").GetDouble() > 0);

            using var model = TransferModel.Load(Path.Combine(output, "model.safetensors"), TorchSharp.torch.CPU);
            Assert.Equal(new[] { "NORMAL", "PNEUMONIA" }, model.ClassNames);
            Assert.Equal(64, model.Preprocessing.CropSize);
        }
    }
}
