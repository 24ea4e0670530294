using System;
using System.Buffers;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// A planar float image (channel, row, column) with values in [0, 1], 1 or 3 channels. The buffer
    /// comes from <see cref="ArrayPool{T}"/>: transforms take ownership of their input and return an
    /// owned output, disposing what they no longer need, so an epoch allocates almost nothing.
    /// </summary>
    internal sealed class FloatImage : IDisposable
    {
        private float[]? data;
        private float fullScale;

        private FloatImage(float[] data, int channels, int width, int height, float fullScale)
        {
            this.data = data;
            Channels = channels;
            Width = width;
            Height = height;
            this.fullScale = fullScale;
        }

        public int Channels { get; }

        public int Width { get; }

        public int Height { get; }

        /// <summary>
        /// The raw stored value that 1.0 stands for (255 for 8-bit files, 65535 for 16-bit files, 1
        /// once an intensity transform has mapped values to display range). Windowing uses it to
        /// take its center and width in the file's own units. Setting it resets
        /// <see cref="ValueOffset"/> and <see cref="Inverted"/> (values are then plain display values).
        /// </summary>
        public float FullScale
        {
            get => fullScale;
            set
            {
                fullScale = value;
                ValueOffset = 0;
                Inverted = false;
            }
        }

        /// <summary>
        /// The file value that 0.0 stands for: a file value is <c>ValueOffset + p * FullScale</c>
        /// (with <c>1 - p</c> for p when <see cref="Inverted"/>). 0 for PNG/JPEG/BMP; the bottom of
        /// the stored or modality range for DICOM (for CT, for example, -1024 HU).
        /// </summary>
        public double ValueOffset { get; private set; }

        /// <summary>
        /// Whether pixel values run opposite to file values (MONOCHROME1 DICOM, inverted so that
        /// bright means dense); windowing in file units keeps the inversion.
        /// </summary>
        public bool Inverted { get; private set; }

        /// <summary>Sets how pixel values relate to file values (see <see cref="ValueOffset"/>).</summary>
        public void SetValueScale(float scale, double offset, bool inverted)
        {
            fullScale = scale;
            ValueOffset = offset;
            Inverted = inverted;
        }

        /// <summary>A new image of this one's channels and value scale, in another size (for transforms that resample).</summary>
        public FloatImage RentLike(int width, int height)
        {
            FloatImage result = Rent(Channels, width, height, fullScale);
            result.SetValueScale(fullScale, ValueOffset, Inverted);
            return result;
        }

        public int PlaneLength => Width * Height;

        public int Length => Channels * Width * Height;

        public float[] Buffer => data ?? throw new ObjectDisposedException(nameof(FloatImage));

        public Span<float> Pixels => Buffer.AsSpan(0, Length);

        public static FloatImage Rent(int channels, int width, int height, float fullScale)
        {
            if (channels is not (1 or 3))
            {
                throw new ArgumentOutOfRangeException(nameof(channels), channels, "Expected 1 or 3 channels.");
            }

            return new FloatImage(ArrayPool<float>.Shared.Rent(checked(channels * width * height)), channels, width, height, fullScale);
        }

        public Span<float> Plane(int channel) => Buffer.AsSpan(channel * PlaneLength, PlaneLength);

        public FloatImage Clone()
        {
            FloatImage copy = RentLike(Width, Height);
            Pixels.CopyTo(copy.Pixels);
            return copy;
        }

        /// <summary>
        /// Returns an image with <paramref name="channels"/> channels (this instance is consumed): a gray plane is
        /// replicated to three; three planes become one gray plane by torchvision's luminance weights
        /// (0.2989 R + 0.587 G + 0.114 B), for models that take gray input.
        /// </summary>
        public FloatImage ToChannels(int channels)
        {
            if (channels == Channels)
            {
                return this;
            }

            if (channels == 3)
            {
                return ToThreeChannels();
            }

            FloatImage gray = Rent(1, Width, Height, FullScale);
            Span<float> target = gray.Plane(0);
            ReadOnlySpan<float> r = Plane(0), g = Plane(1), b = Plane(2);
            for (int i = 0; i < target.Length; i++)
            {
                target[i] = (0.2989f * r[i]) + (0.587f * g[i]) + (0.114f * b[i]);
            }

            Dispose();
            return gray;
        }

        /// <summary>Returns a 3-channel image, replicating a gray plane (this instance is consumed).</summary>
        public FloatImage ToThreeChannels()
        {
            if (Channels == 3)
            {
                return this;
            }

            FloatImage rgb = Rent(3, Width, Height, fullScale);
            rgb.SetValueScale(fullScale, ValueOffset, Inverted);
            Span<float> gray = Plane(0);
            gray.CopyTo(rgb.Plane(0));
            gray.CopyTo(rgb.Plane(1));
            gray.CopyTo(rgb.Plane(2));
            Dispose();
            return rgb;
        }

        public void Dispose()
        {
            float[]? buffer = data;
            data = null;
            if (buffer is not null)
            {
                ArrayPool<float>.Shared.Return(buffer);
            }
        }
    }
}
