using System;
using System.Globalization;

namespace MedicalTransfer.Data
{
    /// <summary>torchvision's <c>Resize</c>: shorter side to a length, or an exact size; bilinear with antialiasing.</summary>
    internal sealed class ResizeTransform : ImageTransform
    {
        private readonly int shorterSide;
        private readonly int height;
        private readonly int width;

        public ResizeTransform(int shorterSide, int height, int width)
        {
            this.shorterSide = shorterSide;
            this.height = height;
            this.width = width;
        }

        public static (int Width, int Height) ShorterSideSize(int width, int height, int size)
        {
            // torchvision: new_long = int(size * long / short), truncated.
            if (width <= height)
            {
                return (size, (int)(size * (double)height / width));
            }

            return ((int)(size * (double)width / height), size);
        }

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            (int w, int h) = OutputSize(image);
            if (w == image.Width && h == image.Height)
            {
                return image;
            }

            FloatImage result = Resampler.Resize(image, w, h);
            image.Dispose();
            return result;
        }

        /// <summary>
        /// This resize and then <paramref name="crop"/> in one pass that computes only the pixels the crop keeps
        /// (<see cref="Resampler.ResizeWindow"/>): the same values, bit for bit, as the two steps one after the other,
        /// for about three quarters of the work when 224 is cropped from 256. <see cref="ComposeTransform"/> fuses
        /// the pair wherever a pipeline has it (the evaluation pipeline always does).
        /// </summary>
        internal FloatImage ApplyThenCrop(FloatImage image, CenterCropTransform crop, ref SampleRandom random)
        {
            (int w, int h) = OutputSize(image);
            if (w == image.Width && h == image.Height)
            {
                return crop.Apply(image, ref random);
            }

            int top = CropBoxes.CenterOffset(h, crop.Height);
            int left = CropBoxes.CenterOffset(w, crop.Width);
            FloatImage result = Resampler.ResizeWindow(image, 0, 0, image.Width, image.Height, w, h, left, top, crop.Width, crop.Height);
            image.Dispose();
            return result;
        }

        private (int Width, int Height) OutputSize(FloatImage image) =>
            shorterSide > 0 ? ShorterSideSize(image.Width, image.Height, shorterSide) : (width, height);

