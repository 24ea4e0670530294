using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// A receiver operating characteristic curve with scikit-learn's <c>roc_curve</c> semantics: an
    /// image is called positive when its score is at least the threshold; thresholds decrease; the
    /// first point is (0, 0) with threshold +infinity (as scikit-learn 1.3 and newer; 1.2 used the
    /// highest score + 1); collinear intermediate points are dropped unless asked otherwise.
    /// </summary>
    public sealed class RocCurve
    {
        private RocCurve(double[] fpr, double[] tpr, double[] thresholds)
        {
            FalsePositiveRates = fpr;
            TruePositiveRates = tpr;
            Thresholds = thresholds;
            Auc = Trapezoid(fpr, tpr);
        }

        /// <summary>False positive rate (1 - specificity) at each threshold, increasing.</summary>
        public IReadOnlyList<double> FalsePositiveRates { get; }

        /// <summary>True positive rate (sensitivity) at each threshold, increasing.</summary>
        public IReadOnlyList<double> TruePositiveRates { get; }

        /// <summary>Score thresholds, decreasing; the first is +infinity.</summary>
        public IReadOnlyList<double> Thresholds { get; }

        /// <summary>Area under the curve (trapezoidal rule), scikit-learn's <c>roc_auc_score</c>.</summary>
        public double Auc { get; }

        /// <summary>Computes the curve.</summary>
        /// <param name="isPositive">Whether each image belongs to the positive class.</param>
        /// <param name="scores">Each image's score for the positive class (higher = more likely positive).</param>
        /// <param name="dropIntermediate">Drop points on straight segments (scikit-learn's default <see langword="true"/>); the area does not change.</param>
        /// <returns>The curve.</returns>
        /// <exception cref="ArgumentException">Lengths differ, or one of the two classes is absent (the curve is undefined).</exception>
        public static RocCurve Compute(IReadOnlyList<bool> isPositive, IReadOnlyList<double> scores, bool dropIntermediate = true)
        {
            var (fps, tps, thresholds) = Ranking.BinaryCurve(isPositive, scores);
            if (tps[^1] == 0 || fps[^1] == 0)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "A ROC curve needs both classes; found {0} positive and {1} negative images.", tps[^1], fps[^1]),
                    nameof(isPositive));
            }

            var keep = Enumerable.Range(0, fps.Length).ToList();
            if (dropIntermediate && fps.Length > 2)
            {
                keep = new List<int> { 0 };
                for (int i = 1; i < fps.Length - 1; i++)
                {
                    // numpy's diff(x, 2) != 0: the point is a corner, not on a straight segment.
                    if (fps[i + 1] - (2 * fps[i]) + fps[i - 1] != 0 || tps[i + 1] - (2 * tps[i]) + tps[i - 1] != 0)
                    {
                        keep.Add(i);
                    }
                }

                keep.Add(fps.Length - 1);
            }

            int n = keep.Count + 1;
            var fpr = new double[n];
            var tpr = new double[n];
            var thr = new double[n];
            thr[0] = double.PositiveInfinity;
            for (int i = 0; i < keep.Count; i++)
            {
                fpr[i + 1] = fps[keep[i]] / fps[^1];
                tpr[i + 1] = tps[keep[i]] / tps[^1];
                thr[i + 1] = thresholds[keep[i]];
            }

            return new RocCurve(fpr, tpr, thr);
        }

        /// <summary>
        /// Youden's J: the threshold that maximises sensitivity + specificity - 1, searched on every point of the curve
        /// (none dropped); ties (within rounding) go to the higher threshold, the first one reached: fewer false positives.
        /// The one search behind <see cref="OperatingPoint.YoudenJ"/> and <see cref="FindingThresholdRule.YoudenJ"/>.
        /// </summary>
        internal static double YoudenThreshold(IReadOnlyList<bool> isPositive, IReadOnlyList<double> scores)
        {
            var curve = Compute(isPositive, scores, dropIntermediate: false);
            var (tpr, fpr) = (curve.TruePositiveRates, curve.FalsePositiveRates);
            int best = 1;
            for (int i = 1; i < curve.Thresholds.Count; i++)
            {
                if (tpr[i] - fpr[i] > tpr[best] - fpr[best] + 1e-12)
                {
                    best = i;
                }
            }

            return curve.Thresholds[best];
        }

        /// <summary>
        /// The highest threshold whose sensitivity reaches <paramref name="target"/>, searched on every point of the curve
        /// (none dropped: a dropped point can be that threshold); the lowest threshold when none does.
        /// The one search behind <see cref="OperatingPoint.TargetSensitivity"/> and <see cref="FindingThresholdRule.TargetSensitivity"/>.
        /// </summary>
        internal static double SensitivityThreshold(IReadOnlyList<bool> isPositive, IReadOnlyList<double> scores, double target)
        {
            var curve = Compute(isPositive, scores, dropIntermediate: false);
            for (int i = 1; i < curve.Thresholds.Count; i++)
            {
                // Small tolerance: 0.95 * 20 / 20 must count as reaching 0.95.
                if (curve.TruePositiveRates[i] >= target - 1e-12)
                {
                    return curve.Thresholds[i];
                }
            }

            return curve.Thresholds[^1];
        }

        internal static double Trapezoid(IReadOnlyList<double> x, IReadOnlyList<double> y)
        {
            double area = 0;
            for (int i = 1; i < x.Count; i++)
            {
                area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
            }

            return area;
        }
    }

    /// <summary>
    /// A precision-recall curve with scikit-learn's <c>precision_recall_curve</c> semantics:
    /// thresholds increase; the last point is (recall 0, precision 1) and has no threshold.
    /// </summary>
    public sealed class PrecisionRecallCurve
    {
        private PrecisionRecallCurve(double[] precision, double[] recall, double[] thresholds)
        {
            Precisions = precision;
            Recalls = recall;
            Thresholds = thresholds;
            double ap = 0;
            for (int i = 0; i < recall.Length - 1; i++)
            {
                ap -= (recall[i + 1] - recall[i]) * precision[i];
            }

            AveragePrecision = ap;
        }

        /// <summary>Precision (PPV) at each threshold, then 1.</summary>
        public IReadOnlyList<double> Precisions { get; }

        /// <summary>Recall (sensitivity) at each threshold, decreasing, then 0.</summary>
        public IReadOnlyList<double> Recalls { get; }

        /// <summary>Score thresholds, increasing; one fewer than the points.</summary>
        public IReadOnlyList<double> Thresholds { get; }

        /// <summary>Average precision (the step-wise area, no interpolation), scikit-learn's <c>average_precision_score</c>.</summary>
        public double AveragePrecision { get; }

        /// <summary>Computes the curve.</summary>
        /// <param name="isPositive">Whether each image belongs to the positive class.</param>
        /// <param name="scores">Each image's score for the positive class.</param>
        /// <returns>The curve.</returns>
        /// <exception cref="ArgumentException">Lengths differ or there are no images.</exception>
        public static PrecisionRecallCurve Compute(IReadOnlyList<bool> isPositive, IReadOnlyList<double> scores)
        {
            var (fps, tps, thresholds) = Ranking.BinaryCurve(isPositive, scores);
            int n = fps.Length;
            var precision = new double[n + 1];
            var recall = new double[n + 1];
            var thr = new double[n];
            for (int i = 0; i < n; i++)
            {
                int j = n - 1 - i;
                double predicted = tps[j] + fps[j];
                precision[i] = predicted == 0 ? 0 : tps[j] / predicted;
                recall[i] = tps[^1] == 0 ? 1 : tps[j] / tps[^1];
                thr[i] = thresholds[j];
            }

            precision[n] = 1;
            recall[n] = 0;
            return new PrecisionRecallCurve(precision, recall, thr);
        }
    }

    /// <summary>The cumulative counts behind ROC and PR curves (scikit-learn's <c>_binary_clf_curve</c>).</summary>
    internal static class Ranking
    {
        public static (double[] Fps, double[] Tps, double[] Thresholds) BinaryCurve(IReadOnlyList<bool> isPositive, IReadOnlyList<double> scores)
        {
            Guard.NotNull(isPositive);
            Guard.NotNull(scores);
            if (isPositive.Count != scores.Count)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected one score per label ({0}); found {1}.", isPositive.Count, scores.Count), nameof(scores));
            }

            if (scores.Count == 0)
            {
                throw new ArgumentException("A curve needs at least one image; found none.", nameof(scores));
            }

            for (int i = 0; i < scores.Count; i++)
            {
                if (double.IsNaN(scores[i]))
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Score {0} is NaN.", i), nameof(scores));
                }
            }

            // Order inside a block of tied scores does not matter: only block ends become points.
            var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ToArray();
            var fps = new List<double>();
            var tps = new List<double>();
            var thresholds = new List<double>();
            double tp = 0, fp = 0;
            for (int k = 0; k < order.Length; k++)
            {
                if (isPositive[order[k]])
                {
                    tp++;
                }
                else
                {
                    fp++;
                }

                if (k == order.Length - 1 || scores[order[k + 1]] != scores[order[k]])
                {
                    fps.Add(fp);
                    tps.Add(tp);
                    thresholds.Add(scores[order[k]]);
                }
            }

            return (fps.ToArray(), tps.ToArray(), thresholds.ToArray());
        }

        /// <summary>ROC AUC, or NaN when one class is absent.</summary>
        public static double Auc(IReadOnlyList<bool> isPositive, IReadOnlyList<double> scores)
        {
            var (fps, tps, _) = BinaryCurve(isPositive, scores);
            if (tps[^1] == 0 || fps[^1] == 0)
            {
                return double.NaN;
            }

            double area = 0, prevX = 0, prevY = 0;
            for (int i = 0; i < fps.Length; i++)
            {
                double x = fps[i] / fps[^1], y = tps[i] / tps[^1];
                area += (x - prevX) * (y + prevY) / 2;
                prevX = x;
                prevY = y;
            }

            return area;
        }
    }
}
