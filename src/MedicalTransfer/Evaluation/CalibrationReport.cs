using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>One bin of a reliability diagram.</summary>
    /// <param name="Lower">Lower edge of the confidence bin (exclusive, except 0 for the first bin).</param>
    /// <param name="Upper">Upper edge (inclusive).</param>
    /// <param name="Count">Images whose confidence falls in the bin.</param>
    /// <param name="MeanConfidence">Mean confidence of those images (NaN when empty).</param>
    /// <param name="Accuracy">Fraction of them predicted correctly (NaN when empty).</param>
    public sealed record ReliabilityBin(double Lower, double Upper, int Count, double MeanConfidence, double Accuracy);

    /// <summary>
    /// Calibration of the top-label confidence (the probability of the predicted class, as Guo et
    /// al. 2017): expected calibration error and the data of a reliability diagram over equal-width
    /// bins. A calibrated model's 80%-confident predictions are right 80% of the time.
    /// </summary>
    public sealed class CalibrationReport
    {
        private CalibrationReport(IReadOnlyList<ReliabilityBin> bins, double ece, double mce)
        {
            Bins = bins;
            ExpectedCalibrationError = ece;
            MaximumCalibrationError = mce;
        }

        /// <summary>The bins, from low to high confidence.</summary>
        public IReadOnlyList<ReliabilityBin> Bins { get; }

        /// <summary>Sum over bins of |accuracy - confidence| weighted by the bin's share of the images.</summary>
        public double ExpectedCalibrationError { get; }

        /// <summary>Largest |accuracy - confidence| of a non-empty bin.</summary>
        public double MaximumCalibrationError { get; }

        /// <summary>Computes the report.</summary>
        /// <param name="predictions">Labels and probabilities.</param>
        /// <param name="bins">Number of equal-width confidence bins (2 to 100).</param>
        /// <returns>The report.</returns>
        public static CalibrationReport Compute(Predictions predictions, int bins = 10)
        {
            Guard.NotNull(predictions);
            Guard.InRange(bins, 2, 100);
            var count = new int[bins];
            var confidence = new double[bins];
            var correct = new int[bins];
            var predicted = predictions.PredictedLabels;
            for (int i = 0; i < predictions.Count; i++)
            {
                double p = predictions.Probability(i, predicted[i]);
                int b = Math.Clamp((int)Math.Ceiling(p * bins) - 1, 0, bins - 1);
                count[b]++;
                confidence[b] += p;
                if (predicted[i] == predictions.Labels[i])
                {
                    correct[b]++;
                }
            }

            var result = new ReliabilityBin[bins];
            double ece = 0, mce = 0;
            for (int b = 0; b < bins; b++)
            {
                double meanConfidence = count[b] == 0 ? double.NaN : confidence[b] / count[b];
                double accuracy = count[b] == 0 ? double.NaN : (double)correct[b] / count[b];
                result[b] = new ReliabilityBin((double)b / bins, (double)(b + 1) / bins, count[b], meanConfidence, accuracy);
                if (count[b] > 0)
                {
                    double gap = Math.Abs(accuracy - meanConfidence);
                    ece += gap * count[b] / predictions.Count;
                    mce = Math.Max(mce, gap);
                }
            }

            return new CalibrationReport(result, ece, mce);
        }

        /// <inheritdoc />
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "ECE {0:0.0000}, MCE {1:0.0000} over {2} bins", ExpectedCalibrationError, MaximumCalibrationError, Bins.Count);
    }
}
