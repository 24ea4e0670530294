using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>Applies an explicit <see cref="ComputePrecision"/> choice to a model for the duration of one call, checked and announced.</summary>
    internal static class PrecisionChoice
    {
        private static int s_traceWarned;

        /// <summary>Throws when <paramref name="model"/> cannot compute in <paramref name="precision"/>, naming <paramref name="option"/>.</summary>
        public static void Check(BackboneNetwork model, ComputePrecision precision, string option)
        {
            if (precision == ComputePrecision.BFloat16 && !model.SupportsBFloat16)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "{0} is BFloat16, but this model's backbone ({1}) does not run its layers from bfloat16 copies of their weights. Use ComputePrecision.Float32 for this model.", option, model.Body.Architecture.Name),
                    option);
            }
        }

        /// <summary>Backbone stages in <paramref name="precision"/> for inference (autograd off) until disposed.</summary>
        public static IDisposable ForInference(BackboneNetwork model, ComputePrecision precision, string option, ILogger? logger)
        {
            Check(model, precision, option);
            Announce(precision, option, logger);
            var previous = model.InferencePrecision;
            model.InferencePrecision = precision;
            return new Restore(() => model.InferencePrecision = previous);
        }

        /// <summary>The frozen leading stages in <paramref name="precision"/> until disposed.</summary>
        public static IDisposable ForFrozenPrefix(TransferModel model, ComputePrecision precision, string option, ILogger? logger)
        {
            Check(model, precision, option);
            if (precision == ComputePrecision.BFloat16 && model.TrainBatchNorm)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "{0} is BFloat16, but the frozen stages' BatchNorm trains (Freeze(..., trainBatchNorm: true)): bfloat16 runs each frozen BatchNorm as the affine map of its running statistics (folded into its convolution where it can be), which needs it in evaluation mode. Freeze with trainBatchNorm: false or use ComputePrecision.Float32.", option), option);
            }

            Announce(precision, option, logger);
            var previous = model.FrozenPrefixPrecision;
            model.FrozenPrefixPrecision = precision;
            return new Restore(() => model.FrozenPrefixPrecision = previous);
        }

        /// <summary>Says, as a warning, that bfloat16 will be emulated on this CPU (slower than float32, never faster).</summary>
        private static void Announce(ComputePrecision precision, string option, ILogger? logger)
        {
            if (precision != ComputePrecision.BFloat16 || CpuCapabilities.HasNativeBFloat16)
            {
                return;
            }

            if (logger is not null)
            {
                Internal.Log.BFloat16Emulated(logger, option, CpuCapabilities.Describe());
            }
            else if (Interlocked.Exchange(ref s_traceWarned, 1) == 0)
            {
                // Prediction and evaluation options carry no logger: warn once per process through Trace.
                Trace.TraceWarning("MedicalTransfer: {0} is BFloat16 but this CPU has no native bfloat16 ({1}); it is emulated and slower than Float32.", option, CpuCapabilities.Describe());
            }
        }

        private sealed class Restore : IDisposable
        {
            private Action? _undo;

            public Restore(Action undo) => _undo = undo;

            public void Dispose() => Interlocked.Exchange(ref _undo, null)?.Invoke();
        }
    }
}
