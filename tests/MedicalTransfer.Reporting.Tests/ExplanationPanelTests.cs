using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Explainability;
using SkiaSharp;
using Xunit;

namespace MedicalTransfer.Reporting.Tests
{
    public sealed class ExplanationPanelTests : IDisposable
    {
        private readonly string folder = Path.Combine(Path.GetTempPath(), "mt-panel-" + Guid.NewGuid().ToString("N"));

        public ExplanationPanelTests() => Directory.CreateDirectory(folder);

        public void Dispose() => Directory.Delete(folder, recursive: true);

        /// <summary>A uniform gray 100 x 80 PNG: the original tile must show exactly that gray.</summary>
        internal static string GrayImage(string folder)
        {
            string path = Path.Combine(folder, "gray.png");
            File.WriteAllBytes(path, TestImages.SolidPng(100, 80, new SKColor(128, 128, 128)));
            return path;
        }

        /// <summary>A 7 x 7 map rising from left (0) to right (1), for PNEUMONIA at layer4.</summary>
        internal static Explanation Explanation()
        {
            var values = Enumerable.Range(0, 49).Select(i => (i % 7) / 6f).ToArray();
            var map = new Heatmap(7, 7, values);
            return new Explanation("layer4", 1, "PNEUMONIA", new[] { 0.17, 0.83 }, 1, "PNEUMONIA", map, map);
        }

        /// <summary>Resize 80, crop 80: the whole 100 x 80 image is the crop's height and 80 of its 100 columns.</summary>
        internal static Preprocessing Crop80 => new() { ResizeSize = 80, CropSize = 80 };

        [Fact]
        public void Save_WrongPrediction_TitleOriginalOverlayAndColourBar()
        {
            string path = Path.Combine(folder, "panel.png");
            ExplanationPanel.Save(GrayImage(folder), Explanation(), Crop80, path, trueClass: "NORMAL");

            using var panel = SKBitmap.Decode(path);
            // 12 + 320 + 12 + 320 + 12 + bar 22 + labels 64; 12 + title 55 + 12 + 320 + 12.
            Assert.Equal((762, 411), (panel.Width, panel.Height));
            const int Top = 12 + 67;
            // Left: the original, fitted (100 x 80 -> 320 x 256, centred), unchanged gray, nothing dimmed.
            Assert.Equal(new SKColor(128, 128, 128), panel.GetPixel(12 + 10, Top + 160));
            Assert.Equal(new SKColor(128, 128, 128), panel.GetPixel(12 + 160, Top + 160));
            Assert.Equal(SKColors.White, panel.GetPixel(12 + 160, Top + 10)); // above the fitted image
            // Right: the overlay; the map rises to the right, so the right side of the crop is the hot end of Turbo.
            var hot = panel.GetPixel(344 + 270, Top + 160);
            Assert.True(hot.Red > hot.Blue + 40, $"the map's high end is drawn red-ish on the right, found {hot}");
            var dimmed = panel.GetPixel(344 + 5, Top + 160);
            Assert.True(dimmed.Red < 100 && dimmed.Red == dimmed.Green, $"outside the crop the image is dimmed gray, found {dimmed}");
            // The colour bar: Turbo's top (1) and bottom (0) colours.
            var (r1, g1, b1) = HeatmapOverlay.Color(1.0 - (0.5 / 320), Colormap.Turbo);
            var (r0, g0, b0) = HeatmapOverlay.Color(0.5 / 320, Colormap.Turbo);
            Assert.Equal(new SKColor(r1, g1, b1), panel.GetPixel(676 + 10, Top));
            Assert.Equal(new SKColor(r0, g0, b0), panel.GetPixel(676 + 10, Top + 319));
            // The title of a wrong prediction is drawn in red.
            int red = 0;
            for (int x = 12; x < 700; x++)
            {
                for (int y = 12; y < 12 + 22; y++)
                {
                    var p = panel.GetPixel(x, y);
                    red += p.Red > 150 && p.Green < 80 ? 1 : 0;
                }
            }

            Assert.True(red > 100, "the title is rendered, in red for a wrong prediction (a font must be installed: fonts-dejavu-core)");
        }

        [Fact]
        public void Save_MissingFolder_ThrowsNamingTheFolder()
        {
            var ex = Assert.Throws<DirectoryNotFoundException>(() => ExplanationPanel.Save(GrayImage(folder), Explanation(), Crop80, Path.Combine(folder, "missing", "p.png")));
            Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
        }
    }
}
