using System;
using System.Buffers.Binary;
using System.IO;
using MedicalTransfer.Data;
using MedicalTransfer.Explainability;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace MedicalTransfer.Tests.Explainability
{
    /// <summary>The overlay reads the original image through the data pipeline's decoder: orientation, pixel limit and format whitelist included.</summary>
    public sealed class HeatmapOverlayTests
    {
        private static readonly Heatmap HotTopLeft = new(2, 2, new[] { 1f, 0f, 0f, 0f });

        [Fact]
        public void Save_ExifRotatedJpeg_OverlaysTheUprightImageTheModelSaw()
        {
            // Stored 60 wide and 40 high; EXIF orientation 6 says "rotate 90 degrees clockwise to display",
            // so the model (ImageDecoder) sees a 40 x 60 portrait image.
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("sideways.jpg");
            using (var stored = new Image<Rgb24>(60, 40, new Rgb24(90, 90, 90)))
            {
                stored.Metadata.ExifProfile = new ExifProfile();
                stored.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
                stored.SaveAsJpeg(path, new JpegEncoder { Quality = 95 });
            }

            using (var seen = ImageDecoder.Decode(path, ImageLoadOptions.Default))
            {
                Assert.Equal((40, 60), (seen.Width, seen.Height));
            }

            // Resize 40 keeps 40 x 60; the 40 crop starts at row 10: the hot quarter is x 0..20, y 10..30 upright.
            var preprocessing = new Preprocessing { ResizeSize = 40, CropSize = 40 };
            string output = folder.File("overlay.png");
            HeatmapOverlay.Save(path, HotTopLeft, preprocessing, output, new OverlayOptions { Alpha = 1 });

            using var result = Image.Load<Rgb24>(output);
            Assert.Equal((40, 60), (result.Width, result.Height));
            var hot = HeatmapOverlay.Color(1, Colormap.Turbo);
            var cold = HeatmapOverlay.Color(0, Colormap.Turbo);
            Assert.Equal(new Rgb24(hot.R, hot.G, hot.B), result[5, 15]);
            Assert.Equal(new Rgb24(cold.R, cold.G, cold.B), result[35, 45]);
            Assert.True(result[20, 3].R < 60, "above the crop the image is dimmed, not coloured");
        }

        [Fact]
        public void ToPng_ExifRotatedJpeg_HasTheUprightSize()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("sideways.jpg");
            using (var stored = new Image<Rgb24>(60, 40))
            {
                stored.Metadata.ExifProfile = new ExifProfile();
                stored.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)8);
                stored.SaveAsJpeg(path);
            }

            using var result = Image.Load<Rgb24>(HeatmapOverlay.ToPng(path, HotTopLeft, new Preprocessing { ResizeSize = 40, CropSize = 40 }));

            Assert.Equal((40, 60), (result.Width, result.Height));
            Assert.Equal((40, 60), HeatmapOverlay.ImageSize(path));
        }

        [Theory]
        [InlineData("gif")]
        [InlineData("tiff")]
        public void Save_GifOrTiff_IsRefusedLikeTheDataPipelineRefusesIt(string format)
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("scan.png"); // the extension lies; the content decides
            using (var image = new Image<Rgb24>(32, 32, new Rgb24(200, 10, 10)))
            {
                if (format == "gif")
                {
                    image.SaveAsGif(path);
                }
                else
                {
                    image.SaveAsTiff(path);
                }
            }

            var preprocessing = new Preprocessing { ResizeSize = 32, CropSize = 32 };
            var save = Assert.Throws<ImageDataException>(() => HeatmapOverlay.Save(path, HotTopLeft, preprocessing, folder.File("overlay.png")));
            var frame = Assert.Throws<ImageDataException>(() => HeatmapOverlay.SaveImageFrame(path, new Heatmap(32, 32, new float[32 * 32]), folder.File("frame.png")));
            var png = Assert.Throws<ImageDataException>(() => HeatmapOverlay.ToPng(path, HotTopLeft, preprocessing));

            foreach (var ex in new[] { save, frame, png })
            {
                Assert.Equal(path, ex.Path);
                Assert.Contains("is not a PNG, JPEG, BMP or DICOM image: its content looks like a " + (format == "gif" ? "GIF" : "TIFF") + " image (not supported)", ex.Message, StringComparison.Ordinal);
            }

            Assert.False(File.Exists(folder.File("overlay.png")));
        }

        [Fact]
        public void Save_HeaderDeclaresMorePixelsThanTheLimit_IsRefusedBeforeDecoding()
        {
            // A valid 1 x 1 gray PNG whose header is patched to declare 9000 x 9000 (81 megapixels, above the default 64).
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("bomb.png");
            using (var image = new Image<L8>(1, 1))
            {
                image.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
            }

            byte[] bytes = File.ReadAllBytes(path);
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), 9000);
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), 9000);
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), Crc32(bytes.AsSpan(12, 17)));
            File.WriteAllBytes(path, bytes);

            var ex = Assert.Throws<ImageDataException>(() => HeatmapOverlay.Save(path, HotTopLeft, new Preprocessing { ResizeSize = 32, CropSize = 32 }, folder.File("overlay.png")));

            Assert.Contains("declares 9000x9000 = 81000000 pixels; the limit is 64000000 (ImageLoadOptions.MaxPixels)", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Save_DecodingOptionsWithALowerLimit_AreTheOnesApplied()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("small.png");
            using (var image = new Image<Rgb24>(20, 10))
            {
                image.SaveAsPng(path);
            }

            var options = new OverlayOptions { Decoding = new ImageLoadOptions { MaxPixels = 100 } };
            var ex = Assert.Throws<ImageDataException>(() => HeatmapOverlay.Save(path, HotTopLeft, new Preprocessing { ResizeSize = 10, CropSize = 10 }, folder.File("overlay.png"), options));

            Assert.Contains("the limit is 100 (ImageLoadOptions.MaxPixels)", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Save_SixteenBitGray_ShowsItsValuesScaledToEightBits()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("gray16.png");
            using (var image = new Image<L16>(8, 8, new L16(32896))) // 32896 / 65535 * 255 = 128.0
            {
                image.SaveAsPng(path, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 });
            }

            using var result = Image.Load<Rgb24>(HeatmapOverlay.ToPng(path, new Heatmap(1, 1, new[] { 0.5f }), new Preprocessing { ResizeSize = 8, CropSize = 8 }, new OverlayOptions { Alpha = 0 }));

            Assert.Equal(new Rgb24(128, 128, 128), result[3, 3]);
        }

        private static uint Crc32(ReadOnlySpan<byte> data)
        {
            uint crc = 0xFFFFFFFF;
            foreach (byte b in data)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++)
                {
                    crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
                }
            }

            return ~crc;
        }
    }
}
