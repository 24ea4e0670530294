using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using static TorchSharp.torch;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// Evaluation verbs of a multi-label model (<see cref="TaskKind.MultiLabel"/>): per-finding probabilities through the one
    /// evaluation pipeline, per-finding thresholds chosen on validation, and the per-finding report.
    /// <code>
    /// var validation = model.PredictFindings(splits.Validation);
    /// model.UseFindingThresholds(FindingThresholds.Choose(validation, FindingThresholdRule.YoudenJ));
    /// MultiLabelReport report = model.EvaluateFindings(splits.Test);   // thresholds applied unchanged
    /// Console.WriteLine(report.ToTable());
    /// </code>
    /// </summary>
    public static class TransferModelMultiLabelExtensions
    {
        /// <summary>
        /// Predicts every image of a multi-label dataset once: sigmoid probabilities per finding with the dataset's labels;
        /// uncertain and missing labels are not observed (every metric leaves them out of that finding).
        /// </summary>
        /// <param name="model">A multi-label model.</param>
        /// <param name="dataset">A multi-label dataset with the model's findings (a validation split, for thresholds).</param>
        /// <param name="options">Loader and test-time augmentation; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The predictions, in the dataset's order (bad files skipped by the loader left out).</returns>
        /// <exception cref="ArgumentException">The model or the dataset is not multi-label, or their findings differ.</exception>
        public static MultiLabelPredictions PredictFindings(this TransferModel model, ImageDataset dataset, PredictionOptions? options = null, CancellationToken cancellationToken = default)
        {
            var (predictions, indices, _) = PredictFindingsIndexed(model, dataset, options, cancellationToken);

            // Patient ids (a table's patient column, the DICOM Patient ID) make bootstrap intervals resample patients.
            return indices.Any(i => !string.IsNullOrEmpty(dataset.Samples[i].PatientId))
                ? predictions.WithPatients(indices.Select(i => dataset.Samples[i].PatientId is { Length: > 0 } id ? "patient:" + id : dataset.Samples[i].Path).ToArray())
                : predictions;
        }

        /// <summary>
        /// The predictions (without patients) and, for each row, the index of its image in <paramref name="dataset"/> (bad files
        /// skipped by the loader have none, and are in the quality report): the one multi-label prediction loop, shared by
        /// <see cref="PredictFindings(TransferModel, ImageDataset, PredictionOptions?, CancellationToken)"/> and cross-validation.
        /// </summary>
        internal static (MultiLabelPredictions Predictions, int[] Indices, DataQualityReport Quality) PredictFindingsIndexed(TransferModel model, ImageDataset dataset, PredictionOptions? options, CancellationToken cancellationToken)
        {
            Guard.NotNull(model);
            Guard.NotNull(dataset);
            RequireFindings(model, dataset.Findings);
            options = (options ?? new PredictionOptions()).Validate();
            using var use = model.Use.Acquire("PredictFindings");
            using var precision = Models.PrecisionChoice.ForInference(model, options.Precision, "PredictionOptions.Precision", logger: null);
            var loaderOptions = (options.Loader ?? new LoaderOptions()) with { Sampling = SamplingMode.Sequential, DropLast = false, Uncertainty = UncertaintyPolicy.Ignore };
            var probabilities = new List<double>();
            var positive = new List<bool>();
            var observed = new List<bool>();
            var indices = new List<int>();
            DataQualityReport quality;
            bool wasTraining = model.training;
            model.eval();
            try
            {
                using var noGrad = no_grad();
                using var reader = new DataLoader(dataset, Evaluator.TransformFor(model.Preprocessing, options.Augmentation), loaderOptions);
                quality = reader.Report;
                foreach (var batch in reader.GetBatches(0, cancellationToken))
                {
                    using (batch)
                    using (var scope = NewDisposeScope())
                    {
                        var p = Evaluator.Probabilities(model, batch.Images.to(model.Device), options.Augmentation, model.Preprocessing.CropSize).cpu();
                        probabilities.AddRange(p.data<double>().ToArray());
                        positive.AddRange(batch.Targets.cpu().data<float>().ToArray().Select(t => t > 0.5f));
                        observed.AddRange(batch.TargetMask.cpu().data<float>().ToArray().Select(m => m > 0));
                        indices.AddRange(batch.Indices);
                    }
                }
            }
            finally
            {
                model.train(wasTraining);
            }

            return (new MultiLabelPredictions(model.Findings, probabilities, positive, observed), indices.ToArray(), quality);
        }

        /// <summary>Predicts the held-out test split; see <see cref="PredictFindings(TransferModel, ImageDataset, PredictionOptions?, CancellationToken)"/>.</summary>
        /// <param name="model">A multi-label model.</param>
        /// <param name="testSet">The test split.</param>
        /// <param name="options">Loader and test-time augmentation.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The predictions.</returns>
        public static MultiLabelPredictions PredictFindings(this TransferModel model, TestSet testSet, PredictionOptions? options = null, CancellationToken cancellationToken = default) =>
            PredictFindings(model, Guard.NotNull(testSet).Images, options, cancellationToken);

        /// <summary>
        /// Stores per-finding thresholds (chosen on VALIDATION with <see cref="FindingThresholds.Choose"/>) on the model: they are
        /// saved with it, applied by prediction (<see cref="Prediction.ImagePrediction.PresentFindings"/>) and by
        /// <see cref="EvaluateFindings"/>.
        /// </summary>
        /// <param name="model">A multi-label model.</param>
        /// <param name="thresholds">The thresholds, or <see langword="null"/> to go back to 0.5 each.</param>
        /// <exception cref="ArgumentException">The thresholds are for other findings, or the model is single-label.</exception>
        public static void UseFindingThresholds(this TransferModel model, FindingThresholds? thresholds)
        {
            Guard.NotNull(model);
            RequireFindings(model, thresholds?.Findings ?? model.Findings);
            model.FindingThresholds = thresholds;
        }

        /// <summary>The per-finding report on the test split, at the model's <see cref="TransferModel.FindingThresholds"/> (0.5 when none).</summary>
        /// <param name="model">A multi-label model.</param>
        /// <param name="testSet">The test split.</param>
        /// <param name="options">Loader and test-time augmentation.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The report.</returns>
        public static MultiLabelReport EvaluateFindings(this TransferModel model, TestSet testSet, PredictionOptions? options = null, CancellationToken cancellationToken = default) =>
            MultiLabelReport.Compute(model.PredictFindings(testSet, options, cancellationToken), model.FindingThresholds);

        private static void RequireFindings(TransferModel model, IReadOnlyList<string> findings)
        {
            if (!model.IsMultiLabel)
            {
                throw new ArgumentException("The model is single-label (classes " + string.Join(", ", model.ClassNames) + "); per-finding evaluation needs a model built with ForFindings(...). Use Evaluator for single-label models.", nameof(model));
            }

            if (!findings.SequenceEqual(model.Findings, StringComparer.Ordinal))
            {
                throw new ArgumentException(
                    "The model's findings (" + string.Join(", ", model.Findings) + ") differ from the data's (" + (findings.Count == 0 ? "none: a single-label dataset" : string.Join(", ", findings)) + "); labels would be compared with the wrong outputs. Build the model with ForFindings(dataset.Findings).",
                    nameof(findings));
            }
        }
    }
}
