using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Training;
using SkiaSharp;
using Xunit;

namespace MedicalTransfer.Reporting.Tests
{
    public sealed class LearningRateFinderChartTests : IDisposable
    {
        private readonly string folder = Path.Combine(Path.GetTempPath(), "mt-reporting-" + Guid.NewGuid().ToString("N"));

        public LearningRateFinderChartTests() => Directory.CreateDirectory(folder);

        public void Dispose() => Directory.Delete(folder, recursive: true);

        internal static LearningRateFinderResult Curve()
        {
            // A range test's usual shape: flat, a descent, a minimum, divergence; the raw losses scatter around it.
            var points = Enumerable.Range(0, 80).Select(i =>
            {
                double rate = 1e-7 * Math.Pow(1e8, i / 79.0);
                double t = Math.Log10(rate);
                double smoothed = t < -4 ? 0.70 : t < -1.5 ? 0.70 - (0.45 * (t + 4) / 2.5) : 0.25 + (0.9 * (t + 1.5) * (t + 1.5));
                return new LearningRatePoint(rate, smoothed + (0.05 * Math.Sin(i * 2.3)), smoothed);
            }).ToArray();
            return LearningRateFinderResult.Create(points, 80, diverged: true);
        }

        [Fact]
        public void Plot_Curve_HasBothLossesBothSuggestionsAndALogRateAxis()
        {
            var result = Curve();
            using var plot = LearningRateFinderChart.Plot(result, new ChartOptions());

            var lines = plot.GetPlottables<ScottPlot.Plottables.Scatter>().ToArray();
            Assert.Equal(new[] { "batch loss", "smoothed loss" }, lines.Select(l => l.LegendText));
            Assert.Equal(result.Points.Select(p => Math.Log10(p.LearningRate)), lines[1].Data.GetScatterPoints().Select(q => q.X));
            var markers = plot.GetPlottables<ScottPlot.Plottables.Marker>().ToArray();
            Assert.Equal(2, markers.Length);
            Assert.StartsWith("valley (suggested): ", markers[0].LegendText, StringComparison.Ordinal);
            Assert.Equal(Math.Log10(result.Valley), markers[0].X, 12);
            Assert.StartsWith("steepest descent: ", markers[1].LegendText, StringComparison.Ordinal);
            Assert.Equal(Math.Log10(result.Steepest), markers[1].X, 12);
            Assert.Equal("Learning rate (log scale)", plot.Axes.Bottom.Label.Text);
            Assert.Equal("Learning-rate range test (80 batches, stopped at divergence)", plot.Axes.Title.Label.Text);
        }

        [Fact]
        public void Save_Curve_WritesAPngOfTheRequestedSizeWithTheMarkersDrawn()
        {
            string path = Path.Combine(folder, "lr_find.png");
            LearningRateFinderChart.Save(Curve(), path, new ChartOptions { Width = 800, Height = 500 });

            if (Environment.GetEnvironmentVariable("MEDICALTRANSFER_KEEP_FIGURES") is { Length: > 0 } keep)
            {
                File.Copy(path, Path.Combine(keep, "lr_find.png"), overwrite: true);
            }

            using var png = SKBitmap.Decode(path);
            Assert.Equal((800, 500), (png.Width, png.Height));
            int red = 0;
            for (int y = 0; y < png.Height; y++)
            {
                for (int x = 0; x < png.Width; x++)
                {
                    var c = png.GetPixel(x, y);
                    if (c.Red > 200 && c.Green < 60 && c.Blue < 60)
                    {
                        red++;
                    }
                }
            }

            Assert.True(red > 40, $"the valley marker is not drawn ({red} red pixels)");
        }
    }
}
