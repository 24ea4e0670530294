using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Internal
{
    /// <summary>Every log message of the library, with stable event ids.</summary>
    internal static partial class Log
    {
        [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Built {Architecture} for {ClassCount} classes with head {Head}, freeze {Freeze}, on {Device}: {Trainable:N0} of {Total:N0} parameters trainable")]
        public static partial void ModelBuilt(ILogger logger, string architecture, int classCount, string head, string freeze, string device, long trainable, long total);

        [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "{Report}")]
        public static partial void WeightsLoaded(ILogger logger, string report);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Saved model to {Path}")]
        public static partial void ModelSaved(ILogger logger, string path);

        [LoggerMessage(EventId = 1800, Level = LogLevel.Warning, Message = "{Option} is BFloat16 but this CPU has no native bfloat16 ({Capabilities}): it is emulated, slower than Float32")]
        public static partial void BFloat16Emulated(ILogger logger, string option, string capabilities);
    }
}
