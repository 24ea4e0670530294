using System;

namespace MedicalTransfer
{
    /// <summary>
    /// Base class of the domain failures MedicalTransfer reports: weights that do not fit, unreadable
    /// image data, a failed download verification, a diverged training run, a native library that
    /// cannot load. Misuse of the API throws the <see cref="ArgumentException"/> family or
    /// <see cref="InvalidOperationException"/> instead.
    /// </summary>
    public class MedicalTransferException : Exception
    {
        /// <summary>Creates an exception with a message.</summary>
        /// <param name="message">What failed, what was expected, what was found and what to do.</param>
        public MedicalTransferException(string message) : base(message) { }

        /// <summary>Creates an exception that wraps the failure that caused it.</summary>
        /// <param name="message">What failed, what was expected, what was found and what to do.</param>
        /// <param name="innerException">The failure that caused this one.</param>
        public MedicalTransferException(string message, Exception? innerException) : base(message, innerException) { }
    }

    /// <summary>
    /// A weights file or checkpoint does not fit the model: missing or unexpected keys, shape
    /// mismatches, or a different architecture or class count. The model is left unchanged.
    /// </summary>
    public sealed class WeightsMismatchException : MedicalTransferException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">The mismatches, one per line, and what to do.</param>
        public WeightsMismatchException(string message) : base(message) { }
    }

    /// <summary>
    /// A weights file cannot be read safely: it is not a checkpoint, is truncated or malformed, or
    /// holds something other than a state dictionary of tensors (for example a pickled object).
    /// </summary>
    public sealed class WeightsFormatException : MedicalTransferException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">The file, what is wrong with it and what to do.</param>
        public WeightsFormatException(string message) : base(message) { }

        /// <summary>Creates the exception, wrapping the reader's own failure.</summary>
        /// <param name="message">The file, what is wrong with it and what to do.</param>
        /// <param name="innerException">The reader's failure.</param>
        public WeightsFormatException(string message, Exception? innerException) : base(message, innerException) { }
    }

    /// <summary>
    /// TorchSharp's native library could not be loaded. The message names the real cause (for
    /// example a libstdc++ that is too old) and the remedy; see docs/troubleshooting.md.
    /// </summary>
    public sealed class NativeLibraryException : MedicalTransferException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">The diagnosis and the remedy.</param>
        /// <param name="innerException">TorchSharp's original failure.</param>
        public NativeLibraryException(string message, Exception? innerException) : base(message, innerException) { }
    }
}
