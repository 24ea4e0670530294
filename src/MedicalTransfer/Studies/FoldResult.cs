using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;

namespace MedicalTransfer.Studies
{
    /// <summary>What one cross-validation fold produced: its data, its trained and calibrated model, and its held-out predictions.</summary>
    public sealed class FoldResult
    {
        internal FoldResult(FoldRecord record, Predictions heldOut, Predictions heldOutUncalibrated, Predictions validation, string folder, EvaluationOptions evaluation)
        {
            Record = record;
            Repeat = record.Repeat;
            Fold = record.Fold;
            HeldOut = heldOut;
            HeldOutUncalibrated = heldOutUncalibrated;
            Validation = validation;
            ModelPath = Path.Combine(folder, CrossValidation.ModelFile);
            Calibration = TemperatureScaling.FromMetadata(record.Calibration);
            History = TrainingHistory.FromJson(record.History);
            Skipped = record.Skipped.Select(s => new SkippedImage(s[0], s[1])).ToArray();
            Report = EvaluationReport.Create(heldOut, evaluation, validation);
        }

        /// <summary>0-based repeat.</summary>
        public int Repeat { get; }

        /// <summary>0-based fold.</summary>
        public int Fold { get; }

        /// <summary>Training images (the other folds minus the validation carve).</summary>
        public int TrainImages => Record.TrainImages;

        /// <summary>Validation images (the carve).</summary>
        public int ValidationImages => Record.ValidationImages;

        /// <summary>Held-out images predicted (images skipped as unreadable are not).</summary>
        public int HeldOutImages => HeldOut.Count;

        /// <summary>Patients in training.</summary>
        public int TrainPatients => Record.TrainPatients;

        /// <summary>Patients in the validation carve.</summary>
        public int ValidationPatients => Record.ValidationPatients;

        /// <summary>Patients held out.</summary>
        public int HeldOutPatients => Record.HeldOutPatients;

        /// <summary>The fold's temperature, fitted on its validation carve, or <see langword="null"/> without calibration.</summary>
        public TemperatureScaling? Calibration { get; }

        /// <summary>The threshold the operating point chose on the validation carve (NaN for argmax).</summary>
        public double Threshold => Record.Threshold ?? double.NaN;

        /// <summary>The 1-based epoch whose weights are the fold's model.</summary>
        public int BestEpoch => Record.BestEpoch;

        /// <summary>The fold model's (calibrated) predictions of its held-out images.</summary>
        public Predictions HeldOut { get; }

        /// <summary>The same predictions before temperature scaling.</summary>
        public Predictions HeldOutUncalibrated { get; }

        /// <summary>For each held-out prediction, the index of its image in the cross-validated dataset.</summary>
        public IReadOnlyList<int> HeldOutIndices => Record.HeldOutIndices;

        /// <summary>The fold model's (calibrated) predictions of its validation carve.</summary>
        public Predictions Validation { get; }

        /// <summary>The held-out report: the operating point resolved on the validation carve, applied unchanged.</summary>
        public EvaluationReport Report { get; }

        /// <summary>The fold's training history.</summary>
        public TrainingHistory History { get; }

        /// <summary>Images the fold's loaders skipped as unreadable, with the reason for each.</summary>
        public IReadOnlyList<SkippedImage> Skipped { get; }

        /// <summary>The fold's calibrated model file (<see cref="TransferModel.Load"/> reads it).</summary>
        public string ModelPath { get; }

        /// <summary>Wall-clock seconds of the fold (across resumes: the epochs earlier sessions trained count too).</summary>
        public double Seconds => Record.Seconds;

        internal FoldRecord Record { get; }

        internal static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, WriteIndented = false };

        internal static FoldResult Read(string folder, EvaluationOptions evaluation)
        {
            string path = Path.Combine(folder, CrossValidation.ResultFile);
            FoldRecord record;
            try
            {
                record = JsonSerializer.Deserialize<FoldRecord>(File.ReadAllText(path), Json) ?? throw new JsonException("empty");
            }
            catch (JsonException ex)
            {
                throw new WeightsFormatException($"The fold result '{path}' is damaged ({ex.Message}); delete it to train the fold again.", ex);
            }

            return new FoldResult(
                record,
                new Predictions(record.Classes, record.HeldOutLabels, record.HeldOutProbabilities),
                new Predictions(record.Classes, record.HeldOutLabels, record.HeldOutRawProbabilities),
                new Predictions(record.Classes, record.ValidationLabels, record.ValidationProbabilities),
                folder,
                evaluation);
        }

        internal static void Write(string folder, FoldRecord record) =>
            AtomicFile.WriteText(Path.Combine(folder, CrossValidation.ResultFile), JsonSerializer.Serialize(record, Json));

        /// <inheritdoc />
        public override string ToString() => string.Format(
            CultureInfo.InvariantCulture,
            "{0}: train {1} ({2} patients), validation {3} ({4}), held out {5} ({6}); best epoch {7}; {8}; accuracy {9:0.000}, AUC {10:0.000}",
            CrossValidation.FoldName(Repeat, Record.Repeats, Fold, Record.Folds), TrainImages, TrainPatients, ValidationImages, ValidationPatients, HeldOutImages, HeldOutPatients, BestEpoch,
            Calibration?.ToString() ?? "not calibrated", Report.Classification.Accuracy, Report.MacroRocAuc);
    }

    /// <summary>The JSON content of a fold's result file.</summary>
    internal sealed record FoldRecord
    {
        public int Repeat { get; init; }

        public int Repeats { get; init; }

        public int Fold { get; init; }

        public int Folds { get; init; }

        public string[] Classes { get; init; } = Array.Empty<string>();

        public int TrainImages { get; init; }

        public int ValidationImages { get; init; }

        public int TrainPatients { get; init; }

        public int ValidationPatients { get; init; }

        public int HeldOutPatients { get; init; }

        public string Calibration { get; init; } = "null";

        public double? Threshold { get; init; }

        public int BestEpoch { get; init; }

        public string History { get; init; } = string.Empty;

        public int[] HeldOutIndices { get; init; } = Array.Empty<int>();

        public int[] HeldOutLabels { get; init; } = Array.Empty<int>();

        public double[] HeldOutProbabilities { get; init; } = Array.Empty<double>();

        public double[] HeldOutRawProbabilities { get; init; } = Array.Empty<double>();

        public int[] ValidationLabels { get; init; } = Array.Empty<int>();

        public double[] ValidationProbabilities { get; init; } = Array.Empty<double>();

        public string[][] Skipped { get; init; } = Array.Empty<string[]>();

        public double Seconds { get; init; }
    }
}
