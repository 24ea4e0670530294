using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;

namespace MedicalTransfer.Studies
{
    /// <summary>
    /// What one fold of a multi-label cross-validation produced: its data, its trained model with the per-finding
    /// temperatures and thresholds chosen on its validation carve, and its held-out predictions and report.
    /// </summary>
    public sealed class MultiLabelFoldResult
    {
        private MultiLabelFoldResult(FindingFoldRecord record, string folder, FoldAssignment assignment)
        {
            Record = record;
            var findings = record.Findings;
            var patients = record.HeldOutIndices.Select(assignment.GroupOf).ToArray();
            HeldOut = record.HeldOut.ToPredictions(findings, record.HeldOut.Probabilities, patients);
            HeldOutUncalibrated = record.HeldOut.ToPredictions(findings, record.HeldOutRawProbabilities, patients);
            Validation = record.Validation.ToPredictions(findings, record.Validation.Probabilities, null);
            ValidationUncalibrated = record.Validation.ToPredictions(findings, record.ValidationRawProbabilities, null);
            Calibration = record.Calibration is null ? null : FindingTemperatureScaling.Parse(record.Calibration, findings);
            Thresholds = FindingThresholds.Parse(record.Thresholds, findings);
            History = TrainingHistory.FromJson(record.History);
            Skipped = record.Skipped.Select(s => new SkippedImage(s[0], s[1])).ToArray();
            ModelPath = Path.Combine(folder, CrossValidation.ModelFile);
            Report = MultiLabelReport.Compute(HeldOut, Thresholds);
        }

        /// <summary>0-based repeat.</summary>
        public int Repeat => Record.Repeat;

        /// <summary>0-based fold.</summary>
        public int Fold => Record.Fold;

        /// <summary>For example <c>fold 2/5</c> or <c>repeat 1/3, fold 2/5</c>.</summary>
        public string Name => CrossValidation.FoldName(Record.Repeat, Record.Repeats, Record.Fold, Record.Folds);

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

        /// <summary>The fold's per-finding temperatures, fitted on its validation carve, or <see langword="null"/> without calibration.</summary>
        public FindingTemperatureScaling? Calibration { get; }

        /// <summary>The fold's per-finding thresholds, chosen on its (calibrated) validation carve and applied unchanged to its held-out fold.</summary>
        public FindingThresholds Thresholds { get; }

        /// <summary>The 1-based epoch whose weights are the fold's model.</summary>
        public int BestEpoch => Record.BestEpoch;

        /// <summary>The fold model's (calibrated) predictions of its held-out images, each row with its patient.</summary>
        public MultiLabelPredictions HeldOut { get; }

        /// <summary>The same predictions before temperature scaling.</summary>
        public MultiLabelPredictions HeldOutUncalibrated { get; }

        /// <summary>For each held-out prediction, the index of its image in the cross-validated dataset.</summary>
        public IReadOnlyList<int> HeldOutIndices => Record.HeldOutIndices;

        /// <summary>The fold model's (calibrated) predictions of its validation carve: the thresholds were chosen on them.</summary>
        public MultiLabelPredictions Validation { get; }

        /// <summary>The validation carve's predictions before temperature scaling: the temperatures were fitted on them.</summary>
        public MultiLabelPredictions ValidationUncalibrated { get; }

        /// <summary>The held-out report at the fold's thresholds.</summary>
        public MultiLabelReport Report { get; }

        /// <summary>The fold's training history.</summary>
        public TrainingHistory History { get; }

        /// <summary>Images the fold's loaders skipped as unreadable, with the reason for each.</summary>
        public IReadOnlyList<SkippedImage> Skipped { get; }

        /// <summary>The fold's model file, with its temperatures and thresholds (<see cref="TransferModel.Load"/> reads it).</summary>
        public string ModelPath { get; }

        /// <summary>Wall-clock seconds of the fold (across resumes: the epochs earlier sessions trained count too).</summary>
        public double Seconds => Record.Seconds;

        internal FindingFoldRecord Record { get; }

        /// <summary>For example <c>fold 1/5: train 120 (60 patients), validation 30 (15), held out 38 (19); best epoch 4; mean AUROC 0.812</c>.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => string.Format(
            CultureInfo.InvariantCulture,
            "{0}: train {1} ({2} patients), validation {3} ({4}), held out {5} ({6}); best epoch {7}; mean AUROC {8:0.000}",
            Name, TrainImages, TrainPatients, ValidationImages, ValidationPatients, HeldOutImages, HeldOutPatients, BestEpoch, Report.MacroAuroc);

