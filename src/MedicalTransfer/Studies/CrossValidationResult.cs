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
    /// <summary>A metric over the folds: mean and sample standard deviation (n - 1), with the range.</summary>
    /// <param name="Name">For example <c>ROC AUC</c>.</param>
    /// <param name="Mean">Mean over folds (folds where it is undefined are left out).</param>
    /// <param name="StandardDeviation">Sample standard deviation (NaN for one fold).</param>
    /// <param name="Minimum">Smallest fold value.</param>
    /// <param name="Maximum">Largest fold value.</param>
    /// <param name="Folds">Folds it was defined on.</param>
    public sealed record FoldSummary(string Name, double Mean, double StandardDeviation, double Minimum, double Maximum, int Folds)
    {
        /// <summary>For example <c>0.912 +/- 0.031 (0.870-0.951, 5 folds)</c>.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0:0.000} +/- {1:0.000} ({2:0.000}-{3:0.000}, {4} folds)", Mean, StandardDeviation, Minimum, Maximum, Folds);

        internal static FoldSummary Of(string name, IEnumerable<double> values)
        {
            var v = values.Where(x => !double.IsNaN(x)).ToArray();
            if (v.Length == 0)
            {
                return new FoldSummary(name, double.NaN, double.NaN, double.NaN, double.NaN, 0);
            }

            double mean = v.Average();
            double sd = v.Length < 2 ? double.NaN : Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
            return new FoldSummary(name, mean, sd, v.Min(), v.Max(), v.Length);
        }
    }

    /// <summary>
    /// What a cross-validation produced: every fold's result, the out-of-fold predictions of every image (each
    /// predicted by the one model that never saw its patient), pooled out-of-fold metrics with bootstrap
    /// intervals, calibration before and after scaling, mean and standard deviation across folds, the test
    /// set's result when one was kept apart, and the fold models (as an ensemble).
    /// </summary>
    public sealed class CrossValidationResult
    {
        internal CrossValidationResult(FoldAssignment assignment, CrossValidationOptions options, IReadOnlyList<FoldResult> folds, string workFolder, EvaluationReport? test, int testImages, IReadOnlyList<string> notes)
        {
            Assignment = assignment;
            Options = options;
            Folds = folds;
            WorkFolder = workFolder;
            Test = test;
            TestImages = testImages;
            Notes = notes;
            var classes = assignment.Data.Classes.ToArray();
            for (int r = 0; r < assignment.Repeats; r++)
            {
                var mine = folds.Where(f => f.Repeat == r).ToArray();
                var indices = mine.SelectMany(f => f.HeldOutIndices).ToArray();
                var order = Enumerable.Range(0, indices.Length).OrderBy(i => indices[i]).ToArray();
                outOfFoldIndices.Add(order.Select(i => indices[i]).ToArray());
                outOfFold.Add(Concatenate(classes, mine.Select(f => f.HeldOut).ToArray(), order));
                outOfFoldUncalibrated.Add(Concatenate(classes, mine.Select(f => f.HeldOutUncalibrated).ToArray(), order));
                var validation = Concatenate(classes, mine.Select(f => f.Validation).ToArray(), null);
                pooledValidation.Add(validation);
                pooled.Add(EvaluationReport.Create(outOfFold[r], options.Evaluation, validation));
            }

            Summary = Summarise();
            if (Pooled.Binary is { } binary && options.Evaluation.Bootstrap is { } bootstrap)
            {
                var patients = outOfFoldIndices[0].Select(assignment.GroupOf).ToArray();
                PatientLevel = PatientBootstrap.Compute(OutOfFold, patients, OutOfFold.ClassIndex(binary.PositiveClass), binary.Threshold, bootstrap.Validate(), binary);
            }
        }

        private readonly List<Predictions> outOfFold = new();
        private readonly List<Predictions> outOfFoldUncalibrated = new();
        private readonly List<Predictions> pooledValidation = new();
        private readonly List<int[]> outOfFoldIndices = new();
        private readonly List<EvaluationReport> pooled = new();

        /// <summary>The folds.</summary>
        public FoldAssignment Assignment { get; }

        /// <summary>The options of the run.</summary>
        public CrossValidationOptions Options { get; }

        /// <summary>Every fold of every repeat, in order.</summary>
        public IReadOnlyList<FoldResult> Folds { get; }

        /// <summary>The work folder holding the fold models and results.</summary>
        public string WorkFolder { get; }

        /// <summary>The ensemble of all fold models on the kept-apart test set, or <see langword="null"/> when none was given.</summary>
        public EvaluationReport? Test { get; }

        /// <summary>Images in the kept-apart test set (0 when none).</summary>
        public int TestImages { get; }

        /// <summary>Warnings about the run, for example patients found in both the test set and the folds.</summary>
        public IReadOnlyList<string> Notes { get; }

        /// <summary>The calibrated out-of-fold predictions of every image of repeat 0, in dataset order.</summary>
        public Predictions OutOfFold => outOfFold[0];

        /// <summary>The pooled out-of-fold report of repeat 0 (with bootstrap intervals when the evaluation options ask for them).</summary>
        public EvaluationReport Pooled => pooled[0];

        /// <summary>
        /// The pooled binary metrics of repeat 0 with intervals from a bootstrap over PATIENTS (each resample draws whole
        /// patients), which stay honest when patients have several images; <see langword="null"/> without a positive class
        /// or bootstrap. <see cref="Pooled"/>'s own intervals resample images.
        /// </summary>
        public PatientLevelIntervals? PatientLevel { get; }

        /// <summary>Mean and standard deviation across all folds of all repeats: accuracy, macro AUC and, with a positive class, AUC, sensitivity, specificity, Brier, ECE, log-loss and temperature.</summary>
        public IReadOnlyList<FoldSummary> Summary { get; }

        /// <summary>The calibrated out-of-fold predictions of one repeat, in dataset order.</summary>
        /// <param name="repeat">0-based repeat.</param>
        /// <returns>The predictions.</returns>
        public Predictions OutOfFoldOf(int repeat) => outOfFold[Guard.InRange(repeat, 0, outOfFold.Count - 1)];

        /// <summary>The out-of-fold predictions of one repeat before temperature scaling.</summary>
        /// <param name="repeat">0-based repeat.</param>
        /// <returns>The predictions.</returns>
        public Predictions OutOfFoldUncalibrated(int repeat = 0) => outOfFoldUncalibrated[Guard.InRange(repeat, 0, outOfFold.Count - 1)];

        /// <summary>For each out-of-fold prediction of a repeat, the index of its image in the dataset (all images unless some were unreadable).</summary>
        /// <param name="repeat">0-based repeat.</param>
        /// <returns>The indices, increasing.</returns>
        public IReadOnlyList<int> OutOfFoldIndices(int repeat = 0) => outOfFoldIndices[Guard.InRange(repeat, 0, outOfFold.Count - 1)];

        /// <summary>The pooled out-of-fold report of one repeat.</summary>
        /// <param name="repeat">0-based repeat.</param>
        /// <returns>The report.</returns>
        public EvaluationReport PooledOf(int repeat) => pooled[Guard.InRange(repeat, 0, pooled.Count - 1)];

        /// <summary>All folds' (calibrated) validation predictions of one repeat, which choose the pooled report's operating point.</summary>
        /// <param name="repeat">0-based repeat.</param>
        /// <returns>The predictions.</returns>
        public Predictions PooledValidation(int repeat = 0) => pooledValidation[Guard.InRange(repeat, 0, pooledValidation.Count - 1)];

        /// <summary>Images the loaders skipped as unreadable, with reasons (each once).</summary>
        public IReadOnlyList<SkippedImage> Exclusions => Folds.SelectMany(f => f.Skipped).GroupBy(s => s.Path, StringComparer.Ordinal).Select(g => g.First()).OrderBy(s => s.Path, StringComparer.Ordinal).ToArray();

        /// <summary>
        /// Loads every fold model (calibrated) as a soft-voting ensemble: an estimate of the cross-validated models'
        /// joint performance on new data. The caller owns and disposes the members.
        /// </summary>
        /// <param name="device">Where to place the models; the default is CUDA when available, else CPU.</param>
        /// <returns>The ensemble.</returns>
        public Ensemble LoadEnsemble(Device? device = null) => LoadEnsemble(Folds.Select(f => f.ModelPath), device);

        /// <summary>The saved fold models as one ensemble; if one fails to load, those loaded already are disposed.</summary>
        internal static Ensemble LoadEnsemble(IEnumerable<string> modelPaths, Device? device)
        {
            var members = new List<TransferModel>();
            try
            {
                foreach (var path in modelPaths)
                {
                    members.Add(TransferModel.Load(path, device));
                }

                return Ensemble.Of(members.ToArray());
            }
            catch
            {
                foreach (var m in members)
                {
                    m.Dispose();
                }

                throw;
            }
        }

        /// <summary>The per-fold table and the pooled and summarised metrics as text.</summary>
        /// <returns>The text.</returns>
        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append(Assignment);
            foreach (var fold in Folds)
            {
                sb.AppendLine(fold.ToString());
            }

            sb.AppendLine("across folds (mean +/- SD):");
            foreach (var s in Summary)
            {
                sb.AppendLine("  " + s.Name.PadRight(22) + s);
            }

            sb.AppendLine("pooled out-of-fold:").Append(Pooled);
            if (Test is not null)
            {
                sb.AppendLine().AppendLine(string.Format(CultureInfo.InvariantCulture, "kept-apart test set ({0} images), ensemble of the {1} fold models:", TestImages, Folds.Count)).Append(Test);
            }

            foreach (var note in Notes)
            {
                sb.AppendLine(note);
            }

            return sb.ToString();
        }

        private IReadOnlyList<FoldSummary> Summarise()
        {
            var list = new List<FoldSummary>
            {
                FoldSummary.Of("accuracy", Folds.Select(f => f.Report.Classification.Accuracy)),
                FoldSummary.Of("macro ROC AUC", Folds.Select(f => f.Report.MacroRocAuc)),
            };
            string? positive = Options.Evaluation.PositiveClass;
            if (positive is not null)
            {
                list.Add(FoldSummary.Of("ROC AUC " + positive, Folds.Select(f => f.Report.Binary!.RocAuc)));
                list.Add(FoldSummary.Of("sensitivity", Folds.Select(f => f.Report.Binary!.Sensitivity)));
                list.Add(FoldSummary.Of("specificity", Folds.Select(f => f.Report.Binary!.Specificity)));
                list.Add(FoldSummary.Of("Brier", Folds.Select(f => CalibrationMetrics.Compute(f.HeldOut, positive).Brier)));
                list.Add(FoldSummary.Of("ECE", Folds.Select(f => CalibrationMetrics.Compute(f.HeldOut, positive).ExpectedCalibrationError)));
            }

            list.Add(FoldSummary.Of("log-loss", Folds.Select(f => CalibrationMetrics.LogLossOf(f.HeldOut))));
            if (Folds.Any(f => f.Calibration is not null))
            {
                list.Add(FoldSummary.Of("temperature", Folds.Select(f => f.Calibration?.Temperature ?? double.NaN)));
            }

            return list;
        }

        private static Predictions Concatenate(string[] classes, IReadOnlyList<Predictions> parts, int[]? order)
        {
            var labels = parts.SelectMany(p => p.RawLabels).ToArray();
            var probabilities = parts.SelectMany(p => p.RawProbabilities).ToArray();
            if (order is null)
            {
                return new Predictions(classes, labels, probabilities);
            }

            int k = classes.Length;
            var l = new int[labels.Length];
            var p = new double[probabilities.Length];
            for (int i = 0; i < order.Length; i++)
            {
                l[i] = labels[order[i]];
                Array.Copy(probabilities, order[i] * k, p, i * k, k);
            }

            return new Predictions(classes, l, p);
        }
    }
}
