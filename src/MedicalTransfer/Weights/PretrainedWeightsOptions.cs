using System;
using System.Globalization;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Where pretrained checkpoints are cached and how they are downloaded. Immutable; every value
    /// has a default, so <c>new PretrainedWeightsOptions()</c> is a working configuration.
    /// </summary>
    public sealed class PretrainedWeightsOptions
    {
        /// <summary>The environment variable that overrides the cache folder (checkpoints go to its <c>checkpoints</c> subfolder).</summary>
        public const string HomeEnvironmentVariable = "MEDICALTRANSFER_HOME";

        /// <summary>The environment variable that turns offline mode on when set to <c>1</c> or <c>true</c>.</summary>
        public const string OfflineEnvironmentVariable = "MEDICALTRANSFER_OFFLINE";

        /// <summary>The options used when none are given.</summary>
        public static PretrainedWeightsOptions Default { get; } = new();

        /// <summary>
        /// Folder that holds downloaded checkpoints. When <see langword="null"/> the first of these is
        /// used: <c>$MEDICALTRANSFER_HOME/checkpoints</c>, <c>$TORCH_HOME/hub/checkpoints</c> (so files
        /// PyTorch already downloaded are reused), the user cache folder
        /// (<c>$XDG_CACHE_HOME</c> or <c>~/.cache</c> on Linux, <c>~/Library/Caches</c> on macOS,
        /// <c>%LOCALAPPDATA%</c> on Windows) followed by <c>medicaltransfer/checkpoints</c>.
        /// </summary>
        /// <value>The default is <see langword="null"/> (choose as described).</value>
        public string? CacheDirectory { get; init; }

        /// <summary>
        /// When <see langword="true"/> the network is never used: a checkpoint must already be in the
        /// cache folder, and a missing one is reported with the file name and folder expected.
        /// Setting the environment variable <c>MEDICALTRANSFER_OFFLINE=1</c> has the same effect.
        /// </summary>
        /// <value>The default is <see langword="false"/>.</value>
        public bool Offline { get; init; }

        /// <summary>Receives download progress (bytes received and, when the server says, the total).</summary>
        /// <value>The default is <see langword="null"/> (progress is only logged).</value>
        public IProgress<DownloadProgress>? Progress { get; init; }

        /// <summary>
        /// How long one download attempt may wait without receiving anything (connecting, waiting
        /// for the response, or between two reads of the body) before it is abandoned and retried.
        /// It is not a limit on the whole download, which for large checkpoints on slow links can
        /// take longer.
        /// </summary>
        /// <value>The default is 100 seconds.</value>
        public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(100);

        /// <summary>
        /// How many times a download is tried again after a transient failure (a 5xx, 408 or 429
        /// status, a refused or reset connection, a body cut short, a timeout). A 404 or other client
        /// error and a hash mismatch are never retried.
        /// </summary>
        /// <value>The default is 3.</value>
        public int MaxRetries { get; init; } = 3;

        /// <summary>Delay before the first retry; each further retry waits twice as long as the one before.</summary>
        /// <value>The default is 1 second.</value>
        public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

        /// <summary>
        /// Address that catalogue file names are resolved against, for a mirror or a test server.
        /// Must be an absolute http or https URI; a trailing slash is added when missing.
        /// </summary>
        /// <value>The default is <c>https://download.pytorch.org/models/</c>.</value>
        public Uri BaseAddress { get; init; } = new("https://download.pytorch.org/models/");

        /// <summary>Reads environment variables; tests replace it so they never change the process environment.</summary>
        internal Func<string, string?>? EnvironmentReader { get; init; }

        /// <summary>The clock of the per-attempt idle timeout; tests replace it so that a timeout fires when they say, not after a wall-clock wait.</summary>
        internal TimeProvider TimeProvider { get; init; } = TimeProvider.System;

        /// <summary>Checks the values and returns this instance.</summary>
        /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
        public PretrainedWeightsOptions Validate()
        {
            if (!(Timeout > TimeSpan.Zero))
            {
                throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, string.Format(CultureInfo.InvariantCulture, "PretrainedWeightsOptions.Timeout must be positive; found {0}.", Timeout));
            }

            if (MaxRetries < 0 || MaxRetries > 20)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxRetries), MaxRetries, string.Format(CultureInfo.InvariantCulture, "PretrainedWeightsOptions.MaxRetries must be from 0 to 20; found {0}.", MaxRetries));
            }

            if (RetryDelay < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(RetryDelay), RetryDelay, string.Format(CultureInfo.InvariantCulture, "PretrainedWeightsOptions.RetryDelay must not be negative; found {0}.", RetryDelay));
            }

            if (BaseAddress is null || !BaseAddress.IsAbsoluteUri || (BaseAddress.Scheme != Uri.UriSchemeHttp && BaseAddress.Scheme != Uri.UriSchemeHttps))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "PretrainedWeightsOptions.BaseAddress must be an absolute http or https URI; found '{0}'.", BaseAddress), nameof(BaseAddress));
            }

            if (CacheDirectory is not null && string.IsNullOrWhiteSpace(CacheDirectory))
            {
                throw new ArgumentException("PretrainedWeightsOptions.CacheDirectory must be null (choose automatically) or a folder path; found an empty string.", nameof(CacheDirectory));
            }

            return this;
        }
    }

    /// <summary>Progress of one checkpoint download, reported through <see cref="PretrainedWeightsOptions.Progress"/>.</summary>
    public sealed class DownloadProgress
    {
        /// <summary>Creates a progress report.</summary>
        /// <param name="fileName">The checkpoint's file name.</param>
        /// <param name="bytesReceived">Bytes received so far in this attempt.</param>
        /// <param name="totalBytes">The size the server announced, or <see langword="null"/> when it did not.</param>
        public DownloadProgress(string fileName, long bytesReceived, long? totalBytes)
        {
            FileName = fileName;
            BytesReceived = bytesReceived;
            TotalBytes = totalBytes;
        }

        /// <summary>The checkpoint's file name.</summary>
        public string FileName { get; }

        /// <summary>Bytes received so far in this attempt (a retry starts again from zero).</summary>
        public long BytesReceived { get; }

        /// <summary>The size the server announced, or <see langword="null"/> when it did not.</summary>
        public long? TotalBytes { get; }

        /// <summary>Fraction received, from 0 to 1, or <see langword="null"/> when the total is unknown.</summary>
        public double? Fraction => TotalBytes is > 0 ? (double)BytesReceived / TotalBytes.Value : null;

        /// <inheritdoc />
        public override string ToString() => TotalBytes is { } total
            ? string.Format(CultureInfo.InvariantCulture, "{0}: {1:N0} of {2:N0} bytes", FileName, BytesReceived, total)
            : string.Format(CultureInfo.InvariantCulture, "{0}: {1:N0} bytes", FileName, BytesReceived);
    }
}
