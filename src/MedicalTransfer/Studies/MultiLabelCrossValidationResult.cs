using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;
using static TorchSharp.torch;

namespace MedicalTransfer.Studies
{
    /// <summary>
    /// What a multi-label cross-validation produced: every fold's held-out report with its temperatures and thresholds, the
    /// out-of-fold predictions of every image (each predicted by the one model that never saw its patient, each row with its
    /// patient), the pooled out-of-fold report with patient-level bootstrap intervals, each finding's mean and standard
    /// deviation of the fold AUROCs, the kept-apart test set's predictions by the fold models' ensemble, and the fold models.
    /// </summary>
    public sealed class MultiLabelCrossValidationResult
    {
        private readonly List<MultiLabelPredictions> outOfFold = new();
        private readonly List<MultiLabelPredictions> outOfFoldUncalibrated = new();
        private readonly List<MultiLabelPredictions> pooledValidation = new();
        private readonly List<int[]> outOfFoldIndices = new();
        private readonly List<FindingThresholds> pooledThresholds = new();
        private readonly List<MultiLabelReport> pooled = new();

        internal MultiLabelCrossValidationResult(FoldAssignment assignment, CrossValidationOptions options, IReadOnlyList<MultiLabelFoldResult> folds, string workFolder, MultiLabelPredictions? test, IReadOnlyList<string> notes)
        {
            Assignment = assignment;
            Options = options;
            Folds = folds;
            WorkFolder = workFolder;
            Notes = notes;
            var findings = assignment.Data.Findings;
            for (int r = 0; r < assignment.Repeats; r++)
            {
                var mine = folds.Where(f => f.Repeat == r).ToArray();
                var indices = mine.SelectMany(f => f.HeldOutIndices).ToArray();
                var order = Enumerable.Range(0, indices.Length).OrderBy(i => indices[i]).ToArray();
                var sorted = order.Select(i => indices[i]).ToArray();
                var patients = sorted.Select(assignment.GroupOf).ToArray();
                outOfFoldIndices.Add(sorted);
                outOfFold.Add(Concatenate(findings, mine.Select(f => f.HeldOut).ToArray(), order).WithPatients(patients));
                outOfFoldUncalibrated.Add(Concatenate(findings, mine.Select(f => f.HeldOutUncalibrated).ToArray(), order).WithPatients(patients));
                var validation = Concatenate(findings, mine.Select(f => f.Validation).ToArray(), null);
                pooledValidation.Add(validation);

                // The pooled report's thresholds come from all folds' validation carves, never from the predictions it reports on.
                var thresholds = FindingThresholds.Choose(validation, options.FindingThresholdRule);
                pooledThresholds.Add(thresholds);
                pooled.Add(MultiLabelReport.Compute(outOfFold[r], thresholds));
            }

            Intervals = options.Evaluation.Bootstrap is { } bootstrap ? MultiLabelIntervals.Compute(OutOfFold, bootstrap) : null;
            Summary = Summarise();
            if (test is not null)
            {
                // The test set's thresholds are chosen on the pooled out-of-fold predictions, never on the test set.
                TestThresholds = FindingThresholds.Choose(OutOfFold, options.FindingThresholdRule);
                TestPredictions = test;
                Test = MultiLabelReport.Compute(test, TestThresholds);
                TestIntervals = options.Evaluation.Bootstrap is { } b && test.Count > 0 ? MultiLabelIntervals.Compute(test, b) : null;
            }
        }

        /// <summary>The folds.</summary>
        public FoldAssignment Assignment { get; }

        /// <summary>The options of the run.</summary>
        public CrossValidationOptions Options { get; }

        /// <summary>Every fold of every repeat, in order.</summary>
        public IReadOnlyList<MultiLabelFoldResult> Folds { get; }

        /// <summary>The work folder holding the fold models and results.</summary>
        public string WorkFolder { get; }

