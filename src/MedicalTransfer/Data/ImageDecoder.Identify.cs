using System;
using System.Buffers;
using System.IO;
using MedicalTransfer.Data.Dicom;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace MedicalTransfer.Data
{
    /// <summary>What the pre-flight check learns about an image file without decoding its pixels.</summary>
    /// <param name="Format">PNG, JPEG, BMP or DICOM.</param>
    /// <param name="Width">Width in pixels.</param>
    /// <param name="Height">Height in pixels.</param>
    /// <param name="Dicom">The DICOM header, for DICOM files.</param>
    internal sealed record ImageFileInfo(string Format, int Width, int Height, DicomHeader? Dicom);

    /// <summary>DICOM dispatch and header identification (the pre-flight check) of the one image decoder.</summary>
    internal static partial class ImageDecoder
    {
        /// <summary>
        /// Checks a file as far as it can be checked without decoding pixels: it is readable, not
        /// empty, in a supported format, within the pixel limit, and complete (a JPEG's end marker,
        /// a PNG's IEND, a BMP's size; a DICOM file's whole structure, transfer syntax and pixel
        /// data length).
        /// </summary>
        /// <exception cref="ImageDataException">The file would fail to decode; the message says why.</exception>
        public static ImageFileInfo Identify(string path, ImageLoadOptions options)
        {
            byte[] buffer;
            int length;
            try
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
                if (file.Length > int.MaxValue)
                {
                    throw new ImageDataException(path, Format("Image file '{0}' is {1} bytes long; files above 2 GB are not images this SDK can use.", path, file.Length));
                }

                length = (int)file.Length;
                buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
                try
                {
                    file.ReadExactly(buffer, 0, length);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ImageDataException(path, Format("Image file '{0}' cannot be read: {1} Check that it exists and is readable.", path, e.Message), e);
            }

            try
            {
                return Identify(path, buffer, length, options);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        public static ImageFileInfo Identify(string path, byte[] buffer, int length, ImageLoadOptions options)
        {
            ReadOnlySpan<byte> bytes = buffer.AsSpan(0, length);
            if (bytes.Length == 0)
            {
                throw new ImageDataException(path, Format("Image file '{0}' is empty (0 bytes); expected a PNG, JPEG, BMP or DICOM image. Remove it or replace it with the original file.", path));
            }

            if (IsDicom(path, bytes))
            {
                DicomHeader header = DicomImageDecoding.ReadHeader(path, buffer.AsMemory(0, length), options);
                return new ImageFileInfo("DICOM", header.Columns, header.Rows, header);
            }

            if (JpegCodec.HasSignature(bytes))
            {
                return IdentifyJpeg(path, bytes, options);
            }

            if (GrayPngDecoder.IsFastGray(bytes, out int grayWidth, out int grayHeight, out _))
            {
                CheckPixels(path, grayWidth, grayHeight, options);
                CheckComplete(path, bytes, PngFormat.Instance);
                return new ImageFileInfo("PNG", grayWidth, grayHeight, null);
            }

            IImageInfo? info;
            IImageFormat? format;
            try
            {
                using var stream = new MemoryStream(buffer, 0, length, writable: false);
                info = Image.Identify(Config, stream, out format);
            }
            catch (Exception e) when (e is InvalidImageContentException or UnknownImageFormatException or NotSupportedException or ImageFormatException or InvalidDataException)
            {
                throw new ImageDataException(path, Format("Image file '{0}' has a corrupt header ({1}); expected a PNG, JPEG, BMP or DICOM image. Remove or replace the file.", path, e.Message), e);
            }

            if (info is null || format is null)
            {
                throw new ImageDataException(path, Format("Image file '{0}' is not a PNG, JPEG, BMP or DICOM image: its content looks like {1}. Convert it to PNG (16-bit for X-rays) or remove it.", path, Sniff(bytes)));
            }

            CheckPixels(path, info.Width, info.Height, options);
            CheckComplete(path, bytes, format);
            return new ImageFileInfo(format.Name, info.Width, info.Height, null);
        }

        /// <summary>
        /// DICOM by content ('DICM' after the preamble, or a data set without one), or by extension
        /// (.dcm) when the content is not a PNG, JPEG or BMP signature, so that a truncated .dcm file
        /// gets the DICOM reader's diagnosis.
        /// </summary>
        private static bool IsDicom(string path, ReadOnlySpan<byte> bytes)
        {
            bool raster = bytes.StartsWith(stackalloc byte[] { 0x89, 0x50, 0x4E, 0x47 }) || bytes.StartsWith(stackalloc byte[] { 0xFF, 0xD8 }) || bytes.StartsWith("BM"u8);
            return !raster && (DicomImageDecoding.LooksLikeDicom(bytes) || DicomImageDecoding.HasDicomExtension(path));
        }
    }
}
