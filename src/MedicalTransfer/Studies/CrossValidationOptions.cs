using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Training;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedicalTransfer.Studies
{
    /// <summary>Where a cross-validation run is.</summary>
    public enum CrossValidationStage
    {
        /// <summary>A fold starts (or resumes) training.</summary>
        Training,

        /// <summary>A fold's best model is calibrated and evaluated.</summary>
        Evaluating,

        /// <summary>A fold is done.</summary>
        FoldCompleted,

        /// <summary>A fold was found complete in the work folder and not trained again.</summary>
        FoldSkipped,

        /// <summary>The kept-apart test set is evaluated by the fold models' ensemble.</summary>
        Testing,
    }

    /// <summary>A progress report of a cross-validation run: which fold, and the fold's own training progress.</summary>
    /// <param name="Stage">What is happening.</param>
    /// <param name="Repeat">1-based repeat.</param>
    /// <param name="Repeats">Number of repeats.</param>
    /// <param name="Fold">1-based fold.</param>
    /// <param name="Folds">Number of folds.</param>
    /// <param name="Training">The fold's training progress, during <see cref="CrossValidationStage.Training"/>; otherwise <see langword="null"/>.</param>
    public sealed record CrossValidationProgress(CrossValidationStage Stage, int Repeat, int Repeats, int Fold, int Folds, TrainingProgress? Training)
    {
        /// <summary>For example <c>fold 2/5</c> or <c>repeat 1/3, fold 2/5</c>.</summary>
        public string FoldName => CrossValidation.FoldName(Repeat - 1, Repeats, Fold - 1, Folds);
    }

    /// <summary>What a fold's callback factory is told.</summary>
    /// <param name="Repeat">0-based repeat.</param>
    /// <param name="Fold">0-based fold.</param>
    /// <param name="Folder">The fold's folder in the work folder (for files a callback writes).</param>
    public sealed record CrossValidationFold(int Repeat, int Fold, string Folder);

    /// <summary>
    /// How <see cref="CrossValidation.Run(TransferBuilder, ImageDataset, CrossValidationOptions, TestSet?, System.Threading.CancellationToken)"/> runs: the folds, the training every fold repeats from scratch, the
    /// data loading, calibration, evaluation and the work folder that makes the run resumable. Immutable;
    /// validated once when the run starts, reporting every problem in one message.
    /// </summary>
    public sealed record CrossValidationOptions
    {
        /// <summary>Folds, repeats, seed, patient grouping and the validation carve.</summary>
        /// <value>The default is 5 folds, 1 repeat, seed 0, every image its own group, 20% validation.</value>
        public FoldOptions Folds { get; init; } = new();

        /// <summary>
        /// The folder that holds every fold's checkpoint, best and calibrated model and results. A run that is
        /// stopped (cancelled, killed, a power cut) continues from it at the fold and epoch it reached when started
        /// again with the same data and options; a folder made for other data or folds is refused.
        /// </summary>
        /// <value>The default is empty: it must be set.</value>
        public string WorkFolder { get; init; } = string.Empty;

        /// <summary>
        /// The training every fold repeats on a freshly built model: optimizer, schedule, epochs, class weights, seed.
        /// The run sets <see cref="TrainingOptions.CheckpointPath"/>, <see cref="TrainingOptions.ResumeFrom"/> and the
        /// callbacks per fold, so those must be left unset here (give callbacks through <see cref="Callbacks"/>).
        /// </summary>
        /// <value>The default is <see cref="TrainingOptions"/>' defaults.</value>
        public TrainingOptions Training { get; init; } = new();

        /// <summary>Progressive fine-tuning phases every fold runs, or <see langword="null"/> for a single-phase fit of <see cref="Training"/>.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public IReadOnlyList<TrainingPhase>? Phases { get; init; }

        /// <summary>
        /// Creates each fold's own callbacks (callbacks hold state, such as early stopping's patience, so every fold
        /// needs new ones). A best-checkpoint callback on <see cref="CheckpointMetric"/> is always added first.
        /// </summary>
        /// <value>The default is <see langword="null"/>: no callbacks of your own.</value>
        public Func<CrossValidationFold, IReadOnlyList<ITrainingCallback>>? Callbacks { get; init; }

        /// <summary>The validation metric that chooses each fold's best epoch (its model is the fold's model).</summary>
        /// <value>The default is <see cref="TrainingMetric.ValidationLoss"/>.</value>
        public TrainingMetric CheckpointMetric { get; init; } = TrainingMetric.ValidationLoss;

        /// <summary>Batch size, workers, device, data-order seed and caching of every loader; sampling and drop-last are set per use.</summary>
        /// <value>The default is <see cref="LoaderOptions"/>' defaults.</value>
        public LoaderOptions Loader { get; init; } = new();

        /// <summary>The training transform built from each fold model's preprocessing.</summary>
        /// <value>The default is <see cref="Transforms.ForTraining"/>.</value>
        public Func<Preprocessing, ImageTransform>? TrainingTransform { get; init; }

        /// <summary>Fit a temperature on each fold's validation carve and apply it to the fold's held-out predictions and saved model.</summary>
        /// <value>The default is <see langword="true"/>.</value>
        public bool Calibrate { get; init; } = true;

        /// <summary>
        /// The positive class, operating point and bootstrap of the per-fold, pooled and test reports. A data-driven
        /// operating point is chosen on each fold's validation carve for the fold, on all folds' validation predictions
        /// for the pooled report, and on the pooled out-of-fold predictions for the test set: never on the data it is
        /// reported on.
        /// </summary>
        /// <value>The default is <see cref="EvaluationOptions"/>' defaults (no positive class: no binary metrics).</value>
        public EvaluationOptions Evaluation { get; init; } = new();

        /// <summary>
        /// Multi-label runs (<see cref="CrossValidation.RunFindings(TransferBuilder, ImageDataset, CrossValidationOptions, TestSet?, System.Threading.CancellationToken)"/>):
        /// how each finding's threshold is chosen, on each fold's (calibrated) validation carve for the fold, on all folds'
        /// validation predictions for the pooled out-of-fold report, and on the pooled out-of-fold predictions for the test set.
        /// Ignored by single-label runs (their <see cref="EvaluationOptions.OperatingPoint"/> decides).
        /// </summary>
        /// <value>The default is <see cref="FindingThresholdRule.YoudenJ"/>, as for a single multi-label model.</value>
        public FindingThresholdRule FindingThresholdRule { get; init; } = FindingThresholdRule.YoudenJ;

        /// <summary>
        /// Multi-label runs: train each fold with <see cref="TrainingOptions.PositiveWeights"/> set to its own training part's
        /// negatives / positives per finding (<c>trainLoader.PositiveWeights()</c>, masked labels not counted), so that each
        /// finding's positives weigh as much as its negatives. A <see cref="TrainingOptions.PositiveWeights"/> given in
        /// <see cref="Training"/> is used as it is instead. Ignored by single-label runs.
        /// </summary>
        /// <value>The default is <see langword="true"/>.</value>
        public bool WeightFindingPositives { get; init; } = true;

        /// <summary>Receives which fold runs and its training progress.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public IProgress<CrossValidationProgress>? Progress { get; init; }

        /// <summary>Receives the run's messages; each fold's training messages are prefixed with the fold's name.</summary>
        /// <value>The default is <see cref="NullLogger.Instance"/>.</value>
        public ILogger Logger { get; init; } = NullLogger.Instance;

        internal CrossValidationOptions Validate()
        {
            var problems = new List<string>();
            if (string.IsNullOrWhiteSpace(WorkFolder))
            {
                problems.Add("WorkFolder must be set: every fold's checkpoint, models and results are kept there, which makes the run resumable.");
            }

            if (Folds is null)
            {
                problems.Add("Folds must not be null.");
            }
            else
            {
                try
                {
                    Folds.Validate();
                }
                catch (ArgumentException ex)
                {
                    problems.Add(ex.Message);
                }
            }

            if (Training is null)
            {
                problems.Add("Training must not be null.");
            }
            else
            {
                if (Training.CheckpointPath is not null || Training.ResumeFrom is not null)
                {
                    problems.Add("Training.CheckpointPath and Training.ResumeFrom must be null: the run keeps one checkpoint per fold in WorkFolder and resumes from it.");
                }

                if (Training.Callbacks is { Count: > 0 })
                {
                    problems.Add(string.Format(CultureInfo.InvariantCulture, "Training.Callbacks has {0} callback(s), which would carry their state from fold to fold; give a factory in CrossValidationOptions.Callbacks instead.", Training.Callbacks.Count));
                }
            }

            if (Loader is null)
            {
                problems.Add("Loader must not be null.");
            }

            if (Evaluation is null)
            {
                problems.Add("Evaluation must not be null.");
            }

            if (Logger is null)
            {
                problems.Add("Logger must not be null; use NullLogger.Instance.");
            }

            if (FindingThresholdRule is null)
            {
                problems.Add("FindingThresholdRule must not be null; use FindingThresholdRule.YoudenJ.");
            }

            if (Phases is not null && (Phases.Count == 0 || Phases.Any(p => p is null)))
            {
                problems.Add("Phases must be null or hold at least one phase and no null.");
            }

            if (problems.Count > 0)
            {
                throw new ArgumentException("The cross-validation options are invalid:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)));
            }

            return this;
        }
    }
}
