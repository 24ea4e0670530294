using System;
using System.Globalization;

namespace MedicalTransfer.Onnx
{
    /// <summary>How <see cref="OnnxImageClassifier.Load"/> sets up ONNX Runtime.</summary>
    public sealed record OnnxClassifierOptions
    {
        /// <summary>Threads ONNX Runtime uses inside one operator (intra-op).</summary>
        /// <value>The default is <see langword="null"/>: ONNX Runtime's default (the number of physical cores).</value>
        public int? Threads { get; init; }

        /// <summary>ONNX Runtime's graph optimisation level.</summary>
        /// <value>The default is <see langword="true"/>: all optimisations (ORT_ENABLE_ALL).</value>
        public bool OptimizeGraph { get; init; } = true;

        /// <summary>
        /// Whether ONNX Runtime's intra-op threads spin (busy-wait) for work between operators and after a run
        /// (ONNX Runtime's <c>session.intra_op.allow_spinning</c>). Spinning saves a thread wake-up per operator, but
        /// costs CPU: on the 2-core machine of docs/performance.md ResNet-18 took 53-56 CPU-ms per image with
        /// spinning and 46-48 without. Turn it off where the cores are shared (<c>PredictFolder</c>'s decode workers,
        /// other services on the same machine).
        /// </summary>
        /// <value>The default is <see langword="true"/>: ONNX Runtime's default, as a plain <c>InferenceSession</c> has.</value>
        public bool AllowSpinning { get; init; } = true;

        internal OnnxClassifierOptions Validate()
        {
            if (Threads is { } t && (t < 1 || t > 1024))
            {
                throw new ArgumentOutOfRangeException(nameof(Threads), Threads, string.Format(CultureInfo.InvariantCulture, "OnnxClassifierOptions.Threads must be from 1 to 1024 or null; found {0}.", t));
            }

            return this;
        }
    }
}
