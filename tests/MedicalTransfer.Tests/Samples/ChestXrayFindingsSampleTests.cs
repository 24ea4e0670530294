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

        /// <summary>
        /// 120 phantoms of 60 patients, 2 folds, 2 epochs, 40 px: the multi-label cross-validation, its tables and the study
        /// report; run again with the same arguments, it reads both folds back instead of training them again.
        /// </summary>
        [Fact]
        [Trait("Category", "Slow")] // about a minute on 2 shared cores
        public void Main_Folds_CrossValidatesWritesTheStudyReportAndReusesCompleteFolds()
        {
            using var folder = new TestSupport.TempFolder();
            string output = Path.Combine(folder.Path, "cv");
            string[] arguments = { "--folds", "2", "--epochs", "2", "--image-size", "40", "--synthetic-images", "120", "--out", output };

            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(15), arguments);

            Assert.True(result.ExitCode == 0, result.Output + result.Error);
            Assert.Contains("[fold 2/2] Epoch 2:", result.Output, StringComparison.Ordinal);
            Assert.Contains("fold 1/2: done; held-out mean AUROC", result.Output, StringComparison.Ordinal);
            Assert.Contains("held-out AUROC per fold", result.Output, StringComparison.Ordinal);
            Assert.Contains("kept-apart test set (", result.Output, StringComparison.Ordinal);
            string html = Path.Combine(output, "study-report.html");
            Assert.Contains("Study report: " + html, result.Output, StringComparison.Ordinal);
            string report = File.ReadAllText(html);
            Assert.Contains("2-fold patient-level cross-validation stratified per finding", report, StringComparison.Ordinal);
            Assert.Contains("Kept-apart test set (", report, StringComparison.Ordinal);
            Assert.Contains("data:image/png;base64,", report, StringComparison.Ordinal);
            Assert.Contains("<h2>Clinical usefulness: decision curve per finding</h2>", report, StringComparison.Ordinal);
            Assert.Contains("<h2>Subgroups per finding</h2>", report, StringComparison.Ordinal);
            Assert.Contains("<h3>By sex</h3>", report, StringComparison.Ordinal);
            Assert.Contains("held-out AUROC per fold", File.ReadAllText(Path.Combine(output, "cross_validation.txt")), StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(output, "cross-validation", "fold-2", "model.safetensors")));

            var again = SampleProcess.Run(Sample, TimeSpan.FromMinutes(5), arguments);

            Assert.True(again.ExitCode == 0, again.Output + again.Error);
            Assert.Contains("fold 1/2: already complete", again.Output, StringComparison.Ordinal);
            Assert.Contains("fold 2/2: already complete", again.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("Epoch 1:", again.Output, StringComparison.Ordinal);
            Assert.Equal(
                Regex.Match(result.Output, @"pooled out-of-fold mean AUROC (\d\.\d+)").Groups[1].Value,
                Regex.Match(again.Output, @"pooled out-of-fold mean AUROC (\d\.\d+)").Groups[1].Value);
        }

        [Fact]
        public void Main_WrongFolds_PrintsOneLineAndUsageAndExits2()
        {
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(1), "--folds", "1");
            Assert.Equal(2, result.ExitCode);
            Assert.Equal("error: --folds must be from 2 to 20; found '1'.", result.Error.Trim());
            Assert.Contains("Usage:", result.Output, StringComparison.Ordinal);
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
