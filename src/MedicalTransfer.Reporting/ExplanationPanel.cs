using System;
using System.Globalization;
using MedicalTransfer.Data;
using MedicalTransfer.Explainability;
using SkiaSharp;

namespace MedicalTransfer.Reporting
{
    /// <summary>One explained image as a figure that stands on its own.</summary>
    public static class ExplanationPanel
    {
        private const int Gap = 12;
        private const int BarWidth = 22;
        private const int BarLabels = 64;

        /// <summary>
        /// Writes a panel: a title (the true class when known, the predicted class and its probability, the
        /// class whose map is shown and the stage it was taken at), the ORIGINAL image, the same image with the
        /// map blended over it (the parts outside the model's center crop dimmed), and a colour bar of the
        /// map's scale.
        /// </summary>
        /// <param name="imagePath">The original image, decoded by the data pipeline's decoder.</param>
        /// <param name="explanation">Its explanation.</param>
        /// <param name="preprocessing">The preprocessing of the model that was explained (<see cref="TransferModel.Preprocessing"/>).</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="trueClass">The image's true class, or <see langword="null"/> when unknown.</param>
        /// <param name="overlay">Colormap, opacity and decoding; <see langword="null"/> for the defaults.</param>
        /// <param name="tileSize">The side of the square each image is fitted into, in pixels (128 to 1024).</param>
        public static void Save(string imagePath, Explanation explanation, Preprocessing preprocessing, string path, string? trueClass = null, OverlayOptions? overlay = null, int tileSize = 320)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(imagePath);
            ArgumentNullException.ThrowIfNull(explanation);
            ArgumentNullException.ThrowIfNull(preprocessing);
            Charts.CheckPath(path);
            ArgumentOutOfRangeException.ThrowIfLessThan(tileSize, 128);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(tileSize, 1024);
            overlay ??= new OverlayOptions();
            // The original through the same decoder and frame as the overlay: a zero-opacity overlay, nothing dimmed.
            byte[] original = HeatmapOverlay.ToPng(imagePath, explanation.LowResolution, preprocessing, overlay with { Alpha = 0, OutsideCropBrightness = 1 });
            byte[] blended = HeatmapOverlay.ToPng(imagePath, explanation.LowResolution, preprocessing, overlay);

            float titleSize = Math.Max(14, tileSize / 20f), textSize = Math.Max(11, tileSize / 28f);
            int titleHeight = (int)Math.Ceiling((titleSize * 1.4) + (textSize * 1.4 * 2)) + Gap;
            int width = Gap + tileSize + Gap + tileSize + Gap + BarWidth + BarLabels;
            int height = Gap + titleHeight + tileSize + Gap;
            using var surface = SKSurface.Create(new SKImageInfo(width, height));
            var canvas = surface.Canvas;
            canvas.Clear(SKColors.White);
            using var regular = Figures.Typeface(bold: false);
            using var bold = Figures.Typeface(bold: true);
            using var titleFont = new SKFont(bold, titleSize);
            using var textFont = new SKFont(regular, textSize);
            using var paint = new SKPaint { IsAntialias = true, Color = SKColors.Black };

            var c = CultureInfo.InvariantCulture;
            string title = string.Format(c, "{0}predicted {1} (p = {2:0.00})", trueClass is null ? string.Empty : "true " + trueClass + " | ", explanation.PredictedClassName, explanation.Probabilities[explanation.PredictedClass]);
            paint.Color = trueClass is null ? SKColors.Black : trueClass == explanation.PredictedClassName ? new SKColor(0, 110, 40) : new SKColor(190, 20, 20);
            float y = Gap + titleSize;
            canvas.DrawText(ExplanationGrid.Fit(title, titleFont, width - (2 * Gap)), Gap, y, SKTextAlign.Left, titleFont, paint);
            paint.Color = SKColors.Black;
            y += textSize * 1.4f;
            canvas.DrawText(ExplanationGrid.Fit(string.Format(c, "Grad-CAM of {0} (p = {1:0.00}) at stage {2}", explanation.TargetClassName, explanation.TargetProbability, explanation.Layer), textFont, width - (2 * Gap)), Gap, y, SKTextAlign.Left, textFont, paint);
            y += textSize * 1.4f;
            paint.Color = SKColors.DimGray;
            canvas.DrawText(ExplanationGrid.Fit("left: the original image; right: the map over it (dimmed: outside the model's center crop)", textFont, width - (2 * Gap)), Gap, y, SKTextAlign.Left, textFont, paint);

            int top = Gap + titleHeight;
            DrawFitted(canvas, original, Gap, top, tileSize);
            DrawFitted(canvas, blended, Gap + tileSize + Gap, top, tileSize);
            DrawColourBar(canvas, overlay.Colormap, Gap + tileSize + Gap + tileSize + Gap, top, tileSize, textFont, paint);
            Figures.WritePng(surface, path);
        }

        private static void DrawFitted(SKCanvas canvas, byte[] png, int x, int y, int size)
        {
            using var bitmap = SKBitmap.Decode(png);
            float scale = Math.Min((float)size / bitmap.Width, (float)size / bitmap.Height);
            float w = bitmap.Width * scale, h = bitmap.Height * scale;
            using var image = SKImage.FromBitmap(bitmap);
            canvas.DrawImage(image, SKRect.Create(x + ((size - w) / 2), y + ((size - h) / 2), w, h), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }

        /// <summary>A vertical scale from 0 (bottom) to 1 (top) in the overlay's colours, with three ticks.</summary>
        private static void DrawColourBar(SKCanvas canvas, Colormap colormap, int x, int y, int height, SKFont font, SKPaint paint)
        {
            using var fill = new SKPaint { IsAntialias = false };
            for (int row = 0; row < height; row++)
            {
                var (r, g, b) = HeatmapOverlay.Color(1.0 - ((row + 0.5) / height), colormap);
                fill.Color = new SKColor(r, g, b);
                canvas.DrawRect(x, y + row, BarWidth, 1, fill);
            }

            paint.Color = SKColors.Black;
            foreach (var (value, label) in new[] { (1.0, "1 high"), (0.5, "0.5"), (0.0, "0 low") })
            {
                float ty = y + (float)((1 - value) * (height - 1));
                canvas.DrawLine(x + BarWidth, ty, x + BarWidth + 4, ty, paint);
                float baseline = Math.Clamp(ty + (font.Size / 3), y + font.Size, y + height);
                canvas.DrawText(label, x + BarWidth + 6, baseline, SKTextAlign.Left, font, paint);
            }
        }
    }
}
