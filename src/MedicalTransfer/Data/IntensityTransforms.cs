using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Numerics;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// torchvision's <c>ColorJitter(brightness, contrast)</c>: factors uniform in
    /// [max(0, 1 - b), 1 + b], applied in random order; brightness scales, contrast blends with the
    /// mean gray level; results clamped to [0, 1].
    /// </summary>
    internal sealed class ColorJitterTransform : ImageTransform
    {
        private readonly double brightness;
        private readonly double contrast;

        public ColorJitterTransform(double brightness, double contrast)
        {
            this.brightness = brightness;
            this.contrast = contrast;
        }

        public static void Brightness(FloatImage image, float factor)
        {
            Span<float> p = image.Pixels;
            for (int i = 0; i < p.Length; i++)
            {
                p[i] = Math.Clamp(p[i] * factor, 0f, 1f);
            }
        }

        public static void Contrast(FloatImage image, float factor)
        {
            // torchvision: mean of rgb_to_grayscale (0.2989 R + 0.587 G + 0.114 B) over the image.
            double mean;
            if (image.Channels == 1)
            {
                mean = Sum(image.Plane(0)) / image.PlaneLength;
            }
            else
            {
                mean = ((0.2989 * Sum(image.Plane(0))) + (0.587 * Sum(image.Plane(1))) + (0.114 * Sum(image.Plane(2)))) / image.PlaneLength;
            }

            float offset = (float)((1 - factor) * mean);
            Span<float> p = image.Pixels;
            for (int i = 0; i < p.Length; i++)
            {
                p[i] = Math.Clamp((factor * p[i]) + offset, 0f, 1f);
            }
        }

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            bool brightnessFirst = random.NextDouble() < 0.5;
            float b = brightness > 0 ? (float)random.Uniform(Math.Max(0, 1 - brightness), 1 + brightness) : 1f;
            float c = contrast > 0 ? (float)random.Uniform(Math.Max(0, 1 - contrast), 1 + contrast) : 1f;
            if (brightnessFirst)
            {
                Brightness(image, b);
                Contrast(image, c);
            }
            else
            {
                Contrast(image, c);
                Brightness(image, b);
            }

            return image;
        }

        private static double Sum(ReadOnlySpan<float> values)
        {
            double total = 0;
            foreach (float v in values)
            {
                total += v;
            }

            return total;
        }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "ColorJitter(brightness={0}, contrast={1})", brightness, contrast);
    }

    /// <summary>
    /// torchvision's <c>ToTensor</c>. Decoding already yields floats in [0, 1] (8-bit values
    /// divided by 255, 16-bit by 65535), so this step only marks where a torchvision pipeline
    /// converts; it keeps pipelines readable as 1:1 translations.
    /// </summary>
    internal sealed class ToTensorTransform : ImageTransform
    {
        internal override FloatImage Apply(FloatImage image, ref SampleRandom random) => image;

        public override string ToString() => "ToTensor()";
    }

    /// <summary>
    /// Per-channel <c>(x * scale - mean) / std</c> after ordering the channels. With three means a gray image is
    /// replicated to three channels first (ImageNet backbones expect three); with one mean (a model built for gray
    /// input) the output has one channel, and a colour image is first reduced to its luminance.
    /// </summary>
    internal sealed class NormalizeTransform : ImageTransform
    {
        private readonly float[] mean;
        private readonly float[] std;
        private readonly float scale;
        private readonly ChannelOrder order;

        public NormalizeTransform(IReadOnlyList<float> mean, IReadOnlyList<float> std, float scale, ChannelOrder order)
        {
            this.mean = mean.ToArray();
            this.std = std.ToArray();
            this.scale = scale;
            this.order = order;
        }

        /// <summary>What this step maps pixels to, for comparing a loader's input with a model's (see <see cref="InputNormalization"/>).</summary>
        internal InputNormalization Normalization => new(order, scale, mean, std);
        internal override int? OutputChannels => mean.Length;

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            FloatImage source = mean.Length == 1 ? image.ToChannels(1) : image;
            FloatImage result = FloatImage.Rent(mean.Length, image.Width, image.Height, 1f);
            for (int c = 0; c < mean.Length; c++)
            {
                int from = source.Channels == 1 ? 0 : order == ChannelOrder.Bgr ? 2 - c : c;
                ReadOnlySpan<float> src = source.Plane(from);
                Span<float> dst = result.Plane(c);
                float a = scale / std[c];
                float b = -mean[c] / std[c];
                // A multiply, then an add (never fused): the vector loop gives the scalar loop's bits.
                int i = 0;
                if (Vector.IsHardwareAccelerated)
                {
                    var va = new Vector<float>(a);
                    var vb = new Vector<float>(b);
                    for (; i + Vector<float>.Count <= dst.Length; i += Vector<float>.Count)
                    {
                        ((new Vector<float>(src.Slice(i, Vector<float>.Count)) * va) + vb).CopyTo(dst.Slice(i));
                    }
                }

                for (; i < dst.Length; i++)
                {
                    dst[i] = (src[i] * a) + b;
                }
            }

            source.Dispose();
            return result;
        }

        public override string ToString() => string.Format(
            CultureInfo.InvariantCulture,
            "Normalize(mean=({0}), std=({1}){2}{3})",
            string.Join(", ", mean),
            string.Join(", ", std),
            scale == 1f ? string.Empty : ", scale=" + scale.ToString(CultureInfo.InvariantCulture),
            order == ChannelOrder.Rgb ? string.Empty : ", BGR");
    }

    /// <summary>
    /// Intensity windowing (window center and width, as on a radiology workstation) in the file's
    /// own units: for a 16-bit file, center 2048 and width 4096 show raw values 0..4096.
    /// </summary>
    internal sealed class WindowTransform : ImageTransform
    {
        private readonly double center;
        private readonly double width;

        public WindowTransform(double center, double width)
        {
            this.center = center;
            this.width = width;
        }

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            // File value v = offset + p * scale (1 - p for an inverted image); out = (v - low) / width,
            // flipped again for an inverted image so that bright still means dense.
            double scale = image.Inverted ? -image.FullScale : image.FullScale;
            double offset = image.Inverted ? image.ValueOffset + image.FullScale : image.ValueOffset;
            float a = (float)(scale / width);
            float b = (float)((offset - (center - (width / 2))) / width);
            if (image.Inverted)
            {
                a = -a;
                b = 1 - b;
            }

            Span<float> p = image.Pixels;
            for (int i = 0; i < p.Length; i++)
            {
                p[i] = Math.Clamp((p[i] * a) + b, 0f, 1f);
            }

            image.FullScale = 1f;
            return image;
        }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "Window(center={0}, width={1})", center, width);
    }

    /// <summary>
    /// Maps the <c>lower</c> and <c>upper</c> percentiles of the image's values (numpy's linear
    /// interpolation) to 0 and 1, clamping outside; robust to a few saturated or dead pixels.
    /// </summary>
    internal sealed class PercentileRescaleTransform : ImageTransform
    {
        private readonly double lower;
        private readonly double upper;

        public PercentileRescaleTransform(double lower, double upper)
        {
            this.lower = lower;
            this.upper = upper;
        }

        public static (float Low, float High) Percentiles(ReadOnlySpan<float> values, double lower, double upper)
        {
            float[] sorted = ArrayPool<float>.Shared.Rent(values.Length);
            try
            {
                Span<float> s = sorted.AsSpan(0, values.Length);
                values.CopyTo(s);
                s.Sort();
                return (At(s, lower), At(s, upper));
            }
            finally
            {
                ArrayPool<float>.Shared.Return(sorted);
            }

            static float At(ReadOnlySpan<float> s, double q)
            {
                double position = q / 100.0 * (s.Length - 1);
                int i = (int)Math.Floor(position);
                if (i >= s.Length - 1)
                {
                    return s[^1];
                }

                return (float)(s[i] + ((s[i + 1] - s[i]) * (position - i)));
            }
        }

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            (float low, float high) = Percentiles(image.Pixels, lower, upper);
            Span<float> p = image.Pixels;
            if (high <= low)
            {
                // A flat image has no range to stretch.
                p.Clear();
            }
            else
            {
                float a = 1f / (high - low);
                for (int i = 0; i < p.Length; i++)
                {
                    p[i] = Math.Clamp((p[i] - low) * a, 0f, 1f);
                }
            }

            image.FullScale = 1f;
            return image;
        }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "PercentileRescale({0}, {1})", lower, upper);
    }

    /// <summary>
    /// Histogram equalisation per channel: plain (the cumulative histogram maps values so that
    /// they spread evenly over [0, 1]) or contrast-limited adaptive (CLAHE: the same per tile of a
    /// grid, each tile's histogram clipped at <c>clipLimit</c> times its mean bin count with the
    /// excess spread evenly, and tile mappings blended bilinearly between tile centers).
    /// </summary>
    internal sealed class EqualizeTransform : ImageTransform
    {
        private readonly int bins;
        private readonly double clipLimit;
        private readonly int tiles;

        public EqualizeTransform(int bins, double clipLimit, int tiles)
        {
            this.bins = bins;
            this.clipLimit = clipLimit;
            this.tiles = tiles;
        }

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            for (int c = 0; c < image.Channels; c++)
            {
                if (tiles <= 0)
                {
                    EqualizePlain(image.Plane(c), bins);
                }
                else
                {
                    Clahe(image.Plane(c), image.Width, image.Height, bins, clipLimit, tiles);
                }
            }

            image.FullScale = 1f;
            return image;
        }

        public static void EqualizePlain(Span<float> plane, int bins)
        {
            var histogram = new int[bins];
            foreach (float v in plane)
            {
                histogram[Bin(v, bins)]++;
            }

            float[] map = CumulativeMap(histogram, plane.Length);
            for (int i = 0; i < plane.Length; i++)
            {
                plane[i] = map[Bin(plane[i], bins)];
            }
        }

        /// <summary>
        /// OpenCV's <c>createCLAHE(clipLimit, (tiles, tiles)).apply</c>, step for step, on <paramref name="bins"/>
        /// levels: a size that is not a multiple of the grid is first padded at the right and bottom by reflection
        /// (BORDER_REFLECT_101; by a whole tile on the side that already divides, as OpenCV does); each tile's
        /// histogram is clipped at <c>max(1, (int)(clipLimit * tilePixels / bins))</c>, the excess added evenly and
        /// its remainder one by one every <c>bins / remainder</c> bins; each tile maps a bin to
        /// <c>round(cdf * (bins - 1) / tilePixels)</c> levels; pixels blend the four nearest tile maps bilinearly in
        /// single precision. The one difference: the result stays a float (level / (bins - 1)) instead of being
        /// rounded to an integer level, so OpenCV's output is the SDK's times (bins - 1), rounded.
        /// </summary>
        public static void Clahe(Span<float> plane, int width, int height, int bins, double clipLimit, int tiles)
        {
            int tilesX = Math.Min(tiles, width), tilesY = Math.Min(tiles, height);
            bool divides = width % tilesX == 0 && height % tilesY == 0;
            int tileWidth = divides ? width / tilesX : (width + tilesX - (width % tilesX)) / tilesX;
            int tileHeight = divides ? height / tilesY : (height + tilesY - (height % tilesY)) / tilesY;
            int tilePixels = tileWidth * tileHeight;
            int limit = clipLimit > 0 ? Math.Max(1, (int)(clipLimit * tilePixels / bins)) : int.MaxValue;
            float lutScale = (float)(bins - 1) / tilePixels;
            var maps = new float[tilesY, tilesX][];
            var histogram = new int[bins];
            for (int ty = 0; ty < tilesY; ty++)
            {
                for (int tx = 0; tx < tilesX; tx++)
                {
                    Array.Clear(histogram);
                    for (int y = ty * tileHeight; y < (ty + 1) * tileHeight; y++)
                    {
                        int row = Reflect101(y, height) * width;
                        for (int x = tx * tileWidth; x < (tx + 1) * tileWidth; x++)
                        {
                            histogram[Bin(plane[row + Reflect101(x, width)], bins)]++;
                        }
                    }

                    Clip(histogram, limit);
                    var map = new float[bins];
                    int cumulative = 0;
                    for (int b = 0; b < bins; b++)
                    {
                        cumulative += histogram[b];
                        map[b] = Math.Min(MathF.Round(cumulative * lutScale, MidpointRounding.ToEven), bins - 1);
                    }

                    maps[ty, tx] = map;
                }
            }

            float inverseWidth = 1f / tileWidth, inverseHeight = 1f / tileHeight, levels = bins - 1;
            for (int y = 0; y < height; y++)
            {
                float fy = (y * inverseHeight) - 0.5f;
                int ty0 = (int)MathF.Floor(fy);
                float wy = fy - ty0;
                int ty1 = Math.Min(ty0 + 1, tilesY - 1);
                ty0 = Math.Max(ty0, 0);
                for (int x = 0; x < width; x++)
                {
                    float fx = (x * inverseWidth) - 0.5f;
                    int tx0 = (int)MathF.Floor(fx);
                    float wx = fx - tx0;
                    int tx1 = Math.Min(tx0 + 1, tilesX - 1);
                    tx0 = Math.Max(tx0, 0);
                    int bin = Bin(plane[(y * width) + x], bins);
                    float top = (maps[ty0, tx0][bin] * (1f - wx)) + (maps[ty0, tx1][bin] * wx);
                    float bottom = (maps[ty1, tx0][bin] * (1f - wx)) + (maps[ty1, tx1][bin] * wx);
                    plane[(y * width) + x] = ((top * (1f - wy)) + (bottom * wy)) / levels;
                }
            }
        }

        // OpenCV's borderInterpolate for BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba), reflecting again when the
        // border is wider than the image.
        private static int Reflect101(int p, int length)
        {
            if (length == 1)
            {
                return 0;
            }

            while ((uint)p >= (uint)length)
            {
                p = p < 0 ? -p : (2 * length) - 2 - p;
            }

            return p;
        }

        private static void Clip(int[] histogram, int limit)
        {
            int excess = 0;
            for (int b = 0; b < histogram.Length; b++)
            {
                if (histogram[b] > limit)
                {
                    excess += histogram[b] - limit;
                    histogram[b] = limit;
                }
            }

            int each = excess / histogram.Length, rest = excess % histogram.Length;
            for (int b = 0; b < histogram.Length; b++)
            {
                histogram[b] += each;
            }

            if (rest > 0)
            {
                int step = Math.Max(histogram.Length / rest, 1);
                for (int b = 0; b < histogram.Length && rest > 0; b += step, rest--)
                {
                    histogram[b]++;
                }
            }
        }

        private static float[] CumulativeMap(int[] histogram, int count)
        {
            var map = new float[histogram.Length];
            int first = 0;
            foreach (int h in histogram)
            {
                if (h > 0)
                {
                    first = h;
                    break;
                }
            }

            long cumulative = 0;
            double denominator = count - first;
            for (int b = 0; b < histogram.Length; b++)
            {
                cumulative += histogram[b];
                map[b] = denominator <= 0 ? 0f : (float)Math.Clamp((cumulative - first) / denominator, 0, 1);
            }

            return map;
        }

        private static int Bin(float value, int bins) => Math.Clamp((int)(value * bins), 0, bins - 1);

        public override string ToString() => tiles <= 0
            ? string.Format(CultureInfo.InvariantCulture, "EqualizeHistogram(bins={0})", bins)
            : string.Format(CultureInfo.InvariantCulture, "Clahe(clipLimit={0}, tiles={1}, bins={2})", clipLimit, tiles, bins);
    }
}
