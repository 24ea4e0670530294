using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// Calibration verbs on <see cref="TransferModel"/>: fit a temperature on validation data and attach
    /// it, so that every later prediction, evaluation, ensemble and saved file uses it.
    /// </summary>
    public static class TransferModelCalibrationExtensions
    {
        /// <summary>
        /// Predicts <paramref name="validation"/> without any calibration, fits a temperature on those
        /// predictions (<see cref="TemperatureScaling.Fit"/>) and attaches it to the model (replacing an
        /// earlier one). The validation split is one the model did not train on, and never the test split.
        /// </summary>
        /// <param name="model">The trained model.</param>
        /// <param name="validation">Validation images.</param>
        /// <param name="options">Loader and test-time augmentation of the prediction; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The fitted scaling (also in <see cref="TransferModel.Calibration"/>).</returns>
        public static TemperatureScaling Calibrate(this TransferModel model, ImageDataset validation, PredictionOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            Guard.NotNull(validation);
            var previous = model.Calibration;
            model.Calibration = null;
            try
            {
                var scaling = TemperatureScaling.Fit(Evaluator.Predict(model, validation, options, cancellationToken));
                model.Calibration = scaling;
                return scaling;
            }
            catch
            {
                model.Calibration = previous;
                throw;
            }
        }

        /// <summary>Attaches a known calibration to the model, or removes it with <see langword="null"/>.</summary>
        /// <param name="model">The model.</param>
        /// <param name="calibration">The scaling, or <see langword="null"/> for raw softmax probabilities.</param>
        public static void SetCalibration(this TransferModel model, TemperatureScaling? calibration) => Guard.NotNull(model).Calibration = calibration;
    }
}
