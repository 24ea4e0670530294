using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    /// <summary>
    /// The resampler's vector paths and the fused resize + center crop give the same bits as the plain scalar
    /// algorithm (<see cref="ReferenceResampler"/>, PIL's order of operations) followed by a crop, and the decoder's
    /// vector sample conversion gives the same bits as its exact tables. Closeness to torchvision itself is
    /// <see cref="TransformsTests"/>' job.
    /// </summary>
    public sealed class ResamplerTests : IDisposable
    {
        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Theory]
        [InlineData(1, 37, 23, 29, 17)] // odd sizes, shrink by less than 2
        [InlineData(3, 23, 41, 11, 19)] // colour, non-square, shrink by about 2
        [InlineData(1, 512, 512, 256, 256)] // the PredictFolder case: shrink by exactly 2
        [InlineData(1, 301, 97, 100, 31)] // shrink by 3: too wide for the vector groups, scalar only
        [InlineData(3, 19, 13, 45, 33)] // enlarge
        [InlineData(1, 8, 8, 9, 9)] // a row shorter than one vector group's reach
        public void ResizeWindow_EveryWindow_BitIdenticalToTheScalarResizeThenCrop(int channels, int width, int height, int outWidth, int outHeight)
        {
            using FloatImage image = Pattern(channels, width, height);
            float[] full = ReferenceResampler.Resize(image, 0, 0, width, height, outWidth, outHeight);
            var windows = new (int Left, int Top, int Width, int Height)[]
            {
                (0, 0, outWidth, outHeight),
                (outWidth / 7, outHeight / 5, outWidth - (outWidth / 3), outHeight - (outHeight / 4)),
                (-3, -2, outWidth + 7, outHeight + 4), // a crop larger than the image: zero padding all round
                (outWidth - 2, 1, 9, 3), // reaching past the right edge
            };

            foreach (var (left, top, w, h) in windows)
            {
                using FloatImage window = Resampler.ResizeWindow(image, 0, 0, width, height, outWidth, outHeight, left, top, w, h);

                AssertSameBits(Crop(full, channels, outWidth, outHeight, left, top, w, h), window, $"window ({left}, {top}) {w}x{h}");
            }
        }

        [Fact]
        public void ResizeBox_RandomResizedCropBoxes_BitIdenticalToTheScalarAlgorithm()
        {
            using FloatImage image = Pattern(3, 97, 61);
            foreach (var (x0, y0, x1, y1, size) in new[] { (5.0, 3.0, 90.0, 60.0, 44), (0.0, 0.0, 97.0, 61.0, 224), (17.0, 9.0, 41.0, 30.0, 24), (1.0, 2.0, 96.0, 59.0, 31) })
            {
                using FloatImage result = Resampler.ResizeBox(image, x0, y0, x1, y1, size, size);

                AssertSameBits(ReferenceResampler.Resize(image, x0, y0, x1, y1, size, size), result, $"box ({x0}, {y0})-({x1}, {y1}) to {size}");
            }
        }

        [Fact]
        public void ResizeWindow_InfiniteSourcePixel_SpreadsOnlyWhereTheScalarSumReadsIt()
        {
            // Lanes of a vector group whose kernel is shorter than the group's longest must not touch the extra
            // source pixels: 0 x infinity would turn their sums into NaN where the scalar sum never reads that pixel.
            // A shrink by 1.25 gives kernels of 2 and 3 taps side by side; each row has its infinite pixel elsewhere.
            using FloatImage image = Pattern(1, 80, 16);
            for (int y = 0; y < 16; y++)
            {
                image.Buffer[(y * 80) + ((9 + (y * 5)) % 80)] = float.PositiveInfinity;
            }

            using FloatImage result = Resampler.ResizeWindow(image, 0, 0, 80, 16, 64, 16, 0, 0, 64, 16);

            AssertSameBits(ReferenceResampler.Resize(image, 0, 0, 80, 16, 64, 16), result, "infinite pixels");
        }

        [Theory]
        [InlineData(false, 8, 37, 23, 20, 16)]
        [InlineData(false, 16, 23, 41, 17, 15)]
        [InlineData(true, 8, 31, 29, 24, 24)]
        [InlineData(true, 16, 41, 30, 12, 40)] // the crop is taller than the resized image: zero rows above and below
        [InlineData(false, 16, 64, 48, 48, 40)] // the resize keeps the size: the crop alone
        [InlineData(true, 16, 60, 47, 31, 31)] // the crop keeps the resize: the resize alone
        public void Compose_ResizeThenCenterCrop_SameBitsAsTheStepsOneAfterTheOther(bool colour, int bits, int width, int height, int resize, int crop)
        {
            string path = WritePng(colour, bits, width, height);
            ImageTransform pipeline = Transforms.Compose(Transforms.Resize(resize), Transforms.CenterCrop(crop));
            var random = new SampleRandom(1);

            using FloatImage fused = pipeline.Apply(ImageDecoder.Decode(path, ImageLoadOptions.Default), ref random);
            FloatImage unfused = ImageDecoder.Decode(path, ImageLoadOptions.Default);
            foreach (ImageTransform step in pipeline.Steps)
            {
                unfused = step.Apply(unfused, ref random);
            }

            using (unfused)
            {
                Assert.Equal((unfused.Channels, unfused.Width, unfused.Height), (fused.Channels, fused.Width, fused.Height));
                Assert.Equal(unfused.FullScale, fused.FullScale);
                AssertSameBits(unfused.Pixels.ToArray(), fused, $"{(colour ? "colour" : "gray")} {bits}-bit {width}x{height}");
            }
        }

        [Fact]
        public void ForEvaluation_DecodedSixteenBitPng_SameBitsAsTheScalarStages()
        {
            // The whole evaluation transform against the scalar algorithm, resize, crop and normalise written out.
            string path = WritePng(false, 16, 300, 257);
            var random = new SampleRandom(1);
            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);
            using FloatImage result = Transforms.ForEvaluation(Preprocessing.ImageNet).Apply(decoded.Clone(), ref random);

            (int w, int h) = ResizeTransform.ShorterSideSize(300, 257, 256);
            float[] cropped = Crop(ReferenceResampler.Resize(decoded, 0, 0, 300, 257, w, h), 1, w, h, CropBoxes.CenterOffset(w, 224), CropBoxes.CenterOffset(h, 224), 224, 224);
            var expected = new float[3 * 224 * 224];
            for (int c = 0; c < 3; c++)
            {
                float a = 1f / Preprocessing.ImageNet.Std[c], b = -Preprocessing.ImageNet.Mean[c] / Preprocessing.ImageNet.Std[c];
                for (int i = 0; i < 224 * 224; i++)
                {
                    expected[(c * 224 * 224) + i] = (cropped[i] * a) + b;
                }
            }

            AssertSameBits(expected, result, "ImageNet evaluation of a 300x257 16-bit PNG");
        }

        private static FloatImage Pattern(int channels, int width, int height)
        {
            FloatImage image = FloatImage.Rent(channels, width, height, 65535);
            var random = new Random((channels * 1000) + width + height);
            for (int i = 0; i < image.Length; i++)
            {
                // Values of a 16-bit file, with structure and noise, so that no sum is a round number.
                image.Buffer[i] = (float)((((i % width) * 0.013) + ((i / width) * 0.007) + (random.Next(4096) / 65535.0)) % 1.0);
            }

            return image;
        }

        private static float[] Crop(float[] full, int channels, int width, int height, int left, int top, int cropWidth, int cropHeight)
        {
            var result = new float[channels * cropWidth * cropHeight];
            for (int c = 0; c < channels; c++)
            {
                for (int y = 0; y < cropHeight; y++)
                {
                    for (int x = 0; x < cropWidth; x++)
                    {
                        int sx = left + x, sy = top + y;
                        result[(c * cropWidth * cropHeight) + (y * cropWidth) + x] = sx < 0 || sy < 0 || sx >= width || sy >= height ? 0f : full[(c * width * height) + (sy * width) + sx];
                    }
                }
            }

            return result;
        }

        private static void AssertSameBits(float[] expected, FloatImage actual, string what)
        {
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual.Buffer[i]) && !(float.IsNaN(expected[i]) && float.IsNaN(actual.Buffer[i])))
                {
                    Assert.Fail($"{what}: value {i} (channel {i / (actual.Width * actual.Height)}, row {i % (actual.Width * actual.Height) / actual.Width}, column {i % actual.Width}) is {actual.Buffer[i]:R}, expected {expected[i]:R}");
                }
            }
        }

        private string WritePng(bool colour, int bits, int width, int height)
        {
            var random = new Random((width * 31) + height + bits);
            string path = folder.PathOf($"{(colour ? "rgb" : "gray")}{bits}-{width}x{height}.png");
            var encoder = new PngEncoder { ColorType = colour ? PngColorType.Rgb : PngColorType.Grayscale, BitDepth = bits == 16 ? PngBitDepth.Bit16 : PngBitDepth.Bit8 };
            int Value(int x, int y, int c) => bits == 16
                ? (((x * 997) + (y * 389) + (c * 211)) % 61440) + random.Next(4096)
                : (((x * 7) + (y * 3) + (c * 5)) % 240) + random.Next(16);
            if (colour && bits == 16)
            {
                using var image = new Image<Rgb48>(width, height);
                ForEach(width, height, (x, y) => image[x, y] = new Rgb48((ushort)Value(x, y, 0), (ushort)Value(x, y, 1), (ushort)Value(x, y, 2)));
                image.Save(path, encoder);
            }
            else if (colour)
            {
                using var image = new Image<Rgb24>(width, height);
                ForEach(width, height, (x, y) => image[x, y] = new Rgb24((byte)Value(x, y, 0), (byte)Value(x, y, 1), (byte)Value(x, y, 2)));
                image.Save(path, encoder);
            }
            else if (bits == 16)
            {
                using var image = new Image<L16>(width, height);
                ForEach(width, height, (x, y) => image[x, y] = new L16((ushort)Value(x, y, 0)));
                image.Save(path, encoder);
            }
            else
            {
                using var image = new Image<L8>(width, height);
                ForEach(width, height, (x, y) => image[x, y] = new L8((byte)Value(x, y, 0)));
                image.Save(path, encoder);
            }

            Assert.True(File.Exists(path));
            return path;
        }

        private static void ForEach(int width, int height, Action<int, int> set)
        {
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    set(x, y);
                }
            }
        }
    }
}
