namespace MedicalTransfer
{
    /// <summary>
    /// The training loss became NaN or infinite. The message names the phase, epoch and batch; the
    /// step that produced the loss was not applied, and the last checkpoint written before it is intact.
    /// Lower the learning rate, enable gradient clipping, or check the input data.
    /// </summary>
    public sealed class TrainingDivergedException : MedicalTransferException
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">Where the loss diverged, its value and what to do.</param>
        public TrainingDivergedException(string message) : base(message) { }

        /// <summary>Creates the exception with the position of the failing batch.</summary>
        /// <param name="message">Where the loss diverged, its value and what to do.</param>
        /// <param name="epoch">The 1-based epoch (counted across phases).</param>
        /// <param name="batch">The 1-based batch within the epoch.</param>
        public TrainingDivergedException(string message, int epoch, int batch) : base(message)
        {
            Epoch = epoch;
            Batch = batch;
        }

        /// <summary>The 1-based epoch, counted across phases, in which the loss diverged (0 when unknown).</summary>
        public int Epoch { get; }

        /// <summary>The 1-based batch of that epoch whose loss diverged (0 when unknown).</summary>
        public int Batch { get; }
    }
}
