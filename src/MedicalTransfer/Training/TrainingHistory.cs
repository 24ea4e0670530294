using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MedicalTransfer.Training
{
    /// <summary>What one epoch measured.</summary>
    /// <param name="Epoch">1-based epoch, counted across phases.</param>
    /// <param name="Phase">1-based phase index.</param>
    /// <param name="PhaseName">The phase's name.</param>
    /// <param name="PhaseEpoch">1-based epoch within the phase.</param>
    /// <param name="TrainLoss">Mean training loss over the epoch's images (with dropout and augmentation active).</param>
    /// <param name="TrainAccuracy">Share of training images classified correctly while training.</param>
    /// <param name="ValidationLoss">Mean validation loss (same criterion as training), in evaluation mode.</param>
    /// <param name="ValidationAccuracy">Share of validation images classified correctly.</param>
    /// <param name="ValidationAuc">Area under the ROC curve of the second class's probability, for two-class tasks with both classes present; for multi-label models, the mean AUROC over the findings whose observed validation labels hold both classes; otherwise <see langword="null"/>.</param>
    /// <param name="LearningRates">The learning rate of each parameter group at the epoch's last step.</param>
    /// <param name="Seconds">Wall-clock seconds of the epoch, validation included.</param>
    /// <param name="ImagesPerSecond">Training images per second (training steps only).</param>
    /// <param name="Frozen">The freeze targets in effect at the end of the epoch.</param>
    public sealed record EpochRecord(
        int Epoch,
        int Phase,
        string PhaseName,
        int PhaseEpoch,
        double TrainLoss,
        double TrainAccuracy,
        double ValidationLoss,
        double ValidationAccuracy,
        double? ValidationAuc,
        IReadOnlyList<double> LearningRates,
        double Seconds,
        double ImagesPerSecond,
        IReadOnlyList<string> Frozen);

    /// <summary>Something that happened during training besides an epoch (a phase began, a stage froze, training stopped early).</summary>
    /// <param name="Epoch">The number of epochs completed when it happened.</param>
    /// <param name="Kind">For example <c>phase</c>, <c>auto-freeze</c>, <c>early-stop</c>, <c>plateau</c>, <c>resume</c>.</param>
    /// <param name="Message">A readable description.</param>
    public sealed record TrainingEvent(int Epoch, string Kind, string Message);

    /// <summary>Per-epoch measurements and events of a run, across phases; exportable as JSON and CSV.</summary>
    public sealed class TrainingHistory
    {
        private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        private readonly List<EpochRecord> epochs;
        private readonly List<TrainingEvent> events;

        internal TrainingHistory()
            : this(new List<EpochRecord>(), new List<TrainingEvent>())
        {
        }

        private TrainingHistory(List<EpochRecord> epochs, List<TrainingEvent> events)
        {
            this.epochs = epochs;
            this.events = events;
        }

        /// <summary>Every completed epoch, in order.</summary>
        public IReadOnlyList<EpochRecord> Epochs => epochs;

        /// <summary>Phase boundaries, freezing decisions, early stops, learning-rate reductions.</summary>
        public IReadOnlyList<TrainingEvent> Events => events;

        /// <summary>The history as indented JSON (<c>epochs</c> and <c>events</c> arrays).</summary>
        /// <returns>The JSON text.</returns>
        public string ToJson() => JsonSerializer.Serialize(new Snapshot(epochs, events), Json);

        /// <summary>
        /// The epochs as CSV with a header row: epoch, phase, phase_name, phase_epoch, train_loss, train_accuracy,
        /// val_loss, val_accuracy, val_auc (empty when not defined), lr (groups separated by <c>;</c>), seconds,
        /// images_per_second, frozen (targets separated by <c>;</c>). Numbers use the invariant culture.
        /// </summary>
        /// <returns>The CSV text.</returns>
        public string ToCsv()
        {
            var text = new StringBuilder("epoch,phase,phase_name,phase_epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_auc,lr,seconds,images_per_second,frozen\n");
            foreach (var e in epochs)
            {
                text.AppendFormat(
                    CultureInfo.InvariantCulture,
                    "{0},{1},{2},{3},{4:R},{5:R},{6:R},{7:R},{8},{9},{10:R},{11:R},{12}\n",
                    e.Epoch,
                    e.Phase,
                    Quote(e.PhaseName),
                    e.PhaseEpoch,
                    e.TrainLoss,
                    e.TrainAccuracy,
                    e.ValidationLoss,
                    e.ValidationAccuracy,
                    e.ValidationAuc?.ToString("R", CultureInfo.InvariantCulture) ?? string.Empty,
                    string.Join(";", e.LearningRates.Select(r => r.ToString("R", CultureInfo.InvariantCulture))),
                    e.Seconds,
                    e.ImagesPerSecond,
                    Quote(string.Join(";", e.Frozen)));
            }

            return text.ToString();
        }

        /// <summary>Writes <see cref="ToJson"/> to a file.</summary>
        /// <param name="path">The file to write.</param>
        public void SaveJson(string path) => Internal.AtomicFile.WriteText(Internal.Guard.NotNullOrWhiteSpace(path), ToJson());

        /// <summary>Writes <see cref="ToCsv"/> to a file.</summary>
        /// <param name="path">The file to write.</param>
        public void SaveCsv(string path) => Internal.AtomicFile.WriteText(Internal.Guard.NotNullOrWhiteSpace(path), ToCsv());

        /// <summary>Reads a history written by <see cref="ToJson"/>.</summary>
        /// <param name="json">The JSON text.</param>
        /// <returns>The history.</returns>
        /// <exception cref="JsonException">The text is not a history.</exception>
        public static TrainingHistory FromJson(string json)
        {
            Internal.Guard.NotNull(json);
            var snapshot = JsonSerializer.Deserialize<Snapshot>(json, Json) ?? throw new JsonException("The JSON holds no training history.");
            return new TrainingHistory(snapshot.Epochs.ToList(), snapshot.Events.ToList());
        }

        internal void Add(EpochRecord record) => epochs.Add(record);

        internal void Add(TrainingEvent e) => events.Add(e);

        private static string Quote(string value) => value.IndexOfAny(new[] { ',', '"', '\n' }) < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

        private sealed record Snapshot(IReadOnlyList<EpochRecord> Epochs, IReadOnlyList<TrainingEvent> Events);
    }
}
