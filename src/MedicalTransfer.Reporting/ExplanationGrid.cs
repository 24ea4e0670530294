using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Explainability;
using SkiaSharp;

namespace MedicalTransfer.Reporting
{
    /// <summary>One cell of an explanation grid: an image (PNG bytes) and its caption lines.</summary>
    /// <param name="Png">The picture, for example from <see cref="HeatmapOverlay.ToPng"/>.</param>
    /// <param name="Lines">Caption lines drawn under the picture.</param>
    /// <param name="Correct">Colours the caption green when <see langword="true"/>, red when <see langword="false"/>, black when <see langword="null"/>.</param>
    public sealed record GridTile(byte[] Png, IReadOnlyList<string> Lines, bool? Correct = null);

    /// <summary>A labelled grid of Grad-CAM overlays for a batch of images.</summary>
    public static partial class ExplanationGrid
    {
        /// <summary>
        /// Overlays each explanation on its ORIGINAL image and writes a grid, each cell captioned with
        /// the true class (when known), the predicted class and its probability, and the class explained.
        /// </summary>
        /// <param name="imagePaths">The original images, in the order of <paramref name="explanations"/>.</param>
        /// <param name="explanations">Their explanations (from the same model).</param>
        /// <param name="preprocessing">That model's preprocessing.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="trueClasses">True class names, or <see langword="null"/> when unknown.</param>
        /// <param name="columns">Cells per row (1 to 16).</param>
        /// <param name="tileSize">Width of each picture in pixels (64 to 1024).</param>
        /// <param name="overlay">Colormap and opacity.</param>
        public static void Save(IReadOnlyList<string> imagePaths, IReadOnlyList<Explanation> explanations, Preprocessing preprocessing, string path, IReadOnlyList<string>? trueClasses = null, int columns = 4, int tileSize = 256, OverlayOptions? overlay = null)
        {
            ArgumentNullException.ThrowIfNull(imagePaths);
            ArgumentNullException.ThrowIfNull(explanations);
            ArgumentNullException.ThrowIfNull(preprocessing);
            if (imagePaths.Count != explanations.Count || (trueClasses is not null && trueClasses.Count != explanations.Count))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected one image path (and true class) per explanation ({0}); found {1} paths and {2} true classes.", explanations.Count, imagePaths.Count, trueClasses?.Count ?? 0), nameof(imagePaths));
            }

            var tiles = explanations.Select((e, i) =>
            {
                var lines = new List<string>();
                if (trueClasses is not null)
                {
                    lines.Add("true: " + trueClasses[i]);
                }

                lines.Add(string.Format(CultureInfo.InvariantCulture, "pred: {0} ({1:0.00})", e.PredictedClassName, e.Probabilities[e.PredictedClass]));
                if (e.TargetClass != e.PredictedClass)
                {
                    lines.Add(string.Format(CultureInfo.InvariantCulture, "map of: {0} ({1:0.00})", e.TargetClassName, e.TargetProbability));
                }

                return new GridTile(HeatmapOverlay.ToPng(imagePaths[i], e.LowResolution, preprocessing, overlay), lines, trueClasses is null ? null : trueClasses[i] == e.PredictedClassName);
            }).ToArray();
            Save(tiles, path, columns, tileSize);
        }

        /// <summary>Writes a grid of captioned pictures.</summary>
        /// <param name="tiles">The cells, row by row.</param>
        /// <param name="path">The PNG to write; its folder must exist.</param>
        /// <param name="columns">Cells per row (1 to 16).</param>
        /// <param name="tileSize">Width of each picture in pixels (64 to 1024); heights keep each picture's aspect ratio within a square cell.</param>
        public static void Save(IReadOnlyList<GridTile> tiles, string path, int columns = 4, int tileSize = 256) =>
            Save(tiles, path, columns, tileSize, title: null, colorBar: null);

