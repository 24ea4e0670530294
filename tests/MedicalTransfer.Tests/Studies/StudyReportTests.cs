using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
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
    /// The study report (MedicalTransfer.Reporting) written from a real cross-validation (the shared
    /// <see cref="StudyFixture"/> run, which is why these tests live beside the cross-validation tests) with
    /// subgroups, an external site and model comparisons, and rendered in headless Chromium.
    /// </summary>
    [Collection(TrainingCollection.Name)]
    public sealed class StudyReportTests
    {
        private static readonly Regex EmbeddedPng = new("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"", RegexOptions.CultureInvariant);

        /// <summary>A report with every section, written once for the tests of this class.</summary>
        private static readonly Lazy<(StudyReportFiles Files, CrossValidationResult Result)> Written = new(WriteFullReport);

        private static (StudyReportFiles, CrossValidationResult) WriteFullReport()
        {
            var shared = StudyFixture.Instance;
            var result = shared.Straight.Result;
            var options = result.Options.Evaluation;
            string positive = options.PositiveClass!;

            // Subgroups: a "site" column from the patient number (a caller-supplied mapping, as a metadata column will be).
            var samples = result.OutOfFoldIndices().Select(i => shared.Data.Samples[i]).ToArray();
            string Site(ImageSample s) => int.Parse(Path.GetFileName(s.Path)[7..11], System.Globalization.CultureInfo.InvariantCulture) % 3 == 0 ? "site A" : "site B";
            var bySite = SubgroupReport.Compute(result.OutOfFold, samples, Site, "acquisition site", options, result.PooledValidation(), minimumPerClass: 10);

            // An "external" set and a comparison: fold 1's and fold 2's models on the kept-apart phantoms.
            using var first = TransferModel.Load(result.Folds[0].ModelPath, CPU);
            using var second = TransferModel.Load(result.Folds[1].ModelPath, CPU);
            var test = new TestSet(shared.Test);
            var a = Evaluator.Predict(first, test);
            var b = Evaluator.Predict(second, test);
            var external = ExternalValidationReport.Create("phantom site 2", a, result.Folds[0].Validation, options);
            var delong = ModelComparison.PairwiseDeLong(new[] { new KeyValuePair<string, Predictions>("fold 1 model", a), new KeyValuePair<string, Predictions>("fold 2 model", b) }, positive);
            var mcnemar = ModelComparison.McNemar(a, b, positive, result.Folds[0].Threshold, result.Folds[1].Threshold, "fold 1 model", "fold 2 model");
            var bootstrap = ModelComparison.PairedBootstrapAuc(a, b, positive, new BootstrapOptions { Resamples = 200 }, "fold 1 model", "fold 2 model");

            string folder = Path.Combine(shared.Folder, "report");
            var files = new StudyReport("Synthetic pneumonia phantoms: tiny ResNet, 3-fold cross-validation")
                .WithDataDescription("Synthetic chest phantoms (SyntheticChestXRay, seed 5), 2 images per patient.")
                .WithCrossValidation(result)
                .WithModel(first, "random initialisation (seed 7)")
                .WithSubgroups(bySite)
                .WithExternalValidation(external)
                .WithComparison(delong)
                .WithComparison(mcnemar)
                .WithComparison(bootstrap)
                .WithNote("A test of the report: phantoms, not patients.")
                .GeneratedAt(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero))
                .Save(folder, "study");
            return (files, result);
        }

        [Fact]
        public void Save_FullStudy_HtmlIsSelfContainedAndEmbedsEveryFigure()
        {
            var (files, _) = Written.Value;
            string html = File.ReadAllText(files.Html);

            // No external resource: no http(s) link, no script, every image inline.
            Assert.DoesNotMatch("(src|href)=\"https?:", html);
            Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
            var figures = Directory.GetFiles(files.Figures, "*.png").OrderBy(f => f, StringComparer.Ordinal).ToArray();
            var embedded = EmbeddedPng.Matches(html).Select(m => Convert.FromBase64String(m.Groups[1].Value)).ToArray();
            Assert.True(figures.Length >= 7, string.Join(", ", figures.Select(Path.GetFileName)));
            Assert.Equal(figures.Length, embedded.Length);
            foreach (var png in embedded)
            {
                var info = Image.Identify(png);
                Assert.True(info.Width >= 600 && info.Height >= 400, $"{info.Width}x{info.Height}");
                Assert.Contains(figures, f => File.ReadAllBytes(f).AsSpan().SequenceEqual(png));
            }

            foreach (var heading in new[] { "Summary", "Data and partitions", "Model", "Training", "Performance", "Calibration", "Clinical usefulness: decision curve", "Subgroups", "External validation", "Comparing models", "Software, seeds and files", "Reporting checklists" })
            {
                Assert.Contains("<h2>" + heading + "</h2>", html, StringComparison.Ordinal);
            }

            Assert.Contains("@media print", html, StringComparison.Ordinal);
        }

        [Fact]
        public void Save_FullStudy_ReportsTheRunsOwnNumbers()
        {
            var (files, result) = Written.Value;
            string html = File.ReadAllText(files.Html);
            string markdown = File.ReadAllText(files.Markdown);
            var c = System.Globalization.CultureInfo.InvariantCulture;

            // Data flow: every fold's held-out images and patients, the test set, the fold assignment's seed.
            Assert.Contains("48 images of 24 patients were dealt into 3 folds", html, StringComparison.Ordinal);
            foreach (var fold in result.Folds)
            {
                Assert.Contains("fold " + (fold.Fold + 1) + "/3: held out", html, StringComparison.Ordinal);
                Assert.Contains("<td class=\"num\">" + fold.HeldOutImages.ToString(c) + " (" + fold.HeldOutPatients.ToString(c) + ")</td>", html, StringComparison.Ordinal);
                Assert.Contains(fold.Calibration!.Temperature.ToString("0.###", c), html, StringComparison.Ordinal);
            }

            Assert.Contains("test set (kept apart)", html, StringComparison.Ordinal);
            var b = result.Pooled.Binary!;
            Assert.Contains(b.RocAuc.ToString("0.000", c), html, StringComparison.Ordinal);
            Assert.Contains(string.Format(c, "{0:0.000}-{1:0.000}", b.RocAucInterval!.Lower, b.RocAucInterval.Upper), html, StringComparison.Ordinal);

            // The pooled metrics also carry intervals from a bootstrap over patients.
            Assert.Contains("95% CI (bootstrap over patients)", html, StringComparison.Ordinal);
            Assert.Contains(string.Format(c, "{0:0.000}-{1:0.000}", result.PatientLevel!.Auc.Lower, result.PatientLevel.Auc.Upper), html, StringComparison.Ordinal);
            Assert.Equal(24, result.PatientLevel.Patients);

            // Calibration before and after, seeds and software versions.
            var before = CalibrationMetrics.Compute(result.OutOfFoldUncalibrated(), "PNEUMONIA");
            var after = CalibrationMetrics.Compute(result.OutOfFold, "PNEUMONIA");
            Assert.Contains("<td class=\"num\">" + before.Brier.ToString("0.0000", c) + "</td><td class=\"num\">" + after.Brier.ToString("0.0000", c) + "</td>", html, StringComparison.Ordinal);
            Assert.Contains("fold assignment (FoldOptions.Seed)", html, StringComparison.Ordinal);
            Assert.Contains("TorchSharp ", html, StringComparison.Ordinal);
            Assert.Contains("Generated 2026-12-01 12:00 UTC", html, StringComparison.Ordinal);

            // Checklists: items the run answers are filled, the rest are listed for the author.
            Assert.Matches("CLAIM: (2[0-9]|1[5-9]) of 42 items filled from the run", html);
            Assert.Matches("TRIPOD\\+AI: (1[0-9]) of 27 items filled from the run", html);
            Assert.Contains("<td class=\"num\">21</td><td>Data partitions</td><td>Level at which partitions are disjoint (image, study, patient, institution).</td><td class=\"filled\">filled: patient</td>", html, StringComparison.Ordinal);
            Assert.Contains("<td class=\"num\">42</td><td>Other information</td><td>Sources of funding and other support; role of funders.</td><td class=\"author\">for the author</td>", html, StringComparison.Ordinal);

            // The Markdown twin says the same and shows the figure files.
            Assert.Contains("48 images of 24 patients were dealt into 3 folds", markdown, StringComparison.Ordinal);
            foreach (var figure in Directory.GetFiles(files.Figures, "*.png"))
            {
                Assert.Contains("](" + Path.GetFileName(files.Figures) + "/" + Path.GetFileName(figure) + ")", markdown, StringComparison.Ordinal);
            }

            Assert.Contains("### By acquisition site (one threshold for all:", markdown, StringComparison.Ordinal);
        }

        [Fact]
        public void Save_FullStudy_RendersInHeadlessChromium()
        {
            var (files, _) = Written.Value;
            string? chromium = new[] { "chromium-headless-shell", "chromium", "chromium-browser" }
                .Select(n => Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, n)).FirstOrDefault(File.Exists))
                .FirstOrDefault(p => p is not null);
            Assert.True(chromium is not null, "Headless Chromium is needed to render the report: apt-get install chromium-headless-shell (.ci/run installs it).");
            string screenshot = Path.Combine(Path.GetDirectoryName(files.Html)!, "screenshot.png");
            var start = new ProcessStartInfo(chromium!) { RedirectStandardError = false, RedirectStandardOutput = false };
            foreach (var argument in new[] { "--no-sandbox", "--headless", "--disable-gpu", "--hide-scrollbars", "--screenshot=" + screenshot, "--window-size=1200,2400", new Uri(files.Html).AbsoluteUri })
            {
                start.ArgumentList.Add(argument);
            }

            using (var process = Process.Start(start)!)
            {
                Assert.True(process.WaitForExit(120_000), "Chromium did not finish in 2 minutes");
                Assert.True(File.Exists(screenshot), "Chromium wrote no screenshot (exit code " + process.ExitCode + ")");
            }

            // A rendered page: mostly white, with text and figures in many rows, not a blank or an error page.
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
