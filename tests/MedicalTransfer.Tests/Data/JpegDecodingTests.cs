using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    /// <summary>
    /// The JPEG path of the one image decoder (libjpeg-turbo through SkiaSharp): the same samples as
    /// Pillow's (Fixtures/Jpeg/pillow_jpeg.json, made by make_pillow_jpeg.py beside it), EXIF
    /// orientation, and the SDK's errors for broken files.
    /// </summary>
    public sealed class JpegDecodingTests : IDisposable
    {
        private static readonly Lazy<JsonDocument> Pillow = new(() => JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("Jpeg", "pillow_jpeg.json"))));

        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Theory]
        [InlineData("colour420.jpg")]
        [InlineData("colour444.jpg")]
        [InlineData("gray.jpg")]
        public void Decode_Jpeg_EqualsPillowsSamplesExactly(string name)
        {
            JsonElement reference = Pillow.Value.RootElement.GetProperty("images").GetProperty(name);
            int width = reference.GetProperty("width").GetInt32(), height = reference.GetProperty("height").GetInt32(), channels = reference.GetProperty("channels").GetInt32();
            byte[] expected = reference.GetProperty("samples").EnumerateArray().Select(v => (byte)v.GetInt32()).ToArray();

            using FloatImage decoded = ImageDecoder.Decode(TestSupport.FixturePath("Jpeg", name), ImageLoadOptions.Default);

            Assert.Equal((width, height, channels), (decoded.Width, decoded.Height, decoded.Channels));
            int differing = 0, worst = 0;
            for (int i = 0; i < expected.Length; i++)
            {
                int pixel = i / channels, channel = i % channels;
                float value = decoded.Plane(channel)[pixel];
                // Samples become value / 255 exactly as torchvision's ToTensor makes them.
                int difference = Math.Abs((int)MathF.Round(value * 255f) - expected[i]);
                if (difference != 0 || value != (float)(expected[i] / 255.0))
                {
                    differing++;
                    worst = Math.Max(worst, difference);
                }
            }

            Assert.True(differing == 0, $"{differing} of {expected.Length} samples differ from Pillow's, by up to {worst}");
        }

        [Theory]
        [InlineData(1)]
        [InlineData(2)]
        [InlineData(3)]
        [InlineData(4)]
        [InlineData(5)]
        [InlineData(6)]
        [InlineData(7)]
        [InlineData(8)]
        public void Decode_ExifOrientedGrayJpeg_IsTurnedUprightAsImageSharpsAutoOrient(ushort orientation)
        {
            // 24x16 of constant 8x8 blocks, all different, so every flip and turn gives another picture;
            // constant blocks at quality 100 decode to their value in any conforming decoder.
            using var image = new Image<L8>(24, 16);
            for (int y = 0; y < 16; y++)
            {
                for (int x = 0; x < 24; x++)
                {
                    image[x, y] = new L8((byte)(20 + (40 * ((y / 8 * 3) + (x / 8)))));
                }
            }

            image.Metadata.ExifProfile = new ExifProfile();
            image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, orientation);
            string path = folder.PathOf($"oriented{orientation}.jpg");
            image.SaveAsJpeg(path, new JpegEncoder { Quality = 100, ColorType = JpegColorType.Luminance });
            using Image<L8> upright = Image.Load<L8>(path);
            upright.Mutate(m => m.AutoOrient());

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal((upright.Width, upright.Height, 1), (decoded.Width, decoded.Height, decoded.Channels));
            for (int y = 0; y < upright.Height; y++)
            {
                for (int x = 0; x < upright.Width; x++)
                {
                    Assert.True(Math.Abs((decoded.Buffer[(y * decoded.Width) + x] * 255f) - upright[x, y].PackedValue) <= 1.001f, $"orientation {orientation}: ({x},{y}) is {decoded.Buffer[(y * decoded.Width) + x] * 255f}, upright {upright[x, y].PackedValue}");
                }
            }
        }

        [Fact]
        public void Decode_ExifOrientation6ColourJpeg_TurnsEveryPlane()
        {
            // Stored 16 wide, 8 high: red left block, blue right block. Orientation 6 (turn 90 degrees
            // clockwise to display) puts red on top and blue below, 8 wide and 16 high.
            using var image = new Image<Rgb24>(16, 8);
            for (int y = 0; y < 8; y++)
            {
                for (int x = 0; x < 16; x++)
                {
                    image[x, y] = x < 8 ? new Rgb24(240, 20, 20) : new Rgb24(20, 20, 240);
                }
            }

            image.Metadata.ExifProfile = new ExifProfile();
            image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
            string path = folder.PathOf("colour6.jpg");
            image.SaveAsJpeg(path, new JpegEncoder { Quality = 100, ColorType = JpegColorType.YCbCrRatio444 });

            using FloatImage decoded = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            Assert.Equal((8, 16, 3), (decoded.Width, decoded.Height, decoded.Channels));
            int top = (2 * 8) + 4, bottom = (13 * 8) + 4;
            Assert.True(decoded.Plane(0)[top] > 0.85f && decoded.Plane(2)[top] < 0.15f, "the top should be red");
            Assert.True(decoded.Plane(0)[bottom] < 0.15f && decoded.Plane(2)[bottom] > 0.85f, "the bottom should be blue");
        }

        [Fact]
        public void Identify_Jpeg_GivesFormatAndStoredSize()
        {
            ImageFileInfo info = ImageDecoder.Identify(TestSupport.FixturePath("Jpeg", "colour420.jpg"), ImageLoadOptions.Default);

            Assert.Equal(("JPEG", 37, 23), (info.Format, info.Width, info.Height));
        }

        [Fact]
        public void Decode_JpegSignatureFollowedByGarbage_ThrowsCorruptHeaderNamingTheFile()
        {
            var garbage = new byte[300];
            new Random(7).NextBytes(garbage);
            garbage[0] = 0xFF;
            garbage[1] = 0xD8;
            garbage[2] = 0xFF;
            string path = folder.WriteBytes("garbage.jpg", garbage);

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, ImageLoadOptions.Default));

            Assert.Equal(path, e.Path);
            Assert.Contains("corrupt header", e.Message, StringComparison.Ordinal);
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Throws<ImageDataException>(() => ImageDecoder.Identify(path, ImageLoadOptions.Default));
        }

        [Fact]
        public void Decode_JpegAboveThePixelLimit_IsRefusedFromItsHeader()
        {
            string path = TestSupport.FixturePath("Jpeg", "colour420.jpg");

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, new ImageLoadOptions { MaxPixels = (37 * 23) - 1 }));

            Assert.Contains("declares 37x23 = 851 pixels; the limit is 850", e.Message, StringComparison.Ordinal);
        }
    }
}
