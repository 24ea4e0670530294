using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Training;
using SkiaSharp;
using Xunit;

namespace MedicalTransfer.Reporting.Tests
{
    /// <summary>
    /// The study report of a multi-label evaluation and its per-finding figures (ROC grid, reliability grid). With
    /// MEDICALTRANSFER_KEEP_FINDINGS_REPORT=folder the reports are copied there (docs/images/study-report-findings.png is a 1200-pixel-wide
    /// chromium-headless-shell screenshot of the one Save_MultiLabelEvaluation_... writes).
    /// </summary>
    public sealed class StudyReportFindingsTests : IDisposable
    {
        internal static readonly string[] Findings = { "Atelectasis", "Cardiomegaly", "Effusion", "Pneumothorax" };
        private readonly string folder = Path.Combine(Path.GetTempPath(), "mt-findings-report-" + Guid.NewGuid().ToString("N"));

        public StudyReportFindingsTests() => Directory.CreateDirectory(folder);

        public void Dispose()
        {
            if (Environment.GetEnvironmentVariable("MEDICALTRANSFER_KEEP_FINDINGS_REPORT") is { } keep && Directory.Exists(folder))
            {
                CopyAll(folder, keep);
            }

            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }

        private static void CopyAll(string from, string to)
        {
            foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            {
                string target = Path.Combine(to, Path.GetRelativePath(from, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target, true);
            }
        }

        /// <summary>Over-confident multi-label predictions (logits scaled by 3) with masked labels and two images per patient.</summary>
        internal static MultiLabelPredictions Make(int n, int seed)
        {
            var random = new Random(seed);
            int f = Findings.Length;
            var p = new double[n * f];
            var y = new bool[n * f];
            var observed = new bool[n * f];
            double[] prevalence = { 0.3, 0.2, 0.35, 0.1 };
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < f; j++)
                {
                    y[(i * f) + j] = random.NextDouble() < prevalence[j];
                    // x ~ N(+-m, 1) has true log-odds 2 m x + log(prior odds); this logit is that times 3 / (2 m) > 1: over-confident, fixed by T = 3 / (2 m).
                    double m = 0.5 * (1 + (0.3 * j));
                    double noise = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                    double z = (3 * ((y[(i * f) + j] ? m : -m) + noise)) + (3 / (2 * m) * Math.Log(prevalence[j] / (1 - prevalence[j])));
                    p[(i * f) + j] = 1 / (1 + Math.Exp(-z));
                    observed[(i * f) + j] = random.NextDouble() > 0.1;
                }
            }

            return new MultiLabelPredictions(Findings, p, y, observed).WithPatients(Enumerable.Range(0, n).Select(i => "p" + (i / 2)).ToArray());
        }

        /// <summary>Whether a region of the PNG holds drawn (non-white) pixels, and the image's size.</summary>
        private static (int Width, int Height, bool[] Drawn) Panels(string png, int columns, int rows)
        {
            using var bitmap = SKBitmap.Decode(png) ?? throw new InvalidOperationException(png + " is not a PNG");
            var drawn = new bool[columns * rows];
            int w = bitmap.Width / columns, h = bitmap.Height / rows;
            for (int k = 0; k < drawn.Length; k++)
            {
                int dark = 0;
                for (int yy = (k / columns) * h; yy < ((k / columns) + 1) * h; yy += 3)
                {
                    for (int xx = (k % columns) * w; xx < ((k % columns) + 1) * w; xx += 3)
                    {
                        var c = bitmap.GetPixel(xx, yy);
                        dark += c.Red + c.Green + c.Blue < 600 ? 1 : 0;
                    }
                }

                drawn[k] = dark > 200;
            }

            return (bitmap.Width, bitmap.Height, drawn);
        }

        [Fact]
        public void SaveRocGrid_FourFindings_ThreeByTwoPanelsEachDrawnAndTheLastEmpty()
        {
            var test = Make(200, 3);
            string path = Path.Combine(folder, "roc.png");

            FindingCharts.SaveRocGrid(test, path, MultiLabelIntervals.Compute(test, new BootstrapOptions { Resamples = 100 }));

            var (width, height, drawn) = Panels(path, 3, 2);
            Assert.Equal(3 * 460, width);
            Assert.Equal(2 * 420, height);
            Assert.Equal(new[] { true, true, true, true, false, false }, drawn);
        }

