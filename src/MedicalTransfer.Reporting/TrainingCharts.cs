using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Training;
using ScottPlot;
using SkiaSharp;

namespace MedicalTransfer.Reporting
{
    /// <summary>Training curves from a <see cref="TrainingHistory"/>.</summary>
    public static class TrainingCharts
    {
        /// <summary>
        /// Panels side by side: loss per epoch (train vs validation), accuracy per epoch (train vs
        /// validation) and, when every epoch recorded one, the validation ROC AUC in a panel of its own.
        /// Dashed vertical lines mark where a new training phase began (labelled with the phase's name);
        /// a dotted green line and a ringed point mark the best epoch, the one with the lowest validation
        /// loss (<see cref="TrainingResult.BestEpoch"/>, the weights <see cref="BestCheckpoint"/> keeps by
        /// default). Legends sit under the panels, outside the data.
        /// </summary>
        /// <param name="history">The run's history.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="options">Size of the whole figure (all panels) and the loss panel's title; <see langword="null"/> for 1200 x 480 (1500 x 480 with the AUC panel).</param>
        /// <exception cref="ArgumentException">The history has no epochs.</exception>
        public static void SaveTrainingCurves(TrainingHistory history, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(history);
            Charts.CheckPath(path);
            var epochs = history.Epochs;
            if (epochs.Count == 0)
            {
                throw new ArgumentException("The training history has no epochs to plot; train at least one epoch first.", nameof(history));
            }

            options = (options ?? new ChartOptions { Width = HasAuc(history) ? 1500 : 1200, Height = 480 }).Validate();
            var panels = Panels(history, options);
            try
            {
                using var surface = SKSurface.Create(new SKImageInfo(options.Width, options.Height));
                surface.Canvas.Clear(SKColors.White);
                for (int i = 0; i < panels.Count; i++)
                {
                    int left = options.Width * i / panels.Count;
                    DrawPlot(surface.Canvas, panels[i], left, (options.Width * (i + 1) / panels.Count) - left, options.Height);
                }

                Figures.WritePng(surface, path);
            }
            finally
            {
                foreach (var panel in panels)
                {
                    panel.Dispose();
                }
            }
        }

        /// <summary>The best epoch as the chart marks it: the lowest validation loss, the earliest on a tie.</summary>
        internal static EpochRecord? BestEpoch(TrainingHistory history) =>
            history.Epochs.Where(e => !double.IsNaN(e.ValidationLoss)).OrderBy(e => e.ValidationLoss).ThenBy(e => e.Epoch).FirstOrDefault();

        private static bool HasAuc(TrainingHistory history) => history.Epochs.All(e => e.ValidationAuc is not null);

        /// <summary>The panels (loss, accuracy, and validation AUC when recorded); the caller disposes them.</summary>
        internal static IReadOnlyList<Plot> Panels(TrainingHistory history, ChartOptions options)
        {
            var epochs = history.Epochs;
            double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
            string first = "phase: " + epochs[0].PhaseName;
            var best = BestEpoch(history);
            var panels = new List<Plot>();
            try
            {
                panels.Add(Panel(x, options.Title ?? "Loss per epoch (" + first + ")", "Loss", epochs, best, best?.ValidationLoss,
                    ("train", epochs.Select(e => e.TrainLoss).ToArray(), LinePattern.Solid),
                    ("validation", epochs.Select(e => e.ValidationLoss).ToArray(), LinePattern.Solid)));
                panels.Add(Panel(x, "Accuracy per epoch", "Accuracy", epochs, best, best?.ValidationAccuracy,
                    ("train", epochs.Select(e => e.TrainAccuracy).ToArray(), LinePattern.Solid),
                    ("validation", epochs.Select(e => e.ValidationAccuracy).ToArray(), LinePattern.Solid)));
                if (HasAuc(history))
                {
                    var auc = Panel(x, "Validation ROC AUC per epoch", "ROC AUC", epochs, best, best?.ValidationAuc,
                        ("validation AUC", epochs.Select(e => e.ValidationAuc!.Value).ToArray(), LinePattern.Solid));
                    panels.Add(auc);
                }

                return panels;
            }
            catch
            {
                foreach (var panel in panels)
                {
                    panel.Dispose();
                }

                throw;
            }
        }

        private static Plot Panel(double[] x, string title, string yLabel, IReadOnlyList<EpochRecord> epochs, EpochRecord? best, double? bestValue, params (string Label, double[] Values, LinePattern Pattern)[] series)
        {
            var plot = new Plot();
            try
            {
                foreach (var (label, values, pattern) in series)
                {
                    var line = plot.Add.Scatter(x, values);
                    line.LegendText = label;
                    line.LineWidth = 2;
                    line.MarkerSize = 5;
                    line.LinePattern = pattern;
                }

                for (int i = 1; i < epochs.Count; i++)
                {
                    if (epochs[i].Phase != epochs[i - 1].Phase)
                    {
                        var boundary = plot.Add.VerticalLine(epochs[i].Epoch - 0.5);
                        boundary.LinePattern = LinePattern.Dashed;
                        boundary.Color = Colors.Gray;
                        // In the legend rather than as an axis label, which would cover the title.
                        boundary.LegendText = "phase: " + epochs[i].PhaseName;
                    }
                }

                if (best is not null)
                {
                    var line = plot.Add.VerticalLine(best.Epoch);
                    line.LinePattern = LinePattern.Dotted;
                    line.Color = Colors.Green;
                    line.LineWidth = 2;
                    line.LegendText = string.Format(CultureInfo.InvariantCulture, "best epoch {0} (lowest validation loss)", best.Epoch);
                    if (bestValue is double value && !double.IsNaN(value))
                    {
                        // A ring around the best epoch's validation point (drawn over the curve, not in the legend).
                        var ring = plot.Add.Marker(best.Epoch, value);
                        ring.MarkerShape = MarkerShape.OpenCircle;
                        ring.MarkerSize = 14;
                        ring.MarkerLineWidth = 2;
                        ring.Color = Colors.Green;
                    }
                }

                plot.XLabel("Epoch");
                plot.YLabel(yLabel);
                plot.Title(title);
                plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
                // Under the panel, outside the data: inside, it covered the last epochs' points.
                plot.ShowLegend(Edge.Bottom);
                return plot;
            }
            catch
            {
                plot.Dispose();
                throw;
            }
        }

        private static void DrawPlot(SKCanvas canvas, Plot plot, int left, int width, int height)
        {
            // ScottPlot's legend panel (ShowLegend(Edge)) measures itself by rendering the legend to an image it
            // never disposes, unless the legend has been rendered before: render it once here, disposed.
            using (plot.Legend.GetImage())
            {
            }

            using var image = plot.GetImage(width, height);
            using var bitmap = SKBitmap.Decode(image.GetImageBytes());
            canvas.DrawBitmap(bitmap, left, 0);
        }
    }
}
