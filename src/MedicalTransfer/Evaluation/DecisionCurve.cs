using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>One threshold probability of a decision curve.</summary>
    /// <param name="Threshold">The threshold probability p_t: treat when the predicted probability is at least p_t.</param>
    /// <param name="Model">Net benefit of treating as the model says: TP/n - FP/n * p_t / (1 - p_t).</param>
    /// <param name="TreatAll">Net benefit of treating everyone: prevalence - (1 - prevalence) * p_t / (1 - p_t).</param>
    /// <param name="TreatNone">Net benefit of treating no one: 0.</param>
    /// <param name="TruePositives">Positive images at or above the threshold.</param>
    /// <param name="FalsePositives">Negative images at or above the threshold.</param>
    public sealed record DecisionCurvePoint(double Threshold, double Model, double TreatAll, double TreatNone, int TruePositives, int FalsePositives);

    /// <summary>
    /// Decision-curve analysis (Vickers and Elkin, Medical Decision Making 2006): the net benefit of
    /// acting on the model's predictions over a range of threshold probabilities, against treating every
    /// patient and treating none. A threshold p_t says how a clinician weighs harms: at p_t = 0.2 one
    /// true positive is worth four false positives. The model is useful where its curve lies above both
    /// references.
    /// </summary>
    public sealed class DecisionCurve
    {
        private DecisionCurve(string positiveClass, int count, double prevalence, IReadOnlyList<DecisionCurvePoint> points)
        {
            PositiveClass = positiveClass;
            Count = count;
            Prevalence = prevalence;
            Points = points;
        }

        /// <summary>The class whose probability is thresholded.</summary>
        public string PositiveClass { get; }

        /// <summary>Images.</summary>
        public int Count { get; }

        /// <summary>Fraction of images that are positive.</summary>
        public double Prevalence { get; }

        /// <summary>The curve, by increasing threshold.</summary>
        public IReadOnlyList<DecisionCurvePoint> Points { get; }

        /// <summary>
        /// Computes the curve at thresholds from <paramref name="from"/> to <paramref name="to"/> in steps of
        /// <paramref name="step"/> (the defaults 0.01 to 0.99 by 0.01).
        /// </summary>
        /// <param name="predictions">Labels and probabilities (calibrated ones: net benefit reads probabilities as risks).</param>
        /// <param name="positiveClass">The class to act on, for example <c>PNEUMONIA</c>.</param>
        /// <param name="from">The first threshold, above 0.</param>
        /// <param name="to">The last threshold, below 1.</param>
        /// <param name="step">The spacing.</param>
        /// <returns>The curve.</returns>
        public static DecisionCurve Compute(Predictions predictions, string positiveClass, double from = 0.01, double to = 0.99, double step = 0.01)
        {
            Guard.NotNull(predictions);
            Guard.InRange(from, 1e-6, 1 - 1e-6);
            Guard.InRange(to, from, 1 - 1e-6);
            Guard.InRange(step, 1e-6, 1);
            int steps = (int)Math.Floor(((to - from) / step) + 1e-9);
            var thresholds = Enumerable.Range(0, steps + 1).Select(i => Math.Round(from + (i * step), 10)).ToArray();
            return Compute(predictions, positiveClass, thresholds);
        }

        /// <summary>
        /// One finding's decision curve on its observed labels only (uncertain under U-Ignore and missing labels left out, as in
        /// every per-finding metric): the finding is projected to a binary problem and computed by the single-label code.
        /// <see cref="PositiveClass"/> is the finding and <see cref="Count"/> its observed labels.
        /// </summary>
        /// <param name="predictions">Multi-label predictions (calibrated ones: net benefit reads probabilities as risks).</param>
        /// <param name="finding">The finding to act on, for example <c>Effusion</c>.</param>
        /// <param name="from">The first threshold, above 0.</param>
        /// <param name="to">The last threshold, below 1.</param>
        /// <param name="step">The spacing.</param>
        /// <returns>The curve.</returns>
        /// <exception cref="ArgumentException">The finding is unknown or has no observed label.</exception>
        public static DecisionCurve Compute(MultiLabelPredictions predictions, string finding, double from = 0.01, double to = 0.99, double step = 0.01)
        {
            Guard.NotNull(predictions);
            var (binary, _) = predictions.BinaryOf(predictions.FindingIndex(finding));
            if (binary.Count == 0)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "A decision curve needs observed labels; finding '{0}' has none among the {1} images (all uncertain or missing).", finding, predictions.Count), nameof(finding));
            }

            return Compute(binary, finding, from, to, step);
        }

        /// <summary>Computes the curve at the given thresholds.</summary>
        /// <param name="predictions">Labels and probabilities.</param>
        /// <param name="positiveClass">The class to act on.</param>
        /// <param name="thresholds">Threshold probabilities in (0, 1).</param>
        /// <returns>The curve, by increasing threshold.</returns>
        public static DecisionCurve Compute(Predictions predictions, string positiveClass, IReadOnlyList<double> thresholds)
        {
            Guard.NotNull(predictions);
            Guard.NotNull(thresholds);
            int positive = predictions.ClassIndex(Guard.NotNull(positiveClass));
            int n = predictions.Count;
            if (n == 0)
            {
                throw new ArgumentException("A decision curve needs predictions; found none.", nameof(predictions));
            }

            var scores = predictions.Scores(positive);
            var isPositive = predictions.RawLabels.Select(l => l == positive).ToArray();
            double prevalence = isPositive.Count(v => v) / (double)n;
            var points = new List<DecisionCurvePoint>();
            foreach (double t in thresholds.OrderBy(t => t))
            {
                if (!(t > 0 && t < 1))
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Threshold probabilities must be in (0, 1); found {0}.", t), nameof(thresholds));
                }

                int tp = 0, fp = 0;
                for (int i = 0; i < n; i++)
                {
                    if (scores[i] >= t)
                    {
                        if (isPositive[i])
                        {
                            tp++;
                        }
                        else
                        {
                            fp++;
                        }
                    }
                }

                double odds = t / (1 - t);
                points.Add(new DecisionCurvePoint(t, (tp / (double)n) - (fp / (double)n * odds), prevalence - ((1 - prevalence) * odds), 0, tp, fp));
            }

            return new DecisionCurve(positiveClass, n, prevalence, points);
        }

        /// <summary>The curve as CSV: threshold, model, treat_all, treat_none, tp, fp.</summary>
        /// <returns>The CSV text with a header line.</returns>
        public string ToCsv()
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder("threshold,net_benefit_model,net_benefit_treat_all,net_benefit_treat_none,true_positives,false_positives\n");
            foreach (var p in Points)
            {
                sb.Append(string.Format(c, "{0:R},{1:R},{2:R},{3:R},{4},{5}\n", p.Threshold, p.Model, p.TreatAll, p.TreatNone, p.TruePositives, p.FalsePositives));
            }

            return sb.ToString();
        }

        /// <summary>The thresholds where the model's net benefit exceeds both references, as ranges.</summary>
        /// <returns>For example <c>0.05-0.62</c>, or <c>none</c>.</returns>
        public string UsefulRange()
        {
            var ranges = new List<string>();
            double? start = null;
            double last = double.NaN;
            foreach (var p in Points)
            {
                bool useful = p.Model > Math.Max(p.TreatAll, p.TreatNone);
                if (useful && start is null)
                {
                    start = p.Threshold;
                }
                else if (!useful && start is not null)
                {
                    ranges.Add(Range(start.Value, last));
                    start = null;
                }

                last = p.Threshold;
            }

            if (start is not null)
            {
                ranges.Add(Range(start.Value, last));
            }

            return ranges.Count == 0 ? "none" : string.Join(", ", ranges);

            static string Range(double from, double to) => from == to
                ? from.ToString("0.00", CultureInfo.InvariantCulture)
                : string.Format(CultureInfo.InvariantCulture, "{0:0.00}-{1:0.00}", from, to);
        }
    }
}
