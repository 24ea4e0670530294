using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// Runs a model or an ensemble over a split and computes its metrics. The model is put in
    /// evaluation mode (and restored afterwards), run without gradients, and fed each image through
    /// its own <see cref="TransferModel.Preprocessing"/>.
    /// <code>
    /// var validation = Evaluator.Predict(model, splits.Validation);
    /// var report = Evaluator.Evaluate(model, splits.Test,
    ///     new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.TargetSensitivity(0.95) },
    ///     validation);
    /// Console.WriteLine(report);
    /// </code>
    /// </summary>
    public static class Evaluator
    {
        /// <summary>Predicts every test image once.</summary>
        /// <param name="model">The model.</param>
        /// <param name="testSet">The held-out test split.</param>
        /// <param name="options">Loader and test-time augmentation; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>Labels and probabilities, in the test set's order (skipped bad files left out).</returns>
        public static Predictions Predict(TransferModel model, TestSet testSet, PredictionOptions? options = null, CancellationToken cancellationToken = default) =>
            Predict(model, Guard.NotNull(testSet).Images, options, cancellationToken);

        /// <summary>Predicts every image of a training or validation dataset once.</summary>
        /// <param name="model">The model.</param>
        /// <param name="dataset">The images.</param>
        /// <param name="options">Loader and test-time augmentation; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>Labels and probabilities, in the dataset's order.</returns>
        public static Predictions Predict(TransferModel model, ImageDataset dataset, PredictionOptions? options = null, CancellationToken cancellationToken = default) =>
            PredictIndexed(model, dataset, options, cancellationToken).Predictions;

        /// <summary>Predictions and, for each, the index of its image in <paramref name="dataset"/> (bad files skipped by the loader have none, and are in the quality report).</summary>
        internal static (Predictions Predictions, int[] Indices, DataQualityReport Quality) PredictIndexed(TransferModel model, ImageDataset dataset, PredictionOptions? options, CancellationToken cancellationToken)
        {
            Guard.NotNull(model);
            Guard.NotNull(dataset);
            if (model.IsMultiLabel)
            {
                throw new ArgumentException("The model is multi-label (findings " + string.Join(", ", model.Findings) + "): its findings are independent, so class predictions, calibration and single-label reports do not apply. Use model.PredictFindings(dataset) and MultiLabelReport.", nameof(model));
            }

            CheckClasses(model.ClassNames, dataset.Classes);
            var result = Run(model, dataset, (options ?? new PredictionOptions()).Validate(), cancellationToken);
            return (new Predictions(model.ClassNames.ToArray(), result.Labels, result.Probabilities), result.Indices, result.Quality);
        }

        /// <summary>Predicts every test image once with an ensemble (each member preprocesses its own way).</summary>
        /// <param name="ensemble">The ensemble.</param>
        /// <param name="testSet">The held-out test split.</param>
        /// <param name="options">Loader and test-time augmentation; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The ensemble's probabilities.</returns>
        public static Predictions Predict(Ensemble ensemble, TestSet testSet, PredictionOptions? options = null, CancellationToken cancellationToken = default) =>
            Predict(ensemble, Guard.NotNull(testSet).Images, options, cancellationToken);

        /// <summary>Predicts every image of a dataset once with an ensemble.</summary>
        /// <param name="ensemble">The ensemble.</param>
        /// <param name="dataset">The images.</param>
        /// <param name="options">Loader and test-time augmentation; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The ensemble's probabilities.</returns>
        public static Predictions Predict(Ensemble ensemble, ImageDataset dataset, PredictionOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(ensemble);
            Guard.NotNull(dataset);
            if (ensemble.IsMultiLabel)
            {
                throw new ArgumentException("The ensemble's members are multi-label (findings " + string.Join(", ", ensemble.Findings) + "): class predictions do not apply. Use ensemble.PredictFindings(dataset) and MultiLabelReport.", nameof(ensemble));
            }

            return ensemble.Combine(ensemble.Members.Select(m => Predict(m, dataset, options, cancellationToken)).ToArray());
        }

        /// <summary>Predicts the test split and computes its report.</summary>
        /// <param name="model">The model.</param>
        /// <param name="testSet">The held-out test split.</param>
        /// <param name="options">Positive class, operating point, bootstrap; <see langword="null"/> for the defaults.</param>
        /// <param name="validation">Validation predictions for data-driven operating points (from <see cref="Predict(TransferModel, ImageDataset, PredictionOptions?, CancellationToken)"/>).</param>
        /// <param name="prediction">Loader and test-time augmentation.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The report.</returns>
        public static EvaluationReport Evaluate(TransferModel model, TestSet testSet, EvaluationOptions? options = null, Predictions? validation = null, PredictionOptions? prediction = null, CancellationToken cancellationToken = default) =>
            EvaluationReport.Create(Predict(model, testSet, prediction, cancellationToken), options, validation);

        /// <summary>Predicts the test split with an ensemble and computes its report.</summary>
        /// <param name="ensemble">The ensemble.</param>
        /// <param name="testSet">The held-out test split.</param>
        /// <param name="options">Positive class, operating point, bootstrap; <see langword="null"/> for the defaults.</param>
        /// <param name="validation">Validation predictions of the same ensemble, for data-driven operating points.</param>
        /// <param name="prediction">Loader and test-time augmentation.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The report.</returns>
        public static EvaluationReport Evaluate(Ensemble ensemble, TestSet testSet, EvaluationOptions? options = null, Predictions? validation = null, PredictionOptions? prediction = null, CancellationToken cancellationToken = default) =>
            EvaluationReport.Create(Predict(ensemble, testSet, prediction, cancellationToken), options, validation);

        internal static void CheckClasses(IReadOnlyList<string> modelClasses, IReadOnlyList<string> dataClasses)
        {
            if (!modelClasses.SequenceEqual(dataClasses, StringComparer.Ordinal))
            {
                throw new ArgumentException(
                    $"The model's classes ({string.Join(", ", modelClasses)}) differ from the data's ({string.Join(", ", dataClasses)}); labels would be compared with the wrong outputs. Build the model with ForClasses in the data's order.",
                    nameof(dataClasses));
            }
        }

        /// <summary>The transform that feeds <see cref="Probabilities"/>: the evaluation pipeline, cropped to the central resize square for five-crop.</summary>
        internal static ImageTransform TransformFor(Preprocessing preprocessing, TestTimeAugmentation augmentation) =>
            (augmentation & TestTimeAugmentation.FiveCrop) == 0
                ? Transforms.ForEvaluation(preprocessing)
                : Transforms.EvaluationPipeline(preprocessing, preprocessing.ResizeSize);

        /// <summary>Softmax probabilities [N, classes] (of the logits over the model's calibration temperature, if any) averaged over the augmentation's views; call in eval mode under no_grad.</summary>
        internal static Tensor Probabilities(TransferModel model, Tensor images, TestTimeAugmentation augmentation, int cropSize)
        {
            using var scope = NewDisposeScope();
            var views = new List<Tensor>();
            if ((augmentation & TestTimeAugmentation.FiveCrop) != 0)
            {
                foreach (var (y, x) in CropBoxes.FiveCrop((int)images.shape[2], (int)images.shape[3], cropSize, cropSize))
                {
                    views.Add(images.narrow(2, y, cropSize).narrow(3, x, cropSize));
                }
            }
            else
            {
                views.Add(images);
            }

            if ((augmentation & TestTimeAugmentation.HorizontalFlip) != 0)
            {
                views.AddRange(views.Select(v => v.flip(3)).ToArray());
            }

            Tensor sum = zeros(1);
            foreach (var view in views)
            {
                sum = sum + ViewProbabilities(model, view.contiguous());
            }

            return (sum / views.Count).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// The one place logits become probabilities: softmax in float64 of the logits over the model's calibration
        /// temperature, if any. Evaluation, ensembles and prediction all go through it, so a calibrated model never
        /// predicts uncalibrated on one path.
        /// </summary>
        internal static Tensor ViewProbabilities(TransferModel model, Tensor input)
        {
            var logits = model.call(input).to(ScalarType.Float64);
            if (model.IsMultiLabel)
            {
                // A multi-label model's findings are independent: a sigmoid per logit (issue 13), never a softmax across findings.
                return sigmoid(model.FindingCalibration?.Scale(logits) ?? logits);
            }

            if (model.Calibration is { } calibration)
            {
                logits = logits / calibration.Temperature;
            }

            return nn.functional.softmax(logits, 1);
        }

        private static (int[] Labels, double[] Probabilities, int[] Indices, DataQualityReport Quality) Run(TransferModel model, ImageDataset dataset, PredictionOptions options, CancellationToken cancellationToken)
        {
            using var use = model.Use.Acquire("Evaluator.Predict");
            using var precision = Models.PrecisionChoice.ForInference(model, options.Precision, "PredictionOptions.Precision", logger: null);
            var loader = (options.Loader ?? new LoaderOptions()) with { Sampling = SamplingMode.Sequential, DropLast = false };
            var transform = TransformFor(model.Preprocessing, options.Augmentation);
            var labels = new List<int>(dataset.Count);
            var indices = new List<int>(dataset.Count);
            DataQualityReport quality;
            var probabilities = new List<double>(dataset.Count * model.ClassNames.Count);
            bool wasTraining = model.training;
            var device = model.Device;
            model.eval();
            try
            {
                using var noGrad = no_grad();
                using var reader = new DataLoader(dataset, transform, loader);
                quality = reader.Report;
                foreach (var batch in reader.GetBatches(0, cancellationToken))
                {
                    using (batch)
                    using (var scope = NewDisposeScope())
                    {
                        var images = batch.Images.to(device);
                        var p = Probabilities(model, images, options.Augmentation, model.Preprocessing.CropSize).cpu();
                        probabilities.AddRange(p.data<double>().ToArray());
                        labels.AddRange(batch.LabelValues);
                        indices.AddRange(batch.Indices);
                    }
                }
            }
            finally
            {
                model.train(wasTraining);
            }

            return (labels.ToArray(), probabilities.ToArray(), indices.ToArray(), quality);
        }
    }
}
