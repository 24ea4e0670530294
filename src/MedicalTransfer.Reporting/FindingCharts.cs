using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Evaluation;
using ScottPlot;
using SkiaSharp;

namespace MedicalTransfer.Reporting
{
    /// <summary>
    /// Figures of a multi-label model, one panel per finding in a grid (the CheXNet paper's figure shape): ROC curves with
    /// each finding's AUROC (and bootstrap interval), and reliability diagrams before and after per-finding temperature
    /// scaling, and decision curves. Every panel uses the finding's observed labels only (uncertain and missing left out, as the metrics do).
    /// <code>
    /// var test = model.PredictFindings(splits.Test);
    /// FindingCharts.SaveRocGrid(test, "roc-findings.png", MultiLabelIntervals.Compute(test));
    /// FindingCharts.SaveCalibrationGrid(test, "calibration-findings.png", uncalibratedTest);
    /// FindingCharts.SaveDecisionCurveGrid(test, "decision-findings.png");
    /// </code>
    /// </summary>
    public static class FindingCharts
    {
        /// <summary>A grid of ROC curves, one panel per finding, each with the chance diagonal and its AUROC (with interval when given) in the legend.</summary>
        /// <param name="predictions">Test predictions.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="intervals">Bootstrap intervals of the same predictions, for the legends; <see langword="null"/> for none.</param>
        /// <param name="options">The size of ONE panel (the grid has up to three columns); <see langword="null"/> for 460 x 420.</param>
        /// <exception cref="ArgumentException">The intervals are for other findings.</exception>
        public static void SaveRocGrid(MultiLabelPredictions predictions, string path, MultiLabelIntervals? intervals = null, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(predictions);
            Charts.CheckPath(path);
            if (intervals is not null && !intervals.PerFinding.Select(r => r.Finding).SequenceEqual(predictions.Findings, StringComparer.Ordinal))
            {
                throw new ArgumentException("The intervals are for findings " + string.Join(", ", intervals.PerFinding.Select(r => r.Finding)) + ", the predictions have " + string.Join(", ", predictions.Findings) + ".", nameof(intervals));
            }

            options = (options ?? new ChartOptions { Width = 460, Height = 420 }).Validate();
            SaveGrid(predictions.Findings.Count, path, options, j =>
            {
                var (isPositive, scores) = predictions.Column(j);
                string finding = predictions.Findings[j];
                int positives = isPositive.Count(p => p);
                string title = string.Format(CultureInfo.InvariantCulture, "{0} ({1} pos / {2})", finding, positives, isPositive.Length);
                if (positives == 0 || positives == isPositive.Length)
                {
                    return Empty(title, "AUROC undefined: the observed labels hold one class");
                }

                var curve = RocCurve.Compute(isPositive, scores);
                string label = intervals?.PerFinding[j].Auroc is { } ci && !double.IsNaN(ci.Lower)
                    ? string.Format(CultureInfo.InvariantCulture, "AUC {0:0.000} ({1:0}% CI {2:0.000}-{3:0.000})", curve.Auc, ci.Level * 100, ci.Lower, ci.Upper)
                    : string.Format(CultureInfo.InvariantCulture, "AUC {0:0.000}", curve.Auc);
                return Charts.RocCurvesPlot(new[] { new CurveSeries(label, curve) }, options with { Title = title }, null);
            });
        }

