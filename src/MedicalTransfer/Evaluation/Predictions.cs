using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// What a model or ensemble said about a set of images: for each image its true label and one
    /// probability per class. Every metric in this namespace is computed from this, in managed code,
    /// so metrics can be recomputed (other operating point, other positive class) without running the
    /// model again.
    /// </summary>
    public sealed class Predictions
    {
        private readonly string[] classNames;
        private readonly int[] labels;
        private readonly double[] probabilities;
        private int[]? predicted;

        /// <summary>Creates predictions from labels and a row-major probability matrix.</summary>
        /// <param name="classNames">Class names, in the order of the probability columns.</param>
        /// <param name="labels">True class index of each image.</param>
        /// <param name="probabilities">Probabilities [images][classes]; each row should sum to 1.</param>
        /// <exception cref="ArgumentException">The shapes disagree, a label is out of range, or a probability is not in [0, 1].</exception>
        public Predictions(IReadOnlyList<string> classNames, IReadOnlyList<int> labels, IReadOnlyList<IReadOnlyList<double>> probabilities)
            : this(Guard.NotNull(classNames).ToArray(), Guard.NotNull(labels).ToArray(), Flatten(probabilities, classNames.Count))
        {
        }

        internal Predictions(string[] classNames, int[] labels, double[] probabilities, int[]? predicted = null)
        {
            if (classNames.Length < 2)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected at least 2 class names; found {0}.", classNames.Length), nameof(classNames));
            }

            if (probabilities.Length != labels.Length * classNames.Length)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Expected {0} x {1} probabilities (images x classes); found {2} values.", labels.Length, classNames.Length, probabilities.Length),
                    nameof(probabilities));
            }

            for (int i = 0; i < labels.Length; i++)
            {
                if (labels[i] < 0 || labels[i] >= classNames.Length)
                {
                    throw new ArgumentException(
                        string.Format(CultureInfo.InvariantCulture, "Label {0} of image {1} is not a class index (0 to {2}).", labels[i], i, classNames.Length - 1),
                        nameof(labels));
                }
            }

            for (int i = 0; i < probabilities.Length; i++)
            {
                double p = probabilities[i];
                if (!(p >= 0 && p <= 1))
                {
                    throw new ArgumentException(
                        string.Format(CultureInfo.InvariantCulture, "Probability of image {0}, class {1} is {2}; expected a value in [0, 1] (pass softmax outputs, not logits).", i / classNames.Length, i % classNames.Length, p),
                        nameof(probabilities));
                }
            }

            this.classNames = classNames;
            this.labels = labels;
            this.probabilities = probabilities;
            if (predicted is not null && predicted.Length != labels.Length)
            {
                throw new ArgumentException("Expected one predicted class per image.", nameof(predicted));
            }

            this.predicted = predicted;
        }

        /// <summary>Class names, in the order of the probability columns.</summary>
        public IReadOnlyList<string> ClassNames => Array.AsReadOnly(classNames);

        /// <summary>Number of images.</summary>
        public int Count => labels.Length;

        /// <summary>True class index of each image.</summary>
        public IReadOnlyList<int> Labels => Array.AsReadOnly(labels);

        /// <summary>
        /// The predicted class of each image: the class with the highest probability (the first one on
        /// a tie, as numpy's argmax), or for a hard-voting ensemble the majority vote.
        /// </summary>
        public IReadOnlyList<int> PredictedLabels => Array.AsReadOnly(predicted ??= ComputeArgmax());

        /// <summary>Probability that image <paramref name="image"/> belongs to class <paramref name="classIndex"/>.</summary>
        /// <param name="image">Image index.</param>
        /// <param name="classIndex">Class index.</param>
        /// <returns>The probability.</returns>
        public double Probability(int image, int classIndex)
        {
            Guard.InRange(image, 0, Count - 1);
            Guard.InRange(classIndex, 0, classNames.Length - 1);
            return probabilities[(image * classNames.Length) + classIndex];
        }

        /// <summary>The probabilities of one class for every image (the score of a one-vs-rest curve).</summary>
        /// <param name="classIndex">Class index.</param>
        /// <returns>A new array of <see cref="Count"/> values.</returns>
        public double[] Scores(int classIndex)
        {
            Guard.InRange(classIndex, 0, classNames.Length - 1);
            var scores = new double[Count];
            for (int i = 0; i < scores.Length; i++)
            {
                scores[i] = probabilities[(i * classNames.Length) + classIndex];
            }

            return scores;
        }

        /// <summary>The index of a class, by name.</summary>
        /// <param name="className">A name in <see cref="ClassNames"/>.</param>
        /// <returns>Its index.</returns>
        /// <exception cref="ArgumentException">No class has that name; the message lists the names.</exception>
        public int ClassIndex(string className)
        {
            Guard.NotNull(className);
            int index = Array.IndexOf(classNames, className);
            if (index < 0)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Class '{0}' is not one of this model's classes ({1}).", className, string.Join(", ", classNames)),
                    nameof(className));
            }

            return index;
        }

        internal ReadOnlySpan<double> Row(int image) => probabilities.AsSpan(image * classNames.Length, classNames.Length);

        internal double[] RawProbabilities => probabilities;

        internal int[] RawLabels => labels;

        /// <summary>The same predictions restricted to (or resampled as) the given image indices.</summary>
        internal Predictions Subset(int[] indices)
        {
            int c = classNames.Length;
            var l = new int[indices.Length];
            var p = new double[indices.Length * c];
            for (int i = 0; i < indices.Length; i++)
            {
                l[i] = labels[indices[i]];
                Array.Copy(probabilities, indices[i] * c, p, i * c, c);
            }

            return new Predictions(classNames, l, p);
        }

        private int[] ComputeArgmax()
        {
            var result = new int[Count];
            for (int i = 0; i < result.Length; i++)
            {
                result[i] = Argmax(Row(i));
            }

            return result;
        }

        internal static int Argmax(ReadOnlySpan<double> row)
        {
            int best = 0;
            for (int c = 1; c < row.Length; c++)
            {
                if (row[c] > row[best])
                {
                    best = c;
                }
            }

            return best;
        }

        private static double[] Flatten(IReadOnlyList<IReadOnlyList<double>> rows, int classes)
        {
            Guard.NotNull(rows);
            var flat = new double[rows.Count * classes];
            for (int i = 0; i < rows.Count; i++)
            {
                var row = rows[i] ?? throw new ArgumentNullException(nameof(rows), string.Format(CultureInfo.InvariantCulture, "Probability row {0} is null.", i));
                if (row.Count != classes)
                {
                    throw new ArgumentException(
                        string.Format(CultureInfo.InvariantCulture, "Probability row {0} has {1} values; expected one per class ({2}).", i, row.Count, classes),
                        nameof(rows));
                }

                for (int c = 0; c < classes; c++)
                {
                    flat[(i * classes) + c] = row[c];
                }
            }

            return flat;
        }
    }
}
