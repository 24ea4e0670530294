using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;
using ScottPlot;

namespace MedicalTransfer.Reporting
{
    /// <summary>
    /// PNG figures of evaluation results, drawn with ScottPlot 5: what a person opens to judge a model
    /// and what goes into a paper's figures.
    /// <code>
    /// Charts.SaveConfusionMatrix(report.ConfusionMatrix, "confusion.png");
    /// Charts.SaveRocCurve(report.Binary!, "roc.png");
    /// </code>
    /// </summary>
    public static class Charts
    {
        /// <summary>
        /// A confusion-matrix heatmap: rows = true class, columns = predicted class, class names on
        /// both axes, each cell with its count and its share of the true class (the row percentage,
        /// so the diagonal reads as per-class recall); colour follows the row percentage.
        /// </summary>
        /// <param name="matrix">The counts.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="options">Size and title; <see langword="null"/> for 640 x 520.</param>
        public static void SaveConfusionMatrix(ConfusionMatrix matrix, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(matrix);
            CheckPath(path);
            options = (options ?? new ChartOptions()).Validate();
            using var plot = ConfusionMatrixPlot(matrix, options);
            Save(plot, path, options);
        }

        internal static Plot ConfusionMatrixPlot(ConfusionMatrix matrix, ChartOptions options)
        {
            int k = matrix.ClassNames.Count;
            var plot = new Plot();
            try
            {
                var colormap = new ScottPlot.Colormaps.Blues();
                for (int i = 0; i < k; i++)
                {
                    int rowTotal = matrix.RowTotal(i);
                    for (int j = 0; j < k; j++)
                    {
                        double share = rowTotal == 0 ? 0 : (double)matrix[i, j] / rowTotal;
                        // Row i is drawn at the top for i = 0, as confusion matrices are printed.
                        double top = k - i, bottom = k - i - 1;
                        var cell = plot.Add.Rectangle(j, j + 1, bottom, top);
                        // ScottPlot's Blues runs from dark to light: a high share is dark.
                        cell.FillColor = colormap.GetColor(0.95 - (0.9 * share));
                        cell.LineColor = Colors.White;
                        cell.LineWidth = 2;
                        var text = plot.Add.Text(
                            string.Format(CultureInfo.InvariantCulture, "{0}\n{1:0.0}%", matrix[i, j], share * 100),
                            j + 0.5,
                            bottom + 0.5);
                        text.LabelAlignment = Alignment.MiddleCenter;
                        text.LabelFontSize = k <= 4 ? 20 : 12;
                        text.LabelBold = i == j;
                        text.LabelFontColor = share > 0.5 ? Colors.White : Colors.Black;
                    }
                }

                var positions = Enumerable.Range(0, k).Select(i => i + 0.5).ToArray();
                plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, matrix.ClassNames.ToArray());
                plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, matrix.ClassNames.Reverse().ToArray());
                plot.Axes.SetLimits(0, k, 0, k);
                plot.HideGrid();
                plot.XLabel("Predicted class");
                plot.YLabel("True class");
                plot.Title(options.Title ?? string.Format(CultureInfo.InvariantCulture, "Confusion matrix (n = {0})", matrix.Total));
                return plot;
            }
            catch
            {
                plot.Dispose();
                throw;
            }
        }

        /// <summary>A ROC curve with its AUC (and interval, when computed) in the legend, the chance diagonal, and the operating point marked.</summary>
        /// <param name="report">Binary metrics with the curve.</param>
        /// <param name="path">The PNG to write.</param>
        /// <param name="options">Size and title.</param>
        public static void SaveRocCurve(BinaryReport report, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(report);
            CheckPath(path);
            options = (options ?? new ChartOptions()).Validate();
            using var plot = RocCurvePlot(report, options);
            Save(plot, path, options);
        }

        internal static Plot RocCurvePlot(BinaryReport report, ChartOptions options)
        {
            string label = report.RocAucInterval is { } ci
                ? string.Format(CultureInfo.InvariantCulture, "{0}: AUC {1:0.000} ({2:0}% CI {3:0.000}-{4:0.000})", report.PositiveClass, report.RocAuc, ci.Level * 100, ci.Lower, ci.Upper)
                : string.Format(CultureInfo.InvariantCulture, "{0}: AUC {1:0.000}", report.PositiveClass, report.RocAuc);
            return RocCurvesPlot(new[] { new CurveSeries(label, report.Roc) }, options, (1 - report.Specificity, report.Sensitivity, report.OperatingPoint.ToString()));
        }

        /// <summary>Several ROC curves on one chart (for example an ensemble and its members), AUC in each legend entry.</summary>
        /// <param name="curves">Labelled curves; the AUC is appended to labels that do not contain "AUC".</param>
        /// <param name="path">The PNG to write.</param>
        /// <param name="options">Size and title.</param>
        public static void SaveRocCurves(IReadOnlyList<CurveSeries> curves, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(curves);
            if (curves.Count == 0)
            {
                throw new ArgumentException("Expected at least one ROC curve; found none.", nameof(curves));
            }

            CheckPath(path);
            options = (options ?? new ChartOptions()).Validate();
            using var plot = RocCurvesPlot(curves, options, null);
            Save(plot, path, options);
        }

        /// <summary>A precision-recall curve (step-wise, as average precision integrates it) with AP in the legend and the positive prevalence as the chance line.</summary>
        /// <param name="report">Binary metrics with the curve.</param>
        /// <param name="path">The PNG to write.</param>
        /// <param name="options">Size and title.</param>
        public static void SavePrecisionRecallCurve(BinaryReport report, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(report);
            CheckPath(path);
            options = (options ?? new ChartOptions()).Validate();
            using var plot = PrecisionRecallPlot(report, options);
            Save(plot, path, options);
        }

        internal static Plot PrecisionRecallPlot(BinaryReport report, ChartOptions options)
        {
            var plot = new Plot();
            try
            {
                var pr = report.PrecisionRecall;
                // Draw as steps from high to low recall: precision is constant between thresholds.
                var xs = new List<double>();
                var ys = new List<double>();
                for (int i = pr.Recalls.Count - 1; i >= 0; i--)
                {
                    if (xs.Count > 0)
                    {
                        xs.Add(pr.Recalls[i]);
                        ys.Add(ys[^1]);
                    }

                    xs.Add(pr.Recalls[i]);
                    ys.Add(pr.Precisions[i]);
                }

                var line = plot.Add.ScatterLine(xs.ToArray(), ys.ToArray());
                line.LineWidth = 2;
                line.LegendText = string.Format(CultureInfo.InvariantCulture, "{0}: AP {1:0.000}", report.PositiveClass, report.AveragePrecision);
                int positives = report.TruePositives + report.FalseNegatives;
                int total = positives + report.TrueNegatives + report.FalsePositives;
                double prevalence = (double)positives / total;
                var chance = plot.Add.Line(0, prevalence, 1, prevalence);
                chance.LinePattern = LinePattern.Dashed;
                chance.Color = Colors.Gray;
                chance.LegendText = string.Format(CultureInfo.InvariantCulture, "chance (prevalence {0:0.000})", prevalence);
                var point = plot.Add.Marker(report.Sensitivity, double.IsNaN(report.Ppv) ? 1 : report.Ppv);
                point.MarkerSize = 10;
                point.Color = Colors.Red;
                point.LegendText = "operating point: " + report.OperatingPoint;
                plot.Axes.SetLimits(-0.02, 1.02, -0.02, 1.02);
                plot.XLabel("Recall (sensitivity)");
                plot.YLabel("Precision (PPV)");
                plot.Title(options.Title ?? "Precision-recall curve");
                plot.ShowLegend(Alignment.LowerLeft);
                return plot;
            }
            catch
            {
                plot.Dispose();
                throw;
            }
        }

        /// <summary>
        /// A reliability diagram: per confidence bin, the accuracy as a bar against the diagonal of
        /// perfect calibration, the gap to the bin's mean confidence shaded (a legend entry of its own), the
        /// bin's image count over each bar, and the ECE in the title.
        /// </summary>
        /// <param name="calibration">Bins and ECE.</param>
        /// <param name="path">The PNG to write.</param>
        /// <param name="options">Size and title.</param>
        public static void SaveReliabilityDiagram(CalibrationReport calibration, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(calibration);
            CheckPath(path);
            options = (options ?? new ChartOptions()).Validate();
            using var plot = ReliabilityPlot(calibration, options);
            Save(plot, path, options);
        }

        /// <summary>The reliability diagram's gap where the model is over-confident (light red).</summary>
        internal static readonly Color OverConfidentGap = Color.FromHex("#FFB3B3");

        /// <summary>The reliability diagram's gap where the model is under-confident (light blue, over the accuracy bar).</summary>
        internal static readonly Color UnderConfidentGap = Color.FromHex("#A9C8E6");

        internal static Plot ReliabilityPlot(CalibrationReport calibration, ChartOptions options)
        {
            var plot = new Plot();
            try
            {
                var bars = new List<Bar>();
                foreach (var bin in calibration.Bins.Where(b => b.Count > 0))
                {
                    double center = (bin.Lower + bin.Upper) / 2, width = bin.Upper - bin.Lower;
                    bars.Add(new Bar { Position = center, Value = bin.Accuracy, Size = width * 0.95, FillColor = Colors.SteelBlue, LineWidth = 0 });
                    // Opaque gap colours: a translucent gap over the accuracy bar (accuracy above confidence) blended into a
                    // third colour the legend did not name.
                    bars.Add(new Bar { Position = center, ValueBase = bin.Accuracy, Value = bin.MeanConfidence, Size = width * 0.95, FillColor = bin.Accuracy > bin.MeanConfidence ? UnderConfidentGap : OverConfidentGap, LineWidth = 0 });
                }

                plot.Add.Bars(bars);
                foreach (var bin in calibration.Bins.Where(b => b.Count > 0))
                {
                    // The bin's image count over its bar: a tall bar of three images is not evidence.
                    var count = plot.Add.Text(string.Format(CultureInfo.InvariantCulture, "n={0}", bin.Count), (bin.Lower + bin.Upper) / 2, Math.Max(bin.Accuracy, bin.MeanConfidence) + 0.01);
                    count.LabelFontSize = 11;
                    count.LabelAlignment = Alignment.LowerCenter;
                }

                var ideal = plot.Add.Line(0, 0, 1, 1);
                ideal.LinePattern = LinePattern.Dashed;
                ideal.Color = Colors.Gray;
                plot.Legend.ManualItems.Add(new LegendItem { LabelText = "accuracy", FillColor = Colors.SteelBlue });
                plot.Legend.ManualItems.Add(new LegendItem { LabelText = "gap: confidence above accuracy", FillColor = OverConfidentGap });
                if (calibration.Bins.Any(b => b.Count > 0 && b.Accuracy > b.MeanConfidence))
                {
                    plot.Legend.ManualItems.Add(new LegendItem { LabelText = "gap: accuracy above confidence", FillColor = UnderConfidentGap });
                }

                plot.Legend.ManualItems.Add(new LegendItem { LabelText = "perfect calibration", LineColor = Colors.Gray, LinePattern = LinePattern.Dashed, LineWidth = 1 });
                // Under the plot, outside the data, so no bar or count can lie beneath it. Inside, even the upper left
                // is free only left of confidence 1/K (K classes), and the legend's share of the width grows as the figure
                // shrinks: a bin of low confidence and high accuracy can rise under it.
                plot.ShowLegend(Edge.Bottom);
                plot.Axes.SetLimits(0, 1, 0, 1.08);
                plot.XLabel("Confidence (probability of the predicted class)");
                plot.YLabel("Accuracy");
                plot.Title(options.Title ?? string.Format(CultureInfo.InvariantCulture, "Reliability diagram (ECE {0:0.000})", calibration.ExpectedCalibrationError));
                return plot;
            }
            catch
            {
                plot.Dispose();
                throw;
            }
        }

        internal static Plot RocCurvesPlot(IReadOnlyList<CurveSeries> curves, ChartOptions options, (double Fpr, double Tpr, string Label)? operatingPoint)
        {
            var plot = new Plot();
            try
            {
                var chance = plot.Add.Line(0, 0, 1, 1);
                chance.LinePattern = LinePattern.Dashed;
                chance.Color = Colors.Gray;
                chance.LegendText = "chance (AUC 0.5)";
                foreach (var series in curves)
                {
                    ArgumentNullException.ThrowIfNull(series);
                    var line = plot.Add.ScatterLine(series.Curve.FalsePositiveRates.ToArray(), series.Curve.TruePositiveRates.ToArray());
                    line.LineWidth = 2;
                    line.LegendText = series.Label.Contains("AUC", StringComparison.Ordinal)
                        ? series.Label
                        : string.Format(CultureInfo.InvariantCulture, "{0} (AUC {1:0.000})", series.Label, series.Curve.Auc);
                }

                if (operatingPoint is { } op && !double.IsNaN(op.Fpr) && !double.IsNaN(op.Tpr))
                {
                    var marker = plot.Add.Marker(op.Fpr, op.Tpr);
                    marker.MarkerSize = 10;
                    marker.Color = Colors.Red;
                    marker.LegendText = string.Format(CultureInfo.InvariantCulture, "operating point ({0}): sens {1:0.000}, spec {2:0.000}", op.Label, op.Tpr, 1 - op.Fpr);
                }

                plot.Axes.SetLimits(-0.02, 1.02, -0.02, 1.02);
                plot.XLabel("False positive rate (1 - specificity)");
                plot.YLabel("True positive rate (sensitivity)");
                plot.Title(options.Title ?? "ROC curve");
                plot.ShowLegend(Alignment.LowerRight);
                return plot;
            }
            catch
            {
                plot.Dispose();
                throw;
            }
        }

        internal static void CheckPath(string path)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(path);
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null && !Directory.Exists(folder))
            {
                throw new DirectoryNotFoundException(string.Format(CultureInfo.InvariantCulture, "Cannot write '{0}': folder '{1}' does not exist. Create it first.", path, folder));
            }
        }

        /// <summary>Renders a chart the caller owns (and disposes) to a PNG.</summary>
        internal static void Save(Plot plot, string path, ChartOptions options)
        {
            // A legend outside the data (ShowLegend(Edge)) measures itself by rendering the legend to an image it never
            // disposes, unless the legend has been rendered before: render it once here, disposed (as TrainingCharts does).
            using (plot.Legend.GetImage())
            {
            }

            byte[] png = plot.GetImageBytes(options.Width, options.Height, ImageFormat.Png);
            AtomicFile.Write(path, png.Length, stream => stream.Write(png));
        }
    }

    /// <summary>A labelled ROC curve for <see cref="Charts.SaveRocCurves"/>.</summary>
    /// <param name="Label">Legend text, for example the model's name.</param>
    /// <param name="Curve">The curve.</param>
    public sealed record CurveSeries(string Label, RocCurve Curve);
}