        public override string ToString() => shorterSide > 0
            ? string.Format(CultureInfo.InvariantCulture, "Resize({0})", shorterSide)
            : string.Format(CultureInfo.InvariantCulture, "Resize({0}, {1})", height, width);
    }

    /// <summary>torchvision's <c>CenterCrop</c>, zero-padding an image smaller than the crop.</summary>
    internal sealed class CenterCropTransform : ImageTransform
    {
        private readonly int height;
        private readonly int width;

        public CenterCropTransform(int height, int width)
        {
            this.height = height;
            this.width = width;
        }

        public int Height => height;

        public int Width => width;

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            if (image.Width == width && image.Height == height)
            {
                return image;
            }

            int top = CropBoxes.CenterOffset(image.Height, height);
            int left = CropBoxes.CenterOffset(image.Width, width);
            FloatImage result = Crop(image, left, top, width, height);
            image.Dispose();
            return result;
        }

        /// <summary>Copies a box (possibly reaching outside the image, which reads as 0); the source is not consumed.</summary>
        public static FloatImage Crop(FloatImage image, int left, int top, int cropWidth, int cropHeight)
        {
            FloatImage result = image.RentLike(cropWidth, cropHeight);
            int x0 = Math.Max(0, left), x1 = Math.Min(image.Width, left + cropWidth);
            for (int c = 0; c < image.Channels; c++)
            {
                Span<float> src = image.Plane(c);
                Span<float> dst = result.Plane(c);
                dst.Clear();
                for (int y = 0; y < cropHeight; y++)
                {
                    int sy = y + top;
                    if (sy < 0 || sy >= image.Height || x1 <= x0)
                    {
                        continue;
                    }

                    src.Slice((sy * image.Width) + x0, x1 - x0).CopyTo(dst.Slice((y * cropWidth) + (x0 - left), x1 - x0));
                }
            }

            return result;
        }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "CenterCrop({0}, {1})", height, width);
    }

    /// <summary>torchvision's <c>RandomResizedCrop</c>: a random box of random area and aspect ratio, resized.</summary>
    internal sealed class RandomResizedCropTransform : ImageTransform
    {
        private readonly int size;
        private readonly double minScale;
        private readonly double maxScale;
        private readonly double minRatio;
        private readonly double maxRatio;

        public RandomResizedCropTransform(int size, double minScale, double maxScale, double minRatio, double maxRatio)
        {
            this.size = size;
            this.minScale = minScale;
            this.maxScale = maxScale;
            this.minRatio = minRatio;
            this.maxRatio = maxRatio;
        }

        /// <summary>torchvision's <c>RandomResizedCrop.get_params</c>: returns (top, left, height, width).</summary>
        public (int Top, int Left, int Height, int Width) Box(int imageWidth, int imageHeight, ref SampleRandom random)
        {
            double area = (double)imageWidth * imageHeight;
            double logMin = Math.Log(minRatio), logMax = Math.Log(maxRatio);
            for (int attempt = 0; attempt < 10; attempt++)
            {
                double target = area * random.Uniform(minScale, maxScale);
                double aspect = Math.Exp(random.Uniform(logMin, logMax));
                int w = (int)Math.Round(Math.Sqrt(target * aspect), MidpointRounding.ToEven);
                int h = (int)Math.Round(Math.Sqrt(target / aspect), MidpointRounding.ToEven);
                if (w > 0 && h > 0 && w <= imageWidth && h <= imageHeight)
                {
                    int top = random.NextInt(imageHeight - h + 1);
                    int left = random.NextInt(imageWidth - w + 1);
                    return (top, left, h, w);
                }
            }

            // Fallback: the whole image, center-cropped to the nearest allowed aspect ratio.
            double inRatio = (double)imageWidth / imageHeight;
            int cw, ch;
            if (inRatio < minRatio)
            {
                cw = imageWidth;
                ch = (int)Math.Round(cw / minRatio, MidpointRounding.ToEven);
            }
            else if (inRatio > maxRatio)
            {
                ch = imageHeight;
                cw = (int)Math.Round(ch * maxRatio, MidpointRounding.ToEven);
            }
            else
            {
                cw = imageWidth;
                ch = imageHeight;
            }

            // torchvision floors here ((height - h) // 2), unlike center_crop's round: this is not a center crop (see CropBoxes).
            return ((imageHeight - ch) / 2, (imageWidth - cw) / 2, ch, cw);
        }

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            (int top, int left, int h, int w) = Box(image.Width, image.Height, ref random);
            FloatImage result = Resampler.ResizeBox(image, left, top, left + w, top + h, size, size);
            image.Dispose();
            return result;
        }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "RandomResizedCrop({0}, scale=({1}, {2}), ratio=({3:0.###}, {4:0.###}))", size, minScale, maxScale, minRatio, maxRatio);
    }

    /// <summary>torchvision's <c>RandomHorizontalFlip</c>.</summary>
    internal sealed class RandomHorizontalFlipTransform : ImageTransform
    {
        private readonly double probability;

        public RandomHorizontalFlipTransform(double probability)
        {
            this.probability = probability;
        }

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            if (random.NextDouble() < probability)
            {
                for (int c = 0; c < image.Channels; c++)
                {
                    Span<float> plane = image.Plane(c);
                    for (int y = 0; y < image.Height; y++)
                    {
                        plane.Slice(y * image.Width, image.Width).Reverse();
                    }
                }
            }

            return image;
        }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "RandomHorizontalFlip({0})", probability);
    }

    /// <summary>
    /// torchvision's <c>RandomRotation(degrees)</c>: an angle uniform in [-degrees, degrees],
    /// counter-clockwise for positive angles, about the image center, nearest-neighbour sampling,
    /// same size, zero fill.
    /// </summary>
    internal sealed class RandomRotationTransform : ImageTransform
    {
        private readonly double degrees;

        public RandomRotationTransform(double degrees)
        {
            this.degrees = degrees;
        }

        public static FloatImage Rotate(FloatImage image, double angleDegrees)
        {
            double radians = angleDegrees * Math.PI / 180.0;
            double cos = Math.Cos(radians), sin = Math.Sin(radians);
            int w = image.Width, h = image.Height;
            double cx = w * 0.5, cy = h * 0.5;
            FloatImage result = image.RentLike(w, h);
            result.Pixels.Clear();
            for (int y = 0; y < h; y++)
            {
                double dy = y + 0.5 - cy;
                for (int x = 0; x < w; x++)
                {
                    double dx = x + 0.5 - cx;
                    // Inverse mapping of a counter-clockwise rotation in y-down image coordinates.
                    double sx = (cos * dx) - (sin * dy) + cx - 0.5;
                    double sy = (sin * dx) + (cos * dy) + cy - 0.5;
                    int ix = (int)Math.Round(sx, MidpointRounding.ToEven);
                    int iy = (int)Math.Round(sy, MidpointRounding.ToEven);
                    if ((uint)ix < (uint)w && (uint)iy < (uint)h)
                    {
                        int s = (iy * w) + ix, d = (y * w) + x;
                        for (int c = 0; c < image.Channels; c++)
                        {
                            int offset = c * w * h;
                            result.Buffer[offset + d] = image.Buffer[offset + s];
                        }
                    }
                }
            }

            return result;
        }

        internal override FloatImage Apply(FloatImage image, ref SampleRandom random)
        {
            double angle = random.Uniform(-degrees, degrees);
            FloatImage result = Rotate(image, angle);
            image.Dispose();
            return result;
        }

        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "RandomRotation({0})", degrees);
    }
}
