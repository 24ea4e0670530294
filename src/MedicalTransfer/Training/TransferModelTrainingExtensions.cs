using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Training
{
    /// <summary>
    /// Training verbs on <see cref="TransferModel"/>. Training reads only an <see cref="ImageDataset"/>'s
    /// training and validation loaders: a <see cref="TestSet"/> cannot be passed, so test data never drives
    /// checkpoint selection, early stopping or the learning-rate schedule.
    /// <code>
    /// var result = model.Fit(trainLoader, validationLoader, new TrainingOptions
    /// {
    ///     Epochs = 30,
    ///     Callbacks = new ITrainingCallback[] { new BestCheckpoint("best.safetensors"), new EarlyStopping() },
    /// });
    /// </code>
    /// </summary>
    public static class TransferModelTrainingExtensions
    {
        /// <summary>
        /// Trains the model's currently trainable parameters (see <see cref="TransferModel.Freeze"/>) for
        /// <see cref="TrainingOptions.Epochs"/> epochs at <see cref="TrainingOptions.LearningRate"/>, validating
        /// after every epoch. The model stays on its device; it is left in evaluation mode.
        /// </summary>
        /// <param name="model">The model to train.</param>
        /// <param name="train">The training batches.</param>
        /// <param name="validation">The validation batches (never the test set).</param>
        /// <param name="options">Optimizer, schedule, loss, callbacks, checkpoints; <see langword="null"/> for the article's defaults.</param>
        /// <param name="cancellationToken">Stops training before the next batch; the last checkpoint stays intact and resumable.</param>
        /// <returns>The history and how the run ended.</returns>
        /// <exception cref="System.ArgumentException">An option is invalid (every problem is listed), or <see cref="TrainingOptions.ResumeFrom"/> was written by a different run.</exception>
        /// <exception cref="TrainingDivergedException">The loss became NaN or infinite.</exception>
        /// <exception cref="WeightsMismatchException">The checkpoint to resume from does not fit the model or its optimizer; nothing was applied.</exception>
        /// <exception cref="System.OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
        public static TrainingResult Fit(this TransferModel model, DataLoader train, DataLoader validation, TrainingOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            Guard.NotNull(train);
            Guard.NotNull(validation);
            RequireModelNormalization(model, train, validation);
            return FitCore(model, new LoaderBatchSource(train), new LoaderBatchSource(validation), options ?? new TrainingOptions(), cancellationToken);
        }

        /// <summary><see cref="Fit"/> on a background thread.</summary>
        /// <param name="model">The model to train; do not use it elsewhere until the task completes.</param>
        /// <param name="train">The training batches.</param>
        /// <param name="validation">The validation batches (never the test set).</param>
        /// <param name="options">Optimizer, schedule, loss, callbacks, checkpoints; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops training before the next batch.</param>
        /// <returns>The history and how the run ended.</returns>
        public static Task<TrainingResult> FitAsync(this TransferModel model, DataLoader train, DataLoader validation, TrainingOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            Guard.NotNull(train);
            Guard.NotNull(validation);
            RequireModelNormalization(model, train, validation);
            return Task.Factory.StartNew(() => Fit(model, train, validation, options, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        /// <summary>
        /// Progressive fine-tuning: runs the phases in order, each with its own freeze spec, learning rate, epochs
        /// and optional early stopping, and a fresh optimizer and schedule over exactly its trainable parameters.
        /// <see cref="TrainingOptions.Epochs"/> and <see cref="TrainingOptions.LearningRate"/> are not used; the
        /// rest of the options apply to every phase. A <see cref="BestCheckpoint"/> callback keeps the best epoch across phases.
        /// </summary>
        /// <param name="model">The model to train.</param>
        /// <param name="train">The training batches.</param>
        /// <param name="validation">The validation batches (never the test set).</param>
        /// <param name="phases">The phases, for example <see cref="TrainingPhases.Article"/>.</param>
        /// <param name="options">Optimizer, schedule, loss, callbacks, checkpoints; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops training before the next batch.</param>
        /// <returns>The history across phases and how the run ended.</returns>
        public static TrainingResult FitProgressive(this TransferModel model, DataLoader train, DataLoader validation, IReadOnlyList<TrainingPhase> phases, TrainingOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            Guard.NotNull(train);
            Guard.NotNull(validation);
            RequireModelNormalization(model, train, validation);
            Guard.NotNull(phases);
            return new Trainer(model, new LoaderBatchSource(train), new LoaderBatchSource(validation), phases, options ?? new TrainingOptions()).Run(cancellationToken);
        }

        /// <summary><see cref="FitProgressive"/> on a background thread.</summary>
        /// <param name="model">The model to train; do not use it elsewhere until the task completes.</param>
        /// <param name="train">The training batches.</param>
        /// <param name="validation">The validation batches (never the test set).</param>
        /// <param name="phases">The phases.</param>
        /// <param name="options">Options applied to every phase; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops training before the next batch.</param>
        /// <returns>The history across phases and how the run ended.</returns>
        public static Task<TrainingResult> FitProgressiveAsync(this TransferModel model, DataLoader train, DataLoader validation, IReadOnlyList<TrainingPhase> phases, TrainingOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            return Task.Factory.StartNew(() => FitProgressive(model, train, validation, phases, options, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        /// <summary>Both loaders must normalise as the model's weights expect (issue: BGR 0..255 weights fed ImageNet-normalised RGB).</summary>
        private static void RequireModelNormalization(TransferModel model, DataLoader train, DataLoader validation)
        {
            TransferModelDataExtensions.RequireModelNormalization(model, train, nameof(train), "training");
            TransferModelDataExtensions.RequireModelNormalization(model, validation, nameof(validation), "validation");
        }

        internal static TrainingResult FitCore(TransferModel model, IBatchSource train, IBatchSource validation, TrainingOptions options, CancellationToken cancellationToken)
        {
            var phase = new TrainingPhase("fit", model.FreezeSpec, options.LearningRate, options.Epochs) { TrainBatchNorm = model.TrainBatchNorm };
            return new Trainer(model, train, validation, new[] { phase }, options).Run(cancellationToken);
        }
    }
}
