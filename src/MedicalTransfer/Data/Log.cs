using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Data
{
    /// <summary>The data pipeline's log messages, with stable event ids (3000-3099).</summary>
    internal static partial class Log
    {
        [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Image folder {Root}: {Count} images in {ClassCount} classes ({Classes})")]
        public static partial void FolderLoaded(ILogger logger, string root, int count, int classCount, string classes);

        [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Image folder {Root}: ignored {Count} files that are not .png, .jpg, .jpeg or .bmp images (for example {Example})")]
        public static partial void IgnoredFiles(ILogger logger, string root, int count, string example);

        [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Skipped image {Path}: {Reason}")]
        public static partial void SkippedImage(ILogger logger, string path, string reason);

        [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Re-split train and validation: {Reason}")]
        public static partial void Resplit(ILogger logger, string reason);

        [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "{Count} groups have images in both the test split and train/validation (for example {Example}); test results may be optimistic")]
        public static partial void GroupLeak(ILogger logger, int count, string example);

        [LoggerMessage(EventId = 3050, Level = LogLevel.Information, Message = "The decoded-image cache is full ({MaxBytes} bytes, LoaderOptions.CacheMaxBytes, {Count} images); further images are decoded every epoch")]
        public static partial void CacheFull(ILogger logger, long maxBytes, int count);
    }
}
