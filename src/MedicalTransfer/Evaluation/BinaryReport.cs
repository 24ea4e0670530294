using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.Json;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// Clinical metrics of one class against the rest (for example PNEUMONIA vs NORMAL): the
    /// decision at an operating point (sensitivity, specificity, PPV, NPV, accuracy), the
    /// threshold-free ROC AUC and average precision, both curves as data, and optional bootstrap
    /// confidence intervals.
    /// </summary>
    public sealed class BinaryReport
    {
        private BinaryReport() { }

        /// <summary>The positive class's name.</summary>
        public string PositiveClass { get; private init; } = string.Empty;

        /// <summary>How the decision was made.</summary>
        public OperatingPoint OperatingPoint { get; private init; } = OperatingPoint.Argmax;

        /// <summary>The threshold on the positive class's probability (positive when at least this), or NaN for <see cref="OperatingPoint.Argmax"/>.</summary>
        public double Threshold { get; private init; }

        /// <summary>Positive images called positive.</summary>
        public int TruePositives { get; private init; }

        /// <summary>Negative images called positive.</summary>
        public int FalsePositives { get; private init; }

        /// <summary>Negative images called negative.</summary>
        public int TrueNegatives { get; private init; }

        /// <summary>Positive images called negative.</summary>
        public int FalseNegatives { get; private init; }

        /// <summary>TP / (TP + FN), the recall of the positive class; NaN without positive images.</summary>
        public double Sensitivity { get; private init; }

        /// <summary>TN / (TN + FP); NaN without negative images.</summary>
        public double Specificity { get; private init; }

        /// <summary>Positive predictive value TP / (TP + FP); NaN when nothing is called positive.</summary>
        public double Ppv { get; private init; }

        /// <summary>Negative predictive value TN / (TN + FN); NaN when nothing is called negative.</summary>
        public double Npv { get; private init; }

        /// <summary>(TP + TN) / all.</summary>
        public double Accuracy { get; private init; }

        /// <summary>Area under the ROC curve of the positive class's probability.</summary>
        public double RocAuc { get; private init; }

        /// <summary>Average precision of the positive class's probability.</summary>
        public double AveragePrecision { get; private init; }

        /// <summary>The ROC curve.</summary>
        public RocCurve Roc { get; private init; } = null!;

        /// <summary>The precision-recall curve.</summary>
        public PrecisionRecallCurve PrecisionRecall { get; private init; } = null!;

        /// <summary>Bootstrap interval of <see cref="RocAuc"/>, or <see langword="null"/> when not requested.</summary>
        public ConfidenceInterval? RocAucInterval { get; private init; }

        /// <summary>Bootstrap interval of <see cref="Sensitivity"/>, or <see langword="null"/>.</summary>
        public ConfidenceInterval? SensitivityInterval { get; private init; }

        /// <summary>Bootstrap interval of <see cref="Specificity"/>, or <see langword="null"/>.</summary>
        public ConfidenceInterval? SpecificityInterval { get; private init; }

        /// <summary>Bootstrap interval of <see cref="Accuracy"/>, or <see langword="null"/>.</summary>
        public ConfidenceInterval? AccuracyInterval { get; private init; }

        /// <summary>
        /// Computes the report. The operating point's threshold is chosen on
        /// <paramref name="validation"/> when it needs data, and applied unchanged to <paramref name="test"/>.
        /// </summary>
        /// <param name="test">Predictions on the split to report.</param>
        /// <param name="positiveClass">The positive class's name, for example <c>PNEUMONIA</c>.</param>
        /// <param name="operatingPoint">The decision rule; the default is <see cref="OperatingPoint.Argmax"/>.</param>
        /// <param name="validation">Validation predictions, required by <see cref="OperatingPoint.YoudenJ"/> and <see cref="OperatingPoint.TargetSensitivity"/>.</param>
        /// <param name="bootstrap">Bootstrap settings, or <see langword="null"/> for no intervals.</param>
        /// <returns>The report.</returns>
        /// <exception cref="ArgumentException">The class is unknown, the validation classes differ, a data-driven point has no validation predictions, or the test split lacks one of the two classes.</exception>
        public static BinaryReport Compute(Predictions test, string positiveClass, OperatingPoint? operatingPoint = null, Predictions? validation = null, BootstrapOptions? bootstrap = null)
        {
            Guard.NotNull(test);
            Guard.NotNull(positiveClass);
            operatingPoint ??= OperatingPoint.Argmax;
            int positive = test.ClassIndex(positiveClass);
            if (validation is not null && !validation.ClassNames.SequenceEqual(test.ClassNames))
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Validation classes ({0}) differ from test classes ({1}); predict both splits with the same model.", string.Join(", ", validation.ClassNames), string.Join(", ", test.ClassNames)),
                    nameof(validation));
            }

            double threshold = operatingPoint.Resolve(validation, positiveClass);
            var isPositive = test.Labels.Select(l => l == positive).ToArray();
            var scores = test.Scores(positive);
            var calls = Decide(test, positive, threshold);
            var counts = Count(isPositive, calls, null);
            var roc = RocCurve.Compute(isPositive, scores);
            var pr = PrecisionRecallCurve.Compute(isPositive, scores);
            var (sensitivity, specificity, accuracy) = (Ratio(counts.Tp, counts.Tp + counts.Fn), Ratio(counts.Tn, counts.Tn + counts.Fp), Ratio(counts.Tp + counts.Tn, test.Count));
            ConfidenceInterval[]? intervals = null;
            if (bootstrap is not null)
            {
                var estimates = new[] { roc.Auc, sensitivity, specificity, accuracy };
                var resampledPositive = new bool[test.Count];
                var resampledScores = new double[test.Count];
                intervals = Bootstrap.Intervals(test.Count, bootstrap, estimates, indices =>
                {
                    for (int i = 0; i < indices.Length; i++)
                    {
                        resampledPositive[i] = isPositive[indices[i]];
                        resampledScores[i] = scores[indices[i]];
                    }

                    var c = Count(isPositive, calls, indices);
                    return new[]
                    {
                        Ranking.Auc(resampledPositive, resampledScores),
                        Ratio(c.Tp, c.Tp + c.Fn),
                        Ratio(c.Tn, c.Tn + c.Fp),
                        Ratio(c.Tp + c.Tn, indices.Length),
                    };
                });
            }

            return new BinaryReport
            {
                PositiveClass = positiveClass,
                OperatingPoint = operatingPoint,
                Threshold = threshold,
                TruePositives = counts.Tp,
                FalsePositives = counts.Fp,
                TrueNegatives = counts.Tn,
                FalseNegatives = counts.Fn,
                Sensitivity = sensitivity,
                Specificity = specificity,
                Ppv = Ratio(counts.Tp, counts.Tp + counts.Fp),
                Npv = Ratio(counts.Tn, counts.Tn + counts.Fn),
                Accuracy = accuracy,
                RocAuc = roc.Auc,
                AveragePrecision = pr.AveragePrecision,
                Roc = roc,
                PrecisionRecall = pr,
                RocAucInterval = intervals?[0],
                SensitivityInterval = intervals?[1],
                SpecificityInterval = intervals?[2],
                AccuracyInterval = intervals?[3],
            };
        }

        /// <summary>A few lines: operating point, counts and each metric with its interval.</summary>
        /// <returns>The text.</returns>
        public override string ToString()
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(c, "positive class {0}, operating point {1}{2}", PositiveClass, OperatingPoint, double.IsNaN(Threshold) ? string.Empty : string.Format(c, " (threshold {0:0.####})", Threshold)));
            sb.AppendLine(string.Format(c, "TP {0}  FP {1}  TN {2}  FN {3}", TruePositives, FalsePositives, TrueNegatives, FalseNegatives));
            sb.AppendLine("sensitivity  " + Format(Sensitivity, SensitivityInterval));
            sb.AppendLine("specificity  " + Format(Specificity, SpecificityInterval));
            sb.AppendLine(string.Format(c, "PPV          {0:0.000}", Ppv));
            sb.AppendLine(string.Format(c, "NPV          {0:0.000}", Npv));
            sb.AppendLine("accuracy     " + Format(Accuracy, AccuracyInterval));
            sb.AppendLine("ROC AUC      " + Format(RocAuc, RocAucInterval));
            sb.AppendLine(string.Format(c, "avg prec.    {0:0.000}", AveragePrecision));
            return sb.ToString();
        }

        internal void WriteJson(Utf8JsonWriter writer)
        {
            writer.WriteStartObject();
            writer.WriteString("positive_class", PositiveClass);
            writer.WriteString("operating_point", OperatingPoint.ToString());
            Json.Number(writer, "threshold", Threshold);
            writer.WriteNumber("tp", TruePositives);
            writer.WriteNumber("fp", FalsePositives);
            writer.WriteNumber("tn", TrueNegatives);
            writer.WriteNumber("fn", FalseNegatives);
            Json.Metric(writer, "sensitivity", Sensitivity, SensitivityInterval);
            Json.Metric(writer, "specificity", Specificity, SpecificityInterval);
            Json.Number(writer, "ppv", Ppv);
            Json.Number(writer, "npv", Npv);
            Json.Metric(writer, "accuracy", Accuracy, AccuracyInterval);
            Json.Metric(writer, "roc_auc", RocAuc, RocAucInterval);
            Json.Number(writer, "average_precision", AveragePrecision);
            writer.WriteStartObject("roc_curve");
            Json.Array(writer, "fpr", Roc.FalsePositiveRates);
            Json.Array(writer, "tpr", Roc.TruePositiveRates);
            Json.Array(writer, "thresholds", Roc.Thresholds);
            writer.WriteEndObject();
            writer.WriteStartObject("pr_curve");
            Json.Array(writer, "precision", PrecisionRecall.Precisions);
            Json.Array(writer, "recall", PrecisionRecall.Recalls);
            Json.Array(writer, "thresholds", PrecisionRecall.Thresholds);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        private static string Format(double value, ConfidenceInterval? interval) =>
            interval is null ? value.ToString("0.000", CultureInfo.InvariantCulture) : interval.ToString();

        private static bool[] Decide(Predictions predictions, int positive, double threshold)
        {
            var calls = new bool[predictions.Count];
            for (int i = 0; i < calls.Length; i++)
            {
                calls[i] = double.IsNaN(threshold) ? predictions.PredictedLabels[i] == positive : predictions.Probability(i, positive) >= threshold;
            }

            return calls;
        }

        private static (int Tp, int Fp, int Tn, int Fn) Count(bool[] isPositive, bool[] calls, int[]? indices)
        {
            int tp = 0, fp = 0, tn = 0, fn = 0;
            int n = indices?.Length ?? isPositive.Length;
            for (int k = 0; k < n; k++)
            {
                int i = indices is null ? k : indices[k];
                if (isPositive[i])
                {
                    if (calls[i])
                    {
                        tp++;
                    }
                    else
                    {
                        fn++;
                    }
                }
                else if (calls[i])
                {
                    fp++;
                }
                else
                {
                    tn++;
                }
            }

            return (tp, fp, tn, fn);
        }

        private static double Ratio(int numerator, int denominator) => denominator == 0 ? double.NaN : (double)numerator / denominator;
    }

    /// <summary>JSON helpers: NaN and infinity, which JSON cannot hold, are written as null.</summary>
    internal static class Json
    {
        public static void Number(Utf8JsonWriter writer, string name, double value)
        {
            if (double.IsFinite(value))
            {
                writer.WriteNumber(name, value);
            }
            else
            {
                writer.WriteNull(name);
            }
        }

        public static void Metric(Utf8JsonWriter writer, string name, double value, ConfidenceInterval? interval)
        {
            if (interval is null)
            {
                Number(writer, name, value);
                return;
            }

            writer.WriteStartObject(name);
            Number(writer, "estimate", value);
            Number(writer, "lower", interval.Lower);
            Number(writer, "upper", interval.Upper);
            writer.WriteNumber("level", interval.Level);
            writer.WriteNumber("resamples", interval.Resamples);
            writer.WriteEndObject();
        }

        public static void Array(Utf8JsonWriter writer, string name, IReadOnlyList<double> values)
        {
            writer.WriteStartArray(name);
            foreach (double v in values)
            {
                if (double.IsFinite(v))
                {
                    writer.WriteNumberValue(v);
                }
                else
                {
                    writer.WriteNullValue();
                }
            }

            writer.WriteEndArray();
        }
    }
}
