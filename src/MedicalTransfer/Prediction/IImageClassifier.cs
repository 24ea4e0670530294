using System.Collections.Generic;
using MedicalTransfer.Data;

namespace MedicalTransfer.Prediction
{
    /// <summary>
    /// Something that turns preprocessed images into class probabilities: a <see cref="TransferModel"/>
    /// (<c>model.AsClassifier()</c>) or an exported ONNX file run by ONNX Runtime (package <c>MedicalTransfer.Onnx</c>).
    /// The prediction verbs (<see cref="ImageClassifierExtensions"/>) decode, preprocess, batch and apply
    /// test-time augmentation and the decision threshold the same way for every implementation, so two classifiers
    /// of the same weights give the same answers on the same files.
    /// </summary>
    public interface IImageClassifier
    {
        /// <summary>The class names, in the order of the probabilities.</summary>
        IReadOnlyList<string> ClassNames { get; }

        /// <summary>The input the weights expect; images are decoded and preprocessed with it.</summary>
        Preprocessing Preprocessing { get; }

        /// <summary>The decision rule chosen on validation, or <see langword="null"/> for the most probable class.</summary>
        DecisionThreshold? DecisionThreshold { get; }

        /// <summary>
        /// Single-label (probabilities over classes, summing to 1) or multi-label (one independent probability per finding,
        /// and <see cref="ImagePrediction.PresentFindings"/> by <see cref="FindingThresholds"/>).
        /// </summary>
        TaskKind TaskKind => TaskKind.SingleLabel;

        /// <summary>A multi-label classifier's per-finding thresholds, in the order of <see cref="ClassNames"/>; <see langword="null"/> for 0.5 each.</summary>
        IReadOnlyList<double>? FindingThresholds => null;

        /// <summary>Side of the square images <see cref="Classify"/> accepts, or <see langword="null"/> for any size.</summary>
        int? FixedInputSize { get; }

        /// <summary>
        /// Classifies <paramref name="count"/> preprocessed images, stored one after the other as planes
        /// [count, channels (the preprocessing's <see cref="Preprocessing.Channels"/>), <paramref name="size"/>, <paramref name="size"/>] at the start of <paramref name="images"/>, and
        /// writes their class probabilities, [count, classes], at the start of <paramref name="probabilities"/>.
        /// </summary>
        /// <param name="images">The pixels; the array may be longer than needed.</param>
        /// <param name="count">Number of images.</param>
        /// <param name="size">Side of each image.</param>
        /// <param name="probabilities">Receives count x classes probabilities; may be longer than needed.</param>
        void Classify(float[] images, int count, int size, double[] probabilities);
    }
}