        /// <summary>
        /// A grid of reliability diagrams (10 equal-width bins), one panel per finding: observed fraction positive against
        /// mean predicted probability, with the image count per bin, before and after temperature scaling when both are given.
        /// </summary>
        /// <param name="predictions">Test predictions as reported (calibrated, when the model has finding temperatures).</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="uncalibrated">The same images' predictions before scaling, for a "before" curve; <see langword="null"/> for none.</param>
        /// <param name="options">The size of ONE panel; <see langword="null"/> for 460 x 420.</param>
        /// <exception cref="ArgumentException">The two predictions differ in findings or images.</exception>
        public static void SaveCalibrationGrid(MultiLabelPredictions predictions, string path, MultiLabelPredictions? uncalibrated = null, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(predictions);
            Charts.CheckPath(path);
            if (uncalibrated is not null && (uncalibrated.Count != predictions.Count || !uncalibrated.Findings.SequenceEqual(predictions.Findings, StringComparer.Ordinal)))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "The uncalibrated predictions ({0} images of {1}) are not of the same images and findings as the predictions ({2} images of {3}).", uncalibrated.Count, string.Join(", ", uncalibrated.Findings), predictions.Count, string.Join(", ", predictions.Findings)), nameof(uncalibrated));
            }

            options = (options ?? new ChartOptions { Width = 460, Height = 420 }).Validate();
            SaveGrid(predictions.Findings.Count, path, options, j =>
            {
                var (isPositive, scores) = predictions.Column(j);
                string title = string.Format(CultureInfo.InvariantCulture, "{0} ({1} labels)", predictions.Findings[j], isPositive.Length);
                if (isPositive.Length == 0)
                {
                    return Empty(title, "no observed labels");
                }

                var series = new List<CalibrationSeries>();
                if (uncalibrated is not null)
                {
                    var (before, beforeScores) = uncalibrated.Column(j);
                    series.Add(new CalibrationSeries("before scaling", CalibrationMetrics.Curve(before, beforeScores)));
                }

                series.Add(new CalibrationSeries(uncalibrated is null ? "predictions" : "after scaling", CalibrationMetrics.Curve(isPositive, scores)));
                return StudyCharts.CalibrationPlot(series, options with { Title = title });
            });
        }

        /// <summary>
        /// A grid of decision curves, one panel per finding: net benefit over threshold probabilities 0.01 to 0.99 for the
        /// model, treat-all and treat-none, on the finding's observed labels (<see cref="DecisionCurve.Compute(MultiLabelPredictions, string, double, double, double)"/>).
        /// </summary>
        /// <param name="predictions">Test (or pooled out-of-fold) predictions, calibrated: net benefit reads probabilities as risks.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="options">The size of ONE panel; <see langword="null"/> for 460 x 420.</param>
        /// <remarks>A legend shows the first useful ranges that fit the panel, then "..."; the report's table gives them all (<see cref="DecisionCurve.UsefulRange"/>).</remarks>
        public static void SaveDecisionCurveGrid(MultiLabelPredictions predictions, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(predictions);
            Charts.CheckPath(path);
            options = (options ?? new ChartOptions { Width = 460, Height = 420 }).Validate();
            SaveGrid(predictions.Findings.Count, path, options, j =>
            {
                string finding = predictions.Findings[j];
                var (isPositive, _) = predictions.Column(j);
                string title = string.Format(CultureInfo.InvariantCulture, "{0} ({1} pos / {2})", finding, isPositive.Count(p => p), isPositive.Length);
                if (isPositive.Length == 0)
                {
                    return Empty(title, "no observed labels");
                }

                return StudyCharts.DecisionCurvesPlot(new[] { new KeyValuePair<string, DecisionCurve>("model", DecisionCurve.Compute(predictions, finding)) }, options with { Title = title }, rangeCharacters: 30);
            });
        }

        private static Plot Empty(string title, string message)
        {
            var plot = new Plot();
            var text = plot.Add.Text(message, 0.5, 0.5);
            text.LabelAlignment = Alignment.MiddleCenter;
            text.LabelFontSize = 13;
            plot.Axes.SetLimits(0, 1, 0, 1);
            plot.Title(title);
            return plot;
        }

        /// <summary>Renders one plot per finding and tiles them, up to three per row, into one PNG (written atomically).</summary>
        private static void SaveGrid(int panels, string path, ChartOptions options, Func<int, Plot> panel)
        {
            int columns = Math.Min(3, panels), rows = (panels + columns - 1) / columns;
            using var surface = SKSurface.Create(new SKImageInfo(columns * options.Width, rows * options.Height));
            var canvas = surface.Canvas;
            canvas.Clear(SKColors.White);
            for (int j = 0; j < panels; j++)
            {
                byte[] png;
                using (var plot = panel(j))
                {
                    png = plot.GetImageBytes(options.Width, options.Height, ImageFormat.Png);
                }

                using var bitmap = SKBitmap.Decode(png) ?? throw new InvalidOperationException("ScottPlot's panel did not decode as a PNG.");
                using var image = SKImage.FromBitmap(bitmap);
                canvas.DrawImage(image, SKRect.Create((j % columns) * options.Width, (j / columns) * options.Height, options.Width, options.Height), new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None));
            }

            Figures.WritePng(surface, path);
        }
    }
}
