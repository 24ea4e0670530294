using System;
using System.Collections.Generic;
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
        /// Two panels side by side: loss per epoch (train vs validation) and accuracy per epoch
        /// (train vs validation, and validation AUC when recorded), with dashed vertical lines where a
        /// new training phase began, labelled with the phase's name.
        /// </summary>
        /// <param name="history">The run's history.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="options">Size of the whole figure (both panels) and title; <see langword="null"/> for 1200 x 480.</param>
        /// <exception cref="ArgumentException">The history has no epochs.</exception>
        public static void SaveTrainingCurves(TrainingHistory history, string path, ChartOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(history);
            Charts.CheckPath(path);
            options = (options ?? new ChartOptions { Width = 1200, Height = 480 }).Validate();
            var epochs = history.Epochs;
            if (epochs.Count == 0)
            {
                throw new ArgumentException("The training history has no epochs to plot; train at least one epoch first.", nameof(history));
            }

            var (loss, accuracy) = Panels(history, options);
            using (loss)
            using (accuracy)
            {
                int half = options.Width / 2;
                using var surface = SKSurface.Create(new SKImageInfo(options.Width, options.Height));
                surface.Canvas.Clear(SKColors.White);
                DrawPlot(surface.Canvas, loss, 0, half, options.Height);
                DrawPlot(surface.Canvas, accuracy, half, options.Width - half, options.Height);
                Figures.WritePng(surface, path);
            }
        }

        /// <summary>The two panels (loss, accuracy); the caller disposes both.</summary>
        internal static (Plot Loss, Plot Accuracy) Panels(TrainingHistory history, ChartOptions options)
        {
            var epochs = history.Epochs;
            double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
            string first = "phase: " + epochs[0].PhaseName;
            var series = new List<(string, double[], LinePattern)>
            {
                ("train", epochs.Select(e => e.TrainAccuracy).ToArray(), LinePattern.Solid),
                ("validation", epochs.Select(e => e.ValidationAccuracy).ToArray(), LinePattern.Solid),
            };
            if (epochs.All(e => e.ValidationAuc is not null))
            {
                series.Add(("validation AUC", epochs.Select(e => e.ValidationAuc!.Value).ToArray(), LinePattern.Dotted));
            }

            var loss = Panel(x, options.Title ?? "Loss per epoch (" + first + ")", "Loss", Alignment.UpperRight, epochs,
                ("train", epochs.Select(e => e.TrainLoss).ToArray(), LinePattern.Solid),
                ("validation", epochs.Select(e => e.ValidationLoss).ToArray(), LinePattern.Solid));
            try
            {
                return (loss, Panel(x, "Accuracy per epoch", "Accuracy", Alignment.LowerRight, epochs, series.ToArray()));
            }
            catch
            {
                loss.Dispose();
                throw;
            }
        }

        private static Plot Panel(double[] x, string title, string yLabel, Alignment legend, IReadOnlyList<EpochRecord> epochs, params (string Label, double[] Values, LinePattern Pattern)[] series)
        {
            var plot = new Plot();
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

            plot.XLabel("Epoch");
            plot.YLabel(yLabel);
            plot.Title(title);
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            // Loss falls and accuracy rises: these corners are usually free of curves.
            plot.ShowLegend(legend);
            return plot;
        }

        private static void DrawPlot(SKCanvas canvas, Plot plot, int left, int width, int height)
        {
            using var image = plot.GetImage(width, height);
            using var bitmap = SKBitmap.Decode(image.GetImageBytes());
            canvas.DrawBitmap(bitmap, left, 0);
        }
    }
}
