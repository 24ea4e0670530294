using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Studies
{
    /// <summary>
    /// Multi-label cross-validation: the runner of <see cref="Run(TransferBuilder, ImageDataset, CrossValidationOptions, TestSet?, CancellationToken)"/>
    /// (the same patient-grouped folds, stratified per finding; the same fresh model per fold, resumable folds, progress
    /// and logging) for models built with <see cref="TransferBuilder.ForFindings(string[])"/>: per-finding temperatures and
    /// thresholds chosen on each fold's validation carve, and per-finding reports.
    /// <code>
    /// var data = ImageTable.Load("chexpert/train.csv", ImageTableLayouts.CheXpert, new ImageTableOptions { Root = "/data" });
    /// var result = CrossValidation.RunFindings(
    ///     TransferBuilder.FromPretrained(DenseNetWeights.ImageNet121).ForFindings(data.Findings),
    ///     data,
    ///     new CrossValidationOptions { Folds = new FoldOptions { Folds = 5, Seed = 1 }, WorkFolder = "cv-findings", Training = new TrainingOptions { Epochs = 10 } });
    /// Console.WriteLine(result.ToTable());   // AUROC per fold and finding, mean +/- SD, pooled out-of-fold with patient-level intervals
    /// </code>
    /// </summary>
    public static partial class CrossValidation
    {
        /// <summary>
        /// Runs (or continues) the cross-validation of a multi-label model. Every fold builds a fresh model from
        /// <paramref name="builder"/> (seeded as the single-label runner seeds it), trains it on the fold's training part
        /// (uncertain and missing labels masked as <see cref="LoaderOptions.Uncertainty"/> says; per-finding positive weights
        /// of the fold's training part unless <see cref="CrossValidationOptions.WeightFindingPositives"/> is off), keeps the
        /// epoch its validation carve likes best, fits one temperature per finding on the carve (when
        /// <see cref="CrossValidationOptions.Calibrate"/>), chooses each finding's threshold on the carve
        /// (<see cref="CrossValidationOptions.FindingThresholdRule"/>) and predicts its held-out fold once. The held-out fold
        /// chooses nothing. Resumable from the work folder like <see cref="Run(TransferBuilder, ImageDataset, CrossValidationOptions, TestSet?, CancellationToken)"/>.
        /// </summary>
        /// <param name="builder">A multi-label model description (<c>ForFindings(data.Findings)</c>); built once per fold.</param>
        /// <param name="data">A multi-label dataset (a table with finding columns); a kept-apart test set goes in <paramref name="test"/>.</param>
        /// <param name="options">Folds, training, loaders, calibration, threshold rule, bootstrap and the work folder.</param>
        /// <param name="test">An optional multi-label test set that stays outside the folds: predicted once, at the end, by the ensemble of the fold models.</param>
        /// <param name="cancellationToken">Stops before the next batch; the fold's checkpoint stays resumable.</param>
        /// <returns>Per-fold, pooled out-of-fold and test results.</returns>
        /// <exception cref="ArgumentException">The data are single-label, the builder's findings differ from the data's, a fold's validation carve lacks a finding's positive or negative labels, the options are invalid, or the work folder was made by another cross-validation.</exception>
        /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
        public static MultiLabelCrossValidationResult RunFindings(TransferBuilder builder, ImageDataset data, CrossValidationOptions options, TestSet? test = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(builder);
            Guard.NotNull(data);
            Guard.NotNull(options);
            options.Validate();
            RequireFindings(builder, data, nameof(data));
            return RunFindings(builder, FoldAssignment.Create(data, options.Folds), options, test, cancellationToken);
        }

        /// <summary>
        /// Runs (or continues) the multi-label cross-validation of a split's training and validation images together, keeping
        /// its test set apart (in no fold; predicted once, at the end, by the fold models' ensemble).
        /// </summary>
        /// <param name="builder">A multi-label model description, built once per fold.</param>
        /// <param name="splits">A split of a multi-label table (for example <c>ImageTable.Load(...).Split(...)</c>): train and validation are pooled and cross-validated.</param>
        /// <param name="options">Folds, training, loaders, calibration, threshold rule, bootstrap and the work folder.</param>
        /// <param name="cancellationToken">Stops before the next batch.</param>
        /// <returns>Per-fold, pooled out-of-fold and test results.</returns>
        public static MultiLabelCrossValidationResult RunFindings(TransferBuilder builder, DatasetSplits splits, CrossValidationOptions options, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(splits);
            var pooled = new ImageDataset(splits.Train.Root, splits.Train.Classes, splits.Train.Samples.Concat(splits.Validation.Samples).ToArray(), 0, splits.Train.Findings, Array.Empty<SkippedImage>());
            return RunFindings(builder, pooled, options, splits.Test.Count == 0 ? null : splits.Test, cancellationToken);
        }

        /// <summary>Runs (or continues) the multi-label cross-validation on folds made beforehand (for example to inspect them first).</summary>
        /// <param name="builder">A multi-label model description, built once per fold.</param>
        /// <param name="assignment">The folds of a multi-label dataset (<see cref="FoldAssignment.Create(ImageDataset, FoldOptions?)"/>; its options replace <see cref="CrossValidationOptions.Folds"/>).</param>
        /// <param name="options">Training, loaders, calibration, threshold rule, bootstrap and the work folder.</param>
        /// <param name="test">An optional multi-label test set that stays outside the folds.</param>
        /// <param name="cancellationToken">Stops before the next batch.</param>
        /// <returns>Per-fold, pooled out-of-fold and test results.</returns>
        public static MultiLabelCrossValidationResult RunFindings(TransferBuilder builder, FoldAssignment assignment, CrossValidationOptions options, TestSet? test = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(builder);
            Guard.NotNull(assignment);
            Guard.NotNull(options).Validate();
            RequireFindings(builder, assignment.Data, nameof(assignment));
            if (options.Evaluation.PositiveClass is not null)
            {
                throw new ArgumentException("CrossValidationOptions.Evaluation.PositiveClass is '" + options.Evaluation.PositiveClass + "', but a multi-label model has no positive class: every finding is its own binary task with its own threshold (CrossValidationOptions.FindingThresholdRule). Leave PositiveClass null.", nameof(options));
            }

            if (test is not null && !test.Images.Findings.SequenceEqual(assignment.Data.Findings, StringComparer.Ordinal))
            {
                throw new ArgumentException("The test set's findings (" + (test.Images.IsMultiLabel ? string.Join(", ", test.Images.Findings) : "none: a single-label dataset") + ") differ from the cross-validated data's (" + string.Join(", ", assignment.Data.Findings) + "); load the test table with the same layout.", nameof(test));
            }

            CheckCarves(assignment, options.Calibrate);
            var (checkedOptions, work) = Begin(assignment, options, MultiLabelFormat, assignment.Data.Findings, FindingStates, FindingsSignature(options));
            options = checkedOptions;
            var notes = new List<string>();
            if (test is not null)
            {
                notes.AddRange(LeakNotes(assignment, options, test));
            }

            var results = RunFolds(assignment, options, work, folder => MultiLabelFoldResult.Read(folder, assignment), (split, folder, name) =>
            {
                var record = TrainFindingsFold(builder, assignment, split, folder, name, options, cancellationToken);
                MultiLabelFoldResult.Write(folder, record);
                var result = MultiLabelFoldResult.Read(folder, assignment);
                Log.FindingsFoldCompleted(options.Logger, name, result.Report.MacroAuroc, result.Thresholds.ToString(), result.Calibration?.ToString() ?? "not calibrated");
                return result;
            }, cancellationToken);

            MultiLabelPredictions? testPredictions = null;
            if (test is not null)
            {
                options.Progress?.Report(new CrossValidationProgress(CrossValidationStage.Testing, assignment.Repeats, assignment.Repeats, assignment.Folds, assignment.Folds, null));
                var partial = new MultiLabelCrossValidationResult(assignment, options, results, work, null, notes);
                var ensemble = partial.LoadEnsemble(Device(options));
                try
                {
                    // Each member through its own preprocessing; the mean of their calibrated probabilities per finding.
                    var members = ensemble.Members.Select(m => m.PredictFindings(test, Prediction(options), cancellationToken)).ToArray();
                    testPredictions = ensemble.CombineFindings(members);
                    if (members[0].Patients is { } patients)
                    {
                        testPredictions = testPredictions.WithPatients(patients);
                    }
                }
                finally
                {
                    foreach (var member in ensemble.Members)
                    {
                        member.Dispose();
                    }
                }
            }

            var final = new MultiLabelCrossValidationResult(assignment, options, results, work, testPredictions, notes);
            Log.Completed(options.Logger, string.Format(CultureInfo.InvariantCulture, "mean AUROC {0:0.0000} (micro {1:0.0000})", final.Pooled.MacroAuroc, final.Pooled.MicroAuroc));
            return final;
        }

        /// <summary>
        /// Trains one final multi-label model on all the cross-validated images, after <see cref="RunFindings(TransferBuilder, FoldAssignment, CrossValidationOptions, TestSet?, CancellationToken)"/>
        /// has estimated how such a model performs: a validation carve made as in every fold (grouped by patient,
        /// stratified per finding) chooses the best epoch, the per-finding temperatures and the per-finding thresholds;
        /// the rest trains. Resumable from <c>refit/</c> in the work folder; a completed refit is read back, not retrained.
        /// </summary>
        /// <param name="builder">The multi-label model description (<see cref="TransferBuilder.ForFindings(string[])"/> with the data's findings).</param>
        /// <param name="assignment">The folds of the cross-validation (their grouping and seed make the carve).</param>
        /// <param name="options">The same options as the cross-validation.</param>
        /// <param name="cancellationToken">Stops before the next batch; the refit's checkpoint stays resumable.</param>
        /// <returns>The calibrated model with its thresholds (also saved as <c>refit/model.safetensors</c>); the caller disposes it.</returns>
        /// <exception cref="ArgumentException">The data are single-label, the builder's findings differ from the data's, or the carve lacks an observed positive or negative label of a finding.</exception>
        public static TransferModel RefitFindings(TransferBuilder builder, FoldAssignment assignment, CrossValidationOptions options, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(builder);
            Guard.NotNull(assignment);
            RequireFindings(builder, assignment.Data, nameof(builder));
            options = Guard.NotNull(options).Validate() with { Folds = assignment.Options };
            var carve = assignment.CarveAll();
            CheckCarve("refit", carve.Validation, assignment.Data.Findings, options.Calibrate);
            string folder = Path.Combine(Path.GetFullPath(options.WorkFolder), "refit");
            Directory.CreateDirectory(folder);
            var data = assignment.Data;
            var empty = new TestSet(new ImageDataset(data.Root, data.Classes, Array.Empty<ImageSample>(), 0, data.Findings, Array.Empty<SkippedImage>()));
            if (!File.Exists(Path.Combine(folder, ResultFile)))
            {
                var record = TrainFindingsFold(builder, assignment, new FoldSplit(0, -1, carve.Train, carve.Validation, empty, Array.Empty<int>()), folder, "refit", options, cancellationToken);
                MultiLabelFoldResult.Write(folder, record);
                TryDelete(Path.Combine(folder, CheckpointFile));
            }
            else
            {
                Log.FoldAlreadyComplete(options.Logger, "refit", Path.Combine(folder, ResultFile));
            }

            return TransferModel.Load(Path.Combine(folder, ModelFile), Device(options));
        }

        /// <summary>Trains, calibrates and evaluates one multi-label fold; the record is what its result file holds.</summary>
        internal static FindingFoldRecord TrainFindingsFold(TransferBuilder builder, FoldAssignment assignment, FoldSplit split, string folder, string name, CrossValidationOptions options, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var (fit, chosen, bestEpoch) = FitFold(
                builder,
                assignment,
                split,
                folder,
                name,
                options,
                model => RequireFindings(model.IsMultiLabel, model.IsMultiLabel ? model.Findings : model.ClassNames, assignment.Data, nameof(builder)),
                options.WeightFindingPositives && options.Training.PositiveWeights is null ? train => train.PositiveWeights() : null,
                cancellationToken);
            using (chosen)
            {
                var prediction = Prediction(options);
                chosen.SetFindingCalibration(null);
                var (validationRaw, _, _) = TransferModelMultiLabelExtensions.PredictFindingsIndexed(chosen, split.Validation, prediction, cancellationToken);
                var scaling = options.Calibrate ? FindingTemperatureScaling.Fit(validationRaw) : null;
                var validation = scaling?.Apply(validationRaw) ?? validationRaw;
                var thresholds = FindingThresholds.Choose(validation, options.FindingThresholdRule);
                chosen.SetFindingCalibration(scaling);
                chosen.UseFindingThresholds(thresholds);
                chosen.Save(Path.Combine(folder, ModelFile));
                var (heldOut, indices, quality) = TransferModelMultiLabelExtensions.PredictFindingsIndexed(chosen, split.HeldOut.Images, prediction, cancellationToken);
                var heldOutRaw = scaling?.Remove(heldOut) ?? heldOut;
                return new FindingFoldRecord
                {
                    Repeat = split.Repeat,
                    Repeats = assignment.Repeats,
                    Fold = split.Fold,
                    Folds = assignment.Folds,
                    Findings = assignment.Data.Findings.ToArray(),
                    TrainImages = split.Train.Count,
                    ValidationImages = split.Validation.Count,
                    TrainPatients = CountPatients(assignment, split.Train.Samples),
                    ValidationPatients = CountPatients(assignment, split.Validation.Samples),
                    HeldOutPatients = CountPatients(assignment, split.HeldOut.Samples),
                    Calibration = scaling?.ToJson(),
                    Thresholds = thresholds.ToJson(),
                    BestEpoch = bestEpoch,
                    History = fit.History.ToJson(),
                    HeldOutIndices = indices.Select(i => split.HeldOutIndices[i]).ToArray(),
                    HeldOut = FindingRows.Of(heldOut),
                    HeldOutRawProbabilities = FindingRows.Of(heldOutRaw).Probabilities,
                    Validation = FindingRows.Of(validation),
                    ValidationRawProbabilities = FindingRows.Of(validationRaw).Probabilities,
                    Skipped = Skipped(fit, quality),
                    Seconds = clock.Elapsed.TotalSeconds + EarlierSessionsSeconds(fit.History),
                };
            }
        }

        /// <summary>An image's finding states as text, for the plan's data fingerprint.</summary>
        private static string FindingStates(ImageSample sample) => string.Concat((sample.Findings ?? Array.Empty<FindingState>()).Select(s => ((int)s).ToString(CultureInfo.InvariantCulture)));

        /// <summary>The multi-label settings that change what a fold trains or chooses.</summary>
        private static string FindingsSignature(CrossValidationOptions options) => string.Join(
            "|",
            string.Empty,
            "findings",
            options.FindingThresholdRule.ToString(),
            options.Training.PositiveWeights is { } given ? string.Join(",", given.Select(w => w.ToString("R", CultureInfo.InvariantCulture))) : options.WeightFindingPositives ? "fold-positive-weights" : "no-positive-weights",
            options.Loader.Uncertainty.ToString());

        /// <summary>Refuses single-label data, and a builder that is not for the data's findings, before anything is trained or written.</summary>
        private static void RequireFindings(TransferBuilder builder, ImageDataset data, string parameter)
        {
            if (!data.IsMultiLabel)
            {
                throw new ArgumentException(
                    "'" + data.Root + "' is a single-label dataset (classes " + string.Join(", ", data.Classes) + "); CrossValidation.RunFindings and RefitFindings train multi-label models (a table with one column per finding). Use CrossValidation.Run and Refit for single-label data.",
                    parameter);
            }

            if (builder.Outputs is { } outputs)
            {
                RequireFindings(builder.Kind == TaskKind.MultiLabel, outputs, data, nameof(builder));
            }
        }

        private static void RequireFindings(bool multiLabel, IReadOnlyList<string> outputs, ImageDataset data, string parameter)
        {
            if (!multiLabel)
            {
                throw new ArgumentException(
                    "The builder makes a single-label model (classes " + string.Join(", ", outputs) + ") but '" + data.Root + "' is a multi-label dataset; build it with ForFindings(data.Findings) (" + string.Join(", ", data.Findings) + ").",
                    parameter);
            }

            if (!outputs.SequenceEqual(data.Findings, StringComparer.Ordinal))
            {
                throw new ArgumentException(
                    "The model's findings (" + string.Join(", ", outputs) + ") differ from the data's (" + string.Join(", ", data.Findings) + "); labels would be compared with the wrong outputs. Build the model with ForFindings(data.Findings).",
                    parameter);
            }
        }

        /// <summary>
        /// Every fold's validation carve needs an observed positive and an observed negative label of every finding: its
        /// threshold (and temperature) is chosen there. Checked for all folds before the first is trained, so that a rare
        /// finding does not stop the run after hours.
        /// </summary>
        private static void CheckCarves(FoldAssignment assignment, bool calibrate)
        {
            var problems = new List<string>();
            var findings = assignment.Data.Findings;
            for (int r = 0; r < assignment.Repeats; r++)
            {
                for (int f = 0; f < assignment.Folds; f++)
                {
                    problems.AddRange(CarveProblems(FoldName(r, assignment.Repeats, f, assignment.Folds), assignment.Split(f, r).Validation, findings));
                }
            }

            ThrowIfAny(problems, calibrate);
        }

        /// <summary>The refit's carve needs what every fold's does (see <see cref="CheckCarves"/>).</summary>
        private static void CheckCarve(string name, ImageDataset carve, IReadOnlyList<string> findings, bool calibrate) =>
            ThrowIfAny(CarveProblems(name, carve, findings).ToList(), calibrate);

        private static IEnumerable<string> CarveProblems(string name, ImageDataset carve, IReadOnlyList<string> findings)
        {
            for (int j = 0; j < findings.Count; j++)
            {
                int positives = carve.Samples.Count(s => s.Findings![j] == FindingState.Positive);
                int negatives = carve.Samples.Count(s => s.Findings![j] == FindingState.Negative);
                if (positives == 0 || negatives == 0)
                {
                    yield return string.Format(CultureInfo.InvariantCulture, "{0}: '{1}' has {2} positive and {3} negative observed labels in the validation carve ({4} images)", name, findings[j], positives, negatives, carve.Count);
                }
            }
        }

        private static void ThrowIfAny(List<string> problems, bool calibrate)
        {
            if (problems.Count > 0)
            {
                throw new ArgumentException(
                    "Each fold chooses every finding's threshold" + (calibrate ? " and temperature" : string.Empty) + " on its validation carve, which needs observed positive and negative labels of each finding (uncertain and missing labels do not count):" + Environment.NewLine
                    + string.Join(Environment.NewLine, problems.Take(10).Select(p => "  - " + p)) + (problems.Count > 10 ? Environment.NewLine + string.Format(CultureInfo.InvariantCulture, "  - and {0} more", problems.Count - 10) : string.Empty) + Environment.NewLine
                    + "Use fewer folds, a larger FoldOptions.ValidationFraction, more data, or leave the rare findings out of the model (and the table's layout).",
                    "assignment");
            }
        }
    }
}