        /// <summary>Warnings about the run, for example patients found in both the test set and the folds.</summary>
        public IReadOnlyList<string> Notes { get; }

        /// <summary>The findings, in the models' order.</summary>
        public IReadOnlyList<string> Findings => Assignment.Data.Findings;

        /// <summary>The calibrated out-of-fold predictions of every image of repeat 0, in dataset order, each row with its patient (the folds' grouping key).</summary>
        public MultiLabelPredictions OutOfFold => outOfFold[0];

        /// <summary>
        /// The thresholds of the pooled report of repeat 0: chosen by <see cref="CrossValidationOptions.FindingThresholdRule"/> on
        /// all folds' validation-carve predictions (<see cref="PooledValidation"/>), not on the out-of-fold predictions themselves.
        /// </summary>
        public FindingThresholds PooledThresholds => pooledThresholds[0];

        /// <summary>The pooled out-of-fold report of repeat 0 at <see cref="PooledThresholds"/>.</summary>
        public MultiLabelReport Pooled => pooled[0];

        /// <summary>
        /// Bootstrap intervals of the pooled out-of-fold AUROC and average precision of each finding and of the mean AUROC
        /// (repeat 0), resampling whole PATIENTS (the folds' grouping), seeded by <see cref="EvaluationOptions.Bootstrap"/>;
        /// <see langword="null"/> when that is <see langword="null"/>.
        /// </summary>
        public MultiLabelIntervals? Intervals { get; }

        /// <summary>
        /// Mean and standard deviation across all folds of all repeats: mean AUROC, micro AUROC, mean average precision,
        /// each finding's AUROC (<c>AUROC Effusion</c>) and, when calibrated, each finding's temperature.
        /// </summary>
        public IReadOnlyList<FoldSummary> Summary { get; }

        /// <summary>The ensemble of the fold models on the kept-apart test set at <see cref="TestThresholds"/>, or <see langword="null"/> when none was given.</summary>
        public MultiLabelReport? Test { get; }

        /// <summary>The fold models' ensemble's predictions of the test set (the mean of their calibrated probabilities per finding), or <see langword="null"/>.</summary>
        public MultiLabelPredictions? TestPredictions { get; }

        /// <summary>The test set's thresholds: chosen on the pooled out-of-fold predictions (<see cref="OutOfFold"/>), never on the test set; <see langword="null"/> without a test set.</summary>
        public FindingThresholds? TestThresholds { get; }

        /// <summary>Bootstrap intervals of the test set's AUROCs (patients resampled where the test table names them), or <see langword="null"/>.</summary>
        public MultiLabelIntervals? TestIntervals { get; }

        /// <summary>Images in the kept-apart test set that were predicted (0 when none).</summary>
        public int TestImages => TestPredictions?.Count ?? 0;

        /// <summary>Images the loaders skipped as unreadable, with reasons (each once).</summary>
        public IReadOnlyList<SkippedImage> Exclusions => Folds.SelectMany(f => f.Skipped).GroupBy(s => s.Path, StringComparer.Ordinal).Select(g => g.First()).OrderBy(s => s.Path, StringComparer.Ordinal).ToArray();

        /// <summary>The calibrated out-of-fold predictions of one repeat, in dataset order.</summary>
        /// <param name="repeat">0-based repeat.</param>
        /// <returns>The predictions.</returns>
        public MultiLabelPredictions OutOfFoldOf(int repeat) => outOfFold[Guard.InRange(repeat, 0, outOfFold.Count - 1)];

        /// <summary>The out-of-fold predictions of one repeat before temperature scaling.</summary>
        /// <param name="repeat">0-based repeat.</param>
        /// <returns>The predictions.</returns>
        public MultiLabelPredictions OutOfFoldUncalibrated(int repeat = 0) => outOfFoldUncalibrated[Guard.InRange(repeat, 0, outOfFold.Count - 1)];

