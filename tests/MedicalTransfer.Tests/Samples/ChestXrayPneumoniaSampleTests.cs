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
            Assert.All(overlays, o => Assert.Equal(80, Image.Identify(o).Width)); // drawn on the decoded DICOM image
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
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(8), "--synthetic-images", "60", "--epochs", "1", "--image-size", "64", "--batch-size", "8", "--out", output);
            Assert.True(result.ExitCode == 0, result.Output + result.Error);
            Assert.Contains("Report: " + output, result.Output, StringComparison.Ordinal);

            foreach (var file in new[] { "metrics.json", "classification_report.txt", "run.json", "history.json", "history.csv", "model.safetensors" })
            {
                Assert.True(new FileInfo(Path.Combine(output, file)).Length > 0, file);
            }

            foreach (var picture in new[] { "confusion_matrix.png", "roc.png", "pr.png", "reliability.png", "training_curves.png" })
            {
                var info = Image.Identify(Path.Combine(output, picture));
                Assert.True(info.Width >= 400 && info.Height >= 300, $"{picture} is {info.Width}x{info.Height}");
            }

            var overlays = Directory.GetFiles(Path.Combine(output, "gradcam"), "*.png");
            Assert.NotEmpty(overlays);
            Assert.All(overlays, o => Assert.Equal(224, Image.Identify(o).Width)); // the original phantom's size, not the network's 64

            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
            Assert.Contains("PNEUMONIA", metrics.RootElement.GetRawText(), StringComparison.Ordinal);
            Assert.Contains("precision", File.ReadAllText(Path.Combine(output, "classification_report.txt")), StringComparison.Ordinal);
            using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "run.json")));
            Assert.Equal(42, run.RootElement.GetProperty("Settings").GetProperty("Seed").GetInt32());
            Assert.True(run.RootElement.GetProperty("Seconds").GetDouble() > 0);

            using var model = TransferModel.Load(Path.Combine(output, "model.safetensors"), TorchSharp.torch.CPU);
            Assert.Equal(new[] { "NORMAL", "PNEUMONIA" }, model.ClassNames);
            Assert.Equal(64, model.Preprocessing.CropSize);
        }
    }
}
