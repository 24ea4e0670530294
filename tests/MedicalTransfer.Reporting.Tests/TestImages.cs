using SkiaSharp;

namespace MedicalTransfer.Reporting.Tests
{
    /// <summary>Small images the figure tests draw on.</summary>
    internal static class TestImages
    {
        /// <summary>A <paramref name="width"/> x <paramref name="height"/> PNG of one colour, encoded by SkiaSharp.</summary>
        internal static byte[] SolidPng(int width, int height, SKColor colour)
        {
            using var surface = SKSurface.Create(new SKImageInfo(width, height));
            surface.Canvas.Clear(colour);
            using var image = surface.Snapshot();
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            return data.ToArray();
        }
    }
}
