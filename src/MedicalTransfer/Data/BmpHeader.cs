using System;
using System.Buffers.Binary;
using System.Globalization;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Checks a BMP's headers before ImageSharp reads them. ImageSharp 2.1 allocates the bytes between the
    /// headers and the declared pixel-data offset (the palette) before it checks either against the file, so
    /// a 36-byte BMP claiming a 1.2 GB offset made it allocate 1.7 GB (found by fuzzing, see docs/security.md).
    /// Here every header field that sizes an allocation is checked against the bytes present and the pixel limit.
    /// </summary>
    internal static class BmpHeader
    {
        private const int FileHeaderBytes = 14;

        // BITMAPCOREHEADER, OS/2 2.x short, BITMAPINFOHEADER, Adobe V3, Adobe V3 with alpha, OS/2 2.x, V4, V5:
        // the info headers ImageSharp reads.
        private static readonly int[] InfoHeaderSizes = { 12, 16, 40, 52, 56, 64, 108, 124 };

        /// <summary>Throws <see cref="ImageDataException"/> when a file that starts with "BM" has headers no real BMP has.</summary>
        public static void Check(string path, ReadOnlySpan<byte> bytes, ImageLoadOptions options)
        {
            if (bytes.StartsWith("BA"u8))
            {
                // An OS/2 bitmap array: ImageSharp's BMP decoder reads the "BM" image inside it, which none of the checks
                // below would see (found by fuzzing: 64 bytes made it allocate 1 GB; finding 15 in docs/security.md).
                throw new ImageDataException(path, string.Format(
                    CultureInfo.InvariantCulture,
                    "Image file '{0}' is an OS/2 bitmap array (it starts with \"BA\"), which MedicalTransfer does not read. Convert it to PNG (16-bit for X-rays) or remove it.",
                    path));
            }

            if (!bytes.StartsWith("BM"u8))
            {
                return;
            }

            if (bytes.Length < FileHeaderBytes + 12)
            {
                throw Corrupt(path, string.Format(CultureInfo.InvariantCulture, "it is {0} bytes long, shorter than the smallest BMP header ({1} bytes)", bytes.Length, FileHeaderBytes + 12));
            }

            uint pixelOffset = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(10));
            uint infoSize = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(FileHeaderBytes));
            if (Array.IndexOf(InfoHeaderSizes, (int)Math.Min(infoSize, int.MaxValue)) < 0)
            {
                throw Corrupt(path, string.Format(CultureInfo.InvariantCulture, "its info header declares {0} bytes; BMP info headers are {1} bytes", infoSize, string.Join(", ", InfoHeaderSizes)));
            }

            if (FileHeaderBytes + infoSize > bytes.Length || pixelOffset > bytes.Length)
            {
                throw Corrupt(path, string.Format(CultureInfo.InvariantCulture, "its headers declare a {0}-byte info header and pixel data at offset {1}, beyond the end of the {2}-byte file", infoSize, pixelOffset, bytes.Length));
            }

            long width, height;
            if (infoSize == 12)
            {
                width = BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(18));
                height = BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(20));
            }
            else
            {
                width = BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(18));
                height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(22))); // negative: stored top-down
            }

            if (width <= 0 || height <= 0 || width * height > options.MaxPixels)
            {
                throw new ImageDataException(path, string.Format(
                    CultureInfo.InvariantCulture,
                    "Image file '{0}' (BMP) declares {1}x{2} = {3} pixels; expected a positive size of at most {4} pixels (ImageLoadOptions.MaxPixels). Remove or replace the file, or raise the limit if it is genuine.",
                    path,
                    width,
                    height,
                    width * height,
                    options.MaxPixels));
            }
        }

        private static ImageDataException Corrupt(string path, string what) => new(path, string.Format(
            CultureInfo.InvariantCulture,
            "Image file '{0}' starts like a BMP image but is corrupt: {1}. Remove or replace the file.",
            path,
            what));
    }
}