        [Fact]
        public void SaveDecisionCurveGrid_FourFindings_ThreeByTwoPanelsEachDrawnAndTheLastEmpty()
        {
            var test = Make(200, 3);
            string path = Path.Combine(folder, "decision.png");

            FindingCharts.SaveDecisionCurveGrid(test, path);

            var (width, height, drawn) = Panels(path, 3, 2);
            Assert.Equal(3 * 460, width);
            Assert.Equal(2 * 420, height);
            Assert.Equal(new[] { true, true, true, true, false, false }, drawn);
            Assert.Empty(Directory.GetFiles(folder, "*.tmp*"));
        }

        [Fact]
        public void Save_MultiLabelWithSubgroupsAndExternal_DecisionCurvesSubgroupsAndExternalPerFindingWithChecklistsFilled()
        {
            var c = System.Globalization.CultureInfo.InvariantCulture;
            var validation = Make(300, 1);
            var test = Make(240, 2);
            var external = Make(200, 9);
            var thresholds = FindingThresholds.Choose(validation, FindingThresholdRule.YoudenJ);
            var bootstrap = new BootstrapOptions { Resamples = 100, Seed = 3 };
            var sex = Enumerable.Range(0, test.Count).Select(i => i % 9 == 8 ? null : i % 2 == 0 ? "F" : "M").ToArray();
            var bySex = MultiLabelSubgroupReport.Compute(test, sex, "sex", thresholds, bootstrap, minimumPerClass: 12);
            var siteB = MultiLabelExternalValidationReport.Create("site B", external, test, thresholds, bootstrap);

            var files = new StudyReport("Four findings, with subgroups and site B")
                .WithFindings(test, null, thresholds, null, bootstrap)
                .WithSubgroups(bySex)
                .WithExternalValidation(siteB)
                .Save(folder, "findings-full");

            string html = File.ReadAllText(files.Html);
            string markdown = File.ReadAllText(files.Markdown);
            Assert.Contains("<h2>Clinical usefulness: decision curve per finding</h2>", html, StringComparison.Ordinal);
            Assert.Contains("<h2>Subgroups per finding</h2>", html, StringComparison.Ordinal);
            Assert.Contains("<h2>External validation per finding</h2>", html, StringComparison.Ordinal);
            foreach (string finding in Findings)
            {
                // The decision-curve row: observed labels, prevalence, useful range, and the net benefit at 0.2 of the finding's curve.
                var curve = DecisionCurve.Compute(test, finding);
                var at = curve.Points.Single(p => Math.Abs(p.Threshold - 0.2) < 1e-9);
                Assert.Matches(new Regex("<td>" + finding + "</td><td class=\"num\">" + curve.Count + "</td><td class=\"num\">" + curve.Prevalence.ToString("0.000", c) + "</td><td[^>]*>" + Regex.Escape(curve.UsefulRange()) + "</td><td[^>]*>[^<]*</td><td[^>]*>" + Regex.Escape(at.Model.ToString("0.0000", c) + " / " + at.TreatAll.ToString("0.0000", c)) + "</td>"), html);

                // Every group of the finding, flagged exactly where the counts are below the minimum.
                foreach (var g in bySex.PerFinding[Array.IndexOf(Findings, finding)].Groups)
                {
                    string auc = string.Format(c, "{0:0.000} ({1:0.000}-{2:0.000})", g.Auc, g.AucInterval!.Lower, g.AucInterval.Upper);
                    string row = "<td>" + finding + " (" + thresholds.For(finding).ToString("0.000", c) + ")</td><td>" + g.Group + "</td><td class=\"num\">" + g.Images.ToString(c) + "</td><td class=\"num\">" + g.Positives.ToString(c) + "</td><td class=\"num\">" + (g.Positives / (double)g.Images).ToString("0.000", c) + "</td><td class=\"num\">" + auc + "</td>";
                    Assert.Contains((g.TooSmall ? "<tr class=\"flag\">" : "<tr>") + row, html, StringComparison.Ordinal);
                }

                var e = siteB.PerFinding[Array.IndexOf(Findings, finding)];
                var b = e.External.Binary!;
                Assert.Contains(string.Format(c, "<td>{0}</td><td class=\"num\">{1} / {2}</td><td class=\"num\">{3:0.000} / {4:0.000} ({5:+0.000;-0.000;0.000})</td><td class=\"num\">{6:0.000}</td>", finding, e.Internal!.Predictions.Count, e.External.Predictions.Count, e.InternalPrevalence, e.ExternalPrevalence, e.ExternalPrevalence - e.InternalPrevalence, thresholds.For(finding)), html, StringComparison.Ordinal);
                Assert.Contains(string.Format(c, "<td class=\"num\">{0:0.000} ({1:0.000}-{2:0.000})</td></tr>", b.RocAuc, b.RocAucInterval!.Lower, b.RocAucInterval.Upper), html, StringComparison.Ordinal);
                Assert.Contains(string.Format(c, "<td>{0}</td><td class=\"num\">{1:0.000} ({2:0.000}-{3:0.000})</td><td class=\"num\">{4:0.000} ({5:0.000}-{6:0.000})</td>", finding, b.Sensitivity, b.SensitivityInterval!.Lower, b.SensitivityInterval.Upper, b.Specificity, b.SpecificityInterval!.Lower, b.SpecificityInterval.Upper), html, StringComparison.Ordinal);
            }

            Assert.Contains(bySex.PerFinding.SelectMany(r => r.Groups).Any(g => g.TooSmall) ? "fewer than 12 positives or negatives of the finding" : "never", html, StringComparison.Ordinal);
            Assert.Contains("; decision curve per finding, useful at thresholds: Atelectasis ", html, StringComparison.Ordinal);
            Assert.Contains("filled: per-finding subgroup metrics with intervals by sex", html, StringComparison.Ordinal);
            Assert.Contains("filled: site B: 200 images, AUROC per finding Atelectasis ", html, StringComparison.Ordinal);
            Assert.Contains("External validation on site B (200 images), each finding at its internal threshold", html, StringComparison.Ordinal);

            var figures = Directory.GetFiles(files.Figures, "*.png").Select(Path.GetFileName).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            Assert.Equal(new[] { "calibration-findings.png", "decision-findings.png", "external-calibration-findings-3.png", "roc-findings.png" }, figures);
            Assert.Equal(4, Regex.Matches(html, "data:image/png;base64,").Count);
            Assert.Contains("findings-full-figures/decision-findings.png", markdown, StringComparison.Ordinal);
            Assert.Contains("| Effusion |", markdown, StringComparison.Ordinal);
            var (_, _, drawn) = Panels(Path.Combine(files.Figures, "decision-findings.png"), 3, 2);
            Assert.Equal(new[] { true, true, true, true, false, false }, drawn);
        }

