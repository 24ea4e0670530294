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
    /// MEDICALTRANSFER_KEEP_FINDINGS_REPORT=folder the reports are copied there (docs/images/study-report-findings.png is a
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
            Assert.Equal(2, Regex.Matches(html, "data:image/png;base64,").Count);
            Assert.True(File.Exists(Path.Combine(files.Figures, "roc-findings.png")));
            Assert.True(File.Exists(Path.Combine(files.Figures, "calibration-findings.png")));
            Assert.Contains("findings-figures/calibration-findings.png", File.ReadAllText(files.Markdown), StringComparison.Ordinal);
            var (_, _, drawn) = Panels(Path.Combine(files.Figures, "calibration-findings.png"), 3, 2);
            Assert.Equal(new[] { true, true, true, true, false, false }, drawn);
        }
    }
}
