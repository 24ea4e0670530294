using System;
using System.Linq;
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
            if (model.IsMultiLabel)
            {
                throw new ArgumentException("The model is multi-label (findings " + string.Join(", ", model.Findings) + "): one softmax temperature does not apply to independent sigmoid outputs. Use model.CalibrateFindings(validation), which fits one temperature per finding.", nameof(model));
            }

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

        /// <summary>
        /// Multi-label calibration: predicts <paramref name="validation"/> without finding temperatures, fits one temperature per
        /// finding on those predictions (<see cref="FindingTemperatureScaling.Fit"/>; uncertain and missing labels left out) and
        /// attaches them to the model (replacing earlier ones). The validation split is one the model did not train on, and
        /// never the test split.
        /// </summary>
        /// <param name="model">A trained multi-label model.</param>
        /// <param name="validation">Validation images of a multi-label dataset with the model's findings.</param>
        /// <param name="options">Loader and test-time augmentation of the prediction; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The fitted scaling (also in <see cref="TransferModel.FindingCalibration"/>).</returns>
        /// <exception cref="ArgumentException">The model is single-label, the findings differ, or a finding lacks positive or negative validation labels.</exception>
        public static FindingTemperatureScaling CalibrateFindings(this TransferModel model, ImageDataset validation, PredictionOptions? options = null, CancellationToken cancellationToken = default)
        {
            Guard.NotNull(model);
            Guard.NotNull(validation);
            var previous = model.FindingCalibration;
            model.FindingCalibration = null;
            try
            {
                var scaling = FindingTemperatureScaling.Fit(model.PredictFindings(validation, options, cancellationToken));
                model.FindingCalibration = scaling;
                return scaling;
            }
            catch
            {
                model.FindingCalibration = previous;
                throw;
            }
        }

        /// <summary>Attaches known finding temperatures to a multi-label model, or removes them with <see langword="null"/>.</summary>
        /// <param name="model">A multi-label model.</param>
        /// <param name="calibration">The temperatures (for the model's findings), or <see langword="null"/> for raw sigmoid probabilities.</param>
        /// <exception cref="ArgumentException">The model is single-label, or the temperatures are for other findings.</exception>
        public static void SetFindingCalibration(this TransferModel model, FindingTemperatureScaling? calibration)
        {
            Guard.NotNull(model);
            if (calibration is not null && (!model.IsMultiLabel || !calibration.Findings.SequenceEqual(model.Findings, StringComparer.Ordinal)))
            {
                throw new ArgumentException(
                    "The temperatures are for findings " + string.Join(", ", calibration.Findings) + "; the model " + (model.IsMultiLabel ? "has findings " + string.Join(", ", model.Findings) : "is single-label (use SetCalibration)") + ".",
                    nameof(calibration));
            }

            model.FindingCalibration = calibration;
        }

        /// <summary>Attaches a known calibration to the model, or removes it with <see langword="null"/>.</summary>
        /// <param name="model">The model.</param>
        /// <param name="calibration">The scaling, or <see langword="null"/> for raw softmax probabilities.</param>
        public static void SetCalibration(this TransferModel model, TemperatureScaling? calibration) => Guard.NotNull(model).Calibration = calibration;
    }
}