        [Fact]
        public void Save_SingleLabelSubgroupsOnAMultiLabelReport_IsRefusedAndMultiLabelOnesOnASingleLabelReportToo()
        {
            var test = Make(60, 2);
            var binary = new Predictions(new[] { "NORMAL", "PNEUMONIA" }, new[] { 0, 1, 1, 0 }, new[] { new[] { 0.8, 0.2 }, new[] { 0.3, 0.7 }, new[] { 0.4, 0.6 }, new[] { 0.6, 0.4 } });
            var single = SubgroupReport.Compute(binary, new[] { "a", "a", "b", "b" }, "site", new EvaluationOptions { PositiveClass = "PNEUMONIA", Bootstrap = null });

            var ex = Assert.Throws<InvalidOperationException>(() => new StudyReport("x").WithFindings(test, bootstrap: new BootstrapOptions { Resamples = 10 }).WithSubgroups(single).Save(folder, "mixed"));
            Assert.Contains("use MultiLabelSubgroupReport.Compute", ex.Message, StringComparison.Ordinal);
            var multi = MultiLabelSubgroupReport.Compute(test, Enumerable.Repeat("F", 60).ToArray(), "sex", bootstrap: new BootstrapOptions { Resamples = 10 });
            ex = Assert.Throws<InvalidOperationException>(() => new StudyReport("x").WithEvaluation(EvaluationReport.Create(binary)).WithSubgroups(multi).Save(folder, "mixed"));
            Assert.Contains("added to a single-label study report", ex.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(folder, "mixed.html")));
        }

        [Fact]
        public void SaveCalibrationGrid_UncalibratedOfOtherImages_IsRefused_AndIntervalsOfOtherFindingsToo()
        {
            var test = Make(50, 3);
            var other = Make(40, 4);

            var ex = Assert.Throws<ArgumentException>(() => FindingCharts.SaveCalibrationGrid(test, Path.Combine(folder, "c.png"), other));
            Assert.Contains("not of the same images and findings", ex.Message, StringComparison.Ordinal);
            var single = new MultiLabelPredictions(new[] { "Edema" }, new[] { 0.2, 0.8 }, new[] { false, true });
            Assert.Throws<ArgumentException>(() => FindingCharts.SaveRocGrid(test, Path.Combine(folder, "r.png"), MultiLabelIntervals.Compute(single, new BootstrapOptions { Resamples = 10 })));
            Assert.False(File.Exists(Path.Combine(folder, "c.png")));
        }

        [Fact]
        public void Save_MultiLabelEvaluation_PerFindingTableWithIntervalsTemperaturesAndBothGridsEmbedded()
        {
            var validation = Make(300, 1);
            var rawTest = Make(200, 2);
            var temperatures = FindingTemperatureScaling.Fit(validation);
            var thresholds = FindingThresholds.Choose(temperatures.Apply(validation), FindingThresholdRule.YoudenJ);
            var test = temperatures.Apply(rawTest);
            var bootstrap = new BootstrapOptions { Resamples = 200, Seed = 3 };

            var files = new StudyReport("Four findings")
                .WithFindings(test, rawTest, thresholds, temperatures, bootstrap)
                .WithTraining(new TrainingOptions { Epochs = 4, PositiveWeights = new[] { 2.3f, 4f, 1.9f, 9f } })
                .Save(folder, "findings");

            string html = File.ReadAllText(files.Html);
            var intervals = MultiLabelIntervals.Compute(test, bootstrap);
            Assert.True(intervals.PatientLevel);
            Assert.Contains("<h2>Performance per finding</h2>", html, StringComparison.Ordinal);
            Assert.Contains("<h2>Calibration per finding</h2>", html, StringComparison.Ordinal);
            Assert.Contains("200 resamples of whole patients", html, StringComparison.Ordinal);
            Assert.Contains("binary cross-entropy with logits over the observed labels with positive weights 2.3, 4, 1.9, 9", html, StringComparison.Ordinal);
            foreach (var r in intervals.PerFinding)
            {
                string auroc = string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0:0.000} ({1:0.000}-{2:0.000})", r.Auroc.Estimate, r.Auroc.Lower, r.Auroc.Upper);
                Assert.Matches(new Regex("<td>" + r.Finding + "</td><td[^>]*>" + r.Positives + "</td>.*?<td[^>]*>" + Regex.Escape(auroc) + "</td>"), html);
                Assert.Matches(new Regex("<td>" + r.Finding + "</td><td[^>]*>" + Regex.Escape(temperatures.For(r.Finding).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)) + "</td>"), html);
            }

            // Over-confident logits: every temperature is above 1 and scaling lowers the Brier score of every finding.
            Assert.All(temperatures.Temperatures, t => Assert.True(t > 1, $"temperature {t}"));
            Assert.Equal(3, Regex.Matches(html, "data:image/png;base64,").Count);
            Assert.True(File.Exists(Path.Combine(files.Figures, "roc-findings.png")));
            Assert.True(File.Exists(Path.Combine(files.Figures, "decision-findings.png")));
            Assert.True(File.Exists(Path.Combine(files.Figures, "calibration-findings.png")));
            Assert.Contains("findings-figures/calibration-findings.png", File.ReadAllText(files.Markdown), StringComparison.Ordinal);
            var (_, _, drawn) = Panels(Path.Combine(files.Figures, "calibration-findings.png"), 3, 2);
            Assert.Equal(new[] { true, true, true, true, false, false }, drawn);
        }
    }
}
