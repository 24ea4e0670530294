using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Prediction
{
    /// <summary>What a classifier said about one image, or why it could not say anything.</summary>
    public sealed class ImagePrediction
    {
        private readonly double[] probabilities;

        internal ImagePrediction(string source, IReadOnlyList<string> classNames, double[] probabilities, int predicted, string? error)
        {
            Source = source;
            ClassNames = classNames;
            this.probabilities = probabilities;
            PredictedIndex = predicted;
            Error = error;
        }

        /// <summary>The file the image came from, or a name given for a stream or an in-memory image.</summary>
        public string Source { get; }

        /// <summary>
        /// For a multi-label classifier, the findings whose probability reaches their threshold (the classifier's
        /// <see cref="IImageClassifier.FindingThresholds"/>, else 0.5), in the model's order; <see langword="null"/> for a
        /// single-label classifier. <see cref="Probabilities"/> then holds one independent probability per finding.
        /// </summary>
        public IReadOnlyList<string>? PresentFindings => Present;

        /// <summary>Whether the classifier is multi-label (see <see cref="PresentFindings"/>).</summary>
        public bool IsMultiLabel => Present is not null;

        internal string[]? Present { get; init; }

        /// <summary>The class names (for a multi-label classifier, the findings), in the order of <see cref="Probabilities"/>.</summary>
        public IReadOnlyList<string> ClassNames { get; }

        /// <summary>One probability per class (empty when <see cref="Error"/> is set).</summary>
        public IReadOnlyList<double> Probabilities => probabilities;

        /// <summary>
        /// The predicted class index: the most probable class, or the classifier's <see cref="DecisionThreshold"/> when
        /// it has one and the options apply it; -1 when <see cref="Error"/> is set and for a multi-label classifier (read <see cref="PresentFindings"/>).
        /// </summary>
        public int PredictedIndex { get; }

        /// <summary>The predicted class name, or <see langword="null"/> when <see cref="Error"/> is set.</summary>
        public string? PredictedClass => PredictedIndex < 0 ? null : ClassNames[PredictedIndex];

        /// <summary>Why the image could not be classified (unreadable, corrupt, too large...), or <see langword="null"/>.</summary>
        public string? Error { get; }

        /// <summary>Whether the image was classified.</summary>
        public bool Succeeded => Error is null;

        /// <summary>The probability of one class, by name.</summary>
        /// <param name="className">One of <see cref="ClassNames"/>.</param>
        /// <returns>Its probability.</returns>
        /// <exception cref="InvalidOperationException">The image was not classified.</exception>
        /// <exception cref="ArgumentException">No class has that name.</exception>
        public double Probability(string className)
        {
            Guard.NotNull(className);
            if (!Succeeded)
            {
                throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "'{0}' was not classified: {1}", Source, Error));
            }

            int index = ClassNames.ToList().IndexOf(className);
            if (index < 0)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Class '{0}' is not one of {1}.", className, string.Join(", ", ClassNames)), nameof(className));
            }

            return probabilities[index];
        }

        /// <inheritdoc />
        public override string ToString() => Succeeded && IsMultiLabel
            ? string.Format(CultureInfo.InvariantCulture, "{0}: findings [{1}] ({2})", Source, string.Join(", ", Present!), string.Join(", ", ClassNames.Select((c, i) => c + " " + probabilities[i].ToString("0.0000", CultureInfo.InvariantCulture))))
            : Succeeded
            ? string.Format(CultureInfo.InvariantCulture, "{0}: {1} ({2})", Source, PredictedClass, string.Join(", ", ClassNames.Select((c, i) => c + " " + probabilities[i].ToString("0.0000", CultureInfo.InvariantCulture))))
            : string.Format(CultureInfo.InvariantCulture, "{0}: not classified: {1}", Source, Error);
    }
}
