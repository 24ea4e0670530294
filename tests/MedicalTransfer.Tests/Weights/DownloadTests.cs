using System;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging;
using TorchSharp;
using Xunit;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>Download, verification and retries against a real HTTP server on loopback.</summary>
    public sealed class DownloadTests
    {
        private static readonly ResNetArchitecture ResNet18 = ResNetArchitecture.ForDepth(18);

        [Fact]
        public void Resolve_GoodFile_DownloadsVerifiesCachesAndLoads()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(fixture.Bytes));
            var progress = new RecordingProgress();

            using var resolved = fixture.Weights.Resolve(ResNet18, fixture.Options(server, progress: progress), fixture.Logger, CancellationToken.None);

            Assert.Equal(new[] { "/models/" + fixture.FileName }, server.Paths.ToArray());
            Assert.Equal(new[] { fixture.FileName }, fixture.CacheFiles());
            Assert.Equal(fixture.Bytes, File.ReadAllBytes(fixture.CachedPath));
            Assert.Equal(fixture.CachedPath, resolved.Source);
            Assert.Equal(new[] { "bn1.bias", "conv1.weight" }, resolved.StateDict.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray());
            Assert.Equal(new long[] { 2, 3, 2, 2 }, resolved.StateDict["conv1.weight"].shape);
            Assert.Equal(23f, resolved.StateDict["conv1.weight"][1, 2, 1, 1].item<float>());
            Assert.Equal(new[] { 0.5f, -1.25f }, resolved.StateDict["bn1.bias"].data<float>().ToArray());
            var last = progress.Reports.Last();
            Assert.Equal(fixture.Bytes.Length, last.BytesReceived);
            Assert.Equal(fixture.Bytes.Length, last.TotalBytes);
            Assert.Equal(1.0, last.Fraction);
            Assert.Contains(fixture.Logger.Entries, e => e.Id.Id == 4004 && e.Message.Contains(fixture.Sha256, StringComparison.Ordinal));
        }

        [Fact]
        public void Resolve_FullHashInCatalogue_VerifiesAllDigits()
        {
            using var fixture = new DownloadTestFixture(fullHash: true);
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(fixture.Bytes));

            using var resolved = fixture.Weights.Resolve(ResNet18, fixture.Options(server), fixture.Logger, CancellationToken.None);

            Assert.Equal(64, fixture.Entry.Sha256.Length);
            Assert.Equal(2, resolved.StateDict.Count);
        }

        [Fact]
        public void Resolve_CachedFile_IsRehashedAndUsedWithoutNetwork()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(fixture.Bytes));
            fixture.Weights.Resolve(ResNet18, fixture.Options(server), fixture.Logger, CancellationToken.None).Dispose();

            using var again = fixture.Weights.Resolve(ResNet18, fixture.Options(server), fixture.Logger, CancellationToken.None);

            Assert.Equal(1, server.Requests);
            Assert.Contains(fixture.Logger.Entries, e => e.Id.Id == 4000);
            Assert.Equal(2, again.StateDict.Count);
        }

        [Fact]
        public void Resolve_CachedFileDamaged_DownloadsAgainAndReplacesIt()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(fixture.Bytes));
            Directory.CreateDirectory(fixture.CacheDirectory);
            File.WriteAllBytes(fixture.CachedPath, fixture.Tampered());

            using var resolved = fixture.Weights.Resolve(ResNet18, fixture.Options(server), fixture.Logger, CancellationToken.None);

            Assert.Equal(1, server.Requests);
            Assert.Equal(fixture.Bytes, File.ReadAllBytes(fixture.CachedPath));
            Assert.Contains(fixture.Logger.Entries, e => e.Id.Id == 4001 && e.Level == LogLevel.Warning);
        }

        [Fact]
        public void Resolve_CachedFileDamagedOffline_ThrowsVerificationWithBothHashes()
        {
            using var fixture = new DownloadTestFixture();
            Directory.CreateDirectory(fixture.CacheDirectory);
            byte[] tampered = fixture.Tampered();
            File.WriteAllBytes(fixture.CachedPath, tampered);
            string actual = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(tampered)).ToLowerInvariant();

            var ex = Assert.Throws<DownloadVerificationException>(() => fixture.Weights.Resolve(ResNet18, fixture.Options(null, offline: true), fixture.Logger, CancellationToken.None));

            Assert.Equal(fixture.Entry.Sha256, ex.ExpectedSha256);
            Assert.Equal(actual, ex.ActualSha256);
            Assert.Contains(fixture.CachedPath, ex.Message, StringComparison.Ordinal);
            Assert.Contains(actual, ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Resolve_TamperedByte_ThrowsWithExpectedAndActualHashAndLeavesCacheEmpty()
        {
            using var fixture = new DownloadTestFixture();
            byte[] tampered = fixture.Tampered();
            string actual = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(tampered)).ToLowerInvariant();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(tampered));

            var ex = Assert.Throws<DownloadVerificationException>(() => fixture.Weights.Resolve(ResNet18, fixture.Options(server, maxRetries: 3), fixture.Logger, CancellationToken.None));

            Assert.Equal(fixture.Sha256.Substring(0, 8), ex.ExpectedSha256);
            Assert.Equal(actual, ex.ActualSha256);
            Assert.Contains("expected SHA-256 " + fixture.Sha256.Substring(0, 8), ex.Message, StringComparison.Ordinal);
            Assert.Contains("received " + actual, ex.Message, StringComparison.Ordinal);
            Assert.Empty(fixture.CacheFiles());
            Assert.Equal(1, server.Requests); // a hash mismatch is not retried
        }

        [Fact]
        public void Resolve_TamperedByte_LeavesExistingCacheUntouched()
        {
            using var fixture = new DownloadTestFixture();
            Directory.CreateDirectory(fixture.CacheDirectory);
            string other = Path.Combine(fixture.CacheDirectory, "resnet50-0676ba61.pth");
            File.WriteAllText(other, "another checkpoint");
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(fixture.Tampered()));

            Assert.Throws<DownloadVerificationException>(() => fixture.Weights.Resolve(ResNet18, fixture.Options(server), fixture.Logger, CancellationToken.None));

            Assert.Equal(new[] { "resnet50-0676ba61.pth" }, fixture.CacheFiles());
            Assert.Equal("another checkpoint", File.ReadAllText(other));
        }

        [Fact]
        public void Resolve_ConnectionDroppedMidBody_LeavesNoCacheEntryAndNextCallDownloadsAgain()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, n) => n == 1
                ? new ServerReply.DropAfter(fixture.Bytes, fixture.Bytes.Length / 2)
                : new ServerReply.Body(fixture.Bytes));

            var ex = Assert.Throws<WeightsUnavailableException>(() => fixture.Weights.Resolve(ResNet18, fixture.Options(server, maxRetries: 0), fixture.Logger, CancellationToken.None));

            Assert.Contains("after 1 attempt(s)", ex.Message, StringComparison.Ordinal);
            Assert.Contains(fixture.CachedPath, ex.Message, StringComparison.Ordinal);
            Assert.Empty(fixture.CacheFiles());

            using var resolved = fixture.Weights.Resolve(ResNet18, fixture.Options(server, maxRetries: 0), fixture.Logger, CancellationToken.None);

            Assert.Equal(2, server.Requests);
            Assert.Equal(new[] { fixture.FileName }, fixture.CacheFiles());
            Assert.Equal(2, resolved.StateDict.Count);
        }

        [Fact]
        public void Resolve_ConnectionDroppedOnce_IsRetried()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, n) => n == 1
                ? new ServerReply.DropAfter(fixture.Bytes, 100)
                : new ServerReply.Body(fixture.Bytes));

            using var resolved = fixture.Weights.Resolve(ResNet18, fixture.Options(server, maxRetries: 2), fixture.Logger, CancellationToken.None);

            Assert.Equal(2, server.Requests);
            Assert.Equal(new[] { fixture.FileName }, fixture.CacheFiles());
            Assert.Contains(fixture.Logger.Entries, e => e.Id.Id == 4005);
        }

        [Fact]
        public void Resolve_NotFound_ThrowsClearErrorWithoutRetrying()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Status(404, "Not Found"));

            var ex = Assert.Throws<WeightsUnavailableException>(() => fixture.Weights.Resolve(ResNet18, fixture.Options(server, maxRetries: 3), fixture.Logger, CancellationToken.None));

            Assert.Equal(1, server.Requests);
            Assert.Contains("HTTP 404 Not Found", ex.Message, StringComparison.Ordinal);
            Assert.Contains(server.BaseAddress + fixture.FileName, ex.Message, StringComparison.Ordinal);
            Assert.Contains("BaseAddress", ex.Message, StringComparison.Ordinal);
            Assert.Empty(fixture.CacheFiles());
        }

        [Fact]
        public void Resolve_ServiceUnavailableThenOk_RetriesWithBackoffAndSucceeds()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, n) => n == 1 ? new ServerReply.Status(503, "Service Unavailable") : new ServerReply.Body(fixture.Bytes));

            using var resolved = fixture.Weights.Resolve(ResNet18, fixture.Options(server, maxRetries: 3), fixture.Logger, CancellationToken.None);

            Assert.Equal(2, server.Requests);
            Assert.Equal(2, resolved.StateDict.Count);
            var retry = Assert.Single(fixture.Logger.Entries, e => e.Id.Id == 4005);
            Assert.Contains("HTTP 503", retry.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Resolve_ServiceUnavailableEveryTime_GivesUpAfterMaxRetries()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Status(503, "Service Unavailable"));

            var ex = Assert.Throws<WeightsUnavailableException>(() => fixture.Weights.Resolve(ResNet18, fixture.Options(server, maxRetries: 2), fixture.Logger, CancellationToken.None));

            Assert.Equal(3, server.Requests);
            Assert.Contains("after 3 attempt(s): the server answered HTTP 503 Service Unavailable", ex.Message, StringComparison.Ordinal);
            Assert.Empty(fixture.CacheFiles());
        }

        [Fact]
        public void Resolve_ServerStallsMidBody_TimesOutAndLeavesNothing()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, _) => new ServerReply.StallAfter(fixture.Bytes, 64));
            using var bodyStarted = new ManualResetEventSlim();
            var progress = new SynchronousProgress(p => { if (p.BytesReceived > 0) { bodyStarted.Set(); } });
            using var done = new CancellationTokenSource();

            // The idle clock moves only once body bytes are in: the timeout fires mid-body on any machine.
            // It is advanced until the download gives up, since the reader re-arms the timer before each read.
            _ = System.Threading.Tasks.Task.Run(async () =>
            {
                bodyStarted.Wait(done.Token);
                while (!done.IsCancellationRequested)
                {
                    fixture.Clock.Advance(TimeSpan.FromMilliseconds(301));
                    await System.Threading.Tasks.Task.Delay(5, done.Token);
                }
            });
            var ex = Assert.Throws<WeightsUnavailableException>(() => fixture.Weights.Resolve(ResNet18, fixture.Options(server, progress: progress, timeout: TimeSpan.FromMilliseconds(300)), fixture.Logger, CancellationToken.None));
            done.Cancel();

            var stalled = System.Text.RegularExpressions.Regex.Match(ex.Message, @"no data for 00:00:00\.3\d* after (\d+) bytes");
            Assert.True(stalled.Success, ex.Message);
            Assert.InRange(int.Parse(stalled.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 64);
            Assert.Empty(fixture.CacheFiles());
        }

        [Fact]
        public void Resolve_ServerNeverAnswers_TimesOutRetriesAndReportsIt()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, n) =>
            {
                if (n == 1)
                {
                    // The first attempt armed its timer before it sent this request: one step of the idle clock past
                    // the timeout fires it. The clock then stands still, so the retry cannot time out.
                    fixture.Clock.Advance(TimeSpan.FromMilliseconds(301));
                    return new ServerReply.Silent();
                }

                return new ServerReply.Body(fixture.Bytes);
            });

            using var resolved = fixture.Weights.Resolve(ResNet18, fixture.Options(server, maxRetries: 1, timeout: TimeSpan.FromMilliseconds(300)), fixture.Logger, CancellationToken.None);

            Assert.Equal(2, server.Requests);
            var retry = Assert.Single(fixture.Logger.Entries, e => e.Id.Id == 4005);
            Assert.Contains("no response within 00:00:00.3", retry.Message, StringComparison.Ordinal);
            Assert.Equal(new[] { fixture.FileName }, fixture.CacheFiles());
        }

        [Fact]
        public void Resolve_NothingListening_IsTransientAndReportsTheAddress()
        {
            using var fixture = new DownloadTestFixture();
            Uri closed;
            using (var server = new DownloadTestServer((_, _) => new ServerReply.Status(500, "x")))
            {
                closed = server.BaseAddress;
            }

            var options = new PretrainedWeightsOptions
            {
                CacheDirectory = fixture.CacheDirectory,
                BaseAddress = closed,
                MaxRetries = 1,
                RetryDelay = TimeSpan.FromMilliseconds(10),
                EnvironmentReader = _ => null,
            };

            var ex = Assert.Throws<WeightsUnavailableException>(() => fixture.Weights.Resolve(ResNet18, options, fixture.Logger, CancellationToken.None));

            Assert.Contains("after 2 attempt(s)", ex.Message, StringComparison.Ordinal);
            Assert.Contains(closed.Authority, ex.Message, StringComparison.Ordinal);
            Assert.Empty(fixture.CacheFiles());
        }

        [Fact]
        public void Resolve_OfflineOption_NeverTouchesNetworkAndNamesExpectedFile()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(fixture.Bytes));

            var ex = Assert.Throws<WeightsUnavailableException>(() => fixture.Weights.Resolve(ResNet18, fixture.Options(server, offline: true), fixture.Logger, CancellationToken.None));

            Assert.Equal(0, server.Requests);
            Assert.StartsWith("Offline mode is on (PretrainedWeightsOptions.Offline is true)", ex.Message, StringComparison.Ordinal);
            Assert.Contains("expected the file '" + fixture.FileName + "' in '" + fixture.CacheDirectory + "'", ex.Message, StringComparison.Ordinal);
            Assert.Contains("PretrainedWeightsOptions.CacheDirectory", ex.Message, StringComparison.Ordinal);
            Assert.Empty(fixture.CacheFiles());
        }

        [Fact]
        public void Resolve_OfflineEnvironmentVariable_NeverTouchesNetwork()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(fixture.Bytes));
            var options = new PretrainedWeightsOptions
            {
                CacheDirectory = fixture.CacheDirectory,
                BaseAddress = server.BaseAddress,
                EnvironmentReader = name => name == "MEDICALTRANSFER_OFFLINE" ? "1" : null,
            };

            var ex = Assert.Throws<WeightsUnavailableException>(() => fixture.Weights.Resolve(ResNet18, options, fixture.Logger, CancellationToken.None));

            Assert.Equal(0, server.Requests);
            Assert.Contains("$MEDICALTRANSFER_OFFLINE=1", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Resolve_OfflineWithCachedFile_LoadsIt()
        {
            using var fixture = new DownloadTestFixture();
            Directory.CreateDirectory(fixture.CacheDirectory);
            File.WriteAllBytes(fixture.CachedPath, fixture.Bytes);

            using var resolved = fixture.Weights.Resolve(ResNet18, fixture.Options(null, offline: true), fixture.Logger, CancellationToken.None);

            Assert.Equal(2, resolved.StateDict.Count);
        }

        [Fact]
        public void Resolve_Download_RemovesAbandonedTemporaryFilesButNotOnesInUse()
        {
            using var fixture = new DownloadTestFixture();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Body(fixture.Bytes));
            Directory.CreateDirectory(fixture.CacheDirectory);
            // A killed download (unlocked, older than the grace period), one of an earlier version's names,
            // and one that another download holds open right now.
            string killed = Path.Combine(fixture.CacheDirectory, "." + fixture.FileName + ".0123456789ab.partial");
            string legacy = Path.Combine(fixture.CacheDirectory, fixture.FileName + ".0123456789ab.partial");
            string inUse = Path.Combine(fixture.CacheDirectory, "." + fixture.FileName + ".ba9876543210.partial");
            File.WriteAllText(killed, "killed a minute ago");
            File.SetLastWriteTimeUtc(killed, DateTime.UtcNow.AddMinutes(-1));
            File.WriteAllText(legacy, "killed two days ago");
            File.SetLastWriteTimeUtc(legacy, DateTime.UtcNow.AddDays(-2));
            using (var other = new FileStream(inUse, FileMode.CreateNew, FileAccess.Write, FileShare.Delete))
            {
                other.Write(new byte[] { 1, 2, 3 });
                File.SetLastWriteTimeUtc(inUse, DateTime.UtcNow.AddMinutes(-1));

                fixture.Weights.Resolve(ResNet18, fixture.Options(server), fixture.Logger, CancellationToken.None).Dispose();
            }

            Assert.Equal(new[] { Path.GetFileName(inUse), fixture.FileName }, fixture.CacheFiles());
        }

        [Fact]
        public void Resolve_CacheHit_RemovesAbandonedTemporaryFilesButNotOnesInUse()
        {
            using var fixture = new DownloadTestFixture();
            Directory.CreateDirectory(fixture.CacheDirectory);
            File.WriteAllBytes(fixture.CachedPath, fixture.Bytes);
            // A download killed after another one had completed the cached copy, and one running right now.
            string killed = Path.Combine(fixture.CacheDirectory, "." + fixture.FileName + ".0123456789ab.partial");
            string inUse = Path.Combine(fixture.CacheDirectory, "." + fixture.FileName + ".ba9876543210.partial");
            File.WriteAllText(killed, "killed a minute ago");
            File.SetLastWriteTimeUtc(killed, DateTime.UtcNow.AddMinutes(-1));
            using (var other = new FileStream(inUse, FileMode.CreateNew, FileAccess.Write, FileShare.Delete))
            {
                other.Write(new byte[] { 1, 2, 3 });
                File.SetLastWriteTimeUtc(inUse, DateTime.UtcNow.AddMinutes(-1));

                fixture.Weights.Resolve(ResNet18, fixture.Options(null, offline: true), fixture.Logger, CancellationToken.None).Dispose();
            }

            Assert.Equal(new[] { Path.GetFileName(inUse), fixture.FileName }, fixture.CacheFiles());
        }

        [Fact]
        public void Resolve_Cancelled_ThrowsOperationCanceled()
        {
            using var fixture = new DownloadTestFixture();
            using var cts = new CancellationTokenSource();
            cts.Cancel();

            Assert.ThrowsAny<OperationCanceledException>(() => fixture.Weights.Resolve(ResNet18, fixture.Options(null), fixture.Logger, cts.Token));
        }
    
        /// <summary>Reports on the downloading thread (Progress&lt;T&gt; posts to the thread pool, too late for a handshake).</summary>
        private sealed class SynchronousProgress : IProgress<DownloadProgress>
        {
            private readonly Action<DownloadProgress> _report;

            public SynchronousProgress(Action<DownloadProgress> report) => _report = report;

            public void Report(DownloadProgress value) => _report(value);
        }
    }
}
