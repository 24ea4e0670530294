using System;
using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Internal
{
    /// <summary>Part of <see cref="Log"/>: log messages of the weights cache, downloader and ONNX import; event ids 4000-4099.</summary>
    internal static partial class Log
    {
        [LoggerMessage(EventId = 4000, Level = LogLevel.Debug, Message = "Using cached checkpoint {Path} (SHA-256 {Sha256} verified).")]
        public static partial void CacheHit(ILogger logger, string path, string sha256);

        [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Cached checkpoint {Path} has SHA-256 {Actual}, expected {Expected}; downloading it again.")]
        public static partial void CacheCorrupt(ILogger logger, string path, string actual, string expected);

        [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Downloading {Uri} to {Path}.")]
        public static partial void DownloadStarting(ILogger logger, Uri uri, string path);

        [LoggerMessage(EventId = 4003, Level = LogLevel.Debug, Message = "Downloading {FileName}: {Received} of {Total} bytes.")]
        public static partial void DownloadProgress(ILogger logger, string fileName, long received, string total);

        [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Downloaded {FileName} ({Bytes} bytes, SHA-256 {Sha256}) into {Path}.")]
        public static partial void DownloadCompleted(ILogger logger, string fileName, long bytes, string sha256, string path);

        [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Attempt {Attempt} of {Attempts} to download {Uri} failed ({Reason}); retrying in {Delay}.")]
        public static partial void DownloadRetrying(ILogger logger, int attempt, int attempts, Uri uri, string reason, TimeSpan delay);

        [LoggerMessage(EventId = 4006, Level = LogLevel.Error, Message = "Download of {Uri} failed SHA-256 verification: expected {Expected}, received {Actual}; the partial file was deleted.")]
        public static partial void DownloadHashMismatch(ILogger logger, Uri uri, string expected, string actual);

        [LoggerMessage(EventId = 4010, Level = LogLevel.Information, Message = "Imported ONNX ResNet {Path}: {Block} blocks, stages [{Stages}], {Tensors} tensors.")]
        public static partial void OnnxImported(ILogger logger, string path, string block, string stages, int tensors);

        [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "The ONNX model {Path} has batch norm folded into its convolutions; they were imported as identity batch norms that add the convolution bias. Inference and training with frozen batch norm are exact; training batch norm starts from identity statistics instead of the original ones.")]
        public static partial void OnnxFoldedBatchNorm(ILogger logger, string path);
    }
}
