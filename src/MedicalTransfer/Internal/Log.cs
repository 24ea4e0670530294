using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Internal
{
    /// <summary>
    /// Every log message of the library, as <c>[LoggerMessage]</c> definitions with stable event ids, one partial file per
    /// area. Event-id ranges: 1000-1099 models (build, weights, save) and 1800-1899 speed options (bfloat16), this file;
    /// 3000-3099 the data pipeline (Log.Data.cs); 4000-4099 the weights cache, downloads and ONNX import
    /// (Log.Weights.cs); 5000-5099 the training engine (Log.Training.cs); 7400-7499 studies (Log.Studies.cs). A new
    /// message takes the next free id of its area's range; ids are never reused.
    /// </summary>
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
