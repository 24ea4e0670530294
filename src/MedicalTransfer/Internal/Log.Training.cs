using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Internal
{
    /// <summary>Part of <see cref="Log"/>: the training engine's log messages, with stable event ids (5000-5099).</summary>
    internal static partial class Log
    {
        [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "Training {Architecture} on {Device}: {Phases} phase(s), {Epochs} epoch(s), {Batches} batches per epoch")]
        public static partial void TrainingStarted(ILogger logger, string architecture, string device, int phases, int epochs, int batches);

        [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Phase {Phase} '{Name}': freeze {Freeze}, {Trainable:N0} trainable parameters in {Groups} group(s), learning rate {LearningRate:G4}")]
        public static partial void PhaseStarted(ILogger logger, int phase, string name, string freeze, long trainable, int groups, double learningRate);

        [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Epoch {Epoch}: train loss {TrainLoss:F4} acc {TrainAccuracy:P2}, validation loss {ValidationLoss:F4} acc {ValidationAccuracy:P2}, {Seconds:F1} s, {ImagesPerSecond:F1} images/s")]
        public static partial void EpochCompleted(ILogger logger, int epoch, double trainLoss, double trainAccuracy, double validationLoss, double validationAccuracy, double seconds, double imagesPerSecond);

        [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Learning rate reduced on plateau to {Scale:G4} of the base rate after epoch {Epoch}")]
        public static partial void PlateauReduced(ILogger logger, int epoch, double scale);

        [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Early stopping after epoch {Epoch}: {Metric} did not improve for {Patience} epoch(s) (best {Best:G6} at epoch {BestEpoch})")]
        public static partial void EarlyStopped(ILogger logger, int epoch, string metric, int patience, double best, int bestEpoch);

        [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "Saved best model ({Metric} {Value:G6}, epoch {Epoch}) to {Path}")]
        public static partial void BestSaved(ILogger logger, string metric, double value, int epoch, string path);

        [LoggerMessage(EventId = 5006, Level = LogLevel.Debug, Message = "Wrote checkpoint {Path} after epoch {Epoch}")]
        public static partial void CheckpointWritten(ILogger logger, string path, int epoch);

        [LoggerMessage(EventId = 5007, Level = LogLevel.Information, Message = "Resumed from {Path}: {Epochs} epoch(s) and {Steps} step(s) done, phase {Phase}")]
        public static partial void Resumed(ILogger logger, string path, int epochs, long steps, int phase);

        [LoggerMessage(EventId = 5008, Level = LogLevel.Information, Message = "AutoFreeze froze {Stage} after epoch {Epoch} (gradient-norm change rate {Rate:G4} below {Threshold:G4})")]
        public static partial void AutoFroze(ILogger logger, string stage, int epoch, double rate, double threshold);

        [LoggerMessage(EventId = 5009, Level = LogLevel.Error, Message = "Training diverged at epoch {Epoch}, batch {Batch}: loss {Loss}")]
        public static partial void Diverged(ILogger logger, int epoch, int batch, float loss);

        [LoggerMessage(EventId = 5010, Level = LogLevel.Warning, Message = "Training cancelled during epoch {Epoch}; the last checkpoint is {Path}")]
        public static partial void Cancelled(ILogger logger, int epoch, string path);

        [LoggerMessage(EventId = 5011, Level = LogLevel.Information, Message = "Layer importance: {Unit} raises the validation loss by {Increase:G4} when zeroed")]
        public static partial void Importance(ILogger logger, string unit, double increase);

        [LoggerMessage(EventId = 5012, Level = LogLevel.Information, Message = "CPU allocator: freed memory is now kept for reuse for the rest of this process (glibc mallopt; TrainingOptions.RetainFreedMemory)")]
        public static partial void AllocatorRetaining(ILogger logger);

        [LoggerMessage(EventId = 5013, Level = LogLevel.Debug, Message = "CPU allocator left as it is: {Outcome}")]
        public static partial void AllocatorUnchanged(ILogger logger, string outcome);
    }
}
