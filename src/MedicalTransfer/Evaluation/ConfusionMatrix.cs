using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// Counts of (true class, predicted class) pairs: row = true class, column = predicted class,
    /// as scikit-learn's <c>confusion_matrix</c>.
    /// </summary>
    public sealed class ConfusionMatrix
    {
        private readonly int[,] counts;

        internal ConfusionMatrix(IReadOnlyList<string> classNames, int[,] counts)
        {
            ClassNames = classNames;
            this.counts = counts;
            Total = counts.Cast<int>().Sum();
        }

        /// <summary>Class names, the order of rows and columns.</summary>
        public IReadOnlyList<string> ClassNames { get; }

        /// <summary>Number of images counted.</summary>
        public int Total { get; }

        /// <summary>Number of images of class <paramref name="trueClass"/> predicted as <paramref name="predictedClass"/>.</summary>
        /// <param name="trueClass">Row: true class index.</param>
        /// <param name="predictedClass">Column: predicted class index.</param>
        /// <returns>The count.</returns>
        public int this[int trueClass, int predictedClass] => counts[trueClass, predictedClass];

        /// <summary>Computes the matrix from true and predicted class indices.</summary>
        /// <param name="classNames">Class names; indices run from 0 to their count - 1.</param>
        /// <param name="labels">True class of each image.</param>
        /// <param name="predicted">Predicted class of each image.</param>
        /// <returns>The matrix.</returns>
        public static ConfusionMatrix Compute(IReadOnlyList<string> classNames, IReadOnlyList<int> labels, IReadOnlyList<int> predicted)
        {
            Guard.NotNull(classNames);
            Guard.NotNull(labels);
            Guard.NotNull(predicted);
            if (labels.Count != predicted.Count)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected as many predictions as labels ({0}); found {1}.", labels.Count, predicted.Count), nameof(predicted));
            }

            int k = classNames.Count;
            var counts = new int[k, k];
            for (int i = 0; i < labels.Count; i++)
            {
                if ((uint)labels[i] >= (uint)k || (uint)predicted[i] >= (uint)k)
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Image {0} has label {1} and prediction {2}; expected class indices from 0 to {3}.", i, labels[i], predicted[i], k - 1), nameof(labels));
                }

                counts[labels[i], predicted[i]]++;
            }

            return new ConfusionMatrix(classNames.ToArray(), counts);
        }

        /// <summary>Images whose true class is <paramref name="trueClass"/> (the row sum, scikit-learn's support).</summary>
        /// <param name="trueClass">Class index.</param>
        /// <returns>The count.</returns>
        public int RowTotal(int trueClass) => Enumerable.Range(0, ClassNames.Count).Sum(j => counts[trueClass, j]);

        /// <summary>Images predicted as <paramref name="predictedClass"/> (the column sum).</summary>
        /// <param name="predictedClass">Class index.</param>
        /// <returns>The count.</returns>
        public int ColumnTotal(int predictedClass) => Enumerable.Range(0, ClassNames.Count).Sum(i => counts[i, predictedClass]);

        /// <summary>The counts as rows (true class) of columns (predicted class).</summary>
        /// <returns>A new jagged array.</returns>
        public int[][] ToArray() => Enumerable.Range(0, ClassNames.Count).Select(i => Enumerable.Range(0, ClassNames.Count).Select(j => counts[i, j]).ToArray()).ToArray();

        /// <summary>A text table with class names, rows = true class, columns = predicted class.</summary>
        /// <returns>The table.</returns>
        public override string ToString()
        {
            int width = Math.Max(ClassNames.Max(n => n.Length), Total.ToString(CultureInfo.InvariantCulture).Length) + 2;
            var sb = new StringBuilder();
            sb.Append("true \\ predicted".PadRight(width));
            foreach (var name in ClassNames)
            {
                sb.Append(name.PadLeft(width));
            }

            sb.AppendLine();
            for (int i = 0; i < ClassNames.Count; i++)
            {
                sb.Append(ClassNames[i].PadRight(width));
                for (int j = 0; j < ClassNames.Count; j++)
                {
                    sb.Append(counts[i, j].ToString(CultureInfo.InvariantCulture).PadLeft(width));
                }

                sb.AppendLine();
            }

            return sb.ToString();
        }
    }
}
