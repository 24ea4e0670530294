using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// A multi-label model's probabilities for N images and F findings (a sigmoid per finding), with each label's target
    /// and whether it is observed: uncertain labels under U-Ignore and missing labels are not, and every metric leaves them
    /// out of that finding. Row-major: image i, finding j is at <c>i * F + j</c>.
    /// </summary>
    public sealed class MultiLabelPredictions
    {
        private readonly double[] probabilities;
        private readonly bool[] positive;
        private readonly bool[] observed;

        /// <summary>Creates predictions from row-major arrays.</summary>
        /// <param name="findings">The findings, in column order.</param>
        /// <param name="probabilities">N x F probabilities in [0, 1].</param>
        /// <param name="positive">N x F targets (after the uncertainty policy).</param>
        /// <param name="observed">N x F: whether the label counts; <see langword="null"/> when all do.</param>
        /// <exception cref="ArgumentException">The lengths differ, there are no findings, or a probability is outside [0, 1].</exception>
        public MultiLabelPredictions(IReadOnlyList<string> findings, IReadOnlyList<double> probabilities, IReadOnlyList<bool> positive, IReadOnlyList<bool>? observed = null)
        {
            Guard.NotNull(findings);
            Guard.NotNull(probabilities);
            Guard.NotNull(positive);
            if (findings.Count == 0)
            {
                throw new ArgumentException("Multi-label predictions need at least one finding.", nameof(findings));
            }

            if (probabilities.Count % findings.Count != 0 || positive.Count != probabilities.Count || (observed is not null && observed.Count != probabilities.Count))
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Expected N x {0} values in each of probabilities, positive and observed; found {1}, {2} and {3}.", findings.Count, probabilities.Count, positive.Count, observed?.Count ?? probabilities.Count),
                    nameof(probabilities));
            }

            for (int i = 0; i < probabilities.Count; i++)
            {
                if (!(probabilities[i] >= 0 && probabilities[i] <= 1))
                {
                    throw new ArgumentException(
                        string.Format(CultureInfo.InvariantCulture, "Probability of image {0}, finding '{1}' is {2}; expected a value in [0, 1] (pass sigmoid outputs, not logits).", i / findings.Count, findings[i % findings.Count], probabilities[i]),
                        nameof(probabilities));
                }
            }

            Findings = findings.ToArray();
            this.probabilities = probabilities.ToArray();
            this.positive = positive.ToArray();
            this.observed = observed?.ToArray() ?? Enumerable.Repeat(true, probabilities.Count).ToArray();
        }

        /// <summary>The findings, in column order.</summary>
        public IReadOnlyList<string> Findings { get; }

        /// <summary>
        /// The patient of each row, or <see langword="null"/> when unknown (then every image counts as its own patient).
        /// <c>model.PredictFindings</c> sets it from a table's patient column (or the DICOM Patient ID); bootstrap intervals
        /// (<see cref="MultiLabelIntervals"/>) then resample whole patients.
        /// </summary>
        public IReadOnlyList<string>? Patients { get; private init; }

        /// <summary>The same predictions with the patient of each row (for patient-level bootstrap intervals).</summary>
        /// <param name="patients">One patient id per row; rows of one patient share it.</param>
        /// <returns>The predictions with <see cref="Patients"/> set.</returns>
        /// <exception cref="ArgumentException">The count differs from <see cref="Count"/>, or an id is null or empty.</exception>
        public MultiLabelPredictions WithPatients(IReadOnlyList<string> patients)
        {
            Guard.NotNull(patients);
            if (patients.Count != Count || patients.Any(string.IsNullOrEmpty))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected one non-empty patient id per row ({0} rows); found {1} ids{2}.", Count, patients.Count, patients.Any(string.IsNullOrEmpty) ? ", some empty" : string.Empty), nameof(patients));
            }

            return new MultiLabelPredictions(Findings, probabilities, positive, observed) { Patients = patients.ToArray() };
        }

        /// <summary>Number of images.</summary>
        public int Count => probabilities.Length / Findings.Count;

        /// <summary>Probability that image <paramref name="image"/> shows finding <paramref name="finding"/>.</summary>
        /// <param name="image">Row.</param>
        /// <param name="finding">Column.</param>
        /// <returns>The probability.</returns>
        public double Probability(int image, int finding) => probabilities[(image * Findings.Count) + finding];

        /// <summary>Whether image <paramref name="image"/>'s label for <paramref name="finding"/> is positive.</summary>
        /// <param name="image">Row.</param>
        /// <param name="finding">Column.</param>
        /// <returns>The target.</returns>
        public bool IsPositive(int image, int finding) => positive[(image * Findings.Count) + finding];

        /// <summary>Whether image <paramref name="image"/>'s label for <paramref name="finding"/> is observed (counts in the metrics).</summary>
        /// <param name="image">Row.</param>
        /// <param name="finding">Column.</param>
        /// <returns>Whether it counts.</returns>
        public bool IsObserved(int image, int finding) => observed[(image * Findings.Count) + finding];

        /// <summary>The index of a finding.</summary>
        /// <param name="finding">Its name.</param>
        /// <returns>Its column.</returns>
        /// <exception cref="ArgumentException">The finding is not one of <see cref="Findings"/>.</exception>
        public int FindingIndex(string finding)
        {
            int index = Array.IndexOf((string[])Findings, Guard.NotNull(finding));
            return index >= 0 ? index : throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "'{0}' is not one of the findings ({1}).", finding, string.Join(", ", Findings)), nameof(finding));
        }

        /// <summary>One finding's observed labels and scores.</summary>
        internal (bool[] IsPositive, double[] Scores) Column(int finding)
        {
            int f = Findings.Count;
            int[] rows = ObservedRows(finding);
            return (rows.Select(i => positive[(i * f) + finding]).ToArray(), rows.Select(i => probabilities[(i * f) + finding]).ToArray());
        }

        /// <summary>
        /// One finding as a binary problem over its observed labels only (uncertain under U-Ignore and missing labels left
        /// out): classes <c>not {finding}</c> and <c>{finding}</c>, probabilities 1 - p and p, and the rows kept. The
        /// single-label tools (decision curve, subgroups, external validation) run on it unchanged, so a finding's numbers
        /// come from the same code as a binary model's.
        /// </summary>
        internal (Predictions Binary, int[] Rows) BinaryOf(int finding)
        {
            int f = Findings.Count;
            var rows = ObservedRows(finding);
            var labels = new int[rows.Length];
            var p = new double[rows.Length * 2];
            for (int k = 0; k < rows.Length; k++)
            {
                int at = (rows[k] * f) + finding;
                labels[k] = positive[at] ? 1 : 0;
                p[(2 * k) + 1] = probabilities[at];
                p[2 * k] = 1 - probabilities[at];
            }

            return (new Predictions(new[] { "not " + Findings[finding], Findings[finding] }, labels, p), rows);
        }

        /// <summary>The images whose label of <paramref name="finding"/> is observed, in order: the one filter behind <see cref="Column"/> and <see cref="BinaryOf"/>.</summary>
        private int[] ObservedRows(int finding)
        {
            int f = Findings.Count;
            return Enumerable.Range(0, Count).Where(i => observed[(i * f) + finding]).ToArray();
        }

        /// <summary>Every observed label of every finding, flattened (scikit-learn's <c>average='micro'</c>).</summary>
        internal (bool[] IsPositive, double[] Scores) Flattened()
        {
            var labels = new List<bool>(probabilities.Length);
            var scores = new List<double>(probabilities.Length);
            for (int k = 0; k < probabilities.Length; k++)
            {
                if (observed[k])
                {
                    labels.Add(positive[k]);
                    scores.Add(probabilities[k]);
                }
            }

            return (labels.ToArray(), scores.ToArray());
        }

        /// <summary>Images whose every label is observed.</summary>
        internal IEnumerable<int> FullyObservedImages() => Enumerable.Range(0, Count).Where(i => Enumerable.Range(0, Findings.Count).All(j => observed[(i * Findings.Count) + j]));
    }
}
