using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>How the probability range is cut into the bins of a calibration curve.</summary>
    public enum CalibrationBinning
    {
        /// <summary>Equal-width bins over [0, 1] (scikit-learn's <c>strategy="uniform"</c>).</summary>
        EqualWidth,

        /// <summary>Equal-mass bins at the quantiles of the predicted probabilities (scikit-learn's <c>strategy="quantile"</c>).</summary>
        EqualMass,
    }

    /// <summary>One bin of a calibration curve of the positive class.</summary>
    /// <param name="Lower">Lower edge (exclusive, except for the first bin).</param>
    /// <param name="Upper">Upper edge (inclusive).</param>
    /// <param name="Count">Images whose positive probability falls in the bin.</param>
    /// <param name="MeanPredicted">Their mean predicted probability (NaN when empty).</param>
    /// <param name="ObservedRate">The fraction of them that are positive (NaN when empty).</param>
    public sealed record CalibrationBin(double Lower, double Upper, int Count, double MeanPredicted, double ObservedRate);

    /// <summary>
    /// A calibration curve of the positive class (scikit-learn's <c>calibration_curve</c>: images are
    /// binned by predicted probability; a value on an edge goes to the lower bin) with its expected and
    /// maximum calibration errors.
    /// </summary>
    public sealed class CalibrationCurve
    {
        internal CalibrationCurve(CalibrationBinning binning, IReadOnlyList<CalibrationBin> bins, int total)
        {
            Binning = binning;
            Bins = bins;
            var filled = bins.Where(b => b.Count > 0).ToArray();
            ExpectedCalibrationError = filled.Sum(b => b.Count * Math.Abs(b.ObservedRate - b.MeanPredicted)) / total;
            MaximumCalibrationError = filled.Length == 0 ? double.NaN : filled.Max(b => Math.Abs(b.ObservedRate - b.MeanPredicted));
        }

        /// <summary>How the bins were cut.</summary>
        public CalibrationBinning Binning { get; }

        /// <summary>Every bin, empty ones included (equal-mass bins can be empty when probabilities tie).</summary>
        public IReadOnlyList<CalibrationBin> Bins { get; }

        /// <summary>ECE: the count-weighted mean of |observed rate - mean predicted| over the bins.</summary>
        public double ExpectedCalibrationError { get; }

        /// <summary>MCE: the largest |observed rate - mean predicted| of a non-empty bin.</summary>
        public double MaximumCalibrationError { get; }
    }

    /// <summary>
    /// How well the positive class's probabilities match what happened: Brier score (scikit-learn's
    /// <c>brier_score_loss</c>), log-loss (scikit-learn's <c>log_loss</c> over all classes), calibration
    /// curves with ECE and MCE over equal-width and equal-mass bins, and the logistic recalibration
    /// (Cox 1958): calibration slope and intercept from logit(P(y = 1)) = a + b logit(p), and
    /// calibration-in-the-large from logit(P(y = 1)) = a + logit(p). A calibrated model has slope 1 and
    /// intercepts 0; a slope below 1 means over-confident, extreme probabilities.
    /// </summary>
    public sealed class CalibrationMetrics
    {
        private const double LogitClip = 1e-15;

        private CalibrationMetrics() { }

        /// <summary>The positive class.</summary>
        public string PositiveClass { get; private init; } = string.Empty;

        /// <summary>Images.</summary>
        public int Count { get; private init; }

        /// <summary>Mean squared difference between the positive probability and the outcome (0 or 1).</summary>
        public double Brier { get; private init; }

        /// <summary>Mean negative log-likelihood of the true class (probabilities clipped to [eps, 1 - eps] and renormalised, eps = 2.2e-16, as scikit-learn).</summary>
        public double LogLoss { get; private init; }

        /// <summary>Mean predicted probability of the positive class.</summary>
        public double MeanPredicted { get; private init; }

        /// <summary>Fraction of images that are positive (the prevalence).</summary>
        public double ObservedRate { get; private init; }

        /// <summary>Calibration slope b of logit(P(y = 1)) = a + b logit(p); NaN when the fit does not converge (perfect separation).</summary>
        public double Slope { get; private init; }

        /// <summary>The intercept a of the slope's model.</summary>
        public double SlopeIntercept { get; private init; }

        /// <summary>Calibration-in-the-large: the intercept a of logit(P(y = 1)) = a + logit(p) (slope fixed at 1); positive when the model under-predicts.</summary>
        public double InterceptInTheLarge { get; private init; }

        /// <summary>The equal-width calibration curve.</summary>
        public CalibrationCurve EqualWidth { get; private init; } = null!;

        /// <summary>The equal-mass calibration curve.</summary>
        public CalibrationCurve EqualMass { get; private init; } = null!;

        /// <summary>ECE over equal-width bins.</summary>
        public double ExpectedCalibrationError => EqualWidth.ExpectedCalibrationError;

        /// <summary>ECE over equal-mass bins.</summary>
        public double ExpectedCalibrationErrorEqualMass => EqualMass.ExpectedCalibrationError;

        /// <summary>MCE over equal-width bins.</summary>
        public double MaximumCalibrationError => EqualWidth.MaximumCalibrationError;

        /// <summary>Computes the metrics.</summary>
        /// <param name="predictions">Labels and probabilities.</param>
        /// <param name="positiveClass">The positive class.</param>
        /// <param name="bins">Bins of each calibration curve (2 to 100).</param>
        /// <returns>The metrics.</returns>
        /// <exception cref="ArgumentException">There are no predictions, or the class is unknown.</exception>
        public static CalibrationMetrics Compute(Predictions predictions, string positiveClass, int bins = 10)
        {
            Guard.NotNull(predictions);
            Guard.InRange(bins, 2, 100);
            int positive = predictions.ClassIndex(Guard.NotNull(positiveClass));
            if (predictions.Count == 0)
            {
                throw new ArgumentException("Calibration metrics need at least one prediction; found none.", nameof(predictions));
            }

            var p = predictions.Scores(positive);
            var y = predictions.RawLabels.Select(l => l == positive ? 1.0 : 0.0).ToArray();
            int n = p.Length;
            double brier = 0;
            for (int i = 0; i < n; i++)
            {
                brier += (y[i] - p[i]) * (y[i] - p[i]);
            }

            var x = p.Select(v => Logit(Math.Clamp(v, LogitClip, 1 - LogitClip))).ToArray();
            var (a, b) = LogisticFit(x, y);
            return new CalibrationMetrics
            {
                PositiveClass = positiveClass,
                Count = n,
                Brier = brier / n,
                LogLoss = LogLossOf(predictions),
                MeanPredicted = p.Average(),
                ObservedRate = y.Average(),
                Slope = b,
                SlopeIntercept = a,
                InterceptInTheLarge = OffsetIntercept(x, y),
                EqualWidth = Curve(p, y, bins, CalibrationBinning.EqualWidth),
                EqualMass = Curve(p, y, bins, CalibrationBinning.EqualMass),
            };
        }

        /// <summary>scikit-learn's <c>calibration_curve</c> bins of the positive class, with counts.</summary>
        /// <param name="isPositive">Whether each image is positive.</param>
        /// <param name="probabilities">Each image's positive probability.</param>
        /// <param name="bins">Number of bins (2 to 100).</param>
        /// <param name="binning">Equal width or equal mass.</param>
        /// <returns>The curve.</returns>
        public static CalibrationCurve Curve(IReadOnlyList<bool> isPositive, IReadOnlyList<double> probabilities, int bins = 10, CalibrationBinning binning = CalibrationBinning.EqualWidth)
        {
            Guard.NotNull(isPositive);
            Guard.NotNull(probabilities);
            Guard.InRange(bins, 2, 100);
            if (isPositive.Count != probabilities.Count || probabilities.Count == 0)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected one probability per label and at least one image; found {0} labels and {1} probabilities.", isPositive.Count, probabilities.Count), nameof(probabilities));
            }

            if (probabilities.Any(v => !(v >= 0 && v <= 1)))
            {
                throw new ArgumentException("Probabilities must be in [0, 1].", nameof(probabilities));
            }

            return Curve(probabilities.ToArray(), isPositive.Select(v => v ? 1.0 : 0.0).ToArray(), bins, binning);
        }

        /// <summary>A few lines: Brier, log-loss, ECE, MCE, slope and intercepts.</summary>
        /// <returns>The text.</returns>
        public override string ToString()
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(c, "calibration of {0} (n {1}): Brier {2:0.0000}, log-loss {3:0.0000}", PositiveClass, Count, Brier, LogLoss));
            sb.AppendLine(string.Format(c, "ECE {0:0.0000} (equal width), {1:0.0000} (equal mass), MCE {2:0.0000} over {3} bins", ExpectedCalibrationError, ExpectedCalibrationErrorEqualMass, MaximumCalibrationError, EqualWidth.Bins.Count));
            sb.AppendLine(string.Format(c, "slope {0:0.000} (intercept {1:0.000}), calibration-in-the-large {2:+0.000;-0.000;0.000}; mean predicted {3:0.000} vs observed {4:0.000}", Slope, SlopeIntercept, InterceptInTheLarge, MeanPredicted, ObservedRate));
            return sb.ToString();
        }

        internal static double Logit(double p) => Math.Log(p / (1 - p));

        private static double Sigmoid(double t) => t >= 0 ? 1 / (1 + Math.Exp(-t)) : Math.Exp(t) / (1 + Math.Exp(t));

        /// <summary>scikit-learn's log_loss: clip to [eps, 1 - eps], renormalise each row, mean of -log p(true class).</summary>
        internal static double LogLossOf(Predictions predictions)
        {
            const double Eps = 2.220446049250313e-16;
            int k = predictions.ClassNames.Count;
            var raw = predictions.RawProbabilities;
            double total = 0;
            for (int i = 0; i < predictions.Count; i++)
            {
                double sum = 0;
                for (int c = 0; c < k; c++)
                {
                    sum += Math.Clamp(raw[(i * k) + c], Eps, 1 - Eps);
                }

                total -= Math.Log(Math.Clamp(raw[(i * k) + predictions.RawLabels[i]], Eps, 1 - Eps) / sum);
            }

            return total / predictions.Count;
        }

        private static CalibrationCurve Curve(double[] p, double[] y, int bins, CalibrationBinning binning)
        {
            // Edges as numpy computes them: linspace(0, 1, bins + 1) is i * (1 / bins); percentile(p, 100 q) for equal mass.
            var edges = new double[bins + 1];
            double step = 1.0 / bins;
            double[]? sorted = null;
            for (int i = 0; i <= bins; i++)
            {
                double q = i == bins ? 1.0 : i * step;
                if (binning == CalibrationBinning.EqualWidth)
                {
                    edges[i] = q;
                }
                else
                {
                    sorted ??= p.OrderBy(v => v).ToArray();
                    edges[i] = NumpyPercentile(sorted, q * 100 / 100);
                }
            }

            var count = new int[bins];
            var sumPredicted = new double[bins];
            var sumObserved = new double[bins];
            for (int i = 0; i < p.Length; i++)
            {
                // numpy.searchsorted(edges[1:-1], p, side="left"): the number of inner edges strictly below p.
                int b = 0;
                while (b < bins - 1 && edges[b + 1] < p[i])
                {
                    b++;
                }

                count[b]++;
                sumPredicted[b] += p[i];
                sumObserved[b] += y[i];
            }

            var result = new CalibrationBin[bins];
            for (int b = 0; b < bins; b++)
            {
                result[b] = new CalibrationBin(edges[b], edges[b + 1], count[b], count[b] == 0 ? double.NaN : sumPredicted[b] / count[b], count[b] == 0 ? double.NaN : sumObserved[b] / count[b]);
            }

            return new CalibrationCurve(binning, result, p.Length);
        }

        /// <summary>numpy's default (linear) percentile of sorted values at q in [0, 1], with numpy's two-sided interpolation.</summary>
        private static double NumpyPercentile(double[] sorted, double q)
        {
            double position = q * (sorted.Length - 1);
            int lower = (int)Math.Floor(position);
            int upper = Math.Min(lower + 1, sorted.Length - 1);
            double t = position - lower;
            double a = sorted[lower], b = sorted[upper];
            double difference = b - a;
            return t >= 0.5 ? b - (difference * (1 - t)) : a + (difference * t);
        }

        /// <summary>Maximum-likelihood logistic regression of y on (1, x) by Newton's method with step halving; (NaN, NaN) when it does not converge (separable data).</summary>
        internal static (double Intercept, double Slope) LogisticFit(double[] x, double[] y)
        {
            double a = 0, b = 1;
            double current = LogLikelihood(x, y, a, b);
            for (int iteration = 0; iteration < 200; iteration++)
            {
                double g0 = 0, g1 = 0, h00 = 0, h01 = 0, h11 = 0;
                for (int i = 0; i < x.Length; i++)
                {
                    double mu = Sigmoid(a + (b * x[i]));
                    double w = mu * (1 - mu);
                    g0 += y[i] - mu;
                    g1 += (y[i] - mu) * x[i];
                    h00 += w;
                    h01 += w * x[i];
                    h11 += w * x[i] * x[i];
                }

                double det = (h00 * h11) - (h01 * h01);
                if (!(Math.Abs(det) > 1e-300))
                {
                    return (double.NaN, double.NaN);
                }

                double da = ((h11 * g0) - (h01 * g1)) / det;
                double db = ((h00 * g1) - (h01 * g0)) / det;

                // Halve the step until the likelihood does not fall: Newton alone overshoots from (0, 1) on very confident models.
                double scale = 1, next = double.NegativeInfinity;
                for (int halving = 0; halving < 60; halving++)
                {
                    next = LogLikelihood(x, y, a + (scale * da), b + (scale * db));
                    if (next >= current - (1e-12 * Math.Abs(current)))
                    {
                        break;
                    }

                    scale /= 2;
                }

                a += scale * da;
                b += scale * db;
                current = next;
                if (!double.IsFinite(a) || !double.IsFinite(b) || Math.Abs(b) > 1e6)
                {
                    return (double.NaN, double.NaN);
                }

                if (Math.Abs(scale * da) < 1e-13 * Math.Max(1, Math.Abs(a)) && Math.Abs(scale * db) < 1e-13 * Math.Max(1, Math.Abs(b)))
                {
                    return (a, b);
                }
            }

            return (double.NaN, double.NaN);
        }

        private static double LogLikelihood(double[] x, double[] y, double a, double b)
        {
            double sum = 0;
            for (int i = 0; i < x.Length; i++)
            {
                double t = a + (b * x[i]);
                // log sigmoid(t) = -log(1 + e^-t), computed without overflow.
                double logP = t >= 0 ? -Math.Log(1 + Math.Exp(-t)) : t - Math.Log(1 + Math.Exp(t));
                double logQ = logP - t;
                sum += (y[i] * logP) + ((1 - y[i]) * logQ);
            }

            return sum;
        }

        /// <summary>The a that solves sum(y - sigmoid(a + x)) = 0 (monotone in a): Newton inside a shrinking bracket.</summary>
        internal static double OffsetIntercept(double[] x, double[] y)
        {
            double observed = y.Sum();
            if (observed == 0 || observed == y.Length)
            {
                return observed == 0 ? double.NegativeInfinity : double.PositiveInfinity;
            }

            double lo = -100, hi = 100, a = 0;
            for (int iteration = 0; iteration < 300; iteration++)
            {
                double g = observed, h = 0;
                for (int i = 0; i < x.Length; i++)
                {
                    double mu = Sigmoid(a + x[i]);
                    g -= mu;
                    h += mu * (1 - mu);
                }

                if (g > 0)
                {
                    lo = a;
                }
                else
                {
                    hi = a;
                }

                double next = h > 0 ? a + (g / h) : double.NaN;
                if (!(next > lo && next < hi))
                {
                    next = (lo + hi) / 2;
                }

                if (Math.Abs(next - a) <= 1e-14 * Math.Max(1, Math.Abs(a)))
                {
                    return next;
                }

                a = next;
            }

            return a;
        }
    }
}
