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
    /// <summary>Every figure must decode as a PNG of the requested size and not be blank.</summary>
    public sealed class ChartsTests : IDisposable
    {
        private readonly string folder = Path.Combine(Path.GetTempPath(), "mt-reporting-" + Guid.NewGuid().ToString("N"));

        public ChartsTests() => Directory.CreateDirectory(folder);

        public void Dispose() => Directory.Delete(folder, recursive: true);

        internal static Predictions Binary()
        {
            // 40 images, scores that separate the classes imperfectly.
            var labels = Enumerable.Range(0, 40).Select(i => i % 3 == 0 ? 0 : 1).ToArray();
            var rows = labels.Select((l, i) =>
            {
                double p = Math.Clamp((l == 1 ? 0.62 : 0.35) + (0.3 * Math.Sin(i * 1.7)), 0.01, 0.99);
                return (IReadOnlyList<double>)new[] { 1 - p, p };
            }).ToArray();
            return new Predictions(new[] { "NORMAL", "PNEUMONIA" }, labels, rows);
        }

        private static SKBitmap Decode(string path)
        {
            Assert.True(File.Exists(path), path + " was not written");
            using (var codec = SKCodec.Create(path))
            {
                Assert.NotNull(codec);
                Assert.Equal(SKEncodedImageFormat.Png, codec.EncodedFormat);
            }

            return SKBitmap.Decode(path);
        }

        /// <summary>Not blank: in the columns given, more than 3% of the pixels are not white and there are more than 10 colours.</summary>
        private static void AssertNotBlank(SKBitmap png, int fromX = 0, int toX = int.MaxValue)
        {
            int inked = 0, total = 0;
            var colours = new HashSet<SKColor>();
            for (int y = 0; y < png.Height; y++)
            {
                for (int x = fromX; x < Math.Min(toX, png.Width); x++)
                {
                    var c = png.GetPixel(x, y);
                    total++;
                    colours.Add(c);
                    if (c.Red < 240 || c.Green < 240 || c.Blue < 240)
                    {
                        inked++;
                    }
                }
            }

            Assert.True(inked > total * 0.03, $"only {inked} of {total} pixels are not white");
            Assert.True(colours.Count > 10, $"only {colours.Count} colours");
        }

        /// <summary>Pixels within a small distance of a colour (anti-aliasing blends the edges of lines and markers).</summary>
        private static int Count(SKBitmap png, ScottPlot.Color colour, int fromX = 0, int toX = int.MaxValue)
        {
            int n = 0;
            for (int y = 0; y < png.Height; y++)
            {
                for (int x = fromX; x < Math.Min(toX, png.Width); x++)
                {
                    var c = png.GetPixel(x, y);
                    if (Math.Abs(c.Red - colour.R) + Math.Abs(c.Green - colour.G) + Math.Abs(c.Blue - colour.B) < 24)
                    {
                        n++;
                    }
                }
            }

            return n;
        }

        private static double Luminance(ScottPlot.Color c) => (0.299 * c.R) + (0.587 * c.G) + (0.114 * c.B);

        /// <summary>Disposes the panels of <see cref="TrainingCharts.Panels"/>.</summary>
        private sealed class PlotList : IDisposable
        {
            public PlotList(System.Collections.Generic.IReadOnlyList<ScottPlot.Plot> panels) => Panels = panels;

            public System.Collections.Generic.IReadOnlyList<ScottPlot.Plot> Panels { get; }

            public void Dispose()
            {
                foreach (var panel in Panels)
                {
                    panel.Dispose();
                }
            }
        }

        [Fact]
        public void SaveConfusionMatrix_ThreeClasses_CellsCarryCountsAndRowSharesAndAxesTheClassNames()
        {
            var matrix = ConfusionMatrix.Compute(new[] { "COVID", "NORMAL", "VIRAL" }, new[] { 0, 0, 1, 1, 2, 2, 2 }, new[] { 0, 1, 1, 1, 2, 0, 2 });
            using (var plot = Charts.ConfusionMatrixPlot(matrix, new ChartOptions()))
            {
                // Row by row from the top: true COVID 1|1|0 of 2, NORMAL 0|2|0 of 2, VIRAL 1|0|2 of 3.
                Assert.Equal(
                    new[] { "1\n50.0%", "1\n50.0%", "0\n0.0%", "0\n0.0%", "2\n100.0%", "0\n0.0%", "1\n33.3%", "0\n0.0%", "2\n66.7%" },
                    plot.GetPlottables<ScottPlot.Plottables.Text>().Select(t => t.LabelText));
                var cells = plot.GetPlottables<ScottPlot.Plottables.Rectangle>().ToArray();
                Assert.Equal(9, cells.Length);
                Assert.True(Luminance(cells[4].FillColor) < Luminance(cells[0].FillColor), "a 100% cell is darker than a 50% one");
                Assert.True(Luminance(cells[0].FillColor) < Luminance(cells[2].FillColor), "a 50% cell is darker than an empty one");
                using (plot.GetImage(640, 520))
                {
                    // ticks are laid out when the chart is rendered
                }

                Assert.Equal(new[] { "COVID", "NORMAL", "VIRAL" }, plot.Axes.Bottom.TickGenerator.Ticks.OrderBy(t => t.Position).Select(t => t.Label));
                Assert.Equal(new[] { "VIRAL", "NORMAL", "COVID" }, plot.Axes.Left.TickGenerator.Ticks.OrderBy(t => t.Position).Select(t => t.Label));
                Assert.Equal("Confusion matrix (n = 7)", plot.Axes.Title.Label.Text);
                Assert.Equal("Predicted class", plot.Axes.Bottom.Label.Text);
                Assert.Equal("True class", plot.Axes.Left.Label.Text);
            }

            string path = Path.Combine(folder, "cm.png");
            Charts.SaveConfusionMatrix(matrix, path, new ChartOptions { Width = 500, Height = 420 });
            using var png = Decode(path);
            Assert.Equal((500, 420), (png.Width, png.Height));
            AssertNotBlank(png);
        }

        [Fact]
        public void SaveRocCurve_WithInterval_DrawsTheCurveChanceLineOperatingPointAndTheirLegend()
        {
            var report = BinaryReport.Compute(Binary(), "PNEUMONIA", bootstrap: new BootstrapOptions { Resamples = 100 });
            ScottPlot.Color curveColour;
            using (var plot = Charts.RocCurvePlot(report, new ChartOptions()))
            {
                var curve = Assert.Single(plot.GetPlottables<ScottPlot.Plottables.Scatter>());
                curveColour = curve.Color;
                Assert.Equal(report.Roc.FalsePositiveRates, curve.Data.GetScatterPoints().Select(p => p.X));
                Assert.Equal(report.Roc.TruePositiveRates, curve.Data.GetScatterPoints().Select(p => p.Y));
                var ci = report.RocAucInterval!;
                Assert.Equal(FormattableString.Invariant($"PNEUMONIA: AUC {report.RocAuc:0.000} (95% CI {ci.Lower:0.000}-{ci.Upper:0.000})"), curve.LegendText);
                var chance = Assert.Single(plot.GetPlottables<ScottPlot.Plottables.LinePlot>());
                Assert.Equal("chance (AUC 0.5)", chance.LegendText);
                Assert.Equal((0.0, 0.0, 1.0, 1.0), (chance.Start.X, chance.Start.Y, chance.End.X, chance.End.Y));
                var marker = Assert.Single(plot.GetPlottables<ScottPlot.Plottables.Marker>());
                Assert.Equal((1 - report.Specificity, report.Sensitivity), (marker.Location.X, marker.Location.Y));
                Assert.StartsWith("operating point (" + report.OperatingPoint + "): sens ", marker.LegendText, StringComparison.Ordinal);
                Assert.Equal("ROC curve", plot.Axes.Title.Label.Text);
                Assert.True(plot.Legend.IsVisible);
            }

            string path = Path.Combine(folder, "roc.png");
            Charts.SaveRocCurve(report, path);
            using var png = Decode(path);
            Assert.Equal((640, 520), (png.Width, png.Height));
            AssertNotBlank(png);
            Assert.True(Count(png, curveColour) > 100, "the ROC curve's colour is drawn");
            Assert.True(Count(png, ScottPlot.Colors.Red) > 20, "the operating point's red marker is drawn");
        }

        [Fact]
        public void SaveRocCurves_Several_OneCurveEachWithItsAucInTheLegend()
        {
            var p = Binary();
            var isPositive = p.Labels.Select(l => l == 1).ToArray();
            var a = RocCurve.Compute(isPositive, p.Scores(1));
            var b = RocCurve.Compute(isPositive, p.Scores(0));
            var series = new[] { new CurveSeries("model A", a), new CurveSeries("model B", b) };
            ScottPlot.Color[] colours;
            using (var plot = Charts.RocCurvesPlot(series, new ChartOptions(), null))
            {
                var curves = plot.GetPlottables<ScottPlot.Plottables.Scatter>().ToArray();
                Assert.Equal(new[] { FormattableString.Invariant($"model A (AUC {a.Auc:0.000})"), FormattableString.Invariant($"model B (AUC {b.Auc:0.000})") }, curves.Select(c => c.LegendText));
                Assert.Equal(b.TruePositiveRates, curves[1].Data.GetScatterPoints().Select(q => q.Y));
                Assert.Empty(plot.GetPlottables<ScottPlot.Plottables.Marker>());
                colours = curves.Select(c => c.Color).ToArray();
                Assert.NotEqual(colours[0], colours[1]);
            }

            string path = Path.Combine(folder, "rocs.png");
            Charts.SaveRocCurves(series, path, new ChartOptions { Width = 300, Height = 300 });
            using var png = Decode(path);
            Assert.Equal((300, 300), (png.Width, png.Height));
            AssertNotBlank(png);
            Assert.All(colours, c => Assert.True(Count(png, c) > 30, "each curve is drawn in its own colour"));
        }

        [Fact]
        public void SavePrecisionRecallCurve_Binary_StepsChanceAtPrevalenceAndOperatingPoint()
        {
            var report = BinaryReport.Compute(Binary(), "PNEUMONIA");
            ScottPlot.Color curveColour;
            using (var plot = Charts.PrecisionRecallPlot(report, new ChartOptions()))
            {
                var curve = Assert.Single(plot.GetPlottables<ScottPlot.Plottables.Scatter>());
                curveColour = curve.Color;
                var points = curve.Data.GetScatterPoints();
                // Every (recall, precision) pair of the curve is a corner of the steps.
                for (int i = 0; i < report.PrecisionRecall.Recalls.Count; i++)
                {
                    Assert.Contains(points, q => q.X == report.PrecisionRecall.Recalls[i] && q.Y == report.PrecisionRecall.Precisions[i]);
                }

                Assert.Equal(FormattableString.Invariant($"PNEUMONIA: AP {report.AveragePrecision:0.000}"), curve.LegendText);
                var chance = Assert.Single(plot.GetPlottables<ScottPlot.Plottables.LinePlot>());
                double prevalence = (report.TruePositives + report.FalseNegatives) / 40.0;
                Assert.Equal((prevalence, prevalence), (chance.Start.Y, chance.End.Y));
                Assert.Equal(FormattableString.Invariant($"chance (prevalence {prevalence:0.000})"), chance.LegendText);
                var marker = Assert.Single(plot.GetPlottables<ScottPlot.Plottables.Marker>());
                Assert.Equal((report.Sensitivity, report.Ppv), (marker.Location.X, marker.Location.Y));
                Assert.Equal("Precision-recall curve", plot.Axes.Title.Label.Text);
            }

            string path = Path.Combine(folder, "pr.png");
            Charts.SavePrecisionRecallCurve(report, path);
            using var png = Decode(path);
            Assert.Equal((640, 520), (png.Width, png.Height));
            AssertNotBlank(png);
            Assert.True(Count(png, curveColour) > 100, "the precision-recall steps are drawn");
        }

        [Fact]
        public void SaveReliabilityDiagram_Binary_BarsPerNonEmptyBinLegendAndEceInTitle()
        {
            var calibration = CalibrationReport.Compute(Binary());
            var bins = calibration.Bins.Where(b => b.Count > 0).ToArray();
            using (var plot = Charts.ReliabilityPlot(calibration, new ChartOptions()))
            {
                var bars = Assert.Single(plot.GetPlottables<ScottPlot.Plottables.BarPlot>()).Bars;
                Assert.Equal(2 * bins.Length, bars.Count);
                Assert.Equal(bins.Select(b => b.Accuracy), bars.Where((_, i) => i % 2 == 0).Select(b => b.Value));
                Assert.Equal(bins.Select(b => b.MeanConfidence), bars.Where((_, i) => i % 2 == 1).Select(b => b.Value));
                Assert.Equal(bins.Select(b => (b.Lower + b.Upper) / 2), bars.Where((_, i) => i % 2 == 0).Select(b => b.Position));
                // One gap colour each way (opaque, so no unnamed blend over the accuracy bar); the second only where a bin needs it.
                bool under = bins.Any(b => b.Accuracy > b.MeanConfidence);
                var gaps = bars.Where((_, i) => i % 2 == 1).Select(b => b.FillColor).ToArray();
                Assert.All(gaps, c => Assert.Equal(255, c.Alpha));
                Assert.Equal(bins.Select(b => b.Accuracy > b.MeanConfidence ? Charts.UnderConfidentGap : Charts.OverConfidentGap), gaps);
                Assert.Equal(new[] { "accuracy", "gap: confidence above accuracy" }.Concat(under ? new[] { "gap: accuracy above confidence" } : Array.Empty<string>()).Append("perfect calibration"), plot.Legend.ManualItems.Select(i => i.LabelText));
                // Each bar carries its bin's image count, just above the taller of its two segments.
                var counts = plot.GetPlottables<ScottPlot.Plottables.Text>().ToArray();
                Assert.Equal(bins.Select(b => FormattableString.Invariant($"n={b.Count}")), counts.Select(t => t.LabelText));
                Assert.Equal(bins.Select(b => Math.Max(b.Accuracy, b.MeanConfidence) + 0.01), counts.Select(t => t.Location.Y));
                Assert.Equal(FormattableString.Invariant($"Reliability diagram (ECE {calibration.ExpectedCalibrationError:0.000})"), plot.Axes.Title.Label.Text);
                // The legend sits in a panel under the plot, outside the data area: it cannot cover a bar or a count.
                Assert.False(plot.Legend.IsVisible);
                Assert.Equal(ScottPlot.Edge.Bottom, Assert.Single(plot.Axes.GetPanels().OfType<ScottPlot.Panels.LegendPanel>()).Edge);
            }

            string path = Path.Combine(folder, "rel.png");
            Charts.SaveReliabilityDiagram(calibration, path);
            using var png = Decode(path);
            Assert.Equal((640, 520), (png.Width, png.Height));
            AssertNotBlank(png);
            Assert.True(Count(png, ScottPlot.Colors.SteelBlue) > 500, "the accuracy bars are drawn");
        }

        [Fact]
        public void SaveTrainingCurves_TwoPhases_LossAccuracyAndAucPanelsWithThePhaseBoundaryAndTheBestEpoch()
        {
            var history = TwoPhaseHistory();
            ScottPlot.Color[][] colours;
            using (var panels = new PlotList(TrainingCharts.Panels(history, new ChartOptions())))
            {
                Assert.Equal(3, panels.Panels.Count);
                var (loss, accuracy, auc) = (panels.Panels[0], panels.Panels[1], panels.Panels[2]);
                var lossLines = loss.GetPlottables<ScottPlot.Plottables.Scatter>().ToArray();
                Assert.Equal(new[] { "train", "validation" }, lossLines.Select(s => s.LegendText));
                Assert.Equal(history.Epochs.Select(e => e.ValidationLoss), lossLines[1].Data.GetScatterPoints().Select(q => q.Y));
                // AUC is not on the accuracy axis any more: its own panel, its own label.
                Assert.Equal(new[] { "train", "validation" }, accuracy.GetPlottables<ScottPlot.Plottables.Scatter>().Select(s => s.LegendText));
                var aucLine = Assert.Single(auc.GetPlottables<ScottPlot.Plottables.Scatter>());
                Assert.Equal("validation AUC", aucLine.LegendText);
                Assert.Equal(history.Epochs.Select(e => e.ValidationAuc!.Value), aucLine.Data.GetScatterPoints().Select(q => q.Y));
                Assert.Equal("ROC AUC", auc.Axes.Left.Label.Text);
                Assert.Equal("Accuracy", accuracy.Axes.Left.Label.Text);
                colours = panels.Panels.Select(p => p.GetPlottables<ScottPlot.Plottables.Scatter>().Select(l => l.Color).ToArray()).ToArray();
                foreach (var panel in panels.Panels)
                {
                    var lines = panel.GetPlottables<ScottPlot.Plottables.VerticalLine>().ToArray();
                    Assert.Equal(2, lines.Length);
                    Assert.Equal((3.5, "phase: fine-tune"), (lines[0].X, lines[0].LegendText));
                    // TwoPhaseHistory's validation loss is 1.2 / epoch: lowest at the last epoch.
                    Assert.Equal((8.0, "best epoch 8 (lowest validation loss)"), (lines[1].X, lines[1].LegendText));
                    var ring = Assert.Single(panel.GetPlottables<ScottPlot.Plottables.Marker>());
                    Assert.Equal(8.0, ring.X);
                    Assert.Equal("Epoch", panel.Axes.Bottom.Label.Text);
                    // The legend sits in a panel under the data area, not over the last epochs' points.
                    Assert.False(panel.Legend.IsVisible);
                    Assert.Single(panel.Axes.GetPanels().OfType<ScottPlot.Panels.LegendPanel>());
                }

                Assert.Equal(history.Epochs[^1].ValidationLoss, panels.Panels[0].GetPlottables<ScottPlot.Plottables.Marker>().Single().Y);
                Assert.Equal("Loss per epoch (phase: head)", loss.Axes.Title.Label.Text);
                Assert.Equal("Validation ROC AUC per epoch", auc.Axes.Title.Label.Text);
            }

            string path = Path.Combine(folder, "training.png");
            TrainingCharts.SaveTrainingCurves(history, path, new ChartOptions { Width = 1200, Height = 400 });
            using var png = Decode(path);
            Assert.Equal((1200, 400), (png.Width, png.Height));
            for (int i = 0; i < 3; i++)
            {
                AssertNotBlank(png, 400 * i, 400 * (i + 1));
                Assert.All(colours[i], c => Assert.True(Count(png, c, 400 * i, 400 * (i + 1)) > 50, $"every series of panel {i} is drawn in its third of the figure"));
            }
        }

        [Fact]
        public void SaveTrainingCurves_NoAuc_TwoPanelsOf600()
        {
            var history = TwoPhaseHistory(auc: false);
            Assert.All(history.Epochs, e => Assert.Null(e.ValidationAuc));
            using (var panels = new PlotList(TrainingCharts.Panels(history, new ChartOptions())))
            {
                Assert.Equal(2, panels.Panels.Count);
            }

            string path = Path.Combine(folder, "training-no-auc.png");
            TrainingCharts.SaveTrainingCurves(history, path);
            using var png = Decode(path);
            Assert.Equal((1200, 480), (png.Width, png.Height));
        }

        internal static TrainingHistory TwoPhaseHistory(bool auc = true)
        {
            string Epoch(int e, int phase, string name) => $$"""{"Epoch":{{e}},"Phase":{{phase}},"PhaseName":"{{name}}","PhaseEpoch":1,"TrainLoss":{{1.0 / e}},"TrainAccuracy":{{0.5 + (0.04 * e)}},"ValidationLoss":{{1.2 / e}},"ValidationAccuracy":{{0.5 + (0.03 * e)}},"ValidationAuc":{{(auc ? (0.6 + (0.03 * e)).ToString(System.Globalization.CultureInfo.InvariantCulture) : "null")}},"LearningRates":[0.001],"Seconds":1,"ImagesPerSecond":10,"Frozen":[]}""";
            return TrainingHistory.FromJson("{\"Epochs\":[" + string.Join(",", Enumerable.Range(1, 8).Select(e => Epoch(e, e <= 3 ? 1 : 2, e <= 3 ? "head" : "fine-tune"))) + "],\"Events\":[]}");
        }

        [Fact]
        public void SaveTrainingCurves_NoEpochs_ThrowsSayingWhatToDo()
        {
            var history = TrainingHistory.FromJson("{\"Epochs\":[],\"Events\":[]}");
            var ex = Assert.Throws<ArgumentException>(() => TrainingCharts.SaveTrainingCurves(history, Path.Combine(folder, "x.png")));
            Assert.Contains("train at least one epoch", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void ExplanationGrid_FiveTiles_TwoRowsOfThree()
        {
            byte[] png = TestImages.SolidPng(60, 40, SKColors.Orange);
            var tiles = Enumerable.Range(0, 5).Select(i => new GridTile(png, new[] { "true: NORMAL", "pred: PNEUMONIA (0.81)" }, i % 2 == 0)).ToArray();
            string path = Path.Combine(folder, "grid.png");
            ExplanationGrid.Save(tiles, path, columns: 3, tileSize: 128);
            using var decoded = Decode(path);
            var (w, h) = (decoded.Width, decoded.Height);
            // 3 columns of 128 + 4 gaps of 8; 2 rows of (128 + caption 2 lines of ceil(11 * 1.3) = 15 + 8) + 3 gaps.
            Assert.Equal((3 * 136) + 8, w);
            Assert.Equal((2 * (128 + 38 + 8)) + 8, h);
            using var bitmap = SKBitmap.Decode(path);
            Assert.Equal(SKColors.Orange, bitmap.GetPixel(8 + 64, 8 + 64));
            // Caption text is drawn: some non-white pixel in the first caption strip.
            bool text = false;
            for (int x = 8; x < 136 && !text; x++)
            {
                for (int y = 8 + 128; y < 8 + 128 + 30 && !text; y++)
                {
                    text = bitmap.GetPixel(x, y) != SKColors.White;
                }
            }

            Assert.True(text, "the caption must be rendered (a font must be installed: fonts-dejavu-core)");
        }

        [Fact]
        public void ExplanationGrid_LongCaption_StaysInsideItsCell()
        {
            byte[] png = TestImages.SolidPng(32, 32, SKColors.Gray);
            var caption = new[] { new string('W', 80) };
            string path = Path.Combine(folder, "long.png");
            ExplanationGrid.Save(new[] { new GridTile(png, caption), new GridTile(png, caption) }, path, columns: 2, tileSize: 64);
            using var bitmap = SKBitmap.Decode(path);
            // The 8-pixel gap between the two cells (x 72..79) stays white in the caption strip.
            for (int y = 8 + 64; y < bitmap.Height; y++)
            {
                for (int x = 8 + 64 + 1; x < 8 + 64 + 8 - 1; x++)
                {
                    Assert.Equal(SKColors.White, bitmap.GetPixel(x, y));
                }
            }
        }

        [Fact]
        public void SaveConfusionMatrix_MissingFolder_ThrowsNamingFolder()
        {
            var matrix = ConfusionMatrix.Compute(new[] { "A", "B" }, new[] { 0, 1 }, new[] { 0, 1 });
            var ex = Assert.Throws<DirectoryNotFoundException>(() => Charts.SaveConfusionMatrix(matrix, Path.Combine(folder, "missing", "cm.png")));
            Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
        }
    }
}