        internal static MultiLabelFoldResult Read(string folder, FoldAssignment assignment)
        {
            string path = Path.Combine(folder, CrossValidation.ResultFile);
            try
            {
                var record = JsonSerializer.Deserialize<FindingFoldRecord>(File.ReadAllText(path), FoldResult.Json) ?? throw new JsonException("empty");
                if (!record.Findings.SequenceEqual(assignment.Data.Findings, StringComparer.Ordinal))
                {
                    throw new JsonException("it is of findings " + string.Join(", ", record.Findings) + ", the data's are " + string.Join(", ", assignment.Data.Findings));
                }

                return new MultiLabelFoldResult(record, folder, assignment);
            }
            catch (Exception ex) when (ex is JsonException or FormatException or ArgumentException)
            {
                throw new WeightsFormatException($"The fold result '{path}' is damaged ({ex.Message}); delete it to train the fold again.", ex);
            }
        }

        internal static void Write(string folder, FindingFoldRecord record) =>
            AtomicFile.WriteText(Path.Combine(folder, CrossValidation.ResultFile), JsonSerializer.Serialize(record, FoldResult.Json));
    }

    /// <summary>The JSON content of a multi-label fold's result file.</summary>
    internal sealed record FindingFoldRecord
    {
        public int Repeat { get; init; }

        public int Repeats { get; init; }

        public int Fold { get; init; }

        public int Folds { get; init; }

        public string[] Findings { get; init; } = Array.Empty<string>();

        public int TrainImages { get; init; }

        public int ValidationImages { get; init; }

        public int TrainPatients { get; init; }

        public int ValidationPatients { get; init; }

        public int HeldOutPatients { get; init; }

        /// <summary>The temperatures as a model file's <c>finding_calibration</c> entry, or <see langword="null"/> when not calibrated.</summary>
        public string? Calibration { get; init; }

        /// <summary>The thresholds as a model file's <c>finding_thresholds</c> entry.</summary>
        public string Thresholds { get; init; } = string.Empty;

        public int BestEpoch { get; init; }

        public string History { get; init; } = string.Empty;

        public int[] HeldOutIndices { get; init; } = Array.Empty<int>();

        /// <summary>Calibrated held-out probabilities with their labels.</summary>
        public FindingRows HeldOut { get; init; } = new();

        public double[] HeldOutRawProbabilities { get; init; } = Array.Empty<double>();

        /// <summary>Calibrated validation-carve probabilities with their labels.</summary>
        public FindingRows Validation { get; init; } = new();

        public double[] ValidationRawProbabilities { get; init; } = Array.Empty<double>();

        public string[][] Skipped { get; init; } = Array.Empty<string[]>();

        public double Seconds { get; init; }
    }

    /// <summary>Row-major multi-label predictions as stored in a fold's result file.</summary>
    internal sealed record FindingRows
    {
        public double[] Probabilities { get; init; } = Array.Empty<double>();

        public bool[] Positive { get; init; } = Array.Empty<bool>();

        public bool[] Observed { get; init; } = Array.Empty<bool>();

        public static FindingRows Of(MultiLabelPredictions predictions)
        {
            int n = predictions.Count, f = predictions.Findings.Count;
            var p = new double[n * f];
            var y = new bool[n * f];
            var m = new bool[n * f];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < f; j++)
                {
                    p[(i * f) + j] = predictions.Probability(i, j);
                    y[(i * f) + j] = predictions.IsPositive(i, j);
                    m[(i * f) + j] = predictions.IsObserved(i, j);
                }
            }

            return new FindingRows { Probabilities = p, Positive = y, Observed = m };
        }

        /// <summary>These rows' labels with <paramref name="probabilities"/> (these or the uncalibrated ones), and the rows' patients when known.</summary>
        public MultiLabelPredictions ToPredictions(IReadOnlyList<string> findings, double[] probabilities, IReadOnlyList<string>? patients)
        {
            var predictions = new MultiLabelPredictions(findings, probabilities, Positive, Observed);
            return patients is null ? predictions : predictions.WithPatients(patients);
        }
    }
}
