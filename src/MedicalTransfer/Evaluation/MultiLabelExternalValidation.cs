using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// A trained multi-label model evaluated unchanged on another site's table: for each finding an
    /// <see cref="ExternalValidationReport"/>, computed by the single-label code on the finding's observed labels (uncertain
    /// under U-Ignore and missing labels left out), with the external AUROC and its bootstrap interval beside the internal
    /// one, calibration-in-the-large at the new site, the prevalence shift (internal against external), and the finding's
    /// threshold chosen INTERNALLY applied as it is, with the sensitivity and specificity it reaches externally.
    /// <code>
    /// var internalTest = model.PredictFindings(splits.Test);
    /// var external = MultiLabelExternalValidationReport.Evaluate(model, ImageTable.Load("site-b.csv", ImageTableLayouts.CheXpert), internalTest, "site B");
    /// Console.WriteLine(external);
    /// </code>
    /// </summary>
    public sealed class MultiLabelExternalValidationReport
    {
        private MultiLabelExternalValidationReport(string site, MultiLabelPredictions external, FindingThresholds? thresholds, IReadOnlyList<ExternalValidationReport> perFinding)
        {
            Site = site;
            External = external;
            Thresholds = thresholds;
            PerFinding = perFinding;
        }

        /// <summary>The external data's name, for example <c>site B</c>.</summary>
        public string Site { get; }

        /// <summary>The model's predictions of the external images.</summary>
        public MultiLabelPredictions External { get; }

        /// <summary>The internal thresholds applied as they are; <see langword="null"/> when 0.5 was used for every finding.</summary>
        public FindingThresholds? Thresholds { get; }

        /// <summary>One report per finding, in the predictions' order; its external and internal reports are binary, the finding positive.</summary>
        public IReadOnlyList<ExternalValidationReport> PerFinding { get; }

        /// <summary>Compares predictions of the external images with the internal ones, finding by finding.</summary>
        /// <param name="site">A name for the external data.</param>
        /// <param name="external">The model's predictions of the external images.</param>
        /// <param name="internalTest">The model's predictions of its internal test split (or of the pooled out-of-fold images): the internal prevalence, AUROC and calibration.</param>
        /// <param name="thresholds">The per-finding thresholds chosen on internal validation (the model's <c>FindingThresholds</c>); <see langword="null"/> for 0.5 each.</param>
        /// <param name="bootstrap">Resamples, level and seed of the intervals (images resampled); <see langword="null"/> for 1000 at 95%, seed 0.</param>
        /// <returns>The report.</returns>
        /// <exception cref="ArgumentException">The findings differ, the thresholds are for other findings, or a finding lacks observed positive or negative labels at a site.</exception>
        public static MultiLabelExternalValidationReport Create(string site, MultiLabelPredictions external, MultiLabelPredictions internalTest, FindingThresholds? thresholds = null, BootstrapOptions? bootstrap = null)
        {
            Guard.NotNullOrWhiteSpace(site);
            Guard.NotNull(external);
            Guard.NotNull(internalTest);
            if (!external.Findings.SequenceEqual(internalTest.Findings, StringComparer.Ordinal))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "The external data's findings ({0}) differ from the internal ones ({1}); predict both with the same model.", string.Join(", ", external.Findings), string.Join(", ", internalTest.Findings)), nameof(external));
            }

            var cut = FindingThresholds.ValuesFor(external, thresholds, nameof(thresholds));
            bootstrap ??= new BootstrapOptions();
            var perFinding = new ExternalValidationReport[external.Findings.Count];
            for (int j = 0; j < perFinding.Length; j++)
            {
                string finding = external.Findings[j];
                var (outside, _) = external.BinaryOf(j);
                var (inside, _) = internalTest.BinaryOf(j);
                foreach (var (predictions, where) in new[] { (outside, site), (inside, "the internal test set") })
                {
                    int positives = predictions.RawLabels.Count(l => l == 1);
                    if (positives == 0 || positives == predictions.Count)
                    {
                        throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Finding '{0}' needs observed positive and negative labels in {1} for an AUROC; found {2} positive and {3} negative. Leave the finding out of both tables, or label more of its images.", finding, where, positives, predictions.Count - positives), nameof(external));
                    }
                }

                var options = new EvaluationOptions { PositiveClass = finding, OperatingPoint = OperatingPoint.Threshold(cut[j]), Bootstrap = bootstrap };
                perFinding[j] = ExternalValidationReport.Create(site, outside, inside, options, inside);
            }

            return new MultiLabelExternalValidationReport(site, external, thresholds, perFinding);
        }

        /// <summary>Predicts the external images with the model as it is (its temperatures included) and compares at the model's thresholds.</summary>
        /// <param name="model">The trained multi-label model, unchanged.</param>
        /// <param name="external">The other site's table.</param>
        /// <param name="internalTest">The model's predictions of its internal test split.</param>
        /// <param name="site">A name for the external data.</param>
        /// <param name="bootstrap">Resamples, level and seed of the intervals; <see langword="null"/> for 1000 at 95%, seed 0.</param>
        /// <param name="prediction">Loader and test-time augmentation.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The report.</returns>
        public static MultiLabelExternalValidationReport Evaluate(TransferModel model, ImageDataset external, MultiLabelPredictions internalTest, string site = "external", BootstrapOptions? bootstrap = null, PredictionOptions? prediction = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            return Create(site, model.PredictFindings(external, prediction, cancellationToken), internalTest, model.FindingThresholds, bootstrap);
        }

        /// <summary>One line per finding: prevalence internal and external, AUROC both, the internal threshold's external sensitivity and specificity, calibration-in-the-large.</summary>
        /// <returns>The text.</returns>
        public override string ToString()
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(c, "external validation on {0} ({1} images), internal thresholds applied as is:", Site, External.Count));
            foreach (var r in PerFinding)
            {
                var b = r.External.Binary!;
                sb.AppendLine(string.Format(c, "  {0}: prevalence {1:0.000} (internal {2:0.000}, shift {3:+0.000;-0.000;0.000}); AUROC {4} (internal {5}); threshold {6:0.####}: sensitivity {7}, specificity {8}; calibration-in-the-large {9:+0.000;-0.000;0.000}", b.PositiveClass, r.ExternalPrevalence, r.InternalPrevalence, r.ExternalPrevalence - r.InternalPrevalence, SubgroupReport.Text(b.RocAuc, b.RocAucInterval), r.Internal?.Binary is { } i ? SubgroupReport.Text(i.RocAuc, i.RocAucInterval) : "-", r.Threshold, SubgroupReport.Text(b.Sensitivity, b.SensitivityInterval), SubgroupReport.Text(b.Specificity, b.SpecificityInterval), r.ExternalCalibration.InterceptInTheLarge));
            }

            return sb.ToString();
        }
    }
}
