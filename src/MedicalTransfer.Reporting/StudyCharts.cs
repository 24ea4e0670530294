using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Training;
using ScottPlot;

namespace MedicalTransfer.Reporting
{
    /// <summary>A labelled calibration curve for <see cref="StudyCharts.SaveCalibrationCurves"/>.</summary>
    /// <param name="Label">Legend text, for example <c>before scaling</c>.</param>
    /// <param name="Curve">The curve.</param>
    public sealed record CalibrationSeries(string Label, CalibrationCurve Curve);

    /// <summary>The figures of a study: calibration curves with bin counts, decision curves and per-fold learning curves.</summary>
    public static class StudyCharts
    {
        private static readonly Color[] Palette = { Colors.SteelBlue, Colors.OrangeRed, Colors.SeaGreen, Colors.DarkOrchid, Colors.DarkGoldenRod, Colors.Teal, Colors.Crimson, Colors.SlateGray };

        /// <summary>
        /// A reliability diagram of the positive class: per bin, the observed rate of positives against the mean
        /// predicted probability, for each series (for example before and after temperature scaling), the diagonal
        /// of perfect calibration, and the first series' image count per bin as a histogram along the bottom with
        /// the count written above each bar. The legend gives each series' ECE.
        /// </summary>
        /// <param name="series">One or more curves over the same images.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="options">Size and title.</param>
        /// <exception cref="ArgumentException">No series was given.</exception>
        public static void SaveCalibrationCurves(IReadOnlyList<CalibrationSeries> series, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(series);
            if (series.Count == 0)
            {
                throw new ArgumentException("Expected at least one calibration curve; found none.", nameof(series));
            }

            Charts.CheckPath(path);
            options = (options ?? new ChartOptions { Width = 720, Height = 600 }).Validate();
            using var plot = CalibrationPlot(series, options);
            Charts.Save(plot, path, options);
        }

        /// <summary>The reliability diagram of <see cref="SaveCalibrationCurves"/>, as a plot the caller disposes (also a panel of a per-finding grid).</summary>
        internal static Plot CalibrationPlot(IReadOnlyList<CalibrationSeries> series, ChartOptions options)
        {
            var plot = new Plot();
            var first = series[0].Curve;
            int maxCount = Math.Max(1, first.Bins.Max(b => b.Count));
            const double HistogramHeight = 0.22;
            var bars = new List<Bar>();
            foreach (var bin in first.Bins.Where(b => b.Count > 0))
            {
                double height = HistogramHeight * bin.Count / maxCount;
                bars.Add(new Bar { Position = (bin.Lower + bin.Upper) / 2, Value = height, Size = (bin.Upper - bin.Lower) * 0.9, FillColor = Colors.Gray.WithAlpha(0.25), LineWidth = 0 });
                var label = plot.Add.Text(bin.Count.ToString(CultureInfo.InvariantCulture), (bin.Lower + bin.Upper) / 2, height + 0.01);
                label.LabelAlignment = Alignment.LowerCenter;
                label.LabelFontSize = 11;
                label.LabelFontColor = Colors.DimGray;
            }

            plot.Add.Bars(bars);
            var ideal = plot.Add.Line(0, 0, 1, 1);
            ideal.LinePattern = LinePattern.Dashed;
            ideal.Color = Colors.Gray;
            ideal.LegendText = "perfect calibration";
            for (int s = 0; s < series.Count; s++)
            {
                var filled = series[s].Curve.Bins.Where(b => b.Count > 0).ToArray();
                var line = plot.Add.Scatter(filled.Select(b => b.MeanPredicted).ToArray(), filled.Select(b => b.ObservedRate).ToArray());
                line.Color = Palette[s % Palette.Length];
                line.LineWidth = 2;
                line.MarkerSize = 7;
                line.LegendText = string.Format(CultureInfo.InvariantCulture, "{0} (ECE {1:0.000})", series[s].Label, series[s].Curve.ExpectedCalibrationError);
            }

            plot.Legend.ManualItems.Add(new LegendItem { LabelText = string.Format(CultureInfo.InvariantCulture, "images per bin ({0}; max {1})", series[0].Label, maxCount), FillColor = Colors.Gray.WithAlpha(0.25) });
            plot.ShowLegend(Alignment.UpperLeft);
            plot.Axes.SetLimits(-0.01, 1.01, -0.01, 1.01);
            plot.XLabel("Mean predicted probability (bin)");
            plot.YLabel("Observed fraction positive");
            plot.Title(options.Title ?? string.Format(CultureInfo.InvariantCulture, "Calibration ({0} bins, {1})", first.Bins.Count, first.Binning == CalibrationBinning.EqualWidth ? "equal width" : "equal mass"));
            return plot;
        }

        /// <summary>
        /// A decision curve: net benefit over threshold probabilities for the model (and any further models), treat
        /// all and treat none, with the y axis cut where treating everyone's benefit falls far below zero.
        /// </summary>
        /// <param name="curves">Labelled curves over the same images (the first one's references are drawn).</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="options">Size and title.</param>
        public static void SaveDecisionCurves(IReadOnlyList<KeyValuePair<string, DecisionCurve>> curves, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(curves);
            if (curves.Count == 0)
            {
                throw new ArgumentException("Expected at least one decision curve; found none.", nameof(curves));
            }

            Charts.CheckPath(path);
            options = (options ?? new ChartOptions { Width = 720, Height = 520 }).Validate();
            using var plot = DecisionCurvesPlot(curves, options);
            Charts.Save(plot, path, options);
        }

