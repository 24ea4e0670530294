using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Tests.Training;
using MedicalTransfer.Tests.Weights;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace MedicalTransfer.Tests.Reliability
{
    /// <summary>
    /// Writes onto a real full file system: a small tmpfs mounted for the test (this project's machines and CI
    /// run as root in a container that allows it; elsewhere the tests skip and say why). Each write fails with
    /// a <see cref="DiskFullException"/> naming the file and the bytes needed, and leaves the previous file
    /// bit-identical and no temporary file behind.
    /// </summary>
    [Collection("Fault host")]
    public sealed class DiskFullTests
    {
        [SkippableFact]
        public void Save_ModelOnAFullDisk_ThrowsDiskFullAndKeepsThePreviousFile()
        {
            // Room for one tiny model (19.7 MB) but not for a second beside it (the atomic write's temp file).
            using Tmpfs disk = Tmpfs.Mount(28L << 20, out string reason) ?? throw new SkipException(reason);
            string path = Path.Combine(disk.Path, "model.safetensors");
            using TransferModel first = TrainingFixtures.TinyModel(1);
            using TransferModel second = TrainingFixtures.TinyModel(2);
            first.Save(path);
            string before = ReliabilitySupport.Sha256(path);
            long size = new FileInfo(path).Length;

            var error = Assert.Throws<DiskFullException>(() => second.Save(path));

            AssertNamesPathAndSpace(error, path, size);
            Assert.Equal(before, ReliabilitySupport.Sha256(path));
            Assert.Empty(ReliabilitySupport.TempFiles(disk.Path, "model.safetensors"));
            using TransferModel reloaded = TransferModel.Load(path, TorchSharp.torch.CPU);
        }

        [SkippableFact]
        public void Fit_CheckpointOnAFullDisk_ThrowsDiskFullAndKeepsThePreviousCheckpoint()
        {
            using var scratch = new TestSupport.TempFolder();
            string probe = scratch.File("probe.safetensors");
            using (TransferModel model = TrainingFixtures.TinyModel(1))
            {
                TrainingFixtures.Fit(model, TrainingFixtures.Source(8), TrainingFixtures.Source(8, shuffle: false), new TrainingOptions { Epochs = 1, CheckpointPath = probe });
            }

            long size = new FileInfo(probe).Length;
            using Tmpfs disk = Tmpfs.Mount(size + (size / 2), out string reason) ?? throw new SkipException(reason);
            string path = Path.Combine(disk.Path, "checkpoint.safetensors");
            File.Copy(probe, path);
            string before = ReliabilitySupport.Sha256(path);

            using TransferModel again = TrainingFixtures.TinyModel(2);
            var error = Assert.Throws<DiskFullException>(() =>
                TrainingFixtures.Fit(again, TrainingFixtures.Source(8), TrainingFixtures.Source(8, shuffle: false), new TrainingOptions { Epochs = 1, CheckpointPath = path }));

            AssertNamesPathAndSpace(error, path, size);
            Assert.Equal(before, ReliabilitySupport.Sha256(path));
            Assert.Empty(ReliabilitySupport.TempFiles(disk.Path, "checkpoint.safetensors"));
        }

        [SkippableFact]
        public void SaveJson_TrainingReportOnAFullDisk_ThrowsDiskFullAndKeepsThePreviousReport()
        {
            TrainingHistory history;
            using (TransferModel model = TrainingFixtures.TinyModel(1))
            {
                history = TrainingFixtures.Fit(model, TrainingFixtures.Source(8), TrainingFixtures.Source(8, shuffle: false), new TrainingOptions { Epochs = 2 }).History;
            }

            using Tmpfs disk = Tmpfs.Mount(256L << 10, out string reason) ?? throw new SkipException(reason);
            string path = Path.Combine(disk.Path, "history.json");
            File.WriteAllText(path, "{\"epochs\": []}");
            string before = ReliabilitySupport.Sha256(path);
            FillUp(disk.Path);

            var error = Assert.Throws<DiskFullException>(() => history.SaveJson(path));

            AssertNamesPathAndSpace(error, path, System.Text.Encoding.UTF8.GetByteCount(history.ToJson()));
            Assert.Equal(before, ReliabilitySupport.Sha256(path));
            Assert.Empty(ReliabilitySupport.TempFiles(disk.Path, "history.json"));
        }

        [SkippableFact]
        public void GetOrDownload_OntoAFullDisk_ThrowsDiskFullWithoutRetryingAndKeepsTheCachedFile()
        {
            using Tmpfs disk = Tmpfs.Mount(4L << 20, out string reason) ?? throw new SkipException(reason);
            var body = new byte[6 << 20];
            new Random(18).NextBytes(body);
            string sha = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(body)).ToLowerInvariant();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(body));
            var entry = new CatalogEntry(18, "TEST", "resnet18-test.pth", sha, 11_689_512, Preprocessing.ImageNet);
            string path = Path.Combine(disk.Path, entry.FileName);
            File.WriteAllBytes(path, new byte[1000]); // a damaged cached copy: replaced only by a complete, verified download
            var options = new PretrainedWeightsOptions { CacheDirectory = disk.Path, BaseAddress = server.BaseAddress, MaxRetries = 3, RetryDelay = TimeSpan.FromMilliseconds(1) };

            var error = Assert.Throws<DiskFullException>(() => WeightsCache.GetOrDownload(entry, options, NullLogger.Instance, CancellationToken.None));

            AssertNamesPathAndSpace(error, path, body.Length);
            Assert.Equal(1, server.Requests); // a full disk is not retried
            Assert.Equal(new byte[1000], File.ReadAllBytes(path));
            Assert.Empty(ReliabilitySupport.TempFiles(disk.Path, entry.FileName));
        }

        private static void AssertNamesPathAndSpace(DiskFullException error, string path, long bytes)
        {
            Assert.Equal(path, error.Path);
            Assert.Equal(bytes, error.BytesNeeded);
            Assert.True(error.BytesAvailable >= 0 && error.BytesAvailable < bytes, $"free space {error.BytesAvailable} should be known and too small for {bytes}");
            Assert.Contains(path, error.Message, StringComparison.Ordinal);
            Assert.Contains(bytes.ToString("N0", CultureInfo.InvariantCulture) + " bytes", error.Message, StringComparison.Ordinal);
            Assert.Contains("the previous file, if any, is intact", error.Message, StringComparison.Ordinal);
            Assert.IsAssignableFrom<IOException>(error);
        }

        /// <summary>Fills the file system until a write fails, as a disk that other files filled up.</summary>
        private static void FillUp(string folder)
        {
            using var filler = new FileStream(Path.Combine(folder, "filler.bin"), FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1);
            var block = new byte[4096];
            try
            {
                while (true)
                {
                    filler.Write(block);
                    filler.Flush();
                }
            }
            catch (IOException)
            {
                // Full.
            }
        }
    }
}
