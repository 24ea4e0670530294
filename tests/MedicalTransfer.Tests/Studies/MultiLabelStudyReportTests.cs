using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using MedicalTransfer.Reporting;
using MedicalTransfer.Studies;
using MedicalTransfer.Tests.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Studies
{
    /// <summary>
    /// The study report of a real multi-label cross-validation (the shared <see cref="FindingsStudyFixture"/> run, which is
    /// why these tests live beside the cross-validation tests rather than in MedicalTransfer.Reporting.Tests), rendered in
    /// headless Chromium. With MEDICALTRANSFER_KEEP_FINDINGS_CV_REPORT=folder the report and its screenshot are copied there.
    /// </summary>
    [Collection(TrainingCollection.Name)]
    public sealed class MultiLabelStudyReportTests
    {
        private static readonly Regex EmbeddedPng = new("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"", RegexOptions.CultureInvariant);

        private static readonly Lazy<(StudyReportFiles Files, MultiLabelCrossValidationResult Result)> Written = new(Write);

        private static (StudyReportFiles, MultiLabelCrossValidationResult) Write()
        {
            var shared = FindingsStudyFixture.Instance;
            var result = shared.Straight.Result;
            using var first = TransferModel.Load(result.Folds[0].ModelPath, CPU);
            var files = new StudyReport("Synthetic multi-label phantoms: tiny ResNet, 3-fold cross-validation")
                .WithDataDescription("Synthetic chest phantoms with four findings (SyntheticChestXRay.WriteFindingsTable, seed 5), 2 images per patient; uncertain and missing labels as in CheXpert.")
                .WithCrossValidation(result)
                .WithModel(first, "random initialisation (seed 7)")
                .GeneratedAt(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero))
                .Save(Path.Combine(shared.Folder, "report"), "findings-cv");
            return (files, result);
        }

        [Fact]
        public void Save_MultiLabelCrossValidation_ReportsFoldsPooledIntervalsAndTestFromTheRun()
        {
            var (files, result) = Written.Value;
            string html = File.ReadAllText(files.Html);
            string markdown = File.ReadAllText(files.Markdown);
            var c = CultureInfo.InvariantCulture;

            // Data flow per fold, with each finding's positives.
            Assert.Contains("72 images of 36 patients were dealt into 3 folds", html, StringComparison.Ordinal);
            Assert.Contains("stratified per finding", html, StringComparison.Ordinal);
            foreach (var fold in result.Folds)
            {
                var split = result.Assignment.Split(fold.Fold);
                Assert.Contains("<td>" + fold.Name + ": held out</td>" + string.Concat(split.HeldOut.Images.Statistics.Counts.Select(n => "<td class=\"num\">" + n.ToString(c) + "</td>")), html, StringComparison.Ordinal);

                // The per-fold table: held-out images (patients), best epoch and each finding's AUROC.
                Assert.Contains("<td>" + fold.Name + "</td><td class=\"num\">" + fold.HeldOutImages.ToString(c) + " (" + fold.HeldOutPatients.ToString(c) + ")</td><td class=\"num\">" + fold.BestEpoch.ToString(c) + "</td>" + string.Concat(fold.Report.PerFinding.Select(r => "<td class=\"num\">" + r.Auroc.ToString("0.000", c) + "</td>")), html, StringComparison.Ordinal);
            }

            Assert.Contains("test set (kept apart)", html, StringComparison.Ordinal);

            // Mean +/- SD across folds, and the pooled per-finding table with its patient-level intervals.
            foreach (var finding in result.Findings)
            {
                var s = result.AurocAcrossFolds(finding);
                Assert.Contains("<td>AUROC " + finding + "</td><td class=\"num\">" + s.Mean.ToString("0.000", c) + "</td><td class=\"num\">" + s.StandardDeviation.ToString("0.000", c) + "</td>", html, StringComparison.Ordinal);
                var ci = result.Intervals!.PerFinding[result.Findings.ToList().IndexOf(finding)].Auroc;
                Assert.Contains(string.Format(c, "{0:0.000} ({1:0.000}-{2:0.000})", ci.Estimate, ci.Lower, ci.Upper), html, StringComparison.Ordinal);
            }

            Assert.Contains("200 resamples of whole patients", html, StringComparison.Ordinal);
            Assert.Contains("Pooled out-of-fold predictions (every image once)", html, StringComparison.Ordinal);
            Assert.Contains("Kept-apart test set (12 images): ensemble of the 3 fold models", html, StringComparison.Ordinal);
            Assert.Contains("chosen on the pooled out-of-fold predictions", html, StringComparison.Ordinal);

            // Calibration: the folds' median temperature and range per finding (3 folds: the middle one).
            var t = result.Folds.Select(f => f.Calibration!.Temperatures[3]).OrderBy(v => v).ToArray();
            Assert.Contains(string.Format(c, "<td>Pleural Effusion</td><td class=\"num\">{0:0.###} ({1:0.###}-{2:0.###})", t[1], t[0], t[2]), html, StringComparison.Ordinal);

            // The grids of the pooled out-of-fold predictions, embedded.
            var figures = Directory.GetFiles(files.Figures, "*.png").Select(Path.GetFileName).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            Assert.Equal(new[] { "calibration-findings.png", "decision-findings.png", "roc-findings.png" }, figures);
            Assert.Equal(3, EmbeddedPng.Matches(html).Count);

            // Each finding's decision curve on the pooled out-of-fold predictions: its useful range in the table and the checklist.
            Assert.Contains("<h2>Clinical usefulness: decision curve per finding</h2>", html, StringComparison.Ordinal);
            foreach (var finding in result.Findings)
            {
                var curve = MedicalTransfer.Evaluation.DecisionCurve.Compute(result.OutOfFold, finding);
                Assert.Matches(new Regex("<td>" + finding + "</td><td class=\"num\">" + curve.Count.ToString(c) + "</td><td class=\"num\">" + curve.Prevalence.ToString("0.000", c) + "</td><td[^>]*>" + Regex.Escape(curve.UsefulRange()) + "</td>"), html);
            }

            Assert.Contains("; decision curve per finding, useful at thresholds: " + result.Findings[0] + " ", html, StringComparison.Ordinal);

            // Checklists: the partitions, their level, selection and ensembling are filled from the run.
            Assert.Contains("filled: patient</td>", html, StringComparison.Ordinal);
            Assert.Contains("filled: 3-fold cross-validation stratified per finding, seed 4", html, StringComparison.Ordinal);
            Assert.Contains("filled: per fold, the epoch with the best ValidationLoss on the fold&#39;s validation carve (never the held-out fold); per-finding thresholds and temperatures chosen on the same carve", html, StringComparison.Ordinal);
            Assert.Contains("fold assignment (FoldOptions.Seed)", html, StringComparison.Ordinal);
            Assert.Contains("Work folder", html, StringComparison.Ordinal);
            Assert.Contains("72 images of 36 patients were dealt into 3 folds", markdown, StringComparison.Ordinal);
        }

        [Fact]
        public void Save_MultiLabelCrossValidation_RendersInHeadlessChromium()
        {
            var (files, _) = Written.Value;
            string? chromium = new[] { "chromium-headless-shell", "chromium", "chromium-browser" }
                .Select(n => Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, n)).FirstOrDefault(File.Exists))
                .FirstOrDefault(p => p is not null);
            Assert.True(chromium is not null, "Headless Chromium is needed to render the report: apt-get install chromium-headless-shell (.ci/run installs it).");
            string screenshot = Path.Combine(Path.GetDirectoryName(files.Html)!, "findings-cv-screenshot.png");
            var start = new ProcessStartInfo(chromium!) { RedirectStandardError = false, RedirectStandardOutput = false };
            foreach (var argument in new[] { "--no-sandbox", "--headless", "--disable-gpu", "--hide-scrollbars", "--screenshot=" + screenshot, "--window-size=1200,3000", new Uri(files.Html).AbsoluteUri })
            {
                start.ArgumentList.Add(argument);
            }

            using (var process = Process.Start(start)!)
            {
                Assert.True(process.WaitForExit(120_000), "Chromium did not finish in 2 minutes");
                Assert.True(File.Exists(screenshot), "Chromium wrote no screenshot (exit code " + process.ExitCode + ")");
            }

            if (Environment.GetEnvironmentVariable("MEDICALTRANSFER_KEEP_FINDINGS_CV_REPORT") is { Length: > 0 } keep)
            {
                Directory.CreateDirectory(keep);
                foreach (var file in new[] { files.Html, files.Markdown, screenshot })
                {
                    File.Copy(file, Path.Combine(keep, Path.GetFileName(file)), true);
                }
            }

            // A rendered page: text and figures in many rows, not a blank or an error page.
            using var image = Image.Load<Rgb24>(screenshot);
            Assert.Equal(1200, image.Width);
            int rowsWithInk = 0;
            for (int y = 0; y < image.Height; y += 4)
            {
                int dark = 0;
                for (int x = 0; x < image.Width; x += 4)
                {
                    var p = image[x, y];
                    if (p.R + p.G + p.B < 600)
                    {
                        dark++;
                    }
                }

                if (dark > 3)
                {
                    rowsWithInk++;
                }
            }

            Assert.True(rowsWithInk > image.Height / 4 / 3, $"only {rowsWithInk} of {image.Height / 4} sampled rows have ink");
        }
    }
}
