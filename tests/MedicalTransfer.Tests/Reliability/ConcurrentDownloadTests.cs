using System;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Tests.Weights;
using Xunit;
using Xunit.Abstractions;

namespace MedicalTransfer.Tests.Reliability
{
    /// <summary>
    /// Two processes download the same pretrained checkpoint into the same cache at once (real processes, a
    /// slow loopback server, several rounds). Both end with the verified file, and a watcher that reads the
    /// final path as fast as it can never sees anything but the complete file.
    /// </summary>
    [Collection("Fault host")]
    public sealed class ConcurrentDownloadTests
    {
        private readonly ITestOutputHelper _output;

        public ConcurrentDownloadTests(ITestOutputHelper output)
        {
            _output = output;
        }

        [Fact]
        public void GetOrDownload_TwoProcessesOneCache_BothGetTheVerifiedFileAndNoneSeesAPartialOne()
        {
            const int rounds = 4;
            var body = new byte[6 << 20];
            new Random(1804).NextBytes(body);
            string sha = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(body)).ToLowerInvariant();
            using var server = new DownloadTestServer((_, _) => new ServerReply.Throttled(body, 64 << 10, TimeSpan.FromMilliseconds(5)));
            using var folder = new TestSupport.TempFolder();
            int reads = 0, torn = 0, bothDownloaded = 0;
            for (int round = 0; round < rounds; round++)
            {
                string cache = Path.Combine(folder.Path, "cache" + round);
                string final = Path.Combine(cache, "resnet18-test.pth");
                int requestsBefore = server.Requests;
                string[] arguments = { "download", cache, server.BaseAddress.ToString(), Path.GetFileName(final), sha };
                using var first = HostProcess.Start(arguments);
                using var second = HostProcess.Start(arguments);
                while (!(first.HasExited && second.HasExited))
                {
                    try
                    {
                        byte[] seen = File.ReadAllBytes(final);
                        reads++;
                        if (!seen.AsSpan().SequenceEqual(body))
                        {
                            torn++;
                        }
                    }
                    catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
                    {
                        // Not there yet.
                    }

                    Thread.Sleep(1);
                }

                Assert.True(first.WaitForExit(TimeSpan.FromMinutes(2)) && second.WaitForExit(TimeSpan.FromMinutes(2)));
                foreach (HostProcess host in new[] { first, second })
                {
                    Assert.True(host.ExitCode == 0, $"round {round}: a download failed: {host.Errors}");
                    Assert.Contains($"done {final} {sha}", host.Lines);
                }

                Assert.Equal(sha, ReliabilitySupport.Sha256(final));
                Assert.Empty(ReliabilitySupport.TempFiles(cache, Path.GetFileName(final)));
                if (server.Requests - requestsBefore == 2)
                {
                    bothDownloaded++;
                }
            }

            _output.WriteLine($"{rounds} rounds, {bothDownloaded} with both processes downloading at once, {reads} reads of the final path while they ran, {torn} not the complete file");
            Assert.Equal(0, torn);
            // Without overlapping downloads the test would prove nothing about concurrency.
            Assert.True(bothDownloaded > 0, "in no round did both processes download at the same time");
        }
    }
}
