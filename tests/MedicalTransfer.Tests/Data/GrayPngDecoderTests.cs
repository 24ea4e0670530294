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
    public sealed class GrayPngDecoderTests : IDisposable
    {
        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Theory]
        [InlineData(PngFilterMethod.None)]
        [InlineData(PngFilterMethod.Sub)]
        [InlineData(PngFilterMethod.Up)]
        [InlineData(PngFilterMethod.Average)]
        [InlineData(PngFilterMethod.Paeth)]
        [InlineData(PngFilterMethod.Adaptive)]
        public void Decode_SixteenBitEveryFilter_MatchesImageSharpExactly(PngFilterMethod filter)
        {
            var random = new Random((int)filter);
            using var image = new Image<L16>(37, 23);
            for (int y = 0; y < 23; y++)
            {
                for (int x = 0; x < 37; x++)
                {
                    image[x, y] = new L16((ushort)(((x * 1500) + (y * 700) + random.Next(3000)) % 65536));
                }
            }

            string path = folder.PathOf("f.png");
            image.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16, FilterMethod = filter });
            byte[] bytes = File.ReadAllBytes(path);

            Assert.True(GrayPngDecoder.IsFastGray(bytes, out int w, out int h, out int depth));
            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal((37, 23, 16), (w, h, depth));
            for (int y = 0; y < 23; y++)
            {
                for (int x = 0; x < 37; x++)
                {
                    Assert.Equal(image[x, y].PackedValue, (int)Math.Round(decoded.Buffer[(y * 37) + x] * 65535.0));
                }
            }
        }

        [Theory]
        [InlineData(PngFilterMethod.Paeth, 133, 29)] // eight-row groups at rows 0, 8 and 16, then five rows one by one
        [InlineData(PngFilterMethod.Paeth, 9, 16)] // rows just wider than one wavefront
        [InlineData(PngFilterMethod.Adaptive, 211, 40)] // filters mixed row by row: groups only where eight in a row are Paeth
        public void Decode_SixteenBitNoise_MatchesImageSharpExactly(PngFilterMethod filter, int width, int height)
        {
            // Full-range noise: every Paeth decision (a, b or c, ties included) occurs, in every byte of the sample.
            var random = new Random(width + height);
            using var image = new Image<L16>(width, height);
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    image[x, y] = new L16((ushort)(y % 5 == 0 ? (x * 257) % 65536 : random.Next(65536)));
                }
            }

            string path = folder.PathOf("noise.png");
            image.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16, FilterMethod = filter });

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    Assert.Equal(image[x, y].PackedValue, (int)Math.Round(decoded.Buffer[(y * width) + x] * 65535.0));
                }
            }
        }

        [Theory]
        [InlineData(PngFilterMethod.Sub)]
        [InlineData(PngFilterMethod.Paeth)]
        [InlineData(PngFilterMethod.Adaptive)]
        public void Decode_EightBitGray_MatchesImageSharpExactly(PngFilterMethod filter)
        {
            var random = new Random(3);
            using var image = new Image<L8>(19, 11);
            for (int y = 0; y < 11; y++)
            {
                for (int x = 0; x < 19; x++)
                {
                    image[x, y] = new L8((byte)random.Next(256));
                }
            }

            string path = folder.PathOf("g.png");
            image.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8, FilterMethod = filter });

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal(255f, decoded.FullScale);
            for (int i = 0; i < 19 * 11; i++)
            {
                Assert.Equal(image[i % 19, i / 19].PackedValue / 255f, decoded.Buffer[i]);
            }
        }

        [Fact]
        public void IsFastGray_ColourOrInterlaced_UsesGeneralPath()
        {
            using var image = new Image<L16>(8, 8);
            using var colour = new MemoryStream();
            using var interlaced = new MemoryStream();
            image.SaveAsPng(colour, new PngEncoder { ColorType = PngColorType.Rgb });
            image.SaveAsPng(interlaced, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16, InterlaceMethod = PngInterlaceMode.Adam7 });

            Assert.False(GrayPngDecoder.IsFastGray(colour.ToArray(), out _, out _, out _));
            Assert.False(GrayPngDecoder.IsFastGray(interlaced.ToArray(), out _, out _, out _));
        }

        [Fact]
        public void Decode_InterlacedSixteenBit_StillExactThroughImageSharp()
        {
            using var image = new Image<L16>(9, 7);
            image[4, 3] = new L16(257);
            image[8, 6] = new L16(65535);
            string path = folder.PathOf("i.png");
            image.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16, InterlaceMethod = PngInterlaceMode.Adam7 });

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal((float)(257 / 65535.0), decoded.Buffer[(3 * 9) + 4]);
            Assert.Equal(1f, decoded.Buffer[(6 * 9) + 8]);
        }

        [Fact]
        public void Decode_CorruptCompressedData_ThrowsImageDataException()
        {
            using var image = new Image<L16>(64, 64);
            for (int i = 0; i < 64; i++)
            {
                image[i, i] = new L16((ushort)(i * 1000));
            }

            using var stream = new MemoryStream();
            image.SaveAsPng(stream, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 });
            byte[] bytes = stream.ToArray();
            int idat = bytes.AsSpan().IndexOf("IDAT"u8);
            for (int i = idat + 6; i < idat + 30; i++)
            {
                bytes[i] ^= 0x5A; // garble the deflate stream, keep the chunk layout and IEND
            }

            string path = folder.WriteBytes("garbled.png", bytes);

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Contains("cannot be decoded", e.Message, StringComparison.Ordinal);
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData(16, 4099, 17)] // every 16-bit sample, rows not a multiple of the 16-sample vector
        [InlineData(8, 263, 3)] // every 8-bit sample, rows not a multiple of the 32-sample vector
        [InlineData(16, 5, 2)] // rows shorter than one vector
        public void ToFloats_EverySample_IsTheNearestFloatToValueOverMax(int bits, int width, int height)
        {
            int bytesPerSample = bits / 8, stride = width * bytesPerSample;
            var raw = new byte[height * (stride + 1)];
            var expected = new float[width * height];
            int max = bits == 16 ? 65535 : 255;
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    int value = ((y * width) + x) % (max + 1);
                    int at = (y * (stride + 1)) + 1 + (x * bytesPerSample);
                    if (bits == 16)
                    {
                        raw[at] = (byte)(value >> 8);
                        raw[at + 1] = (byte)value;
                    }
                    else
                    {
                        raw[at] = (byte)value;
                    }

                    expected[(y * width) + x] = (float)(value / (double)max); // the tables: value / max in double, then to float
                }
            }

            var destination = new float[width * height];
            GrayPngDecoder.ToFloats(raw, width, height, bits, ImageDecoder.Scale8, ImageDecoder.Scale16, destination);

            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), destination.Select(BitConverter.SingleToInt32Bits));
        }
    }
}
