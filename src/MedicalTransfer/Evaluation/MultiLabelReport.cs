using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>One finding's metrics on its observed labels (uncertain under U-Ignore and missing labels left out).</summary>
    /// <param name="Finding">The finding.</param>
    /// <param name="Positives">Observed positive labels.</param>
    /// <param name="Negatives">Observed negative labels.</param>
    /// <param name="Prevalence">Positives / (positives + negatives).</param>
    /// <param name="Auroc">scikit-learn's <c>roc_auc_score</c> on the finding's observed labels; NaN without both classes.</param>
    /// <param name="AveragePrecision">scikit-learn's <c>average_precision_score</c>; NaN without positives.</param>
    /// <param name="Threshold">The decision threshold applied (0.5 unless thresholds were given).</param>
    /// <param name="Sensitivity">True positives / positives at the threshold.</param>
    /// <param name="Specificity">True negatives / negatives.</param>
    /// <param name="PositivePredictiveValue">True positives / predicted positives (NaN when none are predicted).</param>
    /// <param name="NegativePredictiveValue">True negatives / predicted negatives.</param>
    public sealed record FindingMetrics(
        string Finding,
        int Positives,
        int Negatives,
        double Prevalence,
        double Auroc,
        double AveragePrecision,
        double Threshold,
        double Sensitivity,
        double Specificity,
        double PositivePredictiveValue,
        double NegativePredictiveValue);

    /// <summary>
    /// Per-finding and averaged metrics of a multi-label model, with scikit-learn's definitions. Averages over findings:
    /// macro (the mean of the findings whose metric is defined), weighted (by observed positives, scikit-learn's
    /// <c>average='weighted'</c>) and micro (every observed label of every finding pooled). Without masked labels they equal
    /// <c>roc_auc_score</c>/<c>average_precision_score</c> on the label matrix with <c>average=None/'macro'/'weighted'/'micro'</c>.
    /// Subset accuracy, Hamming loss and label-ranking average precision are defined on whole rows, so they use the images
    /// whose every label is observed.
    /// </summary>
    public sealed class MultiLabelReport
    {
        private MultiLabelReport()
        {
        }

        /// <summary>One row per finding, in the model's order.</summary>
        public IReadOnlyList<FindingMetrics> PerFinding { get; private init; } = Array.Empty<FindingMetrics>();

        /// <summary>Mean AUROC over the findings where it is defined.</summary>
        public double MacroAuroc { get; private init; }

        /// <summary>AUROC of all observed labels pooled.</summary>
        public double MicroAuroc { get; private init; }

        /// <summary>AUROC averaged with each finding weighted by its observed positives.</summary>
        public double WeightedAuroc { get; private init; }

        /// <summary>Mean average precision over the findings where it is defined.</summary>
        public double MacroAveragePrecision { get; private init; }

        /// <summary>Average precision of all observed labels pooled.</summary>
        public double MicroAveragePrecision { get; private init; }

        /// <summary>Average precision weighted by observed positives.</summary>
        public double WeightedAveragePrecision { get; private init; }

        /// <summary>Images whose every label is observed (the rows of the three row-wise metrics).</summary>
        public int FullyObservedImages { get; private init; }

        /// <summary>Share of fully observed images whose every finding is called right (scikit-learn's <c>accuracy_score</c> on label matrices).</summary>
        public double SubsetAccuracy { get; private init; }

        /// <summary>Share of wrong calls over the fully observed images' labels (scikit-learn's <c>hamming_loss</c>).</summary>
        public double HammingLoss { get; private init; }

        /// <summary>scikit-learn's <c>label_ranking_average_precision_score</c> over the fully observed images.</summary>
        public double LabelRankingAveragePrecision { get; private init; }

        /// <summary>Computes the report.</summary>
        /// <param name="predictions">Test (or validation) predictions.</param>
        /// <param name="thresholds">Per-finding thresholds chosen on VALIDATION (<see cref="FindingThresholds.Choose"/>); <see langword="null"/> for 0.5 each.</param>
        /// <returns>The report.</returns>
        /// <exception cref="ArgumentException">The thresholds are for other findings.</exception>
        public static MultiLabelReport Compute(MultiLabelPredictions predictions, FindingThresholds? thresholds = null)
        {
            Guard.NotNull(predictions);
            int f = predictions.Findings.Count;
            var cut = FindingThresholds.ValuesFor(predictions, thresholds, nameof(thresholds));
            var rows = new FindingMetrics[f];
            for (int j = 0; j < f; j++)
            {
                var (isPositive, scores) = predictions.Column(j);
                int positives = isPositive.Count(p => p), negatives = isPositive.Length - positives;
                double tp = 0, tn = 0, fp = 0, fn = 0;
                for (int i = 0; i < isPositive.Length; i++)
                {
                    bool call = scores[i] >= cut[j];
                    if (call && isPositive[i]) tp++;
                    else if (call) fp++;
                    else if (isPositive[i]) fn++;
                    else tn++;
                }

                rows[j] = new FindingMetrics(
                    predictions.Findings[j],
                    positives,
                    negatives,
                    isPositive.Length == 0 ? double.NaN : positives / (double)isPositive.Length,
                    MultiLabelMetrics.Auroc(isPositive, scores),
                    MultiLabelMetrics.AveragePrecision(isPositive, scores),
                    cut[j],
                    Ratio(tp, tp + fn),
                    Ratio(tn, tn + fp),
                    Ratio(tp, tp + fp),
                    Ratio(tn, tn + fn));
            }

            var (allPositive, allScores) = predictions.Flattened();
            var full = predictions.FullyObservedImages().ToArray();
            return new MultiLabelReport
            {
                PerFinding = rows,
                MacroAuroc = Mean(rows.Select(r => r.Auroc)),
                WeightedAuroc = Weighted(rows, r => r.Auroc),
                MicroAuroc = MultiLabelMetrics.Auroc(allPositive, allScores),
                MacroAveragePrecision = Mean(rows.Select(r => r.AveragePrecision)),
                WeightedAveragePrecision = Weighted(rows, r => r.AveragePrecision),
                MicroAveragePrecision = MultiLabelMetrics.AveragePrecision(allPositive, allScores),
                FullyObservedImages = full.Length,
                SubsetAccuracy = full.Length == 0 ? double.NaN : full.Count(i => Enumerable.Range(0, f).All(j => (predictions.Probability(i, j) >= cut[j]) == predictions.IsPositive(i, j))) / (double)full.Length,
                HammingLoss = full.Length == 0 ? double.NaN : full.Sum(i => Enumerable.Range(0, f).Count(j => (predictions.Probability(i, j) >= cut[j]) != predictions.IsPositive(i, j))) / ((double)full.Length * f),
                LabelRankingAveragePrecision = full.Length == 0 ? double.NaN : full.Average(i => MultiLabelMetrics.RankingPrecision(predictions, i)),
            };
        }

        /// <summary>The CheXNet paper's table: finding, observed positives, AUROC, then AP and the threshold's sensitivity and specificity.</summary>
        /// <returns>A plain-text table.</returns>
        public string ToTable()
        {
            var text = new StringBuilder();
            int width = Math.Max(10, PerFinding.Max(r => r.Finding.Length) + 2);
            text.Append("Finding".PadRight(width)).Append("  n pos  n neg   AUROC     AP  thresh   sens   spec\n");
            foreach (var r in PerFinding)
            {
                text.Append(r.Finding.PadRight(width)).AppendFormat(CultureInfo.InvariantCulture, "{0,6} {1,6} {2,7:0.0000} {3,6:0.000} {4,7:0.000} {5,6:0.000} {6,6:0.000}\n", r.Positives, r.Negatives, r.Auroc, r.AveragePrecision, r.Threshold, r.Sensitivity, r.Specificity);
            }

            text.AppendFormat(CultureInfo.InvariantCulture, "{0}{1,21:0.0000} {2,6:0.000}  (macro; micro AUROC {3:0.0000}, weighted {4:0.0000})\n", "Mean".PadRight(width), MacroAuroc, MacroAveragePrecision, MicroAuroc, WeightedAuroc);
            return text.ToString();
        }

        /// <inheritdoc />
        public override string ToString() => ToTable();

        private static double Ratio(double a, double b) => b == 0 ? double.NaN : a / b;

        private static double Mean(IEnumerable<double> values)
        {
            var defined = values.Where(v => !double.IsNaN(v)).ToArray();
            return defined.Length == 0 ? double.NaN : defined.Average();
        }

        private static double Weighted(IReadOnlyList<FindingMetrics> rows, Func<FindingMetrics, double> metric)
        {
            double sum = 0, weights = 0;
            foreach (var r in rows.Where(r => !double.IsNaN(metric(r))))
            {
                sum += metric(r) * r.Positives;
                weights += r.Positives;
            }

            return weights == 0 ? double.NaN : sum / weights;
        }
    }

    /// <summary>The multi-label metrics shared by the report and the trainer's validation.</summary>
    internal static class MultiLabelMetrics
    {
        public static double Auroc(bool[] isPositive, double[] scores) =>
            isPositive.Length == 0 || isPositive.All(p => p) || !isPositive.Any(p => p) ? double.NaN : Ranking.Auc(isPositive, scores);

        public static double AveragePrecision(bool[] isPositive, double[] scores) =>
            !isPositive.Any(p => p) ? double.NaN : PrecisionRecallCurve.Compute(isPositive, scores).AveragePrecision;

        /// <summary>Mean AUROC over the findings with both classes among their observed labels, or <see langword="null"/> when none has.</summary>
        public static double? MeanAuroc(double[] probabilities, float[] targets, float[] mask, int findings)
        {
            int n = probabilities.Length / findings;
            var aucs = new List<double>();
            for (int j = 0; j < findings; j++)
            {
                var labels = new List<bool>(n);
                var scores = new List<double>(n);
                for (int i = 0; i < n; i++)
                {
                    if (mask[(i * findings) + j] > 0)
                    {
                        labels.Add(targets[(i * findings) + j] > 0.5f);
                        scores.Add(probabilities[(i * findings) + j]);
                    }
                }

                double auc = Auroc(labels.ToArray(), scores.ToArray());
                if (!double.IsNaN(auc))
                {
                    aucs.Add(auc);
                }
            }

            return aucs.Count == 0 ? null : aucs.Average();
        }

        /// <summary>One row's label-ranking average precision (1 when it has no positive or no negative label, as scikit-learn).</summary>
        public static double RankingPrecision(MultiLabelPredictions p, int image)
        {
            int f = p.Findings.Count;
            var relevant = Enumerable.Range(0, f).Where(j => p.IsPositive(image, j)).ToArray();
            if (relevant.Length == 0 || relevant.Length == f)
            {
                return 1;
            }

            double sum = 0;
            foreach (int j in relevant)
            {
                double score = p.Probability(image, j);
                int rank = Enumerable.Range(0, f).Count(k => p.Probability(image, k) >= score);
                int relevantRank = relevant.Count(k => p.Probability(image, k) >= score);
                sum += relevantRank / (double)rank;
            }

            return sum / relevant.Length;
        }
    }
}
