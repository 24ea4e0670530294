using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;
using SixLabors.ImageSharp;

namespace MedicalTransfer.Prediction
{
    /// <summary>
    /// Prediction verbs on <see cref="TransferModel"/>, with the model's own decoding and preprocessing (see
    /// <see cref="ImageClassifierExtensions"/>, which the ONNX Runtime classifier of package <c>MedicalTransfer.Onnx</c>
    /// shares, so both give the same answers).
    /// <code>
    /// ImagePrediction p = model.Predict("patient-0042.png");
    /// Console.WriteLine($"{p.PredictedClass}: {p.Probability("PNEUMONIA"):P1}");
    /// model.UseOperatingPoint(OperatingPoint.TargetSensitivity(0.95), validationPredictions, "PNEUMONIA");
    /// </code>
    /// </summary>
    public static class TransferModelPredictionExtensions
    {
        /// <summary>The model as an <see cref="IImageClassifier"/> (the model is used, not copied).</summary>
        /// <param name="model">The model.</param>
        /// <returns>The classifier.</returns>
        public static IImageClassifier AsClassifier(this TransferModel model) => new TorchClassifier(Guard.NotNull(model));

        /// <summary>Classifies one image file.</summary>
        /// <param name="model">The model.</param>
        /// <param name="path">A PNG, JPEG or BMP file.</param>
        /// <param name="options">Test-time augmentation, decision threshold, decoding; <see langword="null"/> for the defaults.</param>
        /// <returns>The probabilities and the predicted class.</returns>
        /// <exception cref="ImageDataException">The file cannot be read or decoded.</exception>
        public static ImagePrediction Predict(this TransferModel model, string path, ImagePredictionOptions? options = null) =>
            model.AsClassifier().Predict(path, options);

        /// <summary>Classifies an encoded image read from a stream.</summary>
        /// <param name="model">The model.</param>
        /// <param name="stream">PNG, JPEG or BMP bytes.</param>
        /// <param name="name">What error messages and the result call the image.</param>
        /// <param name="options">Test-time augmentation, decision threshold, decoding; <see langword="null"/> for the defaults.</param>
        /// <returns>The probabilities and the predicted class.</returns>
        public static ImagePrediction Predict(this TransferModel model, Stream stream, string name = "stream", ImagePredictionOptions? options = null) =>
            model.AsClassifier().Predict(stream, name, options);

        /// <summary>Classifies an ImageSharp image in memory.</summary>
        /// <param name="model">The model.</param>
        /// <param name="image">The image.</param>
        /// <param name="name">What the result calls the image.</param>
        /// <param name="options">Test-time augmentation, decision threshold; <see langword="null"/> for the defaults.</param>
        /// <returns>The probabilities and the predicted class.</returns>
        public static ImagePrediction Predict(this TransferModel model, Image image, string name = "image", ImagePredictionOptions? options = null) =>
            model.AsClassifier().Predict(image, name, options);

        /// <summary>Classifies every image file under a folder; see <see cref="ImageClassifierExtensions.PredictFolder(IImageClassifier, string, ImagePredictionOptions?, CancellationToken)"/>.</summary>
        /// <param name="model">The model.</param>
        /// <param name="folder">The folder.</param>
        /// <param name="options">Batching, workers, augmentation, threshold, bad-file policy, progress; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops the run.</param>
        /// <returns>The results, in file order.</returns>
        public static IAsyncEnumerable<ImagePrediction> PredictFolder(this TransferModel model, string folder, ImagePredictionOptions? options = null, CancellationToken cancellationToken = default) =>
            model.AsClassifier().PredictFolder(folder, options, cancellationToken);

        /// <summary>Classifies the given files, in order.</summary>
        /// <param name="model">The model.</param>
        /// <param name="files">The files.</param>
        /// <param name="options">Batching, workers, augmentation, threshold, bad-file policy, progress; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops the run.</param>
        /// <returns>The results, in the given order.</returns>
        public static IAsyncEnumerable<ImagePrediction> PredictFolder(this TransferModel model, IEnumerable<string> files, ImagePredictionOptions? options = null, CancellationToken cancellationToken = default) =>
            model.AsClassifier().PredictFolder(files, options, cancellationToken);

        /// <summary>
        /// Chooses the model's decision threshold on VALIDATION predictions (never the test split's) and stores it on
        /// the model: prediction applies it, <c>Save</c> keeps it and <c>ExportOnnx</c> writes it into the file's metadata.
        /// <see cref="OperatingPoint.Argmax"/> removes it.
        /// </summary>
        /// <param name="model">The model.</param>
        /// <param name="point">How to choose, for example <see cref="OperatingPoint.TargetSensitivity"/>.</param>
        /// <param name="validation">This model's validation predictions (<see cref="Evaluator.Predict(TransferModel, ImageDataset, PredictionOptions?, CancellationToken)"/>).</param>
        /// <param name="positiveClass">The class the threshold is on.</param>
        /// <returns>The chosen threshold, or <see langword="null"/> for argmax.</returns>
        /// <exception cref="System.ArgumentException">The predictions have other classes than the model, or the class is unknown.</exception>
        public static DecisionThreshold? UseOperatingPoint(this TransferModel model, OperatingPoint point, Predictions validation, string positiveClass)
        {
            Guard.NotNull(model);
            Guard.NotNull(point);
            Guard.NotNull(validation);
            Guard.NotNullOrWhiteSpace(positiveClass);
            Evaluator.CheckClasses(model.ClassNames, validation.ClassNames);
            double threshold = point.Resolve(validation, positiveClass);
            model.DecisionThreshold = double.IsNaN(threshold) ? null : new DecisionThreshold(positiveClass, threshold, point.ToString());
            return model.DecisionThreshold;
        }
    }
}
