using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// Subgroup metrics of a multi-label model: for each finding, a <see cref="SubgroupReport"/> by one metadata column (sex,
    /// view position, site), computed by the single-label code on the finding's observed labels (uncertain under U-Ignore and
    /// missing labels left out): per group the images with an observed label of the finding, its positives and negatives
    /// (prevalence), AUROC, sensitivity and specificity with bootstrap intervals at the finding's threshold (chosen on
    /// validation, the same for every group), and the flag on groups with too few positives or negatives of that finding.
    /// A group with no observed label of a finding has no row for it.
    /// <code>
    /// var test = model.PredictFindings(splits.Test);
    /// var bySex = MultiLabelSubgroupReport.Compute(test, splits.Test.Samples, s => s.Metadata?.GetValueOrDefault("Sex"), "sex", model.FindingThresholds);
    /// Console.WriteLine(bySex);
    /// </code>
    /// </summary>
    public sealed class MultiLabelSubgroupReport
    {
        private MultiLabelSubgroupReport(string attribute, int minimumPerClass, IReadOnlyList<SubgroupReport> perFinding)
        {
            Attribute = attribute;
            MinimumPerClass = minimumPerClass;
            PerFinding = perFinding;
        }

        /// <summary>The metadata column, for example <c>sex</c>.</summary>
        public string Attribute { get; }

        /// <summary>Positives and negatives of a finding a group needs not to be flagged as too small.</summary>
        public int MinimumPerClass { get; }

        /// <summary>One report per finding, in the predictions' order; its <see cref="SubgroupReport.PositiveClass"/> is the finding.</summary>
        public IReadOnlyList<SubgroupReport> PerFinding { get; }

        /// <summary>The findings, in order.</summary>
        public IReadOnlyList<string> Findings => PerFinding.Select(r => r.PositiveClass).ToArray();

        /// <summary>Subgroup metrics from the predicted images' samples and a mapping of each sample to its group.</summary>
        /// <param name="predictions">Predictions of the images, in the order of <paramref name="samples"/>.</param>
        /// <param name="samples">The images predicted (for example <c>splits.Test.Samples</c>).</param>
        /// <param name="groupOf">The group of a sample, or <see langword="null"/> when unknown, for example <c>s =&gt; s.Metadata?.GetValueOrDefault("Sex")</c>.</param>
        /// <param name="attribute">The column's name for the report.</param>
        /// <param name="thresholds">Per-finding thresholds chosen on validation; <see langword="null"/> for 0.5 each.</param>
        /// <param name="bootstrap">Resamples, level and seed of the intervals (images are resampled within each group); <see langword="null"/> for 1000 at 95%, seed 0.</param>
        /// <param name="minimumPerClass">Positives and negatives below which a group is flagged.</param>
        /// <returns>The report.</returns>
        /// <exception cref="ArgumentException">The samples are not one per prediction, or the thresholds are for other findings.</exception>
        public static MultiLabelSubgroupReport Compute(MultiLabelPredictions predictions, IReadOnlyList<ImageSample> samples, Func<ImageSample, string?> groupOf, string attribute, FindingThresholds? thresholds = null, BootstrapOptions? bootstrap = null, int minimumPerClass = 10)
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

            return Compute(predictions, samples.Select(groupOf).ToArray(), attribute, thresholds, bootstrap, minimumPerClass);
        }

        /// <summary>Subgroup metrics from one group value per prediction.</summary>
        /// <param name="predictions">The predictions.</param>
        /// <param name="groups">The group of each image (<see langword="null"/> when unknown).</param>
        /// <param name="attribute">The column's name.</param>
        /// <param name="thresholds">Per-finding thresholds chosen on validation; <see langword="null"/> for 0.5 each.</param>
        /// <param name="bootstrap">Resamples, level and seed of the intervals; <see langword="null"/> for 1000 at 95%, seed 0.</param>
        /// <param name="minimumPerClass">Positives and negatives below which a group is flagged.</param>
        /// <returns>The report.</returns>
        /// <exception cref="ArgumentException">The groups are not one per image, or the thresholds are for other findings.</exception>
        public static MultiLabelSubgroupReport Compute(MultiLabelPredictions predictions, IReadOnlyList<string?> groups, string attribute, FindingThresholds? thresholds = null, BootstrapOptions? bootstrap = null, int minimumPerClass = 10)
        {
            Guard.NotNull(predictions);
            Guard.NotNull(groups);
            Guard.NotNullOrWhiteSpace(attribute);
            if (groups.Count != predictions.Count)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected one group per image ({0}); found {1}.", predictions.Count, groups.Count), nameof(groups));
            }

            var cut = FindingThresholds.ValuesFor(predictions, thresholds, nameof(thresholds));
            bootstrap ??= new BootstrapOptions();
            var perFinding = new SubgroupReport[predictions.Findings.Count];
            for (int j = 0; j < perFinding.Length; j++)
            {
                var (binary, rows) = predictions.BinaryOf(j);
                var options = new EvaluationOptions { PositiveClass = predictions.Findings[j], OperatingPoint = OperatingPoint.Threshold(cut[j]), Bootstrap = bootstrap };
                perFinding[j] = SubgroupReport.Compute(binary, rows.Select(i => groups[i]).ToArray(), attribute, options, null, minimumPerClass);
            }

            return new MultiLabelSubgroupReport(attribute, minimumPerClass, perFinding);
        }

        /// <summary>One table per finding: one line per group.</summary>
        /// <returns>The text.</returns>
        public override string ToString()
        {
            var sb = new StringBuilder();
            foreach (var r in PerFinding)
            {
                sb.Append(r);
            }

            return sb.ToString();
        }
    }
}
