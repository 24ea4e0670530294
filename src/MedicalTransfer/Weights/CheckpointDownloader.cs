using System;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using MedicalTransfer.Internal;
using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Downloads one checkpoint: streams it to a temporary file beside its final path while hashing,
    /// checks the SHA-256, then renames it into place, so the final path only ever holds a complete,
    /// verified file. Transient failures are retried with exponential backoff.
    /// </summary>
    internal static class CheckpointDownloader
    {
        internal const string PartialSuffix = ".partial";
        private const int BufferSize = 1 << 16;

        // One client for the process (sockets are pooled); per-attempt timeouts are applied with
        // cancellation tokens so that a slow but steady large download is never cut off.
        private static readonly HttpClient Client = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };

        public static async Task DownloadAsync(Uri uri, string finalPath, string expectedSha256, PretrainedWeightsOptions options, ILogger logger, CancellationToken ct)
        {
            int attempts = options.MaxRetries + 1;
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    await AttemptAsync(uri, finalPath, expectedSha256, options, logger, ct).ConfigureAwait(false);
                    return;
                }
                catch (TransientDownloadException ex)
                {
                    if (attempt >= attempts)
                    {
                        throw new WeightsUnavailableException(
                            string.Format(
                                CultureInfo.InvariantCulture,
                                "Could not download '{0}' after {1} attempt(s): {2}. Nothing was written to '{3}'. Check the network connection or proxy and try again, raise PretrainedWeightsOptions.MaxRetries or Timeout, or download the file yourself and put it at that path." + WeightsUnavailableException.OfflineAlternatives,
                                uri, attempts, ex.Message, finalPath),
                            ex.InnerException ?? ex);
                    }

                    TimeSpan delay = options.RetryDelay * Math.Pow(2, attempt - 1);
                    Log.DownloadRetrying(logger, attempt, attempts, uri, ex.Message, delay);
                    await Task.Delay(delay, ct).ConfigureAwait(false);
                }
            }
        }

        private static async Task AttemptAsync(Uri uri, string finalPath, string expectedSha256, PretrainedWeightsOptions options, ILogger logger, CancellationToken ct)
        {
            string fileName = Path.GetFileName(finalPath);
            using var idleTimer = new CancellationTokenSource(System.Threading.Timeout.InfiniteTimeSpan, options.TimeProvider);
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct, idleTimer.Token);
            Log.DownloadStarting(logger, uri, finalPath);
            idleTimer.CancelAfter(options.Timeout);
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            using HttpResponseMessage response = await SendAsync(request, options, idle.Token, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                string status = string.Format(CultureInfo.InvariantCulture, "HTTP {0} {1}", (int)response.StatusCode, response.ReasonPhrase);
                if (IsTransient(response.StatusCode))
                {
                    throw new TransientDownloadException("the server answered " + status, null);
                }

                throw new WeightsUnavailableException(string.Format(
                    CultureInfo.InvariantCulture,
                    "Could not download '{0}': the server answered {1}, which is not retried. Nothing was written to '{2}'. Check PretrainedWeightsOptions.BaseAddress (a mirror must serve torchvision's file names), or download the file yourself and put it at that path." + WeightsUnavailableException.OfflineAlternatives,
                    uri, status, finalPath));
            }

            long? total = response.Content.Headers.ContentLength;
            long received = 0;
            string actual = string.Empty;

            // The body streams into a temporary file beside the final path (the one atomic-write helper); any
            // exception below, a failed verification included, deletes it and leaves the final path as it was.
            await AtomicFile.WriteAsync(finalPath, PartialSuffix, total ?? -1, async file =>
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                try
                {
                    using Stream body = await response.Content.ReadAsStreamAsync(idle.Token).ConfigureAwait(false);
                    byte[] buffer = new byte[BufferSize];
                    long nextReport = 0;
                    options.Progress?.Report(new DownloadProgress(fileName, 0, total));
                    while (true)
                    {
                        idleTimer.CancelAfter(options.Timeout);
                        int read = await body.ReadAsync(buffer.AsMemory(), idle.Token).ConfigureAwait(false);
                        if (read == 0)
                        {
                            break;
                        }

                        hash.AppendData(buffer, 0, read);
                        await file.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                        received += read;
                        if (received >= nextReport)
                        {
                            options.Progress?.Report(new DownloadProgress(fileName, received, total));
                            Log.DownloadProgress(logger, fileName, received, total?.ToString(CultureInfo.InvariantCulture) ?? "?");
                            nextReport = received + Math.Max(1 << 20, (total ?? 0) / 20);
                        }
                    }
                }
                catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
                {
                    throw new TransientDownloadException(string.Format(CultureInfo.InvariantCulture, "no data for {0} after {1:N0} bytes", options.Timeout, received), ex);
                }
                catch (Exception ex) when (ex is HttpRequestException || (ex is IOException io && !AtomicFile.IsDiskFull(io)))
                {
                    // A full disk is not retried: AtomicFile reports it as a DiskFullException.
                    throw new TransientDownloadException(string.Format(CultureInfo.InvariantCulture, "the connection failed after {0:N0} bytes ({1})", received, ex.Message), ex);
                }

                if (total is { } expectedLength && received != expectedLength)
                {
                    throw new TransientDownloadException(string.Format(CultureInfo.InvariantCulture, "the body ended after {0:N0} of {1:N0} bytes", received, expectedLength), null);
                }

                options.Progress?.Report(new DownloadProgress(fileName, received, total ?? received));
                actual = Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
                if (!HashMatches(actual, expectedSha256))
                {
                    Log.DownloadHashMismatch(logger, uri, expectedSha256, actual);
                    throw new DownloadVerificationException(
                        string.Format(
                            CultureInfo.InvariantCulture,
                            "The file downloaded from '{0}' is not the expected checkpoint: expected SHA-256 {1}{2}, received {3} ({4:N0} bytes). It was deleted and the cache folder was left unchanged. A proxy or mirror may have altered it; try again, or check PretrainedWeightsOptions.BaseAddress.",
                            uri, expectedSha256, expectedSha256.Length == 64 ? string.Empty : "... (the prefix torchvision publishes)", actual, received),
                        expectedSha256,
                        actual);
                }
            }, ct).ConfigureAwait(false);
            Log.DownloadCompleted(logger, fileName, received, actual, finalPath);
        }

        private static async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, PretrainedWeightsOptions options, CancellationToken idle, CancellationToken ct)
        {
            try
            {
                return await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, idle).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
            {
                throw new TransientDownloadException(string.Format(CultureInfo.InvariantCulture, "no response within {0}", options.Timeout), ex);
            }
            catch (HttpRequestException ex)
            {
                // Refused, reset or closed connections and DNS failures: worth another try.
                throw new TransientDownloadException(ex.Message, ex);
            }
        }

        internal static bool IsTransient(HttpStatusCode status) =>
            (int)status >= 500 || status == HttpStatusCode.RequestTimeout || status == HttpStatusCode.TooManyRequests;

        /// <summary>Compares a full lower-case hex hash with an expected full hash or published prefix.</summary>
        internal static bool HashMatches(string actualSha256, string expectedSha256) =>
            expectedSha256.Length == 64
                ? string.Equals(actualSha256, expectedSha256, StringComparison.OrdinalIgnoreCase)
                : actualSha256.StartsWith(expectedSha256, StringComparison.OrdinalIgnoreCase);

        internal static string HashFile(string path)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
            return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
        }

        /// <summary>A failure worth retrying; converted to <see cref="WeightsUnavailableException"/> when retries run out.</summary>
        private sealed class TransientDownloadException : Exception
        {
            public TransientDownloadException(string message, Exception? inner) : base(message, inner) { }
        }
    }
}
