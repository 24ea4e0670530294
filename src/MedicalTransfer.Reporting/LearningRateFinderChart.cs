using System;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Training;
using ScottPlot;

namespace MedicalTransfer.Reporting
{
    /// <summary>The curve of a learning-rate range test (<c>model.FindLearningRate</c>).</summary>
    public static class LearningRateFinderChart
    {
        /// <summary>
        /// The smoothed loss (and, faint, each batch's loss) against the learning rate on a log axis, with the two
        /// suggestions marked and named in the legend: the valley (fastai's default) and the steepest descent.
        /// </summary>
        /// <param name="result">The range test's result.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="options">Size and title; <see langword="null"/> for 800 x 600 and "Learning-rate range test".</param>
        public static void Save(LearningRateFinderResult result, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(result);
            Charts.CheckPath(path);
            options = (options ?? new ChartOptions()).Validate();
            using var plot = Plot(result, options);
            Charts.Save(plot, path, options);
        }

        internal static Plot Plot(LearningRateFinderResult result, ChartOptions options)
        {
            var points = result.Points;
            double[] x = points.Select(p => Math.Log10(p.LearningRate)).ToArray();
            double[] smoothed = points.Select(p => p.SmoothedLoss).ToArray();
            double[] raw = points.Select(p => p.Loss).ToArray();
            var plot = new Plot();
            var rawLine = plot.Add.Scatter(x, raw);
            rawLine.LegendText = "batch loss";
            rawLine.LineWidth = 1;
            rawLine.MarkerSize = 0;
            rawLine.Color = Colors.Gray.WithAlpha(0.5);
            var line = plot.Add.Scatter(x, smoothed);
            line.LegendText = "smoothed loss";
            line.LineWidth = 2;
            line.MarkerSize = 0;
            Mark(plot, result.ValleyIndex, x, smoothed, "valley (suggested): {0:G2}", Colors.Red, MarkerShape.FilledCircle);
            Mark(plot, result.SteepestIndex, x, smoothed, "steepest descent: {0:G2}", Colors.Green, MarkerShape.FilledDiamond);

            // The curve's useful part: up to a little above where it started (a divergent tail would squash it).
            double top = Math.Max(smoothed.Take(Math.Max(1, smoothed.Length / 10)).Max(), smoothed[0]) * 1.25;
            double bottom = smoothed.Concat(raw).Where(double.IsFinite).Min();
            double pad = Math.Max((top - bottom) * 0.05, 1e-6);
            plot.Axes.SetLimits(x[0], x[^1], bottom - pad, top + pad);
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                LabelFormatter = v => Math.Abs(v - Math.Round(v)) < 1e-9 ? "1e" + Math.Round(v).ToString("0", CultureInfo.InvariantCulture) : string.Empty,
                IntegerTicksOnly = true,
            };
            plot.XLabel("Learning rate (log scale)");
            plot.YLabel("Training loss");
            plot.Title(options.Title ?? string.Format(CultureInfo.InvariantCulture, "Learning-rate range test ({0} batches{1})", points.Count, result.Diverged ? ", stopped at divergence" : string.Empty));
            plot.ShowLegend(Alignment.UpperLeft);
            return plot;
        }

        private static void Mark(Plot plot, int index, double[] x, double[] y, string format, Color color, MarkerShape shape)
        {
            var marker = plot.Add.Marker(x[index], y[index]);
            marker.Color = color;
            marker.Size = 12;
            marker.Shape = shape;
            marker.LegendText = string.Format(CultureInfo.InvariantCulture, format, Math.Pow(10, x[index]));
            var lineAt = plot.Add.VerticalLine(x[index]);
            lineAt.Color = color.WithAlpha(0.5);
            lineAt.LinePattern = LinePattern.Dashed;
        }
    }
}
