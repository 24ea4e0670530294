using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>What <see cref="EvaluationReport.Create"/> computes besides the classification report.</summary>
    public sealed record EvaluationOptions
    {
        /// <summary>The positive class for the clinical (binary) metrics, for example <c>PNEUMONIA</c>.</summary>
        /// <value>The default is <see langword="null"/>: no binary metrics.</value>
        public string? PositiveClass { get; init; }

        /// <summary>The decision rule of the binary metrics.</summary>
        /// <value>The default is <see cref="OperatingPoint.Argmax"/>.</value>
        public OperatingPoint OperatingPoint { get; init; } = OperatingPoint.Argmax;

        /// <summary>Bootstrap settings of the confidence intervals, or <see langword="null"/> for none.</summary>
        /// <value>The default is 1000 resamples, 95%, seed 0.</value>
        public BootstrapOptions? Bootstrap { get; init; } = new();

        /// <summary>Number of bins of the reliability diagram.</summary>
        /// <value>The default is 10.</value>
        public int CalibrationBins { get; init; } = 10;
    }

    /// <summary>
    /// Everything reviewers ask for about a split: the classification report and confusion matrix,
    /// accuracy with a bootstrap interval, one-vs-rest macro ROC AUC, calibration, and (with a
    /// positive class) the clinical binary metrics.
    /// </summary>
    public sealed class EvaluationReport
    {
        private EvaluationReport(Predictions predictions, ClassificationReport classification, ConfidenceInterval? accuracyInterval, double macroAuc, CalibrationReport calibration, BinaryReport? binary)
        {
            Predictions = predictions;
            Classification = classification;
            AccuracyInterval = accuracyInterval;
            MacroRocAuc = macroAuc;
            Calibration = calibration;
            Binary = binary;
        }

        /// <summary>The predictions the report was computed from.</summary>
        public Predictions Predictions { get; }

        /// <summary>Per-class precision, recall, F1, support, accuracy and averages (most probable class).</summary>
        public ClassificationReport Classification { get; }

        /// <summary>The confusion matrix (most probable class).</summary>
        public ConfusionMatrix ConfusionMatrix => Classification.ConfusionMatrix;

        /// <summary>Bootstrap interval of the accuracy, or <see langword="null"/> when not requested.</summary>
        public ConfidenceInterval? AccuracyInterval { get; }

        /// <summary>
        /// Mean over classes of the ROC AUC of each class against the rest (scikit-learn's
        /// <c>roc_auc_score(multi_class="ovr", average="macro")</c>); NaN when a class has no images.
        /// For two classes it equals the binary AUC.
        /// </summary>
        public double MacroRocAuc { get; }

        /// <summary>Expected calibration error and reliability-diagram data.</summary>
        public CalibrationReport Calibration { get; }

        /// <summary>Clinical metrics of <see cref="EvaluationOptions.PositiveClass"/>, or <see langword="null"/>.</summary>
        public BinaryReport? Binary { get; }

        /// <summary>Computes the report.</summary>
        /// <param name="test">Predictions on the split to report.</param>
        /// <param name="options">What to compute; <see langword="null"/> for the defaults.</param>
        /// <param name="validation">Validation predictions, needed only by data-driven operating points.</param>
        /// <returns>The report.</returns>
        public static EvaluationReport Create(Predictions test, EvaluationOptions? options = null, Predictions? validation = null)
        {
            Guard.NotNull(test);
            options ??= new EvaluationOptions();
            Guard.NotNull(options.OperatingPoint, "EvaluationOptions.OperatingPoint");
            var classification = ClassificationReport.Compute(test);
            ConfidenceInterval? accuracyInterval = null;
            if (options.Bootstrap is not null && test.Count > 0)
            {
                int[] labels = test.RawLabels;
                var predicted = test.PredictedLabels;
                accuracyInterval = Bootstrap.Intervals(test.Count, options.Bootstrap, new[] { classification.Accuracy }, indices =>
                    new[] { indices.Count(i => labels[i] == predicted[i]) / (double)indices.Length })[0];
            }

            var binary = options.PositiveClass is null ? null : BinaryReport.Compute(test, options.PositiveClass, options.OperatingPoint, validation, options.Bootstrap);
            return new EvaluationReport(test, classification, accuracyInterval, MacroAuc(test), CalibrationReport.Compute(test, options.CalibrationBins), binary);
        }

        /// <summary>One-vs-rest macro ROC AUC; NaN when a class has no images or all images are of one class.</summary>
        /// <param name="predictions">Labels and probabilities.</param>
        /// <returns>The AUC.</returns>
        public static double MacroAuc(Predictions predictions)
        {
            Guard.NotNull(predictions);
            double sum = 0;
            for (int c = 0; c < predictions.ClassNames.Count; c++)
            {
                var isPositive = predictions.Labels.Select(l => l == c).ToArray();
                double auc = Ranking.Auc(isPositive, predictions.Scores(c));
                if (double.IsNaN(auc))
                {
                    return double.NaN;
                }

                sum += auc;
            }

            return sum / predictions.ClassNames.Count;
        }

        /// <summary>The classification report, confusion matrix, AUC, calibration and binary metrics as text.</summary>
        /// <returns>The text.</returns>
        public override string ToString()
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.Append(Classification.ToString(4)).AppendLine();
            sb.Append(ConfusionMatrix).AppendLine();
            if (AccuracyInterval is not null)
            {
                sb.AppendLine("accuracy " + AccuracyInterval);
            }

            sb.AppendLine(string.Format(c, "one-vs-rest macro ROC AUC {0:0.0000}", MacroRocAuc));
            sb.AppendLine("calibration: " + Calibration);
            if (Binary is not null)
            {
                sb.AppendLine().Append(Binary);
            }

            return sb.ToString();
        }

        /// <summary>
        /// The report as JSON: <c>classification_report</c> (scikit-learn's layout), <c>confusion_matrix</c>
        /// (rows = true class), <c>classes</c>, <c>accuracy_ci</c>, <c>macro_roc_auc</c>, <c>calibration</c>
        /// and <c>binary</c> (with the curves). NaN and infinity are written as null.
        /// </summary>
        /// <returns>Indented JSON.</returns>
        public string ToJson()
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                writer.WriteStartObject();
                writer.WriteStartArray("classes");
                foreach (var name in Predictions.ClassNames)
                {
                    writer.WriteStringValue(name);
                }

                writer.WriteEndArray();
                writer.WriteNumber("count", Predictions.Count);
                writer.WritePropertyName("classification_report");
                Classification.WriteJson(writer);
                writer.WriteStartArray("confusion_matrix");
                foreach (var row in ConfusionMatrix.ToArray())
                {
                    writer.WriteStartArray();
                    foreach (int v in row)
                    {
                        writer.WriteNumberValue(v);
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndArray();
                Json.Metric(writer, "accuracy", Classification.Accuracy, AccuracyInterval);
                Json.Number(writer, "macro_roc_auc", MacroRocAuc);
                writer.WriteStartObject("calibration");
                Json.Number(writer, "ece", Calibration.ExpectedCalibrationError);
                Json.Number(writer, "mce", Calibration.MaximumCalibrationError);
                writer.WriteStartArray("bins");
                foreach (var bin in Calibration.Bins)
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("lower", bin.Lower);
                    writer.WriteNumber("upper", bin.Upper);
                    writer.WriteNumber("count", bin.Count);
                    Json.Number(writer, "confidence", bin.MeanConfidence);
                    Json.Number(writer, "accuracy", bin.Accuracy);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
                if (Binary is not null)
                {
                    writer.WritePropertyName("binary");
                    Binary.WriteJson(writer);
                }

                writer.WriteEndObject();
            }

            return Encoding.UTF8.GetString(stream.ToArray());
        }
    }
}
