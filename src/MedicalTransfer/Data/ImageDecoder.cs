using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using MedicalTransfer.Data.Dicom;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Decodes PNG, JPEG and BMP files into <see cref="FloatImage"/>s (JPEG through libjpeg-turbo, see
    /// <see cref="JpegCodec"/>; PNG and BMP through ImageSharp): dimensions are checked from the
    /// header before any pixel memory is allocated, gray stays one plane (8- or 16-bit, never reduced
    /// to 8 bits), colour becomes three planes, EXIF orientation is applied, and every failure
    /// becomes an <see cref="ImageDataException"/> naming the file.
    /// </summary>
    internal static partial class ImageDecoder
    {
        // Only the formats the SDK supports: a GIF or TIFF renamed .png is refused, not decoded. JPEG is
        // not among them: it goes to libjpeg-turbo (JpegCodec), so ImageSharp's JPEG decoder never runs.
        private static readonly Configuration Config = new(new PngConfigurationModule(), new BmpConfigurationModule())
        {
            // One image per worker thread: parallelism comes from the loader, not from inside ImageSharp.
            MaxDegreeOfParallelism = 1,
            PreferContiguousImageBuffers = true,
        };

        /// <summary>The exact floats of 8-bit samples (the nearest float to v / 255).</summary>
        internal static readonly float[] Scale8 = BuildScale(255);

        /// <summary>The exact floats of 16-bit samples (the nearest float to v / 65535).</summary>
        internal static readonly float[] Scale16 = BuildScale(65535);

        public static FloatImage Decode(string path, ImageLoadOptions options)
        {
            byte[] buffer = ReadFile(path, out int length);
            try
            {
                return Decode(path, buffer, length, options);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        /// <summary>Reads a whole file into a buffer from <see cref="ArrayPool{T}.Shared"/> (the caller returns it).</summary>
        /// <exception cref="ImageDataException">The file cannot be read, or is above 2 GB.</exception>
        internal static byte[] ReadFile(string path, out int length)
        {
            // A pooled buffer: files of X-rays are often above the large-object-heap threshold, and
            // allocating one per image per epoch would keep the garbage collector busy.
            try
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
                if (file.Length > int.MaxValue)
                {
                    throw new ImageDataException(path, Format("Image file '{0}' is {1} bytes long; files above 2 GB are not images this SDK can use.", path, file.Length));
                }

                length = (int)file.Length;
                byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
                try
                {
                    file.ReadExactly(buffer, 0, length);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }

                return buffer;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ImageDataException(path, Format("Image file '{0}' cannot be read: {1} Check that it exists and is readable.", path, e.Message), e);
            }
        }

        public static FloatImage Decode(string path, byte[] bytes, ImageLoadOptions options) => Decode(path, bytes, bytes.Length, options);

        /// <summary>Decodes the first <paramref name="length"/> bytes of <paramref name="buffer"/>.</summary>
        public static FloatImage Decode(string path, byte[] buffer, int length, ImageLoadOptions options)
        {
            ReadOnlySpan<byte> bytes = buffer.AsSpan(0, length);
            if (bytes.Length == 0)
            {
                throw new ImageDataException(path, Format("Image file '{0}' is empty (0 bytes); expected a PNG, JPEG or BMP image. Remove it or replace it with the original file.", path));
            }

            if (IsDicom(path, bytes))
            {
                return DicomImageDecoding.Decode(path, buffer.AsMemory(0, length), options);
            }

            if (JpegCodec.HasSignature(bytes))
            {
                return DecodeJpeg(path, bytes, options);
            }

            if (GrayPngDecoder.IsFastGray(bytes, out int grayWidth, out int grayHeight, out int bitDepth))
            {
                CheckPixels(path, grayWidth, grayHeight, options);
                CheckComplete(path, bytes, PngFormat.Instance);
                try
                {
                    FloatImage? gray = GrayPngDecoder.Decode(buffer, length, grayWidth, grayHeight, bitDepth, Scale8, Scale16);
                    if (gray is not null)
                    {
                        return gray;
                    }
                }
                catch (Exception e) when (e is InvalidDataException or OverflowException)
                {
                    throw new ImageDataException(path, Format("Image file '{0}' (PNG, {1}x{2}, {3}-bit gray) cannot be decoded: {4}. Remove or replace the file.", path, grayWidth, grayHeight, bitDepth, e.Message), e);
                }
            }

            IImageInfo? info;
            IImageFormat? format;
            BmpHeader.Check(path, bytes, options);
            try
            {
                using var stream = new MemoryStream(buffer, 0, length, writable: false);
                info = Image.Identify(Config, stream, out format);
            }
            catch (Exception e) when (IsBadImageData(e))
            {
                throw new ImageDataException(path, Format("Image file '{0}' has a corrupt header ({1}); expected a PNG, JPEG or BMP image. Remove or replace the file.", path, e.Message), e);
            }

            if (info is null || format is null)
            {
                throw new ImageDataException(path, Format("Image file '{0}' is not a PNG, JPEG, BMP or DICOM image: its content looks like {1}. Convert it to PNG (16-bit for X-rays) or remove it.", path, Sniff(bytes)));
            }

            CheckPixels(path, info.Width, info.Height, options);
            CheckComplete(path, bytes, format);

            try
            {
                if (format is PngFormat)
                {
                    PngMetadata png = info.Metadata.GetPngMetadata();
                    bool gray = png.ColorType is PngColorType.Grayscale or PngColorType.GrayscaleWithAlpha;
                    bool wide = png.BitDepth == PngBitDepth.Bit16;
                    return (gray, wide) switch
                    {
                        (true, true) => DecodeGray16(bytes),
                        (true, false) => DecodeGray8(bytes),
                        (false, true) => DecodeRgb48(bytes),
                        _ => DecodeRgb24(bytes),
                    };
                }

                return DecodeRgb24(bytes);
            }
            catch (Exception e) when (IsBadImageData(e))
            {
                throw new ImageDataException(path, Format("Image file '{0}' ({1}, {2}x{3}) cannot be decoded: {4} Remove or replace the file.", path, format.Name, info.Width, info.Height, e.Message), e);
            }
        }

        /// <summary>
        /// Whether a decoder's exception says the file's data cannot be decoded: ImageSharp's
        /// <see cref="ImageFormatException"/> family (invalid content, unknown format), its
        /// <see cref="NotSupportedException"/> for valid files it does not decode, and the inflate and
        /// end-of-data errors of compressed streams. Anything else is a bug (ours or a decoder's) and must
        /// surface: under <see cref="BadImagePolicy.Skip"/> a bad-data verdict drops the image silently.
        /// </summary>
        internal static bool IsBadImageData(Exception e) =>
            e is ImageFormatException or NotSupportedException or InvalidDataException or EndOfStreamException
            || (e is not OutOfMemoryException && ThrownInsideImageSharp(e));

        /// <summary>
        /// Whether the innermost frame outside the .NET runtime's own assemblies is ImageSharp's: its decoders
        /// throw ArgumentException, InvalidOperationException, DivideByZeroException or NullReferenceException
        /// on some malformed files (found by fuzzing, see docs/security.md), which say the file cannot be decoded
        /// as surely as its ImageFormatException does. An exception raised in the SDK's own code is not one.
        /// </summary>
        private static bool ThrownInsideImageSharp(Exception e)
        {
            var frames = new System.Diagnostics.StackTrace(e, false).GetFrames();
            foreach (var frame in frames)
            {
                var assembly = frame.GetMethod()?.DeclaringType?.Assembly;
                if (assembly is null || assembly == typeof(object).Assembly || (assembly.GetName().Name ?? string.Empty).StartsWith("System.", StringComparison.Ordinal))
                {
                    continue;
                }

                return assembly == typeof(Image).Assembly;
            }

            return false;
        }

        private static void CheckPixels(string path, int width, int height, ImageLoadOptions options)
        {
            long pixels = (long)width * height;
            if (width <= 0 || height <= 0 || pixels > options.MaxPixels)
            {
                throw new ImageDataException(path, Format("Image file '{0}' declares {1}x{2} = {3} pixels; the limit is {4} (ImageLoadOptions.MaxPixels). Downscale the image or raise the limit if it is genuine.", path, width, height, pixels, options.MaxPixels));
            }
        }

        /// <summary>
        /// ImageSharp fills the missing part of a truncated JPEG or PNG with black instead of failing,
        /// so completeness is checked on the bytes: a JPEG must end its last scan with an EOI marker,
        /// a PNG must contain its IEND chunk, a BMP must be as long as its header says.
        /// </summary>
        private static void CheckComplete(string path, ReadOnlySpan<byte> bytes, IImageFormat format)
        {
            ReadOnlySpan<byte> span = bytes;
            bool complete = format switch
            {
                JpegFormat => span.LastIndexOf(stackalloc byte[] { 0xFF, 0xD9 }) > span.LastIndexOf(stackalloc byte[] { 0xFF, 0xDA }),
                PngFormat => span.Slice(Math.Max(0, span.Length - 4096)).IndexOf("IEND"u8) >= 0,
                BmpFormat => span.Length >= 6 && BinaryPrimitives.ReadUInt32LittleEndian(span.Slice(2)) <= (uint)span.Length,
                _ => true,
            };

            if (!complete)
            {
                throw new ImageDataException(path, Format("Image file '{0}' is a truncated {1} ({2} bytes): {3}. The file was cut short (interrupted copy or download); replace it with a complete copy.", path, format.Name, bytes.Length, format switch
                {
                    JpegFormat => "its last scan has no end-of-image marker",
                    PngFormat => "it has no IEND chunk",
                    _ => "it is shorter than its header declares",
                }));
            }
        }

        private static FloatImage DecodeGray16(ReadOnlySpan<byte> bytes)
        {
            using Image<L16> image = Load<L16>(bytes);
            FloatImage result = FloatImage.Rent(1, image.Width, image.Height, 65535f);
            float[] dst = result.Buffer;
            int width = image.Width;
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                {
                    Span<L16> row = rows.GetRowSpan(y);
                    int o = y * width;
                    for (int x = 0; x < row.Length; x++)
                    {
                        dst[o + x] = Scale16[row[x].PackedValue];
                    }
                }
            });
            return result;
        }

        private static FloatImage DecodeGray8(ReadOnlySpan<byte> bytes)
        {
            using Image<L8> image = Load<L8>(bytes);
            FloatImage result = FloatImage.Rent(1, image.Width, image.Height, 255f);
            float[] dst = result.Buffer;
            int width = image.Width;
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                {
                    Span<L8> row = rows.GetRowSpan(y);
                    int o = y * width;
                    for (int x = 0; x < row.Length; x++)
                    {
                        dst[o + x] = Scale8[row[x].PackedValue];
                    }
                }
            });
            return result;
        }

        private static FloatImage DecodeRgb24(ReadOnlySpan<byte> bytes)
        {
            using Image<Rgb24> image = Load<Rgb24>(bytes);
            FloatImage result = FloatImage.Rent(3, image.Width, image.Height, 255f);
            float[] dst = result.Buffer;
            int width = image.Width;
            int plane = result.PlaneLength;
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                {
                    Span<Rgb24> row = rows.GetRowSpan(y);
                    int o = y * width;
                    for (int x = 0; x < row.Length; x++)
                    {
                        Rgb24 p = row[x];
                        dst[o + x] = Scale8[p.R];
                        dst[plane + o + x] = Scale8[p.G];
                        dst[(2 * plane) + o + x] = Scale8[p.B];
                    }
                }
            });
            return result;
        }

        private static FloatImage DecodeRgb48(ReadOnlySpan<byte> bytes)
        {
            using Image<Rgb48> image = Load<Rgb48>(bytes);
            FloatImage result = FloatImage.Rent(3, image.Width, image.Height, 65535f);
            float[] dst = result.Buffer;
            int width = image.Width;
            int plane = result.PlaneLength;
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                {
                    Span<Rgb48> row = rows.GetRowSpan(y);
                    int o = y * width;
                    for (int x = 0; x < row.Length; x++)
                    {
                        Rgb48 p = row[x];
                        dst[o + x] = Scale16[p.R];
                        dst[plane + o + x] = Scale16[p.G];
                        dst[(2 * plane) + o + x] = Scale16[p.B];
                    }
                }
            });
            return result;
        }

        private static Image<TPixel> Load<TPixel>(ReadOnlySpan<byte> bytes)
            where TPixel : unmanaged, IPixel<TPixel>
        {
            Image<TPixel> image = Image.Load<TPixel>(Config, bytes);
            if (image.Metadata.ExifProfile is not null)
            {
                // Cameras and some scanners store the image sideways and say so in EXIF.
                image.Mutate(x => x.AutoOrient());
            }

            return image;
        }

        private static string Sniff(ReadOnlySpan<byte> b)
        {
            if (b.StartsWith("GIF8"u8))
            {
                return "a GIF image (not supported)";
            }

            if (b.StartsWith("II*\0"u8) || b.StartsWith("MM\0*"u8))
            {
                return "a TIFF image (not supported)";
            }

            if (b.Length >= 12 && b.StartsWith("RIFF"u8) && b.Slice(8, 4).SequenceEqual("WEBP"u8))
            {
                return "a WebP image (not supported)";
            }

            if (b.StartsWith("%PDF"u8))
            {
                return "a PDF document";
            }

            return "unrecognised data (first bytes " + Convert.ToHexString(b.Slice(0, Math.Min(8, b.Length))) + ")";
        }

        private static float[] BuildScale(int max)
        {
            var table = new float[max + 1];
            for (int i = 0; i <= max; i++)
            {
                // torchvision divides by the maximum; the nearest float to i/max, exactly.
                table[i] = (float)(i / (double)max);
            }

            return table;
        }

        private static string Format(string format, params object[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
    }
}
