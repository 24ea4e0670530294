using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Internal
{
    /// <summary>Part of <see cref="Log"/>: the study engine's log messages (cross-validation), with stable event ids (7400-7499).</summary>
    internal static partial class Log
    {
        [LoggerMessage(EventId = 7400, Level = LogLevel.Information, Message = "Cross-validation of {Images} images of {Patients} patients: {Folds} folds x {Repeats} repeat(s), seed {Seed}, work folder {Folder}")]
        public static partial void Started(ILogger logger, int images, int patients, int folds, int repeats, int seed, string folder);

        [LoggerMessage(EventId = 7401, Level = LogLevel.Information, Message = "{Fold}: training on {Train} images, validating on {Validation}, holding out {HeldOut}")]
        public static partial void FoldStarted(ILogger logger, string fold, int train, int validation, int heldOut);

        [LoggerMessage(EventId = 7402, Level = LogLevel.Information, Message = "{Fold}: resuming training from {Checkpoint}")]
        public static partial void FoldResuming(ILogger logger, string fold, string checkpoint);

        [LoggerMessage(EventId = 7403, Level = LogLevel.Information, Message = "{Fold}: already complete ({Result}); not trained again")]
        public static partial void FoldAlreadyComplete(ILogger logger, string fold, string result);

        [LoggerMessage(EventId = 7404, Level = LogLevel.Information, Message = "{Fold}: done; held-out accuracy {Accuracy:F4}, AUC {Auc:F4}, {Calibration}")]
        public static partial void FoldCompleted(ILogger logger, string fold, double accuracy, double auc, string calibration);

        [LoggerMessage(EventId = 7405, Level = LogLevel.Warning, Message = "{Fold}: the balance target was missed: {Details}")]
        public static partial void BalanceMissed(ILogger logger, string fold, string details);

        [LoggerMessage(EventId = 7407, Level = LogLevel.Information, Message = "{Fold}: done; held-out mean AUROC {Auroc:F4}; thresholds {Thresholds}; {Calibration}")]
        public static partial void FindingsFoldCompleted(ILogger logger, string fold, double auroc, string thresholds, string calibration);

        [LoggerMessage(EventId = 7406, Level = LogLevel.Information, Message = "Cross-validation done: pooled out-of-fold {Summary}")]
        public static partial void Completed(ILogger logger, string summary);
    }
}
