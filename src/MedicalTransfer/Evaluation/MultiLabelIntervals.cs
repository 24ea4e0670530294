using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>One finding's bootstrap intervals.</summary>
    /// <param name="Finding">The finding.</param>
    /// <param name="Positives">Observed positive labels (the CheXNet table's n).</param>
    /// <param name="Auroc">AUROC on the finding's observed labels, with its interval.</param>
    /// <param name="AveragePrecision">Average precision, with its interval.</param>
    public sealed record FindingIntervals(string Finding, int Positives, ConfidenceInterval Auroc, ConfidenceInterval AveragePrecision);

    /// <summary>
    /// Percentile bootstrap confidence intervals of a multi-label model's per-finding AUROC and average precision and of
    /// the macro AUROC. When the predictions know their patients (<see cref="MultiLabelPredictions.Patients"/>, set by
    /// <c>model.PredictFindings</c> for tables with a patient column), whole PATIENTS are resampled, as the single-label
    /// study tools do: a patient's images are correlated, so resampling images as if independent gives intervals that are
    /// too narrow. Otherwise images are resampled. Seeded: the same seed gives the same intervals. A resample on which a
    /// finding's metric is undefined (no observed positive or negative) is left out of that finding's percentiles.
    /// <code>
    /// var test = model.PredictFindings(splits.Test);
    /// var intervals = MultiLabelIntervals.Compute(test, new BootstrapOptions { Resamples = 2000, Seed = 1 });
    /// Console.WriteLine(intervals.ToTable());   // finding, n positive, AUROC (95% CI), AP (95% CI)
    /// </code>
    /// </summary>
    public sealed class MultiLabelIntervals
    {
        private MultiLabelIntervals(IReadOnlyList<FindingIntervals> perFinding, ConfidenceInterval macroAuroc, int units, bool patientLevel)
        {
            PerFinding = perFinding;
            MacroAuroc = macroAuroc;
            Units = units;
            PatientLevel = patientLevel;
        }

        /// <summary>One row per finding, in the predictions' order.</summary>
        public IReadOnlyList<FindingIntervals> PerFinding { get; }

        /// <summary>The mean AUROC over the findings where it is defined (on each resample), with its interval.</summary>
        public ConfidenceInterval MacroAuroc { get; }

        /// <summary>The number of units resampled: patients when <see cref="PatientLevel"/>, images otherwise.</summary>
        public int Units { get; }

        /// <summary>Whether whole patients were resampled.</summary>
        public bool PatientLevel { get; }

        /// <summary>Computes the intervals.</summary>
        /// <param name="predictions">Test predictions (with <see cref="MultiLabelPredictions.Patients"/> for patient-level resampling).</param>
        /// <param name="options">Resamples, level and seed; <see langword="null"/> for the defaults (1000, 0.95, seed 0).</param>
        /// <returns>The intervals.</returns>
        /// <exception cref="ArgumentException">The options are out of range, or there are no predictions.</exception>
        public static MultiLabelIntervals Compute(MultiLabelPredictions predictions, BootstrapOptions? options = null)
        {
            Guard.NotNull(predictions);
            options = (options ?? new BootstrapOptions()).Validate();
            if (predictions.Count == 0)
            {
                throw new ArgumentException("Bootstrap intervals need predictions; found none.", nameof(predictions));
            }

            var members = UnitsOf(predictions);
            var random = SampleRandom.For(options.Seed, 0x3B1F, members.Length);
            var draws = new List<int[]>(options.Resamples);
            for (int r = 0; r < options.Resamples; r++)
            {
                var draw = new int[members.Length];
                for (int k = 0; k < draw.Length; k++)
                {
                    draw[k] = random.NextInt(members.Length);
                }

                draws.Add(draw);
            }

            return Compute(predictions, options.Level, draws);
        }

        /// <summary>The intervals over given draws of units (internal: the tests replay the draws of an independent reference).</summary>
        internal static MultiLabelIntervals Compute(MultiLabelPredictions predictions, double level, IReadOnlyList<int[]> draws)
        {
            var members = UnitsOf(predictions);
            int f = predictions.Findings.Count;
            var aucs = new List<double>[f];
            var aps = new List<double>[f];
            var macro = new List<double>(draws.Count);
            for (int j = 0; j < f; j++)
            {
                aucs[j] = new List<double>(draws.Count);
                aps[j] = new List<double>(draws.Count);
            }

            var rows = new List<int>(predictions.Count * 2);
            var labels = new List<bool>();
            var scores = new List<double>();
            foreach (var draw in draws)
            {
                rows.Clear();
                foreach (int unit in draw)
                {
                    rows.AddRange(members[unit]);
                }

                double sum = 0;
                int defined = 0;
                for (int j = 0; j < f; j++)
                {
                    labels.Clear();
                    scores.Clear();
                    foreach (int i in rows)
                    {
                        if (predictions.IsObserved(i, j))
                        {
                            labels.Add(predictions.IsPositive(i, j));
                            scores.Add(predictions.Probability(i, j));
                        }
                    }

                    var y = labels.ToArray();
                    var s = scores.ToArray();
                    double auc = MultiLabelMetrics.Auroc(y, s);
                    double ap = MultiLabelMetrics.AveragePrecision(y, s);
                    if (!double.IsNaN(auc))
                    {
                        aucs[j].Add(auc);
                        sum += auc;
                        defined++;
                    }

                    if (!double.IsNaN(ap))
                    {
                        aps[j].Add(ap);
                    }
                }

                if (defined > 0)
                {
                    macro.Add(sum / defined);
                }
            }

            var report = MultiLabelReport.Compute(predictions);
            var perFinding = report.PerFinding.Select((row, j) => new FindingIntervals(row.Finding, row.Positives, Interval(row.Auroc, aucs[j], level), Interval(row.AveragePrecision, aps[j], level))).ToArray();
            return new MultiLabelIntervals(perFinding, Interval(report.MacroAuroc, macro, level), members.Length, predictions.Patients is not null);
        }

        /// <summary>The CheXNet paper's table with intervals: finding, observed positives, AUROC (CI), AP (CI).</summary>
        /// <returns>A plain-text table.</returns>
        public string ToTable()
        {
            var c = CultureInfo.InvariantCulture;
            var text = new StringBuilder();
            int width = Math.Max(10, PerFinding.Max(r => r.Finding.Length) + 2);
            double level = MacroAuroc.Level * 100;
            text.Append("Finding".PadRight(width)).AppendFormat(c, "  n pos  AUROC ({0:0.#}% CI)        AP ({0:0.#}% CI)\n", level);
            foreach (var r in PerFinding)
            {
                text.Append(r.Finding.PadRight(width)).AppendFormat(c, "{0,6}  {1,-24} {2}\n", r.Positives, Text(r.Auroc), Text(r.AveragePrecision));
            }

            text.Append("Mean".PadRight(width)).AppendFormat(c, "{0,6}  {1}  (macro; {2} {3} resampled)\n", string.Empty, Text(MacroAuroc), Units, PatientLevel ? "patients" : "images");
            return text.ToString();
        }

        /// <inheritdoc />
        public override string ToString() => ToTable();

        private static string Text(ConfidenceInterval ci) => double.IsNaN(ci.Estimate)
            ? "-"
            : double.IsNaN(ci.Lower) ? ci.Estimate.ToString("0.000", CultureInfo.InvariantCulture) : string.Format(CultureInfo.InvariantCulture, "{0:0.000} ({1:0.000}-{2:0.000})", ci.Estimate, ci.Lower, ci.Upper);

        /// <summary>The rows of each resampling unit: a patient's images in order of first appearance, or each image alone.</summary>
        private static int[][] UnitsOf(MultiLabelPredictions predictions)
        {
            if (predictions.Patients is not { } patients)
            {
                return Enumerable.Range(0, predictions.Count).Select(i => new[] { i }).ToArray();
            }

            var order = new Dictionary<string, List<int>>(StringComparer.Ordinal);
            var units = new List<List<int>>();
            for (int i = 0; i < patients.Count; i++)
            {
                if (!order.TryGetValue(patients[i], out var list))
                {
                    order[patients[i]] = list = new List<int>();
                    units.Add(list);
                }

                list.Add(i);
            }

            return units.Select(u => u.ToArray()).ToArray();
        }

        private static ConfidenceInterval Interval(double estimate, List<double> samples, double level)
        {
            if (samples.Count == 0)
            {
                return new ConfidenceInterval(estimate, double.NaN, double.NaN, level, 0);
            }

            samples.Sort();
            double alpha = (1 - level) / 2;
            return new ConfidenceInterval(estimate, Bootstrap.Percentile(samples, alpha), Bootstrap.Percentile(samples, 1 - alpha), level, samples.Count);
        }
    }
}
