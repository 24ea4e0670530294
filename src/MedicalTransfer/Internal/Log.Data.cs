using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Internal
{
    /// <summary>Part of <see cref="Log"/>: the data pipeline's log messages, with stable event ids (3000-3099).</summary>
    internal static partial class Log
    {
        [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Image folder {Root}: {Count} images in {ClassCount} classes ({Classes})")]
        public static partial void FolderLoaded(ILogger logger, string root, int count, int classCount, string classes);

        [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Image folder {Root}: ignored {Count} files that are not .png, .jpg, .jpeg, .bmp or DICOM images (for example {Example})")]
        public static partial void IgnoredFiles(ILogger logger, string root, int count, string example);

        [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Skipped image {Path}: {Reason}")]
        public static partial void SkippedImage(ILogger logger, string path, string reason);

        [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Re-split train and validation: {Reason}")]
        public static partial void Resplit(ILogger logger, string reason);

        [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "{Count} groups have images in both the test split and train/validation (for example {Example}); test results may be optimistic")]
        public static partial void GroupLeak(ILogger logger, int count, string example);

        // 3060-3079: DICOM, label tables and the pre-flight check (issue 12).
        [LoggerMessage(EventId = 3060, Level = LogLevel.Information, Message = "Pre-flight check of {Root}: {Count} files, {Bad} unreadable")]
        public static partial void PreflightDone(ILogger logger, string root, int count, int bad);

        [LoggerMessage(EventId = 3061, Level = LogLevel.Information, Message = "Image table {Table}: {Count} images ({Summary})")]
        public static partial void TableLoaded(ILogger logger, string table, int count, string summary);

        [LoggerMessage(EventId = 3062, Level = LogLevel.Warning, Message = "Image table {Table}: left out row {Row}, {Reason}")]
        public static partial void TableRowLeftOut(ILogger logger, string table, int row, string reason);

        [LoggerMessage(EventId = 3063, Level = LogLevel.Information, Message = "Read the DICOM headers of {Count} files under {Root} ({Unreadable} unreadable; their problems surface in the pre-flight check or the loader)")]
        public static partial void DicomHeadersRead(ILogger logger, string root, int count, int unreadable);
        [LoggerMessage(EventId = 3050, Level = LogLevel.Information, Message = "The decoded-image cache is full ({MaxBytes} bytes, LoaderOptions.CacheMaxBytes, {Count} images); further images are decoded every epoch")]
        public static partial void CacheFull(ILogger logger, long maxBytes, int count);
    }
}
