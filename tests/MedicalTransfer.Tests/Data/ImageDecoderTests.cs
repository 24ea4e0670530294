using System;
using System.IO;
using MedicalTransfer.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    public sealed class ImageDecoderTests : IDisposable
    {
        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void Decode_Gray16Png_KeepsEverySixteenBitValueExactly()
        {
            using var image = new Image<L16>(4, 1);
            ushort[] values = { 0, 1, 257, 65535 };
            for (int x = 0; x < 4; x++)
            {
                image[x, 0] = new L16(values[x]);
            }

            string path = folder.PathOf("gray16.png");
            image.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 });

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal(1, decoded.Channels);
            Assert.Equal(65535f, decoded.FullScale);
            for (int x = 0; x < 4; x++)
            {
                Assert.Equal((float)(values[x] / 65535.0), decoded.Buffer[x]);
                Assert.Equal(values[x], (int)Math.Round(decoded.Buffer[x] * 65535.0));
            }

            // 1 and 257 would both collapse to 0 and 1 (of 255) through an 8-bit path.
            Assert.NotEqual(decoded.Buffer[0], decoded.Buffer[1]);
            Assert.Equal(1.0 / 65535.0, decoded.Buffer[1], 12);
        }

        public static TheoryData<Exception, bool> DecoderExceptions() => new()
        {
            { new InvalidImageContentException("corrupt scan"), true },
            { new UnknownImageFormatException("not an image"), true },
            { new NotSupportedException("this kind of bitmap"), true },
            { new InvalidDataException("inflate failed"), true },
            { new EndOfStreamException("cut short"), true },
            { new NullReferenceException(), false },
            { new InvalidOperationException("a bug"), false },
            { new ObjectDisposedException("buffer"), false },
            { new ArgumentOutOfRangeException("offset"), false },
            { new IndexOutOfRangeException(), false },
            { new InsufficientExecutionStackException(), false },
            { new OutOfMemoryException(), false },
        };

        [Theory]
        [MemberData(nameof(DecoderExceptions))]
        public void IsBadImageData_DecoderErrorsAreBadDataAndBugsAreNot(Exception exception, bool badData)
        {
            // Under BadImagePolicy.Skip a bad-data verdict drops the image silently: an SDK bug must not get one.
            Assert.Equal(badData, ImageDecoder.IsBadImageData(exception));
        }

        [Fact]
        public void IsBadImageData_ThrownOutsideImageSharp_IsABugNotBadData()
        {
            // ImageSharp's own ArgumentException/NullReferenceException on malformed files are bad data (the
            // fuzz corpus replays them); the same types raised by other code carry its frames and must surface.
            Exception thrown;
            try
            {
                _ = new string('x', 2).Substring(5);
                throw new InvalidOperationException("unreachable");
            }
            catch (ArgumentOutOfRangeException e)
            {
                thrown = e;
            }

            Assert.False(ImageDecoder.IsBadImageData(thrown));
        }

        [Fact]
        public void Decode_BmpWithJpegCompression_IsBadDataNamingTheFile()
        {
            // BI_JPEG (compression 4) is a valid BMP header ImageSharp does not decode (NotSupportedException).
            string path = folder.PathOf("jpeg-in.bmp");
            using (var image = new Image<Rgb24>(4, 4))
            {
                image.SaveAsBmp(path, new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 });
            }

            byte[] bytes = File.ReadAllBytes(path);
            bytes[30] = 4; // biCompression
            File.WriteAllBytes(path, bytes);

            var ex = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_Gray8Png_DividesBy255()
        {
            string path = folder.WriteGrayPng("gray8.png", 3, 1, (x, _) => (byte)(x * 127));

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal(1, decoded.Channels);
            Assert.Equal(new[] { 0f, 127f / 255f, 254f / 255f }, decoded.Pixels.ToArray());
        }

        [Theory]
        [InlineData(PngColorType.Rgb)]
        [InlineData(PngColorType.RgbWithAlpha)]
        [InlineData(PngColorType.Palette)]
        public void Decode_ColourPng_GivesThreePlanesInRgbOrder(PngColorType colorType)
        {
            using var image = new Image<Rgba32>(2, 1);
            image[0, 0] = new Rgba32(255, 0, 0, 128);
            image[1, 0] = new Rgba32(0, 51, 255, 255);
            string path = folder.PathOf("colour.png");
            image.SaveAsPng(path, new PngEncoder { ColorType = colorType, BitDepth = PngBitDepth.Bit8 });

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal(3, decoded.Channels);
            // Alpha is dropped without compositing, as PIL's convert("RGB") does.
            Assert.Equal(new[] { 1f, 0f, 0f, 0.2f, 0f, 1f }, decoded.Pixels.ToArray());
        }

        [Fact]
        public void Decode_Rgb48Png_KeepsSixteenBitColour()
        {
            using var image = new Image<Rgb48>(1, 1);
            image[0, 0] = new Rgb48(1, 257, 65535);
            string path = folder.PathOf("rgb48.png");
            image.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit16 });

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal(new[] { (float)(1 / 65535.0), (float)(257 / 65535.0), 1f }, decoded.Pixels.ToArray());
        }

        [Fact]
        public void Decode_GrayJpeg_GivesOnePlaneCloseToSource()
        {
            using var image = new Image<L8>(16, 16, new L8(100));
            string path = folder.PathOf("gray.jpeg");
            image.SaveAsJpeg(path, new JpegEncoder { Quality = 95, ColorType = JpegColorType.Luminance });

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal(1, decoded.Channels);
            Assert.All(decoded.Pixels.ToArray(), v => Assert.Equal(100 / 255.0, v, 2));
        }

        [Fact]
        public void Decode_ColourJpegAndBmp_GiveThreePlanes()
        {
            using var image = new Image<Rgb24>(8, 8, new Rgb24(200, 100, 50));
            string jpeg = folder.PathOf("colour.jpg");
            string bmp = folder.PathOf("colour.BMP");
            image.SaveAsJpeg(jpeg, new JpegEncoder { Quality = 100 });
            image.SaveAsBmp(bmp, new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 });

            using FloatImage fromJpeg = ImageDecoder.Decode(jpeg, ImageLoadOptions.Default);
            using FloatImage fromBmp = ImageDecoder.Decode(bmp, ImageLoadOptions.Default);

            Assert.Equal(3, fromJpeg.Channels);
            Assert.Equal(200 / 255.0, fromJpeg.Plane(0)[0], 1);
            Assert.Equal(50 / 255.0, fromJpeg.Plane(2)[0], 1);
            Assert.Equal(new[] { 200f / 255f, 100f / 255f, 50f / 255f }, new[] { fromBmp.Plane(0)[0], fromBmp.Plane(1)[0], fromBmp.Plane(2)[0] });
        }

        [Fact]
        public void Decode_CmykJpeg_ConvertsToRgb()
        {
            string path = folder.WriteBytes("cmyk.jpg", Corpus.CmykJpeg());

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal(3, decoded.Channels);
            Assert.Equal(16, decoded.Width);
            // Cyan: R low, G and B high. Yellow: R and G high, B low.
            Assert.True(decoded.Plane(0)[0] < 0.2 && decoded.Plane(1)[0] > 0.8 && decoded.Plane(2)[0] > 0.8, "left half should be cyan");
            Assert.True(decoded.Plane(0)[15] > 0.8 && decoded.Plane(1)[15] > 0.8 && decoded.Plane(2)[15] < 0.2, "right half should be yellow");
        }

        [Fact]
        public void Decode_ExifOrientation6_RotatesUpright()
        {
            // Stored 4 wide, 2 high, with a bright pixel top-left; orientation 6 means "rotate 90
            // degrees clockwise to display", so the upright image is 2 wide, 4 high, bright top-right.
            using var image = new Image<L8>(4, 2, new L8(0));
            image[0, 0] = new L8(255);
            image.Metadata.ExifProfile = new ExifProfile();
            image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
            string path = folder.PathOf("rotated.png");
            image.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Grayscale });

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal(2, decoded.Width);
            Assert.Equal(4, decoded.Height);
            Assert.Equal(1f, decoded.Buffer[1]);
            Assert.Equal(1f, System.Linq.Enumerable.Sum(decoded.Pixels.ToArray()));
        }

        [Fact]
        public void Decode_ZeroByteFile_ThrowsNamingFileAndReason()
        {
            string path = folder.WriteBytes("empty.png", Array.Empty<byte>());

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Equal(path, e.Path);
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("empty (0 bytes)", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_TruncatedJpeg_ThrowsTruncated()
        {
            byte[] jpeg = Corpus.Jpeg(256);
            string path = folder.WriteBytes("cut.jpeg", jpeg[..(jpeg.Length * 6 / 10)]);

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Contains("truncated JPEG", e.Message, StringComparison.Ordinal);
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_TruncatedPng_ThrowsTruncated()
        {
            byte[] png = Corpus.Png(256);
            string path = folder.WriteBytes("cut.png", png[..(png.Length * 6 / 10)]);

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Contains("truncated PNG", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_JpegCutInsideHeader_Throws()
        {
            byte[] jpeg = Corpus.Jpeg(64);
            string path = folder.WriteBytes("header.jpg", jpeg[..40]);

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData("GIF89a\u0001\u0000\u0001\u0000\u0000\u0000\u0000;", "GIF")]
        [InlineData("II*\u0000\u0008\u0000\u0000\u0000\u0000\u0000", "TIFF")]
        [InlineData("MM\u0000*\u0000\u0000\u0000\u0008\u0000\u0000", "TIFF")]
        public void Decode_OtherFormatRenamedPng_ThrowsNamingRealFormat(string content, string format)
        {
            string path = folder.WriteBytes("renamed.png", System.Text.Encoding.Latin1.GetBytes(content));

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Contains("not a PNG, JPEG, BMP or DICOM image", e.Message, StringComparison.Ordinal);
            Assert.Contains("a " + format + " image", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_RealGifRenamedPng_IsRefused()
        {
            using var image = new Image<Rgb24>(4, 4);
            using var stream = new MemoryStream();
            image.SaveAsGif(stream);
            string path = folder.WriteBytes("real-gif.png", stream.ToArray());

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Contains("GIF", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_RandomBytes_ThrowsUnrecognised()
        {
            var bytes = new byte[1000];
            new Random(7).NextBytes(bytes);
            bytes[0] = 0x00;
            string path = folder.WriteBytes("noise.jpg", bytes);

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Contains("unrecognised data", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_PngDeclaring100000Squared_RefusedBeforeDecoding()
        {
            string path = folder.WriteBytes("huge.png", Corpus.PngWithDeclaredSize(100000, 100000));

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Contains("100000x100000 = 10000000000 pixels", e.Message, StringComparison.Ordinal);
            Assert.Contains("limit is 64000000", e.Message, StringComparison.Ordinal);
            Assert.Null(e.InnerException); // refused from the header, the decoder never ran
        }

        [Fact]
        public void Decode_AboveConfiguredLimit_ThrowsAndAtLimitDecodes()
        {
            string path = folder.WriteGrayPng("ten.png", 10, 10, (_, _) => 1);

            Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, new ImageLoadOptions { MaxPixels = 99 }));
            using FloatImage ok = ImageDecoder.Decode(path, new ImageLoadOptions { MaxPixels = 100 });
            Assert.Equal(10, ok.Width);
        }

        [Fact]
        public void Decode_MissingFile_ThrowsImageDataException()
        {
            string path = folder.PathOf("missing.png");

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Contains("cannot be read", e.Message, StringComparison.Ordinal);
        }
    }
}
