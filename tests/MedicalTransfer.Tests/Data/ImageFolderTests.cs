using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using Microsoft.Extensions.Logging;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    public sealed class ImageFolderTests : IDisposable
    {
        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void Load_ClassFolders_SortedOrdinallyLikeTorchvision()
        {
            foreach (string name in new[] { "b", "B", "a_x", "A" })
            {
                Image(name + "/1.png");
            }

            ImageDataset data = ImageFolder.Load(folder.Root);

            // Python's sorted(): upper case before lower case, by code point.
            Assert.Equal(new[] { "A", "B", "a_x", "b" }, data.Classes);
            Assert.Equal(new[] { 0, 1, 2, 3 }, data.Samples.Select(s => s.Label));
        }

        [Fact]
        public void Load_FilesInNestedFolders_OrderedByFolderThenName()
        {
            Image("cat/b.png");
            Image("cat/a.jpeg");
            Image("cat/sub/0.png");
            Image("dog/x.bmp");

            ImageDataset data = ImageFolder.Load(folder.Root);

            Assert.Equal(new[] { "a.jpeg", "b.png", "0.png", "x.bmp" }, data.Samples.Select(s => Path.GetFileName(s.Path)));
        }

        [Fact]
        public void Load_OtherExtensionsAndDotFiles_IgnoredCountedAndLogged()
        {
            Image("NORMAL/1.PNG");
            Image("NORMAL/2.Jpg");
            Image("PNEUMONIA/3.jpeg");
            Image("PNEUMONIA/4.BMP");
            folder.WriteBytes("NORMAL/notes.txt", new byte[] { 1 });
            folder.WriteBytes("NORMAL/scan.gif", new byte[] { 1 }); // .dcm is read now (DICOM)
            folder.WriteBytes("PNEUMONIA/._3.jpeg", new byte[] { 1 });
            var logger = new ListLogger();

            ImageDataset data = ImageFolder.Load(folder.Root, logger);

            Assert.Equal(4, data.Count);
            Assert.Equal(3, data.IgnoredFileCount);
            Assert.Contains(logger.Messages, m => m.Contains("ignored 3 files", StringComparison.Ordinal));
        }

        [Fact]
        public void Load_EmptyClassFolder_ThrowsNamingIt()
        {
            Image("NORMAL/1.png");
            Directory.CreateDirectory(folder.PathOf("PNEUMONIA"));
            folder.WriteBytes("PNEUMONIA/readme.txt", new byte[] { 1 });

            var e = Assert.Throws<ImageDataException>(() => ImageFolder.Load(folder.Root));

            Assert.Equal(folder.PathOf("PNEUMONIA"), e.Path);
            Assert.Contains("holds no .png, .jpg, .jpeg, .bmp or DICOM images (1 other files were ignored)", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_NoClassFolders_ThrowsAndPointsAtLooseImages()
        {
            Image("1.png");

            var e = Assert.Throws<ImageDataException>(() => ImageFolder.Load(folder.Root));

            Assert.Contains("has no class folders (1 images lie directly in it", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_SingleClass_Throws()
        {
            Image("NORMAL/1.png");

            var e = Assert.Throws<ImageDataException>(() => ImageFolder.Load(folder.Root));

            Assert.Contains("single class folder ('NORMAL')", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_MissingFolder_Throws()
        {
            var e = Assert.Throws<ImageDataException>(() => ImageFolder.Load(folder.PathOf("nope")));

            Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Statistics_ThreeToOne_CountsImbalanceAndBalancedWeights()
        {
            Classes(("NORMAL", 25), ("PNEUMONIA", 75));

            ClassStatistics stats = ImageFolder.Load(folder.Root).Statistics;

            Assert.Equal(new[] { 25, 75 }, stats.Counts);
            Assert.Equal(100, stats.Total);
            Assert.Equal(3.0, stats.ImbalanceRatio, 12);
            // total / (classes * count): 100 / 50 and 100 / 150.
            Assert.Equal(2f, stats.InverseFrequencyWeights[0], 6);
            Assert.Equal(2f / 3f, stats.InverseFrequencyWeights[1], 6);
            // Weighted counts are equal: each class weighs the same in the loss.
            Assert.Equal(stats.InverseFrequencyWeights[0] * 25, stats.InverseFrequencyWeights[1] * 75, 4);
        }

        [Fact]
        public void Split_Stratified_KeepsClassProportionsInEverySplit()
        {
            Classes(("NORMAL", 40), ("PNEUMONIA", 120));

            DatasetSplits splits = ImageFolder.Load(folder.Root).Split(new SplitOptions { ValidationFraction = 0.25, TestFraction = 0.25, Seed = 3 });

            Assert.Equal(new[] { 20, 60 }, splits.Train.Statistics.Counts);
            Assert.Equal(new[] { 10, 30 }, splits.Validation.Statistics.Counts);
            Assert.Equal(new[] { 10, 30 }, splits.Test.Statistics.Counts);
            Assert.Empty(splits.Train.Samples.Select(s => s.Path).Intersect(splits.Test.Samples.Select(s => s.Path)));
            Assert.Empty(splits.Train.Samples.Select(s => s.Path).Intersect(splits.Validation.Samples.Select(s => s.Path)));
            Assert.Contains("PNEUMONIA", splits.Report.ToString(), StringComparison.Ordinal);
            Assert.Equal(new[] { 10, 30 }, splits.Report.Test.Counts);
        }

        [Fact]
        public void Split_SameSeed_SameAssignmentAndOtherSeedDiffers()
        {
            Classes(("a", 30), ("b", 30));
            ImageDataset data = ImageFolder.Load(folder.Root);

            string[] first = data.Split(new SplitOptions { Seed = 1 }).Test.Samples.Select(s => s.Path).ToArray();
            string[] again = data.Split(new SplitOptions { Seed = 1 }).Test.Samples.Select(s => s.Path).ToArray();
            string[] other = data.Split(new SplitOptions { Seed = 2 }).Test.Samples.Select(s => s.Path).ToArray();

            Assert.Equal(first, again);
            Assert.NotEqual(first, other);
        }

        [Fact]
        public void Split_GroupPattern_NoPatientStraddlesTwoSplits()
        {
            // 30 patients with 1 to 4 images each, Kaggle-style names.
            for (int p = 0; p < 30; p++)
            {
                string cls = p % 3 == 0 ? "NORMAL" : "PNEUMONIA";
                for (int k = 0; k <= p % 4; k++)
                {
                    Image(cls + "/person" + p + "_virus_" + k + ".png");
                }
            }

            var options = new SplitOptions { GroupPattern = @"^(person\d+)_", Seed = 5 };
            DatasetSplits splits = ImageFolder.Load(folder.Root).Split(options);

            string Patient(ImageSample s) => Path.GetFileName(s.Path).Split('_')[0];
            var train = splits.Train.Samples.Select(Patient).ToHashSet();
            var validation = splits.Validation.Samples.Select(Patient).ToHashSet();
            var test = splits.Test.Samples.Select(Patient).ToHashSet();
            Assert.Empty(train.Intersect(validation));
            Assert.Empty(train.Intersect(test));
            Assert.Empty(validation.Intersect(test));
            Assert.Equal(30, train.Count + validation.Count + test.Count);
            Assert.NotEmpty(validation);
            Assert.NotEmpty(test);
        }

        [Fact]
        public void Split_TooFewImagesInAClass_ThrowsNamingTheClass()
        {
            Classes(("NORMAL", 2), ("PNEUMONIA", 30));

            var e = Assert.Throws<ImageDataException>(() => ImageFolder.Load(folder.Root).Split());

            Assert.Contains("Class 'NORMAL'", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Split_InvalidFractions_ThrowArgumentException()
        {
            Classes(("a", 10), ("b", 10));
            ImageDataset data = ImageFolder.Load(folder.Root);

            Assert.Throws<ArgumentOutOfRangeException>(() => data.Split(new SplitOptions { ValidationFraction = 0 }));
            Assert.Throws<ArgumentException>(() => data.Split(new SplitOptions { ValidationFraction = 0.5, TestFraction = 0.5 }));
            Assert.Throws<ArgumentException>(() => data.Split(new SplitOptions { GroupPattern = "(" }));
        }

        [Fact]
        public void LoadSplits_KaggleSizedVal_PoolsAndResplitsLeavingTestAlone()
        {
            Layout("train", 100, 300);
            Layout("val", 8, 8);
            Layout("test", 20, 40);
            var logger = new ListLogger();

            DatasetSplits splits = ImageFolder.LoadSplits(folder.Root, new SplitOptions { ValidationFraction = 0.2 }, logger);

            Assert.True(splits.Report.Resplit);
            Assert.Equal(new[] { 20, 40 }, splits.Test.Statistics.Counts);
            Assert.All(splits.Test.Samples, s => Assert.StartsWith(folder.PathOf("test"), s.Path, StringComparison.Ordinal));
            // 108 + 308 pooled, 20% of each class to validation.
            Assert.Equal(new[] { 22, 62 }, splits.Validation.Statistics.Counts);
            Assert.Equal(new[] { 86, 246 }, splits.Train.Statistics.Counts);
            Assert.Contains(splits.Report.Notes, n => n.Contains("fewer than 20 images in a class", StringComparison.Ordinal));
            Assert.Contains(logger.Messages, m => m.Contains("Re-split", StringComparison.Ordinal));
        }

        [Fact]
        public void LoadSplits_LargeEnoughVal_KeptAsGiven()
        {
            Layout("train", 30, 30);
            Layout("val", 20, 25);
            Layout("test", 5, 5);

            DatasetSplits splits = ImageFolder.LoadSplits(folder.Root);

            Assert.False(splits.Report.Resplit);
            Assert.Equal(new[] { 20, 25 }, splits.Validation.Statistics.Counts);
            Assert.Equal(new[] { 30, 30 }, splits.Train.Statistics.Counts);
        }

        [Fact]
        public void LoadSplits_NoValFolder_CarvesValidationFromTrain()
        {
            Layout("train", 40, 40);
            Layout("test", 5, 5);

            DatasetSplits splits = ImageFolder.LoadSplits(folder.Root);

            Assert.True(splits.Report.Resplit);
            Assert.Equal(new[] { 6, 6 }, splits.Validation.Statistics.Counts);
        }

        [Fact]
        public void LoadSplits_MissingTest_ThrowsExplainingLayout()
        {
            Layout("train", 5, 5);

            var e = Assert.Throws<ImageDataException>(() => ImageFolder.LoadSplits(folder.Root));

            Assert.Contains("has no 'test' folder", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void LoadSplits_DifferentClassFolders_Throws()
        {
            Layout("train", 5, 5);
            Image("test/NORMAL/1.png");
            Image("test/COVID/1.png");

            var e = Assert.Throws<ImageDataException>(() => ImageFolder.LoadSplits(folder.Root));

            Assert.Contains("same class folders", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void LoadSplits_PatientInTrainAndTest_ReportsLeak()
        {
            Layout("train", 30, 30);
            Image("test/NORMAL/patient1_9.png");
            Image("test/PNEUMONIA/patient900_0.png");
            Image("train/NORMAL/patient1_0.png");
            var logger = new ListLogger();

            DatasetSplits splits = ImageFolder.LoadSplits(folder.Root, new SplitOptions { GroupPattern = @"^(patient\d+)_" }, logger);

            Assert.Contains(splits.Report.Notes, n => n.Contains("Group leak: 1 groups", StringComparison.Ordinal) && n.Contains("patient1", StringComparison.Ordinal));
            Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning);
        }

        [Fact]
        public void TestSet_IsNotAnImageDatasetAndCannotBeMadeOne()
        {
            // Training and validation APIs take ImageDataset; the test split must not fit there.
            Assert.False(typeof(ImageDataset).IsAssignableFrom(typeof(TestSet)));
            Assert.Empty(typeof(ImageDataset).GetConstructors());
            Assert.Empty(typeof(TestSet).GetConstructors());
            Assert.DoesNotContain(typeof(TestSet).GetProperties(), p => p.PropertyType == typeof(ImageDataset));
            Assert.DoesNotContain(typeof(TestSet).GetMethods(), m => m.ReturnType == typeof(ImageDataset) || m.ReturnType == typeof(DataLoader));
            Assert.DoesNotContain(typeof(TestSet).GetMethods(), m => m.Name.StartsWith("op_", StringComparison.Ordinal));
        }

        private void Image(string relative) => folder.WriteGrayPng(relative, 4, 4, (x, y) => (byte)(x + y));

        private void Classes(params (string Name, int Count)[] classes)
        {
            foreach ((string name, int count) in classes)
            {
                for (int i = 0; i < count; i++)
                {
                    Image(name + "/" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture) + ".png");
                }
            }
        }

        private void Layout(string split, int normal, int pneumonia)
        {
            Classes((split + "/NORMAL", normal), (split + "/PNEUMONIA", pneumonia));
        }
    }
}
