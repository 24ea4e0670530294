using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>The binary metrics of one subgroup (for example sex = F), at the operating point chosen for the whole model.</summary>
    /// <param name="Group">The group's value (<c>(missing)</c> for images without one).</param>
    /// <param name="Images">Images in the group.</param>
    /// <param name="Positives">Positive images.</param>
    /// <param name="Negatives">Negative images.</param>
    /// <param name="Auc">ROC AUC, or NaN when the group lacks a class.</param>
    /// <param name="AucInterval">Bootstrap interval of the AUC, or <see langword="null"/>.</param>
    /// <param name="Sensitivity">TP / (TP + FN), NaN without positives.</param>
    /// <param name="SensitivityInterval">Bootstrap interval, or <see langword="null"/>.</param>
    /// <param name="Specificity">TN / (TN + FP), NaN without negatives.</param>
    /// <param name="SpecificityInterval">Bootstrap interval, or <see langword="null"/>.</param>
    /// <param name="Accuracy">(TP + TN) / images.</param>
    /// <param name="TooSmall">Fewer positives or negatives than the report's minimum: the estimates are unstable.</param>
    public sealed record SubgroupMetrics(
        string Group,
        int Images,
        int Positives,
        int Negatives,
        double Auc,
        ConfidenceInterval? AucInterval,
        double Sensitivity,
        ConfidenceInterval? SensitivityInterval,
        double Specificity,
        ConfidenceInterval? SpecificityInterval,
        double Accuracy,
        bool TooSmall);

    /// <summary>
    /// Performance per value of one metadata column (sex, age band, view position, site, manufacturer): counts,
    /// AUC, sensitivity and specificity with bootstrap intervals, at ONE threshold chosen for the whole model
    /// (on validation data) and applied unchanged to every group, and a flag on groups too small for a stable
    /// estimate. The group of each image comes from a caller-supplied mapping, so any column works: a table
    /// joined by path today, the samples' metadata once the data pipeline carries it.
    /// <code>
    /// var sexOf = File.ReadLines("patients.csv").Skip(1).Select(l => l.Split(',')).ToDictionary(c => c[0], c => c[1]);
    /// var bySex = SubgroupReport.Compute(predictions, test.Samples, s => sexOf.GetValueOrDefault(Path.GetFileName(s.Path)), "sex",
    ///     new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.YoudenJ }, validation);
    /// </code>
    /// </summary>
    public sealed class SubgroupReport
    {
        /// <summary>The name used for images whose group is unknown.</summary>
        public const string Missing = "(missing)";

        private SubgroupReport(string attribute, string positiveClass, double threshold, int minimumPerClass, IReadOnlyList<SubgroupMetrics> groups)
        {
            Attribute = attribute;
            PositiveClass = positiveClass;
            Threshold = threshold;
            MinimumPerClass = minimumPerClass;
            Groups = groups;
        }

        /// <summary>The metadata column, for example <c>sex</c>.</summary>
        public string Attribute { get; }

        /// <summary>The positive class.</summary>
        public string PositiveClass { get; }

        /// <summary>The threshold every group is decided at (NaN for argmax).</summary>
        public double Threshold { get; }

        /// <summary>Positives and negatives a group needs not to be flagged as too small.</summary>
        public int MinimumPerClass { get; }

        /// <summary>One row per group, ordered by group name.</summary>
        public IReadOnlyList<SubgroupMetrics> Groups { get; }

        /// <summary>Subgroup metrics from the images' samples and a mapping of each sample to its group.</summary>
        /// <param name="predictions">Predictions of the images, in the order of <paramref name="samples"/>.</param>
        /// <param name="samples">The images predicted (for example <c>test.Samples</c>).</param>
        /// <param name="groupOf">The group of a sample, or <see langword="null"/> when unknown.</param>
        /// <param name="attribute">The column's name for the report.</param>
        /// <param name="options">Positive class (required), operating point and bootstrap.</param>
        /// <param name="validation">Validation predictions for a data-driven operating point.</param>
        /// <param name="minimumPerClass">Positives and negatives below which a group is flagged.</param>
        /// <returns>The report.</returns>
        public static SubgroupReport Compute(Predictions predictions, IReadOnlyList<ImageSample> samples, Func<ImageSample, string?> groupOf, string attribute, EvaluationOptions options, Predictions? validation = null, int minimumPerClass = 10)
        {
            Guard.NotNull(predictions);
            Guard.NotNull(samples);
            Guard.NotNull(groupOf);
            if (samples.Count != predictions.Count)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Expected one sample per prediction ({0}); found {1}. Pass the samples that were predicted, in the same order (images skipped as unreadable have no prediction).", predictions.Count, samples.Count),
                    nameof(samples));
            }

            for (int i = 0; i < samples.Count; i++)
            {
                int label = predictions.RawLabels[i];
                if (samples[i].Label != label)
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Sample {0} ('{1}') has label {2} but prediction {0} has label {3}: the samples are not the predicted images in order.", i, samples[i].Path, samples[i].Label, label), nameof(samples));
                }
            }

            return Compute(predictions, samples.Select(groupOf).ToArray(), attribute, options, validation, minimumPerClass);
        }

        /// <summary>Subgroup metrics from one group value per prediction.</summary>
        /// <param name="predictions">The predictions.</param>
        /// <param name="groups">The group of each prediction (<see langword="null"/> when unknown).</param>
        /// <param name="attribute">The column's name.</param>
        /// <param name="options">Positive class (required), operating point and bootstrap.</param>
        /// <param name="validation">Validation predictions for a data-driven operating point.</param>
        /// <param name="minimumPerClass">Positives and negatives below which a group is flagged.</param>
        /// <returns>The report.</returns>
        public static SubgroupReport Compute(Predictions predictions, IReadOnlyList<string?> groups, string attribute, EvaluationOptions options, Predictions? validation = null, int minimumPerClass = 10)
        {
            Guard.NotNull(predictions);
            Guard.NotNull(groups);
            Guard.NotNullOrWhiteSpace(attribute);
            Guard.NotNull(options);
            Guard.InRange(minimumPerClass, 1, 100000);
            string positiveClass = options.PositiveClass ?? throw new ArgumentException("Subgroup metrics are binary: set EvaluationOptions.PositiveClass.", nameof(options));
            if (groups.Count != predictions.Count)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected one group per prediction ({0}); found {1}.", predictions.Count, groups.Count), nameof(groups));
            }

            int positive = predictions.ClassIndex(positiveClass);
            double threshold = Guard.NotNull(options.OperatingPoint, "options.OperatingPoint").Resolve(validation, positiveClass);
            var calls = ModelComparison.Calls(predictions, positive, threshold);
            var isPositive = predictions.RawLabels.Select(l => l == positive).ToArray();
            var scores = predictions.Scores(positive);
            var rows = new List<SubgroupMetrics>();
            foreach (var group in Enumerable.Range(0, groups.Count).GroupBy(i => string.IsNullOrEmpty(groups[i]) ? Missing : groups[i]!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var members = group.ToArray();
                rows.Add(Metrics(group.Key, members, isPositive, scores, calls, options.Bootstrap, minimumPerClass));
            }

            return new SubgroupReport(attribute, positiveClass, threshold, minimumPerClass, rows);
        }

        /// <summary>A table: one line per group.</summary>
        /// <returns>The text.</returns>
        public override string ToString()
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(c, "subgroups by {0} ({1} positive, threshold {2}):", Attribute, PositiveClass, double.IsNaN(Threshold) ? "argmax" : Threshold.ToString("0.####", c)));
            foreach (var g in Groups)
            {
                sb.AppendLine(string.Format(c, "  {0,-14} n {1,5} (+{2}/-{3})  AUC {4}  sens {5}  spec {6}{7}", g.Group, g.Images, g.Positives, g.Negatives, Text(g.Auc, g.AucInterval), Text(g.Sensitivity, g.SensitivityInterval), Text(g.Specificity, g.SpecificityInterval), g.TooSmall ? string.Format(c, "  [too small: fewer than {0} of a class]", MinimumPerClass) : string.Empty));
            }

            return sb.ToString();
        }

        internal static string Text(double value, ConfidenceInterval? interval) =>
            double.IsNaN(value) ? "n/a" : interval is null || double.IsNaN(interval.Lower) ? value.ToString("0.000", CultureInfo.InvariantCulture) : interval.ToString();

        private static SubgroupMetrics Metrics(string name, int[] members, bool[] isPositive, double[] scores, bool[] calls, BootstrapOptions? bootstrap, int minimum)
        {
            (double Auc, double Sens, double Spec, double Acc) Of(IReadOnlyList<int> indices)
            {
                int tp = 0, fp = 0, tn = 0, fn = 0;
                var y = new bool[indices.Count];
                var s = new double[indices.Count];
                for (int k = 0; k < indices.Count; k++)
                {
                    int i = indices[k];
                    y[k] = isPositive[i];
                    s[k] = scores[i];
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

                double Ratio(int a, int b) => b == 0 ? double.NaN : (double)a / b;
                return (indices.Count == 0 ? double.NaN : Ranking.Auc(y, s), Ratio(tp, tp + fn), Ratio(tn, tn + fp), Ratio(tp + tn, indices.Count));
            }

            var full = Of(members);
            int positives = members.Count(i => isPositive[i]);
            int negatives = members.Length - positives;
            ConfidenceInterval[]? intervals = null;
            if (bootstrap is not null && members.Length > 1)
            {
                var mapped = new int[members.Length];
                intervals = Bootstrap.Intervals(members.Length, bootstrap, new[] { full.Auc, full.Sens, full.Spec }, indices =>
                {
                    for (int k = 0; k < indices.Length; k++)
                    {
                        mapped[k] = members[indices[k]];
                    }

                    var m = Of(mapped);
                    return new[] { m.Auc, m.Sens, m.Spec };
                });
            }

            return new SubgroupMetrics(name, members.Length, positives, negatives, full.Auc, intervals?[0], full.Sens, intervals?[1], full.Spec, intervals?[2], full.Acc, positives < minimum || negatives < minimum);
        }
    }
}
