namespace MedicalTransfer.Training
{
    /// <summary>What a progress report is about.</summary>
    public enum TrainingProgressKind
    {
        /// <summary>A training batch finished.</summary>
        Batch,

        /// <summary>An epoch (training and validation) finished; <see cref="TrainingProgress.EpochRecord"/> is set.</summary>
        Epoch,
    }

    /// <summary>A progress report, sent after every training batch and every epoch.</summary>
    /// <param name="Kind">Batch or epoch.</param>
    /// <param name="Phase">1-based phase.</param>
    /// <param name="PhaseName">The phase's name.</param>
    /// <param name="Epoch">1-based epoch, counted across phases.</param>
    /// <param name="TotalEpochs">Planned epochs across all phases.</param>
    /// <param name="Batch">1-based batch of the epoch (equal to <paramref name="BatchesPerEpoch"/> for an epoch report).</param>
    /// <param name="BatchesPerEpoch">Batches in an epoch.</param>
    /// <param name="Loss">Mean training loss of the epoch so far.</param>
    /// <param name="LearningRate">Learning rate of the first parameter group.</param>
    /// <param name="ImagesPerSecond">Training throughput of the epoch so far.</param>
    /// <param name="EpochRecord">The finished epoch, for epoch reports.</param>
    public sealed record TrainingProgress(
        TrainingProgressKind Kind,
        int Phase,
        string PhaseName,
        int Epoch,
        int TotalEpochs,
        int Batch,
        int BatchesPerEpoch,
        double Loss,
        double LearningRate,
        double ImagesPerSecond,
        EpochRecord? EpochRecord);
}
