using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// An AUC with its DeLong standard error and a normal-theory confidence interval (DeLong, DeLong and
    /// Clarke-Pearson 1988), computed with the fast algorithm of Sun and Xu (2014).
    /// </summary>
    /// <param name="Auc">The ROC AUC (ties count one half, as the Mann-Whitney statistic).</param>
    /// <param name="StandardError">The square root of DeLong's variance estimate.</param>
    /// <param name="Lower">Lower bound of the interval, clipped to [0, 1].</param>
    /// <param name="Upper">Upper bound, clipped to [0, 1].</param>
    /// <param name="Level">Confidence level, for example 0.95.</param>
    public sealed record DeLongInterval(double Auc, double StandardError, double Lower, double Upper, double Level)
    {
        /// <summary>For example <c>0.912 (95% CI 0.871-0.953, DeLong)</c>.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0:0.000} ({1:0.#}% CI {2:0.000}-{3:0.000}, DeLong)", Auc, Level * 100, Lower, Upper);
    }

    /// <summary>
    /// DeLong's test of two correlated ROC AUCs measured on the same images: the difference, its
    /// standard error (which accounts for the correlation of the two models' errors), z, the two-sided
    /// p-value and a confidence interval of the difference.
    /// </summary>
    public sealed record DeLongTest
    {
        /// <summary>Name of the first model.</summary>
        public string ModelA { get; init; } = "A";

        /// <summary>Name of the second model.</summary>
        public string ModelB { get; init; } = "B";

        /// <summary>AUC of the first model.</summary>
        public double AucA { get; init; }

        /// <summary>AUC of the second model.</summary>
        public double AucB { get; init; }

        /// <summary><see cref="AucA"/> - <see cref="AucB"/>.</summary>
        public double Difference { get; init; }

        /// <summary>Standard error of the difference (DeLong's covariance estimate).</summary>
        public double StandardError { get; init; }

        /// <summary>Difference / standard error; NaN when the standard error is 0 (identical rankings).</summary>
        public double Z { get; init; }

        /// <summary>Two-sided p-value of H0: equal AUCs (1 when the two rankings are identical).</summary>
        public double PValue { get; init; }

        /// <summary>
        /// The p-value after the multiple-comparison correction of a pairwise comparison
        /// (<see cref="ModelComparison.PairwiseDeLong"/>); equal to <see cref="PValue"/> for a single test.
        /// </summary>
        public double AdjustedPValue { get; init; }

        /// <summary>Lower bound of the difference's confidence interval (difference - z * SE).</summary>
        public double DifferenceLower { get; init; }

        /// <summary>Upper bound of the difference's confidence interval.</summary>
        public double DifferenceUpper { get; init; }

        /// <summary>Confidence level of the interval.</summary>
        public double Level { get; init; }

        /// <summary>Positive images the AUCs were computed on.</summary>
        public int Positives { get; init; }

        /// <summary>Negative images the AUCs were computed on.</summary>
        public int Negatives { get; init; }

        /// <summary>One line: the AUCs, the difference with its interval, z and p.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => string.Format(
            CultureInfo.InvariantCulture,
            "{0} AUC {1:0.000} vs {2} AUC {3:0.000}: difference {4:+0.000;-0.000;0.000} ({5:0.#}% CI {6:+0.000;-0.000;0.000} to {7:+0.000;-0.000;0.000}), z {8:0.00}, p {9}{10}",
            ModelA, AucA, ModelB, AucB, Difference, Level * 100, DifferenceLower, DifferenceUpper, Z, FormatP(PValue),
            AdjustedPValue != PValue ? ", adjusted p " + FormatP(AdjustedPValue) : string.Empty);

        internal static string FormatP(double p) => double.IsNaN(p) ? "n/a" : p < 0.0001 ? "<0.0001" : p.ToString("0.0000", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// DeLong's structural components computed with Sun and Xu's (2014) midrank algorithm, O((m + n) log(m + n))
    /// per model instead of the O(m n) of the original kernel.
    /// </summary>
    internal static class DeLong
    {
        /// <summary>AUCs and their covariance matrix S = S10 / m + S01 / n for several models scored on the same images.</summary>
        public static (double[] Aucs, double[,] Covariance, int Positives, int Negatives) Compute(IReadOnlyList<bool> isPositive, IReadOnlyList<IReadOnlyList<double>> scores)
        {
            Guard.NotNull(isPositive);
            Guard.NotNull(scores);
            int count = isPositive.Count;
            for (int r = 0; r < scores.Count; r++)
            {
                if (scores[r] is null || scores[r].Count != count)
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected {0} scores for model {1} (one per label); found {2}.", count, r, scores[r]?.Count ?? 0), nameof(scores));
                }

                for (int i = 0; i < count; i++)
                {
                    if (!double.IsFinite(scores[r][i]))
                    {
                        throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Score {0} of model {1} is {2}; expected a finite number.", i, r, scores[r][i]), nameof(scores));
                    }
                }
            }

            var positives = Enumerable.Range(0, count).Where(i => isPositive[i]).ToArray();
            var negatives = Enumerable.Range(0, count).Where(i => !isPositive[i]).ToArray();
            int m = positives.Length, n = negatives.Length;
            if (m < 2 || n < 2)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "DeLong's variance needs at least 2 positive and 2 negative images; found {0} positive and {1} negative.", m, n),
                    nameof(isPositive));
            }

            int k = scores.Count;
            var aucs = new double[k];
            var v10 = new double[k][];
            var v01 = new double[k][];
            for (int r = 0; r < k; r++)
            {
                var x = positives.Select(i => scores[r][i]).ToArray();
                var y = negatives.Select(i => scores[r][i]).ToArray();
                var tx = MidRanks(x);
                var ty = MidRanks(y);
                var tz = MidRanks(x.Concat(y).ToArray());
                double sum = 0;
                v10[r] = new double[m];
                v01[r] = new double[n];
                for (int i = 0; i < m; i++)
                {
                    sum += tz[i];
                    v10[r][i] = (tz[i] - tx[i]) / n;
                }

                for (int j = 0; j < n; j++)
                {
                    v01[r][j] = 1 - ((tz[m + j] - ty[j]) / m);
                }

                aucs[r] = (sum - (m * (m + 1.0) / 2)) / ((double)m * n);
            }

            var covariance = new double[k, k];
            for (int a = 0; a < k; a++)
            {
                for (int b = a; b < k; b++)
                {
                    double s = (Covariance(v10[a], v10[b], aucs[a], aucs[b]) / m) + (Covariance(v01[a], v01[b], aucs[a], aucs[b]) / n);
                    covariance[a, b] = covariance[b, a] = s;
                }
            }

            return (aucs, covariance, m, n);
        }

        /// <summary>1-based ranks, ties sharing the mean of their ranks.</summary>
        internal static double[] MidRanks(double[] values)
        {
            var order = Enumerable.Range(0, values.Length).OrderBy(i => values[i]).ToArray();
            var ranks = new double[values.Length];
            int start = 0;
            while (start < order.Length)
            {
                int end = start;
                while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]])
                {
                    end++;
                }

                double rank = ((start + end) / 2.0) + 1;
                for (int i = start; i <= end; i++)
                {
                    ranks[order[i]] = rank;
                }

                start = end + 1;
            }

            return ranks;
        }

        /// <summary>Sample covariance (n - 1 denominator) of two component vectors around the AUCs (their means).</summary>
        private static double Covariance(double[] a, double[] b, double meanA, double meanB)
        {
            double sum = 0;
            for (int i = 0; i < a.Length; i++)
            {
                sum += (a[i] - meanA) * (b[i] - meanB);
            }

            return sum / (a.Length - 1);
        }
    }
}
