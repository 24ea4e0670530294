using System;
using System.Linq;
using MedicalTransfer.Data;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    public sealed class TransformsTests
    {
        private const int H = 21;
        private const int W = 27;
        private const double Tolerance = 1e-5;

        [Fact]
        public void Resize_ShorterSide_MatchesTorchvision()
        {
            using FloatImage result = Run(Transforms.Resize(16), Gray());

            AssertMatches(TorchvisionReference.ResizeShorter16Shape, TorchvisionReference.ResizeShorter16, result);
        }

        [Fact]
        public void Resize_ExactUpscale_MatchesTorchvision()
        {
            using FloatImage result = Run(Transforms.Resize(40, 50), Gray());

            AssertMatches(TorchvisionReference.ResizeUp40x50Shape, TorchvisionReference.ResizeUp40x50, result);
        }

        [Theory]
        [InlineData(300, 200, 100, 150, 100)]
        [InlineData(333, 500, 256, 256, 384)] // int(256 * 500 / 333) = 384, truncated
        [InlineData(512, 512, 224, 224, 224)]
        public void Resize_ShorterSide_OutputSizeLikeTorchvision(int width, int height, int size, int expectedWidth, int expectedHeight)
        {
            Assert.Equal((expectedWidth, expectedHeight), ResizeTransform.ShorterSideSize(width, height, size));
        }

        [Fact]
        public void ResizedCrop_Box_MatchesTorchvision()
        {
            using FloatImage image = Gray();

            using FloatImage result = Resampler.ResizeBox(image, 5, 3, 25, 20, 12, 12);

            AssertMatches(TorchvisionReference.ResizedCropShape, TorchvisionReference.ResizedCrop, result);
        }

        [Fact]
        public void CenterCrop_EvenOddAndPadding_MatchTorchvision()
        {
            using FloatImage square = Run(Transforms.CenterCrop(10), Gray());
            using FloatImage box = Run(Transforms.CenterCrop(12, 15), Gray());
            using FloatImage padded = Run(Transforms.CenterCrop(40), Gray());

            AssertMatches(TorchvisionReference.CenterCrop10Shape, TorchvisionReference.CenterCrop10, square);
            AssertMatches(TorchvisionReference.CenterCrop12x15Shape, TorchvisionReference.CenterCrop12x15, box);
            AssertMatches(TorchvisionReference.CenterCropPad40Shape, TorchvisionReference.CenterCropPad40, padded);
        }

        [Theory]
        [InlineData(30.0)]
        [InlineData(-7.0)]
        public void Rotate_Nearest_MatchesTorchvisionExceptRoundingTies(double angle)
        {
            float[] expected = angle > 0 ? TorchvisionReference.Rotate30 : TorchvisionReference.RotateMinus7;
            using FloatImage image = Gray();

            using FloatImage result = RandomRotationTransform.Rotate(image, angle);

            // Nearest-neighbour sampling can pick the other pixel where a source coordinate sits on
            // a rounding tie (float vs double arithmetic); allow 1% of pixels to differ.
            int differing = Enumerable.Range(0, expected.Length).Count(i => Math.Abs(expected[i] - result.Buffer[i]) > Tolerance);
            Assert.True(differing <= expected.Length / 100, differing + " of " + expected.Length + " pixels differ from torchvision");
        }

        [Fact]
        public void Rotate_NinetyDegrees_IsCounterClockwise()
        {
            using FloatImage image = FloatImage.Rent(1, 4, 4, 255);
            image.Pixels.Clear();
            image.Buffer[(1 * 4) + 3] = 1; // right edge, upper middle row

            using FloatImage result = RandomRotationTransform.Rotate(image, 90);

            // Counter-clockwise: the right edge goes to the top edge.
            Assert.Equal(1f, result.Buffer[1]);
            Assert.Equal(1f, result.Pixels.ToArray().Sum());
        }

        [Fact]
        public void Brightness_MatchesTorchvision()
        {
            using FloatImage image = Rgb();

            ColorJitterTransform.Brightness(image, 1.3f);

            AssertMatches(TorchvisionReference.Brightness13Shape, TorchvisionReference.Brightness13, image);
        }

        [Fact]
        public void Contrast_RgbAndGray_MatchTorchvision()
        {
            using FloatImage rgb = Rgb();
            using FloatImage gray = Gray();

            ColorJitterTransform.Contrast(rgb, 0.7f);
            ColorJitterTransform.Contrast(gray, 1.5f);

            AssertMatches(TorchvisionReference.Contrast07Shape, TorchvisionReference.Contrast07, rgb);
            AssertMatches(TorchvisionReference.Contrast15GrayShape, TorchvisionReference.Contrast15Gray, gray);
        }

        [Fact]
        public void Normalize_ImageNet_MatchesTorchvision()
        {
            using FloatImage result = Run(Transforms.Compose(Transforms.ToTensor(), Transforms.Normalize(Preprocessing.ImageNet.Mean, Preprocessing.ImageNet.Std)), Rgb());

            AssertMatches(TorchvisionReference.NormalizeShape, TorchvisionReference.Normalize, result);
        }

        [Fact]
        public void Normalize_GrayImage_ReplicatedToThreeChannels()
        {
            using FloatImage image = Constant(1, 2, 2, 0.5f);

            using FloatImage result = Run(Transforms.Normalize(new[] { 0.1f, 0.2f, 0.3f }, new[] { 0.5f, 0.25f, 0.125f }), image.Clone());

            Assert.Equal(3, result.Channels);
            Assert.Equal(0.8f, result.Plane(0)[3], 5);
            Assert.Equal(1.2f, result.Plane(1)[3], 5);
            Assert.Equal(1.6f, result.Plane(2)[3], 5);
        }

        [Theory]
        [InlineData(1, 13, 11)] // gray replicated to three planes; 143 values: vector loop and scalar tail
        [InlineData(3, 13, 11)]
        [InlineData(3, 224, 224)]
        public void Normalize_EveryValue_SameBitsAsMultiplyThenAdd(int channels, int width, int height)
        {
            using FloatImage image = FloatImage.Rent(channels, width, height, 65535);
            var random = new Random((width * 10) + channels);
            for (int i = 0; i < image.Length; i++)
            {
                image.Buffer[i] = (float)random.NextDouble();
            }

            Preprocessing p = Preprocessing.ImageNet;
            using FloatImage result = Run(Transforms.Normalize(p.Mean, p.Std), image.Clone());

            for (int c = 0; c < 3; c++)
            {
                float a = 1f / p.Std[c], b = -p.Mean[c] / p.Std[c];
                for (int i = 0; i < width * height; i++)
                {
                    float expected = (image.Plane(channels == 1 ? 0 : c)[i] * a) + b;
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(result.Plane(c)[i]));
                }
            }
        }

        [Fact]
        public void ForEvaluation_BgrAndPixelScale_ReorderThenScale()
        {
            var caffe = new Preprocessing { ResizeSize = 4, CropSize = 2, ChannelOrder = ChannelOrder.Bgr, PixelScale = 255, Mean = new[] { 100f, 110f, 120f }, Std = new[] { 1f, 1f, 1f } };
            using FloatImage image = FloatImage.Rent(3, 4, 4, 255);
            image.Plane(0).Fill(0.2f); // R
            image.Plane(1).Fill(0.4f); // G
            image.Plane(2).Fill(0.6f); // B

            using FloatImage result = Run(Transforms.ForEvaluation(caffe), image.Clone());

            Assert.Equal((2, 2), (result.Width, result.Height));
            Assert.Equal((0.6 * 255) - 100, result.Plane(0)[0], 3); // B first
            Assert.Equal((0.4 * 255) - 110, result.Plane(1)[0], 3);
            Assert.Equal((0.2 * 255) - 120, result.Plane(2)[0], 3);
        }

        [Fact]
        public void ForEvaluation_ImageNet_ResizesCropsAndNormalises()
        {
            using FloatImage result = Run(Transforms.ForEvaluation(Preprocessing.ImageNet), Constant(1, 512, 384, 0.5f));

            Assert.Equal((3, 224, 224), (result.Channels, result.Width, result.Height));
            Assert.Equal((0.5 - 0.485) / 0.229, result.Plane(0)[777], 5);
            Assert.Equal((0.5 - 0.406) / 0.225, result.Plane(2)[0], 5);
        }

        [Fact]
        public void ForTraining_Seeded_SameSeedSameOutputOtherSeedDiffers()
        {
            ImageTransform train = Transforms.ForTraining(Preprocessing.ImageNet);
            using FloatImage a = Run(train, Gray(), seed: 4);
            using FloatImage b = Run(train, Gray(), seed: 4);
            using FloatImage c = Run(train, Gray(), seed: 5);

            Assert.Equal((3, 224, 224), (a.Channels, a.Width, a.Height));
            Assert.Equal(a.Pixels.ToArray(), b.Pixels.ToArray());
            Assert.NotEqual(a.Pixels.ToArray(), c.Pixels.ToArray());
        }

        [Fact]
        public void RandomResizedCrop_Boxes_StayInsideWithAreaAndRatioInRange()
        {
            var crop = new RandomResizedCropTransform(224, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0);
            var random = new SampleRandom(11);
            double totalScale = 0;
            for (int i = 0; i < 2000; i++)
            {
                (int top, int left, int h, int w) = crop.Box(500, 400, ref random);
                Assert.InRange(top, 0, 400 - h);
                Assert.InRange(left, 0, 500 - w);
                double scale = w * (double)h / (500 * 400);
                Assert.InRange(scale, 0.07, 1.0);
                Assert.InRange(w / (double)h, 0.74, 1.35);
                totalScale += scale;
            }

            // Area fraction is drawn uniform in [0.08, 1], but large boxes of extreme aspect do not
            // fit and are drawn again, so the mean is below 0.54.
            Assert.InRange(totalScale / 2000, 0.38, 0.54);
        }

        [Fact]
        public void RandomResizedCrop_ExtremeAspect_FallsBackToCenterCrop()
        {
            var crop = new RandomResizedCropTransform(8, 0.9, 1.0, 1.0, 1.0);
            var random = new SampleRandom(1);

            // A 100x10 image has no square box of 90% area: torchvision falls back to a centered 10x10... of ratio max 1.
            (int top, int left, int h, int w) = crop.Box(100, 10, ref random);

            Assert.Equal((0, 45, 10, 10), (top, left, h, w));
        }

        [Fact]
        public void RandomHorizontalFlip_ProbabilityOneFlipsZeroKeeps()
        {
            using FloatImage flipped = Run(Transforms.RandomHorizontalFlip(1.0), Gray());
            using FloatImage kept = Run(Transforms.RandomHorizontalFlip(0.0), Gray());
            using FloatImage original = Gray();

            Assert.Equal(original.Buffer[0], flipped.Buffer[W - 1]);
            Assert.Equal(original.Pixels.ToArray(), kept.Pixels.ToArray());
        }

        [Fact]
        public void ColorJitter_Brightness_FactorsUniformOverTheWholeRange()
        {
            // torchvision draws the brightness factor uniformly from [max(0, 1 - 0.2), 1 + 0.2]; a flat 0.5 image
            // becomes 0.5 * factor, so 400 seeds must spread over [0.4, 0.6] evenly (the identity gives 0.5 always).
            var jitter = Transforms.ColorJitter(brightness: 0.2);
            float[] values = Enumerable.Range(0, 400).Select(seed =>
            {
                using FloatImage result = Run(jitter, Constant(1, 4, 4, 0.5f), seed);
                Assert.All(result.Pixels.ToArray(), v => Assert.Equal(result.Buffer[0], v));
                return result.Buffer[0];
            }).ToArray();

            Assert.All(values, v => Assert.InRange(v, 0.4f, 0.6f));
            Assert.True(values.Min() < 0.405f && values.Max() > 0.595f, $"factors cover [{values.Min() / 0.5}, {values.Max() / 0.5}], not [0.8, 1.2]");
            Assert.InRange(values.Average(), 0.49, 0.51);
            Assert.InRange(values.Count(v => v < 0.45f), 70, 130); // a quarter of the range holds about a quarter of the draws
            Assert.True(values.Distinct().Count() > 350, "each seed draws its own factor");
        }

        [Fact]
        public void ColorJitter_Contrast_ScalesDistanceToTheMeanByAFactorInRange()
        {
            // A 0.25 | 0.75 image has mean 0.5: contrast factor c maps 0.25 to 0.5 - 0.25 c, c uniform in [0.7, 1.3].
            var jitter = Transforms.ColorJitter(contrast: 0.3);
            float[] dark = Enumerable.Range(0, 400).Select(seed =>
            {
                using FloatImage image = FloatImage.Rent(1, 2, 1, 255);
                image.Buffer[0] = 0.25f;
                image.Buffer[1] = 0.75f;
                using FloatImage result = Run(jitter, image.Clone(), seed);
                Assert.Equal(1f, result.Buffer[0] + result.Buffer[1], 5); // the mean is kept
                return result.Buffer[0];
            }).ToArray();

            Assert.All(dark, v => Assert.InRange(v, 0.5f - (0.25f * 1.3f) - 1e-6f, 0.5f - (0.25f * 0.7f) + 1e-6f));
            Assert.True(dark.Min() < 0.5f - (0.25f * 1.28f) && dark.Max() > 0.5f - (0.25f * 0.72f), "factors must cover [0.7, 1.3]");
            Assert.True(dark.Distinct().Count() > 350, "each seed draws its own factor");
        }

        [Fact]
        public void ColorJitter_BrightnessAboveOne_ClampsAtOne()
        {
            using FloatImage bright = Constant(1, 2, 2, 0.9f);
            ColorJitterTransform.Brightness(bright, 1.5f);
            Assert.Equal(1f, bright.Buffer[0]);
        }

        [Fact]
        public void Window_SixteenBitUnits_MapsCenterAndWidth()
        {
            using FloatImage image = FloatImage.Rent(1, 4, 1, 65535);
            float[] raw = { 0, 1000, 2000, 40000 };
            for (int i = 0; i < 4; i++)
            {
                image.Buffer[i] = raw[i] / 65535f;
            }

            using FloatImage result = Run(Transforms.Window(center: 1000, width: 2000), image.Clone());

            Assert.Equal(0f, result.Buffer[0], 5);
            Assert.Equal(0.5f, result.Buffer[1], 4);
            Assert.Equal(1f, result.Buffer[2], 4);
            Assert.Equal(1f, result.Buffer[3]);
            Assert.Equal(1f, result.FullScale);
        }

        [Fact]
        public void PercentileRescale_Ramp_MapsPercentilesToZeroAndOne()
        {
            using FloatImage ramp = FloatImage.Rent(1, 101, 1, 1);
            for (int i = 0; i <= 100; i++)
            {
                ramp.Buffer[i] = i / 100f;
            }

            (float low, float high) = PercentileRescaleTransform.Percentiles(ramp.Pixels, 2, 98);
            using FloatImage result = Run(Transforms.PercentileRescale(2, 98), ramp.Clone());

            Assert.Equal(0.02f, low, 6);
            Assert.Equal(0.98f, high, 6);
            Assert.Equal(0f, result.Buffer[1]);
            Assert.Equal(0.5f, result.Buffer[50], 5);
            Assert.Equal(1f, result.Buffer[99]);
        }

        [Fact]
        public void EqualizeHistogram_SkewedImage_SpreadsValuesEvenly()
        {
            // Values crowded in [0, 0.25): equalisation spreads them over [0, 1].
            using FloatImage image = FloatImage.Rent(1, 64, 64, 1);
            for (int i = 0; i < image.Length; i++)
            {
                image.Buffer[i] = (i % 64) / 256f;
            }

            using FloatImage result = Run(Transforms.EqualizeHistogram(), image.Clone());

            Assert.Equal(0f, result.Pixels.ToArray().Min());
            Assert.Equal(1f, result.Pixels.ToArray().Max());
            Assert.Equal(0.5, result.Pixels.ToArray().Average(), 1);
        }

        [Fact]
        public void Clahe_LowContrastHalves_RaisesLocalContrastWithinBounds()
        {
            using FloatImage image = FloatImage.Rent(1, 64, 64, 1);
            for (int y = 0; y < 64; y++)
            {
                for (int x = 0; x < 64; x++)
                {
                    // Left half dim with faint texture, right half bright with faint texture.
                    image.Buffer[(y * 64) + x] = (x < 32 ? 0.2f : 0.7f) + (((x + y) % 4) * 0.01f);
                }
            }

            double Spread(FloatImage im) => Enumerable.Range(0, 16).Select(x => im.Buffer[(10 * 64) + x]).Max() - Enumerable.Range(0, 16).Select(x => im.Buffer[(10 * 64) + x]).Min();
            double before = Spread(image);

            using FloatImage result = Run(Transforms.Clahe(clipLimit: 40, tiles: 4), image.Clone());

            Assert.True(Spread(result) > 3 * before, "local contrast should rise: " + before + " -> " + Spread(result));
            Assert.All(result.Pixels.ToArray(), v => Assert.InRange(v, 0f, 1f));
        }

        [Fact]
        public void Catalog_InvalidArguments_Throw()
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Transforms.Resize(0));
            Assert.Throws<ArgumentOutOfRangeException>(() => Transforms.RandomHorizontalFlip(1.5));
            Assert.Throws<ArgumentOutOfRangeException>(() => Transforms.RandomResizedCrop(224, minScale: 0.5, maxScale: 0.4));
            Assert.Throws<ArgumentException>(() => Transforms.Normalize(new[] { 0f, 0f }, new[] { 1f, 1f, 1f }));
            Assert.Throws<ArgumentException>(() => Transforms.PercentileRescale(50, 50));
            Assert.Throws<ArgumentException>(() => Transforms.Compose());
        }

        [Fact]
        public void Compose_ToString_ListsStepsLikeTorchvision()
        {
            string text = Transforms.ForTraining(Preprocessing.ImageNet).ToString()!;

            Assert.StartsWith("Compose(RandomResizedCrop(224, scale=(0.08, 1), ratio=(0.75, 1.333)), RandomHorizontalFlip(0.5), RandomRotation(10), ColorJitter(brightness=0.2, contrast=0.2), Normalize(", text, StringComparison.Ordinal);
        }

        internal static FloatImage Gray()
        {
            FloatImage image = FloatImage.Rent(1, W, H, 1);
            for (int y = 0; y < H; y++)
            {
                for (int x = 0; x < W; x++)
                {
                    image.Buffer[(y * W) + x] = (float)((((x * 7) + (y * 13)) % 31 / 30.0 * 0.8) + 0.1 + (0.05 * Math.Sin(x / 3.0)));
                }
            }

            return image;
        }

        private static FloatImage Rgb()
        {
            using FloatImage gray = Gray();
            FloatImage image = FloatImage.Rent(3, 13, 11, 1);
            for (int y = 0; y < 11; y++)
            {
                for (int x = 0; x < 13; x++)
                {
                    float g = gray.Buffer[(y * W) + x];
                    image.Plane(0)[(y * 13) + x] = g;
                    image.Plane(1)[(y * 13) + x] = gray.Buffer[(y * W) + (12 - x)];
                    image.Plane(2)[(y * 13) + x] = (g * 0.5f) + 0.25f;
                }
            }

            return image;
        }

        private static FloatImage Constant(int channels, int width, int height, float value)
        {
            FloatImage image = FloatImage.Rent(channels, width, height, 255);
            image.Pixels.Fill(value);
            return image;
        }

        private static FloatImage Run(ImageTransform transform, FloatImage image, int seed = 0)
        {
            SampleRandom random = SampleRandom.For(seed, 0, 0);
            return transform.Apply(image, ref random);
        }

        private static void AssertMatches(int[] shape, float[] expected, FloatImage actual)
        {
            Assert.Equal(shape, new[] { actual.Channels, actual.Height, actual.Width });
            float[] values = actual.Pixels.ToArray();
            double worst = Enumerable.Range(0, expected.Length).Max(i => Math.Abs(expected[i] - values[i]));
            Assert.True(worst <= Tolerance, "largest difference from torchvision: " + worst);
        }
    }
}
