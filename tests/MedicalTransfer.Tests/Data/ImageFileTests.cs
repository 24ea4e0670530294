using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Data
{
    /// <summary>The public single-image decode and the model's single-image preprocessing.</summary>
    public sealed class ImageFileTests
    {
        [Fact]
        public void Load_RgbPng_GivesPlanarValuesOverTheFullScale()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("rgb.png");
            using (var image = new Image<Rgb24>(5, 3))
            {
                for (int y = 0; y < 3; y++)
                {
                    for (int x = 0; x < 5; x++)
                    {
                        image[x, y] = new Rgb24((byte)(10 * x), (byte)(50 * y), (byte)(x + y));
                    }
                }

                image.SaveAsPng(path);
            }

            var decoded = ImageFile.Load(path);

            Assert.Equal((3, 5, 3), (decoded.Channels, decoded.Width, decoded.Height));
            Assert.Equal(path, decoded.Path);
            Assert.Equal(40 / 255f, decoded[0, 2, 4]);
            Assert.Equal(100 / 255f, decoded[1, 2, 4]);
            Assert.Equal(6 / 255f, decoded[2, 2, 4]);
            using var tensor = decoded.ToTensor();
            Assert.Equal(new long[] { 3, 3, 5 }, tensor.shape);
            Assert.Equal(decoded.ToArray(), tensor.data<float>().ToArray());
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => decoded[0, 3, 0]);
            Assert.Contains("[0, 3, 0] is outside the 3x3x5 image", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_SixteenBitGrayPng_KeepsSixteenBits()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("gray16.png");
            using (var image = new Image<L16>(2, 1))
            {
                image[0, 0] = new L16(1);
                image[1, 0] = new L16(65535);
                image.SaveAsPng(path);
            }

            var decoded = ImageFile.Load(path);

            Assert.Equal(1, decoded.Channels);
            Assert.Equal(1 / 65535f, decoded[0, 0, 0]);
            Assert.Equal(1f, decoded[0, 0, 1]);
        }

        [Fact]
        public void Load_NotAnImage_ThrowsImageDataExceptionNamingTheFile()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("note.png");
            File.WriteAllText(path, "not an image");
            var ex = Assert.Throws<ImageDataException>(() => ImageFile.Load(path));
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void PrepareImage_OneFile_IsWhatTheEvaluationLoaderBatches()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 4, Size = 48 });
            var data = ImageFolder.Load(folder.Path);
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses(data.Classes).OnDevice(CPU)
                .WithPreprocessing(new Preprocessing { ResizeSize = 40, CropSize = 32 }).Build();
            using var loader = model.CreateLoader(data, training: false, new LoaderOptions { BatchSize = 4, Workers = 1 });
            using var scope = NewDisposeScope();
            var batch = loader.GetBatches(0).Single();

            var prepared = model.PrepareImage(data.Samples[1].Path);

            Assert.Equal(new long[] { 3, 32, 32 }, prepared.shape);
            Assert.True(prepared.Equals(batch.Images[1]), "PrepareImage differs from the evaluation loader's tensor");
        }
    }
}
