using System;
using System.Collections.Generic;
using System.Globalization;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// The catalog of image transforms, with torchvision's names and semantics so that a PyTorch
    /// pipeline translates line by line:
    /// <code>
    /// var train = Transforms.Compose(
    ///     Transforms.RandomResizedCrop(224),
    ///     Transforms.RandomHorizontalFlip(),
    ///     Transforms.RandomRotation(10),
    ///     Transforms.ColorJitter(brightness: 0.2, contrast: 0.2),
    ///     Transforms.ToTensor(),
    ///     Transforms.Normalize(new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f }));
    /// </code>
    /// Resizing is bilinear with antialiasing (PIL's algorithm). Medical intensity transforms
    /// (<see cref="Window"/>, <see cref="PercentileRescale"/>, <see cref="EqualizeHistogram"/>,
    /// <see cref="Clahe"/>) belong before resizing, on the decoded full-precision values.
    /// </summary>
    public static class Transforms
    {
        /// <summary>Applies transforms one after the other (torchvision's <c>Compose</c>).</summary>
        /// <param name="transforms">The steps, in order.</param>
        /// <returns>The combined transform.</returns>
        public static ImageTransform Compose(params ImageTransform[] transforms)
        {
            Guard.NotEmpty(transforms);
            for (int i = 0; i < transforms.Length; i++)
            {
                if (transforms[i] is null)
                {
                    throw new ArgumentNullException(nameof(transforms), string.Format(CultureInfo.InvariantCulture, "Transform {0} of Compose is null.", i));
                }
            }

            return new ComposeTransform(transforms);
        }

        /// <summary>Resizes so that the shorter side is <paramref name="size"/> pixels, keeping the aspect ratio (the longer side is truncated as torchvision does).</summary>
        /// <param name="size">Length of the shorter side after resizing.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform Resize(int size) => new ResizeTransform(Guard.Positive(size), 0, 0);

        /// <summary>Resizes to exactly <paramref name="height"/> by <paramref name="width"/> pixels.</summary>
        /// <param name="height">Output height.</param>
        /// <param name="width">Output width.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform Resize(int height, int width) => new ResizeTransform(0, Guard.Positive(height), Guard.Positive(width));

        /// <summary>Crops the central <paramref name="size"/> square (zero-padding a smaller image, as torchvision does).</summary>
        /// <param name="size">Side of the crop.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform CenterCrop(int size) => new CenterCropTransform(Guard.Positive(size), size);

        /// <summary>Crops the central <paramref name="height"/> by <paramref name="width"/> box.</summary>
        /// <param name="height">Crop height.</param>
        /// <param name="width">Crop width.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform CenterCrop(int height, int width) => new CenterCropTransform(Guard.Positive(height), Guard.Positive(width));

        /// <summary>
        /// Crops a random box whose area is a fraction in [<paramref name="minScale"/>,
        /// <paramref name="maxScale"/>] of the image and whose aspect ratio is log-uniform in
        /// [<paramref name="minRatio"/>, <paramref name="maxRatio"/>], then resizes it to a
        /// <paramref name="size"/> square (torchvision's <c>RandomResizedCrop</c>, same defaults).
        /// </summary>
        /// <param name="size">Side of the output square.</param>
        /// <param name="minScale">Smallest area fraction; torchvision's default 0.08.</param>
        /// <param name="maxScale">Largest area fraction; default 1.</param>
        /// <param name="minRatio">Smallest width/height ratio; default 3/4.</param>
        /// <param name="maxRatio">Largest width/height ratio; default 4/3.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform RandomResizedCrop(int size, double minScale = 0.08, double maxScale = 1.0, double minRatio = 3.0 / 4.0, double maxRatio = 4.0 / 3.0)
        {
            Guard.Positive(size);
            Guard.InRange(minScale, double.Epsilon, 1.0);
            Guard.InRange(maxScale, minScale, 1.0);
            Guard.Positive(minRatio);
            Guard.InRange(maxRatio, minRatio, double.MaxValue);
            return new RandomResizedCropTransform(size, minScale, maxScale, minRatio, maxRatio);
        }

        /// <summary>Mirrors the image left-right with probability <paramref name="probability"/>.</summary>
        /// <param name="probability">Chance of flipping; default 0.5.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform RandomHorizontalFlip(double probability = 0.5) => new RandomHorizontalFlipTransform(Guard.InRange(probability, 0.0, 1.0));

        /// <summary>
        /// Rotates by an angle uniform in [-<paramref name="degrees"/>, <paramref name="degrees"/>]
        /// (counter-clockwise for positive angles) about the center, nearest-neighbour, keeping the
        /// size and filling uncovered corners with 0 (torchvision's <c>RandomRotation</c> defaults).
        /// </summary>
        /// <param name="degrees">Largest rotation in degrees.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform RandomRotation(double degrees) => new RandomRotationTransform(Guard.InRange(degrees, 0.0, 360.0));

        /// <summary>
        /// Randomly changes brightness and contrast by factors uniform in [max(0, 1 - x), 1 + x],
        /// in random order (torchvision's <c>ColorJitter</c> without saturation and hue, which gray
        /// images do not have).
        /// </summary>
        /// <param name="brightness">Brightness jitter; 0 leaves brightness alone.</param>
        /// <param name="contrast">Contrast jitter; 0 leaves contrast alone.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform ColorJitter(double brightness = 0, double contrast = 0) =>
            new ColorJitterTransform(Guard.InRange(brightness, 0.0, double.MaxValue), Guard.InRange(contrast, 0.0, double.MaxValue));

        /// <summary>
        /// Marks where torchvision converts to a tensor. Decoding already gives floats in [0, 1]
        /// (8-bit values / 255, 16-bit values / 65535), so this step changes nothing; it is here so
        /// that pipelines read as their PyTorch originals.
        /// </summary>
        /// <returns>The transform.</returns>
        public static ImageTransform ToTensor() => new ToTensorTransform();

        /// <summary>
        /// Subtracts a per-channel mean and divides by a per-channel standard deviation; with three
        /// means a gray image is first replicated to three channels, with one a colour image is first
        /// reduced to its luminance.
        /// </summary>
        /// <param name="mean">Three means, one per channel; or one, for a model built for gray images (the output then has one channel).</param>
        /// <param name="std">As many positive standard deviations as means.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform Normalize(IReadOnlyList<float> mean, IReadOnlyList<float> std)
        {
            var preprocessing = new Preprocessing { Mean = mean, Std = std }.Validate();
            return new NormalizeTransform(preprocessing.Mean, preprocessing.Std, 1f, ChannelOrder.Rgb);
        }

        /// <summary>
        /// Intensity windowing: values from <c>center - width/2</c> to <c>center + width/2</c>, in
        /// the file's own units (0..255 for 8-bit files, 0..65535 for 16-bit files), map to [0, 1];
        /// values outside are clamped.
        /// </summary>
        /// <param name="center">Window center, in stored units.</param>
        /// <param name="width">Window width, in stored units.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform Window(double center, double width) => new WindowTransform(Guard.InRange(center, double.MinValue, double.MaxValue), Guard.Positive(width));

        /// <summary>Maps the <paramref name="lower"/> and <paramref name="upper"/> percentiles of each image to 0 and 1, clamping outside.</summary>
        /// <param name="lower">Lower percentile, 0 to 100; default 1.</param>
        /// <param name="upper">Upper percentile, above <paramref name="lower"/>, up to 100; default 99.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform PercentileRescale(double lower = 1, double upper = 99)
        {
            Guard.InRange(lower, 0.0, 100.0);
            Guard.InRange(upper, lower, 100.0);
            if (upper <= lower)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "The upper percentile ({0}) must be above the lower ({1}).", upper, lower), nameof(upper));
            }

            return new PercentileRescaleTransform(lower, upper);
        }

        /// <summary>Plain histogram equalisation of each channel over <paramref name="bins"/> intensity bins.</summary>
        /// <param name="bins">Number of intensity bins, 2 to 65536; default 256.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform EqualizeHistogram(int bins = 256) => new EqualizeTransform(Guard.InRange(bins, 2, 65536), 0, 0);

        /// <summary>
        /// Contrast-limited adaptive histogram equalisation (CLAHE) of each channel on a
        /// <paramref name="tiles"/> by <paramref name="tiles"/> grid, the usual enhancement for chest X-rays. The result
        /// is OpenCV's <c>cv2.createCLAHE(clipLimit, (tiles, tiles)).apply</c> on <paramref name="bins"/> levels
        /// (padding, clipping and blending included), kept as a float instead of rounded to an integer level.
        /// </summary>
        /// <param name="clipLimit">Histogram clip as a multiple of the mean bin count; default 2 (OpenCV's default).</param>
        /// <param name="tiles">Tiles per side; default 8 (OpenCV's default).</param>
        /// <param name="bins">Number of intensity bins, 2 to 65536; default 256.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform Clahe(double clipLimit = 2.0, int tiles = 8, int bins = 256) =>
            new EqualizeTransform(Guard.InRange(bins, 2, 65536), Guard.Positive(clipLimit), Guard.Positive(tiles));

        /// <summary>
        /// The evaluation pipeline a set of weights expects: resize the shorter side to
        /// <see cref="Preprocessing.ResizeSize"/>, center-crop <see cref="Preprocessing.CropSize"/>,
        /// scale by <see cref="Preprocessing.PixelScale"/>, order channels, normalise.
        /// </summary>
        /// <param name="preprocessing">The weights' preprocessing, for example <see cref="Preprocessing.ImageNet"/>.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform ForEvaluation(Preprocessing preprocessing) =>
            EvaluationPipeline(Guard.NotNull(preprocessing).Validate(), preprocessing.CropSize);

        /// <summary>
        /// The evaluation pipeline with another crop: five-crop test-time augmentation takes its views from the
        /// central <see cref="Preprocessing.ResizeSize"/> square. The one definition of the evaluation pipeline.
        /// </summary>
        internal static ImageTransform EvaluationPipeline(Preprocessing preprocessing, int cropSize) => new ComposeTransform(new ImageTransform[]
        {
            new ResizeTransform(preprocessing.ResizeSize, 0, 0),
            new CenterCropTransform(cropSize, cropSize),
            new NormalizeTransform(preprocessing.Mean, preprocessing.Std, preprocessing.PixelScale, preprocessing.ChannelOrder),
        });

        /// <summary>
        /// The reference article's training augmentation for a set of weights:
        /// RandomResizedCrop(<see cref="Preprocessing.CropSize"/>), RandomHorizontalFlip(0.5),
        /// RandomRotation(10), ColorJitter(brightness 0.2, contrast 0.2), then the weights'
        /// scaling, channel order and normalisation.
        /// </summary>
        /// <param name="preprocessing">The weights' preprocessing, for example <see cref="Preprocessing.ImageNet"/>.</param>
        /// <returns>The transform.</returns>
        public static ImageTransform ForTraining(Preprocessing preprocessing)
        {
            Guard.NotNull(preprocessing).Validate();
            return new ComposeTransform(new ImageTransform[]
            {
                new RandomResizedCropTransform(preprocessing.CropSize, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0),
                new RandomHorizontalFlipTransform(0.5),
                new RandomRotationTransform(10),
                new ColorJitterTransform(0.2, 0.2),
                new NormalizeTransform(preprocessing.Mean, preprocessing.Std, preprocessing.PixelScale, preprocessing.ChannelOrder),
            });
        }
    }
}
