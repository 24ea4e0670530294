using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    public sealed class SyntheticChestXRayTests : IDisposable
    {
        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void WriteImageFolder_Defaults_KaggleClassesAtThreeToOne()
        {
            string root = folder.PathOf("cxr");

            (int normal, int pneumonia) = SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = 40, Size = 32 });

            Assert.Equal((10, 30), (normal, pneumonia));
            ImageDataset data = ImageFolder.Load(root);
            Assert.Equal(new[] { "NORMAL", "PNEUMONIA" }, data.Classes);
            Assert.Equal(new[] { 10, 30 }, data.Statistics.Counts);
        }

        [Fact]
        public void WriteImageFolder_Png16_UsesMoreThan256Levels()
        {
            string root = folder.PathOf("cxr16");
            SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = 2, Size = 64, Format = SyntheticImageFormat.Png16 });
            string file = Directory.EnumerateFiles(root, "*.png", SearchOption.AllDirectories).First();

            using FloatImage image = ImageDecoder.Decode(file, ImageLoadOptions.Default);

            Assert.Equal(65535f, image.FullScale);
            Assert.True(image.Pixels.ToArray().Distinct().Count() > 256);
        }

        [Fact]
        public void WriteImageFolder_Jpeg_WritesGrayJpegs()
        {
            string root = folder.PathOf("jpeg");
            SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = 4, Size = 64, Format = SyntheticImageFormat.Jpeg });

            string[] files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).ToArray();

            Assert.All(files, f => Assert.EndsWith(".jpeg", f, StringComparison.Ordinal));
            using FloatImage image = ImageDecoder.Decode(files[0], ImageLoadOptions.Default);
            Assert.Equal(1, image.Channels);
        }

        [Fact]
        public void WriteImageFolder_SameSeed_IdenticalFilesOtherSeedDiffers()
        {
            var options = new SyntheticChestXRayOptions { Count = 4, Size = 48, Seed = 7 };
            SyntheticChestXRay.WriteImageFolder(folder.PathOf("a"), options);
            SyntheticChestXRay.WriteImageFolder(folder.PathOf("b"), options);
            SyntheticChestXRay.WriteImageFolder(folder.PathOf("c"), options with { Seed = 8 });

            Assert.Equal(TempFolder.HashTree(folder.PathOf("a"), includeTimes: false), TempFolder.HashTree(folder.PathOf("b"), includeTimes: false));
            Assert.NotEqual(TempFolder.HashTree(folder.PathOf("a"), includeTimes: false), TempFolder.HashTree(folder.PathOf("c"), includeTimes: false));
        }

        [Fact]
        public void WriteImageFolder_NonEmptyFolder_RefusesAndLeavesItAlone()
        {
            string existing = folder.WriteBytes("mine/keep.txt", new byte[] { 42 });

            var e = Assert.Throws<ArgumentException>(() => SyntheticChestXRay.WriteImageFolder(folder.PathOf("mine")));

            Assert.Contains("not empty", e.Message, StringComparison.Ordinal);
            Assert.Single(Directory.EnumerateFileSystemEntries(folder.PathOf("mine")));
            Assert.Equal(new byte[] { 42 }, File.ReadAllBytes(existing));
        }

        [Fact]
        public void WriteImageFolder_ImagesPerPatient_GroupsShareClassAndName()
        {
            string root = folder.PathOf("patients");
            SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = 12, Size = 32, ImagesPerPatient = 3 });

            ImageDataset data = ImageFolder.Load(root);
            var byPatient = data.Samples.GroupBy(s => Path.GetFileName(s.Path)[..11]).ToArray();

            Assert.Equal(4, byPatient.Length);
            Assert.All(byPatient, g => Assert.Equal(3, g.Count()));
            Assert.All(byPatient, g => Assert.Single(g.Select(s => s.Label).Distinct()));
        }

        [Fact]
        public void Render_Positive_IsItsNormalTwinPlusOpacitiesInsideTheLungs()
        {
            const int size = 96;
            var normal = new float[size * size];
            var positive = new float[size * size];
            int withLesion = 0;
            for (int index = 0; index < 10; index++)
            {
                SyntheticChestXRay.Render(normal, size, 0, index, index, positive: false);
                SyntheticChestXRay.Render(positive, size, 0, index, index, positive: true);

                float[] difference = positive.Zip(normal, (p, n) => p - n).ToArray();
                Assert.All(difference, d => Assert.True(d >= -1e-6f));
                // Nothing changes at the image border (outside the body, far from the lungs).
                Assert.All(Enumerable.Range(0, size), x => Assert.Equal(0f, difference[x]));
                if (difference.Max() > 0.03f)
                {
                    withLesion++;
                }
            }

            // Learnable: most positives carry a visible opacity (some are faint on purpose).
            Assert.InRange(withLesion, 6, 10);
        }
    }
}
