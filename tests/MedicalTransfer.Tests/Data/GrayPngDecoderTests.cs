using System;
using System.IO;
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
    }
}
