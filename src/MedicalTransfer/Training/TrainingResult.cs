using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Freezing;

namespace MedicalTransfer.Training
{
    /// <summary>What a training run produced. The model itself holds the final weights (in evaluation mode).</summary>
    public sealed class TrainingResult
    {
        internal TrainingResult(TrainingHistory history, bool stoppedEarly, FreezeSpec finalFreeze, DataQualityReport? trainingData = null, DataQualityReport? validationData = null)
        {
            History = history;
            StoppedEarly = stoppedEarly;
            FinalFreeze = finalFreeze;
            TrainingDataQuality = trainingData ?? new DataQualityReport();
            ValidationDataQuality = validationData ?? new DataQualityReport();
        }

        /// <summary>Training images skipped as unreadable (with <see cref="BadImagePolicy.Skip"/>), with the reason for each; empty when none were.</summary>
        public DataQualityReport TrainingDataQuality { get; }

        /// <summary>Validation images skipped as unreadable, with the reason for each; empty when none were.</summary>
        public DataQualityReport ValidationDataQuality { get; }

        /// <summary>Every epoch and event, across phases (including those before a resume).</summary>
        public TrainingHistory History { get; }

        /// <summary>Whether a callback (for example <see cref="EarlyStopping"/>) ended the run before its planned epochs.</summary>
        public bool StoppedEarly { get; }

        /// <summary>What was frozen at the end (it differs from the last phase's spec when automatic freezing acted).</summary>
        public FreezeSpec FinalFreeze { get; }

        /// <summary>The epoch with the lowest validation loss, or <see langword="null"/> when no epoch ran.</summary>
        public EpochRecord? BestEpoch => History.Epochs.Where(e => !double.IsNaN(e.ValidationLoss)).OrderBy(e => e.ValidationLoss).ThenBy(e => e.Epoch).FirstOrDefault();
    }
}
