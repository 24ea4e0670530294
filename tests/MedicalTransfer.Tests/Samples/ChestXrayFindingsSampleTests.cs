using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace MedicalTransfer.Tests.Samples
{
    public class ChestXrayFindingsSampleTests
    {
        private const string Sample = "ChestXrayFindings";

        [Fact]
        public void Main_SyntheticPhantoms_TrainsAndPrintsPerFindingAurocWellAboveChance()
        {
            using var folder = new TestSupport.TempFolder();
            string output = Path.Combine(folder.Path, "report");

            // About 2 CPU-minutes; the limit leaves room for a machine shared with other builds.
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(15), "--epochs", "4", "--image-size", "48", "--out", output);

            Assert.True(result.ExitCode == 0, result.Output + result.Error);
            Assert.Contains("U-Ignore; missing masked", result.Output, StringComparison.Ordinal);
            foreach (var finding in new[] { "Left Opacity", "Right Opacity", "Cardiomegaly", "Pleural Effusion" })
            {
                var row = result.Output.Split('\n').First(l => l.StartsWith(finding + " ", StringComparison.Ordinal) && !l.Contains("Grad-CAM", StringComparison.Ordinal));
                Assert.Matches(@"\d+\s+\d+\s+[01]\.\d{4}", row);
                Assert.Contains("Grad-CAM " + finding + ": p = ", result.Output, StringComparison.Ordinal);
            }

            double mean = double.Parse(Regex.Match(result.Output, @"mean AUROC (\d\.\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(mean > 0.7, "mean AUROC " + mean + "\n" + result.Output);
            Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
            Assert.True(File.Exists(Path.Combine(output, "findings.txt")));
            foreach (var png in new[] { "gradcam-left-opacity.png", "gradcam-right-opacity.png", "gradcam-cardiomegaly.png", "gradcam-pleural-effusion.png", "gradcam-top3.png" })
            {
                var bytes = File.ReadAllBytes(Path.Combine(output, png));
                Assert.True(bytes.Length > 100 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', png + " is not a PNG");
            }

            using var model = TransferModel.Load(Path.Combine(output, "model.safetensors"), TorchSharp.torch.CPU);
            Assert.Equal(TaskKind.MultiLabel, model.TaskKind);
            Assert.NotNull(model.FindingThresholds);
        }

        [Fact]
        public void Main_WrongUncertaintyPolicy_PrintsOneLineAndUsageAndExits2()
        {
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(1), "--uncertainty", "maybe");
            Assert.Equal(2, result.ExitCode);
            Assert.Equal("error: --uncertainty must be ignore, zeros or ones; found 'maybe'.", result.Error.Trim());
            Assert.Contains("Usage:", result.Output, StringComparison.Ordinal);
        }
    }
}
