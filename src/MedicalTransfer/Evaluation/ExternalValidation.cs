using System;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// A trained model evaluated unchanged on another site's data: the same metrics with intervals, the
    /// calibration there (calibration-in-the-large: does the model over- or under-predict at the new site?),
    /// the shift in prevalence, and the operating point chosen on INTERNAL validation data applied as it is,
    /// with the sensitivity and specificity it reaches externally. Zech et al. (PLOS Medicine 2018) showed
    /// pneumonia models losing much of their performance on other hospitals' images; this is how a study
    /// reports whether its model does.
    /// <code>
    /// var external = ExternalValidationReport.Evaluate(model, ImageFolder.Load("site-b"), internalValidation,
    ///     new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.TargetSensitivity(0.95) }, "site B");
    /// Console.WriteLine(external);
    /// </code>
    /// </summary>
    public sealed class ExternalValidationReport
    {
        private ExternalValidationReport(string site, EvaluationReport external, EvaluationReport? internalReport, CalibrationMetrics externalCalibration, CalibrationMetrics? internalCalibration, double internalPrevalence, double threshold, OperatingPoint operatingPoint)
        {
            OperatingPoint = operatingPoint;
            Site = site;
            External = external;
            Internal = internalReport;
            ExternalCalibration = externalCalibration;
            InternalCalibration = internalCalibration;
            InternalPrevalence = internalPrevalence;
            Threshold = threshold;
        }

        /// <summary>The external data's name, for example <c>site B</c>.</summary>
        public string Site { get; }

        /// <summary>The external report (the internal threshold applied as is).</summary>
        public EvaluationReport External { get; }

        /// <summary>The internal test report at the same threshold, when internal test predictions were given.</summary>
        public EvaluationReport? Internal { get; }

        /// <summary>Calibration at the external site (Brier, ECE, slope, calibration-in-the-large).</summary>
        public CalibrationMetrics ExternalCalibration { get; }

        /// <summary>Calibration on the internal test predictions, when given.</summary>
        public CalibrationMetrics? InternalCalibration { get; }

        /// <summary>Prevalence of the positive class internally (internal test set when given, else internal validation).</summary>
        public double InternalPrevalence { get; }

        /// <summary>Prevalence of the positive class at the external site.</summary>
        public double ExternalPrevalence => ExternalCalibration.ObservedRate;

        /// <summary>How the threshold was chosen on internal validation data.</summary>
        public OperatingPoint OperatingPoint { get; }

        /// <summary>The threshold chosen on internal validation data (NaN for argmax), applied unchanged.</summary>
        public double Threshold { get; }

        /// <summary>
        /// Compares predictions of the external images with the internal ones.
        /// </summary>
        /// <param name="site">A name for the external data.</param>
        /// <param name="external">The model's predictions of the external images.</param>
        /// <param name="internalValidation">The model's predictions of its internal validation split: they choose the operating point.</param>
        /// <param name="options">Positive class (required), operating point and bootstrap.</param>
        /// <param name="internalTest">The model's predictions of its internal test split, for side-by-side numbers.</param>
        /// <returns>The report.</returns>
        public static ExternalValidationReport Create(string site, Predictions external, Predictions internalValidation, EvaluationOptions options, Predictions? internalTest = null)
        {
            Guard.NotNullOrWhiteSpace(site);
            Guard.NotNull(external);
            Guard.NotNull(internalValidation);
            Guard.NotNull(options);
            string positive = options.PositiveClass ?? throw new ArgumentException("External validation reports binary metrics: set EvaluationOptions.PositiveClass.", nameof(options));
            if (!external.ClassNames.SequenceEqual(internalValidation.ClassNames, StringComparer.Ordinal))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "The external data's classes ({0}) differ from the internal ones ({1}); evaluate with the same class names in the same order.", string.Join(", ", external.ClassNames), string.Join(", ", internalValidation.ClassNames)), nameof(external));
            }

            double threshold = options.OperatingPoint.Resolve(internalValidation, positive);
            var fixedPoint = options with { OperatingPoint = double.IsNaN(threshold) ? OperatingPoint.Argmax : OperatingPoint.Threshold(threshold) };
            var externalReport = EvaluationReport.Create(external, fixedPoint);
            EvaluationReport? internalReport = internalTest is null ? null : EvaluationReport.Create(internalTest, fixedPoint);
            var reference = internalTest ?? internalValidation;
            int p = reference.ClassIndex(positive);
            double internalPrevalence = reference.Count == 0 ? double.NaN : reference.RawLabels.Count(l => l == p) / (double)reference.Count;
            return new ExternalValidationReport(
                site,
                externalReport,
                internalReport,
                CalibrationMetrics.Compute(external, positive, options.CalibrationBins),
                internalTest is null ? null : CalibrationMetrics.Compute(internalTest, positive, options.CalibrationBins),
                internalPrevalence,
                threshold,
                options.OperatingPoint);
        }

        /// <summary>Predicts the external images with the model as it is (its calibration included) and compares.</summary>
        /// <param name="model">The trained model, unchanged.</param>
        /// <param name="external">The other site's images (a folder or table dataset).</param>
        /// <param name="internalValidation">The model's predictions of its internal validation split.</param>
        /// <param name="options">Positive class (required), operating point and bootstrap.</param>
        /// <param name="site">A name for the external data.</param>
        /// <param name="internalTest">The model's predictions of its internal test split, for side-by-side numbers.</param>
        /// <param name="prediction">Loader and test-time augmentation.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The report.</returns>
        public static ExternalValidationReport Evaluate(TransferModel model, ImageDataset external, Predictions internalValidation, EvaluationOptions options, string site = "external", Predictions? internalTest = null, PredictionOptions? prediction = null, CancellationToken cancellationToken = default) =>
            Create(site, Evaluator.Predict(model, external, prediction, cancellationToken), internalValidation, options, internalTest);

        /// <summary>A few lines: prevalence shift, the internal threshold's external sensitivity and specificity, AUC and calibration side by side.</summary>
        /// <returns>The text.</returns>
        public override string ToString()
        {
            var c = CultureInfo.InvariantCulture;
            var b = External.Binary!;
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(c, "external validation on {0} ({1} images): prevalence of {2} {3:0.000} (internal {4:0.000}, shift {5:+0.000;-0.000;0.000})", Site, External.Predictions.Count, b.PositiveClass, ExternalPrevalence, InternalPrevalence, ExternalPrevalence - InternalPrevalence));
            sb.AppendLine(string.Format(c, "internal operating point ({0}{1}) applied as is: sensitivity {2}, specificity {3}", OperatingPoint, double.IsNaN(Threshold) ? string.Empty : string.Format(c, ", threshold {0:0.####}", Threshold), SubgroupReport.Text(b.Sensitivity, b.SensitivityInterval), SubgroupReport.Text(b.Specificity, b.SpecificityInterval)));
            sb.AppendLine("ROC AUC " + SubgroupReport.Text(b.RocAuc, b.RocAucInterval) + (Internal?.Binary is { } i ? " (internal " + SubgroupReport.Text(i.RocAuc, i.RocAucInterval) + ")" : string.Empty));
            sb.AppendLine(string.Format(c, "calibration-in-the-large {0:+0.000;-0.000;0.000} (mean predicted {1:0.000} vs observed {2:0.000}), slope {3:0.000}, Brier {4:0.0000}, ECE {5:0.0000}", ExternalCalibration.InterceptInTheLarge, ExternalCalibration.MeanPredicted, ExternalCalibration.ObservedRate, ExternalCalibration.Slope, ExternalCalibration.Brier, ExternalCalibration.ExpectedCalibrationError));
            return sb.ToString();
        }
    }
}
