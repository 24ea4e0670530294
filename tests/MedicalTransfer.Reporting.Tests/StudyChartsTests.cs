using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Training;
using SkiaSharp;
using Xunit;

namespace MedicalTransfer.Reporting.Tests
{
    /// <summary>The study figures decode as PNGs of the requested size, with curves, text and the count histogram drawn.</summary>
    public sealed class StudyChartsTests : IDisposable
    {
        private readonly string folder = Path.Combine(Path.GetTempPath(), "mt-study-charts-" + Guid.NewGuid().ToString("N"));

        public StudyChartsTests() => Directory.CreateDirectory(folder);

        public void Dispose() => Directory.Delete(folder, recursive: true);

        private static Predictions Overconfident()
        {
            var labels = Enumerable.Range(0, 200).Select(i => i % 3 == 0 ? 1 : 0).ToArray();
            var rows = labels.Select((l, i) =>
            {
                double z = (l == 1 ? 1.0 : -1.0) + (1.5 * Math.Sin(i * 2.3));
                double p = 1 / (1 + Math.Exp(-3 * z));
                return (IReadOnlyList<double>)new[] { 1 - p, p };
            }).ToArray();
            return new Predictions(new[] { "NORMAL", "PNEUMONIA" }, labels, rows);
        }

        private static (int Width, int Height, int Colours, int Grey) Inspect(string path)
        {
            Assert.True(File.Exists(path), path + " was not written");
            using var bitmap = SKBitmap.Decode(path);
            Assert.NotNull(bitmap);
            var colours = new HashSet<SKColor>();
            int grey = 0;
            for (int y = 0; y < bitmap.Height; y += 3)
            {
                for (int x = 0; x < bitmap.Width; x += 3)
                {
                    var c = bitmap.GetPixel(x, y);
                    colours.Add(c);
                    if (c.Red == c.Green && c.Green == c.Blue && c.Red is > 200 and < 245)
                    {
                        grey++;
                    }
                }
            }

            return (bitmap.Width, bitmap.Height, colours.Count, grey);
        }

        [Fact]
        public void Shortened_RangesLongerThanAPanelLegend_KeepsTheFirstRangesThatFitAndEndsInDots()
        {
            Assert.Equal("0.03-0.08, 0.18-0.19, ...", StudyCharts.Shortened("0.03-0.08, 0.18-0.19, 0.23-0.38, 0.51-0.55", 30));
            Assert.Equal("0.05-0.62", StudyCharts.Shortened("0.05-0.62", 30));
            Assert.Equal("0.01-0.02, ...", StudyCharts.Shortened("0.01-0.02, 0.05-0.07, 0.09-0.11", 15));
        }

        [Fact]
        public void SaveCalibrationCurves_BeforeAndAfterScaling_PngWithCurvesAndTheCountHistogram()
        {
            var raw = Overconfident();
            var scaling = TemperatureScaling.Fit(raw);
            var before = CalibrationMetrics.Compute(raw, "PNEUMONIA");
            var after = CalibrationMetrics.Compute(scaling.Apply(raw), "PNEUMONIA");
            string path = Path.Combine(folder, "calibration.png");

            StudyCharts.SaveCalibrationCurves(new[] { new CalibrationSeries("before scaling", before.EqualWidth), new CalibrationSeries("after scaling", after.EqualWidth) }, path);

            var (w, h, colours, grey) = Inspect(path);
            Assert.Equal((720, 600), (w, h));
            Assert.True(colours > 20, "two curves, a legend and text have many colours");
            Assert.True(grey > 200, "the histogram of bin counts is drawn in light grey");
            Assert.True(scaling.Temperature > 1.5, "an over-confident model gets a temperature above 1: " + scaling);
            Assert.True(after.ExpectedCalibrationError < before.ExpectedCalibrationError);
        }

        [Fact]
        public void SaveDecisionCurves_ModelAgainstReferences_PngOfRequestedSize()
        {
            var curve = DecisionCurve.Compute(Overconfident(), "PNEUMONIA");
            string path = Path.Combine(folder, "dca.png");
            StudyCharts.SaveDecisionCurves(new[] { new KeyValuePair<string, DecisionCurve>("model", curve) }, path, new ChartOptions { Width = 600, Height = 450 });
            var (w, h, colours, _) = Inspect(path);
            Assert.Equal((600, 450), (w, h));
            Assert.True(colours > 10);
        }

        [Fact]
        public void SaveLearningCurves_TwoFolds_PngOfDefaultSize()
        {
            static TrainingHistory History(double offset) => TrainingHistory.FromJson(
                "{\"Epochs\":[" + string.Join(",", Enumerable.Range(1, 4).Select(e => System.FormattableString.Invariant(
                    $"{{\"Epoch\":{e},\"Phase\":1,\"PhaseName\":\"fit\",\"PhaseEpoch\":{e},\"TrainLoss\":{1.0 / e + offset},\"TrainAccuracy\":0.5,\"ValidationLoss\":{1.2 / e + offset},\"ValidationAccuracy\":0.5,\"ValidationAuc\":null,\"LearningRates\":[0.001],\"Seconds\":1,\"ImagesPerSecond\":10,\"Frozen\":[]}}"))) + "],\"Events\":[]}");
            string path = Path.Combine(folder, "learning.png");
            StudyCharts.SaveLearningCurves(new[] { new KeyValuePair<string, TrainingHistory>("fold 1/2", History(0)), new KeyValuePair<string, TrainingHistory>("fold 2/2", History(0.2)) }, path);
            var (w, h, colours, _) = Inspect(path);
            Assert.Equal((720, 480), (w, h));
            Assert.True(colours > 10);
        }

        [Fact]
        public void SaveCalibrationCurves_NoSeries_ThrowsBeforeWriting()
        {
            string path = Path.Combine(folder, "none.png");
            Assert.Throws<ArgumentException>(() => StudyCharts.SaveCalibrationCurves(Array.Empty<CalibrationSeries>(), path));
            Assert.False(File.Exists(path));
        }
    }
}