        /// <summary>For each out-of-fold prediction of a repeat, the index of its image in the dataset (all images unless some were unreadable).</summary>
        /// <param name="repeat">0-based repeat.</param>
        /// <returns>The indices, increasing.</returns>
        public IReadOnlyList<int> OutOfFoldIndices(int repeat = 0) => outOfFoldIndices[Guard.InRange(repeat, 0, outOfFold.Count - 1)];

        /// <summary>The pooled out-of-fold report of one repeat.</summary>
        /// <param name="repeat">0-based repeat.</param>
        /// <returns>The report.</returns>
        public MultiLabelReport PooledOf(int repeat) => pooled[Guard.InRange(repeat, 0, pooled.Count - 1)];

        /// <summary>All folds' (calibrated) validation-carve predictions of one repeat, which choose the pooled report's thresholds.</summary>
        /// <param name="repeat">0-based repeat.</param>
        /// <returns>The predictions.</returns>
        public MultiLabelPredictions PooledValidation(int repeat = 0) => pooledValidation[Guard.InRange(repeat, 0, pooledValidation.Count - 1)];

        /// <summary>A finding's AUROC across folds.</summary>
        /// <param name="finding">One of <see cref="Findings"/>.</param>
        /// <returns>Mean, standard deviation and range over the folds.</returns>
        /// <exception cref="ArgumentException">The finding is not one of <see cref="Findings"/>.</exception>
        public FoldSummary AurocAcrossFolds(string finding)
        {
            Guard.NotNull(finding);
            return Summary.FirstOrDefault(s => s.Name == "AUROC " + finding)
                ?? throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "'{0}' is not one of the findings ({1}).", finding, string.Join(", ", Findings)), nameof(finding));
        }

        /// <summary>
        /// Loads every fold model (with its temperatures and thresholds) as a soft-voting multi-label ensemble, which averages
        /// the members' calibrated probabilities per finding: an estimate of the cross-validated models' joint performance on
        /// new data. Choose its thresholds on data it did not see (the test set's come from <see cref="OutOfFold"/>). The caller
        /// owns and disposes the members.
        /// </summary>
        /// <param name="device">Where to place the models; the default is CUDA when available, else CPU.</param>
        /// <returns>The ensemble.</returns>
        public Ensemble LoadEnsemble(Device? device = null) => CrossValidationResult.LoadEnsemble(Folds.Select(f => f.ModelPath), device);

        /// <summary>
        /// The tables a researcher pastes: the folds, each fold's held-out AUROC per finding with the mean and standard
        /// deviation across folds, the pooled out-of-fold report and its patient-level intervals, and the test set's.
        /// </summary>
        /// <returns>Plain text.</returns>
        public string ToTable()
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.Append(Assignment);
            foreach (var fold in Folds)
            {
                sb.AppendLine(fold.ToString());
            }

            int width = Math.Max(16, Folds.Max(f => f.Name.Length) + 2);
            var columns = Findings.Select(f => Math.Max(8, f.Length + 2)).ToArray();
            sb.AppendLine().AppendLine("held-out AUROC per fold (thresholds and temperatures chosen on each fold's validation carve):");
            sb.Append("fold".PadRight(width));
            for (int j = 0; j < Findings.Count; j++)
            {
                sb.Append(Findings[j].PadLeft(columns[j]));
            }

            sb.AppendLine("    mean".PadLeft(10));
            foreach (var fold in Folds)
            {
                sb.Append(fold.Name.PadRight(width));
                for (int j = 0; j < Findings.Count; j++)
                {
                    sb.Append(fold.Report.PerFinding[j].Auroc.ToString("0.000", c).PadLeft(columns[j]));
                }

                sb.AppendLine(fold.Report.MacroAuroc.ToString("0.000", c).PadLeft(10));
            }

            var macro = Summary[0];
            sb.Append("mean".PadRight(width));
            for (int j = 0; j < Findings.Count; j++)
            {
                sb.Append(AurocAcrossFolds(Findings[j]).Mean.ToString("0.000", c).PadLeft(columns[j]));
            }

            sb.AppendLine(macro.Mean.ToString("0.000", c).PadLeft(10));
            sb.Append("SD".PadRight(width));
            for (int j = 0; j < Findings.Count; j++)
            {
                sb.Append(AurocAcrossFolds(Findings[j]).StandardDeviation.ToString("0.000", c).PadLeft(columns[j]));
            }

            sb.AppendLine(macro.StandardDeviation.ToString("0.000", c).PadLeft(10));
            sb.AppendLine().AppendLine("across folds (mean +/- SD):");
            foreach (var s in Summary)
            {
                sb.AppendLine("  " + s.Name.PadRight(Math.Max(24, s.Name.Length + 2)) + s);
            }

            sb.AppendLine().AppendLine(string.Format(c, "pooled out-of-fold ({0} images; thresholds: {1} on all folds' validation carves):", OutOfFold.Count, PooledThresholds.Rule)).Append(Pooled.ToTable());
            if (Intervals is not null)
            {
                sb.Append(Intervals.ToTable());
            }

            if (Test is not null)
            {
                sb.AppendLine().AppendLine(string.Format(c, "kept-apart test set ({0} images), ensemble of the {1} fold models (thresholds chosen on the pooled out-of-fold predictions):", TestImages, Folds.Count)).Append(Test.ToTable());
                if (TestIntervals is not null)
                {
                    sb.Append(TestIntervals.ToTable());
                }
            }

            foreach (var note in Notes)
            {
                sb.AppendLine(note);
            }

            return sb.ToString();
        }

        /// <inheritdoc />
        public override string ToString() => ToTable();

        private IReadOnlyList<FoldSummary> Summarise()
        {
            var list = new List<FoldSummary>
            {
                FoldSummary.Of("mean AUROC", Folds.Select(f => f.Report.MacroAuroc)),
                FoldSummary.Of("micro AUROC", Folds.Select(f => f.Report.MicroAuroc)),
                FoldSummary.Of("mean average precision", Folds.Select(f => f.Report.MacroAveragePrecision)),
            };
            for (int j = 0; j < Findings.Count; j++)
            {
                list.Add(FoldSummary.Of("AUROC " + Findings[j], Folds.Select(f => f.Report.PerFinding[j].Auroc)));
            }

            if (Folds.Any(f => f.Calibration is not null))
            {
                for (int j = 0; j < Findings.Count; j++)
                {
                    list.Add(FoldSummary.Of("temperature " + Findings[j], Folds.Select(f => f.Calibration?.Temperatures[j] ?? double.NaN)));
                }
            }

            return list;
        }

        /// <summary>The parts' rows one after another, reordered by <paramref name="order"/> when given.</summary>
        private static MultiLabelPredictions Concatenate(IReadOnlyList<string> findings, IReadOnlyList<MultiLabelPredictions> parts, int[]? order)
        {
            var rows = parts.Select(FindingRows.Of).ToArray();
            var p = rows.SelectMany(r => r.Probabilities).ToArray();
            var y = rows.SelectMany(r => r.Positive).ToArray();
            var m = rows.SelectMany(r => r.Observed).ToArray();
            if (order is null)
            {
                return new MultiLabelPredictions(findings, p, y, m);
            }

            int f = findings.Count;
            var p2 = new double[p.Length];
            var y2 = new bool[y.Length];
            var m2 = new bool[m.Length];
            for (int i = 0; i < order.Length; i++)
            {
                Array.Copy(p, order[i] * f, p2, i * f, f);
                Array.Copy(y, order[i] * f, y2, i * f, f);
                Array.Copy(m, order[i] * f, m2, i * f, f);
            }

            return new MultiLabelPredictions(findings, p2, y2, m2);
        }
    }
}
