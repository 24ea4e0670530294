using System;

// The exception tree lives in the root namespace (see Exceptions.cs); these two leaves are kept
// beside the downloader that throws them.
namespace MedicalTransfer
{
    /// <summary>
    /// A downloaded or cached checkpoint does not have the SHA-256 hash the catalogue expects. A
    /// fresh download is deleted and the cache is left as it was; the message shows both hashes.
    /// </summary>
    public sealed class DownloadVerificationException : MedicalTransferException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">The file, both hashes and what to do.</param>
        /// <param name="expectedSha256">The expected hash (the full 64 hex digits, or the prefix where only that is published).</param>
        /// <param name="actualSha256">The hash of the bytes received, 64 hex digits.</param>
        public DownloadVerificationException(string message, string expectedSha256, string actualSha256)
            : base(message)
        {
            ExpectedSha256 = expectedSha256;
            ActualSha256 = actualSha256;
        }

        /// <summary>The expected hash in lower-case hex: 64 digits, or the published prefix.</summary>
        public string ExpectedSha256 { get; }

        /// <summary>The hash of the bytes received, 64 lower-case hex digits.</summary>
        public string ActualSha256 { get; }
    }

    /// <summary>
    /// Pretrained weights could not be obtained: the server refused or failed (after the retries
    /// allowed), the network could not be reached, offline mode is on and the file is not cached,
    /// or a file that ships in a package was not found. The message names the file, where it was
    /// looked for or fetched from, and what to do.
    /// </summary>
    public sealed class WeightsUnavailableException : MedicalTransferException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">The file, where it was expected, and what to do.</param>
        public WeightsUnavailableException(string message) : base(message) { }

        /// <summary>Creates the exception, wrapping the last failure.</summary>
        /// <param name="message">The file, where it was expected, and what to do.</param>
        /// <param name="innerException">The last failure (for example an <see cref="System.Net.Http.HttpRequestException"/>).</param>
        public WeightsUnavailableException(string message, Exception? innerException) : base(message, innerException) { }

        /// <summary>The sentence that ends every message about a checkpoint that could not be downloaded: what works without a network.</summary>
        internal const string OfflineAlternatives =
            " Without a network: TransferBuilder.FromPretrained(ResNetWeights.MLNetResNet18) builds an ImageNet ResNet-18 (basic blocks, stages [2, 2, 2, 3]) from NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (dotnet add package Microsoft.ML.DnnImageFeaturizer.ResNet18 --version 0.23.1), and ResNetWeights.FromFile(path) loads a checkpoint you already have.";
    }
}
