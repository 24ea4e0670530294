using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Training;
using Xunit;

namespace MedicalTransfer.Reporting.Tests
{
    /// <summary>The study report of a single train/validation/test run (the cross-validation report is tested with a real run in MedicalTransfer.Tests).</summary>
    public sealed class StudyReportSingleRunTests : IDisposable
    {
        private readonly string folder = Path.Combine(Path.GetTempPath(), "mt-study-report-" + Guid.NewGuid().ToString("N"));

        public void Dispose()
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }

        private static Predictions Make(int n, double temperature, int seed)
        {
            var random = new Random(seed);
            var labels = new int[n];
            var rows = new IReadOnlyList<double>[n];
            for (int i = 0; i < n; i++)
            {
                labels[i] = random.NextDouble() < 0.4 ? 1 : 0;
                double z = ((labels[i] == 1 ? 1.0 : -1.0) + (1.3 * (random.NextDouble() - 0.5) * 2)) * temperature;
                double p = 1 / (1 + Math.Exp(-z));
                rows[i] = new[] { 1 - p, p };
            }

            return new Predictions(new[] { "NORMAL", "PNEUMONIA" }, labels, rows);
        }

        [Fact]
        public void Save_SingleRunWithCalibration_WritesEverySectionWithTheRunsNumbers()
        {
            var validation = Make(150, 3, 1);
            var rawTest = Make(200, 3, 2);
            var scaling = TemperatureScaling.Fit(validation);
            var options = new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.YoudenJ, Bootstrap = new BootstrapOptions { Resamples = 200 } };
            var report = EvaluationReport.Create(scaling.Apply(rawTest), options, scaling.Apply(validation));

            var files = new StudyReport("A single run")
                .WithEvaluation(report, scaling.Apply(validation), rawTest)
                .WithTraining(new TrainingOptions { Epochs = 7, Seed = 5 })
                .Save(folder);

            string html = File.ReadAllText(files.Html);
            Assert.Equal(Path.Combine(folder, "study-report.html"), files.Html);
            Assert.Contains("200 test images evaluated once.", html, StringComparison.Ordinal);
            Assert.Contains("7 epochs in one phase.", html, StringComparison.Ordinal);
            Assert.Contains("<h2>Calibration</h2>", html, StringComparison.Ordinal);
            Assert.Contains("<h2>Clinical usefulness: decision curve</h2>", html, StringComparison.Ordinal);
            Assert.Contains("No model was described: call WithModel(model, weights).", html, StringComparison.Ordinal);
            var before = CalibrationMetrics.Compute(rawTest, "PNEUMONIA");
            var after = CalibrationMetrics.Compute(report.Predictions, "PNEUMONIA");
            Assert.Contains("<td class=\"num\">" + before.Brier.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture) + "</td><td class=\"num\">" + after.Brier.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture) + "</td>", html, StringComparison.Ordinal);
            Assert.True(after.ExpectedCalibrationError < before.ExpectedCalibrationError, "the over-confident test predictions are better calibrated after scaling");
            Assert.Contains("training (TrainingOptions.Seed)", html, StringComparison.Ordinal);
            Assert.Equal(Directory.GetFiles(files.Figures, "*.png").Length, Regex.Matches(html, "data:image/png;base64,").Count);
            Assert.True(File.Exists(files.Markdown));
        }

        [Fact]
        public void Save_NoResults_ThrowsSayingWhatToAdd()
        {
            var ex = Assert.Throws<InvalidOperationException>(() => new StudyReport("empty").Save(folder));
            Assert.Equal("A study report needs results: call WithCrossValidation(result), WithEvaluation(report) or WithFindings(predictions) before Save.", ex.Message);
            Assert.False(Directory.Exists(folder));
        }
    }
}
