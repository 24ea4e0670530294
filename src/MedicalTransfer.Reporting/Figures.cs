using System;
using System.Globalization;
using MedicalTransfer.Internal;
using SkiaSharp;

namespace MedicalTransfer.Reporting
{
    /// <summary>Shared helpers for composed figures.</summary>
    internal static class Figures
    {
        public static void WritePng(SKSurface surface, string path)
        {
            using var image = surface.Snapshot();
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            AtomicFile.Write(path, data.Size, data.SaveTo);
        }

        /// <summary>The font ScottPlot resolved for its own text, so composed figures match the charts.</summary>
        public static SKTypeface Typeface(bool bold)
        {
            var typeface = SKTypeface.FromFamilyName(ScottPlot.Fonts.Default, bold ? SKFontStyle.Bold : SKFontStyle.Normal);
            return typeface ?? throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "No font found for '{0}'. Install a TrueType font (Debian: apt-get install fonts-dejavu-core).", ScottPlot.Fonts.Default));
        }
    }
}
