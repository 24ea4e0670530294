using System;
using System.Globalization;
using MedicalTransfer.Internal;
using static TorchSharp.torch;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// One image file decoded exactly as every data pipeline of the SDK decodes it (the one decoder: PNG, JPEG,
    /// BMP and DICOM, the pixel limit, EXIF orientation, 16-bit gray kept at 16 bits), for inspection and tests.
    /// <c>model.PrepareImage(path)</c> (<see cref="TransferModelImageExtensions"/>) goes on to the model's
    /// evaluation preprocessing.
    /// </summary>
    public static class ImageFile
    {
        /// <summary>Decodes one file.</summary>
        /// <param name="path">A PNG, JPEG, BMP or DICOM file.</param>
        /// <param name="options">Pixel limit and DICOM decoding; <see langword="null"/> for <see cref="ImageLoadOptions.Default"/>. <see cref="ImageLoadOptions.BadImages"/> does not apply: a single file that cannot be decoded always throws.</param>
        /// <returns>The planar image, values in [0, 1].</returns>
        /// <exception cref="ImageDataException">The file cannot be read or decoded; the message names it and says why.</exception>
        public static DecodedImage Load(string path, ImageLoadOptions? options = null)
        {
            Guard.NotNullOrWhiteSpace(path);
            using var image = ImageDecoder.Decode(path, (options ?? ImageLoadOptions.Default).Validate());
            return new DecodedImage(path, image.Channels, image.Width, image.Height, image.Pixels.ToArray());
        }
    }

    /// <summary>
    /// A decoded image: <see cref="Channels"/> planes (1 for gray, 3 for RGB) of <see cref="Height"/> rows of
    /// <see cref="Width"/> values in [0, 1], where 1 is the file's full scale (255 for 8-bit, 65535 for 16-bit
    /// files, the window's top for DICOM).
    /// </summary>
    public sealed class DecodedImage
    {
        private readonly float[] _values;

        internal DecodedImage(string path, int channels, int width, int height, float[] values)
        {
            Path = path;
            Channels = channels;
            Width = width;
            Height = height;
            _values = values;
        }

        /// <summary>The file it was decoded from.</summary>
        public string Path { get; }

        /// <summary>1 (gray) or 3 (RGB).</summary>
        public int Channels { get; }

        /// <summary>Columns.</summary>
        public int Width { get; }

        /// <summary>Rows.</summary>
        public int Height { get; }

        /// <summary>The value of channel <paramref name="channel"/> at row <paramref name="y"/>, column <paramref name="x"/>.</summary>
        /// <param name="channel">0 for gray; 0, 1, 2 for R, G, B.</param>
        /// <param name="y">Row, from the top.</param>
        /// <param name="x">Column, from the left.</param>
        /// <returns>A value in [0, 1].</returns>
        /// <exception cref="ArgumentOutOfRangeException">An index is outside the image.</exception>
        public float this[int channel, int y, int x]
        {
            get
            {
                if ((uint)channel >= (uint)Channels || (uint)y >= (uint)Height || (uint)x >= (uint)Width)
                {
                    throw new ArgumentOutOfRangeException(
                        nameof(channel),
                        string.Format(CultureInfo.InvariantCulture, "[{0}, {1}, {2}] is outside the {3}x{4}x{5} image '{6}'.", channel, y, x, Channels, Height, Width, Path));
                }

                return _values[(((channel * Height) + y) * Width) + x];
            }
        }

        /// <summary>A copy of the values, planar (channel, row, column).</summary>
        /// <returns>Channels x Height x Width values.</returns>
        public float[] ToArray() => (float[])_values.Clone();

        /// <summary>The image as a float32 tensor of shape [Channels, Height, Width] on the CPU; the caller owns it.</summary>
        /// <returns>The tensor.</returns>
        public Tensor ToTensor() => tensor(_values, new long[] { Channels, Height, Width });

        /// <inheritdoc />
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0} ({1}x{2}, {3} channel(s))", Path, Width, Height, Channels);
    }
}
