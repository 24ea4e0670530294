using System;
using System.Buffers;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// The SDK's one JPEG decoder, for image files and DICOM JPEG Baseline frames alike: libjpeg-turbo
    /// inside SkiaSharp, the library Pillow (and so pydicom and PIL + torchvision pipelines) decodes JPEG
    /// with, used with the same settings (accurate integer IDCT, fancy chroma upsampling), so the samples
    /// equal Pillow's exactly, 4:2:0 colour included. Only bytes that start with a JPEG start-of-image
    /// marker are handed to Skia, and the codec it picks must be its JPEG codec: Skia's other decoders
    /// (GIF, WebP, ICO, ...) never see user data. The header is read first, so the caller can refuse an
    /// image above the pixel limit before any pixel memory is allocated. Not thread-affine: one instance
    /// per image, disposed after use.
    /// </summary>
    internal sealed class JpegCodec : IDisposable
    {
        private readonly SKData data;
        private readonly SKCodec codec;

        private JpegCodec(SKData data, SKCodec codec)
        {
            this.data = data;
            this.codec = codec;
            // Read once: each read of Info wraps the codec's colour space in a managed object.
            SKImageInfo info = codec.Info;
            Width = info.Width;
            Height = info.Height;
            Gray = info.ColorType == SKColorType.Gray8;
            Origin = codec.EncodedOrigin;
        }

        /// <summary>Width of the stored image in pixels (before EXIF orientation).</summary>
        public int Width { get; }

        /// <summary>Height of the stored image in pixels (before EXIF orientation).</summary>
        public int Height { get; }

        /// <summary>Whether the JPEG has one (gray) component; otherwise it decodes to RGB.</summary>
        public bool Gray { get; }

        /// <summary>The EXIF orientation (top-left when the file has none).</summary>
        public SKEncodedOrigin Origin { get; }

        /// <summary>Samples per pixel in <see cref="DecodeRented"/>'s output: 1 (gray) or 4 (R, G, B, 255).</summary>
        public int SamplesPerPixel => Gray ? 1 : 4;

        /// <summary>Whether the bytes start with a JPEG start-of-image marker followed by a marker (FF D8 FF).</summary>
        public static bool HasSignature(ReadOnlySpan<byte> bytes) => bytes.Length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;

        /// <summary>Reads the header; null when the bytes are not a JPEG libjpeg-turbo can read the header of.</summary>
        public static JpegCodec? Open(ReadOnlySpan<byte> jpeg)
        {
            if (!HasSignature(jpeg))
            {
                return null;
            }

            SKData data = SKData.CreateCopy(jpeg);
            SKCodec? codec = SKCodec.Create(data);
            if (codec is null || codec.EncodedFormat != SKEncodedImageFormat.Jpeg)
            {
                codec?.Dispose();
                data.Dispose();
                return null;
            }

            var opened = new JpegCodec(data, codec);
            if (opened.Width <= 0 || opened.Height <= 0)
            {
                opened.Dispose();
                return null;
            }

            return opened;
        }

        /// <summary>
        /// Decodes every pixel into a buffer rented from <see cref="ArrayPool{T}.Shared"/> (return it):
        /// <see cref="SamplesPerPixel"/> bytes per pixel, row by row, in stored orientation, without
        /// any colour management (an embedded ICC profile is ignored, as Pillow ignores it).
        /// </summary>
        /// <param name="result">Skia's verdict: anything but <see cref="SKCodecResult.Success"/> means the data is corrupt or cut short.</param>
        public byte[] DecodeRented(out SKCodecResult result)
        {
            var info = new SKImageInfo(Width, Height, Gray ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
            byte[] samples = ArrayPool<byte>.Shared.Rent(checked(Width * Height * SamplesPerPixel));
            GCHandle pin = GCHandle.Alloc(samples, GCHandleType.Pinned);
            try
            {
                result = codec.GetPixels(info, pin.AddrOfPinnedObject());
            }
            finally
            {
                pin.Free();
            }

            return samples;
        }

        /// <summary>What a failed decode means, for the SDK's error messages.</summary>
        public static string Describe(SKCodecResult result) => result switch
        {
            SKCodecResult.IncompleteInput => "libjpeg-turbo ran out of data before the last row (the file is cut short)",
            SKCodecResult.ErrorInInput => "libjpeg-turbo found an error in the compressed data",
            SKCodecResult.InvalidInput => "libjpeg-turbo cannot decode its compressed data",
            SKCodecResult.Unimplemented => "it uses a JPEG feature libjpeg-turbo does not decode",
            _ => "libjpeg-turbo reported " + result,
        };

        public void Dispose()
        {
            codec.Dispose();
            data.Dispose();
        }
    }
}
