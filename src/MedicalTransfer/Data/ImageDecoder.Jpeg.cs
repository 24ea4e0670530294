using System;
using System.Buffers;
using SixLabors.ImageSharp.Formats.Jpeg;
using SkiaSharp;

namespace MedicalTransfer.Data
{
    /// <summary>The JPEG path of the one image decoder: libjpeg-turbo (<see cref="JpegCodec"/>), EXIF orientation applied.</summary>
    internal static partial class ImageDecoder
    {
        private static JpegCodec OpenJpeg(string path, ReadOnlySpan<byte> bytes, ImageLoadOptions options)
        {
            JpegCodec? jpeg = JpegCodec.Open(bytes);
            if (jpeg is null)
            {
                throw new ImageDataException(path, Format("Image file '{0}' has a corrupt header (libjpeg-turbo cannot read its JPEG header); expected a PNG, JPEG or BMP image. Remove or replace the file.", path));
            }

            try
            {
                CheckPixels(path, jpeg.Width, jpeg.Height, options);
                CheckComplete(path, bytes, JpegFormat.Instance);
                return jpeg;
            }
            catch
            {
                jpeg.Dispose();
                throw;
            }
        }

        private static ImageFileInfo IdentifyJpeg(string path, ReadOnlySpan<byte> bytes, ImageLoadOptions options)
        {
            using JpegCodec jpeg = OpenJpeg(path, bytes, options);
            return new ImageFileInfo(JpegFormat.Instance.Name, jpeg.Width, jpeg.Height, null);
        }

        private static FloatImage DecodeJpeg(string path, ReadOnlySpan<byte> bytes, ImageLoadOptions options)
        {
            using JpegCodec jpeg = OpenJpeg(path, bytes, options);
            byte[] samples = jpeg.DecodeRented(out SKCodecResult result);
            try
            {
                if (result != SKCodecResult.Success)
                {
                    throw new ImageDataException(path, Format("Image file '{0}' (JPEG, {1}x{2}) cannot be decoded: {3}. Remove or replace the file.", path, jpeg.Width, jpeg.Height, JpegCodec.Describe(result)));
                }

                return Orient(samples, jpeg.Width, jpeg.Height, jpeg.SamplesPerPixel, jpeg.Gray ? 1 : 3, jpeg.Origin);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(samples);
            }
        }

        /// <summary>
        /// Interleaved 8-bit samples to float planes, turned upright as the EXIF orientation says
        /// (cameras and some scanners store the image sideways and say so in EXIF). Stored pixel (x, y)
        /// of a w x h image lands at base + x * dx + y * dy of each output plane.
        /// </summary>
        private static FloatImage Orient(byte[] samples, int width, int height, int stride, int channels, SKEncodedOrigin origin)
        {
            bool swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
            int outWidth = swap ? height : width;
            int outHeight = swap ? width : height;
            (int start, int dx, int dy) = origin switch
            {
                SKEncodedOrigin.TopRight => (width - 1, -1, outWidth),
                SKEncodedOrigin.BottomRight => (((height - 1) * outWidth) + width - 1, -1, -outWidth),
                SKEncodedOrigin.BottomLeft => ((height - 1) * outWidth, 1, -outWidth),
                SKEncodedOrigin.LeftTop => (0, outWidth, 1),
                SKEncodedOrigin.RightTop => (height - 1, outWidth, -1),
                SKEncodedOrigin.RightBottom => (((width - 1) * outWidth) + height - 1, -outWidth, -1),
                SKEncodedOrigin.LeftBottom => ((width - 1) * outWidth, -outWidth, 1),
                _ => (0, 1, outWidth),
            };

            FloatImage result = FloatImage.Rent(channels, outWidth, outHeight, 255f);
            float[] dst = result.Buffer;
            int plane = result.PlaneLength;
            float[] scale = Scale8;
            for (int c = 0; c < channels; c++)
            {
                int offset = c * plane;
                for (int y = 0; y < height; y++)
                {
                    int s = (y * width * stride) + c;
                    int d = offset + start + (y * dy);
                    for (int x = 0; x < width; x++, s += stride, d += dx)
                    {
                        dst[d] = scale[samples[s]];
                    }
                }
            }

            return result;
        }
    }
}
