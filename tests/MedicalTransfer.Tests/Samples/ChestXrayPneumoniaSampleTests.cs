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
        public void Main_WrongArguments_PrintsOneLineAndUsageAndExits2(string[] arguments, string expected)
        {
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(1), arguments);
            Assert.Equal(2, result.ExitCode);
            var errorLines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(errorLines);
            Assert.StartsWith("error: ", errorLines[0], StringComparison.Ordinal);
            Assert.Contains(expected, errorLines[0], StringComparison.Ordinal);
            Assert.Contains("Usage:", result.Output, StringComparison.Ordinal);
            Assert.Contains("--data", result.Output, StringComparison.Ordinal);
        }

        [Fact]
        public void Main_MissingDataFolder_SaysWhichPathWasExpected()
        {
            string missing = Path.Combine(Path.GetTempPath(), "no-such-chest-xray-" + Guid.NewGuid().ToString("N"));
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(1), "--data", missing);
            Assert.Equal(2, result.ExitCode);
            Assert.Contains($"the folder '{missing}' does not exist", result.Error, StringComparison.Ordinal);
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
