using System.Threading;
using MedicalTransfer.Data;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// Evaluation verbs on <see cref="TransferModel"/>: <c>model.Evaluate(splits.Test)</c> is
    /// <see cref="Evaluator.Evaluate(TransferModel, TestSet, EvaluationOptions?, Predictions?, PredictionOptions?, CancellationToken)"/>,
    /// the one evaluation pipeline, called from the model.
    /// </summary>
    public static class TransferModelEvaluationExtensions
    {
        /// <summary>
        /// Predicts the held-out test split with the model's own preprocessing (and calibration, when it has one)
        /// and computes its report: accuracy, per-class precision/recall/F1, confusion matrix and ROC AUC, at the
        /// operating point <paramref name="options"/> chooses.
        /// </summary>
        /// <param name="model">The trained model.</param>
        /// <param name="testSet">The held-out test split, for example <c>splits.Test</c>.</param>
        /// <param name="options">Positive class, operating point, bootstrap; <see langword="null"/> for the defaults.</param>
        /// <param name="validation">Validation predictions for data-driven operating points (from <see cref="Evaluator.Predict(TransferModel, ImageDataset, PredictionOptions?, CancellationToken)"/>).</param>
        /// <param name="prediction">Loader and test-time augmentation; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The report.</returns>
        /// <exception cref="System.ArgumentException">The test set's classes are not the model's.</exception>
        public static EvaluationReport Evaluate(this TransferModel model, TestSet testSet, EvaluationOptions? options = null, Predictions? validation = null, PredictionOptions? prediction = null, CancellationToken cancellationToken = default) =>
            Evaluator.Evaluate(model, testSet, options, validation, prediction, cancellationToken);
    }
}