        /// <summary>The decision curve of <see cref="SaveDecisionCurves"/>, as a plot the caller disposes (also a panel of a per-finding grid).</summary>
        /// <param name="curves">Labelled curves over the same images.</param>
        /// <param name="options">Size and title.</param>
        /// <param name="rangeCharacters">The longest useful-range text a legend entry shows; longer ones keep their first ranges and end in ", ..." (a small panel's legend box would cut them off).</param>
        internal static Plot DecisionCurvesPlot(IReadOnlyList<KeyValuePair<string, DecisionCurve>> curves, ChartOptions options, int rangeCharacters = int.MaxValue)
        {
            var plot = new Plot();
            var reference = curves[0].Value;
            var x = reference.Points.Select(p => p.Threshold).ToArray();
            var all = plot.Add.ScatterLine(x, reference.Points.Select(p => p.TreatAll).ToArray());
            all.Color = Colors.Gray;
            all.LineWidth = 2;
            all.LegendText = string.Format(CultureInfo.InvariantCulture, "treat all (prevalence {0:0.000})", reference.Prevalence);
            var none = plot.Add.ScatterLine(x, reference.Points.Select(p => p.TreatNone).ToArray());
            none.Color = Colors.Black;
            none.LineWidth = 2;
            none.LinePattern = LinePattern.Dashed;
            none.LegendText = "treat none";
            for (int c = 0; c < curves.Count; c++)
            {
                var line = plot.Add.ScatterLine(curves[c].Value.Points.Select(p => p.Threshold).ToArray(), curves[c].Value.Points.Select(p => p.Model).ToArray());
                line.Color = Palette[c % Palette.Length];
                line.LineWidth = 2.5f;
                line.LegendText = curves[c].Key + " (useful " + Shortened(curves[c].Value.UsefulRange(), rangeCharacters) + ")";
            }

            double top = Math.Max(reference.Prevalence, curves.Max(c => c.Value.Points.Max(p => p.Model)));
            plot.Axes.SetLimits(0, 1, -0.05 - (0.05 * top), (top * 1.15) + 0.01);
            plot.XLabel("Threshold probability");
            plot.YLabel("Net benefit");
            plot.Title(options.Title ?? string.Format(CultureInfo.InvariantCulture, "Decision curve ({0}, n = {1})", reference.PositiveClass, reference.Count));
            plot.ShowLegend(Alignment.UpperRight);
            return plot;
        }

        /// <summary>The first comma-separated ranges that fit in <paramref name="limit"/> characters, then ", ...".</summary>
        internal static string Shortened(string ranges, int limit)
        {
            if (ranges.Length <= limit)
            {
                return ranges;
            }

            var parts = ranges.Split(", ");
            string kept = parts[0];
            for (int k = 1; k < parts.Length && kept.Length + 2 + parts[k].Length <= limit - 5; k++)
            {
                kept += ", " + parts[k];
            }

            return kept + ", ...";
        }

        /// <summary>Validation loss per epoch of several training runs (for example every cross-validation fold), one line each.</summary>
        /// <param name="histories">Labelled histories.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="options">Size and title.</param>
        public static void SaveLearningCurves(IReadOnlyList<KeyValuePair<string, TrainingHistory>> histories, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(histories);
            if (histories.Count == 0 || histories.All(h => h.Value.Epochs.Count == 0))
            {
                throw new ArgumentException("Expected at least one training history with epochs.", nameof(histories));
            }

            Charts.CheckPath(path);
            options = (options ?? new ChartOptions { Width = 720, Height = 480 }).Validate();
            var plot = new Plot();
            for (int h = 0; h < histories.Count; h++)
            {
                var epochs = histories[h].Value.Epochs;
                var color = Palette[h % Palette.Length];
                var validation = plot.Add.Scatter(epochs.Select(e => (double)e.Epoch).ToArray(), epochs.Select(e => e.ValidationLoss).ToArray());
                validation.Color = color;
                validation.LineWidth = 2;
                validation.MarkerSize = 5;
                validation.LegendText = histories[h].Key + " validation";
                var train = plot.Add.Scatter(epochs.Select(e => (double)e.Epoch).ToArray(), epochs.Select(e => e.TrainLoss).ToArray());
                train.Color = color.WithAlpha(0.5);
                train.LineWidth = 1;
                train.MarkerSize = 0;
                train.LinePattern = LinePattern.Dotted;
            }

            plot.Legend.ManualItems.Add(new LegendItem { LabelText = "dotted: training loss", LineColor = Colors.Gray, LinePattern = LinePattern.Dotted, LineWidth = 1 });
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            plot.XLabel("Epoch");
            plot.YLabel("Loss");
            plot.Title(options.Title ?? "Loss per epoch, every fold");
            plot.ShowLegend(Alignment.UpperRight);
            Charts.Save(plot, path, options);
        }
    }
}
