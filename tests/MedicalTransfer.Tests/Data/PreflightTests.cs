using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Tests.Data.Dicom;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    public sealed class PreflightTests : IDisposable
    {
        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void Verify_BadFilesInAnySplit_AreAllReportedWithReasonsInOneError()
        {
            DatasetSplits splits = SplitsWithBadFiles(out string[] bad);

            var e = Assert.Throws<ImageDataException>(() => splits.Verify());

            Assert.Contains($"found {bad.Length} unreadable image files of {splits.Train.Count + splits.Validation.Count + splits.Test.Count}", e.Message, StringComparison.Ordinal);
            foreach (string file in bad)
            {
                Assert.Contains(file + ": ", e.Message, StringComparison.Ordinal);
            }

            Assert.Contains("empty (0 bytes)", e.Message, StringComparison.Ordinal);
            Assert.Contains("truncated PNG", e.Message, StringComparison.Ordinal);
            Assert.Contains("a GIF image (not supported)", e.Message, StringComparison.Ordinal);
            Assert.Contains("1.2.840.10008.1.2.4.90", e.Message, StringComparison.Ordinal);
            Assert.Contains("the limit is 64000000", e.Message, StringComparison.Ordinal);
            Assert.Contains("BadImagePolicy.Skip", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Verify_UnderSkip_LeavesTheBadFilesOutOfEverySplitAndSaysSo()
        {
            DatasetSplits splits = SplitsWithBadFiles(out string[] bad);
            var logger = new ListLogger();

            DatasetSplits verified = splits.Verify(new ImageLoadOptions { BadImages = BadImagePolicy.Skip }, logger);

            var kept = verified.Train.Samples.Concat(verified.Validation.Samples).Concat(verified.Test.Samples).Select(s => s.Path).ToArray();
            Assert.Empty(kept.Intersect(bad));
            Assert.Equal(splits.Train.Count + splits.Validation.Count + splits.Test.Count - bad.Length, kept.Length);
            Assert.Equal(bad.OrderBy(b => b, StringComparer.Ordinal), verified.Train.LeftOut.Concat(verified.Validation.LeftOut).Concat(verified.Test.Images.LeftOut).Select(l => l.Path).OrderBy(b => b, StringComparer.Ordinal));
            Assert.Contains(verified.Report.Notes, n => n.StartsWith("Pre-flight: left out 5 unreadable files", StringComparison.Ordinal));
            Assert.Equal(bad.Length, logger.Entries.Count(x => x.Id.Id == 3002));
            foreach (string path in kept)
            {
                using FloatImage image = ImageDecoder.Decode(path, ImageLoadOptions.Default); // everything kept decodes
            }
        }

        [Fact]
        public void Verify_ManyBadFiles_ListsTheFirst20AndCounts()
        {
            for (int i = 0; i < 30; i++)
            {
                folder.WriteBytes($"data/A/{i:D2}.png", Array.Empty<byte>());
                folder.WriteGrayPng($"data/B/{i:D2}.png", 4, 4, (x, y) => 1);
            }

            var e = Assert.Throws<ImageDataException>(() => ImageFolder.Load(folder.PathOf("data")).Verify());

            Assert.Contains("found 30 unreadable image files of 60", e.Message, StringComparison.Ordinal);
            Assert.Equal(20, e.Message.Split('\n').Count(l => l.Contains("is empty (0 bytes)", StringComparison.Ordinal)));
            Assert.Contains("... and 10 more.", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Verify_ReadsHeadersNotPixels()
        {
            // A PNG whose compressed pixels are garbage but whose header and IEND are intact passes the
            // pre-flight check (it identifies, it does not decode) and fails only when decoded.
            string good = folder.WriteGrayPng("data/A/a.png", 16, 16, (x, y) => (byte)(x * y));
            byte[] bytes = File.ReadAllBytes(good);
            int idat = bytes.AsSpan().IndexOf("IDAT"u8);
            for (int i = idat + 6; i < idat + 20; i++)
            {
                bytes[i] ^= 0x5A;
            }

            string broken = folder.WriteBytes("data/B/b.png", bytes);
            ImageDataset data = ImageFolder.Load(folder.PathOf("data"));

            Assert.Same(data, data.Verify());
            Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(broken, ImageLoadOptions.Default));
        }

        private DatasetSplits SplitsWithBadFiles(out string[] bad)
        {
            string root = folder.PathOf("data");
            SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = 40, Size = 32, Seed = 2 });
            byte[] png = File.ReadAllBytes(Directory.GetFiles(Path.Combine(root, "NORMAL")).First());
            bad = new[]
            {
                folder.WriteBytes("data/NORMAL/zzz-empty.png", Array.Empty<byte>()),
                folder.WriteBytes("data/NORMAL/zzz-cut.png", png[..(png.Length / 2)]),
                folder.WriteBytes("data/PNEUMONIA/zzz-gif.png", System.Text.Encoding.ASCII.GetBytes("GIF89a\u0001\u0000\u0001\u0000\u0000\u0000\u0000;")),
                folder.WriteBytes("data/PNEUMONIA/zzz-j2k.dcm", DicomTestFiles.Header(8, 8, "MONOCHROME2", 8, 8, false, "1.2.840.10008.1.2.4.90").Encapsulated(new[] { new byte[] { 0, 0, 0, 12 } }, false).ToBytes()),
                folder.WriteBytes("data/PNEUMONIA/zzz-huge.dcm", DicomTestFiles.Header(60000, 60000, "MONOCHROME2", 8, 8, false).PixelData(new byte[16], false).ToBytes()),
            };
            DatasetSplits splits = ImageFolder.Load(root).Split(new SplitOptions { Seed = 1 });
            Assert.Equal(5, bad.Length);
            return splits;
        }
    }
}
