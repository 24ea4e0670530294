using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// How many images each class has, how imbalanced the classes are, and the inverse-frequency
    /// weights that make each class weigh equally in a weighted loss.
    /// </summary>
    public sealed class ClassStatistics
    {
        internal ClassStatistics(IReadOnlyList<string> classes, IEnumerable<ImageSample> samples)
            : this(classes, Count(classes.Count, samples))
        {
        }

        private ClassStatistics(IReadOnlyList<string> classes, int[] counts)
        {
            Classes = classes;
            Counts = counts;
            Total = counts.Sum();
            int min = counts.Length == 0 ? 0 : counts.Min();
            ImbalanceRatio = min == 0 ? double.PositiveInfinity : counts.Max() / (double)min;
            InverseFrequencyWeights = counts.Select(n => n == 0 ? 0f : (float)(Total / ((double)counts.Length * n))).ToArray();
        }

        /// <summary>Positive images per finding of a multi-label dataset (uncertain and missing not counted).</summary>
        internal static ClassStatistics OfFindings(IReadOnlyList<string> findings, IEnumerable<ImageSample> samples)
        {
            var counts = new int[findings.Count];
            foreach (ImageSample sample in samples)
            {
                for (int f = 0; f < counts.Length && sample.Findings is not null; f++)
                {
                    counts[f] += sample.Findings[f] == FindingState.Positive ? 1 : 0;
                }
            }

            return new ClassStatistics(findings, counts);
        }

        private static int[] Count(int classes, IEnumerable<ImageSample> samples)
        {
            var counts = new int[classes];
            foreach (ImageSample sample in samples)
            {
                counts[sample.Label]++;
            }

            return counts;
        }

        /// <summary>Class names, in label order.</summary>
        public IReadOnlyList<string> Classes { get; }

        /// <summary>Number of images per class, in label order.</summary>
        public IReadOnlyList<int> Counts { get; }

        /// <summary>Total number of images.</summary>
        public int Total { get; }

        /// <summary>Largest class count divided by the smallest (1 when balanced; infinity when a class is empty).</summary>
        public double ImbalanceRatio { get; }

        /// <summary>
        /// Per-class loss weights <c>total / (classes * count)</c> (scikit-learn's "balanced"): each
        /// class contributes equally to a weighted cross-entropy, and a balanced set gets all ones.
        /// </summary>
        public IReadOnlyList<float> InverseFrequencyWeights { get; }

        /// <inheritdoc />
        public override string ToString()
        {
            var text = new StringBuilder();
            for (int c = 0; c < Classes.Count; c++)
            {
                text.AppendFormat(CultureInfo.InvariantCulture, "{0}: {1} ({2:P1}, weight {3:0.###}); ", Classes[c], Counts[c], Total == 0 ? 0 : Counts[c] / (double)Total, InverseFrequencyWeights[c]);
            }

            text.AppendFormat(CultureInfo.InvariantCulture, "imbalance {0:0.##}:1", ImbalanceRatio);
            return text.ToString();
        }
    }
}