        /// <summary>The grid of <see cref="Save(IReadOnlyList{GridTile}, string, int, int)"/> with an optional title line above it and a colour bar (the colormap and its caption) below it.</summary>
        internal static void Save(IReadOnlyList<GridTile> tiles, string path, int columns, int tileSize, string? title, (Colormap Colormap, string Caption)? colorBar)
        {
            ArgumentNullException.ThrowIfNull(tiles);
            Charts.CheckPath(path);
            if (tiles.Count == 0)
            {
                throw new ArgumentException("Expected at least one tile; found none.", nameof(tiles));
            }

            ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(columns, 16);
            ArgumentOutOfRangeException.ThrowIfLessThan(tileSize, 64);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(tileSize, 1024);
            const int Gap = 8;
            float fontSize = Math.Max(11, tileSize / 16f);
            int lineHeight = (int)Math.Ceiling(fontSize * 1.3);
            int captionHeight = (tiles.Max(t => t.Lines.Count) * lineHeight) + Gap;
            int cols = Math.Min(columns, tiles.Count);
            int rows = (tiles.Count + cols - 1) / cols;
            using var typeface = Figures.Typeface(bold: false);
            using var font = new SKFont(typeface, fontSize);
            using var bold = Figures.Typeface(bold: true);
            using var titleFont = new SKFont(bold, fontSize);

            // A title or colour-bar caption wider than the cells widens the figure (up to 2048 pixels) rather than being cut.
            int width = (cols * (tileSize + Gap)) + Gap;
            float text = Math.Max(title is null ? 0 : titleFont.MeasureText(title), colorBar is null ? 0 : font.MeasureText(colorBar.Value.Caption));
            width = Math.Max(width, Math.Min(2048, (int)Math.Ceiling(text) + (2 * Gap) + 2));
            int titleHeight = title is null ? 0 : lineHeight + Gap;
            int barHeight = colorBar is null ? 0 : (3 * lineHeight) + Gap;
            int height = titleHeight + (rows * (tileSize + captionHeight + Gap)) + Gap + barHeight;
            using var surface = SKSurface.Create(new SKImageInfo(width, height));
            var canvas = surface.Canvas;
            canvas.Clear(SKColors.White);
            using var paint = new SKPaint { IsAntialias = true };
            if (title is not null)
            {
                paint.Color = SKColors.Black;
                canvas.DrawText(Fit(title, titleFont, width - (2 * Gap)), Gap, Gap + fontSize, SKTextAlign.Left, titleFont, paint);
            }

            if (colorBar is { } bar)
            {
                DrawColorBar(canvas, font, paint, bar.Colormap, bar.Caption, Gap, height - barHeight, width - (2 * Gap), lineHeight);
            }

            for (int i = 0; i < tiles.Count; i++)
            {
                var tile = tiles[i] ?? throw new ArgumentNullException(nameof(tiles), string.Format(CultureInfo.InvariantCulture, "Tile {0} is null.", i));
                int x = Gap + ((i % cols) * (tileSize + Gap));
                int y = titleHeight + Gap + ((i / cols) * (tileSize + captionHeight + Gap));
                using var bitmap = SKBitmap.Decode(tile.Png) ?? throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Tile {0} does not hold a PNG or JPEG image.", i), nameof(tiles));
                float scale = Math.Min((float)tileSize / bitmap.Width, (float)tileSize / bitmap.Height);
                float w = bitmap.Width * scale, h = bitmap.Height * scale;
                using var image = SKImage.FromBitmap(bitmap);
                canvas.DrawImage(image, SKRect.Create(x + ((tileSize - w) / 2), y + ((tileSize - h) / 2), w, h), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
                paint.Color = tile.Correct switch { true => new SKColor(0, 110, 40), false => new SKColor(190, 20, 20), null => SKColors.Black };
                for (int l = 0; l < tile.Lines.Count; l++)
                {
                    canvas.DrawText(Fit(tile.Lines[l], font, tileSize - 4), x + 2, y + tileSize + (lineHeight * (l + 1)), SKTextAlign.Left, font, paint);
                }
            }

            Figures.WritePng(surface, path);
        }

        /// <summary>A horizontal colour bar from 0 to 1 with its end labels and a caption under it.</summary>
        private static void DrawColorBar(SKCanvas canvas, SKFont font, SKPaint paint, Colormap colormap, string caption, int left, int top, int width, int lineHeight)
        {
            int barWidth = Math.Min(width, 360);
            int barHeight = Math.Max(8, lineHeight / 2);
            using var fill = new SKPaint();
            for (int x = 0; x < barWidth; x++)
            {
                var (r, g, b) = HeatmapOverlay.Color(x / (double)(barWidth - 1), colormap);
                fill.Color = new SKColor(r, g, b);
                canvas.DrawRect(left + x, top, 1, barHeight, fill);
            }

            paint.Color = SKColors.Black;
            float textTop = top + barHeight + font.Size;
            canvas.DrawText("0", left, textTop, SKTextAlign.Left, font, paint);
            canvas.DrawText("1", left + barWidth, textTop, SKTextAlign.Right, font, paint);
            canvas.DrawText(Fit(caption, font, width), left, textTop + lineHeight, SKTextAlign.Left, font, paint);
        }

        /// <summary>Shortens a caption with an ellipsis so that it does not run into the next cell.</summary>
        internal static string Fit(string text, SKFont font, float width)
        {
            if (font.MeasureText(text) <= width)
            {
                return text;
            }

            const string Ellipsis = "\u2026";
            int length = text.Length;
            while (length > 0 && font.MeasureText(string.Concat(text.AsSpan(0, length), Ellipsis)) > width)
            {
                length--;
            }

            return string.Concat(text.AsSpan(0, length), Ellipsis);
        }
    }
}
