using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using MedicalTransfer.Internal;
using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// The folder of downloaded checkpoints: finds it, verifies a cached file before every use, and
    /// downloads what is missing (never in offline mode).
    /// </summary>
    internal static class WeightsCache
    {
        internal const string TorchHomeEnvironmentVariable = "TORCH_HOME";

        /// <summary>The cache folder and a phrase that says where the choice came from (for messages).</summary>
        public static (string Directory, string Origin) ResolveDirectory(PretrainedWeightsOptions options)
        {
            Func<string, string?> env = options.EnvironmentReader ?? Environment.GetEnvironmentVariable;
            if (options.CacheDirectory is { } explicitDirectory)
            {
                return (Path.GetFullPath(explicitDirectory), "PretrainedWeightsOptions.CacheDirectory");
            }

            if (NonEmpty(env(PretrainedWeightsOptions.HomeEnvironmentVariable)) is { } home)
            {
                return (Path.GetFullPath(Path.Combine(home, "checkpoints")), "$" + PretrainedWeightsOptions.HomeEnvironmentVariable);
            }

            if (NonEmpty(env(TorchHomeEnvironmentVariable)) is { } torchHome)
            {
                return (Path.GetFullPath(Path.Combine(torchHome, "hub", "checkpoints")), "$" + TorchHomeEnvironmentVariable + " (shared with PyTorch)");
            }

            return (Path.Combine(UserCacheFolder(env), "medicaltransfer", "checkpoints"), "the user cache folder");
        }

        /// <summary>Whether offline mode is on, and why (for messages).</summary>
        public static (bool Offline, string Reason) IsOffline(PretrainedWeightsOptions options)
        {
            if (options.Offline)
            {
                return (true, "PretrainedWeightsOptions.Offline is true");
            }

            Func<string, string?> env = options.EnvironmentReader ?? Environment.GetEnvironmentVariable;
            string? value = env(PretrainedWeightsOptions.OfflineEnvironmentVariable)?.Trim();
            bool on = value is not null && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase) || value.Equals("yes", StringComparison.OrdinalIgnoreCase));
            return (on, on ? "$" + PretrainedWeightsOptions.OfflineEnvironmentVariable + "=" + value : string.Empty);
        }

        /// <summary>
        /// Returns the path of a verified copy of the checkpoint, downloading it when it is missing or
        /// its cached copy fails verification.
        /// </summary>
        public static string GetOrDownload(CatalogEntry entry, PretrainedWeightsOptions options, ILogger logger, CancellationToken ct)
        {
            (string directory, string origin) = ResolveDirectory(options);
            (bool offline, string offlineReason) = IsOffline(options);
            string path = Path.Combine(directory, entry.FileName);
            Uri uri = entry.GetUri(options.BaseAddress);
            if (File.Exists(path))
            {
                string actual = CheckpointDownloader.HashFile(path);
                if (CheckpointDownloader.HashMatches(actual, entry.Sha256))
                {
                    Log.CacheHit(logger, path, actual);
                    // A download killed after another one completed left its temporary file beside the good
                    // copy; no later download of this checkpoint would run to remove it.
                    DeleteStalePartials(directory, entry.FileName);
                    return path;
                }

                if (offline)
                {
                    throw new DownloadVerificationException(
                        string.Format(
                            CultureInfo.InvariantCulture,
                            "The cached checkpoint '{0}' for {1} is damaged or not torchvision's file: expected SHA-256 {2}{3}, found {4}. Offline mode is on ({5}), so it cannot be downloaded again: replace the file with {6} or turn offline mode off.",
                            path, entry.DisplayName, entry.Sha256, entry.HasFullHash ? string.Empty : "...", actual, offlineReason, uri),
                        entry.Sha256,
                        actual);
                }

                // The damaged file is replaced only once a verified download is complete.
                Log.CacheCorrupt(logger, path, actual, entry.Sha256);
            }
            else if (offline)
            {
                throw new WeightsUnavailableException(string.Format(
                    CultureInfo.InvariantCulture,
                    "Offline mode is on ({0}) and the checkpoint for {1} is not cached: expected the file '{2}' in '{3}' (the cache folder chosen from {4}). Copy torchvision's {2} (served at {5}) to '{6}', point PretrainedWeightsOptions.CacheDirectory at the folder that holds it, or turn offline mode off." + WeightsUnavailableException.OfflineAlternatives,
                    offlineReason, entry.DisplayName, entry.FileName, directory, origin, uri, path));
            }

            Directory.CreateDirectory(directory);
            DeleteStalePartials(directory, entry.FileName);
            CheckpointDownloader.DownloadAsync(uri, path, entry.Sha256, options, logger, ct).ConfigureAwait(false).GetAwaiter().GetResult();
            return path;
        }

        /// <summary>
        /// Removes temporary files of this checkpoint left by downloads that were killed: files no live
        /// download holds open (see <see cref="AtomicFile.DeleteAbandoned"/>). A download running in another
        /// process holds its file open, so it is never touched.
        /// </summary>
        internal static void DeleteStalePartials(string directory, string fileName) =>
            AtomicFile.DeleteAbandoned(directory, fileName, CheckpointDownloader.PartialSuffix);

        private static string UserCacheFolder(Func<string, string?> env)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                return Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
            }

            string home = NonEmpty(env("HOME")) ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify);
            if (RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
            {
                return Path.Combine(home, "Library", "Caches");
            }

            return NonEmpty(env("XDG_CACHE_HOME")) ?? Path.Combine(home, ".cache");
        }

        private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
    }
}
