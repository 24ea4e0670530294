using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace MedicalTransfer.Studies
{
    /// <summary>
    /// Patient-level k-fold cross-validation: every fold builds a fresh model from the same builder, trains it
    /// with the same options on the other folds (its validation carve choosing the best epoch, the temperature
    /// and the operating point), and predicts its held-out fold once. Folds run one after another; each is
    /// resumable from the work folder, so a stopped run continues at the fold and epoch it reached.
    /// <code>
    /// var result = CrossValidation.Run(
    ///     TransferBuilder.FromPretrained(ResNetWeights.MLNetResNet18).WithHead(Head.Mlp(256)).ForClasses("NORMAL", "PNEUMONIA"),
    ///     ImageFolder.Load("chest_xray/train"),
    ///     new CrossValidationOptions
    ///     {
    ///         Folds = new FoldOptions { Folds = 5, GroupPattern = @"^(person\d+)_" },
    ///         WorkFolder = "cv-run",
    ///         Training = new TrainingOptions { Epochs = 10 },
    ///         Evaluation = new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.TargetSensitivity(0.95) },
    ///     });
    /// Console.WriteLine(result);   // per fold, mean +/- SD, pooled out-of-fold metrics with intervals
    /// </code>
    /// </summary>
    public static partial class CrossValidation
    {
        internal const string ResultFile = "result.json";
        internal const string ModelFile = "model.safetensors";
        internal const string BestFile = "best.safetensors";
        internal const string CheckpointFile = "checkpoint.mtckpt";
        internal const string PlanFile = "folds.json";
        private const string SingleLabelFormat = "medicaltransfer.cross-validation";
        private const string MultiLabelFormat = "medicaltransfer.cross-validation.findings";

        /// <summary>
        /// Runs (or continues) the cross-validation.
        /// </summary>
        /// <param name="builder">The model description; <see cref="TransferBuilder.Build"/> is called once per fold, so every fold starts from the same initial weights.</param>
        /// <param name="data">The images to cross-validate (for example the train and validation folders together); a kept-apart test set goes in <paramref name="test"/>.</param>
        /// <param name="options">Folds, training, loaders, calibration, evaluation and the work folder.</param>
        /// <param name="test">An optional test set that stays outside the folds: evaluated once, at the end, by the ensemble of the fold models.</param>
        /// <param name="cancellationToken">Stops before the next batch; the fold's checkpoint stays resumable.</param>
        /// <returns>Per-fold, pooled out-of-fold and test results.</returns>
        /// <exception cref="ArgumentException">The options are invalid, the builder's classes differ from the data's, or the work folder was made by another cross-validation.</exception>
        /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
        public static CrossValidationResult Run(TransferBuilder builder, ImageDataset data, CrossValidationOptions options, TestSet? test = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(builder);
            Guard.NotNull(data);
            Guard.NotNull(options);
            options.Validate();
            var assignment = FoldAssignment.Create(data, options.Folds);
            return Run(builder, assignment, options, test, cancellationToken);
        }

        /// <summary>
        /// Runs (or continues) the cross-validation of a split's training and validation images together, keeping its
        /// test set apart: the test images are in no fold and are evaluated once, at the end, by the fold models' ensemble.
        /// </summary>
        /// <param name="builder">The model description, built once per fold.</param>
        /// <param name="splits">A split (for example <see cref="ImageFolder.LoadSplits"/>): train and validation are pooled and cross-validated.</param>
        /// <param name="options">Folds, training, loaders, calibration, evaluation and the work folder.</param>
        /// <param name="cancellationToken">Stops before the next batch.</param>
        /// <returns>Per-fold, pooled out-of-fold and test results.</returns>
        public static CrossValidationResult Run(TransferBuilder builder, DatasetSplits splits, CrossValidationOptions options, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(splits);
            var pooled = new ImageDataset(splits.Train.Root, splits.Train.Classes, splits.Train.Samples.Concat(splits.Validation.Samples).ToArray(), 0, splits.Train.Findings, Array.Empty<SkippedImage>());
            return Run(builder, pooled, options, splits.Test.Count == 0 ? null : splits.Test, cancellationToken);
        }

        /// <summary>Runs (or continues) the cross-validation on folds made beforehand (for example to inspect them first).</summary>
        /// <param name="builder">The model description, built once per fold.</param>
        /// <param name="assignment">The folds (made with <see cref="FoldAssignment.Create(ImageDataset, FoldOptions?)"/>; its options replace <see cref="CrossValidationOptions.Folds"/>).</param>
        /// <param name="options">Training, loaders, calibration, evaluation and the work folder.</param>
        /// <param name="test">An optional test set that stays outside the folds.</param>
        /// <param name="cancellationToken">Stops before the next batch.</param>
        /// <returns>Per-fold, pooled out-of-fold and test results.</returns>
        public static CrossValidationResult Run(TransferBuilder builder, FoldAssignment assignment, CrossValidationOptions options, TestSet? test = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(builder);
            Guard.NotNull(assignment);
            if (assignment.Data.IsMultiLabel)
            {
                throw new ArgumentException(MultiLabelRefusal(assignment.Data, "Run"), nameof(assignment));
            }

            var (checkedOptions, work) = Begin(assignment, options, SingleLabelFormat, assignment.Data.Classes, s => s.Label.ToString(CultureInfo.InvariantCulture), string.Empty);
            options = checkedOptions;
            var log = options.Logger;
            var notes = new List<string>();
            if (test is not null)
            {
                Evaluator.CheckClasses(assignment.Data.Classes, test.Classes);
                notes.AddRange(LeakNotes(assignment, options, test));
            }

            var results = RunFolds(assignment, options, work, folder => FoldResult.Read(folder, options.Evaluation), (split, folder, name) =>
            {
                var record = TrainFold(builder, assignment, split, folder, name, options, cancellationToken);
                FoldResult.Write(folder, record);
                var result = FoldResult.Read(folder, options.Evaluation);
                Log.FoldCompleted(log, name, result.Report.Classification.Accuracy, result.Report.MacroRocAuc, result.Calibration?.ToString() ?? "not calibrated");
                return result;
            }, cancellationToken);

            EvaluationReport? testReport = null;
            if (test is not null)
            {
                options.Progress?.Report(new CrossValidationProgress(CrossValidationStage.Testing, assignment.Repeats, assignment.Repeats, assignment.Folds, assignment.Folds, null));
                var partial = new CrossValidationResult(assignment, options, results, work, null, 0, notes);
                var ensemble = partial.LoadEnsemble(Device(options));
                try
                {
                    // A data-driven operating point is chosen on the pooled out-of-fold predictions, never on the test set.
                    testReport = Evaluator.Evaluate(ensemble, test, options.Evaluation, partial.OutOfFold, Prediction(options), cancellationToken);
                }
                finally
                {
                    foreach (var member in ensemble.Members)
                    {
                        member.Dispose();
                    }
                }
            }

            var final = new CrossValidationResult(assignment, options, results, work, testReport, test?.Count ?? 0, notes);
            Log.Completed(log, string.Format(CultureInfo.InvariantCulture, "accuracy {0:0.0000}, macro AUC {1:0.0000}", final.Pooled.Classification.Accuracy, final.Pooled.MacroRocAuc));
            return final;
        }

        /// <summary>
        /// Trains one final model on all the cross-validated images (with a validation carve made as in every fold,
        /// for the best epoch, the temperature and the operating point), after cross-validation has estimated how such
        /// a model performs. Resumable from <c>refit/</c> in the work folder.
        /// </summary>
        /// <param name="builder">The model description.</param>
        /// <param name="assignment">The folds of the cross-validation (their grouping and seed make the carve).</param>
        /// <param name="options">The same options as the cross-validation.</param>
        /// <param name="cancellationToken">Stops before the next batch.</param>
        /// <returns>The calibrated model (also saved as <c>refit/model.safetensors</c>); the caller disposes it.</returns>
        public static TransferModel Refit(TransferBuilder builder, FoldAssignment assignment, CrossValidationOptions options, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(builder);
            Guard.NotNull(assignment);
            if (assignment.Data.IsMultiLabel)
            {
                throw new ArgumentException(MultiLabelRefusal(assignment.Data, "Refit"), nameof(assignment));
            }

            options = Guard.NotNull(options).Validate() with { Folds = assignment.Options };
            string folder = Path.Combine(Path.GetFullPath(options.WorkFolder), "refit");
            Directory.CreateDirectory(folder);
            var carve = assignment.CarveAll();
            var empty = new TestSet(new ImageDataset(assignment.Data.Root, assignment.Data.Classes, Array.Empty<ImageSample>(), 0));
            if (!File.Exists(Path.Combine(folder, ResultFile)))
            {
                var record = TrainFold(builder, assignment, new FoldSplit(0, -1, carve.Train, carve.Validation, empty, Array.Empty<int>()), folder, "refit", options, cancellationToken);
                FoldResult.Write(folder, record);
                TryDelete(Path.Combine(folder, CheckpointFile));
            }

            return TransferModel.Load(Path.Combine(folder, ModelFile), Device(options));
        }

        internal static string FoldName(int repeat, int repeats, int fold, int folds) => repeats > 1
            ? string.Format(CultureInfo.InvariantCulture, "repeat {0}/{1}, fold {2}/{3}", repeat + 1, repeats, fold + 1, folds)
            : string.Format(CultureInfo.InvariantCulture, "fold {0}/{1}", fold + 1, folds);

        internal static string FoldFolder(string work, int repeat, int repeats, int fold) => repeats > 1
            ? Path.Combine(work, string.Format(CultureInfo.InvariantCulture, "repeat-{0}", repeat + 1), string.Format(CultureInfo.InvariantCulture, "fold-{0}", fold + 1))
            : Path.Combine(work, string.Format(CultureInfo.InvariantCulture, "fold-{0}", fold + 1));

        private static FoldRecord TrainFold(TransferBuilder builder, FoldAssignment assignment, FoldSplit split, string folder, string name, CrossValidationOptions options, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var (fit, chosen, bestEpoch) = FitFold(builder, assignment, split, folder, name, options, model => Evaluator.CheckClasses(model.ClassNames, assignment.Data.Classes), null, cancellationToken);
            using (chosen)
            {
                var prediction = Prediction(options);
                var validationRaw = Evaluator.Predict(chosen, split.Validation, prediction, cancellationToken);
                var scaling = options.Calibrate ? TemperatureScaling.Fit(validationRaw) : null;
                chosen.SetCalibration(scaling);
                chosen.Save(Path.Combine(folder, ModelFile));
                var validationCalibrated = scaling?.Apply(validationRaw) ?? validationRaw;
                var (heldOut, indices, quality) = Evaluator.PredictIndexed(chosen, split.HeldOut.Images, prediction, cancellationToken);
                var heldOutRaw = scaling?.Remove(heldOut) ?? heldOut;
                double? threshold = options.Evaluation.PositiveClass is string positive ? options.Evaluation.OperatingPoint.Resolve(validationCalibrated, positive) : null;
                return new FoldRecord
                {
                    Repeat = split.Repeat,
                    Repeats = assignment.Repeats,
                    Fold = split.Fold,
                    Folds = assignment.Folds,
                    Classes = assignment.Data.Classes.ToArray(),
                    TrainImages = split.Train.Count,
                    ValidationImages = split.Validation.Count,
                    TrainPatients = CountPatients(assignment, split.Train.Samples),
                    ValidationPatients = CountPatients(assignment, split.Validation.Samples),
                    HeldOutPatients = CountPatients(assignment, split.HeldOut.Samples),
                    Calibration = TemperatureScaling.ToMetadata(scaling),
                    Threshold = threshold,
                    BestEpoch = bestEpoch,
                    History = fit.History.ToJson(),
                    HeldOutIndices = indices.Select(i => split.HeldOutIndices[i]).ToArray(),
                    HeldOutLabels = heldOut.RawLabels,
                    HeldOutProbabilities = heldOut.RawProbabilities,
                    HeldOutRawProbabilities = heldOutRaw.RawProbabilities,
                    ValidationLabels = validationCalibrated.RawLabels,
                    ValidationProbabilities = validationCalibrated.RawProbabilities,
                    Skipped = Skipped(fit, quality),
                    Seconds = clock.Elapsed.TotalSeconds + EarlierSessionsSeconds(fit.History),
                };
            }
        }

        /// <summary>
        /// The seconds of the epochs that sessions before this one trained (a killed or cancelled fold resumed from its
        /// checkpoint): the epochs up to the last resume, whose records the checkpoint carried over. Zero for a fold trained
        /// in one session. This session's own time is the caller's clock.
        /// </summary>
        internal static double EarlierSessionsSeconds(TrainingHistory history)
        {
            TrainingEvent? resume = history.Events.LastOrDefault(e => e.Kind == "resume");
            return resume is null ? 0 : history.Epochs.Where(e => e.Epoch <= resume.Epoch).Sum(e => e.Seconds);
        }

        /// <summary>
        /// The training every fold shares, whatever its task: a fresh model from the builder (seeded so that every fold starts
        /// from the same weights), trained (or resumed from the fold's checkpoint) on the fold's training part with its
        /// validation carve choosing the best epoch. Returns the best epoch's model, loaded from its file; the caller calibrates,
        /// saves and disposes it. <c>checkModel</c> refuses a built model whose outputs do not fit the data; <c>positiveWeights</c>
        /// (multi-label folds) gives the positive weights from the fold's training loader, or is <see langword="null"/> to train
        /// with <see cref="CrossValidationOptions.Training"/>'s as given.
        /// </summary>
        private static (TrainingResult Fit, TransferModel Best, int BestEpoch) FitFold(TransferBuilder builder, FoldAssignment assignment, FoldSplit split, string folder, string name, CrossValidationOptions options, Action<TransferModel> checkModel, Func<DataLoader, IReadOnlyList<float>>? positiveWeights, CancellationToken cancellationToken)
        {
            var log = new PrefixLogger(options.Logger, "[" + name + "] ");
            string checkpoint = Path.Combine(folder, CheckpointFile);
            string best = Path.Combine(folder, BestFile);
            bool resuming = File.Exists(checkpoint);
            Log.FoldStarted(options.Logger, name, split.Train.Count, split.Validation.Count, split.HeldOut.Count);
            if (resuming)
            {
                Log.FoldResuming(options.Logger, name, checkpoint);
            }

            options.Progress?.Report(new CrossValidationProgress(CrossValidationStage.Training, split.Repeat + 1, assignment.Repeats, split.Fold + 1, assignment.Folds, null));
            long seed = options.Training.Seed ?? assignment.Options.Seed;

            // Every fold starts from the same initial weights, whatever used the global generator before.
            torch.random.manual_seed(seed);
            using var model = builder.Build(cancellationToken);
            checkModel(model);
            var loader = options.Loader;
            var trainTransform = (options.TrainingTransform ?? Transforms.ForTraining)(model.Preprocessing);
            using var train = new DataLoader(split.Train, trainTransform, loader with { Sampling = SamplingMode.Shuffle });
            using var validation = new DataLoader(split.Validation, Transforms.ForEvaluation(model.Preprocessing), loader with { Sampling = SamplingMode.Sequential, DropLast = false });
            var callbacks = new List<ITrainingCallback> { new BestCheckpoint(best, options.CheckpointMetric) };
            if (options.Callbacks is not null)
            {
                callbacks.AddRange(options.Callbacks(new CrossValidationFold(split.Repeat, split.Fold, folder)) ?? Array.Empty<ITrainingCallback>());
            }

            var progress = options.Progress is null ? null : new FoldProgress(options.Progress, split.Repeat + 1, assignment.Repeats, split.Fold + 1, assignment.Folds);
            var training = options.Training with
            {
                CheckpointPath = checkpoint,
                ResumeFrom = resuming ? checkpoint : null,
                Callbacks = callbacks,
                Seed = seed,
                Logger = log,
                Progress = progress ?? options.Training.Progress,
                PositiveWeights = positiveWeights?.Invoke(train) ?? options.Training.PositiveWeights,
            };
            var fit = options.Phases is null
                ? model.Fit(train, validation, training, cancellationToken)
                : model.FitProgressive(train, validation, options.Phases, training, cancellationToken);

            options.Progress?.Report(new CrossValidationProgress(CrossValidationStage.Evaluating, split.Repeat + 1, assignment.Repeats, split.Fold + 1, assignment.Folds, null));
            var bestEpoch = callbacks[0] is BestCheckpoint b ? b.BestEpoch : 0;
            return (fit, TransferModel.Load(best, model.Device), bestEpoch);
        }

        private static int CountPatients(FoldAssignment assignment, IEnumerable<ImageSample> samples) => samples.Select(s => assignment.Options.GroupKey(s)).Distinct(StringComparer.Ordinal).Count();

        private static string[][] Skipped(TrainingResult fit, DataQualityReport heldOut) =>
            fit.TrainingDataQuality.Skipped.Concat(fit.ValidationDataQuality.Skipped).Concat(heldOut.Skipped).Select(s => new[] { s.Path, s.Reason }).ToArray();

        private static PredictionOptions Prediction(CrossValidationOptions options) => new() { Loader = options.Loader with { Sampling = SamplingMode.Sequential, DropLast = false } };

        private static torch.Device? Device(CrossValidationOptions options) => options.Loader.Device;

        /// <summary>
        /// What every run does before its first fold, whatever its task: validates the options (the assignment's fold options
        /// replacing <see cref="CrossValidationOptions.Folds"/>), makes the work folder, checks or writes its plan, and logs the
        /// start and any missed balance target. <c>format</c> is the plan's format, one per task, so that a work folder of the
        /// other task is refused; <c>outputs</c> the classes or findings; <c>labelOf</c> an image's label as text (its class
        /// index, or its finding states); <c>taskSignature</c> the task-specific settings that change what is trained.
        /// </summary>
        private static (CrossValidationOptions Options, string Work) Begin(FoldAssignment assignment, CrossValidationOptions options, string format, IReadOnlyList<string> outputs, Func<ImageSample, string> labelOf, string taskSignature)
        {
            options = Guard.NotNull(options).Validate() with { Folds = assignment.Options };
            string work = Path.GetFullPath(options.WorkFolder);
            Directory.CreateDirectory(work);
            CheckPlan(work, assignment, options, format, outputs, labelOf, taskSignature);
            Log.Started(options.Logger, assignment.Data.Count, assignment.GroupCount, assignment.Folds, assignment.Repeats, assignment.Options.Seed, work);
            foreach (var miss in assignment.Balance.Where(b => !b.WithinTarget))
            {
                Log.BalanceMissed(options.Logger, FoldName(miss.Repeat, assignment.Repeats, miss.Fold, assignment.Folds), string.Format(CultureInfo.InvariantCulture, "{0}: {1} images, ideal {2:0.#} +/- {3:0.#}", miss.ClassName, miss.Count, miss.Ideal, miss.Tolerance));
            }

            return (options, work);
        }

        /// <summary>A note when patients of the kept-apart test set also have images in the cross-validated data.</summary>
        private static IEnumerable<string> LeakNotes(FoldAssignment assignment, CrossValidationOptions options, TestSet test)
        {
            var patients = new HashSet<string>(Enumerable.Range(0, assignment.Data.Count).Select(assignment.GroupOf), StringComparer.Ordinal);
            var leaked = test.Samples.Select(s => options.Folds.GroupKey(s)).Where(patients.Contains).Distinct(StringComparer.Ordinal).ToArray();
            if (leaked.Length > 0)
            {
                yield return string.Format(CultureInfo.InvariantCulture, "Group leak: {0} patients have images in both the test set and the cross-validated data (for example {1}); test results may be optimistic.", leaked.Length, leaked[0]);
            }
        }

        /// <summary>
        /// The fold loop every run shares: folds one after another, a fold whose result file exists read back (not trained
        /// again), the others trained by <paramref name="train"/> (which writes the result file and returns it read back),
        /// each complete fold's resumable checkpoint removed, and progress reported per fold.
        /// </summary>
        private static List<TFold> RunFolds<TFold>(FoldAssignment assignment, CrossValidationOptions options, string work, Func<string, TFold> read, Func<FoldSplit, string, string, TFold> train, CancellationToken cancellationToken)
        {
            var results = new List<TFold>();
            for (int r = 0; r < assignment.Repeats; r++)
            {
                for (int f = 0; f < assignment.Folds; f++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    string folder = FoldFolder(work, r, assignment.Repeats, f);
                    string name = FoldName(r, assignment.Repeats, f, assignment.Folds);
                    if (File.Exists(Path.Combine(folder, ResultFile)))
                    {
                        Log.FoldAlreadyComplete(options.Logger, name, Path.Combine(folder, ResultFile));
                        results.Add(read(folder));
                        options.Progress?.Report(new CrossValidationProgress(CrossValidationStage.FoldSkipped, r + 1, assignment.Repeats, f + 1, assignment.Folds, null));
                        continue;
                    }

                    Directory.CreateDirectory(folder);
                    var result = train(assignment.Split(f, r), folder, name);
                    TryDelete(Path.Combine(folder, CheckpointFile)); // the fold is complete: its resumable training state is no longer needed
                    results.Add(result);
                    options.Progress?.Report(new CrossValidationProgress(CrossValidationStage.FoldCompleted, r + 1, assignment.Repeats, f + 1, assignment.Folds, null));
                }
            }

            return results;
        }

        private static string MultiLabelRefusal(ImageDataset data, string verb) => verb == "Run"
            ? "'" + data.Root + "' is a multi-label dataset (findings " + string.Join(", ", data.Findings) + "); CrossValidation.Run trains and evaluates single-label models. Use CrossValidation.RunFindings(builder, data, options) with a builder made with ForFindings(data.Findings): the same patient-grouped folds, stratified per finding, with per-finding temperatures and thresholds chosen on each fold's validation carve (docs/study.md, multi-label studies)."
            : "'" + data.Root + "' is a multi-label dataset (findings " + string.Join(", ", data.Findings) + "); CrossValidation.Refit trains single-label models only. Use CrossValidation.RefitFindings(builder, folds, options) with a builder made with ForFindings(data.Findings), or the fold models of CrossValidation.RunFindings as an ensemble (MultiLabelCrossValidationResult.LoadEnsemble) (docs/study.md, multi-label studies).";

        /// <summary>Writes the fold plan on the first run; on later runs refuses a work folder made for other data, folds or training.</summary>
        private static void CheckPlan(string work, FoldAssignment assignment, CrossValidationOptions options, string format, IReadOnlyList<string> outputs, Func<ImageSample, string> labelOf, string taskSignature)
        {
            var plan = new Dictionary<string, string>
            {
                ["format"] = format,
                ["data"] = Fingerprint(assignment.Data.Samples.Select(s => Path.GetRelativePath(assignment.Data.Root, s.Path).Replace('\\', '/') + "|" + labelOf(s))),
                ["classes"] = string.Join(",", outputs),
                ["folds"] = Fingerprint(Enumerable.Range(0, assignment.Repeats).Select(r => string.Join(",", Enumerable.Range(0, assignment.Data.Count).Select(i => assignment.FoldOf(i, r).ToString(CultureInfo.InvariantCulture))))),
                ["validation"] = assignment.Options.ValidationFraction.ToString("R", CultureInfo.InvariantCulture),
                ["training"] = TrainingSignature(options) + taskSignature,
            };
            string path = Path.Combine(work, PlanFile);
            if (!File.Exists(path))
            {
                AtomicFile.WriteText(path, JsonSerializer.Serialize(plan, new JsonSerializerOptions { WriteIndented = true }));
                return;
            }

            Dictionary<string, string>? saved;
            try
            {
                saved = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path));
            }
            catch (JsonException ex)
            {
                throw new ArgumentException($"The work folder's plan '{path}' is damaged ({ex.Message}); use a new work folder.", nameof(options), ex);
            }

            var differ = plan.Where(kv => saved is null || !saved.TryGetValue(kv.Key, out var v) || v != kv.Value).Select(kv => kv.Key).ToArray();
            if (differ.Length > 0)
            {
                throw new ArgumentException(string.Format(
                    CultureInfo.InvariantCulture,
                    "The work folder '{0}' holds a cross-validation of other {1} than this run's; its folds cannot be reused. Give a new CrossValidationOptions.WorkFolder, or delete '{0}' to start again.",
                    work, string.Join(", ", differ.Select(d => d switch { "format" => "task (single-label or multi-label)", "data" => "images or labels", "folds" => "fold assignments", "training" => "training settings", _ => d }))), nameof(options));
            }
        }

        private static string TrainingSignature(CrossValidationOptions options)
        {
            var t = options.Training;
            var parts = new List<string>
            {
                t.Epochs.ToString(CultureInfo.InvariantCulture),
                t.Optimizer.ToString(),
                t.LearningRate.ToString("R", CultureInfo.InvariantCulture),
                t.WeightDecay.ToString("R", CultureInfo.InvariantCulture),
                t.Schedule?.GetType().Name ?? "none",
                t.ClassWeights is null ? "-" : string.Join(",", t.ClassWeights.Select(w => w.ToString("R", CultureInfo.InvariantCulture))),
                t.LabelSmoothing.ToString("R", CultureInfo.InvariantCulture),
                t.Seed?.ToString(CultureInfo.InvariantCulture) ?? "-",
                options.Phases is null ? "fit" : string.Join(";", options.Phases.Select(p => string.Format(CultureInfo.InvariantCulture, "{0}|{1}|{2:R}|{3}", p.Name, p.Freeze, p.LearningRate, p.Epochs))),
                options.Calibrate ? "calibrated" : "raw",
                options.CheckpointMetric.ToString(),
                options.Loader.BatchSize.ToString(CultureInfo.InvariantCulture),
                options.Loader.Seed.ToString(CultureInfo.InvariantCulture),
            };
            return string.Join("|", parts);
        }

        private static string Fingerprint(IEnumerable<string> lines) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", lines))));

        private static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
                // A leftover checkpoint only costs disk space.
            }
        }

        /// <summary>Forwards a fold's training progress, tagged with the fold.</summary>
        private sealed class FoldProgress : IProgress<TrainingProgress>
        {
            private readonly IProgress<CrossValidationProgress> target;
            private readonly int repeat;
            private readonly int repeats;
            private readonly int fold;
            private readonly int folds;

            public FoldProgress(IProgress<CrossValidationProgress> target, int repeat, int repeats, int fold, int folds)
            {
                this.target = target;
                this.repeat = repeat;
                this.repeats = repeats;
                this.fold = fold;
                this.folds = folds;
            }

            public void Report(TrainingProgress value) => target.Report(new CrossValidationProgress(CrossValidationStage.Training, repeat, repeats, fold, folds, value));
        }

        /// <summary>Prefixes every message with the fold's name, so that interleaved training logs say which fold they are about.</summary>
        private sealed class PrefixLogger : ILogger
        {
            private readonly ILogger inner;
            private readonly string prefix;

            public PrefixLogger(ILogger inner, string prefix)
            {
                this.inner = inner;
                this.prefix = prefix;
            }

            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => inner.BeginScope(state);

            public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                inner.Log(logLevel, eventId, state, exception, (s, e) => prefix + formatter(s, e));
        }
    }
}
