using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using MedicalTransfer.Data;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>
    /// A real checkpoint made by the test (a small state dict written as safetensors), named as
    /// torchvision names its files (the first 8 hex digits of its SHA-256 before the extension), a
    /// catalogue entry for it, and an empty cache folder.
    /// </summary>
    internal sealed class DownloadTestFixture : IDisposable
    {
        private readonly TestSupport.TempFolder _folder = new();

        public DownloadTestFixture(bool fullHash = false)
        {
            CacheDirectory = Path.Combine(_folder.Path, "cache");
            string source = _folder.File("source.safetensors");
            using (var weight = torch.arange(0, 24, dtype: torch.ScalarType.Float32).reshape(2, 3, 2, 2))
            using (var bias = torch.tensor(new float[] { 0.5f, -1.25f }))
            {
                StateDictFile.WriteSafetensors(source, new[] { KeyValuePair.Create("conv1.weight", weight), KeyValuePair.Create("bn1.bias", bias) }, null);
            }

            Bytes = File.ReadAllBytes(source);
            Sha256 = Convert.ToHexString(SHA256.HashData(Bytes)).ToLowerInvariant();
            FileName = "resnet18-" + Sha256.Substring(0, 8) + ".pth";
            Entry = new CatalogEntry(18, "TEST", FileName, fullHash ? Sha256 : Sha256.Substring(0, 8), 11_689_512, Preprocessing.ImageNet);
            Weights = ResNetWeights.FromCatalogEntry(Entry);
        }

        public string CacheDirectory { get; }

        public byte[] Bytes { get; }

        public string Sha256 { get; }

        public string FileName { get; }

        public string CachedPath => Path.Combine(CacheDirectory, FileName);

        public CatalogEntry Entry { get; }

        public PretrainedWeights Weights { get; }

        public ListLogger Logger { get; } = new();

        /// <summary>The bytes with one byte changed in the middle.</summary>
        public byte[] Tampered()
        {
            var copy = (byte[])Bytes.Clone();
            copy[copy.Length / 2] ^= 0x01;
            return copy;
        }

        /// <summary>The clock of the downloads' idle timeouts: it moves only when a test advances it, so no download times out because the machine is slow.</summary>
        public Microsoft.Extensions.Time.Testing.FakeTimeProvider Clock { get; } = new();

        public PretrainedWeightsOptions Options(DownloadTestServer? server, int maxRetries = 0, bool offline = false, IProgress<DownloadProgress>? progress = null, TimeSpan? timeout = null) => new()
        {
            CacheDirectory = CacheDirectory,
            BaseAddress = server?.BaseAddress ?? new Uri("http://127.0.0.1:9/unused/"),
            MaxRetries = maxRetries,
            RetryDelay = TimeSpan.FromMilliseconds(20),
            Offline = offline,
            Progress = progress,
            Timeout = timeout ?? TimeSpan.FromSeconds(20),
            EnvironmentReader = _ => null,
            TimeProvider = Clock,
        };

        /// <summary>Every file in the cache folder (final and temporary), by name.</summary>
        public string[] CacheFiles() => Directory.Exists(CacheDirectory)
            ? Directory.GetFiles(CacheDirectory).Select(Path.GetFileName).OfType<string>().OrderBy(n => n, StringComparer.Ordinal).ToArray()
            : Array.Empty<string>();

        public void Dispose() => _folder.Dispose();
    }

    /// <summary>An <see cref="IProgress{T}"/> that records reports synchronously (Progress&lt;T&gt; posts them later).</summary>
    internal sealed class RecordingProgress : IProgress<DownloadProgress>
    {
        public ConcurrentQueue<DownloadProgress> Reports { get; } = new();

        public void Report(DownloadProgress value) => Reports.Enqueue(value);
    }
}
